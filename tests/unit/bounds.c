/* SPDX-License-Identifier: MIT */
/*
 * Bounds on what untrusted input may cost the host (outside review, finding
 * 1): the JSON pre-check (lib/util/jsoncheck.c) against jansson, at every
 * decoder that runs it, with a counting allocator set through
 * json_set_alloc_funcs for what jansson allocates and /proc/self/statm for
 * what the heap gives back; and NUL bytes in the names the sandbox sends.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "../common.h"
#include "agent/chat.h"
#include "mcp/jsonrpc.h"
#include "runtime/dispatch.h"
#include "runtime/rt.h"
#include "tools/tools.h"
#include "util/buf.h"
#include "util/jsoncheck.h"
#include "util/util.h"
#include "wire/wire.h"

#define MIB ((size_t)1 << 20)

/* ---- what jansson allocates: heap chunks, as glibc sizes them ---- */

static size_t live, peak;

static size_t chunk(void *p)
{
	return malloc_usable_size(p) + 8; /* the chunk header */
}

static void *count_malloc(size_t n)
{
	void *p = malloc(n);

	if (p) {
		live += chunk(p);
		if (live > peak)
			peak = live;
	}
	return p;
}

static void count_free(void *p)
{
	if (p)
		live -= chunk(p);
	free(p);
}

static void count_start(void)
{
	live = peak = 0;
	json_set_alloc_funcs(count_malloc, count_free);
}

/* The peak since count_start; jansson allocates plainly again. */
static size_t count_stop(void)
{
	json_set_alloc_funcs(malloc, free);
	return peak;
}

/* 1 when s starts with prefix. */
static int starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- texts ---- */

/* head, then items "item,item,...item" until the whole is about len bytes, then tail. */
static char *repeat(const char *head, const char *item, const char *tail, size_t len, size_t *out)
{
	size_t h = strlen(head), i = strlen(item), t = strlen(tail), used = h;
	char *s = malloc(len + h + i + t + 2);

	ck_assert_ptr_nonnull(s);
	memcpy(s, head, h);
	do {
		memcpy(s + used, item, i);
		used += i;
		s[used++] = ',';
	} while (used + i + 1 + t < len);
	used--; /* the last comma */
	memcpy(s + used, tail, t);
	used += t;
	s[used] = '\0';
	*out = used;
	return s;
}

/* One frame: header and payload. */
static char *framed(const char *payload, size_t len, size_t *out)
{
	char *f = malloc(len + 4);

	ck_assert_ptr_nonnull(f);
	f[0] = (char)(len >> 24);
	f[1] = (char)(len >> 16);
	f[2] = (char)(len >> 8);
	f[3] = (char)len;
	memcpy(f + 4, payload, len);
	*out = len + 4;
	return f;
}

static size_t rss(void)
{
	unsigned long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%lu %lu", &size, &resident), 2);
	fclose(f);
	return resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* The shapes a hostile text repeats: the densest heap per byte jansson has. */
static const char *const floods[] = {"{}", "[]", "0", "\"\"", "{\"\":{}}", "[[[[]]]]"};

/* ---- the check against jansson ---- */

static unsigned long long seed = 88172645463325252ull;

static unsigned rnd(unsigned n)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return (unsigned)(seed % n);
}

static void gen_string(struct ut_buf *b)
{
	static const char *const parts[] = {
		"a",   "Z",   " ",	 "\\\"",    "\\\\",	      "\\/",
		"\\n", "\\t", "\\u00e9", "\\u0000", "\\ud83d\\ude00", "\xc3\xa9"};
	unsigned i, n = rnd(4);

	ut_buf_add(b, "\"", 1);
	for (i = 0; i < n; i++) {
		const char *p = parts[rnd(UT_ARRAY_SIZE(parts))];

		ut_buf_add(b, p, strlen(p));
	}
	ut_buf_add(b, "\"", 1);
}

