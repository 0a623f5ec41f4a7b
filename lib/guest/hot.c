/* SPDX-License-Identifier: MIT */
/*
 * The pages an execution child is going to touch, learned once and mapped
 * in bulk. docs/bench.md has the measurements behind this module.
 *
 * A child forked from the warm interpreter shares every page with the
 * zygote. CPython writes to many of them on its first run (reference
 * counts, the specializing interpreter's counters, caches), and each write
 * is a copy-on-write fault; the interpreter's code pages are not copied by
 * fork at all and fault in on first use. On a virtual machine that shadows
 * page tables every fault is an exit to the hypervisor: 20 to 50 µs each,
 * several hundred per child, which made faults most of an execution's CPU.
 *
 * So the zygote runs a probe child once, which goes through the same steps
 * as an execution child (the runner's fork hook, the warm-up, a run) and
 * then reads its own /proc/self/pagemap: the pages that were shared and
 * became private, or were absent and are now mapped, in writable memory.
 * The zygote then pins those pages (an io_uring buffer registration, never
 * used for I/O). fork() copies a pinned page into the child at once
 * instead of sharing it copy-on-write, into page tables no one runs on yet,
 * which costs a fraction of a fault in the child (and the zygote's own
 * writes to those pages stop faulting too). What cannot be pinned (no
 * io_uring, RLIMIT_MEMLOCK) each child maps itself with one
 * process_madvise(MADV_POPULATE_WRITE) call: the same work as the faults,
 * without an exception per page.
 *
 * Nothing here is a security boundary: it runs in the zygote and in children
 * before any sandbox step, only ever on the process's own memory, and a
 * failure only costs speed.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/io_uring.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../util/util.h"
#include "hot.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

#define PAGE	   4096ul
#define MAX_MAPS   1024
#define MAX_RANGES 2048
/* Mappings larger than this are reservations, not the interpreter's working set. */
#define MAX_MAP_PAGES (256ul << 10)
#define PM_PRESENT    (1ull << 63)
#define PM_FILE	      (1ull << 61)
#define PM_EXCLUSIVE  (1ull << 56)

struct map {
	uintptr_t start, end;
	int writable;
	int stack;
};

/*
 * Written ranges learned by hot_learn, read-only after it and inherited by
 * every child: [0, n_pinned) are pinned in the zygote, [n_pinned, n_ranges)
 * each child populates.
 */
static struct iovec ranges[MAX_RANGES];
static size_t n_ranges, n_pinned;
static int ring = -1;

