/* SPDX-License-Identifier: MIT */
/*
 * cact repl: one sandbox session (include/cact/sandbox_session.h), fed from
 * a terminal (prompts, multi-line input, Ctrl-C interrupts) or from
 * standard input as cells separated by "# %%" lines. The options are cact
 * exec's (cli/run.h), without where the code comes from.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cact/cact.h>

#include "approve.h"
#include "cli.h"
#include "opts.h"
#include "run.h"
#include "term.h"

static const char help_head[] =
	"usage: cact repl [OPTIONS]\n"
	"\n"
	"Runs Python in one sandbox session: variables, imports, /tmp and /output\n"
	"persist from one input to the next.\n"
	"\n"
	"On a terminal, it is interactive, as python3 is: >>> and ... prompts; a\n"
	"compound statement (a line ending in ':', or starting with if, for, while,\n"
	"def, class, with, try, async or @) goes on until an empty line; an open\n"
	"bracket, an open triple-quoted string or a line ending in a backslash goes\n"
	"on to the next line. Each run's stdout and stderr are shown when it ends,\n"
	"with the repr of a final expression. Ctrl-C interrupts the running code\n"
	"(KeyboardInterrupt; the session goes on), and pressed a third time in one\n"
	"run ends the run and the session; at the prompt it discards the input.\n"
	"Ctrl-D exits with status 0.\n"
	"\n"
	"Otherwise it reads standard input to its end, splits it into cells at\n"
	"lines that are exactly '# %%', and runs the cells that are not blank in\n"
	"order, each one's stdout to stdout and stderr to stderr. A cell whose code\n"
	"fails does not stop the others.\n"
	"\n"
	"A run that times out, crashes or reaches a limit ends the session: cact\n"
	"repl says so (\"cact: session ended: timeout in run 3\"), runs nothing more\n"
	"and exits with that run's status. It never goes on with a fresh\n"
	"interpreter. The session has no idle timeout or lifetime: it lasts as long\n"
	"as cact repl; the CPU time of all its runs together is bounded by the\n"
	"configuration's sessions.cpu_total_s (default 600).\n"
	"\n"
	"Options (those of cact exec but -c and FILE):\n";

static const char help_tail[] =
	"\n"
	"Exit status: as cact exec's, of the last cell run (0 success, 1 the code\n"
	"failed, 2 usage error, 3 the sandbox could not be set up, 4 files not all\n"
	"saved to --output-dir, 124 timeout, 125 memory or output limit, 126 sandbox\n"
	"violation, crash or a run ended with Ctrl-C); on a terminal 0 at Ctrl-D, or\n"
	"the status of the run that ended the session.\n";

/* Ctrl-C presses during one run: the first ones interrupt, this one ends the run. */
#define PRESSES_TO_END 3

enum phase {
	PH_SETUP,  /* no session yet: Ctrl-C ends cact repl, as it would without it */
	PH_PROMPT, /* waiting for input: the input is discarded */
	PH_RUN,	   /* code runs: KeyboardInterrupt, then the end of the run */
};

/*
 * Ctrl-C on a terminal. SIGINT is blocked in every thread (from before the
 * library starts any) and read from a signalfd by one thread of ours, which
 * acts according to the phase: nothing runs in a signal handler, and no
 * system call of the library is ever interrupted by one.
 */
struct ctrl_c {
	pthread_mutex_t lock;
	enum phase phase;
	struct cact_sandbox_session *s;
	int presses;   /* during this run */
	int cancel_fd; /* eventfd of this run: readable ends it */
	int sigfd;     /* SIGINT */
	int notify;    /* eventfd: Ctrl-C at the prompt, for the main thread */
	int quit;      /* eventfd: the thread ends */
	pthread_t thread;
	int started;
};

struct repl {
	struct cact_sandbox_session *s;
	struct run_output out;
	struct ctrl_c *cc; /* NULL when standard input is not a terminal */
};

