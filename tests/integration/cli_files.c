/* SPDX-License-Identifier: MIT */
/*
 * The files an execution leaves in /output, as the command line hands them
 * over: names that are not UTF-8 (cact exec --json, cact mcp), and
 * --output-dir (hard links with --force, clashes, a full disk, the check
 * made before the code runs).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "../common.h"

extern char **environ;

/* Runs the CLI with a NULL-terminated argv built from the arguments. */
#define CLI(in, out, err, ...) t_cli((const char *const[]){__VA_ARGS__, NULL}, (in), (out), (err))

/* Code that leaves two names a U+FFFD repair would merge, and a good one. */
#define BAD_NAMES_CODE                                \
	"open(b'/output/a\\xff', 'w').write('1')\n"   \
	"open(b'/output/a\\xfe', 'w').write('2')\n"   \
	"open('/output/ok.txt', 'w').write('fine')\n" \
	"print('hi')\n"

static int exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

#define assert_status(rc, want, out, err) assert_status_at((rc), (want), (out), (err), __LINE__)
static void assert_status_at(int rc, int want, const char *out, const char *err, int line)
{
	ck_assert_msg(rc == want,
		      "line %d: status %d, expected %d\nstdout: %.1000s\nstderr: %.1000s", line, rc,
		      want, out, err);
}

static json_t *parse_json(const char *out)
{
	json_error_t je;
	json_t *j = json_loads(out, 0, &je);

	ck_assert_msg(j != NULL, "stdout is not JSON (%s): %.500s", je.text, out);
	ck_assert_msg(json_is_object(j), "JSON is not an object: %.500s", out);
	return j;
}

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	ck_assert_msg(json_is_string(v), "\"%s\" is not a string", key);
	return json_string_value(v);
}

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

/*
 * Mounts a tmpfs with opts at dir, in a mount namespace of this process
 * alone (each case runs in a forked child; the cact it starts inherits it).
 * 0, or -1 after printing why the caller skips.
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

/* ---------------------------------------------------------------------------------------- */
/* Names that are not UTF-8. */

START_TEST(json_lists_non_utf8_names_as_skipped)
{
	char *out, *err;
	json_t *j, *files, *skipped;
	int rc = CLI(NULL, &out, &err, "exec", "--json", "-c", BAD_NAMES_CODE);

	assert_status(rc, 0, out, err);
	j = parse_json(out);
	ck_assert(json_is_true(json_object_get(j, "success")));
	ck_assert_str_eq(jstr(j, "stdout"), "hi\n");
	files = json_object_get(j, "files");
	ck_assert_msg(json_array_size(files) == 1, "files: %s", out);
	ck_assert_str_eq(jstr(json_array_get(files, 0), "path"), "/output/ok.txt");
	skipped = json_object_get(j, "skipped");
	ck_assert_msg(json_array_size(skipped) == 2, "skipped: %s", out);
	/* Sorted; two names, two lines. */
	ck_assert_str_eq(json_string_value(json_array_get(skipped, 0)),
			 "/output/a\\xfe: name is not valid UTF-8");
	ck_assert_str_eq(json_string_value(json_array_get(skipped, 1)),
			 "/output/a\\xff: name is not valid UTF-8");
	json_decref(j);
	free(out);
	free(err);
}
END_TEST

/* One JSON-RPC line from fd within deadline_ms, or NULL. Owned. */
static char *read_line(int fd, char *buf, size_t cap, size_t *used, int deadline_ms)
{
	for (;;) {
		char *nl = memchr(buf, '\n', *used);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (nl) {
			char *line = strndup(buf, (size_t)(nl - buf));

			*used -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, *used);
			return line;
		}
		if (*used == cap || poll(&p, 1, deadline_ms) <= 0)
			return NULL;
		n = read(fd, buf + *used, cap - *used);
		if (n <= 0)
			return NULL;
		*used += (size_t)n;
	}
}

