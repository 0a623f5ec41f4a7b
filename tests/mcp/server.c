/* SPDX-License-Identifier: MIT */
/*
 * The MCP server against bad input and hostile or careless clients, over
 * both transports and through the cact mcp command: malformed JSON,
 * unknown methods, requests before initialize, oversize messages, batches,
 * invalid params, a wrong Accept, a missing or unknown session, a bad
 * Origin or Host, a missing token; and a call cancelled, or abandoned by a
 * client that goes away, after which the execution must be gone, with no
 * process, thread or file descriptor left behind.
 *
 * The library runs in this process (stdio over a socket pair, HTTP on a
 * loopback port spoken to with libcurl); the command runs as a child.
 */
#include <curl/curl.h>
#include <dirent.h>
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

/* ---- small helpers ---- */

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, f);
	ck_assert(vasprintf(&s, f, ap) >= 0);
	va_end(ap);
	return s;
}

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
	json_t *v = json_loads(text, 0, &je);

	ck_assert_msg(v != NULL, "not JSON (%s): %.1000s", je.text, text);
	return v;
}

static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	ck_assert(d != NULL);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : 0;
}

/* ---- the fixture: a configuration, a runtime and a server ---- */

struct fx {
	char *dir;
	char *ticks; /* the tick tool appends one byte here per call */
	struct cact_runtime *rt;
	struct cact_codeact *cc;
	struct cact_mcp_server *srv;
	size_t procs; /* processes below this one when idle */
	int fds, threads;
	/* stdio */
	int sock, srv_sock;
	pthread_t th;
	int serving;
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

static void write_config(struct fx *f, const char *extra)
{
	char *tick = fmt("import sys; sys.stdin.read(); open('%s', 'a').write('x'); print('{}')",
			 f->ticks);
	json_t *cfg = json_pack(
		"{s:[{s:s, s:s, s:{s:s, s:{s:{s:s}}, s:[s]}, s:[s, s, s]},"
		"   {s:s, s:s, s:{s:s, s:{}}, s:[s, s, s]},"
		"   {s:s, s:s, s:{s:s, s:{s:{s:s}}, s:[s]}, s:s, s:[s, s, s]}],"
		" s:b, s:{s:i}}",
		"tools", "name", "lookup", "description", "Look a key up.", "parameters", "type",
		"object", "properties", "key", "type", "string", "required", "key", "command",
		"python3", "-c", lookup_py, "name", "tick", "description", "Count a tick.",
		"parameters", "type", "object", "properties", "command", "python3", "-c", tick,
		"name", "send", "description", "Send (needs approval).", "parameters", "type",
		"object", "properties", "to", "type", "string", "required", "to", "approval_mode",
		"always_require", "command", "python3", "-c", lookup_py, "per_call_approval", 1,
		"limits", "timeout_s", 60);
	char *path = fmt("%s/cact.json", f->dir);

	ck_assert(cfg != NULL);
	if (extra) {
		json_t *e = parse(extra);

		ck_assert_int_eq(json_object_update(cfg, e), 0);
		json_decref(e);
	}
	ck_assert_int_eq(json_dump_file(cfg, path, 0), 0);
	json_decref(cfg);
	free(path);
	free(tick);
}

static int count_threads(void)
{
	return count_dir("/proc/self/task");
}

static int count_fds(void)
{
	return count_dir("/proc/self/fd");
}

static size_t count_procs(void)
{
	size_t n;

	free(t_descendants(getpid(), &n));
	return n;
}

/* Waits until the process count is back at its idle value. */
static void assert_procs_idle(struct fx *f, unsigned ms)
{
	uint64_t until = now_ms() + ms;
	size_t n;

	while ((n = count_procs()) > f->procs && now_ms() < until)
		sleep_ms(50);
	ck_assert_msg(n <= f->procs, "%zu processes below the test, %zu when idle", n, f->procs);
}

/*
 * The runtime reads its pool's news during executions, so what it holds
 * depends on when one last ran: one runs before each count.
 */
static void settle_runtime(struct fx *f)
{
	struct cact_result *res = NULL;
	struct cact_error err = {0};

	ck_assert_msg(cact_codeact_execute(f->cc, "pass", 4, &res, &err) == 0, "%s", err.message);
	cact_result_free(res);
}

/* Open fds other than the runtime's prepared children's (T_FDS_PER_CHILD each). */
static int own_fds(struct fx *f)
{
	struct cact_runtime_stats st;
	int n = count_fds();

	cact_runtime_stats(f->rt, &st);
	return n - T_FDS_PER_CHILD * (int)st.idle;
}

static void assert_no_leaks(struct fx *f)
{
	uint64_t until = now_ms() + 3000;

	assert_procs_idle(f, 10000);
	settle_runtime(f);
	assert_procs_idle(f, 10000);
	while ((count_threads() != f->threads || own_fds(f) != f->fds) && now_ms() < until)
		sleep_ms(20);
	ck_assert_int_eq(count_threads(), f->threads);
	ck_assert_int_eq(own_fds(f), f->fds);
}

static void fx_setup(struct fx *f, const char *extra, const struct cact_mcp_server_options *o)
{
	struct cact_error err = {0};
	char *path;
	size_t n, last = 0;
	int stable = 0;

	memset(f, 0, sizeof(*f));
	f->sock = f->srv_sock = f->stop_fd = -1;
	signal(SIGPIPE, SIG_IGN);
	f->dir = t_tmpdir();
	f->ticks = fmt("%s/ticks", f->dir);
	write_config(f, extra);
	path = fmt("%s/cact.json", f->dir);
	ck_assert_int_eq(cact_codeact_new(NULL, &f->cc, &err), 0);
	ck_assert_msg(cact_codeact_load_config(f->cc, path, &err) == 0, "%s", err.message);
	free(path);
	f->rt = t_runtime();
	cact_codeact_set_runtime(f->cc, f->rt);
	ck_assert_msg(cact_mcp_server_new(f->cc, o, &f->srv, &err) == 0, "%s", err.message);
	settle_runtime(f);
	/* Idle: the warm pool child is ready and the count stays put. */
	while (stable < 5) {
		n = count_procs();
		stable = n == last ? stable + 1 : 0;
		last = n;
		sleep_ms(40);
	}
	f->procs = last;
	f->threads = count_threads();
	f->fds = own_fds(f);
}

static void fx_teardown(struct fx *f)
{
	cact_mcp_server_free(f->srv);
	cact_codeact_free(f->cc);
	cact_runtime_free(f->rt);
	t_rmtree(f->dir);
	free(f->dir);
	free(f->ticks);
	free(f->in);
}

/* Waits for at least n ticks of the tick tool: the code is running. */
static void wait_ticks(struct fx *f, off_t n)
{
	uint64_t until = now_ms() + 20000;

	while (file_size(f->ticks) < n && now_ms() < until)
		sleep_ms(20);
	ck_assert_msg(file_size(f->ticks) >= n, "the code did not tick");
}

/* The ticks stop (none for 2 s, within 15 s): the execution is gone. */
static void assert_ticks_stop(struct fx *f)
{
	uint64_t until = now_ms() + 15000, since = now_ms();
	off_t last = file_size(f->ticks);

	while (now_ms() < until) {
		sleep_ms(100);
		if (file_size(f->ticks) != last) {
			last = file_size(f->ticks);
			since = now_ms();
		} else if (now_ms() - since >= 2000) {
			return;
		}
	}
	ck_abort_msg("the code still runs (%lld ticks and counting)", (long long)last);
}

static const char tick_loop[] =
	"import time\\nwhile True:\\n    call_tool(\\\"tick\\\")\\n    time.sleep(0.05)";

/* ---- stdio, in this process ---- */

static void *stdio_main(void *arg)
{
	struct fx *f = arg;

	f->rc = cact_mcp_serve_stdio(f->srv, f->srv_sock, f->srv_sock, &f->err);
	return NULL;
}

static void stdio_start(struct fx *f)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->sock = sv[0];
	f->srv_sock = sv[1];
	ck_assert_int_eq(pthread_create(&f->th, NULL, stdio_main, f), 0);
	f->serving = 1;
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

/*
 * The response with this id (a JSON text: 7, "a"), skipping notifications
 * and requests (kept in *others when given, a new array).
 */
static json_t *response(struct fx *f, const char *id, unsigned ms, json_t **others)
{
	json_t *want = json_loads(id, JSON_DECODE_ANY, NULL), *m;
	uint64_t until = now_ms() + ms;

	if (others)
		*others = json_array();
	while (now_ms() < until && (m = next_msg(f, (unsigned)(until - now_ms())))) {
		if (!json_object_get(m, "method") && json_equal(json_object_get(m, "id"), want)) {
			json_decref(want);
			return m;
		}
		ck_assert_msg(json_object_get(m, "method") != NULL, "an unexpected response: %s",
			      json_dumps(m, 0));
		if (others)
			json_array_append(*others, m);
		json_decref(m);
	}
	json_decref(want);
	ck_abort_msg("no response with id %s within %u ms", id, ms);
	return NULL;
}

static void assert_error(json_t *m, const char *id, int code)
{
	json_t *want = json_loads(id, JSON_DECODE_ANY, NULL);
	char *text = json_dumps(m, 0);

	ck_assert_msg(json_equal(json_object_get(m, "id"), want), "id: %s", text);
	ck_assert_msg(json_integer_value(json_object_get(json_object_get(m, "error"), "code")) ==
			      code,
		      "expected error %d: %s", code, text);
	ck_assert_msg(!json_object_get(m, "result"), "an error has no result: %s", text);
	free(text);
	json_decref(want);
	json_decref(m);
}

static json_t *result_of(json_t *m)
{
	json_t *r = json_object_get(m, "result");
	char *text = json_dumps(m, 0);

	ck_assert_msg(json_is_object(r), "not a result: %s", text);
	free(text);
	return r;
}

static const char *tool_text(json_t *result)
{
	json_t *c = json_array_get(json_object_get(result, "content"), 0);

	return json_string_value(json_object_get(c, "text"));
}

static void stdio_init(struct fx *f, const char *version, const char *caps)
{
	char *req =
		fmt("{\"jsonrpc\":\"2.0\",\"id\":\"init\",\"method\":\"initialize\",\"params\":{"
		    "\"protocolVersion\":\"%s\",\"capabilities\":%s,\"clientInfo\":{\"name\":"
		    "\"t\",\"version\":\"1\"}}}",
		    version, caps ? caps : "{}");
	json_t *m;

	put(f, req);
	m = response(f, "\"init\"", 10000, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(result_of(m), "protocolVersion")),
			 version);
	json_decref(m);
	put(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
	free(req);
}

/* Ends the input and waits for the server to return. */
static void stdio_end(struct fx *f, unsigned ms)
{
	struct timespec until;
	int rc;

	shutdown(f->sock, SHUT_WR);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	rc = pthread_timedjoin_np(f->th, NULL, &until);
	ck_assert_msg(rc == 0, "the server did not return within %u ms of the end of input", ms);
	f->serving = 0;
	ck_assert_msg(f->rc == 0, "cact_mcp_serve_stdio: %s", f->err.message);
	close(f->sock);
	close(f->srv_sock);
	f->sock = f->srv_sock = -1;
}

static void call_line(char *buf, size_t size, const char *id, const char *code, const char *meta)
{
	snprintf(buf, size,
		 "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"tools/call\",\"params\":{\"name\":"
		 "\"execute_code\",\"arguments\":{\"code\":\"%s\"}%s%s}}",
		 id, code, meta ? ",\"_meta\":" : "", meta ? meta : "");
}

START_TEST(stdio_malformed_json)
{
	struct fx f;

	fx_setup(&f, NULL, NULL);
	stdio_start(&f);
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":");
	assert_error(next_msg(&f, 5000), "null", -32700);
	put(&f, "\xff\xfe not even UTF-8");
	assert_error(next_msg(&f, 5000), "null", -32700);
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"ping\"}");
	assert_error(next_msg(&f, 5000), "null", -32700);
	/* Valid JSON, not a message: invalid request, with the id when there is a usable one. */
	put(&f, "{\"jsonrpc\":\"1.0\",\"id\":5,\"method\":\"ping\"}");
	assert_error(next_msg(&f, 5000), "5", -32600);
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":{\"x\":1},\"method\":\"ping\"}");
	assert_error(next_msg(&f, 5000), "null", -32600);
	put(&f, "\"just a string\"");
	assert_error(next_msg(&f, 5000), "null", -32600);
	/* Blank lines are no messages. */
	put(&f, "   ");
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"ping\"}");
	json_decref(response(&f, "6", 5000, NULL));
	stdio_end(&f, 10000);
	fx_teardown(&f);
}
END_TEST

