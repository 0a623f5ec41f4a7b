/* SPDX-License-Identifier: MIT */
/*
 * Host tools called from sandboxed Python, end to end through the public
 * API: call_tool in the guest, the wire, the host's checks and caps, the
 * callback and command handlers, per-call approval, and hostile tool frames
 * written straight to the wire socket.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common.h"

#define MIB	 (1024ull * 1024)
#define TEST_VAR "CACT_TOOLS_TEST_VAR"

/* def t(tool, ...): calls a tool and prints "ok <repr>" or "<Exception>: <message>". */
#define PY_T                                                     \
	"def t(tool, /, *a, **kw):\n"                            \
	"    try:\n"                                             \
	"        print('ok', repr(call_tool(tool, *a, **kw)))\n" \
	"    except Exception as e:\n"                           \
	"        print(type(e).__name__ + ':', e)\n"

/* frame(obj or bytes): one raw wire frame, for code that writes to fd 3 itself. */
#define PY_FRAME                                                                \
	"import os, json, time\n"                                               \
	"def frame(obj):\n"                                                     \
	"    p = obj if isinstance(obj, bytes) else json.dumps(obj).encode()\n" \
	"    return len(p).to_bytes(4, 'big') + p\n"                            \
	"def readn(n):\n"                                                       \
	"    b = b''\n"                                                         \
	"    while len(b) < n:\n"                                               \
	"        c = os.read(3, n - len(b))\n"                                  \
	"        if not c:\n"                                                   \
	"            raise EOFError('wire closed')\n"                           \
	"        b += c\n"                                                      \
	"    return b\n"                                                        \
	"def reply():\n"                                                        \
	"    return json.loads(readn(int.from_bytes(readn(4), 'big')))\n"

#define BAD_ARGS "tool 'v' failed: arguments do not match the tool's parameters: "

/* ---- what the handlers saw (each case runs in a process of its own) ---- */

static atomic_int g_calls;  /* handler invocations */
static atomic_int g_active; /* handlers running now */
static atomic_int g_max_active;
static atomic_int g_approvals; /* approval callback invocations */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_last_name[256];
static char g_last_args[8192];
static char g_appr_name[256];
static char g_appr_args[8192];
static pthread_t g_main_thread;
static atomic_int g_on_main_thread;

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

static void note_call(const char *name, const char *args)
{
	atomic_fetch_add(&g_calls, 1);
	if (pthread_equal(pthread_self(), g_main_thread))
		atomic_store(&g_on_main_thread, 1);
	pthread_mutex_lock(&g_mu);
	snprintf(g_last_name, sizeof(g_last_name), "%s", name);
	snprintf(g_last_args, sizeof(g_last_args), "%s", args);
	pthread_mutex_unlock(&g_mu);
}

static void enter(void)
{
	int now = atomic_fetch_add(&g_active, 1) + 1, max = atomic_load(&g_max_active);

	while (now > max && !atomic_compare_exchange_weak(&g_max_active, &max, now))
		;
}

static void leave(void)
{
	atomic_fetch_sub(&g_active, 1);
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);

	ck_assert(p != NULL);
	return p;
}

/* Returns the JSON text in user. */
static int cb_const(void *user, const char *name, const char *args, char **result,
		    struct cact_error *err)
{
	(void)err;
	note_call(name, args);
	*result = xstrdup(user);
	return 0;
}

/* Returns the arguments object. */
static int cb_echo(void *user, const char *name, const char *args, char **result,
		   struct cact_error *err)
{
	(void)user;
	(void)err;
	note_call(name, args);
	*result = xstrdup(args);
	return 0;
}

/* Fails with the message in user; with no message, CACT_ENOENT alone. */
static int cb_fail(void *user, const char *name, const char *args, char **result,
		   struct cact_error *err)
{
	note_call(name, args);
	*result = NULL;
	if (!user)
		return CACT_ENOENT;
	snprintf(err->message, sizeof(err->message), "%s", (const char *)user);
	err->code = CACT_EINVAL;
	return CACT_EINVAL;
}

/* Succeeds without a result. */
static int cb_no_result(void *user, const char *name, const char *args, char **result,
			struct cact_error *err)
{
	(void)user;
	(void)err;
	note_call(name, args);
	*result = NULL;
	return 0;
}

/* Sleeps (intptr_t)user ms, then returns "slept". */
static int cb_sleep(void *user, const char *name, const char *args, char **result,
		    struct cact_error *err)
{
	(void)err;
	note_call(name, args);
	enter();
	sleep_ms((unsigned)(intptr_t)user);
	leave();
	*result = xstrdup("\"slept\"");
	return 0;
}

/* A JSON string of (intptr_t)user 'x' characters. */
static int cb_big(void *user, const char *name, const char *args, char **result,
		  struct cact_error *err)
{
	size_t n = (size_t)(intptr_t)user;
	char *s = malloc(n + 3);

	(void)err;
	note_call(name, args);
	ck_assert(s != NULL);
	s[0] = '"';
	memset(s + 1, 'x', n);
	s[n + 1] = '"';
	s[n + 2] = '\0';
	*result = s;
	return 0;
}

/* {"i": n} -> {"i": n, "sq": n * n}, after 20 ms. */
static int cb_square(void *user, const char *name, const char *args, char **result,
		     struct cact_error *err)
{
	json_t *a = json_loads(args, 0, NULL);
	long long i;

	(void)user;
	note_call(name, args);
	if (!a || !json_is_integer(json_object_get(a, "i"))) {
		json_decref(a);
		snprintf(err->message, sizeof(err->message), "no integer i in %s", args);
		return CACT_EINVAL;
	}
	i = json_integer_value(json_object_get(a, "i"));
	json_decref(a);
	enter();
	sleep_ms(20);
	leave();
	ck_assert_int_ge(asprintf(result, "{\"i\":%lld,\"sq\":%lld}", i, i * i), 0);
	return 0;
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

/* ---- requests and runs ---- */

static struct cact_request *req_new(void)
{
	struct cact_request *req = NULL;

	g_main_thread = pthread_self();
	ck_assert_int_eq(cact_request_new(&req), 0);
	return req;
}

static void set_limit(struct cact_request *req, enum cact_limit l, uint64_t v)
{
	struct cact_error err = {0};

	ck_assert_msg(cact_request_set_limit(req, l, v, &err) == 0, "%s", err.message);
}

static void add_cb(struct cact_request *req, const char *name, const char *params,
		   enum cact_approval approval, cact_tool_fn fn, void *user)
{
	struct cact_tool *t = NULL;
	struct cact_error err = {0};

	ck_assert_msg(cact_tool_new_callback(name, "a test tool", params, approval, fn, user, &t,
					     &err) == 0,
		      "%s", err.message);
	ck_assert_msg(cact_request_add_tool(req, t, &err) == 0, "%s", err.message);
	cact_tool_unref(t);
}

static void add_const(struct cact_request *req, const char *name, const char *json)
{
	add_cb(req, name, NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_const, (void *)json);
}

static void add_cmd(struct cact_request *req, const char *name, const char *const *argv,
		    const char *cwd, uint64_t timeout_ms)
{
	struct cact_tool *t = NULL;
	struct cact_error err = {0};

	ck_assert_msg(cact_tool_new_command(name, "a test command", NULL,
					    CACT_APPROVAL_NEVER_REQUIRE, argv, cwd, timeout_ms, &t,
					    &err) == 0,
		      "%s", err.message);
	ck_assert_msg(cact_request_add_tool(req, t, &err) == 0, "%s", err.message);
	cact_tool_unref(t);
}

/* A shell command tool: /bin/sh -c script [arg0]. */
static void add_sh(struct cact_request *req, const char *name, const char *script, const char *arg0,
		   uint64_t timeout_ms)
{
	const char *argv[] = {"/bin/sh", "-c", script, arg0, NULL};

	add_cmd(req, name, argv, NULL, timeout_ms);
}

/* The same, with stderr_to_code: a failure's stderr is the reason the code sees. */
static void add_sh_to_code(struct cact_request *req, const char *name, const char *script)
{
	const char *argv[] = {"/bin/sh", "-c", script, NULL};
	struct cact_tool_command_options o;
	struct cact_tool *t = NULL;
	struct cact_error err = {0};

	cact_tool_command_options_init(&o);
	o.stderr_to_code = 1;
	ck_assert_msg(cact_tool_new_command_opts(name, "a test command", NULL,
						 CACT_APPROVAL_NEVER_REQUIRE, argv, &o, &t,
						 &err) == 0,
		      "%s", err.message);
	ck_assert_msg(cact_request_add_tool(req, t, &err) == 0, "%s", err.message);
	cact_tool_unref(t);
}

static struct cact_result *run_code(struct cact_runtime *rt, struct cact_request *req,
				    const char *code)
{
	struct cact_error err = {0};

	ck_assert_msg(cact_request_set_code(req, code, strlen(code), &err) == 0, "%s", err.message);
	return t_run_req(rt, req);
}

#define assert_out(r, want) assert_out_at((r), (want), __LINE__)
static void assert_out_at(const struct cact_result *r, const char *want, int line)
{
	size_t len;
	const char *got = cact_result_stdout(r, &len, NULL);

	ck_assert_msg(len == strlen(want) && memcmp(got, want, len) == 0,
		      "line %d: stdout\n---\n%s---\nexpected\n---\n%s---\nstderr: %s\nerror: %s",
		      line, got, want, t_err(r),
		      cact_result_error_message(r) ? cact_result_error_message(r) : "(none)");
}

/* Runs code and expects status ok, exactly want on stdout and nothing on stderr. */
#define expect_ok(rt, req, code, want) expect_ok_at((rt), (req), (code), (want), __LINE__)
static struct cact_result *expect_ok_at(struct cact_runtime *rt, struct cact_request *req,
					const char *code, const char *want, int line)
{
	struct cact_result *r = run_code(rt, req, code);

	t_assert_status_at(r, CACT_STATUS_OK, __FILE__, line);
	assert_out_at(r, want, line);
	ck_assert_msg(strcmp(t_err(r), "") == 0, "line %d: stderr: %s", line, t_err(r));
	return r;
}

static void assert_contains(const char *haystack, const char *needle)
{
	ck_assert_msg(haystack && strstr(haystack, needle), "expected \"%s\" in \"%.2000s\"",
		      needle, haystack ? haystack : "(null)");
}

static uint64_t tool_calls_of(const struct cact_result *r)
{
	struct cact_stats st;

	cact_result_stats(r, &st);
	return st.tool_calls;
}

/* The runtime still runs clean code, tools included; frees rt. */
static void host_healthy(struct cact_runtime *rt)
{
	struct cact_request *req = req_new();
	struct cact_result *r;

	add_cb(req, "echo", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_echo, NULL);
	r = expect_ok(rt, req, "print(call_tool('echo', x=[1, 'two']))\nprint('clean')\n",
		      "{'x': [1, 'two']}\nclean\n");
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}

/* Runs a one-tool request whose code prints the tool's result type and repr. */
static void expect_const_results(const char *const *names, const char *const *jsons, size_t n,
				 const char *code, const char *want)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	struct cact_result *r;
	size_t i;

