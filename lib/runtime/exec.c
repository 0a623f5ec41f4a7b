/* SPDX-License-Identifier: MIT */
/*
 * One supervised execution. The host sends the request down the child's
 * wire socket, then watches its fds: the wire (frames from the guest, all
 * hostile once "ready" has arrived), stdout and stderr (capped), the pidfd
 * (death, and the handle that signals) and the slot's eventfd (the
 * zygote's reports). The wall clock is the host's: at the deadline the
 * child's whole pid namespace is killed, whatever the code does with its
 * signals.
 *
 * When the guest reports the code's end, the host stops the child (SIGSTOP
 * through the pidfd: every thread) and waits for the zygote to see the
 * group stop. From then on nothing of the execution can run, so the streams
 * and /output are complete: the host harvests them, answers, and only then
 * kills the child, whose teardown happens off the caller's path.
 *
 * Live output (cact_request_set_output): what read_stream keeps goes to
 * the caller's callback from this loop, in rounds (flush_output): a round
 * waits OUTPUT_SETTLE_US after the first byte waiting (a print is two
 * writes) and OUTPUT_GAP_US after the previous round, so that a code that
 * writes a byte at a time costs the caller a call per stream per gap, not
 * one per byte. The chunks are slices of the capped buffers the result
 * keeps: no copy, and nothing past the cap. Without a callback none of it
 * runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cact/cact.h>

#include "../util/buf.h"
#include "../util/util.h"
#include "../wire/ctl.h"
#include "../wire/wire.h"
#include "dispatch.h"
#include "rt.h"
#include "session.h"
#include "zygote.h"

/* How long a child may take to build its sandbox (only fresh children build it on the request path). */
#define SETUP_LIMIT_US (30ull * 1000000)
/* How long a killed or finished sandbox may take to be reported dead. */
#define DEATH_GRACE_US (10ull * 1000000)
/* Largest frame the guest may send (a result with its traceback). */
#define GUEST_FRAME_MAX (4u << 20)
/* Answers queued for a sandbox that does not read them, beyond the exec frame. */
#define OUTQ_SLACK (32u << 20)
/* How often a session's run has its CPU time looked at (its own limit is the host's to keep). */
#define SESSION_CPU_POLL_MS 100
/* Output past the cap is read and dropped up to this many times the cap, then the run is killed. */
#define FLOOD_FACTOR 16
#define TRUNC_MARKER "\n[... output truncated by cact: more than %llu bytes ...]\n"
/* Live output: a round waits this long after its first byte arrived ... */
#define OUTPUT_SETTLE_US 2000u
/* ... and this long after the previous round. */
#define OUTPUT_GAP_US 20000u

struct stream {
	int fd;
	struct ut_buf buf;
	uint64_t cap;
	enum cact_stream which;
	size_t shown;	   /* live output: bytes of buf handed to the callback */
	uint64_t since_us; /* when the first byte not handed over arrived; 0: none waiting */
};

struct run {
	struct cact_runtime *rt;
	const struct cact_request *req;
	struct rt_slot *slot;
	struct cact_result *res;
	struct ut_buf outq; /* frames to the guest: the exec frame, then tool results */
	size_t outq_off;    /* how much of outq is written */
	struct rt_calls calls;
	struct wire_decoder dec;
	struct stream out, err;
	int outdir; /* /output tmpfs, from the ready frame */
	int ready;
	int running; /* the guest said the code starts: everything after is the code's */
	int have_result;
	json_t *report;	 /* the guest's result frame */
	char *setup_msg; /* from a setup_error frame */
	char violation[256];
	struct rt_session_ctx *session; /* NULL for a clean execution */
	uint64_t cpu_start_us;		/* a session run: the child's CPU time when it began */
	uint64_t cpu_checked_us;	/* ... and when check_cpu last looked at it */
	int killed_timeout, killed_flood, killed_violation, killed_cancel, killed_cpu;
	int dead;
	int stop_sent;	      /* SIGSTOP sent after the result frame */
	int stopped;	      /* the zygote saw the whole execution stopped (its stop pipe) */
	struct ctl_stop stop; /* what it reported with the stop */
	int lost;	      /* the zygote died: no report will come */
	unsigned applied_pid_max, applied_userns;
	uint64_t start, deadline;
	uint64_t timeout_us; /* the code's wall-clock limit, counted from "ready" */
	uint64_t shown_us;   /* live output: when the last round went out */
};

static void kill_sandbox(struct run *x)
{
	/* SIGKILL to pid 1 of the execution's namespace takes every process in it. */
	syscall(SYS_pidfd_send_signal, x->slot->pidfd, SIGKILL, NULL, 0);
}

static void violation(struct run *x, const char *fmt, ...) UT_PRINTF(2, 3);
static void violation(struct run *x, const char *fmt, ...)
{
	va_list ap;

	if (!x->killed_violation) {
		x->killed_violation = 1;
		va_start(ap, fmt);
		vsnprintf(x->violation, sizeof(x->violation), fmt, ap);
		va_end(ap);
	}
	kill_sandbox(x);
}

static void output_catch_up(struct run *x);