START_TEST(stdio_batch_refused)
{
	struct fx f;

	fx_setup(&f, NULL, NULL);
	stdio_start(&f);
	put(&f, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},"
		"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}]");
	assert_error(next_msg(&f, 5000), "null", -32600);
	put(&f, "[]");
	assert_error(next_msg(&f, 5000), "null", -32600);
	ck_assert(next_msg(&f, 300) == NULL); /* one answer per batch, none per element */
	stdio_end(&f, 10000);
	fx_teardown(&f);
}
END_TEST

START_TEST(stdio_before_initialize)
{
	struct fx f;
	json_t *m;

	fx_setup(&f, NULL, NULL);
	stdio_start(&f);
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
	assert_error(next_msg(&f, 5000), "1", -32002);
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":"
		"\"execute_code\",\"arguments\":{\"code\":\"print(1)\"}}}");
	assert_error(next_msg(&f, 5000), "2", -32002);
	/* ping is always answered; notifications never are. */
	put(&f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{}}");
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}");
	m = next_msg(&f, 5000);
	ck_assert_int_eq(json_integer_value(json_object_get(m, "id")), 3);
	ck_assert_int_eq(json_object_size(result_of(m)), 0);
	json_decref(m);
	stdio_init(&f, "2025-11-25", NULL);
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"initialize\",\"params\":{"
		"\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":"
		"\"t\",\"version\":\"1\"}}}");
	assert_error(next_msg(&f, 5000), "4", -32600);
	stdio_end(&f, 10000);
	fx_teardown(&f);
}
END_TEST

START_TEST(stdio_unknown_method)
{
	struct fx f;

	fx_setup(&f, NULL, NULL);
	stdio_start(&f);
	stdio_init(&f, "2025-06-18", NULL);
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"resources/list\"}");
	assert_error(next_msg(&f, 5000), "\"x\"", -32601);
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"no/such/method\",\"params\":{}}");
	assert_error(next_msg(&f, 5000), "9", -32601);
	/* An unknown notification gets nothing back. */
	put(&f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/whatever\"}");
	ck_assert(next_msg(&f, 300) == NULL);
	stdio_end(&f, 10000);
	fx_teardown(&f);
}
END_TEST

START_TEST(stdio_invalid_params)
{
	struct fx f;
	json_t *m;

	fx_setup(&f, NULL, NULL);
	stdio_start(&f);
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
		"\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}");
	assert_error(next_msg(&f, 5000), "1", -32602);
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"initialize\",\"params\":{"
		"\"protocolVersion\":\"2025-11-25\",\"capabilities\":[],\"clientInfo\":{}}}");
	assert_error(next_msg(&f, 5000), "2", -32602);
	stdio_init(&f, "2025-11-25", NULL);
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":5}}");
	assert_error(next_msg(&f, 5000), "3", -32602);
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":"
		"\"execute_code\",\"arguments\":[1]}}");
	assert_error(next_msg(&f, 5000), "4", -32602);
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":"
		"\"rm_rf\",\"arguments\":{}}}");
	assert_error(next_msg(&f, 5000), "5", -32602);
	/* Not exposed without expose_tools. */
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":{\"name\":"
		"\"lookup\",\"arguments\":{\"key\":\"a\"}}}");
	assert_error(next_msg(&f, 5000), "6", -32602);
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"logging/setLevel\",\"params\":{"
		"\"level\":\"loud\"}}");
	assert_error(next_msg(&f, 5000), "7", -32602);
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/list\",\"params\":[1,2]}");
	assert_error(next_msg(&f, 5000), "8", -32602);
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":"
		"\"execute_code\",\"arguments\":{},\"_meta\":{\"progressToken\":[1]}}}");
	assert_error(next_msg(&f, 5000), "9", -32602);
	/* Arguments the tool refuses are a tool error the model can act on, not a protocol one. */
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"tools/call\",\"params\":{\"name\":"
		"\"execute_code\",\"arguments\":{\"code\":1}}}");
	m = next_msg(&f, 5000);
	ck_assert(json_is_true(json_object_get(result_of(m), "isError")));
	ck_assert_ptr_nonnull(strstr(tool_text(result_of(m)), "{\"code\": \"...\"}"));
	json_decref(m);
	stdio_end(&f, 10000);
	fx_teardown(&f);
}
END_TEST

