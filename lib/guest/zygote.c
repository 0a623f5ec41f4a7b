/* SPDX-License-Identifier: MIT */
/*
 * The zygote: pid 1 of the runtime's pid namespace, holding the warm
 * interpreter. It forks one child per execution into a fresh pid namespace
 * of its own, hands the host that child's ends (wire socket, stdout, stderr,
 * pidfd, stop pipe), and reports each child's stops and exit. It never
 * reads anything from a child and never runs model-written code itself.
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
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../util/util.h"
#include "../wire/ctl.h"
#include "../wire/wire.h"
#include "arena.h"
#include "guest.h"
#include "hot.h"
#include "py.h"

struct kid {
	pid_t pid;
	long long id;
	int stops; /* the write end of its stop pipe (ctl.h) */
};

/* Live children: in memory no child inherits, like everything the loop writes (arena.h). */
#define MAX_KIDS    16384
#define ARENA_BYTES (16u << 20)
static struct kid *kids;
static size_t n_kids;

static int remember(pid_t pid, long long id, int stops)
{
	if (n_kids == MAX_KIDS) {
		errno = EAGAIN;
		return -1;
	}
	kids[n_kids].pid = pid;
	kids[n_kids].id = id;
	kids[n_kids].stops = stops;
	n_kids++;
	return 0;
}

/* Writes obj as one wire frame (what wire_write does, in the loop's own memory). */
static int send_frame(int fd, const json_t *obj)
{
	size_t len = json_dumpb(obj, NULL, 0, JSON_COMPACT);
	unsigned char *buf = len ? arena_alloc(len + 4) : NULL;

	if (!buf || len > CTL_MAX || json_dumpb(obj, (char *)buf + 4, len, JSON_COMPACT) != len)
		return -1;
	buf[0] = (unsigned char)(len >> 24);
	buf[1] = (unsigned char)(len >> 16);
	buf[2] = (unsigned char)(len >> 8);
	buf[3] = (unsigned char)len;
	return ut_write_full(fd, buf, len + 4);
}

/* free() that first overwrites the whole chunk (glibc's tcache would keep it intact). */
static void wiping_free(void *p)
{
	if (p) {
		explicit_bzero(p, malloc_usable_size(p));
		free(p);
	}
}

static void send_simple(int ctl, const char *op, long long id, const char *message)
{
	json_t *msg = json_pack("{s:s, s:I, s:s}", "op", op, "id", id, "message", message);

	if (msg)
		ctl_send(ctl, msg, NULL, 0);
	json_decref(msg);
}

static struct kid *find_kid(pid_t pid)
{
	size_t i;

	for (i = 0; i < n_kids; i++)
		if (kids[i].pid == pid)
			return &kids[i];
	return NULL;
}

/* A forked child's channels, the zygote's ends, until the host has them. */
struct made {
	pid_t pid;
	int sv, out, err, pidfd, stops;
};

/* A one-shot runtime's child, forked before anyone asks for it (zygote_main); pid 0: none. */
static struct made ahead;

static void close_made(struct made *m)
{
	ut_close(&m->sv);
	ut_close(&m->out);
	ut_close(&m->err);
	ut_close(&m->pidfd);
	ut_close(&m->stops);
	m->pid = 0;
}

/*
 * Forks an execution child into a fresh pid namespace and remembers it
 * under id (0: nobody has asked for it yet). m gets the zygote's ends.
 */
