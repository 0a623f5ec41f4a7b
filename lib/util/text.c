/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "text.h"
#include "util.h"

char *ut_base64(const unsigned char *data, size_t len, size_t *out_len)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = 4 * ((len + 2) / 3), i, o = 0;
	char *out;

	if (len > ((size_t)-1) / 2)
		return NULL;
	out = malloc(n + 1);
	if (!out)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];

		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
		out[o++] = tab[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)data[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)data[i + 1] << 8;
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	if (out_len)
		*out_len = o;
	return out;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int ut_base64_decode(const char *text, size_t len, unsigned char **out, size_t *out_len)
{
	unsigned char *buf;
	size_t i, o = 0, pad = 0;

	*out = NULL;
	*out_len = 0;
	if (len % 4)
		return -1;
	if (len && text[len - 1] == '=')
		pad = len > 1 && text[len - 2] == '=' ? 2 : 1;
	buf = malloc(len / 4 * 3 + 1);
	if (!buf)
		return -2;
	for (i = 0; i < len; i += 4) {
		int v[4], k, last = i + 4 == len;
		uint32_t w = 0;

		for (k = 0; k < 4; k++) {
			v[k] = b64_value((unsigned char)text[i + k]);
			/* '=' only as the padding of the last group. */
			if (v[k] < 0 && !(last && text[i + k] == '=' && k >= 4 - (int)pad))
				goto bad;
			w = w << 6 | (uint32_t)(v[k] < 0 ? 0 : v[k]);
		}
		buf[o++] = (unsigned char)(w >> 16);
		if (!last || pad < 2)
			buf[o++] = (unsigned char)(w >> 8);
		if (!last || pad < 1)
			buf[o++] = (unsigned char)w;
		/* Bits under the padding must be zero: one spelling per byte string. */
		if (last && ((pad == 2 && (w & 0xffff)) || (pad == 1 && (w & 0xff))))
			goto bad;
	}
	*out = buf;
	*out_len = o;
	return 0;
bad:
	free(buf);
	return -1;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
	unsigned c = s[0];
	size_t n, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (left < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

int ut_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		size_t n = utf8_seq(p + i, len - i);

		if (n == 0 || p[i] == 0)
			return 0;
		i += n;
	}
	return 1;
}

char *ut_utf8_repair(const char *s, size_t len, size_t *out_len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0;
	char *out;

	/* Worst case every byte becomes the 3-byte replacement character. */
	if (len > (((size_t)-1) - 1) / 3)
		return NULL;
	out = malloc(len * 3 + 1);
	if (!out)
		return NULL;
	while (i < len) {
		size_t n = utf8_seq(p + i, len - i);

		if (n == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(out + o, p + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	if (out_len)
		*out_len = o;
	return out;
}

static const struct {
	const char *ext;
	const char *type;
} media[] = {
	{"txt", "text/plain"},
	{"log", "text/plain"},
	{"md", "text/markdown"},
	{"csv", "text/csv"},
	{"tsv", "text/tab-separated-values"},
	{"html", "text/html"},
	{"htm", "text/html"},
	{"css", "text/css"},
	{"xml", "application/xml"},
	{"json", "application/json"},
	{"jsonl", "application/jsonl"},
	{"ndjson", "application/x-ndjson"},
	{"yaml", "application/yaml"},
	{"yml", "application/yaml"},
	{"toml", "application/toml"},
	{"js", "text/javascript"},
	{"py", "text/x-python"},
	{"sql", "application/sql"},
	{"svg", "image/svg+xml"},
	{"png", "image/png"},
	{"jpg", "image/jpeg"},
	{"jpeg", "image/jpeg"},
	{"gif", "image/gif"},
	{"webp", "image/webp"},
	{"bmp", "image/bmp"},
	{"ico", "image/vnd.microsoft.icon"},
	{"pdf", "application/pdf"},
	{"zip", "application/zip"},
	{"gz", "application/gzip"},
	{"tar", "application/x-tar"},
	{"bz2", "application/x-bzip2"},
	{"xz", "application/x-xz"},
	{"parquet", "application/vnd.apache.parquet"},
	{"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
	{"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
	{"wav", "audio/wav"},
	{"mp3", "audio/mpeg"},
	{"mp4", "video/mp4"},
	{"ipynb", "application/x-ipynb+json"},
	{"sqlite", "application/vnd.sqlite3"},
	{"db", "application/vnd.sqlite3"},
};

const char *ut_media_type(const char *name)
{
	const char *slash = strrchr(name, '/');
	const char *dot;
	size_t i;

	if (slash)
		name = slash + 1;
	dot = strrchr(name, '.');
	if (!dot || dot == name || dot[1] == '\0')
		return "application/octet-stream";
	for (i = 0; i < UT_ARRAY_SIZE(media); i++)
		if (strcasecmp(dot + 1, media[i].ext) == 0)
			return media[i].type;
	return "application/octet-stream";
}

int ut_media_is_text(const char *type)
{
	static const char *const texts[] = {
		"application/json", "application/jsonl",      "application/x-ndjson",
		"application/xml",  "application/yaml",	      "application/toml",
		"application/sql",  "application/javascript",
	};
	size_t i, n = strlen(type);

	if (strncmp(type, "text/", 5) == 0)
		return 1;
	if ((n > 5 && strcmp(type + n - 5, "+json") == 0) ||
	    (n > 4 && strcmp(type + n - 4, "+xml") == 0))
		return 1;
	for (i = 0; i < UT_ARRAY_SIZE(texts); i++)
		if (strcmp(type, texts[i]) == 0)
			return 1;
	return 0;
}

int ut_media_is_image(const char *type)
{
	static const char *const shown[] = {"image/png", "image/jpeg", "image/gif", "image/webp"};
	size_t i;

	for (i = 0; i < UT_ARRAY_SIZE(shown); i++)
		if (strcmp(type, shown[i]) == 0)
			return 1;
	return 0;
}

int ut_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		unsigned d;

		if (*s < '0' || *s > '9')
			return -1;
		d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int ut_parse_milli(const char *s, uint64_t *out)
{
	uint64_t whole = 0, frac = 0;
	const char *dot;
	char intpart[32];
	size_t n, i;

	if (!s || !*s)
		return -1;
	dot = strchr(s, '.');
	n = dot ? (size_t)(dot - s) : strlen(s);
	if (n == 0 || n >= sizeof(intpart))
		return -1;
	memcpy(intpart, s, n);
	intpart[n] = '\0';
	if (ut_parse_u64(intpart, &whole))
		return -1;
	if (dot) {
		const char *f = dot + 1;
		size_t fl = strlen(f);

		if (fl == 0 || fl > 3)
			return -1;
		for (i = 0; i < 3; i++) {
			frac *= 10;
			if (i < fl) {
				if (f[i] < '0' || f[i] > '9')
					return -1;
				frac += (uint64_t)(f[i] - '0');
			}
		}
	}
	if (whole > (UINT64_MAX - frac) / 1000)
		return -1;
	*out = whole * 1000 + frac;
	return 0;
}
