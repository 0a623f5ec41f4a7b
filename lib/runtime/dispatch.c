/* SPDX-License-Identifier: MIT */
/*
 * Tool calls and HTTP requests of one execution. A "tool_call" frame from
 * the sandbox is checked (shape, count, size, tool, schema), an
 * "http_request" frame likewise (shape, count, size), then its handler runs
 * on a thread of its own while the supervisor goes on watching the
 * sandbox's output and clock; a handler's completion wakes the supervisor
 * through a pipe, and the answer goes back as a "tool_result" or
 * "http_response" frame. Everything in the frame is hostile: a malformed
 * one is a protocol violation; one the host refuses (unknown tool, bad
 * arguments, over a cap, denied, a target not allowed) is answered with an
 * error the code sees as an exception.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../net/net.h"
#include "../tools/tools.h"
#include "../util/buf.h"
#include "../util/text.h"
#include "../util/util.h"
#include "../wire/wire.h"
#include "dispatch.h"

enum call_kind { CALL_TOOL, CALL_HTTP };

/*
 * How long the end of an execution waits for handlers nothing can cancel:
 * C callbacks (tool handlers and approval callbacks). Command tools, MCP
 * tools and HTTP requests watch the cancel eventfd and stop at once.
 */
#define FINISH_GRACE_US (100 * 1000)

/*
 * Where a call's thread is, for rt_calls_finish: anywhere but in a C
 * callback it is waited for; in one, it may be left to finish alone (the
 * thread then owns the call and frees it).
 */
enum call_phase { PHASE_RUN, PHASE_CALLBACK, PHASE_LEFT };

struct call {
	enum call_kind kind;
	long long id;
	struct cact_tool *tool;	 /* a reference (tool calls) */
	struct net_request http; /* HTTP requests: url, method, headers, body owned */
	struct net_response resp;
	char *args; /* compact JSON */
	int ask;    /* per-call approval needed */
	cact_approval_fn approve;
	void *approve_user;
	rt_observe_fn observe;
	void *observe_user;
	size_t result_cap;
	int cancel_fd;
	int wake_fd;
	pthread_t thread;
	/* Results, written by the thread before it signals the wake pipe. */
	int ok, denied;
	char *value;
	char error[CACT_ERROR_MAX];
	char *detail; /* the whole reason when error cannot hold it */
	uint64_t started_us, ended_us;
	_Atomic int done;
	_Atomic int phase; /* enum call_phase */
};

/* The answer's value for an HTTP response: status, headers, body (base64), url. */
static char *http_value(const struct net_response *resp)
{
	char *b64 = ut_base64(resp->body, resp->body_len, NULL), *out = NULL;
	json_t *v;

	if (!b64)
		return NULL;
	v = json_pack("{s:i, s:O, s:s, s:s}", "status", resp->status, "headers", resp->headers,
		      "body", b64, "url", resp->final_url ? resp->final_url : "");
	free(b64);
	if (v)
		out = json_dumps(v, JSON_COMPACT);
	json_decref(v);
	return out;
}

/* Into a C callback: from here rt_calls_finish may stop waiting for this call. */
static void enter_callback(struct call *c)
{
	atomic_store(&c->phase, PHASE_CALLBACK);
}

/* Out of it: 0, or -1 when the execution ended meanwhile and left the call to this thread. */
static int leave_callback(struct call *c)
{
	int expect = PHASE_CALLBACK;

	return atomic_compare_exchange_strong(&c->phase, &expect, PHASE_RUN) ? 0 : -1;
}

static int cancelled(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return fd >= 0 && poll(&p, 1, 0) > 0;
}

