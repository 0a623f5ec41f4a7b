/* SPDX-License-Identifier: MIT */
/*
 * cact mcp --sessions: execute_code keeps its interpreter per MCP session.
 * State persists across calls of one session (stdio, HTTP) and never
 * crosses to another; reset starts over; the sandbox session ends with its
 * MCP session (end of input, DELETE, the HTTP server's own expiry); a run
 * that ends the sandbox session (timeout, cancellation) says so, and so
 * does every later call until a reset; the runtime's cap refuses a call,
 * not the MCP session; a reload keeps the sessions already started. And
 * without sessions nothing of this shows.
 *
 * Whether a sandbox session is alive is read from cact_runtime_stats
 * (live sessions) and from what the code sees; no test measures time.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common.h"

extern char **environ;

#define WAIT_MS 60000 /* how long anything may take before the test gives up */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static json_t *parse(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &je);

	ck_assert_msg(v != NULL, "not JSON (%s): %.1000s", je.text, text);
	return v;
}

static char *dump(const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT);

	ck_assert(s != NULL);
	return s;
}

/* ---- the fixture: a configuration, a runtime and a server ---- */

struct fx {
	char *dir;
	char *gate; /* the gate tool answers true once this file exists */
	struct cact_runtime *rt;
	struct cact_codeact *cc;
	struct cact_mcp_server *srv;
	/* stdio */
	int sock, srv_sock;
	pthread_t th;
	int rc;
	struct cact_error err;
	char *in;
	size_t in_len, in_cap;
	/* HTTP */
	int stop_fd;
	unsigned port;
};

static const char lookup_py[] =
	"import json,sys; a=json.load(sys.stdin); print(json.dumps({'key': a['key'], 'value': "
	"a['key'].upper()}))";
static const char send_py[] =
	"import json,sys; a=json.load(sys.stdin); print(json.dumps({'value': a['to'].upper()}))";

/*
 * cact.json: the tools lookup, send (per-call approval) and gate, limits,
 * and extra's keys on top (a JSON object, may be NULL).
 */
static void write_config(struct fx *f, const char *extra)
{
	char *gate = t_fmt("import os,sys; sys.stdin.read(); print('true' if os.path.exists('%s') "
			   "else 'false')",
			   f->gate);
	json_t *cfg = json_pack(
		"{s:[{s:s, s:s, s:{s:s, s:{s:{s:s}}, s:[s]}, s:[s, s, s]},"
		"   {s:s, s:s, s:{s:s, s:{s:{s:s}}, s:[s]}, s:s, s:[s, s, s]},"
		"   {s:s, s:s, s:{s:s, s:{}}, s:[s, s, s]}],"
		" s:b, s:{s:i}}",
		"tools", "name", "lookup", "description", "Look a key up.", "parameters", "type",
		"object", "properties", "key", "type", "string", "required", "key", "command",
		"python3", "-c", lookup_py, "name", "send", "description", "Send (needs approval).",
		"parameters", "type", "object", "properties", "to", "type", "string", "required",
		"to", "approval_mode", "always_require", "command", "python3", "-c", send_py,
		"name", "gate", "description", "Is the gate open?", "parameters", "type", "object",
		"properties", "command", "python3", "-c", gate, "per_call_approval", 1, "limits",
		"timeout_s", 60);
	char *path = t_fmt("%s/cact.json", f->dir);

	ck_assert(cfg != NULL);
	if (extra) {
		json_t *e = parse(extra);

		ck_assert_int_eq(json_object_update(cfg, e), 0);
		json_decref(e);
	}
	ck_assert_int_eq(json_dump_file(cfg, path, 0), 0);
	json_decref(cfg);
	free(path);
	free(gate);
}

/* sessions: cact_mcp_server_options.sessions; max_sessions: the runtime's (0: default). */
static void fx_setup(struct fx *f, const char *extra, int sessions, unsigned max_sessions)
{
	struct cact_mcp_server_options so;
	struct cact_runtime_options ro;
	struct cact_error err = {0};
	char *path;

	memset(f, 0, sizeof(*f));
	f->sock = f->srv_sock = f->stop_fd = -1;
	signal(SIGPIPE, SIG_IGN);
	f->dir = t_tmpdir();
	f->gate = t_fmt("%s/gate-open", f->dir);
	write_config(f, extra);
	path = t_fmt("%s/cact.json", f->dir);
	ck_assert_int_eq(cact_codeact_new(NULL, &f->cc, &err), 0);
	ck_assert_msg(cact_codeact_load_config(f->cc, path, &err) == 0, "%s", err.message);
	free(path);
	cact_runtime_options_init(&ro);
	if (max_sessions)
		ro.max_sessions = max_sessions;
	f->rt = t_runtime_opts(&ro);
	cact_codeact_set_runtime(f->cc, f->rt);
	cact_mcp_server_options_init(&so);
	so.sessions = sessions;
	ck_assert_msg(cact_mcp_server_new(f->cc, &so, &f->srv, &err) == 0, "%s", err.message);
}

static void fx_teardown(struct fx *f)
{
	cact_mcp_server_free(f->srv);
	cact_codeact_free(f->cc);
	cact_runtime_free(f->rt);
	t_rmtree(f->dir);
	free(f->dir);
	free(f->gate);
	free(f->in);
}

/* Sandbox sessions the runtime holds. */
static unsigned live_sessions(struct fx *f)
{
	struct cact_runtime_stats st;

	cact_runtime_stats(f->rt, &st);
	return st.sessions;
}

/* A tools/call of execute_code: {"code": code} and, when reset is 0 or 1, "reset". */
static char *call_body(const char *id, const char *code, int reset)
{
	json_t *args = json_pack("{s:s}", "code", code), *m;
	char *text;

	if (reset >= 0)
		json_object_set_new(args, "reset", json_boolean(reset));
	m = json_pack("{s:s, s:o, s:s, s:{s:s, s:o}}", "jsonrpc", "2.0", "id", parse(id), "method",
		      "tools/call", "params", "name", "execute_code", "arguments", args);
	text = dump(m);
	json_decref(m);
	return text;
}