START_TEST(stdio_oversize_message)
{
	struct cact_mcp_server_options o;
	struct fx f;
	char *big;

	cact_mcp_server_options_init(&o);
	o.max_message_bytes = 4096;
	fx_setup(&f, NULL, &o);
	stdio_start(&f);
	stdio_init(&f, "2025-11-25", NULL);
	big = calloc(1, 20000);
	memset(big, 'a', 19999);
	memcpy(big, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"x\":\"", 54);
	memcpy(big + 19995, "\"}}", 3);
	big[19998] = '\0';
	put(&f, big);
	assert_error(next_msg(&f, 5000), "null", -32600);
	/* The session goes on after the long line. */
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}");
	json_decref(response(&f, "2", 5000, NULL));
	free(big);
	stdio_end(&f, 10000);
	fx_teardown(&f);
}
END_TEST

START_TEST(stdio_versions_and_tools)
{
	struct fx f;
	json_t *m, *tools, *ec;

	fx_setup(&f, NULL, NULL);
	stdio_start(&f);
	/* An unknown version gets the newest; 2025-03-26 is answered as is, without output schemas. */
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
		"\"protocolVersion\":\"1999-01-01\",\"capabilities\":{},\"clientInfo\":{\"name\":"
		"\"t\",\"version\":\"1\"}}}");
	m = next_msg(&f, 5000);
	ck_assert_str_eq(json_string_value(json_object_get(result_of(m), "protocolVersion")),
			 "2025-11-25");
	ck_assert(json_is_true(json_object_get(
		json_object_get(json_object_get(result_of(m), "capabilities"), "tools"),
		"listChanged")));
	ck_assert(json_is_object(
		json_object_get(json_object_get(result_of(m), "capabilities"), "logging")));
	ck_assert(json_string_length(json_object_get(result_of(m), "instructions")) > 0);
	json_decref(m);
	stdio_end(&f, 10000);

	stdio_start(&f);
	stdio_init(&f, "2025-03-26", NULL);
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
	m = response(&f, "2", 5000, NULL);
	tools = json_object_get(result_of(m), "tools");
	ck_assert_int_eq(json_array_size(tools), 1);
	ec = json_array_get(tools, 0);
	ck_assert_str_eq(json_string_value(json_object_get(ec, "name")), "execute_code");
	ck_assert(json_object_get(ec, "inputSchema") && !json_object_get(ec, "outputSchema"));
	json_decref(m);
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":"
		"\"execute_code\",\"arguments\":{\"code\":\"print(2+2)\"}}}");
	m = response(&f, "3", 30000, NULL);
	ck_assert_str_eq(tool_text(result_of(m)), "4\n");
	ck_assert(!json_object_get(result_of(m), "structuredContent"));
	json_decref(m);
	stdio_end(&f, 10000);
	fx_teardown(&f);
}
END_TEST

