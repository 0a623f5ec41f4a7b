/* SPDX-License-Identifier: MIT */
/*
 * The Chat Completions client's decoders, apart from the transport so that
 * they can be fuzzed: the non-streamed response body and the accumulator of
 * a streamed one. Both produce the object cact_chat_complete documents:
 * {"message": {"role": "assistant", "content": string or null,
 * "tool_calls": [{"id", "type": "function", "function": {"name",
 * "arguments"}}] (only when there are any)}, "finish_reason": string or
 * null, "usage": {"prompt_tokens", "completion_tokens", "total_tokens"} or
 * null}.
 */
#ifndef CACT_AGENT_CHAT_H
#define CACT_AGENT_CHAT_H

#include <jansson.h>
#include <stddef.h>

#include <cact/agent.h>

#include "../util/buf.h"
#include "sse.h"

/* Tool calls one response may carry. */
#define CHAT_MAX_TOOL_CALLS 128

/*
 * Parses a non-streamed response body into the output object (*out owned,
 * json_decref). CACT_EPROTO (err names what is wrong) for a body that is
 * not JSON or not a completion; CACT_ESYS for an {"error": ...} body, with
 * the server's message.
 */
int chat_parse_response(const char *body, size_t len, json_t **out, struct cact_error *err);

/* One tool call being reassembled from its deltas. */
struct chat_call {
	long index; /* the delta's index; -1 when the server gave none */
	struct ut_buf id, type, name, args;
};

/* A streamed response being reassembled: fed its bytes, then finished. */
struct chat_stream {
	struct sse_parser sse;
	struct ut_buf content;
	int has_content; /* a content string was seen */
	struct chat_call calls[CHAT_MAX_TOOL_CALLS];
	size_t n_calls;
	json_t *finish_reason; /* owned; NULL until given */
	json_t *usage;	       /* owned; NULL until given */
	int done;	       /* "data: [DONE]" was seen */
	int delivered;	       /* on_delta was called at least once */
	size_t max;
	cact_chat_delta_fn on_delta;
	void *user;
	const char *key; /* removed from the server's messages; NULL when none */
};

/*
 * max caps each reassembled part and the pending event. on_delta (may be
 * NULL) receives each content piece as it is decoded, on the feeding thread.
 */
void chat_stream_init(struct chat_stream *s, size_t max, cact_chat_delta_fn on_delta, void *user);

/*
 * Feeds bytes of the event stream. CACT_EPROTO for a malformed stream
 * ("malformed SSE stream: ..."), CACT_ESYS for an error the server reports
 * in the stream, CACT_ETOOBIG over max, CACT_ENOMEM. An error is final.
 */
int chat_stream_feed(struct chat_stream *s, const void *data, size_t len, struct cact_error *err);

/*
 * The reassembled output object (*out owned). CACT_EPROTO when the stream
 * ended before "data: [DONE]" and without a finish reason.
 */
int chat_stream_finish(struct chat_stream *s, json_t **out, struct cact_error *err);

void chat_stream_free(struct chat_stream *s);

#endif