/* Ends cact repl by SIGINT, as the default action would have. */
static void die_by_sigint(void)
{
	sigset_t set;

	signal(SIGINT, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	raise(SIGINT);
	_exit(128 + SIGINT);
}

static void poke(int fd)
{
	uint64_t one = 1;

	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
		/* The counter is full: a poke is pending anyway. */
	}
}

static void *watch(void *arg)
{
	struct ctrl_c *c = arg;
	struct pollfd p[2] = {{.fd = c->sigfd, .events = POLLIN},
			      {.fd = c->quit, .events = POLLIN}};
	struct signalfd_siginfo si;

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN) || read(c->sigfd, &si, sizeof(si)) != sizeof(si))
			continue;
		pthread_mutex_lock(&c->lock);
		switch (c->phase) {
		case PH_SETUP:
			die_by_sigint();
			break;
		case PH_PROMPT:
			poke(c->notify);
			break;
		case PH_RUN:
			/* The first presses raise KeyboardInterrupt; code that catches it gets more. */
			if (++c->presses < PRESSES_TO_END)
				cact_sandbox_session_interrupt(c->s);
			else
				poke(c->cancel_fd);
			break;
		}
		pthread_mutex_unlock(&c->lock);
	}
	return NULL;
}

/*
 * Blocks SIGINT in this thread (and so in every thread started after) and
 * starts the thread that reads it. Called before anything that may start
 * a thread. -1 after printing why.
 */
static int ctrl_c_start(struct ctrl_c *c)
{
	sigset_t set;

	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->phase = PH_SETUP;
	c->cancel_fd = -1;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	c->sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	c->notify = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->quit = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->sigfd < 0 || c->notify < 0 || c->quit < 0 ||
	    pthread_create(&c->thread, NULL, watch, c) != 0) {
		cli_error("repl", "cannot watch for Ctrl-C: %s", strerror(errno));
		return -1;
	}
	c->started = 1;
	return 0;
}

static void ctrl_c_phase(struct ctrl_c *c, enum phase ph, int cancel_fd)
{
	uint64_t v;

	pthread_mutex_lock(&c->lock);
	c->phase = ph;
	c->presses = 0;
	c->cancel_fd = cancel_fd;
	/* A press between the input's end and its run is not kept for the next prompt. */
	if (ph == PH_RUN && read(c->notify, &v, sizeof(v)) < 0)
		(void)0;
	pthread_mutex_unlock(&c->lock);
}

static void ctrl_c_stop(struct ctrl_c *c)
{
	if (c->started) {
		poke(c->quit);
		pthread_join(c->thread, NULL);
	}
	if (c->sigfd >= 0)
		close(c->sigfd);
	if (c->notify >= 0)
		close(c->notify);
	if (c->quit >= 0)
		close(c->quit);
	pthread_mutex_destroy(&c->lock);
}

/* ---- one run ---- */

/*
 * Checked before the session sees the code: the library refuses such code
 * by ending the session.
 */
static int code_error(const char *code, size_t len, char *why, size_t size)
{
	uint64_t max = cact_limit_default(CACT_LIMIT_CODE_BYTES);

	if (memchr(code, '\0', len)) {
		snprintf(why, size, "contains a NUL byte");
		return -1;
	}
	if (len > max) {
		snprintf(why, size, "is larger than %llu bytes", (unsigned long long)max);
		return -1;
	}
	return 0;
}

