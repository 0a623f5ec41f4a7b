/* SPDX-License-Identifier: MIT */
/* The cact-guest helper: outer process, zygote and execution children. */
#ifndef CACT_GUEST_H
#define CACT_GUEST_H

#include <stddef.h>
#include <stdint.h>

#include "../sandbox/sandbox.h"
#include "hot.h"

/* Fixed fd numbers inside an execution child. */
#define GUEST_FD_WIRE 3

/* Exit status of an execution child that failed before the code ran. */
#define GUEST_SETUP_EXIT 120

/* Largest exec frame: the code cap plus room for the rest of the request. */
#define GUEST_EXEC_FRAME_MAX ((size_t)(1024 * 1024 * 1024))

/* What every execution child inherits from the zygote. */
struct zygote {
	int ctl;	  /* control socket to the host */
	int host_tree;	  /* detached copy of the host mount tree */
	int procfd;	  /* detached procfs of the zygote's pid namespace */
	int pidns;	  /* the zygote's own pid namespace */
	int landlock_abi; /* 0 without landlock */
	int devnull;
	struct sbx_filter base_filter; /* installed in the zygote */
	struct sbx_filter filter;      /* the closing layer each child installs */
	uint64_t base_vsz;	       /* address space of the warm interpreter */
	unsigned features;	       /* CACT_FEATURE_* in force */
	struct hot_stats hot;	       /* what the page probe learned */
	int one_shot;		       /* one execution: no preload, no warm-up run */
	int warm;		       /* the next child runs the warm-up snippet */
	int py_late;		       /* the interpreter starts in the child (one_shot) */
	const char *const *py_paths;   /* the runtime's python paths, for a late start */
	size_t n_py_paths;
};

/* The address space of this process now, from the procfs at dirfd (AT_FDCWD: /proc). */
uint64_t guest_vsz(int dirfd);

/* The zygote's main loop; never returns. */
void zygote_main(struct zygote *z, const char *level) __attribute__((noreturn));

/*
 * An execution child, right after fork: warms up, waits for its request,
 * enters the sandbox, runs the code, reports. Never returns.
 */
void child_main(struct zygote *z, int wire, int out, int err) __attribute__((noreturn));

#endif
