/* SPDX-License-Identifier: MIT */
/* cact exec: run Python from a file, stdin or the command line in the sandbox. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cact/cact.h>
#include <jansson.h>

#include "approve.h"
#include "cli.h"
#include "opts.h"
#include "term.h"

static const char help[] =
	"usage: cact exec [OPTIONS] [FILE | -]\n"
	"\n"
	"Runs Python from FILE, from standard input with -, or from -c in a sandbox.\n"
	"\n"
	"  -c, --code CODE          code given inline\n"
	"  --workspace DIR          host folder visible read-only at /input\n"
	"  --mount HOST[=GUEST]     host file or folder visible read-only at /input/GUEST\n"
	"                           (repeatable; GUEST defaults to HOST)\n"
	"  --timeout SECONDS        wall-clock limit (default 30; decimals allowed)\n"
	"  --memory MIB             memory cap (default 512)\n"
	"  --output-dir DIR         copy the files left in /output here\n"
	"  --force                  let --output-dir overwrite existing files\n"
	"  --json                   print one JSON result object instead of the streams\n"
	"  --isolation full|reduced default full; reduced runs without landlock or a\n"
	"                           cgroup namespace when the kernel lacks them\n"
	"  --python-path DIR        extra folder to import from, read-only (repeatable)\n"
	"  --allow-domain TARGET[=METHOD,...]\n"
	"                           let the code reach TARGET (host or host:port; *.example.com\n"
	"                           for subdomains) over HTTP(S), with these methods or all\n"
	"                           (repeatable)\n"
	"  --ca-file FILE           trust these certificate authorities (PEM) for HTTPS\n"
	"  --resolve HOST=ADDR      resolve HOST to ADDR instead of DNS (repeatable)\n"
	"  --proxy URL              send every request through this HTTP proxy\n"
	"  --redirect-header NAME   let the code's header NAME follow a redirect to another\n"
	"                           allowed origin (repeatable; by default none does)\n"
	"  --config FILE            JSON configuration: tools, files, network, limits, approval\n"
	"                           (options given here override it)\n"
	"  --approve ask|all|none   how to answer tool calls that need approval: ask on the\n"
	"                           terminal (default; denied without one), approve all, deny all\n"
	"  --mcp-server NAME=COMMAND [ARGS...]\n"
	"                           start an MCP server (stdio) and offer its tools to the code\n"
	"                           as NAME.TOOL; the command is split on spaces, without\n"
	"                           quoting (repeatable)\n"
	"  --mcp-url NAME=URL       the same with a Streamable HTTP MCP server (repeatable)\n"
	"\n"
	"Exit status: 0 success, 1 the code failed, 2 usage error, 3 the sandbox could\n"
	"not be set up, 4 the code succeeded but its files could not all be saved to\n"
	"--output-dir, 124 timeout, 125 memory or output limit, 126 sandbox violation\n"
	"or crash.\n";

enum {
	O_CODE,
	O_WORKSPACE,
	O_MOUNT,
	O_TIMEOUT,
	O_MEMORY,
	O_OUTDIR,
	O_FORCE,
	O_JSON,
	O_ISOLATION,
	O_PYPATH,
	O_CONFIG,
	O_APPROVE,
	O_DOMAIN,
	O_CAFILE,
	O_RESOLVE,
	O_PROXY,
	O_REDIRECT_HEADER,
	O_MCP_SERVER,
	O_MCP_URL,
	O_HELP,
	O__N
};

#define MCP_ARGS_MAX 64

/* Joins cli.h's exit statuses: only cact exec saves files. */
#define EXIT_SAVE 4

static int exit_status(enum cact_status s)
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

