/* SPDX-License-Identifier: MIT */
#ifndef CACT_CODEACT_H
#define CACT_CODEACT_H

#include <stddef.h>
#include <stdint.h>

#include <cact/error.h>
#include <cact/request.h>
#include <cact/result.h>
#include <cact/runtime.h>
#include <cact/sandbox_session.h>
#include <cact/tools.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The execute_code tool: a configuration (sandbox tools, files, network
 * targets, limits, approval) and everything a model or an agent host needs
 * around it: the input schema, the description the model reads, the
 * instructions for the system prompt, the effective approval mode, a
 * serializable state, and execution. Every function is thread-safe; an
 * execution works on a snapshot of the configuration taken when it starts,
 * so changes made meanwhile apply to later executions only.
 */
struct cact_codeact;

/*
 * A new, empty configuration running on rt (borrowed: it must outlive the
 * CodeAct object, or be replaced first). rt may be NULL for a configuration
 * that is only described or checked; executing then fails with CACT_EINVAL
 * until cact_codeact_set_runtime. *out is owned (cact_codeact_free).
 */
CACT_API int cact_codeact_new(struct cact_runtime *rt, struct cact_codeact **out,
			      struct cact_error *err);
CACT_API void cact_codeact_set_runtime(struct cact_codeact *cc, struct cact_runtime *rt);
CACT_API void cact_codeact_free(struct cact_codeact *cc);

/* The input schema of execute_code: {"type":"object","properties":{"code":...},"required":["code"]}. Static. */
CACT_API const char *cact_codeact_input_schema(void);

/* ---- configuration ---- */

/* The default approval mode (never_require unless set). */
CACT_API void cact_codeact_set_default_approval(struct cact_codeact *cc, enum cact_approval a);
CACT_API enum cact_approval cact_codeact_default_approval(const struct cact_codeact *cc);
/*
 * The effective approval mode of execute_code: always_require when the
 * default is, or when any registered tool is (unless per-call approval is
 * on, in which case those tools are asked about call by call and the code
 * itself runs without up-front approval).
 */
CACT_API enum cact_approval cact_codeact_approval(const struct cact_codeact *cc);

/*
 * Per-call approval (off by default): the code runs without up-front
 * approval, and each call_tool of an always_require tool waits for fn's
 * answer (NULL: deny).
 */
CACT_API void cact_codeact_set_per_call_approval(struct cact_codeact *cc, int on,
						 cact_approval_fn fn, void *user);
CACT_API int cact_codeact_per_call_approval(const struct cact_codeact *cc);

/* Adds a sandbox tool (a reference is taken); same name replaces and moves it to the end. "execute_code" is refused. */
CACT_API int cact_codeact_add_tool(struct cact_codeact *cc, struct cact_tool *tool,
				   struct cact_error *err);
/* CACT_ENOENT naming the tool. */
CACT_API int cact_codeact_remove_tool(struct cact_codeact *cc, const char *name,
				      struct cact_error *err);
CACT_API void cact_codeact_clear_tools(struct cact_codeact *cc);
/* The tools in order: *out is an owned array of new references; free with cact_tools_free. */
CACT_API int cact_codeact_tools(const struct cact_codeact *cc, struct cact_tool ***out, size_t *n);
CACT_API void cact_tools_free(struct cact_tool **tools, size_t n);
/*
 * The configuration file's direct_tools: tools an agent offers the model
 * itself, outside the sandbox (cact agent adds them to the agent). Not part
 * of execute_code. As cact_codeact_tools.
 */
CACT_API int cact_codeact_direct_tools(const struct cact_codeact *cc, struct cact_tool ***out,
				       size_t *n);

/* As cact_request_set_workspace / add_mount / remove_mount / set_limit. */
CACT_API int cact_codeact_set_workspace(struct cact_codeact *cc, const char *dir,
					struct cact_error *err);
CACT_API int cact_codeact_add_file_mount(struct cact_codeact *cc, const char *host,
					 const char *mount, struct cact_error *err);
CACT_API int cact_codeact_remove_file_mount(struct cact_codeact *cc, const char *mount,
					    struct cact_error *err);
CACT_API int cact_codeact_add_allowed_domain(struct cact_codeact *cc, const char *target,
					     const char *const *methods, size_t n,
					     struct cact_error *err);
CACT_API int cact_codeact_remove_allowed_domain(struct cact_codeact *cc, const char *target,
						struct cact_error *err);

/*
 * Removes every file mount (cact_codeact_clear_file_mounts) or every
 * allowed domain (cact_codeact_clear_allowed_domains), as the reference's
 * clear_file_mounts and clear_allowed_domains do. The workspace, the tools
 * and the network settings (CA file, proxy, resolve overrides) stay.
 * Executions already running keep their snapshot. Cannot fail; thread-safe.
 */
CACT_API void cact_codeact_clear_file_mounts(struct cact_codeact *cc);
CACT_API void cact_codeact_clear_allowed_domains(struct cact_codeact *cc);

