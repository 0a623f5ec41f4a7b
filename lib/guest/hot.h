/* SPDX-License-Identifier: MIT */
/*
 * The pages an execution child touches, learned once in the zygote and
 * mapped in bulk by every child right after fork (hot.c says why).
 */
#ifndef CACT_GUEST_HOT_H
#define CACT_GUEST_HOT_H

#include <stddef.h>

struct hot_stats {
	size_t pages;	     /* pages a child writes, as learned */
	size_t ranges;	     /* in that many contiguous ranges */
	size_t pinned_pages; /* of which the zygote pinned (fork copies them) */
	size_t huge_text;    /* 2 MiB chunks of the interpreter's code in huge pages */
};

/*
 * Forks a probe child that runs exercise(arg) (the steps of an execution
 * child, output discarded) and learns from its page map which pages that
 * made private, then pins them, with the pages the zygote itself writes
 * between forks (its stack's top, and the small writable mappings that
 * hold the n_own addresses own[]). procfd is a procfs of this process's pid
 * namespace. Call in the zygote, single-threaded, before the first
 * execution child. 0, or -1 when the probe learned nothing (children then
 * fault those pages in one by one).
 */
int hot_learn(int procfd, void (*exercise)(void *), void *arg, const void *const *own, size_t n_own,
	      struct hot_stats *st);

/*
 * In a fresh child: closes the zygote's pinning ring and maps (copies) the
 * learned pages the zygote could not pin. Best effort.
 */
void hot_populate(void);

/*
 * Moves the read-only part of the shared object that defines sym (the
 * interpreter) into anonymous huge pages at the same addresses, 2 MiB
 * chunk by 2 MiB chunk: a child then maps the interpreter's code with a
 * handful of entries instead of one per 4 KiB page, which on a virtual
 * machine that shadows page tables is most of what a first run costs. A
 * chunk that holds code is executable as a whole (with the headers or
 * read-only data it shares a chunk with). Call in the zygote,
 * single-threaded, before anything else maps memory near the library.
 * *huge gets how many chunks became huge pages. 0, or -1 when nothing was
 * done (no huge pages on this kernel).
 */
int hot_text(int procfd, const void *sym, size_t *huge);

#endif
