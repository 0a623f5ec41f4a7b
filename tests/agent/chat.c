/* SPDX-License-Identifier: MIT */
/*
 * The Chat Completions client against a scripted fake server
 * (tests/agent/fake_openai.py, one per case, on 127.0.0.1): answers, tool
 * calls, streaming, usage, the request it sends, the API key, retries,
 * malformed and oversize responses, threads, option checks. Then the
 * decoders alone: the server-sent events parser, chat_parse_response and
 * the stream accumulator.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common.h"
#include "agent/chat.h"
#include "agent/sse.h"
#include "util/util.h"

#define SERVER_PYTHON "/usr/bin/python3"
#define KEY_VAR	      "CACT_TEST_CHAT_KEY"
#define KEY	      "sk-test-7Hq2SECRETvalue9Zp"

extern char **environ;

/* ---- the fake server ---- */

struct fake {
	pid_t pid;
	int in_w; /* its stdin: closing it stops the server */
	char *dir;
	char url[128];
	char log[600];
};

/* Folders of servers still running, removed at exit however the case ends. */
static char leftover[8][512];

static void remove_leftovers(void)
{
	size_t i;

	for (i = 0; i < UT_ARRAY_SIZE(leftover); i++)
		if (leftover[i][0])
			t_rmtree(leftover[i]);
}

