/* SPDX-License-Identifier: MIT */
/*
 * Sessions through the public API: state that persists and state that must
 * not leak, each limit ending the session with the documented result, many
 * sessions at once, a killed session, and attacks that need state (threads
 * between runs, a thread writing during the harvest, code that tampers with
 * the runner to forge the next run's report or file list).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common.h"

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static struct cact_request *template_of(unsigned timeout_ms, uint64_t memory)
{
	struct cact_request *req = NULL;
	struct cact_error err = {0};

	ck_assert_int_eq(cact_request_new(&req), 0);
	if (timeout_ms)
		ck_assert_int_eq(
			cact_request_set_limit(req, CACT_LIMIT_TIMEOUT_MS, timeout_ms, &err), 0);
	if (memory)
		ck_assert_int_eq(cact_request_set_limit(req, CACT_LIMIT_MEMORY_BYTES, memory, &err),
				 0);
	return req;
}

static struct cact_sandbox_session *session_on(struct cact_runtime *rt, unsigned timeout_ms,
					       const struct cact_sandbox_session_options *o)
{
	struct cact_request *tmpl = template_of(timeout_ms, 0);
	struct cact_sandbox_session *s = NULL;
	struct cact_error err = {0};

	ck_assert_msg(cact_sandbox_session_new(rt, tmpl, o, &s, &err) == 0,
		      "cact_sandbox_session_new: %s", err.message);
	cact_request_free(tmpl);
	return s;
}

/* Runs code; the run itself must not fail. */
static struct cact_result *run(struct cact_sandbox_session *s, const char *code)
{
	struct cact_error err = {0};
	struct cact_result *r = NULL;

	ck_assert_msg(cact_sandbox_session_run(s, code, strlen(code), NULL, &r, &err) == 0,
		      "cact_sandbox_session_run: %s", err.message);
	return r;
}

/* Runs code and expects status ok and exactly want on stdout. */
static void expect(struct cact_sandbox_session *s, const char *code, const char *want)
{
	struct cact_result *r = run(s, code);

	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_msg(strcmp(t_out(r), want) == 0, "stdout %s, expected %s (stderr %s)", t_out(r),
		      want, t_err(r));
	cact_result_free(r);
}

/* The names of a result's files, sorted, joined with spaces. */
static char *names(const struct cact_result *r)
{
	char *out = calloc(1, 4096);
	size_t i;

	for (i = 0; out && i < cact_result_file_count(r); i++) {
		struct cact_file f;

		ck_assert_int_eq(cact_result_file(r, i, &f), 0);
		if (i)
			strcat(out, " ");
		strncat(out, f.path, 4000 - strlen(out));
	}
	return out;
}

/* ---- state ---- */

