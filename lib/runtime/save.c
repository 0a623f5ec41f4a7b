/* SPDX-License-Identifier: MIT */
/*
 * Writing an execution's files to a host folder. The names come from the
 * sandbox and are hostile: each path component is opened relative to its
 * parent's fd with O_NOFOLLOW, so a symlink already in the target folder
 * cannot redirect a write, and nothing is overwritten without the force flag.
 *
 * A file is written whole to a new temporary name in its folder (O_EXCL),
 * flushed with fsync, and only then given its name: renameat2 with
 * RENAME_NOREPLACE (linkat where the file system lacks it) so that an
 * existing name is never replaced, or with the force flag a plain renameat,
 * which replaces the name and never writes through the inode it held (a hard
 * link into the folder keeps its content). On any failure the temporary is
 * unlinked, so a full disk leaves no partial file under a real name. fsync
 * because delayed allocation may report ENOSPC or EIO only there, and a crash
 * after the rename must not leave an empty file behind.
 *
 * One file's failure does not stop the others: every file that can be saved
 * is, and each failure is reported on its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../util/util.h"
#include "rt.h"

#define TMP_TRIES 64

/* Opens (creating if needed) the folder name under dirfd, refusing symlinks. */
static int sub_dir(int dirfd, const char *name, const char *shown, struct cact_error *err)
{
	int fd;

	if (mkdirat(dirfd, name, 0755) && errno != EEXIST)
		return ut_err_sys(err, CACT_ESYS, errno, "cannot create folder %s: mkdirat", shown);
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP || errno == ENOTDIR)
			return ut_err(err, CACT_EINVAL, "%s is a symlink or not a folder", shown);
		return ut_err_sys(err, CACT_ESYS, errno, "cannot open folder %s: openat", shown);
	}
	return fd;
}

/*
 * Creates a new empty file with a name of its own under dirfd, written into
 * name[size]. The fd, or a negative code.
 */
static int tmp_create(int dirfd, char *name, size_t size, const char *dir, struct cact_error *err)
{
	static unsigned counter;
	struct timespec ts;
	int i, fd;

	for (i = 0; i < TMP_TRIES; i++) {
		unsigned n = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ut_snprintf(name, size, ".cact-save-%d-%u-%lx.tmp", (int)getpid(), n,
			    (unsigned long)ts.tv_nsec);
		/* 0644 under the umask: the mode the saved file has always had. */
		fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    0644);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return ut_err_sys(err, CACT_ESYS, errno,
					  "cannot create a file in %s: openat", dir);
	}
	return ut_err(err, CACT_ESYS, "cannot create a file in %s: no free temporary name", dir);
}

