/* SPDX-License-Identifier: MIT */
/*
 * The mounts of one execution: /output and /tmp as fresh size-capped tmpfs
 * instances, and /input made of the workspace and the file mounts.
 *
 * Sources are opened in the detached copy of the host tree with openat2()
 * refusing every symlink, checked against the device and inode the host
 * validated, and cloned from that very fd. The clones are made while the
 * child still shares the zygote's mount namespace (the kernel only lets a
 * detached tree be cloned from the namespace it was made in), then the child
 * takes a namespace of its own and moves them into place.
 *
 * Between the clones and the new mount namespace the child also caps its
 * pid namespace (pid_max, per namespace since Linux 6.14: the only thread
 * cap the kernel applies to uid 0) and moves into a user namespace of its
 * own, so that RLIMIT_NPROC counts this execution's threads alone.
 *
 * /input is
 *   - the workspace, when there are no file mounts;
 *   - a small read-only tmpfs of mount points, when there is no workspace;
 *   - an overlay of that tmpfs above the workspace, when there are both,
 *     so the workspace's entries and the mount points show side by side.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../util/util.h"
#include "sandbox.h"

#define INPUT_ATTRS                                                                                \
	(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC)
#define SCRATCH_ATTRS (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC)
#define MAX_MOUNTS 256

/* Opens m->host in the host tree and returns a read-only detached clone of it. */
static int clone_source(int host_tree, const struct sbx_mount *m, struct cact_error *err)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC | O_NOFOLLOW,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_BENEATH,
	};
	struct mount_attr ma = {.attr_set = INPUT_ATTRS};
	struct stat st;
	int fd, tree = -1;

	if (m->host[0] != '/' || m->host[1] == '\0')
		return ut_err(err, CACT_EINVAL, "cannot mount %s: not an absolute path below /",
			      m->host);
	fd = (int)syscall(SYS_openat2, host_tree, m->host + 1, &how, sizeof(how));
	if (fd < 0)
		return ut_err_sys(err, CACT_ESANDBOX, errno, "cannot mount %s: openat2", m->host);
	if (fstat(fd, &st)) {
		tree = ut_err_sys(err, CACT_ESANDBOX, errno, "cannot mount %s: fstat", m->host);
		goto out;
	}
	/* Bound as what was validated: a swap after the host's check is refused. */
	if (st.st_dev != m->dev || st.st_ino != m->ino || !!S_ISDIR(st.st_mode) != !!m->is_dir) {
		tree = ut_err(err, CACT_ESANDBOX, "cannot mount %s: it changed since it was checked",
			      m->host);
		goto out;
	}
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
		tree = ut_err(err, CACT_EINVAL, "cannot mount %s: not a regular file or folder",
			      m->host);
		goto out;
	}
	tree = open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (tree < 0) {
		tree = ut_err_sys(err, CACT_ESANDBOX, errno, "cannot mount %s: open_tree", m->host);
		goto out;
	}
	if (mount_setattr(tree, "", AT_EMPTY_PATH, &ma, sizeof(ma))) {
		int e = errno;

		close(tree);
		tree = ut_err_sys(err, CACT_ESANDBOX, e, "cannot mount %s: mount_setattr", m->host);
	}
out:
	close(fd);
	return tree;
}

