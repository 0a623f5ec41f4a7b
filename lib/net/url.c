/* SPDX-License-Identifier: MIT */
/*
 * The one URL parser of the network layer. It decides what a URL names,
 * and the canonical form it produces is exactly what is fetched: no second
 * parser (libcurl's) gets a chance to read the URL differently. Anything
 * ambiguous is refused rather than guessed.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "../util/buf.h"
#include "../util/text.h"
#include "../util/util.h"
#include "net.h"

#define URL_MAX (64u * 1024)

void net_url_clear(struct net_url *u)
{
	free(u->rest);
	memset(u, 0, sizeof(*u));
}

static int is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static unsigned default_port(const char *scheme)
{
	return strcmp(scheme, "https") == 0 ? 443 : 80;
}

/* Characters kept as they are in a path or query; everything else is percent-encoded. */
static int path_char(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || strchr("-._~!$&'()*+,;=:@/?%", c) != NULL;
}

/* A strict dotted quad: four decimal parts, 0-255, no leading zeros. */
static int strict_ipv4(const char *h)
{
	int parts = 0;

	while (*h) {
		int len = 0, v = 0;

		while (is_digit(h[len])) {
			v = v * 10 + (h[len] - '0');
			len++;
			if (len > 3)
				return 0;
		}
		if (len == 0 || v > 255 || (len > 1 && h[0] == '0'))
			return 0;
		parts++;
		h += len;
		if (*h == '.') {
			h++;
			if (!*h)
				return 0;
		} else if (*h) {
			return 0;
		}
	}
	return parts == 4;
}

/* WHATWG's rule: a last label of digits, or 0x and hex digits, means an IPv4 address. */
static int ends_in_number(const char *last)
{
	const char *p;

	if (last[0] == '0' && (last[1] == 'x' || last[1] == 'X')) {
		for (p = last + 2; *p; p++)
			if (!is_digit((unsigned char)*p) && !strchr("abcdefABCDEF", *p))
				return 0;
		return 1;
	}
	if (!*last)
		return 0;
	for (p = last; *p; p++)
		if (!is_digit((unsigned char)*p))
			return 0;
	return 1;
}

static int parse_host(const char *h, size_t n, struct net_url *u, struct cact_error *err)
{
	char host[NET_HOST_MAX];
	const char *last;
	size_t i;

	if (n == 0)
		return ut_err(err, CACT_EINVAL, "URL has no host");
	if (n >= sizeof(host))
		return ut_err(err, CACT_EINVAL, "URL host is too long");
	memcpy(host, h, n);
	host[n] = '\0';
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)host[i];

		if (c >= 0x80)
			return ut_err(
				err, CACT_EINVAL,
				"URL host is not ASCII (write internationalized names as xn--)");
		if (c >= 'A' && c <= 'Z')
			host[i] = (char)(c - 'A' + 'a');
		else if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '.' && c != '_')
			return ut_err(err, CACT_EINVAL, "URL host has '%c'", c);
	}
	if (host[0] == '.' || strstr(host, ".."))
		return ut_err(err, CACT_EINVAL, "URL host has an empty label");
	/* "example.com." is "example.com". */
	if (n > 1 && host[n - 1] == '.')
		host[--n] = '\0';
	/* A numeric last label makes the host an IPv4 address, which must be written plainly. */
	last = strrchr(host, '.');
	last = last ? last + 1 : host;
	if (ends_in_number(last)) {
		if (!strict_ipv4(host))
			return ut_err(err, CACT_EINVAL,
				      "URL host %s is an ambiguous IPv4 spelling (write a.b.c.d)",
				      host);
		u->kind = NET_IPV4;
	}
	ut_snprintf(u->host, sizeof(u->host), "%s", host);
	return 0;
}

static void remove_dots(char *path);

/* Removes dot segments from the path part of u->rest (RFC 3986 5.2.4), as libcurl would. */
static int rest_remove_dots(struct net_url *u)
{
	size_t plen = strcspn(u->rest, "?");
	char *path = malloc(plen + 2), *joined;
	size_t n;

	if (!path)
		return -1;
	memcpy(path, u->rest, plen);
	path[plen] = '\0';
	remove_dots(path);
	n = strlen(path) + strlen(u->rest + plen) + 1;
	joined = malloc(n);
	if (!joined) {
		free(path);
		return -1;
	}
	ut_snprintf(joined, n, "%s%s", path, u->rest + plen);
	free(path);
	free(u->rest);
	u->rest = joined;
	return 0;
}

