/* SPDX-License-Identifier: MIT */
/*
 * Collecting /output. Runs only after every process of the execution is
 * dead, through the fd of the execution's own tmpfs, so nothing can change
 * under it. Every name is opened relative to its folder's fd with O_NOFOLLOW;
 * only regular files with a single link are read.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/buf.h"
#include "../util/text.h"
#include "../util/util.h"
#include "rt.h"

#define MAX_SKIPPED 256

struct walk {
	const struct rt_harvest_caps *caps;
	struct cact_result *r;
	uint64_t bytes;
	size_t cap_files;
	int over; /* a cap was exceeded */
	int oom;
};

static void skip(struct walk *w, const char *path, const char *why)
{
	char **grown;
	char *line;
	size_t n;

	if (w->r->n_skipped >= MAX_SKIPPED)
		return;
	n = strlen(path) + strlen(why) + 3;
	line = malloc(n);
	if (!line) {
		w->oom = 1;
		return;
	}
	ut_snprintf(line, n, "%s: %s", path, why);
	grown = realloc(w->r->skipped, (w->r->n_skipped + 1) * sizeof(*grown));
	if (!grown) {
		free(line);
		w->oom = 1;
		return;
	}
	w->r->skipped = grown;
	w->r->skipped[w->r->n_skipped++] = line;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void take_file(struct walk *w, int dirfd, const char *name, const char *path,
		      const struct stat *st)
{
	struct rt_file *f;
	unsigned char *data = NULL;
	ssize_t got;
	int fd;

	if (w->r->n_files >= w->caps->max_files) {
		w->over = 1;
		skip(w, path, "over the file count cap");
		return;
	}
	if ((uint64_t)st->st_size > w->caps->max_bytes - w->bytes) {
		w->over = 1;
		skip(w, path, "over the output byte cap");
		return;
	}
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		skip(w, path, "cannot be opened");
		return;
	}
	data = malloc((size_t)st->st_size + 1);
	if (!data) {
		w->oom = 1;
		close(fd);
		return;
	}
	got = ut_read_full(fd, data, (size_t)st->st_size);
	close(fd);
	if (got != (ssize_t)st->st_size) {
		free(data);
		skip(w, path, "changed while being read");
		return;
	}
	if (w->r->n_files == w->cap_files) {
		size_t cap = w->cap_files ? w->cap_files * 2 : 8;
		struct rt_file *grown = realloc(w->r->files, cap * sizeof(*grown));

		if (!grown) {
			free(data);
			w->oom = 1;
			return;
		}
		w->r->files = grown;
		w->cap_files = cap;
	}
	f = &w->r->files[w->r->n_files];
	f->path = strdup(path);
	if (!f->path) {
		free(data);
		w->oom = 1;
		return;
	}
	f->media_type = ut_media_type(name);
	f->data = data;
	f->size = (size_t)st->st_size;
	w->bytes += f->size;
	w->r->n_files++;
}

static void walk_dir(struct walk *w, int dirfd, const char *prefix, uint64_t depth)
{
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	DIR *d;
	int fd = dup(dirfd);

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		skip(w, prefix, "folder cannot be read");
		return;
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			size_t c = cap ? cap * 2 : 32;
			char **g = realloc(names, c * sizeof(*g));

			if (!g) {
				w->oom = 1;
				break;
			}
			names = g;
			cap = c;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			w->oom = 1;
			break;
		}
		n++;
	}
	closedir(d);
	/* Sorted, so that results do not depend on the file system's order. */
	if (n > 1)
		qsort(names, n, sizeof(*names), by_name);
	for (i = 0; i < n && !w->oom; i++) {
		struct stat st;
		char *path;
		size_t len = strlen(prefix) + strlen(names[i]) + 2;

		path = malloc(len);
		if (!path) {
			w->oom = 1;
			break;
		}
		ut_snprintf(path, len, "%s/%s", prefix, names[i]);
		if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW)) {
			skip(w, path, "cannot be examined");
		} else if (S_ISDIR(st.st_mode)) {
			/* depth counts folders below /output: 1 allows /output/a/file. */
			if (depth + 1 > w->caps->max_depth) {
				w->over = 1;
				skip(w, path, "deeper than the folder depth cap");
			} else {
				int sub = openat(dirfd, names[i],
						 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

				if (sub < 0) {
					skip(w, path, "folder cannot be opened");
				} else {
					walk_dir(w, sub, path, depth + 1);
					close(sub);
				}
			}
		} else if (S_ISLNK(st.st_mode)) {
			skip(w, path, "symbolic link, not followed");
		} else if (!S_ISREG(st.st_mode)) {
			skip(w, path,
			     S_ISFIFO(st.st_mode)   ? "FIFO, not read"
			     : S_ISSOCK(st.st_mode) ? "socket, not read"
						    : "device node, not read");
		} else if (st.st_nlink > 1) {
			skip(w, path, "hard link, not read");
		} else {
			take_file(w, dirfd, names[i], path, &st);
		}
		free(path);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int file_by_path(const void *a, const void *b)
{
	return strcmp(((const struct rt_file *)a)->path, ((const struct rt_file *)b)->path);
}

int rt_harvest(int dirfd, const struct rt_harvest_caps *caps, struct cact_result *r)
{
	struct walk w = {.caps = caps, .r = r};

	walk_dir(&w, dirfd, "/output", 0);
	/* By full path ("a-b" before "a/x"), not folder by folder. */
	if (r->n_files > 1)
		qsort(r->files, r->n_files, sizeof(*r->files), file_by_path);
	if (r->n_skipped > 1)
		qsort(r->skipped, r->n_skipped, sizeof(*r->skipped), by_name);
	if (w.oom)
		return CACT_ENOMEM;
	return w.over ? 1 : 0;
}
