/* SPDX-License-Identifier: MIT */
/*
 * The options and the output cact exec and cact repl share (cli/run.h):
 * the option table, applying it to a CodeAct configuration, starting the
 * runtime, and showing a result with its files saved.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cact/cact.h>
#include <jansson.h>

#include "cli.h"
#include "run.h"
#include "term.h"

void run_options(struct opt *o)
{
	static const struct opt table[RUN_O__N - SBO__N] = {
		[RUN_O_WORKSPACE - SBO__N] = {"workspace", 0, OPT_VALUE},
		[RUN_O_MOUNT - SBO__N] = {"mount", 0, OPT_VALUE | OPT_REPEAT},
		[RUN_O_TIMEOUT - SBO__N] = {"timeout", 0, OPT_VALUE},
		[RUN_O_MEMORY - SBO__N] = {"memory", 0, OPT_VALUE},
		[RUN_O_OUTDIR - SBO__N] = {"output-dir", 0, OPT_VALUE},
		[RUN_O_FORCE - SBO__N] = {"force", 0, OPT_FLAG},
		[RUN_O_JSON - SBO__N] = {"json", 0, OPT_FLAG},
		[RUN_O_APPROVE - SBO__N] = {"approve", 0, OPT_VALUE},
		[RUN_O_DOMAIN - SBO__N] = {"allow-domain", 0, OPT_VALUE | OPT_REPEAT},
		[RUN_O_CAFILE - SBO__N] = {"ca-file", 0, OPT_VALUE},
		[RUN_O_RESOLVE - SBO__N] = {"resolve", 0, OPT_VALUE | OPT_REPEAT},
		[RUN_O_PROXY - SBO__N] = {"proxy", 0, OPT_VALUE},
		[RUN_O_REDIRECT_HEADER - SBO__N] = {"redirect-header", 0, OPT_VALUE | OPT_REPEAT},
		[RUN_O_HELP - SBO__N] = {"help", 'h', OPT_FLAG},
	};

	sbo_options(o);
	memcpy(o + SBO__N, table, sizeof(table));
}

/*
 * One help entry: cact exec's words, and cact repl's where they differ
 * (NULL: the same); with exec NULL, the help of the option of every
 * command that starts a sandbox numbered shared (cli/sandbox_opts.h).
 */
static const struct {
	const char *exec, *session;
	int shared;
} help_lines[] = {
	{"  --workspace DIR          host folder visible read-only at /input\n", NULL},
	{"  --mount HOST[=GUEST]     host file or folder visible read-only at /input/GUEST\n"
	 "                           (repeatable; GUEST defaults to HOST)\n",
	 NULL},
	{"  --timeout SECONDS        wall-clock limit (default 30; decimals allowed)\n",
	 "  --timeout SECONDS        wall-clock limit of each run (default 30; decimals\n"
	 "                           allowed)\n"},
	{"  --memory MIB             memory cap (default 512)\n",
	 "  --memory MIB             memory cap of the session, all runs together\n"
	 "                           (default 512)\n"},
	{"  --output-dir DIR         copy the files left in /output here\n",
	 "  --output-dir DIR         copy the files each run adds or changes in /output\n"
	 "                           here (a later run may replace a file an earlier one\n"
	 "                           saved)\n"},
	{"  --force                  let --output-dir overwrite existing files\n", NULL},
	{"  --json                   print one JSON result object instead of the streams\n",
	 "  --json                   print one JSON result object per cell instead of the\n"
	 "                           streams (not on a terminal)\n"},
	{NULL, NULL, SBO_ISOLATION},
	{NULL, NULL, SBO_PYPATH},
	{NULL, NULL, SBO_PRELOAD},
	{"  --allow-domain TARGET[=METHOD,...]\n"
	 "                           let the code reach TARGET (host or host:port; *.example.com\n"
	 "                           for subdomains) over HTTP(S), with these methods or all\n"
	 "                           (repeatable)\n",
	 NULL},
	{"  --ca-file FILE           trust these certificate authorities (PEM) for HTTPS\n", NULL},
	{"  --resolve HOST=ADDR      resolve HOST to ADDR instead of DNS (repeatable)\n", NULL},
	{"  --proxy URL              send every request through this HTTP proxy\n", NULL},
	{"  --redirect-header NAME   let the code's header NAME follow a redirect to another\n"
	 "                           allowed origin (repeatable; by default none does)\n",
	 NULL},
	{"  --config FILE            JSON configuration: tools, files, network, limits, approval\n"
	 "                           (options given here override it)\n",
	 NULL},
	{"  --approve ask|all|none   how to answer tool calls that need approval: ask on the\n"
	 "                           terminal (default; denied without one), approve all, deny "
	 "all\n",
	 NULL},
	{NULL, NULL, SBO_MCP_SERVER},
	{NULL, NULL, SBO_MCP_URL},
};

