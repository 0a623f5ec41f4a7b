/* SPDX-License-Identifier: MIT */
/*
 * The server's tools: tools/list, and tools/call, each call on a worker
 * thread of its own so that the transport keeps reading (ping,
 * cancellation, answers to our questions) while code runs. execute_code
 * runs the code in a clean execution, or, with persistence on (cact mcp
 * --sessions), in the sandbox session of its MCP session; an exposed
 * sandbox tool is called directly. Around both: approval through
 * elicitation, progress and log messages, cancellation.
 *
 * Sandbox sessions (docs/mcp.md, "Sessions"): an MCP session's first
 * execute_code starts one (cact_codeact_session_new), later calls reuse
 * it, one call at a time; reset starts over. A run that ends it (timeout,
 * crash, a limit, a cancelled call) closes it at once, which gives its
 * place back to the runtime, and the next call is told why until a reset
 * starts a new one: state never silently disappears. Sessions ended while
 * unused (idle, lifetime) keep their place until their MCP session calls
 * again, ends, or another one finds the runtime full (reclaim_one).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cact/cact.h>

#include "../codeact/codeact.h"
#include "../tools/tools.h"
#include "../util/buf.h"
#include "../util/util.h"
#include "session.h"

#define PROGRESS_EVERY_US   1000000u /* "running N s" while code runs */
#define PROGRESS_MIN_GAP_US 100000u  /* between "call_tool x" progress messages */
#define SHOWN_CODE_MAX	    8192u    /* code shown in an approval question */
#define SHOWN_ARGS_MAX	    4096u    /* arguments shown in one */
#define LOGGED_OUTPUT_MAX   4096u    /* stdout and stderr in a log event (log_output) */

/* What a call that the drain cancelled says, after whatever its result said. */
#define ABORTED_TEXT                                                                           \
	"cancelled: cact is shutting down and the call did not finish within the drain grace " \
	"period; run it again (another replica, or this one once restarted, will take it)"
/* What a call refused while draining says. */
#define DRAINING_TEXT                                                                           \
	"the code was not run: cact is shutting down (draining) and takes no new calls; retry " \
	"in a moment (another replica, or this one once restarted, will take it)"

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
	int done; /* the work is over: the ticker stops, an open question ends */
	/*
	 * Approval callbacks of the code's tool calls in progress. The runtime
	 * may leave one running after the execution ends (rt_calls_finish);
	 * the worker waits for them before the call goes.
	 */
	unsigned asking;
	pthread_cond_t tick;
	int aborted;	    /* cancelled by the drain: answered all the same */
	char exec_id[24];   /* the call in the log */
	const char *status; /* static: how the code ended, for the log; NULL: not run */
	struct cact_stats st;
	int have_st;
	char *out_text, *err_text; /* the code's output for the log (log_output) */
	size_t out_len, err_len;
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

/* ---- sending (session lock held) ---- */

static void call_emit(struct call *c, json_t *msg, unsigned flags)
{
	if (c->detached) {
		json_decref(msg);
		return;
	}
	mcp_emit(c->s, c->stream, msg, flags);
}

/* notifications/message about a call, at level or above the client's. data consumed. */
static void call_log(struct call *c, int level, json_t *data)
{
	if (!data || c->detached || level < c->s->log_level) {
		json_decref(data);
		return;
	}
	mcp_emit(c->s, c->stream,
		 mcp_notif("notifications/message",
			   json_pack("{s:s, s:s, s:o}", "level", mcp_level_name(level), "logger",
				     "cact", "data", data)),
		 0);
}

