/* SPDX-License-Identifier: MIT */
/* Executions through the real sandbox, by the public API: what the code sees and what comes back. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common.h"

#define MIB (1024ull * 1024)

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A request for code (owned). */
static struct cact_request *req_of(const char *code)
{
	struct cact_request *req = NULL;
	struct cact_error err = {0};

	ck_assert_int_eq(cact_request_new(&req), 0);
	ck_assert_msg(cact_request_set_code(req, code, strlen(code), &err) == 0, "%s", err.message);
	return req;
}

static void set_limit(struct cact_request *req, enum cact_limit l, uint64_t v)
{
	struct cact_error err = {0};

	ck_assert_msg(cact_request_set_limit(req, l, v, &err) == 0, "%s", err.message);
}

#define assert_out(r, want) assert_out_at((r), (want), __LINE__)
static void assert_out_at(const struct cact_result *r, const char *want, int line)
{
	size_t len;
	const char *got = cact_result_stdout(r, &len, NULL);

	ck_assert_msg(len == strlen(want) && memcmp(got, want, len) == 0,
		      "line %d: stdout\n---\n%s---\nexpected\n---\n%s---\nstderr: %s", line, got,
		      want, t_err(r));
}

#define assert_err(r, want) assert_err_at((r), (want), __LINE__)
static void assert_err_at(const struct cact_result *r, const char *want, int line)
{
	size_t len;
	const char *got = cact_result_stderr(r, &len, NULL);

	ck_assert_msg(len == strlen(want) && memcmp(got, want, len) == 0,
		      "line %d: stderr\n---\n%s---\nexpected\n---\n%s---", line, got, want);
}

/* Runs code and expects status ok with exactly want on stdout and nothing on stderr. */
static void expect_ok(struct cact_runtime *rt, const char *code, const char *want)
{
	struct cact_result *r = t_run(rt, code, 60000);

	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_int_eq(cact_result_exit_code(r), 0);
	assert_out(r, want);
	assert_err(r, "");
	ck_assert_ptr_null(cact_result_error_type(r));
	cact_result_free(r);
}

/* Writes text at dir/name (creating folders). */
static void put(const char *dir, const char *name, const char *text)
{
	t_write(dir, name, text);
}

static char *path_join(const char *dir, const char *name)
{
	char *p = NULL;

	ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
	return p;
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 65536);
	size_t n;

	ck_assert_msg(f != NULL, "cannot read %s", path);
	n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

START_TEST(streams_captured_separately)
{
	struct cact_runtime *rt = t_runtime();

	struct cact_result *r = t_run(rt,
				      "import sys\n"
				      "print('out1')\n"
				      "print('err1', file=sys.stderr)\n"
				      "sys.stdout.write('out2\\n')\n"
				      "sys.stderr.write('err2\\n')\n"
				      "print('caf\\u00e9')\n",
				      0);

	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_int_eq(cact_result_exit_code(r), 0);
	assert_out(r, "out1\nout2\ncaf\xc3\xa9\n");
	assert_err(r, "err1\nerr2\n");
	ck_assert_ptr_null(cact_result_error_type(r));
	ck_assert_ptr_null(cact_result_error_message(r));
	ck_assert_ptr_null(cact_result_error_traceback(r));
	cact_result_free(r);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(print_before_os_exit_kept)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_result *r = t_run(rt,
				      "import os, sys\n"
				      "print('before')\n"
				      "sys.stdout.write('no newline')\n"
				      "sys.stderr.write('err tail')\n"
				      "os._exit(0)\n"
				      "print('after')\n",
				      0);

	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_int_eq(cact_result_exit_code(r), 0);
	assert_out(r, "before\nno newline");
	assert_err(r, "err tail");
	cact_result_free(r);
	/* A non-zero os._exit is an error with that code. */
	r = t_run(rt, "import os\nprint('x')\nos._exit(7)\n", 0);
	t_assert_status(r, CACT_STATUS_PYTHON_ERROR);
	ck_assert_int_eq(cact_result_exit_code(r), 7);
	assert_out(r, "x\n");
	cact_result_free(r);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(uncaught_exception)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_result *r = t_run(rt,
				      "x = 1\n"
				      "def divide(a):\n"
				      "    return a / 0\n"
				      "print('start')\n"
				      "divide(x)\n",
				      0);
	const char *tb, *err;

	t_assert_status(r, CACT_STATUS_PYTHON_ERROR);
	ck_assert_int_eq(cact_result_exit_code(r), 1);
	assert_out(r, "start\n");
	ck_assert_str_eq(cact_result_error_type(r), "ZeroDivisionError");
	ck_assert_str_eq(cact_result_error_message(r), "division by zero");
	tb = cact_result_error_traceback(r);
	ck_assert_ptr_nonnull(tb);
	ck_assert_msg(strstr(tb, "Traceback (most recent call last):"), "traceback:\n%s", tb);
	ck_assert_msg(strstr(tb, "File \"<code>\", line 5, in <module>"), "traceback:\n%s", tb);
	ck_assert_msg(strstr(tb, "File \"<code>\", line 3, in divide"), "traceback:\n%s", tb);
	ck_assert_msg(strstr(tb, "divide(x)"), "traceback lacks the source line:\n%s", tb);
	ck_assert_msg(strstr(tb, "return a / 0"), "traceback lacks the source line:\n%s", tb);
	ck_assert_msg(strstr(tb, "ZeroDivisionError: division by zero"), "traceback:\n%s", tb);
	/* The runner's own frames are not shown. */
	ck_assert_msg(!strstr(tb, "_cact_runner") && !strstr(tb, "cact-runner") &&
			      !strstr(tb, "in run\n"),
		      "traceback shows runner frames:\n%s", tb);
	/* The first frame is the code's. */
	ck_assert_msg(strncmp(strstr(tb, "\n") + 1, "  File \"<code>\"", 15) == 0, "traceback:\n%s",
		      tb);
	/* Also on stderr, as python3 would print it. */
	err = t_err(r);
	ck_assert_msg(strstr(err, "ZeroDivisionError: division by zero"), "stderr: %s", err);
	ck_assert_msg(!strstr(err, "_cact_runner"), "stderr: %s", err);
	cact_result_free(r);

	/* An exception class of the code's own, with a chained cause. */
	r = t_run(rt,
		  "class Custom(Exception):\n"
		  "    pass\n"
		  "try:\n"
		  "    {}['k']\n"
		  "except KeyError as e:\n"
		  "    raise Custom('wrapped') from e\n",
		  0);
	t_assert_status(r, CACT_STATUS_PYTHON_ERROR);
	ck_assert_int_eq(cact_result_exit_code(r), 1);
	ck_assert_str_eq(cact_result_error_type(r), "Custom");
	ck_assert_str_eq(cact_result_error_message(r), "wrapped");
	tb = cact_result_error_traceback(r);
	ck_assert_msg(strstr(tb, "KeyError: 'k'") && strstr(tb, "line 6"), "traceback:\n%s", tb);
	ck_assert_msg(!strstr(tb, "_cact_runner"), "traceback:\n%s", tb);
	cact_result_free(r);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(syntax_error_reported)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_result *r = t_run(rt, "print('ok')\nx = (1,\nprint(x\n", 0);
	const char *tb;

	t_assert_status(r, CACT_STATUS_PYTHON_ERROR);
	ck_assert_int_eq(cact_result_exit_code(r), 1);
	ck_assert_str_eq(cact_result_error_type(r), "SyntaxError");
	/* Nothing ran: the code is compiled whole first. */
	assert_out(r, "");
	tb = cact_result_error_traceback(r);
	ck_assert_ptr_nonnull(tb);
	ck_assert_msg(strstr(tb, "SyntaxError") && strstr(tb, "<code>"), "traceback:\n%s", tb);
	ck_assert_msg(!strstr(tb, "_cact_runner"), "traceback:\n%s", tb);
	cact_result_free(r);
	r = t_run(rt, "def f(:\n    pass\n", 0);
	t_assert_status(r, CACT_STATUS_PYTHON_ERROR);
	ck_assert_str_eq(cact_result_error_type(r), "SyntaxError");
	cact_result_free(r);
	r = t_run(rt, "if True:\nprint(1)\n", 0);
	t_assert_status(r, CACT_STATUS_PYTHON_ERROR);
	ck_assert_str_eq(cact_result_error_type(r), "IndentationError");
	cact_result_free(r);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(system_exit_code)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_result *r = t_run(rt, "print('bye')\nraise SystemExit(3)\n", 0);

	t_assert_status(r, CACT_STATUS_PYTHON_ERROR);
	ck_assert_int_eq(cact_result_exit_code(r), 3);
	assert_out(r, "bye\n");
	ck_assert_str_eq(cact_result_error_type(r), "SystemExit");
	cact_result_free(r);
	r = t_run(rt, "import sys\nsys.exit(42)\n", 0);
	t_assert_status(r, CACT_STATUS_PYTHON_ERROR);
	ck_assert_int_eq(cact_result_exit_code(r), 42);
	cact_result_free(r);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(system_exit_zero_is_ok)
{
	struct cact_runtime *rt = t_runtime();

	expect_ok(rt, "import sys\nprint('a')\nsys.exit(0)\nprint('not reached')\n", "a\n");
	expect_ok(rt, "print('b')\nraise SystemExit(None)\n", "b\n");
	expect_ok(rt, "import sys\nsys.exit()\n", "");
	/* exit() in a function, with finally blocks run on the way out. */
	expect_ok(rt,
		  "import sys\n"
		  "def f():\n"
		  "    try:\n"
		  "        sys.exit(0)\n"
		  "    finally:\n"
		  "        print('finally')\n"
		  "f()\n",
		  "finally\n");
	cact_runtime_free(rt);
}
END_TEST

START_TEST(system_exit_message)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_result *r = t_run(rt, "import sys\nsys.exit('fatal: no data')\n", 0);

	t_assert_status(r, CACT_STATUS_PYTHON_ERROR);
	ck_assert_int_eq(cact_result_exit_code(r), 1);
	assert_out(r, "");
	assert_err(r, "fatal: no data\n");
	cact_result_free(r);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(last_expression_shown)
{
	struct cact_runtime *rt = t_runtime();

	expect_ok(rt, "1+1", "2\n");
	expect_ok(rt, "1+1\n", "2\n");
	expect_ok(rt, "None", "");
	expect_ok(rt, "'a'", "'a'\n");
	expect_ok(rt, "x = 5\nx * 2\n", "10\n");
	expect_ok(rt, "[1, 'b', None]", "[1, 'b', None]\n");
	expect_ok(rt, "print('p')", "p\n");
	expect_ok(rt, "for i in range(3):\n    i\n", "");
	expect_ok(rt, "total = 0\nfor i in range(3):\n    total += i\n", "");
	expect_ok(rt, "x = 3", "");
	/* Only the last statement is displayed. */
	expect_ok(rt, "1\n2\n3\n", "3\n");
	expect_ok(rt, "", "");
	cact_runtime_free(rt);
}
END_TEST

START_TEST(main_guard_runs)
{
	struct cact_runtime *rt = t_runtime();

	expect_ok(rt,
		  "def main():\n"
		  "    print('in main', __name__)\n"
		  "if __name__ == \"__main__\":\n"
		  "    main()\n",
		  "in main __main__\n");
	cact_runtime_free(rt);
}
END_TEST

START_TEST(fresh_globals_each_run)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_result *r;

	expect_ok(rt,
		  "leak = 42\n"
		  "import json\n"
		  "json.leaked = True\n"
		  "import sys\n"
		  "sys.leaked = True\n"
		  "print(leak)\n",
		  "42\n");
	r = t_run(rt, "print(leak)\n", 0);
	t_assert_status(r, CACT_STATUS_PYTHON_ERROR);
	ck_assert_str_eq(cact_result_error_type(r), "NameError");
	ck_assert_msg(strstr(cact_result_error_message(r), "leak"), "%s",
		      cact_result_error_message(r));
	cact_result_free(r);
	/* Module state does not carry over either. */
	expect_ok(rt, "import json, sys\nprint(hasattr(json, 'leaked'), hasattr(sys, 'leaked'))\n",
		  "False False\n");
	cact_runtime_free(rt);
}
END_TEST

