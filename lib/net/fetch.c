/* SPDX-License-Identifier: MIT */
/*
 * One HTTP(S) request of sandboxed code, made by the host with libcurl.
 * Each hop: parse (url.c), match the allow-list (policy.c), resolve the name
 * on the host and check every address, then connect only to those
 * addresses (CURLOPT_RESOLVE pins them; the open-socket callback checks
 * again). libcurl never follows a redirect itself: cact does, up to five
 * times, through the same checks. Certificates are always verified; proxies
 * from the environment are ignored.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cact/cact.h>

#include "../util/buf.h"
#include "../util/text.h"
#include "../util/util.h"
#include "net.h"

#define USER_AGENT "cact/" CACT_VERSION

void net_response_clear(struct net_response *resp)
{
	size_t i;

	json_decref(resp->headers);
	free(resp->body);
	free(resp->final_url);
	for (i = 0; i < resp->n_hops; i++)
		rt_http_clear(&resp->hops[i]);
	memset(resp, 0, sizeof(*resp));
}

struct addrs {
	struct sockaddr_storage a[NET_MAX_ADDRS];
	size_t n;
};

static int same_addr(const struct sockaddr *x, const struct sockaddr_storage *y)
{
	if (x->sa_family != y->ss_family)
		return 0;
	if (x->sa_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)x)->sin_addr,
			      &((const struct sockaddr_in *)y)->sin_addr, 4) == 0;
	return memcmp(&((const struct sockaddr_in6 *)x)->sin6_addr,
		      &((const struct sockaddr_in6 *)y)->sin6_addr, 16) == 0;
}

static void add_addr(struct addrs *as, const struct sockaddr *sa)
{
	size_t i;

	if (as->n == NET_MAX_ADDRS)
		return;
	for (i = 0; i < as->n; i++)
		if (same_addr(sa, &as->a[i]))
			return;
	memcpy(&as->a[as->n++], sa,
	       sa->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
}

static int add_text(struct addrs *as, const char *text)
{
	struct sockaddr_storage ss = {0};

	if (inet_pton(AF_INET, text, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, text, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	else
		return -1;
	add_addr(as, (struct sockaddr *)&ss);
	return 0;
}

/* An address as text, without brackets. */
static void addr_text(const struct sockaddr *sa, char *out, size_t size)
{
	const void *a = sa->sa_family == AF_INET
				? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
				: (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;

	if (!inet_ntop(sa->sa_family, a, out, (socklen_t)size))
		ut_snprintf(out, size, "?");
}

/*
 * A name lookup on a thread of its own, so that the request can walk away
 * from it: a resolver that does not answer holds getaddrinfo for seconds
 * (per server, per attempt), and neither the execution's end nor its
 * deadline may wait for that. Whichever of the two lets go last frees it.
 */
struct lookup {
	atomic_int refs;
	int done_fd; /* eventfd, written when the answer is in */
	char host[NET_HOST_MAX];
	int rc;
	struct addrinfo *res;
};

static void lookup_unref(struct lookup *l)
{
	if (atomic_fetch_sub(&l->refs, 1) != 1)
		return;
	if (l->res)
		freeaddrinfo(l->res);
	close(l->done_fd);
	free(l);
}

static void *lookup_main(void *arg)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
	struct lookup *l = arg;
	uint64_t one = 1;

	l->rc = getaddrinfo(l->host, NULL, &hints, &l->res);
	if (write(l->done_fd, &one, sizeof(one)) < 0)
		(void)0; /* cannot fail: a fresh eventfd */
	lookup_unref(l);
	return NULL;
}

/* The request's timeout: the limit, or the code's own when it is shorter. */
static uint64_t timeout_ms(const struct net_request *r)
{
	uint64_t limit = r->req->limits[CACT_LIMIT_HTTP_TIMEOUT_MS];

	return r->timeout_ms && r->timeout_ms < limit ? r->timeout_ms : limit;
}