void run_options_help(FILE *f, int session)
{
	size_t i;

	for (i = 0; i < sizeof(help_lines) / sizeof(help_lines[0]); i++)
		if (!help_lines[i].exec)
			sbo_help(f, help_lines[i].shared, 27);
		else
			fputs(session && help_lines[i].session ? help_lines[i].session
							       : help_lines[i].exec,
			      f);
}

int run_exit_status(enum cact_status s)
{
	switch (s) {
	case CACT_STATUS_OK:
		return EXIT_OK;
	case CACT_STATUS_PYTHON_ERROR:
		return EXIT_CODE_FAILED;
	case CACT_STATUS_TIMEOUT:
		return EXIT_TIMEOUT;
	case CACT_STATUS_MEMORY_LIMIT:
	case CACT_STATUS_OUTPUT_LIMIT:
		return EXIT_LIMIT;
	case CACT_STATUS_SANDBOX_VIOLATION:
	case CACT_STATUS_CRASHED:
		return EXIT_VIOLATION;
	case CACT_STATUS_SETUP_ERROR:
	case CACT_STATUS_BUSY:
		return EXIT_SETUP;
	case CACT_STATUS_CANCELLED:
		return EXIT_VIOLATION;
	}
	return EXIT_SETUP;
}

/* Strict decimal: digits, at most one dot and three decimals; no sign, exponent or space. */
static int parse_decimal_ms(const char *s, uint64_t *ms)
{
	uint64_t whole = 0, frac = 0;
	int digits = 0, fdigits = 0, dot = 0;
	const char *p;

	if (!s || !*s)
		return -1;
	for (p = s; *p; p++) {
		if (*p == '.') {
			if (dot || digits == 0)
				return -1;
			dot = 1;
			continue;
		}
		if (*p < '0' || *p > '9')
			return -1;
		if (dot) {
			if (++fdigits > 3)
				return -1;
			frac = frac * 10 + (uint64_t)(*p - '0');
		} else {
			if (++digits > 12)
				return -1;
			whole = whole * 10 + (uint64_t)(*p - '0');
		}
	}
	if (dot && fdigits == 0)
		return -1;
	while (fdigits++ < 3)
		frac *= 10;
	*ms = whole * 1000 + frac;
	return 0;
}

static int parse_u64(const char *s, uint64_t *v)
{
	uint64_t x = 0;
	const char *p;

	if (!s || !*s)
		return -1;
	for (p = s; *p; p++) {
		if (*p < '0' || *p > '9' || x > (UINT64_MAX - 9) / 10)
			return -1;
		x = x * 10 + (uint64_t)(*p - '0');
	}
	*v = x;
	return 0;
}

/* The single value of o[i], or NULL. */
static const char *value(const struct opt *o, int i)
{
	return o[i].count ? o[i].values[0] : NULL;
}