START_TEST(mcp_call_survives_non_utf8_names)
{
	static const char init[] =
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
		"\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":"
		"\"t\",\"version\":\"1\"}}}\n"
		"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n";
	const char *bin = getenv("CACT_BIN");
	const char *argv[] = {bin, "mcp", NULL};
	posix_spawn_file_actions_t fa;
	json_t *call, *m, *result, *content, *item;
	char *buf = malloc(1u << 20), *line = NULL, *req;
	const char *text;
	size_t used = 0, i;
	int in[2], o[2], devnull, status, saw_hi = 0, saw_ok = 0, saw_skip = 0;
	pid_t pid;

	ck_assert_ptr_nonnull(bin);
	call = json_pack("{s:s, s:i, s:s, s:{s:s, s:{s:s}}}", "jsonrpc", "2.0", "id", 2, "method",
			 "tools/call", "params", "name", "execute_code", "arguments", "code",
			 BAD_NAMES_CODE);
	req = json_dumps(call, JSON_COMPACT);
	json_decref(call);
	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(pipe(o), 0);
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, o[1], 1);
	posix_spawn_file_actions_adddup2(&fa, devnull, 2);
	posix_spawn_file_actions_addclose(&fa, in[1]);
	posix_spawn_file_actions_addclose(&fa, o[0]);
	ck_assert_int_eq(posix_spawn(&pid, bin, &fa, NULL, (char *const *)argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(o[1]);
	close(devnull);
	signal(SIGPIPE, SIG_IGN);
	/* stdin stays open until the answer: end of input would end the server. */
	ck_assert(write(in[1], init, strlen(init)) == (ssize_t)strlen(init));
	ck_assert(write(in[1], req, strlen(req)) == (ssize_t)strlen(req));
	ck_assert(write(in[1], "\n", 1) == 1);
	while ((line = read_line(o[0], buf, 1u << 20, &used, 60000))) {
		if (strstr(line, "\"id\":2"))
			break;
		free(line);
	}
	close(in[1]);
	close(o[0]);
	waitpid(pid, &status, 0);
	ck_assert_msg(line != NULL, "no answer to tools/call");
	m = json_loads(line, 0, NULL);
	ck_assert_msg(m != NULL, "not JSON: %.500s", line);
	result = json_object_get(m, "result");
	ck_assert_msg(result != NULL, "tools/call failed: %.1000s", line);
	ck_assert(json_is_false(json_object_get(result, "isError")));
	content = json_object_get(result, "content");
	json_array_foreach(content, i, item) {
		const char *type = json_string_value(json_object_get(item, "type"));

		text = json_string_value(json_object_get(item, "text"));
		if (strcmp(type, "text") == 0 && strcmp(text, "hi\n") == 0)
			saw_hi = 1;
		if (strcmp(type, "text") == 0 &&
		    strstr(text, "/output/a\\xff: name is not valid") &&
		    strstr(text, "/output/a\\xfe: name is not valid"))
			saw_skip = 1;
		if (strcmp(type, "resource") == 0 &&
		    strcmp(json_string_value(
				   json_object_get(json_object_get(item, "resource"), "uri")),
			   "file:///output/ok.txt") == 0)
			saw_ok = 1;
	}
	ck_assert_msg(saw_hi && saw_ok && saw_skip,
		      "content lacks stdout, ok.txt or the skipped: %s", line);
	json_decref(m);
	free(line);
	free(req);
	free(buf);
}
END_TEST

/* ---------------------------------------------------------------------------------------- */
/* --output-dir. */

START_TEST(force_replaces_a_hard_link_not_its_file)
{
	char *dir = t_tmpdir(), *od = t_fmt("%s/out", dir), *outside = t_fmt("%s/outside.txt", dir);
	char *inside = t_fmt("%s/t.txt", od), *out, *err;
	struct stat a, b;
	int rc;

	t_write(dir, "outside.txt", "precious");
	ck_assert_int_eq(mkdir(od, 0755), 0);
	ck_assert_int_eq(link(outside, inside), 0);
	rc = CLI(NULL, &out, &err, "exec", "--output-dir", od, "--force", "-c",
		 "_ = open('/output/t.txt', 'w').write('new')");
	assert_status(rc, 0, out, err);
	t_assert_file_is(outside, "precious");
	t_assert_file_is(inside, "new");
	ck_assert_int_eq(stat(outside, &a), 0);
	ck_assert_int_eq(stat(inside, &b), 0);
	ck_assert(a.st_ino != b.st_ino);
	ck_assert_uint_eq(a.st_nlink, 1);
	assert_no_temporaries(od);
	free(out);
	free(err);
	free(inside);
	free(outside);
	free(od);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(clash_saves_the_other_files)
{
	char *od = t_tmpdir(), *t = t_fmt("%s/t.txt", od), *u = t_fmt("%s/u.txt", od);
	char *v = t_fmt("%s/v.txt", od), *out, *err;
	json_t *j, *fails;
	int rc;

	t_write(od, "t.txt", "original");
	rc = CLI(NULL, &out, &err, "exec", "--output-dir", od, "-c",
		 "_ = open('/output/t.txt', 'w').write('new')\n"
		 "_ = open('/output/u.txt', 'w').write('u')\n");
	assert_status(rc, 4, out, err);
	t_assert_file_is(t, "original");
	t_assert_file_is(u, "u");
	ck_assert_msg(strstr(err, "t.txt already exists") && strstr(err, "1 of 2 files saved"),
		      "stderr: %s", err);
	ck_assert_msg(strstr(err, "cact: file /output/u.txt (text/plain, 1 bytes) saved to "),
		      "stderr: %s", err);
	ck_assert_msg(strstr(err, "cact: file /output/t.txt (text/plain, 3 bytes)\n"), "stderr: %s",
		      err);
	free(out);
	free(err);
	/* --json says so: success false, the run's own status kept, each failure named. */
	rc = CLI(NULL, &out, &err, "exec", "--json", "--output-dir", od, "-c",
		 "_ = open('/output/t.txt', 'w').write('new')\n"
		 "_ = open('/output/v.txt', 'w').write('v')\n");
	assert_status(rc, 4, out, err);
	j = parse_json(out);
	ck_assert_str_eq(jstr(j, "status"), "ok");
	ck_assert(json_is_false(json_object_get(j, "success")));
	ck_assert(json_is_false(json_object_get(j, "saved")));
	ck_assert_msg(strstr(jstr(j, "save_error"), "t.txt already exists"), "%s", out);
	fails = json_object_get(j, "save_failures");
	ck_assert_uint_eq(json_array_size(fails), 1);
	ck_assert_str_eq(jstr(json_array_get(fails, 0), "path"), "/output/t.txt");
	ck_assert_msg(strstr(jstr(json_array_get(fails, 0), "error"), "already exists"), "%s", out);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "files")), 2);
	t_assert_file_is(v, "v");
	t_assert_file_is(t, "original");
	json_decref(j);
	free(out);
	free(err);
	/* All saved: saved true, save_error null. */
	rc = CLI(NULL, &out, &err, "exec", "--json", "--output-dir", od, "--force", "-c",
		 "_ = open('/output/t.txt', 'w').write('new')\n");
	assert_status(rc, 0, out, err);
	j = parse_json(out);
	ck_assert(json_is_true(json_object_get(j, "success")));
	ck_assert(json_is_true(json_object_get(j, "saved")));
	ck_assert(json_is_null(json_object_get(j, "save_error")));
	ck_assert_uint_eq(json_array_size(json_object_get(j, "save_failures")), 0);
	t_assert_file_is(t, "new");
	assert_no_temporaries(od);
	json_decref(j);
	free(out);
	free(err);
	free(t);
	free(u);
	free(v);
	t_rmtree(od);
	free(od);
}
END_TEST

