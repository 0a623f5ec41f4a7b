/* SPDX-License-Identifier: MIT */
#include <dlfcn.h>

#include "lazy.h"
#include "util.h"

/* pthread_once takes no argument: the library being loaded, per thread. */
static __thread struct lazy_lib *loading;

static void load_once(void)
{
	struct lazy_lib *l = loading;
	void *h = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
	size_t i;

	if (!h) {
		snprintf(l->why, sizeof(l->why), "cannot load %s: %s", l->soname, dlerror());
		return;
	}
	for (i = 0; i < l->n_syms; i++) {
		*l->syms[i].slot = dlsym(h, l->syms[i].name);
		if (!*l->syms[i].slot) {
			snprintf(l->why, sizeof(l->why), "cannot load %s: no %s", l->soname,
				 l->syms[i].name);
			return;
		}
	}
	l->ok = 1;
}

int lazy_load(struct lazy_lib *l)
{
	loading = l;
	pthread_once(&l->once, load_once);
	return l->ok ? 0 : -1;
}
