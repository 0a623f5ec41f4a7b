/* SPDX-License-Identifier: MIT */
/*
 * cact bench: what a clean execution costs, measured side by side in one
 * run on one machine against
 *   - a fresh `python3 -I -S -c` process (Debian's /usr/bin/python3), and
 *   - the same under `bwrap --unshare-all` (Debian's bubblewrap),
 * each running the same snippet, and against the fork floor: the guest's
 * runner in a python3 that forks a plain child per execution, without a
 * sandbox, with the namespaces of an execution, and with them but running
 * no code (bench/fork_floor.py): what a fresh process costs on this
 * machine with cact's engine left out.
 *
 * Latency mode (default) times cact interleaved with the peers (the pool
 * has time to refill between cact samples: what an idle caller sees) and
 * back to back (no idle time: what a busy caller sees), and the CPU each
 * execution costs the whole process tree (host, zygote, children; the
 * peers' whole trees) and the whole machine. The last line is
 * "p50 speedup vs bwrap+python: <ratio>x", from the back-to-back figures.
 *
 * --concurrency runs K callers at once for a while (K = 1, 4, 16, 64 by
 * default), for cact and for bwrap + python3, and reports executions per
 * second, p50 and p99 and CPU per execution.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cact/cact.h>

#include "../cli/cli.h"
#include "../cli/opts.h"
#include "fork_floor_py.h"
#include "runner_py.h"

#define SNIPPET "print(sum(range(100)))"
/* Code that prints a thousand lines, for the live output figures. */
#define CHATTY "for i in range(1000):\n    print(i)\nprint(sum(range(100)))"
#define PYTHON "/usr/bin/python3"
#define BWRAP  "/usr/bin/bwrap"

extern char **environ;

static char *const py_argv[] = {PYTHON, "-I", "-S", "-c", SNIPPET, NULL};
static char *const bwrap_argv[] = {BWRAP,
				   "--unshare-all",
				   "--die-with-parent",
				   "--ro-bind",
				   "/usr",
				   "/usr",
				   "--symlink",
				   "usr/lib",
				   "/lib",
				   "--symlink",
				   "usr/lib64",
				   "/lib64",
				   "--symlink",
				   "usr/bin",
				   "/bin",
				   "--proc",
				   "/proc",
				   "--dev",
				   "/dev",
				   "--tmpfs",
				   "/tmp",
				   PYTHON,
				   "-I",
				   "-S",
				   "-c",
				   SNIPPET,
				   NULL};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Percentile p of v[0..n) in ms; sorts v. */
static double pct(uint64_t *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return (double)v[i] / 1000.0;
}

/* ---- CPU accounting ---- */

/* CPU time (µs) the machine spent busy so far, all CPUs (/proc/stat), or 0. */
static uint64_t machine_busy_us(void)
{
	unsigned long long v[10] = {0};
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f = fopen("/proc/stat", "r");
	int n;

	if (!f)
		return 0;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
		   &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
	fclose(f);
	if (n < 8)
		return 0;
	/* All but idle (3) and iowait (4); guest time is already in user. */
	return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * 1000000ull / (uint64_t)hz;
}

/* utime + stime (+ the reaped children's, with children) of pid, in µs; 0 when unreadable. */
static uint64_t proc_cpu_us(pid_t pid, int children)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st, cut, cst;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return 0;
	}
	fclose(f);
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu",
			 &ut, &st, &cut, &cst) != 4)
		return 0;
	return (ut + st + (children ? cut + cst : 0)) * 1000000ull / (uint64_t)hz;
}

/* The zygote: the guest helper's only child. */
static pid_t zygote_of(pid_t outer)
{
	char path[96];
	FILE *f;
	int z = -1;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)outer, (int)outer);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%d", &z) != 1)
			z = -1;
		fclose(f);
	}
	return z;
}