START_TEST(output_dir_checked_before_running)
{
	char *dir = t_tmpdir(), *od = t_fmt("%s/file/out", dir), *ro = t_fmt("%s/ro", dir);
	char *out, *err;
	int rc;

	/* A folder that cannot be created: the code never runs (it would print). */
	t_write(dir, "file", "f");
	rc = CLI(NULL, &out, &err, "exec", "--output-dir", od, "-c",
		 "print('ran')\n_ = open('/output/x.txt', 'w').write('x')");
	assert_status(rc, 2, out, err);
	ck_assert_str_eq(out, "");
	ck_assert_msg(strncmp(err, "cact exec: --output-dir: ", 25) == 0 && strstr(err, "ENOTDIR"),
		      "stderr: %s", err);
	free(out);
	free(err);
	/* A folder where no file can be created (root ignores modes, not a read-only mount). */
	ck_assert_int_eq(mkdir(ro, 0755), 0);
	if (private_tmpfs("output_dir_checked_before_running (read-only part)", ro, MS_RDONLY,
			  "size=64k") == 0) {
		rc = CLI(NULL, &out, &err, "exec", "--output-dir", ro, "-c",
			 "print('ran')\n_ = open('/output/x.txt', 'w').write('x')");
		assert_status(rc, 2, out, err);
		ck_assert_str_eq(out, "");
		ck_assert_msg(strstr(err, "EROFS"), "stderr: %s", err);
		free(out);
		free(err);
		ck_assert_int_eq(umount2(ro, MNT_DETACH), 0);
	}
	free(ro);
	free(od);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(full_disk_is_reported_and_leaves_nothing_partial)
{
	char *dir = t_tmpdir(), *mnt = t_fmt("%s/mnt", dir), *od = t_fmt("%s/out", mnt);
	char *big = t_fmt("%s/big.bin", od), *small = t_fmt("%s/small.txt", od), *out, *err;
	json_t *j, *fails;
	struct stat st;
	int rc;

	ck_assert_int_eq(mkdir(mnt, 0755), 0);
	if (private_tmpfs("full_disk_is_reported_and_leaves_nothing_partial", mnt, 0,
			  "size=256k")) {
		free(big);
		free(small);
		free(od);
		free(mnt);
		t_rmtree(dir);
		free(dir);
		return;
	}
	rc = CLI(NULL, &out, &err, "exec", "--output-dir", od, "-c",
		 "_ = open('/output/big.bin', 'wb').write(b'B' * (1 << 20))\n"
		 "_ = open('/output/small.txt', 'w').write('ok')\n");
	assert_status(rc, 4, out, err);
	ck_assert_msg(strstr(err, "big.bin") && strstr(err, "ENOSPC"), "stderr: %s", err);
	ck_assert_msg(!exists(big), "a partial big.bin was left");
	t_assert_file_is(small, "ok");
	assert_no_temporaries(od);
	free(out);
	free(err);
	/* --json: not a success, the error named. */
	rc = CLI(NULL, &out, &err, "exec", "--json", "--output-dir", od, "--force", "-c",
		 "_ = open('/output/big.bin', 'wb').write(b'B' * (1 << 20))\n");
	assert_status(rc, 4, out, err);
	j = parse_json(out);
	ck_assert(json_is_false(json_object_get(j, "success")));
	ck_assert(json_is_false(json_object_get(j, "saved")));
	ck_assert_msg(strstr(jstr(j, "save_error"), "ENOSPC"), "%s", jstr(j, "save_error"));
	fails = json_object_get(j, "save_failures");
	ck_assert_uint_eq(json_array_size(fails), 1);
	ck_assert_str_eq(jstr(json_array_get(fails, 0), "path"), "/output/big.bin");
	ck_assert(!exists(big));
	assert_no_temporaries(od);
	json_decref(j);
	free(out);
	free(err);
	/* Nothing in the way of a rerun that fits. */
	rc = CLI(NULL, &out, &err, "exec", "--output-dir", od, "-c",
		 "_ = open('/output/big.bin', 'wb').write(b'B' * 16384)\n");
	assert_status(rc, 0, out, err);
	ck_assert_int_eq(stat(big, &st), 0);
	ck_assert_int_eq(st.st_size, 16384);
	free(out);
	free(err);
	ck_assert_int_eq(umount2(mnt, MNT_DETACH), 0);
	free(big);
	free(small);
	free(od);
	free(mnt);
	t_rmtree(dir);
	free(dir);
}
END_TEST

int main(int argc, char **argv)
{
	const struct t_case cases[] = {
		T_CASE(json_lists_non_utf8_names_as_skipped, 60),
		T_CASE(mcp_call_survives_non_utf8_names, 90),
		T_CASE(force_replaces_a_hard_link_not_its_file, 60),
		T_CASE(clash_saves_the_other_files, 90),
		T_CASE(output_dir_checked_before_running, 60),
		T_CASE(full_disk_is_reported_and_leaves_nothing_partial, 90),
	};

	return t_main("cli_files", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
