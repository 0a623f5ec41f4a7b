/* SPDX-License-Identifier: MIT */
/*
 * Sessions (include/cact/sandbox_session.h, docs/sessions.md): one execution child
 * that outlives its run. The child keeps reading exec frames; the host runs
 * each one like an execution (exec.c, rt_run with a session context) and,
 * when it ends well, leaves the child stopped instead of killing it. A run
 * that ends badly ends the session; so do the idle timeout and the
 * lifetime, which the runtime's control thread checks (rt_sessions_tick).
 *
 * Locks: run_lock serializes the runs of one session and is taken first;
 * the fields the control thread reads or changes are under the runtime's
 * lock.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cact/cact.h>

#include "../util/util.h"
#include "rt.h"
#include "session.h"
#include "zygote.h"

struct cact_sandbox_session {
	struct cact_runtime *rt;
	struct cact_request *tmpl;
	struct cact_sandbox_session_options opts;
	char *profile;		  /* the prepare frame of tmpl */
	pthread_mutex_t run_lock; /* one run at a time; taken before the runtime's lock */
	/* Under the runtime's lock. */
	struct rt_slot *slot; /* the child; NULL once released */
	int running;
	int ended;
	char why[200];
	unsigned runs;
	pid_t pid; /* the child's host pid */
	uint64_t started_us, last_us;
	struct cact_sandbox_session *next;
	/* Under run_lock. */
	struct rt_session_ctx ctx;
	char ended_copy[200]; /* what cact_sandbox_session_ended hands out */
};

CACT_API void cact_sandbox_session_options_init(struct cact_sandbox_session_options *o)
{
	memset(o, 0, sizeof(*o));
	o->idle_timeout_ms = 600000;
	o->lifetime_ms = 3600000;
	o->cpu_total_ms = 600000;
}

CACT_API void cact_sandbox_session_run_options_init(struct cact_sandbox_session_run_options *o)
{
	memset(o, 0, sizeof(*o));
	o->cancel_fd = -1;
}

/* Marks the session ended for why (the first reason stands) and kills its child. Runtime lock held. */
static void end_locked(struct cact_sandbox_session *s, const char *why)
{
	if (!s->ended) {
		s->ended = 1;
		ut_snprintf(s->why, sizeof(s->why), "%s", why);
	}
	if (s->slot && s->slot->pidfd >= 0 && !s->slot->exited)
		syscall(SYS_pidfd_send_signal, s->slot->pidfd, SIGKILL, NULL, 0);
}

void rt_sessions_tick(struct cact_runtime *rt)
{
	uint64_t now = ut_now_us();
	struct cact_sandbox_session *s;
	char why[200];

	for (s = rt->sessions; s; s = s->next) {
		if (s->ended)
			continue;
		/* During a run, the run tells how it ended. */
		if (!s->running && s->slot && (s->slot->exited || s->slot->lost)) {
			/* Killed from outside, or its zygote was lost, between runs. */
			end_locked(s, s->slot->lost ? "its zygote was lost"
						    : "its process was killed");
			continue;
		}
		if (s->opts.lifetime_ms && now - s->started_us >= s->opts.lifetime_ms * 1000) {
			ut_snprintf(why, sizeof(why), "its lifetime of %llu s ran out",
				    (unsigned long long)(s->opts.lifetime_ms / 1000));
			end_locked(s, why);
		} else if (!s->running && s->opts.idle_timeout_ms &&
			   now - s->last_us >= s->opts.idle_timeout_ms * 1000) {
			ut_snprintf(why, sizeof(why), "idle for %llu s",
				    (unsigned long long)(s->opts.idle_timeout_ms / 1000));
			end_locked(s, why);
		}
	}
}

/* Gives the child back (killing it if it lives). Runtime lock not held; run_lock held or unshared. */
static void release(struct cact_sandbox_session *s)
{
	struct cact_runtime *rt = s->rt;
	struct rt_slot *slot;

	pthread_mutex_lock(&rt->lock);
	slot = s->slot;
	s->slot = NULL;
	pthread_mutex_unlock(&rt->lock);
	if (slot)
		rt_slot_release(rt, slot);
	rt_session_ctx_clear(&s->ctx);
}