static int make(struct zygote *z, long long id, int warm, struct made *m, struct cact_error *err)
{
	int sv[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1}, stops[2] = {-1, -1};
	pid_t pid;
	int pidfd = -1, rc = -1;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) || pipe2(out, O_CLOEXEC) ||
	    pipe2(errp, O_CLOEXEC) || pipe2(stops, O_CLOEXEC | O_NONBLOCK)) {
		ut_err_sys(err, CACT_ESYS, errno, "cannot create the execution's channels");
		goto out;
	}
	/*
	 * A fresh pid namespace per execution: the child is its pid 1, sees no
	 * other process, and everything it starts dies with it. setns() back
	 * into our own namespace first: unshare(CLONE_NEWPID) only works from
	 * the active one.
	 */
	if (setns(z->pidns, CLONE_NEWPID) || unshare(CLONE_NEWPID)) {
		ut_err_sys(err, CACT_ESANDBOX, errno, "cannot create a pid namespace");
		goto out;
	}
	z->warm = warm;
	pid = fork();
	if (pid == 0) {
		/*
		 * The arena is not here: back to the heap, wiped on free, since
		 * the prepare frame this child parses names host paths.
		 */
		json_set_alloc_funcs(malloc, wiping_free);
		hot_populate();
		/*
		 * Its own stop pipe is the host's and ours. Those of the other
		 * children came along with the fork: the sandbox's entry closes
		 * every fd above the wire before any code runs.
		 */
		close(stops[0]);
		close(stops[1]);
		close(sv[0]);
		close(out[0]);
		close(errp[0]);
		child_main(z, sv[1], out[1], errp[1]);
	}
	if (pid < 0) {
		ut_err_sys(err, CACT_ESYS, errno, "fork");
		goto out;
	}
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0 || remember(pid, id, stops[1])) {
		ut_err_sys(err, CACT_ESYS, errno, "pidfd_open");
		kill(pid, SIGKILL);
		ut_close(&pidfd);
		goto out;
	}
	stops[1] = -1; /* the kid's now: closed when it is reaped */
	*m = (struct made){.pid = pid,
			   .sv = sv[0],
			   .out = out[0],
			   .err = errp[0],
			   .pidfd = pidfd,
			   .stops = stops[0]};
	sv[0] = out[0] = errp[0] = stops[0] = -1;
	rc = 0;
out:
	ut_close(&sv[0]);
	ut_close(&sv[1]);
	ut_close(&out[0]);
	ut_close(&out[1]);
	ut_close(&errp[0]);
	ut_close(&errp[1]);
	ut_close(&stops[0]);
	ut_close(&stops[1]);
	return rc;
}

/* Gives the host a made child: its prepare frame queued, its ends sent with "spawned". */
static void hand_over(struct zygote *z, long long id, json_t *prepare, struct made *m)
{
	int fds[CTL_FDS] = {m->sv, m->out, m->err, m->pidfd, m->stops};
	json_t *msg;

	/* Queue the prepare frame now: the child builds its sandbox without waiting for the host. */
	if (json_is_object(prepare) && send_frame(m->sv, prepare))
		kill(m->pid, SIGKILL);
	msg = json_pack("{s:s, s:I}", "op", "spawned", "id", id);
	if (!msg || ctl_send(z->ctl, msg, fds, 5))
		kill(m->pid, SIGKILL);
	json_decref(msg);
	close_made(m);
}

static void spawn(struct zygote *z, long long id, json_t *prepare, int warm)
{
	struct cact_error err = {0};
	struct made m = {.sv = -1, .out = -1, .err = -1, .pidfd = -1, .stops = -1};
	struct kid *k = ahead.pid ? find_kid(ahead.pid) : NULL;

	if (k) {
		/* Not reaped yet: alive, or its exit is reported under this id. */
		k->id = id;
		m = ahead;
		ahead.pid = 0;
		hand_over(z, id, prepare, &m);
		return;
	}
	if (ahead.pid)
		close_made(&ahead); /* it died before anyone asked: a fresh one */
	if (make(z, id, warm, &m, &err)) {
		send_simple(z->ctl, "spawn_failed", id, err.message);
		return;
	}
	hand_over(z, id, prepare, &m);
}

/*
 * Reports what happened to children: a stop once the whole thread group of
 * one is stopped (the host stops an execution when its code has ended, and
 * harvests while nothing in it can run), on the child's stop pipe; "exited"
 * with the wait status and resource use once one is gone. For a stopped
 * child wait4 fills in the child's own use (its threads' run time, exact,
 * and its peak resident size): no /proc read on the report's path.
 */
