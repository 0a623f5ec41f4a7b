/* SPDX-License-Identifier: MIT */
/*
 * An execution's result as MCP tool result content, in the order of the
 * CodeAct contract (DESIGN.md, section 6): stdout, stderr, one item per
 * /output file (images as image items, text as an embedded resource with
 * its text, anything else as one with its bytes), what was not returned,
 * what went wrong (the traceback once), or that nothing was produced; and,
 * for 2025-06-18 and later, the same as structuredContent (status, exit
 * code, stats, files). Every byte comes from sandboxed code: text that is
 * not valid UTF-8 goes as bytes, and a text item is capped.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cact/cact.h>

#include "../util/buf.h"
#include "../util/text.h"
#include "../util/util.h"
#include "session.h"

/*
 * The most of one text file a result carries as text: 64 KiB is about 16k
 * tokens, a page of data a model can still read through; past it the file
 * is cut, and a note names it, gives its size and says how to read on.
 */
#define MCP_TEXT_FILE_MAX ((size_t)64 * 1024)

/* file:///output/... with everything but unreserved characters and '/' percent-encoded. */
static json_t *file_uri(const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	struct ut_buf b;
	json_t *v;
	size_t i;

	ut_buf_init(&b, 4u * strlen(path) + 16);
	ut_buf_add(&b, "file://", 7);
	for (i = 0; path[i]; i++) {
		unsigned char ch = (unsigned char)path[i];

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~/", ch)) {
			ut_buf_add(&b, &path[i], 1);
		} else {
			char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};

			ut_buf_add(&b, e, 3);
		}
	}
	v = b.p ? json_stringn(b.p, b.len) : NULL;
	ut_buf_reset(&b);
	return v;
}

/*
 * How much of a text file goes into the result: at most MCP_TEXT_FILE_MAX
 * bytes, cut back to the start of a UTF-8 sequence. 0 when the part is not
 * valid UTF-8 (or holds a NUL): such bytes go as a blob, unchanged.
 */
static size_t text_part(const struct cact_file *f)
{
	size_t n = f->size < MCP_TEXT_FILE_MAX ? f->size : MCP_TEXT_FILE_MAX;
	size_t k = 0;

	/* A cut inside a sequence: drop its lead byte and the continuation bytes after it. */
	if (n < f->size) {
		unsigned char lead;

		while (k < 3 && k < n && (f->data[n - 1 - k] & 0xC0) == 0x80)
			k++;
		lead = k < n ? f->data[n - 1 - k] : 0;
		if (lead >= 0xC0 && k + 1 < (lead >= 0xF0 ? 4u : lead >= 0xE0 ? 3u : 2u))
			n -= k + 1;
	}
	return n && ut_utf8_valid((const char *)f->data, n) ? n : 0;
}

/*
 * An /output file: an image item (PNG, JPEG, GIF, WebP), an embedded
 * resource with its text (text media types, valid UTF-8; the first
 * MCP_TEXT_FILE_MAX bytes), or one with its bytes as a blob (anything else).
 */
static json_t *file_item(const struct cact_file *f, size_t *shown)
{
	size_t n = 0, part = ut_media_is_text(f->media_type) ? text_part(f) : 0;
	char *b64;
	json_t *data;

	*shown = f->size;
	if (part || (f->size == 0 && ut_media_is_text(f->media_type))) {
		*shown = part;
		return json_pack("{s:s, s:{s:o, s:s, s:s%}}", "type", "resource", "resource", "uri",
				 file_uri(f->path), "mimeType", f->media_type, "text",
				 f->size ? (const char *)f->data : "", part);
	}
	b64 = ut_base64(f->data, f->size, &n);
	data = b64 ? json_stringn(b64, n) : NULL;
	free(b64);
	if (!data)
		return NULL;
	if (ut_media_is_image(f->media_type))
		return json_pack("{s:s, s:o, s:s}", "type", "image", "data", data, "mimeType",
				 f->media_type);
	return json_pack("{s:s, s:{s:o, s:s, s:o}}", "type", "resource", "resource", "uri",
			 file_uri(f->path), "mimeType", f->media_type, "blob", data);
}

static json_t *text_item(const char *label, const char *text, size_t len)
{
	struct ut_buf b;
	json_t *v;

	if (!label)
		return json_pack("{s:s, s:o}", "type", "text", "text", mcp_jstr(text, len));
	ut_buf_init(&b, len + strlen(label) + 1);
	ut_buf_add(&b, label, strlen(label));
	ut_buf_add(&b, text, len);
	v = b.p ? json_pack("{s:s, s:o}", "type", "text", "text", mcp_jstr(b.p, b.len)) : NULL;
	ut_buf_reset(&b);
	return v;
}

/* Says that an /output file exists but its bytes could not be put in the result. */
static json_t *unreturned_item(const struct cact_file *f)
{
	struct ut_buf b;
	json_t *v;

	ut_buf_init(&b, strlen(f->path) + 128);
	ut_buf_addf(&b, "[not returned from /output]\n%s: %s, %zu bytes, could not be encoded",
		    f->path, f->media_type, f->size);
	v = b.p ? text_item(NULL, b.p, b.len) : NULL;
	ut_buf_reset(&b);
	return v;
}

/* A text file cut at the cap: which file, how much the model has, how to get the rest. */
static json_t *cut_item(const struct cact_file *f, size_t shown)
{
	struct ut_buf b;
	json_t *v;

	ut_buf_init(&b, strlen(f->path) + 512);
	ut_buf_addf(&b,
		    "[cut: %s is %zu bytes; the resource above holds its first %zu. The rest "
		    "was not returned: to read it, run code that prints the part you need]",
		    f->path, f->size, shown);
	v = b.p ? text_item(NULL, b.p, b.len) : NULL;
	ut_buf_reset(&b);
	return v;
}

