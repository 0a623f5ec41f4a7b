/* SPDX-License-Identifier: MIT */
#ifndef CACT_REQUEST_H
#define CACT_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include <cact/error.h>
#include <cact/tools.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * What one execution runs and with which limits: the code, the workspace and
 * file mounts visible under /input, and the caps. Built by the caller, then
 * borrowed by cact_runtime_run; a request may be run many times. Not
 * thread-safe to modify while a run uses it.
 */
struct cact_request;

enum cact_limit {
	CACT_LIMIT_TIMEOUT_MS,	 /* wall clock from the sandbox being ready, default 30000 */
	CACT_LIMIT_MEMORY_BYTES, /* address space the code may add, default 512 MiB */
	CACT_LIMIT_STDOUT_BYTES, /* captured stdout, default 1 MiB */
	CACT_LIMIT_STDERR_BYTES, /* captured stderr, default 1 MiB */
	CACT_LIMIT_OUTPUT_FILES, /* files harvested from /output, default 1000 */
	CACT_LIMIT_OUTPUT_BYTES, /* bytes harvested from /output, default 64 MiB */
	CACT_LIMIT_OUTPUT_DEPTH, /* folder levels below /output (1: /output/a/file), default 16 */
	CACT_LIMIT_TMP_BYTES,	 /* size of the private /tmp, default 64 MiB */
	CACT_LIMIT_OPEN_FILES,	 /* open file descriptors, default 256 */
	CACT_LIMIT_THREADS,	 /* threads, default 64 (see docs/sandbox.md for uid 0) */
	CACT_LIMIT_CODE_BYTES,	 /* size of the code, default 10 MiB */
	CACT_LIMIT_TOOL_CALLS,	 /* call_tool calls per execution, default 1000 */
	CACT_LIMIT_TOOL_ARGS_BYTES,   /* one call's arguments as JSON, default 1 MiB */
	CACT_LIMIT_TOOL_RESULT_BYTES, /* one call's result as JSON, default 1 MiB */
	CACT_LIMIT_HTTP_TIMEOUT_MS,   /* one HTTP request: connect, first byte, idle; 30000 */
	CACT_LIMIT_HTTP_BODY_BYTES,   /* one HTTP response body, default 16 MiB */
	CACT_LIMIT_HTTP_BYTES,	      /* HTTP bytes sent and received per execution, 64 MiB */
	CACT_LIMIT_HTTP_REQUESTS,     /* HTTP requests (each redirect hop counts), 1000 */
	CACT_LIMIT__COUNT
};

/* Static name of a limit ("timeout_ms", ...), or NULL when out of range. */
CACT_API const char *cact_limit_name(enum cact_limit which);

/* Default, minimum and maximum accepted value of a limit. */
CACT_API uint64_t cact_limit_default(enum cact_limit which);
CACT_API uint64_t cact_limit_min(enum cact_limit which);
CACT_API uint64_t cact_limit_max(enum cact_limit which);

/* Returns 0 or CACT_ENOMEM. *out is owned (cact_request_free). */
CACT_API int cact_request_new(struct cact_request **out);
CACT_API void cact_request_free(struct cact_request *req);

/*
 * Copies the code. Returns CACT_EINVAL when it holds a NUL byte,
 * CACT_ETOOBIG when it is over CACT_LIMIT_CODE_BYTES.
 */
CACT_API int cact_request_set_code(struct cact_request *req, const char *code, size_t len,
				   struct cact_error *err);

/*
 * Makes host folder dir visible read-only at /input. The path is resolved
 * now and must be an existing folder; NULL clears it. Returns 0, CACT_ENOENT,
 * CACT_EINVAL.
 */
CACT_API int cact_request_set_workspace(struct cact_request *req, const char *dir,
					struct cact_error *err);

/*
 * Makes a host file or folder visible read-only under /input. guest may be
 * NULL (the mount path is then the host path as given). The mount path is
 * normalized under /input (backslashes become slashes; empty, "." and a
 * leading "input" part dropped; ".." refused); the host path is resolved now
 * and must exist. Re-adding a mount path replaces the earlier mount. Returns 0,
 * CACT_EINVAL (the message says what is wrong with which path), CACT_ENOENT.
 */
CACT_API int cact_request_add_mount(struct cact_request *req, const char *host, const char *guest,
				    struct cact_error *err);

