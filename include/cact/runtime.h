/* SPDX-License-Identifier: MIT */
#ifndef CACT_RUNTIME_H
#define CACT_RUNTIME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cact/error.h>
#include <cact/request.h>
#include <cact/result.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A runtime owns one zygote: a helper process that holds a warm CPython
 * already inside its namespaces and forks one sandboxed child per execution.
 * Start it once and run many executions through it.
 */
struct cact_runtime;

/* Kernel features the sandbox is built from. */
enum cact_feature {
	CACT_FEATURE_USER_NS = 1u << 0,	 /* unprivileged user namespaces */
	CACT_FEATURE_MOUNT_NS = 1u << 1, /* mount namespace and the fd-based mount API (5.2+) */
	CACT_FEATURE_PID_NS = 1u << 2,
	CACT_FEATURE_NET_NS = 1u << 3,
	CACT_FEATURE_IPC_NS = 1u << 4,
	CACT_FEATURE_UTS_NS = 1u << 5,
	CACT_FEATURE_CGROUP_NS = 1u << 6,
	CACT_FEATURE_LANDLOCK = 1u << 7,
	CACT_FEATURE_SECCOMP = 1u << 8,
	CACT_FEATURE_PIDFD = 1u << 9,
};

/* Features every isolation level needs; without one of them cact refuses. */
#define CACT_FEATURES_REQUIRED                                                                    \
	(CACT_FEATURE_USER_NS | CACT_FEATURE_MOUNT_NS | CACT_FEATURE_PID_NS |                     \
	 CACT_FEATURE_NET_NS | CACT_FEATURE_IPC_NS | CACT_FEATURE_UTS_NS | CACT_FEATURE_SECCOMP | \
	 CACT_FEATURE_PIDFD)
/* Features only the full level needs; the reduced level runs without them. */
#define CACT_FEATURES_FULL_ONLY (CACT_FEATURE_CGROUP_NS | CACT_FEATURE_LANDLOCK)

enum cact_isolation {
	CACT_ISOLATION_FULL = 0,    /* every feature above, or refuse to start */
	CACT_ISOLATION_REDUCED = 1, /* run without the FULL_ONLY features the kernel lacks */
};

/* What this machine supports, as found by probing (no side effects). */
struct cact_features {
	unsigned present;      /* CACT_FEATURE_* bits */
	int landlock_abi;      /* 0 when landlock is unavailable */
	char kernel[128];      /* uname release */
	char missing_why[256]; /* why the first missing required feature is missing */
};

/*
 * Probes the running kernel: forks a short-lived child that tries each
 * namespace, landlock, seccomp and pidfds, and reports back. The child uses
 * a few libc functions that are not async-signal-safe, so call this before
 * the program starts threads (cact doctor does). Returns 0 or CACT_ESYS.
 */
CACT_API int cact_features_probe(struct cact_features *out, struct cact_error *err);

/* Static name of one CACT_FEATURE_* bit ("user_namespace", ...), or "unknown". */
CACT_API const char *cact_feature_name(unsigned feature);

/* What happened to a runtime's zygote (see cact_runtime_options.event_fn). */
enum cact_runtime_event {
	CACT_RUNTIME_LOST =
		1, /* the zygote or the guest helper died; executions in flight failed */
	CACT_RUNTIME_RESTARTED, /* a fresh zygote serves again */
	CACT_RUNTIME_GAVE_UP,	/* it died too often (5 times in 60 s); every later call fails */
};

/*
 * Told about runtime events, on the runtime's own thread: message is one
 * line saying what happened (borrowed for the call). Must not call back
 * into the runtime.
 */
typedef void (*cact_runtime_event_fn)(void *user, enum cact_runtime_event event,
				      const char *message);