/* 0, or -1 when the call was left to this thread (see rt_calls_finish). */
static int run_tool(struct call *c)
{
	struct cact_error err = {0};
	int approved = 1, callback = c->tool->kind == TOOL_CALLBACK, rc;

	if (c->observe)
		c->observe(c->observe_user, c->tool->name, 0, 0, c->args, 0);
	if (c->ask) {
		enter_callback(c);
		approved = c->approve && c->approve(c->approve_user, c->tool->name, c->args);
		if (leave_callback(c))
			return -1;
	}
	if (!approved) {
		c->denied = 1;
		ut_snprintf(c->error, sizeof(c->error), "the call was not approved");
	} else if (cancelled(c->cancel_fd)) {
		/* An approval that came after the end: the tool does not run. */
		ut_snprintf(c->error, sizeof(c->error), "cancelled: the execution ended");
	} else {
		if (callback)
			enter_callback(c);
		rc = tool_invoke(c->tool, c->args, c->result_cap, c->cancel_fd, &c->value,
				 &c->detail, &err);
		if (callback && leave_callback(c))
			return -1;
		if (rc == 0)
			c->ok = 1;
		else
			ut_snprintf(c->error, sizeof(c->error), "%s", err.message);
	}
	if (c->observe)
		c->observe(c->observe_user, c->tool->name, 1, c->ok,
			   c->ok       ? c->value
			   : c->detail ? c->detail
				       : c->error,
			   ut_now_us() - c->started_us);
	return 0;
}

static void call_free(struct call *c);

static void *worker(void *arg)
{
	struct call *c = arg;
	char one = 1;

	if (c->kind == CALL_HTTP) {
		if (net_fetch(&c->http, &c->resp) == 0) {
			c->value = http_value(&c->resp);
			c->ok = c->value != NULL;
			if (!c->ok)
				ut_snprintf(c->error, sizeof(c->error), "out of memory");
		} else {
			c->denied = c->resp.denied;
			ut_snprintf(c->error, sizeof(c->error), "%s", c->resp.error);
		}
	} else if (run_tool(c)) {
		/* Left by rt_calls_finish: the execution is over and nobody reads the answer. */
		call_free(c);
		return NULL;
	}
	c->ended_us = ut_now_us();
	atomic_store(&c->done, 1);
	if (write(c->wake_fd, &one, 1) < 0)
		(void)0; /* the pipe holds far more than RT_MAX_CALLS bytes */
	return NULL;
}

void rt_calls_init(struct rt_calls *cs, const struct cact_request *req)
{
	memset(cs, 0, sizeof(*cs));
	cs->req = req;
	cs->wake_r = cs->wake_w = cs->cancel = -1;
	atomic_store(&cs->http_budget, req->limits[CACT_LIMIT_HTTP_BYTES]);
	atomic_store(&cs->http_left, req->limits[CACT_LIMIT_HTTP_REQUESTS]);
	cs->deadline_us = UINT64_MAX;
}

/*
 * The handlers' channel (the wake-up pipe, the cancel eventfd), made with
 * the first call: most executions make none, and a session's run should
 * not pay five system calls for it. 0 or -1.
 */
static int channel(struct rt_calls *cs)
{
	int p[2];

	if (cs->wake_r >= 0)
		return 0;
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK))
		return -1;
	cs->cancel = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (cs->cancel < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	cs->wake_r = p[0];
	cs->wake_w = p[1];
	return 0;
}

