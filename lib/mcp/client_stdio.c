/* SPDX-License-Identifier: MIT */
/*
 * The stdio transport of the MCP client: the server is a program spawned
 * in a process group of its own, its stdin and stdout carry
 * newline-delimited JSON-RPC, its stderr goes to our log line by line
 * ("[mcp NAME] ..."). One reader thread per program reads both: it hands
 * each response to the thread waiting for that id (through the waiter's
 * eventfd), answers the server's requests (ping; anything else is "method
 * not found"), drops notifications, and logs what it cannot use. A message
 * over the size cap, or the end of stdout, ends the program: the waiting
 * calls fail with the reason and the core starts it again on the next
 * call.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../util/buf.h"
#include "../util/util.h"
#include "client.h"
#include "jsonrpc.h"

extern char **environ;

#define COMPLAINTS_MAX 10   /* log lines about bad messages, per program */
#define EXIT_GRACE_MS  200  /* for a program whose stdout ended to exit by itself */
#define STOP_GRACE_MS  2000 /* for a program to exit after its stdin ended, then after SIGTERM */
#define ANSWER_MAX_MS  5000 /* to write an answer to a server's request */

struct proc;

struct waiter {
	struct waiter *next;
	long long id;
	struct proc *proc;
	int efd; /* written once the waiter is done */
	int done;
	json_t *reply; /* the response message */
	int rc;	       /* or a failure */
	char why[CACT_ERROR_MAX];
};

struct stdio_tr {
	pthread_mutex_t lock;  /* guards proc, waiters, and each proc's dead and why */
	pthread_mutex_t wlock; /* one writer on a program's stdin at a time */
	struct proc *proc;     /* the running program, NULL when none */
	struct waiter *waiters;
};

struct proc {
	struct cact_mcp_client *c;
	struct stdio_tr *s;
	unsigned gen;
	pid_t pid;
	int pidfd;
	int in, out, err; /* our ends of its stdin (under wlock), stdout, stderr */
	int stop[2];	  /* the reader stops when stop[0] is readable */
	pthread_t reader;
	int reader_started;
	atomic_int closing; /* proc_stop is ending it: its end is no news */
	int dead;
	char why[CACT_ERROR_MAX];
	struct ut_buf line; /* the stdout line being read */
	char errline[MCPC_LOG_LINE];
	size_t errlen;
	char last_err[200]; /* the last line on stderr */
	unsigned complaints;
};

/* ---- writing ---- */

enum wres { WR_DONE, WR_FAILED, WR_TIMEOUT, WR_CANCELLED };

