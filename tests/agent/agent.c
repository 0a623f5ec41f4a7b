/* SPDX-License-Identifier: MIT */
/*
 * The agent runtime end to end through the public API, against the scripted
 * fake OpenAI-compatible server (tests/agent/fake_openai.py): the loop,
 * execute_code in the real sandbox, approval, step limits, tool errors,
 * retries, streaming, sessions, the CodeAct provider and its configuration
 * changing between runs, events, concurrent runs, and `cact agent`.
 *
 * Scripts and configuration files are written with backquotes for double
 * quotes (see script_text) so that they read as JSON in the source.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "../common.h"

extern char **environ;

/* Runs the CLI with a NULL-terminated argv built from the arguments. */
#define CLI(in, out, err, ...) t_cli((const char *const[]){__VA_ARGS__, NULL}, (in), (out), (err))

static char *xstrdup(const char *s)
{
	char *p = strdup(s);

	ck_assert(p != NULL);
	return p;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static size_t count_char(const char *s, char c)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == c;
	return n;
}

/* text with every backquote turned into a double quote. Owned. */
static char *script_text(const char *text)
{
	char *s = xstrdup(text), *p;

	for (p = s; *p; p++)
		if (*p == '`')
			*p = '"';
	return s;
}

static void write_json(const char *dir, const char *name, const char *text)
{
	char *s = script_text(text);
	json_error_t jerr;
	json_t *v = json_loads(s, 0, &jerr);

	ck_assert_msg(v != NULL, "%s is not JSON: %s: %s", name, jerr.text, s);
	json_decref(v);
	t_write(dir, name, s);
	free(s);
}

/* ---- the fake model server ---- */

struct fake {
	char *dir; /* script.json, log.jsonl, port */
	pid_t pid;
	int in_fd; /* the server's stdin: closing it stops the server */
	char url[64];
};

static void fake_start(struct fake *f, const char *script)
{
	const char *root = getenv("CACT_SOURCE_ROOT");
	posix_spawn_file_actions_t fa;
	char *server, *port_file, *script_file, *log_file;
	const char *argv[12];
	int p[2], port = 0, i, status;

	memset(f, 0, sizeof(*f));
	ck_assert_msg(root != NULL, "CACT_SOURCE_ROOT is not set");
	f->dir = t_tmpdir();
	write_json(f->dir, "script.json", script);
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
	/* Close-on-exec: the sandbox and the CLI must not hold the server's stdin open. */
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

/* The server's log: one object per request ({step, request, headers, failed}). */
static json_t *fake_log(const struct fake *f)
{
	char *path = t_fmt("%s/log.jsonl", f->dir), *line = NULL;
	json_t *all = json_array();
	size_t cap = 0;
	FILE *fp = fopen(path, "r");

	ck_assert(all != NULL);
	while (fp && getline(&line, &cap, fp) > 0) {
		json_error_t jerr;
		json_t *v = json_loads(line, 0, &jerr);

		ck_assert_msg(v != NULL, "log line is not JSON: %s", jerr.text);
		json_array_append_new(all, v);
	}
	if (fp)
		fclose(fp);
	free(line);
	free(path);
	return all;
}

/* The log, checked: n requests, none refused by the script's expectations. */
static json_t *fake_log_n(const struct fake *f, size_t n)
{
	json_t *log = fake_log(f), *e;
	size_t i;

	json_array_foreach(log, i, e) {
		json_t *failed = json_object_get(e, "failed");

		ck_assert_msg(json_is_null(failed),
			      "request %zu was refused by the fake server: %s", i,
			      json_string_value(failed));
	}
	ck_assert_msg(json_array_size(log) == n, "%zu requests reached the server, expected %zu",
		      json_array_size(log), n);
	return log;
}

/* A string member, "" when missing. Borrowed. */
static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static json_t *log_req(json_t *log, size_t i)
{
	json_t *req = json_object_get(json_array_get(log, i), "request");

	ck_assert_msg(json_is_object(req), "request %zu is missing from the log", i);
	return req;
}

/* The content of the tool message answering call id, NULL when none. */
static const char *tool_content(json_t *req, const char *id)
{
	json_t *m;
	size_t i;

	json_array_foreach(json_object_get(req, "messages"), i, m) {
		if (strcmp(jstr(m, "role"), "tool") == 0 &&
		    strcmp(jstr(m, "tool_call_id"), id) == 0)
			return json_string_value(json_object_get(m, "content"));
	}
	return NULL;
}

/* The request's system messages, how many in *n; the first one's text. */
static const char *system_text(json_t *req, size_t *n)
{
	const char *first = NULL;
	json_t *m;
	size_t i;

	*n = 0;
	json_array_foreach(json_object_get(req, "messages"), i, m) {
		if (strcmp(jstr(m, "role"), "system") == 0) {
			if ((*n)++ == 0)
				first = json_string_value(json_object_get(m, "content"));
		}
	}
	return first;
}

/* The description of the offered function name, NULL when it is not offered. */
static const char *tool_description(json_t *req, const char *name)
{
	json_t *t;
	size_t i;

	json_array_foreach(json_object_get(req, "tools"), i, t) {
		json_t *fn = json_object_get(t, "function");

		if (strcmp(jstr(fn, "name"), name) == 0)
			return jstr(fn, "description");
	}
	return NULL;
}

/* The names of the offered functions, joined with commas. Owned. */
static char *tool_names(json_t *req)
{
	char *s = xstrdup(""), *grown;
	json_t *t;
	size_t i;

	json_array_foreach(json_object_get(req, "tools"), i, t) {
		grown = t_fmt(
			"%s%s%s", s, i ? "," : "",
			json_string_value(json_object_get(json_object_get(t, "function"), "name")));
		free(s);
		s = grown;
	}
	return s;
}

/* ---- what the tools and callbacks saw (each case runs in a process of its own) ---- */

static atomic_int g_compute_calls;
static atomic_int g_count_calls;
static atomic_int g_approvals;
static atomic_int g_guest_checks;
static atomic_int g_guest_bad;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_appr_name[256];
static char g_appr_args[8192];
static char g_count_args[8192];
static struct cact_runtime *g_rt; /* the one runtime a case uses, when it checks that */
static struct cact_codeact *g_cc; /* the configuration the gate tool changes */
static struct cact_tool *g_late;  /* the tool the gate adds */

/* This process's children that run cact-guest: how many, the first in *first. */
static int guest_children(pid_t *first)
{
	char path[320], comm[64];
	DIR *tasks = opendir("/proc/self/task");
	struct dirent *de;
	int n = 0, c;

	if (!tasks)
		return -1;
	while ((de = readdir(tasks))) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/children", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fscanf(f, "%d", &c) == 1) {
			FILE *cf;

			snprintf(path, sizeof(path), "/proc/%d/comm", c);
			cf = fopen(path, "r");
			if (cf && fgets(comm, sizeof(comm), cf) &&
			    strcmp(comm, "cact-guest\n") == 0 && n++ == 0)
				*first = c;
			if (cf)
				fclose(cf);
		}
		fclose(f);
	}
	closedir(tasks);
	return n;
}

/* Checks, while an execution calls a tool, that g_rt's helper is the only one running. */
static void check_one_runtime(void)
{
	pid_t first = 0;
	size_t n_desc = 0;
	pid_t *desc;

	if (!g_rt)
		return;
	atomic_fetch_add(&g_guest_checks, 1);
	if (guest_children(&first) != 1 || first != cact_runtime_zygote_pid(g_rt)) {
		atomic_fetch_add(&g_guest_bad, 1);
		return;
	}
	/* The helper, the zygote and the execution at least. */
	desc = t_descendants(first, &n_desc);
	if (n_desc < 2)
		atomic_fetch_add(&g_guest_bad, 1);
	free(desc);
}

/* {"a": x, "b": y} -> x + y. */
static int cb_compute(void *user, const char *name, const char *args, char **result,
		      struct cact_error *err)
{
	json_t *a = json_loads(args, 0, NULL);
	long long x = json_integer_value(json_object_get(a, "a"));
	long long y = json_integer_value(json_object_get(a, "b"));

	(void)user;
	(void)name;
	(void)err;
	json_decref(a);
	atomic_fetch_add(&g_compute_calls, 1);
	check_one_runtime();
	return asprintf(result, "%lld", x + y) < 0 ? CACT_ENOMEM : 0;
}

/* Counts its calls, records the arguments and returns the JSON text in user. */
static int cb_count(void *user, const char *name, const char *args, char **result,
		    struct cact_error *err)
{
	(void)name;
	(void)err;
	atomic_fetch_add(&g_count_calls, 1);
	pthread_mutex_lock(&g_mu);
	snprintf(g_count_args, sizeof(g_count_args), "%s", args);
	pthread_mutex_unlock(&g_mu);
	*result = strdup(user);
	return *result ? 0 : CACT_ENOMEM;
}

/* Returns the JSON text in user. */
static int cb_const(void *user, const char *name, const char *args, char **result,
		    struct cact_error *err)
{
	(void)name;
	(void)args;
	(void)err;
	*result = strdup(user);
	return *result ? 0 : CACT_ENOMEM;
}

/* Fails with the message in user. */
static int cb_fail(void *user, const char *name, const char *args, char **result,
		   struct cact_error *err)
{
	(void)name;
	(void)args;
	*result = NULL;
	snprintf(err->message, sizeof(err->message), "%s", (const char *)user);
	err->code = CACT_EINVAL;
	return CACT_EINVAL;
}

/* Adds g_late to g_cc while the run that called it is in flight. */
static int cb_gate(void *user, const char *name, const char *args, char **result,
		   struct cact_error *err)
{
	(void)user;
	(void)name;
	(void)args;
	if (cact_codeact_add_tool(g_cc, g_late, err))
		return err->code;
	*result = strdup("\"opened\"");
	return *result ? 0 : CACT_ENOMEM;
}

/* Records what it was asked and answers (intptr_t)user. */
static int approve_fn(void *user, const char *name, const char *args)
{
	atomic_fetch_add(&g_approvals, 1);
	pthread_mutex_lock(&g_mu);
	snprintf(g_appr_name, sizeof(g_appr_name), "%s", name);
	snprintf(g_appr_args, sizeof(g_appr_args), "%s", args);
	pthread_mutex_unlock(&g_mu);
	return (int)(intptr_t)user;
}

