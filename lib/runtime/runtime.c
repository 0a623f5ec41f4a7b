/* SPDX-License-Identifier: MIT */
/*
 * The runtime: spawns cact-guest, waits for its zygote to be warm, and keeps
 * a small pool of pre-forked children so that the fork and the warm-up are
 * off the request path. Thread-safe: the control socket is read by one
 * thread at a time (whichever is waiting for something), which files what it
 * reads under the lock and wakes the others.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cact/cact.h>

#include "../util/util.h"
#include "../wire/ctl.h"
#include "rt.h"
#include "zygote.h"

#define STARTUP_TIMEOUT_US (60ull * 1000000)

/* The environment of the sandbox, built from nothing. */
static char *const guest_env[] = {
	"PATH=/usr/bin:/bin",
	"LANG=C.UTF-8",
	"HOME=/tmp",
	"TMPDIR=/tmp",
	"USER=sandbox",
	"LOGNAME=sandbox",
	"OPENBLAS_NUM_THREADS=1",
	"OMP_NUM_THREADS=1",
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

static void mark_broken(struct cact_runtime *rt, const char *why)
{
	if (!rt->broken) {
		rt->broken = 1;
		ut_snprintf(rt->broken_msg, sizeof(rt->broken_msg), "%s", why);
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

static void kill_slot(struct rt_slot *s)
{
	if (s->pidfd >= 0)
		syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL, 0);
}

static void close_slot(struct rt_slot *s)
{
	ut_close(&s->wire);
	ut_close(&s->out);
	ut_close(&s->err);
	ut_close(&s->pidfd);
	free(s->profile);
	s->profile = NULL;
}

/* Sends the child its prepare frame. A child that died meanwhile is reported by the zygote. */
static void prepare_slot(struct rt_slot *s, const char *profile)
{
	size_t len = strlen(profile);
	unsigned char hdr[4] = {(unsigned char)(len >> 24), (unsigned char)(len >> 16),
				(unsigned char)(len >> 8), (unsigned char)len};

	s->profile = strdup(profile);
	if (!s->profile)
		return;
	/* Small, and the child reads it: the socket buffer takes it whole. */
	if (send(s->wire, hdr, 4, MSG_NOSIGNAL) != 4 ||
	    send(s->wire, profile, len, MSG_NOSIGNAL) != (ssize_t)len)
		kill_slot(s);
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
		if (profile ? sp->profile && strcmp(sp->profile, profile) == 0 : !sp->profile)
			n++;
	return n;
}

/* Files one control message. Called with the lock held. */
static void dispatch(struct cact_runtime *rt, json_t *msg, const char *op, int *fds, size_t nfds)
{
	long long id = json_integer_value(json_object_get(msg, "id"));
	struct rt_slot *s;

	if (strcmp(op, "spawned") == 0 && nfds == 4) {
		char *profile = answered(rt, id);

		s = calloc(1, sizeof(*s));
		if (!s) {
			free(profile);
			while (nfds > 0)
				close(fds[--nfds]);
			return;
		}
		/* The zygote already queued the prepare frame for the child. */
		s->profile = profile;
		s->id = id;
		s->wire = fds[0];
		s->out = fds[1];
		s->err = fds[2];
		s->pidfd = fds[3];
		s->next = rt->slots;
		rt->slots = s;
		return;
	}
	while (nfds > 0)
		close(fds[--nfds]);
	if (strcmp(op, "exited") == 0) {
		s = find_slot(rt, id);
		if (!s)
			return;
		s->exited = 1;
		s->status = (int)json_integer_value(json_object_get(msg, "status"));
		s->cpu_us = (uint64_t)json_integer_value(json_object_get(msg, "cpu_us"));
		s->maxrss_kib = (uint64_t)json_integer_value(json_object_get(msg, "maxrss_kib"));
		if (!s->taken) {
			/* A warm child died before it was used: forget it. */
			unlink_slot(rt, s);
			close_slot(s);
			free(s);
		}
	} else if (strcmp(op, "spawn_failed") == 0) {
		free(answered(rt, id));
		rt->spawn_failures++;
		ut_snprintf(rt->spawn_msg, sizeof(rt->spawn_msg), "%s",
			    json_string_value(json_object_get(msg, "message")) ?: "unknown");
	} else if (strcmp(op, "fatal") == 0) {
		mark_broken(rt,
			    json_string_value(json_object_get(msg, "message")) ?: "zygote failed");
	}
}

/*
 * Waits for control traffic until the deadline. Called with the lock held;
 * may drop and retake it. Either reads ctl itself or, if another thread is
 * reading, waits for that thread to file what it read.
 */
static void pump(struct cact_runtime *rt, uint64_t deadline_us)
{
	struct pollfd pfd = {.fd = rt->ctl, .events = POLLIN};
	struct cact_error err = {0};
	int fds[CTL_FDS];
	size_t nfds = 0;
	const char *op;
	json_t *msg = NULL;
	uint64_t now = ut_now_us();
	int rc, timeout;

	if (now >= deadline_us)
		return;
	if (rt->reading) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&rt->cond, &rt->lock, &ts);
		return;
	}
	rt->reading = 1;
	pthread_mutex_unlock(&rt->lock);
	timeout = (int)((deadline_us - now + 999) / 1000);
	if (timeout > 100)
		timeout =
			100; /* come back now and then: another thread may be waiting on the cond */
	rc = poll(&pfd, 1, timeout);
	if (rc > 0)
		rc = ctl_recv(rt->ctl, &msg, &op, fds, &nfds, &err);
	else
		rc = rc < 0 && errno != EINTR ? CACT_ESYS : 2;
	pthread_mutex_lock(&rt->lock);
	rt->reading = 0;
	if (rc == 0)
		dispatch(rt, msg, op, fds, nfds);
	else if (rc == 1)
		mark_broken(rt, "the zygote exited");
	else if (rc != 2)
		mark_broken(rt, err.message[0] ? err.message : "control channel failed");
	json_decref(msg);
	pthread_cond_broadcast(&rt->cond);
}