START_TEST(stdio_duplicate_id_and_cap)
{
	struct cact_mcp_server_options o;
	char line[1024];
	struct fx f;
	json_t *m;

	cact_mcp_server_options_init(&o);
	o.max_calls = 1;
	fx_setup(&f, NULL, &o);
	stdio_start(&f);
	stdio_init(&f, "2025-11-25", NULL);
	call_line(line, sizeof(line), "1", tick_loop, NULL);
	put(&f, line);
	wait_ticks(&f, 1);
	/* The same id again while the first runs: refused. */
	put(&f, line);
	assert_error(next_msg(&f, 5000), "1", -32600);
	/* Another call over the cap of one: a tool error, so the model may wait and retry. */
	call_line(line, sizeof(line), "2", "print(1)", NULL);
	put(&f, line);
	m = response(&f, "2", 5000, NULL);
	ck_assert(json_is_true(json_object_get(result_of(m), "isError")));
	ck_assert_ptr_nonnull(strstr(tool_text(result_of(m)), "too many calls in flight"));
	json_decref(m);
	put(&f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{"
		"\"requestId\":1}}");
	assert_ticks_stop(&f);
	stdio_end(&f, 10000);
	assert_no_leaks(&f);
	fx_teardown(&f);
}
END_TEST

START_TEST(stdio_cancel_running_call)
{
	char line[1024];
	struct fx f;
	json_t *m;

	fx_setup(&f, NULL, NULL);
	stdio_start(&f);
	stdio_init(&f, "2025-11-25", NULL);
	call_line(line, sizeof(line), "\"long\"", tick_loop, "{\"progressToken\":7}");
	put(&f, line);
	wait_ticks(&f, 3);
	put(&f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{"
		"\"requestId\":\"long\",\"reason\":\"the user changed their mind\"}}");
	assert_ticks_stop(&f);
	assert_procs_idle(&f, 10000);
	/* No response for the cancelled request; the session goes on. */
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":\"after\",\"method\":\"ping\"}");
	m = response(&f, "\"after\"", 5000, NULL);
	json_decref(m);
	while ((m = next_msg(&f, 500))) {
		ck_assert_msg(json_object_get(m, "method") != NULL,
			      "a response after cancelling: %s", json_dumps(m, 0));
		json_decref(m);
	}
	/* Cancelling what is not running is ignored. */
	put(&f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{"
		"\"requestId\":\"long\"}}");
	put(&f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{"
		"\"requestId\":[1]}}");
	call_line(line, sizeof(line), "2", "print(6*7)", NULL);
	put(&f, line);
	m = response(&f, "2", 30000, NULL);
	ck_assert_str_eq(tool_text(result_of(m)), "42\n");
	json_decref(m);
	stdio_end(&f, 10000);
	assert_no_leaks(&f);
	fx_teardown(&f);
}
END_TEST

START_TEST(stdio_disconnect_mid_call)
{
	char line[1024];
	uint64_t t0;
	struct fx f;

	fx_setup(&f, NULL, NULL);
	stdio_start(&f);
	stdio_init(&f, "2025-11-25", NULL);
	call_line(line, sizeof(line), "1", tick_loop, NULL);
	put(&f, line);
	call_line(line, sizeof(line), "2", "import time\\ntime.sleep(60)", NULL);
	put(&f, line);
	wait_ticks(&f, 3);
	/* The client goes away: both executions stop, and the server returns at once. */
	t0 = now_ms();
	stdio_end(&f, 10000);
	ck_assert_msg(now_ms() - t0 < 5000, "the server took %llu ms to stop",
		      (unsigned long long)(now_ms() - t0));
	assert_ticks_stop(&f);
	assert_no_leaks(&f);
	fx_teardown(&f);
}
END_TEST

START_TEST(stdio_progress_and_logging)
{
	char line[1024];
	struct fx f;
	json_t *m, *others, *n;
	size_t i;
	int progress = 0, running = 0, logs = 0;
	json_int_t last = 0;

	fx_setup(&f, NULL, NULL);
	stdio_start(&f);
	stdio_init(&f, "2025-11-25", NULL);
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"logging/setLevel\",\"params\":{"
		"\"level\":\"debug\"}}");
	m = response(&f, "1", 5000, NULL);
	ck_assert_int_eq(json_object_size(result_of(m)), 0);
	json_decref(m);
	call_line(line, sizeof(line), "2",
		  "import time\\nprint(call_tool(\\\"lookup\\\", key=\\\"q\\\")[\\\"value\\\"])"
		  "\\ntime.sleep(1.5)",
		  "{\"progressToken\":\"tok\"}");
	put(&f, line);
	m = response(&f, "2", 30000, &others);
	ck_assert_str_eq(tool_text(result_of(m)), "Q\n");
	json_array_foreach(others, i, n) {
		const char *method = json_string_value(json_object_get(n, "method"));
		json_t *p = json_object_get(n, "params");

		if (strcmp(method, "notifications/progress") == 0) {
			ck_assert_str_eq(json_string_value(json_object_get(p, "progressToken")),
					 "tok");
			ck_assert(json_integer_value(json_object_get(p, "progress")) > last);
			last = json_integer_value(json_object_get(p, "progress"));
			progress += strcmp(json_string_value(json_object_get(p, "message")),
					   "call_tool lookup") == 0;
			running += strncmp(json_string_value(json_object_get(p, "message")),
					   "running ", 8) == 0;
		} else if (strcmp(method, "notifications/message") == 0) {
			ck_assert_str_eq(json_string_value(json_object_get(p, "logger")), "cact");
			logs += strstr(json_string_value(json_object_get(p, "data")),
				       "call_tool lookup") != NULL;
		}
	}
	ck_assert_int_eq(progress, 1);
	ck_assert_int_ge(running, 1);
	ck_assert_int_ge(logs, 2); /* the call and its return */
	json_decref(others);
	json_decref(m);
	/* At "error", an ordinary run logs nothing. */
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"logging/setLevel\",\"params\":{"
		"\"level\":\"error\"}}");
	json_decref(response(&f, "3", 5000, NULL));
	call_line(line, sizeof(line), "4", "print(1)", NULL);
	put(&f, line);
	m = response(&f, "4", 30000, &others);
	ck_assert_int_eq(json_array_size(others), 0);
	json_decref(others);
	json_decref(m);
	stdio_end(&f, 10000);
	fx_teardown(&f);
}
END_TEST

/*
 * Live output as progress messages: the code prints, sleeps one second,
 * calls the tick tool (its marker file on the host), prints again. The
 * first line's notification must come while the marker does not exist yet;
 * the second after; the stream is in _meta; the result still has it all.
 * Clean executions, then a sandbox session. Without a progressToken, no
 * output notifications.
 */
static void live_output_case(int sessions)
{
	struct cact_mcp_server_options o;
	char line[1024];
	struct fx f;
	json_t *m, *n;
	size_t i;
	int first_at = -1, second_at = -1, err_at = -1;
	char *all = NULL;

	cact_mcp_server_options_init(&o);
	o.sessions = sessions;
	fx_setup(&f, NULL, &o);
	stdio_start(&f);
	stdio_init(&f, "2025-06-18", NULL);
	call_line(line, sizeof(line), "1",
		  "import sys, time\\nprint(\\\"first\\\")\\nprint(\\\"oops\\\", file=sys.stderr)"
		  "\\ntime.sleep(1)\\ncall_tool(\\\"tick\\\")\\nprint(\\\"second\\\")",
		  "{\"progressToken\":\"out\"}");
	put(&f, line);
	all = strdup("");
	for (i = 0; (m = next_msg(&f, 30000)) != NULL; i++) {
		const char *method = json_string_value(json_object_get(m, "method"));
		json_t *p = json_object_get(m, "params");
		const char *msg = json_string_value(json_object_get(p, "message"));
		const char *stream = json_string_value(
			json_object_get(json_object_get(p, "_meta"), "cact/stream"));

		if (!method) {
			ck_assert_str_eq(tool_text(result_of(m)), "first\nsecond\n");
			json_decref(m);
			break;
		}
		if (strcmp(method, "notifications/progress") == 0 && stream) {
			ck_assert_str_eq(json_string_value(json_object_get(p, "progressToken")),
					 "out");
			if (strcmp(stream, "stdout") == 0) {
				char *grown = fmt("%s%s", all, msg);

				free(all);
				all = grown;
				if (strstr(msg, "first")) {
					first_at = (int)i;
					/* Before the code got past its sleep. */
					ck_assert_int_eq(file_size(f.ticks), 0);
				}
				if (strstr(msg, "second")) {
					second_at = (int)i;
					ck_assert_int_eq(file_size(f.ticks), 1);
				}
			} else {
				ck_assert_str_eq(stream, "stderr");
				ck_assert_str_eq(msg, "oops\n");
				err_at = (int)i;
			}
		}
		json_decref(m);
	}
	ck_assert_msg(m != NULL, "no response");
	ck_assert_int_ge(first_at, 0);
	ck_assert_int_gt(second_at, first_at);
	ck_assert_int_gt(err_at, -1);
	ck_assert_str_eq(all, "first\nsecond\n");
	free(all);
	/* No token: the output comes in the result only. */
	call_line(line, sizeof(line), "2", "print(\\\"quiet\\\")", NULL);
	put(&f, line);
	m = response(&f, "2", 30000, &n);
	ck_assert_str_eq(tool_text(result_of(m)), "quiet\n");
	ck_assert_int_eq(json_array_size(n), 0);
	json_decref(n);
	json_decref(m);
	stdio_end(&f, 10000);
	fx_teardown(&f);
}

START_TEST(stdio_live_output)
{
	live_output_case(0);
}
END_TEST

START_TEST(stdio_live_output_sessions)
{
	live_output_case(1);
}
END_TEST

START_TEST(stdio_approval)
{
	struct cact_mcp_server_options o;
	char line[1024];
	struct fx f;
	json_t *m, *req;

	cact_mcp_server_options_init(&o);
	o.approval_timeout_ms = 700;
	fx_setup(&f, "{\"approval_mode\":\"always_require\"}", &o);
	/* A client without elicitation: denied, with the reason. */
	stdio_start(&f);
	stdio_init(&f, "2025-11-25", NULL);
	call_line(line, sizeof(line), "1", "print(1)", NULL);
	put(&f, line);
	m = response(&f, "1", 5000, NULL);
	ck_assert(json_is_true(json_object_get(result_of(m), "isError")));
	ck_assert_ptr_nonnull(strstr(tool_text(result_of(m)), "elicitation"));
	json_decref(m);
	stdio_end(&f, 10000);
	/* With elicitation: the question comes, and no answer in time is a no. */
	stdio_start(&f);
	stdio_init(&f, "2025-11-25", "{\"elicitation\":{}}");
	call_line(line, sizeof(line), "2", "print(\\\"ran\\\")", NULL);
	put(&f, line);
	req = next_msg(&f, 5000);
	ck_assert_str_eq(json_string_value(json_object_get(req, "method")), "elicitation/create");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(req, "params"), "mode")),
			 "form");
	ck_assert_ptr_nonnull(strstr(
		json_string_value(json_object_get(json_object_get(req, "params"), "message")),
		"print(\"ran\")"));
	m = next_msg(&f, 5000);
	ck_assert_str_eq(json_string_value(json_object_get(m, "method")),
			 "notifications/cancelled");
	ck_assert(json_equal(json_object_get(json_object_get(m, "params"), "requestId"),
			     json_object_get(req, "id")));
	json_decref(m);
	m = response(&f, "2", 5000, NULL);
	ck_assert(json_is_true(json_object_get(result_of(m), "isError")));
	ck_assert_ptr_nonnull(strstr(tool_text(result_of(m)), "did not answer"));
	json_decref(m);
	/* An answer that comes too late goes nowhere. */
	snprintf(line, sizeof(line),
		 "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"action\":\"accept\",\"content\":{"
		 "\"approve\":true}}}",
		 (long long)json_integer_value(json_object_get(req, "id")));
	put(&f, line);
	json_decref(req);
	/* Answered yes: it runs. */
	call_line(line, sizeof(line), "3", "print(\\\"ran\\\")", NULL);
	put(&f, line);
	req = next_msg(&f, 5000);
	snprintf(line, sizeof(line),
		 "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"action\":\"accept\",\"content\":{"
		 "\"approve\":true}}}",
		 (long long)json_integer_value(json_object_get(req, "id")));
	put(&f, line);
	json_decref(req);
	m = response(&f, "3", 30000, NULL);
	ck_assert_str_eq(tool_text(result_of(m)), "ran\n");
	json_decref(m);
	/* Answered with an error: denied. */
	call_line(line, sizeof(line), "4", "print(\\\"ran\\\")", NULL);
	put(&f, line);
	req = next_msg(&f, 5000);
	snprintf(line, sizeof(line),
		 "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"error\":{\"code\":-32603,\"message\":\"no "
		 "screen\"}}",
		 (long long)json_integer_value(json_object_get(req, "id")));
	put(&f, line);
	json_decref(req);
	m = response(&f, "4", 5000, NULL);
	ck_assert_ptr_nonnull(strstr(tool_text(result_of(m)), "no screen"));
	json_decref(m);
	stdio_end(&f, 10000);
	fx_teardown(&f);
}
END_TEST

