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
#include "guest.h"
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
 * The read-only part of the sandbox: the standard library, the folders of
 * the shared libraries the interpreter and its extension modules load, time
 * zone data, the loader cache, and the operator's extra import folders.
 */
static void runtime_paths(struct paths *ps, json_t *extra)
{
	size_t i;
	json_t *v;

	add_path(ps, CACT_PY_STDLIB);
	add_lib_dir(ps, (const void *)&Py_Initialize);
	add_lib_dir(ps, (const void *)&printf);
	add_path(ps, "/usr/share/zoneinfo");
	add_path(ps, "/etc/ld.so.cache");
	json_array_foreach(extra, i, v) {
		if (json_is_string(v))
			add_path(ps, json_string_value(v));
	}
	/* Debian's numpy finds BLAS through these symlinks. */
	if (json_array_size(extra) > 0)
		add_path(ps, "/etc/alternatives");
}

static uint64_t vsz_now(void)
{
	char buf[128];
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	ssize_t n;
	unsigned long long pages = 0;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "%llu", &pages) != 1)
		return 0;
	return pages * (uint64_t)sysconf(_SC_PAGESIZE);
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

static void zygote_setup(struct zygote *z, unsigned required, const char *level, json_t *cfg)
	__attribute__((noreturn));
static void zygote_setup(struct zygote *z, unsigned required, const char *level, json_t *cfg)
{
	struct cact_error err = {0};
	struct sbx_root_spec spec = {0};
	struct paths ps = {0};
	json_t *extra = json_object_get(cfg, "python_paths");
	const char *extra_paths[MAX_RO];
	size_t n_extra = 0, i;
	int abi, rc;

	/* The outer process waits for us; if it is gone, so is the host. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	z->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	z->pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	if (z->devnull < 0 || z->pidns < 0) {
		ut_err_sys(&err, CACT_ESANDBOX, errno,
			   "cannot open /dev/null or the pid namespace");
		fatal(z->ctl, &err);
	}
	runtime_paths(&ps, extra);
	spec.ro_paths = (const char *const *)ps.items;
	spec.n_ro_paths = ps.n;
	if ((rc = sbx_root_build(&spec, &z->host_tree, &z->procfd, &err)))
		fatal(z->ctl, &err);

	/*
	 * The interpreter starts while the host's paths are still in place
	 * (they are the same paths inside the new root), so that its size can
	 * be read from /proc for the memory cap.
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
	if ((rc = pyg_init(CACT_PY_STDLIB, extra_paths, n_extra, &err)))
		fatal(z->ctl, &err);
	pyg_preload();
	z->base_vsz = vsz_now();

	if ((rc = sbx_root_enter(&err)))
		fatal(z->ctl, &err);
	if ((rc = sbx_seccomp_build(&z->filter, &err)))
		fatal(z->ctl, &err);
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
