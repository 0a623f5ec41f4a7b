/* SPDX-License-Identifier: MIT */
/*
 * A shared library opened at its first use. libcurl and libmicrohttpd pull
 * in some thirty libraries between them (TLS, Kerberos, LDAP, SSH, ...),
 * whose loading and relocation cost every process that links them about
 * 10 ms at start-up, network or not: `cact exec`, `cact --version`, a
 * Python `import cact`. The layers that use them call their functions
 * through wrappers of the same names (net/curl.c, mcp/mhd.c), which load
 * the library here the first time one is called.
 */
#ifndef CACT_LAZY_H
#define CACT_LAZY_H

#include <pthread.h>
#include <stddef.h>

/* One function to take from the library, and where its address goes. */
struct lazy_sym {
	const char *name;
	void **slot;
};

struct lazy_lib {
	const char *soname; /* "libcurl.so.4": the ABI the headers describe */
	const struct lazy_sym *syms;
	size_t n_syms;
	pthread_once_t once;
	int ok;
	char why[256]; /* why it could not be loaded: one line */
};

#define LAZY_LIB(soname, syms)                                                               \
	{                                                                                    \
		(soname), (syms), sizeof(syms) / sizeof((syms)[0]), PTHREAD_ONCE_INIT, 0, "" \
	}

/*
 * Opens l and fills every slot, once per process (thread-safe). 0 when all
 * are there; -1 otherwise, with l->why ("cannot load libcurl.so.4: ...").
 * The library is never closed.
 */
int lazy_load(struct lazy_lib *l);

#endif