/* Removes the mount at guest (normalized as above). CACT_ENOENT when absent. */
CACT_API int cact_request_remove_mount(struct cact_request *req, const char *guest,
				       struct cact_error *err);

/* Sets a limit. CACT_EINVAL when which is unknown or value out of range. */
CACT_API int cact_request_set_limit(struct cact_request *req, enum cact_limit which, uint64_t value,
				    struct cact_error *err);
CACT_API uint64_t cact_request_limit(const struct cact_request *req, enum cact_limit which);

/*
 * The resolved workspace folder, or NULL. Borrowed, valid until the next
 * change to the request.
 */
CACT_API const char *cact_request_workspace(const struct cact_request *req);

/* Mounts in the order added: *host (resolved) and *guest ("/input/..."), borrowed. */
CACT_API size_t cact_request_mount_count(const struct cact_request *req);
CACT_API int cact_request_mount(const struct cact_request *req, size_t i, const char **host,
				const char **guest);

/*
 * Tools the code may call. Adding a name that is already there replaces the
 * earlier tool and moves the name to the end. The request takes a reference
 * (the caller keeps its own). CACT_EINVAL for a NULL tool.
 */
CACT_API int cact_request_add_tool(struct cact_request *req, struct cact_tool *tool,
				   struct cact_error *err);
/* CACT_ENOENT naming the tool when there is none of that name. */
CACT_API int cact_request_remove_tool(struct cact_request *req, const char *name,
				      struct cact_error *err);
CACT_API void cact_request_clear_tools(struct cact_request *req);
CACT_API size_t cact_request_tool_count(const struct cact_request *req);
/* Borrowed, in order; NULL when i is out of range. */
CACT_API struct cact_tool *cact_request_tool(const struct cact_request *req, size_t i);

/*
 * Per-call approval: when per_call is non-zero, a call_tool of a tool whose
 * approval is always_require waits for fn (which may be NULL: deny). Off by
 * default, in which case the request runs its tools without asking (asking
 * up front is the caller's business: see cact_codeact_approval).
 */
CACT_API void cact_request_set_approval(struct cact_request *req, int per_call, cact_approval_fn fn,
					void *user);

/*
 * Network targets the code may reach over HTTP(S), through the host (see
 * docs/network.md); none by default. target keeps only the
 * authority of a URL ("https://API.example.com/v1" -> "api.example.com";
 * ports kept), lower-cased; user info is refused. methods (n of them, NULL
 * or n = 0 for all) are upper-cased, de-duplicated, sorted and must be HTTP
 * verbs; CONNECT and TRACE are refused; at most 16 per target and 1024
 * targets. Adding a target again replaces it.
 */
CACT_API int cact_request_add_allowed_domain(struct cact_request *req, const char *target,
					     const char *const *methods, size_t n,
					     struct cact_error *err);
/* The target is normalized first. CACT_ENOENT when absent. */
CACT_API int cact_request_remove_allowed_domain(struct cact_request *req, const char *target,
						struct cact_error *err);
CACT_API size_t cact_request_allowed_domain_count(const struct cact_request *req);
/*
 * In target order: *target and *methods ("GET,POST", or NULL for all),
 * borrowed. CACT_EINVAL when i is out of range.
 */
CACT_API int cact_request_allowed_domain(const struct cact_request *req, size_t i,
					 const char **target, const char **methods);

/* Normalizes a target as cact_request_add_allowed_domain does into out. */
CACT_API int cact_domain_normalize(const char *target, char *out, size_t out_size,
				   struct cact_error *err);

/*
 * Certificate authorities (a PEM file) that HTTPS servers are verified
 * against instead of the system's; NULL restores the system's. The path is
 * resolved now and must be a readable file. Verification is never off.
 */
CACT_API int cact_request_set_ca_file(struct cact_request *req, const char *path,
				      struct cact_error *err);
CACT_API const char *cact_request_ca_file(const struct cact_request *req);

/*
 * A proxy (http://host:port) every request goes through; NULL for none.
 * Proxies from the environment (http_proxy, ...) are never used.
 */
CACT_API int cact_request_set_proxy(struct cact_request *req, const char *proxy,
				    struct cact_error *err);
CACT_API const char *cact_request_proxy(const struct cact_request *req);

/*
 * Makes host name resolve to addr (an IPv4 or IPv6 address) instead of
 * asking DNS, like a hosts file line for this request only; adding several
 * addresses for one name keeps them all. The address rules still apply:
 * a name that resolves to a loopback or private address is refused unless
 * that address itself is allowed. For tests and split-horizon set-ups; at
 * most 256 names.
 */
