/* SPDX-License-Identifier: MIT */
/*
 * Operating the MCP server: readiness, Prometheus metrics, drain, and the
 * structured log. The transports report what they see (mcp_note_http),
 * calls.c reports executions and tool calls (mcp_note_exec,
 * mcp_note_tool); this file keeps the counters and renders them.
 *
 * Metrics follow the Prometheus text format, version 0.0.4: HELP and TYPE
 * before each family, counters end in _total, times in seconds, sizes in
 * bytes. Label values are escaped (backslash, double quote, line feed)
 * and their number is bounded: statuses, outcomes and HTTP codes are
 * fixed sets, and tool names take at most MCP_TOOL_SLOTS labels (the
 * first seen), every later one counting as tool="_other".
 */
#include <dirent.h>
#include <errno.h>
#include <microhttpd.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cact/cact.h>

#include "../codeact/codeact.h"
#include "../util/buf.h"
#include "../util/util.h"
#include "mhd.h"
#include "session.h"

#define METRICS_MAX    (1u << 20) /* the rendered text; far above what the bounds allow */
#define TOOL_LABEL_MAX 128

static const uint64_t exec_bounds_us[MCP_EXEC_BUCKETS] = {
	1000,	2500,	 5000,	  10000,   25000,    50000,    100000,	 250000,
	500000, 1000000, 2500000, 5000000, 10000000, 30000000, 60000000,
};
static const uint64_t queue_bounds_us[MCP_QUEUE_BUCKETS] = {
	100, 500, 1000, 5000, 10000, 50000, 100000, 500000, 1000000, 5000000, 10000000, 30000000,
};
static const unsigned http_codes[MCP_HTTP_CODES] = {
	200, 202, 204, 400, 401, 403, 404, 405, 406, 409, 413, 415, 429, 500, 501, 503,
};
static const char *const outcomes[MCP_OUT__N] = {"ok", "error", "refused", "cancelled"};

static void add(uint64_t *v, uint64_t n)
{
	__atomic_add_fetch(v, n, __ATOMIC_RELAXED);
}

static uint64_t get(const uint64_t *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
}

/* ---- what the rest of the server reports ---- */

void mcp_note_http(struct cact_mcp_server *srv, unsigned status, uint64_t body_bytes)
{
	size_t i;

	for (i = 0; i < MCP_HTTP_CODES && http_codes[i] != status; i++)
		;
	add(&srv->m.http_code[i], 1);
	add(&srv->m.http_out_bytes, body_bytes);
}

void mcp_note_http_bytes(struct cact_mcp_server *srv, uint64_t in, uint64_t out)
{
	if (in)
		add(&srv->m.http_in_bytes, in);
	if (out)
		add(&srv->m.http_out_bytes, out);
}

int mcp_draining(struct cact_mcp_server *srv)
{
	return __atomic_load_n(&srv->draining, __ATOMIC_ACQUIRE);
}

static void observe(uint64_t *buckets, const uint64_t *bounds, size_t n, uint64_t *count,
		    uint64_t *sum, uint64_t us)
{
	size_t i;

	/* Cumulative on the way out (render); here each value lands in its first bucket. */
	for (i = 0; i < n && us > bounds[i]; i++)
		;
	if (i < n)
		buckets[i]++;
	(*count)++;
	*sum += us;
}

void mcp_note_exec(struct cact_mcp_server *srv, enum cact_status status,
		   const struct cact_stats *st)
{
	struct mcp_metrics *m = &srv->m;

	if ((unsigned)status > CACT_STATUS_BUSY)
		status = CACT_STATUS_CRASHED;
	/* Under the lock, so that a scrape sees each histogram whole. */
	pthread_mutex_lock(&m->mlock);
	m->exec_status[status]++;
	if (status != CACT_STATUS_BUSY && status != CACT_STATUS_SETUP_ERROR)
		observe(m->exec_bucket, exec_bounds_us, MCP_EXEC_BUCKETS, &m->exec_count,
			&m->exec_sum_us, st->wall_us);
	observe(m->queue_bucket, queue_bounds_us, MCP_QUEUE_BUCKETS, &m->queue_count,
		&m->queue_sum_us, st->queue_us);
	pthread_mutex_unlock(&m->mlock);
}

