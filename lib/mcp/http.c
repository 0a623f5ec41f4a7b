/* SPDX-License-Identifier: MIT */
/*
 * Streamable HTTP (MCP "Transports", 2025-06-18 and 2025-11-25) on
 * libmicrohttpd, one thread per connection, so that a handler may wait for
 * a call's messages. Besides, for operators (ops.c): GET /healthz and
 * /readyz for anyone, /metrics behind the token. One MCP endpoint, /mcp:
 *
 *   POST    one JSON-RPC message. initialize without Mcp-Session-Id makes
 *           a session (its id in the answer's Mcp-Session-Id); everything
 *           else names one. Notifications and responses: 202. Requests: one
 *           JSON body when the answer is the only message and comes within
 *           JSON_WAIT_MS, else an SSE stream of the call's messages
 *           (progress, log messages, elicitation requests), then its
 *           response.
 *   GET     the session's SSE stream for messages about nothing in
 *           particular (notifications/tools/list_changed); one at a time.
 *   DELETE  ends the session and stops its executions.
 *
 * Streams carry no event ids: they cannot be resumed, so a client that
 * hangs up on a call's stream would never get its answer, and the call is
 * cancelled (the execution killed).
 *
 * Every request is checked first against DNS rebinding (Host, when bound
 * to loopback; Origin, always), then the bearer token.
 *
 * Slow clients: a connection has a few seconds (header_timeout_ms) to
 * deliver a request's headers and pass those checks, counted from accept
 * and again from the end of each request; past that, a watchdog shuts its
 * socket down. Accepted requests (a stream may last minutes) are under
 * libmicrohttpd's idle timeout only. One address holds at most
 * max_conns_per_ip of the max_connections connections.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../util/buf.h"
#include "../util/text.h"
#include "../util/util.h"
#include "mhd.h"
#include "server.h"

#define ENDPOINT	"/mcp"
#define MAX_SESSIONS	256
#define IDLE_TIMEOUT_S	120 /* an accepted request that neither sends nor receives */
#define KEEPALIVE_MS	15000
#define JSON_WAIT_MS	10000
#define PENDING_MAX	64 /* session messages kept until a GET stream opens */
#define SESSION_IDLE_US (3600ull * 1000000u)
#define SSE_BLOCK	16384

struct qmsg {
	char *text;
	size_t len;
	struct qmsg *next;
};

/* The messages of one HTTP request: a POST's answer, or a GET stream. */
struct exch {
	pthread_mutex_t lock;
	int refs;
	int efd; /* eventfd: a message was queued, or the stream ended */
	struct qmsg *head, *tail;
	int final; /* nothing more comes */
	int conn_fd;
	int stop_efd;
	struct cact_mcp_server *srv; /* for the metrics */
	/* What the SSE reader is writing (its thread only). */
	char *cur;
	size_t cur_len, cur_off;
};

struct http_srv;

struct hsess {
	char id[65];
	struct mcp_session *core;
	int refs;	       /* h->lock */
	int listed;	       /* in h->sessions (h->lock) */
	uint64_t used_us;      /* h->lock */
	pthread_mutex_t qlock; /* get, pending */
	struct exch *get;
	struct qmsg *pending, *pending_tail;
	size_t n_pending;
	struct hsess *next;
};

/*
 * One TCP connection (libmicrohttpd's socket context), listed from accept
 * to close. Until deadline_us it may take to deliver its request's headers;
 * libmicrohttpd's own timeout counts idle time only, which a client
 * trickling a byte every few seconds never reaches, hence the watchdog.
 */
struct hconn {
	int fd;
	uint64_t deadline_us; /* 0: none (h->clock) */
	struct hconn *prev, *next;
};

struct http_srv {
	struct cact_mcp_server *srv;
	int loopback;
	unsigned port;
	int stop_efd;
	pthread_mutex_t lock; /* sessions */
	struct hsess *sessions;
	size_t n_sessions;
	uint64_t header_us;    /* time to deliver a request's headers */
	pthread_mutex_t clock; /* conns, and each one's deadline */
	struct hconn *conns;
};

/* One request (MHD's per-request pointer). */
struct req {
	struct cact_mcp_server *srv;
	uint64_t out_bytes; /* the body of its answer, for the metrics */
	int open;	    /* counted in srv->open_requests until it completes */
	struct ut_buf body;
	int refused; /* answered before the body was read */
	int too_big; /* the body went over the cap */
	int is_get;
	char *cors; /* the accepted Origin, echoed back */
	struct exch *ex;
	struct hsess *hs;
};

/* ---- exchanges ---- */

static struct exch *exch_new(struct http_srv *h, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct exch *ex = calloc(1, sizeof(*ex));

	if (!ex)
		return NULL;
	ex->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ex->efd < 0) {
		free(ex);
		return NULL;
	}
	pthread_mutex_init(&ex->lock, NULL);
	ex->refs = 1;
	ex->conn_fd = ci ? ci->connect_fd : -1;
	ex->stop_efd = h->stop_efd;
	ex->srv = h->srv;
	return ex;
}

static void queue_free(struct qmsg *q)
{
	while (q) {
		struct qmsg *next = q->next;

		free(q->text);
		free(q);
		q = next;
	}
}

