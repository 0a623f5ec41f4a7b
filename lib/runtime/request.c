/* SPDX-License-Identifier: MIT */
/* The execution request: code, /input contents, limits. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <unistd.h>

#include "../net/net.h"
#include "../util/text.h"
#include "../util/util.h"
#include "rt.h"

#define KIB	     1024ull
#define MIB	     (1024ull * 1024)
#define GIB	     (1024ull * 1024 * 1024)
#define MAX_MOUNTS   256
#define MAX_RESOLVES 256

static const struct {
	const char *name;
	uint64_t dflt, min, max;
} limits[CACT_LIMIT__COUNT] = {
	[CACT_LIMIT_TIMEOUT_MS] = {"timeout_ms", 30000, 1, 24ull * 3600 * 1000},
	[CACT_LIMIT_MEMORY_BYTES] = {"memory_bytes", 512 * MIB, 16 * MIB, 1024 * GIB},
	[CACT_LIMIT_STDOUT_BYTES] = {"stdout_bytes", 1 * MIB, 1 * KIB, 1 * GIB},
	[CACT_LIMIT_STDERR_BYTES] = {"stderr_bytes", 1 * MIB, 1 * KIB, 1 * GIB},
	[CACT_LIMIT_OUTPUT_FILES] = {"output_files", 1000, 1, 100000},
	/* tmpfs reads size=0 as "no limit": never allow it. */
	[CACT_LIMIT_OUTPUT_BYTES] = {"output_bytes", 64 * MIB, 4 * KIB, 16 * GIB},
	[CACT_LIMIT_OUTPUT_DEPTH] = {"output_depth", 16, 1, 64},
	[CACT_LIMIT_TMP_BYTES] = {"tmp_bytes", 64 * MIB, 4 * KIB, 16 * GIB},
	[CACT_LIMIT_OPEN_FILES] = {"open_files", 256, 16, 65536},
	[CACT_LIMIT_THREADS] = {"threads", 64, 1, 4096},
	[CACT_LIMIT_CODE_BYTES] = {"code_bytes", 10 * MIB, 1, 64 * MIB},
	[CACT_LIMIT_TOOL_CALLS] = {"tool_calls", 1000, 0, 1000000},
	[CACT_LIMIT_TOOL_ARGS_BYTES] = {"tool_args_bytes", 1 * MIB, 64, 3 * MIB},
	[CACT_LIMIT_TOOL_RESULT_BYTES] = {"tool_result_bytes", 1 * MIB, 64, 3 * MIB},
	[CACT_LIMIT_HTTP_TIMEOUT_MS] = {"http_timeout_ms", 30000, 100, 600000},
	[CACT_LIMIT_HTTP_BODY_BYTES] = {"http_body_bytes", 16 * MIB, 1 * KIB, 256 * MIB},
	[CACT_LIMIT_HTTP_BYTES] = {"http_bytes", 64 * MIB, 1 * KIB, 16 * GIB},
	[CACT_LIMIT_HTTP_REQUESTS] = {"http_requests", 1000, 0, 1000000},
};

CACT_API const char *cact_limit_name(enum cact_limit which)
{
	return (unsigned)which < CACT_LIMIT__COUNT ? limits[which].name : NULL;
}

CACT_API uint64_t cact_limit_default(enum cact_limit which)
{
	return (unsigned)which < CACT_LIMIT__COUNT ? limits[which].dflt : 0;
}

CACT_API uint64_t cact_limit_min(enum cact_limit which)
{
	return (unsigned)which < CACT_LIMIT__COUNT ? limits[which].min : 0;
}

CACT_API uint64_t cact_limit_max(enum cact_limit which)
{
	return (unsigned)which < CACT_LIMIT__COUNT ? limits[which].max : 0;
}

CACT_API int cact_request_new(struct cact_request **out)
{
	struct cact_request *r = calloc(1, sizeof(*r));
	size_t i;

	*out = NULL;
	if (!r)
		return CACT_ENOMEM;
	for (i = 0; i < CACT_LIMIT__COUNT; i++)
		r->limits[i] = limits[i].dflt;
	r->cancel_fd = -1;
	*out = r;
	return 0;
}

static void mount_clear(struct rt_mount *m)
{
	free(m->host);
	free(m->guest);
	memset(m, 0, sizeof(*m));
}

CACT_API void cact_request_free(struct cact_request *req)
{
	size_t i;

	if (!req)
		return;
	free(req->code);
	mount_clear(&req->workspace);
	for (i = 0; i < req->n_mounts; i++)
		mount_clear(&req->mounts[i]);
	free(req->mounts);
	cact_request_clear_tools(req);
	free(req->tools);
	for (i = 0; i < req->n_domains; i++) {
		free(req->domains[i].target);
		free(req->domains[i].methods);
	}
	free(req->domains);
	free(req->ca_file);
	free(req->proxy);
	free(req->redirect_headers);
	cact_request_clear_resolve(req);
	free(req->resolves);
	free(req);
}