START_TEST(stdio_reload_tells_clients)
{
	struct cact_mcp_server_options o;
	struct cact_error err = {0};
	struct fx f;
	json_t *m;
	char *path;

	cact_mcp_server_options_init(&o);
	o.expose_tools = 1;
	fx_setup(&f, NULL, &o);
	stdio_start(&f);
	stdio_init(&f, "2025-11-25", NULL);
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
	m = response(&f, "1", 5000, NULL);
	ck_assert_int_eq(json_array_size(json_object_get(result_of(m), "tools")), 4);
	json_decref(m);
	path = fmt("%s/cact.json", f.dir);
	t_write(f.dir, "cact.json",
		"{\"tools\":[{\"name\":\"only\",\"description\":\"The one tool.\",\"command\":"
		"[\"cat\"]}]}");
	ck_assert_msg(cact_mcp_server_reload(f.srv, path, &err) == 0, "%s", err.message);
	m = next_msg(&f, 5000);
	ck_assert_str_eq(json_string_value(json_object_get(m, "method")),
			 "notifications/tools/list_changed");
	json_decref(m);
	put(&f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
	m = response(&f, "2", 5000, NULL);
	ck_assert_int_eq(json_array_size(json_object_get(result_of(m), "tools")), 2);
	ck_assert_str_eq(
		json_string_value(json_object_get(
			json_array_get(json_object_get(result_of(m), "tools"), 1), "name")),
		"only");
	json_decref(m);
	/* A bad file changes nothing and tells nobody. */
	t_write(f.dir, "cact.json", "{\"tools\": 5}");
	ck_assert_int_eq(cact_mcp_server_reload(f.srv, path, &err), CACT_EINVAL);
	ck_assert(next_msg(&f, 300) == NULL);
	free(path);
	stdio_end(&f, 10000);
	fx_teardown(&f);
}
END_TEST

/* ---- HTTP, in this process ---- */

static void *http_main(void *arg)
{
	struct fx *f = arg;

	f->rc = cact_mcp_serve_http(f->srv, "127.0.0.1", 0, f->stop_fd, &f->port, &f->err);
	return NULL;
}

static void http_start(struct fx *f)
{
	uint64_t until = now_ms() + 10000;

	f->stop_fd = eventfd(0, EFD_CLOEXEC);
	ck_assert(f->stop_fd >= 0);
	ck_assert_int_eq(pthread_create(&f->th, NULL, http_main, f), 0);
	f->serving = 1;
	while (!__atomic_load_n(&f->port, __ATOMIC_ACQUIRE) && now_ms() < until)
		sleep_ms(10);
	ck_assert_msg(f->port != 0, "the server did not listen: %s", f->err.message);
}

static void http_stop(struct fx *f)
{
	uint64_t one = 1;

	ck_assert_int_eq(write(f->stop_fd, &one, sizeof(one)), 8);
	pthread_join(f->th, NULL);
	f->serving = 0;
	ck_assert_msg(f->rc == 0, "cact_mcp_serve_http: %s", f->err.message);
	close(f->stop_fd);
	f->stop_fd = -1;
}

struct hres {
	long status;
	char *body;
	size_t len;
	char *head;
	size_t head_len;
	CURLcode rc;
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

/* A header of the response (case-insensitive name), owned, or NULL. */
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

enum { H_DEFAULT = 0, H_BARE = 1 };

/*
 * One request. headers: NULL-terminated "Name: value" lines, on top of the
 * MCP ones (JSON body, both Accept types, the session) unless H_BARE.
 */
static struct hres hreq(struct fx *f, const char *method, const char *path, const char *sid,
			const char *body, const char *const *headers, int flags, long timeout_ms)
{
	struct curl_slist *h = NULL;
	struct hres r = {0};
	CURL *c = curl_easy_init();
	char *url = fmt("http://127.0.0.1:%u%s", f->port, path), *s = NULL;
	size_t i;

	ck_assert(c != NULL);
	if (!(flags & H_BARE)) {
		h = curl_slist_append(h, "Content-Type: application/json");
		h = curl_slist_append(h, "Accept: application/json, text/event-stream");
	}
	if (sid) {
		s = fmt("Mcp-Session-Id: %s", sid);
		h = curl_slist_append(h, s);
	}
	for (i = 0; headers && headers[i]; i++)
		h = curl_slist_append(h, headers[i]);
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
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	r.rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	free(url);
	free(s);
	if (!r.body)
		r.body = calloc(1, 1);
	return r;
}

static struct hres post(struct fx *f, const char *sid, const char *body)
{
	return hreq(f, "POST", "/mcp", sid, body, NULL, H_DEFAULT, 30000);
}

#define assert_status(r, want) assert_status_at((r), (want), __LINE__)
static void assert_status_at(const struct hres *r, long want, int line)
{
	ck_assert_msg(r->status == want, "line %d: HTTP %ld, expected %ld (curl %d): %s", line,
		      r->status, want, (int)r->rc, r->body);
}

/* The JSON-RPC message of a response: its JSON body, or an SSE stream's last response. */
static json_t *message_of(const struct hres *r)
{
	char *type = resp_header(r, "Content-Type");
	json_t *last = NULL;
	const char *p;

	ck_assert_msg(type != NULL, "no Content-Type: %s", r->head);
	if (strncmp(type, "application/json", 16) == 0) {
		free(type);
		return parse(r->body);
	}
	ck_assert_msg(strncmp(type, "text/event-stream", 17) == 0, "Content-Type %s", type);
	free(type);
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
	return last;
}

static const char init_body[] =
	"{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
	"\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";

/* A new session: initialize, then initialized. Its id, owned. */
static char *http_session(struct fx *f)
{
	struct hres r = post(f, NULL, init_body);
	char *sid;
	json_t *m;

	assert_status(&r, 200);
	sid = resp_header(&r, "Mcp-Session-Id");
	ck_assert_msg(sid && strlen(sid) == 64, "session id: %s", r.head);
	m = message_of(&r);
	ck_assert_str_eq(json_string_value(json_object_get(result_of(m), "protocolVersion")),
			 "2025-11-25");
	json_decref(m);
	hres_free(&r);
	r = post(f, sid, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
	assert_status(&r, 202);
	ck_assert_uint_eq(r.len, 0);
	hres_free(&r);
	return sid;
}

START_TEST(http_accept_and_content_type)
{
	const char *json_only[] = {"Accept: application/json", "Content-Type: application/json",
				   NULL};
	const char *sse_only[] = {"Accept: text/event-stream", "Content-Type: application/json",
				  NULL};
	const char *text_body[] = {"Accept: application/json, text/event-stream",
				   "Content-Type: text/plain", NULL};
	const char *get_json[] = {"Accept: application/json", NULL};
	struct hres r;
	struct fx f;
	char *sid;

	fx_setup(&f, NULL, NULL);
	http_start(&f);
	r = hreq(&f, "POST", "/mcp", NULL, init_body, json_only, H_BARE, 10000);
	assert_status(&r, 406);
	hres_free(&r);
	r = hreq(&f, "POST", "/mcp", NULL, init_body, sse_only, H_BARE, 10000);
	assert_status(&r, 406);
	hres_free(&r);
	r = hreq(&f, "POST", "/mcp", NULL, init_body, text_body, H_BARE, 10000);
	assert_status(&r, 415);
	hres_free(&r);
	sid = http_session(&f);
	r = hreq(&f, "GET", "/mcp", sid, NULL, get_json, H_BARE, 10000);
	assert_status(&r, 406);
	hres_free(&r);
	r = hreq(&f, "PUT", "/mcp", sid, "{}", NULL, H_DEFAULT, 10000);
	assert_status(&r, 405);
	hres_free(&r);
	r = hreq(&f, "POST", "/other", sid, init_body, NULL, H_DEFAULT, 10000);
	assert_status(&r, 404);
	hres_free(&r);
	free(sid);
	http_stop(&f);
	assert_no_leaks(&f);
	fx_teardown(&f);
}
END_TEST

START_TEST(http_sessions)
{
	const char *bad_version[] = {"MCP-Protocol-Version: 1999-01-01", NULL};
	const char *old_version[] = {"MCP-Protocol-Version: 2025-06-18", NULL};
	struct hres r;
	struct fx f;
	json_t *m;
	char *sid, *other;

	fx_setup(&f, NULL, NULL);
	http_start(&f);
	r = post(&f, NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
	assert_status(&r, 400);
	hres_free(&r);
	r = post(&f, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
	assert_status(&r, 404);
	hres_free(&r);
	sid = http_session(&f);
	other = http_session(&f);
	ck_assert_str_ne(sid, other);
	r = hreq(&f, "POST", "/mcp", sid,
		 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}", bad_version, H_DEFAULT,
		 10000);
	assert_status(&r, 400);
	hres_free(&r);
	r = hreq(&f, "POST", "/mcp", sid,
		 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}", old_version, H_DEFAULT,
		 10000);
	assert_status(&r, 200);
	m = message_of(&r);
	ck_assert_str_eq(
		json_string_value(json_object_get(
			json_array_get(json_object_get(result_of(m), "tools"), 0), "name")),
		"execute_code");
	json_decref(m);
	hres_free(&r);
	/* A second initialize in a session is refused by the session. */
	r = post(&f, sid, init_body);
	assert_status(&r, 200);
	assert_error(message_of(&r), "0", -32600);
	hres_free(&r);
	/* DELETE ends it; the other session lives on. */
	r = hreq(&f, "DELETE", "/mcp", sid, NULL, NULL, H_DEFAULT, 10000);
	assert_status(&r, 200);
	hres_free(&r);
	r = post(&f, sid, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}");
	assert_status(&r, 404);
	hres_free(&r);
	r = hreq(&f, "DELETE", "/mcp", sid, NULL, NULL, H_DEFAULT, 10000);
	assert_status(&r, 404);
	hres_free(&r);
	r = post(&f, other, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}");
	assert_status(&r, 200);
	hres_free(&r);
	/* A refused initialize makes no session. */
	r = post(&f, NULL,
		 "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{}}");
	assert_status(&r, 200);
	ck_assert_ptr_null(resp_header(&r, "Mcp-Session-Id"));
	assert_error(message_of(&r), "0", -32602);
	hres_free(&r);
	free(sid);
	free(other);
	http_stop(&f);
	assert_no_leaks(&f);
	fx_teardown(&f);
}
END_TEST

START_TEST(http_bad_messages)
{
	const char *chunked[] = {"Transfer-Encoding: chunked", NULL};
	struct cact_mcp_server_options o;
	struct hres r;
	struct fx f;
	char *sid, *big;

	cact_mcp_server_options_init(&o);
	o.max_message_bytes = 4096;
	fx_setup(&f, NULL, &o);
	http_start(&f);
	r = post(&f, NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,");
	assert_status(&r, 400);
	assert_error(message_of(&r), "null", -32700);
	hres_free(&r);
	r = post(&f, NULL,
		 "["
		 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}"
		 "]");
	assert_status(&r, 400);
	assert_error(message_of(&r), "null", -32600);
	hres_free(&r);
	sid = http_session(&f);
	r = post(&f, sid, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"nope\"}");
	assert_status(&r, 200);
	assert_error(message_of(&r), "3", -32601);
	hres_free(&r);
	r = post(&f, sid,
		 "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/"
		 "call\",\"params\":{\"name\":[]}}");
	assert_status(&r, 200);
	assert_error(message_of(&r), "4", -32602);
	hres_free(&r);
	big = calloc(1, 10001);
	memset(big, ' ', 10000);
	big[0] = '{';
	big[9999] = '}';
	r = post(&f, sid, big);
	assert_status(&r, 413);
	hres_free(&r);
	/* Without a length up front: read to the end, then refused. */
	r = hreq(&f, "POST", "/mcp", sid, big, chunked, H_DEFAULT, 10000);
	assert_status(&r, 413);
	hres_free(&r);
	free(big);
	/* Responses and notifications: 202, nothing back. */
	r = post(&f, sid, "{\"jsonrpc\":\"2.0\",\"id\":99,\"result\":{}}");
	assert_status(&r, 202);
	hres_free(&r);
	r = post(&f, sid, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/whatever\"}");
	assert_status(&r, 202);
	ck_assert_uint_eq(r.len, 0);
	hres_free(&r);
	free(sid);
	http_stop(&f);
	assert_no_leaks(&f);
	fx_teardown(&f);
}
END_TEST

START_TEST(http_origin_and_host)
{
	const char *evil_origin[] = {"Origin: http://evil.example.com", NULL};
	const char *null_origin[] = {"Origin: null", NULL};
	const char *local_origin[] = {"Origin: http://localhost:5173", NULL};
	const char *allowed[] = {"Origin: https://app.example.com", NULL};
	const char *allowed_list[] = {"https://app.example.com/"};
	struct cact_mcp_server_options o;
	char *evil_host[] = {"Host: evil.example.com", NULL, NULL};
	struct hres r;
	struct fx f;
	char *acao;

	cact_mcp_server_options_init(&o);
	o.allowed_origins = allowed_list;
	o.n_allowed_origins = 1;
	fx_setup(&f, NULL, &o);
	http_start(&f);
	r = hreq(&f, "POST", "/mcp", NULL, init_body, evil_origin, H_DEFAULT, 10000);
	assert_status(&r, 403);
	hres_free(&r);
	r = hreq(&f, "POST", "/mcp", NULL, init_body, null_origin, H_DEFAULT, 10000);
	assert_status(&r, 403);
	hres_free(&r);
	r = hreq(&f, "POST", "/mcp", NULL, init_body, local_origin, H_DEFAULT, 10000);
	assert_status(&r, 200);
	hres_free(&r);
	r = hreq(&f, "POST", "/mcp", NULL, init_body, allowed, H_DEFAULT, 10000);
	assert_status(&r, 200);
	acao = resp_header(&r, "Access-Control-Allow-Origin");
	ck_assert_str_eq(acao, "https://app.example.com");
	free(acao);
	hres_free(&r);
	r = hreq(&f, "OPTIONS", "/mcp", NULL, NULL, allowed, H_BARE, 10000);
	assert_status(&r, 204);
	hres_free(&r);
	/* Rebinding: a name that resolved to us, but is not ours. */
	r = hreq(&f, "POST", "/mcp", NULL, init_body, (const char *const *)evil_host, H_DEFAULT,
		 10000);
	assert_status(&r, 403);
	hres_free(&r);
	evil_host[0] = fmt("Host: localhost:%u", f.port + 1);
	r = hreq(&f, "POST", "/mcp", NULL, init_body, (const char *const *)evil_host, H_DEFAULT,
		 10000);
	assert_status(&r, 403);
	hres_free(&r);
	free(evil_host[0]);
	evil_host[0] = fmt("Host: localhost:%u", f.port);
	r = hreq(&f, "POST", "/mcp", NULL, init_body, (const char *const *)evil_host, H_DEFAULT,
		 10000);
	assert_status(&r, 200);
	hres_free(&r);
	free(evil_host[0]);
	http_stop(&f);
	assert_no_leaks(&f);
	fx_teardown(&f);
}
END_TEST

START_TEST(http_token)
{
	const char *wrong[] = {"Authorization: Bearer nope", NULL};
	const char *right[] = {"Authorization: Bearer s3cret-t0ken", NULL};
	struct cact_mcp_server_options o;
	struct cact_mcp_server *s = NULL;
	struct cact_codeact *cc = NULL;
	struct cact_error err = {0};
	struct hres r;
	struct fx f;
	char *www;

	cact_mcp_server_options_init(&o);
	o.token_env = "CACT_TEST_MCP_TOKEN";
	unsetenv("CACT_TEST_MCP_TOKEN");
	ck_assert_int_eq(cact_codeact_new(NULL, &cc, &err), 0);
	ck_assert_int_eq(cact_mcp_server_new(cc, &o, &s, &err), CACT_EINVAL);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(strstr(err.message, "CACT_TEST_MCP_TOKEN"));
	cact_codeact_free(cc);
	setenv("CACT_TEST_MCP_TOKEN", "s3cret-t0ken", 1);
	fx_setup(&f, NULL, &o);
	http_start(&f);
	r = post(&f, NULL, init_body);
	assert_status(&r, 401);
	www = resp_header(&r, "WWW-Authenticate");
	ck_assert_msg(www && strncmp(www, "Bearer", 6) == 0, "WWW-Authenticate: %s", www);
	free(www);
	hres_free(&r);
	r = hreq(&f, "POST", "/mcp", NULL, init_body, wrong, H_DEFAULT, 10000);
	assert_status(&r, 401);
	hres_free(&r);
	r = hreq(&f, "POST", "/mcp", NULL, init_body, right, H_DEFAULT, 10000);
	assert_status(&r, 200);
	ck_assert_ptr_null(strstr(r.body, "s3cret"));
	hres_free(&r);
	http_stop(&f);
	fx_teardown(&f);
}
END_TEST

struct bg_call {
	struct fx *f;
	const char *sid;
	char *body;
	long timeout_ms;
	struct hres r;
	pthread_t th;
};

static void *bg_main(void *arg)
{
	struct bg_call *b = arg;

	b->r = hreq(b->f, "POST", "/mcp", b->sid, b->body, NULL, H_DEFAULT, b->timeout_ms);
	return NULL;
}

static void bg_start(struct bg_call *b, struct fx *f, const char *sid, const char *id,
		     const char *code, const char *meta, long timeout_ms)
{
	char line[1024];

	call_line(line, sizeof(line), id, code, meta);
	memset(b, 0, sizeof(*b));
	b->f = f;
	b->sid = sid;
	b->body = strdup(line);
	b->timeout_ms = timeout_ms;
	ck_assert_int_eq(pthread_create(&b->th, NULL, bg_main, b), 0);
}

static void bg_join(struct bg_call *b)
{
	pthread_join(b->th, NULL);
	free(b->body);
}

START_TEST(http_cancel_running_call)
{
	struct bg_call b;
	struct hres r;
	uint64_t t0;
	struct fx f;
	char *sid;

	fx_setup(&f, NULL, NULL);
	http_start(&f);
	sid = http_session(&f);
	bg_start(&b, &f, sid, "\"long\"", tick_loop, "{\"progressToken\":1}", 60000);
	wait_ticks(&f, 3);
	t0 = now_ms();
	r = post(&f, sid,
		 "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{"
		 "\"requestId\":\"long\"}}");
	assert_status(&r, 202);
	hres_free(&r);
	bg_join(&b);
	ck_assert_msg(now_ms() - t0 < 10000, "the cancelled call's stream took %llu ms to end",
		      (unsigned long long)(now_ms() - t0));
	/* Its stream ends without a response. */
	assert_status(&b.r, 200);
	ck_assert_msg(b.r.rc == CURLE_OK, "curl: %d", (int)b.r.rc);
	ck_assert_ptr_null(message_of(&b.r));
	hres_free(&b.r);
	assert_ticks_stop(&f);
	r = post(&f, sid, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}");
	assert_status(&r, 200);
	hres_free(&r);
	free(sid);
	http_stop(&f);
	assert_no_leaks(&f);
	fx_teardown(&f);
}
END_TEST

/* The client hangs up while its call runs, waiting for a JSON answer or on an SSE stream. */
static void disconnect_case(const char *meta)
{
	struct bg_call b;
	struct hres r;
	struct fx f;
	char *sid;
	json_t *m;

	fx_setup(&f, NULL, NULL);
	http_start(&f);
	sid = http_session(&f);
	bg_start(&b, &f, sid, "1", tick_loop, meta, 2500);
	bg_join(&b);
	ck_assert_int_eq(b.r.rc, CURLE_OPERATION_TIMEDOUT);
	hres_free(&b.r);
	ck_assert_int_gt(file_size(f.ticks), 0);
	assert_ticks_stop(&f);
	assert_procs_idle(&f, 10000);
	/* The session is still there, and works. */
	bg_start(&b, &f, sid, "2", "print(6*7)", NULL, 30000);
	bg_join(&b);
	assert_status(&b.r, 200);
	m = message_of(&b.r);
	ck_assert_str_eq(tool_text(result_of(m)), "42\n");
	json_decref(m);
	hres_free(&b.r);
	r = hreq(&f, "DELETE", "/mcp", sid, NULL, NULL, H_DEFAULT, 10000);
	assert_status(&r, 200);
	hres_free(&r);
	free(sid);
	http_stop(&f);
	assert_no_leaks(&f);
	fx_teardown(&f);
}

START_TEST(http_disconnect_mid_call)
{
	disconnect_case(NULL);
}
END_TEST

START_TEST(http_disconnect_mid_stream)
{
	disconnect_case("{\"progressToken\":\"p\"}");
}
END_TEST

START_TEST(http_delete_stops_calls)
{
	struct bg_call b;
	struct hres r;
	struct fx f;
	char *sid;

	fx_setup(&f, NULL, NULL);
	http_start(&f);
	sid = http_session(&f);
	bg_start(&b, &f, sid, "1", tick_loop, NULL, 60000);
	wait_ticks(&f, 3);
	r = hreq(&f, "DELETE", "/mcp", sid, NULL, NULL, H_DEFAULT, 10000);
	assert_status(&r, 200);
	hres_free(&r);
	bg_join(&b);
	ck_assert_int_eq(b.r.rc, CURLE_OK);
	hres_free(&b.r);
	assert_ticks_stop(&f);
	/* Stopping the server with a call running stops it too. */
	free(sid);
	sid = http_session(&f);
	bg_start(&b, &f, sid, "2", tick_loop, NULL, 60000);
	wait_ticks(&f, file_size(f.ticks) + 3);
	http_stop(&f);
	bg_join(&b);
	hres_free(&b.r);
	assert_ticks_stop(&f);
	free(sid);
	assert_no_leaks(&f);
	fx_teardown(&f);
}
END_TEST

static size_t until_changed(char *p, size_t size, size_t n, void *user)
{
	struct hres *r = user;

	grow(&r->body, &r->len, p, size * n);
	return strstr(r->body, "list_changed") ? 0 : size * n; /* enough: hang up */
}

struct bg_get {
	struct fx *f;
	const char *sid;
	struct hres r;
	pthread_t th;
};

static void *get_main(void *arg)
{
	struct bg_get *g = arg;
	struct curl_slist *h = NULL;
	char *url = fmt("http://127.0.0.1:%u/mcp", g->f->port),
	     *s = fmt("Mcp-Session-Id: %s", g->sid);
	CURL *c = curl_easy_init();

	h = curl_slist_append(h, "Accept: text/event-stream");
	h = curl_slist_append(h, s);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, until_changed);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &g->r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_head);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &g->r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	g->r.rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g->r.status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	free(url);
	free(s);
	return NULL;
}

START_TEST(http_get_stream_list_changed)
{
	const char *sse[] = {"Accept: text/event-stream", NULL};
	struct bg_get g = {0};
	struct hres r;
	struct fx f;
	char *sid, *type;

	fx_setup(&f, NULL, NULL);
	http_start(&f);
	sid = http_session(&f);
	g.f = &f;
	g.sid = sid;
	ck_assert_int_eq(pthread_create(&g.th, NULL, get_main, &g), 0);
	sleep_ms(500);
	/* One GET stream per session. */
	r = hreq(&f, "GET", "/mcp", sid, NULL, sse, H_BARE, 5000);
	assert_status(&r, 409);
	hres_free(&r);
	cact_mcp_server_tools_changed(f.srv);
	pthread_join(g.th, NULL);
	ck_assert_int_eq(g.r.status, 200);
	type = resp_header(&g.r, "Content-Type");
	ck_assert_str_eq(type, "text/event-stream");
	free(type);
	ck_assert_ptr_nonnull(strstr(g.r.body, "data: {\"jsonrpc\":\"2.0\",\"method\":"
					       "\"notifications/tools/list_changed\"}"));
	hres_free(&g.r);
	/* Closed, it may be opened again. */
	memset(&g.r, 0, sizeof(g.r));
	sleep_ms(300);
	ck_assert_int_eq(pthread_create(&g.th, NULL, get_main, &g), 0);
	sleep_ms(500);
	cact_mcp_server_tools_changed(f.srv);
	pthread_join(g.th, NULL);
	ck_assert_ptr_nonnull(strstr(g.r.body, "list_changed"));
	hres_free(&g.r);
	free(sid);
	http_stop(&f);
	assert_no_leaks(&f);
	fx_teardown(&f);
}
END_TEST

/* ---- the command ---- */

struct child {
	pid_t pid;
	int in, out, err;
	char *out_buf, *err_buf;
	size_t out_len, err_len;
};

static void spawn_cact(struct child *c, const char *const *args)
{
	const char *bin = getenv("CACT_BIN");
	const char *argv[32] = {bin, "mcp"};
	posix_spawn_file_actions_t fa;
	int in[2], out[2], err[2];
	size_t n = 2, i;

	ck_assert_msg(bin != NULL, "CACT_BIN is not set");
	for (i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	memset(c, 0, sizeof(*c));
	ck_assert_int_eq(posix_spawn(&c->pid, bin, &fa, NULL, (char *const *)argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	c->in = in[1];
	c->out = out[0];
	c->err = err[0];
}

/* Reads what is there from fd into the buffer, waiting up to ms for the first bytes. */
static int pump(int fd, char **buf, size_t *len, unsigned ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char chunk[4096];
	ssize_t n;

	if (fd < 0 || poll(&p, 1, (int)ms) <= 0)
		return 0;
	n = read(fd, chunk, sizeof(chunk));
	if (n <= 0)
		return -1;
	grow(buf, len, chunk, (size_t)n);
	return 1;
}

/* Waits until the child's stream holds needle; 1 when found. */
static int wait_for(struct child *c, int err, const char *needle, unsigned ms)
{
	uint64_t until = now_ms() + ms;
	char **buf = err ? &c->err_buf : &c->out_buf;
	size_t *len = err ? &c->err_len : &c->out_len;

	while (!(*buf && strstr(*buf, needle)) && now_ms() < until)
		if (pump(err ? c->err : c->out, buf, len, 100) < 0)
			break;
	return *buf && strstr(*buf, needle);
}

static int reap(struct child *c, unsigned ms)
{
	uint64_t until = now_ms() + ms;
	int status;

	while (now_ms() < until) {
		pid_t p = waitpid(c->pid, &status, WNOHANG);

		if (p == c->pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		pump(c->err, &c->err_buf, &c->err_len, 20);
	}
	kill(c->pid, SIGKILL);
	waitpid(c->pid, &status, 0);
	return -1;
}

static void child_free(struct child *c)
{
	if (c->in >= 0)
		close(c->in);
	close(c->out);
	close(c->err);
	free(c->out_buf);
	free(c->err_buf);
}

/* The first child of pid that any of its threads started, or -1. */
static pid_t child_of(pid_t pid)
{
	char path[320];
	struct dirent *d;
	DIR *dir;
	int kid = -1;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	while (dir && kid < 0 && (d = readdir(dir))) {
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/children", (int)pid, d->d_name);
		f = fopen(path, "r");
		if (f) {
			if (fscanf(f, "%d", &kid) != 1)
				kid = -1;
			fclose(f);
		}
	}
	if (dir)
		closedir(dir);
	return kid;
}

/* The zygote of the cact process pid: the child of its guest helper. */
static pid_t zygote_below(pid_t pid)
{
	pid_t outer = child_of(pid);

	return outer > 0 ? child_of(outer) : -1;
}

START_TEST(cli_exits_when_runtime_gives_up)
{
	/*
	 * Killing the zygote is logged and survived; killed five times within
	 * a minute, the runtime gives up and cact mcp exits non-zero, so that
	 * a supervisor restarts it.
	 */
	struct child c;
	uint64_t until = now_ms() + 90000;
	int kills = 0, rc;

	static const char ping[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n";

	spawn_cact(&c, (const char *const[]){NULL});
	/* An answer means the runtime is up (cact mcp starts it before serving). */
	ck_assert_int_eq(write(c.in, ping, sizeof(ping) - 1), (ssize_t)sizeof(ping) - 1);
	ck_assert_msg(wait_for(&c, 0, "\"result\"", 60000), "no answer to ping");
	while (kills < 5 && now_ms() < until) {
		pid_t z = zygote_below(c.pid);
		char want[64];

		pump(c.err, &c.err_buf, &c.err_len, 50);
		if (z <= 0 || kill(z, SIGKILL))
			continue;
		kills++;
		snprintf(want, sizeof(want), kills < 5 ? "restart %d)" : "gave up", kills);
		ck_assert_msg(wait_for(&c, 1, want, 30000), "after kill %d, stderr: %s", kills,
			      c.err_buf ? c.err_buf : "");
	}
	ck_assert_int_eq(kills, 5);
	rc = reap(&c, 30000);
	ck_assert_msg(rc == 3, "exit status %d, stderr: %s", rc, c.err_buf ? c.err_buf : "");
	ck_assert_ptr_nonnull(strstr(c.err_buf, "zygote was lost"));
	ck_assert_ptr_nonnull(strstr(c.err_buf, "restart cact mcp"));
	child_free(&c);
}
END_TEST

START_TEST(cli_usage_errors)
{
	char *out = NULL, *err = NULL;
	int rc;

	rc = t_cli((const char *const[]){"mcp", "--token-env", "X", NULL}, NULL, &out, &err);
	ck_assert_msg(rc == 2 && strstr(err, "--http only"), "%d %s", rc, err);
	free(out);
	free(err);
	rc = t_cli((const char *const[]){"mcp", "--http", "localhost:port", NULL}, NULL, &out,
		   &err);
	ck_assert_msg(rc == 2 && strstr(err, "--http"), "%d %s", rc, err);
	free(out);
	free(err);
	rc = t_cli((const char *const[]){"mcp", "--http", "::1:80", NULL}, NULL, &out, &err);
	ck_assert_msg(rc == 2, "%d %s", rc, err);
	free(out);
	free(err);
	rc = t_cli((const char *const[]){"mcp", "stray", NULL}, NULL, &out, &err);
	ck_assert_msg(rc == 2 && strstr(err, "stray"), "%d %s", rc, err);
	free(out);
	free(err);
	rc = t_cli((const char *const[]){"mcp", "--config", "/nonexistent/cact.json", NULL}, NULL,
		   &out, &err);
	ck_assert_msg(rc == 2 && strstr(err, "/nonexistent/cact.json"), "%d %s", rc, err);
	free(out);
	free(err);
	rc = t_cli((const char *const[]){"mcp", "--help", NULL}, NULL, &out, &err);
	ck_assert_msg(rc == 0 && strstr(out, "--token-env"), "%d %s", rc, out);
	free(out);
	free(err);
	/* stdio: end of input is the end. */
	rc = t_cli((const char *const[]){"mcp", NULL},
		   "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n", &out, &err);
	ck_assert_msg(rc == 0, "%d %s", rc, err);
	ck_assert_str_eq(out, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n");
	free(out);
	free(err);
}
END_TEST

START_TEST(cli_http_sigterm)
{
	struct child c;
	struct fx f = {0};
	const char *p;
	struct hres r;
	json_t *m;

	spawn_cact(&c, (const char *const[]){"--http", "127.0.0.1:0", NULL});
	ck_assert_msg(wait_for(&c, 1, "/mcp\n", 20000), "no URL: %s", c.err_buf);
	p = strstr(c.err_buf, "http://127.0.0.1:");
	ck_assert_ptr_nonnull(p);
	f.port = (unsigned)strtoul(p + 17, NULL, 10);
	r = post(&f, NULL, init_body);
	assert_status(&r, 200);
	m = message_of(&r);
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_object_get(result_of(m), "serverInfo"), "name")),
			 "cact");
	json_decref(m);
	hres_free(&r);
	kill(c.pid, SIGTERM);
	ck_assert_int_eq(reap(&c, 10000), 0);
	child_free(&c);
}
END_TEST

START_TEST(cli_stdio_sighup_and_sigterm)
{
	char *dir = t_tmpdir(), *cfg = fmt("%s/cact.json", dir);
	struct child c;

	t_write(dir, "cact.json", "{\"tools\":[{\"name\":\"a\",\"command\":[\"cat\"]}]}");
	spawn_cact(&c, (const char *const[]){"--config", cfg, "--expose-tools", "--drain-timeout",
					     "0", NULL});
	dprintf(c.in, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
		      "\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{"
		      "\"name\":\"t\",\"version\":\"1\"}}}\n");
	ck_assert_msg(wait_for(&c, 0, "\"id\":1,", 20000), "no answer: %s", c.err_buf);
	t_write(dir, "cact.json",
		"{\"tools\":[{\"name\":\"a\",\"command\":[\"cat\"]},{\"name\":\"b\",\"command\":"
		"[\"cat\"]}]}");
	kill(c.pid, SIGHUP);
	ck_assert_msg(wait_for(&c, 0, "notifications/tools/list_changed", 10000), "out: %s",
		      c.out_buf);
	dprintf(c.in, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}\n");
	ck_assert_msg(wait_for(&c, 0, "\"name\":\"b\"", 10000), "out: %s", c.out_buf);
	/*
	 * A long execution, then SIGTERM with no drain grace (--drain-timeout
	 * 0): it stops at once, is answered with why, and cact stops cleanly.
	 */
	dprintf(c.in, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{"
		      "\"name\":\"execute_code\",\"arguments\":{\"code\":\"import "
		      "time\\ntime.sleep(60)\"}}}\n");
	sleep_ms(1000);
	kill(c.pid, SIGTERM);
	ck_assert_int_eq(reap(&c, 10000), 0);
	ck_assert_msg(wait_for(&c, 0, "drain grace period", 5000) && strstr(c.out_buf, "\"id\":3,"),
		      "out: %s", c.out_buf ? c.out_buf : "");
	child_free(&c);
	t_rmtree(dir);
	free(dir);
	free(cfg);
}
END_TEST

int main(int argc, char **argv)
{
	const struct t_case cases[] = {
		T_CASE(stdio_malformed_json, 60),
		T_CASE(stdio_batch_refused, 60),
		T_CASE(stdio_before_initialize, 60),
		T_CASE(stdio_unknown_method, 60),
		T_CASE(stdio_invalid_params, 60),
		T_CASE(stdio_oversize_message, 60),
		T_CASE(stdio_versions_and_tools, 60),
		T_CASE(stdio_duplicate_id_and_cap, 90),
		T_CASE(stdio_cancel_running_call, 90),
		T_CASE(stdio_disconnect_mid_call, 90),
		T_CASE(stdio_progress_and_logging, 60),
		T_CASE(stdio_live_output, 60),
		T_CASE(stdio_live_output_sessions, 60),
		T_CASE(stdio_approval, 60),
		T_CASE(stdio_reload_tells_clients, 60),
		T_CASE(http_accept_and_content_type, 60),
		T_CASE(http_sessions, 60),
		T_CASE(http_bad_messages, 60),
		T_CASE(http_origin_and_host, 60),
		T_CASE(http_token, 60),
		T_CASE(http_cancel_running_call, 90),
		T_CASE(http_disconnect_mid_call, 90),
		T_CASE(http_disconnect_mid_stream, 90),
		T_CASE(http_delete_stops_calls, 90),
		T_CASE(http_get_stream_list_changed, 60),
		T_CASE(cli_exits_when_runtime_gives_up, 180),
		T_CASE(cli_usage_errors, 60),
		T_CASE(cli_http_sigterm, 60),
		T_CASE(cli_stdio_sighup_and_sigterm, 60),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return t_main("mcp_server", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
