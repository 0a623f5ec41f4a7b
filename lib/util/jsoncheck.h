/* SPDX-License-Identifier: MIT */
/*
 * A strict, allocation-free check of JSON text, run before jansson decodes
 * text that came from the sandbox, a model server or an MCP peer. jansson
 * builds the whole tree first, and a node costs it far more than the bytes
 * that spell it ("{}," is 3 bytes and about 250 bytes of heap): 4 MiB of
 * empty objects took the host 310 MiB. The check walks the bytes once,
 * validates the grammar (RFC 8259; UTF-8, duplicate keys and number ranges
 * stay jansson's to refuse), bounds the nesting, and adds up what jansson
 * would allocate for the text, refusing it when that is over
 * ut_json_budget(len). Numbers and their justification: jsoncheck.c.
 */
#ifndef CACT_UT_JSONCHECK_H
#define CACT_UT_JSONCHECK_H

#include <stddef.h>

/* The deepest nesting the check can follow; deeper max_depth values are lowered to it. */
#define UT_JSON_DEPTH_LIMIT 256

/*
 * Frames at least this long are worth giving memory back for once freed
 * (see ut_json_trim).
 */
#define UT_JSON_TRIM_MIN ((size_t)1 << 20)

/* What the check counted (up to where it stopped, when it refused). */
struct ut_json_stats {
	size_t values; /* JSON values: containers, strings, numbers, literals (not keys) */
	size_t cost;   /* estimated bytes jansson allocates to decode the text */
};

/*
 * The most a text of len bytes may cost jansson: 8 times its length plus
 * 16 MiB (saturating). Pure; thread-safe.
 */
size_t ut_json_budget(size_t len);

/*
 * Checks text[0..len) (no NUL terminator needed) before it is decoded:
 * exactly one JSON value with surrounding white space, no value nested
 * under more than max_depth containers (the root is at depth 0, as the
 * wire's and JSON-RPC's limits count), and an estimated decoding cost
 * within ut_json_budget(len). stats may be NULL. Allocates nothing;
 * thread-safe.
 *
 * Returns 0 when jansson may decode it; CACT_EINVAL when it is not JSON,
 * with why = "unexpected 'x' at byte N" or the like; CACT_ETOOBIG when it nests too
 * deeply ("nested deeper than 64") or costs too much ("more than N JSON
 * values in M bytes"). why (size bytes, may be NULL) holds one lowercase
 * line for the caller to prefix with what the text was.
 */
int ut_json_check(const char *text, size_t len, unsigned max_depth, struct ut_json_stats *stats,
		  char *why, size_t size);

/*
 * Gives the heap's free memory back to the system (malloc_trim) when len
 * is at least UT_JSON_TRIM_MIN: call it after the tree of a large text and
 * the text itself are freed. glibc keeps freed small chunks in its arenas,
 * and a server that decoded a few large messages on several threads kept
 * hundreds of MiB otherwise. Thread-safe.
 */
void ut_json_trim(size_t len);

#endif
