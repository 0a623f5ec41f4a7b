/* SPDX-License-Identifier: MIT */
/*
 * The Chat Completions client: one POST to {base_url}/chat/completions per
 * attempt over libcurl, the response decoded whole (JSON) or as it streams
 * (server-sent events), retried after 429, 5xx and connection failures.
 * Certificates are always verified, the environment's proxies are ignored
 * and redirects are not followed: the API key goes to base_url only. The
 * key is read once, kept in the header list alone, wiped on free, and
 * removed from every error message, including the server's.
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cact/cact.h>

#include "../util/buf.h"
#include "../net/net.h"
#include "../util/jsoncheck.h"
#include "../util/util.h"
#include "chat.h"
#include "sse.h"

#define DEFAULT_TIMEOUT_MS	   300000
#define DEFAULT_CONNECT_TIMEOUT_MS 10000
#define DEFAULT_MAX_RETRIES	   3
#define DEFAULT_MAX_RESPONSE	   (16u * 1024 * 1024)
#define BACKOFF_BASE_MS		   500
#define BACKOFF_CAP_MS		   30000
#define RETRY_AFTER_CAP_S	   60
#define SHOWN_MAX		   200 /* bytes of a server's message quoted in an error */
#define USER_AGENT		   "cact/" CACT_VERSION

struct cact_chat {
	char *url;
	char *model;
	char *extra_json;	    /* validated object text; parsed per request */
	char *key;		    /* for redaction only; NULL when none */
	struct curl_slist *headers; /* holds the Authorization line */
	int stream;
	uint64_t timeout_ms, connect_timeout_ms, max_bytes;
	unsigned max_retries;
	char *ca_file;
	cact_chat_retry_fn on_retry; /* may be NULL */
	void *retry_user;
};

/* ---- shared pieces of the output ---- */

/* One count of usage: -1 when absent, -2 when not a non-negative integer. */
static json_int_t token_count(json_t *usage, const char *name)
{
	json_t *v = json_object_get(usage, name);

	if (!v || json_is_null(v))
		return -1;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -2;
	return json_integer_value(v);
}

/* usage as {prompt_tokens, completion_tokens, total_tokens}, or json null. */
static int make_usage(json_t *u, json_t **out, char *why, size_t wsize)
{
	json_int_t p, c, t;

	*out = NULL;
	if (!u || json_is_null(u)) {
		*out = json_null();
		return 0;
	}
	if (!json_is_object(u)) {
		ut_snprintf(why, wsize, "usage is not an object");
		return CACT_EPROTO;
	}
	p = token_count(u, "prompt_tokens");
	c = token_count(u, "completion_tokens");
	t = token_count(u, "total_tokens");
	if (p == -2 || c == -2 || t == -2) {
		ut_snprintf(why, wsize, "usage holds a token count that is not a whole number");
		return CACT_EPROTO;
	}
	p = p < 0 ? 0 : p;
	c = c < 0 ? 0 : c;
	if (t < 0)
		t = p > LLONG_MAX - c ? LLONG_MAX : p + c;
	*out = json_pack("{s:I,s:I,s:I}", "prompt_tokens", p, "completion_tokens", c,
			 "total_tokens", t);
	return *out ? 0 : CACT_ENOMEM;
}