void mcp_note_tool(struct cact_mcp_server *srv, const char *tool, int outcome)
{
	struct mcp_metrics *m = &srv->m;
	size_t i;

	if (outcome < 0 || outcome >= MCP_OUT__N)
		return;
	pthread_mutex_lock(&m->mlock);
	for (i = 0; tool && i < MCP_TOOL_SLOTS && m->tool_name[i]; i++)
		if (strcmp(m->tool_name[i], tool) == 0)
			break;
	if (tool && i < MCP_TOOL_SLOTS && !m->tool_name[i])
		m->tool_name[i] = strndup(tool, TOOL_LABEL_MAX);
	if (!tool || i == MCP_TOOL_SLOTS || !m->tool_name[i])
		i = MCP_TOOL_SLOTS; /* "_other": out of slots, out of memory, or no such tool */
	m->tool_out[i][outcome]++;
	pthread_mutex_unlock(&m->mlock);
}

void mcp_log(struct cact_mcp_server *srv, const struct cact_mcp_log_event *ev)
{
	if (srv->log_fn)
		srv->log_fn(srv->log_user, ev);
}

void mcp_log_simple(struct cact_mcp_server *srv, const char *level, const char *event,
		    const char *session, const char *message)
{
	struct cact_mcp_log_event ev = {
		.level = level,
		.event = event,
		.session = session,
		.message = message,
		.wall_us = -1,
		.cpu_us = -1,
		.queue_us = -1,
		.total_us = -1,
	};

	mcp_log(srv, &ev);
}

/* ---- readiness ---- */

static struct cact_runtime *runtime_of(struct cact_mcp_server *s)
{
	struct cact_runtime *rt;

	pthread_mutex_lock(&s->cc->lock);
	rt = s->cc->rt;
	pthread_mutex_unlock(&s->cc->lock);
	return rt;
}

CACT_API int cact_mcp_server_ready(struct cact_mcp_server *s, char *why, size_t size)
{
	struct cact_runtime *rt = runtime_of(s);
	struct cact_error err = {0};

	if (mcp_draining(s)) {
		ut_snprintf(why, size, "draining: the server is shutting down");
		return 0;
	}
	if (!rt) {
		ut_snprintf(why, size, "no sandbox runtime");
		return 0;
	}
	if (cact_runtime_check(rt, &err)) {
		ut_snprintf(why, size, "the sandbox runtime gave up: %s", err.message);
		return 0;
	}
	if (cact_runtime_zygote_pid(rt) < 0) {
		ut_snprintf(why, size, "the sandbox zygote is restarting");
		return 0;
	}
	ut_snprintf(why, size, "ready");
	return 1;
}

/* ---- metrics ---- */

static void family(struct ut_buf *b, const char *name, const char *type, const char *help)
{
	ut_buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/*
 * A label value, escaped as the format asks (\\, \", \n). Bytes other than
 * printable ASCII become '_': a label stays valid UTF-8 and one line,
 * whatever name a tool was given.
 */
static void label_value(struct ut_buf *b, const char *v)
{
	for (; *v; v++) {
		unsigned char ch = (unsigned char)*v;

		if (ch == '\\' || ch == '"')
			ut_buf_addf(b, "\\%c", ch);
		else if (ch == '\n')
			ut_buf_add(b, "\\n", 2);
		else if (ch < 0x20 || ch >= 0x7f)
			ut_buf_add(b, "_", 1);
		else
			ut_buf_add(b, v, 1);
	}
}

static void seconds(struct ut_buf *b, uint64_t us)
{
	ut_buf_addf(b, "%llu.%06llu", (unsigned long long)(us / 1000000u),
		    (unsigned long long)(us % 1000000u));
}

static void histogram(struct ut_buf *b, const char *name, const char *help, const uint64_t *buckets,
		      const uint64_t *bounds, size_t n, uint64_t count, uint64_t sum_us)
{
	uint64_t cum = 0;
	size_t i;

	family(b, name, "histogram", help);
	for (i = 0; i < n; i++) {
		cum += buckets[i];
		ut_buf_addf(b, "%s_bucket{le=\"%g\"} %llu\n", name, (double)bounds[i] / 1e6,
			    (unsigned long long)cum);
	}
	ut_buf_addf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum ", name, (unsigned long long)count,
		    name);
	seconds(b, sum_us);
	ut_buf_addf(b, "\n%s_count %llu\n", name, (unsigned long long)count);
}

static void gauge(struct ut_buf *b, const char *name, const char *help, unsigned long long v)
{
	family(b, name, "gauge", help);
	ut_buf_addf(b, "%s %llu\n", name, v);
}