/*
 * getaddrinfo(host), given up when the cancel fd fires or by the deadline.
 * 0 with *res (owned, freeaddrinfo), an EAI_ code, or -1 with why set.
 */
static int lookup(const struct net_request *r, const char *host, struct addrinfo **res, char *why,
		  size_t wsize)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
	struct lookup *l = calloc(1, sizeof(*l));
	uint64_t limit = timeout_ms(r) * 1000;
	uint64_t until = ut_now_us() + limit;
	pthread_attr_t attr;
	pthread_t t;
	int rc = -1, started;

	*res = NULL;
	if (r->deadline_us < until)
		until = r->deadline_us;
	if (l)
		l->done_fd = eventfd(0, EFD_CLOEXEC);
	if (!l || l->done_fd < 0) {
		free(l);
		return getaddrinfo(host, NULL, &hints, res); /* no thread: wait, as before */
	}
	atomic_init(&l->refs, 2);
	ut_snprintf(l->host, sizeof(l->host), "%s", host);
	started = pthread_attr_init(&attr) == 0 &&
		  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 &&
		  pthread_create(&t, &attr, lookup_main, l) == 0;
	pthread_attr_destroy(&attr);
	if (!started) {
		close(l->done_fd);
		free(l);
		return getaddrinfo(host, NULL, &hints, res);
	}
	for (;;) {
		struct pollfd p[2] = {{.fd = l->done_fd, .events = POLLIN},
				      {.fd = r->cancel_fd, .events = POLLIN}};
		uint64_t now = ut_now_us();

		if (now >= until) {
			ut_snprintf(why, wsize, "cannot resolve %s: no answer within %llu ms", host,
				    (unsigned long long)(limit / 1000));
			break;
		}
		if (poll(p, r->cancel_fd >= 0 ? 2 : 1, (int)((until - now + 999) / 1000)) < 0 &&
		    errno != EINTR) {
			ut_snprintf(why, wsize, "cannot resolve %s: poll: %s", host,
				    strerrorname_np(errno) ?: "?");
			break;
		}
		if (r->cancel_fd >= 0 && p[1].revents) {
			ut_snprintf(why, wsize, "cancelled: the execution ended");
			break;
		}
		if (p[0].revents) {
			rc = l->rc;
			*res = l->res;
			l->res = NULL;
			break;
		}
	}
	lookup_unref(l);
	return rc;
}

/* The host part of an allow-list target ("localhost" of "localhost:8080"). */
static int target_is_localhost(const char *target)
{
	return strcmp(target, "localhost") == 0 || strncmp(target, "localhost:", 10) == 0;
}

/*
 * Resolves u's host into as and checks every address. A literal IP is only
 * reachable when the allow-list names it (that is how it matched); a name
 * must resolve to public addresses only, or to addresses the allow-list
 * names literally (with a matching port rule); "localhost" allowed as such
 * must resolve to loopback only.
 */
static int resolve(const struct net_request *r, const struct net_url *u, const char *target,
		   struct addrs *as, char *why, size_t wsize)
{
	struct addrinfo *res = NULL, *ai;
	char shown[INET6_ADDRSTRLEN];
	const char *over;
	size_t i;
	int rc;

