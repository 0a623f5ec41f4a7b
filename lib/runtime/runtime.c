/* SPDX-License-Identifier: MIT */
/*
 * The runtime: spawns cact-guest, keeps a pool of prepared children so that
 * the fork, the warm-up and the sandbox's set-up happen before a request
 * arrives, lines up callers when there is none, and replaces a zygote that
 * died.
 *
 * One control thread per runtime reads the zygote's messages, files them
 * under the runtime's lock, hands children to waiting callers in arrival
 * order, asks the zygote for more, and restarts it when it is lost. Callers
 * never read the control socket: they wait on their own condition variable
 * (for a child) or on their child's eventfd (for its stop or exit).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cact/cact.h>

#include "../util/util.h"
#include "../wire/ctl.h"
#include "rt.h"
#include "session.h"
#include "zygote.h"

#define STARTUP_TIMEOUT_US (60ull * 1000000)
/* Losses tolerated: more than RESTART_MAX within RESTART_WINDOW_US and the runtime gives up. */
#define RESTART_MAX	  5
#define RESTART_WINDOW_US (60ull * 1000000)
/* The pool shrinks back to its minimum after this long without a caller having to wait. */
#define POOL_IDLE_US (10ull * 1000000)
/* Housekeeping period of the control thread. */
#define TICK_MS 1000

/* The environment of the sandbox, built from nothing. */
static char *const guest_env[] = {
	"PATH=/usr/bin:/bin",
	"LANG=C.UTF-8",
	"HOME=/tmp",
	"TMPDIR=/tmp",
	"USER=sandbox",
	"LOGNAME=sandbox",
	/*
	 * Numerical libraries' thread pools held to one thread: they start
	 * when the library loads, and a pool started in the zygote (by a
	 * preloaded module) would keep it from forking. The code may still
	 * start threads of its own.
	 */
	"OPENBLAS_NUM_THREADS=1",
	"GOTO_NUM_THREADS=1",
	"OMP_NUM_THREADS=1",
	"MKL_NUM_THREADS=1",
	"BLIS_NUM_THREADS=1",
	"NUMEXPR_NUM_THREADS=1",
	"VECLIB_MAXIMUM_THREADS=1",
	/* matplotlib headless: cact's backend (Agg; show() saves to /output), settings in /tmp. */
	"MPLBACKEND=module://_cact_matplotlib",
	"MPLCONFIGDIR=/tmp/matplotlib",
	NULL,
};

CACT_API const char *cact_version(void)
{
	return CACT_VERSION;
}

CACT_API void cact_runtime_options_init(struct cact_runtime_options *o)
{
	memset(o, 0, sizeof(*o));
	o->isolation = CACT_ISOLATION_FULL;
	o->pool_size = 1;
	o->pool_max = 8;
	o->max_running = 64;
	o->queue_max = 256;
	o->queue_timeout_ms = 30000;
	o->max_sessions = 64;
}

char *rt_default_profile(void)
{
	struct cact_request *req = NULL;
	json_t *frame;
	char *text = NULL;

	if (cact_request_new(&req))
		return NULL;
	frame = rt_prepare_frame(req);
	if (frame)
		text = json_dumps(frame, JSON_COMPACT);
	json_decref(frame);
	cact_request_free(req);
	return text;
}

static int find_guest(const struct cact_runtime_options *o, char *out, size_t size,
		      struct cact_error *err)
{
	const char *env = getenv("CACT_GUEST");
	char self[PATH_MAX];
	ssize_t n;

	if (o->guest_path) {
		if (access(o->guest_path, X_OK))
			return ut_err_sys(err, CACT_ENOENT, errno, "guest helper %s",
					  o->guest_path);
		return ut_snprintf(out, size, "%s", o->guest_path) < 0 ? CACT_EINVAL : 0;
	}
	if (env && *env) {
		if (access(env, X_OK))
			return ut_err_sys(err, CACT_ENOENT, errno, "guest helper $CACT_GUEST=%s",
					  env);
		return ut_snprintf(out, size, "%s", env) < 0 ? CACT_EINVAL : 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		char *slash;

		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			if (ut_snprintf(out, size, "%s/cact-guest", self) >= 0 &&
			    access(out, X_OK) == 0)
				return 0;
		}
	}
	if (ut_snprintf(out, size, "%s/cact-guest", CACT_LIBEXECDIR) >= 0 && access(out, X_OK) == 0)
		return 0;
	return ut_err(err, CACT_ENOENT,
		      "cannot find the cact-guest helper (not next to the program, not in %s; "
		      "set CACT_GUEST)",
		      CACT_LIBEXECDIR);
}

static void wake(struct cact_runtime *rt)
{
	uint64_t one = 1;

	if (write(rt->wake, &one, sizeof(one)) < 0) {
		/* The counter is full: the thread is awake anyway. */
	}
}

static void notify(struct rt_slot *s)
{
	uint64_t one = 1;

	if (s->evfd >= 0 && write(s->evfd, &one, sizeof(one)) < 0) {
		/* Full counter: the owner has a wake-up pending. */
	}
}

/* ---- one zygote generation ---- */