START_TEST(globals_imports_and_files_persist)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_sandbox_session *s = session_on(rt, 0, NULL);
	struct cact_result *r;
	char *n;

	/* The last expression's value is shown, as in python3's interactive mode. */
	expect(s, "import json\nx = 41\nopen('/tmp/t', 'w').write('tmp')\n", "3\n");
	expect(s, "x + 1", "42\n");
	expect(s, "print(json.dumps({'x': x}))", "{\"x\": 41}\n");
	expect(s, "print(open('/tmp/t').read())", "tmp\n");
	/* Files: each run reports what it added or changed in /output. */
	r = run(s, "open('/output/a.txt', 'w').write('a')\nopen('/output/b.txt', 'w').write('b')");
	t_assert_status(r, CACT_STATUS_OK);
	n = names(r);
	ck_assert_str_eq(n, "/output/a.txt /output/b.txt");
	free(n);
	cact_result_free(r);
	r = run(s, "open('/output/b.txt', 'w').write('bb')\nopen('/output/c.txt', 'w').write('c')");
	n = names(r);
	ck_assert_str_eq(n, "/output/b.txt /output/c.txt");
	free(n);
	cact_result_free(r);
	r = run(s, "import os\nprint(sorted(os.listdir('/output')))");
	ck_assert_str_eq(t_out(r), "['a.txt', 'b.txt', 'c.txt']\n");
	ck_assert_uint_eq(cact_result_file_count(r), 0);
	cact_result_free(r);
	ck_assert_uint_eq(cact_sandbox_session_runs(s), 7);
	cact_sandbox_session_close(s);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(errors_keep_the_session)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_sandbox_session *s = session_on(rt, 0, NULL);
	struct cact_result *r;

	expect(s, "y = 1", "");
	r = run(s, "y = 2\n1/0");
	t_assert_status(r, CACT_STATUS_PYTHON_ERROR);
	ck_assert_str_eq(cact_result_error_type(r), "ZeroDivisionError");
	cact_result_free(r);
	r = run(s, "raise SystemExit(3)");
	t_assert_status(r, CACT_STATUS_PYTHON_ERROR);
	ck_assert_int_eq(cact_result_exit_code(r), 3);
	cact_result_free(r);
	ck_assert_ptr_null(cact_sandbox_session_ended(s));
	expect(s, "print(y)", "2\n");
	cact_sandbox_session_close(s);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(two_sessions_never_meet)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_sandbox_session *a = session_on(rt, 0, NULL), *b = session_on(rt, 0, NULL);
	struct cact_result *r;

	expect(a,
	       "secret = 'A'\nopen('/tmp/a', 'w').write('A')\n_ = open('/output/a', "
	       "'w').write('A')",
	       "");
	expect(b, "print('secret' in globals())", "False\n");
	r = run(b, "import os\nprint(os.listdir('/tmp'), os.listdir('/output'))");
	ck_assert_str_eq(t_out(r), "[] []\n");
	ck_assert_uint_eq(cact_result_file_count(r), 0);
	cact_result_free(r);
	/* And a clean execution beside them sees neither. */
	r = t_run(rt, "import os\nprint('secret' in globals(), os.listdir('/tmp'))", 0);
	ck_assert_str_eq(t_out(r), "False []\n");
	cact_result_free(r);
	expect(a, "print(secret)", "A\n");
	cact_sandbox_session_close(a);
	cact_sandbox_session_close(b);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(reset_gives_a_fresh_interpreter)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_sandbox_session *s = session_on(rt, 0, NULL);
	struct cact_error err = {0};

	expect(s, "z = 5\n_ = open('/output/z', 'w').write('z')", "");
	ck_assert_int_eq(cact_sandbox_session_reset(s, &err), 0);
	expect(s, "import os\nprint('z' in globals(), os.listdir('/output'))", "False []\n");
	ck_assert_uint_eq(cact_sandbox_session_runs(s), 1);
	cact_sandbox_session_close(s);
	cact_runtime_free(rt);
}
END_TEST

/* ---- limits end the session ---- */

/* The run ends badly with status want; the session then refuses, naming cause and run. */
static void assert_ends(struct cact_sandbox_session *s, const char *code, enum cact_status want,
			const char *cause)
{
	struct cact_error err = {0};
	struct cact_result *r = run(s, code);
	char expect_msg[128];

	t_assert_status(r, want);
	cact_result_free(r);
	ck_assert_ptr_nonnull(cact_sandbox_session_ended(s));
	ck_assert_msg(strstr(cact_sandbox_session_ended(s), cause), "ended: %s",
		      cact_sandbox_session_ended(s));
	ck_assert_int_eq(cact_sandbox_session_run(s, "print(1)", 8, NULL, &r, &err), CACT_ESANDBOX);
	ck_assert_ptr_null(r);
	snprintf(expect_msg, sizeof(expect_msg), "session ended: %s",
		 cact_sandbox_session_ended(s));
	ck_assert_msg(strstr(err.message, expect_msg) && strstr(err.message, cause) &&
			      strstr(err.message, "start a new session"),
		      "error: %s", err.message);
}

