/* SPDX-License-Identifier: MIT */
/* The codeact layer's internals (include/cact/codeact.h is the API). */
#ifndef CACT_CODEACT_INTERNAL_H
#define CACT_CODEACT_INTERNAL_H

#include <pthread.h>

#include <cact/codeact.h>

#include "../runtime/rt.h"

struct cact_codeact {
	pthread_mutex_t lock;	     /* guards everything below */
	struct cact_runtime *rt;     /* borrowed */
	struct cact_request *cfg;    /* the configuration: files, domains, tools, limits */
	struct cact_request *direct; /* only its tools: the config file's direct_tools */
	enum cact_approval default_approval;
	int per_call;
	cact_approval_fn approve_fn;
	void *approve_user;
	/* Callers that keep state (cact mcp --sessions, cact agent --persistent) run sessions. */
	int persistent;
	struct cact_sandbox_session_options session_opts;
	/* For the runtime (lib/codeact/python.c): resolved folders and module names, owned. */
	char **py_paths;
	size_t n_py_paths;
	char **preload;
	size_t n_preload;
	/*
	 * What cc_live_description handed out: the latest text, and the
	 * earlier ones, kept until the object is freed because readers of a
	 * hand-wired execute_code's description borrowed them. Never copied.
	 */
	char *live_desc;
	char **retired;
	size_t n_retired;
};

/* Effective approval of a configuration (lock held or a private copy). */
enum cact_approval cc_effective_approval(const struct cact_codeact *cc);

/* Texts and state from a configuration (lock held or a private copy). Owned. */
/* persistent: the text for a caller that keeps a session per conversation. */
char *cc_describe(const struct cact_codeact *cc, int persistent);
char *cc_state(const struct cact_codeact *cc);

/*
 * The description of the current configuration, rebuilt on every call
 * (takes the lock): what a hand-wired execute_code (cact_codeact_tool)
 * shows. Borrowed, valid until cc is freed; NULL only when out of memory
 * before any description was built.
 */
const char *cc_live_description(struct cact_codeact *cc);

/*
 * The "network" object of a configuration file or a state: ca_file, proxy,
 * resolve ({name: [address, ...]}). cc_network_json builds it (new
 * reference, NULL when out of memory); cc_network_apply checks and applies
 * one, relative paths from folder (NULL: as given), errors labelled with
 * where ("config FILE", "state").
 */
json_t *cc_network_json(const struct cact_request *cfg);
int cc_network_apply(struct cact_request *cfg, json_t *v, const char *folder, const char *where,
		     struct cact_error *err);

/*
 * The "sessions" object of a configuration file or a state: enabled,
 * idle_timeout_s, lifetime_s, cpu_total_s (cact_codeact_set_persistent,
 * cact_codeact_set_session_options). cc_sessions_json builds it (new
 * reference); cc_sessions_apply checks and applies one, nothing changed on
 * error, errors labelled with where.
 */
json_t *cc_sessions_json(const struct cact_codeact *cc);
int cc_sessions_apply(struct cact_codeact *cc, json_t *v, const char *where,
		      struct cact_error *err);

/*
 * What an agent run lends an execution: the approval callback for per-call
 * approval (used when the configuration has none of its own) and an
 * observer of the code's tool calls.
 */
struct cc_hooks {
	cact_approval_fn approve;
	void *approve_user;
	rt_observe_fn observe;
	void *observe_user;
	int cancel_fd;	       /* -1: none (cact_request_set_cancel_fd) */
	cact_output_fn output; /* live output (cact_request_set_output); NULL: none */
	void *output_user;
};

/* cact_codeact_execute with hooks (may be NULL). */
int cc_execute(struct cact_codeact *cc, const char *code, size_t len, const struct cc_hooks *hooks,
	       struct cact_result **out, struct cact_error *err);

/*
 * One run of a session started with cact_codeact_session_new, with the
 * run's hooks (may be NULL) as for cc_execute. The session keeps the
 * configuration it started with; only the hooks are the run's.
 */
int cc_session_run(struct cact_codeact *cc, struct cact_sandbox_session *s, const char *code,
		   size_t len, const struct cc_hooks *hooks, struct cact_result **out,
		   struct cact_error *err);

/*
 * Swaps in from's configuration (files, domains, tools, direct tools,
 * approval settings) under cc's lock; from gets cc's old one to free.
 */
void cc_take_config(struct cact_codeact *cc, struct cact_codeact *from);

/*
 * python_path and preload (lib/codeact/python.c). cc_python_copy gives dst
 * copies of src's (dst's own are not freed; CACT_ENOMEM leaves none);
 * cc_python_free frees cc's. cc_python_apply adds a configuration file's
 * or a state's "python_path" (relative to folder, NULL: as given) and
 * "preload" lists, errors labelled with where. cc_python_json sets them in
 * root when there are some; -1 when out of memory.
 */
int cc_python_copy(struct cact_codeact *dst, const struct cact_codeact *src);
void cc_python_free(struct cact_codeact *cc);
int cc_python_apply(struct cact_codeact *cc, json_t *root, const char *folder, const char *where,
		    struct cact_error *err);
int cc_python_json(const struct cact_codeact *cc, json_t *root);

/*
 * The configuration file (config.c). Its keys are checked and applied
 * here; a section that belongs to a layer above (mcp_servers, which
 * starts MCP clients: lib/mcp/config.c) comes in as a cc_cfg_section, so
 * that this layer never calls up. cact_codeact_load_config, which reads
 * the file, lives up there and hands the sections down.
 */
struct cc_cfg {
	const char *path;   /* as given, for messages */
	const char *folder; /* the file's folder: relative paths start here */
	struct cact_error *err;
};

/* "config PATH: "KEY" WHAT": an EINVAL for the key. */
int cc_cfg_fail(struct cc_cfg *c, const char *key, const char *what);
/* A path from the file, made absolute against the file's folder. 0 or -1 (too long). */
int cc_cfg_path(struct cc_cfg *c, const char *p, char *out, size_t size);
/* Re-labels an error from a layer below with the key it came from. */
int cc_cfg_relabel(struct cc_cfg *c, const char *key, int rc);

/* A top-level key handled by a layer above, applied after every other key. */
struct cc_cfg_section {
	const char *key;
	int (*apply)(struct cc_cfg *c, struct cact_codeact *scratch, json_t *value);
};

/* Applies a parsed configuration file to scratch (a private copy), extra sections last. */
int cc_apply_config(struct cact_codeact *scratch, json_t *root, const char *folder,
		    const char *path, const struct cc_cfg_section *extra, size_t n_extra,
		    struct cact_error *err);

#endif