static int spawn_guest(const char *guest, const char *config, struct rt_gen *g,
		       struct cact_error *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	char pid[32];
	char *argv[] = {"cact-guest", "zygote", pid, (char *)config, NULL};
	int sv[2], rc;

	ut_snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return ut_err_sys(err, CACT_ESYS, errno, "socketpair");
	posix_spawn_file_actions_init(&fa);
	/* Only the control socket crosses: fd 3; stdio is /dev/null. */
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
	posix_spawn_file_actions_addclosefrom_np(&fa, 4);
	/* A session of its own, default signals, nothing blocked: not the host's. */
	posix_spawnattr_init(&attr);
	{
		sigset_t none, all;

		sigemptyset(&none);
		sigfillset(&all);
		posix_spawnattr_setsigmask(&attr, &none);
		posix_spawnattr_setsigdefault(&attr, &all);
	}
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
						POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(&g->outer, guest, &fa, &attr, argv, guest_env);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(sv[1]);
	if (rc) {
		close(sv[0]);
		g->outer = -1;
		return ut_err_sys(err, CACT_ESYS, rc, "cannot start %s", guest);
	}
	g->ctl = sv[0];
	g->outer_pidfd = (int)syscall(SYS_pidfd_open, g->outer, 0);
	return 0;
}

/* Waits for the zygote's hello; *hello gets it (new reference). */
static int await_hello(struct rt_gen *g, json_t **hello, struct cact_error *err)
{
	uint64_t deadline = ut_now_us() + STARTUP_TIMEOUT_US;
	struct pollfd pfd = {.fd = g->ctl, .events = POLLIN};
	int fds[CTL_FDS];
	size_t nfds;
	const char *op;
	json_t *msg = NULL;
	int rc;

	*hello = NULL;
	for (;;) {
		uint64_t now = ut_now_us();

		if (now >= deadline)
			return ut_err(err, CACT_ESANDBOX, "the zygote did not start within %llu s",
				      STARTUP_TIMEOUT_US / 1000000);
		rc = poll(&pfd, 1, (int)((deadline - now) / 1000) + 1);
		if (rc <= 0)
			continue;
		rc = ctl_recv(g->ctl, &msg, &op, fds, &nfds, err);
		if (rc == 1)
			return ut_err(err, CACT_ESANDBOX, "the zygote exited during start-up");
		if (rc)
			return rc;
		while (nfds > 0)
			close(fds[--nfds]);
		if (strcmp(op, "hello") == 0)
			break;
		if (strcmp(op, "fatal") == 0) {
			json_t *code = json_object_get(msg, "code");

			rc = ut_err(
				err,
				json_integer_value(code) == CACT_EUNSUPPORTED ? CACT_EUNSUPPORTED
									      : CACT_ESANDBOX,
				"%s", json_string_value(json_object_get(msg, "message")) ?: "?");
			json_decref(msg);
			return rc;
		}
		json_decref(msg);
		msg = NULL;
	}
	*hello = msg;
	return 0;
}

/*
 * Ends generation g: closing the control socket ends the zygote, whose
 * death ends every child; then the helper is reaped. Fills why (when
 * non-NULL) with how the helper ended.
 */
static void end_gen(struct rt_gen *g, char *why, size_t size)
{
	int status = 0;

	ut_close(&g->ctl);
	if (g->outer > 0) {
		struct pollfd pfd = {.fd = g->outer_pidfd, .events = POLLIN};

		if (g->outer_pidfd < 0 || poll(&pfd, 1, 2000) <= 0)
			kill(g->outer, SIGKILL);
		while (waitpid(g->outer, &status, 0) < 0 && errno == EINTR)
			;
		if (why && WIFSIGNALED(status))
			ut_snprintf(why, size, "the guest helper was killed by SIG%s",
				    sigabbrev_np(WTERMSIG(status)) ?: "?");
		else if (why)
			ut_snprintf(why, size, "the guest helper exited with status %d",
				    WEXITSTATUS(status));
	}
	ut_close(&g->outer_pidfd);
	g->outer = -1;
}

/* Starts a zygote into *g (all or nothing). */
static int start_gen(struct cact_runtime *rt, struct rt_gen *g, json_t **hello,
		     struct cact_error *err)
{
	int rc;

	g->outer = -1;
	g->outer_pidfd = g->ctl = -1;
	if ((rc = spawn_guest(rt->guest, rt->guest_cfg, g, err)))
		return rc;
	if ((rc = await_hello(g, hello, err))) {
		end_gen(g, NULL, 0);
		return rc;
	}
	fcntl(g->ctl, F_SETFL, O_NONBLOCK);
	return 0;
}

/* ---- the pool ---- */

static void close_slot(struct rt_slot *s)
{
	ut_close(&s->wire);
	ut_close(&s->out);
	ut_close(&s->err);
	ut_close(&s->pidfd);
	ut_close(&s->stops);
	ut_close(&s->evfd);
	free(s->profile);
	free(s);
}

static void kill_slot(const struct rt_slot *s)
{
	if (s->pidfd >= 0)
		syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL, 0);
}

static void unlink_slot(struct cact_runtime *rt, struct rt_slot *s)
{
	struct rt_slot **pp;

	for (pp = &rt->slots; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			return;
		}
	}
}

static struct rt_slot *find_slot(struct cact_runtime *rt, long long id)
{
	struct rt_slot *s;

