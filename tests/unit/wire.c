/* SPDX-License-Identifier: MIT */
/* The host<->guest frame decoder and parser, fed hostile bytes. */
#include <stdlib.h>
#include <string.h>

#include "../common.h"
#include "wire/wire.h"

static char *frame_of(const char *json, size_t *len)
{
	size_t n = strlen(json);
	char *f = malloc(n + 4);

	f[0] = (char)(n >> 24);
	f[1] = (char)(n >> 16);
	f[2] = (char)(n >> 8);
	f[3] = (char)n;
	memcpy(f + 4, json, n);
	*len = n + 4;
	return f;
}

/* Feeds bytes one at a time; returns the number of complete frames seen. */
static int feed_bytewise(struct wire_decoder *d, const char *buf, size_t len, int *err)
{
	int frames = 0;
	size_t i;

	*err = 0;
	for (i = 0; i < len; i++) {
		char *frame = NULL;
		size_t used, flen;
		int rc = wire_decoder_feed(d, buf + i, 1, &used, &frame, &flen);

		if (rc < 0) {
			*err = rc;
			return frames;
		}
		if (rc == 1) {
			frames++;
			free(frame);
		}
	}
	return frames;
}

START_TEST(decoder_byte_by_byte)
{
	struct wire_decoder d;
	size_t len;
	char *f = frame_of("{\"type\":\"result\",\"exit_code\":0}", &len);
	int err, frames;

	wire_decoder_init(&d, 1024);
	frames = feed_bytewise(&d, f, len, &err);
	ck_assert_int_eq(err, 0);
	ck_assert_int_eq(frames, 1);
	ck_assert(!wire_decoder_partial(&d));
	wire_decoder_reset(&d);
	free(f);
}
END_TEST

START_TEST(decoder_two_frames_one_chunk)
{
	struct wire_decoder d;
	size_t l1, l2, used, flen;
	char *a = frame_of("{\"type\":\"ready\"}", &l1),
	     *b = frame_of("{\"type\":\"result\"}", &l2);
	char *both = malloc(l1 + l2), *frame = NULL;
	int rc;

	memcpy(both, a, l1);
	memcpy(both + l1, b, l2);
	wire_decoder_init(&d, 1024);
	rc = wire_decoder_feed(&d, both, l1 + l2, &used, &frame, &flen);
	ck_assert_int_eq(rc, 1);
	ck_assert_uint_eq(used, l1);
	ck_assert_str_eq(frame, "{\"type\":\"ready\"}");
	free(frame);
	rc = wire_decoder_feed(&d, both + used, l1 + l2 - used, &used, &frame, &flen);
	ck_assert_int_eq(rc, 1);
	ck_assert_str_eq(frame, "{\"type\":\"result\"}");
	free(frame);
	wire_decoder_reset(&d);
	free(a);
	free(b);
	free(both);
}
END_TEST

START_TEST(decoder_giant_length_refused_before_allocation)
{
	struct wire_decoder d;
	const char hdr[] = {'\xff', '\xff', '\xff', '\xf0', '{'};
	size_t used, flen;
	char *frame = NULL;

	wire_decoder_init(&d, 1 << 20);
	ck_assert_int_eq(wire_decoder_feed(&d, hdr, sizeof(hdr), &used, &frame, &flen),
			 CACT_ETOOBIG);
	ck_assert_ptr_null(frame);
	/* Nothing was allocated for the claimed 4 GiB. */
	ck_assert_ptr_null(d.payload);
	wire_decoder_reset(&d);
}
END_TEST

START_TEST(decoder_truncated_frame_is_partial)
{
	struct wire_decoder d;
	size_t len;
	char *f = frame_of("{\"type\":\"result\"}", &len);
	int err;

	wire_decoder_init(&d, 1024);
	ck_assert_int_eq(feed_bytewise(&d, f, len - 3, &err), 0);
	ck_assert(wire_decoder_partial(&d));
	wire_decoder_reset(&d);
	free(f);
}
END_TEST

static int parse(const char *json, enum wire_type *t, char *msg, size_t msz)
{
	struct cact_error err = {0};
	json_t *obj = NULL;
	int rc = wire_parse(json, strlen(json), &obj, t, &err);

	json_decref(obj);
	if (msg)
		snprintf(msg, msz, "%s", err.message);
	return rc;
}

