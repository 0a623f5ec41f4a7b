/* SPDX-License-Identifier: MIT */
/*
 * cact-guest: the helper the host library spawns, once per runtime.
 *
 *   cact-guest zygote HOST-PID CONFIG-JSON      (fd 3: control socket)
 *
 * The process started by the host (the "outer" process) creates the
 * namespaces and forks the zygote, which becomes pid 1 of the new pid
 * namespace: when the zygote dies, the kernel kills every execution it ever
 * forked. The outer process only waits for it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <Python.h>

#include "../util/text.h"
#include "../util/util.h"
#include "../wire/ctl.h"
#include "../wire/wire.h"
#include "guest.h"
#include "hot.h"
#include "py.h"

#define CTL_FD	       3
#define MAX_RO	       64
#define NOT_NAMESPACES (CACT_FEATURE_SECCOMP | CACT_FEATURE_PIDFD | CACT_FEATURE_LANDLOCK)

static void fatal(int ctl, const struct cact_error *err) __attribute__((noreturn));
static void fatal(int ctl, const struct cact_error *err)
{
	json_t *msg = json_pack("{s:s, s:s, s:i}", "op", "fatal", "message", err->message, "code",
				err->code);

	if (msg)
		ctl_send(ctl, msg, NULL, 0);
	json_decref(msg);
	_exit(1);
}

struct paths {
	char *items[MAX_RO];
	size_t n;
};

/* Adds the real path of p when it exists and is not there yet. */
static void add_path(struct paths *ps, const char *p)
{
	char real[PATH_MAX];
	size_t i;

	if (ps->n == MAX_RO || !realpath(p, real))
		return;
	for (i = 0; i < ps->n; i++)
		if (strcmp(ps->items[i], real) == 0)
			return;
	ps->items[ps->n] = strdup(real);
	if (ps->items[ps->n])
		ps->n++;
}

/* The folder holding the shared object that defines sym. */
static void add_lib_dir(struct paths *ps, const void *sym)
{
	char real[PATH_MAX];
	Dl_info info;

	if (!dladdr(sym, &info) || !info.dli_fname || !realpath(info.dli_fname, real))
		return;
	add_path(ps, dirname(real));
}

/*
 * The read-only part of the sandbox: the standard library, the folder of
 * the shared libraries the extension modules load (libc's), time zone data,
 * the loader cache, and the operator's extra import folders. The
 * interpreter is linked into this executable (meson.build), whose own
 * folder the sandbox has no use for.
 */
static void runtime_paths(struct paths *ps, json_t *extra)
{
	size_t i;
	json_t *v;

	add_path(ps, CACT_PY_STDLIB);
	add_lib_dir(ps, (const void *)&printf);
	add_path(ps, "/usr/share/zoneinfo");
	add_path(ps, "/etc/ld.so.cache");
	json_array_foreach(extra, i, v) {
		if (json_is_string(v))
			add_path(ps, json_string_value(v));
	}
	/*
	 * What Debian's packages in such a folder read besides their own
	 * files: numpy finds BLAS through /etc/alternatives; matplotlib has its
	 * data, its settings file and the system's fonts elsewhere (missing
	 * ones are skipped).
	 */
	if (json_array_size(extra) > 0) {
		add_path(ps, "/etc/alternatives");
		add_path(ps, "/usr/share/matplotlib");
		add_path(ps, "/etc/matplotlibrc");
		add_path(ps, "/usr/share/fonts");
	}
}

/* The first number in a small /proc file (path relative to dirfd); 0 when unreadable. */
static long long proc_number(int dirfd, const char *path)
{
	char buf[2048];

	return ut_read_small(dirfd, path, buf, sizeof(buf)) ? strtoll(buf, NULL, 10) : 0;
}