START_TEST(timeout_ends_the_session)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_sandbox_session *s = session_on(rt, 1000, NULL);

	expect(s, "a = 1", "");
	assert_ends(s, "import time\ntime.sleep(5)", CACT_STATUS_TIMEOUT, "timeout in run 2");
	cact_sandbox_session_close(s);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(cpu_limit_per_run_ends_the_session)
{
	/* Four threads spin: CPU runs out before the wall clock. */
	struct cact_runtime *rt = t_runtime();
	struct cact_sandbox_session *s = session_on(rt, 3000, NULL);

	assert_ends(s,
		    "import threading\n"
		    "def spin():\n    while True: pass\n"
		    "ts = [threading.Thread(target=spin, daemon=True) for _ in range(4)]\n"
		    "[t.start() for t in ts]\n"
		    "import time\ntime.sleep(20)\n",
		    CACT_STATUS_TIMEOUT, "in run 1");
	cact_sandbox_session_close(s);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(memory_ends_the_session)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *tmpl = template_of(0, 64u << 20);
	struct cact_sandbox_session *s = NULL;
	struct cact_error err = {0};

	ck_assert_int_eq(cact_sandbox_session_new(rt, tmpl, NULL, &s, &err), 0);
	cact_request_free(tmpl);
	expect(s, "keep = bytearray(32 << 20)", "");
	assert_ends(s, "more = bytearray(64 << 20)", CACT_STATUS_MEMORY_LIMIT, "in run 2");
	cact_sandbox_session_close(s);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(crash_ends_the_session)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_sandbox_session *s = session_on(rt, 0, NULL);

	assert_ends(s, "import ctypes\nctypes.string_at(0)", CACT_STATUS_CRASHED, "in run 1");
	cact_sandbox_session_close(s);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(idle_timeout_and_lifetime)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_sandbox_session_options o;
	struct cact_sandbox_session *s;
	struct cact_error err = {0};
	struct cact_result *r = NULL;
	uint64_t deadline;

	cact_sandbox_session_options_init(&o);
	ck_assert_uint_eq(o.idle_timeout_ms, 600000);
	ck_assert_uint_eq(o.lifetime_ms, 3600000);
	o.idle_timeout_ms = 1500;
	s = session_on(rt, 0, &o);
	expect(s, "v = 1", "");
	deadline = now_ms() + 10000;
	while (!cact_sandbox_session_ended(s) && now_ms() < deadline)
		sleep_ms(100);
	ck_assert_ptr_nonnull(cact_sandbox_session_ended(s));
	ck_assert_msg(strstr(cact_sandbox_session_ended(s), "idle"), "%s",
		      cact_sandbox_session_ended(s));
	ck_assert_int_eq(cact_sandbox_session_run(s, "print(v)", 8, NULL, &r, &err), CACT_ESANDBOX);
	ck_assert_ptr_nonnull(strstr(err.message, "idle"));
	cact_sandbox_session_close(s);

	cact_sandbox_session_options_init(&o);
	o.lifetime_ms = 2000;
	s = session_on(rt, 0, &o);
	expect(s, "v = 1", "");
	/* A run still going when the lifetime ends is ended with it. */
	r = run(s, "import time\ntime.sleep(5)");
	ck_assert_int_ne(cact_result_status(r), CACT_STATUS_OK);
	cact_result_free(r);
	ck_assert_ptr_nonnull(strstr(cact_sandbox_session_ended(s), "lifetime"));
	cact_sandbox_session_close(s);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(session_cap_refuses)
{
	struct cact_runtime_options ro;
	struct cact_runtime *rt;
	struct cact_sandbox_session *a, *b, *c = NULL;
	struct cact_request *tmpl = template_of(0, 0);
	struct cact_error err = {0};

	cact_runtime_options_init(&ro);
	ck_assert_uint_eq(ro.max_sessions, 64);
	ro.max_sessions = 2;
	rt = t_runtime_opts(&ro);
	a = session_on(rt, 0, NULL);
	b = session_on(rt, 0, NULL);
	ck_assert_int_eq(cact_sandbox_session_new(rt, tmpl, NULL, &c, &err), CACT_ESANDBOX);
	ck_assert_ptr_nonnull(strstr(err.message, "too many sessions"));
	ck_assert_ptr_null(c);
	/* Executions are not sessions: they still run. */
	{
		struct cact_result *r = t_run(rt, "print('exec')", 0);

		ck_assert_str_eq(t_out(r), "exec\n");
		cact_result_free(r);
	}
	cact_sandbox_session_close(a);
	ck_assert_int_eq(cact_sandbox_session_new(rt, tmpl, NULL, &c, &err), 0);
	expect(c, "print('third')", "third\n");
	cact_sandbox_session_close(b);
	cact_sandbox_session_close(c);
	cact_request_free(tmpl);
	cact_runtime_free(rt);
}
END_TEST

/* ---- interrupts, kills, many sessions ---- */

struct later {
	struct cact_sandbox_session *s;
	unsigned ms;
};

static void *interrupt_later(void *arg)
{
	struct later *l = arg;

	sleep_ms(l->ms);
	cact_sandbox_session_interrupt(l->s);
	return NULL;
}

START_TEST(interrupt_keeps_the_session)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_sandbox_session *s = session_on(rt, 10000, NULL);
	struct later l = {.ms = 700};
	struct cact_result *r;
	pthread_t th;

	l.s = s;
	expect(s, "n = 0", "");
	ck_assert_int_eq(pthread_create(&th, NULL, interrupt_later, &l), 0);
	r = run(s, "import time\nwhile True:\n    n += 1\n    time.sleep(0.01)\n");
	pthread_join(th, NULL);
	t_assert_status(r, CACT_STATUS_PYTHON_ERROR);
	ck_assert_str_eq(cact_result_error_type(r), "KeyboardInterrupt");
	cact_result_free(r);
	ck_assert_ptr_null(cact_sandbox_session_ended(s));
	r = run(s, "print(n > 10)");
	ck_assert_str_eq(t_out(r), "True\n");
	cact_result_free(r);
	/* Between runs an interrupt does nothing, and the next run is not hit by it. */
	ck_assert_int_eq(cact_sandbox_session_interrupt(s), 1);
	sleep_ms(100);
	expect(s, "import time\ntime.sleep(0.2)\nprint('undisturbed')", "undisturbed\n");
	cact_sandbox_session_close(s);
	cact_runtime_free(rt);
}
END_TEST

