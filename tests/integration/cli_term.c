/* SPDX-License-Identifier: MIT */
/*
 * What the CLI shows on a terminal (cli/term.c, cli/approve.c): names from
 * /output with newlines, escape sequences, bidi and C1 characters, printed
 * by cact exec and cact agent; and the approval question, asked on a real
 * terminal (a pseudo-terminal this program holds the master side of): every
 * argument shown, a cut marked with its size, a plain y refused while part
 * of a call is unseen, controls escaped.
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

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Fails when any of the raw byte sequences a terminal would act on is in s[0..len). */
static void assert_no_raw(const char *s, size_t len, const char *what)
{
	static const struct {
		const char *bytes, *name;
	} raw[] = {
		{"\x1b", "ESC"},
		{"\x7f", "DEL"},
		{"\r", "CR"},
		{"\xc2\x85", "U+0085"},
		{"\xc2\x9b", "U+009B"},
		{"\xe2\x80\xae", "U+202E"},
		{"\xe2\x81\xa6", "U+2066"},
		{"\xe2\x80\x8f", "U+200F"},
		{"\xff", "byte 0xff"},
	};
	size_t i;

	for (i = 0; i < sizeof(raw) / sizeof(raw[0]); i++)
		ck_assert_msg(!memmem(s, len, raw[i].bytes, strlen(raw[i].bytes)),
			      "%s holds a raw %s:\n%.3000s", what, raw[i].name, s);
}

/* ---- cact exec: names from /output ---- */

/* Files named to forge lines, recolour the terminal, reorder text or hide characters. */
static const char files_code[] =
	"import os\n"
	"for n in ['a\\ncact: skipped forged.txt: symbolic link, not followed', 'e\\x1b[31mred',\n"
	"          'bidi\\u202eexe.txt', 'c1\\u009b', 'del\\x7f', 'lit\\\\x1b', 'cr\\rx']:\n"
	"    open('/output/' + n, 'w').write('x')\n"
	"os.symlink('/etc/passwd', '/output/link\\x1b]0;title\\x07')\n";

/* The lines cact exec prints for files_code's files (sorted by name), after prefix and before suffix. */
static const char *const files_lines[] = {
	"/output/a\\ncact: skipped forged.txt: symbolic link, not followed "
	"(application/octet-stream, 1 bytes)",
	"/output/bidi\\u202eexe.txt (text/plain, 1 bytes)",
	"/output/c1\\u009b (application/octet-stream, 1 bytes)",
	"/output/cr\\rx (application/octet-stream, 1 bytes)",
	"/output/del\\x7f (application/octet-stream, 1 bytes)",
	"/output/e\\x1b[31mred (application/octet-stream, 1 bytes)",
	"/output/lit\\\\x1b (application/octet-stream, 1 bytes)",
};

START_TEST(exec_output_names_escaped)
{
	char *out, *err, *want = strdup(""), *w;
	size_t i;
	int rc;

	rc = CLI(NULL, &out, &err, "exec", "-c", files_code);
	ck_assert_msg(rc == 0, "status %d\nstderr: %s", rc, err);
	for (i = 0; i < sizeof(files_lines) / sizeof(files_lines[0]); i++) {
		w = t_fmt("%scact: file %s\n", want, files_lines[i]);
		free(want);
		want = w;
	}
	w = t_fmt("%scact: skipped /output/link\\x1b]0;title\\x07: symbolic link, not followed\n",
		  want);
	free(want);
	want = w;
	assert_no_raw(err, strlen(err), "stderr");
	/* One line per file: a newline in a name forges none. */
	ck_assert_str_eq(err, want);
	free(want);
	free(out);
	free(err);
}
END_TEST

