/* SPDX-License-Identifier: MIT */
/*
 * Reading the configuration file (cact_codeact_load_config) and its
 * mcp_servers section. The file belongs to lib/codeact, which checks and
 * applies every other key (config.c there); mcp_servers starts MCP
 * clients, which sit above lib/codeact, so the file is read from here and
 * the section handed down as a cc_cfg_section: lib/codeact never calls up
 * into lib/mcp. Every key is checked before any server starts, and nothing
 * of a bad file is applied (the scratch copy is thrown away, and with it
 * the servers started so far).
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cact/cact.h>
#include <cact/mcp.h>

#include "../codeact/codeact.h"
#include "../tools/tools.h"
#include "../util/util.h"

#define MCP_SERVERS_MAX 64
#define MCP_ARGS_MAX	64

/* One entry of mcp_servers, checked, before its server is started. */
struct mcp_entry {
	const char *name;
	struct cact_mcp_client_options o;
	const char *argv[MCP_ARGS_MAX + 1];
	char program[PATH_MAX];
	char cwd[PATH_MAX];
	char **env; /* "K=V", owned */
	size_t n_env;
	char **headers; /* "Name: value", owned */
	size_t n_headers;
	enum cact_approval approval;
	json_t *tools; /* {"tool": {"approval_mode": ...}}, borrowed */
};

/* "K=V" or "Name: value" strings from an object of strings, into *list (owned). */
static int pairs(struct cc_cfg *c, const char *key, json_t *v, const char *sep, char ***list,
		 size_t *n)
{
	const char *k;
	json_t *item;
	size_t len;

	if (!json_is_object(v))
		return cc_cfg_fail(c, key, "must be an object of strings");
	*list = calloc(json_object_size(v) + 1, sizeof(**list));
	if (!*list)
		return ut_err(c->err, CACT_ENOMEM, "out of memory");
	json_object_foreach(v, k, item) {
		if (!json_is_string(item))
			return cc_cfg_fail(c, key, "must be an object of strings");
		len = strlen(k) + strlen(sep) + json_string_length(item) + 1;
		if (!((*list)[*n] = malloc(len)))
			return ut_err(c->err, CACT_ENOMEM, "out of memory");
		ut_snprintf((*list)[(*n)++], len, "%s%s%s", k, sep, json_string_value(item));
	}
	return 0;
}

static int mcp_tools_key(struct cc_cfg *c, const char *key, struct mcp_entry *e, json_t *v)
{
	const char *tool, *k;
	json_t *t, *item;
	enum cact_approval a;

	if (!json_is_object(v))
		return cc_cfg_fail(c, key, "must map tool names to {\"approval_mode\": ...}");
	json_object_foreach(v, tool, t) {
		if (!json_is_object(t))
			return cc_cfg_fail(c, key,
					   "must map tool names to {\"approval_mode\": ...}");
		json_object_foreach(t, k, item)
			if (strcmp(k, "approval_mode") != 0 || !json_is_string(item) ||
			    cact_approval_parse(json_string_value(item), &a))
				return cc_cfg_fail(
					c, key,
					"entries take \"approval_mode\": never_require or "
					"always_require");
	}
	e->tools = v;
	return 0;
}

