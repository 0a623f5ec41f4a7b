/* SPDX-License-Identifier: MIT */
/*
 * The system-call filter of an execution. An allow-list: anything not named
 * here fails with EPERM, so libraries that probe (pandas runs `uname -p`,
 * shutil looks for extended attributes) get an ordinary OSError instead of a
 * dead process. Calls that only an escape attempt makes kill the whole
 * process with SIGSYS, which the host reports as sandbox_violation.
 *
 * The filter comes in two layers, because loading a BPF program is costly
 * (a JIT pass and, at exit, its freeing: about a millisecond for the whole
 * list here) and a child would otherwise load it every time:
 *   - the base layer, installed once in the zygote and inherited by every
 *     child with fork, is the list below with the calls the zygote and a
 *     child's set-up still need (forking, the mount API, namespaces,
 *     capabilities, landlock, installing the next layer) let through;
 *   - the closing layer, a few instructions each child installs last, gives
 *     those calls exactly the action the list gives them, and refuses the
 *     commands that grow kernel buffers (fcntl F_SETPIPE_SZ, setsockopt
 *     SO_SNDBUF and friends), which the base layer cannot single out.
 * The kernel runs both and takes the stricter action, so what the code
 * meets is the list below, whole.
 *
 * This file is compiled into the build tool tools/seccomp_bpf.c, not into
 * the guest: the program depends on nothing but this list, libseccomp and
 * the architecture, so it is compiled once, when cact is built, and the
 * guest installs the result (filter.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../util/util.h"
#include "sandbox.h"

/* What glibc's pthread_create passes to clone() once clone3 says ENOSYS. */
#define THREAD_CLONE_FLAGS                                                                  \
	(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | \
	 CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID)

#define SPECIAL_MODE_BITS (S_ISUID | S_ISGID | S_ISVTX)
#define LOW32		  0xffffffffull

/* Allowed without conditions. Names unknown on the build's architecture are skipped. */
static const char *const allowed[] = {
	/* file descriptors and I/O */
	"read",
	"write",
	"readv",
	"writev",
	"pread64",
	"pwrite64",
	"preadv",
	"pwritev",
	"preadv2",
	"pwritev2",
	"lseek",
	"close",
	"close_range",
	"dup",
	"dup2",
	"dup3",
	"fcntl",
	"flock",
	"fsync",
	"fdatasync",
	"ftruncate",
	"truncate",
	"fallocate",
	"sendfile",
	"copy_file_range",
	"readahead",
	"fadvise64",
	"pipe",
	"pipe2",
	/* file system, inside the private root */
	"fstat",
	"stat",
	"lstat",
	"newfstatat",
	"statx",
	"statfs",
	"fstatfs",
	"access",
	"faccessat",
	"faccessat2",
	"getdents",
	"getdents64",
	"getcwd",
	"chdir",
	"fchdir",
	"readlink",
	"readlinkat",
	"rmdir",
	"unlink",
	"unlinkat",
	"rename",
	"renameat",
	"renameat2",
	"link",
	"linkat",
	"symlink",
	"symlinkat",
	"utime",
	"utimes",
	"utimensat",
	"futimesat",
	"umask",
	"getxattr",
	"lgetxattr",
	"fgetxattr",
	"listxattr",
	"llistxattr",
	"flistxattr",
	/* memory */
	"mmap",
	"munmap",
	"mprotect",
	"mremap",
	"madvise",
	"brk",
	"msync",
	"mincore",
	/* signals, within the execution's own pid namespace */
	"rt_sigaction",
	"rt_sigprocmask",
	"rt_sigreturn",
	"rt_sigpending",
	"rt_sigtimedwait",
	"rt_sigsuspend",
	"rt_sigqueueinfo",
	"rt_tgsigqueueinfo",
	"sigaltstack",
	"kill",
	"tgkill",
	"tkill",
	"pause",
	"restart_syscall",
	/* identity and limits, read-only or lowering */
	"getpid",
	"gettid",
	"getppid",
	"getuid",
	"geteuid",
	"getgid",
	"getegid",
	"getgroups",
	"getresuid",
	"getresgid",
	"getpgrp",
	"getpgid",
	"getsid",
	"capget",
	"uname",
	"sysinfo",
	"getrlimit",
	"setrlimit",
	"getrusage",
	"times",
	"getpriority",
	"getcpu",
	/* time */
	"clock_gettime",
	"clock_getres",
	"clock_nanosleep",
	"nanosleep",
	"gettimeofday",
	"time",
	"alarm",
	"setitimer",
	"getitimer",
	"timer_create",
	"timer_settime",
	"timer_gettime",
	"timer_delete",
	"timer_getoverrun",
	"timerfd_create",
	"timerfd_settime",
	"timerfd_gettime",
	/* threads */
	"futex",
	"futex_waitv",
	"set_robust_list",
	"get_robust_list",
	"set_tid_address",
	"rseq",
	"arch_prctl",
	"sched_yield",
	"sched_getaffinity",
	"sched_getparam",
	"sched_getscheduler",
	"sched_get_priority_max",
	"sched_get_priority_min",
	"sched_rr_get_interval",
	/* waiting and events (asyncio, selectors) */
	"poll",
	"ppoll",
	"select",
	"pselect6",
	"epoll_create",
	"epoll_create1",
	"epoll_ctl",
	"epoll_wait",
	"epoll_pwait",
	"epoll_pwait2",
	"eventfd",
	"eventfd2",
	"signalfd",
	"signalfd4",
	/* sockets that already exist (the wire socket, socketpairs) */
	"sendmsg",
	"recvmsg",
	"sendto",
	"recvfrom",
	"sendmmsg",
	"recvmmsg",
	"shutdown",
	"getsockopt",
	"setsockopt",
	"getsockname",
	"getpeername",
	"getrandom",
	"exit",
	"exit_group",
	"wait4",
	"waitid",
};