/* Appends one tool_result frame to the outgoing queue. */
static int answer(struct rt_calls *cs, struct ut_buf *outq, const char *type, long long id, int ok,
		  int denied, const char *value, const char *error)
{
	json_t *head = NULL;
	char *text = NULL, *frame = NULL;
	size_t len, payload;
	int rc = 0;

	/* The value is already compact JSON: splice it in rather than parse it again. */
	if (ok)
		head = json_pack("{s:s, s:I, s:b}", "type", type, "id", id, "ok", 1);
	else {
		/* Reasons quote stderr and are cut to size: made valid UTF-8 first. */
		size_t n;
		char *fixed = ut_utf8_repair(error, strlen(error), &n);

		head = fixed ? json_pack("{s:s, s:I, s:b, s:b, s:s%}", "type", type, "id", id, "ok",
					 0, "denied", denied, "error", fixed, n)
			     : NULL;
		free(fixed);
	}
	text = head ? json_dumps(head, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (!text) {
		rc = CACT_ENOMEM;
		goto out;
	}
	len = strlen(text);
	payload = ok ? len - 1 + strlen(",\"value\":") + strlen(value) + 1 : len;
	frame = malloc(WIRE_HEADER + payload + 1);
	if (!frame) {
		rc = CACT_ENOMEM;
		goto out;
	}
	frame[0] = (char)(payload >> 24);
	frame[1] = (char)(payload >> 16);
	frame[2] = (char)(payload >> 8);
	frame[3] = (char)payload;
	if (ok)
		ut_snprintf(frame + WIRE_HEADER, payload + 1, "%.*s,\"value\":%s}", (int)(len - 1),
			    text, value);
	else
		memcpy(frame + WIRE_HEADER, text, len);
	rc = ut_buf_add(outq, frame, WIRE_HEADER + payload);
	cs->answered++;
out:
	json_decref(head);
	free(text);
	free(frame);
	return rc;
}

static void list_tools(const struct cact_request *req, char *out, size_t size)
{
	size_t i, used = 0;

	out[0] = '\0';
	for (i = 0; i < req->n_tools && used + 2 < size; i++) {
		int n = snprintf(out + used, size - used, "%s%s", i ? ", " : "",
				 cact_tool_name(req->tools[i]));

		if (n < 0 || (size_t)n >= size - used) {
			ut_snprintf(out + used, size - used, ", ...");
			break;
		}
		used += (size_t)n;
	}
	if (req->n_tools == 0)
		ut_snprintf(out, size, "none");
}

/* A frame's id: a non-negative integer not in flight. -1 (violation filled) otherwise. */
static int check_id(struct rt_calls *cs, json_t *jid, const char *what, long long *id,
		    char *violation, size_t vsize)
{
	size_t i;

	if (!json_is_integer(jid) || json_integer_value(jid) < 0) {
		ut_snprintf(violation, vsize, "malformed %s frame", what);
		return -1;
	}
	*id = json_integer_value(jid);
	for (i = 0; i < RT_MAX_CALLS; i++) {
		if (cs->calls[i] && cs->calls[i]->id == *id) {
			ut_snprintf(violation, vsize, "%s id %lld is already in flight", what, *id);
			return -1;
		}
	}
	return 0;
}

/* Runs c on a thread of its own. 0, or -1 when no thread could start (c is kept). */
static int start(struct rt_calls *cs, struct call *c)
{
	size_t i;

	if (channel(cs))
		return -1;
	c->cancel_fd = cs->cancel;
	if (c->kind == CALL_HTTP)
		c->http.cancel_fd = cs->cancel;
	c->wake_fd = cs->wake_w;
	c->started_us = ut_now_us();
	if (pthread_create(&c->thread, NULL, worker, c))
		return -1;
	for (i = 0; i < RT_MAX_CALLS; i++) {
		if (!cs->calls[i]) {
			cs->calls[i] = c;
			break;
		}
	}
	cs->in_flight++;
	if (c->kind == CALL_HTTP)
		cs->http_in_flight++;
	else
		cs->tool_in_flight++;
	return 0;
}

static void call_free(struct call *c)
{
	if (c->tool)
		cact_tool_unref(c->tool);
	free(c->args);
	free(c->value);
	free(c->detail);
	free((char *)c->http.url);
	free((char *)c->http.method);
	json_decref(c->http.headers);
	free((unsigned char *)c->http.body);
	net_response_clear(&c->resp);
	free(c);
}

int rt_calls_on_frame(struct rt_calls *cs, json_t *msg, size_t frame_len, struct ut_buf *outq,
		      char *violation, size_t vsize)
{
	const struct cact_request *req = cs->req;
	json_t *args = json_object_get(msg, "args"), *jname = json_object_get(msg, "name");
	const char *name = json_string_value(jname);
	char why[CACT_ERROR_MAX], tools[512];
	struct cact_error err = {0};
	struct cact_tool *tool = NULL;
	struct call *c;
	long long id;
	size_t i;

	if (check_id(cs, json_object_get(msg, "id"), "tool_call", &id, violation, vsize))
		return -1;
	if (!name || !json_is_object(args)) {
		ut_snprintf(violation, vsize, "malformed tool_call frame");
		return -1;
	}
	if (cs->tool_in_flight >= RT_MAX_KIND) {
		ut_snprintf(violation, vsize, "more than %d tool calls in flight", RT_MAX_KIND);
		return -1;
	}
	cs->total++;
	if (cs->total > req->limits[CACT_LIMIT_TOOL_CALLS]) {
		ut_snprintf(why, sizeof(why),
			    "the limit of %llu tool calls per execution is reached",
			    (unsigned long long)req->limits[CACT_LIMIT_TOOL_CALLS]);
		return answer(cs, outq, "tool_result", id, 0, 0, NULL, why) ? -2 : 0;
	}
	/*
	 * A frame far over the cap is refused before any more work; the exact
	 * check, on compact JSON, comes below.
	 */
	if (frame_len > 2 * req->limits[CACT_LIMIT_TOOL_ARGS_BYTES] + 4096) {
		ut_snprintf(why, sizeof(why), "the arguments are larger than %llu bytes",
			    (unsigned long long)req->limits[CACT_LIMIT_TOOL_ARGS_BYTES]);
		return answer(cs, outq, "tool_result", id, 0, 0, NULL, why) ? -2 : 0;
	}
	/*
	 * Frames may carry NUL (\u0000) in strings, and C would read "echo\0x"
	 * as "echo". The runner sends what call_tool was given, so this is a
	 * refused call the code sees as RuntimeError, not a protocol violation.
	 */
	if (strlen(name) != json_string_length(jname)) {
		ut_snprintf(why, sizeof(why), "bad tool name: it holds a NUL byte");
		return answer(cs, outq, "tool_result", id, 0, 0, NULL, why) ? -2 : 0;
	}
	for (i = 0; i < req->n_tools; i++)
		if (strcmp(cact_tool_name(req->tools[i]), name) == 0)
			tool = req->tools[i];
	if (!tool) {
		list_tools(req, tools, sizeof(tools));
		ut_snprintf(why, sizeof(why), "unknown tool (available: %s)", tools);
		return answer(cs, outq, "tool_result", id, 0, 0, NULL, why) ? -2 : 0;
	}
	if (schema_validate(tool->params, args, &err)) {
		ut_snprintf(why, sizeof(why), "arguments do not match the tool's parameters: %s",
			    err.message);
		return answer(cs, outq, "tool_result", id, 0, 0, NULL, why) ? -2 : 0;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -2;
	c->kind = CALL_TOOL;
	c->id = id;
	c->tool = cact_tool_ref(tool);
	c->args = json_dumps(args, JSON_COMPACT);
	/* The cap is on the arguments as compact JSON, whatever spacing the frame used. */
	if (c->args && strlen(c->args) > req->limits[CACT_LIMIT_TOOL_ARGS_BYTES]) {
		call_free(c);
		ut_snprintf(why, sizeof(why), "the arguments are larger than %llu bytes",
			    (unsigned long long)req->limits[CACT_LIMIT_TOOL_ARGS_BYTES]);
		return answer(cs, outq, "tool_result", id, 0, 0, NULL, why) ? -2 : 0;
	}
	c->ask = req->per_call && tool->approval == CACT_APPROVAL_ALWAYS_REQUIRE;
	c->approve = req->approve_fn;
	c->approve_user = req->approve_user;
	c->observe = req->observe_fn;
	c->observe_user = req->observe_user;
	c->result_cap = req->limits[CACT_LIMIT_TOOL_RESULT_BYTES];
	if (!c->args || start(cs, c)) {
		call_free(c);
		ut_snprintf(why, sizeof(why), "the host could not start the call");
		return answer(cs, outq, "tool_result", id, 0, 0, NULL, why) ? -2 : 0;
	}
	return 0;
}

/* Logs a request refused before it reached the network layer. */
static int log_refusal(struct rt_calls *cs, const char *method, const char *url, const char *why)
{
	struct rt_http h = {0};

	ut_snprintf(h.method, sizeof(h.method), "%s", method ? method : "?");
	h.url = strndup(url ? url : "", 2048);
	h.error = strdup(why);
	if (!h.url || !h.error || rt_calls_log(cs, &h, 1)) {
		rt_http_clear(&h);
		return -1;
	}
	return 0;
}

int rt_calls_log(struct rt_calls *cs, struct rt_http *hops, size_t n)
{
	size_t i;

	if (cs->n_log + n > cs->log_alloc) {
		size_t want = (cs->n_log + n) * 2;
		struct rt_http *grown = realloc(cs->log, want * sizeof(*grown));

		if (!grown)
			return -1;
		cs->log = grown;
		cs->log_alloc = want;
	}
	for (i = 0; i < n; i++) {
		cs->log[cs->n_log++] = hops[i];
		memset(&hops[i], 0, sizeof(hops[i]));
	}
	return 0;
}

int rt_calls_on_http(struct rt_calls *cs, json_t *msg, size_t frame_len, struct ut_buf *outq,
		     char *violation, size_t vsize)
{
	const struct cact_request *req = cs->req;
	json_t *jmethod = json_object_get(msg, "method"), *jurl = json_object_get(msg, "url");
	const char *method = json_string_value(jmethod);
	const char *url = json_string_value(jurl);
	json_t *headers = json_object_get(msg, "headers"), *jbody = json_object_get(msg, "body");
	json_t *jtimeout = json_object_get(msg, "timeout_ms"); /* optional: the code's own */
	char why[CACT_ERROR_MAX], m[16];
	unsigned char *body = NULL;
	size_t body_len = 0, i;
	struct call *c;
	long long id;
	const char *k;
	json_t *v;

	if (check_id(cs, json_object_get(msg, "id"), "http_request", &id, violation, vsize))
		return -1;
	if (!method || !url || !json_is_object(headers) ||
	    !(json_is_null(jbody) || json_is_string(jbody)) ||
	    (jtimeout && !(json_is_integer(jtimeout) && json_integer_value(jtimeout) > 0))) {
		ut_snprintf(violation, vsize, "malformed http_request frame");
		return -1;
	}
	if (cs->http_in_flight >= RT_MAX_KIND) {
		ut_snprintf(violation, vsize, "more than %d HTTP requests in flight", RT_MAX_KIND);
		return -1;
	}
	cs->http_total++;
	/* A method is a token of letters: upper-cased here, matched against the allow-list. */
	for (i = 0; method[i] && i < sizeof(m) - 1; i++) {
		char ch = method[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')))
			break;
		m[i] = (char)((ch >= 'a' && ch <= 'z') ? ch - 'a' + 'A' : ch);
	}
	m[i] = '\0';
	/*
	 * A NUL (\u0000) in the method or the URL would cut it short in C. The
	 * runner sends what the code passed, so these are refusals the code
	 * sees as PermissionError (like any bad method or URL), not violations.
	 */
	if (req->n_domains == 0) {
		ut_snprintf(why, sizeof(why), "network access is not enabled for this execution");
	} else if (strlen(method) != json_string_length(jmethod)) {
		ut_snprintf(why, sizeof(why), "bad HTTP method: it holds a NUL byte");
	} else if (method[i] || i == 0) {
		ut_snprintf(why, sizeof(why), "bad HTTP method");
	} else if (strlen(url) != json_string_length(jurl)) {
		ut_snprintf(why, sizeof(why), "bad URL: it holds a NUL byte");
	} else if (frame_len > req->limits[CACT_LIMIT_HTTP_BODY_BYTES] / 3 * 4 + (1u << 20)) {
		ut_snprintf(why, sizeof(why), "the request body is larger than %llu bytes",
			    (unsigned long long)req->limits[CACT_LIMIT_HTTP_BODY_BYTES]);
	} else {
		why[0] = '\0';
		/* Held while the request runs (16 at a time): as few as a response may have. */
		if (json_object_size(headers) > NET_MAX_HEADERS)
			ut_snprintf(why, sizeof(why), "more than %d request headers",
				    NET_MAX_HEADERS);
		else
			json_object_foreach(headers, k, v)
				if (!json_is_string(v)) {
					ut_snprintf(why, sizeof(why),
						    "header %.64s is not a string", k);
					break;
				}
		if (!why[0] && json_is_string(jbody) &&
		    ut_base64_decode(json_string_value(jbody), json_string_length(jbody), &body,
				     &body_len))
			ut_snprintf(why, sizeof(why), "the request body is not valid base64");
	}
	if (why[0]) {
		/* A refused request counts against the allowance too. */
		uint64_t left = atomic_load(&cs->http_left);

		while (left > 0 && !atomic_compare_exchange_weak(&cs->http_left, &left, left - 1))
			;
		if (log_refusal(cs, method, url, why))
			return -2;
		return answer(cs, outq, "http_response", id, 0, 1, NULL, why) ? -2 : 0;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		free(body);
		return -2;
	}
	c->kind = CALL_HTTP;
	c->id = id;
	c->http.req = req;
	c->http.method = strdup(m);
	c->http.url = strdup(url);
	c->http.headers = json_incref(headers);
	c->http.body = body;
	c->http.body_len = body_len;
	c->http.has_body = json_is_string(jbody);
	c->http.budget = &cs->http_budget;
	c->http.requests_left = &cs->http_left;
	c->http.deadline_us = cs->deadline_us;
	c->http.timeout_ms = jtimeout ? (uint64_t)json_integer_value(jtimeout) : 0;
	if (!c->http.method || !c->http.url || start(cs, c)) {
		call_free(c);
		ut_snprintf(why, sizeof(why), "the host could not start the request");
		return answer(cs, outq, "http_response", id, 0, 0, NULL, why) ? -2 : 0;
	}
	return 0;
}

static void finish(struct rt_calls *cs, size_t i)
{
	struct call *c = cs->calls[i];

	pthread_join(c->thread, NULL);
	if (c->kind == CALL_HTTP) {
		/* Out of memory here loses the log entries, never the response. */
		if (rt_calls_log(cs, c->resp.hops, c->resp.n_hops) == 0)
			c->resp.n_hops = 0;
		cs->http_in_flight--;
	} else {
		if (c->ok)
			cs->ok++;
		cs->busy_us += c->ended_us - c->started_us;
		cs->tool_in_flight--;
	}
	call_free(c);
	cs->calls[i] = NULL;
	cs->in_flight--;
}

int rt_calls_collect(struct rt_calls *cs, struct ut_buf *outq)
{
	char drain[64];
	size_t i;
	int rc = 0;

	while (read(cs->wake_r, drain, sizeof(drain)) > 0)
		;
	for (i = 0; i < RT_MAX_CALLS; i++) {
		struct call *c = cs->calls[i];

		if (!c || !atomic_load(&c->done))
			continue;
		if (!rc)
			rc = answer(cs, outq,
				    c->kind == CALL_HTTP ? "http_response" : "tool_result", c->id,
				    c->ok, c->denied, c->value, c->detail ? c->detail : c->error);
		finish(cs, i);
	}
	return rc;
}

/* 1 while a call has not ended. */
static int any_running(const struct rt_calls *cs)
{
	size_t i;

	for (i = 0; i < RT_MAX_CALLS; i++)
		if (cs->calls[i] && !atomic_load(&cs->calls[i]->done))
			return 1;
	return 0;
}

void rt_calls_finish(struct rt_calls *cs)
{
	uint64_t one = 1, until, now;
	char drain[64];
	size_t i;

	if (cs->wake_r < 0)
		return; /* no call was ever started, or already finished */
	/*
	 * Command tools, MCP tools and HTTP requests stop at once. A C
	 * callback cannot be stopped: it gets FINISH_GRACE_US, then its
	 * thread is left to finish alone, its answer dropped (it keeps its
	 * reference to the tool; see cact_tool_fn in include/cact/tools.h).
	 */
	if (cs->cancel >= 0 && write(cs->cancel, &one, sizeof(one)) < 0)
		(void)0;
	until = ut_now_us() + FINISH_GRACE_US;
	while (any_running(cs) && (now = ut_now_us()) < until) {
		struct pollfd p = {.fd = cs->wake_r, .events = POLLIN};

		if (poll(&p, 1, (int)((until - now + 999) / 1000)) > 0)
			while (read(cs->wake_r, drain, sizeof(drain)) > 0)
				;
	}
	for (i = 0; i < RT_MAX_CALLS; i++) {
		struct call *c = cs->calls[i];
		int expect = PHASE_CALLBACK;

		if (!c)
			continue;
		if (!atomic_load(&c->done) &&
		    atomic_compare_exchange_strong(&c->phase, &expect, PHASE_LEFT)) {
			pthread_detach(c->thread);
			cs->busy_us += ut_now_us() - c->started_us;
			cs->tool_in_flight--;
			cs->in_flight--;
			cs->calls[i] = NULL;
			continue;
		}
		finish(cs, i);
	}
	ut_close(&cs->wake_r);
	ut_close(&cs->wake_w);
	ut_close(&cs->cancel);
}

void rt_calls_free_log(struct rt_calls *cs)
{
	size_t i;

	for (i = 0; i < cs->n_log; i++)
		rt_http_clear(&cs->log[i]);
	free(cs->log);
	cs->log = NULL;
	cs->n_log = cs->log_alloc = 0;
}