	as->n = 0;
	if (u->kind != NET_NAME) {
		add_text(as, u->host);
		return 0;
	}
	over = rt_request_resolve_override(r->req, u->host);
	if (over) {
		char list[1024], *save = NULL, *a;

		ut_snprintf(list, sizeof(list), "%s", over);
		for (a = strtok_r(list, ",", &save); a; a = strtok_r(NULL, ",", &save))
			add_text(as, a);
	} else {
		rc = lookup(r, u->host, &res, why, wsize);
		if (rc == -1)
			return -1;
		if (rc) {
			ut_snprintf(why, wsize, "cannot resolve %s: %s", u->host, gai_strerror(rc));
			return -1;
		}
		for (ai = res; ai; ai = ai->ai_next)
			if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
				add_addr(as, ai->ai_addr);
		freeaddrinfo(res);
	}
	if (as->n == 0) {
		ut_snprintf(why, wsize, "%s has no address", u->host);
		return -1;
	}
	for (i = 0; i < as->n; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&as->a[i];
		int ok = target_is_localhost(target)
				 ? net_addr_loopback(sa)
				 : net_addr_public(sa) || net_addr_listed(r->req->domains,
									  r->req->n_domains, sa, u);

		if (!ok) {
			addr_text(sa, shown, sizeof(shown));
			ut_snprintf(why, wsize,
				    target_is_localhost(target)
					    ? "%s resolves to %s, which is not a loopback address"
					    : "%s resolves to %s, which is not a public address "
					      "and not "
					      "allowed by address",
				    u->host, shown);
			return -2;
		}
	}
	return 0;
}

struct xfer {
	const struct net_request *r;
	struct addrs *as;
	struct ut_buf body;
	json_t *headers;
	unsigned n_headers;
	int too_many_headers;
	int drop_content; /* the method became GET: the body's headers go too */
	size_t header_bytes;
	uint64_t bytes_out;
	int over_budget;
	int bad_address;
	int cancelled;
	uint64_t bytes_in;
};

static curl_socket_t open_socket(void *user, curlsocktype purpose, struct curl_sockaddr *sa)
{
	struct xfer *x = user;
	size_t i;

	(void)purpose;
	/* With the operator's proxy, curl connects to the proxy only; the proxy reaches the target. */
	if (x->r->req->proxy)
		return socket(sa->family, sa->socktype | SOCK_CLOEXEC, sa->protocol);
	/* The address curl is about to connect to must be one that was checked. */
	for (i = 0; i < x->as->n; i++)
		if (same_addr(&sa->addr, &x->as->a[i]))
			return socket(sa->family, sa->socktype | SOCK_CLOEXEC, sa->protocol);
	x->bad_address = 1;
	return CURL_SOCKET_BAD;
}

static int spend(struct xfer *x, size_t n)
{
	uint64_t left = atomic_load(x->r->budget);

	while (left >= n) {
		if (atomic_compare_exchange_weak(x->r->budget, &left, left - n))
			return 0;
	}
	x->over_budget = 1;
	return -1;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
	struct xfer *x = user;
	size_t n = size * nmemb;

	if (spend(x, n) || ut_buf_add(&x->body, data, n))
		return 0; /* stops the transfer: over the body cap or the budget */
	x->bytes_in += n;
	return n;
}

