/* SPDX-License-Identifier: MIT */
#include <stdint.h>
#include <string.h>

#include "../util/buf.h"
#include "../util/util.h"
#include "sse.h"

static const unsigned char bom_bytes[3] = {0xef, 0xbb, 0xbf};

void sse_init(struct sse_parser *p, size_t max, sse_event_fn fn, void *user)
{
	memset(p, 0, sizeof(*p));
	p->max = max;
	p->fn = fn;
	p->user = user;
	ut_buf_init(&p->line, max);
	ut_buf_init(&p->data, max);
	ut_buf_init(&p->type, max);
	ut_buf_init(&p->id, max);
}

void sse_free(struct sse_parser *p)
{
	ut_buf_reset(&p->line);
	ut_buf_reset(&p->data);
	ut_buf_reset(&p->type);
	ut_buf_reset(&p->id);
}

/* Empties b and keeps its storage for the next line or event. */
static void clear(struct ut_buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

static int fail(struct sse_parser *p, int rc, struct cact_error *err)
{
	p->failed = rc;
	if (rc == CACT_ETOOBIG)
		return ut_err(err, rc, "server-sent event larger than %zu bytes", p->max);
	if (rc == CACT_ENOMEM)
		return ut_err(err, rc, "out of memory reading server-sent events");
	return rc;
}

static int set(struct ut_buf *b, const char *v, size_t n)
{
	clear(b);
	return ut_buf_add(b, v, n);
}

static int dispatch(struct sse_parser *p, struct cact_error *err)
{
	struct sse_event ev;
	int rc;

	if (p->data.len == 0) {
		clear(&p->type);
		return 0;
	}
	/* The last data line's LF is not part of the data. */
	p->data.p[--p->data.len] = '\0';
	ev.type = p->type.len ? p->type.p : "message";
	ev.type_len = p->type.len ? p->type.len : strlen("message");
	ev.data = p->data.p;
	ev.data_len = p->data.len;
	ev.id = p->id.p ? p->id.p : "";
	ev.id_len = p->id.len;
	rc = p->fn ? p->fn(p->user, &ev, err) : 0;
	clear(&p->data);
	clear(&p->type);
	if (rc)
		p->failed = rc;
	return rc;
}

static int is_field(const char *name, size_t n, const char *want)
{
	return n == strlen(want) && memcmp(name, want, n) == 0;
}

static void set_retry(struct sse_parser *p, const char *v, size_t n)
{
	uint64_t ms = 0;
	size_t i;

	if (n == 0)
		return;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return;
		ms = ms > (UINT64_MAX - 9) / 10 ? UINT64_MAX : ms * 10 + (uint64_t)(v[i] - '0');
	}
	p->retry_ms = ms;
}

/* One complete line, without its ending. */
static int line_done(struct sse_parser *p, struct cact_error *err)
{
	const char *line = p->line.p ? p->line.p : "", *colon, *v;
	size_t n = p->line.len, name_len, v_len;
	int rc = 0;

	if (n == 0)
		return dispatch(p, err);
	if (line[0] == ':')
		goto out;
	colon = memchr(line, ':', n);
	name_len = colon ? (size_t)(colon - line) : n;
	v = colon ? colon + 1 : line + n;
	v_len = n - (size_t)(v - line);
	if (v_len && *v == ' ') {
		v++;
		v_len--;
	}
	if (is_field(line, name_len, "data")) {
		rc = ut_buf_add(&p->data, v, v_len);
		if (!rc)
			rc = ut_buf_add(&p->data, "\n", 1);
	} else if (is_field(line, name_len, "event")) {
		rc = set(&p->type, v, v_len);
	} else if (is_field(line, name_len, "id")) {
		if (!memchr(v, '\0', v_len))
			rc = set(&p->id, v, v_len);
	} else if (is_field(line, name_len, "retry")) {
		set_retry(p, v, v_len);
	}
out:
	clear(&p->line);
	return rc ? fail(p, rc, err) : 0;
}

/* Adds n bytes to the line, within the cap on the whole pending event. */
static int add_line(struct sse_parser *p, const char *s, size_t n)
{
	size_t pending = p->line.len + p->data.len + p->type.len + p->id.len;

	if (n > p->max || pending > p->max - n)
		return CACT_ETOOBIG;
	return ut_buf_add(&p->line, s, n);
}

static int feed_bytes(struct sse_parser *p, const char *s, size_t len, struct cact_error *err)
{
	size_t i = 0, j;
	int rc;

	while (i < len) {
		if (p->after_cr) {
			p->after_cr = 0;
			if (s[i] == '\n') {
				i++;
				continue;
			}
		}
		for (j = i; j < len && s[j] != '\n' && s[j] != '\r'; j++)
			;
		rc = add_line(p, s + i, j - i);
		if (rc)
			return fail(p, rc, err);
		if (j == len)
			break;
		p->after_cr = s[j] == '\r';
		i = j + 1;
		rc = line_done(p, err);
		if (rc)
			return rc;
	}
	return 0;
}

int sse_feed(struct sse_parser *p, const void *data, size_t len, struct cact_error *err)
{
	const unsigned char *s = data;
	size_t i = 0;
	int rc;

	if (p->failed)
		return ut_err(err, p->failed, "server-sent event stream already failed");
	/* A byte order mark is dropped only at the very start, however it is split. */
	while (!p->bom_done && i < len) {
		if (s[i] == bom_bytes[p->bom]) {
			i++;
			if (++p->bom == sizeof(bom_bytes))
				p->bom_done = 1;
			continue;
		}
		p->bom_done = 1;
		rc = feed_bytes(p, (const char *)bom_bytes, p->bom, err);
		if (rc)
			return rc;
	}
	return feed_bytes(p, (const char *)s + i, len - i, err);
}