/* One file mount of a configuration (cact_codeact_file_mounts). */
struct cact_file_mount {
	const char *host_path;	/* resolved, absolute */
	const char *mount_path; /* normalized, "/input/..." */
};

/*
 * The file mounts in the order they were added (a mount path added again
 * keeps its place), as the reference's get_file_mounts: a copy taken under
 * the lock, unaffected by later changes. *out is owned: one block holding
 * the array and its strings, freed with cact_free(*out); it is never NULL
 * on success, even when *n is 0. Returns 0 or CACT_ENOMEM (then *out is
 * NULL and *n 0). Thread-safe.
 */
CACT_API int cact_codeact_file_mounts(const struct cact_codeact *cc, struct cact_file_mount **out,
				      size_t *n);

/* One allowed domain of a configuration (cact_codeact_allowed_domains). */
struct cact_allowed_domain {
	const char *target; /* normalized: "api.example.com", "host:8443", "*.example.com" */
	const char *const *methods; /* upper-case, sorted; NULL: all but CONNECT and TRACE */
	size_t n_methods;	    /* 0 when methods is NULL */
};

/*
 * The allowed domains sorted by target, as the reference's
 * get_allowed_domains: a copy taken under the lock. Ownership and return
 * codes as cact_codeact_file_mounts: one block, cact_free(*out).
 */
CACT_API int cact_codeact_allowed_domains(const struct cact_codeact *cc,
					  struct cact_allowed_domain **out, size_t *n);
/* Network settings, as cact_request_set_ca_file, _set_proxy and _add_resolve. */
CACT_API int cact_codeact_set_ca_file(struct cact_codeact *cc, const char *path,
				      struct cact_error *err);
CACT_API int cact_codeact_set_proxy(struct cact_codeact *cc, const char *proxy,
				    struct cact_error *err);
CACT_API int cact_codeact_add_resolve(struct cact_codeact *cc, const char *host, const char *addr,
				      struct cact_error *err);
/* As cact_request_add_redirect_header: a header of the code's that may cross origins. */
CACT_API int cact_codeact_add_redirect_header(struct cact_codeact *cc, const char *name,
					      struct cact_error *err);
CACT_API int cact_codeact_set_limit(struct cact_codeact *cc, enum cact_limit which, uint64_t value,
				    struct cact_error *err);

/*
 * Interpreter settings for the runtime the configuration runs on: folders
 * added to the sandbox's import path (cact_codeact_add_python_path) and
 * modules imported once in the zygote (cact_codeact_add_preload), as
 * cact_runtime_options' python_paths and preload. A configuration does not
 * start its runtime: whoever starts one passes them on
 * (cact_codeact_python), and changing them later does not change a runtime
 * already started. Each is checked as the runtime would: a folder must
 * exist, resolved, outside /tmp, /input, /output, /dev and /proc
 * (CACT_ENOENT, CACT_EINVAL; at most 32); a module name must be dotted
 * Python identifiers (CACT_EINVAL; at most 64). One already there is not
 * added again. Thread-safe.
 */
CACT_API int cact_codeact_add_python_path(struct cact_codeact *cc, const char *dir,
					  struct cact_error *err);
CACT_API int cact_codeact_add_preload(struct cact_codeact *cc, const char *module,
				      struct cact_error *err);

/* What cact_codeact_python gives: borrowed from its block. */
struct cact_python_settings {
	const char *const *python_paths; /* resolved folders, in the order added */
	size_t n_python_paths;
	const char *const *preload; /* module names, in the order added */
	size_t n_preload;
};

/*
 * A copy of the interpreter settings, taken under the lock: *out is owned,
 * one block freed with cact_free(*out). Returns 0 or CACT_ENOMEM.
 */
CACT_API int cact_codeact_python(const struct cact_codeact *cc, struct cact_python_settings **out);

/*
 * Reads a JSON configuration file and applies it on top of the current
 * configuration. Keys (all optional): approval_mode, per_call_approval,
 * workspace_root, file_mounts (strings or [host, mount] pairs),
 * allowed_domains (strings or [target, method or methods] pairs), tools
 * (each: name, description, parameters, approval_mode, command (string or
 * list), timeout_s), direct_tools (the same shape: tools for an agent to
 * offer the model directly), limits (each limit by cact_limit_name;
 * timeout_ms may also be given as timeout_s, memory_bytes as memory_mib),
 * network (ca_file, proxy, resolve: {name: address or [addresses]}),
 * mcp_servers (name: {command, env, cwd} or {url, headers}, with approval
 * settings: each server is started and its tools registered as
 * "<name>.<tool>"; see docs/mcp.md), python_path (a list of folders) and
 * preload (a list of module names; see cact_codeact_python). Relative paths
 * are resolved against the file's folder, and command tools run there.
 * Unknown keys and values of the wrong type are errors naming the key.
 */
CACT_API int cact_codeact_load_config(struct cact_codeact *cc, const char *path,
				      struct cact_error *err);

