/* SPDX-License-Identifier: MIT */
/*
 * The JSON configuration file (cact exec --config, cact describe, cact
 * state, and later cact agent and cact mcp). Every key is checked: an
 * unknown key or a value of the wrong type is an error naming the key, and
 * nothing of a bad file is applied (the caller swaps in a scratch copy).
 * The file is read, and its mcp_servers section applied, by
 * lib/mcp/config.c: MCP clients sit above this layer (codeact.h).
 */
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "../tools/tools.h"
#include "../util/util.h"
#include "codeact.h"

int cc_cfg_fail(struct cc_cfg *c, const char *key, const char *what)
{
	return ut_err(c->err, CACT_EINVAL, "config %s: \"%s\" %s", c->path, key, what);
}

int cc_cfg_path(struct cc_cfg *c, const char *p, char *out, size_t size)
{
	if (p[0] == '/')
		return ut_snprintf(out, size, "%s", p) < 0 ? -1 : 0;
	return ut_snprintf(out, size, "%s/%s", c->folder, p) < 0 ? -1 : 0;
}

int cc_cfg_relabel(struct cc_cfg *c, const char *key, int rc)
{
	char why[CACT_ERROR_MAX];

	ut_snprintf(why, sizeof(why), "%s", c->err ? c->err->message : cact_strerror(rc));
	return ut_err(c->err, rc, "config %s: %s: %s", c->path, key, why);
}

static int file_mounts(struct cc_cfg *c, struct cact_request *r, json_t *v)
{
	char key[64], host[PATH_MAX];
	json_t *item;
	size_t i;
	int rc;

	if (!json_is_array(v))
		return cc_cfg_fail(c, "file_mounts", "must be a list");
	json_array_foreach(v, i, item) {
		const char *h, *m;

		ut_snprintf(key, sizeof(key), "file_mounts[%zu]", i);
		if (json_is_string(item)) {
			h = m = json_string_value(item);
		} else if (json_is_array(item) && json_array_size(item) == 2 &&
			   json_is_string(json_array_get(item, 0)) &&
			   json_is_string(json_array_get(item, 1))) {
			h = json_string_value(json_array_get(item, 0));
			m = json_string_value(json_array_get(item, 1));
		} else {
			return cc_cfg_fail(c, key,
					   "must be a path or a [host path, mount path] pair");
		}
		if (cc_cfg_path(c, h, host, sizeof(host)))
			return cc_cfg_fail(c, key, "path is too long");
		if ((rc = cact_request_add_mount(r, host, m, c->err)))
			return cc_cfg_relabel(c, key, rc);
	}
	return 0;
}

static int allowed_domains(struct cc_cfg *c, struct cact_request *r, json_t *v)
{
	char key[64];
	json_t *item;
	size_t i;
	int rc;

	if (!json_is_array(v))
		return cc_cfg_fail(c, "allowed_domains", "must be a list");
	json_array_foreach(v, i, item) {
		const char *methods[16];
		size_t n = 0;

		ut_snprintf(key, sizeof(key), "allowed_domains[%zu]", i);
		if (json_is_string(item)) {
			rc = cact_request_add_allowed_domain(r, json_string_value(item), NULL, 0,
							     c->err);
		} else if (json_is_array(item) && json_array_size(item) == 2 &&
			   json_is_string(json_array_get(item, 0))) {
			json_t *ms = json_array_get(item, 1), *m;
			size_t j;

			if (json_is_string(ms)) {
				methods[n++] = json_string_value(ms);
			} else if (json_is_array(ms)) {
				json_array_foreach(ms, j, m) {
					if (!json_is_string(m))
						return cc_cfg_fail(c, key,
								   "methods must be strings");
					if (n == 16)
						return cc_cfg_fail(c, key,
								   "has more than 16 methods");
					methods[n++] = json_string_value(m);
				}
			} else {
				return cc_cfg_fail(c, key,
						   "methods must be a string or a list of strings");
			}
			rc = cact_request_add_allowed_domain(
				r, json_string_value(json_array_get(item, 0)), methods, n, c->err);
		} else {
			return cc_cfg_fail(
				c, key, "must be a target or a [target, method or methods] pair");
		}
		if (rc)
			return cc_cfg_relabel(c, key, rc);
	}
	return 0;
}

