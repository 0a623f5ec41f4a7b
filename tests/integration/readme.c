/* SPDX-License-Identifier: MIT */
/*
 * Every command the README files show, run as a reader would run it: from
 * the source root, with the words as written. The commands are read from
 * README.md and examples/<name>/README.md when the test runs, so a command
 * added to them later is tested too: in a ```sh (bash, shell, console)
 * block, every line starting with "$ " when the block uses prompts (the
 * lines after it, up to the next prompt, are its output and must appear),
 * else every line that is not a comment; a command goes on while a quote is
 * open or a line ends in a backslash.
 *
 * What cannot run here as written is rewritten, each rule in one place
 * (rewrite(), run_one()): the model server of `cact agent --base-url` is the
 * scripted one (tests/agent/fake_openai.py, which also demands the key the
 * command gives, so the key must be read as the README says); a
 * `--allow-domain localhost:PORT` target is a local HTTP server on a free
 * port; `cact mcp --http HOST:PORT` listens on port 0 and is stopped once
 * it says where it serves; files the commands write (--output-dir,
 * --session) go to a temporary folder; examples/agent/run.sh plays its
 * script on the scripted server (no OPENAI_BASE_URL). A command that still
 * cannot run is listed in not_here[] with the reason, printed when it is
 * met; any other command that is not `cact` fails the test, so that a new
 * one gets a decision.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common.h"

extern char **environ;

#define MAX_WORDS 62 /* t_cli takes 63 arguments */
#define PYTHON	  "/usr/bin/python3"

/* ---- what the markdown shows ---- */

struct cmd {
	char *file;   /* relative to the source root */
	int line;     /* where the command starts */
	char *text;   /* as written: prompt removed, continuation lines joined */
	char *expect; /* the output shown after it, "" when none */
};

struct cmds {
	struct cmd *v;
	size_t n;
};

static char *xstrdup(const char *s)
{
	char *p = strdup(s);

	ck_assert_ptr_nonnull(p);
	return p;
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;

	ck_assert_msg(f != NULL, "cannot read %s: %s", path, strerror(errno));
	n = getdelim(&buf, &cap, '\0', f);
	fclose(f);
	ck_assert_msg(n >= 0, "cannot read %s", path);
	return buf;
}

/* ---- a small POSIX shell word splitter: quotes, backslashes, one pipe ---- */

struct word {
	char *s;
	int assign; /* NAME=value before the command name */
};

struct simple {
	struct word w[MAX_WORDS];
	int n;
};

struct pipeline {
	struct simple cmd[2];
	int n;
};

enum { SPLIT_OK = 0, SPLIT_INCOMPLETE = 1, SPLIT_UNSUPPORTED = 2 };

static void pipeline_free(struct pipeline *pl)
{
	int i, k;

	for (i = 0; i < 2; i++)
		for (k = 0; k < pl->cmd[i].n; k++)
			free(pl->cmd[i].w[k].s);
	memset(pl, 0, sizeof(*pl));
}

/* 1 when raw starts with NAME= (unquoted): an assignment, before the command name. */
static int is_assignment(const char *raw)
{
	const char *p = raw;

	if (!isalpha((unsigned char)*p) && *p != '_')
		return 0;
	while (isalnum((unsigned char)*p) || *p == '_')
		p++;
	return *p == '=';
}

/*
 * $NAME or ${NAME} at *pp (on the '$'): the variable's value from the
 * environment, appended to word; *pp moves past it. -1 when it is no
 * variable name (then nothing moves).
 */
static int expand(const char **pp, char *word, size_t *len, size_t cap)
{
	const char *p = *pp + 1, *end;
	char name[128];
	const char *v;
	int braces = *p == '{';

	p += braces;
	for (end = p; isalnum((unsigned char)*end) || *end == '_'; end++)
		;
	if (end == p || isdigit((unsigned char)*p) || (size_t)(end - p) >= sizeof(name) ||
	    (braces && *end != '}'))
		return -1;
	memcpy(name, p, (size_t)(end - p));
	name[end - p] = '\0';
	v = getenv(name);
	ck_assert_msg(*len + strlen(v ? v : "") < cap, "word too long");
	memcpy(word + *len, v ? v : "", strlen(v ? v : ""));
	*len += strlen(v ? v : "");
	*pp = end + braces;
	return 0;
}

/*
 * Splits text into words as sh would for what the README uses: blanks,
 * '...', "..." (with \ before " \ $ ` and newline), $NAME and ${NAME}
 * from the environment, backslash escapes and line continuations, #
 * comments, and one '|'. Other expansions, redirections, globs and lists
 * are refused (SPLIT_UNSUPPORTED, why says which): a README command that
 * needs them needs this test extended first.
 */