CACT_API int cact_request_set_code(struct cact_request *req, const char *code, size_t len,
				   struct cact_error *err)
{
	char *copy;

	if (!code)
		return ut_err(err, CACT_EINVAL, "code is NULL");
	if (len > req->limits[CACT_LIMIT_CODE_BYTES])
		return ut_err(err, CACT_ETOOBIG, "code is larger than %llu bytes",
			      (unsigned long long)req->limits[CACT_LIMIT_CODE_BYTES]);
	if (memchr(code, '\0', len))
		return ut_err(err, CACT_EINVAL, "code contains a NUL byte");
	copy = malloc(len + 1);
	if (!copy)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	memcpy(copy, code, len);
	copy[len] = '\0';
	free(req->code);
	req->code = copy;
	req->code_len = len;
	req->has_code = 1;
	return 0;
}

CACT_API int cact_mount_path_normalize(const char *path, char *out, size_t out_size,
				       struct cact_error *err)
{
	char buf[PATH_MAX];
	char *parts[PATH_MAX / 2];
	size_t n = 0, i, used;
	const char *p;
	char *s, *save = NULL;
	int blank = 1;

	if (!path)
		return ut_err(err, CACT_EINVAL, "mount path is missing");
	for (p = path; *p; p++)
		if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			blank = 0;
	if (blank)
		return ut_err(err, CACT_EINVAL, "mount path is blank");
	if (ut_snprintf(buf, sizeof(buf), "%s", path) < 0)
		return ut_err(err, CACT_ETOOBIG, "mount path is too long");
	for (s = buf; *s; s++)
		if (*s == '\\')
			*s = '/';
	for (s = strtok_r(buf, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
		if (strcmp(s, ".") == 0)
			continue;
		if (strcmp(s, "..") == 0)
			return ut_err(err, CACT_EINVAL, "mount path %s must stay within /input",
				      path);
		parts[n++] = s;
	}
	i = 0;
	if (n > 0 && strcmp(parts[0], "input") == 0)
		i = 1;
	if (i == n)
		return ut_err(err, CACT_EINVAL, "mount path %s names no file under /input", path);
	used = 0;
	if (ut_snprintf(out, out_size, "/input") < 0)
		return ut_err(err, CACT_ETOOBIG, "mount path is too long");
	used = strlen(out);
	for (; i < n; i++) {
		int w = ut_snprintf(out + used, out_size - used, "/%s", parts[i]);

		if (w < 0)
			return ut_err(err, CACT_ETOOBIG, "mount path is too long");
		used += (size_t)w;
	}
	return 0;
}

/* Resolves host into m (path, dev, ino, kind). */
static int resolve(const char *host, struct rt_mount *m, int want_dir, struct cact_error *err)
{
	char real[PATH_MAX];
	struct stat st;

	if (!host || !*host)
		return ut_err(err, CACT_EINVAL, "host path is empty");
	if (!realpath(host, real))
		return ut_err_sys(err, errno == ENOENT ? CACT_ENOENT : CACT_EINVAL, errno,
				  "cannot use %s", host);
	if (lstat(real, &st))
		return ut_err_sys(err, CACT_ENOENT, errno, "cannot use %s", host);
	if (want_dir && !S_ISDIR(st.st_mode))
		return ut_err(err, CACT_EINVAL, "%s is not a folder", host);
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
		return ut_err(err, CACT_EINVAL, "%s is neither a regular file nor a folder", host);
	if (strcmp(real, "/") == 0 && !want_dir)
		return ut_err(err, CACT_EINVAL, "cannot mount /");
	m->host = strdup(real);
	if (!m->host)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	m->dev = st.st_dev;
	m->ino = st.st_ino;
	m->is_dir = S_ISDIR(st.st_mode);
	return 0;
}

CACT_API int cact_request_set_workspace(struct cact_request *req, const char *dir,
					struct cact_error *err)
{
	struct rt_mount m = {0};
	int rc;

	if (!dir) {
		mount_clear(&req->workspace);
		req->has_workspace = 0;
		return 0;
	}
	if ((rc = resolve(dir, &m, 1, err)))
		return rc;
	if (strcmp(m.host, "/") == 0) {
		mount_clear(&m);
		return ut_err(err, CACT_EINVAL, "the workspace cannot be /");
	}
	mount_clear(&req->workspace);
	req->workspace = m;
	req->has_workspace = 1;
	return 0;
}

/* 1 when a is b or one of its parent folders (component-wise). */
static int contains(const char *a, const char *b)
{
	size_t n = strlen(a);

	return strncmp(a, b, n) == 0 && (b[n] == '\0' || b[n] == '/');
}

static ssize_t find_mount(const struct cact_request *req, const char *guest)
{
	size_t i;

	for (i = 0; i < req->n_mounts; i++)
		if (strcmp(req->mounts[i].guest, guest) == 0)
			return (ssize_t)i;
	return -1;
}

CACT_API int cact_request_add_mount(struct cact_request *req, const char *host, const char *guest,
				    struct cact_error *err)
{
	char norm[PATH_MAX];
	struct rt_mount m = {0};
	ssize_t at;
	size_t i;
	int rc;