static json_t *result_of(json_t *m)
{
	json_t *r = json_object_get(m, "result");
	char *text = dump(m);

	ck_assert_msg(json_is_object(r), "not a result: %s", text);
	free(text);
	return r;
}

/* Every text item of a tool result, one after the other (owned). */
static char *texts(json_t *result)
{
	json_t *item;
	size_t i;
	char *all = strdup(""), *more;

	json_array_foreach(json_object_get(result, "content"), i, item) {
		more = t_fmt("%s%s", all, json_string_value(json_object_get(item, "text")) ?: "");
		free(all);
		all = more;
	}
	return all;
}

/* The response m is a tool result, isError as said, and its text holds want (may be NULL). */
#define assert_tool(m, is_error, want) assert_tool_at((m), (is_error), (want), __LINE__)
static void assert_tool_at(json_t *m, int is_error, const char *want, int line)
{
	json_t *r = result_of(m);
	char *all = texts(r), *text = dump(m);

	ck_assert_msg(json_is_true(json_object_get(r, "isError")) == is_error,
		      "line %d: isError should be %d: %s", line, is_error, text);
	ck_assert_msg(!want || strstr(all, want), "line %d: no '%s' in %s", line, want, text);
	free(all);
	free(text);
}

/* The whole text of a result that must have succeeded (owned). */
static char *ok_text(json_t *m)
{
	assert_tool(m, 0, NULL);
	return texts(result_of(m));
}

/* ---- stdio, in this process ---- */

static void *stdio_main(void *arg)
{
	struct fx *f = arg;

	f->rc = cact_mcp_serve_stdio(f->srv, f->srv_sock, f->srv_sock, &f->err);
	return NULL;
}

static void put(struct fx *f, const char *text)
{
	size_t n = strlen(text);

	ck_assert_int_eq(send(f->sock, text, n, MSG_NOSIGNAL), (ssize_t)n);
	ck_assert_int_eq(send(f->sock, "\n", 1, MSG_NOSIGNAL), 1);
}

/* The next message from the server, or NULL after ms. */
static json_t *next_msg(struct fx *f, unsigned ms)
{
	uint64_t until = now_ms() + ms;

	for (;;) {
		char *nl = f->in ? memchr(f->in, '\n', f->in_len) : NULL;
		struct pollfd p = {.fd = f->sock, .events = POLLIN};
		uint64_t now = now_ms();
		ssize_t got;

		if (nl) {
			size_t len = (size_t)(nl - f->in);
			json_t *v;

			*nl = '\0';
			v = parse(f->in);
			memmove(f->in, nl + 1, f->in_len - len - 1);
			f->in_len -= len + 1;
			return v;
		}
		if (now >= until || poll(&p, 1, (int)(until - now)) <= 0)
			return NULL;
		if (f->in_len + 65536 > f->in_cap) {
			f->in_cap = f->in_cap ? f->in_cap * 2 : 1 << 20;
			f->in = realloc(f->in, f->in_cap);
			ck_assert(f->in != NULL);
		}
		got = recv(f->sock, f->in + f->in_len, f->in_cap - f->in_len, 0);
		if (got <= 0)
			return NULL;
		f->in_len += (size_t)got;
	}
}

/* The response with this id (JSON text), skipping notifications; requests in *asks when given. */
static json_t *response(struct fx *f, const char *id, json_t **asks)
{
	json_t *want = parse(id), *m;
	uint64_t until = now_ms() + WAIT_MS;

	while (now_ms() < until && (m = next_msg(f, (unsigned)(until - now_ms())))) {
		if (!json_object_get(m, "method") && json_equal(json_object_get(m, "id"), want)) {
			json_decref(want);
			return m;
		}
		ck_assert_msg(json_object_get(m, "method") != NULL, "an unexpected response: %s",
			      dump(m));
		if (asks && json_object_get(m, "id")) {
			*asks = m;
			json_decref(want);
			return NULL;
		}
		json_decref(m);
	}
	json_decref(want);
	ck_abort_msg("no response with id %s", id);
	return NULL;
}

/*
 * The responses with these ids (JSON texts), in whatever order they come:
 * JSON-RPC lets a server answer requests in flight in any order, and the
 * call that ran first may be answered after the one it let run.
 */
static void responses(struct fx *f, const char *const *ids, json_t **out, size_t n)
{
	uint64_t until = now_ms() + WAIT_MS;
	size_t i, got = 0;
	json_t *m;

	for (i = 0; i < n; i++)
		out[i] = NULL;
	while (got < n && now_ms() < until && (m = next_msg(f, (unsigned)(until - now_ms())))) {
		if (json_object_get(m, "method")) {
			json_decref(m);
			continue;
		}
		for (i = 0; i < n; i++) {
			json_t *want = parse(ids[i]);
			int hit = !out[i] && json_equal(json_object_get(m, "id"), want);

			json_decref(want);
			if (hit)
				break;
		}
		ck_assert_msg(i < n, "an unexpected response: %s", dump(m));
		out[i] = m;
		got++;
	}
	ck_assert_msg(got == n, "%zu of %zu responses", got, n);
}