static struct exch *exch_ref(struct exch *ex)
{
	pthread_mutex_lock(&ex->lock);
	ex->refs++;
	pthread_mutex_unlock(&ex->lock);
	return ex;
}

static void exch_unref(struct exch *ex)
{
	int last;

	if (!ex)
		return;
	pthread_mutex_lock(&ex->lock);
	last = --ex->refs == 0;
	pthread_mutex_unlock(&ex->lock);
	if (!last)
		return;
	queue_free(ex->head);
	free(ex->cur);
	ut_close(&ex->efd);
	pthread_mutex_destroy(&ex->lock);
	free(ex);
}

/* Queues text (owned; may be NULL) and, with final, ends the stream. Never blocks. */
static void exch_push(struct exch *ex, char *text, size_t len, int final)
{
	struct qmsg *q = NULL;
	uint64_t one = 1;

	if (text && !(q = malloc(sizeof(*q)))) {
		free(text);
		text = NULL;
	}
	pthread_mutex_lock(&ex->lock);
	if (ex->final) {
		pthread_mutex_unlock(&ex->lock);
		free(text);
		free(q);
		return;
	}
	if (q) {
		q->text = text;
		q->len = len;
		q->next = NULL;
		if (ex->tail)
			ex->tail->next = q;
		else
			ex->head = q;
		ex->tail = q;
	}
	if (final)
		ex->final = 1;
	pthread_mutex_unlock(&ex->lock);
	if (write(ex->efd, &one, sizeof(one)) < 0)
		(void)0; /* the counter is far from overflowing */
}

/*
 * Waits up to ms for a message or the end of the stream: 1. 0 when the
 * time passed, -1 when the client hung up or the server is stopping.
 */
static int exch_wait(struct exch *ex, int ms)
{
	struct pollfd p[3] = {{.fd = ex->efd, .events = POLLIN},
			      {.fd = ex->stop_efd, .events = POLLIN},
			      {.fd = ex->conn_fd, .events = POLLRDHUP}};
	uint64_t drained;
	int ready, rc;

	for (;;) {
		pthread_mutex_lock(&ex->lock);
		ready = ex->head || ex->final;
		pthread_mutex_unlock(&ex->lock);
		if (ready)
			return 1;
		rc = poll(p, ex->conn_fd >= 0 ? 3 : 2, ms);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			return rc < 0 ? -1 : 0;
		if (p[1].revents || (p[2].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)))
			return -1;
		if (p[0].revents && read(ex->efd, &drained, sizeof(drained)) < 0)
			(void)0; /* EAGAIN: another reader drained it */
	}
}

/* ---- sessions ---- */

/* Messages of the session (stream) or of one request (stream: its exchange). */
static void hs_send(void *user, void *stream, char *text, size_t len, unsigned flags)
{
	struct hsess *hs = user;
	struct qmsg *q;

	if (stream) {
		exch_push(stream, text, len, (flags & MCP_SEND_FINAL) != 0);
		return;
	}
	if (!text)
		return;
	pthread_mutex_lock(&hs->qlock);
	if (hs->get) {
		exch_push(hs->get, text, len, 0);
	} else if ((q = malloc(sizeof(*q)))) {
		q->text = text;
		q->len = len;
		q->next = NULL;
		if (hs->pending_tail)
			hs->pending_tail->next = q;
		else
			hs->pending = q;
		hs->pending_tail = q;
		if (++hs->n_pending > PENDING_MAX) {
			q = hs->pending;
			hs->pending = q->next;
			q->next = NULL;
			queue_free(q);
			hs->n_pending--;
		}
	} else {
		free(text);
	}
	pthread_mutex_unlock(&hs->qlock);
}

static int random_id(char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[32];
	size_t got = 0, i;

	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		got += (size_t)n;
	}
	for (i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[64] = '\0';
	return 0;
}

static struct hsess *hsess_new(struct http_srv *h)
{
	struct hsess *hs = calloc(1, sizeof(*hs));

	if (!hs)
		return NULL;
	pthread_mutex_init(&hs->qlock, NULL);
	if (random_id(hs->id) || mcp_session_new(h->srv, hs_send, hs, &hs->core, NULL)) {
		pthread_mutex_destroy(&hs->qlock);
		free(hs);
		return NULL;
	}
	hs->refs = 1;
	return hs;
}

/* Stops the session's executions and ends its GET stream. */
static void hsess_end(struct hsess *hs)
{
	mcp_session_shutdown(hs->core);
	pthread_mutex_lock(&hs->qlock);
	if (hs->get)
		exch_push(hs->get, NULL, 0, 1);
	pthread_mutex_unlock(&hs->qlock);
}

static void hsess_destroy(struct hsess *hs)
{
	mcp_session_free(hs->core);
	exch_unref(hs->get);
	queue_free(hs->pending);
	pthread_mutex_destroy(&hs->qlock);
	free(hs);
}

static void hsess_unref(struct http_srv *h, struct hsess *hs)
{
	int last;

	if (!hs)
		return;
	pthread_mutex_lock(&h->lock);
	last = --hs->refs == 0;
	pthread_mutex_unlock(&h->lock);
	if (last)
		hsess_destroy(hs);
}

static void unlist(struct http_srv *h, struct hsess *hs)
{
	struct hsess **p;

	for (p = &h->sessions; *p; p = &(*p)->next)
		if (*p == hs) {
			*p = hs->next;
			hs->listed = 0;
			h->n_sessions--;
			return;
		}
}

