/* SPDX-License-Identifier: MIT */
/*
 * The execution filter as the guest uses it: both layers compiled when cact
 * was built (seccomp_bpf.h, written by tools/seccomp_bpf.c from the list in
 * seccomp.c), so a guest neither links libseccomp nor compiles the same
 * program at every start.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../util/util.h"
#include "sandbox.h"
#include "seccomp_bpf.h"

void sbx_seccomp_builtin(struct sbx_filter *base, struct sbx_filter *closing)
{
	base->insns = seccomp_base;
	base->len = (unsigned short)UT_ARRAY_SIZE(seccomp_base);
	closing->insns = seccomp_closing;
	closing->len = (unsigned short)UT_ARRAY_SIZE(seccomp_closing);
}

int sbx_seccomp_install(const struct sbx_filter *f)
{
	/* The kernel only reads the program: the cast drops const for its struct's sake. */
	struct sock_fprog prog = {.len = f->len, .filter = (struct sock_filter *)f->insns};
	long rc;

	/* TSYNC: every thread of the process gets the filter, or none does. */
	rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
	if (rc != 0)
		return rc < 0 ? -errno : -ESRCH;
	return 0;
}