/* Private, readable mappings of this process, from procfd's self/maps. */
static size_t read_maps(int procfd, struct map *maps, size_t max)
{
	char *text = NULL, *line, *next;
	size_t len = 0, n = 0;
	int fd = openat(procfd, "self/maps", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	if (ut_read_all(fd, 8u << 20, &text, &len, NULL)) {
		close(fd);
		return 0;
	}
	close(fd);
	for (line = text; line && *line && n < max; line = next) {
		unsigned long start, end;
		char perms[8], name[64] = "";

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %63s", &start, &end, perms, name) < 3)
			continue;
		/* [vvar], [vdso], [vsyscall]: the kernel's, never copied-on-write. */
		if (perms[0] != 'r' || perms[3] != 'p' || (name[0] == '[' && name[1] == 'v'))
			continue;
		if ((end - start) / PAGE > MAX_MAP_PAGES)
			continue;
		maps[n].start = start;
		maps[n].end = end;
		maps[n].writable = perms[1] == 'w';
		maps[n].stack = strcmp(name, "[stack]") == 0;
		n++;
	}
	free(text);
	return n;
}

/* The pagemap entries of every page of maps, in order. NULL on failure. */
static uint64_t *snapshot(int pagemap, const struct map *maps, size_t n, size_t pages)
{
	uint64_t *e = malloc(pages * sizeof(*e));
	size_t i, k = 0;

	if (!e)
		return NULL;
	for (i = 0; i < n; i++) {
		size_t np = (maps[i].end - maps[i].start) / PAGE;
		ssize_t got = pread(pagemap, e + k, np * sizeof(*e),
				    (off_t)(maps[i].start / PAGE * sizeof(*e)));

		if (got != (ssize_t)(np * sizeof(*e))) {
			free(e);
			return NULL;
		}
		k += np;
	}
	return e;
}

/*
 * Whether the probe's run wrote the page: private to it now, and shared,
 * a file page or absent before. (Pages it only read cost a fault or a
 * mapping either way; populating them ahead was measured not to help.)
 */
static int written(uint64_t before, uint64_t after, int writable)
{
	return writable && (after & PM_PRESENT) && !(after & PM_FILE) && (after & PM_EXCLUSIVE) &&
	       (!(before & PM_PRESENT) || !(before & PM_EXCLUSIVE) || (before & PM_FILE));
}

/* The probe child: exercise, then report the written ranges on out as (start, len) pairs. */
static void probe(int procfd, int out, const struct map *maps, size_t n, size_t pages,
		  void (*exercise)(void *), void *arg)
{
	int pagemap = openat(procfd, "self/pagemap", O_RDONLY | O_CLOEXEC);
	uint64_t *before, *after;
	size_t i, k = 0;

	if (pagemap < 0)
		_exit(1);
	before = snapshot(pagemap, maps, n, pages);
	if (!before)
		_exit(1);
	exercise(arg);
	after = snapshot(pagemap, maps, n, pages);
	if (!after)
		_exit(1);
	for (i = 0; i < n; i++) {
		size_t np = (maps[i].end - maps[i].start) / PAGE, j = 0;

		while (j < np) {
			uint64_t rec[2];
			size_t run = 1;

			if (!written(before[k + j], after[k + j], maps[i].writable)) {
				j++;
				continue;
			}
			while (j + run < np &&
			       written(before[k + j + run], after[k + j + run], maps[i].writable))
				run++;
			rec[0] = maps[i].start + j * PAGE;
			rec[1] = run * PAGE;
			if (ut_write_full(out, rec, sizeof(rec)))
				_exit(1);
			j += run;
		}
		k += np;
	}
	_exit(0);
}

/* Adds [start, end) to ranges, sorted and merged with what it touches. */
static void add_range(uintptr_t start, uintptr_t end)
{
	size_t i = 0, j;

	while (i < n_ranges && (uintptr_t)ranges[i].iov_base + ranges[i].iov_len < start)
		i++;
	if (i < n_ranges && (uintptr_t)ranges[i].iov_base <= end) {
		uintptr_t s0 = (uintptr_t)ranges[i].iov_base;
		uintptr_t e0 = s0 + ranges[i].iov_len;

		start = start < s0 ? start : s0;
		end = end > e0 ? end : e0;
		/* Swallow the ranges the grown one now reaches. */
		for (j = i + 1; j < n_ranges && (uintptr_t)ranges[j].iov_base <= end; j++) {
			uintptr_t ej = (uintptr_t)ranges[j].iov_base + ranges[j].iov_len;

			end = end > ej ? end : ej;
		}
		memmove(&ranges[i + 1], &ranges[j], (n_ranges - j) * sizeof(ranges[0]));
		n_ranges -= j - i - 1;
	} else {
		if (n_ranges == MAX_RANGES)
			return;
		memmove(&ranges[i + 1], &ranges[i], (n_ranges - i) * sizeof(ranges[0]));
		n_ranges++;
	}
	ranges[i].iov_base = (void *)start;
	ranges[i].iov_len = end - start;
}

/*
 * The pages the zygote itself writes between forks, which would otherwise
 * fault after every fork: the top of its stack, and the small writable
 * mappings holding the given addresses (libc's data, TLS, its own globals).
 */
static void add_own(const struct map *maps, size_t n, const void *const *own, size_t n_own)
{
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0) & ~(PAGE - 1);
	size_t i, k;

	for (i = 0; i < n; i++) {
		if (maps[i].stack && sp >= maps[i].start && sp < maps[i].end) {
			uintptr_t low = sp - 64 * PAGE;

			add_range(low > maps[i].start ? low : maps[i].start, maps[i].end);
			continue;
		}
		if (!maps[i].writable || (maps[i].end - maps[i].start) / PAGE > 64)
			continue;
		/* This program's own data (n_ranges lives there) always counts. */
		if ((uintptr_t)&n_ranges >= maps[i].start && (uintptr_t)&n_ranges < maps[i].end) {
			add_range(maps[i].start, maps[i].end);
			continue;
		}
		for (k = 0; k < n_own; k++) {
			if ((uintptr_t)own[k] >= maps[i].start && (uintptr_t)own[k] < maps[i].end) {
				add_range(maps[i].start, maps[i].end);
				break;
			}
		}
	}
}

