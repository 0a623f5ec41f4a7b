/* SPDX-License-Identifier: MIT */
/* The result of an execution: accessors and the JSON form. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../util/buf.h"
#include "../util/text.h"
#include "../util/util.h"
#include "rt.h"

static const char *const status_names[] = {
	[CACT_STATUS_OK] = "ok",
	[CACT_STATUS_PYTHON_ERROR] = "python_error",
	[CACT_STATUS_TIMEOUT] = "timeout",
	[CACT_STATUS_MEMORY_LIMIT] = "memory_limit",
	[CACT_STATUS_OUTPUT_LIMIT] = "output_limit",
	[CACT_STATUS_SANDBOX_VIOLATION] = "sandbox_violation",
	[CACT_STATUS_CRASHED] = "crashed",
	[CACT_STATUS_SETUP_ERROR] = "setup_error",
	[CACT_STATUS_CANCELLED] = "cancelled",
	[CACT_STATUS_BUSY] = "busy",
};

CACT_API const char *cact_status_name(enum cact_status s)
{
	if ((unsigned)s < UT_ARRAY_SIZE(status_names))
		return status_names[s];
	return "unknown";
}

struct cact_result *rt_result_new(void)
{
	struct cact_result *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->out = calloc(1, 1);
	r->err = calloc(1, 1);
	if (!r->out || !r->err) {
		cact_result_free(r);
		return NULL;
	}
	return r;
}

static int dup_opt(char **dst, const char *src)
{
	if (!src)
		return 0;
	free(*dst);
	*dst = strdup(src);
	return *dst ? 0 : CACT_ENOMEM;
}

int rt_result_set_error(struct cact_result *r, const char *type, const char *message,
			const char *traceback)
{
	if (dup_opt(&r->error_type, type) || dup_opt(&r->error_message, message) ||
	    dup_opt(&r->error_traceback, traceback))
		return CACT_ENOMEM;
	return 0;
}

CACT_API enum cact_status cact_result_status(const struct cact_result *r)
{
	return r->status;
}

CACT_API int cact_result_exit_code(const struct cact_result *r)
{
	return r->exit_code;
}

CACT_API const char *cact_result_stdout(const struct cact_result *r, size_t *len, int *truncated)
{
	if (len)
		*len = r->out_len;
	if (truncated)
		*truncated = r->out_trunc;
	return r->out;
}

CACT_API const char *cact_result_stderr(const struct cact_result *r, size_t *len, int *truncated)
{
	if (len)
		*len = r->err_len;
	if (truncated)
		*truncated = r->err_trunc;
	return r->err;
}

CACT_API const char *cact_result_error_type(const struct cact_result *r)
{
	return r->error_type;
}

CACT_API const char *cact_result_error_message(const struct cact_result *r)
{
	return r->error_message;
}

CACT_API const char *cact_result_error_traceback(const struct cact_result *r)
{
	return r->error_traceback;
}

CACT_API size_t cact_result_file_count(const struct cact_result *r)
{
	return r->n_files;
}

CACT_API int cact_result_file(const struct cact_result *r, size_t i, struct cact_file *f)
{
	if (i >= r->n_files)
		return CACT_EINVAL;
	f->path = r->files[i].path;
	f->media_type = r->files[i].media_type;
	f->data = r->files[i].data;
	f->size = r->files[i].size;
	return 0;
}

CACT_API size_t cact_result_skipped_count(const struct cact_result *r)
{
	return r->n_skipped;
}

CACT_API const char *cact_result_skipped(const struct cact_result *r, size_t i)
{
	return i < r->n_skipped ? r->skipped[i] : NULL;
}

CACT_API void cact_result_stats(const struct cact_result *r, struct cact_stats *out)
{
	*out = r->stats;
}

void rt_http_clear(struct rt_http *h)
{
	free(h->url);
	free(h->error);
	memset(h, 0, sizeof(*h));
}

CACT_API size_t cact_result_http_count(const struct cact_result *r)
{
	return r->n_http;
}

CACT_API int cact_result_http(const struct cact_result *r, size_t i, struct cact_http_entry *out)
{
	const struct rt_http *h;

	if (i >= r->n_http)
		return CACT_EINVAL;
	h = &r->http[i];
	*out = (struct cact_http_entry){h->method,    h->url,	  h->status, h->bytes_in,
					h->bytes_out, h->allowed, h->error};
	return 0;
}

CACT_API const char *cact_result_isolation_json(const struct cact_result *r)
{
	return r->isolation ? r->isolation : "null";
}

/* A JSON string of bytes that may not be valid UTF-8. */
static json_t *text(const char *s, size_t len)
{
	size_t n;
	char *fixed;
	json_t *j;

	if (!s)
		return json_null();
	if (ut_utf8_valid(s, len))
		return json_stringn(s, len);
	fixed = ut_utf8_repair(s, len, &n);
	if (!fixed)
		return NULL;
	j = json_stringn(fixed, n);
	free(fixed);
	return j;
}