/* Consumes content, calls (NULL or a non-empty array), finish and usage. */
static json_t *make_output(json_t *content, json_t *calls, json_t *finish, json_t *usage)
{
	json_t *msg = json_object(), *out = json_object();

	if (!msg || !out || !content || !finish || !usage ||
	    json_object_set_new(msg, "role", json_string("assistant")) ||
	    json_object_set_new(msg, "content", content) ||
	    (calls && json_object_set_new(msg, "tool_calls", calls)) ||
	    json_object_set_new(out, "message", msg) ||
	    json_object_set_new(out, "finish_reason", finish) ||
	    json_object_set_new(out, "usage", usage)) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/* A tool call of the output; consumes nothing, copies its arguments. */
static json_t *make_call(const char *id, size_t id_len, const char *type, size_t type_len,
			 const char *name, size_t name_len, const char *args, size_t args_len,
			 size_t i)
{
	char fallback[32];

	if (id_len == 0) {
		ut_snprintf(fallback, sizeof(fallback), "call_%zu", i);
		id = fallback;
		id_len = strlen(fallback);
	}
	if (type_len == 0) {
		type = "function";
		type_len = strlen(type);
	}
	return json_pack("{s:s%,s:s%,s:{s:s%,s:s%}}", "id", id, id_len, "type", type, type_len,
			 "function", "name", name, name_len, "arguments", args, args_len);
}

/*
 * Copies text into out as one line (control characters become spaces) with
 * every occurrence of key (may be NULL) replaced, before anything is cut, so
 * that no part of the key survives.
 */
static void copy_clean(const char *text, size_t len, const char *key, char *out, size_t size)
{
	static const char mark[] = "[redacted]";
	size_t klen = key ? strlen(key) : 0, i = 0, o = 0;
	int space = 0;

	while (i < len && o + 1 < size) {
		unsigned char ch = (unsigned char)text[i];

		if (ch < 0x20 || ch == 0x7f) {
			space = o > 0;
			i++;
			continue;
		}
		if (space && ch != ' ' && o + 2 < size)
			out[o++] = ' ';
		space = 0;
		if (klen && len - i >= klen && memcmp(text + i, key, klen) == 0) {
			if (o + sizeof(mark) > size)
				break;
			memcpy(out + o, mark, sizeof(mark) - 1);
			o += sizeof(mark) - 1;
			i += klen;
			continue;
		}
		out[o++] = (char)ch;
		i++;
	}
	out[o] = '\0';
}

/* The text of a server's error, from a JSON body or the body itself (see copy_clean). */
static void server_message(const char *body, size_t len, const char *key, char *out, size_t size)
{
	/* Decoded only when the check allows (ut_json_check); else the body is the text. */
	json_t *root = len && !ut_json_check(body, len, UT_JSON_DEPTH_LIMIT, NULL, NULL, 0)
			       ? json_loadb(body, len, 0, NULL)
			       : NULL;
	json_t *e = json_object_get(root, "error");
	const char *text = NULL;

	if (json_is_string(json_object_get(e, "message")))
		text = json_string_value(json_object_get(e, "message"));
	else if (json_is_string(e))
		text = json_string_value(e);
	else if (json_is_string(json_object_get(root, "message")))
		text = json_string_value(json_object_get(root, "message"));
	else if (json_is_string(json_object_get(root, "detail")))
		text = json_string_value(json_object_get(root, "detail"));
	if (!text && root)
		text = "(no message)";
	if (text)
		len = strlen(text);
	else
		text = body ? body : "";
	copy_clean(text, len, key, out, size);
	if (!out[0])
		ut_snprintf(out, size, "(empty body)");
	json_decref(root);
}

/* Cuts text to at most max bytes at a UTF-8 boundary, marking the cut. */
static void shorten(char *text, size_t max)
{
	size_t n = strlen(text);

	if (n <= max)
		return;
	n = max;
	while (n > 0 && ((unsigned char)text[n] & 0xc0) == 0x80)
		n--;
	ut_snprintf(text + n, 4, "...");
}

/* Replaces every occurrence of key in an error message by "[redacted]". */
static void redact(struct cact_error *err, const char *key)
{
	char copy[CACT_ERROR_MAX];

	if (!key || !*key || !strstr(err->message, key))
		return;
	ut_snprintf(copy, sizeof(copy), "%s", err->message);
	copy_clean(copy, strlen(copy), key, err->message, sizeof(err->message));
}

/* ---- non-streamed responses ---- */

/* content: a string, null, or an array of {"type":"text","text":...} parts joined. */
static int message_content(json_t *v, json_t **out, char *why, size_t wsize)
{
	struct ut_buf b;
	json_t *part;
	size_t i;

	*out = NULL;
	if (!v || json_is_null(v)) {
		*out = json_null();
		return 0;
	}
	if (json_is_string(v)) {
		*out = json_incref(v);
		return 0;
	}
	if (!json_is_array(v)) {
		ut_snprintf(why, wsize, "message content is neither a string nor null");
		return CACT_EPROTO;
	}
	ut_buf_init(&b, SIZE_MAX - 1);
	json_array_foreach(v, i, part) {
		json_t *t = json_object_get(part, "text");

		if (!json_is_string(t)) {
			ut_buf_reset(&b);
			ut_snprintf(why, wsize, "message content part %zu has no text", i);
			return CACT_EPROTO;
		}
		if (ut_buf_add(&b, json_string_value(t), json_string_length(t))) {
			ut_buf_reset(&b);
			return CACT_ENOMEM;
		}
	}
	*out = json_stringn(b.p ? b.p : "", b.len);
	ut_buf_reset(&b);
	return *out ? 0 : CACT_ENOMEM;
}

static int parse_call(json_t *tc, size_t i, json_t **out, char *why, size_t wsize)
{
	json_t *id = json_object_get(tc, "id"), *type = json_object_get(tc, "type");
	json_t *fn = json_object_get(tc, "function"), *name, *args;
	char *dumped = NULL;
	const char *a = "{}";
	size_t alen = 2;

	*out = NULL;
	if (!json_is_object(tc) || !json_is_object(fn)) {
		ut_snprintf(why, wsize, "tool call %zu has no function object", i);
		return CACT_EPROTO;
	}
	name = json_object_get(fn, "name");
	args = json_object_get(fn, "arguments");
	if ((id && !json_is_null(id) && !json_is_string(id)) ||
	    (type && !json_is_null(type) && !json_is_string(type))) {
		ut_snprintf(why, wsize, "tool call %zu has an id or type that is not a string", i);
		return CACT_EPROTO;
	}
	if (!json_is_string(name) || json_string_length(name) == 0) {
		ut_snprintf(why, wsize, "tool call %zu has no function name", i);
		return CACT_EPROTO;
	}
	if (json_is_string(args)) {
		a = json_string_value(args);
		alen = json_string_length(args);
	} else if (json_is_object(args)) {
		/* Some servers give the arguments as an object: the model's text is their JSON. */
		dumped = json_dumps(args, JSON_COMPACT);
		if (!dumped)
			return CACT_ENOMEM;
		a = dumped;
		alen = strlen(dumped);
	} else if (args && !json_is_null(args)) {
		ut_snprintf(why, wsize, "tool call %zu has arguments that are not a string", i);
		return CACT_EPROTO;
	}
	*out = make_call(json_string_value(id), json_is_string(id) ? json_string_length(id) : 0,
			 json_string_value(type),
			 json_is_string(type) ? json_string_length(type) : 0,
			 json_string_value(name), json_string_length(name), a, alen, i);
	free(dumped);
	return *out ? 0 : CACT_ENOMEM;
}

static int parse_calls(json_t *v, json_t **out, char *why, size_t wsize)
{
	json_t *calls, *tc, *one;
	size_t i;
	int rc;

	*out = NULL;
	if (!v || json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0))
		return 0;
	if (!json_is_array(v)) {
		ut_snprintf(why, wsize, "tool_calls is not an array");
		return CACT_EPROTO;
	}
	if (json_array_size(v) > CHAT_MAX_TOOL_CALLS) {
		ut_snprintf(why, wsize, "more than %d tool calls", CHAT_MAX_TOOL_CALLS);
		return CACT_EPROTO;
	}
	calls = json_array();
	if (!calls)
		return CACT_ENOMEM;
	json_array_foreach(v, i, tc) {
		rc = parse_call(tc, i, &one, why, wsize);
		if (!rc && json_array_append_new(calls, one))
			rc = CACT_ENOMEM;
		if (rc) {
			json_decref(calls);
			return rc;
		}
	}
	*out = calls;
	return 0;
}