uint64_t guest_vsz(int dirfd)
{
	long long pages = proc_number(dirfd, dirfd == AT_FDCWD ? "/proc/self/statm" : "self/statm");

	return pages > 0 ? (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

static unsigned unchecked_features(unsigned hide)
{
	unsigned f = 0;
	int fd;

	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0)
		f |= CACT_FEATURE_SECCOMP;
	fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (fd >= 0) {
		f |= CACT_FEATURE_PIDFD;
		close(fd);
	}
	if (sbx_landlock_abi() > 0)
		f |= CACT_FEATURE_LANDLOCK;
	return f & ~hide;
}

/*
 * What an execution child does before and around its code, for the probe
 * that learns which pages children touch (hot.c): the fork hook, the
 * warm-up, the helpers' set-up and a small run, output discarded.
 */
static void exercise(void *arg)
{
	static const char code[] = "print(1)\n";
	/* The frames a child parses and sends, as the host writes them by default. */
	static const char prepare[] =
		"{\"type\":\"prepare\",\"workspace\":null,\"mounts\":[],\"limits\":{"
		"\"output_bytes\":67108864,\"output_files\":1000,\"tmp_bytes\":67108864,"
		"\"threads\":64}}";
	static const char exec[] =
		"{\"type\":\"exec\",\"code\":\"print(1)\",\"limits\":{\"timeout_ms\":30000,"
		"\"memory_bytes\":536870912,\"stdout_bytes\":1048576,\"stderr_bytes\":1048576,"
		"\"output_files\":1000,\"output_bytes\":67108864,\"output_depth\":16,"
		"\"tmp_bytes\":67108864,\"open_files\":256,\"threads\":64,\"code_bytes\":"
		"10485760,\"tool_calls\":1000,\"tool_args_bytes\":1048576,\"tool_result_bytes\":"
		"1048576,\"http_timeout_ms\":30000,\"http_body_bytes\":16777216,\"http_bytes\":"
		"67108864,\"http_requests\":1000},\"network\":false}";
	const struct zygote *z = arg;
	struct cact_error err = {0};
	enum wire_type type;
	char *report = NULL, *frame = NULL;
	json_t *msg = NULL;
	size_t len;

	dup2(z->devnull, 1);
	dup2(z->devnull, 2);
	pyg_warm(1);
	if (wire_parse(prepare, sizeof(prepare) - 1, &msg, &type, &err) == 0)
		json_decref(msg);
	msg = json_pack("{s:s, s:b, s:b}", "type", "ready", "pid_max", 1, "userns", 1);
	if (msg && wire_encode(msg, 4096, &frame, &len) == 0)
		free(frame);
	json_decref(msg);
	if (wire_parse(exec, sizeof(exec) - 1, &msg, &type, &err) == 0)
		json_decref(msg);
	pyg_configure(0, 1u << 20, 16u << 20);
	pyg_run(code, sizeof(code) - 1, 0, &report);
	free(report);
}

/* Threads of this process now (its /proc/self/task entries); 0 when unknown. */
static unsigned thread_count(void)
{
	char buf[4096];
	unsigned threads = 0;
	char *p;

	if (!ut_read_small(AT_FDCWD, "/proc/self/stat", buf, sizeof(buf)))
		return 0;
	/* num_threads is field 20: the 18th after the command in parentheses. */
	p = strrchr(buf, ')');
	if (!p ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %u",
		   &threads) != 1)
		return 0;
	return threads;
}

/*
 * Imports the runtime's preload modules one by one. The zygote must stay
 * single-threaded, so a module that leaves a thread behind stops start-up
 * with an error naming it; so does one that fails to import.
 */
