/* SPDX-License-Identifier: MIT */
/*
 * cact bench: latency of a trivial execution, measured side by side in one
 * run on one machine:
 *   (a) cact through the library: warm runtime, full isolation, clean state
 *       per call (every call is a fresh sandbox forked from the zygote);
 *   (b) a fresh `python3 -I -S -c` process (Debian's /usr/bin/python3);
 *   (c) the same under `bwrap --unshare-all` (Debian's bubblewrap).
 * Prints p50/p90 of each and the ratios; the last line is
 * "p50 speedup vs bwrap+python: <ratio>x". Also reports the zygote's
 * start-up time, the private memory of one warm execution child, and the
 * round trip of a trivial call_tool from sandboxed code to the host.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cact/cact.h>

#include "../cli/cli.h"
#include "../cli/opts.h"

#define SNIPPET "print(sum(range(100)))"
#define PYTHON	"/usr/bin/python3"
#define BWRAP	"/usr/bin/bwrap"

extern char **environ;

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

static double pct(uint64_t *v, size_t n, double p)
{
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);

	return (double)v[i] / 1000.0;
}

/* Runs argv, checks that it printed "4950", returns its wall time in µs (0 on failure). */
static uint64_t run_process(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	char buf[64];
	int fds[2], status;
	uint64_t t0, t;
	ssize_t n;
	pid_t pid;

	if (pipe(fds))
		return 0;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	t0 = now_us();
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ)) {
		posix_spawn_file_actions_destroy(&fa);
		close(fds[0]);
		close(fds[1]);
		return 0;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	while (read(fds[0], buf + (n > 0 ? n : 0), 0) > 0)
		;
	close(fds[0]);
	waitpid(pid, &status, 0);
	t = now_us() - t0;
	if (n < 4 || strncmp(buf, "4950", 4) != 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		return 0;
	return t;
}

/* Private memory (KiB) of one warm execution child: a grandchild of the guest process. */
static long private_kib(pid_t outer)
{
	char path[128], line[256];
	long total = -1;
	FILE *f;
	pid_t zyg = 0, kid = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)outer, (int)outer);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%d", &zyg) != 1) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
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
	printf("%-28s p50 %9.3f ms   p90 %9.3f ms   (n=%zu, inside one execution)\n",
	       "call_tool round trip", (double)p50 / 1e6, (double)p90 / 1e6, n);
	rc = 0;
out:
	cact_result_free(res);
	cact_request_free(req);
	cact_tool_unref(tool);
	return rc;
}

static void report(const char *name, uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	printf("%-28s p50 %9.3f ms   p90 %9.3f ms   (n=%zu)\n", name, pct(v, n, 0.5),
	       pct(v, n, 0.9), n);
}

int cmd_bench(int argc, char **argv)
{
	struct opt o[] = {{"iterations", 'n', OPT_VALUE}, {"help", 'h', OPT_FLAG}};
	char *py[] = {PYTHON, "-I", "-S", "-c", SNIPPET, NULL};
	char *bw[] = {BWRAP,
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
	struct cact_runtime_options ro;
	struct cact_runtime *rt = NULL;
	struct cact_request *req = NULL;
	struct cact_error err = {0};
	uint64_t *a = NULL, *b = NULL, *c = NULL;
	const char *pos[1];
	size_t n_pos, n = 200, i, nc = 0;
	long priv;
	int status = EXIT_SETUP, have_bwrap;

	if (opts_parse("bench", argc, argv, o, 2, pos, 0, &n_pos))
		return EXIT_USAGE;
	if (o[1].count) {
		puts("usage: cact bench [-n ITERATIONS]\n\nTimes print(sum(range(100))) through "
		     "cact, a fresh python3 -I -S -c, and the same under bwrap --unshare-all.");
		opts_free(o, 2);
		return EXIT_OK;
	}
	if (o[0].count) {
		char *end;
		unsigned long v = strtoul(o[0].values[0], &end, 10);

		if (*end || v < 10 || v > 100000 || o[0].values[0][0] == '-') {
			fprintf(stderr, "cact bench: -n: '%s' is not a number from 10 to 100000\n",
				o[0].values[0]);
			opts_free(o, 2);
			return EXIT_USAGE;
		}
		n = v;
	}
	opts_free(o, 2);
	a = calloc(n, sizeof(*a));
	b = calloc(n, sizeof(*b));
	c = calloc(n, sizeof(*c));
	if (!a || !b || !c)
		goto out;

	cact_runtime_options_init(&ro);
	ro.pool_size = 1;
	if (cact_runtime_new(&ro, &rt, &err) || cact_request_new(&req) ||
	    cact_request_set_code(req, SNIPPET, strlen(SNIPPET), &err)) {
		fprintf(stderr, "cact bench: %s\n", err.message);
		goto out;
	}
	printf("machine: %ld CPUs online; each sample is one complete execution\n",
	       sysconf(_SC_NPROCESSORS_ONLN));
	printf("zygote start-up (spawn, namespaces, interpreter, preload): %.1f ms\n",
	       (double)cact_runtime_startup_us(rt) / 1000.0);
	/* Interleaved, so that a noisy neighbour hurts every peer alike. */
	have_bwrap = access(BWRAP, X_OK) == 0;
	for (i = 0; i < n; i++) {
		struct cact_result *res = NULL;
		uint64_t t0 = now_us();
		size_t len;

		if (cact_runtime_run(rt, req, &res, &err)) {
			fprintf(stderr, "cact bench: %s\n", err.message);
			goto out;
		}
		a[i] = now_us() - t0;
		if (cact_result_status(res) != CACT_STATUS_OK ||
		    strcmp(cact_result_stdout(res, &len, NULL), "4950\n") != 0) {
			fprintf(stderr, "cact bench: cact run failed: %s\n",
				cact_status_name(cact_result_status(res)));
			cact_result_free(res);
			goto out;
		}
		cact_result_free(res);
		b[i] = run_process(py);
		if (!b[i]) {
			fprintf(stderr, "cact bench: %s failed\n", PYTHON);
			goto out;
		}
		if (have_bwrap && (c[nc] = run_process(bw)) != 0)
			nc++;
	}
	/* Let the pool refill before sampling a warm child's memory. */
	usleep(200000);
	priv = private_kib(cact_runtime_zygote_pid(rt));
	report("cact (warm, full isolation)", a, n);
	report("python3 -I -S -c", b, n);
	if (nc > 0)
		report("bwrap --unshare-all python3", c, nc);
	if (priv >= 0)
		printf("private memory of one warm execution child: %ld KiB\n", priv);
	if (bench_tool_calls(rt, n * 5))
		goto out;
	printf("p50 speedup vs python3: %.1fx\n", pct(b, n, 0.5) / pct(a, n, 0.5));
	if (nc == 0) {
		printf("p50 speedup vs bwrap+python: unavailable (bwrap missing or failing "
		       "here)\n");
		status = EXIT_SETUP;
		goto out;
	}
	printf("p50 speedup vs bwrap+python: %.1fx\n", pct(c, nc, 0.5) / pct(a, n, 0.5));
	status = EXIT_OK;
out:
	cact_request_free(req);
	cact_runtime_free(rt);
	free(a);
	free(b);
	free(c);
	return status;
}
