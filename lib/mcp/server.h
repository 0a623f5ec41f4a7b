/* SPDX-License-Identifier: MIT */
/*
 * The MCP server's transport-agnostic core. A session is one client: it is
 * fed one message at a time by a transport (stdio, Streamable HTTP) and
 * answers through the transport's send callback. tools/call runs on a
 * worker thread, so the transport keeps reading (ping, cancellation,
 * answers to the server's own requests) while code runs. With persistence
 * on, a session holds a sandbox session for its execute_code calls, which
 * ends with it (mcp_session_shutdown).
 *
 * Streams: each message a transport feeds may carry an opaque stream (the
 * HTTP request it came in). Everything the session sends about that
 * request (its response, progress, log messages, elicitation requests)
 * goes to that stream; messages about nothing in particular
 * (notifications/tools/list_changed) go to stream NULL.
 */
#ifndef CACT_MCP_SERVER_H
#define CACT_MCP_SERVER_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <cact/mcp.h>

#include "jsonrpc.h"

#define MCP_VERSION_LATEST "2025-11-25"

struct mcp_session;

/* Histogram bounds of the metrics (ops.c), in microseconds. */
#define MCP_EXEC_BUCKETS  15
#define MCP_QUEUE_BUCKETS 12
#define MCP_TOOL_SLOTS	  32 /* tool names in metric labels; the rest are "_other" */
#define MCP_HTTP_CODES	  16

enum { MCP_OUT_OK, MCP_OUT_ERROR, MCP_OUT_REFUSED, MCP_OUT_CANCELLED, MCP_OUT__N };

/* The counters behind cact_mcp_server_metrics (ops.c), updated with atomics or mlock. */
struct mcp_metrics {
	uint64_t exec_status[CACT_STATUS_BUSY + 1];
	uint64_t exec_bucket[MCP_EXEC_BUCKETS], exec_count, exec_sum_us;
	uint64_t queue_bucket[MCP_QUEUE_BUCKETS], queue_count, queue_sum_us;
	uint64_t http_code[MCP_HTTP_CODES + 1]; /* the last: any other code */
	uint64_t http_in_bytes, http_out_bytes;
	uint64_t sessions_total;
	pthread_mutex_t mlock; /* tool names */
	char *tool_name[MCP_TOOL_SLOTS];
	uint64_t tool_out[MCP_TOOL_SLOTS + 1][MCP_OUT__N]; /* the last: "_other" */
};

struct cact_mcp_server {
	struct cact_codeact *cc; /* borrowed */
	char *name;
	int expose_tools;
	int persist; /* persistence on, whatever the configuration says (cact mcp --sessions) */
	char *token; /* the bearer token clients must present; NULL: none */
	char **origins;
	size_t n_origins;
	size_t max_message;
	unsigned max_calls;
	uint64_t approval_timeout_ms;
	unsigned max_connections, max_conns_per_ip; /* HTTP */
	uint64_t header_timeout_ms;		    /* HTTP */
	pthread_mutex_t lock;	      /* guards sessions; taken before a session's lock */
	struct mcp_session *sessions; /* every live session, for tools_changed */
	/* Operating (ops.c) */
	int draining;		/* atomic: no new calls */
	int metrics_elsewhere;	/* /metrics is on another listener */
	cact_mcp_log_fn log_fn; /* NULL: no log */
	void *log_user;
	int log_output;
	uint64_t next_call;	/* atomic: execution ids */
	unsigned open_requests; /* atomic: HTTP requests waiting for their answer */
	struct mcp_metrics m;
};

enum {
	MCP_SEND_FINAL = 1, /* the last message of its stream: the response */
};

/*
 * Sends one message. text is owned by the callee (malloc'd, compact JSON
 * without a newline), or NULL with MCP_SEND_FINAL when the request ends
 * without a response (it was cancelled) and its stream should end.
 * Called with the session's lock held: it must not block and must not call
 * into the session.
 */
typedef void (*mcp_send_fn)(void *user, void *stream, char *text, size_t len, unsigned flags);

/* A new session registered with srv. 0 or CACT_ENOMEM. *out is owned (mcp_session_free). */
int mcp_session_new(struct cact_mcp_server *srv, mcp_send_fn send, void *user,
		    struct mcp_session **out, struct cact_error *err);

/*
 * One message of len bytes from the client: parse errors are answered
 * (-32700 with id null, -32600), then as mcp_session_handle.
 */
void mcp_session_feed(struct mcp_session *s, const char *text, size_t len, void *stream);

/* Answers a message that could not be read (too large) with an error, id null. */
void mcp_session_refuse(struct mcp_session *s, void *stream, int code, const char *message);

/* One parsed message (consumed: m is cleared). */
void mcp_session_handle(struct mcp_session *s, struct jrpc_msg *m, void *stream);

/*
 * The transport lost a stream (the HTTP client went away): the calls it
 * carried are cancelled (their executions killed) and nothing more is sent
 * to it once this returns.
 */
void mcp_session_drop_stream(struct mcp_session *s, void *stream);

/*
 * Ends the session: cancels every call, ends their streams (send with
 * MCP_SEND_FINAL and no text), waits for the workers and closes its
 * sandbox session. Idempotent; later requests are refused.
 */
void mcp_session_shutdown(struct mcp_session *s);

/* Shuts down, unregisters and frees. NULL is a no-op. */
void mcp_session_free(struct mcp_session *s);

/* The negotiated protocol version (static) once initialize was answered, else NULL. */
const char *mcp_session_version(struct mcp_session *s);

/* Calls in flight. */
unsigned mcp_session_calls(struct mcp_session *s);

/* 1 when v is a protocol version this server speaks. */
int mcp_version_supported(const char *v);

struct sockaddr_storage;
/* host (an IP address, "[v6]" too, or a name) and port as a socket address. */
int mcp_http_resolve(const char *host, unsigned port, struct sockaddr_storage *ss,
		     struct cact_error *err);

/* ---- ops.c: what the transports report for metrics and the log ---- */

/* An HTTP response with this status and body size was queued. */
void mcp_note_http(struct cact_mcp_server *srv, unsigned status, uint64_t body_bytes);
/* Bytes received (request bodies) and sent (stream data). */
void mcp_note_http_bytes(struct cact_mcp_server *srv, uint64_t in, uint64_t out);
/* Draining: no new calls or sessions. */
int mcp_draining(struct cact_mcp_server *srv);
/* What GET /healthz, /readyz and /metrics answer: status, body (owned), its length. */
int mcp_ops_answer(struct cact_mcp_server *srv, const char *path, char **body, size_t *len);
/* 1 when path is one of /healthz, /readyz; 2 for /metrics; 0 otherwise. */
int mcp_ops_path(const char *path);

#endif