static int preload_modules(struct zygote *z, json_t *mods, struct cact_error *err)
{
	char why[300];
	size_t i;

	(void)z;
	if (json_array_size(mods))
		pyg_preload_step(0);
	for (i = 0; i < json_array_size(mods); i++) {
		const char *name = json_string_value(json_array_get(mods, i));
		unsigned threads;

		if (!name)
			continue;
		if (pyg_import(name, why, sizeof(why))) {
			pyg_preload_step(1);
			return ut_err(err, CACT_EINVAL, "preload: cannot import %s: %s", name, why);
		}
		threads = thread_count();
		if (threads > 1) {
			pyg_preload_step(1);
			return ut_err(
				err, CACT_EINVAL,
				"preload: importing %s left %u threads running; the zygote "
				"must stay single-threaded to fork (remove it from preload, or "
				"import it in the code)",
				name, threads - 1);
		}
	}
	if (json_array_size(mods)) {
		/* It warms the packages up (runner.py): that must leave no thread either. */
		pyg_preload_step(1);
		if (thread_count() > 1)
			return ut_err(err, CACT_EINVAL,
				      "preload: warming up the preloaded modules left %u threads "
				      "running; the zygote must stay single-threaded to fork",
				      thread_count() - 1);
	}
	return 0;
}

static void zygote_setup(struct zygote *z, unsigned required, const char *level, json_t *cfg)
	__attribute__((noreturn));
static void zygote_setup(struct zygote *z, unsigned required, const char *level, json_t *cfg)
{
	struct cact_error err = {0};
	struct sbx_root_spec spec = {0};
	struct paths ps = {0};
	json_t *extra = json_object_get(cfg, "python_paths");
	static const char *extra_paths[MAX_RO]; /* the zygote's for good: py_paths */
	size_t n_extra = 0, i;
	int abi, rc, one_shot;

	/* The outer process waits for us; if it is gone, so is the host. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	z->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	z->pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	if (z->devnull < 0 || z->pidns < 0) {
		ut_err_sys(&err, CACT_ESANDBOX, errno,
			   "cannot open /dev/null or the pid namespace");
		fatal(z->ctl, &err);
	}

	/*
	 * The interpreter starts, and the preload runs, before the new root is
	 * built, while every host path is in place (the root is staged on /tmp,
	 * which would hide a python path under /tmp); they are the same paths
	 * inside the new root. Its size is read from /proc for the memory cap.
	 */
	for (i = 0; i < json_array_size(extra) && n_extra < MAX_RO; i++) {
		json_t *v = json_array_get(extra, i);

		if (json_is_string(v))
			extra_paths[n_extra++] = json_string_value(v);
	}
	/*
	 * One malloc arena: glibc reserves 64 MiB of address space for each
	 * thread's arena, which under the address-space cap would let only a
	 * handful of threads start. The GIL serializes the allocations anyway.
	 */
	mallopt(M_ARENA_MAX, 1);
	one_shot = z->one_shot = json_is_true(json_object_get(cfg, "one_shot"));
	z->py_paths = extra_paths;
	z->n_py_paths = n_extra;
	/*
	 * One execution with nothing to preload: the interpreter starts in the
	 * child, after the fork (child.c). Started here, every page of it the
	 * child writes would be a copy-on-write fault, and the zygote would
	 * tear a second interpreter's memory down at exit.
	 */
	z->py_late = one_shot && json_array_size(json_object_get(cfg, "preload")) == 0;
	if (!z->py_late) {
		if ((rc = pyg_init(CACT_PY_STDLIB, extra_paths, n_extra, &err)))
			fatal(z->ctl, &err);
		pyg_preload(!one_shot);
		/*
		 * With one_shot too: the single execution would import them
		 * anyway, and a configuration behaves the same (the same
		 * single-thread check and errors) whichever command runs it.
		 */
		if (preload_modules(z, json_object_get(cfg, "preload"), &err))
			fatal(z->ctl, &err);
		z->base_vsz = guest_vsz(AT_FDCWD);
	}

	runtime_paths(&ps, extra);
	spec.ro_paths = (const char *const *)ps.items;
	spec.n_ro_paths = ps.n;
	if ((rc = sbx_root_build(&spec, &z->host_tree, &z->procfd, &err)))
		fatal(z->ctl, &err);
	if ((rc = sbx_root_enter(&err)))
		fatal(z->ctl, &err);
	sbx_seccomp_builtin(&z->base_filter, &z->filter);
	/* Checked here, used by each execution: see sbx_enter. */
	abi = (z->features & CACT_FEATURE_LANDLOCK) ? sbx_landlock_abi() : 0;
	if (abi > 0) {
		int fd = sbx_landlock_ruleset(abi, &err);

		if (fd < 0) {
			if (required & CACT_FEATURE_LANDLOCK)
				fatal(z->ctl, &err);
			z->features &= ~(unsigned)CACT_FEATURE_LANDLOCK;
			abi = 0;
		} else {
			close(fd);
		}
	}
	z->landlock_abi = abi;
	for (i = 0; i < ps.n; i++)
		free(ps.items[i]);
	/*
	 * The interpreter's code in huge pages (hot.h says why), then its
	 * preloaded state, last: the zygote's memory does not change from
	 * there on. Not for one execution: it would not pay for itself.
	 */
	if (!one_shot) {
		const void *own[] = {&errno, &environ, z, &ps};

		hot_text(z->procfd, (const void *)&Py_Initialize, &z->hot.huge_text);
		hot_learn(z->procfd, exercise, z, own, UT_ARRAY_SIZE(own), &z->hot);
	}
	/*
	 * The base layer of the execution filter, from here on for the zygote
	 * and, through fork, every child; each child closes it last
	 * (sandbox/seccomp.c). Single-threaded: TSYNC has nothing to sync.
	 */
	if ((rc = sbx_seccomp_install(&z->base_filter))) {
		ut_err_sys(&err, CACT_ESANDBOX, -rc, "seccomp (base layer)");
		fatal(z->ctl, &err);
	}
	zygote_main(z, level);
}

