/* SPDX-License-Identifier: MIT */
#ifndef CACT_AGENT_H
#define CACT_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include <cact/codeact.h>
#include <cact/error.h>
#include <cact/result.h>
#include <cact/tools.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A small agent runtime around execute_code: a Chat Completions client for
 * any OpenAI-compatible server, an agent with direct tools and context
 * providers, a function-calling loop with approval, and sessions that
 * serialize to JSON. Messages and tools cross this API as JSON text in the
 * Chat Completions format.
 */

/* ---- chat client ---- */

struct cact_chat;

/*
 * A request that failed and is about to be sent again (429, 5xx or a
 * connection failure), as cact_chat_options.on_retry sees it.
 */
struct cact_chat_retry {
	unsigned attempt;      /* the attempt that failed, from 1 */
	unsigned max_attempts; /* 1 + max_retries */
	long status;	       /* its HTTP status, 0 for a connection failure */
	uint64_t wait_ms;      /* the pause before the next attempt (Retry-After or backoff) */
	const char *detail;    /* why: the server's message or the transport's; never the key */
};

/*
 * Called before each pause between attempts, on the thread that called
 * cact_chat_complete (one client may serve many threads: the callback must
 * be thread-safe then). r and its strings are borrowed for the call only.
 */
typedef void (*cact_chat_retry_fn)(void *user, const struct cact_chat_retry *r);

struct cact_chat_options {
	const char *base_url; /* "https://api.openai.com/v1"; "/chat/completions" is appended */
	const char *model;
	const char *api_key_env;    /* name of the environment variable with the key; NULL: none */
	const char *const *headers; /* extra "Name: value" lines, n_headers of them */
	size_t n_headers;
	int stream;		     /* ask for server-sent events */
	uint64_t timeout_ms;	     /* one attempt, whole response; default 300000 */
	uint64_t connect_timeout_ms; /* default 10000 */
	unsigned max_retries;	     /* after 429, 5xx, connection errors; default 3 */
	uint64_t max_response_bytes; /* default 16 MiB */
	const char *ca_file;	     /* PEM; NULL: the system's */
	const char *extra_json; /* object merged into each request body ({"temperature":0}); NULL */
	cact_chat_retry_fn on_retry; /* told of each retry as it happens; NULL: none */
	void *retry_user;	     /* passed to on_retry */
};

/* Fills o with the defaults (everything NULL or zero but the numbers above). */
CACT_API void cact_chat_options_init(struct cact_chat_options *o);

/*
 * Creates a client. The strings are copied; the API key is read from the
 * environment now and never appears in messages, logs or errors.
 * CACT_EINVAL names a missing or bad option (no base_url or model, a
 * variable that is not set, a header without a colon or with CR/LF).
 */
CACT_API int cact_chat_new(const struct cact_chat_options *o, struct cact_chat **out,
			   struct cact_error *err);
CACT_API void cact_chat_free(struct cact_chat *c);

/* Text as it streams in (only with stream on); called on the calling thread. */
typedef void (*cact_chat_delta_fn)(void *user, const char *text, size_t len);

/*
 * One completion. messages_json: an array of messages; tools_json: an array
 * of {"type":"function","function":{name, description, parameters}} or
 * NULL. On success *out_json (owned, cact_free) is {"message": the assistant
 * message (role, content (string or null), tool_calls (when any)),
 * "finish_reason": string or null, "usage": {prompt_tokens,
 * completion_tokens, total_tokens} or null}; a streamed response is
 * reassembled into the same shape. Retries 429, 5xx and connection errors
 * with exponential backoff, honouring Retry-After, telling on_retry (when
 * set) before each pause. Errors: CACT_EPROTO for a malformed response
 * (JSON or SSE), CACT_ETOOBIG over max_response_bytes, CACT_ESYS for
 * transport failures ("model server unreachable: ...") and bad statuses,
 * with the status and the server's error message ("model server answered
 * 401: ..."; a 401 or 403 is not retried). Thread-safe: one client may
 * serve many threads.
 */