/* Runs code in the session and shows the result; cact exec's exit status for it. */
static int run_code(struct repl *r, const char *code, size_t len)
{
	struct cact_sandbox_session_run_options ro;
	struct cact_error err = {0};
	struct cact_result *res = NULL;
	struct run_live live;
	int status, rc, ev = -1;

	cact_sandbox_session_run_options_init(&ro);
	run_live_init(&live);
	if (!r->out.json) {
		fflush(stdout);
		ro.output = run_live_output;
		ro.output_user = &live;
		r->out.streamed = 1;
	}
	if (r->cc) {
		ev = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ro.cancel_fd = ev;
		ctrl_c_phase(r->cc, PH_RUN, ev);
	}
	rc = cact_sandbox_session_run(r->s, code, len, &ro, &res, &err);
	run_live_flush(&live, 1);
	if (r->cc)
		ctrl_c_phase(r->cc, PH_PROMPT, -1);
	if (ev >= 0)
		close(ev);
	if (rc == 0) {
		status = run_output_result(&r->out, res);
		if (live.failed && status == EXIT_OK)
			status = EXIT_SETUP;
	} else if (cact_sandbox_session_ended(r->s)) {
		status = EXIT_SETUP; /* the caller says why */
	} else {
		char *msg = term_escape_str(err.message, TERM_NAME);

		cli_error("repl", "%s", msg);
		term_free(msg);
		status = rc == CACT_EINVAL || rc == CACT_ETOOBIG ? EXIT_USAGE : EXIT_SETUP;
	}
	cact_result_free(res);
	return status;
}

/* After a run: 1 when the session has ended (said on stderr), 0 while it lives. */
static int session_ended(struct repl *r)
{
	const char *why = cact_sandbox_session_ended(r->s);
	char *msg;

	if (!why)
		return 0;
	msg = term_escape_str(why, TERM_NAME);
	fflush(stdout);
	fprintf(stderr, "cact: session ended: %s\n", msg);
	term_free(msg);
	return 1;
}

/* ---- on a terminal ---- */

/* What the tokenizer tells about the input typed so far. */
struct scan {
	int open;  /* an open bracket or string, or a backslash continuation: more must come */
	int block; /* a compound statement: it ends with an empty line */
	int code;  /* something other than blanks and comments */
};

static int ident(char c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (unsigned char)c >= 0x80;
}

/* Whether the word at t[0..len) opens a compound statement. */
static int compound(const char *t, size_t len)
{
	static const char *const words[] = {"if",    "for",  "while", "def",
					    "class", "with", "try",   "async"};
	size_t i, n;

	for (n = 0; n < len && ident(t[n]); n++)
		;
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i]) == n && memcmp(t, words[i], n) == 0)
			return 1;
	return 0;
}

/*
 * The rule that decides, without Python, whether the input typed so far is
 * complete, close to python3's: brackets, strings (single, triple-quoted,
 * with backslash escapes, any prefix), comments and backslash
 * continuations are tokenized; a logical line ending in ':' or starting
 * with a compound keyword or '@' makes the input a block. What is not
 * valid Python is left for Python to report when the input runs.
 */
static void scan(const char *t, size_t len, struct scan *sc)
{
	int depth = 0, triple = 0, continued = 0, line_start = 1;
	char quote = 0, last = 0;
	size_t i;

	memset(sc, 0, sizeof(*sc));
	for (i = 0; i < len; i++) {
		char c = t[i];

		if (quote) {
			if (c == '\\') {
				i++; /* escapes anything, a newline too */
			} else if (c == quote && !triple) {
				quote = 0;
			} else if (c == quote && i + 2 < len && t[i + 1] == quote &&
				   t[i + 2] == quote) {
				quote = 0;
				i += 2;
			} else if (c == '\n' && !triple) {
				quote = 0; /* an unterminated string: Python reports it */
				i--;	   /* the newline ends the line below */
			}
			continue;
		}
		if (c == '\\' && (i + 1 == len || t[i + 1] == '\n')) {
			continued = 1;
			i++;
			continue;
		}
		if (c == '#') {
			while (i + 1 < len && t[i + 1] != '\n')
				i++;
			continue;
		}
		if (c == '\n') {
			continued = 0;
			if (depth == 0) {
				/* A logical line ends. */
				if (last == ':')
					sc->block = 1;
				last = 0;
				line_start = 1;
			}
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == '\f')
			continue;
		continued = 0;
		sc->code = 1;
		if (line_start && (c == '@' || compound(t + i, len - i)))
			sc->block = 1;
		line_start = 0;
		last = c;
		if (c == '\'' || c == '"') {
			quote = c;
			if (i + 2 < len && t[i + 1] == c && t[i + 2] == c) {
				triple = 1;
				i += 2;
			} else {
				triple = 0;
			}
		} else if (c == '(' || c == '[' || c == '{') {
			depth++;
		} else if ((c == ')' || c == ']' || c == '}') && depth > 0) {
			depth--;
		} else if (ident(c)) {
			/* The rest of the word (a string prefix stops before its quote). */
			while (i + 1 < len && ident(t[i + 1]))
				i++;
		}
	}
	if (last == ':')
		sc->block = 1;
	sc->open = depth > 0 || quote || continued;
}