int main(int argc, char **argv)
{
	struct cact_error err = {0};
	struct zygote z = {.ctl = CTL_FD, .host_tree = -1, .procfd = -1};
	json_error_t jerr;
	json_t *cfg;
	uint64_t host_pid;
	unsigned hide = 0, required, want, got;
	const char *level;
	int status;
	pid_t pid;

	if (argc != 4 || strcmp(argv[1], "zygote") != 0) {
		fprintf(stderr,
			"cact-guest: internal helper of cact, started by the cact library\n");
		return 2;
	}
	/* Die with the host; and if it died before this line, do not linger. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (ut_parse_u64(argv[2], &host_pid) || (uint64_t)getppid() != host_pid)
		return 1;
	cfg = json_loads(argv[3], JSON_REJECT_DUPLICATES, &jerr);
	if (!cfg || !json_is_object(cfg)) {
		ut_err(&err, CACT_ESANDBOX, "bad guest configuration: %s", jerr.text);
		fatal(CTL_FD, &err);
	}
	level = json_string_value(json_object_get(cfg, "isolation"));
	if (!level || (strcmp(level, "full") != 0 && strcmp(level, "reduced") != 0)) {
		ut_err(&err, CACT_ESANDBOX, "bad guest configuration: isolation");
		fatal(CTL_FD, &err);
	}
	hide = (unsigned)json_integer_value(json_object_get(cfg, "hide"));
	required = CACT_FEATURES_REQUIRED;
	if (strcmp(level, "full") == 0)
		required |= CACT_FEATURES_FULL_ONLY;

	z.features = unchecked_features(hide);
	if (required & ~z.features & NOT_NAMESPACES) {
		unsigned miss = required & ~z.features & NOT_NAMESPACES;

		ut_err(&err, CACT_EUNSUPPORTED, "%s is unavailable on this kernel%s",
		       cact_feature_name(miss & (0u - miss)),
		       (miss & CACT_FEATURES_FULL_ONLY) ? " (--isolation reduced runs without it)"
							: "");
		fatal(CTL_FD, &err);
	}
	want = ~hide;
	if (sbx_unshare(want, required, &got, &err))
		fatal(CTL_FD, &err);
	z.features |= got;

	pid = fork();
	if (pid < 0) {
		ut_err_sys(&err, CACT_ESANDBOX, errno, "fork of the zygote");
		fatal(CTL_FD, &err);
	}
	if (pid == 0)
		zygote_setup(&z, required, level, cfg);
	/* Outer process: the zygote holds the control socket now. */
	close(CTL_FD);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return 1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