static json_t *error_json(const struct cact_result *r)
{
	if (r->status == CACT_STATUS_OK)
		return json_null();
	if (r->status == CACT_STATUS_PYTHON_ERROR || r->status == CACT_STATUS_MEMORY_LIMIT)
		if (r->error_traceback)
			return json_pack(
				"{s:o, s:o, s:o}", "type",
				text(r->error_type, r->error_type ? strlen(r->error_type) : 0),
				"message",
				text(r->error_message,
				     r->error_message ? strlen(r->error_message) : 0),
				"traceback", text(r->error_traceback, strlen(r->error_traceback)));
	return text(r->error_message, r->error_message ? strlen(r->error_message) : 0);
}

static json_t *text_item(const char *s, size_t len)
{
	return json_pack("{s:s, s:o}", "type", "text", "text", text(s, len));
}

/* Whether the captured stderr shows the traceback (cut at its cap, it may not). */
static int err_has(const struct cact_result *r, const char *tb)
{
	size_t n = strlen(tb);

	while (n > 0 && tb[n - 1] == '\n')
		n--;
	return n == 0 || (r->err_len && memmem(r->err, r->err_len, tb, n) != NULL);
}

/*
 * What went wrong, for the error item: outcome, exception, then stderr,
 * and the traceback when stderr does not already show it (stderr past its
 * cap lost it): the traceback once, never twice.
 */
static json_t *error_details(const struct cact_result *r)
{
	const char *tb = r->error_traceback;
	struct ut_buf b;
	json_t *out;

	ut_buf_init(&b, (size_t)-1 / 2);
	if (r->status == CACT_STATUS_PYTHON_ERROR || (r->status == CACT_STATUS_MEMORY_LIMIT && tb))
		ut_buf_addf(&b, "%s (exit code %d): %s: %s\n", cact_status_name(r->status),
			    r->exit_code, r->error_type ? r->error_type : "Error",
			    r->error_message ? r->error_message : "");
	else
		ut_buf_addf(&b, "%s: %s\n", cact_status_name(r->status),
			    r->error_message ? r->error_message : "");
	if (r->err_len)
		ut_buf_add(&b, r->err, r->err_len);
	if (tb && !err_has(r, tb)) {
		if (b.len && b.p[b.len - 1] != '\n')
			ut_buf_add(&b, "\n", 1);
		ut_buf_add(&b, tb, strlen(tb));
	}
	while (b.len > 0 && b.p[b.len - 1] == '\n')
		b.len--;
	out = b.p ? text(b.p, b.len) : NULL;
	ut_buf_reset(&b);
	return out;
}

