/* SPDX-License-Identifier: MIT */
/*
 * Small helpers every layer uses: error reporting into struct cact_error,
 * clock, fd I/O that survives EINTR and short transfers, fd passing.
 */
#ifndef CACT_UTIL_H
#define CACT_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <cact/error.h>

/* Last: system headers included after this one are already in (and so unharmed). */
#include "banned.h"

#define UT_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define UT_PRINTF(f, a)	 __attribute__((format(printf, f, a)))

/*
 * Sets err (when non-NULL) to code and the formatted message; returns code so
 * that callers can write `return ut_err(err, CACT_EINVAL, "...")`.
 */
int ut_err(struct cact_error *err, int code, const char *fmt, ...) UT_PRINTF(3, 4);

/* As ut_err, appending ": <ERRNO-NAME>" for errnum (e.g. ": ENOENT"). */
int ut_err_sys(struct cact_error *err, int code, int errnum, const char *fmt, ...) UT_PRINTF(4, 5);

/* "ENOENT" for ENOENT; "errno 1234" for unknown values (static or per-thread buffer). */
const char *ut_errno_name(int errnum);

/* Monotonic clock in microseconds. */
uint64_t ut_now_us(void);

/* write()/read() the whole buffer, retrying on EINTR and short transfers. -1 + errno on error. */
int ut_write_full(int fd, const void *buf, size_t len);
/*
 * write(2) that never raises SIGPIPE in the process: a peer that closed its
 * end gives -1 with EPIPE. For pipes to programs the library runs.
 */
ssize_t ut_write_nosig(int fd, const void *p, size_t n);

/*
 * Starts argv[0] (looked up in PATH when it has no slash) with fds in, out
 * and err as its 0, 1 and 2, in folder cwd (NULL: ours), in a process group
 * of its own, with default signal dispositions and an empty signal mask.
 * Returns 0 with *pid, or an errno value.
 */
int ut_spawn_group(char *const argv[], char *const envp[], const char *cwd, int in, int out,
		   int err, pid_t *pid);
/* Returns bytes read (< len only at end of file), or -1 + errno. */
ssize_t ut_read_full(int fd, void *buf, size_t len);
/*
 * Reads a small file (path relative to dirfd: AT_FDCWD or a folder's fd),
 * such as one of /proc, with one read into buf, NUL-terminated. Returns the
 * bytes read (at most size - 1; 0 for an empty or unreadable file).
 */
size_t ut_read_small(int dirfd, const char *path, char *buf, size_t size);

/*
 * Reads a whole file or stream into a new NUL-terminated buffer, failing with
 * CACT_ETOOBIG beyond max bytes. *out is owned (free()).
 */
int ut_read_all(int fd, size_t max, char **out, size_t *len, struct cact_error *err);

/* snprintf that reports truncation as -1. */
int ut_snprintf(char *buf, size_t size, const char *fmt, ...) UT_PRINTF(3, 4);

/*
 * Sends one datagram (SOCK_SEQPACKET) or stream chunk with up to 16 fds
 * attached. Returns 0 or -1 + errno.
 */
int ut_send_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds);
/*
 * Receives one message and up to max_fds fds (set O_CLOEXEC). Returns bytes
 * received (0 at end of stream) or -1 + errno; *nfds gets the fd count. Extra
 * fds beyond max_fds are closed and reported as EPROTO.
 */
ssize_t ut_recv_fds(int sock, void *buf, size_t len, int *fds, size_t max_fds, size_t *nfds);

void ut_close(int *fd);

#endif
