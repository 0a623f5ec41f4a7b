/* SPDX-License-Identifier: MIT */
/*
 * Tool calls of one execution. A "tool_call" frame from the sandbox is
 * checked (shape, count, size, tool, schema), then its handler runs on a
 * thread of its own while the supervisor goes on watching the sandbox's
 * output and clock; a handler's completion wakes the supervisor through a
 * pipe, and the answer goes back as a "tool_result" frame. Everything in the
 * frame is hostile: a malformed call is a protocol violation; a call the
 * host refuses (unknown tool, bad arguments, over a cap, denied) is answered
 * with an error the code sees as an exception.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../tools/tools.h"
#include "../util/buf.h"
#include "../util/util.h"
#include "../wire/wire.h"
#include "dispatch.h"

struct call {
	long long id;
	struct cact_tool *tool; /* a reference */
	char *args;             /* compact JSON */
	int ask;                /* per-call approval needed */
	cact_approval_fn approve;
	void *approve_user;
	size_t result_cap;
	int cancel_fd;
	int wake_fd;
	pthread_t thread;
	/* Results, written by the thread before it signals the wake pipe. */
	int ok, denied;
	char *value;
	char error[CACT_ERROR_MAX];
	uint64_t started_us, ended_us;
	_Atomic int done;
};

static void *worker(void *arg)
{
	struct call *c = arg;
	struct cact_error err = {0};
	char one = 1;

	if (c->ask && !(c->approve && c->approve(c->approve_user, c->tool->name, c->args))) {
		c->denied = 1;
		ut_snprintf(c->error, sizeof(c->error), "the call was not approved");
	} else if (tool_invoke(c->tool, c->args, c->result_cap, c->cancel_fd, &c->value, &err) == 0) {
		c->ok = 1;
	} else {
		ut_snprintf(c->error, sizeof(c->error), "%s", err.message);
	}
	c->ended_us = ut_now_us();
	atomic_store(&c->done, 1);
	if (write(c->wake_fd, &one, 1) < 0)
		(void)0; /* the pipe holds far more than RT_MAX_CALLS bytes */
	return NULL;
}

int rt_calls_init(struct rt_calls *cs, const struct cact_request *req, struct cact_error *err)
{
	int p[2];

	memset(cs, 0, sizeof(*cs));
	cs->req = req;
	cs->wake_r = cs->wake_w = cs->cancel = -1;
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK))
		return ut_err_sys(err, CACT_ESYS, errno, "pipe2");
	cs->wake_r = p[0];
	cs->wake_w = p[1];
	cs->cancel = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (cs->cancel < 0) {
		ut_close(&cs->wake_r);
		ut_close(&cs->wake_w);
		return ut_err_sys(err, CACT_ESYS, errno, "eventfd");
	}
	return 0;
}

