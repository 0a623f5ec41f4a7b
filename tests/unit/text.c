/* SPDX-License-Identifier: MIT */
/* Text helpers (base64, UTF-8, media types, number parsing) and the capped buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../common.h"
#include "util/buf.h"
#include "util/text.h"

/* base64 of len bytes, compared with want (and its length). */
static void check_b64(const void *data, size_t len, const char *want)
{
	size_t out_len = (size_t)-1;
	char *got = ut_base64(data, len, &out_len);

	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, want);
	ck_assert_uint_eq(out_len, strlen(want));
	free(got);
}

START_TEST(base64_rfc4648_vectors)
{
	check_b64("", 0, "");
	check_b64("f", 1, "Zg==");
	check_b64("fo", 2, "Zm8=");
	check_b64("foo", 3, "Zm9v");
	check_b64("foob", 4, "Zm9vYg==");
	check_b64("fooba", 5, "Zm9vYmE=");
	check_b64("foobar", 6, "Zm9vYmFy");
}
END_TEST

START_TEST(base64_binary_bytes)
{
	static const unsigned char zeros[] = {0, 0, 0};
	static const unsigned char ones[] = {0xff, 0xff, 0xff};
	static const unsigned char mixed[] = {0x00, 0x10, 0x83, 0x10, 0x51, 0x87, 0x20, 0x92, 0x8b};
	static const unsigned char hi[] = {0xfb, 0xff};
	static const unsigned char nul_one[] = {0x00};
	unsigned char all[256];
	char *got;
	size_t i, n = 0;

	check_b64(zeros, sizeof(zeros), "AAAA");
	check_b64(ones, sizeof(ones), "////");
	/* Every one of the 64 symbols in order for the first 48 bits. */
	check_b64(mixed, sizeof(mixed), "ABCDEFGHIJKL");
	check_b64(hi, sizeof(hi), "+/8=");
	check_b64(nul_one, sizeof(nul_one), "AA==");
	/* The out_len pointer is optional. */
	got = ut_base64((const unsigned char *)"foo", 3, NULL);
	ck_assert_str_eq(got, "Zm9v");
	free(got);
	/* All 256 byte values: 4 * ceil(256 / 3) characters, known head and tail. */
	for (i = 0; i < sizeof(all); i++)
		all[i] = (unsigned char)i;
	got = ut_base64(all, sizeof(all), &n);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(n, 344);
	ck_assert_uint_eq(strlen(got), 344);
	ck_assert(strncmp(got, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g", 44) == 0);
	ck_assert_str_eq(got + 344 - 12, "+fr7/P3+/w==");
	free(got);
}
END_TEST

/* ut_utf8_repair of in[0..len), compared byte for byte with want[0..wlen). */
static void check_repair(const char *in, size_t len, const char *want, size_t wlen)
{
	size_t out_len = (size_t)-1;
	char *got = ut_utf8_repair(in, len, &out_len);

	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(out_len, wlen);
	ck_assert_msg(memcmp(got, want, wlen) == 0, "repair output differs");
	ck_assert_int_eq(got[out_len], '\0');
	free(got);
}

#define S(lit) (lit), (sizeof(lit) - 1)
#define FFFD   "\xef\xbf\xbd"

START_TEST(utf8_valid_accepts_valid_text)
{
	ck_assert_int_eq(ut_utf8_valid(S("")), 1);
	ck_assert_int_eq(ut_utf8_valid(S("plain ascii\n")), 1);
	/* 2-, 3- and 4-byte sequences at the edges of their ranges. */
	ck_assert_int_eq(ut_utf8_valid(S("\xc2\x80")), 1);	   /* U+0080 */
	ck_assert_int_eq(ut_utf8_valid(S("\xdf\xbf")), 1);	   /* U+07FF */
	ck_assert_int_eq(ut_utf8_valid(S("\xe0\xa0\x80")), 1);	   /* U+0800 */
	ck_assert_int_eq(ut_utf8_valid(S("\xed\x9f\xbf")), 1);	   /* U+D7FF */
	ck_assert_int_eq(ut_utf8_valid(S("\xee\x80\x80")), 1);	   /* U+E000 */
	ck_assert_int_eq(ut_utf8_valid(S("\xef\xbf\xbf")), 1);	   /* U+FFFF */
	ck_assert_int_eq(ut_utf8_valid(S("\xf0\x90\x80\x80")), 1); /* U+10000 */
	ck_assert_int_eq(ut_utf8_valid(S("\xf4\x8f\xbf\xbf")), 1); /* U+10FFFF */
	ck_assert_int_eq(ut_utf8_valid(S("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80")), 1);
}
END_TEST

START_TEST(utf8_valid_refuses_invalid_text)
{
	/* Overlongs. */
	ck_assert_int_eq(ut_utf8_valid(S("\xc0\x80")), 0);
	ck_assert_int_eq(ut_utf8_valid(S("\xc1\xbf")), 0);
	ck_assert_int_eq(ut_utf8_valid(S("\xe0\x80\x80")), 0);
	ck_assert_int_eq(ut_utf8_valid(S("\xe0\x9f\xbf")), 0);
	ck_assert_int_eq(ut_utf8_valid(S("\xf0\x80\x80\x80")), 0);
	ck_assert_int_eq(ut_utf8_valid(S("\xf0\x8f\xbf\xbf")), 0);
	/* Surrogates. */
	ck_assert_int_eq(ut_utf8_valid(S("\xed\xa0\x80")), 0);
	ck_assert_int_eq(ut_utf8_valid(S("\xed\xbf\xbf")), 0);
	/* Beyond U+10FFFF, and lead bytes that can never appear. */
	ck_assert_int_eq(ut_utf8_valid(S("\xf4\x90\x80\x80")), 0);
	ck_assert_int_eq(ut_utf8_valid(S("\xf5\x80\x80\x80")), 0);
	ck_assert_int_eq(ut_utf8_valid(S("\xff")), 0);
	ck_assert_int_eq(ut_utf8_valid(S("\xfe")), 0);
	/* Truncated sequences, at the end and in the middle. */
	ck_assert_int_eq(ut_utf8_valid(S("\xc3")), 0);
	ck_assert_int_eq(ut_utf8_valid(S("\xe2\x82")), 0);
	ck_assert_int_eq(ut_utf8_valid(S("\xf0\x9f\x98")), 0);
	ck_assert_int_eq(ut_utf8_valid(S("a\xe2\x82z")), 0);
	/* Lone continuation bytes. */
	ck_assert_int_eq(ut_utf8_valid(S("\x80")), 0);
	ck_assert_int_eq(ut_utf8_valid(S("abc\xbf")), 0);
	/* NUL bytes are refused too. */
	ck_assert_int_eq(ut_utf8_valid("\0", 1), 0);
	ck_assert_int_eq(ut_utf8_valid("a\0b", 3), 0);
	/* Only len bytes are looked at. */
	ck_assert_int_eq(ut_utf8_valid("ab\xff", 2), 1);
}
END_TEST

START_TEST(utf8_repair_keeps_valid_text)
{
	check_repair(S(""), S(""));
	check_repair(S("hello"), S("hello"));
	check_repair(S("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
		     S("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
	check_repair(S("\xf4\x8f\xbf\xbf"), S("\xf4\x8f\xbf\xbf"));
}
END_TEST

START_TEST(utf8_repair_replaces_invalid_bytes)
{
	/* Each byte of these sequences is an ill-formed subsequence of its own. */
	check_repair(S("a\xc0\x80z"), S("a" FFFD FFFD "z"));
	check_repair(S("a\xed\xa0\x80z"), S("a" FFFD FFFD FFFD "z"));
	check_repair(S("\xf4\x90\x80\x80"), S(FFFD FFFD FFFD FFFD));
	check_repair(S("\x80"), S(FFFD));
	check_repair(S("x\xbfy\x80"), S("x" FFFD "y" FFFD));
	check_repair(S("\xff\xfe"), S(FFFD FFFD));
	/* A valid sequence right after a bad byte survives. */
	check_repair(S("\xff\xc3\xa9"), S(FFFD "\xc3\xa9"));
}
END_TEST

/* The output is valid UTF-8 apart from NULs, holds a U+FFFD, and keeps the ASCII around it. */
static void check_repaired_truncation(const char *in, size_t len, const char *head,
				      const char *tail)
{
	size_t n = 0;
	char *got = ut_utf8_repair(in, len, &n);

	ck_assert_ptr_nonnull(got);
	ck_assert_int_eq(ut_utf8_valid(got, n), 1);
	ck_assert_ptr_nonnull(strstr(got, FFFD));
	ck_assert(strncmp(got, head, strlen(head)) == 0);
	ck_assert(n >= strlen(tail) && strcmp(got + n - strlen(tail), tail) == 0);
	/* No part of the truncated sequence leaks through. */
	ck_assert_uint_le(n, strlen(head) + strlen(tail) + 3 * (len - strlen(head) - strlen(tail)));
	free(got);
}

START_TEST(utf8_repair_truncated_sequences)
{
	check_repaired_truncation(S("ab\xe2\x82"), "ab", "");
	check_repaired_truncation(S("ab\xe2\x82z"), "ab", "z");
	check_repaired_truncation(S("\xf0\x9f\x98!"), "", "!");
	check_repaired_truncation(S("q\xc3"), "q", "");
}
END_TEST

START_TEST(utf8_repair_keeps_nul_bytes)
{
	/* NUL is valid UTF-8: repair keeps it (the JSON encoder escapes it). */
	check_repair("a\0b", 3, "a\0b", 3);
	check_repair("\0\xff", 2, "\0" FFFD, 4);
}
END_TEST

START_TEST(media_type_by_extension)
{
	ck_assert_str_eq(ut_media_type("a.txt"), "text/plain");
	ck_assert_str_eq(ut_media_type("data.csv"), "text/csv");
	ck_assert_str_eq(ut_media_type("DATA.CSV"), "text/csv");
	ck_assert_str_eq(ut_media_type("x.json"), "application/json");
	ck_assert_str_eq(ut_media_type("plot.png"), "image/png");
	ck_assert_str_eq(ut_media_type("Makefile"), "application/octet-stream");
	ck_assert_str_eq(ut_media_type(".bashrc"), "application/octet-stream");
	ck_assert_str_eq(ut_media_type("file."), "application/octet-stream");
	ck_assert_str_eq(ut_media_type("archive.unknownext"), "application/octet-stream");
	ck_assert_str_eq(ut_media_type(""), "application/octet-stream");
	/* Folders: only the last component counts. */
	ck_assert_str_eq(ut_media_type("/output/d/b.csv"), "text/csv");
	ck_assert_str_eq(ut_media_type("/output/dir.png/README"), "application/octet-stream");
	ck_assert_str_eq(ut_media_type("/output/dir/.hidden"), "application/octet-stream");
	ck_assert_str_eq(ut_media_type("/output/a.tar.gz"), "application/gzip");
}
END_TEST

static int parse_u64(const char *s, uint64_t *v)
{
	*v = 12345;
	return ut_parse_u64(s, v);
}

START_TEST(parse_u64_strict)
{
	uint64_t v;

	ck_assert_int_eq(parse_u64("0", &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(parse_u64("42", &v), 0);
	ck_assert_uint_eq(v, 42);
	ck_assert_int_eq(parse_u64("007", &v), 0);
	ck_assert_uint_eq(v, 7);
	ck_assert_int_eq(parse_u64("18446744073709551615", &v), 0);
	ck_assert(v == UINT64_MAX);
	ck_assert_int_eq(parse_u64("18446744073709551616", &v), -1);
	ck_assert_int_eq(parse_u64("99999999999999999999", &v), -1);
	ck_assert_int_eq(parse_u64("184467440737095516150", &v), -1);
	ck_assert_int_eq(parse_u64("", &v), -1);
	ck_assert_int_eq(parse_u64("-1", &v), -1);
	ck_assert_int_eq(parse_u64("+1", &v), -1);
	ck_assert_int_eq(parse_u64(" 1", &v), -1);
	ck_assert_int_eq(parse_u64("1 ", &v), -1);
	ck_assert_int_eq(parse_u64("0x10", &v), -1);
	ck_assert_int_eq(parse_u64("1e9", &v), -1);
	ck_assert_int_eq(parse_u64("1.0", &v), -1);
	ck_assert_int_eq(parse_u64("12a", &v), -1);
	/* A refusal leaves *out alone. */
	ck_assert_uint_eq(v, 12345);
	ck_assert_int_eq(ut_parse_u64(NULL, &v), -1);
}
END_TEST

static int parse_milli(const char *s, uint64_t *v)
{
	*v = 777;
	return ut_parse_milli(s, v);
}

START_TEST(parse_milli_strict)
{
	uint64_t v;

	ck_assert_int_eq(parse_milli("2", &v), 0);
	ck_assert_uint_eq(v, 2000);
	ck_assert_int_eq(parse_milli("0", &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(parse_milli("0.5", &v), 0);
	ck_assert_uint_eq(v, 500);
	ck_assert_int_eq(parse_milli("1.25", &v), 0);
	ck_assert_uint_eq(v, 1250);
	ck_assert_int_eq(parse_milli("1.001", &v), 0);
	ck_assert_uint_eq(v, 1001);
	ck_assert_int_eq(parse_milli("30.000", &v), 0);
	ck_assert_uint_eq(v, 30000);
	/* The largest value that fits, and one past it. */
	ck_assert_int_eq(parse_milli("18446744073709551.615", &v), 0);
	ck_assert(v == UINT64_MAX);
	ck_assert_int_eq(parse_milli("18446744073709551.616", &v), -1);
	ck_assert_int_eq(parse_milli("18446744073709552", &v), -1);
	ck_assert_int_eq(parse_milli("1.2345", &v), -1);
	ck_assert_int_eq(parse_milli(".5", &v), -1);
	ck_assert_int_eq(parse_milli("5.", &v), -1);
	ck_assert_int_eq(parse_milli("1e3", &v), -1);
	ck_assert_int_eq(parse_milli("", &v), -1);
	ck_assert_int_eq(parse_milli("-1", &v), -1);
	ck_assert_int_eq(parse_milli("+1", &v), -1);
	ck_assert_int_eq(parse_milli(" 1", &v), -1);
	ck_assert_int_eq(parse_milli("1 ", &v), -1);
	ck_assert_int_eq(parse_milli("1.5 ", &v), -1);
	ck_assert_int_eq(parse_milli("1.-5", &v), -1);
	ck_assert_int_eq(parse_milli("1.5.5", &v), -1);
	ck_assert_int_eq(parse_milli("0x1", &v), -1);
	ck_assert_int_eq(parse_milli(".", &v), -1);
	ck_assert_uint_eq(v, 777);
	ck_assert_int_eq(ut_parse_milli(NULL, &v), -1);
}
END_TEST

START_TEST(buf_add_past_max_adds_nothing)
{
	struct ut_buf b;

	ut_buf_init(&b, 8);
	ck_assert_int_eq(ut_buf_add(&b, "abcde", 5), 0);
	ck_assert_uint_eq(b.len, 5);
	ck_assert_str_eq(b.p, "abcde");
	/* 5 + 4 > 8: all or nothing. */
	ck_assert_int_eq(ut_buf_add(&b, "fghi", 4), CACT_ETOOBIG);
	ck_assert_uint_eq(b.len, 5);
	ck_assert_str_eq(b.p, "abcde");
	ck_assert_uint_eq(b.dropped, 0);
	/* Exactly up to max is fine; one more byte is not. */
	ck_assert_int_eq(ut_buf_add(&b, "fgh", 3), 0);
	ck_assert_uint_eq(b.len, 8);
	ck_assert_str_eq(b.p, "abcdefgh");
	ck_assert_int_eq(ut_buf_add(&b, "i", 1), CACT_ETOOBIG);
	ck_assert_uint_eq(b.len, 8);
	ck_assert_str_eq(b.p, "abcdefgh");
	/* An empty add always fits. */
	ck_assert_int_eq(ut_buf_add(&b, "", 0), 0);
	ck_assert_uint_eq(b.len, 8);
	ut_buf_reset(&b);
	ck_assert_ptr_null(b.p);
	ck_assert_uint_eq(b.len, 0);
}
END_TEST

START_TEST(buf_add_binary_and_addf)
{
	struct ut_buf b;

	ut_buf_init(&b, 1024);
	ck_assert_int_eq(ut_buf_add(&b, "a\0b", 3), 0);
	ck_assert_uint_eq(b.len, 3);
	ck_assert(memcmp(b.p, "a\0b", 4) == 0);
	ck_assert_int_eq(ut_buf_addf(&b, "-%d-%s", 42, "x"), 0);
	ck_assert_uint_eq(b.len, 8);
	ck_assert(memcmp(b.p, "a\0b-42-x", 9) == 0);
	ut_buf_reset(&b);
	/* addf past max is refused whole, also for long formatted text. */
	ut_buf_init(&b, 300);
	ck_assert_int_eq(ut_buf_addf(&b, "%0400d", 1), CACT_ETOOBIG);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(ut_buf_addf(&b, "%0290d", 7), 0);
	ck_assert_uint_eq(b.len, 290);
	ck_assert_int_eq(b.p[289], '7');
	ut_buf_reset(&b);
}
END_TEST

START_TEST(buf_add_trunc_keeps_what_fits)
{
	struct ut_buf b;
	char big[5000];

	ut_buf_init(&b, 10);
	ck_assert_int_eq(ut_buf_add_trunc(&b, "0123", 4), 0);
	ck_assert_uint_eq(b.dropped, 0);
	ck_assert_int_eq(ut_buf_add_trunc(&b, "456789abcd", 10), 0);
	ck_assert_uint_eq(b.len, 10);
	ck_assert_str_eq(b.p, "0123456789");
	ck_assert_uint_eq(b.dropped, 4);
	/* Once full, everything is counted as dropped. */
	ck_assert_int_eq(ut_buf_add_trunc(&b, "xyz", 3), 0);
	ck_assert_uint_eq(b.len, 10);
	ck_assert_uint_eq(b.dropped, 7);
	ck_assert_str_eq(b.p, "0123456789");
	ut_buf_reset(&b);
	ck_assert_uint_eq(b.dropped, 0);

	/* Growth across several reallocations, then the cap. */
	memset(big, 'q', sizeof(big));
	ut_buf_init(&b, 4096);
	ck_assert_int_eq(ut_buf_add_trunc(&b, big, 1000), 0);
	ck_assert_int_eq(ut_buf_add_trunc(&b, big, sizeof(big)), 0);
	ck_assert_uint_eq(b.len, 4096);
	ck_assert_uint_eq(b.dropped, 1000 + sizeof(big) - 4096);
	ck_assert_int_eq(b.p[4096], '\0');
	ck_assert_uint_le(b.alloc, 4097);
	ut_buf_reset(&b);
}
END_TEST

START_TEST(buf_steal_hands_over_storage)
{
	struct ut_buf b;
	size_t len = 99;
	char *s;

	/* Nothing added: an empty string, not NULL. */
	ut_buf_init(&b, 64);
	s = ut_buf_steal(&b, &len);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, "");
	ck_assert_uint_eq(len, 0);
	free(s);

	ck_assert_int_eq(ut_buf_add(&b, "hello", 5), 0);
	ck_assert_int_eq(ut_buf_add_trunc(&b,
					  "0123456789012345678901234567890123456789"
					  "0123456789012345678901234567890123456789",
					  80),
			 0);
	ck_assert_uint_eq(b.dropped, 21);
	s = ut_buf_steal(&b, &len);
	ck_assert_uint_eq(len, 64);
	ck_assert_uint_eq(strlen(s), 64);
	ck_assert(strncmp(s, "hello0123", 9) == 0);
	/* The buffer is reset, and usable again with the same cap. */
	ck_assert_ptr_null(b.p);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.alloc, 0);
	ck_assert_uint_eq(b.dropped, 0);
	ck_assert_uint_eq(b.max, 64);
	ck_assert_int_eq(ut_buf_add(&b, "again", 5), 0);
	ck_assert_str_eq(b.p, "again");
	ck_assert_ptr_ne(b.p, s);
	free(s);
	s = ut_buf_steal(&b, NULL);
	ck_assert_str_eq(s, "again");
	free(s);
	ut_buf_reset(&b);
}
END_TEST

int main(int argc, char **argv)
{
	const struct t_case cases[] = {
		T_CASE(base64_rfc4648_vectors, 30),
		T_CASE(base64_binary_bytes, 30),
		T_CASE(utf8_valid_accepts_valid_text, 30),
		T_CASE(utf8_valid_refuses_invalid_text, 30),
		T_CASE(utf8_repair_keeps_valid_text, 30),
		T_CASE(utf8_repair_replaces_invalid_bytes, 30),
		T_CASE(utf8_repair_truncated_sequences, 30),
		T_CASE(utf8_repair_keeps_nul_bytes, 30),
		T_CASE(media_type_by_extension, 30),
		T_CASE(parse_u64_strict, 30),
		T_CASE(parse_milli_strict, 30),
		T_CASE(buf_add_past_max_adds_nothing, 30),
		T_CASE(buf_add_binary_and_addf, 30),
		T_CASE(buf_add_trunc_keeps_what_fits, 30),
		T_CASE(buf_steal_hands_over_storage, 30),
	};

	return t_main("unit_text", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
