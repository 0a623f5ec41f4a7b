/* SPDX-License-Identifier: MIT */
/*
 * The zygote: pid 1 of the runtime's pid namespace, holding the warm
 * interpreter. It forks one child per execution into a fresh pid namespace
 * of its own, hands the host that child's ends (wire socket, stdout, stderr,
 * pidfd), and reports each child's exit. It never reads anything from a
 * child and never runs model-written code itself.
 *
 * Single-threaded on purpose: fork() and unshare(CLONE_NEWUSER) need it.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../util/util.h"
#include "../wire/ctl.h"
#include "../wire/wire.h"
#include "guest.h"
#include "py.h"

struct kid {
	pid_t pid;
	long long id;
};

static struct kid *kids;
static size_t n_kids, cap_kids;

static int remember(pid_t pid, long long id)
{
	if (n_kids == cap_kids) {
		size_t cap = cap_kids ? cap_kids * 2 : 16;
		struct kid *k = realloc(kids, cap * sizeof(*k));

		if (!k)
			return -1;
		kids = k;
		cap_kids = cap;
	}
	kids[n_kids].pid = pid;
	kids[n_kids].id = id;
	n_kids++;
	return 0;
}

static void send_simple(int ctl, const char *op, long long id, const char *message)
{
	json_t *msg = json_pack("{s:s, s:I, s:s}", "op", op, "id", id, "message", message);

	if (msg)
		ctl_send(ctl, msg, NULL, 0);
	json_decref(msg);
}

static void spawn(struct zygote *z, long long id, json_t *prepare)
{
	struct cact_error err = {0};
	int sv[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
	int fds[CTL_FDS];
	json_t *msg = NULL;
	pid_t pid;
	int pidfd = -1;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) || pipe2(out, O_CLOEXEC) ||
	    pipe2(errp, O_CLOEXEC)) {
		ut_err_sys(&err, CACT_ESYS, errno, "cannot create the execution's channels");
		goto fail;
	}
	/*
	 * A fresh pid namespace per execution: the child is its pid 1, sees no
	 * other process, and everything it starts dies with it. setns() back
	 * into our own namespace first: unshare(CLONE_NEWPID) only works from
	 * the active one.
	 */
	if (setns(z->pidns, CLONE_NEWPID) || unshare(CLONE_NEWPID)) {
		ut_err_sys(&err, CACT_ESANDBOX, errno, "cannot create a pid namespace");
		goto fail;
	}
	pyg_before_fork();
	pid = fork();
	if (pid == 0) {
		pyg_after_fork_child();
		close(sv[0]);
		close(out[0]);
		close(errp[0]);
		child_main(z, sv[1], out[1], errp[1]);
	}
	pyg_after_fork_parent();
	if (pid < 0) {
		ut_err_sys(&err, CACT_ESYS, errno, "fork");
		goto fail;
	}
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0 || remember(pid, id)) {
		ut_err_sys(&err, CACT_ESYS, errno, "pidfd_open");
		kill(pid, SIGKILL);
		goto fail;
	}
	/* Queue the prepare frame now: the child builds its sandbox without waiting for the host. */
	if (json_is_object(prepare) && wire_write(sv[0], prepare, CTL_MAX))
		kill(pid, SIGKILL);
	fds[0] = sv[0];
	fds[1] = out[0];
	fds[2] = errp[0];
	fds[3] = pidfd;
	msg = json_pack("{s:s, s:I}", "op", "spawned", "id", id);
	if (!msg || ctl_send(z->ctl, msg, fds, 4))
		kill(pid, SIGKILL);
	json_decref(msg);
	goto out;
fail:
	send_simple(z->ctl, "spawn_failed", id, err.message);
out:
	ut_close(&sv[0]);
	ut_close(&sv[1]);
	ut_close(&out[0]);
	ut_close(&out[1]);
	ut_close(&errp[0]);
	ut_close(&errp[1]);
	ut_close(&pidfd);
}

static void reap(struct zygote *z)
{
	for (;;) {
		struct rusage ru;
		int status;
		pid_t pid = wait4(-1, &status, WNOHANG, &ru);
		size_t i;

		if (pid <= 0)
			return;
		for (i = 0; i < n_kids; i++) {
			json_t *msg;
			long long cpu;

			if (kids[i].pid != pid)
				continue;
			cpu = (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec +
			      (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
			msg = json_pack("{s:s, s:I, s:i, s:I, s:I}", "op", "exited", "id",
					kids[i].id, "status", status, "cpu_us", cpu, "maxrss_kib",
					(long long)ru.ru_maxrss);
			if (msg)
				ctl_send(z->ctl, msg, NULL, 0);
			json_decref(msg);
			kids[i] = kids[--n_kids];
			break;
		}
	}
}

/* free() that first overwrites the whole chunk (glibc's tcache would keep it intact). */
static void wiping_free(void *p)
{
	if (p) {
		explicit_bzero(p, malloc_usable_size(p));
		free(p);
	}
}

void zygote_main(struct zygote *z, const char *level)
{
	struct pollfd pfd[2];
	sigset_t chld;
	json_t *hello;
	int sfd;

	/*
	 * Control messages (prepare frames name host paths) are wiped when
	 * freed: every execution forked later inherits this heap.
	 */
	json_set_alloc_funcs(malloc, wiping_free);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		send_simple(z->ctl, "fatal", 0, "signalfd failed");
		_exit(1);
	}
	hello = json_pack("{s:s, s:i, s:i, s:s, s:I, s:s}", "op", "hello", "features",
			  (int)z->features, "landlock_abi",
			  (z->features & CACT_FEATURE_LANDLOCK) ? sbx_landlock_abi() : 0, "level",
			  level, "base_vsz", (long long)z->base_vsz, "python", pyg_version());
	if (!hello || ctl_send(z->ctl, hello, NULL, 0))
		_exit(1);
	json_decref(hello);

	pfd[0].fd = z->ctl;
	pfd[0].events = POLLIN;
	pfd[1].fd = sfd;
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		if (pfd[1].revents) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				;
			reap(z);
		}
		if (pfd[0].revents) {
			struct cact_error err = {0};
			int fds[CTL_FDS];
			size_t nfds = 0;
			const char *op;
			json_t *msg;
			int rc = ctl_recv(z->ctl, &msg, &op, fds, &nfds, &err);

			/* The host is gone (or broke the protocol): so are we, and every child with us. */
			if (rc != 0)
				_exit(0);
			while (nfds > 0)
				close(fds[--nfds]);
			if (strcmp(op, "spawn") == 0)
				spawn(z, json_integer_value(json_object_get(msg, "id")),
				      json_object_get(msg, "prepare"));
			json_decref(msg);
		}
	}
}
