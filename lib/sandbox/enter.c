/* SPDX-License-Identifier: MIT */
/*
 * The order in which an execution enters its sandbox. Read this file to know
 * what confines model-written code; docs/sandbox.md has the longer story.
 *
 * Done once, in the zygote, before any execution exists (guest/zygote.c):
 *   1. user namespace, then mount, net, ipc, uts, cgroup and pid namespaces
 *      (sbx_unshare): every later privileged step is privileged only inside
 *      the user namespace, and the network namespace has no interfaces;
 *   2. the private root (sbx_root_build, sbx_root_enter): pivot_root into a
 *      tmpfs holding only the Python runtime read-only and three devices;
 *   3. the seccomp program is compiled in two layers, and the base layer
 *      installed (sandbox/seccomp.c: it still lets the set-up below through);
 *      landlock's ABI is read.
 * Done per execution, in a child forked into a fresh pid namespace, before
 * the request arrives (it only needs the request's mounts, which the host
 * sends ahead as the pool's profile), here in sbx_enter. Last, once the
 * request is in: sbx_set_limits, because the rlimits depend on the request;
 * with hard = soft they can only go down, and that is all the seccomp filter
 * lets the code do with them.
 */
#include <errno.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../util/util.h"
#include "sandbox.h"

static int limit(int resource, uint64_t soft, uint64_t hard, const char *name,
		 struct cact_error *err)
{
	struct rlimit rl = {.rlim_cur = soft, .rlim_max = hard}, now;

	/* Never above what this process already has: an unprivileged process cannot raise a hard limit. */
	if (getrlimit(resource, &now) == 0 && now.rlim_max != RLIM_INFINITY) {
		if (rl.rlim_max > now.rlim_max)
			rl.rlim_max = now.rlim_max;
		if (rl.rlim_cur > rl.rlim_max)
			rl.rlim_cur = rl.rlim_max;
	}
	if (setrlimit(resource, &rl))
		return ut_err_sys(err, CACT_ESANDBOX, errno, "setrlimit %s", name);
	return 0;
}

int sbx_set_limits(const struct sbx_limits *l, struct cact_error *err)
{
	int rc;

	/*
	 * Hard equals soft (CPU: one second more, so SIGXCPU comes first), so
	 * the code cannot raise them; lowering is all the filter lets through.
	 */
	if ((rc = limit(RLIMIT_CPU, l->cpu_s, l->cpu_s + 1, "RLIMIT_CPU", err)) ||
	    (rc = limit(RLIMIT_AS, l->as_bytes, l->as_bytes, "RLIMIT_AS", err)) ||
	    (rc = limit(RLIMIT_NOFILE, l->nofile, l->nofile, "RLIMIT_NOFILE", err)) ||
	    (rc = limit(RLIMIT_NPROC, l->nproc, l->nproc, "RLIMIT_NPROC", err)) ||
	    (rc = limit(RLIMIT_FSIZE, l->fsize, l->fsize, "RLIMIT_FSIZE", err)) ||
	    (rc = limit(RLIMIT_STACK, l->stack, l->stack, "RLIMIT_STACK", err)) ||
	    (rc = limit(RLIMIT_CORE, 0, 0, "RLIMIT_CORE", err)) ||
	    (rc = limit(RLIMIT_MEMLOCK, 0, 0, "RLIMIT_MEMLOCK", err)) ||
	    (rc = limit(RLIMIT_MSGQUEUE, 0, 0, "RLIMIT_MSGQUEUE", err)) ||
	    (rc = limit(RLIMIT_NICE, 0, 0, "RLIMIT_NICE", err)) ||
	    (rc = limit(RLIMIT_RTPRIO, 0, 0, "RLIMIT_RTPRIO", err)) ||
	    (rc = limit(RLIMIT_SIGPENDING, 256, 256, "RLIMIT_SIGPENDING", err)))
		return rc;
	return 0;
}

