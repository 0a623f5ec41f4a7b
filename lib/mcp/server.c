/* SPDX-License-Identifier: MIT */
/*
 * The MCP server: sessions (lifecycle, version negotiation, capabilities,
 * logging level, calls in flight), execute_code and the exposed sandbox
 * tools as MCP tools, approval through elicitation, progress, cancellation,
 * and the stdio transport. Streamable HTTP is http.c, on the same sessions.
 *
 * Locks: the server's lock (the list of sessions) is taken before a
 * session's; a session's lock guards everything of the session and its
 * calls, and every message is sent with it held, so a transport that drops
 * a stream knows nothing more goes to it once mcp_session_drop_stream
 * returns.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cact/cact.h>

#include "../codeact/codeact.h"
#include "../tools/tools.h"
#include "../util/buf.h"
#include "../util/text.h"
#include "../util/util.h"
#include "server.h"

/* Newest first: an unknown version asked for gets the first. */
static const char *const versions[] = {"2025-11-25", "2025-06-18", "2025-03-26"};

static const char *const levels[] = {"debug", "info",	  "notice", "warning",
				     "error", "critical", "alert",  "emergency"};
enum { LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARNING, LOG_ERROR };

#define PROGRESS_EVERY_US   1000000u	/* "running N s" while code runs */
#define PROGRESS_MIN_GAP_US 100000u	/* between "call_tool x" progress messages */
#define SHOWN_CODE_MAX	    8192u	/* code shown in an approval question */
#define SHOWN_ARGS_MAX	    4096u	/* arguments shown in one */
#define STDIO_OUT_MAX	    (64u << 20) /* queued output before reading pauses */

struct call {
	struct mcp_session *s;
	json_t *id;    /* the request's id (a copy) */
	void *stream;  /* where its messages go */
	int detached;  /* the stream is gone: send nothing more */
	int cancelled; /* stop, and send no response */
	json_t *token; /* progress token (a copy), or NULL */
	json_int_t progress;
	uint64_t last_progress_us;
	int cancel_fd;		/* eventfd, written to cancel */
	json_t *args;		/* the arguments object (a copy) */
	struct cact_tool *tool; /* an exposed sandbox tool called directly; NULL: execute_code */
	uint64_t started_us;
	int done; /* the work is over: the ticker stops */
	pthread_cond_t tick;
	struct call *next;
};

/* A request of ours (elicitation/create) waiting for the client's answer. */
struct waiter {
	json_int_t id;
	struct call *call;
	int answered;
	json_t *result;	 /* the answer's result, or NULL */
	char error[256]; /* the answer's error message */
	struct waiter *next;
};

struct mcp_session {
	struct cact_mcp_server *srv;
	mcp_send_fn send;
	void *user;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC: answers arrived, calls cancelled, workers ended */
	const char *version; /* negotiated; NULL until initialize is answered */
	int closing;
	json_t *caps; /* the client's capabilities */
	int log_level;
	struct call *calls;
	unsigned n_calls;
	unsigned n_workers;
	struct waiter *waiters;
	json_int_t next_id;
	struct mcp_session *next; /* in srv->sessions */
};

int mcp_version_supported(const char *v)
{
	size_t i;

	for (i = 0; v && i < UT_ARRAY_SIZE(versions); i++)
		if (strcmp(v, versions[i]) == 0)
			return 1;
	return 0;
}

static const char *negotiate(const char *asked)
{
	size_t i;

	for (i = 0; i < UT_ARRAY_SIZE(versions); i++)
		if (strcmp(asked, versions[i]) == 0)
			return versions[i];
	return versions[0];
}

/* Titles, output schemas, structured content and elicitation came with 2025-06-18. */
static int modern(const char *version)
{
	return version && strcmp(version, "2025-06-18") >= 0;
}

static struct timespec deadline_in(uint64_t us)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(us / 1000000u);
	ts.tv_nsec += (long)(us % 1000000u) * 1000;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

static int cond_init(pthread_cond_t *c)
{
	pthread_condattr_t a;
	int rc;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	rc = pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
	return rc;
}

/* A JSON string of text that may not be valid UTF-8 (bad bytes become U+FFFD). */
static json_t *jstr(const char *text, size_t len)
{
	json_t *v;
	char *fixed;
	size_t n;

	if (ut_utf8_valid(text, len))
		return json_stringn(text, len);
	fixed = ut_utf8_repair(text, len, &n);
	if (!fixed)
		return NULL;
	v = json_stringn(fixed, n);
	free(fixed);
	return v;
}

