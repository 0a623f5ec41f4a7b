/* SPDX-License-Identifier: MIT */
/*
 * The tool calls of one model message run at once, against the scripted
 * fake OpenAI-compatible server (tests/agent/fake_openai.py): they overlap
 * up to cact_run_options.max_parallel (4 by default, 1 one after another),
 * their results reach the model in the order it asked for them whatever
 * order they finish in, approval questions come one at a time in that
 * order before anything runs, events never overlap, the execute_code calls
 * of a persistent conversation take turns in order, and images are named
 * in what the model reads. `cact agent` tells the calls apart.
 *
 * No case measures time: overlap is seen by calls that wait for each other.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "../common.h"

extern char **environ;

#define CLI(in, out, err, ...) t_cli((const char *const[]){__VA_ARGS__, NULL}, (in), (out), (err))

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* text with every backquote turned into a double quote. Owned. */
static char *script_text(const char *text)
{
	char *s = strdup(text), *p;

	ck_assert(s != NULL);
	for (p = s; *p; p++)
		if (*p == '`')
			*p = '"';
	return s;
}

/* ---- the fake model server ---- */

struct fake {
	char *dir;
	pid_t pid;
	int in_fd; /* the server's stdin: closing it stops the server */
	char url[64];
};

static void fake_start(struct fake *f, const char *script)
{
	const char *root = getenv("CACT_SOURCE_ROOT");
	posix_spawn_file_actions_t fa;
	char *server, *port_file, *script_file, *log_file, *s = script_text(script);
	const char *argv[12];
	int p[2], port = 0, i, status;
	json_error_t jerr;
	json_t *v = json_loads(s, 0, &jerr);

	ck_assert_msg(v != NULL, "the script is not JSON: %s: %s", jerr.text, s);
	json_decref(v);
	memset(f, 0, sizeof(*f));
	ck_assert_msg(root != NULL, "CACT_SOURCE_ROOT is not set");
	f->dir = t_tmpdir();
	t_write(f->dir, "script.json", s);
	free(s);
	server = t_fmt("%s/tests/agent/fake_openai.py", root);
	port_file = t_fmt("%s/port", f->dir);
	script_file = t_fmt("%s/script.json", f->dir);
	log_file = t_fmt("%s/log.jsonl", f->dir);
	argv[0] = "/usr/bin/python3";
	argv[1] = "-I";
	argv[2] = server;
	argv[3] = "--port-file";
	argv[4] = port_file;
	argv[5] = "--script";
	argv[6] = script_file;
	argv[7] = "--log";
	argv[8] = log_file;
	argv[9] = "--lifetime";
	argv[10] = "100";
	argv[11] = NULL;
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[0], 0);
	ck_assert_int_eq(posix_spawn(&f->pid, argv[0], &fa, NULL, (char *const *)argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(p[0]);
	f->in_fd = p[1];
	for (i = 0; i < 2000 && port == 0; i++) {
		FILE *pf = fopen(port_file, "r");

		if (pf) {
			if (fscanf(pf, "%d", &port) != 1)
				port = 0;
			fclose(pf);
		}
		if (port == 0) {
			ck_assert_msg(waitpid(f->pid, &status, WNOHANG) == 0,
				      "the fake server exited before listening");
			sleep_ms(5);
		}
	}
	ck_assert_msg(port > 0, "the fake server did not write its port");
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d/v1", port);
	free(server);
	free(port_file);
	free(script_file);
	free(log_file);
}

static void fake_stop(struct fake *f)
{
	int status;

	close(f->in_fd);
	waitpid(f->pid, &status, 0);
	t_rmtree(f->dir);
	free(f->dir);
}

/* The server's log, checked: n requests, none refused by the script's expectations. */
static json_t *fake_log_n(const struct fake *f, size_t n)
{
	char *path = t_fmt("%s/log.jsonl", f->dir), *line = NULL;
	json_t *all = json_array(), *e;
	size_t cap = 0, i;
	FILE *fp = fopen(path, "r");

	while (fp && getline(&line, &cap, fp) > 0) {
		json_t *v = json_loads(line, 0, NULL);

		ck_assert(v != NULL);
		json_array_append_new(all, v);
	}
	if (fp)
		fclose(fp);
	free(line);
	free(path);
	json_array_foreach(all, i, e) {
		ck_assert_msg(json_is_null(json_object_get(e, "failed")),
			      "request %zu was refused by the fake server: %s", i,
			      json_string_value(json_object_get(e, "failed")));
	}
	ck_assert_msg(json_array_size(all) == n, "%zu requests reached the server, expected %zu",
		      json_array_size(all), n);
	return all;
}

/* The tool messages of request i, "id=content" joined with "|", in their order. Owned. */
static char *tool_messages(json_t *log, size_t i)
{
	json_t *req = json_object_get(json_array_get(log, i), "request"), *m;
	char *s = strdup(""), *grown;
	size_t k;

	json_array_foreach(json_object_get(req, "messages"), k, m) {
		if (strcmp(json_string_value(json_object_get(m, "role")), "tool") != 0)
			continue;
		grown = t_fmt("%s%s%s=%s", s, s[0] ? "|" : "",
			      json_string_value(json_object_get(m, "tool_call_id")),
			      json_string_value(json_object_get(m, "content")));
		free(s);
		s = grown;
	}
	return s;
}

/* ---- tools that see each other ---- */

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static int g_in_flight, g_max_in_flight, g_calls;
static int g_wait_for;	 /* a call waits until this many are in flight at once (0: no wait) */
static int g_c_finished; /* "slow_a" waits for "fast_c" to finish first */
static int g_b_finished; /* "probe_b" has finished once */
static char g_finish_order[256];

/* Waits on g_cv for cond, at most ms; 1 when it came. */
#define WAIT_FOR(cond, ms)                                                        \
	({                                                                        \
		struct timespec until_;                                           \
		int ok_ = 1;                                                      \
		clock_gettime(CLOCK_REALTIME, &until_);                           \
		until_.tv_sec += (ms) / 1000;                                     \
		while (!(cond) && ok_)                                            \
			ok_ = pthread_cond_timedwait(&g_cv, &g_mu, &until_) == 0; \
		(cond);                                                           \
	})

/*
 * Counts the calls in flight. With g_wait_for, waits (at most 20 s) until
 * that many are in flight: calls run one after another never get there.
 * "slow_a" waits for "fast_c" to have finished. Returns "<name>:<its x>".
 */
static int cb_probe(void *user, const char *name, const char *args, char **result,
		    struct cact_error *err)
{
	json_t *a = json_loads(args, 0, NULL);
	long long x = json_integer_value(json_object_get(a, "x"));

	(void)user;
	(void)err;
	json_decref(a);
	pthread_mutex_lock(&g_mu);
	g_calls++;
	g_in_flight++;
	if (g_in_flight > g_max_in_flight)
		g_max_in_flight = g_in_flight;
	pthread_cond_broadcast(&g_cv);
	if (g_wait_for)
		WAIT_FOR(g_max_in_flight >= g_wait_for, 20000);
	if (strcmp(name, "slow_a") == 0)
		WAIT_FOR(g_c_finished, 20000);
	pthread_mutex_unlock(&g_mu);
	if (!g_wait_for)
		sleep_ms(20); /* room for another call to overlap, were one running */
	pthread_mutex_lock(&g_mu);
	g_in_flight--;
	if (strcmp(name, "fast_c") == 0)
		g_c_finished = 1;
	if (strcmp(name, "probe_b") == 0)
		g_b_finished = 1;
	snprintf(g_finish_order + strlen(g_finish_order),
		 sizeof(g_finish_order) - strlen(g_finish_order), "%s%s",
		 g_finish_order[0] ? "," : "", name);
	pthread_cond_broadcast(&g_cv);
	pthread_mutex_unlock(&g_mu);
	return asprintf(result, "\"%s:%lld\"", name, x) < 0 ? CACT_ENOMEM : 0;
}

/* A sandbox tool: waits (at most 20 s) for probe_b to have finished; true when it did. */
static int cb_wait_probe(void *user, const char *name, const char *args, char **result,
			 struct cact_error *err)
{
	int done;

	(void)user;
	(void)name;
	(void)args;
	(void)err;
	pthread_mutex_lock(&g_mu);
	done = WAIT_FOR(g_b_finished, 20000);
	pthread_mutex_unlock(&g_mu);
	*result = strdup(done ? "true" : "false");
	return *result ? 0 : CACT_ENOMEM;
}

#define X_PARAMS "{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"integer\"}}}"

static void add_probe(struct cact_agent *a, const char *name, enum cact_approval approval)
{
	struct cact_tool *t = NULL;
	struct cact_error err = {0};

	ck_assert_msg(cact_tool_new_callback(name, "a probe", X_PARAMS, approval, cb_probe, NULL,
					     &t, &err) == 0,
		      "%s", err.message);
	ck_assert_msg(cact_agent_add_tool(a, t, &err) == 0, "%s", err.message);
	cact_tool_unref(t);
}

/* ---- events and approvals ---- */

static atomic_int g_event_inside, g_event_overlap;
static char g_results[512]; /* TOOL_RESULT events: "name#call/calls" in the order they came */
static char g_calls_seen[512];

static void on_event(void *user, const struct cact_event *ev)
{
	(void)user;
	if (atomic_fetch_add(&g_event_inside, 1) != 0)
		atomic_fetch_add(&g_event_overlap, 1);
	sleep_ms(1); /* widen the window an overlap would need */
	pthread_mutex_lock(&g_mu);
	if (ev->kind == CACT_EVENT_TOOL_RESULT || ev->kind == CACT_EVENT_TOOL_CALL) {
		char *buf = ev->kind == CACT_EVENT_TOOL_RESULT ? g_results : g_calls_seen;

		snprintf(buf + strlen(buf), 512 - strlen(buf), "%s%s#%u/%u", buf[0] ? "," : "",
			 ev->name, ev->call, ev->calls);
	}
	pthread_mutex_unlock(&g_mu);
	atomic_fetch_sub(&g_event_inside, 1);
}

static atomic_int g_asking, g_ask_overlap, g_asked_while_running;
static char g_asked[512];

/* Approves every call but those whose arguments hold "x":2; records the order. */
static int approve(void *user, const char *name, const char *args)
{
	int yes = strstr(args, "\"x\":2") == NULL;

	(void)user;
	if (atomic_fetch_add(&g_asking, 1) != 0)
		atomic_fetch_add(&g_ask_overlap, 1);
	sleep_ms(20); /* a person reading: another question must not come meanwhile */
	pthread_mutex_lock(&g_mu);
	if (g_in_flight)
		atomic_fetch_add(&g_asked_while_running, 1);
	snprintf(g_asked + strlen(g_asked), sizeof(g_asked) - strlen(g_asked), "%s%s%s",
		 g_asked[0] ? "," : "", name, args);
	pthread_mutex_unlock(&g_mu);
	atomic_fetch_sub(&g_asking, 1);
	return yes;
}

/* ---- agents ---- */

struct world {
	struct fake f;
	struct cact_chat *chat;
	struct cact_agent *agent;
	struct cact_session *s;
};

static void world_up(struct world *w, const char *script)
{
	struct cact_chat_options o;
	struct cact_error err = {0};

	fake_start(&w->f, script);
	cact_chat_options_init(&o);
	o.base_url = w->f.url;
	o.model = "fake";
	o.max_retries = 0;
	o.timeout_ms = 60000;
	ck_assert_msg(cact_chat_new(&o, &w->chat, &err) == 0, "%s", err.message);
	ck_assert_msg(cact_agent_new(w->chat, NULL, &w->agent, &err) == 0, "%s", err.message);
	ck_assert_int_eq(cact_session_new(&w->s), 0);
}

static void world_down(struct world *w)
{
	cact_session_free(w->s);
	cact_agent_free(w->agent);
	cact_chat_free(w->chat);
	fake_stop(&w->f);
}

static struct cact_run *run_ok(struct world *w, const char *prompt,
			       const struct cact_run_options *o)
{
	struct cact_run *r = NULL;
	struct cact_error err = {0};

	ck_assert_msg(cact_agent_run(w->agent, w->s, prompt, o, &r, &err) == 0,
		      "cact_agent_run: %s", err.message);
	ck_assert_msg(cact_run_stop(r) == CACT_STOP_FINAL, "no final answer");
	return r;
}

/* A model message asking for slow_a, probe_b, fast_c at once; then the answer. */
static const char three_calls[] =
	"["
	"{`response`: {`tool_calls`: ["
	"  {`id`: `t1`, `name`: `slow_a`, `arguments`: {`x`: 1}},"
	"  {`id`: `t2`, `name`: `probe_b`, `arguments`: {`x`: 2}},"
	"  {`id`: `t3`, `name`: `fast_c`, `arguments`: {`x`: 3}}]}},"
	"{`expect`: {`tool_result_contains`: `fast_c:3`}, `response`: {`content`: `done`}}]";

/* Three calls overlap; c finishes before a, yet the model reads a, b, c. */
START_TEST(calls_run_at_once_results_in_order)
{
	struct cact_run_options o = {.on_event = on_event};
	struct world w;
	struct cact_run *r;
	json_t *log;
	char *tools;

	world_up(&w, three_calls);
	add_probe(w.agent, "slow_a", CACT_APPROVAL_NEVER_REQUIRE);
	add_probe(w.agent, "probe_b", CACT_APPROVAL_NEVER_REQUIRE);
	add_probe(w.agent, "fast_c", CACT_APPROVAL_NEVER_REQUIRE);
	g_wait_for = 3;
	r = run_ok(&w, "go", &o);
	ck_assert_str_eq(cact_run_text(r), "done");
	ck_assert_int_eq(g_max_in_flight, 3);
	/* a waited for c, so they did not finish in the model's order... */
	ck_assert_msg(strstr(g_finish_order, "fast_c") < strstr(g_finish_order, "slow_a"),
		      "finish order %s", g_finish_order);
	/* ...but the model reads them in its order, each with its own answer. */
	log = fake_log_n(&w.f, 2);
	tools = tool_messages(log, 1);
	ck_assert_str_eq(tools, "t1=slow_a:1|t2=probe_b:2|t3=fast_c:3");
	/* Events: the calls told in order; results as they come, each with its place. */
	ck_assert_str_eq(g_calls_seen, "slow_a#1/3,probe_b#2/3,fast_c#3/3");
	ck_assert_msg(strlen(g_results) == strlen(g_calls_seen) &&
			      strstr(g_results, "slow_a#1/3") && strstr(g_results, "probe_b#2/3") &&
			      strstr(g_results, "fast_c#3/3"),
		      "results %s", g_results);
	ck_assert_int_eq(atomic_load(&g_event_overlap), 0);
	free(tools);
	json_decref(log);
	cact_run_free(r);
	world_down(&w);
}
END_TEST

/* Eight calls: never more than four at once by default; one at a time with max_parallel 1. */
START_TEST(concurrency_is_bounded)
{
	static const char eight[] = "["
				    "{`response`: {`tool_calls`: ["
				    "  {`id`: `p1`, `name`: `probe_b`, `arguments`: {`x`: 1}},"
				    "  {`id`: `p2`, `name`: `probe_b`, `arguments`: {`x`: 2}},"
				    "  {`id`: `p3`, `name`: `probe_b`, `arguments`: {`x`: 3}},"
				    "  {`id`: `p4`, `name`: `probe_b`, `arguments`: {`x`: 4}},"
				    "  {`id`: `p5`, `name`: `probe_b`, `arguments`: {`x`: 5}},"
				    "  {`id`: `p6`, `name`: `probe_b`, `arguments`: {`x`: 6}},"
				    "  {`id`: `p7`, `name`: `probe_b`, `arguments`: {`x`: 7}},"
				    "  {`id`: `p8`, `name`: `probe_b`, `arguments`: {`x`: 8}}]}},"
				    "{`response`: {`content`: `done`}}]";
	struct cact_run_options o = {0};
	struct world w;
	struct cact_run *r;
	json_t *log;
	char *tools;

	/* Each call waits until four are in flight: eight calls get there twice, never five. */
	world_up(&w, eight);
	add_probe(w.agent, "probe_b", CACT_APPROVAL_NEVER_REQUIRE);
	g_wait_for = CACT_RUN_PARALLEL_DEFAULT;
	r = run_ok(&w, "go", &o);
	ck_assert_int_eq(g_calls, 8);
	ck_assert_int_eq(g_max_in_flight, CACT_RUN_PARALLEL_DEFAULT);
	log = fake_log_n(&w.f, 2);
	tools = tool_messages(log, 1);
	ck_assert_str_eq(tools, "p1=probe_b:1|p2=probe_b:2|p3=probe_b:3|p4=probe_b:4|"
				"p5=probe_b:5|p6=probe_b:6|p7=probe_b:7|p8=probe_b:8");
	free(tools);
	json_decref(log);
	cact_run_free(r);
	world_down(&w);

	/* One at a time: no call ever sees another. */
	g_wait_for = 0;
	g_max_in_flight = g_calls = 0;
	world_up(&w, eight);
	add_probe(w.agent, "probe_b", CACT_APPROVAL_NEVER_REQUIRE);
	o.max_parallel = 1;
	r = run_ok(&w, "go", &o);
	ck_assert_int_eq(g_calls, 8);
	ck_assert_int_eq(g_max_in_flight, 1);
	log = fake_log_n(&w.f, 2);
	tools = tool_messages(log, 1);
	ck_assert_str_eq(tools, "p1=probe_b:1|p2=probe_b:2|p3=probe_b:3|p4=probe_b:4|"
				"p5=probe_b:5|p6=probe_b:6|p7=probe_b:7|p8=probe_b:8");
	free(tools);
	json_decref(log);
	cact_run_free(r);
	world_down(&w);
}
END_TEST

/* Questions come one at a time, in the model's order, before anything runs. */
START_TEST(approvals_one_at_a_time_in_order)
{
	struct cact_run_options o = {.approve = approve, .on_event = on_event};
	struct world w;
	struct cact_run *r;
	json_t *log;
	char *tools;

	world_up(&w, three_calls);
	add_probe(w.agent, "slow_a", CACT_APPROVAL_ALWAYS_REQUIRE);
	add_probe(w.agent, "probe_b", CACT_APPROVAL_ALWAYS_REQUIRE);
	add_probe(w.agent, "fast_c", CACT_APPROVAL_ALWAYS_REQUIRE);
	g_wait_for = 2; /* the two approved calls still overlap */
	r = run_ok(&w, "go", &o);
	ck_assert_str_eq(g_asked, "slow_a{\"x\":1},probe_b{\"x\":2},fast_c{\"x\":3}");
	ck_assert_int_eq(atomic_load(&g_ask_overlap), 0);
	ck_assert_int_eq(atomic_load(&g_asked_while_running), 0);
	ck_assert_int_eq(g_calls, 2);
	ck_assert_int_eq(g_max_in_flight, 2);
	log = fake_log_n(&w.f, 2);
	tools = tool_messages(log, 1);
	ck_assert_msg(strncmp(tools, "t1=slow_a:1|t2=Denied: ", 23) == 0 &&
			      strstr(tools, "|t3=fast_c:3"),
		      "the model read %s", tools);
	ck_assert_int_eq(atomic_load(&g_event_overlap), 0);
	free(tools);
	json_decref(log);
	cact_run_free(r);
	world_down(&w);
}
END_TEST

/*
 * A persistent conversation's execute_code calls share one interpreter:
 * they take turns in the model's order (the second sees the first's
 * variable) while a direct tool in the same message runs beside them (the
 * first waits for it to finish). The model reads an image as an image.
 */
START_TEST(persistent_calls_take_turns)
{
	static const char script[] =
		"["
		"{`response`: {`tool_calls`: ["
		"  {`id`: `e1`, `name`: `execute_code`, `arguments`: {`code`:"
		"    `ok = call_tool('wait_probe')\\nx = 41\\nprint('set', ok)`}},"
		"  {`id`: `e2`, `name`: `execute_code`, `arguments`: {`code`:"
		"    `import base64\\nopen('/output/dot.png', 'wb').write(base64.b64decode("
		"'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAA"
		"ABJRU5E"
		"rkJggg=='))\\nprint(x + 1)`}},"
		"  {`id`: `e3`, `name`: `probe_b`, `arguments`: {`x`: 9}}]}},"
		"{`response`: {`content`: `done`}}]";
	struct cact_run_options o = {.on_event = on_event};
	struct cact_runtime *rt = t_runtime();
	struct cact_codeact *cc = NULL;
	struct cact_context_provider p;
	struct cact_error err = {0};
	struct world w;
	struct cact_run *r;
	json_t *log;
	char *tools;

	world_up(&w, script);
	ck_assert_int_eq(cact_codeact_new(rt, &cc, &err), 0);
	cact_codeact_set_persistent(cc, 1);
	{
		struct cact_tool *t = NULL;

		ck_assert(cact_tool_new_callback("wait_probe", "waits", NULL,
						 CACT_APPROVAL_NEVER_REQUIRE, cb_wait_probe, NULL,
						 &t, &err) == 0);
		ck_assert_msg(cact_codeact_add_tool(cc, t, &err) == 0, "%s", err.message);
		cact_tool_unref(t);
	}
	ck_assert_msg(cact_codeact_provider(cc, 0, &p, &err) == 0, "%s", err.message);
	ck_assert_msg(cact_agent_add_provider(w.agent, &p, &err) == 0, "%s", err.message);
	add_probe(w.agent, "probe_b", CACT_APPROVAL_NEVER_REQUIRE);
	r = run_ok(&w, "go", &o);
	log = fake_log_n(&w.f, 2);
	tools = tool_messages(log, 1);
	ck_assert_msg(strncmp(tools, "e1=set True\n|e2=42\n", 19) == 0, "the model read %s", tools);
	ck_assert_msg(
		strstr(tools, "- /output/dot.png (image/png, 70 bytes): an image, 1x1 pixels\n"),
		"the image is not named: %s", tools);
	ck_assert_msg(strstr(tools, "|e3=probe_b:9"), "the model read %s", tools);
	/* e1 read True: the direct tool finished while e1 ran, not after it. */
	ck_assert_msg(strstr(g_results, "probe_b#3/3"), "results %s", g_results);
	free(tools);
	json_decref(log);
	cact_run_free(r);
	world_down(&w);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
}
END_TEST

/* cact agent says which call of a message each line is about. */
START_TEST(cli_names_the_calls)
{
	static const char script[] =
		"["
		"{`response`: {`tool_calls`: ["
		"  {`id`: `e1`, `name`: `execute_code`, `arguments`: {`code`: `print('one')`}},"
		"  {`id`: `e2`, `name`: `execute_code`, `arguments`: {`code`:"
		"    `open('/output/r.csv', 'w').write('a,b')\\nprint('two')`}}]}},"
		"{`expect`: {`tool_result_contains`: `/output/r.csv (text/csv, 3 bytes): text`},"
		" `response`: {`content`: `both ran`}}]";
	struct fake f;
	char *out = NULL, *err = NULL;
	int rc;

	fake_start(&f, script);
	rc = CLI(NULL, &out, &err, "agent", "--base-url", f.url, "--model", "fake", "go");
	ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
	ck_assert_str_eq(out, "both ran\n");
	ck_assert_msg(strstr(err, "execute_code (call 1 of 2)") &&
			      strstr(err, "execute_code (call 2 of 2) ok"),
		      "stderr: %s", err);
	json_decref(fake_log_n(&f, 2));
	free(out);
	free(err);
	fake_stop(&f);
}
END_TEST

int main(int argc, char **argv)
{
	const struct t_case cases[] = {
		T_CASE(calls_run_at_once_results_in_order, 60),
		T_CASE(concurrency_is_bounded, 60),
		T_CASE(approvals_one_at_a_time_in_order, 60),
		T_CASE(persistent_calls_take_turns, 90),
		T_CASE(cli_names_the_calls, 90),
	};

	return t_main("agent_parallel", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