struct early {
	struct cact_sandbox_session *s;
	_Atomic int go;
	unsigned delay_us;
};

/* Interrupts once, as soon as the run is on (1: not on yet, try again). */
static void *interrupt_early(void *arg)
{
	struct early *e = arg;

	while (!atomic_load(&e->go))
		;
	usleep(e->delay_us);
	while (cact_sandbox_session_interrupt(e->s) == 1)
		usleep(50);
	return NULL;
}

/*
 * An interrupt that comes while the run starts, before the code does, is
 * not lost: the code gets it when it starts. Delays from 0 to 3 ms land
 * it in every phase of a run's start (request, resume, set-up frames).
 */
START_TEST(interrupt_before_the_code_starts_is_not_lost)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_sandbox_session *s = session_on(rt, 20000, NULL);
	unsigned i;

	expect(s, "n = 0", "");
	for (i = 0; i < 30; i++) {
		struct early e = {.s = s, .delay_us = (i % 10) * 300};
		struct cact_result *r;
		pthread_t th;

		ck_assert_int_eq(pthread_create(&th, NULL, interrupt_early, &e), 0);
		atomic_store(&e.go, 1);
		r = run(s, "n += 1\nwhile True:\n    pass\n");
		pthread_join(th, NULL);
		t_assert_status(r, CACT_STATUS_PYTHON_ERROR);
		ck_assert_str_eq(cact_result_error_type(r), "KeyboardInterrupt");
		cact_result_free(r);
	}
	ck_assert_ptr_null(cact_sandbox_session_ended(s));
	/* Between runs there is nothing to interrupt, and the next run is not hit. */
	ck_assert_int_eq(cact_sandbox_session_interrupt(s), 1);
	expect(s, "print(n <= 30)", "True\n");
	cact_sandbox_session_close(s);
	cact_runtime_free(rt);
}
END_TEST

/*
 * A traceback quotes the lines of every run its frames come from, named
 * <code-N>, even after the code cleared linecache's cache.
 */
START_TEST(traceback_quotes_earlier_runs)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_sandbox_session *s = session_on(rt, 10000, NULL);
	struct cact_result *r;
	const char *tb;

	expect(s, "import linecache\ndef f():\n    raise ValueError('from run one')\n", "");
	expect(s, "x = 1", "");
	r = run(s, "linecache.clearcache()\nf()\n");
	t_assert_status(r, CACT_STATUS_PYTHON_ERROR);
	tb = cact_result_error_traceback(r);
	ck_assert_msg(tb && strstr(tb, "File \"<code-3>\", line 2") && strstr(tb, "    f()") &&
			      strstr(tb, "File \"<code-1>\", line 3") &&
			      strstr(tb, "raise ValueError('from run one')"),
		      "traceback: %s", tb ? tb : "(none)");
	cact_result_free(r);
	cact_sandbox_session_close(s);
	cact_runtime_free(rt);
}
END_TEST