/* Whether the input (ending with the line just typed) is ready to run; *sc tells about it. */
static int complete(const char *t, size_t len, const char *line, size_t line_len, struct scan *sc)
{
	scan(t, len, sc);
	if (sc->open)
		return 0;
	return !sc->block || strspn(line, " \t\r\n\f") == line_len;
}

/* Bytes read from the terminal, not yet taken as lines; the line taken last. */
struct lines {
	char *buf, *line;
	size_t len, cap, line_cap;
};

enum { LINE_OK, LINE_EOF, LINE_INTERRUPTED };

/*
 * The next line from standard input (its newline included) into *line
 * (owned by in, valid until the next call), or Ctrl-C at the prompt, or
 * the end of input.
 */
static int read_line(struct lines *in, struct ctrl_c *c, char **line, size_t *line_len)
{
	struct pollfd p[2] = {{.fd = 0, .events = POLLIN}, {.fd = c->notify, .events = POLLIN}};
	char *nl;

	while (!in->len || !(nl = memchr(in->buf, '\n', in->len))) {
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return LINE_EOF;
		}
		if (p[1].revents & POLLIN) {
			uint64_t v;

			if (read(c->notify, &v, sizeof(v)) < 0)
				(void)0;
			in->len = 0;
			return LINE_INTERRUPTED;
		}
		if (!p[0].revents)
			continue;
		if (in->len + 4096 > in->cap) {
			size_t cap = (in->len + 4096) * 2;
			char *g = realloc(in->buf, cap);

			if (!g)
				return LINE_EOF;
			in->buf = g;
			in->cap = cap;
		}
		n = read(0, in->buf + in->len, 4096);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return LINE_EOF; /* Ctrl-D at the start of a line, or a hang-up */
		in->len += (size_t)n;
	}
	*line_len = (size_t)(nl - in->buf) + 1;
	if (*line_len + 1 > in->line_cap) {
		char *g = realloc(in->line, *line_len + 1);

		if (!g)
			return LINE_EOF;
		in->line = g;
		in->line_cap = *line_len + 1;
	}
	memcpy(in->line, in->buf, *line_len);
	in->line[*line_len] = '\0';
	memmove(in->buf, in->buf + *line_len, in->len - *line_len);
	in->len -= *line_len;
	*line = in->line;
	return LINE_OK;
}