START_TEST(random_differs_across_runs)
{
	struct cact_runtime *rt = t_runtime();
	const char *code = "import random, os, uuid\n"
			   "print(random.random())\n"
			   "print(os.urandom(16).hex())\n"
			   "print(uuid.uuid4())\n";
	char a[3][128], b[3][128];
	struct cact_result *r1 = t_run(rt, code, 0), *r2 = t_run(rt, code, 0);
	int i;

	t_assert_status(r1, CACT_STATUS_OK);
	t_assert_status(r2, CACT_STATUS_OK);
	ck_assert_int_eq(sscanf(t_out(r1), "%127s %127s %127s", a[0], a[1], a[2]), 3);
	ck_assert_int_eq(sscanf(t_out(r2), "%127s %127s %127s", b[0], b[1], b[2]), 3);
	for (i = 0; i < 3; i++)
		ck_assert_msg(strcmp(a[i], b[i]) != 0, "line %d is the same in both runs: %s",
			      i + 1, a[i]);
	cact_result_free(r1);
	cact_result_free(r2);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(stdout_cap_truncates)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_of("import sys\n"
					  "sys.stdout.write('x' * 100000)\n"
					  "_ = sys.stderr.write('e' * 3000)\n");
	struct cact_result *r;
	const char *out, *marker = "\n[... output truncated by cact";
	size_t len, i;
	int trunc = -1;

	set_limit(req, CACT_LIMIT_STDOUT_BYTES, 4096);
	set_limit(req, CACT_LIMIT_STDERR_BYTES, 2048);
	r = t_run_req(rt, req);
	/* 100 KB is more than 16 times the cap: the run may be stopped for flooding. */
	ck_assert_msg(cact_result_status(r) == CACT_STATUS_OK ||
			      cact_result_status(r) == CACT_STATUS_OUTPUT_LIMIT,
		      "status %s", cact_status_name(cact_result_status(r)));
	out = cact_result_stdout(r, &len, &trunc);
	ck_assert_int_eq(trunc, 1);
	ck_assert_uint_ge(len, 4096 + strlen(marker));
	ck_assert_uint_le(len, 4096 + 128);
	for (i = 0; i < 4096; i++)
		ck_assert_msg(out[i] == 'x', "byte %zu is %d", i, out[i]);
	ck_assert_msg(memcmp(out + 4096, marker, strlen(marker)) == 0, "stdout tail: %s",
		      out + 4096);
	ck_assert_int_eq(out[len - 1], '\n');
	ck_assert_uint_eq(strlen(out), len);
	cact_result_free(r);
	cact_request_free(req);

	/* Below 16 times the cap: truncated, and otherwise a normal run. */
	req = req_of("import sys\n"
		     "sys.stdout.write('y' * 40000)\n"
		     "sys.stderr.write('e' * 3000)\n"
		     "print('done', file=sys.stderr)\n");
	set_limit(req, CACT_LIMIT_STDOUT_BYTES, 4096);
	set_limit(req, CACT_LIMIT_STDERR_BYTES, 2048);
	r = t_run_req(rt, req);
	t_assert_status(r, CACT_STATUS_OK);
	out = cact_result_stdout(r, &len, &trunc);
	ck_assert_int_eq(trunc, 1);
	ck_assert_uint_le(len, 4096 + 128);
	ck_assert_int_eq(out[4095], 'y');
	ck_assert_ptr_nonnull(strstr(out, marker));
	out = cact_result_stderr(r, &len, &trunc);
	ck_assert_int_eq(trunc, 1);
	ck_assert_uint_ge(len, 2048 + strlen(marker));
	ck_assert_uint_le(len, 2048 + 128);
	ck_assert_ptr_nonnull(strstr(out, marker));
	cact_result_free(r);
	cact_request_free(req);

	/* Exactly the cap is not truncated. */
	/* (assigned: a bare call's value would be displayed) */
	req = req_of("import sys\n_ = sys.stdout.write('z' * 4096)\n");
	set_limit(req, CACT_LIMIT_STDOUT_BYTES, 4096);
	r = t_run_req(rt, req);
	t_assert_status(r, CACT_STATUS_OK);
	cact_result_stdout(r, &len, &trunc);
	ck_assert_int_eq(trunc, 0);
	ck_assert_uint_eq(len, 4096);
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(stdout_flood_stopped)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_of("while True:\n    print('flood' * 200)\n");
	struct cact_result *r;
	uint64_t t0;
	size_t len;
	int trunc = -1;
	enum cact_status st;

	set_limit(req, CACT_LIMIT_STDOUT_BYTES, 1024);
	set_limit(req, CACT_LIMIT_TIMEOUT_MS, 10000);
	t0 = now_ms();
	r = t_run_req(rt, req);
	st = cact_result_status(r);
	ck_assert_msg(st == CACT_STATUS_OUTPUT_LIMIT || st == CACT_STATUS_TIMEOUT, "status %s",
		      cact_status_name(st));
	ck_assert_msg(now_ms() - t0 < 5000, "the flood took %llu ms to stop",
		      (unsigned long long)(now_ms() - t0));
	cact_result_stdout(r, &len, &trunc);
	ck_assert_int_eq(trunc, 1);
	ck_assert_uint_le(len, 1024 + 128);
	ck_assert_int_eq(cact_result_exit_code(r), -1);
	cact_result_free(r);
	/* The same on stderr. */
	cact_request_free(req);
	req = req_of("import sys\nwhile True:\n    sys.stderr.write('E' * 1000)\n");
	set_limit(req, CACT_LIMIT_STDERR_BYTES, 1024);
	set_limit(req, CACT_LIMIT_TIMEOUT_MS, 10000);
	t0 = now_ms();
	r = t_run_req(rt, req);
	st = cact_result_status(r);
	ck_assert_msg(st == CACT_STATUS_OUTPUT_LIMIT || st == CACT_STATUS_TIMEOUT, "status %s",
		      cact_status_name(st));
	ck_assert_uint_lt(now_ms() - t0, 5000);
	cact_result_stderr(r, &len, &trunc);
	ck_assert_int_eq(trunc, 1);
	ck_assert_uint_le(len, 1024 + 128);
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

/*
 * One run, then a pause for the pool to prepare the next sandbox: the
 * deadline counts from the request with set-up included, so a short limit on
 * the very first run of a loaded machine could expire before the code starts.
 */
static void warm_up(struct cact_runtime *rt)
{
	expect_ok(rt, "print('warm')", "warm\n");
	usleep(300 * 1000);
}

/* Writes to the eventfd a little after the run starts. */
struct canceller {
	int fd;
};

static void *cancel_later(void *arg)
{
	struct canceller *c = arg;
	uint64_t one = 1;

	usleep(300 * 1000);
	if (write(c->fd, &one, sizeof(one)) != sizeof(one))
		abort();
	return NULL;
}

START_TEST(cancel_stops_execution)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req;
	struct cact_result *r;
	struct canceller c = {.fd = eventfd(0, EFD_CLOEXEC)};
	pthread_t th;
	const char *code = "import threading\n"
			   "def burn():\n"
			   "    while True:\n"
			   "        pass\n"
			   "threading.Thread(target=burn, daemon=True).start()\n"
			   "print('started', flush=True)\n"
			   "burn()\n";

	warm_up(rt);
	ck_assert_int_ge(c.fd, 0);
	ck_assert_int_eq(cact_request_new(&req), 0);
	ck_assert_int_eq(cact_request_set_code(req, code, strlen(code), NULL), 0);
	ck_assert_int_eq(cact_request_set_limit(req, CACT_LIMIT_TIMEOUT_MS, 60000, NULL), 0);
	cact_request_set_cancel_fd(req, c.fd);
	ck_assert_int_eq(pthread_create(&th, NULL, cancel_later, &c), 0);
	r = t_run_req(rt, req);
	pthread_join(th, NULL);
	t_assert_status(r, CACT_STATUS_CANCELLED);
	ck_assert_str_eq(cact_status_name(cact_result_status(r)), "cancelled");
	ck_assert_str_eq(cact_result_error_type(r), "cancelled");
	assert_out(r, "started\n");
	cact_result_free(r);
	/* The runtime serves the next request as usual; a request without the fd is unaffected. */
	r = t_run(rt, "print('next')\n", 5000);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "next\n");
	cact_result_free(r);
	cact_request_free(req);
	close(c.fd);
}
END_TEST