int net_url_parse(const char *text, struct net_url *u, struct cact_error *err)
{
	const char *p, *auth, *auth_end, *host, *host_end, *port = NULL;
	struct ut_buf rest;
	size_t i, n;
	int rc;

	memset(u, 0, sizeof(*u));
	if (!text)
		return ut_err(err, CACT_EINVAL, "URL is missing");
	n = strlen(text);
	if (n > URL_MAX)
		return ut_err(err, CACT_EINVAL, "URL is longer than %u bytes", URL_MAX);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c < 0x20 || c == 0x7f)
			return ut_err(err, CACT_EINVAL, "URL has a control character");
		if (c == ' ')
			return ut_err(err, CACT_EINVAL, "URL has a space (encode it as %%20)");
		if (c == '\\')
			return ut_err(err, CACT_EINVAL, "URL has a backslash");
	}
	/* Scheme. */
	if (!is_alpha((unsigned char)text[0]))
		return ut_err(err, CACT_EINVAL, "URL %.200s has no scheme (http:// or https://)",
			      text);
	for (p = text; is_alpha((unsigned char)*p) || is_digit((unsigned char)*p) || *p == '+' ||
		       *p == '-' || *p == '.';
	     p++)
		;
	if (strncmp(p, "://", 3) != 0 || (size_t)(p - text) >= sizeof(u->scheme))
		return ut_err(err, CACT_EINVAL, "URL %.200s has no scheme (http:// or https://)",
			      text);
	for (i = 0; text + i < p; i++)
		u->scheme[i] =
			(char)((text[i] >= 'A' && text[i] <= 'Z') ? text[i] - 'A' + 'a' : text[i]);
	u->scheme[i] = '\0';
	if (strcmp(u->scheme, "http") != 0 && strcmp(u->scheme, "https") != 0)
		return ut_err(err, CACT_EINVAL, "URL scheme %s is not http or https", u->scheme);
	/* Authority. */
	auth = p + 3;
	auth_end = auth + strcspn(auth, "/?#");
	if (memchr(auth, '@', (size_t)(auth_end - auth)))
		return ut_err(err, CACT_EINVAL,
			      "URL has user info (user@host), which is not allowed");
	host = auth;
	if (*host == '[') {
		const char *close = memchr(host, ']', (size_t)(auth_end - host));
		char v6[NET_HOST_MAX];
		struct in6_addr a6;

		if (!close)
			return ut_err(err, CACT_EINVAL, "URL has an unclosed IPv6 address");
		if ((size_t)(close - host - 1) >= sizeof(v6) ||
		    memchr(host, '%', (size_t)(close - host)))
			return ut_err(err, CACT_EINVAL, "URL has a bad IPv6 address");
		memcpy(v6, host + 1, (size_t)(close - host - 1));
		v6[close - host - 1] = '\0';
		if (inet_pton(AF_INET6, v6, &a6) != 1)
			return ut_err(err, CACT_EINVAL, "URL has a bad IPv6 address");
		/* Canonical text, so that [::0001] and [::1] are one host. */
		inet_ntop(AF_INET6, &a6, u->host, sizeof(u->host));
		u->kind = NET_IPV6;
		host_end = close + 1;
		if (host_end < auth_end) {
			if (*host_end != ':')
				return ut_err(err, CACT_EINVAL,
					      "URL has junk after the IPv6 address");
			port = host_end + 1;
		}
	} else {
		const char *colon = memchr(host, ':', (size_t)(auth_end - host));

		host_end = colon ? colon : auth_end;
		if (colon)
			port = colon + 1;
		if ((rc = parse_host(host, (size_t)(host_end - host), u, err)))
			return rc;
	}
	u->port = default_port(u->scheme);
	if (port) {
		char digits[8];
		uint64_t v;

		n = (size_t)(auth_end - port);
		if (n == 0 || n >= sizeof(digits))
			return ut_err(err, CACT_EINVAL, "URL has a bad port");
		memcpy(digits, port, n);
		digits[n] = '\0';
		if (ut_parse_u64(digits, &v) || v == 0 || v > 65535)
			return ut_err(err, CACT_EINVAL, "URL has a bad port");
		u->port = (unsigned)v;
		u->port_given = 1;
	}
	/* Path and query; the fragment stays on the client side. */
	ut_buf_init(&rest, URL_MAX * 3 + 2);
	p = auth_end;
	if (*p != '/')
		ut_buf_add(&rest, "/", 1);
	for (; *p && *p != '#'; p++) {
		unsigned char c = (unsigned char)*p;

		if (path_char(c))
			rc = ut_buf_add(&rest, p, 1);
		else
			rc = ut_buf_addf(&rest, "%%%02X", c);
		if (rc) {
			ut_buf_reset(&rest);
			return ut_err(err, CACT_ENOMEM, "out of memory");
		}
	}
	u->rest = ut_buf_steal(&rest, NULL);
	if (!u->rest || rest_remove_dots(u)) {
		net_url_clear(u);
		return ut_err(err, CACT_ENOMEM, "out of memory");
	}
	return 0;
}

