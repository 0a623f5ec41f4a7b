/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: a model server's event stream. The bytes are parsed whole,
 * byte by byte, and split at points drawn from the input itself: every
 * chunking must dispatch the same events (type, id, data) and end with the
 * same return code. The first byte picks the cap on the pending event, so
 * that the over-cap path is reachable.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	uint64_t hash;
	size_t n;
	size_t max;
};

static void mix(uint64_t *h, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		*h ^= b[i];
		*h *= 0x100000001b3ull;
	}
}

static int on_event(void *user, const struct sse_event *ev, struct cact_error *err)
{
	struct seen *s = user;

	(void)err;
	/* Borrowed strings are NUL-terminated and within the cap. */
	if (ev->type[ev->type_len] || ev->data[ev->data_len] || ev->id[ev->id_len] ||
	    ev->data_len > s->max || ev->type_len == 0)
		abort();
	mix(&s->hash, &ev->type_len, sizeof(ev->type_len));
	mix(&s->hash, ev->type, ev->type_len);
	mix(&s->hash, &ev->id_len, sizeof(ev->id_len));
	mix(&s->hash, ev->id, ev->id_len);
	mix(&s->hash, &ev->data_len, sizeof(ev->data_len));
	mix(&s->hash, ev->data, ev->data_len);
	s->n++;
	return 0;
}

/* Feeds data in chunks: 0 whole, 1 byte by byte, 2 at pseudo-random points. */
static int run(const uint8_t *data, size_t size, size_t max, int how, struct seen *s)
{
	struct cact_error err = {0};
	struct sse_parser p;
	uint64_t rng = 0x9e3779b97f4a7c15ull ^ size;
	size_t off = 0;
	int rc = 0;

	memset(s, 0, sizeof(*s));
	s->hash = 0xcbf29ce484222325ull;
	s->max = max;
	sse_init(&p, max, on_event, s);
	mix(&rng, data, size < 64 ? size : 64);
	while (off < size && !rc) {
		size_t n = size - off;

		if (how == 1) {
			n = 1;
		} else if (how == 2) {
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			n = (size_t)(rng % 16 == 0 ? rng % (size - off + 1) : rng % 9);
			if (n > size - off)
				n = size - off;
		}
		rc = sse_feed(&p, data + off, n, &err);
		off += n;
	}
	if (rc && !err.message[0])
		abort();
	sse_free(&p);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen whole, bytes, split;
	int rc_whole, rc_bytes, rc_split;
	size_t max;

	if (size == 0)
		return 0;
	max = (size_t)32 << (data[0] % 10);
	data++;
	size--;
	rc_whole = run(data, size, max, 0, &whole);
	rc_bytes = run(data, size, max, 1, &bytes);
	rc_split = run(data, size, max, 2, &split);
	if (rc_whole != rc_bytes || rc_whole != rc_split)
		abort();
	if (whole.n != bytes.n || whole.n != split.n || whole.hash != bytes.hash ||
	    whole.hash != split.hash)
		abort();
	return 0;
}