static void stdio_start(struct fx *f, const char *caps)
{
	char *init = t_fmt("{\"jsonrpc\":\"2.0\",\"id\":\"init\",\"method\":\"initialize\","
			   "\"params\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":%s,"
			   "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}",
			   caps ? caps : "{}");
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->sock = sv[0];
	f->srv_sock = sv[1];
	ck_assert_int_eq(pthread_create(&f->th, NULL, stdio_main, f), 0);
	put(f, init);
	json_decref(response(f, "\"init\"", NULL));
	put(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
	free(init);
}

/* Ends the input and waits for the server to return. */
static void stdio_end(struct fx *f)
{
	shutdown(f->sock, SHUT_WR);
	pthread_join(f->th, NULL);
	ck_assert_msg(f->rc == 0, "cact_mcp_serve_stdio: %s", f->err.message);
	close(f->sock);
	close(f->srv_sock);
	f->sock = f->srv_sock = -1;
	f->in_len = 0;
}

/* execute_code over stdio; reset -1 leaves it out. The response (owned). */
static json_t *run(struct fx *f, const char *id, const char *code, int reset)
{
	char *body = call_body(id, code, reset);
	json_t *m;

	put(f, body);
	m = response(f, id, NULL);
	free(body);
	return m;
}

/* Runs code that must succeed and checks its whole text. */
#define run_ok(f, id, code, reset, want) run_ok_at((f), (id), (code), (reset), (want), __LINE__)
static void run_ok_at(struct fx *f, const char *id, const char *code, int reset, const char *want,
		      int line)
{
	json_t *m = run(f, id, code, reset);
	char *text = ok_text(m);

	ck_assert_msg(strcmp(text, want) == 0, "line %d: '%s', expected '%s'", line, text, want);
	free(text);
	json_decref(m);
}

/* execute_code's entry in tools/list (owned). */
static json_t *exec_tool(struct fx *f)
{
	json_t *m, *t;

	put(f, "{\"jsonrpc\":\"2.0\",\"id\":\"list\",\"method\":\"tools/list\"}");
	m = response(f, "\"list\"", NULL);
	t = json_incref(json_array_get(json_object_get(result_of(m), "tools"), 0));
	json_decref(m);
	ck_assert_str_eq(json_string_value(json_object_get(t, "name")), "execute_code");
	return t;
}

static int has_reset(json_t *tool)
{
	return json_object_get(json_object_get(json_object_get(tool, "inputSchema"), "properties"),
			       "reset") != NULL;
}

/* ---- HTTP, in this process ---- */

static void *http_main(void *arg)
{
	struct fx *f = arg;

	f->rc = cact_mcp_serve_http(f->srv, "127.0.0.1", 0, f->stop_fd, &f->port, &f->err);
	return NULL;
}

static void http_start(struct fx *f)
{
	uint64_t until = now_ms() + WAIT_MS;

	f->stop_fd = eventfd(0, EFD_CLOEXEC);
	ck_assert(f->stop_fd >= 0);
	ck_assert_int_eq(pthread_create(&f->th, NULL, http_main, f), 0);
	while (!__atomic_load_n(&f->port, __ATOMIC_ACQUIRE) && now_ms() < until)
		sleep_ms(10);
	ck_assert_msg(f->port != 0, "the server did not listen: %s", f->err.message);
}

static void http_stop(struct fx *f)
{
	uint64_t one = 1;

	ck_assert_int_eq(write(f->stop_fd, &one, sizeof(one)), 8);
	pthread_join(f->th, NULL);
	ck_assert_msg(f->rc == 0, "cact_mcp_serve_http: %s", f->err.message);
	close(f->stop_fd);
	f->stop_fd = -1;
}

struct hres {
	long status;
	char *body, *head;
	size_t len, head_len;
};

static size_t grow(char **buf, size_t *len, const char *p, size_t n)
{
	char *b = realloc(*buf, *len + n + 1);

	ck_assert(b != NULL);
	memcpy(b + *len, p, n);
	*len += n;
	b[*len] = '\0';
	*buf = b;
	return n;
}

static size_t on_body(char *p, size_t size, size_t n, void *user)
{
	struct hres *r = user;

	return grow(&r->body, &r->len, p, size * n);
}

static size_t on_head(char *p, size_t size, size_t n, void *user)
{
	struct hres *r = user;

	return grow(&r->head, &r->head_len, p, size * n);
}

static void hres_free(struct hres *r)
{
	free(r->body);
	free(r->head);
	memset(r, 0, sizeof(*r));
}

/* One request to /mcp with the MCP headers and the session sid (may be NULL). */
static struct hres hreq(struct fx *f, const char *method, const char *sid, const char *body)
{
	struct curl_slist *h = NULL;
	struct hres r = {0};
	CURL *c = curl_easy_init();
	char *url = t_fmt("http://127.0.0.1:%u/mcp", f->port), *s = NULL;

	ck_assert(c != NULL);
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Accept: application/json, text/event-stream");
	if (sid) {
		s = t_fmt("Mcp-Session-Id: %s", sid);
		h = curl_slist_append(h, s);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_head);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)WAIT_MS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	free(url);
	free(s);
	if (!r.body)
		r.body = calloc(1, 1);
	return r;
}

/* A header of the response, owned, or NULL. */
static char *resp_header(const struct hres *r, const char *name)
{
	const char *p = r->head;
	size_t n = strlen(name);

	while (p && *p) {
		const char *eol = strstr(p, "\r\n");

		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1;

			while (*v == ' ')
				v++;
			return strndup(v, eol ? (size_t)(eol - v) : strlen(v));
		}
		p = eol ? eol + 2 : NULL;
	}
	return NULL;
}

/* The JSON-RPC response of an HTTP response: its JSON body, or an SSE stream's last response. */
static json_t *message_of(const struct hres *r)
{
	json_t *last = NULL;
	const char *p;

	ck_assert_msg(r->status == 200, "HTTP %ld: %s", r->status, r->body);
	if (r->body[0] == '{')
		return parse(r->body);
	for (p = strstr(r->body, "data: "); p; p = strstr(p + 1, "\ndata: ")) {
		const char *start = strchr(p, ' ') + 1, *end = strchr(start, '\n');
		char *one = strndup(start, end ? (size_t)(end - start) : strlen(start));
		json_t *m = parse(one);

		free(one);
		if (json_object_get(m, "id") && !json_object_get(m, "method")) {
			json_decref(last);
			last = m;
		} else {
			json_decref(m);
		}
	}
	ck_assert_msg(last != NULL, "no response in %s", r->body);
	return last;
}

static const char init_body[] =
	"{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
	"\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";

