/* SPDX-License-Identifier: MIT */
/*
 * Host <-> guest frames over the per-execution socketpair: a 4-byte
 * big-endian payload length, then a UTF-8 JSON object whose "type" member
 * names the message. The host treats every frame from the guest as hostile:
 * the decoder enforces the size cap before allocating, and wire_parse accepts
 * only an object of a known type with no duplicate keys, bounded nesting and
 * valid UTF-8.
 *
 * Types, host -> guest: "prepare" (the sandbox to build), "exec" (the code).
 *                       "tool_result" (an answer to a tool call),
 *                       "http_response" (an answer to an HTTP request).
 *        guest -> host: "ready" (sandbox built), "running" (the code starts),
 *                       "tool_call", "http_request", "result", "setup_error".
 * docs/wire.md describes each message's members.
 */
#ifndef CACT_WIRE_H
#define CACT_WIRE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include <cact/error.h>

#define WIRE_HEADER    4
#define WIRE_MAX_DEPTH 64

enum wire_type {
	WIRE_UNKNOWN = 0,
	WIRE_PREPARE,	   /* host -> guest: build the sandbox for these mounts and caps */
	WIRE_EXEC,	   /* host -> guest: run this code with these limits */
	WIRE_READY,	   /* guest -> host: sandbox built, waiting for code (carries /output fd) */
	WIRE_RUNNING,	   /* guest -> host: limits applied, the code starts now */
	WIRE_RESULT,	   /* guest -> host: code finished */
	WIRE_SETUP_ERROR,  /* guest -> host: sandbox could not be built */
	WIRE_TOOL_CALL,	   /* guest -> host: call_tool(name, **args) */
	WIRE_TOOL_RESULT,  /* host -> guest: its answer */
	WIRE_HTTP_REQUEST, /* guest -> host: an HTTP(S) request of the code */
	WIRE_HTTP_RESPONSE, /* host -> guest: its answer */
};

/* Incremental frame decoder for a byte stream. */
struct wire_decoder {
	unsigned char hdr[WIRE_HEADER];
	size_t hdr_got;
	char *payload;
	size_t need; /* payload length from the header */
	size_t got;
	size_t max;	/* largest payload accepted */
	size_t largest; /* longest frame seen: wire_decoder_reset trims the heap after large ones */
};

void wire_decoder_init(struct wire_decoder *d, size_t max_payload);
/*
 * Frees a partial frame and starts over. When a frame of 1 MiB or more went
 * through, also gives the heap's free memory back to the system
 * (ut_json_trim): call it once the frames and their trees are freed.
 */
void wire_decoder_reset(struct wire_decoder *d);

/*
 * Consumes bytes from data. Returns 1 when a frame is complete (*frame owned
 * by the caller, free(); *used says how much of data was consumed: feed the
 * rest again), 0 when more bytes are needed (all consumed), CACT_ETOOBIG for a
 * length over the cap, CACT_ENOMEM. After an error the decoder must be reset.
 */
int wire_decoder_feed(struct wire_decoder *d, const void *data, size_t n, size_t *used,
		      char **frame, size_t *frame_len);

/* 1 when the decoder holds a partial frame (end of stream now = truncated frame). */
int wire_decoder_partial(const struct wire_decoder *d);

/*
 * Parses a frame payload. Returns 0 with *out (new reference) and *type set,
 * or CACT_EPROTO with the reason in err: not JSON, not an object, nesting too
 * deep, too many values for its size (ut_json_check, before anything is
 * allocated), duplicate key, missing or unknown "type".
 */
int wire_parse(const char *payload, size_t len, json_t **out, enum wire_type *type,
	       struct cact_error *err);

const char *wire_type_name(enum wire_type t);

/*
 * Encodes obj as a frame (header + compact JSON). Owned buffer (free()).
 * CACT_ETOOBIG when the payload is over max, CACT_ENOMEM.
 */
int wire_encode(const json_t *obj, size_t max, char **out, size_t *len);

/* Blocking helpers for the guest side: whole frames on a blocking fd. */
int wire_write(int fd, const json_t *obj, size_t max);
/* Returns 0 and a frame payload (owned), CACT_ETOOBIG, CACT_EPROTO at end of stream, CACT_ESYS. */
int wire_read(int fd, size_t max, char **payload, size_t *len);

#endif