/* Checks one server's entry and fills e->o; nothing starts yet. */
static int mcp_entry(struct cc_cfg *c, const char *name, json_t *v, struct mcp_entry *e)
{
	static const char *const keys[] = {"command", "env",	   "cwd",
					   "url",     "headers",   "approval_mode",
					   "tools",   "timeout_s", "max_message_bytes"};
	char key[160];
	const char *k;
	json_t *item, *cmd;
	size_t j, argc = 0;
	int rc;

	ut_snprintf(key, sizeof(key), "mcp_servers.%s", name);
	e->name = name;
	cact_mcp_client_options_init(&e->o);
	e->o.name = name;
	if (!json_is_object(v))
		return cc_cfg_fail(c, key, "must be an object");
	json_object_foreach(v, k, item) {
		for (j = 0; j < UT_ARRAY_SIZE(keys); j++)
			if (strcmp(k, keys[j]) == 0)
				break;
		if (j == UT_ARRAY_SIZE(keys)) {
			ut_snprintf(key, sizeof(key), "mcp_servers.%s.%s", name, k);
			return cc_cfg_fail(c, key, "is not a known key");
		}
	}
	cmd = json_object_get(v, "command");
	if (!cmd == !json_object_get(v, "url"))
		return cc_cfg_fail(c, key,
				   "needs either a \"command\" (stdio) or a \"url\" (HTTP)");
	if (json_object_get(v, "url")) {
		if (json_object_get(v, "env") || json_object_get(v, "cwd"))
			return cc_cfg_fail(c, key, "env and cwd are for a command, not a url");
		if (!(e->o.url = json_string_value(json_object_get(v, "url"))))
			return cc_cfg_fail(c, key, "url must be a string");
	}
	if (json_is_string(cmd)) {
		e->argv[argc++] = json_string_value(cmd);
	} else if (cmd) {
		if (!json_is_array(cmd) || json_array_size(cmd) == 0 ||
		    json_array_size(cmd) > MCP_ARGS_MAX)
			return cc_cfg_fail(
				c, key,
				"command must be a program or a list of program and arguments");
		json_array_foreach(cmd, j, item) {
			if (!json_is_string(item))
				return cc_cfg_fail(c, key, "command must be a list of strings");
			e->argv[argc++] = json_string_value(item);
		}
	}
	if (cmd) {
		if (json_object_get(v, "headers"))
			return cc_cfg_fail(c, key, "headers are for a url, not a command");
		e->argv[argc] = NULL;
		/* As for command tools: "./server.py" is the file's, bare names come from PATH. */
		if (e->argv[0][0] != '/' && strchr(e->argv[0], '/')) {
			if (cc_cfg_path(c, e->argv[0], e->program, sizeof(e->program)))
				return cc_cfg_fail(c, key, "command path is too long");
			e->argv[0] = e->program;
		}
		e->o.argv = e->argv;
		if ((item = json_object_get(v, "cwd")) && !json_is_string(item))
			return cc_cfg_fail(c, key, "cwd must be a path");
		if (cc_cfg_path(c, item ? json_string_value(item) : ".", e->cwd, sizeof(e->cwd)))
			return cc_cfg_fail(c, key, "cwd is too long");
		e->o.cwd = e->cwd;
	}
	ut_snprintf(key, sizeof(key), "mcp_servers.%s.env", name);
	if ((item = json_object_get(v, "env")) &&
	    (rc = pairs(c, key, item, "=", &e->env, &e->n_env)))
		return rc;
	e->o.env = (const char *const *)e->env;
	e->o.n_env = e->n_env;
	ut_snprintf(key, sizeof(key), "mcp_servers.%s.headers", name);
	if ((item = json_object_get(v, "headers")) &&
	    (rc = pairs(c, key, item, ": ", &e->headers, &e->n_headers)))
		return rc;
	e->o.headers = (const char *const *)e->headers;
	e->o.n_headers = e->n_headers;
	ut_snprintf(key, sizeof(key), "mcp_servers.%s.approval_mode", name);
	if ((item = json_object_get(v, "approval_mode")) &&
	    (!json_is_string(item) || cact_approval_parse(json_string_value(item), &e->approval)))
		return cc_cfg_fail(c, key, "must be never_require or always_require");
	ut_snprintf(key, sizeof(key), "mcp_servers.%s.timeout_s", name);
	if ((item = json_object_get(v, "timeout_s"))) {
		double d = json_number_value(item);

		if (!json_is_number(item) || d <= 0 || d > 86400 || !isfinite(d))
			return cc_cfg_fail(c, key,
					   "must be a number of seconds above 0, at most a day");
		e->o.timeout_ms = (uint64_t)(d * 1000.0 + 0.5);
		if (e->o.timeout_ms == 0)
			e->o.timeout_ms = 1;
	}
	ut_snprintf(key, sizeof(key), "mcp_servers.%s.max_message_bytes", name);
	if ((item = json_object_get(v, "max_message_bytes"))) {
		if (!json_is_integer(item) || json_integer_value(item) <= 0 ||
		    json_integer_value(item) > (1 << 30))
			return cc_cfg_fail(c, key,
					   "must be a whole number of bytes, at most 1 GiB");
		e->o.max_message_bytes = (uint64_t)json_integer_value(item);
	}
	ut_snprintf(key, sizeof(key), "mcp_servers.%s.tools", name);
	if ((item = json_object_get(v, "tools")) && (rc = mcp_tools_key(c, key, e, item)))
		return rc;
	return 0;
}