START_TEST(timeout_busy_loop)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_result *r;
	struct cact_stats stats;
	uint64_t t0, took;

	warm_up(rt);
	t0 = now_ms();
	r = t_run(rt, "print('started', flush=True)\nwhile True:\n    pass\n", 500);
	took = now_ms() - t0;
	t_assert_status(r, CACT_STATUS_TIMEOUT);
	ck_assert_msg(took < 3000, "took %llu ms", (unsigned long long)took);
	ck_assert_uint_ge(took, 450);
	ck_assert_int_eq(cact_result_exit_code(r), -1);
	assert_out(r, "started\n");
	ck_assert_str_eq(cact_result_error_type(r), "timeout");
	ck_assert_ptr_nonnull(cact_result_error_message(r));
	cact_result_stats(r, &stats);
	ck_assert_uint_ge(stats.wall_us, 400000);
	cact_result_free(r);
	/* Sleeping and ignoring signals changes nothing. */
	usleep(300 * 1000);
	t0 = now_ms();
	r = t_run(rt,
		  "import signal, time\n"
		  "for s in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM):\n"
		  "    signal.signal(s, signal.SIG_IGN)\n"
		  "time.sleep(100)\n",
		  500);
	took = now_ms() - t0;
	t_assert_status(r, CACT_STATUS_TIMEOUT);
	ck_assert_msg(took < 3000, "took %llu ms", (unsigned long long)took);
	cact_result_free(r);
	/* The runtime is fine afterwards. */
	expect_ok(rt, "print('alive')", "alive\n");
	cact_runtime_free(rt);
}
END_TEST

START_TEST(timeout_cpu_threads)
{
	struct cact_runtime *rt = t_runtime();
	uint64_t t0, took;
	struct cact_result *r;

	warm_up(rt);
	t0 = now_ms();
	r = t_run(rt,
		  "import threading\n"
		  "def burn():\n"
		  "    while True:\n"
		  "        pass\n"
		  "ts = [threading.Thread(target=burn) for _ in range(2)]\n"
		  "for t in ts:\n"
		  "    t.start()\n"
		  "for t in ts:\n"
		  "    t.join()\n",
		  1000);
	took = now_ms() - t0;
	t_assert_status(r, CACT_STATUS_TIMEOUT);
	ck_assert_msg(took < 4000, "took %llu ms", (unsigned long long)took);
	ck_assert_int_eq(cact_result_exit_code(r), -1);
	cact_result_free(r);
	/* Non-daemon threads still running at the end are waited for, as python3 does. */
	expect_ok(rt,
		  "import threading, time\n"
		  "def late():\n"
		  "    time.sleep(0.2)\n"
		  "    print('late thread')\n"
		  "threading.Thread(target=late).start()\n"
		  "print('main done')\n",
		  "main done\nlate thread\n");
	cact_runtime_free(rt);
}
END_TEST