#define COMPUTE_PARAMS                                                                       \
	"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":{\"type\":" \
	"\"integer\"}},\"required\":[\"a\",\"b\"],\"additionalProperties\":false}"

static struct cact_tool *tool_new(const char *name, const char *desc, const char *params,
				  enum cact_approval approval, cact_tool_fn fn, void *user)
{
	struct cact_tool *t = NULL;
	struct cact_error err = {0};

	ck_assert_msg(cact_tool_new_callback(name, desc, params, approval, fn, user, &t, &err) == 0,
		      "%s", err.message);
	return t;
}

/* ---- events ---- */

struct rec {
	enum cact_event_kind kind;
	unsigned step;
	char name[64];
	char *text;
	int ok;
	int has_result;
	enum cact_status status;
	size_t n_files;
	char file_path[128];
	char *file_data;
	uint64_t tool_calls;
	uint64_t prompt_tokens, completion_tokens;
	unsigned call; /* TOOL_CALL, TOOL_RESULT: its place in the model's message */
};

struct events {
	pthread_mutex_t mu;
	struct rec r[256];
	size_t n;
};

static void events_init(struct events *e)
{
	memset(e, 0, sizeof(*e));
	pthread_mutex_init(&e->mu, NULL);
}

static void events_free(struct events *e)
{
	size_t i;

	for (i = 0; i < e->n; i++) {
		free(e->r[i].text);
		free(e->r[i].file_data);
	}
	pthread_mutex_destroy(&e->mu);
}

static void on_event(void *user, const struct cact_event *ev)
{
	struct events *e = user;
	struct rec *r;

	pthread_mutex_lock(&e->mu);
	if (e->n < sizeof(e->r) / sizeof(e->r[0])) {
		r = &e->r[e->n++];
		r->kind = ev->kind;
		r->step = ev->step;
		snprintf(r->name, sizeof(r->name), "%s", ev->name ? ev->name : "");
		r->text = ev->text ? strndup(ev->text, ev->len) : NULL;
		r->ok = ev->ok;
		r->call = ev->call;
		r->prompt_tokens = ev->prompt_tokens;
		r->completion_tokens = ev->completion_tokens;
		if (ev->result) {
			struct cact_stats st;
			struct cact_file file;

			r->has_result = 1;
			r->status = cact_result_status(ev->result);
			r->n_files = cact_result_file_count(ev->result);
			cact_result_stats(ev->result, &st);
			r->tool_calls = st.tool_calls;
			if (r->n_files && cact_result_file(ev->result, 0, &file) == 0) {
				snprintf(r->file_path, sizeof(r->file_path), "%s", file.path);
				r->file_data = strndup((const char *)file.data, file.size);
			}
		}
	}
	pthread_mutex_unlock(&e->mu);
}

static const char *kind_name(enum cact_event_kind k)
{
	switch (k) {
	case CACT_EVENT_STEP:
		return "step";
	case CACT_EVENT_TEXT:
		return "text";
	case CACT_EVENT_MODEL:
		return "model";
	case CACT_EVENT_TOOL_CALL:
		return "call";
	case CACT_EVENT_TOOL_RESULT:
		return "result";
	case CACT_EVENT_SANDBOX_CALL:
		return "sbcall";
	case CACT_EVENT_SANDBOX_DONE:
		return "sbdone";
	case CACT_EVENT_OUTPUT:
		return "output";
	}
	return "?";
}

/* The kinds in order, runs of text (and of output) events as one. Owned. */
static char *event_kinds(const struct events *e)
{
	char *s = xstrdup(""), *grown;
	size_t i;

	for (i = 0; i < e->n; i++) {
		if (i && (e->r[i].kind == CACT_EVENT_TEXT || e->r[i].kind == CACT_EVENT_OUTPUT) &&
		    e->r[i - 1].kind == e->r[i].kind)
			continue;
		grown = t_fmt("%s%s%s", s, i ? " " : "", kind_name(e->r[i].kind));
		free(s);
		s = grown;
	}
	return s;
}

/* The i-th event of kind k (from 0), or NULL. */
static const struct rec *event_nth(const struct events *e, enum cact_event_kind k, size_t i)
{
	size_t j;

	for (j = 0; j < e->n; j++)
		if (e->r[j].kind == k && i-- == 0)
			return &e->r[j];
	return NULL;
}

/* The TOOL_RESULT event of the message's call-th call (from 1), or NULL. */
static const struct rec *result_of_call(const struct events *e, unsigned call)
{
	size_t j;

	for (j = 0; j < e->n; j++)
		if (e->r[j].kind == CACT_EVENT_TOOL_RESULT && e->r[j].call == call)
			return &e->r[j];
	return NULL;
}

/* ---- agents ---- */

static struct cact_chat *chat_new(const struct fake *f, int stream, unsigned retries)
{
	struct cact_chat_options o;
	struct cact_chat *c = NULL;
	struct cact_error err = {0};

	cact_chat_options_init(&o);
	o.base_url = f->url;
	o.model = "fake";
	o.stream = stream;
	o.max_retries = retries;
	o.timeout_ms = 30000;
	ck_assert_msg(cact_chat_new(&o, &c, &err) == 0, "cact_chat_new: %s", err.message);
	return c;
}

static struct cact_codeact *cc_new(struct cact_runtime *rt)
{
	struct cact_codeact *cc = NULL;
	struct cact_error err = {0};

	ck_assert_msg(cact_codeact_new(rt, &cc, &err) == 0, "%s", err.message);
	return cc;
}

/* Adds a callback tool to cc (provider-owned when cc backs a provider). */
static void cc_add(struct cact_codeact *cc, const char *name, const char *params,
		   enum cact_approval approval, cact_tool_fn fn, void *user)
{
	struct cact_tool *t = tool_new(name, "a test tool", params, approval, fn, user);
	struct cact_error err = {0};

	ck_assert_msg(cact_codeact_add_tool(cc, t, &err) == 0, "%s", err.message);
	cact_tool_unref(t);
}

static void agent_add(struct cact_agent *a, const char *name, const char *params,
		      enum cact_approval approval, cact_tool_fn fn, void *user)
{
	struct cact_tool *t = tool_new(name, "a direct tool", params, approval, fn, user);
	struct cact_error err = {0};

	ck_assert_msg(cact_agent_add_tool(a, t, &err) == 0, "%s", err.message);
	cact_tool_unref(t);
}

static struct cact_agent *agent_new(struct cact_chat *chat, const char *instructions)
{
	struct cact_agent *a = NULL;
	struct cact_error err = {0};

	ck_assert_msg(cact_agent_new(chat, instructions, &a, &err) == 0, "%s", err.message);
	return a;
}

static void add_provider(struct cact_agent *a, struct cact_codeact *cc, int visible)
{
	struct cact_context_provider p;
	struct cact_error err = {0};

	ck_assert_msg(cact_codeact_provider(cc, visible, &p, &err) == 0, "%s", err.message);
	ck_assert_msg(cact_agent_add_provider(a, &p, &err) == 0, "%s", err.message);
}

static struct cact_session *session_new(void)
{
	struct cact_session *s = NULL;

	ck_assert_int_eq(cact_session_new(&s), 0);
	return s;
}

static struct cact_run *run_ok(struct cact_agent *a, struct cact_session *s, const char *prompt,
			       const struct cact_run_options *o)
{
	struct cact_run *r = NULL;
	struct cact_error err = {0};
	int rc = cact_agent_run(a, s, prompt, o, &r, &err);

	ck_assert_msg(rc == 0, "cact_agent_run: %s (%d)", err.message, rc);
	ck_assert(r != NULL);
	return r;
}

static void assert_final(const struct cact_run *r, const char *text, unsigned steps)
{
	ck_assert_msg(cact_run_stop(r) == CACT_STOP_FINAL, "stopped by %s",
		      cact_stop_name(cact_run_stop(r)));
	ck_assert_str_eq(cact_run_text(r), text);
	ck_assert_uint_eq(cact_run_steps(r), steps);
}

/* ---- the loop with execute_code in the sandbox ---- */

START_TEST(provider_compute_one_runtime)
{
	struct fake f;
	struct cact_runtime *rt;
	struct cact_codeact *cc;
	struct cact_chat *chat;
	struct cact_agent *a;
	struct cact_session *s = session_new();
	struct events ev;
	struct cact_run_options o = {.on_event = on_event, .event_user = &ev};
	struct cact_run *r;
	const struct rec *res;
	json_t *log;
	size_t i;

	fake_start(&f,
		   "["
		   "{`match`: {`last_user_contains`: `20+22`},"
		   " `expect`: {`has_tool`: `execute_code`, `no_tool`: `compute`},"
		   " `response`: {`tool_calls`: [{`id`: `c1`, `name`: `execute_code`, `arguments`:"
		   "   {`code`: `print(call_tool(\\\"compute\\\", a=20, b=22))`}}]}},"
		   "{`expect`: {`tool_result_contains`: `42`},"
		   " `response`: {`tool_calls`: [{`id`: `c2`, `name`: `execute_code`, `arguments`:"
		   "   {`code`: `print(call_tool('compute', a=1, b=2))`}}]}},"
		   "{`expect`: {`tool_result_contains`: `3`},"
		   " `response`: {`content`: `20+22 is 42.`}}]");
	events_init(&ev);
	rt = t_runtime();
	g_rt = rt;
	cc = cc_new(rt);
	cc_add(cc, "compute", COMPUTE_PARAMS, CACT_APPROVAL_NEVER_REQUIRE, cb_compute, NULL);
	chat = chat_new(&f, 0, 0);
	a = agent_new(chat, NULL);
	add_provider(a, cc, 0);

	r = run_ok(a, s, "what is 20+22?", &o);
	assert_final(r, "20+22 is 42.", 3);
	ck_assert_int_eq(atomic_load(&g_compute_calls), 2);
	/* Both executions ran under the one runtime the case created, and no other existed. */
	ck_assert_int_eq(atomic_load(&g_guest_checks), 2);
	ck_assert_int_eq(atomic_load(&g_guest_bad), 0);

	log = fake_log_n(&f, 3);
	ck_assert_str_eq(tool_content(log_req(log, 1), "c1"), "42\n");
	ck_assert_str_eq(tool_content(log_req(log, 2), "c2"), "3\n");
	for (i = 0; i < 2; i++) {
		res = event_nth(&ev, CACT_EVENT_TOOL_RESULT, i);
		ck_assert(res != NULL);
		ck_assert_str_eq(res->name, "execute_code");
		ck_assert(res->ok);
		ck_assert(res->has_result);
		ck_assert_int_eq(res->status, CACT_STATUS_OK);
		ck_assert_uint_eq(res->tool_calls, 1);
	}
	ck_assert_ptr_null(event_nth(&ev, CACT_EVENT_TOOL_RESULT, 2));

	json_decref(log);
	cact_run_free(r);
	cact_session_free(s);
	cact_agent_free(a);
	cact_chat_free(chat);
	cact_codeact_free(cc);
	g_rt = NULL;
	cact_runtime_free(rt);
	events_free(&ev);
	fake_stop(&f);
}
END_TEST

START_TEST(approval_denied)
{
	struct fake f;
	struct cact_codeact *cc;
	struct cact_chat *chat;
	struct cact_agent *a;
	struct cact_session *s = session_new();
	struct events ev;
	struct cact_run_options o = {.approve = approve_fn,
				     .approve_user = (void *)(intptr_t)0,
				     .on_event = on_event,
				     .event_user = &ev};
	struct cact_run *r;
	const struct rec *res;
	const char *told;
	json_t *log;

	fake_start(&f,
		   "["
		   "{`response`: {`tool_calls`: [{`id`: `c1`, `name`: `execute_code`, `arguments`:"
		   "   {`code`: `print(call_tool('danger'))`}}]}},"
		   "{`expect`: {`tool_result_contains`: `Denied`},"
		   " `response`: {`content`: `I was not allowed to run it.`}}]");
	events_init(&ev);
	/* Denied code never reaches a sandbox: no runtime is needed. */
	cc = cc_new(NULL);
	cc_add(cc, "compute", COMPUTE_PARAMS, CACT_APPROVAL_NEVER_REQUIRE, cb_compute, NULL);
	cc_add(cc, "danger", NULL, CACT_APPROVAL_ALWAYS_REQUIRE, cb_count, "\"done\"");
	ck_assert_int_eq(cact_codeact_approval(cc), CACT_APPROVAL_ALWAYS_REQUIRE);
	chat = chat_new(&f, 0, 0);
	a = agent_new(chat, NULL);
	add_provider(a, cc, 0);

	r = run_ok(a, s, "do the dangerous thing", &o);
	assert_final(r, "I was not allowed to run it.", 2);
	ck_assert_int_eq(atomic_load(&g_approvals), 1);
	ck_assert_str_eq(g_appr_name, "execute_code");
	ck_assert_msg(strstr(g_appr_args, "print(call_tool('danger'))") != NULL,
		      "the callback did not see the code: %s", g_appr_args);
	ck_assert_int_eq(atomic_load(&g_count_calls), 0);

	log = fake_log_n(&f, 2);
	told = tool_content(log_req(log, 1), "c1");
	ck_assert_ptr_nonnull(told);
	ck_assert_msg(strstr(told, "did not approve") && strstr(told, "execute_code"),
		      "the model was told: %s", told);
	res = event_nth(&ev, CACT_EVENT_TOOL_RESULT, 0);
	ck_assert(res != NULL && !res->ok && !res->has_result);

	json_decref(log);
	cact_run_free(r);
	cact_session_free(s);
	cact_agent_free(a);
	cact_chat_free(chat);
	cact_codeact_free(cc);
	events_free(&ev);
	fake_stop(&f);
}
END_TEST

START_TEST(approval_granted)
{
	struct fake f;
	struct cact_runtime *rt = t_runtime();
	struct cact_codeact *cc = cc_new(rt);
	struct cact_chat *chat;
	struct cact_agent *a;
	struct cact_session *s = session_new();
	struct cact_run_options o = {.approve = approve_fn, .approve_user = (void *)(intptr_t)1};
	struct cact_run *r;
	json_t *log;

	fake_start(&f,
		   "["
		   "{`response`: {`tool_calls`: [{`id`: `c1`, `name`: `execute_code`, `arguments`:"
		   "   {`code`: `print('danger says', call_tool('danger', level=3))`}}]}},"
		   "{`expect`: {`tool_result_contains`: `danger says done`},"
		   " `response`: {`content`: `Done.`}}]");
	cc_add(cc, "danger",
	       "{\"type\":\"object\",\"properties\":{\"level\":{\"type\":\"integer\"}}}",
	       CACT_APPROVAL_ALWAYS_REQUIRE, cb_count, "\"done\"");
	chat = chat_new(&f, 0, 0);
	a = agent_new(chat, NULL);
	add_provider(a, cc, 0);

	r = run_ok(a, s, "do it", &o);
	assert_final(r, "Done.", 2);
	/* Approving the code approves the calls it makes: one question. */
	ck_assert_int_eq(atomic_load(&g_approvals), 1);
	ck_assert_str_eq(g_appr_name, "execute_code");
	ck_assert_int_eq(atomic_load(&g_count_calls), 1);
	ck_assert_str_eq(g_count_args, "{\"level\":3}");
	log = fake_log_n(&f, 2);
	ck_assert_str_eq(tool_content(log_req(log, 1), "c1"), "danger says done\n");

	json_decref(log);
	cact_run_free(r);
	cact_session_free(s);
	cact_agent_free(a);
	cact_chat_free(chat);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
	fake_stop(&f);
}
END_TEST

START_TEST(max_steps_reached)
{
	struct fake f;
	struct cact_chat *chat;
	struct cact_agent *a;
	struct cact_session *s = session_new();
	struct cact_run_options o = {0};
	struct cact_run *r;
	char *msgs;
	json_t *log, *m;

	fake_start(
		&f,
		"["
		"{`response`: {`tool_calls`: [{`id`: `p1`, `name`: `ping`, `arguments`: {}}]}},"
		"{`response`: {`tool_calls`: [{`id`: `p2`, `name`: `ping`, `arguments`: {}}]}},"
		"{`response`: {`tool_calls`: [{`id`: `p3`, `name`: `ping`, `arguments`: {}}]}}]");
	chat = chat_new(&f, 0, 0);
	a = agent_new(chat, NULL);
	agent_add(a, "ping", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_count, "\"pong\"");
	cact_agent_set_max_steps(a, 2);

	r = run_ok(a, s, "keep pinging", NULL);
	ck_assert_int_eq(cact_run_stop(r), CACT_STOP_MAX_STEPS);
	ck_assert_str_eq(cact_stop_name(cact_run_stop(r)), "max_steps");
	ck_assert_uint_eq(cact_run_steps(r), 2);
	ck_assert_str_eq(cact_run_text(r), "");
	ck_assert_int_eq(atomic_load(&g_count_calls), 2);
	/* Every call the model made was answered: the session can go on. */
	msgs = cact_session_messages_json(s);
	m = json_loads(msgs, 0, NULL);
	ck_assert_uint_eq(json_array_size(m), 5);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 4), "role")), "tool");
	json_decref(m);
	cact_free(msgs);
	cact_run_free(r);

	/* The run's own limit overrides the agent's. */
	o.max_steps = 1;
	r = run_ok(a, s, "once more", &o);
	ck_assert_int_eq(cact_run_stop(r), CACT_STOP_MAX_STEPS);
	ck_assert_uint_eq(cact_run_steps(r), 1);
	log = fake_log_n(&f, 3);

	json_decref(log);
	cact_run_free(r);
	cact_session_free(s);
	cact_agent_free(a);
	cact_chat_free(chat);
	fake_stop(&f);
}
END_TEST

START_TEST(tool_errors_reported_to_model)
{
	struct fake f;
	struct cact_chat *chat;
	struct cact_agent *a;
	struct cact_session *s = session_new();
	struct events ev;
	struct cact_run_options o = {.on_event = on_event, .event_user = &ev};
	struct cact_run *r;
	const char *t;
	json_t *log, *req;
	size_t i;

	fake_start(&f, "["
		       "{`response`: {`tool_calls`: ["
		       "  {`id`: `c1`, `name`: `flaky`, `arguments`: {}},"
		       "  {`id`: `c2`, `name`: `nope`, `arguments`: {}},"
		       "  {`id`: `c3`, `name`: `compute`, `arguments`: `{not json`},"
		       "  {`id`: `c4`, `name`: `compute`, `arguments`: {`a`: `x`, `b`: 1}},"
		       "  {`id`: `c5`, `name`: `compute`, `arguments`: {`a`: 2, `b`: 3}}]}},"
		       "{`expect`: {`tool_result_contains`: `the database is down`},"
		       " `response`: {`content`: `recovered`}}]");
	events_init(&ev);
	chat = chat_new(&f, 0, 0);
	a = agent_new(chat, NULL);
	agent_add(a, "flaky", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_fail, "the database is down");
	agent_add(a, "compute", COMPUTE_PARAMS, CACT_APPROVAL_NEVER_REQUIRE, cb_compute, NULL);

	r = run_ok(a, s, "try everything", &o);
	assert_final(r, "recovered", 2);
	log = fake_log_n(&f, 2);
	req = log_req(log, 1);
	t = tool_content(req, "c1");
	ck_assert_msg(t && strstr(t, "flaky") && strstr(t, "the database is down"), "c1: %s", t);
	t = tool_content(req, "c2");
	ck_assert_msg(t && strstr(t, "no tool named 'nope'") && strstr(t, "flaky"), "c2: %s", t);
	t = tool_content(req, "c3");
	ck_assert_msg(t && strstr(t, "not a JSON object"), "c3: %s", t);
	t = tool_content(req, "c4");
	ck_assert_msg(t && strstr(t, "do not match") && strstr(t, "$.a"), "c4: %s", t);
	ck_assert_str_eq(tool_content(req, "c5"), "5");
	/* Only the valid call reached its handler. */
	ck_assert_int_eq(atomic_load(&g_compute_calls), 1);
	for (i = 0; i < 5; i++) {
		const struct rec *res = event_nth(&ev, CACT_EVENT_TOOL_RESULT, i);

		ck_assert(res != NULL);
		ck_assert_int_eq(res->ok, i == 4);
	}

	json_decref(log);
	cact_run_free(r);
	cact_session_free(s);
	cact_agent_free(a);
	cact_chat_free(chat);
	events_free(&ev);
	fake_stop(&f);
}
END_TEST