/* One frame from the guest. Before "ready" it is trusted setup code; after, it is hostile. */
static void on_frame(struct run *x, char *payload, size_t len)
{
	struct cact_error err = {0};
	enum wire_type type;
	json_t *msg = NULL;

	if (wire_parse(payload, len, &msg, &type, &err)) {
		violation(x, "%s", err.message);
		return;
	}
	switch (type) {
	case WIRE_READY:
		if (x->ready || x->outdir < 0) {
			violation(x, "unexpected %s frame from the sandbox", "ready");
			break;
		}
		x->ready = 1;
		/* The limit is the code's: set-up time (under load, for a fresh child) does not count. */
		x->deadline = ut_now_us() + x->timeout_us;
		x->calls.deadline_us = x->deadline;
		x->applied_pid_max = json_is_true(json_object_get(msg, "pid_max"));
		x->applied_userns = json_is_true(json_object_get(msg, "userns"));
		break;
	case WIRE_RUNNING:
		if (!x->ready || x->running) {
			violation(x, "unexpected %s frame from the sandbox", "running");
			break;
		}
		x->running = 1;
		if (x->session &&
		    atomic_fetch_or(&x->session->intr, RT_INTR_RUNNING) & RT_INTR_ASKED)
			syscall(SYS_pidfd_send_signal, x->slot->pidfd, SIGINT, NULL, 0);
		break;
	case WIRE_TOOL_CALL:
		if (!x->running || x->have_result) {
			violation(x, "unexpected %s frame from the sandbox", "tool_call");
			break;
		}
		output_catch_up(x);
		{
			char why[256];
			int rc = rt_calls_on_frame(&x->calls, msg, len, &x->outq, why, sizeof(why));

			if (rc == -1)
				violation(x, "%s", why);
			else if (rc)
				violation(x, "%s", "tool answers the sandbox does not read");
		}
		break;
	case WIRE_HTTP_REQUEST:
		if (!x->running || x->have_result) {
			violation(x, "unexpected %s frame from the sandbox", "http_request");
			break;
		}
		output_catch_up(x);
		{
			char why[256];
			int rc = rt_calls_on_http(&x->calls, msg, len, &x->outq, why, sizeof(why));

			if (rc == -1)
				violation(x, "%s", why);
			else if (rc)
				violation(x, "%s", "HTTP answers the sandbox does not read");
		}
		break;
	case WIRE_RESULT:
		if (!x->running || x->have_result) {
			violation(x, "unexpected %s frame from the sandbox", "result");
			break;
		}
		x->have_result = 1;
		x->report = json_incref(msg);
		/* The code has ended: freeze everything it may have left running. */
		if (!x->stop_sent) {
			x->stop_sent = 1;
			syscall(SYS_pidfd_send_signal, x->slot->pidfd, SIGSTOP, NULL, 0);
		}
		break;
	case WIRE_SETUP_ERROR:
		/* Also after ready (the request's limits are applied then), never once the code runs. */
		if (x->running || x->setup_msg) {
			violation(x, "unexpected %s frame from the sandbox", "setup_error");
			break;
		}
		free(x->setup_msg);
		x->setup_msg = strdup(json_string_value(json_object_get(msg, "message")) ?: "?");
		break;
	default:
		violation(x, "unexpected %s frame from the sandbox", wire_type_name(type));
		break;
	}
	json_decref(msg);
}

static void feed(struct run *x, const char *data, size_t n)
{
	while (n > 0 && !x->killed_violation) {
		char *frame = NULL;
		size_t used = 0, flen = 0;
		int rc = wire_decoder_feed(&x->dec, data, n, &used, &frame, &flen);

		if (rc < 0) {
			violation(x, "%s",
				  rc == CACT_ETOOBIG ? "frame from the sandbox over the size cap"
						     : "out of memory decoding a frame");
			return;
		}
		data += used;
		n -= used;
		if (rc == 1) {
			on_frame(x, frame, flen);
			free(frame);
		}
	}
}

/* The ready frame arrives with the /output fd attached: read it with recvmsg. */
static int read_ready(struct run *x)
{
	char buf[4096];
	int fds[1];
	size_t nfds = 0;
	ssize_t n = ut_recv_fds(x->slot->wire, buf, sizeof(buf), fds, 1, &nfds);

	if (n < 0)
		return errno == EAGAIN ? 0 : -1;
	if (n == 0)
		return -1;
	if (nfds == 1) {
		if (x->outdir >= 0)
			close(fds[0]);
		else
			x->outdir = fds[0];
	}
	feed(x, buf, (size_t)n);
	return 0;
}

static int read_wire(struct run *x)
{
	char buf[65536];
	ssize_t n;

	if (!x->ready)
		return read_ready(x);
	/* Plain read: fds the code might attach are dropped by the kernel. */
	n = read(x->slot->wire, buf, sizeof(buf));
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (n == 0)
		return -1;
	feed(x, buf, (size_t)n);
	return 0;
}

/*
 * How much of p[0..len) may go out now: all of it but a UTF-8 sequence
 * cut short at the end, which the next bytes may complete. Bytes that can
 * never be valid go out as they are (the caller repairs them).
 */
static size_t utf8_whole(const char *p, size_t len)
{
	size_t i, back;

	for (back = 1; back <= 3 && back <= len; back++) {
		unsigned char c = (unsigned char)p[len - back];
		size_t need;

		if ((c & 0xc0) == 0x80)
			continue; /* a continuation byte: look further back */
		need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
		i = len - back;
		return need > back && c < 0xf8 ? i : len;
	}
	return len;
}