	for (i = 0; i < n; i++)
		add_const(req, names[i], jsons[i]);
	set_limit(req, CACT_LIMIT_TIMEOUT_MS, 10000);
	r = expect_ok(rt, req, code, want);
	ck_assert_uint_eq(tool_calls_of(r), n);
	ck_assert_int_eq(atomic_load(&g_calls), (int)n);
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}

/* Whether pid is a live (not zombie) process. */
static int alive(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* Reads the pid a command wrote into path, and waits up to 3 s for it to be gone. */
static void assert_pid_gone(const char *path)
{
	FILE *f = fopen(path, "r");
	uint64_t deadline;
	int pid = 0;

	ck_assert_msg(f != NULL, "the command did not write %s", path);
	ck_assert_int_eq(fscanf(f, "%d", &pid), 1);
	fclose(f);
	ck_assert_int_gt(pid, 1);
	deadline = now_ms() + 3000;
	while (alive(pid) && now_ms() < deadline)
		sleep_ms(50);
	ck_assert_msg(!alive(pid), "process %d the command started is still running", pid);
}

/* ================= results of every JSON type ================= */

START_TEST(builtin_and_importable)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	struct cact_result *r;

	add_cb(req, "echo", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_echo, NULL);
	r = expect_ok(rt, req,
		      "import builtins, cact\n"
		      "from cact import call_tool as imported\n"
		      "print(call_tool is imported is cact.call_tool is builtins.call_tool)\n"
		      "print(imported('echo', a=1))\n"
		      "print(call_tool('echo', name='n', args=[], id=3))\n"
		      "print(call_tool('echo'))\n",
		      "True\n{'a': 1}\n{'name': 'n', 'args': [], 'id': 3}\n{}\n");
	ck_assert_uint_eq(tool_calls_of(r), 3);
	ck_assert_int_eq(atomic_load(&g_calls), 3);
	ck_assert_int_eq(atomic_load(&g_on_main_thread), 0);
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(result_int)
{
	const char *names[] = {"i42", "ineg", "izero"};
	const char *jsons[] = {"42", "-7", "0"};

	expect_const_results(names, jsons, 3,
			     "for n in ('i42', 'ineg', 'izero'):\n"
			     "    v = call_tool(n)\n"
			     "    print(type(v).__name__, repr(v))\n",
			     "int 42\nint -7\nint 0\n");
}
END_TEST

START_TEST(result_big_int)
{
	const char *names[] = {"max", "min", "odd53"};
	const char *jsons[] = {"9223372036854775807", "-9223372036854775808", "9007199254740993"};

	expect_const_results(names, jsons, 3,
			     "a, b, c = call_tool('max'), call_tool('min'), call_tool('odd53')\n"
			     "print(a == 2**63 - 1, type(a).__name__)\n"
			     "print(b == -2**63)\n"
			     "print(c == 2**53 + 1, c)\n",
			     "True int\nTrue\nTrue 9007199254740993\n");
}
END_TEST

START_TEST(result_float)
{
	const char *names[] = {"f1", "f2", "f3", "f4", "f5"};
	const char *jsons[] = {"3.25", "-0.5", "1e-300", "1.7976931348623157e308", "2.0"};

	expect_const_results(names, jsons, 5,
			     "for n in ('f1', 'f2', 'f3', 'f4', 'f5'):\n"
			     "    v = call_tool(n)\n"
			     "    print(type(v).__name__, repr(v))\n",
			     "float 3.25\nfloat -0.5\nfloat 1e-300\nfloat 1.7976931348623157e+308\n"
			     "float 2.0\n");
}
END_TEST

START_TEST(result_string_unicode)
{
	const char *names[] = {"esc", "raw", "empty"};
	const char *jsons[] = {
		"\"h\\u00e9llo \\u2603 \\ud83d\\ude00 \\\"q\\\" \\\\ \\n\\t/\"",
		"\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
		"\"\"",
	};

	expect_const_results(names, jsons, 3,
			     "for n in ('esc', 'raw', 'empty'):\n"
			     "    v = call_tool(n)\n"
			     "    print(type(v).__name__, len(v), ascii(v))\n",
			     "str 19 'h\\xe9llo \\u2603 \\U0001f600 \"q\" \\\\ \\n\\t/'\n"
			     "str 8 'caf\\xe9 \\u20ac \\U0001f600'\n"
			     "str 0 ''\n");
}
END_TEST

START_TEST(result_string_with_nul)
{
	/* U+0000 is a valid JSON string character; the value must come back whole. */
	const char *names[] = {"nul"};
	const char *jsons[] = {"\"a\\u0000b\""};

	expect_const_results(names, jsons, 1,
			     "v = call_tool('nul')\n"
			     "print(len(v), ascii(v))\n",
			     "3 'a\\x00b'\n");
}
END_TEST

/*
 * A NUL would cut a tool name short in C ("echo\0x" read as "echo"): the
 * host refuses such a name, and the runner refuses a NUL in an argument's
 * key (the host's JSON reader takes none). The execution goes on.
 */
START_TEST(nul_in_tool_name_or_key_refused)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	struct cact_result *r;

	add_const(req, "echo", "1");
	set_limit(req, CACT_LIMIT_TIMEOUT_MS, 10000);
	r = expect_ok(rt, req,
		      "try:\n"
		      "    call_tool('echo\\x00x')\n"
		      "except RuntimeError as e:\n"
		      "    print('name', 'NUL' in str(e))\n"
		      "try:\n"
		      "    call_tool('echo', **{'a\\x00b': 1})\n"
		      "except ValueError as e:\n"
		      "    print('key', 'NUL' in str(e))\n"
		      "print(call_tool('echo'))\n",
		      "name True\nkey True\n1\n");
	ck_assert_int_eq(atomic_load(&g_calls), 1);
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(result_bool)
{
	const char *names[] = {"yes", "no"};
	const char *jsons[] = {"true", "false"};

	expect_const_results(names, jsons, 2,
			     "for n in ('yes', 'no'):\n"
			     "    v = call_tool(n)\n"
			     "    print(type(v).__name__, v, v is True, v is False)\n",
			     "bool True True False\nbool False False True\n");
}
END_TEST

START_TEST(result_null)
{
	const char *names[] = {"nothing"};
	const char *jsons[] = {"null"};

	expect_const_results(names, jsons, 1,
			     "v = call_tool('nothing')\n"
			     "print(v is None)\n",
			     "True\n");
}
END_TEST

START_TEST(result_nested)
{
	const char *names[] = {"tree", "list", "eobj", "earr"};
	const char *jsons[] = {
		"{\"a\": [1, 2.5, \"x\", null, true, {\"b\": [], \"c\": {\"d\": [[false]]}}],\n"
		" \"e\": {}, \"\\u00fc\": -3}",
		"[{\"k\": 1}, [2, [3, [4]]], \"s\"]",
		"{}",
		"[]",
	};

	expect_const_results(
		names, jsons, 4,
		"v = call_tool('tree')\n"
		"print(v == {'a': [1, 2.5, 'x', None, True, {'b': [], 'c': {'d': [[False]]}}],\n"
		"            'e': {}, '\\u00fc': -3})\n"
		"print(list(v), [type(x).__name__ for x in v['a']])\n"
		"print(call_tool('list') == [{'k': 1}, [2, [3, [4]]], 's'])\n"
		"print(repr(call_tool('eobj')), repr(call_tool('earr')))\n",
		"True\n['a', 'e', '\xc3\xbc'] ['int', 'float', 'str', 'NoneType', 'bool', 'dict']\n"
		"True\n{} []\n");
}
END_TEST

START_TEST(callback_args_exact)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	struct cact_result *r;

	add_cb(req, "echo", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_echo, NULL);
	r = expect_ok(rt, req,
		      "a = dict(s='h\\u00e9llo \\u2603', n=-12, big=2**63 - 1, f=2.5,\n"
		      "         l=[1, None, True, False], d={'k': {'z': []}})\n"
		      "print(call_tool('echo', **a) == a)\n",
		      "True\n");
	ck_assert_int_eq(atomic_load(&g_calls), 1);
	ck_assert_str_eq(g_last_name, "echo");
	ck_assert_str_eq(
		g_last_args,
		"{\"s\":\"h\xc3\xa9llo \xe2\x98\x83\",\"n\":-12,\"big\":9223372036854775807,"
		"\"f\":2.5,\"l\":[1,null,true,false],\"d\":{\"k\":{\"z\":[]}}}");
	ck_assert_int_eq(atomic_load(&g_on_main_thread), 0);
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

/* ================= command tools ================= */

START_TEST(command_sh_result)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	struct cact_result *r;

	add_sh(req, "weather",
	       "cat >/dev/null; printf '%s\\n' "
	       "'{\"city\": \"Paris\", \"temp\": 21.5, \"tags\": [\"a\", \"b\"], \"ok\": true, "
	       "\"none\": null, \"n\": 7}'",
	       NULL, 0);
	add_sh(req, "upper", "tr a-z A-Z", NULL, 0);
	r = expect_ok(
		rt, req,
		"print(call_tool('weather', city='Paris'))\n"
		"print(call_tool('upper', word='abc'))\n",
		"{'city': 'Paris', 'temp': 21.5, 'tags': ['a', 'b'], 'ok': True, 'none': None, "
		"'n': 7}\n{'WORD': 'ABC'}\n");
	ck_assert_uint_eq(tool_calls_of(r), 2);
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

static const char *python3(void)
{
	return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

START_TEST(command_python_stdin_cwd_env)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	char *dir = t_tmpdir(), real[PATH_MAX], *want = NULL;
	const char *argv[] = {python3(), "tool.py", NULL};
	struct cact_result *r;

	ck_assert_ptr_nonnull(realpath(dir, real));
	t_write(dir, "tool.py",
		"import json, os, sys\n"
		"raw = sys.stdin.buffer.read().decode('utf-8')\n"
		"json.dump({'raw': raw, 'cwd': os.getcwd(), 'env': os.environ.get('" TEST_VAR
		"')}, sys.stdout)\n");
	ck_assert_int_eq(setenv(TEST_VAR, "from the test process \xc3\xa9", 1), 0);
	add_cmd(req, "py", argv, dir, 20000);
	ck_assert_int_ge(asprintf(&want,
				  "'{\"city\":\"Z\\xfcrich\",\"n\":3,\"l\":[1,2.5,null,true],"
				  "\"d\":{\"k\":\"v\"}}'\n%s\n'from the test process \\xe9'\n",
				  real),
			 0);
	r = expect_ok(rt, req,
		      "r = call_tool('py', city='Z\\u00fcrich', n=3, l=[1, 2.5, None, True],\n"
		      "              d={'k': 'v'})\n"
		      "print(ascii(r['raw']))\n"
		      "print(r['cwd'])\n"
		      "print(ascii(r['env']))\n",
		      want);
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
	unsetenv(TEST_VAR);
	free(want);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(command_default_cwd_is_callers)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	char *dir = t_tmpdir(), real[PATH_MAX], *want = NULL;
	struct cact_result *r;

	ck_assert_ptr_nonnull(realpath(dir, real));
	ck_assert_int_eq(chdir(dir), 0);
	add_sh(req, "pwd", "cat >/dev/null; printf '\"%s\"' \"$(pwd -P)\"", NULL, 0);
	ck_assert_int_ge(asprintf(&want, "%s\n", real), 0);
	r = expect_ok(rt, req, "print(call_tool('pwd'))\n", want);
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
	ck_assert_int_eq(chdir("/"), 0);
	free(want);
	t_rmtree(dir);
	free(dir);
}
END_TEST

/* ================= refusals and failures ================= */

START_TEST(unknown_tool_lists_available)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	struct cact_result *r;

	add_cb(req, "alpha", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_echo, NULL);
	add_cb(req, "beta.v2", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_echo, NULL);
	r = expect_ok(
		rt, req,
		PY_T "t('gamma', x=1)\n"
		     "t('Alpha')\n"
		     "t('alpha', x=1)\n",
		"RuntimeError: tool 'gamma' failed: unknown tool (available: alpha, beta.v2)\n"
		"RuntimeError: tool 'Alpha' failed: unknown tool (available: alpha, beta.v2)\n"
		"ok {'x': 1}\n");
	ck_assert_uint_eq(tool_calls_of(r), 3);
	ck_assert_int_eq(atomic_load(&g_calls), 1);
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(unknown_tool_none_registered)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	struct cact_result *r;

	r = run_code(rt, req, "call_tool('anything', q='x')\n");
	t_assert_status(r, CACT_STATUS_PYTHON_ERROR);
	ck_assert_str_eq(cact_result_error_type(r), "RuntimeError");
	ck_assert_str_eq(cact_result_error_message(r),
			 "tool 'anything' failed: unknown tool (available: none)");
	ck_assert_uint_eq(tool_calls_of(r), 1);
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

#define SCHEMA                                                                 \
	"{\"type\": \"object\", \"properties\": {"                             \
	"\"n\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 10},"     \
	"\"s\": {\"type\": \"string\", \"minLength\": 2, \"maxLength\": 4},"   \
	"\"mode\": {\"enum\": [\"fast\", \"slow\"]},"                          \
	"\"tags\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}},"  \
	"\"a\": {\"type\": \"object\", \"properties\": {"                      \
	"\"b\": {\"type\": \"array\", \"items\": {\"type\": \"integer\"}}}}}," \
	"\"required\": [\"n\"], \"additionalProperties\": false}"

/* Runs code against tool "v" (SCHEMA, echo) and expects want; the handler ran `valid` times. */
static void expect_schema(const char *code, const char *want, int valid, unsigned calls)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	struct cact_result *r;

	add_cb(req, "v", SCHEMA, CACT_APPROVAL_NEVER_REQUIRE, cb_echo, NULL);
	r = expect_ok(rt, req, code, want);
	ck_assert_int_eq(atomic_load(&g_calls), valid);
	ck_assert_uint_eq(tool_calls_of(r), calls);
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}