/* A new MCP session over HTTP; its id, owned. */
static char *http_session(struct fx *f)
{
	struct hres r = hreq(f, "POST", NULL, init_body);
	char *sid = resp_header(&r, "Mcp-Session-Id");

	ck_assert_msg(r.status == 200 && sid, "initialize: HTTP %ld %s", r.status, r.body);
	hres_free(&r);
	r = hreq(f, "POST", sid, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
	ck_assert_int_eq(r.status, 202);
	hres_free(&r);
	return sid;
}

/* execute_code in the HTTP session sid; reset -1 leaves it out. The response (owned). */
static json_t *hrun(struct fx *f, const char *sid, const char *code, int reset)
{
	char *body = call_body("7", code, reset);
	struct hres r = hreq(f, "POST", sid, body);
	json_t *m = message_of(&r);

	hres_free(&r);
	free(body);
	return m;
}

#define hrun_ok(f, sid, code, want) hrun_ok_at((f), (sid), (code), (want), __LINE__)
static void hrun_ok_at(struct fx *f, const char *sid, const char *code, const char *want, int line)
{
	json_t *m = hrun(f, sid, code, -1);
	char *text = ok_text(m);

	ck_assert_msg(strcmp(text, want) == 0, "line %d: '%s', expected '%s'", line, text, want);
	free(text);
	json_decref(m);
}

static void hdelete(struct fx *f, const char *sid, long want)
{
	struct hres r = hreq(f, "DELETE", sid, NULL);

	ck_assert_int_eq(r.status, want);
	hres_free(&r);
}

/* ---- stdio ---- */

START_TEST(stdio_state_persists)
{
	struct fx f;
	json_t *tool, *m;

	fx_setup(&f, NULL, 1, 0);
	stdio_start(&f, NULL);
	tool = exec_tool(&f);
	ck_assert(has_reset(&*tool));
	ck_assert_ptr_nonnull(
		strstr(json_string_value(json_object_get(tool, "description")), "persists"));
	ck_assert(json_object_get(
		json_object_get(json_object_get(tool, "outputSchema"), "properties"),
		"session_ended"));
	json_decref(tool);
	/* Lazily: no sandbox session before the first call. */
	ck_assert_uint_eq(live_sessions(&f), 0);
	run_ok(&f, "1", "import math\nx = 41\n_ = open('/tmp/note', 'w').write('kept')", -1,
	       "Code executed successfully without output.");
	ck_assert_uint_eq(live_sessions(&f), 1);
	run_ok(&f, "2", "print(x + 1, math.floor(2.5), open('/tmp/note').read())", -1,
	       "42 2 kept\n");
	/* reset false is no reset. */
	run_ok(&f, "3", "x += 1\nprint(x)", 0, "42\n");
	/* A Python error does not end the session. */
	m = run(&f, "4", "raise ValueError('no')", -1);
	assert_tool(m, 1, "ValueError: no");
	ck_assert_ptr_null(json_object_get(json_object_get(result_of(m), "structuredContent"),
					   "session_ended"));
	json_decref(m);
	run_ok(&f, "5", "print(x)", -1, "42\n");
	ck_assert_uint_eq(live_sessions(&f), 1);
	/* Closing the connection ends the sandbox session. */
	stdio_end(&f);
	ck_assert_uint_eq(live_sessions(&f), 0);
	/* A new connection is a new session: nothing of the old one. */
	stdio_start(&f, NULL);
	run_ok(&f, "6", "print('x' in globals())", -1, "False\n");
	stdio_end(&f);
	ck_assert_uint_eq(live_sessions(&f), 0);
	fx_teardown(&f);
}
END_TEST

START_TEST(stdio_reset_and_bad_arguments)
{
	struct fx f;
	json_t *m;

	fx_setup(&f, NULL, 1, 0);
	stdio_start(&f, NULL);
	/* reset on the very first call: a fresh interpreter anyway. */
	/* The file comes back as a resource item, the only item. */
	run_ok(&f, "1", "x = 1\n_ = open('/output/a.txt', 'w').write('a')", 1, "");
	run_ok(&f, "2", "import os\nprint(x, os.listdir('/output'))", -1, "1 ['a.txt']\n");
	run_ok(&f, "3", "import os\nprint('x' in globals(), os.listdir('/output'))", 1,
	       "False []\n");
	ck_assert_uint_eq(live_sessions(&f), 1);
	m = run(&f, "4", "print(1)", -1);
	json_decref(m);
	/* Bad arguments are tool errors; the session goes on. */
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":"
		"\"execute_code\",\"arguments\":{\"code\":\"print(1)\",\"reset\":\"yes\"}}}");
	m = response(&f, "5", NULL);
	assert_tool(m, 1, "reset must be true or false");
	json_decref(m);
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":{\"name\":"
		"\"execute_code\",\"arguments\":{\"code\":\"print(1)\",\"other\":1}}}");
	m = response(&f, "6", NULL);
	assert_tool(m, 1, "optionally \"reset\": true");
	json_decref(m);
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":"
		"\"execute_code\",\"arguments\":{\"reset\":true}}}");
	m = response(&f, "7", NULL);
	assert_tool(m, 1, "{\"code\": \"...\"}");
	json_decref(m);
	run_ok(&f, "8", "print(os.listdir('/output'))", -1, "[]\n");
	stdio_end(&f);
	fx_teardown(&f);
}
END_TEST

START_TEST(stdio_without_sessions)
{
	struct fx f;
	json_t *tool, *m;
	char *schema;

	fx_setup(&f, NULL, 0, 0);
	stdio_start(&f, NULL);
	tool = exec_tool(&f);
	schema = dump(json_object_get(tool, "inputSchema"));
	ck_assert_str_eq(schema, cact_codeact_input_schema());
	ck_assert(!json_object_get(
		json_object_get(json_object_get(tool, "outputSchema"), "properties"),
		"session_ended"));
	free(schema);
	json_decref(tool);
	run_ok(&f, "1", "x = 1", -1, "Code executed successfully without output.");
	m = run(&f, "2", "print(x)", -1);
	assert_tool(m, 1, "NameError");
	json_decref(m);
	m = run(&f, "3", "print(1)", 1);
	assert_tool(m, 1, "--sessions");
	json_decref(m);
	m = run(&f, "4", "print(1)", 0);
	assert_tool(m, 1, "reset applies to sessions");
	json_decref(m);
	ck_assert_uint_eq(live_sessions(&f), 0);
	stdio_end(&f);
	fx_teardown(&f);
}
END_TEST

