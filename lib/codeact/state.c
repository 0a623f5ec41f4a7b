/* SPDX-License-Identifier: MIT */
/*
 * The serializable state of an execute_code configuration, and the way
 * back: a configuration rebuilt from a state plus the tools it names.
 */
#include <jansson.h>
#include <string.h>

#include "../tools/tools.h"
#include "../util/util.h"
#include "codeact.h"

#define BACKEND "cact"

char *cc_state(const struct cact_codeact *cc)
{
	const struct cact_request *cfg = cc->cfg;
	json_t *root = NULL, *names = json_array(), *mounts = json_array(), *domains = json_array();
	json_t *limits = json_object();
	char *out = NULL;
	size_t i;

	if (!names || !mounts || !domains || !limits)
		goto out;
	for (i = 0; i < cfg->n_tools; i++)
		json_array_append_new(names, json_string(cact_tool_name(cfg->tools[i])));
	for (i = 0; i < cfg->n_mounts; i++)
		json_array_append_new(mounts,
				      json_pack("{s:s, s:s}", "host_path", cfg->mounts[i].host,
						"mount_path", cfg->mounts[i].guest));
	/* Already sorted by target. */
	for (i = 0; i < cfg->n_domains; i++) {
		json_t *methods = json_null();

		if (cfg->domains[i].methods) {
			char list[128], *save = NULL, *m;

			methods = json_array();
			ut_snprintf(list, sizeof(list), "%s", cfg->domains[i].methods);
			for (m = strtok_r(list, ",", &save); m; m = strtok_r(NULL, ",", &save))
				json_array_append_new(methods, json_string(m));
		}
		json_array_append_new(domains,
				      json_pack("{s:s, s:o}", "target", cfg->domains[i].target,
						"methods", methods));
	}
	for (i = 0; i < CACT_LIMIT__COUNT; i++)
		json_object_set_new(limits, cact_limit_name((enum cact_limit)i),
				    json_integer((json_int_t)cfg->limits[i]));
	root = json_pack("{s:s, s:s, s:s, s:b, s:O, s:b, s:s?, s:O, s:b, s:O, s:O, s:o}", "backend",
			 BACKEND, "approval_mode", cact_approval_name(cc_effective_approval(cc)),
			 "default_approval_mode", cact_approval_name(cc->default_approval),
			 "per_call_approval", cc->per_call, "tool_names", names,
			 /* /output and /tmp are always there, whatever /input holds. */
			 "filesystem_enabled", 1, "workspace_root",
			 cfg->has_workspace ? cfg->workspace.host : NULL, "file_mounts", mounts,
			 "network_enabled", cfg->n_domains > 0, "allowed_domains", domains,
			 "limits", limits, "network", cc_network_json(cfg));
	/* Only when sessions were configured: a state without it reads the same. */
	if (root) {
		struct cact_sandbox_session_options d;

		cact_sandbox_session_options_init(&d);
		if ((cc->persistent || memcmp(&d, &cc->session_opts, sizeof(d)) != 0) &&
		    json_object_set_new(root, "sessions", cc_sessions_json(cc))) {
			json_decref(root);
			root = NULL;
		}
	}
	if (root && cc_python_json(cc, root)) {
		json_decref(root);
		root = NULL;
	}
	if (root)
		out = json_dumps(root, JSON_COMPACT);
out:
	json_decref(root);
	json_decref(names);
	json_decref(mounts);
	json_decref(domains);
	json_decref(limits);
	return out;
}

static int bad(struct cact_error *err, const char *key, const char *what)
{
	return ut_err(err, CACT_EINVAL, "state: \"%s\" %s", key, what);
}

static int restore(struct cact_codeact *cc, json_t *st, struct cact_tool *const *tools, size_t n,
		   struct cact_error *err)
{
	json_t *v, *item;
	const char *key;
	size_t i, k;
	int rc;

