/* SPDX-License-Identifier: MIT */
#ifndef CACT_MCP_H
#define CACT_MCP_H

#include <stddef.h>
#include <stdint.h>

#include <cact/codeact.h>
#include <cact/error.h>
#include <cact/tools.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The Model Context Protocol, both ways: cact serves execute_code to any
 * MCP host (stdio or Streamable HTTP), and imports the tools of MCP servers
 * as sandbox tools the code calls with call_tool("server.tool", ...).
 * Protocol versions 2025-06-18 and 2025-11-25. docs/mcp.md has the details.
 */

/* ---- client: tools of MCP servers inside the sandbox ---- */

/*
 * A connection to one MCP server, reference-counted: the tools made from it
 * hold references. Thread-safe: calls from many executions are multiplexed
 * over the one connection. A stdio server that dies is started again on the
 * next call.
 */
struct cact_mcp_client;

struct cact_mcp_client_options {
	const char *name; /* tool name prefix: "<name>.<tool>"; [A-Za-z0-9_-], 1-64 */
	/* stdio: argv (NULL-terminated), extra environment ("K=V", n_env of them), folder */
	const char *const *argv;
	const char *const *env;
	size_t n_env;
	const char *cwd;
	/* Streamable HTTP: url, extra headers ("Name: value", n_headers of them) */
	const char *url;
	const char *const *headers;
	size_t n_headers;
	uint64_t timeout_ms;	    /* one request (initialize, list, call); default 60000 */
	uint64_t max_message_bytes; /* one message from the server; default 16 MiB */
};

CACT_API void cact_mcp_client_options_init(struct cact_mcp_client_options *o);

/*
 * Connects (starts the program, or checks the URL), initializes and lists
 * the server's tools. CACT_EINVAL names a bad option; CACT_ESYS or
 * CACT_EPROTO says why the server could not be reached or spoke wrongly.
 */
CACT_API int cact_mcp_client_new(const struct cact_mcp_client_options *o,
				 struct cact_mcp_client **out, struct cact_error *err);
CACT_API struct cact_mcp_client *cact_mcp_client_ref(struct cact_mcp_client *c);
/* Drops a reference; the last one stops the server. NULL is a no-op. */
CACT_API void cact_mcp_client_unref(struct cact_mcp_client *c);

/*
 * The server's tools as cact tools named "<name>.<tool>", with the
 * server's description and input schema, approval never_require (the
 * caller may remake them: see cact_mcp_client_tool_approval). *tools is an
 * owned array of new references (cact_tools_free). A call returns the
 * result's structuredContent when given, else its text content (parsed as
 * JSON when it is JSON; several text items as a list), else the content
 * list; an isError result fails the call with the server's message.
 */
CACT_API int cact_mcp_client_tools(struct cact_mcp_client *c, struct cact_tool ***tools, size_t *n,
				   struct cact_error *err);

/*
 * The same tool with another approval mode. New reference in *out.
 * CACT_EINVAL when tool is not a tool of an MCP server.
 */
CACT_API int cact_mcp_client_tool_approval(struct cact_tool *tool, enum cact_approval approval,
					   struct cact_tool **out, struct cact_error *err);

/*
 * Connects to the server o describes (cact_mcp_client_new) and adds its
 * tools to cc as "<name>.<tool>" sandbox tools with approval never_require,
 * replacing tools of the same names. The tools hold the connection: it
 * ends when the last of them is removed from cc (and from every snapshot
 * and request holding it). On failure cc is unchanged. Thread-safe.
 */
CACT_API int cact_codeact_add_mcp_server(struct cact_codeact *cc,
					 const struct cact_mcp_client_options *o,
					 struct cact_error *err);

/* ---- server: execute_code for MCP hosts ---- */

struct cact_mcp_server;

/*
 * One event of the server's log, for cact_mcp_server_options.log_fn.
 * Everything is borrowed for the call; a NULL string or a negative
 * duration means "does not apply". session is a log id of the MCP
 * session (16 hex digits), never its Mcp-Session-Id, which is a secret.
 * The code's output is in stdout_text/stderr_text only with log_output.
 */