/* Live output: what of s may go out in the next round (0: nothing). */
static size_t ready_bytes(const struct stream *s, int final)
{
	size_t end = final ? s->buf.len : utf8_whole(s->buf.p, s->buf.len);

	return end > s->shown ? end - s->shown : 0;
}

static void show(struct run *x, struct stream *s, int final)
{
	size_t n = ready_bytes(s, final);

	if (n) {
		x->req->output_fn(x->req->output_user, s->which, s->buf.p + s->shown, n);
		s->shown += n;
	}
	s->since_us = 0;
}

/*
 * A round of live output: both streams, the one whose bytes waited longer
 * first. Unless final, only when the round is due (output_due).
 */
static void flush_output(struct run *x, int final)
{
	struct stream *a = &x->out, *b = &x->err;

	if (!x->req->output_fn)
		return;
	if (b->since_us && (!a->since_us || b->since_us < a->since_us)) {
		a = &x->err;
		b = &x->out;
	}
	show(x, a, final);
	show(x, b, final);
	x->shown_us = ut_now_us();
}

/* When the next round of live output is due: 0 when nothing waits. */
static uint64_t output_due(const struct run *x)
{
	uint64_t first = x->out.since_us, due;

	if (!first || (x->err.since_us && x->err.since_us < first))
		first = x->err.since_us;
	if (!first)
		return 0;
	due = first + OUTPUT_SETTLE_US;
	if (x->shown_us && due < x->shown_us + OUTPUT_GAP_US)
		due = x->shown_us + OUTPUT_GAP_US;
	return due;
}

static int read_stream(struct run *x, struct stream *s)
{
	char buf[65536];
	ssize_t n = read(s->fd, buf, sizeof(buf));

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (n == 0)
		return -1;
	if (ut_buf_add_trunc(&s->buf, buf, (size_t)n))
		return -1;
	if (x->req->output_fn && !s->since_us && ready_bytes(s, 0))
		s->since_us = ut_now_us();
	if (s->buf.dropped > FLOOD_FACTOR * s->cap && !x->killed_flood) {
		x->killed_flood = 1;
		kill_sandbox(x);
	}
	return 0;
}

/*
 * Before a tool call or an HTTP request goes to the caller's callbacks:
 * the live output the code wrote before making it (in the pipes, or
 * waiting for its round) goes out first, so that the caller sees the two
 * in the order the code made them.
 */
static void output_catch_up(struct run *x)
{
	if (!x->req->output_fn)
		return;
	/* One read each takes a whole pipe's worth: what was written before the frame. */
	read_stream(x, &x->out);
	read_stream(x, &x->err);
	if (x->out.since_us || x->err.since_us)
		flush_output(x, 0);
}

static void write_frames(struct run *x)
{
	while (x->outq_off < x->outq.len) {
		ssize_t n = send(x->slot->wire, x->outq.p + x->outq_off, x->outq.len - x->outq_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			x->outq_off = x->outq.len; /* the child is gone; its death tells the rest */
			break;
		}
		x->outq_off += (size_t)n;
	}
	/* All written: start the queue over. */
	x->outq.len = 0;
	x->outq_off = 0;
}

static void drain(struct run *x)
{
	struct pollfd ready[3] = {{.fd = x->slot->wire, .events = POLLIN},
				  {.fd = x->out.fd, .events = POLLIN},
				  {.fd = x->err.fd, .events = POLLIN}};

	/*
	 * Every writer is dead or stopped: what is left in the (nonblocking)
	 * pipes ends at EOF or EAGAIN. One poll first, so that a stopped
	 * session with nothing left costs one call, not six.
	 */
	if (poll(ready, 3, 0) <= 0)
		goto check;
	while (ready[0].revents && x->slot->wire >= 0 && read_wire(x) == 0 &&
	       !x->killed_violation) {
		struct pollfd p = {.fd = x->slot->wire, .events = POLLIN};

		if (poll(&p, 1, 0) <= 0)
			break;
	}
	while (ready[1].revents && read_stream(x, &x->out) == 0) {
		struct pollfd p = {.fd = x->out.fd, .events = POLLIN};

		if (poll(&p, 1, 0) <= 0)
			break;
	}
	while (ready[2].revents && read_stream(x, &x->err) == 0) {
		struct pollfd p = {.fd = x->err.fd, .events = POLLIN};

		if (poll(&p, 1, 0) <= 0)
			break;
	}
check:
	/* Half a frame left when the sandbox died: the code wrote it (the runner writes whole ones). */
	if (x->ready && wire_decoder_partial(&x->dec) && !x->killed_timeout && !x->killed_flood)
		violation(x, "%s", "truncated frame from the sandbox");
}

