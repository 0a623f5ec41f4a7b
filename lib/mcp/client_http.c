/* SPDX-License-Identifier: MIT */
/*
 * The Streamable HTTP transport of the MCP client. Every message is a POST
 * to the server's URL; a request's response comes back as one JSON body or
 * in an event stream (SSE), which may carry the server's notifications
 * (dropped) and requests (answered with a POST of their own: ping, or
 * "method not found") first. A stream that ends early after naming an
 * event id is resumed with a GET and Last-Event-ID, after the server's
 * retry delay. The session id the server gives at initialize goes with
 * every later message, with the negotiated MCP-Protocol-Version; a 404 on
 * it means the session is gone, and the core starts a new one. The session
 * is deleted when the client goes.
 *
 * Each transfer runs on a multi handle of its own, so that the wait can
 * watch cancel_fd and the deadline; answers to the server's requests are
 * sent between transfer steps, never from inside a libcurl callback.
 * TLS is verified, redirects are not followed, environment proxies are
 * not used.
 */
#include <curl/curl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cact/cact.h>

#include "../agent/sse.h"
#include "../net/net.h"
#include "../util/buf.h"
#include "../util/jsoncheck.h"
#include "../util/util.h"
#include "client.h"
#include "jsonrpc.h"

#define ERROR_BODY_MAX 4096  /* what is kept of a failed response, for the message */
#define ASKS_MAX       16    /* server requests held between two transfer steps */
#define SESSION_MAX    256   /* length of an Mcp-Session-Id */
#define RETRY_MAX_MS   30000 /* the longest retry delay honoured */
#define RESUMES_MAX    100   /* resumptions of one request's stream */
#define COMPLAINTS_MAX 10
#define SMALL_CALL_MS  5000 /* answers, notifications, DELETE */

/* settle: the stream ended before the response; beside 0 and the MCPC_ outcomes. */
#define RESUME 100

struct http_tr {
	pthread_mutex_t lock;	       /* guards session */
	char session[SESSION_MAX + 1]; /* "" when the server gave none */
};

enum { M_NONE, M_BODY, M_STREAM, M_DISCARD };

struct xfer {
	struct cact_mcp_client *c;
	CURL *h;
	long long want; /* the id whose response ends the wait; -1 for none */
	int mode;
	struct ut_buf body;
	struct sse_parser sse;
	json_t *reply;
	json_t *asks[ASKS_MAX];
	size_t n_asks;
	int failed; /* reading stopped: err holds why */
	struct cact_error err;
	char content_type[128];
	char session[SESSION_MAX + 2];
	int session_bad;
	char last_id[256];
	unsigned complaints;
};

static struct http_tr *tr_of(struct cact_mcp_client *c)
{
	struct http_tr *s = c->tr_data;

	if (s)
		return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	c->tr_data = s;
	return s;
}

static void complain(struct xfer *x, const char *what, const char *detail)
{
	if (x->complaints < COMPLAINTS_MAX)
		mcpc_log(x->c, "%s: %.300s", what, detail);
	x->complaints++;
}

/* One message from the server, in a body or an event. */
static void on_message(struct xfer *x, const char *text, size_t len)
{
	struct cact_error err = {0};
	struct jrpc_msg m;
	json_t *bad_id = NULL;

	if (jrpc_parse(text, len, x->c->max_message, &m, &bad_id, &err)) {
		json_decref(bad_id);
		complain(x, "ignoring a malformed message", err.message);
		return;
	}
	switch (m.kind) {
	case JRPC_RESULT:
	case JRPC_ERROR:
		if (x->want >= 0 && !x->reply && m.id && json_is_integer(m.id) &&
		    json_integer_value(m.id) == x->want)
			x->reply = json_incref(m.root);
		else if (!m.id)
			complain(x, "the server reported an error",
				 json_string_value(json_object_get(m.error, "message"))
					 ?: "(no message)");
		else
			complain(x, "ignoring a response to no pending request",
				 json_is_string(m.id) ? json_string_value(m.id) : "(a number)");
		break;
	case JRPC_REQUEST:
		if (x->n_asks < ASKS_MAX)
			x->asks[x->n_asks++] = json_incref(m.root);
		else
			complain(x, "too many requests from the server at once, dropping",
				 m.method);
		break;
	case JRPC_NOTIFICATION:
		break;
	}
	jrpc_clear(&m);
}

