/* SPDX-License-Identifier: MIT */
/*
 * CodeAct in an agent: execute_code as a tool, and the context provider
 * that adds it (with its instructions) to every run from a snapshot of the
 * configuration taken when the run starts. A persistent configuration gets
 * one sandbox session per conversation, kept by the provider in this
 * process only: a saved conversation says that the interpreter was not
 * saved, and the model hears so when it is continued.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../codeact/codeact.h"
#include "../tools/tools.h"
#include "../util/buf.h"
#include "../util/util.h"
#include "agent.h"

/* How a model gets out of an ended session. */
#define RESET_HINT "call execute_code with reset=true to start over"

/* Sent once, in front of the prompt, when a restored conversation lost its interpreter. */
static const char fresh_note[] =
	"[Note: this conversation was restored from a saved session, and the Python "
	"interpreter's state was not saved with it. execute_code starts with a fresh "
	"interpreter: variables, functions, imports and files in /tmp and /output from "
	"earlier calls are gone; run again what you still need.]";

/* A conversation's sandbox session (persistent configurations only). */
struct conv {
	struct agent_attachment link;	  /* in the conversation and in the provider */
	struct cact_sandbox_session *sbx; /* NULL until the first execute_code, or a reset */
	unsigned lost;			  /* runs the saved conversation's interpreter had */
	int note_due;			  /* restored: the model has not yet heard of it */
};

static struct conv *conv_of(struct agent_attachment *a)
{
	return a ? (struct conv *)((char *)a - offsetof(struct conv, link)) : NULL;
}

static void conv_drop(struct agent_attachment *a)
{
	struct conv *c = conv_of(a);

	cact_sandbox_session_close(c->sbx);
	free(c);
}

struct exec_tool {
	struct cact_codeact *cc;
	int owned;		     /* a snapshot the tool frees */
	enum cact_approval approval; /* what the tool said when it was made */
	struct conv *conv;	     /* persistent: the run's conversation (borrowed), else NULL */
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

/* The code's output while it runs: the run hears of it. */
static void on_output(void *user, enum cact_stream stream, const char *data, size_t len)
{
	const struct cact_run_context *ctx = user;
	struct cact_event ev = {
		.kind = CACT_EVENT_OUTPUT,
		.step = ctx->step,
		.name = cact_stream_name(stream),
		.text = data,
		.len = len,
		.ok = 1,
	};

	if (ctx->opts->on_event)
		ctx->opts->on_event(ctx->opts->event_user, &ev);
}

/*
 * Runs code in the conversation's sandbox session, starting one when there
 * is none (the first call, or reset=true: a fresh one from this run's
 * configuration). An ended session stays ended until a reset, and every
 * call says so. When this run ends the session, *ended gets why.
 */
static int session_run(struct exec_tool *t, const char *code, size_t len, int reset,
		       const struct cc_hooks *hooks, struct cact_result **out, char *ended,
		       size_t ended_size, struct cact_error *err)
{
	struct conv *c = t->conv;
	const char *why;
	int rc;

	ended[0] = '\0';
	if (reset && c->sbx) {
		cact_sandbox_session_close(c->sbx);
		c->sbx = NULL;
	}
	if (!c->sbx && (rc = cact_codeact_session_new(t->cc, NULL, &c->sbx, err)))
		return rc;
	if ((why = cact_sandbox_session_ended(c->sbx)))
		return ut_err(err, CACT_ESANDBOX, "session ended: %s; " RESET_HINT, why);
	rc = cc_session_run(t->cc, c->sbx, code, len, hooks, out, err);
	why = cact_sandbox_session_ended(c->sbx);
	if (rc && why)
		return ut_err(err, rc, "session ended: %s; " RESET_HINT, why);
	if (!rc && why)
		ut_snprintf(ended, ended_size, "%s", why);
	return rc;
}

/* What the model reads of a run: the result, and whether the session survived it. Owned. */
static char *model_text(const struct cact_result *res, const char *ended)
{
	char *text = cact_result_model_text(res);
	struct ut_buf b;

	if (!text || !ended[0])
		return text;
	ut_buf_init(&b, (size_t)-1 / 2);
	if (ut_buf_add(&b, text, strlen(text)) ||
	    ut_buf_addf(&b,
			"[Session ended]\n%s: the interpreter and its variables, imports and "
			"files are gone; " RESET_HINT "\n",
			ended)) {
		ut_buf_reset(&b);
		free(text);
		return NULL;
	}
	free(text);
	return ut_buf_steal(&b, NULL);
}

static int exec_invoke(void *data, const char *name, const char *args_json, size_t result_cap,
		       int cancel_fd, char **result_json, struct cact_error *err)
{
	struct exec_tool *t = data;
	struct agent_tool_scope *scope = agent_current_scope();
	struct cc_hooks hooks = {.cancel_fd = -1};
	struct cact_result *res = NULL;
	json_t *args, *code, *wrapped;
	char *text, ended[256];
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
		if (scope->ctx->opts->on_event) {
			hooks.output = on_output;
			hooks.output_user = (void *)scope->ctx;
		}
	}
	ended[0] = '\0';
	if (t->conv)
		rc = session_run(t, json_string_value(code), json_string_length(code),
				 json_is_true(json_object_get(args, "reset")),
				 scope ? &hooks : NULL, &res, ended, sizeof(ended), err);
	else
		rc = cc_execute(t->cc, json_string_value(code), json_string_length(code),
				scope ? &hooks : NULL, &res, err);
	json_decref(args);
	if (rc)
		return rc;
	text = model_text(res, ended);
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

/*
 * execute_code over cc; with owned, the tool frees cc when it goes. With
 * conv, it runs in that conversation's sandbox session and takes reset.
 */
static int exec_tool_new(struct cact_codeact *cc, int owned, struct conv *conv,
			 struct cact_tool **out, struct cact_error *err)
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
	rc = tool_new("execute_code", desc,
		      conv ? cact_codeact_session_input_schema() : cact_codeact_input_schema(),
		      cact_codeact_approval(cc), out, err);
	free(desc);
	if (rc) {
		free(t);
		return rc;
	}
	t->cc = cc;
	t->owned = owned;
	t->conv = conv;
	t->approval = cact_tool_approval(*out);
	(*out)->kind = TOOL_CUSTOM;
	(*out)->ops = &exec_ops;
	(*out)->ops_data = t;
	return 0;
}