START_TEST(exec_saved_names_escaped)
{
	char *dir = t_tmpdir(), *outdir = t_fmt("%s/out", dir), *out, *err, *want = strdup(""), *w;
	size_t i;
	int rc;

	rc = CLI(NULL, &out, &err, "exec", "--output-dir", outdir, "-c", files_code);
	ck_assert_msg(rc == 0, "status %d\nstderr: %s", rc, err);
	for (i = 0; i < sizeof(files_lines) / sizeof(files_lines[0]); i++) {
		const char *name = files_lines[i] + strlen("/output"), *sp = strrchr(name, '(') - 1;

		w = t_fmt("%scact: file %s saved to %s%.*s\n", want, files_lines[i], outdir,
			  (int)(sp - name), name);
		free(want);
		want = w;
	}
	assert_no_raw(err, strlen(err), "stderr");
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "stderr:\n%s\nexpected:\n%s", err,
		      want);
	free(out);
	free(err);
	/* Again, into the same folder: the error names the file that is in the way. */
	rc = CLI(NULL, &out, &err, "exec", "--output-dir", outdir, "-c",
		 "open('/output/e\\x1b[31mred', 'w').write('x')\n");
	ck_assert_msg(rc != 0, "status %d\nstderr: %s", rc, err);
	assert_no_raw(err, strlen(err), "stderr");
	ck_assert_msg(strstr(err, "cact exec: --output-dir: ") && strstr(err, "e\\x1b[31mred"),
		      "stderr: %s", err);
	for (w = err; *w; w = strchr(w, '\n') + 1)
		ck_assert_msg(strncmp(w, "cact", 4) == 0 && strchr(w, '\n'), "stderr: %s", err);
	free(out);
	free(err);
	free(want);
	free(outdir);
	t_rmtree(dir);
	free(dir);
}
END_TEST

/* ---- a terminal to answer on ---- */

struct pty {
	pid_t pid;
	int master;
	char *buf; /* everything the terminal showed, NUL-terminated */
	size_t len, cap, seen;
	char *dir, *out_path, *err_path;
	int status;
};

/* Reads what the terminal shows for up to ms milliseconds; 0 at its end (or on error). */
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
 * Starts cact with argv on a new terminal of its own (its controlling
 * terminal, where /dev/tty leads), stdin /dev/null, stdout and stderr into
 * files. Skips the test when the machine gives no pseudo-terminal.
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
	p->dir = t_tmpdir();
	p->out_path = t_fmt("%s/stdout", p->dir);
	p->err_path = t_fmt("%s/stderr", p->dir);
	args[n++] = bin;
	while (argv[n - 1] && n < 63) {
		args[n] = argv[n - 1];
		n++;
	}
	args[n] = NULL;
	p->pid = fork();
	ck_assert_int_ge(p->pid, 0);
	if (p->pid == 0) {
		int s, in, o, e;
		struct termios t;

		/* A session of its own whose controlling terminal is the pty; s stays open. */
		if (setsid() < 0 || (s = open(slave, O_RDWR)) < 0 || ioctl(s, TIOCSCTTY, 0) < 0)
			_exit(90);
		/* No output processing: a CR the terminal shows came from cact. */
		if (tcgetattr(s, &t) == 0) {
			t.c_oflag &= ~(tcflag_t)OPOST;
			tcsetattr(s, TCSANOW, &t);
		}
		in = open("/dev/null", O_RDONLY);
		o = open(p->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		e = open(p->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (in < 0 || o < 0 || e < 0 || dup2(in, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(91);
		execve(bin, (char *const *)args, environ);
		_exit(92);
	}
	free(slave);
	p->cap = 65536;
	p->buf = calloc(1, p->cap);
	ck_assert_ptr_nonnull(p->buf);
	return 0;
}

/* Waits (up to 60 s) until the terminal shows want after what earlier waits matched. */
static void pty_wait(struct pty *p, const char *want)
{
	double end = now_s() + 60;
	char *at;

	while (!(at = memmem(p->buf + p->seen, p->len - p->seen, want, strlen(want)))) {
		ck_assert_msg(now_s() < end && pty_read(p, 100),
			      "the terminal never showed '%s'; it showed:\n%.4000s", want,
			      p->buf + p->seen);
	}
	p->seen = (size_t)(at - p->buf) + strlen(want);
}

/* Whether the terminal showed s before the last match. */
static int pty_showed(const struct pty *p, const char *s)
{
	return memmem(p->buf, p->seen, s, strlen(s)) != NULL;
}

/* Types a line on the terminal. */
static void pty_type(struct pty *p, const char *line)
{
	char *l = t_fmt("%s\n", line);

	ck_assert_int_eq(write(p->master, l, strlen(l)), (ssize_t)strlen(l));
	free(l);
}

static char *slurp_file(const char *path)
{
	char *s = t_read_file(path, NULL);

	ck_assert_msg(s != NULL, "%s: %s", path, strerror(errno));
	return s;
}

/* Reads the terminal until cact exits (60 s at most); its exit status, stdout and stderr. */
static int pty_end(struct pty *p, char **out, char **err)
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
			ck_abort_msg("cact did not exit; the terminal showed:\n%.4000s",
				     p->buf + p->seen);
		}
		pty_read(p, 100);
	}
	/* What it wrote last, until the terminal ends or stays quiet. */
	for (;;) {
		size_t before = p->len;

		if (!pty_read(p, 200) || p->len == before)
			break;
	}
	ck_assert_msg(WIFEXITED(st), "cact died: %d", st);
	ck_assert_msg(WEXITSTATUS(st) < 90 || WEXITSTATUS(st) > 92,
		      "the terminal could not be set up (%d)", WEXITSTATUS(st));
	*out = slurp_file(p->out_path);
	*err = slurp_file(p->err_path);
	p->seen = p->len;
	close(p->master);
	t_rmtree(p->dir);
	free(p->dir);
	free(p->out_path);
	free(p->err_path);
	return WEXITSTATUS(st);
}