/* call_log taking the lock. */
static void call_log_locking(struct call *c, int level, json_t *data)
{
	pthread_mutex_lock(&c->s->lock);
	call_log(c, level, data);
	pthread_mutex_unlock(&c->s->lock);
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
		  mcp_notif("notifications/progress",
			    json_pack("{s:O, s:I, s:o}", "progressToken", c->token, "progress",
				      c->progress, "message", mcp_jstr(message, strlen(message)))),
		  0);
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
			 mcp_jstr(msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1),
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

	return mcp_modern(s->version) && json_is_object(e) &&
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
	if (c->done) {
		ut_snprintf(why, size, "the execution had ended");
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
			   mcp_jstr(message, strlen(message)), "requestedSchema", "type", "object",
			   "properties", "approve", "type", "boolean", "title", "Approve",
			   "description", "Allow it to run", "default", 0, "required", "approve");
	if (params && strcmp(s->version, "2025-11-25") >= 0)
		json_object_set_new(params, "mode", json_string("form"));
	id = json_integer(w.id);
	call_emit(c, params && id ? jrpc_request(id, "elicitation/create", params) : NULL, 0);
	json_decref(params);
	until = mcp_deadline_in(s->srv->approval_timeout_ms * 1000u);
	while (!w.answered && !c->cancelled && !c->done && !s->closing && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&s->cond, &s->lock, &until);
	unlink_waiter(s, &w);
	if (w.answered) {
		ok = approved(&w, why, size);
	} else if (c->cancelled || s->closing) {
		ut_snprintf(why, size, "the call was cancelled");
	} else {
		if (c->done)
			ut_snprintf(why, size, "the execution ended before the user answered");
		else
			ut_snprintf(why, size, "the user did not answer within %llu s",
				    (unsigned long long)(s->srv->approval_timeout_ms / 1000u));
		/* Our request is void now: the client may take its question down. */
		call_emit(
			c,
			mcp_notif("notifications/cancelled",
				  json_pack("{s:O, s:s}", "requestId", id, "reason",
					    c->done ? "the execution ended" : "no answer in time")),
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

	pthread_mutex_lock(&c->s->lock);
	c->asking++;
	pthread_mutex_unlock(&c->s->lock);
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
	pthread_mutex_lock(&c->s->lock);
	if (!ok)
		call_log(c, MCP_LOG_NOTICE, mcp_jfmt("call_tool %s denied: %s", tool, why));
	/* The last use of c: the worker may free it once this is 0. */
	c->asking--;
	pthread_cond_broadcast(&c->s->cond);
	pthread_mutex_unlock(&c->s->lock);
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
		call_log(c, MCP_LOG_DEBUG, mcp_jfmt("call_tool %s %.300s", tool, text ? text : ""));
	} else {
		call_log(c, MCP_LOG_DEBUG,
			 mcp_jfmt("call_tool %s %s in %.1f ms: %.300s", tool,
				  ok ? "returned" : "failed", (double)elapsed_us / 1e3,
				  text ? text : ""));
	}
	pthread_mutex_unlock(&c->s->lock);
}

/*
 * The code's output while it runs (the worker's thread, from inside the
 * execution): one progress message per chunk, the stream in _meta. The
 * runtime already groups what arrives (one chunk per stream every 20 ms at
 * most) and keeps to the stream caps, and the chunks end on whole UTF-8
 * characters. Not counted against the gap between call_tool messages.
 */
static void on_output(void *user, enum cact_stream stream, const char *data, size_t len)
{
	struct call *c = user;
	json_t *text = mcp_jstr(data, len);

	pthread_mutex_lock(&c->s->lock);
	if (text && c->token && !c->detached && !c->cancelled) {
		c->progress++;
		call_emit(c,
			  mcp_notif("notifications/progress",
				    json_pack("{s:O, s:I, s:O, s:{s:s}}", "progressToken", c->token,
					      "progress", c->progress, "message", text, "_meta",
					      "cact/stream", cact_stream_name(stream))),
			  0);
	}
	pthread_mutex_unlock(&c->s->lock);
	json_decref(text);
}

/* ---- sandbox sessions ---- */

/* Waits for the MCP session's sandbox session to be free and takes it. -1: cancelled first. */
static int box_take(struct call *c)
{
	struct mcp_session *s = c->s;
	int ok;

	pthread_mutex_lock(&s->lock);
	while (s->box_busy && !c->cancelled && !s->closing)
		pthread_cond_wait(&s->cond, &s->lock);
	ok = !s->box_busy && !c->cancelled && !s->closing;
	if (ok)
		s->box_busy = 1;
	pthread_mutex_unlock(&s->lock);
	return ok ? 0 : -1;
}