static int read_code(const char *file, uint64_t max, char **code, size_t *len)
{
	int fd = strcmp(file, "-") == 0 ? 0 : open(file, O_RDONLY | O_CLOEXEC);
	size_t cap = 65536, used = 0;
	char *buf = NULL;

	if (fd < 0) {
		cli_error("exec", "cannot read %s: %s", file, strerror(errno));
		return -1;
	}
	for (;;) {
		ssize_t n;

		if (used == cap || !buf) {
			char *g;

			cap = buf ? cap * 2 : cap;
			g = realloc(buf, cap + 1);
			if (!g) {
				cli_error("exec", "out of memory");
				goto fail;
			}
			buf = g;
		}
		n = read(fd, buf + used, cap - used);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			cli_error("exec", "cannot read %s: %s", file, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > max) {
			cli_error("exec", "code in %s is larger than %llu bytes", file,
				  (unsigned long long)max);
			goto fail;
		}
	}
	if (fd != 0)
		close(fd);
	buf[used] = '\0';
	*code = buf;
	*len = used;
	return 0;
fail:
	if (fd > 0)
		close(fd);
	free(buf);
	return -1;
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

/* What --output-dir did with each file of the result. */
struct saving {
	char **why; /* one per file: why it was not saved, or NULL */
	size_t n, failed;
};

/* The files, each "saved to" outdir unless sv says it was not; then the skipped entries. */
static void print_files(const struct cact_result *r, const char *outdir, const struct saving *sv)
{
	size_t i, n = cact_result_file_count(r);

	for (i = 0; i < n; i++) {
		struct cact_file f;
		const char *saved_to = outdir && !(sv->why && sv->why[i]) ? outdir : NULL;

		char *path, *type, *dir, *rel;

		/* Names come from the sandbox: escaped (cli/term.h), one line each. */
		cact_result_file(r, i, &f);
		path = term_escape_str(f.path, TERM_NAME);
		type = term_escape_str(f.media_type, TERM_NAME);
		dir = term_escape_str(saved_to, TERM_NAME);
		rel = term_escape_str(f.path + strlen("/output"), TERM_NAME);
		fprintf(stderr, "cact: file %s (%s, %zu bytes)%s%s%s\n", path, type, f.size,
			saved_to ? " saved to " : "", saved_to ? dir : "", saved_to ? rel : "");
		term_free(path);
		term_free(type);
		term_free(dir);
		term_free(rel);
	}
	n = cact_result_skipped_count(r);
	for (i = 0; i < n; i++) {
		char *line = term_escape_str(cact_result_skipped(r, i), TERM_NAME);

		fprintf(stderr, "cact: skipped %s\n", line);
		term_free(line);
	}
}

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

/* A JSON string of s; escaped (cli/term.h) when it is not valid UTF-8. */
static json_t *json_text(const char *s)
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
static char *json_with_saving(const char *json, const struct cact_result *r,
			      const struct saving *sv, const char *save_error)
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
					     json_pack("{s:o, s:o}", "path", json_text(f.path),
						       "error", json_text(sv->why[i])));
	}
	if (!bad && save_error)
		bad |= json_object_set_new(root, "success", json_false());
	if (!bad)
		bad |= json_object_set_new(root, "saved", json_boolean(!save_error)) ||
		       json_object_set_new(root, "save_error",
					   save_error ? json_text(save_error) : json_null()) ||
		       json_object_set(root, "save_failures", fails);
	if (!bad)
		out = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(15));
	json_decref(root);
	json_decref(fails);
	return out;
}

/* The --output-dir failures on stderr: one line per file not saved, then what was. */
static void report_saving(const struct cact_result *r, const char *outdir, const struct saving *sv,
			  const struct cact_error *err)
{
	size_t i, n = cact_result_file_count(r);
	char *msg;

	if (sv->failed == 0 || !sv->why) {
		/* The folder itself failed (nothing saved), or no memory for the details. */
		msg = term_escape_str(err->message, TERM_NAME); /* names a file */
		cli_error("exec", "--output-dir: %s", msg);
		term_free(msg);
	}
	for (i = 0; sv->why && i < sv->n; i++) {
		if (!sv->why[i])
			continue;
		msg = term_escape_str(sv->why[i], TERM_NAME); /* names a file */
		cli_error("exec", "--output-dir: %s", msg);
		term_free(msg);
	}
	msg = term_escape_str(outdir, TERM_NAME);
	cli_error("exec", "--output-dir: %zu of %zu files saved to %s", n - sv->failed, n, msg);
	term_free(msg);
}