json_t *cc_network_json(const struct cact_request *cfg)
{
	json_t *resolve = json_object(), *out, *headers;
	size_t i;

	for (i = 0; resolve && i < cfg->n_resolves; i++) {
		json_t *addrs = json_array();
		char list[1024], *save = NULL, *a;

		ut_snprintf(list, sizeof(list), "%s", cfg->resolves[i].addrs);
		for (a = strtok_r(list, ",", &save); addrs && a; a = strtok_r(NULL, ",", &save))
			json_array_append_new(addrs, json_string(a));
		if (json_object_set_new(resolve, cfg->resolves[i].host, addrs)) {
			json_decref(resolve);
			return NULL;
		}
	}
	out = resolve ? json_pack("{s:s?, s:s?, s:o}", "ca_file", cfg->ca_file, "proxy", cfg->proxy,
				  "resolve", resolve)
		      : NULL;
	/* Only when set: a state without it reads the same. */
	if (out && cfg->redirect_headers) {
		char list[1024], *save = NULL, *h;

		headers = json_array();
		ut_snprintf(list, sizeof(list), "%s", cfg->redirect_headers);
		for (h = strtok_r(list, ",", &save); headers && h; h = strtok_r(NULL, ",", &save))
			json_array_append_new(headers, json_string(h));
		if (!headers || json_object_set_new(out, "redirect_headers", headers)) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

static int net_fail(struct cact_error *err, const char *where, const char *key, const char *what)
{
	return ut_err(err, CACT_EINVAL, "%s: \"network.%s\" %s", where, key, what);
}

int cc_network_apply(struct cact_request *cfg, json_t *v, const char *folder, const char *where,
		     struct cact_error *err)
{
	static const char *const keys[] = {"ca_file", "proxy", "resolve", "redirect_headers"};
	char path[PATH_MAX], why[CACT_ERROR_MAX];
	json_t *item, *addrs, *a;
	const char *k, *host;
	size_t i;
	int rc;

	if (!json_is_object(v))
		return ut_err(err, CACT_EINVAL, "%s: \"network\" must be an object", where);
	json_object_foreach(v, k, item) {
		for (i = 0; i < UT_ARRAY_SIZE(keys); i++)
			if (strcmp(k, keys[i]) == 0)
				break;
		if (i == UT_ARRAY_SIZE(keys))
			return net_fail(err, where, k, "is not a known key");
	}
	if ((item = json_object_get(v, "ca_file")) && json_is_null(item))
		cact_request_set_ca_file(cfg, NULL, NULL);
	else if (item) {
		const char *p = json_string_value(item);

		if (!p)
			return net_fail(err, where, "ca_file", "must be a path or null");
		if (ut_snprintf(path, sizeof(path), "%s%s%s", folder && p[0] != '/' ? folder : "",
				folder && p[0] != '/' ? "/" : "", p) < 0)
			return net_fail(err, where, "ca_file", "is too long");
		if ((rc = cact_request_set_ca_file(cfg, path, err)))
			goto relabel;
	}
	if ((item = json_object_get(v, "proxy")) && json_is_null(item))
		cact_request_set_proxy(cfg, NULL, NULL);
	else if (item) {
		if (!json_is_string(item))
			return net_fail(err, where, "proxy", "must be a URL or null");
		if ((rc = cact_request_set_proxy(cfg, json_string_value(item), err)))
			goto relabel;
	}
	if ((item = json_object_get(v, "resolve"))) {
		if (!json_is_object(item))
			return net_fail(err, where, "resolve",
					"must map host names to address lists");
		cact_request_clear_resolve(cfg);
		json_object_foreach(item, host, addrs) {
			if (json_is_string(addrs)) {
				if ((rc = cact_request_add_resolve(cfg, host,
								   json_string_value(addrs), err)))
					goto relabel;
				continue;
			}
			if (!json_is_array(addrs) || json_array_size(addrs) == 0)
				return net_fail(err, where, "resolve",
						"values must be an address or a list of addresses");
			json_array_foreach(addrs, i, a) {
				if (!json_is_string(a))
					return net_fail(err, where, "resolve",
							"addresses must be strings");
				if ((rc = cact_request_add_resolve(cfg, host, json_string_value(a),
								   err)))
					goto relabel;
			}
		}
	}
	if ((item = json_object_get(v, "redirect_headers"))) {
		if (!json_is_array(item))
			return net_fail(err, where, "redirect_headers",
					"must be a list of header names");
		cact_request_clear_redirect_headers(cfg);
		json_array_foreach(item, i, a) {
			if (!json_is_string(a))
				return net_fail(err, where, "redirect_headers",
						"must be a list of header names");
			if ((rc = cact_request_add_redirect_header(cfg, json_string_value(a), err)))
				goto relabel;
		}
	}
	return 0;
relabel:
	ut_snprintf(why, sizeof(why), "%s", err ? err->message : cact_strerror(rc));
	return ut_err(err, rc, "%s: network: %s", where, why);
}

json_t *cc_sessions_json(const struct cact_codeact *cc)
{
	const struct cact_sandbox_session_options *o = &cc->session_opts;

	return json_pack("{s:b, s:f, s:f, s:f}", "enabled", cc->persistent, "idle_timeout_s",
			 (double)o->idle_timeout_ms / 1000.0, "lifetime_s",
			 (double)o->lifetime_ms / 1000.0, "cpu_total_s",
			 (double)o->cpu_total_ms / 1000.0);
}

int cc_sessions_apply(struct cact_codeact *cc, json_t *v, const char *where, struct cact_error *err)
{
	static const char *const keys[] = {"enabled", "idle_timeout_s", "lifetime_s",
					   "cpu_total_s"};
	struct cact_sandbox_session_options o = cc->session_opts;
	uint64_t *dst[] = {NULL, &o.idle_timeout_ms, &o.lifetime_ms, &o.cpu_total_ms};
	json_t *item;
	const char *k;
	size_t i;

	if (!json_is_object(v))
		return ut_err(err, CACT_EINVAL, "%s: \"sessions\" must be an object", where);
	json_object_foreach(v, k, item) {
		for (i = 0; i < UT_ARRAY_SIZE(keys); i++)
			if (strcmp(k, keys[i]) == 0)
				break;
		if (i == UT_ARRAY_SIZE(keys))
			return ut_err(err, CACT_EINVAL, "%s: \"sessions.%s\" is not a known key",
				      where, k);
		if (i == 0) {
			if (!json_is_boolean(item))
				return ut_err(err, CACT_EINVAL,
					      "%s: \"sessions.enabled\" must be true or false",
					      where);
			continue;
		}
		/* 0 turns the idle timeout or the lifetime off; the CPU total must be some. */
		if (!json_is_number(item) || !isfinite(json_number_value(item)) ||
		    json_number_value(item) < 0 || json_number_value(item) > 1e9 ||
		    (i == 3 && json_number_value(item) <= 0))
			return ut_err(err, CACT_EINVAL, "%s: \"sessions.%s\" must be %s", where, k,
				      i == 3 ? "a positive number of seconds"
					     : "a number of seconds (0: none)");
		*dst[i] = (uint64_t)(json_number_value(item) * 1000.0 + 0.5);
	}
	if ((item = json_object_get(v, "enabled")))
		cc->persistent = json_is_true(item);
	cc->session_opts = o;
	return 0;
}

static int one_tool(struct cc_cfg *c, struct cact_codeact *cc, json_t *t, const char *list,
		    size_t i)
{
	static const char *const keys[] = {"name",	    "description", "parameters",
					   "approval_mode", "command",	   "timeout_s",
					   "stderr_to_code"};
	struct cact_tool_command_options opts;
	char key[96], cmdpath[PATH_MAX];
	const char *name, *argv[65];
	enum cact_approval approval = CACT_APPROVAL_NEVER_REQUIRE;
	struct cact_tool *tool = NULL;
	json_t *v, *cmd;
	const char *k;
	char *params = NULL;
	uint64_t timeout_ms = 0;
	size_t j, argc = 0;
	int rc;

	ut_snprintf(key, sizeof(key), "%s[%zu]", list, i);
	if (!json_is_object(t))
		return cc_cfg_fail(c, key, "must be an object");
	json_object_foreach(t, k, v) {
		for (j = 0; j < UT_ARRAY_SIZE(keys); j++)
			if (strcmp(k, keys[j]) == 0)
				break;
		if (j == UT_ARRAY_SIZE(keys)) {
			ut_snprintf(key, sizeof(key), "%s[%zu].%s", list, i, k);
			return cc_cfg_fail(c, key, "is not a known key");
		}
	}
	name = json_string_value(json_object_get(t, "name"));
	if (!name)
		return cc_cfg_fail(c, key, "needs a \"name\" string");
	ut_snprintf(key, sizeof(key), "%s[%zu] (%s)", list, i, name);
	if ((v = json_object_get(t, "description")) && !json_is_string(v))
		return cc_cfg_fail(c, key, "description must be a string");
	if ((v = json_object_get(t, "parameters")) && !json_is_object(v))
		return cc_cfg_fail(c, key, "parameters must be a JSON Schema object");
	if ((v = json_object_get(t, "approval_mode")) &&
	    (!json_is_string(v) || cact_approval_parse(json_string_value(v), &approval)))
		return cc_cfg_fail(c, key, "approval_mode must be never_require or always_require");
	if ((v = json_object_get(t, "timeout_s"))) {
		if (!json_is_number(v) || json_number_value(v) <= 0 ||
		    json_number_value(v) > 86400 || !isfinite(json_number_value(v)))
			return cc_cfg_fail(
				c, key,
				"timeout_s must be a number of seconds above 0, at most 86400 "
				"(a day)");
		timeout_ms = (uint64_t)(json_number_value(v) * 1000.0 + 0.5);
		if (timeout_ms == 0)
			timeout_ms = 1;
	}
	cact_tool_command_options_init(&opts);
	if ((v = json_object_get(t, "stderr_to_code"))) {
		if (!json_is_boolean(v))
			return cc_cfg_fail(c, key, "stderr_to_code must be true or false");
		opts.stderr_to_code = json_is_true(v);
	}
	cmd = json_object_get(t, "command");
	if (json_is_string(cmd)) {
		argv[argc++] = json_string_value(cmd);
	} else if (json_is_array(cmd) && json_array_size(cmd) > 0 && json_array_size(cmd) <= 64) {
		json_array_foreach(cmd, j, v) {
			if (!json_is_string(v))
				return cc_cfg_fail(c, key, "command must be a list of strings");
			argv[argc++] = json_string_value(v);
		}
	} else {
		return cc_cfg_fail(
			c, key,
			"needs a \"command\": a program or a list of program and arguments");
	}
	argv[argc] = NULL;
	/* "./tool.py" and "bin/tool" are the file's; bare names come from PATH. */
	if (argv[0][0] != '/' && strchr(argv[0], '/')) {
		if (cc_cfg_path(c, argv[0], cmdpath, sizeof(cmdpath)))
			return cc_cfg_fail(c, key, "command path is too long");
		argv[0] = cmdpath;
	}
	if ((v = json_object_get(t, "parameters")))
		params = json_dumps(v, JSON_COMPACT);
	opts.cwd = c->folder;
	opts.timeout_ms = timeout_ms;
	rc = cact_tool_new_command_opts(name, json_string_value(json_object_get(t, "description")),
					params, approval, argv, &opts, &tool, c->err);
	free(params);
	if (rc)
		return cc_cfg_relabel(c, key, rc);
	if (strcmp(name, "execute_code") == 0)
		rc = cc_cfg_fail(c, key, "may not be named execute_code");
	else if ((rc = cact_request_add_tool(strcmp(list, "tools") == 0 ? cc->cfg : cc->direct,
					     tool, c->err)))
		rc = cc_cfg_relabel(c, key, rc);
	cact_tool_unref(tool);
	return rc;
}

/* An amount in a key's unit: "16 MiB", "0.001 s", "4096 bytes (4 KiB)", "64". */
static void amount(uint64_t v, uint64_t per, const char *unit, char *out, size_t size)
{
	uint64_t whole = v / per, frac = (v % per) * 1000 / per;
	char dec[8] = "", extra[32] = "";
	int n;

	if (frac) {
		ut_snprintf(dec, sizeof(dec), ".%03llu", (unsigned long long)frac);
		for (n = (int)strlen(dec); dec[n - 1] == '0'; n--)
			dec[n - 1] = '\0';
	}
	if (strcmp(unit, "bytes") == 0 && v >= 1024 && v % 1024 == 0)
		ut_snprintf(extra, sizeof(extra), " (%llu %s)",
			    (unsigned long long)(v % (1u << 30) == 0   ? v >> 30
						 : v % (1u << 20) == 0 ? v >> 20
								       : v >> 10),
			    v % (1u << 30) == 0	  ? "GiB"
			    : v % (1u << 20) == 0 ? "MiB"
						  : "KiB");
	ut_snprintf(out, size, "%llu%s%s%s%s", (unsigned long long)whole, dec, *unit ? " " : "",
		    unit, extra);
}

/*
 * A limit outside the library's range, said in the words and unit of the
 * key the file used ("limits.memory_mib: 8 MiB is below the minimum of 16
 * MiB"), not in the library's (memory_bytes). given: the value as the file
 * wrote it, without its unit.
 */
static int out_of_range(struct cc_cfg *c, const char *key, enum cact_limit which, uint64_t value,
			const char *given, uint64_t per, const char *unit)
{
	uint64_t min = cact_limit_min(which), max = cact_limit_max(which);
	char bound[64], what[160];

	amount(value < min ? min : max, per, unit, bound, sizeof(bound));
	ut_snprintf(what, sizeof(what), "%s%s%s is %s the %s of %s", given, *unit ? " " : "", unit,
		    value < min ? "below" : "above", value < min ? "minimum" : "maximum", bound);
	return ut_err(c->err, CACT_EINVAL, "config %s: %s: %s", c->path, key, what);
}

/* The unit a limit's own name carries: timeout_ms in ms, tmp_bytes in bytes, threads bare. */
static const char *unit_of(const char *name)
{
	size_t n = strlen(name);

	if (n > 6 && strcmp(name + n - 6, "_bytes") == 0)
		return "bytes";
	if (n > 3 && strcmp(name + n - 3, "_ms") == 0)
		return "ms";
	return "";
}

static int limits(struct cc_cfg *c, struct cact_request *r, json_t *v)
{
	const char *k;
	json_t *item;
	char key[96];
	size_t i;
	int rc;

	if (!json_is_object(v))
		return cc_cfg_fail(c, "limits", "must be an object");
	json_object_foreach(v, k, item) {
		uint64_t value, per = 1;
		enum cact_limit which = CACT_LIMIT__COUNT;
		const char *unit;
		char given[48];

		ut_snprintf(key, sizeof(key), "limits.%s", k);
		if (strcmp(k, "timeout_s") == 0 || strcmp(k, "memory_mib") == 0) {
			double d = json_number_value(item);

			if (!json_is_number(item) || d <= 0 || !isfinite(d) || d > 1e12)
				return cc_cfg_fail(c, key, "must be a positive number");
			ut_snprintf(given, sizeof(given), "%.15g", d);
			if (strcmp(k, "timeout_s") == 0) {
				which = CACT_LIMIT_TIMEOUT_MS;
				value = (uint64_t)(d * 1000.0 + 0.5);
				per = 1000;
				unit = "s";
			} else {
				if (!json_is_integer(item))
					return cc_cfg_fail(c, key, "must be a whole number of MiB");
				which = CACT_LIMIT_MEMORY_BYTES;
				value = (uint64_t)json_integer_value(item) << 20;
				per = 1u << 20;
				unit = "MiB";
			}
		} else {
			for (i = 0; i < CACT_LIMIT__COUNT; i++)
				if (strcmp(k, cact_limit_name((enum cact_limit)i)) == 0)
					which = (enum cact_limit)i;
			if (which == CACT_LIMIT__COUNT)
				return cc_cfg_fail(c, key, "is not a known limit");
			if (!json_is_integer(item) || json_integer_value(item) < 0)
				return cc_cfg_fail(c, key, "must be a non-negative integer");
			value = (uint64_t)json_integer_value(item);
			ut_snprintf(given, sizeof(given), "%llu", (unsigned long long)value);
			unit = unit_of(k);
		}
		if (value < cact_limit_min(which) || value > cact_limit_max(which))
			return out_of_range(c, key, which, value, given, per, unit);
		if ((rc = cact_request_set_limit(r, which, value, c->err)))
			return cc_cfg_relabel(c, key, rc);
	}
	return 0;
}

int cc_apply_config(struct cact_codeact *cc, json_t *root, const char *folder, const char *path,
		    const struct cc_cfg_section *extra, size_t n_extra, struct cact_error *err)
{
	static const char *const known[] = {"approval_mode", "per_call_approval", "workspace_root",
					    "file_mounts",   "allowed_domains",	  "tools",
					    "limits",	     "network",		  "direct_tools",
					    "sessions",	     "python_path",	  "preload"};
	struct cc_cfg c = {.path = path, .folder = folder, .err = err};
	char ws[PATH_MAX];
	const char *k;
	json_t *v;
	size_t i;
	int rc;

	json_object_foreach(root, k, v) {
		size_t j;

		for (i = 0; i < UT_ARRAY_SIZE(known); i++)
			if (strcmp(k, known[i]) == 0)
				break;
		for (j = 0; i == UT_ARRAY_SIZE(known) && j < n_extra; j++)
			if (strcmp(k, extra[j].key) == 0)
				break;
		if (i == UT_ARRAY_SIZE(known) && j == n_extra)
			return cc_cfg_fail(&c, k, "is not a known key");
	}
	if ((v = json_object_get(root, "approval_mode")) &&
	    (!json_is_string(v) ||
	     cact_approval_parse(json_string_value(v), &cc->default_approval)))
		return cc_cfg_fail(&c, "approval_mode", "must be never_require or always_require");
	if ((v = json_object_get(root, "per_call_approval"))) {
		if (!json_is_boolean(v))
			return cc_cfg_fail(&c, "per_call_approval", "must be true or false");
		cc->per_call = json_is_true(v);
	}
	if ((v = json_object_get(root, "workspace_root")) && !json_is_null(v)) {
		if (!json_is_string(v))
			return cc_cfg_fail(&c, "workspace_root", "must be a path or null");
		if (cc_cfg_path(&c, json_string_value(v), ws, sizeof(ws)))
			return cc_cfg_fail(&c, "workspace_root", "is too long");
		if ((rc = cact_request_set_workspace(cc->cfg, ws, err)))
			return cc_cfg_relabel(&c, "workspace_root", rc);
	} else if (v) {
		cact_request_set_workspace(cc->cfg, NULL, NULL);
	}
	if ((v = json_object_get(root, "file_mounts")) && (rc = file_mounts(&c, cc->cfg, v)))
		return rc;
	if ((v = json_object_get(root, "allowed_domains")) &&
	    (rc = allowed_domains(&c, cc->cfg, v)))
		return rc;
	for (k = "tools"; k; k = strcmp(k, "tools") == 0 ? "direct_tools" : NULL) {
		json_t *t;

		if (!(v = json_object_get(root, k)))
			continue;
		if (!json_is_array(v))
			return cc_cfg_fail(&c, k, "must be a list");
		json_array_foreach(v, i, t)
			if ((rc = one_tool(&c, cc, t, k, i)))
				return rc;
	}
	if ((v = json_object_get(root, "limits")) && (rc = limits(&c, cc->cfg, v)))
		return rc;
	if ((v = json_object_get(root, "network"))) {
		char where[PATH_MAX + 16];

		ut_snprintf(where, sizeof(where), "config %s", path);
		if ((rc = cc_network_apply(cc->cfg, v, folder, where, err)))
			return rc;
	}
	if ((v = json_object_get(root, "sessions"))) {
		char where[PATH_MAX + 16];

		ut_snprintf(where, sizeof(where), "config %s", path);
		if ((rc = cc_sessions_apply(cc, v, where, err)))
			return rc;
	}
	{
		char where[PATH_MAX + 16];

		ut_snprintf(where, sizeof(where), "config %s", path);
		if ((rc = cc_python_apply(cc, root, folder, where, err)))
			return rc;
	}
	/* Last: the other keys are checked before any of these starts something (a server). */
	for (i = 0; i < n_extra; i++)
		if ((v = json_object_get(root, extra[i].key)) && (rc = extra[i].apply(&c, cc, v)))
			return rc;
	return 0;
}
