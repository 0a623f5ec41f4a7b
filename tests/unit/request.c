/* SPDX-License-Identifier: MIT */
/* The execution request: mount paths, mounts, workspace, code, limits and its frames. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common.h"
#include "runtime/rt.h"

#define MIB (1024ull * 1024)

/* Normalizes path and expects want. */
static void norm_ok(const char *path, const char *want)
{
	struct cact_error err = {0};
	char out[PATH_MAX];
	int rc;

	memset(out, 'X', sizeof(out));
	rc = cact_mount_path_normalize(path, out, sizeof(out), &err);
	ck_assert_msg(rc == 0, "normalize(\"%s\") = %d (%s)", path, rc, err.message);
	ck_assert_msg(strcmp(out, want) == 0, "normalize(\"%s\") = \"%s\", expected \"%s\"", path,
		      out, want);
}

/* Normalizes path, expects code and a message containing needle. */
static void norm_bad(const char *path, int code, const char *needle)
{
	struct cact_error err = {0};
	char out[PATH_MAX];
	int rc = cact_mount_path_normalize(path, out, sizeof(out), &err);

	ck_assert_msg(rc == code, "normalize(\"%s\") = %d, expected %d", path ? path : "(null)", rc,
		      code);
	ck_assert_int_eq(err.code, code);
	ck_assert_msg(err.message[0] != '\0', "normalize(\"%s\"): empty message", path);
	if (needle)
		ck_assert_msg(strstr(err.message, needle),
			      "normalize(\"%s\"): message \"%s\" lacks \"%s\"", path, err.message,
			      needle);
}

START_TEST(normalize_exact)
{
	norm_ok("data.csv", "/input/data.csv");
	norm_ok("/input/x", "/input/x");
	norm_ok("input/x", "/input/x");
	norm_ok("x", "/input/x");
	norm_ok("a\\b\\c", "/input/a/b/c");
	norm_ok("./a//b/.", "/input/a/b");
	norm_ok("/input/input/x", "/input/input/x");
	norm_ok("input/input", "/input/input");
	norm_ok("//input///x//", "/input/x");
	norm_ok("\\input\\x", "/input/x");
	norm_ok("/data/sub/f.txt", "/input/data/sub/f.txt");
	norm_ok("inputs/x", "/input/inputs/x");
	norm_ok("a/./b/./c", "/input/a/b/c");
	norm_ok("...", "/input/...");
	norm_ok("a b/c d", "/input/a b/c d");
}
END_TEST

START_TEST(normalize_refuses_dotdot)
{
	norm_bad("../x", CACT_EINVAL, "must stay within /input");
	norm_bad("a/../b", CACT_EINVAL, "must stay within /input");
	norm_bad("/input/..", CACT_EINVAL, "must stay within /input");
	norm_bad("a\\..\\..\\etc", CACT_EINVAL, "must stay within /input");
	norm_bad("..", CACT_EINVAL, "must stay within /input");
}
END_TEST

START_TEST(normalize_refuses_blank)
{
	norm_bad("", CACT_EINVAL, "blank");
	norm_bad("   ", CACT_EINVAL, "blank");
	norm_bad(" \t\n", CACT_EINVAL, "blank");
	norm_bad(NULL, CACT_EINVAL, NULL);
}
END_TEST

START_TEST(normalize_refuses_nothing_left)
{
	norm_bad("/", CACT_EINVAL, NULL);
	norm_bad("input", CACT_EINVAL, NULL);
	norm_bad("/input/", CACT_EINVAL, NULL);
	norm_bad("/input", CACT_EINVAL, NULL);
	norm_bad("./", CACT_EINVAL, NULL);
	norm_bad(".", CACT_EINVAL, NULL);
	norm_bad("//", CACT_EINVAL, NULL);
	norm_bad("\\", CACT_EINVAL, NULL);
	norm_bad("input/./", CACT_EINVAL, NULL);
}
END_TEST