START_TEST(execute_code_failure_reported)
{
	struct fake f;
	struct cact_runtime *rt = t_runtime();
	struct cact_codeact *cc = cc_new(rt);
	struct cact_chat *chat;
	struct cact_agent *a;
	struct cact_session *s = session_new();
	struct events ev;
	struct cact_run_options o = {.on_event = on_event, .event_user = &ev};
	struct cact_run *r;
	const struct rec *res;
	const char *t;
	json_t *log;

	fake_start(&f, "["
		       "{`response`: {`tool_calls`: ["
		       "  {`id`: `e1`, `name`: `execute_code`, `arguments`:"
		       "    {`code`: `print('before')\\nprint(1 / 0)`}},"
		       "  {`id`: `e2`, `name`: `execute_code`, `arguments`: {`cmd`: `ls`}}]}},"
		       "{`expect`: {`tool_result_contains`: `ZeroDivisionError`},"
		       " `response`: {`content`: `It failed: division by zero.`}}]");
	events_init(&ev);
	chat = chat_new(&f, 0, 0);
	a = agent_new(chat, NULL);
	add_provider(a, cc, 0);

	r = run_ok(a, s, "divide", &o);
	assert_final(r, "It failed: division by zero.", 2);
	log = fake_log_n(&f, 2);
	t = tool_content(log_req(log, 1), "e1");
	ck_assert_msg(t && strstr(t, "before") && strstr(t, "Execution error") &&
			      strstr(t, "ZeroDivisionError"),
		      "e1: %s", t);
	t = tool_content(log_req(log, 1), "e2");
	ck_assert_msg(t && strstr(t, "do not match") && strstr(t, "code"), "e2: %s", t);
	/* Results come as the calls end: e2's bad arguments before e1 ran. */
	res = result_of_call(&ev, 1);
	ck_assert(res && !res->ok && res->has_result);
	ck_assert_int_eq(res->status, CACT_STATUS_PYTHON_ERROR);
	res = result_of_call(&ev, 2);
	ck_assert(res && !res->ok && !res->has_result);

	json_decref(log);
	cact_run_free(r);
	cact_session_free(s);
	cact_agent_free(a);
	cact_chat_free(chat);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
	events_free(&ev);
	fake_stop(&f);
}
END_TEST

/* ---- the model server failing ---- */

START_TEST(retry_after_429)
{
	struct fake f;
	struct cact_chat *chat;
	struct cact_agent *a;
	struct cact_session *s = session_new();
	struct cact_run *r;
	char *m0, *m1;
	json_t *log;

	fake_start(&f, "["
		       "{`status`: 429, `headers`: {`Retry-After`: `0`},"
		       " `body`: `{\\`error\\`: {\\`message\\`: \\`slow down\\`}}`},"
		       "{`response`: {`content`: `after the retry`}}]");
	chat = chat_new(&f, 0, 2);
	a = agent_new(chat, NULL);
	r = run_ok(a, s, "hello", NULL);
	assert_final(r, "after the retry", 1);
	log = fake_log_n(&f, 2);
	/* The same request, sent again. */
	m0 = json_dumps(log_req(log, 0), JSON_COMPACT | JSON_SORT_KEYS);
	m1 = json_dumps(log_req(log, 1), JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_str_eq(m0, m1);

	free(m0);
	free(m1);
	json_decref(log);
	cact_run_free(r);
	cact_session_free(s);
	cact_agent_free(a);
	cact_chat_free(chat);
	fake_stop(&f);
}
END_TEST

START_TEST(server_500_three_times)
{
	struct fake f;
	struct cact_chat *chat;
	struct cact_agent *a;
	struct cact_session *s = session_new();
	struct cact_run *r = (struct cact_run *)1;
	struct cact_error err = {0};
	char *msgs;
	json_t *log, *m;
	int rc;

	fake_start(&f, "[{`status`: 500}, {`status`: 500}, {`status`: 500},"
		       " {`response`: {`content`: `too late`}}]");
	chat = chat_new(&f, 0, 2);
	a = agent_new(chat, NULL);
	rc = cact_agent_run(a, s, "are you there?", NULL, &r, &err);
	ck_assert_int_eq(rc, CACT_ESYS);
	ck_assert_int_eq(err.code, CACT_ESYS);
	ck_assert_ptr_null(r);
	ck_assert_msg(strstr(err.message, "500") != NULL, "error: %s", err.message);
	ck_assert_msg(strstr(err.message, "3 attempts") != NULL, "error: %s", err.message);
	ck_assert_msg(strchr(err.message, '\n') == NULL, "error: %s", err.message);
	log = fake_log(&f);
	ck_assert_uint_eq(json_array_size(log), 3);
	/* The session keeps what was said. */
	msgs = cact_session_messages_json(s);
	m = json_loads(msgs, 0, NULL);
	ck_assert_uint_eq(json_array_size(m), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 0), "role")), "user");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 0), "content")),
			 "are you there?");

	json_decref(m);
	cact_free(msgs);
	json_decref(log);
	cact_session_free(s);
	cact_agent_free(a);
	cact_chat_free(chat);
	fake_stop(&f);
}
END_TEST

START_TEST(malformed_sse_fails)
{
	struct fake f;
	struct cact_chat *chat;
	struct cact_agent *a;
	struct cact_session *s = session_new();
	struct cact_run *r = (struct cact_run *)1;
	struct cact_error err = {0};
	json_t *log;
	int rc;

	fake_start(&f, "[{`expect`: {`stream`: true},"
		       " `sse_raw`: `data: {\\`choices\\`: [{\\`delta\\`: {\\`content\\`:"
		       " \\`partial\\`}}]}\\n\\ndata: {this is not json\\n\\n`},"
		       " {`response`: {`content`: `a retry would get this`}}]");
	chat = chat_new(&f, 1, 2);
	a = agent_new(chat, NULL);
	rc = cact_agent_run(a, s, "stream please", NULL, &r, &err);
	ck_assert_int_eq(rc, CACT_EPROTO);
	ck_assert_ptr_null(r);
	ck_assert_msg(strstr(err.message, "malformed SSE") != NULL, "error: %s", err.message);
	ck_assert_msg(strchr(err.message, '\n') == NULL, "error: %s", err.message);
	/* A malformed answer is not retried. */
	log = fake_log(&f);
	ck_assert_uint_eq(json_array_size(log), 1);

	json_decref(log);
	cact_session_free(s);
	cact_agent_free(a);
	cact_chat_free(chat);
	fake_stop(&f);
}
END_TEST

/* ---- sessions ---- */

START_TEST(session_saved_reloaded_continued)
{
	struct fake f;
	struct cact_chat *chat;
	struct cact_agent *a;
	struct cact_session *s = session_new(), *back = NULL;
	struct cact_error err = {0};
	struct cact_run *r;
	char *saved, *before;
	json_t *log, *msgs, *earlier, *last;

	fake_start(&f, "["
		       "{`match`: {`last_user_contains`: `My name is Ada`},"
		       " `response`: {`content`: `Let me note that.`, `tool_calls`: [{`id`: `n1`,"
		       "   `name`: `note`, `arguments`: {`text`: `name: Ada`}}]}},"
		       "{`match`: {`last_user_contains`: `My name is Ada`},"
		       " `response`: {`content`: `Nice to meet you, Ada.`}},"
		       "{`match`: {`last_user_contains`: `What is my name`,"
		       "           `any_message_contains`: `Nice to meet you, Ada.`},"
		       " `response`: {`content`: `Your name is Ada.`}}]");
	chat = chat_new(&f, 0, 0);
	a = agent_new(chat, NULL);
	agent_add(a, "note", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_const, "\"noted\"");
	r = run_ok(a, s, "My name is Ada.", NULL);
	assert_final(r, "Nice to meet you, Ada.", 2);
	cact_run_free(r);
	before = cact_session_messages_json(s);
	saved = cact_session_to_json(s);
	ck_assert_ptr_nonnull(saved);
	cact_session_free(s);

	ck_assert_msg(cact_session_load(saved, &back, &err) == 0, "%s", err.message);
	cact_free(saved);
	r = run_ok(a, back, "What is my name?", NULL);
	assert_final(r, "Your name is Ada.", 1);
	log = fake_log_n(&f, 3);
	/* The request carries the first run's messages as they were, then the new prompt. */
	msgs = json_object_get(log_req(log, 2), "messages");
	earlier = json_loads(before, 0, NULL);
	ck_assert_uint_eq(json_array_size(earlier), 4);
	ck_assert_uint_eq(json_array_size(msgs), 5);
	last = json_array_get(msgs, 4);
	ck_assert_str_eq(jstr(last, "role"), "user");
	ck_assert_str_eq(jstr(last, "content"), "What is my name?");
	json_array_remove(msgs, 4);
	ck_assert_msg(json_equal(msgs, earlier), "sent %s\nsaved %s",
		      json_dumps(msgs, JSON_COMPACT), before);
	ck_assert_str_eq(jstr(json_array_get(earlier, 2), "tool_call_id"), "n1");
	ck_assert_str_eq(jstr(json_array_get(earlier, 2), "content"), "noted");

	/* A session that is not one is refused, naming the problem. */
	ck_assert_int_eq(
		cact_session_load("{\"version\":1,\"messages\":[{\"role\":\"robot\"}]}", &s, &err),
		CACT_EINVAL);
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(err.message, "messages[0]") != NULL, "%s", err.message);

	json_decref(earlier);
	cact_free(before);
	json_decref(log);
	cact_run_free(r);
	cact_session_free(back);
	cact_agent_free(a);
	cact_chat_free(chat);
	fake_stop(&f);
}
END_TEST

/* ---- concurrency ---- */

struct worker {
	struct cact_agent *agent;
	int i;
	int rc;
	char err[CACT_ERROR_MAX];
	char text[128];
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct cact_session *s = NULL;
	struct cact_error err = {0};
	struct cact_run *r = NULL;
	char prompt[64];

	snprintf(prompt, sizeof(prompt), "task-%d: add %d and 100", w->i, w->i);
	w->rc = cact_session_new(&s);
	if (w->rc == 0)
		w->rc = cact_agent_run(w->agent, s, prompt, NULL, &r, &err);
	snprintf(w->err, sizeof(w->err), "%s", err.message);
	if (r)
		snprintf(w->text, sizeof(w->text), "%s", cact_run_text(r));
	cact_run_free(r);
	cact_session_free(s);
	return NULL;
}

