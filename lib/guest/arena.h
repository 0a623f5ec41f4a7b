/* SPDX-License-Identifier: MIT */
/*
 * The zygote's working memory: a region fork() does not copy
 * (MADV_DONTFORK), used by the zygote's loop between two forks.
 *
 * Every page the zygote writes after a fork is a copy-on-write fault while
 * the new child shares it, and on this kind of virtual machine each costs
 * tens of microseconds with a TLB flush on every CPU the zygote ran on. The
 * loop's messages therefore live here, where no child ever maps them (which
 * also keeps the host paths they name out of every execution's memory).
 */
#ifndef CACT_GUEST_ARENA_H
#define CACT_GUEST_ARENA_H

#include <stddef.h>

/* Reserves the region. 0 or -1. */
int arena_init(size_t size);
/* Bump allocation, 16-byte aligned; NULL when the region is full. */
void *arena_alloc(size_t size);
/* No-op: everything is given back at once by arena_reset. */
void arena_free(void *p);
/* Forgets every allocation. Call only when none is in use. */
void arena_reset(void);

#endif
