/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the JSON pre-check (ut_json_check) against jansson, on the
 * same bytes. Invariants: a text jansson decodes is never refused by the
 * check as not JSON (except a raw NUL byte, which jansson swallows after a
 * number and the check refuses); a text the check lets through is refused
 * by jansson only for what the check leaves to it (UTF-8, number ranges,
 * NUL in keys, lone surrogates), never for its grammar; and what jansson
 * allocates for a text the check let through is within the check's
 * estimate.
 */
#include <jansson.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/jsoncheck.h"

#include <cact/error.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t live, peak;

static void *count_malloc(size_t n)
{
	void *p = malloc(n);

	if (p) {
		live += malloc_usable_size(p) + 8;
		if (live > peak)
			peak = live;
	}
	return p;
}

static void count_free(void *p)
{
	if (p)
		live -= malloc_usable_size(p) + 8;
	free(p);
}

static int left_to_jansson(const json_error_t *e, const uint8_t *data, size_t size)
{
	switch (json_error_code(e)) {
	case json_error_numeric_overflow:
	case json_error_null_byte_in_key:
	case json_error_invalid_utf8:
		return 1;
	case json_error_invalid_syntax:
		return strstr(e->text, "invalid Unicode") && memmem(data, size, "\\u", 2);
	default:
		return 0;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ut_json_stats st;
	json_error_t jerr;
	char why[128];
	json_t *v;
	int rc;

	rc = ut_json_check((const char *)data, size, UT_JSON_DEPTH_LIMIT, &st, why, sizeof(why));
	if (!why[0] && rc)
		abort(); /* every refusal says why */
	json_set_alloc_funcs(count_malloc, count_free);
	live = peak = 0;
	v = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	json_decref(v);
	json_set_alloc_funcs(malloc, free);
	if (v && rc == CACT_EINVAL && !memchr(data, '\0', size))
		abort();
	if (!v && rc == 0 && !left_to_jansson(&jerr, data, size))
		abort();
	if (rc == 0 && peak > st.cost)
		abort();
	return 0;
}
