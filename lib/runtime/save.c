/* SPDX-License-Identifier: MIT */
/*
 * Writing an execution's files to a host folder. The names come from the
 * sandbox and are hostile: each path component is opened relative to its
 * parent's fd with O_NOFOLLOW, so a symlink already in the target folder
 * cannot redirect a write, and nothing is overwritten without the force flag.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/util.h"
#include "rt.h"

/* Opens (creating if needed) the folder name under dirfd, refusing symlinks. */
static int sub_dir(int dirfd, const char *name, const char *shown, struct cact_error *err)
{
	int fd;

	if (mkdirat(dirfd, name, 0755) && errno != EEXIST)
		return ut_err_sys(err, CACT_ESYS, errno, "cannot create folder %s", shown);
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP || errno == ENOTDIR)
			return ut_err(err, CACT_EINVAL, "%s is a symlink or not a folder", shown);
		return ut_err_sys(err, CACT_ESYS, errno, "cannot open folder %s", shown);
	}
	return fd;
}

static int write_one(int root, const char *dir, const struct rt_file *f, unsigned flags,
		     struct cact_error *err)
{
	char rel[PATH_MAX], shown[PATH_MAX + 64];
	char *part, *next;
	int cur = root, fd = -1, rc = 0, oflags;
	struct stat st;

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
	/* O_NONBLOCK: opening a FIFO someone planted must not hang. */
	oflags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
	oflags |= (flags & CACT_SAVE_FORCE) ? 0 : O_EXCL;
	fd = openat(cur, part, oflags, 0644);
	if (fd < 0) {
		struct stat lst;

		if (errno == EEXIST && fstatat(cur, part, &lst, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(lst.st_mode))
			rc = ut_err(err, CACT_EINVAL, "%s is a symlink; not written", shown);
		else if (errno == EEXIST)
			rc = ut_err(err, CACT_EEXIST,
				    "%s already exists (use --force to overwrite)", shown);
		else if (errno == ELOOP)
			rc = ut_err(err, CACT_EINVAL, "%s is a symlink; not written", shown);
		else
			rc = ut_err_sys(err, CACT_ESYS, errno, "cannot create %s", shown);
		goto out;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		rc = ut_err(err, CACT_EINVAL, "%s is not a regular file; not written", shown);
		goto out;
	}
	if (ftruncate(fd, 0) || fcntl(fd, F_SETFL, 0) || ut_write_full(fd, f->data, f->size))
		rc = ut_err_sys(err, CACT_ESYS, errno, "cannot write %s", shown);
out:
	if (fd >= 0)
		close(fd);
	if (cur != root)
		close(cur);
	return rc;
}

CACT_API int cact_result_save_files(const struct cact_result *r, const char *dir, unsigned flags,
				    struct cact_error *err)
{
	char path[PATH_MAX], *p;
	int root, rc = 0;
	size_t i;

	if (!dir || !*dir)
		return ut_err(err, CACT_EINVAL, "output folder is empty");
	/* The folder's path is the caller's: create what is missing of it. */
	if (ut_snprintf(path, sizeof(path), "%s", dir) < 0)
		return ut_err(err, CACT_EINVAL, "output folder path is too long");
	/* A trailing slash would make open() follow a symlink despite O_NOFOLLOW. */
	for (p = path + strlen(path) - 1; p > path && *p == '/'; p--)
		*p = '\0';
	dir = path;
	for (p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			return ut_err_sys(err, CACT_ESYS, errno, "cannot create %s", path);
		*p = '/';
	}
	if (mkdir(dir, 0755) && errno != EEXIST)
		return ut_err_sys(err, CACT_ESYS, errno, "cannot create %s", dir);
	root = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (root < 0) {
		if (errno == ELOOP || errno == ENOTDIR)
			return ut_err(err, CACT_EINVAL, "%s is a symlink or not a folder", dir);
		return ut_err_sys(err, CACT_ESYS, errno, "cannot open %s", dir);
	}
	for (i = 0; i < r->n_files && rc == 0; i++)
		rc = write_one(root, dir, &r->files[i], flags, err);
	close(root);
	return rc;
}