START_TEST(concurrent_runs_one_agent)
{
	struct fake f;
	struct cact_runtime *rt = t_runtime();
	struct cact_codeact *cc = cc_new(rt);
	struct cact_chat *chat;
	struct cact_agent *a;
	struct worker w[4];
	pthread_t th[4];
	char *script = xstrdup("["), *grown;
	json_t *log;
	int i;

	for (i = 0; i < 4; i++) {
		grown = t_fmt("%s%s"
			      "{`match`: {`last_user_contains`: `task-%d:`}, `delay_ms`: 100,"
			      " `response`: {`tool_calls`: [{`id`: `t%d`, `name`: `execute_code`,"
			      "   `arguments`: {`code`: `print('sum', call_tool('compute', a=%d, "
			      "b=100))`}}]}},"
			      "{`match`: {`last_user_contains`: `task-%d:`, `last_tool_contains`: "
			      "`sum %d`},"
			      " `response`: {`content`: `answer %d: %d`}}",
			      script, i ? "," : "", i, i, i, i, 100 + i, i, 100 + i);
		free(script);
		script = grown;
	}
	grown = t_fmt("%s]", script);
	free(script);
	script = grown;
	fake_start(&f, script);
	free(script);
	cc_add(cc, "compute", COMPUTE_PARAMS, CACT_APPROVAL_NEVER_REQUIRE, cb_compute, NULL);
	chat = chat_new(&f, 0, 0);
	a = agent_new(chat, NULL);
	add_provider(a, cc, 0);

	for (i = 0; i < 4; i++) {
		w[i] = (struct worker){.agent = a, .i = i};
		ck_assert_int_eq(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		char want[64];

		pthread_join(th[i], NULL);
		snprintf(want, sizeof(want), "answer %d: %d", i, 100 + i);
		ck_assert_msg(w[i].rc == 0, "run %d: %s", i, w[i].err);
		ck_assert_str_eq(w[i].text, want);
	}
	ck_assert_int_eq(atomic_load(&g_compute_calls), 4);
	log = fake_log_n(&f, 8);

	json_decref(log);
	cact_agent_free(a);
	cact_chat_free(chat);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
	fake_stop(&f);
}
END_TEST

/* ---- the provider's configuration over time ---- */

START_TEST(config_change_between_runs)
{
	struct fake f;
	struct cact_codeact *cc = cc_new(NULL);
	struct cact_chat *chat;
	struct cact_agent *a;
	struct cact_session *s1 = session_new(), *s2 = session_new();
	struct cact_run *r;
	const char *d;
	char *st;
	json_t *log, *state;

	fake_start(&f,
		   "[{`match`: {`last_user_contains`: `one`}, `response`: {`content`: `first`}},"
		   " {`match`: {`last_user_contains`: `two`}, `response`: {`content`: `second`}}]");
	cc_add(cc, "compute", COMPUTE_PARAMS, CACT_APPROVAL_NEVER_REQUIRE, cb_compute, NULL);
	chat = chat_new(&f, 0, 0);
	a = agent_new(chat, NULL);
	add_provider(a, cc, 0);

	r = run_ok(a, s1, "run one", NULL);
	assert_final(r, "first", 1);
	cact_run_free(r);
	cc_add(cc, "extra_tool", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_const, "1");
	r = run_ok(a, s2, "run two", NULL);
	assert_final(r, "second", 1);
	cact_run_free(r);

	log = fake_log_n(&f, 2);
	d = tool_description(log_req(log, 0), "execute_code");
	ck_assert_ptr_nonnull(d);
	ck_assert_msg(strstr(d, "compute(") && !strstr(d, "extra_tool"), "run 1 saw: %s", d);
	d = tool_description(log_req(log, 1), "execute_code");
	ck_assert_ptr_nonnull(d);
	ck_assert_msg(strstr(d, "compute(") && strstr(d, "extra_tool"), "run 2 saw: %s", d);
	/* Each session recorded the configuration its run had. */
	st = cact_session_state_json(s1, "codeact");
	state = json_loads(st, 0, NULL);
	ck_assert_uint_eq(json_array_size(json_object_get(state, "tool_names")), 1);
	json_decref(state);
	cact_free(st);
	st = cact_session_state_json(s2, "codeact");
	state = json_loads(st, 0, NULL);
	ck_assert_uint_eq(json_array_size(json_object_get(state, "tool_names")), 2);
	json_decref(state);
	cact_free(st);

	json_decref(log);
	cact_session_free(s1);
	cact_session_free(s2);
	cact_agent_free(a);
	cact_chat_free(chat);
	cact_codeact_free(cc);
	fake_stop(&f);
}
END_TEST

START_TEST(config_change_in_flight)
{
	struct fake f;
	struct cact_runtime *rt = t_runtime();
	struct cact_codeact *cc = cc_new(rt);
	struct cact_chat *chat;
	struct cact_agent *a;
	struct cact_session *s = session_new();
	struct cact_run *r;
	const char *d, *t;
	json_t *log;
	size_t i;

	fake_start(&f,
		   "["
		   "{`match`: {`last_user_contains`: `first`},"
		   " `response`: {`tool_calls`: [{`id`: `g1`, `name`: `execute_code`, `arguments`:"
		   "   {`code`: `print(call_tool('gate'))`}}]}},"
		   "{`match`: {`last_user_contains`: `first`, `last_tool_contains`: `opened`},"
		   " `response`: {`tool_calls`: [{`id`: `g2`, `name`: `execute_code`, `arguments`:"
		   "   {`code`: `print(call_tool('late'))`}}]}},"
		   "{`match`: {`last_user_contains`: `first`}, `response`: {`content`: `done 1`}},"
		   "{`match`: {`last_user_contains`: `second`},"
		   " `response`: {`tool_calls`: [{`id`: `g3`, `name`: `execute_code`, `arguments`:"
		   "   {`code`: `print(call_tool('late'))`}}]}},"
		   "{`match`: {`last_user_contains`: `second`},"
		   " `expect`: {`tool_result_contains`: `late result`},"
		   " `response`: {`content`: `done 2`}}]");
	g_cc = cc;
	g_late = tool_new("late", "added while a run is in flight", NULL,
			  CACT_APPROVAL_NEVER_REQUIRE, cb_const, "\"late result\"");
	cc_add(cc, "gate", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_gate, NULL);
	chat = chat_new(&f, 0, 0);
	a = agent_new(chat, NULL);
	add_provider(a, cc, 0);

	r = run_ok(a, s, "first run", NULL);
	assert_final(r, "done 1", 3);
	cact_run_free(r);
	r = run_ok(a, s, "second run", NULL);
	assert_final(r, "done 2", 2);
	cact_run_free(r);

	log = fake_log_n(&f, 5);
	/* The run in flight kept the configuration it started with. */
	for (i = 0; i < 3; i++) {
		d = tool_description(log_req(log, i), "execute_code");
		ck_assert_msg(d && strstr(d, "gate") && !strstr(d, "late("), "request %zu saw: %s",
			      i, d);
	}
	t = tool_content(log_req(log, 2), "g2");
	ck_assert_msg(t && strstr(t, "late") && !strstr(t, "late result"), "g2: %s", t);
	d = tool_description(log_req(log, 3), "execute_code");
	ck_assert_msg(d && strstr(d, "late"), "the second run saw: %s", d);
	ck_assert_str_eq(tool_content(log_req(log, 4), "g3"), "late result\n");

	json_decref(log);
	cact_session_free(s);
	cact_agent_free(a);
	cact_chat_free(chat);
	cact_codeact_free(cc);
	cact_tool_unref(g_late);
	cact_runtime_free(rt);
	fake_stop(&f);
}
END_TEST

START_TEST(codeact_state_recorded)
{
	struct fake f;
	struct cact_codeact *cc = cc_new(NULL);
	struct cact_chat *chat;
	struct cact_agent *a;
	struct cact_session *s = session_new(), *back = NULL;
	struct cact_error err = {0};
	struct cact_run *r;
	char *st, *want, *saved, *st2;
	json_t *got, *exp;

	fake_start(&f, "[{`response`: {`content`: `ok`}}]");
	cc_add(cc, "compute", COMPUTE_PARAMS, CACT_APPROVAL_NEVER_REQUIRE, cb_compute, NULL);
	ck_assert_int_eq(cact_codeact_set_limit(cc, CACT_LIMIT_TIMEOUT_MS, 5000, &err), 0);
	chat = chat_new(&f, 0, 0);
	a = agent_new(chat, NULL);
	add_provider(a, cc, 0);
	ck_assert_ptr_null(cact_session_state_json(s, "codeact"));
	r = run_ok(a, s, "hi", NULL);
	cact_run_free(r);

	st = cact_session_state_json(s, "codeact");
	ck_assert_ptr_nonnull(st);
	want = cact_codeact_state(cc);
	got = json_loads(st, 0, NULL);
	exp = json_loads(want, 0, NULL);
	ck_assert_msg(json_equal(got, exp), "state %s, expected %s", st, want);
	ck_assert_str_eq(json_string_value(json_object_get(got, "backend")), "cact");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(got, "tool_names"), 0)),
			 "compute");
	/* It survives the session's JSON. */
	saved = cact_session_to_json(s);
	ck_assert_int_eq(cact_session_load(saved, &back, &err), 0);
	st2 = cact_session_state_json(back, "codeact");
	ck_assert_str_eq(st2, st);
	json_decref(fake_log_n(&f, 1));

	cact_free(st2);
	cact_free(saved);
	json_decref(got);
	json_decref(exp);
	cact_free(want);
	cact_free(st);
	cact_session_free(back);
	cact_session_free(s);
	cact_agent_free(a);
	cact_chat_free(chat);
	cact_codeact_free(cc);
	fake_stop(&f);
}
END_TEST

