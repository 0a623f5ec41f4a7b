/* SPDX-License-Identifier: MIT */
/*
 * The runtime under load and in trouble, by the public API: callers served
 * in arrival order, the wait's own bound and the line's cap (busy results),
 * the result taken while the execution is stopped, and recovery when the
 * zygote or the guest helper is killed (no zombie left, later calls served,
 * and a runtime that gives up after repeated losses).
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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

static struct cact_request *req_of(const char *code, unsigned timeout_ms)
{
	struct cact_request *req = NULL;
	struct cact_error err = {0};

	ck_assert_int_eq(cact_request_new(&req), 0);
	ck_assert_msg(cact_request_set_code(req, code, strlen(code), &err) == 0, "%s", err.message);
	if (timeout_ms)
		ck_assert_int_eq(
			cact_request_set_limit(req, CACT_LIMIT_TIMEOUT_MS, timeout_ms, &err), 0);
	return req;
}

/* A runtime of at most `running` executions at once, a line of queue_max, a wait of wait_ms. */
static struct cact_runtime *small_runtime(unsigned running, unsigned queue_max, unsigned wait_ms)
{
	struct cact_runtime_options o;

	cact_runtime_options_init(&o);
	o.max_running = running;
	o.queue_max = queue_max;
	o.queue_timeout_ms = wait_ms;
	return t_runtime_opts(&o);
}

/* ---- callers on threads ---- */

struct call {
	struct cact_runtime *rt;
	struct cact_request *req;
	struct cact_result *res;
	int rc;
	char err[512];
	uint64_t started, ended;
	pthread_t th;
};

static void *call_main(void *arg)
{
	struct call *c = arg;
	struct cact_error err = {0};

	c->started = now_ms();
	c->rc = cact_runtime_run(c->rt, c->req, &c->res, &err);
	c->ended = now_ms();
	snprintf(c->err, sizeof(c->err), "%s", err.message);
	return NULL;
}

static void call_start(struct call *c, struct cact_runtime *rt, const char *code,
		       unsigned timeout_ms)
{
	memset(c, 0, sizeof(*c));
	c->rt = rt;
	c->req = req_of(code, timeout_ms);
	ck_assert_int_eq(pthread_create(&c->th, NULL, call_main, c), 0);
}

static void call_join(struct call *c)
{
	pthread_join(c->th, NULL);
	cact_request_free(c->req);
	c->req = NULL;
}

static void call_free(struct call *c)
{
	cact_result_free(c->res);
	c->res = NULL;
}

/* Waits until the runtime reports n callers waiting (or fails after 10 s). */
static void await_waiting(struct cact_runtime *rt, unsigned n)
{
	uint64_t deadline = now_ms() + 10000;
	struct cact_runtime_stats st;

	for (;;) {
		cact_runtime_stats(rt, &st);
		if (st.waiting >= n)
			return;
		ck_assert_msg(now_ms() < deadline, "%u callers waiting, expected %u", st.waiting,
			      n);
		sleep_ms(5);
	}
}

/* ---- fair waiting ---- */

START_TEST(waiters_served_in_arrival_order)
{
	/*
	 * One execution at a time. A first caller holds it; eight more line up
	 * one by one; each prints its rank and the time it started. They must
	 * start in the order they arrived.
	 */
	struct cact_runtime *rt = small_runtime(1, 64, 60000);
	struct call first, c[8];
	char code[128];
	int i;

	call_start(&first, rt, "import time\ntime.sleep(1.0)\n", 0);
	{
		struct cact_runtime_stats st;
		uint64_t deadline = now_ms() + 10000;

		do {
			cact_runtime_stats(rt, &st);
			sleep_ms(5);
		} while (st.running < 1 && now_ms() < deadline);
		ck_assert_uint_eq(st.running, 1);
	}
	for (i = 0; i < 8; i++) {
		snprintf(code, sizeof(code), "import time\nprint(%d, time.monotonic_ns())\n", i);
		call_start(&c[i], rt, code, 0);
		await_waiting(rt, (unsigned)i + 1);
	}
	call_join(&first);
	ck_assert_int_eq(first.rc, 0);
	t_assert_status(first.res, CACT_STATUS_OK);
	call_free(&first);
	{
		long long prev = -1;

		for (i = 0; i < 8; i++) {
			int rank = -1;
			long long t = -1;

			call_join(&c[i]);
			ck_assert_msg(c[i].rc == 0, "caller %d: %s", i, c[i].err);
			t_assert_status(c[i].res, CACT_STATUS_OK);
			ck_assert_int_eq(sscanf(t_out(c[i].res), "%d %lld", &rank, &t), 2);
			ck_assert_int_eq(rank, i);
			ck_assert_msg(t > prev, "caller %d started before caller %d", i, i - 1);
			prev = t;
			call_free(&c[i]);
		}
	}
	cact_runtime_free(rt);
}
END_TEST