	for (s = rt->slots; s; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

/* Removes the record of spawn id and returns its profile (owned), or NULL. */
static char *answered(struct cact_runtime *rt, long long id)
{
	struct rt_spawn **pp, *sp;
	char *profile;

	for (pp = &rt->spawns; *pp; pp = &(*pp)->next) {
		if ((*pp)->id == id) {
			sp = *pp;
			*pp = sp->next;
			profile = sp->profile;
			free(sp);
			return profile;
		}
	}
	return NULL;
}

static unsigned count_spawns(const struct cact_runtime *rt, const char *profile)
{
	const struct rt_spawn *sp;
	unsigned n = 0;

	for (sp = rt->spawns; sp; sp = sp->next)
		if (!profile || strcmp(sp->profile, profile) == 0)
			n++;
	return n;
}

/* Idle children prepared with profile (any profile when NULL). */
static unsigned count_idle(const struct cact_runtime *rt, const char *profile)
{
	const struct rt_slot *s;
	unsigned n = 0;

	for (s = rt->slots; s; s = s->next)
		if (!s->taken && !s->exited && (!profile || strcmp(s->profile, profile) == 0))
			n++;
	return n;
}

/* The oldest idle child prepared with profile, or NULL. */
static struct rt_slot *idle_slot(struct cact_runtime *rt, const char *profile)
{
	struct rt_slot *s, *best = NULL;

	for (s = rt->slots; s; s = s->next)
		if (!s->taken && !s->exited && strcmp(s->profile, profile) == 0 &&
		    (!best || s->id < best->id))
			best = s;
	return best;
}

/*
 * Asks the zygote for a child prepared with profile. Lock held. warm: the
 * child runs the warm-up snippet before it builds its sandbox (lib/guest:
 * the pages a first run touches, touched off the request path). Only for
 * the pool: a caller already waiting for this child would wait for the
 * warm-up too, and the run would then touch a little less than the
 * warm-up did; without it the caller has its result sooner and the machine
 * does less work (docs/bench.md, "Warm-up only for the pool").
 */
static int ask_spawn(struct cact_runtime *rt, const char *profile, int warm)
{
	struct rt_spawn *sp = calloc(1, sizeof(*sp));
	json_t *msg = NULL, *frame = NULL;
	int rc = CACT_ENOMEM;

	if (!sp)
		return CACT_ENOMEM;
	sp->id = ++rt->next_id;
	sp->gen = rt->gen.no;
	sp->profile = strdup(profile);
	frame = json_loads(profile, 0, NULL);
	if (!sp->profile || !frame)
		goto out;
	msg = json_pack("{s:s, s:I, s:O, s:b}", "op", "spawn", "id", sp->id, "prepare", frame,
			"warm", warm);
	if (!msg)
		goto out;
	rc = ctl_send(rt->gen.ctl, msg, NULL, 0);
	if (rc == CACT_ETOOBIG) {
		/* Too big for one control message: the zygote sends it, then the host does. */
		json_object_del(msg, "prepare");
		rc = ctl_send(rt->gen.ctl, msg, NULL, 0);
		if (rc == 0)
			sp->id = -sp->id; /* marks "send the profile on arrival" */
	}
	if (rc)
		goto out;
	sp->next = rt->spawns;
	rt->spawns = sp;
	sp = NULL;
out:
	if (sp) {
		free(sp->profile);
		free(sp);
	}
	json_decref(frame);
	json_decref(msg);
	return rc;
}

/* Sends a child its prepare frame when the zygote could not carry it. */
static void send_profile(struct rt_slot *s)
{
	size_t len = strlen(s->profile);
	unsigned char hdr[4] = {(unsigned char)(len >> 24), (unsigned char)(len >> 16),
				(unsigned char)(len >> 8), (unsigned char)len};

	/* The child reads it at once: a blocking write is short. */
	if (ut_write_full(s->wire, hdr, 4) || ut_write_full(s->wire, s->profile, len))
		kill_slot(s);
}

static unsigned spawn_cap(void)
{
	static unsigned cap;

	/* Children prepared at once: more only compete with the executions for the CPUs. */
	if (!cap) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		cap = n > 2 ? (unsigned)n : 2;
	}
	return cap;
}

/*
 * Hands idle children to waiting callers in arrival order, asks for the
 * children still missing (callers first, then the pool), and lets excess
 * idle children go. Lock held, zygote up.
 */
static void serve(struct cact_runtime *rt)
{
	struct {
		const char *profile;
		unsigned unserved;
	} seen[8];
	size_t n_seen = 0, i;
	unsigned inflight = count_spawns(rt, NULL), cap = spawn_cap(), running = rt->n_running;
	struct rt_waiter *w;
	struct rt_slot **pp;
	uint64_t now = ut_now_us();

	/* Handed a child, not yet awake: already running as far as the cap goes. */
	for (w = rt->waiters; w; w = w->next)
		running += w->slot != NULL;
	for (w = rt->waiters; w; w = w->next) {
		struct rt_slot *s;

		if (w->slot || w->failed)
			continue;
		if (running >= rt->max_running)
			break; /* the rest wait for a running execution to end */
		if ((s = idle_slot(rt, w->profile))) {
			s->taken = 1;
			w->slot = s;
			running++;
			pthread_cond_signal(&w->cond);
			continue;
		}
		/* Not served: is a child on its way for it? */
		for (i = 0; i < n_seen && strcmp(seen[i].profile, w->profile) != 0; i++)
			;
		if (i == n_seen && n_seen < UT_ARRAY_SIZE(seen)) {
			seen[n_seen].profile = w->profile;
			seen[n_seen++].unserved = 0;
		}
		if (i < UT_ARRAY_SIZE(seen) && ++seen[i].unserved > count_spawns(rt, w->profile) &&
		    inflight < cap) {
			if (ask_spawn(rt, w->profile, 0))
				return;
			inflight++;
		}
	}
	if (!rt->pool_profile)
		return;
	/* The pool follows the last request's profile: children prepared otherwise go. */
	for (pp = &rt->slots; *pp;) {
		struct rt_slot *s = *pp;

		if (!s->taken && strcmp(s->profile, rt->pool_profile) != 0) {
			*pp = s->next;
			kill_slot(s);
			close_slot(s);
			continue;
		}
		pp = &s->next;
	}
	if (rt->pool_target > rt->pool_min && now - rt->last_wait_us > POOL_IDLE_US)
		rt->pool_target = rt->pool_min;
	{
		unsigned idle = count_idle(rt, rt->pool_profile);
		unsigned coming = count_spawns(rt, rt->pool_profile);

		for (i = 0; i < n_seen; i++)
			if (strcmp(seen[i].profile, rt->pool_profile) == 0)
				coming = coming > seen[i].unserved ? coming - seen[i].unserved : 0;
		while (idle + coming < rt->pool_target && inflight < cap) {
			if (ask_spawn(rt, rt->pool_profile, 1))
				return;
			coming++;
			inflight++;
		}
		/* Over the target (it shrank): the longest idle go first. */
		while (idle > rt->pool_target) {
			struct rt_slot *s = idle_slot(rt, rt->pool_profile);

			if (!s)
				break;
			unlink_slot(rt, s);
			kill_slot(s);
			close_slot(s);
			idle--;
		}
	}
}

/* The zygote of generation rt->gen is gone: fail what depended on it. Lock held. */
static void lost(struct cact_runtime *rt, const char *what)
{
	struct rt_gen g = rt->gen;
	struct rt_slot **pp;
	char why[160] = "";
	char msg[400];
	unsigned in_flight = 0;
	uint64_t now = ut_now_us();

	rt->gen.ctl = rt->gen.outer_pidfd = -1;
	rt->gen.outer = -1;
	for (pp = &rt->slots; *pp;) {
		struct rt_slot *s = *pp;

		if (!s->taken) {
			*pp = s->next;
			close_slot(s);
			continue;
		}
		if (!s->exited) {
			s->lost = 1;
			in_flight++;
			notify(s);
		}
		pp = &s->next;
	}
	while (rt->spawns)
		free(answered(rt, rt->spawns->id));
	pthread_mutex_unlock(&rt->lock);
	end_gen(&g, why, sizeof(why));
	pthread_mutex_lock(&rt->lock);
	/* The rate: the oldest of the last RESTART_MAX losses within the window means give up. */
	memmove(rt->deaths + 1, rt->deaths, sizeof(rt->deaths) - sizeof(rt->deaths[0]));
	rt->deaths[0] = now;
	if (rt->n_deaths < RESTART_MAX)
		rt->n_deaths++;
	ut_snprintf(msg, sizeof(msg),
		    "the sandbox zygote was lost (%s; %s); %u execution(s) in "
		    "flight failed",
		    what, why[0] ? why : "no status", in_flight);
	if (rt->n_deaths == RESTART_MAX && now - rt->deaths[RESTART_MAX - 1] < RESTART_WINDOW_US &&
	    !rt->broken) {
		struct rt_waiter *w;

		rt->broken = 1;
		ut_snprintf(rt->broken_msg, sizeof(rt->broken_msg),
			    "the sandbox zygote died %d times within %llu s; cact gave up "
			    "restarting it",
			    RESTART_MAX, RESTART_WINDOW_US / 1000000);
		for (w = rt->waiters; w; w = w->next) {
			w->failed = 1;
			pthread_cond_signal(&w->cond);
		}
	}
	if (rt->event_fn) {
		pthread_mutex_unlock(&rt->lock);
		rt->event_fn(rt->event_user, CACT_RUNTIME_LOST, msg);
		if (rt->broken)
			rt->event_fn(rt->event_user, CACT_RUNTIME_GAVE_UP, rt->broken_msg);
		pthread_mutex_lock(&rt->lock);
	}
}

/* Files one control message. Lock held. */
static void dispatch(struct cact_runtime *rt, json_t *msg, const char *op, int *fds, size_t nfds)
{
	long long id = json_integer_value(json_object_get(msg, "id"));
	struct rt_slot *s;

	if (strcmp(op, "spawned") == 0 && nfds == 5) {
		int host_sends = 0;
		char *profile = answered(rt, id);

		if (!profile) {
			profile = answered(rt, -id);
			host_sends = profile != NULL;
		}
		s = profile ? calloc(1, sizeof(*s)) : NULL;
		if (!s) {
			free(profile);
			while (nfds > 0) {
				if (nfds == 5)
					syscall(SYS_pidfd_send_signal, fds[3], SIGKILL, NULL, 0);
				close(fds[--nfds]);
			}
			return;
		}
		s->profile = profile;
		s->id = id;
		s->gen = rt->gen.no;
		s->wire = fds[0];
		s->out = fds[1];
		s->err = fds[2];
		s->pidfd = fds[3];
		s->stops = fds[4];
		s->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		s->since_us = ut_now_us();
		s->next = rt->slots;
		rt->slots = s;
		if (host_sends)
			send_profile(s);
		/* Nonblocking from here on, once, rather than at each execution. */
		fcntl(s->wire, F_SETFL, O_NONBLOCK);
		fcntl(s->out, F_SETFL, O_NONBLOCK);
		fcntl(s->err, F_SETFL, O_NONBLOCK);
		fcntl(s->stops, F_SETFL, O_NONBLOCK);
		return;
	}
	while (nfds > 0)
		close(fds[--nfds]);
	if (strcmp(op, "exited") == 0) {
		s = find_slot(rt, id);
		if (!s)
			return; /* released already: its end is nobody's business */
		s->cpu_us = (uint64_t)json_integer_value(json_object_get(msg, "cpu_us"));
		s->maxrss_kib = (uint64_t)json_integer_value(json_object_get(msg, "maxrss_kib"));
		s->exited = 1;
		s->status = (int)json_integer_value(json_object_get(msg, "status"));
		if (!s->taken && s->exited) {
			/* A prepared child died before it was used: forget it. */
			unlink_slot(rt, s);
			close_slot(s);
			return;
		}
		notify(s);
	} else if (strcmp(op, "spawn_failed") == 0) {
		char *profile = answered(rt, id) ?: answered(rt, -id);
		struct rt_waiter *w;

		rt->spawn_failures++;
		ut_snprintf(rt->spawn_msg, sizeof(rt->spawn_msg), "%s",
			    json_string_value(json_object_get(msg, "message")) ?: "unknown");
		/* The first caller that waited for it hears why. */
		for (w = rt->waiters; w && profile; w = w->next) {
			if (!w->slot && !w->failed && strcmp(w->profile, profile) == 0) {
				w->failed = 2;
				pthread_cond_signal(&w->cond);
				break;
			}
		}
		free(profile);
	}
}

/* Reads every control message waiting. 0, or -1 when the channel is gone. Lock held. */
static int read_ctl(struct cact_runtime *rt, char *what, size_t size)
{
	for (;;) {
		struct cact_error err = {0};
		int fds[CTL_FDS];
		size_t nfds = 0;
		const char *op;
		json_t *msg = NULL;
		int rc = ctl_recv(rt->gen.ctl, &msg, &op, fds, &nfds, &err);

		if (rc == CACT_ESYS && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (rc == 1) {
			ut_snprintf(what, size, "its control channel closed");
			return -1;
		}
		if (rc) {
			ut_snprintf(what, size, "%s", err.message);
			return -1;
		}
		if (strcmp(op, "fatal") == 0) {
			ut_snprintf(what, size, "it failed: %s",
				    json_string_value(json_object_get(msg, "message")) ?: "?");
			json_decref(msg);
			return -1;
		}
		dispatch(rt, msg, op, fds, nfds);
		json_decref(msg);
	}
}

/* Starts a zygote after a loss. Lock held; dropped while the zygote starts. */
static void restart(struct cact_runtime *rt)
{
	struct cact_error err = {0};
	struct rt_gen g;
	json_t *hello = NULL;
	char msg[400];
	int rc;

	pthread_mutex_unlock(&rt->lock);
	rc = start_gen(rt, &g, &hello, &err);
	json_decref(hello);
	pthread_mutex_lock(&rt->lock);
	if (rc) {
		/* Counts as a loss: a zygote that cannot start gives up the runtime soon. */
		g.no = rt->gen.no;
		rt->gen = (struct rt_gen){.outer = -1, .outer_pidfd = -1, .ctl = -1, .no = g.no};
		lost(rt, err.message);
		return;
	}
	g.no = rt->gen.no + 1;
	rt->gen = g;
	rt->restarts++;
	ut_snprintf(msg, sizeof(msg), "a new sandbox zygote serves (restart %llu)",
		    (unsigned long long)rt->restarts);
	if (rt->event_fn) {
		pthread_mutex_unlock(&rt->lock);
		rt->event_fn(rt->event_user, CACT_RUNTIME_RESTARTED, msg);
		pthread_mutex_lock(&rt->lock);
	}
}

static void *control(void *arg)
{
	struct cact_runtime *rt = arg;

	pthread_mutex_lock(&rt->lock);
	while (!rt->quitting) {
		struct pollfd p[3];
		char what[300];
		nfds_t n = 0;
		int rc;

		if (rt->gen.ctl < 0) {
			if (rt->broken) {
				/* Nothing left to do but wait for cact_runtime_free. */
				p[0].fd = rt->wake;
				p[0].events = POLLIN;
				pthread_mutex_unlock(&rt->lock);
				poll(p, 1, TICK_MS);
				pthread_mutex_lock(&rt->lock);
				continue;
			}
			restart(rt);
			continue;
		}
		serve(rt);
		rt_sessions_tick(rt);
		p[n].fd = rt->wake;
		p[n++].events = POLLIN;
		p[n].fd = rt->gen.ctl;
		p[n++].events = POLLIN;
		if (rt->gen.outer_pidfd >= 0) {
			p[n].fd = rt->gen.outer_pidfd;
			p[n++].events = POLLIN;
		}
		pthread_mutex_unlock(&rt->lock);
		rc = poll(p, n, TICK_MS);
		pthread_mutex_lock(&rt->lock);
		if (rc <= 0 || rt->quitting)
			continue;
		if (p[0].revents) {
			uint64_t v;

			if (read(rt->wake, &v, sizeof(v)) < 0) {
				/* EAGAIN: another read took it. */
			}
		}
		if (p[1].revents && read_ctl(rt, what, sizeof(what))) {
			lost(rt, what);
			continue;
		}
		if (n == 3 && p[2].revents) {
			/* The helper is gone; what the zygote still sent is read first. */
			if (read_ctl(rt, what, sizeof(what)) == 0)
				ut_snprintf(what, sizeof(what), "the guest helper exited");
			lost(rt, what);
		}
	}
	pthread_mutex_unlock(&rt->lock);
	return NULL;
}

/* ---- callers ---- */

static void deadline_ts(uint64_t deadline_us, struct timespec *ts)
{
	struct timespec now;
	uint64_t t = ut_now_us(), left = deadline_us > t ? deadline_us - t : 0;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ts->tv_sec = now.tv_sec + (time_t)(left / 1000000);
	ts->tv_nsec = now.tv_nsec + (long)(left % 1000000) * 1000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

static void unqueue(struct cact_runtime *rt, struct rt_waiter *w)
{
	struct rt_waiter **pp;

	for (pp = &rt->waiters; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			if (rt->waiters_tail == &w->next)
				rt->waiters_tail = pp;
			rt->n_waiters--;
			return;
		}
	}
}

static void use_profile(struct cact_runtime *rt, const char *profile)
{
	char *copy;

	if (rt->pool_profile && strcmp(rt->pool_profile, profile) == 0)
		return;
	copy = strdup(profile);
	if (copy) {
		free(rt->pool_profile);
		rt->pool_profile = copy;
	}
}

int rt_slot_acquire(struct cact_runtime *rt, const char *profile, struct rt_slot **out,
		    struct cact_error *err)
{
	struct rt_waiter w = {.profile = profile};
	uint64_t deadline = ut_now_us() + rt->queue_timeout_us;
	pthread_condattr_t ca;
	int rc = 0;

	*out = NULL;
	pthread_mutex_lock(&rt->lock);
	if (rt->broken) {
		rc = ut_err(err, CACT_ESANDBOX, "%s", rt->broken_msg);
		goto out;
	}
	/* Nobody in line and a child ready: take it. */
	if (!rt->waiters && rt->n_running < rt->max_running && (*out = idle_slot(rt, profile))) {
		(*out)->taken = 1;
		goto got;
	}
	if (rt->n_waiters >= rt->queue_max) {
		rt->busy++;
		rc = RT_ACQ_BUSY;
		ut_err(err, CACT_ESANDBOX,
		       "cact is busy: %u callers are already waiting for a sandbox; retry shortly",
		       rt->n_waiters);
		goto out;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w.cond, &ca);
	pthread_condattr_destroy(&ca);
	*rt->waiters_tail = &w;
	rt->waiters_tail = &w.next;
	rt->n_waiters++;
	/* A caller had to wait: the pool grows, up to its bound. */
	rt->last_wait_us = ut_now_us();
	if (rt->pool_target < rt->pool_max)
		rt->pool_target++;
	wake(rt);
	while (!w.slot && !w.failed && !rt->broken) {
		struct timespec ts;

		if (ut_now_us() >= deadline)
			break;
		deadline_ts(deadline, &ts);
		pthread_cond_timedwait(&w.cond, &rt->lock, &ts);
	}
	unqueue(rt, &w);
	pthread_cond_destroy(&w.cond);
	if (w.slot) {
		*out = w.slot;
		goto got;
	}
	if (rt->broken)
		rc = ut_err(err, CACT_ESANDBOX, "%s", rt->broken_msg);
	else if (w.failed == 2)
		rc = ut_err(err, CACT_ESANDBOX, "cannot start an execution: %s", rt->spawn_msg);
	else {
		rt->busy++;
		rc = RT_ACQ_BUSY;
		ut_err(err, CACT_ESANDBOX,
		       "cact is busy: no sandbox became free within %.3g s; retry shortly",
		       (double)rt->queue_timeout_us / 1e6);
	}
	/* Whatever was asked for this caller serves the next. */
	wake(rt);
	goto out;
got:
	rt->n_running++;
	rt->executions++;
	use_profile(rt, profile);
	/* Refill now: on another CPU the next child gets ready while this one runs. */
	wake(rt);
out:
	pthread_mutex_unlock(&rt->lock);
	return rc;
}

void rt_slot_state(struct cact_runtime *rt, const struct rt_slot *s, struct rt_slot *copy)
{
	pthread_mutex_lock(&rt->lock);
	*copy = *s;
	pthread_mutex_unlock(&rt->lock);
}

void rt_slot_release(struct cact_runtime *rt, struct rt_slot *s)
{
	pthread_mutex_lock(&rt->lock);
	unlink_slot(rt, s);
	if (!s->session)
		rt->n_running--;
	if (!s->exited && !s->lost)
		kill_slot(s);
	/* A caller held back by max_running may go now. */
	if (rt->waiters)
		wake(rt);
	pthread_mutex_unlock(&rt->lock);
	close_slot(s);
}

/* ---- the runtime ---- */

static char *isolation_json(const struct cact_runtime *rt)
{
	json_t *feat = json_object(), *root;
	unsigned bit;
	char *s = NULL;

	if (!feat)
		return NULL;
	for (bit = 1; bit <= CACT_FEATURE_PIDFD; bit <<= 1)
		json_object_set_new(feat, cact_feature_name(bit), json_boolean(rt->features & bit));
	root = json_pack("{s:s, s:o, s:i, s:s}", "level", rt->reduced ? "reduced" : "full",
			 "features", feat, "landlock_abi", rt->landlock_abi, "python", rt->python);
	if (root)
		s = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(root);
	return s;
}

static void take_hello(struct cact_runtime *rt, json_t *msg)
{
	rt->features = (unsigned)json_integer_value(json_object_get(msg, "features"));
	rt->landlock_abi = (int)json_integer_value(json_object_get(msg, "landlock_abi"));
	rt->reduced = strcmp(json_string_value(json_object_get(msg, "level")) ?: "", "full") != 0;
	rt->base_vsz = (uint64_t)json_integer_value(json_object_get(msg, "base_vsz"));
	ut_snprintf(rt->python, sizeof(rt->python), "%s",
		    json_string_value(json_object_get(msg, "python")) ?: "?");
}

/* Starts the control thread with every signal blocked: signals are the program's. */
static int start_thread(struct cact_runtime *rt)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&rt->thread, NULL, control, rt);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/*
 * Whether a python path (resolved) can be seen by executions: /tmp,
 * /input and /output are each execution's own mounts, /dev and /proc the
 * sandbox's, and they hide whatever the host has there.
 */
static int python_path_ok(const char *real)
{
	static const char *const hidden[] = {"/tmp", "/input", "/output", "/dev", "/proc"};
	size_t i, n;

	for (i = 0; i < UT_ARRAY_SIZE(hidden); i++) {
		n = strlen(hidden[i]);
		if (strncmp(real, hidden[i], n) == 0 && (real[n] == '\0' || real[n] == '/'))
			return 0;
	}
	return 1;
}

/* "matplotlib.pyplot": see rt.h. */
int rt_module_name_ok(const char *m)
{
	size_t i, n = m ? strlen(m) : 0;
	int start = 1;

	if (n == 0 || n > 200)
		return 0;
	for (i = 0; i < n; i++) {
		char c = m[i];

		if (c == '.') {
			if (start)
				return 0;
			start = 1;
			continue;
		}
		if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (!start && c >= '0' && c <= '9')))
			return 0;
		start = 0;
	}
	return !start;
}