static int on_event(void *user, const struct sse_event *ev, struct cact_error *err)
{
	struct xfer *x = user;

	(void)err;
	/* An id too long to send back whole cannot resume the stream. */
	if (ev->id_len && ev->id_len < sizeof(x->last_id))
		ut_snprintf(x->last_id, sizeof(x->last_id), "%s", ev->id);
	if (strcmp(ev->type, "message") != 0 || ev->data_len == 0 || x->reply)
		return 0;
	on_message(x, ev->data, ev->data_len);
	return 0;
}

static int ct_is(const char *ct, const char *want)
{
	return strncasecmp(ct, want, strlen(want)) == 0;
}

/* Decides, at the first byte, what the body is. */
static void pick_mode(struct xfer *x)
{
	long status = 0;

	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
	if (status / 100 != 2) {
		x->mode = M_BODY;
		ut_buf_init(&x->body, ERROR_BODY_MAX);
	} else if (x->want < 0) {
		x->mode = M_DISCARD;
	} else if (ct_is(x->content_type, "text/event-stream")) {
		x->mode = M_STREAM;
		sse_init(&x->sse, x->c->max_message, on_event, x);
	} else {
		x->mode = M_BODY;
		ut_buf_init(&x->body, x->c->max_message);
	}
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
	struct xfer *x = user;
	size_t n = size * nmemb;
	long status = 0;
	int rc;

	if (!x->mode)
		pick_mode(x);
	switch (x->mode) {
	case M_STREAM:
		if ((rc = sse_feed(&x->sse, data, n, &x->err))) {
			x->failed = 1;
			if (rc == CACT_ETOOBIG)
				ut_err(&x->err, rc,
				       "mcp server %s: sent an event larger than %zu bytes",
				       x->c->name, x->c->max_message);
			return 0;
		}
		return n;
	case M_BODY:
		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
		if (status / 100 != 2)
			return ut_buf_add_trunc(&x->body, data, n) ? 0 : n;
		if (ut_buf_add(&x->body, data, n)) {
			x->failed = 1;
			ut_err(&x->err, CACT_ETOOBIG,
			       "mcp server %s: sent a message larger than %zu bytes", x->c->name,
			       x->c->max_message);
			return 0;
		}
		return n;
	default:
		return n;
	}
}

/* Keeps one header's value (trimmed, capped) when its name is name; 1 when it was. */
static int keep_header(const char *line, size_t n, const char *name, char *out, size_t size)
{
	size_t nl = strlen(name), v = nl + 1, end = n, len;

	if (n <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
		return 0;
	while (v < n && (line[v] == ' ' || line[v] == '\t'))
		v++;
	while (end > v && (line[end - 1] == '\r' || line[end - 1] == '\n' || line[end - 1] == ' ' ||
			   line[end - 1] == '\t'))
		end--;
	len = end - v < size - 1 ? end - v : size - 1;
	memcpy(out, line + v, len);
	out[len] = '\0';
	return end - v < size - 1 ? 1 : 2;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *user)
{
	struct xfer *x = user;
	size_t n = size * nmemb;

	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		x->content_type[0] = x->session[0] = '\0';
		x->session_bad = 0;
		return n;
	}
	keep_header(data, n, "content-type", x->content_type, sizeof(x->content_type));
	if (keep_header(data, n, "mcp-session-id", x->session, sizeof(x->session)) == 2)
		x->session_bad = 1;
	return n;
}