/* The error for a name that is already taken in the folder at dirfd. */
static int taken(int dirfd, const char *part, const char *shown, struct cact_error *err)
{
	struct stat st;

	if (fstatat(dirfd, part, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
		return ut_err(err, CACT_EINVAL, "%s is a symlink; not written", shown);
	return ut_err(err, CACT_EEXIST, "%s already exists (use --force to overwrite)", shown);
}

/*
 * Whether the name part may be given to a new file: free, or with the force
 * flag an existing regular file (replaced, not written through). Checked
 * before any byte is written; the rename enforces it again.
 */
static int name_usable(int dirfd, const char *part, const char *shown, unsigned flags,
		       struct cact_error *err)
{
	struct stat st;

	if (fstatat(dirfd, part, &st, AT_SYMLINK_NOFOLLOW)) {
		if (errno == ENOENT)
			return 0;
		return ut_err_sys(err, CACT_ESYS, errno, "cannot examine %s: fstatat", shown);
	}
	if (S_ISLNK(st.st_mode))
		return ut_err(err, CACT_EINVAL, "%s is a symlink; not written", shown);
	if (!(flags & CACT_SAVE_FORCE))
		return ut_err(err, CACT_EEXIST, "%s already exists (use --force to overwrite)",
			      shown);
	if (!S_ISREG(st.st_mode))
		return ut_err(err, CACT_EINVAL, "%s is not a regular file; not written", shown);
	return 0;
}

/* Gives the temporary tmp the name part, replacing an existing one only with the force flag. */
static int put_in_place(int dirfd, const char *tmp, const char *part, const char *shown,
			unsigned flags, struct cact_error *err)
{
	if (flags & CACT_SAVE_FORCE) {
		if (renameat(dirfd, tmp, dirfd, part) == 0)
			return 0;
		if (errno == EISDIR)
			return ut_err(err, CACT_EINVAL, "%s is not a regular file; not written",
				      shown);
		return ut_err_sys(err, CACT_ESYS, errno, "cannot name %s: renameat", shown);
	}
	if (renameat2(dirfd, tmp, dirfd, part, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno == EEXIST)
		return taken(dirfd, part, shown, err);
	if (errno != EINVAL && errno != ENOSYS)
		return ut_err_sys(err, CACT_ESYS, errno, "cannot name %s: renameat2", shown);
	/* No RENAME_NOREPLACE on this file system: a hard link never replaces a name either. */
	if (linkat(dirfd, tmp, dirfd, part, 0)) {
		if (errno == EEXIST)
			return taken(dirfd, part, shown, err);
		return ut_err_sys(err, CACT_ESYS, errno, "cannot name %s: linkat", shown);
	}
	unlinkat(dirfd, tmp, 0);
	return 0;
}

static int write_one(int root, const char *dir, const struct rt_file *f, unsigned flags,
		     struct cact_error *err)
{
	char rel[PATH_MAX], shown[PATH_MAX + 64], tmp[64];
	char *part, *next;
	int cur = root, fd = -1, rc = 0, placed = 0;

	tmp[0] = '\0';
	/* f->path is "/output/a/b": keep "a/b". */
	if (strncmp(f->path, "/output/", 8) != 0 ||
	    ut_snprintf(rel, sizeof(rel), "%s", f->path + 8) < 0)
		return ut_err(err, CACT_EINVAL, "bad output path %s", f->path);
	for (part = rel; (next = strchr(part, '/')); part = next + 1) {
		int sub;

		*next = '\0';
		if (!*part || strcmp(part, ".") == 0 || strcmp(part, "..") == 0) {
			rc = ut_err(err, CACT_EINVAL, "bad output path %s", f->path);
			goto out;
		}
		ut_snprintf(shown, sizeof(shown), "%s/%s", dir, rel);
		sub = sub_dir(cur, part, shown, err);
		*next = '/';
		if (sub < 0) {
			rc = sub;
			goto out;
		}
		if (cur != root)
			close(cur);
		cur = sub;
	}
	ut_snprintf(shown, sizeof(shown), "%s/%s", dir, rel);
	if (!*part || strcmp(part, ".") == 0 || strcmp(part, "..") == 0) {
		rc = ut_err(err, CACT_EINVAL, "bad output path %s", f->path);
		goto out;
	}
	if ((rc = name_usable(cur, part, shown, flags, err)))
		goto out;
	fd = tmp_create(cur, tmp, sizeof(tmp), shown, err);
	if (fd < 0) {
		rc = fd;
		tmp[0] = '\0';
		goto out;
	}
	if (ut_write_full(fd, f->data, f->size)) {
		rc = ut_err_sys(err, CACT_ESYS, errno, "cannot write %s: write", shown);
		goto out;
	}
	if (fsync(fd)) {
		rc = ut_err_sys(err, CACT_ESYS, errno, "cannot write %s: fsync", shown);
		goto out;
	}
	if (close(fd)) {
		fd = -1;
		rc = ut_err_sys(err, CACT_ESYS, errno, "cannot write %s: close", shown);
		goto out;
	}
	fd = -1;
	rc = put_in_place(cur, tmp, part, shown, flags, err);
	placed = rc == 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp[0] && !placed)
		unlinkat(cur, tmp, 0);
	if (cur != root)
		close(cur);
	return rc;
}

/*
 * Opens the host folder dir (O_NOFOLLOW), creating it and its missing
 * parents. The path of what was opened goes to path[size]. The fd, or a
 * negative code.
 */
static int open_root(const char *dir, char *path, size_t size, struct cact_error *err)
{
	char *p;
	int root;

	if (!dir || !*dir)
		return ut_err(err, CACT_EINVAL, "output folder is empty");
	/* The folder's path is the caller's: create what is missing of it. */
	if (ut_snprintf(path, size, "%s", dir) < 0)
		return ut_err(err, CACT_EINVAL, "output folder path is too long");
	/* A trailing slash would make open() follow a symlink despite O_NOFOLLOW. */
	for (p = path + strlen(path) - 1; p > path && *p == '/'; p--)
		*p = '\0';
	for (p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			return ut_err_sys(err, CACT_ESYS, errno, "cannot create %s: mkdir", path);
		*p = '/';
	}
	if (mkdir(path, 0755) && errno != EEXIST)
		return ut_err_sys(err, CACT_ESYS, errno, "cannot create %s: mkdir", path);
	root = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (root < 0) {
		if (errno == ELOOP || errno == ENOTDIR)
			return ut_err(err, CACT_EINVAL, "%s is a symlink or not a folder", path);
		return ut_err_sys(err, CACT_ESYS, errno, "cannot open %s: open", path);
	}
	return root;
}

CACT_API int cact_result_save_check(const char *dir, struct cact_error *err)
{
	char path[PATH_MAX], tmp[64];
	int root, fd;

	root = open_root(dir, path, sizeof(path), err);
	if (root < 0)
		return root;
	fd = tmp_create(root, tmp, sizeof(tmp), path, err);
	if (fd >= 0) {
		close(fd);
		unlinkat(root, tmp, 0);
	}
	close(root);
	return fd < 0 ? fd : 0;
}

CACT_API int cact_result_save_files_report(const struct cact_result *r, const char *dir,
					   unsigned flags, cact_save_fn fn, void *user,
					   struct cact_error *err)
{
	struct cact_error one = {0}, first = {0};
	char path[PATH_MAX];
	size_t i, failed = 0;
	int root;

	root = open_root(dir, path, sizeof(path), err);
	if (root < 0)
		return root;
	for (i = 0; i < r->n_files; i++) {
		int rc = write_one(root, path, &r->files[i], flags, &one);

		if (rc && failed++ == 0)
			first = one;
		if (fn)
			fn(user, i, rc ? &one : NULL);
	}
	close(root);
	if (!failed)
		return 0;
	if (failed == 1)
		return ut_err(err, first.code, "%s", first.message);
	return ut_err(err, first.code, "%s (and %zu more files not saved)", first.message,
		      failed - 1);
}

CACT_API int cact_result_save_files(const struct cact_result *r, const char *dir, unsigned flags,
				    struct cact_error *err)
{
	return cact_result_save_files_report(r, dir, flags, NULL, NULL, err);
}