START_TEST(instructions_in_system_message)
{
	static const char mine[] = "You are Marker-Agent: terse and exact.";
	struct fake f;
	struct cact_codeact *cc = cc_new(NULL);
	struct cact_chat *chat;
	struct cact_agent *a, *b;
	struct cact_session *s = session_new(), *s2 = session_new();
	struct cact_run *r;
	char *ci, *ci_visible, *names;
	const char *sys, *at;
	json_t *log;
	size_t n;

	fake_start(&f, "[{`match`: {`last_user_contains`: `hidden`},"
		       "  `expect`: {`system_contains`: `Marker-Agent`, `no_tool`: `compute`},"
		       "  `response`: {`content`: `ok`}},"
		       " {`match`: {`last_user_contains`: `visible`},"
		       "  `expect`: {`has_tool`: `compute`}, `response`: {`content`: `ok`}}]");
	cc_add(cc, "compute", COMPUTE_PARAMS, CACT_APPROVAL_NEVER_REQUIRE, cb_compute, NULL);
	ci = cact_codeact_instructions(cc, 0);
	ci_visible = cact_codeact_instructions(cc, 1);
	ck_assert(ci && ci_visible && strcmp(ci, ci_visible) != 0);
	chat = chat_new(&f, 0, 0);
	a = agent_new(chat, mine);
	add_provider(a, cc, 0);
	r = run_ok(a, s, "tools hidden", NULL);
	cact_run_free(r);
	b = agent_new(chat, NULL);
	add_provider(b, cc, 1);
	r = run_ok(b, s2, "tools visible", NULL);
	cact_run_free(r);

	log = fake_log_n(&f, 2);
	sys = system_text(log_req(log, 0), &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_ptr_nonnull(sys);
	ck_assert_str_eq(
		json_string_value(json_object_get(
			json_array_get(json_object_get(log_req(log, 0), "messages"), 0), "role")),
		"system");
	/* The agent's instructions first, then the provider's. */
	ck_assert_msg(strncmp(sys, mine, strlen(mine)) == 0, "system: %s", sys);
	at = strstr(sys, ci);
	ck_assert_msg(at && at > sys, "the CodeAct instructions are missing: %s", sys);
	sys = system_text(log_req(log, 1), &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_ptr_nonnull(sys);
	ck_assert_msg(strstr(sys, ci_visible) != NULL, "system: %s", sys);
	names = tool_names(log_req(log, 1));
	ck_assert_str_eq(names, "execute_code,compute");

	free(names);
	json_decref(log);
	cact_free(ci);
	cact_free(ci_visible);
	cact_session_free(s);
	cact_session_free(s2);
	cact_agent_free(a);
	cact_agent_free(b);
	cact_chat_free(chat);
	cact_codeact_free(cc);
	fake_stop(&f);
}
END_TEST

/* ---- events ---- */

START_TEST(stream_text_events_in_order)
{
	static const char answer[] = "Streaming makes the answer arrive in pieces, in order.";
	struct fake f;
	struct cact_chat *chat;
	struct cact_agent *a;
	struct cact_session *s = session_new();
	struct events ev;
	struct cact_run_options o = {.on_event = on_event, .event_user = &ev};
	struct cact_run *r;
	char joined[256] = "", *kinds;
	uint64_t in = 0, out = 0;
	size_t i, n_text = 0;
	json_t *log;

	fake_start(
		&f,
		"["
		"{`expect`: {`stream`: true},"
		" `response`: {`tool_calls`: [{`id`: `p1`, `name`: `ping`,"
		"   `arguments`: {`note`: `a longer argument, cut in pieces`}}]}},"
		"{`expect`: {`stream`: true, `tool_result_contains`: `pong`},"
		" `response`: {`content`: `Streaming makes the answer arrive in pieces, in order.`,"
		"   `usage`: {`prompt_tokens`: 11, `completion_tokens`: 7, `total_tokens`: 18}}}]");
	events_init(&ev);
	chat = chat_new(&f, 1, 0);
	a = agent_new(chat, NULL);
	agent_add(a, "ping", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_count, "\"pong\"");

	r = run_ok(a, s, "stream it", &o);
	assert_final(r, answer, 2);
	kinds = event_kinds(&ev);
	ck_assert_str_eq(kinds, "step model call result step text model");
	for (i = 0; i < ev.n; i++) {
		if (ev.r[i].kind != CACT_EVENT_TEXT)
			continue;
		n_text++;
		ck_assert_uint_eq(ev.r[i].step, 2);
		strncat(joined, ev.r[i].text, sizeof(joined) - strlen(joined) - 1);
	}
	ck_assert_uint_ge(n_text, 2);
	ck_assert_str_eq(joined, answer);
	ck_assert_str_eq(g_count_args, "{\"note\":\"a longer argument, cut in pieces\"}");
	cact_run_usage(r, &in, &out);
	ck_assert_uint_eq(in, 11);
	ck_assert_uint_eq(out, 7);
	ck_assert_uint_eq(event_nth(&ev, CACT_EVENT_MODEL, 1)->completion_tokens, 7);
	log = fake_log_n(&f, 2);

	json_decref(log);
	free(kinds);
	cact_run_free(r);
	cact_session_free(s);
	cact_agent_free(a);
	cact_chat_free(chat);
	events_free(&ev);
	fake_stop(&f);
}
END_TEST

START_TEST(sandbox_events_and_output_files)
{
	struct fake f;
	struct cact_runtime *rt = t_runtime();
	struct cact_codeact *cc = cc_new(rt);
	struct cact_chat *chat;
	struct cact_agent *a;
	struct cact_session *s = session_new();
	struct events ev;
	struct cact_run_options o = {.on_event = on_event, .event_user = &ev};
	struct cact_run *r;
	const struct rec *e;
	const char *t;
	char *kinds;
	json_t *log;

	fake_start(&f,
		   "["
		   "{`response`: {`tool_calls`: [{`id`: `x1`, `name`: `execute_code`, `arguments`:"
		   "   {`code`: `r = call_tool('compute', a=2, b=3)\\n"
		   "try:\\n    call_tool('flaky')\\n"
		   "except RuntimeError as e:\\n    print('flaky failed:', e)\\n"
		   "open('/output/report.txt', 'w').write('sum=' + str(r))\\n"
		   "print('sum', r)\\n`}}]}},"
		   "{`expect`: {`tool_result_contains`: `/output/report.txt`},"
		   " `response`: {`content`: `done`}}]");
	events_init(&ev);
	cc_add(cc, "compute", COMPUTE_PARAMS, CACT_APPROVAL_NEVER_REQUIRE, cb_compute, NULL);
	cc_add(cc, "flaky", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_fail, "the database is down");
	chat = chat_new(&f, 0, 0);
	a = agent_new(chat, NULL);
	add_provider(a, cc, 0);

	r = run_ok(a, s, "compute and report", &o);
	assert_final(r, "done", 2);
	kinds = event_kinds(&ev);
	ck_assert_str_eq(kinds,
			 "step model call sbcall sbdone sbcall sbdone output result step model");

	e = event_nth(&ev, CACT_EVENT_TOOL_CALL, 0);
	ck_assert_str_eq(e->name, "execute_code");
	ck_assert_msg(strstr(e->text, "call_tool('compute', a=2, b=3)") != NULL, "%s", e->text);
	e = event_nth(&ev, CACT_EVENT_SANDBOX_CALL, 0);
	ck_assert_str_eq(e->name, "compute");
	ck_assert_uint_eq(e->step, 1);
	ck_assert_msg(strstr(e->text, "\"a\"") && strstr(e->text, "2"), "%s", e->text);
	e = event_nth(&ev, CACT_EVENT_SANDBOX_DONE, 0);
	ck_assert_str_eq(e->name, "compute");
	ck_assert(e->ok);
	ck_assert_str_eq(e->text, "5");
	e = event_nth(&ev, CACT_EVENT_SANDBOX_CALL, 1);
	ck_assert_str_eq(e->name, "flaky");
	e = event_nth(&ev, CACT_EVENT_SANDBOX_DONE, 1);
	ck_assert_str_eq(e->name, "flaky");
	ck_assert(!e->ok);
	ck_assert_msg(strstr(e->text, "the database is down") != NULL, "%s", e->text);

	e = event_nth(&ev, CACT_EVENT_TOOL_RESULT, 0);
	ck_assert_str_eq(e->name, "execute_code");
	ck_assert(e->ok);
	ck_assert(e->has_result);
	ck_assert_int_eq(e->status, CACT_STATUS_OK);
	ck_assert_uint_eq(e->n_files, 1);
	ck_assert_str_eq(e->file_path, "/output/report.txt");
	ck_assert_str_eq(e->file_data, "sum=5");
	ck_assert_uint_eq(e->tool_calls, 2);
	ck_assert_msg(strstr(e->text, "sum 5") && strstr(e->text, "flaky failed:"), "%s", e->text);

	/* The model reads about the file; its bytes stay on the host. */
	log = fake_log_n(&f, 2);
	t = tool_content(log_req(log, 1), "x1");
	ck_assert_msg(t && strstr(t, "/output/report.txt") && !strstr(t, "sum=5"), "x1: %s", t);
	ck_assert_str_eq(t, e->text);

	json_decref(log);
	free(kinds);
	cact_run_free(r);
	cact_session_free(s);
	cact_agent_free(a);
	cact_chat_free(chat);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
	events_free(&ev);
	fake_stop(&f);
}
END_TEST

/* The n-th event (from 0) of kind k whose text holds needle; -1 when none. */
static long event_index(const struct events *e, enum cact_event_kind k, const char *needle)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		if (e->r[i].kind == k &&
		    (!needle || (e->r[i].text && strstr(e->r[i].text, needle))))
			return (long)i;
	return -1;
}

/*
 * The code's output shows in the run's events while it runs: the first
 * line before the code, after sleeping, calls a tool; the second after.
 */
START_TEST(live_output_events)
{
	struct fake f;
	struct cact_runtime *rt = t_runtime();
	struct cact_codeact *cc = cc_new(rt);
	struct cact_chat *chat;
	struct cact_agent *a;
	struct cact_session *s = session_new();
	struct events ev;
	struct cact_run_options o = {.on_event = on_event, .event_user = &ev};
	struct cact_run *r;
	long first, call, done, second, err, result;
	size_t i;

	fake_start(&f,
		   "["
		   "{`response`: {`tool_calls`: [{`id`: `x1`, `name`: `execute_code`, `arguments`:"
		   "   {`code`: `import sys, time\\nprint('first')\\ntime.sleep(1)\\n"
		   "r = call_tool('compute', a=2, b=3)\\nprint('second', r)\\n"
		   "print('warn', file=sys.stderr)\\n`}}]}},"
		   "{`expect`: {`tool_result_contains`: `second 5`},"
		   " `response`: {`content`: `done`}}]");
	events_init(&ev);
	cc_add(cc, "compute", COMPUTE_PARAMS, CACT_APPROVAL_NEVER_REQUIRE, cb_compute, NULL);
	chat = chat_new(&f, 0, 0);
	a = agent_new(chat, NULL);
	add_provider(a, cc, 0);

	r = run_ok(a, s, "print things", &o);
	assert_final(r, "done", 2);
	first = event_index(&ev, CACT_EVENT_OUTPUT, "first");
	call = event_index(&ev, CACT_EVENT_SANDBOX_CALL, NULL);
	done = event_index(&ev, CACT_EVENT_SANDBOX_DONE, NULL);
	second = event_index(&ev, CACT_EVENT_OUTPUT, "second 5");
	err = event_index(&ev, CACT_EVENT_OUTPUT, "warn");
	result = event_index(&ev, CACT_EVENT_TOOL_RESULT, NULL);
	ck_assert_msg(first >= 0 && first < call && call < done && done < second &&
			      second < result && err > done && err < result,
		      "first %ld, call %ld, done %ld, second %ld, stderr %ld, result %ld", first,
		      call, done, second, err, result);
	for (i = 0; i < ev.n; i++) {
		if (ev.r[i].kind != CACT_EVENT_OUTPUT)
			continue;
		ck_assert_uint_eq(ev.r[i].step, 1);
		ck_assert_str_eq(ev.r[i].name, (long)i == err ? "stderr" : "stdout");
	}
	cact_run_free(r);
	cact_session_free(s);
	cact_agent_free(a);
	cact_chat_free(chat);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
	events_free(&ev);
	fake_stop(&f);
}
END_TEST

/* ---- direct tools ---- */

START_TEST(direct_tools_and_approval)
{
	struct fake f;
	struct cact_chat *chat;
	struct cact_agent *a;
	struct cact_session *s = session_new();
	struct cact_run_options deny = {.approve = approve_fn, .approve_user = (void *)(intptr_t)0};
	struct cact_run_options allow = {.approve = approve_fn,
					 .approve_user = (void *)(intptr_t)1};
	struct cact_run *r;
	char *names;
	const char *t;
	json_t *log;

	fake_start(&f,
		   "["
		   "{`match`: {`last_user_contains`: `Paris`}, `expect`: {`has_tool`: `weather`},"
		   " `response`: {`tool_calls`: [{`id`: `w1`, `name`: `weather`,"
		   "   `arguments`: {`city`: `Paris`}}]}},"
		   "{`match`: {`last_user_contains`: `Paris`}, `expect`: {`tool_result_contains`: "
		   "`sunny`},"
		   " `response`: {`tool_calls`: [{`id`: `m1`, `name`: `send_email`,"
		   "   `arguments`: {`to`: `ada@example.com`, `body`: `sunny`}}]}},"
		   "{`match`: {`last_user_contains`: `Paris`},"
		   " `expect`: {`tool_result_contains`: `did not approve`},"
		   " `response`: {`content`: `I did not send it.`}},"
		   "{`match`: {`last_user_contains`: `Lyon`},"
		   " `response`: {`tool_calls`: [{`id`: `m2`, `name`: `send_email`,"
		   "   `arguments`: {`to`: `bob@example.com`, `body`: `rain`}}]}},"
		   "{`match`: {`last_user_contains`: `Lyon`}, `expect`: {`tool_result_contains`: "
		   "`queued`},"
		   " `response`: {`content`: `Sent.`}}]");
	chat = chat_new(&f, 0, 0);
	a = agent_new(chat, NULL);
	agent_add(a, "weather",
		  "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"
		  "\"required\":[\"city\"]}",
		  CACT_APPROVAL_NEVER_REQUIRE, cb_const, "\"sunny, 21 C\"");
	agent_add(a, "send_email", NULL, CACT_APPROVAL_ALWAYS_REQUIRE, cb_count, "\"queued\"");

	r = run_ok(a, s, "Weather in Paris, then mail it", &deny);
	assert_final(r, "I did not send it.", 3);
	cact_run_free(r);
	/* weather needs no approval; send_email asked once and was denied. */
	ck_assert_int_eq(atomic_load(&g_approvals), 1);
	ck_assert_str_eq(g_appr_name, "send_email");
	ck_assert_msg(strstr(g_appr_args, "ada@example.com") != NULL, "%s", g_appr_args);
	ck_assert_int_eq(atomic_load(&g_count_calls), 0);

	r = run_ok(a, s, "Mail Lyon's weather", &allow);
	assert_final(r, "Sent.", 2);
	cact_run_free(r);
	ck_assert_int_eq(atomic_load(&g_approvals), 2);
	ck_assert_int_eq(atomic_load(&g_count_calls), 1);
	ck_assert_msg(strstr(g_count_args, "bob@example.com") != NULL, "%s", g_count_args);

	log = fake_log_n(&f, 5);
	names = tool_names(log_req(log, 0));
	ck_assert_str_eq(names, "weather,send_email");
	ck_assert_str_eq(tool_content(log_req(log, 1), "w1"), "sunny, 21 C");
	t = tool_content(log_req(log, 2), "m1");
	ck_assert_msg(t && strstr(t, "Denied") && strstr(t, "send_email"), "m1: %s", t);

	free(names);
	json_decref(log);
	cact_session_free(s);
	cact_agent_free(a);
	cact_chat_free(chat);
	fake_stop(&f);
}
END_TEST

START_TEST(codeact_tool_as_direct_tool)
{
	struct fake f;
	struct cact_runtime *rt = t_runtime();
	struct cact_codeact *cc = cc_new(rt);
	struct cact_chat *chat;
	struct cact_agent *a;
	struct cact_session *s = session_new();
	struct cact_tool *exec = NULL;
	struct cact_error err = {0};
	struct events ev;
	struct cact_run_options o = {.approve = approve_fn,
				     .approve_user = (void *)(intptr_t)1,
				     .on_event = on_event,
				     .event_user = &ev};
	struct cact_run *r;
	char *instr, *names, *kinds;
	json_t *log;

	fake_start(
		&f,
		"["
		"{`expect`: {`has_tool`: `execute_code`, `system_contains`: `execute_code`},"
		" `response`: {`tool_calls`: [{`id`: `e1`, `name`: `execute_code`, `arguments`:"
		"   {`code`: `print(call_tool('compute', a=1, b=1), call_tool('danger'))`}}]}},"
		"{`expect`: {`tool_result_contains`: `2 done`}, `response`: {`content`: `ok`}}]");
	events_init(&ev);
	cc_add(cc, "compute", COMPUTE_PARAMS, CACT_APPROVAL_NEVER_REQUIRE, cb_compute, NULL);
	cc_add(cc, "danger", NULL, CACT_APPROVAL_ALWAYS_REQUIRE, cb_count, "\"done\"");
	/* Per-call approval without a callback of its own: the run's answers. */
	cact_codeact_set_per_call_approval(cc, 1, NULL, NULL);
	ck_assert_int_eq(cact_codeact_approval(cc), CACT_APPROVAL_NEVER_REQUIRE);
	ck_assert_msg(cact_codeact_tool(cc, &exec, &err) == 0, "%s", err.message);
	ck_assert_str_eq(cact_tool_name(exec), "execute_code");
	instr = cact_codeact_instructions(cc, 0);
	chat = chat_new(&f, 0, 0);
	a = agent_new(chat, instr);
	ck_assert_msg(cact_agent_add_tool(a, exec, &err) == 0, "%s", err.message);

	r = run_ok(a, s, "use the sandbox", &o);
	assert_final(r, "ok", 2);
	ck_assert_int_eq(atomic_load(&g_approvals), 1);
	ck_assert_str_eq(g_appr_name, "danger");
	ck_assert_str_eq(g_appr_args, "{}");
	ck_assert_int_eq(atomic_load(&g_count_calls), 1);
	kinds = event_kinds(&ev);
	ck_assert_str_eq(kinds,
			 "step model call sbcall sbdone sbcall sbdone output result step model");
	ck_assert(event_nth(&ev, CACT_EVENT_TOOL_RESULT, 0)->has_result);
	log = fake_log_n(&f, 2);
	names = tool_names(log_req(log, 0));
	ck_assert_str_eq(names, "execute_code");
	ck_assert_str_eq(tool_content(log_req(log, 1), "e1"), "2 done\n");

	free(names);
	free(kinds);
	json_decref(log);
	cact_run_free(r);
	cact_session_free(s);
	cact_agent_free(a);
	cact_tool_unref(exec);
	cact_free(instr);
	cact_chat_free(chat);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
	events_free(&ev);
	fake_stop(&f);
}
END_TEST

START_TEST(codeact_tool_approval_follows_config)
{
	struct fake f;
	struct cact_runtime *rt = t_runtime();
	struct cact_codeact *cc = cc_new(rt);
	struct cact_chat *chat;
	struct cact_agent *a;
	struct cact_session *s = session_new();
	struct cact_tool *exec = NULL;
	struct cact_error err = {0};
	struct cact_run_options o = {.approve = approve_fn, .approve_user = (void *)(intptr_t)0};
	struct cact_run *r;
	const char *t;
	json_t *log;

	fake_start(&f,
		   "["
		   "{`response`: {`tool_calls`: [{`id`: `d1`, `name`: `execute_code`, `arguments`:"
		   "   {`code`: `print(call_tool('danger'))`}}]}},"
		   "{`response`: {`content`: `finished`}}]");
	cc_add(cc, "compute", COMPUTE_PARAMS, CACT_APPROVAL_NEVER_REQUIRE, cb_compute, NULL);
	ck_assert_msg(cact_codeact_tool(cc, &exec, &err) == 0, "%s", err.message);
	chat = chat_new(&f, 0, 0);
	a = agent_new(chat, NULL);
	ck_assert_msg(cact_agent_add_tool(a, exec, &err) == 0, "%s", err.message);
	/* The tool runs code on cc as it is when called: cc now needs approval. */
	cc_add(cc, "danger", NULL, CACT_APPROVAL_ALWAYS_REQUIRE, cb_count, "\"done\"");
	ck_assert_int_eq(cact_codeact_approval(cc), CACT_APPROVAL_ALWAYS_REQUIRE);

	r = run_ok(a, s, "use the new tool", &o);
	assert_final(r, "finished", 2);
	log = fake_log_n(&f, 2);
	t = tool_content(log_req(log, 1), "d1");
	ck_assert_msg(atomic_load(&g_count_calls) == 0,
		      "an always_require tool ran without approval (approval asked %d times); "
		      "the model was told: %s",
		      atomic_load(&g_approvals), t);
	ck_assert_int_eq(atomic_load(&g_approvals), 1);

	json_decref(log);
	cact_run_free(r);
	cact_session_free(s);
	cact_agent_free(a);
	cact_tool_unref(exec);
	cact_chat_free(chat);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
	fake_stop(&f);
}
END_TEST

/* ---- persistent: one sandbox session per conversation ---- */

/* The parameters schema of the offered function name (borrowed), NULL when not offered. */
static json_t *tool_params(json_t *req, const char *name)
{
	json_t *t;
	size_t i;

	json_array_foreach(json_object_get(req, "tools"), i, t) {
		json_t *fn = json_object_get(t, "function");

		if (strcmp(jstr(fn, "name"), name) == 0)
			return json_object_get(fn, "parameters");
	}
	return NULL;
}

/* The content of the request's last user message. Borrowed. */
static const char *last_user(json_t *req)
{
	const char *last = NULL;
	json_t *m;
	size_t i;

	json_array_foreach(json_object_get(req, "messages"), i, m) {
		if (strcmp(jstr(m, "role"), "user") == 0)
			last = jstr(m, "content");
	}
	ck_assert_msg(last != NULL, "the request has no user message");
	return last;
}

static struct cact_codeact *cc_persistent(struct cact_runtime *rt)
{
	struct cact_codeact *cc = cc_new(rt);

	cact_codeact_set_persistent(cc, 1);
	return cc;
}

/* The "sandbox_session" the session records under "codeact" (owned), NULL when none. */
static json_t *sandbox_state(const struct cact_session *s)
{
	char *st = cact_session_state_json(s, "codeact");
	json_t *v = st ? json_loads(st, 0, NULL) : NULL, *ss;

	ck_assert_ptr_nonnull(v);
	ss = json_incref(json_object_get(v, "sandbox_session"));
	json_decref(v);
	cact_free(st);
	return ss;
}

/* One execute_code call with code (backquotes for quotes), as a script step's response. */
#define EXEC_CALL(id, code)                       \
	"`response`: {`tool_calls`: [{`id`: `" id \
	"`, `name`: `execute_code`, `arguments`: {`code`: `" code "`}}]}"

START_TEST(persistent_state_per_conversation)
{
	struct fake f;
	struct cact_runtime *rt = t_runtime();
	struct cact_codeact *cc = cc_persistent(rt);
	struct cact_chat *chat;
	struct cact_agent *a;
	struct cact_session *s1 = session_new(), *s2 = session_new();
	struct cact_run *r;
	const char *sys, *desc;
	char *ci;
	json_t *log, *params;
	size_t n, i;

	fake_start(
		&f,
		"["
		"{`match`: {`last_user_contains`: `set x`},"
		" `expect`: {`has_tool`: `execute_code`}, " EXEC_CALL(
			"c1",
			"x = 41") "},"
				  "{`match`: {`last_user_contains`: `set x`}, " EXEC_CALL(
					  "c2",
					  "print(x + 1)") "},"
							  "{`match`: {`last_user_contains`: `set "
							  "x`}, `response`: {`content`: `set`}},"
							  "{`match`: {`last_user_contains`: "
							  "`other`}, " EXEC_CALL(
								  "c3",
								  "print('x' in dir())") "},"
											 "{`match`:"
											 " {`last_"
											 "user_"
											 "contains`"
											 ": "
											 "`other`},"
											 " `"
											 "response`"
											 ": "
											 "{`"
											 "content`:"
											 " `other`}"
											 "},"
											 "{`match`:"
											 " {`last_"
											 "user_"
											 "contains`"
											 ": `read "
											 "x`},"
											 " " EXEC_CALL(
												 "c"
												 "4",
												 "p"
												 "r"
												 "i"
												 "n"
												 "t"
												 "("
												 "x"
												 ")") "},"
												      "{`match`: {`last_user_contains`: `read x`}, `response`: {`content`: `read`}}]");
	chat = chat_new(&f, 0, 0);
	a = agent_new(chat, NULL);
	add_provider(a, cc, 0);
	r = run_ok(a, s1, "set x", NULL);
	assert_final(r, "set", 3);
	cact_run_free(r);
	/* Another conversation, while the first one's interpreter lives: none of its variables. */
	r = run_ok(a, s2, "other", NULL);
	assert_final(r, "other", 2);
	cact_run_free(r);
	/* A later run of the first conversation finds its interpreter as it left it. */
	r = run_ok(a, s1, "read x", NULL);
	assert_final(r, "read", 2);
	cact_run_free(r);

	log = fake_log_n(&f, 7);
	ck_assert_str_eq(tool_content(log_req(log, 1), "c1"),
			 "Code executed successfully without output.\n");
	ck_assert_str_eq(tool_content(log_req(log, 2), "c2"), "42\n");
	ck_assert_str_eq(tool_content(log_req(log, 4), "c3"), "False\n");
	ck_assert_str_eq(tool_content(log_req(log, 6), "c4"), "41\n");
	/* What the model read: the instructions and the description say state persists ... */
	ci = cact_codeact_instructions(cc, 0);
	ck_assert_msg(strstr(ci, "keeps its state between calls") != NULL, "%s", ci);
	for (i = 0; i < 7; i++) {
		sys = system_text(log_req(log, i), &n);
		ck_assert_uint_eq(n, 1);
		ck_assert_msg(sys && strstr(sys, ci), "request %zu, system: %s", i, sys);
		desc = tool_description(log_req(log, i), "execute_code");
		ck_assert_msg(desc && strstr(desc, "State persists between runs"),
			      "description: %s", desc);
		/* ... and the schema is the session one: code and an optional reset. */
		params = tool_params(log_req(log, i), "execute_code");
		ck_assert_ptr_nonnull(
			json_object_get(json_object_get(params, "properties"), "reset"));
		ck_assert_str_eq(
			jstr(json_object_get(json_object_get(params, "properties"), "reset"),
			     "type"),
			"boolean");
		ck_assert_uint_eq(json_array_size(json_object_get(params, "required")), 1);
	}

	cact_free(ci);
	json_decref(log);
	cact_session_free(s1);
	cact_session_free(s2);
	cact_agent_free(a);
	cact_chat_free(chat);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
	fake_stop(&f);
}
END_TEST

START_TEST(persistent_ended_session_and_reset)
{
	struct fake f;
	struct cact_runtime *rt = t_runtime();
	struct cact_codeact *cc = cc_persistent(rt);
	struct cact_chat *chat;
	struct cact_agent *a;
	struct cact_session *s = session_new();
	struct cact_error err = {0};
	struct events ev;
	struct cact_run_options o = {.on_event = on_event, .event_user = &ev};
	struct cact_run *r;
	const struct rec *res;
	const char *t;
	json_t *log;

	fake_start(
		&f,
		"["
		"{`match`: {`last_user_contains`: `go`}, " EXEC_CALL(
			"c1",
			"x = 1") "},"
				 "{`match`: {`last_tool_contains`: `without output`}, " EXEC_CALL(
					 "c2",
					 "import time; time.sleep(60)") "},"
									"{`match`: "
									"{`last_tool_contains`: "
									"`[Session "
									"ended]`}, " EXEC_CALL(
										"c3",
										"print(x)") "},"
											    "{`"
											    "match`"
											    ": "
											    "{`"
											    "last_"
											    "tool_"
											    "contai"
											    "ns`: "
											    "`faile"
											    "d: "
											    "sessio"
											    "n "
											    "ended`"
											    "},"
											    " `"
											    "respon"
											    "se`: "
											    "{`"
											    "tool_"
											    "calls`"
											    ": "
											    "[{`id`"
											    ": "
											    "`c4`, "
											    "`name`"
											    ": "
											    "`execu"
											    "te_"
											    "code`,"
											    " `"
											    "argume"
											    "nts`:"
											    "   "
											    "{`"
											    "code`:"
											    " `"
											    "print("
											    "'x' "
											    "in "
											    "dir())"
											    "; y = "
											    "5`, "
											    "`reset"
											    "`: "
											    "true}}"
											    "]}},"
											    "{`"
											    "match`"
											    ": "
											    "{`"
											    "last_"
											    "tool_"
											    "contai"
											    "ns`: "
											    "`False"
											    "`},"
											    " " EXEC_CALL(
												    "c5",
												    "print(y)") "},"
														"{`match`: {`last_tool_contains`: `5`},"
														" `response`: {`tool_calls`: [{`id`: `c6`, `name`: `execute_code`, `arguments`:"
														"   {`code`: `print('y' in dir())`, `reset`: true}}]}},"
														"{`match`: {`last_tool_contains`: `False`}, `response`: {`content`: `done`}}]");
	events_init(&ev);
	/* A run of a second at most: the sleeping one ends the session. */
	ck_assert_int_eq(cact_codeact_set_limit(cc, CACT_LIMIT_TIMEOUT_MS, 1000, &err), 0);
	chat = chat_new(&f, 0, 0);
	a = agent_new(chat, NULL);
	add_provider(a, cc, 0);
	r = run_ok(a, s, "go", &o);
	assert_final(r, "done", 7);

	log = fake_log_n(&f, 7);
	/* The run that ended the session says so, and how to start over ... */
	t = tool_content(log_req(log, 2), "c2");
	ck_assert_msg(t && strstr(t, "[Execution error]") && strstr(t, "[Session ended]") &&
			      strstr(t, "timeout in run 2") &&
			      strstr(t, "call execute_code with reset=true to start over"),
		      "c2: %s", t);
	/* ... and so does every later call until a reset. */
	ck_assert_str_eq(tool_content(log_req(log, 3), "c3"),
			 "Error: tool 'execute_code' failed: session ended: timeout in run 2; call "
			 "execute_code with reset=true to start over");
	/* The reset is a fresh interpreter, which then keeps its own state. */
	ck_assert_str_eq(tool_content(log_req(log, 4), "c4"), "False\n");
	ck_assert_str_eq(tool_content(log_req(log, 5), "c5"), "5\n");
	/* A reset of a live session forgets too. */
	ck_assert_str_eq(tool_content(log_req(log, 6), "c6"), "False\n");
	res = event_nth(&ev, CACT_EVENT_TOOL_RESULT, 1);
	ck_assert(res && !res->ok && res->status == CACT_STATUS_TIMEOUT);
	res = event_nth(&ev, CACT_EVENT_TOOL_RESULT, 2);
	ck_assert(res && !res->ok && !res->has_result);
	res = event_nth(&ev, CACT_EVENT_TOOL_RESULT, 3);
	ck_assert(res && res->ok);

	json_decref(log);
	cact_run_free(r);
	cact_session_free(s);
	cact_agent_free(a);
	cact_chat_free(chat);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
	events_free(&ev);
	fake_stop(&f);
}
END_TEST

START_TEST(persistent_restored_starts_fresh)
{
	struct fake f;
	struct cact_runtime *rt = t_runtime();
	struct cact_codeact *cc = cc_persistent(rt);
	struct cact_chat *chat;
	struct cact_agent *a;
	struct cact_session *s = session_new(), *back = NULL;
	struct cact_error err = {0};
	struct cact_run *r;
	const char *u;
	char *saved;
	json_t *log, *ss, *want;

	fake_start(
		&f,
		"["
		"{`match`: {`last_user_contains`: `remember`}, " EXEC_CALL(
			"c1",
			"x = 41") "},"
				  "{`match`: {`last_user_contains`: `remember`}, `response`: "
				  "{`content`: `kept`}},"
				  "{`match`: {`last_user_contains`: `use x`,"
				  "           `any_message_contains`: `starts with a fresh "
				  "interpreter`}, " EXEC_CALL(
					  "c2",
					  "print('x' in dir())") "},"
								 "{`match`: {`last_user_contains`: "
								 "`use x`}, `response`: "
								 "{`content`: `gone`}},"
								 "{`match`: {`last_user_contains`: "
								 "`again`}, `response`: "
								 "{`content`: `ok`}}]");
	chat = chat_new(&f, 0, 0);
	a = agent_new(chat, NULL);
	add_provider(a, cc, 0);
	r = run_ok(a, s, "remember", NULL);
	assert_final(r, "kept", 2);
	cact_run_free(r);
	/* The saved conversation says that the interpreter, which had one run, is not in it. */
	ss = sandbox_state(s);
	want = json_pack("{s:b, s:i, s:b}", "persistent", 1, "runs", 1, "saved", 0);
	ck_assert_msg(json_equal(ss, want), "sandbox_session: %s", json_dumps(ss, JSON_COMPACT));
	json_decref(ss);
	saved = cact_session_to_json(s);
	ck_assert_ptr_nonnull(saved);
	cact_session_free(s);

	ck_assert_msg(cact_session_load(saved, &back, &err) == 0, "%s", err.message);
	cact_free(saved);
	r = run_ok(a, back, "use x", NULL);
	assert_final(r, "gone", 2);
	cact_run_free(r);
	r = run_ok(a, back, "again", NULL);
	assert_final(r, "ok", 1);
	cact_run_free(r);

	log = fake_log_n(&f, 5);
	/* Told once, in front of the prompt, in the prompt's own message ... */
	u = last_user(log_req(log, 2));
	ck_assert_msg(strncmp(u, "[Note: ", 7) == 0 && strstr(u, "fresh interpreter") &&
			      strlen(u) > 7 && strcmp(u + strlen(u) - 7, "\n\nuse x") == 0,
		      "user: %s", u);
	ck_assert_str_eq(last_user(log_req(log, 4)), "again");
	/* ... and indeed without the old variables. */
	ck_assert_str_eq(tool_content(log_req(log, 3), "c2"), "False\n");
	ss = sandbox_state(back);
	ck_assert_int_eq(json_integer_value(json_object_get(ss, "runs")), 1);
	ck_assert(json_is_false(json_object_get(ss, "saved")));

	json_decref(ss);
	json_decref(want);
	json_decref(log);
	cact_session_free(back);
	cact_agent_free(a);
	cact_chat_free(chat);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
	fake_stop(&f);
}
END_TEST

START_TEST(persistent_sessions_end_with_conversation_or_agent)
{
	struct fake f;
	struct cact_runtime_options ro;
	struct cact_runtime *rt;
	struct cact_codeact *cc;
	struct cact_chat *chat;
	struct cact_agent *a1, *a2;
	struct cact_session *s1 = session_new(), *s2 = session_new(), *s3 = session_new();
	struct cact_run *r;
	const char *t;
	json_t *log;

	fake_start(
		&f,
		"["
		"{`match`: {`last_user_contains`: `one`}, " EXEC_CALL(
			"c1",
			"x = 1") "},"
				 "{`match`: {`last_user_contains`: `one`}, `response`: {`content`: "
				 "`1`}},"
				 "{`match`: {`last_user_contains`: `two`}, " EXEC_CALL(
					 "c2",
					 "print(2)") "},"
						     "{`match`: {`last_user_contains`: `two`}, "
						     "`response`: {`content`: `2`}},"
						     "{`match`: {`last_user_contains`: "
						     "`three`}, " EXEC_CALL(
							     "c3",
							     "print(3)") "},"
									 "{`match`: "
									 "{`last_user_contains`: "
									 "`three`}, `response`: "
									 "{`content`: `3`}},"
									 "{`match`: "
									 "{`last_user_contains`: "
									 "`four`}, " EXEC_CALL(
										 "c4",
										 "print(4)") "},"
											     "{`"
											     "match"
											     "`: "
											     "{`"
											     "last_"
											     "user_"
											     "conta"
											     "ins`:"
											     " `"
											     "four`"
											     "}, "
											     "`resp"
											     "onse`"
											     ": "
											     "{`"
											     "conte"
											     "nt`: "
											     "`4`}}"
											     "]");
	/* Room for one sandbox session: a leaked one would show. */
	cact_runtime_options_init(&ro);
	ro.max_sessions = 1;
	rt = t_runtime_opts(&ro);
	cc = cc_persistent(rt);
	chat = chat_new(&f, 0, 0);
	a1 = agent_new(chat, NULL);
	add_provider(a1, cc, 0);
	r = run_ok(a1, s1, "one", NULL);
	cact_run_free(r);
	/* A second conversation needs a second session: refused while the first lives. */
	r = run_ok(a1, s2, "two", NULL);
	cact_run_free(r);
	/* Freeing the first conversation ends its session. */
	cact_session_free(s1);
	r = run_ok(a1, s2, "three", NULL);
	cact_run_free(r);
	/* Freeing the agent ends the sessions of the conversations still there. */
	cact_agent_free(a1);
	a2 = agent_new(chat, NULL);
	add_provider(a2, cc, 0);
	r = run_ok(a2, s3, "four", NULL);
	cact_run_free(r);

	log = fake_log_n(&f, 8);
	t = tool_content(log_req(log, 3), "c2");
	ck_assert_msg(t && strstr(t, "too many sessions"), "c2: %s", t);
	ck_assert_str_eq(tool_content(log_req(log, 5), "c3"), "3\n");
	ck_assert_str_eq(tool_content(log_req(log, 7), "c4"), "4\n");

	json_decref(log);
	cact_session_free(s2); /* after its agent: nothing left to end */
	cact_session_free(s3);
	cact_agent_free(a2);
	cact_chat_free(chat);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
	fake_stop(&f);
}
END_TEST

START_TEST(not_persistent_unchanged)
{
	struct fake f;
	struct cact_runtime *rt = t_runtime();
	struct cact_codeact *cc = cc_new(rt);
	struct cact_chat *chat;
	struct cact_agent *a;
	struct cact_session *s = session_new(), *back = NULL;
	struct cact_error err = {0};
	struct cact_run *r;
	const char *t;
	char *saved, *st;
	json_t *log, *params, *want;

	fake_start(
		&f,
		"["
		"{`match`: {`last_user_contains`: `go`}, " EXEC_CALL(
			"c1",
			"x = 41") "},"
				  "{`match`: {`last_user_contains`: `go`}, " EXEC_CALL(
					  "c2",
					  "print('x' in dir())") "},"
								 "{`match`: {`last_user_contains`: "
								 "`go`},"
								 " `response`: {`tool_calls`: "
								 "[{`id`: `c3`, `name`: "
								 "`execute_code`, `arguments`:"
								 "   {`code`: `print(1)`, `reset`: "
								 "true}}]}},"
								 "{`match`: {`last_user_contains`: "
								 "`go`}, `response`: {`content`: "
								 "`done`}},"
								 "{`match`: {`last_user_contains`: "
								 "`more`}, `response`: {`content`: "
								 "`ok`}}]");
	chat = chat_new(&f, 0, 0);
	a = agent_new(chat, NULL);
	add_provider(a, cc, 0);
	r = run_ok(a, s, "go", NULL);
	assert_final(r, "done", 4);
	cact_run_free(r);
	saved = cact_session_to_json(s);
	ck_assert_int_eq(cact_session_load(saved, &back, &err), 0);
	r = run_ok(a, back, "more", NULL);
	assert_final(r, "ok", 1);
	cact_run_free(r);

	log = fake_log_n(&f, 5);
	/* Every call starts fresh, and there is nothing to reset. */
	ck_assert_str_eq(tool_content(log_req(log, 2), "c2"), "False\n");
	t = tool_content(log_req(log, 3), "c3");
	ck_assert_msg(t && strncmp(t, "Error: the arguments do not match", 33) == 0, "c3: %s", t);
	params = tool_params(log_req(log, 0), "execute_code");
	want = json_loads(cact_codeact_input_schema(), 0, NULL);
	ck_assert_msg(json_equal(params, want), "parameters: %s", json_dumps(params, JSON_COMPACT));
	t = tool_description(log_req(log, 0), "execute_code");
	ck_assert_msg(t && strstr(t, "Every run starts fresh"), "description: %s", t);
	/* Nothing about an interpreter in the saved conversation, and no note after loading. */
	st = cact_session_state_json(back, "codeact");
	ck_assert_msg(st && !strstr(st, "sandbox_session"), "state: %s", st);
	ck_assert_str_eq(last_user(log_req(log, 4)), "more");

	cact_free(st);
	cact_free(saved);
	json_decref(want);
	json_decref(log);
	cact_session_free(s);
	cact_session_free(back);
	cact_agent_free(a);
	cact_chat_free(chat);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
	fake_stop(&f);
}
END_TEST

/* ---- cact agent ---- */

/*
 * A configuration file in dir with a command tool compute (a + b) and, with
 * wipe, an always_require tool that leaves a file named wiped when it runs.
 */
static char *cli_config(const char *dir, int wipe)
{
	char *text =
		t_fmt("{`tools`: ["
		      " {`name`: `compute`, `description`: `adds a and b`,"
		      "  `parameters`: {`type`: `object`, `properties`: {`a`: {`type`: `integer`},"
		      "    `b`: {`type`: `integer`}}, `required`: [`a`, `b`]},"
		      "  `command`: [`/usr/bin/python3`, `-c`,"
		      "    `import json, sys; a = json.load(sys.stdin); print(a['a'] + a['b'])`]}%s"
		      "]}",
		      wipe ? ", {`name`: `wipe`, `description`: `deletes everything`,"
			     "  `approval_mode`: `always_require`,"
			     "  `command`: [`/usr/bin/python3`, `-c`,"
			     "    `open('wiped', 'w').write('x'); print(1)`]}"
			   : "");

	write_json(dir, "cfg.json", text);
	free(text);
	return t_fmt("%s/cfg.json", dir);
}

#define COMPUTE_SCRIPT                                                                         \
	"[{`match`: {`last_user_contains`: `20+22`},"                                          \
	" `response`: {`tool_calls`: [{`id`: `c1`, `name`: `execute_code`, `arguments`:"       \
	"   {`code`: `print(call_tool('compute', a=20, b=22))`}}]}},"                          \
	"{`match`: {`last_user_contains`: `20+22`}, `expect`: {`tool_result_contains`: `42`}," \
	" `response`: {`content`: `The answer is 42.`}}]"

START_TEST(cli_answer_on_stdout)
{
	struct fake f;
	char *dir = t_tmpdir(), *cfg = cli_config(dir, 0), *out = NULL, *err = NULL;
	int rc;

	fake_start(&f, COMPUTE_SCRIPT);
	rc = CLI(NULL, &out, &err, "agent", "--config", cfg, "--base-url", f.url, "--model", "fake",
		 "what is 20+22?");
	ck_assert_msg(rc == 0, "status %d\nstdout: %s\nstderr: %s", rc, out, err);
	ck_assert_str_eq(out, "The answer is 42.\n");
	ck_assert_msg(strstr(err, "[step 1]") && strstr(err, "execute_code") &&
			      strstr(err, "call_tool compute") && strstr(err, "2 step(s)"),
		      "stderr: %s", err);
	json_decref(fake_log_n(&f, 2));

	free(out);
	free(err);
	free(cfg);
	t_rmtree(dir);
	free(dir);
	fake_stop(&f);
}
END_TEST

/*
 * cact agent shows the code's output in its progress as it comes: the
 * first line before the code's tool call, the second after, escaped.
 */
START_TEST(cli_live_output_in_progress)
{
	struct fake f;
	char *dir = t_tmpdir(), *cfg = cli_config(dir, 0), *out = NULL, *err = NULL;
	const char *first, *call, *done, *second, *warn;
	int rc;

	fake_start(&f, "[{`response`: {`tool_calls`: [{`id`: `c1`, `name`: `execute_code`,"
		       "   `arguments`: {`code`: `import sys\\nprint('first \\\\x1b[31mred')\\n"
		       "r = call_tool('compute', a=20, b=22)\\nprint('second', r)\\n"
		       "print('warn', file=sys.stderr)`}}]}},"
		       "{`expect`: {`tool_result_contains`: `second 42`},"
		       " `response`: {`content`: `Done.`}}]");
	rc = CLI(NULL, &out, &err, "agent", "--config", cfg, "--base-url", f.url, "--model", "fake",
		 "print things");
	ck_assert_msg(rc == 0, "status %d\nstdout: %s\nstderr: %s", rc, out, err);
	first = strstr(err, "    > first \\x1b[31mred\n");
	call = strstr(err, "-> call_tool compute");
	done = call ? strstr(call, "<- compute ok") : NULL;
	second = done ? strstr(done, "    > second 42\n") : NULL;
	warn = done ? strstr(done, "    ! warn\n") : NULL;
	ck_assert_msg(first && call && first < call && done && second && warn, "stderr: %s", err);
	ck_assert_ptr_null(strchr(err, '\033')); /* the code's escape never reaches the terminal */
	json_decref(fake_log_n(&f, 2));
	free(out);
	free(err);
	free(cfg);
	t_rmtree(dir);
	free(dir);
	fake_stop(&f);
}
END_TEST

START_TEST(cli_json_transcript)
{
	struct fake f;
	char *dir = t_tmpdir(), *cfg = cli_config(dir, 0), *out = NULL, *err = NULL;
	json_t *j, *msgs;
	json_error_t jerr;
	int rc;

	fake_start(&f, COMPUTE_SCRIPT);
	rc = CLI(NULL, &out, &err, "agent", "--config", cfg, "--base-url", f.url, "--model", "fake",
		 "--json", "what is 20+22?");
	ck_assert_msg(rc == 0, "status %d\nstdout: %s\nstderr: %s", rc, out, err);
	ck_assert_uint_eq(count_char(out, '\n'), 1);
	j = json_loads(out, 0, &jerr);
	ck_assert_msg(j != NULL, "stdout is not JSON: %s: %s", jerr.text, out);
	ck_assert_str_eq(json_string_value(json_object_get(j, "stop")), "final");
	ck_assert_str_eq(json_string_value(json_object_get(j, "text")), "The answer is 42.");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "steps")), 2);
	msgs = json_object_get(j, "messages");
	ck_assert_uint_eq(json_array_size(msgs), 4);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(msgs, 0), "role")),
			 "user");
	ck_assert(json_array_size(json_object_get(json_array_get(msgs, 1), "tool_calls")) == 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(msgs, 2), "content")),
			 "42\n");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(msgs, 3), "content")),
			 "The answer is 42.");

	json_decref(j);
	free(out);
	free(err);
	free(cfg);
	t_rmtree(dir);
	free(dir);
	fake_stop(&f);
}
END_TEST

