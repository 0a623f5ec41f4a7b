/* SPDX-License-Identifier: MIT */
/*
 * The tools layer: tool objects (include/cact/tools.h), their handlers and
 * the JSON Schema subset the host checks arguments against.
 */
#ifndef CACT_TOOLS_INTERNAL_H
#define CACT_TOOLS_INTERNAL_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cact/tools.h>

#define TOOL_DEFAULT_TIMEOUT_MS 30000u
#define TOOL_STDERR_MAX		4096u

enum tool_kind {
	TOOL_CALLBACK,
	TOOL_COMMAND,
	TOOL_CUSTOM, /* handled through ops: tools served by other programs (MCP) */
};

/* A handler supplied by another layer (the MCP client, later). */
struct tool_ops {
	int (*invoke)(void *data, const char *name, const char *args_json, size_t result_cap,
		      int cancel_fd, char **result_json, struct cact_error *err);
	void (*release)(void *data);
	/*
	 * May be NULL. The description as of now, for a tool whose description
	 * follows live state (execute_code over a configuration): borrowed,
	 * valid while the tool is; NULL keeps the one the tool was made with.
	 */
	const char *(*describe)(void *data);
};

struct cact_tool {
	atomic_int refs;
	char *name;
	char *description;
	json_t *params;	   /* the schema, validated at creation */
	char *params_text; /* compact JSON */
	enum cact_approval approval;
	enum tool_kind kind;
	cact_tool_fn fn;
	void *user;
	char **argv; /* NULL-terminated */
	char *cwd;
	uint64_t timeout_ms;
	int stderr_to_code; /* a failing command's stderr is the reason the code sees */
	const struct tool_ops *ops;
	void *ops_data;
};

/*
 * Creates a tool of any kind (the public constructors and other layers use
 * it). Checks the name and the schema. The new tool holds one reference.
 */
int tool_new(const char *name, const char *description, const char *parameters_json,
	     enum cact_approval approval, struct cact_tool **out, struct cact_error *err);

/*
 * Runs a tool's handler on validated arguments. *result_json: one JSON value,
 * compact, at most result_cap bytes (owned). cancel_fd, when readable, asks a
 * running command to stop (the execution is gone); -1 for none. Returns 0 or
 * a negative code with the reason in err; *detail (owned, may stay NULL)
 * then holds the whole reason when it is longer than err holds (a failed
 * command's stderr, up to TOOL_STDERR_MAX).
 */
int tool_invoke(struct cact_tool *t, const char *args_json, size_t result_cap, int cancel_fd,
		char **result_json, char **detail, struct cact_error *err);

/* The external-command handler (command.c). */
int tool_run_command(const struct cact_tool *t, const char *args_json, size_t result_cap,
		     int cancel_fd, char **result_json, char **detail, struct cact_error *err);

/*
 * JSON Schema subset (schema.c). schema_check accepts a parameters schema
 * (an object schema with well-formed keywords); schema_validate checks a
 * value against it. Both return 0 or CACT_EINVAL with a message naming the
 * JSON path ("$.a.b[2]").
 */
int schema_check(const json_t *schema, struct cact_error *err);
int schema_validate(const json_t *schema, const json_t *value, struct cact_error *err);

#endif