/*
 * Pins ranges [0, n) as far as RLIMIT_MEMLOCK allows (a registration is all
 * or nothing, so the limit decides how many go in). Sets n_pinned.
 */
static void pin(void)
{
	struct io_uring_params p;
	struct rlimit rl;
	uint64_t budget, used = 0;
	size_t n = 0;

	n_pinned = 0;
	if (getrlimit(RLIMIT_MEMLOCK, &rl))
		return;
	/* The soft limit may be raised to the hard one; leave a little for others. */
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_MEMLOCK, &rl);
	}
	budget = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : rl.rlim_cur / 2;
	while (n < n_ranges && used + ranges[n].iov_len <= budget)
		used += ranges[n++].iov_len;
	if (n == 0)
		return;
	memset(&p, 0, sizeof(p));
	ring = (int)syscall(SYS_io_uring_setup, 1, &p);
	if (ring < 0)
		return;
	if (syscall(SYS_io_uring_register, ring, IORING_REGISTER_BUFFERS, ranges, (unsigned)n)) {
		close(ring);
		ring = -1;
		return;
	}
	n_pinned = n;
}

int hot_learn(int procfd, void (*exercise)(void *), void *arg, const void *const *own, size_t n_own,
	      struct hot_stats *st)
{
	struct map *maps = calloc(MAX_MAPS, sizeof(*maps));
	size_t n, i, pages = 0;
	int pipefd[2] = {-1, -1}, status, rc = -1;
	uint64_t rec[2];
	pid_t pid;