/*
 * Killed on sight: nothing legitimate in an execution makes these calls, and
 * most are the first step of a known escape or kernel exploit class.
 */
static const char *const fatal[] = {
	"ptrace",
	"process_vm_readv",
	"process_vm_writev",
	"bpf",
	"perf_event_open",
	"userfaultfd",
	"keyctl",
	"add_key",
	"request_key",
	"io_uring_setup",
	"io_uring_enter",
	"io_uring_register",
	"pivot_root",
	"fspick",
	"open_by_handle_at",
	"name_to_handle_at",
	"splice",
	"vmsplice",
	"tee",
	"personality",
	"kexec_load",
	"kexec_file_load",
	"init_module",
	"finit_module",
	"delete_module",
	"reboot",
	"swapon",
	"swapoff",
	"chroot",
	"acct",
	"quotactl",
	"quotactl_fd",
	"syslog",
	"settimeofday",
	"clock_settime",
	"clock_adjtime",
	"adjtimex",
	"lookup_dcookie",
	"ioperm",
	"iopl",
	"modify_ldt",
	"uselib",
	"vhangup",
	"pidfd_getfd",
	"kcmp",
	"fanotify_init",
};

/* Killed as well, but the zygote and a child's set-up need them: the closing layer kills them. */
static const char *const setup_fatal[] = {
	"mount",    "umount2", "move_mount",	"open_tree", "fsopen",
	"fsconfig", "fsmount", "mount_setattr", "unshare",   "setns",
};

/* Refused (EPERM) by the list, needed by set-up: the closing layer refuses them. */
static const char *const setup_denied[] = {
	"capset",
	"landlock_create_ruleset",
	"landlock_add_rule",
	"landlock_restrict_self",
	"seccomp",
	"setsid",
	"openat2",
	"pidfd_open",
	"process_madvise",
};

/*
 * Kernel buffers the code could grow, refused (EPERM) by the closing layer:
 * pipes stay at the default 16 pages and sockets at net.core.wmem_default
 * and rmem_default, so what an execution can pin in them is bounded by its
 * open-file limit (docs/sandbox.md, "Pipes and sockets"). The commands are
 * ints: compared on their low 32 bits, all the kernel reads.
 */
#ifndef F_SETPIPE_SZ
#define F_SETPIPE_SZ 1031
#endif
static const unsigned long sockopt_buffers[] = {
	SO_SNDBUF,
	SO_RCVBUF,
	SO_SNDBUFFORCE,
	SO_RCVBUFFORCE,
};

/* What glibc's fork() passes to clone(): the zygote forks; the code gets EPERM. */
#define FORK_CLONE_FLAGS (CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD)