START_TEST(full_line_is_busy_at_once)
{
	/* One running, a line of one: the third caller is refused without waiting. */
	struct cact_runtime *rt = small_runtime(1, 1, 60000);
	struct cact_runtime_stats st;
	struct call hold, wait;
	struct cact_result *r;
	uint64_t t0;

	call_start(&hold, rt, "import time\ntime.sleep(1.5)\n", 0);
	sleep_ms(300);
	call_start(&wait, rt, "print('second')\n", 0);
	await_waiting(rt, 1);
	t0 = now_ms();
	r = t_run(rt, "print('third')", 0);
	ck_assert_msg(now_ms() - t0 < 1000, "the refusal waited %llu ms",
		      (unsigned long long)(now_ms() - t0));
	t_assert_status(r, CACT_STATUS_BUSY);
	ck_assert_str_eq(cact_result_error_type(r), "busy");
	ck_assert_ptr_nonnull(strstr(cact_result_error_message(r), "retry"));
	ck_assert_str_eq(t_out(r), "");
	cact_result_free(r);
	call_join(&hold);
	call_join(&wait);
	t_assert_status(hold.res, CACT_STATUS_OK);
	t_assert_status(wait.res, CACT_STATUS_OK);
	ck_assert_str_eq(t_out(wait.res), "second\n");
	call_free(&hold);
	call_free(&wait);
	cact_runtime_stats(rt, &st);
	ck_assert_uint_eq(st.busy, 1);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(wait_has_its_own_bound)
{
	/* A wait of 500 ms: a caller behind a 3 s execution is told busy after about that long. */
	struct cact_runtime *rt = small_runtime(1, 8, 500);
	struct cact_result *r;
	struct cact_stats st;
	struct call hold;
	uint64_t t0, took;

	call_start(&hold, rt, "import time\ntime.sleep(3)\n", 0);
	sleep_ms(300);
	t0 = now_ms();
	r = t_run(rt, "print('late')", 0);
	took = now_ms() - t0;
	t_assert_status(r, CACT_STATUS_BUSY);
	ck_assert_ptr_nonnull(strstr(cact_result_error_message(r), "retry"));
	ck_assert_msg(took >= 400 && took < 2500, "the wait ended after %llu ms",
		      (unsigned long long)took);
	cact_result_stats(r, &st);
	ck_assert_uint_ge(st.queue_us, 400000);
	cact_result_free(r);
	call_join(&hold);
	t_assert_status(hold.res, CACT_STATUS_OK);
	call_free(&hold);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(wait_not_charged_to_code)
{
	/*
	 * The caller waits about 1.5 s for the only slot; its code then sleeps
	 * 0.8 s under a 1.2 s limit: it must succeed, since the wait is not
	 * the code's time.
	 */
	struct cact_runtime *rt = small_runtime(1, 8, 30000);
	struct cact_stats st;
	struct call hold, late;

	call_start(&hold, rt, "import time\ntime.sleep(1.5)\n", 0);
	sleep_ms(200);
	call_start(&late, rt, "import time\ntime.sleep(0.8)\nprint('in time')\n", 1200);
	call_join(&hold);
	call_join(&late);
	t_assert_status(hold.res, CACT_STATUS_OK);
	ck_assert_msg(late.rc == 0, "%s", late.err);
	t_assert_status(late.res, CACT_STATUS_OK);
	ck_assert_str_eq(t_out(late.res), "in time\n");
	cact_result_stats(late.res, &st);
	ck_assert_uint_ge(st.queue_us, 800000);
	call_free(&hold);
	call_free(&late);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(pool_grows_under_load_and_stays_bounded)
{
	/* Callers that keep finding the pool empty make it grow, never past pool_max. */
	struct cact_runtime_options o;
	struct cact_runtime_stats st;
	struct cact_runtime *rt;
	struct call c[6];
	unsigned peak = 0;
	int i, round;

	cact_runtime_options_init(&o);
	o.pool_size = 1;
	o.pool_max = 3;
	rt = t_runtime_opts(&o);
	for (round = 0; round < 4; round++) {
		for (i = 0; i < 6; i++)
			call_start(&c[i], rt, "print('x')", 0);
		for (i = 0; i < 6; i++) {
			call_join(&c[i]);
			ck_assert_msg(c[i].rc == 0, "%s", c[i].err);
			t_assert_status(c[i].res, CACT_STATUS_OK);
			call_free(&c[i]);
		}
		cact_runtime_stats(rt, &st);
		if (st.pool_target > peak)
			peak = st.pool_target;
		ck_assert_uint_le(st.pool_target, 3);
		ck_assert_uint_le(st.idle + st.preparing, 3);
	}
	ck_assert_msg(peak > 1, "the pool never grew (target %u)", peak);
	cact_runtime_free(rt);
}
END_TEST

/* ---- result before teardown ---- */

START_TEST(result_while_threads_still_write)
{
	/*
	 * The code leaves a thread that writes to /output and stdout without
	 * end. The result comes back (the execution is stopped, then killed),
	 * with a consistent set of files: each one complete.
	 */
	struct cact_runtime *rt = t_runtime();
	struct cact_result *r;
	struct cact_file f;
	size_t i, n;

	r = t_run(rt,
		  "import threading, itertools\n"
		  "def churn():\n"
		  "    for i in itertools.count():\n"
		  "        with open('/output/f%d.txt' % (i % 50), 'w') as fh:\n"
		  "            fh.write('x' * 1000)\n"
		  "        print('line', i)\n"
		  "threading.Thread(target=churn, daemon=True).start()\n"
		  "import time\ntime.sleep(0.2)\n"
		  "print('main done')\n",
		  10000);
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_ptr_nonnull(strstr(t_out(r), "main done"));
	n = cact_result_file_count(r);
	ck_assert_uint_gt(n, 0);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(cact_result_file(r, i, &f), 0);
		/* A file being rewritten is either empty (just truncated) or whole. */
		ck_assert_msg(f.size == 0 || f.size == 1000, "%s has %zu bytes", f.path, f.size);
	}
	cact_result_free(r);
	/* The next execution is clean and the host is fine. */
	r = t_run(rt, "import os\nprint(os.listdir('/output'))", 0);
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_str_eq(t_out(r), "[]\n");
	cact_result_free(r);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(result_returns_before_teardown)
{
	/*
	 * After the call returns, the execution's process may still be there,
	 * stopped or on its way out; within a moment it is gone, and no
	 * process is left behind but the zygote and its prepared children.
	 */
	struct cact_runtime *rt = t_runtime();
	struct cact_runtime_stats st;
	struct cact_result *r = t_run(rt, "x = bytearray(64 << 20)\nprint(len(x))", 0);
	uint64_t deadline;

	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_str_eq(t_out(r), "67108864\n");
	cact_result_free(r);
	deadline = now_ms() + 5000;
	for (;;) {
		pid_t outer = cact_runtime_zygote_pid(rt);
		size_t n;
		pid_t *d = t_descendants(outer, &n);

		cact_runtime_stats(rt, &st);
		free(d);
		/* The zygote, plus prepared children. */
		if (n <= 1 + st.idle + st.preparing && st.running == 0)
			break;
		ck_assert_msg(now_ms() < deadline, "%zu processes below the helper", n);
		sleep_ms(20);
	}
	cact_runtime_free(rt);
}
END_TEST

/* ---- recovery ---- */

struct events {
	pthread_mutex_t lock;
	int lost, restarted, gave_up;
	char last[512];
};

static void on_event(void *user, enum cact_runtime_event ev, const char *msg)
{
	struct events *e = user;

	pthread_mutex_lock(&e->lock);
	if (ev == CACT_RUNTIME_LOST)
		e->lost++;
	else if (ev == CACT_RUNTIME_RESTARTED)
		e->restarted++;
	else if (ev == CACT_RUNTIME_GAVE_UP)
		e->gave_up++;
	snprintf(e->last, sizeof(e->last), "%s", msg);
	pthread_mutex_unlock(&e->lock);
}

static int events_of(struct events *e, int which)
{
	int v;

	pthread_mutex_lock(&e->lock);
	v = which == 0 ? e->lost : which == 1 ? e->restarted : e->gave_up;
	pthread_mutex_unlock(&e->lock);
	return v;
}

/* The first child of parent (0 when it has none), and how many it has. */
static pid_t first_child(pid_t parent, size_t *n)
{
	char path[96];
	FILE *f;
	int pid, first = 0;

	*n = 0;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)parent, (int)parent);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fscanf(f, "%d", &pid) == 1) {
		if (!first)
			first = pid;
		(*n)++;
	}
	fclose(f);
	return first;
}