	if ((rc = cact_mount_path_normalize(guest ? guest : host, norm, sizeof(norm), err)))
		return rc;
	at = find_mount(req, norm);
	for (i = 0; i < req->n_mounts; i++) {
		if ((ssize_t)i == at)
			continue;
		if (contains(req->mounts[i].guest, norm) || contains(norm, req->mounts[i].guest))
			return ut_err(err, CACT_EINVAL, "mount %s overlaps mount %s", norm,
				      req->mounts[i].guest);
	}
	if (at < 0 && req->n_mounts >= MAX_MOUNTS)
		return ut_err(err, CACT_EINVAL, "too many mounts (at most %d)", MAX_MOUNTS);
	if ((rc = resolve(host, &m, 0, err)))
		return rc;
	m.guest = strdup(norm);
	if (!m.guest) {
		mount_clear(&m);
		return ut_err(err, CACT_ENOMEM, "out of memory");
	}
	if (at >= 0) {
		/* Same mount path: the new mount replaces the old one. */
		mount_clear(&req->mounts[at]);
		req->mounts[at] = m;
		return 0;
	}
	if (!req->mounts) {
		req->mounts = calloc(MAX_MOUNTS, sizeof(*req->mounts));
		if (!req->mounts) {
			mount_clear(&m);
			return ut_err(err, CACT_ENOMEM, "out of memory");
		}
	}
	req->mounts[req->n_mounts++] = m;
	return 0;
}

CACT_API int cact_request_remove_mount(struct cact_request *req, const char *guest,
				       struct cact_error *err)
{
	char norm[PATH_MAX];
	ssize_t at;
	int rc;

	if ((rc = cact_mount_path_normalize(guest, norm, sizeof(norm), err)))
		return rc;
	at = find_mount(req, norm);
	if (at < 0)
		return ut_err(err, CACT_ENOENT, "no mount at %s", norm);
	mount_clear(&req->mounts[at]);
	memmove(&req->mounts[at], &req->mounts[at + 1],
		(req->n_mounts - (size_t)at - 1) * sizeof(*req->mounts));
	req->n_mounts--;
	return 0;
}

CACT_API int cact_request_set_limit(struct cact_request *req, enum cact_limit which, uint64_t value,
				    struct cact_error *err)
{
	if ((unsigned)which >= CACT_LIMIT__COUNT)
		return ut_err(err, CACT_EINVAL, "unknown limit %d", (int)which);
	if (value < limits[which].min || value > limits[which].max)
		return ut_err(err, CACT_EINVAL, "%s must be between %llu and %llu, not %llu",
			      limits[which].name, (unsigned long long)limits[which].min,
			      (unsigned long long)limits[which].max, (unsigned long long)value);
	req->limits[which] = value;
	return 0;
}

CACT_API uint64_t cact_request_limit(const struct cact_request *req, enum cact_limit which)
{
	return (unsigned)which < CACT_LIMIT__COUNT ? req->limits[which] : 0;
}

static json_t *mount_json(const struct rt_mount *m)
{
	return json_pack("{s:s, s:s?, s:I, s:I, s:b}", "host", m->host, "guest", m->guest, "dev",
			 (json_int_t)m->dev, "ino", (json_int_t)m->ino, "dir", m->is_dir);
}

/* Limits that shape the sandbox itself, and so belong to the prepare frame. */
static const enum cact_limit shape[] = {
	CACT_LIMIT_OUTPUT_BYTES,
	CACT_LIMIT_OUTPUT_FILES,
	CACT_LIMIT_TMP_BYTES,
	CACT_LIMIT_THREADS,
};

json_t *rt_prepare_frame(const struct cact_request *req)
{
	json_t *mounts = NULL, *lim = NULL, *ws = NULL;
	size_t i;

	mounts = json_array();
	lim = json_object();
	if (!mounts || !lim)
		goto fail;
	for (i = 0; i < req->n_mounts; i++)
		if (json_array_append_new(mounts, mount_json(&req->mounts[i])))
			goto fail;
	for (i = 0; i < UT_ARRAY_SIZE(shape); i++)
		if (json_object_set_new(lim, limits[shape[i]].name,
					json_integer((json_int_t)req->limits[shape[i]])))
			goto fail;
	ws = req->has_workspace ? mount_json(&req->workspace) : json_null();
	if (!ws)
		goto fail;
	return json_pack("{s:s, s:o, s:o, s:o}", "type", "prepare", "workspace", ws, "mounts",
			 mounts, "limits", lim);
fail:
	json_decref(mounts);
	json_decref(lim);
	return NULL;
}

json_t *rt_exec_frame(const struct cact_request *req)
{
	json_t *lim = json_object();
	size_t i;

	if (!lim)
		return NULL;
	for (i = 0; i < CACT_LIMIT__COUNT; i++) {
		if (json_object_set_new(lim, limits[i].name,
					json_integer((json_int_t)req->limits[i]))) {
			json_decref(lim);
			return NULL;
		}
	}
	return json_pack("{s:s, s:s%, s:o, s:b}", "type", "exec", "code", req->code, req->code_len,
			 "limits", lim, "network", req->n_domains > 0);
}

CACT_API const char *cact_request_workspace(const struct cact_request *req)
{
	return req->has_workspace ? req->workspace.host : NULL;
}

CACT_API size_t cact_request_mount_count(const struct cact_request *req)
{
	return req->n_mounts;
}

CACT_API int cact_request_mount(const struct cact_request *req, size_t i, const char **host,
				const char **guest)
{
	if (i >= req->n_mounts)
		return CACT_EINVAL;
	if (host)
		*host = req->mounts[i].host;
	if (guest)
		*guest = req->mounts[i].guest;
	return 0;
}

/* ---- tools ---- */

static ssize_t find_tool(const struct cact_request *req, const char *name)
{
	size_t i;

	for (i = 0; i < req->n_tools; i++)
		if (strcmp(cact_tool_name(req->tools[i]), name) == 0)
			return (ssize_t)i;
	return -1;
}

CACT_API int cact_request_add_tool(struct cact_request *req, struct cact_tool *tool,
				   struct cact_error *err)
{
	struct cact_tool **grown;
	ssize_t at;