/* prctl options set-up uses and the code may not. */
static const unsigned long prctl_setup[] = {
	PR_SET_PDEATHSIG, PR_SET_SECUREBITS, PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_SET_NO_NEW_PRIVS,
};

/* Newer than libseccomp 2.5's tables: by number, x86_64 only. */
#if defined(__x86_64__)
static const int fatal_numbers[] = {
	467, /* open_tree_attr */
};
#endif

static const unsigned long clone_namespace_flags[] = {
	CLONE_NEWNS,   CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
	CLONE_NEWUSER, CLONE_NEWPID,	CLONE_NEWNET, 0x80 /* CLONE_NEWTIME */,
};

static const unsigned long prctl_allowed[] = {
	PR_SET_NAME,	 PR_GET_NAME,	  PR_GET_DUMPABLE,  PR_GET_SECCOMP,    PR_GET_NO_NEW_PRIVS,
	PR_CAPBSET_READ, PR_GET_KEEPCAPS, PR_GET_PDEATHSIG, PR_GET_TIMERSLACK,
};

static const unsigned long ioctl_allowed[] = {
	FIONREAD, FIONBIO, FIOCLEX, FIONCLEX, TCGETS, TIOCGWINSZ,
};

/* Terminal injection: an attempt to type into a terminal outside. */
static const unsigned long ioctl_fatal[] = {TIOCSTI, TIOCLINUX};

/* A mode argument without setuid, setgid or sticky bits. */
struct mode_rule {
	const char *name;
	unsigned arg;
};

static const struct mode_rule mode_rules[] = {
	{"open", 2},  {"openat", 3}, {"creat", 1},    {"mkdir", 1},	{"mkdirat", 2},
	{"chmod", 1}, {"fchmod", 1}, {"fchmodat", 2}, {"fchmodat2", 2},
};

static int add(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n,
	       const struct scmp_arg_cmp *cmp, struct cact_error *err)
{
	int nr = seccomp_syscall_resolve_name(name);
	int rc;

	if (nr == __NR_SCMP_ERROR)
		return 0; /* not a call on this architecture */
	rc = seccomp_rule_add_array(ctx, action, nr, n, cmp);
	if (rc < 0)
		return ut_err_sys(err, CACT_ESANDBOX, -rc, "cannot add seccomp rule for %s", name);
	return 0;
}

/* The list, as the base layer: set-up's calls let through (see the top of this file). */
static int add_rules(scmp_filter_ctx ctx, struct cact_error *err)
{
	struct scmp_arg_cmp cmp;
	size_t i;
	int rc;

	for (i = 0; i < UT_ARRAY_SIZE(allowed); i++)
		if ((rc = add(ctx, SCMP_ACT_ALLOW, allowed[i], 0, NULL, err)))
			return rc;
	for (i = 0; i < UT_ARRAY_SIZE(setup_fatal); i++)
		if ((rc = add(ctx, SCMP_ACT_ALLOW, setup_fatal[i], 0, NULL, err)))
			return rc;
	for (i = 0; i < UT_ARRAY_SIZE(setup_denied); i++)
		if ((rc = add(ctx, SCMP_ACT_ALLOW, setup_denied[i], 0, NULL, err)))
			return rc;
	cmp = SCMP_A0(SCMP_CMP_EQ, FORK_CLONE_FLAGS);
	if ((rc = add(ctx, SCMP_ACT_ALLOW, "clone", 1, &cmp, err)))
		return rc;
	for (i = 0; i < UT_ARRAY_SIZE(prctl_setup); i++) {
		cmp = SCMP_A0(SCMP_CMP_MASKED_EQ, LOW32, prctl_setup[i]);
		if ((rc = add(ctx, SCMP_ACT_ALLOW, "prctl", 1, &cmp, err)))
			return rc;
	}
	for (i = 0; i < UT_ARRAY_SIZE(fatal); i++)
		if ((rc = add(ctx, SCMP_ACT_KILL_PROCESS, fatal[i], 0, NULL, err)))
			return rc;
#if defined(__x86_64__)
	for (i = 0; i < UT_ARRAY_SIZE(fatal_numbers); i++) {
		rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, fatal_numbers[i], 0);
		if (rc < 0)
			return ut_err_sys(err, CACT_ESANDBOX, -rc, "cannot add seccomp rule %d",
					  fatal_numbers[i]);
	}
