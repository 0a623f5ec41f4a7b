/* SPDX-License-Identifier: MIT */
/* Internals shared by the runtime layer's modules. */
#ifndef CACT_RT_H
#define CACT_RT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <cact/runtime.h>

struct rt_mount {
	char *host;  /* resolved absolute host path */
	char *guest; /* "/input/..." */
	dev_t dev;
	ino_t ino;
	int is_dir;
};

struct rt_domain {
	char *target;  /* normalized authority */
	char *methods; /* "GET,POST" or NULL for all */
};

struct rt_resolve {
	char *host;  /* lower-case, no trailing dot */
	char *addrs; /* "a,b": canonical addresses */
};

/*
 * Watches the tool calls of an execution (the agent's progress events):
 * called from the call's thread when it starts (done 0: text is the
 * arguments) and when it ends (done 1: ok, text is the result or the
 * reason, elapsed_us).
 */
typedef void (*rt_observe_fn)(void *user, const char *tool, int done, int ok, const char *text,
			      uint64_t elapsed_us);

struct cact_request {
	char *code;
	size_t code_len;
	int has_code;
	int has_workspace;
	struct rt_mount workspace;
	struct rt_mount *mounts;
	size_t n_mounts;
	uint64_t limits[CACT_LIMIT__COUNT];
	struct cact_tool **tools; /* one reference each, in order */
	size_t n_tools;
	int per_call;
	cact_approval_fn approve_fn;
	void *approve_user;
	struct rt_domain *domains; /* sorted by target */
	size_t n_domains;
	char *ca_file;
	char *proxy;
	struct rt_resolve *resolves;
	size_t n_resolves;
	char *redirect_headers;	  /* "a,b": lower-case names that may follow a cross-origin hop */
	rt_observe_fn observe_fn; /* not copied by cact_request_dup */
	void *observe_user;
	int cancel_fd;		  /* -1: none; not copied either */
	cact_output_fn output_fn; /* live output; NULL: none; not copied either */
	void *output_user;
};

/* Whether a header the code set may follow a cross-origin redirect (cact_request_add_redirect_header). */
int rt_request_redirect_header_ok(const struct cact_request *req, const char *name);

/* The addresses a resolve override gives host ("a,b"), or NULL. Borrowed. */
const char *rt_request_resolve_override(const struct cact_request *req, const char *host);

/*
 * The two frames of an execution (new references, NULL when out of memory):
 * "prepare" names the sandbox (mounts and file-system caps) and doubles as
 * the key of the pool of ready children; "exec" carries the code and the
 * remaining limits.
 */
json_t *rt_prepare_frame(const struct cact_request *req);
json_t *rt_exec_frame(const struct cact_request *req);

struct rt_file {
	char *path; /* "/output/..." */
	const char *media_type;
	unsigned char *data;
	size_t size;
};

/* One HTTP request hop of sandboxed code, as logged in the result. */
struct rt_http {
	char method[16];
	char *url;  /* owned; as the code wrote it when it could not be parsed */
	int status; /* 0 when there was no response */
	uint64_t bytes_in, bytes_out;
	int allowed; /* 0: refused by the policy */
	char *error; /* owned, NULL when none */
};

void rt_http_clear(struct rt_http *h);

struct cact_result {
	enum cact_status status;
	int exit_code;
	char *out;
	size_t out_len;
	int out_trunc;
	char *err;
	size_t err_len;
	int err_trunc;
	char *error_type;
	char *error_message;
	char *error_traceback;
	struct rt_file *files;
	size_t n_files;
	char **skipped;
	size_t n_skipped;
	struct cact_stats stats;
	char *isolation;
	struct rt_http *http; /* in the order the hops were made */
	size_t n_http;
};

/* An empty result (owned), or NULL when out of memory. */
struct cact_result *rt_result_new(void);
/* Sets the error strings (copied; NULL leaves one unset). 0 or CACT_ENOMEM. */
int rt_result_set_error(struct cact_result *r, const char *type, const char *message,
			const char *traceback);

struct rt_harvest_caps {
	uint64_t max_files;
	uint64_t max_bytes;
	uint64_t max_depth;
};

/*
 * Collects the regular files under the /output tmpfs open at dirfd into r.
 * Call only once nothing of the execution can run (every process stopped
 * or dead). Symlinks, hard links, FIFOs, sockets and devices are listed in
 * r->skipped, never read. Returns 0, 1 when a cap was exceeded (what fits
 * is kept), or CACT_ENOMEM.
 */
int rt_harvest(int dirfd, const struct rt_harvest_caps *caps, struct cact_result *r);

/* One entry of /output as a harvest saw it: what tells a changed file from the same one. */
struct rt_seen_entry {
	char *path; /* owned */
	dev_t dev;
	ino_t ino;
	off_t size;
	mode_t mode;
	struct timespec mtime, ctime;
};

/* /output as one run of a session left it, sorted by path. */
struct rt_seen {
	struct rt_seen_entry *v;
	size_t n, cap;
};

void rt_seen_clear(struct rt_seen *s);

/*
 * rt_harvest for a session's run: entries that before (may be NULL) holds
 * unchanged (same inode, size, mode, modification and change time) are
 * neither returned nor listed as skipped; after (may be NULL; cleared
 * first) gets every entry seen, for the next run.
 */
int rt_harvest_since(int dirfd, const struct rt_harvest_caps *caps, struct cact_result *r,
		     const struct rt_seen *before, struct rt_seen *after);

/* Most modules a runtime preloads, and most python paths it adds. */
#define RT_PRELOAD_MAX	   64
#define RT_PYTHON_PATH_MAX 32

/*
 * Checks one python path (cact_runtime_options.python_paths, the
 * configuration's python_path): an existing folder, outside the folders
 * every execution has its own of. real gets it resolved. 0, CACT_ENOENT or
 * CACT_EINVAL with a message naming the path as given.
 */
int rt_python_path_check(const char *given, char *real, size_t size, struct cact_error *err);
/* Whether m is a dotted Python module name of ASCII identifiers, at most 200 bytes. */
int rt_module_name_ok(const char *m);

#endif
