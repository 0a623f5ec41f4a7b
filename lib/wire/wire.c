/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../util/jsoncheck.h"
#include "../util/util.h"
#include "wire.h"

static const char *const type_names[] = {
	[WIRE_UNKNOWN] = "unknown",
	[WIRE_PREPARE] = "prepare",
	[WIRE_EXEC] = "exec",
	[WIRE_READY] = "ready",
	[WIRE_RUNNING] = "running",
	[WIRE_RESULT] = "result",
	[WIRE_SETUP_ERROR] = "setup_error",
	[WIRE_TOOL_CALL] = "tool_call",
	[WIRE_TOOL_RESULT] = "tool_result",
	[WIRE_HTTP_REQUEST] = "http_request",
	[WIRE_HTTP_RESPONSE] = "http_response",
};

const char *wire_type_name(enum wire_type t)
{
	if ((size_t)t < UT_ARRAY_SIZE(type_names) && type_names[t])
		return type_names[t];
	return "unknown";
}

void wire_decoder_init(struct wire_decoder *d, size_t max_payload)
{
	memset(d, 0, sizeof(*d));
	d->max = max_payload;
}

void wire_decoder_reset(struct wire_decoder *d)
{
	size_t largest = d->largest;

	free(d->payload);
	wire_decoder_init(d, d->max);
	/* The execution's frames and their trees are freed by now: give their memory back. */
	ut_json_trim(largest);
}

int wire_decoder_partial(const struct wire_decoder *d)
{
	return d->hdr_got > 0;
}

int wire_decoder_feed(struct wire_decoder *d, const void *data, size_t n, size_t *used,
		      char **frame, size_t *frame_len)
{
	const unsigned char *p = data;
	size_t off = 0;

	*used = 0;
	while (off < n) {
		size_t take;

		if (d->hdr_got < WIRE_HEADER) {
			d->hdr[d->hdr_got++] = p[off++];
			if (d->hdr_got < WIRE_HEADER)
				continue;
			d->need = (size_t)d->hdr[0] << 24 | (size_t)d->hdr[1] << 16 |
				  (size_t)d->hdr[2] << 8 | d->hdr[3];
			/* The cap is checked before any allocation. */
			if (d->need > d->max) {
				*used = off;
				return CACT_ETOOBIG;
			}
			d->payload = malloc(d->need + 1);
			if (!d->payload) {
				*used = off;
				return CACT_ENOMEM;
			}
			d->got = 0;
		}
		take = d->need - d->got;
		if (take > n - off)
			take = n - off;
		memcpy(d->payload + d->got, p + off, take);
		d->got += take;
		off += take;
		if (d->got == d->need) {
			d->payload[d->need] = '\0';
			if (d->need > d->largest)
				d->largest = d->need;
			*frame = d->payload;
			*frame_len = d->need;
			d->payload = NULL;
			d->hdr_got = 0;
			d->need = d->got = 0;
			*used = off;
			return 1;
		}
	}
	*used = off;
	return 0;
}

int wire_parse(const char *payload, size_t len, json_t **out, enum wire_type *type,
	       struct cact_error *err)
{
	json_error_t jerr;
	json_t *root;
	const char *t;
	char why[128];
	size_t i;

	*out = NULL;
	*type = WIRE_UNKNOWN;
	/*
	 * Before jansson builds anything: the grammar, WIRE_MAX_DEPTH, and what
	 * the tree would cost (at most 8 times the frame plus 16 MiB; 4 MiB of
	 * "{}," took 310 MiB otherwise). jansson then rejects invalid UTF-8
	 * and, with this flag, duplicate keys.
	 */
	if (ut_json_check(payload, len, WIRE_MAX_DEPTH, NULL, why, sizeof(why)))
		return ut_err(err, CACT_EPROTO, "bad frame: %s", why);
	root = json_loadb(payload, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!root)
		return ut_err(err, CACT_EPROTO, "bad frame: %s", jerr.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return ut_err(err, CACT_EPROTO, "bad frame: not a JSON object");
	}
	t = json_string_value(json_object_get(root, "type"));
	if (!t) {
		json_decref(root);
		return ut_err(err, CACT_EPROTO, "bad frame: no \"type\" string");
	}
	for (i = 1; i < UT_ARRAY_SIZE(type_names); i++) {
		if (strcmp(t, type_names[i]) == 0) {
			*type = (enum wire_type)i;
			*out = root;
			return 0;
		}
	}
	json_decref(root);
	return ut_err(err, CACT_EPROTO, "bad frame: unknown type");
}

int wire_encode(const json_t *obj, size_t max, char **out, size_t *len)
{
	size_t n = json_dumpb(obj, NULL, 0, JSON_COMPACT);
	char *buf;

	if (n == 0)
		return CACT_ENOMEM;
	if (n > max || n > 0xffffffffu)
		return CACT_ETOOBIG;
	buf = malloc(WIRE_HEADER + n);
	if (!buf)
		return CACT_ENOMEM;
	if (json_dumpb(obj, buf + WIRE_HEADER, n, JSON_COMPACT) != n) {
		free(buf);
		return CACT_ENOMEM;
	}
	buf[0] = (char)(n >> 24);
	buf[1] = (char)(n >> 16);
	buf[2] = (char)(n >> 8);
	buf[3] = (char)n;
	*out = buf;
	*len = WIRE_HEADER + n;
	return 0;
}

int wire_write(int fd, const json_t *obj, size_t max)
{
	char *buf = NULL;
	size_t len;
	int rc = wire_encode(obj, max, &buf, &len);

	if (rc)
		return rc;
	if (ut_write_full(fd, buf, len))
		rc = CACT_ESYS;
	/* The zygote writes prepare frames (host paths) with this: leave no copy behind. */
	explicit_bzero(buf, len);
	free(buf);
	return rc;
}

int wire_read(int fd, size_t max, char **payload, size_t *len)
{
	unsigned char hdr[WIRE_HEADER];
	ssize_t n = ut_read_full(fd, hdr, sizeof(hdr));
	size_t need;
	char *buf;

	if (n < 0)
		return CACT_ESYS;
	if (n != WIRE_HEADER)
		return CACT_EPROTO;
	need = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
	if (need > max)
		return CACT_ETOOBIG;
	buf = malloc(need + 1);
	if (!buf)
		return CACT_ENOMEM;
	n = ut_read_full(fd, buf, need);
	if (n < 0 || (size_t)n != need) {
		free(buf);
		return n < 0 ? CACT_ESYS : CACT_EPROTO;
	}
	buf[need] = '\0';
	*payload = buf;
	*len = need;
	return 0;
}