#endif

	/* Threads only: fork and friends get EPERM, namespace flags kill. */
	cmp = SCMP_A0(SCMP_CMP_EQ, THREAD_CLONE_FLAGS);
	if ((rc = add(ctx, SCMP_ACT_ALLOW, "clone", 1, &cmp, err)))
		return rc;
	for (i = 0; i < UT_ARRAY_SIZE(clone_namespace_flags); i++) {
		cmp = SCMP_A0(SCMP_CMP_MASKED_EQ, clone_namespace_flags[i],
			      clone_namespace_flags[i]);
		if ((rc = add(ctx, SCMP_ACT_KILL_PROCESS, "clone", 1, &cmp, err)))
			return rc;
	}
	/* clone3 passes its flags in memory a filter cannot read: make glibc fall back. */
	if ((rc = add(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL, err)))
		return rc;

	/* socketpair(AF_UNIX) only: asyncio's event loop needs one; socket() stays denied. */
	cmp = SCMP_A0(SCMP_CMP_MASKED_EQ, LOW32, AF_UNIX);
	if ((rc = add(ctx, SCMP_ACT_ALLOW, "socketpair", 1, &cmp, err)))
		return rc;

	/* Resource limits of this process only. */
	cmp = SCMP_A0(SCMP_CMP_MASKED_EQ, LOW32, 0);
	if ((rc = add(ctx, SCMP_ACT_ALLOW, "prlimit64", 1, &cmp, err)))
		return rc;

	for (i = 0; i < UT_ARRAY_SIZE(prctl_allowed); i++) {
		cmp = SCMP_A0(SCMP_CMP_MASKED_EQ, LOW32, prctl_allowed[i]);
		if ((rc = add(ctx, SCMP_ACT_ALLOW, "prctl", 1, &cmp, err)))
			return rc;
	}
	/* The kernel reads ioctl's request as 32 bits: compare only those. */
	for (i = 0; i < UT_ARRAY_SIZE(ioctl_allowed); i++) {
		cmp = SCMP_A1(SCMP_CMP_MASKED_EQ, LOW32, ioctl_allowed[i]);
		if ((rc = add(ctx, SCMP_ACT_ALLOW, "ioctl", 1, &cmp, err)))
			return rc;
	}
	for (i = 0; i < UT_ARRAY_SIZE(ioctl_fatal); i++) {
		cmp = SCMP_A1(SCMP_CMP_MASKED_EQ, LOW32, ioctl_fatal[i]);
		if ((rc = add(ctx, SCMP_ACT_KILL_PROCESS, "ioctl", 1, &cmp, err)))
			return rc;
	}

	for (i = 0; i < UT_ARRAY_SIZE(mode_rules); i++) {
		struct scmp_arg_cmp c = {
			.arg = mode_rules[i].arg,
			.op = SCMP_CMP_MASKED_EQ,
			.datum_a = SPECIAL_MODE_BITS,
			.datum_b = 0,
		};

		if ((rc = add(ctx, SCMP_ACT_ALLOW, mode_rules[i].name, 1, &c, err)))
			return rc;
	}
	/* mknod for FIFOs only (device nodes need CAP_MKNOD anyway). */
	cmp = SCMP_A1(SCMP_CMP_MASKED_EQ, S_IFMT | SPECIAL_MODE_BITS, S_IFIFO);
	if ((rc = add(ctx, SCMP_ACT_ALLOW, "mknod", 1, &cmp, err)))
		return rc;
	cmp = SCMP_A2(SCMP_CMP_MASKED_EQ, S_IFMT | SPECIAL_MODE_BITS, S_IFIFO);
	if ((rc = add(ctx, SCMP_ACT_ALLOW, "mknodat", 1, &cmp, err)))
		return rc;
	return 0;
}