	if (!tool)
		return ut_err(err, CACT_EINVAL, "tool is NULL");
	at = find_tool(req, cact_tool_name(tool));
	if (at >= 0) {
		/* Replace, and move to the end: the newest definition of a name comes last. */
		struct cact_tool *old = req->tools[at];

		memmove(&req->tools[at], &req->tools[at + 1],
			(req->n_tools - (size_t)at - 1) * sizeof(*req->tools));
		req->tools[req->n_tools - 1] = cact_tool_ref(tool);
		cact_tool_unref(old);
		return 0;
	}
	grown = realloc(req->tools, (req->n_tools + 1) * sizeof(*grown));
	if (!grown)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	req->tools = grown;
	req->tools[req->n_tools++] = cact_tool_ref(tool);
	return 0;
}

CACT_API int cact_request_remove_tool(struct cact_request *req, const char *name,
				      struct cact_error *err)
{
	ssize_t at = name ? find_tool(req, name) : -1;
	struct cact_tool *old;

	if (at < 0)
		return ut_err(err, CACT_ENOENT, "no tool named '%s'", name ? name : "(null)");
	old = req->tools[at];
	memmove(&req->tools[at], &req->tools[at + 1],
		(req->n_tools - (size_t)at - 1) * sizeof(*req->tools));
	req->n_tools--;
	cact_tool_unref(old);
	return 0;
}

CACT_API void cact_request_clear_tools(struct cact_request *req)
{
	while (req->n_tools > 0)
		cact_tool_unref(req->tools[--req->n_tools]);
}

CACT_API size_t cact_request_tool_count(const struct cact_request *req)
{
	return req->n_tools;
}

CACT_API struct cact_tool *cact_request_tool(const struct cact_request *req, size_t i)
{
	return i < req->n_tools ? req->tools[i] : NULL;
}

CACT_API void cact_request_set_approval(struct cact_request *req, int per_call, cact_approval_fn fn,
					void *user)
{
	req->per_call = !!per_call;
	req->approve_fn = fn;
	req->approve_user = user;
}

/* ---- allowed domains ---- */

#define MAX_DOMAINS 1024
#define MAX_METHODS 16

static const char *const http_methods[] = {"DELETE", "GET",  "HEAD", "OPTIONS",
					   "PATCH",  "POST", "PUT"};

static int host_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

CACT_API int cact_domain_normalize(const char *target, char *out, size_t out_size,
				   struct cact_error *err)
{
	char buf[512];
	char *start, *end, *p, *host, *port = NULL;
	size_t n;

