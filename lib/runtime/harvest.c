/* SPDX-License-Identifier: MIT */
/*
 * Collecting /output. Runs only once nothing of the execution can run
 * (every thread stopped, or dead), through the fd of the execution's own
 * tmpfs, so nothing can change under it. For a session's run, entries an
 * earlier run left unchanged are left out (rt_harvest_since). Every name is opened relative to its folder's fd with O_NOFOLLOW;
 * only regular files with a single link are read.
 *
 * Names that are not valid UTF-8 are skipped, never returned: a JSON string
 * or an MCP item cannot carry them, and repairing them would give two files
 * the same path. Their skipped line shows each bad byte as \xHH (and a
 * backslash as \\), so two such names never read the same.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../util/buf.h"
#include "../util/text.h"
#include "../util/util.h"
#include "rt.h"

#define MAX_SKIPPED 256

struct walk {
	const struct rt_harvest_caps *caps;
	const struct rt_seen *before; /* a session's last run: unchanged entries are left out */
	struct rt_seen *after;	      /* every entry seen, for the next run */
	struct cact_result *r;
	uint64_t bytes;
	size_t cap_files;
	int over; /* a cap was exceeded */
	int oom;
	/* getdents64's, for the whole walk: a folder's names are copied before its subfolders'. */
	char ents[8192];
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

/*
 * prefix + "/" + name with the bytes of name that are not UTF-8 written as
 * \xHH and backslashes doubled: one line per name, distinct for distinct
 * names. Owned; NULL when out of memory.
 */
static char *escaped_path(const char *prefix, const char *name)
{
	static const char hex[] = "0123456789abcdef";
	size_t len = strlen(name), o = strlen(prefix), i = 0, n;
	char *out = malloc(o + 1 + 4 * len + 1);

	if (!out)
		return NULL;
	memcpy(out, prefix, o);
	out[o++] = '/';
	while (i < len) {
		if (name[i] == '\\') {
			memcpy(out + o, "\\\\", 2);
			o += 2;
			i++;
			continue;
		}
		/* The shortest valid prefix is the character; none within 4 bytes: a bad byte. */
		for (n = 1; n <= 4 && i + n <= len; n++)
			if (ut_utf8_valid(name + i, n))
				break;
		if (n <= 4 && i + n <= len) {
			memcpy(out + o, name + i, n);
			o += n;
			i += n;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[(unsigned char)name[i] >> 4];
			out[o++] = hex[(unsigned char)name[i] & 15];
			i++;
		}
	}
	out[o] = '\0';
	return out;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void rt_seen_clear(struct rt_seen *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i].path);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int seen_by_path(const void *key, const void *e)
{
	return strcmp(key, ((const struct rt_seen_entry *)e)->path);
}

/*
 * Records path in w->after and says whether w->before holds it unchanged:
 * same inode, size, mode and times (any write moves the change time).
 */
static int unchanged(struct walk *w, const char *path, const struct stat *st)
{
	const struct rt_seen_entry *old = NULL;
	struct rt_seen_entry *e;

	if (w->after) {
		if (w->after->n == w->after->cap) {
			size_t cap = w->after->cap ? w->after->cap * 2 : 16;
			struct rt_seen_entry *g = realloc(w->after->v, cap * sizeof(*g));

			if (!g) {
				w->oom = 1;
				return 0;
			}
			w->after->v = g;
			w->after->cap = cap;
		}
		e = &w->after->v[w->after->n];
		e->path = strdup(path);
		if (!e->path) {
			w->oom = 1;
			return 0;
		}
		e->dev = st->st_dev;
		e->ino = st->st_ino;
		e->size = st->st_size;
		e->mode = st->st_mode;
		e->mtime = st->st_mtim;
		e->ctime = st->st_ctim;
		w->after->n++;
	}
	if (w->before && w->before->n)
		old = bsearch(path, w->before->v, w->before->n, sizeof(*w->before->v),
			      seen_by_path);
	return old && old->dev == st->st_dev && old->ino == st->st_ino &&
	       old->size == st->st_size && old->mode == st->st_mode &&
	       old->mtime.tv_sec == st->st_mtim.tv_sec &&
	       old->mtime.tv_nsec == st->st_mtim.tv_nsec &&
	       old->ctime.tv_sec == st->st_ctim.tv_sec && old->ctime.tv_nsec == st->st_ctim.tv_nsec;
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

/*
 * The names in a folder, read with getdents64 straight from dirfd (its
 * offset rewound first: a session walks its /output again), where
 * fdopendir would add an fstat and two fcntls. The fds walked are the
 * host's own: the guest closed its copy of /output's before the code ran.
 */
static void walk_dir(struct walk *w, int dirfd, const char *prefix, uint64_t depth)
{
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	long got = 0, off = 0;

	if (lseek(dirfd, 0, SEEK_SET) < 0) {
		skip(w, prefix, "folder cannot be read");
		return;
	}
	for (;;) {
		struct dirent64 *de;

		if (off >= got) {
			got = syscall(SYS_getdents64, dirfd, w->ents, sizeof(w->ents));
			off = 0;
			if (got < 0)
				skip(w, prefix, "folder cannot be read");
			if (got <= 0)
				break;
		}
		de = (struct dirent64 *)(w->ents + off);
		off += de->d_reclen;
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
		if (!ut_utf8_valid(names[i], strlen(names[i]))) {
			char *shown = escaped_path(prefix, names[i]);

			if (!shown) {
				free(path);
				w->oom = 1;
				break;
			}
			skip(w, shown, "name is not valid UTF-8");
			free(shown);
		} else if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW)) {
			skip(w, path, "cannot be examined");
		} else if (!S_ISDIR(st.st_mode) && unchanged(w, path, &st)) {
			/* A session's earlier run left it as it is: not this run's. */
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

static int seen_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rt_seen_entry *)a)->path,
		      ((const struct rt_seen_entry *)b)->path);
}

int rt_harvest(int dirfd, const struct rt_harvest_caps *caps, struct cact_result *r)
{
	return rt_harvest_since(dirfd, caps, r, NULL, NULL);
}

int rt_harvest_since(int dirfd, const struct rt_harvest_caps *caps, struct cact_result *r,
		     const struct rt_seen *before, struct rt_seen *after)
{
	struct walk w = {.caps = caps, .before = before, .after = after, .r = r};

	if (after)
		rt_seen_clear(after);
	walk_dir(&w, dirfd, "/output", 0);
	if (after && after->n > 1)
		qsort(after->v, after->n, sizeof(*after->v), seen_cmp);
	/* By full path ("a-b" before "a/x"), not folder by folder. */
	if (r->n_files > 1)
		qsort(r->files, r->n_files, sizeof(*r->files), file_by_path);
	if (r->n_skipped > 1)
		qsort(r->skipped, r->n_skipped, sizeof(*r->skipped), by_name);
	if (w.oom)
		return CACT_ENOMEM;
	return w.over ? 1 : 0;
}
