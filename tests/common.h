/* SPDX-License-Identifier: MIT */
/* Helpers shared by the test programs. */
#ifndef CACT_TESTS_COMMON_H
#define CACT_TESTS_COMMON_H

#include <check.h>
#include <stddef.h>
#include <sys/types.h>

#include <cact/cact.h>

/* A runtime for one test (full isolation, pool of 1); fails the test when it cannot start. */
struct cact_runtime *t_runtime(void);
struct cact_runtime *t_runtime_opts(const struct cact_runtime_options *o);

/*
 * Runs code with default limits (timeout_ms when non-zero) and returns the
 * result (owned). Fails the test when the run itself errors.
 */
struct cact_result *t_run(struct cact_runtime *rt, const char *code, unsigned timeout_ms);
/* Same with a prepared request. */
struct cact_result *t_run_req(struct cact_runtime *rt, struct cact_request *req);

/* stdout / stderr of a result as C strings (borrowed). */
const char *t_out(const struct cact_result *r);
const char *t_err(const struct cact_result *r);

/* Asserts the status, printing stdout/stderr/error when it differs. */
/*
 * Descriptors the runtime holds for each prepared child: wire, stdout,
 * stderr, pidfd, stop pipe, eventfd. Leak checks subtract them: how many
 * children are prepared depends on how fast the pool refills.
 */
#define T_FDS_PER_CHILD 6

#define t_assert_status(r, s) t_assert_status_at((r), (s), __FILE__, __LINE__)
void t_assert_status_at(const struct cact_result *r, enum cact_status s, const char *file,
			int line);

/* A fresh temporary folder (mode 0755) under /tmp; removed by t_rmtree. Owned. */
char *t_tmpdir(void);
void t_rmtree(const char *path);
/* Writes text into dir/name (creating folders). */
void t_write(const char *dir, const char *name, const char *text);
/*
 * The whole of a file, NUL-terminated (free()), its length in *len (may be
 * NULL); NULL with errno set when it cannot be opened. The last component
 * is not followed when it is a symbolic link.
 */
char *t_read_file(const char *path, size_t *len);
/* Asserts that path is a regular file holding exactly want. */
#define t_assert_file_is(path, want) t_assert_file_is_at((path), (want), __FILE__, __LINE__)
void t_assert_file_is_at(const char *path, const char *want, const char *file, int line);
/* printf into a new string (free()); fails the test when out of memory. */
char *t_fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

/*
 * Runs the cact CLI ($CACT_BIN) with argv (NULL-terminated, without argv[0]),
 * feeding stdin_text (may be NULL). Captured output is owned by the caller.
 * Returns the exit status (or 128+signal).
 */
int t_cli(const char *const *argv, const char *stdin_text, char **out, char **err);

/* Pids of every process below pid (children, grandchildren...), sorted; count in *n. */
pid_t *t_descendants(pid_t pid, size_t *n);

/*
 * One test case: a Check test of its own, registered with Meson as its own
 * test. tests/meson.build reads the T_CASE lines of each test program, so
 * write them one per line.
 */
struct t_case {
	const char *name;
	const TTest *test;
	int timeout_s;
};
#define T_CASE(fn, secs)      \
	{                     \
#fn, fn, secs \
	}

/*
 * Runs the named case (argv[1]), or all of them; "--list" prints the names.
 * Each case runs in a forked child (Check's CK_FORK), so a crash or kill
 * fails that case only.
 */
int t_main(const char *suite, const struct t_case *cases, size_t n, int argc, char **argv);

#endif
