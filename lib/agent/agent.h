/* SPDX-License-Identifier: MIT */
/* The agent layer's internals (include/cact/agent.h is the API). */
#ifndef CACT_AGENT_INTERNAL_H
#define CACT_AGENT_INTERNAL_H

#include <jansson.h>
#include <pthread.h>

#include <cact/agent.h>

struct agent_attachment;

struct cact_session {
	json_t *messages;		   /* array of message objects */
	json_t *state;			   /* object: provider name -> any JSON */
	struct agent_attachment *attached; /* what providers keep for it (agent_attach) */
};

/*
 * What a provider keeps for one conversation and nothing else may see (the
 * CodeAct provider's sandbox session). It is linked into the conversation
 * and into its owner's list, and dropped exactly once, by whichever goes
 * first: cact_session_free, or the owner's agent_drop_owner (its release
 * hook, when the agent is freed). One lock of the agent layer guards the
 * links of every attachment; drop runs without it, and frees a.
 */
struct agent_attachment {
	struct agent_attachment **owner;	  /* the owner's list, and its key */
	struct cact_session *session;		  /* whose it is */
	struct agent_attachment *s_next, *o_next; /* in session->attached, in *owner */
	void (*drop)(struct agent_attachment *a);
};

/* Links a (owned from now on by the two lists) into s and into *owner. */
void agent_attach(struct cact_session *s, struct agent_attachment **owner,
		  struct agent_attachment *a);
/* owner's attachment in s, NULL when none. Borrowed while s is in a run. */
struct agent_attachment *agent_attached(struct cact_session *s, struct agent_attachment **owner);
/* Unlinks a and drops it. */
void agent_detach(struct agent_attachment *a);
/* Unlinks and drops every attachment of an owner (its release hook). */
void agent_drop_owner(struct agent_attachment **owner);

struct cact_agent {
	pthread_mutex_t lock; /* guards everything below */
	struct cact_chat *chat;
	char *instructions;
	struct cact_tool **tools; /* direct tools, one reference each */
	size_t n_tools;
	struct cact_context_provider *providers;
	size_t n_providers;
	unsigned max_steps;
};

/* One run's tools and instructions, built before the first model call. */
struct cact_run_context {
	struct cact_session *session;
	const struct cact_context_provider *current; /* whose hook runs now */
	json_t *instructions;			     /* array of strings */
	struct cact_tool **direct; /* the agent's direct tools at the start of the run */
	size_t n_direct;
	struct cact_tool **tools; /* every tool the model is offered: direct, then added */
	size_t n_tools;
	/*
	 * The caller's options, but for approve and on_event, which go through
	 * say (below): the tool calls of a message run on several threads, and
	 * the caller hears of them one at a time.
	 */
	const struct cact_run_options *opts;
	const struct cact_run_options *caller;
	struct cact_run_options own;
	pthread_mutex_t say; /* one approval question or event at a time */
	const char *final_text;
	unsigned step;
	json_t *notes; /* array of strings for the model, sent in front of the prompt */
	int prompted;  /* the prompt, notes included, is in the session */
};

/*
 * A note the model reads once, at the start of this run (from before_run):
 * it goes in front of the prompt, in the same user message, and stays in
 * the conversation with it. A second user message, or a system message in
 * the middle of the conversation, is refused by chat templates that want
 * roles to alternate or one system message first (many local servers).
 */
int agent_run_context_add_note(struct cact_run_context *ctx, const char *text,
			       struct cact_error *err);

struct cact_run {
	enum cact_stop stop;
	char *text;
	unsigned steps;
	uint64_t prompt_tokens, completion_tokens;
	json_t *messages; /* the run's new messages */
};

/*
 * The run an agent is executing a tool for on this thread, NULL outside a
 * tool call: how the execute_code tool finds the run's approval callback and
 * progress sink, and hands its cact_result to the progress events.
 */
struct agent_tool_scope {
	const struct cact_run_context *ctx;
	const struct cact_result *result; /* set by execute_code, borrowed until the call returns */
	struct cact_result *owned;	  /* freed when the call's events are sent */
};

struct agent_tool_scope *agent_current_scope(void);

/*
 * Whether a tool's calls must run one after another, in the model's order,
 * even within one message: execute_code in a persistent conversation, whose
 * calls share one interpreter (provider.c).
 */
int agent_tool_takes_turns(const struct cact_tool *t);

#endif