void net_url_authority(const struct net_url *u, int with_port, char *out, size_t size)
{
	if (u->kind == NET_IPV6)
		with_port ? ut_snprintf(out, size, "[%s]:%u", u->host, u->port)
			  : ut_snprintf(out, size, "[%s]", u->host);
	else
		with_port ? ut_snprintf(out, size, "%s:%u", u->host, u->port)
			  : ut_snprintf(out, size, "%s", u->host);
}

char *net_url_format(const struct net_url *u)
{
	char auth[NET_HOST_MAX + 16];
	size_t n;
	char *out;

	net_url_authority(u, u->port != default_port(u->scheme), auth, sizeof(auth));
	n = strlen(u->scheme) + 3 + strlen(auth) + strlen(u->rest) + 1;
	out = malloc(n);
	if (out)
		ut_snprintf(out, n, "%s://%s%s", u->scheme, auth, u->rest);
	return out;
}

/* Drops the last segment (and its slash) from out[0..*o). */
static void pop_segment(const char *out, size_t *o)
{
	while (*o > 0 && out[*o - 1] != '/')
		(*o)--;
	if (*o > 0)
		(*o)--;
}

/* RFC 3986 5.2.4 on a path (no query), in place. */
static void remove_dots(char *path)
{
	size_t n = strlen(path), o = 0;
	char *out = malloc(n + 2), *in = path;

	if (!out)
		return;
	while (*in) {
		if (strncmp(in, "../", 3) == 0) {
			in += 3;
		} else if (strncmp(in, "./", 2) == 0) {
			in += 2;
		} else if (strncmp(in, "/./", 3) == 0) {
			in += 2;
		} else if (strcmp(in, "/.") == 0) {
			in[1] = '\0';
		} else if (strncmp(in, "/../", 4) == 0) {
			in += 3;
			pop_segment(out, &o);
		} else if (strcmp(in, "/..") == 0) {
			pop_segment(out, &o);
			out[o++] = '/';
			break;
		} else if (strcmp(in, ".") == 0 || strcmp(in, "..") == 0) {
			break;
		} else {
			do
				out[o++] = *in++;
			while (*in && *in != '/');
		}
	}
	if (o == 0 || out[0] != '/') {
		memmove(out + 1, out, o);
		out[0] = '/';
		o++;
	}
	memcpy(path, out, o);
	path[o] = '\0';
	free(out);
}

int net_url_resolve(const struct net_url *base, const char *ref, struct net_url *out,
		    struct cact_error *err)
{
	char auth[NET_HOST_MAX + 16], *abs = NULL, *path = NULL, *q;
	const char *p;
	size_t n;
	int rc;

	if (!ref)
		return ut_err(err, CACT_EINVAL, "redirect without a location");
	for (p = ref; is_alpha((unsigned char)*p) || is_digit((unsigned char)*p) || *p == '+' ||
		      *p == '-' || *p == '.';
	     p++)
		;
	if (p > ref && *p == ':' && is_alpha((unsigned char)ref[0]))
		return net_url_parse(ref, out, err);
	net_url_authority(base, base->port != default_port(base->scheme), auth, sizeof(auth));
	n = strlen(base->scheme) + strlen(auth) + strlen(base->rest) + strlen(ref) + 8;
	abs = malloc(n);
	path = malloc(n);
	if (!abs || !path) {
		rc = ut_err(err, CACT_ENOMEM, "out of memory");
		goto out;
	}
	if (strncmp(ref, "//", 2) == 0) {
		ut_snprintf(abs, n, "%s:%s", base->scheme, ref);
	} else if (ref[0] == '/') {
		ut_snprintf(abs, n, "%s://%s%s", base->scheme, auth, ref);
	} else if (ref[0] == '?' || ref[0] == '\0' || ref[0] == '#') {
		ut_snprintf(path, n, "%s", base->rest);
		if ((q = strchr(path, '?')) && ref[0] == '?')
			*q = '\0';
		ut_snprintf(abs, n, "%s://%s%s%s", base->scheme, auth, path,
			    ref[0] == '?' ? ref : "");
	} else {
		/* Merge with the base path's folder, then drop dot segments. */
		ut_snprintf(path, n, "%s", base->rest);
		if ((q = strchr(path, '?')))
			*q = '\0';
		q = strrchr(path, '/');
		q[1] = '\0';
		ut_snprintf(path + strlen(path), n - strlen(path), "%s", ref);
		if ((q = strpbrk(path, "?#"))) {
			char *tail = strdup(q);

			if (!tail) {
				rc = ut_err(err, CACT_ENOMEM, "out of memory");
				goto out;
			}
			*q = '\0';
			remove_dots(path);
			ut_snprintf(abs, n, "%s://%s%s%s", base->scheme, auth, path, tail);
			free(tail);
		} else {
			remove_dots(path);
			ut_snprintf(abs, n, "%s://%s%s", base->scheme, auth, path);
		}
	}
	rc = net_url_parse(abs, out, err);
out:
	free(abs);
	free(path);
	return rc;
}