START_TEST(schema_wrong_type)
{
	expect_schema(PY_T "t('v', n='5')\n"
			   "t('v', n=True)\n"
			   "t('v', n=2.5)\n"
			   "t('v', n=None)\n"
			   "t('v', n=1, s=12)\n"
			   "t('v', n=1, tags='a')\n"
			   "t('v', n=3.0)\n"
			   "t('v', n=5)\n",
		      "RuntimeError: " BAD_ARGS "$.n: expected integer, got string\n"
		      "RuntimeError: " BAD_ARGS "$.n: expected integer, got boolean\n"
		      "RuntimeError: " BAD_ARGS "$.n: expected integer, got number\n"
		      "RuntimeError: " BAD_ARGS "$.n: expected integer, got null\n"
		      "RuntimeError: " BAD_ARGS "$.s: expected string, got integer\n"
		      "RuntimeError: " BAD_ARGS "$.tags: expected array, got string\n"
		      "ok {'n': 3.0}\n"
		      "ok {'n': 5}\n",
		      2, 8);
}
END_TEST

START_TEST(schema_missing_required)
{
	expect_schema(PY_T "t('v')\n"
			   "t('v', s='ab')\n"
			   "t('v', n=1, s='ab')\n",
		      "RuntimeError: " BAD_ARGS "$: missing required property 'n'\n"
		      "RuntimeError: " BAD_ARGS "$: missing required property 'n'\n"
		      "ok {'n': 1, 's': 'ab'}\n",
		      1, 3);
}
END_TEST

START_TEST(schema_additional_property)
{
	expect_schema(PY_T "t('v', n=1, extra=0)\n"
			   "t('v', n=1, N=1)\n"
			   "t('v', n=1, a={'b': [], 'free': 'x'})\n",
		      "RuntimeError: " BAD_ARGS "$: unexpected property 'extra'\n"
		      "RuntimeError: " BAD_ARGS "$: unexpected property 'N'\n"
		      /* additionalProperties is per schema: the nested object allows extras */
		      "ok {'n': 1, 'a': {'b': [], 'free': 'x'}}\n",
		      1, 3);
}
END_TEST