START_TEST(normalize_overlong)
{
	struct cact_error err = {0};
	char small[16];
	char *huge = malloc(3 * PATH_MAX);
	char *long_ok = malloc(PATH_MAX);
	char out[PATH_MAX];

	/* Longer than any path. */
	memset(huge, 'a', 3 * PATH_MAX - 1);
	huge[3 * PATH_MAX - 1] = '\0';
	norm_bad(huge, CACT_ETOOBIG, NULL);
	/* Fits the input but not "/input/" + it in PATH_MAX. */
	memset(long_ok, 'b', PATH_MAX - 4);
	long_ok[PATH_MAX - 4] = '\0';
	norm_bad(long_ok, CACT_ETOOBIG, NULL);
	/* Too small an output buffer. */
	ck_assert_int_eq(cact_mount_path_normalize("data1.csv", small, sizeof(small), &err),
			 CACT_ETOOBIG);
	ck_assert_int_eq(cact_mount_path_normalize("d.csv", small, sizeof(small), &err), 0);
	ck_assert_str_eq(small, "/input/d.csv");
	ck_assert_int_eq(cact_mount_path_normalize("x", out, 6, &err), CACT_ETOOBIG);
	/* Exactly filling the buffer (with its NUL) is fine. */
	ck_assert_int_eq(cact_mount_path_normalize("abcdefgh", small, sizeof(small), &err), 0);
	ck_assert_str_eq(small, "/input/abcdefgh");
	/* NULL err is accepted. */
	ck_assert_int_eq(cact_mount_path_normalize("../x", out, sizeof(out), NULL), CACT_EINVAL);
	free(huge);
	free(long_ok);
}
END_TEST

static struct cact_request *new_req(void)
{
	struct cact_request *req = NULL;

	ck_assert_int_eq(cact_request_new(&req), 0);
	ck_assert_ptr_nonnull(req);
	return req;
}

/* realpath of dir/name, owned. */
static char *real_of(const char *dir, const char *name)
{
	char path[PATH_MAX], *r;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	r = realpath(path, NULL);
	ck_assert_ptr_nonnull(r);
	return r;
}

START_TEST(add_mount_host_must_exist)
{
	struct cact_request *req = new_req();
	struct cact_error err = {0};
	char *dir = t_tmpdir();
	char missing[PATH_MAX];

	snprintf(missing, sizeof(missing), "%s/no-such-file.csv", dir);
	ck_assert_int_eq(cact_request_add_mount(req, missing, "x.csv", &err), CACT_ENOENT);
	ck_assert_msg(strstr(err.message, missing), "message \"%s\" does not name %s", err.message,
		      missing);
	ck_assert_uint_eq(req->n_mounts, 0);
	/* An empty host path is refused too. */
	ck_assert_int_lt(cact_request_add_mount(req, "", "x.csv", &err), 0);
	ck_assert_uint_eq(req->n_mounts, 0);
	cact_request_free(req);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(add_mount_resolves_host)
{
	struct cact_request *req = new_req();
	struct cact_error err = {0};
	char *dir = t_tmpdir(), *real, *sub;
	char host[PATH_MAX];
	struct stat st;

	t_write(dir, "data.csv", "a,b\n1,2\n");
	t_write(dir, "sub/inner.txt", "x");
	real = real_of(dir, "data.csv");
	sub = real_of(dir, "sub");
	/* A path with a detour is resolved now. */
	snprintf(host, sizeof(host), "%s/sub/../data.csv", dir);
	ck_assert_msg(cact_request_add_mount(req, host, "data.csv", &err) == 0, "%s", err.message);
	ck_assert_uint_eq(req->n_mounts, 1);
	ck_assert_str_eq(req->mounts[0].host, real);
	ck_assert_str_eq(req->mounts[0].guest, "/input/data.csv");
	ck_assert_int_eq(stat(real, &st), 0);
	ck_assert(req->mounts[0].dev == st.st_dev);
	ck_assert(req->mounts[0].ino == st.st_ino);
	ck_assert_int_eq(req->mounts[0].is_dir, 0);
	/* A folder. */
	snprintf(host, sizeof(host), "%s/sub", dir);
	ck_assert_msg(cact_request_add_mount(req, host, "/input/folder", &err) == 0, "%s",
		      err.message);
	ck_assert_uint_eq(req->n_mounts, 2);
	ck_assert_str_eq(req->mounts[1].host, sub);
	ck_assert_str_eq(req->mounts[1].guest, "/input/folder");
	ck_assert_int_eq(req->mounts[1].is_dir, 1);
	/* A bad mount path is refused before anything is added. */
	ck_assert_int_eq(cact_request_add_mount(req, real, "../escape", &err), CACT_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "must stay within /input"));
	ck_assert_int_eq(cact_request_add_mount(req, real, "   ", &err), CACT_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "blank"));
	ck_assert_uint_eq(req->n_mounts, 2);
	cact_request_free(req);
	free(real);
	free(sub);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(add_mount_guest_null_uses_host_as_given)
{
	struct cact_request *req = new_req();
	struct cact_error err = {0};
	char *dir = t_tmpdir(), *real;
	char host[PATH_MAX], want[PATH_MAX + 16], cwd[PATH_MAX];

	t_write(dir, "data.csv", "1\n");
	t_write(dir, "rel/notes.txt", "n\n");
	real = real_of(dir, "data.csv");
	/* An absolute host path becomes the same path under /input. */
	snprintf(host, sizeof(host), "%s/data.csv", dir);
	snprintf(want, sizeof(want), "/input%s/data.csv", dir);
	ck_assert_msg(cact_request_add_mount(req, host, NULL, &err) == 0, "%s", err.message);
	ck_assert_uint_eq(req->n_mounts, 1);
	ck_assert_str_eq(req->mounts[0].guest, want);
	ck_assert_str_eq(req->mounts[0].host, real);
	/* A relative host path keeps its relative form under /input. */
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(dir), 0);
	ck_assert_msg(cact_request_add_mount(req, "rel/notes.txt", NULL, &err) == 0, "%s",
		      err.message);
	ck_assert_int_eq(chdir(cwd), 0);
	ck_assert_uint_eq(req->n_mounts, 2);
	ck_assert_str_eq(req->mounts[1].guest, "/input/rel/notes.txt");
	ck_assert_ptr_eq(strchr(req->mounts[1].host, '/'), req->mounts[1].host);
	ck_assert_ptr_nonnull(strstr(req->mounts[1].host, "/rel/notes.txt"));
	cact_request_free(req);
	free(real);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(add_mount_same_guest_replaces)
{
	struct cact_request *req = new_req();
	struct cact_error err = {0};
	char *dir = t_tmpdir(), *r1, *r2, *r3;

	t_write(dir, "one.txt", "1");
	t_write(dir, "two.txt", "2");
	t_write(dir, "three.txt", "3");
	r1 = real_of(dir, "one.txt");
	r2 = real_of(dir, "two.txt");
	r3 = real_of(dir, "three.txt");
	ck_assert_int_eq(cact_request_add_mount(req, r3, "other", &err), 0);
	ck_assert_int_eq(cact_request_add_mount(req, r1, "x", &err), 0);
	ck_assert_uint_eq(req->n_mounts, 2);
	/* The same mount path spelled another way replaces the mount in place. */
	ck_assert_msg(cact_request_add_mount(req, r2, "/input/x", &err) == 0, "%s", err.message);
	ck_assert_uint_eq(req->n_mounts, 2);
	ck_assert_str_eq(req->mounts[1].guest, "/input/x");
	ck_assert_str_eq(req->mounts[1].host, r2);
	ck_assert_msg(cact_request_add_mount(req, r1, "input\\x", &err) == 0, "%s", err.message);
	ck_assert_uint_eq(req->n_mounts, 2);
	ck_assert_str_eq(req->mounts[1].host, r1);
	ck_assert_str_eq(req->mounts[0].host, r3);
	/* A replacement whose host is missing leaves the earlier mount alone. */
	ck_assert_int_eq(cact_request_add_mount(req, "/nonexistent/cact/file", "x", &err),
			 CACT_ENOENT);
	ck_assert_uint_eq(req->n_mounts, 2);
	ck_assert_str_eq(req->mounts[1].host, r1);
	cact_request_free(req);
	free(r1);
	free(r2);
	free(r3);
	t_rmtree(dir);
	free(dir);
}
END_TEST