static int parse_root(json_t *root, json_t **out, char *why, size_t wsize)
{
	json_t *choices = json_object_get(root, "choices"), *choice, *msg, *fr;
	json_t *content = NULL, *calls = NULL, *usage = NULL;
	int rc;

	choice = json_array_get(choices, 0);
	msg = json_object_get(choice, "message");
	fr = json_object_get(choice, "finish_reason");
	if (!json_is_array(choices) || json_array_size(choices) == 0) {
		ut_snprintf(why, wsize, "no choices in the response");
		return CACT_EPROTO;
	}
	if (!json_is_object(choice) || !json_is_object(msg)) {
		ut_snprintf(why, wsize, "choices[0] has no message object");
		return CACT_EPROTO;
	}
	if (fr && !json_is_null(fr) && !json_is_string(fr)) {
		ut_snprintf(why, wsize, "finish_reason is not a string");
		return CACT_EPROTO;
	}
	rc = message_content(json_object_get(msg, "content"), &content, why, wsize);
	if (!rc)
		rc = parse_calls(json_object_get(msg, "tool_calls"), &calls, why, wsize);
	if (!rc)
		rc = make_usage(json_object_get(root, "usage"), &usage, why, wsize);
	if (rc) {
		json_decref(content);
		json_decref(calls);
		return rc;
	}
	*out = make_output(content, calls, json_is_string(fr) ? json_incref(fr) : json_null(),
			   usage);
	return *out ? 0 : CACT_ENOMEM;
}

static int parse_response(const char *body, size_t len, const char *key, json_t **out,
			  struct cact_error *err)
{
	char why[256] = "";
	json_error_t jerr;
	json_t *root;
	int rc;

	*out = NULL;
	/* Before jansson builds anything: what the tree would cost (ut_json_check). */
	rc = ut_json_check(body ? body : "", body ? len : 0, UT_JSON_DEPTH_LIMIT, NULL, why,
			   sizeof(why));
	if (rc)
		return ut_err(err, CACT_EPROTO, "model server response is %s: %s",
			      rc == CACT_ETOOBIG ? "too costly to decode" : "not JSON", why);
	root = json_loadb(body ? body : "", body ? len : 0,
			  JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!root)
		return ut_err(err, CACT_EPROTO, "model server response is not JSON: %s", jerr.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return ut_err(err, CACT_EPROTO, "model server response is not a JSON object");
	}
	if (json_object_get(root, "error") && !json_is_null(json_object_get(root, "error")) &&
	    !json_object_get(root, "choices")) {
		char msg[1024];

		server_message(body, len, key, msg, sizeof(msg));
		json_decref(root);
		shorten(msg, SHOWN_MAX);
		return ut_err(err, CACT_ESYS, "model server error: %s", msg);
	}
	rc = parse_root(root, out, why, sizeof(why));
	json_decref(root);
	ut_json_trim(len);
	if (rc == CACT_ENOMEM)
		return ut_err(err, rc, "out of memory parsing the model server's response");
	if (rc)
		return ut_err(err, rc, "model server response is not a completion: %s", why);
	return 0;
}

int chat_parse_response(const char *body, size_t len, json_t **out, struct cact_error *err)
{
	return parse_response(body, len, NULL, out, err);
}

/* ---- streamed responses ---- */

static int proto(struct cact_error *err, const char *fmt, ...) UT_PRINTF(2, 3);
static int proto(struct cact_error *err, const char *fmt, ...)
{
	char why[400];
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(why, sizeof(why), fmt, ap) < 0)
		why[0] = '\0';
	va_end(ap);
	return ut_err(err, CACT_EPROTO, "malformed SSE stream: %s", why);
}

static int grow_err(struct chat_stream *s, int rc, struct cact_error *err)
{
	if (rc == CACT_ETOOBIG)
		return ut_err(err, rc, "model server response larger than %zu bytes", s->max);
	return ut_err(err, CACT_ENOMEM, "out of memory reading the model server's stream");
}

/* The call a delta continues: by index, or without one by id. NULL when over the cap. */
static struct chat_call *call_for(struct chat_stream *s, long index, json_t *id)
{
	struct chat_call *c;
	size_t i;

	if (index >= 0) {
		for (i = 0; i < s->n_calls; i++)
			if (s->calls[i].index == index)
				return &s->calls[i];
	} else if (s->n_calls > 0) {
		c = &s->calls[s->n_calls - 1];
		if (!json_is_string(id) || json_string_length(id) == 0 || c->id.len == 0 ||
		    (c->id.len == json_string_length(id) &&
		     memcmp(c->id.p, json_string_value(id), c->id.len) == 0))
			return c;
	}
	if (s->n_calls == CHAT_MAX_TOOL_CALLS)
		return NULL;
	c = &s->calls[s->n_calls++];
	c->index = index;
	ut_buf_init(&c->id, s->max);
	ut_buf_init(&c->type, s->max);
	ut_buf_init(&c->name, s->max);
	ut_buf_init(&c->args, s->max);
	return c;
}

static int set_buf(struct ut_buf *b, json_t *v)
{
	b->len = 0;
	return ut_buf_add(b, json_string_value(v), json_string_length(v));
}