static void box_give(struct call *c)
{
	struct mcp_session *s = c->s;

	pthread_mutex_lock(&s->lock);
	s->box_busy = 0;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* The taker lets go of the sandbox session, which ended for why; it is closed. */
static void box_ended(struct call *c, const char *why)
{
	struct mcp_session *s = c->s;
	struct cact_sandbox_session *box;

	pthread_mutex_lock(&s->lock);
	box = s->box;
	s->box = NULL;
	ut_snprintf(s->box_gone, sizeof(s->box_gone), "%s", why);
	call_log(c, MCP_LOG_WARNING, mcp_jfmt("sandbox session ended: %s", why));
	pthread_mutex_unlock(&s->lock);
	cact_sandbox_session_close(box);
}

/*
 * The runtime is full: closes one sandbox session that has ended (idle,
 * lifetime) while its MCP session was not using it, so that its place is
 * free; that MCP session's next call is told why it ended. 1 when one
 * was closed.
 */
static int reclaim_one(struct cact_mcp_server *srv)
{
	struct cact_sandbox_session *box = NULL;
	struct mcp_session *s;
	const char *why;

	pthread_mutex_lock(&srv->lock);
	for (s = srv->sessions; s && !box; s = s->next) {
		pthread_mutex_lock(&s->lock);
		if (s->box && !s->box_busy && (why = cact_sandbox_session_ended(s->box))) {
			ut_snprintf(s->box_gone, sizeof(s->box_gone), "%s", why);
			box = s->box;
			s->box = NULL;
		}
		pthread_mutex_unlock(&s->lock);
	}
	pthread_mutex_unlock(&srv->lock);
	cact_sandbox_session_close(box);
	return box != NULL;
}

/* A new sandbox session for the call's MCP session (the taker's). NULL with *fail set. */
static struct cact_sandbox_session *box_open(struct call *c, json_t **fail)
{
	struct cact_mcp_server *srv = c->s->srv;
	struct cact_sandbox_session *box = NULL;
	struct cact_error err = {0};
	int rc;

	while ((rc = cact_codeact_session_new(srv->cc, NULL, &box, &err)) == CACT_ESANDBOX &&
	       strstr(err.message, "too many sessions") && reclaim_one(srv))
		;
	if (rc == CACT_ESANDBOX && strstr(err.message, "too many sessions")) {
		call_log_locking(c, MCP_LOG_WARNING,
				 mcp_jfmt("no sandbox session: %s", err.message));
		*fail = tool_error("the code was not run: this server already holds as many "
				   "sandbox sessions as it may (cact mcp --max-sessions), each "
				   "kept for a client until it disconnects; try again later");
		return NULL;
	}
	if (rc) {
		call_log_locking(c, MCP_LOG_ERROR, mcp_jfmt("no sandbox session: %s", err.message));
		*fail = tool_error("the code was not run: cannot start a sandbox session: %s",
				   err.message);
		return NULL;
	}
	pthread_mutex_lock(&c->s->lock);
	c->s->box = box;
	c->s->box_gone[0] = '\0';
	call_log(c, MCP_LOG_INFO, mcp_jfmt("sandbox session started"));
	pthread_mutex_unlock(&c->s->lock);
	return box;
}

/*
 * Runs code in the MCP session's sandbox session: started now when there
 * is none, reset first when asked. 0 with *res (owned), and ended set to
 * why when the run ended the session ("" otherwise); or -1 with *fail,
 * the tool result to answer.
 */
static int session_exec(struct call *c, const char *code, size_t len, int reset,
			const struct cc_hooks *hooks, struct cact_result **res, char *ended,
			size_t size, json_t **fail)
{
	struct mcp_session *s = c->s;
	struct cact_sandbox_session *box;
	struct cact_error err = {0};
	const char *why;
	int rc;

	*res = NULL;
	*fail = NULL;
	ended[0] = '\0';
	if (box_take(c)) {
		*fail = tool_error("the call was cancelled");
		return -1;
	}
	/* Taken: box and box_gone are ours to read and change. */
	box = s->box;
	if (!box && s->box_gone[0] && !reset) {
		*fail = tool_error(MCP_SESSION_ENDED_FMT, s->box_gone);
		goto out;
	}
	if (box && reset) {
		if (cact_sandbox_session_reset(box, &err)) {
			box_ended(c, err.message);
			*fail = tool_error("the code was not run: the reset failed: %s",
					   err.message);
			goto out;
		}
		call_log_locking(c, MCP_LOG_INFO, mcp_jfmt("sandbox session reset"));
	}
	if (!box && !(box = box_open(c, fail)))
		goto out;
	rc = cc_session_run(s->srv->cc, box, code, len, hooks, res, &err);
	why = cact_sandbox_session_ended(box);
	if (why) {
		ut_snprintf(ended, size, "%s", why);
		box_ended(c, ended);
	}
	if (rc && ended[0])
		*fail = tool_error(MCP_SESSION_ENDED_FMT, ended);
	else if (rc)
		*fail = tool_error("the code could not be run: %s", err.message);
out:
	box_give(c);
	if (*fail) {
		cact_result_free(*res);
		*res = NULL;
		return -1;
	}
	return 0;
}

/* ---- running calls (worker threads) ---- */

/* The result's status and stats for the metrics and the log; its output when logged. */
static void note_result(struct call *c, const struct cact_result *res)
{
	struct cact_mcp_server *srv = c->s->srv;
	const char *text;
	size_t len;

	c->status = cact_status_name(cact_result_status(res));
	cact_result_stats(res, &c->st);
	c->have_st = 1;
	mcp_note_exec(srv, cact_result_status(res), &c->st);
	if (!srv->log_output)
		return;
	text = cact_result_stdout(res, &len, NULL);
	if (text && len &&
	    (c->out_text = malloc(len < LOGGED_OUTPUT_MAX ? len : LOGGED_OUTPUT_MAX))) {
		c->out_len = len < LOGGED_OUTPUT_MAX ? len : LOGGED_OUTPUT_MAX;
		memcpy(c->out_text, text, c->out_len);
	}
	text = cact_result_stderr(res, &len, NULL);
	if (text && len &&
	    (c->err_text = malloc(len < LOGGED_OUTPUT_MAX ? len : LOGGED_OUTPUT_MAX))) {
		c->err_len = len < LOGGED_OUTPUT_MAX ? len : LOGGED_OUTPUT_MAX;
		memcpy(c->err_text, text, c->err_len);
	}
}

static json_t *run_code(struct call *c)
{
	struct cact_mcp_server *srv = c->s->srv;
	json_t *code = json_object_get(c->args, "code"), *reset = json_object_get(c->args, "reset");
	struct cc_hooks hooks = {
		.approve = approve_call,
		.approve_user = c,
		.observe = observe,
		.observe_user = c,
		.cancel_fd = c->cancel_fd,
		/* Only a client that asked for progress hears of the output. */
		.output = c->token ? on_output : NULL,
		.output_user = c,
	};
	int persistent = cact_codeact_persistent(srv->cc), level;
	struct cact_error err = {0};
	struct cact_result *res = NULL;
	json_t *out, *fail = NULL;
	struct cact_stats st;
	const char *version;
	char why[512], ended[200] = "";

	if (reset && !persistent)
		return tool_error("execute_code: reset applies to sessions, which this server does "
				  "not keep: every call already starts with a fresh interpreter "
				  "(cact mcp --sessions keeps state between calls)");
	if (reset && !json_is_boolean(reset))
		return tool_error("execute_code: reset must be true or false");
	if (!json_is_string(code) || json_object_size(c->args) != 1u + (reset != NULL))
		return tool_error(persistent
					  ? "execute_code takes {\"code\": \"...\"}, the Python "
					    "code as a string, and optionally \"reset\": true"
					  : "execute_code takes one argument, {\"code\": \"...\"}: "
					    "the Python code as a string");
	if (cact_codeact_approval(srv->cc) == CACT_APPROVAL_ALWAYS_REQUIRE) {
		struct ut_buf b;
		int ok;

		ut_buf_init(&b, 64u << 10);
		ut_buf_addf(&b,
			    "Run this Python code in the cact sandbox%s? Its configuration "
			    "requires approval.\n\n",
			    json_is_true(reset) ? ", in a fresh interpreter" : "");
		shown(&b, json_string_value(code), json_string_length(code), SHOWN_CODE_MAX);
		ok = b.p && ask(c, b.p, why, sizeof(why));
		if (!b.p)
			ut_snprintf(why, sizeof(why), "out of memory");
		ut_buf_reset(&b);
		if (!ok) {
			call_log_locking(c, MCP_LOG_NOTICE,
					 mcp_jfmt("execute_code not run: %s", why));
			return tool_error(
				"the code was not run: execute_code needs approval here, and "
				"%s",
				why);
		}
	}
	pthread_mutex_lock(&c->s->lock);
	version = c->s->version;
	call_log(c, MCP_LOG_INFO,
		 mcp_jfmt("execute_code started (%zu bytes of code)", json_string_length(code)));
	pthread_mutex_unlock(&c->s->lock);
	if (persistent) {
		if (session_exec(c, json_string_value(code), json_string_length(code),
				 json_is_true(reset), &hooks, &res, ended, sizeof(ended), &fail))
			return fail;
	} else if (cc_execute(srv->cc, json_string_value(code), json_string_length(code), &hooks,
			      &res, &err)) {
		call_log_locking(c, MCP_LOG_ERROR,
				 mcp_jfmt("execute_code could not run: %s", err.message));
		return tool_error("the code could not be run: %s", err.message);
	}
	out = mcp_code_result(res, version, ended[0] ? ended : NULL);
	note_result(c, res);
	switch (cact_result_status(res)) {
	case CACT_STATUS_OK:
		level = MCP_LOG_INFO;
		break;
	case CACT_STATUS_PYTHON_ERROR:
		level = MCP_LOG_WARNING;
		break;
	case CACT_STATUS_CANCELLED:
		level = MCP_LOG_NOTICE;
		break;
	default:
		level = MCP_LOG_ERROR;
		break;
	}
	cact_result_stats(res, &st);
	call_log_locking(c, level,
			 mcp_jfmt("execute_code ended: %s in %.3f s, %llu tool call(s)",
				  cact_status_name(cact_result_status(res)),
				  (double)st.wall_us / 1e6, (unsigned long long)st.tool_calls));
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
	call_log(c, MCP_LOG_INFO, mcp_jfmt("%s called", name));
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
	if (out && mcp_modern(version) && sc)
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
		until = mcp_deadline_in(next - now);
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
	free(c->out_text);
	free(c->err_text);
	ut_close(&c->cancel_fd);
	pthread_cond_destroy(&c->tick);
	free(c);
}

static const char *const outcome_names[MCP_OUT__N] = {"ok", "error", "refused", "cancelled"};
static const char *const level_names[MCP_OUT__N] = {"info", "warning", "notice", "notice"};

/* A call's end in the metrics and the log. */
static void call_ended(struct call *c, int outcome)
{
	struct cact_mcp_server *srv = c->s->srv;
	const char *tool = c->tool ? cact_tool_name(c->tool) : "execute_code";
	struct cact_mcp_log_event ev = {
		.level = level_names[outcome],
		.event = "call",
		.session = c->s->log_id,
		.execution = c->exec_id,
		.tool = tool,
		.status = c->status ? c->status : outcome_names[outcome],
		.wall_us = c->have_st ? (int64_t)c->st.wall_us : -1,
		.cpu_us = c->have_st ? (int64_t)c->st.cpu_us : -1,
		.queue_us = c->have_st ? (int64_t)c->st.queue_us : -1,
		.total_us = (int64_t)(ut_now_us() - c->started_us),
		.stdout_text = c->out_text,
		.stdout_len = c->out_len,
		.stderr_text = c->err_text,
		.stderr_len = c->err_len,
	};
	char msg[160];

	mcp_note_tool(srv, tool, outcome);
	ut_snprintf(msg, sizeof(msg), "%s %s%s", tool, outcome_names[outcome],
		    c->aborted ? " by the drain" : "");
	ev.message = msg;
	mcp_log(srv, &ev);
}

/* A call refused before it started: the metrics and the log. tool may be NULL. */
static void call_refused(struct mcp_session *s, const char *tool, const char *why)
{
	struct cact_mcp_server *srv = s->srv;
	char id[24];
	struct cact_mcp_log_event ev = {
		.level = "notice",
		.event = "call",
		.session = s->log_id,
		.execution = id,
		.tool = tool ? tool : "_other",
		.status = "refused",
		.message = why,
		.wall_us = -1,
		.cpu_us = -1,
		.queue_us = -1,
		.total_us = -1,
	};

	ut_snprintf(id, sizeof(id), "%llu",
		    (unsigned long long)__atomic_add_fetch(&srv->next_call, 1, __ATOMIC_RELAXED));
	mcp_note_tool(srv, tool, MCP_OUT_REFUSED);
	mcp_log(srv, &ev);
}

static void *worker(void *arg)
{
	struct call *c = arg;
	struct mcp_session *s = c->s;
	json_t *result, *msg;
	int ticking = 0, aborted, cancelled, outcome;
	pthread_t tick;

	if (c->token)
		ticking = pthread_create(&tick, NULL, ticker, c) == 0;
	result = c->tool ? run_direct(c) : run_code(c);
	pthread_mutex_lock(&s->lock);
	c->done = 1;
	pthread_cond_signal(&c->tick);
	/* A question the execution left open ends; its callback lets go of c. */
	pthread_cond_broadcast(&s->cond);
	while (c->asking)
		pthread_cond_wait(&s->cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
	if (ticking)
		pthread_join(tick, NULL);
	pthread_mutex_lock(&s->lock);
	aborted = c->aborted;
	cancelled = c->cancelled && !aborted;
	pthread_mutex_unlock(&s->lock);
	if (aborted && result) {
		/* The client did not ask for this: it gets an answer saying why. */
		json_array_append_new(
			json_object_get(result, "content"),
			json_pack("{s:s, s:s}", "type", "text", "text", ABORTED_TEXT));
		json_object_set_new(result, "isError", json_true());
	}
	if (cancelled || aborted)
		outcome = MCP_OUT_CANCELLED;
	else if (!result || json_is_true(json_object_get(result, "isError")))
		outcome = MCP_OUT_ERROR;
	else
		outcome = MCP_OUT_OK;
	call_ended(c, outcome);
	msg = result ? jrpc_result(c->id, result) : NULL;
	json_decref(result);
	if (!msg)
		msg = jrpc_error(c->id, JRPC_INTERNAL_ERROR, "out of memory", NULL);
	pthread_mutex_lock(&s->lock);
	/* A request the client cancelled gets no response; its stream still ends. */
	if (c->cancelled && !c->aborted) {
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

/* ---- tools/list ---- */

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

/* With sessions, what a result may add (mcp_code_result). */
static const char session_ended_schema[] =
	"{\"type\":\"string\",\"description\":\"The run ended the sandbox session (why); call "
	"execute_code with reset=true to start a new one\"}";

static json_t *exec_output_schema(int persistent)
{
	json_t *o = json_loads(output_schema, 0, NULL);

	if (o && persistent &&
	    json_object_set_new(json_object_get(o, "properties"), "session_ended",
				json_loads(session_ended_schema, 0, NULL))) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

static json_t *exec_entry(struct cact_codeact *cc, const char *version)
{
	int persistent = cact_codeact_persistent(cc);
	char *desc = cact_codeact_description(cc);
	json_t *t = desc ? json_pack("{s:s, s:s, s:o, s:o}", "name", "execute_code", "description",
				     desc, "inputSchema",
				     json_loads(persistent ? cact_codeact_session_input_schema()
							   : cact_codeact_input_schema(),
						0, NULL),
				     "annotations", exec_annotations(cc))
			 : NULL;

	free(desc);
	if (t && mcp_modern(version) &&
	    (json_object_set_new(t, "title", json_string("Execute Python code")) ||
	     json_object_set_new(t, "outputSchema", exec_output_schema(persistent)))) {
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

json_t *mcp_tool_list(struct mcp_session *s)
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
		return NULL;
	}
	return list;
}

/* ---- entry points ---- */

void mcp_call_start(struct mcp_session *s, json_t *id, json_t *p, void *stream)
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
		mcp_reply_error(s, stream, id, JRPC_INVALID_PARAMS,
				"tools/call: name must be a string");
		return;
	}
	if ((args && !json_is_object(args) && !json_is_null(args)) ||
	    (meta && !json_is_object(meta)) ||
	    (token && !json_is_string(token) && !json_is_integer(token))) {
		mcp_reply_error(s, stream, id, JRPC_INVALID_PARAMS,
				"tools/call: arguments and _meta must be objects, a progressToken "
				"a string or an integer");
		return;
	}
	if (strcmp(name, "execute_code") != 0) {
		if (srv->expose_tools && cact_codeact_tools(srv->cc, &tools, &n) == 0)
			for (i = 0; i < n && !tool; i++)
				if (strcmp(cact_tool_name(tools[i]), name) == 0)
					tool = cact_tool_ref(tools[i]);
		cact_tools_free(tools, n);
		if (!tool) {
			call_refused(s, NULL, "unknown tool");
			mcp_reply_error(s, stream, id, JRPC_INVALID_PARAMS, "unknown tool: %s",
					name);
			return;
		}
	}
	if (mcp_draining(srv)) {
		call_refused(s, tool ? cact_tool_name(tool) : "execute_code", "draining");
		cact_tool_unref(tool);
		mcp_reply(s, stream, id, tool_error(DRAINING_TEXT));
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c || mcp_cond_init(&c->tick)) {
		free(c);
		cact_tool_unref(tool);
		mcp_reply_error(s, stream, id, JRPC_INTERNAL_ERROR, "out of memory");
		return;
	}
	c->s = s;
	c->tool = tool;
	c->stream = stream;
	c->started_us = ut_now_us();
	ut_snprintf(c->exec_id, sizeof(c->exec_id), "%llu",
		    (unsigned long long)__atomic_add_fetch(&srv->next_call, 1, __ATOMIC_RELAXED));
	c->id = json_deep_copy(id);
	c->token = token ? json_deep_copy(token) : NULL;
	c->args = json_is_object(args) ? json_deep_copy(args) : json_object();
	c->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!c->id || (token && !c->token) || !c->args || c->cancel_fd < 0) {
		call_free(c);
		mcp_reply_error(s, stream, id, JRPC_INTERNAL_ERROR, "cannot start the call");
		return;
	}
	pthread_mutex_lock(&s->lock);
	if (s->closing || find_call(s, id) || s->n_calls >= srv->max_calls) {
		int closing = s->closing, dup = !closing && find_call(s, id) != NULL;

		pthread_mutex_unlock(&s->lock);
		call_free(c);
		if (closing)
			mcp_reply_error(s, stream, id, JRPC_INVALID_REQUEST,
					"the session is closed");
		else if (dup)
			mcp_reply_error(s, stream, id, JRPC_INVALID_REQUEST,
					"a request with this id is already in flight");
		else
			mcp_reply(s, stream, id,
				  tool_error("too many calls in flight: at most %u per session; "
					     "wait for one to finish",
					     srv->max_calls));
		if (!closing && !dup)
			call_refused(s, name, "too many calls in flight");
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
		mcp_reply_error(s, stream, id, JRPC_INTERNAL_ERROR, "cannot start the call: %s",
				ut_errno_name(rc));
		return;
	}
	pthread_mutex_unlock(&s->lock);
}

void mcp_call_cancel(struct mcp_session *s, const json_t *id)
{
	struct call *c;

	pthread_mutex_lock(&s->lock);
	c = find_call(s, id);
	if (c)
		cancel_call(c);
	pthread_mutex_unlock(&s->lock);
}

void mcp_call_answer(struct mcp_session *s, const struct jrpc_msg *m)
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

void mcp_calls_detach(struct mcp_session *s, void *stream)
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

void mcp_calls_stop(struct mcp_session *s)
{
	struct cact_sandbox_session *box;
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
	/* No call is left to use it: the sandbox session ends with its MCP session. */
	box = s->box;
	s->box = NULL;
	pthread_mutex_unlock(&s->lock);
	cact_sandbox_session_close(box);
}

unsigned mcp_calls_abort(struct mcp_session *s)
{
	unsigned n = 0;
	struct call *c;

	pthread_mutex_lock(&s->lock);
	for (c = s->calls; c; c = c->next) {
		if (c->cancelled)
			continue;
		c->aborted = 1;
		cancel_call(c);
		n++;
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

void mcp_calls_tell(struct mcp_session *s, int level, const char *text)
{
	struct call *c;

	pthread_mutex_lock(&s->lock);
	if (s->version && !s->closing && level >= s->log_level) {
		/* The session's own stream (HTTP GET), and each call's, for clients without one. */
		mcp_emit(s, NULL,
			 mcp_notif("notifications/message",
				   json_pack("{s:s, s:s, s:s}", "level", mcp_level_name(level),
					     "logger", "cact", "data", text)),
			 0);
		for (c = s->calls; c; c = c->next)
			if (c->stream) /* stdio has one stream, already told */
				call_log(c, level, json_string(text));
	}
	pthread_mutex_unlock(&s->lock);
}
