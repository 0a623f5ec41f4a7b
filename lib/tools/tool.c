/* SPDX-License-Identifier: MIT */
/* Tool objects: creation, references, accessors, invocation. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"
#include "tools.h"

#define NAME_MAX_LEN 128

CACT_API const char *cact_approval_name(enum cact_approval a)
{
	return a == CACT_APPROVAL_ALWAYS_REQUIRE ? "always_require" : "never_require";
}

CACT_API int cact_approval_parse(const char *name, enum cact_approval *out)
{
	if (name && strcmp(name, "never_require") == 0)
		*out = CACT_APPROVAL_NEVER_REQUIRE;
	else if (name && strcmp(name, "always_require") == 0)
		*out = CACT_APPROVAL_ALWAYS_REQUIRE;
	else
		return CACT_EINVAL;
	return 0;
}

static int check_name(const char *name, struct cact_error *err)
{
	size_t i, n;

	if (!name || !*name)
		return ut_err(err, CACT_EINVAL, "tool name is empty");
	n = strlen(name);
	if (n > NAME_MAX_LEN)
		return ut_err(err, CACT_EINVAL, "tool name is longer than %d characters",
			      NAME_MAX_LEN);
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return ut_err(err, CACT_EINVAL,
				      "tool name '%s': only letters, digits, '_', '-' and '.' are "
				      "allowed",
				      name);
	}
	return 0;
}

static void tool_free(struct cact_tool *t)
{
	size_t i;

	if (t->ops && t->ops->release)
		t->ops->release(t->ops_data);
	free(t->name);
	free(t->description);
	json_decref(t->params);
	free(t->params_text);
	for (i = 0; t->argv && t->argv[i]; i++)
		free(t->argv[i]);
	free(t->argv);
	free(t->cwd);
	free(t);
}

int tool_new(const char *name, const char *description, const char *parameters_json,
	     enum cact_approval approval, struct cact_tool **out, struct cact_error *err)
{
	struct cact_tool *t = NULL;
	json_error_t jerr;
	int rc;

	*out = NULL;
	if ((rc = check_name(name, err)))
		return rc;
	if (approval != CACT_APPROVAL_NEVER_REQUIRE && approval != CACT_APPROVAL_ALWAYS_REQUIRE)
		return ut_err(err, CACT_EINVAL, "tool %s: unknown approval mode", name);
	t = calloc(1, sizeof(*t));
	if (!t)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	atomic_init(&t->refs, 1);
	t->approval = approval;
	t->name = strdup(name);
	t->description = strdup(description ? description : "");
	if (parameters_json)
		t->params = json_loads(parameters_json, JSON_REJECT_DUPLICATES, &jerr);
	else
		t->params = json_pack("{s:s, s:{}}", "type", "object", "properties");
	if (!t->name || !t->description) {
		rc = ut_err(err, CACT_ENOMEM, "out of memory");
		goto fail;
	}
	if (!t->params) {
		rc = ut_err(err, CACT_EINVAL, "tool %s: parameters are not JSON: %s", name,
			    parameters_json ? jerr.text : "out of memory");
		goto fail;
	}
	if ((rc = schema_check(t->params, err))) {
		char why[CACT_ERROR_MAX];

		ut_snprintf(why, sizeof(why), "%s", err ? err->message : "");
		rc = ut_err(err, CACT_EINVAL, "tool %s: bad parameters schema: %s", name, why);
		goto fail;
	}
	/* A schema without "type" is still an object schema for the model. */
	if (!json_object_get(t->params, "type"))
		json_object_set_new(t->params, "type", json_string("object"));
	if (!json_object_get(t->params, "properties"))
		json_object_set_new(t->params, "properties", json_object());
	t->params_text = json_dumps(t->params, JSON_COMPACT);
	if (!t->params_text) {
		rc = ut_err(err, CACT_ENOMEM, "out of memory");
		goto fail;
	}
	*out = t;
	return 0;
fail:
	tool_free(t);
	return rc;
}

CACT_API int cact_tool_new_callback(const char *name, const char *description,
				    const char *parameters_json, enum cact_approval approval,
				    cact_tool_fn fn, void *user, struct cact_tool **out,
				    struct cact_error *err)
{
	int rc;

	if (!fn)
		return ut_err(err, CACT_EINVAL, "tool %s: no handler", name ? name : "");
	if ((rc = tool_new(name, description, parameters_json, approval, out, err)))
		return rc;
	(*out)->kind = TOOL_CALLBACK;
	(*out)->fn = fn;
	(*out)->user = user;
	return 0;
}

CACT_API void cact_tool_command_options_init(struct cact_tool_command_options *o)
{
	memset(o, 0, sizeof(*o));
}

CACT_API int cact_tool_new_command(const char *name, const char *description,
				   const char *parameters_json, enum cact_approval approval,
				   const char *const *argv, const char *cwd, uint64_t timeout_ms,
				   struct cact_tool **out, struct cact_error *err)
{
	struct cact_tool_command_options o;

	cact_tool_command_options_init(&o);
	o.cwd = cwd;
	o.timeout_ms = timeout_ms;
	return cact_tool_new_command_opts(name, description, parameters_json, approval, argv, &o,
					  out, err);
}