/* ---- cact exec --approve ask ---- */

static const char send_py[] = "import json, sys\n"
			      "a = json.load(sys.stdin)\n"
			      "json.dump({'sent': a['to']}, sys.stdout)\n";

/* A folder with send.py and cact.json: send requires approval (path of the config in *cfg). */
static char *send_dir(char **cfg)
{
	char *dir = t_tmpdir();

	t_write(dir, "send.py", send_py);
	t_write(dir, "cact.json",
		"{\"tools\": [{\"name\": \"send\", \"description\": \"Sends a message.\",\n"
		" \"parameters\": {\"type\": \"object\", \"properties\": {\"to\": {\"type\": "
		"\"string\"}}, \"required\": [\"to\"]},\n"
		" \"approval_mode\": \"always_require\",\n"
		" \"command\": [\"python3\", \"send.py\"], \"timeout_s\": 20}],\n"
		" \"limits\": {\"timeout_s\": 60}}\n");
	*cfg = t_fmt("%s/cact.json", dir);
	return dir;
}

/* A harmless-looking 100,000-byte field first, the decisive one after it. */
#define LONG_CALL "call_tool('send', pad='p' * 100000, to='boss@example.com')['sent']"

START_TEST(approve_cut_marked_and_shown_on_request)
{
	char *cfg, *dir = send_dir(&cfg), *out, *err, *marker;
	struct pty p;
	int rc;

	if (pty_start(&p, (const char *const[]){"exec", "--config", cfg, "--approve", "ask", "-c",
						"print('sent', " LONG_CALL ")\n", NULL}))
		goto out;
	pty_wait(&p, "cact: a call of send with\n{\n");
	/* The first 64 KiB, then the size of the rest. */
	pty_wait(&p, "\n[... ");
	{
		size_t more, total, at = p.seen;

		pty_wait(&p, " not shown ...]\n");
		ck_assert_msg(sscanf(p.buf + at, "%zu more bytes of %zu not shown ...]", &more,
				     &total) == 2,
			      "no cut marker: %.200s", p.buf + at);
		ck_assert_uint_eq(total - more, 65536);
		ck_assert_uint_gt(total, 100000);
		marker = t_fmt("[... bytes 65537 to %zu of %zu ...]", total, total);
	}
	pty_wait(&p, "[show/yes-unseen/N] ");
	ck_assert_msg(!pty_showed(&p, "boss@example.com"), "the decisive field was shown");
	/* y is refused while part of the call is unseen; the question comes again. */
	pty_type(&p, "y");
	pty_wait(&p, "cact: y allows only a call seen in full");
	pty_wait(&p, "[show/yes-unseen/N] ");
	pty_type(&p, "show");
	pty_wait(&p, marker);
	pty_wait(&p, "\"to\": \"boss@example.com\"");
	pty_wait(&p, "allow? [y/N] ");
	pty_type(&p, "y");
	rc = pty_end(&p, &out, &err);
	ck_assert_msg(rc == 0, "status %d\nstderr: %s", rc, err);
	ck_assert_str_eq(out, "sent boss@example.com\n");
	free(marker);
	free(out);
	free(err);
out:
	free(cfg);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(approve_cut_needs_yes_unseen)
{
	char *cfg, *dir = send_dir(&cfg), *out, *err;
	struct pty p;
	int rc;

	if (pty_start(&p, (const char *const[]){"exec", "--config", cfg, "--approve", "ask", "-c",
						"for i in range(2):\n"
						"    try:\n"
						"        print('sent', " LONG_CALL ")\n"
						"    except PermissionError:\n"
						"        print('denied')\n",
						NULL}))
		goto out;
	pty_wait(&p, "[show/yes-unseen/N] ");
	pty_type(&p, "Y");
	pty_wait(&p, "cact: y allows only a call seen in full");
	pty_wait(&p, "[show/yes-unseen/N] ");
	pty_type(&p, "n");
	/* The second call: allowed unseen, by saying so. */
	pty_wait(&p, "[show/yes-unseen/N] ");
	pty_type(&p, "yes-unseen");
	rc = pty_end(&p, &out, &err);
	ck_assert_msg(rc == 0, "status %d\nstderr: %s", rc, err);
	ck_assert_str_eq(out, "denied\nsent boss@example.com\n");
	ck_assert_msg(!strstr(p.buf, "boss@example.com"), "the unseen part was shown");
	free(out);
	free(err);
out:
	free(cfg);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(approve_arguments_escaped)
{
	char *cfg, *dir = send_dir(&cfg), *out, *err;
	struct pty p;
	int rc;

	if (pty_start(&p, (const char *const[]){
				  "exec", "--config", cfg, "--approve", "ask", "-c",
				  "print(call_tool('send', to='a\\u202eb\\u0085c\\x7fd\\u2066e',"
				  " note='x\\x1b[2Jy\\u200fz')['sent'] == "
				  "'a\\u202eb\\u0085c\\x7fd\\u2066e')\n",
				  NULL}))
		goto out;
	pty_wait(&p, "cact: a call of send with\n");
	pty_wait(&p, "\"to\": \"a\\u202eb\\u0085c\\x7fd\\u2066e\"");
	pty_wait(&p,
		 "[5 control, bidi, invisible or invalid UTF-8 character(s) shown as \\x, \\u or "
		 "\\U escapes]");
	pty_wait(&p, "allow? [y/N] ");
	pty_type(&p, "y");
	rc = pty_end(&p, &out, &err);
	ck_assert_msg(rc == 0, "status %d\nstderr: %s", rc, err);
	ck_assert_str_eq(out, "True\n");
	/* ESC in a JSON dump is \u001b already; the others would have reached the terminal. */
	assert_no_raw(p.buf, p.len, "the terminal");
	ck_assert_msg(strstr(p.buf, "x\\u001B[2Jy\\u200fz"), "terminal:\n%s", p.buf);
	free(out);
	free(err);
out:
	free(cfg);
	t_rmtree(dir);
	free(dir);
}
END_TEST

/* ---- cact agent ---- */

/* The scripted model server of tests/agent (fake_openai.py); stopped by closing *in_fd. */
static pid_t fake_start(const char *dir, const char *script, int *in_fd, char *url, size_t size)
{
	const char *root = getenv("CACT_SOURCE_ROOT");
	char *server, *port_file, *script_file;
	posix_spawn_file_actions_t fa;
	int fds[2], port = 0, i, st;
	pid_t pid;

	ck_assert_msg(root != NULL, "CACT_SOURCE_ROOT is not set");
	server = t_fmt("%s/tests/agent/fake_openai.py", root);
	port_file = t_fmt("%s/port", dir);
	script_file = t_fmt("%s/script.json", dir);
	t_write(dir, "script.json", script);
	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
	ck_assert_int_eq(posix_spawn(&pid, "/usr/bin/python3", &fa, NULL,
				     (char *const[]){"/usr/bin/python3", "-I", server,
						     "--port-file", port_file, "--script",
						     script_file, "--lifetime", "100", NULL},
				     environ),
			 0);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[0]);
	*in_fd = fds[1];
	for (i = 0; i < 2000 && port == 0; i++) {
		FILE *pf = fopen(port_file, "r");

		if (pf) {
			if (fscanf(pf, "%d", &port) != 1)
				port = 0;
			fclose(pf);
		}
		if (port == 0) {
			ck_assert_msg(waitpid(pid, &st, WNOHANG) == 0,
				      "the fake server exited before listening");
			usleep(5000);
		}
	}
	ck_assert_msg(port > 0, "the fake server did not write its port");
	snprintf(url, size, "http://127.0.0.1:%d/v1", port);
	free(server);
	free(port_file);
	free(script_file);
	return pid;
}

/*
 * The model's code hides an escape sequence and a right-to-left override
 * in a comment and passes a bidi character to a tool: the approval question
 * and the progress on stderr show them escaped.
 */
START_TEST(agent_code_and_progress_escaped)
{
	char *cfg, *dir = send_dir(&cfg), *srv = t_tmpdir(), *out, *err, url[64];
	int in_fd, st, rc;
	struct pty p;
	pid_t fake;

	fake = fake_start(
		srv,
		"[{\"response\": {\"tool_calls\": [{\"id\": \"c1\", \"name\": \"execute_code\","
		" \"arguments\": {\"code\": \"# \\u001b[2J\\u202eevil\\n"
		"print(call_tool('send', to='a\\u202eb')['sent'])\\n\"}}]}},"
		" {\"expect\": {\"tool_result_contains\": \"a\"}, \"response\": {\"content\": "
		"\"done\"}}]",
		&in_fd, url, sizeof(url));
	if (pty_start(&p, (const char *const[]){"agent", "--config", cfg, "--base-url", url,
						"--model", "fake", "--approve", "ask", "go", NULL}))
		goto out;
	pty_wait(&p, "cact: run this code in the sandbox?\n# \\x1b[2J\\u202eevil\n");
	pty_wait(&p, "[3 control, bidi, invisible or invalid UTF-8 character(s)");
	pty_wait(&p, "allow? [y/N] ");
	pty_type(&p, "y");
	rc = pty_end(&p, &out, &err);
	ck_assert_msg(rc == 0, "status %d\nstdout: %s\nstderr: %s", rc, out, err);
	ck_assert_str_eq(out, "done\n");
	assert_no_raw(p.buf, p.len, "the terminal");
	assert_no_raw(err, strlen(err), "stderr");
	ck_assert_msg(strstr(err, "| # \\x1b[2J\\u202eevil\n"), "stderr: %s", err);
	ck_assert_msg(strstr(err, "-> call_tool send ") && strstr(err, "a\\u202eb"), "stderr: %s",
		      err);
	free(out);
	free(err);
out:
	close(in_fd);
	waitpid(fake, &st, 0);
	t_rmtree(srv);
	free(srv);
	free(cfg);
	t_rmtree(dir);
	free(dir);
}
END_TEST

int main(int argc, char **argv)
{
	const struct t_case cases[] = {
		T_CASE(exec_output_names_escaped, 60),
		T_CASE(exec_saved_names_escaped, 90),
		T_CASE(approve_cut_marked_and_shown_on_request, 90),
		T_CASE(approve_cut_needs_yes_unseen, 90),
		T_CASE(approve_arguments_escaped, 90),
		T_CASE(agent_code_and_progress_escaped, 90),
	};

	return t_main("cli_term", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