/* The zygote: the only child of the guest helper; -1 when there is none. */
static pid_t zygote_pid(struct cact_runtime *rt)
{
	size_t n;
	pid_t z = first_child(cact_runtime_zygote_pid(rt), &n);

	return z > 0 ? z : -1;
}

/* The state letter and parent of pid ('?' when it is gone). */
static char state_of(pid_t pid, pid_t *ppid)
{
	char path[64], buf[512], *p, st = '?';
	FILE *f;
	int pp = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return '?';
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
		sscanf(p + 1, " %c %d", &st, &pp);
	fclose(f);
	if (ppid)
		*ppid = pp;
	return st;
}

/*
 * No zombie below this process: the library reaps what it started (the
 * guest helpers, whose pids are in helpers[]). A zygote orphaned by the
 * kill of its helper is adopted by us (we are a subreaper, to see leaks),
 * as it would be by init otherwise: such orphans are ours to reap, and
 * must be dead.
 */
static void assert_no_zombies(const pid_t *helpers, size_t n_helpers)
{
	uint64_t deadline = now_ms() + 5000;
	size_t n, i, k;
	pid_t *d;

	for (;;) {
		int zombies = 0;

		d = t_descendants(getpid(), &n);
		for (i = 0; i < n; i++) {
			pid_t pp = -1;
			int helper = 0;

			if (state_of(d[i], &pp) != 'Z')
				continue;
			for (k = 0; k < n_helpers; k++)
				helper |= helpers[k] == d[i];
			if (!helper && pp == getpid()) {
				waitpid(d[i], NULL, WNOHANG);
				continue;
			}
			zombies++;
			if (now_ms() >= deadline)
				ck_abort_msg("zombie process %d (parent %d)%s", (int)d[i], (int)pp,
					     helper ? ": a guest helper the library did not reap"
						    : "");
		}
		free(d);
		if (!zombies)
			return;
		sleep_ms(20);
	}
}