/* "TARGET" or "TARGET=GET,POST" (an IPv6 target is written in brackets). */
static int allow_domain(struct cact_codeact *cc, const char *spec)
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
				cli_error("exec", "--allow-domain %s: more than 16 methods", spec);
				rc = -1;
				goto out;
			}
			methods[n++] = m;
		}
		if (n == 0) {
			cli_error("exec", "--allow-domain %s: no method after '='", spec);
			rc = -1;
			goto out;
		}
	}
	if (!target || (eq && !list)) {
		cli_error("exec", "out of memory");
		rc = -1;
	} else if (cact_codeact_add_allowed_domain(cc, target, n ? methods : NULL, n, &err)) {
		cli_error("exec", "--allow-domain %s: %s", spec, err.message);
		rc = -1;
	}
out:
	free(target);
	free(list);
	return rc;
}

static int network(struct opt *o, struct cact_codeact *cc)
{
	struct cact_error err = {0};
	const char *v;
	int i;

	for (i = 0; i < o[O_DOMAIN].count; i++)
		if (allow_domain(cc, o[O_DOMAIN].values[i]))
			return -1;
	if ((v = o[O_CAFILE].count ? o[O_CAFILE].values[0] : NULL) &&
	    cact_codeact_set_ca_file(cc, v, &err)) {
		cli_error("exec", "--ca-file: %s", err.message);
		return -1;
	}
	if ((v = o[O_PROXY].count ? o[O_PROXY].values[0] : NULL) &&
	    cact_codeact_set_proxy(cc, v, &err)) {
		cli_error("exec", "--proxy: %s", err.message);
		return -1;
	}
	for (i = 0; i < o[O_REDIRECT_HEADER].count; i++)
		if (cact_codeact_add_redirect_header(cc, o[O_REDIRECT_HEADER].values[i], &err)) {
			cli_error("exec", "--redirect-header %s: %s",
				  o[O_REDIRECT_HEADER].values[i], err.message);
			return -1;
		}
	for (i = 0; i < o[O_RESOLVE].count; i++) {
		const char *spec = o[O_RESOLVE].values[i], *eq = strchr(spec, '=');
		char *host = eq ? strndup(spec, (size_t)(eq - spec)) : NULL;
		int rc;

		if (!eq) {
			cli_error("exec", "--resolve %s: expected HOST=ADDRESS", spec);
			return -1;
		}
		if (!host) {
			cli_error("exec", "out of memory");
			return -1;
		}
		rc = cact_codeact_add_resolve(cc, host, eq + 1, &err);
		free(host);
		if (rc) {
			cli_error("exec", "--resolve %s: %s", spec, err.message);
			return -1;
		}
	}
	return 0;
}

/* One --mcp-server (spec NAME=COMMAND [ARGS...]) or, with url, --mcp-url (NAME=URL). */
static int add_mcp(const char *cmd, struct cact_codeact *cc, const char *spec, int url)
{
	const char *flag = url ? "--mcp-url" : "--mcp-server";
	const char *eq = strchr(spec, '='), *argv[MCP_ARGS_MAX + 1];
	struct cact_mcp_client_options mo;
	struct cact_error err = {0};
	char *name = NULL, *line = NULL, *save = NULL, *word;
	size_t argc = 0;
	int rc = -1;

	if (!eq || eq == spec || !eq[1]) {
		cli_error(cmd, "%s %s: expected %s", flag, spec,
			  url ? "NAME=URL" : "NAME=COMMAND [ARGS...]");
		return -1;
	}
	name = strndup(spec, (size_t)(eq - spec));
	line = strdup(eq + 1);
	if (!name || !line) {
		cli_error(cmd, "out of memory");
		goto out;
	}
	cact_mcp_client_options_init(&mo);
	mo.name = name;
	if (url) {
		mo.url = line;
	} else {
		for (word = strtok_r(line, " ", &save); word; word = strtok_r(NULL, " ", &save)) {
			if (argc == MCP_ARGS_MAX) {
				cli_error(cmd, "%s %s: more than %d words", flag, name,
					  MCP_ARGS_MAX);
				goto out;
			}
			argv[argc++] = word;
		}
		if (argc == 0) {
			cli_error(cmd, "%s %s: the command is empty", flag, name);
			goto out;
		}
		argv[argc] = NULL;
		mo.argv = argv;
	}
	if (cact_codeact_add_mcp_server(cc, &mo, &err)) {
		cli_error(cmd, "%s %s: %s", flag, name, err.message);
		goto out;
	}
	rc = 0;
out:
	free(name);
	free(line);
	return rc;
}