static void gen_value(struct ut_buf *b, int depth)
{
	static const char *const scalars[] = {"0",	 "-0",	 "12",	  "1.5",  "-3e7", "2E+2",
					      "0.25e-1", "true", "false", "null", "7",	  "-19"};
	unsigned i, n;

	switch (depth < 4 ? rnd(4) : 3) {
	case 0:
		n = rnd(4);
		ut_buf_add(b, "[", 1);
		for (i = 0; i < n; i++) {
			if (i) {
				const char *sep = rnd(3) ? "," : " , ";

				ut_buf_add(b, sep, strlen(sep));
			}
			gen_value(b, depth + 1);
		}
		ut_buf_add(b, "]", 1);
		break;
	case 1:
		n = rnd(4);
		ut_buf_add(b, "{", 1);
		for (i = 0; i < n; i++) {
			if (i)
				ut_buf_add(b, ",", 1);
			gen_string(b);
			ut_buf_add(b, ":", 1);
			gen_value(b, depth + 1);
		}
		ut_buf_add(b, "}", 1);
		break;
	case 2:
		gen_string(b);
		break;
	default: {
		const char *s = scalars[rnd(UT_ARRAY_SIZE(scalars))];

		ut_buf_add(b, s, strlen(s));
		break;
	}
	}
}

/* What jansson may refuse in text the check let through: not syntax. */
static int semantic(const json_error_t *e, const char *text)
{
	switch (json_error_code(e)) {
	case json_error_numeric_overflow:
	case json_error_null_byte_in_key:
	case json_error_invalid_utf8:
		return 1;
	case json_error_invalid_syntax:
		/* Lone surrogates: \ud83d alone, which the check leaves to jansson. */
		return strstr(e->text, "invalid Unicode") && strstr(text, "\\u");
	default:
		return 0;
	}
}

/* Checks one text both ways; returns 1 when the two disagree on its grammar. */
static int differs(const char *text, size_t len, char *note, size_t size)
{
	char why[128];
	json_error_t jerr;
	json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	int rc = ut_json_check(text, len, UT_JSON_DEPTH_LIMIT, NULL, why, sizeof(why));

	json_decref(v);
	/* jansson swallows a NUL byte right after a number ("[1\0]"): not JSON, refused. */
	if (v && rc == CACT_EINVAL && memchr(text, '\0', len) && strstr(why, "byte 0x00"))
		return 0;
	if (v && rc) {
		snprintf(note, size, "jansson takes [%.*s], the check says %s", (int)len, text,
			 why);
		return 1;
	}
	if (!v && !rc && !semantic(&jerr, text)) {
		snprintf(note, size, "the check takes [%.*s], jansson says %s", (int)len, text,
			 jerr.text);
		return 1;
	}
	return 0;
}

START_TEST(check_grammar_is_jansson_grammar)
{
	static const char *const table[] = {
		"0",
		"-0",
		"1e5",
		"1E+5",
		"0.5e-3",
		"-12.75",
		"01",
		"1.",
		".5",
		"-",
		"+1",
		"1e",
		"1e+",
		"00",
		"-01",
		"0x10",
		"1.5.2",
		"true",
		"false",
		"null",
		"nul",
		"nulll",
		"True",
		"\"\"",
		"\"a\\u00e9\\n\\\"\"",
		"\"\\u12g4\"",
		"\"\\x\"",
		"\"a\tb\"",
		"\"\\ud800\"",
		"\"abc",
		"[]",
		"[1,]",
		"[,1]",
		"[1 2]",
		"{}",
		"{\"a\":1,}",
		"{\"a\" 1}",
		"{1:2}",
		"{\"a\":1}",
		" \t\r\n[ 1 , { \"b\" : [ ] } ] \n",
		"[1]]",
		"[[1]",
		"",
		"   ",
		"{} {}",
		"1 2",
		"\"\\u0000\"",
		"{\"\\u0000\":1}",
		"99999999999999999999",
		"1e400",
		"[true,false,null]",
		"\xff",
		"\"\xff\"",
		"/",
		"[\"a\"\"b\"]",
		"{\"a\":}",
		"{\"a\"}",
		"{\"a\",\"b\"}",
		"[-]",
		"[1e-7,-0.0]",
	};
	/* With a NUL byte too (sizeof, not strlen). */
	static const char alphabet[] = "{}[]\",:019-+.eEtrufalsn \\/ux\x01\xff";
	char note[400];
	struct ut_buf b;
	size_t i;
	int n;

	for (i = 0; i < UT_ARRAY_SIZE(table); i++)
		ck_assert_msg(!differs(table[i], strlen(table[i]), note, sizeof(note)), "%s", note);
	/* Random documents, then the same with a byte replaced, inserted or dropped. */
	ut_buf_init(&b, 1 << 16);
	for (n = 0; n < 100000; n++) {
		size_t at;

		ut_buf_reset(&b);
		ut_buf_init(&b, 1 << 16);
		if (rnd(4))
			ut_buf_add(&b, " ", rnd(2));
		gen_value(&b, 0);
		ck_assert_msg(!differs(b.p, b.len, note, sizeof(note)), "%s", note);
		if (!b.len)
			continue;
		at = rnd((unsigned)b.len);
		switch (rnd(3)) {
		case 0:
			b.p[at] = alphabet[rnd(sizeof(alphabet))];
			break;
		case 1:
			memmove(b.p + at, b.p + at + 1, b.len - at - 1);
			b.len--;
			break;
		default:
			if (ut_buf_add(&b, " ", 1) == 0) {
				memmove(b.p + at + 1, b.p + at, b.len - at - 1);
				b.p[at] = alphabet[rnd(sizeof(alphabet))];
			}
			break;
		}
		ck_assert_msg(!differs(b.p, b.len, note, sizeof(note)), "%s", note);
	}
	ut_buf_reset(&b);
}
END_TEST