static void track_dir(const char *dir, int on)
{
	static int registered;
	size_t i;

	if (!registered)
		registered = atexit(remove_leftovers) == 0;
	for (i = 0; i < UT_ARRAY_SIZE(leftover); i++) {
		if (on && !leftover[i][0]) {
			snprintf(leftover[i], sizeof(leftover[i]), "%s", dir);
			return;
		}
		if (!on && strcmp(leftover[i], dir) == 0) {
			leftover[i][0] = '\0';
			return;
		}
	}
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Everything a file holds (owned), or NULL when it cannot be read. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return NULL;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *g = realloc(buf, cap = cap ? cap * 2 : 8192);

			ck_assert(g != NULL);
			buf = g;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		if (n == 0)
			break;
		len += n;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

/* Starts the fake server with script (JSON text); api_key NULL for none. */
static void fake_start(struct fake *f, const char *script, const char *api_key)
{
	const char *root = getenv("CACT_SOURCE_ROOT");
	char prog[1024], port_file[600], script_file[600], err_file[600];
	const char *argv[16];
	posix_spawn_file_actions_t fa;
	int in[2], rc;
	size_t n = 0;
	uint64_t until;
	char *port = NULL;

	memset(f, 0, sizeof(*f));
	ck_assert_msg(root != NULL, "CACT_SOURCE_ROOT is not set");
	ck_assert_msg(access(SERVER_PYTHON, X_OK) == 0, "%s is missing", SERVER_PYTHON);
	snprintf(prog, sizeof(prog), "%s/tests/agent/fake_openai.py", root);
	f->dir = t_tmpdir();
	track_dir(f->dir, 1);
	t_write(f->dir, "script.json", script);
	snprintf(port_file, sizeof(port_file), "%s/port", f->dir);
	snprintf(script_file, sizeof(script_file), "%s/script.json", f->dir);
	snprintf(err_file, sizeof(err_file), "%s/server.err", f->dir);
	snprintf(f->log, sizeof(f->log), "%s/log.jsonl", f->dir);
	argv[n++] = SERVER_PYTHON;
	argv[n++] = "-I";
	argv[n++] = prog;
	argv[n++] = "--port-file";
	argv[n++] = port_file;
	argv[n++] = "--script";
	argv[n++] = script_file;
	argv[n++] = "--log";
	argv[n++] = f->log;
	if (api_key) {
		argv[n++] = "--api-key";
		argv[n++] = api_key;
	}
	argv[n] = NULL;
	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_addopen(&fa, 1, err_file, O_WRONLY | O_CREAT | O_APPEND, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	rc = posix_spawn(&f->pid, SERVER_PYTHON, &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	ck_assert_msg(rc == 0, "cannot start %s: %s", SERVER_PYTHON, strerror(rc));
	f->in_w = in[1];
	until = now_ms() + 20000;
	while (!(port = slurp(port_file)) && now_ms() < until) {
		if (waitpid(f->pid, NULL, WNOHANG) == f->pid) {
			char *text = slurp(err_file);

			f->pid = 0;
			ck_abort_msg("fake_openai.py exited at start:\n%s", text ? text : "");
		}
		sleep_ms(20);
	}
	ck_assert_msg(port != NULL, "fake_openai.py wrote no port in 20 s");
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d/v1", (int)strtol(port, NULL, 10));
	free(port);
}

static void fake_stop(struct fake *f)
{
	close(f->in_w);
	if (f->pid > 0) {
		kill(f->pid, SIGKILL);
		while (waitpid(f->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	track_dir(f->dir, 0);
	t_rmtree(f->dir);
	free(f->dir);
}

/* The server's log: an array of its entries (owned). */
static json_t *fake_log(const struct fake *f)
{
	json_t *all = json_array();
	char *text = slurp(f->log), *line, *save = NULL;

	ck_assert(all != NULL);
	if (!text)
		return all;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_error_t jerr;
		json_t *e = json_loads(line, 0, &jerr);

		ck_assert_msg(e != NULL, "bad log line %s: %s", line, jerr.text);
		json_array_append_new(all, e);
	}
	free(text);
	return all;
}

static size_t fake_requests(const struct fake *f)
{
	json_t *log = fake_log(f);
	size_t n = json_array_size(log);

	json_decref(log);
	return n;
}

/* ---- the client ---- */

static void opts_for(struct cact_chat_options *o, const struct fake *f)
{
	cact_chat_options_init(o);
	o->base_url = f ? f->url : "http://127.0.0.1:9/v1";
	o->model = "fake-model";
	o->timeout_ms = 30000;
}

static struct cact_chat *client(const struct cact_chat_options *o)
{
	struct cact_error err = {0};
	struct cact_chat *c = NULL;
	int rc = cact_chat_new(o, &c, &err);

	ck_assert_msg(rc == 0, "cact_chat_new: %s", err.message);
	return c;
}

static const char *USER_HI = "[{\"role\":\"user\",\"content\":\"hi\"}]";

/* A completion that must succeed; the output object (owned). */
static json_t *complete_ok(struct cact_chat *c, const char *messages, const char *tools,
			   cact_chat_delta_fn fn, void *user)
{
	struct cact_error err = {0};
	char *out = NULL;
	json_error_t jerr;
	json_t *v;
	int rc = cact_chat_complete(c, messages, tools, fn, user, &out, &err);

	ck_assert_msg(rc == 0, "cact_chat_complete: %d %s", rc, err.message);
	ck_assert(out != NULL);
	v = json_loads(out, 0, &jerr);
	ck_assert_msg(v != NULL, "output is not JSON: %s", out);
	cact_free(out);
	return v;
}

/* A completion that must fail with code; err receives the details. */
static void complete_fails(struct cact_chat *c, const char *messages, int code,
			   struct cact_error *err)
{
	char *out = (char *)"unchanged";
	int rc;

	memset(err, 0, sizeof(*err));
	rc = cact_chat_complete(c, messages, NULL, NULL, NULL, &out, err);
	ck_assert_msg(rc == code, "cact_chat_complete returned %d (%s), expected %d", rc,
		      err->message, code);
	ck_assert_int_eq(err->code, code);
	ck_assert(out == NULL);
	ck_assert_msg(strchr(err->message, '\n') == NULL, "two lines: %s", err->message);
}

static const char *jstr(json_t *v, const char *path)
{
	json_t *at = v;
	char buf[256], *part, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (part = strtok_r(buf, ".", &save); part && at; part = strtok_r(NULL, ".", &save)) {
		if (json_is_array(at))
			at = json_array_get(at, (size_t)strtoul(part, NULL, 10));
		else
			at = json_object_get(at, part);
	}
	return json_string_value(at);
}

static json_t *jget(json_t *v, const char *path)
{
	json_t *at = v;
	char buf[256], *part, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (part = strtok_r(buf, ".", &save); part && at; part = strtok_r(NULL, ".", &save)) {
		if (json_is_array(at))
			at = json_array_get(at, (size_t)strtoul(part, NULL, 10));
		else
			at = json_object_get(at, part);
	}
	return at;
}

#define expect_str(v, path, want) expect_str_at((v), (path), (want), __LINE__)
static void expect_str_at(json_t *v, const char *path, const char *want, int line)
{
	const char *got = jstr(v, path);

	if (!got || strcmp(got, want) != 0) {
		char *text = json_dumps(v, JSON_COMPACT);

		ck_abort_msg("line %d: %s is %s, expected \"%s\" in %s", line, path,
			     got ? got : "(not a string)", want, text);
	}
}

#define expect_int(v, path, want) expect_int_at((v), (path), (want), __LINE__)
static void expect_int_at(json_t *v, const char *path, long long want, int line)
{
	json_t *got = jget(v, path);

	if (!json_is_integer(got) || json_integer_value(got) != want) {
		char *text = json_dumps(v, JSON_COMPACT);

		ck_abort_msg("line %d: %s is not %lld in %s", line, path, want, text);
	}
}

/* The output has exactly the documented members. */
static void expect_shape(json_t *out)
{
	json_t *msg = json_object_get(out, "message"), *calls, *tc;
	size_t i;

	ck_assert(json_is_object(out) && json_object_size(out) == 3);
	ck_assert(json_is_object(msg));
	expect_str(out, "message.role", "assistant");
	ck_assert(json_is_string(json_object_get(msg, "content")) ||
		  json_is_null(json_object_get(msg, "content")));
	ck_assert(json_is_string(json_object_get(out, "finish_reason")) ||
		  json_is_null(json_object_get(out, "finish_reason")));
	ck_assert(json_is_object(json_object_get(out, "usage")) ||
		  json_is_null(json_object_get(out, "usage")));
	calls = json_object_get(msg, "tool_calls");
	ck_assert(json_object_size(msg) == (calls ? 3u : 2u));
	json_array_foreach(calls, i, tc) {
		ck_assert(json_is_string(json_object_get(tc, "id")));
		ck_assert(json_is_string(json_object_get(tc, "type")));
		ck_assert(json_is_string(jget(tc, "function.name")));
		ck_assert(json_is_string(jget(tc, "function.arguments")));
	}
}

/* ---- answers ---- */

START_TEST(plain_answer)
{
	struct cact_chat_options o;
	struct cact_chat *c;
	struct fake f;
	json_t *out, *log;

	fake_start(&f,
		   "[{\"response\":{\"content\":\"Paris is the capital.\"},"
		   "\"expect\":{\"stream\":false}}]",
		   NULL);
	opts_for(&o, &f);
	c = client(&o);
	out = complete_ok(c,
			  "[{\"role\":\"system\",\"content\":\"be brief\"},"
			  "{\"role\":\"user\",\"content\":\"capital of France?\"}]",
			  NULL, NULL, NULL);
	expect_shape(out);
	expect_str(out, "message.content", "Paris is the capital.");
	expect_str(out, "finish_reason", "stop");
	ck_assert(json_is_null(json_object_get(out, "usage")));
	ck_assert(jget(out, "message.tool_calls") == NULL);
	json_decref(out);

	log = fake_log(&f);
	ck_assert_int_eq(json_array_size(log), 1);
	ck_assert(json_is_null(jget(log, "0.failed")));
	expect_str(log, "0.request.model", "fake-model");
	expect_str(log, "0.request.messages.1.content", "capital of France?");
	ck_assert(json_is_false(jget(log, "0.request.stream")));
	ck_assert(jget(log, "0.request.tools") == NULL);
	ck_assert(jget(log, "0.request.stream_options") == NULL);
	expect_str(log, "0.headers.content-type", "application/json");
	ck_assert(jget(log, "0.headers.authorization") == NULL);
	json_decref(log);
	cact_chat_free(c);
	fake_stop(&f);
}
END_TEST

static const char *TOOLS = "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
			   "\"description\":\"weather of a city\",\"parameters\":{\"type\":"
			   "\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}}]";

START_TEST(tool_calls_parsed)
{
	struct cact_chat_options o;
	struct cact_chat *c;
	struct fake f;
	json_t *out, *log;

	/* Arguments with odd spacing and key order: kept byte for byte. */
	fake_start(&f,
		   "[{\"expect\":{\"has_tool\":\"get_weather\"},\"response\":{\"content\":null,"
		   "\"tool_calls\":[{\"id\":\"call_a1\",\"name\":\"get_weather\",\"arguments\":"
		   "\"{ \\\"city\\\" :  \\\"Paris\\\",\\\"units\\\":\\\"C\\\" }\"},"
		   "{\"id\":\"call_b2\",\"name\":\"get_time\",\"arguments\":\"{}\"}]}}]",
		   NULL);
	opts_for(&o, &f);
	c = client(&o);
	out = complete_ok(c, USER_HI, TOOLS, NULL, NULL);
	expect_shape(out);
	ck_assert(json_is_null(jget(out, "message.content")));
	expect_str(out, "finish_reason", "tool_calls");
	ck_assert_int_eq(json_array_size(jget(out, "message.tool_calls")), 2);
	expect_str(out, "message.tool_calls.0.id", "call_a1");
	expect_str(out, "message.tool_calls.0.type", "function");
	expect_str(out, "message.tool_calls.0.function.name", "get_weather");
	expect_str(out, "message.tool_calls.0.function.arguments",
		   "{ \"city\" :  \"Paris\",\"units\":\"C\" }");
	expect_str(out, "message.tool_calls.1.id", "call_b2");
	expect_str(out, "message.tool_calls.1.function.name", "get_time");
	expect_str(out, "message.tool_calls.1.function.arguments", "{}");
	json_decref(out);
	log = fake_log(&f);
	ck_assert(json_is_null(jget(log, "0.failed")));
	expect_str(log, "0.request.tools.0.function.name", "get_weather");
	json_decref(log);
	cact_chat_free(c);
	fake_stop(&f);
}
END_TEST

/* ---- streaming ---- */

struct deltas {
	char text[4096];
	size_t len;
	int calls;
	pthread_t thread;
	int other_thread;
};

static void on_delta(void *user, const char *text, size_t len)
{
	struct deltas *d = user;

	ck_assert(len > 0 && d->len + len + 2 < sizeof(d->text));
	if (!pthread_equal(pthread_self(), d->thread))
		d->other_thread = 1;
	/* Pieces are joined with '|' so that their boundaries show. */
	if (d->calls++)
		d->text[d->len++] = '|';
	memcpy(d->text + d->len, text, len);
	d->len += len;
	d->text[d->len] = '\0';
}

START_TEST(stream_text_deltas)
{
	struct cact_chat_options o;
	struct deltas d = {.thread = pthread_self()};
	struct cact_chat *c;
	struct fake f;
	json_t *out, *log;

	fake_start(&f,
		   "[{\"expect\":{\"stream\":true,\"header\":{\"accept\":\"text/event-stream\"}},"
		   "\"response\":{\"content\":\"The quick brown fox jumps.\"}}]",
		   NULL);
	opts_for(&o, &f);
	o.stream = 1;
	c = client(&o);
	out = complete_ok(c, USER_HI, NULL, on_delta, &d);
	expect_shape(out);
	expect_str(out, "message.content", "The quick brown fox jumps.");
	expect_str(out, "finish_reason", "stop");
	/* The server sends the text in three pieces, in order. */
	ck_assert_str_eq(d.text, "The quick| brown fo|x jumps.");
	ck_assert_int_eq(d.calls, 3);
	ck_assert(!d.other_thread);
	json_decref(out);
	log = fake_log(&f);
	ck_assert(json_is_null(jget(log, "0.failed")));
	ck_assert(json_is_true(jget(log, "0.request.stream")));
	ck_assert(json_is_true(jget(log, "0.request.stream_options.include_usage")));
	json_decref(log);
	cact_chat_free(c);
	fake_stop(&f);
}
END_TEST

START_TEST(stream_tool_calls)
{
	struct cact_chat_options o;
	struct deltas d = {.thread = pthread_self()};
	struct cact_chat *c;
	struct fake f;
	json_t *out;

	fake_start(&f,
		   "[{\"response\":{\"content\":null,\"tool_calls\":["
		   "{\"id\":\"call_1\",\"name\":\"get_weather\",\"arguments\":"
		   "\"{\\\"city\\\": \\\"Paris\\\", \\\"days\\\": 3}\"},"
		   "{\"id\":\"call_2\",\"name\":\"lookup\",\"arguments\":{\"q\":\"x y\"}}]}}]",
		   NULL);
	opts_for(&o, &f);
	o.stream = 1;
	c = client(&o);
	out = complete_ok(c, USER_HI, TOOLS, on_delta, &d);
	expect_shape(out);
	ck_assert(json_is_null(jget(out, "message.content")));
	ck_assert_int_eq(d.calls, 0);
	expect_str(out, "finish_reason", "tool_calls");
	ck_assert_int_eq(json_array_size(jget(out, "message.tool_calls")), 2);
	expect_str(out, "message.tool_calls.0.id", "call_1");
	expect_str(out, "message.tool_calls.0.type", "function");
	expect_str(out, "message.tool_calls.0.function.name", "get_weather");
	expect_str(out, "message.tool_calls.0.function.arguments",
		   "{\"city\": \"Paris\", \"days\": 3}");
	expect_str(out, "message.tool_calls.1.id", "call_2");
	expect_str(out, "message.tool_calls.1.function.name", "lookup");
	expect_str(out, "message.tool_calls.1.function.arguments", "{\"q\": \"x y\"}");
	json_decref(out);
	cact_chat_free(c);
	fake_stop(&f);
}
END_TEST

START_TEST(usage_captured)
{
	struct cact_chat_options o;
	struct cact_chat *c, *cs;
	struct fake f;
	json_t *out;

	fake_start(&f,
		   "[{\"expect\":{\"stream\":false},\"response\":{\"content\":\"a\",\"usage\":"
		   "{\"prompt_tokens\":11,\"completion_tokens\":7,\"total_tokens\":18,"
		   "\"prompt_tokens_details\":{\"cached_tokens\":0}}}},"
		   "{\"expect\":{\"stream\":true},\"response\":{\"content\":\"bcd\",\"usage\":"
		   "{\"prompt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8}}}]",
		   NULL);
	opts_for(&o, &f);
	c = client(&o);
	out = complete_ok(c, USER_HI, NULL, NULL, NULL);
	expect_shape(out);
	expect_int(out, "usage.prompt_tokens", 11);
	expect_int(out, "usage.completion_tokens", 7);
	expect_int(out, "usage.total_tokens", 18);
	ck_assert_int_eq(json_object_size(json_object_get(out, "usage")), 3);
	json_decref(out);

	o.stream = 1;
	cs = client(&o);
	out = complete_ok(cs, USER_HI, NULL, NULL, NULL);
	expect_shape(out);
	expect_str(out, "message.content", "bcd");
	expect_int(out, "usage.prompt_tokens", 5);
	expect_int(out, "usage.completion_tokens", 3);
	expect_int(out, "usage.total_tokens", 8);
	json_decref(out);
	ck_assert_int_eq(fake_requests(&f), 2);
	cact_chat_free(c);
	cact_chat_free(cs);
	fake_stop(&f);
}
END_TEST

/* ---- what is sent ---- */

START_TEST(extra_json_merged)
{
	struct cact_chat_options o;
	struct cact_chat *c;
	struct fake f;
	json_t *out, *log;

	fake_start(&f, "[{\"response\":{\"content\":\"ok\"}}]", NULL);
	opts_for(&o, &f);
	/* The client's own members win over extra_json's. */
	o.extra_json = "{\"temperature\":0,\"max_tokens\":64,\"seed\":7,"
		       "\"model\":\"other\",\"stream\":true,\"metadata\":{\"k\":\"v\"}}";
	c = client(&o);
	out = complete_ok(c, USER_HI, NULL, NULL, NULL);
	expect_str(out, "message.content", "ok");
	json_decref(out);
	log = fake_log(&f);
	expect_int(log, "0.request.temperature", 0);
	expect_int(log, "0.request.max_tokens", 64);
	expect_int(log, "0.request.seed", 7);
	expect_str(log, "0.request.metadata.k", "v");
	expect_str(log, "0.request.model", "fake-model");
	ck_assert(json_is_false(jget(log, "0.request.stream")));
	expect_str(log, "0.request.messages.0.content", "hi");
	json_decref(log);
	cact_chat_free(c);
	fake_stop(&f);
}
END_TEST

START_TEST(extra_headers_sent)
{
	const char *headers[] = {"X-Trace-Id: abc-123", "OpenAI-Organization:org-9",
				 "User-Agent: my-agent/2"};
	struct cact_chat_options o;
	struct cact_chat *c;
	struct fake f;
	json_t *out, *log;

	fake_start(&f,
		   "[{\"expect\":{\"header\":{\"X-Trace-Id\":\"abc-123\","
		   "\"openai-organization\":\"org-9\"}},\"response\":{\"content\":\"ok\"}}]",
		   NULL);
	opts_for(&o, &f);
	o.headers = headers;
	o.n_headers = 3;
	c = client(&o);
	out = complete_ok(c, USER_HI, NULL, NULL, NULL);
	json_decref(out);
	log = fake_log(&f);
	ck_assert(json_is_null(jget(log, "0.failed")));
	expect_str(log, "0.headers.x-trace-id", "abc-123");
	expect_str(log, "0.headers.user-agent", "my-agent/2");
	json_decref(log);
	cact_chat_free(c);
	fake_stop(&f);
}
END_TEST

/* ---- the API key ---- */

static void expect_no_key(const struct cact_error *err)
{
	ck_assert_msg(strstr(err->message, KEY) == NULL && strstr(err->message, "SECRET") == NULL,
		      "the key shows in: %s", err->message);
}

START_TEST(api_key_sent_never_shown)
{
	struct cact_chat_options o;
	struct cact_error err;
	struct cact_chat *c, *wrong;
	struct fake f;
	char script[2048], pad[200];
	json_t *out, *log;

	/* The server echoes the key in its errors, once where a cut would split it. */
	memset(pad, 'x', 190);
	pad[190] = '\0';
	snprintf(script, sizeof(script),
		 "[{\"match\":{\"last_user_contains\":\"one\"},\"response\":{\"content\":\"ok\"}},"
		 "{\"match\":{\"last_user_contains\":\"two\"},\"status\":400,\"body\":"
		 "\"{\\\"error\\\":{\\\"message\\\":\\\"Incorrect API key provided: %s. "
		 "Check it.\\\"}}\"},"
		 "{\"match\":{\"last_user_contains\":\"three\"},\"status\":403,\"body\":"
		 "\"{\\\"error\\\":{\\\"message\\\":\\\"%s%s\\\"}}\"},"
		 "{\"match\":{\"last_user_contains\":\"four\"},\"body\":"
		 "\"{\\\"error\\\":{\\\"message\\\":\\\"key %s\\\"}}\"}]",
		 KEY, pad, KEY, KEY);
	fake_start(&f, script, KEY);
	ck_assert_int_eq(setenv(KEY_VAR, KEY, 1), 0);
	opts_for(&o, &f);
	o.api_key_env = KEY_VAR;
	c = client(&o);
	/* Read once: changing the variable later changes nothing. */
	ck_assert_int_eq(setenv(KEY_VAR, "sk-other", 1), 0);
	out = complete_ok(c, "[{\"role\":\"user\",\"content\":\"one\"}]", NULL, NULL, NULL);
	expect_str(out, "message.content", "ok");
	json_decref(out);
	log = fake_log(&f);
	expect_str(log, "0.headers.authorization", "Bearer " KEY);
	json_decref(log);

	complete_fails(c, "[{\"role\":\"user\",\"content\":\"two\"}]", CACT_ESYS, &err);
	expect_no_key(&err);
	ck_assert_msg(strstr(err.message, "model server answered 400: Incorrect API key "
					  "provided: [redacted]. Check it."),
		      "%s", err.message);
	complete_fails(c, "[{\"role\":\"user\",\"content\":\"three\"}]", CACT_ESYS, &err);
	expect_no_key(&err);
	ck_assert_msg(strstr(err.message, "answered 403: xxxx"), "%s", err.message);
	complete_fails(c, "[{\"role\":\"user\",\"content\":\"four\"}]", CACT_ESYS, &err);
	expect_no_key(&err);
	ck_assert_msg(strstr(err.message, "key [redacted]"), "%s", err.message);

	/* A wrong key: 401 from the server, the key sent not shown either. */
	ck_assert_int_eq(setenv(KEY_VAR, "sk-wrong-SECRETkey", 1), 0);
	wrong = client(&o);
	complete_fails(wrong, USER_HI, CACT_ESYS, &err);
	ck_assert_msg(strstr(err.message, "model server answered 401: Incorrect API key provided"),
		      "%s", err.message);
	expect_no_key(&err);
	cact_chat_free(wrong);
	log = fake_log(&f);
	expect_str(log, "4.headers.authorization", "Bearer sk-wrong-SECRETkey");
	json_decref(log);
	cact_chat_free(c);
	fake_stop(&f);

	/* The server gone: a connection error with the key set. */
	ck_assert_int_eq(setenv(KEY_VAR, KEY, 1), 0);
	opts_for(&o, NULL);
	o.api_key_env = KEY_VAR;
	o.max_retries = 0;
	c = client(&o);
	complete_fails(c, USER_HI, CACT_ESYS, &err);
	expect_no_key(&err);
	cact_chat_free(c);
}
END_TEST

START_TEST(missing_env_refused)
{
	struct cact_chat_options o;
	struct cact_error err = {0};
	struct cact_chat *c = (struct cact_chat *)&err;

	ck_assert_int_eq(unsetenv(KEY_VAR), 0);
	opts_for(&o, NULL);
	o.api_key_env = KEY_VAR;
	ck_assert_int_eq(cact_chat_new(&o, &c, &err), CACT_EINVAL);
	ck_assert(c == NULL);
	ck_assert_msg(strstr(err.message, KEY_VAR) && strstr(err.message, "not set"), "%s",
		      err.message);
	ck_assert_int_eq(setenv(KEY_VAR, "", 1), 0);
	ck_assert_int_eq(cact_chat_new(&o, &c, &err), CACT_EINVAL);
	ck_assert_msg(strstr(err.message, "empty"), "%s", err.message);
}
END_TEST

/* ---- statuses and retries ---- */

START_TEST(status_401_fails_at_once)
{
	struct cact_chat_options o;
	struct cact_error err;
	struct cact_chat *c;
	struct fake f;

	fake_start(&f,
		   "[{\"status\":401,\"body\":\"{\\\"error\\\":{\\\"message\\\":\\\"Invalid "
		   "authentication\\\",\\\"type\\\":\\\"invalid_request_error\\\"}}\"},"
		   "{\"response\":{\"content\":\"never\"}}]",
		   NULL);
	opts_for(&o, &f);
	o.max_retries = 3;
	c = client(&o);
	complete_fails(c, USER_HI, CACT_ESYS, &err);
	ck_assert_str_eq(err.message, "model server answered 401: Invalid authentication");
	ck_assert_int_eq(fake_requests(&f), 1);
	cact_chat_free(c);
	fake_stop(&f);
}
END_TEST

START_TEST(retry_after_429)
{
	struct cact_chat_options o;
	struct cact_chat *c;
	struct fake f;
	uint64_t t0;
	json_t *out;

	fake_start(&f,
		   "[{\"status\":429,\"headers\":{\"Retry-After\":\"1\"}},"
		   "{\"response\":{\"content\":\"after the wait\"}}]",
		   NULL);
	opts_for(&o, &f);
	c = client(&o);
	t0 = now_ms();
	out = complete_ok(c, USER_HI, NULL, NULL, NULL);
	/* Retry-After: 1 is a floor, not the 250 ms of the first backoff. */
	ck_assert_uint_ge(now_ms() - t0, 950);
	expect_str(out, "message.content", "after the wait");
	json_decref(out);
	ck_assert_int_eq(fake_requests(&f), 2);
	cact_chat_free(c);
	fake_stop(&f);
}
END_TEST

START_TEST(retry_after_http_date)
{
	struct cact_chat_options o;
	struct cact_chat *c;
	struct fake f;
	char script[512], date[64];
	time_t when = time(NULL) + 3;
	struct tm tm;
	uint64_t t0;
	json_t *out;

	/* An HTTP-date three seconds ahead: at least two seconds once it is read. */
	gmtime_r(&when, &tm);
	ck_assert(strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm) > 0);
	snprintf(script, sizeof(script),
		 "[{\"status\":503,\"headers\":{\"Retry-After\":\"%s\"}},"
		 "{\"response\":{\"content\":\"later\"}}]",
		 date);
	fake_start(&f, script, NULL);
	opts_for(&o, &f);
	c = client(&o);
	t0 = now_ms();
	out = complete_ok(c, USER_HI, NULL, NULL, NULL);
	ck_assert_uint_ge(now_ms() - t0, 1000);
	expect_str(out, "message.content", "later");
	json_decref(out);
	ck_assert_int_eq(fake_requests(&f), 2);
	cact_chat_free(c);
	fake_stop(&f);
}
END_TEST

START_TEST(retry_500_then_success)
{
	struct cact_chat_options o;
	struct cact_chat *c;
	struct fake f;
	json_t *out;

	fake_start(&f,
		   "[{\"status\":500},{\"status\":502,\"body\":\"<html>bad gateway</html>\"},"
		   "{\"status\":503},{\"response\":{\"content\":\"fourth time\"}}]",
		   NULL);
	opts_for(&o, &f);
	o.max_retries = 3;
	c = client(&o);
	out = complete_ok(c, USER_HI, NULL, NULL, NULL);
	expect_str(out, "message.content", "fourth time");
	json_decref(out);
	ck_assert_int_eq(fake_requests(&f), 4);
	cact_chat_free(c);
	fake_stop(&f);
}
END_TEST

START_TEST(retry_500_exhausted)
{
	struct cact_chat_options o;
	struct cact_error err;
	struct cact_chat *c;
	struct fake f;

	fake_start(&f,
		   "[{\"status\":500},{\"status\":500},{\"status\":500},"
		   "{\"status\":500,\"body\":\"{\\\"error\\\":{\\\"message\\\":\\\"overloaded\\\"}}"
		   "\"},"
		   "{\"response\":{\"content\":\"too late\"}}]",
		   NULL);
	opts_for(&o, &f);
	o.max_retries = 3;
	c = client(&o);
	complete_fails(c, USER_HI, CACT_ESYS, &err);
	ck_assert_str_eq(err.message, "model server answered 500 after 4 attempts: overloaded");
	ck_assert_int_eq(fake_requests(&f), 4);
	cact_chat_free(c);
	fake_stop(&f);
}
END_TEST

START_TEST(connection_refused_retried)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	struct cact_chat_options o;
	struct cact_error err;
	struct cact_chat *c;
	char url[64];
	int s;

	/* A bound port that does not listen refuses connections, and stays ours. */
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &alen), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1", ntohs(a.sin_port));
	opts_for(&o, NULL);
	o.base_url = url;
	o.max_retries = 2;
	c = client(&o);
	complete_fails(c, USER_HI, CACT_ESYS, &err);
	ck_assert_msg(strncmp(err.message, "model server unreachable after 3 attempts: ", 43) == 0,
		      "%s", err.message);
	ck_assert_msg(strstr(err.message, "onnect"), "%s", err.message);
	cact_chat_free(c);
	close(s);
}
END_TEST

START_TEST(timeout_applies)
{
	struct cact_chat_options o;
	struct cact_error err;
	struct cact_chat *c;
	struct fake f;

	fake_start(&f, "[{\"delay_ms\":3000,\"response\":{\"content\":\"late\"}}]", NULL);
	opts_for(&o, &f);
	o.timeout_ms = 300;
	o.max_retries = 0;
	c = client(&o);
	complete_fails(c, USER_HI, CACT_ESYS, &err);
	ck_assert_msg(strstr(err.message, "model server unreachable: ") &&
			      strstr(err.message, "imed out"),
		      "%s", err.message);
	cact_chat_free(c);
	fake_stop(&f);
}
END_TEST

/* ---- malformed and oversize responses ---- */

START_TEST(malformed_json_body)
{
	struct cact_chat_options o;
	struct cact_error err;
	struct cact_chat *c;
	struct fake f;

	fake_start(&f,
		   "[{\"body\":\"{\\\"choices\\\": [\"},"
		   "{\"body\":\"{\\\"object\\\":\\\"chat.completion\\\"}\"},"
		   "{\"body\":\"{\\\"choices\\\":[{\\\"message\\\":{\\\"content\\\":5}}]}\"}]",
		   NULL);
	opts_for(&o, &f);
	c = client(&o);
	complete_fails(c, USER_HI, CACT_EPROTO, &err);
	ck_assert_msg(strncmp(err.message, "model server response is not JSON: ", 35) == 0, "%s",
		      err.message);
	complete_fails(c, USER_HI, CACT_EPROTO, &err);
	ck_assert_str_eq(err.message,
			 "model server response is not a completion: no choices in the response");
	complete_fails(c, USER_HI, CACT_EPROTO, &err);
	ck_assert_msg(strstr(err.message, "content"), "%s", err.message);
	/* Not retried. */
	ck_assert_int_eq(fake_requests(&f), 3);
	cact_chat_free(c);
	fake_stop(&f);
}
END_TEST

START_TEST(malformed_sse)
{
	struct cact_chat_options o;
	struct cact_error err;
	struct cact_chat *c;
	struct fake f;

	fake_start(&f,
		   "[{\"sse_raw\":\"data: {\\\"choices\\\":[{\\\"delta\\\":{\\\"content\\\":"
		   "\\\"a\\\"}}]}\\n\\ndata: {broken\\n\\n\"},"
		   "{\"sse_raw\":\"data: {\\\"choices\\\":[{\\\"delta\\\":{\\\"content\\\":"
		   "\\\"a\\\"}}]}\\n\\n\"},"
		   "{\"sse_raw\":\"data: {\\\"choices\\\":{}}\\n\\n\"},"
		   "{\"sse_raw\":\"data: {\\\"error\\\":{\\\"message\\\":\\\"model "
		   "crashed\\\"}}\\n\\n\"}]",
		   NULL);
	opts_for(&o, &f);
	o.stream = 1;
	c = client(&o);
	complete_fails(c, USER_HI, CACT_EPROTO, &err);
	ck_assert_msg(strncmp(err.message, "malformed SSE stream: data is not JSON", 38) == 0, "%s",
		      err.message);
	/* Ended without [DONE] or a finish reason. */
	complete_fails(c, USER_HI, CACT_EPROTO, &err);
	ck_assert_str_eq(err.message, "malformed SSE stream: the stream ended before data: [DONE]");
	complete_fails(c, USER_HI, CACT_EPROTO, &err);
	ck_assert_str_eq(err.message, "malformed SSE stream: choices is not an array");
	complete_fails(c, USER_HI, CACT_ESYS, &err);
	ck_assert_str_eq(err.message, "model server error in the stream: model crashed");
	ck_assert_int_eq(fake_requests(&f), 4);
	cact_chat_free(c);
	fake_stop(&f);
}
END_TEST

START_TEST(oversize_response)
{
	struct cact_chat_options o;
	struct cact_error err;
	struct cact_chat *c;
	struct fake f;
	char *script, big[6000];

	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_ge(asprintf(&script,
				  "[{\"response\":{\"content\":\"%s\"}},"
				  "{\"response\":{\"content\":\"%s\"}},"
				  "{\"status\":500,\"body\":\"%s\"}]",
				  big, big, big),
			 0);
	fake_start(&f, script, NULL);
	free(script);
	opts_for(&o, &f);
	o.max_response_bytes = 4096;
	c = client(&o);
	complete_fails(c, USER_HI, CACT_ETOOBIG, &err);
	ck_assert_str_eq(err.message, "model server response larger than 4096 bytes");
	cact_chat_free(c);
	o.stream = 1;
	c = client(&o);
	complete_fails(c, USER_HI, CACT_ETOOBIG, &err);
	ck_assert_str_eq(err.message, "model server response larger than 4096 bytes");
	/* An oversize error body is not retried either. */
	complete_fails(c, USER_HI, CACT_ETOOBIG, &err);
	ck_assert_int_eq(fake_requests(&f), 3);
	cact_chat_free(c);
	fake_stop(&f);
}
END_TEST

/* ---- threads ---- */

struct job {
	struct cact_chat *c;
	int n;
	int rc;
	char content[128];
	char error[CACT_ERROR_MAX];
};

static void *run_job(void *p)
{
	struct job *j = p;
	struct cact_error err = {0};
	char msgs[128], *out = NULL;
	json_t *v;

	snprintf(msgs, sizeof(msgs), "[{\"role\":\"user\",\"content\":\"thread %d\"}]", j->n);
	j->rc = cact_chat_complete(j->c, msgs, NULL, NULL, NULL, &out, &err);
	snprintf(j->error, sizeof(j->error), "%s", err.message);
	if (j->rc == 0) {
		v = json_loads(out, 0, NULL);
		snprintf(j->content, sizeof(j->content), "%s",
			 json_string_value(jget(v, "message.content")));
		json_decref(v);
		cact_free(out);
	}
	return NULL;
}

START_TEST(concurrent_threads)
{
	struct cact_chat_options o;
	struct job jobs[4];
	pthread_t th[4];
	struct cact_chat *c;
	struct fake f;
	char script[2048];
	size_t used = 0;
	int i;

	used += (size_t)snprintf(script + used, sizeof(script) - used, "[");
	for (i = 0; i < 4; i++)
		used += (size_t)snprintf(
			script + used, sizeof(script) - used,
			"%s{\"match\":{\"last_user_contains\":\"thread %d\"},"
			"\"delay_ms\":300,\"response\":{\"content\":\"answer %d\"}}",
			i ? "," : "", i, i);
	snprintf(script + used, sizeof(script) - used, "]");
	fake_start(&f, script, NULL);
	opts_for(&o, &f);
	c = client(&o);
	for (i = 0; i < 4; i++) {
		jobs[i] = (struct job){.c = c, .n = i};
		ck_assert_int_eq(pthread_create(&th[i], NULL, run_job, &jobs[i]), 0);
	}
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < 4; i++) {
		char want[32];

		snprintf(want, sizeof(want), "answer %d", i);
		ck_assert_msg(jobs[i].rc == 0, "thread %d: %s", i, jobs[i].error);
		ck_assert_str_eq(jobs[i].content, want);
	}
	ck_assert_int_eq(fake_requests(&f), 4);
	cact_chat_free(c);
	fake_stop(&f);
}
END_TEST

/* ---- options and arguments ---- */

static void expect_bad(const struct cact_chat_options *o, const char *needle)
{
	struct cact_error err = {0};
	struct cact_chat *c = NULL;

	ck_assert_int_eq(cact_chat_new(o, &c, &err), CACT_EINVAL);
	ck_assert(c == NULL);
	ck_assert_int_eq(err.code, CACT_EINVAL);
	ck_assert_msg(strstr(err.message, needle), "\"%s\" lacks \"%s\"", err.message, needle);
}

START_TEST(bad_options)
{
	const char *no_colon[] = {"X-Ok: 1", "X-Broken value"};
	const char *crlf[] = {"X-A: 1\r\nX-Injected: 2"};
	const char *lf[] = {"X-A: 1\nX-B: 2"};
	const char *space_name[] = {"X A: 1"};
	const char *empty_name[] = {": 1"};
	struct cact_chat_options o;

	opts_for(&o, NULL);
	o.base_url = NULL;
	expect_bad(&o, "base_url is missing");
	o.base_url = "";
	expect_bad(&o, "base_url is missing");
	o.base_url = "ftp://example.com";
	expect_bad(&o, "not an http:// or https:// URL");
	opts_for(&o, NULL);
	o.model = NULL;
	expect_bad(&o, "model is missing");
	opts_for(&o, NULL);
	o.headers = no_colon;
	o.n_headers = 2;
	expect_bad(&o, "header 1 (X-Broken value) has no colon");
	o.headers = crlf;
	o.n_headers = 1;
	expect_bad(&o, "header 0 has a line break");
	o.headers = lf;
	expect_bad(&o, "header 0 has a line break");
	o.headers = space_name;
	expect_bad(&o, "header 0 has a bad name");
	o.headers = empty_name;
	expect_bad(&o, "header 0 has an empty name");
	o.headers = NULL;
	o.n_headers = 2;
	expect_bad(&o, "headers is NULL");
	opts_for(&o, NULL);
	o.extra_json = "[1]";
	expect_bad(&o, "extra_json is not a JSON object");
	o.extra_json = "{bad";
	expect_bad(&o, "extra_json is not JSON");
	opts_for(&o, NULL);
	o.ca_file = "/nonexistent/ca.pem";
	expect_bad(&o, "ca_file /nonexistent/ca.pem is not readable: ENOENT");
}
END_TEST

START_TEST(bad_call_arguments)
{
	struct cact_chat_options o;
	struct cact_error err = {0};
	struct cact_chat *c;
	char *out = NULL;

	opts_for(&o, NULL);
	c = client(&o);
	ck_assert_int_eq(cact_chat_complete(c, "{\"role\":\"user\"}", NULL, NULL, NULL, &out, &err),
			 CACT_EINVAL);
	ck_assert_str_eq(err.message, "messages_json is not a JSON array");
	ck_assert_int_eq(cact_chat_complete(c, "[", NULL, NULL, NULL, &out, &err), CACT_EINVAL);
	ck_assert_msg(strstr(err.message, "messages_json is not a JSON array: "), "%s",
		      err.message);
	ck_assert_int_eq(cact_chat_complete(c, "[]", "{}", NULL, NULL, &out, &err), CACT_EINVAL);
	ck_assert_str_eq(err.message, "tools_json is not a JSON array");
	ck_assert_int_eq(cact_chat_complete(c, NULL, NULL, NULL, NULL, &out, &err), CACT_EINVAL);
	ck_assert_int_eq(cact_chat_complete(c, "[]", NULL, NULL, NULL, NULL, &err), CACT_EINVAL);
	ck_assert(out == NULL);
	cact_chat_free(c);
	cact_chat_free(NULL);
}
END_TEST

/* ---- the SSE parser ---- */

struct events {
	char text[8192]; /* "type|id|data\n" per event */
	size_t len;
	int n;
	int stop_at; /* callback fails at this event (1-based), 0 never */
};

static int on_event(void *user, const struct sse_event *ev, struct cact_error *err)
{
	struct events *e = user;
	int w;

	e->n++;
	if (e->stop_at && e->n == e->stop_at)
		return ut_err(err, CACT_EPROTO, "stopped at %d", e->n);
	w = snprintf(e->text + e->len, sizeof(e->text) - e->len, "%.*s|%.*s|%.*s\n",
		     (int)ev->type_len, ev->type, (int)ev->id_len, ev->id, (int)ev->data_len,
		     ev->data);
	ck_assert(w > 0 && (size_t)w < sizeof(e->text) - e->len);
	ck_assert(ev->data[ev->data_len] == '\0' && ev->type[ev->type_len] == '\0');
	e->len += (size_t)w;
	return 0;
}

/* Parses text fed in chunks of step bytes (0: whole); the events as text. */
static int sse_run(const char *text, size_t len, size_t step, size_t max, struct events *e,
		   struct cact_error *err)
{
	struct sse_parser p;
	size_t off = 0;
	int rc = 0;

	memset(e, 0, sizeof(*e));
	sse_init(&p, max, on_event, e);
	if (step == 0)
		step = len ? len : 1;
	while (off < len && !rc) {
		size_t n = len - off < step ? len - off : step;

		rc = sse_feed(&p, text + off, n, err);
		off += n;
	}
	if (len == 0)
		rc = sse_feed(&p, "", 0, err);
	sse_free(&p);
	return rc;
}

static void expect_events(const char *text, size_t len, const char *want)
{
	struct cact_error err = {0};
	struct events e;
	size_t step;

	for (step = 0; step <= 7; step++) {
		int rc = sse_run(text, len, step, 1 << 16, &e, &err);

		ck_assert_msg(rc == 0, "step %zu: %s", step, err.message);
		ck_assert_msg(strcmp(e.text, want) == 0, "step %zu: got\n%s\nwanted\n%s", step,
			      e.text, want);
	}
}

#define EXPECT_EVENTS(lit, want) expect_events((lit), sizeof(lit) - 1, (want))

START_TEST(sse_line_endings)
{
	const char *want = "message||a\nmessage||b\nping|7|c\n";

	EXPECT_EVENTS("data: a\n\ndata: b\n\nevent: ping\nid: 7\ndata: c\n\n", want);
	EXPECT_EVENTS("data: a\r\n\r\ndata: b\r\n\r\nevent: ping\r\nid: 7\r\ndata: c\r\n\r\n",
		      want);
	EXPECT_EVENTS("data: a\r\rdata: b\r\revent: ping\rid: 7\rdata: c\r\r", want);
	/* Mixed, and CR LF split by a chunk boundary counts once. */
	EXPECT_EVENTS("data: a\r\n\ndata: b\r\revent: ping\nid: 7\r\ndata: c\n\r\n", want);
	/* LF CR is two line ends: a blank line. */
	EXPECT_EVENTS("data: x\n\r", "message||x\n");
}
END_TEST

START_TEST(sse_split_byte_by_byte)
{
	static const char text[] = "\xef\xbb\xbf"
				   ": hello\r\n"
				   "event: delta\r\n"
				   "data: {\"a\":1}\r\n"
				   "\r\n"
				   "data: [DONE]\n\n";
	struct cact_error err = {0};
	struct events whole, split;
	size_t i;

	ck_assert_int_eq(sse_run(text, sizeof(text) - 1, 0, 4096, &whole, &err), 0);
	ck_assert_str_eq(whole.text, "delta||{\"a\":1}\nmessage||[DONE]\n");
	ck_assert_int_eq(sse_run(text, sizeof(text) - 1, 1, 4096, &split, &err), 0);
	ck_assert_str_eq(split.text, whole.text);
	/* Every split into two parts. */
	for (i = 1; i < sizeof(text) - 1; i++) {
		struct sse_parser p;
		struct events e;

		memset(&e, 0, sizeof(e));
		sse_init(&p, 4096, on_event, &e);
		ck_assert_int_eq(sse_feed(&p, text, i, &err), 0);
		ck_assert_int_eq(sse_feed(&p, text + i, sizeof(text) - 1 - i, &err), 0);
		sse_free(&p);
		ck_assert_msg(strcmp(e.text, whole.text) == 0, "split at %zu: %s", i, e.text);
	}
}
END_TEST

START_TEST(sse_comments_and_fields)
{
	struct sse_parser p;
	struct cact_error err = {0};
	struct events e = {0};

	/* Comments, unknown fields, a field without a colon, one leading space removed. */
	EXPECT_EVENTS(": comment\n:\ndata:no space\nfoo: bar\n\n", "message||no space\n");
	EXPECT_EVENTS("data:  two spaces\n\n", "message|| two spaces\n");
	EXPECT_EVENTS("data\n\n", "message||\n");
	EXPECT_EVENTS("data\ndata\n\n", "message||\n\n");
	EXPECT_EVENTS("data: a:b: c\n\n", "message||a:b: c\n");
	/* Fields are case-sensitive; "Data" is unknown. */
	EXPECT_EVENTS("Data: x\n\n", "");
	/* No data, no event; the event type does not carry over. */
	EXPECT_EVENTS("event: x\n\ndata: y\n\n", "message||y\n");
	/* The id carries over; an id with NUL is ignored; an empty id resets it. */
	EXPECT_EVENTS("id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\n",
		      "message|1|a\nmessage|1|b\nmessage||c\n");
	/* An incomplete event at the end is not dispatched. */
	EXPECT_EVENTS("data: a\n\ndata: pending\n", "message||a\n");
	/* A byte order mark only at the start. */
	EXPECT_EVENTS("\xef\xbb\xbf"
		      "data: a\n\n\xef\xbb\xbf"
		      "data: b\n\n",
		      "message||a\n");
	EXPECT_EVENTS("\xef\xbb"
		      "data: a\n\n",
		      "");

	sse_init(&p, 1024, on_event, &e);
	ck_assert_int_eq(sse_feed(&p, "retry: 1500\n", 12, &err), 0);
	ck_assert_uint_eq(p.retry_ms, 1500);
	ck_assert_int_eq(sse_feed(&p, "retry: 15x\nretry\n", 17, &err), 0);
	ck_assert_uint_eq(p.retry_ms, 1500);
	ck_assert_int_eq(sse_feed(&p, "id: a\0b\ndata: x\n\n", 17, &err), 0);
	ck_assert_str_eq(e.text, "message||x\n");
	sse_free(&p);
}
END_TEST

START_TEST(sse_multiline_data)
{
	EXPECT_EVENTS("data: line one\ndata: line two\ndata:\ndata: four\n\n",
		      "message||line one\nline two\n\nfour\n");
	EXPECT_EVENTS("data: {\"a\":\ndata:  1}\n\n", "message||{\"a\":\n 1}\n");
}
END_TEST

START_TEST(sse_cap)
{
	struct cact_error err = {0};
	struct sse_parser p;
	struct events e;
	char big[300];
	int rc;

	/* A line alone over the cap, in one piece or byte by byte. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "data: ", 6);
	rc = sse_run(big, sizeof(big), 0, 256, &e, &err);
	ck_assert_int_eq(rc, CACT_ETOOBIG);
	ck_assert_str_eq(err.message, "server-sent event larger than 256 bytes");
	rc = sse_run(big, sizeof(big), 1, 256, &e, &err);
	ck_assert_int_eq(rc, CACT_ETOOBIG);
	/* Many short data lines of one event. */
	memset(&e, 0, sizeof(e));
	sse_init(&p, 256, on_event, &e);
	for (rc = 0; rc == 0 && p.data.len < 1000;)
		rc = sse_feed(&p, "data: 0123456789\n", 17, &err);
	ck_assert_int_eq(rc, CACT_ETOOBIG);
	ck_assert_uint_le(p.data.len, 256);
	/* Failed for good. */
	ck_assert_int_eq(sse_feed(&p, "\n", 1, &err), CACT_ETOOBIG);
	ck_assert_int_eq(e.n, 0);
	sse_free(&p);
	/* Events under the cap each pass, however many. */
	memset(&e, 0, sizeof(e));
	sse_init(&p, 64, on_event, &e);
	for (rc = 0; rc == 0 && e.n < 100;)
		rc = sse_feed(&p, "data: 0123456789012345678901234567890123456789\n\n", 48, &err);
	ck_assert_int_eq(rc, 0);
	sse_free(&p);
	/* A callback's error stops the parser with its message. */
	memset(&e, 0, sizeof(e));
	e.stop_at = 2;
	sse_init(&p, 1024, on_event, &e);
	ck_assert_int_eq(sse_feed(&p, "data: 1\n\ndata: 2\n\ndata: 3\n\n", 27, &err), CACT_EPROTO);
	ck_assert_str_eq(err.message, "stopped at 2");
	ck_assert_int_eq(e.n, 2);
	sse_free(&p);
}
END_TEST

/* ---- chat_parse_response ---- */

static json_t *parse_ok(const char *body)
{
	struct cact_error err = {0};
	json_t *out = NULL;
	int rc = chat_parse_response(body, strlen(body), &out, &err);

	ck_assert_msg(rc == 0, "%s: %s", body, err.message);
	expect_shape(out);
	return out;
}

START_TEST(parse_content_null)
{
	json_t *out;

	out = parse_ok("{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
		       "\"content\":null},\"finish_reason\":\"length\"}]}");
	ck_assert(json_is_null(jget(out, "message.content")));
	ck_assert(jget(out, "message.tool_calls") == NULL);
	expect_str(out, "finish_reason", "length");
	ck_assert(json_is_null(jget(out, "usage")));
	json_decref(out);
	/* No content at all, no finish reason, empty tool_calls. */
	out = parse_ok("{\"choices\":[{\"message\":{\"tool_calls\":[]}}]}");
	ck_assert(json_is_null(jget(out, "message.content")));
	ck_assert(json_is_null(jget(out, "finish_reason")));
	ck_assert(jget(out, "message.tool_calls") == NULL);
	json_decref(out);
	/* Content parts are joined; usage is normalized. */
	out = parse_ok("{\"choices\":[{\"message\":{\"content\":[{\"type\":\"text\",\"text\":"
		       "\"ab\"},{\"type\":\"text\",\"text\":\"cd\"}]}}],"
		       "\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":3}}");
	expect_str(out, "message.content", "abcd");
	expect_int(out, "usage.total_tokens", 5);
	json_decref(out);
	/* Arguments given as an object become their JSON text; missing ids are made. */
	out = parse_ok("{\"choices\":[{\"message\":{\"content\":\"\",\"tool_calls\":[{"
		       "\"function\":{\"name\":\"f\",\"arguments\":{\"x\":[1,2]}}}]}}]}");
	expect_str(out, "message.tool_calls.0.function.arguments", "{\"x\":[1,2]}");
	expect_str(out, "message.tool_calls.0.id", "call_0");
	expect_str(out, "message.tool_calls.0.type", "function");
	expect_str(out, "message.content", "");
	json_decref(out);
}
END_TEST