struct cact_mcp_log_event {
	const char *level;     /* "debug", "info", "notice", "warning", "error" */
	const char *event;     /* "session_started", "session_ended", "call", "drain", ... */
	const char *session;   /* NULL: not about one session */
	const char *execution; /* the call's id in this server ("42"), or NULL */
	const char *tool;      /* the tool called, or NULL */
	const char *status;    /* cact_status_name for code, "ok", "error", "refused", ... */
	const char *message;   /* one line for people, or NULL */
	int64_t wall_us;       /* the code's run (cact_stats.wall_us) */
	int64_t cpu_us;	       /* its CPU time */
	int64_t queue_us;      /* its wait for a sandbox */
	int64_t total_us;      /* the whole call, from request to response */
	const char *stdout_text, *stderr_text; /* with log_output only; not NUL-terminated */
	size_t stdout_len, stderr_len;
};

/*
 * Called from the server's threads, several at once: must be thread-safe,
 * quick, and must not call back into the server.
 */
typedef void (*cact_mcp_log_fn)(void *user, const struct cact_mcp_log_event *ev);

struct cact_mcp_server_options {
	const char *name; /* serverInfo.name; default "cact" */
	int expose_tools; /* list the sandbox tools for direct use too */
	/*
	 * Stateful execute_code: each MCP session (the stdio connection, an
	 * HTTP Mcp-Session-Id) gets a sandbox session of its own, started by
	 * its first call and closed when it ends. Turns persistence on in the
	 * configuration (cact_codeact_set_persistent) and keeps it on across
	 * reloads. Without it, the configuration's own "sessions" setting
	 * decides.
	 */
	int sessions;
	/* Streamable HTTP */
	const char *
		token_env; /* environment variable with a bearer token required of clients; NULL: none */
	const char *const *allowed_origins; /* Origin values accepted besides loopback ones */
	size_t n_allowed_origins;
	uint64_t max_message_bytes; /* one client message; default 4 MiB */
	unsigned max_calls;	    /* tools/call requests in flight per session; default 16 */
	uint64_t
		approval_timeout_ms; /* how long an approval question waits for the user; default 300000 */
	/*
	 * Streamable HTTP against slow or greedy clients. A connection has
	 * header_timeout_ms to send a request's headers and pass the Host,
	 * Origin and token checks, counted from accept and again from the end
	 * of each request, however steadily it trickles bytes; accepted
	 * requests (SSE streams) are not cut. One address may hold
	 * max_conns_per_ip of the max_connections connections; a value of
	 * max_connections or more lifts the per-address limit (behind a
	 * reverse proxy every client has the proxy's address). 0: default.
	 */
	unsigned max_connections;   /* connections at once, at most 512 (the default) */
	unsigned max_conns_per_ip;  /* connections at once from one IP address; default 64 */
	uint64_t header_timeout_ms; /* 100 to 3600000; default 10000 */
	/*
	 * Operating (docs/mcp.md, "Operating"). The HTTP listener serves
	 * GET /healthz and /readyz to anyone, and GET /metrics (Prometheus
	 * text) behind the token, unless metrics_elsewhere says another
	 * listener (cact_mcp_ops_listen) serves them: then /metrics is 404
	 * there.
	 */
	int metrics_elsewhere;
	cact_mcp_log_fn log_fn; /* structured events (calls, sessions, drain); NULL: none */
	void *log_user;
	int log_output; /* events of calls carry the code's stdout and stderr (4 KiB each) */
};

CACT_API void cact_mcp_server_options_init(struct cact_mcp_server_options *o);

/*
 * A server over a CodeAct configuration (borrowed; it must outlive the
 * server and be bound to a runtime). tools/list serves execute_code with
 * the configuration's description and input schema; with persistence on
 * (o->sessions, or the configuration's), calls of one MCP session run in
 * its sandbox session, and the schema has "reset". o may be NULL for the
 * defaults; its strings are copied. With token_env set, the variable must
 * hold a non-empty token now (CACT_EINVAL otherwise); it is read once.
 * *out is owned (cact_mcp_server_free). Every function below is
 * thread-safe.
 */
CACT_API int cact_mcp_server_new(struct cact_codeact *cc, const struct cact_mcp_server_options *o,
				 struct cact_mcp_server **out, struct cact_error *err);