static int split(const char *text, struct pipeline *pl, char *why, size_t wsize)
{
	char word[16384];
	size_t len = 0;
	const char *p = text, *raw = NULL;
	struct simple *cur;
	int in_word = 0;

	memset(pl, 0, sizeof(*pl));
	pl->n = 1;
	cur = &pl->cmd[0];
#define PUT(ch)                                                         \
	do {                                                            \
		ck_assert_msg(len + 1 < sizeof(word), "word too long"); \
		word[len++] = (ch);                                     \
	} while (0)
	for (;;) {
		char c = *p;

		if (c == '\0' || c == ' ' || c == '\t' || c == '\n' || c == '|') {
			if (in_word) {
				ck_assert_msg(cur->n < MAX_WORDS, "too many words: %s", text);
				word[len] = '\0';
				cur->w[cur->n].s = xstrdup(word);
				cur->w[cur->n].assign = is_assignment(raw) &&
							(cur->n == 0 || cur->w[cur->n - 1].assign);
				cur->n++;
				in_word = 0;
				len = 0;
			}
			if (c == '\0')
				break;
			if (c == '|') {
				if (pl->n == 2 || cur->n == 0) {
					snprintf(why, wsize,
						 "more than one '|', or an empty command");
					return SPLIT_UNSUPPORTED;
				}
				cur = &pl->cmd[pl->n++];
			}
			p++;
			continue;
		}
		if (!in_word) {
			raw = p;
			if (c == '#') {
				while (*p && *p != '\n')
					p++;
				continue;
			}
		}
		in_word = 1;
		if (c == '\\') {
			if (p[1] == '\0')
				return SPLIT_INCOMPLETE;
			if (p[1] != '\n')
				PUT(p[1]);
			else if (len == 0 && p == raw)
				in_word = 0; /* a continuation between words */
			p += 2;
			continue;
		}
		if (c == '\'') {
			const char *end = strchr(p + 1, '\'');

			if (!end)
				return SPLIT_INCOMPLETE;
			for (p++; p < end; p++)
				PUT(*p);
			p++;
			continue;
		}
		if (c == '"') {
			for (p++; *p != '"'; p++) {
				if (*p == '\0')
					return SPLIT_INCOMPLETE;
				if (*p == '$' && expand(&p, word, &len, sizeof(word)) == 0) {
					p--; /* the loop steps past the name's last character */
					continue;
				}
				if (*p == '$' || *p == '`') {
					snprintf(why, wsize, "'%c' inside double quotes", *p);
					return SPLIT_UNSUPPORTED;
				}
				if (*p == '\\' && p[1] && strchr("\"\\$`\n", p[1])) {
					if (p[1] != '\n')
						PUT(p[1]);
					p++;
					continue;
				}
				PUT(*p);
			}
			p++;
			continue;
		}
		if (c == '$' && expand(&p, word, &len, sizeof(word)) == 0)
			continue;
		if (strchr(";&<>()`$*?[]{}~", c)) {
			snprintf(why, wsize, "unquoted '%c'", c);
			return SPLIT_UNSUPPORTED;
		}
		PUT(c);
		p++;
	}
#undef PUT
	if (cur->n == 0) {
		snprintf(why, wsize, "nothing after '|'");
		return pl->n == 1 && pl->cmd[0].n == 0 ? SPLIT_OK : SPLIT_UNSUPPORTED;
	}
	return SPLIT_OK;
}

static int complete(const char *text)
{
	struct pipeline pl;
	char why[128];
	int rc = split(text, &pl, why, sizeof(why));

	pipeline_free(&pl);
	return rc != SPLIT_INCOMPLETE;
}

static void cmds_add(struct cmds *c, const char *file, int line, const char *text,
		     const char *expect)
{
	struct cmd *v = realloc(c->v, (c->n + 1) * sizeof(*v));

	ck_assert_ptr_nonnull(v);
	c->v = v;
	v[c->n].file = xstrdup(file);
	v[c->n].line = line;
	v[c->n].text = xstrdup(text);
	v[c->n].expect = xstrdup(expect);
	c->n++;
}

static void cmds_free(struct cmds *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		free(c->v[i].file);
		free(c->v[i].text);
		free(c->v[i].expect);
	}
	free(c->v);
	memset(c, 0, sizeof(*c));
}

static int shell_fence(const char *info)
{
	static const char *const langs[] = {"sh", "bash", "shell", "console"};
	size_t i, n = strcspn(info, " \t{");

	for (i = 0; i < sizeof(langs) / sizeof(langs[0]); i++)
		if (strlen(langs[i]) == n && strncmp(info, langs[i], n) == 0)
			return 1;
	return 0;
}