static struct curl_slist *add_header(struct curl_slist *list, const char *name, const char *value,
				     int *failed)
{
	char line[1024];
	struct curl_slist *l;

	if (*failed)
		return list;
	if (ut_snprintf(line, sizeof(line), "%s: %s", name, value) < 0) {
		*failed = 1;
		return list;
	}
	l = curl_slist_append(list, line);
	if (!l)
		*failed = 1;
	return l ? l : list;
}

/* The headers of one message: content negotiation, session, version, the user's. */
static struct curl_slist *headers_for(struct cact_mcp_client *c, const char *verb, int initialize,
				      const char *last_event_id)
{
	struct http_tr *s = c->tr_data;
	char session[SESSION_MAX + 1], version[32];
	struct curl_slist *list = NULL, *l;
	int failed = 0;
	size_t i;

	pthread_mutex_lock(&s->lock);
	ut_snprintf(session, sizeof(session), "%s", initialize ? "" : s->session);
	pthread_mutex_unlock(&s->lock);
	mcpc_version(c, version, sizeof(version));
	if (strcmp(verb, "POST") == 0) {
		list = add_header(list, "Content-Type", "application/json", &failed);
		list = add_header(list, "Accept", "application/json, text/event-stream", &failed);
	} else if (strcmp(verb, "GET") == 0) {
		list = add_header(list, "Accept", "text/event-stream", &failed);
	}
	if (session[0])
		list = add_header(list, "Mcp-Session-Id", session, &failed);
	if (version[0] && !initialize)
		list = add_header(list, "MCP-Protocol-Version", version, &failed);
	if (last_event_id)
		list = add_header(list, "Last-Event-ID", last_event_id, &failed);
	for (i = 0; !failed && i < c->n_headers; i++) {
		l = curl_slist_append(list, c->headers[i]);
		failed = !l;
		list = l ? l : list;
	}
	if (!failed && !(l = curl_slist_append(list, "Expect:")))
		failed = 1;
	else if (!failed)
		list = l;
	if (failed) {
		curl_slist_free_all(list);
		return NULL;
	}
	return list;
}

static void xfer_clear(struct xfer *x)
{
	size_t i;

	if (x->mode == M_STREAM)
		sse_free(&x->sse);
	ut_buf_reset(&x->body);
	json_decref(x->reply);
	for (i = 0; i < x->n_asks; i++)
		json_decref(x->asks[i]);
	x->reply = NULL;
	x->n_asks = 0;
	x->mode = M_NONE;
	x->failed = 0;
}

static void answer_asks(struct xfer *x);

/*
 * One HTTP exchange: verb with body (may be NULL), until the response is
 * in (x->reply for a request), the transfer ends, deadline or cancel_fd.
 * 0 (*status set), MCPC_TIMEOUT, MCPC_CANCELLED, or a negative code.
 */
static int perform(struct xfer *x, const char *verb, const char *body, int initialize,
		   const char *last_event_id, uint64_t deadline, int cancel_fd, long *status,
		   struct cact_error *err)
{
	struct cact_mcp_client *c = x->c;
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = headers_for(c, verb, initialize, last_event_id);
	CURLM *m = curl_multi_init();
	CURL *h = curl_easy_init();
	CURLcode result = CURLE_OK;
	int rc = 0, added = 0;
	CURLMsg *msg;
	int left;