/* Takes in what the zygote reported about the slot. */
static void slot_news(struct run *x)
{
	struct rt_slot st;
	uint64_t v;

	if (read(x->slot->evfd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing new since the last look. */
	}
	rt_slot_state(x->rt, x->slot, &st);
	x->slot->exited = st.exited;
	x->slot->lost = st.lost;
	x->slot->status = st.status;
	x->slot->cpu_us = st.cpu_us;
	x->slot->maxrss_kib = st.maxrss_kib;
	if (st.lost)
		x->lost = 1;
}

/*
 * Reads the stops the zygote reported on the slot's stop pipe. Only a stop
 * the host asked for ends the run; the code cannot stop itself (pid 1).
 */
static void stop_news(struct run *x)
{
	struct ctl_stop st;

	while (read(x->slot->stops, &st, sizeof(st)) == (ssize_t)sizeof(st)) {
		if (x->stop_sent) {
			x->stopped = 1;
			x->stop = st;
		}
	}
}

static void check_cpu(struct run *x);

static void supervise(struct run *x)
{
	int wire_open = 1, out_open = 1, err_open = 1;

	while (!x->dead && !x->stopped && !x->lost) {
		struct pollfd p[8]; /* wire, stdout, stderr, pidfd, calls, cancel, evfd, stops */
		uint64_t now = ut_now_us();
		int timeout, n = 0, iw = -1, io = -1, ie = -1, ip, ic, ik, iz, is;

		if (now >= x->deadline && !x->killed_timeout && !x->dead) {
			x->killed_timeout = 1;
			kill_sandbox(x);
		}
		/* After a kill, give the kernel a grace period to report the death. */
		if (x->killed_timeout || x->killed_flood || x->killed_violation ||
		    x->killed_cancel || x->killed_cpu)
			timeout = 100;
		else
			timeout = (int)((x->deadline - now + 999) / 1000);
		/* A session's run has its CPU time looked at now and then (check_cpu). */
		if (x->session && timeout > SESSION_CPU_POLL_MS)
			timeout = SESSION_CPU_POLL_MS;
		/* Live output waiting for its round. */
		if (x->out.since_us || x->err.since_us) {
			uint64_t due = output_due(x);
			int wait = due > now ? (int)((due - now + 999) / 1000) : 0;

			if (wait < timeout)
				timeout = wait;
		}
		if (wire_open) {
			iw = n;
			p[n].fd = x->slot->wire;
			p[n++].events = POLLIN | (x->outq_off < x->outq.len ? POLLOUT : 0);
		}
		if (out_open) {
			io = n;
			p[n].fd = x->out.fd;
			p[n++].events = POLLIN;
		}
		if (err_open) {
			ie = n;
			p[n].fd = x->err.fd;
			p[n++].events = POLLIN;
		}
		ip = n;
		p[n].fd = x->slot->pidfd;
		p[n++].events = POLLIN;
		ic = n;
		p[n].fd = x->calls.wake_r;
		p[n++].events = POLLIN;
		ik = -1;
		if (x->req->cancel_fd >= 0 && !x->killed_cancel) {
			ik = n;
			p[n].fd = x->req->cancel_fd;
			p[n++].events = POLLIN;
		}
		iz = n;
		p[n].fd = x->slot->evfd;
		p[n++].events = POLLIN;
		is = n;
		p[n].fd = x->slot->stops;
		p[n++].events = POLLIN;
		if (poll(p, (nfds_t)n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			kill_sandbox(x);
			break;
		}
		if (ik >= 0 && p[ik].revents && !x->dead) {
			x->killed_cancel = 1;
			kill_sandbox(x);
		}
		if (p[ic].revents && rt_calls_collect(&x->calls, &x->outq))
			violation(x, "%s", "tool answers the sandbox does not read");
		if (iw >= 0 && (p[iw].revents & POLLOUT))
			write_frames(x);
		/* Answers queued by the frames just read, or by finished handlers. */
		if (wire_open && x->outq_off < x->outq.len &&
		    !(iw >= 0 && (p[iw].revents & POLLOUT)))
			write_frames(x);
		if (iw >= 0 && (p[iw].revents & (POLLIN | POLLHUP | POLLERR)) && read_wire(x)) {
			wire_open = 0;
			/* The runner writes whole frames: a stream that ends in one is the code's. */
			if (x->ready && !x->have_result && wire_decoder_partial(&x->dec) &&
			    !x->killed_timeout && !x->killed_flood && !x->killed_cancel)
				violation(x, "%s", "truncated frame from the sandbox");
		}
		if (io >= 0 && p[io].revents && read_stream(x, &x->out))
			out_open = 0;
		if (ie >= 0 && p[ie].revents && read_stream(x, &x->err))
			err_open = 0;
		if (p[ip].revents)
			x->dead = 1;
		if (p[iz].revents)
			slot_news(x);
		if (p[is].revents)
			stop_news(x);
		if ((x->out.since_us || x->err.since_us) && ut_now_us() >= output_due(x))
			flush_output(x, 0);
		check_cpu(x);
		if (ut_now_us() > x->deadline + DEATH_GRACE_US)
			break; /* cannot happen with a working kernel; do not hang the caller */
	}
	drain(x);
}

/* After the child died: waits for the zygote's wait status (or its loss). 0 or -1. */
static int await_exit(struct run *x, uint64_t deadline_us)
{
	while (!x->slot->exited && !x->lost) {
		struct pollfd p = {.fd = x->slot->evfd, .events = POLLIN};
		uint64_t now = ut_now_us();

		if (now >= deadline_us)
			return -1;
		if (poll(&p, 1, (int)((deadline_us - now + 999) / 1000)) < 0 && errno != EINTR)
			return -1;
		slot_news(x);
	}
	return x->slot->exited ? 0 : -1;
}

/* Ends a capped stream with a visible marker if it was cut. 0 or CACT_ENOMEM. */
static int seal_stream(struct stream *s)
{
	char marker[128];

	if (s->buf.dropped == 0)
		return 0;
	ut_snprintf(marker, sizeof(marker), TRUNC_MARKER, (unsigned long long)s->cap);
	/* The marker may go past the cap: the cap is on the code's bytes. */
	s->buf.max += strlen(marker);
	return ut_buf_add(&s->buf, marker, strlen(marker));
}

/* Moves a sealed stream into the result. */
static int finish_stream(struct stream *s, char **dst, size_t *len, int *trunc)
{
	*trunc = s->buf.dropped > 0;
	free(*dst);
	*dst = ut_buf_steal(&s->buf, len);
	return *dst ? 0 : CACT_ENOMEM;
}

static const char *signame(int sig)
{
	const char *n = sigabbrev_np(sig);

	return n ? n : "?";
}

/* Decides the status from what the kernel, the guest and the supervisor saw. */
static int classify(struct run *x)
{
	struct cact_result *r = x->res;
	int st = x->slot->status;
	char msg[300];
	int rc = 0;

	r->exit_code = -1;
	if (x->killed_cancel) {
		r->status = CACT_STATUS_CANCELLED;
		return rt_result_set_error(r, "cancelled", "the execution was cancelled", NULL);
	}
	if (!x->running) {
		if (x->killed_timeout && !x->setup_msg && x->ready)
			ut_snprintf(msg, sizeof(msg),
				    "the time limit ran out before the code started");
		else if (x->killed_timeout && !x->setup_msg)
			ut_snprintf(msg, sizeof(msg), "the sandbox was not ready within %llu s",
				    SETUP_LIMIT_US / 1000000);
		else if (x->setup_msg)
			ut_snprintf(msg, sizeof(msg), "%s", x->setup_msg);
		else if (WIFSIGNALED(st))
			ut_snprintf(msg, sizeof(msg), "the sandbox died during set-up (SIG%s)",
				    signame(WTERMSIG(st)));
		else
			ut_snprintf(msg, sizeof(msg), "the sandbox died during set-up (exit %d)",
				    WEXITSTATUS(st));
		r->status = CACT_STATUS_SETUP_ERROR;
		return rt_result_set_error(r, "setup_error", msg, NULL);
	}
	if (x->killed_violation) {
		r->status = CACT_STATUS_SANDBOX_VIOLATION;
		ut_snprintf(msg, sizeof(msg), "protocol violation: %s", x->violation);
		return rt_result_set_error(r, "sandbox_violation", msg, NULL);
	}
	if (x->killed_timeout) {
		r->status = CACT_STATUS_TIMEOUT;
		ut_snprintf(msg, sizeof(msg), "execution exceeded the %.3g s wall-clock limit",
			    (double)x->req->limits[CACT_LIMIT_TIMEOUT_MS] / 1000.0);
		return rt_result_set_error(r, "timeout", msg, NULL);
	}
	if (x->killed_cpu) {
		r->status = CACT_STATUS_TIMEOUT;
		ut_snprintf(msg, sizeof(msg), "the run used more than its %.3g s of CPU time",
			    (double)x->req->limits[CACT_LIMIT_TIMEOUT_MS] / 1000.0);
		return rt_result_set_error(r, "timeout", msg, NULL);
	}
	if (x->killed_flood) {
		r->status = CACT_STATUS_OUTPUT_LIMIT;
		ut_snprintf(msg, sizeof(msg),
			    "execution wrote more than %d times the output cap and was stopped",
			    FLOOD_FACTOR);
		return rt_result_set_error(r, "output_limit", msg, NULL);
	}
	/*
	 * The guest's word for an abort (lib/guest/child.c): pid 1 of a pid
	 * namespace cannot die of a SIGABRT it raises, so the guest exits
	 * with 128 + SIGABRT instead. Only an exit without a result report is
	 * read so: the code chooses how it exits (os._exit(134) reads the
	 * same), and nothing the kernel reported is overruled.
	 */
	if ((!x->stopped && WIFSIGNALED(st)) ||
	    (!x->stopped && !x->report && WIFEXITED(st) && WEXITSTATUS(st) == 128 + SIGABRT)) {
		int sig = WIFSIGNALED(st) ? WTERMSIG(st) : SIGABRT;
		uint64_t cap_kib = x->req->limits[CACT_LIMIT_MEMORY_BYTES] / 1024;

		if (sig == SIGSYS) {
			r->status = CACT_STATUS_SANDBOX_VIOLATION;
			return rt_result_set_error(
				r, "sandbox_violation",
				"killed by the seccomp filter (a forbidden system call)", NULL);
		}
		if (sig == SIGXCPU) {
			r->status = CACT_STATUS_TIMEOUT;
			return rt_result_set_error(r, "timeout",
						   "execution exceeded its CPU time limit", NULL);
		}
		if ((sig == SIGSEGV || sig == SIGABRT || sig == SIGBUS || sig == SIGKILL) &&
		    x->slot->maxrss_kib >= cap_kib * 9 / 10) {
			r->status = CACT_STATUS_MEMORY_LIMIT;
			ut_snprintf(msg, sizeof(msg), "killed by SIG%s at the memory cap",
				    signame(sig));
			return rt_result_set_error(r, "memory_limit", msg, NULL);
		}
		r->status = CACT_STATUS_CRASHED;
		ut_snprintf(msg, sizeof(msg), "killed by signal SIG%s", signame(sig));
		return rt_result_set_error(r, "crashed", msg, NULL);
	}
	/*
	 * A normal end. Stopped after its report: the code's exit code is the
	 * report's (the code chooses its exit code either way). Exited: the
	 * report refines the kernel's status, within what it may claim.
	 */
	r->exit_code = x->stopped ? 1 : WEXITSTATUS(st);
	if (x->report) {
		json_t *code = json_object_get(x->report, "exit_code");
		json_t *error = json_object_get(x->report, "error");

		if (json_is_integer(code) &&
		    (x->stopped || (json_integer_value(code) != 0) == (r->exit_code != 0)))
			r->exit_code = (int)json_integer_value(code);
		if (r->exit_code != 0 && json_is_object(error))
			rc = rt_result_set_error(
				r, json_string_value(json_object_get(error, "type")),
				json_string_value(json_object_get(error, "message")),
				json_string_value(json_object_get(error, "traceback")) ?: "");
		if (r->exit_code != 0 && json_is_true(json_object_get(x->report, "memory_error"))) {
			r->status = CACT_STATUS_MEMORY_LIMIT;
			ut_snprintf(msg, sizeof(msg),
				    "MemoryError: the %llu MiB memory cap was reached",
				    (unsigned long long)(x->req->limits[CACT_LIMIT_MEMORY_BYTES] >>
							 20));
			free(r->error_message);
			r->error_message = strdup(msg);
			return r->error_message ? rc : CACT_ENOMEM;
		}
	}
	if (r->exit_code == 0) {
		r->status = CACT_STATUS_OK;
		return 0;
	}
	r->status = CACT_STATUS_PYTHON_ERROR;
	if (!r->error_type) {
		ut_snprintf(msg, sizeof(msg), "exit code %d", r->exit_code);
		rc = rt_result_set_error(r, "SystemExit", msg, "");
	}
	return rc;
}

static char *isolation_with(const struct run *x)
{
	json_t *iso = json_loads(x->rt->isolation, 0, NULL);
	char *s = NULL;

	if (!iso)
		return NULL;
	json_object_set_new(iso, "pid_cap", json_boolean(x->applied_pid_max));
	json_object_set_new(iso, "execution_user_namespace", json_boolean(x->applied_userns));
	s = json_dumps(iso, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(iso);
	return s;
}

pid_t rt_pidfd_pid(int pidfd)
{
	char path[64], buf[1024], *p;

	ut_snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	if (!ut_read_small(AT_FDCWD, path, buf, sizeof(buf)))
		return 0;
	p = strstr(buf, "\nPid:");
	return p ? (pid_t)strtol(p + 5, NULL, 10) : 0;
}

/*
 * A session child's CPU time (user and system, every thread, ended ones
 * too), in µs; 0 when unknown. Its CPU clock: one call, exact, where
 * /proc/PID/stat is formatted for us and counts clock ticks.
 */
static uint64_t cpu_of(const struct rt_session_ctx *ctx)
{
	/*
	 * The clock clock_getcpuclockid names (the kernel's process clock,
	 * CPUCLOCK_SCHED), without the clock_getres it makes to check the pid.
	 */
	clockid_t clock = (clockid_t)((~(unsigned)ctx->pid << 3) | 2);
	struct timespec ts;

	if (ctx->pid <= 0 || clock_gettime(clock, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A session's run that used more CPU than its time limit: stopped like a timeout. */
static void check_cpu(struct run *x)
{
	uint64_t used, now;

	if (!x->session || !x->running || x->killed_cpu || x->dead)
		return;
	/* Every SESSION_CPU_POLL_MS, not at each frame: a run of tiny code looks once, or never. */
	now = ut_now_us();
	if (now < x->cpu_checked_us + SESSION_CPU_POLL_MS * 1000)
		return;
	x->cpu_checked_us = now;
	used = cpu_of(x->session);
	if (used > x->cpu_start_us && used - x->cpu_start_us > x->timeout_us) {
		x->killed_cpu = 1;
		kill_sandbox(x);
	}
}

/* Whether a session survives the run just classified: only a run that ended as code ends. */
static int session_survives(const struct run *x, const struct cact_result *r)
{
	enum cact_status st = r->status;

	return x->stopped && !x->killed_flood &&
	       (st == CACT_STATUS_OK || st == CACT_STATUS_PYTHON_ERROR ||
		st == CACT_STATUS_OUTPUT_LIMIT);
}

/* Encodes the exec frame into x->outq, with room for the answers that may follow. */
static int queue_exec(struct run *x, const struct cact_request *req)
{
	json_t *frame = rt_exec_frame(req);
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (frame && x->session &&
	    (json_object_set_new(frame, "session", json_true()) ||
	     json_object_set_new(frame, "cpu_total_ms",
				 json_integer((json_int_t)x->session->cpu_total_ms)))) {
		json_decref(frame);
		frame = NULL;
	}
	/* JSON may escape a code byte into six ("\u001b"). */
	rc = frame ? wire_encode(frame, req->limits[CACT_LIMIT_CODE_BYTES] * 6 + (1u << 20), &buf,
				 &len)
		   : CACT_ENOMEM;
	json_decref(frame);
	/*
	 * The queue holds the exec frame, then answers up to OUTQ_SLACK and,
	 * with the network on, every HTTP response the byte budget allows (in
	 * base64) should the code never read them.
	 */
	ut_buf_init(&x->outq,
		    len + OUTQ_SLACK +
			    (req->n_domains
				     ? req->limits[CACT_LIMIT_HTTP_BYTES] / 3 * 4 +
					       req->limits[CACT_LIMIT_HTTP_BODY_BYTES] / 3 * 4
				     : 0));
	if (rc || ut_buf_add(&x->outq, buf, len))
		rc = CACT_ENOMEM;
	free(buf);
	return rc;
}

/*
 * One run: a clean execution on a child acquired here (slot NULL), or a
 * session's run on its own child (slot and ctx given), which stays when
 * the run ends well.
 */
static int execute(struct cact_runtime *rt, const struct cact_request *req, struct rt_slot *slot,
		   struct rt_session_ctx *ctx, struct cact_result **out, struct cact_error *err)
{
	struct run x = {.rt = rt, .req = req, .outdir = -1, .session = ctx};
	struct cact_error aerr = {0};
	json_t *frame = NULL;
	char *profile = NULL;
	int rc, sealed;

	*out = NULL;
	if (!req->has_code)
		return ut_err(err, CACT_EINVAL, "the request has no code");
	if (!slot) {
		frame = rt_prepare_frame(req);
		profile = frame ? json_dumps(frame, JSON_COMPACT) : NULL;
		json_decref(frame);
		if (!profile)
			return ut_err(err, CACT_ENOMEM, "cannot encode the request");
	}
	if (queue_exec(&x, req)) {
		free(profile);
		ut_buf_reset(&x.outq);
		return ut_err(err, CACT_ENOMEM, "cannot encode the request");
	}
	rt_calls_init(&x.calls, req);
	x.res = rt_result_new();
	if (!x.res) {
		rt_calls_finish(&x.calls);
		ut_buf_reset(&x.outq);
		free(profile);
		return ut_err(err, CACT_ENOMEM, "out of memory");
	}
	x.start = ut_now_us();
	if (slot) {
		x.slot = slot;
		rc = 0;
	} else {
		rc = rt_slot_acquire(rt, profile, &x.slot, &aerr);
	}
	x.res->stats.queue_us = ut_now_us() - x.start;
	if (rc < 0)
		ut_err(err, rc, "%s", aerr.message);
	if (rc == RT_ACQ_BUSY) {
		/* No sandbox in time: a result, so that the caller can tell it apart and retry. */
		x.res->status = CACT_STATUS_BUSY;
		x.res->exit_code = -1;
		rc = rt_result_set_error(x.res, "busy", aerr.message, NULL);
		if (rc) {
			ut_err(err, CACT_ENOMEM, "out of memory");
			goto fail;
		}
		x.res->isolation = strdup(rt->isolation);
		*out = x.res;
		x.res = NULL;
		goto fail;
	}
	if (rc)
		goto fail;
	/* An HTTP request frame carries its body in base64. */
	wire_decoder_init(
		&x.dec, req->n_domains ? GUEST_FRAME_MAX +
						 req->limits[CACT_LIMIT_HTTP_BODY_BYTES] / 3 * 4 + 4
				       : GUEST_FRAME_MAX);
	x.out.fd = x.slot->out;
	x.out.which = CACT_STREAM_STDOUT;
	x.out.cap = req->limits[CACT_LIMIT_STDOUT_BYTES];
	ut_buf_init(&x.out.buf, x.out.cap);
	x.err.fd = x.slot->err;
	x.err.which = CACT_STREAM_STDERR;
	x.err.cap = req->limits[CACT_LIMIT_STDERR_BYTES];
	ut_buf_init(&x.err.buf, x.err.cap);
	/* Until the sandbox is ready, the deadline is the set-up limit. */
	x.start = ut_now_us();
	x.timeout_us = req->limits[CACT_LIMIT_TIMEOUT_MS] * 1000;
	x.deadline = x.start + SETUP_LIMIT_US;
	if (ctx) {
		if (!ctx->pid)
			ctx->pid = rt_pidfd_pid(x.slot->pidfd);
		if (ctx->started) {
			/* Ready long ago and stopped since its last run: it goes on and reads the frame. */
			x.ready = 1;
			x.outdir = ctx->outdir;
			x.applied_pid_max = ctx->pid_max;
			x.applied_userns = ctx->userns;
			x.deadline = x.start + x.timeout_us;
			x.calls.deadline_us = x.deadline;
			syscall(SYS_pidfd_send_signal, x.slot->pidfd, SIGCONT, NULL, 0);
		}
		/* Stopped since its last run: its CPU time then is its CPU time now. */
		x.cpu_start_us = ctx->started ? ctx->cpu_us : cpu_of(ctx);
		x.cpu_checked_us = x.start;
	}
	write_frames(&x);
	supervise(&x);
	/* Every byte is in: the markers, then the rest of the live output. */
	sealed = seal_stream(&x.out);
	if (!sealed)
		sealed = seal_stream(&x.err);
	flush_output(&x, 1);
	rt_calls_finish(&x.calls);
	x.res->stats.tool_calls = x.calls.total;
	x.res->stats.tool_us = x.calls.busy_us;
	x.res->stats.http_requests = x.calls.n_log;
	x.res->stats.http_bytes =
		req->limits[CACT_LIMIT_HTTP_BYTES] - atomic_load(&x.calls.http_budget);
	x.res->http = x.calls.log;
	x.res->n_http = x.calls.n_log;
	x.calls.log = NULL;
	x.calls.n_log = x.calls.log_alloc = 0;
	x.res->stats.wall_us = ut_now_us() - x.start;
	if (x.lost) {
		rc = ut_err(err, CACT_ESANDBOX,
			    "the sandbox was lost: its zygote died during the execution (cact is "
			    "starting a new one; run the code again)");
		goto fail;
	}
	if (!x.dead && !x.stopped) {
		kill_sandbox(&x);
		rc = ut_err(err, CACT_ESANDBOX, "the sandbox did not die after SIGKILL");
		goto fail;
	}
	if (x.dead && await_exit(&x, ut_now_us() + DEATH_GRACE_US)) {
		rc = ut_err(err, CACT_ESANDBOX,
			    x.lost ? "the sandbox was lost: its zygote died during the execution "
				     "(cact is starting a new one; run the code again)"
				   : "the zygote did not report the sandbox's exit");
		goto fail;
	}
	{
		/* What the zygote reported with the stop, or at the exit. */
		uint64_t cpu = x.stopped ? x.stop.cpu_us : x.slot->cpu_us;

		x.res->stats.cpu_us = cpu;
		x.res->stats.peak_rss_kib = x.stopped ? x.stop.maxrss_kib : x.slot->maxrss_kib;
		if (ctx) {
			/* The session's CPU is counted from its last stop (or its start). */
			x.res->stats.cpu_us = cpu > ctx->cpu_us ? cpu - ctx->cpu_us : 0;
			ctx->cpu_us = cpu;
		}
	}
	if ((rc = sealed) ||
	    (rc = finish_stream(&x.out, &x.res->out, &x.res->out_len, &x.res->out_trunc)) ||
	    (rc = finish_stream(&x.err, &x.res->err, &x.res->err_len, &x.res->err_trunc)) ||
	    (rc = classify(&x))) {
		ut_err(err, CACT_ENOMEM, "out of memory");
		goto fail;
	}
	if (x.ready && x.outdir >= 0) {
		struct rt_harvest_caps caps = {
			.max_files = req->limits[CACT_LIMIT_OUTPUT_FILES],
			.max_bytes = req->limits[CACT_LIMIT_OUTPUT_BYTES],
			.max_depth = req->limits[CACT_LIMIT_OUTPUT_DEPTH],
		};

		if (ctx) {
			/* This run's files: those added or changed since the last run. */
			struct rt_seen after = {0};

			rc = rt_harvest_since(x.outdir, &caps, x.res, &ctx->seen, &after);
			rt_seen_clear(&ctx->seen);
			ctx->seen = after;
		} else {
			rc = rt_harvest(x.outdir, &caps, x.res);
		}
		if (rc < 0) {
			ut_err(err, rc, "out of memory collecting /output");
			goto fail;
		}
		if (rc == 1 && x.res->status == CACT_STATUS_OK) {
			x.res->status = CACT_STATUS_OUTPUT_LIMIT;
			rt_result_set_error(x.res, "output_limit",
					    "/output holds more than the caps allow; see skipped",
					    NULL);
		}
		rc = 0;
	}
	x.res->isolation = isolation_with(&x);
	*out = x.res;
	x.res = NULL;
fail:
	rt_calls_finish(&x.calls);
	rt_calls_free_log(&x.calls);
	if (ctx) {
		/* The session keeps its child (and /output) after a run that ended well. */
		if (x.ready && !ctx->started && x.outdir >= 0) {
			ctx->outdir = x.outdir;
			ctx->pid_max = x.applied_pid_max;
			ctx->userns = x.applied_userns;
		}
		x.outdir = -1;
		if (rc == 0 && *out && session_survives(&x, *out)) {
			ctx->started = 1;
		} else {
			ctx->ended = 1;
			ut_snprintf(ctx->why, sizeof(ctx->why), "%s in run %u",
				    *out ? cact_status_name((*out)->status) : err->message,
				    ctx->run_no);
			if (x.slot)
				kill_sandbox(&x);
		}
	} else if (x.slot) {
		rt_slot_release(rt, x.slot);
	}
	ut_close(&x.outdir);
	wire_decoder_reset(&x.dec);
	ut_buf_reset(&x.out.buf);
	ut_buf_reset(&x.err.buf);
	json_decref(x.report);
	free(x.setup_msg);
	ut_buf_reset(&x.outq);
	free(profile);
	cact_result_free(x.res);
	return rc;
}

CACT_API int cact_runtime_run(struct cact_runtime *rt, const struct cact_request *req,
			      struct cact_result **out, struct cact_error *err)
{
	return execute(rt, req, NULL, NULL, out, err);
}

int rt_run_in(struct cact_runtime *rt, const struct cact_request *req, struct rt_slot *slot,
	      struct rt_session_ctx *ctx, struct cact_result **out, struct cact_error *err)
{
	return execute(rt, req, slot, ctx, out, err);
}

void rt_session_ctx_init(struct rt_session_ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->outdir = -1;
}

void rt_session_ctx_clear(struct rt_session_ctx *c)
{
	ut_close(&c->outdir);
	rt_seen_clear(&c->seen);
	rt_session_ctx_init(c);
}