static void reap(struct zygote *z)
{
	for (;;) {
		struct rusage ru;
		struct kid *k;
		json_t *msg;
		long long cpu;
		int status;
		pid_t pid = wait4(-1, &status, WNOHANG | WUNTRACED, &ru);

		if (pid <= 0)
			return;
		k = find_kid(pid);
		if (!k)
			continue;
		cpu = (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec +
		      (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
		if (WIFSTOPPED(status)) {
			struct ctl_stop st = {.cpu_us = (uint64_t)cpu,
					      .maxrss_kib = (uint64_t)ru.ru_maxrss};

			/* Nonblocking: a host that stopped reading loses news, never stalls us. */
			if (write(k->stops, &st, sizeof(st)) < 0) {
				/* EAGAIN (the host reads each stop at once) or EPIPE: nobody waits */
			}
			continue;
		}
		/* A child forked ahead that died before anyone asked for it: nobody to tell. */
		msg = k->id == 0 ? NULL
				 : json_pack("{s:s, s:I, s:i, s:I, s:I}", "op", "exited", "id",
					     k->id, "status", status, "cpu_us", cpu, "maxrss_kib",
					     (long long)ru.ru_maxrss);
		close(k->stops);
		*k = kids[--n_kids];
		if (msg)
			ctl_send(z->ctl, msg, NULL, 0);
		json_decref(msg);
	}
}

/*
 * The host is gone (or broke the protocol): every child is killed and
 * reaped before the zygote goes. Reaped here, their CPU time counts in the
 * zygote's and so in the host's resource use; left to the end of the pid
 * namespace, the kernel would reap them unaccounted (a dying namespace's
 * first process ignores SIGCHLD), and `time cact exec` would miss the run.
 */
static void end(void)
{
	size_t i;

	for (i = 0; i < n_kids; i++)
		kill(kids[i].pid, SIGKILL);
	while (wait4(-1, NULL, __WALL, NULL) > 0 || errno == EINTR)
		;
	_exit(0);
}

void zygote_main(struct zygote *z, const char *level)
{
	struct pollfd pfd[2];
	sigset_t chld;
	json_t *hello;
	int sfd;

	/* Everything the loop allocates lives in memory no child inherits. */
	kids = mmap(NULL, MAX_KIDS * sizeof(*kids), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (kids == MAP_FAILED || madvise(kids, MAX_KIDS * sizeof(*kids), MADV_DONTFORK) ||
	    arena_init(ARENA_BYTES)) {
		send_simple(z->ctl, "fatal", 0, "cannot map the zygote's memory");
		_exit(1);
	}
	json_set_alloc_funcs(arena_alloc, arena_free);
	/* A stop pipe whose host end is closed is EPIPE, not death (children set their own). */
	signal(SIGPIPE, SIG_IGN);
	/*
	 * SCHED_BATCH: woken, the zygote waits for its turn instead of
	 * preempting whoever runs. A session's child woke it at every run
	 * (SIGCHLD for SIGCONT, which it has nothing to do about) and lost the
	 * CPU to it on the run's path. Children go back to the default policy.
	 */
	{
		struct sched_param sp = {0};

		sched_setscheduler(0, SCHED_BATCH | SCHED_RESET_ON_FORK, &sp);
	}
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		send_simple(z->ctl, "fatal", 0, "signalfd failed");
		_exit(1);
	}
	/*
	 * A one-shot runtime has one execution to come: its child is forked
	 * now, so that its interpreter starts (py_late, most of a one-shot
	 * run) while the host reads this hello and sends the request. Failing
	 * here only loses the head start: spawn forks as usual.
	 */
	if (z->one_shot) {
		struct cact_error err = {0};

		ahead = (struct made){.sv = -1, .out = -1, .err = -1, .pidfd = -1, .stops = -1};
		if (make(z, 0, 0, &ahead, &err))
			ahead.pid = 0;
	}
	hello = json_pack("{s:s, s:i, s:i, s:s, s:I, s:s, s:{s:I, s:I, s:I}}", "op", "hello",
			  "features", (int)z->features, "landlock_abi",
			  (z->features & CACT_FEATURE_LANDLOCK) ? sbx_landlock_abi() : 0, "level",
			  level, "base_vsz", (long long)z->base_vsz, "python", pyg_version(),
			  "hot_pages", "written", (json_int_t)z->hot.pages, "pinned",
			  (json_int_t)z->hot.pinned_pages, "huge_text",
			  (json_int_t)z->hot.huge_text);
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
			char *buf = arena_alloc(CTL_MAX + 1);
			int fds[CTL_FDS];
			size_t nfds = 0;
			const char *op;
			json_t *msg;
			int rc = buf ? ctl_recv_into(z->ctl, buf, CTL_MAX, &msg, &op, fds, &nfds,
						     &err)
				     : CACT_ENOMEM;

			/* The host is gone (or broke the protocol): so are we, and every child with us. */
			if (rc != 0)
				end();
			while (nfds > 0)
				close(fds[--nfds]);
			if (strcmp(op, "spawn") == 0)
				spawn(z, json_integer_value(json_object_get(msg, "id")),
				      json_object_get(msg, "prepare"),
				      !json_is_false(json_object_get(msg, "warm")));
			json_decref(msg);
		}
		/* Nothing the loop allocated outlives an iteration. */
		arena_reset();
	}
}