static void counter(struct ut_buf *b, const char *name, const char *help, unsigned long long v)
{
	family(b, name, "counter", help);
	ut_buf_addf(b, "%s %llu\n", name, v);
}

/* Resident memory in bytes, from /proc/self/statm; 0 when unreadable. */
static uint64_t rss_bytes(void)
{
	unsigned long long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (!f)
		return 0;
	if (fscanf(f, "%llu %llu", &pages, &resident) != 2)
		resident = 0;
	fclose(f);
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Open descriptors, the one that counts them excluded. */
static uint64_t open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	uint64_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n ? n - 1 : 0;
}

/* Live sessions and calls in flight, over every session. */
static void count_sessions(struct cact_mcp_server *s, unsigned *sessions, unsigned *calls)
{
	struct mcp_session *ss;

	*sessions = *calls = 0;
	pthread_mutex_lock(&s->lock);
	for (ss = s->sessions; ss; ss = ss->next) {
		pthread_mutex_lock(&ss->lock);
		if (!ss->closing) {
			(*sessions)++;
			*calls += ss->n_calls;
		}
		pthread_mutex_unlock(&ss->lock);
	}
	pthread_mutex_unlock(&s->lock);
}

CACT_API char *cact_mcp_server_metrics(struct cact_mcp_server *s, size_t *len)
{
	struct cact_runtime_stats st = {0};
	struct cact_runtime *rt = runtime_of(s);
	struct mcp_metrics *m = &s->m, snap;
	unsigned sessions, calls, i, k;
	struct rlimit rl;
	struct ut_buf b;
	char why[256];
	int ready = cact_mcp_server_ready(s, why, sizeof(why));

	if (rt)
		cact_runtime_stats(rt, &st);
	count_sessions(s, &sessions, &calls);
	pthread_mutex_lock(&m->mlock);
	memcpy(&snap, m, sizeof(snap));
	ut_buf_init(&b, METRICS_MAX);
	family(&b, "cact_executions_total", "counter",
	       "Executions of execute_code, by how they ended (busy: no sandbox in time, no "
	       "code ran).");
	for (i = 0; i <= CACT_STATUS_BUSY; i++)
		ut_buf_addf(&b, "cact_executions_total{status=\"%s\"} %llu\n",
			    cact_status_name((enum cact_status)i),
			    (unsigned long long)snap.exec_status[i]);
	histogram(&b, "cact_execution_seconds",
		  "Wall-clock time of executions that ran code, from the request to the code's "
		  "end.",
		  snap.exec_bucket, exec_bounds_us, MCP_EXEC_BUCKETS, snap.exec_count,
		  snap.exec_sum_us);
	histogram(&b, "cact_queue_wait_seconds",
		  "Time executions waited for a free sandbox before the code could start.",
		  snap.queue_bucket, queue_bounds_us, MCP_QUEUE_BUCKETS, snap.queue_count,
		  snap.queue_sum_us);
	family(&b, "cact_tool_calls_total", "counter",
	       "MCP tools/call requests by tool and outcome (at most 32 tool names; the rest, "
	       "and names that are no tool, count as _other).");
	for (i = 0; i <= MCP_TOOL_SLOTS; i++) {
		const char *name = i < MCP_TOOL_SLOTS ? m->tool_name[i] : "_other";

		if (!name)
			continue;
		for (k = 0; k < MCP_OUT__N; k++) {
			ut_buf_addf(&b, "cact_tool_calls_total{tool=\"");
			label_value(&b, name);
			ut_buf_addf(&b, "\",outcome=\"%s\"} %llu\n", outcomes[k],
				    (unsigned long long)snap.tool_out[i][k]);
		}
	}
	pthread_mutex_unlock(&m->mlock);
	family(&b, "cact_http_requests_total", "counter",
	       "HTTP responses by status code (other: a code not listed).");
	for (i = 0; i <= MCP_HTTP_CODES; i++) {
		if (i < MCP_HTTP_CODES)
			ut_buf_addf(&b, "cact_http_requests_total{code=\"%u\"} %llu\n",
				    http_codes[i], (unsigned long long)get(&m->http_code[i]));
		else
			ut_buf_addf(&b, "cact_http_requests_total{code=\"other\"} %llu\n",
				    (unsigned long long)get(&m->http_code[i]));
	}
	counter(&b, "cact_http_received_bytes_total", "HTTP request body bytes received.",
		get(&m->http_in_bytes));
	counter(&b, "cact_http_sent_bytes_total",
		"HTTP response body bytes sent (JSON bodies and event streams).",
		get(&m->http_out_bytes));
	gauge(&b, "cact_pool_size", "Prepared sandboxes waiting for a request.", st.idle);
	gauge(&b, "cact_pool_preparing", "Sandboxes being prepared.", st.preparing);
	gauge(&b, "cact_pool_target", "Prepared sandboxes the pool aims at now.", st.pool_target);
	gauge(&b, "cact_pool_busy", "Executions running.", st.running);
	gauge(&b, "cact_pool_waiting", "Callers waiting for a sandbox.", st.waiting);
	counter(&b, "cact_pool_busy_refusals_total",
		"Callers refused as busy (the queue was full or the wait too long).", st.busy);
	counter(&b, "cact_runtime_restarts_total", "Sandbox zygotes started after a loss.",
		st.restarts);
	gauge(&b, "cact_mcp_sessions", "Live MCP sessions.", sessions);
	counter(&b, "cact_mcp_sessions_total", "MCP sessions started.", get(&m->sessions_total));
	gauge(&b, "cact_sandbox_sessions", "Live sandbox sessions (cact mcp --sessions).",
	      st.sessions);
	gauge(&b, "cact_calls_in_flight", "tools/call requests being served.", calls);
	gauge(&b, "cact_ready", "1 when the server takes calls (what /readyz says).",
	      (unsigned long long)ready);
	gauge(&b, "cact_draining", "1 while the server drains before it stops.",
	      (unsigned long long)mcp_draining(s));
	gauge(&b, "process_resident_memory_bytes", "Resident memory of the cact process.",
	      rss_bytes());
	gauge(&b, "process_open_fds", "Open file descriptors of the cact process.", open_fds());
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		gauge(&b, "process_max_fds", "The process's limit on open file descriptors.",
		      (unsigned long long)rl.rlim_cur);
	return ut_buf_steal(&b, len);
}

