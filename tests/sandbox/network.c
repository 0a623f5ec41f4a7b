/* SPDX-License-Identifier: MIT */
/*
 * HTTP(S) from sandboxed Python through the host, end to end through the
 * public API: http_get / http_post / http_request, urllib and http.client,
 * against servers each case starts on 127.0.0.1 (tests/sandbox/netserver.py,
 * with a self-signed certificate made by openssl), and, where the machine
 * allows it, across two network namespaces with the cact CLI.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common.h"

#define SERVER_PYTHON "/usr/bin/python3"
#define NAME	      "netfix.cact.test" /* a name the certificate and the resolve hook know */
#define NETNS_CASE    "netns_cli_non_loopback"

extern char **environ;

/* Helpers every case's code starts with (after A, B, S, PA, PB, PS and NAME). */
#define PY_HELPERS                                                               \
	"import json, sys, urllib.parse\n"                                       \
	"def t(label, f, *a, **kw):\n"                                           \
	"    try:\n"                                                             \
	"        v = f(*a, **kw)\n"                                              \
	"    except Exception as e:\n"                                           \
	"        print(label + ':', type(e).__name__ + ':', e)\n"                \
	"        return None\n"                                                  \
	"    print(label + ': ok')\n"                                            \
	"    return v\n"                                                         \
	"def echo(r):\n"                                                         \
	"    return json.loads(r['body'])\n"                                     \
	"def hdr(e, name):\n"                                                    \
	"    return [v for k, v in e['headers'] if k.lower() == name.lower()]\n" \
	"def q(u):\n"                                                            \
	"    return urllib.parse.quote(u, safe='')\n"

/* A formatted string in one of 16 rotating buffers: for expected values. */
static const char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static const char *fmt(const char *f, ...)
{
	static char ring[16][2048];
	static unsigned at;
	char *b = ring[at++ % 16];
	va_list ap;

	va_start(ap, f);
	vsnprintf(b, sizeof(ring[0]), f, ap);
	va_end(ap);
	return b;
}

/* ---- processes ---- */

/*
 * Starts argv (argv[0] looked up in PATH) with stdin on a pipe (*in_w) and
 * stdout on another (*out_r); stderr goes to err_path, or to stdout when
 * err_path is NULL. The parent's ends are close-on-exec. -1 with errno set
 * when it cannot. (No Check assertions here: main uses it too.)
 */
static pid_t spawn(const char *const *argv, int *in_w, int *out_r, const char *err_path)
{
	posix_spawn_file_actions_t fa;
	int in[2], out[2], rc;
	pid_t pid;

	if (pipe2(in, O_CLOEXEC))
		return -1;
	if (pipe2(out, O_CLOEXEC)) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	if (err_path)
		posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_APPEND,
						 0644);
	else
		posix_spawn_file_actions_adddup2(&fa, out[1], 2);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	if (rc) {
		close(in[1]);
		close(out[0]);
		errno = rc;
		return -1;
	}
	*in_w = in[1];
	*out_r = out[0];
	return pid;
}

/* Everything fd gives until its end (owned; what fitted in memory). */
static char *read_all(int fd)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *grown;
	ssize_t n;

	if (!buf)
		return NULL;
	for (;;) {
		if (len + 1024 > cap) {
			grown = realloc(buf, cap * 2);
			if (!grown)
				break;
			buf = grown;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

/*
 * Runs argv to its end with stdin empty; *out (owned) gets stdout and
 * stderr, or why it could not start. The exit status, -1 when it did not start.
 */
static int run_cmd(const char *const *argv, char **out)
{
	int in_w, out_r, status;
	pid_t pid = spawn(argv, &in_w, &out_r, NULL);

	if (pid < 0) {
		*out = strdup(strerror(errno));
		return -1;
	}
	close(in_w);
	*out = read_all(out_r);
	close(out_r);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- the servers ---- */

struct srv {
	pid_t pid;
	int in_w;	  /* its stdin: closing it stops the server */
	int out_r;	  /* its stdout: the ports, then one line per request */
	unsigned a, b, s; /* ports: plain HTTP, a second plain HTTP, HTTPS (0: none) */
	char *dir;	  /* certificate, key, the server's stderr; the server removes it */
	char ca[512];
	char log[1 << 16];
	size_t log_len;
};

/* Reads what the server wrote, waiting up to wait_ms for more. */
static void srv_read(struct srv *s, int wait_ms)
{
	struct pollfd p = {.fd = s->out_r, .events = POLLIN};
	ssize_t n;

	while (s->log_len + 1 < sizeof(s->log) && poll(&p, 1, wait_ms) > 0) {
		n = read(s->out_r, s->log + s->log_len, sizeof(s->log) - s->log_len - 1);
		if (n <= 0)
			break;
		s->log_len += (size_t)n;
		s->log[s->log_len] = '\0';
		wait_ms = 0;
	}
}

/* How many of the server's lines start with prefix ("req a GET /echo"). */
static int srv_count(struct srv *s, const char *prefix)
{
	const char *p;
	int n = 0;

	srv_read(s, 0);
	for (p = s->log; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, prefix, strlen(prefix)) == 0)
			n++;
	return n;
}

#define expect_seen(s, prefix, n) expect_seen_at((s), (prefix), (n), __LINE__)
static void expect_seen_at(struct srv *s, const char *prefix, int n, int line)
{
	int got = srv_count(s, prefix);

	ck_assert_msg(got == n, "line %d: the server saw %d requests \"%s...\", expected %d\n%s",
		      line, got, prefix, n, s->log);
}

/* Makes a self-signed certificate for localhost, NAME and 127.0.0.1 in s->dir. */
static void make_cert(struct srv *s)
{
	const char *key = fmt("%s/key.pem", s->dir);
	const char *argv[] = {"openssl",
			      "req",
			      "-x509",
			      "-newkey",
			      "ec",
			      "-pkeyopt",
			      "ec_paramgen_curve:prime256v1",
			      "-nodes",
			      "-keyout",
			      key,
			      "-out",
			      s->ca,
			      "-days",
			      "2",
			      "-subj",
			      "/CN=cact network test",
			      "-addext",
			      "subjectAltName=DNS:localhost,DNS:" NAME ",IP:127.0.0.1",
			      NULL};
	char *out = NULL;
	int rc = run_cmd(argv, &out);

	ck_assert_msg(rc == 0, "openssl req failed (exit %d):\n%s", rc, out);
	free(out);
}

/*
 * Starts netserver.py, through prefix (a command such as "ip netns exec X",
 * NULL-terminated; NULL for none), bound to bind, with TLS when tls is set.
 */
static void srv_start_in(struct srv *s, const char *const *prefix, const char *bind, int tls)
{
	const char *root = getenv("CACT_SOURCE_ROOT");
	const char *argv[32];
	char script[1024], key[600], err[600];
	size_t n = 0;
	uint64_t until;
	struct timespec ts;

	memset(s, 0, sizeof(*s));
	ck_assert_msg(root != NULL, "CACT_SOURCE_ROOT is not set");
	ck_assert_msg(access(SERVER_PYTHON, X_OK) == 0, "%s is missing", SERVER_PYTHON);
	snprintf(script, sizeof(script), "%s/tests/sandbox/netserver.py", root);
	s->dir = t_tmpdir();
	snprintf(s->ca, sizeof(s->ca), "%s/cert.pem", s->dir);
	snprintf(key, sizeof(key), "%s/key.pem", s->dir);
	snprintf(err, sizeof(err), "%s/server.err", s->dir);
	if (tls)
		make_cert(s);
	while (prefix && *prefix)
		argv[n++] = *prefix++;
	argv[n++] = SERVER_PYTHON;
	argv[n++] = "-I";
	argv[n++] = script;
	argv[n++] = "--bind";
	argv[n++] = bind;
	argv[n++] = "--lifetime";
	argv[n++] = "120";
	argv[n++] = "--remove";
	argv[n++] = s->dir;
	if (tls) {
		argv[n++] = "--cert";
		argv[n++] = s->ca;
		argv[n++] = "--key";
		argv[n++] = key;
	}
	argv[n] = NULL;
	s->pid = spawn(argv, &s->in_w, &s->out_r, err);
	ck_assert_msg(s->pid > 0, "cannot start %s: %s", SERVER_PYTHON, strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &ts);
	until = (uint64_t)ts.tv_sec + 20;
	while (!strchr(s->log, '\n')) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		if ((uint64_t)ts.tv_sec > until)
			break;
		srv_read(s, 200);
		if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
			s->pid = 0;
			break;
		}
	}
	if (sscanf(s->log, "ports %u %u %u", &s->a, &s->b, &s->s) != 3 || !s->a || !s->b) {
		const char *cat[] = {"cat", err, NULL};
		char *text = NULL;

		run_cmd(cat, &text);
		ck_abort_msg("netserver.py did not start; it printed \"%s\"; its stderr:\n%s",
			     s->log, text);
	}
	ck_assert(!tls || s->s);
}

static void srv_start(struct srv *s)
{
	srv_start_in(s, NULL, "127.0.0.1", 1);
}

static void srv_stop(struct srv *s)
{
	close(s->in_w);
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	close(s->out_r);
	t_rmtree(s->dir);
	free(s->dir);
}

/* ---- requests and results ---- */

static struct cact_request *net_req(void)
{
	struct cact_request *req = NULL;

	ck_assert_int_eq(cact_request_new(&req), 0);
	return req;
}

/* Allows the formatted target with methods ("GET,POST"; NULL for all). */
static void allow(struct cact_request *req, const char *methods, const char *f, ...)
	__attribute__((format(printf, 3, 4)));
static void allow(struct cact_request *req, const char *methods, const char *f, ...)
{
	struct cact_error err = {0};
	char target[512], list[256], *save = NULL, *m;
	const char *v[16];
	size_t n = 0;
	va_list ap;

	va_start(ap, f);
	vsnprintf(target, sizeof(target), f, ap);
	va_end(ap);
	if (methods) {
		snprintf(list, sizeof(list), "%s", methods);
		for (m = strtok_r(list, ",", &save); m && n < 16; m = strtok_r(NULL, ",", &save))
			v[n++] = m;
	}
	ck_assert_msg(cact_request_add_allowed_domain(req, target, methods ? v : NULL, n, &err) ==
			      0,
		      "allow %s: %s", target, err.message);
}

static void set_limit(struct cact_request *req, enum cact_limit l, uint64_t v)
{
	struct cact_error err = {0};

	ck_assert_msg(cact_request_set_limit(req, l, v, &err) == 0, "%s", err.message);
}

static void set_ca(struct cact_request *req, const char *path)
{
	struct cact_error err = {0};

	ck_assert_msg(cact_request_set_ca_file(req, path, &err) == 0, "%s", err.message);
}

static void resolve(struct cact_request *req, const char *host, const char *addr)
{
	struct cact_error err = {0};

	ck_assert_msg(cact_request_add_resolve(req, host, addr, &err) == 0, "%s", err.message);
}

/* Runs code after the helpers, with the servers' addresses defined; timeout_ms 0: 30 s. */
static struct cact_result *run(struct cact_runtime *rt, struct cact_request *req,
			       const struct srv *s, const char *code, unsigned timeout_ms)
{
	struct cact_error err = {0};
	struct cact_result *r;
	char *text = NULL;

	ck_assert_int_ge(asprintf(&text,
				  "A = 'http://127.0.0.1:%u'\n"
				  "B = 'http://127.0.0.1:%u'\n"
				  "S = 'https://127.0.0.1:%u'\n"
				  "PA, PB, PS = %u, %u, %u\n"
				  "NAME = '" NAME "'\n"
				  "%s%s"
				  "pass\n",
				  s->a, s->b, s->s, s->a, s->b, s->s, PY_HELPERS, code),
			 0);
	ck_assert_msg(cact_request_set_code(req, text, strlen(text), &err) == 0, "%s", err.message);
	set_limit(req, CACT_LIMIT_TIMEOUT_MS, timeout_ms ? timeout_ms : 30000);
	r = t_run_req(rt, req);
	free(text);
	return r;
}

/* The HTTP log as text, for failure messages (a static buffer). */
static const char *log_text(const struct cact_result *r)
{
	static char buf[16384];
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < cact_result_http_count(r) && used < sizeof(buf); i++) {
		struct cact_http_entry e;

		if (cact_result_http(r, i, &e))
			break;
		used += (size_t)snprintf(
			buf + used, sizeof(buf) - used,
			"  %zu: %s %s status %d allowed %d in %llu out %llu error %s\n", i,
			e.method, e.url, e.status, e.allowed, (unsigned long long)e.bytes_in,
			(unsigned long long)e.bytes_out, e.error ? e.error : "-");
	}
	return buf;
}

#define assert_out(r, want) assert_out_at((r), (want), __LINE__)
static void assert_out_at(const struct cact_result *r, const char *want, int line)
{
	size_t len;
	const char *got = cact_result_stdout(r, &len, NULL);

	ck_assert_msg(len == strlen(want) && memcmp(got, want, len) == 0,
		      "line %d: stdout\n---\n%s---\nexpected\n---\n%s---\nstderr: %s\nlog:\n%s",
		      line, got, want, t_err(r), log_text(r));
}

/*
 * Expects a line of stdout that starts with prefix and contains each of
 * the needles (a NULL-terminated list).
 */
