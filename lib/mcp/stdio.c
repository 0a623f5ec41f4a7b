/* SPDX-License-Identifier: MIT */
/*
 * The stdio transport: one MCP session on a pair of file descriptors,
 * newline-delimited JSON-RPC. A reader (the caller's thread) feeds the
 * session line by line; a writer thread sends what the session queues, so
 * that reading never waits on a slow client, up to STDIO_OUT_MAX queued
 * bytes, after which reading pauses. End of input ends the session, its
 * calls and its sandbox session.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cact/cact.h>

#include "../util/buf.h"
#include "../util/util.h"
#include "server.h"

#define STDIO_OUT_MAX (64u << 20) /* queued output before reading pauses */

struct out_msg {
	char *text;
	size_t len;
	struct out_msg *next;
};

/* Messages to the client, written in order by one thread so that reading never waits on it. */
struct stdio_out {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct out_msg *head, *tail;
	size_t bytes;
	int fd;
	int sock;   /* fd is a socket: send with MSG_NOSIGNAL */
	int stop;   /* drain what is queued, then end */
	int broken; /* a write failed: the client is gone */
};

static void stdio_send(void *user, void *stream, char *text, size_t len, unsigned flags)
{
	struct stdio_out *o = user;
	struct out_msg *m;

	(void)stream;
	(void)flags;
	if (!text)
		return;
	m = malloc(sizeof(*m));
	if (!m) {
		free(text);
		return;
	}
	m->text = text;
	m->len = len;
	m->next = NULL;
	pthread_mutex_lock(&o->lock);
	if (o->broken) {
		pthread_mutex_unlock(&o->lock);
		free(text);
		free(m);
		return;
	}
	if (o->tail)
		o->tail->next = m;
	else
		o->head = m;
	o->tail = m;
	o->bytes += len;
	pthread_cond_broadcast(&o->cond);
	pthread_mutex_unlock(&o->lock);
}

static int out_write(const struct stdio_out *o, const char *p, size_t n)
{
	while (n) {
		ssize_t w = o->sock ? send(o->fd, p, n, MSG_NOSIGNAL) : write(o->fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void *stdio_writer(void *arg)
{
	struct stdio_out *o = arg;
	struct out_msg *m;
	int ok;

	pthread_mutex_lock(&o->lock);
	for (;;) {
		while (!o->head && !o->stop)
			pthread_cond_wait(&o->cond, &o->lock);
		m = o->head;
		if (!m)
			break;
		o->head = m->next;
		if (!o->head)
			o->tail = NULL;
		pthread_mutex_unlock(&o->lock);
		/* The newline after the message: the text is the callee's to extend. */
		ok = !o->broken && out_write(o, m->text, m->len) == 0 && out_write(o, "\n", 1) == 0;
		pthread_mutex_lock(&o->lock);
		o->bytes -= m->len;
		if (!ok)
			o->broken = 1;
		pthread_cond_broadcast(&o->cond);
		free(m->text);
		free(m);
	}
	pthread_mutex_unlock(&o->lock);
	return NULL;
}

/* One line from the client (without its newline). */
static void stdio_line(struct mcp_session *sess, struct ut_buf *line, int oversize, size_t max)
{
	char msg[128];
	size_t n = line->len;

	if (oversize) {
		ut_snprintf(msg, sizeof(msg), "message larger than %zu bytes", max);
		mcp_session_refuse(sess, NULL, JRPC_INVALID_REQUEST, msg);
		return;
	}
	while (n > 0 && (line->p[n - 1] == '\r' || line->p[n - 1] == ' ' || line->p[n - 1] == '\t'))
		n--;
	if (n == 0)
		return; /* blank lines separate nothing */
	mcp_session_feed(sess, line->p, n, NULL);
}

static int stdio_loop(struct mcp_session *sess, struct stdio_out *o, int in_fd, size_t max,
		      struct cact_error *err)
{
	struct ut_buf line;
	char chunk[65536];
	int oversize = 0, rc = 0;

	ut_buf_init(&line, max);
	for (;;) {
		ssize_t n = read(in_fd, chunk, sizeof(chunk));
		size_t i = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = ut_err_sys(err, CACT_ESYS, errno, "cannot read the client's messages");
			break;
		}
		if (n == 0)
			break;
		while (i < (size_t)n) {
			const char *nl = memchr(chunk + i, '\n', (size_t)n - i);
			size_t len = nl ? (size_t)(nl - (chunk + i)) : (size_t)n - i;

			if (!oversize && ut_buf_add(&line, chunk + i, len)) {
				oversize = 1;
				ut_buf_reset(&line);
			}
			i += len;
			if (!nl)
				break;
			i++;
			if (line.p || oversize)
				stdio_line(sess, &line, oversize, max);
			ut_buf_reset(&line);
			oversize = 0;
		}
		/* A client that does not read its answers stops being read. */
		pthread_mutex_lock(&o->lock);
		while (o->bytes > STDIO_OUT_MAX && !o->broken)
			pthread_cond_wait(&o->cond, &o->lock);
		n = o->broken;
		pthread_mutex_unlock(&o->lock);
		if (n)
			break;
	}
	if (line.p || oversize)
		stdio_line(sess, &line, oversize, max);
	ut_buf_reset(&line);
	return rc;
}

CACT_API int cact_mcp_serve_stdio(struct cact_mcp_server *s, int in_fd, int out_fd,
				  struct cact_error *err)
{
	struct stdio_out o = {.fd = out_fd};
	struct mcp_session *sess = NULL;
	struct out_msg *m;
	struct stat st;
	pthread_t writer;
	int rc;

	if (!s || in_fd < 0 || out_fd < 0)
		return ut_err(err, CACT_EINVAL, "mcp stdio: bad arguments");
	o.sock = fstat(out_fd, &st) == 0 && S_ISSOCK(st.st_mode);
	pthread_mutex_init(&o.lock, NULL);
	pthread_cond_init(&o.cond, NULL);
	if ((rc = mcp_session_new(s, stdio_send, &o, &sess, err)))
		goto out;
	if ((rc = pthread_create(&writer, NULL, stdio_writer, &o))) {
		rc = ut_err_sys(err, CACT_ESYS, rc, "pthread_create");
		mcp_session_free(sess);
		goto out;
	}
	rc = stdio_loop(sess, &o, in_fd, s->max_message, err);
	/* End of input: the client is gone, and so are its executions. */
	mcp_session_free(sess);
	pthread_mutex_lock(&o.lock);
	o.stop = 1;
	pthread_cond_broadcast(&o.cond);
	pthread_mutex_unlock(&o.lock);
	pthread_join(writer, NULL);
out:
	while ((m = o.head)) {
		o.head = m->next;
		free(m->text);
		free(m);
	}
	pthread_cond_destroy(&o.cond);
	pthread_mutex_destroy(&o.lock);
	return rc;
}