	if (!target)
		return ut_err(err, CACT_EINVAL, "allowed domain is missing");
	while (*target == ' ' || *target == '\t')
		target++;
	if (ut_snprintf(buf, sizeof(buf), "%s", target) < 0)
		return ut_err(err, CACT_EINVAL, "allowed domain is too long");
	for (n = strlen(buf); n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t'); n--)
		buf[n - 1] = '\0';
	if (!buf[0])
		return ut_err(err, CACT_EINVAL, "allowed domain is empty");
	start = strstr(buf, "://");
	if (start) {
		for (p = buf; p < start; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '+' ||
			      *p == '-' || *p == '.' || (p > buf && *p >= '0' && *p <= '9')))
				return ut_err(err, CACT_EINVAL, "allowed domain %s: bad scheme",
					      target);
		start += 3;
	} else {
		start = buf;
	}
	/* The authority ends at the path, query or fragment. */
	end = start + strcspn(start, "/?#");
	*end = '\0';
	if (strchr(start, '@'))
		return ut_err(err, CACT_EINVAL, "allowed domain %s: user info is not allowed",
			      target);
	for (p = start; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	host = start;
	if (*host == '[') {
		/* An IPv6 literal: [hex:...] then an optional port. */
		char *close = strchr(host, ']');

		if (!close || close == host + 1)
			return ut_err(err, CACT_EINVAL, "allowed domain %s: bad IPv6 literal",
				      target);
		for (p = host + 1; p < close; p++)
			if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || *p == ':' ||
			      *p == '.'))
				return ut_err(err, CACT_EINVAL,
					      "allowed domain %s: bad IPv6 literal", target);
		{
			char v6[64];
			unsigned char bin[16];

			if ((size_t)(close - host - 1) >= sizeof(v6))
				return ut_err(err, CACT_EINVAL,
					      "allowed domain %s: bad IPv6 literal", target);
			memcpy(v6, host + 1, (size_t)(close - host - 1));
			v6[close - host - 1] = '\0';
			if (inet_pton(AF_INET6, v6, bin) != 1)
				return ut_err(err, CACT_EINVAL,
					      "allowed domain %s: bad IPv6 literal", target);
		}
		if (close[1] == ':')
			port = close + 2;
		else if (close[1])
			return ut_err(err, CACT_EINVAL, "allowed domain %s: junk after ']'",
				      target);
		close[1] = '\0';
	} else {
		port = strchr(host, ':');
		if (port)
			*port++ = '\0';
		n = strlen(host);
		if (strstr(host, ".."))
			return ut_err(err, CACT_EINVAL, "allowed domain %s: empty label", target);
		if (n > 1 && host[n - 1] == '.')
			host[--n] = '\0'; /* "example.com." names "example.com" */
		if (n == 0)
			return ut_err(err, CACT_EINVAL, "allowed domain %s: no host", target);
		for (p = host; *p; p++) {
			if (*p == '*' && p == host && p[1] == '.' && p[2])
				continue; /* "*.example.com": its subdomains */
			if (!host_char((unsigned char)*p))
				return ut_err(
					err, CACT_EINVAL,
					"allowed domain %s: '%c' is not allowed in a host name",
					target, *p);
		}
		if (strstr(host, ".."))
			return ut_err(err, CACT_EINVAL, "allowed domain %s: empty label", target);
		{
			/* The URL parser must read the host as this entry means it (127.1 is refused). */
			struct cact_error why = {0};
			struct net_url u;
			char url[600];

			ut_snprintf(url, sizeof(url), "http://%s%s/", host[0] == '*' ? "x" : "",
				    host[0] == '*' ? host + 1 : host);
			if (net_url_parse(url, &u, &why))
				return ut_err(err, CACT_EINVAL, "allowed domain %s: %s", target,
					      why.message);
			net_url_clear(&u);
		}
	}
	if (port) {
		uint64_t v;

		if (ut_parse_u64(port, &v) || v == 0 || v > 65535)
			return ut_err(err, CACT_EINVAL, "allowed domain %s: bad port", target);
		if (ut_snprintf(out, out_size, "%s:%llu", host, (unsigned long long)v) < 0)
			return ut_err(err, CACT_ETOOBIG, "allowed domain is too long");
		return 0;
	}
	if (ut_snprintf(out, out_size, "%s", host) < 0)
		return ut_err(err, CACT_ETOOBIG, "allowed domain is too long");
	return 0;
}

/* Normalized, sorted, comma-joined methods; NULL (all) when n == 0. */
static int normalize_methods(const char *target, const char *const *methods, size_t n, char **out,
			     struct cact_error *err)
{
	int used[UT_ARRAY_SIZE(http_methods)] = {0};
	char joined[128] = "";
	size_t i, k, len = 0;

	*out = NULL;
	if (!methods || n == 0)
		return 0;
	if (n > MAX_METHODS)
		return ut_err(err, CACT_EINVAL, "allowed domain %s: more than %d methods", target,
			      MAX_METHODS);
	for (i = 0; i < n; i++) {
		char m[32];
		const char *s = methods[i];
		size_t j = 0;

		if (!s)
			return ut_err(err, CACT_EINVAL, "allowed domain %s: method is NULL",
				      target);
		while (*s == ' ')
			s++;
		for (; *s && *s != ' ' && j < sizeof(m) - 1; s++)
			m[j++] = (char)((*s >= 'a' && *s <= 'z') ? *s - 'a' + 'A' : *s);
		m[j] = '\0';
		while (*s == ' ')
			s++;
		if (*s || j == 0)
			return ut_err(err, CACT_EINVAL, "allowed domain %s: bad method '%s'",
				      target, methods[i]);
		if (strcmp(m, "CONNECT") == 0 || strcmp(m, "TRACE") == 0)
			return ut_err(err, CACT_EINVAL, "allowed domain %s: %s is never allowed",
				      target, m);
		for (k = 0; k < UT_ARRAY_SIZE(http_methods); k++)
			if (strcmp(m, http_methods[k]) == 0)
				break;
		if (k == UT_ARRAY_SIZE(http_methods))
			return ut_err(err, CACT_EINVAL,
				      "allowed domain %s: '%s' is not an HTTP method", target,
				      methods[i]);
		used[k] = 1;
	}
	/* http_methods is sorted: walking it sorts and de-duplicates. */
	for (k = 0; k < UT_ARRAY_SIZE(http_methods); k++) {
		if (!used[k])
			continue;
		len += (size_t)ut_snprintf(joined + len, sizeof(joined) - len, "%s%s",
					   len ? "," : "", http_methods[k]);
	}
	*out = strdup(joined);
	return *out ? 0 : ut_err(err, CACT_ENOMEM, "out of memory");
}