/* Takes a child prepared for the template. run_lock held or unshared. */
static int start(struct cact_sandbox_session *s, struct cact_error *err)
{
	struct cact_runtime *rt = s->rt;
	struct rt_slot *slot = NULL;
	int rc = rt_slot_acquire(rt, s->profile, &slot, err);

	if (rc == RT_ACQ_BUSY)
		return CACT_ESANDBOX; /* err says busy and to retry */
	if (rc)
		return rc;
	pthread_mutex_lock(&rt->lock);
	/* A session's child is not a running execution: it counts as a session. */
	slot->session = 1;
	rt->n_running--;
	s->slot = slot;
	s->ended = 0;
	s->why[0] = '\0';
	s->runs = 0;
	s->started_us = s->last_us = ut_now_us();
	pthread_mutex_unlock(&rt->lock);
	rt_session_ctx_init(&s->ctx);
	s->ctx.pid = rt_pidfd_pid(slot->pidfd);
	pthread_mutex_lock(&rt->lock);
	s->pid = s->ctx.pid;
	pthread_mutex_unlock(&rt->lock);
	return 0;
}

CACT_API int cact_sandbox_session_new(struct cact_runtime *rt, const struct cact_request *tmpl,
				      const struct cact_sandbox_session_options *opts,
				      struct cact_sandbox_session **out, struct cact_error *err)
{
	struct cact_sandbox_session *s;
	json_t *frame;
	int rc;

	*out = NULL;
	if (!rt || !tmpl)
		return ut_err(err, CACT_EINVAL, "a session needs a runtime and a template request");
	s = calloc(1, sizeof(*s));
	if (!s)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	s->rt = rt;
	if (opts)
		s->opts = *opts;
	else
		cact_sandbox_session_options_init(&s->opts);
	pthread_mutex_init(&s->run_lock, NULL);
	rc = cact_request_dup(tmpl, &s->tmpl);
	frame = rc ? NULL : rt_prepare_frame(s->tmpl);
	s->profile = frame ? json_dumps(frame, JSON_COMPACT) : NULL;
	json_decref(frame);
	if (!s->profile) {
		rc = ut_err(err, CACT_ENOMEM, "out of memory");
		goto fail;
	}
	/* The cap first: a refused session takes no child. */
	pthread_mutex_lock(&rt->lock);
	if (rt->n_sessions >= rt->max_sessions) {
		rc = ut_err(err, CACT_ESANDBOX, "too many sessions (%u); close one first",
			    rt->max_sessions);
		pthread_mutex_unlock(&rt->lock);
		goto fail;
	}
	rt->n_sessions++;
	pthread_mutex_unlock(&rt->lock);
	if ((rc = start(s, err))) {
		pthread_mutex_lock(&rt->lock);
		rt->n_sessions--;
		pthread_mutex_unlock(&rt->lock);
		goto fail;
	}
	pthread_mutex_lock(&rt->lock);
	s->next = rt->sessions;
	rt->sessions = s;
	pthread_mutex_unlock(&rt->lock);
	*out = s;
	return 0;
fail:
	cact_request_free(s->tmpl);
	free(s->profile);
	pthread_mutex_destroy(&s->run_lock);
	free(s);
	return rc;
}

CACT_API int cact_sandbox_session_run(struct cact_sandbox_session *s, const char *code, size_t len,
				      const struct cact_sandbox_session_run_options *opts,
				      struct cact_result **out, struct cact_error *err)
{
	return rt_session_run(s, code, len, opts, NULL, NULL, out, err);
}

int rt_session_run(struct cact_sandbox_session *s, const char *code, size_t len,
		   const struct cact_sandbox_session_run_options *opts, rt_session_adjust_fn adjust,
		   void *user, struct cact_result **out, struct cact_error *err)
{
	struct cact_runtime *rt = s->rt;
	struct cact_request *req = NULL;
	struct rt_slot *slot;
	unsigned run_no;
	int rc, ended, ran = 0;

	*out = NULL;
	pthread_mutex_lock(&s->run_lock);
	pthread_mutex_lock(&rt->lock);
	if (!s->ended && s->slot && (s->slot->exited || s->slot->lost))
		end_locked(s, s->slot->lost ? "its zygote was lost" : "its process was killed");
	if (s->ended || !s->slot) {
		rc = ut_err(err, CACT_ESANDBOX, "session ended: %s; start a new session",
			    s->ended ? s->why : "closed");
		pthread_mutex_unlock(&rt->lock);
		goto out;
	}
	s->running = 1;
	atomic_store(&s->ctx.intr, 0);
	s->last_us = ut_now_us();
	slot = s->slot;
	run_no = s->runs + 1;
	pthread_mutex_unlock(&rt->lock);

	rc = cact_request_dup(s->tmpl, &req);
	if (rc)
		rc = ut_err(err, CACT_ENOMEM, "out of memory");
	else if ((rc = cact_request_set_code(req, code, len, err)) == 0 && opts && opts->timeout_ms)
		rc = cact_request_set_limit(req, CACT_LIMIT_TIMEOUT_MS, opts->timeout_ms, err);
	if (rc == 0) {
		if (opts) {
			cact_request_set_cancel_fd(req, opts->cancel_fd);
			cact_request_set_output(req, opts->output, opts->output_user);
		}
		if (adjust)
			adjust(req, user);
		s->ctx.run_no = run_no;
		s->ctx.cpu_total_ms = s->opts.cpu_total_ms;
		rc = rt_run_in(rt, req, slot, &s->ctx, out, err);
		ran = 1;
	}
	pthread_mutex_lock(&rt->lock);
	s->running = 0;
	s->last_us = ut_now_us();
	if (rc == 0)
		s->runs = run_no;
	/* Code refused before it ran (too large, a NUL) leaves the session as it was. */
	if (s->ctx.ended || (rc && ran))
		end_locked(s, s->ctx.ended ? s->ctx.why : err->message);
	ended = s->ended;
	pthread_mutex_unlock(&rt->lock);
	if (ended)
		release(s);
out:
	cact_request_free(req);
	pthread_mutex_unlock(&s->run_lock);
	return rc;
}