/* Code that is refused before it runs (a NUL in it) leaves the session as it was. */
START_TEST(refused_code_keeps_the_session)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_sandbox_session *s = session_on(rt, 10000, NULL);
	static const char nul[] = "x = 1\0x = 2";
	struct cact_error err = {0};
	struct cact_result *r = NULL;

	expect(s, "x = 41", "");
	ck_assert_int_ne(cact_sandbox_session_run(s, nul, sizeof(nul) - 1, NULL, &r, &err), 0);
	ck_assert_ptr_null(r);
	ck_assert_msg(strstr(err.message, "NUL"), "error: %s", err.message);
	ck_assert_ptr_null(cact_sandbox_session_ended(s));
	expect(s, "print(x + 1)", "42\n");
	cact_sandbox_session_close(s);
	cact_runtime_free(rt);
}
END_TEST

/* exit() and quit() end a run as sys.exit does; the session goes on. */
START_TEST(exit_ends_the_run_not_the_session)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_sandbox_session *s = session_on(rt, 10000, NULL);
	struct cact_result *r;

	expect(s, "x = 7\nprint('before'); quit(); print('after')", "before\n");
	r = run(s, "exit(3)");
	t_assert_status(r, CACT_STATUS_PYTHON_ERROR);
	ck_assert_int_eq(cact_result_exit_code(r), 3);
	ck_assert_str_eq(cact_result_error_type(r), "SystemExit");
	cact_result_free(r);
	expect(s, "print(x, repr(exit))", "7 Use exit() or Ctrl-D (i.e. EOF) to exit\n");
	ck_assert_ptr_null(cact_sandbox_session_ended(s));
	cact_sandbox_session_close(s);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(cancel_ends_the_session)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_sandbox_session *s = session_on(rt, 10000, NULL);
	struct cact_sandbox_session_run_options o;
	struct cact_error err = {0};
	struct cact_result *r = NULL;
	int ev = eventfd(0, EFD_CLOEXEC);
	uint64_t one = 1;

	cact_sandbox_session_run_options_init(&o);
	o.cancel_fd = ev;
	ck_assert_int_eq(write(ev, &one, sizeof(one)), (ssize_t)sizeof(one));
	ck_assert_int_eq(
		cact_sandbox_session_run(s, "import time\ntime.sleep(5)", 25, &o, &r, &err), 0);
	t_assert_status(r, CACT_STATUS_CANCELLED);
	cact_result_free(r);
	ck_assert_ptr_nonnull(strstr(cact_sandbox_session_ended(s), "cancelled in run 1"));
	close(ev);
	cact_sandbox_session_close(s);
	cact_runtime_free(rt);
}
END_TEST

/* The host pid of the session's interpreter: the only grandchild of the helper that runs code. */
static pid_t session_pid(struct cact_runtime *rt)
{
	size_t n, i;
	pid_t *d = t_descendants(cact_runtime_zygote_pid(rt), &n), found = -1;

	/* Descendants: the zygote, then its children; the session is the child with the most CPU. */
	for (i = 0; i < n; i++) {
		char path[64], buf[512], *p;
		int ppid = -1;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/stat", (int)d[i]);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) && p[2] == 'T')
			found = d[i]; /* stopped between runs: that is the session */
		(void)ppid;
		fclose(f);
	}
	free(d);
	return found;
}

START_TEST(killed_session_gives_clear_error)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_sandbox_session *s = session_on(rt, 0, NULL);
	struct cact_error err = {0};
	struct cact_result *r = NULL;
	pid_t pid;

	expect(s, "a = 1", "");
	pid = session_pid(rt);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	sleep_ms(300);
	ck_assert_int_eq(cact_sandbox_session_run(s, "print(a)", 8, NULL, &r, &err), CACT_ESANDBOX);
	ck_assert_ptr_null(r);
	ck_assert_msg(strstr(err.message, "session ended") && strstr(err.message, "killed"), "%s",
		      err.message);
	cact_sandbox_session_close(s);
	/* The runtime is fine. */
	r = t_run(rt, "print('ok')", 0);
	ck_assert_str_eq(t_out(r), "ok\n");
	cact_result_free(r);
	cact_runtime_free(rt);
}
END_TEST

struct many {
	struct cact_runtime *rt;
	int index, ok;
};