static int interactive(struct repl *r)
{
	struct lines in = {0};
	char *code = NULL, *line;
	size_t len = 0, cap = 0, line_len;
	int status = EXIT_OK;

	fputs("cact repl: Python in a sandbox session. Ctrl-C interrupts a run, Ctrl-D exits.\n",
	      stderr);
	for (;;) {
		struct scan sc;
		char why[64];
		int got;

		fputs(len ? "... " : ">>> ", stdout);
		fflush(stdout);
		got = read_line(&in, r->cc, &line, &line_len);
		if (got == LINE_INTERRUPTED) {
			/* As python3: the input so far is dropped. */
			fputs("\nKeyboardInterrupt\n", stderr);
			len = 0;
			continue;
		}
		if (got == LINE_EOF) {
			fputc('\n', stdout);
			break;
		}
		if (len + line_len > cact_limit_default(CACT_LIMIT_CODE_BYTES)) {
			cli_error("repl", "the input is larger than %llu bytes",
				  (unsigned long long)cact_limit_default(CACT_LIMIT_CODE_BYTES));
			len = 0;
			continue;
		}
		if (len + line_len + 1 > cap) {
			size_t want = (len + line_len + 1) * 2;
			char *g = realloc(code, want);

			if (!g) {
				cli_error("repl", "out of memory");
				status = EXIT_SETUP;
				goto out;
			}
			code = g;
			cap = want;
		}
		memcpy(code + len, line, line_len);
		len += line_len;
		code[len] = '\0';
		if (!complete(code, len, line, line_len, &sc))
			continue;
		if (!sc.code) {
			len = 0; /* blanks and comments: nothing to run */
			continue;
		}
		if (code_error(code, len, why, sizeof(why))) {
			cli_error("repl", "the input %s", why);
			len = 0;
			continue;
		}
		status = run_code(r, code, len);
		len = 0;
		if (session_ended(r))
			goto out;
	}
	status = EXIT_OK;
out:
	free(code);
	free(in.buf);
	free(in.line);
	return status;
}

/* ---- cells from standard input ---- */

struct cell {
	size_t at, len;
	unsigned line; /* its first line in the input */
};

/* All of standard input (at most max bytes), NUL-terminated. -1 after printing why. */
static int read_all(uint64_t max, char **all, size_t *len)
{
	size_t used = 0, cap = 0;
	char *buf = NULL;

	for (;;) {
		ssize_t n;

		if (used + 65536 + 1 > cap) {
			size_t want = cap ? cap * 2 : 131072;
			char *g = realloc(buf, want);

			if (!g) {
				cli_error("repl", "out of memory");
				free(buf);
				return -1;
			}
			buf = g;
			cap = want;
		}
		n = read(0, buf + used, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cli_error("repl", "cannot read standard input: %s", strerror(errno));
			free(buf);
			return -1;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > max) {
			cli_error("repl", "standard input is larger than %llu bytes",
				  (unsigned long long)max);
			free(buf);
			return -1;
		}
	}
	buf[used] = '\0';
	*all = buf;
	*len = used;
	return 0;
}

/* Whether t[0..n) (a line without its newline) separates cells: exactly "# %%" (CRLF too). */
static int separator(const char *t, size_t n)
{
	return (n == 4 && memcmp(t, "# %%", 4) == 0) || (n == 5 && memcmp(t, "# %%\r", 5) == 0);
}

/* The cells of all[0..len) that are not blank, in order. *cells owned (free()). */
static int split_cells(const char *all, size_t len, struct cell **cells, size_t *n)
{
	size_t at = 0, start = 0, cap = 0;
	unsigned line = 1, start_line = 1;
	struct cell *v = NULL;

	*n = 0;
	for (;;) {
		const char *nl = memchr(all + at, '\n', len - at);
		size_t end = nl ? (size_t)(nl - all) : len;
		int sep = separator(all + at, end - at);

		if (sep || !nl) {
			size_t cell_end = sep ? at : len;

			if (strspn(all + start, " \t\r\n\f") < cell_end - start) {
				if (*n == cap) {
					struct cell *g;

					cap = cap ? cap * 2 : 16;
					g = realloc(v, cap * sizeof(*g));
					if (!g) {
						free(v);
						cli_error("repl", "out of memory");
						return -1;
					}
					v = g;
				}
				v[(*n)++] = (struct cell){start, cell_end - start, start_line};
			}
			start = nl ? end + 1 : len;
			start_line = line + 1;
		}
		if (!nl)
			break;
		at = end + 1;
		line++;
	}
	*cells = v;
	return 0;
}

