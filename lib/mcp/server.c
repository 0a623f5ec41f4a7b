/* SPDX-License-Identifier: MIT */
/*
 * The MCP server: sessions (the registry, lifecycle, version negotiation,
 * capabilities, logging level), JSON-RPC method dispatch, and the server
 * object (options, reload). The tools are calls.c, results as content
 * content.c; the transports are stdio.c and http.c, on the same sessions.
 *
 * Every message is sent with the session's lock held, so a transport that
 * drops a stream knows nothing more goes to it once
 * mcp_session_drop_stream returns. session.h has the lock order.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <cact/cact.h>

#include "../codeact/codeact.h"
#include "../util/text.h"
#include "../util/util.h"
#include "session.h"

/* Newest first: an unknown version asked for gets the first. */
static const char *const versions[] = {"2025-11-25", "2025-06-18", "2025-03-26"};

static const char *const levels[] = {"debug", "info",	  "notice", "warning",
				     "error", "critical", "alert",  "emergency"};

const char *mcp_level_name(int level)
{
	return level >= 0 && (size_t)level < UT_ARRAY_SIZE(levels) ? levels[level] : "error";
}

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

int mcp_modern(const char *version)
{
	return version && strcmp(version, "2025-06-18") >= 0;
}

struct timespec mcp_deadline_in(uint64_t us)
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

int mcp_cond_init(pthread_cond_t *c)
{
	pthread_condattr_t a;
	int rc;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	rc = pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
	return rc;
}

json_t *mcp_jstr(const char *text, size_t len)
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

