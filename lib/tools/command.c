/* SPDX-License-Identifier: MIT */
/*
 * Command tools: operator-configured programs run on the host, outside the
 * sandbox. The arguments go to stdin as JSON; one JSON value comes back on
 * stdout; a non-zero exit fails the call. The code is told the exit status
 * only: the start of stderr goes to cact's log (our stderr, one
 * "[tool NAME] " line per line, like an MCP server's), since it may hold
 * what the code should not see (paths, hosts, tokens in an error); the
 * tool's stderr_to_code makes it the reason the code sees instead. The
 * program runs in a process group of its own so that a timeout (or the
 * execution's end) kills whatever it started too.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../util/buf.h"
#include "../util/jsoncheck.h"
#include "../util/util.h"
#include "tools.h"

extern char **environ;

struct child {
	pid_t pid;
	int pidfd;
	int in, out, err; /* our ends */
};

static int spawn(const struct cact_tool *t, struct child *c, struct cact_error *err)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, er[2] = {-1, -1};
	int rc = 0;

	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(er, O_CLOEXEC)) {
		rc = ut_err_sys(err, CACT_ESYS, errno, "pipe2");
		goto out;
	}
	rc = ut_spawn_group(t->argv, environ, t->cwd, in[0], out[1], er[1], &c->pid);
	if (rc) {
		rc = ut_err_sys(err, CACT_ESYS, rc, "cannot run %s", t->argv[0]);
		goto out;
	}
	c->pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
	c->in = in[1];
	c->out = out[0];
	c->err = er[0];
	in[1] = out[0] = er[0] = -1;
	fcntl(c->in, F_SETFL, O_NONBLOCK);
	fcntl(c->out, F_SETFL, O_NONBLOCK);
	fcntl(c->err, F_SETFL, O_NONBLOCK);
out:
	ut_close(&in[0]);
	ut_close(&in[1]);
	ut_close(&out[0]);
	ut_close(&out[1]);
	ut_close(&er[0]);
	ut_close(&er[1]);
	return rc;
}

/* Reads what is there into b; returns -1 at end of file. */
static int pull(int fd, struct ut_buf *b)
{
	char chunk[16384];
	ssize_t n = read(fd, chunk, sizeof(chunk));

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (n == 0)
		return -1;
	ut_buf_add_trunc(b, chunk, (size_t)n);
	return 0;
}

/* The first line-ish of stderr, for a reason. */
static void reason_from(const struct ut_buf *e, char *out, size_t size)
{
	size_t n = e->len;

	while (n > 0 && (e->p[n - 1] == '\n' || e->p[n - 1] == ' '))
		n--;
	if (n == 0) {
		ut_snprintf(out, size, "(nothing on stderr)");
		return;
	}
	ut_snprintf(out, size, "%.*s", (int)n, e->p);
}

/* Fails with the reason in err, and whole in *detail when err cannot hold it. */
static int fail_long(struct cact_error *err, char **detail, int code, const char *text)
{
	if (strlen(text) >= sizeof(err->message))
		*detail = strdup(text);
	return ut_err(err, code, "%s", text);
}