static int call_delta(struct chat_stream *s, json_t *d, size_t i, struct cact_error *err)
{
	json_t *idx = json_object_get(d, "index"), *id = json_object_get(d, "id");
	json_t *type = json_object_get(d, "type"), *fn = json_object_get(d, "function");
	json_t *name = json_object_get(fn, "name"), *args = json_object_get(fn, "arguments");
	struct chat_call *c;
	long index = -1;
	int rc = 0;

	if (!json_is_object(d))
		return proto(err, "tool call delta %zu is not an object", i);
	if (idx && !json_is_null(idx)) {
		if (!json_is_integer(idx) || json_integer_value(idx) < 0 ||
		    json_integer_value(idx) >= CHAT_MAX_TOOL_CALLS)
			return proto(err, "tool call index is not a whole number below %d",
				     CHAT_MAX_TOOL_CALLS);
		index = (long)json_integer_value(idx);
	}
	if ((id && !json_is_null(id) && !json_is_string(id)) ||
	    (type && !json_is_null(type) && !json_is_string(type)) ||
	    (fn && !json_is_null(fn) && !json_is_object(fn)) ||
	    (name && !json_is_null(name) && !json_is_string(name)) ||
	    (args && !json_is_null(args) && !json_is_string(args)))
		return proto(err, "tool call delta %zu has a member of the wrong type", i);
	c = call_for(s, index, id);
	if (!c)
		return proto(err, "more than %d tool calls", CHAT_MAX_TOOL_CALLS);
	if (json_is_string(id) && json_string_length(id))
		rc = set_buf(&c->id, id);
	if (!rc && json_is_string(type) && json_string_length(type))
		rc = set_buf(&c->type, type);
	/* Some servers repeat the whole name in every delta: a repeat is not appended. */
	if (!rc && json_is_string(name) &&
	    !(c->name.len && c->name.len == json_string_length(name) &&
	      memcmp(c->name.p, json_string_value(name), c->name.len) == 0))
		rc = ut_buf_add(&c->name, json_string_value(name), json_string_length(name));
	if (!rc && json_is_string(args))
		rc = ut_buf_add(&c->args, json_string_value(args), json_string_length(args));
	return rc ? grow_err(s, rc, err) : 0;
}

static int choice_delta(struct chat_stream *s, json_t *ch, struct cact_error *err)
{
	json_t *idx = json_object_get(ch, "index"), *delta = json_object_get(ch, "delta");
	json_t *fr = json_object_get(ch, "finish_reason"), *content, *calls, *d;
	size_t i;
	int rc;

	if (!json_is_object(ch))
		return proto(err, "a choice is not an object");
	/* One completion is asked for; others a server may send are not ours. */
	if (json_is_integer(idx) && json_integer_value(idx) != 0)
		return 0;
	if (fr && !json_is_null(fr) && !json_is_string(fr))
		return proto(err, "finish_reason is not a string");
	if (delta && !json_is_null(delta) && !json_is_object(delta))
		return proto(err, "delta is not an object");
	content = json_object_get(delta, "content");
	calls = json_object_get(delta, "tool_calls");
	if (content && !json_is_null(content) && !json_is_string(content))
		return proto(err, "delta content is not a string");
	if (calls && !json_is_null(calls) && !json_is_array(calls))
		return proto(err, "delta tool_calls is not an array");
	if (json_is_string(content)) {
		s->has_content = 1;
		rc = ut_buf_add(&s->content, json_string_value(content),
				json_string_length(content));
		if (rc)
			return grow_err(s, rc, err);
		if (json_string_length(content) && s->on_delta) {
			s->delivered = 1;
			s->on_delta(s->user, json_string_value(content),
				    json_string_length(content));
		}
	}
	json_array_foreach(calls, i, d) {
		rc = call_delta(s, d, i, err);
		if (rc)
			return rc;
	}
	if (json_is_string(fr)) {
		json_decref(s->finish_reason);
		s->finish_reason = json_incref(fr);
	}
	return 0;
}

static int chunk(struct chat_stream *s, json_t *root, struct cact_error *err)
{
	json_t *choices = json_object_get(root, "choices"), *e = json_object_get(root, "error");
	json_t *u = json_object_get(root, "usage"), *usage, *ch;
	char why[256];
	size_t i;
	int rc;

	if (e && !json_is_null(e)) {
		char msg[1024];
		char *text = json_dumps(root, JSON_COMPACT);

		server_message(text, text ? strlen(text) : 0, s->key, msg, sizeof(msg));
		free(text);
		shorten(msg, SHOWN_MAX);
		return ut_err(err, CACT_ESYS, "model server error in the stream: %s", msg);
	}
	if (choices && !json_is_null(choices) && !json_is_array(choices))
		return proto(err, "choices is not an array");
	json_array_foreach(choices, i, ch) {
		rc = choice_delta(s, ch, err);
		if (rc)
			return rc;
	}
	if (u && !json_is_null(u)) {
		rc = make_usage(u, &usage, why, sizeof(why));
		if (rc == CACT_ENOMEM)
			return grow_err(s, rc, err);
		if (rc)
			return proto(err, "%s", why);
		json_decref(s->usage);
		s->usage = usage;
	}
	return 0;
}

static int is_done(const char *data, size_t len)
{
	while (len && (*data == ' ' || *data == '\t')) {
		data++;
		len--;
	}
	while (len && (data[len - 1] == ' ' || data[len - 1] == '\t'))
		len--;
	return len == 6 && memcmp(data, "[DONE]", 6) == 0;
}

static int on_event(void *user, const struct sse_event *ev, struct cact_error *err)
{
	struct chat_stream *s = user;
	json_error_t jerr;
	char why[128];
	json_t *root;
	int rc;

	if (s->done)
		return 0;
	if (ev->type_len == 5 && memcmp(ev->type, "error", 5) == 0) {
		char msg[1024];

		server_message(ev->data, ev->data_len, s->key, msg, sizeof(msg));
		shorten(msg, SHOWN_MAX);
		return ut_err(err, CACT_ESYS, "model server error in the stream: %s", msg);
	}
	if (!(ev->type_len == 7 && memcmp(ev->type, "message", 7) == 0))
		return 0;
	if (is_done(ev->data, ev->data_len)) {
		s->done = 1;
		return 0;
	}
	rc = ut_json_check(ev->data, ev->data_len, UT_JSON_DEPTH_LIMIT, NULL, why, sizeof(why));
	if (rc)
		return proto(err, "data is %s: %s",
			     rc == CACT_ETOOBIG ? "too costly to decode" : "not JSON", why);
	root = json_loadb(ev->data, ev->data_len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!root)
		return proto(err, "data is not JSON: %s", jerr.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return proto(err, "data is not a JSON object");
	}
	rc = chunk(s, root, err);
	json_decref(root);
	return rc;
}

