/* SPDX-License-Identifier: MIT */
/*
 * The zygote's private root: a small tmpfs holding only the Python runtime
 * (bound read-only), three device nodes, a two-file /etc and the mount
 * points that every execution fills with its own /input, /output and /tmp.
 * Built with the fd-based mount API, so every source is opened once and
 * bound as what was opened.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

/* Where the new root is assembled before pivot_root; any folder of the private namespace. */
#define STAGE "/tmp"

static const char passwd[] = "root:x:0:0:root:/:/usr/sbin/nologin\n"
			     "sandbox:x:1000:1000:sandbox:/tmp:/usr/sbin/nologin\n"
			     "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
static const char group[] = "root:x:0:\nsandbox:x:1000:\nnogroup:x:65534:\n";

static const char *const devices[] = {"/dev/null", "/dev/zero", "/dev/urandom"};

int sbx_tmpfs(uint64_t size, uint64_t inodes, unsigned attrs, struct cact_error *err)
{
	char num[32];
	int fs, mnt;

	fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
	if (fs < 0)
		return ut_err_sys(err, CACT_ESANDBOX, errno, "fsopen tmpfs");
	ut_snprintf(num, sizeof(num), "%llu", (unsigned long long)size);
	if (fsconfig(fs, FSCONFIG_SET_STRING, "size", num, 0))
		goto fail;
	ut_snprintf(num, sizeof(num), "%llu", (unsigned long long)inodes);
	if (fsconfig(fs, FSCONFIG_SET_STRING, "nr_inodes", num, 0))
		goto fail;
	if (fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0755", 0))
		goto fail;
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0))
		goto fail;
	mnt = fsmount(fs, FSMOUNT_CLOEXEC, attrs);
	if (mnt < 0)
		goto fail;
	close(fs);
	return mnt;
fail:
	mnt = ut_err_sys(err, CACT_ESANDBOX, errno, "cannot create tmpfs of %llu bytes",
			 (unsigned long long)size);
	close(fs);
	return mnt;
}