static uint64_t self_cpu_us(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/*
 * CPU of cact's whole process tree so far: this process (every thread of
 * the host), the guest helper, the zygote and every child it reaped.
 * Children still alive (prepared, or not reaped yet) count once reaped:
 * measure between two settled moments.
 */
static uint64_t cact_tree_us(struct cact_runtime *rt)
{
	pid_t outer = cact_runtime_zygote_pid(rt);
	pid_t z = outer > 0 ? zygote_of(outer) : -1;

	return self_cpu_us(RUSAGE_SELF) + (outer > 0 ? proc_cpu_us(outer, 0) : 0) +
	       (z > 0 ? proc_cpu_us(z, 1) : 0);
}

/* Waits until nothing runs or is being prepared, and the zygote reaped the last children. */
static void settle(struct cact_runtime *rt)
{
	uint64_t deadline = now_us() + 5000000;
	struct cact_runtime_stats st;

	do {
		usleep(20000);
		cact_runtime_stats(rt, &st);
	} while ((st.running || st.preparing) && now_us() < deadline);
	usleep(100000);
}

/* ---- the peers ---- */

/* Latency mode: reap orphans after each peer process (concurrent callers must not). */
static int reap_orphans;

/*
 * Starts argv with its stdout on a pipe (*out, the reading end) and, when
 * in is not -1, its stdin on that fd. The pid, or -1 with nothing left open.
 */
static pid_t spawn_piped(char *const argv[], int in, int *out)
{
	posix_spawn_file_actions_t fa;
	int o[2], rc;
	pid_t pid;

	if (pipe2(o, O_CLOEXEC))
		return -1;
	posix_spawn_file_actions_init(&fa);
	if (in >= 0)
		posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_adddup2(&fa, o[1], 1);
	rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(o[1]);
	if (rc) {
		close(o[0]);
		return -1;
	}
	*out = o[0];
	return pid;
}

/* Runs argv, checks that it printed "4950", returns its wall time in µs (0 on failure). */
static uint64_t run_process(char *const argv[])
{
	char buf[64];
	int fd, status;
	uint64_t t0, t;
	ssize_t n;
	pid_t pid;

	t0 = now_us();
	if ((pid = spawn_piped(argv, -1, &fd)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	while (read(fd, buf + (n > 0 ? n : 0), 0) > 0)
		;
	close(fd);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	t = now_us() - t0;
	/*
	 * bwrap's own init may outlive it for a moment: as a subreaper this
	 * process adopts it, and reaping it counts its CPU in RUSAGE_CHILDREN.
	 */
	while (reap_orphans && waitpid(-1, NULL, WNOHANG | __WALL) > 0)
		;
	if (n < 4 || strncmp(buf, "4950", 4) != 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		return 0;
	return t ? t : 1;
}

/* One cact execution of the snippet; wall time in µs, 0 on failure. */
static uint64_t run_cact(struct cact_runtime *rt, const struct cact_request *req)
{
	struct cact_error err = {0};
	struct cact_result *res = NULL;
	uint64_t t0 = now_us(), t;
	int ok;

	if (cact_runtime_run(rt, req, &res, &err)) {
		fprintf(stderr, "cact bench: %s\n", err.message);
		return 0;
	}
	t = now_us() - t0;
	{
		size_t len;
		const char *out = cact_result_stdout(res, &len, NULL);

		ok = cact_result_status(res) == CACT_STATUS_OK && len >= 5 &&
		     strcmp(out + len - 5, "4950\n") == 0 && (len == 5 || out[len - 6] == '\n');
	}
	if (!ok)
		fprintf(stderr, "cact bench: the execution failed: %s: %s\n",
			cact_status_name(cact_result_status(res)),
			cact_result_error_message(res) ?: "");
	cact_result_free(res);
	return ok ? (t ? t : 1) : 0;
}

/* ---- latency mode ---- */

struct series {
	const char *name;
	uint64_t *v;
	size_t n;
	uint64_t tree_us, machine_us; /* CPU over the series */
};

/* Live output: what an output callback that only counts costs. */
struct counted {
	uint64_t calls, bytes;
};

static void count_output(void *user, enum cact_stream stream, const char *data, size_t len)
{
	struct counted *c = user;

	(void)stream;
	(void)data;
	c->calls++;
	c->bytes += len;
}

/* n executions in a row, the CPU of the whole tree between two settled moments. 0 or -1. */
static int back_to_back(struct cact_runtime *rt, const struct cact_request *req, size_t n,
			struct series *s);

static void print_series(struct series *s)
{
	double p50 = pct(s->v, s->n, 0.5), p90 = pct(s->v, s->n, 0.9), p99 = pct(s->v, s->n, 0.99);

	printf("%-34s p50 %8.3f ms  p90 %8.3f ms  p99 %8.3f ms", s->name, p50, p90, p99);
	if (s->tree_us)
		printf("  cpu %6.2f ms/exec (machine %6.2f)",
		       (double)s->tree_us / 1e3 / (double)s->n,
		       (double)s->machine_us / 1e3 / (double)s->n);
	printf("  (n=%zu)\n", s->n);
}

/* Private memory (KiB) of one prepared child: a grandchild of the guest process. */
static long private_kib(pid_t outer)
{
	char path[128], line[256];
	long total = -1;
	pid_t zyg = zygote_of(outer), kid = 0;
	FILE *f;

	if (zyg <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)zyg, (int)zyg);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%d", &kid) != 1) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)kid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	total = 0;
	while (fgets(line, sizeof(line), f)) {
		long v;

		if (sscanf(line, "Private_Clean: %ld kB", &v) == 1 ||
		    sscanf(line, "Private_Dirty: %ld kB", &v) == 1)
			total += v;
	}
	fclose(f);
	return total;
}

static int echo_tool(void *user, const char *name, const char *args, char **result,
		     struct cact_error *err)
{
	(void)user;
	(void)name;
	(void)err;
	*result = strdup(args);
	return *result ? 0 : CACT_ENOMEM;
}

/*
 * Round trip of call_tool from sandboxed code to a C callback and back, timed
 * inside the sandbox (perf_counter_ns around each call). Prints p50/p90.
 */
static int bench_tool_calls(struct cact_runtime *rt, size_t n)
{
	static const char code_fmt[] = "import time, json\n"
				       "d = []\n"
				       "call_tool('echo', i=0)\n"
				       "for i in range(%zu):\n"
				       "    t = time.perf_counter_ns()\n"
				       "    call_tool('echo', i=i)\n"
				       "    d.append(time.perf_counter_ns() - t)\n"
				       "d.sort()\n"
				       "print(d[len(d) // 2], d[len(d) * 9 // 10])\n";
	struct cact_error err = {0};
	struct cact_request *req = NULL;
	struct cact_result *res = NULL;
	struct cact_tool *tool = NULL;
	char code[512];
	unsigned long long p50 = 0, p90 = 0;
	int rc = -1;

	snprintf(code, sizeof(code), code_fmt, n);
	if (cact_tool_new_callback("echo", "Returns its arguments.", NULL,
				   CACT_APPROVAL_NEVER_REQUIRE, echo_tool, NULL, &tool, &err) ||
	    cact_request_new(&req) || cact_request_add_tool(req, tool, &err) ||
	    cact_request_set_code(req, code, strlen(code), &err) ||
	    cact_request_set_limit(req, CACT_LIMIT_TOOL_CALLS, n + 1, &err) ||
	    cact_runtime_run(rt, req, &res, &err)) {
		fprintf(stderr, "cact bench: tool calls: %s\n", err.message);
		goto out;
	}
	if (cact_result_status(res) != CACT_STATUS_OK ||
	    sscanf(cact_result_stdout(res, NULL, NULL), "%llu %llu", &p50, &p90) != 2) {
		fprintf(stderr, "cact bench: tool calls failed: %s\n",
			cact_result_stderr(res, NULL, NULL));
		goto out;
	}
	printf("%-34s p50 %8.3f ms  p90 %8.3f ms  (n=%zu, inside one execution)\n",
	       "call_tool round trip", (double)p50 / 1e6, (double)p90 / 1e6, n);
	rc = 0;
out:
	cact_result_free(res);
	cact_request_free(req);
	cact_tool_unref(tool);
	return rc;
}

/* Private memory (KiB) of a process: its Private_Clean and Private_Dirty; -1 when unreadable. */
static long private_of(pid_t pid)
{
	char path[64], line[256];
	long total = 0, v;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Private_Clean: %ld kB", &v) == 1 ||
		    sscanf(line, "Private_Dirty: %ld kB", &v) == 1)
			total += v;
	fclose(f);
	return total;
}

/*
 * The floor: the snippet exec()'d in one python3 process again and again,
 * no sandbox and no IPC. Fills v with n per-run times (ns); 0 or -1.
 */
static int python_in_process(uint64_t *v, size_t n)
{
	char prog[512], count[32], buf[64];
	char *argv[] = {PYTHON, "-I", "-S", "-c", prog, count, NULL};
	int fd, status;
	size_t got = 0;
	pid_t pid;
	FILE *f;

	snprintf(prog, sizeof(prog),
		 "import io, sys, time\n"
		 "code = compile(%s, '<code>', 'exec')\n"
		 "out, real = io.StringIO(), sys.stdout\n"
		 "for i in range(int(sys.argv[1])):\n"
		 "    sys.stdout = out\n"
		 "    t = time.perf_counter_ns()\n"
		 "    exec(code, {})\n"
		 "    t = time.perf_counter_ns() - t\n"
		 "    sys.stdout = real\n"
		 "    print(t)\n",
		 "'" SNIPPET "'");
	snprintf(count, sizeof(count), "%zu", n);
	if ((pid = spawn_piped(argv, -1, &fd)) < 0)
		return -1;
	f = fdopen(fd, "r");
	if (!f)
		close(fd);
	while (f && got < n && fgets(buf, sizeof(buf), f))
		v[got++] = strtoull(buf, NULL, 10);
	if (f)
		fclose(f);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return got == n ? 0 : -1;
}

/*
 * The fork floor (bench/fork_floor.py, mode "fork", "namespaces" or
 * "namespaces-only"): the guest's runner and its preload in a python3 that
 * forks a plain child per execution, the cost of a fresh process on this
 * machine without cact's engine. Fills s with n wall times (µs) and the
 * CPU the script measured over them; 0, or -1 (the script says why on
 * stderr).
 */
static int fork_floor(const char *mode, size_t n, struct series *s)
{
	char count[32], buf[64], *end;
	char *argv[] = {PYTHON, "-I", "-S", "-c", (char *)fork_floor_py, count, (char *)mode, NULL};
	int in, out, status;
	unsigned long long tree, machine;
	size_t left = strlen(runner_py);
	const char *p = runner_py;
	pid_t pid;
	FILE *f;

	snprintf(count, sizeof(count), "%zu", n);
	/* The runner goes to the script's stdin from memory: no pipe to fill, nothing to break. */
	in = memfd_create("cact-runner", MFD_CLOEXEC);
	if (in < 0)
		return -1;
	while (left > 0) {
		ssize_t w = write(in, p, left);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		p += w;
		left -= (size_t)w;
	}
	if (left > 0 || lseek(in, 0, SEEK_SET) != 0) {
		close(in);
		return -1;
	}
	pid = spawn_piped(argv, in, &out);
	close(in);
	if (pid < 0)
		return -1;
	s->n = 0;
	s->tree_us = 0;
	f = fdopen(out, "r");
	while (f && fgets(buf, sizeof(buf), f)) {
		if (sscanf(buf, "cpu %llu %llu", &tree, &machine) == 2) {
			s->tree_us = tree;
			s->machine_us = machine;
		} else if (s->n < n) {
			s->v[s->n] = strtoull(buf, &end, 10);
			if (end != buf)
				s->n++;
		}
	}
	if (f)
		fclose(f);
	else
		close(out);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 && s->n == n && s->tree_us ? 0 : -1;
}

/* Runs a session makes at least: a run costs a fraction of a millisecond. */
#define SESSION_RUNS_MIN 1000
/* Its first runs are dearer (the child's first writes to pages it shares with the zygote). */
#define SESSION_FIRST 100

/*
 * A session's runs back to back (the same snippet in one interpreter), the
 * CPU each costs the whole tree (host, helper, zygote, the session's own
 * process), and the private memory of the idle session. The p50 of its
 * first SESSION_FIRST runs is shown apart.
 */
static int bench_sessions(struct cact_runtime *rt, const struct cact_request *req, size_t n)
{
	uint64_t first[SESSION_FIRST];
	struct series s_run = {"cact session run, back to back"};
	struct series s_floor = {"python3 exec() in-process (floor)"};
	struct cact_sandbox_session *ss = NULL;
	struct cact_error err = {0};
	struct cact_result *res = NULL;
	uint64_t c0, m0, t0, host0 = 0, guest0 = 0, zyg0 = 0;
	long priv, priv1 = -1;
	size_t i;
	pid_t pid, zyg = -1;
	int rc = -1;

	if (n < SESSION_RUNS_MIN)
		n = SESSION_RUNS_MIN;
	s_run.v = calloc(n, sizeof(uint64_t));
	s_floor.v = calloc(n, sizeof(uint64_t));
	if (!s_run.v || !s_floor.v)
		goto out;
	if (cact_sandbox_session_new(rt, req, NULL, &ss, &err)) {
		fprintf(stderr, "cact bench: session: %s\n", err.message);
		goto out;
	}
	/* The first run takes the session's limits; then it is what a step of an agent costs. */
	for (i = 0; i <= n; i++) {
		t0 = now_us();
		if (cact_sandbox_session_run(ss, SNIPPET, strlen(SNIPPET), NULL, &res, &err)) {
			fprintf(stderr, "cact bench: session run: %s\n", err.message);
			goto out;
		}
		if (cact_result_status(res) != CACT_STATUS_OK ||
		    strcmp(cact_result_stdout(res, NULL, NULL), "4950\n") != 0) {
			fprintf(stderr, "cact bench: the session run failed: %s\n",
				cact_result_error_message(res) ?: "");
			goto out;
		}
		cact_result_free(res);
		res = NULL;
		if (i == 0) {
			settle(rt);
			pid = cact_sandbox_session_pid(ss);
			priv1 = private_of(pid);
			zyg = zygote_of(cact_runtime_zygote_pid(rt));
			host0 = self_cpu_us(RUSAGE_SELF);
			guest0 = proc_cpu_us(pid, 0);
			zyg0 = zyg > 0 ? proc_cpu_us(zyg, 0) : 0;
			c0 = cact_tree_us(rt) + proc_cpu_us(pid, 0);
			m0 = machine_busy_us();
			continue;
		}
		s_run.v[s_run.n++] = now_us() - t0;
	}
	s_run.tree_us = cact_tree_us(rt) + proc_cpu_us(pid, 0) - c0;
	s_run.machine_us = machine_busy_us() - m0;
	priv = private_of(pid);
	if (python_in_process(s_floor.v, n) == 0)
		s_floor.n = n;
	memcpy(first, s_run.v, sizeof(first));
	print_series(&s_run);
	printf("  its first %d runs: p50 %.3f ms\n", SESSION_FIRST, pct(first, SESSION_FIRST, 0.5));
	/* Clock ticks (10 ms) for the other processes: a split, not a measure. */
	printf("  cpu per run: host %.3f ms, session process %.3f ms, zygote %.3f ms\n",
	       (double)(self_cpu_us(RUSAGE_SELF) - host0) / 1e3 / (double)s_run.n,
	       (double)(proc_cpu_us(pid, 0) - guest0) / 1e3 / (double)s_run.n,
	       zyg > 0 ? (double)(proc_cpu_us(zyg, 0) - zyg0) / 1e3 / (double)s_run.n : 0.0);
	/* In ns: pct() reads them as µs. */
	if (s_floor.n)
		printf("%-34s p50 %8.3f µs  p90 %8.3f µs  (n=%zu)\n", s_floor.name,
		       pct(s_floor.v, s_floor.n, 0.5), pct(s_floor.v, s_floor.n, 0.9), s_floor.n);
	/* After its first run, and after them all: each run's source stays, for later tracebacks. */
	if (priv >= 0 && priv1 >= 0)
		printf("private memory of an idle session: %ld KiB after 1 run, %ld KiB after "
		       "%zu\n",
		       priv1, priv, n + 1);
	if (s_floor.n)
		printf("p50 of a session run vs in-process python3: %.0fx\n",
		       pct(s_run.v, s_run.n, 0.5) * 1000.0 / pct(s_floor.v, s_floor.n, 0.5));
	rc = 0;
out:
	cact_result_free(res);
	cact_sandbox_session_close(ss);
	free(s_run.v);
	free(s_floor.v);
	return rc;
}

/* ---- packages: pandas preloaded in the zygote, or imported by each execution ---- */

#define DIST_PACKAGES "/usr/lib/python3/dist-packages"
#define PANDAS_SNIPPET                                                                        \
	"import pandas as pd\n"                                                               \
	"df = pd.DataFrame({'k': ['a', 'b', 'a', 'c', 'b', 'a'], 'v': [1, 2, 3, 4, 5, 6]})\n" \
	"print(df.groupby('k').v.sum().to_dict())\n"
#define PANDAS_WANT "{'a': 10, 'b': 7, 'c': 4}\n"

/* Debian's python3 without -S: site adds dist-packages, as a user's python3 would. */
static char *const pandas_py_argv[] = {PYTHON, "-I", "-c", PANDAS_SNIPPET, NULL};

/* One execution of the pandas snippet; wall time in µs, 0 on failure. */
static uint64_t run_pandas(struct cact_runtime *rt, const struct cact_request *req)
{
	struct cact_error err = {0};
	struct cact_result *res = NULL;
	uint64_t t0 = now_us(), t;
	int ok;

	if (cact_runtime_run(rt, req, &res, &err)) {
		fprintf(stderr, "cact bench: %s\n", err.message);
		return 0;
	}
	t = now_us() - t0;
	ok = cact_result_status(res) == CACT_STATUS_OK &&
	     strcmp(cact_result_stdout(res, NULL, NULL), PANDAS_WANT) == 0;
	if (!ok)
		fprintf(stderr, "cact bench: the pandas execution failed: %s: %s %s\n",
			cact_status_name(cact_result_status(res)),
			cact_result_error_message(res) ?: "", cact_result_stderr(res, NULL, NULL));
	cact_result_free(res);
	return ok ? (t ? t : 1) : 0;
}

/* python3 with the pandas snippet, checking its output; wall time in µs, 0 on failure. */
static uint64_t run_pandas_process(void)
{
	char buf[128];
	int fd, status;
	uint64_t t0, t;
	ssize_t n, got = 0;
	pid_t pid;

	t0 = now_us();
	if ((pid = spawn_piped(pandas_py_argv, -1, &fd)) < 0)
		return 0;
	while ((n = read(fd, buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += n;
	buf[got] = '\0';
	close(fd);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	t = now_us() - t0;
	if (strcmp(buf, PANDAS_WANT) != 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		return 0;
	return t ? t : 1;
}

/*
 * A small pandas groupby: through a runtime that preloaded pandas, through
 * one that did not (each execution imports it), and in a fresh python3;
 * interleaved for the latencies, then each back to back for the CPU of its
 * whole tree. The slow peers run slow samples; the preloaded runtime n.
 * Also what the preload costs: start-up time and the zygote's private
 * memory, with and without.
 */
static int bench_packages(size_t n)
{
	static const char *const paths[] = {DIST_PACKAGES};
	static const char *const mods[] = {"pandas"};
	struct series s_pre = {"pandas preloaded, back to back"};
	struct series s_pre_i = {"pandas preloaded, interleaved"};
	struct series s_plain = {"pandas imported by the code"};
	struct series s_py = {"python3 -I -c (imports pandas)"};
	struct series s_floor = {SNIPPET ", same runtime"};
	struct cact_request *floor_req = NULL;
	struct cact_runtime_options o;
	struct cact_runtime *pre = NULL, *plain = NULL;
	struct cact_request *req = NULL;
	struct cact_error err = {0};
	size_t slow = n / 20 < 5 ? 5 : n / 20, i;
	uint64_t c0, m0;
	long mem_pre, mem_plain;
	int rc = -1;

	if (access(DIST_PACKAGES "/pandas", F_OK) != 0) {
		printf("packages: skipped: Debian's python3-pandas is not installed "
		       "(scripts/install-deps installs it)\n");
		return 0;
	}
	s_pre.v = calloc(n, sizeof(uint64_t));
	s_pre_i.v = calloc(slow, sizeof(uint64_t));
	s_plain.v = calloc(slow, sizeof(uint64_t));
	s_py.v = calloc(slow, sizeof(uint64_t));
	s_floor.v = calloc(n, sizeof(uint64_t));
	if (!s_pre.v || !s_pre_i.v || !s_plain.v || !s_py.v || !s_floor.v)
		goto out;
	cact_runtime_options_init(&o);
	o.python_paths = paths;
	o.n_python_paths = 1;
	if (cact_runtime_new(&o, &plain, &err)) {
		fprintf(stderr, "cact bench: packages: %s\n", err.message);
		goto out;
	}
	o.preload = mods;
	o.n_preload = 1;
	if (cact_runtime_new(&o, &pre, &err) || cact_request_new(&req) ||
	    cact_request_set_code(req, PANDAS_SNIPPET, strlen(PANDAS_SNIPPET), &err) ||
	    cact_request_new(&floor_req) ||
	    cact_request_set_code(floor_req, SNIPPET, strlen(SNIPPET), &err)) {
		fprintf(stderr, "cact bench: packages: %s\n", err.message);
		goto out;
	}
	settle(pre);
	settle(plain);
	mem_pre = private_of(zygote_of(cact_runtime_zygote_pid(pre)));
	mem_plain = private_of(zygote_of(cact_runtime_zygote_pid(plain)));
	printf("\npackages: %s with Debian's pandas\n", "a groupby of six rows");
	printf("zygote start-up: %.1f ms with pandas preloaded, %.1f ms without\n",
	       (double)cact_runtime_startup_us(pre) / 1000.0,
	       (double)cact_runtime_startup_us(plain) / 1000.0);
	if (mem_pre >= 0 && mem_plain >= 0)
		printf("zygote private memory: %ld KiB with pandas preloaded, %ld KiB without "
		       "(+%ld KiB)\n",
		       mem_pre, mem_plain, mem_pre - mem_plain);

	for (i = 0; i < slow; i++) {
		if (!(s_pre_i.v[s_pre_i.n++] = run_pandas(pre, req)) ||
		    !(s_plain.v[s_plain.n++] = run_pandas(plain, req)))
			goto out;
		if (!(s_py.v[s_py.n++] = run_pandas_process())) {
			fprintf(stderr, "cact bench: %s with pandas failed\n", PYTHON);
			goto out;
		}
	}
	settle(pre);
	c0 = cact_tree_us(pre);
	m0 = machine_busy_us();
	for (i = 0; i < n; i++)
		if (!(s_pre.v[s_pre.n++] = run_pandas(pre, req)))
			goto out;
	settle(pre);
	s_pre.tree_us = cact_tree_us(pre) - c0;
	s_pre.machine_us = machine_busy_us() - m0;

	settle(plain);
	c0 = cact_tree_us(plain);
	m0 = machine_busy_us();
	for (i = 0; i < slow; i++)
		if (!run_pandas(plain, req))
			goto out;
	settle(plain);
	s_plain.tree_us = cact_tree_us(plain) - c0;
	s_plain.machine_us = machine_busy_us() - m0;

	c0 = self_cpu_us(RUSAGE_CHILDREN);
	m0 = machine_busy_us();
	for (i = 0; i < slow; i++)
		if (!run_pandas_process())
			goto out;
	s_py.tree_us = self_cpu_us(RUSAGE_CHILDREN) - c0;
	s_py.machine_us = machine_busy_us() - m0;

	/* The floor: the usual snippet on the same runtime, what any execution costs there. */
	settle(pre);
	c0 = cact_tree_us(pre);
	m0 = machine_busy_us();
	for (i = 0; i < n; i++)
		if (!(s_floor.v[s_floor.n++] = run_cact(pre, floor_req)))
			goto out;
	settle(pre);
	s_floor.tree_us = cact_tree_us(pre) - c0;
	s_floor.machine_us = machine_busy_us() - m0;

	print_series(&s_pre);
	print_series(&s_pre_i);
	print_series(&s_floor);
	print_series(&s_plain);
	print_series(&s_py);
	printf("pandas p50 speedup, preloaded vs imported by the code: %.0fx\n",
	       pct(s_plain.v, s_plain.n, 0.5) / pct(s_pre.v, s_pre.n, 0.5));
	printf("pandas p50 speedup, preloaded vs python3: %.0fx\n",
	       pct(s_py.v, s_py.n, 0.5) / pct(s_pre.v, s_pre.n, 0.5));
	printf("pandas cpu per execution, preloaded vs imported vs python3: %.2f vs %.2f vs "
	       "%.2f ms\n",
	       (double)s_pre.tree_us / 1e3 / (double)s_pre.n,
	       (double)s_plain.tree_us / 1e3 / (double)slow,
	       (double)s_py.tree_us / 1e3 / (double)slow);
	rc = 0;
out:
	cact_request_free(req);
	cact_request_free(floor_req);
	cact_runtime_free(pre);
	cact_runtime_free(plain);
	free(s_pre.v);
	free(s_pre_i.v);
	free(s_plain.v);
	free(s_py.v);
	free(s_floor.v);
	return rc;
}

static int back_to_back(struct cact_runtime *rt, const struct cact_request *req, size_t n,
			struct series *s)
{
	uint64_t c0, m0;
	size_t i;

	settle(rt);
	c0 = cact_tree_us(rt);
	m0 = machine_busy_us();
	for (i = 0; i < n; i++)
		if (!(s->v[s->n++] = run_cact(rt, req)))
			return -1;
	settle(rt);
	s->tree_us = cact_tree_us(rt) - c0;
	s->machine_us = machine_busy_us() - m0;
	return 0;
}

/*
 * Live output's cost, back to back: the snippet with an output callback
 * (that only counts), and code printing a thousand lines without and with
 * one.
 */
static int live_output(struct cact_runtime *rt, const struct cact_request *req, size_t n)
{
	struct series s_cb = {"  the same, output callback"};
	struct series s_chatty = {"cact, 1000 lines, back to back"};
	struct series s_chatty_cb = {"  the same, output callback"};
	struct cact_request *cb = NULL, *chatty = NULL, *chatty_cb = NULL;
	struct counted one = {0}, many = {0};
	int rc = -1;

	s_cb.v = calloc(n, sizeof(uint64_t));
	s_chatty.v = calloc(n, sizeof(uint64_t));
	s_chatty_cb.v = calloc(n, sizeof(uint64_t));
	if (!s_cb.v || !s_chatty.v || !s_chatty_cb.v || cact_request_dup(req, &cb) ||
	    cact_request_dup(req, &chatty) ||
	    cact_request_set_code(chatty, CHATTY, strlen(CHATTY), NULL) ||
	    cact_request_dup(chatty, &chatty_cb))
		goto out;
	cact_request_set_output(cb, count_output, &one);
	cact_request_set_output(chatty_cb, count_output, &many);
	if (back_to_back(rt, cb, n, &s_cb) || back_to_back(rt, chatty, n, &s_chatty) ||
	    back_to_back(rt, chatty_cb, n, &s_chatty_cb))
		goto out;
	print_series(&s_cb);
	print_series(&s_chatty);
	print_series(&s_chatty_cb);
	printf("output callback calls per execution: %.2f (%.0f bytes), 1000 lines: %.2f (%.0f "
	       "bytes)\n",
	       (double)one.calls / (double)n, (double)one.bytes / (double)n,
	       (double)many.calls / (double)n, (double)many.bytes / (double)n);
	rc = 0;
out:
	cact_request_free(cb);
	cact_request_free(chatty);
	cact_request_free(chatty_cb);
	free(s_cb.v);
	free(s_chatty.v);
	free(s_chatty_cb.v);
	return rc;
}

/*
 * A one-shot `cact exec -c` (this program, a runtime for one execution)
 * against python3 -I -S -c, interleaved; each series with the CPU of the
 * processes it started, all of them reaped here (a subreaper).
 */
static int one_shot(size_t n)
{
	struct series s_exec = {"cact exec -c (one-shot)"}, s_py = {"python3 -I -S -c"};
	struct series *both[] = {&s_exec, &s_py};
	char self[4096];
	char *exec_argv[] = {self, "exec", "-c", SNIPPET, NULL};
	char *const *argvs[] = {exec_argv, py_argv};
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	size_t i, k;
	int rc = -1;

	if (len <= 0)
		return -1;
	self[len] = '\0';
	s_exec.v = calloc(n, sizeof(uint64_t));
	s_py.v = calloc(n, sizeof(uint64_t));
	if (!s_exec.v || !s_py.v)
		goto out;
	for (i = 0; i < n; i++)
		for (k = 0; k < 2; k++) {
			uint64_t c0 = self_cpu_us(RUSAGE_CHILDREN), m0 = machine_busy_us();

			if (!(both[k]->v[both[k]->n++] = run_process(argvs[k]))) {
				fprintf(stderr, "cact bench: %s failed\n", argvs[k][0]);
				goto out;
			}
			both[k]->tree_us += self_cpu_us(RUSAGE_CHILDREN) - c0;
			both[k]->machine_us += machine_busy_us() - m0;
		}
	print_series(&s_exec);
	print_series(&s_py);
	printf("one-shot cact exec vs python3, p50: %.1fx the time\n",
	       pct(s_exec.v, s_exec.n, 0.5) / pct(s_py.v, s_py.n, 0.5));
	rc = 0;
out:
	free(s_exec.v);
	free(s_py.v);
	return rc;
}

static int latency(struct cact_runtime *rt, const struct cact_request *req, size_t n,
		   int have_bwrap)
{
	struct series s_int = {"cact, interleaved (idle pool)"}, s_b2b = {"cact, back to back"};
	struct series s_py = {"python3 -I -S -c"}, s_bw = {"bwrap --unshare-all python3"};
	struct series s_bwb = {"bwrap + python3, back to back"};
	struct series s_ff = {"fork floor, plain fork"}, s_ffn = {"fork floor, with namespaces"};
	struct series s_ffo = {"  the same, running no code"};
	uint64_t t0, m0, c0;
	size_t i;
	int rc = -1, ff, ffn, ffo;
	long priv;

	s_int.v = calloc(n, sizeof(uint64_t));
	s_b2b.v = calloc(n, sizeof(uint64_t));
	s_py.v = calloc(n, sizeof(uint64_t));
	s_bw.v = calloc(n, sizeof(uint64_t));
	s_bwb.v = calloc(n, sizeof(uint64_t));
	s_ff.v = calloc(n, sizeof(uint64_t));
	s_ffn.v = calloc(n, sizeof(uint64_t));
	s_ffo.v = calloc(n, sizeof(uint64_t));
	if (!s_int.v || !s_b2b.v || !s_py.v || !s_bw.v || !s_bwb.v || !s_ff.v || !s_ffn.v ||
	    !s_ffo.v)
		goto out;

	/* Interleaved, so that a noisy neighbour hurts every peer alike. */
	for (i = 0; i < n; i++) {
		if (!(s_int.v[s_int.n++] = run_cact(rt, req)))
			goto out;
		if (!(s_py.v[s_py.n++] = run_process(py_argv))) {
			fprintf(stderr, "cact bench: %s failed\n", PYTHON);
			goto out;
		}
		if (have_bwrap && (s_bw.v[s_bw.n] = run_process(bwrap_argv)) != 0)
			s_bw.n++;
	}

	/* Back to back: every execution starts the moment the last one returned. */
	if (back_to_back(rt, req, n, &s_b2b))
		goto out;
	ff = fork_floor("fork", n, &s_ff);
	ffn = fork_floor("namespaces", n, &s_ffn);
	ffo = fork_floor("namespaces-only", n, &s_ffo);

	if (have_bwrap) {
		c0 = self_cpu_us(RUSAGE_CHILDREN);
		m0 = machine_busy_us();
		t0 = now_us();
		for (i = 0; i < n; i++)
			if ((s_bwb.v[s_bwb.n] = run_process(bwrap_argv)) != 0)
				s_bwb.n++;
		(void)t0;
		s_bwb.tree_us = self_cpu_us(RUSAGE_CHILDREN) - c0;
		s_bwb.machine_us = machine_busy_us() - m0;
	}
	c0 = self_cpu_us(RUSAGE_CHILDREN);
	m0 = machine_busy_us();
	for (i = 0; i < n; i++)
		if (!run_process(py_argv))
			goto out;
	s_py.tree_us = self_cpu_us(RUSAGE_CHILDREN) - c0;
	s_py.machine_us = machine_busy_us() - m0;

	print_series(&s_int);
	print_series(&s_b2b);
	if (live_output(rt, req, n))
		goto out;
	print_series(&s_py);
	if (s_bw.n)
		print_series(&s_bw);
	if (s_bwb.n)
		print_series(&s_bwb);
	if (ff == 0)
		print_series(&s_ff);
	else
		printf("fork floor, plain fork: unavailable (its error is above)\n");
	if (ffn == 0)
		print_series(&s_ffn);
	else
		printf("fork floor, with namespaces: unavailable (its error is above)\n");
	if (ffo == 0)
		print_series(&s_ffo);
	settle(rt);
	priv = private_kib(cact_runtime_zygote_pid(rt));
	if (priv >= 0)
		printf("private memory of one prepared child: %ld KiB\n", priv);
	if (bench_tool_calls(rt, n * 5))
		goto out;
	if (bench_sessions(rt, req, n))
		goto out;
	if (bench_packages(n))
		goto out;
	printf("\none-shot: a runtime for one execution, as `cact exec -c` starts\n");
	if (one_shot(n / 10 > 11 ? n / 10 : 11))
		goto out;
	printf("cpu per execution, cact vs bwrap+python: %.2f ms vs %.2f ms (%.1fx less)\n",
	       (double)s_b2b.tree_us / 1e3 / (double)s_b2b.n,
	       s_bwb.n ? (double)s_bwb.tree_us / 1e3 / (double)s_bwb.n : 0.0,
	       s_bwb.n && s_b2b.tree_us ? ((double)s_bwb.tree_us / (double)s_bwb.n) /
						  ((double)s_b2b.tree_us / (double)s_b2b.n)
					: 0.0);
	if (ffn == 0)
		printf("cpu per execution, cact vs the fork floor with namespaces: "
		       "%.2f ms vs %.2f ms (%.2fx)\n",
		       (double)s_b2b.tree_us / 1e3 / (double)s_b2b.n,
		       (double)s_ffn.tree_us / 1e3 / (double)s_ffn.n,
		       ((double)s_b2b.tree_us / (double)s_b2b.n) /
			       ((double)s_ffn.tree_us / (double)s_ffn.n));
	printf("p50 speedup vs python3: %.1fx\n", pct(s_py.v, s_py.n, 0.5) / pct(s_b2b.v, n, 0.5));
	printf("p50 speedup vs bwrap+python, interleaved: %.1fx\n",
	       s_bw.n ? pct(s_bw.v, s_bw.n, 0.5) / pct(s_int.v, s_int.n, 0.5) : 0.0);
	if (!s_bwb.n) {
		printf("p50 speedup vs bwrap+python: unavailable (bwrap missing or failing "
		       "here)\n");
		goto out;
	}
	printf("p50 speedup vs bwrap+python: %.1fx\n",
	       pct(s_bwb.v, s_bwb.n, 0.5) / pct(s_b2b.v, s_b2b.n, 0.5));
	rc = 0;
out:
	free(s_int.v);
	free(s_b2b.v);
	free(s_py.v);
	free(s_bw.v);
	free(s_bwb.v);
	free(s_ff.v);
	free(s_ffn.v);
	free(s_ffo.v);
	return rc;
}

/* ---- concurrency mode ---- */

struct load {
	struct cact_runtime *rt; /* NULL: run bwrap + python3 */
	const struct cact_request *req;
	uint64_t until_us;
	pthread_mutex_t lock;
	uint64_t *v;
	size_t n, cap;
	size_t failures;
};

static void *caller(void *arg)
{
	struct load *l = arg;

	while (now_us() < l->until_us) {
		uint64_t t = l->rt ? run_cact(l->rt, l->req) : run_process(bwrap_argv);

		pthread_mutex_lock(&l->lock);
		if (!t)
			l->failures++;
		else if (l->n < l->cap)
			l->v[l->n++] = t;
		pthread_mutex_unlock(&l->lock);
	}
	return NULL;
}

struct level {
	double per_s, p50, p99, cpu_ms;
	size_t n, failures;
};

/* K callers for secs seconds; fills *out. */
static int load_run(struct cact_runtime *rt, const struct cact_request *req, unsigned k,
		    double secs, struct level *out)
{
	struct load l = {.rt = rt, .req = req, .cap = 1u << 20};
	pthread_t th[256];
	uint64_t t0, c0, c1;
	unsigned i, started = 0;

	/*
	 * CPU of the whole machine (this process, the peers' processes, the
	 * kernel's threads): with concurrent callers, a peer's orphans cannot
	 * be told apart from another caller's children.
	 */
	memset(out, 0, sizeof(*out));
	l.v = calloc(l.cap, sizeof(*l.v));
	if (!l.v || k > 256)
		return -1;
	pthread_mutex_init(&l.lock, NULL);
	if (rt)
		settle(rt);
	c0 = machine_busy_us();
	t0 = now_us();
	l.until_us = t0 + (uint64_t)(secs * 1e6);
	for (i = 0; i < k; i++)
		if (pthread_create(&th[i], NULL, caller, &l) == 0)
			started++;
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	out->per_s = (double)l.n / ((double)(now_us() - t0) / 1e6);
	if (rt)
		settle(rt);
	c1 = machine_busy_us();
	out->n = l.n;
	out->failures = l.failures;
	out->p50 = pct(l.v, l.n, 0.5);
	out->p99 = pct(l.v, l.n, 0.99);
	out->cpu_ms = l.n ? (double)(c1 - c0) / 1e3 / (double)l.n : 0;
	pthread_mutex_destroy(&l.lock);
	free(l.v);
	return started == k ? 0 : -1;
}

static int concurrency(struct cact_runtime *rt, const struct cact_request *req, const unsigned *ks,
		       size_t n_ks, double secs, int have_bwrap)
{
	struct level idle, c, b;
	size_t i;
	int rc = 0;

	/* The idle p50 the busy ones are compared with: one caller, a pause between calls. */
	{
		uint64_t v[50];
		size_t j;

		for (j = 0; j < 50; j++) {
			settle(rt);
			if (!(v[j] = run_cact(rt, req)))
				return -1;
		}
		idle.p50 = pct(v, 50, 0.5);
	}
	printf("idle p50 (one caller, pool refilled between calls): %.3f ms\n", idle.p50);
	printf("%-8s %-6s %10s %10s %10s %12s %9s %s\n", "callers", "peer", "exec/s", "p50 ms",
	       "p99 ms", "cpu ms/exec", "failures", "(cpu: the whole machine's)");
	for (i = 0; i < n_ks; i++) {
		if (load_run(rt, req, ks[i], secs, &c))
			return -1;
		printf("%-8u %-6s %10.1f %10.3f %10.3f %12.2f %9zu  p50 %.1fx idle\n", ks[i],
		       "cact", c.per_s, c.p50, c.p99, c.cpu_ms, c.failures, c.p50 / idle.p50);
		if (!have_bwrap)
			continue;
		if (load_run(NULL, NULL, ks[i], secs, &b))
			return -1;
		printf("%-8u %-6s %10.1f %10.3f %10.3f %12.2f %9zu  cact %.1fx the throughput\n",
		       ks[i], "bwrap", b.per_s, b.p50, b.p99, b.cpu_ms, b.failures,
		       b.per_s > 0 ? c.per_s / b.per_s : 0.0);
		if (c.failures || b.failures)
			rc = -1;
	}
	return rc;
}

static int parse_callers(const char *s, unsigned *ks, size_t max, size_t *n)
{
	*n = 0;
	while (*s) {
		char *end;
		unsigned long v = strtoul(s, &end, 10);

		if (end == s || v < 1 || v > 256 || *n == max || (*end && *end != ','))
			return -1;
		ks[(*n)++] = (unsigned)v;
		s = *end ? end + 1 : end;
	}
	return *n ? 0 : -1;
}

int cmd_bench(int argc, char **argv)
{
	enum { O_N, O_CONC, O_CALLERS, O_SECONDS, O_PACKAGES, O_SESSIONS, O_HELP, O__N };
	struct opt o[O__N] = {
		[O_N] = {"iterations", 'n', OPT_VALUE},	  [O_CONC] = {"concurrency", 0, OPT_FLAG},
		[O_CALLERS] = {"callers", 0, OPT_VALUE},  [O_SECONDS] = {"seconds", 0, OPT_VALUE},
		[O_PACKAGES] = {"packages", 0, OPT_FLAG}, [O_SESSIONS] = {"sessions", 0, OPT_FLAG},
		[O_HELP] = {"help", 'h', OPT_FLAG},
	};
	struct cact_runtime_options ro;
	struct cact_runtime *rt = NULL;
	struct cact_request *req = NULL;
	struct cact_error err = {0};
	unsigned ks[16] = {1, 4, 16, 64};
	size_t n_ks = 4, n_pos, n = 200;
	double secs = 3;
	const char *pos[1];
	int status = EXIT_USAGE, have_bwrap;

	if (opts_parse("bench", argc, argv, o, O__N, pos, 0, &n_pos))
		return EXIT_USAGE;
	if (o[O_HELP].count) {
		puts("usage: cact bench [-n ITERATIONS] [--packages | --sessions | --concurrency\n"
		     "                  [--callers K,...] [--seconds S]]\n\n"
		     "Times print(sum(range(100))) through cact (interleaved with the peers, then\n"
		     "back to back), a fresh python3 -I -S -c, the same under bwrap\n"
		     "--unshare-all, and a plain fork of the runner's interpreter per execution\n"
		     "(the fork floor), with the CPU each execution costs. --concurrency runs K\n"
		     "callers at once for S seconds (default 1,4,16,64 for 3 s) for cact and\n"
		     "for bwrap + python3. --packages times only a small pandas groupby with\n"
		     "pandas preloaded, imported by the code, and in python3, and --sessions\n"
		     "only a sandbox session's runs back to back (both also part of the\n"
		     "default run, which ends with a one-shot cact exec -c against python3).");
		status = EXIT_OK;
		goto out;
	}
	if (o[O_N].count) {
		char *end;
		unsigned long v = strtoul(o[O_N].values[0], &end, 10);

		if (*end || v < 10 || v > 100000 || o[O_N].values[0][0] == '-') {
			fprintf(stderr, "cact bench: -n: '%s' is not a number from 10 to 100000\n",
				o[O_N].values[0]);
			goto out;
		}
		n = v;
	}
	if (o[O_CALLERS].count && parse_callers(o[O_CALLERS].values[0], ks, 16, &n_ks)) {
		fprintf(stderr,
			"cact bench: --callers: '%s' is not a list of numbers from 1 to 256\n",
			o[O_CALLERS].values[0]);
		goto out;
	}
	if (o[O_SECONDS].count) {
		char *end;

		secs = strtod(o[O_SECONDS].values[0], &end);
		if (*end || !(secs >= 0.5 && secs <= 600)) {
			fprintf(stderr,
				"cact bench: --seconds: '%s' is not a number from 0.5 to 600\n",
				o[O_SECONDS].values[0]);
			goto out;
		}
	}
	if ((o[O_CALLERS].count || o[O_SECONDS].count) && !o[O_CONC].count) {
		fprintf(stderr, "cact bench: --callers and --seconds go with --concurrency\n");
		goto out;
	}
	if (o[O_PACKAGES].count + o[O_CONC].count + o[O_SESSIONS].count > 1) {
		fprintf(stderr, "cact bench: --packages, --sessions and --concurrency are separate "
				"runs\n");
		goto out;
	}
	if (o[O_PACKAGES].count) {
		printf("machine: %ld CPUs online\n", sysconf(_SC_NPROCESSORS_ONLN));
		status = bench_packages(n) ? EXIT_SETUP : EXIT_OK;
		goto out;
	}
	status = EXIT_SETUP;
	/* Every process the peers start is reaped here, so that its CPU counts (see run_process). */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	reap_orphans = !o[O_CONC].count;
	cact_runtime_options_init(&ro);
	if (cact_runtime_new(&ro, &rt, &err) || cact_request_new(&req) ||
	    cact_request_set_code(req, SNIPPET, strlen(SNIPPET), &err)) {
		fprintf(stderr, "cact bench: %s\n", err.message);
		goto out;
	}
	/* The sessions alone have no peer to run. */
	have_bwrap =
		!o[O_SESSIONS].count && access(BWRAP, X_OK) == 0 && run_process(bwrap_argv) != 0;
	printf("machine: %ld CPUs online; each sample is one complete execution of %s\n",
	       sysconf(_SC_NPROCESSORS_ONLN), SNIPPET);
	printf("zygote start-up (spawn, namespaces, interpreter, preload): %.1f ms\n",
	       (double)cact_runtime_startup_us(rt) / 1000.0);
	if (!have_bwrap && !o[O_SESSIONS].count)
		printf("bwrap: unavailable (missing, or cannot sandbox here): no bwrap figures\n");
	if (o[O_SESSIONS].count)
		status = bench_sessions(rt, req, n) ? EXIT_SETUP : EXIT_OK;
	else if (o[O_CONC].count)
		status = concurrency(rt, req, ks, n_ks, secs, have_bwrap) ? EXIT_SETUP : EXIT_OK;
	else
		status = latency(rt, req, n, have_bwrap) ? EXIT_SETUP : EXIT_OK;
out:
	opts_free(o, O__N);
	cact_request_free(req);
	cact_runtime_free(rt);
	return status;
}
