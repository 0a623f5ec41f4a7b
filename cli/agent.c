/* SPDX-License-Identifier: MIT */
/*
 * cact agent: a CodeAct agent against an OpenAI-compatible model server.
 * The model sees execute_code (and the config's direct tools); progress
 * goes to stderr, the answer to stdout.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <cact/cact.h>

#include "approve.h"
#include "cli.h"
#include "opts.h"
#include "sandbox_opts.h"
#include "term.h"

static const char help[] =
	"usage: cact agent --base-url URL --model NAME [OPTIONS] [PROMPT]\n"
	"\n"
	"Answers PROMPT (or each line of standard input) with a model that writes\n"
	"Python for the sandbox through execute_code.\n"
	"\n"
	"  --config FILE          the cact exec configuration (tools, files, network,\n"
	"                         limits), plus direct_tools the model calls itself;\n"
	"                         without it, execute_code with no tools or files\n"
	"  --base-url URL         the server's API root, e.g. https://api.openai.com/v1\n"
	"  --model NAME           model name\n"
	"  --api-key-env VAR      environment variable holding the API key (default\n"
	"                         OPENAI_API_KEY, when set; never printed)\n"
	"  --header 'NAME: VALUE' extra request header (repeatable)\n"
	"  --session FILE         continue the conversation in FILE and save it there\n"
	"  --max-steps N          model calls per prompt (default 20)\n"
	"  --approve ask|all|none how to answer calls that need approval: ask on the\n"
	"                         terminal (default; denied without one), all, none\n"
	"  --stream               stream the answer as it arrives\n"
	"  --output-dir DIR       save the files each execution leaves in /output here\n"
	"  --json                 print each run's transcript as one JSON line\n"
	"  --instructions TEXT    extra instructions for the model\n"
	"  --tools-visible        offer the sandbox's tools to the model directly too\n"
	"  --persistent           one Python interpreter per conversation: variables,\n"
	"                         imports and files persist between execute_code calls\n"
	"                         (as \"sessions\": {\"enabled\": true} in --config); it\n"
	"                         is not saved with --session\n"
	"  --isolation full|reduced as for cact exec\n";

static const char help_tail[] =
	"\n"
	"Retries of the model server (429, 5xx, connection failures) are reported on\n"
	"standard error as they happen.\n"
	"\n"
	"Exit status: 0 answered, 1 a step limit or a model server error, 2 usage\n"
	"error, 3 the sandbox could not be set up.\n";

enum {
	O_CONFIG = SBO_CONFIG,
	O_BASE = SBO__N,
	O_MODEL,
	O_KEYENV,
	O_HEADER,
	O_SESSION,
	O_STEPS,
	O_APPROVE,
	O_STREAM,
	O_OUTDIR,
	O_JSON,
	O_INSTR,
	O_VISIBLE,
	O_PERSISTENT,
	O_HELP,
	O__N
};

struct ui {
	int color;
	int stream;
	int json;
	int text_open;	    /* streamed text printed without a final newline */
	int out_open;	    /* a line of the code's output printed without its newline */
	int out_err;	    /* ... and it is stderr's */
	unsigned out_lines; /* lines of the code's output shown this step */
	const char *outdir;
	uint64_t t0;
	unsigned step;	     /* the model call under way */
	const char *key_var; /* where the API key came from; NULL: none was sent */
	int key_by_option;   /* key_var was named with --api-key-env */
};

/* The variable read when --api-key-env is not given (as the OpenAI SDKs do). */
#define DEFAULT_KEY_VAR "OPENAI_API_KEY"

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static const char *paint(const struct ui *u, const char *code)
{
	return u->color ? code : "";
}

#define DIM   "\033[2m"
#define BOLD  "\033[1m"
#define RED   "\033[31m"
#define GREEN "\033[32m"
#define CYAN  "\033[36m"
#define OFF   "\033[0m"