	st->pages = st->ranges = st->pinned_pages = 0;
	n_ranges = n_pinned = 0;
	if (!maps)
		return -1;
	n = read_maps(procfd, maps, MAX_MAPS);
	for (i = 0; i < n; i++)
		pages += (maps[i].end - maps[i].start) / PAGE;
	if (n == 0 || pipe2(pipefd, O_CLOEXEC))
		goto out;
	pid = fork();
	if (pid < 0)
		goto out;
	if (pid == 0) {
		close(pipefd[0]);
		probe(procfd, pipefd[1], maps, n, pages, exercise, arg);
	}
	ut_close(&pipefd[1]);
	while (ut_read_full(pipefd[0], rec, sizeof(rec)) == (ssize_t)sizeof(rec)) {
		add_range((uintptr_t)rec[0], (uintptr_t)(rec[0] + rec[1]));
		st->pages += rec[1] / PAGE;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	rc = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
	if (rc)
		n_ranges = 0;
	add_own(maps, n, own, n_own);
	pin();
	st->ranges = n_ranges;
	for (i = 0; i < n_pinned; i++)
		st->pinned_pages += ranges[i].iov_len / PAGE;
out:
	ut_close(&pipefd[0]);
	ut_close(&pipefd[1]);
	free(maps);
	return rc;
}

void hot_populate(void)
{
	size_t done = n_pinned;
	int self;

	/* The pinned ranges came with fork; the ring is the zygote's alone. */
	if (ring >= 0)
		close(ring);
	if (done == n_ranges)
		return;
	self = (int)syscall(SYS_pidfd_open, getpid(), 0);
	while (done < n_ranges) {
		size_t n = n_ranges - done, want = 0, i;
		ssize_t got;

		if (n > IOV_MAX)
			n = IOV_MAX;
		for (i = 0; i < n; i++)
			want += ranges[done + i].iov_len;
		got = self >= 0 ? syscall(SYS_process_madvise, self, &ranges[done], n,
					  MADV_POPULATE_WRITE, 0)
				: -1;
		/* Refused (kernels before 6.13 take only some advice this way) or cut short: one by one. */
		if (got != (ssize_t)want)
			for (i = 0; i < n; i++)
				madvise(ranges[done + i].iov_base, ranges[done + i].iov_len,
					MADV_POPULATE_WRITE);
		done += n;
	}
	if (self >= 0)
		close(self);
}

/* ---- the interpreter's code in huge pages ---- */

#define HUGE (2ul << 20)

/* Whether this kernel gives anonymous memory huge pages when asked (MADV_HUGEPAGE). */
static int huge_pages_work(void)
{
	char *raw =
		mmap(NULL, 2 * HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *p;
	int ok;

	if (raw == MAP_FAILED)
		return 0;
	p = (char *)(((uintptr_t)raw + HUGE - 1) & ~(HUGE - 1));
	ok = madvise(p, HUGE, MADV_HUGEPAGE) == 0;
	if (ok) {
		memset(p, 0, HUGE);
		ok = madvise(p, HUGE, MADV_COLLAPSE) == 0;
	}
	munmap(raw, 2 * HUGE);
	return ok;
}

/*
 * Replaces the 2 MiB at chunk with an anonymous copy in a huge page: the
 * copy is built aside and moved into place by one mremap(), so no code in
 * the chunk (this function's own included) ever goes missing. 1 when the
 * copy is a huge page, 0 when it is not (it is in place all the same), -1
 * when nothing changed.
 */
static int rehouse(uintptr_t chunk, int prot)
{
	char *raw =
		mmap(NULL, 2 * HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *copy;
	int huge;

	if (raw == MAP_FAILED)
		return -1;
	copy = (char *)(((uintptr_t)raw + HUGE - 1) & ~(HUGE - 1));
	/* Keep only the aligned 2 MiB of the reservation. */
	if (copy > raw)
		munmap(raw, (size_t)(copy - raw));
	if (copy + HUGE < raw + 2 * HUGE)
		munmap(copy + HUGE, (size_t)(raw + 2 * HUGE - (copy + HUGE)));
	madvise(copy, HUGE, MADV_HUGEPAGE);
	memcpy(copy, (void *)chunk, HUGE);
	huge = madvise(copy, HUGE, MADV_COLLAPSE) == 0;
	if (mprotect(copy, HUGE, prot) ||
	    mremap(copy, HUGE, HUGE, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)chunk) == MAP_FAILED) {
		munmap(copy, HUGE);
		return -1;
	}
	return huge;
}

int hot_text(int procfd, const void *sym, size_t *huge)
{
	uintptr_t base, end, x_start = 0, x_end = 0, c;
	char *text = NULL, *line, *next;
	size_t len = 0;
	Dl_info info;
	int fd;

	*huge = 0;
	if (!dladdr(sym, &info) || !info.dli_fbase || !huge_pages_work())
		return -1;
	base = (uintptr_t)info.dli_fbase;
	fd = openat(procfd, "self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || ut_read_all(fd, 8u << 20, &text, &len, NULL)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	/* The object's read-only part: its mappings from base up to the first writable one. */
	end = base;
	for (line = text; line && *line; line = next) {
		unsigned long a, b;
		char perms[8];

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (sscanf(line, "%lx-%lx %7s", &a, &b, perms) != 3 || a != end)
			continue;
		if (perms[1] == 'w' || perms[3] != 'p')
			break;
		if (perms[2] == 'x') {
			x_start = a;
			x_end = b;
		}
		end = b;
	}
	free(text);
	if (!x_end)
		return -1;
	for (c = (base + HUGE - 1) & ~(HUGE - 1); c + HUGE <= end; c += HUGE) {
		int exec = c < x_end && c + HUGE > x_start;
		int rc = rehouse(c, PROT_READ | (exec ? PROT_EXEC : 0));

		if (rc > 0)
			(*huge)++;
	}
	return 0;
}