#define expect_line(r, prefix, ...) expect_line_at((r), __LINE__, (prefix), __VA_ARGS__)
static void expect_line_at(const struct cact_result *r, int line, const char *prefix, ...)
{
	const char *out = t_out(r), *p, *needle;
	char text[4096];
	va_list ap;

	for (p = out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, prefix, strlen(prefix)) == 0)
			break;
	ck_assert_msg(p && *p, "line %d: no line starts with \"%s\"\n---\n%s---\nstderr: %s", line,
		      prefix, out, t_err(r));
	snprintf(text, sizeof(text), "%.*s", (int)strcspn(p, "\n"), p);
	va_start(ap, prefix);
	while ((needle = va_arg(ap, const char *)))
		ck_assert_msg(strstr(text, needle) != NULL,
			      "line %d: \"%s\" lacks \"%s\"\n---\n%s---\nstderr: %s", line, text,
			      needle, out, t_err(r));
	va_end(ap);
}

#define expect_hops(r, n) expect_hops_at((r), (n), __LINE__)
static void expect_hops_at(const struct cact_result *r, size_t n, int line)
{
	ck_assert_msg(cact_result_http_count(r) == n, "line %d: %zu hops logged, expected %zu\n%s",
		      line, cact_result_http_count(r), n, log_text(r));
}

/*
 * Expects hop i of the log: method, url (NULL: any), status, allowed, and
 * error: NULL for none, else a text the error contains.
 */
#define expect_hop(r, i, method, url, status, allowed, error) \
	expect_hop_at((r), (i), (method), (url), (status), (allowed), (error), __LINE__)
static void expect_hop_at(const struct cact_result *r, size_t i, const char *method,
			  const char *url, int status, int allowed, const char *error, int line)
{
	struct cact_http_entry e;

	ck_assert_msg(cact_result_http(r, i, &e) == 0, "line %d: no hop %zu\n%s", line, i,
		      log_text(r));
	ck_assert_msg(strcmp(e.method, method) == 0 && (!url || strcmp(e.url, url) == 0) &&
			      e.status == status && !!e.allowed == !!allowed &&
			      (error ? e.error && strstr(e.error, error) : !e.error),
		      "line %d: hop %zu is not %s %s status %d allowed %d error %s\n%s", line, i,
		      method, url ? url : "(any)", status, allowed, error ? error : "(none)",
		      log_text(r));
}

static struct cact_stats stats_of(const struct cact_result *r)
{
	struct cact_stats st;

	cact_result_stats(r, &st);
	return st;
}

/* A runtime, a request and the servers: what most cases start with. */
struct fx {
	struct srv s;
	struct cact_runtime *rt;
	struct cact_request *req;
};

static void fx_start(struct fx *f)
{
	srv_start(&f->s);
	f->rt = t_runtime();
	f->req = net_req();
}

static void fx_stop(struct fx *f)
{
	cact_request_free(f->req);
	cact_runtime_free(f->rt);
	srv_stop(&f->s);
}

/* ---- allowed requests ---- */