/*
 * Asks the zygote for a child. With a profile, the zygote queues that
 * prepare frame on the child's socket before handing it over, so the child
 * builds its sandbox without waiting for the host. Lock held.
 */
static int ask_spawn(struct cact_runtime *rt, const char *profile)
{
	struct rt_spawn *sp = calloc(1, sizeof(*sp));
	json_t *msg = NULL, *frame = NULL;
	int rc = CACT_ENOMEM;

	if (!sp)
		return CACT_ENOMEM;
	sp->id = ++rt->next_id;
	if (profile) {
		sp->profile = strdup(profile);
		frame = json_loads(profile, 0, NULL);
		if (!sp->profile || !frame)
			goto out;
	}
	msg = json_pack("{s:s, s:I, s:O?}", "op", "spawn", "id", sp->id, "prepare", frame);
	if (!msg)
		goto out;
	pthread_mutex_lock(&rt->send_lock);
	rc = ctl_send(rt->ctl, msg, NULL, 0);
	pthread_mutex_unlock(&rt->send_lock);
	if (rc == CACT_ETOOBIG && profile) {
		/* A profile too big for one control message: the host sends it itself. */
		json_decref(frame);
		json_decref(msg);
		free(sp->profile);
		free(sp);
		return ask_spawn(rt, NULL);
	}
	if (rc) {
		mark_broken(rt, "cannot write to the zygote");
		goto out;
	}
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

/* Files every control message already waiting, without blocking. Lock held. */
static void drain_ctl(struct cact_runtime *rt)
{
	struct pollfd pfd = {.fd = rt->ctl, .events = POLLIN};

	while (!rt->reading && !rt->broken && poll(&pfd, 1, 0) > 0)
		pump(rt, ut_now_us() + 1000);
}

/* Children prepared with profile and not taken. */
static unsigned count_ready(const struct cact_runtime *rt, const char *profile)
{
	const struct rt_slot *s;
	unsigned n = 0;

	for (s = rt->slots; s; s = s->next)
		if (!s->taken && !s->exited && s->profile && strcmp(s->profile, profile) == 0)
			n++;
	return n;
}

/* Tops the pool up with children for the pool's profile. Lock held. */
static void refill(struct cact_runtime *rt)
{
	struct rt_slot **pp = &rt->slots;

	/* Fresh children nobody waits for any more: let them go. */
	while (rt->want_fresh == 0 && *pp) {
		struct rt_slot *s = *pp;

		if (!s->taken && !s->profile) {
			*pp = s->next;
			kill_slot(s);
			close_slot(s);
			free(s);
			continue;
		}
		pp = &s->next;
	}
	while (!rt->broken && rt->pool_profile &&
	       count_ready(rt, rt->pool_profile) + count_spawns(rt, rt->pool_profile) <
		       rt->pool_size)
		if (ask_spawn(rt, rt->pool_profile))
			break;
}

/* From now on the pool serves profile; children prepared otherwise are let go. Lock held. */
static void switch_profile(struct cact_runtime *rt, const char *profile)
{
	struct rt_slot **pp = &rt->slots;
	char *copy;

	if (rt->pool_profile && strcmp(rt->pool_profile, profile) == 0)
		return;
	copy = strdup(profile);
	if (!copy)
		return;
	free(rt->pool_profile);
	rt->pool_profile = copy;
	while (*pp) {
		struct rt_slot *s = *pp;

		if (!s->taken && s->profile) {
			*pp = s->next;
			kill_slot(s);
			close_slot(s);
			free(s);
			continue;
		}
		pp = &s->next;
	}
}

int rt_slot_acquire(struct cact_runtime *rt, const char *profile, struct rt_slot **out,
		    uint64_t deadline_us, struct cact_error *err)
{
	unsigned failures;
	struct rt_slot *s;
	int rc = 0, waiting = 0;

	*out = NULL;
	pthread_mutex_lock(&rt->lock);
	drain_ctl(rt);
	failures = rt->spawn_failures;
	for (;;) {
		if (rt->broken) {
			rc = ut_err(err, CACT_ESANDBOX, "runtime is broken: %s", rt->broken_msg);
			goto out;
		}
		for (s = rt->slots; s; s = s->next)
			if (!s->taken && !s->exited && s->profile &&
			    strcmp(s->profile, profile) == 0)
				break;
		if (!s) {
			for (s = rt->slots; s; s = s->next)
				if (!s->taken && !s->exited && !s->profile)
					break;
			if (s)
				prepare_slot(s, profile);
		}
		if (s) {
			s->taken = 1;
			*out = s;
			break;
		}
		if (rt->spawn_failures != failures) {
			rc = ut_err(err, CACT_ESANDBOX, "cannot start an execution: %s",
				    rt->spawn_msg);
			goto out;
		}
		if (!waiting) {
			waiting = 1;
			rt->want_fresh++;
		}
		if (count_spawns(rt, NULL) < rt->want_fresh && (rc = ask_spawn(rt, NULL))) {
			ut_err(err, rc, "cannot ask the zygote for an execution");
			goto out;
		}
		if (ut_now_us() >= deadline_us) {
			rc = ut_err(err, CACT_ESANDBOX, "timed out waiting for a sandbox");
			goto out;
		}
		pump(rt, deadline_us);
	}
	switch_profile(rt, profile);
out:
	if (waiting)
		rt->want_fresh--;
	pthread_mutex_unlock(&rt->lock);
	return rc;
}

int rt_slot_wait_exit(struct cact_runtime *rt, struct rt_slot *s, uint64_t deadline_us)
{
	int rc;

	pthread_mutex_lock(&rt->lock);
	while (!s->exited && !rt->broken && ut_now_us() < deadline_us)
		pump(rt, deadline_us);
	rc = s->exited ? 0 : CACT_ESANDBOX;
	pthread_mutex_unlock(&rt->lock);
	return rc;
}

void rt_slot_release(struct cact_runtime *rt, struct rt_slot *s)
{
	pthread_mutex_lock(&rt->lock);
	unlink_slot(rt, s);
	/* Refill the pool now that this execution no longer competes for the CPU. */
	refill(rt);
	pthread_mutex_unlock(&rt->lock);
	close_slot(s);
	free(s);
}

static int spawn_guest(struct cact_runtime *rt, const char *guest, const char *config,
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
	/* A session of its own: no process of the runtime shares the host's process group. */
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
	rc = posix_spawn(&rt->outer, guest, &fa, &attr, argv, guest_env);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(sv[1]);
	if (rc) {
		close(sv[0]);
		return ut_err_sys(err, CACT_ESYS, rc, "cannot start %s", guest);
	}
	rt->ctl = sv[0];
	rt->outer_pidfd = (int)syscall(SYS_pidfd_open, rt->outer, 0);
	return 0;
}

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

/* Waits for the zygote's hello. Called before any other thread knows the runtime. */
static int await_hello(struct cact_runtime *rt, struct cact_error *err)
{
	uint64_t deadline = ut_now_us() + STARTUP_TIMEOUT_US;
	struct pollfd pfd = {.fd = rt->ctl, .events = POLLIN};
	int fds[CTL_FDS];
	size_t nfds;
	const char *op;
	json_t *msg = NULL;
	int rc;

	for (;;) {
		uint64_t now = ut_now_us();

		if (now >= deadline)
			return ut_err(err, CACT_ESANDBOX, "the zygote did not start within %llu s",
				      STARTUP_TIMEOUT_US / 1000000);
		rc = poll(&pfd, 1, (int)((deadline - now) / 1000) + 1);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			continue;
		rc = ctl_recv(rt->ctl, &msg, &op, fds, &nfds, err);
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
	rt->features = (unsigned)json_integer_value(json_object_get(msg, "features"));
	rt->landlock_abi = (int)json_integer_value(json_object_get(msg, "landlock_abi"));
	rt->reduced = strcmp(json_string_value(json_object_get(msg, "level")) ?: "", "full") != 0;
	rt->base_vsz = (uint64_t)json_integer_value(json_object_get(msg, "base_vsz"));
	ut_snprintf(rt->python, sizeof(rt->python), "%s",
		    json_string_value(json_object_get(msg, "python")) ?: "?");
	json_decref(msg);
	return 0;
}

CACT_API int cact_runtime_new(const struct cact_runtime_options *opts, struct cact_runtime **out,
			      struct cact_error *err)
{
	struct cact_runtime_options dflt;
	struct cact_runtime *rt = NULL;
	char guest[PATH_MAX];
	json_t *cfg = NULL, *paths = NULL;
	char *cfg_text = NULL;
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
	if ((rc = find_guest(opts, guest, sizeof(guest), err)))
		return rc;
	paths = json_array();
	if (!paths)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	for (i = 0; i < opts->n_python_paths; i++) {
		char real[PATH_MAX];
		struct stat st;

		if (!realpath(opts->python_paths[i], real) || stat(real, &st) ||
		    !S_ISDIR(st.st_mode)) {
			rc = ut_err(err, CACT_ENOENT, "python path %s is not a folder",
				    opts->python_paths[i]);
			goto fail;
		}
		json_array_append_new(paths, json_string(real));
	}
	cfg = json_pack("{s:s, s:i, s:O}", "isolation",
			opts->isolation == CACT_ISOLATION_FULL ? "full" : "reduced", "hide",
			(int)opts->hide_features, "python_paths", paths);
	cfg_text = cfg ? json_dumps(cfg, JSON_COMPACT) : NULL;
	rt = calloc(1, sizeof(*rt));
	if (!cfg_text || !rt) {
		rc = ut_err(err, CACT_ENOMEM, "out of memory");
		goto fail;
	}
	rt->ctl = rt->outer_pidfd = -1;
	rt->outer = -1;
	rt->pool_size = opts->pool_size;
	pthread_mutex_init(&rt->lock, NULL);
	pthread_mutex_init(&rt->send_lock, NULL);
	pthread_cond_init(&rt->cond, NULL);
	if ((rc = spawn_guest(rt, guest, cfg_text, err)))
		goto fail;
	if ((rc = await_hello(rt, err)))
		goto fail;
	rt->startup_us = ut_now_us() - t0;
	rt->isolation = isolation_json(rt);
	if (!rt->isolation) {
		rc = ut_err(err, CACT_ENOMEM, "out of memory");
		goto fail;
	}
	rt->pool_profile = rt_default_profile();
	if (!rt->pool_profile) {
		rc = ut_err(err, CACT_ENOMEM, "out of memory");
		goto fail;
	}
	pthread_mutex_lock(&rt->lock);
	refill(rt);
	pthread_mutex_unlock(&rt->lock);
	*out = rt;
	rt = NULL;
fail:
	cact_runtime_free(rt);
	json_decref(cfg);
	json_decref(paths);
	free(cfg_text);
	return rc;
}

CACT_API void cact_runtime_free(struct cact_runtime *rt)
{
	struct rt_slot *s, *next;
	int status;

	if (!rt)
		return;
	/* Closing the control socket ends the zygote, whose death ends every child. */
	ut_close(&rt->ctl);
	if (rt->outer > 0) {
		struct pollfd pfd = {.fd = rt->outer_pidfd, .events = POLLIN};

		if (rt->outer_pidfd < 0 || poll(&pfd, 1, 2000) <= 0)
			kill(rt->outer, SIGKILL);
		while (waitpid(rt->outer, &status, 0) < 0 && errno == EINTR)
			;
	}
	ut_close(&rt->outer_pidfd);
	for (s = rt->slots; s; s = next) {
		next = s->next;
		close_slot(s);
		free(s);
	}
	while (rt->spawns)
		free(answered(rt, rt->spawns->id));
	pthread_mutex_destroy(&rt->lock);
	pthread_mutex_destroy(&rt->send_lock);
	pthread_cond_destroy(&rt->cond);
	free(rt->isolation);
	free(rt->pool_profile);
	free(rt);
}

CACT_API char *cact_runtime_isolation_json(const struct cact_runtime *rt)
{
	return strdup(rt->isolation);
}

CACT_API pid_t cact_runtime_zygote_pid(const struct cact_runtime *rt)
{
	return rt->outer;
}

CACT_API uint64_t cact_runtime_startup_us(const struct cact_runtime *rt)
{
	return rt->startup_us;
}