static int drop_capabilities(struct cact_error *err)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {{0}};
	unsigned long bits = SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_SETUID_FIXUP |
			     SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |
			     SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
	int cap;

	/* Locked securebits: no way back to capabilities through uid 0 or exec. */
	if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0))
		return ut_err_sys(err, CACT_ESANDBOX, errno, "PR_SET_SECUREBITS");
	for (cap = 0; cap <= 63; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)) {
			if (errno == EINVAL)
				break; /* past the kernel's last capability */
			return ut_err_sys(err, CACT_ESANDBOX, errno, "PR_CAPBSET_DROP %d", cap);
		}
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0))
		return ut_err_sys(err, CACT_ESANDBOX, errno, "PR_CAP_AMBIENT_CLEAR_ALL");
	if (syscall(SYS_capset, &hdr, data))
		return ut_err_sys(err, CACT_ESANDBOX, errno, "capset");
	return 0;
}

int sbx_enter(const struct sbx_exec *x, unsigned *applied, struct cact_error *err)
{
	int ruleset, rc, e;

	/*
	 * 1. Mounts: /input, /output, /tmp, in user and mount namespaces of
	 *    this execution's own (and its pid cap). Needs the zygote's
	 *    capabilities, the host-tree fd and the procfs fd, so it comes first.
	 */
	*applied = 0;
	if ((rc = sbx_exec_mounts(x, applied, err)))
		return rc;
	if (chdir("/tmp"))
		return ut_err_sys(err, CACT_ESANDBOX, errno, "chdir /tmp");

	/*
	 * 2. File descriptors: only stdio and the wire socket survive; the
	 *    host-tree and procfs fds go here.
	 */
	if (syscall(SYS_close_range, (unsigned)(x->last_fd + 1), ~0u, 0))
		return ut_err_sys(err, CACT_ESANDBOX, errno, "close_range");

	/*
	 * 3. Capabilities: all of them, from every set, for good. The ids are
	 *    already the unprivileged SBX_UID/SBX_GID of the user namespace.
	 */
	if ((rc = drop_capabilities(err)))
		return rc;

	/* 4. no_new_privs: required by landlock and seccomp for an unprivileged caller. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return ut_err_sys(err, CACT_ESANDBOX, errno, "PR_SET_NO_NEW_PRIVS");

	/*
	 * 5. Landlock: a second fence on the file system. Built here, not in
	 *    the zygote: landlock ignores rules on mount points hidden under a
	 *    mount, so /output and /tmp rules must name this execution's tmpfs.
	 */
	if (x->landlock_abi > 0) {
		ruleset = sbx_landlock_ruleset(x->landlock_abi, err);
		if (ruleset < 0)
			return ruleset;
		e = sbx_landlock_restrict(ruleset);
		close(ruleset);
		if (e)
			return ut_err_sys(err, CACT_ESANDBOX, -e, "landlock_restrict_self");
	}

	/*
	 * 6. Signals that would kill silently become errors: a write to a
	 *    closed pipe raises BrokenPipeError, a write past RLIMIT_FSIZE
	 *    raises "File too large". Every signal is unblocked.
	 */
	{
		sigset_t none;

		sigemptyset(&none);
		if (signal(SIGPIPE, SIG_IGN) == SIG_ERR || signal(SIGXFSZ, SIG_IGN) == SIG_ERR ||
		    sigprocmask(SIG_SETMASK, &none, NULL))
			return ut_err_sys(err, CACT_ESANDBOX, errno, "signal setup");
	}

	/*
	 * 7. Seccomp last: every step above needs calls the filter forbids.
	 *    The closing layer over the zygote's base layer makes the whole
	 *    filter. Nothing but the runner's own code runs between here and
	 *    the model's code.
	 */
	if ((e = sbx_seccomp_install(x->filter)))
		return ut_err_sys(err, CACT_ESANDBOX, -e, "seccomp");
	return 0;
}