/* The closing layer: set-up's calls get the list's action, everything else the base layer's. */
static int add_closing_rules(scmp_filter_ctx ctx, struct cact_error *err)
{
	struct scmp_arg_cmp cmp;
	size_t i;
	int rc;

	for (i = 0; i < UT_ARRAY_SIZE(setup_fatal); i++)
		if ((rc = add(ctx, SCMP_ACT_KILL_PROCESS, setup_fatal[i], 0, NULL, err)))
			return rc;
	for (i = 0; i < UT_ARRAY_SIZE(setup_denied); i++)
		if ((rc = add(ctx, SCMP_ACT_ERRNO(EPERM), setup_denied[i], 0, NULL, err)))
			return rc;
	cmp = SCMP_A0(SCMP_CMP_EQ, FORK_CLONE_FLAGS);
	if ((rc = add(ctx, SCMP_ACT_ERRNO(EPERM), "clone", 1, &cmp, err)))
		return rc;
	for (i = 0; i < UT_ARRAY_SIZE(prctl_setup); i++) {
		cmp = SCMP_A0(SCMP_CMP_MASKED_EQ, LOW32, prctl_setup[i]);
		if ((rc = add(ctx, SCMP_ACT_ERRNO(EPERM), "prctl", 1, &cmp, err)))
			return rc;
	}
	/*
	 * Here rather than in the base layer: libseccomp cannot refuse one
	 * command of a call the list allows whole, and a "not equal" rule
	 * compares all 64 bits, which a caller sets as it likes.
	 */
	cmp = SCMP_A1(SCMP_CMP_MASKED_EQ, LOW32, F_SETPIPE_SZ);
	if ((rc = add(ctx, SCMP_ACT_ERRNO(EPERM), "fcntl", 1, &cmp, err)))
		return rc;
	for (i = 0; i < UT_ARRAY_SIZE(sockopt_buffers); i++) {
		struct scmp_arg_cmp two[2] = {
			SCMP_A1(SCMP_CMP_MASKED_EQ, LOW32, SOL_SOCKET),
			SCMP_A2(SCMP_CMP_MASKED_EQ, LOW32, sockopt_buffers[i]),
		};

		if ((rc = add(ctx, SCMP_ACT_ERRNO(EPERM), "setsockopt", 2, two, err)))
			return rc;
	}
	return 0;
}

/* Compiles one layer: default action, its rules. */
static int build(uint32_t dflt, int (*rules)(scmp_filter_ctx, struct cact_error *),
		 struct sbx_filter *out, struct cact_error *err)
{
	scmp_filter_ctx ctx = NULL;
	int pipefd[2] = {-1, -1};
	char *buf = NULL;
	size_t len = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	ctx = seccomp_init(dflt);
	if (!ctx)
		return ut_err(err, CACT_ESANDBOX, "seccomp_init failed");
	/* Another architecture's numbers (i386 via int 0x80, x32) mean something else: kill. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (rc == 0)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (rc < 0) {
		rc = ut_err_sys(err, CACT_ESANDBOX, -rc, "seccomp_attr_set");
		goto out;
	}
	if ((rc = rules(ctx, err)))
		goto out;
	/* The program is small (a few KiB): a pipe holds it without a reader. */
	if (pipe2(pipefd, O_CLOEXEC)) {
		rc = ut_err_sys(err, CACT_ESYS, errno, "pipe2");
		goto out;
	}
	rc = seccomp_export_bpf(ctx, pipefd[1]);
	ut_close(&pipefd[1]);
	if (rc < 0) {
		rc = ut_err_sys(err, CACT_ESANDBOX, -rc, "seccomp_export_bpf");
		goto out;
	}
	if ((rc = ut_read_all(pipefd[0], 64 * 1024, &buf, &len, err)))
		goto out;
	if (len == 0 || len % sizeof(struct sock_filter) ||
	    len / sizeof(struct sock_filter) > BPF_MAXINSNS) {
		rc = ut_err(err, CACT_ESANDBOX, "seccomp program has a bad size (%zu bytes)", len);
		goto out;
	}
	out->insns = (struct sock_filter *)buf;
	out->len = (unsigned short)(len / sizeof(struct sock_filter));
	buf = NULL;
	rc = 0;
out:
	free(buf);
	ut_close(&pipefd[0]);
	ut_close(&pipefd[1]);
	seccomp_release(ctx);
	return rc;
}

int sbx_seccomp_build(struct sbx_filter *base, struct sbx_filter *closing, struct cact_error *err)
{
	int rc = build(SCMP_ACT_ERRNO(EPERM), add_rules, base, err);

	if (rc == 0 && (rc = build(SCMP_ACT_ALLOW, add_closing_rules, closing, err)))
		sbx_seccomp_free(base);
	return rc;
}

void sbx_seccomp_free(struct sbx_filter *f)
{
	free((void *)f->insns);
	f->insns = NULL;
	f->len = 0;
}
