/* SPDX-License-Identifier: MIT */
#include <stdint.h>
#include <sys/mman.h>

#include "arena.h"

static char *base;
static size_t cap, used;

int arena_init(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	if (madvise(p, size, MADV_DONTFORK)) {
		munmap(p, size);
		return -1;
	}
	base = p;
	cap = size;
	used = 0;
	return 0;
}

void *arena_alloc(size_t size)
{
	size_t need = (size + 15) & ~(size_t)15;
	void *p;

	if (!base || need < size || need > cap - used)
		return NULL;
	p = base + used;
	used += need;
	return p;
}

void arena_free(void *p)
{
	(void)p;
}

void arena_reset(void)
{
	used = 0;
}