/* Starts e's server and adds its tools to the configuration, with their approval modes. */
static int mcp_connect(struct cc_cfg *c, struct cact_codeact *cc, struct mcp_entry *e)
{
	struct cact_mcp_client *client = NULL;
	struct cact_tool **tools = NULL;
	size_t n = 0, i, prefix = strlen(e->name) + 1;
	char key[160];
	const char *tool;
	json_t *over;
	int rc;

	ut_snprintf(key, sizeof(key), "mcp_servers.%s", e->name);
	if ((rc = cact_mcp_client_new(&e->o, &client, c->err)) ||
	    (rc = cact_mcp_client_tools(client, &tools, &n, c->err))) {
		rc = cc_cfg_relabel(c, key, rc);
		goto out;
	}
	json_object_foreach(e->tools, tool, over) {
		for (i = 0; i < n; i++)
			if (strcmp(cact_tool_name(tools[i]) + prefix, tool) == 0)
				break;
		if (i == n) {
			ut_snprintf(key, sizeof(key), "mcp_servers.%s.tools.%s", e->name, tool);
			rc = cc_cfg_fail(c, key, "is not a tool of the server");
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		struct cact_tool *t = cact_tool_ref(tools[i]), *other = NULL;
		json_t *mode = json_object_get(
			json_object_get(e->tools, cact_tool_name(t) + prefix), "approval_mode");
		enum cact_approval a = e->approval;

		if (mode)
			cact_approval_parse(json_string_value(mode), &a);
		if (a != cact_tool_approval(t)) {
			rc = cact_mcp_client_tool_approval(t, a, &other, c->err);
			cact_tool_unref(t);
			t = other;
		}
		if (!rc)
			rc = cact_request_add_tool(cc->cfg, t, c->err);
		cact_tool_unref(t);
		if (rc) {
			rc = cc_cfg_relabel(c, key, rc);
			goto out;
		}
	}
out:
	cact_tools_free(tools, n);
	cact_mcp_client_unref(client);
	return rc;
}

/*
 * mcp_servers: every entry is checked before any server starts; then each
 * is started, its tools listed and added. On failure the scratch copy,
 * with the tools (and so the servers) added so far, is thrown away.
 */
static int mcp_servers(struct cc_cfg *c, struct cact_codeact *cc, json_t *v)
{
	struct mcp_entry *es = NULL;
	size_t n = 0, i, k;
	const char *name;
	json_t *item;
	int rc = 0;

	if (!json_is_object(v))
		return cc_cfg_fail(c, "mcp_servers", "must map server names to their settings");
	if (json_object_size(v) > MCP_SERVERS_MAX)
		return cc_cfg_fail(c, "mcp_servers", "has more than 64 servers");
	es = calloc(json_object_size(v) + 1, sizeof(*es));
	if (!es)
		return ut_err(c->err, CACT_ENOMEM, "out of memory");
	json_object_foreach(v, name, item) {
		if ((rc = mcp_entry(c, name, item, &es[n++])))
			goto out;
	}
	for (i = 0; i < n && !rc; i++)
		rc = mcp_connect(c, cc, &es[i]);
out:
	for (i = 0; i < n; i++) {
		for (k = 0; k < es[i].n_env; k++)
			free(es[i].env[k]);
		for (k = 0; k < es[i].n_headers; k++)
			free(es[i].headers[k]);
		free(es[i].env);
		free(es[i].headers);
	}
	free(es);
	return rc;
}

static const struct cc_cfg_section sections[] = {
	{"mcp_servers", mcp_servers},
};

CACT_API int cact_codeact_load_config(struct cact_codeact *cc, const char *path,
				      struct cact_error *err)
{
	struct cact_codeact *scratch = NULL;
	json_error_t jerr;
	json_t *root = NULL;
	char *folder = NULL, *slash, real[4096];
	int rc;

	if (!path || !realpath(path, real))
		return ut_err_sys(err, CACT_ENOENT, errno, "cannot read config %s",
				  path ? path : "(null)");
	root = json_load_file(real, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return ut_err(err, CACT_EINVAL, "config %s: line %d: %s", path, jerr.line,
			      jerr.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return ut_err(err, CACT_EINVAL, "config %s: not a JSON object", path);
	}
	folder = strdup(real);
	if (!folder) {
		json_decref(root);
		return ut_err(err, CACT_ENOMEM, "out of memory");
	}
	slash = strrchr(folder, '/');
	if (slash)
		*(slash == folder ? slash + 1 : slash) = '\0';
	/* Applied to a copy, swapped in only when the whole file is good. */
	if ((rc = cact_codeact_snapshot(cc, &scratch, err)) ||
	    (rc = cc_apply_config(scratch, root, folder, path, sections, UT_ARRAY_SIZE(sections),
				  err)))
		goto out;
	cc_take_config(cc, scratch);
out:
	cact_codeact_free(scratch);
	json_decref(root);
	free(folder);
	return rc;
}
