/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: URLs and redirect Locations written by sandboxed code or sent
 * by a server. The input is a URL, then a newline, then a reference to
 * resolve against it. Every parsed URL must be in canonical form, read the
 * same when parsed again and by libcurl (which is handed the canonical
 * form), and match the allow-list exactly as the rules say; a relative
 * reference never changes the origin. A violated invariant aborts.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The allow-list every parsed URL is matched against, and what each entry means. */
static const struct rt_domain domains[] = {
	{"example.com", NULL},
	{"*.example.org", "GET,HEAD"},
	{"api.example.net:8443", "POST"},
	{"[::1]:8080", NULL},
	{"127.0.0.1", "GET"},
	{"*.0.0.1", NULL},
	{"localhost:3000", NULL},
	{"[2001:db8::1]", NULL},
	{"a_b.example", "DELETE,PUT"},
	{"[::ffff:7f00:1]:81", NULL},
};
static const struct {
	const char *host; /* exact host, or the suffix after "*" of a wildcard */
	int wildcard;
	unsigned port; /* 0: the scheme's default only */
} meaning[] = {
	{"example.com", 0, 0},	      {".example.org", 1, 0},
	{"api.example.net", 0, 8443}, {"::1", 0, 8080},
	{"127.0.0.1", 0, 0},	      {".0.0.1", 1, 0},
	{"localhost", 0, 3000},	      {"2001:db8::1", 0, 0},
	{"a_b.example", 0, 0},	      {"::ffff:127.0.0.1", 0, 81},
};
static const char *const methods[] = {"GET", "POST", "DELETE", "CONNECT", "TRACE"};

static void violated(const char *what, const char *a, const char *b)
{
	fprintf(stderr, "fuzz_url: %s\n  %s\n  %s\n", what, a ? a : "(null)", b ? b : "(null)");
	abort();
}

static int strict_dotted_quad(const char *h)
{
	unsigned char bin[4];
	char back[INET_ADDRSTRLEN];

	/* inet_pton takes only a.b.c.d in decimal; printing it back rules out leading zeros. */
	return inet_pton(AF_INET, h, bin) == 1 && inet_ntop(AF_INET, bin, back, sizeof(back)) &&
	       strcmp(back, h) == 0;
}

static int path_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("-._~!$&'()*+,;=:@/?%", c) != NULL;
}

/* The fields and the text of a parsed URL obey the parser's contract. */
static void check_fields(const struct net_url *u, const char *from)
{
	unsigned dflt = strcmp(u->scheme, "https") == 0 ? 443 : 80;
	const char *p;

	if (strcmp(u->scheme, "http") != 0 && strcmp(u->scheme, "https") != 0)
		violated("scheme is not http or https", from, u->scheme);
	if (!u->host[0])
		violated("empty host", from, u->host);
	for (p = u->host; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c >= 0x7f || (c >= 'A' && c <= 'Z'))
			violated("host has an upper-case, control or non-ASCII byte", from,
				 u->host);
	}
	if (u->kind == NET_IPV4 && !strict_dotted_quad(u->host))
		violated("IPv4 host is not a strict dotted quad", from, u->host);
	if (u->kind == NET_IPV6) {
		unsigned char bin[16];
		char back[INET6_ADDRSTRLEN];

		if (inet_pton(AF_INET6, u->host, bin) != 1 ||
		    !inet_ntop(AF_INET6, bin, back, sizeof(back)) || strcmp(back, u->host) != 0)
			violated("IPv6 host is not canonical", from, u->host);
	}
	if (u->kind == NET_NAME) {
		struct in_addr a;
		size_t n = strlen(u->host);

		/* glibc's resolver reads inet_aton spellings (127.1, 0x7f.1) as addresses. */
		if (inet_aton(u->host, &a))
			violated("a host name that the resolver reads as an IPv4 address", from,
				 u->host);
		if (u->host[0] == '.' || u->host[n - 1] == '.' || strstr(u->host, ".."))
			violated("host name with an empty label or a trailing dot", from, u->host);
		if (strpbrk(u->host, ":[]%@/\\"))
			violated("host name with a delimiter", from, u->host);
	}
	if (u->port == 0 || u->port > 65535 || (!u->port_given && u->port != dflt))
		violated("bad port", from, u->host);
	if (!u->rest || u->rest[0] != '/')
		violated("path does not start with '/'", from, u->rest);
	for (p = u->rest; *p; p++)
		if (!path_byte((unsigned char)*p))
			violated("path has a byte that should be percent-encoded", from, u->rest);
}

