/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

CACT_API const char *cact_strerror(int code)
{
	switch (code) {
	case CACT_OK:
		return "success";
	case CACT_EINVAL:
		return "invalid argument";
	case CACT_ENOMEM:
		return "out of memory";
	case CACT_ESYS:
		return "system call failed";
	case CACT_EUNSUPPORTED:
		return "kernel feature missing";
	case CACT_ESANDBOX:
		return "sandbox failure";
	case CACT_EPROTO:
		return "protocol violation";
	case CACT_ETOOBIG:
		return "over size limit";
	case CACT_ENOENT:
		return "not found";
	case CACT_EEXIST:
		return "already exists";
	}
	return "unknown error";
}

CACT_API void cact_free(void *p)
{
	free(p);
}

static void vset(struct cact_error *err, int code, const char *fmt, va_list ap)
{
	char *p;

	err->code = code;
	if (vsnprintf(err->message, sizeof(err->message), fmt, ap) < 0)
		err->message[0] = '\0';
	/* One line, whatever the inputs quoted in it hold. */
	for (p = err->message; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

int ut_err(struct cact_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	va_start(ap, fmt);
	vset(err, code, fmt, ap);
	va_end(ap);
	return code;
}

const char *ut_errno_name(int errnum)
{
	static __thread char buf[32];
	const char *n = strerrorname_np(errnum);

	if (n)
		return n;
	snprintf(buf, sizeof(buf), "errno %d", errnum);
	return buf;
}

int ut_err_sys(struct cact_error *err, int code, int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t used;

	if (!err)
		return code;
	va_start(ap, fmt);
	vset(err, code, fmt, ap);
	va_end(ap);
	used = strlen(err->message);
	snprintf(err->message + used, sizeof(err->message) - used, ": %s", ut_errno_name(errnum));
	return code;
}

int ut_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return n;
}

uint64_t ut_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