START_TEST(check_reasons_and_depth)
{
	char why[128], deep[200];
	size_t i;

	ck_assert_int_eq(ut_json_check("[1,", 3, 64, NULL, why, sizeof(why)), CACT_EINVAL);
	ck_assert_str_eq(why, "unexpected end at byte 3");
	ck_assert_int_eq(ut_json_check("[1 x]", 5, 64, NULL, why, sizeof(why)), CACT_EINVAL);
	ck_assert_str_eq(why, "unexpected 'x' at byte 3");
	ck_assert_int_eq(ut_json_check("\"a\x01\"", 4, 64, NULL, why, sizeof(why)), CACT_EINVAL);
	ck_assert_str_eq(why, "control character in a string at byte 2");
	/* The root is at depth 0: 64 containers around a value are allowed, 65 are not. */
	for (i = 0; i < 65; i++) {
		deep[i] = '[';
		deep[66 + i] = ']';
	}
	deep[65] = '1';
	ck_assert_int_eq(ut_json_check(deep, 131, 64, NULL, why, sizeof(why)), CACT_ETOOBIG);
	ck_assert_str_eq(why, "nested deeper than 64");
	ck_assert_int_eq(ut_json_check(deep + 1, 129, 64, NULL, why, sizeof(why)), 0);
	/* An empty container at depth 64 holds nothing deeper. */
	deep[65] = ' ';
	ck_assert_int_eq(ut_json_check(deep, 131, 64, NULL, why, sizeof(why)), 0);
	ck_assert_int_eq(ut_json_check(deep, 131, 63, NULL, why, sizeof(why)), CACT_ETOOBIG);
	ck_assert_str_eq(why, "nested deeper than 63");
}
END_TEST

/*
 * The cost model is an upper bound of jansson's heap: each shape, decoded
 * with the counting allocator at sizes on both sides of the tables'
 * doublings, peaks under the estimate, and the densest shape ({}), once
 * the fixed 64 KiB no longer dominates, within a factor of 1.2 of it: the
 * bound is not loose where it matters.
 */