/* Prints text indented, at most max_lines lines, then a count of the rest. */
static void block(const struct ui *u, const char *text, size_t len, int max_lines)
{
	size_t i = 0;
	int lines = 0;

	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (text + i)) : len - i;

		if (lines == max_lines) {
			size_t rest = 0;

			for (; i < len; i++)
				rest += text[i] == '\n';
			fprintf(stderr, "    %s[... %zu more lines]%s\n", paint(u, DIM), rest + 1,
				paint(u, OFF));
			return;
		}
		/* From the model, the sandbox or a tool: escaped (cli/term.h). */
		char *line = term_escape(text + i, term_cut(text + i, n, 400), TERM_TEXT, NULL);

		fprintf(stderr, "    %s|%s %s\n", paint(u, DIM), paint(u, OFF), line);
		term_free(line);
		lines++;
		i += n + 1;
	}
}

/* Lines of the code's live output shown per step; the model gets all of it. */
#define OUTPUT_LINES_MAX 200

static void close_output(struct ui *u)
{
	if (u->out_open) {
		fputc('\n', stderr);
		u->out_open = 0;
	}
}

/*
 * The code's output as it comes: each line once, after "    > " (stdout)
 * or "    ! " (stderr), escaped (cli/term.h); a line still open when
 * something else is printed is ended there.
 */
static void show_output(struct ui *u, const struct cact_event *ev)
{
	int err = ev->name && strcmp(ev->name, "stderr") == 0;
	size_t i = 0;

	if (u->out_open && u->out_err != err)
		close_output(u);
	while (i < ev->len) {
		const char *nl = memchr(ev->text + i, '\n', ev->len - i);
		size_t n = nl ? (size_t)(nl - (ev->text + i)) : ev->len - i;
		char *line;

		if (!u->out_open) {
			if (u->out_lines >= OUTPUT_LINES_MAX) {
				if (u->out_lines++ == OUTPUT_LINES_MAX)
					fprintf(stderr, "    %s[... more output, not shown]%s\n",
						paint(u, DIM), paint(u, OFF));
				break;
			}
			fprintf(stderr, "    %s%s%s ", paint(u, err ? RED : DIM), err ? "!" : ">",
				paint(u, OFF));
			u->out_open = 1;
			u->out_err = err;
			u->out_lines++;
		}
		line = term_escape(ev->text + i, n, TERM_TEXT, NULL);
		fputs(line, stderr);
		term_free(line);
		i += n;
		if (nl) {
			fputc('\n', stderr);
			u->out_open = 0;
			i++;
		}
	}
	fflush(stderr);
}

static void close_text(struct ui *u)
{
	if (u->text_open) {
		fputc('\n', stdout);
		fflush(stdout);
		u->text_open = 0;
	}
}

static void save_files(const struct ui *u, const struct cact_result *r)
{
	struct cact_error err = {0};

	if (!u->outdir || cact_result_file_count(r) == 0)
		return;
	if (cact_result_save_files(r, u->outdir, 1, &err)) {
		char *msg = term_escape_str(err.message, TERM_NAME); /* names a file */

		fprintf(stderr, "cact agent: saving files: %s\n", msg);
		term_free(msg);
	} else
		fprintf(stderr, "    %s%zu file(s) saved to %s%s\n", paint(u, DIM),
			cact_result_file_count(r), u->outdir, paint(u, OFF));
}

/* A model request failed and is sent again: said now, not after the wait. */
static void on_retry(void *user, const struct cact_chat_retry *r)
{
	struct ui *u = user;
	char why[64], *detail = term_escape_str(r->detail, TERM_NAME); /* the server's words */

	if (r->status)
		snprintf(why, sizeof(why), "answered %ld", r->status);
	else
		snprintf(why, sizeof(why), "unreachable");
	close_text(u);
	/* Progress, as the step's other lines: the error line is for when retries run out. */
	fprintf(stderr,
		"%s[step %u] model server %s: %s; retrying in %.1f s (attempt %u of %u)%s\n",
		paint(u, RED), u->step, why, detail, (double)r->wait_ms / 1e3, r->attempt + 1,
		r->max_attempts, paint(u, OFF));
	fflush(stderr);
	term_free(detail);
}