/* Adds host at guest, expecting an overlap refusal that names both paths. */
static void overlap_refused(struct cact_request *req, const char *host, const char *guest,
			    const char *name1, const char *name2)
{
	struct cact_error err = {0};
	size_t before = req->n_mounts;

	ck_assert_int_eq(cact_request_add_mount(req, host, guest, &err), CACT_EINVAL);
	ck_assert_msg(strstr(err.message, name1) && strstr(err.message, name2),
		      "message \"%s\" does not name both %s and %s", err.message, name1, name2);
	ck_assert_uint_eq(req->n_mounts, before);
}

START_TEST(add_mount_overlap_refused)
{
	struct cact_request *req = new_req();
	struct cact_error err = {0};
	char *dir = t_tmpdir(), *sub, *file;

	t_write(dir, "sub/f.txt", "f");
	sub = real_of(dir, "sub");
	file = real_of(dir, "sub/f.txt");
	ck_assert_int_eq(cact_request_add_mount(req, sub, "a", &err), 0);
	/* Nested below an existing mount. */
	overlap_refused(req, file, "a/b", "/input/a/b", "/input/a");
	overlap_refused(req, file, "/input/a/b/c", "/input/a/b/c", "/input/a");
	/* A prefix that is not a parent folder is no overlap. */
	ck_assert_msg(cact_request_add_mount(req, file, "ab", &err) == 0, "%s", err.message);
	ck_assert_msg(cact_request_add_mount(req, file, "a.txt", &err) == 0, "%s", err.message);
	ck_assert_uint_eq(req->n_mounts, 3);
	/* An existing mount nested below the new one. */
	ck_assert_int_eq(cact_request_add_mount(req, file, "p/q/r", &err), 0);
	overlap_refused(req, sub, "p", "/input/p", "/input/p/q/r");
	overlap_refused(req, sub, "/input/p/q", "/input/p/q", "/input/p/q/r");
	ck_assert_uint_eq(req->n_mounts, 4);
	cact_request_free(req);
	free(sub);
	free(file);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(remove_mount_by_any_spelling)
{
	struct cact_request *req = new_req();
	struct cact_error err = {0};
	char *dir = t_tmpdir(), *f;

	t_write(dir, "f.txt", "f");
	f = real_of(dir, "f.txt");
	ck_assert_int_eq(cact_request_add_mount(req, f, "x", &err), 0);
	ck_assert_int_eq(cact_request_remove_mount(req, "/input/x", &err), 0);
	ck_assert_uint_eq(req->n_mounts, 0);
	ck_assert_int_eq(cact_request_add_mount(req, f, "x", &err), 0);
	ck_assert_int_eq(cact_request_remove_mount(req, "input/x", &err), 0);
	ck_assert_uint_eq(req->n_mounts, 0);
	ck_assert_int_eq(cact_request_add_mount(req, f, "x", &err), 0);
	ck_assert_int_eq(cact_request_remove_mount(req, "x", &err), 0);
	ck_assert_uint_eq(req->n_mounts, 0);
	/* Gone now, and never there. */
	ck_assert_int_eq(cact_request_remove_mount(req, "x", &err), CACT_ENOENT);
	ck_assert_int_eq(cact_request_remove_mount(req, "never", &err), CACT_ENOENT);
	ck_assert_ptr_nonnull(strstr(err.message, "/input/never"));
	/* A malformed path is reported as such. */
	ck_assert_int_eq(cact_request_remove_mount(req, "../x", &err), CACT_EINVAL);
	/* Removing from the middle keeps the order of the rest. */
	ck_assert_int_eq(cact_request_add_mount(req, f, "m1", &err), 0);
	ck_assert_int_eq(cact_request_add_mount(req, f, "m2", &err), 0);
	ck_assert_int_eq(cact_request_add_mount(req, f, "m3", &err), 0);
	ck_assert_int_eq(cact_request_remove_mount(req, "m2", &err), 0);
	ck_assert_uint_eq(req->n_mounts, 2);
	ck_assert_str_eq(req->mounts[0].guest, "/input/m1");
	ck_assert_str_eq(req->mounts[1].guest, "/input/m3");
	/* The freed path can be mounted again. */
	ck_assert_int_eq(cact_request_add_mount(req, f, "m2", &err), 0);
	ck_assert_uint_eq(req->n_mounts, 3);
	cact_request_free(req);
	free(f);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(set_workspace_rules)
{
	struct cact_request *req = new_req();
	struct cact_error err = {0};
	char *dir = t_tmpdir(), *real_dir;
	char file[PATH_MAX], missing[PATH_MAX];
	struct stat st;

	t_write(dir, "file.txt", "x");
	real_dir = realpath(dir, NULL);
	snprintf(file, sizeof(file), "%s/file.txt", dir);
	snprintf(missing, sizeof(missing), "%s/missing", dir);
	ck_assert_int_eq(req->has_workspace, 0);
	ck_assert_msg(cact_request_set_workspace(req, dir, &err) == 0, "%s", err.message);
	ck_assert_int_eq(req->has_workspace, 1);
	ck_assert_str_eq(req->workspace.host, real_dir);
	ck_assert_int_eq(req->workspace.is_dir, 1);
	ck_assert_int_eq(stat(real_dir, &st), 0);
	ck_assert(req->workspace.dev == st.st_dev && req->workspace.ino == st.st_ino);
	/* A file is not a workspace; the earlier workspace stays. */
	ck_assert_int_eq(cact_request_set_workspace(req, file, &err), CACT_EINVAL);
	ck_assert_int_eq(req->has_workspace, 1);
	ck_assert_str_eq(req->workspace.host, real_dir);
	ck_assert_int_eq(cact_request_set_workspace(req, missing, &err), CACT_ENOENT);
	ck_assert_ptr_nonnull(strstr(err.message, missing));
	ck_assert_int_eq(cact_request_set_workspace(req, "/", &err), CACT_EINVAL);
	ck_assert_int_eq(cact_request_set_workspace(req, "/tmp/..", &err), CACT_EINVAL);
	ck_assert_int_eq(req->has_workspace, 1);
	ck_assert_str_eq(req->workspace.host, real_dir);
	/* NULL clears it. */
	ck_assert_int_eq(cact_request_set_workspace(req, NULL, &err), 0);
	ck_assert_int_eq(req->has_workspace, 0);
	ck_assert_ptr_null(req->workspace.host);
	ck_assert_int_eq(cact_request_set_workspace(req, NULL, &err), 0);
	cact_request_free(req);
	free(real_dir);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(set_code_rules)
{
	struct cact_request *req = new_req();
	struct cact_error err = {0};
	size_t big = (size_t)cact_limit_default(CACT_LIMIT_CODE_BYTES) + 1;
	char *huge = malloc(big);

	ck_assert_int_eq(req->has_code, 0);
	ck_assert_int_eq(cact_request_set_code(req, "print(1)", 8, &err), 0);
	ck_assert_int_eq(req->has_code, 1);
	ck_assert_str_eq(req->code, "print(1)");
	ck_assert_uint_eq(req->code_len, 8);
	/* Only len bytes are taken. */
	ck_assert_int_eq(cact_request_set_code(req, "x = 1; junk", 5, &err), 0);
	ck_assert_str_eq(req->code, "x = 1");
	/* A NUL byte is refused and the earlier code stays. */
	ck_assert_int_eq(cact_request_set_code(req, "a\0b", 3, &err), CACT_EINVAL);
	ck_assert_int_eq(err.code, CACT_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "NUL"));
	ck_assert_str_eq(req->code, "x = 1");
	ck_assert_int_eq(cact_request_set_code(req, NULL, 0, &err), CACT_EINVAL);
	/* Over the default cap. */
	memset(huge, '#', big);
	ck_assert_int_eq(cact_request_set_code(req, huge, big, &err), CACT_ETOOBIG);
	ck_assert_str_eq(req->code, "x = 1");
	ck_assert_int_eq(cact_request_set_code(req, huge, big - 1, &err), 0);
	ck_assert_uint_eq(req->code_len, big - 1);
	/* Over a lowered cap; exactly the cap is fine. */
	ck_assert_int_eq(cact_request_set_limit(req, CACT_LIMIT_CODE_BYTES, 16, &err), 0);
	ck_assert_int_eq(cact_request_set_code(req, "0123456789abcdefg", 17, &err), CACT_ETOOBIG);
	ck_assert_int_eq(cact_request_set_code(req, "0123456789abcdef", 16, &err), 0);
	/* Empty code is code. */
	ck_assert_int_eq(cact_request_set_code(req, "", 0, &err), 0);
	ck_assert_int_eq(req->has_code, 1);
	ck_assert_str_eq(req->code, "");
	cact_request_free(req);
	free(huge);
}
END_TEST

START_TEST(set_limit_rules)
{
	struct cact_request *req = new_req();
	struct cact_error err = {0};
	int i;

	for (i = 0; i < CACT_LIMIT__COUNT; i++) {
		enum cact_limit l = (enum cact_limit)i;
		const char *name = cact_limit_name(l);
		uint64_t lo = cact_limit_min(l), hi = cact_limit_max(l);

		ck_assert_ptr_nonnull(name);
		ck_assert_uint_le(lo, cact_limit_default(l));
		ck_assert_uint_ge(hi, cact_limit_default(l));
		/* 0 would mean "no limit" somewhere; for calls and requests it means "none allowed". */
		if (l != CACT_LIMIT_TOOL_CALLS && l != CACT_LIMIT_HTTP_REQUESTS)
			ck_assert_uint_gt(lo, 0);
		if (lo > 0) {
			memset(&err, 0, sizeof(err));
			ck_assert_int_eq(cact_request_set_limit(req, l, lo - 1, &err), CACT_EINVAL);
			ck_assert_msg(strstr(err.message, name), "message \"%s\" lacks %s",
				      err.message, name);
			ck_assert_uint_eq(cact_request_limit(req, l), cact_limit_default(l));
		}
		if (hi < UINT64_MAX) {
			memset(&err, 0, sizeof(err));
			ck_assert_int_eq(cact_request_set_limit(req, l, hi + 1, &err), CACT_EINVAL);
			ck_assert_msg(strstr(err.message, name), "message \"%s\" lacks %s",
				      err.message, name);
			ck_assert_uint_eq(cact_request_limit(req, l), cact_limit_default(l));
		}
		ck_assert_int_eq(cact_request_set_limit(req, l, UINT64_MAX, &err), CACT_EINVAL);
		ck_assert_int_eq(cact_request_set_limit(req, l, lo, &err), 0);
		ck_assert_uint_eq(cact_request_limit(req, l), lo);
		ck_assert_int_eq(cact_request_set_limit(req, l, hi, &err), 0);
		ck_assert_uint_eq(cact_request_limit(req, l), hi);
	}
	ck_assert_int_eq(cact_request_set_limit(req, CACT_LIMIT__COUNT, 1, &err), CACT_EINVAL);
	ck_assert_int_eq(cact_request_set_limit(req, (enum cact_limit) - 1, 1, &err), CACT_EINVAL);
	ck_assert_int_eq(cact_request_set_limit(req, (enum cact_limit)1000, 1, &err), CACT_EINVAL);
	ck_assert_ptr_null(cact_limit_name(CACT_LIMIT__COUNT));
	ck_assert_ptr_null(cact_limit_name((enum cact_limit) - 1));
	ck_assert_uint_eq(cact_request_limit(req, CACT_LIMIT__COUNT), 0);
	/* NULL err is accepted. */
	ck_assert_int_eq(cact_request_set_limit(req, CACT_LIMIT_TIMEOUT_MS, 0, NULL), CACT_EINVAL);
	cact_request_free(req);
}
END_TEST

START_TEST(limit_defaults)
{
	struct cact_request *req = new_req();
	static const struct {
		enum cact_limit l;
		const char *name;
		uint64_t dflt;
	} want[] = {
		{CACT_LIMIT_TIMEOUT_MS, "timeout_ms", 30000},
		{CACT_LIMIT_MEMORY_BYTES, "memory_bytes", 512 * MIB},
		{CACT_LIMIT_STDOUT_BYTES, "stdout_bytes", 1 * MIB},
		{CACT_LIMIT_STDERR_BYTES, "stderr_bytes", 1 * MIB},
		{CACT_LIMIT_OUTPUT_FILES, "output_files", 1000},
		{CACT_LIMIT_OUTPUT_BYTES, "output_bytes", 64 * MIB},
		{CACT_LIMIT_OUTPUT_DEPTH, "output_depth", 16},
		{CACT_LIMIT_TMP_BYTES, "tmp_bytes", 64 * MIB},
		{CACT_LIMIT_OPEN_FILES, "open_files", 256},
		{CACT_LIMIT_THREADS, "threads", 64},
		{CACT_LIMIT_CODE_BYTES, "code_bytes", 10 * MIB},
		{CACT_LIMIT_TOOL_CALLS, "tool_calls", 1000},
		{CACT_LIMIT_TOOL_ARGS_BYTES, "tool_args_bytes", 1 * MIB},
		{CACT_LIMIT_TOOL_RESULT_BYTES, "tool_result_bytes", 1 * MIB},
		{CACT_LIMIT_HTTP_TIMEOUT_MS, "http_timeout_ms", 30000},
		{CACT_LIMIT_HTTP_BODY_BYTES, "http_body_bytes", 16 * MIB},
		{CACT_LIMIT_HTTP_BYTES, "http_bytes", 64 * MIB},
		{CACT_LIMIT_HTTP_REQUESTS, "http_requests", 1000},
	};
	size_t i;

	ck_assert_uint_eq(sizeof(want) / sizeof(want[0]), CACT_LIMIT__COUNT);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ck_assert_str_eq(cact_limit_name(want[i].l), want[i].name);
		ck_assert_uint_eq(cact_limit_default(want[i].l), want[i].dflt);
		ck_assert_uint_eq(cact_request_limit(req, want[i].l), want[i].dflt);
	}
	ck_assert_int_eq(req->has_code, 0);
	ck_assert_int_eq(req->has_workspace, 0);
	ck_assert_uint_eq(req->n_mounts, 0);
	cact_request_free(req);
	cact_request_free(NULL);
}
END_TEST

/* Asserts that m is a mount object for host (dev/ino from stat) with guest and dir. */
static void check_mount_json(json_t *m, const char *host, const char *guest, int dir)
{
	struct stat st;

	ck_assert(json_is_object(m));
	ck_assert_int_eq(stat(host, &st), 0);
	ck_assert_str_eq(json_string_value(json_object_get(m, "host")), host);
	if (guest)
		ck_assert_str_eq(json_string_value(json_object_get(m, "guest")), guest);
	else
		ck_assert_ptr_nonnull(json_object_get(m, "guest"));
	ck_assert(json_is_integer(json_object_get(m, "dev")));
	ck_assert(json_is_integer(json_object_get(m, "ino")));
	ck_assert(json_integer_value(json_object_get(m, "dev")) == (json_int_t)st.st_dev);
	ck_assert(json_integer_value(json_object_get(m, "ino")) == (json_int_t)st.st_ino);
	ck_assert(json_is_boolean(json_object_get(m, "dir")));
	ck_assert_int_eq(json_is_true(json_object_get(m, "dir")), dir);
}

START_TEST(prepare_frame_contents)
{
	struct cact_request *req = new_req();
	struct cact_error err = {0};
	char *dir = t_tmpdir(), *ws, *f, *sub, *text;
	json_t *frame, *mounts, *lim;

	t_write(dir, "ws/a.txt", "a");
	t_write(dir, "f.csv", "1,2\n");
	t_write(dir, "sub/x", "x");
	ws = real_of(dir, "ws");
	f = real_of(dir, "f.csv");
	sub = real_of(dir, "sub");
	/* Without workspace or mounts. */
	frame = rt_prepare_frame(req);
	ck_assert_ptr_nonnull(frame);
	ck_assert_str_eq(json_string_value(json_object_get(frame, "type")), "prepare");
	ck_assert(json_is_null(json_object_get(frame, "workspace")));
	ck_assert(json_is_array(json_object_get(frame, "mounts")));
	ck_assert_uint_eq(json_array_size(json_object_get(frame, "mounts")), 0);
	ck_assert_ptr_null(json_object_get(frame, "code"));
	json_decref(frame);

	ck_assert_int_eq(cact_request_set_workspace(req, ws, &err), 0);
	ck_assert_int_eq(cact_request_add_mount(req, f, "data/f.csv", &err), 0);
	ck_assert_int_eq(cact_request_add_mount(req, sub, "sub", &err), 0);
	ck_assert_int_eq(cact_request_set_limit(req, CACT_LIMIT_OUTPUT_BYTES, 123456, &err), 0);
	ck_assert_int_eq(cact_request_set_limit(req, CACT_LIMIT_OUTPUT_FILES, 77, &err), 0);
	ck_assert_int_eq(cact_request_set_limit(req, CACT_LIMIT_TMP_BYTES, 654321, &err), 0);
	ck_assert_int_eq(cact_request_set_limit(req, CACT_LIMIT_THREADS, 9, &err), 0);
	ck_assert_int_eq(cact_request_set_code(req, "print('secret code')", 20, &err), 0);
	frame = rt_prepare_frame(req);
	ck_assert_ptr_nonnull(frame);
	ck_assert_str_eq(json_string_value(json_object_get(frame, "type")), "prepare");
	check_mount_json(json_object_get(frame, "workspace"), ws, NULL, 1);
	mounts = json_object_get(frame, "mounts");
	ck_assert_uint_eq(json_array_size(mounts), 2);
	check_mount_json(json_array_get(mounts, 0), f, "/input/data/f.csv", 0);
	check_mount_json(json_array_get(mounts, 1), sub, "/input/sub", 1);
	lim = json_object_get(frame, "limits");
	ck_assert(json_is_object(lim));
	ck_assert_int_eq(json_integer_value(json_object_get(lim, "output_bytes")), 123456);
	ck_assert_int_eq(json_integer_value(json_object_get(lim, "output_files")), 77);
	ck_assert_int_eq(json_integer_value(json_object_get(lim, "tmp_bytes")), 654321);
	ck_assert_int_eq(json_integer_value(json_object_get(lim, "threads")), 9);
	/* The code is not part of the sandbox's shape. */
	text = json_dumps(frame, JSON_COMPACT);
	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_null(strstr(text, "secret code"));
	free(text);
	json_decref(frame);
	cact_request_free(req);
	free(ws);
	free(f);
	free(sub);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(exec_frame_contents)
{
	struct cact_request *req = new_req();
	struct cact_error err = {0};
	const char code[] = "import sys\nprint(\"h\\u00e9\", '\x1b', sys.argv)\n";
	json_t *frame, *lim;
	int i;

	ck_assert_int_eq(cact_request_set_code(req, code, strlen(code), &err), 0);
	ck_assert_int_eq(cact_request_set_limit(req, CACT_LIMIT_TIMEOUT_MS, 1234, &err), 0);
	ck_assert_int_eq(cact_request_set_limit(req, CACT_LIMIT_MEMORY_BYTES, 64 * MIB, &err), 0);
	frame = rt_exec_frame(req);
	ck_assert_ptr_nonnull(frame);
	ck_assert_str_eq(json_string_value(json_object_get(frame, "type")), "exec");
	ck_assert_str_eq(json_string_value(json_object_get(frame, "code")), code);
	lim = json_object_get(frame, "limits");
	ck_assert(json_is_object(lim));
	ck_assert_uint_eq(json_object_size(lim), CACT_LIMIT__COUNT);
	for (i = 0; i < CACT_LIMIT__COUNT; i++) {
		json_t *v = json_object_get(lim, cact_limit_name((enum cact_limit)i));

		ck_assert_msg(json_is_integer(v), "exec frame lacks limit %s",
			      cact_limit_name((enum cact_limit)i));
		ck_assert(json_integer_value(v) ==
			  (json_int_t)cact_request_limit(req, (enum cact_limit)i));
	}
	ck_assert_int_eq(json_integer_value(json_object_get(lim, "timeout_ms")), 1234);
	ck_assert_int_eq(json_integer_value(json_object_get(lim, "memory_bytes")), 64 * MIB);
	json_decref(frame);
	cact_request_free(req);
}
END_TEST

/* The compact prepare frame of req, owned. */
static char *profile_of(const struct cact_request *req)
{
	json_t *frame = rt_prepare_frame(req);
	char *s;

	ck_assert_ptr_nonnull(frame);
	s = json_dumps(frame, JSON_COMPACT);
	ck_assert_ptr_nonnull(s);
	json_decref(frame);
	return s;
}

/* Builds a request with workspace ws, mount f at "m", the code and the timeout. */
static struct cact_request *build(const char *ws, const char *f, const char *code, uint64_t timeout)
{
	struct cact_request *req = new_req();
	struct cact_error err = {0};

	if (ws)
		ck_assert_int_eq(cact_request_set_workspace(req, ws, &err), 0);
	if (f)
		ck_assert_int_eq(cact_request_add_mount(req, f, "m", &err), 0);
	ck_assert_int_eq(cact_request_set_code(req, code, strlen(code), &err), 0);
	ck_assert_int_eq(cact_request_set_limit(req, CACT_LIMIT_TIMEOUT_MS, timeout, &err), 0);
	return req;
}

START_TEST(identical_requests_identical_prepare_frames)
{
	char *dir = t_tmpdir(), *ws, *f, *p1, *p2, *p3, *p4, *p5, *p6;
	struct cact_request *a, *b, *c, *d, *e, *g;
	struct cact_error err = {0};

	t_write(dir, "ws/a.txt", "a");
	t_write(dir, "f.csv", "1\n");
	t_write(dir, "g.csv", "2\n");
	ws = real_of(dir, "ws");
	f = real_of(dir, "f.csv");
	a = build(ws, f, "print(1)", 30000);
	b = build(ws, f, "print(1)", 30000);
	/* Code and timeout travel in the exec frame: same sandbox, same profile. */
	c = build(ws, f, "print(2)", 500);
	/* A different sandbox: no workspace, another mount, another tmpfs size. */
	d = build(NULL, f, "print(1)", 30000);
	e = build(ws, NULL, "print(1)", 30000);
	g = build(ws, f, "print(1)", 30000);
	ck_assert_int_eq(cact_request_set_limit(g, CACT_LIMIT_TMP_BYTES, 8 * MIB, &err), 0);
	p1 = profile_of(a);
	p2 = profile_of(b);
	p3 = profile_of(c);
	p4 = profile_of(d);
	p5 = profile_of(e);
	p6 = profile_of(g);
	ck_assert_str_eq(p1, p2);
	ck_assert_str_eq(p1, p3);
	ck_assert_str_ne(p1, p4);
	ck_assert_str_ne(p1, p5);
	ck_assert_str_ne(p1, p6);
	ck_assert_str_ne(p4, p5);
	/* The same request encodes the same way twice. */
	free(p2);
	p2 = profile_of(a);
	ck_assert_str_eq(p1, p2);
	/* Two empty requests too (the runtime's default profile). */
	free(p2);
	free(p3);
	cact_request_free(b);
	cact_request_free(c);
	b = new_req();
	c = new_req();
	p2 = profile_of(b);
	p3 = profile_of(c);
	ck_assert_str_eq(p2, p3);
	free(p1);
	free(p2);
	free(p3);
	free(p4);
	free(p5);
	free(p6);
	cact_request_free(a);
	cact_request_free(b);
	cact_request_free(c);
	cact_request_free(d);
	cact_request_free(e);
	cact_request_free(g);
	free(ws);
	free(f);
	t_rmtree(dir);
	free(dir);
}
END_TEST

int main(int argc, char **argv)
{
	const struct t_case cases[] = {
		T_CASE(normalize_exact, 30),
		T_CASE(normalize_refuses_dotdot, 30),
		T_CASE(normalize_refuses_blank, 30),
		T_CASE(normalize_refuses_nothing_left, 30),
		T_CASE(normalize_overlong, 30),
		T_CASE(add_mount_host_must_exist, 30),
		T_CASE(add_mount_resolves_host, 30),
		T_CASE(add_mount_guest_null_uses_host_as_given, 30),
		T_CASE(add_mount_same_guest_replaces, 30),
		T_CASE(add_mount_overlap_refused, 30),
		T_CASE(remove_mount_by_any_spelling, 30),
		T_CASE(set_workspace_rules, 30),
		T_CASE(set_code_rules, 30),
		T_CASE(set_limit_rules, 30),
		T_CASE(limit_defaults, 30),
		T_CASE(prepare_frame_contents, 30),
		T_CASE(exec_frame_contents, 30),
		T_CASE(identical_requests_identical_prepare_frames, 30),
	};

	return t_main("unit_request", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