/* No serve call may be in progress. NULL is a no-op. */
CACT_API void cact_mcp_server_free(struct cact_mcp_server *s);

/*
 * Serves one client on in_fd/out_fd (newline-delimited JSON-RPC) until end
 * of input, which also stops the client's executions. Returns 0, or
 * CACT_ESYS when reading failed. Ignore SIGPIPE when out_fd is a pipe.
 */
CACT_API int cact_mcp_serve_stdio(struct cact_mcp_server *s, int in_fd, int out_fd,
				  struct cact_error *err);

/*
 * Serves Streamable HTTP at http://host:port/mcp until stop_fd becomes
 * readable (-1: forever). host "127.0.0.1" unless the caller chooses
 * otherwise (NULL means that); port 0 picks one. *bound_port (may be NULL)
 * is stored atomically once listening, so another thread may wait for it
 * to become non-zero. Returns 0 after stop_fd, CACT_EINVAL for a bad
 * host, CACT_ESYS when the address cannot be bound.
 */
CACT_API int cact_mcp_serve_http(struct cact_mcp_server *s, const char *host, unsigned port,
				 int stop_fd, unsigned *bound_port, struct cact_error *err);

/*
 * Tells connected clients the tool list changed
 * (notifications/tools/list_changed), after the configuration was changed.
 */
CACT_API void cact_mcp_server_tools_changed(struct cact_mcp_server *s);

/*
 * Replaces the configuration with the one in the file at path, read afresh
 * (not on top of the current one, so tools, files and targets removed from
 * the file go), then tells the clients as cact_mcp_server_tools_changed.
 * Executions already running, and sandbox sessions already started, keep
 * the configuration they started with. A bad file changes nothing: the
 * error is as cact_codeact_load_config's.
 */
CACT_API int cact_mcp_server_reload(struct cact_mcp_server *s, const char *path,
				    struct cact_error *err);

/* ---- operating: health, metrics, drain ---- */

/*
 * Whether the server can take calls: 1 ready; 0 while it drains, or
 * while the runtime's zygote is lost (restarting) or after it gave up,
 * with the reason in why (one line, at most size bytes). What GET
 * /readyz answers.
 */
CACT_API int cact_mcp_server_ready(struct cact_mcp_server *s, char *why, size_t size);

/*
 * The server's metrics in the Prometheus text format (version 0.0.4):
 * executions by status, execution and queue-wait histograms, the pool,
 * sessions, tool calls by tool and outcome (at most 32 tool names, the
 * rest as tool="_other"), HTTP requests by status code, bytes, the
 * process's resident memory and open descriptors. Owned (free()), with
 * its length in *len (may be NULL); NULL when out of memory.
 */
CACT_API char *cact_mcp_server_metrics(struct cact_mcp_server *s, size_t *len);

/*
 * Drains: from now on new tools/call requests get a tool error asking to
 * retry, new HTTP sessions a 503, and GET /readyz 503; every initialized
 * session is sent a warning (notifications/message). The calls in flight
 * may finish within grace_ms; those still running then are cancelled and
 * answered with a tool error saying the server stopped. Returns when no
 * call is left (at most a few seconds after grace_ms), with the number
 * cancelled in *cancelled (may be NULL). Blocks: call it from a thread of
 * its own, then stop serving (stop_fd). Draining cannot be undone.
 */
CACT_API void cact_mcp_server_drain(struct cact_mcp_server *s, uint64_t grace_ms,
				    unsigned *cancelled);

/*
 * A listener of its own for GET /metrics, /healthz and /readyz (no token:
 * bind it where only the collector reaches), at http://host:port/; port
 * 0 picks one, stored in *bound_port (may be NULL). Set the server's
 * metrics_elsewhere so that the MCP listener stops serving /metrics.
 * *out is owned (cact_mcp_ops_close, before cact_mcp_server_free).
 */
struct cact_mcp_ops_listener;
CACT_API int cact_mcp_ops_listen(struct cact_mcp_server *s, const char *host, unsigned port,
				 struct cact_mcp_ops_listener **out, unsigned *bound_port,
				 struct cact_error *err);
/* Stops listening. NULL is a no-op. */
CACT_API void cact_mcp_ops_close(struct cact_mcp_ops_listener *l);

#ifdef __cplusplus
}
#endif
#endif
