/* SPDX-License-Identifier: MIT */
/* Collecting /output (rt_harvest), the result's JSON form, and saving files on the host. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common.h"
#include "runtime/rt.h"
#include "util/text.h"

static const unsigned char png_bytes[] = {0x89, 'P',  'N',  'G',  '\r', '\n', 0x1a, '\n',
					  0x00, 0x00, 0x00, 0x0d, 'I',	'H',  'D',  'R'};

/* Writes len bytes into dir/name (creating folders). */
static void put(const char *dir, const char *name, const void *data, size_t len)
{
	char path[PATH_MAX];
	int fd;

	t_write(dir, name, "");
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void path_of(char *buf, size_t size, const char *dir, const char *name)
{
	ck_assert_int_lt(snprintf(buf, size, "%s/%s", dir, name), (int)size);
}

/* Reads dir/name whole into a new buffer; NULL when it cannot be opened. */
static char *slurp(const char *dir, const char *name, size_t *len)
{
	char path[PATH_MAX];
	struct stat st;
	char *buf;
	int fd;

	path_of(path, sizeof(path), dir, name);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	ck_assert_int_eq(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	ck_assert_int_eq(read(fd, buf, (size_t)st.st_size), st.st_size);
	buf[st.st_size] = '\0';
	close(fd);
	if (len)
		*len = (size_t)st.st_size;
	return buf;
}

static void assert_content(const char *dir, const char *name, const char *want)
{
	size_t len;
	char *got = slurp(dir, name, &len);

	ck_assert_msg(got != NULL, "%s/%s cannot be read: %s", dir, name, strerror(errno));
	ck_assert_msg(len == strlen(want) && memcmp(got, want, len) == 0,
		      "%s/%s holds \"%s\", expected \"%s\"", dir, name, got, want);
	free(got);
}

/* Opens dir as the harvest root. */
static int open_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	return fd;
}

/* Harvests dir with the caps into a fresh result; rc in *rc. */
static struct cact_result *harvest(const char *dir, uint64_t files, uint64_t bytes, uint64_t depth,
				   int *rc)
{
	struct rt_harvest_caps caps = {.max_files = files, .max_bytes = bytes, .max_depth = depth};
	struct cact_result *r = rt_result_new();
	int fd = open_dir(dir);

	ck_assert_ptr_nonnull(r);
	*rc = rt_harvest(fd, &caps, r);
	close(fd);
	return r;
}

static struct cact_result *harvest_default(const char *dir, int *rc)
{
	return harvest(dir, 1000, 64u << 20, 16, rc);
}

/* Index of the file at path, or -1. */
static long find_file(const struct cact_result *r, const char *path)
{
	size_t i;

	for (i = 0; i < r->n_files; i++)
		if (strcmp(r->files[i].path, path) == 0)
			return (long)i;
	return -1;
}

/* The skipped line for path ("path: reason"), or NULL. */
static const char *find_skipped(const struct cact_result *r, const char *path)
{
	size_t i, n = strlen(path);

	for (i = 0; i < r->n_skipped; i++)
		if (strncmp(r->skipped[i], path, n) == 0 && r->skipped[i][n] == ':')
			return r->skipped[i];
	return NULL;
}

static void assert_skipped(const struct cact_result *r, const char *path, const char *reason)
{
	const char *line = find_skipped(r, path);

	ck_assert_msg(line != NULL, "%s is not listed as skipped", path);
	ck_assert_msg(strstr(line, reason) != NULL, "skipped \"%s\" does not say \"%s\"", line,
		      reason);
}

static void assert_file(const struct cact_result *r, const char *path, const void *data,
			size_t size, const char *media)
{
	long i = find_file(r, path);

	ck_assert_msg(i >= 0, "%s was not harvested", path);
	ck_assert_uint_eq(r->files[i].size, size);
	ck_assert_msg(memcmp(r->files[i].data, data, size) == 0, "%s: bytes differ", path);
	ck_assert_str_eq(r->files[i].media_type, media);
}

static void assert_sorted(const struct cact_result *r)
{
	size_t i;

	for (i = 1; i < r->n_files; i++)
		ck_assert_msg(strcmp(r->files[i - 1].path, r->files[i].path) < 0,
			      "files out of order: %s before %s", r->files[i - 1].path,
			      r->files[i].path);
}

/* A unix socket bound at dir/name (the fd is closed, the node stays). */
static void make_socket(const char *dir, const char *name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_lt(snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, name),
			 (int)sizeof(sa.sun_path));
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
}

/* The fake /output of most tests. */
static char *fake_output(void)
{
	char *dir = t_tmpdir();
	char a[PATH_MAX], b[PATH_MAX];

	t_write(dir, "a.txt", "hello\n");
	t_write(dir, "b.csv", "x,y\n1,2\n");
	put(dir, "img.png", png_bytes, sizeof(png_bytes));
	t_write(dir, "d/c.json", "{\"k\": [1, 2]}");
	t_write(dir, "d/e/deep.txt", "deep down\n");
	t_write(dir, "empty.txt", "");
	t_write(dir, "noext", "raw");
	path_of(a, sizeof(a), dir, "link");
	ck_assert_int_eq(symlink("/etc/passwd", a), 0);
	path_of(a, sizeof(a), dir, "dirlink");
	ck_assert_int_eq(symlink("/etc", a), 0);
	t_write(dir, "hl1", "linked\n");
	path_of(a, sizeof(a), dir, "hl1");
	path_of(b, sizeof(b), dir, "hl2");
	ck_assert_int_eq(link(a, b), 0);
	path_of(a, sizeof(a), dir, "fifo");
	ck_assert_int_eq(mkfifo(a, 0644), 0);
	make_socket(dir, "sock");
	return dir;
}

