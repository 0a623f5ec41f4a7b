/* SPDX-License-Identifier: MIT */
#ifndef CACT_SANDBOX_SESSION_H
#define CACT_SANDBOX_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cact/error.h>
#include <cact/request.h>
#include <cact/result.h>
#include <cact/runtime.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A session: one sandboxed interpreter kept across runs, opt-in. It has the
 * isolation of a clean execution (its own namespaces, private /tmp and
 * /output, the mounts fixed when it starts); globals, imported modules,
 * /tmp and /output persist from one run to the next. Between runs every
 * thread of the session is stopped: threads the code leaves running stop
 * when its run ends and go on when the next run starts.
 *
 * A run that times out, crashes or reaches a limit ends the session; its
 * result says so, and every later run fails with an error naming the cause
 * ("session ended: timeout in run 3; start a new session"), never with a
 * silently fresh interpreter. docs/sessions.md has the details.
 */
struct cact_sandbox_session;

struct cact_sandbox_session_options {
	/* Ended after this long without a run (default 600000: 10 min). 0: never. */
	uint64_t idle_timeout_ms;
	/* Ended this long after it started (default 3600000: 1 h). 0: never. */
	uint64_t lifetime_ms;
	/* CPU time all its runs may use together (default 600000: 10 min). */
	uint64_t cpu_total_ms;
};

/* Fills *o with the defaults. */
CACT_API void cact_sandbox_session_options_init(struct cact_sandbox_session_options *o);

/*
 * Starts a session on rt from a template request (borrowed for the call):
 * its workspace, mounts, tools, approval, network targets and limits (the
 * memory cap is the session's; the timeout each run's default) are the
 * session's for its life; its code is not run. opts may be NULL for the
 * defaults. A runtime holds at most max_sessions sessions (a runtime
 * option, default 64): one more is refused (CACT_ESANDBOX, "too many
 * sessions"), whatever the others are doing; nothing is evicted. On
 * success *out is owned (cact_sandbox_session_close). Returns 0, CACT_EINVAL, or
 * CACT_ESANDBOX when no sandbox could be had (err says why). Thread-safe
 * with respect to other sessions and executions.
 */
CACT_API int cact_sandbox_session_new(struct cact_runtime *rt, const struct cact_request *tmpl,
				      const struct cact_sandbox_session_options *opts,
				      struct cact_sandbox_session **out, struct cact_error *err);

/* What one run may change from the session's template. */
struct cact_sandbox_session_run_options {
	uint64_t timeout_ms; /* wall clock and CPU of this run; 0: the template's timeout */
	int cancel_fd;	     /* readable: end the run, and so the session; -1: none */
	/*
	 * Live output of this run, as cact_request_set_output (cact_output_fn
	 * says what arrives, on which thread, and what a slow one does); NULL:
	 * none.
	 */
	cact_output_fn output;
	void *output_user;
};

/* Fills *o with the defaults (the template's timeout, no cancel fd, no output callback). */
CACT_API void cact_sandbox_session_run_options_init(struct cact_sandbox_session_run_options *o);

/*
 * Runs code (len bytes, borrowed) in the session, as one call: one run at
 * a time per session (a concurrent call waits for the current one). opts
 * may be NULL. On success *out is owned and describes the run as an
 * execution's result does (streams, status, error, tool calls, network
 * log); its files are those added or changed in /output during this run.
 * Returns a negative code when the run could not be attempted: the
 * session has ended (CACT_ESANDBOX, err names the cause and the run), or
 * the code is invalid.
 */
CACT_API int cact_sandbox_session_run(struct cact_sandbox_session *s, const char *code, size_t len,
				      const struct cact_sandbox_session_run_options *opts,
				      struct cact_result **out, struct cact_error *err);

/*
 * Interrupts the current run the way Ctrl-C interrupts python3: the code
 * gets KeyboardInterrupt, and the session survives unless the code
 * ignores it. An interrupt that comes after the run was asked for but
 * before its code starts takes effect when the code starts; one between
 * runs does nothing. 0 when a run is on (interrupted), 1 when none is,
 * CACT_ESANDBOX when the session has ended. Thread-safe: meant to be
 * called while another thread is in cact_sandbox_session_run.
 */
CACT_API int cact_sandbox_session_interrupt(struct cact_sandbox_session *s);

/*
 * Replaces the session's interpreter with a fresh one (same template and
 * options; /tmp and /output start empty; the run count starts again).
 * Works on an ended session too. 0 or as cact_sandbox_session_new.
 */
CACT_API int cact_sandbox_session_reset(struct cact_sandbox_session *s, struct cact_error *err);

/*
 * NULL while the session is alive; once it has ended, why, as one line
 * ("timeout in run 3", "idle for 600 s", "closed"). Borrowed until the next
 * call on s.
 */
CACT_API const char *cact_sandbox_session_ended(struct cact_sandbox_session *s);

/*
 * The host pid of the session's process (its interpreter), for
 * monitoring: its CPU time and memory in /proc; 0 when it has none (ended,
 * or not known yet).
 */
CACT_API pid_t cact_sandbox_session_pid(struct cact_sandbox_session *s);

/* Runs completed in the session so far. */
CACT_API unsigned cact_sandbox_session_runs(struct cact_sandbox_session *s);

/* Ends the session (its processes are killed) and frees it; NULL is a no-op. */
CACT_API void cact_sandbox_session_close(struct cact_sandbox_session *s);

#ifdef __cplusplus
}
#endif
#endif