/* The content items (a new reference), or NULL when out of memory. */
static json_t *contents(const struct cact_result *r)
{
	json_t *items = json_array();
	size_t i;

	if (!items)
		return NULL;
	if (r->out_len)
		json_array_append_new(items, text_item(r->out, r->out_len));
	for (i = 0; i < r->n_files; i++) {
		const struct rt_file *f = &r->files[i];
		char *b64 = ut_base64(f->data, f->size, NULL);
		char *uri;
		size_t n;

		if (!b64)
			goto fail;
		n = strlen(f->media_type) + strlen(b64) + 16;
		uri = malloc(n);
		if (!uri) {
			free(b64);
			goto fail;
		}
		snprintf(uri, n, "data:%s;base64,%s", f->media_type, b64);
		free(b64);
		json_array_append_new(items, json_pack("{s:s, s:o, s:s, s:I, s:s}", "type", "data",
						       "path", text(f->path, strlen(f->path)),
						       "media_type", f->media_type, "size",
						       (json_int_t)f->size, "data", uri));
		free(uri);
	}
	if (r->status == CACT_STATUS_OK) {
		if (r->err_len)
			json_array_append_new(items, text_item(r->err, r->err_len));
	} else {
		json_array_append_new(items,
				      json_pack("{s:s, s:s, s:o}", "type", "error", "message",
						"Execution error", "details", error_details(r)));
	}
	if (json_array_size(items) == 0)
		json_array_append_new(items,
				      text_item("Code executed successfully without output.", 42));
	return items;
fail:
	json_decref(items);
	return NULL;
}