static int cells(struct repl *r, const char *all, const struct cell *v, size_t n)
{
	int status = EXIT_OK;
	size_t i;

	for (i = 0; i < n; i++) {
		status = run_code(r, all + v[i].at, v[i].len);
		if (session_ended(r)) {
			if (i + 1 < n)
				fprintf(stderr, "cact: %zu cell%s after it not run\n", n - i - 1,
					n - i - 1 == 1 ? "" : "s");
			break;
		}
	}
	return status;
}

int cmd_repl(int argc, char **argv)
{
	struct opt o[RUN_O__N];
	struct cact_runtime_options ro;
	struct cact_sandbox_session_options so;
	struct cact_error err = {0};
	struct cact_runtime *rt = NULL;
	struct cact_codeact *cc = NULL;
	struct approver ap = {0};
	struct ctrl_c ctl = {.sigfd = -1, .notify = -1, .quit = -1};
	struct repl r = {0};
	struct cell *v = NULL;
	char *all = NULL;
	size_t n_pos = 0, n_cells = 0, all_len = 0, i;
	int status = EXIT_USAGE, tty = isatty(0);

	run_options(o);
	cact_runtime_options_init(&ro);
	if (opts_parse("repl", argc, argv, o, RUN_O__N, NULL, 0, &n_pos))
		goto out;
	if (o[RUN_O_HELP].count) {
		fputs(help_head, stdout);
		run_options_help(stdout, 1);
		fputs(help_tail, stdout);
		status = EXIT_OK;
		goto out;
	}
	if (tty && o[RUN_O_JSON].count) {
		cli_error("repl", "--json is for cells read from a pipe or a file, not a terminal");
		goto out;
	}
	/* Before anything starts a thread: they all inherit SIGINT blocked. */
	if (tty) {
		r.cc = &ctl;
		if (ctrl_c_start(&ctl)) {
			status = EXIT_SETUP;
			goto out;
		}
	}
	if (run_configure("repl", o, &ap, &cc, &ro))
		goto out;
	if (run_output_init("repl", o, &ro, &r.out))
		goto out;
	if (!tty) {
		/* The whole input is checked before the sandbox starts. */
		if (read_all(cact_limit_max(CACT_LIMIT_CODE_BYTES), &all, &all_len) ||
		    split_cells(all, all_len, &v, &n_cells))
			goto out;
		for (i = 0; i < n_cells; i++) {
			char why[64];

			if (code_error(all + v[i].at, v[i].len, why, sizeof(why))) {
				cli_error("repl", "the cell at line %u %s", v[i].line, why);
				goto out;
			}
		}
		if (n_cells == 0) {
			status = EXIT_OK;
			goto out;
		}
	}
	/* Many runs in one sandbox: a warm interpreter, and no spare child beside it. */
	ro.one_shot = 0;
	ro.pool_size = 0;
	ro.pool_max = 1;
	if ((status = run_start("repl", &ro, cc, &rt)))
		goto out;
	/*
	 * The session lasts as long as cact repl does: the idle timeout and the
	 * lifetime that protect a server from forgotten sessions do not apply;
	 * the configuration's CPU total does.
	 */
	cact_codeact_session_options(cc, &so);
	so.idle_timeout_ms = 0;
	so.lifetime_ms = 0;
	if (cact_codeact_session_new(cc, &so, &r.s, &err)) {
		cli_error("repl", "cannot start a session: %s", err.message);
		status = EXIT_SETUP;
		goto out;
	}
	if (tty) {
		ctl.s = r.s;
		ctrl_c_phase(&ctl, PH_PROMPT, -1);
		status = interactive(&r);
	} else {
		status = cells(&r, all, v, n_cells);
	}
out:
	if (r.cc) {
		/* Back to no session before it goes: Ctrl-C from here ends cact repl. */
		ctrl_c_phase(&ctl, PH_SETUP, -1);
		ctrl_c_stop(&ctl);
	}
	cact_sandbox_session_close(r.s);
	run_output_free(&r.out);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
	approver_close(&ap);
	free(v);
	free(all);
	opts_free(o, RUN_O__N);
	return status;
}