/* One shell block (lines[0..n), first at line first): its commands and their output. */
static void block_commands(struct cmds *out, const char *file, char **lines, size_t n, int first)
{
	size_t i, k;
	int prompts = 0;

	for (i = 0; i < n; i++)
		prompts |= strncmp(lines[i], "$ ", 2) == 0;
	for (i = 0; i < n;) {
		const char *l = lines[i];
		char *text, *expect;
		size_t start = i;

		if (prompts ? strncmp(l, "$ ", 2) != 0
			    : (l[strspn(l, " \t")] == '\0' || l[strspn(l, " \t")] == '#')) {
			i++; /* output with no command before it, a blank line or a comment */
			continue;
		}
		text = xstrdup(prompts ? l + 2 : l);
		for (i++; !complete(text) && i < n; i++) {
			char *joined = t_fmt("%s\n%s", text, lines[i]);

			free(text);
			text = joined;
		}
		ck_assert_msg(complete(text), "%s:%d: the command never ends (a quote left open?)",
			      file, first + (int)start);
		expect = xstrdup("");
		for (k = i; prompts && k < n && strncmp(lines[k], "$ ", 2) != 0; k++) {
			char *more = t_fmt("%s%s\n", expect, lines[k]);

			free(expect);
			expect = more;
		}
		i = prompts ? k : i;
		cmds_add(out, file, first + (int)start, text, expect);
		free(text);
		free(expect);
	}
}

/* The commands of one markdown file (relative to the source root). */
static void extract(const char *file, struct cmds *out)
{
	char *text = read_text(file), *save = NULL, *line;
	char **lines = NULL;
	size_t n = 0;
	int lineno = 0, in_fence = 0, shell = 0, block_start = 0;

	/* strtok_r would merge blank lines: split by hand. */
	for (line = text; line; line = save) {
		char *nl = strchr(line, '\n');

		save = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		if (!save && !*line)
			break;
		lineno++;
		if (strncmp(line + strspn(line, " "), "```", 3) == 0) {
			if (!in_fence) {
				in_fence = 1;
				shell = shell_fence(line + strspn(line, " ") + 3);
				block_start = lineno + 1;
				n = 0;
			} else {
				if (shell)
					block_commands(out, file, lines, n, block_start);
				in_fence = shell = 0;
			}
			continue;
		}
		if (in_fence && shell) {
			char **grown = realloc(lines, (n + 1) * sizeof(*lines));

			ck_assert_ptr_nonnull(grown);
			lines = grown;
			lines[n++] = line;
		}
	}
	free(lines);
	free(text);
}

/* ---- helpers the rewritten commands talk to ---- */

struct helper {
	pid_t pid;
	int in_fd; /* its stdin: closing it stops it, also when this test dies */
	char *dir;
};

