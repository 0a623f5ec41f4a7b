/* SPDX-License-Identifier: MIT */
/*
 * cact mcp's log, in the words of docs/mcp.md "Operating": lines for people
 * ("cact mcp: ...") by default, or with --log-format json one JSON object
 * per line for log shippers: time, level, event, session, execution,
 * status, message, and the durations in milliseconds when there are some.
 * Each line is one write(2) under a lock, so lines from several threads
 * never interleave.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "mcp_ops.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int json_format;

void mcp_log_set_json(int on)
{
	json_format = on;
}

int mcp_log_is_json(void)
{
	return json_format;
}

/* A JSON string of bytes that may not be UTF-8: bytes that break it become '?'. */
static json_t *jtext(const char *p, size_t n)
{
	json_t *v = json_stringn(p, n);
	char *copy;
	size_t i;

	if (v)
		return v;
	copy = malloc(n ? n : 1);
	if (!copy)
		return NULL;
	for (i = 0; i < n; i++)
		copy[i] = (unsigned char)p[i] >= 0x80 || p[i] == '\0' ? '?' : p[i];
	v = json_stringn(copy, n);
	free(copy);
	return v;
}

static void put_line(const char *text, size_t n)
{
	pthread_mutex_lock(&log_lock);
	while (n) {
		ssize_t w = write(2, text, n);

		if (w <= 0)
			break; /* nowhere to report it */
		text += w;
		n -= (size_t)w;
	}
	pthread_mutex_unlock(&log_lock);
}

/* RFC 3339 in UTC with milliseconds: "2026-12-02T16:43:00.123Z". */
static void now_text(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

static void set_str(json_t *o, const char *key, const char *v)
{
	json_object_set_new(o, key, v ? jtext(v, strlen(v)) : json_null());
}

static void set_ms(json_t *o, const char *key, int64_t us)
{
	if (us >= 0)
		json_object_set_new(o, key, json_real((double)us / 1000.0));
}

void mcp_log_event(void *user, const struct cact_mcp_log_event *ev)
{
	json_t *o;
	char when[64], *text;

	(void)user;
	if (!json_format) {
		/* Lines for people carry the server's own events; calls would drown them. */
		if (strcmp(ev->event, "call") != 0 && strncmp(ev->event, "session_", 8) != 0 &&
		    ev->message)
			mcp_log_line(ev->level, ev->event, "%s", ev->message);
		return;
	}
	o = json_object();
	if (!o)
		return;
	now_text(when, sizeof(when));
	set_str(o, "time", when);
	set_str(o, "level", ev->level);
	set_str(o, "event", ev->event);
	set_str(o, "session", ev->session);
	set_str(o, "execution", ev->execution);
	if (ev->tool)
		set_str(o, "tool", ev->tool);
	set_str(o, "status", ev->status);
	set_str(o, "message", ev->message);
	set_ms(o, "wall_ms", ev->wall_us);
	set_ms(o, "cpu_ms", ev->cpu_us);
	set_ms(o, "queue_ms", ev->queue_us);
	set_ms(o, "duration_ms", ev->total_us);
	if (ev->stdout_text)
		json_object_set_new(o, "stdout", jtext(ev->stdout_text, ev->stdout_len));
	if (ev->stderr_text)
		json_object_set_new(o, "stderr", jtext(ev->stderr_text, ev->stderr_len));
	text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
	json_decref(o);
	if (!text)
		return;
	/* json_dumps never writes a raw line feed: the object is one line. */
	put_line(text, strlen(text));
	put_line("\n", 1);
	free(text);
}

void mcp_log_line(const char *level, const char *event, const char *fmt, ...)
{
	struct cact_mcp_log_event ev = {
		.level = level,
		.event = event,
		.wall_us = -1,
		.cpu_us = -1,
		.queue_us = -1,
		.total_us = -1,
	};
	char msg[1024], line[1100];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (json_format) {
		ev.message = msg;
		mcp_log_event(NULL, &ev);
		return;
	}
	n = snprintf(line, sizeof(line), "cact mcp: %s\n", msg);
	if (n > 0)
		put_line(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}