CACT_API int cact_chat_complete(struct cact_chat *c, const char *messages_json,
				const char *tools_json, cact_chat_delta_fn on_delta, void *user,
				char **out_json, struct cact_error *err);

/* ---- sessions ---- */

/*
 * A conversation: the messages so far (without the instructions, which are
 * rebuilt each run) and each context provider's state by provider name.
 * Serializes to {"version":1,"messages":[...],"state":{name: value}}.
 * What a provider keeps for the conversation in this process only (the
 * persistent CodeAct provider's sandbox session) is not serialized, and
 * ends with cact_session_free or the agent's cact_agent_free, whichever
 * comes first.
 */
struct cact_session;

CACT_API int cact_session_new(struct cact_session **out);
/* CACT_EINVAL naming what is wrong with the JSON. */
CACT_API int cact_session_load(const char *json, struct cact_session **out, struct cact_error *err);
/* Owned (cact_free); NULL when out of memory. */
CACT_API char *cact_session_to_json(const struct cact_session *s);
CACT_API void cact_session_free(struct cact_session *s);
/* The messages as a JSON array, owned. */
CACT_API char *cact_session_messages_json(const struct cact_session *s);
/* A provider's state as JSON, owned; NULL when it has none. */
CACT_API char *cact_session_state_json(const struct cact_session *s, const char *provider);

/* ---- context providers ---- */

/* What one run is made of; handed to the providers' hooks. */
struct cact_run_context;

struct cact_context_provider {
	const char *name; /* key of its state in the session */
	/*
	 * Before the model is first called: may add instructions and tools for
	 * this run only, and may read the agent's direct tools and its own state.
	 * A non-zero return stops the run with err.
	 */
	int (*before_run)(void *user, struct cact_run_context *ctx, struct cact_error *err);
	/* After the run, whatever its outcome: may record state. May be NULL. */
	void (*after_run)(void *user, struct cact_run_context *ctx);
	/* Called when the agent is freed. May be NULL. */
	void (*release)(void *user);
	void *user;
};

CACT_API int cact_run_context_add_instructions(struct cact_run_context *ctx, const char *text,
					       struct cact_error *err);
/* Takes its own reference. A name already used by a tool of the run is refused. */
CACT_API int cact_run_context_add_tool(struct cact_run_context *ctx, struct cact_tool *tool,
				       struct cact_error *err);
CACT_API size_t cact_run_context_direct_tool_count(const struct cact_run_context *ctx);
CACT_API struct cact_tool *cact_run_context_direct_tool(const struct cact_run_context *ctx,
							size_t i);
/* The calling provider's state in the session (owned JSON), NULL when none. */
CACT_API char *cact_run_context_state(const struct cact_run_context *ctx);
/* Records the calling provider's state (JSON text) in the session. */
CACT_API int cact_run_context_set_state(struct cact_run_context *ctx, const char *state_json,
					struct cact_error *err);
/* In after_run: the final answer (NULL when the run did not reach one). */
CACT_API const char *cact_run_context_final_text(const struct cact_run_context *ctx);

/*
 * The CodeAct context provider over cc (borrowed; it must outlive the
 * agent): the provider owns the tools registered in cc, separate from the
 * agent's direct tools. Each run it adds cc's instructions and a run-scoped
 * execute_code built from a snapshot of cc taken at the start of the run,
 * and records cc's state in the session under "codeact". With
 * tools_visible, cc's tools are also offered to the model directly (and the
 * instructions say so). *out is then given to cact_agent_add_provider,
 * which takes over its release.
 *
 * When cc is persistent at the start of a run (cact_codeact_set_persistent,
 * or the configuration file's "sessions"), each conversation gets one
 * sandbox session on cc's runtime, started at its first execute_code with
 * that run's configuration and kept for its later runs: execute_code takes
 * cact_codeact_session_input_schema (code, and reset to start over with a
 * fresh interpreter), and a call after the session ended (a timeout, a
 * crash, a limit) is answered with why and how to reset. The session ends
 * with the conversation (cact_session_free) or the agent (cact_agent_free),
 * whichever goes first; the runtime must outlive it. The "codeact" state
 * then holds "sandbox_session": {"persistent": true, "runs": N, "saved":
 * false}: the interpreter, N runs in, is not saved with the conversation.
 * A conversation loaded from such a save, with N above 0, starts with a
 * fresh interpreter, and its next prompt reaches the model after a note
 * that says so (in the same user message, kept in the conversation).
 */
