/* SPDX-License-Identifier: MIT */
/*
 * Inside the MCP server: what its files share. server.c has the sessions
 * (registry, lifecycle, method dispatch) and the server object, calls.c
 * the tools (tools/list, tools/call, approval through elicitation,
 * cancellation, the sandbox sessions of --sessions), content.c the
 * mapping of a result to MCP content, stdio.c the stdio transport. The
 * transports see server.h only.
 *
 * Locks: the server's lock (the list of sessions) is taken before a
 * session's; a session's lock guards everything of the session and its
 * calls, and every message is sent with it held. The runtime's locks come
 * after both.
 */
#ifndef CACT_MCP_SESSION_H
#define CACT_MCP_SESSION_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include <cact/cact.h>

#include "../util/util.h"
#include "server.h"

/* Log levels of notifications/message, in the protocol's order (mcp_level_name). */
enum { MCP_LOG_DEBUG, MCP_LOG_INFO, MCP_LOG_NOTICE, MCP_LOG_WARNING, MCP_LOG_ERROR };

struct call;   /* calls.c: one tools/call */
struct waiter; /* calls.c: one elicitation/create of ours waiting for its answer */

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
	/*
	 * The sandbox session of this MCP session (persistence on), started by
	 * its first execute_code. One call uses it at a time (box_busy); the
	 * pointer changes only in the hands of the call that set box_busy, or
	 * under the lock while nobody uses it. box_gone: why the last one
	 * ended, until a reset starts another ("" when none ended).
	 */
	struct cact_sandbox_session *box;
	int box_busy;
	char box_gone[200];
	char log_id[17];	  /* the session in the log (random, not its Mcp-Session-Id) */
	struct mcp_session *next; /* in srv->sessions */
};

/* ---- server.c: helpers for the other files ---- */

/* Titles, output schemas, structured content and elicitation came with 2025-06-18. */
int mcp_modern(const char *version);

/* "debug", "info", ... for an MCP_LOG_ level. */
const char *mcp_level_name(int level);

/* An absolute CLOCK_MONOTONIC time us from now, and a condition variable on that clock. */
struct timespec mcp_deadline_in(uint64_t us);
int mcp_cond_init(pthread_cond_t *c);

/* A JSON string of text that may not be valid UTF-8 (bad bytes become U+FFFD). New reference. */
json_t *mcp_jstr(const char *text, size_t len);
/* A JSON string from a format (at most 2 KiB). New reference. */
json_t *mcp_jfmt(const char *fmt, ...) UT_PRINTF(1, 2);

/* A notification; params consumed. NULL when out of memory. */
json_t *mcp_notif(const char *method, json_t *params);

/*
 * Sends msg (consumed) on stream; NULL msg with MCP_SEND_FINAL ends the
 * stream without one. Session lock held.
 */
void mcp_emit(struct mcp_session *s, void *stream, json_t *msg, unsigned flags);

/* Answers request id on stream (takes the lock): a result (consumed; NULL: out of memory). */
void mcp_reply(struct mcp_session *s, void *stream, json_t *id, json_t *result);
void mcp_reply_error(struct mcp_session *s, void *stream, json_t *id, int code, const char *fmt,
		     ...) UT_PRINTF(5, 6);

/* ---- calls.c: the tools ---- */

/* The tools/list entries: execute_code, then the exposed sandbox tools. New reference or NULL. */
json_t *mcp_tool_list(struct mcp_session *s);

/* tools/call: checks the request and starts its worker, or answers at once. */
void mcp_call_start(struct mcp_session *s, json_t *id, json_t *params, void *stream);

/* notifications/cancelled for request id: the call stops and sends no response. */
void mcp_call_cancel(struct mcp_session *s, const json_t *id);

/* A response to one of our requests (m->kind JRPC_RESULT or JRPC_ERROR); others are ignored. */
void mcp_call_answer(struct mcp_session *s, const struct jrpc_msg *m);

/* The calls whose messages go to stream: detached and cancelled. */
void mcp_calls_detach(struct mcp_session *s, void *stream);

/*
 * The session is closing: every call is cancelled, its stream ended, and
 * its worker waited for; then the sandbox session is closed. Idempotent.
 */
void mcp_calls_stop(struct mcp_session *s);

/*
 * Draining: every call still running is cancelled and will be answered
 * with a tool error saying the server stopped. Returns how many.
 */
unsigned mcp_calls_abort(struct mcp_session *s);

/* A notifications/message (logger cact) to the session and to each of its calls' streams. */
void mcp_calls_tell(struct mcp_session *s, int level, const char *text);

/* ---- ops.c: metrics and the log ---- */

/* An execution ended with status and stats. */
void mcp_note_exec(struct cact_mcp_server *srv, enum cact_status status,
		   const struct cact_stats *st);
/* A tools/call of tool (may be NULL: a name that is no tool) ended with an MCP_OUT_ outcome. */
void mcp_note_tool(struct cact_mcp_server *srv, const char *tool, int outcome);
/* Sends ev to the server's log, when it has one. */
void mcp_log(struct cact_mcp_server *srv, const struct cact_mcp_log_event *ev);
/* A log event of a level, a name and a message (session may be NULL). */
void mcp_log_simple(struct cact_mcp_server *srv, const char *level, const char *event,
		    const char *session, const char *message);

/* ---- content.c: results as MCP content ---- */

/*
 * An execution's result as an MCP tool result: content items (stdout,
 * stderr, /output files, what went wrong), isError, and structuredContent
 * for version 2025-06-18 and later. ended (may be NULL): the run ended the
 * sandbox session, and why ("timeout in run 3"): said in the content and
 * as structuredContent.session_ended. New reference, NULL when out of
 * memory.
 */
json_t *mcp_code_result(const struct cact_result *r, const char *version, const char *ended);

/* What the model is told once its sandbox session has ended (why: "timeout in run 3"). */
#define MCP_SESSION_ENDED_FMT                                                                    \
	"session ended: %s; start a new session (call execute_code with reset=true for a fresh " \
	"interpreter)"

#endif
