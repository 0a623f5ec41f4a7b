/* SPDX-License-Identifier: MIT */
/*
 * The MCP client's internals: one connection to one server, over a
 * transport (client_stdio.c: a program spawned with pipes; client_http.c:
 * Streamable HTTP), and the transport-agnostic core (client.c): the
 * connection's state (down, starting, up), the handshake, requests with
 * their timeout and cancellation, tools/list and the tools made from it.
 *
 * A transport delivers one request's response to the thread that sent it;
 * many threads send at once. The core starts the connection when it is
 * down (the first time, or again after a stdio server died), at most
 * MCPC_RESTARTS times per MCPC_RESTART_WINDOW_US.
 */
#ifndef CACT_MCP_CLIENT_INTERNAL_H
#define CACT_MCP_CLIENT_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cact/mcp.h>

#define MCPC_PROTOCOL_VERSION	"2025-11-25"
#define MCPC_DEFAULT_TIMEOUT_MS 60000u
#define MCPC_DEFAULT_MAX	(16u << 20)
#define MCPC_NAME_MAX		64
#define MCPC_RESTARTS		5
#define MCPC_RESTART_WINDOW_US	60000000ull
#define MCPC_MAX_TOOLS		1024
#define MCPC_MAX_PAGES		64
#define MCPC_LOG_LINE		4096

/*
 * What a transport's request returns besides 0 (a response in *reply) and
 * a negative CACT_ code (err set): outcomes the core acts on.
 */
enum {
	MCPC_RECONNECT = 1, /* the connection is gone and the request was not sent: start again */
	MCPC_TIMEOUT = 2,   /* no response before the deadline */
	MCPC_CANCELLED = 3, /* cancel_fd became readable */
};

struct cact_mcp_client;

struct mcpc_transport {
	/* Starts a connection (spawns the program; nothing for HTTP). */
	int (*open)(struct cact_mcp_client *c, struct cact_error *err);
	/*
	 * Sends request id and waits for its response until deadline_us
	 * (ut_now_us clock) or until cancel_fd (-1: none) is readable. 0 with
	 * *reply the whole response message (owned: a result or an error with
	 * this id), an MCPC_ outcome, or a negative code with err set.
	 */
	int (*request)(struct cact_mcp_client *c, long long id, const char *method, json_t *params,
		       uint64_t deadline_us, int cancel_fd, json_t **reply, struct cact_error *err);
	/* Sends a notification (params may be NULL). */
	int (*notify)(struct cact_mcp_client *c, const char *method, json_t *params,
		      struct cact_error *err);
	/*
	 * Ends the connection: the session is deleted, the program stops
	 * (given time to exit by itself unless now).
	 */
	void (*close)(struct cact_mcp_client *c, int now);
	/* Frees the transport's state (after close). */
	void (*release)(struct cact_mcp_client *c);
};

enum mcpc_state { MCPC_DOWN, MCPC_STARTING, MCPC_UP };

struct cact_mcp_client {
	atomic_int refs;
	char *name;
	char **argv; /* NULL-terminated; NULL for HTTP */
	char **env;  /* "K=V", n_env of them */
	size_t n_env;
	char *cwd;
	char *url;
	char **headers; /* "Name: value" */
	size_t n_headers;
	uint64_t timeout_ms;
	size_t max_message;
	const struct mcpc_transport *tr;
	void *tr_data;
	atomic_llong next_id;

	pthread_mutex_t lock; /* guards what follows */
	pthread_cond_t cond;  /* state changes */
	enum mcpc_state state;
	unsigned gen;			/* counts starts: a loss is reported for one generation */
	uint64_t starts[MCPC_RESTARTS]; /* when the last starts were, a ring */
	size_t n_starts;
	char version[32]; /* the negotiated protocol version */
	json_t *tools;	  /* tools/list, gathered when the client was made */
};

extern const struct mcpc_transport mcpc_stdio;
extern const struct mcpc_transport mcpc_http;

/* The generation being started or running (lock not held). */
unsigned mcpc_generation(struct cact_mcp_client *c);
/* A transport saw connection gen die: the next request starts it again. */
void mcpc_lost(struct cact_mcp_client *c, unsigned gen);
/* The negotiated protocol version, copied into out ("" before the handshake). */
void mcpc_version(struct cact_mcp_client *c, char *out, size_t size);

/*
 * A line for the log (our stderr), prefixed "[mcp NAME] ", written in one
 * write so that lines of several servers do not interleave.
 */
void mcpc_log(const struct cact_mcp_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