void chat_stream_init(struct chat_stream *s, size_t max, cact_chat_delta_fn on_delta, void *user)
{
	memset(s, 0, sizeof(*s));
	s->max = max;
	s->on_delta = on_delta;
	s->user = user;
	ut_buf_init(&s->content, max);
	sse_init(&s->sse, max, on_event, s);
}

int chat_stream_feed(struct chat_stream *s, const void *data, size_t len, struct cact_error *err)
{
	int rc = sse_feed(&s->sse, data, len, err);

	if (rc == CACT_ETOOBIG)
		return grow_err(s, rc, err);
	return rc;
}

static json_t *stream_calls(struct chat_stream *s, struct cact_error *err, int *rc)
{
	json_t *calls, *one;
	size_t i;

	*rc = 0;
	if (s->n_calls == 0)
		return NULL;
	calls = json_array();
	if (!calls) {
		*rc = CACT_ENOMEM;
		return NULL;
	}
	for (i = 0; i < s->n_calls; i++) {
		struct chat_call *c = &s->calls[i];

		if (c->name.len == 0) {
			*rc = proto(err, "tool call %zu has no function name", i);
			break;
		}
		one = make_call(c->id.p, c->id.len, c->type.p, c->type.len, c->name.p, c->name.len,
				c->args.p ? c->args.p : "{}", c->args.p ? c->args.len : 2, i);
		if (!one || json_array_append_new(calls, one)) {
			*rc = proto(err, "tool call %zu is not valid UTF-8", i);
			break;
		}
	}
	if (*rc) {
		json_decref(calls);
		return NULL;
	}
	return calls;
}

int chat_stream_finish(struct chat_stream *s, json_t **out, struct cact_error *err)
{
	json_t *content, *calls;
	int rc;

	*out = NULL;
	if (s->sse.failed)
		return ut_err(err, s->sse.failed, "model server stream already failed");
	if (!s->done && !s->finish_reason)
		return proto(err, "the stream ended before data: [DONE]");
	calls = stream_calls(s, err, &rc);
	if (rc == CACT_ENOMEM)
		return ut_err(err, rc, "out of memory reading the model server's stream");
	if (rc)
		return rc;
	/* A tool-calling answer without text has null content, as unstreamed. */
	if (!s->has_content || (s->content.len == 0 && calls))
		content = json_null();
	else
		content = json_stringn(s->content.p ? s->content.p : "", s->content.len);
	*out = make_output(content, calls,
			   s->finish_reason ? json_incref(s->finish_reason) : json_null(),
			   s->usage ? json_incref(s->usage) : json_null());
	if (!*out)
		return ut_err(err, CACT_ENOMEM, "out of memory reading the model server's stream");
	return 0;
}

void chat_stream_free(struct chat_stream *s)
{
	size_t i;

	sse_free(&s->sse);
	ut_buf_reset(&s->content);
	for (i = 0; i < s->n_calls; i++) {
		ut_buf_reset(&s->calls[i].id);
		ut_buf_reset(&s->calls[i].type);
		ut_buf_reset(&s->calls[i].name);
		ut_buf_reset(&s->calls[i].args);
	}
	s->n_calls = 0;
	json_decref(s->finish_reason);
	json_decref(s->usage);
	s->finish_reason = s->usage = NULL;
}

/* ---- the client ---- */

CACT_API void cact_chat_options_init(struct cact_chat_options *o)
{
	memset(o, 0, sizeof(*o));
	o->timeout_ms = DEFAULT_TIMEOUT_MS;
	o->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
	o->max_retries = DEFAULT_MAX_RETRIES;
	o->max_response_bytes = DEFAULT_MAX_RESPONSE;
}

/* Wipes the header lines (one holds the key) before freeing them. */
static void free_headers(struct curl_slist *l)
{
	struct curl_slist *i;

	for (i = l; i; i = i->next)
		explicit_bzero(i->data, strlen(i->data));
	curl_slist_free_all(l);
}

CACT_API void cact_chat_free(struct cact_chat *c)
{
	if (!c)
		return;
	free_headers(c->headers);
	if (c->key)
		explicit_bzero(c->key, strlen(c->key));
	free(c->key);
	free(c->url);
	free(c->model);
	free(c->extra_json);
	free(c->ca_file);
	free(c);
}

static int add_header(struct cact_chat *c, const char *line)
{
	struct curl_slist *l = curl_slist_append(c->headers, line);

	if (!l)
		return CACT_ENOMEM;
	c->headers = l;
	return 0;
}