	*status = 0;
	if (!hdrs || !m || !h) {
		rc = ut_err(err, CACT_ENOMEM, "out of memory");
		goto out;
	}
	x->h = h;
	curl_easy_setopt(h, CURLOPT_URL, c->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_USERAGENT, "cact/" CACT_VERSION);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	} else if (strcmp(verb, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, verb);
	}
	if (curl_multi_add_handle(m, h) != CURLM_OK) {
		rc = ut_err(err, CACT_ENOMEM, "out of memory");
		goto out;
	}
	added = 1;
	for (;;) {
		struct curl_waitfd wfd = {.fd = cancel_fd, .events = CURL_WAIT_POLLIN};
		int running = 0;
		uint64_t now;

		if (curl_multi_perform(m, &running) != CURLM_OK) {
			rc = ut_err(err, CACT_ESYS, "mcp server %s: curl_multi_perform failed",
				    c->name);
			goto out;
		}
		answer_asks(x);
		/* A notification's answer is its status: whatever body follows is not waited for. */
		if (x->reply || !running || x->mode == M_DISCARD)
			break;
		now = ut_now_us();
		if (now >= deadline) {
			rc = MCPC_TIMEOUT;
			goto out;
		}
		if (curl_multi_poll(m, cancel_fd >= 0 ? &wfd : NULL, cancel_fd >= 0 ? 1 : 0,
				    (int)((deadline - now + 999) / 1000 > 1000
						  ? 1000
						  : (deadline - now + 999) / 1000),
				    NULL) != CURLM_OK) {
			rc = ut_err(err, CACT_ESYS, "mcp server %s: curl_multi_poll failed",
				    c->name);
			goto out;
		}
		if (cancel_fd >= 0 && wfd.revents) {
			rc = MCPC_CANCELLED;
			goto out;
		}
	}
	while ((msg = curl_multi_info_read(m, &left)))
		if (msg->msg == CURLMSG_DONE)
			result = msg->data.result;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	if (x->failed && !x->reply) {
		if (err)
			*err = x->err;
		rc = x->err.code ? x->err.code : CACT_EPROTO;
	} else if (result != CURLE_OK && !x->reply) {
		rc = ut_err(err, CACT_ESYS, "mcp server %s: %s %s: %s", c->name, verb, c->url,
			    errbuf[0] ? errbuf : curl_easy_strerror(result));
	}
out:
	if (added)
		curl_multi_remove_handle(m, h);
	curl_easy_cleanup(h);
	curl_multi_cleanup(m);
	curl_slist_free_all(hdrs);
	x->h = NULL;
	return rc;
}

/* A short exchange whose answer does not matter beyond its status. */
static int post_quietly(struct cact_mcp_client *c, const char *verb, const char *body, long *status,
			struct cact_error *err)
{
	uint64_t limit = c->timeout_ms < SMALL_CALL_MS ? c->timeout_ms : SMALL_CALL_MS;
	struct xfer x = {.c = c, .want = -1};
	int rc = perform(&x, verb, body, 0, NULL, ut_now_us() + limit * 1000, -1, status, err);

	xfer_clear(&x);
	return rc;
}

/* Answers what the server asked while the stream ran: ping, or "method not found". */
static void answer_asks(struct xfer *x)
{
	size_t i, n = x->n_asks;

	x->n_asks = 0;
	for (i = 0; i < n; i++) {
		json_t *req = x->asks[i], *id = json_object_get(req, "id"), *msg, *empty = NULL;
		const char *method = json_string_value(json_object_get(req, "method"));
		char *text;
		long status;

		if (method && strcmp(method, "ping") == 0) {
			empty = json_object();
			msg = empty ? jrpc_result(id, empty) : NULL;
		} else {
			msg = jrpc_error(id, JRPC_METHOD_NOT_FOUND, "method not found", NULL);
		}
		text = jrpc_dump(msg);
		if (text)
			post_quietly(x->c, "POST", text, &status, NULL);
		free(text);
		json_decref(msg);
		json_decref(empty);
		json_decref(req);
	}
}

/* What a failed response says: its JSON-RPC error message, or the start of its body. */
static void failure_text(struct xfer *x, char *out, size_t size)
{
	/* Decoded only when the check allows (ut_json_check); else the body's start is the text. */
	json_t *v = x->body.len && !ut_json_check(x->body.p, x->body.len, UT_JSON_DEPTH_LIMIT, NULL,
						  NULL, 0)
			    ? json_loadb(x->body.p, x->body.len, 0, NULL)
			    : NULL;
	const char *msg =
		json_string_value(json_object_get(json_object_get(v, "error"), "message"));
	size_t n;

	if (msg)
		ut_snprintf(out, size, "%s", msg);
	else if (x->body.len)
		ut_snprintf(out, size, "%.200s", x->body.p);
	else
		ut_snprintf(out, size, "no body");
	json_decref(v);
	for (n = 0; out[n]; n++)
		if ((unsigned char)out[n] < 0x20)
			out[n] = ' ';
}