/* Whether stderr already shows the traceback (an uncaught exception prints it there). */
static int stderr_has(const struct cact_result *r, const char *tb)
{
	size_t len, n = strlen(tb);
	const char *err = cact_result_stderr(r, &len, NULL);

	while (n > 0 && tb[n - 1] == '\n')
		n--;
	return err && n && memmem(err, len, tb, n) != NULL;
}

/*
 * What went wrong, for the model: the outcome, the exception, and the
 * traceback unless the stderr item above already shows it.
 */
static json_t *error_item(const struct cact_result *r)
{
	const char *status = cact_status_name(cact_result_status(r));
	const char *type = cact_result_error_type(r), *msg = cact_result_error_message(r);
	const char *tb = cact_result_error_traceback(r);
	struct ut_buf b;
	json_t *v;

	ut_buf_init(&b, 1u << 20);
	ut_buf_addf(&b, "[error] the execution did not succeed (%s)", status);
	if (type && strcmp(type, status) != 0)
		ut_buf_addf(&b, ": %s", type);
	if (msg && *msg)
		ut_buf_addf(&b, ": %s", msg);
	if (tb && *tb && stderr_has(r, tb)) {
		ut_buf_addf(&b, " (the traceback is in [stderr] above)");
	} else if (tb && *tb) {
		ut_buf_add(&b, "\n\n", 2);
		ut_buf_add_trunc(&b, tb, strlen(tb));
	}
	v = b.p ? json_pack("{s:s, s:o}", "type", "text", "text", mcp_jstr(b.p, b.len)) : NULL;
	ut_buf_reset(&b);
	return v;
}

/* The run ended the sandbox session: what the model must do now. */
static json_t *ended_item(const char *why)
{
	char msg[512];

	ut_snprintf(msg, sizeof(msg), MCP_SESSION_ENDED_FMT, why);
	return text_item(NULL, msg, strlen(msg));
}

static json_t *skipped_item(const struct cact_result *r)
{
	size_t i, n = cact_result_skipped_count(r);
	struct ut_buf b;
	json_t *v;

	ut_buf_init(&b, 1u << 20);
	ut_buf_addf(&b, "[not returned from /output]");
	for (i = 0; i < n; i++)
		ut_buf_addf(&b, "\n%s", cact_result_skipped(r, i));
	v = b.p ? text_item(NULL, b.p, b.len) : NULL;
	ut_buf_reset(&b);
	return v;
}

static json_t *structured(const struct cact_result *r, json_t *files, const char *ended)
{
	struct cact_stats st;
	json_t *v;

	cact_result_stats(r, &st);
	v = json_pack("{s:s, s:i, s:{s:f, s:f, s:I, s:I}, s:O}", "status",
		      cact_status_name(cact_result_status(r)), "exit_code",
		      cact_result_exit_code(r), "stats", "wall_ms", (double)st.wall_us / 1e3,
		      "cpu_ms", (double)st.cpu_us / 1e3, "tool_calls", (json_int_t)st.tool_calls,
		      "http_requests", (json_int_t)st.http_requests, "files", files);
	if (v && ended && json_object_set_new(v, "session_ended", mcp_jstr(ended, strlen(ended)))) {
		json_decref(v);
		v = NULL;
	}
	return v;
}

static const char no_output[] = "Code executed successfully without output.";

json_t *mcp_code_result(const struct cact_result *r, const char *version, const char *ended)
{
	json_t *content = json_array(), *files = json_array(), *out = NULL;
	int failed = cact_result_status(r) != CACT_STATUS_OK;
	struct cact_file f;
	const char *text;
	size_t len, i, shown;
	int bad = !content || !files;

	text = cact_result_stdout(r, &len, NULL);
	if (!bad && len)
		bad |= json_array_append_new(content, text_item(NULL, text, len));
	text = cact_result_stderr(r, &len, NULL);
	if (!bad && len)
		bad |= json_array_append_new(content, text_item("[stderr]\n", text, len));
	for (i = 0; !bad && i < cact_result_file_count(r); i++) {
		json_t *item;

		if (cact_result_file(r, i, &f))
			continue;
		/* A file that cannot be encoded costs its own item, never the whole call. */
		item = file_item(&f, &shown);
		bad |= json_array_append_new(content, item ? item : unreturned_item(&f));
		if (!bad && item && shown < f.size)
			bad |= json_array_append_new(content, cut_item(&f, shown));
		bad |= json_array_append_new(files, json_pack("{s:o, s:s, s:I}", "path",
							      mcp_jstr(f.path, strlen(f.path)),
							      "media_type", f.media_type, "size",
							      (json_int_t)f.size));
	}
	if (!bad && cact_result_skipped_count(r))
		bad |= json_array_append_new(content, skipped_item(r));
	if (!bad && failed)
		bad |= json_array_append_new(content, error_item(r));
	/* Last, where the model reads on from the error: the interpreter is gone. */
	if (!bad && ended)
		bad |= json_array_append_new(content, ended_item(ended));
	if (!bad && json_array_size(content) == 0)
		bad |= json_array_append_new(content,
					     text_item(NULL, no_output, strlen(no_output)));
	/* A run that ended its session failed, whatever its status says. */
	if (!bad)
		out = json_pack("{s:O, s:b}", "content", content, "isError", failed || ended);
	if (out && mcp_modern(version) &&
	    json_object_set_new(out, "structuredContent", structured(r, files, ended))) {
		json_decref(out);
		out = NULL;
	}
	json_decref(content);
	json_decref(files);
	return out;
}