static void *one_session(void *arg)
{
	struct many *m = arg;
	struct cact_request *tmpl = NULL;
	struct cact_sandbox_session *s = NULL;
	struct cact_error err = {0};
	struct cact_result *r = NULL;
	char code[64], want[32];

	if (cact_request_new(&tmpl) || cact_sandbox_session_new(m->rt, tmpl, NULL, &s, &err))
		goto out;
	snprintf(code, sizeof(code), "mine = %d", m->index);
	if (cact_sandbox_session_run(s, code, strlen(code), NULL, &r, &err) ||
	    cact_result_status(r) != CACT_STATUS_OK)
		goto out;
	cact_result_free(r);
	r = NULL;
	snprintf(want, sizeof(want), "%d\n", m->index);
	if (cact_sandbox_session_run(s, "print(mine)", 11, NULL, &r, &err) == 0 &&
	    strcmp(cact_result_stdout(r, NULL, NULL), want) == 0)
		m->ok = 1;
out:
	cact_result_free(r);
	cact_sandbox_session_close(s);
	cact_request_free(tmpl);
	return NULL;
}

START_TEST(hundred_concurrent_sessions)
{
	struct cact_runtime_options ro;
	struct cact_runtime *rt;
	struct many m[100];
	pthread_t th[100];
	int i, ok = 0;

	cact_runtime_options_init(&ro);
	ro.max_sessions = 100;
	rt = t_runtime_opts(&ro);
	for (i = 0; i < 100; i++) {
		m[i].rt = rt;
		m[i].index = i;
		m[i].ok = 0;
		ck_assert_int_eq(pthread_create(&th[i], NULL, one_session, &m[i]), 0);
	}
	for (i = 0; i < 100; i++) {
		pthread_join(th[i], NULL);
		ok += m[i].ok;
	}
	ck_assert_int_eq(ok, 100);
	cact_runtime_free(rt);
}
END_TEST

/* ---- attacks that need state ---- */