static struct cact_runtime *runtime_with_events(struct events *e)
{
	struct cact_runtime_options o;

	memset(e, 0, sizeof(*e));
	pthread_mutex_init(&e->lock, NULL);
	cact_runtime_options_init(&o);
	o.event_fn = on_event;
	o.event_user = e;
	return t_runtime_opts(&o);
}

/* Kills victim (the zygote when zygote, else the guest helper) while four callers run. */
static void kill_under_load(int zygote)
{
	struct events ev;
	struct cact_runtime *rt = runtime_with_events(&ev);
	struct call c[4];
	struct cact_result *r;
	pid_t victim, old_outer = cact_runtime_zygote_pid(rt);
	uint64_t deadline;
	int i, failed = 0;

	/* Orphans of the library (there must be none) become ours, where they can be seen. */
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
	for (i = 0; i < 4; i++)
		call_start(&c[i], rt, "import time\ntime.sleep(2)\nprint('survived')\n", 0);
	sleep_ms(800);
	victim = zygote ? zygote_pid(rt) : cact_runtime_zygote_pid(rt);
	ck_assert_int_gt(victim, 0);
	ck_assert_int_eq(kill(victim, SIGKILL), 0);
	for (i = 0; i < 4; i++) {
		call_join(&c[i]);
		/* Calls in flight end with a clear error, not a hang and not a fake result. */
		if (c[i].rc != 0) {
			failed++;
			ck_assert_msg(strstr(c[i].err, "lost") && strstr(c[i].err, "zygote"),
				      "caller %d: %s", i, c[i].err);
		} else {
			ck_assert_msg(cact_result_status(c[i].res) != CACT_STATUS_OK ||
					      strstr(t_out(c[i].res), "survived"),
				      "caller %d: a result with no output", i);
		}
		call_free(&c[i]);
	}
	ck_assert_int_eq(failed, 4);
	/* Later calls succeed on a fresh zygote. */
	deadline = now_ms() + 30000;
	for (;;) {
		struct cact_error err = {0};
		struct cact_request *req = req_of("print('again')", 0);
		int rc = cact_runtime_run(rt, req, &r, &err);

		cact_request_free(req);
		if (rc == 0 && cact_result_status(r) == CACT_STATUS_OK)
			break;
		if (rc == 0)
			cact_result_free(r);
		ck_assert_msg(now_ms() < deadline, "no execution succeeded after the loss: %s",
			      err.message);
		sleep_ms(50);
	}
	ck_assert_str_eq(t_out(r), "again\n");
	cact_result_free(r);
	ck_assert_int_ne(cact_runtime_zygote_pid(rt), old_outer);
	ck_assert_int_ge(events_of(&ev, 0), 1);
	ck_assert_int_ge(events_of(&ev, 1), 1);
	ck_assert_int_eq(events_of(&ev, 2), 0);
	ck_assert_int_eq(cact_runtime_check(rt, NULL), 0);
	{
		pid_t helpers[] = {old_outer, cact_runtime_zygote_pid(rt)};

		assert_no_zombies(helpers, 2);
	}
	cact_runtime_free(rt);
	/* Everything reaped: the old helper, the new one, every sandbox. */
	{
		size_t n;
		pid_t *d;

		for (deadline = now_ms() + 5000;; sleep_ms(20)) {
			while (waitpid(-1, NULL, WNOHANG) > 0)
				; /* reparented orphans would show here: there must be none */
			d = t_descendants(getpid(), &n);
			free(d);
			if (n == 0 || now_ms() >= deadline)
				break;
		}
		ck_assert_msg(n == 0, "%zu processes left after cact_runtime_free", n);
	}
}

