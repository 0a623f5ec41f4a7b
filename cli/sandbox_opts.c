/* SPDX-License-Identifier: MIT */
/*
 * The options every command that starts a sandbox runtime takes
 * (cli/sandbox_opts.h): --config, --isolation, --python-path, --preload,
 * --mcp-server and --mcp-url.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cact/cact.h>

#include "cli.h"
#include "sandbox_opts.h"

#define MCP_ARGS_MAX 64

void sbo_options(struct opt *o)
{
	static const struct opt table[SBO__N] = {
		[SBO_CONFIG] = {"config", 0, OPT_VALUE},
		[SBO_ISOLATION] = {"isolation", 0, OPT_VALUE},
		[SBO_PYPATH] = {"python-path", 0, OPT_VALUE | OPT_REPEAT},
		[SBO_PRELOAD] = {"preload", 0, OPT_VALUE | OPT_REPEAT},
		[SBO_MCP_SERVER] = {"mcp-server", 0, OPT_VALUE | OPT_REPEAT},
		[SBO_MCP_URL] = {"mcp-url", 0, OPT_VALUE | OPT_REPEAT},
	};

	memcpy(o, table, sizeof(table));
}

/* Each option's first column, and its text in lines of at most 52 characters. */
static const struct {
	const char *usage, *text;
} help[SBO__N] = {
	[SBO_CONFIG] = {"--config FILE", "JSON configuration (see docs/codeact.md)"},
	[SBO_ISOLATION] = {"--isolation full|reduced",
			   "default full; reduced runs without landlock or a\n"
			   "cgroup namespace when the kernel lacks them"},
	[SBO_PYPATH] = {"--python-path DIR", "extra folder to import from, read-only, e.g.\n"
					     "/usr/lib/python3/dist-packages (repeatable; after\n"
					     "the configuration's python_path)"},
	[SBO_PRELOAD] = {"--preload MODULE[,...]",
			 "import these modules once, before any code runs, so\n"
			 "that executions find them loaded (e.g. pandas,\n"
			 "matplotlib.pyplot; repeatable; after the\n"
			 "configuration's preload; see docs/packages.md)"},
	[SBO_MCP_SERVER] = {"--mcp-server NAME=COMMAND [ARGS...]",
			    "start an MCP server (stdio) and offer its tools to\n"
			    "the code as NAME.TOOL; the command is split on\n"
			    "spaces, without quoting (repeatable)"},
	[SBO_MCP_URL] = {"--mcp-url NAME=URL", "the same with a Streamable HTTP MCP server\n"
					       "(repeatable)"},
};

void sbo_help(FILE *f, int which, int width)
{
	const char *t = help[which].text, *nl;
	int col = 2 + (int)strlen(help[which].usage);

	fprintf(f, "  %s", help[which].usage);
	if (col >= width) {
		fputc('\n', f);
		col = 0;
	}
	for (;;) {
		nl = strchr(t, '\n');
		fprintf(f, "%*s%.*s\n", width - col, "", nl ? (int)(nl - t) : (int)strlen(t), t);
		if (!nl)
			break;
		t = nl + 1;
		col = 0;
	}
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

int sbo_mcp_servers(const char *cmd, struct opt *o, struct cact_codeact *cc)
{
	return cli_add_mcp_servers(cmd, cc, o[SBO_MCP_SERVER].values, o[SBO_MCP_SERVER].count,
				   o[SBO_MCP_URL].values, o[SBO_MCP_URL].count);
}

/* One --preload value: a module or a comma-separated list of them. */
static int preload(const char *cmd, struct cact_codeact *cc, const char *spec)
{
	struct cact_error err = {0};
	const char *p = spec, *comma;
	char name[256];

	for (;;) {
		size_t n;

		comma = strchr(p, ',');
		n = comma ? (size_t)(comma - p) : strlen(p);
		if (n == 0) {
			cli_error(cmd, "--preload '%s': a module name is empty", spec);
			return -1;
		}
		if (n >= sizeof(name)) {
			cli_error(cmd, "--preload '%s': a module name is too long", spec);
			return -1;
		}
		memcpy(name, p, n);
		name[n] = '\0';
		if (cact_codeact_add_preload(cc, name, &err)) {
			cli_error(cmd, "--preload: %s", err.message);
			return -1;
		}
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

int sbo_python(const char *cmd, struct opt *o, struct cact_codeact *cc)
{
	struct cact_error err = {0};
	int i;

	for (i = 0; i < o[SBO_PYPATH].count; i++)
		if (cact_codeact_add_python_path(cc, o[SBO_PYPATH].values[i], &err)) {
			cli_error(cmd, "--python-path: %s", err.message);
			return -1;
		}
	for (i = 0; i < o[SBO_PRELOAD].count; i++)
		if (preload(cmd, cc, o[SBO_PRELOAD].values[i]))
			return -1;
	return 0;
}

int sbo_codeact(const char *cmd, struct opt *o, struct cact_codeact **cc)
{
	struct cact_error err = {0};

	*cc = NULL;
	if (cact_codeact_new(NULL, cc, &err)) {
		cli_error(cmd, "%s", err.message);
		return -1;
	}
	if (o[SBO_CONFIG].count && cact_codeact_load_config(*cc, o[SBO_CONFIG].values[0], &err)) {
		cli_error(cmd, "%s", err.message);
		return -1;
	}
	return sbo_mcp_servers(cmd, o, *cc) || sbo_python(cmd, o, *cc) ? -1 : 0;
}

int sbo_isolation(const char *cmd, struct opt *o, struct cact_runtime_options *ro)
{
	const char *v = o[SBO_ISOLATION].count ? o[SBO_ISOLATION].values[0] : NULL;

	if (!v)
		return 0;
	if (strcmp(v, "full") == 0) {
		ro->isolation = CACT_ISOLATION_FULL;
	} else if (strcmp(v, "reduced") == 0) {
		ro->isolation = CACT_ISOLATION_REDUCED;
	} else {
		cli_error(cmd, "--isolation: '%s' is neither full nor reduced", v);
		return -1;
	}
	return 0;
}

int sbo_start(const char *cmd, const struct cact_runtime_options *ro, struct cact_codeact *cc,
	      struct cact_runtime **rt)
{
	struct cact_runtime_options with = *ro;
	struct cact_python_settings *py = NULL;
	struct cact_error err = {0};
	int rc;

	*rt = NULL;
	if (cact_codeact_python(cc, &py)) {
		cli_error(cmd, "out of memory");
		return EXIT_SETUP;
	}
	with.python_paths = py->python_paths;
	with.n_python_paths = py->n_python_paths;
	with.preload = py->preload;
	with.n_preload = py->n_preload;
	rc = cact_runtime_new(&with, rt, &err);
	cact_free(py);
	if (rc) {
		cli_error(cmd, "cannot set up the sandbox: %s", err.message);
		if (err.code == CACT_ENOENT && strstr(err.message, "cact-guest"))
			return EXIT_SETUP;
		return err.code == CACT_EINVAL || err.code == CACT_ENOENT ? EXIT_USAGE : EXIT_SETUP;
	}
	cact_codeact_set_runtime(cc, *rt);
	return 0;
}
