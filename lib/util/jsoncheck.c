/* SPDX-License-Identifier: MIT */
/*
 * The cost model. What jansson 2.14 (Debian 12, x86-64, glibc) allocates
 * per node, as heap chunks (a request of n bytes takes a chunk of
 * n + 8 rounded up to 16, at least 32), checked by tests/unit/bounds.c
 * (cost_model_covers_jansson), which decodes each shape with a counting
 * allocator and asserts that the measured peak stays under this estimate:
 *
 *   a value's slot in its array     24  8-byte pointer; the table doubles
 *                                       (old and new table live together)
 *   number (integer or real)        32  json_integer_t / json_real_t
 *   string                     80 + n  json_string_t (48) + its copy (n +
 *                                       24 at most, 32 at least)
 *   array                          128  json_array_t (48) + 8-slot table (80)
 *   object                         224  json_object_t (80) + 8 buckets (144)
 *   object member             128 + n  pair with the key inline (80 + n at
 *                                       most) + buckets (at most 2 of 16
 *                                       bytes each per member, and the old
 *                                       ones while the table doubles: 48)
 *   true, false, null                0  shared singletons
 *
 * plus, once, twice the longest token (the lexer collects every token in a
 * buffer that doubles, freed when the decoding ends) and 64 KiB (tables of
 * 128 KiB and more are mmapped, whole pages: 65,537 empty objects took
 * 8 KiB over the per-node sum). Measured per value in a 200,000-element
 * array (peak bytes, slot included): {} 234, [] 138, "" 90, 0 42, 1.5 42,
 * null 16, {"a":0} 346, [[[[]]]] 522 (4 values). So 4 MiB of "{}," cost
 * 310 MiB (78 times its size), ",0" 21 times, a long string 3 times.
 *
 * The budget: 8 times the length, plus 16 MiB. The slack keeps legitimate
 * dense data of the default caps (1 MiB of tool arguments or results;
 * records like {"id":12345,"name":"Alice"} cost 15 to 20 times their size
 * in jansson) decodable, and bounds what any text can cost: a hostile
 * 4 MiB frame at most 48 MiB (it took 310), 25 MiB at most 216 MiB (it
 * took 1.8 GiB). Values cheaper than 8 bytes of heap per byte (long
 * strings, base64 bodies, floats with digits) never reach it.
 */
#include <malloc.h>
#include <stdint.h>

#include "jsoncheck.h"
#include "util.h"

#define COST_SLOT   24
#define COST_NUMBER 32
#define COST_STRING 80
#define COST_ARRAY  128
#define COST_OBJECT 224
#define COST_MEMBER 128
#define COST_BASE   ((size_t)64 << 10)

#define BUDGET_RATIO 8
#define BUDGET_SLACK ((size_t)16 << 20)

size_t ut_json_budget(size_t len)
{
	if (len > (SIZE_MAX - BUDGET_SLACK) / BUDGET_RATIO)
		return SIZE_MAX;
	return len * BUDGET_RATIO + BUDGET_SLACK;
}

struct scan {
	const unsigned char *p, *start, *end;
	char *why;
	size_t size;
};

static int is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && is_ws(*s->p))
		s->p++;
}

/* A syntax error at the current byte. */
static int bad(struct scan *s, const char *what)
{
	size_t at = (size_t)(s->p - s->start);

	if (!s->why)
		return CACT_EINVAL;
	if (s->p >= s->end)
		ut_snprintf(s->why, s->size, "unexpected end at byte %zu", at);
	else if (what)
		ut_snprintf(s->why, s->size, "%s at byte %zu", what, at);
	else if (*s->p >= 0x20 && *s->p < 0x7f)
		ut_snprintf(s->why, s->size, "unexpected '%c' at byte %zu", *s->p, at);
	else
		ut_snprintf(s->why, s->size, "unexpected byte 0x%02x at byte %zu", *s->p, at);
	return CACT_EINVAL;
}