/* Appends one tool_result frame to the outgoing queue. */
static int answer(struct rt_calls *cs, struct ut_buf *outq, long long id, int ok, int denied,
		  const char *value, const char *error)
{
	json_t *head = NULL;
	char *text = NULL, *frame = NULL;
	size_t len, payload;
	int rc = 0;

	/* The value is already compact JSON: splice it in rather than parse it again. */
	if (ok)
		head = json_pack("{s:s, s:I, s:b}", "type", "tool_result", "id", id, "ok", 1);
	else
		head = json_pack("{s:s, s:I, s:b, s:b, s:s}", "type", "tool_result", "id", id, "ok",
				 0, "denied", denied, "error", error);
	text = head ? json_dumps(head, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (!text) {
		rc = CACT_ENOMEM;
		goto out;
	}
	len = strlen(text);
	payload = ok ? len - 1 + strlen(",\"value\":") + strlen(value) + 1 : len;
	frame = malloc(WIRE_HEADER + payload + 1);
	if (!frame) {
		rc = CACT_ENOMEM;
		goto out;
	}
	frame[0] = (char)(payload >> 24);
	frame[1] = (char)(payload >> 16);
	frame[2] = (char)(payload >> 8);
	frame[3] = (char)payload;
	if (ok)
		ut_snprintf(frame + WIRE_HEADER, payload + 1, "%.*s,\"value\":%s}", (int)(len - 1),
			    text, value);
	else
		memcpy(frame + WIRE_HEADER, text, len);
	rc = ut_buf_add(outq, frame, WIRE_HEADER + payload);
	cs->answered++;
out:
	json_decref(head);
	free(text);
	free(frame);
	return rc;
}

static void list_tools(const struct cact_request *req, char *out, size_t size)
{
	size_t i, used = 0;

	out[0] = '\0';
	for (i = 0; i < req->n_tools && used + 2 < size; i++) {
		int n = snprintf(out + used, size - used, "%s%s", i ? ", " : "",
				 cact_tool_name(req->tools[i]));

		if (n < 0 || (size_t)n >= size - used) {
			ut_snprintf(out + used, size - used, ", ...");
			break;
		}
		used += (size_t)n;
	}
	if (req->n_tools == 0)
		ut_snprintf(out, size, "none");
}

int rt_calls_on_frame(struct rt_calls *cs, json_t *msg, size_t frame_len, struct ut_buf *outq,
		      char *violation, size_t vsize)
{
	const struct cact_request *req = cs->req;
	json_t *jid = json_object_get(msg, "id"), *args = json_object_get(msg, "args");
	const char *name = json_string_value(json_object_get(msg, "name"));
	char why[CACT_ERROR_MAX], tools[512];
	struct cact_error err = {0};
	struct cact_tool *tool = NULL;
	struct call *c;
	long long id;
	size_t i;

	if (!json_is_integer(jid) || json_integer_value(jid) < 0 || !name || !json_is_object(args)) {
		ut_snprintf(violation, vsize, "malformed tool_call frame");
		return -1;
	}
	id = json_integer_value(jid);
	for (i = 0; i < RT_MAX_CALLS; i++) {
		if (cs->calls[i] && cs->calls[i]->id == id) {
			ut_snprintf(violation, vsize, "tool_call id %lld is already in flight", id);
			return -1;
		}
	}
	if (cs->in_flight >= RT_MAX_CALLS) {
		ut_snprintf(violation, vsize, "more than %d tool calls in flight", RT_MAX_CALLS);
		return -1;
	}
	cs->total++;
	if (cs->total > req->limits[CACT_LIMIT_TOOL_CALLS]) {
		ut_snprintf(why, sizeof(why), "the limit of %llu tool calls per execution is reached",
			    (unsigned long long)req->limits[CACT_LIMIT_TOOL_CALLS]);
		return answer(cs, outq, id, 0, 0, NULL, why) ? -2 : 0;
	}
	/* The frame bounds the arguments from above: decode cost stays capped. */
	if (frame_len > req->limits[CACT_LIMIT_TOOL_ARGS_BYTES] + 256) {
		ut_snprintf(why, sizeof(why), "the arguments are larger than %llu bytes",
			    (unsigned long long)req->limits[CACT_LIMIT_TOOL_ARGS_BYTES]);
		return answer(cs, outq, id, 0, 0, NULL, why) ? -2 : 0;
	}
	for (i = 0; i < req->n_tools; i++)
		if (strcmp(cact_tool_name(req->tools[i]), name) == 0)
			tool = req->tools[i];
	if (!tool) {
		list_tools(req, tools, sizeof(tools));
		ut_snprintf(why, sizeof(why), "unknown tool (available: %s)", tools);
		return answer(cs, outq, id, 0, 0, NULL, why) ? -2 : 0;
	}
	if (schema_validate(tool->params, args, &err)) {
		ut_snprintf(why, sizeof(why), "arguments do not match the tool's parameters: %s",
			    err.message);
		return answer(cs, outq, id, 0, 0, NULL, why) ? -2 : 0;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -2;
	c->id = id;
	c->tool = cact_tool_ref(tool);
	c->args = json_dumps(args, JSON_COMPACT);
	c->ask = req->per_call && tool->approval == CACT_APPROVAL_ALWAYS_REQUIRE;
	c->approve = req->approve_fn;
	c->approve_user = req->approve_user;
	c->result_cap = req->limits[CACT_LIMIT_TOOL_RESULT_BYTES];
	c->cancel_fd = cs->cancel;
	c->wake_fd = cs->wake_w;
	c->started_us = ut_now_us();
	if (!c->args || pthread_create(&c->thread, NULL, worker, c)) {
		cact_tool_unref(c->tool);
		free(c->args);
		free(c);
		ut_snprintf(why, sizeof(why), "the host could not start the call");
		return answer(cs, outq, id, 0, 0, NULL, why) ? -2 : 0;
	}
	for (i = 0; i < RT_MAX_CALLS; i++) {
		if (!cs->calls[i]) {
			cs->calls[i] = c;
			break;
		}
	}
	cs->in_flight++;
	return 0;
}

static void finish(struct rt_calls *cs, size_t i)
{
	struct call *c = cs->calls[i];

	pthread_join(c->thread, NULL);
	if (c->ok)
		cs->ok++;
	cs->busy_us += c->ended_us - c->started_us;
	cact_tool_unref(c->tool);
	free(c->args);
	free(c->value);
	free(c);
	cs->calls[i] = NULL;
	cs->in_flight--;
}

int rt_calls_collect(struct rt_calls *cs, struct ut_buf *outq)
{
	char drain[64];
	size_t i;
	int rc = 0;

	while (read(cs->wake_r, drain, sizeof(drain)) > 0)
		;
	for (i = 0; i < RT_MAX_CALLS; i++) {
		struct call *c = cs->calls[i];

		if (!c || !atomic_load(&c->done))
			continue;
		if (!rc)
			rc = answer(cs, outq, c->id, c->ok, c->denied, c->value, c->error);
		finish(cs, i);
	}
	return rc;
}

void rt_calls_finish(struct rt_calls *cs)
{
	uint64_t one = 1;
	size_t i;

	if (cs->wake_r < 0)
		return; /* already finished */
	/* Command tools stop at once; callbacks are waited for (they must return). */
	if (cs->cancel >= 0 && write(cs->cancel, &one, sizeof(one)) < 0)
		(void)0;
	for (i = 0; i < RT_MAX_CALLS; i++)
		if (cs->calls[i])
			finish(cs, i);
	ut_close(&cs->wake_r);
	ut_close(&cs->wake_w);
	ut_close(&cs->cancel);
}
