/* SPDX-License-Identifier: MIT */
/*
 * CodeAct in an agent: execute_code as a tool, and the context provider
 * that adds it (with its instructions) to every run from a snapshot of the
 * configuration taken when the run starts.
 */
#include <stdlib.h>
#include <string.h>

#include "../codeact/codeact.h"
#include "../tools/tools.h"
#include "../util/util.h"
#include "agent.h"

struct exec_tool {
	struct cact_codeact *cc;
	int owned;		     /* a snapshot the tool frees */
	enum cact_approval approval; /* what the tool said when it was made */
};

/* Sandboxed code called a tool: the run hears of it. */
static void observe(void *user, const char *tool, int done, int ok, const char *text,
		    uint64_t elapsed_us)
{
	const struct cact_run_context *ctx = user;
	struct cact_event ev = {
		.kind = done ? CACT_EVENT_SANDBOX_DONE : CACT_EVENT_SANDBOX_CALL,
		.step = ctx->step,
		.name = tool,
		.text = text ? text : "",
		.len = text ? strlen(text) : 0,
		.ok = ok,
		.elapsed_us = elapsed_us,
	};

	if (ctx->opts->on_event)
		ctx->opts->on_event(ctx->opts->event_user, &ev);
}

static int exec_invoke(void *data, const char *name, const char *args_json, size_t result_cap,
		       int cancel_fd, char **result_json, struct cact_error *err)
{
	struct exec_tool *t = data;
	struct agent_tool_scope *scope = agent_current_scope();
	struct cc_hooks hooks = {.cancel_fd = -1};
	struct cact_result *res = NULL;
	json_t *args, *code, *wrapped;
	char *text;
	int rc;

	(void)name;
	(void)result_cap;
	(void)cancel_fd;
	*result_json = NULL;
	args = json_loads(args_json, 0, NULL);
	code = json_object_get(args, "code");
	if (!json_is_string(code)) {
		json_decref(args);
		return ut_err(err, CACT_EINVAL, "execute_code takes {\"code\": \"...\"}");
	}
	/*
	 * A borrowed configuration may have gained an always_require tool since
	 * the tool was made (and the model told it needs no approval): ask now.
	 */
	if (!t->owned && t->approval == CACT_APPROVAL_NEVER_REQUIRE &&
	    cact_codeact_approval(t->cc) == CACT_APPROVAL_ALWAYS_REQUIRE &&
	    !(scope && scope->ctx->opts->approve &&
	      scope->ctx->opts->approve(scope->ctx->opts->approve_user, "execute_code",
					args_json))) {
		json_decref(args);
		return ut_err(
			err, CACT_EINVAL,
			"execute_code now needs approval (its configuration changed) and was not "
			"approved");
	}
	if (scope) {
		hooks.approve = scope->ctx->opts->approve;
		hooks.approve_user = scope->ctx->opts->approve_user;
		hooks.observe = observe;
		hooks.observe_user = (void *)scope->ctx;
	}
	rc = cc_execute(t->cc, json_string_value(code), json_string_length(code),
			scope ? &hooks : NULL, &res, err);
	json_decref(args);
	if (rc)
		return rc;
	text = cact_result_model_text(res);
	wrapped = text ? json_string(text) : NULL;
	*result_json = wrapped ? json_dumps(wrapped, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	json_decref(wrapped);
	free(text);
	if (scope) {
		/* The run's progress events show the outcome, files included. */
		scope->result = res;
		scope->owned = res;
	} else {
		cact_result_free(res);
	}
	return *result_json ? 0 : ut_err(err, CACT_ENOMEM, "out of memory");
}

static void exec_release(void *data)
{
	struct exec_tool *t = data;

	if (t->owned)
		cact_codeact_free(t->cc);
	free(t);
}

/*
 * A hand-wired execute_code borrows a configuration that may change: its
 * description is rebuilt on every read, as the reference's is. A run's
 * tool owns a snapshot, which never changes.
 */
static const char *exec_describe(void *data)
{
	struct exec_tool *t = data;

	return t->owned ? NULL : cc_live_description(t->cc);
}

static const struct tool_ops exec_ops = {
	.invoke = exec_invoke, .release = exec_release, .describe = exec_describe};

/* execute_code over cc; with owned, the tool frees cc when it goes. */
static int exec_tool_new(struct cact_codeact *cc, int owned, struct cact_tool **out,
			 struct cact_error *err)
{
	struct exec_tool *t = calloc(1, sizeof(*t));
	char *desc = cact_codeact_description(cc);
	int rc;

	*out = NULL;
	if (!t || !desc) {
		free(t);
		free(desc);
		return ut_err(err, CACT_ENOMEM, "out of memory");
	}
	rc = tool_new("execute_code", desc, cact_codeact_input_schema(), cact_codeact_approval(cc),
		      out, err);
	free(desc);
	if (rc) {
		free(t);
		return rc;
	}
	t->cc = cc;
	t->owned = owned;
	t->approval = cact_tool_approval(*out);
	(*out)->kind = TOOL_CUSTOM;
	(*out)->ops = &exec_ops;
	(*out)->ops_data = t;
	return 0;
}

CACT_API int cact_codeact_tool(struct cact_codeact *cc, struct cact_tool **out,
			       struct cact_error *err)
{
	return exec_tool_new(cc, 0, out, err);
}

struct provider {
	struct cact_codeact *cc;
	int tools_visible;
};

static int before_run(void *user, struct cact_run_context *ctx, struct cact_error *err)
{
	struct provider *p = user;
	struct cact_codeact *snap = NULL;
	struct cact_tool *tool = NULL, **tools = NULL;
	char *text = NULL, *state = NULL;
	size_t n = 0, i;
	int rc;

	if ((rc = cact_codeact_snapshot(p->cc, &snap, err)))
		return rc;
	text = cact_codeact_instructions(snap, p->tools_visible);
	state = cact_codeact_state(snap);
	if (!text || !state) {
		rc = ut_err(err, CACT_ENOMEM, "out of memory");
		goto out;
	}
	if (p->tools_visible && (rc = cact_codeact_tools(snap, &tools, &n)))
		goto out;
	if ((rc = cact_run_context_add_instructions(ctx, text, err)) ||
	    (rc = cact_run_context_set_state(ctx, state, err)))
		goto out;
	/* The tool owns the snapshot from here on. */
	rc = exec_tool_new(snap, 1, &tool, err);
	if (rc)
		goto out;
	snap = NULL;
	if ((rc = cact_run_context_add_tool(ctx, tool, err)))
		goto out;
	/* Offered directly too: the same tools, called by the model itself. */
	for (i = 0; i < n; i++) {
		size_t k;

		for (k = 0; k < ctx->n_tools; k++)
			if (strcmp(cact_tool_name(ctx->tools[k]), cact_tool_name(tools[i])) == 0)
				break;
		if (k == ctx->n_tools && (rc = cact_run_context_add_tool(ctx, tools[i], err)))
			goto out;
	}
out:
	cact_tools_free(tools, n);
	cact_tool_unref(tool);
	cact_codeact_free(snap);
	free(text);
	free(state);
	return rc;
}

static void release(void *user)
{
	free(user);
}

CACT_API int cact_codeact_provider(struct cact_codeact *cc, int tools_visible,
				   struct cact_context_provider *out, struct cact_error *err)
{
	struct provider *p = calloc(1, sizeof(*p));

	memset(out, 0, sizeof(*out));
	if (!cc) {
		free(p);
		return ut_err(err, CACT_EINVAL, "the CodeAct provider needs a configuration");
	}
	if (!p)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	out->name = "codeact";
	p->cc = cc;
	p->tools_visible = !!tools_visible;
	out->before_run = before_run;
	out->release = release;
	out->user = p;
	return 0;
}
