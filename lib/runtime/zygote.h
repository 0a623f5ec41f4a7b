/* SPDX-License-Identifier: MIT */
/* The host's side of the zygote: starting it, and the pool of warm children. */
#ifndef CACT_RT_ZYGOTE_H
#define CACT_RT_ZYGOTE_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include <cact/runtime.h>

/* One warm execution child, as the host holds it. */
struct rt_slot {
	long long id;
	int wire, out, err, pidfd;
	int exited;         /* the zygote reported its exit */
	int status;         /* wait status */
	uint64_t cpu_us;
	uint64_t maxrss_kib;
	struct rt_slot *next; /* in the runtime's list of live slots */
	int taken;          /* an execution owns it */
	char *profile;      /* the prepare frame it was sent; NULL: not yet prepared */
};

/* A spawn asked of the zygote and not yet answered. */
struct rt_spawn {
	long long id;
	char *profile; /* prepare frame the zygote hands the child; NULL: fresh */
	struct rt_spawn *next;
};

struct cact_runtime {
	pid_t outer;        /* the guest process the host spawned */
	int outer_pidfd;
	int ctl;
	pthread_mutex_t lock;     /* everything below, and reading ctl */
	pthread_mutex_t send_lock; /* writing ctl */
	pthread_cond_t cond;
	int reading;        /* one thread reads ctl at a time */
	int broken;
	char broken_msg[256];
	long long next_id;
	struct rt_slot *slots;
	struct rt_spawn *spawns; /* asked, not answered */
	unsigned want_fresh; /* executions waiting for an unprepared child */
	unsigned pool_size;
	char *pool_profile; /* the prepare frame pool children get (the last request's) */
	unsigned spawn_failures;
	char spawn_msg[256];
	/* What the zygote reported. */
	unsigned features;
	int landlock_abi;
	int reduced;
	uint64_t base_vsz;
	char python[32];
	uint64_t startup_us;
	char *isolation;    /* JSON, owned */
};

/*
 * Takes a child prepared with profile (a prepare frame's JSON text) for one
 * execution: a pool child prepared alike when there is one, else a fresh
 * child that is sent the profile now. Later pool children get this profile.
 * 0 or a negative code.
 */
int rt_slot_acquire(struct cact_runtime *rt, const char *profile, struct rt_slot **out,
		    uint64_t deadline_us, struct cact_error *err);

/* The pool's profile before any request: no mounts, default limits. Owned (free()). */
char *rt_default_profile(void);

/* Waits until the zygote reported the slot's exit (or the deadline, or breakage). */
int rt_slot_wait_exit(struct cact_runtime *rt, struct rt_slot *s, uint64_t deadline_us);

/* Closes the slot's fds and forgets it. */
void rt_slot_release(struct cact_runtime *rt, struct rt_slot *s);

#endif
