/* SPDX-License-Identifier: MIT */
/*
 * Attacks on the sandbox from inside Python. Each case runs hostile code
 * (ctypes gives raw system calls; the numbers are x86_64's), asserts the
 * exact outcome, and then checks with host_ok() that the host is unaffected:
 *   - the same runtime still runs print("ok");
 *   - no process is left below the guest helper beyond the zygote and its
 *     warm pool, and none below the test process once the runtime is freed;
 *   - the test process holds as many file descriptors as before the attack;
 *   - no new entry is left in /tmp (each case has a /tmp of its own, see
 *     private_tmp, so that other programs' files do not count);
 *   - a canary secret (a file in the host's /tmp and an environment variable
 *     of the test process) never appears in any output, error or file, and
 *     the canary file is unchanged;
 *   - the next execution starts clean: empty /output and /tmp, a fresh
 *     __main__, nothing left by the attack in the interpreter.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common.h"

/* How long the pool may take to settle after a run (refills are asynchronous). */
#define SETTLE_MS 5000
#define MIB	  (1024ull * 1024)

/* Marks the interpreter of every attack, so that the next run can tell it is a fresh one. */
#define PROLOGUE                                            \
	"import builtins as _cact_b, sys as _cact_s\n"      \
	"_cact_b.cact_attack_marker = 1\n"                  \
	"_cact_s.modules['cact_attack_marker'] = _cact_s\n" \
	"del _cact_b, _cact_s\n"

#define PY_LIBC           \
	"import ctypes\n" \
	"libc = ctypes.CDLL(None, use_errno=True)\n"

/* What a fresh execution sees: run after every attack. */
#define CLEAN_CODE                                                                              \
	"_g = sorted(globals())\n"                                                              \
	"import builtins, os, sys\n"                                                            \
	"print(_g)\n"                                                                           \
	"print(sorted(os.listdir('/output')), sorted(os.listdir('/tmp')), os.getcwd())\n"       \
	"print(hasattr(builtins, 'cact_attack_marker'), 'cact_attack_marker' in sys.modules,\n" \
	"      os.getpid(), 'CACT_CANARY' in os.environ)\n"
#define CLEAN_OUT                                                                           \
	"['__builtins__', '__doc__', '__file__', '__loader__', '__name__', '__package__', " \
	"'__spec__']\n"                                                                     \
	"[] [] /tmp\n"                                                                      \
	"False False 1 False\n"

static char canary[64];
static char canary_path[64];
static char **tmp_before;
static size_t n_tmp_before;
static char *own_dirs[8];
static size_t n_own_dirs;
static int fds_baseline = -1;
static int tmp_private;
static int cleanup_registered;

