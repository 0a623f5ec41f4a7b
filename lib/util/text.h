/* SPDX-License-Identifier: MIT */
/* Text helpers: base64, UTF-8 repair, media types, strict number parsing. */
#ifndef CACT_TEXT_H
#define CACT_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Base64 (RFC 4648, padded). Owned result (free()), NULL when out of memory. */
char *ut_base64(const unsigned char *data, size_t len, size_t *out_len);

/*
 * Decodes strict base64 (padded, no spaces, zero bits under the padding).
 * 0 with *out owned (free()), -1 for bad input, -2 when out of memory.
 */
int ut_base64_decode(const char *text, size_t len, unsigned char **out, size_t *out_len);

/*
 * Copy of s with every byte sequence that is not valid UTF-8 (overlongs,
 * surrogates, > U+10FFFF, truncated) replaced by U+FFFD and NUL bytes kept
 * as U+0000 escapes are left to the JSON encoder. Owned (free()).
 */
char *ut_utf8_repair(const char *s, size_t len, size_t *out_len);

/* 1 when s[0..len) is valid UTF-8 without NUL bytes. */
int ut_utf8_valid(const char *s, size_t len);

/* Media type of a file name by its extension, "application/octet-stream" otherwise. */
const char *ut_media_type(const char *name);

/*
 * 1 when bytes of this media type are text a model reads (any text type, JSON,
 * JSON Lines, XML, YAML, TOML, SQL, JavaScript, any +json or +xml type).
 */
int ut_media_is_text(const char *type);

/* 1 for the raster images model clients show (PNG, JPEG, GIF, WebP); not SVG. */
int ut_media_is_image(const char *type);

/*
 * Parses a plain unsigned decimal ("0".."18446744073709551615"): no sign,
 * spaces, exponent, hex or empty string. Returns 0 or -1 (junk or overflow).
 */
int ut_parse_u64(const char *s, uint64_t *out);

/*
 * Parses a non-negative decimal with at most 3 fractional digits ("2", "0.5",
 * "1.25") into thousandths. Same refusals as ut_parse_u64. 0 or -1.
 */
int ut_parse_milli(const char *s, uint64_t *out);

#endif