static json_t *jfmt(const char *fmt, ...) UT_PRINTF(1, 2);
static json_t *jfmt(const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	/* A cut may fall inside a UTF-8 sequence: jstr repairs it. */
	return jstr(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* ---- sending (session lock held) ---- */

/* Sends msg (consumed) on stream. NULL msg with MCP_SEND_FINAL ends the stream without one. */
static void emit(struct mcp_session *s, void *stream, json_t *msg, unsigned flags)
{
	/* 15 digits: 1031.284 ms stays 1031.284, not its binary neighbour. */
	char *text = msg ? json_dumps(msg, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;

	json_decref(msg);
	if (!text && !(flags & MCP_SEND_FINAL))
		return;
	s->send(s->user, stream, text, text ? strlen(text) : 0, flags);
}

static void call_emit(struct call *c, json_t *msg, unsigned flags)
{
	if (c->detached) {
		json_decref(msg);
		return;
	}
	emit(c->s, c->stream, msg, flags);
}

/* A notification; params consumed. NULL when out of memory. */
static json_t *notif(const char *method, json_t *params)
{
	json_t *m = params ? jrpc_notification(method, params) : NULL;

	json_decref(params);
	return m;
}

/* notifications/message about a call, at level or above the client's. data consumed. */
static void call_log(struct call *c, int level, json_t *data)
{
	if (!data || c->detached || level < c->s->log_level) {
		json_decref(data);
		return;
	}
	emit(c->s, c->stream,
	     notif("notifications/message", json_pack("{s:s, s:s, s:o}", "level", levels[level],
						      "logger", "cact", "data", data)),
	     0);
}

static void progress(struct call *c, const char *message, int tick)
{
	uint64_t now = ut_now_us();

	if (!c->token || c->detached || c->cancelled)
		return;
	if (!tick && c->progress > 0 && now - c->last_progress_us < PROGRESS_MIN_GAP_US)
		return;
	c->progress++;
	c->last_progress_us = now;
	call_emit(c,
		  notif("notifications/progress",
			json_pack("{s:O, s:I, s:o}", "progressToken", c->token, "progress",
				  c->progress, "message", jstr(message, strlen(message)))),
		  0);
}

static void reply(struct mcp_session *s, void *stream, json_t *id, json_t *result)
{
	json_t *msg = result ? jrpc_result(id, result) : NULL;

	json_decref(result);
	if (!msg)
		msg = jrpc_error(id, JRPC_INTERNAL_ERROR, "out of memory", NULL);
	pthread_mutex_lock(&s->lock);
	emit(s, stream, msg, MCP_SEND_FINAL);
	pthread_mutex_unlock(&s->lock);
}

static void reply_error(struct mcp_session *s, void *stream, json_t *id, int code, const char *fmt,
			...) UT_PRINTF(5, 6);
static void reply_error(struct mcp_session *s, void *stream, json_t *id, int code, const char *fmt,
			...)
{
	char msg[CACT_ERROR_MAX];
	va_list ap;
	json_t *m;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	m = jstr(msg, strlen(msg));
	pthread_mutex_lock(&s->lock);
	emit(s, stream, jrpc_error(id, code, m ? json_string_value(m) : "error", NULL),
	     MCP_SEND_FINAL);
	pthread_mutex_unlock(&s->lock);
	json_decref(m);
}

void mcp_session_refuse(struct mcp_session *s, void *stream, int code, const char *message)
{
	pthread_mutex_lock(&s->lock);
	emit(s, stream, jrpc_error(NULL, code, message, NULL), MCP_SEND_FINAL);
	pthread_mutex_unlock(&s->lock);
}

/* A tool result that failed: {content: [text], isError: true}. */
static json_t *tool_error(const char *fmt, ...) UT_PRINTF(1, 2);
static json_t *tool_error(const char *fmt, ...)
{
	char msg[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	return json_pack("{s:[{s:s, s:o}], s:b}", "content", "type", "text", "text",
			 jstr(msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1),
			 "isError", 1);
}

/* ---- cancellation (lock held) ---- */

static void cancel_call(struct call *c)
{
	uint64_t one = 1;

	if (c->cancelled)
		return;
	c->cancelled = 1;
	if (write(c->cancel_fd, &one, sizeof(one)) < 0)
		(void)0; /* an eventfd counter cannot overflow from one write per call */
	pthread_cond_broadcast(&c->s->cond);
	pthread_cond_signal(&c->tick);
}

static struct call *find_call(struct mcp_session *s, const json_t *id)
{
	struct call *c;

	for (c = s->calls; c; c = c->next)
		if (jrpc_id_equal(c->id, id))
			return c;
	return NULL;
}

/* ---- approval through elicitation ---- */

/* The client can show a form: elicitation declared (empty means form), version 2025-06-18+. */
static int can_elicit(const struct mcp_session *s)
{
	json_t *e = json_object_get(s->caps, "elicitation");

	return modern(s->version) && json_is_object(e) &&
	       (json_object_size(e) == 0 || json_object_get(e, "form"));
}

static void unlink_waiter(struct mcp_session *s, struct waiter *w)
{
	struct waiter **p;

	for (p = &s->waiters; *p; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			return;
		}
}

/* What the answer to an approval question says: 1 approved, else 0 with why. */
static int approved(const struct waiter *w, char *why, size_t size)
{
	const char *action = json_string_value(json_object_get(w->result, "action"));
	json_t *content = json_object_get(w->result, "content");

	if (!w->result) {
		ut_snprintf(why, size, "the client could not ask the user: %s", w->error);
		return 0;
	}
	if (action && strcmp(action, "accept") == 0) {
		if (json_is_true(json_object_get(content, "approve")))
			return 1;
		ut_snprintf(why, size, "the user did not approve it");
	} else if (action && strcmp(action, "decline") == 0) {
		ut_snprintf(why, size, "the user declined");
	} else {
		ut_snprintf(why, size, "the user dismissed the question");
	}
	return 0;
}

/*
 * Asks the user through elicitation/create on the call's stream and waits
 * for the answer, the call's cancellation or the timeout. 1 approved, 0
 * not (why says why). Called without the lock.
 */
static int ask(struct call *c, const char *message, char *why, size_t size)
{
	struct mcp_session *s = c->s;
	struct waiter w = {0};
	struct timespec until;
	json_t *params, *id;
	int rc = 0, ok = 0;

	pthread_mutex_lock(&s->lock);
	if (c->cancelled || s->closing) {
		ut_snprintf(why, size, "the call was cancelled");
		goto out;
	}
	if (!can_elicit(s)) {
		ut_snprintf(why, size,
			    "this client cannot ask the user (it did not declare the elicitation "
			    "capability for forms)");
		goto out;
	}
	w.id = ++s->next_id;
	w.call = c;
	w.next = s->waiters;
	s->waiters = &w;
	params = json_pack("{s:o, s:{s:s, s:{s:{s:s, s:s, s:s, s:b}}, s:[s]}}", "message",
			   jstr(message, strlen(message)), "requestedSchema", "type", "object",
			   "properties", "approve", "type", "boolean", "title", "Approve",
			   "description", "Allow it to run", "default", 0, "required", "approve");
	if (params && strcmp(s->version, "2025-11-25") >= 0)
		json_object_set_new(params, "mode", json_string("form"));
	id = json_integer(w.id);
	call_emit(c, params && id ? jrpc_request(id, "elicitation/create", params) : NULL, 0);
	json_decref(params);
	until = deadline_in(s->srv->approval_timeout_ms * 1000u);
	while (!w.answered && !c->cancelled && !s->closing && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&s->cond, &s->lock, &until);
	unlink_waiter(s, &w);
	if (w.answered) {
		ok = approved(&w, why, size);
	} else if (c->cancelled || s->closing) {
		ut_snprintf(why, size, "the call was cancelled");
	} else {
		ut_snprintf(why, size, "the user did not answer within %llu s",
			    (unsigned long long)(s->srv->approval_timeout_ms / 1000u));
		/* Our request is void now: the client may take its question down. */
		call_emit(
			c,
			notif("notifications/cancelled", json_pack("{s:O, s:s}", "requestId", id,
								   "reason", "no answer in time")),
			0);
	}
	json_decref(id);
	json_decref(w.result);
out:
	pthread_mutex_unlock(&s->lock);
	return ok;
}

/* Text of at most max bytes of s, cut on a line end when it is longer. */
static void shown(struct ut_buf *b, const char *text, size_t len, size_t max)
{
	if (len <= max) {
		ut_buf_add(b, text, len);
		return;
	}
	ut_buf_add(b, text, max);
	ut_buf_addf(b, "\n[... %zu more bytes]", len - max);
}

/* Per-call approval: the code called an always_require tool (a dispatch thread; the code waits). */
static int approve_call(void *user, const char *tool, const char *args_json)
{
	struct call *c = user;
	struct ut_buf b;
	char why[512];
	int ok;

	ut_buf_init(&b, 64u << 10);
	ut_buf_addf(&b,
		    "The code running in the cact sandbox wants to call the tool '%s', which "
		    "needs your approval, with these arguments:\n\n",
		    tool);
	shown(&b, args_json, strlen(args_json), SHOWN_ARGS_MAX);
	ut_buf_addf(&b, "\n\nAllow this call?");
	ok = b.p && ask(c, b.p, why, sizeof(why));
	if (!b.p)
		ut_snprintf(why, sizeof(why), "out of memory");
	ut_buf_reset(&b);
	if (!ok) {
		pthread_mutex_lock(&c->s->lock);
		call_log(c, LOG_NOTICE, jfmt("call_tool %s denied: %s", tool, why));
		pthread_mutex_unlock(&c->s->lock);
	}
	return ok;
}

/* The code's tool calls: progress and debug log messages (a dispatch thread). */
static void observe(void *user, const char *tool, int done, int ok, const char *text,
		    uint64_t elapsed_us)
{
	struct call *c = user;
	char msg[256];

	pthread_mutex_lock(&c->s->lock);
	if (!done) {
		ut_snprintf(msg, sizeof(msg), "call_tool %s", tool);
		progress(c, msg, 0);
		call_log(c, LOG_DEBUG, jfmt("call_tool %s %.300s", tool, text ? text : ""));
	} else {
		call_log(c, LOG_DEBUG,
			 jfmt("call_tool %s %s in %.1f ms: %.300s", tool,
			      ok ? "returned" : "failed", (double)elapsed_us / 1e3,
			      text ? text : ""));
	}
	pthread_mutex_unlock(&c->s->lock);
}

/* ---- results ---- */

/* file:///output/... with everything but unreserved characters and '/' percent-encoded. */
static json_t *file_uri(const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	struct ut_buf b;
	json_t *v;
	size_t i;

	ut_buf_init(&b, 4u * strlen(path) + 16);
	ut_buf_add(&b, "file://", 7);
	for (i = 0; path[i]; i++) {
		unsigned char ch = (unsigned char)path[i];

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~/", ch)) {
			ut_buf_add(&b, &path[i], 1);
		} else {
			char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};

			ut_buf_add(&b, e, 3);
		}
	}
	v = b.p ? json_stringn(b.p, b.len) : NULL;
	ut_buf_reset(&b);
	return v;
}

/* An /output file as an image item (image media types) or an embedded resource with its bytes. */
static json_t *file_item(const struct cact_file *f)
{
	size_t n = 0;
	char *b64 = ut_base64(f->data, f->size, &n);
	json_t *data = b64 ? json_stringn(b64, n) : NULL, *item;

	free(b64);
	if (!data)
		return NULL;
	if (strncmp(f->media_type, "image/", 6) == 0)
		item = json_pack("{s:s, s:o, s:s}", "type", "image", "data", data, "mimeType",
				 f->media_type);
	else
		item = json_pack("{s:s, s:{s:o, s:s, s:o}}", "type", "resource", "resource", "uri",
				 file_uri(f->path), "mimeType", f->media_type, "blob", data);
	return item;
}

static json_t *text_item(const char *label, const char *text, size_t len)
{
	struct ut_buf b;
	json_t *v;

	if (!label)
		return json_pack("{s:s, s:o}", "type", "text", "text", jstr(text, len));
	ut_buf_init(&b, len + strlen(label) + 1);
	ut_buf_add(&b, label, strlen(label));
	ut_buf_add(&b, text, len);
	v = b.p ? json_pack("{s:s, s:o}", "type", "text", "text", jstr(b.p, b.len)) : NULL;
	ut_buf_reset(&b);
	return v;
}

/* Says that an /output file exists but its bytes could not be put in the result. */
static json_t *unreturned_item(const struct cact_file *f)
{
	struct ut_buf b;
	json_t *v;

	ut_buf_init(&b, strlen(f->path) + 128);
	ut_buf_addf(&b, "[not returned from /output]\n%s: %s, %zu bytes, could not be encoded",
		    f->path, f->media_type, f->size);
	v = b.p ? text_item(NULL, b.p, b.len) : NULL;
	ut_buf_reset(&b);
	return v;
}

/* What went wrong, for the model: the outcome, the exception, the traceback. */
static json_t *error_item(const struct cact_result *r)
{
	const char *status = cact_status_name(cact_result_status(r));
	const char *type = cact_result_error_type(r), *msg = cact_result_error_message(r);
	const char *tb = cact_result_error_traceback(r);
	struct ut_buf b;
	json_t *v;

	ut_buf_init(&b, 1u << 20);
	ut_buf_addf(&b, "[error] the execution did not succeed (%s)", status);
	if (type && strcmp(type, status) != 0)
		ut_buf_addf(&b, ": %s", type);
	if (msg && *msg)
		ut_buf_addf(&b, ": %s", msg);
	if (tb && *tb) {
		ut_buf_add(&b, "\n\n", 2);
		ut_buf_add_trunc(&b, tb, strlen(tb));
	}
	v = b.p ? json_pack("{s:s, s:o}", "type", "text", "text", jstr(b.p, b.len)) : NULL;
	ut_buf_reset(&b);
	return v;
}

static json_t *skipped_item(const struct cact_result *r)
{
	size_t i, n = cact_result_skipped_count(r);
	struct ut_buf b;
	json_t *v;

	ut_buf_init(&b, 1u << 20);
	ut_buf_addf(&b, "[not returned from /output]");
	for (i = 0; i < n; i++)
		ut_buf_addf(&b, "\n%s", cact_result_skipped(r, i));
	v = b.p ? text_item(NULL, b.p, b.len) : NULL;
	ut_buf_reset(&b);
	return v;
}

static json_t *structured(const struct cact_result *r, json_t *files)
{
	struct cact_stats st;

	cact_result_stats(r, &st);
	return json_pack("{s:s, s:i, s:{s:f, s:f, s:I, s:I}, s:O}", "status",
			 cact_status_name(cact_result_status(r)), "exit_code",
			 cact_result_exit_code(r), "stats", "wall_ms", (double)st.wall_us / 1e3,
			 "cpu_ms", (double)st.cpu_us / 1e3, "tool_calls", (json_int_t)st.tool_calls,
			 "http_requests", (json_int_t)st.http_requests, "files", files);
}

static const char no_output[] = "Code executed successfully without output.";

/* The execution's result as an MCP tool result. NULL when out of memory. */
static json_t *code_result(const struct cact_result *r, const char *version)
{
	json_t *content = json_array(), *files = json_array(), *out = NULL;
	int failed = cact_result_status(r) != CACT_STATUS_OK;
	struct cact_file f;
	const char *text;
	size_t len, i;
	int bad = !content || !files;

	text = cact_result_stdout(r, &len, NULL);
	if (!bad && len)
		bad |= json_array_append_new(content, text_item(NULL, text, len));
	text = cact_result_stderr(r, &len, NULL);
	if (!bad && len)
		bad |= json_array_append_new(content, text_item("[stderr]\n", text, len));
	for (i = 0; !bad && i < cact_result_file_count(r); i++) {
		json_t *item;

		if (cact_result_file(r, i, &f))
			continue;
		/* A file that cannot be encoded costs its own item, never the whole call. */
		item = file_item(&f);
		bad |= json_array_append_new(content, item ? item : unreturned_item(&f));
		bad |= json_array_append_new(
			files, json_pack("{s:o, s:s, s:I}", "path", jstr(f.path, strlen(f.path)),
					 "media_type", f.media_type, "size", (json_int_t)f.size));
	}
	if (!bad && cact_result_skipped_count(r))
		bad |= json_array_append_new(content, skipped_item(r));
	if (!bad && failed)
		bad |= json_array_append_new(content, error_item(r));
	if (!bad && json_array_size(content) == 0)
		bad |= json_array_append_new(content,
					     text_item(NULL, no_output, strlen(no_output)));
	if (!bad)
		out = json_pack("{s:O, s:b}", "content", content, "isError", failed);
	if (out && modern(version) &&
	    json_object_set_new(out, "structuredContent", structured(r, files))) {
		json_decref(out);
		out = NULL;
	}
	json_decref(content);
	json_decref(files);
	return out;
}

/* ---- running calls (worker threads) ---- */

static json_t *run_code(struct call *c)
{
	struct cact_mcp_server *srv = c->s->srv;
	json_t *code = json_object_get(c->args, "code"), *out;
	struct cc_hooks hooks = {
		.approve = approve_call,
		.approve_user = c,
		.observe = observe,
		.observe_user = c,
		.cancel_fd = c->cancel_fd,
	};
	struct cact_error err = {0};
	struct cact_result *res = NULL;
	const char *version;
	char why[512];
	int level;

	if (!json_is_string(code) || json_object_size(c->args) != 1)
		return tool_error(
			"execute_code takes one argument, {\"code\": \"...\"}: the Python "
			"code as a string");
	if (cact_codeact_approval(srv->cc) == CACT_APPROVAL_ALWAYS_REQUIRE) {
		struct ut_buf b;
		int ok;

		ut_buf_init(&b, 64u << 10);
		ut_buf_addf(&b, "Run this Python code in the cact sandbox? Its configuration "
				"requires approval.\n\n");
		shown(&b, json_string_value(code), json_string_length(code), SHOWN_CODE_MAX);
		ok = b.p && ask(c, b.p, why, sizeof(why));
		if (!b.p)
			ut_snprintf(why, sizeof(why), "out of memory");
		ut_buf_reset(&b);
		if (!ok) {
			pthread_mutex_lock(&c->s->lock);
			call_log(c, LOG_NOTICE, jfmt("execute_code not run: %s", why));
			pthread_mutex_unlock(&c->s->lock);
			return tool_error(
				"the code was not run: execute_code needs approval here, and "
				"%s",
				why);
		}
	}
	pthread_mutex_lock(&c->s->lock);
	version = c->s->version;
	call_log(c, LOG_INFO,
		 jfmt("execute_code started (%zu bytes of code)", json_string_length(code)));
	pthread_mutex_unlock(&c->s->lock);
	if (cc_execute(srv->cc, json_string_value(code), json_string_length(code), &hooks, &res,
		       &err)) {
		pthread_mutex_lock(&c->s->lock);
		call_log(c, LOG_ERROR, jfmt("execute_code could not run: %s", err.message));
		pthread_mutex_unlock(&c->s->lock);
		return tool_error("the code could not be run: %s", err.message);
	}
	out = code_result(res, version);
	switch (cact_result_status(res)) {
	case CACT_STATUS_OK:
		level = LOG_INFO;
		break;
	case CACT_STATUS_PYTHON_ERROR:
		level = LOG_WARNING;
		break;
	case CACT_STATUS_CANCELLED:
		level = LOG_NOTICE;
		break;
	default:
		level = LOG_ERROR;
		break;
	}
	pthread_mutex_lock(&c->s->lock);
	{
		struct cact_stats st;

		cact_result_stats(res, &st);
		call_log(c, level,
			 jfmt("execute_code ended: %s in %.3f s, %llu tool call(s)",
			      cact_status_name(cact_result_status(res)), (double)st.wall_us / 1e6,
			      (unsigned long long)st.tool_calls));
	}
	pthread_mutex_unlock(&c->s->lock);
	cact_result_free(res);
	return out;
}

static uint64_t result_cap(struct cact_codeact *cc)
{
	uint64_t cap;

	pthread_mutex_lock(&cc->lock);
	cap = cc->cfg->limits[CACT_LIMIT_TOOL_RESULT_BYTES];
	pthread_mutex_unlock(&cc->lock);
	return cap;
}

/* An exposed sandbox tool called by the client itself. */
static json_t *run_direct(struct call *c)
{
	const char *name = cact_tool_name(c->tool);
	struct cact_error err = {0};
	char *args = NULL, *value = NULL, *detail = NULL, why[512];
	json_t *out = NULL, *v, *sc;
	const char *version;

	args = json_dumps(c->args, JSON_COMPACT);
	if (!args)
		return NULL;
	if (cact_tool_validate(c->tool, args, &err)) {
		out = tool_error("invalid arguments for %s: %s", name, err.message);
		goto done;
	}
	if (cact_tool_approval(c->tool) == CACT_APPROVAL_ALWAYS_REQUIRE) {
		struct ut_buf b;
		int ok;

		ut_buf_init(&b, 64u << 10);
		ut_buf_addf(&b,
			    "Call the tool '%s', which needs your approval, with these "
			    "arguments?\n\n",
			    name);
		shown(&b, args, strlen(args), SHOWN_ARGS_MAX);
		ok = b.p && ask(c, b.p, why, sizeof(why));
		if (!b.p)
			ut_snprintf(why, sizeof(why), "out of memory");
		ut_buf_reset(&b);
		if (!ok) {
			out = tool_error("%s was not called: it needs approval, and %s", name, why);
			goto done;
		}
	}
	pthread_mutex_lock(&c->s->lock);
	version = c->s->version;
	call_log(c, LOG_INFO, jfmt("%s called", name));
	pthread_mutex_unlock(&c->s->lock);
	if (tool_invoke(c->tool, args, result_cap(c->s->srv->cc), c->cancel_fd, &value, &detail,
			&err)) {
		out = tool_error("%s failed: %s", name, detail ? detail : err.message);
		goto done;
	}
	v = json_loads(value, JSON_DECODE_ANY, NULL);
	if (!v) {
		out = tool_error("%s returned something that is not JSON", name);
		goto done;
	}
	sc = json_is_object(v) ? json_incref(v) : json_pack("{s:O}", "result", v);
	out = json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text", value,
			"isError", 0);
	if (out && modern(version) && sc)
		json_object_set(out, "structuredContent", sc);
	json_decref(sc);
	json_decref(v);
done:
	free(args);
	free(value);
	free(detail);
	return out;
}

/* Progress while the code runs: "running N s" every second. */
static void *ticker(void *arg)
{
	struct call *c = arg;
	struct mcp_session *s = c->s;
	uint64_t next = c->started_us + PROGRESS_EVERY_US;
	struct timespec until;
	char msg[64];

	pthread_mutex_lock(&s->lock);
	while (!c->done && !c->cancelled) {
		uint64_t now = ut_now_us();

		if (now >= next) {
			ut_snprintf(msg, sizeof(msg), "running %.1f s",
				    (double)(now - c->started_us) / 1e6);
			progress(c, msg, 1);
			next += PROGRESS_EVERY_US * ((now - next) / PROGRESS_EVERY_US + 1);
			continue;
		}
		until = deadline_in(next - now);
		pthread_cond_timedwait(&c->tick, &s->lock, &until);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static void unlink_call(struct mcp_session *s, struct call *c)
{
	struct call **p;

	for (p = &s->calls; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			s->n_calls--;
			return;
		}
}

static void call_free(struct call *c)
{
	if (!c)
		return;
	json_decref(c->id);
	json_decref(c->token);
	json_decref(c->args);
	cact_tool_unref(c->tool);
	ut_close(&c->cancel_fd);
	pthread_cond_destroy(&c->tick);
	free(c);
}

static void *worker(void *arg)
{
	struct call *c = arg;
	struct mcp_session *s = c->s;
	json_t *result, *msg;
	int ticking = 0;
	pthread_t tick;

	if (c->token)
		ticking = pthread_create(&tick, NULL, ticker, c) == 0;
	result = c->tool ? run_direct(c) : run_code(c);
	pthread_mutex_lock(&s->lock);
	c->done = 1;
	pthread_cond_signal(&c->tick);
	pthread_mutex_unlock(&s->lock);
	if (ticking)
		pthread_join(tick, NULL);
	msg = result ? jrpc_result(c->id, result) : NULL;
	json_decref(result);
	if (!msg)
		msg = jrpc_error(c->id, JRPC_INTERNAL_ERROR, "out of memory", NULL);
	pthread_mutex_lock(&s->lock);
	/* A cancelled request gets no response; its stream still ends. */
	if (c->cancelled) {
		json_decref(msg);
		msg = NULL;
	}
	call_emit(c, msg, MCP_SEND_FINAL);
	unlink_call(s, c);
	pthread_mutex_unlock(&s->lock);
	call_free(c);
	pthread_mutex_lock(&s->lock);
	s->n_workers--;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* ---- requests ---- */

static json_t *exec_annotations(struct cact_codeact *cc)
{
	char *state = cact_codeact_state(cc);
	json_t *st = state ? json_loads(state, 0, NULL) : NULL, *a;
	int network = json_is_true(json_object_get(st, "network_enabled"));
	int tools = json_array_size(json_object_get(st, "tool_names")) > 0;

	free(state);
	json_decref(st);
	/* Without tools or network the code touches nothing outside its sandbox. */
	a = json_pack("{s:s, s:b, s:b, s:b, s:b}", "title", "Run Python in the cact sandbox",
		      "readOnlyHint", !network && !tools, "destructiveHint", network || tools,
		      "idempotentHint", 0, "openWorldHint", network || tools);
	return a;
}

static const char output_schema[] =
	"{\"type\":\"object\",\"properties\":{"
	"\"status\":{\"type\":\"string\",\"enum\":[\"ok\",\"python_error\",\"timeout\","
	"\"memory_limit\",\"output_limit\",\"sandbox_violation\",\"crashed\",\"setup_error\","
	"\"cancelled\"]},"
	"\"exit_code\":{\"type\":\"integer\"},"
	"\"stats\":{\"type\":\"object\",\"properties\":{\"wall_ms\":{\"type\":\"number\"},"
	"\"cpu_ms\":{\"type\":\"number\"},\"tool_calls\":{\"type\":\"integer\"},"
	"\"http_requests\":{\"type\":\"integer\"}},"
	"\"required\":[\"wall_ms\",\"cpu_ms\",\"tool_calls\",\"http_requests\"]},"
	"\"files\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
	"\"path\":{\"type\":\"string\"},\"media_type\":{\"type\":\"string\"},"
	"\"size\":{\"type\":\"integer\"}},\"required\":[\"path\",\"media_type\",\"size\"]}}},"
	"\"required\":[\"status\",\"exit_code\",\"stats\",\"files\"]}";

static json_t *exec_entry(struct cact_codeact *cc, const char *version)
{
	char *desc = cact_codeact_description(cc);
	json_t *t = desc ? json_pack("{s:s, s:s, s:o, s:o}", "name", "execute_code", "description",
				     desc, "inputSchema",
				     json_loads(cact_codeact_input_schema(), 0, NULL),
				     "annotations", exec_annotations(cc))
			 : NULL;

	free(desc);
	if (t && modern(version) &&
	    (json_object_set_new(t, "title", json_string("Execute Python code")) ||
	     json_object_set_new(t, "outputSchema", json_loads(output_schema, 0, NULL)))) {
		json_decref(t);
		t = NULL;
	}
	return t;
}

static json_t *tool_entry(const struct cact_tool *tool)
{
	const char *desc = cact_tool_description(tool);

	return json_pack("{s:s, s:s, s:o}", "name", cact_tool_name(tool), "description",
			 desc && *desc ? desc : cact_tool_name(tool), "inputSchema",
			 json_loads(cact_tool_parameters(tool), 0, NULL));
}

static void on_list(struct mcp_session *s, json_t *id, void *stream)
{
	struct cact_mcp_server *srv = s->srv;
	struct cact_tool **tools = NULL;
	json_t *list = json_array();
	const char *version;
	size_t n = 0, i;
	int bad;

	pthread_mutex_lock(&s->lock);
	version = s->version;
	pthread_mutex_unlock(&s->lock);
	bad = !list || json_array_append_new(list, exec_entry(srv->cc, version));
	if (!bad && srv->expose_tools && cact_codeact_tools(srv->cc, &tools, &n) == 0)
		for (i = 0; !bad && i < n; i++)
			bad = json_array_append_new(list, tool_entry(tools[i]));
	cact_tools_free(tools, n);
	if (bad) {
		json_decref(list);
		reply_error(s, stream, id, JRPC_INTERNAL_ERROR, "out of memory");
		return;
	}
	reply(s, stream, id, json_pack("{s:o}", "tools", list));
}

static void on_set_level(struct mcp_session *s, json_t *id, json_t *params, void *stream)
{
	const char *level = json_string_value(json_object_get(params, "level"));
	size_t i;

	for (i = 0; level && i < UT_ARRAY_SIZE(levels); i++)
		if (strcmp(level, levels[i]) == 0)
			break;
	if (!level || i == UT_ARRAY_SIZE(levels)) {
		reply_error(s, stream, id, JRPC_INVALID_PARAMS,
			    "logging/setLevel: level must be one of debug, info, notice, warning, "
			    "error, critical, alert, emergency");
		return;
	}
	pthread_mutex_lock(&s->lock);
	s->log_level = (int)i;
	pthread_mutex_unlock(&s->lock);
	reply(s, stream, id, json_object());
}

static void on_initialize(struct mcp_session *s, json_t *id, json_t *p, void *stream)
{
	struct cact_mcp_server *srv = s->srv;
	json_t *ver = json_object_get(p, "protocolVersion"),
	       *caps = json_object_get(p, "capabilities");
	json_t *info = json_object_get(p, "clientInfo"), *result;
	const char *v;
	char *instr;

	if (!json_is_object(p) || !json_is_string(ver) || !json_string_length(ver)) {
		reply_error(s, stream, id, JRPC_INVALID_PARAMS,
			    "initialize: params.protocolVersion must be a string");
		return;
	}
	if (!json_is_object(caps)) {
		reply_error(s, stream, id, JRPC_INVALID_PARAMS,
			    "initialize: params.capabilities must be an object");
		return;
	}
	if (!json_is_object(info) || !json_is_string(json_object_get(info, "name"))) {
		reply_error(s, stream, id, JRPC_INVALID_PARAMS,
			    "initialize: params.clientInfo must be an object with a name");
		return;
	}
	v = negotiate(json_string_value(ver));
	instr = cact_codeact_instructions(srv->cc, srv->expose_tools);
	result = instr ? json_pack("{s:s, s:{s:{s:b}, s:{}}, s:{s:s, s:s}, s:s}", "protocolVersion",
				   v, "capabilities", "tools", "listChanged", 1, "logging",
				   "serverInfo", "name", srv->name, "version", cact_version(),
				   "instructions", instr)
		       : NULL;
	free(instr);
	pthread_mutex_lock(&s->lock);
	if (s->version) {
		pthread_mutex_unlock(&s->lock);
		json_decref(result);
		reply_error(s, stream, id, JRPC_INVALID_REQUEST,
			    "the session is already initialized");
		return;
	}
	if (result) {
		s->version = v;
		s->caps = json_deep_copy(caps);
	}
	pthread_mutex_unlock(&s->lock);
	reply(s, stream, id, result);
}

static void on_call(struct mcp_session *s, json_t *id, json_t *p, void *stream)
{
	struct cact_mcp_server *srv = s->srv;
	const char *name = json_string_value(json_object_get(p, "name"));
	json_t *args = json_object_get(p, "arguments"), *meta = json_object_get(p, "_meta");
	json_t *token = json_object_get(meta, "progressToken");
	struct cact_tool *tool = NULL, **tools = NULL;
	pthread_attr_t attr;
	pthread_t th;
	struct call *c;
	size_t n = 0, i;
	int rc;

	if (!name) {
		reply_error(s, stream, id, JRPC_INVALID_PARAMS,
			    "tools/call: name must be a string");
		return;
	}
	if ((args && !json_is_object(args) && !json_is_null(args)) ||
	    (meta && !json_is_object(meta)) ||
	    (token && !json_is_string(token) && !json_is_integer(token))) {
		reply_error(s, stream, id, JRPC_INVALID_PARAMS,
			    "tools/call: arguments and _meta must be objects, a progressToken a "
			    "string or an integer");
		return;
	}
	if (strcmp(name, "execute_code") != 0) {
		if (srv->expose_tools && cact_codeact_tools(srv->cc, &tools, &n) == 0)
			for (i = 0; i < n && !tool; i++)
				if (strcmp(cact_tool_name(tools[i]), name) == 0)
					tool = cact_tool_ref(tools[i]);
		cact_tools_free(tools, n);
		if (!tool) {
			reply_error(s, stream, id, JRPC_INVALID_PARAMS, "unknown tool: %s", name);
			return;
		}
	}
	c = calloc(1, sizeof(*c));
	if (!c || cond_init(&c->tick)) {
		free(c);
		cact_tool_unref(tool);
		reply_error(s, stream, id, JRPC_INTERNAL_ERROR, "out of memory");
		return;
	}
	c->s = s;
	c->tool = tool;
	c->stream = stream;
	c->started_us = ut_now_us();
	c->id = json_deep_copy(id);
	c->token = token ? json_deep_copy(token) : NULL;
	c->args = json_is_object(args) ? json_deep_copy(args) : json_object();
	c->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!c->id || (token && !c->token) || !c->args || c->cancel_fd < 0) {
		call_free(c);
		reply_error(s, stream, id, JRPC_INTERNAL_ERROR, "cannot start the call");
		return;
	}
	pthread_mutex_lock(&s->lock);
	if (s->closing || find_call(s, id) || s->n_calls >= srv->max_calls) {
		int closing = s->closing, dup = !closing && find_call(s, id) != NULL;

		pthread_mutex_unlock(&s->lock);
		call_free(c);
		if (closing)
			reply_error(s, stream, id, JRPC_INVALID_REQUEST, "the session is closed");
		else if (dup)
			reply_error(s, stream, id, JRPC_INVALID_REQUEST,
				    "a request with this id is already in flight");
		else
			reply(s, stream, id,
			      tool_error("too many calls in flight: at most %u per session; wait "
					 "for one to finish",
					 srv->max_calls));
		return;
	}
	c->next = s->calls;
	s->calls = c;
	s->n_calls++;
	s->n_workers++;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&th, &attr, worker, c);
	pthread_attr_destroy(&attr);
	if (rc) {
		unlink_call(s, c);
		s->n_workers--;
		pthread_mutex_unlock(&s->lock);
		call_free(c);
		reply_error(s, stream, id, JRPC_INTERNAL_ERROR, "cannot start the call: %s",
			    ut_errno_name(rc));
		return;
	}
	pthread_mutex_unlock(&s->lock);
}

static void on_request(struct mcp_session *s, struct jrpc_msg *m, void *stream)
{
	const char *method = m->method;
	int ready, closing;

	pthread_mutex_lock(&s->lock);
	ready = s->version != NULL;
	closing = s->closing;
	pthread_mutex_unlock(&s->lock);
	if (closing) {
		reply_error(s, stream, m->id, JRPC_INVALID_REQUEST, "the session is closed");
		return;
	}
	if (strcmp(method, "ping") == 0) {
		reply(s, stream, m->id, json_object());
		return;
	}
	if (strcmp(method, "initialize") == 0) {
		on_initialize(s, m->id, m->params, stream);
		return;
	}
	if (!ready) {
		reply_error(s, stream, m->id, JRPC_NOT_INITIALIZED,
			    "the session is not initialized: send initialize first");
		return;
	}
	if (m->params && !json_is_object(m->params) &&
	    (strcmp(method, "tools/list") == 0 || strcmp(method, "tools/call") == 0 ||
	     strcmp(method, "logging/setLevel") == 0)) {
		reply_error(s, stream, m->id, JRPC_INVALID_PARAMS, "%s: params must be an object",
			    method);
		return;
	}
	if (strcmp(method, "tools/list") == 0)
		on_list(s, m->id, stream);
	else if (strcmp(method, "tools/call") == 0)
		on_call(s, m->id, m->params, stream);
	else if (strcmp(method, "logging/setLevel") == 0)
		on_set_level(s, m->id, m->params, stream);
	else
		reply_error(s, stream, m->id, JRPC_METHOD_NOT_FOUND, "method not found: %.200s",
			    method);
}

static void on_notification(struct mcp_session *s, struct jrpc_msg *m)
{
	json_t *id = json_object_get(m->params, "requestId");
	struct call *c;

	if (strcmp(m->method, "notifications/cancelled") != 0 || !id)
		return; /* initialized, roots/list_changed, progress: nothing to do */
	pthread_mutex_lock(&s->lock);
	c = find_call(s, id);
	if (c)
		cancel_call(c);
	pthread_mutex_unlock(&s->lock);
}

/* A response to one of our requests: to the call waiting for it. Others are ignored. */
static void on_answer(struct mcp_session *s, struct jrpc_msg *m)
{
	struct waiter *w;

	if (!json_is_integer(m->id))
		return;
	pthread_mutex_lock(&s->lock);
	for (w = s->waiters; w; w = w->next) {
		if (w->id != json_integer_value(m->id) || w->answered)
			continue;
		w->answered = 1;
		if (m->kind == JRPC_RESULT)
			w->result = json_deep_copy(m->result);
		if (!w->result)
			ut_snprintf(
				w->error, sizeof(w->error), "%s",
				m->error ? json_string_value(json_object_get(m->error, "message"))
					 : "out of memory");
		pthread_cond_broadcast(&s->cond);
		break;
	}
	pthread_mutex_unlock(&s->lock);
}

/* ---- sessions ---- */

void mcp_session_handle(struct mcp_session *s, struct jrpc_msg *m, void *stream)
{
	switch (m->kind) {
	case JRPC_REQUEST:
		on_request(s, m, stream);
		break;
	case JRPC_NOTIFICATION:
		on_notification(s, m);
		break;
	case JRPC_RESULT:
	case JRPC_ERROR:
		on_answer(s, m);
		break;
	}
	jrpc_clear(m);
}

void mcp_session_feed(struct mcp_session *s, const char *text, size_t len, void *stream)
{
	struct cact_error err = {0};
	json_t *bad_id = NULL;
	struct jrpc_msg m;
	int rc = jrpc_parse(text, len, s->srv->max_message, &m, &bad_id, &err);

	if (rc) {
		pthread_mutex_lock(&s->lock);
		emit(s, stream, jrpc_error(bad_id, rc, err.message, NULL), MCP_SEND_FINAL);
		pthread_mutex_unlock(&s->lock);
		json_decref(bad_id);
		return;
	}
	mcp_session_handle(s, &m, stream);
}

int mcp_session_new(struct cact_mcp_server *srv, mcp_send_fn send, void *user,
		    struct mcp_session **out, struct cact_error *err)
{
	struct mcp_session *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	if (cond_init(&s->cond)) {
		free(s);
		return ut_err(err, CACT_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&s->lock, NULL);
	s->srv = srv;
	s->send = send;
	s->user = user;
	s->log_level = LOG_NOTICE;
	pthread_mutex_lock(&srv->lock);
	s->next = srv->sessions;
	srv->sessions = s;
	pthread_mutex_unlock(&srv->lock);
	*out = s;
	return 0;
}

void mcp_session_drop_stream(struct mcp_session *s, void *stream)
{
	struct call *c;

	pthread_mutex_lock(&s->lock);
	for (c = s->calls; c; c = c->next)
		if (!c->detached && c->stream == stream) {
			c->detached = 1;
			cancel_call(c);
		}
	pthread_mutex_unlock(&s->lock);
}

void mcp_session_shutdown(struct mcp_session *s)
{
	struct call *c;

	pthread_mutex_lock(&s->lock);
	s->closing = 1;
	for (c = s->calls; c; c = c->next) {
		if (!c->detached)
			s->send(s->user, c->stream, NULL, 0, MCP_SEND_FINAL);
		c->detached = 1;
		cancel_call(c);
	}
	pthread_cond_broadcast(&s->cond);
	while (s->n_workers)
		pthread_cond_wait(&s->cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
}

void mcp_session_free(struct mcp_session *s)
{
	struct mcp_session **p;

	if (!s)
		return;
	mcp_session_shutdown(s);
	pthread_mutex_lock(&s->srv->lock);
	for (p = &s->srv->sessions; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	pthread_mutex_unlock(&s->srv->lock);
	json_decref(s->caps);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

const char *mcp_session_version(struct mcp_session *s)
{
	const char *v;

	pthread_mutex_lock(&s->lock);
	v = s->version;
	pthread_mutex_unlock(&s->lock);
	return v;
}

unsigned mcp_session_calls(struct mcp_session *s)
{
	unsigned n;

	pthread_mutex_lock(&s->lock);
	n = s->n_calls;
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* ---- the server object ---- */

CACT_API void cact_mcp_server_options_init(struct cact_mcp_server_options *o)
{
	memset(o, 0, sizeof(*o));
	o->name = "cact";
	o->max_message_bytes = 4u << 20;
	o->max_calls = 16;
	o->approval_timeout_ms = 300000;
	o->max_connections = 512;
	o->max_conns_per_ip = 64;
	o->header_timeout_ms = 10000;
}

/* "http://host[:port]" or "https://...", a trailing slash dropped. Owned, or NULL when malformed. */
static char *origin_copy(const char *o)
{
	size_t n = strlen(o), i;
	const char *rest;

	if (strncmp(o, "http://", 7) == 0)
		rest = o + 7;
	else if (strncmp(o, "https://", 8) == 0)
		rest = o + 8;
	else
		return NULL;
	if (n > 0 && o[n - 1] == '/')
		n--;
	if (!*rest || (size_t)(rest - o) >= n)
		return NULL;
	for (i = (size_t)(rest - o); i < n; i++)
		if (o[i] == '/' || (unsigned char)o[i] <= ' ' || (unsigned char)o[i] >= 0x7f)
			return NULL;
	return strndup(o, n);
}

CACT_API int cact_mcp_server_new(struct cact_codeact *cc, const struct cact_mcp_server_options *o,
				 struct cact_mcp_server **out, struct cact_error *err)
{
	struct cact_mcp_server_options defaults;
	struct cact_mcp_server *s;
	const char *token;
	size_t i;

	*out = NULL;
	if (!o) {
		cact_mcp_server_options_init(&defaults);
		o = &defaults;
	}
	if (!cc)
		return ut_err(err, CACT_EINVAL, "mcp server: no CodeAct configuration");
	if (o->max_message_bytes &&
	    (o->max_message_bytes < 1024 || o->max_message_bytes > (1u << 30)))
		return ut_err(err, CACT_EINVAL,
			      "mcp server: max_message_bytes %llu is not from 1024 to 1073741824",
			      (unsigned long long)o->max_message_bytes);
	if (o->max_calls > 1024)
		return ut_err(err, CACT_EINVAL, "mcp server: max_calls %u is over 1024",
			      o->max_calls);
	if (o->max_connections > 512)
		return ut_err(err, CACT_EINVAL, "mcp server: max_connections %u is over 512",
			      o->max_connections);
	if (o->header_timeout_ms && (o->header_timeout_ms < 100 || o->header_timeout_ms > 3600000))
		return ut_err(err, CACT_EINVAL,
			      "mcp server: header_timeout_ms %llu is not from 100 to 3600000",
			      (unsigned long long)o->header_timeout_ms);
	s = calloc(1, sizeof(*s));
	if (!s)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	pthread_mutex_init(&s->lock, NULL);
	s->cc = cc;
	s->expose_tools = !!o->expose_tools;
	s->max_message = o->max_message_bytes ? (size_t)o->max_message_bytes : 4u << 20;
	s->max_calls = o->max_calls ? o->max_calls : 16;
	s->approval_timeout_ms = o->approval_timeout_ms ? o->approval_timeout_ms : 300000;
	s->max_connections = o->max_connections ? o->max_connections : 512;
	s->max_conns_per_ip = o->max_conns_per_ip ? o->max_conns_per_ip : 64;
	s->header_timeout_ms = o->header_timeout_ms ? o->header_timeout_ms : 10000;
	s->name = strdup(o->name && *o->name ? o->name : "cact");
	if (!s->name)
		goto oom;
	if (o->token_env) {
		token = getenv(o->token_env);
		if (!token || !*token) {
			cact_mcp_server_free(s);
			return ut_err(
				err, CACT_EINVAL,
				"mcp server: the environment variable %s holding the token is "
				"not set or empty",
				o->token_env);
		}
		s->token = strdup(token);
		if (!s->token)
			goto oom;
	}
	if (o->n_allowed_origins) {
		s->origins = calloc(o->n_allowed_origins, sizeof(*s->origins));
		if (!s->origins)
			goto oom;
	}
	for (i = 0; i < o->n_allowed_origins; i++) {
		s->origins[i] = origin_copy(o->allowed_origins[i] ? o->allowed_origins[i] : "");
		if (!s->origins[i]) {
			cact_mcp_server_free(s);
			return ut_err(err, CACT_EINVAL,
				      "mcp server: allowed origin '%.200s' is not "
				      "http(s)://host[:port]",
				      o->allowed_origins[i] ? o->allowed_origins[i] : "");
		}
		s->n_origins++;
	}
	*out = s;
	return 0;
oom:
	cact_mcp_server_free(s);
	return ut_err(err, CACT_ENOMEM, "out of memory");
}

CACT_API void cact_mcp_server_free(struct cact_mcp_server *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n_origins; i++)
		free(s->origins[i]);
	free(s->origins);
	free(s->name);
	if (s->token)
		memset(s->token, 0, strlen(s->token));
	free(s->token);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

CACT_API void cact_mcp_server_tools_changed(struct cact_mcp_server *srv)
{
	struct mcp_session *s;

	pthread_mutex_lock(&srv->lock);
	for (s = srv->sessions; s; s = s->next) {
		pthread_mutex_lock(&s->lock);
		if (s->version && !s->closing)
			emit(s, NULL, jrpc_notification("notifications/tools/list_changed", NULL),
			     0);
		pthread_mutex_unlock(&s->lock);
	}
	pthread_mutex_unlock(&srv->lock);
}

CACT_API int cact_mcp_server_reload(struct cact_mcp_server *s, const char *path,
				    struct cact_error *err)
{
	struct cact_codeact *fresh = NULL, *cc = s->cc;
	int rc;

	if ((rc = cact_codeact_new(NULL, &fresh, err)) ||
	    (rc = cact_codeact_load_config(fresh, path, err))) {
		cact_codeact_free(fresh);
		return rc;
	}
	/* The same swap cact_codeact_load_config makes, from an empty start. */
	cc_take_config(cc, fresh);
	cact_codeact_free(fresh);
	cact_mcp_server_tools_changed(s);
	return 0;
}

/* ---- stdio ---- */

struct out_msg {
	char *text;
	size_t len;
	struct out_msg *next;
};

/* Messages to the client, written in order by one thread so that reading never waits on it. */
struct stdio_out {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct out_msg *head, *tail;
	size_t bytes;
	int fd;
	int sock;   /* fd is a socket: send with MSG_NOSIGNAL */
	int stop;   /* drain what is queued, then end */
	int broken; /* a write failed: the client is gone */
};

static void stdio_send(void *user, void *stream, char *text, size_t len, unsigned flags)
{
	struct stdio_out *o = user;
	struct out_msg *m;

	(void)stream;
	(void)flags;
	if (!text)
		return;
	m = malloc(sizeof(*m));
	if (!m) {
		free(text);
		return;
	}
	m->text = text;
	m->len = len;
	m->next = NULL;
	pthread_mutex_lock(&o->lock);
	if (o->broken) {
		pthread_mutex_unlock(&o->lock);
		free(text);
		free(m);
		return;
	}
	if (o->tail)
		o->tail->next = m;
	else
		o->head = m;
	o->tail = m;
	o->bytes += len;
	pthread_cond_broadcast(&o->cond);
	pthread_mutex_unlock(&o->lock);
}

static int out_write(const struct stdio_out *o, const char *p, size_t n)
{
	while (n) {
		ssize_t w = o->sock ? send(o->fd, p, n, MSG_NOSIGNAL) : write(o->fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void *stdio_writer(void *arg)
{
	struct stdio_out *o = arg;
	struct out_msg *m;
	int ok;

	pthread_mutex_lock(&o->lock);
	for (;;) {
		while (!o->head && !o->stop)
			pthread_cond_wait(&o->cond, &o->lock);
		m = o->head;
		if (!m)
			break;
		o->head = m->next;
		if (!o->head)
			o->tail = NULL;
		pthread_mutex_unlock(&o->lock);
		/* The newline after the message: the text is the callee's to extend. */
		ok = !o->broken && out_write(o, m->text, m->len) == 0 && out_write(o, "\n", 1) == 0;
		pthread_mutex_lock(&o->lock);
		o->bytes -= m->len;
		if (!ok)
			o->broken = 1;
		pthread_cond_broadcast(&o->cond);
		free(m->text);
		free(m);
	}
	pthread_mutex_unlock(&o->lock);
	return NULL;
}

/* One line from the client (without its newline). */
static void stdio_line(struct mcp_session *sess, struct ut_buf *line, int oversize, size_t max)
{
	char msg[128];
	size_t n = line->len;

	if (oversize) {
		ut_snprintf(msg, sizeof(msg), "message larger than %zu bytes", max);
		mcp_session_refuse(sess, NULL, JRPC_INVALID_REQUEST, msg);
		return;
	}
	while (n > 0 && (line->p[n - 1] == '\r' || line->p[n - 1] == ' ' || line->p[n - 1] == '\t'))
		n--;
	if (n == 0)
		return; /* blank lines separate nothing */
	mcp_session_feed(sess, line->p, n, NULL);
}

static int stdio_loop(struct mcp_session *sess, struct stdio_out *o, int in_fd, size_t max,
		      struct cact_error *err)
{
	struct ut_buf line;
	char chunk[65536];
	int oversize = 0, rc = 0;

	ut_buf_init(&line, max);
	for (;;) {
		ssize_t n = read(in_fd, chunk, sizeof(chunk));
		size_t i = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = ut_err_sys(err, CACT_ESYS, errno, "cannot read the client's messages");
			break;
		}
		if (n == 0)
			break;
		while (i < (size_t)n) {
			const char *nl = memchr(chunk + i, '\n', (size_t)n - i);
			size_t len = nl ? (size_t)(nl - (chunk + i)) : (size_t)n - i;

			if (!oversize && ut_buf_add(&line, chunk + i, len)) {
				oversize = 1;
				ut_buf_reset(&line);
			}
			i += len;
			if (!nl)
				break;
			i++;
			if (line.p || oversize)
				stdio_line(sess, &line, oversize, max);
			ut_buf_reset(&line);
			oversize = 0;
		}
		/* A client that does not read its answers stops being read. */
		pthread_mutex_lock(&o->lock);
		while (o->bytes > STDIO_OUT_MAX && !o->broken)
			pthread_cond_wait(&o->cond, &o->lock);
		n = o->broken;
		pthread_mutex_unlock(&o->lock);
		if (n)
			break;
	}
	if (line.p || oversize)
		stdio_line(sess, &line, oversize, max);
	ut_buf_reset(&line);
	return rc;
}

CACT_API int cact_mcp_serve_stdio(struct cact_mcp_server *s, int in_fd, int out_fd,
				  struct cact_error *err)
{
	struct stdio_out o = {.fd = out_fd};
	struct mcp_session *sess = NULL;
	struct out_msg *m;
	struct stat st;
	pthread_t writer;
	int rc;

	if (!s || in_fd < 0 || out_fd < 0)
		return ut_err(err, CACT_EINVAL, "mcp stdio: bad arguments");
	o.sock = fstat(out_fd, &st) == 0 && S_ISSOCK(st.st_mode);
	pthread_mutex_init(&o.lock, NULL);
	pthread_cond_init(&o.cond, NULL);
	if ((rc = mcp_session_new(s, stdio_send, &o, &sess, err)))
		goto out;
	if ((rc = pthread_create(&writer, NULL, stdio_writer, &o))) {
		rc = ut_err_sys(err, CACT_ESYS, rc, "pthread_create");
		mcp_session_free(sess);
		goto out;
	}
	rc = stdio_loop(sess, &o, in_fd, s->max_message, err);
	/* End of input: the client is gone, and so are its executions. */
	mcp_session_free(sess);
	pthread_mutex_lock(&o.lock);
	o.stop = 1;
	pthread_cond_broadcast(&o.cond);
	pthread_mutex_unlock(&o.lock);
	pthread_join(writer, NULL);
out:
	while ((m = o.head)) {
		o.head = m->next;
		free(m->text);
		free(m);
	}
	pthread_cond_destroy(&o.cond);
	pthread_mutex_destroy(&o.lock);
	return rc;
}