START_TEST(cost_model_covers_jansson)
{
	static const char *const shapes[] = {
		"{}",
		"[]",
		"0",
		"1.5",
		"\"\"",
		"\"abcdefghijklmnopqrstuvwxyz0123456789\"",
		"null",
		"true",
		"{\"a\":0}",
		"{\"ab\":\"cd\",\"e\":[1]}",
		"[0]",
		"[[[[]]]]",
		"{\"\":{}}",
		"{\"id\":12345,\"name\":\"Alice Smith\",\"email\":\"alice@example.com\"}",
		"\"\\u00e9\\n\"",
		"-1.25e+300",
	};
	static const size_t counts[] = {1, 7, 9, 1000, 1025, 4097, 65537, 100000};
	size_t s, c, measured = 0;

	for (s = 0; s < UT_ARRAY_SIZE(shapes); s++) {
		for (c = 0; c < UT_ARRAY_SIZE(counts); c++) {
			struct ut_json_stats st;
			size_t len, got, k, il = strlen(shapes[s]);
			int rc;
			char *text = malloc(counts[c] * (il + 1) + 2), *p = text;
			json_t *v;

			*p++ = '[';
			for (k = 0; k < counts[c]; k++) {
				memcpy(p, shapes[s], il);
				p += il;
				*p++ = ',';
			}
			p[-1] = ']';
			len = (size_t)(p - text);
			rc = ut_json_check(text, len, 64, &st, NULL, 0);
			/* Dense shapes in large numbers are over the budget: nothing to measure. */
			ck_assert(rc == 0 || (rc == CACT_ETOOBIG && counts[c] > 4097));
			if (rc) {
				free(text);
				continue;
			}
			measured++;
			count_start();
			v = json_loadb(text, len, JSON_DECODE_ANY, NULL);
			got = count_stop();
			ck_assert_ptr_nonnull(v);
			json_decref(v);
			ck_assert_msg(got <= st.cost, "%zu x %s: jansson took %zu, estimated %zu",
				      counts[c], shapes[s], got, st.cost);
			if (s == 0 && counts[c] >= 65537)
				ck_assert_msg(got * 12 >= st.cost * 10,
					      "%zu x {}: jansson took %zu, estimated %zu",
					      counts[c], got, st.cost);
			free(text);
		}
	}
	ck_assert_uint_ge(measured, UT_ARRAY_SIZE(shapes) * 6 + 8);
	/* One long string: the lexer's buffer (doubling) and the copy. */
	{
		size_t len = 3 * MIB + 2, got;
		char *text = malloc(len);
		struct ut_json_stats st;
		json_t *v;

		memset(text, 'a', len);
		text[0] = text[len - 1] = '"';
		ck_assert_int_eq(ut_json_check(text, len, 64, &st, NULL, 0), 0);
		count_start();
		v = json_loadb(text, len, JSON_DECODE_ANY, NULL);
		got = count_stop();
		ck_assert_ptr_nonnull(v);
		json_decref(v);
		ck_assert_msg(got <= st.cost, "long string: jansson took %zu, estimated %zu", got,
			      st.cost);
		free(text);
	}
}
END_TEST

/* ---- the wire: frames from the sandbox ---- */

START_TEST(wire_flood_refused_before_allocating)
{
	size_t i;

	for (i = 0; i < UT_ARRAY_SIZE(floods); i++) {
		struct cact_error err = {0};
		enum wire_type type;
		json_t *msg = NULL;
		size_t len, got;
		char *text =
			repeat("{\"type\":\"tool_call\",\"id\":1,\"name\":\"x\",\"args\":{\"a\":[",
			       floods[i], "]}}", 4 * MIB, &len);
		char want[128];

		count_start();
		ck_assert_int_eq(wire_parse(text, len, &msg, &type, &err), CACT_EPROTO);
		got = count_stop();
		ck_assert_ptr_null(msg);
		ck_assert_msg(got == 0, "%s: jansson allocated %zu bytes", floods[i], got);
		snprintf(want, sizeof(want), " JSON values in %zu bytes", len);
		ck_assert_msg(starts(err.message, "bad frame: more than ") &&
				      strstr(err.message, want),
			      "%s", err.message);
		free(text);
	}
}
END_TEST

/* Whatever the shape, a frame the host decodes costs at most 8 times its size plus 16 MiB. */
START_TEST(wire_frame_cost_within_budget)
{
	size_t i, n, accepted = 0, refused = 0;

	for (i = 0; i < UT_ARRAY_SIZE(floods); i++) {
		for (n = 64 << 10; n <= 8 * MIB; n += n / 2) {
			struct cact_error err = {0};
			enum wire_type type;
			json_t *msg = NULL;
			size_t len, got;
			char *text =
				repeat("{\"type\":\"result\",\"x\":[", floods[i], "]}", n, &len);
			int rc;

			count_start();
			rc = wire_parse(text, len, &msg, &type, &err);
			json_decref(msg);
			got = count_stop();
			if (rc == 0) {
				accepted++;
				ck_assert_msg(got <= ut_json_budget(len),
					      "%s x %zu bytes: took %zu, budget %zu", floods[i],
					      len, got, ut_json_budget(len));
			} else {
				refused++;
				ck_assert_msg(strstr(err.message, "JSON values in"), "%s",
					      err.message);
			}
			free(text);
		}
	}
	ck_assert(accepted > 0 && refused > 0);
}
END_TEST

