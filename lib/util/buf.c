/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "util.h"

void ut_buf_init(struct ut_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

static int grow(struct ut_buf *b, size_t need)
{
	size_t want;
	char *p;

	if (need + 1 <= b->alloc)
		return 0;
	want = b->alloc ? b->alloc : 256;
	while (want < need + 1)
		want = want > ((size_t)-1) / 2 ? need + 1 : want * 2;
	if (want > b->max + 1)
		want = b->max + 1;
	p = realloc(b->p, want);
	if (!p)
		return CACT_ENOMEM;
	b->p = p;
	b->alloc = want;
	return 0;
}

int ut_buf_add(struct ut_buf *b, const void *data, size_t n)
{
	if (n > b->max - b->len)
		return CACT_ETOOBIG;
	if (grow(b, b->len + n))
		return CACT_ENOMEM;
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int ut_buf_add_trunc(struct ut_buf *b, const void *data, size_t n)
{
	size_t room = b->max - b->len;

	if (n > room) {
		b->dropped += n - room;
		n = room;
	}
	return ut_buf_add(b, data, n);
}

int ut_buf_addf(struct ut_buf *b, const char *fmt, ...)
{
	va_list ap;
	char small[256];
	char *big = NULL;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return CACT_EINVAL;
	if ((size_t)n < sizeof(small))
		return ut_buf_add(b, small, (size_t)n);
	big = malloc((size_t)n + 1);
	if (!big)
		return CACT_ENOMEM;
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	rc = ut_buf_add(b, big, (size_t)n);
	free(big);
	return rc;
}

char *ut_buf_steal(struct ut_buf *b, size_t *len)
{
	char *p = b->p;

	if (!p) {
		p = calloc(1, 1);
		if (!p)
			return NULL;
	}
	if (len)
		*len = b->len;
	b->p = NULL;
	b->len = b->alloc = b->dropped = 0;
	return p;
}

void ut_buf_reset(struct ut_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->alloc = b->dropped = 0;
}
