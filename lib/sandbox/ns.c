/* SPDX-License-Identifier: MIT */
/*
 * Namespaces of the zygote and of everything it forks. The user namespace
 * comes first: inside it this process holds the capabilities that the
 * others, and the mounts, need. Each further namespace is created on its own
 * so that a kernel that lacks one is reported by name.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../util/util.h"
#include "sandbox.h"

static int write_file(const char *path, const char *text, struct cact_error *err)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return ut_err_sys(err, CACT_ESANDBOX, errno, "cannot open %s", path);
	if (ut_write_full(fd, text, strlen(text)))
		rc = ut_err_sys(err, CACT_ESANDBOX, errno, "cannot write %s", path);
	close(fd);
	return rc;
}

static int map_ids(uid_t uid, gid_t gid, struct cact_error *err)
{
	char line[64];
	int rc;

	/* An unprivileged writer of gid_map must first give up setgroups(). */
	if ((rc = write_file("/proc/self/setgroups", "deny", err)))
		return rc;
	ut_snprintf(line, sizeof(line), "%u %u 1", SBX_UID, (unsigned)uid);
	if ((rc = write_file("/proc/self/uid_map", line, err)))
		return rc;
	ut_snprintf(line, sizeof(line), "%u %u 1", SBX_GID, (unsigned)gid);
	return write_file("/proc/self/gid_map", line, err);
}

static const struct {
	unsigned feature;
	int flag;
} later[] = {
	{CACT_FEATURE_MOUNT_NS, CLONE_NEWNS}, {CACT_FEATURE_NET_NS, CLONE_NEWNET},
	{CACT_FEATURE_IPC_NS, CLONE_NEWIPC},   {CACT_FEATURE_UTS_NS, CLONE_NEWUTS},
	{CACT_FEATURE_CGROUP_NS, CLONE_NEWCGROUP}, {CACT_FEATURE_PID_NS, CLONE_NEWPID},
};

int sbx_unshare(unsigned want, unsigned required, unsigned *got, struct cact_error *err)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	size_t i;
	int rc;

	*got = 0;
	if (!(want & CACT_FEATURE_USER_NS))
		return ut_err(err, CACT_EUNSUPPORTED,
			      "user namespaces are unavailable; cact cannot build a sandbox without them");
	if (unshare(CLONE_NEWUSER))
		return ut_err_sys(err, CACT_EUNSUPPORTED, errno,
				  "user namespaces are unavailable (unshare CLONE_NEWUSER)");
	if ((rc = map_ids(uid, gid, err)))
		return rc;
	*got |= CACT_FEATURE_USER_NS;
	for (i = 0; i < UT_ARRAY_SIZE(later); i++) {
		unsigned f = later[i].feature;

		if (!(want & f)) {
			if (required & f)
				return ut_err(err, CACT_EUNSUPPORTED, "%s is unavailable",
					      cact_feature_name(f));
			continue;
		}
		if (unshare(later[i].flag)) {
			if (required & f)
				return ut_err_sys(err, CACT_EUNSUPPORTED, errno,
						  "%s is unavailable (unshare)", cact_feature_name(f));
			continue;
		}
		*got |= f;
	}
	if ((*got & CACT_FEATURE_UTS_NS) && sethostname(SBX_HOSTNAME, strlen(SBX_HOSTNAME)))
		return ut_err_sys(err, CACT_ESANDBOX, errno, "sethostname");
	return 0;
}