START_TEST(zygote_killed_under_load)
{
	kill_under_load(1);
}
END_TEST

START_TEST(helper_killed_under_load)
{
	kill_under_load(0);
}
END_TEST

START_TEST(gives_up_after_repeated_losses)
{
	/* Five losses within a minute: the runtime gives up, says so, and refuses calls. */
	struct events ev;
	struct cact_runtime *rt = runtime_with_events(&ev);
	struct cact_error err = {0};
	struct cact_request *req = req_of("print(1)", 0);
	struct cact_result *r = NULL;
	uint64_t deadline = now_ms() + 60000;
	pid_t helpers[16];
	size_t n_helpers = 0;
	int kills = 0;

	while (!events_of(&ev, 2)) {
		pid_t z = zygote_pid(rt), h = cact_runtime_zygote_pid(rt);

		if (h > 0 && n_helpers < 16 && (n_helpers == 0 || helpers[n_helpers - 1] != h))
			helpers[n_helpers++] = h;
		ck_assert_msg(now_ms() < deadline, "no give-up after %d kills", kills);
		if (z > 0 && kill(z, SIGKILL) == 0) {
			int lost = events_of(&ev, 0);

			kills++;
			while (events_of(&ev, 0) == lost && now_ms() < deadline)
				sleep_ms(10);
			/* Wait for the restart (unless it gave up) before the next kill. */
			while (!events_of(&ev, 2) && events_of(&ev, 1) < kills &&
			       now_ms() < deadline)
				sleep_ms(10);
		} else {
			sleep_ms(10);
		}
	}
	ck_assert_int_eq(events_of(&ev, 0), 5);
	ck_assert_int_eq(cact_runtime_check(rt, &err), CACT_ESANDBOX);
	ck_assert_ptr_nonnull(strstr(err.message, "gave up"));
	ck_assert_int_eq(cact_runtime_run(rt, req, &r, &err), CACT_ESANDBOX);
	ck_assert_ptr_nonnull(strstr(err.message, "gave up"));
	ck_assert_ptr_null(r);
	cact_request_free(req);
	assert_no_zombies(helpers, n_helpers);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(one_shot_child_forked_ahead)
{
	/*
	 * A one-shot runtime's zygote forks the execution's child before any
	 * request. Killed before the request, it is reaped without a word to
	 * the host, and the request gets a fresh child; a second execution
	 * works too, and nothing is left behind.
	 */
	struct cact_runtime_options o;
	struct cact_runtime_stats st;
	struct cact_runtime *rt;
	struct cact_result *r;
	pid_t z, kid = 0;
	size_t n = 0;
	uint64_t deadline = now_ms() + 5000;

	cact_runtime_options_init(&o);
	o.one_shot = 1;
	rt = t_runtime_opts(&o);
	z = zygote_pid(rt);
	ck_assert_int_gt(z, 0);
	while ((kid = first_child(z, &n)) == 0) {
		ck_assert_msg(now_ms() < deadline, "the zygote forked no child ahead");
		sleep_ms(5);
	}
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(kill(kid, SIGKILL), 0);
	while (first_child(z, &n) != 0) {
		ck_assert_msg(now_ms() < deadline, "the child killed ahead was not reaped");
		sleep_ms(5);
	}
	r = t_run(rt, "print('after', 6 * 7)", 0);
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_str_eq(t_out(r), "after 42\n");
	cact_result_free(r);
	r = t_run(rt, "print('again')", 0);
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_str_eq(t_out(r), "again\n");
	cact_result_free(r);
	/* The same zygote all along: nothing was lost. */
	cact_runtime_stats(rt, &st);
	ck_assert_uint_eq(st.restarts, 0);
	ck_assert_int_eq(zygote_pid(rt), z);
	while (first_child(z, &n) != 0) {
		ck_assert_msg(now_ms() < deadline + 5000, "%zu children left below the zygote", n);
		sleep_ms(5);
	}
	cact_runtime_free(rt);
}
END_TEST

int main(int argc, char **argv)
{
	const struct t_case cases[] = {
		T_CASE(waiters_served_in_arrival_order, 120),
		T_CASE(full_line_is_busy_at_once, 60),
		T_CASE(wait_has_its_own_bound, 60),
		T_CASE(wait_not_charged_to_code, 60),
		T_CASE(pool_grows_under_load_and_stays_bounded, 120),
		T_CASE(result_while_threads_still_write, 60),
		T_CASE(result_returns_before_teardown, 60),
		T_CASE(one_shot_child_forked_ahead, 60),
		T_CASE(zygote_killed_under_load, 120),
		T_CASE(helper_killed_under_load, 120),
		T_CASE(gives_up_after_repeated_losses, 180),
	};

	return t_main("load", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