/* A string from its opening quote; *n gets its length between the quotes. */
static int string(struct scan *s, size_t *n)
{
	const unsigned char *open = s->p++;
	int i;

	while (s->p < s->end && *s->p != '"') {
		if (*s->p < 0x20)
			return bad(s, "control character in a string");
		if (*s->p++ != '\\')
			continue;
		if (s->p >= s->end)
			return bad(s, NULL);
		if (*s->p == 'u') {
			for (i = 1; i <= 4; i++)
				if (s->p + i >= s->end || !is_hex(s->p[i])) {
					s->p += i;
					return bad(s, "bad \\u escape");
				}
			s->p += 5;
		} else if (*s->p == '"' || *s->p == '\\' || *s->p == '/' || *s->p == 'b' ||
			   *s->p == 'f' || *s->p == 'n' || *s->p == 'r' || *s->p == 't') {
			s->p++;
		} else {
			return bad(s, "bad escape in a string");
		}
	}
	if (s->p >= s->end)
		return bad(s, NULL);
	*n = (size_t)(s->p - open - 1);
	s->p++;
	return 0;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? ; *n gets its length. */
static int number(struct scan *s, size_t *n)
{
	const unsigned char *first = s->p;

	if (*s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (s->p < s->end && is_digit(*s->p))
		while (s->p < s->end && is_digit(*s->p))
			s->p++;
	else
		return bad(s, "bad number");
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (s->p >= s->end || !is_digit(*s->p))
			return bad(s, "bad number");
		while (s->p < s->end && is_digit(*s->p))
			s->p++;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (s->p >= s->end || !is_digit(*s->p))
			return bad(s, "bad number");
		while (s->p < s->end && is_digit(*s->p))
			s->p++;
	}
	*n = (size_t)(s->p - first);
	return 0;
}

static int literal(struct scan *s, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return bad(s, NULL);
	s->p += n;
	return 0;
}

/* The stack of open containers: one bit per level, set for an object. */
static void mark(uint64_t *objects, size_t level, int obj)
{
	if (obj)
		objects[level / 64] |= (uint64_t)1 << (level % 64);
	else
		objects[level / 64] &= ~((uint64_t)1 << (level % 64));
}

static int is_object(const uint64_t *objects, size_t level)
{
	return (int)(objects[level / 64] >> (level % 64) & 1);
}

static size_t add(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

int ut_json_check(const char *text, size_t len, unsigned max_depth, struct ut_json_stats *stats,
		  char *why, size_t size)
{
	/* The open containers, allocation-free: a bit per level (see mark). */
	uint64_t objects[(UT_JSON_DEPTH_LIMIT + 1 + 63) / 64] = {0};
	struct scan s = {(const unsigned char *)text, (const unsigned char *)text,
			 (const unsigned char *)text + len, why, size};
	size_t open = 0, values = 0, cost = 0, longest = 0, n = 0;
	size_t budget = ut_json_budget(len);
	enum { VALUE, KEY, AFTER } want = VALUE;
	int rc = 0, obj;

	if (why && size)
		why[0] = '\0';
	if (max_depth > UT_JSON_DEPTH_LIMIT)
		max_depth = UT_JSON_DEPTH_LIMIT;
	for (;;) {
		skip_ws(&s);
		obj = open && is_object(objects, open - 1);
		if (want == KEY) {
			if (s.p >= s.end || *s.p != '"') {
				rc = bad(&s, NULL);
				goto out;
			}
			if ((rc = string(&s, &n)))
				goto out;
			cost = add(cost, add(COST_MEMBER, n));
			longest = n > longest ? n : longest;
			skip_ws(&s);
			if (s.p >= s.end || *s.p != ':') {
				rc = bad(&s, NULL);
				goto out;
			}
			s.p++;
			want = VALUE;
		} else if (want == VALUE) {
			if (s.p >= s.end) {
				rc = bad(&s, NULL);
				goto out;
			}
			if (open > max_depth) {
				rc = CACT_ETOOBIG;
				if (why)
					ut_snprintf(why, size, "nested deeper than %u", max_depth);
				goto out;
			}
			values++;
			cost = add(cost, COST_SLOT);
			switch (*s.p) {
			case '{':
			case '[':
				obj = *s.p == '{';
				cost = add(cost, obj ? COST_OBJECT : COST_ARRAY);
				mark(objects, open++, obj);
				s.p++;
				skip_ws(&s);
				if (s.p < s.end && *s.p == (obj ? '}' : ']')) {
					s.p++;
					open--;
					want = AFTER;
				} else {
					want = obj ? KEY : VALUE;
				}
				break;
			case '"':
				if ((rc = string(&s, &n)))
					goto out;
				cost = add(cost, add(COST_STRING, n));
				longest = n > longest ? n : longest;
				want = AFTER;
				break;
			case 't':
			case 'f':
			case 'n':
				if ((rc = literal(&s, *s.p == 't'   ? "true"
						      : *s.p == 'f' ? "false"
								    : "null")))
					goto out;
				want = AFTER;
				break;
			default:
				if (*s.p != '-' && !is_digit(*s.p)) {
					rc = bad(&s, NULL);
					goto out;
				}
				if ((rc = number(&s, &n)))
					goto out;
				cost = add(cost, COST_NUMBER);
				longest = n > longest ? n : longest;
				want = AFTER;
				break;
			}
		} else {
			if (!open) {
				if (s.p < s.end) {
					rc = bad(&s, NULL);
					goto out;
				}
				break; /* one whole value */
			}
			if (s.p < s.end && *s.p == ',') {
				s.p++;
				want = obj ? KEY : VALUE;
			} else if (s.p < s.end && *s.p == (obj ? '}' : ']')) {
				s.p++;
				open--;
			} else {
				rc = bad(&s, NULL);
				goto out;
			}
		}
		/* Checked as it grows: a refused text is never walked to its end. */
		if (add(cost, add(COST_BASE, add(longest, longest))) > budget) {
			rc = CACT_ETOOBIG;
			if (why)
				ut_snprintf(why, size, "more than %zu JSON values in %zu bytes",
					    values - 1, len);
			goto out;
		}
	}
out:
	if (stats) {
		stats->values = values;
		stats->cost = add(cost, add(COST_BASE, add(longest, longest)));
	}
	return rc;
}

void ut_json_trim(size_t len)
{
	if (len >= UT_JSON_TRIM_MIN)
		malloc_trim(0);
}
