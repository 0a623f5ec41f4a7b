/* SPDX-License-Identifier: MIT */
/*
 * The MCP client, end to end: tools of real MCP servers called from
 * sandboxed code (the reference memory, filesystem and everything servers,
 * over stdio and Streamable HTTP), the configuration file and the command
 * line, and a scripted server (fake_server.py) that misbehaves on purpose:
 * malformed lines, death in the middle of a call, silence, floods,
 * oversize messages, answers to the wrong id.
 *
 * The reference servers are npm packages in tests/peers (scripts/install-deps);
 * a case that needs them exits 77 (skipped, with the reason) when they or
 * node are missing.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "../common.h"

#define PYTHON "/usr/bin/python3"
#define MCP    "tests/peers/node_modules/@modelcontextprotocol/"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define CLI(in, out, err, ...) t_cli((const char *const[]){__VA_ARGS__, NULL}, (in), (out), (err))

/* def t(tool, **kw): prints "ok <repr>" or "<Exception>: <message>". */
#define PY_T                                                 \
	"def t(tool, **kw):\n"                               \
	"    try:\n"                                         \
	"        print('ok', repr(call_tool(tool, **kw)))\n" \
	"    except Exception as e:\n"                       \
	"        print(type(e).__name__ + ':', e)\n"

/* ---- helpers ---- */

static const char *root(void)
{
	const char *r = getenv("CACT_SOURCE_ROOT");

	ck_assert_msg(r != NULL, "CACT_SOURCE_ROOT is not set");
	return r;
}

/* A path under the source root; static storage, one of four at a time. */
static const char *src(const char *rel)
{
	static char buf[4][PATH_MAX];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", root(), rel);
	return buf[i];
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* A whole file (procfs too), owned; "" when it cannot be read. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	size_t len = 0, cap = 4096, n;
	char *buf = malloc(cap + 1);

	ck_assert(buf != NULL);
	while (f && (n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			ck_assert(buf != NULL);
		}
	}
	if (f)
		fclose(f);
	buf[len] = '\0';
	return buf;
}

/* A CodeAct configuration on a fresh runtime. */
struct fx {
	struct cact_runtime *rt;
	struct cact_codeact *cc;
	char *dir; /* a scratch folder */
};

static void fx_init(struct fx *f)
{
	struct cact_error err = {0};

	f->rt = t_runtime();
	ck_assert_msg(cact_codeact_new(f->rt, &f->cc, &err) == 0, "%s", err.message);
	f->dir = t_tmpdir();
}

static void fx_free(struct fx *f)
{
	cact_codeact_free(f->cc);
	cact_runtime_free(f->rt);
	t_rmtree(f->dir);
	free(f->dir);
}

static void add_server(struct cact_codeact *cc, const struct cact_mcp_client_options *o)
{
	struct cact_error err = {0};
	int rc = cact_codeact_add_mcp_server(cc, o, &err);

	ck_assert_msg(rc == 0, "cact_codeact_add_mcp_server: %s", err.message);
}

/* Runs code (with PY_T in front) and returns its stdout; status must be ok. */
static struct cact_result *run(struct cact_codeact *cc, const char *code, unsigned timeout_ms)
{
	struct cact_result *res = NULL;
	struct cact_error err = {0};
	char *full;
	int rc;

	if (timeout_ms)
		ck_assert_int_eq(
			cact_codeact_set_limit(cc, CACT_LIMIT_TIMEOUT_MS, timeout_ms, &err), 0);
	ck_assert(asprintf(&full, "%s%s", PY_T, code) > 0);
	rc = cact_codeact_execute(cc, full, strlen(full), &res, &err);
	free(full);
	ck_assert_msg(rc == 0, "cact_codeact_execute: %s", err.message);
	return res;
}

#define assert_has(hay, needle) assert_has_at((hay), (needle), __LINE__)
static void assert_has_at(const char *hay, const char *needle, int line)
{
	ck_assert_msg(strstr(hay, needle) != NULL, "line %d: '%s' not in:\n%.3000s", line, needle,
		      hay);
}

/* The fake server's argv: python3, the script, then the given arguments. */
static void fake_argv(const char **argv, size_t max, const char *const *extra)
{
	size_t n = 0;

	argv[n++] = PYTHON;
	argv[n++] = src("tests/mcp/fake_server.py");
	while (extra && *extra && n < max - 1)
		argv[n++] = *extra++;
	argv[n] = NULL;
}

static void fake_opts(struct cact_mcp_client_options *o, const char **argv, size_t max,
		      const char *const *extra)
{
	cact_mcp_client_options_init(o);
	fake_argv(argv, max, extra);
	o->name = "f";
	o->argv = argv;
}

/* The file's text once it holds needle (the server writes it in its own time), up to 10 s. */
static char *await_text(const char *path, const char *needle)
{
	uint64_t until = now_ms() + 10000;
	char *text = slurp(path);

	while (!strstr(text, needle) && now_ms() < until) {
		free(text);
		sleep_ms(50);
		text = slurp(path);
	}
	return text;
}

static long vm_hwm_kib(void)
{
	char *s = slurp("/proc/self/status"), *p = strstr(s, "VmHWM:");
	long v = p ? strtol(p + 6, NULL, 10) : -1;

	free(s);
	return v;
}

/* ---- Streamable HTTP peer: server-everything in its streamableHttp mode ---- */

struct http_peer {
	pid_t pid;
	unsigned port;
	char log[PATH_MAX];
	char url[128];
};

static unsigned free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert(s >= 0);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &len), 0);
	close(s);
	return ntohs(a.sin_port);
}

static int can_connect(unsigned port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

	ok = s >= 0 && connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (s >= 0)
		close(s);
	return ok;
}

