/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: what a model server answers. The first byte picks the
 * decoder (bit 0: the non-streamed body through chat_parse_response, or the
 * event stream through the accumulator), the chunk size of the stream and
 * its cap. Either decoder fails cleanly (a known code and a one-line
 * message) or produces exactly the documented object; the text handed to
 * on_delta, joined, is the reassembled content.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/chat.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_message(const struct cact_error *err)
{
	if (!err->message[0] || strchr(err->message, '\n'))
		abort();
}

static void check_code(int rc, const struct cact_error *err)
{
	if (rc != CACT_EPROTO && rc != CACT_ESYS && rc != CACT_ETOOBIG && rc != CACT_ENOMEM)
		abort();
	if (err->code != rc)
		abort();
	check_message(err);
}

static int is_count(json_t *v)
{
	return json_is_integer(v) && json_integer_value(v) >= 0;
}

static void check_call(json_t *tc)
{
	json_t *fn = json_object_get(tc, "function");

	if (!json_is_object(tc) || json_object_size(tc) != 3 ||
	    !json_is_string(json_object_get(tc, "id")) ||
	    json_string_length(json_object_get(tc, "id")) == 0 ||
	    !json_is_string(json_object_get(tc, "type")) || !json_is_object(fn) ||
	    json_object_size(fn) != 2 || !json_is_string(json_object_get(fn, "name")) ||
	    json_string_length(json_object_get(fn, "name")) == 0 ||
	    !json_is_string(json_object_get(fn, "arguments")))
		abort();
}

/* The documented shape, member for member; and it serializes. */
static void check_shape(json_t *out)
{
	json_t *msg = json_object_get(out, "message"), *calls, *usage, *fr, *content, *tc;
	char *text;
	size_t i;

	if (!json_is_object(out) || json_object_size(out) != 3 || !json_is_object(msg))
		abort();
	calls = json_object_get(msg, "tool_calls");
	content = json_object_get(msg, "content");
	usage = json_object_get(out, "usage");
	fr = json_object_get(out, "finish_reason");
	if (json_object_size(msg) != (calls ? 3u : 2u) ||
	    !json_is_string(json_object_get(msg, "role")) ||
	    strcmp(json_string_value(json_object_get(msg, "role")), "assistant") != 0 ||
	    !(json_is_string(content) || json_is_null(content)) ||
	    !(json_is_string(fr) || json_is_null(fr)))
		abort();
	if (calls && (!json_is_array(calls) || json_array_size(calls) == 0 ||
		      json_array_size(calls) > CHAT_MAX_TOOL_CALLS))
		abort();
	json_array_foreach(calls, i, tc) {
		check_call(tc);
	}
	if (!json_is_null(usage) && (!json_is_object(usage) || json_object_size(usage) != 3 ||
				     !is_count(json_object_get(usage, "prompt_tokens")) ||
				     !is_count(json_object_get(usage, "completion_tokens")) ||
				     !is_count(json_object_get(usage, "total_tokens"))))
		abort();
	text = json_dumps(out, JSON_COMPACT);
	if (!text)
		abort();
	free(text);
}

static void parse_body(const uint8_t *data, size_t size)
{
	struct cact_error err = {0};
	json_t *out = NULL;
	int rc = chat_parse_response((const char *)data, size, &out, &err);

	if (rc) {
		if (out)
			abort();
		check_code(rc, &err);
		return;
	}
	check_shape(out);
	json_decref(out);
}

static void on_delta(void *user, const char *text, size_t len)
{
	struct ut_buf *b = user;

	if (len == 0 || !text)
		abort();
	if (ut_buf_add(b, text, len))
		abort();
}

static void stream(const uint8_t *data, size_t size, size_t chunk, size_t max)
{
	struct cact_error err = {0};
	struct chat_stream s;
	struct ut_buf deltas;
	json_t *out = NULL, *content;
	size_t off = 0;
	int rc = 0;

	/* Deltas are pieces of the input: they cannot outgrow it. */
	ut_buf_init(&deltas, size + 1);
	chat_stream_init(&s, max, on_delta, &deltas);
	while (off < size && !rc) {
		size_t n = size - off < chunk ? size - off : chunk;

		rc = chat_stream_feed(&s, data + off, n, &err);
		off += n;
	}
	if (rc) {
		check_code(rc, &err);
	} else {
		rc = chat_stream_finish(&s, &out, &err);
		if (rc) {
			if (out)
				abort();
			check_code(rc, &err);
		} else {
			check_shape(out);
			content = json_object_get(json_object_get(out, "message"), "content");
			if (json_is_string(content)
				    ? (json_string_length(content) != deltas.len ||
				       (deltas.len &&
					memcmp(json_string_value(content), deltas.p, deltas.len)))
				    : deltas.len != 0)
				abort();
			json_decref(out);
		}
	}
	chat_stream_free(&s);
	ut_buf_reset(&deltas);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned mode;

	if (size == 0)
		return 0;
	mode = data[0];
	data++;
	size--;
	if (mode & 1)
		parse_body(data, size);
	else
		stream(data, size, (size_t)(mode >> 1) % 23 + 1, (size_t)256 << ((mode >> 5) % 8));
	return 0;
}