/* ---- small helpers ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void cleanup(void)
{
	size_t i;

	for (i = 0; i < n_own_dirs; i++) {
		t_rmtree(own_dirs[i]);
		free(own_dirs[i]);
		own_dirs[i] = NULL;
	}
	n_own_dirs = 0;
	if (canary_path[0]) {
		unlink(canary_path);
		canary_path[0] = '\0';
	}
}

/* A temporary folder of this case, removed before the /tmp comparison. */
static char *own_tmpdir(void)
{
	char *d = t_tmpdir();

	ck_assert_uint_lt(n_own_dirs, sizeof(own_dirs) / sizeof(own_dirs[0]));
	own_dirs[n_own_dirs++] = strdup(d);
	return d;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **list_dir(const char *path, size_t *n)
{
	size_t cap = 64, len = 0;
	char **names = malloc(cap * sizeof(*names));
	struct dirent *de;
	DIR *d = opendir(path);

	ck_assert_msg(d != NULL, "opendir %s: %s", path, strerror(errno));
	ck_assert(names != NULL);
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (len == cap) {
			cap *= 2;
			names = realloc(names, cap * sizeof(*names));
			ck_assert(names != NULL);
		}
		names[len++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, len, sizeof(*names), cmp_str);
	*n = len;
	return names;
}

static void free_list(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int count_fds(void)
{
	size_t n;
	char **names = list_dir("/proc/self/fd", &n);

	free_list(names, n);
	return (int)n;
}

/*
 * Descriptors of this process outside the runtime's pool, once the pool is
 * settled (nothing being prepared): the pool grows and shrinks with demand.
 */
static int fds_outside_pool(struct cact_runtime *rt)
{
	uint64_t deadline = now_ms() + SETTLE_MS;
	struct cact_runtime_stats st;
	int n;

	for (;;) {
		cact_runtime_stats(rt, &st);
		n = count_fds();
		if (st.preparing == 0 || now_ms() >= deadline)
			break;
		sleep_ms(20);
	}
	return n - T_FDS_PER_CHILD * (int)st.idle;
}

static pid_t ppid_of(pid_t pid)
{
	char path[64], buf[1024], *p;
	int fd, ppid = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

/* Pid of the zygote: the guest helper's only child. */
static pid_t zygote_of(struct cact_runtime *rt)
{
	pid_t outer = cact_runtime_zygote_pid(rt), z = -1;
	size_t n, i;
	pid_t *d = t_descendants(outer, &n);

	for (i = 0; i < n; i++)
		if (ppid_of(d[i]) == outer)
			z = d[i];
	free(d);
	ck_assert_msg(z > 0, "no zygote below the guest helper %d", (int)outer);
	return z;
}

/*
 * Gives the case a /tmp of its own (a fresh tmpfs in a mount namespace of
 * the test process, inherited by the guest helper), so that the before and
 * after listings see only what this case and the library create, not the
 * files of programs running alongside. The folder holding the guest helper,
 * when it lives in /tmp, is bound back in. Without the privilege to do so
 * (not root), /tmp stays shared and the comparison filters what it can.
 */
static int private_tmp(void)
{
	const char *guest = getenv("CACT_GUEST");
	char top[256] = "";
	int keep = -1;

	if (unshare(CLONE_NEWNS)) {
		printf("%s: cannot take a mount namespace (%s): comparing the shared /tmp\n",
		       tcase_name(), strerror(errno));
		return 0;
	}
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL), 0);
	if (guest && strncmp(guest, "/tmp/", 5) == 0) {
		const char *slash = strchr(guest + 5, '/');
		size_t n = slash ? (size_t)(slash - guest) : strlen(guest);

		ck_assert_uint_lt(n, sizeof(top));
		memcpy(top, guest, n);
		top[n] = '\0';
		keep = open_tree(AT_FDCWD, top, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
		ck_assert_msg(keep >= 0, "open_tree %s: %s", top, strerror(errno));
	}
	ck_assert_msg(mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m") ==
			      0,
		      "cannot mount a private /tmp: %s", strerror(errno));
	if (keep >= 0) {
		ck_assert_int_eq(mkdir(top, 0755), 0);
		ck_assert_msg(move_mount(keep, "", AT_FDCWD, top, MOVE_MOUNT_F_EMPTY_PATH) == 0,
			      "move_mount %s: %s", top, strerror(errno));
		close(keep);
	}
	return 1;
}

/* ---- the canary ---- */

static void make_canary(void)
{
	unsigned char raw[24];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	size_t i;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(read(fd, raw, sizeof(raw)), (int)sizeof(raw));
	close(fd);
	for (i = 0; i < sizeof(raw); i++)
		snprintf(canary + 2 * i, 3, "%02x", raw[i]);
	snprintf(canary_path, sizeof(canary_path), "/tmp/cact-canary-%d", (int)getpid());
	fd = open(canary_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	ck_assert_msg(fd >= 0, "cannot create %s: %s", canary_path, strerror(errno));
	ck_assert_int_eq(fchmod(fd, 0644), 0);
	ck_assert_int_eq(write(fd, canary, strlen(canary)), (int)strlen(canary));
	ck_assert_int_eq(write(fd, "\n", 1), 1);
	close(fd);
	ck_assert_int_eq(setenv("CACT_CANARY", canary, 1), 0);
}

static void check_canary_file(void)
{
	char buf[128];
	int fd = open(canary_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	ck_assert_msg(fd >= 0, "the canary file %s is gone: %s", canary_path, strerror(errno));
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	ck_assert_msg(n == (ssize_t)strlen(canary) + 1 && strncmp(buf, canary, strlen(canary)) == 0,
		      "the canary file %s was changed", canary_path);
}

static void no_canary_in(const char *what, const void *data, size_t len)
{
	if (!data || len == 0)
		return;
	ck_assert_msg(memmem(data, len, canary, strlen(canary)) == NULL,
		      "the canary leaked into %s", what);
}

static void no_canary_str(const char *what, const char *s)
{
	if (s)
		no_canary_in(what, s, strlen(s));
}

/* The canary appears nowhere in a result. */
static void assert_no_canary(const struct cact_result *r)
{
	size_t len, i;
	const char *s;
	char *json;

	s = cact_result_stdout(r, &len, NULL);
	no_canary_in("stdout", s, len);
	s = cact_result_stderr(r, &len, NULL);
	no_canary_in("stderr", s, len);
	no_canary_str("the error type", cact_result_error_type(r));
	no_canary_str("the error message", cact_result_error_message(r));
	no_canary_str("the traceback", cact_result_error_traceback(r));
	no_canary_str("the isolation report", cact_result_isolation_json(r));
	for (i = 0; i < cact_result_file_count(r); i++) {
		struct cact_file f;

		ck_assert_int_eq(cact_result_file(r, i, &f), 0);
		no_canary_str("a file path", f.path);
		no_canary_in(f.path, f.data, f.size);
	}
	for (i = 0; i < cact_result_skipped_count(r); i++)
		no_canary_str("the skipped list", cact_result_skipped(r, i));
	json = cact_result_to_json(r);
	ck_assert(json != NULL);
	no_canary_str("the result JSON", json);
	cact_free(json);
}

/* ---- the runtime of a case ---- */

static struct cact_runtime *begin_opts(const struct cact_runtime_options *o)
{
	struct cact_runtime *rt;
	struct cact_result *r;

	if (!cleanup_registered) {
		atexit(cleanup);
		cleanup_registered = 1;
	}
	/* Orphans of the library (there must be none) become ours, where they can be seen. */
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
	tmp_private = private_tmp();
	make_canary();
	tmp_before = list_dir("/tmp", &n_tmp_before);
	rt = o ? t_runtime_opts(o) : t_runtime();
	r = t_run(rt, "print(\"ok\")", 0);
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_str_eq(t_out(r), "ok\n");
	cact_result_free(r);
	fds_baseline = fds_outside_pool(rt);
	return rt;
}

static struct cact_runtime *begin(void)
{
	return begin_opts(NULL);
}

/*
 * The guest helper's descendants settle to the zygote and the children the
 * runtime holds prepared or is preparing (its stats say how many).
 */
static void assert_only_pool(struct cact_runtime *rt)
{
	pid_t outer = cact_runtime_zygote_pid(rt);
	uint64_t deadline = now_ms() + SETTLE_MS;
	char why[1024];

	for (;;) {
		size_t n, i, zygotes = 0, pool = 0, other = 0, off = 0;
		pid_t *d = t_descendants(outer, &n), z = -1;
		struct cact_runtime_stats st;

		for (i = 0; i < n; i++) {
			if (ppid_of(d[i]) == outer) {
				zygotes++;
				z = d[i];
			}
		}
		why[0] = '\0';
		for (i = 0; i < n; i++) {
			pid_t pp = ppid_of(d[i]);

			if (pp == outer)
				continue;
			if (pp == z)
				pool++;
			else
				other++;
			if (off < sizeof(why) - 32)
				off += (size_t)snprintf(why + off, sizeof(why) - off,
							" %d(parent %d)", (int)d[i], (int)pp);
		}
		free(d);
		cact_runtime_stats(rt, &st);
		if (zygotes == 1 && pool <= st.idle + st.preparing && st.running == 0 && other == 0)
			return;
		if (now_ms() >= deadline)
			ck_abort_msg(
				"below the guest helper %d: %zu zygote(s), %zu children of the "
				"zygote (%u prepared, %u being prepared), %zu others:%s",
				(int)outer, zygotes, pool, st.idle, st.preparing, other, why);
		sleep_ms(50);
	}
}

/* Once the runtime is freed, nothing is left below the test process. */
static void assert_no_children(void)
{
	uint64_t deadline = now_ms() + SETTLE_MS;

	for (;;) {
		size_t n;
		pid_t *d;

		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		d = t_descendants(getpid(), &n);
		free(d);
		if (n == 0)
			return;
		if (now_ms() >= deadline)
			ck_abort_msg("%zu processes left below the test process after "
				     "cact_runtime_free",
				     n);
		sleep_ms(50);
	}
}

static int harness_name(const char *name)
{
	/* This suite's own folders and canaries, possibly of cases running in parallel. */
	return strncmp(name, "cact-test-", 10) == 0 || strncmp(name, "cact-canary-", 12) == 0;
}

/*
 * No new entry in /tmp. When it is shared (private_tmp failed), this suite's
 * own entries and entries that vanish within 200 ms (other programs' files)
 * are let through.
 */
static void assert_tmp_unchanged(void)
{
	size_t n, i, j, bad = 0;
	char **after = list_dir("/tmp", &n);
	char list[1024] = "";

	for (i = 0; i < n; i++) {
		char path[512];
		struct stat st;

		if (bsearch(&after[i], tmp_before, n_tmp_before, sizeof(char *), cmp_str))
			continue;
		if (!tmp_private) {
			if (harness_name(after[i]))
				continue;
			sleep_ms(200);
			snprintf(path, sizeof(path), "/tmp/%s", after[i]);
			if (lstat(path, &st))
				continue;
		}
		bad++;
		j = strlen(list);
		snprintf(list + j, sizeof(list) - j, " %s", after[i]);
	}
	free_list(after, n);
	free_list(tmp_before, n_tmp_before);
	tmp_before = NULL;
	n_tmp_before = 0;
	ck_assert_msg(bad == 0, "new entries left in /tmp:%s", list);
}

/* Everything the brief calls "the host is unaffected"; frees rt. */
static void host_ok(struct cact_runtime *rt)
{
	pid_t outer = cact_runtime_zygote_pid(rt);
	struct cact_result *r;

	assert_only_pool(rt);
	ck_assert_msg(kill(outer, 0) == 0, "the guest helper %d is gone", (int)outer);
	ck_assert_int_eq(kill(getpid(), 0), 0);

	r = t_run(rt, "print(\"ok\")", 0);
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_str_eq(t_out(r), "ok\n");
	assert_no_canary(r);
	cact_result_free(r);

	r = t_run(rt, CLEAN_CODE, 0);
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_str_eq(t_out(r), CLEAN_OUT);
	ck_assert_str_eq(t_err(r), "");
	ck_assert_uint_eq(cact_result_file_count(r), 0);
	ck_assert_uint_eq(cact_result_skipped_count(r), 0);
	assert_no_canary(r);
	cact_result_free(r);

	assert_only_pool(rt);
	{
		int now = fds_outside_pool(rt);

		ck_assert_msg(now == fds_baseline,
			      "the test process holds %d file descriptors besides the pool's, %d "
			      "before the attack",
			      now, fds_baseline);
	}
	cact_runtime_free(rt);
	assert_no_children();
	check_canary_file();
	/* The canary and the case's own folders go first: they are not the library's. */
	cleanup();
	assert_tmp_unchanged();
}

/* ---- running attacks ---- */

static struct cact_result *attack_with(struct cact_runtime *rt, struct cact_request *req,
				       const char *code, unsigned timeout_ms)
{
	struct cact_error err = {0};
	size_t n = strlen(PROLOGUE) + strlen(code) + 1;
	struct cact_result *r;
	char *full = malloc(n);

	ck_assert(full != NULL);
	snprintf(full, n, "%s%s", PROLOGUE, code);
	ck_assert_msg(cact_request_set_code(req, full, strlen(full), &err) == 0, "%s", err.message);
	if (timeout_ms)
		ck_assert_int_eq(
			cact_request_set_limit(req, CACT_LIMIT_TIMEOUT_MS, timeout_ms, &err), 0);
	r = t_run_req(rt, req);
	free(full);
	assert_no_canary(r);
	return r;
}

static struct cact_result *attack(struct cact_runtime *rt, const char *code, unsigned timeout_ms)
{
	struct cact_request *req = NULL;
	struct cact_result *r;

	ck_assert_int_eq(cact_request_new(&req), 0);
	r = attack_with(rt, req, code, timeout_ms);
	cact_request_free(req);
	return r;
}

static struct cact_result *attack_ws(struct cact_runtime *rt, const char *code, const char *ws)
{
	struct cact_request *req = NULL;
	struct cact_error err = {0};
	struct cact_result *r;

	ck_assert_int_eq(cact_request_new(&req), 0);
	ck_assert_msg(cact_request_set_workspace(req, ws, &err) == 0, "%s", err.message);
	r = attack_with(rt, req, code, 0);
	cact_request_free(req);
	return r;
}

static void assert_contains(const char *haystack, const char *needle)
{
	ck_assert_msg(haystack && strstr(haystack, needle), "expected \"%s\" in \"%.2000s\"",
		      needle, haystack ? haystack : "(null)");
}

/* Runs code and expects the filter's kill; everything before the call has run. */
static void expect_killed(const char *setup, const char *call)
{
	struct cact_runtime *rt = begin();
	struct cact_result *r;
	char code[4096];

	snprintf(code, sizeof(code),
		 PY_LIBC "%s"
			 "print('before', flush=True)\n"
			 "r = %s\n"
			 "print('survived', r, ctypes.get_errno())\n",
		 setup, call);
	r = attack(rt, code, 0);
	t_assert_status(r, CACT_STATUS_SANDBOX_VIOLATION);
	ck_assert_str_eq(t_out(r), "before\n");
	ck_assert_int_eq(cact_result_exit_code(r), -1);
	ck_assert_pstr_eq(cact_result_error_type(r), "sandbox_violation");
	assert_contains(cact_result_error_message(r), "seccomp");
	cact_result_free(r);
	host_ok(rt);
}

/* Runs code, expects status ok and exactly this stdout. */
static void expect_output(const char *code, const char *out)
{
	struct cact_runtime *rt = begin();
	struct cact_result *r = attack(rt, code, 0);

	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_str_eq(t_out(r), out);
	cact_result_free(r);
	host_ok(rt);
}

/* Runs code with a timeout, expects the timeout status well within 5 s. */
static void expect_timeout(const char *code)
{
	struct cact_runtime *rt = begin();
	uint64_t t0 = now_ms(), wall;
	struct cact_result *r = attack(rt, code, 1000);

	wall = now_ms() - t0;
	t_assert_status(r, CACT_STATUS_TIMEOUT);
	ck_assert_pstr_eq(cact_result_error_type(r), "timeout");
	assert_contains(cact_result_error_message(r), "wall-clock");
	ck_assert_msg(wall < 5000, "the 1 s timeout took %llu ms", (unsigned long long)wall);
	cact_result_free(r);
	host_ok(rt);
}

/* Runs code, expects a protocol violation whose message holds what. */
static void expect_protocol_violation(const char *code, const char *what)
{
	struct cact_runtime *rt = begin();
	uint64_t t0 = now_ms(), wall;
	struct cact_result *r = attack(rt, code, 0);

	wall = now_ms() - t0;
	t_assert_status(r, CACT_STATUS_SANDBOX_VIOLATION);
	ck_assert_pstr_eq(cact_result_error_type(r), "sandbox_violation");
	assert_contains(cact_result_error_message(r), "protocol violation");
	assert_contains(cact_result_error_message(r), what);
	ck_assert_int_eq(cact_result_exit_code(r), -1);
	ck_assert_msg(wall < 5000, "the violation took %llu ms to be reported",
		      (unsigned long long)wall);
	cact_result_free(r);
	host_ok(rt);
}

/* ================= escape ================= */

START_TEST(escape_ptrace_traceme)
{
	expect_killed("", "libc.syscall(101, 0, 0, 0, 0)");
}
END_TEST

START_TEST(escape_unshare_newuser)
{
	expect_killed("", "libc.syscall(272, 0x10000000)");
}
END_TEST

START_TEST(escape_unshare_newns)
{
	expect_killed("", "libc.unshare(0x00020000)");
}
END_TEST

START_TEST(escape_mount_tmpfs)
{
	expect_killed("", "libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)");
}
END_TEST

START_TEST(escape_umount_input)
{
	expect_killed("", "libc.umount2(b'/input', 2)");
}
END_TEST

START_TEST(escape_fsopen)
{
	expect_killed("", "libc.syscall(430, b'tmpfs', 0)");
}
END_TEST

START_TEST(escape_open_tree)
{
	expect_killed("", "libc.syscall(428, -100, b'/', 1)");
}
END_TEST

START_TEST(escape_clone_newuser)
{
	/* clone(CLONE_NEWUSER | SIGCHLD): a namespace flag kills even outside a fork. */
	expect_killed("", "libc.syscall(56, ctypes.c_long(0x10000000 | 17), 0, 0, 0, 0)");
}
END_TEST

START_TEST(escape_clone_thread_flags_newnet)
{
	/* Thread flags are allowed only exactly: with CLONE_NEWNET added they kill. */
	expect_killed("", "libc.syscall(56, ctypes.c_long(0x3d0f00 | 0x40000000), 0, 0, 0, 0)");
}
END_TEST

START_TEST(escape_x32_syscall)
{
	/* getpid through the x32 ABI (nr | __X32_SYSCALL_BIT). */
	expect_killed("", "libc.syscall(ctypes.c_long(39 | 0x40000000))");
}
END_TEST

/* Whether int 0x80 reaches the kernel's i386 entry here (some kernels fault instead). */
static int host_has_ia32(void)
{
	int status;
	pid_t p = fork();

	ck_assert_int_ge(p, 0);
	if (p == 0) {
#if defined(__x86_64__)
		long r;

		__asm__ volatile("int $0x80"
				 : "=a"(r)
				 : "a"(20L)
				 : "memory", "r8", "r9", "r10", "r11");
		_exit(r > 0 ? 0 : 1);
#else
		_exit(1);
#endif
	}
	ck_assert_int_eq(waitpid(p, &status, 0), p);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

START_TEST(escape_int80_i386_syscall)
{
	struct cact_runtime *rt;
	struct cact_result *r;
	int ia32 = host_has_ia32();
	const char *code =
		"import ctypes, mmap\n"
		"m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\n"
		"m.write(bytes([0xb8, 42, 0, 0, 0, 0xc3]))\n"		  /* mov eax, 42; ret */
		"m.write(bytes([0xb8, 20, 0, 0, 0, 0xcd, 0x80, 0xc3]))\n" /* mov eax, 20; int 0x80; ret */
		"base = ctypes.addressof(ctypes.c_char.from_buffer(m))\n"
		"print('plain', ctypes.CFUNCTYPE(ctypes.c_int)(base)(), flush=True)\n"
		"print('i386', ctypes.CFUNCTYPE(ctypes.c_int)(base + 6)(), flush=True)\n";

	rt = begin();
	r = attack(rt, code, 0);
	/* Executable memory works: the plain function ran, the i386 call never returned. */
	ck_assert_str_eq(t_out(r), "plain 42\n");
	if (ia32) {
		t_assert_status(r, CACT_STATUS_SANDBOX_VIOLATION);
		assert_contains(cact_result_error_message(r), "seccomp");
	} else {
		/* No i386 entry in this kernel: int 0x80 faults outside the sandbox too. */
		printf("escape_int80_i386_syscall: int 0x80 raises SIGSEGV on this kernel even "
		       "outside the sandbox; expecting crashed (SIGSEGV), not the filter's kill\n");
		t_assert_status(r, CACT_STATUS_CRASHED);
		assert_contains(cact_result_error_message(r), "SIGSEGV");
	}
	cact_result_free(r);
	host_ok(rt);
}
END_TEST

START_TEST(escape_io_uring_setup)
{
	expect_killed("", "libc.syscall(425, 8, ctypes.create_string_buffer(120))");
}
END_TEST

START_TEST(escape_bpf)
{
	expect_killed("", "libc.syscall(321, 0, ctypes.create_string_buffer(128), 128)");
}
END_TEST

START_TEST(escape_perf_event_open)
{
	expect_killed("", "libc.syscall(298, ctypes.create_string_buffer(128), 0, -1, -1, 0)");
}
END_TEST

START_TEST(escape_userfaultfd)
{
	expect_killed("", "libc.syscall(323, 0)");
}
END_TEST

START_TEST(escape_keyctl)
{
	/* KEYCTL_GET_KEYRING_ID of the user keyring. */
	expect_killed("", "libc.syscall(250, 0, -4, 0, 0, 0)");
}
END_TEST

START_TEST(escape_add_key)
{
	expect_killed("", "libc.syscall(248, b'user', b'x', b'data', 4, -4)");
}
END_TEST

START_TEST(escape_setns)
{
	expect_killed("", "libc.setns(3, 0)");
}
END_TEST

START_TEST(escape_open_by_handle_at)
{
	expect_killed("", "libc.syscall(304, -100, ctypes.create_string_buffer(64), 0)");
}
END_TEST

START_TEST(escape_name_to_handle_at)
{
	expect_killed("", "libc.syscall(303, -100, b'/tmp', ctypes.create_string_buffer(128), "
			  "ctypes.byref(ctypes.c_int()), 0)");
}
END_TEST

START_TEST(escape_personality)
{
	/* READ_IMPLIES_EXEC */
	expect_killed("", "libc.syscall(135, 0x0400000)");
}
END_TEST

START_TEST(escape_pivot_root)
{
	expect_killed("", "libc.syscall(155, b'/tmp', b'/tmp')");
}
END_TEST

START_TEST(escape_chroot)
{
	expect_killed("", "libc.chroot(b'/tmp')");
}
END_TEST

START_TEST(escape_process_vm_readv)
{
	expect_killed("buf = ctypes.create_string_buffer(16)\n"
		      "iov = (ctypes.c_void_p * 2)(ctypes.addressof(buf), 16)\n",
		      "libc.syscall(310, 1, iov, 1, iov, 1, 0)");
}
END_TEST

START_TEST(escape_process_vm_writev)
{
	expect_killed("", "libc.syscall(311, 1, 0, 0, 0, 0, 0)");
}
END_TEST

START_TEST(escape_finit_module)
{
	expect_killed("", "libc.syscall(313, 0, b'', 0)");
}
END_TEST

START_TEST(escape_iopl)
{
	expect_killed("", "libc.syscall(172, 3)");
}
END_TEST

START_TEST(escape_vmsplice)
{
	expect_killed("", "libc.syscall(278, 1, 0, 0, 0)");
}
END_TEST

START_TEST(escape_pidfd_getfd)
{
	expect_killed("", "libc.syscall(438, 0, 3, 0)");
}
END_TEST

START_TEST(escape_tiocsti_stdio)
{
	/* Typing into a terminal outside, on each standard stream: the first try is fatal. */
	expect_killed("import fcntl, termios\n",
		      "[fcntl.ioctl(fd, termios.TIOCSTI, b'x') for fd in (0, 1, 2)]");
}
END_TEST

START_TEST(escape_tiocsti_high_bits)
{
	/* The kernel reads the request as 32 bits: garbage above them must not slip past. */
	expect_killed("", "libc.syscall(16, 1, ctypes.c_ulong(0x100005412), b'x')");
}
END_TEST

START_TEST(escape_tioclinux)
{
	expect_killed(
		"", "libc.syscall(16, 0, ctypes.c_ulong(0x541C), ctypes.create_string_buffer(8))");
}
END_TEST

START_TEST(escape_os_fork)
{
	struct cact_runtime *rt = begin();
	struct cact_result *r = attack(rt, "import os\nos.fork()\nprint('forked')\n", 0);

	t_assert_status(r, CACT_STATUS_PYTHON_ERROR);
	ck_assert_int_eq(cact_result_exit_code(r), 1);
	ck_assert_pstr_eq(cact_result_error_type(r), "PermissionError");
	ck_assert_pstr_eq(cact_result_error_message(r), "[Errno 1] Operation not permitted");
	assert_contains(cact_result_error_traceback(r), "os.fork()");
	ck_assert_str_eq(t_out(r), "");
	cact_result_free(r);
	host_ok(rt);
}
END_TEST

START_TEST(escape_subprocess_run)
{
	struct cact_runtime *rt = begin();
	struct cact_result *r = attack(rt, "import subprocess\nsubprocess.run(['/bin/true'])\n", 0);

	t_assert_status(r, CACT_STATUS_PYTHON_ERROR);
	/* PermissionError is the OSError that fork/vfork/clone3 denial gives. */
	ck_assert_pstr_eq(cact_result_error_type(r), "PermissionError");
	ck_assert_pstr_eq(cact_result_error_message(r), "[Errno 1] Operation not permitted");
	cact_result_free(r);
	host_ok(rt);
}
END_TEST

START_TEST(escape_execve_shell)
{
	expect_output(PY_LIBC
		      "import os\n"
		      "for argv0 in ('/bin/sh', '/usr/bin/python3', '/tmp/x'):\n"
		      "    try:\n"
		      "        os.execv(argv0, [argv0, '-c', 'id'])\n"
		      "    except OSError as e:\n"
		      "        print(argv0, type(e).__name__, e.errno)\n"
		      "print(libc.syscall(322, -100, b'/bin/sh', 0, 0, 0), ctypes.get_errno())\n",
		      "/bin/sh PermissionError 1\n"
		      "/usr/bin/python3 PermissionError 1\n"
		      "/tmp/x PermissionError 1\n"
		      "-1 1\n");
}
END_TEST

START_TEST(escape_sockets)
{
	expect_output("import socket\n"
		      "for name, fam, typ in (('inet', socket.AF_INET, socket.SOCK_STREAM),\n"
		      "                       ('inet6', socket.AF_INET6, socket.SOCK_DGRAM),\n"
		      "                       ('netlink', socket.AF_NETLINK, socket.SOCK_RAW),\n"
		      "                       ('unix', socket.AF_UNIX, socket.SOCK_STREAM),\n"
		      "                       ('packet', socket.AF_PACKET, socket.SOCK_RAW)):\n"
		      "    try:\n"
		      "        socket.socket(fam, typ)\n"
		      "        print(name, 'OPENED')\n"
		      "    except OSError as e:\n"
		      "        print(name, type(e).__name__, e.errno)\n"
		      "a, b = socket.socketpair(socket.AF_UNIX)\n"
		      "a.sendall(b'ping')\n"
		      "print('pair_unix', b.recv(4))\n"
		      "try:\n"
		      "    socket.socketpair(socket.AF_INET)\n"
		      "except OSError as e:\n"
		      "    print('pair_inet', e.errno)\n",
		      "inet PermissionError 1\n"
		      "inet6 PermissionError 1\n"
		      "netlink PermissionError 1\n"
		      "unix PermissionError 1\n"
		      "packet PermissionError 1\n"
		      "pair_unix b'ping'\n"
		      "pair_inet 1\n");
}
END_TEST

START_TEST(escape_memfd_create)
{
	expect_output("import os\n"
		      "try:\n"
		      "    os.memfd_create('x')\n"
		      "except OSError as e:\n"
		      "    print(type(e).__name__, e.errno)\n",
		      "PermissionError 1\n");
}
END_TEST

START_TEST(escape_sysv_ipc)
{
	expect_output(PY_LIBC "print('shmget', libc.shmget(0, 4096, 0o1600), ctypes.get_errno())\n"
			      "print('semget', libc.semget(0, 1, 0o1600), ctypes.get_errno())\n"
			      "print('msgget', libc.msgget(0, 0o1600), ctypes.get_errno())\n",
		      "shmget -1 1\nsemget -1 1\nmsgget -1 1\n");
}
END_TEST

START_TEST(escape_denied_syscalls_fail_with_eperm)
{
	/* Not on the allow-list, not fatal: EPERM, and the process lives on. */
	expect_output(
		PY_LIBC
		"calls = {'setuid': (105, 0), 'setgid': (106, 0), 'setresuid': (117, 0, 0, 0),\n"
		"  'setgroups': (116, 0, 0), 'capset': (126, 0, 0), 'seccomp': (317, 0, 0, 0),\n"
		"  'pidfd_open': (434, 1, 0), 'sched_setaffinity': (203, 0, 8, 0),\n"
		"  'migrate_pages': (256, 0, 0, 0, 0), 'mbind': (237, 0, 0, 0, 0, 0, 0),\n"
		"  'landlock_create_ruleset': (444, 0, 0, 1), 'mq_open': (240, b'/q', 64, 384, "
		"0),\n"
		"  'inotify_init1': (294, 0), 'connect': (42, 3, 0, 0), 'bind': (49, 3, 0, 0),\n"
		"  'fork': (57,), 'vfork': (58,), 'memfd_secret': (447, 0),\n"
		"  'setpriority': (141, 0, 0, -5), 'setsid': (112,), 'setpgid': (109, 0, 0),\n"
		"  'sethostname': (170, b'x', 1), 'chown': (92, b'/tmp', 0, 0),\n"
		"  'process_madvise': (440, 0, 0, 0, 0, 0), 'ioprio_set': (251, 1, 0, 0),\n"
		"  'prctl_set_dumpable': (157, 4, 1), 'prlimit64_pid1': (302, 1, 7, 0, 0),\n"
		"  'clone_vfork': (56, 0x4111, 0, 0, 0, 0)}\n"
		"bad = []\n"
		"for name, args in calls.items():\n"
		"    r = libc.syscall(*args)\n"
		"    e = ctypes.get_errno()\n"
		"    if r != -1 or e != 1:\n"
		"        bad.append((name, r, e))\n"
		"print(len(calls), bad)\n"
		"print('clone3', libc.syscall(435, ctypes.create_string_buffer(88), 88),\n"
		"      ctypes.get_errno())\n",
		"28 []\nclone3 -1 38\n");
}
END_TEST

START_TEST(escape_kill_outside_pids)
{
	struct cact_runtime *rt = begin();
	pid_t outer = cact_runtime_zygote_pid(rt), zygote = zygote_of(rt), self = getpid();
	struct cact_result *r;
	char code[1024], out[128];
	/* 2..4096, the three host pids, and -1. */
	int expect = 4095 + 3 + 1;

	snprintf(code, sizeof(code),
		 "import errno, os\n"
		 "pids = list(range(2, 4097)) + [%d, %d, %d, -1]\n"
		 "seen = {}\n"
		 "for p in pids:\n"
		 "    try:\n"
		 "        os.kill(p, 9)\n"
		 "        k = 'sent'\n"
		 "    except OSError as e:\n"
		 "        k = errno.errorcode[e.errno]\n"
		 "    seen[k] = seen.get(k, 0) + 1\n"
		 "print(seen)\n",
		 (int)self, (int)outer, (int)zygote);
	snprintf(out, sizeof(out), "{'ESRCH': %d}\n", expect);
	r = attack(rt, code, 0);
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_str_eq(t_out(r), out);
	cact_result_free(r);
	ck_assert_int_eq(kill(self, 0), 0);
	ck_assert_msg(kill(outer, 0) == 0, "the guest helper was killed");
	ck_assert_msg(kill(zygote, 0) == 0, "the zygote was killed");
	host_ok(rt);
}
END_TEST

/*
 * kill(0, SIGKILL) from the sandbox, run by a host process that leads a
 * process group of its own with one more member (a sibling that only
 * waits). Whatever happens stays inside that group, not the test's. Reports
 * "" when the host process and its sibling survived and the runtime still
 * worked, otherwise what went wrong (in why).
 */
static void process_group_attack(const struct cact_runtime_options *o, char *why, size_t size)
{
	int go[2], rep[2], status;
	char report[512] = "";
	size_t got = 0;
	pid_t host, sibling;
	uint64_t deadline;

	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(rep), 0);
	host = fork();
	ck_assert_int_ge(host, 0);
	if (host == 0) {
		const char *code = "import os, signal\n"
				   "os.kill(0, signal.SIGKILL)\n"
				   "print('sent')\n";
		struct cact_runtime *rt = NULL;
		struct cact_request *req = NULL;
		struct cact_result *res = NULL;
		struct cact_error err = {0};
		char line[512], c;
		int n = 0;

		setpgid(0, 0);
		close(go[1]);
		close(rep[0]);
		if (read(go[0], &c, 1) != 1)
			_exit(3);
		if (cact_runtime_new(o, &rt, &err) || cact_request_new(&req) ||
		    cact_request_set_code(req, code, strlen(code), &err)) {
			n = snprintf(line, sizeof(line), "set-up failed: %s", err.message);
		} else if (cact_runtime_run(rt, req, &res, &err)) {
			n = snprintf(line, sizeof(line), "run failed: %s", err.message);
		} else {
			n = snprintf(line, sizeof(line), "%s|%s|",
				     cact_status_name(cact_result_status(res)),
				     cact_result_stdout(res, NULL, NULL));
			cact_result_free(res);
			res = NULL;
			code = "print('ok')";
			if (cact_request_set_code(req, code, strlen(code), &err) ||
			    cact_runtime_run(rt, req, &res, &err))
				n += snprintf(line + n, sizeof(line) - (size_t)n,
					      "next run failed: %s", err.message);
			else
				n += snprintf(line + n, sizeof(line) - (size_t)n, "%s|%s",
					      cact_status_name(cact_result_status(res)),
					      cact_result_stdout(res, NULL, NULL));
		}
		if (write(rep[1], line, (size_t)n) != n)
			_exit(4);
		cact_result_free(res);
		cact_request_free(req);
		cact_runtime_free(rt);
		_exit(0);
	}
	setpgid(host, host);
	close(go[0]);
	close(rep[1]);
	sibling = fork();
	ck_assert_int_ge(sibling, 0);
	if (sibling == 0) {
		setpgid(0, host);
		for (;;)
			pause();
	}
	ck_assert_int_eq(setpgid(sibling, host) == 0 || errno == EACCES, 1);
	ck_assert_int_eq(getpgid(sibling), host);
	ck_assert_int_eq(write(go[1], "g", 1), 1);
	close(go[1]);
	deadline = now_ms() + 60000;
	while (now_ms() < deadline) {
		struct pollfd p = {.fd = rep[0], .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(rep[0], report + got, sizeof(report) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	report[got] = '\0';
	close(rep[0]);
	ck_assert_int_eq(waitpid(host, &status, 0), host);
	why[0] = '\0';
	if (WIFSIGNALED(status))
		snprintf(why, size,
			 "the host process was killed by SIG%s (the sandbox signalled its host's "
			 "process group); report: \"%s\"",
			 sigabbrev_np(WTERMSIG(status)) ?: "?", report);
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		snprintf(why, size, "the host process exited with %d; report: \"%s\"",
			 WEXITSTATUS(status), report);
	else if (waitpid(sibling, &status, WNOHANG) != 0)
		snprintf(why, size, "a sibling in the host's process group was killed");
	else if (strcmp(report, "ok|sent\n|ok|ok\n") != 0)
		snprintf(why, size, "unexpected report \"%s\"", report);
	kill(sibling, SIGKILL);
	waitpid(sibling, NULL, 0);
}

/*
 * The attack forks before begin() starts this process's runtime: a fork of
 * a process with threads may inherit a lock another thread held (once in a
 * few hundred runs under ASan, whose allocator does not guard fork), and
 * the forked host would hang.
 */
START_TEST(escape_kill_process_group)
{
	struct cact_runtime *rt;
	char why[1024];

	process_group_attack(NULL, why, sizeof(why));
	rt = begin();
	ck_assert_msg(why[0] == '\0', "%s", why);
	host_ok(rt);
}
END_TEST

START_TEST(escape_kill_process_group_without_landlock)
{
	/*
	 * As on a kernel without landlock's signal scoping (before 6.12): only
	 * the pid namespace and the sandbox's own session stand between the code
	 * and its host's process group.
	 */
	struct cact_runtime_options o;
	struct cact_runtime *rt;
	char why[1024];

	cact_runtime_options_init(&o);
	o.isolation = CACT_ISOLATION_REDUCED;
	o.hide_features = CACT_FEATURE_LANDLOCK;
	process_group_attack(&o, why, sizeof(why));
	rt = begin();
	ck_assert_msg(why[0] == '\0', "%s", why);
	host_ok(rt);
}
END_TEST

/* ================= filesystem ================= */

START_TEST(fs_host_secrets_absent)
{
	expect_output("import os\n"
		      "for p in ('/etc/shadow', '/etc/hostname', '/root', '/home', "
		      "'/proc/self/environ',\n"
		      "          '/proc/1/root', '/sys/kernel', '/run', '/var', '/boot'):\n"
		      "    try:\n"
		      "        open(p).read()\n"
		      "        print(p, 'READ')\n"
		      "    except OSError as e:\n"
		      "        print(p, type(e).__name__, e.errno)\n"
		      "print(sorted(os.listdir('/')))\n"
		      "print(sorted(os.listdir('/etc')))\n",
		      "/etc/shadow FileNotFoundError 2\n"
		      "/etc/hostname FileNotFoundError 2\n"
		      "/root FileNotFoundError 2\n"
		      "/home FileNotFoundError 2\n"
		      "/proc/self/environ FileNotFoundError 2\n"
		      "/proc/1/root FileNotFoundError 2\n"
		      "/sys/kernel FileNotFoundError 2\n"
		      "/run FileNotFoundError 2\n"
		      "/var FileNotFoundError 2\n"
		      "/boot FileNotFoundError 2\n"
		      "['dev', 'etc', 'input', 'lib', 'output', 'tmp', 'usr']\n"
		      "['group', 'ld.so.cache', 'passwd']\n");
}
END_TEST

START_TEST(fs_canary_path_absent)
{
	struct cact_runtime *rt = begin();
	struct cact_result *r;
	char code[1024];

	snprintf(code, sizeof(code),
		 "import os\n"
		 "p = '%s'\n"
		 "for f in (os.stat, os.lstat, open):\n"
		 "    try:\n"
		 "        f(p)\n"
		 "        print(f.__name__, 'FOUND')\n"
		 "    except OSError as e:\n"
		 "        print(f.__name__, type(e).__name__, e.errno)\n"
		 "print(os.path.exists(p), os.path.basename(p) in os.listdir('/tmp'))\n",
		 canary_path);
	r = attack(rt, code, 0);
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_str_eq(t_out(r), "stat FileNotFoundError 2\n"
				   "lstat FileNotFoundError 2\n"
				   "open FileNotFoundError 2\n"
				   "False False\n");
	cact_result_free(r);
	host_ok(rt);
}
END_TEST

START_TEST(fs_canary_not_in_sandbox_tree)
{
	struct cact_runtime *rt = begin();
	struct cact_result *r;
	char code[2048], reversed[sizeof(canary)];
	size_t i, n = strlen(canary);

	/* The code carries the token reversed, so that no echo of it can look like a leak. */
	for (i = 0; i < n; i++)
		reversed[i] = canary[n - 1 - i];
	reversed[n] = '\0';
	snprintf(code, sizeof(code),
		 "import os\n"
		 "t = '%s'[::-1].encode()\n"
		 "hits, seen = [], 0\n"
		 "for top in ('/etc', '/input', '/output', '/tmp', '/'):\n"
		 "    for d, dirs, files in os.walk(top):\n"
		 "        if top == '/':\n"
		 "            dirs.clear()\n"
		 "        for f in files:\n"
		 "            p = os.path.join(d, f)\n"
		 "            try:\n"
		 "                with open(p, 'rb') as fh:\n"
		 "                    seen += 1\n"
		 "                    if t in fh.read(1 << 20):\n"
		 "                        hits.append(p)\n"
		 "            except OSError:\n"
		 "                pass\n"
		 "env = [k for k, v in os.environ.items() if t.decode() in k + v]\n"
		 "print(seen > 0, hits, env)\n",
		 reversed);
	r = attack(rt, code, 0);
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_str_eq(t_out(r), "True [] []\n");
	cact_result_free(r);
	host_ok(rt);
}
END_TEST

START_TEST(fs_input_read_only)
{
	struct cact_runtime *rt = begin();
	char *ws = own_tmpdir();
	char path[512], buf[64];
	struct cact_result *r;
	struct stat st;
	char **names;
	size_t n;
	int fd;
	ssize_t got;
	const char *code = "import os\n"
			   "ops = [\n"
			   "  ('open_w', lambda: open('/input/a.txt', 'w')),\n"
			   "  ('open_a', lambda: open('/input/a.txt', 'a')),\n"
			   "  ('create', lambda: open('/input/new.txt', 'x')),\n"
			   "  ('rename', lambda: os.rename('/input/a.txt', '/input/b.txt')),\n"
			   "  ('rename_out', lambda: os.rename('/input/a.txt', '/tmp/a.txt')),\n"
			   "  ('link_out', lambda: os.link('/input/a.txt', '/tmp/a.txt')),\n"
			   "  ('chmod', lambda: os.chmod('/input/a.txt', 0o777)),\n"
			   "  ('chown', lambda: os.chown('/input/a.txt', 1000, 1000)),\n"
			   "  ('unlink', lambda: os.unlink('/input/a.txt')),\n"
			   "  ('rmdir', lambda: os.rmdir('/input/sub')),\n"
			   "  ('mkdir', lambda: os.mkdir('/input/d')),\n"
			   "  ('symlink', lambda: os.symlink('/etc/passwd', '/input/l')),\n"
			   "  ('truncate', lambda: os.truncate('/input/a.txt', 0)),\n"
			   "  ('utime', lambda: os.utime('/input/a.txt', (0, 0))),\n"
			   "  ('mkfifo', lambda: os.mkfifo('/input/f')),\n"
			   "]\n"
			   "for name, op in ops:\n"
			   "    try:\n"
			   "        op()\n"
			   "        print(name, 'DONE')\n"
			   "    except OSError as e:\n"
			   "        print(name, e.errno)\n"
			   "print(open('/input/a.txt').read(), end='')\n";

	t_write(ws, "a.txt", "original\n");
	t_write(ws, "sub/b.txt", "inner\n");
	r = attack_ws(rt, code, ws);
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_str_eq(t_out(r), "open_w 30\nopen_a 30\ncreate 30\nrename 30\nrename_out 18\n"
				   "link_out 18\nchmod 30\nchown 1\nunlink 30\nrmdir 30\nmkdir 30\n"
				   "symlink 30\ntruncate 30\nutime 30\nmkfifo 30\noriginal\n");
	cact_result_free(r);
	/* The host's files are as they were. */
	snprintf(path, sizeof(path), "%s/a.txt", ws);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);
	ck_assert_int_ne(st.st_mtime, 0);
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ck_assert_int_ge(got, 0);
	buf[got] = '\0';
	ck_assert_str_eq(buf, "original\n");
	names = list_dir(ws, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(names[0], "a.txt");
	ck_assert_str_eq(names[1], "sub");
	free_list(names, n);
	snprintf(path, sizeof(path), "%s/sub/b.txt", ws);
	ck_assert_int_eq(stat(path, &st), 0);
	free(ws);
	host_ok(rt);
}
END_TEST

START_TEST(fs_file_mount_exposes_only_that_file)
{
	struct cact_runtime *rt = begin();
	char *dir = own_tmpdir();
	char host[512];
	struct cact_request *req = NULL;
	struct cact_error err = {0};
	struct cact_result *r;

	t_write(dir, "f.txt", "mounted\n");
	t_write(dir, "secret.txt", "sibling of the mounted file\n");
	snprintf(host, sizeof(host), "%s/f.txt", dir);
	ck_assert_int_eq(cact_request_new(&req), 0);
	ck_assert_msg(cact_request_add_mount(req, host, "data/f.txt", &err) == 0, "%s",
		      err.message);
	r = attack_with(rt, req,
			"import os\n"
			"print(sorted(os.listdir('/input')), sorted(os.listdir('/input/data')))\n"
			"print(open('/input/data/f.txt').read(), end='')\n"
			"for p in ('/input/data/f.txt/../secret.txt', '/input/data/secret.txt',\n"
			"          '/input/data/../../secret.txt'):\n"
			"    try:\n"
			"        open(p).read()\n"
			"        print('READ', p)\n"
			"    except OSError as e:\n"
			"        print(e.errno)\n"
			"for op in (lambda: open('/input/data/f.txt', 'w'),\n"
			"           lambda: open('/input/data/new.txt', 'w'),\n"
			"           lambda: os.unlink('/input/data/f.txt')):\n"
			"    try:\n"
			"        op()\n"
			"        print('DONE')\n"
			"    except OSError as e:\n"
			"        print(e.errno)\n",
			0);
	cact_request_free(req);
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_str_eq(t_out(r), "['data'] ['f.txt']\nmounted\n20\n2\n2\n30\n30\n30\n");
	cact_result_free(r);
	free(dir);
	host_ok(rt);
}
END_TEST

START_TEST(fs_traversal)
{
	struct cact_runtime *rt = begin();
	struct cact_result *r;
	char code[2048];
	const char *base = strrchr(canary_path, '/') + 1;

	snprintf(
		code, sizeof(code),
		"import os\n"
		"paths = ['/input/../../etc/shadow', '/output/../../etc/shadow',\n"
		"         '/tmp/../../../../root/.bashrc', '/input/' + '../' * 40 + 'etc/shadow',\n"
		"         '/output/../../tmp/%s', '/../../../../proc/self/environ',\n"
		"         '/usr/../../sys/kernel/notes', '/dev/../../../tmp/%s']\n"
		"for p in paths:\n"
		"    try:\n"
		"        open(p).read()\n"
		"        print('READ', p)\n"
		"    except OSError as e:\n"
		"        print(e.errno)\n"
		"print(os.path.realpath('/input/../../..'))\n"
		"fd = os.open('/output', os.O_RDONLY)\n"
		"for rel in ('../../etc/shadow', '../' * 30 + 'tmp/%s'):\n"
		"    try:\n"
		"        os.open(rel, os.O_RDONLY, dir_fd=fd)\n"
		"        print('OPENED', rel)\n"
		"    except OSError as e:\n"
		"        print('dirfd', e.errno)\n",
		base, base, base);
	r = attack(rt, code, 0);
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_str_eq(t_out(r), "2\n2\n2\n2\n2\n2\n2\n2\n/\ndirfd 2\ndirfd 2\n");
	cact_result_free(r);
	host_ok(rt);
}
END_TEST

static int has_skipped(const struct cact_result *r, const char *line)
{
	size_t i;

	for (i = 0; i < cact_result_skipped_count(r); i++)
		if (strcmp(cact_result_skipped(r, i), line) == 0)
			return 1;
	return 0;
}

static void assert_skipped(const struct cact_result *r, const char *line)
{
	ck_assert_msg(has_skipped(r, line), "\"%s\" is not among the %zu skipped entries", line,
		      cact_result_skipped_count(r));
}

START_TEST(fs_output_symlinks_skipped)
{
	struct cact_runtime *rt = begin();
	struct cact_result *r;
	struct cact_file f;
	char code[1024];

	snprintf(code, sizeof(code),
		 "import os\n"
		 "os.symlink('%s', '/output/canary_link')\n"
		 "os.symlink('/etc/passwd', '/output/passwd_link')\n"
		 "os.symlink('../' * 8 + '%s', '/output/relative_link')\n"
		 "os.mkdir('/output/sub')\n"
		 "os.symlink('/', '/output/sub/root_link')\n"
		 "os.symlink('/output/sub', '/output/dir_link')\n"
		 "with open('/output/real.txt', 'w') as f:\n"
		 "    f.write('real\\n')\n"
		 "print('done')\n",
		 canary_path, canary_path + 1);
	r = attack(rt, code, 0);
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_str_eq(t_out(r), "done\n");
	ck_assert_uint_eq(cact_result_file_count(r), 1);
	ck_assert_int_eq(cact_result_file(r, 0, &f), 0);
	ck_assert_str_eq(f.path, "/output/real.txt");
	ck_assert_uint_eq(f.size, 5);
	ck_assert_int_eq(memcmp(f.data, "real\n", 5), 0);
	ck_assert_uint_eq(cact_result_skipped_count(r), 5);
	assert_skipped(r, "/output/canary_link: symbolic link, not followed");
	assert_skipped(r, "/output/passwd_link: symbolic link, not followed");
	assert_skipped(r, "/output/relative_link: symbolic link, not followed");
	assert_skipped(r, "/output/dir_link: symbolic link, not followed");
	assert_skipped(r, "/output/sub/root_link: symbolic link, not followed");
	cact_result_free(r);
	host_ok(rt);
}
END_TEST

START_TEST(fs_output_hard_link_skipped)
{
	struct cact_runtime *rt = begin();
	struct cact_result *r;

	r = attack(rt,
		   "import os\n"
		   "with open('/output/a.txt', 'w') as f:\n"
		   "    f.write('data\\n')\n"
		   "os.link('/output/a.txt', '/output/b.txt')\n"
		   "with open('/tmp/t.txt', 'w') as f:\n"
		   "    f.write('tmp\\n')\n"
		   "for src, name in (('/tmp/t.txt', 'cross'), ('/etc/passwd', 'passwd'),\n"
		   "                  ('/usr/lib', 'dir')):\n"
		   "    try:\n"
		   "        os.link(src, '/output/' + name)\n"
		   "        print(name, 'LINKED')\n"
		   "    except OSError as e:\n"
		   "        print(name, e.errno)\n",
		   0);
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_str_eq(t_out(r), "cross 18\npasswd 18\ndir 18\n");
	ck_assert_uint_eq(cact_result_file_count(r), 0);
	ck_assert_uint_eq(cact_result_skipped_count(r), 2);
	assert_skipped(r, "/output/a.txt: hard link, not read");
	assert_skipped(r, "/output/b.txt: hard link, not read");
	cact_result_free(r);
	host_ok(rt);
}
END_TEST

START_TEST(fs_output_fifo_skipped)
{
	struct cact_runtime *rt = begin();
	uint64_t t0 = now_ms(), wall;
	struct cact_result *r;
	struct cact_file f;

	r = attack(rt,
		   "import os\n"
		   "os.mkfifo('/output/pipe')\n"
		   "os.mkdir('/output/d')\n"
		   "os.mkfifo('/output/d/pipe2', 0o600)\n"
		   "with open('/output/after.txt', 'w') as f:\n"
		   "    f.write('after\\n')\n"
		   "print('done')\n",
		   0);
	wall = now_ms() - t0;
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_msg(wall < 5000, "the harvest took %llu ms", (unsigned long long)wall);
	ck_assert_uint_eq(cact_result_file_count(r), 1);
	ck_assert_int_eq(cact_result_file(r, 0, &f), 0);
	ck_assert_str_eq(f.path, "/output/after.txt");
	ck_assert_uint_eq(cact_result_skipped_count(r), 2);
	assert_skipped(r, "/output/pipe: FIFO, not read");
	assert_skipped(r, "/output/d/pipe2: FIFO, not read");
	cact_result_free(r);
	host_ok(rt);
}
END_TEST

START_TEST(fs_setuid_bits_refused)
{
	expect_output("import os, stat\n"
		      "open('/tmp/f', 'w').close()\n"
		      "for mode in (0o4755, 0o2755, 0o1755):\n"
		      "    try:\n"
		      "        os.chmod('/tmp/f', mode)\n"
		      "        print(oct(mode), 'DONE')\n"
		      "    except OSError as e:\n"
		      "        print(oct(mode), type(e).__name__, e.errno)\n"
		      "fd = os.open('/tmp/f', os.O_RDONLY)\n"
		      "try:\n"
		      "    os.fchmod(fd, 0o6755)\n"
		      "except OSError as e:\n"
		      "    print('fchmod', e.errno)\n"
		      "try:\n"
		      "    os.open('/tmp/g', os.O_CREAT | os.O_WRONLY, 0o4755)\n"
		      "except OSError as e:\n"
		      "    print('open', type(e).__name__, e.errno)\n"
		      "print(os.path.exists('/tmp/g'))\n"
		      "try:\n"
		      "    os.mkdir('/tmp/d', 0o1777)\n"
		      "except OSError as e:\n"
		      "    print('mkdir', e.errno)\n"
		      "print(oct(stat.S_IMODE(os.stat('/tmp/f').st_mode)))\n",
		      "0o4755 PermissionError 1\n"
		      "0o2755 PermissionError 1\n"
		      "0o1755 PermissionError 1\n"
		      "fchmod 1\n"
		      "open PermissionError 1\n"
		      "False\n"
		      "mkdir 1\n"
		      "0o644\n");
}
END_TEST

START_TEST(fs_mknod_device_refused)
{
	expect_output("import os, stat\n"
		      "for name, mode in (('chr', stat.S_IFCHR), ('blk', stat.S_IFBLK),\n"
		      "                   ('sock', stat.S_IFSOCK), ('reg', stat.S_IFREG)):\n"
		      "    for where in ('/tmp', '/output'):\n"
		      "        try:\n"
		      "            os.mknod(where + '/' + name, mode | 0o666, os.makedev(1, 3))\n"
		      "            print(name, where, 'MADE')\n"
		      "        except OSError as e:\n"
		      "            print(name, where, e.errno)\n"
		      "os.mknod('/tmp/fifo', stat.S_IFIFO | 0o600)\n"
		      "print('fifo', stat.S_ISFIFO(os.stat('/tmp/fifo').st_mode))\n",
		      "chr /tmp 1\nchr /output 1\nblk /tmp 1\nblk /output 1\n"
		      "sock /tmp 1\nsock /output 1\nreg /tmp 1\nreg /output 1\nfifo True\n");
}
END_TEST

START_TEST(fs_output_disk_fill_one_file)
{
	struct cact_runtime *rt = begin();
	struct cact_result *r;
	struct cact_file f;
	unsigned long long mib = 0;
	int e = 0;

	/* 200 MiB into one file: the file size cap (or the tmpfs) stops it at 64 MiB. */
	r = attack(rt,
		   "n = 0\n"
		   "try:\n"
		   "    with open('/output/big', 'wb') as f:\n"
		   "        for i in range(200):\n"
		   "            f.write(b'\\0' * (1 << 20))\n"
		   "            f.flush()\n"
		   "            n += 1\n"
		   "    print(0, n)\n"
		   "except OSError as e:\n"
		   "    print(e.errno, n)\n",
		   0);
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_int_eq(sscanf(t_out(r), "%d %llu", &e, &mib), 2);
	ck_assert_msg(e == EFBIG || e == ENOSPC, "errno %d", e);
	ck_assert_uint_le(mib, 64);
	ck_assert_uint_ge(mib, 56);
	ck_assert_uint_eq(cact_result_file_count(r), 1);
	ck_assert_int_eq(cact_result_file(r, 0, &f), 0);
	ck_assert_uint_le(f.size, 64 * MIB);
	cact_result_free(r);
	host_ok(rt);
}
END_TEST

START_TEST(fs_output_disk_fill_many_files)
{
	struct cact_runtime *rt = begin();
	struct cact_result *r;
	unsigned long long mib = 0, total = 0;
	size_t i;
	int e = 0;

	/* 8 MiB files until the 64 MiB tmpfs is full: ENOSPC. */
	r = attack(rt,
		   "n = 0\n"
		   "try:\n"
		   "    for i in range(25):\n"
		   "        with open('/output/f%02d' % i, 'wb') as f:\n"
		   "            for j in range(8):\n"
		   "                f.write(b'\\1' * (1 << 20))\n"
		   "                n += 1\n"
		   "    print(0, n)\n"
		   "except OSError as e:\n"
		   "    print(e.errno, n)\n",
		   0);
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_int_eq(sscanf(t_out(r), "%d %llu", &e, &mib), 2);
	ck_assert_int_eq(e, ENOSPC);
	ck_assert_uint_le(mib, 64);
	ck_assert_uint_ge(mib, 48);
	for (i = 0; i < cact_result_file_count(r); i++) {
		struct cact_file f;

		ck_assert_int_eq(cact_result_file(r, i, &f), 0);
		total += f.size;
	}
	/* What was written is all there (a failed write may have left part of a MiB), no more. */
	ck_assert_uint_le(total, 64 * MIB);
	ck_assert_uint_ge(total, mib * MIB);
	ck_assert_uint_eq(cact_result_skipped_count(r), 0);
	cact_result_free(r);
	host_ok(rt);
}
END_TEST

START_TEST(fs_tmp_inode_exhaustion)
{
	struct cact_runtime *rt = begin();
	struct cact_result *r;
	unsigned long n = 0;
	int e = 0;

	r = attack(rt,
		   "n = 0\n"
		   "try:\n"
		   "    for i in range(100000):\n"
		   "        open('/tmp/f%d' % i, 'w').close()\n"
		   "        n += 1\n"
		   "    print(0, n)\n"
		   "except OSError as e:\n"
		   "    print(e.errno, n)\n",
		   0);
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_int_eq(sscanf(t_out(r), "%d %lu", &e, &n), 2);
	ck_assert_int_eq(e, ENOSPC);
	ck_assert_uint_lt(n, 100000);
	ck_assert_uint_gt(n, 1000);
	cact_result_free(r);
	host_ok(rt);
}
END_TEST

START_TEST(fs_sparse_file_too_large)
{
	expect_output("import os\n"
		      "with open('/tmp/s', 'wb') as f:\n"
		      "    try:\n"
		      "        f.truncate(10**12)\n"
		      "        print('TRUNCATED')\n"
		      "    except OSError as e:\n"
		      "        print('ftruncate', e.errno)\n"
		      "try:\n"
		      "    os.truncate('/tmp/s', 10**12)\n"
		      "except OSError as e:\n"
		      "    print('truncate', e.errno)\n"
		      "fd = os.open('/output/s', os.O_WRONLY | os.O_CREAT, 0o644)\n"
		      "try:\n"
		      "    os.pwrite(fd, b'x', 10**12)\n"
		      "except OSError as e:\n"
		      "    print('pwrite', e.errno)\n"
		      "print(os.stat('/tmp/s').st_size, os.stat('/output/s').st_size)\n",
		      "ftruncate 27\ntruncate 27\npwrite 27\n0 0\n");
}
END_TEST

START_TEST(fs_runtime_read_only)
{
	expect_output(
		"import os\n"
		"for p in ('/usr/x', os.__file__, '/etc/passwd', '/x', '/dev/x', '/input/x',\n"
		"          '/lib/x'):\n"
		"    try:\n"
		"        open(p, 'a').close()\n"
		"        print(p == os.__file__ and 'os.py' or p, 'WRITTEN')\n"
		"    except OSError as e:\n"
		"        print(p == os.__file__ and 'os.py' or p, e.errno)\n"
		"for op in (lambda: os.remove(os.__file__), lambda: os.mkdir('/newdir'),\n"
		"           lambda: os.chmod('/usr', 0o777), lambda: os.rmdir('/input')):\n"
		"    try:\n"
		"        op()\n"
		"        print('DONE')\n"
		"    except OSError as e:\n"
		"        print(e.errno)\n",
		"/usr/x 30\nos.py 30\n/etc/passwd 30\n/x 30\n/dev/x 30\n/input/x 30\n"
		"/lib/x 30\n30\n30\n30\n30\n");
}
END_TEST

START_TEST(fs_dev_minimal)
{
	expect_output(
		"import os\n"
		"print(sorted(os.listdir('/dev')))\n"
		"for p in ('/dev/urandom', '/dev/zero'):\n"
		"    try:\n"
		"        with open(p, 'wb') as f:\n"
		"            f.write(b'x')\n"
		"        print(p, 'WRITTEN')\n"
		"    except OSError as e:\n"
		"        print(p, e.errno)\n"
		"with open('/dev/null', 'wb') as f:\n"
		"    f.write(b'x')\n"
		"print(len(open('/dev/urandom', 'rb').read(16)), open('/dev/zero', 'rb').read(2))\n"
		"for p in ('/dev/tty', '/dev/mem', '/dev/kmsg', '/dev/shm', '/dev/pts'):\n"
		"    print(p, os.path.exists(p))\n",
		"['null', 'urandom', 'zero']\n"
		"/dev/urandom 13\n/dev/zero 13\n"
		"16 b'\\x00\\x00'\n"
		"/dev/tty False\n/dev/mem False\n/dev/kmsg False\n/dev/shm False\n"
		"/dev/pts False\n");
}
END_TEST

/* ================= resources ================= */

START_TEST(res_busy_loop_timeout)
{
	expect_timeout("while True:\n    pass\n");
}
END_TEST

START_TEST(res_sleep_timeout)
{
	expect_timeout("import time\ntime.sleep(1000)\n");
}
END_TEST

START_TEST(res_sigstop_self_timeout)
{
	expect_timeout("import os, signal, time\n"
		       "os.kill(os.getpid(), signal.SIGSTOP)\n"
		       "time.sleep(1000)\n");
}
END_TEST

START_TEST(res_ignored_signals_timeout)
{
	expect_timeout("import signal\n"
		       "for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGXCPU,\n"
		       "          signal.SIGALRM, signal.SIGUSR1, signal.SIGQUIT):\n"
		       "    signal.signal(s, signal.SIG_IGN)\n"
		       "signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())\n"
		       "while True:\n"
		       "    pass\n");
}
END_TEST

START_TEST(res_fork_bomb)
{
	struct cact_runtime *rt = begin();
	uint64_t t0 = now_ms(), wall;
	struct cact_result *r = attack(rt,
				       "import os\n"
				       "while True:\n"
				       "    os.fork()\n",
				       0);

	wall = now_ms() - t0;
	t_assert_status(r, CACT_STATUS_PYTHON_ERROR);
	ck_assert_pstr_eq(cact_result_error_type(r), "PermissionError");
	ck_assert_msg(wall < 5000, "the fork bomb took %llu ms", (unsigned long long)wall);
	cact_result_free(r);
	host_ok(rt);
}
END_TEST

START_TEST(res_thread_bomb)
{
	struct cact_runtime *rt = begin();
	struct cact_result *r;
	unsigned long n = 0, bound;
	char msg[128] = "";

	r = attack(rt,
		   "import threading\n"
		   "threading.stack_size(65536)\n"
		   "ev = threading.Event()\n"
		   "n = 0\n"
		   "try:\n"
		   "    while True:\n"
		   "        threading.Thread(target=ev.wait, daemon=True).start()\n"
		   "        n += 1\n"
		   "except RuntimeError as e:\n"
		   "    print(n, e)\n"
		   "ev.set()\n",
		   20000);
	if (cact_result_status(r) != CACT_STATUS_TIMEOUT) {
		t_assert_status(r, CACT_STATUS_OK);
		ck_assert_int_eq(sscanf(t_out(r), "%lu %127[^\n]", &n, msg), 2);
		ck_assert_str_eq(msg, "can't start new thread");
		/*
		 * RLIMIT_NPROC (threads + 1) binds an unprivileged host; a host
		 * running as root is exempt from it, and the execution's pid
		 * namespace cap (threads + 1 + 301 pids) binds instead.
		 */
		if (geteuid() == 0)
			ck_assert_msg(strstr(cact_result_isolation_json(r), "\"pid_cap\":true"),
				      "running as root without a per-namespace pid_max (Linux "
				      "6.14+): threads are not capped; isolation %s",
				      cact_result_isolation_json(r));
		bound = geteuid() == 0 ? 64 + 1 + 301 - 1 : 64;
		ck_assert_msg(n >= 1 && n <= bound, "%lu threads started, at most %lu expected", n,
			      bound);
	}
	cact_result_free(r);
	host_ok(rt);
}
END_TEST

START_TEST(res_memory_bomb)
{
	struct cact_runtime *rt = begin();
	struct cact_result *r = attack(rt, "x = bytearray(2 * 1024**3)\nprint('allocated')\n", 0);

	t_assert_status(r, CACT_STATUS_MEMORY_LIMIT);
	ck_assert_pstr_eq(cact_result_error_type(r), "MemoryError");
	ck_assert_str_eq(t_out(r), "");
	cact_result_free(r);
	host_ok(rt);
}
END_TEST

START_TEST(res_memory_bomb_gradual)
{
	struct cact_runtime *rt = begin();
	struct cact_result *r = attack(rt,
				       "x = []\n"
				       "while True:\n"
				       "    x.append(bytearray(16 * 1024 * 1024))\n",
				       0);

	t_assert_status(r, CACT_STATUS_MEMORY_LIMIT);
	cact_result_free(r);
	host_ok(rt);
}
END_TEST

START_TEST(res_memory_mmap_bomb)
{
	expect_output("import mmap\n"
		      "try:\n"
		      "    m = mmap.mmap(-1, 4 * 1024**3)\n"
		      "    print('MAPPED')\n"
		      "except OSError as e:\n"
		      "    print(e.errno)\n",
		      "12\n");
}
END_TEST

START_TEST(res_huge_stdout)
{
	struct cact_runtime *rt = begin();
	const char *marker = "\n[... output truncated by cact: more than 1048576 bytes ...]\n";
	struct cact_result *r;
	struct rusage ru;
	const char *out;
	size_t len, i;
	int trunc = 0;

	r = attack(rt,
		   "import sys\n"
		   "sys.stdout.write('x' * (10 * 1024 * 1024))\n"
		   "print('end')\n",
		   0);
	t_assert_status(r, CACT_STATUS_OK);
	out = cact_result_stdout(r, &len, &trunc);
	ck_assert_int_eq(trunc, 1);
	ck_assert_uint_eq(len, 1048576 + strlen(marker));
	ck_assert_str_eq(out + 1048576, marker);
	for (i = 0; i < 1048576; i++)
		if (out[i] != 'x')
			ck_abort_msg("byte %zu of stdout is %d", i, out[i]);
	cact_result_free(r);
	ck_assert_int_eq(getrusage(RUSAGE_SELF, &ru), 0);
	ck_assert_msg(ru.ru_maxrss < 256 * 1024, "the test process grew to %ld KiB", ru.ru_maxrss);
	host_ok(rt);
}
END_TEST

static void expect_flood(const char *code)
{
	struct cact_runtime *rt = begin();
	uint64_t t0 = now_ms(), wall;
	struct cact_result *r = attack(rt, code, 30000);
	struct rusage ru;

	wall = now_ms() - t0;
	t_assert_status(r, CACT_STATUS_OUTPUT_LIMIT);
	ck_assert_pstr_eq(cact_result_error_type(r), "output_limit");
	ck_assert_msg(wall < 15000, "the flood was stopped after %llu ms",
		      (unsigned long long)wall);
	cact_result_free(r);
	ck_assert_int_eq(getrusage(RUSAGE_SELF, &ru), 0);
	ck_assert_msg(ru.ru_maxrss < 256 * 1024, "the test process grew to %ld KiB", ru.ru_maxrss);
	host_ok(rt);
}

START_TEST(res_stdout_flood)
{
	expect_flood("while True:\n    print('y' * 1000)\n");
}
END_TEST

START_TEST(res_stderr_flood)
{
	expect_flood("import sys\nwhile True:\n    sys.stderr.write('e' * 1000)\n");
}
END_TEST

START_TEST(res_deep_recursion)
{
	struct cact_runtime *rt = begin();
	struct cact_result *r;
	enum cact_status s;

	r = attack(rt,
		   "import sys\n"
		   "sys.setrecursionlimit(10**6)\n"
		   "def f(n):\n"
		   "    return f(n + 1) + 1\n"
		   "f(0)\n",
		   20000);
	s = cact_result_status(r);
	ck_assert_msg(s == CACT_STATUS_CRASHED || s == CACT_STATUS_MEMORY_LIMIT ||
			      s == CACT_STATUS_PYTHON_ERROR || s == CACT_STATUS_TIMEOUT,
		      "status %s", cact_status_name(s));
	cact_result_free(r);
	host_ok(rt);
}
END_TEST

START_TEST(res_fd_exhaustion)
{
	struct cact_runtime *rt = begin();
	struct cact_result *r;
	unsigned long n = 0;
	int e = 0;

	r = attack(rt,
		   "fs = []\n"
		   "try:\n"
		   "    while True:\n"
		   "        fs.append(open('/dev/null'))\n"
		   "except OSError as e:\n"
		   "    print(e.errno, len(fs))\n",
		   0);
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_int_eq(sscanf(t_out(r), "%d %lu", &e, &n), 2);
	ck_assert_int_eq(e, EMFILE);
	ck_assert_uint_le(n, 256 - 4);
	ck_assert_uint_ge(n, 200);
	cact_result_free(r);
	host_ok(rt);
}
END_TEST

/* ================= hygiene ================= */

START_TEST(hyg_environment)
{
	expect_output(
		"import os, ctypes\n"
		"print(sorted(os.environ))\n"
		"print('CACT_CANARY' in os.environ)\n"
		"env = ctypes.POINTER(ctypes.c_char_p).in_dll(ctypes.CDLL(None), 'environ')\n"
		"i, raw = 0, []\n"
		"while env[i]:\n"
		"    raw.append(env[i].decode())\n"
		"    i += 1\n"
		"print(sorted(k.split('=', 1)[0] for k in raw))\n"
		"print(os.environ['HOME'], os.environ['TMPDIR'], os.environ['USER'], "
		"os.environ['PATH'])\n",
		"['BLIS_NUM_THREADS', 'GOTO_NUM_THREADS', 'HOME', 'LANG', 'LOGNAME', "
		"'MKL_NUM_THREADS', 'MPLBACKEND', 'MPLCONFIGDIR', 'NUMEXPR_NUM_THREADS', "
		"'OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'PATH', 'TMPDIR', 'USER', "
		"'VECLIB_MAXIMUM_THREADS']\n"
		"False\n"
		"['BLIS_NUM_THREADS', 'GOTO_NUM_THREADS', 'HOME', 'LANG', 'LOGNAME', "
		"'MKL_NUM_THREADS', 'MPLBACKEND', 'MPLCONFIGDIR', 'NUMEXPR_NUM_THREADS', "
		"'OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'PATH', 'TMPDIR', 'USER', "
		"'VECLIB_MAXIMUM_THREADS']\n"
		"/tmp /tmp sandbox /usr/bin:/bin\n");
}
END_TEST

START_TEST(hyg_only_stdio_and_wire_fds)
{
	expect_output(
		"import os, stat\n"
		"fds = []\n"
		"for fd in range(1024):\n"
		"    try:\n"
		"        os.fstat(fd)\n"
		"        fds.append(fd)\n"
		"    except OSError:\n"
		"        pass\n"
		"print(fds)\n"
		"print(os.fstat(0).st_rdev == os.makedev(1, 3), "
		"stat.S_ISFIFO(os.fstat(1).st_mode),\n"
		"      stat.S_ISFIFO(os.fstat(2).st_mode), stat.S_ISSOCK(os.fstat(3).st_mode))\n",
		"[0, 1, 2, 3]\nTrue True True True\n");
}
END_TEST

START_TEST(hyg_no_network)
{
	expect_output("import socket\n"
		      "for name, op in (('if_nameindex', socket.if_nameindex),\n"
		      "                 ('connect', lambda: socket.create_connection(('127.0.0.1', "
		      "80), 1)),\n"
		      "                 ('udp', lambda: socket.socket(socket.AF_INET, "
		      "socket.SOCK_DGRAM)),\n"
		      "                 ('getaddrinfo', lambda: socket.getaddrinfo('example.com', "
		      "80))):\n"
		      "    try:\n"
		      "        op()\n"
		      "        print(name, 'WORKED')\n"
		      "    except OSError as e:\n"
		      "        print(name, type(e).__name__)\n",
		      "if_nameindex PermissionError\n"
		      "connect PermissionError\n"
		      "udp PermissionError\n"
		      "getaddrinfo gaierror\n");
}
END_TEST

START_TEST(hyg_ids)
{
	expect_output(
		"import os, pwd, grp\n"
		"print(os.getuid(), os.geteuid(), os.getgid(), os.getegid(), os.getgroups())\n"
		"print(os.getresuid(), os.getresgid())\n"
		"print(pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name)\n",
		"1000 1000 1000 1000 []\n(1000, 1000, 1000) (1000, 1000, 1000)\nsandbox sandbox\n");
}
END_TEST

START_TEST(hyg_capabilities_zero)
{
	expect_output(PY_LIBC
		      "class Hdr(ctypes.Structure):\n"
		      "    _fields_ = [('version', ctypes.c_uint32), ('pid', ctypes.c_int)]\n"
		      "class Data(ctypes.Structure):\n"
		      "    _fields_ = [('eff', ctypes.c_uint32), ('prm', ctypes.c_uint32),\n"
		      "                ('inh', ctypes.c_uint32)]\n"
		      "h, d = Hdr(0x20080522, 0), (Data * 2)()\n"
		      "print(libc.capget(ctypes.byref(h), d), [(x.eff, x.prm, x.inh) for x in d])\n"
		      "bset = [libc.prctl(23, n, 0, 0, 0) for n in range(64)]\n"
		      "print(all(v == 0 for v in bset[:38]), 1 in bset)\n",
		      "0 [(0, 0, 0), (0, 0, 0)]\nTrue False\n");
}
END_TEST

START_TEST(hyg_no_new_privs)
{
	expect_output(PY_LIBC "print(libc.prctl(39, 0, 0, 0, 0))\n", "1\n");
}
END_TEST

START_TEST(hyg_seccomp_filter_mode)
{
	expect_output(PY_LIBC "print(libc.prctl(21, 0, 0, 0, 0))\n", "2\n");
}
END_TEST

START_TEST(hyg_hostname)
{
	expect_output("import os, socket\nprint(socket.gethostname(), os.uname().nodename)\n",
		      "cact cact\n");
}
END_TEST

START_TEST(hyg_pid_one)
{
	expect_output("import os, threading\n"
		      "print(os.getpid(), os.getppid(), threading.get_native_id())\n",
		      "1 0 1\n");
}
END_TEST

START_TEST(hyg_own_session)
{
	/*
	 * The execution leads a session of its own, so that kill(0, ...) and
	 * job control reach only the sandbox, never its host's process group.
	 */
	expect_output("import os\nprint(os.getsid(0), os.getpgrp())\n", "1 1\n");
}
END_TEST

START_TEST(hyg_scratch_empty_at_start)
{
	expect_output("import os\n"
		      "print(os.listdir('/output'), os.listdir('/tmp'), os.getcwd())\n"
		      "print(sorted(os.listdir('/input')))\n",
		      "[] [] /tmp\n[]\n");
}
END_TEST

START_TEST(hyg_stdin_empty)
{
	expect_output("import os, sys\nprint(repr(sys.stdin.read()), os.read(0, 10))\n",
		      "'' b''\n");
}
END_TEST

START_TEST(hyg_rlimits_locked)
{
	expect_output("import resource\n"
		      "print(resource.getrlimit(resource.RLIMIT_CORE),\n"
		      "      resource.getrlimit(resource.RLIMIT_NOFILE))\n"
		      "soft, hard = resource.getrlimit(resource.RLIMIT_AS)\n"
		      "print(soft == hard and soft > 0)\n"
		      "try:\n"
		      "    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))\n"
		      "    print('RAISED')\n"
		      "except (ValueError, OSError) as e:\n"
		      "    print(type(e).__name__)\n"
		      "try:\n"
		      "    resource.prlimit(1, resource.RLIMIT_NOFILE)\n"
		      "except OSError as e:\n"
		      "    print('prlimit', e.errno)\n",
		      "(0, 0) (256, 256)\nTrue\nValueError\nprlimit 1\n");
}
END_TEST

/*
 * An execution learns nothing of the executions before it: not the host
 * paths of their mounts, not their code. The later one scans the memory it
 * inherited (the brk heap, found by probing pages with msync) for markers
 * from the earlier one, given to it reversed so that its own code holds no
 * copy.
 */
START_TEST(hyg_no_trace_of_earlier_execution)
{
	struct cact_runtime *rt = begin();
	char *dir = own_tmpdir();
	char ws[512], path_marker[64], code_marker[64], rev_path[64], rev_code[64], code[2048];
	unsigned char raw[8];
	struct cact_request *req = NULL;
	struct cact_error err = {0};
	struct cact_result *r;
	size_t i, n;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(read(fd, raw, sizeof(raw)), (int)sizeof(raw));
	close(fd);
	snprintf(path_marker, sizeof(path_marker), "wsmark%02x%02x%02x%02x", raw[0], raw[1], raw[2],
		 raw[3]);
	snprintf(code_marker, sizeof(code_marker), "codemark%02x%02x%02x%02x", raw[4], raw[5],
		 raw[6], raw[7]);
	n = strlen(path_marker);
	for (i = 0; i < n; i++)
		rev_path[i] = path_marker[n - 1 - i];
	rev_path[n] = '\0';
	n = strlen(code_marker);
	for (i = 0; i < n; i++)
		rev_code[i] = code_marker[n - 1 - i];
	rev_code[n] = '\0';
	snprintf(ws, sizeof(ws), "%s/%s", dir, path_marker);
	ck_assert_int_eq(mkdir(ws, 0755), 0);
	t_write(ws, "f.txt", "data\n");

	/* The earlier execution: a workspace whose path holds one marker, code that holds the other. */
	snprintf(code, sizeof(code), "print(open('/input/f.txt').read(), end='')\nx = '%s'\n",
		 code_marker);
	ck_assert_int_eq(cact_request_new(&req), 0);
	ck_assert_msg(cact_request_set_workspace(req, ws, &err) == 0, "%s", err.message);
	r = attack_with(rt, req, code, 0);
	cact_request_free(req);
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_str_eq(t_out(r), "data\n");
	cact_result_free(r);

	/* The later one, with no workspace. */
	snprintf(code, sizeof(code),
		 PY_LIBC "libc.sbrk.restype = ctypes.c_void_p\n"
			 "libc.msync.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]\n"
			 "end = libc.sbrk(0)\n"
			 "start = end & ~4095\n"
			 "while libc.msync(start - 4096, 4096, 1) == 0:\n"
			 "    start -= 4096\n"
			 "mem = ctypes.string_at(start, end - start)\n"
			 "print(len(mem) > 1 << 20, 'path', mem.count('%s'[::-1].encode()),\n"
			 "      'code', mem.count('%s'[::-1].encode()))\n",
		 rev_path, rev_code);
	r = attack(rt, code, 0);
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_str_eq(t_out(r), "True path 0 code 0\n");
	cact_result_free(r);
	free(dir);
	host_ok(rt);
}
END_TEST

/* ================= the wire socket ================= */

START_TEST(wire_garbage_length)
{
	expect_protocol_violation("import os, time\n"
				  "os.write(3, b'\\xff\\xff\\xff\\xff')\n"
				  "time.sleep(30)\n",
				  "over the size cap");
}
END_TEST

START_TEST(wire_bad_json)
{
	expect_protocol_violation("import os, time\n"
				  "os.write(3, (5).to_bytes(4, 'big') + b'{{{{{')\n"
				  "time.sleep(30)\n",
				  "bad frame");
}
END_TEST

START_TEST(wire_forged_result_then_more_code)
{
	/*
	 * A forged result ends the run where it stands: the host stops the
	 * sandbox on the first result frame, so the code after it never runs,
	 * and the outcome is the forged one: the code's word about itself,
	 * which its own exit would give as well. Nothing it wrote to /output
	 * afterwards comes back, and the host is unharmed.
	 */
	struct cact_runtime *rt = begin();
	struct cact_result *r;

	r = attack(rt,
		   "import os, json, time\n"
		   "p = json.dumps({'type': 'result', 'exit_code': 0, 'error': None,\n"
		   "                'memory_error': False}).encode()\n"
		   "os.write(3, len(p).to_bytes(4, 'big') + p)\n"
		   "time.sleep(0.5)\n"
		   "print('more code')\n"
		   "open('/output/late.txt', 'w').write('late')\n"
		   "raise SystemExit(3)\n",
		   0);
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_int_eq(cact_result_exit_code(r), 0);
	ck_assert_msg(!strstr(t_out(r), "more code"), "code ran after its forged result: %s",
		      t_out(r));
	ck_assert_uint_eq(cact_result_file_count(r), 0);
	cact_result_free(r);
	host_ok(rt);
}
END_TEST

START_TEST(wire_forged_ready)
{
	expect_protocol_violation("import os, json, time\n"
				  "p = json.dumps({'type': 'ready', 'pid_max': True}).encode()\n"
				  "os.write(3, len(p).to_bytes(4, 'big') + p)\n"
				  "time.sleep(30)\n",
				  "unexpected ready frame");
}
END_TEST

START_TEST(wire_host_frame_type)
{
	expect_protocol_violation("import os, json, time\n"
				  "p = json.dumps({'type': 'exec', 'code': 'x'}).encode()\n"
				  "os.write(3, len(p).to_bytes(4, 'big') + p)\n"
				  "time.sleep(30)\n",
				  "unexpected exec frame");
}
END_TEST

START_TEST(wire_fd_passing)
{
	/* A frame carrying an fd: the host reads plainly, the kernel drops the fd. */
	expect_protocol_violation("import array, os, socket, time\n"
				  "s = socket.socket(fileno=3)\n"
				  "fd = os.open('/output', os.O_RDONLY)\n"
				  "s.sendmsg([(2).to_bytes(4, 'big') + b'{}'],\n"
				  "          [(socket.SOL_SOCKET, socket.SCM_RIGHTS, "
				  "array.array('i', [fd, 0, 1]))])\n"
				  "s.detach()\n"
				  "time.sleep(30)\n",
				  "bad frame");
}
END_TEST

START_TEST(wire_forged_setup_error)
{
	/*
	 * setup_error means "no code ran"; the code has run, so the frame is a
	 * forgery and must count as a protocol violation.
	 */
	struct cact_runtime *rt = begin();
	struct cact_result *r;

	r = attack(rt,
		   "import os, json\n"
		   "print('the code ran', flush=True)\n"
		   "p = json.dumps({'type': 'setup_error', 'message': 'forged by the "
		   "code'}).encode()\n"
		   "os.write(3, len(p).to_bytes(4, 'big') + p)\n"
		   "os._exit(0)\n",
		   0);
	ck_assert_str_eq(t_out(r), "the code ran\n");
	t_assert_status(r, CACT_STATUS_SANDBOX_VIOLATION);
	assert_contains(cact_result_error_message(r), "protocol violation");
	cact_result_free(r);
	host_ok(rt);
}
END_TEST

START_TEST(wire_forged_setup_error_then_result)
{
	struct cact_runtime *rt = begin();
	struct cact_result *r;

	r = attack(rt,
		   "import os, json\n"
		   "p = json.dumps({'type': 'setup_error', 'message': 'forged by the "
		   "code'}).encode()\n"
		   "n = os.write(3, len(p).to_bytes(4, 'big') + p)\n"
		   "print('the code ran')\n",
		   0);
	t_assert_status(r, CACT_STATUS_SANDBOX_VIOLATION);
	assert_contains(cact_result_error_message(r), "protocol violation");
	cact_result_free(r);
	host_ok(rt);
}
END_TEST

START_TEST(wire_truncated_frame_at_exit)
{
	/*
	 * A header announcing 100 bytes, one byte, then a normal end: the
	 * runner's own report disappears into the forged frame and the stream
	 * ends mid-frame, which breaks the protocol.
	 */
	struct cact_runtime *rt = begin();
	struct cact_result *r;

	r = attack(rt,
		   "import os\n"
		   "os.write(3, (100).to_bytes(4, 'big') + b'{')\n"
		   "print('done')\n",
		   0);
	t_assert_status(r, CACT_STATUS_SANDBOX_VIOLATION);
	assert_contains(cact_result_error_message(r), "protocol violation");
	cact_result_free(r);
	host_ok(rt);
}
END_TEST

START_TEST(wire_slow_giant_frame)
{
	/* A frame just under the cap, trickled, never finished: the clock still rules. */
	struct cact_runtime *rt = begin();
	uint64_t t0 = now_ms(), wall;
	struct cact_result *r;

	r = attack(rt,
		   "import os, time\n"
		   "os.write(3, ((4 << 20) - 1).to_bytes(4, 'big'))\n"
		   "for i in range(3):\n"
		   "    os.write(3, b' ' * (1 << 20))\n"
		   "time.sleep(1000)\n",
		   2000);
	wall = now_ms() - t0;
	t_assert_status(r, CACT_STATUS_TIMEOUT);
	ck_assert_msg(wall < 6000, "the 2 s timeout took %llu ms", (unsigned long long)wall);
	cact_result_free(r);
	host_ok(rt);
}
END_TEST

START_TEST(wire_closed_by_code)
{
	/* Closing the wire only loses the runner's report; the kernel's exit status still counts. */
	struct cact_runtime *rt = begin();
	struct cact_result *r = attack(rt, "import os\nos.close(3)\nprint('closed')\n", 0);

	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_str_eq(t_out(r), "closed\n");
	cact_result_free(r);
	host_ok(rt);
}
END_TEST

int main(int argc, char **argv)
{
	const struct t_case cases[] = {
		T_CASE(escape_ptrace_traceme, 60),
		T_CASE(escape_unshare_newuser, 60),
		T_CASE(escape_unshare_newns, 60),
		T_CASE(escape_mount_tmpfs, 60),
		T_CASE(escape_umount_input, 60),
		T_CASE(escape_fsopen, 60),
		T_CASE(escape_open_tree, 60),
		T_CASE(escape_clone_newuser, 60),
		T_CASE(escape_clone_thread_flags_newnet, 60),
		T_CASE(escape_x32_syscall, 60),
		T_CASE(escape_int80_i386_syscall, 60),
		T_CASE(escape_io_uring_setup, 60),
		T_CASE(escape_bpf, 60),
		T_CASE(escape_perf_event_open, 60),
		T_CASE(escape_userfaultfd, 60),
		T_CASE(escape_keyctl, 60),
		T_CASE(escape_add_key, 60),
		T_CASE(escape_setns, 60),
		T_CASE(escape_open_by_handle_at, 60),
		T_CASE(escape_name_to_handle_at, 60),
		T_CASE(escape_personality, 60),
		T_CASE(escape_pivot_root, 60),
		T_CASE(escape_chroot, 60),
		T_CASE(escape_process_vm_readv, 60),
		T_CASE(escape_process_vm_writev, 60),
		T_CASE(escape_finit_module, 60),
		T_CASE(escape_iopl, 60),
		T_CASE(escape_vmsplice, 60),
		T_CASE(escape_pidfd_getfd, 60),
		T_CASE(escape_tiocsti_stdio, 60),
		T_CASE(escape_tiocsti_high_bits, 60),
		T_CASE(escape_tioclinux, 60),
		T_CASE(escape_os_fork, 60),
		T_CASE(escape_subprocess_run, 60),
		T_CASE(escape_execve_shell, 60),
		T_CASE(escape_sockets, 60),
		T_CASE(escape_memfd_create, 60),
		T_CASE(escape_sysv_ipc, 60),
		T_CASE(escape_denied_syscalls_fail_with_eperm, 60),
		T_CASE(escape_kill_outside_pids, 60),
		T_CASE(escape_kill_process_group, 120),
		T_CASE(escape_kill_process_group_without_landlock, 120),
		T_CASE(fs_host_secrets_absent, 60),
		T_CASE(fs_canary_path_absent, 60),
		T_CASE(fs_canary_not_in_sandbox_tree, 60),
		T_CASE(fs_input_read_only, 60),
		T_CASE(fs_file_mount_exposes_only_that_file, 60),
		T_CASE(fs_traversal, 60),
		T_CASE(fs_output_symlinks_skipped, 60),
		T_CASE(fs_output_hard_link_skipped, 60),
		T_CASE(fs_output_fifo_skipped, 60),
		T_CASE(fs_setuid_bits_refused, 60),
		T_CASE(fs_mknod_device_refused, 60),
		T_CASE(fs_output_disk_fill_one_file, 120),
		T_CASE(fs_output_disk_fill_many_files, 120),
		T_CASE(fs_tmp_inode_exhaustion, 120),
		T_CASE(fs_sparse_file_too_large, 60),
		T_CASE(fs_runtime_read_only, 60),
		T_CASE(fs_dev_minimal, 60),
		T_CASE(res_busy_loop_timeout, 60),
		T_CASE(res_sleep_timeout, 60),
		T_CASE(res_sigstop_self_timeout, 60),
		T_CASE(res_ignored_signals_timeout, 60),
		T_CASE(res_fork_bomb, 120),
		T_CASE(res_thread_bomb, 120),
		T_CASE(res_memory_bomb, 120),
		T_CASE(res_memory_bomb_gradual, 120),
		T_CASE(res_memory_mmap_bomb, 120),
		T_CASE(res_huge_stdout, 120),
		T_CASE(res_stdout_flood, 120),
		T_CASE(res_stderr_flood, 120),
		T_CASE(res_deep_recursion, 120),
		T_CASE(res_fd_exhaustion, 60),
		T_CASE(hyg_environment, 60),
		T_CASE(hyg_only_stdio_and_wire_fds, 60),
		T_CASE(hyg_no_network, 60),
		T_CASE(hyg_ids, 60),
		T_CASE(hyg_capabilities_zero, 60),
		T_CASE(hyg_no_new_privs, 60),
		T_CASE(hyg_seccomp_filter_mode, 60),
		T_CASE(hyg_hostname, 60),
		T_CASE(hyg_pid_one, 60),
		T_CASE(hyg_own_session, 60),
		T_CASE(hyg_scratch_empty_at_start, 60),
		T_CASE(hyg_stdin_empty, 60),
		T_CASE(hyg_rlimits_locked, 60),
		T_CASE(hyg_no_trace_of_earlier_execution, 60),
		T_CASE(wire_garbage_length, 60),
		T_CASE(wire_bad_json, 60),
		T_CASE(wire_forged_result_then_more_code, 60),
		T_CASE(wire_forged_ready, 60),
		T_CASE(wire_host_frame_type, 60),
		T_CASE(wire_fd_passing, 60),
		T_CASE(wire_forged_setup_error, 60),
		T_CASE(wire_forged_setup_error_then_result, 60),
		T_CASE(wire_truncated_frame_at_exit, 60),
		T_CASE(wire_slow_giant_frame, 60),
		T_CASE(wire_closed_by_code, 60),
	};

#if !defined(__x86_64__)
	/* The attacks use x86_64 system call numbers and machine code. */
	fprintf(stderr, "test_sandbox: the attacks are written for x86_64; skipped\n");
	(void)cases;
	(void)argc;
	(void)argv;
	return 77;
#else
	return t_main("sandbox", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
#endif
}
