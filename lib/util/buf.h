/* SPDX-License-Identifier: MIT */
/*
 * A growable byte buffer with a hard cap (after curl's dynbuf): every byte
 * from the sandbox, the model or the network grows only inside one of these.
 */
#ifndef CACT_BUF_H
#define CACT_BUF_H

#include <stddef.h>

struct ut_buf {
	char *p;      /* NUL-terminated when non-NULL */
	size_t len;
	size_t alloc;
	size_t max;   /* hard cap on len */
	size_t dropped; /* bytes refused by ut_buf_add_trunc */
};

void ut_buf_init(struct ut_buf *b, size_t max);
/* Appends all of data or nothing: CACT_ETOOBIG past max, CACT_ENOMEM. */
int ut_buf_add(struct ut_buf *b, const void *data, size_t n);
/* Appends what fits under max and counts the rest in dropped. 0 or CACT_ENOMEM. */
int ut_buf_add_trunc(struct ut_buf *b, const void *data, size_t n);
int ut_buf_addf(struct ut_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the storage to the caller (owned, free()); the buffer is reset. */
char *ut_buf_steal(struct ut_buf *b, size_t *len);
void ut_buf_reset(struct ut_buf *b);

#endif