/* "TARGET" or "TARGET=GET,POST" (an IPv6 target is written in brackets). */
static int allow_domain(const char *cmd, struct cact_codeact *cc, const char *spec)
{
	struct cact_error err = {0};
	const char *eq = strrchr(spec, '='), *methods[16];
	char *target, *list = NULL, *save = NULL, *m;
	size_t n = 0;
	int rc = 0;

	target = eq ? strndup(spec, (size_t)(eq - spec)) : strdup(spec);
	if (eq) {
		list = strdup(eq + 1);
		for (m = list ? strtok_r(list, ",", &save) : NULL; m;
		     m = strtok_r(NULL, ",", &save)) {
			if (n == 16) {
				cli_error(cmd, "--allow-domain %s: more than 16 methods", spec);
				rc = -1;
				goto out;
			}
			methods[n++] = m;
		}
		if (n == 0) {
			cli_error(cmd, "--allow-domain %s: no method after '='", spec);
			rc = -1;
			goto out;
		}
	}
	if (!target || (eq && !list)) {
		cli_error(cmd, "out of memory");
		rc = -1;
	} else if (cact_codeact_add_allowed_domain(cc, target, n ? methods : NULL, n, &err)) {
		cli_error(cmd, "--allow-domain %s: %s", spec, err.message);
		rc = -1;
	}
out:
	free(target);
	free(list);
	return rc;
}

static int network(const char *cmd, struct opt *o, struct cact_codeact *cc)
{
	struct cact_error err = {0};
	const char *v;
	int i;

	for (i = 0; i < o[RUN_O_DOMAIN].count; i++)
		if (allow_domain(cmd, cc, o[RUN_O_DOMAIN].values[i]))
			return -1;
	if ((v = value(o, RUN_O_CAFILE)) && cact_codeact_set_ca_file(cc, v, &err)) {
		cli_error(cmd, "--ca-file: %s", err.message);
		return -1;
	}
	if ((v = value(o, RUN_O_PROXY)) && cact_codeact_set_proxy(cc, v, &err)) {
		cli_error(cmd, "--proxy: %s", err.message);
		return -1;
	}
	for (i = 0; i < o[RUN_O_REDIRECT_HEADER].count; i++)
		if (cact_codeact_add_redirect_header(cc, o[RUN_O_REDIRECT_HEADER].values[i],
						     &err)) {
			cli_error(cmd, "--redirect-header %s: %s",
				  o[RUN_O_REDIRECT_HEADER].values[i], err.message);
			return -1;
		}
	for (i = 0; i < o[RUN_O_RESOLVE].count; i++) {
		const char *spec = o[RUN_O_RESOLVE].values[i], *eq = strchr(spec, '=');
		char *host = eq ? strndup(spec, (size_t)(eq - spec)) : NULL;
		int rc;

		if (!eq) {
			cli_error(cmd, "--resolve %s: expected HOST=ADDRESS", spec);
			return -1;
		}
		if (!host) {
			cli_error(cmd, "out of memory");
			return -1;
		}
		rc = cact_codeact_add_resolve(cc, host, eq + 1, &err);
		free(host);
		if (rc) {
			cli_error(cmd, "--resolve %s: %s", spec, err.message);
			return -1;
		}
	}
	return 0;
}

static int limits(const char *cmd, struct opt *o, struct cact_codeact *cc)
{
	struct cact_error err = {0};
	const char *v;
	uint64_t n;

	if ((v = value(o, RUN_O_TIMEOUT))) {
		if (parse_decimal_ms(v, &n)) {
			cli_error(cmd,
				  "--timeout: '%s' is not a number of seconds (at most three "
				  "decimals, e.g. 2.5)",
				  v);
			return -1;
		}
		/* Said in seconds, as typed: not in the library's milliseconds. */
		if (opts_limit_range(cmd, "--timeout", CACT_LIMIT_TIMEOUT_MS, n, v, 1000, "s"))
			return -1;
		if (cact_codeact_set_limit(cc, CACT_LIMIT_TIMEOUT_MS, n, &err)) {
			cli_error(cmd, "--timeout: %s", err.message);
			return -1;
		}
	}
	if ((v = value(o, RUN_O_MEMORY))) {
		if (parse_u64(v, &n)) {
			cli_error(cmd, "--memory: '%s' is not a whole number of MiB", v);
			return -1;
		}
		if (opts_limit_range(cmd, "--memory", CACT_LIMIT_MEMORY_BYTES,
				     n > (UINT64_MAX >> 20) ? UINT64_MAX : n << 20, v, 1u << 20,
				     "MiB"))
			return -1;
		if (cact_codeact_set_limit(cc, CACT_LIMIT_MEMORY_BYTES, n << 20, &err)) {
			cli_error(cmd, "--memory: %s", err.message);
			return -1;
		}
	}
	return 0;
}