/* Creates the mount point of m (a folder, or an empty file) in the skeleton tmpfs. */
static int make_point(int skel, const struct sbx_mount *m, struct cact_error *err)
{
	const char *rel = m->guest + strlen("/input/");
	char parent[PATH_MAX];
	char *slash;
	int e, fd;

	if (m->is_dir) {
		if ((e = sbx_mkdirs(skel, rel, 0755)))
			return ut_err_sys(err, CACT_ESANDBOX, -e, "cannot create %s", m->guest);
		return 0;
	}
	if (ut_snprintf(parent, sizeof(parent), "%s", rel) < 0)
		return ut_err(err, CACT_EINVAL, "mount path too long: %s", m->guest);
	slash = strrchr(parent, '/');
	if (slash) {
		*slash = '\0';
		if ((e = sbx_mkdirs(skel, parent, 0755)))
			return ut_err_sys(err, CACT_ESANDBOX, -e, "cannot create %s", m->guest);
	}
	fd = openat(skel, rel, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return ut_err_sys(err, CACT_ESANDBOX, errno, "cannot create %s", m->guest);
	close(fd);
	return 0;
}

static int write_proc(int procfd, const char *rel, const char *text)
{
	int fd = openat(procfd, rel, O_WRONLY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (ut_write_full(fd, text, strlen(text)))
		rc = -errno;
	close(fd);
	return rc;
}

/*
 * A user namespace for this execution alone, mapping SBX_UID/SBX_GID to
 * themselves. Written through the zygote's procfs: the child has no /proc.
 */
static int nest_user(int procfd, struct cact_error *err)
{
	char map[32];
	int e;

	if (unshare(CLONE_NEWUSER))
		return ut_err_sys(err, CACT_ESANDBOX, errno, "unshare CLONE_NEWUSER");
	if ((e = write_proc(procfd, "self/setgroups", "deny")))
		return ut_err_sys(err, CACT_ESANDBOX, -e, "cannot write setgroups");
	ut_snprintf(map, sizeof(map), "%u %u 1", SBX_UID, SBX_UID);
	if ((e = write_proc(procfd, "self/uid_map", map)))
		return ut_err_sys(err, CACT_ESANDBOX, -e, "cannot write uid_map");
	ut_snprintf(map, sizeof(map), "%u %u 1", SBX_GID, SBX_GID);
	if ((e = write_proc(procfd, "self/gid_map", map)))
		return ut_err_sys(err, CACT_ESANDBOX, -e, "cannot write gid_map");
	return 0;
}

static int attach(int *fd, const char *where, struct cact_error *err)
{
	if (move_mount(*fd, "", AT_FDCWD, where, MOVE_MOUNT_F_EMPTY_PATH))
		return ut_err_sys(err, CACT_ESANDBOX, errno, "cannot mount %s: move_mount", where);
	ut_close(fd);
	return 0;
}

/* A read-only overlay of skeleton (upper-most) over workspace, both attached at staging points. */
static int overlay(const char *upper, const char *lower, struct cact_error *err)
{
	char layers[64];
	int fs, mnt;

	ut_snprintf(layers, sizeof(layers), "%s:%s", upper, lower);
	fs = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fs < 0)
		return ut_err_sys(err, CACT_ESANDBOX, errno, "fsopen overlay");
	if (fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir", layers, 0) ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0)) {
		mnt = ut_err_sys(err, CACT_ESANDBOX, errno, "cannot create the /input overlay");
		close(fs);
		return mnt;
	}
	mnt = fsmount(fs, FSMOUNT_CLOEXEC, INPUT_ATTRS);
	if (mnt < 0)
		mnt = ut_err_sys(err, CACT_ESANDBOX, errno, "fsmount overlay");
	close(fs);
	return mnt;
}

int sbx_exec_mounts(const struct sbx_exec *x, unsigned *applied, struct cact_error *err)
{
	int out = -1, tmp = -1, ws = -1, skel = -1, ov = -1;
	int binds[MAX_MOUNTS];
	struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
	size_t i, n = x->n_mounts;
	int rc = 0;

	if (n > MAX_MOUNTS)
		return ut_err(err, CACT_EINVAL, "too many mounts (%zu, at most %d)", n, MAX_MOUNTS);
	for (i = 0; i < n; i++)
		binds[i] = -1;

	/* 1. Everything detached, still in the zygote's mount namespace. */
	out = sbx_tmpfs(x->output_bytes, x->output_inodes, SCRATCH_ATTRS, err);
	if (out < 0) {
		rc = out;
		goto fail;
	}
	tmp = sbx_tmpfs(x->tmp_bytes, 4096, SCRATCH_ATTRS, err);
	if (tmp < 0) {
		rc = tmp;
		goto fail;
	}
	if (x->workspace) {
		ws = clone_source(x->host_tree, x->workspace, err);
		if (ws < 0) {
			rc = ws;
			goto fail;
		}
	}
	for (i = 0; i < n; i++) {
		binds[i] = clone_source(x->host_tree, &x->mounts[i], err);
		if (binds[i] < 0) {
			rc = binds[i];
			goto fail;
		}
	}
	if (n > 0) {
		skel = sbx_tmpfs(1 << 20, 2 * n + 64, SCRATCH_ATTRS, err);
		if (skel < 0) {
			rc = skel;
			goto fail;
		}
		for (i = 0; i < n; i++)
			if ((rc = make_point(skel, &x->mounts[i], err)))
				goto fail;
	}

	/*
	 * 2. The pid cap must be written while this process still holds
	 *    CAP_SYS_ADMIN over its pid namespace, that is, before it leaves the
	 *    zygote's user namespace. Older kernels refuse: best effort.
	 */
	if (x->pid_max > 0) {
		char num[32];

		ut_snprintf(num, sizeof(num), "%llu", (unsigned long long)x->pid_max);
		if (write_proc(x->procfd, "sys/kernel/pid_max", num) == 0)
			*applied |= SBX_APPLIED_PID_MAX;
	}
	if ((rc = nest_user(x->procfd, err)))
		goto fail;
	*applied |= SBX_APPLIED_USERNS;

	/* 3. A mount namespace of our own: the zygote's stays as it is. */
	if (unshare(CLONE_NEWNS)) {
		rc = ut_err_sys(err, CACT_ESANDBOX, errno, "unshare CLONE_NEWNS");
		goto fail;
	}

	/* 4. /input. */
	if (ws >= 0 && skel >= 0) {
		/* /output and /tmp are still empty mount points: use them as staging. */
		if ((rc = attach(&skel, "/output", err)) || (rc = attach(&ws, "/tmp", err)))
			goto fail;
		ov = overlay("/output", "/tmp", err);
		if (ov < 0) {
			rc = ov;
			goto fail;
		}
		if ((rc = attach(&ov, "/input", err)))
			goto fail;
		if (umount2("/output", MNT_DETACH) || umount2("/tmp", MNT_DETACH)) {
			rc = ut_err_sys(err, CACT_ESANDBOX, errno, "cannot detach staging mounts");
			goto fail;
		}
	} else if (ws >= 0) {
		if ((rc = attach(&ws, "/input", err)))
			goto fail;
	} else if (skel >= 0) {
		if ((rc = attach(&skel, "/input", err)))
			goto fail;
	}
	for (i = 0; i < n; i++)
		if ((rc = attach(&binds[i], x->mounts[i].guest, err)))
			goto fail;
	if (n > 0 && !x->workspace && mount_setattr(AT_FDCWD, "/input", 0, &ro, sizeof(ro))) {
		rc = ut_err_sys(err, CACT_ESANDBOX, errno, "cannot make /input read-only");
		goto fail;
	}

	/* 5. Fresh, empty /output and /tmp. */
	if ((rc = attach(&out, "/output", err)) || (rc = attach(&tmp, "/tmp", err)))
		goto fail;
	return 0;
fail:
	ut_close(&out);
	ut_close(&tmp);
	ut_close(&ws);
	ut_close(&skel);
	ut_close(&ov);
	for (i = 0; i < n; i++)
		ut_close(&binds[i]);
	return rc;
}