/* "Name: value": a token, a colon, no line break. */
static int check_header(const char *h, size_t i, struct cact_error *err)
{
	const char *colon = strchr(h, ':'), *p;

	if (strpbrk(h, "\r\n"))
		return ut_err(err, CACT_EINVAL, "header %zu has a line break", i);
	if (!colon)
		return ut_err(err, CACT_EINVAL,
			      "header %zu (%.64s) has no colon: want \"Name: value\"", i, h);
	if (colon == h)
		return ut_err(err, CACT_EINVAL, "header %zu has an empty name", i);
	for (p = h; p < colon; p++)
		if (*p <= 0x20 || *p >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", *p))
			return ut_err(err, CACT_EINVAL, "header %zu has a bad name: %.*s", i,
				      (int)(colon - h > 64 ? 64 : colon - h), h);
	return 0;
}

static int set_key(struct cact_chat *c, const char *var, struct cact_error *err)
{
	const char *v = getenv(var);
	struct ut_buf line;
	int rc;

	if (!v)
		return ut_err(err, CACT_EINVAL,
			      "api_key_env: environment variable %.128s is not set", var);
	if (!*v)
		return ut_err(err, CACT_EINVAL, "api_key_env: environment variable %.128s is empty",
			      var);
	if (strpbrk(v, "\r\n"))
		return ut_err(err, CACT_EINVAL,
			      "api_key_env: environment variable %.128s holds a line break", var);
	c->key = strdup(v);
	if (!c->key)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	ut_buf_init(&line, 64 * 1024);
	rc = ut_buf_addf(&line, "Authorization: Bearer %s", v);
	if (!rc)
		rc = add_header(c, line.p);
	if (line.p)
		explicit_bzero(line.p, line.len);
	ut_buf_reset(&line);
	if (rc == CACT_ETOOBIG)
		return ut_err(err, CACT_EINVAL, "api_key_env: the key in %.128s is too long", var);
	return rc ? ut_err(err, CACT_ENOMEM, "out of memory") : 0;
}

static int set_headers(struct cact_chat *c, const struct cact_chat_options *o,
		       struct cact_error *err)
{
	int has_ua = 0, rc;
	size_t i;

	if (o->n_headers && !o->headers)
		return ut_err(err, CACT_EINVAL, "n_headers is %zu but headers is NULL",
			      o->n_headers);
	for (i = 0; i < o->n_headers; i++) {
		rc = o->headers[i] ? check_header(o->headers[i], i, err)
				   : ut_err(err, CACT_EINVAL, "header %zu is NULL", i);
		if (rc)
			return rc;
		has_ua |= strncasecmp(o->headers[i], "user-agent:", 11) == 0;
	}
	if (add_header(c, "Content-Type: application/json") ||
	    add_header(c, o->stream ? "Accept: text/event-stream" : "Accept: application/json") ||
	    add_header(c, "Expect:") || (!has_ua && add_header(c, "User-Agent: " USER_AGENT)))
		return ut_err(err, CACT_ENOMEM, "out of memory");
	for (i = 0; i < o->n_headers; i++)
		if (add_header(c, o->headers[i]))
			return ut_err(err, CACT_ENOMEM, "out of memory");
	return 0;
}

static int set_url(struct cact_chat *c, const char *base, struct cact_error *err)
{
	size_t n = strlen(base);
	struct ut_buf b;

	if (strncasecmp(base, "http://", 7) != 0 && strncasecmp(base, "https://", 8) != 0)
		return ut_err(err, CACT_EINVAL, "base_url %.200s is not an http:// or https:// URL",
			      base);
	if (strpbrk(base, " \t\r\n"))
		return ut_err(err, CACT_EINVAL, "base_url holds white space");
	while (n > 0 && base[n - 1] == '/')
		n--;
	ut_buf_init(&b, 64 * 1024);
	if (ut_buf_add(&b, base, n) || ut_buf_add(&b, "/chat/completions", 17)) {
		ut_buf_reset(&b);
		return ut_err(err, CACT_EINVAL, "base_url is too long");
	}
	c->url = ut_buf_steal(&b, NULL);
	return c->url ? 0 : ut_err(err, CACT_ENOMEM, "out of memory");
}

static int set_extra(struct cact_chat *c, const char *text, struct cact_error *err)
{
	json_error_t jerr;
	json_t *v;

	if (!text)
		return 0;
	v = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!v)
		return ut_err(err, CACT_EINVAL, "extra_json is not JSON: %s", jerr.text);
	if (!json_is_object(v)) {
		json_decref(v);
		return ut_err(err, CACT_EINVAL, "extra_json is not a JSON object");
	}
	c->extra_json = json_dumps(v, JSON_COMPACT);
	json_decref(v);
	return c->extra_json ? 0 : ut_err(err, CACT_ENOMEM, "out of memory");
}

static int copy_options(struct cact_chat *c, const struct cact_chat_options *o,
			struct cact_error *err)
{
	int rc;

	if (!o->base_url || !*o->base_url)
		return ut_err(err, CACT_EINVAL, "base_url is missing");
	if (!o->model || !*o->model)
		return ut_err(err, CACT_EINVAL, "model is missing");
	if (o->ca_file && access(o->ca_file, R_OK) != 0)
		return ut_err_sys(err, CACT_EINVAL, errno, "ca_file %.200s is not readable",
				  o->ca_file);
	rc = set_url(c, o->base_url, err);
	if (!rc)
		rc = set_extra(c, o->extra_json, err);
	if (!rc)
		rc = set_headers(c, o, err);
	if (!rc && o->api_key_env)
		rc = set_key(c, o->api_key_env, err);
	if (rc)
		return rc;
	c->model = strdup(o->model);
	c->ca_file = o->ca_file ? strdup(o->ca_file) : NULL;
	if (!c->model || (o->ca_file && !c->ca_file))
		return ut_err(err, CACT_ENOMEM, "out of memory");
	c->stream = o->stream != 0;
	c->timeout_ms = o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	c->connect_timeout_ms =
		o->connect_timeout_ms ? o->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
	c->max_retries = o->max_retries;
	c->on_retry = o->on_retry;
	c->retry_user = o->retry_user;
	c->max_bytes = o->max_response_bytes ? o->max_response_bytes : DEFAULT_MAX_RESPONSE;
	if (c->max_bytes > SIZE_MAX / 2)
		c->max_bytes = SIZE_MAX / 2;
	return 0;
}

CACT_API int cact_chat_new(const struct cact_chat_options *o, struct cact_chat **out,
			   struct cact_error *err)
{
	struct cact_chat *c;
	int rc;