START_TEST(parse_bad_shapes)
{
	static const struct {
		const char *body;
		int code;
		const char *needle;
	} rows[] = {
		{"", CACT_EPROTO, "response is not JSON"},
		{"[1]", CACT_EPROTO, "not a JSON object"},
		{"{}", CACT_EPROTO, "no choices"},
		{"{\"choices\":[]}", CACT_EPROTO, "no choices"},
		{"{\"choices\":{}}", CACT_EPROTO, "no choices"},
		{"{\"choices\":[1]}", CACT_EPROTO, "no message object"},
		{"{\"choices\":[{}]}", CACT_EPROTO, "no message object"},
		{"{\"choices\":[{\"message\":[]}]}", CACT_EPROTO, "no message object"},
		{"{\"choices\":[{\"message\":{\"content\":5}}]}", CACT_EPROTO, "content"},
		{"{\"choices\":[{\"message\":{\"content\":[5]}}]}", CACT_EPROTO,
		 "part 0 has no text"},
		{"{\"choices\":[{\"message\":{},\"finish_reason\":1}]}", CACT_EPROTO,
		 "finish_reason"},
		{"{\"choices\":[{\"message\":{\"tool_calls\":{}}}]}", CACT_EPROTO,
		 "tool_calls is not an array"},
		{"{\"choices\":[{\"message\":{\"tool_calls\":[1]}}]}", CACT_EPROTO,
		 "tool call 0 has no function"},
		{"{\"choices\":[{\"message\":{\"tool_calls\":[{\"function\":{}}]}}]}", CACT_EPROTO,
		 "tool call 0 has no function name"},
		{"{\"choices\":[{\"message\":{\"tool_calls\":[{\"id\":1,\"function\":{\"name\":"
		 "\"f\"}}]}}]}",
		 CACT_EPROTO, "not a string"},
		{"{\"choices\":[{\"message\":{\"tool_calls\":[{\"function\":{\"name\":\"f\","
		 "\"arguments\":7}}]}}]}",
		 CACT_EPROTO, "arguments that are not a string"},
		{"{\"choices\":[{\"message\":{}}],\"usage\":5}", CACT_EPROTO,
		 "usage is not an object"},
		{"{\"choices\":[{\"message\":{}}],\"usage\":{\"prompt_tokens\":-1}}", CACT_EPROTO,
		 "whole number"},
		{"{\"choices\":[{\"message\":{}}],\"usage\":{\"total_tokens\":1.5}}", CACT_EPROTO,
		 "whole number"},
		{"{\"choices\":[{\"message\":{}}],\"choices\":[]}", CACT_EPROTO, "not JSON"},
		{"{\"error\":{\"message\":\"quota exceeded\"}}", CACT_ESYS,
		 "model server error: quota exceeded"},
		{"{\"error\":\"plain\"}", CACT_ESYS, "model server error: plain"},
	};
	size_t i;

	for (i = 0; i < UT_ARRAY_SIZE(rows); i++) {
		struct cact_error err = {0};
		json_t *out = (json_t *)&err;
		int rc = chat_parse_response(rows[i].body, strlen(rows[i].body), &out, &err);

		ck_assert_msg(rc == rows[i].code, "row %zu (%s): %d %s", i, rows[i].body, rc,
			      err.message);
		ck_assert_msg(out == NULL, "row %zu: output set", i);
		ck_assert_msg(strstr(err.message, rows[i].needle), "row %zu: \"%s\" lacks \"%s\"",
			      i, err.message, rows[i].needle);
	}
}
END_TEST