static int files(const char *cmd, struct opt *o, struct cact_codeact *cc)
{
	struct cact_error err = {0};
	const char *v;
	int i;

	if ((v = value(o, RUN_O_WORKSPACE)) && cact_codeact_set_workspace(cc, v, &err)) {
		cli_error(cmd, "--workspace: %s", err.message);
		return -1;
	}
	for (i = 0; i < o[RUN_O_MOUNT].count; i++) {
		const char *spec = o[RUN_O_MOUNT].values[i];
		const char *eq = strchr(spec, '=');
		char *host = eq ? strndup(spec, (size_t)(eq - spec)) : strdup(spec);
		int rc;

		if (!host) {
			cli_error(cmd, "out of memory");
			return -1;
		}
		if (eq && eq[1] == '\0') {
			cli_error(cmd, "--mount %s: the guest path after '=' is empty", spec);
			free(host);
			return -1;
		}
		rc = cact_codeact_add_file_mount(cc, host, eq ? eq + 1 : NULL, &err);
		free(host);
		if (rc) {
			cli_error(cmd, "--mount %s: %s", spec, err.message);
			return -1;
		}
	}
	return 0;
}

int run_configure(const char *cmd, struct opt *o, struct approver *ap, struct cact_codeact **cc,
		  struct cact_runtime_options *ro)
{
	*cc = NULL;
	/* The configuration is checked before the sandbox starts: no runtime yet. */
	if (approver_init(ap, value(o, RUN_O_APPROVE), cmd))
		return -1;
	if (sbo_codeact(cmd, o, cc) || limits(cmd, o, *cc) || files(cmd, o, *cc) ||
	    network(cmd, o, *cc) || sbo_isolation(cmd, o, ro))
		return -1;
	/*
	 * The operator who runs the command approves the code; tools that need
	 * approval are asked about call by call.
	 */
	cact_codeact_set_per_call_approval(*cc, 1, approver_decide, ap);
	return 0;
}

int run_start(const char *cmd, const struct cact_runtime_options *ro, struct cact_codeact *cc,
	      struct cact_runtime **rt)
{
	return sbo_start(cmd, ro, cc, rt);
}

/* ---- results ---- */

int run_output_init(const char *cmd, struct opt *o, const struct cact_runtime_options *ro,
		    struct run_output *out)
{
	struct cact_error err = {0};

	memset(out, 0, sizeof(*out));
	out->cmd = cmd;
	out->dir = value(o, RUN_O_OUTDIR);
	out->force = o[RUN_O_FORCE].count > 0;
	out->json = o[RUN_O_JSON].count > 0;
	out->reduced = ro->isolation == CACT_ISOLATION_REDUCED;
	if (out->dir && !*out->dir) {
		cli_error(cmd, "--output-dir is empty");
		return -1;
	}
	if (out->force && !out->dir) {
		cli_error(cmd, "--force only applies with --output-dir");
		return -1;
	}
	/*
	 * Before the code and its tools run: the folder exists (created when
	 * missing) and a file can be created in it. Names cannot clash yet;
	 * a clash after the run costs only the files that clash.
	 */
	if (out->dir && cact_result_save_check(out->dir, &err)) {
		char *msg = term_escape_str(err.message, TERM_NAME);

		cli_error(cmd, "--output-dir: %s", msg);
		term_free(msg);
		return -1;
	}
	return 0;
}

