/* SPDX-License-Identifier: MIT */
/*
 * Command tools: operator-configured programs run on the host, outside the
 * sandbox. The arguments go to stdin as JSON; one JSON value comes back on
 * stdout; a non-zero exit fails the call with the start of stderr as the
 * reason. The program runs in a process group of its own so that a timeout
 * (or the execution's end) kills whatever it started too.
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

int tool_run_command(const struct cact_tool *t, const char *args_json, size_t result_cap,
		     int cancel_fd, char **result_json, char **detail, struct cact_error *err)
{
	struct child c = {.pid = -1, .pidfd = -1, .in = -1, .out = -1, .err = -1};
	struct ut_buf out, errb;
	size_t in_len = strlen(args_json), in_off = 0;
	uint64_t deadline = ut_now_us() + t->timeout_ms * 1000;
	int exited = 0, timed_out = 0, cancelled = 0, status = 0, rc;
	char reason[TOOL_STDERR_MAX + 64], text[TOOL_STDERR_MAX + 128];

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
	if (WIFSIGNALED(status)) {
		reason_from(&errb, reason, sizeof(reason));
		ut_snprintf(text, sizeof(text), "killed by SIG%s: %s",
			    sigabbrev_np(WTERMSIG(status)) ?: "?", reason);
		rc = fail_long(err, detail, CACT_ESYS, text);
		goto done;
	}
	if (WEXITSTATUS(status) != 0) {
		reason_from(&errb, reason, sizeof(reason));
		ut_snprintf(text, sizeof(text), "exit status %d: %s", WEXITSTATUS(status), reason);
		rc = fail_long(err, detail, CACT_ESYS, text);
		goto done;
	}
	{
		json_error_t jerr;
		json_t *v = json_loadb(out.p ? out.p : "", out.len,
				       JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);

		if (!v) {
			rc = ut_err(err, CACT_EINVAL, "printed no JSON value on stdout: %s",
				    jerr.text);
			goto done;
		}
		*result_json = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		json_decref(v);
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