START_TEST(schema_enum)
{
	expect_schema(PY_T "t('v', n=1, mode='medium')\n"
			   "t('v', n=1, mode='FAST')\n"
			   "t('v', n=1, mode=None)\n"
			   "t('v', n=1, mode='slow')\n",
		      "RuntimeError: " BAD_ARGS "$.mode: not one of the allowed values\n"
		      "RuntimeError: " BAD_ARGS "$.mode: not one of the allowed values\n"
		      "RuntimeError: " BAD_ARGS "$.mode: not one of the allowed values\n"
		      "ok {'n': 1, 'mode': 'slow'}\n",
		      1, 4);
}
END_TEST

START_TEST(schema_minimum_maximum)
{
	expect_schema(PY_T "t('v', n=0)\n"
			   "t('v', n=-5)\n"
			   "t('v', n=11)\n"
			   "t('v', n=1)\n"
			   "t('v', n=10)\n",
		      "RuntimeError: " BAD_ARGS "$.n: 0 is below the minimum 1\n"
		      "RuntimeError: " BAD_ARGS "$.n: -5 is below the minimum 1\n"
		      "RuntimeError: " BAD_ARGS "$.n: 11 is above the maximum 10\n"
		      "ok {'n': 1}\n"
		      "ok {'n': 10}\n",
		      2, 5);
}
END_TEST

START_TEST(schema_min_max_length)
{
	/* Lengths count characters, not bytes: four 2-byte characters fit in maxLength 4. */
	expect_schema(PY_T "t('v', n=1, s='a')\n"
			   "t('v', n=1, s='abcde')\n"
			   "t('v', n=1, s='\\u00e9')\n"
			   "t('v', n=1, s='\\u00e9' * 5)\n"
			   "t('v', n=1, s='ab')\n"
			   "t('v', n=1, s='\\u00e9' * 4)\n",
		      "RuntimeError: " BAD_ARGS "$.s: shorter than 2 characters\n"
		      "RuntimeError: " BAD_ARGS "$.s: longer than 4 characters\n"
		      "RuntimeError: " BAD_ARGS "$.s: shorter than 2 characters\n"
		      "RuntimeError: " BAD_ARGS "$.s: longer than 4 characters\n"
		      "ok {'n': 1, 's': 'ab'}\n"
		      "ok {'n': 1, 's': '\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9'}\n",
		      2, 6);
}
END_TEST

START_TEST(schema_items_type)
{
	expect_schema(PY_T "t('v', n=1, tags=['a', 1])\n"
			   "t('v', n=1, tags=[None])\n"
			   "t('v', n=1, tags=['a', 'b', ['c']])\n"
			   "t('v', n=1, tags=[])\n"
			   "t('v', n=1, tags=['x', 'y'])\n",
		      "RuntimeError: " BAD_ARGS "$.tags[1]: expected string, got integer\n"
		      "RuntimeError: " BAD_ARGS "$.tags[0]: expected string, got null\n"
		      "RuntimeError: " BAD_ARGS "$.tags[2]: expected string, got array\n"
		      "ok {'n': 1, 'tags': []}\n"
		      "ok {'n': 1, 'tags': ['x', 'y']}\n",
		      2, 5);
}
END_TEST

START_TEST(schema_nested_path)
{
	expect_schema(PY_T "t('v', n=1, a={'b': [1, 'x']})\n"
			   "t('v', n=1, a={'b': [1, 2, 3.5]})\n"
			   "t('v', n=1, a={'b': 'no'})\n"
			   "t('v', n=1, a=[])\n"
			   "t('v', n=1, a={'b': [1, 2]})\n",
		      "RuntimeError: " BAD_ARGS "$.a.b[1]: expected integer, got string\n"
		      "RuntimeError: " BAD_ARGS "$.a.b[2]: expected integer, got number\n"
		      "RuntimeError: " BAD_ARGS "$.a.b: expected array, got string\n"
		      "RuntimeError: " BAD_ARGS "$.a: expected object, got array\n"
		      "ok {'n': 1, 'a': {'b': [1, 2]}}\n",
		      1, 5);
}
END_TEST

START_TEST(callback_error_message)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	struct cact_result *r;
	char *want = NULL;

	add_cb(req, "boom", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_fail,
	       "disk on fire: sector 42 \xc3\xa9");
	add_cb(req, "quiet", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_fail, NULL);
	ck_assert_int_ge(
		asprintf(&want,
			 "RuntimeError: tool 'boom' failed: disk on fire: sector 42 \xc3\xa9\n"
			 "RuntimeError: tool 'quiet' failed: %s\n"
			 "after\n",
			 cact_strerror(CACT_ENOENT)),
		0);
	r = expect_ok(rt, req, PY_T "t('boom', x=1)\nt('quiet')\nprint('after')\n", want);
	ck_assert_int_eq(atomic_load(&g_calls), 2);
	cact_result_free(r);
	/* Uncaught, it is the execution's error. */
	r = run_code(rt, req, "call_tool('boom')\n");
	t_assert_status(r, CACT_STATUS_PYTHON_ERROR);
	ck_assert_str_eq(cact_result_error_type(r), "RuntimeError");
	ck_assert_str_eq(cact_result_error_message(r),
			 "tool 'boom' failed: disk on fire: sector 42 \xc3\xa9");
	assert_contains(cact_result_error_traceback(r), "call_tool('boom')");
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
	free(want);
}
END_TEST