/* ---- the stream accumulator ---- */

static int stream_run(const char *text, size_t step, json_t **out, struct cact_error *err,
		      struct deltas *d)
{
	struct chat_stream s;
	size_t len = strlen(text), off = 0;
	int rc = 0;

	chat_stream_init(&s, 1 << 16, d ? on_delta : NULL, d);
	while (off < len && !rc) {
		size_t n = step && len - off > step ? step : len - off;

		rc = chat_stream_feed(&s, text + off, n, err);
		off += n;
	}
	if (!rc)
		rc = chat_stream_finish(&s, out, err);
	chat_stream_free(&s);
	return rc;
}

START_TEST(stream_accumulator)
{
	static const char ok[] =
		"data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":"
		"\"\"}}]}\n\n"
		": keep-alive\n\n"
		"data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\r\n\r\n"
		"data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\r\r"
		"data: {\"choices\":[{\"index\":1,\"delta\":{\"content\":\"other choice\"}}]}\n\n"
		"data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c0\","
		"\"type\":\"function\",\"function\":{\"name\":\"get_\",\"arguments\":\"\"}}]}}]}"
		"\n\n"
		"data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"c1\","
		"\"function\":{\"name\":\"other\",\"arguments\":\"[\"}}]}}]}\n\n"
		"data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
		"{\"name\":\"weather\",\"arguments\":\"{\\\"a\\\"\"}}]}}]}\n\n"
		"data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
		"{\"arguments\":\":1}\"}},{\"index\":1,\"function\":{\"arguments\":\"]\"}}]}}]}\n\n"
		"data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
		"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":4,"
		"\"total_tokens\":13}}\n\n"
		"data: [DONE]\n\n"
		"data: {not even json after done}\n\n";
	struct cact_error err = {0};
	struct deltas d;
	json_t *out = NULL;
	size_t step;

	for (step = 0; step < 12; step += 1 + step) {
		memset(&d, 0, sizeof(d));
		d.thread = pthread_self();
		ck_assert_msg(stream_run(ok, step, &out, &err, &d) == 0, "%s", err.message);
		expect_shape(out);
		ck_assert_str_eq(d.text, "Hel|lo");
		expect_str(out, "message.content", "Hello");
		expect_str(out, "message.tool_calls.0.id", "c0");
		expect_str(out, "message.tool_calls.0.function.name", "get_weather");
		expect_str(out, "message.tool_calls.0.function.arguments", "{\"a\":1}");
		expect_str(out, "message.tool_calls.1.id", "c1");
		expect_str(out, "message.tool_calls.1.type", "function");
		expect_str(out, "message.tool_calls.1.function.name", "other");
		expect_str(out, "message.tool_calls.1.function.arguments", "[]");
		expect_str(out, "finish_reason", "tool_calls");
		expect_int(out, "usage.total_tokens", 13);
		json_decref(out);
	}

	/* Deltas without an index, told apart by id; a name repeated whole is not doubled. */
	ck_assert_int_eq(
		stream_run(
			"data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"id\":\"a\","
			"\"function\":{\"name\":\"f\",\"arguments\":\"{\"}}]}}]}\n\n"
			"data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"name\":"
			"\"f\",\"arguments\":\"}\"}}]}}]}\n\n"
			"data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"id\":\"b\","
			"\"function\":{\"name\":\"g\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n",
			0, &out, &err, NULL),
		0);
	expect_str(out, "message.tool_calls.0.function.name", "f");
	expect_str(out, "message.tool_calls.0.function.arguments", "{}");
	expect_str(out, "message.tool_calls.1.id", "b");
	expect_str(out, "message.tool_calls.1.function.arguments", "{}");
	ck_assert(json_is_null(jget(out, "message.content")));
	ck_assert(json_is_null(jget(out, "usage")));
	json_decref(out);

	/* Failures. */
	ck_assert_int_eq(stream_run("", 0, &out, &err, NULL), CACT_EPROTO);
	ck_assert_int_eq(stream_run("data: 5\n\n", 0, &out, &err, NULL), CACT_EPROTO);
	ck_assert_str_eq(err.message, "malformed SSE stream: data is not a JSON object");
	ck_assert_int_eq(stream_run("data: {\"choices\":[{\"delta\":{\"content\":1}}]}\n\n", 0,
				    &out, &err, NULL),
			 CACT_EPROTO);
	ck_assert_int_eq(stream_run("data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":"
				    "500}]}}]}\n\n",
				    0, &out, &err, NULL),
			 CACT_EPROTO);
	ck_assert_int_eq(stream_run("data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":"
				    "0}]}}]}\n\ndata: [DONE]\n\n",
				    0, &out, &err, NULL),
			 CACT_EPROTO);
	ck_assert_str_eq(err.message, "malformed SSE stream: tool call 0 has no function name");
	ck_assert_int_eq(stream_run("event: error\ndata: {\"error\":{\"message\":\"boom\"}}\n\n", 0,
				    &out, &err, NULL),
			 CACT_ESYS);
	ck_assert_str_eq(err.message, "model server error in the stream: boom");
}
END_TEST