START_TEST(get_allowed)
{
	struct fx f;
	struct cact_result *r;
	struct cact_stats st;
	struct cact_http_entry e;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	r = run(f.rt, f.req, &f.s,
		"r = t('get', http_get, A + '/echo?x=1', headers={'X-Test': 'one'})\n"
		"e = echo(r)\n"
		"print(r['status'], r['url'] == A + '/echo?x=1', e['server'], e['method'], "
		"e['path'], hdr(e, 'X-Test'))\n"
		"print(r['headers']['content-type'], "
		"r['headers']['content-length'] == str(len(r['body'])), type(r['body']).__name__)\n"
		"from cact import http_get as g, http_post as p, http_request as q\n"
		"print(g is http_get, p is http_post, q is http_request)\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "get: ok\n"
		      "200 True a GET /echo?x=1 ['one']\n"
		      "application/json True str\n"
		      "True True True\n");
	expect_hops(r, 1);
	expect_hop(r, 0, "GET", fmt("http://127.0.0.1:%u/echo?x=1", f.s.a), 200, 1, NULL);
	ck_assert_int_eq(cact_result_http(r, 0, &e), 0);
	ck_assert_uint_gt(e.bytes_in, 0);
	ck_assert_uint_eq(e.bytes_out, 0);
	st = stats_of(r);
	ck_assert_uint_eq(st.http_requests, 1);
	ck_assert_uint_ge(st.http_bytes, e.bytes_in);
	expect_seen(&f.s, "req a GET /echo?x=1", 1);
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

START_TEST(post_allowed_body_echoed)
{
	struct fx f;
	struct cact_result *r;
	struct cact_http_entry e;

	fx_start(&f);
	allow(f.req, "GET,POST,PUT,PATCH,DELETE", "127.0.0.1:%u", f.s.a);
	r = run(f.rt, f.req, &f.s,
		"import base64\n"
		"r = t('post', http_post, A + '/echo', 'hello body', content_type='text/plain')\n"
		"e = echo(r)\n"
		"print(r['status'], e['method'], repr(e['body']), hdr(e, 'Content-Type'), "
		"hdr(e, 'Content-Length'))\n"
		"r = t('put', http_request, 'PUT', A + '/echo', body=b'raw\\x00bytes\\xff')\n"
		"print(echo(r)['method'], base64.b64decode(echo(r)['body_b64']) == "
		"b'raw\\x00bytes\\xff')\n"
		"r = t('patch', http_request, 'patch', A + '/echo', body='p\\u00e9')\n"
		"print(echo(r)['method'], base64.b64decode(echo(r)['body_b64']).decode())\n"
		"r = t('delete', http_request, 'DELETE', A + '/echo')\n"
		"print(echo(r)['method'], repr(echo(r)['body']))\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "post: ok\n"
		      "200 POST 'hello body' ['text/plain'] ['10']\n"
		      "put: ok\n"
		      "PUT True\n"
		      "patch: ok\n"
		      "PATCH p\xc3\xa9\n"
		      "delete: ok\n"
		      "DELETE ''\n");
	expect_hops(r, 4);
	expect_hop(r, 0, "POST", fmt("http://127.0.0.1:%u/echo", f.s.a), 200, 1, NULL);
	expect_hop(r, 1, "PUT", NULL, 200, 1, NULL);
	expect_hop(r, 2, "PATCH", NULL, 200, 1, NULL);
	expect_hop(r, 3, "DELETE", NULL, 200, 1, NULL);
	ck_assert_int_eq(cact_result_http(r, 0, &e), 0);
	ck_assert_uint_eq(e.bytes_out, 10);
	expect_seen(&f.s, "req a POST /echo", 1);
	expect_seen(&f.s, "req a PUT /echo", 1);
	expect_seen(&f.s, "req a PATCH /echo", 1);
	expect_seen(&f.s, "req a DELETE /echo", 1);
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

START_TEST(post_json_body)
{
	struct fx f;
	struct cact_result *r;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	r = run(f.rt, f.req, &f.s,
		"v = {'a': 1, 'b': [1, 2], 'c': 'caf\\u00e9', 'd': None}\n"
		"r = t('dict', http_post, A + '/echo', v)\n"
		"e = echo(r)\n"
		"print(json.loads(e['body'].encode('latin-1').decode('utf-8')) == v, "
		"hdr(e, 'Content-Type'))\n"
		"r = t('list', http_post, A + '/echo', [1, 'two'])\n"
		"print(json.loads(echo(r)['body']))\n"
		"r = t('custom', http_post, A + '/echo', {'x': 1}, "
		"headers={'content-type': 'application/vnd.test+json'})\n"
		"print(hdr(echo(r), 'Content-Type'), json.loads(echo(r)['body']))\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "dict: ok\n"
		      "True ['application/json']\n"
		      "list: ok\n"
		      "[1, 'two']\n"
		      "custom: ok\n"
		      "['application/vnd.test+json'] {'x': 1}\n");
	expect_hops(r, 3);
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

/* ---- refusals ---- */

START_TEST(method_denied)
{
	struct fx f;
	struct cact_result *r;

	fx_start(&f);
	allow(f.req, "GET,HEAD", "127.0.0.1:%u", f.s.a);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.b);
	r = run(f.rt, f.req, &f.s,
		"t('post', http_post, A + '/echo', 'x')\n"
		"t('delete', http_request, 'DELETE', A + '/echo')\n"
		"t('get', http_get, A + '/echo')\n"
		"r = t('head', http_request, 'HEAD', A + '/bytes/10')\n"
		"print(r['status'], repr(r['body']))\n"
		"t('trace', http_request, 'TRACE', B + '/echo')\n"
		"t('connect', http_request, 'CONNECT', B + '/echo')\n"
		"t('bad', http_request, 'GE T', B + '/echo')\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	expect_line(r, "post: PermissionError: ", "POST", "GET", NULL);
	expect_line(r, "delete: PermissionError: ", "DELETE", NULL);
	expect_line(r, "get: ok", NULL);
	expect_line(r, "head: ok", NULL);
	expect_line(r, "200 ''", NULL);
	expect_line(r, "trace: PermissionError: ", "TRACE", NULL);
	expect_line(r, "connect: PermissionError: ", "CONNECT", NULL);
	expect_line(r, "bad: ", "Error", "method", NULL);
	expect_hop(r, 0, "POST", fmt("http://127.0.0.1:%u/echo", f.s.a), 0, 0, "POST");
	expect_hop(r, 1, "DELETE", NULL, 0, 0, "DELETE");
	expect_hop(r, 2, "GET", NULL, 200, 1, NULL);
	expect_hop(r, 3, "HEAD", NULL, 200, 1, NULL);
	expect_hop(r, 4, "TRACE", NULL, 0, 0, "TRACE");
	expect_hop(r, 5, "CONNECT", NULL, 0, 0, "CONNECT");
	expect_seen(&f.s, "req a ", 2);
	expect_seen(&f.s, "req b ", 0);
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

START_TEST(target_denied)
{
	struct fx f;
	struct cact_result *r;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	allow(f.req, "GET", "api.example.com");
	r = run(f.rt, f.req, &f.s,
		"t('other port', http_get, B + '/echo')\n"
		"t('other ip', http_get, 'http://127.0.0.2:%d/echo' % PA)\n"
		"t('scheme', http_get, 'ftp://127.0.0.1:%d/echo' % PA)\n"
		"t('user', http_get, 'http://u:p@127.0.0.1:%d/echo' % PA)\n"
		"t('name', http_get, 'http://api.example.com:%d/' % PB)\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	expect_line(r, "other port: PermissionError: ", fmt("127.0.0.1:%u", f.s.b),
		    fmt("127.0.0.1:%u", f.s.a), "api.example.com", NULL);
	expect_line(r, "other ip: PermissionError: ", "127.0.0.2", NULL);
	expect_line(r, "scheme: PermissionError: ", NULL);
	expect_line(r, "user: PermissionError: ", NULL);
	expect_line(r, "name: PermissionError: ", NULL);
	expect_hops(r, 5);
	expect_hop(r, 0, "GET", fmt("http://127.0.0.1:%u/echo", f.s.b), 0, 0, "");
	expect_seen(&f.s, "req ", 0);
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

START_TEST(port_mismatch)
{
	struct fx f;
	struct cact_result *r;

	fx_start(&f);
	set_limit(f.req, CACT_LIMIT_HTTP_TIMEOUT_MS, 5000);
	/* Without a port, only the scheme's default port. */
	allow(f.req, NULL, "127.0.0.1");
	r = run(f.rt, f.req, &f.s,
		"t('port', http_get, A + '/echo')\n"
		"try:\n"
		"    http_get('http://127.0.0.1/echo')\n"
		"    print('default: reached')\n"
		"except PermissionError as e:\n"
		"    print('default: PermissionError:', e)\n"
		"except OSError as e:\n"
		"    print('default: not refused by the policy')\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	expect_line(r, "port: PermissionError: ", fmt("127.0.0.1:%u", f.s.a), NULL);
	expect_line(r, "default: ", NULL);
	ck_assert_msg(!strstr(t_out(r), "default: PermissionError"), "%s", t_out(r));
	expect_hops(r, 2);
	expect_hop(r, 0, "GET", fmt("http://127.0.0.1:%u/echo", f.s.a), 0, 0, "");
	ck_assert_msg(strstr(log_text(r), "1: GET http://127.0.0.1/echo status") &&
			      strstr(log_text(r), "allowed 1"),
		      "%s", log_text(r));
	cact_result_free(r);
	cact_request_free(f.req);

	/* With a port, that port only. */
	f.req = net_req();
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	r = run(f.rt, f.req, &f.s,
		"t('80', http_get, 'http://127.0.0.1/echo')\n"
		"t('443', http_get, 'https://127.0.0.1/echo')\n"
		"t('given', http_get, A + '/echo')\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	expect_line(r, "80: PermissionError: ", NULL);
	expect_line(r, "443: PermissionError: ", NULL);
	expect_line(r, "given: ok", NULL);
	expect_seen(&f.s, "req a GET /echo", 1);
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

/* ---- redirects ---- */

START_TEST(redirect_followed)
{
	struct fx f;
	struct cact_result *r;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.b);
	r = run(f.rt, f.req, &f.s,
		"r = t('relative', http_get, A + '/redirect?to=/echo')\n"
		"print(r['status'], r['url'] == A + '/echo', echo(r)['path'], echo(r)['server'])\n"
		"r = t('absolute', http_get, A + '/redirect?code=301&to=' + q(B + '/echo?y=2'))\n"
		"print(r['status'], r['url'] == B + '/echo?y=2', echo(r)['path'], "
		"echo(r)['server'])\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "relative: ok\n"
		      "200 True /echo a\n"
		      "absolute: ok\n"
		      "200 True /echo?y=2 b\n");
	expect_hops(r, 4);
	expect_hop(r, 0, "GET", fmt("http://127.0.0.1:%u/redirect?to=/echo", f.s.a), 302, 1, NULL);
	expect_hop(r, 1, "GET", fmt("http://127.0.0.1:%u/echo", f.s.a), 200, 1, NULL);
	expect_hop(r, 2, "GET", NULL, 301, 1, NULL);
	expect_hop(r, 3, "GET", fmt("http://127.0.0.1:%u/echo?y=2", f.s.b), 200, 1, NULL);
	/* Every hop is a request. */
	ck_assert_uint_eq(stats_of(r).http_requests, 4);
	expect_seen(&f.s, "req a GET /redirect", 2);
	expect_seen(&f.s, "req a GET /echo", 1);
	expect_seen(&f.s, "req b GET /echo?y=2", 1);
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

START_TEST(redirect_to_denied_target)
{
	struct fx f;
	struct cact_result *r;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	r = run(f.rt, f.req, &f.s,
		"t('denied', http_get, A + '/redirect?to=' + q(B + '/echo'))\n"
		"t('https', http_get, A + '/redirect?to=' + q(S + '/echo'))\n"
		"t('scheme', http_get, A + '/redirect?to=' + q('ftp://127.0.0.1:%d/echo' % PA))\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	expect_line(r, "denied: PermissionError: ", fmt("127.0.0.1:%u", f.s.b), NULL);
	expect_line(r, "https: PermissionError: ", fmt("127.0.0.1:%u", f.s.s), NULL);
	expect_line(r, "scheme: PermissionError: ", NULL);
	expect_hop(r, 0, "GET", NULL, 302, 1, NULL);
	expect_hop(r, 1, "GET", fmt("http://127.0.0.1:%u/echo", f.s.b), 0, 0, "");
	expect_hop(r, 2, "GET", NULL, 302, 1, NULL);
	expect_hop(r, 3, "GET", fmt("https://127.0.0.1:%u/echo", f.s.s), 0, 0, "");
	expect_seen(&f.s, "req a GET /redirect", 3);
	expect_seen(&f.s, "req b ", 0);
	expect_seen(&f.s, "req s ", 0);
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

START_TEST(redirect_to_internal_addresses)
{
	struct fx f;
	struct cact_result *r;
	size_t i;
	int found = 0;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	r = run(f.rt, f.req, &f.s,
		"for label, to in (('metadata', 'http://169.254.169.254/latest/meta-data/'),\n"
		"                  ('localhost', 'http://localhost:%d/echo' % PA),\n"
		"                  ('short', 'http://127.1:%d/echo' % PA),\n"
		"                  ('decimal', 'http://2130706433:%d/echo' % PA),\n"
		"                  ('hex', 'http://0x7f.0.0.1:%d/echo' % PA),\n"
		"                  ('octal', 'http://0177.0.0.1:%d/echo' % PA),\n"
		"                  ('mapped', 'http://[::ffff:127.0.0.1]:%d/echo' % PA),\n"
		"                  ('zero', 'http://0.0.0.0:%d/echo' % PA)):\n"
		"    t(label, http_get, A + '/redirect?to=' + q(to))\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	expect_line(r, "metadata: PermissionError: ", NULL);
	expect_line(r, "localhost: PermissionError: ", NULL);
	expect_line(r, "short: PermissionError: ", NULL);
	expect_line(r, "decimal: PermissionError: ", NULL);
	expect_line(r, "hex: PermissionError: ", NULL);
	expect_line(r, "octal: PermissionError: ", NULL);
	expect_line(r, "mapped: PermissionError: ", NULL);
	expect_line(r, "zero: PermissionError: ", NULL);
	for (i = 0; i < cact_result_http_count(r); i++) {
		struct cact_http_entry e;

		ck_assert_int_eq(cact_result_http(r, i, &e), 0);
		if (strcmp(e.url, "http://169.254.169.254/latest/meta-data/") == 0) {
			ck_assert_msg(!e.allowed && e.status == 0 && e.error, "%s", log_text(r));
			found = 1;
		}
	}
	ck_assert_msg(found, "no hop to 169.254.169.254 logged\n%s", log_text(r));
	expect_seen(&f.s, "req a GET /redirect", 8);
	expect_seen(&f.s, "req a GET /echo", 0);
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

START_TEST(redirect_chain_limit)
{
	struct fx f;
	struct cact_result *r;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	r = run(f.rt, f.req, &f.s,
		"r = t('five', http_get, A + '/chain/5')\n"
		"print(r['body'], r['url'] == A + '/chain/0?code=302')\n"
		"try:\n"
		"    http_get(A + '/chain/6')\n"
		"    print('six: ok')\n"
		"except OSError as e:\n"
		"    print('six:', type(e).__name__, isinstance(e, PermissionError), e)\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	expect_line(r, "five: ok", NULL);
	expect_line(r, "end of chain True", NULL);
	expect_line(r, "six: ", "redirects", NULL);
	expect_hops(r, 12);
	expect_hop(r, 0, "GET", fmt("http://127.0.0.1:%u/chain/5", f.s.a), 302, 1, NULL);
	expect_hop(r, 5, "GET", fmt("http://127.0.0.1:%u/chain/0?code=302", f.s.a), 200, 1, NULL);
	expect_hop(r, 11, "GET", fmt("http://127.0.0.1:%u/chain/1?code=302", f.s.a), 302, 1,
		   "redirects");
	expect_seen(&f.s, "req a GET /chain/", 12);
	expect_seen(&f.s, "req a GET /chain/0", 1);
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

START_TEST(redirect_method_rules)
{
	struct fx f;
	struct cact_result *r;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	r = run(f.rt, f.req, &f.s,
		"for code in (301, 302, 303, 307, 308):\n"
		"    r = http_post(A + '/redirect?code=%d&to=/echo' % code, 'payload',\n"
		"                  content_type='text/plain')\n"
		"    e = echo(r)\n"
		"    print(code, r['status'], e['method'], repr(e['body']))\n"
		"r = http_request('PUT', A + '/redirect?code=302&to=/echo', body='put-body')\n"
		"print('put 302', echo(r)['method'], repr(echo(r)['body']))\n"
		"r = http_request('PUT', A + '/redirect?code=303&to=/echo', body='put-body')\n"
		"print('put 303', echo(r)['method'], repr(echo(r)['body']))\n"
		"r = http_get(A + '/redirect?code=307&to=/echo')\n"
		"print('get 307', echo(r)['method'])\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "301 200 GET ''\n"
		      "302 200 GET ''\n"
		      "303 200 GET ''\n"
		      "307 200 POST 'payload'\n"
		      "308 200 POST 'payload'\n"
		      "put 302 PUT 'put-body'\n"
		      "put 303 GET ''\n"
		      "get 307 GET\n");
	expect_hops(r, 16);
	expect_hop(r, 4, "POST", NULL, 303, 1, NULL);
	expect_hop(r, 5, "GET", fmt("http://127.0.0.1:%u/echo", f.s.a), 200, 1, NULL);
	expect_hop(r, 6, "POST", NULL, 307, 1, NULL);
	expect_hop(r, 7, "POST", fmt("http://127.0.0.1:%u/echo", f.s.a), 200, 1, NULL);
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

/* A redirect that turns a request into a GET drops the body and the headers that described it. */
START_TEST(redirect_to_get_drops_body_headers)
{
	struct fx f;
	struct cact_result *r;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	r = run(f.rt, f.req, &f.s,
		"for code in (302, 303):\n"
		"    e = echo(http_post(A + '/redirect?code=%d&to=/echo' % code, 'payload',\n"
		"                       content_type='text/plain', headers={'X-Keep': 'k'}))\n"
		"    print(code, e['method'], repr(e['body']), hdr(e, 'Content-Type'), "
		"hdr(e, 'Content-Length'), hdr(e, 'X-Keep'))\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "302 GET '' [] [] ['k']\n"
		      "303 GET '' [] [] ['k']\n");
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

/* ---- limits ---- */

START_TEST(body_limit)
{
	struct fx f;
	struct cact_result *r;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	set_limit(f.req, CACT_LIMIT_HTTP_BODY_BYTES, 65536);
	r = run(f.rt, f.req, &f.s,
		"r = t('at', http_get, A + '/bytes/65536')\n"
		"print(len(r['body']))\n"
		"t('over', http_get, A + '/bytes/65537')\n"
		"t('far', http_get, A + '/bytes/1000000')\n"
		"t('upload', http_post, A + '/echo', 'x' * 70000)\n"
		"t('after', http_get, A + '/echo')\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	expect_line(r, "at: ok", NULL);
	expect_line(r, "65536", NULL);
	expect_line(r, "over: OSError: ", "65536", NULL);
	expect_line(r, "far: OSError: ", "65536", NULL);
	expect_line(r, "upload: ", "65536", NULL);
	ck_assert_msg(!strstr(t_out(r), "upload: ok"), "%s", t_out(r));
	expect_line(r, "after: ok", NULL);
	expect_hop(r, 1, "GET", fmt("http://127.0.0.1:%u/bytes/65537", f.s.a), 0, 1, "65536");
	expect_seen(&f.s, "req a POST", 0);
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

START_TEST(slow_server_times_out)
{
	struct fx f;
	struct cact_result *r;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	set_limit(f.req, CACT_LIMIT_HTTP_TIMEOUT_MS, 1000);
	r = run(f.rt, f.req, &f.s,
		"import time\n"
		"t('slow', http_get, A + '/slow?delay=8')\n"
		"t('stall', http_get, A + '/stall?first=1000&total=5000&sleep=8')\n"
		"try:\n"
		"    http_get(A + '/slow?delay=8')\n"
		"except OSError as e:\n"
		"    print('is OSError', isinstance(e, OSError), isinstance(e, PermissionError))\n"
		"t('fast', http_get, A + '/echo')\n",
		40000);
	t_assert_status(r, CACT_STATUS_OK);
	expect_line(r, "slow: TimeoutError: ", NULL);
	expect_line(r, "stall: TimeoutError: ", NULL);
	expect_line(r, "is OSError True False", NULL);
	expect_line(r, "fast: ok", NULL);
	expect_hops(r, 4);
	expect_hop(r, 0, "GET", NULL, 0, 1, "");
	expect_hop(r, 1, "GET", NULL, 0, 1, "");
	expect_hop(r, 3, "GET", NULL, 200, 1, NULL);
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

START_TEST(byte_budget)
{
	struct fx f;
	struct cact_result *r;
	struct cact_stats st;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	set_limit(f.req, CACT_LIMIT_HTTP_BYTES, 50000);
	r = run(f.rt, f.req, &f.s,
		"for i in range(4):\n"
		"    t('r%d' % i, http_get, A + '/bytes/20000')\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	expect_line(r, "r0: ok", NULL);
	expect_line(r, "r1: ok", NULL);
	expect_line(r, "r2: OSError: ", "budget", NULL);
	expect_line(r, "r3: OSError: ", "budget", NULL);
	st = stats_of(r);
	ck_assert_uint_le(st.http_bytes, 50000);
	ck_assert_uint_ge(st.http_bytes, 40000);
	ck_assert_uint_eq(st.http_requests, 4);
	cact_result_free(r);

	/* A request body is paid for before it is sent. */
	set_limit(f.req, CACT_LIMIT_HTTP_BYTES, 10000);
	r = run(f.rt, f.req, &f.s,
		"t('big post', http_post, A + '/echo', 'x' * 20000)\n"
		"t('small post', http_post, A + '/echo', 'x' * 100)\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	expect_line(r, "big post: OSError: ", "budget", NULL);
	expect_line(r, "small post: ok", NULL);
	ck_assert_uint_le(stats_of(r).http_bytes, 10000);
	expect_seen(&f.s, "req a POST /echo", 1);
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

/* The log counts the bytes that went out, not the ones a refused body would have sent. */
START_TEST(log_counts_bytes_sent)
{
	struct fx f;
	struct cact_result *r;
	struct cact_http_entry e;
	uint64_t sum = 0;
	size_t i;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	set_limit(f.req, CACT_LIMIT_HTTP_BYTES, 10000);
	r = run(f.rt, f.req, &f.s,
		"t('big post', http_post, A + '/echo', 'x' * 20000)\n"
		"t('small post', http_post, A + '/echo', 'x' * 100)\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	expect_line(r, "big post: OSError: ", "budget", NULL);
	expect_line(r, "small post: ok", NULL);
	expect_hops(r, 2);
	ck_assert_int_eq(cact_result_http(r, 1, &e), 0);
	ck_assert_uint_eq(e.bytes_out, 100);
	for (i = 0; i < cact_result_http_count(r); i++) {
		ck_assert_int_eq(cact_result_http(r, i, &e), 0);
		sum += e.bytes_in + e.bytes_out;
	}
	ck_assert_msg(sum <= stats_of(r).http_bytes,
		      "the log counts %llu bytes, the execution spent %llu\n%s",
		      (unsigned long long)sum, (unsigned long long)stats_of(r).http_bytes,
		      log_text(r));
	ck_assert_int_eq(cact_result_http(r, 0, &e), 0);
	ck_assert_msg(e.bytes_out == 0,
		      "a body that was never sent is logged as %llu bytes out\n%s",
		      (unsigned long long)e.bytes_out, log_text(r));
	expect_seen(&f.s, "req a POST /echo", 1);
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

START_TEST(request_count_limit)
{
	struct fx f;
	struct cact_result *r;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	set_limit(f.req, CACT_LIMIT_HTTP_REQUESTS, 3);
	r = run(f.rt, f.req, &f.s,
		"for i in range(5):\n"
		"    t('r%d' % i, http_get, A + '/echo')\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	expect_line(r, "r0: ok", NULL);
	expect_line(r, "r1: ok", NULL);
	expect_line(r, "r2: ok", NULL);
	expect_line(r, "r3: ", "Error", "3", NULL);
	expect_line(r, "r4: ", "Error", "3", NULL);
	ck_assert_msg(!strstr(t_out(r), "r3: ok") && !strstr(t_out(r), "r4: ok"), "%s", t_out(r));
	ck_assert_uint_eq(stats_of(r).http_requests, 5);
	expect_hops(r, 5);
	expect_hop(r, 2, "GET", NULL, 200, 1, NULL);
	expect_hop(r, 3, "GET", NULL, 0, 0, "");
	expect_hop(r, 4, "GET", NULL, 0, 0, "");
	expect_seen(&f.s, "req a ", 3);
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

/* CACT_LIMIT_HTTP_REQUESTS is documented as counting each redirect hop. */
START_TEST(request_limit_counts_redirect_hops)
{
	struct fx f;
	struct cact_result *r;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	set_limit(f.req, CACT_LIMIT_HTTP_REQUESTS, 3);
	r = run(f.rt, f.req, &f.s, "t('chain', http_get, A + '/chain/4')\n", 0);
	t_assert_status(r, CACT_STATUS_OK);
	expect_line(r, "chain: ", "Error", NULL);
	ck_assert_msg(srv_count(&f.s, "req a ") <= 3,
		      "5 hops were made under a limit of 3 requests\n%s\nlog:\n%s", f.s.log,
		      log_text(r));
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

/* ---- bodies and headers ---- */

START_TEST(binary_exact)
{
	struct fx f;
	struct cact_result *r;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	r = run(f.rt, f.req, &f.s,
		"import base64\n"
		"r = t('bin', http_get, A + '/binary', binary=True)\n"
		"print(type(r['body']).__name__, r['body'] == bytes(range(256)), "
		"r['headers']['content-type'])\n"
		"r = t('text', http_get, A + '/binary')\n"
		"print(type(r['body']).__name__, len(r['body']), r['body'][:3] == "
		"'\\x00\\x01\\x02', "
		"r['body'][200] == '\\ufffd')\n"
		"r = t('up', http_request, 'POST', A + '/echo', body=bytes(range(256)), "
		"binary=True)\n"
		"print(type(r['body']).__name__, "
		"base64.b64decode(json.loads(r['body'])['body_b64']) == bytes(range(256)))\n"
		"r = t('bytearray', http_post, A + '/echo', bytearray(b'\\xff\\xfe'), "
		"content_type='application/octet-stream')\n"
		"print(base64.b64decode(echo(r)['body_b64']) == b'\\xff\\xfe')\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "bin: ok\n"
		      "bytes True application/octet-stream\n"
		      "text: ok\n"
		      "str 256 True True\n"
		      "up: ok\n"
		      "bytes True\n"
		      "bytearray: ok\n"
		      "True\n");
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

START_TEST(gzip_decoded)
{
	struct fx f;
	struct cact_result *r;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	r = run(f.rt, f.req, &f.s,
		"import urllib.request\n"
		"r = t('gzip', http_get, A + '/gzip')\n"
		"print(r['body'] == 'hello gzip ' * 200, 'content-encoding' in r['headers'], "
		"r['headers'].get('content-length') == str(len(r['body'])))\n"
		"with urllib.request.urlopen(A + '/gzip') as resp:\n"
		"    data = resp.read()\n"
		"    print(data == b'hello gzip ' * 200, resp.headers.get('Content-Encoding'), "
		"resp.headers.get('Content-Length') == str(len(data)))\n"
		"r = t('raw', http_get, A + '/gzip', binary=True)\n"
		"print(r['body'][:2] != b'\\x1f\\x8b', len(r['body']))\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "gzip: ok\n"
		      "True False True\n"
		      "True None True\n"
		      "raw: ok\n"
		      "True 2200\n");
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

START_TEST(cookies_headers_statuses)
{
	struct fx f;
	struct cact_result *r;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	r = run(f.rt, f.req, &f.s,
		"import urllib.request, http.cookiejar\n"
		"r = t('cookie', http_get, A + '/cookie')\n"
		"print(repr(r['headers']['set-cookie']))\n"
		"with urllib.request.urlopen(A + '/cookie') as resp:\n"
		"    print(resp.headers.get_all('Set-Cookie'))\n"
		"jar = http.cookiejar.CookieJar()\n"
		"opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))\n"
		"opener.open(A + '/cookie').read()\n"
		"print(sorted(c.name + '=' + c.value for c in jar))\n"
		"r = t('many', http_get, A + '/headers?n=100')\n"
		"print(sum(1 for k in r['headers'] if k.startswith('x-many-')), "
		"r['headers']['x-many-99'])\n"
		"t('too many', http_get, A + '/headers?n=200')\n"
		"for code in (201, 204, 404, 418, 500, 503):\n"
		"    r = http_get(A + '/status/%d' % code)\n"
		"    print(code, r['status'], repr(r['body']))\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	expect_line(r, "too many: OSError: ", "headers", NULL);
	assert_out(r, fmt("cookie: ok\n"
			  "'a=1; Path=/\\nb=2; Path=/'\n"
			  "['a=1; Path=/', 'b=2; Path=/']\n"
			  "['a=1', 'b=2']\n"
			  "many: ok\n"
			  "100 v99\n"
			  "%.*s\n"
			  "201 201 'status 201'\n"
			  "204 204 ''\n"
			  "404 404 'status 404'\n"
			  "418 418 'status 418'\n"
			  "500 500 'status 500'\n"
			  "503 503 'status 503'\n",
			  (int)strcspn(strstr(t_out(r), "too many: "), "\n"),
			  strstr(t_out(r), "too many: ")));
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

/* ---- urllib and http.client ---- */

START_TEST(urllib_routed)
{
	struct fx f;
	struct cact_result *r;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	r = run(f.rt, f.req, &f.s,
		"import urllib.request, urllib.error\n"
		"with urllib.request.urlopen(A + '/echo?u=1') as resp:\n"
		"    e = json.loads(resp.read())\n"
		"    print('get', resp.status, resp.geturl() == A + '/echo?u=1', e['method'], "
		"e['path'], hdr(e, 'User-Agent')[0].startswith('Python-urllib/'))\n"
		"try:\n"
		"    urllib.request.urlopen(A + '/status/404')\n"
		"    print('404 not raised')\n"
		"except urllib.error.HTTPError as e:\n"
		"    print('404', e.code, e.read())\n"
		"with urllib.request.urlopen(A + '/redirect?to=/echo') as resp:\n"
		"    print('redirect', resp.status, resp.geturl() == A + '/echo')\n"
		"try:\n"
		"    urllib.request.urlopen(B + '/echo')\n"
		"    print('denied not raised')\n"
		"except Exception as e:\n"
		"    print('denied', isinstance(e, urllib.error.URLError), "
		"isinstance(e, PermissionError), str(PB) in str(e))\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "get 200 True GET /echo?u=1 True\n"
		      "404 404 b'status 404'\n"
		      "redirect 200 True\n"
		      "denied True True True\n");
	expect_seen(&f.s, "req a GET /echo?u=1", 1);
	expect_seen(&f.s, "req b ", 0);
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

START_TEST(urllib_post)
{
	struct fx f;
	struct cact_result *r;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	r = run(f.rt, f.req, &f.s,
		"import urllib.request, urllib.parse\n"
		"rq = urllib.request.Request(A + '/echo', data=b'{\"k\": 2}', method='POST',\n"
		"    headers={'Content-Type': 'application/json', 'X-U': 'u'})\n"
		"with urllib.request.urlopen(rq) as resp:\n"
		"    e = json.loads(resp.read())\n"
		"    print('post', resp.status, e['method'], e['body'], hdr(e, 'X-U'), "
		"hdr(e, 'Content-Type'), hdr(e, 'Content-Length'))\n"
		"data = urllib.parse.urlencode({'a': '1', 'b': 'x y'}).encode()\n"
		"with urllib.request.urlopen(A + '/echo', data=data) as resp:\n"
		"    e = json.loads(resp.read())\n"
		"    print('form', e['method'], e['body'], hdr(e, 'Content-Type'))\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "post 200 POST {\"k\": 2} ['u'] ['application/json'] ['8']\n"
		      "form POST a=1&b=x+y ['application/x-www-form-urlencoded']\n");
	expect_seen(&f.s, "req a POST /echo", 2);
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

START_TEST(http_client_routed)
{
	struct fx f;
	struct cact_result *r;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	r = run(f.rt, f.req, &f.s,
		"import http.client\n"
		"c = http.client.HTTPConnection('127.0.0.1', PA, timeout=10)\n"
		"c.request('GET', '/echo?hc=1', headers={'X-H': 'h'})\n"
		"resp = c.getresponse()\n"
		"e = json.loads(resp.read())\n"
		"print(resp.status, resp.reason, e['method'], e['path'], hdr(e, 'X-H'), "
		"resp.getheader('Content-Type'))\n"
		"c.request('POST', '/echo', body='data=1',\n"
		"          headers={'Content-Type': 'application/x-www-form-urlencoded'})\n"
		"resp = c.getresponse()\n"
		"e = json.loads(resp.read())\n"
		"print(resp.status, e['method'], e['body'], hdr(e, 'Content-Type'))\n"
		"c.close()\n"
		"c = http.client.HTTPConnection('127.0.0.1:%d' % PA)\n"
		"c.putrequest('GET', '/status/404')\n"
		"c.putheader('X-P', 'p')\n"
		"c.endheaders()\n"
		"resp = c.getresponse()\n"
		"print(resp.status, resp.read())\n"
		"c = http.client.HTTPConnection('127.0.0.1', PB)\n"
		"try:\n"
		"    c.request('GET', '/echo')\n"
		"    print('b not refused', c.getresponse().status)\n"
		"except PermissionError as e:\n"
		"    print('b refused')\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "200 OK GET /echo?hc=1 ['h'] application/json\n"
		      "200 POST data=1 ['application/x-www-form-urlencoded']\n"
		      "404 b'status 404'\n"
		      "b refused\n");
	expect_seen(&f.s, "req a ", 3);
	expect_seen(&f.s, "req b ", 0);
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

/* ---- HTTPS ---- */

START_TEST(https_ca_file)
{
	struct fx f;
	struct cact_result *r;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.s);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	allow(f.req, NULL, NAME ":%u", f.s.s);
	allow(f.req, NULL, "localhost:%u", f.s.s);
	allow(f.req, NULL, "other.cact.test:%u", f.s.s);
	resolve(f.req, NAME, "127.0.0.1");
	resolve(f.req, "other.cact.test", "127.0.0.1");
	set_ca(f.req, f.s.ca);
	r = run(f.rt, f.req, &f.s,
		"import urllib.request, http.client\n"
		"r = t('ip', http_get, S + '/echo')\n"
		"print(r['url'] == S + '/echo', echo(r)['server'])\n"
		"r = t('name', http_get, 'https://%s:%d/echo' % (NAME, PS))\n"
		"print(hdr(echo(r), 'Host') == ['%s:%d' % (NAME, PS)])\n"
		"r = t('localhost', http_get, 'https://localhost:%d/echo' % PS)\n"
		"print(echo(r)['server'])\n"
		"t('mismatch', http_get, 'https://other.cact.test:%d/echo' % PS)\n"
		"r = t('upgrade', http_get, A + '/redirect?to=' + q(S + '/echo'))\n"
		"print(r['url'] == S + '/echo')\n"
		"with urllib.request.urlopen(S + '/echo') as resp:\n"
		"    print('urllib', resp.status, json.loads(resp.read())['server'])\n"
		"c = http.client.HTTPSConnection('127.0.0.1', PS)\n"
		"c.request('GET', '/echo')\n"
		"print('client', c.getresponse().status)\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	expect_line(r, "mismatch: OSError: ", NULL);
	assert_out(r, fmt("ip: ok\n"
			  "True s\n"
			  "name: ok\n"
			  "True\n"
			  "localhost: ok\n"
			  "s\n"
			  "%.*s\n"
			  "upgrade: ok\n"
			  "True\n"
			  "urllib 200 s\n"
			  "client 200\n",
			  (int)strcspn(strstr(t_out(r), "mismatch: "), "\n"),
			  strstr(t_out(r), "mismatch: ")));
	expect_hop(r, 0, "GET", fmt("https://127.0.0.1:%u/echo", f.s.s), 200, 1, NULL);
	expect_seen(&f.s, "req s GET /echo", 6);
	cact_result_free(r);

	/* Without the CA file: the system's authorities do not know the certificate. */
	set_ca(f.req, NULL);
	r = run(f.rt, f.req, &f.s,
		"import urllib.request, ssl\n"
		"t('no ca', http_get, S + '/echo')\n"
		"try:\n"
		"    urllib.request.urlopen(S + '/echo', "
		"context=ssl._create_unverified_context())\n"
		"    print('unverified: ok')\n"
		"except Exception as e:\n"
		"    print('unverified:', type(e).__name__, isinstance(e, PermissionError), "
		"'certificate' in str(e))\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	expect_line(r, "no ca: OSError: ", "certificate", NULL);
	expect_line(r, "unverified: URLError False True", NULL);
	expect_hops(r, 2);
	expect_hop(r, 0, "GET", fmt("https://127.0.0.1:%u/echo", f.s.s), 0, 1, "certificate");
	expect_seen(&f.s, "req s GET /echo", 6);
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

/* The frame's timeout_ms is the code's: used when shorter, and checked. */
START_TEST(timeout_ms_frame_checked)
{
	static const char *const bad[] = {"-1", "0", "1.5", "'500'", "True"};
	struct fx f;
	struct cact_result *r;
	size_t i;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	r = run(f.rt, f.req, &f.s,
		"import _cact\n"
		"def raw(extra):\n"
		"    frame = {'type': 'http_request', 'id': 777, 'method': 'GET',\n"
		"             'url': A + '/slow?delay=8', 'headers': {}, 'body': None}\n"
		"    frame.update(extra)\n"
		"    return json.loads(_cact.request(777, json.dumps(frame).encode()))\n"
		"rep = raw({'timeout_ms': 1000})\n"
		"print('short', rep.get('ok'), 'Timeout' in (rep.get('error') or ''))\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "short False True\n");
	cact_result_free(r);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *code = t_fmt("import _cact\n"
				   "frame = {'type': 'http_request', 'id': 778, 'method': 'GET',\n"
				   "         'url': A + '/echo', 'headers': {}, 'body': None,\n"
				   "         'timeout_ms': %s}\n"
				   "_cact.request(778, json.dumps(frame).encode())\n"
				   "print('answered')\n",
				   bad[i]);

		r = run(f.rt, f.req, &f.s, code, 0);
		free(code);
		t_assert_status(r, CACT_STATUS_SANDBOX_VIOLATION);
		ck_assert_msg(strstr(cact_result_error_message(r), "malformed http_request frame"),
			      "timeout_ms %s: %s", bad[i], cact_result_error_message(r));
		cact_result_free(r);
	}
	expect_seen(&f.s, "req a GET /echo", 0);
	fx_stop(&f);
}
END_TEST

/* ---- http.client's interface, urllib3 and requests ---- */

/*
 * What urllib3 2.x relies on in http.client (blocksize, putrequest /
 * putheader / endheaders / send with its own chunked framing, the socket's
 * timeout calls, read1 / readinto / peek), checked on the class itself.
 */
START_TEST(http_client_interface)
{
	struct fx f;
	struct cact_result *r;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	r = run(f.rt, f.req, &f.s,
		"import http.client, io\n"
		"c = http.client.HTTPConnection('127.0.0.1', PA, timeout=7, "
		"source_address=None, blocksize=1000)\n"
		"print('attrs', c.host == '127.0.0.1', c.port == PA, c.timeout, c.blocksize, "
		"c.source_address, c.sock)\n"
		"c.putrequest('POST', '/echo?w=1')\n"
		"c.putheader('Transfer-Encoding', 'chunked')\n"
		"c.putheader('X-Two', 'a', 'b')\n"
		"c.endheaders()\n"
		"c.sock.settimeout(3)\n"
		"print('sock', c.sock.gettimeout(), callable(c.sock.shutdown))\n"
		"for part in (b'ab', b'cde'):\n"
		"    c.send(b'%x\\r\\n%s\\r\\n' % (len(part), part))\n"
		"c.send(b'0\\r\\n\\r\\n')\n"
		"resp = c.getresponse()\n"
		"print('resp', resp.status, resp.reason, resp.version, resp.closed, "
		"resp.isclosed(), "
		"resp.getheader('Content-Type'), resp.getheader('X-None', 'dflt'), "
		"resp.msg is resp.headers, ('Content-Type', 'application/json') in "
		"resp.getheaders())\n"
		"try:\n"
		"    resp.fileno()\n"
		"except io.UnsupportedOperation as e:\n"
		"    print('fileno', 'no socket' in str(e))\n"
		"first = resp.peek(1)[:1]\n"
		"part = resp.read1(3)\n"
		"buf = bytearray(4)\n"
		"n = resp.readinto(buf)\n"
		"e = json.loads(part + bytes(buf[:n]) + resp.read())\n"
		"print('body', first, len(part), n, resp.isclosed(), resp.read(), e['method'], "
		"e['path'], e['body'], hdr(e, 'X-Two'), hdr(e, 'Content-Length'), "
		"hdr(e, 'Transfer-Encoding'))\n"
		"c.request('PUT', '/echo', body=iter([b'x', b'yz']), encode_chunked=True)\n"
		"print('iter', json.loads(c.getresponse().read())['body'])\n"
		"c.request('PUT', '/echo', body=io.BytesIO(b'f' * 2500))\n"
		"print('file', len(json.loads(c.getresponse().read())['body']))\n"
		"c.request('HEAD', '/echo')\n"
		"h = c.getresponse()\n"
		"print('head', h.status, h.read(), h.getheader('Content-Type'))\n"
		"c.request('GET', '/echo')\n"
		"try:\n"
		"    c.request('GET', '/echo')\n"
		"except http.client.CannotSendRequest as e:\n"
		"    print('busy', type(e).__name__)\n"
		"c.getresponse().read()\n"
		"try:\n"
		"    c.set_tunnel('example.com')\n"
		"except OSError as e:\n"
		"    print('tunnel', 'not available' in str(e))\n"
		"c.close()\n"
		"print('closed', c.sock)\n"
		"s = http.client.HTTPSConnection('127.0.0.1', PA, timeout=5, blocksize=2000, "
		"context=None)\n"
		"print('https', s.default_port, s.blocksize, isinstance(s, "
		"http.client.HTTPConnection))\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "attrs True True 7 1000 None None\n"
		      "sock 3 True\n"
		      "resp 200 OK 11 False False application/json dflt True True\n"
		      "fileno True\n"
		      "body b'{' 3 4 True b'' POST /echo?w=1 abcde ['a b'] ['5'] []\n"
		      "iter xyz\n"
		      "file 2500\n"
		      "head 200 b'' application/json\n"
		      "busy CannotSendRequest\n"
		      "tunnel True\n"
		      "closed None\n"
		      "https 443 2000 True\n");
	expect_seen(&f.s, "req a POST /echo?w=1", 1);
	expect_seen(&f.s, "req a PUT /echo", 2);
	expect_seen(&f.s, "req a HEAD /echo", 1);
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

/*
 * urllib3's connection classes open their own sockets in connect(): with
 * tests/sandbox/pkgs (a stand-in shaped as urllib3 2.x), imported by the
 * code or preloaded before the network was set up, they go through the host.
 */
static void urllib3_case(int preload)
{
	static const char *const files[] = {"__init__.py", "connection.py"};
	const char *root = getenv("CACT_SOURCE_ROOT");
	const char *paths[1], *mods[] = {"urllib3.connection"};
	char *copy;
	int i;
	struct cact_runtime_options o;
	struct cact_result *r;
	struct fx f;

	ck_assert_msg(root != NULL, "CACT_SOURCE_ROOT is not set");
	/*
	 * A copy outside /tmp, whatever the checkout's place: every execution
	 * has a /tmp of its own, so the runtime refuses python paths there.
	 */
	{
		char tmpl[] = "/var/tmp/cact-test-pkgs-XXXXXX";

		ck_assert_msg(mkdtemp(tmpl) != NULL, "mkdtemp: %s", strerror(errno));
		copy = strdup(tmpl);
		for (i = 0; i < 2; i++) {
			char *text = t_read_file(
				fmt("%s/tests/sandbox/pkgs/urllib3/%s", root, files[i]), NULL);

			ck_assert_msg(text != NULL, "cannot read tests/sandbox/pkgs/urllib3/%s",
				      files[i]);
			if (i == 0)
				ck_assert_int_eq(mkdir(fmt("%s/urllib3", copy), 0755), 0);
			t_write(fmt("%s/urllib3", copy), files[i], text);
			free(text);
		}
	}
	paths[0] = copy;
	srv_start(&f.s);
	cact_runtime_options_init(&o);
	o.python_paths = paths;
	o.n_python_paths = 1;
	o.preload = preload ? mods : NULL;
	o.n_preload = preload ? 1 : 0;
	f.rt = t_runtime_opts(&o);
	f.req = net_req();
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.s);
	set_ca(f.req, f.s.ca);
	r = run(f.rt, f.req, &f.s,
		"import sys, http.client\n"
		"print('preloaded', 'urllib3.connection' in sys.modules)\n"
		"import urllib3.connection as uc\n"
		"print('based', issubclass(uc.HTTPConnection, http.client.HTTPConnection))\n"
		"c = uc.HTTPConnection('127.0.0.1', PA, timeout=5)\n"
		"c.request('POST', '/echo', body=iter([b'ab', b'c']), headers={'X-F': 'f'})\n"
		"resp, shutdown = c.getresponse()\n"
		"e = json.loads(resp.read())\n"
		"print('plain', resp.status, e['body'], hdr(e, 'X-F'), callable(shutdown), "
		"c.sock)\n"
		"s = uc.HTTPSConnection('127.0.0.1', PS, timeout=5)\n"
		"print('closed', s.is_closed, s.is_verified)\n"
		"s.connect()\n"
		"print('connected', s.is_closed, s.is_verified)\n"
		"s.request('GET', '/echo')\n"
		"resp, _ = s.getresponse()\n"
		"print('tls', json.loads(resp.read())['server'])\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, fmt("preloaded %s\n"
			  "based True\n"
			  "plain 200 abc ['f'] True None\n"
			  "closed True False\n"
			  "connected False True\n"
			  "tls s\n",
			  preload ? "True" : "False"));
	expect_seen(&f.s, "req a POST /echo", 1);
	expect_seen(&f.s, "req s GET /echo", 1);
	cact_result_free(r);
	fx_stop(&f);
	t_rmtree(copy);
	free(copy);
}

START_TEST(urllib3_connect_through_host)
{
	urllib3_case(0);
}
END_TEST

START_TEST(urllib3_preloaded_rebased)
{
	urllib3_case(1);
}
END_TEST

#define DIST_PACKAGES "/usr/lib/python3/dist-packages"

/* A runtime that imports from Debian's packages, preloading what is given. */
static struct cact_runtime *py_runtime(const char *preload)
{
	static const char *const paths[] = {DIST_PACKAGES};
	struct cact_runtime_options o;

	cact_runtime_options_init(&o);
	o.python_paths = paths;
	o.n_python_paths = 1;
	o.preload = preload ? &preload : NULL;
	o.n_preload = preload ? 1 : 0;
	return t_runtime_opts(&o);
}

/* Code for both requests cases: GET, POST, headers, json, redirects, errors. */
#define PY_REQUESTS                                                                   \
	"import requests\n"                                                           \
	"r = requests.get(A + '/echo', params={'q': 'a b'}, headers={'X-T': 't'})\n"  \
	"print('get', r.status_code, r.ok, r.json()['path'], hdr(r.json(), 'X-T'), "  \
	"r.headers['content-type'])\n"                                                \
	"r = requests.post(A + '/echo', json={'k': [1, 2]})\n"                        \
	"e = r.json()\n"                                                              \
	"print('json', e['method'], json.loads(e['body']), hdr(e, 'Content-Type'))\n" \
	"e = requests.post(A + '/echo', data={'a': '1'}).json()\n"                    \
	"print('form', e['body'], hdr(e, 'Content-Type'))\n"                          \
	"e = requests.put(A + '/echo', data=b'\\x00\\xff').json()\n"                  \
	"print('put', e['method'], e['body_b64'])\n"                                  \
	"r = requests.get(A + '/redirect?to=' + q('/echo?hop=1'))\n"                  \
	"print('redirect', r.status_code, r.url == A + '/echo?hop=1', "               \
	"r.json()['path'])\n"                                                         \
	"r = requests.get(A + '/status/404')\n"                                       \
	"try:\n"                                                                      \
	"    r.raise_for_status()\n"                                                  \
	"except requests.HTTPError as e:\n"                                           \
	"    print('404', r.status_code, r.text, '404 Client Error' in str(e))\n"     \
	"r = requests.head(A + '/echo')\n"                                            \
	"print('head', r.status_code, r.content)\n"                                   \
	"with requests.Session() as s:\n"                                             \
	"    print('session', [s.get(A + '/echo?i=%d' % i).json()['path'] "           \
	"for i in range(3)])\n"                                                       \
	"r = requests.get(A + '/bytes/70000', stream=True)\n"                         \
	"print('stream', sum(len(c) for c in r.iter_content(8192)))\n"                \
	"print('cookies', sorted(requests.get(A + '/cookie').cookies.items()))\n"     \
	"print('https', requests.get(S + '/echo').json()['server'])\n"                \
	"try:\n"                                                                      \
	"    requests.get(B + '/echo')\n"                                             \
	"except requests.ConnectionError as e:\n"                                     \
	"    print('denied', isinstance(e, OSError), "                                \
	"'127.0.0.1:%d is not an allowed target' % PB in str(e))\n"

#define OUT_REQUESTS                                        \
	"get 200 True /echo?q=a+b ['t'] application/json\n" \
	"json POST {'k': [1, 2]} ['application/json']\n"    \
	"form a=1 ['application/x-www-form-urlencoded']\n"  \
	"put PUT AP8=\n"                                    \
	"redirect 200 True /echo?hop=1\n"                   \
	"404 404 status 404 True\n"                         \
	"head 200 b''\n"                                    \
	"session ['/echo?i=0', '/echo?i=1', '/echo?i=2']\n" \
	"stream 70000\n"                                    \
	"cookies [('a', '1'), ('b', '2')]\n"                \
	"https s\n"                                         \
	"denied True True\n"

static void requests_case(const char *preload)
{
	struct fx f;
	struct cact_result *r;

	srv_start(&f.s);
	f.rt = py_runtime(preload);
	f.req = net_req();
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.s);
	set_ca(f.req, f.s.ca);
	r = run(f.rt, f.req, &f.s,
		preload ? "import sys\nprint('preloaded', 'requests' in sys.modules)\n" PY_REQUESTS
			: PY_REQUESTS,
		60000);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, preload ? "preloaded True\n" OUT_REQUESTS : OUT_REQUESTS);
	expect_seen(&f.s, "req b ", 0);
	expect_seen(&f.s, "req s GET /echo", 1);
	cact_result_free(r);
	fx_stop(&f);
}

/* requests (Debian's, over urllib3 1.26) imported by the code. */
START_TEST(requests_through_host)
{
	requests_case(NULL);
}
END_TEST

/* The same with requests preloaded in the zygote, before the network was set up. */
START_TEST(requests_preloaded)
{
	requests_case("requests");
}
END_TEST

/*
 * A timeout reaches requests as its ReadTimeout and urllib as TimeoutError:
 * the code's own when it is shorter than the host's limit, else the limit.
 */
START_TEST(requests_timeout)
{
	struct fx f;
	struct cact_result *r;
	char *text;
	const char *code = "import requests, urllib.request, http.client\n"
			   "try:\n"
			   "    requests.get(A + '/slow?delay=8', timeout=T)\n"
			   "except requests.Timeout as e:\n"
			   "    print('requests', type(e).__name__)\n"
			   "try:\n"
			   "    urllib.request.urlopen(A + '/slow?delay=8', timeout=T)\n"
			   "except TimeoutError as e:\n"
			   "    print('urllib', type(e).__name__)\n"
			   "c = http.client.HTTPConnection('127.0.0.1', PA, timeout=T)\n"
			   "c.request('GET', '/stall?first=10&total=100&sleep=8')\n"
			   "try:\n"
			   "    c.getresponse().read()\n"
			   "except TimeoutError as e:\n"
			   "    print('client', type(e).__name__)\n"
			   "print('after', requests.get(A + '/echo', timeout=T).status_code)\n";

	srv_start(&f.s);
	f.rt = py_runtime(NULL);
	f.req = net_req();
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	/* The code's timeout, under the default limit (30 s). */
	text = t_fmt("T = 1\n%s", code);
	r = run(f.rt, f.req, &f.s, text, 40000);
	free(text);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "requests ReadTimeout\n"
		      "urllib TimeoutError\n"
		      "client TimeoutError\n"
		      "after 200\n");
	cact_result_free(r);
	/* The limit, shorter than the code's timeout. */
	set_limit(f.req, CACT_LIMIT_HTTP_TIMEOUT_MS, 1000);
	text = t_fmt("T = 30\n%s", code);
	r = run(f.rt, f.req, &f.s, text, 40000);
	free(text);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "requests ReadTimeout\n"
		      "urllib TimeoutError\n"
		      "client TimeoutError\n"
		      "after 200\n");
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

/* ---- names and addresses ---- */

START_TEST(resolve_hook_address_rules)
{
	struct fx f;
	struct cact_result *r;

	fx_start(&f);
	/* Listed by name only: the name resolves to loopback, which is not public. */
	allow(f.req, NULL, NAME ":%u", f.s.a);
	resolve(f.req, NAME, "127.0.0.1");
	r = run(f.rt, f.req, &f.s, "t('name only', http_get, 'http://%s:%d/echo' % (NAME, PA))\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	expect_line(r, "name only: PermissionError: ", "not a public address", "127.0.0.1", NULL);
	expect_hops(r, 1);
	expect_hop(r, 0, "GET", fmt("http://" NAME ":%u/echo", f.s.a), 0, 0,
		   "not a public address");
	expect_seen(&f.s, "req ", 0);
	cact_result_free(r);

	/* The address listed too, with its port: allowed. */
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	r = run(f.rt, f.req, &f.s,
		"r = t('with ip', http_get, 'http://%s:%d/echo' % (NAME, PA))\n"
		"print(echo(r)['server'], hdr(echo(r), 'Host') == ['%s:%d' % (NAME, PA)])\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "with ip: ok\na True\n");
	expect_hop(r, 0, "GET", fmt("http://" NAME ":%u/echo", f.s.a), 200, 1, NULL);
	expect_seen(&f.s, "req a GET /echo", 1);
	cact_result_free(r);
	cact_request_free(f.req);

	/* The address listed for another port; metadata behind a name; one bad address of two. */
	f.req = net_req();
	allow(f.req, NULL, NAME ":%u", f.s.a);
	allow(f.req, NULL, "127.0.0.1");
	allow(f.req, NULL, "metadata.cact.test");
	allow(f.req, NULL, "mixed.cact.test:%u", f.s.b);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.b);
	resolve(f.req, NAME, "127.0.0.1");
	resolve(f.req, "metadata.cact.test", "169.254.169.254");
	resolve(f.req, "mixed.cact.test", "127.0.0.1");
	resolve(f.req, "mixed.cact.test", "10.1.2.3");
	r = run(f.rt, f.req, &f.s,
		"t('other port', http_get, 'http://%s:%d/echo' % (NAME, PA))\n"
		"t('metadata', http_get, 'http://metadata.cact.test/latest/meta-data/')\n"
		"t('mixed', http_get, 'http://mixed.cact.test:%d/echo' % PB)\n"
		"t('direct', http_get, B + '/echo')\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	expect_line(r, "other port: PermissionError: ", "not a public address", NULL);
	expect_line(r, "metadata: PermissionError: ", "169.254.169.254", NULL);
	expect_line(r, "mixed: PermissionError: ", "10.1.2.3", NULL);
	expect_line(r, "direct: ok", NULL);
	expect_seen(&f.s, "req a ", 1);
	expect_seen(&f.s, "req b ", 1);
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

START_TEST(localhost_allowed)
{
	struct fx f;
	struct cact_result *r;

	fx_start(&f);
	allow(f.req, NULL, "localhost:%u", f.s.a);
	r = run(f.rt, f.req, &f.s,
		"r = t('localhost', http_get, 'http://localhost:%d/echo' % PA)\n"
		"print(echo(r)['server'], hdr(echo(r), 'Host') == ['localhost:%d' % PA])\n"
		"t('ip', http_get, A + '/echo')\n"
		"t('other port', http_get, 'http://localhost:%d/echo' % PB)\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	expect_line(r, "localhost: ok", NULL);
	expect_line(r, "a True", NULL);
	expect_line(r, "ip: PermissionError: ", NULL);
	expect_line(r, "other port: PermissionError: ", NULL);
	expect_seen(&f.s, "req a GET /echo", 1);
	expect_seen(&f.s, "req b ", 0);
	cact_result_free(r);

	/* "localhost" allowed as such must be loopback, whatever it resolves to. */
	resolve(f.req, "localhost", "192.0.2.1");
	r = run(f.rt, f.req, &f.s, "t('elsewhere', http_get, 'http://localhost:%d/echo' % PA)\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	expect_line(r, "elsewhere: PermissionError: ", "192.0.2.1", NULL);
	expect_hop(r, 0, "GET", NULL, 0, 0, "192.0.2.1");
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

START_TEST(no_network_without_targets)
{
	struct fx f;
	struct cact_result *r;

	fx_start(&f);
	r = run(f.rt, f.req, &f.s,
		"t('builtin', lambda: http_get)\n"
		"t('module', lambda: __import__('cact').http_get)\n"
		"import urllib.request, http.client, socket, _cact\n"
		"t('urllib', urllib.request.urlopen, A + '/echo', timeout=5)\n"
		"c = http.client.HTTPConnection('127.0.0.1', PA, timeout=5)\n"
		"t('client', c.request, 'GET', '/echo')\n"
		"t('socket', socket.create_connection, ('127.0.0.1', PA), 5)\n"
		"rep = json.loads(_cact.request(999999, json.dumps({'type': 'http_request', "
		"'id': 999999, 'method': 'GET', 'url': A + '/echo', 'headers': {}, "
		"'body': None}).encode()))\n"
		"print('raw', rep.get('ok'), rep.get('denied'))\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	expect_line(r, "builtin: NameError: ", "http_get", NULL);
	expect_line(r, "module: AttributeError: ", "http_get", NULL);
	expect_line(r, "urllib: URLError: ", NULL);
	expect_line(r, "client: ", "Error", NULL);
	expect_line(r, "socket: ", "Error", NULL);
	expect_line(r, "raw False True", NULL);
	ck_assert_msg(!strstr(t_out(r), ": ok"), "%s", t_out(r));
	expect_hops(r, 1);
	expect_hop(r, 0, "GET", NULL, 0, 0, "not enabled");
	expect_seen(&f.s, "req ", 0);
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

START_TEST(header_injection_refused)
{
	struct fx f;
	struct cact_result *r;
	static const char *const labels[] = {"value crlf", "value lf",	 "value cr",
					     "value nul",  "name crlf",	 "name colon",
					     "name space", "name empty", "client crlf"};
	size_t i;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	r = run(f.rt, f.req, &f.s,
		"cases = [('value crlf', {'X-A': 'v\\r\\nX-Injected: 1'}),\n"
		"         ('value lf', {'X-A': 'v\\nX-Injected: 1'}),\n"
		"         ('value cr', {'X-A': 'v\\rX-Injected: 1'}),\n"
		"         ('value nul', {'X-A': 'v\\x00w'}),\n"
		"         ('name crlf', {'X-A\\r\\nX-Injected': '1'}),\n"
		"         ('name colon', {'X-A: 1\\r\\nX-B': '1'}),\n"
		"         ('name space', {'X A': '1'}),\n"
		"         ('name empty', {'': '1'})]\n"
		"for label, h in cases:\n"
		"    t(label, http_get, A + '/echo', headers=h)\n"
		"import http.client\n"
		"c = http.client.HTTPConnection('127.0.0.1', PA)\n"
		"t('client crlf', c.request, 'GET', '/echo', headers={'X-A': 'v\\r\\nX-Injected: "
		"1'})\n"
		"r = t('after', http_get, A + '/echo', headers={'X-A': 'fine'})\n"
		"print(hdr(echo(r), 'X-A'), hdr(echo(r), 'X-Injected'))\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	for (i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
		expect_line(r, fmt("%s: ", labels[i]), "Error: ", NULL);
	expect_line(r, "after: ok", NULL);
	expect_line(r, "['fine'] []", NULL);
	expect_seen(&f.s, "req a GET /echo", 1);
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

/* A NUL in a header name is refused like the rest, not a reason to kill the execution. */
START_TEST(header_name_nul_refused)
{
	struct fx f;
	struct cact_result *r;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	r = run(f.rt, f.req, &f.s,
		"t('name nul', http_get, A + '/echo', headers={'X-A\\x00B': '1'})\n"
		"r = t('after', http_get, A + '/echo')\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	expect_line(r, "name nul: ", "Error: ", NULL);
	expect_line(r, "after: ok", NULL);
	expect_seen(&f.s, "req a GET /echo", 1);
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

/* A NUL in the URL or the method would cut it short in C: refused, nothing sent. */
START_TEST(nul_in_url_or_method_refused)
{
	struct fx f;
	struct cact_result *r;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	r = run(f.rt, f.req, &f.s,
		"t('url nul', http_get, A + '/echo\\x00/other')\n"
		"t('method nul', http_request, 'GET\\x00X', A + '/echo')\n"
		"r = t('after', http_get, A + '/echo')\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	expect_line(r, "url nul: ", "PermissionError", NULL);
	expect_line(r, "method nul: ", "PermissionError", NULL);
	expect_line(r, "after: ok", NULL);
	expect_seen(&f.s, "req a GET /echo", 1);
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

START_TEST(reserved_headers_dropped)
{
	struct fx f;
	struct cact_result *r;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	r = run(f.rt, f.req, &f.s,
		"import urllib.request\n"
		"h = {'Host': 'evil.example', 'Connection': 'upgrade',\n"
		"     'Proxy-Authorization': 'Basic Zm9vOmJhcg==', 'Proxy-Connection': "
		"'keep-alive',\n"
		"     'Upgrade': 'h2c', 'TE': 'trailers', 'Keep-Alive': '300',\n"
		"     'Accept-Encoding': 'identity', 'X-Keep': 'yes'}\n"
		"e = echo(http_get(A + '/echo', headers=h))\n"
		"print('host', hdr(e, 'Host') == ['127.0.0.1:%d' % PA])\n"
		"print('connection', [v for v in hdr(e, 'Connection') if 'upgrade' in v.lower()])\n"
		"for name in ('Proxy-Authorization', 'Proxy-Connection', 'Upgrade', 'TE', "
		"'Keep-Alive'):\n"
		"    print(name, hdr(e, name))\n"
		"print('accept-encoding', hdr(e, 'Accept-Encoding') != ['identity'])\n"
		"print('keep', hdr(e, 'X-Keep'))\n"
		"e = echo(http_request('POST', A + '/echo', body='abc',\n"
		"                      headers={'Content-Length': '999', 'Transfer-Encoding': "
		"'chunked'}))\n"
		"print('body', e['body'], hdr(e, 'Content-Length'), hdr(e, 'Transfer-Encoding'))\n"
		"rq = urllib.request.Request(A + '/echo', headers={'Host': 'evil.example',\n"
		"                                                  'Proxy-Authorization': 'x'})\n"
		"with urllib.request.urlopen(rq) as resp:\n"
		"    e = json.loads(resp.read())\n"
		"print('urllib', hdr(e, 'Host') == ['127.0.0.1:%d' % PA], "
		"hdr(e, 'Proxy-Authorization'))\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "host True\n"
		      "connection []\n"
		      "Proxy-Authorization []\n"
		      "Proxy-Connection []\n"
		      "Upgrade []\n"
		      "TE []\n"
		      "Keep-Alive []\n"
		      "accept-encoding True\n"
		      "keep ['yes']\n"
		      "body abc ['3'] []\n"
		      "urllib True []\n");
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

START_TEST(user_agent)
{
	struct fx f;
	struct cact_result *r;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	r = run(f.rt, f.req, &f.s,
		"ua = hdr(echo(http_get(A + '/echo')), 'User-Agent')\n"
		"print(len(ua), ua[0].startswith('cact/'))\n"
		"print(hdr(echo(http_get(A + '/echo', headers={'User-Agent': 'mine/1.0'})), "
		"'User-Agent'))\n"
		"print(hdr(echo(http_get(A + '/echo', headers={'user-agent': 'lower/2'})), "
		"'User-Agent'))\n"
		"print(hdr(echo(http_post(A + '/echo', 'x', headers={'User-Agent': ''})), "
		"'User-Agent'))\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "1 True\n"
		      "['mine/1.0']\n"
		      "['lower/2']\n"
		      "['']\n");
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

START_TEST(authorization_not_forwarded_cross_origin)
{
	struct fx f;
	struct cact_result *r;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.b);
	r = run(f.rt, f.req, &f.s,
		"import urllib.request\n"
		"H = {'Authorization': 'Bearer s3cret', 'Cookie': 'c=1', 'X-Other': 'o'}\n"
		"def show(label, r):\n"
		"    e = echo(r)\n"
		"    print(label, e['server'], hdr(e, 'Authorization'), hdr(e, 'Cookie'), "
		"hdr(e, 'X-Other'))\n"
		"show('direct', http_get(B + '/echo', headers=H))\n"
		"show('same', http_get(A + '/redirect?to=/echo', headers=H))\n"
		"show('cross', http_get(A + '/redirect?to=' + q(B + '/echo'), headers=H))\n"
		"show('back', http_get(A + '/redirect?to=' + q(B + '/redirect?to=' + "
		"q(A + '/echo')), headers=H))\n"
		"show('lower', http_get(A + '/redirect?to=' + q(B + '/echo'),\n"
		"                       headers={'authorization': 'Basic eDp5', 'x-other': 'o'}))\n"
		"rq = urllib.request.Request(A + '/redirect?to=' + q(B + '/echo'),\n"
		"                            headers={'Authorization': 'Bearer u'})\n"
		"with urllib.request.urlopen(rq) as resp:\n"
		"    e = json.loads(resp.read())\n"
		"print('urllib', e['server'], hdr(e, 'Authorization'))\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "direct b ['Bearer s3cret'] ['c=1'] ['o']\n"
		      "same a ['Bearer s3cret'] ['c=1'] ['o']\n"
		      "cross b [] [] []\n"
		      "back a [] [] []\n"
		      "lower b [] [] []\n"
		      "urllib b []\n");
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

/* ---- the log ---- */

START_TEST(http_log_entries)
{
	struct fx f;
	struct cact_result *r;
	struct cact_http_entry e;
	json_t *root, *net;
	char *text;
	size_t i;

	fx_start(&f);
	allow(f.req, "GET", "127.0.0.1:%u", f.s.a);
	r = run(f.rt, f.req, &f.s,
		"t('ok', http_get, A + '/echo')\n"
		"t('404', http_get, A + '/status/404')\n"
		"t('method', http_post, A + '/echo', 'x')\n"
		"t('target', http_get, B + '/echo')\n"
		"t('unparsable', http_get, 'ftp://example.com/x')\n"
		"t('upper', http_get, 'HTTP://127.0.0.1:%d/status/202#frag' % PA)\n"
		"r = t('utf8', http_get, A + '/echo/caf\\u00e9')\n"
		"print(echo(r)['path'])\n"
		"t('redirect', http_get, A + '/redirect?to=/status/201')\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	expect_line(r, "/echo/caf%C3%A9", NULL);
	expect_hops(r, 9);
	expect_hop(r, 0, "GET", fmt("http://127.0.0.1:%u/echo", f.s.a), 200, 1, NULL);
	expect_hop(r, 1, "GET", fmt("http://127.0.0.1:%u/status/404", f.s.a), 404, 1, NULL);
	expect_hop(r, 2, "POST", fmt("http://127.0.0.1:%u/echo", f.s.a), 0, 0, "POST");
	expect_hop(r, 3, "GET", fmt("http://127.0.0.1:%u/echo", f.s.b), 0, 0,
		   fmt("127.0.0.1:%u", f.s.b));
	expect_hop(r, 4, "GET", "ftp://example.com/x", 0, 0, "");
	expect_hop(r, 5, "GET", fmt("http://127.0.0.1:%u/status/202", f.s.a), 202, 1, NULL);
	expect_hop(r, 6, "GET", fmt("http://127.0.0.1:%u/echo/caf%%C3%%A9", f.s.a), 200, 1, NULL);
	expect_hop(r, 7, "GET", fmt("http://127.0.0.1:%u/redirect?to=/status/201", f.s.a), 302, 1,
		   NULL);
	expect_hop(r, 8, "GET", fmt("http://127.0.0.1:%u/status/201", f.s.a), 201, 1, NULL);
	for (i = 0; i < 9; i++) {
		ck_assert_int_eq(cact_result_http(r, i, &e), 0);
		ck_assert_msg(e.allowed ? e.bytes_in > 0 : e.bytes_in == 0, "hop %zu\n%s", i,
			      log_text(r));
		ck_assert_uint_eq(e.bytes_out, 0);
	}
	ck_assert_int_eq(cact_result_http(r, 9, &e), CACT_EINVAL);
	ck_assert_uint_eq(stats_of(r).http_requests, 9);

	text = cact_result_to_json(r);
	ck_assert_ptr_nonnull(text);
	root = json_loads(text, 0, NULL);
	ck_assert_ptr_nonnull(root);
	net = json_object_get(root, "network");
	ck_assert_uint_eq(json_array_size(net), 9);
	ck_assert(json_is_false(json_object_get(json_array_get(net, 2), "allowed")));
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(net, 2), "method")),
			 "POST");
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(net, 1), "status")),
			 404);
	ck_assert(json_is_null(json_object_get(json_array_get(net, 0), "error")));
	ck_assert_int_eq(json_integer_value(
				 json_object_get(json_object_get(root, "stats"), "http_requests")),
			 9);
	json_decref(root);
	cact_free(text);
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

/* ---- concurrency and the end of an execution ---- */

START_TEST(concurrent_requests)
{
	struct fx f;
	struct cact_result *r;
	size_t i;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	/* Address space for the threads' stacks and malloc arenas. */
	set_limit(f.req, CACT_LIMIT_MEMORY_BYTES, 2048ull << 20);
	r = run(f.rt, f.req, &f.s,
		"import threading\n"
		"out = [None] * 16\n"
		"def work(i):\n"
		"    try:\n"
		"        r = http_get(A + '/echo?i=%d&delay=0.5' % i)\n"
		"        out[i] = (r['status'], echo(r)['path'] == '/echo?i=%d&delay=0.5' % i, "
		"echo(r)['peak'])\n"
		"    except Exception as ex:\n"
		"        out[i] = repr(ex)\n"
		"ths = [threading.Thread(target=work, args=(i,)) for i in range(16)]\n"
		"for th in ths:\n"
		"    th.start()\n"
		"for th in ths:\n"
		"    th.join()\n"
		"good = [o for o in out if isinstance(o, tuple) and o[0] == 200 and o[1]]\n"
		"print(len(good), max(o[2] for o in good) > 1 if good else None)\n"
		"print([o for o in out if not isinstance(o, tuple)])\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "16 True\n[]\n");
	expect_hops(r, 16);
	for (i = 0; i < 16; i++)
		expect_hop(r, i, "GET", NULL, 200, 1, NULL);
	expect_seen(&f.s, "req a GET /echo?i=", 16);
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

START_TEST(more_threads_than_slots)
{
	struct fx f;
	struct cact_result *r;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	/* Address space for the threads' stacks and malloc arenas. */
	set_limit(f.req, CACT_LIMIT_MEMORY_BYTES, 2048ull << 20);
	r = run(f.rt, f.req, &f.s,
		"import concurrent.futures\n"
		"def work(i):\n"
		"    r = http_get(A + '/echo?i=%d&delay=0.3' % i)\n"
		"    return r['status'], echo(r)['peak']\n"
		"with concurrent.futures.ThreadPoolExecutor(24) as ex:\n"
		"    res = list(ex.map(work, range(24)))\n"
		"print(len(res), all(s == 200 for s, _ in res), max(p for _, p in res) <= 16)\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "24 True True\n");
	expect_hops(r, 24);
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

START_TEST(timeout_with_request_in_flight)
{
	struct fx f;
	struct cact_result *r;
	size_t i;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	r = run(f.rt, f.req, &f.s,
		"import threading\n"
		"def bg():\n"
		"    http_get(A + '/slow?delay=100')\n"
		"for i in range(3):\n"
		"    threading.Thread(target=bg, daemon=True).start()\n"
		"print('start', flush=True)\n"
		"http_get(A + '/stall?first=10&total=100&sleep=100')\n"
		"print('never')\n",
		2000);
	t_assert_status(r, CACT_STATUS_TIMEOUT);
	assert_out(r, "start\n");
	ck_assert_uint_ge(cact_result_http_count(r), 1);
	for (i = 0; i < cact_result_http_count(r); i++) {
		struct cact_http_entry e;

		ck_assert_int_eq(cact_result_http(r, i, &e), 0);
		ck_assert_msg(e.allowed && e.error, "hop %zu\n%s", i, log_text(r));
	}
	cact_result_free(r);

	/* The runtime is not left waiting on anything. */
	r = run(f.rt, f.req, &f.s, "print(http_get(A + '/echo')['status'])\n", 0);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "200\n");
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

/* Custom credential headers (X-Api-Key) stay with the origin the code addressed. */
START_TEST(custom_headers_not_forwarded_cross_origin)
{
	struct fx f;
	struct cact_result *r;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.b);
	r = run(f.rt, f.req, &f.s,
		"H = {'X-Api-Key': 'k3y', 'X-Auth-Token': 't0k', 'Accept': 'text/x-mine'}\n"
		"def show(label, r):\n"
		"    e = echo(r)\n"
		"    print(label, e['server'], e['method'], hdr(e, 'X-Api-Key'), "
		"hdr(e, 'X-Auth-Token'), hdr(e, 'Accept'), hdr(e, 'Content-Type'), "
		"repr(e['body']))\n"
		"show('same', http_get(A + '/redirect?to=/echo', headers=H))\n"
		"show('cross', http_get(A + '/redirect?to=' + q(B + '/echo'), headers=H))\n"
		"show('307', http_post(A + '/redirect?code=307&to=' + q(B + '/echo'), '{}',\n"
		"                      headers=H))\n"
		"show('308', http_request('PUT', A + '/redirect?code=308&to=' + q(B + '/echo'),\n"
		"                         'x', headers=dict(H, **{'Content-Type': "
		"'text/plain'})))\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "same a GET ['k3y'] ['t0k'] ['text/x-mine'] [] ''\n"
		      "cross b GET [] [] ['*/*'] [] ''\n"
		      "307 b POST [] [] ['*/*'] ['application/json'] '{}'\n"
		      "308 b PUT [] [] ['*/*'] ['text/plain'] 'x'\n");
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

/* Headers listed with cact_request_add_redirect_header cross origins; the rest do not. */
START_TEST(redirect_headers_listed_follow)
{
	struct fx f;
	struct cact_result *r;
	struct cact_error err = {0};

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.b);
	ck_assert_int_eq(cact_request_add_redirect_header(f.req, "X-Request-Id", &err), 0);
	ck_assert_int_eq(cact_request_add_redirect_header(f.req, "accept", &err), 0);
	ck_assert_int_eq(cact_request_add_redirect_header(f.req, "x-request-id", &err), 0);
	ck_assert_str_eq(cact_request_redirect_headers(f.req), "x-request-id,accept");
	ck_assert_int_eq(cact_request_add_redirect_header(f.req, "bad name", &err), CACT_EINVAL);
	r = run(f.rt, f.req, &f.s,
		"H = {'X-Api-Key': 'k3y', 'X-Request-Id': 'r1', 'Accept': 'text/x-mine'}\n"
		"e = echo(http_get(A + '/redirect?to=' + q(B + '/echo'), headers=H))\n"
		"print(e['server'], hdr(e, 'X-Api-Key'), hdr(e, 'X-Request-Id'), "
		"hdr(e, 'Accept'))\n",
		0);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "b [] ['r1'] ['text/x-mine']\n");
	cact_result_free(r);
	cact_request_clear_redirect_headers(f.req);
	ck_assert_ptr_null(cact_request_redirect_headers(f.req));
	fx_stop(&f);
}
END_TEST

/*
 * Requests in flight when the code ends are cancelled at once: the result
 * does not wait for libcurl's next progress call (about a second).
 */
START_TEST(end_cancels_requests_at_once)
{
	struct fx f;
	struct cact_result *r;
	struct timespec ts;
	double printed, late;
	size_t i;

	fx_start(&f);
	allow(f.req, NULL, "127.0.0.1:%u", f.s.a);
	r = run(f.rt, f.req, &f.s,
		"import threading, time\n"
		"for i in range(4):\n"
		"    threading.Thread(target=http_get, args=(A + '/slow?delay=30',),\n"
		"                     daemon=True).start()\n"
		"time.sleep(0.3)\n"
		"print('%.6f' % time.time(), flush=True)\n",
		0);
	clock_gettime(CLOCK_REALTIME, &ts);
	t_assert_status(r, CACT_STATUS_OK);
	printed = strtod(t_out(r), NULL);
	late = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - printed;
	ck_assert_msg(printed > 0 && late < 0.4, "the result came %.3f s after the code ended",
		      late);
	ck_assert_uint_eq(cact_result_http_count(r), 4);
	for (i = 0; i < 4; i++) {
		struct cact_http_entry e;

		ck_assert_int_eq(cact_result_http(r, i, &e), 0);
		ck_assert_msg(e.error && strstr(e.error, "cancelled"), "hop %zu\n%s", i,
			      log_text(r));
	}
	cact_result_free(r);
	fx_stop(&f);
}
END_TEST

/* ---- a non-loopback address, across network namespaces ---- */

static char ip_path[256];

/* NULL when namespaces can be used here, else why not. */
static const char *netns_unavailable(void)
{
	static const char *const dirs[] = {"/usr/sbin", "/sbin", "/usr/bin", "/bin"};
	static char why[1024];
	char name[64], *out = NULL;
	size_t i;
	int rc;

	if (geteuid() != 0)
		return fmt("not root (euid %d): ip netns needs CAP_SYS_ADMIN", (int)geteuid());
	if (!getenv("CACT_BIN"))
		return "CACT_BIN is not set";
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && !ip_path[0]; i++) {
		snprintf(ip_path, sizeof(ip_path), "%s/ip", dirs[i]);
		if (access(ip_path, X_OK))
			ip_path[0] = '\0';
	}
	if (!ip_path[0])
		return "no ip command (iproute2) in /usr/sbin, /sbin, /usr/bin or /bin";
	snprintf(name, sizeof(name), "cact-probe-%d", (int)getpid());
	{
		const char *add[] = {ip_path, "netns", "add", name, NULL};
		const char *veth[] = {ip_path, "-n",   name,   "link", "add", "p0",
				      "type",  "veth", "peer", "name", "p1",  NULL};
		const char *del[] = {ip_path, "netns", "del", name, NULL};

		rc = run_cmd(add, &out);
		if (rc) {
			snprintf(why, sizeof(why), "ip netns add failed (exit %d): %.900s", rc,
				 out ? out : "");
			free(out);
			return why;
		}
		free(out);
		rc = run_cmd(veth, &out);
		if (rc)
			snprintf(why, sizeof(why), "ip link add type veth failed (exit %d): %.900s",
				 rc, out ? out : "");
		free(out);
		run_cmd(del, &out);
		free(out);
		if (rc)
			return why;
	}
	return NULL;
}

/* Runs ip with the arguments; fails the test when it fails. */
static void ip(const char *a0, ...)
{
	const char *argv[24];
	char *out = NULL, cmd[1024];
	size_t n = 0, used = 0;
	va_list ap;
	int rc;

	argv[n++] = ip_path;
	argv[n++] = a0;
	va_start(ap, a0);
	while (n < 23 && (argv[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	rc = run_cmd(argv, &out);
	for (n = 0; argv[n] && used < sizeof(cmd); n++)
		used += (size_t)snprintf(cmd + used, sizeof(cmd) - used, "%s ", argv[n]);
	ck_assert_msg(rc == 0, "%s: exit %d\n%s", cmd, rc, out);
	free(out);
}

/* cact exec in namespace ns with args (NULL-terminated); *out owned. The exit status. */
static int cli_in(const char *ns, char **out, ...)
{
	const char *argv[40];
	size_t n = 0;
	va_list ap;

	argv[n++] = ip_path;
	argv[n++] = "netns";
	argv[n++] = "exec";
	argv[n++] = ns;
	argv[n++] = getenv("CACT_BIN");
	argv[n++] = "exec";
	va_start(ap, out);
	while (n < 39 && (argv[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	return run_cmd(argv, out);
}

START_TEST(netns_cli_non_loopback)
{
	const char *why = netns_unavailable();
	pid_t me = getpid();
	char cli[64], srvns[64], vc[16], vs[16], caddr[32], saddr[32], reap[1024], code[1024];
	const char *prefix[8];
	int reap_w, reap_r, rc;
	pid_t reaper;
	struct srv s;
	char *out = NULL;
	unsigned x = (unsigned)me % 200 + 20;
	struct stat st;

	ck_assert_msg(why == NULL, "%s", why);
	snprintf(cli, sizeof(cli), "cact-cli-%d", (int)me);
	snprintf(srvns, sizeof(srvns), "cact-srv-%d", (int)me);
	snprintf(vc, sizeof(vc), "cvc%d", (int)me);
	snprintf(vs, sizeof(vs), "cvs%d", (int)me);
	snprintf(caddr, sizeof(caddr), "10.203.%u.1/24", x);
	snprintf(saddr, sizeof(saddr), "10.203.%u.2", x);
	/* Removes the namespaces when this process ends, however it ends. */
	snprintf(reap, sizeof(reap),
		 "cat >/dev/null; %s netns del %s 2>/dev/null; %s netns del %s 2>/dev/null; exit 0",
		 ip_path, cli, ip_path, srvns);
	{
		const char *argv[] = {"/bin/sh", "-c", reap, NULL};

		reaper = spawn(argv, &reap_w, &reap_r, NULL);
		ck_assert_msg(reaper > 0, "cannot start /bin/sh: %s", strerror(errno));
	}
	ip("netns", "add", cli, NULL);
	ip("netns", "add", srvns, NULL);
	ip("link", "add", vc, "type", "veth", "peer", "name", vs, NULL);
	ip("link", "set", vc, "netns", cli, NULL);
	ip("link", "set", vs, "netns", srvns, NULL);
	ip("-n", cli, "addr", "add", caddr, "dev", vc, NULL);
	ip("-n", srvns, "addr", "add", fmt("%s/24", saddr), "dev", vs, NULL);
	ip("-n", cli, "link", "set", "lo", "up", NULL);
	ip("-n", srvns, "link", "set", "lo", "up", NULL);
	ip("-n", cli, "link", "set", vc, "up", NULL);
	ip("-n", srvns, "link", "set", vs, "up", NULL);
	prefix[0] = ip_path;
	prefix[1] = "netns";
	prefix[2] = "exec";
	prefix[3] = srvns;
	prefix[4] = NULL;
	srv_start_in(&s, prefix, saddr, 0);

	snprintf(code, sizeof(code),
		 "import json\n"
		 "def t(label, url):\n"
		 "    try:\n"
		 "        r = http_get(url)\n"
		 "        print(label, r['status'], json.loads(r['body'])['server'])\n"
		 "    except Exception as e:\n"
		 "        print(label, type(e).__name__ + ':', e)\n"
		 "t('ip', 'http://%s:%u/echo')\n"
		 "t('name', 'http://svc.cact.test:%u/echo')\n"
		 "t('other', 'http://%s:%u/echo')\n",
		 saddr, s.a, s.a, saddr, s.b);

	/* Allowed by address: reached. */
	rc = cli_in(cli, &out, "--allow-domain", fmt("%s:%u", saddr, s.a), "-c", code, NULL);
	ck_assert_msg(rc == 0 && strstr(out, "ip 200 a\n"), "exit %d\n%s", rc, out);
	ck_assert_msg(strstr(out, "other PermissionError: "), "%s", out);
	free(out);
	expect_seen(&s, "req a GET /echo", 1);
	expect_seen(&s, "req b ", 0);

	/* Not listed: refused, though the route is there. */
	rc = cli_in(cli, &out, "--allow-domain", fmt("%s:%u", saddr, s.b), "-c", code, NULL);
	ck_assert_msg(rc == 0 && strstr(out, "ip PermissionError: ") &&
			      strstr(out, "other 200 b\n"),
		      "exit %d\n%s", rc, out);
	free(out);
	expect_seen(&s, "req a GET /echo", 1);
	expect_seen(&s, "req b GET /echo", 1);

	/* Listed by name only, the name resolving to a private address: refused. */
	rc = cli_in(cli, &out, "--allow-domain", fmt("svc.cact.test:%u", s.a), "--resolve",
		    fmt("svc.cact.test=%s", saddr), "-c", code, NULL);
	ck_assert_msg(rc == 0 && strstr(out, "name PermissionError: ") &&
			      strstr(out, "not a public address"),
		      "exit %d\n%s", rc, out);
	free(out);
	expect_seen(&s, "req a GET /echo", 1);

	/* The name and its address both listed: reached through the name. */
	rc = cli_in(cli, &out, "--allow-domain", fmt("svc.cact.test:%u", s.a), "--allow-domain",
		    fmt("%s:%u", saddr, s.a), "--resolve", fmt("svc.cact.test=%s", saddr), "-c",
		    code, NULL);
	ck_assert_msg(rc == 0 && strstr(out, "name 200 a\n"), "exit %d\n%s", rc, out);
	free(out);
	expect_seen(&s, "req a GET /echo", 3);

	srv_stop(&s);
	close(reap_w);
	close(reap_r);
	while (waitpid(reaper, NULL, 0) < 0 && errno == EINTR)
		;
	ck_assert_msg(stat(fmt("/run/netns/%s", cli), &st) != 0, "namespace %s is left", cli);
	ck_assert_msg(stat(fmt("/run/netns/%s", srvns), &st) != 0, "namespace %s is left", srvns);
}
END_TEST

int main(int argc, char **argv)
{
	struct t_case cases[] = {
		T_CASE(get_allowed, 60),
		T_CASE(post_allowed_body_echoed, 60),
		T_CASE(post_json_body, 60),
		T_CASE(method_denied, 60),
		T_CASE(target_denied, 60),
		T_CASE(port_mismatch, 60),
		T_CASE(redirect_followed, 60),
		T_CASE(redirect_to_denied_target, 60),
		T_CASE(redirect_to_internal_addresses, 60),
		T_CASE(redirect_chain_limit, 60),
		T_CASE(redirect_method_rules, 60),
		T_CASE(redirect_to_get_drops_body_headers, 60),
		T_CASE(body_limit, 60),
		T_CASE(slow_server_times_out, 90),
		T_CASE(byte_budget, 60),
		T_CASE(log_counts_bytes_sent, 60),
		T_CASE(request_count_limit, 60),
		T_CASE(request_limit_counts_redirect_hops, 60),
		T_CASE(binary_exact, 60),
		T_CASE(gzip_decoded, 60),
		T_CASE(cookies_headers_statuses, 60),
		T_CASE(urllib_routed, 60),
		T_CASE(urllib_post, 60),
		T_CASE(http_client_routed, 60),
		T_CASE(https_ca_file, 60),
		T_CASE(timeout_ms_frame_checked, 60),
		T_CASE(http_client_interface, 60),
		T_CASE(urllib3_connect_through_host, 60),
		T_CASE(urllib3_preloaded_rebased, 60),
		T_CASE(requests_through_host, 90),
		T_CASE(requests_preloaded, 90),
		T_CASE(requests_timeout, 90),
		T_CASE(resolve_hook_address_rules, 60),
		T_CASE(localhost_allowed, 60),
		T_CASE(no_network_without_targets, 60),
		T_CASE(header_injection_refused, 60),
		T_CASE(header_name_nul_refused, 60),
		T_CASE(nul_in_url_or_method_refused, 60),
		T_CASE(reserved_headers_dropped, 60),
		T_CASE(user_agent, 60),
		T_CASE(authorization_not_forwarded_cross_origin, 60),
		T_CASE(http_log_entries, 60),
		T_CASE(concurrent_requests, 60),
		T_CASE(more_threads_than_slots, 60),
		T_CASE(timeout_with_request_in_flight, 40),
		T_CASE(custom_headers_not_forwarded_cross_origin, 60),
		T_CASE(redirect_headers_listed_follow, 60),
		T_CASE(end_cancels_requests_at_once, 60),
		T_CASE(netns_cli_non_loopback, 90),
	};
	size_t n = sizeof(cases) / sizeof(cases[0]), i;
	const char *why;

	/* The namespace case needs root and iproute2: skipped, with the reason, where they lack. */
	if ((argc < 2 || strcmp(argv[1], NETNS_CASE) == 0) && (why = netns_unavailable())) {
		fprintf(stderr, "test_network: %s skipped: %s\n", NETNS_CASE, why);
		if (argc >= 2)
			return 77;
		for (i = 0; i < n; i++)
			if (strcmp(cases[i].name, NETNS_CASE) == 0)
				cases[i] = cases[--n];
	}
	/* The requests cases need Debian's python3-requests (scripts/install-deps). */
	if (access(DIST_PACKAGES "/requests/__init__.py", F_OK) != 0)
		for (i = 0; i < n; i++)
			if (strncmp(cases[i].name, "requests_", 9) == 0) {
				fprintf(stderr,
					"test_network: %s skipped: python3-requests is not "
					"installed "
					"in " DIST_PACKAGES "\n",
					cases[i].name);
				cases[i--] = cases[--n];
			}
	return t_main("network", cases, n, argc, argv);
}