/* ---- for the model ---- */

/* The tool description, built from the current configuration. Owned (cact_free). */
CACT_API char *cact_codeact_description(const struct cact_codeact *cc);
/*
 * Short instructions for the system prompt. tools_visible: whether the
 * sandbox's tools are also offered to the model directly. Owned.
 */
CACT_API char *cact_codeact_instructions(const struct cact_codeact *cc, int tools_visible);

/* ---- state ---- */

/*
 * The serializable state: backend, approval_mode (effective),
 * default_approval_mode, per_call_approval, tool_names, filesystem_enabled
 * (always true: every run has a writable /output, returned with the
 * result, and a private /tmp, whatever is mounted at /input),
 * workspace_root, file_mounts (host_path, mount_path), network_enabled,
 * allowed_domains (target, methods or null; sorted by target), limits,
 * network, and python_path and preload when there are some. Owned JSON text (cact_free); NULL when out of memory.
 */
CACT_API char *cact_codeact_state(const struct cact_codeact *cc);
/*
 * Rebuilds a configuration from a state and the tools it names (tools holds
 * at least every named tool; extra ones are ignored). CACT_EINVAL for a
 * malformed state, CACT_ENOENT for a named tool that is not given.
 */
CACT_API int cact_codeact_new_from_state(struct cact_runtime *rt, const char *state_json,
					 struct cact_tool *const *tools, size_t n_tools,
					 struct cact_codeact **out, struct cact_error *err);

/*
 * A copy of the current configuration, unaffected by later changes to cc:
 * what an agent run hands the model as its run-scoped execute_code.
 */
CACT_API int cact_codeact_snapshot(const struct cact_codeact *cc, struct cact_codeact **out,
				   struct cact_error *err);

/* ---- execution ---- */

/*
 * Runs code under a snapshot of the current configuration. Up-front
 * approval is the caller's business (see cact_codeact_approval); per-call
 * approval happens inside. *out as cact_runtime_run; its contents
 * (cact_result_contents_json) are what execute_code returns.
 */
CACT_API int cact_codeact_execute(struct cact_codeact *cc, const char *code, size_t len,
				  struct cact_result **out, struct cact_error *err);

/* What one cact_codeact_execute_with call adds to the configuration. */
struct cact_codeact_execute_options {
	/* Live output, as cact_request_set_output (see cact_output_fn); NULL: none. */
	cact_output_fn output;
	void *output_user;
	int cancel_fd; /* readable: stop the execution (cact_request_set_cancel_fd); -1: none */
};

/* Fills *o with the defaults: no output callback, no cancel fd. */
CACT_API void cact_codeact_execute_options_init(struct cact_codeact_execute_options *o);

/*
 * cact_codeact_execute with options (NULL: none). The output callback is
 * called on the calling thread while the code runs (cact_output_fn).
 */
CACT_API int cact_codeact_execute_with(struct cact_codeact *cc, const char *code, size_t len,
				       const struct cact_codeact_execute_options *opts,
				       struct cact_result **out, struct cact_error *err);

/*
 * Starts a sandbox session (cact/sandbox_session.h) on the configuration's
 * runtime with what the configuration holds now: tools, files, network,
 * limits, approval. The session keeps that configuration for its life
 * (reset included); later changes to cc reach only new sessions. opts may
 * be NULL for the defaults. Returns as cact_sandbox_session_new, or
 * CACT_EINVAL without a runtime.
 */
CACT_API int cact_codeact_session_new(struct cact_codeact *cc,
				      const struct cact_sandbox_session_options *opts,
				      struct cact_sandbox_session **out, struct cact_error *err);

/*
 * Persistence: whether callers that can keep state between calls (cact
 * mcp --sessions, cact agent --persistent) give each conversation a
 * sandbox session. When on, the description says that state persists and
 * cact_codeact_session_input_schema (code, and an optional boolean reset)
 * is the tool's schema. The options are those of the sessions started
 * (cact_codeact_session_new with NULL options). The configuration file's
 * "sessions" object sets both: {"enabled": true, "idle_timeout_s": 600,
 * "lifetime_s": 3600, "cpu_total_s": 600}.
 */
CACT_API void cact_codeact_set_persistent(struct cact_codeact *cc, int on);
CACT_API int cact_codeact_persistent(const struct cact_codeact *cc);
CACT_API void cact_codeact_set_session_options(struct cact_codeact *cc,
					       const struct cact_sandbox_session_options *o);
CACT_API void cact_codeact_session_options(const struct cact_codeact *cc,
					   struct cact_sandbox_session_options *o);
CACT_API const char *cact_codeact_session_input_schema(void);

/*
 * Parses an execute_code call's arguments ({"code": "..."}) and runs it.
 * CACT_EINVAL when the arguments are not that object.
 */
CACT_API int cact_codeact_call(struct cact_codeact *cc, const char *args_json,
			       struct cact_result **out, struct cact_error *err);

#ifdef __cplusplus
}
#endif
#endif