/*
 * The MCP servers of --mcp-server and --mcp-url, after the configuration
 * file's (cact exec and cact agent).
 */
int cli_add_mcp_servers(const char *cmd, struct cact_codeact *cc, const char *const *servers,
			int n_servers, const char *const *urls, int n_urls)
{
	int i;

	for (i = 0; i < n_servers; i++)
		if (add_mcp(cmd, cc, servers[i], 0))
			return -1;
	for (i = 0; i < n_urls; i++)
		if (add_mcp(cmd, cc, urls[i], 1))
			return -1;
	return 0;
}

static int configure(struct opt *o, struct cact_codeact *cc, struct cact_runtime_options *ro)
{
	struct cact_error err = {0};
	const char *v;
	uint64_t n;
	int i;

	if ((v = o[O_CONFIG].count ? o[O_CONFIG].values[0] : NULL)) {
		if (cact_codeact_load_config(cc, v, &err)) {
			cli_error("exec", "%s", err.message);
			return -1;
		}
	}
	if (cli_add_mcp_servers("exec", cc, o[O_MCP_SERVER].values, o[O_MCP_SERVER].count,
				o[O_MCP_URL].values, o[O_MCP_URL].count))
		return -1;
	if ((v = o[O_TIMEOUT].count ? o[O_TIMEOUT].values[0] : NULL)) {
		if (parse_decimal_ms(v, &n)) {
			cli_error("exec",
				  "--timeout: '%s' is not a number of seconds (at most three "
				  "decimals, e.g. 2.5)",
				  v);
			return -1;
		}
		/* Said in seconds, as typed: not in the library's milliseconds. */
		if (opts_limit_range("exec", "--timeout", CACT_LIMIT_TIMEOUT_MS, n, v, 1000, "s"))
			return -1;
		if (cact_codeact_set_limit(cc, CACT_LIMIT_TIMEOUT_MS, n, &err)) {
			cli_error("exec", "--timeout: %s", err.message);
			return -1;
		}
	}
	if ((v = o[O_MEMORY].count ? o[O_MEMORY].values[0] : NULL)) {
		if (parse_u64(v, &n)) {
			cli_error("exec", "--memory: '%s' is not a whole number of MiB", v);
			return -1;
		}
		if (opts_limit_range("exec", "--memory", CACT_LIMIT_MEMORY_BYTES,
				     n > (UINT64_MAX >> 20) ? UINT64_MAX : n << 20, v, 1u << 20,
				     "MiB"))
			return -1;
		if (cact_codeact_set_limit(cc, CACT_LIMIT_MEMORY_BYTES, n << 20, &err)) {
			cli_error("exec", "--memory: %s", err.message);
			return -1;
		}
	}
	if ((v = o[O_WORKSPACE].count ? o[O_WORKSPACE].values[0] : NULL)) {
		if (cact_codeact_set_workspace(cc, v, &err)) {
			cli_error("exec", "--workspace: %s", err.message);
			return -1;
		}
	}
	for (i = 0; i < o[O_MOUNT].count; i++) {
		const char *spec = o[O_MOUNT].values[i];
		const char *eq = strchr(spec, '=');
		char *host = eq ? strndup(spec, (size_t)(eq - spec)) : strdup(spec);
		int rc;

		if (!host) {
			cli_error("exec", "out of memory");
			return -1;
		}
		if (eq && eq[1] == '\0') {
			cli_error("exec", "--mount %s: the guest path after '=' is empty", spec);
			free(host);
			return -1;
		}
		rc = cact_codeact_add_file_mount(cc, host, eq ? eq + 1 : NULL, &err);
		free(host);
		if (rc) {
			cli_error("exec", "--mount %s: %s", spec, err.message);
			return -1;
		}
	}
	if (network(o, cc))
		return -1;
	if ((v = o[O_ISOLATION].count ? o[O_ISOLATION].values[0] : NULL)) {
		if (strcmp(v, "full") == 0)
			ro->isolation = CACT_ISOLATION_FULL;
		else if (strcmp(v, "reduced") == 0)
			ro->isolation = CACT_ISOLATION_REDUCED;
		else {
			cli_error("exec", "--isolation: '%s' is neither full nor reduced", v);
			return -1;
		}
	}
	ro->python_paths = o[O_PYPATH].values;
	ro->n_python_paths = (size_t)o[O_PYPATH].count;
	/* One execution: no preloaded modules, no spare child, no page probe. */
	ro->one_shot = 1;
	return 0;
}

