/* SPDX-License-Identifier: MIT */
/*
 * Who may be reached: the allow-list match of a parsed URL, and the
 * address rules every resolved address must pass.
 */
#include <arpa/inet.h>
#include <string.h>

#include "../util/text.h"
#include "../util/util.h"
#include "net.h"

/* An allow-list target split into host (IPv6 canonical, no brackets) and port (0: none). */
static int split_target(const char *target, char *host, size_t size, unsigned *port)
{
	const char *colon;
	uint64_t v;

	*port = 0;
	if (target[0] == '[') {
		const char *close = strchr(target, ']');
		char v6[NET_HOST_MAX];
		struct in6_addr a6;

		if (!close || (size_t)(close - target - 1) >= sizeof(v6))
			return -1;
		memcpy(v6, target + 1, (size_t)(close - target - 1));
		v6[close - target - 1] = '\0';
		if (inet_pton(AF_INET6, v6, &a6) != 1)
			return -1;
		inet_ntop(AF_INET6, &a6, host, (socklen_t)size);
		colon = close[1] == ':' ? close + 1 : NULL;
	} else {
		colon = strchr(target, ':');
		if ((size_t)(colon ? colon - target : (ptrdiff_t)strlen(target)) >= size)
			return -1;
		ut_snprintf(host, size, "%.*s", colon ? (int)(colon - target) : (int)strlen(target),
			    target);
	}
	if (colon) {
		if (ut_parse_u64(colon + 1, &v) || v == 0 || v > 65535)
			return -1;
		*port = (unsigned)v;
	}
	return 0;
}

static int host_matches(const char *pattern, const struct net_url *u)
{
	const char *host = u->host;
	size_t pl, hl;

	if (strncmp(pattern, "*.", 2) != 0)
		return strcmp(pattern, host) == 0;
	if (u->kind != NET_NAME)
		return 0;
	/* "*.example.com": a.example.com, a.b.example.com; not example.com itself. */
	pl = strlen(pattern + 1);
	hl = strlen(host);
	return hl > pl && strcmp(host + hl - pl, pattern + 1) == 0;
}