static void http_start(struct http_peer *h, const char *dir)
{
	const char *script = src(MCP "server-everything/dist/index.js");
	uint64_t until;
	char port[16];

	h->port = free_port();
	snprintf(port, sizeof(port), "%u", h->port);
	snprintf(h->log, sizeof(h->log), "%s/everything-http.log", dir);
	snprintf(h->url, sizeof(h->url), "http://127.0.0.1:%u/mcp", h->port);
	h->pid = fork();
	ck_assert(h->pid >= 0);
	if (h->pid == 0) {
		int fd = open(h->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		/* Gone with the test, whatever way the test ends. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setpgid(0, 0);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		setenv("PORT", port, 1);
		execlp("node", "node", script, "streamableHttp", (char *)NULL);
		_exit(127);
	}
	for (until = now_ms() + 20000; now_ms() < until; sleep_ms(100)) {
		if (can_connect(h->port))
			return;
		if (waitpid(h->pid, NULL, WNOHANG) == h->pid)
			break;
	}
	ck_abort_msg("server-everything did not listen on %u:\n%s", h->port, slurp(h->log));
}

static void http_stop(struct http_peer *h)
{
	if (h->pid > 0) {
		kill(-h->pid, SIGKILL);
		kill(h->pid, SIGKILL);
		waitpid(h->pid, NULL, 0);
		h->pid = -1;
	}
}

/* ---- Streamable HTTP, scripted: fake_http_server.py ---- */

struct http_fake {
	pid_t pid;
	char url[128];
	char log[PATH_MAX];
};

static void http_fake_start(struct http_fake *h, const char *dir)
{
	const char *script = src("tests/mcp/fake_http_server.py");
	char line[64] = "";
	size_t used = 0;
	uint64_t until;
	int p[2];
	unsigned port = 0;

	snprintf(h->log, sizeof(h->log), "%s/http.log", dir);
	ck_assert_int_eq(pipe(p), 0);
	h->pid = fork();
	ck_assert(h->pid >= 0);
	if (h->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setpgid(0, 0);
		if (dup2(p[1], 1) < 0)
			_exit(126);
		close(p[0]);
		execl(PYTHON, PYTHON, script, h->log, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	for (until = now_ms() + 10000; now_ms() < until && !strchr(line, '\n');) {
		struct pollfd f = {.fd = p[0], .events = POLLIN};
		ssize_t n;

		if (poll(&f, 1, 100) <= 0)
			continue;
		n = read(p[0], line + used, sizeof(line) - 1 - used);
		if (n <= 0)
			break;
		used += (size_t)n;
		line[used] = '\0';
	}
	close(p[0]);
	ck_assert_msg(sscanf(line, "port %u", &port) == 1, "fake_http_server.py said '%s'", line);
	snprintf(h->url, sizeof(h->url), "http://127.0.0.1:%u/mcp", port);
}

static void http_fake_stop(struct http_fake *h)
{
	if (h->pid > 0) {
		kill(-h->pid, SIGKILL);
		kill(h->pid, SIGKILL);
		waitpid(h->pid, NULL, 0);
		h->pid = -1;
	}
}

/* The log's lines as JSON objects (new reference). */
static json_t *http_log(const struct http_fake *h)
{
	char *text = slurp(h->log), *line, *save = NULL;
	json_t *all = json_array();

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		json_array_append_new(all, json_loads(line, 0, NULL));
	free(text);
	return all;
}

START_TEST(http_session_headers_and_expiry)
{
	const char *headers[] = {"X-Test: yes"};
	struct cact_mcp_client_options o;
	struct http_fake h = {.pid = -1};
	struct cact_result *r;
	json_t *log, *e;
	size_t i, inits = 0, deletes = 0;
	struct fx f;

	fx_init(&f);
	http_fake_start(&h, f.dir);
	cact_mcp_client_options_init(&o);
	o.name = "h";
	o.url = h.url;
	o.headers = headers;
	o.n_headers = 1;
	add_server(f.cc, &o);
	r = run(f.cc, "t('h.echo', text='one')\nt('h.expire')\nt('h.echo', text='two')\n", 30000);
	t_assert_status(r, CACT_STATUS_OK);
	/* The session ended on the server: cact started a new one and sent the call again. */
	assert_has(t_out(r), "ok 'one'\nok 'expired'\nok 'two'\n");
	cact_result_free(r);
	cact_codeact_clear_tools(f.cc);
	log = http_log(&h);
	json_array_foreach(log, i, e) {
		const char *verb = json_string_value(json_object_get(e, "verb"));
		const char *method = json_string_value(json_object_get(e, "method"));
		const char *session = json_string_value(json_object_get(e, "session"));

		if (strcmp(verb, "DELETE") == 0) {
			ck_assert_str_eq(session, "s-2");
			deletes++;
			continue;
		}
		ck_assert_str_eq(verb, "POST");
		ck_assert_str_eq(json_string_value(json_object_get(e, "x_test")), "yes");
		ck_assert_str_eq(json_string_value(json_object_get(e, "accept")),
				 "application/json, text/event-stream");
		if (method && strcmp(method, "initialize") == 0) {
			ck_assert_ptr_null(session);
			ck_assert(json_is_null(json_object_get(e, "version")));
			inits++;
			continue;
		}
		ck_assert_msg(session != NULL, "%s without a session", method ? method : "answer");
		ck_assert_str_eq(json_string_value(json_object_get(e, "version")), "2025-06-18");
	}
	ck_assert_uint_eq(inits, 2);
	ck_assert_uint_eq(deletes, 1);
	json_decref(log);
	http_fake_stop(&h);
	fx_free(&f);
}
END_TEST

START_TEST(http_streams_carry_requests_and_floods)
{
	struct cact_mcp_client_options o;
	struct http_fake h = {.pid = -1};
	struct cact_result *r;
	struct fx f;

	fx_init(&f);
	http_fake_start(&h, f.dir);
	cact_mcp_client_options_init(&o);
	o.name = "h";
	o.url = h.url;
	add_server(f.cc, &o);
	r = run(f.cc,
		"a = call_tool('h.asks')\n"
		"print('ping', a['p1'].get('result'))\n"
		"print('roots', a['r1']['error']['code'])\n"
		"t('h.flood', count=20000)\n"
		"t('h.json_mode')\n",
		60000);
	t_assert_status(r, CACT_STATUS_OK);
	/* Answered while the stream was open: the server waited for both. */
	assert_has(t_out(r), "ping {}\n");
	assert_has(t_out(r), "roots -32601\n");
	assert_has(t_out(r), "ok 'flooded'\n");
	assert_has(t_out(r), "ok [1, 2]\n");
	cact_result_free(r);
	cact_codeact_clear_tools(f.cc);
	http_fake_stop(&h);
	fx_free(&f);
}
END_TEST

START_TEST(http_failures)
{
	struct cact_mcp_client_options o;
	struct http_fake h = {.pid = -1};
	struct cact_result *r;
	struct fx f;

	fx_init(&f);
	http_fake_start(&h, f.dir);
	cact_mcp_client_options_init(&o);
	o.name = "h";
	o.url = h.url;
	o.max_message_bytes = 100000;
	add_server(f.cc, &o);
	r = run(f.cc,
		"t('h.big', bytes=50000)\n"
		"t('h.big', bytes=200000)\n"
		"t('h.fail500')\n"
		"t('h.text_plain')\n"
		"t('h.echo', text='still fine')\n",
		30000);
	t_assert_status(r, CACT_STATUS_OK);
	assert_has(t_out(r), "ok 'bbbb");
	assert_has(t_out(r), "RuntimeError: tool 'h.big' failed: mcp server h: sent a message "
			     "larger than 100000 bytes\n");
	assert_has(t_out(r), "RuntimeError: tool 'h.fail500' failed: mcp server h: tools/call "
			     "answered HTTP 500: it broke inside\n");
	assert_has(t_out(r), "RuntimeError: tool 'h.text_plain' failed: mcp server h: answered "
			     "tools/call with \"text/plain\", neither JSON nor an event stream\n");
	assert_has(t_out(r), "ok 'still fine'\n");
	cact_result_free(r);
	cact_codeact_clear_tools(f.cc);
	http_fake_stop(&h);
	fx_free(&f);
}
END_TEST

START_TEST(config_http_server)
{
	struct http_fake h = {.pid = -1};
	struct cact_error err = {0};
	struct cact_result *r;
	char conf[1024], path[PATH_MAX + 16], *log;
	struct fx f;

	fx_init(&f);
	http_fake_start(&h, f.dir);
	snprintf(conf, sizeof(conf),
		 "{\"mcp_servers\": {\"web\": {\"url\": \"%s\", \"headers\": {\"X-Test\": "
		 "\"from the file\"}, \"tools\": {\"json_mode\": {\"approval_mode\": "
		 "\"always_require\"}}}}}",
		 h.url);
	t_write(f.dir, "cact.json", conf);
	snprintf(path, sizeof(path), "%s/cact.json", f.dir);
	ck_assert_msg(cact_codeact_load_config(f.cc, path, &err) == 0, "%s", err.message);
	ck_assert_int_eq(cact_codeact_approval(f.cc), CACT_APPROVAL_ALWAYS_REQUIRE);
	r = run(f.cc, "t('web.echo', text='configured')\n", 30000);
	t_assert_status(r, CACT_STATUS_OK);
	assert_has(t_out(r), "ok 'configured'\n");
	cact_result_free(r);
	log = slurp(h.log);
	assert_has(log, "\"x_test\": \"from the file\"");
	free(log);
	cact_codeact_clear_tools(f.cc);
	http_fake_stop(&h);
	fx_free(&f);
}
END_TEST

/* ---- the reference servers, over stdio ---- */

START_TEST(memory_graph_round_trip)
{
	const char *argv[] = {"node", src(MCP "server-memory/dist/index.js"), NULL};
	struct cact_mcp_client_options o;
	struct cact_result *r;
	char env[PATH_MAX + 32], file[PATH_MAX];
	const char *envs[1];
	struct fx f;
	char *saved;

	fx_init(&f);
	snprintf(file, sizeof(file), "%s/memory.jsonl", f.dir);
	snprintf(env, sizeof(env), "MEMORY_FILE_PATH=%s", file);
	envs[0] = env;
	cact_mcp_client_options_init(&o);
	o.name = "memory";
	o.argv = argv;
	o.env = envs;
	o.n_env = 1;
	add_server(f.cc, &o);
	r = run(f.cc,
		"call_tool('memory.create_entities', entities=[\n"
		"    {'name': 'Ada', 'entityType': 'person', 'observations': ['wrote notes']},\n"
		"    {'name': 'Engine', 'entityType': 'machine', 'observations': "
		"['analytical']}])\n"
		"call_tool('memory.create_relations', relations=[\n"
		"    {'from': 'Ada', 'to': 'Engine', 'relationType': 'programmed'}])\n"
		"g = call_tool('memory.read_graph')\n"
		"print(sorted(e['name'] for e in g['entities']))\n"
		"print([(r['from'], r['relationType'], r['to']) for r in g['relations']])\n"
		"n = call_tool('memory.open_nodes', names=['Ada'])\n"
		"print(n['entities'][0]['observations'])\n",
		30000);
	t_assert_status(r, CACT_STATUS_OK);
	assert_has(t_out(r), "['Ada', 'Engine']");
	assert_has(t_out(r), "[('Ada', 'programmed', 'Engine')]");
	assert_has(t_out(r), "['wrote notes']");
	/* The server really kept it: its file on the host has both. */
	saved = slurp(file);
	assert_has(saved, "\"Ada\"");
	assert_has(saved, "\"Engine\"");
	free(saved);
	cact_result_free(r);
	fx_free(&f);
}
END_TEST

START_TEST(filesystem_inside_and_outside)
{
	const char *argv[4] = {"node", src(MCP "server-filesystem/dist/index.js"), NULL, NULL};
	struct cact_mcp_client_options o;
	struct cact_result *r;
	char code[4 * PATH_MAX], *real, *written;
	char path[PATH_MAX];
	struct fx f;

	fx_init(&f);
	real = realpath(f.dir, NULL);
	ck_assert(real != NULL);
	argv[2] = real;
	t_write(f.dir, "given.txt", "from the host\n");
	cact_mcp_client_options_init(&o);
	o.name = "fs";
	o.argv = argv;
	add_server(f.cc, &o);
	snprintf(code, sizeof(code),
		 "d = '%s'\n"
		 "t('fs.write_file', path=d + '/made.txt', content='made in the sandbox')\n"
		 "t('fs.read_text_file', path=d + '/given.txt')\n"
		 "t('fs.list_directory', path=d)\n"
		 "t('fs.read_text_file', path='/etc/hostname')\n"
		 "t('fs.write_file', path=d + '/../escape.txt', content='no')\n",
		 real);
	r = run(f.cc, code, 30000);
	t_assert_status(r, CACT_STATUS_OK);
	assert_has(t_out(r), "ok {'content': 'Successfully wrote to");
	assert_has(t_out(r), "ok {'content': 'from the host\\n'}");
	assert_has(t_out(r), "[FILE] given.txt");
	assert_has(t_out(r), "[FILE] made.txt");
	/* Outside the allowed folder: the server refuses, the code gets RuntimeError. */
	assert_has(t_out(r), "RuntimeError: tool 'fs.read_text_file' failed: ");
	assert_has(t_out(r), "RuntimeError: tool 'fs.write_file' failed: ");
	assert_has(t_out(r), "ccess denied");
	snprintf(path, sizeof(path), "%s/made.txt", real);
	written = slurp(path);
	ck_assert_str_eq(written, "made in the sandbox");
	free(written);
	snprintf(path, sizeof(path), "%s/../escape.txt", real);
	ck_assert_int_eq(access(path, F_OK), -1);
	free(real);
	cact_result_free(r);
	fx_free(&f);
}
END_TEST

static void everything_stdio(struct cact_mcp_client_options *o, const char **argv)
{
	argv[0] = "node";
	argv[1] = src(MCP "server-everything/dist/index.js");
	argv[2] = "stdio";
	argv[3] = NULL;
	cact_mcp_client_options_init(o);
	o->name = "ev";
	o->argv = argv;
}

START_TEST(everything_tools)
{
	struct cact_mcp_client_options o;
	struct cact_result *r;
	const char *argv[4];
	struct fx f;

	fx_init(&f);
	everything_stdio(&o, argv);
	add_server(f.cc, &o);
	r = run(f.cc,
		"t('ev.echo', message='hello there')\n"
		"t('ev.get-sum', a=2, b=40)\n"
		"s = call_tool('ev.get-structured-content', location='Chicago')\n"
		"print('structured', type(s).__name__, sorted(s))\n"
		"img = call_tool('ev.get-tiny-image')\n"
		"print('image', [c['type'] for c in img])\n"
		"t('ev.echo')\n",
		30000);
	t_assert_status(r, CACT_STATUS_OK);
	assert_has(t_out(r), "ok 'Echo: hello there'");
	assert_has(t_out(r), "ok 'The sum of 2 and 40 is 42.'");
	/* outputSchema + structuredContent: the structured value, not the text. */
	assert_has(t_out(r), "structured dict ['conditions', 'humidity', 'temperature']");
	/* Not only text: the content list as it is. */
	assert_has(t_out(r), "image ['text', 'image', 'text']");
	/* The schema is checked here before the server sees the call. */
	assert_has(t_out(r), "RuntimeError: tool 'ev.echo' failed: ");
	assert_has(t_out(r), "message");
	cact_result_free(r);
	fx_free(&f);
}
END_TEST

START_TEST(everything_long_call_cancelled_by_timeout)
{
	struct cact_mcp_client_options o;
	struct cact_result *r;
	const char *argv[4];
	uint64_t start;
	struct fx f;

	fx_init(&f);
	everything_stdio(&o, argv);
	add_server(f.cc, &o);
	start = now_ms();
	r = run(f.cc, "call_tool('ev.trigger-long-running-operation', duration=30, steps=30)\n",
		2000);
	t_assert_status(r, CACT_STATUS_TIMEOUT);
	ck_assert_msg(now_ms() - start < 10000, "took %llu ms",
		      (unsigned long long)(now_ms() - start));
	cact_result_free(r);
	/* The connection is still good for the next execution. */
	r = run(f.cc, "t('ev.echo', message='still here')\n", 30000);
	t_assert_status(r, CACT_STATUS_OK);
	assert_has(t_out(r), "ok 'Echo: still here'");
	cact_result_free(r);
	fx_free(&f);
}
END_TEST

START_TEST(everything_over_http)
{
	struct cact_mcp_client_options o;
	struct cact_mcp_client *c = NULL;
	struct cact_error err = {0};
	struct cact_tool **tools = NULL;
	struct http_peer h = {.pid = -1};
	struct cact_result *r;
	size_t n = 0, i;
	char *log;
	struct fx f;
	int rc;

	fx_init(&f);
	http_start(&h, f.dir);
	cact_mcp_client_options_init(&o);
	o.name = "web";
	o.url = h.url;
	rc = cact_mcp_client_new(&o, &c, &err);
	ck_assert_msg(rc == 0, "cact_mcp_client_new: %s", err.message);
	ck_assert_int_eq(cact_mcp_client_tools(c, &tools, &n, &err), 0);
	ck_assert_uint_gt(n, 5);
	for (i = 0; i < n; i++) {
		ck_assert(strncmp(cact_tool_name(tools[i]), "web.", 4) == 0);
		ck_assert_int_eq(cact_codeact_add_tool(f.cc, tools[i], &err), 0);
	}
	cact_tools_free(tools, n);
	r = run(f.cc,
		"import threading\n"
		"t('web.echo', message='over http')\n"
		"print('structured', sorted(call_tool('web.get-structured-content', location='New "
		"York')))\n"
		"out = {}\n"
		"def go(i):\n"
		"    out[i] = call_tool('web.get-sum', a=i, b=1000)\n"
		"ts = [threading.Thread(target=go, args=(i,)) for i in range(6)]\n"
		"[x.start() for x in ts]; [x.join() for x in ts]\n"
		"print(all(out[i] == 'The sum of %d and 1000 is %d.' % (i, i + 1000) for i in "
		"range(6)))\n",
		30000);
	t_assert_status(r, CACT_STATUS_OK);
	assert_has(t_out(r), "ok 'Echo: over http'");
	assert_has(t_out(r), "structured ['conditions', 'humidity', 'temperature']");
	assert_has(t_out(r), "True");
	cact_result_free(r);
	log = slurp(h.log);
	assert_has(log, "Session initialized with ID");
	free(log);
	/* The last reference ends the session: DELETE with its id. */
	cact_codeact_clear_tools(f.cc);
	cact_mcp_client_unref(c);
	log = slurp(h.log);
	assert_has(log, "Received session termination request");
	free(log);
	http_stop(&h);
	fx_free(&f);
}
END_TEST

START_TEST(everything_http_long_call_cancelled)
{
	struct cact_mcp_client_options o;
	struct http_peer h = {.pid = -1};
	struct cact_result *r;
	uint64_t start;
	struct fx f;

	fx_init(&f);
	http_start(&h, f.dir);
	cact_mcp_client_options_init(&o);
	o.name = "web";
	o.url = h.url;
	add_server(f.cc, &o);
	start = now_ms();
	r = run(f.cc, "call_tool('web.trigger-long-running-operation', duration=30, steps=30)\n",
		2000);
	t_assert_status(r, CACT_STATUS_TIMEOUT);
	ck_assert_msg(now_ms() - start < 10000, "took %llu ms",
		      (unsigned long long)(now_ms() - start));
	cact_result_free(r);
	r = run(f.cc, "t('web.echo', message='after')\n", 30000);
	t_assert_status(r, CACT_STATUS_OK);
	assert_has(t_out(r), "ok 'Echo: after'");
	cact_result_free(r);
	cact_codeact_clear_tools(f.cc);
	http_stop(&h);
	fx_free(&f);
}
END_TEST

/* ---- the command line and the configuration file ---- */

START_TEST(cli_mcp_server_flag)
{
	char spec[PATH_MAX + 64], *out = NULL, *err = NULL;
	int rc;

	snprintf(spec, sizeof(spec), "ev=node %s stdio",
		 src(MCP "server-everything/dist/index.js"));
	rc = CLI(NULL, &out, &err, "exec", "--mcp-server", spec, "-c",
		 "print(call_tool('ev.echo', message='from the flag'))");
	ck_assert_msg(rc == 0, "status %d\n%s\n%s", rc, out, err);
	assert_has(out, "Echo: from the flag");
	free(out);
	free(err);
	/* A server that cannot start: a usage error naming the flag and the server. */
	rc = CLI(NULL, &out, &err, "exec", "--mcp-server", "nope=/nonexistent/server --x", "-c",
		 "print(1)");
	ck_assert_int_eq(rc, 2);
	assert_has(err, "--mcp-server nope: mcp server nope: cannot run /nonexistent/server");
	free(out);
	free(err);
	rc = CLI(NULL, &out, &err, "exec", "--mcp-server", "=node", "-c", "print(1)");
	ck_assert_int_eq(rc, 2);
	assert_has(err, "expected NAME=COMMAND");
	free(out);
	free(err);
}
END_TEST

START_TEST(cli_mcp_url_flag)
{
	struct http_peer h = {.pid = -1};
	char spec[256], *out = NULL, *err = NULL, *dir = t_tmpdir();
	int rc;

	http_start(&h, dir);
	snprintf(spec, sizeof(spec), "web=%s", h.url);
	rc = CLI(NULL, &out, &err, "exec", "--mcp-url", spec, "-c",
		 "print(call_tool('web.get-sum', a=1, b=2))");
	ck_assert_msg(rc == 0, "status %d\n%s\n%s", rc, out, err);
	assert_has(out, "The sum of 1 and 2 is 3.");
	free(out);
	free(err);
	rc = CLI(NULL, &out, &err, "exec", "--mcp-url", "web=ftp://127.0.0.1/", "-c", "print(1)");
	ck_assert_int_eq(rc, 2);
	assert_has(err, "url must be http:// or https://");
	free(out);
	free(err);
	http_stop(&h);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(cli_agent_flags)
{
	char *out = NULL, *err = NULL, *dir = t_tmpdir(), path[PATH_MAX + 16];
	int rc;

	t_write(dir, "cact.json", "{}");
	snprintf(path, sizeof(path), "%s/cact.json", dir);
	/* The server is started before the model is asked anything: its failure is the error. */
	rc = CLI(NULL, &out, &err, "agent", "--config", path, "--base-url", "http://127.0.0.1:9",
		 "--model", "m", "--mcp-server", "bad=/nonexistent/x", "hi");
	ck_assert_int_eq(rc, 2);
	assert_has(err, "cact agent: --mcp-server bad: mcp server bad: cannot run /nonexistent/x");
	free(out);
	free(err);
	rc = CLI(NULL, &out, &err, "agent", "--help");
	ck_assert_int_eq(rc, 0);
	assert_has(out, "--mcp-server NAME=COMMAND");
	assert_has(out, "--mcp-url NAME=URL");
	free(out);
	free(err);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(cli_config_mcp_servers)
{
	char *dir = t_tmpdir(), *out = NULL, *err = NULL, conf[4 * PATH_MAX], path[PATH_MAX + 16];
	int rc;

	snprintf(conf, sizeof(conf),
		 "{\"mcp_servers\": {\n"
		 "  \"ev\": {\"command\": [\"node\", \"%s\", \"stdio\"], \"timeout_s\": 30},\n"
		 "  \"f\": {\"command\": [\"%s\", \"%s\"], \"env\": {\"FAKE_VAR\": \"set\"},\n"
		 "         \"cwd\": \"sub\", \"approval_mode\": \"always_require\",\n"
		 "         \"tools\": {\"echo\": {\"approval_mode\": \"never_require\"}}}}}\n",
		 src(MCP "server-everything/dist/index.js"), PYTHON,
		 src("tests/mcp/fake_server.py"));
	t_write(dir, "cact.json", conf);
	t_write(dir, "sub/.keep", "");
	snprintf(path, sizeof(path), "%s/cact.json", dir);
	rc = CLI(NULL, &out, &err, "exec", "--config", path, "--approve", "none", "-c",
		 PY_T "t('ev.echo', message='configured')\n"
		      "t('f.echo', text='free')\n"
		      "t('f.env', name='FAKE_VAR')\n"
		      "t('f.cwd')\n");
	ck_assert_msg(rc == 0, "status %d\n%s\n%s", rc, out, err);
	assert_has(out, "ok 'Echo: configured'");
	assert_has(out, "ok 'free'");
	/* The server's default: its other tools need approval, denied here. */
	assert_has(out, "PermissionError: tool 'f.env': the call was not approved");
	assert_has(out, "PermissionError: tool 'f.cwd'");
	free(out);
	free(err);
	rc = CLI(NULL, &out, &err, "exec", "--config", path, "--approve", "all", "-c",
		 PY_T "t('f.env', name='FAKE_VAR')\nt('f.cwd')\n");
	ck_assert_msg(rc == 0, "status %d\n%s\n%s", rc, out, err);
	assert_has(out, "ok {'value': 'set'}");
	assert_has(out, "/sub'");
	free(out);
	free(err);
	/* What the model reads lists them. */
	rc = CLI(NULL, &out, &err, "describe", "--config", path);
	ck_assert_int_eq(rc, 0);
	assert_has(out, "- f.echo(text: string): Echoes text\n");
	assert_has(out, "- f.env(name: string): An environment variable (needs approval)");
	assert_has(out, "- ev.get-sum(a: number, b: number)");
	free(out);
	free(err);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(config_errors_name_the_server)
{
	struct cact_error err = {0};
	struct cact_codeact *cc = NULL;
	struct cact_tool **tools = NULL;
	char *dir = t_tmpdir(), conf[4 * PATH_MAX], path[PATH_MAX + 16], log[PATH_MAX + 16];
	char *text;
	size_t n = 99;

	ck_assert_int_eq(cact_codeact_new(NULL, &cc, &err), 0);
	snprintf(path, sizeof(path), "%s/cact.json", dir);
	snprintf(log, sizeof(log), "%s/fake.log", dir);
	/* A good server, then one that cannot start: nothing applied, the good one stopped. */
	snprintf(conf, sizeof(conf),
		 "{\"approval_mode\": \"always_require\", \"mcp_servers\": {\n"
		 "  \"good\": {\"command\": [\"%s\", \"%s\", \"--log\", \"%s\"]},\n"
		 "  \"bad\": {\"command\": \"/nonexistent/server\"}}}\n",
		 PYTHON, src("tests/mcp/fake_server.py"), log);
	t_write(dir, "cact.json", conf);
	ck_assert_int_eq(cact_codeact_load_config(cc, path, &err), CACT_ESYS);
	assert_has(err.message, "mcp_servers.bad: mcp server bad: cannot run /nonexistent/server");
	ck_assert_int_eq(cact_codeact_tools(cc, &tools, &n), 0);
	ck_assert_uint_eq(n, 0);
	cact_tools_free(tools, n);
	ck_assert_int_eq(cact_codeact_default_approval(cc), CACT_APPROVAL_NEVER_REQUIRE);
	/* The good one did start (and initialized) before the bad one failed. */
	text = slurp(log);
	assert_has(text, "notifications/initialized");
	free(text);
	unlink(log);
	/* Shapes are checked before any server starts. */
	snprintf(conf, sizeof(conf),
		 "{\"mcp_servers\": {\n"
		 "  \"good\": {\"command\": [\"%s\", \"%s\", \"--log\", \"%s\"]},\n"
		 "  \"odd\": {\"command\": [\"x\"], \"colour\": 1}}}\n",
		 PYTHON, src("tests/mcp/fake_server.py"), log);
	t_write(dir, "cact.json", conf);
	ck_assert_int_eq(cact_codeact_load_config(cc, path, &err), CACT_EINVAL);
	assert_has(err.message, "\"mcp_servers.odd.colour\" is not a known key");
	ck_assert_int_eq(access(log, F_OK), -1);
	t_write(dir, "cact.json",
		"{\"mcp_servers\": {\"x\": {\"command\": [\"a\"], \"url\": \"http://h/\"}}}");
	ck_assert_int_eq(cact_codeact_load_config(cc, path, &err), CACT_EINVAL);
	assert_has(err.message,
		   "\"mcp_servers.x\" needs either a \"command\" (stdio) or a \"url\"");
	t_write(dir, "cact.json",
		"{\"mcp_servers\": {\"x\": {\"approval_mode\": \"never_require\"}}}");
	ck_assert_int_eq(cact_codeact_load_config(cc, path, &err), CACT_EINVAL);
	assert_has(err.message,
		   "\"mcp_servers.x\" needs either a \"command\" (stdio) or a \"url\"");
	t_write(dir, "cact.json",
		"{\"mcp_servers\": {\"x\": {\"command\": \"a\", \"headers\": {\"A\": \"b\"}}}}");
	ck_assert_int_eq(cact_codeact_load_config(cc, path, &err), CACT_EINVAL);
	assert_has(err.message, "headers are for a url, not a command");
	t_write(dir, "cact.json",
		"{\"mcp_servers\": {\"x\": {\"url\": \"http://h/\", \"cwd\": \"/\"}}}");
	ck_assert_int_eq(cact_codeact_load_config(cc, path, &err), CACT_EINVAL);
	assert_has(err.message, "env and cwd are for a command");
	t_write(dir, "cact.json", "{\"mcp_servers\": {\"x\": {\"command\": \"a\", \"env\": [1]}}}");
	ck_assert_int_eq(cact_codeact_load_config(cc, path, &err), CACT_EINVAL);
	assert_has(err.message, "\"mcp_servers.x.env\" must be an object of strings");
	t_write(dir, "cact.json",
		"{\"mcp_servers\": {\"x\": {\"command\": \"a\", \"timeout_s\": 0}}}");
	ck_assert_int_eq(cact_codeact_load_config(cc, path, &err), CACT_EINVAL);
	assert_has(err.message, "\"mcp_servers.x.timeout_s\"");
	t_write(dir, "cact.json", "{\"mcp_servers\": [1]}");
	ck_assert_int_eq(cact_codeact_load_config(cc, path, &err), CACT_EINVAL);
	assert_has(err.message, "\"mcp_servers\" must map server names");
	/* An approval for a tool the server does not have. */
	snprintf(conf, sizeof(conf),
		 "{\"mcp_servers\": {\"f\": {\"command\": [\"%s\", \"%s\"],\n"
		 "  \"tools\": {\"no_such_tool\": {\"approval_mode\": \"always_require\"}}}}}\n",
		 PYTHON, src("tests/mcp/fake_server.py"));
	t_write(dir, "cact.json", conf);
	ck_assert_int_eq(cact_codeact_load_config(cc, path, &err), CACT_EINVAL);
	assert_has(err.message, "\"mcp_servers.f.tools.no_such_tool\" is not a tool of the server");
	/* A server name cact cannot use. */
	t_write(dir, "cact.json", "{\"mcp_servers\": {\"a.b\": {\"command\": \"x\"}}}");
	ck_assert_int_eq(cact_codeact_load_config(cc, path, &err), CACT_EINVAL);
	assert_has(err.message, "mcp_servers.a.b: mcp server name 'a.b'");
	ck_assert_int_eq(cact_codeact_tools(cc, &tools, &n), 0);
	ck_assert_uint_eq(n, 0);
	cact_tools_free(tools, n);
	cact_codeact_free(cc);
	t_rmtree(dir);
	free(dir);
}
END_TEST

/* ---- the scripted server ---- */

START_TEST(fake_result_mapping)
{
	struct cact_mcp_client_options o;
	struct cact_result *r;
	const char *argv[8];
	struct fx f;

	fx_init(&f);
	fake_opts(&o, argv, 8, NULL);
	add_server(f.cc, &o);
	r = run(f.cc,
		"t('f.echo', text='plain text')\n"
		"t('f.echo', text='[1, 2.5, \"x\"]')\n"
		"t('f.multi_text')\n"
		"t('f.json_text')\n"
		"t('f.image')\n"
		"t('f.pid')\n"
		"t('f.odd_schema', x={'any': 'thing'})\n"
		"t('f.bad schema')\n",
		30000);
	t_assert_status(r, CACT_STATUS_OK);
	assert_has(t_out(r), "ok 'plain text'\n");
	assert_has(t_out(r), "ok [1, 2.5, 'x']\n");
	assert_has(t_out(r), "ok [1, 'hello']\n");
	assert_has(t_out(r), "ok {'a': [1, 2], 'b': None}\n");
	assert_has(t_out(r), "ok [{'type': 'image', 'data': 'AAAA', 'mimeType': 'image/png'}]\n");
	assert_has(t_out(r), "ok {'pid': ");
	/* A schema cact does not understand: the server checks the arguments. */
	assert_has(t_out(r), "ok {'args': {'x': {'any': 'thing'}}}\n");
	/* A tool whose name cact cannot use is not offered. */
	assert_has(t_out(r), "RuntimeError: tool 'f.bad schema' failed: unknown tool");
	cact_result_free(r);
	fx_free(&f);
}
END_TEST

START_TEST(fake_errors_reach_the_code)
{
	struct cact_mcp_client_options o;
	struct cact_result *r;
	const char *argv[8];
	struct fx f;

	fx_init(&f);
	fake_opts(&o, argv, 8, NULL);
	add_server(f.cc, &o);
	r = run(f.cc, "t('f.fail')\nt('f.rpc_error')\nt('f.echo', text='after')\n", 30000);
	t_assert_status(r, CACT_STATUS_OK);
	assert_has(t_out(r), "RuntimeError: tool 'f.fail' failed: it failed as asked\n");
	assert_has(t_out(r), "RuntimeError: tool 'f.rpc_error' failed: mcp server f: tools/call "
			     "failed: no such luck (code -32000)\n");
	assert_has(t_out(r), "ok 'after'");
	cact_result_free(r);
	fx_free(&f);
}
END_TEST

START_TEST(fake_malformed_lines_are_skipped)
{
	const char *extra[] = {"--noise", NULL};
	struct cact_mcp_client_options o;
	struct cact_result *r;
	const char *argv[8];
	struct fx f;

	fx_init(&f);
	/* A line that is not JSON before initialize's answer. */
	fake_opts(&o, argv, 8, extra);
	add_server(f.cc, &o);
	r = run(f.cc, "t('f.garbage')\nt('f.echo', text='fine')\n", 30000);
	t_assert_status(r, CACT_STATUS_OK);
	assert_has(t_out(r), "ok 'after the garbage'\nok 'fine'\n");
	cact_result_free(r);
	fx_free(&f);
}
END_TEST

START_TEST(fake_death_mid_call_restarts)
{
	struct cact_mcp_client_options o;
	struct cact_result *r;
	const char *argv[8];
	struct fx f;

	fx_init(&f);
	fake_opts(&o, argv, 8, NULL);
	add_server(f.cc, &o);
	r = run(f.cc,
		"a = call_tool('f.pid')['pid']\n"
		"t('f.die')\n"
		"b = call_tool('f.pid')['pid']\n"
		"print('restarted', a != b)\n"
		"t('f.echo', text='alive')\n",
		30000);
	t_assert_status(r, CACT_STATUS_OK);
	assert_has(t_out(r),
		   "RuntimeError: tool 'f.die' failed: mcp server f: the server exited with "
		   "status 3 (stderr: dying as asked) before answering tools/call; the next "
		   "call starts it again\n");
	assert_has(t_out(r), "restarted True\n");
	assert_has(t_out(r), "ok 'alive'\n");
	cact_result_free(r);
	fx_free(&f);
}
END_TEST

START_TEST(fake_restarts_are_limited)
{
	struct cact_mcp_client_options o;
	struct cact_result *r;
	const char *argv[8];
	struct fx f;

	fx_init(&f);
	fake_opts(&o, argv, 8, NULL);
	add_server(f.cc, &o);
	/* Started once to connect, then again for each of four calls: five in a minute. */
	r = run(f.cc, "for i in range(6):\n    t('f.die')\n", 30000);
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_msg(strstr(t_out(r), "exited with status 3") != NULL, "%s", t_out(r));
	assert_has(t_out(r),
		   "RuntimeError: tool 'f.die' failed: mcp server f: not started again: it "
		   "was started 5 times within a minute\n");
	cact_result_free(r);
	fx_free(&f);
}
END_TEST

START_TEST(fake_silence_times_out)
{
	char log[PATH_MAX + 16], *seen;
	const char *extra[] = {"--log", log, NULL};
	struct cact_mcp_client_options o;
	struct cact_result *r;
	const char *argv[8];
	uint64_t start;
	struct fx f;

	fx_init(&f);
	snprintf(log, sizeof(log), "%s/fake.log", f.dir);
	fake_opts(&o, argv, 8, extra);
	o.timeout_ms = 1000;
	add_server(f.cc, &o);
	start = now_ms();
	r = run(f.cc, "t('f.never')\nt('f.echo', text='next')\n", 30000);
	t_assert_status(r, CACT_STATUS_OK);
	assert_has(t_out(r), "RuntimeError: tool 'f.never' failed: mcp server f: no answer to "
			     "tools/call within 1000 ms\n");
	assert_has(t_out(r), "ok 'next'\n");
	ck_assert_uint_lt(now_ms() - start, 8000);
	cact_result_free(r);
	/* The server heard that the request was given up. */
	seen = await_text(log, "notifications/cancelled");
	assert_has(seen, "\"method\":\"notifications/cancelled\"");
	assert_has(seen, "\"reason\":\"timed out\"");
	free(seen);
	fx_free(&f);
}
END_TEST

START_TEST(fake_wrong_id_is_not_an_answer)
{
	struct cact_mcp_client_options o;
	struct cact_result *r;
	const char *argv[8];
	struct fx f;

	fx_init(&f);
	fake_opts(&o, argv, 8, NULL);
	o.timeout_ms = 1000;
	add_server(f.cc, &o);
	r = run(f.cc, "t('f.wrong_id')\nt('f.wrong_id', then_right=True)\n", 30000);
	t_assert_status(r, CACT_STATUS_OK);
	assert_has(t_out(r), "RuntimeError: tool 'f.wrong_id' failed: mcp server f: no answer to "
			     "tools/call within 1000 ms\n");
	assert_has(t_out(r), "ok 'right'\n");
	cact_result_free(r);
	fx_free(&f);
}
END_TEST

START_TEST(fake_flood_stays_bounded)
{
	struct cact_mcp_client_options o;
	struct cact_result *r;
	const char *argv[8];
	long before, after;
	struct fx f;

	fx_init(&f);
	fake_opts(&o, argv, 8, NULL);
	add_server(f.cc, &o);
	r = run(f.cc, "t('f.echo', text='warm')\n", 30000);
	cact_result_free(r);
	before = vm_hwm_kib();
	/* 100,000 notifications of 1 KB each: 100 MB before the answer. */
	r = run(f.cc, "t('f.flood', count=100000, size=1000)\n", 120000);
	after = vm_hwm_kib();
	t_assert_status(r, CACT_STATUS_OK);
	assert_has(t_out(r), "ok 'after 100000 notifications'\n");
#ifdef __SANITIZE_ADDRESS__
	/* AddressSanitizer's quarantine keeps freed memory out of reuse: no bound to see. */
	(void)before;
	(void)after;
#else
	ck_assert_msg(before > 0 && after - before < 32 * 1024, "peak RSS grew from %ld to %ld KiB",
		      before, after);
#endif
	cact_result_free(r);
	fx_free(&f);
}
END_TEST

START_TEST(fake_oversize_message)
{
	struct cact_mcp_client_options o;
	struct cact_result *r;
	const char *argv[8];
	struct fx f;

	fx_init(&f);
	fake_opts(&o, argv, 8, NULL);
	o.max_message_bytes = 1 << 20;
	add_server(f.cc, &o);
	r = run(f.cc,
		"t('f.big', bytes=500000)\n"
		"a = call_tool('f.pid')['pid']\n"
		"t('f.big', bytes=3000000)\n"
		"print('restarted', call_tool('f.pid')['pid'] != a)\n",
		60000);
	t_assert_status(r, CACT_STATUS_OK);
	assert_has(t_out(r), "ok 'yyyy");
	assert_has(t_out(r), "RuntimeError: tool 'f.big' failed: mcp server f: the server sent a "
			     "message larger than 1048576 bytes before answering tools/call");
	assert_has(t_out(r), "restarted True\n");
	cact_result_free(r);
	fx_free(&f);
}
END_TEST

START_TEST(fake_concurrent_calls)
{
	struct cact_mcp_client_options o;
	struct cact_result *r;
	const char *argv[8];
	uint64_t start;
	struct fx f;

	fx_init(&f);
	fake_opts(&o, argv, 8, NULL);
	add_server(f.cc, &o);
	start = now_ms();
	/* Eight calls at once, answered in the reverse order: each gets its own answer. */
	r = run(f.cc,
		"import threading\n"
		"got = {}\n"
		"def go(i):\n"
		"    got[i] = call_tool('f.sleep', seconds=(8 - i) * 0.2, tag='t%d' % i)['tag']\n"
		"ts = [threading.Thread(target=go, args=(i,)) for i in range(8)]\n"
		"[x.start() for x in ts]; [x.join() for x in ts]\n"
		"print(all(got[i] == 't%d' % i for i in range(8)), len(got))\n",
		30000);
	t_assert_status(r, CACT_STATUS_OK);
	assert_has(t_out(r), "True 8\n");
	/* Side by side: about the longest (1.6 s), far from the sum (7.2 s). */
	ck_assert_uint_lt(now_ms() - start, 5000);
	cact_result_free(r);
	fx_free(&f);
}
END_TEST

START_TEST(fake_server_requests)
{
	struct cact_mcp_client_options o;
	struct cact_result *r;
	const char *argv[8];
	struct fx f;

	fx_init(&f);
	fake_opts(&o, argv, 8, NULL);
	add_server(f.cc, &o);
	r = run(f.cc, "print(call_tool('f.ping_first'))\nprint(call_tool('f.ask'))\n", 30000);
	t_assert_status(r, CACT_STATUS_OK);
	/* ping is answered; sampling is not offered. */
	assert_has(t_out(r), "{'reply': {'jsonrpc': '2.0', 'id': 'p1', 'result': {}}}\n");
	assert_has(t_out(r),
		   "'id': 's1', 'error': {'code': -32601, 'message': 'method not found'}");
	cact_result_free(r);
	fx_free(&f);
}
END_TEST

START_TEST(fake_execution_end_cancels)
{
	char log[PATH_MAX + 16], *seen;
	const char *extra[] = {"--log", log, NULL};
	struct cact_mcp_client_options o;
	struct cact_result *r;
	const char *argv[8];
	uint64_t start;
	struct fx f;

	fx_init(&f);
	snprintf(log, sizeof(log), "%s/fake.log", f.dir);
	fake_opts(&o, argv, 8, extra);
	add_server(f.cc, &o);
	start = now_ms();
	r = run(f.cc, "call_tool('f.never')\n", 1500);
	t_assert_status(r, CACT_STATUS_TIMEOUT);
	ck_assert_uint_lt(now_ms() - start, 8000);
	cact_result_free(r);
	seen = await_text(log, "notifications/cancelled");
	assert_has(seen, "\"method\":\"notifications/cancelled\"");
	assert_has(seen, "\"reason\":\"the execution ended\"");
	free(seen);
	fx_free(&f);
}
END_TEST

START_TEST(fake_execution_end_cancels_a_restart)
{
	char flag[PATH_MAX + 16];
	const char *extra[] = {"--slow-init-if", flag, NULL};
	struct cact_mcp_client_options o;
	struct cact_result *r;
	const char *argv[8];
	uint64_t start;
	struct fx f;

	fx_init(&f);
	snprintf(flag, sizeof(flag), "%s/slow", f.dir);
	fake_opts(&o, argv, 8, extra);
	o.timeout_ms = 30000;
	add_server(f.cc, &o);
	r = run(f.cc, "t('f.die')\n", 30000);
	cact_result_free(r);
	/* The next start hangs in initialize: the execution's end still ends the call. */
	t_write(f.dir, "slow", "");
	start = now_ms();
	r = run(f.cc, "t('f.echo', text='x')\n", 1500);
	t_assert_status(r, CACT_STATUS_TIMEOUT);
	ck_assert_msg(now_ms() - start < 8000, "took %llu ms",
		      (unsigned long long)(now_ms() - start));
	cact_result_free(r);
	/* And the server can be started again afterwards. */
	unlink(flag);
	r = run(f.cc, "t('f.echo', text='back')\n", 30000);
	t_assert_status(r, CACT_STATUS_OK);
	assert_has(t_out(r), "ok 'back'\n");
	cact_result_free(r);
	fx_free(&f);
}
END_TEST

START_TEST(fake_pages_env_cwd)
{
	const char *extra[] = {"--page", "3", NULL};
	struct cact_mcp_client_options o;
	struct cact_mcp_client *c = NULL;
	struct cact_error err = {0};
	struct cact_tool **tools = NULL;
	struct cact_result *r;
	const char *argv[8], *env[] = {"FAKE_VAR=given", "PATH=/usr/bin:/bin"};
	char code[PATH_MAX + 64], *real;
	size_t n = 0, i;
	struct fx f;

	fx_init(&f);
	real = realpath(f.dir, NULL);
	fake_opts(&o, argv, 8, extra);
	o.env = env;
	o.n_env = 2;
	o.cwd = real;
	ck_assert_msg(cact_mcp_client_new(&o, &c, &err) == 0, "%s", err.message);
	ck_assert_int_eq(cact_mcp_client_tools(c, &tools, &n, &err), 0);
	/* Twenty tools in pages of three; the one with a space in its name is left out. */
	ck_assert_uint_eq(n, 19);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(cact_codeact_add_tool(f.cc, tools[i], &err), 0);
	ck_assert_str_eq(cact_tool_name(tools[0]), "f.echo");
	ck_assert_str_eq(cact_tool_description(tools[0]), "Echoes text");
	cact_tools_free(tools, n);
	cact_mcp_client_unref(c);
	snprintf(code, sizeof(code), "t('f.env', name='FAKE_VAR')\nt('f.cwd')\n");
	r = run(f.cc, code, 30000);
	t_assert_status(r, CACT_STATUS_OK);
	assert_has(t_out(r), "ok {'value': 'given'}\n");
	snprintf(code, sizeof(code), "ok '%s'\n", real);
	assert_has(t_out(r), code);
	cact_result_free(r);
	free(real);
	fx_free(&f);
}
END_TEST

START_TEST(fake_start_failures)
{
	const char *at_init[] = {"--exit-at-init", NULL},
		   *old[] = {"--version", "1999-01-01", NULL};
	const char *v0618[] = {"--version", "2025-06-18", NULL};
	const char *v0326[] = {"--version", "2025-03-26", NULL};
	const char *argv[8], *missing[] = {"/nonexistent/mcp-server", NULL};
	struct cact_mcp_client_options o;
	struct cact_mcp_client *c = NULL;
	struct cact_error err = {0};

	fake_opts(&o, argv, 8, at_init);
	ck_assert_int_eq(cact_mcp_client_new(&o, &c, &err), CACT_ESYS);
	ck_assert_ptr_null(c);
	assert_has(err.message,
		   "mcp server f: the server exited with status 4 (stderr: refusing to "
		   "start) before answering initialize");
	fake_opts(&o, argv, 8, old);
	ck_assert_int_eq(cact_mcp_client_new(&o, &c, &err), CACT_EPROTO);
	assert_has(err.message, "mcp server f: speaks protocol version 1999-01-01");
	fake_opts(&o, argv, 8, v0618);
	ck_assert_msg(cact_mcp_client_new(&o, &c, &err) == 0, "%s", err.message);
	cact_mcp_client_unref(c);
	fake_opts(&o, argv, 8, v0326);
	ck_assert_msg(cact_mcp_client_new(&o, &c, &err) == 0, "%s", err.message);
	cact_mcp_client_unref(c);
	cact_mcp_client_options_init(&o);
	o.name = "gone";
	o.argv = missing;
	ck_assert_int_eq(cact_mcp_client_new(&o, &c, &err), CACT_ESYS);
	assert_has(err.message, "mcp server gone: cannot run /nonexistent/mcp-server: ENOENT");
	/* Nothing listens there. */
	cact_mcp_client_options_init(&o);
	o.name = "web";
	o.url = "http://127.0.0.1:9/mcp";
	o.timeout_ms = 5000;
	ck_assert_int_eq(cact_mcp_client_new(&o, &c, &err), CACT_ESYS);
	assert_has(err.message, "mcp server web: POST http://127.0.0.1:9/mcp: ");
}
END_TEST

START_TEST(options_are_checked)
{
	const char *argv[] = {"x", NULL}, *empty[] = {"", NULL}, *env[] = {"NOEQUALS"};
	const char *hdr[] = {"X-A: b\r\nX-Evil: 1"};
	struct cact_mcp_client_options o;
	struct cact_mcp_client *c = NULL;
	struct cact_error err = {0};
	struct cact_tool *tool = NULL, *out = NULL;

	cact_mcp_client_options_init(&o);
	ck_assert_uint_eq(o.timeout_ms, 60000);
	ck_assert_uint_eq(o.max_message_bytes, 16u << 20);
	ck_assert_int_eq(cact_mcp_client_new(&o, &c, &err), CACT_EINVAL);
	assert_has(err.message, "name must have 1 to 64 characters");
	o.name = "a.b";
	o.argv = argv;
	ck_assert_int_eq(cact_mcp_client_new(&o, &c, &err), CACT_EINVAL);
	assert_has(err.message, "only letters, digits, '_' and '-'");
	o.name = "ok";
	o.url = "http://127.0.0.1:9/";
	ck_assert_int_eq(cact_mcp_client_new(&o, &c, &err), CACT_EINVAL);
	assert_has(err.message, "give a command or a url, not both");
	o.argv = NULL;
	o.url = NULL;
	ck_assert_int_eq(cact_mcp_client_new(&o, &c, &err), CACT_EINVAL);
	assert_has(err.message, "not neither");
	o.argv = empty;
	ck_assert_int_eq(cact_mcp_client_new(&o, &c, &err), CACT_EINVAL);
	assert_has(err.message, "the command is empty");
	o.argv = argv;
	o.env = env;
	o.n_env = 1;
	ck_assert_int_eq(cact_mcp_client_new(&o, &c, &err), CACT_EINVAL);
	assert_has(err.message, "environment entries are NAME=value");
	o.env = NULL;
	o.n_env = 0;
	o.argv = NULL;
	o.url = "file:///etc/passwd";
	ck_assert_int_eq(cact_mcp_client_new(&o, &c, &err), CACT_EINVAL);
	assert_has(err.message, "url must be http:// or https://");
	o.url = "http://127.0.0.1:9/";
	o.headers = hdr;
	o.n_headers = 1;
	ck_assert_int_eq(cact_mcp_client_new(&o, &c, &err), CACT_EINVAL);
	assert_has(err.message, "headers are \"Name: value\" without line breaks");
	ck_assert_ptr_null(c);
	cact_mcp_client_unref(NULL);
	ck_assert_ptr_null(cact_mcp_client_ref(NULL));
	/* Only tools of MCP servers can be remade with another approval. */
	ck_assert_int_eq(cact_tool_new_command("cmd", NULL, NULL, CACT_APPROVAL_NEVER_REQUIRE, argv,
					       NULL, 0, &tool, &err),
			 0);
	ck_assert_int_eq(
		cact_mcp_client_tool_approval(tool, CACT_APPROVAL_ALWAYS_REQUIRE, &out, &err),
		CACT_EINVAL);
	ck_assert_ptr_null(out);
	cact_tool_unref(tool);
}
END_TEST

static int approve_echo_only(void *user, const char *tool, const char *args)
{
	(void)user;
	(void)args;
	return strcmp(tool, "f.echo") == 0 && strstr(args, "yes") != NULL;
}

START_TEST(approval_remade_tools)
{
	struct cact_mcp_client_options o;
	struct cact_mcp_client *c = NULL;
	struct cact_error err = {0};
	struct cact_tool **tools = NULL, *strict = NULL;
	struct cact_result *r;
	const char *argv[8];
	size_t n = 0, i;
	struct fx f;

	fx_init(&f);
	fake_opts(&o, argv, 8, NULL);
	ck_assert_msg(cact_mcp_client_new(&o, &c, &err) == 0, "%s", err.message);
	ck_assert_int_eq(cact_mcp_client_tools(c, &tools, &n, &err), 0);
	/* The tools hold the connection: the client's own reference can go now. */
	cact_mcp_client_unref(c);
	for (i = 0; i < n; i++)
		if (strcmp(cact_tool_name(tools[i]), "f.echo") == 0)
			break;
	ck_assert_uint_lt(i, n);
	ck_assert_int_eq(cact_tool_approval(tools[i]), CACT_APPROVAL_NEVER_REQUIRE);
	ck_assert_int_eq(cact_mcp_client_tool_approval(tools[i], CACT_APPROVAL_ALWAYS_REQUIRE,
						       &strict, &err),
			 0);
	ck_assert_str_eq(cact_tool_name(strict), "f.echo");
	ck_assert_str_eq(cact_tool_parameters(strict), cact_tool_parameters(tools[i]));
	ck_assert_int_eq(cact_tool_approval(strict), CACT_APPROVAL_ALWAYS_REQUIRE);
	ck_assert_int_eq(cact_tool_approval(tools[i]), CACT_APPROVAL_NEVER_REQUIRE);
	ck_assert_int_eq(cact_codeact_add_tool(f.cc, strict, &err), 0);
	cact_tool_unref(strict);
	cact_tools_free(tools, n);
	ck_assert_int_eq(cact_codeact_approval(f.cc), CACT_APPROVAL_ALWAYS_REQUIRE);
	cact_codeact_set_per_call_approval(f.cc, 1, approve_echo_only, NULL);
	r = run(f.cc, "t('f.echo', text='yes please')\nt('f.echo', text='no')\n", 30000);
	t_assert_status(r, CACT_STATUS_OK);
	assert_has(t_out(r), "ok 'yes please'\nPermissionError: tool 'f.echo': the call was not "
			     "approved\n");
	cact_result_free(r);
	fx_free(&f);
}
END_TEST

START_TEST(last_reference_stops_the_server)
{
	struct cact_mcp_client_options o;
	struct cact_result *r;
	const char *argv[8], *p;
	struct fx f;
	pid_t pid;
	int gone = 0, i;

	fx_init(&f);
	fake_opts(&o, argv, 8, NULL);
	add_server(f.cc, &o);
	r = run(f.cc, "print('pid', call_tool('f.pid')['pid'])\n", 30000);
	t_assert_status(r, CACT_STATUS_OK);
	p = strstr(t_out(r), "pid ");
	ck_assert(p != NULL);
	pid = (pid_t)strtol(p + 4, NULL, 10);
	cact_result_free(r);
	ck_assert_int_eq(kill(pid, 0), 0);
	/* The tools were the last holders of the connection. */
	cact_codeact_clear_tools(f.cc);
	for (i = 0; i < 50 && !gone; i++) {
		gone = kill(pid, 0) < 0 && errno == ESRCH;
		if (!gone)
			sleep_ms(100);
	}
	ck_assert_msg(gone, "the server %d still runs", (int)pid);
	fx_free(&f);
}
END_TEST

/* ---- main: the cases that need node and the npm peers skip without them ---- */

static const char *const node_cases[] = {
	"memory_graph_round_trip", "filesystem_inside_and_outside",
	"everything_tools",	   "everything_long_call_cancelled_by_timeout",
	"everything_over_http",	   "everything_http_long_call_cancelled",
	"cli_mcp_server_flag",	   "cli_mcp_url_flag",
	"cli_config_mcp_servers",
};

static int on_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	while (path && *path) {
		const char *colon = strchr(path, ':');
		size_t n = colon ? (size_t)(colon - path) : strlen(path);

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, prog);
		if (n && access(buf, X_OK) == 0)
			return 1;
		path = colon ? colon + 1 : NULL;
	}
	return 0;
}

/* Why a case cannot run here, or NULL. */
static const char *missing(const char *name)
{
	static const char *const peers[] = {"server-memory/dist/index.js",
					    "server-filesystem/dist/index.js",
					    "server-everything/dist/index.js"};
	static char why[PATH_MAX + 128];
	const char *r = getenv("CACT_SOURCE_ROOT");
	size_t i;

	if (!r)
		return "CACT_SOURCE_ROOT is not set (run the tests through meson)";
	if (access(PYTHON, X_OK) != 0)
		return PYTHON " is missing (the scripted MCP server needs it)";
	for (i = 0; i < ARRAY_SIZE(node_cases); i++)
		if (strcmp(name, node_cases[i]) == 0)
			break;
	if (i == ARRAY_SIZE(node_cases))
		return NULL;
	if (!on_path("node"))
		return "node is not installed (scripts/install-deps)";
	for (i = 0; i < ARRAY_SIZE(peers); i++) {
		snprintf(why, sizeof(why), "%s/" MCP "%s", r, peers[i]);
		if (access(why, R_OK) != 0) {
			snprintf(why, sizeof(why),
				 "%s/" MCP
				 "%s is missing (scripts/install-deps installs tests/peers)",
				 r, peers[i]);
			return why;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const struct t_case cases[] = {
		T_CASE(memory_graph_round_trip, 120),
		T_CASE(filesystem_inside_and_outside, 120),
		T_CASE(everything_tools, 120),
		T_CASE(everything_long_call_cancelled_by_timeout, 120),
		T_CASE(everything_over_http, 120),
		T_CASE(everything_http_long_call_cancelled, 120),
		T_CASE(cli_mcp_server_flag, 120),
		T_CASE(cli_mcp_url_flag, 120),
		T_CASE(cli_agent_flags, 60),
		T_CASE(cli_config_mcp_servers, 120),
		T_CASE(config_errors_name_the_server, 60),
		T_CASE(fake_result_mapping, 60),
		T_CASE(fake_errors_reach_the_code, 60),
		T_CASE(fake_malformed_lines_are_skipped, 60),
		T_CASE(fake_death_mid_call_restarts, 60),
		T_CASE(fake_restarts_are_limited, 60),
		T_CASE(fake_silence_times_out, 60),
		T_CASE(fake_wrong_id_is_not_an_answer, 60),
		T_CASE(fake_flood_stays_bounded, 180),
		T_CASE(fake_oversize_message, 60),
		T_CASE(fake_concurrent_calls, 60),
		T_CASE(fake_server_requests, 60),
		T_CASE(fake_execution_end_cancels, 60),
		T_CASE(fake_execution_end_cancels_a_restart, 60),
		T_CASE(fake_pages_env_cwd, 60),
		T_CASE(fake_start_failures, 60),
		T_CASE(http_session_headers_and_expiry, 60),
		T_CASE(http_streams_carry_requests_and_floods, 60),
		T_CASE(http_failures, 60),
		T_CASE(config_http_server, 60),
		T_CASE(options_are_checked, 30),
		T_CASE(approval_remade_tools, 60),
		T_CASE(last_reference_stops_the_server, 60),
	};
	const char *why;

	/* Meson reads exit status 77 as "skipped"; the reason goes to the test's log. */
	if (argc > 1 && strcmp(argv[1], "--list") != 0 && (why = missing(argv[1]))) {
		printf("skipped %s: %s\n", argv[1], why);
		return 77;
	}
	return t_main("mcp", cases, ARRAY_SIZE(cases), argc, argv);
}