START_TEST(stdio_config_enables_sessions)
{
	struct fx f;
	json_t *tool;

	/* No option: the configuration file's "sessions" turns them on. */
	fx_setup(&f, "{\"sessions\":{\"enabled\":true}}", 0, 0);
	stdio_start(&f, NULL);
	tool = exec_tool(&f);
	ck_assert(has_reset(tool));
	json_decref(tool);
	run_ok(&f, "1", "x = 'kept'", -1, "Code executed successfully without output.");
	run_ok(&f, "2", "print(x)", -1, "kept\n");
	stdio_end(&f);
	ck_assert_uint_eq(live_sessions(&f), 0);
	fx_teardown(&f);
}
END_TEST

START_TEST(stdio_timeout_ends_session)
{
	struct fx f;
	json_t *m, *sc;

	fx_setup(&f, "{\"limits\":{\"timeout_s\":1}}", 1, 0);
	stdio_start(&f, NULL);
	run_ok(&f, "1", "x = 1", -1, "Code executed successfully without output.");
	m = run(&f, "2", "while True:\n    pass", -1);
	assert_tool(m, 1,
		    "session ended: timeout in run 2; start a new session (call "
		    "execute_code with reset=true");
	sc = json_object_get(result_of(m), "structuredContent");
	ck_assert_str_eq(json_string_value(json_object_get(sc, "status")), "timeout");
	ck_assert_str_eq(json_string_value(json_object_get(sc, "session_ended")),
			 "timeout in run 2");
	json_decref(m);
	/* Its place is given back at once. */
	ck_assert_uint_eq(live_sessions(&f), 0);
	/* Every later call says so, without running anything... */
	m = run(&f, "3", "print(x)", -1);
	assert_tool(m, 1, "session ended: timeout in run 2; start a new session");
	json_decref(m);
	m = run(&f, "4", "print(2)", 0);
	assert_tool(m, 1, "session ended: timeout in run 2");
	json_decref(m);
	ck_assert_uint_eq(live_sessions(&f), 0);
	/* ...until a reset starts a fresh interpreter. */
	run_ok(&f, "5", "print('x' in globals())", 1, "False\n");
	run_ok(&f, "6", "y = 2\nprint(y)", -1, "2\n");
	ck_assert_uint_eq(live_sessions(&f), 1);
	stdio_end(&f);
	ck_assert_uint_eq(live_sessions(&f), 0);
	fx_teardown(&f);
}
END_TEST

/* 1 when a process of pids (n of them) is no longer below this one. */
static int one_gone(const pid_t *pids, size_t n)
{
	size_t now_n, i, j;
	pid_t *now = t_descendants(getpid(), &now_n);
	int gone = 0;

	for (i = 0; i < n && !gone; i++) {
		for (j = 0; j < now_n && now[j] != pids[i]; j++)
			;
		gone = j == now_n;
	}
	free(now);
	return gone;
}

START_TEST(stdio_idle_ends_session)
{
	pid_t *before, *after, all[8192];
	size_t nb, na;
	uint64_t until;
	struct fx f;
	json_t *m;

	fx_setup(&f, "{\"sessions\":{\"idle_timeout_s\":1}}", 1, 0);
	stdio_start(&f, NULL);
	/* The session's process is among these: a prepared one, or one made for it. */
	before = t_descendants(getpid(), &nb);
	run_ok(&f, "1", "x = 1", -1, "Code executed successfully without output.");
	after = t_descendants(getpid(), &na);
	memcpy(all, before, nb * sizeof(*all));
	memcpy(all + nb, after, na * sizeof(*all));
	/* Left idle, it ends: its process is killed while the MCP session still holds it. */
	until = now_ms() + WAIT_MS;
	while (!one_gone(all, nb + na) && now_ms() < until)
		sleep_ms(100);
	ck_assert_msg(one_gone(all, nb + na), "the idle session's process is still there");
	free(before);
	free(after);
	m = run(&f, "2", "print(x)", -1);
	assert_tool(m, 1, "session ended: idle for 1 s; start a new session");
	json_decref(m);
	ck_assert_uint_eq(live_sessions(&f), 0);
	run_ok(&f, "3", "print('x' in globals())", 1, "False\n");
	ck_assert_uint_eq(live_sessions(&f), 1);
	stdio_end(&f);
	fx_teardown(&f);
}
END_TEST

static const char gate_loop[] = "import time\n"
				"while not call_tool('gate'):\n"
				"    time.sleep(0.02)\n"
				"x = 'from the first'";

/* Waits for the gate tool to have been called: the code runs. */
static void wait_gate_polled(struct fx *f, json_t **asks)
{
	/* The first call_tool shows as a progress message of the call (token "p"). */
	uint64_t until = now_ms() + WAIT_MS;
	json_t *m;

	while (now_ms() < until && (m = next_msg(f, (unsigned)(until - now_ms())))) {
		const char *method = json_string_value(json_object_get(m, "method"));

		if (method && strcmp(method, "notifications/progress") == 0 &&
		    strstr(json_string_value(
				   json_object_get(json_object_get(m, "params"), "message")),
			   "call_tool gate")) {
			json_decref(m);
			return;
		}
		ck_assert_msg(method != NULL || asks, "unexpected: %s", dump(m));
		json_decref(m);
	}
	ck_abort_msg("the code did not call the gate");
}