int agent_tool_takes_turns(const struct cact_tool *t)
{
	return t->ops == &exec_ops && ((const struct exec_tool *)t->ops_data)->conv != NULL;
}

CACT_API int cact_codeact_tool(struct cact_codeact *cc, struct cact_tool **out,
			       struct cact_error *err)
{
	return exec_tool_new(cc, 0, NULL, out, err);
}

struct provider {
	struct cact_codeact *cc;
	int tools_visible;
	struct agent_attachment *convs; /* every conversation's struct conv */
};

/*
 * Runs the interpreter of a restored conversation had, from its saved state
 * ("sandbox_session": {"persistent": true, "runs": N, "saved": false}): the
 * state the model may still count on, and that is gone. 0 when none.
 */
static unsigned lost_runs(const struct cact_run_context *ctx)
{
	char *text = cact_run_context_state(ctx);
	json_t *st = text ? json_loads(text, 0, NULL) : NULL;
	json_t *ss = json_object_get(st, "sandbox_session");
	json_t *runs = json_object_get(ss, "runs");
	unsigned n = 0;

	if (json_is_object(ss) && !json_is_true(json_object_get(ss, "saved")) &&
	    json_is_integer(runs) && json_integer_value(runs) > 0)
		n = json_integer_value(runs) > 1000000 ? 1000000
						       : (unsigned)json_integer_value(runs);
	json_decref(st);
	free(text);
	return n;
}

/*
 * The conversation's struct conv when the run is persistent, made at its
 * first such run (the sandbox session itself waits for the first
 * execute_code); NULL otherwise, and one left from earlier persistent runs
 * goes with its session. A conversation restored from a save whose
 * interpreter had state gets the note that it starts fresh, until a run
 * has delivered it.
 */
static int conv_for(struct provider *p, struct cact_run_context *ctx, int persistent,
		    struct conv **out, struct cact_error *err)
{
	struct conv *c = conv_of(agent_attached(ctx->session, &p->convs));

	*out = NULL;
	if (!persistent) {
		if (c)
			agent_detach(&c->link);
		return 0;
	}
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return ut_err(err, CACT_ENOMEM, "out of memory");
		c->link.drop = conv_drop;
		c->lost = lost_runs(ctx);
		c->note_due = c->lost > 0;
		agent_attach(ctx->session, &p->convs, &c->link);
	}
	if (c->note_due && agent_run_context_add_note(ctx, fresh_note, err))
		return CACT_ENOMEM;
	*out = c;
	return 0;
}

/*
 * state (cact_codeact_state) with, for a persistent run, what the saved
 * conversation cannot hold: "sandbox_session": {"persistent": true,
 * "runs": runs of its interpreter so far, "saved": false}. Owned.
 */
static char *state_with(const char *state, const struct conv *c)
{
	json_t *st, *ss;
	unsigned runs;
	char *out;

	if (!c)
		return state ? strdup(state) : NULL;
	runs = c->sbx ? cact_sandbox_session_runs(c->sbx) : c->note_due ? c->lost : 0;
	st = state ? json_loads(state, 0, NULL) : NULL;
	ss = json_pack("{s:b, s:I, s:b}", "persistent", 1, "runs", (json_int_t)runs, "saved", 0);
	if (!json_is_object(st) || !ss || json_object_set_new(st, "sandbox_session", ss)) {
		json_decref(st);
		return NULL;
	}
	out = json_dumps(st, JSON_COMPACT);
	json_decref(st);
	return out;
}

static int before_run(void *user, struct cact_run_context *ctx, struct cact_error *err)
{
	struct provider *p = user;
	struct cact_codeact *snap = NULL;
	struct cact_tool *tool = NULL, **tools = NULL;
	struct conv *c = NULL;
	char *text = NULL, *state = NULL, *cfg = NULL;
	size_t n = 0, i;
	int rc;

	if ((rc = cact_codeact_snapshot(p->cc, &snap, err)))
		return rc;
	if ((rc = conv_for(p, ctx, cact_codeact_persistent(snap), &c, err)))
		goto out;
	text = cact_codeact_instructions(snap, p->tools_visible);
	cfg = cact_codeact_state(snap);
	state = cfg ? state_with(cfg, c) : NULL;
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
	rc = exec_tool_new(snap, 1, c, &tool, err);
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
	free(cfg);
	free(state);
	return rc;
}

/* A persistent run's saved state counts the runs its interpreter has had. */
static void after_run(void *user, struct cact_run_context *ctx)
{
	struct provider *p = user;
	struct conv *c = conv_of(agent_attached(ctx->session, &p->convs));
	char *state, *with;

	if (!c)
		return;
	if (ctx->prompted)
		c->note_due = 0;
	state = cact_run_context_state(ctx);
	with = state_with(state, c);
	if (with)
		cact_run_context_set_state(ctx, with, NULL);
	free(with);
	free(state);
}

/* The agent is going: so are the sandbox sessions of its conversations. */
static void release(void *user)
{
	struct provider *p = user;

	agent_drop_owner(&p->convs);
	free(p);
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
	out->after_run = after_run;
	out->release = release;
	out->user = p;
	return 0;
}
