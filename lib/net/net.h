/* SPDX-License-Identifier: MIT */
/*
 * The network layer: every outbound request of sandboxed code is decided
 * and made here, on the host. One parser (url.c) reads the URL; the policy
 * (policy.c) matches its target against the allow-list and checks every
 * address the name resolves to; the fetch (fetch.c) connects only to those
 * checked addresses, follows redirects itself, hop by hop, through the same
 * checks, and caps everything.
 */
#ifndef CACT_NET_H
#define CACT_NET_H

#include <jansson.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <cact/error.h>

#include "../runtime/rt.h"

#define NET_HOST_MAX	     256
#define NET_MAX_REDIRECTS    5
#define NET_MAX_HEADERS	     128
#define NET_MAX_HEADER_BYTES (256 * 1024)
#define NET_MAX_ADDRS	     16

enum net_host_kind { NET_NAME, NET_IPV4, NET_IPV6 };

struct net_url {
	char scheme[8];		 /* "http" or "https" */
	char host[NET_HOST_MAX]; /* lower-case name, dotted quad, or IPv6 text without brackets */
	enum net_host_kind kind;
	unsigned port; /* effective port */
	int port_given;
	char *rest; /* path and query, starting with '/', owned */
};

/*
 * Parses an absolute http(s) URL strictly: no user info, backslashes,
 * control characters or spaces; ASCII host names only (IDNA as "xn--");
 * IPv4 only as four decimal parts without leading zeros (2130706433,
 * 0x7f.1, 0177.0.0.1 and 127.1 are refused); IPv6 in brackets, no zone;
 * the fragment dropped; non-ASCII bytes in the path percent-encoded.
 * u->rest is owned (net_url_clear). 0 or CACT_EINVAL with the reason.
 */
int net_url_parse(const char *text, struct net_url *u, struct cact_error *err);
void net_url_clear(struct net_url *u);
/* The canonical form of u: what is fetched. Owned. */
char *net_url_format(const struct net_url *u);
/* "host" or "host:port" as allow-list targets are written ("[v6]:port" for IPv6). */
void net_url_authority(const struct net_url *u, int with_port, char *out, size_t size);
/* Resolves a redirect's Location against base (RFC 3986 section 5). */
int net_url_resolve(const struct net_url *base, const char *ref, struct net_url *out,
		    struct cact_error *err);

/*
 * Finds the allow-list entry for u and method. Returns the entry, or NULL
 * with why set ("target not allowed", "method not allowed", ...).
 */
const struct rt_domain *net_match(const struct rt_domain *domains, size_t n,
				  const struct net_url *u, const char *method, char *why,
				  size_t why_size);

/*
 * 1 when a connection to sa is allowed for an ordinary name: a global
 * unicast address, not loopback, private, link-local, unique-local,
 * multicast, unspecified, reserved, documentation or cloud metadata, also
 * when written as an IPv4-mapped, -compatible or NAT64 IPv6 address.
 */
int net_addr_public(const struct sockaddr *sa);
/*
 * 1 when an allow-list entry names the address sa itself (an IP literal)
 * with a port rule that u's port passes: the operator's deliberate say-so
 * for a non-public address a name resolves to.
 */
int net_addr_listed(const struct rt_domain *domains, size_t n, const struct sockaddr *sa,
		    const struct net_url *u);
int net_addr_loopback(const struct sockaddr *sa);

/* One request of sandboxed code. */
struct net_request {
	const struct cact_request *req; /* allow-list, overrides, limits */
	const char *method;		/* upper-case */
	const char *url;
	json_t *headers; /* object of string values, borrowed; may be NULL */
	const unsigned char *body;
	size_t body_len;
	int has_body;			 /* a body was given (maybe empty) */
	int cancel_fd;			 /* readable: stop (the execution ended) */
	_Atomic uint64_t *budget;	 /* bytes left for the execution, shared */
	_Atomic uint64_t *requests_left; /* hops left for the execution, shared */
	uint64_t deadline_us;		 /* the execution's own deadline */
	uint64_t timeout_ms;		 /* the code's own timeout; 0: none. Only shortens */
};

struct net_response {
	int status;
	json_t *headers; /* owned */
	unsigned char *body;
	size_t body_len;
	char *final_url;
	int denied; /* refused by the policy (PermissionError), else a failure (OSError) */
	char error[CACT_ERROR_MAX];
	struct rt_http hops[NET_MAX_REDIRECTS + 1];
	size_t n_hops;
};

/*
 * Makes the request. Returns 0 with resp filled (any HTTP status), or a
 * negative code with resp->error (and resp->denied) saying why. Thread-safe.
 */
int net_fetch(const struct net_request *r, struct net_response *resp);
void net_response_clear(struct net_response *resp);

/* curl_global_init, once per process. 0 or CACT_ESYS. */
int net_global_init(struct cact_error *err);

#endif