int rt_python_path_check(const char *given, char *real, size_t size, struct cact_error *err)
{
	char buf[PATH_MAX];
	struct stat st;

	if (!given || !*given)
		return ut_err(err, CACT_EINVAL, "python path is empty");
	if (!realpath(given, buf) || stat(buf, &st) || !S_ISDIR(st.st_mode))
		return ut_err(err, CACT_ENOENT, "python path %s is not a folder", given);
	if (!python_path_ok(buf))
		return ut_err(err, CACT_EINVAL,
			      "python path %s is under /tmp, /input, /output, /dev or /proc, "
			      "which every execution has its own of; put the folder elsewhere",
			      given);
	if (ut_snprintf(real, size, "%s", buf) < 0)
		return ut_err(err, CACT_EINVAL, "python path %s is too long", given);
	return 0;
}

CACT_API int cact_runtime_new(const struct cact_runtime_options *opts, struct cact_runtime **out,
			      struct cact_error *err)
{
	struct cact_runtime_options dflt;
	struct cact_runtime *rt = NULL;
	json_t *cfg = NULL, *paths = NULL, *preload = NULL, *hello = NULL;
	uint64_t t0 = ut_now_us();
	size_t i;
	int rc;

	*out = NULL;
	if (!opts) {
		cact_runtime_options_init(&dflt);
		opts = &dflt;
	}
	if (opts->isolation != CACT_ISOLATION_FULL && opts->isolation != CACT_ISOLATION_REDUCED)
		return ut_err(err, CACT_EINVAL, "unknown isolation level %d", (int)opts->isolation);
	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	rt->gen = (struct rt_gen){.outer = -1, .outer_pidfd = -1, .ctl = -1, .no = 1};
	rt->wake = -1;
	rt->waiters_tail = &rt->waiters;
	pthread_mutex_init(&rt->lock, NULL);
	if ((rc = find_guest(opts, rt->guest, sizeof(rt->guest), err)))
		goto fail;
	paths = json_array();
	if (!paths) {
		rc = ut_err(err, CACT_ENOMEM, "out of memory");
		goto fail;
	}
	if (opts->n_python_paths > RT_PYTHON_PATH_MAX) {
		rc = ut_err(err, CACT_EINVAL, "more than %d python paths", RT_PYTHON_PATH_MAX);
		goto fail;
	}
	for (i = 0; i < opts->n_python_paths; i++) {
		char real[PATH_MAX];

		if ((rc = rt_python_path_check(opts->python_paths[i], real, sizeof(real), err)))
			goto fail;
		json_array_append_new(paths, json_string(real));
	}
	if (opts->n_preload > RT_PRELOAD_MAX) {
		rc = ut_err(err, CACT_EINVAL, "more than %d modules to preload", RT_PRELOAD_MAX);
		goto fail;
	}
	preload = json_array();
	for (i = 0; preload && i < opts->n_preload; i++) {
		if (!rt_module_name_ok(opts->preload[i])) {
			rc = ut_err(
				err, CACT_EINVAL,
				"preload: '%s' is not a module name (dotted Python identifiers)",
				opts->preload[i] ? opts->preload[i] : "(null)");
			goto fail;
		}
		json_array_append_new(preload, json_string(opts->preload[i]));
	}
	cfg = preload ? json_pack("{s:s, s:i, s:O, s:b, s:O}", "isolation",
				  opts->isolation == CACT_ISOLATION_FULL ? "full" : "reduced",
				  "hide", (int)opts->hide_features, "python_paths", paths,
				  "one_shot", opts->one_shot != 0, "preload", preload)
		      : NULL;
	rt->guest_cfg = cfg ? json_dumps(cfg, JSON_COMPACT) : NULL;
	rt->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!rt->guest_cfg || rt->wake < 0) {
		rc = ut_err(err, CACT_ENOMEM, "out of memory");
		goto fail;
	}
	rt->pool_min = opts->one_shot ? 0 : opts->pool_size;
	rt->pool_max = opts->one_shot ? 0 : opts->pool_max;
	if (rt->pool_max < rt->pool_min)
		rt->pool_max = rt->pool_min;
	rt->pool_target = rt->pool_min;
	rt->max_running = opts->max_running ? opts->max_running : 1;
	rt->queue_max = opts->queue_max;
	rt->queue_timeout_us = opts->queue_timeout_ms * 1000;
	rt->max_sessions = opts->max_sessions;
	rt->event_fn = opts->event_fn;
	rt->event_user = opts->event_user;
	if ((rc = start_gen(rt, &rt->gen, &hello, err)))
		goto fail;
	rt->gen.no = 1;
	take_hello(rt, hello);
	rt->startup_us = ut_now_us() - t0;
	rt->isolation = isolation_json(rt);
	/* One-shot: the first request's profile decides; no child is prepared ahead. */
	rt->pool_profile = opts->one_shot ? NULL : rt_default_profile();
	if (!rt->isolation || (!opts->one_shot && !rt->pool_profile)) {
		rc = ut_err(err, CACT_ENOMEM, "out of memory");
		goto fail;
	}
	if (start_thread(rt)) {
		rc = ut_err(err, CACT_ESYS, "cannot start the runtime's thread");
		goto fail;
	}
	rt->thread_started = 1;
	*out = rt;
	rt = NULL;