CACT_API char *cact_result_contents_json(const struct cact_result *r)
{
	json_t *items = contents(r);
	char *out = items ? json_dumps(items, JSON_COMPACT) : NULL;

	json_decref(items);
	return out;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * One /output file for the model: its path, media type and size, and what
 * it is, so that a figure (plt.show() writes /output/figure-N.png) is named
 * as an image, with its size in pixels when the header says it (PNG, GIF).
 */
static void file_line(struct ut_buf *b, const struct rt_file *f)
{
	const unsigned char *d = f->data;

	ut_buf_addf(b, "- %s (%s, %zu bytes)", f->path, f->media_type, f->size);
	if (ut_media_is_image(f->media_type)) {
		if (f->size >= 24 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0 &&
		    memcmp(d + 12, "IHDR", 4) == 0)
			ut_buf_addf(b, ": an image, %" PRIu32 "x%" PRIu32 " pixels", be32(d + 16),
				    be32(d + 20));
		else if (f->size >= 10 && memcmp(d, "GIF8", 4) == 0)
			ut_buf_addf(b, ": an image, %ux%u pixels", d[6] | d[7] << 8,
				    d[8] | d[9] << 8);
		else
			ut_buf_addf(b, ": an image");
	} else if (ut_media_is_text(f->media_type)) {
		ut_buf_addf(b, ": text");
	}
	ut_buf_add(b, "\n", 1);
}

CACT_API char *cact_result_model_text(const struct cact_result *r)
{
	json_t *details = NULL;
	struct ut_buf b;
	size_t i;
	char *text_out, *fixed;

	ut_buf_init(&b, (size_t)-1 / 2);
	if (r->out_len) {
		ut_buf_add(&b, r->out, r->out_len);
		if (r->out[r->out_len - 1] != '\n')
			ut_buf_add(&b, "\n", 1);
	}
	if (r->status == CACT_STATUS_OK && r->err_len) {
		ut_buf_addf(&b, "[stderr]\n");
		ut_buf_add(&b, r->err, r->err_len);
		if (r->err[r->err_len - 1] != '\n')
			ut_buf_add(&b, "\n", 1);
	}
	if (r->n_files)
		ut_buf_addf(&b, "Files written to /output (kept by the host; their contents are "
				"not shown here):\n");
	for (i = 0; i < r->n_files; i++)
		file_line(&b, &r->files[i]);
	if (r->status != CACT_STATUS_OK) {
		details = error_details(r);
		ut_buf_addf(&b, "[Execution error]\n%s\n", json_string_value(details));
		json_decref(details);
	}
	if (b.len == 0)
		ut_buf_addf(&b, "Code executed successfully without output.\n");
	text_out = ut_buf_steal(&b, &i);
	if (!text_out)
		return NULL;
	/* stdout may hold any bytes: the model gets valid UTF-8, without NULs. */
	fixed = ut_utf8_repair(text_out, i, &i);
	free(text_out);
	while (fixed && i-- > 0)
		if (fixed[i] == '\0')
			fixed[i] = ' ';
	return fixed;
}

static json_t *http_log(const struct cact_result *r)
{
	json_t *log = json_array();
	size_t i;

	for (i = 0; log && i < r->n_http; i++) {
		const struct rt_http *h = &r->http[i];
		json_t *e = json_pack("{s:o, s:o, s:i, s:I, s:I, s:b, s:o}", "method",
				      text(h->method, strlen(h->method)), "url",
				      text(h->url, strlen(h->url)), "status", h->status, "bytes_in",
				      (json_int_t)h->bytes_in, "bytes_out",
				      (json_int_t)h->bytes_out, "allowed", h->allowed, "error",
				      h->error ? text(h->error, strlen(h->error)) : json_null());

		if (json_array_append_new(log, e)) {
			json_decref(log);
			return NULL;
		}
	}
	return log;
}

CACT_API char *cact_result_to_json(const struct cact_result *r)
{
	json_t *root = NULL, *files = NULL, *skipped = NULL, *iso = NULL;
	char *out = NULL;
	size_t i;

	files = json_array();
	skipped = json_array();
	if (!files || !skipped)
		goto out;
	for (i = 0; i < r->n_files; i++) {
		const struct rt_file *f = &r->files[i];
		char *b64 = ut_base64(f->data, f->size, NULL);
		json_t *item;

		if (!b64)
			goto out;
		item = json_pack("{s:o, s:s, s:I, s:s}", "path", text(f->path, strlen(f->path)),
				 "media_type", f->media_type, "size", (json_int_t)f->size, "data",
				 b64);
		free(b64);
		if (json_array_append_new(files, item))
			goto out;
	}
	for (i = 0; i < r->n_skipped; i++)
		if (json_array_append_new(skipped, text(r->skipped[i], strlen(r->skipped[i]))))
			goto out;
	iso = r->isolation ? json_loads(r->isolation, 0, NULL) : json_null();
	if (!iso)
		iso = json_null();
	root = json_pack(
		"{s:s, s:b, s:i, s:o, s:o, s:b, s:b, s:o, s:o, s:o, "
		"s:{s:f, s:f, s:I, s:I, s:f, s:I, s:I}, s:o, s:o, s:o}",
		"status", cact_status_name(r->status), "success", r->status == CACT_STATUS_OK,
		"exit_code", r->exit_code, "stdout", text(r->out, r->out_len), "stderr",
		text(r->err, r->err_len), "stdout_truncated", r->out_trunc, "stderr_truncated",
		r->err_trunc, "error", error_json(r), "files", files, "skipped", skipped, "stats",
		"wall_ms", (double)r->stats.wall_us / 1000.0, "cpu_ms",
		(double)r->stats.cpu_us / 1000.0, "peak_rss_kib", (json_int_t)r->stats.peak_rss_kib,
		"tool_calls", (json_int_t)r->stats.tool_calls, "tool_ms",
		(double)r->stats.tool_us / 1000.0, "http_requests",
		(json_int_t)r->stats.http_requests, "http_bytes", (json_int_t)r->stats.http_bytes,
		"network", http_log(r), "isolation", iso, "contents", contents(r));
	files = skipped = iso = NULL;
	if (root)
		out = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(15));
out:
	json_decref(root);
	json_decref(files);
	json_decref(skipped);
	json_decref(iso);
	return out;
}

CACT_API void cact_result_free(struct cact_result *r)
{
	size_t i;

	if (!r)
		return;
	free(r->out);
	free(r->err);
	free(r->error_type);
	free(r->error_message);
	free(r->error_traceback);
	for (i = 0; i < r->n_files; i++) {
		free(r->files[i].path);
		free(r->files[i].data);
	}
	free(r->files);
	for (i = 0; i < r->n_skipped; i++)
		free(r->skipped[i]);
	free(r->skipped);
	free(r->isolation);
	for (i = 0; i < r->n_http; i++)
		rt_http_clear(&r->http[i]);
	free(r->http);
	free(r);
}
