/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

extern char **environ;

struct cact_runtime *t_runtime_opts(const struct cact_runtime_options *o)
{
	struct cact_runtime *rt = NULL;
	struct cact_error err = {0};
	int rc = cact_runtime_new(o, &rt, &err);

	ck_assert_msg(rc == 0, "cact_runtime_new: %s", err.message);
	return rt;
}

struct cact_runtime *t_runtime(void)
{
	struct cact_runtime_options o;

	cact_runtime_options_init(&o);
	return t_runtime_opts(&o);
}

struct cact_result *t_run_req(struct cact_runtime *rt, struct cact_request *req)
{
	struct cact_result *res = NULL;
	struct cact_error err = {0};
	int rc = cact_runtime_run(rt, req, &res, &err);

	ck_assert_msg(rc == 0, "cact_runtime_run: %s", err.message);
	return res;
}

struct cact_result *t_run(struct cact_runtime *rt, const char *code, unsigned timeout_ms)
{
	struct cact_request *req = NULL;
	struct cact_error err = {0};
	struct cact_result *res;

	ck_assert_int_eq(cact_request_new(&req), 0);
	ck_assert_msg(cact_request_set_code(req, code, strlen(code), &err) == 0, "%s", err.message);
	if (timeout_ms)
		ck_assert_int_eq(
			cact_request_set_limit(req, CACT_LIMIT_TIMEOUT_MS, timeout_ms, &err), 0);
	res = t_run_req(rt, req);
	cact_request_free(req);
	return res;
}

const char *t_out(const struct cact_result *r)
{
	return cact_result_stdout(r, NULL, NULL);
}

const char *t_err(const struct cact_result *r)
{
	return cact_result_stderr(r, NULL, NULL);
}

void t_assert_status_at(const struct cact_result *r, enum cact_status s, const char *file, int line)
{
	enum cact_status got = cact_result_status(r);

	if (got != s)
		ck_abort_msg(
			"%s:%d: status %s, expected %s\n--- stdout\n%.2000s\n--- stderr\n%.2000s\n"
			"--- error: %s",
			file, line, cact_status_name(got), cact_status_name(s), t_out(r), t_err(r),
			cact_result_error_message(r) ? cact_result_error_message(r) : "(none)");
}