fail:
	cact_runtime_free(rt);
	json_decref(hello);
	json_decref(cfg);
	json_decref(paths);
	json_decref(preload);
	return rc;
}

CACT_API void cact_runtime_free(struct cact_runtime *rt)
{
	struct rt_slot *s, *next;

	if (!rt)
		return;
	if (rt->thread_started) {
		pthread_mutex_lock(&rt->lock);
		rt->quitting = 1;
		wake(rt);
		pthread_mutex_unlock(&rt->lock);
		pthread_join(rt->thread, NULL);
	}
	/* Closing the control socket ends the zygote, whose death ends every child. */
	end_gen(&rt->gen, NULL, 0);
	for (s = rt->slots; s; s = next) {
		next = s->next;
		close_slot(s);
	}
	while (rt->spawns)
		free(answered(rt, rt->spawns->id));
	pthread_mutex_destroy(&rt->lock);
	ut_close(&rt->wake);
	free(rt->guest_cfg);
	free(rt->isolation);
	free(rt->pool_profile);
	free(rt);
}

CACT_API int cact_runtime_check(struct cact_runtime *rt, struct cact_error *err)
{
	int rc = 0;

	pthread_mutex_lock(&rt->lock);
	if (rt->broken)
		rc = ut_err(err, CACT_ESANDBOX, "%s", rt->broken_msg);
	pthread_mutex_unlock(&rt->lock);
	return rc;
}

CACT_API void cact_runtime_stats(struct cact_runtime *rt, struct cact_runtime_stats *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&rt->lock);
	st->idle = count_idle(rt, NULL);
	st->preparing = count_spawns(rt, NULL);
	st->running = rt->n_running;
	st->waiting = rt->n_waiters;
	st->pool_target = rt->pool_target;
	st->executions = rt->executions;
	st->busy = rt->busy;
	st->restarts = rt->restarts;
	st->sessions = rt->n_sessions;
	pthread_mutex_unlock(&rt->lock);
}

CACT_API char *cact_runtime_isolation_json(const struct cact_runtime *rt)
{
	return strdup(rt->isolation);
}

CACT_API pid_t cact_runtime_zygote_pid(const struct cact_runtime *rt)
{
	return __atomic_load_n(&rt->gen.outer, __ATOMIC_RELAXED);
}

CACT_API uint64_t cact_runtime_startup_us(const struct cact_runtime *rt)
{
	return rt->startup_us;
}