/* Writes all of text then a line feed to fd (non-blocking), until deadline or cancel_fd. */
static enum wres write_line(int fd, const char *text, size_t len, uint64_t deadline, int cancel_fd,
			    size_t *written)
{
	size_t total = len + 1;

	*written = 0;
	while (*written < total) {
		const char *p = *written < len ? text + *written : "\n";
		size_t n = *written < len ? len - *written : 1;
		struct pollfd f[2] = {{.fd = fd, .events = POLLOUT},
				      {.fd = cancel_fd, .events = POLLIN}};
		uint64_t now;
		ssize_t w = ut_write_nosig(fd, p, n);

		if (w > 0) {
			*written += (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return WR_FAILED;
		now = ut_now_us();
		if (now >= deadline)
			return WR_TIMEOUT;
		if (poll(f, 2, (int)((deadline - now + 999) / 1000)) < 0 && errno != EINTR)
			return WR_FAILED;
		if (f[1].revents)
			return WR_CANCELLED;
	}
	return WR_DONE;
}

/* A program whose stdin holds half a message is of no more use: stop it. */
static void broken_input(struct proc *p)
{
	kill(-p->pid, SIGKILL);
}

/* Sends msg to p on behalf of the reader (an answer to the server's request). */
static void reader_send(struct proc *p, json_t *msg)
{
	uint64_t limit = p->c->timeout_ms < ANSWER_MAX_MS ? p->c->timeout_ms : ANSWER_MAX_MS;
	char *text = jrpc_dump(msg);
	size_t written = 0;
	enum wres r = WR_DONE;

	if (!text)
		return;
	pthread_mutex_lock(&p->s->wlock);
	if (p->in >= 0)
		r = write_line(p->in, text, strlen(text), ut_now_us() + limit * 1000, -1, &written);
	pthread_mutex_unlock(&p->s->wlock);
	if (r != WR_DONE && written > 0)
		broken_input(p);
	free(text);
}

/* ---- reading ---- */

/* Logs a problem with what the server sent, a few times per program. */
static void complain(struct proc *p, const char *what, const char *detail)
{
	if (p->complaints < COMPLAINTS_MAX)
		mcpc_log(p->c, "%s: %.300s", what, detail);
	else if (p->complaints == COMPLAINTS_MAX)
		mcpc_log(p->c, "further problems with its messages are not logged");
	p->complaints++;
}

/* A response: to the waiter of its id, if any. */
static void route(struct proc *p, struct jrpc_msg *m)
{
	struct stdio_tr *s = p->s;
	struct waiter *w;
	char text[64];
	uint64_t one = 1;

	if (!m->id) {
		json_t *msg = json_object_get(m->error, "message");

		complain(p, "the server reported an error",
			 json_is_string(msg) ? json_string_value(msg) : "(no message)");
		return;
	}
	pthread_mutex_lock(&s->lock);
	for (w = s->waiters; w; w = w->next)
		if (w->proc == p && !w->done && json_is_integer(m->id) &&
		    json_integer_value(m->id) == w->id)
			break;
	if (w) {
		w->reply = json_incref(m->root);
		w->done = 1;
		if (write(w->efd, &one, sizeof(one)) < 0)
			(void)0; /* an eventfd counter does not fill up */
	}
	pthread_mutex_unlock(&s->lock);
	if (!w) {
		char *id = json_dumps(m->id, JSON_ENCODE_ANY);

		ut_snprintf(text, sizeof(text), "%.40s", id ? id : "?");
		free(id);
		complain(p, "ignoring a response to no pending request, id", text);
	}
}

/* A request from the server: ping is answered, anything else is not offered. */
static void answer(struct proc *p, struct jrpc_msg *m)
{
	json_t *result = NULL, *msg;

	if (strcmp(m->method, "ping") == 0) {
		result = json_object();
		msg = result ? jrpc_result(m->id, result) : NULL;
	} else {
		msg = jrpc_error(m->id, JRPC_METHOD_NOT_FOUND, "method not found", NULL);
	}
	if (msg)
		reader_send(p, msg);
	json_decref(msg);
	json_decref(result);
}

static void on_line(struct proc *p, const char *text, size_t len)
{
	struct cact_error err = {0};
	struct jrpc_msg m;
	json_t *bad_id = NULL;
	size_t i;

	while (len > 0 && text[len - 1] == '\r')
		len--;
	for (i = 0; i < len && (text[i] == ' ' || text[i] == '\t'); i++)
		;
	if (i == len)
		return;
	if (jrpc_parse(text, len, p->c->max_message, &m, &bad_id, &err)) {
		json_decref(bad_id);
		complain(p, "ignoring a malformed message", err.message);
		return;
	}
	switch (m.kind) {
	case JRPC_RESULT:
	case JRPC_ERROR:
		route(p, &m);
		break;
	case JRPC_REQUEST:
		answer(p, &m);
		break;
	case JRPC_NOTIFICATION:
		break; /* progress, log messages, list changes: nothing cact acts on */
	}
	jrpc_clear(&m);
}

/* Splits stdout into lines; fills why when the program must stop. */
static void on_stdout(struct proc *p, const char *data, size_t n, char *why, size_t why_size)
{
	while (n > 0) {
		const char *nl = memchr(data, '\n', n);
		size_t part = nl ? (size_t)(nl - data) : n;
		int rc;

		if (nl && p->line.len == 0) {
			/* A whole line in the chunk: no copy. */
			if (part > p->c->max_message) {
				rc = CACT_ETOOBIG;
			} else {
				on_line(p, data, part);
				rc = 0;
			}
		} else {
			rc = ut_buf_add(&p->line, data, part);
			if (!rc && nl) {
				on_line(p, p->line.p, p->line.len);
				if (p->line.alloc > 65536)
					ut_buf_reset(&p->line); /* a big message's room goes back */
				else
					p->line.len = 0;
			}
		}
		if (rc == CACT_ETOOBIG) {
			ut_snprintf(why, why_size, "sent a message larger than %zu bytes",
				    p->c->max_message);
			return;
		}
		if (rc) {
			ut_snprintf(why, why_size, "out of memory reading its messages");
			return;
		}
		data += nl ? part + 1 : part;
		n -= nl ? part + 1 : part;
	}
}

static void err_flush(struct proc *p)
{
	if (p->errlen == 0)
		return;
	p->errline[p->errlen] = '\0';
	mcpc_log(p->c, "%s", p->errline);
	ut_snprintf(p->last_err, sizeof(p->last_err), "%s", p->errline);
	p->errlen = 0;
}

/* stderr, forwarded to the log one line at a time. */
static void on_stderr(struct proc *p, const char *data, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (data[i] == '\n') {
			err_flush(p);
			continue;
		}
		if (data[i] == '\r')
			continue;
		if (p->errlen == sizeof(p->errline) - 1)
			err_flush(p);
		p->errline[p->errlen++] = data[i];
	}
}

/* Reads what is left on stderr, waiting up to ms for its end. */
static void drain_stderr(struct proc *p, int ms)
{
	uint64_t end = ut_now_us() + (uint64_t)ms * 1000;
	char buf[4096];

	while (p->err >= 0) {
		struct pollfd f = {.fd = p->err, .events = POLLIN};
		uint64_t now = ut_now_us();
		ssize_t n;

		if (now >= end || poll(&f, 1, (int)((end - now + 999) / 1000)) <= 0)
			break;
		n = read(p->err, buf, sizeof(buf));
		if (n <= 0) {
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			break;
		}
		on_stderr(p, buf, (size_t)n);
	}
	err_flush(p);
}

/* Waits up to ms for the program to exit by itself (pidfd readable). */
static void await_exit(struct proc *p, int ms)
{
	struct pollfd f = {.fd = p->pidfd, .events = POLLIN};

	if (p->pidfd >= 0 && ms > 0)
		while (poll(&f, 1, ms) < 0 && errno == EINTR)
			;
}

/* Ends the program (its whole group) and fails the calls waiting on it. */
static void finish(struct proc *p, const char *why, int stopping)
{
	struct stdio_tr *s = p->s;
	char how[CACT_ERROR_MAX];
	struct waiter *w;
	uint64_t one = 1;
	int status = 0, reaped, quiet = stopping || atomic_load(&p->closing);

	await_exit(p, why[0] || stopping ? 0 : EXIT_GRACE_MS);
	kill(-p->pid, SIGKILL);
	while ((reaped = (int)waitpid(p->pid, &status, 0)) < 0 && errno == EINTR)
		;
	drain_stderr(p, stopping ? 0 : EXIT_GRACE_MS);
	if (why[0])
		ut_snprintf(how, sizeof(how), "%s", why);
	else if (stopping)
		ut_snprintf(how, sizeof(how), "was stopped");
	else if (reaped > 0 && WIFEXITED(status))
		ut_snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(status));
	else if (reaped > 0 && WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
		ut_snprintf(how, sizeof(how), "was killed by SIG%s",
			    sigabbrev_np(WTERMSIG(status)) ?: "?");
	else
		ut_snprintf(how, sizeof(how), "closed its output");
	if (p->last_err[0] && !quiet) {
		size_t used = strlen(how);

		ut_snprintf(how + used, sizeof(how) - used, " (stderr: %s)", p->last_err);
	}
	if (!quiet)
		mcpc_log(p->c, "the server %s", how);
	pthread_mutex_lock(&s->lock);
	p->dead = 1;
	ut_snprintf(p->why, sizeof(p->why), "%s", how);
	for (w = s->waiters; w; w = w->next) {
		if (w->proc != p || w->done)
			continue;
		w->done = 1;
		w->rc = CACT_ESYS;
		ut_snprintf(w->why, sizeof(w->why), "%s", how);
		if (write(w->efd, &one, sizeof(one)) < 0)
			(void)0;
	}
	pthread_mutex_unlock(&s->lock);
	if (!quiet)
		mcpc_lost(p->c, p->gen);
}

static void *reader(void *arg)
{
	struct proc *p = arg;
	char buf[65536], why[CACT_ERROR_MAX] = "";
	int stopping = 0;

	while (!why[0]) {
		struct pollfd f[3] = {{.fd = p->out, .events = POLLIN},
				      {.fd = p->err, .events = POLLIN},
				      {.fd = p->stop[0], .events = POLLIN}};
		ssize_t n;

		if (poll(f, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			ut_snprintf(why, sizeof(why), "could not be watched: poll: %s",
				    ut_errno_name(errno));
			break;
		}
		if (f[2].revents) {
			stopping = 1;
			break;
		}
		if (f[1].revents) {
			n = read(p->err, buf, sizeof(buf));
			if (n > 0)
				on_stderr(p, buf, (size_t)n);
			else if (n == 0 || (errno != EAGAIN && errno != EINTR))
				ut_close(&p->err);
		}
		if (f[0].revents) {
			n = read(p->out, buf, sizeof(buf));
			if (n > 0)
				on_stdout(p, buf, (size_t)n, why, sizeof(why));
			else if (n == 0 || (errno != EAGAIN && errno != EINTR))
				break;
		}
	}
	finish(p, why, stopping);
	return NULL;
}

/* ---- the program ---- */

/* The host's environment with the extra entries (which win). Owned array, borrowed strings. */
static char **merged_env(const struct cact_mcp_client *c)
{
	size_t n = 0, i, k, used = 0;
	char **envp;

	while (environ && environ[n])
		n++;
	envp = calloc(n + c->n_env + 1, sizeof(*envp));
	if (!envp)
		return NULL;
	for (i = 0; i < n; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t klen = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);

		for (k = 0; k < c->n_env; k++)
			if (strncmp(c->env[k], environ[i], klen) == 0 && c->env[k][klen] == '=')
				break;
		if (k == c->n_env)
			envp[used++] = environ[i];
	}
	for (k = 0; k < c->n_env; k++)
		envp[used++] = c->env[k];
	envp[used] = NULL;
	return envp;
}

static void proc_free(struct proc *p)
{
	ut_close(&p->in);
	ut_close(&p->out);
	ut_close(&p->err);
	ut_close(&p->pidfd);
	ut_close(&p->stop[0]);
	ut_close(&p->stop[1]);
	ut_buf_reset(&p->line);
	free(p);
}

static int spawn(struct cact_mcp_client *c, struct proc *p, struct cact_error *err)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, er[2] = {-1, -1};
	char **envp = merged_env(c);
	int rc = 0;

	if (!envp)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(er, O_CLOEXEC) ||
	    pipe2(p->stop, O_CLOEXEC)) {
		rc = ut_err_sys(err, CACT_ESYS, errno, "mcp server %s: pipe2", c->name);
		goto out;
	}
	rc = ut_spawn_group(c->argv, envp, c->cwd, in[0], out[1], er[1], &p->pid);
	if (rc) {
		rc = ut_err_sys(err, CACT_ESYS, rc, "mcp server %s: cannot run %s%s%s", c->name,
				c->argv[0], c->cwd ? " in " : "", c->cwd ? c->cwd : "");
		goto out;
	}
	p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	p->in = in[1];
	p->out = out[0];
	p->err = er[0];
	in[1] = out[0] = er[0] = -1;
	fcntl(p->in, F_SETFL, O_NONBLOCK);
	fcntl(p->out, F_SETFL, O_NONBLOCK);
	fcntl(p->err, F_SETFL, O_NONBLOCK);