/* Compares in time independent of where the strings differ. */
static int same_secret(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i;
	unsigned char d = la != lb;

	for (i = 0; i < la && i < lb; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

/* The session named id, with a reference, or NULL. */
static struct hsess *lookup(struct http_srv *h, const char *id)
{
	struct hsess *hs;

	pthread_mutex_lock(&h->lock);
	for (hs = h->sessions; hs; hs = hs->next)
		if (same_secret(hs->id, id)) {
			hs->refs++;
			hs->used_us = ut_now_us();
			break;
		}
	pthread_mutex_unlock(&h->lock);
	return hs;
}

/*
 * Makes room for one more session: drops sessions idle for an hour, and
 * when still full the least recently used one nobody is using. 0, or -1
 * when every session is busy.
 */
static int make_room(struct http_srv *h)
{
	struct hsess *hs, *lru, *gone = NULL;
	uint64_t now = ut_now_us();
	int rc = 0;

	pthread_mutex_lock(&h->lock);
	for (;;) {
		lru = NULL;
		for (hs = h->sessions; hs; hs = hs->next)
			if (hs->refs == 1 && !mcp_session_calls(hs->core) &&
			    (!lru || hs->used_us < lru->used_us))
				lru = hs;
		if (!lru || (now - lru->used_us <= SESSION_IDLE_US && h->n_sessions < MAX_SESSIONS))
			break;
		unlist(h, lru);
		lru->next = gone;
		gone = lru;
	}
	if (h->n_sessions >= MAX_SESSIONS)
		rc = -1;
	pthread_mutex_unlock(&h->lock);
	while ((hs = gone)) {
		gone = hs->next;
		hsess_end(hs);
		hsess_unref(h, hs);
	}
	return rc;
}

/* ---- connections ---- */

static struct hconn *conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* The time by which the connection must have sent a request's headers; 0: none. */
static void conn_set_deadline(struct http_srv *h, struct MHD_Connection *conn, uint64_t us)
{
	struct hconn *c = conn_of(conn);

	if (!c)
		return;
	pthread_mutex_lock(&h->clock);
	c->deadline_us = us;
	pthread_mutex_unlock(&h->clock);
}

/*
 * Lists a connection at accept, with a deadline for its first headers, and
 * unlists it at close. libmicrohttpd calls this before the connection's
 * thread starts and, at the end, before it closes the socket: a listed fd
 * is never one that was closed and reused.
 */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	const union MHD_ConnectionInfo *ci;
	struct http_srv *h = cls;
	struct hconn *c = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (!c)
			return;
		pthread_mutex_lock(&h->clock);
		if (c->prev)
			c->prev->next = c->next;
		else
			h->conns = c->next;
		if (c->next)
			c->next->prev = c->prev;
		pthread_mutex_unlock(&h->clock);
		free(c);
		*socket_context = NULL;
		return;
	}
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci)
		return;
	c = calloc(1, sizeof(*c));
	if (!c) {
		/* Unwatched, it could keep its slot for good: it goes at once. */
		shutdown(ci->connect_fd, SHUT_RDWR);
		return;
	}
	c->fd = ci->connect_fd;
	c->deadline_us = ut_now_us() + h->header_us;
	pthread_mutex_lock(&h->clock);
	c->next = h->conns;
	if (c->next)
		c->next->prev = c;
	h->conns = c;
	pthread_mutex_unlock(&h->clock);
	*socket_context = c;
}

/*
 * Shuts down the sockets of connections past their deadline, until the
 * server stops. libmicrohttpd's thread for the connection then reads the
 * end of the stream and closes it. A deadline set from now on is at least
 * header_us away, so sleeping that long when none is nearer misses none.
 */
static void *watchdog(void *arg)
{
	struct http_srv *h = arg;
	struct pollfd p = {.fd = h->stop_efd, .events = POLLIN};

	for (;;) {
		uint64_t now = ut_now_us(), wait = h->header_us;
		struct hconn *c;

		pthread_mutex_lock(&h->clock);
		for (c = h->conns; c; c = c->next) {
			if (!c->deadline_us)
				continue;
			if (c->deadline_us <= now) {
				shutdown(c->fd, SHUT_RDWR);
				c->deadline_us = 0;
			} else if (c->deadline_us - now < wait) {
				wait = c->deadline_us - now;
			}
		}
		pthread_mutex_unlock(&h->clock);
		if (poll(&p, 1, (int)((wait + 999) / 1000)) > 0)
			return NULL;
	}
}

/* ---- request checks ---- */