START_TEST(cli_session_file)
{
	struct fake f;
	char *dir = t_tmpdir(), *cfg = cli_config(dir, 0), *out = NULL, *err = NULL;
	char *path = t_fmt("%s/chat.json", dir), *text = NULL;
	struct cact_session *s = NULL;
	struct cact_error cerr = {0};
	json_t *m, *log;
	size_t len = 0;
	FILE *fp;
	int rc;

	fake_start(&f, "["
		       "{`match`: {`last_user_contains`: `remember seven`},"
		       " `response`: {`content`: `Noted: seven.`}},"
		       "{`match`: {`last_user_contains`: `which number`,"
		       "           `any_message_contains`: `Noted: seven.`},"
		       " `response`: {`content`: `Seven.`}}]");
	rc = CLI(NULL, &out, &err, "agent", "--config", cfg, "--base-url", f.url, "--model", "fake",
		 "--session", path, "remember seven");
	ck_assert_msg(rc == 0, "status %d\nstdout: %s\nstderr: %s", rc, out, err);
	ck_assert_str_eq(out, "Noted: seven.\n");
	free(out);
	free(err);
	rc = CLI(NULL, &out, &err, "agent", "--config", cfg, "--base-url", f.url, "--model", "fake",
		 "--session", path, "which number was it?");
	ck_assert_msg(rc == 0, "status %d\nstdout: %s\nstderr: %s", rc, out, err);
	ck_assert_str_eq(out, "Seven.\n");
	log = fake_log_n(&f, 2);

	fp = fopen(path, "r");
	ck_assert_ptr_nonnull(fp);
	ck_assert(getdelim(&text, &len, '\0', fp) > 0);
	fclose(fp);
	ck_assert_msg(cact_session_load(text, &s, &cerr) == 0, "%s", cerr.message);
	free(text);
	text = cact_session_messages_json(s);
	m = json_loads(text, 0, NULL);
	ck_assert_uint_eq(json_array_size(m), 4);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 3), "content")),
			 "Seven.");
	json_decref(m);
	cact_free(text);
	text = cact_session_state_json(s, "codeact");
	ck_assert_ptr_nonnull(text);

	cact_free(text);
	cact_session_free(s);
	json_decref(log);
	free(out);
	free(err);
	free(path);
	free(cfg);
	t_rmtree(dir);
	free(dir);
	fake_stop(&f);
}
END_TEST