out:
	ut_close(&in[0]);
	ut_close(&in[1]);
	ut_close(&out[0]);
	ut_close(&out[1]);
	ut_close(&er[0]);
	ut_close(&er[1]);
	free(envp);
	return rc;
}

/*
 * Stops p's program: end of input, then SIGTERM, then SIGKILL (by the
 * reader); with now, SIGKILL at once.
 */
static void proc_stop(struct proc *p, int now)
{
	struct timespec until;
	char one = 1;

	atomic_store(&p->closing, 1);
	pthread_mutex_lock(&p->s->wlock);
	ut_close(&p->in);
	pthread_mutex_unlock(&p->s->wlock);
	if (p->reader_started && now) {
		if (write(p->stop[1], &one, 1) < 0)
			(void)0;
		pthread_join(p->reader, NULL);
	} else if (p->reader_started) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += STOP_GRACE_MS / 1000;
		if (pthread_timedjoin_np(p->reader, NULL, &until) != 0) {
			kill(-p->pid, SIGTERM);
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += STOP_GRACE_MS / 1000;
			if (pthread_timedjoin_np(p->reader, NULL, &until) != 0) {
				if (write(p->stop[1], &one, 1) < 0)
					(void)0;
				pthread_join(p->reader, NULL);
			}
		}
	} else if (p->pid > 0) {
		kill(-p->pid, SIGKILL);
		while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	proc_free(p);
}