int main(int argc, char **argv)
{
	/* tests/meson.build reads one T_CASE per line. */
	/* clang-format off */
	struct t_case cases[] = {
		T_CASE(plain_answer, 60),
		T_CASE(tool_calls_parsed, 60),
		T_CASE(stream_text_deltas, 60),
		T_CASE(stream_tool_calls, 60),
		T_CASE(usage_captured, 60),
		T_CASE(extra_json_merged, 60),
		T_CASE(extra_headers_sent, 60),
		T_CASE(api_key_sent_never_shown, 60),
		T_CASE(missing_env_refused, 30),
		T_CASE(status_401_fails_at_once, 60),
		T_CASE(retry_after_429, 60),
		T_CASE(retry_after_http_date, 60),
		T_CASE(retry_500_then_success, 60),
		T_CASE(retry_500_exhausted, 60),
		T_CASE(connection_refused_retried, 60),
		T_CASE(timeout_applies, 60),
		T_CASE(malformed_json_body, 60),
		T_CASE(malformed_sse, 60),
		T_CASE(oversize_response, 60),
		T_CASE(concurrent_threads, 60),
		T_CASE(bad_options, 30),
		T_CASE(bad_call_arguments, 30),
		T_CASE(sse_line_endings, 30),
		T_CASE(sse_split_byte_by_byte, 30),
		T_CASE(sse_comments_and_fields, 30),
		T_CASE(sse_multiline_data, 30),
		T_CASE(sse_cap, 30),
		T_CASE(parse_content_null, 30),
		T_CASE(parse_bad_shapes, 30),
		T_CASE(stream_accumulator, 30),
	};
	/* clang-format on */

	return t_main("chat", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