struct cact_runtime_options {
	enum cact_isolation isolation;
	/*
	 * Path of the cact-guest helper. NULL looks in order at $CACT_GUEST,
	 * next to the running executable, then in the install's libexec folder.
	 */
	const char *guest_path;
	/*
	 * Extra host folders added to the sandbox's import path and bound
	 * read-only at the same path (for example /usr/lib/python3/dist-packages
	 * for Debian's numpy and pandas). Borrowed during cact_runtime_new only.
	 */
	const char *const *python_paths;
	size_t n_python_paths;
	/*
	 * Modules imported once in the zygote, so that no execution pays for
	 * them (for example numpy, pandas, matplotlib.pyplot): dotted names, at
	 * most 64. BLAS and OpenMP thread pools are held to one thread, since
	 * the zygote must stay single-threaded to fork; a module that still
	 * leaves a thread running makes cact_runtime_new fail naming it.
	 * Imported with one_shot too (the execution then finds them loaded, at
	 * the cost it would pay to import them itself). Borrowed during
	 * cact_runtime_new only.
	 */
	const char *const *preload;
	size_t n_preload;
	/*
	 * Prepared children kept waiting for requests: at least pool_size
	 * (default 1; 0 prepares one only when asked), growing towards pool_max
	 * (default 8) while callers have to wait, and shrinking back after
	 * 10 s without a wait. An idle prepared child holds about 3 MiB of
	 * private memory: pool_max bounds what the pool holds.
	 */
	unsigned pool_size;
	unsigned pool_max;
	/* Executions running at once (default 64); more callers wait in line. */
	unsigned max_running;
	/*
	 * Callers that may wait for a sandbox (default 256), served in arrival
	 * order. One more gets a CACT_STATUS_BUSY result at once; a caller
	 * still waiting after queue_timeout_ms (default 30000) gets one then.
	 * The wait never counts against the code's own time limit.
	 */
	unsigned queue_max;
	uint64_t queue_timeout_ms;
	/* Sessions (cact/sandbox_session.h) the runtime holds at once (default 64); more are refused. */
	unsigned max_sessions;
	/*
	 * The runtime will run one execution: no standard modules preloaded
	 * (only those of preload), no pool,
	 * no page probe, so that starting it costs little more than starting
	 * python3 (cact exec uses this). Later executions still work, slower.
	 */
	int one_shot;
	/* Runtime events, for the program's log; NULL: none. */
	cact_runtime_event_fn event_fn;
	void *event_user;
	/*
	 * CACT_FEATURE_* bits to treat as missing although the kernel has them.
	 * For testing the refusal and reduced paths; 0 in production.
	 */
	unsigned hide_features;
};

/* Fills *o with the defaults. */
CACT_API void cact_runtime_options_init(struct cact_runtime_options *o);

/*
 * Starts a runtime: spawns the zygote, waits until its interpreter is warm.
 * opts may be NULL for the defaults. On success *out is owned by the caller
 * (free with cact_runtime_free). Returns 0, CACT_EUNSUPPORTED when the kernel
 * lacks a feature the isolation level needs (the message names it),
 * CACT_ENOENT when the guest helper is not found, CACT_ESANDBOX or CACT_ESYS.
 */
CACT_API int cact_runtime_new(const struct cact_runtime_options *opts, struct cact_runtime **out,
			      struct cact_error *err);

/*
 * Kills the zygote and every sandbox it holds, and reaps the helper; NULL is
 * a no-op. No cact_runtime_run on rt may be in progress.
 */
CACT_API void cact_runtime_free(struct cact_runtime *rt);

/*
 * Runs one execution and waits for it. Thread-safe: many threads may run
 * executions through one runtime at once; each gets a fresh sandbox forked
 * from the warm interpreter. req is borrowed for the call. On success *out is
 * owned by the caller (cact_result_free) and describes the outcome, whatever
 * it was: a Python error, a timeout and a sandbox violation are results, not
 * failures of this call. Returns a negative code only when no execution could
 * be attempted (the runtime is broken, the request is invalid).
 */
CACT_API int cact_runtime_run(struct cact_runtime *rt, const struct cact_request *req,
			      struct cact_result **out, struct cact_error *err);

/*
 * Whether rt can run executions: 0 while it serves or is restarting a lost
 * zygote, CACT_ESANDBOX (err says why) once it gave up after repeated
 * deaths. A program that serves others should exit non-zero then, so that
 * its supervisor restarts it. Thread-safe.
 */
CACT_API int cact_runtime_check(struct cact_runtime *rt, struct cact_error *err);

/* A snapshot of a runtime's load (for metrics and benchmarks). */
struct cact_runtime_stats {
	unsigned idle;	      /* prepared children waiting for a request */
	unsigned preparing;   /* children asked for and not yet handed over */
	unsigned running;     /* executions in progress */
	unsigned waiting;     /* callers waiting for a sandbox */
	unsigned pool_target; /* prepared children the pool aims at now */
	uint64_t executions;  /* executions started since the runtime began */
	uint64_t busy;	      /* callers refused as busy */
	uint64_t restarts;    /* zygotes started after a loss */
	unsigned sessions;    /* live sessions */
};

/* Fills *st. Thread-safe. */
CACT_API void cact_runtime_stats(struct cact_runtime *rt, struct cact_runtime_stats *st);

/*
 * The isolation in force, as a JSON object {"level": "full"|"reduced",
 * "features": {name: bool, ...}, "landlock_abi": n}. Owned; free with cact_free.
 */
CACT_API char *cact_runtime_isolation_json(const struct cact_runtime *rt);

/*
 * Host pid of the guest helper process, the parent of the zygote: every
 * process of the runtime descends from it (for diagnostics and tests). It
 * changes when a lost zygote is replaced; -1 while none runs.
 */
CACT_API pid_t cact_runtime_zygote_pid(const struct cact_runtime *rt);

/* Microseconds the zygote took to start and warm up. */
CACT_API uint64_t cact_runtime_startup_us(const struct cact_runtime *rt);

#ifdef __cplusplus
}
#endif
#endif