static struct stdio_tr *tr_of(struct cact_mcp_client *c)
{
	struct stdio_tr *s = c->tr_data;

	if (s)
		return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->wlock, NULL);
	c->tr_data = s;
	return s;
}

/* Takes the current program away from the transport (NULL when none). */
static struct proc *detach(struct stdio_tr *s)
{
	struct proc *p;

	pthread_mutex_lock(&s->wlock);
	pthread_mutex_lock(&s->lock);
	p = s->proc;
	s->proc = NULL;
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_unlock(&s->wlock);
	return p;
}

static int stdio_open(struct cact_mcp_client *c, struct cact_error *err)
{
	struct stdio_tr *s = tr_of(c);
	sigset_t all, old;
	struct proc *p, *prev;
	int rc;

	if (!s)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	if ((prev = detach(s)))
		proc_stop(prev, 0);
	p = calloc(1, sizeof(*p));
	if (!p)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	p->c = c;
	p->s = s;
	p->gen = mcpc_generation(c);
	p->pid = -1;
	p->pidfd = p->in = p->out = p->err = p->stop[0] = p->stop[1] = -1;
	ut_buf_init(&p->line, c->max_message);
	if ((rc = spawn(c, p, err))) {
		proc_free(p);
		return rc;
	}
	/* The reader takes no signal meant for the host's own threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&p->reader, NULL, reader, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		proc_stop(p, 1);
		return ut_err_sys(err, CACT_ESYS, rc, "mcp server %s: pthread_create", c->name);
	}
	p->reader_started = 1;
	pthread_mutex_lock(&s->wlock);
	pthread_mutex_lock(&s->lock);
	s->proc = p;
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_unlock(&s->wlock);
	return 0;
}

static void unlink_waiter(struct stdio_tr *s, struct waiter *w)
{
	struct waiter **pp;

	for (pp = &s->waiters; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			return;
		}
}

/*
 * Writes msg to the running program, under wlock. With w, the waiter is
 * registered before the first byte goes out, so that no answer is missed.
 */
static int send_msg(struct cact_mcp_client *c, json_t *msg, struct waiter *w, uint64_t deadline,
		    int cancel_fd, const char *method, struct cact_error *err)
{
	struct stdio_tr *s = tr_of(c);
	char *text = jrpc_dump(msg);
	size_t written = 0;
	struct proc *p;
	enum wres r;

	if (!s || !text) {
		free(text);
		return ut_err(err, CACT_ENOMEM, "out of memory");
	}
	pthread_mutex_lock(&s->wlock);
	pthread_mutex_lock(&s->lock);
	p = s->proc;
	if (!p || p->dead || p->in < 0) {
		pthread_mutex_unlock(&s->lock);
		pthread_mutex_unlock(&s->wlock);
		free(text);
		return MCPC_RECONNECT;
	}
	if (w) {
		w->proc = p;
		w->next = s->waiters;
		s->waiters = w;
	}
	pthread_mutex_unlock(&s->lock);
	r = write_line(p->in, text, strlen(text), deadline, cancel_fd, &written);
	/* Under wlock: p cannot be stopped and freed meanwhile. */
	if (r != WR_DONE && written > 0)
		broken_input(p);
	pthread_mutex_unlock(&s->wlock);
	free(text);
	if (r == WR_DONE)
		return 0;
	if (w) {
		pthread_mutex_lock(&s->lock);
		unlink_waiter(s, w);
		pthread_mutex_unlock(&s->lock);
	}
	if (r == WR_FAILED)
		return written ? ut_err(err, CACT_ESYS,
					"mcp server %s: cannot send %s: the program "
					"stopped reading",
					c->name, method)
			       : MCPC_RECONNECT;
	if (written > 0)
		return ut_err(err, CACT_ESYS, "mcp server %s: %s could not be sent whole: %s",
			      c->name, method, r == WR_TIMEOUT ? "timed out" : "cancelled");
	return r == WR_TIMEOUT ? MCPC_TIMEOUT : MCPC_CANCELLED;
}

/* Waits for w to be done, deadline_us or cancel_fd. 0 when done. */
static int wait_for(struct waiter *w, uint64_t deadline, int cancel_fd)
{
	for (;;) {
		struct pollfd f[2] = {{.fd = w->efd, .events = POLLIN},
				      {.fd = cancel_fd, .events = POLLIN}};
		uint64_t now = ut_now_us();

		if (f[0].fd >= 0 && poll(f, 1, 0) > 0)
			return 0;
		if (now >= deadline)
			return MCPC_TIMEOUT;
		if (poll(f, 2, (int)((deadline - now + 999) / 1000)) < 0) {
			if (errno == EINTR)
				continue;
			return MCPC_TIMEOUT;
		}
		if (f[0].revents)
			return 0;
		if (f[1].revents)
			return MCPC_CANCELLED;
	}
}

static int stdio_request(struct cact_mcp_client *c, long long id, const char *method,
			 json_t *params, uint64_t deadline, int cancel_fd, json_t **reply,
			 struct cact_error *err)
{
	struct stdio_tr *s = tr_of(c);
	struct waiter w = {.id = id, .efd = -1};
	json_t *jid = json_integer(id), *msg = jid ? jrpc_request(jid, method, params) : NULL;
	int rc;

	*reply = NULL;
	json_decref(jid);
	if (!s || !msg) {
		json_decref(msg);
		return ut_err(err, CACT_ENOMEM, "out of memory");
	}
	w.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w.efd < 0) {
		json_decref(msg);
		return ut_err_sys(err, CACT_ESYS, errno, "eventfd");
	}
	rc = send_msg(c, msg, &w, deadline, cancel_fd, method, err);
	json_decref(msg);
	if (rc)
		goto out;
	rc = wait_for(&w, deadline, cancel_fd);
	pthread_mutex_lock(&s->lock);
	unlink_waiter(s, &w);
	if (w.done)
		rc = 0; /* it came meanwhile: take it */
	pthread_mutex_unlock(&s->lock);
	if (rc)
		goto out;
	if (w.reply) {
		*reply = w.reply;
		w.reply = NULL;
	} else {
		rc = ut_err(err, w.rc ? w.rc : CACT_ESYS,
			    "mcp server %s: the server %s before "
			    "answering %s%s",
			    c->name, w.why, method,
			    strcmp(method, "initialize") ? "; the next call starts it again" : "");
	}
out:
	json_decref(w.reply);
	ut_close(&w.efd);
	return rc;
}