START_TEST(cli_persistent_session_file)
{
	struct fake f;
	char *dir = t_tmpdir(), *cfg = cli_config(dir, 0), *out = NULL, *err = NULL;
	char *path = t_fmt("%s/chat.json", dir), *cfg2 = t_fmt("%s/sessions.json", dir);
	char *text;
	json_t *log, *saved, *ss, *want;
	json_error_t jerr;
	size_t i;
	int rc;

	fake_start(&f, "["
		       "{`match`: {`last_user_contains`: `set x`},"
		       " `expect`: {`system_contains`: `keeps its state between "
		       "calls`}, " EXEC_CALL(
			       "c1", "x = 20") "},"
					       "{`match`: {`last_user_contains`: `set "
					       "x`}, " EXEC_CALL(
						       "c2",
						       "print(call_tool('compute', a=x, "
						       "b=22))") "},"
								 "{`match`: "
								 "{`last_user_contains`: "
								 "`set x`}, `response`: "
								 "{`content`: `42`}},"
								 "{`match`: "
								 "{`last_user_contains`: "
								 "`read x`,"
								 "           "
								 "`any_message_contains`: "
								 "`starts with a fresh "
								 "interpreter`},"
								 " `expect`: "
								 "{`system_contains`: `keeps "
								 "its state between "
								 "calls`}, " EXEC_CALL(
									 "c3", "print('x' in "
									       "dir())") "},"
											 "{`match`:"
											 " {`last_"
											 "user_"
											 "contains`"
											 ": `read "
											 "x`}, "
											 "`response"
											 "`: "
											 "{`"
											 "content`:"
											 " `fresh`}"
											 "}]");
	rc = CLI(NULL, &out, &err, "agent", "--config", cfg, "--base-url", f.url, "--model", "fake",
		 "--persistent", "--session", path, "set x");
	ck_assert_msg(rc == 0, "status %d\nstdout: %s\nstderr: %s", rc, out, err);
	ck_assert_str_eq(out, "42\n");
	free(out);
	free(err);
	/* The file records that the interpreter, two runs in, was not saved. */
	text = t_read_file(path, NULL);
	ck_assert_ptr_nonnull(text);
	saved = json_loads(text, 0, &jerr);
	ck_assert_msg(saved != NULL, "%s: %s", jerr.text, text);
	ss = json_object_get(json_object_get(json_object_get(saved, "state"), "codeact"),
			     "sandbox_session");
	want = json_pack("{s:b, s:i, s:b}", "persistent", 1, "runs", 2, "saved", 0);
	ck_assert_msg(json_equal(ss, want), "saved: %s", text);
	json_decref(want);
	json_decref(saved);
	free(text);

	/* Continued by another process, persistent through the file's "sessions". */
	write_json(dir, "sessions.json", "{`sessions`: {`enabled`: true}}");
	rc = CLI(NULL, &out, &err, "agent", "--config", cfg2, "--base-url", f.url, "--model",
		 "fake", "--session", path, "read x");
	ck_assert_msg(rc == 0, "status %d\nstdout: %s\nstderr: %s", rc, out, err);
	ck_assert_str_eq(out, "fresh\n");
	log = fake_log_n(&f, 5);
	ck_assert_str_eq(tool_content(log_req(log, 2), "c2"), "42\n");
	ck_assert_str_eq(tool_content(log_req(log, 4), "c3"), "False\n");
	for (i = 0; i < 5; i++)
		ck_assert_ptr_nonnull(json_object_get(
			json_object_get(tool_params(log_req(log, i), "execute_code"), "properties"),
			"reset"));

	json_decref(log);
	free(out);
	free(err);
	free(path);
	free(cfg);
	free(cfg2);
	t_rmtree(dir);
	free(dir);
	fake_stop(&f);
}
END_TEST

START_TEST(cli_approve_none_denies)
{
	struct fake f;
	char *dir = t_tmpdir(), *cfg = cli_config(dir, 1), *out = NULL, *err = NULL;
	char *wiped = t_fmt("%s/wiped", dir);
	json_t *log;
	int rc;

	fake_start(&f,
		   "["
		   "{`response`: {`tool_calls`: [{`id`: `w1`, `name`: `execute_code`, `arguments`:"
		   "   {`code`: `print(call_tool('wipe'))`}}]}},"
		   "{`expect`: {`tool_result_contains`: `did not approve`},"
		   " `response`: {`content`: `Not allowed.`}}]");
	rc = CLI(NULL, &out, &err, "agent", "--config", cfg, "--base-url", f.url, "--model", "fake",
		 "--approve", "none", "wipe it all");
	ck_assert_msg(rc == 0, "status %d\nstdout: %s\nstderr: %s", rc, out, err);
	ck_assert_str_eq(out, "Not allowed.\n");
	ck_assert_msg(access(wiped, F_OK) != 0, "the denied tool ran");
	/* Denied by the option, without looking for a terminal to ask on. */
	ck_assert_msg(strstr(err, "no terminal") == NULL, "stderr: %s", err);
	log = fake_log_n(&f, 2);

	json_decref(log);
	free(wiped);
	free(out);
	free(err);
	free(cfg);
	t_rmtree(dir);
	free(dir);
	fake_stop(&f);
}
END_TEST

