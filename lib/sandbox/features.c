/* SPDX-License-Identifier: MIT */
/* What the running kernel offers, probed in a throw-away child. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../util/util.h"
#include "sandbox.h"

static const struct {
	unsigned bit;
	const char *name;
} names[] = {
	{CACT_FEATURE_USER_NS, "user_namespace"}, {CACT_FEATURE_MOUNT_NS, "mount_namespace"},
	{CACT_FEATURE_PID_NS, "pid_namespace"},   {CACT_FEATURE_NET_NS, "network_namespace"},
	{CACT_FEATURE_IPC_NS, "ipc_namespace"},   {CACT_FEATURE_UTS_NS, "uts_namespace"},
	{CACT_FEATURE_CGROUP_NS, "cgroup_namespace"}, {CACT_FEATURE_LANDLOCK, "landlock"},
	{CACT_FEATURE_SECCOMP, "seccomp"},        {CACT_FEATURE_PIDFD, "pidfd"},
};

CACT_API const char *cact_feature_name(unsigned feature)
{
	size_t i;

	for (i = 0; i < UT_ARRAY_SIZE(names); i++)
		if (names[i].bit == feature)
			return names[i].name;
	return "unknown";
}

struct probe {
	unsigned present;
	char why[256];
};

/* Runs in the forked child: may unshare freely, reports through the pipe. */
static void probe_child(int out)
{
	struct probe p = {0};
	struct cact_error err = {0};
	unsigned got = 0;
	int fd;

	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0)
		p.present |= CACT_FEATURE_SECCOMP;
	fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (fd >= 0) {
		p.present |= CACT_FEATURE_PIDFD;
		close(fd);
	}
	if (sbx_landlock_abi() > 0)
		p.present |= CACT_FEATURE_LANDLOCK;
	if (sbx_unshare(~0u, 0, &got, &err) == 0) {
		p.present |= got;
		/* The fd-based mount API is part of what "mount namespace" means here. */
		fd = fsopen("tmpfs", FSOPEN_CLOEXEC);
		if (fd < 0) {
			p.present &= ~(unsigned)CACT_FEATURE_MOUNT_NS;
			ut_snprintf(p.why, sizeof(p.why), "fsopen: %s", ut_errno_name(errno));
		} else {
			close(fd);
		}
	} else {
		ut_snprintf(p.why, sizeof(p.why), "%s", err.message);
	}
	if (ut_write_full(out, &p, sizeof(p)))
		_exit(1);
	_exit(0);
}

CACT_API int cact_features_probe(struct cact_features *out, struct cact_error *err)
{
	struct probe p = {0};
	struct utsname u;
	int fds[2];
	pid_t pid;
	ssize_t n;
	int status;

	memset(out, 0, sizeof(*out));
	if (uname(&u) == 0)
		ut_snprintf(out->kernel, sizeof(out->kernel), "%s", u.release);
	if (pipe2(fds, O_CLOEXEC))
		return ut_err_sys(err, CACT_ESYS, errno, "pipe2");
	pid = fork();
	if (pid < 0) {
		int e = errno;

		close(fds[0]);
		close(fds[1]);
		return ut_err_sys(err, CACT_ESYS, e, "fork");
	}
	if (pid == 0) {
		close(fds[0]);
		probe_child(fds[1]);
	}
	close(fds[1]);
	n = ut_read_full(fds[0], &p, sizeof(p));
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(p))
		return ut_err(err, CACT_ESYS, "feature probe failed");
	out->present = p.present;
	out->landlock_abi = sbx_landlock_abi();
	p.why[sizeof(p.why) - 1] = '\0';
	ut_snprintf(out->missing_why, sizeof(out->missing_why), "%s", p.why);
	return 0;
}