static const char *header(struct MHD_Connection *conn, const char *name)
{
	return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

static int loopback_name(const char *name, size_t len)
{
	static const char *const names[] = {"localhost", "127.0.0.1", "[::1]"};
	size_t i;

	for (i = 0; i < UT_ARRAY_SIZE(names); i++)
		if (len == strlen(names[i]) && strncasecmp(name, names[i], len) == 0)
			return 1;
	return 0;
}

/* Splits "name[:port]" ("[v6]:port" too). The port is 0 when absent, -1 when malformed. */
static long split_host(const char *v, size_t *name_len)
{
	const char *colon;
	uint64_t port;

	if (v[0] == '[') {
		const char *close = strchr(v, ']');

		if (!close)
			return -1;
		*name_len = (size_t)(close - v) + 1;
		colon = close[1] == ':' ? close + 1 : NULL;
		if (close[1] && !colon)
			return -1;
	} else {
		colon = strchr(v, ':');
		*name_len = colon ? (size_t)(colon - v) : strlen(v);
		if (colon && strchr(colon + 1, ':'))
			return -1;
	}
	if (!colon)
		return 0;
	return ut_parse_u64(colon + 1, &port) || port == 0 || port > 65535 ? -1 : (long)port;
}

/* Bound to loopback: Host must be a loopback name with our port. */
static int host_ok(const struct http_srv *h, const char *host)
{
	size_t n;
	long port;

	if (!h->loopback)
		return 1;
	if (!host)
		return 0;
	port = split_host(host, &n);
	if (port < 0 || !loopback_name(host, n))
		return 0;
	return port ? (unsigned)port == h->port : h->port == 80;
}

/* No Origin (not a browser), a loopback one, or one the operator allowed. */
static int origin_ok(const struct http_srv *h, const char *origin)
{
	const char *rest;
	size_t n, i;

	if (!origin)
		return 1;
	n = strlen(origin);
	if (n > 0 && origin[n - 1] == '/')
		n--;
	for (i = 0; i < h->srv->n_origins; i++)
		if (strlen(h->srv->origins[i]) == n &&
		    strncasecmp(origin, h->srv->origins[i], n) == 0)
			return 1;
	if (strncasecmp(origin, "http://", 7) == 0)
		rest = origin + 7;
	else if (strncasecmp(origin, "https://", 8) == 0)
		rest = origin + 8;
	else
		return 0; /* "null", other schemes */
	if (strchr(rest, '/'))
		return 0;
	return split_host(rest, &n) >= 0 && loopback_name(rest, n);
}

static int auth_ok(const struct http_srv *h, const char *authz)
{
	if (!h->srv->token)
		return 1;
	if (!authz || strncasecmp(authz, "Bearer ", 7) != 0)
		return 0;
	authz += 7;
	while (*authz == ' ')
		authz++;
	return same_secret(authz, h->srv->token);
}

/* Whether a header value lists type (a media range, parameters ignored). */
static int lists(const char *value, const char *type)
{
	size_t tl = strlen(type);

	while (value && *value) {
		const char *end = strchr(value, ','), *semi;
		size_t n;

		while (*value == ' ' || *value == '\t')
			value++;
		n = end ? (size_t)(end - value) : strlen(value);
		semi = memchr(value, ';', n);
		if (semi)
			n = (size_t)(semi - value);
		while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
			n--;
		if (n == tl && strncasecmp(value, type, n) == 0)
			return 1;
		value = end ? end + 1 : NULL;
	}
	return 0;
}

/* ---- responses ---- */

static enum MHD_Result queue(struct MHD_Connection *conn, struct req *r, unsigned status,
			     struct MHD_Response *resp)
{
	enum MHD_Result ok;

	if (!resp)
		return MHD_NO;
	if (r)
		mcp_note_http(r->srv, status, r->out_bytes);
	if (r && r->cors) {
		MHD_add_response_header(resp, "Access-Control-Allow-Origin", r->cors);
		MHD_add_response_header(resp, "Access-Control-Expose-Headers",
					"Mcp-Session-Id, WWW-Authenticate");
		MHD_add_response_header(resp, "Vary", "Origin");
	}
	ok = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ok;
}

/* A response of len bytes of text, counted in r for the metrics. */
static struct MHD_Response *body(struct req *r, const char *text, size_t len, const char *type)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);

	if (resp && r)
		r->out_bytes += len;

	if (resp && type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	return resp;
}

/* A JSON-RPC error (id null unless given) as the body of an HTTP error status. */
static enum MHD_Result fail_id(struct MHD_Connection *conn, struct req *r, unsigned status,
			       json_t *id, int code, const char *message)
{
	json_t *m = jrpc_error(id, code, message, NULL);
	char *text = jrpc_dump(m);
	enum MHD_Result ok;

	json_decref(m);
	if (r)
		r->refused = 1;
	ok = queue(conn, r, status,
		   body(r, text ? text : "", text ? strlen(text) : 0, "application/json"));
	free(text);
	return ok;
}

static enum MHD_Result fail(struct MHD_Connection *conn, struct req *r, unsigned status,
			    const char *message)
{
	return fail_id(conn, r, status, NULL, -32000, message);
}

static enum MHD_Result unauthorized(struct MHD_Connection *conn, struct req *r, int presented)
{
	struct MHD_Response *resp;
	static const char msg[] = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32000,"
				  "\"message\":\"unauthorized: a bearer token is required\"}}";