char *t_tmpdir(void)
{
	char tmpl[] = "/tmp/cact-test-XXXXXX";
	char *d = mkdtemp(tmpl);

	ck_assert_msg(d != NULL, "mkdtemp: %s", strerror(errno));
	ck_assert_int_eq(chmod(d, 0755), 0);
	return strdup(d);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void t_rmtree(const char *path)
{
	if (path)
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *t_fmt(const char *f, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, f);
	n = vasprintf(&s, f, ap);
	va_end(ap);
	ck_assert_int_ge(n, 0);
	return s;
}

void t_write(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	char *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	for (slash = strchr(path + strlen(dir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	f = fopen(path, "w");
	ck_assert_msg(f != NULL, "cannot write %s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

char *t_read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	size_t cap = 4096, used = 0;
	char *buf;
	ssize_t n;

	if (fd < 0)
		return NULL;
	buf = malloc(cap);
	ck_assert_ptr_nonnull(buf);
	for (;;) {
		if (used + 1 >= cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
		n = read(fd, buf + used, cap - used - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	close(fd);
	buf[used] = '\0';
	if (len)
		*len = used;
	return buf;
}

void t_assert_file_is_at(const char *path, const char *want, const char *file, int line)
{
	char *got = t_read_file(path, NULL);

	ck_assert_msg(got != NULL, "%s:%d: %s is missing (%s)", file, line, path, strerror(errno));
	ck_assert_msg(strcmp(got, want) == 0, "%s:%d: %s holds \"%s\", expected \"%s\"", file,
		      line, path, got, want);
	free(got);
}

/* Reads both pipes to their end at once, so neither writer blocks on a full pipe. */
static void slurp2(int fd1, int fd2, char **out1, char **out2)
{
	struct {
		int fd;
		char *buf;
		size_t len, cap;
	} s[2] = {{fd1, NULL, 0, 0}, {fd2, NULL, 0, 0}};
	int open_n = 2, i;

	for (i = 0; i < 2; i++) {
		s[i].cap = 4096;
		s[i].buf = malloc(s[i].cap);
		ck_assert(s[i].buf != NULL);
	}
	while (open_n > 0) {
		struct pollfd p[2];
		int n = 0, map[2];

		for (i = 0; i < 2; i++) {
			if (s[i].fd < 0)
				continue;
			p[n].fd = s[i].fd;
			p[n].events = POLLIN;
			map[n++] = i;
		}
		if (poll(p, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < n; i++) {
			int k = map[i];
			ssize_t got;

			if (!p[i].revents)
				continue;
			if (s[k].len + 4096 >= s[k].cap) {
				s[k].cap *= 2;
				s[k].buf = realloc(s[k].buf, s[k].cap);
				ck_assert(s[k].buf != NULL);
			}
			got = read(s[k].fd, s[k].buf + s[k].len, s[k].cap - s[k].len - 1);
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				s[k].fd = -1;
				open_n--;
				continue;
			}
			s[k].len += (size_t)got;
		}
	}
	for (i = 0; i < 2; i++)
		s[i].buf[s[i].len] = '\0';
	*out1 = s[0].buf;
	*out2 = s[1].buf;
}

int t_cli(const char *const *argv, const char *stdin_text, char **out, char **err)
{
	const char *bin = getenv("CACT_BIN");
	posix_spawn_file_actions_t fa;
	const char *args[64];
	int in[2], o[2], e[2], status;
	size_t n = 0;
	pid_t pid;
	char *ebuf;

	ck_assert_msg(bin != NULL, "CACT_BIN is not set");
	args[n++] = bin;
	while (argv[n - 1] && n < 63) {
		args[n] = argv[n - 1];
		n++;
	}
	args[n] = NULL;
	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(pipe(o), 0);
	ck_assert_int_eq(pipe(e), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, o[1], 1);
	posix_spawn_file_actions_adddup2(&fa, e[1], 2);
	posix_spawn_file_actions_addclose(&fa, in[1]);
	posix_spawn_file_actions_addclose(&fa, o[0]);
	posix_spawn_file_actions_addclose(&fa, e[0]);
	ck_assert_int_eq(posix_spawn(&pid, bin, &fa, NULL, (char *const *)args, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(o[1]);
	close(e[1]);
	if (stdin_text) {
		signal(SIGPIPE, SIG_IGN);
		if (write(in[1], stdin_text, strlen(stdin_text)) < 0)
			(void)0;
	}
	close(in[1]);
	slurp2(o[0], e[0], out, &ebuf);
	close(o[0]);
	close(e[0]);
	waitpid(pid, &status, 0);
	if (err)
		*err = ebuf;
	else
		free(ebuf);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int cmp_pid(const void *a, const void *b)
{
	return *(const pid_t *)a - *(const pid_t *)b;
}

pid_t *t_descendants(pid_t root, size_t *n)
{
	pid_t *all = calloc(4096, sizeof(pid_t));
	size_t head = 0, count = 0;
	pid_t queue[4096];
	size_t qn = 0;

	ck_assert(all != NULL);
	queue[qn++] = root;
	while (head < qn) {
		char path[128], tpath[512];
		pid_t p = queue[head++];
		DIR *tasks;
		struct dirent *de;

		snprintf(path, sizeof(path), "/proc/%d/task", (int)p);
		tasks = opendir(path);
		if (!tasks)
			continue;
		while ((de = readdir(tasks))) {
			FILE *f;
			int c;

			if (de->d_name[0] == '.')
				continue;
			snprintf(tpath, sizeof(tpath), "%s/%s/children", path, de->d_name);
			f = fopen(tpath, "r");
			if (!f)
				continue;
			while (fscanf(f, "%d", &c) == 1 && qn < 4096 && count < 4096) {
				queue[qn++] = c;
				all[count++] = c;
			}
			fclose(f);
		}
		closedir(tasks);
	}
	qsort(all, count, sizeof(pid_t), cmp_pid);
	*n = count;
	return all;
}

int t_main(const char *suite, const struct t_case *cases, size_t n, int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	Suite *s = suite_create(suite);
	SRunner *sr;
	size_t i;
	int failed, found = 0;

	if (only && strcmp(only, "--list") == 0) {
		for (i = 0; i < n; i++)
			puts(cases[i].name);
		return 0;
	}
	for (i = 0; i < n; i++) {
		TCase *tc;

		if (only && strcmp(only, cases[i].name) != 0)
			continue;
		found = 1;
		tc = tcase_create(cases[i].name);
		tcase_set_timeout(tc, cases[i].timeout_s);
		tcase_add_test(tc, cases[i].test);
		suite_add_tcase(s, tc);
	}
	if (!found) {
		fprintf(stderr, "%s: no test case named %s\n", suite, only);
		return 2;
	}
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