/* ---- answers for the transports ---- */

int mcp_ops_path(const char *path)
{
	if (strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0)
		return 1;
	return strcmp(path, "/metrics") == 0 ? 2 : 0;
}

int mcp_ops_answer(struct cact_mcp_server *srv, const char *path, char **body, size_t *len)
{
	char why[300];
	int n;

	*body = NULL;
	*len = 0;
	if (strcmp(path, "/metrics") == 0) {
		*body = cact_mcp_server_metrics(srv, len);
		return *body ? 200 : 500;
	}
	if (strcmp(path, "/healthz") == 0) {
		*body = strdup("ok\n");
		*len = 3;
		return 200;
	}
	n = cact_mcp_server_ready(srv, why, sizeof(why));
	if (n)
		*body = strdup("ready\n");
	else if (asprintf(body, "not ready: %s\n", why) < 0)
		*body = NULL;
	*len = *body ? strlen(*body) : 0;
	return n ? 200 : 503;
}

/* ---- drain ---- */

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int busy(struct cact_mcp_server *s)
{
	unsigned sessions, calls;

	count_sessions(s, &sessions, &calls);
	return calls || __atomic_load_n(&s->open_requests, __ATOMIC_ACQUIRE);
}

/* Waits until no call is in flight and no answer unsent, or until us passed. 1 when idle. */
static int wait_idle(struct cact_mcp_server *s, uint64_t us)
{
	uint64_t until = ut_now_us() + us;

	for (;;) {
		if (!busy(s))
			return 1;
		if (ut_now_us() >= until)
			return 0;
		sleep_ms(20);
	}
}