/*
 * A 401 means the key is missing or wrong: say which option sets it, as
 * the server's message cannot know.
 */
static const char *key_hint(const struct ui *u, const char *message, char *buf, size_t size)
{
	if (!strstr(message, "model server answered 401"))
		return "";
	if (!u->key_var)
		snprintf(buf, size,
			 " (no API key was sent: set " DEFAULT_KEY_VAR
			 ", or name the variable that holds it with --api-key-env VAR)");
	else if (u->key_by_option)
		snprintf(buf, size, " (the key sent is the one in %s, named by --api-key-env)",
			 u->key_var);
	else
		snprintf(buf, size,
			 " (the key sent is the one in " DEFAULT_KEY_VAR
			 "; name another variable with --api-key-env VAR)");
	return buf;
}

/* " (call 2 of 3)" when the model's message asked for several (they run at once), else "". */
static void which(const struct cact_event *ev, char *buf, size_t size)
{
	if (ev->calls > 1)
		snprintf(buf, size, " (call %u of %u)", ev->call, ev->calls);
	else
		buf[0] = '\0';
}

/* The library calls it for one event at a time (cact_event_fn). */
static void on_event(void *user, const struct cact_event *ev)
{
	struct ui *u = user;
	char *name = NULL, *text = NULL; /* escaped for the terminal */
	char nth[48];

	if (ev->kind != CACT_EVENT_OUTPUT)
		close_output(u);
	switch (ev->kind) {
	case CACT_EVENT_OUTPUT:
		close_text(u);
		show_output(u, ev);
		break;
	case CACT_EVENT_STEP:
		u->step = ev->step; /* for on_retry */
		u->out_lines = 0;
		fprintf(stderr, "%s[step %u]%s asking the model\n", paint(u, DIM), ev->step,
			paint(u, OFF));
		break;
	case CACT_EVENT_TEXT:
		if (u->stream && !u->json) {
			fwrite(ev->text, 1, ev->len, stdout);
			fflush(stdout);
			u->text_open = ev->len > 0 && ev->text[ev->len - 1] != '\n';
		}
		break;
	case CACT_EVENT_MODEL:
		close_text(u);
		fprintf(stderr,
			"%s[step %u] model answered in %.2f s, %llu tokens in, %llu out%s\n",
			paint(u, DIM), ev->step, (double)ev->elapsed_us / 1e6,
			(unsigned long long)ev->prompt_tokens,
			(unsigned long long)ev->completion_tokens, paint(u, OFF));
		break;
	case CACT_EVENT_TOOL_CALL:
		name = term_escape_str(ev->name, TERM_NAME); /* the model's choice */
		which(ev, nth, sizeof(nth));
		fprintf(stderr, "%s[step %u]%s %s%s%s%s\n", paint(u, DIM), ev->step, paint(u, OFF),
			paint(u, BOLD CYAN), name, paint(u, OFF), nth);
		{
			/* execute_code is shown as its code. */
			json_t *args = json_loads(ev->text, 0, NULL);
			json_t *code = json_object_get(args, "code");

			if (strcmp(ev->name, "execute_code") == 0 && json_is_string(code))
				block(u, json_string_value(code), json_string_length(code), 60);
			else
				block(u, ev->text, ev->len, 60);
			json_decref(args);
		}
		break;
	case CACT_EVENT_TOOL_RESULT:
		name = term_escape_str(ev->name, TERM_NAME);
		which(ev, nth, sizeof(nth));
		fprintf(stderr, "    %s%s%s %s%s (%.2f s)\n", paint(u, ev->ok ? GREEN : RED), name,
			nth, ev->ok ? "ok" : "failed", paint(u, OFF), (double)ev->elapsed_us / 1e6);
		block(u, ev->text, ev->len, 20);
		if (ev->result)
			save_files(u, ev->result);
		break;
	case CACT_EVENT_SANDBOX_CALL:
		/* The sandbox's tool name and arguments, cut at 300 bytes, on one line. */
		name = term_escape_str(ev->name, TERM_NAME);
		text = term_escape(ev->text, term_cut(ev->text, ev->len, 300), TERM_NAME, NULL);
		fprintf(stderr, "    %s-> call_tool %s%s %s\n", paint(u, CYAN), name, paint(u, OFF),
			text);
		break;
	case CACT_EVENT_SANDBOX_DONE:
		name = term_escape_str(ev->name, TERM_NAME);
		text = term_escape(ev->text, term_cut(ev->text, ev->len, 300), TERM_NAME, NULL);
		fprintf(stderr, "    %s<- %s %s%s (%.1f ms) %s\n", paint(u, ev->ok ? GREEN : RED),
			name, ev->ok ? "ok" : "failed", paint(u, OFF), (double)ev->elapsed_us / 1e3,
			text);
		break;
	}
	term_free(name);
	term_free(text);
}