CACT_API int cact_codeact_provider(struct cact_codeact *cc, int tools_visible,
				   struct cact_context_provider *out, struct cact_error *err);

/*
 * execute_code as a tool over cc (borrowed: cc must outlive the tool): the
 * name "execute_code" and cc's input schema. Its description follows cc:
 * cact_tool_description rebuilds it from cc's current configuration on
 * every read (as the reference's description property does), so a model
 * offered the tool after cc changed reads the tools, files and network it
 * will get; each pointer it returns stays valid while the tool does (cc
 * keeps every text it handed out until cact_codeact_free). Its approval
 * (cact_tool_approval) is cc's derived mode when the tool was made; should
 * cc come to need approval later, the call asks the run's approval
 * callback before running. The tool runs code on cc as it is when called.
 * Its result is the text cact_result_model_text gives; in an agent run, the
 * run's approval callback serves cc's per-call approval when cc has none of
 * its own, and the run's events show the code's tool calls and the result.
 * *out is a new reference (cact_tool_unref). Returns 0 or CACT_ENOMEM.
 */
CACT_API int cact_codeact_tool(struct cact_codeact *cc, struct cact_tool **out,
			       struct cact_error *err);

/* ---- agents ---- */

struct cact_agent;

/*
 * An agent over a chat client (borrowed: it must outlive the agent) with
 * instructions (may be NULL). Thread-safe: runs may happen at once, and
 * changes apply to runs started later.
 */
CACT_API int cact_agent_new(struct cact_chat *chat, const char *instructions,
			    struct cact_agent **out, struct cact_error *err);
CACT_API void cact_agent_free(struct cact_agent *a);
/* A tool the model calls itself, outside the sandbox. Same name replaces. */
CACT_API int cact_agent_add_tool(struct cact_agent *a, struct cact_tool *tool,
				 struct cact_error *err);
/* The provider is copied; its release hook runs when the agent is freed. */
CACT_API int cact_agent_add_provider(struct cact_agent *a, const struct cact_context_provider *p,
				     struct cact_error *err);
/* Steps (model calls) per run; default 20. */
CACT_API void cact_agent_set_max_steps(struct cact_agent *a, unsigned n);

enum cact_event_kind {
	CACT_EVENT_STEP,	 /* a model call starts: step */
	CACT_EVENT_TEXT,	 /* streamed answer text: text, len */
	CACT_EVENT_MODEL,	 /* a model call ended: step, usage, elapsed_us */
	CACT_EVENT_TOOL_CALL,	 /* the model asked for a tool: name, text (arguments JSON) */
	CACT_EVENT_TOOL_RESULT,	 /* its outcome: name, ok, text (what the model is told), result */
	CACT_EVENT_SANDBOX_CALL, /* sandboxed code called a tool: name, text (arguments JSON) */
	CACT_EVENT_SANDBOX_DONE, /* that call ended: name, ok, text (result or error) */
	CACT_EVENT_OUTPUT, /* execute_code's code wrote: name ("stdout", "stderr"), text, len */
};