	v = json_object_get(st, "default_approval_mode");
	if (!v)
		v = json_object_get(st, "approval_mode");
	if (v && (!json_is_string(v) ||
		  cact_approval_parse(json_string_value(v), &cc->default_approval)))
		return bad(err, "default_approval_mode", "must be never_require or always_require");
	v = json_object_get(st, "per_call_approval");
	if (v && !json_is_boolean(v))
		return bad(err, "per_call_approval", "must be true or false");
	cc->per_call = json_is_true(v);
	v = json_object_get(st, "tool_names");
	if (v && !json_is_array(v))
		return bad(err, "tool_names", "must be a list");
	json_array_foreach(v, i, item) {
		if (!json_is_string(item))
			return bad(err, "tool_names", "must hold names");
		for (k = 0; k < n; k++)
			if (tools[k] &&
			    strcmp(cact_tool_name(tools[k]), json_string_value(item)) == 0)
				break;
		if (k == n)
			return ut_err(err, CACT_ENOENT,
				      "state names tool '%s', which was not given",
				      json_string_value(item));
		if ((rc = cact_request_add_tool(cc->cfg, tools[k], err)))
			return rc;
	}
	v = json_object_get(st, "workspace_root");
	if (v && !json_is_null(v)) {
		if (!json_is_string(v))
			return bad(err, "workspace_root", "must be a path or null");
		if ((rc = cact_request_set_workspace(cc->cfg, json_string_value(v), err)))
			return rc;
	}
	if ((v = json_object_get(st, "file_mounts")) && !json_is_array(v))
		return bad(err, "file_mounts", "must be a list");
	if ((v = json_object_get(st, "allowed_domains")) && !json_is_array(v))
		return bad(err, "allowed_domains", "must be a list");
	if ((v = json_object_get(st, "limits")) && !json_is_object(v))
		return bad(err, "limits", "must be an object");
	json_array_foreach(json_object_get(st, "file_mounts"), i, item) {
		const char *h = json_string_value(json_object_get(item, "host_path"));
		const char *m = json_string_value(json_object_get(item, "mount_path"));

		if (!h || !m)
			return bad(err, "file_mounts", "entries need host_path and mount_path");
		if ((rc = cact_request_add_mount(cc->cfg, h, m, err)))
			return rc;
	}
	json_array_foreach(json_object_get(st, "allowed_domains"), i, item) {
		const char *t = json_string_value(json_object_get(item, "target"));
		json_t *ms = json_object_get(item, "methods"), *m;
		const char *list[16];
		size_t nm = 0, j;

		if (!t)
			return bad(err, "allowed_domains", "entries need a target");
		if (ms && !json_is_null(ms) && !json_is_array(ms))
			return bad(err, "allowed_domains", "methods must be a list or null");
		json_array_foreach(ms, j, m) {
			if (!json_is_string(m) || nm == 16)
				return bad(err, "allowed_domains",
					   "methods must be at most 16 names");
			list[nm++] = json_string_value(m);
		}
		if ((rc = cact_request_add_allowed_domain(cc->cfg, t, nm ? list : NULL, nm, err)))
			return rc;
	}
	v = json_object_get(st, "network");
	if (v && (rc = cc_network_apply(cc->cfg, v, NULL, "state", err)))
		return rc;
	v = json_object_get(st, "sessions");
	if (v && (rc = cc_sessions_apply(cc, v, "state", err)))
		return rc;
	if ((rc = cc_python_apply(cc, st, NULL, "state", err)))
		return rc;
	json_object_foreach(json_object_get(st, "limits"), key, item) {
		for (k = 0; k < CACT_LIMIT__COUNT; k++)
			if (strcmp(cact_limit_name((enum cact_limit)k), key) == 0)
				break;
		if (k == CACT_LIMIT__COUNT)
			continue; /* a limit of a newer version */
		if (!json_is_integer(item) || json_integer_value(item) < 0)
			return bad(err, key, "must be a non-negative integer");
		if ((rc = cact_request_set_limit(cc->cfg, (enum cact_limit)k,
						 (uint64_t)json_integer_value(item), err)))
			return rc;
	}
	return 0;
}

CACT_API int cact_codeact_new_from_state(struct cact_runtime *rt, const char *state_json,
					 struct cact_tool *const *tools, size_t n_tools,
					 struct cact_codeact **out, struct cact_error *err)
{
	json_error_t jerr;
	json_t *st;
	int rc;

	*out = NULL;
	st = json_loads(state_json ? state_json : "", JSON_REJECT_DUPLICATES, &jerr);
	if (!st || !json_is_object(st)) {
		json_decref(st);
		return ut_err(err, CACT_EINVAL, "state is not a JSON object");
	}
	if ((rc = cact_codeact_new(rt, out, err)) == 0 &&
	    (rc = restore(*out, st, tools, n_tools, err))) {
		cact_codeact_free(*out);
		*out = NULL;
	}
	json_decref(st);
	return rc;
}
