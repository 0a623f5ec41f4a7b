/* SPDX-License-Identifier: MIT */
#ifndef CACT_TOOLS_H
#define CACT_TOOLS_H

#include <stddef.h>
#include <stdint.h>

#include <cact/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A host tool that sandboxed code calls with call_tool(name, **kwargs): a
 * name, a description for the model, a JSON Schema of its parameters (an
 * object schema), an approval mode and a handler. Tools are immutable and
 * reference-counted: a request or a CodeAct configuration holds a
 * reference, so a tool stays valid while any execution may call it.
 * Thread-safe to share.
 */
struct cact_tool;

enum cact_approval {
	CACT_APPROVAL_NEVER_REQUIRE = 0,
	CACT_APPROVAL_ALWAYS_REQUIRE = 1,
};

/* "never_require" / "always_require". */
CACT_API const char *cact_approval_name(enum cact_approval a);
/* Parses those names. 0 or CACT_EINVAL. */
CACT_API int cact_approval_parse(const char *name, enum cact_approval *out);

/*
 * An in-process tool handler. Called from a library thread (not the one
 * that called cact_runtime_run), possibly for several executions at once:
 * it must be thread-safe and it must return. args_json is the arguments
 * object, already validated against the tool's schema. On success return 0
 * and set *result_json to one JSON value allocated with malloc (the library
 * frees it); on failure return a negative code and put the reason, which
 * the code sees in its RuntimeError, into err.
 *
 * A callback cannot be cancelled. When the execution ends (its code
 * finished, timed out or was stopped) while a callback runs, the library
 * waits for it 100 ms, then leaves it to finish on its thread:
 * cact_runtime_run returns, the callback's answer is dropped, and the
 * thread holds a reference to the tool until the callback returns. So
 * user, and anything the callback uses, must stay valid until it returns,
 * not only until cact_runtime_run does.
 */
typedef int (*cact_tool_fn)(void *user, const char *tool_name, const char *args_json,
			    char **result_json, struct cact_error *err);

/*
 * Creates a tool backed by fn. name: 1 to 128 characters of [A-Za-z0-9_.-]
 * ("execute_code" is accepted here but refused by a CodeAct configuration);
 * description may be NULL; parameters_json: an object schema, NULL for "no
 * parameters". user is passed to fn; it must outlive the tool. On success
 * *out holds one reference (cact_tool_unref). CACT_EINVAL names what is wrong.
 */
CACT_API int cact_tool_new_callback(const char *name, const char *description,
				    const char *parameters_json, enum cact_approval approval,
				    cact_tool_fn fn, void *user, struct cact_tool **out,
				    struct cact_error *err);

/*
 * Creates a tool backed by an external command, trusted operator code run
 * on the host, outside the sandbox: argv[0] (looked up in PATH when it has
 * no slash) with argv[1..], in folder cwd (NULL: the caller's), with the
 * caller's environment. The arguments object is written as JSON to its
 * stdin; it must print one JSON value on stdout and exit 0. A non-zero exit
 * or a signal fails the call: the code is told the exit status only, and
 * the first 4 KiB of the command's stderr go to cact's log, the calling
 * process's stderr, as lines "[tool NAME] ..." (control characters shown
 * as '?'), because an error message may show the code what it should not
 * see. It is killed (with its process group) after timeout_ms (0: 30 s).
 * Same as cact_tool_new_command_opts with cwd and timeout_ms set.
 */
CACT_API int cact_tool_new_command(const char *name, const char *description,
				   const char *parameters_json, enum cact_approval approval,
				   const char *const *argv, const char *cwd, uint64_t timeout_ms,
				   struct cact_tool **out, struct cact_error *err);

/* How a command tool runs (set the defaults with cact_tool_command_options_init). */
struct cact_tool_command_options {
	const char *cwd;     /* the folder it runs in; NULL (default): the caller's; copied */
	uint64_t timeout_ms; /* 0 (default): 30 s */
	/*
	 * 1: a failing command's stderr (its first 4 KiB) is the reason the
	 * code sees in its RuntimeError, and nothing is logged; 0 (default):
	 * the code sees the exit status and the stderr goes to the log.
	 */
	int stderr_to_code;
};

CACT_API void cact_tool_command_options_init(struct cact_tool_command_options *o);

/* cact_tool_new_command with options (NULL: the defaults). Same returns. */
CACT_API int cact_tool_new_command_opts(const char *name, const char *description,
					const char *parameters_json, enum cact_approval approval,
					const char *const *argv,
					const struct cact_tool_command_options *opts,
					struct cact_tool **out, struct cact_error *err);

CACT_API struct cact_tool *cact_tool_ref(struct cact_tool *t);
/* Drops a reference; NULL is a no-op. */
CACT_API void cact_tool_unref(struct cact_tool *t);

/* Borrowed, valid while the tool is. */
CACT_API const char *cact_tool_name(const struct cact_tool *t);
CACT_API const char *cact_tool_description(const struct cact_tool *t);
/* The parameters schema as compact JSON (`{"type":"object","properties":{}}` when none). */
CACT_API const char *cact_tool_parameters(const struct cact_tool *t);
CACT_API enum cact_approval cact_tool_approval(const struct cact_tool *t);

/*
 * Validates a JSON value against a tool's parameters schema, as the host
 * does before calling the handler. Returns 0, or CACT_EINVAL with the first
 * problem in err ("$.a: expected integer, got string"). Supported keywords:
 * type, properties, required, additionalProperties, enum, const, items,
 * minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength,
 * maxLength, minItems, maxItems; others are ignored.
 */
CACT_API int cact_tool_validate(const struct cact_tool *t, const char *args_json,
				struct cact_error *err);

/*
 * Decides a call_tool of an always_require tool in per-call approval mode.
 * Called from a library thread while the code waits; args_json is the
 * validated arguments. Return 1 to approve, 0 to deny (the code gets a
 * PermissionError). Like a cact_tool_fn, it is left to finish alone when
 * the execution ends while it waits (a question nobody answers in time):
 * its user must stay valid until it returns, and a late approval runs
 * nothing.
 */
typedef int (*cact_approval_fn)(void *user, const char *tool_name, const char *args_json);

#ifdef __cplusplus
}
#endif
#endif