/* libcurl, handed the canonical form, reads the same scheme, host and port. */
static void check_curl(const struct net_url *u, const char *canon)
{
	CURLU *h = curl_url();
	char *host = NULL, *port = NULL, *scheme = NULL;

	if (!h)
		return;
	if (curl_url_set(h, CURLUPART_URL, canon, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
		goto out;
	if (strcasecmp(scheme, u->scheme) != 0)
		violated("libcurl reads another scheme", canon, scheme);
	if ((unsigned)strtoul(port, NULL, 10) != u->port)
		violated("libcurl reads another port", canon, port);
	if (u->kind == NET_IPV6) {
		unsigned char a[16], b[16];
		char inner[NET_HOST_MAX];
		size_t n = strlen(host);

		if (n < 2 || host[0] != '[' || host[n - 1] != ']' || n - 2 >= sizeof(inner))
			violated("libcurl reads another host", canon, host);
		memcpy(inner, host + 1, n - 2);
		inner[n - 2] = '\0';
		if (inet_pton(AF_INET6, inner, a) != 1 || inet_pton(AF_INET6, u->host, b) != 1 ||
		    memcmp(a, b, 16) != 0)
			violated("libcurl reads another IPv6 host", canon, host);
	} else if (strcasecmp(host, u->host) != 0) {
		violated("libcurl reads another host", canon, host);
	}
out:
	curl_free(host);
	curl_free(port);
	curl_free(scheme);
	curl_url_cleanup(h);
}

/* format(u) parses back into the same URL, with the same canonical text. Returns it (owned). */
static char *check_canonical(const struct net_url *u, const char *from)
{
	struct cact_error err;
	struct net_url again;
	char *canon = net_url_format(u), *twice;

	if (!canon)
		return NULL;
	if (net_url_parse(canon, &again, &err))
		violated("the canonical form does not parse", canon, err.message);
	twice = net_url_format(&again);
	if (!twice || strcmp(twice, canon) != 0 || strcmp(again.host, u->host) != 0 ||
	    again.kind != u->kind || again.port != u->port || strcmp(again.rest, u->rest) != 0 ||
	    strcmp(again.scheme, u->scheme) != 0)
		violated("the canonical form reparses differently", canon, twice);
	check_fields(u, from);
	check_curl(u, canon);
	free(twice);
	net_url_clear(&again);
	return canon;
}

static int host_ok(size_t i, const struct net_url *u)
{
	size_t hl = strlen(u->host), sl = strlen(meaning[i].host);

	if (!meaning[i].wildcard)
		return strcmp(u->host, meaning[i].host) == 0;
	/* Strict subdomains of a name; an address is no one's subdomain. */
	return u->kind == NET_NAME && hl > sl && strcmp(u->host + hl - sl, meaning[i].host) == 0;
}

static int method_ok(const char *list, const char *m)
{
	size_t n = strlen(m);
	const char *p;

	if (!list)
		return 1;
	for (p = list; p; p = strchr(p, ','), p = p ? p + 1 : NULL)
		if (strncmp(p, m, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return 1;
	return 0;
}

/* net_match picks exactly the first entry the rules allow, and says why when none. */
static void check_match(const struct net_url *u, const char *canon)
{
	unsigned dflt = strcmp(u->scheme, "https") == 0 ? 443 : 80;
	size_t i, m;

	for (m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
		const struct rt_domain *want = NULL, *got;
		char why[160];
		int never = strcmp(methods[m], "CONNECT") == 0 || strcmp(methods[m], "TRACE") == 0;

		for (i = 0; !never && !want && i < sizeof(domains) / sizeof(domains[0]); i++)
			if (host_ok(i, u) &&
			    (meaning[i].port ? u->port == meaning[i].port : u->port == dflt) &&
			    method_ok(domains[i].methods, methods[m]))
				want = &domains[i];
		why[0] = '\0';
		got = net_match(domains, sizeof(domains) / sizeof(domains[0]), u, methods[m], why,
				sizeof(why));
		if (got != want)
			violated("net_match disagrees with the allow-list rules", canon,
				 got ? got->target : "(refused)");
		if (!got && (!why[0] || strlen(why) >= sizeof(why)))
			violated("a refusal without a reason", canon, why);
	}
	/* The empty list refuses everything, and the reason is cut to fit. */
	{
		char small[8];

		if (net_match(domains, 0, u, "GET", small, sizeof(small)) || strlen(small) >= 8)
			violated("the empty allow-list allowed something", canon, small);
	}
}

/* A relative reference: no scheme, no "//" authority. */
static int is_relative(const char *ref)
{
	const char *p = ref;

	if (strncmp(ref, "//", 2) == 0)
		return 0;
	if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) {
		while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		       (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == '.')
			p++;
		if (*p == ':')
			return 0;
	}
	return 1;
}

/* A path with a "." or ".." segment (before the query). */
static int has_dot_segment(const char *rest)
{
	const char *p = rest;

	while (*p == '/') {
		const char *s = p + 1;
		size_t n = strcspn(s, "/?");

		if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return 1;
		p = s + n;
	}
	return 0;
}

static void check_resolve(const struct net_url *base, const char *ref)
{
	struct cact_error err;
	struct net_url out;
	char *canon, *base_text;

	if (net_url_resolve(base, ref, &out, &err)) {
		if (!err.message[0])
			violated("resolve failed without a reason", ref, NULL);
		return;
	}
	base_text = net_url_format(base);
	canon = check_canonical(&out, ref);
	if (is_relative(ref)) {
		if (strcmp(out.scheme, base->scheme) != 0 || strcmp(out.host, base->host) != 0 ||
		    out.port != base->port || out.kind != base->kind)
			violated("a relative reference changed the origin", base_text, canon);
		/* A merged relative path has its dot segments removed (RFC 3986 5.2.4). */
		if (ref[0] && !strchr("/?#", ref[0]) && has_dot_segment(out.rest))
			violated("a merged path kept a dot segment", base_text, canon);
	}
	free(canon);
	free(base_text);
	net_url_clear(&out);
}

static void check_url(const char *text)
{
	struct cact_error err;
	struct net_url u;
	char *canon;

	memset(&err, 0, sizeof(err));
	if (net_url_parse(text, &u, &err)) {
		const char *p;

		if (err.code != CACT_EINVAL && err.code != CACT_ENOMEM)
			violated("a refusal with an unexpected code", text, err.message);
		for (p = err.message; *p; p++)
			if ((unsigned char)*p < 0x20)
				violated("a refusal message with a control character", text,
					 err.message);
		if (!err.message[0] || u.rest)
			violated("a refusal without a reason, or with a path left", text,
				 err.message);
		return;
	}
	canon = check_canonical(&u, text);
	if (canon) {
		char auth[16];

		check_match(&u, canon);
		/* A short buffer is cut, not overrun. */
		net_url_authority(&u, 1, auth, sizeof(auth));
		if (strlen(auth) >= sizeof(auth))
			violated("authority overran its buffer", canon, auth);
	}
	free(canon);
	net_url_clear(&u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const bases[] = {"http://a/b/c/d;p?q", "https://[::1]:8443/x/y?z",
					    "http://example.com"};
	const uint8_t *nl;
	char *url, *ref = NULL;
	size_t ulen, i;

	if (size > 70000)
		return 0;
	nl = memchr(data, '\n', size);
	ulen = nl ? (size_t)(nl - data) : size;
	url = malloc(ulen + 1);
	if (!url)
		return 0;
	memcpy(url, data, ulen);
	url[ulen] = '\0';
	if (nl) {
		size_t rlen = size - ulen - 1;

		ref = malloc(rlen + 1);
		if (!ref) {
			free(url);
			return 0;
		}
		memcpy(ref, nl + 1, rlen);
		ref[rlen] = '\0';
	}
	check_url(url);
	if (ref) {
		struct net_url base;
		struct cact_error err;

		check_url(ref);
		for (i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
			if (net_url_parse(bases[i], &base, &err))
				violated("a fixed base does not parse", bases[i], err.message);
			check_resolve(&base, ref);
			net_url_clear(&base);
		}
		if (net_url_parse(url, &base, &err) == 0) {
			check_resolve(&base, ref);
			net_url_clear(&base);
		}
	}
	free(url);
	free(ref);
	return 0;
}