int cmd_exec(int argc, char **argv)
{
	struct opt o[O__N] = {
		[O_CODE] = {"code", 'c', OPT_VALUE},
		[O_WORKSPACE] = {"workspace", 0, OPT_VALUE},
		[O_MOUNT] = {"mount", 0, OPT_VALUE | OPT_REPEAT},
		[O_TIMEOUT] = {"timeout", 0, OPT_VALUE},
		[O_MEMORY] = {"memory", 0, OPT_VALUE},
		[O_OUTDIR] = {"output-dir", 0, OPT_VALUE},
		[O_FORCE] = {"force", 0, OPT_FLAG},
		[O_JSON] = {"json", 0, OPT_FLAG},
		[O_ISOLATION] = {"isolation", 0, OPT_VALUE},
		[O_PYPATH] = {"python-path", 0, OPT_VALUE | OPT_REPEAT},
		[O_CONFIG] = {"config", 0, OPT_VALUE},
		[O_APPROVE] = {"approve", 0, OPT_VALUE},
		[O_DOMAIN] = {"allow-domain", 0, OPT_VALUE | OPT_REPEAT},
		[O_CAFILE] = {"ca-file", 0, OPT_VALUE},
		[O_RESOLVE] = {"resolve", 0, OPT_VALUE | OPT_REPEAT},
		[O_PROXY] = {"proxy", 0, OPT_VALUE},
		[O_REDIRECT_HEADER] = {"redirect-header", 0, OPT_VALUE | OPT_REPEAT},
		[O_MCP_SERVER] = {"mcp-server", 0, OPT_VALUE | OPT_REPEAT},
		[O_MCP_URL] = {"mcp-url", 0, OPT_VALUE | OPT_REPEAT},
		[O_HELP] = {"help", 'h', OPT_FLAG},
	};
	struct cact_runtime_options ro;
	struct cact_error err = {0};
	struct cact_runtime *rt = NULL;
	struct cact_codeact *cc = NULL;
	struct cact_result *res = NULL;
	struct approver ap = {0};
	const char *pos[1];
	size_t n_pos = 0, code_len = 0;
	char *code = NULL;
	struct saving sv = {0};
	struct cact_error save_err = {0};
	const char *outdir;
	int status = EXIT_USAGE, save_rc = 0;

	cact_runtime_options_init(&ro);
	if (opts_parse("exec", argc, argv, o, O__N, pos, 1, &n_pos))
		goto out;
	if (o[O_HELP].count) {
		fputs(help, stdout);
		status = EXIT_OK;
		goto out;
	}
	/* The configuration is checked before the sandbox starts: no runtime yet. */
	if (approver_init(&ap, o[O_APPROVE].count ? o[O_APPROVE].values[0] : NULL, "exec"))
		goto out;
	if (cact_codeact_new(NULL, &cc, &err)) {
		cli_error("exec", "%s", err.message);
		goto out;
	}
	if (configure(o, cc, &ro))
		goto out;
	/* The operator who runs cact exec approves the code; tools that need approval are asked about call by call. */
	cact_codeact_set_per_call_approval(cc, 1, approver_decide, &ap);
	if (o[O_CODE].count && n_pos) {
		cli_error("exec", "give the code once: -c CODE or FILE, not both");
		goto out;
	}
	if (!o[O_CODE].count && !n_pos) {
		cli_error("exec", "no code: give FILE, - (standard input) or -c CODE");
		goto out;
	}
	if (o[O_CODE].count) {
		code = strdup(o[O_CODE].values[0]);
		code_len = code ? strlen(code) : 0;
		if (!code) {
			cli_error("exec", "out of memory");
			goto out;
		}
	} else if (read_code(pos[0], cact_limit_default(CACT_LIMIT_CODE_BYTES), &code, &code_len)) {
		goto out;
	}
	if (memchr(code, '\0', code_len)) {
		cli_error("exec", "code contains a NUL byte");
		goto out;
	}
	outdir = o[O_OUTDIR].count ? o[O_OUTDIR].values[0] : NULL;
	if (outdir && !*outdir) {
		cli_error("exec", "--output-dir is empty");
		goto out;
	}
	if (o[O_FORCE].count && !outdir) {
		cli_error("exec", "--force only applies with --output-dir");
		goto out;
	}
	/*
	 * Before the code and its tools run: the folder exists (created when
	 * missing) and a file can be created in it. Names cannot clash yet;
	 * a clash after the run costs only the files that clash.
	 */
	if (outdir && cact_result_save_check(outdir, &err)) {
		char *msg = term_escape_str(err.message, TERM_NAME);

		cli_error("exec", "--output-dir: %s", msg);
		term_free(msg);
		goto out;
	}

	if (cact_runtime_new(&ro, &rt, &err)) {
		cli_error("exec", "cannot set up the sandbox: %s", err.message);
		status = err.code == CACT_EINVAL || err.code == CACT_ENOENT ? EXIT_USAGE
									    : EXIT_SETUP;
		if (err.code == CACT_ENOENT && strstr(err.message, "cact-guest"))
			status = EXIT_SETUP;
		goto out;
	}
	cact_codeact_set_runtime(cc, rt);
	if (cact_codeact_execute(cc, code, code_len, &res, &err)) {
		cli_error("exec", "%s", err.message);
		status = err.code == CACT_EINVAL || err.code == CACT_ETOOBIG ? EXIT_USAGE
									     : EXIT_SETUP;
		goto out;
	}
	status = exit_status(cact_result_status(res));
	/* Saved first, so that --json can tell; a file that fails never drops the others. */
	if (outdir && cact_result_file_count(res) > 0) {
		sv.n = cact_result_file_count(res);
		sv.why = calloc(sv.n, sizeof(*sv.why));
		save_rc = cact_result_save_files_report(res, outdir,
							o[O_FORCE].count ? CACT_SAVE_FORCE : 0,
							on_saved, &sv, &save_err);
		/* A failed run keeps its own status; the save failure is reported all the same. */
		if (save_rc && status == EXIT_OK)
			status = EXIT_SAVE;
	}
	if (o[O_JSON].count) {
		char *json = cact_result_to_json(res), *full = NULL;

		if (json && outdir)
			full = json_with_saving(json, res, &sv, save_rc ? save_err.message : NULL);
		if (!json || (outdir && !full)) {
			cli_error("exec", "out of memory");
			status = EXIT_SETUP;
			cact_free(json);
			goto out;
		}
		puts(full ? full : json);
		cact_free(json);
		free(full);
	} else {
		size_t n;
		const char *s = cact_result_stdout(res, &n, NULL);

		fflush(stdout);
		if (write(1, s, n) < 0 && errno != EPIPE)
			status = status ? status : EXIT_SETUP;
		s = cact_result_stderr(res, &n, NULL);
		if (write(2, s, n) < 0)
			(void)0;
		if (cact_result_status(res) != CACT_STATUS_OK &&
		    cact_result_status(res) != CACT_STATUS_PYTHON_ERROR) {
			/* The message may quote what the code sent: one escaped line. */
			char *msg = term_escape_str(cact_result_error_message(res)
							    ? cact_result_error_message(res)
							    : "",
						    TERM_NAME);

			fprintf(stderr, "cact: %s: %s\n", cact_status_name(cact_result_status(res)),
				msg);
			term_free(msg);
		}
		if (ro.isolation == CACT_ISOLATION_REDUCED)
			fprintf(stderr, "cact: isolation in force: %s\n",
				cact_result_isolation_json(res));
	}
	if (save_rc)
		report_saving(res, outdir, &sv, &save_err);
	if (!o[O_JSON].count)
		print_files(res, save_rc && (!sv.why || !sv.failed) ? NULL : outdir, &sv);
out:
	saving_free(&sv);
	cact_result_free(res);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
	approver_close(&ap);
	free(code);
	opts_free(o, O__N);
	return status;
}