/* One "[tool NAME] text" line to the log, control characters shown as '?'. */
static void log_line(const char *name, const char *text, size_t n)
{
	char line[TOOL_STDERR_MAX + 192];
	size_t len, i;

	len = (size_t)snprintf(line, sizeof(line) - 2, "[tool %.128s] ", name);
	for (i = 0; i < n && len < sizeof(line) - 2; i++) {
		unsigned char c = (unsigned char)text[i];

		line[len++] = (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c;
	}
	line[len++] = '\n';
	if (write(2, line, len) < 0)
		(void)0; /* nowhere to report it */
}

/* A failed call's status and stderr, for the operator's eyes only. */
static void log_failure(const char *name, const char *status, const struct ut_buf *e)
{
	char head[128];
	size_t start = 0, i;

	ut_snprintf(head, sizeof(head), "failed: %s%s", status,
		    e->len ? "; its stderr:" : " (nothing on stderr)");
	log_line(name, head, strlen(head));
	for (i = 0; i <= e->len; i++) {
		if (i < e->len && e->p[i] != '\n')
			continue;
		if (i > start)
			log_line(name, e->p + start, i - start - (e->p[i - 1] == '\r'));
		start = i + 1;
	}
}

/* A non-zero exit or a signal: the reason the code sees, the stderr where it belongs. */
static int fail_status(const struct cact_tool *t, const char *status, const struct ut_buf *e,
		       struct cact_error *err, char **detail)
{
	char reason[TOOL_STDERR_MAX + 64], text[TOOL_STDERR_MAX + 128];

	if (!t->stderr_to_code) {
		log_failure(t->name, status, e);
		return ut_err(err, CACT_ESYS, "%s%s", status,
			      e->len ? " (its stderr went to the host's log)" : "");
	}
	reason_from(e, reason, sizeof(reason));
	ut_snprintf(text, sizeof(text), "%s: %s", status, reason);
	return fail_long(err, detail, CACT_ESYS, text);
}

int tool_run_command(const struct cact_tool *t, const char *args_json, size_t result_cap,
		     int cancel_fd, char **result_json, char **detail, struct cact_error *err)
{
	struct child c = {.pid = -1, .pidfd = -1, .in = -1, .out = -1, .err = -1};
	struct ut_buf out, errb;
	size_t in_len = strlen(args_json), in_off = 0;
	uint64_t deadline = ut_now_us() + t->timeout_ms * 1000;
	int exited = 0, timed_out = 0, cancelled = 0, status = 0, rc;
	char what[64];

	ut_buf_init(&out, result_cap + 1);
	ut_buf_init(&errb, TOOL_STDERR_MAX);
	if ((rc = spawn(t, &c, err)))
		goto done;
	while (!exited) {
		struct pollfd p[5];
		int n = 0, iin = -1, iout = -1, ierr = -1, ipid = -1, icancel = -1;
		uint64_t now = ut_now_us();

		if (now >= deadline) {
			timed_out = 1;
			break;
		}
		if (c.in >= 0) {
			iin = n;
			p[n].fd = c.in;
			p[n++].events = POLLOUT;
		}
		if (c.out >= 0) {
			iout = n;
			p[n].fd = c.out;
			p[n++].events = POLLIN;
		}
		if (c.err >= 0) {
			ierr = n;
			p[n].fd = c.err;
			p[n++].events = POLLIN;
		}
		if (c.pidfd >= 0) {
			ipid = n;
			p[n].fd = c.pidfd;
			p[n++].events = POLLIN;
		}
		if (cancel_fd >= 0) {
			icancel = n;
			p[n].fd = cancel_fd;
			p[n++].events = POLLIN;
		}
		if (poll(p, (nfds_t)n, (int)((deadline - now + 999) / 1000)) < 0) {
			if (errno == EINTR)
				continue;
			rc = ut_err_sys(err, CACT_ESYS, errno, "poll");
			goto done;
		}
		if (icancel >= 0 && p[icancel].revents) {
			cancelled = 1;
			break;
		}
		if (iin >= 0 && p[iin].revents) {
			ssize_t w = ut_write_nosig(c.in, args_json + in_off, in_len - in_off);

			if (w > 0)
				in_off += (size_t)w;
			/* Done, or the program stopped reading: either way, no more input. */
			if (in_off == in_len || (w < 0 && errno != EAGAIN && errno != EINTR))
				ut_close(&c.in);
		}
		if (iout >= 0 && p[iout].revents && pull(c.out, &out))
			ut_close(&c.out);
		if (ierr >= 0 && p[ierr].revents && pull(c.err, &errb))
			ut_close(&c.err);
		if (out.dropped > 0) {
			rc = ut_err(err, CACT_ETOOBIG, "result is larger than %zu bytes",
				    result_cap);
			goto done;
		}
		/* Exited, or (no pidfd) both pipes closed. */
		if ((ipid >= 0 && p[ipid].revents) || (c.pidfd < 0 && c.out < 0 && c.err < 0))
			exited = 1;
	}
	if (timed_out || cancelled) {
		rc = timed_out ? ut_err(err, CACT_ESYS, "timed out after %llu ms",
					(unsigned long long)t->timeout_ms)
			       : ut_err(err, CACT_ESYS, "cancelled: the execution ended");
		goto done;
	}
	/* Whatever the program wrote before it exited is in the pipes now. */
	while (c.out >= 0 && pull(c.out, &out) == 0) {
		struct pollfd p = {.fd = c.out, .events = POLLIN};

		if (poll(&p, 1, 0) <= 0)
			break;
	}
	while (c.err >= 0 && pull(c.err, &errb) == 0) {
		struct pollfd p = {.fd = c.err, .events = POLLIN};

		if (poll(&p, 1, 0) <= 0)
			break;
	}
	if (out.dropped > 0) {
		rc = ut_err(err, CACT_ETOOBIG, "result is larger than %zu bytes", result_cap);
		goto done;
	}
	while (waitpid(c.pid, &status, 0) < 0) {
		if (errno != EINTR) {
			status = 0; /* reaped elsewhere (SIGCHLD ignored): judge by the output */
			break;
		}
	}
	c.pid = -1;
	if (WIFSIGNALED(status) || WEXITSTATUS(status) != 0) {
		if (WIFSIGNALED(status))
			ut_snprintf(what, sizeof(what), "killed by SIG%s",
				    sigabbrev_np(WTERMSIG(status)) ?: "?");
		else
			ut_snprintf(what, sizeof(what), "exit status %d", WEXITSTATUS(status));
		rc = fail_status(t, what, &errb, err, detail);
		goto done;
	}
	{
		json_error_t jerr;
		char why[128];
		json_t *v = NULL;

		/* Before jansson builds anything: what the tree would cost (ut_json_check). */
		rc = ut_json_check(out.p ? out.p : "", out.len, UT_JSON_DEPTH_LIMIT, NULL, why,
				   sizeof(why));
		if (rc) {
			rc = ut_err(err, CACT_EINVAL, "printed %s on stdout: %s",
				    rc == CACT_ETOOBIG ? "JSON too costly to decode"
						       : "no JSON value",
				    why);
			goto done;
		}
		v = json_loadb(out.p ? out.p : "", out.len, JSON_DECODE_ANY | JSON_ALLOW_NUL,
			       &jerr);
		if (!v) {
			rc = ut_err(err, CACT_EINVAL, "printed no JSON value on stdout: %s",
				    jerr.text);
			goto done;
		}
		*result_json = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		json_decref(v);
		ut_json_trim(out.len);
		if (!*result_json)
			rc = ut_err(err, CACT_ENOMEM, "out of memory");
		else if (strlen(*result_json) > result_cap) {
			free(*result_json);
			*result_json = NULL;
			rc = ut_err(err, CACT_ETOOBIG, "result is larger than %zu bytes",
				    result_cap);
		}
	}
done:
	if (c.pid > 0) {
		kill(-c.pid, SIGKILL);
		while (waitpid(c.pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	ut_close(&c.pidfd);
	ut_close(&c.in);
	ut_close(&c.out);
	ut_close(&c.err);
	ut_buf_reset(&out);
	ut_buf_reset(&errb);
	return rc;
}
