/* SPDX-License-Identifier: MIT */
/*
 * Landlock: the second fence around the file system, behind the private
 * mount tree. Each execution builds its ruleset once its own /output and
 * /tmp are mounted (rules attach to inodes, and landlock skips mount points
 * that a mount hides) and restricts itself with it.
 *
 * Debian 12's kernel headers stop at ABI 2, so the newer access rights are
 * defined here; each is requested only when the running kernel's ABI has it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../util/util.h"
#include "sandbox.h"

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

#define LL_CREATE_RULESET_VERSION (1u << 0)
#define LL_RULE_PATH_BENEATH 1

/* ABI 1 */
#define LL_FS_EXECUTE (1ull << 0)
#define LL_FS_WRITE_FILE (1ull << 1)
#define LL_FS_READ_FILE (1ull << 2)
#define LL_FS_READ_DIR (1ull << 3)
#define LL_FS_REMOVE_DIR (1ull << 4)
#define LL_FS_REMOVE_FILE (1ull << 5)
#define LL_FS_MAKE_CHAR (1ull << 6)
#define LL_FS_MAKE_DIR (1ull << 7)
#define LL_FS_MAKE_REG (1ull << 8)
#define LL_FS_MAKE_SOCK (1ull << 9)
#define LL_FS_MAKE_FIFO (1ull << 10)
#define LL_FS_MAKE_BLOCK (1ull << 11)
#define LL_FS_MAKE_SYM (1ull << 12)
/* ABI 2 */
#define LL_FS_REFER (1ull << 13)
/* ABI 3 */
#define LL_FS_TRUNCATE (1ull << 14)
/* ABI 5 */
#define LL_FS_IOCTL_DEV (1ull << 15)
/* ABI 4 */
#define LL_NET_BIND_TCP (1ull << 0)
#define LL_NET_CONNECT_TCP (1ull << 1)
/* ABI 6 */
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ull << 0)
#define LL_SCOPE_SIGNAL (1ull << 1)

/* The kernel's struct landlock_ruleset_attr as of ABI 6; older kernels read a prefix. */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

struct ll_path_beneath {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

int sbx_landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);

	return abi < 0 ? 0 : (int)abi;
}

static uint64_t fs_rights(int abi)
{
	uint64_t r = LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE | LL_FS_READ_DIR |
		     LL_FS_REMOVE_DIR | LL_FS_REMOVE_FILE | LL_FS_MAKE_CHAR | LL_FS_MAKE_DIR |
		     LL_FS_MAKE_REG | LL_FS_MAKE_SOCK | LL_FS_MAKE_FIFO | LL_FS_MAKE_BLOCK |
		     LL_FS_MAKE_SYM;

	if (abi >= 2)
		r |= LL_FS_REFER;
	if (abi >= 3)
		r |= LL_FS_TRUNCATE;
	if (abi >= 5)
		r |= LL_FS_IOCTL_DEV;
	return r;
}

static int allow(int ruleset, const char *path, uint64_t access, struct cact_error *err)
{
	struct ll_path_beneath rule = {.allowed_access = access};
	int fd = open(path, O_PATH | O_CLOEXEC | O_NOFOLLOW);
	int rc = 0;

	if (fd < 0)
		return ut_err_sys(err, CACT_ESANDBOX, errno, "landlock: cannot open %s", path);
	rule.parent_fd = fd;
	if (syscall(SYS_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &rule, 0))
		rc = ut_err_sys(err, CACT_ESANDBOX, errno, "landlock_add_rule %s", path);
	close(fd);
	return rc;
}

int sbx_landlock_ruleset(int abi, struct cact_error *err)
{
	struct ll_ruleset_attr attr = {0};
	uint64_t all = fs_rights(abi);
	/* What /output and /tmp allow: files, folders, links and FIFOs, never devices or sockets. */
	uint64_t scratch = LL_FS_WRITE_FILE | LL_FS_READ_FILE | LL_FS_READ_DIR | LL_FS_REMOVE_DIR |
			   LL_FS_REMOVE_FILE | LL_FS_MAKE_DIR | LL_FS_MAKE_REG | LL_FS_MAKE_SYM |
			   LL_FS_MAKE_FIFO;
	size_t size = sizeof(uint64_t);
	int fd, rc;

	if (abi >= 2)
		scratch |= LL_FS_REFER;
	if (abi >= 3)
		scratch |= LL_FS_TRUNCATE;
	attr.handled_access_fs = all;
	if (abi >= 4) {
		/* No TCP at all: no rule follows, so every bind and connect is denied. */
		attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
		size = 2 * sizeof(uint64_t);
	}
	if (abi >= 6) {
		/* No signals to, and no abstract sockets of, processes outside the domain. */
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL;
		size = sizeof(attr);
	}
	fd = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
	if (fd < 0)
		return ut_err_sys(err, CACT_ESANDBOX, errno, "landlock_create_ruleset");
	/* The root holds only what the zygote put there: reading it is fine. */
	if ((rc = allow(fd, "/", LL_FS_READ_FILE | LL_FS_READ_DIR, err)) ||
	    (rc = allow(fd, "/output", scratch, err)) || (rc = allow(fd, "/tmp", scratch, err)) ||
	    (rc = allow(fd, "/dev/null", LL_FS_WRITE_FILE | LL_FS_READ_FILE, err))) {
		close(fd);
		return rc;
	}
	return fd;
}

int sbx_landlock_restrict(int ruleset)
{
	if (syscall(SYS_landlock_restrict_self, ruleset, 0))
		return -errno;
	return 0;
}