static int read_file(const char *path, char **out)
{
	FILE *f = fopen(path, "r");
	size_t n = 0, cap = 0;
	char *buf = NULL;

	*out = NULL;
	if (!f)
		return errno == ENOENT ? 1 : -1;
	for (;;) {
		size_t got;

		if (n + 4096 + 1 > cap) {
			char *grown;

			cap = cap ? cap * 2 : 65536;
			if (cap > (256u << 20) || !(grown = realloc(buf, cap))) {
				free(buf);
				fclose(f);
				return -1;
			}
			buf = grown;
		}
		got = fread(buf + n, 1, 4096, f);
		n += got;
		if (got < 4096)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	*out = buf;
	return 0;
}

/* Writes the session next to path, then renames it over path. */
static int save_session(const char *path, const struct cact_session *s)
{
	char tmp[4096];
	char *text = cact_session_to_json(s);
	FILE *f;
	int ok;

	if (!text || snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		cact_free(text);
		return -1;
	}
	f = fopen(tmp, "w");
	ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
	if (f && fclose(f))
		ok = 0;
	cact_free(text);
	if (!ok || rename(tmp, path)) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* One prompt. 0 answered, 1 stopped or failed. */
static int answer(struct cact_agent *agent, struct cact_session *s, const char *prompt,
		  const struct cact_run_options *ro, struct ui *u, const char *session_path)
{
	struct cact_error err = {0};
	struct cact_run *run = NULL;
	uint64_t in = 0, out = 0;
	int status = 0;

	u->t0 = now_us();
	if (cact_agent_run(agent, s, prompt, ro, &run, &err)) {
		char hint[160];

		close_text(u);
		fprintf(stderr, "cact agent: %s%s\n", err.message,
			key_hint(u, err.message, hint, sizeof(hint)));
		status = 1;
	} else {
		close_text(u);
		cact_run_usage(run, &in, &out);
		fprintf(stderr, "%s[%s] %u step(s), %.2f s, %llu tokens in, %llu out%s\n",
			paint(u, cact_run_stop(run) == CACT_STOP_FINAL ? DIM : RED),
			cact_run_stop(run) == CACT_STOP_FINAL ? "answered" : "step limit reached",
			cact_run_steps(run), (double)(now_us() - u->t0) / 1e6,
			(unsigned long long)in, (unsigned long long)out, paint(u, OFF));
		if (u->json) {
			char *j = cact_run_to_json(run);

			if (j)
				printf("%s\n", j);
			cact_free(j);
		} else if (!u->stream) {
			const char *t = cact_run_text(run);

			printf("%s%s", t, t[0] && t[strlen(t) - 1] != '\n' ? "\n" : "");
		}
		fflush(stdout);
		status = cact_run_stop(run) == CACT_STOP_FINAL ? 0 : 1;
	}
	cact_run_free(run);
	if (session_path && save_session(session_path, s)) {
		fprintf(stderr, "cact agent: cannot save the session to %s: %s\n", session_path,
			strerror(errno));
		status = 1;
	}
	return status;
}

/* cact_chat_new's complaint in the words of the options that feed it. */
static void chat_error(const struct cact_error *err, int key_by_option)
{
	static const struct {
		const char *field, *option;
	} map[] = {{"base_url ", "--base-url: "}, {"header ", "--header: "}};
	const char *m = err->message;
	size_t i;

	if (strncmp(m, "api_key_env: ", 13) == 0) {
		if (key_by_option)
			cli_error("agent", "--api-key-env: %s", m + 13);
		else
			cli_error("agent",
				  "%s (it is read by default; --api-key-env VAR names another)",
				  m + 13);
		return;
	}
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strncmp(m, map[i].field, strlen(map[i].field)) == 0) {
			cli_error("agent", "%s%s", map[i].option, m);
			return;
		}
	cli_error("agent", "%s", m);
}

static int setup_session(const char *path, struct cact_session **s)
{
	struct cact_error err = {0};
	char *text = NULL;
	int rc;

	if (!path)
		return cact_session_new(s) ? -1 : 0;
	rc = read_file(path, &text);
	if (rc == 1)
		return cact_session_new(s) ? -1 : 0;
	if (rc < 0) {
		cli_error("agent", "--session %s: cannot read it: %s", path, strerror(errno));
		return -1;
	}
	rc = cact_session_load(text, s, &err);
	free(text);
	if (rc)
		cli_error("agent", "--session %s: %s", path, err.message);
	return rc ? -1 : 0;
}

int cmd_agent(int argc, char **argv)
{
	struct opt o[O__N] = {
		[O_BASE] = {"base-url", 0, OPT_VALUE},
		[O_MODEL] = {"model", 0, OPT_VALUE},
		[O_KEYENV] = {"api-key-env", 0, OPT_VALUE},
		[O_HEADER] = {"header", 0, OPT_VALUE | OPT_REPEAT},
		[O_SESSION] = {"session", 0, OPT_VALUE},
		[O_STEPS] = {"max-steps", 0, OPT_VALUE},
		[O_APPROVE] = {"approve", 0, OPT_VALUE},
		[O_STREAM] = {"stream", 0, OPT_FLAG},
		[O_OUTDIR] = {"output-dir", 0, OPT_VALUE},
		[O_JSON] = {"json", 0, OPT_FLAG},
		[O_INSTR] = {"instructions", 0, OPT_VALUE},
		[O_VISIBLE] = {"tools-visible", 0, OPT_FLAG},
		[O_PERSISTENT] = {"persistent", 0, OPT_FLAG},
		[O_HELP] = {"help", 'h', OPT_FLAG},
	};
	struct cact_chat_options co;
	struct cact_runtime_options rto;
	struct cact_run_options ro = {0};
	struct cact_context_provider prov;
	struct cact_error err = {0};
	struct cact_runtime *rt = NULL;
	struct cact_codeact *cc = NULL;
	struct cact_chat *chat = NULL;
	struct cact_agent *agent = NULL;
	struct cact_session *session = NULL;
	struct cact_tool **direct = NULL;
	struct approver ap = {0};
	struct ui u = {0};
	const char *pos[1], *v, *session_path;
	size_t n_pos = 0, n_direct = 0, i;
	int status = EXIT_USAGE, ap_ready = 0;

	sbo_options(o);
	cact_chat_options_init(&co);
	cact_runtime_options_init(&rto);
	if (opts_parse("agent", argc, argv, o, O__N, pos, 1, &n_pos))
		goto out;
	if (o[O_HELP].count) {
		fputs(help, stdout);
		sbo_help(stdout, SBO_PYPATH, 25);
		sbo_help(stdout, SBO_PRELOAD, 25);
		sbo_help(stdout, SBO_MCP_SERVER, 25);
		sbo_help(stdout, SBO_MCP_URL, 25);
		fputs(help_tail, stdout);
		status = EXIT_OK;
		goto out;
	}
	if (!o[O_BASE].count || !o[O_MODEL].count) {
		cli_error("agent", "--base-url and --model are required (see --help)");
		goto out;
	}
	if (approver_init(&ap, o[O_APPROVE].count ? o[O_APPROVE].values[0] : NULL, "agent"))
		goto out;
	ap_ready = 1;
	if ((v = o[O_STEPS].count ? o[O_STEPS].values[0] : NULL)) {
		char *end;
		unsigned long n = strtoul(v, &end, 10);

		if (!*v || *end || n == 0 || n > 1000 || v[0] == '-') {
			cli_error("agent", "--max-steps: '%s' is not a whole number from 1 to 1000",
				  v);
			goto out;
		}
		ro.max_steps = (unsigned)n;
	}
	if (sbo_isolation("agent", o, &rto))
		goto out;
	u.outdir = o[O_OUTDIR].count ? o[O_OUTDIR].values[0] : NULL;
	if (u.outdir && !*u.outdir) {
		cli_error("agent", "--output-dir is empty");
		goto out;
	}
	u.stream = o[O_STREAM].count > 0;
	u.json = o[O_JSON].count > 0;
	u.color = isatty(2) && !getenv("NO_COLOR");
	session_path = o[O_SESSION].count ? o[O_SESSION].values[0] : NULL;

	/* Without --config: execute_code alone, no tools, files or network. */
	if (sbo_codeact("agent", o, &cc))
		goto out;
	/* On top of the file's "sessions" (whose timeouts stay): the option only turns it on. */
	if (o[O_PERSISTENT].count)
		cact_codeact_set_persistent(cc, 1);
	co.base_url = o[O_BASE].values[0];
	co.model = o[O_MODEL].values[0];
	co.api_key_env = o[O_KEYENV].count ? o[O_KEYENV].values[0] : NULL;
	/* The usual variable by default; a server that wants no key gets none when it is unset. */
	if (!co.api_key_env && (v = getenv(DEFAULT_KEY_VAR)) && *v)
		co.api_key_env = DEFAULT_KEY_VAR;
	u.key_var = co.api_key_env;
	u.key_by_option = o[O_KEYENV].count > 0;
	co.headers = o[O_HEADER].values;
	co.n_headers = (size_t)o[O_HEADER].count;
	co.stream = u.stream;
	co.on_retry = on_retry;
	co.retry_user = &u;
	if (cact_chat_new(&co, &chat, &err)) {
		chat_error(&err, u.key_by_option);
		goto out;
	}
	if (setup_session(session_path, &session))
		goto out;
	if (cact_agent_new(chat, o[O_INSTR].count ? o[O_INSTR].values[0] : NULL, &agent, &err) ||
	    cact_codeact_direct_tools(cc, &direct, &n_direct)) {
		cli_error("agent", "%s", err.message[0] ? err.message : "out of memory");
		goto out;
	}
	for (i = 0; i < n_direct; i++) {
		if (cact_agent_add_tool(agent, direct[i], &err)) {
			cli_error("agent", "%s", err.message);
			goto out;
		}
	}
	if (cact_codeact_provider(cc, o[O_VISIBLE].count > 0, &prov, &err) ||
	    cact_agent_add_provider(agent, &prov, &err)) {
		cli_error("agent", "%s", err.message);
		goto out;
	}
	if ((status = sbo_start("agent", &rto, cc, &rt)))
		goto out;
	ro.approve = approver_decide;
	ro.approve_user = &ap;
	ro.on_event = on_event;
	ro.event_user = &u;
	if (n_pos) {
		status = answer(agent, session, pos[0], &ro, &u, session_path);
	} else {
		char *line = NULL;
		size_t cap = 0;
		ssize_t n;
		int interactive = isatty(0);

		status = EXIT_OK;
		for (;;) {
			if (interactive)
				fprintf(stderr, "%s> %s", paint(&u, BOLD), paint(&u, OFF));
			n = getline(&line, &cap, stdin);
			if (n < 0)
				break;
			while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
				line[--n] = '\0';
			if (n == 0)
				continue;
			if (answer(agent, session, line, &ro, &u, session_path))
				status = 1;
		}
		free(line);
	}
out:
	cact_agent_free(agent);
	cact_tools_free(direct, n_direct);
	cact_session_free(session);
	cact_chat_free(chat);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
	if (ap_ready)
		approver_close(&ap);
	opts_free(o, O__N);
	return status;
}