START_TEST(wire_deep_nesting_refused_before_allocating)
{
	struct cact_error err = {0};
	enum wire_type type;
	json_t *msg = NULL;
	char text[512];
	size_t len = 0, i, got;

	len = (size_t)snprintf(text, sizeof(text), "{\"type\":\"tool_call\",\"args\":");
	for (i = 0; i < 100; i++)
		text[len++] = '[';
	for (i = 0; i < 100; i++)
		text[len++] = ']';
	text[len++] = '}';
	count_start();
	ck_assert_int_eq(wire_parse(text, len, &msg, &type, &err), CACT_EPROTO);
	got = count_stop();
	ck_assert_str_eq(err.message, "bad frame: nested deeper than 64");
	ck_assert_msg(got == 0, "jansson allocated %zu bytes", got);
}
END_TEST

START_TEST(wire_large_legal_frames_accepted)
{
	static const char *const heads[] = {
		"{\"type\":\"tool_call\",\"id\":1,\"name\":\"x\",\"args\":{\"s\":\"",
		"{\"type\":\"tool_call\",\"id\":2,\"name\":\"x\",\"args\":{\"rows\":[",
		"{\"type\":\"http_request\",\"id\":3,\"method\":\"POST\",\"url\":\"https://"
		"a.example/\","
		"\"headers\":{},\"body\":\"",
		"{\"type\":\"tool_call\",\"id\":4,\"name\":\"x\",\"args\":{\"xs\":[",
	};
	static const char *const items[] = {
		"abcdefghijklmnop",
		"{\"id\":12345,\"name\":\"Alice Smith\",\"email\":\"alice@example.com\"}",
		"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo",
		"0.3183098861837907",
	};
	static const char *const tails[] = {"\"}}", "]}}", "\"}", "]}}"};
	/* 3 MiB of text, 1 MiB of records, a 22 MiB body, 3 MiB of floats. */
	static const size_t sizes[] = {3 * MIB, 1 * MIB, 22 * MIB, 3 * MIB};
	size_t i;

	for (i = 0; i < UT_ARRAY_SIZE(heads); i++) {
		struct cact_error err = {0};
		enum wire_type type;
		json_t *msg = NULL;
		size_t len, got;
		char *text = repeat(heads[i], items[i], tails[i], sizes[i], &len);

		/* A string's items join without commas. */
		if (i == 0 || i == 2) {
			char *c;

			for (c = text + strlen(heads[i]); (c = strchr(c, ','));)
				*c = 'A';
		}
		count_start();
		ck_assert_msg(wire_parse(text, len, &msg, &type, &err) == 0, "frame %zu: %s", i,
			      err.message);
		json_decref(msg);
		got = count_stop();
		ck_assert(got <= ut_json_budget(len));
		free(text);
	}
}
END_TEST

/*
 * glibc keeps freed chunks; with anything allocated above them (a server
 * allocates all the time) free() cannot give them back. The decoder's
 * reset, at the end of an execution that saw a large frame, trims.
 */
START_TEST(wire_decoder_reset_gives_memory_back)
{
#ifdef __SANITIZE_ADDRESS__
	fprintf(stderr, "skipped: ASan's allocator ignores malloc_trim\n");
#else
	struct wire_decoder d;
	struct cact_error err = {0};
	enum wire_type type;
	json_t *msg = NULL;
	size_t len, flen, used, before, after;
	char *text =
		repeat("{\"type\":\"tool_call\",\"id\":2,\"name\":\"x\",\"args\":{\"rows\":[",
		       "{\"id\":12345,\"name\":\"Alice Smith\",\"email\":\"alice@example.com\"}",
		       "]}}", 3 * MIB / 2, &len);
	char *buf = framed(text, len, &flen), *frame = NULL, *pin;

	wire_decoder_init(&d, 4 * MIB);
	ck_assert_int_eq(wire_decoder_feed(&d, buf, flen, &used, &frame, &len), 1);
	ck_assert_int_eq(wire_parse(frame, len, &msg, &type, &err), 0);
	pin = malloc(100 << 10); /* above the tree in the heap */
	memset(pin, 1, 100 << 10);
	json_decref(msg);
	free(frame);
	free(buf);
	free(text);
	before = rss();
	wire_decoder_reset(&d);
	after = rss();
	ck_assert_msg(after + 8 * MIB < before, "resident %zu KiB before the reset, %zu after",
		      before >> 10, after >> 10);
	free(pin);
#endif
}
END_TEST

/* ---- JSON-RPC from MCP peers ---- */