START_TEST(memory_cap)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_of("print('before')\n"
					  "b = bytearray(300 * 1000 * 1000)\n"
					  "print('after')\n");
	struct cact_result *r;

	set_limit(req, CACT_LIMIT_MEMORY_BYTES, 64 * MIB);
	r = t_run_req(rt, req);
	t_assert_status(r, CACT_STATUS_MEMORY_LIMIT);
	ck_assert_int_ne(cact_result_exit_code(r), 0);
	assert_out(r, "before\n");
	ck_assert_ptr_nonnull(cact_result_error_message(r));
	cact_result_free(r);
	cact_request_free(req);
	/* Growth in small steps ends the same way. */
	req = req_of("x = []\nwhile True:\n    x.append(' ' * 1000000)\n");
	set_limit(req, CACT_LIMIT_MEMORY_BYTES, 64 * MIB);
	set_limit(req, CACT_LIMIT_TIMEOUT_MS, 30000);
	r = t_run_req(rt, req);
	t_assert_status(r, CACT_STATUS_MEMORY_LIMIT);
	cact_result_free(r);
	cact_request_free(req);
	/* Below the cap is fine. */
	req = req_of("b = bytearray(20 * 1000 * 1000)\nprint(len(b))\n");
	set_limit(req, CACT_LIMIT_MEMORY_BYTES, 64 * MIB);
	r = t_run_req(rt, req);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "20000000\n");
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

static const unsigned char png_head[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

START_TEST(output_files_harvested)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_result *r =
		t_run(rt,
		      "import os\n"
		      "os.makedirs('/output/d', exist_ok=True)\n"
		      "with open('/output/a.txt', 'w') as f:\n"
		      "    f.write('alpha\\n')\n"
		      "with open('/output/d/b.csv', 'w') as f:\n"
		      "    f.write('k,v\\n1,2\\n')\n"
		      "with open('/output/img.png', 'wb') as f:\n"
		      "    f.write(b'\\x89PNG\\r\\n\\x1a\\n' + bytes(range(256)))\n",
		      0);
	struct cact_file f;
	size_t i;

	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_uint_eq(cact_result_file_count(r), 3);
	ck_assert_uint_eq(cact_result_skipped_count(r), 0);
	ck_assert_int_eq(cact_result_file(r, 0, &f), 0);
	ck_assert_str_eq(f.path, "/output/a.txt");
	ck_assert_str_eq(f.media_type, "text/plain");
	ck_assert_uint_eq(f.size, 6);
	ck_assert(memcmp(f.data, "alpha\n", 6) == 0);
	ck_assert_int_eq(cact_result_file(r, 1, &f), 0);
	ck_assert_str_eq(f.path, "/output/d/b.csv");
	ck_assert_str_eq(f.media_type, "text/csv");
	ck_assert_uint_eq(f.size, 8);
	ck_assert(memcmp(f.data, "k,v\n1,2\n", 8) == 0);
	ck_assert_int_eq(cact_result_file(r, 2, &f), 0);
	ck_assert_str_eq(f.path, "/output/img.png");
	ck_assert_str_eq(f.media_type, "image/png");
	ck_assert_uint_eq(f.size, 8 + 256);
	ck_assert(memcmp(f.data, png_head, 8) == 0);
	for (i = 0; i < 256; i++)
		ck_assert_uint_eq(f.data[8 + i], i);
	ck_assert_int_eq(cact_result_file(r, 3, &f), CACT_EINVAL);
	cact_result_free(r);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(output_starts_empty)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_result *r;
	int i;

	for (i = 0; i < 3; i++) {
		r = t_run(rt,
			  "import os\n"
			  "print(sorted(os.listdir('/output')), sorted(os.listdir('/tmp')))\n"
			  "_ = open('/output/left.txt', 'w').write('x')\n"
			  "_ = open('/tmp/left.txt', 'w').write('x')\n",
			  0);
		t_assert_status(r, CACT_STATUS_OK);
		assert_out(r, "[] []\n");
		ck_assert_uint_eq(cact_result_file_count(r), 1);
		cact_result_free(r);
	}
	cact_runtime_free(rt);
}
END_TEST

START_TEST(threads_work)
{
	struct cact_runtime *rt = t_runtime();

	expect_ok(rt,
		  "from concurrent.futures import ThreadPoolExecutor\n"
		  "with ThreadPoolExecutor(max_workers=4) as ex:\n"
		  "    print(list(ex.map(lambda x: x * x, range(8))))\n",
		  "[0, 1, 4, 9, 16, 25, 36, 49]\n");
	cact_runtime_free(rt);
}
END_TEST

START_TEST(asyncio_works)
{
	struct cact_runtime *rt = t_runtime();

	expect_ok(rt,
		  "import asyncio\n"
		  "async def twice(x):\n"
		  "    await asyncio.sleep(0.01)\n"
		  "    return 2 * x\n"
		  "async def main():\n"
		  "    return await asyncio.gather(*(twice(i) for i in range(5)))\n"
		  "print(asyncio.run(main()))\n",
		  "[0, 2, 4, 6, 8]\n");
	cact_runtime_free(rt);
}
END_TEST

START_TEST(stdlib_modules_work)
{
	struct cact_runtime *rt = t_runtime();

	expect_ok(rt,
		  "import json, re, csv, io, sqlite3, decimal, datetime, zoneinfo, hashlib, zlib\n"
		  "import gzip, tempfile, pathlib\n"
		  "print(json.dumps({'b': [1, 2], 'a': None}, sort_keys=True))\n"
		  "print(re.findall(r'\\d+', 'a1b22c333'))\n"
		  "buf = io.StringIO()\n"
		  "csv.writer(buf).writerow(['x', 'y,z'])\n"
		  "print(buf.getvalue().strip())\n"
		  "print(list(csv.reader(io.StringIO('1,\"a,b\"\\n'))))\n"
		  "db = sqlite3.connect(':memory:')\n"
		  "db.execute('create table t (v integer)')\n"
		  "db.executemany('insert into t values (?)', [(1,), (2,), (3,)])\n"
		  "print(db.execute('select sum(v) from t').fetchone()[0])\n"
		  "print(decimal.Decimal('0.1') + decimal.Decimal('0.2'))\n"
		  "print(datetime.date(2024, 2, 28) + datetime.timedelta(days=1))\n"
		  "tz = zoneinfo.ZoneInfo('Europe/Paris')\n"
		  "print(datetime.datetime(2024, 7, 1, 12, tzinfo=tz).utcoffset(),\n"
		  "      datetime.datetime(2024, 1, 1, 12, tzinfo=tz).utcoffset())\n"
		  "print(hashlib.sha256(b'abc').hexdigest())\n"
		  "print(zlib.decompress(zlib.compress(b'hello' * 10)) == b'hello' * 10,\n"
		  "      zlib.crc32(b'hello'))\n"
		  "print(gzip.decompress(gzip.compress(b'gz')).decode())\n"
		  "with tempfile.NamedTemporaryFile('w+', delete=False) as f:\n"
		  "    f.write('tmp')\n"
		  "    name = f.name\n"
		  "print(name.startswith('/tmp/'), pathlib.Path(name).read_text())\n"
		  "p = pathlib.Path('/tmp/sub/x.txt')\n"
		  "p.parent.mkdir(exist_ok=True)\n"
		  "p.write_text('pl')\n"
		  "print(sorted(x.name for x in p.parent.iterdir()), p.read_text())\n",
		  "{\"a\": null, \"b\": [1, 2]}\n"
		  "['1', '22', '333']\n"
		  "x,\"y,z\"\n"
		  "[['1', 'a,b']]\n"
		  "6\n"
		  "0.3\n"
		  "2024-02-29\n"
		  "2:00:00 1:00:00\n"
		  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n"
		  "True 907060870\n"
		  "gz\n"
		  "True tmp\n"
		  "['x.txt'] pl\n");
	cact_runtime_free(rt);
}
END_TEST

static const char *const dist_packages[] = {"/usr/lib/python3/dist-packages"};

