/* SPDX-License-Identifier: MIT */
/*
 * The agent: instructions, direct tools, context providers, and the
 * function-calling loop. A run copies what it needs from the agent under
 * the lock, then works on its own: concurrent runs share nothing mutable
 * but the chat client, which is thread-safe.
 */
#include <stdlib.h>
#include <string.h>

#include "../tools/tools.h"
#include "../util/buf.h"
#include "../util/util.h"
#include "agent.h"

#define DEFAULT_MAX_STEPS 20
/* What one tool call may hand the model. */
#define TOOL_RESULT_MAX (4u << 20)

static __thread struct agent_tool_scope *scope;

struct agent_tool_scope *agent_current_scope(void)
{
	return scope;
}

CACT_API const char *cact_stop_name(enum cact_stop s)
{
	return s == CACT_STOP_MAX_STEPS ? "max_steps" : "final";
}

CACT_API int cact_agent_new(struct cact_chat *chat, const char *instructions,
			    struct cact_agent **out, struct cact_error *err)
{
	struct cact_agent *a;

	*out = NULL;
	if (!chat)
		return ut_err(err, CACT_EINVAL, "an agent needs a chat client");
	a = calloc(1, sizeof(*a));
	if (!a || (instructions && !(a->instructions = strdup(instructions)))) {
		free(a);
		return ut_err(err, CACT_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&a->lock, NULL);
	a->chat = chat;
	a->max_steps = DEFAULT_MAX_STEPS;
	*out = a;
	return 0;
}

CACT_API void cact_agent_free(struct cact_agent *a)
{
	size_t i;

	if (!a)
		return;
	for (i = 0; i < a->n_tools; i++)
		cact_tool_unref(a->tools[i]);
	free(a->tools);
	for (i = 0; i < a->n_providers; i++) {
		if (a->providers[i].release)
			a->providers[i].release(a->providers[i].user);
		free((char *)a->providers[i].name);
	}
	free(a->providers);
	free(a->instructions);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

CACT_API int cact_agent_add_tool(struct cact_agent *a, struct cact_tool *tool,
				 struct cact_error *err)
{
	struct cact_tool **grown;
	size_t i;

	if (!tool)
		return ut_err(err, CACT_EINVAL, "tool is NULL");
	pthread_mutex_lock(&a->lock);
	for (i = 0; i < a->n_tools; i++) {
		if (strcmp(cact_tool_name(a->tools[i]), cact_tool_name(tool)) == 0) {
			cact_tool_unref(a->tools[i]);
			a->tools[i] = cact_tool_ref(tool);
			pthread_mutex_unlock(&a->lock);
			return 0;
		}
	}
	grown = realloc(a->tools, (a->n_tools + 1) * sizeof(*grown));
	if (grown) {
		a->tools = grown;
		a->tools[a->n_tools++] = cact_tool_ref(tool);
	}
	pthread_mutex_unlock(&a->lock);
	return grown ? 0 : ut_err(err, CACT_ENOMEM, "out of memory");
}

CACT_API int cact_agent_add_provider(struct cact_agent *a, const struct cact_context_provider *p,
				     struct cact_error *err)
{
	struct cact_context_provider *grown;
	char *name;

	if (!p || !p->name || !p->name[0])
		return ut_err(err, CACT_EINVAL, "a context provider needs a name");
	if (!p->before_run && !p->after_run)
		return ut_err(err, CACT_EINVAL, "context provider %s has no hooks", p->name);
	name = strdup(p->name);
	if (!name)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	pthread_mutex_lock(&a->lock);
	grown = realloc(a->providers, (a->n_providers + 1) * sizeof(*grown));
	if (grown) {
		a->providers = grown;
		a->providers[a->n_providers] = *p;
		a->providers[a->n_providers++].name = name;
	}
	pthread_mutex_unlock(&a->lock);
	if (!grown) {
		free(name);
		return ut_err(err, CACT_ENOMEM, "out of memory");
	}
	return 0;
}

CACT_API void cact_agent_set_max_steps(struct cact_agent *a, unsigned n)
{
	pthread_mutex_lock(&a->lock);
	a->max_steps = n ? n : DEFAULT_MAX_STEPS;
	pthread_mutex_unlock(&a->lock);
}

/* ---- the run context, for providers ---- */

CACT_API int cact_run_context_add_instructions(struct cact_run_context *ctx, const char *text,
					       struct cact_error *err)
{
	if (!text)
		return ut_err(err, CACT_EINVAL, "instructions are NULL");
	if (json_array_append_new(ctx->instructions, json_string(text)))
		return ut_err(err, CACT_EINVAL, "instructions are not valid UTF-8");
	return 0;
}

static struct cact_tool *find_tool(struct cact_tool *const *tools, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(cact_tool_name(tools[i]), name) == 0)
			return tools[i];
	return NULL;
}

CACT_API int cact_run_context_add_tool(struct cact_run_context *ctx, struct cact_tool *tool,
				       struct cact_error *err)
{
	struct cact_tool **grown;