static char *call_body_meta(const char *id, const char *code)
{
	char *text = call_body(id, code, -1);
	json_t *m = parse(text);

	free(text);
	json_object_set_new(json_object_get(m, "params"), "_meta",
			    json_pack("{s:s}", "progressToken", "p"));
	text = dump(m);
	json_decref(m);
	return text;
}

START_TEST(stdio_calls_take_turns)
{
	struct fx f;
	char *body;
	json_t *m;

	fx_setup(&f, NULL, 1, 0);
	stdio_start(&f, NULL);
	/* A second call waits for the first and sees what it left. */
	body = call_body_meta("1", gate_loop);
	put(&f, body);
	free(body);
	wait_gate_polled(&f, NULL);
	body = call_body("2", "print(x)", -1);
	put(&f, body);
	free(body);
	t_write(f.dir, "gate-open", "");
	{
		const char *ids[] = {"1", "2"};
		json_t *got[2];

		responses(&f, ids, got, 2);
		assert_tool(got[0], 0, NULL);
		assert_tool(got[1], 0, "from the first");
		json_decref(got[0]);
		json_decref(got[1]);
	}
	/* A waiting call that is cancelled never runs, and the running one goes on. */
	unlink(f.gate);
	body = call_body_meta("3", gate_loop);
	put(&f, body);
	free(body);
	wait_gate_polled(&f, NULL);
	body = call_body("4", "y = 'the cancelled one ran'", -1);
	put(&f, body);
	free(body);
	put(&f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{"
		"\"requestId\":4}}");
	/* Messages are handled in order: once the ping is answered, 4 is cancelled. */
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":\"ping\",\"method\":\"ping\"}");
	json_decref(response(&f, "\"ping\"", NULL));
	t_write(f.dir, "gate-open", "");
	m = response(&f, "3", NULL);
	assert_tool(m, 0, NULL);
	json_decref(m);
	run_ok(&f, "5", "print('y' in globals(), x)", -1, "False from the first\n");
	stdio_end(&f);
	fx_teardown(&f);
}
END_TEST

START_TEST(stdio_cancel_ends_session)
{
	struct fx f;
	char *body;
	json_t *m;

	fx_setup(&f, NULL, 1, 0);
	stdio_start(&f, NULL);
	run_ok(&f, "1", "x = 1", -1, "Code executed successfully without output.");
	body = call_body_meta("2", gate_loop);
	put(&f, body);
	free(body);
	wait_gate_polled(&f, NULL);
	put(&f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{"
		"\"requestId\":2}}");
	/* No response for the cancelled call; the next one hears what happened. */
	m = run(&f, "3", "print(x)", -1);
	assert_tool(m, 1, "session ended: cancelled in run 2; start a new session");
	json_decref(m);
	ck_assert_uint_eq(live_sessions(&f), 0);
	run_ok(&f, "4", "print('x' in globals())", 1, "False\n");
	stdio_end(&f);
	fx_teardown(&f);
}
END_TEST

START_TEST(stdio_session_approval)
{
	struct fx f;
	json_t *m = NULL, *ask = NULL;
	char *body, line[512];

	fx_setup(&f, NULL, 1, 0);
	stdio_start(&f, "{\"elicitation\":{}}");
	run_ok(&f, "1", "x = 'state'", -1, "Code executed successfully without output.");
	/* Per-call approval of a tool the code calls: asked, approved, run, in the session. */
	body = call_body("2", "r = call_tool('send', to='bob')\nprint(r['value'], x)", -1);
	put(&f, body);
	free(body);
	m = response(&f, "2", &ask);
	ck_assert_ptr_null(m);
	ck_assert_str_eq(json_string_value(json_object_get(ask, "method")), "elicitation/create");
	ck_assert_ptr_nonnull(strstr(
		json_string_value(json_object_get(json_object_get(ask, "params"), "message")),
		"'send'"));
	snprintf(line, sizeof(line),
		 "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"action\":\"accept\",\"content\":{"
		 "\"approve\":true}}}",
		 (long long)json_integer_value(json_object_get(ask, "id")));
	json_decref(ask);
	put(&f, line);
	m = response(&f, "2", NULL);
	assert_tool(m, 0, "BOB state");
	json_decref(m);
	/* Declined: the code's call fails, the session lives on. */
	body = call_body("3",
			 "try:\n    call_tool('send', to='eve')\nexcept PermissionError:\n    "
			 "print('denied', r['value'])",
			 -1);
	put(&f, body);
	free(body);
	ask = NULL;
	ck_assert_ptr_null(response(&f, "3", &ask));
	snprintf(line, sizeof(line),
		 "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"action\":\"decline\"}}",
		 (long long)json_integer_value(json_object_get(ask, "id")));
	json_decref(ask);
	put(&f, line);
	m = response(&f, "3", NULL);
	assert_tool(m, 0, "denied BOB");
	json_decref(m);
	stdio_end(&f);
	fx_teardown(&f);
}
END_TEST

START_TEST(stdio_approval_outlived_by_run)
{
	struct fx f;
	json_t *m, *ask = NULL;
	char *body, line[512];
	json_int_t ask_id;

	/*
	 * The run times out while its per-call question is open: the question
	 * is withdrawn, the call answers, and the late answer goes nowhere.
	 */
	fx_setup(&f, "{\"limits\":{\"timeout_s\":1}}", 1, 0);
	stdio_start(&f, "{\"elicitation\":{}}");
	body = call_body("1", "call_tool('send', to='bob')", -1);
	put(&f, body);
	free(body);
	ck_assert_ptr_null(response(&f, "1", &ask));
	ck_assert_str_eq(json_string_value(json_object_get(ask, "method")), "elicitation/create");
	ask_id = json_integer_value(json_object_get(ask, "id"));
	json_decref(ask);
	for (;;) {
		const char *method;

		m = next_msg(&f, WAIT_MS);
		ck_assert_ptr_nonnull(m);
		method = json_string_value(json_object_get(m, "method"));
		ck_assert_msg(method, "the response came before the question was withdrawn: %s",
			      dump(m));
		if (strcmp(method, "notifications/cancelled") == 0)
			break;
		json_decref(m);
	}
	ck_assert_int_eq(
		json_integer_value(json_object_get(json_object_get(m, "params"), "requestId")),
		ask_id);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "params"), "reason")),
			 "the execution ended");
	json_decref(m);
	m = response(&f, "1", NULL);
	assert_tool(m, 1, "session ended: timeout in run 1");
	json_decref(m);
	snprintf(line, sizeof(line),
		 "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"action\":\"accept\",\"content\":{"
		 "\"approve\":true}}}",
		 (long long)ask_id);
	put(&f, line);
	run_ok(&f, "2", "print('fresh')", 1, "fresh\n");
	stdio_end(&f);
	fx_teardown(&f);
}
END_TEST