CACT_API int cact_tool_new_command_opts(const char *name, const char *description,
					const char *parameters_json, enum cact_approval approval,
					const char *const *argv,
					const struct cact_tool_command_options *opts,
					struct cact_tool **out, struct cact_error *err)
{
	struct cact_tool_command_options dflt;
	struct cact_tool *t = NULL;
	const char *cwd;
	uint64_t timeout_ms;
	size_t n = 0, i;
	int rc;

	*out = NULL;
	if (!opts) {
		cact_tool_command_options_init(&dflt);
		opts = &dflt;
	}
	cwd = opts->cwd;
	timeout_ms = opts->timeout_ms;
	if (!argv || !argv[0] || !*argv[0])
		return ut_err(err, CACT_EINVAL, "tool %s: empty command", name ? name : "");
	if ((rc = tool_new(name, description, parameters_json, approval, &t, err)))
		return rc;
	t->kind = TOOL_COMMAND;
	t->timeout_ms = timeout_ms ? timeout_ms : TOOL_DEFAULT_TIMEOUT_MS;
	t->stderr_to_code = !!opts->stderr_to_code;
	while (argv[n])
		n++;
	t->argv = calloc(n + 1, sizeof(*t->argv));
	if (!t->argv)
		goto oom;
	for (i = 0; i < n; i++)
		if (!(t->argv[i] = strdup(argv[i])))
			goto oom;
	if (cwd && !(t->cwd = strdup(cwd)))
		goto oom;
	*out = t;
	return 0;
oom:
	tool_free(t);
	return ut_err(err, CACT_ENOMEM, "out of memory");
}

CACT_API struct cact_tool *cact_tool_ref(struct cact_tool *t)
{
	if (t)
		atomic_fetch_add(&t->refs, 1);
	return t;
}

CACT_API void cact_tool_unref(struct cact_tool *t)
{
	if (t && atomic_fetch_sub(&t->refs, 1) == 1)
		tool_free(t);
}

CACT_API const char *cact_tool_name(const struct cact_tool *t)
{
	return t->name;
}

CACT_API const char *cact_tool_description(const struct cact_tool *t)
{
	const char *live = t->ops && t->ops->describe ? t->ops->describe(t->ops_data) : NULL;

	return live ? live : t->description;
}

CACT_API const char *cact_tool_parameters(const struct cact_tool *t)
{
	return t->params_text;
}

CACT_API enum cact_approval cact_tool_approval(const struct cact_tool *t)
{
	return t->approval;
}

CACT_API int cact_tool_validate(const struct cact_tool *t, const char *args_json,
				struct cact_error *err)
{
	json_error_t jerr;
	json_t *v = json_loads(args_json ? args_json : "", JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
			       &jerr);
	int rc;

	if (!v)
		return ut_err(err, CACT_EINVAL, "arguments are not JSON: %s", jerr.text);
	rc = schema_validate(t->params, v, err);
	json_decref(v);
	return rc;
}

/* Checks a handler's output: exactly one JSON value, within the cap; re-encoded compact. */
static int normalize_result(const char *name, const char *text, size_t len, size_t cap, char **out,
			    struct cact_error *err)
{
	json_error_t jerr;
	json_t *v;

	if (len > cap)
		return ut_err(err, CACT_ETOOBIG, "result is larger than %zu bytes", cap);
	v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (!v)
		return ut_err(err, CACT_EINVAL,
			      "%s returned something that is not one JSON value: %s", name,
			      jerr.text);
	*out = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(v);
	if (!*out)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	if (strlen(*out) > cap) {
		free(*out);
		*out = NULL;
		return ut_err(err, CACT_ETOOBIG, "result is larger than %zu bytes", cap);
	}
	return 0;
}

int tool_invoke(struct cact_tool *t, const char *args_json, size_t result_cap, int cancel_fd,
		char **result_json, char **detail, struct cact_error *err)
{
	char *raw = NULL;
	int rc;

	*result_json = NULL;
	*detail = NULL;
	switch (t->kind) {
	case TOOL_CALLBACK: {
		struct cact_error cb = {0};

		rc = t->fn(t->user, t->name, args_json, &raw, &cb);
		if (rc) {
			free(raw);
			return ut_err(err, rc < 0 ? rc : CACT_EINVAL, "%s",
				      cb.message[0] ? cb.message : cact_strerror(rc));
		}
		if (!raw)
			return ut_err(err, CACT_EINVAL, "the handler returned no result");
		rc = normalize_result("the handler", raw, strlen(raw), result_cap, result_json,
				      err);
		free(raw);
		return rc;
	}
	case TOOL_COMMAND:
		return tool_run_command(t, args_json, result_cap, cancel_fd, result_json, detail,
					err);
	case TOOL_CUSTOM:
		rc = t->ops->invoke(t->ops_data, t->name, args_json, result_cap, cancel_fd, &raw,
				    err);
		if (rc)
			return rc;
		rc = normalize_result("the server", raw, strlen(raw), result_cap, result_json, err);
		free(raw);
		return rc;
	}
	return ut_err(err, CACT_EINVAL, "unknown tool kind");
}
