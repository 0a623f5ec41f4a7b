/* SPDX-License-Identifier: MIT */
/*
 * The host's side of the zygote: starting it (again, when it is lost), the
 * pool of prepared children, the line of callers waiting for one, and the
 * runtime's control thread that reads the zygote's messages.
 */
#ifndef CACT_RT_ZYGOTE_H
#define CACT_RT_ZYGOTE_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include <cact/runtime.h>

/* One execution child, as the host holds it. */
struct rt_slot {
	long long id;
	unsigned gen; /* the zygote generation that forked it */
	int wire, out, err, pidfd;
	/*
	 * The read end of its stop pipe (nonblocking): the zygote writes a
	 * struct ctl_stop (wire/ctl.h) each time it sees the whole thread group
	 * stopped. Read by the execution that owns the slot, never by the
	 * control thread.
	 */
	int stops;
	/*
	 * Written (eventfd) by the control thread whenever the fields below
	 * change: the execution that owns the slot polls it.
	 */
	int evfd;
	int taken;	     /* an execution owns it (or a waiter was handed it) */
	int session;	     /* a session owns it: not counted as a running execution */
	int exited;	     /* the zygote reported its exit: status is final */
	int lost;	     /* its zygote died: no report will ever come */
	int status;	     /* wait status */
	uint64_t cpu_us;     /* at its exit */
	uint64_t maxrss_kib; /* at its exit */
	char *profile;	     /* the prepare frame it was sent (JSON text) */
	uint64_t since_us;   /* when it became idle */
	struct rt_slot *next;
};

/* A spawn asked of the zygote and not yet answered. */
struct rt_spawn {
	long long id;
	unsigned gen;
	char *profile;
	struct rt_spawn *next;
};

/* A caller waiting for a child prepared with its profile. */
struct rt_waiter {
	const char *profile;  /* borrowed from the caller */
	struct rt_slot *slot; /* set when it is handed one */
	int failed;	      /* the runtime gave up meanwhile */
	pthread_cond_t cond;
	struct rt_waiter *next; /* in arrival order */
};

/* What one zygote generation reported in its hello. */
struct rt_gen {
	pid_t outer; /* the guest process the host spawned; -1: none */
	int outer_pidfd;
	int ctl;
	unsigned no; /* 1 for the first, counting restarts */
};

struct cact_runtime {
	pthread_mutex_t lock; /* everything below */
	pthread_t thread;     /* the control thread */
	int thread_started;
	int wake; /* eventfd: callers wake the control thread */
	int quitting;
	struct rt_gen gen; /* the current zygote (gen.ctl < 0 while there is none) */
	int broken;	   /* gave up: no more zygotes */
	char broken_msg[256];
	uint64_t deaths[5]; /* times of the last losses (restart rate) */
	unsigned n_deaths;
	long long next_id;
	struct rt_slot *slots;
	struct rt_spawn *spawns;
	struct rt_waiter *waiters, **waiters_tail;
	unsigned n_waiters, n_running;
	unsigned pool_min, pool_max, pool_target;
	uint64_t last_wait_us; /* when a caller last had to wait */
	char *pool_profile;    /* the prepare frame pool children get (the last request's) */
	unsigned max_running, queue_max;
	uint64_t queue_timeout_us;
	unsigned spawn_failures;
	char spawn_msg[256];
	uint64_t executions, busy, restarts;
	struct cact_sandbox_session *sessions; /* live ones, for the idle and lifetime checks */
	unsigned n_sessions, max_sessions;
	cact_runtime_event_fn event_fn;
	void *event_user;
	/* How to start a zygote: the helper's path and its configuration. */
	char guest[4096];
	char *guest_cfg;
	/* What the first zygote reported. */
	unsigned features;
	int landlock_abi;
	int reduced;
	uint64_t base_vsz;
	char python[32];
	uint64_t startup_us;
	char *isolation; /* JSON, owned */
};

/* Why rt_slot_acquire did not hand out a slot. */
enum rt_acquire {
	RT_ACQ_OK = 0,
	RT_ACQ_BUSY = 1, /* the line is full, or the wait ran out: err says which */
};

/*
 * Takes a child prepared with profile (a prepare frame's JSON text) for one
 * execution, waiting in line behind earlier callers up to the runtime's
 * queue bound. Later pool children get this profile. Returns RT_ACQ_OK with
 * *out, RT_ACQ_BUSY, or a negative code (the runtime gave up).
 */
int rt_slot_acquire(struct cact_runtime *rt, const char *profile, struct rt_slot **out,
		    struct cact_error *err);

/* The pool's profile before any request: no mounts, default limits. Owned (free()). */
char *rt_default_profile(void);

/* Reads the slot's state under the runtime's lock into the caller's copy. */
void rt_slot_state(struct cact_runtime *rt, const struct rt_slot *s, struct rt_slot *copy);

/*
 * Ends the slot's use: kills the child when it may still live (its
 * teardown and reaping happen off the caller's path) and forgets it.
 */
void rt_slot_release(struct cact_runtime *rt, struct rt_slot *s);

#endif