START_TEST(stdio_reload_keeps_sessions)
{
	struct cact_error err = {0};
	char *path;
	struct fx f;
	json_t *tool, *m;

	fx_setup(&f, NULL, 1, 0);
	stdio_start(&f, NULL);
	run_ok(&f, "1", "x = 'before'", -1, "Code executed successfully without output.");
	/* A file without the lookup tool and without "sessions". */
	path = t_fmt("%s/cact.json", f.dir);
	t_write(f.dir, "cact.json", "{\"tools\":[{\"name\":\"only\",\"command\":[\"cat\"]}]}");
	ck_assert_msg(cact_mcp_server_reload(f.srv, path, &err) == 0, "%s", err.message);
	free(path);
	/* --sessions holds; the session keeps its state and its configuration. */
	tool = exec_tool(&f);
	ck_assert(has_reset(tool));
	json_decref(tool);
	run_ok(&f, "2", "print(x, call_tool('lookup', key='q')['value'])", -1, "before Q\n");
	/* Its reset too; a new session has the new configuration. */
	run_ok(&f, "3", "print(call_tool('lookup', key='r')['value'])", 1, "R\n");
	stdio_end(&f);
	ck_assert_uint_eq(live_sessions(&f), 0);
	stdio_start(&f, NULL);
	m = run(&f, "4", "call_tool('lookup', key='s')", -1);
	assert_tool(m, 1, "lookup");
	json_decref(m);
	stdio_end(&f);
	fx_teardown(&f);
}
END_TEST

/* ---- HTTP ---- */

START_TEST(http_sessions_are_separate)
{
	struct fx f;
	char *a, *b;
	json_t *m;

	fx_setup(&f, NULL, 1, 0);
	http_start(&f);
	a = http_session(&f);
	b = http_session(&f);
	ck_assert_uint_eq(live_sessions(&f), 0);
	hrun_ok(&f, a, "x = 'a'\nprint(x)", "a\n");
	hrun_ok(&f, b, "print('x' in globals())", "False\n");
	hrun_ok(&f, b, "x = 'b'\nprint(x)", "b\n");
	hrun_ok(&f, a, "print(x)", "a\n");
	ck_assert_uint_eq(live_sessions(&f), 2);
	/* reset in one leaves the other alone. */
	m = hrun(&f, b, "print('x' in globals())", 1);
	assert_tool(m, 0, "False");
	json_decref(m);
	hrun_ok(&f, a, "print(x)", "a\n");
	/* DELETE ends the MCP session and its sandbox session. */
	hdelete(&f, a, 200);
	ck_assert_uint_eq(live_sessions(&f), 1);
	{
		struct hres r = hreq(&f, "POST", a,
				     "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
				     "\"ping\"}");

		ck_assert_int_eq(r.status, 404);
		hres_free(&r);
	}
	hrun_ok(&f, b, "x = 'b again'\nprint(x)", "b again\n");
	free(a);
	/* A fresh MCP session gets a fresh interpreter. */
	a = http_session(&f);
	hrun_ok(&f, a, "print('x' in globals())", "False\n");
	ck_assert_uint_eq(live_sessions(&f), 2);
	/* Stopping the server ends them all. */
	http_stop(&f);
	ck_assert_uint_eq(live_sessions(&f), 0);
	free(a);
	free(b);
	fx_teardown(&f);
}
END_TEST

START_TEST(http_expiry_ends_session)
{
	struct fx f;
	char *first, *sid;
	int i;

	fx_setup(&f, NULL, 1, 0);
	http_start(&f);
	first = http_session(&f);
	hrun_ok(&f, first, "x = 1\nprint(x)", "1\n");
	ck_assert_uint_eq(live_sessions(&f), 1);
	/*
	 * The HTTP server holds 256 MCP sessions; one more makes room by
	 * dropping the least recently used idle one: the first, and its
	 * sandbox session with it.
	 */
	for (i = 0; i < 256; i++) {
		sid = http_session(&f);
		free(sid);
	}
	ck_assert_uint_eq(live_sessions(&f), 0);
	{
		struct hres r = hreq(&f, "POST", first,
				     "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");

		ck_assert_int_eq(r.status, 404);
		hres_free(&r);
	}
	free(first);
	http_stop(&f);
	fx_teardown(&f);
}
END_TEST