void run_output_free(struct run_output *out)
{
	size_t i;

	for (i = 0; i < out->n_saved; i++)
		free(out->saved[i]);
	free(out->saved);
	out->saved = NULL;
	out->n_saved = out->cap_saved = 0;
}

/* What --output-dir did with each file of the result. */
struct saving {
	char **why; /* one per file: why it was not saved, or NULL */
	size_t n, failed;
};

static void on_saved(void *user, size_t i, const struct cact_error *err)
{
	struct saving *sv = user;

	if (!err)
		return;
	sv->failed++;
	if (sv->why && i < sv->n)
		sv->why[i] = strdup(err->message);
}

static void saving_free(struct saving *sv)
{
	size_t i;

	for (i = 0; sv->why && i < sv->n; i++)
		free(sv->why[i]);
	free(sv->why);
}

/* The name of a file of the result below /output ("a/b.txt"). */
static const char *below_output(const struct cact_file *f)
{
	const char *p = f->path;

	if (strncmp(p, "/output/", 8) == 0)
		p += 8;
	return p;
}

static int saved_before(const struct run_output *out, const char *name)
{
	size_t i;

	for (i = 0; i < out->n_saved; i++)
		if (strcmp(out->saved[i], name) == 0)
			return 1;
	return 0;
}

/*
 * Whether saving res may replace what is in the way: with --force, or
 * when every file of res that is already in the folder is one an earlier
 * result saved there (a later run's version replaces the earlier run's
 * copy; a file that was there before the command started is kept).
 */