static int has_method(const char *list, const char *method)
{
	size_t n = strlen(method);
	const char *p = list;

	while (p && *p) {
		if (strncmp(p, method, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return 1;
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return 0;
}

const struct rt_domain *net_match(const struct rt_domain *domains, size_t n,
				  const struct net_url *u, const char *method, char *why,
				  size_t why_size)
{
	const struct rt_domain *host_hit = NULL;
	unsigned dflt = strcmp(u->scheme, "https") == 0 ? 443 : 80;
	char auth[NET_HOST_MAX + 16];
	size_t i, used = 0;

	if (strcmp(method, "CONNECT") == 0 || strcmp(method, "TRACE") == 0) {
		ut_snprintf(why, why_size, "%s requests are never allowed", method);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		char host[NET_HOST_MAX];
		unsigned port;

		if (split_target(domains[i].target, host, sizeof(host), &port))
			continue;
		if (!host_matches(host, u))
			continue;
		/* A target without a port allows the scheme's default port only. */
		if (port ? port != u->port : u->port != dflt)
			continue;
		host_hit = &domains[i];
		if (!domains[i].methods || has_method(domains[i].methods, method))
			return &domains[i];
	}
	net_url_authority(u, u->port != dflt, auth, sizeof(auth));
	if (host_hit) {
		ut_snprintf(why, why_size, "%s to %s is not allowed (allowed methods: %s)", method,
			    auth, host_hit->methods);
		return NULL;
	}
	used = (size_t)snprintf(why, why_size, "%s is not an allowed target (allowed:", auth);
	for (i = 0; i < n && used < why_size; i++)
		used += (size_t)snprintf(why + used, why_size - used, "%s %s", i ? "," : "",
					 domains[i].target);
	if (used < why_size)
		snprintf(why + used, why_size - used, "%s)", n ? "" : " none");
	return NULL;
}

int net_addr_listed(const struct rt_domain *domains, size_t n, const struct sockaddr *sa,
		    const struct net_url *u)
{
	unsigned dflt = strcmp(u->scheme, "https") == 0 ? 443 : 80;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char bin[16];
		char host[NET_HOST_MAX];
		unsigned port;

		if (split_target(domains[i].target, host, sizeof(host), &port))
			continue;
		if (port ? port != u->port : u->port != dflt)
			continue;
		if (sa->sa_family == AF_INET && inet_pton(AF_INET, host, bin) == 1 &&
		    memcmp(bin, &((const struct sockaddr_in *)sa)->sin_addr, 4) == 0)
			return 1;
		if (sa->sa_family == AF_INET6 && inet_pton(AF_INET6, host, bin) == 1 &&
		    memcmp(bin, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16) == 0)
			return 1;
	}
	return 0;
}

/* IPv4 rules, on a host-order address. */
static int v4_public(uint32_t a)
{
	static const struct {
		uint32_t net, mask;
	} blocked[] = {
		{0x00000000, 0xff000000}, /* 0.0.0.0/8: "this network", unspecified */
		{0x0a000000, 0xff000000}, /* 10/8: private */
		{0x64400000, 0xffc00000}, /* 100.64/10: shared address space */
		{0x7f000000, 0xff000000}, /* 127/8: loopback */
		{0xa9fe0000, 0xffff0000}, /* 169.254/16: link-local, cloud metadata */
		{0xac100000, 0xfff00000}, /* 172.16/12: private */
		{0xc0000000, 0xffffff00}, /* 192.0.0/24: IETF protocol assignments */
		{0xc0000200, 0xffffff00}, /* 192.0.2/24: documentation */
		{0xc0a80000, 0xffff0000}, /* 192.168/16: private */
		{0xc6120000, 0xfffe0000}, /* 198.18/15: benchmarking */
		{0xc6336400, 0xffffff00}, /* 198.51.100/24: documentation */
		{0xcb007100, 0xffffff00}, /* 203.0.113/24: documentation */
		{0xe0000000, 0xf0000000}, /* 224/4: multicast */
		{0xf0000000, 0xf0000000}, /* 240/4: reserved, broadcast */
	};
	size_t i;

	for (i = 0; i < UT_ARRAY_SIZE(blocked); i++)
		if ((a & blocked[i].mask) == blocked[i].net)
			return 0;
	return 1;
}

static uint32_t v4_at(const unsigned char *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static int prefix(const unsigned char *a, const unsigned char *p, int bits)
{
	int i;

	for (i = 0; i < bits / 8; i++)
		if (a[i] != p[i])
			return 0;
	if (bits % 8) {
		unsigned char m = (unsigned char)(0xff << (8 - bits % 8));

		if ((a[i] & m) != (p[i] & m))
			return 0;
	}
	return 1;
}

static int v6_public(const unsigned char *a)
{
	static const unsigned char zero[16] = {0};
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b};
	static const unsigned char sixto4[2] = {0x20, 0x02};
	static const unsigned char doc[4] = {0x20, 0x01, 0x0d, 0xb8};
	static const unsigned char discard[8] = {0x01, 0x00};

	/* IPv4 in IPv6 clothing: judge the IPv4 address. */
	if (prefix(a, mapped, 96) || prefix(a, nat64, 96))
		return v4_public(v4_at(a + 12));
	if (prefix(a, zero, 96)) /* ::a.b.c.d (compatible), ::1, :: */
		return v4_public(v4_at(a + 12)) && v4_at(a + 12) > 1;
	if (prefix(a, sixto4, 16)) /* 6to4 embeds an IPv4 address */
		return v4_public(v4_at(a + 2));
	if ((a[0] & 0xe0) != 0x20) /* outside 2000::/3, the global unicast space */
		return 0;
	if (a[0] == 0x3f && (a[1] & 0xf0) == 0xf0) /* 3fff::/20: documentation */
		return 0;
	if ((a[0] & 0xfe) == 0xfc) /* fc00::/7: unique-local (fd00:ec2::254 metadata too) */
		return 0;
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) /* fe80::/10: link-local */
		return 0;
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0) /* fec0::/10: old site-local */
		return 0;
	if (a[0] == 0xff) /* multicast */
		return 0;
	if (prefix(a, doc, 32) || prefix(a, discard, 64))
		return 0;
	return 1;
}

int net_addr_public(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return v4_public(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
	if (sa->sa_family == AF_INET6)
		return v6_public(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
	return 0;
}

int net_addr_loopback(const struct sockaddr *sa)
{
	static const unsigned char one[16] = {[15] = 1};

	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return memcmp(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr, one, 16) == 0;
	return 0;
}