/* A visible-ASCII session id, as the specification requires. */
static int session_ok(const char *s)
{
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e)
			return 0;
	return 1;
}

static void set_session(struct cact_mcp_client *c, const char *value)
{
	struct http_tr *s = c->tr_data;

	pthread_mutex_lock(&s->lock);
	ut_snprintf(s->session, sizeof(s->session), "%s", value);
	pthread_mutex_unlock(&s->lock);
}

static int had_session(struct cact_mcp_client *c)
{
	struct http_tr *s = c->tr_data;
	int had;

	pthread_mutex_lock(&s->lock);
	had = s->session[0] != '\0';
	pthread_mutex_unlock(&s->lock);
	return had;
}

/* Waits ms (or until deadline or cancel_fd). 0, MCPC_TIMEOUT or MCPC_CANCELLED. */
static int pause_for(uint64_t ms, uint64_t deadline, int cancel_fd)
{
	uint64_t now = ut_now_us(), until = now + ms * 1000;
	struct pollfd f = {.fd = cancel_fd, .events = POLLIN};

	if (until > deadline)
		return MCPC_TIMEOUT;
	while (now < until) {
		if (poll(&f, 1, (int)((until - now + 999) / 1000)) > 0 && f.revents)
			return MCPC_CANCELLED;
		now = ut_now_us();
	}
	return 0;
}

/* The response of a POST or a resumed stream, once the transfer is over. */
static int settle(struct xfer *x, const char *method, long status, int with_session, json_t **reply,
		  struct cact_error *err)
{
	struct cact_mcp_client *c = x->c;
	char why[300];
	struct jrpc_msg m;
	json_t *bad_id = NULL;

	if (x->reply) {
		*reply = x->reply;
		x->reply = NULL;
		return 0;
	}
	if (status == 404 && with_session) {
		set_session(c, "");
		return MCPC_RECONNECT;
	}
	if (status / 100 != 2) {
		failure_text(x, why, sizeof(why));
		return ut_err(err, CACT_ESYS, "mcp server %s: %s answered HTTP %ld: %s", c->name,
			      method, status, why);
	}
	if (x->mode == M_NONE)
		return ut_err(err, CACT_EPROTO,
			      "mcp server %s: answered %s with an empty response "
			      "(HTTP %ld)",
			      c->name, method, status);
	if (x->mode != M_BODY)
		return RESUME; /* a stream without the response */
	if (!ct_is(x->content_type, "application/json"))
		return ut_err(
			err, CACT_EPROTO,
			"mcp server %s: answered %s with \"%.60s\", neither JSON nor an event "
			"stream",
			c->name, method, x->content_type[0] ? x->content_type : "no content type");
	if (jrpc_parse(x->body.p, x->body.len, c->max_message, &m, &bad_id, err)) {
		json_decref(bad_id);
		ut_snprintf(why, sizeof(why), "%s", err ? err->message : "");
		return ut_err(err, CACT_EPROTO, "mcp server %s: answered %s with %s", c->name,
			      method, why);
	}
	if ((m.kind == JRPC_RESULT || m.kind == JRPC_ERROR) && m.id && json_is_integer(m.id) &&
	    json_integer_value(m.id) == x->want) {
		*reply = json_incref(m.root);
		jrpc_clear(&m);
		return 0;
	}
	jrpc_clear(&m);
	return ut_err(err, CACT_EPROTO, "mcp server %s: answered %s with another message", c->name,
		      method);
}

