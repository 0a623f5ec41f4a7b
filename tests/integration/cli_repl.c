/* SPDX-License-Identifier: MIT */
/*
 * cact repl, driven as a user drives it: cells on a pipe (state kept from
 * one cell to the next, "# %%" splitting, the exit status of the last
 * cell, the order of the streams, a timeout that ends the session, files
 * saved per cell, --json), and on a terminal this program holds the master
 * side of (prompts, multi-line input, Ctrl-C during a run and at the
 * prompt, Ctrl-D, a session that ends).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "../common.h"

/* Runs the CLI with a NULL-terminated argv built from the arguments. */
#define CLI(in, out, err, ...) t_cli((const char *const[]){__VA_ARGS__, NULL}, (in), (out), (err))

extern char **environ;

#define TRACEBACK "Traceback (most recent call last)"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Runs cact with argv (NULL-terminated, without argv[0]) and stdin_text on
 * a pipe, its stdout and stderr into one pipe, as a terminal would show
 * them. Returns the exit status; *both is owned.
 */
static int cli_merged(const char *const *argv, const char *stdin_text, char **both)
{
	const char *bin = getenv("CACT_BIN"), *args[64];
	posix_spawn_file_actions_t fa;
	size_t n = 0, len = 0, cap = 65536;
	int in[2], o[2], st;
	char *buf = malloc(cap);
	pid_t pid;

	ck_assert_msg(bin != NULL, "CACT_BIN is not set");
	ck_assert_ptr_nonnull(buf);
	args[n++] = bin;
	while (argv[n - 1] && n < 63) {
		args[n] = argv[n - 1];
		n++;
	}
	args[n] = NULL;
	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(o, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, o[1], 1);
	posix_spawn_file_actions_adddup2(&fa, o[1], 2);
	ck_assert_int_eq(posix_spawn(&pid, bin, &fa, NULL, (char *const *)args, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(o[1]);
	signal(SIGPIPE, SIG_IGN);
	if (write(in[1], stdin_text, strlen(stdin_text)) < 0)
		(void)0;
	close(in[1]);
	for (;;) {
		ssize_t r;

		if (len + 4096 + 1 > cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
		r = read(o[0], buf + len, 4096);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	close(o[0]);
	waitpid(pid, &st, 0);
	*both = buf;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---- cells on a pipe ---- */

START_TEST(cells_keep_state_in_order)
{
	char *out, *err, *both;
	int rc;

	/*
	 * An empty first cell (the input starts with a separator), a blank
	 * one, an error in the middle: the cells after it still run, with
	 * the globals as they were.
	 */
	rc = CLI("# %%\n"
		 "x = 41\n"
		 "# %%\n"
		 "\n"
		 "# %%\n"
		 "print(x + 1)\n"
		 "import sys\n"
		 "print('to stderr', file=sys.stderr)\n"
		 "# %%\n"
		 "x = 40\n"
		 "1/0\n"
		 "# %% not a separator\n"
		 "#%%\n"
		 "# %%\n"
		 "print('after the error')\n"
		 "x\n",
		 &out, &err, "repl");
	ck_assert_msg(rc == 0, "status %d\nstderr: %s", rc, err);
	ck_assert_str_eq(out, "42\nafter the error\n40\n");
	ck_assert_msg(strstr(err, "to stderr\n") && strstr(err, "ZeroDivisionError"), "stderr: %s",
		      err);
	ck_assert_msg(strstr(err, "to stderr\n") < strstr(err, "ZeroDivisionError"), "stderr: %s",
		      err);
	free(out);
	free(err);

	/* The exit status is the last cell's. */
	rc = CLI("print('first')\n# %%\nraise ValueError('the last cell')\n", &out, &err, "repl");
	ck_assert_msg(rc == 1, "status %d\nstderr: %s", rc, err);
	ck_assert_str_eq(out, "first\n");
	ck_assert_msg(strstr(err, "ValueError: the last cell"), "stderr: %s", err);
	free(out);
	free(err);

	/* Each cell's stdout, then its stderr, before the next cell's. */
	rc = cli_merged((const char *const[]){"repl", NULL},
			"import sys\n"
			"print('one out')\n"
			"print('one err', file=sys.stderr)\n"
			"# %%\n"
			"print('two out')\n"
			"print('two err', file=sys.stderr)\n",
			&both);
	ck_assert_msg(rc == 0, "status %d\noutput: %s", rc, both);
	ck_assert_str_eq(both, "one out\none err\ntwo out\ntwo err\n");
	free(both);
}
END_TEST

START_TEST(cells_timeout_ends_session)
{
	char *out, *err;
	int rc;

	rc = CLI("x = 1\nprint('one')\n"
		 "# %%\n"
		 "while True:\n    pass\n"
		 "# %%\n"
		 "print('never')\n"
		 "# %%\n"
		 "print('nor this')\n",
		 &out, &err, "repl", "--timeout", "1");
	ck_assert_msg(rc == 124, "status %d\nstdout: %s\nstderr: %s", rc, out, err);
	ck_assert_str_eq(out, "one\n");
	ck_assert_msg(strstr(err, "cact: session ended: timeout in run 2\n"), "stderr: %s", err);
	ck_assert_msg(strstr(err, "cact: 2 cells after it not run\n"), "stderr: %s", err);
	ck_assert_msg(!strstr(err, "never"), "stderr: %s", err);
	free(out);
	free(err);
}
END_TEST

START_TEST(cells_save_files_per_cell)
{
	char *dir = t_tmpdir(), *outdir = t_fmt("%s/out", dir), *out, *err, *p, *at;
	int rc, n;

	t_write(dir, "out/kept.txt", "there before");
	rc = CLI("open('/output/a.txt', 'w').write('first')\n"
		 "# %%\n"
		 "open('/output/b.txt', 'w').write('b')\n"
		 "# %%\n"
		 "open('/output/a.txt', 'w').write('second')\n"
		 "# %%\n"
		 "open('/output/kept.txt', 'w').write('from the code')\n",
		 &out, &err, "repl", "--output-dir", outdir);
	/* The last cell's file is in the way of one that was there before: 4. */
	ck_assert_msg(rc == 4, "status %d\nstderr: %s", rc, err);
	/* A later cell's version replaces what an earlier cell saved. */
	p = t_fmt("%s/a.txt", outdir);
	t_assert_file_is(p, "second");
	free(p);
	p = t_fmt("%s/b.txt", outdir);
	t_assert_file_is(p, "b");
	free(p);
	p = t_fmt("%s/kept.txt", outdir);
	t_assert_file_is(p, "there before");
	free(p);
	/* Each cell lists the files it added or changed: a.txt twice, b.txt once. */
	p = t_fmt("cact: file /output/a.txt (text/plain, 5 bytes) saved to %s/a.txt\n", outdir);
	ck_assert_msg((at = strstr(err, p)) != NULL, "stderr: %s", err);
	free(p);
	p = t_fmt("cact: file /output/a.txt (text/plain, 6 bytes) saved to %s/a.txt\n", outdir);
	ck_assert_msg(strstr(at, p) != NULL, "stderr: %s", err);
	free(p);
	for (n = 0, at = err; (at = strstr(at, "cact: file /output/b.txt")); at++)
		n++;
	ck_assert_msg(n == 1, "b.txt listed %d times: %s", n, err);
	ck_assert_msg(strstr(err, "cact repl: --output-dir: ") && strstr(err, "kept.txt"),
		      "stderr: %s", err);
	free(out);
	free(err);

	/* With --force the file that was there is replaced too. */
	rc = CLI("open('/output/kept.txt', 'w').write('forced')\n", &out, &err, "repl",
		 "--output-dir", outdir, "--force");
	ck_assert_msg(rc == 0, "status %d\nstderr: %s", rc, err);
	p = t_fmt("%s/kept.txt", outdir);
	t_assert_file_is(p, "forced");
	free(p);
	free(out);
	free(err);
	free(outdir);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(cells_json_one_result_each)
{
	char *out, *err, *line2;
	json_t *a, *b;
	int rc;

	rc = CLI("x = 2\nprint(x)\n# %%\nraise KeyError(x)\n", &out, &err, "repl", "--json");
	ck_assert_msg(rc == 1, "status %d\nstderr: %s", rc, err);
	line2 = strchr(out, '\n');
	ck_assert_msg(line2 && strchr(line2 + 1, '\n') == out + strlen(out) - 1,
		      "not two lines: %s", out);
	*line2++ = '\0';
	a = json_loads(out, 0, NULL);
	b = json_loads(line2, 0, NULL);
	ck_assert_msg(a && b, "not JSON: %s / %s", out, line2);
	ck_assert_str_eq(json_string_value(json_object_get(a, "status")), "ok");
	ck_assert_str_eq(json_string_value(json_object_get(a, "stdout")), "2\n");
	ck_assert_str_eq(json_string_value(json_object_get(b, "status")), "python_error");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(b, "error"), "type")),
			 "KeyError");
	json_decref(a);
	json_decref(b);
	free(out);
	free(err);
}
END_TEST

START_TEST(usage)
{
	char *out, *err;
	int rc;

	rc = CLI(NULL, &out, &err, "repl", "--help");
	ck_assert_msg(rc == 0, "status %d", rc);
	ck_assert_msg(strncmp(out, "usage: cact repl", 16) == 0, "stdout: %s", out);
	ck_assert_msg(strstr(out, "--output-dir") && strstr(out, "# %%"), "stdout: %s", out);
	free(out);
	free(err);
	/* The code comes from standard input: no -c, no FILE. */
	rc = CLI("1\n", &out, &err, "repl", "-c", "1");
	ck_assert_msg(rc == 2, "status %d", rc);
	ck_assert_msg(strncmp(err, "cact repl: unknown option -c", 28) == 0, "stderr: %s", err);
	free(out);
	free(err);
	rc = CLI("1\n", &out, &err, "repl", "code.py");
	ck_assert_msg(rc == 2, "status %d", rc);
	ck_assert_msg(strncmp(err, "cact repl: ", 11) == 0, "stderr: %s", err);
	free(out);
	free(err);
	/* The options are cact exec's, checked the same way. */
	rc = CLI("1\n", &out, &err, "repl", "--timeout", "soon");
	ck_assert_msg(rc == 2, "status %d", rc);
	ck_assert_msg(strncmp(err, "cact repl: --timeout: ", 22) == 0, "stderr: %s", err);
	free(out);
	free(err);
}
END_TEST

/* ---- on a terminal ---- */

struct pty {
	pid_t pid;
	int master;
	char *buf; /* everything the terminal showed, NUL-terminated */
	size_t len, cap, seen;
};

/* Reads what the terminal shows for up to ms milliseconds; 0 at its end. */
static int pty_read(struct pty *p, int ms)
{
	struct pollfd pfd = {.fd = p->master, .events = POLLIN};
	ssize_t n;

	if (poll(&pfd, 1, ms) <= 0)
		return 1;
	if (p->len + 4096 + 1 > p->cap) {
		p->cap = (p->cap + 4096) * 2;
		p->buf = realloc(p->buf, p->cap);
		ck_assert_ptr_nonnull(p->buf);
	}
	n = read(p->master, p->buf + p->len, 4096);
	if (n < 0 && errno == EINTR)
		return 1;
	if (n <= 0)
		return 0; /* EIO: no one has the terminal open any more */
	p->len += (size_t)n;
	p->buf[p->len] = '\0';
	return 1;
}

/*
 * Starts cact with argv on a new terminal: its standard input, output and
 * error, and its controlling terminal (so that Ctrl-C typed there is its
 * SIGINT). No output processing: what the terminal shows is what cact
 * wrote, plus the echo of what is typed. Skips when the machine gives no
 * pseudo-terminal.
 */
static int pty_start(struct pty *p, const char *const *argv)
{
	const char *bin = getenv("CACT_BIN"), *args[64];
	char *slave;
	size_t n = 0;

	memset(p, 0, sizeof(*p));
	ck_assert_msg(bin != NULL, "CACT_BIN is not set");
	p->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (p->master < 0 || grantpt(p->master) || unlockpt(p->master) ||
	    !(slave = ptsname(p->master))) {
		printf("skipped: no pseudo-terminal on this machine (/dev/ptmx: %s)\n",
		       strerror(errno));
		return -1;
	}
	slave = strdup(slave);
	args[n++] = bin;
	while (argv[n - 1] && n < 63) {
		args[n] = argv[n - 1];
		n++;
	}
	args[n] = NULL;
	p->pid = fork();
	ck_assert_int_ge(p->pid, 0);
	if (p->pid == 0) {
		struct termios t;
		int s;

		if (setsid() < 0 || (s = open(slave, O_RDWR)) < 0 || ioctl(s, TIOCSCTTY, 0) < 0)
			_exit(90);
		if (tcgetattr(s, &t) == 0) {
			t.c_oflag &= ~(tcflag_t)OPOST;
			tcsetattr(s, TCSANOW, &t);
		}
		if (dup2(s, 0) < 0 || dup2(s, 1) < 0 || dup2(s, 2) < 0)
			_exit(91);
		signal(SIGINT, SIG_DFL);
		execve(bin, (char *const *)args, environ);
		_exit(92);
	}
	free(slave);
	p->cap = 65536;
	p->buf = calloc(1, p->cap);
	ck_assert_ptr_nonnull(p->buf);
	return 0;
}

/*
 * Waits up to ms milliseconds until the terminal shows want after what
 * earlier waits matched; 1 when it did (and moves past it), 0 when not.
 */
static int pty_saw(struct pty *p, const char *want, int ms)
{
	double end = now_s() + ms / 1000.0;
	char *at;

	while (!(at = memmem(p->buf + p->seen, p->len - p->seen, want, strlen(want)))) {
		if (now_s() >= end || !pty_read(p, 50))
			return 0;
	}
	p->seen = (size_t)(at - p->buf) + strlen(want);
	return 1;
}

/* Waits (up to 60 s) until the terminal shows want. */
static void pty_wait(struct pty *p, const char *want)
{
	ck_assert_msg(pty_saw(p, want, 60000),
		      "the terminal never showed '%s'; it showed:\n%.4000s", want,
		      p->buf + p->seen);
}

/* Types a line, or a control character when line is "\x03" or "\x04". */
static void pty_type(struct pty *p, const char *line)
{
	char *l = line[0] == '\x03' || line[0] == '\x04' ? strdup(line) : t_fmt("%s\n", line);

	ck_assert_int_eq(write(p->master, l, strlen(l)), (ssize_t)strlen(l));
	free(l);
}

/* Types a line once the prompt shows. */
static void pty_enter(struct pty *p, const char *prompt, const char *line)
{
	pty_wait(p, prompt);
	pty_type(p, line);
}

/* Reads the terminal until cact exits (60 s at most); its exit status. */
static int pty_end(struct pty *p)
{
	double end = now_s() + 60;
	int st;

	for (;;) {
		pid_t w = waitpid(p->pid, &st, WNOHANG);

		if (w == p->pid)
			break;
		if (now_s() > end) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &st, 0);
			ck_abort_msg("cact did not exit; the terminal showed:\n%.4000s", p->buf);
		}
		pty_read(p, 100);
	}
	/* What it wrote last, until the terminal ends or stays quiet. */
	for (;;) {
		size_t before = p->len;

		if (!pty_read(p, 200) || p->len == before)
			break;
	}
	close(p->master);
	ck_assert_msg(WIFEXITED(st), "cact died: %d; the terminal showed:\n%.4000s", st, p->buf);
	ck_assert_msg(WEXITSTATUS(st) < 90 || WEXITSTATUS(st) > 92,
		      "the terminal could not be set up (%d)", WEXITSTATUS(st));
	return WEXITSTATUS(st);
}

START_TEST(tty_prompts_and_multiline)
{
	struct pty p;
	int rc;

	if (pty_start(&p, (const char *const[]){"repl", NULL}))
		return;
	/* A compound statement goes on until an empty line. */
	pty_enter(&p, ">>> ", "def f(x):");
	pty_enter(&p, "... ", "    return x * 2");
	pty_enter(&p, "... ", "");
	pty_enter(&p, ">>> ", "print('f gives', f(21))");
	pty_wait(&p, "f gives 42\n");
	/* An open bracket, a triple-quoted string, a backslash: the next line continues. */
	pty_enter(&p, ">>> ", "xs = [1,");
	pty_enter(&p, "... ", "      2]");
	pty_enter(&p, ">>> ", "s = '''a");
	pty_enter(&p, "... ", "b'''");
	pty_enter(&p, ">>> ", "t = 40 + \\");
	pty_enter(&p, "... ", "2");
	/* A final expression's repr, as python3 shows it. */
	pty_enter(&p, ">>> ", "(sum(xs), s, t)");
	pty_wait(&p, "(3, 'a\\nb', 42)\n");
	/* A one-line compound statement waits for the empty line too, as in python3. */
	pty_enter(&p, ">>> ", "if True: print('one' + 'liner')");
	pty_enter(&p, "... ", "");
	pty_wait(&p, "oneliner\n");
	/* Brackets and '#' inside a string open nothing. */
	pty_enter(&p, ">>> ", "s2 = '(#['");
	pty_enter(&p, ">>> ", "print('s2 has', len(s2))");
	pty_wait(&p, "s2 has 3\n");
	/* A decorator waits for what it decorates and the empty line. */
	pty_enter(&p, ">>> ", "def deco(f): return f");
	pty_enter(&p, "... ", "");
	pty_enter(&p, ">>> ", "@deco");
	pty_enter(&p, "... ", "def g(): return 'deco' + 'rated'");
	pty_enter(&p, "... ", "");
	pty_enter(&p, ">>> ", "print(g())");
	pty_wait(&p, "decorated\n");
	/* An error: the traceback, and the session goes on. */
	pty_enter(&p, ">>> ", "undefined_name");
	pty_wait(&p, "NameError: name 'undefined_name' is not defined\n");
	pty_enter(&p, ">>> ", "print('still', t)");
	pty_wait(&p, "still 42\n");
	/* Ctrl-D at the prompt: status 0. */
	pty_wait(&p, ">>> ");
	pty_type(&p, "\x04");
	rc = pty_end(&p);
	ck_assert_msg(rc == 0, "status %d; the terminal showed:\n%s", rc, p.buf);
	free(p.buf);
}
END_TEST

START_TEST(tty_ctrl_c_interrupts_run)
{
	struct pty p;
	int rc, attempt, done = 0;

	if (pty_start(&p, (const char *const[]){"repl", "--timeout", "120", NULL}))
		return;
	pty_enter(&p, ">>> ", "n = 5");
	/*
	 * Nothing shows when the run has started, so Ctrl-C is pressed a
	 * moment after the input: if it came too early (at the prompt, where
	 * it discards the input; or before the code could take it), the
	 * attempt is made again. Never more than two presses in one run.
	 */
	for (attempt = 0; attempt < 5 && !done; attempt++) {
		int press;

		pty_enter(&p, ">>> ", "while True: pass");
		pty_enter(&p, "... ", "");
		for (press = 0; press < 2 && !done; press++) {
			size_t from = p.seen;

			usleep(300 * 1000);
			pty_type(&p, "\x03");
			if (!pty_saw(&p, "KeyboardInterrupt\n", 10000))
				continue;
			/* Without a traceback it came at the prompt: the input was dropped. */
			done = memmem(p.buf + from, p.seen - from, TRACEBACK, strlen(TRACEBACK)) !=
			       NULL;
			break;
		}
	}
	ck_assert_msg(done, "Ctrl-C never interrupted the run; the terminal showed:\n%s", p.buf);
	/* The session survived, with its globals. */
	pty_enter(&p, ">>> ", "print('n is', n)");
	pty_wait(&p, "n is 5\n");
	pty_wait(&p, ">>> ");
	pty_type(&p, "\x04");
	rc = pty_end(&p);
	ck_assert_msg(rc == 0, "status %d; the terminal showed:\n%s", rc, p.buf);
	ck_assert_msg(!strstr(p.buf, "session ended"), "the terminal showed:\n%s", p.buf);
	free(p.buf);
}
END_TEST

START_TEST(tty_ctrl_c_at_prompt_discards_input)
{
	struct pty p;
	int rc;

	if (pty_start(&p, (const char *const[]){"repl", NULL}))
		return;
	pty_enter(&p, ">>> ", "y = (1,");
	pty_wait(&p, "... ");
	pty_type(&p, "\x03");
	pty_wait(&p, "KeyboardInterrupt\n");
	/* A fresh input: "(1," was dropped, not joined to what follows. */
	pty_enter(&p, ">>> ", "y = 2");
	pty_enter(&p, ">>> ", "print('y is', y)");
	pty_wait(&p, "y is 2\n");
	pty_wait(&p, ">>> ");
	pty_type(&p, "\x04");
	rc = pty_end(&p);
	ck_assert_msg(rc == 0, "status %d; the terminal showed:\n%s", rc, p.buf);
	ck_assert_msg(!strstr(p.buf, "Traceback"), "the terminal showed:\n%s", p.buf);
	free(p.buf);
}
END_TEST

START_TEST(tty_session_end_exits)
{
	struct pty p;
	int rc;

	if (pty_start(&p, (const char *const[]){"repl", "--timeout", "1", NULL}))
		return;
	pty_enter(&p, ">>> ", "x = 1");
	pty_enter(&p, ">>> ", "while True: pass");
	pty_enter(&p, "... ", "");
	/* Said, and no fresh interpreter: cact repl exits with the run's status. */
	pty_wait(&p, "cact: session ended: timeout in run 2\n");
	rc = pty_end(&p);
	ck_assert_msg(rc == 124, "status %d; the terminal showed:\n%s", rc, p.buf);
	ck_assert_msg(!memmem(p.buf + p.seen, p.len - p.seen, ">>> ", 4),
		      "a prompt after the end; the terminal showed:\n%s", p.buf);
	free(p.buf);
}
END_TEST

START_TEST(tty_json_refused)
{
	struct pty p;
	int rc;

	if (pty_start(&p, (const char *const[]){"repl", "--json", NULL}))
		return;
	pty_wait(&p, "cact repl: --json is for cells");
	rc = pty_end(&p);
	ck_assert_msg(rc == 2, "status %d; the terminal showed:\n%s", rc, p.buf);
	free(p.buf);
}
END_TEST

int main(int argc, char **argv)
{
	const struct t_case cases[] = {
		T_CASE(cells_keep_state_in_order, 90),
		T_CASE(cells_timeout_ends_session, 90),
		T_CASE(cells_save_files_per_cell, 90),
		T_CASE(cells_json_one_result_each, 60),
		T_CASE(usage, 60),
		T_CASE(tty_prompts_and_multiline, 90),
		T_CASE(tty_ctrl_c_interrupts_run, 240),
		T_CASE(tty_ctrl_c_at_prompt_discards_input, 90),
		T_CASE(tty_session_end_exits, 90),
		T_CASE(tty_json_refused, 60),
	};

	return t_main("cli_repl", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