	if (!tool)
		return ut_err(err, CACT_EINVAL, "tool is NULL");
	if (find_tool(ctx->tools, ctx->n_tools, cact_tool_name(tool)))
		return ut_err(err, CACT_EINVAL, "this run already has a tool named '%s'",
			      cact_tool_name(tool));
	grown = realloc(ctx->tools, (ctx->n_tools + 1) * sizeof(*grown));
	if (!grown)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	ctx->tools = grown;
	ctx->tools[ctx->n_tools++] = cact_tool_ref(tool);
	return 0;
}

CACT_API size_t cact_run_context_direct_tool_count(const struct cact_run_context *ctx)
{
	return ctx->n_direct;
}

CACT_API struct cact_tool *cact_run_context_direct_tool(const struct cact_run_context *ctx,
							size_t i)
{
	return i < ctx->n_direct ? ctx->direct[i] : NULL;
}

CACT_API char *cact_run_context_state(const struct cact_run_context *ctx)
{
	return ctx->current ? cact_session_state_json(ctx->session, ctx->current->name) : NULL;
}

CACT_API int cact_run_context_set_state(struct cact_run_context *ctx, const char *state_json,
					struct cact_error *err)
{
	json_error_t jerr;
	json_t *v;

	if (!ctx->current)
		return ut_err(err, CACT_EINVAL, "state can only be set from a provider's hook");
	v = json_loads(state_json ? state_json : "", JSON_DECODE_ANY, &jerr);
	if (!v)
		return ut_err(err, CACT_EINVAL, "provider %s: state is not JSON: %s",
			      ctx->current->name, jerr.text);
	if (json_object_set_new(ctx->session->state, ctx->current->name, v))
		return ut_err(err, CACT_ENOMEM, "out of memory");
	return 0;
}

CACT_API const char *cact_run_context_final_text(const struct cact_run_context *ctx)
{
	return ctx->final_text;
}

int agent_run_context_add_note(struct cact_run_context *ctx, const char *text,
			       struct cact_error *err)
{
	if (!text)
		return ut_err(err, CACT_EINVAL, "a note is NULL");
	if (json_array_append_new(ctx->notes, json_string(text)))
		return ut_err(err, CACT_EINVAL, "a note is not valid UTF-8");
	return 0;
}

/* ---- the run ---- */

/* The caller's approval callback, one question at a time. */
static int say_approve(void *user, const char *name, const char *args_json)
{
	struct cact_run_context *ctx = user;
	int yes;

	pthread_mutex_lock(&ctx->say);
	yes = ctx->caller->approve(ctx->caller->approve_user, name, args_json);
	pthread_mutex_unlock(&ctx->say);
	return yes;
}

/* The caller's event callback, one event at a time, none while a question is open. */
static void say_event(void *user, const struct cact_event *ev)
{
	struct cact_run_context *ctx = user;

	pthread_mutex_lock(&ctx->say);
	ctx->caller->on_event(ctx->caller->event_user, ev);
	pthread_mutex_unlock(&ctx->say);
}

/* ctx->opts: the caller's options, approval and events through say. */
static void say_init(struct cact_run_context *ctx)
{
	ctx->own = *ctx->caller;
	ctx->own.approve = ctx->caller->approve ? say_approve : NULL;
	ctx->own.approve_user = ctx;
	ctx->own.on_event = ctx->caller->on_event ? say_event : NULL;
	ctx->own.event_user = ctx;
	ctx->opts = &ctx->own;
	pthread_mutex_init(&ctx->say, NULL);
}

static void emit(const struct cact_run_context *ctx, struct cact_event *ev)
{
	if (ctx->opts->on_event) {
		ev->step = ctx->step;
		ctx->opts->on_event(ctx->opts->event_user, ev);
	}
}

static void on_delta(void *user, const char *text, size_t len)
{
	struct cact_event ev = {.kind = CACT_EVENT_TEXT, .text = text, .len = len};

	emit(user, &ev);
}

/* The tools as the Chat Completions API lists them. */
static json_t *tools_json(struct cact_tool *const *tools, size_t n)
{
	json_t *list = json_array();
	size_t i;

	for (i = 0; list && i < n; i++) {
		json_t *params = json_loads(cact_tool_parameters(tools[i]), 0, NULL);
		json_t *fn = json_pack(
			"{s:s, s:s, s:o}", "name", cact_tool_name(tools[i]), "description",
			cact_tool_description(tools[i]) ? cact_tool_description(tools[i]) : "",
			"parameters", params ? params : json_object());

		if (json_array_append_new(
			    list, json_pack("{s:s, s:o}", "type", "function", "function", fn))) {
			json_decref(list);
			return NULL;
		}
	}
	return list;
}

static void list_names(struct cact_tool *const *tools, size_t n, struct ut_buf *b)
{
	size_t i;

	for (i = 0; i < n; i++)
		ut_buf_addf(b, "%s%s", i ? ", " : "", cact_tool_name(tools[i]));
	if (n == 0)
		ut_buf_addf(b, "none");
}

/* One tool call of a model message, from the model's request to what the model is told. */
struct call {
	const char *id, *name, *args_text; /* borrowed from the model's answer */
	unsigned index;			   /* its place in the message, from 1 */
	struct cact_tool *tool;		   /* borrowed from the run; NULL until found */
	json_t *args;
	char *compact; /* the arguments, validated */
	unsigned turn; /* takes turns: its rank among those that do, from 1; 0: runs freely */
	char *text;    /* what the model is told (owned); set: nothing (more) to run */
	int ok;
	uint64_t t0;
};

/* The calls of one message at once, and the order of those that take turns. */
struct batch {
	struct cact_run_context *ctx;
	struct call *calls;
	size_t n, next;	     /* the next call to take, in the model's order */
	unsigned turns_done; /* calls that take turns, finished */
	pthread_mutex_t lock;
	pthread_cond_t turn;
};

static void call_event(const struct cact_run_context *ctx, const struct call *c, size_t n,
		       const struct cact_result *res)
{
	struct cact_event ev = {.kind = CACT_EVENT_TOOL_RESULT,
				.name = c->name,
				.text = c->text ? c->text : "",
				.len = c->text ? strlen(c->text) : 0,
				.ok = c->ok,
				.result = res,
				.elapsed_us = ut_now_us() - c->t0,
				.call = c->index,
				.calls = (unsigned)n};

	emit(ctx, &ev);
}

/*
 * Before anything of the message runs, in the model's order, on the run's
 * thread: tell of the call, find the tool, check the arguments and ask for
 * approval. A call that goes no further gets its answer (and its result
 * event) here; so the questions come one by one, in order, with nothing
 * running beside them.
 */
static void call_prepare(struct cact_run_context *ctx, struct call *c, size_t n)
{
	struct cact_event ev = {.kind = CACT_EVENT_TOOL_CALL,
				.name = c->name,
				.text = c->args_text,
				.len = strlen(c->args_text),
				.call = c->index,
				.calls = (unsigned)n};
	struct cact_error err = {0};
	struct ut_buf b;
	json_error_t jerr;

	c->t0 = ut_now_us();
	emit(ctx, &ev);
	c->tool = find_tool(ctx->tools, ctx->n_tools, c->name);
	ut_buf_init(&b, 64u << 10);
	if (!c->tool) {
		ut_buf_addf(&b, "Error: there is no tool named '%s'. Available tools: ", c->name);
		list_names(ctx->tools, ctx->n_tools, &b);
		goto refused;
	}
	c->args = json_loads(c->args_text[0] ? c->args_text : "{}", JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(c->args)) {
		ut_buf_addf(&b, "Error: the arguments of '%s' are not a JSON object%s%s", c->name,
			    c->args ? "" : ": ", c->args ? "" : jerr.text);
		goto refused;
	}
	c->compact = json_dumps(c->args, JSON_COMPACT);
	if (!c->compact) {
		ut_buf_addf(&b, "Error: out of memory");
		goto refused;
	}
	if (cact_tool_validate(c->tool, c->compact, &err)) {
		ut_buf_addf(&b, "Error: the arguments do not match the parameters of '%s': %s",
			    c->name, err.message);
		goto refused;
	}
	if (cact_tool_approval(c->tool) == CACT_APPROVAL_ALWAYS_REQUIRE &&
	    !(ctx->opts->approve &&
	      ctx->opts->approve(ctx->opts->approve_user, c->name, c->compact))) {
		ut_buf_addf(&b,
			    "Denied: the user did not approve this call of '%s'. Do not retry it "
			    "unless the user asks.",
			    c->name);
		goto refused;
	}
	ut_buf_reset(&b);
	return;
refused:
	c->text = ut_buf_steal(&b, NULL);
	if (!c->text)
		c->text = strdup("Error: out of memory");
	call_event(ctx, c, n, NULL);
}

/* Runs a prepared call, on whichever thread took it. */
static void call_run(struct cact_run_context *ctx, struct call *c, size_t n)
{
	struct agent_tool_scope here = {.ctx = ctx}, *outer = scope;
	struct cact_error err = {0};
	char *value = NULL, *detail = NULL;
	struct ut_buf b;

	ut_buf_init(&b, TOOL_RESULT_MAX + 1024);
	scope = &here;
	if (tool_invoke(c->tool, c->compact, TOOL_RESULT_MAX, -1, &value, &detail, &err) == 0) {
		json_t *v = json_loads(value, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

		/* A string result is the text itself; anything else is shown as JSON. */
		if (json_is_string(v))
			ut_buf_add_trunc(&b, json_string_value(v), json_string_length(v));
		else
			ut_buf_add_trunc(&b, value, strlen(value));
		json_decref(v);
		c->ok = !here.result || cact_result_status(here.result) == CACT_STATUS_OK;
	} else {
		ut_buf_addf(&b, "Error: tool '%s' failed: %s", c->name,
			    detail ? detail : err.message);
	}
	scope = outer;
	c->text = ut_buf_steal(&b, NULL);
	call_event(ctx, c, n, here.result);
	cact_result_free(here.owned);
	free(value);
	free(detail);
}

/* Takes the message's calls in order and runs them, until none is left. */
static void *batch_work(void *arg)
{
	struct batch *bt = arg;

	for (;;) {
		struct call *c;

		pthread_mutex_lock(&bt->lock);
		while (bt->next < bt->n && bt->calls[bt->next].text)
			bt->next++;
		if (bt->next == bt->n) {
			pthread_mutex_unlock(&bt->lock);
			return NULL;
		}
		c = &bt->calls[bt->next++];
		/*
		 * Calls are taken in order, so every earlier one that takes turns is
		 * running or waiting for one still earlier: the first never waits.
		 */
		while (c->turn && bt->turns_done + 1 < c->turn)
			pthread_cond_wait(&bt->turn, &bt->lock);
		pthread_mutex_unlock(&bt->lock);
		call_run(bt->ctx, c, bt->n);
		if (c->turn) {
			pthread_mutex_lock(&bt->lock);
			bt->turns_done++;
			pthread_cond_broadcast(&bt->turn);
			pthread_mutex_unlock(&bt->lock);
		}
	}
}

/*
 * The calls of one message: prepared one by one in order, then run at once
 * on up to max_parallel threads (this one included). Every call ends with
 * its text set, an error's when memory ran out.
 */
static void run_calls(struct cact_run_context *ctx, struct call *calls, size_t n)
{
	struct batch bt = {.ctx = ctx, .calls = calls, .n = n};
	unsigned limit = ctx->caller->max_parallel, turns = 0;
	pthread_t th[CACT_RUN_PARALLEL_MAX];
	size_t i, runnable = 0, started = 0;

	if (limit == 0)
		limit = CACT_RUN_PARALLEL_DEFAULT;
	if (limit > CACT_RUN_PARALLEL_MAX)
		limit = CACT_RUN_PARALLEL_MAX;
	for (i = 0; i < n; i++) {
		call_prepare(ctx, &calls[i], n);
		if (calls[i].text)
			continue;
		runnable++;
		if (agent_tool_takes_turns(calls[i].tool))
			calls[i].turn = ++turns;
	}
	pthread_mutex_init(&bt.lock, NULL);
	pthread_cond_init(&bt.turn, NULL);
	/* Threads beyond this one; a thread that cannot start leaves its share to the others. */
	while (started + 1 < limit && started + 1 < runnable &&
	       pthread_create(&th[started], NULL, batch_work, &bt) == 0)
		started++;
	batch_work(&bt);
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_cond_destroy(&bt.turn);
	pthread_mutex_destroy(&bt.lock);
}

/* Appends m to the session and to the run's own list. */
static int remember(struct cact_run_context *ctx, struct cact_run *run, json_t *m)
{
	if (!m || json_array_append(ctx->session->messages, m) ||
	    json_array_append(run->messages, m)) {
		json_decref(m);
		return -1;
	}
	json_decref(m);
	return 0;
}

/* The request's messages: the instructions as one system message, then the session's. */
static json_t *request_messages(const struct cact_run_context *ctx)
{
	json_t *msgs = json_array(), *item;
	struct ut_buf b;
	size_t i;

	if (!msgs)
		return NULL;
	ut_buf_init(&b, 16u << 20);
	json_array_foreach(ctx->instructions, i, item)
		ut_buf_addf(&b, "%s%s", b.len ? "\n\n" : "", json_string_value(item));
	if (b.len && json_array_append_new(msgs, json_pack("{s:s, s:s%}", "role", "system",
							   "content", b.p, b.len))) {
		ut_buf_reset(&b);
		json_decref(msgs);
		return NULL;
	}
	ut_buf_reset(&b);
	json_array_extend(msgs, ctx->session->messages);
	return msgs;
}

/* One model call and the tool calls it asks for. 1: a final answer, 0: go on, <0: error. */
static int step(struct cact_run_context *ctx, struct cact_chat *chat, json_t *tools,
		struct cact_run *run, struct cact_error *err)
{
	struct cact_event ev = {.kind = CACT_EVENT_STEP};
	json_t *msgs = request_messages(ctx), *resp = NULL, *msg, *calls, *usage, *call, *kept;
	char *mtext = msgs ? json_dumps(msgs, JSON_COMPACT) : NULL, *ttext = NULL, *out = NULL;
	struct call *batch;
	const char *content;
	uint64_t t0 = ut_now_us();
	size_t i;
	int rc;

	json_decref(msgs);
	if (!mtext)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	if (json_array_size(tools) && !(ttext = json_dumps(tools, JSON_COMPACT))) {
		free(mtext);
		return ut_err(err, CACT_ENOMEM, "out of memory");
	}
	emit(ctx, &ev);
	rc = cact_chat_complete(chat, mtext, ttext, on_delta, ctx, &out, err);
	free(mtext);
	free(ttext);
	if (rc)
		return rc;
	resp = json_loads(out, 0, NULL);
	free(out);
	msg = json_object_get(resp, "message");
	if (!json_is_object(msg)) {
		json_decref(resp);
		return ut_err(err, CACT_EPROTO, "the model's answer has no message");
	}
	usage = json_object_get(resp, "usage");
	ev = (struct cact_event){.kind = CACT_EVENT_MODEL,
				 .prompt_tokens = (uint64_t)json_integer_value(
					 json_object_get(usage, "prompt_tokens")),
				 .completion_tokens = (uint64_t)json_integer_value(
					 json_object_get(usage, "completion_tokens")),
				 .elapsed_us = ut_now_us() - t0};
	run->prompt_tokens += ev.prompt_tokens;
	run->completion_tokens += ev.completion_tokens;
	emit(ctx, &ev);
	content = json_string_value(json_object_get(msg, "content"));
	calls = json_object_get(msg, "tool_calls");
	if (content) {
		free(run->text);
		run->text = strdup(content);
	}
	/* The assistant message as it goes back to the model later. */
	kept = json_pack("{s:s, s:s?}", "role", "assistant", "content", content);
	if (kept && json_array_size(calls))
		json_object_set(kept, "tool_calls", calls);
	if (kept && !content)
		json_object_set_new(kept, "content", json_null());
	if (remember(ctx, run, kept)) {
		json_decref(resp);
		return ut_err(err, CACT_ENOMEM, "out of memory");
	}
	if (!json_array_size(calls)) {
		free(run->text);
		run->text = strdup(content ? content : "");
		json_decref(resp);
		return 1;
	}
	batch = calloc(json_array_size(calls), sizeof(*batch));
	if (!batch) {
		json_decref(resp);
		return ut_err(err, CACT_ENOMEM, "out of memory");
	}
	json_array_foreach(calls, i, call) {
		json_t *fn = json_object_get(call, "function");
		const char *name = json_string_value(json_object_get(fn, "name"));
		const char *args = json_string_value(json_object_get(fn, "arguments"));

		batch[i].id = json_string_value(json_object_get(call, "id"));
		batch[i].name = name ? name : "";
		batch[i].args_text = args ? args : "";
		batch[i].index = (unsigned)i + 1;
	}
	run_calls(ctx, batch, json_array_size(calls));
	/* Every call is answered, in the model's order, so the conversation stays valid. */
	for (i = 0; i < json_array_size(calls); i++) {
		if (rc == 0 &&
		    (!batch[i].text ||
		     remember(ctx, run,
			      json_pack("{s:s, s:s, s:s}", "role", "tool", "tool_call_id",
					batch[i].id ? batch[i].id : "", "content", batch[i].text))))
			rc = ut_err(err, CACT_ENOMEM, "out of memory");
		free(batch[i].text);
		free(batch[i].compact);
		json_decref(batch[i].args);
	}
	free(batch);
	json_decref(resp);
	return rc;
}

/* The prompt as a user message, after the providers' notes (agent_run_context_add_note). */
static json_t *prompt_message(const struct cact_run_context *ctx, const char *prompt)
{
	json_t *item, *m = NULL;
	struct ut_buf b;
	size_t i;
	int rc = 0;

	if (!json_array_size(ctx->notes))
		return json_pack("{s:s, s:s}", "role", "user", "content", prompt);
	/* The caller's prompt, whatever its size: no cap beyond the memory's. */
	ut_buf_init(&b, (size_t)-1 / 2);
	json_array_foreach(ctx->notes, i, item) {
		if (!rc)
			rc = ut_buf_addf(&b, "%s\n\n", json_string_value(item));
	}
	if (!rc && !(rc = ut_buf_add(&b, prompt, strlen(prompt))))
		m = json_pack("{s:s, s:s%}", "role", "user", "content", b.p, b.len);
	ut_buf_reset(&b);
	return m;
}

static void context_clear(struct cact_run_context *ctx)
{
	size_t i;

	for (i = 0; i < ctx->n_direct; i++)
		cact_tool_unref(ctx->direct[i]);
	free(ctx->direct);
	for (i = 0; i < ctx->n_tools; i++)
		cact_tool_unref(ctx->tools[i]);
	free(ctx->tools);
	json_decref(ctx->instructions);
	json_decref(ctx->notes);
}

/* Copies what the run needs from the agent (lock held). */
static int context_from(struct cact_run_context *ctx, const struct cact_agent *a)
{
	size_t i;

	ctx->instructions = json_array();
	ctx->notes = json_array();
	ctx->direct = calloc(a->n_tools + 1, sizeof(*ctx->direct));
	ctx->tools = calloc(a->n_tools + 1, sizeof(*ctx->tools));
	if (!ctx->instructions || !ctx->notes || !ctx->direct || !ctx->tools)
		return -1;
	if (a->instructions && a->instructions[0] &&
	    json_array_append_new(ctx->instructions, json_string(a->instructions)))
		return -1;
	for (i = 0; i < a->n_tools; i++) {
		ctx->direct[ctx->n_direct++] = cact_tool_ref(a->tools[i]);
		ctx->tools[ctx->n_tools++] = cact_tool_ref(a->tools[i]);
	}
	return 0;
}

CACT_API int cact_agent_run(struct cact_agent *a, struct cact_session *session, const char *prompt,
			    const struct cact_run_options *opts, struct cact_run **out,
			    struct cact_error *err)
{
	static const struct cact_run_options none;
	struct cact_run_context ctx = {.session = session, .caller = opts ? opts : &none};
	struct cact_context_provider *providers = NULL;
	size_t n_providers = 0, started = 0, i;
	struct cact_chat *chat;
	struct cact_run *run;
	json_t *tools = NULL;
	unsigned max_steps;
	int rc = 0, done = 0;

	*out = NULL;
	if (!session || !prompt)
		return ut_err(err, CACT_EINVAL, "a run needs a session and a prompt");
	run = calloc(1, sizeof(*run));
	if (!run || !(run->messages = json_array())) {
		free(run);
		return ut_err(err, CACT_ENOMEM, "out of memory");
	}
	say_init(&ctx);
	pthread_mutex_lock(&a->lock);
	chat = a->chat;
	max_steps = ctx.opts->max_steps ? ctx.opts->max_steps : a->max_steps;
	if (context_from(&ctx, a) == 0 && a->n_providers &&
	    (providers = calloc(a->n_providers, sizeof(*providers)))) {
		memcpy(providers, a->providers, a->n_providers * sizeof(*providers));
		n_providers = a->n_providers;
	}
	pthread_mutex_unlock(&a->lock);
	if (!ctx.instructions || !ctx.notes || !ctx.tools || (a->n_providers && !providers)) {
		rc = ut_err(err, CACT_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n_providers; i++) {
		ctx.current = &providers[i];
		if (providers[i].before_run &&
		    (rc = providers[i].before_run(providers[i].user, &ctx, err)))
			goto out;
		started++;
	}
	ctx.current = NULL;
	tools = tools_json(ctx.tools, ctx.n_tools);
	if (!tools || remember(&ctx, run, prompt_message(&ctx, prompt))) {
		rc = ut_err(err, CACT_EINVAL, "the prompt is not valid UTF-8, or out of memory");
		goto out;
	}
	ctx.prompted = 1;
	run->stop = CACT_STOP_MAX_STEPS;
	while (!done && run->steps < max_steps) {
		ctx.step = ++run->steps;
		rc = step(&ctx, chat, tools, run, err);
		if (rc < 0)
			goto out;
		if (rc == 1) {
			run->stop = CACT_STOP_FINAL;
			done = 1;
		}
		rc = 0;
	}
	if (run->stop == CACT_STOP_MAX_STEPS && run->text == NULL)
		run->text = strdup("");
	ctx.final_text = run->stop == CACT_STOP_FINAL ? run->text : NULL;
out:
	for (i = 0; i < started; i++) {
		ctx.current = &providers[i];
		if (providers[i].after_run)
			providers[i].after_run(providers[i].user, &ctx);
	}
	json_decref(tools);
	context_clear(&ctx);
	pthread_mutex_destroy(&ctx.say);
	free(providers);
	if (rc) {
		cact_run_free(run);
		return rc;
	}
	if (!run->text)
		run->text = strdup("");
	*out = run;
	return 0;
}

CACT_API enum cact_stop cact_run_stop(const struct cact_run *r)
{
	return r->stop;
}

CACT_API const char *cact_run_text(const struct cact_run *r)
{
	return r->text ? r->text : "";
}

CACT_API unsigned cact_run_steps(const struct cact_run *r)
{
	return r->steps;
}

CACT_API void cact_run_usage(const struct cact_run *r, uint64_t *prompt_tokens,
			     uint64_t *completion_tokens)
{
	if (prompt_tokens)
		*prompt_tokens = r->prompt_tokens;
	if (completion_tokens)
		*completion_tokens = r->completion_tokens;
}

CACT_API char *cact_run_to_json(const struct cact_run *r)
{
	json_t *root =
		json_pack("{s:s, s:s, s:i, s:{s:I, s:I}, s:O}", "stop", cact_stop_name(r->stop),
			  "text", cact_run_text(r), "steps", (int)r->steps, "usage",
			  "prompt_tokens", (json_int_t)r->prompt_tokens, "completion_tokens",
			  (json_int_t)r->completion_tokens, "messages", r->messages);
	char *out = root ? json_dumps(root, JSON_COMPACT) : NULL;

	json_decref(root);
	return out;
}

CACT_API void cact_run_free(struct cact_run *r)
{
	if (!r)
		return;
	free(r->text);
	json_decref(r->messages);
	free(r);
}