START_TEST(parse_accepts_known_types)
{
	enum wire_type t;

	ck_assert_int_eq(parse("{\"type\":\"result\",\"exit_code\":3}", &t, NULL, 0), 0);
	ck_assert_int_eq(t, WIRE_RESULT);
	ck_assert_int_eq(parse("{\"type\":\"ready\"}", &t, NULL, 0), 0);
	ck_assert_int_eq(t, WIRE_READY);
	ck_assert_int_eq(parse("{\"type\":\"setup_error\",\"message\":\"x\"}", &t, NULL, 0), 0);
	ck_assert_int_eq(t, WIRE_SETUP_ERROR);
}
END_TEST

START_TEST(parse_refuses_hostile_frames)
{
	char deep[400];
	char msg[CACT_ERROR_MAX];
	enum wire_type t;
	size_t i;

	ck_assert_int_eq(parse("{\"type\":\"forged\"}", &t, msg, sizeof(msg)), CACT_EPROTO);
	ck_assert_ptr_nonnull(strstr(msg, "unknown type"));
	ck_assert_int_eq(parse("[1,2]", &t, msg, sizeof(msg)), CACT_EPROTO);
	ck_assert_int_eq(parse("{\"exit_code\":0}", &t, msg, sizeof(msg)), CACT_EPROTO);
	ck_assert_int_eq(parse("{\"type\":7}", &t, msg, sizeof(msg)), CACT_EPROTO);
	ck_assert_int_eq(parse("{\"type\":\"result\",\"type\":\"ready\"}", &t, msg, sizeof(msg)),
			 CACT_EPROTO);
	ck_assert_int_eq(parse("{\"type\":\"result\",\"x\":\"\xff\xfe\"}", &t, msg, sizeof(msg)),
			 CACT_EPROTO);
	ck_assert_int_eq(parse("{\"type\":\"resu", &t, msg, sizeof(msg)), CACT_EPROTO);
	/* Nesting past WIRE_MAX_DEPTH. */
	strcpy(deep, "{\"type\":\"result\",\"a\":");
	for (i = 0; i < 100; i++)
		strcat(deep, "[");
	for (i = 0; i < 100; i++)
		strcat(deep, "]");
	strcat(deep, "}");
	ck_assert_int_eq(parse(deep, &t, msg, sizeof(msg)), CACT_EPROTO);
	ck_assert_ptr_nonnull(strstr(msg, "deeper"));
}
END_TEST

START_TEST(encode_round_trip)
{
	json_t *obj = json_pack("{s:s, s:i}", "type", "exec", "n", 42), *back = NULL;
	struct wire_decoder d;
	enum wire_type t;
	char *buf = NULL, *frame = NULL;
	size_t len, used, flen;

	ck_assert_int_eq(wire_encode(obj, 1024, &buf, &len), 0);
	wire_decoder_init(&d, 1024);
	ck_assert_int_eq(wire_decoder_feed(&d, buf, len, &used, &frame, &flen), 1);
	ck_assert_int_eq(wire_parse(frame, flen, &back, &t, NULL), 0);
	ck_assert_int_eq(t, WIRE_EXEC);
	ck_assert_int_eq(json_integer_value(json_object_get(back, "n")), 42);
	ck_assert_int_eq(wire_encode(obj, 5, &buf, &len) == CACT_ETOOBIG, 1);
	json_decref(obj);
	json_decref(back);
	free(frame);
	wire_decoder_reset(&d);
}
END_TEST

int main(int argc, char **argv)
{
	const struct t_case cases[] = {
		T_CASE(decoder_byte_by_byte, 10),
		T_CASE(decoder_two_frames_one_chunk, 10),
		T_CASE(decoder_giant_length_refused_before_allocation, 10),
		T_CASE(decoder_truncated_frame_is_partial, 10),
		T_CASE(parse_accepts_known_types, 10),
		T_CASE(parse_refuses_hostile_frames, 10),
		T_CASE(encode_round_trip, 10),
	};

	return t_main("unit_wire", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