START_TEST(cli_step_limit_exits_1)
{
	struct fake f;
	char *dir = t_tmpdir(), *cfg = cli_config(dir, 0), *out = NULL, *err = NULL;
	int rc;

	fake_start(&f,
		   "["
		   "{`response`: {`tool_calls`: [{`id`: `s1`, `name`: `execute_code`, `arguments`:"
		   "   {`code`: `print(1)`}}]}},"
		   "{`response`: {`tool_calls`: [{`id`: `s2`, `name`: `execute_code`, `arguments`:"
		   "   {`code`: `print(2)`}}]}}]");
	rc = CLI(NULL, &out, &err, "agent", "--config", cfg, "--base-url", f.url, "--model", "fake",
		 "--max-steps", "1", "loop forever");
	ck_assert_msg(rc == 1, "status %d\nstdout: %s\nstderr: %s", rc, out, err);
	ck_assert_msg(out[0] == '\0', "stdout: %s", out);
	ck_assert_msg(strstr(err, "step limit") != NULL, "stderr: %s", err);
	json_decref(fake_log_n(&f, 1));

	free(out);
	free(err);
	free(cfg);
	t_rmtree(dir);
	free(dir);
	fake_stop(&f);
}
END_TEST

/* Status 2, nothing on stdout, one stderr line naming the option. */
static void assert_usage_error(int rc, const char *out, const char *err, const char *needle)
{
	size_t n = strlen(err);

	ck_assert_msg(rc == 2, "status %d\nstdout: %s\nstderr: %s", rc, out, err);
	ck_assert_msg(out[0] == '\0', "stdout: %s", out);
	ck_assert_msg(strncmp(err, "cact agent: ", 12) == 0, "stderr: %s", err);
	ck_assert_msg(n > 0 && err[n - 1] == '\n' && count_char(err, '\n') == 1,
		      "stderr is not one line: %s", err);
	ck_assert_msg(strstr(err, needle) != NULL, "stderr does not name %s: %s", needle, err);
}

START_TEST(cli_missing_model)
{
	char *dir = t_tmpdir(), *cfg = cli_config(dir, 0), *out = NULL, *err = NULL;
	int rc;

	rc = CLI(NULL, &out, &err, "agent", "--config", cfg, "--base-url", "http://127.0.0.1:9/v1",
		 "hello");
	assert_usage_error(rc, out, err, "--model");

	free(out);
	free(err);
	free(cfg);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(cli_max_steps_bad)
{
	static const char *const bad[] = {"0", "abc", "-1", "1001", "", "3x"};
	char *dir = t_tmpdir(), *cfg = cli_config(dir, 0), *out = NULL, *err = NULL;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = CLI(NULL, &out, &err, "agent", "--config", cfg, "--base-url",
			 "http://127.0.0.1:9/v1", "--model", "fake", "--max-steps", bad[i],
			 "hello");
		assert_usage_error(rc, out, err, "--max-steps");
		free(out);
		free(err);
	}

	free(cfg);
	t_rmtree(dir);
	free(dir);
}
END_TEST

/* A local port with nothing listening on it. */
static int closed_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

START_TEST(cli_unreachable_server)
{
	char *dir = t_tmpdir(), *cfg = cli_config(dir, 0), *out = NULL, *err = NULL;
	char *url = t_fmt("http://127.0.0.1:%d/v1", closed_port());
	const char *line, *errline = NULL;
	int rc, n_err = 0;

	rc = CLI(NULL, &out, &err, "agent", "--config", cfg, "--base-url", url, "--model", "fake",
		 "hello");
	ck_assert_msg(rc == 1, "status %d\nstdout: %s\nstderr: %s", rc, out, err);
	ck_assert_msg(out[0] == '\0', "stdout: %s", out);
	for (line = err; *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : "") {
		if (strncmp(line, "cact agent: ", 12) == 0) {
			n_err++;
			errline = line;
		}
	}
	ck_assert_msg(n_err == 1, "expected one error line: %s", err);
	ck_assert_msg(strstr(errline, "unreachable") != NULL, "stderr: %s", err);

	free(url);
	free(out);
	free(err);
	free(cfg);
	t_rmtree(dir);
	free(dir);
}
END_TEST

/* ---- review findings: the key by default, no config needed, retries and 401 told ---- */

/* The Authorization header of the server's request i ("" when none). */
static const char *auth_of(json_t *log, size_t i)
{
	const char *v = jstr(json_object_get(json_array_get(log, i), "headers"), "authorization");

	return v ? v : "";
}

START_TEST(cli_reads_openai_api_key)
{
	struct fake f;
	char *out = NULL, *err = NULL;
	json_t *log;
	int rc;

	fake_start(&f, "[{`response`: {`content`: `one`}}, {`response`: {`content`: `two`}},"
		       " {`response`: {`content`: `three`}}]");
	/* By default, the key in OPENAI_API_KEY. */
	setenv("OPENAI_API_KEY", "sk-default-key", 1);
	setenv("CACT_TEST_OTHER_KEY", "sk-other-key", 1);
	rc = CLI(NULL, &out, &err, "agent", "--base-url", f.url, "--model", "fake", "hello");
	ck_assert_msg(rc == 0, "status %d\nstdout: %s\nstderr: %s", rc, out, err);
	free(out);
	free(err);
	/* --api-key-env names another variable, which wins. */
	rc = CLI(NULL, &out, &err, "agent", "--base-url", f.url, "--model", "fake", "--api-key-env",
		 "CACT_TEST_OTHER_KEY", "hello");
	ck_assert_msg(rc == 0, "status %d\nstdout: %s\nstderr: %s", rc, out, err);
	free(out);
	free(err);
	/* Unset: no key at all (local servers need none), and no error. */
	unsetenv("OPENAI_API_KEY");
	rc = CLI(NULL, &out, &err, "agent", "--base-url", f.url, "--model", "fake", "hello");
	ck_assert_msg(rc == 0, "status %d\nstdout: %s\nstderr: %s", rc, out, err);
	log = fake_log_n(&f, 3);
	ck_assert_str_eq(auth_of(log, 0), "Bearer sk-default-key");
	ck_assert_str_eq(auth_of(log, 1), "Bearer sk-other-key");
	ck_assert_str_eq(auth_of(log, 2), "");

	json_decref(log);
	free(out);
	free(err);
	fake_stop(&f);
}
END_TEST

/* No tools, no files: no --config needed; execute_code is still there. */
START_TEST(cli_without_config)
{
	struct fake f;
	char *out = NULL, *err = NULL;
	json_t *log;
	int rc;

	fake_start(&f,
		   "["
		   "{`expect`: {`has_tool`: `execute_code`},"
		   " `response`: {`tool_calls`: [{`id`: `n1`, `name`: `execute_code`, `arguments`:"
		   "   {`code`: `print(6 * 7)`}}]}},"
		   "{`expect`: {`tool_result_contains`: `42`}, `response`: {`content`: `42.`}}]");
	rc = CLI(NULL, &out, &err, "agent", "--base-url", f.url, "--model", "fake",
		 "what is 6 times 7?");
	ck_assert_msg(rc == 0, "status %d\nstdout: %s\nstderr: %s", rc, out, err);
	ck_assert_str_eq(out, "42.\n");
	log = fake_log_n(&f, 2);

	json_decref(log);
	free(out);
	free(err);
	fake_stop(&f);
}
END_TEST

/* Each retry is on stderr when it happens, before the answer that follows it. */
START_TEST(cli_retries_reported_as_they_happen)
{
	struct fake f;
	char *out = NULL, *err = NULL;
	const char *retry1, *retry2, *answered;
	int rc;

	fake_start(&f, "["
		       "{`status`: 503, `headers`: {`Retry-After`: `0`},"
		       " `body`: `{\\`error\\`: {\\`message\\`: \\`overloaded\\`}}`},"
		       "{`status`: 429, `headers`: {`Retry-After`: `0`},"
		       " `body`: `{\\`error\\`: {\\`message\\`: \\`slow down\\`}}`},"
		       "{`response`: {`content`: `Made it.`}}]");
	rc = CLI(NULL, &out, &err, "agent", "--base-url", f.url, "--model", "fake", "hello");
	ck_assert_msg(rc == 0, "status %d\nstdout: %s\nstderr: %s", rc, out, err);
	ck_assert_str_eq(out, "Made it.\n");
	retry1 = strstr(err, "[step 1] model server answered 503: overloaded; retrying in 0.0 s "
			     "(attempt 2 of 4)\n");
	retry2 = strstr(err, "[step 1] model server answered 429: slow down; retrying in 0.0 s "
			     "(attempt 3 of 4)\n");
	answered = strstr(err, "[step 1] model answered");
	ck_assert_msg(retry1 && retry2 && answered && retry1 < retry2 && retry2 < answered,
		      "stderr: %s", err);
	json_decref(fake_log_n(&f, 3));

	free(out);
	free(err);
	fake_stop(&f);
}
END_TEST

#define REFUSE_401                                                                      \
	"[{`status`: 401, `body`: `{\\`error\\`: {\\`message\\`: \\`Incorrect API key " \
	"provided\\`}}`}, {`status`: 401, `body`: `{\\`error\\`: {\\`message\\`: "      \
	"\\`Incorrect API key provided\\`}}`}, {`status`: 401, `body`: `{\\`error\\`: " \
	"{\\`message\\`: \\`Incorrect API key provided\\`}}`}]"

/* A 401 names the option that sets the key, whichever way the key came (or did not). */
START_TEST(cli_401_names_the_key_option)
{
	static const char *const want[] = {
		"model server answered 401: Incorrect API key provided (no API key was sent: set "
		"OPENAI_API_KEY, or name the variable that holds it with --api-key-env VAR)\n",
		"model server answered 401: Incorrect API key provided (the key sent is the one in "
		"OPENAI_API_KEY; name another variable with --api-key-env VAR)\n",
		"model server answered 401: Incorrect API key provided (the key sent is the one in "
		"CACT_TEST_OTHER_KEY, named by --api-key-env)\n",
	};
	struct fake f;
	char *out = NULL, *err = NULL;
	int rc, i;

	fake_start(&f, REFUSE_401);
	unsetenv("OPENAI_API_KEY");
	setenv("CACT_TEST_OTHER_KEY", "sk-other-key", 1);
	for (i = 0; i < 3; i++) {
		if (i == 1)
			setenv("OPENAI_API_KEY", "sk-wrong", 1);
		if (i == 2)
			rc = CLI(NULL, &out, &err, "agent", "--base-url", f.url, "--model", "fake",
				 "--api-key-env", "CACT_TEST_OTHER_KEY", "hello");
		else
			rc = CLI(NULL, &out, &err, "agent", "--base-url", f.url, "--model", "fake",
				 "hello");
		ck_assert_msg(rc == 1, "status %d\nstdout: %s\nstderr: %s", rc, out, err);
		ck_assert_msg(strstr(err, want[i]) != NULL, "case %d: stderr: %s", i, err);
		/* Not retried: one request each. */
		ck_assert_msg(strstr(err, "retrying") == NULL, "stderr: %s", err);
		free(out);
		free(err);
	}
	json_decref(fake_log(&f));
	fake_stop(&f);
}
END_TEST

struct retries {
	int n;
	struct cact_chat_retry first;
	char detail[256];
};

static void count_retry(void *user, const struct cact_chat_retry *r)
{
	struct retries *x = user;

	if (x->n++ == 0) {
		x->first = *r;
		snprintf(x->detail, sizeof(x->detail), "%s", r->detail);
		x->first.detail = x->detail;
	}
}

/* The library tells on_retry before each pause: what failed, which attempt, how long. */
START_TEST(chat_on_retry_told)
{
	struct fake f;
	struct cact_chat_options o;
	struct cact_chat *c = NULL;
	struct cact_error err = {0};
	struct retries x = {0};
	char *out = NULL;
	int rc;

	fake_start(&f, "["
		       "{`status`: 429, `headers`: {`Retry-After`: `0`},"
		       " `body`: `{\\`error\\`: {\\`message\\`: \\`slow down\\`}}`},"
		       "{`response`: {`content`: `fine`}}]");
	cact_chat_options_init(&o);
	o.base_url = f.url;
	o.model = "fake";
	o.max_retries = 2;
	o.on_retry = count_retry;
	o.retry_user = &x;
	ck_assert_msg(cact_chat_new(&o, &c, &err) == 0, "%s", err.message);
	rc = cact_chat_complete(c, "[{\"role\":\"user\",\"content\":\"hi\"}]", NULL, NULL, NULL,
				&out, &err);
	ck_assert_msg(rc == 0, "%s", err.message);
	ck_assert_int_eq(x.n, 1);
	ck_assert_uint_eq(x.first.attempt, 1);
	ck_assert_uint_eq(x.first.max_attempts, 3);
	ck_assert_int_eq(x.first.status, 429);
	ck_assert_uint_eq(x.first.wait_ms, 0);
	ck_assert_str_eq(x.first.detail, "slow down");

	cact_free(out);
	cact_chat_free(c);
	fake_stop(&f);
}
END_TEST

int main(int argc, char **argv)
{
	const struct t_case cases[] = {
		T_CASE(provider_compute_one_runtime, 60),
		T_CASE(approval_denied, 60),
		T_CASE(approval_granted, 60),
		T_CASE(max_steps_reached, 60),
		T_CASE(tool_errors_reported_to_model, 60),
		T_CASE(execute_code_failure_reported, 60),
		T_CASE(retry_after_429, 60),
		T_CASE(server_500_three_times, 60),
		T_CASE(malformed_sse_fails, 60),
		T_CASE(session_saved_reloaded_continued, 60),
		T_CASE(concurrent_runs_one_agent, 60),
		T_CASE(config_change_between_runs, 60),
		T_CASE(config_change_in_flight, 60),
		T_CASE(codeact_state_recorded, 60),
		T_CASE(instructions_in_system_message, 60),
		T_CASE(stream_text_events_in_order, 60),
		T_CASE(sandbox_events_and_output_files, 60),
		T_CASE(live_output_events, 60),
		T_CASE(cli_live_output_in_progress, 60),
		T_CASE(direct_tools_and_approval, 60),
		T_CASE(codeact_tool_as_direct_tool, 60),
		T_CASE(codeact_tool_approval_follows_config, 60),
		T_CASE(persistent_state_per_conversation, 60),
		T_CASE(persistent_ended_session_and_reset, 60),
		T_CASE(persistent_restored_starts_fresh, 60),
		T_CASE(persistent_sessions_end_with_conversation_or_agent, 60),
		T_CASE(not_persistent_unchanged, 60),
		T_CASE(cli_answer_on_stdout, 60),
		T_CASE(cli_json_transcript, 60),
		T_CASE(cli_session_file, 60),
		T_CASE(cli_persistent_session_file, 60),
		T_CASE(cli_approve_none_denies, 60),
		T_CASE(cli_step_limit_exits_1, 60),
		T_CASE(cli_missing_model, 60),
		T_CASE(cli_max_steps_bad, 60),
		T_CASE(cli_unreachable_server, 60),
		T_CASE(cli_reads_openai_api_key, 60),
		T_CASE(cli_without_config, 60),
		T_CASE(cli_retries_reported_as_they_happen, 60),
		T_CASE(cli_401_names_the_key_option, 60),
		T_CASE(chat_on_retry_told, 60),
	};

	return t_main("agent", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