START_TEST(jsonrpc_flood_refused_before_allocating)
{
	struct cact_error err = {0};
	struct jrpc_msg m;
	json_t *bad = NULL;
	size_t len, got, i;
	char *text = repeat("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"m\",\"params\":{\"a\":[",
			    "{}", "]}}", 4 * MIB, &len);
	char deep[300];

	count_start();
	ck_assert_int_eq(jrpc_parse(text, len, 8 * MIB, &m, &bad, &err), JRPC_INVALID_REQUEST);
	got = count_stop();
	ck_assert_msg(got == 0, "jansson allocated %zu bytes", got);
	ck_assert_ptr_null(bad);
	ck_assert_msg(starts(err.message, "invalid JSON-RPC message: more than "), "%s",
		      err.message);
	free(text);
	/* Deep nesting: refused before decoding too. */
	len = (size_t)snprintf(deep, sizeof(deep),
			       "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":");
	for (i = 0; i < 80; i++)
		deep[len++] = '[';
	for (i = 0; i < 80; i++)
		deep[len++] = ']';
	deep[len++] = '}';
	count_start();
	ck_assert_int_eq(jrpc_parse(deep, len, 8 * MIB, &m, &bad, &err), JRPC_INVALID_REQUEST);
	got = count_stop();
	ck_assert_msg(got == 0, "jansson allocated %zu bytes", got);
	ck_assert_str_eq(err.message, "invalid JSON-RPC message: nested deeper than 64");
	/* Not JSON: a parse error, as before. */
	ck_assert_int_eq(jrpc_parse("{\"a\":", 5, 8 * MIB, &m, &bad, &err), JRPC_PARSE_ERROR);
	ck_assert_str_eq(err.message, "not JSON: unexpected end at byte 5");
	/* A large legal message still parses. */
	text = repeat("{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"rows\":[",
		      "{\"id\":12345,\"name\":\"Alice Smith\",\"email\":\"alice@example.com\"}",
		      "]}}", 2 * MIB, &len);
	ck_assert_msg(jrpc_parse(text, len, 8 * MIB, &m, &bad, &err) == 0, "%s", err.message);
	ck_assert_int_eq(m.kind, JRPC_RESULT);
	jrpc_clear(&m);
	free(text);
}
END_TEST

START_TEST(jsonrpc_clear_gives_memory_back)
{
#ifdef __SANITIZE_ADDRESS__
	fprintf(stderr, "skipped: ASan's allocator ignores malloc_trim\n");
#else
	struct cact_error err = {0};
	struct jrpc_msg m;
	size_t len, before, after;
	char *text =
		repeat("{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"rows\":[",
		       "{\"id\":12345,\"name\":\"Alice Smith\",\"email\":\"alice@example.com\"}",
		       "]}}", 3 * MIB / 2, &len);
	char *pin;

	ck_assert_msg(jrpc_parse(text, len, 8 * MIB, &m, NULL, &err) == 0, "%s", err.message);
	pin = malloc(100 << 10);
	memset(pin, 1, 100 << 10);
	free(text);
	before = rss();
	jrpc_clear(&m);
	after = rss();
	ck_assert_msg(after + 8 * MIB < before, "resident %zu KiB before, %zu after", before >> 10,
		      after >> 10);
	free(pin);
#endif
}
END_TEST

/* ---- the model server: responses and server-sent events ---- */

START_TEST(chat_flood_refused_before_allocating)
{
	struct cact_error err = {0};
	struct chat_stream s;
	json_t *out = NULL;
	size_t len, got;
	char *text = repeat("{\"choices\":[{\"message\":{\"content\":\"hi\"}}],\"x\":[", "{}", "]}",
			    4 * MIB, &len);

	count_start();
	ck_assert_int_eq(chat_parse_response(text, len, &out, &err), CACT_EPROTO);
	got = count_stop();
	ck_assert_msg(got == 0, "jansson allocated %zu bytes", got);
	ck_assert_msg(
		starts(err.message, "model server response is too costly to decode: more than "),
		"%s", err.message);
	free(text);
	/* The same as one streamed event. */
	text = repeat("data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"x\":[", "{}",
		      "]}\n\n", 4 * MIB, &len);
	chat_stream_init(&s, 8 * MIB, NULL, NULL);
	count_start();
	ck_assert_int_eq(chat_stream_feed(&s, text, len, &err), CACT_EPROTO);
	got = count_stop();
	chat_stream_free(&s);
	ck_assert_msg(got == 0, "jansson allocated %zu bytes", got);
	ck_assert_msg(starts(err.message,
			     "malformed SSE stream: data is too costly to decode: more than "),
		      "%s", err.message);
	free(text);
}
END_TEST

/* ---- command tools' results ---- */

START_TEST(command_result_flood_refused_before_allocating)
{
	const char *argv[] = {"/bin/sh", "-c",
			      "cat >/dev/null; printf '['; yes '{},' | head -n 700000 | "
			      "tr -d '\\n'; printf '{}]'",
			      NULL};
	struct cact_error err = {0};
	struct cact_tool *t = NULL;
	char *result = NULL, *detail = NULL;
	size_t got;

	ck_assert_int_eq(cact_tool_new_command("flood", NULL, NULL, CACT_APPROVAL_NEVER_REQUIRE,
					       argv, NULL, 0, &t, &err),
			 0);
	count_start();
	ck_assert_int_eq(tool_invoke(t, "{}", 3 * MIB, -1, &result, &detail, &err), CACT_EINVAL);
	got = count_stop();
	ck_assert_ptr_null(result);
	ck_assert_msg(got < 4096, "jansson allocated %zu bytes", got);
	ck_assert_msg(
		starts(err.message, "printed JSON too costly to decode on stdout: more than "),
		"%s", err.message);
	free(detail);
	cact_tool_unref(t);
}
END_TEST

/* ---- NUL bytes in what the sandbox names ---- */

static int echo(void *user, const char *name, const char *args, char **result,
		struct cact_error *err)
{
	(void)user;
	(void)name;
	(void)err;
	*result = strdup(args);
	return 0;
}

/* The one answer queued on outq, parsed. */
static json_t *answer_of(struct ut_buf *outq)
{
	json_t *v;

	ck_assert_msg(outq->len > 4, "no answer queued");
	v = json_loadb(outq->p + 4, outq->len - 4, 0, NULL);
	ck_assert_ptr_nonnull(v);
	return v;
}

static json_t *frame_msg(const char *text)
{
	struct cact_error err = {0};
	enum wire_type type;
	json_t *msg = NULL;

	ck_assert_msg(wire_parse(text, strlen(text), &msg, &type, &err) == 0, "%s", err.message);
	return msg;
}

/*
 * call_tool("echo\0x") reaches the host as "echo\u0000x"; C reads "echo".
 * The runner sends whatever name it is given, so this is a refused call
 * (RuntimeError in the code), not a protocol violation.
 */
START_TEST(tool_name_with_nul_refused)
{
	struct cact_request *req = NULL;
	struct cact_tool *tool = NULL;
	struct cact_error err = {0};
	struct rt_calls cs;
	struct ut_buf outq;
	char why[256] = "";
	json_t *msg, *a;

	ck_assert_int_eq(cact_request_new(&req), 0);
	ck_assert_int_eq(cact_tool_new_callback("echo", NULL, NULL, CACT_APPROVAL_NEVER_REQUIRE,
						echo, NULL, &tool, &err),
			 0);
	ck_assert_int_eq(cact_request_add_tool(req, tool, &err), 0);
	rt_calls_init(&cs, req);
	ut_buf_init(&outq, 1 << 20);
	msg = frame_msg("{\"type\":\"tool_call\",\"id\":1,\"name\":\"echo\\u0000x\",\"args\":{}}");
	ck_assert_int_eq(rt_calls_on_frame(&cs, msg, 60, &outq, why, sizeof(why)), 0);
	a = answer_of(&outq);
	ck_assert(json_is_false(json_object_get(a, "ok")));
	ck_assert(json_is_false(json_object_get(a, "denied")));
	ck_assert_str_eq(json_string_value(json_object_get(a, "error")),
			 "bad tool name: it holds a NUL byte");
	ck_assert_uint_eq(cs.in_flight, 0);
	json_decref(a);
	json_decref(msg);
	rt_calls_finish(&cs);
	rt_calls_free_log(&cs);
	ut_buf_reset(&outq);
	cact_tool_unref(tool);
	cact_request_free(req);
}
END_TEST

/* The same for HTTP: refused by the host's policy, PermissionError in the code. */
START_TEST(http_method_or_url_with_nul_refused)
{
	static const char *const frames[] = {
		"{\"type\":\"http_request\",\"id\":1,\"method\":\"GET\\u0000X\","
		"\"url\":\"https://a.example/\",\"headers\":{},\"body\":null}",
		"{\"type\":\"http_request\",\"id\":2,\"method\":\"GET\","
		"\"url\":\"https://a.example/\\u0000@b.example/\",\"headers\":{},\"body\":null}",
	};
	static const char *const reasons[] = {"bad HTTP method: it holds a NUL byte",
					      "bad URL: it holds a NUL byte"};
	struct cact_request *req = NULL;
	struct cact_error err = {0};
	size_t i;

	ck_assert_int_eq(cact_request_new(&req), 0);
	ck_assert_int_eq(cact_request_add_allowed_domain(req, "a.example", NULL, 0, &err), 0);
	for (i = 0; i < UT_ARRAY_SIZE(frames); i++) {
		struct rt_calls cs;
		struct ut_buf outq;
		char why[256] = "";
		json_t *msg = frame_msg(frames[i]), *a;

		rt_calls_init(&cs, req);
		ut_buf_init(&outq, 1 << 20);
		ck_assert_int_eq(
			rt_calls_on_http(&cs, msg, strlen(frames[i]), &outq, why, sizeof(why)), 0);
		ck_assert_uint_eq(cs.in_flight, 0);
		a = answer_of(&outq);
		ck_assert(json_is_false(json_object_get(a, "ok")));
		ck_assert(json_is_true(json_object_get(a, "denied")));
		ck_assert_str_eq(json_string_value(json_object_get(a, "error")), reasons[i]);
		json_decref(a);
		json_decref(msg);
		rt_calls_finish(&cs);
		rt_calls_free_log(&cs);
		ut_buf_reset(&outq);
	}
	cact_request_free(req);
}
END_TEST

/* The headers of a request in flight stay in memory (16 requests at a time): at most 128. */
START_TEST(http_request_headers_capped)
{
	struct cact_request *req = NULL;
	struct cact_error err = {0};
	struct rt_calls cs;
	struct ut_buf outq, f;
	char why[256] = "";
	json_t *msg, *a;
	int i;

	ck_assert_int_eq(cact_request_new(&req), 0);
	ck_assert_int_eq(cact_request_add_allowed_domain(req, "a.example", NULL, 0, &err), 0);
	ut_buf_init(&f, 1 << 20);
	ut_buf_addf(&f, "{\"type\":\"http_request\",\"id\":1,\"method\":\"GET\","
			"\"url\":\"https://a.example/\",\"body\":null,\"headers\":{");
	for (i = 0; i < 129; i++)
		ut_buf_addf(&f, "%s\"x-h%d\":\"v\"", i ? "," : "", i);
	ut_buf_add(&f, "}}", 3);
	msg = frame_msg(f.p);
	rt_calls_init(&cs, req);
	ut_buf_init(&outq, 1 << 20);
	ck_assert_int_eq(rt_calls_on_http(&cs, msg, f.len, &outq, why, sizeof(why)), 0);
	ck_assert_uint_eq(cs.in_flight, 0);
	a = answer_of(&outq);
	ck_assert(json_is_true(json_object_get(a, "denied")));
	ck_assert_str_eq(json_string_value(json_object_get(a, "error")),
			 "more than 128 request headers");
	json_decref(a);
	json_decref(msg);
	rt_calls_finish(&cs);
	rt_calls_free_log(&cs);
	ut_buf_reset(&outq);
	ut_buf_reset(&f);
	cact_request_free(req);
}
END_TEST

int main(int argc, char **argv)
{
	const struct t_case cases[] = {
		T_CASE(check_grammar_is_jansson_grammar, 60),
		T_CASE(check_reasons_and_depth, 10),
		T_CASE(cost_model_covers_jansson, 60),
		T_CASE(wire_flood_refused_before_allocating, 30),
		T_CASE(wire_frame_cost_within_budget, 60),
		T_CASE(wire_deep_nesting_refused_before_allocating, 10),
		T_CASE(wire_large_legal_frames_accepted, 60),
		T_CASE(wire_decoder_reset_gives_memory_back, 30),
		T_CASE(jsonrpc_flood_refused_before_allocating, 30),
		T_CASE(jsonrpc_clear_gives_memory_back, 30),
		T_CASE(chat_flood_refused_before_allocating, 30),
		T_CASE(command_result_flood_refused_before_allocating, 30),
		T_CASE(tool_name_with_nul_refused, 10),
		T_CASE(http_method_or_url_with_nul_refused, 10),
		T_CASE(http_request_headers_capped, 10),
	};

	return t_main("unit_bounds", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