START_TEST(http_session_cap)
{
	uint64_t until;
	struct fx f;
	char *a, *b, *c;
	json_t *m;
	int got = 0;

	/* One sandbox session at most; an idle one ends after a second. */
	fx_setup(&f, "{\"sessions\":{\"idle_timeout_s\":1}}", 1, 1);
	http_start(&f);
	a = http_session(&f);
	b = http_session(&f);
	hrun_ok(&f, a, "x = 'a'", "Code executed successfully without output.");
	/* Refused: a tool error; the MCP session itself goes on. */
	m = hrun(&f, b, "print(1)", -1);
	assert_tool(m, 1, "as many sandbox sessions as it may (cact mcp --max-sessions)");
	json_decref(m);
	{
		struct hres r = hreq(&f, "POST", b,
				     "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
				     "\"ping\"}");

		ck_assert_int_eq(r.status, 200);
		hres_free(&r);
	}
	/* Once a's sandbox session has gone idle and ended, its place is taken back. */
	until = now_ms() + WAIT_MS;
	while (!got && now_ms() < until) {
		m = hrun(&f, b, "y = 'b'\nprint(y)", -1);
		got = !json_is_true(json_object_get(result_of(m), "isError"));
		if (!got)
			assert_tool(m, 1, "--max-sessions");
		json_decref(m);
		if (!got)
			sleep_ms(100);
	}
	ck_assert_msg(got, "the idle session's place was never taken back");
	ck_assert_uint_eq(live_sessions(&f), 1);
	/* a's next call is told that its session ended, and why. */
	m = hrun(&f, a, "print(x)", -1);
	assert_tool(m, 1, "session ended: idle for 1 s; start a new session");
	json_decref(m);
	/* b's own idle end frees the place for c, and b then hears about it. */
	c = http_session(&f);
	got = 0;
	until = now_ms() + WAIT_MS;
	while (!got && now_ms() < until) {
		m = hrun(&f, c, "print('c')", -1);
		got = !json_is_true(json_object_get(result_of(m), "isError"));
		json_decref(m);
		if (!got)
			sleep_ms(100);
	}
	ck_assert(got);
	m = hrun(&f, b, "print(y)", 1);
	assert_tool(m, 1, "--max-sessions");
	json_decref(m);
	/* DELETE gives the place back too. */
	hdelete(&f, c, 200);
	m = hrun(&f, b, "print('y' in globals())", 1);
	assert_tool(m, 0, "False");
	json_decref(m);
	http_stop(&f);
	ck_assert_uint_eq(live_sessions(&f), 0);
	free(a);
	free(b);
	free(c);
	fx_teardown(&f);
}
END_TEST

/* ---- the command ---- */

struct child {
	pid_t pid;
	int in, out;
	char *buf;
	size_t len;
};

static void spawn_cact(struct child *c, const char *const *args)
{
	const char *bin = getenv("CACT_BIN");
	const char *argv[16] = {bin, "mcp"};
	posix_spawn_file_actions_t fa;
	int in[2], out[2];
	size_t n = 2, i;

	ck_assert_msg(bin != NULL, "CACT_BIN is not set");
	for (i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	memset(c, 0, sizeof(*c));
	ck_assert_int_eq(posix_spawn(&c->pid, bin, &fa, NULL, (char *const *)argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	c->in = in[1];
	c->out = out[0];
}

/* Sends a line and waits for standard output to hold needle. */
static void child_says(struct child *c, const char *line, const char *needle)
{
	uint64_t until = now_ms() + WAIT_MS;
	char chunk[4096];

	ck_assert_int_eq(dprintf(c->in, "%s\n", line), (int)strlen(line) + 1);
	while (!(c->buf && strstr(c->buf, needle)) && now_ms() < until) {
		struct pollfd p = {.fd = c->out, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(c->out, chunk, sizeof(chunk));
		if (n <= 0)
			break;
		grow(&c->buf, &c->len, chunk, (size_t)n);
	}
	ck_assert_msg(c->buf && strstr(c->buf, needle), "no '%s' in: %s", needle,
		      c->buf ? c->buf : "");
}

static int child_end(struct child *c)
{
	int status;

	close(c->in);
	ck_assert_int_eq(waitpid(c->pid, &status, 0), c->pid);
	close(c->out);
	free(c->buf);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

START_TEST(cli_sessions)
{
	struct child c;
	char *body, *out = NULL, *err = NULL;
	int rc;

	spawn_cact(&c, (const char *const[]){"--sessions", "--max-sessions", "2", NULL});
	child_says(&c, init_body, "\"id\":0,");
	child_says(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}", "\"reset\"");
	body = call_body("2", "x = 41", -1);
	child_says(&c, body, "\"id\":2,");
	free(body);
	body = call_body("3", "print(x + 1)", -1);
	child_says(&c, body, "\"text\":\"42\\n\"");
	free(body);
	ck_assert_int_eq(child_end(&c), 0);
	rc = t_cli((const char *const[]){"mcp", "--max-sessions", "0", NULL}, NULL, &out, &err);
	ck_assert_msg(rc == 2 && strstr(err, "--max-sessions: '0'"), "%d %s", rc, err);
	free(out);
	free(err);
	rc = t_cli((const char *const[]){"mcp", "--max-sessions", "1025", NULL}, NULL, &out, &err);
	ck_assert_msg(rc == 2 && strstr(err, "from 1 to 1024"), "%d %s", rc, err);
	free(out);
	free(err);
	rc = t_cli((const char *const[]){"mcp", "--help", NULL}, NULL, &out, &err);
	ck_assert_msg(rc == 0 && strstr(out, "--sessions") && strstr(out, "--max-sessions N"),
		      "%d %s", rc, out);
	free(out);
	free(err);
}
END_TEST

int main(int argc, char **argv)
{
	/* tests/meson.build reads one T_CASE per line. */
	/* clang-format off */
	const struct t_case cases[] = {
		T_CASE(stdio_state_persists, 120),
		T_CASE(stdio_reset_and_bad_arguments, 120),
		T_CASE(stdio_without_sessions, 120),
		T_CASE(stdio_config_enables_sessions, 120),
		T_CASE(stdio_timeout_ends_session, 120),
		T_CASE(stdio_idle_ends_session, 120),
		T_CASE(stdio_calls_take_turns, 120),
		T_CASE(stdio_cancel_ends_session, 120),
		T_CASE(stdio_session_approval, 120),
		T_CASE(stdio_approval_outlived_by_run, 120),
		T_CASE(stdio_reload_keeps_sessions, 120),
		T_CASE(http_sessions_are_separate, 120),
		T_CASE(http_expiry_ends_session, 180),
		T_CASE(http_session_cap, 180),
		T_CASE(cli_sessions, 120),
	};
	/* clang-format on */

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return t_main("mcp_sessions", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