static int stdio_notify(struct cact_mcp_client *c, const char *method, json_t *params,
			struct cact_error *err)
{
	json_t *msg = jrpc_notification(method, params);
	uint64_t limit = c->timeout_ms < ANSWER_MAX_MS ? c->timeout_ms : ANSWER_MAX_MS;
	int rc;

	if (!msg)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	rc = send_msg(c, msg, NULL, ut_now_us() + limit * 1000, -1, method, err);
	json_decref(msg);
	if (rc == MCPC_RECONNECT || rc == MCPC_TIMEOUT || rc == MCPC_CANCELLED)
		rc = ut_err(err, CACT_ESYS,
			    "mcp server %s: cannot send %s: the server is not running", c->name,
			    method);
	return rc;
}

static void stdio_close(struct cact_mcp_client *c, int now)
{
	struct stdio_tr *s = c->tr_data;
	struct proc *p;

	if (s && (p = detach(s)))
		proc_stop(p, now);
}

static void stdio_release(struct cact_mcp_client *c)
{
	struct stdio_tr *s = c->tr_data;

	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->wlock);
	free(s);
	c->tr_data = NULL;
}

const struct mcpc_transport mcpc_stdio = {
	.open = stdio_open,
	.request = stdio_request,
	.notify = stdio_notify,
	.close = stdio_close,
	.release = stdio_release,
};
