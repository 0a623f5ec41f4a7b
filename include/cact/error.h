/* SPDX-License-Identifier: MIT */
#ifndef CACT_ERROR_H
#define CACT_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CACT_BUILDING)
#define CACT_API __attribute__((visibility("default")))
#else
#define CACT_API
#endif

/*
 * Return codes. Every public function that can fail returns 0 or one of these
 * negative values; the set is closed and part of the API: a new failure maps
 * onto an existing code rather than inventing one.
 */
enum cact_code {
	CACT_OK = 0,
	CACT_EINVAL = -1,      /* an argument or input is malformed or out of range */
	CACT_ENOMEM = -2,      /* an allocation failed */
	CACT_ESYS = -3,        /* a system call failed; the message names it */
	CACT_EUNSUPPORTED = -4, /* the kernel lacks a feature the isolation level needs */
	CACT_ESANDBOX = -5,    /* the sandbox or its helper process failed */
	CACT_EPROTO = -6,      /* a peer broke the wire protocol */
	CACT_ETOOBIG = -7,     /* an input or output is over its size cap */
	CACT_ENOENT = -8,      /* a named file, tool or entry does not exist */
	CACT_EEXIST = -9,      /* the target already exists */
};

#define CACT_ERROR_MAX 512

/*
 * Details of a failure. Caller-owned and fixed-size so that nothing is
 * allocated on an error path. Every function that takes a `struct cact_error *`
 * accepts NULL when the caller does not want the details.
 *
 * message: one lowercase line, most specific thing first, e.g.
 * "cannot mount /input/data: openat2: ENOENT".
 */
struct cact_error {
	int code;
	char message[CACT_ERROR_MAX];
};

/* Static name of a return code ("invalid argument", ...). Never NULL. */
CACT_API const char *cact_strerror(int code);

/* Frees memory the library handed to the caller as *owned* (strings, JSON). */
CACT_API void cact_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