static ssize_t find_domain(const struct cact_request *req, const char *target, size_t *insert)
{
	size_t lo = 0, hi = req->n_domains;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(req->domains[mid].target, target);

		if (c == 0)
			return (ssize_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (insert)
		*insert = lo;
	return -1;
}

CACT_API int cact_request_add_allowed_domain(struct cact_request *req, const char *target,
					     const char *const *methods, size_t n,
					     struct cact_error *err)
{
	char norm[512];
	char *m = NULL, *t;
	struct rt_domain *grown;
	size_t at;
	ssize_t found;
	int rc;

	if ((rc = cact_domain_normalize(target, norm, sizeof(norm), err)))
		return rc;
	if (methods && n == 0)
		return ut_err(err, CACT_EINVAL, "allowed domain %s: empty method list", norm);
	if ((rc = normalize_methods(norm, methods, n, &m, err)))
		return rc;
	found = find_domain(req, norm, &at);
	if (found >= 0) {
		free(req->domains[found].methods);
		req->domains[found].methods = m;
		return 0;
	}
	if (req->n_domains >= MAX_DOMAINS) {
		free(m);
		return ut_err(err, CACT_EINVAL, "more than %d allowed domains", MAX_DOMAINS);
	}
	t = strdup(norm);
	grown = t ? realloc(req->domains, (req->n_domains + 1) * sizeof(*grown)) : NULL;
	if (!grown) {
		free(t);
		free(m);
		return ut_err(err, CACT_ENOMEM, "out of memory");
	}
	req->domains = grown;
	memmove(&req->domains[at + 1], &req->domains[at],
		(req->n_domains - at) * sizeof(*req->domains));
	req->domains[at].target = t;
	req->domains[at].methods = m;
	req->n_domains++;
	return 0;
}

CACT_API int cact_request_remove_allowed_domain(struct cact_request *req, const char *target,
						struct cact_error *err)
{
	char norm[512];
	ssize_t at;
	int rc;

	if ((rc = cact_domain_normalize(target, norm, sizeof(norm), err)))
		return rc;
	at = find_domain(req, norm, NULL);
	if (at < 0)
		return ut_err(err, CACT_ENOENT, "no allowed domain %s", norm);
	free(req->domains[at].target);
	free(req->domains[at].methods);
	memmove(&req->domains[at], &req->domains[at + 1],
		(req->n_domains - (size_t)at - 1) * sizeof(*req->domains));
	req->n_domains--;
	return 0;
}

CACT_API size_t cact_request_allowed_domain_count(const struct cact_request *req)
{
	return req->n_domains;
}

CACT_API int cact_request_allowed_domain(const struct cact_request *req, size_t i,
					 const char **target, const char **methods)
{
	if (i >= req->n_domains)
		return CACT_EINVAL;
	if (target)
		*target = req->domains[i].target;
	if (methods)
		*methods = req->domains[i].methods;
	return 0;
}

CACT_API void cact_request_set_cancel_fd(struct cact_request *req, int fd)
{
	req->cancel_fd = fd >= 0 ? fd : -1;
}

CACT_API void cact_request_set_output(struct cact_request *req, cact_output_fn fn, void *user)
{
	req->output_fn = fn;
	req->output_user = fn ? user : NULL;
}

CACT_API const char *cact_stream_name(enum cact_stream stream)
{
	switch (stream) {
	case CACT_STREAM_STDOUT:
		return "stdout";
	case CACT_STREAM_STDERR:
		return "stderr";
	}
	return NULL;
}

/* ---- network settings ---- */

static int set_string(char **slot, const char *value)
{
	char *copy = value ? strdup(value) : NULL;

	if (value && !copy)
		return CACT_ENOMEM;
	free(*slot);
	*slot = copy;
	return 0;
}

CACT_API int cact_request_set_ca_file(struct cact_request *req, const char *path,
				      struct cact_error *err)
{
	char *real;
	struct stat st;
	int rc;

	if (!path)
		return set_string(&req->ca_file, NULL);
	real = realpath(path, NULL);
	if (!real)
		return ut_err(err, errno == ENOENT ? CACT_ENOENT : CACT_EINVAL, "CA file %s: %s",
			      path, strerror(errno));
	if (stat(real, &st) || !S_ISREG(st.st_mode) || access(real, R_OK)) {
		free(real);
		return ut_err(err, CACT_EINVAL, "CA file %s is not a readable file", path);
	}
	rc = set_string(&req->ca_file, real);
	free(real);
	return rc ? ut_err(err, rc, "out of memory") : 0;
}

CACT_API const char *cact_request_ca_file(const struct cact_request *req)
{
	return req->ca_file;
}

CACT_API int cact_request_set_proxy(struct cact_request *req, const char *proxy,
				    struct cact_error *err)
{
	struct cact_error why = {0};
	struct net_url u;
	char *canon;
	int rc;

	if (!proxy)
		return set_string(&req->proxy, NULL);
	if (net_url_parse(proxy, &u, &why))
		return ut_err(err, CACT_EINVAL, "proxy: %s", why.message);
	/* Only scheme, host and port mean anything; libcurl reads a missing port as 1080. */
	{
		char auth[NET_HOST_MAX + 16];
		size_t n;

		net_url_authority(&u, 1, auth, sizeof(auth));
		n = strlen(u.scheme) + 3 + strlen(auth) + 1;
		canon = malloc(n);
		if (canon)
			ut_snprintf(canon, n, "%s://%s", u.scheme, auth);
	}
	net_url_clear(&u);
	rc = canon ? set_string(&req->proxy, canon) : CACT_ENOMEM;
	free(canon);
	return rc ? ut_err(err, rc, "out of memory") : 0;
}

CACT_API const char *cact_request_proxy(const struct cact_request *req)
{
	return req->proxy;
}

CACT_API int cact_request_add_resolve(struct cact_request *req, const char *host, const char *addr,
				      struct cact_error *err)
{
	struct cact_error why = {0};
	unsigned char bin[16];
	char canon[INET6_ADDRSTRLEN], url[NET_HOST_MAX + 16], *joined;
	struct net_url u;
	struct rt_resolve *slot = NULL;
	size_t i, n;
	int af;

	if (!host || !addr)
		return ut_err(err, CACT_EINVAL, "resolve needs a host name and an address");
	af = inet_pton(AF_INET, addr, bin) == 1	   ? AF_INET
	     : inet_pton(AF_INET6, addr, bin) == 1 ? AF_INET6
						   : 0;
	if (!af)
		return ut_err(err, CACT_EINVAL, "resolve %s: '%s' is not an IP address", host,
			      addr);
	inet_ntop(af, bin, canon, sizeof(canon));
	if (strpbrk(host, ":/?#"))
		return ut_err(err, CACT_EINVAL, "resolve %s: not a host name", host);
	if (ut_snprintf(url, sizeof(url), "http://%s/", host) < 0 || net_url_parse(url, &u, &why))
		return ut_err(err, CACT_EINVAL, "resolve %s: %s", host,
			      why.message[0] ? why.message : "bad host name");
	if (u.kind != NET_NAME) {
		net_url_clear(&u);
		return ut_err(err, CACT_EINVAL, "resolve %s: not a host name", host);
	}
	for (i = 0; i < req->n_resolves; i++)
		if (strcmp(req->resolves[i].host, u.host) == 0)
			slot = &req->resolves[i];
	if (!slot) {
		if (req->n_resolves == MAX_RESOLVES) {
			net_url_clear(&u);
			return ut_err(err, CACT_EINVAL, "more than %d resolve entries",
				      MAX_RESOLVES);
		}
		if (!req->resolves &&
		    !(req->resolves = calloc(MAX_RESOLVES, sizeof(*req->resolves)))) {
			net_url_clear(&u);
			return ut_err(err, CACT_ENOMEM, "out of memory");
		}
		slot = &req->resolves[req->n_resolves];
		slot->host = strdup(u.host);
		if (!slot->host) {
			net_url_clear(&u);
			return ut_err(err, CACT_ENOMEM, "out of memory");
		}
		req->n_resolves++;
	}
	net_url_clear(&u);
	if (slot->addrs && strlen(slot->addrs) > 15 * INET6_ADDRSTRLEN)
		return ut_err(err, CACT_EINVAL, "resolve %s: too many addresses", host);
	n = (slot->addrs ? strlen(slot->addrs) + 1 : 0) + strlen(canon) + 1;
	joined = malloc(n);
	if (!joined)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	ut_snprintf(joined, n, "%s%s%s", slot->addrs ? slot->addrs : "", slot->addrs ? "," : "",
		    canon);
	free(slot->addrs);
	slot->addrs = joined;
	return 0;
}

CACT_API void cact_request_clear_resolve(struct cact_request *req)
{
	size_t i;

	for (i = 0; i < req->n_resolves; i++) {
		free(req->resolves[i].host);
		free(req->resolves[i].addrs);
		req->resolves[i].host = NULL;
		req->resolves[i].addrs = NULL;
	}
	req->n_resolves = 0;
}

#define MAX_REDIRECT_HEADERS 64

CACT_API int cact_request_add_redirect_header(struct cact_request *req, const char *name,
					      struct cact_error *err)
{
	size_t len = name ? strlen(name) : 0,
	       old = req->redirect_headers ? strlen(req->redirect_headers) : 0;
	size_t i, count = req->redirect_headers ? 1 : 0;
	char *joined;

	if (len == 0 || len > 128)
		return ut_err(err, CACT_EINVAL, "redirect header: a name of 1 to 128 characters");
	for (i = 0; i < len; i++)
		if (!(name[i] > 0x20 && name[i] < 0x7f && !strchr("()<>@,;:\\\"/[]?={}", name[i])))
			return ut_err(err, CACT_EINVAL,
				      "redirect header %.64s: not an HTTP header name", name);
	if (rt_request_redirect_header_ok(req, name))
		return 0;
	for (i = 0; i < old; i++)
		count += req->redirect_headers[i] == ',';
	if (count >= MAX_REDIRECT_HEADERS)
		return ut_err(err, CACT_EINVAL, "more than %d redirect headers",
			      MAX_REDIRECT_HEADERS);
	joined = malloc(old + 1 + len + 1);
	if (!joined)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	if (old) {
		memcpy(joined, req->redirect_headers, old);
		joined[old++] = ',';
	}
	for (i = 0; i < len; i++)
		joined[old + i] = (char)tolower((unsigned char)name[i]);
	joined[old + len] = '\0';
	free(req->redirect_headers);
	req->redirect_headers = joined;
	return 0;
}

CACT_API void cact_request_clear_redirect_headers(struct cact_request *req)
{
	free(req->redirect_headers);
	req->redirect_headers = NULL;
}

CACT_API const char *cact_request_redirect_headers(const struct cact_request *req)
{
	return req->redirect_headers;
}

int rt_request_redirect_header_ok(const struct cact_request *req, const char *name)
{
	const char *p = req->redirect_headers;
	size_t len = strlen(name);

	while (p && *p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);

		if (n == len && strncasecmp(p, name, len) == 0)
			return 1;
		p = comma ? comma + 1 : NULL;
	}
	return 0;
}