	r->refused = 1;
	resp = body(r, msg, sizeof(msg) - 1, "application/json");
	if (resp)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					presented ? "Bearer realm=\"cact\", error=\"invalid_token\""
						  : "Bearer realm=\"cact\"");
	return queue(conn, r, MHD_HTTP_UNAUTHORIZED, resp);
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	static const char keepalive[] = ": keep-alive\n\n";
	struct exch *ex = cls;

	(void)pos;
	for (;;) {
		struct qmsg *q;
		int w;

		if (ex->cur) {
			size_t n = ex->cur_len - ex->cur_off;

			if (n > max)
				n = max;
			memcpy(buf, ex->cur + ex->cur_off, n);
			ex->cur_off += n;
			mcp_note_http_bytes(ex->srv, 0, n);
			if (ex->cur_off == ex->cur_len) {
				free(ex->cur);
				ex->cur = NULL;
			}
			return (ssize_t)n;
		}
		pthread_mutex_lock(&ex->lock);
		q = ex->head;
		if (q) {
			ex->head = q->next;
			if (!ex->head)
				ex->tail = NULL;
		}
		w = ex->final;
		pthread_mutex_unlock(&ex->lock);
		if (q) {
			struct ut_buf b;

			ut_buf_init(&b, q->len + 64);
			ut_buf_addf(&b, "event: message\ndata: ");
			ut_buf_add(&b, q->text, q->len);
			ut_buf_add(&b, "\n\n", 2);
			free(q->text);
			free(q);
			if (!b.p)
				return MHD_CONTENT_READER_END_WITH_ERROR;
			ex->cur = ut_buf_steal(&b, &ex->cur_len);
			ex->cur_off = 0;
			continue;
		}
		if (w)
			return MHD_CONTENT_READER_END_OF_STREAM;
		w = exch_wait(ex, KEEPALIVE_MS);
		if (w < 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (w == 0) {
			/* A comment: keeps proxies open and finds clients that left. */
			ex->cur = strdup(keepalive);
			ex->cur_len = sizeof(keepalive) - 1;
			ex->cur_off = 0;
			if (!ex->cur)
				return MHD_CONTENT_READER_END_WITH_ERROR;
		}
	}
}

static void sse_free(void *cls)
{
	exch_unref(cls);
}

