/* SPDX-License-Identifier: MIT */
/*
 * An incremental parser of server-sent events (the WHATWG HTML "event
 * stream" interpretation), fed arbitrary chunks of bytes. Lines end with
 * CRLF, LF or CR; a leading UTF-8 byte order mark is dropped; lines starting
 * with ':' are comments; the fields are data (joined with LF), event, id and
 * retry, others are ignored; a blank line dispatches the event when it has
 * data. Bytes are passed through as they are (no UTF-8 decoding): the
 * consumer validates what it parses. An event still pending at the end of
 * the stream is discarded, as the specification says.
 */
#ifndef CACT_SSE_H
#define CACT_SSE_H

#include <stddef.h>
#include <stdint.h>

#include <cact/error.h>

#include "../util/buf.h"

/* One dispatched event. Borrowed: valid during the callback only. */
struct sse_event {
	const char *type; /* "message" when the event had no event field; NUL-terminated */
	size_t type_len;
	const char *data; /* NUL-terminated; may hold NUL bytes of its own */
	size_t data_len;
	const char *id; /* the last event id so far, "" when none */
	size_t id_len;
};

/* Returns 0 to go on, or a negative CACT_ code (err set) that stops the parser. */
typedef int (*sse_event_fn)(void *user, const struct sse_event *ev, struct cact_error *err);

struct sse_parser {
	struct ut_buf line; /* the line being read */
	struct ut_buf data; /* the event's data, each line followed by LF */
	struct ut_buf type; /* the event field */
	struct ut_buf id;   /* the last event id: kept across events */
	uint64_t retry_ms;  /* the last valid retry field, 0 when none */
	size_t max;	    /* cap on line + data + type + id */
	unsigned bom;	    /* bytes of a leading byte order mark matched so far */
	int bom_done;	    /* past the start of the stream */
	int after_cr;	    /* the last line ended with CR: a following LF belongs to it */
	int failed;	    /* the error that stopped the parser, 0 when none */
	sse_event_fn fn;
	void *user;
};

/* max: cap on the pending event in bytes (its line, data, type and id). */
void sse_init(struct sse_parser *p, size_t max, sse_event_fn fn, void *user);

/*
 * Feeds len bytes, dispatching every event they complete, in order.
 * Returns 0; CACT_ETOOBIG when the pending event grows past max;
 * CACT_ENOMEM; or the callback's error. After an error every later call
 * returns it again.
 */
int sse_feed(struct sse_parser *p, const void *data, size_t len, struct cact_error *err);

/* Frees the buffers; the parser may be initialized again. */
void sse_free(struct sse_parser *p);

#endif
