/* SPDX-License-Identifier: MIT */
/* Internals of sessions shared by session.c (the object) and exec.c (a run). */
#ifndef CACT_RT_SESSION_H
#define CACT_RT_SESSION_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include <cact/sandbox_session.h>

#include "rt.h"

struct cact_runtime;
struct rt_slot;

/* What a session lends each of its runs, and what a run leaves for the next. */
struct rt_session_ctx {
	unsigned run_no;	  /* 1 for the first run */
	uint64_t cpu_total_ms;	  /* the CPU limit of the whole session, set by the first run */
	int started;		  /* the first run went well: the child is ready and limited */
	int outdir;		  /* its /output, from the ready frame (owned) */
	pid_t pid;		  /* its host pid, for its CPU time; 0 until known */
	uint64_t cpu_us;	  /* its CPU time when it last stopped */
	unsigned pid_max, userns; /* what its ready frame said took effect */
	struct rt_seen seen;	  /* /output as the last run left it */
	/*
	 * Interrupting a run (cact_sandbox_session_interrupt): SIGINT reaches
	 * the child only once it said the code runs (its "running" frame),
	 * because the runner ignores it before and between runs. RT_INTR_RUNNING
	 * is set by the run when that frame comes, RT_INTR_ASKED by an
	 * interrupt; whoever sets the second bit sends the signal, so an
	 * interrupt asked early is sent when the code starts, and once.
	 */
	_Atomic unsigned intr;
	int ended;     /* the run ended the session ... */
	char why[200]; /* ... for this reason ("timeout in run 3") */
};

enum { RT_INTR_RUNNING = 1, RT_INTR_ASKED = 2 };

/* The host pid behind a pidfd (its fdinfo's "Pid:"), 0 when unknown. */
pid_t rt_pidfd_pid(int pidfd);

void rt_session_ctx_init(struct rt_session_ctx *c);
void rt_session_ctx_clear(struct rt_session_ctx *c);

/*
 * One run of a session on its child (exec.c): as cact_runtime_run, but the
 * child stays, stopped, when the run ends well; when it ends badly
 * ctx->ended and ctx->why say so and the child is being killed.
 */
int rt_run_in(struct cact_runtime *rt, const struct cact_request *req, struct rt_slot *slot,
	      struct rt_session_ctx *ctx, struct cact_result **out, struct cact_error *err);

/*
 * cact_sandbox_session_run, letting the layer above set what varies per
 * run on the run's request (its approval callback, its observer) through
 * adjust (may be NULL), called before the run starts.
 */
typedef void (*rt_session_adjust_fn)(struct cact_request *req, void *user);
int rt_session_run(struct cact_sandbox_session *s, const char *code, size_t len,
		   const struct cact_sandbox_session_run_options *opts, rt_session_adjust_fn adjust,
		   void *user, struct cact_result **out, struct cact_error *err);

/* Ends idle and expired sessions (the control thread, runtime lock held). */
void rt_sessions_tick(struct cact_runtime *rt);

#endif
