/* SPDX-License-Identifier: MIT */
/*
 * Host <-> zygote control channel: a SOCK_SEQPACKET socketpair carrying one
 * JSON object per datagram, with file descriptors attached where a message
 * hands over the ends of a new execution. Both ends are cact's own code, but
 * messages are still parsed strictly.
 *
 *   host -> zygote  {"op":"spawn","id":N,"prepare":{...},"warm":bool}
 *                   (prepare: optional; warm, default true: the child runs the warm-up)
 *   zygote -> host  {"op":"hello","features":bits,"landlock_abi":n,"level":"full"|"reduced",
 *                    "base_vsz":bytes,"python":"3.11.2","hot_pages":{"written":n,"pinned":n}}
 *                   {"op":"fatal","message":"..."}
 *                   {"op":"spawned","id":N}   + fds: wire socket, stdout, stderr, pidfd,
 *                                             and the child's stop pipe (below)
 *                   {"op":"spawn_failed","id":N,"message":"..."}
 *                   {"op":"exited","id":N,"status":wait-status,"cpu_us":n,"maxrss_kib":n}
 *
 * Stops do not travel on this socket: each child has a pipe of its own,
 * whose read end the host's execution polls directly, so that the report
 * of a stop (the host stops an execution when its code ends, then
 * harvests) reaches the waiting caller without passing through the
 * runtime's control thread. The zygote writes one struct ctl_stop to it
 * each time it sees the child's whole thread group stopped.
 */
#ifndef CACT_CTL_H
#define CACT_CTL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include <cact/error.h>

#define CTL_MAX 65536
#define CTL_FDS 5

/* One stop of a child, on its stop pipe (written whole: smaller than PIPE_BUF). */
struct ctl_stop {
	uint64_t cpu_us;     /* user and system time of every thread, dead ones too */
	uint64_t maxrss_kib; /* peak resident size */
};

/* Sends msg (borrowed) with nfds fds. 0 or CACT_ESYS / CACT_ETOOBIG. */
int ctl_send(int sock, const json_t *msg, const int *fds, size_t nfds);

/*
 * Receives one message. Returns 0 with *msg (new reference) and *op set,
 * 1 at end of stream, CACT_EPROTO or CACT_ESYS with err set. Received fds are
 * stored in fds[0..*nfds) (O_CLOEXEC, owned by the caller).
 */
int ctl_recv(int sock, json_t **msg, const char **op, int *fds, size_t *nfds,
	     struct cact_error *err);
/* As ctl_recv, into the caller's buffer of cap bytes (no allocation of its own). */
int ctl_recv_into(int sock, char *buf, size_t cap, json_t **msg, const char **op, int *fds,
		  size_t *nfds, struct cact_error *err);

#endif