const char *rt_request_resolve_override(const struct cact_request *req, const char *host)
{
	size_t i;

	for (i = 0; i < req->n_resolves; i++)
		if (strcmp(req->resolves[i].host, host) == 0)
			return req->resolves[i].addrs;
	return NULL;
}

/* ---- copy ---- */

static int mount_copy(struct rt_mount *dst, const struct rt_mount *src)
{
	*dst = *src;
	dst->host = src->host ? strdup(src->host) : NULL;
	dst->guest = src->guest ? strdup(src->guest) : NULL;
	if ((src->host && !dst->host) || (src->guest && !dst->guest)) {
		mount_clear(dst);
		return CACT_ENOMEM;
	}
	return 0;
}

CACT_API int cact_request_dup(const struct cact_request *req, struct cact_request **out)
{
	struct cact_request *r = NULL;
	size_t i;

	*out = NULL;
	if (cact_request_new(&r))
		return CACT_ENOMEM;
	memcpy(r->limits, req->limits, sizeof(r->limits));
	r->per_call = req->per_call;
	r->approve_fn = req->approve_fn;
	r->approve_user = req->approve_user;
	if (req->has_code && cact_request_set_code(r, req->code, req->code_len, NULL))
		goto fail;
	if (req->has_workspace) {
		if (mount_copy(&r->workspace, &req->workspace))
			goto fail;
		r->has_workspace = 1;
	}
	if (req->n_mounts) {
		r->mounts = calloc(MAX_MOUNTS, sizeof(*r->mounts));
		if (!r->mounts)
			goto fail;
		for (i = 0; i < req->n_mounts; i++) {
			if (mount_copy(&r->mounts[i], &req->mounts[i]))
				goto fail;
			r->n_mounts++;
		}
	}
	for (i = 0; i < req->n_tools; i++)
		if (cact_request_add_tool(r, req->tools[i], NULL))
			goto fail;
	if (req->n_domains) {
		r->domains = calloc(req->n_domains, sizeof(*r->domains));
		if (!r->domains)
			goto fail;
		for (i = 0; i < req->n_domains; i++) {
			r->domains[i].target = strdup(req->domains[i].target);
			r->domains[i].methods =
				req->domains[i].methods ? strdup(req->domains[i].methods) : NULL;
			r->n_domains++;
			if (!r->domains[i].target ||
			    (req->domains[i].methods && !r->domains[i].methods))
				goto fail;
		}
	}
	if ((req->ca_file && !(r->ca_file = strdup(req->ca_file))) ||
	    (req->proxy && !(r->proxy = strdup(req->proxy))) ||
	    (req->redirect_headers && !(r->redirect_headers = strdup(req->redirect_headers))))
		goto fail;
	if (req->n_resolves) {
		r->resolves = calloc(MAX_RESOLVES, sizeof(*r->resolves));
		if (!r->resolves)
			goto fail;
		for (i = 0; i < req->n_resolves; i++) {
			r->resolves[i].host = strdup(req->resolves[i].host);
			r->resolves[i].addrs = strdup(req->resolves[i].addrs);
			r->n_resolves++;
			if (!r->resolves[i].host || !r->resolves[i].addrs)
				goto fail;
		}
	}
	*out = r;
	return 0;
fail:
	cact_request_free(r);
	return CACT_ENOMEM;
}