START_TEST(numpy_pandas_with_python_path)
{
	struct cact_runtime_options o;
	struct cact_runtime *rt;
	struct cact_result *r;

	cact_runtime_options_init(&o);
	o.python_paths = dist_packages;
	o.n_python_paths = 1;
	rt = t_runtime_opts(&o);
	r = t_run(rt,
		  "import numpy, pandas\n"
		  "df = pandas.DataFrame({'a': [1, 2, 3], 'b': [4.0, 5.0, 6.0]})\n"
		  "print(int(numpy.arange(5).sum()), int(df['a'].sum()), float(df['b'].mean()))\n"
		  "print(df.shape)\n",
		  90000);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "10 6 5.0\n(3, 2)\n");
	cact_result_free(r);
	/* A second run from the same warm runtime. */
	r = t_run(rt, "import numpy\nprint(numpy.ones(3).tolist())\n", 90000);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "[1.0, 1.0, 1.0]\n");
	cact_result_free(r);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(numpy_missing_without_python_path)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_result *r = t_run(rt, "import numpy\n", 0);

	t_assert_status(r, CACT_STATUS_PYTHON_ERROR);
	ck_assert_str_eq(cact_result_error_type(r), "ModuleNotFoundError");
	ck_assert_ptr_nonnull(strstr(cact_result_error_message(r), "numpy"));
	cact_result_free(r);
	r = t_run(rt, "import pandas\n", 0);
	t_assert_status(r, CACT_STATUS_PYTHON_ERROR);
	ck_assert_str_eq(cact_result_error_type(r), "ModuleNotFoundError");
	cact_result_free(r);
	cact_runtime_free(rt);
}
END_TEST

static const char listing_code[] = "import os\n"
				   "def walk(top):\n"
				   "    out = []\n"
				   "    for root, dirs, files in os.walk(top):\n"
				   "        dirs.sort()\n"
				   "        for name in sorted(files):\n"
				   "            p = os.path.join(root, name)\n"
				   "            out.append(p + '=' + open(p).read())\n"
				   "    return out\n"
				   "for line in walk('/input'):\n"
				   "    print(line)\n";

START_TEST(workspace_visible_read_only)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_error err = {0};
	char *ws = t_tmpdir(), *text, *p;
	struct cact_request *req;
	struct cact_result *r;
	struct stat st;

	put(ws, "data.csv", "a,b\n1,2\n");
	put(ws, "sub/n.txt", "note");
	req = req_of(
		"import os\n"
		"print(sorted(os.listdir('/input')))\n"
		"print(open('/input/data.csv').read(), end='')\n"
		"print(open('/input/sub/n.txt').read())\n"
		"for p in ('/input/new.txt', '/input/data.csv', '/input/sub/n.txt'):\n"
		"    try:\n"
		"        with open(p, 'a') as f:\n"
		"            f.write('x')\n"
		"        print('wrote', p)\n"
		"    except OSError:\n"
		"        print('refused', p)\n"
		"for op, arg in ((os.remove, '/input/data.csv'), (os.mkdir, '/input/d'),\n"
		"                (os.rename, '/input/data.csv'), (os.chmod, '/input/data.csv')):\n"
		"    try:\n"
		"        if op is os.rename:\n"
		"            op(arg, '/input/moved.csv')\n"
		"        elif op is os.chmod:\n"
		"            op(arg, 0o777)\n"
		"        else:\n"
		"            op(arg)\n"
		"        print('did', op.__name__)\n"
		"    except OSError:\n"
		"        print('refused', op.__name__)\n");
	ck_assert_msg(cact_request_set_workspace(req, ws, &err) == 0, "%s", err.message);
	r = t_run_req(rt, req);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "['data.csv', 'sub']\n"
		      "a,b\n1,2\n"
		      "note\n"
		      "refused /input/new.txt\n"
		      "refused /input/data.csv\n"
		      "refused /input/sub/n.txt\n"
		      "refused remove\n"
		      "refused mkdir\n"
		      "refused rename\n"
		      "refused chmod\n");
	cact_result_free(r);
	/* The host folder is untouched. */
	p = path_join(ws, "data.csv");
	text = read_text(p);
	ck_assert_str_eq(text, "a,b\n1,2\n");
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);
	free(text);
	free(p);
	p = path_join(ws, "new.txt");
	ck_assert_int_ne(stat(p, &st), 0);
	free(p);
	cact_request_free(req);
	t_rmtree(ws);
	free(ws);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(file_mounts_visible)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_error err = {0};
	char *src = t_tmpdir(), *f, *folder, *g, *text, want[4096];
	struct cact_request *req;
	struct cact_result *r;

	put(src, "data.csv", "d1,d2");
	put(src, "folder/a.txt", "A");
	put(src, "folder/b/c.txt", "C");
	put(src, "g.txt", "G");
	f = path_join(src, "data.csv");
	folder = path_join(src, "folder");
	g = path_join(src, "g.txt");
	req = req_of(listing_code);
	ck_assert_msg(cact_request_add_mount(req, f, "data.csv", &err) == 0, "%s", err.message);
	ck_assert_msg(cact_request_add_mount(req, folder, "input\\stuff", &err) == 0, "%s",
		      err.message);
	ck_assert_msg(cact_request_add_mount(req, f, "/input/deep/er/copy.csv", &err) == 0, "%s",
		      err.message);
	/* No mount path: the host path as given, under /input. */
	ck_assert_msg(cact_request_add_mount(req, g, NULL, &err) == 0, "%s", err.message);
	r = t_run_req(rt, req);
	t_assert_status(r, CACT_STATUS_OK);
	snprintf(want, sizeof(want),
		 "/input/data.csv=d1,d2\n"
		 "/input/deep/er/copy.csv=d1,d2\n"
		 "/input/stuff/a.txt=A\n"
		 "/input/stuff/b/c.txt=C\n"
		 "/input%s/g.txt=G\n",
		 src);
	/* os.walk order: files of /input, then its folders in sorted order. */
	assert_out(r, want);
	cact_result_free(r);
	/* Read-only like the workspace. */
	cact_request_free(req);
	req = req_of("for p in ('/input/data.csv', '/input/stuff/a.txt', '/input/stuff/new'):\n"
		     "    try:\n"
		     "        open(p, 'a').write('x')\n"
		     "        print('wrote', p)\n"
		     "    except OSError:\n"
		     "        print('refused', p)\n");
	ck_assert_int_eq(cact_request_add_mount(req, f, "data.csv", &err), 0);
	ck_assert_int_eq(cact_request_add_mount(req, folder, "stuff", &err), 0);
	r = t_run_req(rt, req);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(
		r,
		"refused /input/data.csv\nrefused /input/stuff/a.txt\nrefused /input/stuff/new\n");
	cact_result_free(r);
	text = read_text(f);
	ck_assert_str_eq(text, "d1,d2");
	free(text);
	cact_request_free(req);
	free(f);
	free(folder);
	free(g);
	t_rmtree(src);
	free(src);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(workspace_and_mounts_together)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_error err = {0};
	char *ws = t_tmpdir(), *src = t_tmpdir(), *f, *folder, *p;
	struct cact_request *req;
	struct cact_result *r;
	struct stat st;

	put(ws, "w.txt", "W");
	put(ws, "wsub/x.txt", "X");
	put(src, "extra.csv", "E");
	put(src, "folder/y.txt", "Y");
	f = path_join(src, "extra.csv");
	folder = path_join(src, "folder");
	req = req_of("import os\n"
		     "print(sorted(os.listdir('/input')))\n" /* listing_code follows */
		     "def walk(top):\n"
		     "    out = []\n"
		     "    for root, dirs, files in os.walk(top):\n"
		     "        dirs.sort()\n"
		     "        for name in sorted(files):\n"
		     "            p = os.path.join(root, name)\n"
		     "            out.append(p + '=' + open(p).read())\n"
		     "    return out\n"
		     "for line in walk('/input'):\n"
		     "    print(line)\n");
	ck_assert_int_eq(cact_request_set_workspace(req, ws, &err), 0);
	ck_assert_int_eq(cact_request_add_mount(req, f, "extra.csv", &err), 0);
	ck_assert_int_eq(cact_request_add_mount(req, folder, "more", &err), 0);
	r = t_run_req(rt, req);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "['extra.csv', 'more', 'w.txt', 'wsub']\n"
		      "/input/extra.csv=E\n"
		      "/input/w.txt=W\n"
		      "/input/more/y.txt=Y\n"
		      "/input/wsub/x.txt=X\n");
	cact_result_free(r);
	/* The mount points were not made in the host's workspace. */
	p = path_join(ws, "extra.csv");
	ck_assert_int_ne(lstat(p, &st), 0);
	free(p);
	p = path_join(ws, "more");
	ck_assert_int_ne(lstat(p, &st), 0);
	free(p);
	cact_request_free(req);
	free(f);
	free(folder);
	t_rmtree(ws);
	t_rmtree(src);
	free(ws);
	free(src);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(nested_mount_refused_at_add)
{
	struct cact_error err = {0};
	char *src = t_tmpdir(), *f, *folder;
	struct cact_request *req = req_of("print(1)");

	put(src, "folder/a.txt", "A");
	put(src, "f.txt", "F");
	f = path_join(src, "f.txt");
	folder = path_join(src, "folder");
	ck_assert_int_eq(cact_request_add_mount(req, folder, "data", &err), 0);
	ck_assert_int_eq(cact_request_add_mount(req, f, "data/f.txt", &err), CACT_EINVAL);
	ck_assert_msg(strstr(err.message, "/input/data/f.txt") &&
			      strstr(err.message, "/input/data"),
		      "%s", err.message);
	ck_assert_int_eq(cact_request_add_mount(req, f, "/input/data/sub/f.txt", &err),
			 CACT_EINVAL);
	ck_assert_int_eq(cact_request_add_mount(req, f, "data2/f.txt", &err), 0);
	ck_assert_int_eq(cact_request_add_mount(req, folder, "data2", &err), CACT_EINVAL);
	ck_assert_int_eq(cact_request_add_mount(req, f, "../f.txt", &err), CACT_EINVAL);
	cact_request_free(req);
	free(f);
	free(folder);
	t_rmtree(src);
	free(src);
}
END_TEST