CACT_API int cact_request_add_resolve(struct cact_request *req, const char *host, const char *addr,
				      struct cact_error *err);
CACT_API void cact_request_clear_resolve(struct cact_request *req);

/*
 * Lets the header name (an HTTP token, in any case) that the code sets
 * follow a redirect to another allowed origin. By default none of the
 * code's headers crosses origins, since cact cannot tell which carry
 * credentials (docs/network.md, "Redirects"). At most 64 names; adding a
 * name twice keeps one. Returns 0, CACT_EINVAL (not a token, too many).
 */
CACT_API int cact_request_add_redirect_header(struct cact_request *req, const char *name,
					      struct cact_error *err);
CACT_API void cact_request_clear_redirect_headers(struct cact_request *req);
/* The names, lower-case, comma-separated ("accept,x-request-id"); NULL when none. Borrowed. */
CACT_API const char *cact_request_redirect_headers(const struct cact_request *req);

/*
 * Stops the execution when fd becomes readable (an eventfd or a pipe the
 * caller writes to from another thread): the sandbox is killed and the
 * result's status is cancelled. -1 (the default) for none. The fd is
 * borrowed and polled, never read. Not copied by cact_request_dup.
 */
CACT_API void cact_request_set_cancel_fd(struct cact_request *req, int fd);

/* The code's output streams, as the output callback names them. */
enum cact_stream {
	CACT_STREAM_STDOUT = 1,
	CACT_STREAM_STDERR = 2,
};

/* Static name of a stream: "stdout", "stderr", or NULL when out of range. */
CACT_API const char *cact_stream_name(enum cact_stream stream);

/*
 * Live output: len bytes (data, borrowed for the call only, not
 * NUL-terminated) that the code wrote to stream while it runs.
 *
 * What arrives: the bytes the result keeps, in the order the code wrote
 * them on each stream, and nothing past the stream's cap (its limit), so
 * that the chunks of one stream put together are exactly the result's
 * stream (cact_result_stdout, cact_result_stderr), the truncation marker
 * included: it comes as the stream's last chunk. A chunk never ends
 * inside a UTF-8 sequence that the next bytes may complete (the bytes
 * wait for the rest; the last chunk carries whatever is left), so each
 * chunk can be decoded on its own. Between the two streams, chunks come
 * in the order their first bytes reached the host: stdout and stderr are
 * two pipes, so writes a few microseconds apart may be told in either
 * order. Bytes that arrive within 2 ms of each other, or within 20 ms of
 * the last call, come together: at most one call per stream every 20 ms,
 * however the code writes. Every chunk is delivered before
 * cact_runtime_run (or the session's run) returns, also when the run
 * fails, times out or is cancelled.
 *
 * Threading: called on the thread that runs the execution (the caller of
 * cact_runtime_run, cact_sandbox_session_run or cact_codeact_execute_with),
 * never concurrently for one execution; executions on several threads
 * call at once. It may block, but the execution waits meanwhile: nothing
 * is read from the sandbox, so the code stops at its next write once the
 * pipe (64 KiB) is full, and its tool calls wait for their answers; the
 * wall-clock limit keeps running, and a timeout or cancellation is acted
 * on when the callback returns. A slow callback therefore slows the code
 * down and may make it time out; it never loses or reorders bytes. It
 * must not free the request or run code on the same session.
 */
typedef void (*cact_output_fn)(void *user, enum cact_stream stream, const char *data, size_t len);

/*
 * Sends the execution's output to fn as it arrives (see cact_output_fn);
 * fn NULL (the default) for none. Without a callback nothing of this
 * costs anything. Not copied by cact_request_dup.
 */
CACT_API void cact_request_set_output(struct cact_request *req, cact_output_fn fn, void *user);

/* A deep copy (the tools are shared by reference). *out is owned. */
CACT_API int cact_request_dup(const struct cact_request *req, struct cact_request **out);

/*
 * Normalizes a mount path under /input as cact_request_add_mount does.
 * Writes "/input/..." into out. Returns 0, CACT_EINVAL (blank, "..", nothing
 * left) or CACT_ETOOBIG (does not fit in out_size).
 */
CACT_API int cact_mount_path_normalize(const char *path, char *out, size_t out_size,
				       struct cact_error *err);

#ifdef __cplusplus
}
#endif
#endif