static enum MHD_Result sse(struct MHD_Connection *conn, struct req *r, struct exch *ex,
			   const char *sid)
{
	struct MHD_Response *resp = MHD_create_response_from_callback(
		MHD_SIZE_UNKNOWN, SSE_BLOCK, sse_read, exch_ref(ex), sse_free);

	if (!resp) {
		exch_unref(ex);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	if (sid)
		MHD_add_response_header(resp, "Mcp-Session-Id", sid);
	return queue(conn, r, MHD_HTTP_OK, resp);
}

/*
 * The answer to a request fed with exchange ex: one JSON body when the
 * response is the only message and comes soon, else an SSE stream.
 */
static enum MHD_Result answer(struct MHD_Connection *conn, struct req *r, struct exch *ex,
			      const char *sid)
{
	struct MHD_Response *resp;
	struct qmsg *q = NULL;
	int w = exch_wait(ex, JSON_WAIT_MS);

	if (w < 0)
		return MHD_NO; /* the client left, or the server is stopping */
	pthread_mutex_lock(&ex->lock);
	if (ex->final && ex->head && ex->head == ex->tail) {
		q = ex->head;
		ex->head = ex->tail = NULL;
	}
	pthread_mutex_unlock(&ex->lock);
	if (!q)
		return sse(conn, r, ex, sid);
	resp = body(r, q->text, q->len, "application/json");
	queue_free(q);
	if (resp && sid)
		MHD_add_response_header(resp, "Mcp-Session-Id", sid);
	return queue(conn, r, MHD_HTTP_OK, resp);
}

/* ---- methods ---- */

/* The request waits for an answer: a drain waits for it to go out (on_completed). */
static void mark_open(struct req *r)
{
	r->open = 1;
	__atomic_add_fetch(&r->srv->open_requests, 1, __ATOMIC_ACQ_REL);
}

/* A new session while draining: 503, come back (to another replica) in a second. */
static enum MHD_Result draining(struct MHD_Connection *conn, struct req *r)
{
	static const char msg[] = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32000,"
				  "\"message\":\"cact is shutting down (draining) and takes no new "
				  "sessions: retry, another replica will take it\"}}";
	struct MHD_Response *resp;

	r->refused = 1;
	resp = body(r, msg, sizeof(msg) - 1, "application/json");
	if (resp) {
		MHD_add_response_header(resp, "Retry-After", "1");
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	}
	return queue(conn, r, MHD_HTTP_SERVICE_UNAVAILABLE, resp);
}

/*
 * GET /healthz, /readyz and /metrics: plain text, never cached. A body is
 * read and dropped.
 */
static enum MHD_Result ops_reply(struct MHD_Connection *conn, struct req *r, struct http_srv *h,
				 const char *url, const char *method)
{
	struct MHD_Response *resp;
	char *text = NULL;
	size_t len = 0;
	int status;

	r->refused = 1;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		resp = body(r, "", 0, NULL);
		if (resp)
			MHD_add_response_header(resp, "Allow", "GET, HEAD");
		return queue(conn, r, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
	}
	status = mcp_ops_answer(h->srv, url, &text, &len);
	if (!text)
		return MHD_NO;
	resp = body(r, text, len,
		    mcp_ops_path(url) == 2 ? "text/plain; version=0.0.4; charset=utf-8"
					   : "text/plain; charset=utf-8");
	free(text);
	if (resp)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return queue(conn, r, (unsigned)status, resp);
}

/* The session a request names, checked: NULL after answering 400 or 404. */
static struct hsess *named_session(struct MHD_Connection *conn, struct req *r, struct http_srv *h)
{
	const char *sid = header(conn, "Mcp-Session-Id");
	const char *pv = header(conn, "MCP-Protocol-Version");
	struct hsess *hs;

	if (!sid) {
		fail(conn, r, MHD_HTTP_BAD_REQUEST, "bad request: Mcp-Session-Id header missing");
		return NULL;
	}
	hs = lookup(h, sid);
	if (!hs) {
		fail(conn, r, MHD_HTTP_NOT_FOUND, "session not found: initialize a new one");
		return NULL;
	}
	if (pv && !mcp_version_supported(pv)) {
		hsess_unref(h, hs);
		fail(conn, r, MHD_HTTP_BAD_REQUEST,
		     "bad request: unsupported MCP-Protocol-Version");
		return NULL;
	}
	r->hs = hs;
	return hs;
}

static enum MHD_Result post_initialize(struct MHD_Connection *conn, struct req *r,
				       struct http_srv *h, struct jrpc_msg *m)
{
	struct hsess *hs;
	int full;

	if (mcp_draining(h->srv)) {
		jrpc_clear(m);
		return draining(conn, r);
	}
	if (make_room(h)) {
		jrpc_clear(m);
		return fail(conn, r, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "too many sessions: end one (DELETE) or try later");
	}
	hs = hsess_new(h);
	r->ex = hs ? exch_new(h, conn) : NULL;
	if (!r->ex) {
		jrpc_clear(m);
		if (hs)
			hsess_destroy(hs);
		return fail(conn, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	}
	mark_open(r);
	mcp_session_handle(hs->core, m, r->ex);
	if (!mcp_session_version(hs->core)) {
		/* Refused (bad params): the error is the answer, and there is no session. */
		hsess_destroy(hs);
		return answer(conn, r, r->ex, NULL);
	}
	pthread_mutex_lock(&h->lock);
	full = h->n_sessions >= MAX_SESSIONS;
	if (!full) {
		hs->next = h->sessions;
		h->sessions = hs;
		hs->listed = 1;
		hs->used_us = ut_now_us();
		hs->refs++; /* this request's */
		h->n_sessions++;
	}
	pthread_mutex_unlock(&h->lock);
	if (full) {
		hsess_destroy(hs);
		return fail(conn, r, MHD_HTTP_SERVICE_UNAVAILABLE, "too many sessions");
	}
	r->hs = hs;
	return answer(conn, r, r->ex, hs->id);
}

static enum MHD_Result post(struct MHD_Connection *conn, struct req *r, struct http_srv *h)
{
	struct cact_error err = {0};
	json_t *bad_id = NULL;
	struct jrpc_msg m;
	struct hsess *hs;
	enum MHD_Result ok;
	int rc;

	rc = jrpc_parse(r->body.p ? r->body.p : "", r->body.len, h->srv->max_message, &m, &bad_id,
			&err);
	if (rc) {
		ok = fail_id(conn, r, MHD_HTTP_BAD_REQUEST, bad_id, rc, err.message);
		json_decref(bad_id);
		return ok;
	}
	if (m.kind == JRPC_REQUEST && strcmp(m.method, "initialize") == 0 &&
	    !header(conn, "Mcp-Session-Id"))
		return post_initialize(conn, r, h, &m);
	hs = named_session(conn, r, h);
	if (!hs) {
		jrpc_clear(&m);
		return MHD_YES;
	}
	if (m.kind != JRPC_REQUEST) {
		mcp_session_handle(hs->core, &m, NULL);
		return queue(conn, r, MHD_HTTP_ACCEPTED, body(r, "", 0, NULL));
	}
	r->ex = exch_new(h, conn);
	if (!r->ex) {
		jrpc_clear(&m);
		return fail(conn, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	}
	mark_open(r);
	mcp_session_handle(hs->core, &m, r->ex);
	return answer(conn, r, r->ex, NULL);
}

static enum MHD_Result get(struct MHD_Connection *conn, struct req *r, struct http_srv *h)
{
	struct hsess *hs;
	struct exch *ex;
	struct qmsg *q;

	if (!lists(header(conn, MHD_HTTP_HEADER_ACCEPT), "text/event-stream"))
		return fail(conn, r, MHD_HTTP_NOT_ACCEPTABLE,
			    "not acceptable: Accept must list text/event-stream");
	hs = named_session(conn, r, h);
	if (!hs)
		return MHD_YES;
	ex = exch_new(h, conn);
	if (!ex)
		return fail(conn, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	pthread_mutex_lock(&hs->qlock);
	if (hs->get) {
		pthread_mutex_unlock(&hs->qlock);
		exch_unref(ex);
		return fail(conn, r, MHD_HTTP_CONFLICT,
			    "conflict: this session already has a GET stream open");
	}
	hs->get = exch_ref(ex);
	while ((q = hs->pending)) {
		hs->pending = q->next;
		exch_push(ex, q->text, q->len, 0);
		free(q);
	}
	hs->pending_tail = NULL;
	hs->n_pending = 0;
	pthread_mutex_unlock(&hs->qlock);
	r->ex = ex;
	r->is_get = 1;
	return sse(conn, r, ex, NULL);
}

static enum MHD_Result end_session(struct MHD_Connection *conn, struct req *r, struct http_srv *h)
{
	struct hsess *hs = named_session(conn, r, h);
	int was_listed;

	if (!hs)
		return MHD_YES;
	pthread_mutex_lock(&h->lock);
	was_listed = hs->listed;
	if (was_listed)
		unlist(h, hs);
	pthread_mutex_unlock(&h->lock);
	if (was_listed) {
		hsess_end(hs);
		hsess_unref(h, hs); /* the list's reference */
	}
	return queue(conn, r, MHD_HTTP_OK, body(r, "", 0, NULL));
}

static enum MHD_Result preflight(struct MHD_Connection *conn, struct req *r)
{
	struct MHD_Response *resp = body(r, "", 0, NULL);

	if (resp) {
		MHD_add_response_header(resp, "Allow", "GET, POST, DELETE, OPTIONS");
		if (r->cors) {
			MHD_add_response_header(resp, "Access-Control-Allow-Methods",
						"GET, POST, DELETE, OPTIONS");
			MHD_add_response_header(resp, "Access-Control-Allow-Headers",
						"Content-Type, Accept, Authorization, "
						"Mcp-Session-Id, MCP-Protocol-Version, "
						"Last-Event-ID");
			MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
		}
	}
	return queue(conn, r, MHD_HTTP_NO_CONTENT, resp);
}

/* What every request passes before its method is looked at. */
static enum MHD_Result first(struct MHD_Connection *conn, struct req *r, struct http_srv *h,
			     const char *url, const char *method)
{
	const char *origin = header(conn, "Origin"), *v;
	int ops = mcp_ops_path(url);
	uint64_t n;

	/*
	 * Probes (load balancers, Kubernetes) come with whatever Host they
	 * like and no token; the answers do nothing and say nothing secret.
	 */
	if (ops == 1)
		return ops_reply(conn, r, h, url, method);
	if (!host_ok(h, header(conn, MHD_HTTP_HEADER_HOST)))
		return fail(conn, r, MHD_HTTP_FORBIDDEN,
			    "forbidden: Host is not this server's loopback address");
	if (!origin_ok(h, origin))
		return fail(conn, r, MHD_HTTP_FORBIDDEN, "forbidden: Origin not allowed");
	if (origin && !(r->cors = strdup(origin)))
		return MHD_NO;
	if (ops == 2 && !h->srv->metrics_elsewhere) {
		if (!auth_ok(h, header(conn, MHD_HTTP_HEADER_AUTHORIZATION)))
			return unauthorized(conn, r,
					    header(conn, MHD_HTTP_HEADER_AUTHORIZATION) != NULL);
		return ops_reply(conn, r, h, url, method);
	}
	if (strcmp(url, ENDPOINT) != 0)
		return fail(conn, r, MHD_HTTP_NOT_FOUND, "not found: the endpoint is " ENDPOINT);
	if (strcmp(method, "OPTIONS") == 0)
		return preflight(conn, r);
	if (!auth_ok(h, header(conn, MHD_HTTP_HEADER_AUTHORIZATION)))
		return unauthorized(conn, r, header(conn, MHD_HTTP_HEADER_AUTHORIZATION) != NULL);
	conn_set_deadline(h, conn, 0); /* a client allowed in may stream, or send its body slowly */
	if (strcmp(method, "GET") == 0)
		return get(conn, r, h);
	if (strcmp(method, "DELETE") == 0)
		return end_session(conn, r, h);
	if (strcmp(method, "POST") != 0) {
		struct MHD_Response *resp = body(r, "", 0, NULL);

		r->refused = 1;
		if (resp)
			MHD_add_response_header(resp, "Allow", "GET, POST, DELETE, OPTIONS");
		return queue(conn, r, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
	}
	v = header(conn, MHD_HTTP_HEADER_ACCEPT);
	if (!lists(v, "application/json") || !lists(v, "text/event-stream"))
		return fail(conn, r, MHD_HTTP_NOT_ACCEPTABLE,
			    "not acceptable: Accept must list application/json and "
			    "text/event-stream");
	if (!lists(header(conn, MHD_HTTP_HEADER_CONTENT_TYPE), "application/json"))
		return fail(conn, r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
			    "unsupported media type: the body must be application/json");
	v = header(conn, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (v && ut_parse_u64(v, &n) == 0 && n > h->srv->max_message)
		return fail(conn, r, MHD_HTTP_CONTENT_TOO_LARGE, "payload too large");
	return MHD_YES; /* the body next */
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct http_srv *h = cls;
	struct req *r = *con_cls;

	(void)version;
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		r->srv = h->srv;
		ut_buf_init(&r->body, h->srv->max_message);
		*con_cls = r;
		return first(conn, r, h, url, method);
	}
	if (r->refused) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size) {
		mcp_note_http_bytes(h->srv, *upload_size, 0);
		/* Over the cap: the rest is read and dropped (a response may not be queued mid-body). */
		if (!r->too_big && ut_buf_add(&r->body, upload, *upload_size)) {
			r->too_big = 1;
			ut_buf_reset(&r->body);
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->too_big)
		return fail(conn, r, MHD_HTTP_CONTENT_TOO_LARGE, "payload too large");
	return post(conn, r, h);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_srv *h = cls;
	struct req *r = *con_cls;

	(void)toe;
	/* Kept alive, the connection has as long again for its next request's headers. */
	conn_set_deadline(h, conn, ut_now_us() + h->header_us);
	if (!r)
		return;
	if (r->ex && r->hs) {
		if (r->is_get) {
			pthread_mutex_lock(&r->hs->qlock);
			if (r->hs->get == r->ex) {
				r->hs->get = NULL;
				exch_unref(r->ex);
			}
			pthread_mutex_unlock(&r->hs->qlock);
		} else {
			/* A call whose stream is gone can never answer: it stops. */
			mcp_session_drop_stream(r->hs->core, r->ex);
		}
	}
	exch_unref(r->ex);
	hsess_unref(h, r->hs);
	if (r->open)
		__atomic_sub_fetch(&h->srv->open_requests, 1, __ATOMIC_ACQ_REL);
	ut_buf_reset(&r->body);
	free(r->cors);
	free(r);
	*con_cls = NULL;
}

static void quiet(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	(void)fmt;
	(void)ap;
}

/* ---- serving ---- */

static int is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return 0;
}

int mcp_http_resolve(const char *host, unsigned port, struct sockaddr_storage *ss,
		     struct cact_error *err)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai = NULL;
	char name[256];
	size_t n = strlen(host);
	int rc;

	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		host++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(name))
		return ut_err(err, CACT_EINVAL, "mcp http: bad host '%s'", host);
	memcpy(name, host, n);
	name[n] = '\0';
	rc = getaddrinfo(name, NULL, &hints, &ai);
	if (rc || !ai)
		return ut_err(err, CACT_EINVAL, "mcp http: cannot resolve host '%s': %s", name,
			      gai_strerror(rc));
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	else
		return ut_err(err, CACT_EINVAL, "mcp http: host '%s' is not an IP address", name);
	return 0;
}

static void wait_stop(int stop_fd)
{
	struct pollfd p = {.fd = stop_fd, .events = POLLIN};

	for (;;) {
		int rc = poll(&p, stop_fd >= 0 ? 1 : 0, -1);

		if (rc > 0 || (rc < 0 && errno != EINTR))
			return;
	}
}

CACT_API int cact_mcp_serve_http(struct cact_mcp_server *s, const char *host, unsigned port,
				 int stop_fd, unsigned *bound_port, struct cact_error *err)
{
	struct http_srv h = {.srv = s, .stop_efd = -1};
	const union MHD_DaemonInfo *info;
	struct sockaddr_storage ss;
	struct MHD_Daemon *d;
	struct hsess *hs;
	pthread_t wd;
	uint64_t one = 1;
	unsigned flags, per_ip;
	int rc;

	if (!s || port > 65535)
		return ut_err(err, CACT_EINVAL, "mcp http: bad arguments");
	if ((rc = mcp_http_resolve(host ? host : "127.0.0.1", port, &ss, err)) ||
	    (rc = mcp_mhd_load(err)))
		return rc;
	h.loopback = is_loopback((struct sockaddr *)&ss);
	h.stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h.stop_efd < 0)
		return ut_err_sys(err, CACT_ESYS, errno, "eventfd");
	pthread_mutex_init(&h.lock, NULL);
	pthread_mutex_init(&h.clock, NULL);
	h.header_us = s->header_timeout_ms * 1000u;
	per_ip = s->max_conns_per_ip < s->max_connections ? s->max_conns_per_ip : 0; /* 0: none */
	/*
	 * select, not poll: at the connection limit it stops accepting, so a
	 * client waits in the listen queue for a free slot (poll would accept
	 * and close it). Sockets must stay under FD_SETSIZE (1024), hence at
	 * most 512 connections: each may hold an eventfd besides its socket.
	 */
	flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	errno = 0;
	d = MHD_start_daemon(
		flags, (uint16_t)port, NULL, NULL, on_request, &h, MHD_OPTION_SOCK_ADDR,
		(struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED, on_completed, &h,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, &h, MHD_OPTION_CONNECTION_LIMIT,
		s->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S, MHD_OPTION_EXTERNAL_LOGGER,
		quiet, NULL, MHD_OPTION_END);
	if (!d) {
		rc = ut_err_sys(err, CACT_ESYS, errno ? errno : EADDRNOTAVAIL,
				"cannot listen on %s port %u", host ? host : "127.0.0.1", port);
		goto out;
	}
	if ((rc = pthread_create(&wd, NULL, watchdog, &h))) {
		MHD_stop_daemon(d);
		rc = ut_err_sys(err, CACT_ESYS, rc, "mcp http: pthread_create");
		goto out;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	h.port = info && info->port ? info->port : port;
	if (bound_port)
		__atomic_store_n(bound_port, h.port, __ATOMIC_RELEASE);
	wait_stop(stop_fd);
	/* Handlers waiting on a call return; then the connections go, then the sessions. */
	if (write(h.stop_efd, &one, sizeof(one)) < 0)
		(void)0;
	pthread_join(wd, NULL);
	MHD_stop_daemon(d);
	for (;;) {
		pthread_mutex_lock(&h.lock);
		hs = h.sessions;
		if (hs)
			unlist(&h, hs);
		pthread_mutex_unlock(&h.lock);
		if (!hs)
			break;
		hsess_end(hs);
		hsess_unref(&h, hs);
	}
	rc = 0;
out:
	pthread_mutex_destroy(&h.clock);
	pthread_mutex_destroy(&h.lock);
	ut_close(&h.stop_efd);
	return rc;
}