/* Replaces dir/name atomically (a new inode) with text. */
static void replace_file(const char *dir, const char *name, const char *text)
{
	char *tmp = path_join(dir, ".replace.tmp"), *dst = path_join(dir, name);
	FILE *fp = fopen(tmp, "w");

	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	fclose(fp);
	ck_assert_int_eq(rename(tmp, dst), 0);
	free(tmp);
	free(dst);
}

/* Runs the listing of /input with req and expects want. */
static void expect_listing(struct cact_runtime *rt, struct cact_request *req, const char *want)
{
	struct cact_result *r = t_run_req(rt, req);

	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, want);
	cact_result_free(r);
}

START_TEST(workspace_changes_between_runs)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_error err = {0};
	char *ws = t_tmpdir(), *p;
	struct cact_request *req = req_of(listing_code);

	put(ws, "a.txt", "v1");
	put(ws, "b.txt", "b1");
	ck_assert_int_eq(cact_request_set_workspace(req, ws, &err), 0);
	expect_listing(rt, req, "/input/a.txt=v1\n/input/b.txt=b1\n");
	/* Rewritten in place, replaced by rename, added, removed. */
	put(ws, "a.txt", "v2");
	expect_listing(rt, req, "/input/a.txt=v2\n/input/b.txt=b1\n");
	replace_file(ws, "b.txt", "b2");
	put(ws, "c/new.txt", "n");
	expect_listing(rt, req, "/input/a.txt=v2\n/input/b.txt=b2\n/input/c/new.txt=n\n");
	p = path_join(ws, "a.txt");
	ck_assert_int_eq(unlink(p), 0);
	free(p);
	expect_listing(rt, req, "/input/b.txt=b2\n/input/c/new.txt=n\n");
	cact_request_free(req);
	t_rmtree(ws);
	free(ws);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(workspace_with_mount_changes_between_runs)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_error err = {0};
	char *ws = t_tmpdir(), *src = t_tmpdir(), *f;
	struct cact_request *req = req_of(listing_code);

	put(ws, "a.txt", "v1");
	put(src, "m.txt", "m1");
	f = path_join(src, "m.txt");
	ck_assert_int_eq(cact_request_set_workspace(req, ws, &err), 0);
	ck_assert_int_eq(cact_request_add_mount(req, f, "m.txt", &err), 0);
	expect_listing(rt, req, "/input/a.txt=v1\n/input/m.txt=m1\n");
	/* The pool already holds a sandbox built for this request: it must see the changes. */
	put(ws, "a.txt", "v2");
	put(src, "m.txt", "m2");
	expect_listing(rt, req, "/input/a.txt=v2\n/input/m.txt=m2\n");
	put(ws, "b.txt", "b");
	replace_file(ws, "a.txt", "v3");
	expect_listing(rt, req, "/input/a.txt=v3\n/input/b.txt=b\n/input/m.txt=m2\n");
	cact_request_free(req);
	free(f);
	t_rmtree(ws);
	t_rmtree(src);
	free(ws);
	free(src);
	cact_runtime_free(rt);
}
END_TEST

#define N_THREADS 4
#define N_RUNS	  5

struct worker {
	struct cact_runtime *rt;
	int id;
	int failures;
	char why[768];
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	int i;

	for (i = 0; i < N_RUNS; i++) {
		char code[256], want[64];
		struct cact_request *req = NULL;
		struct cact_result *r = NULL;
		struct cact_error err = {0};

		snprintf(code, sizeof(code),
			 "import time, random\n"
			 "time.sleep(random.random() / 20)\n"
			 "print('worker %d run %d')\n"
			 "_ = open('/output/w%d-%d.txt', 'w').write('x')\n",
			 w->id, i, w->id, i);
		snprintf(want, sizeof(want), "worker %d run %d\n", w->id, i);
		if (cact_request_new(&req) ||
		    cact_request_set_code(req, code, strlen(code), &err) ||
		    cact_runtime_run(w->rt, req, &r, &err)) {
			w->failures++;
			snprintf(w->why, sizeof(w->why), "run %d: %s", i, err.message);
		} else if (cact_result_status(r) != CACT_STATUS_OK || strcmp(t_out(r), want) != 0 ||
			   cact_result_file_count(r) != 1) {
			w->failures++;
			snprintf(w->why, sizeof(w->why),
				 "run %d: status %s, stdout '%s', %zu files, stderr %.200s", i,
				 cact_status_name(cact_result_status(r)), t_out(r),
				 cact_result_file_count(r), t_err(r));
		}
		cact_result_free(r);
		cact_request_free(req);
	}
	return NULL;
}