CACT_API void cact_mcp_server_drain(struct cact_mcp_server *s, uint64_t grace_ms,
				    unsigned *cancelled)
{
	struct mcp_session *ss;
	unsigned n = 0;
	uint64_t t0 = ut_now_us();
	char msg[256];

	if (__atomic_exchange_n(&s->draining, 1, __ATOMIC_ACQ_REL)) {
		if (cancelled)
			*cancelled = 0;
		return; /* already draining */
	}
	ut_snprintf(msg, sizeof(msg),
		    "draining: new calls are refused; calls in flight have %llu.%03llu s to "
		    "finish",
		    (unsigned long long)(grace_ms / 1000), (unsigned long long)(grace_ms % 1000));
	mcp_log_simple(s, "notice", "drain_started", NULL, msg);
	ut_snprintf(msg, sizeof(msg),
		    "cact is shutting down: it takes no new calls; calls already running may "
		    "finish within %llu s, then they are cancelled. Reconnect to carry on.",
		    (unsigned long long)((grace_ms + 999) / 1000));
	pthread_mutex_lock(&s->lock);
	for (ss = s->sessions; ss; ss = ss->next)
		mcp_calls_tell(ss, MCP_LOG_WARNING, msg);
	pthread_mutex_unlock(&s->lock);
	if (!wait_idle(s, grace_ms * 1000u)) {
		pthread_mutex_lock(&s->lock);
		for (ss = s->sessions; ss; ss = ss->next)
			n += mcp_calls_abort(ss);
		pthread_mutex_unlock(&s->lock);
		/* Killed executions end at once; their answers then go out. */
		wait_idle(s, 10000000u);
	}
	ut_snprintf(msg, sizeof(msg), "drained in %.3f s: %u call(s) cancelled",
		    (double)(ut_now_us() - t0) / 1e6, n);
	mcp_log_simple(s, n ? "warning" : "notice", "drain_ended", NULL, msg);
	if (cancelled)
		*cancelled = n;
}

/* ---- a listener of its own ---- */

struct cact_mcp_ops_listener {
	struct cact_mcp_server *srv;
	struct MHD_Daemon *d;
};

static enum MHD_Result ops_request(void *cls, struct MHD_Connection *conn, const char *url,
				   const char *method, const char *version, const char *upload,
				   size_t *upload_size, void **con_cls)
{
	struct cact_mcp_ops_listener *l = cls;
	struct MHD_Response *resp;
	const char *type = "text/plain; charset=utf-8";
	char *text = NULL;
	size_t len = 0;
	unsigned status;
	enum MHD_Result ok;

	(void)version;
	(void)upload;
	if (!*con_cls) {
		*con_cls = l; /* headers first; answer with the next call */
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0; /* a body is read and dropped; the answer comes after it */
		return MHD_YES;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		text = strdup("method not allowed: GET only\n");
	} else if (!mcp_ops_path(url)) {
		status = MHD_HTTP_NOT_FOUND;
		text = strdup("not found: /metrics, /healthz or /readyz\n");
	} else {
		status = (unsigned)mcp_ops_answer(l->srv, url, &text, &len);
		if (mcp_ops_path(url) == 2)
			type = "text/plain; version=0.0.4; charset=utf-8";
	}
	if (!text)
		return MHD_NO;
	if (!len)
		len = strlen(text);
	resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, "Allow", "GET, HEAD");
	ok = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ok;
}

static void ops_quiet(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	(void)fmt;
	(void)ap;
}

CACT_API int cact_mcp_ops_listen(struct cact_mcp_server *s, const char *host, unsigned port,
				 struct cact_mcp_ops_listener **out, unsigned *bound_port,
				 struct cact_error *err)
{
	struct cact_mcp_ops_listener *l;
	const union MHD_DaemonInfo *info;
	struct sockaddr_storage ss;
	unsigned flags;
	int rc;

	*out = NULL;
	if (!s || port > 65535)
		return ut_err(err, CACT_EINVAL, "mcp ops: bad arguments");
	if ((rc = mcp_http_resolve(host ? host : "127.0.0.1", port, &ss, err)))
		return rc;
	if ((rc = mcp_mhd_load(err)))
		return rc;
	l = calloc(1, sizeof(*l));
	if (!l)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	l->srv = s;
	/* Few clients (a collector, probes): one polling thread serves them all. */
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	errno = 0;
	l->d = MHD_start_daemon(
		flags, (uint16_t)port, NULL, NULL, ops_request, l, MHD_OPTION_SOCK_ADDR,
		(struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, 64u,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, 16u, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536, MHD_OPTION_EXTERNAL_LOGGER,
		ops_quiet, NULL, MHD_OPTION_END);
	if (!l->d) {
		rc = ut_err_sys(err, CACT_ESYS, errno ? errno : EADDRNOTAVAIL,
				"cannot listen on %s port %u", host ? host : "127.0.0.1", port);
		free(l);
		return rc;
	}
	info = MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_BIND_PORT);
	if (bound_port)
		__atomic_store_n(bound_port, info && info->port ? info->port : port,
				 __ATOMIC_RELEASE);
	*out = l;
	return 0;
}

CACT_API void cact_mcp_ops_close(struct cact_mcp_ops_listener *l)
{
	if (!l)
		return;
	MHD_stop_daemon(l->d);
	free(l);
}