/* Adds one response header (name lower-cased); repeats are joined as HTTP allows. */
static int add_header(json_t *headers, const char *name, const char *value, size_t len)
{
	const char *sep = strcmp(name, "set-cookie") == 0 ? "\n" : ", ";
	json_t *old = json_object_get(headers, name);
	struct ut_buf b;
	char *text;
	size_t n;
	int rc;

	ut_buf_init(&b, 1024 * 1024);
	if (old && (ut_buf_add(&b, json_string_value(old), json_string_length(old)) ||
		    ut_buf_add(&b, sep, strlen(sep))))
		goto fail;
	/* Header bytes come from anywhere: made valid UTF-8 before they become JSON. */
	text = ut_utf8_repair(value, len, &n);
	if (!text)
		goto fail;
	rc = ut_buf_add(&b, text, n);
	free(text);
	if (rc)
		goto fail;
	rc = json_object_set_new(headers, name, json_stringn(b.p, b.len));
	ut_buf_reset(&b);
	return rc;
fail:
	ut_buf_reset(&b);
	return -1;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *user)
{
	struct xfer *x = user;
	size_t n = size * nmemb, name_len, i;
	char name[256], *colon, *value, *end;

	x->header_bytes += n;
	if (x->header_bytes > NET_MAX_HEADER_BYTES || spend(x, n)) {
		x->too_many_headers = !x->over_budget;
		return 0;
	}
	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* A new response (after 100 Continue, say): start over. */
		json_object_clear(x->headers);
		x->n_headers = 0;
		return n;
	}
	colon = memchr(data, ':', n);
	if (!colon)
		return n; /* the blank line ending the headers */
	if (++x->n_headers > NET_MAX_HEADERS) {
		x->too_many_headers = 1;
		return 0;
	}
	name_len = (size_t)(colon - data);
	if (name_len == 0 || name_len >= sizeof(name))
		return n;
	for (i = 0; i < name_len; i++) {
		unsigned char c = (unsigned char)data[i];

		if (c <= 0x20 || c >= 0x7f)
			return n; /* not a token: dropped */
		name[i] = (char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
	}
	name[name_len] = '\0';
	value = colon + 1;
	end = data + n;
	while (value < end && (*value == ' ' || *value == '\t'))
		value++;
	while (end > value &&
	       (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (memchr(value, '\0', (size_t)(end - value)))
		return n;
	return add_header(x->headers, name, value, (size_t)(end - value)) ? 0 : n;
}

static int on_progress(void *user, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct xfer *x = user;
	struct pollfd p = {.fd = x->r->cancel_fd, .events = POLLIN};

	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	if (x->r->cancel_fd >= 0 && poll(&p, 1, 0) > 0) {
		x->cancelled = 1;
		return 1;
	}
	return 0;
}

/*
 * curl_easy_perform, woken at once by the cancel fd. (libcurl calls the
 * progress function, where a cancel used to be noticed, about once a second
 * while a transfer waits: the end of an execution waited that long.)
 */
static CURLcode perform(CURL *c, struct xfer *x)
{
	int cfd = x->r->cancel_fd, running = 1, left;
	CURLcode cc = CURLE_OUT_OF_MEMORY;
	CURLM *m = curl_multi_init();
	CURLMsg *msg;

	if (!m)
		return cc;
	if (curl_multi_add_handle(m, c) != CURLM_OK) {
		curl_multi_cleanup(m);
		return cc;
	}
	cc = CURLE_RECV_ERROR;
	for (;;) {
		struct curl_waitfd w = {.fd = cfd, .events = CURL_WAIT_POLLIN};

		if (curl_multi_perform(m, &running) != CURLM_OK || !running)
			break;
		if (curl_multi_poll(m, cfd >= 0 ? &w : NULL, cfd >= 0 ? 1 : 0, 1000, NULL) !=
		    CURLM_OK)
			break;
		if (cfd >= 0 && w.revents) {
			x->cancelled = 1;
			cc = CURLE_ABORTED_BY_CALLBACK;
			goto out;
		}
	}
	while ((msg = curl_multi_info_read(m, &left)))
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == c)
			cc = msg->data.result;
out:
	curl_multi_remove_handle(m, c);
	curl_multi_cleanup(m);
	return cc;
}

/* Request headers the code may not set: hop-by-hop, proxy, and what cact sets itself. */
static int dropped_header(const char *name)
{
	static const char *const drop[] = {"connection",
					   "keep-alive",
					   "proxy-authorization",
					   "proxy-authenticate",
					   "proxy-connection",
					   "te",
					   "trailer",
					   "transfer-encoding",
					   "upgrade",
					   "host",
					   "content-length",
					   "accept-encoding"};
	size_t i;

	for (i = 0; i < UT_ARRAY_SIZE(drop); i++)
		if (strcasecmp(name, drop[i]) == 0)
			return 1;
	return 0;
}

/* Builds the curl header list; refuses names and values with CR, LF or NUL. */
static int header_list(const struct cact_request *req, json_t *headers, int cross_origin,
		       int drop_content, struct curl_slist **out, int *has_ua, char *why,
		       size_t wsize)
{
	struct curl_slist *list = NULL, *grown;
	const char *name;
	json_t *v;

	*has_ua = 0;
	json_object_foreach(headers, name, v) {
		const char *value = json_string_value(v);
		char *line;
		size_t i, n;

		if (!value) {
			ut_snprintf(why, wsize, "header %.64s is not a string", name);
			goto fail;
		}
		for (i = 0; name[i]; i++)
			if (!(name[i] > 0x20 && name[i] < 0x7f &&
			      !strchr("()<>@,;:\\\"/[]?={}", name[i]))) {
				ut_snprintf(why, wsize, "bad header name %.64s", name);
				goto fail;
			}
		if (i == 0 || strpbrk(value, "\r\n") || strlen(value) != json_string_length(v)) {
			ut_snprintf(why, wsize, "header %.64s has a line break or NUL", name);
			goto fail;
		}
		if (dropped_header(name))
			continue;
		/* A redirect that made the request a GET left its body, and the body's headers, behind. */
		if (drop_content && strncasecmp(name, "content-", 8) == 0)
			continue;
		/*
		 * Credentials stay with the origin they were meant for, and cact
		 * cannot tell which headers carry them (X-Api-Key, X-Auth-Token,
		 * ...): a hop to another origin gets none of the code's headers
		 * but the Content-Type of a body that goes along (307, 308), and
		 * those the operator let through (redirect_headers).
		 */
		if (cross_origin && strcasecmp(name, "content-type") != 0 &&
		    !rt_request_redirect_header_ok(req, name))
			continue;
		if (strcasecmp(name, "user-agent") == 0)
			*has_ua = 1;
		n = strlen(name) + strlen(value) + 3;
		line = malloc(n);
		if (!line)
			goto fail;
		/* "Name;" sends an empty value; "Name:" would remove curl's own header. */
		if (*value)
			ut_snprintf(line, n, "%s: %s", name, value);
		else
			ut_snprintf(line, n, "%s;", name);
		grown = curl_slist_append(list, line);
		free(line);
		if (!grown)
			goto fail;
		list = grown;
	}
	*out = list;
	return 0;
fail:
	curl_slist_free_all(list);
	return -1;
}

/* One hop. Returns 0 (a response), -1 denied, -2 failed; why set on error. */
static int hop(const struct net_request *r, const struct net_url *u, const char *method,
	       const unsigned char *body, size_t body_len, int has_body, json_t *req_headers,
	       int cross_origin, struct xfer *x, long *status, char **location, char *why,
	       size_t wsize)
{
	const struct rt_domain *d;
	struct addrs as;
	struct curl_slist *hdrs = NULL, *pins = NULL;
	char errbuf[CURL_ERROR_SIZE] = "", pin[NET_HOST_MAX + 64 + NET_MAX_ADDRS * 48];
	char *url = NULL;
	CURL *c = NULL;
	CURLcode cc;
	uint64_t now = ut_now_us(), left;
	size_t i, used;
	int has_ua, rc = -2;

	*location = NULL;
	d = net_match(r->req->domains, r->req->n_domains, u, method, why, wsize);
	if (!d)
		return -1;
	rc = resolve(r, u, d->target, &as, why, wsize);
	if (rc)
		return rc == -2 ? -1 : -2;
	x->as = &as;
	rc = -2;
	if (header_list(r->req, req_headers, cross_origin, x->drop_content, &hdrs, &has_ua, why,
			wsize))
		return -1;
	url = net_url_format(u);
	c = curl_easy_init();
	if (!url || !c) {
		ut_snprintf(why, wsize, "out of memory");
		goto out;
	}
	/* Pin the name to the checked addresses: curl does no resolving of its own. */
	if (u->kind == NET_NAME) {
		used = (size_t)snprintf(pin, sizeof(pin), "%s:%u:", u->host, u->port);
		for (i = 0; i < as.n && used < sizeof(pin); i++) {
			char text[INET6_ADDRSTRLEN];
			const struct sockaddr *sa = (const struct sockaddr *)&as.a[i];

			addr_text(sa, text, sizeof(text));
			used += (size_t)snprintf(pin + used, sizeof(pin) - used,
						 sa->sa_family == AF_INET6 ? "%s[%s]" : "%s%s",
						 i ? "," : "", text);
		}
		pins = curl_slist_append(NULL, pin);
		if (!pins) {
			ut_snprintf(why, wsize, "out of memory");
			goto out;
		}
	}
	if (!has_ua) {
		struct curl_slist *g = curl_slist_append(hdrs, "User-Agent: " USER_AGENT);

		if (!g) {
			ut_snprintf(why, wsize, "out of memory");
			goto out;
		}
		hdrs = g;
	}
	left = r->deadline_us > now ? (r->deadline_us - now) / 1000 : 1;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (r->req->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, r->req->ca_file);
	/* The environment's proxies do not apply; the operator's does. */
	curl_easy_setopt(c, CURLOPT_PROXY, r->req->proxy ? r->req->proxy : "");
	if (pins)
		curl_easy_setopt(c, CURLOPT_RESOLVE, pins);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, x);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(timeout_ms(r) < left ? timeout_ms(r) : left));
	/* First byte and idle: no progress for the HTTP timeout ends the request. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)((timeout_ms(r) + 999) / 1000));
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)left);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
	if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
		if (has_body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
		    strcmp(method, "PATCH") == 0) {
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
		}
	}
	if (body_len && spend(x, body_len)) {
		ut_snprintf(why, wsize, "the execution's network byte budget is spent");
		goto out;
	}
	cc = perform(c, x);
	{
		curl_off_t sent = 0;

		if (curl_easy_getinfo(c, CURLINFO_SIZE_UPLOAD_T, &sent) == CURLE_OK && sent > 0)
			x->bytes_out = (uint64_t)sent;
	}
	if (cc != CURLE_OK) {
		if (x->bad_address)
			ut_snprintf(why, wsize, "connection to an unchecked address refused");
		else if (x->cancelled)
			ut_snprintf(why, wsize, "cancelled: the execution ended");
		else if (x->too_many_headers)
			ut_snprintf(why, wsize, "more than %d response headers or %d bytes of them",
				    NET_MAX_HEADERS, NET_MAX_HEADER_BYTES);
		else if (x->over_budget)
			ut_snprintf(why, wsize, "the execution's network byte budget is spent");
		else if (cc == CURLE_WRITE_ERROR && x->body.len + CURL_MAX_WRITE_SIZE > x->body.max)
			ut_snprintf(why, wsize, "response body larger than %zu bytes", x->body.max);
		else
			ut_snprintf(why, wsize, "%s: %s", curl_easy_strerror(cc),
				    errbuf[0] ? errbuf : "no details");
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	/* The body was decoded (gzip, ...) and is whole: the headers say so. */
	json_object_del(x->headers, "content-encoding");
	json_object_del(x->headers, "transfer-encoding");
	if (strcmp(method, "HEAD") != 0) {
		char len[32];

		ut_snprintf(len, sizeof(len), "%zu", x->body.len);
		json_object_set_new(x->headers, "content-length", json_string(len));
	}
	if (*status >= 300 && *status < 400) {
		json_t *loc = json_object_get(x->headers, "location");

		if (json_is_string(loc))
			*location = strdup(json_string_value(loc));
	}
	rc = 0;
