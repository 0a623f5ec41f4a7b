/* SPDX-License-Identifier: MIT */
/* The execution request: code, /input contents, limits. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../util/util.h"
#include "rt.h"

#define KIB 1024ull
#define MIB (1024ull * 1024)
#define GIB (1024ull * 1024 * 1024)
#define MAX_MOUNTS 256

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
			return ut_err(err, CACT_EINVAL, "mount path %s must stay within /input", path);
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

CACT_API int cact_request_set_limit(struct cact_request *req, enum cact_limit which,
				    uint64_t value, struct cact_error *err)
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
	CACT_LIMIT_OUTPUT_BYTES, CACT_LIMIT_OUTPUT_FILES, CACT_LIMIT_TMP_BYTES, CACT_LIMIT_THREADS,
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
		if (json_object_set_new(lim, limits[i].name, json_integer((json_int_t)req->limits[i]))) {
			json_decref(lim);
			return NULL;
		}
	}
	return json_pack("{s:s, s:s%, s:o}", "type", "exec", "code", req->code, req->code_len,
			 "limits", lim);
}
