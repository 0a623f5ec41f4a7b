/* SPDX-License-Identifier: MIT */
/* Tool calls of one execution (dispatch.c). */
#ifndef CACT_RT_DISPATCH_H
#define CACT_RT_DISPATCH_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>

#include "../util/buf.h"
#include "rt.h"

/* Tool calls, and HTTP requests, one execution may have in flight at once (each). */
#define RT_MAX_KIND  16
#define RT_MAX_CALLS (2 * RT_MAX_KIND)

struct call;

struct rt_calls {
	const struct cact_request *req;
	struct call *calls[RT_MAX_CALLS];
	unsigned in_flight, tool_in_flight, http_in_flight;
	uint64_t total; /* calls made, including refused ones */
	uint64_t ok;	/* calls whose handler succeeded */
	uint64_t answered;
	uint64_t busy_us;	      /* summed handler time */
	int wake_r, wake_w;	      /* a handler finished */
	int cancel;		      /* eventfd: the execution is over */
	uint64_t http_total;	      /* HTTP requests made, refused ones included */
	_Atomic uint64_t http_budget; /* HTTP bytes left */
	_Atomic uint64_t http_left;   /* HTTP requests (hops) left */
	uint64_t deadline_us;	      /* the code's deadline, for HTTP requests */
	struct rt_http *log;	      /* every HTTP hop, in order */
	size_t n_log, log_alloc;
};

/* Sets up the calls of one execution; their channel is made with the first call. */
void rt_calls_init(struct rt_calls *cs, const struct cact_request *req);

/*
 * Handles a tool_call frame (msg, whose payload was frame_len bytes).
 * Refusals are queued on outq as error answers. Returns 0, -1 for a protocol
 * violation (violation filled), -2 when out of memory.
 */
int rt_calls_on_frame(struct rt_calls *cs, json_t *msg, size_t frame_len, struct ut_buf *outq,
		      char *violation, size_t vsize);

/* Handles an http_request frame, the same way. */
int rt_calls_on_http(struct rt_calls *cs, json_t *msg, size_t frame_len, struct ut_buf *outq,
		     char *violation, size_t vsize);

/* Moves n hops into the log (they are zeroed). 0, or -1 when out of memory. */
int rt_calls_log(struct rt_calls *cs, struct rt_http *hops, size_t n);

/* Queues the answers of finished handlers on outq. 0 or CACT_ENOMEM / CACT_ETOOBIG. */
int rt_calls_collect(struct rt_calls *cs, struct ut_buf *outq);

/*
 * Cancels what is running and waits for the handlers, C callbacks (which
 * nothing can cancel) at most 100 ms, leaving those still running to their
 * threads; releases everything but the log.
 */
void rt_calls_finish(struct rt_calls *cs);
void rt_calls_free_log(struct rt_calls *cs);

#endif