out:
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	curl_slist_free_all(pins);
	free(url);
	return rc;
}

/* Takes one request from the execution's allowance: 0, or -1 when none is left. */
static int take_request(const struct net_request *r)
{
	uint64_t left;

	if (!r->requests_left)
		return 0;
	left = atomic_load(r->requests_left);
	while (left > 0)
		if (atomic_compare_exchange_weak(r->requests_left, &left, left - 1))
			return 0;
	return -1;
}

static int same_origin(const struct net_url *a, const struct net_url *b)
{
	return strcmp(a->scheme, b->scheme) == 0 && strcmp(a->host, b->host) == 0 &&
	       a->port == b->port;
}

int net_fetch(const struct net_request *r, struct net_response *resp)
{
	struct net_url u = {0}, next = {0};
	struct cact_error err = {0};
	char method[16], why[CACT_ERROR_MAX] = "";
	const unsigned char *body = r->body;
	size_t body_len = r->body_len;
	int has_body = r->has_body, cross = 0, switched = 0, rc = -2;

	memset(resp, 0, sizeof(*resp));
	ut_snprintf(method, sizeof(method), "%s", r->method);
	if (net_global_init(&err) || net_url_parse(r->url, &u, &err)) {
		struct rt_http *h = &resp->hops[resp->n_hops++];

		ut_snprintf(resp->error, sizeof(resp->error), "%s", err.message);
		ut_snprintf(h->method, sizeof(h->method), "%s", method);
		h->url = strndup(r->url, 2048);
		h->error = strdup(err.message);
		resp->denied = 1; /* a URL cact will not read is refused, like a forbidden one */
		return CACT_EINVAL;
	}
	for (;;) {
		struct rt_http *h = &resp->hops[resp->n_hops++];
		struct xfer x = {.r = r, .drop_content = switched};
		char *location = NULL;
		long status = 0;

		ut_snprintf(h->method, sizeof(h->method), "%s", method);
		h->url = net_url_format(&u);
		x.headers = json_object();
		ut_buf_init(&x.body, r->req->limits[CACT_LIMIT_HTTP_BODY_BYTES]);
		if (!x.headers) {
			rc = -2;
			ut_snprintf(why, sizeof(why), "out of memory");
		} else if (take_request(r)) {
			rc = -1;
			ut_snprintf(why, sizeof(why),
				    "the limit of %llu HTTP requests per execution is reached",
				    (unsigned long long)r->req->limits[CACT_LIMIT_HTTP_REQUESTS]);
		} else {
			rc = hop(r, &u, method, body, body_len, has_body, r->headers, cross, &x,
				 &status, &location, why, sizeof(why));
		}
		h->allowed = rc != -1;
		h->status = (int)status;
		h->bytes_in = x.bytes_in;
		h->bytes_out = x.bytes_out;
		if (rc) {
			h->error = strdup(why);
			json_decref(x.headers);
			ut_buf_reset(&x.body);
			break;
		}
		if (location) {
			if (resp->n_hops > NET_MAX_REDIRECTS) {
				ut_snprintf(why, sizeof(why), "more than %d redirects",
					    NET_MAX_REDIRECTS);
				h->error = strdup(why);
				rc = -2;
			} else if (net_url_resolve(&u, location, &next, &err)) {
				ut_snprintf(why, sizeof(why), "bad redirect: %s", err.message);
				h->error = strdup(why);
				rc = -1;
			}
			free(location);
			json_decref(x.headers);
			ut_buf_reset(&x.body);
			if (rc)
				break;
			/* 303, and 301/302 after POST, turn into GET without a body, as browsers do. */
			if ((status == 303 && strcmp(method, "HEAD") != 0) ||
			    ((status == 301 || status == 302) && strcmp(method, "POST") == 0)) {
				ut_snprintf(method, sizeof(method), "GET");
				body = NULL;
				body_len = 0;
				has_body = 0;
				switched = 1;
			}
			cross |= !same_origin(&u, &next);
			net_url_clear(&u);
			u = next;
			memset(&next, 0, sizeof(next));
			continue;
		}
		resp->status = (int)status;
		resp->headers = x.headers;
		resp->body = (unsigned char *)ut_buf_steal(&x.body, &resp->body_len);
		resp->final_url = net_url_format(&u);
		break;
	}
	net_url_clear(&u);
	net_url_clear(&next);
	if (rc) {
		resp->denied = rc == -1;
		ut_snprintf(resp->error, sizeof(resp->error), "%s", why);
		return rc == -1 ? CACT_EINVAL : CACT_ESYS;
	}
	return 0;
}