START_TEST(harvest_regular_files)
{
	char *dir = fake_output();
	struct cact_result *r;
	int rc;

	r = harvest_default(dir, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(r->n_files, 7);
	ck_assert_str_eq(r->files[0].path, "/output/a.txt");
	ck_assert_str_eq(r->files[1].path, "/output/b.csv");
	ck_assert_str_eq(r->files[2].path, "/output/d/c.json");
	ck_assert_str_eq(r->files[3].path, "/output/d/e/deep.txt");
	ck_assert_str_eq(r->files[4].path, "/output/empty.txt");
	ck_assert_str_eq(r->files[5].path, "/output/img.png");
	ck_assert_str_eq(r->files[6].path, "/output/noext");
	assert_sorted(r);
	assert_file(r, "/output/a.txt", "hello\n", 6, "text/plain");
	assert_file(r, "/output/b.csv", "x,y\n1,2\n", 8, "text/csv");
	assert_file(r, "/output/img.png", png_bytes, sizeof(png_bytes), "image/png");
	assert_file(r, "/output/d/c.json", "{\"k\": [1, 2]}", 13, "application/json");
	assert_file(r, "/output/d/e/deep.txt", "deep down\n", 10, "text/plain");
	assert_file(r, "/output/empty.txt", "", 0, "text/plain");
	assert_file(r, "/output/noext", "raw", 3, "application/octet-stream");
	/* The public accessors see the same. */
	{
		struct cact_file f;

		ck_assert_uint_eq(cact_result_file_count(r), 7);
		ck_assert_int_eq(cact_result_file(r, 5, &f), 0);
		ck_assert_str_eq(f.path, "/output/img.png");
		ck_assert_str_eq(f.media_type, "image/png");
		ck_assert_uint_eq(f.size, sizeof(png_bytes));
		ck_assert(memcmp(f.data, png_bytes, sizeof(png_bytes)) == 0);
		ck_assert_int_eq(cact_result_file(r, 7, &f), CACT_EINVAL);
	}
	cact_result_free(r);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(harvest_skips_special_entries)
{
	char *dir = fake_output();
	struct cact_result *r;
	size_t i;
	int rc;

	alarm(20); /* the FIFO must never be opened for reading */
	r = harvest_default(dir, &rc);
	alarm(0);
	ck_assert_int_eq(rc, 0);
	assert_skipped(r, "/output/link", "symbolic link");
	assert_skipped(r, "/output/dirlink", "symbolic link");
	assert_skipped(r, "/output/hl1", "hard link");
	assert_skipped(r, "/output/hl2", "hard link");
	assert_skipped(r, "/output/fifo", "FIFO");
	assert_skipped(r, "/output/sock", "socket");
	ck_assert_uint_eq(r->n_skipped, 6);
	ck_assert_uint_eq(cact_result_skipped_count(r), 6);
	ck_assert_ptr_null(cact_result_skipped(r, 6));
	for (i = 0; i < r->n_skipped; i++)
		ck_assert_str_eq(cact_result_skipped(r, i), r->skipped[i]);
	/* Nothing was read through the links: no file holds passwd's text or /etc's files. */
	ck_assert_int_lt(find_file(r, "/output/link"), 0);
	ck_assert_int_lt(find_file(r, "/output/hl1"), 0);
	ck_assert_int_lt(find_file(r, "/output/hl2"), 0);
	ck_assert_int_lt(find_file(r, "/output/fifo"), 0);
	for (i = 0; i < r->n_files; i++) {
		ck_assert_ptr_null(strstr(r->files[i].path, "dirlink"));
		ck_assert_ptr_null(memmem(r->files[i].data, r->files[i].size, "root:", 5));
	}
	cact_result_free(r);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(harvest_fifo_with_writer_does_not_block)
{
	char *dir = t_tmpdir();
	char fifo[PATH_MAX];
	struct cact_result *r;
	int rc, wfd;

	path_of(fifo, sizeof(fifo), dir, "pipe.txt");
	ck_assert_int_eq(mkfifo(fifo, 0644), 0);
	/* Held open read-write so that an open for reading would succeed and block in read. */
	wfd = open(fifo, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(wfd, 0);
	t_write(dir, "z.txt", "z");
	alarm(20);
	r = harvest_default(dir, &rc);
	alarm(0);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(r->n_files, 1);
	ck_assert_str_eq(r->files[0].path, "/output/z.txt");
	assert_skipped(r, "/output/pipe.txt", "FIFO");
	close(wfd);
	cact_result_free(r);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(harvest_sorted_by_full_path)
{
	char *dir = t_tmpdir();
	struct cact_result *r;
	int rc;

	/* '-' < '.' < '/' in bytes: folder "a" sorts after "a-b" and "a.txt" as a path. */
	t_write(dir, "a/x", "1");
	t_write(dir, "a-b", "2");
	t_write(dir, "a.txt", "3");
	t_write(dir, "B", "4");
	t_write(dir, "a0", "5");
	r = harvest_default(dir, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(r->n_files, 5);
	ck_assert_str_eq(r->files[0].path, "/output/B");
	ck_assert_str_eq(r->files[1].path, "/output/a-b");
	ck_assert_str_eq(r->files[2].path, "/output/a.txt");
	ck_assert_str_eq(r->files[3].path, "/output/a/x");
	ck_assert_str_eq(r->files[4].path, "/output/a0");
	assert_sorted(r);
	cact_result_free(r);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(harvest_byte_cap)
{
	char *dir = t_tmpdir();
	char big[200];
	struct cact_result *r;
	int rc;

	memset(big, 'B', sizeof(big));
	t_write(dir, "a.txt", "0123456789");
	put(dir, "b.bin", big, sizeof(big));
	t_write(dir, "c.txt", "abcdefghij");
	r = harvest(dir, 1000, 100, 16, &rc);
	ck_assert_int_eq(rc, 1);
	ck_assert_uint_eq(r->n_files, 2);
	ck_assert_str_eq(r->files[0].path, "/output/a.txt");
	ck_assert_str_eq(r->files[1].path, "/output/c.txt");
	assert_skipped(r, "/output/b.bin", "cap");
	ck_assert_uint_eq(r->n_skipped, 1);
	cact_result_free(r);

	/* Exactly the cap in total is within it. */
	r = harvest(dir, 1000, 220, 16, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(r->n_files, 3);
	cact_result_free(r);
	r = harvest(dir, 1000, 219, 16, &rc);
	ck_assert_int_eq(rc, 1);
	ck_assert_uint_eq(r->n_files, 2);
	assert_skipped(r, "/output/c.txt", "cap");
	cact_result_free(r);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(harvest_count_cap)
{
	char *dir = t_tmpdir();
	struct cact_result *r;
	int rc;

	t_write(dir, "f1.txt", "1");
	t_write(dir, "f2.txt", "2");
	t_write(dir, "f3.txt", "3");
	t_write(dir, "f4.txt", "4");
	t_write(dir, "f5.txt", "5");
	r = harvest(dir, 3, 1 << 20, 16, &rc);
	ck_assert_int_eq(rc, 1);
	ck_assert_uint_eq(r->n_files, 3);
	ck_assert_str_eq(r->files[0].path, "/output/f1.txt");
	ck_assert_str_eq(r->files[1].path, "/output/f2.txt");
	ck_assert_str_eq(r->files[2].path, "/output/f3.txt");
	assert_skipped(r, "/output/f4.txt", "cap");
	assert_skipped(r, "/output/f5.txt", "cap");
	ck_assert_uint_eq(r->n_skipped, 2);
	cact_result_free(r);
	/* Exactly the cap is within it. */
	r = harvest(dir, 5, 1 << 20, 16, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(r->n_files, 5);
	ck_assert_uint_eq(r->n_skipped, 0);
	cact_result_free(r);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(harvest_depth_cap)
{
	char *dir = t_tmpdir();
	struct cact_result *r;
	size_t i;
	int rc;

	t_write(dir, "top.txt", "t");
	t_write(dir, "l1/f1.txt", "1");
	t_write(dir, "l1/l2/f2.txt", "2");
	t_write(dir, "l1/l2/l3/f3.txt", "3");
	t_write(dir, "l1/l2/l3/l4/f4.txt", "4");
	t_write(dir, "l1/l2/l3/l4/l5/l6/l7/l8/l9/l10/f10.txt", "10");
	r = harvest(dir, 1000, 1 << 20, 3, &rc);
	ck_assert_int_eq(rc, 1);
	ck_assert_int_ge(find_file(r, "/output/top.txt"), 0);
	ck_assert_int_ge(find_file(r, "/output/l1/f1.txt"), 0);
	ck_assert_int_ge(find_file(r, "/output/l1/l2/f2.txt"), 0);
	ck_assert_int_lt(find_file(r, "/output/l1/l2/l3/l4/f4.txt"), 0);
	for (i = 0; i < r->n_files; i++)
		ck_assert_ptr_null(strstr(r->files[i].path, "/l4/"));
	/* One folder is reported as over the cap, and nothing below it. */
	ck_assert_uint_eq(r->n_skipped, 1);
	ck_assert_ptr_nonnull(strstr(r->skipped[0], "cap"));
	ck_assert_ptr_nonnull(strstr(r->skipped[0], "/output/l1/l2/l3"));
	cact_result_free(r);
	/* A generous cap takes everything. */
	r = harvest(dir, 1000, 1 << 20, 16, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(r->n_files, 6);
	assert_file(r, "/output/l1/l2/l3/l4/l5/l6/l7/l8/l9/l10/f10.txt", "10", 2, "text/plain");
	cact_result_free(r);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(harvest_empty_output)
{
	char *dir = t_tmpdir();
	struct cact_result *r;
	int rc;

	r = harvest_default(dir, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(r->n_files, 0);
	ck_assert_uint_eq(r->n_skipped, 0);
	cact_result_free(r);
	t_rmtree(dir);
	free(dir);
}
END_TEST

/* Replaces r's stdout and stderr with copies of the given bytes. */
static void set_streams(struct cact_result *r, const char *out, size_t out_len, const char *err,
			size_t err_len)
{
	free(r->out);
	free(r->err);
	r->out = malloc(out_len + 1);
	r->err = malloc(err_len + 1);
	memcpy(r->out, out, out_len);
	r->out[out_len] = '\0';
	memcpy(r->err, err, err_len);
	r->err[err_len] = '\0';
	r->out_len = out_len;
	r->err_len = err_len;
}

static json_t *to_json(const struct cact_result *r)
{
	json_error_t jerr;
	char *text = cact_result_to_json(r);
	json_t *root;

	ck_assert_ptr_nonnull(text);
	root = json_loads(text, JSON_ALLOW_NUL, &jerr);
	ck_assert_msg(root != NULL, "result JSON does not parse: %s\n%s", jerr.text, text);
	ck_assert(json_is_object(root));
	cact_free(text);
	return root;
}

START_TEST(harvest_skips_non_utf8_names)
{
	char *dir = t_tmpdir();
	struct cact_result *r;
	json_t *root, *files, *skipped;
	char *dump;
	size_t i, j;
	int rc;

	/* Two names that a U+FFFD repair would make one, a folder, a backslash, a valid one. */
	t_write(dir, "a\xff", "1");
	t_write(dir, "a\xfe", "2");
	t_write(dir, "b\\\xff", "3");
	t_write(dir, "d\xc3/x.txt", "4");
	t_write(dir, "ok.txt", "5");
	t_write(dir, "caf\xc3\xa9.txt", "6");
	r = harvest_default(dir, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(r->n_files, 2);
	ck_assert_str_eq(r->files[0].path, "/output/caf\xc3\xa9.txt");
	ck_assert_str_eq(r->files[1].path, "/output/ok.txt");
	assert_skipped(r, "/output/a\\xff", "name is not valid UTF-8");
	assert_skipped(r, "/output/a\\xfe", "name is not valid UTF-8");
	assert_skipped(r, "/output/b\\\\\\xff", "name is not valid UTF-8");
	assert_skipped(r, "/output/d\\xc3", "name is not valid UTF-8");
	ck_assert_uint_eq(r->n_skipped, 4);
	for (i = 0; i < r->n_skipped; i++)
		ck_assert_msg(ut_utf8_valid(r->skipped[i], strlen(r->skipped[i])),
			      "skipped line %zu is not UTF-8", i);
	/* The JSON holds every name once: no two entries read the same. */
	root = to_json(r);
	files = json_object_get(root, "files");
	skipped = json_object_get(root, "skipped");
	ck_assert_uint_eq(json_array_size(files), 2);
	ck_assert_uint_eq(json_array_size(skipped), 4);
	for (i = 0; i < json_array_size(skipped); i++)
		for (j = i + 1; j < json_array_size(skipped); j++)
			ck_assert_str_ne(json_string_value(json_array_get(skipped, i)),
					 json_string_value(json_array_get(skipped, j)));
	dump = json_dumps(root, 0);
	ck_assert_ptr_null(strstr(dump, "\xef\xbf\xbd"));
	free(dump);
	json_decref(root);
	cact_result_free(r);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(result_json_keys)
{
	char *dir = fake_output();
	struct cact_result *r;
	json_t *root, *files, *f, *stats, *iso, *skipped;
	size_t i;
	int rc;
	static const char *const keys[] = {
		"status",	    "success", "exit_code", "stdout",  "stderr", "stdout_truncated",
		"stderr_truncated", "error",   "files",	    "skipped", "stats",	 "isolation",
		"contents",	    "network",
	};

	r = harvest_default(dir, &rc);
	ck_assert_int_eq(rc, 0);
	set_streams(r, "2\n", 2, "warn\n", 5);
	r->out_trunc = 1;
	r->status = CACT_STATUS_OK;
	r->exit_code = 0;
	r->stats.wall_us = 12500;
	r->stats.cpu_us = 3000;
	r->stats.peak_rss_kib = 4321;
	r->isolation = strdup("{\"level\":\"full\",\"features\":{\"landlock\":true}}");
	root = to_json(r);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ck_assert_msg(json_object_get(root, keys[i]) != NULL, "key %s missing", keys[i]);
	ck_assert_uint_eq(json_object_size(root), sizeof(keys) / sizeof(keys[0]));
	ck_assert_str_eq(json_string_value(json_object_get(root, "status")), "ok");
	ck_assert(json_is_true(json_object_get(root, "success")));
	ck_assert_int_eq(json_integer_value(json_object_get(root, "exit_code")), 0);
	ck_assert_str_eq(json_string_value(json_object_get(root, "stdout")), "2\n");
	ck_assert_str_eq(json_string_value(json_object_get(root, "stderr")), "warn\n");
	ck_assert(json_is_true(json_object_get(root, "stdout_truncated")));
	ck_assert(json_is_false(json_object_get(root, "stderr_truncated")));
	ck_assert(json_is_null(json_object_get(root, "error")));
	files = json_object_get(root, "files");
	ck_assert_uint_eq(json_array_size(files), 7);
	f = json_array_get(files, 0);
	ck_assert_str_eq(json_string_value(json_object_get(f, "path")), "/output/a.txt");
	ck_assert_str_eq(json_string_value(json_object_get(f, "media_type")), "text/plain");
	ck_assert_int_eq(json_integer_value(json_object_get(f, "size")), 6);
	ck_assert_str_eq(json_string_value(json_object_get(f, "data")), "aGVsbG8K");
	f = json_array_get(files, 4);
	ck_assert_str_eq(json_string_value(json_object_get(f, "path")), "/output/empty.txt");
	ck_assert_int_eq(json_integer_value(json_object_get(f, "size")), 0);
	ck_assert_str_eq(json_string_value(json_object_get(f, "data")), "");
	f = json_array_get(files, 5);
	ck_assert_str_eq(json_string_value(json_object_get(f, "path")), "/output/img.png");
	ck_assert_str_eq(json_string_value(json_object_get(f, "media_type")), "image/png");
	ck_assert_int_eq(json_integer_value(json_object_get(f, "size")), sizeof(png_bytes));
	ck_assert_str_eq(json_string_value(json_object_get(f, "data")), "iVBORw0KGgoAAAANSUhEUg==");
	skipped = json_object_get(root, "skipped");
	ck_assert_uint_eq(json_array_size(skipped), r->n_skipped);
	for (i = 0; i < r->n_skipped; i++)
		ck_assert_str_eq(json_string_value(json_array_get(skipped, i)), r->skipped[i]);
	stats = json_object_get(root, "stats");
	ck_assert(json_is_object(stats));
	ck_assert(json_number_value(json_object_get(stats, "wall_ms")) == 12.5);
	ck_assert(json_number_value(json_object_get(stats, "cpu_ms")) == 3.0);
	ck_assert_int_eq(json_integer_value(json_object_get(stats, "peak_rss_kib")), 4321);
	iso = json_object_get(root, "isolation");
	ck_assert(json_is_object(iso));
	ck_assert_str_eq(json_string_value(json_object_get(iso, "level")), "full");
	json_decref(root);
	cact_result_free(r);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(result_json_python_error)
{
	struct cact_result *r = rt_result_new();
	json_t *root, *error;

	ck_assert_ptr_nonnull(r);
	r->status = CACT_STATUS_PYTHON_ERROR;
	r->exit_code = 1;
	ck_assert_int_eq(
		rt_result_set_error(r, "ZeroDivisionError", "division by zero",
				    "Traceback (most recent call last):\n  File \"<code>\", "
				    "line 1, in <module>\nZeroDivisionError: division by "
				    "zero\n"),
		0);
	root = to_json(r);
	ck_assert_str_eq(json_string_value(json_object_get(root, "status")), "python_error");
	ck_assert(json_is_false(json_object_get(root, "success")));
	ck_assert_int_eq(json_integer_value(json_object_get(root, "exit_code")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(root, "stdout")), "");
	ck_assert(json_is_null(json_object_get(root, "isolation")));
	ck_assert_uint_eq(json_array_size(json_object_get(root, "files")), 0);
	error = json_object_get(root, "error");
	ck_assert(json_is_object(error));
	ck_assert_str_eq(json_string_value(json_object_get(error, "type")), "ZeroDivisionError");
	ck_assert_str_eq(json_string_value(json_object_get(error, "message")), "division by zero");
	ck_assert_ptr_nonnull(
		strstr(json_string_value(json_object_get(error, "traceback")), "File \"<code>\""));
	json_decref(root);
	/* The accessors. */
	ck_assert_str_eq(cact_result_error_type(r), "ZeroDivisionError");
	ck_assert_str_eq(cact_result_error_message(r), "division by zero");
	ck_assert_int_eq(cact_result_exit_code(r), 1);
	ck_assert_int_eq(cact_result_status(r), CACT_STATUS_PYTHON_ERROR);
	cact_result_free(r);
}
END_TEST

START_TEST(result_json_repairs_invalid_utf8)
{
	struct cact_result *r = rt_result_new();
	json_t *root, *s;
	const char out[] = "ok \xff\xfe end \xc0\x80!";
	const char err[] = "a\0b\xed\xa0\x80";

	ck_assert_ptr_nonnull(r);
	set_streams(r, out, sizeof(out) - 1, err, sizeof(err) - 1);
	r->status = CACT_STATUS_TIMEOUT;
	r->exit_code = -1;
	ck_assert_int_eq(rt_result_set_error(r, "timeout", "bad \xff message", NULL), 0);
	root = to_json(r);
	ck_assert_str_eq(json_string_value(json_object_get(root, "stdout")),
			 "ok \xef\xbf\xbd\xef\xbf\xbd end \xef\xbf\xbd\xef\xbf\xbd!");
	s = json_object_get(root, "stderr");
	ck_assert_uint_eq(json_string_length(s), 3 + 9);
	ck_assert(memcmp(json_string_value(s), "a\0b\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 12) ==
		  0);
	ck_assert_str_eq(json_string_value(json_object_get(root, "status")), "timeout");
	ck_assert_int_eq(json_integer_value(json_object_get(root, "exit_code")), -1);
	/* Whatever shape error has, it is valid text. */
	ck_assert_ptr_nonnull(json_object_get(root, "error"));
	json_decref(root);
	/* The raw accessors keep the raw bytes. */
	{
		size_t len;
		int trunc = -1;
		const char *raw = cact_result_stdout(r, &len, &trunc);

		ck_assert_uint_eq(len, sizeof(out) - 1);
		ck_assert(memcmp(raw, out, len) == 0);
		ck_assert_int_eq(trunc, 0);
	}
	cact_result_free(r);
}
END_TEST

/* A result holding the given files (path, text). */
static struct cact_result *result_with(const char *const *paths, const char *const *texts, size_t n)
{
	struct cact_result *r = rt_result_new();
	size_t i;

	ck_assert_ptr_nonnull(r);
	r->files = calloc(n ? n : 1, sizeof(*r->files));
	for (i = 0; i < n; i++) {
		r->files[i].path = strdup(paths[i]);
		r->files[i].media_type = ut_media_type(paths[i]);
		r->files[i].size = strlen(texts[i]);
		r->files[i].data = malloc(r->files[i].size + 1);
		memcpy(r->files[i].data, texts[i], r->files[i].size + 1);
	}
	r->n_files = n;
	return r;
}

START_TEST(save_writes_files_and_folders)
{
	char *src = fake_output(), *base = t_tmpdir();
	char target[PATH_MAX];
	struct cact_error err = {0};
	struct cact_result *r;
	struct stat st;
	size_t len;
	char *png;
	int rc;

	r = harvest_default(src, &rc);
	ck_assert_int_eq(rc, 0);
	/* The target folder is created when missing. */
	path_of(target, sizeof(target), base, "out");
	ck_assert_msg(cact_result_save_files(r, target, 0, &err) == 0, "%s", err.message);
	assert_content(target, "a.txt", "hello\n");
	assert_content(target, "b.csv", "x,y\n1,2\n");
	assert_content(target, "d/c.json", "{\"k\": [1, 2]}");
	assert_content(target, "d/e/deep.txt", "deep down\n");
	assert_content(target, "empty.txt", "");
	assert_content(target, "noext", "raw");
	png = slurp(target, "img.png", &len);
	ck_assert_ptr_nonnull(png);
	ck_assert_uint_eq(len, sizeof(png_bytes));
	ck_assert(memcmp(png, png_bytes, len) == 0);
	free(png);
	ck_assert_int_eq(stat(target, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	/* Only the regular files: nothing for the links, FIFO or socket. */
	{
		char p[PATH_MAX];

		path_of(p, sizeof(p), target, "link");
		ck_assert_int_ne(lstat(p, &st), 0);
		path_of(p, sizeof(p), target, "fifo");
		ck_assert_int_ne(lstat(p, &st), 0);
		path_of(p, sizeof(p), target, "hl1");
		ck_assert_int_ne(lstat(p, &st), 0);
	}
	/* An existing empty target folder is fine too. */
	path_of(target, sizeof(target), base, "existing");
	ck_assert_int_eq(mkdir(target, 0755), 0);
	ck_assert_msg(cact_result_save_files(r, target, 0, &err) == 0, "%s", err.message);
	assert_content(target, "d/e/deep.txt", "deep down\n");
	/* No files: nothing to do, still success. */
	{
		struct cact_result *none = result_with(NULL, NULL, 0);

		path_of(target, sizeof(target), base, "none");
		ck_assert_int_eq(cact_result_save_files(none, target, 0, &err), 0);
		cact_result_free(none);
	}
	ck_assert_int_eq(cact_result_save_files(r, "", 0, &err), CACT_EINVAL);
	ck_assert_int_eq(cact_result_save_files(r, NULL, 0, &err), CACT_EINVAL);
	cact_result_free(r);
	t_rmtree(src);
	t_rmtree(base);
	free(src);
	free(base);
}
END_TEST

START_TEST(save_overwrite_needs_force)
{
	static const char *const paths[] = {"/output/a.txt", "/output/d/b.txt"};
	static const char *const texts[] = {"new", "fresh b"};
	char *base = t_tmpdir();
	struct cact_error err = {0};
	struct cact_result *r = result_with(paths, texts, 2);

	t_write(base, "a.txt", "original, and longer than the new text");
	ck_assert_int_eq(cact_result_save_files(r, base, 0, &err), CACT_EEXIST);
	ck_assert_int_eq(err.code, CACT_EEXIST);
	ck_assert_ptr_nonnull(strstr(err.message, "a.txt"));
	assert_content(base, "a.txt", "original, and longer than the new text");
	/* With the flag: replaced whole (no tail of the old content). */
	ck_assert_msg(cact_result_save_files(r, base, CACT_SAVE_FORCE, &err) == 0, "%s",
		      err.message);
	assert_content(base, "a.txt", "new");
	assert_content(base, "d/b.txt", "fresh b");
	/* Existing folders on the way are reused, existing files still refused. */
	ck_assert_int_eq(cact_result_save_files(r, base, 0, &err), CACT_EEXIST);
	assert_content(base, "a.txt", "new");
	cact_result_free(r);
	t_rmtree(base);
	free(base);
}
END_TEST

START_TEST(save_refuses_symlink_at_file)
{
	static const char *const paths[] = {"/output/a.txt"};
	static const char *const texts[] = {"evil"};
	char *base = t_tmpdir(), *target;
	char victim[PATH_MAX], link_path[PATH_MAX];
	struct cact_error err = {0};
	struct cact_result *r = result_with(paths, texts, 1);
	struct stat st;

	t_write(base, "victim.txt", "precious");
	t_write(base, "target/keep", "k");
	path_of(victim, sizeof(victim), base, "victim.txt");
	ck_assert_int_ge(asprintf(&target, "%s/target", base), 0);
	path_of(link_path, sizeof(link_path), target, "a.txt");
	ck_assert_int_eq(symlink(victim, link_path), 0);
	ck_assert_int_eq(cact_result_save_files(r, target, CACT_SAVE_FORCE, &err), CACT_EINVAL);
	assert_content(base, "victim.txt", "precious");
	ck_assert_int_eq(lstat(link_path, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	cact_result_free(r);
	free(target);
	t_rmtree(base);
	free(base);
}
END_TEST

START_TEST(save_refuses_symlink_at_file_without_force)
{
	static const char *const paths[] = {"/output/a.txt"};
	static const char *const texts[] = {"evil"};
	char *base = t_tmpdir(), *target;
	char victim[PATH_MAX], link_path[PATH_MAX];
	struct cact_error err = {0};
	struct cact_result *r = result_with(paths, texts, 1);
	int rc;

	t_write(base, "victim.txt", "precious");
	t_write(base, "target/keep", "k");
	path_of(victim, sizeof(victim), base, "victim.txt");
	ck_assert_int_ge(asprintf(&target, "%s/target", base), 0);
	path_of(link_path, sizeof(link_path), target, "a.txt");
	ck_assert_int_eq(symlink(victim, link_path), 0);
	/* A symlink in the way, not an existing file that --force would replace. */
	rc = cact_result_save_files(r, target, 0, &err);
	assert_content(base, "victim.txt", "precious");
	ck_assert_msg(rc == CACT_EINVAL, "rc %d (%s), expected CACT_EINVAL", rc, err.message);
	cact_result_free(r);
	free(target);
	t_rmtree(base);
	free(base);
}
END_TEST

START_TEST(save_refuses_symlink_folder_component)
{
	static const char *const paths[] = {"/output/d/x.txt"};
	static const char *const texts[] = {"evil"};
	static const char *const deep_paths[] = {"/output/ok/d/x.txt"};
	char *base = t_tmpdir(), *target, *victim;
	char link_path[PATH_MAX], p[PATH_MAX];
	struct cact_error err = {0};
	struct cact_result *r = result_with(paths, texts, 1);
	struct cact_result *deep = result_with(deep_paths, texts, 1);
	struct stat st;

	t_write(base, "victim/keep", "k");
	t_write(base, "target/ok/keep", "k");
	ck_assert_int_ge(asprintf(&target, "%s/target", base), 0);
	ck_assert_int_ge(asprintf(&victim, "%s/victim", base), 0);
	path_of(link_path, sizeof(link_path), target, "d");
	ck_assert_int_eq(symlink(victim, link_path), 0);
	path_of(link_path, sizeof(link_path), target, "ok/d");
	ck_assert_int_eq(symlink(victim, link_path), 0);
	ck_assert_int_eq(cact_result_save_files(r, target, 0, &err), CACT_EINVAL);
	ck_assert_int_eq(cact_result_save_files(r, target, CACT_SAVE_FORCE, &err), CACT_EINVAL);
	ck_assert_int_eq(cact_result_save_files(deep, target, CACT_SAVE_FORCE, &err), CACT_EINVAL);
	path_of(p, sizeof(p), victim, "x.txt");
	ck_assert_msg(lstat(p, &st) != 0, "a file was written through the symlink");
	cact_result_free(r);
	cact_result_free(deep);
	free(target);
	free(victim);
	t_rmtree(base);
	free(base);
}
END_TEST

START_TEST(save_refuses_symlinked_target)
{
	static const char *const paths[] = {"/output/x.txt"};
	static const char *const texts[] = {"evil"};
	char *base = t_tmpdir(), *victim;
	char link_path[PATH_MAX], p[PATH_MAX];
	struct cact_error err = {0};
	struct cact_result *r = result_with(paths, texts, 1);
	struct stat st;

	t_write(base, "victim/keep", "k");
	ck_assert_int_ge(asprintf(&victim, "%s/victim", base), 0);
	path_of(link_path, sizeof(link_path), base, "target");
	ck_assert_int_eq(symlink(victim, link_path), 0);
	ck_assert_int_eq(cact_result_save_files(r, link_path, 0, &err), CACT_EINVAL);
	ck_assert_int_eq(cact_result_save_files(r, link_path, CACT_SAVE_FORCE, &err), CACT_EINVAL);
	path_of(p, sizeof(p), victim, "x.txt");
	ck_assert_msg(lstat(p, &st) != 0, "a file was written through the symlinked target");
	/* A regular file as the target folder is refused as well. */
	t_write(base, "plain", "p");
	path_of(p, sizeof(p), base, "plain");
	ck_assert_int_eq(cact_result_save_files(r, p, 0, &err), CACT_EINVAL);
	assert_content(base, "plain", "p");
	cact_result_free(r);
	free(victim);
	t_rmtree(base);
	free(base);
}
END_TEST

START_TEST(save_refuses_symlinked_target_trailing_slash)
{
	static const char *const paths[] = {"/output/x.txt"};
	static const char *const texts[] = {"evil"};
	char *base = t_tmpdir(), *victim;
	char link_path[PATH_MAX], p[PATH_MAX];
	struct cact_error err = {0};
	struct cact_result *r = result_with(paths, texts, 1);
	struct stat st;

	/* "target/" still names the symlink "target" as its last component. */
	t_write(base, "victim/keep", "k");
	ck_assert_int_ge(asprintf(&victim, "%s/victim", base), 0);
	path_of(link_path, sizeof(link_path), base, "target");
	ck_assert_int_eq(symlink(victim, link_path), 0);
	path_of(p, sizeof(p), base, "target/");
	ck_assert_int_eq(cact_result_save_files(r, p, 0, &err), CACT_EINVAL);
	path_of(p, sizeof(p), victim, "x.txt");
	ck_assert_msg(lstat(p, &st) != 0, "a file was written through \"target/\"");
	cact_result_free(r);
	free(victim);
	t_rmtree(base);
	free(base);
}
END_TEST

START_TEST(save_fifo_at_target_does_not_hang)
{
	static const char *const paths[] = {"/output/a.txt"};
	static const char *const texts[] = {"data"};
	char *base = t_tmpdir();
	char fifo[PATH_MAX];
	struct cact_error err = {0};
	struct cact_result *r = result_with(paths, texts, 1);
	struct stat st;
	int rc;

	path_of(fifo, sizeof(fifo), base, "a.txt");
	ck_assert_int_eq(mkfifo(fifo, 0644), 0);
	alarm(20);
	ck_assert_int_eq(cact_result_save_files(r, base, 0, &err), CACT_EEXIST);
	rc = cact_result_save_files(r, base, CACT_SAVE_FORCE, &err);
	alarm(0);
	ck_assert_msg(rc < 0, "a FIFO was written to as a file");
	ck_assert_int_eq(lstat(fifo, &st), 0);
	ck_assert(S_ISFIFO(st.st_mode));
	cact_result_free(r);
	t_rmtree(base);
	free(base);
}
END_TEST

START_TEST(save_refuses_bad_paths)
{
	static const char *const bad[] = {
		"/output/../escape.txt", "/etc/passwd", "/output/a//b.txt",
		"/output/./x.txt",	 "/output/",	"/output/d/..",
		"/outputx/y.txt",
	};
	char *base = t_tmpdir(), *target;
	struct cact_error err = {0};
	struct stat st;
	char p[PATH_MAX];
	size_t i;

	ck_assert_int_ge(asprintf(&target, "%s/target", base), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *text = "x";
		struct cact_result *r = result_with(&bad[i], &text, 1);

		ck_assert_msg(cact_result_save_files(r, target, CACT_SAVE_FORCE, &err) ==
				      CACT_EINVAL,
			      "path %s was not refused", bad[i]);
		cact_result_free(r);
	}
	path_of(p, sizeof(p), base, "escape.txt");
	ck_assert_int_ne(lstat(p, &st), 0);
	cact_result_free(NULL);
	free(target);
	t_rmtree(base);
	free(base);
}
END_TEST

/* Fails when a temporary of the save is left in dir. */
static void assert_no_temporaries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		ck_assert_msg(strncmp(de->d_name, ".cact-save-", 11) != 0, "%s/%s was left behind",
			      dir, de->d_name);
	closedir(d);
}

START_TEST(save_force_replaces_name_not_inode)
{
	static const char *const paths[] = {"/output/a.txt"};
	static const char *const texts[] = {"new"};
	char *base = t_tmpdir(), *target = t_fmt("%s/target", base);
	char outside[PATH_MAX], inside[PATH_MAX];
	struct cact_error err = {0};
	struct cact_result *r = result_with(paths, texts, 1);
	struct stat before, after;

	t_write(base, "outside.txt", "precious");
	t_write(base, "target/keep", "k");
	path_of(outside, sizeof(outside), base, "outside.txt");
	path_of(inside, sizeof(inside), target, "a.txt");
	/* A hard link in the folder to a file outside it. */
	ck_assert_int_eq(link(outside, inside), 0);
	ck_assert_int_eq(stat(outside, &before), 0);
	ck_assert_int_eq(cact_result_save_files(r, target, 0, &err), CACT_EEXIST);
	ck_assert_msg(cact_result_save_files(r, target, CACT_SAVE_FORCE, &err) == 0, "%s",
		      err.message);
	assert_content(base, "outside.txt", "precious");
	assert_content(target, "a.txt", "new");
	ck_assert_int_eq(stat(inside, &after), 0);
	ck_assert_msg(after.st_ino != before.st_ino, "the linked inode was written through");
	ck_assert_int_eq(stat(outside, &after), 0);
	ck_assert_uint_eq(after.st_nlink, 1);
	assert_no_temporaries(target);
	cact_result_free(r);
	free(target);
	t_rmtree(base);
	free(base);
}
END_TEST

struct outcomes {
	int code[8];
	size_t calls;
};

static void record(void *user, size_t i, const struct cact_error *err)
{
	struct outcomes *o = user;

	ck_assert_uint_eq(i, o->calls);
	ck_assert(err == NULL || (err->code < 0 && err->message[0]));
	o->code[o->calls++] = err ? err->code : 0;
}

START_TEST(save_keeps_going_after_a_failure)
{
	static const char *const paths[] = {"/output/a.txt", "/output/b.txt", "/output/c/d.txt",
					    "/output/l.txt"};
	static const char *const texts[] = {"new a", "new b", "new d", "new l"};
	char *base = t_tmpdir(), *target = t_fmt("%s/target", base);
	char p[PATH_MAX];
	struct cact_error err = {0};
	struct cact_result *r = result_with(paths, texts, 4);
	struct outcomes o = {0};
	struct stat st;
	int rc;

	t_write(base, "target/a.txt", "old a");
	path_of(p, sizeof(p), target, "l.txt");
	ck_assert_int_eq(symlink("/etc/hostname", p), 0);
	rc = cact_result_save_files_report(r, target, 0, record, &o, &err);
	ck_assert_int_eq(rc, CACT_EEXIST);
	ck_assert_msg(strstr(err.message, "a.txt already exists") &&
			      strstr(err.message, "(and 1 more files not saved)"),
		      "%s", err.message);
	ck_assert_uint_eq(o.calls, 4);
	ck_assert_int_eq(o.code[0], CACT_EEXIST);
	ck_assert_int_eq(o.code[1], 0);
	ck_assert_int_eq(o.code[2], 0);
	ck_assert_int_eq(o.code[3], CACT_EINVAL);
	assert_content(target, "a.txt", "old a");
	assert_content(target, "b.txt", "new b");
	assert_content(target, "c/d.txt", "new d");
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	assert_no_temporaries(target);
	/* The plain call does the same. */
	ck_assert_int_eq(cact_result_save_files(r, target, 0, &err), CACT_EEXIST);
	/* The folder itself failing: nothing written, no per-file call. */
	memset(&o, 0, sizeof(o));
	path_of(p, sizeof(p), target, "a.txt/sub");
	ck_assert_int_eq(cact_result_save_files_report(r, p, 0, record, &o, &err), CACT_ESYS);
	ck_assert_uint_eq(o.calls, 0);
	cact_result_free(r);
	free(target);
	t_rmtree(base);
	free(base);
}
END_TEST

/*
 * Mounts a tmpfs with opts at dir, in a mount namespace of this process
 * alone (each case runs in a forked child). 0, or -1 after printing why the
 * caller skips.
 */
static int private_tmpfs(const char *test, const char *dir, unsigned long flags, const char *opts)
{
	if (unshare(CLONE_NEWNS)) {
		printf("SKIP %s: unshare(CLONE_NEWNS): %s (needs root or CAP_SYS_ADMIN)\n", test,
		       strerror(errno));
		return -1;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("tmpfs", dir, "tmpfs", flags, opts)) {
		printf("SKIP %s: cannot mount a tmpfs at %s: %s\n", test, dir, strerror(errno));
		return -1;
	}
	return 0;
}

START_TEST(save_full_disk_leaves_no_partial_file)
{
	static const char *const paths[] = {"/output/big.bin", "/output/small.txt"};
	static const char *const again[] = {"/output/big.bin"};
	const char *texts[2];
	char *base = t_tmpdir(), *mnt = t_fmt("%s/mnt", base), *target = t_fmt("%s/out", mnt);
	char *big = malloc(1u << 20), p[PATH_MAX];
	struct cact_error err = {0};
	struct cact_result *r, *r2;
	struct stat st;

	memset(big, 'B', (1u << 20) - 1);
	big[(1u << 20) - 1] = '\0';
	texts[0] = big;
	texts[1] = "ok";
	ck_assert_int_eq(mkdir(mnt, 0755), 0);
	if (private_tmpfs("save_full_disk_leaves_no_partial_file", mnt, 0, "size=256k")) {
		free(big);
		free(target);
		free(mnt);
		t_rmtree(base);
		free(base);
		return;
	}
	r = result_with(paths, texts, 2);
	ck_assert_int_eq(cact_result_save_files(r, target, 0, &err), CACT_ESYS);
	ck_assert_msg(strstr(err.message, "big.bin") && strstr(err.message, "ENOSPC"), "%s",
		      err.message);
	path_of(p, sizeof(p), target, "big.bin");
	ck_assert_msg(lstat(p, &st) != 0, "a partial big.bin (%lld bytes) was left",
		      (long long)st.st_size);
	assert_content(target, "small.txt", "ok");
	assert_no_temporaries(target);
	/* Nothing left in the way: a smaller big.bin saves without --force. */
	big[16384] = '\0';
	r2 = result_with(again, texts, 1);
	ck_assert_msg(cact_result_save_files(r2, target, 0, &err) == 0, "%s", err.message);
	path_of(p, sizeof(p), target, "big.bin");
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_size, 16384);
	cact_result_free(r);
	cact_result_free(r2);
	ck_assert_int_eq(umount2(mnt, MNT_DETACH), 0);
	free(big);
	free(target);
	free(mnt);
	t_rmtree(base);
	free(base);
}
END_TEST

START_TEST(save_check_before_running)
{
	char *base = t_tmpdir(), *p = t_fmt("%s/new/deeper", base), *q;
	char link_path[PATH_MAX];
	struct cact_error err = {0};
	struct stat st;

	/* Missing: created, with its parents, and left empty. */
	ck_assert_msg(cact_result_save_check(p, &err) == 0, "%s", err.message);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	assert_no_temporaries(p);
	ck_assert_int_eq(rmdir(p), 0);
	free(p);
	/* Below a regular file, a symlink, empty. */
	t_write(base, "file", "f");
	p = t_fmt("%s/file/sub", base);
	ck_assert_int_eq(cact_result_save_check(p, &err), CACT_ESYS);
	ck_assert_msg(strstr(err.message, "ENOTDIR"), "%s", err.message);
	free(p);
	path_of(link_path, sizeof(link_path), base, "link");
	ck_assert_int_eq(symlink(base, link_path), 0);
	ck_assert_int_eq(cact_result_save_check(link_path, &err), CACT_EINVAL);
	ck_assert_int_eq(cact_result_save_check("", &err), CACT_EINVAL);
	/* A read-only file system: no file can be created (root ignores modes, not this). */
	q = t_fmt("%s/ro", base);
	ck_assert_int_eq(mkdir(q, 0755), 0);
	if (private_tmpfs("save_check_before_running (read-only part)", q, MS_RDONLY, "size=64k") ==
	    0) {
		ck_assert_int_eq(cact_result_save_check(q, &err), CACT_ESYS);
		ck_assert_msg(strstr(err.message, "EROFS"), "%s", err.message);
		ck_assert_int_eq(umount2(q, MNT_DETACH), 0);
	}
	free(q);
	t_rmtree(base);
	free(base);
}
END_TEST

int main(int argc, char **argv)
{
	const struct t_case cases[] = {
		T_CASE(harvest_regular_files, 30),
		T_CASE(harvest_skips_special_entries, 30),
		T_CASE(harvest_fifo_with_writer_does_not_block, 30),
		T_CASE(harvest_sorted_by_full_path, 30),
		T_CASE(harvest_byte_cap, 30),
		T_CASE(harvest_count_cap, 30),
		T_CASE(harvest_depth_cap, 30),
		T_CASE(harvest_empty_output, 30),
		T_CASE(result_json_keys, 30),
		T_CASE(result_json_python_error, 30),
		T_CASE(result_json_repairs_invalid_utf8, 30),
		T_CASE(save_writes_files_and_folders, 30),
		T_CASE(save_overwrite_needs_force, 30),
		T_CASE(save_refuses_symlink_at_file, 30),
		T_CASE(save_refuses_symlink_at_file_without_force, 30),
		T_CASE(save_refuses_symlink_folder_component, 30),
		T_CASE(save_refuses_symlinked_target, 30),
		T_CASE(save_refuses_symlinked_target_trailing_slash, 30),
		T_CASE(save_fifo_at_target_does_not_hang, 30),
		T_CASE(save_refuses_bad_paths, 30),
		T_CASE(harvest_skips_non_utf8_names, 30),
		T_CASE(save_force_replaces_name_not_inode, 30),
		T_CASE(save_keeps_going_after_a_failure, 30),
		T_CASE(save_full_disk_leaves_no_partial_file, 30),
		T_CASE(save_check_before_running, 30),
	};

	return t_main("unit_harvest", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