	if (!out)
		return ut_err(err, CACT_EINVAL, "out is NULL");
	*out = NULL;
	if (!o)
		return ut_err(err, CACT_EINVAL, "options are NULL");
	if ((rc = net_global_init(err)))
		return rc;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	rc = copy_options(c, o, err);
	if (rc) {
		cact_chat_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

/* ---- one completion ---- */

/* The request body: extra_json, then the client's own members over it. */
static char *request_body(const struct cact_chat *c, const char *messages_json,
			  const char *tools_json, struct cact_error *err)
{
	json_t *body = c->extra_json ? json_loads(c->extra_json, 0, NULL) : json_object();
	json_t *msgs = NULL, *tools = NULL;
	json_error_t jerr;
	char *text = NULL;

	msgs = json_loads(messages_json, 0, &jerr);
	if (!json_is_array(msgs)) {
		ut_err(err, CACT_EINVAL, "messages_json is not a JSON array%s%s", msgs ? "" : ": ",
		       msgs ? "" : jerr.text);
		goto out;
	}
	if (tools_json) {
		tools = json_loads(tools_json, 0, &jerr);
		if (!json_is_array(tools)) {
			ut_err(err, CACT_EINVAL, "tools_json is not a JSON array%s%s",
			       tools ? "" : ": ", tools ? "" : jerr.text);
			goto out;
		}
	}
	if (!body || json_object_set_new(body, "model", json_string(c->model)) ||
	    json_object_set(body, "messages", msgs) ||
	    (tools && json_object_set(body, "tools", tools)) ||
	    json_object_set_new(body, "stream", json_boolean(c->stream)) ||
	    (c->stream &&
	     json_object_set_new(body, "stream_options", json_pack("{s:b}", "include_usage", 1)))) {
		ut_err(err, CACT_ENOMEM, "out of memory");
		goto out;
	}
	text = json_dumps(body, JSON_COMPACT);
	if (!text)
		ut_err(err, CACT_ENOMEM, "out of memory");
out:
	json_decref(body);
	json_decref(msgs);
	json_decref(tools);
	return text;
}

/* What one attempt ended with. */
enum outcome {
	DONE,  /* *out set */
	FAIL,  /* final: err set */
	RETRY, /* retryable: status (0 for a connection failure) and detail set */
};

struct xfer {
	const struct cact_chat *c;
	CURL *h;
	int mode; /* 0 until the first body byte, then BUFFER or STREAM */
	struct ut_buf body;
	struct chat_stream *stream;
	uint64_t received;
	int toobig;
	int nomem;
	int stream_rc;
	struct cact_error stream_err;
	char retry_after[64];
	char content_type[128];
};

enum { BUFFER = 1, STREAM };

static int ct_is(const char *ct, const char *want)
{
	return strncasecmp(ct, want, strlen(want)) == 0;
}

static void pick_mode(struct xfer *x)
{
	long status = 0;

	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
	x->mode = BUFFER;
	if (status / 100 != 2)
		return;
	if (ct_is(x->content_type, "text/event-stream") ||
	    (x->c->stream && !ct_is(x->content_type, "application/json")))
		x->mode = STREAM;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
	struct xfer *x = user;
	size_t n = size * nmemb;

	if (n > x->c->max_bytes - x->received) {
		x->toobig = 1;
		return 0;
	}
	x->received += n;
	if (!x->mode)
		pick_mode(x);
	if (x->mode == STREAM) {
		x->stream_rc = chat_stream_feed(x->stream, data, n, &x->stream_err);
		return x->stream_rc ? 0 : n;
	}
	if (ut_buf_add(&x->body, data, n)) {
		x->nomem = 1;
		return 0;
	}
	return n;
}

/* Keeps one header's value (trimmed, capped) when its name is name. */
static void keep_header(const char *line, size_t n, const char *name, char *out, size_t size)
{
	size_t nl = strlen(name), v = nl + 1, end = n, len;

	if (n <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
		return;
	while (v < n && (line[v] == ' ' || line[v] == '\t'))
		v++;
	while (end > v && (line[end - 1] == '\r' || line[end - 1] == '\n' || line[end - 1] == ' ' ||
			   line[end - 1] == '\t'))
		end--;
	len = end - v < size - 1 ? end - v : size - 1;
	memcpy(out, line + v, len);
	out[len] = '\0';
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *user)
{
	struct xfer *x = user;
	size_t n = size * nmemb;

	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		x->retry_after[0] = x->content_type[0] = '\0';
		return n;
	}
	keep_header(data, n, "retry-after", x->retry_after, sizeof(x->retry_after));
	keep_header(data, n, "content-type", x->content_type, sizeof(x->content_type));
	return n;
}

/* Seconds Retry-After asks for (capped), or -1 when absent or unreadable. */
static long retry_after_s(const char *v)
{
	uint64_t s = 0;
	size_t i;
	time_t when, now;

	if (!*v)
		return -1;
	for (i = 0; v[i] >= '0' && v[i] <= '9'; i++)
		s = s > RETRY_AFTER_CAP_S ? s : s * 10 + (uint64_t)(v[i] - '0');
	if (i > 0 && v[i] == '\0')
		return s > RETRY_AFTER_CAP_S ? RETRY_AFTER_CAP_S : (long)s;
	when = curl_getdate(v, NULL);
	if (when == -1)
		return -1;
	now = time(NULL);
	if (when <= now)
		return 0;
	return when - now > RETRY_AFTER_CAP_S ? RETRY_AFTER_CAP_S : (long)(when - now);
}

static int retryable_curl(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

static void set_common(CURL *h, const struct cact_chat *c, const char *body, struct xfer *x,
		       char *errbuf)
{
	curl_easy_setopt(h, CURLOPT_URL, c->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(
		h, CURLOPT_CONNECTTIMEOUT_MS,
		(long)(c->connect_timeout_ms > LONG_MAX ? LONG_MAX : c->connect_timeout_ms));
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
			 (long)(c->timeout_ms > LONG_MAX ? LONG_MAX : c->timeout_ms));
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
}

struct attempt {
	long status;	   /* HTTP status of a RETRY, 0 for a connection failure */
	long wait_s;	   /* Retry-After in seconds, -1 when none */
	char detail[1024]; /* why, for the final message */
};

/* Turns a response that arrived whole into the outcome. */
static enum outcome finish_response(struct xfer *x, long status, json_t **out, struct attempt *a,
				    struct cact_error *err)
{
	if (status / 100 == 2) {
		if (x->mode == STREAM)
			return chat_stream_finish(x->stream, out, err) ? FAIL : DONE;
		return parse_response(x->body.p, x->body.len, x->c->key, out, err) ? FAIL : DONE;
	}
	server_message(x->body.p, x->body.len, x->c->key, a->detail, sizeof(a->detail));
	shorten(a->detail, SHOWN_MAX);
	a->status = status;
	a->wait_s = retry_after_s(x->retry_after);
	if (status == 429 || status / 100 == 5)
		return RETRY;
	ut_err(err, CACT_ESYS, "model server answered %ld: %s", status, a->detail);
	return FAIL;
}

static enum outcome attempt(CURL *h, const struct cact_chat *c, const char *body,
			    struct chat_stream *stream, json_t **out, struct attempt *a,
			    struct cact_error *err)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct xfer x = {.c = c, .h = h, .stream = stream};
	enum outcome o;
	long status = 0;
	CURLcode cc;

	ut_buf_init(&x.body, c->max_bytes);
	set_common(h, c, body, &x, errbuf);
	cc = curl_easy_perform(h);
	a->status = 0;
	a->wait_s = -1;
	if (x.toobig) {
		o = FAIL;
		ut_err(err, CACT_ETOOBIG, "model server response larger than %llu bytes",
		       (unsigned long long)c->max_bytes);
	} else if (x.nomem) {
		o = FAIL;
		ut_err(err, CACT_ENOMEM, "out of memory reading the model server's response");
	} else if (x.stream_rc) {
		o = FAIL;
		*err = x.stream_err;
	} else if (cc != CURLE_OK) {
		ut_snprintf(a->detail, sizeof(a->detail), "%s",
			    errbuf[0] ? errbuf : curl_easy_strerror(cc));
		o = retryable_curl(cc) && !stream->delivered ? RETRY : FAIL;
		if (o == FAIL)
			ut_err(err, CACT_ESYS, "model server request failed: %s", a->detail);
	} else {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		o = finish_response(&x, status, out, a, err);
	}
	ut_buf_reset(&x.body);
	return o;
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
			      .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Backoff before attempt n+1 (n >= 1): Retry-After, or exponential with jitter. */
static uint64_t backoff_ms(unsigned n, long wait_s, unsigned *seed)
{
	uint64_t d = BACKOFF_BASE_MS;

	if (wait_s >= 0)
		return (uint64_t)wait_s * 1000;
	while (--n > 0 && d < BACKOFF_CAP_MS)
		d *= 2;
	if (d > BACKOFF_CAP_MS)
		d = BACKOFF_CAP_MS;
	return d / 2 + (uint64_t)rand_r(seed) % (d / 2 + 1);
}

static int exhausted(const struct attempt *a, unsigned n, struct cact_error *err)
{
	char times[32] = "";

	if (n > 1)
		ut_snprintf(times, sizeof(times), " after %u attempts", n);
	if (a->status)
		return ut_err(err, CACT_ESYS, "model server answered %ld%s: %s", a->status, times,
			      a->detail);
	return ut_err(err, CACT_ESYS, "model server unreachable%s: %s", times, a->detail);
}

static int complete(const struct cact_chat *c, const char *body, cact_chat_delta_fn on_delta,
		    void *user, json_t **out, struct cact_error *err)
{
	struct chat_stream *stream = malloc(sizeof(*stream));
	struct attempt *a = malloc(sizeof(*a));
	unsigned n, seed = (unsigned)ut_now_us() ^ (unsigned)(uintptr_t)&n;
	CURL *h = curl_easy_init();
	enum outcome o = FAIL;
	int rc = 0;

	if (!stream || !a || !h) {
		rc = ut_err(err, CACT_ENOMEM, "out of memory");
		goto out;
	}
	for (n = 1;; n++) {
		chat_stream_init(stream, c->max_bytes, on_delta, user);
		stream->key = c->key;
		o = attempt(h, c, body, stream, out, a, err);
		if (o == RETRY && n <= c->max_retries && !stream->delivered) {
			uint64_t wait = backoff_ms(n, a->wait_s, &seed);

			chat_stream_free(stream);
			/* Told before the pause, so that a caller can say why it waits. */
			if (c->on_retry) {
				struct cact_chat_retry r = {.attempt = n,
							    .max_attempts = c->max_retries + 1,
							    .status = a->status,
							    .wait_ms = wait,
							    .detail = a->detail};

				c->on_retry(c->retry_user, &r);
			}
			sleep_ms(wait);
			continue;
		}
		chat_stream_free(stream);
		break;
	}
	if (o == RETRY)
		rc = exhausted(a, n, err);
	else if (o == FAIL)
		rc = err ? err->code : CACT_ESYS;
out:
	curl_easy_cleanup(h);
	free(stream);
	free(a);
	return rc;
}

CACT_API int cact_chat_complete(struct cact_chat *c, const char *messages_json,
				const char *tools_json, cact_chat_delta_fn on_delta, void *user,
				char **out_json, struct cact_error *err)
{
	struct cact_error local = {0};
	json_t *out = NULL;
	char *body;
	int rc;

	if (!out_json)
		return ut_err(err, CACT_EINVAL, "out_json is NULL");
	*out_json = NULL;
	if (!c || !messages_json)
		return ut_err(err, CACT_EINVAL, "%s is NULL", c ? "messages_json" : "the client");
	if (!err)
		err = &local;
	body = request_body(c, messages_json, tools_json, err);
	if (!body)
		return err->code;
	rc = complete(c, body, on_delta, user, &out, err);
	free(body);
	if (!rc) {
		*out_json = json_dumps(out, JSON_COMPACT);
		json_decref(out);
		if (!*out_json)
			rc = ut_err(err, CACT_ENOMEM, "out of memory");
	}
	if (rc)
		redact(err, c->key);
	return rc;
}
