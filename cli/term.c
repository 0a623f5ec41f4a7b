/* SPDX-License-Identifier: MIT */
/* Escaping for the terminal; the rules are in term.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "term.h"

static char oom[] = "\\?(out of memory)";

/*
 * The length of the well-formed UTF-8 sequence at s (n bytes left, n > 0)
 * and its code point in *cp; 0 when the bytes are not one (Unicode's table
 * of well-formed byte sequences: no overlong form, no surrogate, nothing
 * above U+10FFFF).
 */
static size_t utf8(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char lo = 0x80, hi = 0xbf;
	uint32_t v;
	size_t len, i;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		v = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		v = s[0] & 0x0f;
		lo = s[0] == 0xe0 ? 0xa0 : 0x80;
		hi = s[0] == 0xed ? 0x9f : 0xbf;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		v = s[0] & 0x07;
		lo = s[0] == 0xf0 ? 0x90 : 0x80;
		hi = s[0] == 0xf4 ? 0x8f : 0xbf;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if (s[i] < (i == 1 ? lo : 0x80) || s[i] > (i == 1 ? hi : 0xbf))
			return 0;
		v = v << 6 | (s[i] & 0x3f);
	}
	*cp = v;
	return len;
}

/* C1, bidi, separators and invisible characters: shown as \u escapes. */
static int hidden(uint32_t c)
{
	return (c >= 0x80 && c <= 0x9f) || c == 0xad || c == 0x61c ||
	       (c >= 0x200b && c <= 0x200f) || /* zero widths, LRM, RLM */
	       (c >= 0x2028 && c <= 0x202e) || /* LS, PS, LRE RLE PDF LRO RLO */
	       (c >= 0x2060 && c <= 0x2064) || (c >= 0x2066 && c <= 0x2069) || c == 0xfeff ||
	       (c >= 0xe0000 && c <= 0xe007f);
}

/* Writes "\" then letter then digits hex digits of v at out + o (when out); returns the length. */
static size_t put_esc(char *out, size_t o, char letter, uint32_t v, int digits)
{
	static const char hex[] = "0123456789abcdef";
	int i;

	if (out) {
		out[o] = '\\';
		out[o + 1] = letter;
		for (i = 0; i < digits; i++)
			out[o + 2 + i] = hex[(v >> (4 * (digits - 1 - i))) & 0xf];
	}
	return 2 + (size_t)digits;
}

/* Escapes s into out (or only measures, out NULL); returns the length written. */
static size_t escape(const unsigned char *s, size_t len, enum term_mode mode, char *out,
		     size_t *n_escaped)
{
	size_t i, n, o = 0, k = 0;
	uint32_t c;

	for (i = 0; i < len; i += n) {
		n = utf8(s + i, len - i, &c);
		if (n == 0) {
			n = 1;
			o += put_esc(out, o, 'x', s[i], 2);
			k++;
		} else if (mode == TERM_TEXT && (c == '\n' || c == '\t')) {
			if (out)
				out[o] = (char)c;
			o++;
		} else if (c == '\n' || c == '\t' || c == '\r') {
			o += put_esc(out, o, c == '\n' ? 'n' : c == '\t' ? 't' : 'r', 0, 0);
			k++;
		} else if (c < 0x20 || c == 0x7f) {
			o += put_esc(out, o, 'x', c, 2);
			k++;
		} else if (hidden(c)) {
			o += c > 0xffff ? put_esc(out, o, 'U', c, 8) : put_esc(out, o, 'u', c, 4);
			k++;
		} else if (c == '\\' && mode == TERM_NAME) {
			o += put_esc(out, o, '\\', 0, 0);
		} else {
			if (out)
				memcpy(out + o, s + i, n);
			o += n;
		}
	}
	if (n_escaped)
		*n_escaped = k;
	return o;
}

char *term_escape(const char *s, size_t len, enum term_mode mode, size_t *n_escaped)
{
	size_t n = escape((const unsigned char *)s, len, mode, NULL, n_escaped);
	char *out = malloc(n + 1);

	if (!out)
		return oom;
	escape((const unsigned char *)s, len, mode, out, NULL);
	out[n] = '\0';
	return out;
}

char *term_escape_str(const char *s, enum term_mode mode)
{
	return term_escape(s ? s : "", s ? strlen(s) : 0, mode, NULL);
}

void term_free(char *escaped)
{
	if (escaped != oom)
		free(escaped);
}

size_t term_cut(const char *s, size_t len, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n;
	uint32_t c;

	if (max >= len)
		return len;
	/* Walk from the start: the last boundary at or before max. */
	for (;;) {
		n = utf8(u + i, len - i, &c);
		if (n == 0)
			n = 1;
		if (i + n > max)
			return i;
		i += n;
	}
}