/* Starts argv with stdin a pipe (close-on-exec here) and stdout to out_path. */
static void helper_start(struct helper *h, const char *const *argv, const char *out_path)
{
	posix_spawn_file_actions_t fa;
	int p[2];

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[0], 0);
	posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	ck_assert_int_eq(posix_spawn(&h->pid, argv[0], &fa, NULL, (char *const *)argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(p[0]);
	h->in_fd = p[1];
}

static void helper_stop(struct helper *h)
{
	int status;

	if (h->pid <= 0)
		return;
	close(h->in_fd);
	waitpid(h->pid, &status, 0);
	h->pid = 0;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Waits for a file to hold a number (a port), the helper still running. */
static int wait_number(const struct helper *h, const char *path)
{
	int i, v = 0, status;

	for (i = 0; i < 2000 && v <= 0; i++) {
		FILE *f = fopen(path, "r");

		if (f) {
			if (fscanf(f, "%d", &v) != 1)
				v = 0;
			fclose(f);
		}
		if (v <= 0) {
			ck_assert_msg(waitpid(h->pid, &status, WNOHANG) == 0,
				      "a helper server exited before listening");
			sleep_ms(5);
		}
	}
	ck_assert_msg(v > 0, "a helper server did not say its port");
	return v;
}

/* A plain HTTP server on 127.0.0.1 (a free port) serving an empty folder, as a user's would. */
static const char http_server_py[] =
	"import http.server, os, sys, threading\n"
	"os.chdir(sys.argv[1])\n"
	"s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), "
	"http.server.SimpleHTTPRequestHandler)\n"
	"print(s.server_address[1], flush=True)\n"
	"threading.Thread(target=s.serve_forever, daemon=True).start()\n"
	"sys.stdin.read()\n";

static int http_start(struct helper *h)
{
	char *port_file;
	int port;

	h->dir = t_tmpdir();
	port_file = t_fmt("%s.port", h->dir);
	helper_start(h, (const char *const[]){PYTHON, "-I", "-c", http_server_py, h->dir, NULL},
		     port_file);
	port = wait_number(h, port_file);
	unlink(port_file);
	free(port_file);
	return port;
}

/*
 * The scripted model server for `cact agent`: the model runs one
 * execute_code that lists /input, then answers. With key, every request
 * must carry it.
 */
#define AGENT_ANSWER "The scripted model has answered."

static char *fake_start(struct helper *h, const char *key)
{
	const char *root = getenv("CACT_SOURCE_ROOT");
	char *script, *port_file, *log, *server, *url;
	int port;

	h->dir = t_tmpdir();
	script = t_fmt("%s/script.json", h->dir);
	port_file = t_fmt("%s/port", h->dir);
	log = t_fmt("%s/log.jsonl", h->dir);
	server = t_fmt("%s/tests/agent/fake_openai.py", root);
	t_write(h->dir, "script.json",
		"[{\"expect\": {\"has_tool\": \"execute_code\"},"
		"  \"response\": {\"tool_calls\": [{\"id\": \"r1\", \"name\": \"execute_code\","
		"   \"arguments\": {\"code\": \"import os; print(os.listdir('/input'))\"}}]}},"
		" {\"expect\": {\"tool_result_contains\": \"[\"},"
		"  \"response\": {\"content\": \"" AGENT_ANSWER "\"}}]");
	if (key)
		helper_start(h,
			     (const char *const[]){PYTHON, "-I", server, "--port-file", port_file,
						   "--script", script, "--log", log, "--api-key",
						   key, "--lifetime", "250", NULL},
			     "/dev/null");
	else
		helper_start(h,
			     (const char *const[]){PYTHON, "-I", server, "--port-file", port_file,
						   "--script", script, "--log", log, "--lifetime",
						   "250", NULL},
			     "/dev/null");
	port = wait_number(h, port_file);
	url = t_fmt("http://127.0.0.1:%d/v1", port);
	free(script);
	free(port_file);
	free(log);
	free(server);
	return url;
}

/* The scripted server's log, checked: every request answered as scripted. */
static void fake_check(const struct helper *h, const struct cmd *c)
{
	char *path = t_fmt("%s/log.jsonl", h->dir), *log = read_text(path);

	ck_assert_msg(strstr(log, "\"failed\": null") || strstr(log, "\"failed\":null"),
		      "%s:%d: the scripted model server got no request: %s", c->file, c->line, log);
	ck_assert_msg(!strstr(log, "\"failed\": \"") && !strstr(log, "\"failed\":\""),
		      "%s:%d: the scripted model server refused a request: %s", c->file, c->line,
		      log);
	free(log);
	free(path);
}

/* ---- running one command ---- */

/*
 * Commands that cannot run here even rewritten: by the program they run, or
 * by a host on the internet they allow-list. Said when met, never silently;
 * keep each reason true.
 */
static const struct {
	const char *program, *host, *reason;
} not_here[] = {
	{NULL, "api.github.com",
	 "reads the real api.github.com (the test has no internet); the localhost example "
	 "next to it takes the same path: allow-list, http_* and urllib through the host"},
	{"make", NULL,
	 "builds, tests, installs or packages the whole tree: not for a test inside the suite "
	 "(the install suite installs into a temporary prefix)"},
	{"cc", NULL,
	 "compiles the reader's own hello.c against an installed cact (tests/install.sh "
	 "builds such a program in the install suite)"},
	{"python3", NULL,
	 "makes the virtual environment of the Python package: tests/python.sh (make "
	 "test-python) makes its own with these words"},
	{"/tmp/venv/bin/pip", NULL,
	 "builds and installs the Python package: tests/python.sh (make test-python) runs "
	 "this command into its own virtual environment"},
};

/*
 * The program a command line runs, by its first word after NAME=value
 * words (a rough look, for lines split() refuses). Owned.
 */
static char *program_of(const char *text)
{
	const char *p = text;
	size_t n;

	for (;;) {
		p += strspn(p, " \t");
		n = strcspn(p, " \t\n");
		if (!is_assignment(p) || n == 0)
			break;
		p += n;
	}
	return t_fmt("%.*s", (int)n, p);
}

/* The reason not_here[] gives for a program, or NULL. */
static const char *program_not_here(const char *program)
{
	size_t k;

	for (k = 0; k < sizeof(not_here) / sizeof(not_here[0]); k++)
		if (not_here[k].program && strcmp(not_here[k].program, program) == 0)
			return not_here[k].reason;
	return NULL;
}

/* 1 when the command (its words w[0..n), assignments skipped) is listed in not_here[k]. */
static int listed(const struct simple *s, size_t k)
{
	int i = 0;

	while (i < s->n && s->w[i].assign)
		i++;
	if (i == s->n)
		return 0;
	if (not_here[k].program)
		return strcmp(s->w[i].s, not_here[k].program) == 0;
	for (i++; i + 1 < s->n; i++) {
		const char *t = s->w[i + 1].s;
		size_t n = strlen(not_here[k].host);

		if (strcmp(s->w[i].s, "--allow-domain") == 0 &&
		    strncmp(t, not_here[k].host, n) == 0 && strchr(":=", t[n])) /* or its end */
			return 1;
	}
	return 0;
}

/* Outcomes that are the point of the example, by a word of the command. */
static const struct {
	const char *word;
	int status;
	const char *says;
} meant_to_fail[] = {
	{"print(1/0)", 1, "ZeroDivisionError: division by zero"},
};

/* "127.0.0.1:<digits>" and "localhost:<digits>" become "...:PORT": ports are rewritten. */
static char *normalize_ports(const char *s)
{
	char *out = malloc(strlen(s) * 2 + 16), *o = out;
	const char *hosts[] = {"127.0.0.1:", "localhost:"};
	size_t i;

	ck_assert_ptr_nonnull(out);
	while (*s) {
		for (i = 0; i < 2; i++)
			if (strncmp(s, hosts[i], strlen(hosts[i])) == 0 &&
			    isdigit((unsigned char)s[strlen(hosts[i])]))
				break;
		if (i < 2) {
			o = stpcpy(o, hosts[i]);
			o = stpcpy(o, "PORT");
			s += strlen(hosts[i]);
			while (isdigit((unsigned char)*s))
				s++;
			continue;
		}
		*o++ = *s++;
	}
	*o = '\0';
	return out;
}

/* Replaces every from in s by to. Owned. */
static char *replace_all(const char *s, const char *from, const char *to)
{
	size_t n = 0, fl = strlen(from);
	const char *p;
	char *out, *o;

	for (p = s; (p = strstr(p, from)); p += fl)
		n++;
	out = malloc(strlen(s) + n * strlen(to) + 1);
	ck_assert_ptr_nonnull(out);
	for (o = out; (p = strstr(s, from)); s = p + fl) {
		memcpy(o, s, (size_t)(p - s));
		o = stpcpy(o + (p - s), to);
	}
	memcpy(o, s, strlen(s) + 1);
	return out;
}

/* The output a command must show: each line it shows in the README, ports aside. */
static void check_expect(const struct cmd *c, const char *out, const char *err)
{
	char *all = t_fmt("%s\n%s", out, err), *norm_all = normalize_ports(all);
	char *exp = xstrdup(c->expect), *save = NULL, *line;

	for (line = strtok_r(exp, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *want = normalize_ports(line);

		if (*want)
			ck_assert_msg(strstr(norm_all, want) != NULL,
				      "%s:%d: `%s` does not print what the README shows: %s\n"
				      "stdout: %s\nstderr: %s",
				      c->file, c->line, c->text, line, out, err);
		free(want);
	}
	free(exp);
	free(norm_all);
	free(all);
}

struct run {
	const char *argv[MAX_WORDS + 2];
	char *owned[MAX_WORDS + 2]; /* rewritten words to free */
	int argc;
	char *stdin_text;
	struct helper servers[2];
	int n_servers;
	char *fake_url; /* the scripted model server, when started */
	int fake_index;
	int mcp_http; /* cact mcp --http: a server, stopped once it serves */
};

static void set_word(struct run *r, int i, char *value)
{
	free(r->owned[i]);
	r->owned[i] = value;
	r->argv[i] = value;
}

/* "localhost:8000" -> "8000" when target names this machine with a port; NULL otherwise. */
static const char *local_port(const char *target)
{
	if (strncmp(target, "localhost:", 10) == 0)
		return target + 10;
	if (strncmp(target, "127.0.0.1:", 10) == 0)
		return target + 10;
	return NULL;
}

/*
 * The rewrites: each network target to a local server, each file a command
 * writes to tmp. Returns NULL, or why the command cannot run (it is then
 * reported and passed over only when not_here[] names it).
 */
static const char *rewrite(struct run *r, const char *tmp, const char *key)
{
	static int n_dirs;
	int i, k;

	for (i = 1; i < r->argc; i++) {
		const char *w = r->argv[i], *next = i + 1 < r->argc ? r->argv[i + 1] : NULL;

		if (!next)
			break;
		if (strcmp(w, "--output-dir") == 0 || strcmp(w, "--session") == 0) {
			const char *base = strrchr(next, '/') ? strrchr(next, '/') + 1 : next;
			char *dir = t_fmt("%s/%d", tmp, ++n_dirs);

			/* A folder of its own: no command finds another's files. */
			ck_assert_int_eq(mkdir(dir, 0700), 0);
			set_word(r, i + 1, t_fmt("%s/%s", dir, *base ? base : "out"));
			free(dir);
		} else if (strcmp(w, "--base-url") == 0) {
			ck_assert_msg(!r->fake_url, "two --base-url");
			r->fake_index = r->n_servers;
			r->fake_url = fake_start(&r->servers[r->n_servers++], key);
			set_word(r, i + 1, xstrdup(r->fake_url));
		} else if (strcmp(w, "--http") == 0) {
			const char *colon = strrchr(next, ':');

			ck_assert_msg(colon != NULL, "--http %s: no port", next);
			set_word(r, i + 1, t_fmt("%.*s:0", (int)(colon - next), next));
			r->mcp_http = 1;
		} else if (strcmp(w, "--allow-domain") == 0) {
			const char *port = local_port(next);
			char *from, *to;
			int p;

			if (!port)
				return "it reaches a server on the internet";
			/* Every mention of that address, in the code too. */
			ck_assert_int_lt(r->n_servers, 2);
			p = http_start(&r->servers[r->n_servers++]);
			from = t_fmt("%.*s", (int)(strcspn(next, "=")), next);
			to = t_fmt("%.*s%d", (int)(port - next), next, p);
			for (k = 1; k < r->argc; k++)
				if (strstr(r->argv[k], from))
					set_word(r, k, replace_all(r->argv[k], from, to));
			free(from);
			free(to);
		}
	}
	return NULL;
}

/* cact mcp --http: started, read until it says where it serves, stopped. */
static int run_server(struct run *r, char **out, char **err)
{
	const char *bin = getenv("CACT_BIN");
	posix_spawn_file_actions_t fa;
	char buf[8192];
	size_t len = 0;
	int e[2], status, i;
	pid_t pid;

	r->argv[0] = bin;
	ck_assert_int_eq(pipe2(e, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, e[1], 2);
	ck_assert_int_eq(posix_spawn(&pid, bin, &fa, NULL, (char *const *)r->argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(e[1]);
	/* At most 30 s to say "serving", then stopped whatever happened. */
	for (i = 0; i < 300 && !memmem(buf, len, "serving", 7); i++) {
		struct pollfd pfd = {.fd = e[0], .events = POLLIN};
		ssize_t n;

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = read(e[0], buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	close(e[0]);
	buf[len] = '\0';
	*out = xstrdup("");
	*err = xstrdup(buf);
	return memmem(buf, len, "serving", 7) ? 0 : 1;
}

/* examples/agent/run.sh: a sample program; without OPENAI_BASE_URL it plays its own script. */
static int run_sample(struct run *r, char **out, char **err)
{
	const char *bin = getenv("CACT_BIN");
	char *build = xstrdup(bin), *slash = strrchr(build, '/');
	char *prog, *sample;
	int rc;

	*slash = '\0';
	sample = t_fmt("%s/examples/cact-sample-%s", build, r->argc > 1 ? r->argv[1] : "?");
	if (access(sample, X_OK) != 0) {
		free(sample);
		free(build);
		return -1;
	}
	setenv("BUILD", build, 1);
	unsetenv("OPENAI_BASE_URL");
	/* t_cli runs $CACT_BIN: point it at the script for this one run. */
	prog = realpath(r->argv[0], NULL);
	ck_assert_ptr_nonnull(prog);
	setenv("CACT_BIN", prog, 1);
	rc = t_cli(r->argv + 1, r->stdin_text, out, err);
	setenv("CACT_BIN", bin, 1);
	free(prog);
	free(sample);
	free(build);
	return rc;
}

struct env_save {
	char *name, *old;
};

/* Runs one command; returns 1 when it ran, 0 when not_here[] passes it over. */
static int run_one(const struct cmd *c, const char *tmp)
{
	struct pipeline pl;
	struct simple *s;
	struct run r;
	struct env_save saved[8];
	char why[128], *out = NULL, *err = NULL;
	const char *cannot = NULL, *key = NULL;
	int rc, i, n_env = 0, status = 0;
	size_t k;
	const char *says = NULL;

	memset(&r, 0, sizeof(r));
	rc = split(c->text, &pl, why, sizeof(why));
	if (rc != SPLIT_OK) {
		/* A program that is not run needs no words: $(...) and the like are fine there. */
		char *prog = program_of(c->text);
		const char *reason = program_not_here(prog);

		free(prog);
		pipeline_free(&pl);
		ck_assert_msg(reason != NULL, "%s:%d: `%s`: %s", c->file, c->line, c->text,
			      rc == SPLIT_INCOMPLETE ? "the command never ends" : why);
		printf("%s:%d: not run here: %s:\n    %s\n", c->file, c->line, reason, c->text);
		return 0;
	}
	for (k = 0; k < sizeof(not_here) / sizeof(not_here[0]); k++) {
		if (listed(&pl.cmd[pl.n - 1], k)) {
			printf("%s:%d: not run here: %s:\n    %s\n", c->file, c->line,
			       not_here[k].reason, c->text);
			pipeline_free(&pl);
			return 0;
		}
	}
	if (pl.n == 2) {
		/* `echo WORDS | cact ...`: WORDS and a newline on its standard input. */
		ck_assert_msg(pl.cmd[0].n > 0 && strcmp(pl.cmd[0].w[0].s, "echo") == 0,
			      "%s:%d: only `echo ... |` is understood before a pipe: %s", c->file,
			      c->line, c->text);
		r.stdin_text = xstrdup("");
		for (i = 1; i < pl.cmd[0].n; i++) {
			char *more =
				t_fmt("%s%s%s", r.stdin_text, i > 1 ? " " : "", pl.cmd[0].w[i].s);

			free(r.stdin_text);
			r.stdin_text = more;
		}
		{
			char *nl = t_fmt("%s\n", r.stdin_text);

			free(r.stdin_text);
			r.stdin_text = nl;
		}
	}
	s = &pl.cmd[pl.n - 1];
	/* VAR=value before the command: in its environment only. */
	for (i = 0; i < s->n && s->w[i].assign; i++) {
		char *eq = strchr(s->w[i].s, '=');
		const char *old;

		*eq = '\0';
		ck_assert_int_lt(n_env, 8);
		old = getenv(s->w[i].s);
		saved[n_env].name = xstrdup(s->w[i].s);
		saved[n_env].old = old ? xstrdup(old) : NULL;
		n_env++;
		if (strcmp(s->w[i].s, "OPENAI_API_KEY") == 0)
			key = eq + 1;
		/* The model server is the scripted one (run.sh picks it when this is unset). */
		if (strcmp(s->w[i].s, "OPENAI_BASE_URL") == 0)
			continue;
		setenv(s->w[i].s, eq + 1, 1);
	}
	ck_assert_msg(i < s->n, "%s:%d: no command: %s", c->file, c->line, c->text);
	for (; i < s->n; i++)
		r.argv[r.argc++] = s->w[i].s;
	r.argv[r.argc] = NULL;

	if (strcmp(r.argv[0], "cact") == 0)
		cannot = rewrite(&r, tmp, key);
	else if (strcmp(r.argv[0], "examples/agent/run.sh") != 0)
		cannot = "it is not a cact command, and this test does not know how to run it";
	ck_assert_msg(cannot == NULL,
		      "%s:%d: `%s` cannot run here: %s. Make it runnable from the source root, "
		      "or add it to not_here[] in %s with the reason",
		      c->file, c->line, c->text, cannot, __FILE__);

	if (r.mcp_http)
		rc = run_server(&r, &out, &err);
	else if (strcmp(r.argv[0], "cact") == 0)
		rc = t_cli(r.argv + 1, r.stdin_text, &out, &err);
	else
		rc = run_sample(&r, &out, &err);
	ck_assert_msg(rc >= 0, "%s:%d: `%s`: the sample program is not built", c->file, c->line,
		      c->text);
	for (k = 0; k < sizeof(meant_to_fail) / sizeof(meant_to_fail[0]); k++)
		if (strstr(c->text, meant_to_fail[k].word)) {
			status = meant_to_fail[k].status;
			says = meant_to_fail[k].says;
		}
	printf("%s:%d: exit %d:\n    %s\n", c->file, c->line, rc, c->text);
	fflush(stdout);
	ck_assert_msg(rc == status, "%s:%d: `%s` exits %d, not %d\nstdout: %s\nstderr: %s", c->file,
		      c->line, c->text, rc, status, out, err);
	if (says)
		ck_assert_msg(strstr(err, says) || strstr(out, says), "%s:%d: `%s` does not say %s",
			      c->file, c->line, c->text, says);
	check_expect(c, out, err);
	if (r.fake_url) {
		ck_assert_msg(strstr(out, AGENT_ANSWER) != NULL,
			      "%s:%d: `%s` does not print the answer\nstdout: %s\nstderr: %s",
			      c->file, c->line, c->text, out, err);
		fake_check(&r.servers[r.fake_index], c);
	}

	for (i = 0; i < r.n_servers; i++) {
		helper_stop(&r.servers[i]);
		t_rmtree(r.servers[i].dir);
		free(r.servers[i].dir);
	}
	for (i = n_env - 1; i >= 0; i--) {
		if (saved[i].old)
			setenv(saved[i].name, saved[i].old, 1);
		else
			unsetenv(saved[i].name);
		free(saved[i].name);
		free(saved[i].old);
	}
	for (i = 0; i < MAX_WORDS + 2; i++)
		free(r.owned[i]);
	free(r.fake_url);
	free(r.stdin_text);
	free(out);
	free(err);
	pipeline_free(&pl);
	return 1;
}

/* ---- what a command leaves in the tree ---- */

/* examples/tools/send_report.py writes to examples/tools/outbox: what was there before. */
struct outbox {
	int existed;
	char **names;
	size_t n;
};

static const char outbox_dir[] = "examples/tools/outbox";

static void outbox_note(struct outbox *o)
{
	DIR *d = opendir(outbox_dir);
	struct dirent *de;

	memset(o, 0, sizeof(*o));
	o->existed = d != NULL;
	while (d && (de = readdir(d))) {
		char **grown = realloc(o->names, (o->n + 1) * sizeof(*grown));

		ck_assert_ptr_nonnull(grown);
		o->names = grown;
		o->names[o->n++] = xstrdup(de->d_name);
	}
	if (d)
		closedir(d);
}

/* Removes what the commands added, and the folder when they made it. */
static void outbox_restore(struct outbox *o)
{
	DIR *d = opendir(outbox_dir);
	struct dirent *de;
	size_t i;

	while (d && (de = readdir(d))) {
		for (i = 0; i < o->n && strcmp(o->names[i], de->d_name) != 0; i++)
			;
		if (i == o->n) {
			char *path = t_fmt("%s/%s", outbox_dir, de->d_name);

			unlink(path);
			free(path);
		}
	}
	if (d)
		closedir(d);
	if (!o->existed)
		rmdir(outbox_dir);
	for (i = 0; i < o->n; i++)
		free(o->names[i]);
	free(o->names);
}

/* ---- the cases ---- */

static void to_source_root(void)
{
	const char *root = getenv("CACT_SOURCE_ROOT");

	ck_assert_msg(root != NULL, "CACT_SOURCE_ROOT is not set");
	ck_assert_msg(chdir(root) == 0, "cd %s: %s", root, strerror(errno));
	setvbuf(stdout, NULL, _IOLBF, 0);
	/*
	 * The example tools run "python3" from PATH. A version manager's shim
	 * there (pyenv's costs a second a call) would eat the example's 20 s
	 * limit on a busy machine: the system's python3 comes first.
	 */
	if (access(PYTHON, X_OK) == 0) {
		char *path = t_fmt("/usr/bin:%s", getenv("PATH") ? getenv("PATH") : "/bin");

		setenv("PATH", path, 1);
		free(path);
	}
}

/* Runs every command of the files; at least min_run of them must run. */
static void run_files(const char *const *files, size_t n_files, size_t min_run)
{
	struct cmds all = {0};
	struct outbox ob;
	char *tmp = t_tmpdir();
	size_t i, ran = 0;
	int lock;

	for (i = 0; i < n_files; i++)
		extract(files[i], &all);
	/*
	 * The cases run at once under meson and both may write the outbox:
	 * one at a time, so that neither removes what the other wrote.
	 */
	lock = open("examples", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_msg(lock >= 0 && flock(lock, LOCK_EX) == 0, "lock examples/: %s",
		      strerror(errno));
	outbox_note(&ob);
	for (i = 0; i < all.n; i++)
		ran += (size_t)run_one(&all.v[i], tmp);
	outbox_restore(&ob);
	close(lock);
	printf("%zu commands run, %zu passed over (reasons above)\n", ran, all.n - ran);
	ck_assert_msg(ran >= min_run, "only %zu commands ran; the extraction lost some", ran);
	cmds_free(&all);
	t_rmtree(tmp);
	free(tmp);
}

START_TEST(readme_commands)
{
	static const char *const files[] = {"README.md"};

	to_source_root();
	run_files(files, 1, 10);
}
END_TEST

START_TEST(examples_commands)
{
	glob_t g;

	to_source_root();
	ck_assert_int_eq(glob("examples/*/README.md", 0, NULL, &g), 0);
	run_files((const char *const *)g.gl_pathv, g.gl_pathc, 5);
	globfree(&g);
}
END_TEST

/* The extraction itself: known commands are found whole, output and all. */
START_TEST(extraction_finds_the_commands)
{
	struct cmds c = {0};
	struct pipeline pl;
	char why[128];
	size_t i;
	int agent = 0, network = 0, piped = 0, factorial = 0;

	to_source_root();
	extract("README.md", &c);
	for (i = 0; i < c.n; i++) {
		const char *t = c.v[i].text;
		char *prog = program_of(t);
		int rc = split(t, &pl, why, sizeof(why));

		/* Every line splits, but those of programs that are never run. */
		ck_assert_msg(rc == SPLIT_OK || program_not_here(prog), "%s:%d: %s: %s",
			      c.v[i].file, c.v[i].line, t, why);
		free(prog);
		if (rc != SPLIT_OK) {
			pipeline_free(&pl);
			continue;
		}
		if (strstr(t, "cact agent") && strstr(t, "--base-url")) {
			agent = 1;
			/* Three lines joined by backslashes: one command. */
			ck_assert_msg(pl.cmd[0].w[0].assign, "%s", t);
		}
		if (strstr(t, "localhost:8000") && strstr(t, "urlopen")) {
			network = 1;
			/* A quote open across lines: the code is one word. */
			ck_assert_int_eq(pl.cmd[0].n, 6);
			ck_assert_ptr_nonnull(strchr(pl.cmd[0].w[5].s, '\n'));
		}
		if (pl.n == 2)
			piped = 1;
		if (strstr(t, "math.factorial(20)")) {
			factorial = 1;
			ck_assert_str_eq(c.v[i].expect, "2432902008176640000\n");
		}
		pipeline_free(&pl);
	}
	ck_assert_msg(agent && network && piped && factorial,
		      "README.md: agent %d, network %d, pipe %d, output %d", agent, network, piped,
		      factorial);
	cmds_free(&c);
}
END_TEST

int main(int argc, char **argv)
{
	const struct t_case cases[] = {
		T_CASE(extraction_finds_the_commands, 30),
		T_CASE(readme_commands, 280),
		T_CASE(examples_commands, 280),
	};

	return t_main("readme", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