static int may_replace(const struct run_output *out, const struct cact_result *res)
{
	size_t i, n = cact_result_file_count(res);
	int dirfd, clash = 0, ours = 1;
	struct stat st;

	if (out->force)
		return 1;
	if (out->n_saved == 0)
		return 0;
	dirfd = open(out->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return 0;
	for (i = 0; i < n && ours; i++) {
		struct cact_file f;

		if (cact_result_file(res, i, &f) ||
		    fstatat(dirfd, below_output(&f), &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		clash = 1;
		ours = saved_before(out, below_output(&f));
	}
	close(dirfd);
	return clash && ours;
}

/* Remembers the files of res that were saved; a name that cannot be kept is simply not replaced later. */
static void remember_saved(struct run_output *out, const struct cact_result *res,
			   const struct saving *sv)
{
	size_t i, n = cact_result_file_count(res);

	for (i = 0; i < n && sv->why; i++) {
		struct cact_file f;
		char *name;

		if (sv->why[i] || cact_result_file(res, i, &f) ||
		    saved_before(out, below_output(&f)))
			continue;
		if (out->n_saved == out->cap_saved) {
			size_t cap = out->cap_saved ? out->cap_saved * 2 : 16;
			char **grown = realloc(out->saved, cap * sizeof(*grown));

			if (!grown)
				return;
			out->saved = grown;
			out->cap_saved = cap;
		}
		if (!(name = strdup(below_output(&f))))
			return;
		out->saved[out->n_saved++] = name;
	}
}

/* The files, each "saved to" dir unless sv says it was not; then the skipped entries. */
static void print_files(const struct cact_result *r, const char *dir, const struct saving *sv)
{
	size_t i, n = cact_result_file_count(r);

	for (i = 0; i < n; i++) {
		struct cact_file f;
		const char *saved_to = dir && !(sv->why && sv->why[i]) ? dir : NULL;

		char *path, *type, *sdir, *rel;

		/* Names come from the sandbox: escaped (cli/term.h), one line each. */
		cact_result_file(r, i, &f);
		path = term_escape_str(f.path, TERM_NAME);
		type = term_escape_str(f.media_type, TERM_NAME);
		sdir = term_escape_str(saved_to, TERM_NAME);
		rel = term_escape_str(f.path + strlen("/output"), TERM_NAME);
		fprintf(stderr, "cact: file %s (%s, %zu bytes)%s%s%s\n", path, type, f.size,
			saved_to ? " saved to " : "", saved_to ? sdir : "", saved_to ? rel : "");
		term_free(path);
		term_free(type);
		term_free(sdir);
		term_free(rel);
	}
	n = cact_result_skipped_count(r);
	for (i = 0; i < n; i++) {
		char *line = term_escape_str(cact_result_skipped(r, i), TERM_NAME);

		fprintf(stderr, "cact: skipped %s\n", line);
		term_free(line);
	}
}

/* A JSON string of s; escaped (cli/term.h) when it is not valid UTF-8. */
static json_t *text_json(const char *s)
{
	json_t *v = json_string(s);
	char *e;

	if (v)
		return v;
	e = term_escape_str(s, TERM_NAME);
	v = json_string(e);
	term_free(e);
	return v;
}

/*
 * The result JSON with what --output-dir did: saved, save_error (null or the
 * first failure, and how many more), save_failures ({path, error} per file
 * not saved); success is false when a file was not saved. Owned (free()),
 * NULL when out of memory.
 */
static char *with_saving(const char *json, const struct cact_result *r, const struct saving *sv,
			 const char *save_error)
{
	json_t *root = json_loads(json, JSON_ALLOW_NUL, NULL), *fails = json_array();
	char *out = NULL;
	size_t i;
	int bad = !root || !fails;

	for (i = 0; !bad && sv->why && i < sv->n; i++) {
		struct cact_file f;

		if (!sv->why[i] || cact_result_file(r, i, &f))
			continue;
		bad |= json_array_append_new(fails,
					     json_pack("{s:o, s:o}", "path", text_json(f.path),
						       "error", text_json(sv->why[i])));
	}
	if (!bad && save_error)
		bad |= json_object_set_new(root, "success", json_false());
	if (!bad)
		bad |= json_object_set_new(root, "saved", json_boolean(!save_error)) ||
		       json_object_set_new(root, "save_error",
					   save_error ? text_json(save_error) : json_null()) ||
		       json_object_set(root, "save_failures", fails);
	if (!bad)
		out = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(15));
	json_decref(root);
	json_decref(fails);
	return out;
}

/* The --output-dir failures on stderr: one line per file not saved, then what was. */
static void report_saving(const char *cmd, const struct cact_result *r, const char *dir,
			  const struct saving *sv, const struct cact_error *err)
{
	size_t i, n = cact_result_file_count(r);
	char *msg;

	if (sv->failed == 0 || !sv->why) {
		/* The folder itself failed (nothing saved), or no memory for the details. */
		msg = term_escape_str(err->message, TERM_NAME); /* names a file */
		cli_error(cmd, "--output-dir: %s", msg);
		term_free(msg);
	}
	for (i = 0; sv->why && i < sv->n; i++) {
		if (!sv->why[i])
			continue;
		msg = term_escape_str(sv->why[i], TERM_NAME); /* names a file */
		cli_error(cmd, "--output-dir: %s", msg);
		term_free(msg);
	}
	msg = term_escape_str(dir, TERM_NAME);
	cli_error(cmd, "--output-dir: %zu of %zu files saved to %s", n - sv->failed, n, msg);
	term_free(msg);
}

/* The code's streams as they are, then the status when it is not the code's own. */
static int print_streams(struct run_output *out, const struct cact_result *res, int status)
{
	enum cact_status st = cact_result_status(res);
	const char *s;
	size_t n;

	if (!out->streamed) {
		s = cact_result_stdout(res, &n, NULL);
		fflush(stdout);
		if (write(1, s, n) < 0 && errno != EPIPE)
			status = status ? status : EXIT_SETUP;
		s = cact_result_stderr(res, &n, NULL);
		if (write(2, s, n) < 0)
			(void)0;
	}
	if (st != CACT_STATUS_OK && st != CACT_STATUS_PYTHON_ERROR) {
		/* The message may quote what the code sent: one escaped line. */
		char *msg = term_escape_str(
			cact_result_error_message(res) ? cact_result_error_message(res) : "",
			TERM_NAME);

		fprintf(stderr, "cact: %s: %s\n", cact_status_name(st), msg);
		term_free(msg);
	}
	if (out->reduced && !out->told) {
		fprintf(stderr, "cact: isolation in force: %s\n", cact_result_isolation_json(res));
		out->told = 1;
	}
	return status;
}

int run_output_result(struct run_output *out, const struct cact_result *res)
{
	struct cact_error save_err = {0};
	struct saving sv = {0};
	int status = run_exit_status(cact_result_status(res)), save_rc = 0;

	/* Saved first, so that --json can tell; a file that fails never drops the others. */
	if (out->dir && cact_result_file_count(res) > 0) {
		sv.n = cact_result_file_count(res);
		sv.why = calloc(sv.n, sizeof(*sv.why));
		save_rc = cact_result_save_files_report(res, out->dir,
							may_replace(out, res) ? CACT_SAVE_FORCE : 0,
							on_saved, &sv, &save_err);
		remember_saved(out, res, &sv);
		/* A failed run keeps its own status; the save failure is reported all the same. */
		if (save_rc && status == EXIT_OK)
			status = EXIT_SAVE;
	}
	if (out->json) {
		char *json = cact_result_to_json(res), *full = NULL;

		if (json && out->dir)
			full = with_saving(json, res, &sv, save_rc ? save_err.message : NULL);
		if (!json || (out->dir && !full)) {
			cli_error(out->cmd, "out of memory");
			cact_free(json);
			saving_free(&sv);
			return EXIT_SETUP;
		}
		puts(full ? full : json);
		fflush(stdout);
		cact_free(json);
		free(full);
	} else {
		status = print_streams(out, res, status);
	}
	if (save_rc)
		report_saving(out->cmd, res, out->dir, &sv, &save_err);
	if (!out->json)
		print_files(res, save_rc && (!sv.why || !sv.failed) ? NULL : out->dir, &sv);
	saving_free(&sv);
	return status;
}

/* ---- the code's output as it comes (run.h) ---- */

struct run_live_piece {
	int fd;
	size_t len, off;
	struct run_live_piece *next;
	char data[];
};

void run_live_init(struct run_live *l)
{
	l->head = NULL;
	l->tail = &l->head;
	l->failed = 0;
}

void run_live_flush(struct run_live *l, int wait)
{
	while (l->head) {
		struct run_live_piece *p = l->head;
		struct pollfd pfd = {.fd = p->fd, .events = POLLOUT};
		/* At most PIPE_BUF at a time: a pipe that polls writable takes that much. */
		size_t n = p->len - p->off;
		ssize_t w;

		if (!wait && n > PIPE_BUF)
			n = PIPE_BUF;
		if (!wait && poll(&pfd, 1, 0) <= 0)
			return;
		w = write(p->fd, p->data + p->off, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (p->fd == 1 && errno != EPIPE)
				l->failed = 1;
			p->off = p->len; /* dropped: the reader is gone */
		} else {
			p->off += (size_t)w;
		}
		if (p->off == p->len) {
			l->head = p->next;
			if (!l->head)
				l->tail = &l->head;
			free(p);
		}
	}
}

void run_live_output(void *user, enum cact_stream stream, const char *data, size_t len)
{
	struct run_live *l = user;
	struct run_live_piece *p = malloc(sizeof(*p) + len);

	if (!p) {
		l->failed = 1;
		return;
	}
	p->fd = stream == CACT_STREAM_STDERR ? 2 : 1;
	p->len = len;
	p->off = 0;
	p->next = NULL;
	memcpy(p->data, data, len);
	*l->tail = p;
	l->tail = &p->next;
	run_live_flush(l, 0);
}