START_TEST(callback_invalid_json)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	struct cact_result *r;

	add_const(req, "broken", "{not json");
	add_const(req, "two", "1 2");
	add_const(req, "blank", "");
	add_cb(req, "none", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_no_result, NULL);
	r = expect_ok(rt, req,
		      "for n in ('broken', 'two', 'blank', 'none'):\n"
		      "    try:\n"
		      "        call_tool(n)\n"
		      "        print(n, 'returned')\n"
		      "    except RuntimeError as e:\n"
		      "        print(n, str(e).split(':')[0] + ':' + str(e).split(':')[1])\n",
		      "broken tool 'broken' failed: the handler returned something that is not one "
		      "JSON value\n"
		      "two tool 'two' failed: the handler returned something that is not one JSON "
		      "value\n"
		      "blank tool 'blank' failed: the handler returned something that is not one "
		      "JSON value\n"
		      "none tool 'none' failed: the handler returned no result\n");
	ck_assert_int_eq(atomic_load(&g_calls), 4);
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(command_exit_status_stderr)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	struct cact_result *r;

	add_sh_to_code(req, "city",
		       "cat >/dev/null; echo '{\"partial\": 1}'; echo 'no such city: Atlantis' "
		       ">&2; exit 3");
	add_sh_to_code(req, "silent", "cat >/dev/null; exit 1");
	add_sh_to_code(req, "signal", "cat >/dev/null; echo 'about to die' >&2; kill -TERM $$");
	r = expect_ok(rt, req, PY_T "t('city', name='Atlantis')\nt('silent')\nt('signal')\n",
		      "RuntimeError: tool 'city' failed: exit status 3: no such city: Atlantis\n"
		      "RuntimeError: tool 'silent' failed: exit status 1: (nothing on stderr)\n"
		      "RuntimeError: tool 'signal' failed: killed by SIGTERM: about to die\n");
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(command_closing_stdin_early)
{
	/* A program that exits without reading its input: the host gets EPIPE, not SIGPIPE. */
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	struct cact_result *r;

	ck_assert_int_eq(cact_request_set_limit(req, CACT_LIMIT_TOOL_ARGS_BYTES, 2u << 20, NULL),
			 0);
	add_sh(req, "deaf", "exit 0", NULL, 0);
	r = expect_ok(rt, req,
		      "try:\n"
		      "    call_tool('deaf', blob='x' * 1500000)\n"
		      "except RuntimeError as e:\n"
		      "    print('failed:', 'printed no JSON value' in str(e))\n",
		      "failed: True\n");
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(command_stderr_first_4k)
{
	/* The reason is the first 4 KiB of stderr: all of it, and nothing after it. */
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	struct cact_result *r;

	add_sh_to_code(req, "noisy",
		       "cat >/dev/null; head -c 4096 /dev/zero | tr '\\0' a >&2; "
		       "head -c 3000 /dev/zero | tr '\\0' Z >&2; exit 2");
	r = expect_ok(rt, req,
		      "try:\n"
		      "    call_tool('noisy')\n"
		      "except RuntimeError as e:\n"
		      "    m = str(e)\n"
		      "    p = \"tool 'noisy' failed: exit status 2: \"\n"
		      "    print(m.startswith(p), m.count('a') - p.count('a'), m.count('Z'))\n",
		      "True 4096 0\n");
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(command_not_one_json_value)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	struct cact_result *r;

	add_sh(req, "nothing", "cat >/dev/null", NULL, 0);
	add_sh(req, "two", "cat >/dev/null; echo '{\"a\": 1}'; echo '{\"b\": 2}'", NULL, 0);
	add_sh(req, "text", "cat >/dev/null; echo hello", NULL, 0);
	add_sh(req, "spaced", "cat >/dev/null; printf '\\n  [1, 2]  \\n\\n'", NULL, 0);
	r = expect_ok(rt, req,
		      "for n in ('nothing', 'two', 'text', 'spaced'):\n"
		      "    try:\n"
		      "        print(n, call_tool(n))\n"
		      "    except RuntimeError as e:\n"
		      "        print(n, str(e).split(':')[0] + ':' + str(e).split(':')[1])\n",
		      "nothing tool 'nothing' failed: printed no JSON value on stdout\n"
		      "two tool 'two' failed: printed no JSON value on stdout\n"
		      "text tool 'text' failed: printed no JSON value on stdout\n"
		      "spaced [1, 2]\n");
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(command_timeout_then_ok)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	char *dir = t_tmpdir(), *pidfile = NULL;
	struct cact_result *r;
	uint64_t t0;

	ck_assert_int_ge(asprintf(&pidfile, "%s/pid", dir), 0);
	add_sh(req, "slow", "cat >/dev/null; sleep 30 & echo $! > \"$0\"; wait", pidfile, 300);
	add_cb(req, "echo", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_echo, NULL);
	t0 = now_ms();
	r = expect_ok(rt, req,
		      "import time\n"
		      "t0 = time.monotonic()\n"
		      "try:\n"
		      "    call_tool('slow')\n"
		      "except RuntimeError as e:\n"
		      "    print(e)\n"
		      "d = time.monotonic() - t0\n"
		      "print(0.25 < d < 3, call_tool('echo', after=True))\n",
		      "tool 'slow' failed: timed out after 300 ms\nTrue {'after': True}\n");
	ck_assert_msg(now_ms() - t0 < 10000, "the run took %llu ms",
		      (unsigned long long)(now_ms() - t0));
	ck_assert_uint_eq(tool_calls_of(r), 2);
	assert_pid_gone(pidfile);
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
	t_rmtree(dir);
	free(dir);
	free(pidfile);
}
END_TEST

START_TEST(callback_past_wall_clock)
{
	/* Time in a tool is the execution's time: the wall-clock limit ends it. */
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	struct cact_result *r;
	struct cact_stats st;
	uint64_t t0;

	add_cb(req, "slow", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_sleep, (void *)(intptr_t)2500);
	set_limit(req, CACT_LIMIT_TIMEOUT_MS, 1000);
	t0 = now_ms();
	r = run_code(rt, req,
		     "print('calling', flush=True)\n"
		     "call_tool('slow')\n"
		     "print('returned')\n");
	t_assert_status(r, CACT_STATUS_TIMEOUT);
	assert_out(r, "calling\n");
	assert_contains(cact_result_error_message(r), "wall-clock");
	ck_assert_int_eq(atomic_load(&g_calls), 1);
	cact_result_stats(r, &st);
	ck_assert_uint_eq(st.tool_calls, 1);
	ck_assert_msg(st.cpu_us < 1000000, "cpu %llu us", (unsigned long long)st.cpu_us);
	ck_assert_msg(now_ms() - t0 < 10000, "the run took %llu ms",
		      (unsigned long long)(now_ms() - t0));
	cact_result_free(r);
	cact_request_free(req);
	host_healthy(rt);
}
END_TEST

START_TEST(timeout_cancels_running_command)
{
	/* A command still running when the execution times out is killed, not waited for. */
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	char *dir = t_tmpdir(), *pidfile = NULL;
	struct cact_result *r;
	uint64_t t0, wall;

	ck_assert_int_ge(asprintf(&pidfile, "%s/pid", dir), 0);
	add_sh(req, "slow", "cat >/dev/null; sleep 30 & echo $! > \"$0\"; wait", pidfile, 60000);
	set_limit(req, CACT_LIMIT_TIMEOUT_MS, 1500);
	t0 = now_ms();
	r = run_code(rt, req, "print('calling', flush=True)\ncall_tool('slow')\nprint('back')\n");
	wall = now_ms() - t0;
	t_assert_status(r, CACT_STATUS_TIMEOUT);
	assert_out(r, "calling\n");
	ck_assert_msg(wall < 1500 + 3000, "the 1.5 s execution took %llu ms",
		      (unsigned long long)wall);
	ck_assert_uint_eq(tool_calls_of(r), 1);
	assert_pid_gone(pidfile);
	cact_result_free(r);
	cact_request_free(req);
	host_healthy(rt);
	t_rmtree(dir);
	free(dir);
	free(pidfile);
}
END_TEST

/* ================= guest-side checks ================= */

START_TEST(positional_args_type_error)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	struct cact_result *r;

	add_cb(req, "echo", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_echo, NULL);
	r = expect_ok(rt, req,
		      PY_T "t('echo', 1)\n"
			   "t('echo', 1, 2, x=3)\n"
			   "t(5, x=1)\n",
		      "TypeError: call_tool() takes the tool name, then keyword arguments only: "
		      "call_tool('echo', a=1, b=2); got 1 positional argument(s) after the name\n"
		      "TypeError: call_tool() takes the tool name, then keyword arguments only: "
		      "call_tool('echo', a=1, b=2); got 2 positional argument(s) after the name\n"
		      "TypeError: call_tool(): the tool name must be a str, not int\n");
	ck_assert_uint_eq(tool_calls_of(r), 0);
	ck_assert_int_eq(atomic_load(&g_calls), 0);
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(non_json_args_type_error)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	struct cact_result *r;

	add_cb(req, "echo", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_echo, NULL);
	r = expect_ok(rt, req,
		      "for v in (object(), float('nan'), float('inf'), {1, 2}, b'x', 1j):\n"
		      "    try:\n"
		      "        call_tool('echo', v=v)\n"
		      "        print('sent')\n"
		      "    except TypeError as e:\n"
		      "        print('TypeError', str(e).startswith(\"call_tool('echo'): arguments "
		      "must be JSON values (dict, list, str, int, float, bool, None): \"))\n"
		      "print(call_tool('echo', v=(1, 2)))\n",
		      "TypeError True\nTypeError True\nTypeError True\nTypeError True\n"
		      "TypeError True\nTypeError True\n{'v': [1, 2]}\n");
	ck_assert_uint_eq(tool_calls_of(r), 1);
	ck_assert_int_eq(atomic_load(&g_calls), 1);
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

/* ================= caps ================= */

START_TEST(args_over_cap)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	struct cact_result *r;

	add_cb(req, "echo", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_echo, NULL);
	set_limit(req, CACT_LIMIT_TOOL_ARGS_BYTES, 1024);
	r = expect_ok(rt, req,
		      PY_T "t('echo', s='a' * 5000)\n"
			   "print(len(call_tool('echo', s='b' * 500)['s']))\n",
		      "RuntimeError: tool 'echo' failed: the arguments are larger than 1024 bytes\n"
		      "500\n");
	ck_assert_uint_eq(tool_calls_of(r), 2);
	ck_assert_int_eq(atomic_load(&g_calls), 1);
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(args_cap_boundary)
{
	/*
	 * The cap is on the arguments as JSON ({"s":"..."} is the string plus
	 * 8 bytes, compact): 1024 bytes pass, 1025 and 1100 do not.
	 */
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	struct cact_result *r;

	add_cb(req, "echo", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_echo, NULL);
	set_limit(req, CACT_LIMIT_TOOL_ARGS_BYTES, 1024);
	r = expect_ok(rt, req,
		      PY_T "for n in (1016, 1017, 1092):\n"
			   "    try:\n"
			   "        print(len(call_tool('echo', s='a' * n)['s']))\n"
			   "    except RuntimeError as e:\n"
			   "        print(e)\n",
		      "1016\n"
		      "tool 'echo' failed: the arguments are larger than 1024 bytes\n"
		      "tool 'echo' failed: the arguments are larger than 1024 bytes\n");
	ck_assert_int_eq(atomic_load(&g_calls), 1);
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(args_cap_raised)
{
	/* The cap is configurable upwards too: 1.5 MiB of arguments under a 2 MiB cap. */
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	struct cact_result *r;

	add_cb(req, "echo", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_echo, NULL);
	set_limit(req, CACT_LIMIT_TOOL_ARGS_BYTES, 2 * MIB);
	set_limit(req, CACT_LIMIT_TOOL_RESULT_BYTES, 3 * MIB);
	r = expect_ok(rt, req,
		      PY_T "try:\n"
			   "    print(len(call_tool('echo', s='a' * 1500000)['s']))\n"
			   "except Exception as e:\n"
			   "    print(type(e).__name__, e)\n",
		      "1500000\n");
	ck_assert_int_eq(atomic_load(&g_calls), 1);
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(result_over_cap)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	struct cact_result *r;

	/* "x" * 1022 with its quotes is 1024 bytes, exactly the cap. */
	add_cb(req, "fits", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_big, (void *)(intptr_t)1022);
	add_cb(req, "over", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_big, (void *)(intptr_t)1023);
	add_cb(req, "huge", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_big, (void *)(intptr_t)100000);
	add_sh(req, "cmd",
	       "cat >/dev/null; printf '\"'; head -c 5000 /dev/zero | tr '\\0' a; "
	       "printf '\"'",
	       NULL, 0);
	set_limit(req, CACT_LIMIT_TOOL_RESULT_BYTES, 1024);
	r = expect_ok(rt, req,
		      PY_T "print(len(call_tool('fits')))\n"
			   "t('over')\n"
			   "t('huge')\n"
			   "t('cmd')\n",
		      "1022\n"
		      "RuntimeError: tool 'over' failed: result is larger than 1024 bytes\n"
		      "RuntimeError: tool 'huge' failed: result is larger than 1024 bytes\n"
		      "RuntimeError: tool 'cmd' failed: result is larger than 1024 bytes\n");
	ck_assert_uint_eq(tool_calls_of(r), 4);
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(result_default_cap_and_raised)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	struct cact_result *r;

	add_cb(req, "big", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_big, (void *)(intptr_t)2000000);
	r = expect_ok(rt, req, PY_T "t('big')\n",
		      "RuntimeError: tool 'big' failed: result is larger than 1048576 bytes\n");
	cact_result_free(r);
	set_limit(req, CACT_LIMIT_TOOL_RESULT_BYTES, 3 * MIB);
	r = expect_ok(rt, req, "v = call_tool('big')\nprint(len(v), v == 'x' * 2000000)\n",
		      "2000000 True\n");
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(call_limit)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	struct cact_result *r;

	add_cb(req, "echo", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_echo, NULL);
	set_limit(req, CACT_LIMIT_TOOL_CALLS, 5);
	r = expect_ok(
		rt, req,
		PY_T "for i in range(7):\n"
		     "    t('echo', i=i)\n",
		"ok {'i': 0}\nok {'i': 1}\nok {'i': 2}\nok {'i': 3}\nok {'i': 4}\n"
		"RuntimeError: tool 'echo' failed: the limit of 5 tool calls per execution is "
		"reached\n"
		"RuntimeError: tool 'echo' failed: the limit of 5 tool calls per execution is "
		"reached\n");
	ck_assert_uint_eq(tool_calls_of(r), 7);
	ck_assert_int_eq(atomic_load(&g_calls), 5);
	cact_result_free(r);
	/* The count is per execution: the next run starts from zero. */
	r = expect_ok(rt, req, "print(call_tool('echo', again=1))\n", "{'again': 1}\n");
	ck_assert_uint_eq(tool_calls_of(r), 1);
	cact_result_free(r);
	set_limit(req, CACT_LIMIT_TOOL_CALLS, 0);
	r = expect_ok(
		rt, req, PY_T "t('echo')\n",
		"RuntimeError: tool 'echo' failed: the limit of 0 tool calls per execution is "
		"reached\n");
	ck_assert_int_eq(atomic_load(&g_calls), 6);
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

/* ================= concurrency ================= */

START_TEST(concurrent_thread_pool)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	struct cact_result *r;

	add_cb(req, "square", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_square, NULL);
	r = expect_ok(rt, req,
		      "from concurrent.futures import ThreadPoolExecutor\n"
		      "with ThreadPoolExecutor(8) as ex:\n"
		      "    res = list(ex.map(lambda i: call_tool('square', i=i), range(50)))\n"
		      "print(all(r == {'i': i, 'sq': i * i} for i, r in enumerate(res)))\n"
		      "print(len(res), len({r['i'] for r in res}))\n",
		      "True\n50 50\n");
	ck_assert_uint_eq(tool_calls_of(r), 50);
	ck_assert_int_eq(atomic_load(&g_calls), 50);
	ck_assert_msg(atomic_load(&g_max_active) >= 2 && atomic_load(&g_max_active) <= 8,
		      "%d calls ran at once", atomic_load(&g_max_active));
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(concurrent_asyncio)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	struct cact_result *r;

	add_cb(req, "square", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_square, NULL);
	r = expect_ok(
		rt, req,
		"import asyncio\n"
		"from concurrent.futures import ThreadPoolExecutor\n"
		"async def main():\n"
		"    loop = asyncio.get_running_loop()\n"
		"    with ThreadPoolExecutor(6) as ex:\n"
		"        futs = [loop.run_in_executor(ex, lambda i=i: call_tool('square', i=i))\n"
		"                for i in range(30)]\n"
		"        return await asyncio.gather(*futs)\n"
		"res = asyncio.run(main())\n"
		"print([r['sq'] for r in res] == [i * i for i in range(30)])\n",
		"True\n");
	ck_assert_uint_eq(tool_calls_of(r), 30);
	ck_assert_msg(atomic_load(&g_max_active) >= 2, "%d calls ran at once",
		      atomic_load(&g_max_active));
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(many_threads_beyond_in_flight_cap)
{
	/*
	 * call_tool from 24 threads at once is ordinary code: cact's own guest
	 * side must keep it within the 16 calls in flight the host accepts.
	 */
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	struct cact_result *r;

	add_cb(req, "slow", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_sleep, (void *)(intptr_t)300);
	/* Room for 24 threads' stacks and malloc arenas under the address-space cap. */
	set_limit(req, CACT_LIMIT_MEMORY_BYTES, 4096 * MIB);
	set_limit(req, CACT_LIMIT_TIMEOUT_MS, 20000);
	r = expect_ok(rt, req,
		      "import threading\n"
		      "threading.stack_size(512 * 1024)\n"
		      "b = threading.Barrier(24, timeout=10)\n"
		      "out = []\n"
		      "def work():\n"
		      "    b.wait()\n"
		      "    out.append(call_tool('slow'))\n"
		      "ts = [threading.Thread(target=work, daemon=True) for _ in range(24)]\n"
		      "[t.start() for t in ts]\n"
		      "[t.join() for t in ts]\n"
		      "print(len(out), set(out))\n",
		      "24 {'slept'}\n");
	ck_assert_int_eq(atomic_load(&g_calls), 24);
	ck_assert_int_le(atomic_load(&g_max_active), 16);
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

/* ================= per-call approval ================= */

static struct cact_request *approval_req(int per_call, cact_approval_fn fn, int decision)
{
	struct cact_request *req = req_new();

	add_cb(req, "deploy", NULL, CACT_APPROVAL_ALWAYS_REQUIRE, cb_echo, NULL);
	cact_request_set_approval(req, per_call, fn, (void *)(intptr_t)decision);
	return req;
}

START_TEST(approval_approved)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = approval_req(1, approve_fn, 1);
	struct cact_result *r;

	r = expect_ok(rt, req, PY_T "t('deploy', env='prod', n=3, tags=['a\\u00e9'])\n",
		      "ok {'env': 'prod', 'n': 3, 'tags': ['a\xc3\xa9']}\n");
	ck_assert_int_eq(atomic_load(&g_approvals), 1);
	ck_assert_str_eq(g_appr_name, "deploy");
	ck_assert_str_eq(g_appr_args, "{\"env\":\"prod\",\"n\":3,\"tags\":[\"a\xc3\xa9\"]}");
	ck_assert_int_eq(atomic_load(&g_calls), 1);
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(approval_denied)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = approval_req(1, approve_fn, 0);
	struct cact_result *r;

	r = expect_ok(rt, req,
		      PY_T "t('deploy', env='prod')\n"
			   "try:\n"
			   "    call_tool('deploy', env='dev')\n"
			   "except RuntimeError:\n"
			   "    print('RuntimeError')\n"
			   "except PermissionError:\n"
			   "    print('PermissionError')\n",
		      "PermissionError: tool 'deploy': the call was not approved\n"
		      "PermissionError\n");
	ck_assert_int_eq(atomic_load(&g_approvals), 2);
	ck_assert_str_eq(g_appr_args, "{\"env\":\"dev\"}");
	ck_assert_int_eq(atomic_load(&g_calls), 0);
	ck_assert_uint_eq(tool_calls_of(r), 2);
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(approval_without_fn_denies)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = approval_req(1, NULL, 1);
	struct cact_result *r;

	r = expect_ok(rt, req, PY_T "t('deploy', env='prod')\n",
		      "PermissionError: tool 'deploy': the call was not approved\n");
	ck_assert_int_eq(atomic_load(&g_calls), 0);
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(approval_off_runs_without_asking)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = approval_req(0, approve_fn, 0);
	struct cact_result *r;

	r = expect_ok(rt, req, PY_T "t('deploy', env='prod')\n", "ok {'env': 'prod'}\n");
	ck_assert_int_eq(atomic_load(&g_approvals), 0);
	ck_assert_int_eq(atomic_load(&g_calls), 1);
	cact_result_free(r);
	cact_request_free(req);
	/* The default (never set) is the same. */
	req = req_new();
	add_cb(req, "deploy", NULL, CACT_APPROVAL_ALWAYS_REQUIRE, cb_echo, NULL);
	r = expect_ok(rt, req, PY_T "t('deploy', env='x')\n", "ok {'env': 'x'}\n");
	ck_assert_int_eq(atomic_load(&g_approvals), 0);
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(approval_per_call_skips_never_require)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = approval_req(1, approve_fn, 0);
	struct cact_result *r;

	add_cb(req, "read", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_echo, NULL);
	r = expect_ok(rt, req, PY_T "t('read', path='a')\nt('deploy')\n",
		      "ok {'path': 'a'}\n"
		      "PermissionError: tool 'deploy': the call was not approved\n");
	ck_assert_int_eq(atomic_load(&g_approvals), 1);
	ck_assert_str_eq(g_appr_name, "deploy");
	ck_assert_str_eq(g_appr_args, "{}");
	ck_assert_int_eq(atomic_load(&g_calls), 1);
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

/* ================= stats ================= */

START_TEST(stats_tool_calls_and_time)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	struct cact_result *r;
	struct cact_stats st;

	add_cb(req, "slow", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_sleep, (void *)(intptr_t)200);
	r = expect_ok(rt, req, PY_T "t('slow')\nt('slow')\nt('slow')\nt('missing')\n",
		      "ok 'slept'\nok 'slept'\nok 'slept'\n"
		      "RuntimeError: tool 'missing' failed: unknown tool (available: slow)\n");
	cact_result_stats(r, &st);
	ck_assert_uint_eq(st.tool_calls, 4);
	ck_assert_msg(st.tool_us >= 600000 && st.tool_us < 600000 + 500000, "tool_us %llu",
		      (unsigned long long)st.tool_us);
	ck_assert_msg(st.tool_us <= st.wall_us, "tool_us %llu > wall_us %llu",
		      (unsigned long long)st.tool_us, (unsigned long long)st.wall_us);
	cact_result_free(r);
	r = expect_ok(rt, req, "print('no calls')\n", "no calls\n");
	cact_result_stats(r, &st);
	ck_assert_uint_eq(st.tool_calls, 0);
	ck_assert_uint_eq(st.tool_us, 0);
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

/* ================= hostile frames on the wire ================= */

/* Runs code (with tools "echo" and "slow" there), expects a protocol violation naming needle. */
static void expect_violation(const char *code, const char *needle)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	struct cact_result *r;
	uint64_t t0;
	char *full = NULL;

	ck_assert_int_ge(asprintf(&full, "%sprint('writing', flush=True)\n%s", PY_FRAME, code), 0);
	add_cb(req, "echo", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_echo, NULL);
	add_cb(req, "slow", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_sleep, (void *)(intptr_t)300);
	set_limit(req, CACT_LIMIT_TIMEOUT_MS, 15000);
	t0 = now_ms();
	r = run_code(rt, req, full);
	t_assert_status(r, CACT_STATUS_SANDBOX_VIOLATION);
	ck_assert_str_eq(cact_result_error_type(r), "sandbox_violation");
	assert_contains(cact_result_error_message(r), "protocol violation");
	assert_contains(cact_result_error_message(r), needle);
	assert_out(r, "writing\n");
	ck_assert_msg(now_ms() - t0 < 10000, "the violation took %llu ms to end the run",
		      (unsigned long long)(now_ms() - t0));
	cact_result_free(r);
	cact_request_free(req);
	free(full);
	host_healthy(rt);
}

START_TEST(wire_giant_length)
{
	expect_violation("os.write(3, b'\\xff\\xff\\xff\\xff')\n"
			 "time.sleep(60)\n",
			 "over the size cap");
}
END_TEST

START_TEST(wire_truncated_frame_at_exit)
{
	expect_violation("os.write(3, (100).to_bytes(4, 'big') + b'{\"type\": \"tool_call\"')\n"
			 "os._exit(0)\n",
			 "truncated frame");
}
END_TEST

START_TEST(wire_invalid_utf8)
{
	expect_violation("os.write(3, frame(b'{\"type\": \"tool_call\", \"id\": 1, \"name\": "
			 "\"echo\", \"args\": {\"s\": \"\\xff\\xfe\"}}'))\n"
			 "time.sleep(60)\n",
			 "bad frame");
}
END_TEST

START_TEST(wire_deep_nesting)
{
	expect_violation("v = 0\n"
			 "for _ in range(100):\n"
			 "    v = [v]\n"
			 "os.write(3, frame({'type': 'tool_call', 'id': 1, 'name': 'echo',\n"
			 "                   'args': {'a': v}}))\n"
			 "time.sleep(60)\n",
			 "nested deeper than 64");
}
END_TEST

START_TEST(wire_duplicate_keys)
{
	expect_violation("os.write(3, frame(b'{\"type\": \"tool_call\", \"id\": 1, \"id\": 2, "
			 "\"name\": \"echo\", \"args\": {}}'))\n"
			 "time.sleep(60)\n",
			 "duplicate");
}
END_TEST

START_TEST(wire_unknown_type)
{
	expect_violation("os.write(3, frame({'type': 'tool_calls', 'id': 1, 'name': 'echo',\n"
			 "                   'args': {}}))\n"
			 "time.sleep(60)\n",
			 "unknown type");
}
END_TEST

START_TEST(wire_forged_tool_result)
{
	expect_violation("os.write(3, frame({'type': 'tool_result', 'id': 1, 'ok': True,\n"
			 "                   'value': 1}))\n"
			 "time.sleep(60)\n",
			 "unexpected tool_result frame");
}
END_TEST

START_TEST(wire_tool_call_string_id)
{
	expect_violation("os.write(3, frame({'type': 'tool_call', 'id': 'x', 'name': 'echo',\n"
			 "                   'args': {}}))\n"
			 "time.sleep(60)\n",
			 "malformed tool_call frame");
}
END_TEST

START_TEST(wire_tool_call_missing_args)
{
	expect_violation("os.write(3, frame({'type': 'tool_call', 'id': 1, 'name': 'echo'}))\n"
			 "time.sleep(60)\n",
			 "malformed tool_call frame");
}
END_TEST

START_TEST(wire_tool_call_bad_shapes)
{
	/* Each alone is a violation; the first one ends the run. */
	static const char *const bad[] = {
		"{'type': 'tool_call', 'id': 1, 'name': 'echo', 'args': [1]}",
		"{'type': 'tool_call', 'id': -1, 'name': 'echo', 'args': {}}",
		"{'type': 'tool_call', 'id': 1, 'name': 7, 'args': {}}",
		"{'type': 'tool_call', 'id': 1, 'args': {}}",
		"{'type': 'tool_call', 'id': 1.5, 'name': 'echo', 'args': {}}",
		"{'type': 'tool_call', 'id': None, 'name': 'echo', 'args': {}}",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char code[512];

		snprintf(code, sizeof(code), "os.write(3, frame(%s))\ntime.sleep(60)\n", bad[i]);
		expect_violation(code, "malformed tool_call frame");
	}
}
END_TEST

START_TEST(wire_duplicate_in_flight_id)
{
	expect_violation("f = frame({'type': 'tool_call', 'id': 7, 'name': 'slow', 'args': {}})\n"
			 "os.write(3, f + f)\n"
			 "time.sleep(60)\n",
			 "tool_call id 7 is already in flight");
}
END_TEST

START_TEST(wire_seventeen_in_flight)
{
	expect_violation(
		"os.write(3, b''.join(frame({'type': 'tool_call', 'id': i, 'name': 'slow',\n"
		"                             'args': {}}) for i in range(1, 18)))\n"
		"time.sleep(60)\n",
		"more than 16 tool calls in flight");
}
END_TEST

START_TEST(wire_sixteen_in_flight_ok)
{
	/* Sixteen raw calls at once are within the protocol; their answers come back. */
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	struct cact_result *r;

	add_cb(req, "slow", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_sleep, (void *)(intptr_t)300);
	r = expect_ok(rt, req,
		      PY_FRAME "os.write(3, b''.join(frame({'type': 'tool_call', 'id': 100 + i,\n"
			       "    'name': 'slow', 'args': {'i': i}}) for i in range(16)))\n"
			       "got = sorted((m['id'], m['type'], m['ok'], m['value'])\n"
			       "             for m in (reply() for _ in range(16)))\n"
			       "print(got == [(100 + i, 'tool_result', True, 'slept') for i in "
			       "range(16)])\n",
		      "True\n");
	ck_assert_int_eq(atomic_load(&g_calls), 16);
	ck_assert_int_eq(atomic_load(&g_max_active), 16);
	ck_assert_uint_eq(tool_calls_of(r), 16);
	cact_result_free(r);
	cact_request_free(req);
	host_healthy(rt);
}
END_TEST

START_TEST(wire_id_reused_after_answer_ok)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	struct cact_result *r;

	add_cb(req, "echo", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_echo, NULL);
	r = expect_ok(rt, req,
		      PY_FRAME
		      "for k in range(3):\n"
		      "    os.write(3, frame({'type': 'tool_call', 'id': 7, 'name': 'echo',\n"
		      "                       'args': {'k': k}}))\n"
		      "    m = reply()\n"
		      "    print(m['id'], m['ok'], m['value'])\n"
		      "os.write(3, frame({'type': 'tool_call', 'id': 8, 'name': 'nope', "
		      "'args': {}}))\n"
		      "m = reply()\n"
		      "print(m['id'], m['ok'], m['denied'], m['error'])\n",
		      "7 True {'k': 0}\n7 True {'k': 1}\n7 True {'k': 2}\n"
		      "8 False False unknown tool (available: echo)\n");
	ck_assert_uint_eq(tool_calls_of(r), 4);
	cact_result_free(r);
	cact_request_free(req);
	host_healthy(rt);
}
END_TEST

/* ================= the end of an execution; a failing command's stderr ================= */

/* Answers yes, 3 s late: a question nobody answers before the deadline. */
static int approve_late(void *user, const char *name, const char *args)
{
	(void)user;
	(void)name;
	(void)args;
	atomic_fetch_add(&g_approvals, 1);
	enter();
	sleep_ms(3000);
	leave();
	return 1;
}

/* Waits up to 6 s for every handler and approval of the case to return. */
static void await_handlers(void)
{
	uint64_t deadline = now_ms() + 6000;

	while (atomic_load(&g_active) > 0 && now_ms() < deadline)
		sleep_ms(20);
	ck_assert_msg(atomic_load(&g_active) == 0, "a handler is still running");
	sleep_ms(200); /* what a left thread does after its callback */
}

START_TEST(stuck_callback_left_at_end)
{
	/* A callback cannot be cancelled: the end of the execution waits 100 ms for it, not 3 s. */
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_new();
	struct cact_result *r;
	uint64_t t0, wall;

	add_cb(req, "stuck", NULL, CACT_APPROVAL_NEVER_REQUIRE, cb_sleep, (void *)(intptr_t)3000);
	set_limit(req, CACT_LIMIT_TIMEOUT_MS, 1000);
	t0 = now_ms();
	r = run_code(rt, req, "print('calling', flush=True)\ncall_tool('stuck')\nprint('back')\n");
	wall = now_ms() - t0;
	t_assert_status(r, CACT_STATUS_TIMEOUT);
	assert_out(r, "calling\n");
	ck_assert_msg(wall < 2200, "the 1 s execution returned after %llu ms",
		      (unsigned long long)wall);
	ck_assert_uint_eq(tool_calls_of(r), 1);
	cact_result_free(r);
	/* The request goes; the left thread's reference keeps the tool until it returns. */
	cact_request_free(req);
	await_handlers();
	ck_assert_int_eq(atomic_load(&g_calls), 1);
	host_healthy(rt);
}
END_TEST

START_TEST(stuck_approval_left_at_end)
{
	/* An approval answered after the end runs nothing, and is not waited for. */
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = approval_req(1, approve_late, 1);
	struct cact_result *r;
	uint64_t t0, wall;

	set_limit(req, CACT_LIMIT_TIMEOUT_MS, 1000);
	t0 = now_ms();
	r = run_code(rt, req, "print('asking', flush=True)\ncall_tool('deploy')\nprint('back')\n");
	wall = now_ms() - t0;
	t_assert_status(r, CACT_STATUS_TIMEOUT);
	assert_out(r, "asking\n");
	ck_assert_msg(wall < 2200, "the 1 s execution returned after %llu ms",
		      (unsigned long long)wall);
	cact_result_free(r);
	cact_request_free(req);
	await_handlers();
	ck_assert_int_eq(atomic_load(&g_approvals), 1);
	ck_assert_int_eq(atomic_load(&g_calls), 0);
	host_healthy(rt);
}
END_TEST

START_TEST(command_stderr_to_log_not_code)
{
	/*
	 * By default the code learns the exit status only and the stderr goes
	 * to cact's log (the CLI's stderr), escapes neutralised; with
	 * "stderr_to_code": true in the config it is the reason again.
	 */
	char *dir = t_tmpdir(), *cfg, *out = NULL, *err = NULL;
	const char *argv[] = {"exec", "--config", NULL, "-c", NULL, NULL};
	int rc;

	t_write(dir, "fail.sh",
		"#!/bin/sh\ncat >/dev/null\necho 'db at 10.1.2.3 said: token=s3cr3t' >&2\n"
		"printf 'bell\\007 \\033[2Jcleared\\n' >&2\nexit 3\n");
	t_write(dir, "cfg.json",
		"{\"tools\": [{\"name\": \"quiet\", \"command\": [\"/bin/sh\", \"fail.sh\"]},\n"
		"  {\"name\": \"open\", \"command\": [\"/bin/sh\", \"fail.sh\"],\n"
		"   \"stderr_to_code\": true}]}\n");
	cfg = t_fmt("%s/cfg.json", dir);
	argv[2] = cfg;
	argv[4] = "for n in ('quiet', 'open'):\n"
		  "    try:\n"
		  "        call_tool(n)\n"
		  "    except RuntimeError as e:\n"
		  "        print(n, 's3cr3t' in str(e), str(e).splitlines()[0])\n";
	rc = t_cli(argv, NULL, &out, &err);
	ck_assert_msg(rc == 0, "exit %d\nstdout: %s\nstderr: %s", rc, out, err);
	ck_assert_msg(strncmp(out,
			      "quiet False tool 'quiet' failed: exit status 3 (its stderr went to "
			      "the host's log)\n"
			      "open True tool 'open' failed: exit status 3: db at 10.1.2.3 said: "
			      "token=s3cr3t",
			      strlen("quiet False tool 'quiet' failed: exit status 3 (its stderr "
				     "went to the host's log)\nopen True tool 'open' failed: exit "
				     "status 3: db at 10.1.2.3 said: token=s3cr3t")) == 0,
		      "stdout:\n%s", out);
	assert_contains(err, "[tool quiet] failed: exit status 3; its stderr:\n"
			     "[tool quiet] db at 10.1.2.3 said: token=s3cr3t\n"
			     "[tool quiet] bell? ?[2Jcleared\n");
	ck_assert_msg(!strstr(err, "[tool open]"), "stderr: %s", err);
	free(out);
	free(err);
	free(cfg);
	t_rmtree(dir);
	free(dir);
}
END_TEST

int main(int argc, char **argv)
{
	const struct t_case cases[] = {
		T_CASE(builtin_and_importable, 60),
		T_CASE(result_int, 60),
		T_CASE(result_big_int, 60),
		T_CASE(result_float, 60),
		T_CASE(result_string_unicode, 60),
		T_CASE(result_string_with_nul, 60),
		T_CASE(nul_in_tool_name_or_key_refused, 60),
		T_CASE(result_bool, 60),
		T_CASE(result_null, 60),
		T_CASE(result_nested, 60),
		T_CASE(callback_args_exact, 60),
		T_CASE(command_sh_result, 60),
		T_CASE(command_python_stdin_cwd_env, 60),
		T_CASE(command_default_cwd_is_callers, 60),
		T_CASE(unknown_tool_lists_available, 60),
		T_CASE(unknown_tool_none_registered, 60),
		T_CASE(schema_wrong_type, 60),
		T_CASE(schema_missing_required, 60),
		T_CASE(schema_additional_property, 60),
		T_CASE(schema_enum, 60),
		T_CASE(schema_minimum_maximum, 60),
		T_CASE(schema_min_max_length, 60),
		T_CASE(schema_items_type, 60),
		T_CASE(schema_nested_path, 60),
		T_CASE(callback_error_message, 60),
		T_CASE(callback_invalid_json, 60),
		T_CASE(command_exit_status_stderr, 60),
		T_CASE(command_closing_stdin_early, 60),
		T_CASE(command_stderr_first_4k, 60),
		T_CASE(command_not_one_json_value, 60),
		T_CASE(command_timeout_then_ok, 60),
		T_CASE(callback_past_wall_clock, 60),
		T_CASE(timeout_cancels_running_command, 60),
		T_CASE(positional_args_type_error, 60),
		T_CASE(non_json_args_type_error, 60),
		T_CASE(args_over_cap, 60),
		T_CASE(args_cap_boundary, 60),
		T_CASE(args_cap_raised, 60),
		T_CASE(result_over_cap, 60),
		T_CASE(result_default_cap_and_raised, 60),
		T_CASE(call_limit, 60),
		T_CASE(concurrent_thread_pool, 60),
		T_CASE(concurrent_asyncio, 60),
		T_CASE(many_threads_beyond_in_flight_cap, 60),
		T_CASE(approval_approved, 60),
		T_CASE(approval_denied, 60),
		T_CASE(approval_without_fn_denies, 60),
		T_CASE(approval_off_runs_without_asking, 60),
		T_CASE(approval_per_call_skips_never_require, 60),
		T_CASE(stats_tool_calls_and_time, 60),
		T_CASE(wire_giant_length, 60),
		T_CASE(wire_truncated_frame_at_exit, 60),
		T_CASE(wire_invalid_utf8, 60),
		T_CASE(wire_deep_nesting, 60),
		T_CASE(wire_duplicate_keys, 60),
		T_CASE(wire_unknown_type, 60),
		T_CASE(wire_forged_tool_result, 60),
		T_CASE(wire_tool_call_string_id, 60),
		T_CASE(wire_tool_call_missing_args, 60),
		T_CASE(wire_tool_call_bad_shapes, 90),
		T_CASE(wire_duplicate_in_flight_id, 60),
		T_CASE(wire_seventeen_in_flight, 60),
		T_CASE(wire_sixteen_in_flight_ok, 60),
		T_CASE(wire_id_reused_after_answer_ok, 60),
		T_CASE(stuck_callback_left_at_end, 60),
		T_CASE(stuck_approval_left_at_end, 60),
		T_CASE(command_stderr_to_log_not_code, 60),
	};

	return t_main("tools", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