START_TEST(concurrent_runs_one_runtime)
{
	struct cact_runtime *rt = t_runtime();
	struct worker w[N_THREADS];
	pthread_t th[N_THREADS];
	int i;

	for (i = 0; i < N_THREADS; i++) {
		w[i] = (struct worker){.rt = rt, .id = i};
		ck_assert_int_eq(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (i = 0; i < N_THREADS; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < N_THREADS; i++)
		ck_assert_msg(w[i].failures == 0, "worker %d: %d failures, last: %s", i,
			      w[i].failures, w[i].why);
	/* Still serving afterwards. */
	expect_ok(rt, "print('after')", "after\n");
	cact_runtime_free(rt);
}
END_TEST

START_TEST(pool_adapts_to_request)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_error err = {0};
	char *ws = t_tmpdir(), *ws2 = t_tmpdir();
	struct cact_request *with, *without, *other;
	const char *code =
		"import os\n"
		"print(sorted(os.listdir('/input')) if os.path.isdir('/input') else 'none')\n";
	int i;

	put(ws, "w.txt", "W");
	put(ws2, "other.txt", "O");
	with = req_of(code);
	without = req_of(code);
	other = req_of(code);
	ck_assert_int_eq(cact_request_set_workspace(with, ws, &err), 0);
	ck_assert_int_eq(cact_request_set_workspace(other, ws2, &err), 0);
	for (i = 0; i < 4; i++) {
		struct cact_result *r = t_run_req(rt, with);

		t_assert_status(r, CACT_STATUS_OK);
		assert_out(r, "['w.txt']\n");
		cact_result_free(r);
		r = t_run_req(rt, without);
		t_assert_status(r, CACT_STATUS_OK);
		ck_assert_msg(strcmp(t_out(r), "[]\n") == 0 || strcmp(t_out(r), "none\n") == 0,
			      "without a workspace: %s", t_out(r));
		cact_result_free(r);
		r = t_run_req(rt, other);
		t_assert_status(r, CACT_STATUS_OK);
		assert_out(r, "['other.txt']\n");
		cact_result_free(r);
	}
	/* Same request twice in a row (served from the pool), then the others again. */
	for (i = 0; i < 3; i++) {
		struct cact_result *r = t_run_req(rt, other);

		assert_out(r, "['other.txt']\n");
		cact_result_free(r);
	}
	{
		struct cact_result *r = t_run_req(rt, with);

		assert_out(r, "['w.txt']\n");
		cact_result_free(r);
	}
	cact_request_free(with);
	cact_request_free(without);
	cact_request_free(other);
	t_rmtree(ws);
	t_rmtree(ws2);
	free(ws);
	free(ws2);
	cact_runtime_free(rt);
}
END_TEST

/* Parses an isolation object and checks level and every feature (landlock as given). */
static void check_isolation(const char *text, const char *level, int landlock)
{
	json_error_t jerr;
	json_t *root = json_loads(text, 0, &jerr), *feat;
	unsigned bit;

	ck_assert_msg(root != NULL, "isolation JSON does not parse: %s: %s", jerr.text, text);
	ck_assert_str_eq(json_string_value(json_object_get(root, "level")), level);
	feat = json_object_get(root, "features");
	ck_assert(json_is_object(feat));
	for (bit = CACT_FEATURE_USER_NS; bit <= CACT_FEATURE_PIDFD; bit <<= 1) {
		const char *name = cact_feature_name(bit);
		json_t *v = json_object_get(feat, name);

		ck_assert_str_ne(name, "unknown");
		ck_assert_msg(json_is_boolean(v), "feature %s missing in %s", name, text);
		if (bit == CACT_FEATURE_LANDLOCK)
			ck_assert_msg(json_is_true(v) == landlock, "landlock is %s in %s",
				      json_is_true(v) ? "true" : "false", text);
		else if (bit != CACT_FEATURE_CGROUP_NS || landlock)
			ck_assert_msg(json_is_true(v), "feature %s is false in %s", name, text);
	}
	if (landlock)
		ck_assert_int_ge(json_integer_value(json_object_get(root, "landlock_abi")), 1);
	else
		ck_assert_int_eq(json_integer_value(json_object_get(root, "landlock_abi")), 0);
	json_decref(root);
}

START_TEST(isolation_full)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_result *r;
	char *iso = cact_runtime_isolation_json(rt);

	ck_assert_ptr_nonnull(iso);
	check_isolation(iso, "full", 1);
	cact_free(iso);
	r = t_run(rt, "print(1)", 0);
	t_assert_status(r, CACT_STATUS_OK);
	check_isolation(cact_result_isolation_json(r), "full", 1);
	cact_result_free(r);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(reduced_isolation_refused_at_full)
{
	struct cact_runtime_options o;
	struct cact_runtime *rt = (struct cact_runtime *)1;
	struct cact_error err = {0};

	cact_runtime_options_init(&o);
	o.isolation = CACT_ISOLATION_FULL;
	o.hide_features = CACT_FEATURE_LANDLOCK;
	ck_assert_int_eq(cact_runtime_new(&o, &rt, &err), CACT_EUNSUPPORTED);
	ck_assert_ptr_null(rt);
	ck_assert_int_eq(err.code, CACT_EUNSUPPORTED);
	ck_assert_msg(strstr(err.message, "landlock"), "message: %s", err.message);
}
END_TEST

START_TEST(reduced_isolation_runs)
{
	struct cact_runtime_options o;
	struct cact_runtime *rt;
	struct cact_result *r;
	char *iso;

	cact_runtime_options_init(&o);
	o.isolation = CACT_ISOLATION_REDUCED;
	o.hide_features = CACT_FEATURE_LANDLOCK;
	rt = t_runtime_opts(&o);
	iso = cact_runtime_isolation_json(rt);
	check_isolation(iso, "reduced", 0);
	cact_free(iso);
	r = t_run(rt, "print(6 * 7)", 0);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "42\n");
	check_isolation(cact_result_isolation_json(r), "reduced", 0);
	cact_result_free(r);
	/* Still a sandbox: no network. */
	r = t_run(rt,
		  "import socket\n"
		  "try:\n"
		  "    socket.create_connection(('1.1.1.1', 53), timeout=2)\n"
		  "    print('connected')\n"
		  "except OSError:\n"
		  "    print('no network')\n",
		  0);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "no network\n");
	cact_result_free(r);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(required_feature_hidden_refused)
{
	struct cact_runtime_options o;
	struct cact_runtime *rt = NULL;
	struct cact_error err = {0};

	cact_runtime_options_init(&o);
	o.isolation = CACT_ISOLATION_REDUCED;
	o.hide_features = CACT_FEATURE_USER_NS;
	ck_assert_int_eq(cact_runtime_new(&o, &rt, &err), CACT_EUNSUPPORTED);
	ck_assert_ptr_null(rt);
	ck_assert_msg(strstr(err.message, "user namespace"), "message: %s", err.message);
	/* Another required one, by name. */
	memset(&err, 0, sizeof(err));
	o.hide_features = CACT_FEATURE_SECCOMP;
	ck_assert_int_eq(cact_runtime_new(&o, &rt, &err), CACT_EUNSUPPORTED);
	ck_assert_msg(strstr(err.message, "seccomp"), "message: %s", err.message);
	memset(&err, 0, sizeof(err));
	o.hide_features = CACT_FEATURE_NET_NS;
	ck_assert_int_eq(cact_runtime_new(&o, &rt, &err), CACT_EUNSUPPORTED);
	ck_assert_msg(strstr(err.message, "network"), "message: %s", err.message);
}
END_TEST

START_TEST(bad_guest_path)
{
	struct cact_runtime_options o;
	struct cact_runtime *rt = NULL;
	struct cact_error err = {0};

	cact_runtime_options_init(&o);
	o.guest_path = "/nonexistent/cact-guest";
	ck_assert_int_eq(cact_runtime_new(&o, &rt, &err), CACT_ENOENT);
	ck_assert_ptr_null(rt);
	ck_assert_msg(strstr(err.message, "/nonexistent/cact-guest"), "message: %s", err.message);
	/* A missing python path too. */
	cact_runtime_options_init(&o);
	{
		static const char *const bad[] = {"/nonexistent/site-packages"};

		o.python_paths = bad;
		o.n_python_paths = 1;
		ck_assert_int_eq(cact_runtime_new(&o, &rt, &err), CACT_ENOENT);
		ck_assert_ptr_null(rt);
	}
}
END_TEST

START_TEST(startup_time_reported)
{
	struct cact_runtime *rt = t_runtime();

	ck_assert_uint_gt(cact_runtime_startup_us(rt), 0);
	ck_assert_uint_lt(cact_runtime_startup_us(rt), 60ull * 1000000);
	ck_assert_int_gt(cact_runtime_zygote_pid(rt), 0);
	ck_assert_int_eq(kill(cact_runtime_zygote_pid(rt), 0), 0);
	ck_assert_str_eq(cact_version(), CACT_VERSION);
	cact_runtime_free(rt);
	cact_runtime_free(NULL);
}
END_TEST

