/* SPDX-License-Identifier: MIT */
/* The agent layer's internals (include/cact/agent.h is the API). */
#ifndef CACT_AGENT_INTERNAL_H
#define CACT_AGENT_INTERNAL_H

#include <jansson.h>
#include <pthread.h>

#include <cact/agent.h>

struct cact_session {
	json_t *messages; /* array of message objects */
	json_t *state;	  /* object: provider name -> any JSON */
};

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
	const struct cact_run_options *opts;
	const char *final_text;
	unsigned step;
};

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

#endif