CACT_API int cact_sandbox_session_interrupt(struct cact_sandbox_session *s)
{
	struct cact_runtime *rt = s->rt;
	int rc = 0;

	pthread_mutex_lock(&rt->lock);
	if (s->ended || !s->slot)
		rc = CACT_ESANDBOX;
	else if (!s->running)
		rc = 1;
	else if (atomic_fetch_or(&s->ctx.intr, RT_INTR_ASKED) & RT_INTR_RUNNING)
		/* The runner handles SIGINT in a session: KeyboardInterrupt in the code. */
		syscall(SYS_pidfd_send_signal, s->slot->pidfd, SIGINT, NULL, 0);
	pthread_mutex_unlock(&rt->lock);
	return rc;
}

CACT_API int cact_sandbox_session_reset(struct cact_sandbox_session *s, struct cact_error *err)
{
	struct cact_runtime *rt = s->rt;
	int rc;

	pthread_mutex_lock(&rt->lock);
	end_locked(s, "reset");
	pthread_mutex_unlock(&rt->lock);
	pthread_mutex_lock(&s->run_lock);
	release(s);
	rc = start(s, err);
	if (rc) {
		pthread_mutex_lock(&rt->lock);
		s->ended = 1;
		ut_snprintf(s->why, sizeof(s->why), "a reset could not start one: %s",
			    err->message);
		pthread_mutex_unlock(&rt->lock);
	}
	pthread_mutex_unlock(&s->run_lock);
	return rc;
}

CACT_API const char *cact_sandbox_session_ended(struct cact_sandbox_session *s)
{
	const char *r = NULL;

	pthread_mutex_lock(&s->rt->lock);
	if (!s->ended && s->slot && (s->slot->exited || s->slot->lost))
		end_locked(s, s->slot->lost ? "its zygote was lost" : "its process was killed");
	if (s->ended) {
		ut_snprintf(s->ended_copy, sizeof(s->ended_copy), "%s", s->why);
		r = s->ended_copy;
	}
	pthread_mutex_unlock(&s->rt->lock);
	return r;
}

CACT_API pid_t cact_sandbox_session_pid(struct cact_sandbox_session *s)
{
	pid_t pid = 0;

	pthread_mutex_lock(&s->rt->lock);
	if (!s->ended && s->slot && !s->slot->exited)
		pid = s->pid;
	pthread_mutex_unlock(&s->rt->lock);
	return pid;
}

CACT_API unsigned cact_sandbox_session_runs(struct cact_sandbox_session *s)
{
	unsigned n;

	pthread_mutex_lock(&s->rt->lock);
	n = s->runs;
	pthread_mutex_unlock(&s->rt->lock);
	return n;
}

CACT_API void cact_sandbox_session_close(struct cact_sandbox_session *s)
{
	struct cact_runtime *rt;
	struct cact_sandbox_session **pp;

	if (!s)
		return;
	rt = s->rt;
	/* Kill first, so that a run in progress ends and gives up run_lock. */
	pthread_mutex_lock(&rt->lock);
	end_locked(s, "closed");
	pthread_mutex_unlock(&rt->lock);
	pthread_mutex_lock(&s->run_lock);
	release(s);
	pthread_mutex_unlock(&s->run_lock);
	pthread_mutex_lock(&rt->lock);
	for (pp = &rt->sessions; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	rt->n_sessions--;
	pthread_mutex_unlock(&rt->lock);
	cact_request_free(s->tmpl);
	free(s->profile);
	pthread_mutex_destroy(&s->run_lock);
	free(s);
}