START_TEST(stats_reported)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_result *r = t_run(rt,
				      "total = 0\n"
				      "for i in range(3000000):\n"
				      "    total += i\n"
				      "data = b'x' * (30 * 1000 * 1000)\n"
				      "print(total)\n",
				      0);
	struct cact_stats s;

	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "4499998500000\n");
	cact_result_stats(r, &s);
	ck_assert_uint_gt(s.wall_us, 0);
	ck_assert_uint_gt(s.cpu_us, 0);
	ck_assert_uint_gt(s.peak_rss_kib, 0);
	/* The 30 MB bytes object was written: its pages count. */
	ck_assert_uint_ge(s.peak_rss_kib, 20000);
	ck_assert_uint_le(s.cpu_us, s.wall_us * 4 + 1000000);
	cact_result_free(r);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(output_special_entries_skipped)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_result *r = t_run(rt,
				      "import os\n"
				      "open('/output/real.txt', 'w').write('r')\n"
				      "os.symlink('/etc/passwd', '/output/link')\n"
				      "open('/output/h1', 'w').write('h')\n"
				      "os.link('/output/h1', '/output/h2')\n"
				      "os.mkfifo('/output/fifo')\n"
				      "print('made')\n",
				      0);
	struct cact_file f;
	size_t i;
	int seen_link = 0, seen_h1 = 0, seen_h2 = 0, seen_fifo = 0;

	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "made\n");
	ck_assert_uint_eq(cact_result_file_count(r), 1);
	ck_assert_int_eq(cact_result_file(r, 0, &f), 0);
	ck_assert_str_eq(f.path, "/output/real.txt");
	ck_assert_uint_eq(cact_result_skipped_count(r), 4);
	for (i = 0; i < cact_result_skipped_count(r); i++) {
		const char *s = cact_result_skipped(r, i);

		seen_link |= strncmp(s, "/output/link: ", 14) == 0 && strstr(s, "symbolic link");
		seen_h1 |= strncmp(s, "/output/h1: ", 12) == 0 && strstr(s, "hard link");
		seen_h2 |= strncmp(s, "/output/h2: ", 12) == 0 && strstr(s, "hard link");
		seen_fifo |= strncmp(s, "/output/fifo: ", 14) == 0 && strstr(s, "FIFO");
	}
	ck_assert(seen_link && seen_h1 && seen_h2 && seen_fifo);
	cact_result_free(r);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(output_file_cap)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = req_of("for i in range(3):\n"
					  "    open('/output/f%d.txt' % i, 'w').write(str(i))\n"
					  "print('wrote')\n");
	struct cact_result *r;
	struct cact_file f;

	set_limit(req, CACT_LIMIT_OUTPUT_FILES, 2);
	r = t_run_req(rt, req);
	t_assert_status(r, CACT_STATUS_OUTPUT_LIMIT);
	assert_out(r, "wrote\n");
	ck_assert_uint_eq(cact_result_file_count(r), 2);
	ck_assert_int_eq(cact_result_file(r, 1, &f), 0);
	ck_assert_str_eq(f.path, "/output/f1.txt");
	ck_assert_uint_eq(cact_result_skipped_count(r), 1);
	ck_assert_ptr_nonnull(strstr(cact_result_skipped(r, 0), "/output/f2.txt"));
	ck_assert_ptr_nonnull(cact_result_error_message(r));
	cact_result_free(r);
	cact_request_free(req);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(result_json_of_run)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_result *r = t_run(rt,
				      "import sys\n"
				      "sys.stdout.buffer.write(b'\\xff\\xfe ok\\n')\n"
				      "open('/output/o.txt', 'w').write('hi')\n"
				      "raise ValueError('bad \\xe9')\n",
				      0);
	json_error_t jerr;
	char *text = cact_result_to_json(r);
	json_t *root, *files, *error;

	t_assert_status(r, CACT_STATUS_PYTHON_ERROR);
	ck_assert_ptr_nonnull(text);
	root = json_loads(text, 0, &jerr);
	ck_assert_msg(root != NULL, "%s: %s", jerr.text, text);
	ck_assert_str_eq(json_string_value(json_object_get(root, "status")), "python_error");
	ck_assert(json_is_false(json_object_get(root, "success")));
	ck_assert_int_eq(json_integer_value(json_object_get(root, "exit_code")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(root, "stdout")),
			 "\xef\xbf\xbd\xef\xbf\xbd ok\n");
	error = json_object_get(root, "error");
	ck_assert_str_eq(json_string_value(json_object_get(error, "type")), "ValueError");
	ck_assert_str_eq(json_string_value(json_object_get(error, "message")), "bad \xc3\xa9");
	files = json_object_get(root, "files");
	ck_assert_uint_eq(json_array_size(files), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(files, 0), "data")),
			 "aGk=");
	ck_assert(json_is_object(json_object_get(root, "isolation")));
	ck_assert(json_is_object(json_object_get(root, "stats")));
	json_decref(root);
	cact_free(text);
	cact_result_free(r);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(run_without_code_refused)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req = NULL;
	struct cact_result *r = (struct cact_result *)1;
	struct cact_error err = {0};

	ck_assert_int_eq(cact_request_new(&req), 0);
	ck_assert_int_eq(cact_runtime_run(rt, req, &r, &err), CACT_EINVAL);
	ck_assert_ptr_null(r);
	cact_request_free(req);
	expect_ok(rt, "print('fine')", "fine\n");
	cact_runtime_free(rt);
}
END_TEST

int main(int argc, char **argv)
{
	const struct t_case cases[] = {
		T_CASE(streams_captured_separately, 60),
		T_CASE(print_before_os_exit_kept, 60),
		T_CASE(uncaught_exception, 60),
		T_CASE(syntax_error_reported, 60),
		T_CASE(system_exit_code, 60),
		T_CASE(system_exit_zero_is_ok, 60),
		T_CASE(system_exit_message, 60),
		T_CASE(last_expression_shown, 90),
		T_CASE(main_guard_runs, 60),
		T_CASE(fresh_globals_each_run, 60),
		T_CASE(random_differs_across_runs, 60),
		T_CASE(stdout_cap_truncates, 60),
		T_CASE(stdout_flood_stopped, 60),
		T_CASE(cancel_stops_execution, 60),
		T_CASE(timeout_busy_loop, 60),
		T_CASE(timeout_cpu_threads, 60),
		T_CASE(memory_cap, 90),
		T_CASE(output_files_harvested, 60),
		T_CASE(output_starts_empty, 60),
		T_CASE(threads_work, 60),
		T_CASE(asyncio_works, 60),
		T_CASE(stdlib_modules_work, 60),
		T_CASE(numpy_pandas_with_python_path, 120),
		T_CASE(numpy_missing_without_python_path, 60),
		T_CASE(workspace_visible_read_only, 60),
		T_CASE(file_mounts_visible, 60),
		T_CASE(workspace_and_mounts_together, 60),
		T_CASE(nested_mount_refused_at_add, 30),
		T_CASE(workspace_changes_between_runs, 60),
		T_CASE(workspace_with_mount_changes_between_runs, 60),
		T_CASE(concurrent_runs_one_runtime, 120),
		T_CASE(pool_adapts_to_request, 120),
		T_CASE(isolation_full, 60),
		T_CASE(reduced_isolation_refused_at_full, 60),
		T_CASE(reduced_isolation_runs, 60),
		T_CASE(required_feature_hidden_refused, 60),
		T_CASE(bad_guest_path, 30),
		T_CASE(startup_time_reported, 60),
		T_CASE(stats_reported, 60),
		T_CASE(output_special_entries_skipped, 60),
		T_CASE(output_file_cap, 60),
		T_CASE(result_json_of_run, 60),
		T_CASE(run_without_code_refused, 60),
	};

	return t_main("engine", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