START_TEST(thread_between_runs_is_stopped)
{
	/* A thread counts while runs go on; between runs it must not advance. */
	struct cact_runtime *rt = t_runtime();
	struct cact_sandbox_session *s = session_on(rt, 0, NULL);
	struct cact_result *r;
	long a = -1, b = -2;

	expect(s,
	       "import threading, time\n"
	       "count = [0]\n"
	       "def tick():\n"
	       "    while True:\n"
	       "        count[0] += 1\n"
	       "        time.sleep(0.001)\n"
	       "threading.Thread(target=tick, daemon=True).start()\n"
	       "time.sleep(0.1)\n",
	       "");
	r = run(s, "print(count[0])");
	ck_assert_int_eq(sscanf(t_out(r), "%ld", &a), 1);
	cact_result_free(r);
	sleep_ms(800);
	r = run(s, "print(count[0])");
	ck_assert_int_eq(sscanf(t_out(r), "%ld", &b), 1);
	cact_result_free(r);
	/* Between the two reads only the second run's own moments passed. */
	ck_assert_msg(b - a < 200, "the thread ran between runs: %ld then %ld", a, b);
	cact_sandbox_session_close(s);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(thread_writing_during_harvest)
{
	/* A thread rewrites /output while runs end: every file reported is whole. */
	struct cact_runtime *rt = t_runtime();
	struct cact_sandbox_session *s = session_on(rt, 0, NULL);
	int k;

	expect(s,
	       "import threading, itertools\n"
	       "def churn():\n"
	       "    for i in itertools.count():\n"
	       "        with open('/output/f%d' % (i % 20), 'w') as fh:\n"
	       "            fh.write('x' * 4096)\n"
	       "threading.Thread(target=churn, daemon=True).start()\n",
	       "");
	for (k = 0; k < 10; k++) {
		struct cact_result *r = run(s, "import time\ntime.sleep(0.05)");
		size_t i;

		t_assert_status(r, CACT_STATUS_OK);
		for (i = 0; i < cact_result_file_count(r); i++) {
			struct cact_file f;

			ck_assert_int_eq(cact_result_file(r, i, &f), 0);
			ck_assert_msg(f.size == 0 || f.size == 4096, "%s: %zu bytes", f.path,
				      f.size);
		}
		cact_result_free(r);
	}
	cact_sandbox_session_close(s);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(tampered_runner_cannot_forge_host_facts)
{
	/*
	 * Run 1 rewires the runner: it replaces its run function, print, and
	 * the builtins it uses. Run 2 then does several things the host sees
	 * for itself: it writes to stdout and /output, and takes too long.
	 * Whatever the tampered runner reports, the host's facts stand.
	 */
	struct cact_runtime *rt = t_runtime();
	struct cact_sandbox_session *s = session_on(rt, 1500, NULL);
	struct cact_result *r;
	char *n;

	expect(s,
	       "import sys, builtins\n"
	       "runner = sys.modules.get('_cact_runner')\n"
	       "if runner is not None:\n"
	       "    real = runner.run\n"
	       "    def forged(source, *a, **k):\n"
	       "        real(source, *a, **k)\n"
	       "        return 0, "
	       "'{\"type\":\"result\",\"exit_code\":0,\"error\":null,\"memory_error\":false}'\n"
	       "    runner.run = forged\n"
	       "builtins.compile = lambda *a, **k: (_ for _ in ()).throw(SystemExit(0))\n",
	       "");
	/* The file list comes from /output, read by the host: not forgeable. */
	r = run(s, "x");
	n = names(r);
	ck_assert_str_eq(n, "");
	free(n);
	cact_result_free(r);
	/* A run that outlasts its limit is killed whatever the runner would say. */
	r = run(s, "x");
	cact_result_free(r);
	cact_sandbox_session_close(s);

	s = session_on(rt, 1500, NULL);
	expect(s,
	       "import sys\n"
	       "r = sys.modules.get('_cact_runner')\n"
	       "import time\n"
	       "if r is not None:\n"
	       "    real = r.run\n"
	       "    def slow(source, *a, **k):\n"
	       "        open('/output/planted', 'w').write('p')\n"
	       "        time.sleep(5)\n"
	       "        return real(source, *a, **k)\n"
	       "    r.run = slow\n",
	       "");
	r = run(s, "print('never')");
	t_assert_status(r, CACT_STATUS_TIMEOUT);
	ck_assert_ptr_nonnull(cact_sandbox_session_ended(s));
	cact_result_free(r);
	cact_sandbox_session_close(s);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(escape_attempts_inside_a_session)
{
	/* The sandbox is the same: a forbidden call kills, a file outside stays unseen. */
	struct cact_runtime *rt = t_runtime();
	struct cact_sandbox_session *s = session_on(rt, 0, NULL);
	struct cact_result *r;

	expect(s, "import os\nprint(os.path.exists('/etc/shadow'), os.path.exists('/proc/1'))",
	       "False False\n");
	r = run(s, "import socket\ntry:\n    socket.socket()\nexcept OSError as e:\n    "
		   "print('refused')");
	ck_assert_str_eq(t_out(r), "refused\n");
	cact_result_free(r);
	assert_ends(s, "import ctypes\nctypes.CDLL(None).syscall(101, 0, 0, 0, 0)",
		    CACT_STATUS_SANDBOX_VIOLATION, "in run 3");
	cact_sandbox_session_close(s);
	cact_runtime_free(rt);
}
END_TEST

int main(int argc, char **argv)
{
	const struct t_case cases[] = {
		T_CASE(globals_imports_and_files_persist, 60),
		T_CASE(errors_keep_the_session, 60),
		T_CASE(two_sessions_never_meet, 60),
		T_CASE(reset_gives_a_fresh_interpreter, 60),
		T_CASE(timeout_ends_the_session, 60),
		T_CASE(cpu_limit_per_run_ends_the_session, 60),
		T_CASE(memory_ends_the_session, 60),
		T_CASE(crash_ends_the_session, 60),
		T_CASE(idle_timeout_and_lifetime, 60),
		T_CASE(session_cap_refuses, 60),
		T_CASE(interrupt_keeps_the_session, 60),
		T_CASE(interrupt_before_the_code_starts_is_not_lost, 120),
		T_CASE(refused_code_keeps_the_session, 60),
		T_CASE(traceback_quotes_earlier_runs, 60),
		T_CASE(exit_ends_the_run_not_the_session, 60),
		T_CASE(cancel_ends_the_session, 60),
		T_CASE(killed_session_gives_clear_error, 60),
		T_CASE(hundred_concurrent_sessions, 240),
		T_CASE(thread_between_runs_is_stopped, 60),
		T_CASE(thread_writing_during_harvest, 60),
		T_CASE(tampered_runner_cannot_forge_host_facts, 60),
		T_CASE(escape_attempts_inside_a_session, 60),
	};

	return t_main("sessions", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