int sbx_mkdirs(int dirfd, const char *rel, mode_t mode)
{
	char path[PATH_MAX];
	char *p;

	if (ut_snprintf(path, sizeof(path), "%s", rel) < 0)
		return -ENAMETOOLONG;
	for (p = path; *p; p++) {
		if (*p != '/' || p == path)
			continue;
		*p = '\0';
		if (mkdirat(dirfd, path, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdirat(dirfd, path, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

static int put_file(int dirfd, const char *rel, const char *text, struct cact_error *err)
{
	int fd = openat(dirfd, rel, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	int rc = 0;

	if (fd < 0)
		return ut_err_sys(err, CACT_ESANDBOX, errno, "cannot create /%s", rel);
	if (text && ut_write_full(fd, text, strlen(text)))
		rc = ut_err_sys(err, CACT_ESANDBOX, errno, "cannot write /%s", rel);
	close(fd);
	return rc;
}

/*
 * Binds host path src (absolute) at the same path in the new root (root fd
 * + STAGE), taking it from host (the detached copy of the host's tree):
 * the new root is staged on /tmp, which hides the host's /tmp from paths.
 * attrs are MOUNT_ATTR_* set on the bind before it becomes visible.
 */
static int bind_same(int host, int root, const char *src, uint64_t attrs, struct cact_error *err)
{
	struct mount_attr ma = {.attr_set = attrs};
	char target[PATH_MAX];
	struct stat st;
	int tree = -1, rc = 0;

	tree = open_tree(host, src[1] ? src + 1 : ".",
			 OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);
	if (tree < 0)
		return ut_err_sys(err, CACT_ESANDBOX, errno, "cannot bind %s: open_tree", src);
	if (fstat(tree, &st)) {
		rc = ut_err_sys(err, CACT_ESANDBOX, errno, "cannot bind %s: fstat", src);
		goto out;
	}
	if (mount_setattr(tree, "", AT_EMPTY_PATH, &ma, sizeof(ma))) {
		rc = ut_err_sys(err, CACT_ESANDBOX, errno, "cannot bind %s: mount_setattr", src);
		goto out;
	}
	/* The mount point: a folder for a folder, an empty file for anything else. */
	if (S_ISDIR(st.st_mode)) {
		int e = sbx_mkdirs(root, src + 1, 0755);

		if (e) {
			rc = ut_err_sys(err, CACT_ESANDBOX, -e, "cannot bind %s: mkdir", src);
			goto out;
		}
	} else {
		char parent[PATH_MAX];
		char *slash;
		int e;

		ut_snprintf(parent, sizeof(parent), "%s", src + 1);
		slash = strrchr(parent, '/');
		if (slash) {
			*slash = '\0';
			if ((e = sbx_mkdirs(root, parent, 0755))) {
				rc = ut_err_sys(err, CACT_ESANDBOX, -e, "cannot bind %s: mkdir", src);
				goto out;
			}
		}
		if ((rc = put_file(root, src + 1, NULL, err)))
			goto out;
	}
	if (ut_snprintf(target, sizeof(target), STAGE "%s", src) < 0) {
		rc = ut_err(err, CACT_ESANDBOX, "cannot bind %s: path too long", src);
		goto out;
	}
	if (move_mount(tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH))
		rc = ut_err_sys(err, CACT_ESANDBOX, errno, "cannot bind %s: move_mount", src);
out:
	close(tree);
	return rc;
}

/* A detached procfs of the zygote's pid namespace: used by trusted setup code only. */
static int open_proc(struct cact_error *err)
{
	int fs = fsopen("proc", FSOPEN_CLOEXEC), mnt;

	if (fs < 0)
		return ut_err_sys(err, CACT_ESANDBOX, errno, "fsopen proc");
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0)) {
		mnt = ut_err_sys(err, CACT_ESANDBOX, errno, "cannot create a procfs");
		close(fs);
		return mnt;
	}
	mnt = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
	if (mnt < 0)
		mnt = ut_err_sys(err, CACT_ESANDBOX, errno, "fsmount proc");
	close(fs);
	return mnt;
}

int sbx_root_build(const struct sbx_root_spec *spec, int *host_tree, int *procfd,
		   struct cact_error *err)
{
	static const char *const dirs[] = {"input", "output", "tmp", "dev", "etc", "usr"};
	uint64_t ro = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
	int mnt = -1, root = -1, rc = 0;
	size_t i;

	*host_tree = -1;
	*procfd = -1;
	/* Nothing mounted from here on may propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return ut_err_sys(err, CACT_ESANDBOX, errno, "cannot make / private");
	/*
	 * A detached copy of the whole host tree: executions open their mount
	 * sources in it (by path, without following symlinks) after the zygote
	 * has left the host's root behind.
	 */
	*host_tree = open_tree(AT_FDCWD, "/", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (*host_tree < 0)
		return ut_err_sys(err, CACT_ESANDBOX, errno, "cannot copy the host mount tree");
	/* Mounting a procfs needs a fully visible one in the namespace: do it before pivot_root. */
	*procfd = open_proc(err);
	if (*procfd < 0) {
		rc = *procfd;
		*procfd = -1;
		goto out;
	}

	mnt = sbx_tmpfs(4 << 20, 4096, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
			err);
	if (mnt < 0) {
		rc = mnt;
		goto out;
	}
	if (move_mount(mnt, "", AT_FDCWD, STAGE, MOVE_MOUNT_F_EMPTY_PATH)) {
		rc = ut_err_sys(err, CACT_ESANDBOX, errno, "cannot attach the new root at " STAGE);
		goto out;
	}
	root = open(STAGE, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0) {
		rc = ut_err_sys(err, CACT_ESANDBOX, errno, "cannot open the new root");
		goto out;
	}
	for (i = 0; i < UT_ARRAY_SIZE(dirs); i++) {
		if (mkdirat(root, dirs[i], 0755)) {
			rc = ut_err_sys(err, CACT_ESANDBOX, errno, "cannot create /%s", dirs[i]);
			goto out;
		}
	}
	if ((rc = put_file(root, "etc/passwd", passwd, err)) ||
	    (rc = put_file(root, "etc/group", group, err)))
		goto out;
	if (symlinkat("usr/lib", root, "lib")) {
		rc = ut_err_sys(err, CACT_ESANDBOX, errno, "cannot create /lib");
		goto out;
	}
	for (i = 0; i < spec->n_ro_paths; i++)
		if ((rc = bind_same(*host_tree, root, spec->ro_paths[i], ro, err)))
			goto out;
	/* Device nodes keep working through a bind; they must not gain exec or suid. */
	for (i = 0; i < UT_ARRAY_SIZE(devices); i++)
		if ((rc = bind_same(*host_tree, root, devices[i], MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
				    err)))
			goto out;
out:
	if (rc) {
		ut_close(host_tree);
		ut_close(procfd);
	}
	ut_close(&mnt);
	ut_close(&root);
	return rc;
}

int sbx_root_enter(struct cact_error *err)
{
	struct mount_attr ma = {.attr_set = MOUNT_ATTR_RDONLY};

	/*
	 * pivot_root(".", ".") stacks the old root on top of the new one;
	 * detaching it leaves only the new root. No path of the host is
	 * reachable afterwards except through the detached host-tree fd.
	 */
	if (chdir(STAGE))
		return ut_err_sys(err, CACT_ESANDBOX, errno, "chdir " STAGE);
	if (syscall(SYS_pivot_root, ".", "."))
		return ut_err_sys(err, CACT_ESANDBOX, errno, "pivot_root");
	if (umount2(".", MNT_DETACH))
		return ut_err_sys(err, CACT_ESANDBOX, errno, "cannot detach the old root");
	if (chdir("/"))
		return ut_err_sys(err, CACT_ESANDBOX, errno, "chdir /");
	if (mount_setattr(AT_FDCWD, "/", 0, &ma, sizeof(ma)))
		return ut_err_sys(err, CACT_ESANDBOX, errno, "cannot make / read-only");
	return 0;
}
