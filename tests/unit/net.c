/* SPDX-License-Identifier: MIT */
/*
 * The network layer's decisions, without a network: the URL parser and its
 * canonical form, redirect resolution, the allow-list match, the address
 * rules, strict base64, the request's network settings, and the codeact
 * "network" configuration key and state.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "../common.h"
#include "net/net.h"
#include "runtime/rt.h"
#include "util/text.h"
#include "util/util.h"

/* ---- helpers ---- */

/* Failures of a table, collected so that one run reports every bad row. */
struct fails {
	char text[6000];
	size_t used;
	int n;
};

static void fail_add(struct fails *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_add(struct fails *f, const char *fmt, ...)
{
	va_list ap;
	int w;

	f->n++;
	if (f->used >= sizeof(f->text) - 1)
		return;
	va_start(ap, fmt);
	w = vsnprintf(f->text + f->used, sizeof(f->text) - f->used, fmt, ap);
	va_end(ap);
	if (w > 0)
		f->used += (size_t)w;
	if (f->used < sizeof(f->text) - 1)
		f->text[f->used++] = '\n';
	f->text[f->used < sizeof(f->text) ? f->used : sizeof(f->text) - 1] = '\0';
}

#define fails_check(f) ck_assert_msg((f)->n == 0, "%d row(s) failed:\n%s", (f)->n, (f)->text)

/* s with control and non-ASCII bytes as \xNN, for messages. Uses one of four static buffers. */
static const char *show(const char *s)
{
	static char bufs[4][512];
	static int next;
	char *out = bufs[next++ % 4];
	size_t o = 0;

	if (!s)
		return "(null)";
	for (; *s && o + 5 < sizeof(bufs[0]); s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(out + o, sizeof(bufs[0]) - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
	return out;
}

static const char *kind_name(enum net_host_kind k)
{
	return k == NET_NAME ? "name" : k == NET_IPV4 ? "ipv4" : "ipv6";
}

/* Parses text, failing the test when it does not parse. */
static void parse_ok(const char *text, struct net_url *u)
{
	struct cact_error err = {0};
	int rc = net_url_parse(text, u, &err);

	ck_assert_msg(rc == 0, "parse(\"%s\") = %d (%s)", show(text), rc, err.message);
}

/* A parsed URL: its canonical form reparses to itself. Returns the canonical form (owned). */
static char *canonical(const struct net_url *u)
{
	struct cact_error err = {0};
	struct net_url again;
	char *s = net_url_format(u), *s2;

	ck_assert_ptr_nonnull(s);
	ck_assert_msg(net_url_parse(s, &again, &err) == 0, "canonical \"%s\" does not reparse: %s",
		      show(s), err.message);
	s2 = net_url_format(&again);
	ck_assert_msg(strcmp(s, s2) == 0, "canonical \"%s\" reparses as \"%s\"", show(s), show(s2));
	free(s2);
	net_url_clear(&again);
	return s;
}

struct url_ok {
	const char *in, *canon, *host;
	enum net_host_kind kind;
	unsigned port;
};

static void url_ok_rows(const struct url_ok *rows, size_t n)
{
	struct fails f = {0};
	size_t i;

	for (i = 0; i < n; i++) {
		struct cact_error err = {0};
		struct net_url u;
		char *got;

		if (net_url_parse(rows[i].in, &u, &err)) {
			fail_add(&f, "parse(\"%s\") refused: %s", show(rows[i].in), err.message);
			continue;
		}
		got = canonical(&u);
		if (strcmp(got, rows[i].canon) != 0)
			fail_add(&f, "parse(\"%s\") -> \"%s\", expected \"%s\"", show(rows[i].in),
				 show(got), rows[i].canon);
		if (strcmp(u.host, rows[i].host) != 0 || u.kind != rows[i].kind ||
		    u.port != rows[i].port)
			fail_add(&f,
				 "parse(\"%s\"): host %s (%s) port %u, expected %s (%s) port %u",
				 show(rows[i].in), show(u.host), kind_name(u.kind), u.port,
				 rows[i].host, kind_name(rows[i].kind), rows[i].port);
		free(got);
		net_url_clear(&u);
	}
	fails_check(&f);
}

struct url_bad {
	const char *in, *needle; /* needle: a part of the message, NULL for any */
};

static void url_bad_rows(const struct url_bad *rows, size_t n)
{
	struct fails f = {0};
	size_t i;

	for (i = 0; i < n; i++) {
		struct cact_error err = {0};
		struct net_url u;
		int rc = net_url_parse(rows[i].in, &u, &err);

		if (rc == 0) {
			char *got = net_url_format(&u);

			fail_add(&f, "parse(\"%s\") accepted as \"%s\" (host %s, %s)",
				 show(rows[i].in), show(got), show(u.host), kind_name(u.kind));
			free(got);
			net_url_clear(&u);
			continue;
		}
		if (rc != CACT_EINVAL || err.code != CACT_EINVAL)
			fail_add(&f, "parse(\"%s\") = %d/%d, expected CACT_EINVAL",
				 show(rows[i].in), rc, err.code);
		else if (!err.message[0] || strchr(err.message, '\n'))
			fail_add(&f, "parse(\"%s\"): message \"%s\" is not one line",
				 show(rows[i].in), show(err.message));
		else if (rows[i].needle && !strstr(err.message, rows[i].needle))
			fail_add(&f, "parse(\"%s\"): message \"%s\" lacks \"%s\"", show(rows[i].in),
				 err.message, rows[i].needle);
		if (u.rest)
			fail_add(&f, "parse(\"%s\") failed but left rest set", show(rows[i].in));
	}
	fails_check(&f);
}

#define ROWS(t) (t), (sizeof(t) / sizeof((t)[0]))

/* ---- the URL parser ---- */

START_TEST(url_accepts_and_canonicalizes)
{
	static const struct url_ok rows[] = {
		{"http://example.com", "http://example.com/", "example.com", NET_NAME, 80},
		{"HTTP://EXAMPLE.COM/Path/To", "http://example.com/Path/To", "example.com",
		 NET_NAME, 80},
		{"HtTpS://Example.COM:443/a?b=C#frag", "https://example.com/a?b=C", "example.com",
		 NET_NAME, 443},
		{"http://example.com:80/", "http://example.com/", "example.com", NET_NAME, 80},
		{"https://example.com:80/", "https://example.com:80/", "example.com", NET_NAME, 80},
		{"http://example.com:443/", "http://example.com:443/", "example.com", NET_NAME,
		 443},
		{"http://example.com:8080", "http://example.com:8080/", "example.com", NET_NAME,
		 8080},
		{"http://example.com:1/", "http://example.com:1/", "example.com", NET_NAME, 1},
		{"http://example.com:65535/", "http://example.com:65535/", "example.com", NET_NAME,
		 65535},
		{"http://example.com:080/", "http://example.com/", "example.com", NET_NAME, 80},
		{"http://example.com?q=1", "http://example.com/?q=1", "example.com", NET_NAME, 80},
		{"http://example.com#x", "http://example.com/", "example.com", NET_NAME, 80},
		{"http://example.com/?#", "http://example.com/?", "example.com", NET_NAME, 80},
		{"http://example.com/a#b#c?d", "http://example.com/a", "example.com", NET_NAME, 80},
		{"http://a-b_c.Example.com/", "http://a-b_c.example.com/", "a-b_c.example.com",
		 NET_NAME, 80},
		{"http://xn--bcher-kva.example/", "http://xn--bcher-kva.example/",
		 "xn--bcher-kva.example", NET_NAME, 80},
		{"http://1.2.3.4.example/", "http://1.2.3.4.example/", "1.2.3.4.example", NET_NAME,
		 80},
		{"http://0x7f.example/", "http://0x7f.example/", "0x7f.example", NET_NAME, 80},
		{"http://localhost/", "http://localhost/", "localhost", NET_NAME, 80},
		{"http://127.0.0.1/", "http://127.0.0.1/", "127.0.0.1", NET_IPV4, 80},
		{"http://127.0.0.1:8080/x", "http://127.0.0.1:8080/x", "127.0.0.1", NET_IPV4, 8080},
		{"http://0.0.0.0/", "http://0.0.0.0/", "0.0.0.0", NET_IPV4, 80},
		{"http://255.255.255.255/", "http://255.255.255.255/", "255.255.255.255", NET_IPV4,
		 80},
		{"http://10.20.30.40/", "http://10.20.30.40/", "10.20.30.40", NET_IPV4, 80},
		{"http://example.com/caf\xc3\xa9", "http://example.com/caf%C3%A9", "example.com",
		 NET_NAME, 80},
		{"http://example.com/a\"<>[]{}|^`",
		 "http://example.com/a%22%3C%3E%5B%5D%7B%7D%7C%5E%60", "example.com", NET_NAME, 80},
		{"http://example.com/%41%zz%", "http://example.com/%41%zz%", "example.com",
		 NET_NAME, 80},
		{"http://example.com/-._~!$&'()*+,;=:@/?%/",
		 "http://example.com/-._~!$&'()*+,;=:@/?%/", "example.com", NET_NAME, 80},
		{"http://example.com/?q=\xff", "http://example.com/?q=%FF", "example.com", NET_NAME,
		 80},
	};

	url_ok_rows(ROWS(rows));
}
END_TEST

START_TEST(url_refuses_ambiguous_ipv4)
{
	static const struct url_bad rows[] = {
		{"http://2130706433/", "ambiguous IPv4"},
		{"http://0x7f000001/", "ambiguous IPv4"},
		{"http://0X7F000001/", "ambiguous IPv4"},
		{"http://0x7f.1/", "ambiguous IPv4"},
		{"http://0x7f.0.0.1/", "ambiguous IPv4"},
		{"http://0x7F.0.0.1/", "ambiguous IPv4"},
		{"http://0177.0.0.1/", "ambiguous IPv4"},
		{"http://017700000001/", "ambiguous IPv4"},
		{"http://127.1/", "ambiguous IPv4"},
		{"http://127.0.1/", "ambiguous IPv4"},
		{"http://0/", "ambiguous IPv4"},
		{"http://127.000.000.001/", "ambiguous IPv4"},
		{"http://127.0.0.01/", "ambiguous IPv4"},
		{"http://00.0.0.0/", "ambiguous IPv4"},
		{"http://256.0.0.1/", "ambiguous IPv4"},
		{"http://1.2.3.256/", "ambiguous IPv4"},
		{"http://1.2.3.4.5/", "ambiguous IPv4"},
		{"http://1.2.3/", "ambiguous IPv4"},
		{"http://127.0.0.0x1/", "ambiguous IPv4"},
		{"http://127.0.0.1111/", "ambiguous IPv4"},
		{"http://0x/", "ambiguous IPv4"},
		{"http://example.0x10/", "ambiguous IPv4"},
		{"http://example.123/", "ambiguous IPv4"},
		{"http://4294967296/", "ambiguous IPv4"},
	};
	struct net_url u;

	url_bad_rows(ROWS(rows));
	/* The path does not make a host: only the authority is read as one. */
	parse_ok("http://127.0.0.1:80/0x7f.1/2130706433", &u);
	ck_assert_str_eq(u.host, "127.0.0.1");
	ck_assert_str_eq(u.rest, "/0x7f.1/2130706433");
	net_url_clear(&u);
}
END_TEST

START_TEST(url_trailing_dots)
{
	static const struct url_ok ok[] = {
		{"http://example.com./", "http://example.com/", "example.com", NET_NAME, 80},
		{"http://localhost./", "http://localhost/", "localhost", NET_NAME, 80},
		{"http://LOCALHOST.:8080/", "http://localhost:8080/", "localhost", NET_NAME, 8080},
		{"http://127.0.0.1./", "http://127.0.0.1/", "127.0.0.1", NET_IPV4, 80},
		{"http://169.254.169.254./latest", "http://169.254.169.254/latest",
		 "169.254.169.254", NET_IPV4, 80},
	};
	static const struct url_bad bad[] = {
		{"http://./", "empty label"},
		{"http://../", "empty label"},
		{"http://.example.com/", "empty label"},
		{"http://a..example.com/", "empty label"},
		{"http://example.com../", "empty label"},
		{"http://localhost../", "empty label"},
		{"http://127.0.0.1../", "empty label"},
		{"http://127.0.0.1.../", "empty label"},
		{"http://127.1./", "ambiguous IPv4"},
		{"http://0x7f.0.0.1./", "ambiguous IPv4"},
	};

	url_ok_rows(ROWS(ok));
	url_bad_rows(ROWS(bad));
}
END_TEST

START_TEST(url_refuses_user_info)
{
	static const struct url_bad rows[] = {
		{"http://user@example.com/", "user info"},
		{"http://user:pass@example.com/", "user info"},
		{"http://@example.com/", "user info"},
		{"http://:@example.com/", "user info"},
		{"http://example.com@evil.com/", "user info"},
		{"http://example.com:80@evil.com/", "user info"},
		{"http://user%40example.com@evil.com/", "user info"},
		{"http://[::1]@evil.com/", "user info"},
		{"http://evil.com@[::1]/", "user info"},
		{"https://a@b@c/", "user info"},
		{"http://evil.com%40example.com/", "'%'"},
		{"http://example.com%2540evil.com/", "'%'"},
	};
	struct cact_error err = {0};
	struct net_url u;

	url_bad_rows(ROWS(rows));
	/* An '@' after the authority is path or query, not user info. */
	parse_ok("http://example.com/@evil.com", &u);
	ck_assert_str_eq(u.host, "example.com");
	ck_assert_str_eq(u.rest, "/@evil.com");
	net_url_clear(&u);
	parse_ok("http://example.com?@evil.com", &u);
	ck_assert_str_eq(u.host, "example.com");
	ck_assert_str_eq(u.rest, "/?@evil.com");
	net_url_clear(&u);
	parse_ok("http://example.com#@evil.com", &u);
	ck_assert_str_eq(u.host, "example.com");
	ck_assert_str_eq(u.rest, "/");
	net_url_clear(&u);
	ck_assert_int_eq(net_url_parse("http://u@x/", &u, NULL), CACT_EINVAL);
	ck_assert_int_eq(net_url_parse(NULL, &u, &err), CACT_EINVAL);
	ck_assert_str_eq(err.message, "URL is missing");
}
END_TEST

START_TEST(url_refuses_separators_and_controls)
{
	static const struct url_bad rows[] = {
		{"http://example.com\\@evil.com/", "backslash"},
		{"http:\\\\example.com/", "backslash"},
		{"http://example.com\\", "backslash"},
		{"http://example.com/a\\b", "backslash"},
		{"http://evil.com\\.example.com/", "backslash"},
		{"http://exa\rmple.com/", "control character"},
		{"http://exa\nmple.com/", "control character"},
		{"http://example.com/\r\nHost: evil.com", "control character"},
		{"http://example.com/?a=\n", "control character"},
		{"http://exa\tmple.com/", "control character"},
		{"http://example.com/\t", "control character"},
		{"http://ex\x01"
		 "ample.com/",
		 "control character"},
		{"http://example.com/\x1f", "control character"},
		{"http://example.com/\x7f", "control character"},
		{"http://example.com\x1b/", "control character"},
		{"http://example .com/", "space"},
		{" http://example.com/", NULL},
		{"http://example.com/ ", "space"},
		{"http://example.com/a b", "space"},
		{"http://example.com:80 /", "space"},
	};

	url_bad_rows(ROWS(rows));
}
END_TEST

START_TEST(url_refuses_non_ascii_and_encoded_hosts)
{
	static const struct url_bad rows[] = {
		{"http://ex\xc3\xa4mple.com/", "not ASCII"},
		{"http://\xd0\xb0pple.com/", "not ASCII"},
		{"http://127\xef\xbc\x8e"
		 "0.0.1/",
		 "not ASCII"},
		{"http://example.com\xe3\x80\x82/", "not ASCII"},
		{"http://\xff/", "not ASCII"},
		{"http://%31%32%37.0.0.1/", "'%'"},
		{"http://127%2e0%2e0%2e1/", "'%'"},
		{"http://exa%6dple.com/", "'%'"},
		{"http://example.com%00.evil/", "'%'"},
		{"http://ex!ample.com/", "'!'"},
		{"http://exa*mple.com/", "'*'"},
		{"http://*.example.com/", "'*'"},
		{"http://exam$ple.com/", "'$'"},
		{"http://example.com;x/", "';'"},
		{"http://a,b.com/", "','"},
		{"http://exam'ple.com/", "'''"},
		{"http://ex\"ample.com/", NULL},
		{"http://ex<ample.com/", NULL},
		{"http://ex{ample.com/", NULL},
		{"http://ex|ample.com/", NULL},
		{"http://example.com]/", NULL},
		{"http://example.com[/", NULL},
	};

	url_bad_rows(ROWS(rows));
}
END_TEST

START_TEST(url_ipv6_forms)
{
	static const struct url_ok ok[] = {
		{"http://[::1]/", "http://[::1]/", "::1", NET_IPV6, 80},
		{"http://[0:0:0:0:0:0:0:1]/", "http://[::1]/", "::1", NET_IPV6, 80},
		{"http://[0000:0000:0000:0000:0000:0000:0000:0001]:8080/x", "http://[::1]:8080/x",
		 "::1", NET_IPV6, 8080},
		{"https://[::0001]:443/", "https://[::1]/", "::1", NET_IPV6, 443},
		{"http://[::]/", "http://[::]/", "::", NET_IPV6, 80},
		{"http://[::ffff:127.0.0.1]/", "http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1",
		 NET_IPV6, 80},
		{"http://[::FFFF:7F00:1]/", "http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1",
		 NET_IPV6, 80},
		{"http://[::ffff:7f00:1]/", "http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1",
		 NET_IPV6, 80},
		{"http://[0:0:0:0:0:ffff:a9fe:a9fe]/", "http://[::ffff:169.254.169.254]/",
		 "::ffff:169.254.169.254", NET_IPV6, 80},
		{"http://[::127.0.0.1]/", "http://[::127.0.0.1]/", "::127.0.0.1", NET_IPV6, 80},
		{"http://[64:ff9b::7f00:1]/", "http://[64:ff9b::7f00:1]/", "64:ff9b::7f00:1",
		 NET_IPV6, 80},
		{"http://[64:FF9B::127.0.0.1]/", "http://[64:ff9b::7f00:1]/", "64:ff9b::7f00:1",
		 NET_IPV6, 80},
		{"http://[2001:DB8:0:0:1:0:0:1]/", "http://[2001:db8::1:0:0:1]/",
		 "2001:db8::1:0:0:1", NET_IPV6, 80},
		{"http://[FD00:EC2::254]/latest", "http://[fd00:ec2::254]/latest", "fd00:ec2::254",
		 NET_IPV6, 80},
		{"http://[2606:4700::1]:65535", "http://[2606:4700::1]:65535/", "2606:4700::1",
		 NET_IPV6, 65535},
	};
	static const struct url_bad bad[] = {
		{"http://[fe80::1%25eth0]/", "bad IPv6"},
		{"http://[fe80::1%eth0]/", "bad IPv6"},
		{"http://[::1%251]/", "bad IPv6"},
		{"http://[::1%]/", "bad IPv6"},
		{"http://[::1::2]/", "bad IPv6"},
		{"http://[:::1]/", "bad IPv6"},
		{"http://[]/", "bad IPv6"},
		{"http://[127.0.0.1]/", "bad IPv6"},
		{"http://[v1.fe80::1]/", "bad IPv6"},
		{"http://[0:0:0:0:0:0:0:0:1]/", "bad IPv6"},
		{"http://[12345::1]/", "bad IPv6"},
		{"http://[::ffff:127.1]/", "bad IPv6"},
		{"http://[::ffff:0x7f.0.0.1]/", "bad IPv6"},
		{"http://[::1/", "unclosed"},
		{"http://[::1", "unclosed"},
		{"http://[::1]x/", "junk after"},
		{"http://[::1]]/", "junk after"},
		{"http://[::1][::2]/", "junk after"},
		{"http://[::1].example/", "junk after"},
		{"http://::1/", "no host"},
		{"http://x[::1]/", "'['"},
	};

	url_ok_rows(ROWS(ok));
	url_bad_rows(ROWS(bad));
}
END_TEST

START_TEST(url_refuses_bad_ports)
{
	static const struct url_bad rows[] = {
		{"http://example.com:0/", "bad port"},
		{"http://example.com:00/", "bad port"},
		{"http://example.com:65536/", "bad port"},
		{"http://example.com:99999/", "bad port"},
		{"http://example.com:4294967376/", "bad port"},
		{"http://example.com:18446744073709551696/", "bad port"},
		{"http://example.com:/", "bad port"},
		{"http://example.com:", "bad port"},
		{"http://example.com:?x", "bad port"},
		{"http://example.com:+80/", "bad port"},
		{"http://example.com:-1/", "bad port"},
		{"http://example.com: 080/", "space"},
		{"http://example.com:80a/", "bad port"},
		{"http://example.com:0x50/", "bad port"},
		{"http://example.com:8_0/", "bad port"},
		{"http://example.com:80:80/", "bad port"},
		{"http://example.com:1e2/", "bad port"},
		{"http://example.com:\xd9\xa8\xd9\xa0/", "bad port"},
		{"http://[::1]:/", "bad port"},
		{"http://[::1]:0/", "bad port"},
		{"http://[::1]:65536/", "bad port"},
		{"http://127.0.0.1:+80/", "bad port"},
	};

	url_bad_rows(ROWS(rows));
}
END_TEST

START_TEST(url_refuses_other_schemes)
{
	static const struct url_bad rows[] = {
		{"ftp://example.com/", "scheme ftp is not http or https"},
		{"FILE:///etc/passwd", "scheme file is not http or https"},
		{"gopher://127.0.0.1:25/", "scheme gopher"},
		{"ws://example.com/", "scheme ws"},
		{"dict://example.com:11211/", "scheme dict"},
		{"https+x://example.com/", "not http or https"},
		{"httpss://example.com/", NULL},
		{"javascript:alert(1)", "no scheme"},
		{"data:text/plain,x", "no scheme"},
		{"//example.com/", "no scheme"},
		{"example.com", "no scheme"},
		{"example.com:80", "no scheme"},
		{"http:/example.com/", "no scheme"},
		{"http:example.com", "no scheme"},
		{"http//example.com/", "no scheme"},
		{"http:///example.com/", "no host"},
		{"http://", "no host"},
		{"http://?x", "no host"},
		{"http://#x", "no host"},
		{"http://:80/", "no host"},
		{"", "no scheme"},
		{"1http://example.com/", "no scheme"},
		{"averyverylongscheme://example.com/", "no scheme"},
	};

	url_bad_rows(ROWS(rows));
}
END_TEST

START_TEST(url_length_cap)
{
	struct cact_error err = {0};
	struct net_url u;
	size_t cap = 64 * 1024, head = strlen("http://example.com/");
	char *s = malloc(cap + 2);

	memcpy(s, "http://example.com/", head);
	memset(s + head, 'a', cap - head);
	s[cap] = '\0';
	ck_assert_int_eq(net_url_parse(s, &u, &err), 0);
	ck_assert_uint_eq(strlen(u.rest), cap - head + 1);
	net_url_clear(&u);
	s[cap] = 'a';
	s[cap + 1] = '\0';
	ck_assert_int_eq(net_url_parse(s, &u, &err), CACT_EINVAL);
	ck_assert_str_eq(err.message, "URL is longer than 65536 bytes");
	/* A host over NET_HOST_MAX. */
	memset(s + 7, 'a', 300);
	memcpy(s + 307, ".com/", 6);
	ck_assert_int_eq(net_url_parse(s, &u, &err), CACT_EINVAL);
	ck_assert_str_eq(err.message, "URL host is too long");
	free(s);
}
END_TEST

START_TEST(url_authority_forms)
{
	struct net_url u;
	char out[300], small[5];

	parse_ok("https://API.Example.com:8443/v1", &u);
	net_url_authority(&u, 1, out, sizeof(out));
	ck_assert_str_eq(out, "api.example.com:8443");
	net_url_authority(&u, 0, out, sizeof(out));
	ck_assert_str_eq(out, "api.example.com");
	net_url_authority(&u, 0, small, sizeof(small));
	ck_assert_str_eq(small, "api.");
	net_url_clear(&u);
	parse_ok("http://[0:0::1]/", &u);
	net_url_authority(&u, 1, out, sizeof(out));
	ck_assert_str_eq(out, "[::1]:80");
	net_url_authority(&u, 0, out, sizeof(out));
	ck_assert_str_eq(out, "[::1]");
	net_url_clear(&u);
	parse_ok("https://10.0.0.1/", &u);
	net_url_authority(&u, 1, out, sizeof(out));
	ck_assert_str_eq(out, "10.0.0.1:443");
	net_url_clear(&u);
}
END_TEST

/* ---- redirects ---- */

struct resolve_row {
	const char *ref, *want;
};

static void resolve_rows(const char *base_text, const struct resolve_row *rows, size_t n)
{
	struct fails f = {0};
	struct net_url base;
	size_t i;

	parse_ok(base_text, &base);
	for (i = 0; i < n; i++) {
		struct cact_error err = {0};
		struct net_url out;
		char *got;

		if (net_url_resolve(&base, rows[i].ref, &out, &err)) {
			fail_add(&f, "resolve(\"%s\") refused: %s", show(rows[i].ref), err.message);
			continue;
		}
		got = canonical(&out);
		if (strcmp(got, rows[i].want) != 0)
			fail_add(&f, "resolve(\"%s\") = \"%s\", expected \"%s\"", show(rows[i].ref),
				 show(got), rows[i].want);
		free(got);
		net_url_clear(&out);
	}
	net_url_clear(&base);
	fails_check(&f);
}

/* RFC 3986 5.4.1, with the fragment dropped and the empty path written "/". */
START_TEST(url_resolve_rfc3986_normal)
{
	static const struct resolve_row rows[] = {
		{"g", "http://a/b/c/g"},
		{"./g", "http://a/b/c/g"},
		{"g/", "http://a/b/c/g/"},
		{"/g", "http://a/g"},
		{"//g", "http://g/"},
		{"?y", "http://a/b/c/d;p?y"},
		{"g?y", "http://a/b/c/g?y"},
		{"#s", "http://a/b/c/d;p?q"},
		{"g#s", "http://a/b/c/g"},
		{"g?y#s", "http://a/b/c/g?y"},
		{";x", "http://a/b/c/;x"},
		{"g;x", "http://a/b/c/g;x"},
		{"g;x?y#s", "http://a/b/c/g;x?y"},
		{"", "http://a/b/c/d;p?q"},
		{".", "http://a/b/c/"},
		{"./", "http://a/b/c/"},
		{"..", "http://a/b/"},
		{"../", "http://a/b/"},
		{"../g", "http://a/b/g"},
		{"../..", "http://a/"},
		{"../../", "http://a/"},
		{"../../g", "http://a/g"},
	};

	resolve_rows("http://a/b/c/d;p?q", ROWS(rows));
}
END_TEST

/* RFC 3986 5.4.2 for relative paths (merged with the base's folder). */
START_TEST(url_resolve_rfc3986_abnormal)
{
	static const struct resolve_row rows[] = {
		{"../../../g", "http://a/g"},
		{"../../../../g", "http://a/g"},
		{"g.", "http://a/b/c/g."},
		{".g", "http://a/b/c/.g"},
		{"g..", "http://a/b/c/g.."},
		{"..g", "http://a/b/c/..g"},
		{"./../g", "http://a/b/g"},
		{"./g/.", "http://a/b/c/g/"},
		{"g/./h", "http://a/b/c/g/h"},
		{"g/../h", "http://a/b/c/h"},
		{"g;x=1/./y", "http://a/b/c/g;x=1/y"},
		{"g;x=1/../y", "http://a/b/c/y"},
		{"g?y/./x", "http://a/b/c/g?y/./x"},
		{"g?y/../x", "http://a/b/c/g?y/../x"},
		{"g#s/./x", "http://a/b/c/g"},
		{"g#s/../x", "http://a/b/c/g"},
	};

	resolve_rows("http://a/b/c/d;p?q", ROWS(rows));
}
END_TEST

/*
 * RFC 3986 5.2.2: an absolute path, a network-path or an absolute reference
 * has its dot segments removed as well (5.4.2 lists "/./g" and "/../g").
 */
START_TEST(url_resolve_absolute_path_dots)
{
	static const struct resolve_row rows[] = {
		{"/./g", "http://a/g"},
		{"/../g", "http://a/g"},
		{"/b/../../g", "http://a/g"},
		{"//g/./x/../y", "http://g/y"},
		{"http://a/b/c/../g", "http://a/b/g"},
	};

	resolve_rows("http://a/b/c/d;p?q", ROWS(rows));
}
END_TEST

START_TEST(url_resolve_other_bases)
{
	static const struct resolve_row v6[] = {
		{"c", "http://[::1]:8080/a/c"},
		{"/x?y", "http://[::1]:8080/x?y"},
		{"?q", "http://[::1]:8080/a/b?q"},
		{"//[0::2]/", "http://[::2]/"},
		{"//Example.COM:80", "http://example.com/"},
		{"HTTPS://Example.com:443/z", "https://example.com/z"},
	};
	static const struct resolve_row https[] = {
		{"//g", "https://g/"},		{"//g:443/x", "https://g/x"},
		{"//g:80/x", "https://g:80/x"}, {"x\xc3\xa9", "https://h/d/x%C3%A9"},
		{"http://h/", "http://h/"},	{"../../..", "https://h/"},
	};
	static const struct resolve_row root[] = {
		{"g", "http://a/g"},
		{"..", "http://a/"},
		{"?x", "http://a/?x"},
	};

	resolve_rows("http://[::1]:8080/a/b?old", ROWS(v6));
	resolve_rows("https://h/d/e", ROWS(https));
	resolve_rows("http://a", ROWS(root));
}
END_TEST

START_TEST(url_resolve_refusals)
{
	static const struct url_bad rows[] = {
		{"g:h", "URL g:h has no scheme"},
		{"http:g", "no scheme"},
		{"ftp://example.com/", "scheme ftp"},
		{"javascript:alert(1)", "no scheme"},
		{"//user@evil.com/", "user info"},
		{"//evil.com\\@a/", "backslash"},
		{"\\\\evil.com/", "backslash"},
		{"/\\evil.com/", "backslash"},
		{"///evil.com/", "no host"},
		{"//127.1/", "ambiguous IPv4"},
		{"//0x7f.0.0.1/", "ambiguous IPv4"},
		{"//2130706433/", "ambiguous IPv4"},
		{"//[fe80::1%25eth0]/", "bad IPv6"},
		{"//g:0/", "bad port"},
		{"g\r\nSet-Cookie: x", "control character"},
		{"/a b", "space"},
		{"https://u:p@example.com/", "user info"},
		{NULL, "redirect without a location"},
	};
	struct fails f = {0};
	struct net_url base;
	size_t i;

	parse_ok("http://a/b/c/d;p?q", &base);
	for (i = 0; i < UT_ARRAY_SIZE(rows); i++) {
		struct cact_error err = {0};
		struct net_url out;
		int rc = net_url_resolve(&base, rows[i].in, &out, &err);

		if (rc == 0) {
			char *got = net_url_format(&out);

			fail_add(&f, "resolve(\"%s\") accepted as \"%s\"", show(rows[i].in),
				 show(got));
			free(got);
			net_url_clear(&out);
		} else if (rc != CACT_EINVAL || !strstr(err.message, rows[i].needle) ||
			   strchr(err.message, '\n')) {
			fail_add(&f,
				 "resolve(\"%s\") = %d \"%s\", expected CACT_EINVAL with \"%s\"",
				 show(rows[i].in), rc, show(err.message), rows[i].needle);
		}
	}
	net_url_clear(&base);
	fails_check(&f);
}
END_TEST

/* A Location with a long query resolves to all of it, or fails: never to a cut one. */
START_TEST(url_resolve_keeps_long_query)
{
	struct cact_error err = {0};
	struct net_url base, out;
	size_t qlen = 6000;
	char *ref = malloc(qlen + 8), *want = malloc(qlen + 32), *got;
	int rc;

	memcpy(ref, "g?", 2);
	memset(ref + 2, 'q', qlen);
	ref[2 + qlen] = '\0';
	snprintf(want, qlen + 32, "http://a/b/c/%s", ref);
	parse_ok("http://a/b/c/d;p?q", &base);
	rc = net_url_resolve(&base, ref, &out, &err);
	ck_assert_msg(rc == 0, "resolve: %d %s", rc, err.message);
	got = net_url_format(&out);
	ck_assert_msg(strcmp(got, want) == 0, "resolved to %zu bytes, expected %zu", strlen(got),
		      strlen(want));
	free(got);
	net_url_clear(&out);
	/* A long query directly after the path ("?..." branch) too. */
	ref[0] = '?';
	memmove(ref + 1, ref + 2, qlen + 1);
	rc = net_url_resolve(&base, ref, &out, &err);
	ck_assert_msg(rc == 0, "resolve: %d %s", rc, err.message);
	ck_assert_uint_eq(strlen(out.rest), strlen("/b/c/d;p") + 1 + qlen);
	net_url_clear(&out);
	net_url_clear(&base);
	free(ref);
	free(want);
}
END_TEST

/* ---- the allow-list ---- */

static struct net_url url_of(const char *text)
{
	struct net_url u;

	parse_ok(text, &u);
	return u;
}

/* net_match of url and method against domains: want is the index of the entry, or -1. */
static void match_row(struct fails *f, const struct rt_domain *d, size_t n, const char *url,
		      const char *method, int want)
{
	struct net_url u = url_of(url);
	char why[512];
	const struct rt_domain *hit;

	memset(why, 0, sizeof(why));
	hit = net_match(d, n, &u, method, why, sizeof(why));
	if (want < 0 && hit)
		fail_add(f, "%s %s matched %s, expected a refusal", method, url, hit->target);
	else if (want >= 0 && hit != &d[want])
		fail_add(f, "%s %s matched %s, expected %s (%s)", method, url,
			 hit ? hit->target : "nothing", d[want].target, why);
	else if (!hit && !why[0])
		fail_add(f, "%s %s refused without a reason", method, url);
	net_url_clear(&u);
}

START_TEST(match_exact_host_only)
{
	const struct rt_domain d[] = {{"example.com", NULL}};
	struct fails f = {0};

	match_row(&f, d, 1, "http://example.com/", "GET", 0);
	match_row(&f, d, 1, "https://example.com/x?y", "POST", 0);
	match_row(&f, d, 1, "http://EXAMPLE.com./", "DELETE", 0);
	match_row(&f, d, 1, "http://www.example.com/", "GET", -1);
	match_row(&f, d, 1, "http://a.b.example.com/", "GET", -1);
	match_row(&f, d, 1, "http://example.com.evil.net/", "GET", -1);
	match_row(&f, d, 1, "http://evilexample.com/", "GET", -1);
	match_row(&f, d, 1, "http://xample.com/", "GET", -1);
	match_row(&f, d, 1, "http://example.co/", "GET", -1);
	match_row(&f, d, 1, "http://example.com-evil.net/", "GET", -1);
	match_row(&f, d, 1, "http://evil.net/example.com", "GET", -1);
	match_row(&f, d, 0, "http://example.com/", "GET", -1);
	fails_check(&f);
}
END_TEST

START_TEST(match_wildcard_strict_subdomains)
{
	const struct rt_domain d[] = {{"*.example.com", NULL}};
	struct fails f = {0};

	match_row(&f, d, 1, "http://a.example.com/", "GET", 0);
	match_row(&f, d, 1, "https://a.b.example.com/", "GET", 0);
	match_row(&f, d, 1, "http://A.EXAMPLE.COM./", "GET", 0);
	match_row(&f, d, 1, "http://example.com/", "GET", -1);
	match_row(&f, d, 1, "http://badexample.com/", "GET", -1);
	match_row(&f, d, 1, "http://xexample.com/", "GET", -1);
	match_row(&f, d, 1, "http://a.example.com.evil.net/", "GET", -1);
	match_row(&f, d, 1, "http://a.example.co/", "GET", -1);
	match_row(&f, d, 1, "http://a.example.com:8080/", "GET", -1);
	fails_check(&f);
}
END_TEST

/* A wildcard names subdomains: an IP literal host is no subdomain of anything. */
START_TEST(match_wildcard_never_matches_ip_literals)
{
	const struct rt_domain d[] = {{"*.0.0.1", NULL}, {"*.1", NULL}, {"*.254.169.254", NULL}};
	struct fails f = {0};

	match_row(&f, d, 3, "http://127.0.0.1/", "GET", -1);
	match_row(&f, d, 3, "http://10.0.0.1/", "GET", -1);
	match_row(&f, d, 3, "http://169.254.169.254/", "GET", -1);
	match_row(&f, d, 3, "http://[::ffff:127.0.0.1]/", "GET", -1);
	match_row(&f, d, 3, "http://[::169.254.169.254]/", "GET", -1);
	fails_check(&f);
}
END_TEST

START_TEST(match_ports)
{
	const struct rt_domain plain[] = {{"example.com", NULL}};
	const struct rt_domain p8080[] = {{"example.com:8080", NULL}};
	const struct rt_domain p443[] = {{"example.com:443", NULL}};
	const struct rt_domain p80[] = {{"example.com:80", NULL}};
	struct fails f = {0};

	/* No port in the target: the scheme's default port only. */
	match_row(&f, plain, 1, "http://example.com:80/", "GET", 0);
	match_row(&f, plain, 1, "https://example.com:443/", "GET", 0);
	match_row(&f, plain, 1, "http://example.com:8080/", "GET", -1);
	match_row(&f, plain, 1, "https://example.com:80/", "GET", -1);
	match_row(&f, plain, 1, "http://example.com:443/", "GET", -1);
	match_row(&f, plain, 1, "http://example.com:22/", "GET", -1);
	match_row(&f, p8080, 1, "http://example.com:8080/", "GET", 0);
	match_row(&f, p8080, 1, "https://example.com:8080/", "GET", 0);
	match_row(&f, p8080, 1, "http://example.com/", "GET", -1);
	match_row(&f, p8080, 1, "http://example.com:8081/", "GET", -1);
	match_row(&f, p443, 1, "https://example.com/", "GET", 0);
	match_row(&f, p443, 1, "http://example.com:443/", "GET", 0);
	match_row(&f, p443, 1, "http://example.com/", "GET", -1);
	match_row(&f, p80, 1, "https://example.com:80/", "GET", 0);
	match_row(&f, p80, 1, "https://example.com/", "GET", -1);
	fails_check(&f);
}
END_TEST

START_TEST(match_methods)
{
	const struct rt_domain d[] = {{"*.example.com", NULL},
				      {"api.example.com", "GET,HEAD"},
				      {"ro.example.net", "GET,HEAD"}};
	struct fails f = {0};
	struct net_url u = url_of("http://ro.example.net/");
	char why[256];

	match_row(&f, d + 1, 1, "http://api.example.com/", "GET", 0);
	match_row(&f, d + 1, 1, "http://api.example.com/", "HEAD", 0);
	match_row(&f, d + 1, 1, "http://api.example.com/", "POST", -1);
	match_row(&f, d + 1, 1, "http://api.example.com/", "GE", -1);
	match_row(&f, d + 1, 1, "http://api.example.com/", "HEADX", -1);
	match_row(&f, d + 1, 1, "http://api.example.com/", "ET", -1);
	match_row(&f, d + 1, 1, "http://api.example.com/", "", -1);
	/* Another entry for the same host that allows every method wins. */
	match_row(&f, d, 2, "http://api.example.com/", "POST", 0);
	match_row(&f, d, 2, "http://api.example.com/", "GET", 0);
	match_row(&f, d, 3, "http://ro.example.net/", "DELETE", -1);
	fails_check(&f);
	ck_assert_ptr_null(net_match(d, 3, &u, "PUT", why, sizeof(why)));
	ck_assert_str_eq(why, "PUT to ro.example.net is not allowed (allowed methods: GET,HEAD)");
	net_url_clear(&u);
}
END_TEST

START_TEST(match_connect_trace_never)
{
	const struct rt_domain d[] = {{"example.com", NULL},
				      {"other.example", "CONNECT,GET,TRACE"}};
	struct net_url u = url_of("http://example.com/"), o = url_of("http://other.example/");
	char why[256];

	ck_assert_ptr_null(net_match(d, 2, &u, "CONNECT", why, sizeof(why)));
	ck_assert_str_eq(why, "CONNECT requests are never allowed");
	ck_assert_ptr_null(net_match(d, 2, &u, "TRACE", why, sizeof(why)));
	ck_assert_str_eq(why, "TRACE requests are never allowed");
	ck_assert_ptr_null(net_match(d, 2, &o, "CONNECT", why, sizeof(why)));
	ck_assert_ptr_null(net_match(d, 2, &o, "TRACE", why, sizeof(why)));
	ck_assert_ptr_eq(net_match(d, 2, &o, "GET", why, sizeof(why)), &d[1]);
	ck_assert_ptr_eq(net_match(d, 2, &u, "OPTIONS", why, sizeof(why)), &d[0]);
	net_url_clear(&u);
	net_url_clear(&o);
}
END_TEST

START_TEST(match_refusal_names_target_and_list)
{
	const struct rt_domain d[] = {
		{"a.example", NULL}, {"b.example:8443", "GET"}, {"[::1]:8080", NULL}};
	struct net_url u = url_of("http://c.example:81/x"), v = url_of("https://[0::2]/"),
		       w = url_of("https://c.example/");
	char why[512], small[24];

	ck_assert_ptr_null(net_match(d, 3, &u, "GET", why, sizeof(why)));
	ck_assert_str_eq(why, "c.example:81 is not an allowed target (allowed: a.example, "
			      "b.example:8443, [::1]:8080)");
	ck_assert_ptr_null(net_match(d, 3, &v, "GET", why, sizeof(why)));
	ck_assert_str_eq(why, "[::2] is not an allowed target (allowed: a.example, "
			      "b.example:8443, [::1]:8080)");
	ck_assert_ptr_null(net_match(d, 0, &w, "GET", why, sizeof(why)));
	ck_assert_str_eq(why, "c.example is not an allowed target (allowed: none)");
	/* A small buffer is cut, not overrun. */
	memset(small, 'X', sizeof(small));
	ck_assert_ptr_null(net_match(d, 3, &u, "GET", small, 16));
	ck_assert_uint_eq(strlen(small), 15);
	ck_assert(strncmp(small, "c.example:81 is", 15) == 0);
	ck_assert_int_eq(small[16], 'X');
	net_url_clear(&u);
	net_url_clear(&v);
	net_url_clear(&w);
}
END_TEST

START_TEST(match_ip_literal_targets)
{
	const struct rt_domain d[] = {{"[::1]:8080", NULL}, {"[::ffff:7f00:1]", NULL},
				      {"127.0.0.1", NULL},  {"[zz]", NULL},
				      {"[::1", NULL},	    {"bad:port", NULL}};
	struct fails f = {0};

	match_row(&f, d, 6, "http://[0:0::1]:8080/", "GET", 0);
	match_row(&f, d, 6, "http://[::1]/", "GET", -1);
	match_row(&f, d, 6, "http://[::ffff:127.0.0.1]/", "GET", 1);
	match_row(&f, d, 6, "http://127.0.0.1/", "GET", 2);
	match_row(&f, d, 6, "http://127.0.0.1:8080/", "GET", -1);
	match_row(&f, d, 6, "http://127.0.0.2/", "GET", -1);
	match_row(&f, d, 6, "http://bad/", "GET", -1);
	fails_check(&f);
}
END_TEST

/* ---- address rules ---- */

static struct sockaddr_storage sa_of(const char *text)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, text, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, text, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	else
		ck_abort_msg("bad address in the test: %s", text);
	return ss;
}

struct addr_row {
	const char *addr;
	int want;
};

static void public_rows(const struct addr_row *rows, size_t n)
{
	struct fails f = {0};
	size_t i;

	for (i = 0; i < n; i++) {
		struct sockaddr_storage ss = sa_of(rows[i].addr);
		int got = net_addr_public((const struct sockaddr *)&ss);

		if (got != rows[i].want)
			fail_add(&f, "net_addr_public(%s) = %d, expected %d", rows[i].addr, got,
				 rows[i].want);
	}
	fails_check(&f);
}

START_TEST(addr_public_v4)
{
	static const struct addr_row rows[] = {
		/* 0/8 */
		{"0.0.0.0", 0},
		{"0.0.0.1", 0},
		{"0.255.255.255", 0},
		{"1.0.0.0", 1},
		/* 10/8 */
		{"9.255.255.255", 1},
		{"10.0.0.0", 0},
		{"10.1.2.3", 0},
		{"10.255.255.255", 0},
		{"11.0.0.0", 1},
		/* 100.64/10 */
		{"100.63.255.255", 1},
		{"100.64.0.0", 0},
		{"100.100.100.200", 0},
		{"100.127.255.255", 0},
		{"100.128.0.0", 1},
		/* 127/8 */
		{"126.255.255.255", 1},
		{"127.0.0.0", 0},
		{"127.0.0.1", 0},
		{"127.1.2.3", 0},
		{"127.255.255.255", 0},
		{"128.0.0.0", 1},
		/* 169.254/16, with the metadata address */
		{"169.253.255.255", 1},
		{"169.254.0.0", 0},
		{"169.254.169.254", 0},
		{"169.254.255.255", 0},
		{"169.255.0.0", 1},
		/* 172.16/12 */
		{"172.15.255.255", 1},
		{"172.16.0.0", 0},
		{"172.20.1.1", 0},
		{"172.31.255.255", 0},
		{"172.32.0.0", 1},
		/* 192.0.0/24 and 192.0.2/24 */
		{"191.255.255.255", 1},
		{"192.0.0.0", 0},
		{"192.0.0.192", 0},
		{"192.0.0.255", 0},
		{"192.0.1.0", 1},
		{"192.0.1.255", 1},
		{"192.0.2.0", 0},
		{"192.0.2.255", 0},
		{"192.0.3.0", 1},
		/* 192.168/16 */
		{"192.167.255.255", 1},
		{"192.168.0.0", 0},
		{"192.168.1.1", 0},
		{"192.168.255.255", 0},
		{"192.169.0.0", 1},
		/* 198.18/15 */
		{"198.17.255.255", 1},
		{"198.18.0.0", 0},
		{"198.19.255.255", 0},
		{"198.20.0.0", 1},
		/* 198.51.100/24 */
		{"198.51.99.255", 1},
		{"198.51.100.0", 0},
		{"198.51.100.255", 0},
		{"198.51.101.0", 1},
		/* 203.0.113/24 */
		{"203.0.112.255", 1},
		{"203.0.113.0", 0},
		{"203.0.113.255", 0},
		{"203.0.114.0", 1},
		/* 224/4 and 240/4 */
		{"223.255.255.255", 1},
		{"224.0.0.0", 0},
		{"224.0.0.251", 0},
		{"239.255.255.255", 0},
		{"240.0.0.0", 0},
		{"250.1.2.3", 0},
		{"255.255.255.254", 0},
		{"255.255.255.255", 0},
		/* Public. */
		{"8.8.8.8", 1},
		{"1.1.1.1", 1},
		{"93.184.216.34", 1},
		{"151.101.1.69", 1},
		{"172.217.0.1", 1},
		{"100.0.0.1", 1},
		{"192.169.1.1", 1},
		{"223.5.5.5", 1},
	};

	public_rows(ROWS(rows));
}
END_TEST

START_TEST(addr_public_v6)
{
	static const struct addr_row rows[] = {
		/* Unspecified, loopback, IPv4-compatible. */
		{"::", 0},
		{"::1", 0},
		{"::2", 0},
		{"::127.0.0.1", 0},
		{"::10.0.0.1", 0},
		{"::169.254.169.254", 0},
		{"::8.8.8.8", 1},
		/* IPv4-mapped: judged as the IPv4 address. */
		{"::ffff:0.0.0.0", 0},
		{"::ffff:127.0.0.1", 0},
		{"::ffff:7f00:1", 0},
		{"::ffff:10.0.0.1", 0},
		{"::ffff:169.254.169.254", 0},
		{"::ffff:192.168.0.1", 0},
		{"::ffff:100.64.0.1", 0},
		{"::ffff:224.0.0.1", 0},
		{"::ffff:8.8.8.8", 1},
		{"::ffff:1.1.1.1", 1},
		/* NAT64 (64:ff9b::/96). */
		{"64:ff9b::7f00:1", 0},
		{"64:ff9b::127.0.0.1", 0},
		{"64:ff9b::a00:1", 0},
		{"64:ff9b::a9fe:a9fe", 0},
		{"64:ff9b::c0a8:1", 0},
		{"64:ff9b::808:808", 1},
		/* 6to4 (2002::/16) embeds an IPv4 address. */
		{"2002:7f00:1::", 0},
		{"2002:a00:1::1", 0},
		{"2002:a9fe:a9fe::1", 0},
		{"2002:c0a8:101::1", 0},
		{"2002:808:808::1", 1},
		{"2001:ffff:ffff:ffff::1", 1},
		{"2003::1", 1},
		/* Documentation 2001:db8::/32. */
		{"2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", 1},
		{"2001:db8::", 0},
		{"2001:db8::1", 0},
		{"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 0},
		{"2001:db9::", 1},
		/* Discard-only 100::/64. */
		{"100::", 0},
		{"100::ffff:ffff:ffff:ffff", 0},
		/* Unique-local fc00::/7, with the EC2 metadata address. */
		{"fc00::", 0},
		{"fc00::1", 0},
		{"fd00::1", 0},
		{"fd00:ec2::254", 0},
		{"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0},
		/* Link-local fe80::/10, site-local fec0::/10, multicast ff00::/8. */
		{"fe80::", 0},
		{"fe80::1", 0},
		{"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0},
		{"fec0::1", 0},
		{"feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0},
		{"ff00::", 0},
		{"ff02::1", 0},
		{"ff05::1:3", 0},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0},
		/* Public. */
		{"2606:4700::1", 1},
		{"2606:4700:4700::1111", 1},
		{"2001:4860:4860::8888", 1},
		{"2a00:1450:4001:81d::200e", 1},
		{"2400:cb00:2048:1::c629:d7a2", 1},
	};

	public_rows(ROWS(rows));
}
END_TEST

/*
 * net.h: "a global unicast address". Outside 2000::/3 nothing is global
 * unicast; inside it, the local-use NAT64 prefix 64:ff9b:1::/48 (RFC 8215)
 * lies outside too, and 3fff::/20 is documentation (RFC 9637).
 */
START_TEST(addr_public_v6_only_global_unicast)
{
	static const struct addr_row rows[] = {
		{"64:ff9b:1::a00:1", 0}, {"64:ff9b:1:7f00:0:100::", 0},
		{"3fff::1", 0},		 {"3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", 0},
		{"4000::1", 0},		 {"8000::1", 0},
		{"e000::1", 0},		 {"1::1", 0},
		{"fe00::1", 0},		 {"fbff:ffff::1", 0},
		{"::fffe:7f00:1", 0},	 {"100:0:0:1::1", 0},
		{"5f00::1", 0},		 {"1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0},
		{"2000::1", 1},
	};

	public_rows(ROWS(rows));
}
END_TEST

START_TEST(addr_public_other_families)
{
	struct sockaddr_un sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	ck_assert_int_eq(net_addr_public((const struct sockaddr *)&sun), 0);
	ck_assert_int_eq(net_addr_loopback((const struct sockaddr *)&sun), 0);
}
END_TEST

START_TEST(addr_loopback)
{
	static const struct addr_row rows[] = {
		{"127.0.0.1", 1},
		{"127.0.0.0", 1},
		{"127.255.255.255", 1},
		{"126.255.255.255", 0},
		{"128.0.0.0", 0},
		{"::1", 1},
		{"::2", 0},
		{"::", 0},
		{"10.0.0.1", 0},
		{"::ffff:8.8.8.8", 0},
	};
	struct fails f = {0};
	size_t i;

	for (i = 0; i < UT_ARRAY_SIZE(rows); i++) {
		struct sockaddr_storage ss = sa_of(rows[i].addr);
		int got = net_addr_loopback((const struct sockaddr *)&ss);

		if (got != rows[i].want)
			fail_add(&f, "net_addr_loopback(%s) = %d, expected %d", rows[i].addr, got,
				 rows[i].want);
	}
	fails_check(&f);
}
END_TEST

START_TEST(addr_listed)
{
	const struct rt_domain d[] = {{"127.0.0.1", NULL},     {"10.0.0.5:8080", NULL},
				      {"[fd00:0:0::1]", NULL}, {"[::1]:9000", "GET"},
				      {"example.com", NULL},   {"*.example.org", NULL},
				      {"[zz]", NULL},	       {"10.9.9.9:0", NULL}};
	static const struct {
		const char *addr, *url;
		int want;
	} rows[] = {
		{"127.0.0.1", "http://x.example/", 1},
		{"127.0.0.1", "https://x.example/", 1},
		{"127.0.0.1", "http://x.example:8080/", 0},
		{"127.0.0.2", "http://x.example/", 0},
		{"10.0.0.5", "http://x.example:8080/", 1},
		{"10.0.0.5", "https://x.example:8080/", 1},
		{"10.0.0.5", "http://x.example/", 0},
		{"fd00::1", "http://x.example/", 1},
		{"fd00::2", "http://x.example/", 0},
		{"::1", "http://x.example:9000/", 1},
		{"::1", "http://x.example/", 0},
		{"::ffff:127.0.0.1", "http://x.example/", 0},
		{"::ffff:10.0.0.5", "http://x.example:8080/", 0},
		{"10.9.9.9", "http://x.example/", 0},
		{"93.184.216.34", "http://example.com/", 0},
	};
	struct fails f = {0};
	size_t i;

	for (i = 0; i < UT_ARRAY_SIZE(rows); i++) {
		struct sockaddr_storage ss = sa_of(rows[i].addr);
		struct net_url u = url_of(rows[i].url);
		int got = net_addr_listed(d, UT_ARRAY_SIZE(d), (const struct sockaddr *)&ss, &u);

		if (got != rows[i].want)
			fail_add(&f, "net_addr_listed(%s, %s) = %d, expected %d", rows[i].addr,
				 rows[i].url, got, rows[i].want);
		net_url_clear(&u);
	}
	fails_check(&f);
	{
		struct sockaddr_storage ss = sa_of("127.0.0.1");
		struct net_url u = url_of("http://x.example/");

		ck_assert_int_eq(net_addr_listed(d, 0, (const struct sockaddr *)&ss, &u), 0);
		net_url_clear(&u);
	}
}
END_TEST

/* ---- strict base64 ---- */

static void b64_ok(const char *text, const void *want, size_t wlen)
{
	unsigned char *out = (unsigned char *)"x";
	size_t n = 99;
	int rc = ut_base64_decode(text, strlen(text), &out, &n);

	ck_assert_msg(rc == 0, "decode(\"%s\") = %d", text, rc);
	ck_assert_ptr_nonnull(out);
	ck_assert_msg(n == wlen, "decode(\"%s\"): %zu bytes, expected %zu", text, n, wlen);
	ck_assert_msg(memcmp(out, want, wlen) == 0, "decode(\"%s\"): wrong bytes", text);
	free(out);
}

START_TEST(base64_decode_rfc4648_vectors)
{
	static const unsigned char ffs[] = {0xff, 0xff, 0xff}, fb[] = {0xfb, 0xff}, zero[] = {0};
	static const unsigned char mixed[] = {0x00, 0x10, 0x83, 0x10, 0x51, 0x87, 0x20, 0x92, 0x8b};

	b64_ok("", "", 0);
	b64_ok("Zg==", "f", 1);
	b64_ok("Zm8=", "fo", 2);
	b64_ok("Zm9v", "foo", 3);
	b64_ok("Zm9vYg==", "foob", 4);
	b64_ok("Zm9vYmE=", "fooba", 5);
	b64_ok("Zm9vYmFy", "foobar", 6);
	b64_ok("////", ffs, 3);
	b64_ok("+/8=", fb, 2);
	b64_ok("AA==", zero, 1);
	b64_ok("ABCDEFGHIJKL", mixed, sizeof(mixed));
}
END_TEST

START_TEST(base64_decode_round_trip)
{
	unsigned char all[256], *out = NULL;
	size_t len, n = 0;
	char *text;

	for (len = 0; len < sizeof(all); len++)
		all[len] = (unsigned char)(255 - len);
	for (len = 0; len <= sizeof(all); len += (len < 8 ? 1 : 37)) {
		size_t tlen = 0;

		text = ut_base64(all, len, &tlen);
		ck_assert_ptr_nonnull(text);
		ck_assert_int_eq(ut_base64_decode(text, tlen, &out, &n), 0);
		ck_assert_uint_eq(n, len);
		ck_assert(memcmp(out, all, len) == 0);
		free(out);
		free(text);
	}
	/* Only len bytes are read: what follows does not matter. */
	ck_assert_int_eq(ut_base64_decode("Zm9v!!!!", 4, &out, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert(memcmp(out, "foo", 3) == 0);
	free(out);
}
END_TEST

START_TEST(base64_decode_refusals)
{
	static const struct {
		const char *text;
		size_t len;
	} rows[] = {
		/* Lengths that are not a multiple of 4. */
		{"Z", 1},
		{"Zg", 2},
		{"Zg=", 3},
		{"Zm9vY", 5},
		{"Zg===", 5},
		{"Zm9vYmF", 7},
		/* Padding in the wrong place or too much of it. */
		{"Z===", 4},
		{"====", 4},
		{"=Zg=", 4},
		{"Zm=v", 4},
		{"Zg=a", 4},
		{"Zg==Zg==", 8},
		{"Zm8=Zm9v", 8},
		{"Zm9v====", 8},
		/* Non-zero bits under the padding. */
		{"Zh==", 4},
		{"Zm9=", 4},
		{"Zv==", 4},
		{"Zm9vYh==", 8},
		{"Zm9vYmF=", 8},
		{"AB==", 4},
		{"AAB=", 4},
		/* Characters outside the alphabet (URL-safe ones included). */
		{"Zm9-", 4},
		{"Zm9_", 4},
		{"Zm9v\nYmFy", 9},
		{"Zm9v YmF", 8},
		{"Zm 9", 4},
		{"Zm9\t", 4},
		{"Zm\0v", 4},
		{"Zm9\x80", 4},
		{"Zm9.", 4},
		{"Zm9*", 4},
	};
	struct fails f = {0};
	size_t i;

	for (i = 0; i < UT_ARRAY_SIZE(rows); i++) {
		unsigned char *out = (unsigned char *)"x";
		size_t n = 99;
		int rc = ut_base64_decode(rows[i].text, rows[i].len, &out, &n);

		if (rc != -1 || out != NULL || n != 0)
			fail_add(&f, "decode(\"%s\", %zu) = %d (out %p, %zu bytes), expected -1",
				 show(rows[i].text), rows[i].len, rc, (void *)out, n);
		if (rc == 0)
			free(out);
	}
	fails_check(&f);
}
END_TEST

/* ---- request network settings ---- */

static struct cact_request *new_req(void)
{
	struct cact_request *req = NULL;

	ck_assert_int_eq(cact_request_new(&req), 0);
	return req;
}

/* rc is code and the message is one line containing needle. */
static void err_is(int rc, const struct cact_error *err, int code, const char *needle)
{
	ck_assert_msg(rc == code, "rc %d, expected %d (%s)", rc, code, err->message);
	ck_assert_int_eq(err->code, code);
	ck_assert_msg(strstr(err->message, needle), "message \"%s\" lacks \"%s\"", err->message,
		      needle);
	ck_assert_msg(!strchr(err->message, '\n'), "message has a newline: %s", err->message);
}

START_TEST(request_ca_file)
{
	struct cact_error err = {0};
	struct cact_request *req = new_req();
	char *dir = t_tmpdir(), path[PATH_MAX], real[PATH_MAX], cwd[PATH_MAX], want[PATH_MAX + 64];
	int rc;

	ck_assert_ptr_null(cact_request_ca_file(req));
	t_write(dir, "ca.pem", "-----BEGIN CERTIFICATE-----\n");
	snprintf(path, sizeof(path), "%s/./ca.pem", dir);
	ck_assert_int_eq(cact_request_set_ca_file(req, path, &err), 0);
	ck_assert_ptr_nonnull(realpath(path, real));
	ck_assert_str_eq(cact_request_ca_file(req), real);
	/* Relative to the working folder. */
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(dir), 0);
	ck_assert_int_eq(cact_request_set_ca_file(req, "ca.pem", &err), 0);
	ck_assert_int_eq(chdir(cwd), 0);
	ck_assert_str_eq(cact_request_ca_file(req), real);
	/* Missing: the path and why; the old value stays. */
	snprintf(path, sizeof(path), "%s/missing.pem", dir);
	rc = cact_request_set_ca_file(req, path, &err);
	snprintf(want, sizeof(want), "CA file %s: ", path);
	err_is(rc, &err, CACT_ENOENT, want);
	ck_assert_str_eq(cact_request_ca_file(req), real);
	/* A folder is no file. */
	rc = cact_request_set_ca_file(req, dir, &err);
	snprintf(want, sizeof(want), "CA file %s is not a readable file", dir);
	err_is(rc, &err, CACT_EINVAL, want);
	ck_assert_str_eq(cact_request_ca_file(req), real);
	/* NULL restores the system's. */
	ck_assert_int_eq(cact_request_set_ca_file(req, NULL, &err), 0);
	ck_assert_ptr_null(cact_request_ca_file(req));
	ck_assert_int_eq(cact_request_set_ca_file(req, "", NULL), CACT_ENOENT);
	cact_request_free(req);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(request_proxy)
{
	static const struct {
		const char *in, *needle;
	} bad[] = {
		{"socks5://p.example:1080", "proxy: URL scheme socks5 is not"},
		/* The message never repeats the proxy's URL, which may hold a password. */
		{"http://user:pw@p.example:3128", "proxy: URL has user info"},
		{"p.example:3128", "proxy: URL p.example:3128 has no scheme"},
		{"http://127.1:3128", "proxy: URL host 127.1 is an ambiguous IPv4"},
		{"http://p.example:0", "proxy: URL has a bad port"},
		{"", "proxy: URL  has no scheme"},
	};
	struct cact_error err = {0};
	struct cact_request *req = new_req();
	size_t i;

	ck_assert_ptr_null(cact_request_proxy(req));
	ck_assert_int_eq(cact_request_set_proxy(req, "http://proxy.example:3128", &err), 0);
	ck_assert_str_eq(cact_request_proxy(req), "http://proxy.example:3128");
	/* Only scheme, host and port are kept. */
	ck_assert_int_eq(cact_request_set_proxy(req, "HTTP://Proxy.Example.:3128/p?q#f", &err), 0);
	ck_assert_str_eq(cact_request_proxy(req), "http://proxy.example:3128");
	ck_assert_int_eq(cact_request_set_proxy(req, "https://[0:0::1]:8443", &err), 0);
	ck_assert_str_eq(cact_request_proxy(req), "https://[::1]:8443");
	for (i = 0; i < UT_ARRAY_SIZE(bad); i++) {
		int rc = cact_request_set_proxy(req, bad[i].in, &err);

		ck_assert_msg(rc == CACT_EINVAL, "proxy \"%s\" = %d", show(bad[i].in), rc);
		ck_assert_msg(strncmp(err.message, bad[i].needle, strlen(bad[i].needle)) == 0,
			      "proxy \"%s\": message \"%s\", expected \"%s...\"", show(bad[i].in),
			      show(err.message), bad[i].needle);
		ck_assert_str_eq(cact_request_proxy(req), "https://[::1]:8443");
	}
	ck_assert_int_eq(cact_request_set_proxy(req, NULL, &err), 0);
	ck_assert_ptr_null(cact_request_proxy(req));
	cact_request_free(req);
}
END_TEST

/*
 * libcurl reads a proxy without a port as port 1080 (443 for https), not
 * as the scheme's port: the stored proxy names its port.
 */
START_TEST(request_proxy_keeps_port)
{
	struct cact_error err = {0};
	struct cact_request *req = new_req();

	ck_assert_int_eq(cact_request_set_proxy(req, "http://proxy.example:80", &err), 0);
	ck_assert_str_eq(cact_request_proxy(req), "http://proxy.example:80");
	ck_assert_int_eq(cact_request_set_proxy(req, "http://proxy.example", &err), 0);
	ck_assert_str_eq(cact_request_proxy(req), "http://proxy.example:80");
	ck_assert_int_eq(cact_request_set_proxy(req, "https://proxy.example/", &err), 0);
	ck_assert_str_eq(cact_request_proxy(req), "https://proxy.example:443");
	cact_request_free(req);
}
END_TEST

START_TEST(request_resolve_accumulates)
{
	struct cact_error err = {0};
	struct cact_request *req = new_req();

	ck_assert_ptr_null(rt_request_resolve_override(req, "api.example.com"));
	ck_assert_int_eq(cact_request_add_resolve(req, "API.Example.COM.", "10.0.0.5", &err), 0);
	ck_assert_str_eq(rt_request_resolve_override(req, "api.example.com"), "10.0.0.5");
	ck_assert_int_eq(cact_request_add_resolve(req, "api.example.com", "2001:DB8:0:0::1", &err),
			 0);
	ck_assert_int_eq(cact_request_add_resolve(req, "api.example.com", "::FFFF:7F00:1", &err),
			 0);
	ck_assert_str_eq(rt_request_resolve_override(req, "api.example.com"),
			 "10.0.0.5,2001:db8::1,::ffff:127.0.0.1");
	ck_assert_int_eq(cact_request_add_resolve(req, "other.example", "0:0::1", &err), 0);
	ck_assert_str_eq(rt_request_resolve_override(req, "other.example"), "::1");
	ck_assert_str_eq(rt_request_resolve_override(req, "api.example.com"),
			 "10.0.0.5,2001:db8::1,::ffff:127.0.0.1");
	ck_assert_uint_eq(req->n_resolves, 2);
	ck_assert_ptr_null(rt_request_resolve_override(req, "example.com"));
	ck_assert_ptr_null(rt_request_resolve_override(req, "x.api.example.com"));
	cact_request_free(req);
}
END_TEST

/* After a clear, names start over with only the addresses added since. */
START_TEST(request_resolve_clear_then_add)
{
	struct cact_error err = {0};
	struct cact_request *req = new_req();

	ck_assert_int_eq(cact_request_add_resolve(req, "api.example.com", "10.0.0.5", &err), 0);
	ck_assert_int_eq(cact_request_add_resolve(req, "other.example", "10.0.0.6", &err), 0);
	cact_request_clear_resolve(req);
	ck_assert_uint_eq(req->n_resolves, 0);
	ck_assert_ptr_null(rt_request_resolve_override(req, "api.example.com"));
	ck_assert_ptr_null(rt_request_resolve_override(req, "other.example"));
	ck_assert_int_eq(cact_request_add_resolve(req, "new.example", "1.2.3.4", &err), 0);
	ck_assert_str_eq(rt_request_resolve_override(req, "new.example"), "1.2.3.4");
	ck_assert_int_eq(cact_request_add_resolve(req, "api.example.com", "5.6.7.8", &err), 0);
	ck_assert_str_eq(rt_request_resolve_override(req, "api.example.com"), "5.6.7.8");
	cact_request_clear_resolve(req);
	cact_request_clear_resolve(req);
	cact_request_free(req);
}
END_TEST

START_TEST(request_resolve_refusals)
{
	static const struct {
		const char *host, *addr, *msg;
	} rows[] = {
		{"a.example", "1.2.3", "resolve a.example: '1.2.3' is not an IP address"},
		{"a.example", "127.1", "resolve a.example: '127.1' is not an IP address"},
		{"a.example", "0x7f.0.0.1", "resolve a.example: '0x7f.0.0.1' is not an IP address"},
		{"a.example", "0177.0.0.1", "resolve a.example: '0177.0.0.1' is not an IP address"},
		{"a.example", "2130706433", "resolve a.example: '2130706433' is not an IP address"},
		{"a.example", "[::1]", "resolve a.example: '[::1]' is not an IP address"},
		{"a.example", "fe80::1%eth0",
		 "resolve a.example: 'fe80::1%eth0' is not an IP address"},
		{"a.example", " 1.2.3.4", "resolve a.example: ' 1.2.3.4' is not an IP address"},
		{"a.example", "", "resolve a.example: '' is not an IP address"},
		{"a.example", "localhost", "resolve a.example: 'localhost' is not an IP address"},
		{"127.0.0.1", "1.2.3.4", "resolve 127.0.0.1: not a host name"},
		{"127.0.0.1.", "1.2.3.4", "resolve 127.0.0.1.: not a host name"},
		{"[::1]", "1.2.3.4", "resolve [::1]: not a host name"},
		{"::1", "1.2.3.4", "resolve ::1: "},
		{"127.1", "1.2.3.4", "resolve 127.1: URL host 127.1 is an ambiguous IPv4 spelling"},
		{"0x7f.0.0.1", "1.2.3.4",
		 "resolve 0x7f.0.0.1: URL host 0x7f.0.0.1 is an ambiguous"},
		{"*.example.com", "1.2.3.4", "resolve *.example.com: URL host has '*'"},
		{"bad host", "1.2.3.4", "resolve bad host: URL has a space"},
		{"user@a.example", "1.2.3.4", "resolve user@a.example: URL has user info"},
		{"", "1.2.3.4", "resolve : URL has no host"},
		{NULL, "1.2.3.4", "resolve needs a host name and an address"},
		{"a.example", NULL, "resolve needs a host name and an address"},
	};
	struct fails f = {0};
	struct cact_request *req = new_req();
	size_t i;

	for (i = 0; i < UT_ARRAY_SIZE(rows); i++) {
		struct cact_error err = {0};
		int rc = cact_request_add_resolve(req, rows[i].host, rows[i].addr, &err);

		if (rc != CACT_EINVAL ||
		    strncmp(err.message, rows[i].msg, strlen(rows[i].msg)) != 0)
			fail_add(&f, "add_resolve(%s, %s) = %d \"%s\", expected \"%s...\"",
				 show(rows[i].host), show(rows[i].addr), rc, show(err.message),
				 show(rows[i].msg));
	}
	ck_assert_uint_eq(req->n_resolves, 0);
	fails_check(&f);
	cact_request_free(req);
}
END_TEST

/* A name with a port or a path is not a host name: it is refused, not cut down to one. */
START_TEST(request_resolve_refuses_name_with_port_or_path)
{
	static const char *const names[] = {"a.example:8080", "a.example/x", "a.example?x",
					    "a.example#x", "a.example:"};
	struct fails f = {0};
	struct cact_request *req = new_req();
	size_t i;

	for (i = 0; i < UT_ARRAY_SIZE(names); i++) {
		struct cact_error err = {0};
		int rc = cact_request_add_resolve(req, names[i], "10.0.0.1", &err);

		if (rc != CACT_EINVAL)
			fail_add(&f,
				 "add_resolve(\"%s\") = %d, expected CACT_EINVAL (overrides: %s)",
				 names[i], rc, show(rt_request_resolve_override(req, "a.example")));
	}
	fails_check(&f);
	cact_request_free(req);
}
END_TEST

START_TEST(request_resolve_name_cap)
{
	struct cact_error err = {0};
	struct cact_request *req = new_req();
	char name[32];
	int i, rc;

	for (i = 0; i < 256; i++) {
		snprintf(name, sizeof(name), "h%d.example", i);
		ck_assert_int_eq(cact_request_add_resolve(req, name, "10.0.0.1", &err), 0);
	}
	/* More addresses for a known name are still fine. */
	ck_assert_int_eq(cact_request_add_resolve(req, "h7.example", "10.0.0.2", &err), 0);
	ck_assert_str_eq(rt_request_resolve_override(req, "h7.example"), "10.0.0.1,10.0.0.2");
	rc = cact_request_add_resolve(req, "one-more.example", "10.0.0.1", &err);
	err_is(rc, &err, CACT_EINVAL, "more than 256 resolve entries");
	ck_assert_ptr_null(rt_request_resolve_override(req, "one-more.example"));
	cact_request_free(req);
}
END_TEST

START_TEST(request_dup_copies_network)
{
	struct cact_error err = {0};
	struct cact_request *req = new_req(), *copy = NULL;
	char *dir = t_tmpdir(), path[PATH_MAX], real[PATH_MAX];
	const char *target = NULL, *methods = NULL;
	const char *const get[] = {"get"};

	t_write(dir, "ca.pem", "pem");
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	ck_assert_ptr_nonnull(realpath(path, real));
	ck_assert_int_eq(cact_request_set_ca_file(req, path, &err), 0);
	ck_assert_int_eq(cact_request_set_proxy(req, "http://proxy.example:3128", &err), 0);
	ck_assert_int_eq(cact_request_add_resolve(req, "a.example", "10.0.0.1", &err), 0);
	ck_assert_int_eq(cact_request_add_resolve(req, "a.example", "fd00::1", &err), 0);
	ck_assert_int_eq(cact_request_add_resolve(req, "b.example", "10.0.0.2", &err), 0);
	ck_assert_int_eq(cact_request_add_allowed_domain(req, "a.example", get, 1, &err), 0);
	ck_assert_int_eq(cact_request_set_limit(req, CACT_LIMIT_HTTP_REQUESTS, 7, &err), 0);
	ck_assert_int_eq(cact_request_dup(req, &copy), 0);
	ck_assert_ptr_ne(copy->ca_file, req->ca_file);
	ck_assert_ptr_ne(copy->proxy, req->proxy);
	ck_assert_ptr_ne(copy->resolves, req->resolves);
	cact_request_free(req);
	ck_assert_str_eq(cact_request_ca_file(copy), real);
	ck_assert_str_eq(cact_request_proxy(copy), "http://proxy.example:3128");
	ck_assert_str_eq(rt_request_resolve_override(copy, "a.example"), "10.0.0.1,fd00::1");
	ck_assert_str_eq(rt_request_resolve_override(copy, "b.example"), "10.0.0.2");
	ck_assert_uint_eq(cact_request_limit(copy, CACT_LIMIT_HTTP_REQUESTS), 7);
	ck_assert_int_eq(cact_request_allowed_domain(copy, 0, &target, &methods), 0);
	ck_assert_str_eq(target, "a.example");
	ck_assert_str_eq(methods, "GET");
	/* The copy grows on its own. */
	ck_assert_int_eq(cact_request_add_resolve(copy, "c.example", "10.0.0.3", &err), 0);
	ck_assert_str_eq(rt_request_resolve_override(copy, "c.example"), "10.0.0.3");
	cact_request_free(copy);
	/* An empty request copies to an empty one. */
	req = new_req();
	ck_assert_int_eq(cact_request_dup(req, &copy), 0);
	ck_assert_ptr_null(cact_request_ca_file(copy));
	ck_assert_ptr_null(cact_request_proxy(copy));
	ck_assert_uint_eq(copy->n_resolves, 0);
	cact_request_free(copy);
	cact_request_free(req);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(request_http_limits)
{
	static const struct {
		enum cact_limit which;
		const char *name;
		uint64_t dflt, min, max;
	} rows[] = {
		{CACT_LIMIT_HTTP_TIMEOUT_MS, "http_timeout_ms", 30000, 100, 600000},
		{CACT_LIMIT_HTTP_BODY_BYTES, "http_body_bytes", 16ull << 20, 1024, 256ull << 20},
		{CACT_LIMIT_HTTP_BYTES, "http_bytes", 64ull << 20, 1024, 16ull << 30},
		{CACT_LIMIT_HTTP_REQUESTS, "http_requests", 1000, 0, 1000000},
	};
	struct cact_error err = {0};
	struct cact_request *req = new_req();
	char want[128];
	size_t i;

	for (i = 0; i < UT_ARRAY_SIZE(rows); i++) {
		ck_assert_str_eq(cact_limit_name(rows[i].which), rows[i].name);
		ck_assert_uint_eq(cact_limit_default(rows[i].which), rows[i].dflt);
		ck_assert_uint_eq(cact_limit_min(rows[i].which), rows[i].min);
		ck_assert_uint_eq(cact_limit_max(rows[i].which), rows[i].max);
		ck_assert_uint_eq(cact_request_limit(req, rows[i].which), rows[i].dflt);
		ck_assert_int_eq(cact_request_set_limit(req, rows[i].which, rows[i].min, &err), 0);
		ck_assert_int_eq(cact_request_set_limit(req, rows[i].which, rows[i].max, &err), 0);
		ck_assert_uint_eq(cact_request_limit(req, rows[i].which), rows[i].max);
		snprintf(want, sizeof(want), "%s must be between %llu and %llu, not %llu",
			 rows[i].name, (unsigned long long)rows[i].min,
			 (unsigned long long)rows[i].max, (unsigned long long)rows[i].max + 1);
		err_is(cact_request_set_limit(req, rows[i].which, rows[i].max + 1, &err), &err,
		       CACT_EINVAL, want);
		ck_assert_uint_eq(cact_request_limit(req, rows[i].which), rows[i].max);
		if (rows[i].min > 0)
			ck_assert_int_eq(
				cact_request_set_limit(req, rows[i].which, rows[i].min - 1, &err),
				CACT_EINVAL);
	}
	cact_request_free(req);
}
END_TEST

/* A value with a line break in it is named without breaking the message's line. */
START_TEST(request_errors_are_one_line)
{
	struct cact_error err = {0};
	struct cact_request *req = new_req();
	char out[512];
	struct fails f = {0};
	int rc;

#define ONE_LINE(call, what)                                                        \
	do {                                                                        \
		const char *m_;                                                     \
		memset(&err, 0, sizeof(err));                                       \
		rc = (call);                                                        \
		for (m_ = err.message; *m_ && (unsigned char)*m_ >= 0x20; m_++)     \
			;                                                           \
		if (rc == 0 || !err.message[0] || *m_)                              \
			fail_add(&f, "%s: %d \"%s\"", what, rc, show(err.message)); \
	} while (0)

	ONE_LINE(cact_request_set_proxy(req, "http://p.example:3128\r\nX: y", &err), "proxy");
	ONE_LINE(cact_request_add_resolve(req, "a\nb.example", "1.2.3.4", &err), "resolve host");
	ONE_LINE(cact_request_add_resolve(req, "a.example", "1.2.3.4\n", &err), "resolve address");
	ONE_LINE(cact_request_set_ca_file(req, "/nonexistent\n/ca.pem", &err), "CA file");
	ONE_LINE(cact_domain_normalize("exa\nmple.com", out, sizeof(out), &err), "allowed domain");
#undef ONE_LINE
	fails_check(&f);
	cact_request_free(req);
}
END_TEST

/* ---- the allow-list normalizer ---- */

START_TEST(domain_normalize_refuses_ambiguous_ipv4)
{
	static const char *const bad[] = {"127.1",	"0x7f.0.0.1", "0x7F.0.0.1:8080",
					  "2130706433", "0177.0.0.1", "http://127.1/",
					  "127.0.0.01", "1.2.3.4.5",  "127.1."};
	static const struct {
		const char *in, *want;
	} ok[] = {
		{"127.0.0.1", "127.0.0.1"},
		{"127.0.0.1.", "127.0.0.1"},
		{"https://API.Example.com:8443/v1", "api.example.com:8443"},
		{"localhost.", "localhost"},
		{"[::1]:8080", "[::1]:8080"},
		{"*.example.com", "*.example.com"},
	};
	struct fails f = {0};
	char out[512];
	size_t i;

	for (i = 0; i < UT_ARRAY_SIZE(bad); i++) {
		struct cact_error err = {0};
		int rc = cact_domain_normalize(bad[i], out, sizeof(out), &err);

		if (rc != CACT_EINVAL || !strstr(err.message, bad[i]) ||
		    !strstr(err.message, "ambiguous IPv4"))
			fail_add(&f, "normalize(\"%s\") = %d \"%s\"", bad[i], rc,
				 rc ? err.message : out);
	}
	for (i = 0; i < UT_ARRAY_SIZE(ok); i++) {
		struct cact_error err = {0};
		int rc = cact_domain_normalize(ok[i].in, out, sizeof(out), &err);

		if (rc != 0 || strcmp(out, ok[i].want) != 0)
			fail_add(&f, "normalize(\"%s\") = %d \"%s\", expected \"%s\"", ok[i].in, rc,
				 rc ? err.message : out, ok[i].want);
	}
	fails_check(&f);
}
END_TEST

/* What the normalizer keeps is what the URL parser would read: never a spelling no URL has. */
START_TEST(domain_normalize_refuses_what_never_matches)
{
	static const char *const bad[] = {"example.com..", "127.0.0.1..", "*.0.0.1", "*.1",
					  "[1.2.3.4]"};
	struct fails f = {0};
	char out[512];
	size_t i;

	for (i = 0; i < UT_ARRAY_SIZE(bad); i++) {
		struct cact_error err = {0};
		int rc = cact_domain_normalize(bad[i], out, sizeof(out), &err);

		if (rc != CACT_EINVAL)
			fail_add(&f, "normalize(\"%s\") = %d \"%s\", expected CACT_EINVAL", bad[i],
				 rc, rc ? err.message : out);
	}
	fails_check(&f);
}
END_TEST

/* ---- codeact: the "network" configuration key and the state ---- */

static struct cact_codeact *new_cc(void)
{
	struct cact_error err = {0};
	struct cact_codeact *cc = NULL;

	ck_assert_msg(cact_codeact_new(NULL, &cc, &err) == 0, "%s", err.message);
	return cc;
}

/* state.network of cc (a new reference). */
static json_t *network_of(const struct cact_codeact *cc)
{
	char *s = cact_codeact_state(cc);
	json_error_t je;
	json_t *st, *net;

	ck_assert_ptr_nonnull(s);
	st = json_loads(s, JSON_REJECT_DUPLICATES, &je);
	ck_assert_msg(st != NULL, "state is not JSON: %s", je.text);
	net = json_object_get(st, "network");
	ck_assert_msg(json_is_object(net), "state has no network object: %s", s);
	json_incref(net);
	json_decref(st);
	cact_free(s);
	return net;
}

static void network_is(const struct cact_codeact *cc, const char *want_json)
{
	json_error_t je;
	json_t *want = json_loads(want_json, 0, &je), *got = network_of(cc);
	char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);

	ck_assert_msg(want != NULL, "bad expectation: %s", je.text);
	ck_assert_msg(json_equal(got, want), "state.network is %s, expected %s", g, want_json);
	free(g);
	json_decref(got);
	json_decref(want);
}

static char *write_config(const char *dir, const char *name, const char *text)
{
	t_write(dir, name, text);
	return t_fmt("%s/%s", dir, name);
}

/* Loading text fails with CACT_EINVAL-or-code, names the file and needle; nothing changes. */
static void load_bad(struct cact_codeact *cc, const char *dir, const char *text, int code,
		     const char *needle)
{
	struct cact_error err = {0};
	char *path = write_config(dir, "bad.json", text);
	char *before = cact_codeact_state(cc), *after, *prefix;
	int rc = cact_codeact_load_config(cc, path, &err);

	ck_assert_msg(rc == code, "config %s: %d, expected %d (%s)", text, rc, code, err.message);
	ck_assert_int_eq(err.code, code);
	prefix = t_fmt("config %s: ", path);
	ck_assert_msg(strncmp(err.message, prefix, strlen(prefix)) == 0,
		      "config %s: message \"%s\" does not start with \"%s\"", text, err.message,
		      prefix);
	ck_assert_msg(strstr(err.message, needle) != NULL, "config %s: message \"%s\" lacks \"%s\"",
		      text, err.message, needle);
	ck_assert_msg(strchr(err.message, '\n') == NULL, "config %s: message has a newline: %s",
		      text, err.message);
	after = cact_codeact_state(cc);
	ck_assert_msg(strcmp(after, before) == 0, "config %s changed the state:\n%s\n%s", text,
		      before, after);
	free(prefix);
	free(path);
	cact_free(before);
	cact_free(after);
}

START_TEST(config_network_applies)
{
	struct cact_error err = {0};
	struct cact_codeact *cc = new_cc();
	char *dir = t_tmpdir(), *rdir, *path, *want;

	rdir = realpath(dir, NULL);
	ck_assert_ptr_nonnull(rdir);
	network_is(cc, "{\"ca_file\": null, \"proxy\": null, \"resolve\": {}}");
	t_write(dir, "conf/certs/ca.pem", "pem");
	path = write_config(dir, "conf/cact.json",
			    "{\"network\": {\"ca_file\": \"certs/ca.pem\","
			    " \"proxy\": \"HTTP://Proxy.Example:3128/x\","
			    " \"resolve\": {\"API.example.com.\": \"10.0.0.5\","
			    " \"multi.example\": [\"1.2.3.4\", \"2001:DB8::0:1\"]},"
			    " \"redirect_headers\": [\"Accept\", \"X-Request-Id\", \"accept\"]}}");
	ck_assert_msg(cact_codeact_load_config(cc, path, &err) == 0, "%s", err.message);
	want = t_fmt(
		"{\"ca_file\": \"%s/conf/certs/ca.pem\", \"proxy\": \"http://proxy.example:3128\","
		" \"resolve\": {\"api.example.com\": [\"10.0.0.5\"],"
		" \"multi.example\": [\"1.2.3.4\", \"2001:db8::1\"]},"
		" \"redirect_headers\": [\"accept\", \"x-request-id\"]}",
		rdir);
	network_is(cc, want);
	free(want);
	free(path);
	/* The codeact setters are the request's. */
	ck_assert_int_eq(cact_codeact_add_resolve(cc, "multi.example", "10.1.1.1", &err), 0);
	ck_assert_int_eq(cact_codeact_set_proxy(cc, NULL, &err), 0);
	ck_assert_int_eq(cact_codeact_set_ca_file(cc, NULL, &err), 0);
	/* An empty list clears the names. */
	path = write_config(dir, "conf/clear.json", "{\"network\": {\"redirect_headers\": []}}");
	ck_assert_msg(cact_codeact_load_config(cc, path, &err) == 0, "%s", err.message);
	free(path);
	network_is(cc, "{\"ca_file\": null, \"proxy\": null,"
		       " \"resolve\": {\"api.example.com\": [\"10.0.0.5\"],"
		       " \"multi.example\": [\"1.2.3.4\", \"2001:db8::1\", \"10.1.1.1\"]}}");
	ck_assert_int_eq(cact_codeact_add_resolve(cc, "127.0.0.1", "10.1.1.1", &err), CACT_EINVAL);
	ck_assert_int_eq(cact_codeact_set_proxy(cc, "ftp://x", &err), CACT_EINVAL);
	cact_codeact_free(cc);
	t_rmtree(dir);
	free(dir);
	free(rdir);
}
END_TEST

/* A later file's resolve map replaces the earlier one; an absolute ca_file is taken as is. */
START_TEST(config_network_resolve_map_replaced)
{
	struct cact_error err = {0};
	struct cact_codeact *cc = new_cc();
	char *dir = t_tmpdir(), *rdir = realpath(dir, NULL), *path, *want;

	path = write_config(
		dir, "first.json",
		"{\"network\": {\"proxy\": \"http://proxy.example:3128\","
		" \"resolve\": {\"a.example\": \"10.0.0.1\", \"c.example\": \"10.0.0.3\"}}}");
	ck_assert_msg(cact_codeact_load_config(cc, path, &err) == 0, "%s", err.message);
	free(path);
	t_write(dir, "other/ca2.pem", "pem");
	path = t_fmt("%s/other/ca2.pem", rdir);
	want = t_fmt("{\"network\": {\"ca_file\": \"%s\", \"resolve\": {\"b.example\": \"::1\"}}}",
		     path);
	free(path);
	path = write_config(dir, "second.json", want);
	free(want);
	ck_assert_msg(cact_codeact_load_config(cc, path, &err) == 0, "%s", err.message);
	want = t_fmt("{\"ca_file\": \"%s/other/ca2.pem\", \"proxy\": \"http://proxy.example:3128\","
		     " \"resolve\": {\"b.example\": [\"::1\"]}}",
		     rdir);
	network_is(cc, want);
	free(want);
	free(path);
	cact_codeact_free(cc);
	t_rmtree(dir);
	free(dir);
	free(rdir);
}
END_TEST

START_TEST(config_network_errors)
{
	struct cact_error err = {0};
	struct cact_codeact *cc = new_cc();
	char *dir = t_tmpdir(), *rdir = realpath(dir, NULL), *missing;

	/* Something to keep: a bad file must change none of it. */
	ck_assert_int_eq(cact_codeact_set_proxy(cc, "http://keep.example:1", &err), 0);
	ck_assert_int_eq(cact_codeact_set_limit(cc, CACT_LIMIT_TIMEOUT_MS, 7000, &err), 0);
	load_bad(cc, dir, "{\"network\": {\"cafile\": \"x.pem\"}}", CACT_EINVAL,
		 "\"network.cafile\" is not a known key");
	load_bad(cc, dir, "{\"network\": {\"proxy\": \"http://p:1\", \"dns\": {}}}", CACT_EINVAL,
		 "\"network.dns\" is not a known key");
	load_bad(cc, dir, "{\"network\": []}", CACT_EINVAL, "\"network\" must be an object");
	load_bad(cc, dir, "{\"network\": null}", CACT_EINVAL, "\"network\" must be an object");
	load_bad(cc, dir, "{\"network\": {\"ca_file\": 5}}", CACT_EINVAL,
		 "\"network.ca_file\" must be a path or null");
	load_bad(cc, dir, "{\"network\": {\"proxy\": 5}}", CACT_EINVAL,
		 "\"network.proxy\" must be a URL or null");
	load_bad(cc, dir, "{\"network\": {\"proxy\": \"ftp://p.example\"}}", CACT_EINVAL,
		 "network: proxy: URL scheme ftp is not http or https");
	load_bad(cc, dir, "{\"network\": {\"resolve\": [\"a.example\"]}}", CACT_EINVAL,
		 "\"network.resolve\" must map host names to address lists");
	load_bad(cc, dir, "{\"network\": {\"resolve\": {\"a.example\": 5}}}", CACT_EINVAL,
		 "\"network.resolve\" values must be an address or a list of addresses");
	load_bad(cc, dir, "{\"network\": {\"resolve\": {\"a.example\": []}}}", CACT_EINVAL,
		 "\"network.resolve\" values must be an address or a list of addresses");
	load_bad(cc, dir, "{\"network\": {\"resolve\": {\"a.example\": null}}}", CACT_EINVAL,
		 "\"network.resolve\" values must be an address or a list of addresses");
	load_bad(cc, dir, "{\"network\": {\"resolve\": {\"a.example\": [\"1.2.3.4\", 5]}}}",
		 CACT_EINVAL, "\"network.resolve\" addresses must be strings");
	load_bad(cc, dir, "{\"network\": {\"resolve\": {\"a.example\": \"not-an-ip\"}}}",
		 CACT_EINVAL, "network: resolve a.example: 'not-an-ip' is not an IP address");
	load_bad(cc, dir, "{\"network\": {\"resolve\": {\"a.example\": [\"1.2.3.4\", \"127.1\"]}}}",
		 CACT_EINVAL, "network: resolve a.example: '127.1' is not an IP address");
	load_bad(cc, dir, "{\"network\": {\"resolve\": {\"127.0.0.1\": \"1.2.3.4\"}}}", CACT_EINVAL,
		 "network: resolve 127.0.0.1: not a host name");
	load_bad(cc, dir, "{\"network\": {\"resolve\": {\"0x7f.1\": \"1.2.3.4\"}}}", CACT_EINVAL,
		 "ambiguous IPv4");
	load_bad(cc, dir, "{\"network\": {\"redirect_headers\": \"Accept\"}}", CACT_EINVAL,
		 "\"network.redirect_headers\" must be a list of header names");
	load_bad(cc, dir, "{\"network\": {\"redirect_headers\": [\"Accept\", 5]}}", CACT_EINVAL,
		 "\"network.redirect_headers\" must be a list of header names");
	load_bad(cc, dir, "{\"network\": {\"redirect_headers\": [\"Bad Name\"]}}", CACT_EINVAL,
		 "network: ");
	missing = t_fmt("network: CA file %s/missing.pem: ", rdir);
	load_bad(cc, dir, "{\"network\": {\"ca_file\": \"missing.pem\"}}", CACT_ENOENT, missing);
	free(missing);
	/* Good keys before the bad one are not applied either. */
	load_bad(cc, dir,
		 "{\"limits\": {\"timeout_ms\": 5000}, \"network\": {\"proxy\": \"http://new:2\","
		 " \"resolve\": {\"x.example\": \"10.0.0.1\", \"y.example\": \"bad\"}}}",
		 CACT_EINVAL, "'bad' is not an IP address");
	network_is(cc,
		   "{\"ca_file\": null, \"proxy\": \"http://keep.example:1\", \"resolve\": {}}");
	cact_codeact_free(cc);
	t_rmtree(dir);
	free(dir);
	free(rdir);
}
END_TEST

/* A bad file that names resolve entries leaves the configuration's own entries as they were. */
START_TEST(config_network_bad_file_keeps_resolve)
{
	struct cact_error err = {0};
	struct cact_codeact *cc = new_cc();
	char *dir = t_tmpdir();

	ck_assert_int_eq(cact_codeact_add_resolve(cc, "keep.example", "10.0.0.9", &err), 0);
	ck_assert_int_eq(cact_codeact_add_resolve(cc, "keep.example", "fd00::9", &err), 0);
	load_bad(cc, dir,
		 "{\"network\": {\"resolve\": {\"x.example\": \"10.0.0.1\","
		 " \"y.example\": \"bad\"}}}",
		 CACT_EINVAL, "'bad' is not an IP address");
	load_bad(cc, dir, "{\"network\": {\"resolve\": {\"keep.example\": [\"1.1.1.1\", 2]}}}",
		 CACT_EINVAL, "addresses must be strings");
	network_is(cc, "{\"ca_file\": null, \"proxy\": null,"
		       " \"resolve\": {\"keep.example\": [\"10.0.0.9\", \"fd00::9\"]}}");
	cact_codeact_free(cc);
	t_rmtree(dir);
	free(dir);
}
END_TEST

/* null for ca_file or proxy means none, as for workspace_root. */
START_TEST(config_network_null_clears)
{
	struct cact_error err = {0};
	struct cact_codeact *cc = new_cc();
	char *dir = t_tmpdir(), *path;

	t_write(dir, "ca.pem", "pem");
	path = write_config(
		dir, "one.json",
		"{\"network\": {\"ca_file\": \"ca.pem\", \"proxy\": \"http://p.example:3128\"}}");
	ck_assert_msg(cact_codeact_load_config(cc, path, &err) == 0, "%s", err.message);
	free(path);
	path = write_config(dir, "two.json", "{\"network\": {\"ca_file\": null, \"proxy\": null}}");
	ck_assert_msg(cact_codeact_load_config(cc, path, &err) == 0, "%s", err.message);
	network_is(cc, "{\"ca_file\": null, \"proxy\": null, \"resolve\": {}}");
	free(path);
	cact_codeact_free(cc);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(state_round_trip_keeps_network)
{
	struct cact_error err = {0};
	struct cact_codeact *cc = new_cc(), *back = NULL;
	char *dir = t_tmpdir(), *ca, *rca, *st, *st2, *want;
	const char *const get[] = {"GET"};

	t_write(dir, "ca.pem", "pem");
	ca = t_fmt("%s/ca.pem", dir);
	rca = realpath(ca, NULL);
	ck_assert_ptr_nonnull(rca);
	ck_assert_int_eq(cact_codeact_set_ca_file(cc, ca, &err), 0);
	ck_assert_int_eq(cact_codeact_set_proxy(cc, "https://proxy.example:8443", &err), 0);
	ck_assert_int_eq(cact_codeact_add_resolve(cc, "api.example.com", "10.0.0.5", &err), 0);
	ck_assert_int_eq(cact_codeact_add_resolve(cc, "api.example.com", "fd00::5", &err), 0);
	ck_assert_int_eq(cact_codeact_add_resolve(cc, "b.example", "::ffff:7f00:1", &err), 0);
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "api.example.com", get, 1, &err), 0);
	ck_assert_int_eq(cact_codeact_set_limit(cc, CACT_LIMIT_HTTP_REQUESTS, 3, &err), 0);
	ck_assert_int_eq(cact_codeact_add_redirect_header(cc, "X-Request-Id", &err), 0);
	st = cact_codeact_state(cc);
	ck_assert_ptr_nonnull(st);
	ck_assert_msg(cact_codeact_new_from_state(NULL, st, NULL, 0, &back, &err) == 0, "%s",
		      err.message);
	st2 = cact_codeact_state(back);
	ck_assert_str_eq(st2, st);
	want = t_fmt("{\"ca_file\": \"%s\", \"proxy\": \"https://proxy.example:8443\","
		     " \"resolve\": {\"api.example.com\": [\"10.0.0.5\", \"fd00::5\"],"
		     " \"b.example\": [\"::ffff:127.0.0.1\"]},"
		     " \"redirect_headers\": [\"x-request-id\"]}",
		     rca);
	network_is(back, want);
	free(want);
	free(rca);
	cact_free(st);
	cact_free(st2);
	cact_codeact_free(back);
	cact_codeact_free(cc);
	free(ca);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(state_refuses_bad_network)
{
	static const char *const states[] = {
		"{\"network\": {\"resolve\": {\"a.example\": \"bad\"}}}",
		"{\"network\": {\"resolve\": {\"127.0.0.1\": \"1.2.3.4\"}}}",
		"{\"network\": {\"proxy\": \"gopher://x\"}}",
		"{\"network\": {\"ca_file\": \"/nonexistent/ca.pem\"}}",
		"{\"network\": {\"extra\": 1}}",
		"{\"network\": 5}",
	};
	size_t i;

	for (i = 0; i < UT_ARRAY_SIZE(states); i++) {
		struct cact_error err = {0};
		struct cact_codeact *back = NULL;
		int rc = cact_codeact_new_from_state(NULL, states[i], NULL, 0, &back, &err);

		ck_assert_msg(rc == CACT_EINVAL || rc == CACT_ENOENT, "state %s: %d", states[i],
			      rc);
		ck_assert_ptr_null(back);
		ck_assert_msg(strncmp(err.message, "state", 5) == 0 && !strchr(err.message, '\n'),
			      "state %s: message \"%s\"", states[i], err.message);
	}
}
END_TEST

int main(int argc, char **argv)
{
	const struct t_case cases[] = {
		T_CASE(url_accepts_and_canonicalizes, 30),
		T_CASE(url_refuses_ambiguous_ipv4, 30),
		T_CASE(url_trailing_dots, 30),
		T_CASE(url_refuses_user_info, 30),
		T_CASE(url_refuses_separators_and_controls, 30),
		T_CASE(url_refuses_non_ascii_and_encoded_hosts, 30),
		T_CASE(url_ipv6_forms, 30),
		T_CASE(url_refuses_bad_ports, 30),
		T_CASE(url_refuses_other_schemes, 30),
		T_CASE(url_length_cap, 30),
		T_CASE(url_authority_forms, 30),
		T_CASE(url_resolve_rfc3986_normal, 30),
		T_CASE(url_resolve_rfc3986_abnormal, 30),
		T_CASE(url_resolve_absolute_path_dots, 30),
		T_CASE(url_resolve_other_bases, 30),
		T_CASE(url_resolve_refusals, 30),
		T_CASE(url_resolve_keeps_long_query, 30),
		T_CASE(match_exact_host_only, 30),
		T_CASE(match_wildcard_strict_subdomains, 30),
		T_CASE(match_wildcard_never_matches_ip_literals, 30),
		T_CASE(match_ports, 30),
		T_CASE(match_methods, 30),
		T_CASE(match_connect_trace_never, 30),
		T_CASE(match_refusal_names_target_and_list, 30),
		T_CASE(match_ip_literal_targets, 30),
		T_CASE(addr_public_v4, 30),
		T_CASE(addr_public_v6, 30),
		T_CASE(addr_public_v6_only_global_unicast, 30),
		T_CASE(addr_public_other_families, 30),
		T_CASE(addr_loopback, 30),
		T_CASE(addr_listed, 30),
		T_CASE(base64_decode_rfc4648_vectors, 30),
		T_CASE(base64_decode_round_trip, 30),
		T_CASE(base64_decode_refusals, 30),
		T_CASE(request_ca_file, 30),
		T_CASE(request_proxy, 30),
		T_CASE(request_proxy_keeps_port, 30),
		T_CASE(request_resolve_accumulates, 30),
		T_CASE(request_resolve_clear_then_add, 30),
		T_CASE(request_resolve_refusals, 30),
		T_CASE(request_resolve_refuses_name_with_port_or_path, 30),
		T_CASE(request_resolve_name_cap, 30),
		T_CASE(request_dup_copies_network, 30),
		T_CASE(request_http_limits, 30),
		T_CASE(request_errors_are_one_line, 30),
		T_CASE(domain_normalize_refuses_ambiguous_ipv4, 30),
		T_CASE(domain_normalize_refuses_what_never_matches, 30),
		T_CASE(config_network_applies, 30),
		T_CASE(config_network_resolve_map_replaced, 30),
		T_CASE(config_network_errors, 30),
		T_CASE(config_network_bad_file_keeps_resolve, 30),
		T_CASE(config_network_null_clears, 30),
		T_CASE(state_round_trip_keeps_network, 30),
		T_CASE(state_refuses_bad_network, 30),
	};

	return t_main("unit_net", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
