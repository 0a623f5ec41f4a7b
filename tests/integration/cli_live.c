/* SPDX-License-Identifier: MIT */
/*
 * cact exec shows the code's output as it comes. The code prints, then
 * sleeps until the test lets it go on (a file the test creates in a folder
 * mounted at /input), then prints again: the first line must be read from
 * cact's stdout while the code is still waiting, or the code never goes on
 * and the test fails on what it reads. No clock is involved.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "../common.h"

extern char **environ;

struct proc {
	pid_t pid;
	int out, err;
};

/* Starts cact with argv, its standard input from the file at in. */
static void spawn_in(struct proc *p, const char *const *argv, const char *in)
{
	const char *bin = getenv("CACT_BIN");
	posix_spawn_file_actions_t fa;
	const char *args[32];
	int o[2], e[2];
	size_t n = 0;

	ck_assert_msg(bin != NULL, "CACT_BIN is not set");
	args[n++] = bin;
	while (argv[n - 1] && n < 31) {
		args[n] = argv[n - 1];
		n++;
	}
	args[n] = NULL;
	ck_assert_int_eq(pipe(o), 0);
	ck_assert_int_eq(pipe(e), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, in, O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, o[1], 1);
	posix_spawn_file_actions_adddup2(&fa, e[1], 2);
	posix_spawn_file_actions_addclose(&fa, o[0]);
	posix_spawn_file_actions_addclose(&fa, e[0]);
	ck_assert_int_eq(posix_spawn(&p->pid, bin, &fa, NULL, (char *const *)args, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(o[1]);
	close(e[1]);
	p->out = o[0];
	p->err = e[0];
}

static void spawn(struct proc *p, const char *const *argv)
{
	spawn_in(p, argv, "/dev/null");
}

/*
 * Reads fd until buf (size bytes, NUL-terminated) ends with want, or until
 * end of file. Returns the length read.
 */
static size_t read_until(int fd, char *buf, size_t size, const char *want)
{
	size_t got = 0;

	buf[0] = '\0';
	while (got + 1 < size) {
		ssize_t n = read(fd, buf + got, size - 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		buf[got] = '\0';
		if (want && got >= strlen(want) && strcmp(buf + got - strlen(want), want) == 0)
			break;
	}
	return got;
}

static int finish(struct proc *p, char *err, size_t size)
{
	int status;

	read_until(p->err, err, size, NULL);
	close(p->out);
	close(p->err);
	ck_assert_int_eq(waitpid(p->pid, &status, 0), p->pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The code waits (at most 60 s) for /input/sync/go, which the test creates. */
static const char gated[] = "import os, sys, time\n"
			    "print('first')\n"
			    "print('first err', file=sys.stderr)\n"
			    "for _ in range(1200):\n"
			    "    if os.path.exists('/input/sync/go'):\n"
			    "        break\n"
			    "    time.sleep(0.05)\n"
			    "else:\n"
			    "    print('never let go')\n"
			    "print('second')\n";

START_TEST(exec_writes_output_as_it_comes)
{
	char *dir = t_tmpdir(), *mount = t_fmt("%s=sync", dir), *go = t_fmt("%s/go", dir);
	char out[4096], err[4096];
	struct proc p;
	int rc;

	spawn(&p, (const char *const[]){"exec", "--timeout", "90", "--mount", mount, "-c", gated,
					NULL});
	/* Both streams' first lines arrive while the code waits for go. */
	read_until(p.out, out, sizeof(out), "first\n");
	ck_assert_str_eq(out, "first\n");
	read_until(p.err, err, sizeof(err), "first err\n");
	ck_assert_str_eq(err, "first err\n");
	ck_assert_int_eq(waitpid(p.pid, &rc, WNOHANG), 0); /* still running */
	t_write(dir, "go", "");
	read_until(p.out, out, sizeof(out), NULL);
	ck_assert_str_eq(out, "second\n");
	rc = finish(&p, err, sizeof(err));
	ck_assert_msg(rc == 0, "exit %d, stderr: %s", rc, err);
	ck_assert_str_eq(err, "");
	t_rmtree(dir);
	free(dir);
	free(mount);
	free(go);
}
END_TEST

/* cact repl streams each cell's output as it comes too, in a session. */
START_TEST(repl_writes_output_as_it_comes)
{
	char *dir = t_tmpdir(), *mount = t_fmt("%s=sync", dir);
	char *cells = t_fmt("x = 'second'\n# %%%%\n%s", gated), *in;
	char out[4096], err[4096];
	struct proc p;
	int rc;

	/* The gated code prints x at the end: the second cell sees the first's variable. */
	*strstr(cells, "print('second')") = '\0';
	in = t_fmt("%sprint(x)\n", cells);
	t_write(dir, "cells.py", in);
	free(cells);
	cells = t_fmt("%s/cells.py", dir);
	spawn_in(&p, (const char *const[]){"repl", "--timeout", "90", "--mount", mount, NULL},
		 cells);
	read_until(p.out, out, sizeof(out), "first\n");
	ck_assert_str_eq(out, "first\n");
	read_until(p.err, err, sizeof(err), "first err\n");
	ck_assert_str_eq(err, "first err\n");
	ck_assert_int_eq(waitpid(p.pid, &rc, WNOHANG), 0); /* still running */
	t_write(dir, "go", "");
	read_until(p.out, out, sizeof(out), NULL);
	ck_assert_str_eq(out, "second\n");
	rc = finish(&p, err, sizeof(err));
	ck_assert_msg(rc == 0, "exit %d, stderr: %s", rc, err);
	ck_assert_str_eq(err, "");
	t_rmtree(dir);
	free(dir);
	free(mount);
	free(cells);
	free(in);
}
END_TEST

/* --json: one document at the end (stdout is that document alone), the whole output in it. */
START_TEST(exec_json_prints_once_at_the_end)
{
	char *dir = t_tmpdir(), *mount = t_fmt("%s=sync", dir);
	char out[65536], err[4096];
	json_t *j;
	struct proc p;
	int rc;

	t_write(dir, "go", "");
	spawn(&p, (const char *const[]){"exec", "--json", "--timeout", "90", "--mount", mount, "-c",
					gated, NULL});
	read_until(p.out, out, sizeof(out), NULL);
	rc = finish(&p, err, sizeof(err));
	ck_assert_msg(rc == 0, "exit %d, stderr: %s", rc, err);
	j = json_loads(out, 0, NULL); /* one value, nothing before or after it */
	ck_assert_msg(j != NULL, "not one JSON document: %s", out);
	ck_assert_str_eq(json_string_value(json_object_get(j, "stdout")), "first\nsecond\n");
	ck_assert_str_eq(json_string_value(json_object_get(j, "stderr")), "first err\n");
	json_decref(j);
	t_rmtree(dir);
	free(dir);
	free(mount);
}
END_TEST

/* A truncated stream ends with the marker, once; the status line follows on stderr. */
START_TEST(exec_live_output_keeps_caps)
{
	char *out = NULL, *err = NULL;
	const char *marker = "[... output truncated by cact: more than 1048576 bytes ...]\n";
	int rc = t_cli((const char *const[]){"exec", "-c",
					     "import sys\n"
					     "sys.stdout.write('x' * 1500000)\n"
					     "raise SystemExit(3)\n",
					     NULL},
		       NULL, &out, &err);
	size_t len = strlen(out);

	ck_assert_msg(rc == 1, "exit %d, stderr: %s", rc, err);
	ck_assert_uint_eq(len, 1048576 + 1 + strlen(marker));
	ck_assert_str_eq(out + len - strlen(marker), marker);
	ck_assert_ptr_eq(strstr(out, "[... output"), out + len - strlen(marker));
	free(out);
	free(err);
}
END_TEST

/*
 * Nobody reads cact's stdout while the code writes more than a pipe holds:
 * the code goes on (its tool call, a command on the host, creates a file),
 * and everything is there when stdout is read at last.
 */
START_TEST(exec_slow_reader_does_not_hold_the_code)
{
	char *dir = t_tmpdir(), *marker = t_fmt("%s/marker", dir), *cfg = t_fmt("%s/cfg.json", dir);
	char *text = t_fmt("{\"tools\": [{\"name\": \"mark\", \"command\": [\"/bin/sh\", "
			   "\"-c\", \"cat >/dev/null; : > '%s'; echo null\"]}]}",
			   marker);
	static char out[400000];
	char err[4096];
	struct proc p;
	size_t got;
	int rc, i;

	t_write(dir, "cfg.json", text);
	spawn(&p, (const char *const[]){"exec", "--config", cfg, "--timeout", "90", "-c",
					"import sys\n"
					"sys.stdout.write('x' * 300000 + '\\n')\n"
					"call_tool('mark')\n"
					"print('end')\n",
					NULL});
	for (i = 0; i < 600 && access(marker, F_OK) != 0; i++)
		usleep(50000);
	ck_assert_msg(access(marker, F_OK) == 0, "the code did not get past its write");
	got = read_until(p.out, out, sizeof(out), NULL);
	rc = finish(&p, err, sizeof(err));
	ck_assert_msg(rc == 0, "exit %d, stderr: %s", rc, err);
	ck_assert_uint_eq(got, 300000 + 1 + 4);
	ck_assert_str_eq(out + 300001, "end\n");
	t_rmtree(dir);
	free(dir);
	free(marker);
	free(cfg);
	free(text);
}
END_TEST

int main(int argc, char **argv)
{
	const struct t_case cases[] = {
		T_CASE(exec_writes_output_as_it_comes, 120),
		T_CASE(repl_writes_output_as_it_comes, 120),
		T_CASE(exec_json_prints_once_at_the_end, 120),
		T_CASE(exec_live_output_keeps_caps, 120),
		T_CASE(exec_slow_reader_does_not_hold_the_code, 120),
	};

	return t_main("cli_live", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