json_t *mcp_jfmt(const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	/* A cut may fall inside a UTF-8 sequence: mcp_jstr repairs it. */
	return mcp_jstr(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* ---- sending (session lock held) ---- */

void mcp_emit(struct mcp_session *s, void *stream, json_t *msg, unsigned flags)
{
	/* 15 digits: 1031.284 ms stays 1031.284, not its binary neighbour. */
	char *text = msg ? json_dumps(msg, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;

	json_decref(msg);
	if (!text && !(flags & MCP_SEND_FINAL))
		return;
	s->send(s->user, stream, text, text ? strlen(text) : 0, flags);
}

json_t *mcp_notif(const char *method, json_t *params)
{
	json_t *m = params ? jrpc_notification(method, params) : NULL;

	json_decref(params);
	return m;
}

void mcp_reply(struct mcp_session *s, void *stream, json_t *id, json_t *result)
{
	json_t *msg = result ? jrpc_result(id, result) : NULL;

	json_decref(result);
	if (!msg)
		msg = jrpc_error(id, JRPC_INTERNAL_ERROR, "out of memory", NULL);
	pthread_mutex_lock(&s->lock);
	mcp_emit(s, stream, msg, MCP_SEND_FINAL);
	pthread_mutex_unlock(&s->lock);
}

void mcp_reply_error(struct mcp_session *s, void *stream, json_t *id, int code, const char *fmt,
		     ...)
{
	char msg[CACT_ERROR_MAX];
	va_list ap;
	json_t *m;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	m = mcp_jstr(msg, strlen(msg));
	pthread_mutex_lock(&s->lock);
	mcp_emit(s, stream, jrpc_error(id, code, m ? json_string_value(m) : "error", NULL),
		 MCP_SEND_FINAL);
	pthread_mutex_unlock(&s->lock);
	json_decref(m);
}

void mcp_session_refuse(struct mcp_session *s, void *stream, int code, const char *message)
{
	pthread_mutex_lock(&s->lock);
	mcp_emit(s, stream, jrpc_error(NULL, code, message, NULL), MCP_SEND_FINAL);
	pthread_mutex_unlock(&s->lock);
}

static void on_list(struct mcp_session *s, json_t *id, void *stream)
{
	json_t *list = mcp_tool_list(s);

	if (!list) {
		mcp_reply_error(s, stream, id, JRPC_INTERNAL_ERROR, "out of memory");
		return;
	}
	mcp_reply(s, stream, id, json_pack("{s:o}", "tools", list));
}

static void on_set_level(struct mcp_session *s, json_t *id, json_t *params, void *stream)
{
	const char *level = json_string_value(json_object_get(params, "level"));
	size_t i;

	for (i = 0; level && i < UT_ARRAY_SIZE(levels); i++)
		if (strcmp(level, levels[i]) == 0)
			break;
	if (!level || i == UT_ARRAY_SIZE(levels)) {
		mcp_reply_error(
			s, stream, id, JRPC_INVALID_PARAMS,
			"logging/setLevel: level must be one of debug, info, notice, warning, "
			"error, critical, alert, emergency");
		return;
	}
	pthread_mutex_lock(&s->lock);
	s->log_level = (int)i;
	pthread_mutex_unlock(&s->lock);
	mcp_reply(s, stream, id, json_object());
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
		mcp_reply_error(s, stream, id, JRPC_INVALID_PARAMS,
				"initialize: params.protocolVersion must be a string");
		return;
	}
	if (!json_is_object(caps)) {
		mcp_reply_error(s, stream, id, JRPC_INVALID_PARAMS,
				"initialize: params.capabilities must be an object");
		return;
	}
	if (!json_is_object(info) || !json_is_string(json_object_get(info, "name"))) {
		mcp_reply_error(s, stream, id, JRPC_INVALID_PARAMS,
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
		mcp_reply_error(s, stream, id, JRPC_INVALID_REQUEST,
				"the session is already initialized");
		return;
	}
	if (result) {
		s->version = v;
		s->caps = json_deep_copy(caps);
	}
	pthread_mutex_unlock(&s->lock);
	if (result) {
		char msg[256];

		__atomic_add_fetch(&srv->m.sessions_total, 1, __ATOMIC_RELAXED);
		ut_snprintf(msg, sizeof(msg), "client %.100s, protocol %s",
			    json_string_value(json_object_get(info, "name")), v);
		mcp_log_simple(srv, "info", "session_started", s->log_id, msg);
	}
	mcp_reply(s, stream, id, result);
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
		mcp_reply_error(s, stream, m->id, JRPC_INVALID_REQUEST, "the session is closed");
		return;
	}
	if (strcmp(method, "ping") == 0) {
		mcp_reply(s, stream, m->id, json_object());
		return;
	}
	if (strcmp(method, "initialize") == 0) {
		on_initialize(s, m->id, m->params, stream);
		return;
	}
	if (!ready) {
		mcp_reply_error(s, stream, m->id, JRPC_NOT_INITIALIZED,
				"the session is not initialized: send initialize first");
		return;
	}
	if (m->params && !json_is_object(m->params) &&
	    (strcmp(method, "tools/list") == 0 || strcmp(method, "tools/call") == 0 ||
	     strcmp(method, "logging/setLevel") == 0)) {
		mcp_reply_error(s, stream, m->id, JRPC_INVALID_PARAMS,
				"%s: params must be an object", method);
		return;
	}
	if (strcmp(method, "tools/list") == 0)
		on_list(s, m->id, stream);
	else if (strcmp(method, "tools/call") == 0)
		mcp_call_start(s, m->id, m->params, stream);
	else if (strcmp(method, "logging/setLevel") == 0)
		on_set_level(s, m->id, m->params, stream);
	else
		mcp_reply_error(s, stream, m->id, JRPC_METHOD_NOT_FOUND, "method not found: %.200s",
				method);
}

static void on_notification(struct mcp_session *s, struct jrpc_msg *m)
{
	json_t *id = json_object_get(m->params, "requestId");

	if (strcmp(m->method, "notifications/cancelled") != 0 || !id)
		return; /* initialized, roots/list_changed, progress: nothing to do */
	mcp_call_cancel(s, id);
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
		mcp_call_answer(s, m);
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
		mcp_emit(s, stream, jrpc_error(bad_id, rc, err.message, NULL), MCP_SEND_FINAL);
		pthread_mutex_unlock(&s->lock);
		json_decref(bad_id);
		return;
	}
	mcp_session_handle(s, &m, stream);
}

/* 16 hex digits that name a session in the log; not a secret, so not its Mcp-Session-Id. */
static void log_id(char out[17])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[8] = {0};
	uint64_t t = ut_now_us();
	size_t i;

	if (getrandom(raw, sizeof(raw), GRND_NONBLOCK) != (ssize_t)sizeof(raw))
		memcpy(raw, &t, sizeof(raw)); /* unique enough for a log */
	for (i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[16] = '\0';
}

int mcp_session_new(struct cact_mcp_server *srv, mcp_send_fn send, void *user,
		    struct mcp_session **out, struct cact_error *err)
{
	struct mcp_session *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	if (mcp_cond_init(&s->cond)) {
		free(s);
		return ut_err(err, CACT_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&s->lock, NULL);
	s->srv = srv;
	s->send = send;
	s->user = user;
	s->log_level = MCP_LOG_NOTICE;
	log_id(s->log_id);
	pthread_mutex_lock(&srv->lock);
	s->next = srv->sessions;
	srv->sessions = s;
	pthread_mutex_unlock(&srv->lock);
	*out = s;
	return 0;
}

void mcp_session_drop_stream(struct mcp_session *s, void *stream)
{
	mcp_calls_detach(s, stream);
}

void mcp_session_shutdown(struct mcp_session *s)
{
	mcp_calls_stop(s);
}

void mcp_session_free(struct mcp_session *s)
{
	struct mcp_session **p;

	if (!s)
		return;
	mcp_session_shutdown(s);
	if (s->version)
		mcp_log_simple(s->srv, "info", "session_ended", s->log_id, NULL);
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
	pthread_mutex_init(&s->m.mlock, NULL);
	s->cc = cc;
	s->expose_tools = !!o->expose_tools;
	s->metrics_elsewhere = !!o->metrics_elsewhere;
	s->log_fn = o->log_fn;
	s->log_user = o->log_user;
	s->log_output = !!o->log_output;
	s->persist = !!o->sessions;
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
	/* Last: a server that could not be made changes nothing. */
	if (s->persist)
		cact_codeact_set_persistent(cc, 1);
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
	for (i = 0; i < MCP_TOOL_SLOTS; i++)
		free(s->m.tool_name[i]);
	pthread_mutex_destroy(&s->m.mlock);
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
			mcp_emit(s, NULL,
				 jrpc_notification("notifications/tools/list_changed", NULL), 0);
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
	/* cact mcp --sessions holds whatever the file says. */
	if (s->persist)
		cact_codeact_set_persistent(fresh, 1);
	/*
	 * The same swap cact_codeact_load_config makes, from an empty start.
	 * Sandbox sessions already started keep the configuration they
	 * started with; only new ones (and resets of new ones) see this one.
	 */
	cc_take_config(cc, fresh);
	cact_codeact_free(fresh);
	cact_mcp_server_tools_changed(s);
	return 0;
}