static int http_request(struct cact_mcp_client *c, long long id, const char *method, json_t *params,
			uint64_t deadline, int cancel_fd, json_t **reply, struct cact_error *err)
{
	struct xfer x = {.c = c, .want = id};
	int initialize = strcmp(method, "initialize") == 0;
	int with_session = !initialize && had_session(c);
	json_t *jid = json_integer(id), *msg = jid ? jrpc_request(jid, method, params) : NULL;
	char *body = jrpc_dump(msg), last_id[256];
	uint64_t retry_ms;
	unsigned resumes = 0;
	long status = 0;
	int rc;

	*reply = NULL;
	json_decref(jid);
	json_decref(msg);
	if (!body || !tr_of(c)) {
		free(body);
		return ut_err(err, CACT_ENOMEM, "out of memory");
	}
	rc = perform(&x, "POST", body, initialize, NULL, deadline, cancel_fd, &status, err);
	free(body);
	while (rc == 0 && (rc = settle(&x, method, status, with_session, reply, err)) == RESUME) {
		if (!x.last_id[0] || ++resumes > RESUMES_MAX) {
			rc = ut_err(
				err, CACT_EPROTO,
				"mcp server %s: the event stream ended without the answer to %s",
				c->name, method);
			break;
		}
		/* The server closed the stream early: poll it again after its retry delay. */
		retry_ms = x.mode == M_STREAM && x.sse.retry_ms ? x.sse.retry_ms : 1000;
		if (retry_ms > RETRY_MAX_MS)
			retry_ms = RETRY_MAX_MS;
		ut_snprintf(last_id, sizeof(last_id), "%s", x.last_id);
		xfer_clear(&x);
		if ((rc = pause_for(retry_ms, deadline, cancel_fd)))
			break;
		rc = perform(&x, "GET", NULL, 0, last_id, deadline, cancel_fd, &status, err);
	}
	if (rc == 0 && initialize) {
		if (x.session_bad || strlen(x.session) > SESSION_MAX || !session_ok(x.session)) {
			json_decref(*reply);
			*reply = NULL;
			rc = ut_err(err, CACT_EPROTO, "mcp server %s: its Mcp-Session-Id is not %s",
				    c->name, x.session_bad ? "short enough" : "visible ASCII");
		} else {
			set_session(c, x.session);
		}
	}
	xfer_clear(&x);
	return rc;
}

static int http_notify(struct cact_mcp_client *c, const char *method, json_t *params,
		       struct cact_error *err)
{
	json_t *msg = jrpc_notification(method, params);
	char *body = jrpc_dump(msg);
	long status = 0;
	int rc;

	json_decref(msg);
	if (!body || !tr_of(c)) {
		free(body);
		return ut_err(err, CACT_ENOMEM, "out of memory");
	}
	rc = post_quietly(c, "POST", body, &status, err);
	free(body);
	if (rc == MCPC_TIMEOUT || rc == MCPC_CANCELLED)
		return ut_err(err, CACT_ESYS, "mcp server %s: %s timed out", c->name, method);
	if (rc)
		return rc;
	if (status / 100 != 2)
		return ut_err(err, CACT_ESYS, "mcp server %s: %s answered HTTP %ld", c->name,
			      method, status);
	return 0;
}

static int http_open(struct cact_mcp_client *c, struct cact_error *err)
{
	int rc;

	if ((rc = net_global_init(err)))
		return rc;
	if (!tr_of(c))
		return ut_err(err, CACT_ENOMEM, "out of memory");
	set_session(c, "");
	return 0;
}

static void http_close(struct cact_mcp_client *c, int now)
{
	long status;

	(void)now;
	if (!c->tr_data || !had_session(c))
		return;
	/* The server may refuse (405): the session then ends when it decides. */
	post_quietly(c, "DELETE", NULL, &status, NULL);
	set_session(c, "");
}

static void http_release(struct cact_mcp_client *c)
{
	struct http_tr *s = c->tr_data;

	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
	c->tr_data = NULL;
}

const struct mcpc_transport mcpc_http = {
	.open = http_open,
	.request = http_request,
	.notify = http_notify,
	.close = http_close,
	.release = http_release,
};