struct cact_event {
	enum cact_event_kind kind;
	unsigned step;
	const char *name;
	const char *text;
	size_t len;
	int ok;
	const struct cact_result *result; /* an execute_code outcome (TOOL_RESULT), else NULL */
	uint64_t prompt_tokens, completion_tokens; /* MODEL */
	uint64_t elapsed_us;			   /* MODEL, TOOL_RESULT, SANDBOX_DONE */
	/*
	 * TOOL_CALL, TOOL_RESULT: which call of the model's message, from 1, and
	 * how many it made (the calls of one message run at once, so results
	 * come as they finish); 0 for other events.
	 */
	unsigned call, calls;
};

/*
 * Progress. Called from the run's thread or from library threads (a tool
 * call's worker, SANDBOX_* from the sandbox's tool thread), but never for
 * two events of one run at once, and not while an approval question of the
 * run is open: those events wait for the answer, so a question asked on a
 * terminal is not broken up by progress lines. OUTPUT comes from the
 * thread running the execute_code call while its code runs, as
 * cact_output_fn describes (text is not NUL-terminated, may hold any bytes
 * and ends on a whole UTF-8 character; the execution waits while the
 * callback runs).
 */
typedef void (*cact_event_fn)(void *user, const struct cact_event *ev);

/* Tool calls of one model message run at once, at most this many by default. */
#define CACT_RUN_PARALLEL_DEFAULT 4
/* The most max_parallel may ask for. */
#define CACT_RUN_PARALLEL_MAX 16

struct cact_run_options {
	unsigned max_steps; /* 0: the agent's */
	/*
	 * Decides tools that require approval; NULL: deny. Never called for two
	 * questions of one run at once: the up-front questions of a message's
	 * calls are asked in the model's order before any of them runs, and
	 * the ones asked while calls run (per-call approval) take turns.
	 */
	cact_approval_fn approve;
	void *approve_user;
	cact_event_fn on_event; /* may be NULL */
	void *event_user;
	/*
	 * How many tool calls of one model message may run at once: 0 means
	 * CACT_RUN_PARALLEL_DEFAULT, 1 one after another, more is capped at
	 * CACT_RUN_PARALLEL_MAX. Results reach the model in the order it asked
	 * for the calls, whatever order they finish in. The execute_code calls
	 * of a persistent conversation share one interpreter: they always run
	 * one after another, in that order.
	 */
	unsigned max_parallel;
};

enum cact_stop {
	CACT_STOP_FINAL = 0, /* the model gave a final answer */
	CACT_STOP_MAX_STEPS, /* the step limit came first */
};

struct cact_run;

/*
 * Runs prompt in session (which gains the run's messages): calls the model
 * with the instructions (the agent's, then the providers'), the session's
 * messages and the tools (direct ones, then the providers'), runs the tool
 * calls it asks for (after approval, when the tool requires it: a denial is
 * told to the model as the tool's result), the calls of one message at once
 * (cact_run_options.max_parallel; a tool may thus be called from several
 * threads at once), feeds the results back in the model's order, and
 * stops at a final answer or the step limit. A failing tool is reported to
 * the model, not to the caller. Returns 0 with *out, or an error from the
 * model server or a provider (the session keeps what was said until then).
 */
CACT_API int cact_agent_run(struct cact_agent *a, struct cact_session *session, const char *prompt,
			    const struct cact_run_options *opts, struct cact_run **out,
			    struct cact_error *err);

CACT_API enum cact_stop cact_run_stop(const struct cact_run *r);
/* The final answer (the last assistant text), "" when none. Borrowed. */
CACT_API const char *cact_run_text(const struct cact_run *r);
CACT_API unsigned cact_run_steps(const struct cact_run *r);
CACT_API void cact_run_usage(const struct cact_run *r, uint64_t *prompt_tokens,
			     uint64_t *completion_tokens);
/* {"stop", "text", "steps", "usage", "messages": the run's new messages}. Owned. */
CACT_API char *cact_run_to_json(const struct cact_run *r);
CACT_API void cact_run_free(struct cact_run *r);

/* "final" / "max_steps". */
CACT_API const char *cact_stop_name(enum cact_stop s);

#ifdef __cplusplus
}
#endif
#endif
