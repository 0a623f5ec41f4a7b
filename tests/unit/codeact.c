/* SPDX-License-Identifier: MIT */
/*
 * The execute_code layer (include/cact/codeact.h): approval, tools, file
 * mounts, allowed domains, the description and instructions, structured
 * contents, snapshots, state and its round trip, configuration files.
 * Executions run in the real sandbox.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "../common.h"
#include "tools/tools.h"

#define MIB (1024ull * 1024)

static char *real(const char *path)
{
	char buf[PATH_MAX];

	ck_assert_msg(realpath(path, buf) != NULL, "realpath %s: %s", path, strerror(errno));
	return strdup(buf);
}

static json_t *parse(const char *text)
{
	json_error_t je;
	json_t *j;

	ck_assert_ptr_nonnull(text);
	j = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
	ck_assert_msg(j != NULL, "not JSON (%s): %.2000s", je.text, text);
	return j;
}

/* Echoes its arguments: {"tool": name, "args": args}. */
static int echo_fn(void *user, const char *name, const char *args, char **result,
		   struct cact_error *err)
{
	(void)user;
	(void)err;
	if (asprintf(result, "{\"tool\":\"%s\",\"args\":%s}", name, args) < 0)
		return CACT_ENOMEM;
	return 0;
}

static struct cact_tool *new_tool(const char *name, const char *params, enum cact_approval a)
{
	struct cact_error err = {0};
	struct cact_tool *t = NULL;

	ck_assert_msg(cact_tool_new_callback(name, "Echoes its arguments.", params, a, echo_fn,
					     NULL, &t, &err) == 0,
		      "tool %s: %s", name, err.message);
	return t;
}

static struct cact_codeact *new_cc(struct cact_runtime *rt)
{
	struct cact_error err = {0};
	struct cact_codeact *cc = NULL;

	ck_assert_msg(cact_codeact_new(rt, &cc, &err) == 0, "%s", err.message);
	ck_assert_ptr_nonnull(cc);
	return cc;
}

/* Adds a tool and drops the caller's reference (the configuration keeps one). */
static void add(struct cact_codeact *cc, struct cact_tool *t)
{
	struct cact_error err = {0};

	ck_assert_msg(cact_codeact_add_tool(cc, t, &err) == 0, "add %s: %s", cact_tool_name(t),
		      err.message);
	cact_tool_unref(t);
}

static json_t *state_of(const struct cact_codeact *cc)
{
	char *s = cact_codeact_state(cc);
	json_t *j = parse(s);

	cact_free(s);
	ck_assert(json_is_object(j));
	return j;
}

/* The tool names in order, comma-joined, checked against the state's tool_names too. */
static void assert_names(const struct cact_codeact *cc, const char *want)
{
	struct cact_tool **tools = NULL;
	char got[1024] = "", from_state[1024] = "";
	size_t n = 0, i;
	json_t *st = state_of(cc), *names, *item;

	ck_assert_int_eq(cact_codeact_tools(cc, &tools, &n), 0);
	for (i = 0; i < n; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? "," : "",
			 cact_tool_name(tools[i]));
	cact_tools_free(tools, n);
	ck_assert_str_eq(got, want);
	names = json_object_get(st, "tool_names");
	for (i = 0; i < json_array_size(names); i++) {
		item = json_array_get(names, i);
		snprintf(from_state + strlen(from_state), sizeof(from_state) - strlen(from_state),
			 "%s%s", i ? "," : "", json_string_value(item));
	}
	ck_assert_str_eq(from_state, want);
	json_decref(st);
}

static void assert_has(const char *text, const char *needle)
{
	ck_assert_msg(strstr(text, needle) != NULL, "\"%s\" is missing from:\n%s", needle, text);
}

static void assert_lacks(const char *text, const char *needle)
{
	ck_assert_msg(strstr(text, needle) == NULL, "\"%s\" should not be in:\n%s", needle, text);
}

static struct cact_result *run(struct cact_codeact *cc, const char *code)
{
	struct cact_error err = {0};
	struct cact_result *res = NULL;
	int rc = cact_codeact_execute(cc, code, strlen(code), &res, &err);

	ck_assert_msg(rc == 0, "cact_codeact_execute: %d %s", rc, err.message);
	ck_assert_ptr_nonnull(res);
	return res;
}

static json_t *contents_of(const struct cact_result *r)
{
	char *s = cact_result_contents_json(r);
	json_t *j = parse(s);

	cact_free(s);
	ck_assert(json_is_array(j));
	return j;
}

static unsigned char *b64_decode(const char *s, size_t *n)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t len = strlen(s), i, o = 0;
	unsigned char *out = malloc(len / 4 * 3 + 4);
	unsigned v = 0;
	int bits = 0;

	ck_assert_ptr_nonnull(out);
	ck_assert_msg(len % 4 == 0, "base64 length %zu", len);
	for (i = 0; i < len && s[i] != '='; i++) {
		const char *p = strchr(tbl, s[i]);

		ck_assert_msg(p != NULL, "bad base64 character '%c'", s[i]);
		v = (v << 6) | (unsigned)(p - tbl);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(v >> bits);
			v &= (1u << bits) - 1;
		}
	}
	for (; i < len; i++)
		ck_assert_msg(s[i] == '=', "junk after base64 padding");
	*n = o;
	return out;
}

/* The content item of type data with that path, or NULL. */
static json_t *data_item(json_t *contents, const char *path)
{
	size_t i;
	json_t *item;

	for (i = 0; i < json_array_size(contents); i++) {
		item = json_array_get(contents, i);
		if (strcmp(json_string_value(json_object_get(item, "type")), "data") == 0 &&
		    strcmp(json_string_value(json_object_get(item, "path")), path) == 0)
			return item;
	}
	return NULL;
}

static void assert_data_item(json_t *contents, const char *path, const char *media_type,
			     const void *bytes, size_t size)
{
	json_t *item = data_item(contents, path);
	const char *uri;
	char prefix[256];
	unsigned char *got;
	size_t n;

	ck_assert_msg(item != NULL, "no data item for %s", path);
	ck_assert_str_eq(json_string_value(json_object_get(item, "media_type")), media_type);
	ck_assert_int_eq(json_integer_value(json_object_get(item, "size")), (json_int_t)size);
	uri = json_string_value(json_object_get(item, "data"));
	ck_assert_ptr_nonnull(uri);
	snprintf(prefix, sizeof(prefix), "data:%s;base64,", media_type);
	ck_assert_msg(strncmp(uri, prefix, strlen(prefix)) == 0, "%s: data URI %.80s", path, uri);
	got = b64_decode(uri + strlen(prefix), &n);
	ck_assert_uint_eq(n, size);
	ck_assert_msg(memcmp(got, bytes, size) == 0, "%s: decoded bytes differ", path);
	free(got);
}

/* ---- approval ---- */

START_TEST(approval_follows_tools)
{
	struct cact_codeact *cc = new_cc(NULL);
	struct cact_error err = {0};

	ck_assert_int_eq(cact_codeact_approval(cc), CACT_APPROVAL_NEVER_REQUIRE);
	ck_assert_int_eq(cact_codeact_default_approval(cc), CACT_APPROVAL_NEVER_REQUIRE);
	ck_assert_int_eq(cact_codeact_per_call_approval(cc), 0);
	add(cc, new_tool("quiet", NULL, CACT_APPROVAL_NEVER_REQUIRE));
	ck_assert_int_eq(cact_codeact_approval(cc), CACT_APPROVAL_NEVER_REQUIRE);
	add(cc, new_tool("loud", NULL, CACT_APPROVAL_ALWAYS_REQUIRE));
	ck_assert_int_eq(cact_codeact_approval(cc), CACT_APPROVAL_ALWAYS_REQUIRE);
	ck_assert_int_eq(cact_codeact_default_approval(cc), CACT_APPROVAL_NEVER_REQUIRE);
	ck_assert_int_eq(cact_codeact_remove_tool(cc, "loud", &err), 0);
	ck_assert_int_eq(cact_codeact_approval(cc), CACT_APPROVAL_NEVER_REQUIRE);
	/* Replacing an always_require tool by a never_require one of the same name. */
	add(cc, new_tool("loud", NULL, CACT_APPROVAL_ALWAYS_REQUIRE));
	ck_assert_int_eq(cact_codeact_approval(cc), CACT_APPROVAL_ALWAYS_REQUIRE);
	add(cc, new_tool("loud", NULL, CACT_APPROVAL_NEVER_REQUIRE));
	ck_assert_int_eq(cact_codeact_approval(cc), CACT_APPROVAL_NEVER_REQUIRE);
	/* Clearing drops it too. */
	add(cc, new_tool("loud2", NULL, CACT_APPROVAL_ALWAYS_REQUIRE));
	ck_assert_int_eq(cact_codeact_approval(cc), CACT_APPROVAL_ALWAYS_REQUIRE);
	cact_codeact_clear_tools(cc);
	ck_assert_int_eq(cact_codeact_approval(cc), CACT_APPROVAL_NEVER_REQUIRE);
	cact_codeact_free(cc);
}
END_TEST

START_TEST(approval_default_always)
{
	struct cact_codeact *cc = new_cc(NULL);
	json_t *st;

	cact_codeact_set_default_approval(cc, CACT_APPROVAL_ALWAYS_REQUIRE);
	ck_assert_int_eq(cact_codeact_default_approval(cc), CACT_APPROVAL_ALWAYS_REQUIRE);
	ck_assert_int_eq(cact_codeact_approval(cc), CACT_APPROVAL_ALWAYS_REQUIRE);
	add(cc, new_tool("quiet", NULL, CACT_APPROVAL_NEVER_REQUIRE));
	ck_assert_int_eq(cact_codeact_approval(cc), CACT_APPROVAL_ALWAYS_REQUIRE);
	st = state_of(cc);
	ck_assert_str_eq(json_string_value(json_object_get(st, "approval_mode")), "always_require");
	ck_assert_str_eq(json_string_value(json_object_get(st, "default_approval_mode")),
			 "always_require");
	json_decref(st);
	cact_codeact_set_default_approval(cc, CACT_APPROVAL_NEVER_REQUIRE);
	ck_assert_int_eq(cact_codeact_approval(cc), CACT_APPROVAL_NEVER_REQUIRE);
	/* An unknown mode is never_require, not something in between. */
	cact_codeact_set_default_approval(cc, (enum cact_approval)5);
	ck_assert_int_eq(cact_codeact_default_approval(cc), CACT_APPROVAL_NEVER_REQUIRE);
	cact_codeact_free(cc);
}
END_TEST

START_TEST(approval_per_call_mode)
{
	struct cact_codeact *cc = new_cc(NULL);
	json_t *st;

	add(cc, new_tool("loud", NULL, CACT_APPROVAL_ALWAYS_REQUIRE));
	ck_assert_int_eq(cact_codeact_approval(cc), CACT_APPROVAL_ALWAYS_REQUIRE);
	cact_codeact_set_per_call_approval(cc, 1, NULL, NULL);
	ck_assert_int_eq(cact_codeact_per_call_approval(cc), 1);
	ck_assert_int_eq(cact_codeact_approval(cc), CACT_APPROVAL_NEVER_REQUIRE);
	st = state_of(cc);
	ck_assert_str_eq(json_string_value(json_object_get(st, "approval_mode")), "never_require");
	ck_assert(json_is_true(json_object_get(st, "per_call_approval")));
	json_decref(st);
	/* The default mode still wins. */
	cact_codeact_set_default_approval(cc, CACT_APPROVAL_ALWAYS_REQUIRE);
	ck_assert_int_eq(cact_codeact_approval(cc), CACT_APPROVAL_ALWAYS_REQUIRE);
	cact_codeact_set_default_approval(cc, CACT_APPROVAL_NEVER_REQUIRE);
	ck_assert_int_eq(cact_codeact_approval(cc), CACT_APPROVAL_NEVER_REQUIRE);
	/* Any non-zero value is on; off again brings the tool's mode back. */
	cact_codeact_set_per_call_approval(cc, 42, NULL, NULL);
	ck_assert_int_eq(cact_codeact_per_call_approval(cc), 1);
	cact_codeact_set_per_call_approval(cc, 0, NULL, NULL);
	ck_assert_int_eq(cact_codeact_approval(cc), CACT_APPROVAL_ALWAYS_REQUIRE);
	cact_codeact_free(cc);
}
END_TEST

/* ---- tools ---- */

START_TEST(same_name_replaces_and_moves_to_end)
{
	struct cact_codeact *cc = new_cc(NULL);
	struct cact_tool *a2 = new_tool("a", "{\"properties\":{\"x\":{\"type\":\"integer\"}}}",
					CACT_APPROVAL_ALWAYS_REQUIRE);
	struct cact_tool **tools = NULL;
	size_t n = 0;

	add(cc, new_tool("a", NULL, CACT_APPROVAL_NEVER_REQUIRE));
	add(cc, new_tool("b", NULL, CACT_APPROVAL_NEVER_REQUIRE));
	add(cc, new_tool("c", NULL, CACT_APPROVAL_NEVER_REQUIRE));
	assert_names(cc, "a,b,c");
	ck_assert_int_eq(cact_codeact_add_tool(cc, a2, NULL), 0);
	assert_names(cc, "b,c,a");
	ck_assert_int_eq(cact_codeact_tools(cc, &tools, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_ptr_eq(tools[2], a2);
	ck_assert_int_eq(cact_tool_approval(tools[2]), CACT_APPROVAL_ALWAYS_REQUIRE);
	cact_tools_free(tools, n);
	/* Adding the very same tool again: still one, at the end. */
	ck_assert_int_eq(cact_codeact_add_tool(cc, a2, NULL), 0);
	assert_names(cc, "b,c,a");
	add(cc, new_tool("b", NULL, CACT_APPROVAL_NEVER_REQUIRE));
	assert_names(cc, "c,a,b");
	cact_tool_unref(a2);
	cact_codeact_free(cc);
}
END_TEST

START_TEST(execute_code_tool_refused)
{
	struct cact_codeact *cc = new_cc(NULL);
	struct cact_tool *t = new_tool("execute_code", NULL, CACT_APPROVAL_NEVER_REQUIRE);
	struct cact_error err = {0};

	ck_assert_int_eq(cact_codeact_add_tool(cc, t, &err), CACT_EINVAL);
	ck_assert_int_eq(err.code, CACT_EINVAL);
	assert_has(err.message, "execute_code");
	assert_names(cc, "");
	/* Similar names are fine. */
	add(cc, new_tool("execute_code2", NULL, CACT_APPROVAL_NEVER_REQUIRE));
	add(cc, new_tool("Execute_Code", NULL, CACT_APPROVAL_NEVER_REQUIRE));
	assert_names(cc, "execute_code2,Execute_Code");
	ck_assert_int_eq(cact_codeact_add_tool(cc, NULL, &err), CACT_EINVAL);
	cact_tool_unref(t);
	cact_codeact_free(cc);
}
END_TEST

START_TEST(remove_unknown_tool_names_it)
{
	struct cact_codeact *cc = new_cc(NULL);
	struct cact_error err = {0};

	add(cc, new_tool("a", NULL, CACT_APPROVAL_NEVER_REQUIRE));
	add(cc, new_tool("b", NULL, CACT_APPROVAL_NEVER_REQUIRE));
	ck_assert_int_eq(cact_codeact_remove_tool(cc, "nope", &err), CACT_ENOENT);
	ck_assert_int_eq(err.code, CACT_ENOENT);
	assert_has(err.message, "'nope'");
	assert_names(cc, "a,b");
	ck_assert_int_eq(cact_codeact_remove_tool(cc, "a", &err), 0);
	assert_names(cc, "b");
	memset(&err, 0, sizeof(err));
	ck_assert_int_eq(cact_codeact_remove_tool(cc, "a", &err), CACT_ENOENT);
	assert_has(err.message, "'a'");
	ck_assert_int_eq(cact_codeact_remove_tool(cc, "B", &err), CACT_ENOENT);
	assert_names(cc, "b");
	cact_codeact_free(cc);
}
END_TEST

START_TEST(clear_tools_keeps_handed_out_references)
{
	struct cact_codeact *cc = new_cc(NULL);
	struct cact_tool **tools = NULL;
	size_t n = 0;
	char *d;

	add(cc, new_tool("a", NULL, CACT_APPROVAL_NEVER_REQUIRE));
	add(cc, new_tool("b", NULL, CACT_APPROVAL_ALWAYS_REQUIRE));
	ck_assert_int_eq(cact_codeact_tools(cc, &tools, &n), 0);
	cact_codeact_clear_tools(cc);
	assert_names(cc, "");
	/* The list holds its own references. */
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(cact_tool_name(tools[0]), "a");
	ck_assert_str_eq(cact_tool_name(tools[1]), "b");
	cact_tools_free(tools, n);
	d = cact_codeact_description(cc);
	assert_has(d, "Tools: none are registered.");
	assert_lacks(d, "call_tool(name, **kwargs)");
	cact_free(d);
	/* Clearing an empty list is fine; tools can be added again. */
	cact_codeact_clear_tools(cc);
	add(cc, new_tool("c", NULL, CACT_APPROVAL_NEVER_REQUIRE));
	assert_names(cc, "c");
	cact_tools_free(NULL, 0);
	cact_codeact_free(cc);
}
END_TEST

/* ---- file mounts ---- */

/* Checks state.file_mounts[i] is {host_path: host, mount_path: mount}. */
static void assert_mount(const struct cact_codeact *cc, size_t i, const char *host,
			 const char *mount)
{
	json_t *st = state_of(cc);
	json_t *m = json_array_get(json_object_get(st, "file_mounts"), i);

	ck_assert_msg(m != NULL, "no file mount %zu", i);
	ck_assert_uint_eq(json_object_size(m), 2);
	ck_assert_str_eq(json_string_value(json_object_get(m, "host_path")), host);
	ck_assert_str_eq(json_string_value(json_object_get(m, "mount_path")), mount);
	json_decref(st);
}

static size_t mount_count(const struct cact_codeact *cc)
{
	json_t *st = state_of(cc);
	size_t n = json_array_size(json_object_get(st, "file_mounts"));

	json_decref(st);
	return n;
}

START_TEST(mount_string_form)
{
	struct cact_codeact *cc = new_cc(NULL);
	struct cact_error err = {0};
	char *dir = t_tmpdir(), *rdir, *host, *want_host, *want_mount;
	json_t *st;

	t_write(dir, "data.csv", "a,b\n");
	t_write(dir, "sub/b.txt", "b");
	rdir = real(dir);
	/* A string: the mount path is the host path as given, under /input. */
	host = t_fmt("%s/data.csv", dir);
	want_host = t_fmt("%s/data.csv", rdir);
	want_mount = t_fmt("/input%s/data.csv", dir);
	ck_assert_msg(cact_codeact_add_file_mount(cc, host, NULL, &err) == 0, "%s", err.message);
	assert_mount(cc, 0, want_host, want_mount);
	st = state_of(cc);
	ck_assert(json_is_true(json_object_get(st, "filesystem_enabled")));
	ck_assert(json_is_null(json_object_get(st, "workspace_root")));
	json_decref(st);
	free(want_host);
	/* Relative: resolved against the process's folder. */
	ck_assert_int_eq(chdir(dir), 0);
	ck_assert_msg(cact_codeact_add_file_mount(cc, "sub//b.txt", NULL, &err) == 0, "%s",
		      err.message);
	want_host = t_fmt("%s/sub/b.txt", rdir);
	assert_mount(cc, 1, want_host, "/input/sub/b.txt");
	ck_assert_int_eq(chdir("/"), 0);
	/* Resolved when added: a later change of folder changes nothing. */
	assert_mount(cc, 1, want_host, "/input/sub/b.txt");
	ck_assert_uint_eq(mount_count(cc), 2);
	free(host);
	free(want_host);
	free(want_mount);
	free(rdir);
	t_rmtree(dir);
	free(dir);
	cact_codeact_free(cc);
}
END_TEST

START_TEST(mount_pair_form_normalized)
{
	struct cact_codeact *cc = new_cc(NULL);
	struct cact_error err = {0};
	char *dir = t_tmpdir(), *rdir, *x, *y, *rx, *ry, *missing, *before, *after;

	t_write(dir, "x.csv", "x");
	t_write(dir, "y.txt", "y");
	rdir = real(dir);
	x = t_fmt("%s/x.csv", dir);
	y = t_fmt("%s/y.txt", dir);
	rx = t_fmt("%s/x.csv", rdir);
	ry = t_fmt("%s/y.txt", rdir);
	missing = t_fmt("%s/missing.csv", dir);
	ck_assert_int_eq(cact_codeact_add_file_mount(cc, x, "input\\dir\\.\\x.csv", &err), 0);
	assert_mount(cc, 0, rx, "/input/dir/x.csv");
	ck_assert_int_eq(cact_codeact_add_file_mount(cc, y, "/input/y.txt", &err), 0);
	assert_mount(cc, 1, ry, "/input/y.txt");
	ck_assert_int_eq(cact_codeact_add_file_mount(cc, y, "//z//./y2.txt", &err), 0);
	assert_mount(cc, 2, ry, "/input/z/y2.txt");
	before = cact_codeact_state(cc);
	/* Refused: outside /input, blank, a host path that does not exist, overlapping. */
	ck_assert_int_eq(cact_codeact_add_file_mount(cc, x, "../x.csv", &err), CACT_EINVAL);
	assert_has(err.message, "must stay within /input");
	ck_assert_int_eq(cact_codeact_add_file_mount(cc, x, "  ", &err), CACT_EINVAL);
	ck_assert_int_eq(cact_codeact_add_file_mount(cc, x, "/input", &err), CACT_EINVAL);
	ck_assert_int_eq(cact_codeact_add_file_mount(cc, missing, "m.csv", &err), CACT_ENOENT);
	assert_has(err.message, "missing.csv");
	ck_assert_int_eq(cact_codeact_add_file_mount(cc, x, "dir", &err), CACT_EINVAL);
	assert_has(err.message, "overlaps");
	after = cact_codeact_state(cc);
	ck_assert_str_eq(after, before);
	cact_free(after);
	/* The same mount path replaces, in place. */
	ck_assert_int_eq(cact_codeact_add_file_mount(cc, y, "dir/x.csv", &err), 0);
	ck_assert_uint_eq(mount_count(cc), 3);
	assert_mount(cc, 0, ry, "/input/dir/x.csv");
	/* Removal takes any spelling of the mount path. */
	ck_assert_int_eq(cact_codeact_remove_file_mount(cc, "input/dir/x.csv", &err), 0);
	ck_assert_int_eq(cact_codeact_remove_file_mount(cc, "y.txt", &err), 0);
	ck_assert_uint_eq(mount_count(cc), 1);
	assert_mount(cc, 0, ry, "/input/z/y2.txt");
	ck_assert_int_eq(cact_codeact_remove_file_mount(cc, "y.txt", &err), CACT_ENOENT);
	assert_has(err.message, "/input/y.txt");
	ck_assert_int_eq(cact_codeact_remove_file_mount(cc, "\\z\\y2.txt", &err), 0);
	ck_assert_uint_eq(mount_count(cc), 0);
	free(before);
	free(x);
	free(y);
	free(rx);
	free(ry);
	free(missing);
	free(rdir);
	t_rmtree(dir);
	free(dir);
	cact_codeact_free(cc);
}
END_TEST

START_TEST(mount_relative_host_against_cwd)
{
	struct cact_codeact *cc = new_cc(NULL);
	struct cact_error err = {0};
	char *dir = t_tmpdir(), *rdir, *want, *sub;

	t_write(dir, "data.csv", "d");
	t_write(dir, "deeper/here/keep", "");
	rdir = real(dir);
	sub = t_fmt("%s/deeper/here", dir);
	ck_assert_int_eq(chdir(sub), 0);
	ck_assert_msg(cact_codeact_add_file_mount(cc, "../../data.csv", "d.csv", &err) == 0, "%s",
		      err.message);
	want = t_fmt("%s/data.csv", rdir);
	assert_mount(cc, 0, want, "/input/d.csv");
	/* The workspace, too. */
	ck_assert_int_eq(chdir(dir), 0);
	ck_assert_msg(cact_codeact_set_workspace(cc, "deeper", &err) == 0, "%s", err.message);
	{
		json_t *st = state_of(cc);
		char *ws = t_fmt("%s/deeper", rdir);

		ck_assert_str_eq(json_string_value(json_object_get(st, "workspace_root")), ws);
		free(ws);
		json_decref(st);
	}
	ck_assert_int_eq(cact_codeact_set_workspace(cc, "nope", &err), CACT_ENOENT);
	ck_assert_int_eq(cact_codeact_set_workspace(cc, "data.csv", &err), CACT_EINVAL);
	ck_assert_int_eq(chdir("/"), 0);
	free(want);
	free(sub);
	free(rdir);
	t_rmtree(dir);
	free(dir);
	cact_codeact_free(cc);
}
END_TEST

START_TEST(workspace_and_mounts_in_execution)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_codeact *cc = new_cc(rt);
	struct cact_error err = {0};
	struct cact_result *r;
	char *ws = t_tmpdir(), *other = t_tmpdir(), *b, *folder, *d;

	t_write(ws, "a.txt", "workspace A");
	t_write(ws, "sub/nested.txt", "nested N");
	t_write(other, "b.txt", "mounted B");
	t_write(other, "folder/c.txt", "folder C");
	t_write(other, "folder/d.txt", "folder D");
	b = t_fmt("%s/b.txt", other);
	folder = t_fmt("%s/folder", other);
	ck_assert_msg(cact_codeact_set_workspace(cc, ws, &err) == 0, "%s", err.message);
	ck_assert_msg(cact_codeact_add_file_mount(cc, b, "extra/b.txt", &err) == 0, "%s",
		      err.message);
	ck_assert_msg(cact_codeact_add_file_mount(cc, folder, "folder", &err) == 0, "%s",
		      err.message);
	d = cact_codeact_description(cc);
	assert_has(d, "/input/extra/b.txt");
	assert_has(d, "/input/folder/ (folder)");
	assert_has(d, "/input holds the workspace folder");
	cact_free(d);
	r = run(cc, "import os\n"
		    "print(open('/input/a.txt').read())\n"
		    "print(open('/input/sub/nested.txt').read())\n"
		    "print(open('/input/extra/b.txt').read())\n"
		    "print(sorted(os.listdir('/input/folder')))\n"
		    "print(open('/input/folder/c.txt').read())\n"
		    "try:\n"
		    "    open('/input/new.txt', 'w')\n"
		    "except OSError as e:\n"
		    "    print('read-only')\n");
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_str_eq(t_out(r),
			 "workspace A\nnested N\nmounted B\n['c.txt', 'd.txt']\nfolder C\n"
			 "read-only\n");
	cact_result_free(r);
	free(b);
	free(folder);
	t_rmtree(ws);
	t_rmtree(other);
	free(ws);
	free(other);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
}
END_TEST

/* ---- allowed domains ---- */

/* state.allowed_domains as compact JSON. */
static char *domains_json(const struct cact_codeact *cc)
{
	json_t *st = state_of(cc);
	char *s = json_dumps(json_object_get(st, "allowed_domains"), JSON_COMPACT);

	json_decref(st);
	return s;
}

#define assert_domains(cc, want)               \
	do {                                   \
		char *got_ = domains_json(cc); \
		ck_assert_str_eq(got_, want);  \
		free(got_);                    \
	} while (0)

START_TEST(domain_targets_normalized)
{
	struct cact_codeact *cc = new_cc(NULL);
	struct cact_error err = {0};
	const char *get[] = {"get"}, *post[] = {"POST"};
	json_t *st;

	ck_assert_int_eq(
		cact_codeact_add_allowed_domain(cc, "https://API.Example.com/v1", NULL, 0, &err),
		0);
	assert_domains(cc, "[{\"target\":\"api.example.com\",\"methods\":null}]");
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "http://Example.com:8080/x?y=1#z",
							 NULL, 0, &err),
			 0);
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "zeta.io", get, 1, &err), 0);
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "ALPHA.org.", NULL, 0, &err), 0);
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "*.Wild.example", NULL, 0, &err), 0);
	assert_domains(cc, "[{\"target\":\"*.wild.example\",\"methods\":null},"
			   "{\"target\":\"alpha.org\",\"methods\":null},"
			   "{\"target\":\"api.example.com\",\"methods\":null},"
			   "{\"target\":\"example.com:8080\",\"methods\":null},"
			   "{\"target\":\"zeta.io\",\"methods\":[\"GET\"]}]");
	/* The same target replaces its entry. */
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "api.EXAMPLE.com", post, 1, &err), 0);
	ck_assert_int_eq(
		cact_codeact_add_allowed_domain(cc, "https://zeta.io/other", NULL, 0, &err), 0);
	assert_domains(cc, "[{\"target\":\"*.wild.example\",\"methods\":null},"
			   "{\"target\":\"alpha.org\",\"methods\":null},"
			   "{\"target\":\"api.example.com\",\"methods\":[\"POST\"]},"
			   "{\"target\":\"example.com:8080\",\"methods\":null},"
			   "{\"target\":\"zeta.io\",\"methods\":null}]");
	/* A port is part of the target. */
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "example.com", NULL, 0, &err), 0);
	st = state_of(cc);
	ck_assert_uint_eq(json_array_size(json_object_get(st, "allowed_domains")), 6);
	ck_assert(json_is_true(json_object_get(st, "network_enabled")));
	json_decref(st);
	cact_codeact_free(cc);
}
END_TEST

START_TEST(domain_methods_normalized)
{
	struct cact_codeact *cc = new_cc(NULL);
	struct cact_error err = {0};
	const char *mixed[] = {"post", "GET", "get", " put ", "Delete"};
	const char *all[] = {"PUT", "POST", "PATCH", "OPTIONS", "HEAD", "GET", "DELETE"};
	const char *sixteen[16];
	size_t i;

	for (i = 0; i < 16; i++)
		sixteen[i] = i % 2 ? "get" : "GET";
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "a.com", mixed, 5, &err), 0);
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "b.com", all, 7, &err), 0);
	ck_assert_msg(cact_codeact_add_allowed_domain(cc, "c.com", sixteen, 16, &err) == 0, "%s",
		      err.message);
	assert_domains(cc,
		       "[{\"target\":\"a.com\",\"methods\":[\"DELETE\",\"GET\",\"POST\",\"PUT\"]},"
		       "{\"target\":\"b.com\",\"methods\":[\"DELETE\",\"GET\",\"HEAD\",\"OPTIONS\","
		       "\"PATCH\",\"POST\",\"PUT\"]},"
		       "{\"target\":\"c.com\",\"methods\":[\"GET\"]}]");
	cact_codeact_free(cc);
}
END_TEST

START_TEST(domain_refusals)
{
	struct cact_codeact *cc = new_cc(NULL);
	struct cact_error err = {0};
	const char *connect[] = {"GET", "CONNECT"}, *trace[] = {"trace"}, *fetch[] = {"FETCH"};
	const char *blank[] = {""}, *null_m[] = {NULL}, *two_words[] = {"GET POST"};
	const char *seventeen[17];
	char *before, *after;
	size_t i;

	for (i = 0; i < 17; i++)
		seventeen[i] = "GET";
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "keep.example", NULL, 0, &err), 0);
	before = cact_codeact_state(cc);
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "x.com", connect, 2, &err),
			 CACT_EINVAL);
	assert_has(err.message, "CONNECT is never allowed");
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "x.com", trace, 1, &err), CACT_EINVAL);
	assert_has(err.message, "TRACE is never allowed");
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "x.com", fetch, 1, &err), CACT_EINVAL);
	assert_has(err.message, "'FETCH' is not an HTTP method");
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "x.com", seventeen, 17, &err),
			 CACT_EINVAL);
	assert_has(err.message, "more than 16 methods");
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "x.com", blank, 1, &err), CACT_EINVAL);
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "x.com", null_m, 1, &err),
			 CACT_EINVAL);
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "x.com", two_words, 1, &err),
			 CACT_EINVAL);
	ck_assert_int_eq(
		cact_codeact_add_allowed_domain(cc, "https://user:pw@x.com/", NULL, 0, &err),
		CACT_EINVAL);
	assert_has(err.message, "user info is not allowed");
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "me@x.com", NULL, 0, &err),
			 CACT_EINVAL);
	assert_has(err.message, "user info is not allowed");
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "", NULL, 0, &err), CACT_EINVAL);
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, NULL, NULL, 0, &err), CACT_EINVAL);
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "x.com:99999", NULL, 0, &err),
			 CACT_EINVAL);
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "x..com", NULL, 0, &err), CACT_EINVAL);
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "x com", NULL, 0, &err), CACT_EINVAL);
	/* Replacing an existing target with bad methods leaves it as it was. */
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "keep.example", connect, 2, &err),
			 CACT_EINVAL);
	after = cact_codeact_state(cc);
	ck_assert_str_eq(after, before);
	free(before);
	free(after);
	cact_codeact_free(cc);
}
END_TEST

START_TEST(domain_remove_normalizes)
{
	struct cact_codeact *cc = new_cc(NULL);
	struct cact_error err = {0};
	json_t *st;
	char *d;

	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "api.example.com", NULL, 0, &err), 0);
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "api.example.com:8443", NULL, 0, &err),
			 0);
	ck_assert_int_eq(
		cact_codeact_remove_allowed_domain(cc, "HTTPS://API.Example.COM/any/path", &err),
		0);
	assert_domains(cc, "[{\"target\":\"api.example.com:8443\",\"methods\":null}]");
	ck_assert_int_eq(cact_codeact_remove_allowed_domain(cc, "api.example.com", &err),
			 CACT_ENOENT);
	assert_has(err.message, "api.example.com");
	ck_assert_int_eq(cact_codeact_remove_allowed_domain(cc, "https://u@api.example.com", &err),
			 CACT_EINVAL);
	ck_assert_int_eq(
		cact_codeact_remove_allowed_domain(cc, "http://api.example.com:8443/", &err), 0);
	st = state_of(cc);
	ck_assert(json_is_false(json_object_get(st, "network_enabled")));
	ck_assert_uint_eq(json_array_size(json_object_get(st, "allowed_domains")), 0);
	json_decref(st);
	d = cact_codeact_description(cc);
	assert_has(d, "Network: none");
	cact_free(d);
	cact_codeact_free(cc);
}
END_TEST

/* ---- the description and the instructions ---- */

START_TEST(description_lists_tools)
{
	struct cact_codeact *cc = new_cc(NULL);
	struct cact_tool *calc = NULL;
	struct cact_error err = {0};
	char *d;

	ck_assert_msg(cact_tool_new_callback(
			      "calc", "Adds\n  numbers.",
			      "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\","
			      "\"description\":\"First\\naddend.\"},\"b\":{\"type\":\"number\"},"
			      "\"mode\":{"
			      "\"enum\":[\"fast\",\"slow\"]},\"tags\":{\"type\":\"array\","
			      "\"items\":{\"type\":"
			      "\"string\"}},\"opt\":{\"type\":[\"string\",\"null\"]},\"any\":{}},"
			      "\"required\":[\"a\",\"mode\"]}",
			      CACT_APPROVAL_NEVER_REQUIRE, echo_fn, NULL, &calc, &err) == 0,
		      "%s", err.message);
	add(cc, calc);
	add(cc, new_tool("send", NULL, CACT_APPROVAL_ALWAYS_REQUIRE));
	d = cact_codeact_description(cc);
	assert_has(d, "call_tool(name, **kwargs)");
	assert_has(d, "- calc(a: integer, b?: number, mode: \"fast\" | \"slow\", tags?: array of "
		      "string, opt?: string or null, any?: any): Adds numbers.\n");
	assert_has(d, "    a: First addend.\n");
	assert_has(d, "- send(): Echoes its arguments. (needs approval)\n");
	/* calc comes before send, as registered. */
	ck_assert(strstr(d, "- calc(") < strstr(d, "- send("));
	assert_lacks(d, "Tools: none are registered.");
	/* The PermissionError note only with per-call approval. */
	assert_lacks(d, "PermissionError if a call needing approval is denied");
	cact_free(d);
	cact_codeact_set_per_call_approval(cc, 1, NULL, NULL);
	d = cact_codeact_description(cc);
	assert_has(d, "PermissionError if a call needing approval is denied");
	cact_free(d);
	cact_codeact_free(cc);
}
END_TEST

START_TEST(description_files_network_limits)
{
	struct cact_codeact *cc = new_cc(NULL);
	struct cact_error err = {0};
	const char *gp[] = {"post", "GET"};
	char *dir = t_tmpdir(), *f, *d;

	d = cact_codeact_description(cc);
	assert_has(d, "Tools: none are registered.");
	assert_has(d, "/input is empty");
	assert_has(d, "/output");
	assert_has(d, "Network: none.");
	assert_lacks(d, "http_get");
	assert_has(d, "30 s of wall-clock time");
	assert_has(d, "512 MiB of memory");
	cact_free(d);

	t_write(dir, "ws/a.txt", "a");
	t_write(dir, "data.csv", "d");
	f = t_fmt("%s/ws", dir);
	ck_assert_int_eq(cact_codeact_set_workspace(cc, f, &err), 0);
	free(f);
	f = t_fmt("%s/data.csv", dir);
	ck_assert_int_eq(cact_codeact_add_file_mount(cc, f, "tables/data.csv", &err), 0);
	free(f);
	ck_assert_int_eq(
		cact_codeact_add_allowed_domain(cc, "https://API.example.com/v2", gp, 2, &err), 0);
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "example.org", NULL, 0, &err), 0);
	ck_assert_int_eq(cact_codeact_set_limit(cc, CACT_LIMIT_TIMEOUT_MS, 2500, &err), 0);
	ck_assert_int_eq(cact_codeact_set_limit(cc, CACT_LIMIT_MEMORY_BYTES, 256 * MIB, &err), 0);
	d = cact_codeact_description(cc);
	assert_has(d, "/input holds the workspace folder");
	assert_has(d, "/input/tables/data.csv");
	assert_has(d, "/output");
	assert_lacks(d, "/input is empty");
	assert_has(d, "api.example.com (GET,POST)");
	assert_has(d, "example.org (any method");
	assert_has(d, "http_get(");
	assert_has(d, "http_post(");
	assert_has(d, "http_request(");
	assert_lacks(d, "Network: none");
	assert_has(d, "2.5 s of wall-clock time");
	assert_has(d, "256 MiB of memory");
	cact_free(d);
	t_rmtree(dir);
	free(dir);
	cact_codeact_free(cc);
}
END_TEST

/* Long limits read as plain seconds, not in exponent notation. */
START_TEST(description_long_timeout_readable)
{
	struct cact_codeact *cc = new_cc(NULL);
	struct cact_error err = {0};
	char *d;

	ck_assert_int_eq(cact_codeact_set_limit(cc, CACT_LIMIT_TIMEOUT_MS, 600000, &err), 0);
	d = cact_codeact_description(cc);
	assert_has(d, "600 s of wall-clock time");
	cact_free(d);
	ck_assert_int_eq(cact_codeact_set_limit(cc, CACT_LIMIT_TIMEOUT_MS, 3600000, &err), 0);
	d = cact_codeact_description(cc);
	assert_has(d, "3600 s of wall-clock time");
	assert_lacks(d, "e+0");
	cact_free(d);
	cact_codeact_free(cc);
}
END_TEST

START_TEST(instructions_text)
{
	struct cact_codeact *cc = new_cc(NULL);
	char *a = cact_codeact_instructions(cc, 0), *b = cact_codeact_instructions(cc, 1);

	assert_has(a, "execute_code");
	assert_has(a, "Prefer one execute_code call");
	assert_has(b, "Prefer one execute_code call");
	cact_free(a);
	cact_free(b);
	add(cc, new_tool("lookup", NULL, CACT_APPROVAL_NEVER_REQUIRE));
	a = cact_codeact_instructions(cc, 0);
	b = cact_codeact_instructions(cc, 1);
	assert_has(a, "Prefer one execute_code call");
	assert_has(b, "Prefer one execute_code call");
	ck_assert_str_ne(a, b);
	assert_has(a, "call_tool");
	assert_has(b, "call_tool");
	assert_has(b, "also offered to you directly");
	assert_lacks(a, "also offered to you directly");
	assert_has(a, "only with call_tool");
	cact_free(a);
	cact_free(b);
	cact_codeact_free(cc);
}
END_TEST

START_TEST(input_schema_shape)
{
	json_t *s = parse(cact_codeact_input_schema()), *code, *ok, *bad;
	struct cact_error err = {0};

	ck_assert_str_eq(json_string_value(json_object_get(s, "type")), "object");
	code = json_object_get(json_object_get(s, "properties"), "code");
	ck_assert_str_eq(json_string_value(json_object_get(code, "type")), "string");
	ck_assert(json_is_string(json_object_get(code, "description")));
	ck_assert_uint_eq(json_array_size(json_object_get(s, "required")), 1);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(s, "required"), 0)),
			 "code");
	ck_assert(json_is_false(json_object_get(s, "additionalProperties")));
	/* Well formed by the library's own checker, and it means what it says. */
	ck_assert_int_eq(schema_check(s, &err), 0);
	ok = parse("{\"code\":\"print(1)\"}");
	bad = parse("{\"code\":\"x\",\"lang\":\"py\"}");
	ck_assert_int_eq(schema_validate(s, ok, &err), 0);
	ck_assert_int_eq(schema_validate(s, bad, &err), CACT_EINVAL);
	ck_assert_ptr_eq(cact_codeact_input_schema(), cact_codeact_input_schema());
	json_decref(s);
	json_decref(ok);
	json_decref(bad);
}
END_TEST

/* ---- execution and contents ---- */

START_TEST(contents_stdout_files_stderr)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_codeact *cc = new_cc(rt);
	struct cact_result *r;
	unsigned char bytes[256];
	json_t *c, *first, *last;
	size_t i;

	for (i = 0; i < sizeof(bytes); i++)
		bytes[i] = (unsigned char)i;
	r = run(cc, "import os, sys\n"
		    "print('hello')\n"
		    "open('/output/a.txt', 'w').write('alpha')\n"
		    "os.makedirs('/output/img')\n"
		    "open('/output/img/p.png', 'wb').write(bytes(range(256)))\n"
		    "_ = sys.stderr.write('warn\\n')\n");
	t_assert_status(r, CACT_STATUS_OK);
	c = contents_of(r);
	ck_assert_uint_eq(json_array_size(c), 4);
	first = json_array_get(c, 0);
	ck_assert_uint_eq(json_object_size(first), 2);
	ck_assert_str_eq(json_string_value(json_object_get(first, "type")), "text");
	ck_assert_str_eq(json_string_value(json_object_get(first, "text")), "hello\n");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(c, 1), "type")), "data");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(c, 2), "type")), "data");
	assert_data_item(c, "/output/a.txt", "text/plain", "alpha", 5);
	assert_data_item(c, "/output/img/p.png", "image/png", bytes, sizeof(bytes));
	ck_assert_str_eq(json_string_value(json_object_get(data_item(c, "/output/a.txt"), "data")),
			 "data:text/plain;base64,YWxwaGE=");
	last = json_array_get(c, 3);
	ck_assert_str_eq(json_string_value(json_object_get(last, "type")), "text");
	ck_assert_str_eq(json_string_value(json_object_get(last, "text")), "warn\n");
	json_decref(c);
	cact_result_free(r);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
}
END_TEST

/* How many times needle occurs in s. */
static int count_of(const char *s, const char *needle)
{
	int n = 0;

	for (; s && (s = strstr(s, needle)); s += strlen(needle))
		n++;
	return n;
}

START_TEST(contents_error_item)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_codeact *cc = new_cc(rt);
	struct cact_result *r;
	const char *details;
	json_t *c, *e;

	r = run(cc, "print('before')\n"
		    "def explode():\n"
		    "    raise ValueError('boom-42')\n"
		    "explode()\n");
	t_assert_status(r, CACT_STATUS_PYTHON_ERROR);
	c = contents_of(r);
	ck_assert_uint_eq(json_array_size(c), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(c, 0), "text")),
			 "before\n");
	e = json_array_get(c, 1);
	ck_assert_uint_eq(json_object_size(e), 3);
	ck_assert_str_eq(json_string_value(json_object_get(e, "type")), "error");
	ck_assert_str_eq(json_string_value(json_object_get(e, "message")), "Execution error");
	details = json_string_value(json_object_get(e, "details"));
	ck_assert_ptr_nonnull(details);
	assert_has(details, "ValueError");
	assert_has(details, "boom-42");
	assert_has(details, "Traceback");
	assert_has(details, "explode");
	json_decref(c);
	cact_result_free(r);

	/* Output on stderr before the failure: the exception and traceback are still there, and stderr is not a separate text item. */
	r = run(cc, "import sys\n"
		    "sys.stderr.write('note on stderr\\n')\n"
		    "def deep():\n"
		    "    return {}['missing-key']\n"
		    "deep()\n");
	t_assert_status(r, CACT_STATUS_PYTHON_ERROR);
	c = contents_of(r);
	ck_assert_uint_eq(json_array_size(c), 1);
	e = json_array_get(c, 0);
	ck_assert_str_eq(json_string_value(json_object_get(e, "type")), "error");
	details = json_string_value(json_object_get(e, "details"));
	assert_has(details, "KeyError");
	assert_has(details, "missing-key");
	assert_has(details, "Traceback");
	assert_has(details, "deep");
	ck_assert_int_eq(count_of(details, "Traceback (most recent call last)"), 1);
	json_decref(c);
	cact_result_free(r);

	/* stderr past its cap lost the traceback: the details and the model text carry it, once. */
	r = run(cc, "import sys\n"
		    "sys.stderr.write('x' * (8 << 20))\n"
		    "raise LookupError('after-the-flood')\n");
	t_assert_status(r, CACT_STATUS_PYTHON_ERROR);
	c = contents_of(r);
	details = json_string_value(json_object_get(json_array_get(c, 0), "details"));
	ck_assert_int_eq(count_of(details, "Traceback (most recent call last)"), 1);
	assert_has(details, "LookupError: after-the-flood");
	{
		char *text = cact_result_model_text(r);

		ck_assert_int_eq(count_of(text, "Traceback (most recent call last)"), 1);
		ck_assert_int_eq(count_of(text, "LookupError: after-the-flood"), 2);
		cact_free(text);
	}
	json_decref(c);
	cact_result_free(r);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(contents_without_output)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_codeact *cc = new_cc(rt);
	struct cact_result *r;
	char *s;
	json_t *c;

	r = run(cc, "x = 1\n");
	t_assert_status(r, CACT_STATUS_OK);
	s = cact_result_contents_json(r);
	ck_assert_str_eq(s, "[{\"type\":\"text\",\"text\":\"Code executed successfully without "
			    "output.\"}]");
	cact_free(s);
	cact_result_free(r);
	/* stderr alone is output. */
	r = run(cc, "import sys\n_ = sys.stderr.write('only err')\n");
	t_assert_status(r, CACT_STATUS_OK);
	c = contents_of(r);
	ck_assert_uint_eq(json_array_size(c), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(c, 0), "text")),
			 "only err");
	json_decref(c);
	cact_result_free(r);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(output_files_found_without_listing)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_codeact *cc = new_cc(rt);
	struct cact_result *r;
	json_t *c;

	r = run(cc, "import os, json\n"
		    "os.makedirs('/output/deep/a/b')\n"
		    "with open('/output/report.csv', 'w') as f:\n"
		    "    f.write('x,y\\n1,2\\n')\n"
		    "json.dump({'k': 1}, open('/output/deep/a/b/c.json', 'w'))\n");
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_uint_eq(cact_result_file_count(r), 2);
	c = contents_of(r);
	ck_assert_uint_eq(json_array_size(c), 2);
	assert_data_item(c, "/output/report.csv", "text/csv", "x,y\n1,2\n", 8);
	assert_data_item(c, "/output/deep/a/b/c.json", "application/json", "{\"k\": 1}", 8);
	json_decref(c);
	cact_result_free(r);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(output_not_carried_over)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_codeact *cc = new_cc(rt);
	struct cact_result *r;
	json_t *c;
	int i;

	r = run(cc, "open('/output/first.txt', 'w').write('one')\nprint('wrote')\n");
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_uint_eq(cact_result_file_count(r), 1);
	cact_result_free(r);
	for (i = 0; i < 2; i++) {
		r = run(cc, "import os\nprint(sorted(os.listdir('/output')))\n");
		t_assert_status(r, CACT_STATUS_OK);
		ck_assert_str_eq(t_out(r), "[]\n");
		ck_assert_uint_eq(cact_result_file_count(r), 0);
		c = contents_of(r);
		ck_assert_uint_eq(json_array_size(c), 1);
		ck_assert_ptr_null(data_item(c, "/output/first.txt"));
		json_decref(c);
		cact_result_free(r);
	}
	cact_codeact_free(cc);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(execute_calls_tools)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_codeact *cc = new_cc(rt);
	struct cact_result *r;

	add(cc, new_tool("echo",
			 "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\"}},"
			 "\"required\":[\"n\"]}",
			 CACT_APPROVAL_NEVER_REQUIRE));
	r = run(cc, "r = call_tool('echo', n=5)\n"
		    "print(r['tool'], r['args'])\n"
		    "for bad in ({'n': 'x'}, {}):\n"
		    "    try:\n"
		    "        call_tool('echo', **bad)\n"
		    "    except RuntimeError as e:\n"
		    "        print('E', e)\n"
		    "try:\n"
		    "    call_tool('nope')\n"
		    "except RuntimeError as e:\n"
		    "    print('U', 'nope' in str(e))\n");
	t_assert_status(r, CACT_STATUS_OK);
	assert_has(t_out(r), "echo {'n': 5}\n");
	assert_has(t_out(r), "$.n: expected integer, got string");
	assert_has(t_out(r), "$: missing required property 'n'");
	assert_has(t_out(r), "U True\n");
	cact_result_free(r);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
}
END_TEST

struct asker {
	pthread_mutex_t lock;
	int answer;
	int calls;
	char name[64];
	char args[256];
};

static int ask_fn(void *user, const char *name, const char *args)
{
	struct asker *a = user;
	int yes;

	pthread_mutex_lock(&a->lock);
	a->calls++;
	snprintf(a->name, sizeof(a->name), "%s", name);
	snprintf(a->args, sizeof(a->args), "%s", args);
	yes = a->answer;
	pthread_mutex_unlock(&a->lock);
	return yes;
}

START_TEST(per_call_approval_in_execution)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_codeact *cc = new_cc(rt);
	struct asker a = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct cact_result *r;
	const char *code = "try:\n"
			   "    print(call_tool('send', to='x@example.com')['tool'])\n"
			   "except PermissionError as e:\n"
			   "    print('denied')\n"
			   "print(call_tool('free')['tool'])\n";

	add(cc, new_tool("send", NULL, CACT_APPROVAL_ALWAYS_REQUIRE));
	add(cc, new_tool("free", NULL, CACT_APPROVAL_NEVER_REQUIRE));
	/* Off: the caller approved up front; nothing is asked. */
	r = run(cc, code);
	ck_assert_str_eq(t_out(r), "send\nfree\n");
	cact_result_free(r);
	/* On, denied. */
	cact_codeact_set_per_call_approval(cc, 1, ask_fn, &a);
	r = run(cc, code);
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_str_eq(t_out(r), "denied\nfree\n");
	ck_assert_int_eq(a.calls, 1);
	ck_assert_str_eq(a.name, "send");
	ck_assert_str_eq(a.args, "{\"to\":\"x@example.com\"}");
	cact_result_free(r);
	/* On, approved. */
	a.answer = 1;
	r = run(cc, code);
	ck_assert_str_eq(t_out(r), "send\nfree\n");
	ck_assert_int_eq(a.calls, 2);
	cact_result_free(r);
	/* On without a callback: denied. */
	cact_codeact_set_per_call_approval(cc, 1, NULL, NULL);
	r = run(cc, code);
	ck_assert_str_eq(t_out(r), "denied\nfree\n");
	ck_assert_int_eq(a.calls, 2);
	cact_result_free(r);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
}
END_TEST

/* ---- snapshots and concurrency ---- */

START_TEST(snapshot_unaffected_by_later_changes)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_codeact *cc = new_cc(rt), *snap = NULL;
	struct cact_error err = {0};
	char *dir = t_tmpdir(), *one, *two, *st0, *st1, *snap_desc0, *snap_desc1;
	struct cact_result *r;

	t_write(dir, "one.txt", "first");
	t_write(dir, "two.txt", "second");
	one = t_fmt("%s/one.txt", dir);
	two = t_fmt("%s/two.txt", dir);
	add(cc, new_tool("a", NULL, CACT_APPROVAL_NEVER_REQUIRE));
	add(cc, new_tool("b", NULL, CACT_APPROVAL_NEVER_REQUIRE));
	ck_assert_int_eq(cact_codeact_add_file_mount(cc, one, "one.txt", &err), 0);
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "a.example", NULL, 0, &err), 0);
	ck_assert_int_eq(cact_codeact_set_limit(cc, CACT_LIMIT_TIMEOUT_MS, 20000, &err), 0);
	ck_assert_msg(cact_codeact_snapshot(cc, &snap, &err) == 0, "%s", err.message);
	st0 = cact_codeact_state(cc);
	st1 = cact_codeact_state(snap);
	ck_assert_str_eq(st1, st0);
	cact_free(st1);
	snap_desc0 = cact_codeact_description(snap);

	ck_assert_int_eq(cact_codeact_remove_tool(cc, "a", &err), 0);
	add(cc, new_tool("c", NULL, CACT_APPROVAL_ALWAYS_REQUIRE));
	ck_assert_int_eq(cact_codeact_remove_file_mount(cc, "one.txt", &err), 0);
	ck_assert_int_eq(cact_codeact_add_file_mount(cc, two, "two.txt", &err), 0);
	ck_assert_int_eq(cact_codeact_remove_allowed_domain(cc, "a.example", &err), 0);
	ck_assert_int_eq(cact_codeact_set_limit(cc, CACT_LIMIT_TIMEOUT_MS, 1000, &err), 0);
	cact_codeact_set_default_approval(cc, CACT_APPROVAL_ALWAYS_REQUIRE);
	cact_codeact_set_per_call_approval(cc, 1, NULL, NULL);

	st1 = cact_codeact_state(snap);
	ck_assert_str_eq(st1, st0);
	cact_free(st1);
	snap_desc1 = cact_codeact_description(snap);
	ck_assert_str_eq(snap_desc1, snap_desc0);
	ck_assert_int_eq(cact_codeact_approval(snap), CACT_APPROVAL_NEVER_REQUIRE);
	ck_assert_int_eq(cact_codeact_approval(cc), CACT_APPROVAL_ALWAYS_REQUIRE);
	assert_names(snap, "a,b");
	assert_names(cc, "b,c");

	/* The snapshot runs what it captured. */
	r = run(snap, "import os\n"
		      "print(call_tool('a')['tool'])\n"
		      "print(open('/input/one.txt').read())\n"
		      "print(os.path.exists('/input/two.txt'))\n");
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_str_eq(t_out(r), "a\nfirst\nFalse\n");
	cact_result_free(r);
	/* And changes to the snapshot do not reach the original. */
	cact_codeact_clear_tools(snap);
	assert_names(cc, "b,c");

	cact_free(st0);
	cact_free(snap_desc0);
	cact_free(snap_desc1);
	free(one);
	free(two);
	t_rmtree(dir);
	free(dir);
	cact_codeact_free(snap);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
}
END_TEST

struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int started, released;
};

/* Blocks until released (20 s at most), after saying it started. */
static int gate_fn(void *user, const char *name, const char *args, char **result,
		   struct cact_error *err)
{
	struct gate *g = user;
	struct timespec ts;

	(void)name;
	(void)args;
	(void)err;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 20;
	pthread_mutex_lock(&g->lock);
	g->started = 1;
	pthread_cond_broadcast(&g->cond);
	while (!g->released)
		if (pthread_cond_timedwait(&g->cond, &g->lock, &ts))
			break;
	pthread_mutex_unlock(&g->lock);
	*result = strdup("true");
	return *result ? 0 : CACT_ENOMEM;
}

struct bg_run {
	struct cact_codeact *cc;
	const char *code;
	struct cact_result *res;
	struct cact_error err;
	int rc;
};

static void *bg_main(void *p)
{
	struct bg_run *b = p;

	b->rc = cact_codeact_execute(b->cc, b->code, strlen(b->code), &b->res, &b->err);
	return NULL;
}

START_TEST(change_during_execution_applies_later)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_codeact *cc = new_cc(rt);
	struct gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
	struct cact_error err = {0};
	struct cact_tool *gate = NULL;
	char *dir = t_tmpdir(), *old, *new;
	struct bg_run b = {0};
	struct cact_result *r;
	struct timespec ts;
	pthread_t th;
	const char *probe =
		"import os\n"
		"try:\n"
		"    print(call_tool('later', v=1)['tool'])\n"
		"except RuntimeError:\n"
		"    print('gone')\n"
		"print(os.path.exists('/input/old.txt'), os.path.exists('/input/new.txt'))\n";
	char *code;

	t_write(dir, "old.txt", "o");
	t_write(dir, "new.txt", "n");
	old = t_fmt("%s/old.txt", dir);
	new = t_fmt("%s/new.txt", dir);
	ck_assert_int_eq(cact_tool_new_callback("gate", NULL, NULL, CACT_APPROVAL_NEVER_REQUIRE,
						gate_fn, &g, &gate, &err),
			 0);
	add(cc, gate);
	add(cc, new_tool("later", NULL, CACT_APPROVAL_NEVER_REQUIRE));
	ck_assert_int_eq(cact_codeact_add_file_mount(cc, old, "old.txt", &err), 0);
	code = t_fmt("call_tool('gate')\n%s", probe);
	b.cc = cc;
	b.code = code;
	ck_assert_int_eq(pthread_create(&th, NULL, bg_main, &b), 0);

	/* Wait until the code is inside the gate, then change everything. */
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 30;
	pthread_mutex_lock(&g.lock);
	while (!g.started)
		if (pthread_cond_timedwait(&g.cond, &g.lock, &ts))
			break;
	pthread_mutex_unlock(&g.lock);
	ck_assert_msg(g.started, "the execution never reached the gate tool");
	ck_assert_int_eq(cact_codeact_remove_tool(cc, "later", &err), 0);
	ck_assert_int_eq(cact_codeact_remove_file_mount(cc, "old.txt", &err), 0);
	ck_assert_int_eq(cact_codeact_add_file_mount(cc, new, "new.txt", &err), 0);
	ck_assert_int_eq(cact_codeact_set_limit(cc, CACT_LIMIT_STDOUT_BYTES, 1024, &err), 0);
	pthread_mutex_lock(&g.lock);
	g.released = 1;
	pthread_cond_broadcast(&g.cond);
	pthread_mutex_unlock(&g.lock);
	pthread_join(th, NULL);

	ck_assert_msg(b.rc == 0, "background execution: %s", b.err.message);
	t_assert_status(b.res, CACT_STATUS_OK);
	ck_assert_str_eq(t_out(b.res), "later\nTrue False\n");
	cact_result_free(b.res);

	/* The next execution sees the change. */
	r = run(cc, probe);
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_str_eq(t_out(r), "gone\nFalse True\n");
	cact_result_free(r);
	free(code);
	free(old);
	free(new);
	t_rmtree(dir);
	free(dir);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
}
END_TEST

/* ---- state ---- */

START_TEST(state_keys_and_defaults)
{
	struct cact_codeact *cc = new_cc(NULL);
	json_t *st = state_of(cc), *limits;
	size_t i;

	/* Every key of the contract is there (later versions may add more). */
	ck_assert_uint_ge(json_object_size(st), 11);
	ck_assert_str_eq(json_string_value(json_object_get(st, "backend")), "cact");
	ck_assert_str_eq(json_string_value(json_object_get(st, "approval_mode")), "never_require");
	ck_assert_str_eq(json_string_value(json_object_get(st, "default_approval_mode")),
			 "never_require");
	ck_assert(json_is_false(json_object_get(st, "per_call_approval")));
	ck_assert(json_is_array(json_object_get(st, "tool_names")));
	ck_assert_uint_eq(json_array_size(json_object_get(st, "tool_names")), 0);
	/* /output and /tmp: a run always has files to write, even with nothing at /input. */
	ck_assert(json_is_true(json_object_get(st, "filesystem_enabled")));
	ck_assert(json_is_null(json_object_get(st, "workspace_root")));
	ck_assert(json_is_array(json_object_get(st, "file_mounts")));
	ck_assert_uint_eq(json_array_size(json_object_get(st, "file_mounts")), 0);
	ck_assert(json_is_false(json_object_get(st, "network_enabled")));
	ck_assert(json_is_array(json_object_get(st, "allowed_domains")));
	ck_assert_uint_eq(json_array_size(json_object_get(st, "allowed_domains")), 0);
	limits = json_object_get(st, "limits");
	ck_assert(json_is_object(limits));
	ck_assert_uint_eq(json_object_size(limits), CACT_LIMIT__COUNT);
	for (i = 0; i < CACT_LIMIT__COUNT; i++) {
		json_t *v = json_object_get(limits, cact_limit_name((enum cact_limit)i));

		ck_assert_msg(json_is_integer(v), "limit %s", cact_limit_name((enum cact_limit)i));
		ck_assert_int_eq(json_integer_value(v),
				 (json_int_t)cact_limit_default((enum cact_limit)i));
	}
	json_decref(st);
	cact_codeact_free(cc);
}
END_TEST

START_TEST(state_reflects_configuration)
{
	struct cact_codeact *cc = new_cc(NULL);
	struct cact_error err = {0};
	const char *gp[] = {"post", "get"};
	char *dir = t_tmpdir(), *rdir, *ws, *f, *want;
	json_t *st, *expect;

	t_write(dir, "ws/x", "");
	t_write(dir, "m.csv", "m");
	rdir = real(dir);
	add(cc, new_tool("one", NULL, CACT_APPROVAL_NEVER_REQUIRE));
	add(cc, new_tool("two", NULL, CACT_APPROVAL_ALWAYS_REQUIRE));
	f = t_fmt("%s/m.csv", dir);
	ck_assert_int_eq(cact_codeact_add_file_mount(cc, f, "tables/m.csv", &err), 0);
	/* A mount alone enables the file system. */
	st = state_of(cc);
	ck_assert(json_is_true(json_object_get(st, "filesystem_enabled")));
	ck_assert(json_is_null(json_object_get(st, "workspace_root")));
	json_decref(st);
	ws = t_fmt("%s/ws", dir);
	ck_assert_int_eq(cact_codeact_set_workspace(cc, ws, &err), 0);
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "z.example", gp, 2, &err), 0);
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "https://A.example/x", NULL, 0, &err),
			 0);
	ck_assert_int_eq(cact_codeact_set_limit(cc, CACT_LIMIT_TIMEOUT_MS, 1234, &err), 0);
	ck_assert_int_eq(cact_codeact_set_limit(cc, CACT_LIMIT_TOOL_CALLS, 0, &err), 0);
	ck_assert_int_eq(cact_codeact_set_limit(cc, CACT_LIMIT_TIMEOUT_MS, 0, &err), CACT_EINVAL);
	st = state_of(cc);
	want = t_fmt("%s/ws", rdir);
	ck_assert_str_eq(json_string_value(json_object_get(st, "approval_mode")), "always_require");
	ck_assert_str_eq(json_string_value(json_object_get(st, "workspace_root")), want);
	free(want);
	want = t_fmt("%s/m.csv", rdir);
	expect = json_pack("[{s:s, s:s}]", "host_path", want, "mount_path", "/input/tables/m.csv");
	ck_assert(json_equal(json_object_get(st, "file_mounts"), expect));
	json_decref(expect);
	expect = parse("[{\"target\":\"a.example\",\"methods\":null},"
		       "{\"target\":\"z.example\",\"methods\":[\"GET\",\"POST\"]}]");
	ck_assert(json_equal(json_object_get(st, "allowed_domains"), expect));
	json_decref(expect);
	ck_assert(json_is_true(json_object_get(st, "network_enabled")));
	ck_assert_int_eq(
		json_integer_value(json_object_get(json_object_get(st, "limits"), "timeout_ms")),
		1234);
	ck_assert_int_eq(
		json_integer_value(json_object_get(json_object_get(st, "limits"), "tool_calls")),
		0);
	json_decref(st);
	/* Clearing the workspace. */
	ck_assert_int_eq(cact_codeact_set_workspace(cc, NULL, &err), 0);
	st = state_of(cc);
	ck_assert(json_is_null(json_object_get(st, "workspace_root")));
	json_decref(st);
	free(want);
	free(f);
	free(ws);
	free(rdir);
	t_rmtree(dir);
	free(dir);
	cact_codeact_free(cc);
}
END_TEST

START_TEST(state_round_trip)
{
	struct cact_codeact *cc = new_cc(NULL), *back = NULL;
	struct cact_error err = {0};
	struct cact_tool *a = new_tool("a", NULL, CACT_APPROVAL_NEVER_REQUIRE);
	struct cact_tool *b = new_tool("b", "{\"properties\":{\"q\":{\"type\":\"string\"}}}",
				       CACT_APPROVAL_ALWAYS_REQUIRE);
	struct cact_tool *c = new_tool("c", NULL, CACT_APPROVAL_NEVER_REQUIRE);
	struct cact_tool *extra = new_tool("extra", NULL, CACT_APPROVAL_ALWAYS_REQUIRE);
	struct cact_tool *given[4];
	struct cact_tool **tools = NULL;
	const char *m[] = {"PUT", "get"};
	char *dir = t_tmpdir(), *f, *s1, *s2, *d1, *d2;
	size_t n = 0;

	t_write(dir, "ws/x", "");
	t_write(dir, "one.csv", "1");
	t_write(dir, "two/inner.txt", "2");
	ck_assert_int_eq(cact_codeact_add_tool(cc, c, &err), 0);
	ck_assert_int_eq(cact_codeact_add_tool(cc, a, &err), 0);
	ck_assert_int_eq(cact_codeact_add_tool(cc, b, &err), 0);
	cact_codeact_set_default_approval(cc, CACT_APPROVAL_ALWAYS_REQUIRE);
	cact_codeact_set_per_call_approval(cc, 1, NULL, NULL);
	f = t_fmt("%s/ws", dir);
	ck_assert_int_eq(cact_codeact_set_workspace(cc, f, &err), 0);
	free(f);
	f = t_fmt("%s/one.csv", dir);
	ck_assert_int_eq(cact_codeact_add_file_mount(cc, f, "z/one.csv", &err), 0);
	free(f);
	f = t_fmt("%s/two", dir);
	ck_assert_int_eq(cact_codeact_add_file_mount(cc, f, "a/two", &err), 0);
	free(f);
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "b.example:8080", m, 2, &err), 0);
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "a.example", NULL, 0, &err), 0);
	ck_assert_int_eq(cact_codeact_set_limit(cc, CACT_LIMIT_TIMEOUT_MS, 4321, &err), 0);
	ck_assert_int_eq(cact_codeact_set_limit(cc, CACT_LIMIT_OUTPUT_FILES, 9, &err), 0);
	s1 = cact_codeact_state(cc);

	/* Tools given in another order, with one more than named. */
	given[0] = extra;
	given[1] = b;
	given[2] = a;
	given[3] = c;
	ck_assert_msg(cact_codeact_new_from_state(NULL, s1, given, 4, &back, &err) == 0, "%s",
		      err.message);
	s2 = cact_codeact_state(back);
	ck_assert_str_eq(s2, s1);
	d1 = cact_codeact_description(cc);
	d2 = cact_codeact_description(back);
	ck_assert_str_eq(d2, d1);
	ck_assert_int_eq(cact_codeact_per_call_approval(back), 1);
	ck_assert_int_eq(cact_codeact_default_approval(back), CACT_APPROVAL_ALWAYS_REQUIRE);
	ck_assert_int_eq(cact_codeact_tools(back, &tools, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_ptr_eq(tools[0], c);
	ck_assert_ptr_eq(tools[1], a);
	ck_assert_ptr_eq(tools[2], b);
	cact_tools_free(tools, n);

	cact_free(s1);
	cact_free(s2);
	cact_free(d1);
	cact_free(d2);
	cact_codeact_free(back);
	/* An empty configuration round-trips too. */
	cact_codeact_free(cc);
	cc = new_cc(NULL);
	s1 = cact_codeact_state(cc);
	ck_assert_int_eq(cact_codeact_new_from_state(NULL, s1, NULL, 0, &back, &err), 0);
	s2 = cact_codeact_state(back);
	ck_assert_str_eq(s2, s1);
	cact_free(s1);
	cact_free(s2);
	cact_codeact_free(back);
	cact_tool_unref(a);
	cact_tool_unref(b);
	cact_tool_unref(c);
	cact_tool_unref(extra);
	t_rmtree(dir);
	free(dir);
	cact_codeact_free(cc);
}
END_TEST

START_TEST(state_missing_tool)
{
	struct cact_codeact *cc = new_cc(NULL), *back = (struct cact_codeact *)1;
	struct cact_error err = {0};
	struct cact_tool *a = new_tool("a", NULL, CACT_APPROVAL_NEVER_REQUIRE);
	struct cact_tool *b = new_tool("bee", NULL, CACT_APPROVAL_NEVER_REQUIRE);
	char *s;

	ck_assert_int_eq(cact_codeact_add_tool(cc, a, &err), 0);
	ck_assert_int_eq(cact_codeact_add_tool(cc, b, &err), 0);
	s = cact_codeact_state(cc);
	ck_assert_int_eq(cact_codeact_new_from_state(NULL, s, &a, 1, &back, &err), CACT_ENOENT);
	ck_assert_int_eq(err.code, CACT_ENOENT);
	assert_has(err.message, "'bee'");
	ck_assert_ptr_null(back);
	back = (struct cact_codeact *)1;
	ck_assert_int_eq(cact_codeact_new_from_state(NULL, s, NULL, 0, &back, &err), CACT_ENOENT);
	assert_has(err.message, "'a'");
	ck_assert_ptr_null(back);
	cact_free(s);
	cact_tool_unref(a);
	cact_tool_unref(b);
	cact_codeact_free(cc);
}
END_TEST

static void from_state_bad(const char *state, int code)
{
	struct cact_codeact *back = (struct cact_codeact *)1;
	struct cact_error err = {0};
	int rc = cact_codeact_new_from_state(NULL, state, NULL, 0, &back, &err);

	ck_assert_msg(rc == code, "state %s: %d, expected %d (%s)", state ? state : "(null)", rc,
		      code, err.message);
	ck_assert_msg(err.message[0] != '\0', "state %s: no message", state);
	ck_assert_ptr_null(back);
}

START_TEST(state_malformed_values)
{
	from_state_bad(NULL, CACT_EINVAL);
	from_state_bad("", CACT_EINVAL);
	from_state_bad("not json", CACT_EINVAL);
	from_state_bad("[]", CACT_EINVAL);
	from_state_bad("\"state\"", CACT_EINVAL);
	from_state_bad("{\"tool_names\":\"a\"}", CACT_EINVAL);
	from_state_bad("{\"tool_names\":[1]}", CACT_EINVAL);
	from_state_bad("{\"per_call_approval\":\"yes\"}", CACT_EINVAL);
	from_state_bad("{\"default_approval_mode\":\"sometimes\"}", CACT_EINVAL);
	from_state_bad("{\"default_approval_mode\":1}", CACT_EINVAL);
	from_state_bad("{\"workspace_root\":5}", CACT_EINVAL);
	from_state_bad("{\"workspace_root\":\"/nonexistent/cact/ws\"}", CACT_ENOENT);
	from_state_bad("{\"file_mounts\":[{\"host_path\":\"/tmp\"}]}", CACT_EINVAL);
	from_state_bad("{\"file_mounts\":[5]}", CACT_EINVAL);
	from_state_bad("{\"allowed_domains\":[{\"methods\":null}]}", CACT_EINVAL);
	from_state_bad("{\"allowed_domains\":[{\"target\":\"a.com\",\"methods\":\"GET\"}]}",
		       CACT_EINVAL);
	from_state_bad("{\"allowed_domains\":[{\"target\":\"a.com\",\"methods\":[\"TRACE\"]}]}",
		       CACT_EINVAL);
	from_state_bad("{\"limits\":{\"timeout_ms\":-1}}", CACT_EINVAL);
	from_state_bad("{\"limits\":{\"timeout_ms\":\"5\"}}", CACT_EINVAL);
	from_state_bad("{\"limits\":{\"timeout_ms\":0}}", CACT_EINVAL);
	from_state_bad("{\"backend\":\"cact\",\"backend\":\"cact\"}", CACT_EINVAL);
}
END_TEST

/* The containers themselves must have the right type too: a malformed state is CACT_EINVAL. */
START_TEST(state_malformed_containers)
{
	from_state_bad("{\"file_mounts\":5}", CACT_EINVAL);
	from_state_bad("{\"file_mounts\":{\"host_path\":\"/tmp\",\"mount_path\":\"t\"}}",
		       CACT_EINVAL);
	from_state_bad("{\"allowed_domains\":\"a.com\"}", CACT_EINVAL);
	from_state_bad("{\"limits\":[]}", CACT_EINVAL);
}
END_TEST

START_TEST(state_partial_and_future)
{
	struct cact_codeact *back = NULL;
	struct cact_error err = {0};
	json_t *st;

	/* Keys left out keep their defaults; a limit of a newer version is skipped. */
	ck_assert_msg(cact_codeact_new_from_state(
			      NULL, "{\"limits\":{\"timeout_ms\":777,\"future_limit\":5}}", NULL, 0,
			      &back, &err) == 0,
		      "%s", err.message);
	st = state_of(back);
	ck_assert_int_eq(
		json_integer_value(json_object_get(json_object_get(st, "limits"), "timeout_ms")),
		777);
	ck_assert_int_eq(
		json_integer_value(json_object_get(json_object_get(st, "limits"), "memory_bytes")),
		(json_int_t)cact_limit_default(CACT_LIMIT_MEMORY_BYTES));
	ck_assert_ptr_null(json_object_get(json_object_get(st, "limits"), "future_limit"));
	json_decref(st);
	cact_codeact_free(back);
	/* Only the effective mode given: it is taken as the default. */
	ck_assert_int_eq(cact_codeact_new_from_state(NULL, "{\"approval_mode\":\"always_require\"}",
						     NULL, 0, &back, &err),
			 0);
	ck_assert_int_eq(cact_codeact_default_approval(back), CACT_APPROVAL_ALWAYS_REQUIRE);
	cact_codeact_free(back);
}
END_TEST

/* ---- without a runtime; the call arguments ---- */

START_TEST(no_runtime_describes_but_refuses_to_run)
{
	struct cact_codeact *cc = new_cc(NULL);
	struct cact_error err = {0};
	struct cact_result *r = (struct cact_result *)1;
	struct cact_runtime *rt;
	char *d, *s, *i;
	json_t *st;

	add(cc, new_tool("t", NULL, CACT_APPROVAL_NEVER_REQUIRE));
	d = cact_codeact_description(cc);
	s = cact_codeact_state(cc);
	i = cact_codeact_instructions(cc, 0);
	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_nonnull(i);
	assert_has(d, "- t()");
	st = parse(s);
	ck_assert_str_eq(json_string_value(json_object_get(st, "backend")), "cact");
	json_decref(st);
	cact_free(d);
	cact_free(s);
	cact_free(i);
	ck_assert_int_eq(cact_codeact_execute(cc, "print(1)", 8, &r, &err), CACT_EINVAL);
	ck_assert_ptr_null(r);
	assert_has(err.message, "runtime");
	r = (struct cact_result *)1;
	ck_assert_int_eq(cact_codeact_call(cc, "{\"code\":\"print(1)\"}", &r, &err), CACT_EINVAL);
	ck_assert_ptr_null(r);
	/* Given one later, it runs; taken away, it refuses again. */
	rt = t_runtime();
	cact_codeact_set_runtime(cc, rt);
	r = run(cc, "print(call_tool('t', k=2)['args'])\n");
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_str_eq(t_out(r), "{'k': 2}\n");
	cact_result_free(r);
	cact_codeact_set_runtime(cc, NULL);
	ck_assert_int_eq(cact_codeact_execute(cc, "print(1)", 8, &r, &err), CACT_EINVAL);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
}
END_TEST

static void call_bad(struct cact_codeact *cc, const char *args)
{
	struct cact_result *r = (struct cact_result *)1;
	struct cact_error err = {0};
	int rc = cact_codeact_call(cc, args, &r, &err);

	ck_assert_msg(rc == CACT_EINVAL, "call(%s) = %d, expected CACT_EINVAL",
		      args ? args : "NULL", rc);
	ck_assert_int_eq(err.code, CACT_EINVAL);
	ck_assert_msg(err.message[0], "call(%s): no message", args ? args : "NULL");
	ck_assert_ptr_null(r);
}

START_TEST(call_arguments)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_codeact *cc = new_cc(rt);
	struct cact_result *r = NULL;
	struct cact_error err = {0};

	ck_assert_msg(cact_codeact_call(cc, "{\"code\": \"print(6 * 7)\"}", &r, &err) == 0, "%s",
		      err.message);
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_str_eq(t_out(r), "42\n");
	cact_result_free(r);
	r = NULL;
	/* Escapes in the JSON string reach the code decoded. */
	ck_assert_int_eq(cact_codeact_call(cc, "{\"code\":\"print('a\\\\tb\\u00e9')\\nprint(2)\"}",
					   &r, &err),
			 0);
	ck_assert_str_eq(t_out(r), "a\tb\xc3\xa9\n2\n");
	cact_result_free(r);

	call_bad(cc, NULL);
	call_bad(cc, "");
	call_bad(cc, "print(1)");
	call_bad(cc, "[\"print(1)\"]");
	call_bad(cc, "\"print(1)\"");
	call_bad(cc, "{}");
	call_bad(cc, "{\"code\":1}");
	call_bad(cc, "{\"code\":null}");
	call_bad(cc, "{\"code\":[\"print(1)\"]}");
	call_bad(cc, "{\"Code\":\"print(1)\"}");
	call_bad(cc, "{\"code\":\"print(1)\",\"timeout\":5}");
	call_bad(cc, "{\"code\":\"print(1)\",\"code\":\"print(2)\"}");
	call_bad(cc, "{\"code\":\"print(1)\"} {}");
	call_bad(cc, "{\"code\":\"print(1)\\u0000\"}");

	/* Code over the size cap. */
	ck_assert_int_eq(cact_codeact_set_limit(cc, CACT_LIMIT_CODE_BYTES, 8, &err), 0);
	r = (struct cact_result *)1;
	ck_assert_int_eq(cact_codeact_call(cc, "{\"code\":\"print(123456789)\"}", &r, &err),
			 CACT_ETOOBIG);
	ck_assert_ptr_null(r);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
}
END_TEST

/* ---- configuration files ---- */

static char *write_config(const char *dir, const char *name, const char *text)
{
	t_write(dir, name, text);
	return t_fmt("%s/%s", dir, name);
}

static void load_ok(struct cact_codeact *cc, const char *path)
{
	struct cact_error err = {0};
	int rc = cact_codeact_load_config(cc, path, &err);

	ck_assert_msg(rc == 0, "load %s: %d %s", path, rc, err.message);
}

/* Loading text fails with code, the message names the file and contains needle; nothing changes. */
static void load_bad(struct cact_codeact *cc, const char *dir, const char *text, int code,
		     const char *needle)
{
	struct cact_error err = {0};
	char *path = write_config(dir, "bad.json", text);
	char *before = cact_codeact_state(cc), *after, *prefix;
	char *desc_before = cact_codeact_description(cc), *desc_after;
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
	desc_after = cact_codeact_description(cc);
	ck_assert_str_eq(desc_after, desc_before);
	free(prefix);
	free(path);
	cact_free(before);
	cact_free(after);
	cact_free(desc_before);
	cact_free(desc_after);
}

START_TEST(config_every_key)
{
	struct cact_codeact *cc = new_cc(NULL);
	struct cact_tool **tools = NULL;
	char *dir = t_tmpdir(), *rdir, *path, *want;
	json_t *st, *expect;
	size_t n = 0;

	t_write(dir, "ws/readme.txt", "r");
	t_write(dir, "data/a.csv", "a");
	t_write(dir, "data/b.csv", "b");
	t_write(dir, "tool.py", "import json, sys\njson.dump(json.load(sys.stdin), sys.stdout)\n");
	rdir = real(dir);
	path = write_config(
		dir, "cact.json",
		"{\n"
		"  \"approval_mode\": \"always_require\",\n"
		"  \"per_call_approval\": true,\n"
		"  \"workspace_root\": \"ws\",\n"
		"  \"file_mounts\": [\"data/a.csv\", [\"data/b.csv\", \"/input/in/b.csv\"]],\n"
		"  \"allowed_domains\": [\"https://API.example.com/v1\", [\"example.org\", "
		"\"get\"], [\"example.net:8443\", [\"post\", \"GET\"]]],\n"
		"  \"tools\": [\n"
		"    {\"name\": \"lookup\", \"description\": \"Looks things up.\",\n"
		"     \"parameters\": {\"type\": \"object\", \"properties\": {\"q\": "
		"{\"type\": \"string\"}}, \"required\": [\"q\"]},\n"
		"     \"approval_mode\": \"always_require\", \"command\": [\"python3\", "
		"\"tool.py\", \"--flag\"], \"timeout_s\": 2.5},\n"
		"    {\"name\": \"plain\", \"command\": \"true\"}\n"
		"  ],\n"
		"  \"limits\": {\"timeout_s\": 12.5, \"memory_mib\": 128, \"stdout_bytes\": "
		"4096, \"tool_calls\": 7}\n"
		"}\n");
	load_ok(cc, path);
	st = state_of(cc);
	ck_assert_str_eq(json_string_value(json_object_get(st, "approval_mode")), "always_require");
	ck_assert_str_eq(json_string_value(json_object_get(st, "default_approval_mode")),
			 "always_require");
	ck_assert(json_is_true(json_object_get(st, "per_call_approval")));
	expect = parse("[\"lookup\",\"plain\"]");
	ck_assert(json_equal(json_object_get(st, "tool_names"), expect));
	json_decref(expect);
	want = t_fmt("%s/ws", rdir);
	ck_assert_str_eq(json_string_value(json_object_get(st, "workspace_root")), want);
	free(want);
	{
		char *a = t_fmt("%s/data/a.csv", rdir), *b = t_fmt("%s/data/b.csv", rdir);

		expect = json_pack("[{s:s, s:s}, {s:s, s:s}]", "host_path", a, "mount_path",
				   "/input/data/a.csv", "host_path", b, "mount_path",
				   "/input/in/b.csv");
		ck_assert_msg(json_equal(json_object_get(st, "file_mounts"), expect),
			      "file_mounts");
		json_decref(expect);
		free(a);
		free(b);
	}
	expect = parse("[{\"target\":\"api.example.com\",\"methods\":null},"
		       "{\"target\":\"example.net:8443\",\"methods\":[\"GET\",\"POST\"]},"
		       "{\"target\":\"example.org\",\"methods\":[\"GET\"]}]");
	ck_assert_msg(json_equal(json_object_get(st, "allowed_domains"), expect),
		      "allowed_domains");
	json_decref(expect);
	ck_assert_int_eq(
		json_integer_value(json_object_get(json_object_get(st, "limits"), "timeout_ms")),
		12500);
	ck_assert_int_eq(
		json_integer_value(json_object_get(json_object_get(st, "limits"), "memory_bytes")),
		(json_int_t)(128 * MIB));
	ck_assert_int_eq(
		json_integer_value(json_object_get(json_object_get(st, "limits"), "stdout_bytes")),
		4096);
	ck_assert_int_eq(
		json_integer_value(json_object_get(json_object_get(st, "limits"), "tool_calls")),
		7);
	json_decref(st);

	/* The tools as built. */
	ck_assert_int_eq(cact_codeact_tools(cc, &tools, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(cact_tool_description(tools[0]), "Looks things up.");
	ck_assert_int_eq(cact_tool_approval(tools[0]), CACT_APPROVAL_ALWAYS_REQUIRE);
	ck_assert_str_eq(cact_tool_parameters(tools[0]),
			 "{\"type\":\"object\",\"properties\":{\"q\":{\"type\":\"string\"}},"
			 "\"required\":[\"q\"]}");
	ck_assert_int_eq(tools[0]->kind, TOOL_COMMAND);
	ck_assert_str_eq(tools[0]->argv[0], "python3");
	ck_assert_str_eq(tools[0]->argv[1], "tool.py");
	ck_assert_str_eq(tools[0]->argv[2], "--flag");
	ck_assert_ptr_null(tools[0]->argv[3]);
	ck_assert_uint_eq(tools[0]->timeout_ms, 2500);
	ck_assert_str_eq(tools[0]->cwd, rdir);
	ck_assert_str_eq(cact_tool_description(tools[1]), "");
	ck_assert_int_eq(cact_tool_approval(tools[1]), CACT_APPROVAL_NEVER_REQUIRE);
	ck_assert_str_eq(cact_tool_parameters(tools[1]), "{\"type\":\"object\",\"properties\":{}}");
	ck_assert_str_eq(tools[1]->argv[0], "true");
	ck_assert_ptr_null(tools[1]->argv[1]);
	ck_assert_uint_eq(tools[1]->timeout_ms, 30000);
	cact_tools_free(tools, n);
	free(path);
	free(rdir);
	t_rmtree(dir);
	free(dir);
	cact_codeact_free(cc);
}
END_TEST

START_TEST(config_relative_paths)
{
	struct cact_codeact *cc = new_cc(NULL);
	struct cact_tool **tools = NULL;
	char *dir = t_tmpdir(), *rdir, *want, *got;
	json_t *st, *m;
	size_t n = 0;

	t_write(dir, "ws/x", "");
	t_write(dir, "data/a.csv", "a");
	t_write(dir, "conf/bin/tool.sh", "#!/bin/sh\necho null\n");
	t_write(dir, "conf/local.csv", "l");
	write_config(
		dir, "conf/cact.json",
		"{\"workspace_root\": \"../ws\",\n"
		" \"file_mounts\": [[\"../data/a.csv\", \"a.csv\"], \"local.csv\"],\n"
		" \"tools\": [{\"name\": \"dot\", \"command\": [\"./bin/tool.sh\"]},\n"
		"            {\"name\": \"sub\", \"command\": \"bin/tool.sh\"},\n"
		"            {\"name\": \"abs\", \"command\": [\"/bin/echo\", \"x/y\"]},\n"
		"            {\"name\": \"bare\", \"command\": [\"python3\", \"bin/x.py\"]}]}\n");
	rdir = real(dir);
	/* Loaded by a relative path from the parent folder; resolved against the file's folder. */
	ck_assert_int_eq(chdir(dir), 0);
	load_ok(cc, "conf/cact.json");
	ck_assert_int_eq(chdir("/"), 0);
	st = state_of(cc);
	want = t_fmt("%s/ws", rdir);
	ck_assert_str_eq(json_string_value(json_object_get(st, "workspace_root")), want);
	free(want);
	m = json_array_get(json_object_get(st, "file_mounts"), 0);
	want = t_fmt("%s/data/a.csv", rdir);
	ck_assert_str_eq(json_string_value(json_object_get(m, "host_path")), want);
	ck_assert_str_eq(json_string_value(json_object_get(m, "mount_path")), "/input/a.csv");
	free(want);
	m = json_array_get(json_object_get(st, "file_mounts"), 1);
	want = t_fmt("%s/conf/local.csv", rdir);
	ck_assert_str_eq(json_string_value(json_object_get(m, "host_path")), want);
	ck_assert_str_eq(json_string_value(json_object_get(m, "mount_path")), "/input/local.csv");
	free(want);
	json_decref(st);

	ck_assert_int_eq(cact_codeact_tools(cc, &tools, &n), 0);
	ck_assert_uint_eq(n, 4);
	want = t_fmt("%s/conf/bin/tool.sh", rdir);
	/* A program with a slash is the file's: absolute, naming the file next to the config. */
	ck_assert_msg(tools[0]->argv[0][0] == '/', "argv[0] %s", tools[0]->argv[0]);
	got = real(tools[0]->argv[0]);
	ck_assert_str_eq(got, want);
	free(got);
	ck_assert_msg(tools[1]->argv[0][0] == '/', "argv[0] %s", tools[1]->argv[0]);
	got = real(tools[1]->argv[0]);
	ck_assert_str_eq(got, want);
	free(got);
	free(want);
	/* Absolute programs and bare names are kept; arguments are never rewritten. */
	ck_assert_str_eq(tools[2]->argv[0], "/bin/echo");
	ck_assert_str_eq(tools[2]->argv[1], "x/y");
	ck_assert_str_eq(tools[3]->argv[0], "python3");
	ck_assert_str_eq(tools[3]->argv[1], "bin/x.py");
	want = t_fmt("%s/conf", rdir);
	ck_assert_str_eq(tools[0]->cwd, want);
	ck_assert_str_eq(tools[3]->cwd, want);
	free(want);
	cact_tools_free(tools, n);
	free(rdir);
	t_rmtree(dir);
	free(dir);
	cact_codeact_free(cc);
}
END_TEST

START_TEST(config_command_tools_run_in_file_folder)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_codeact *cc = new_cc(rt);
	struct cact_result *r;
	char *dir = t_tmpdir(), *rdir, *path, *script, *want;

	t_write(dir, "cfg/where.py",
		"import json, os, sys\n"
		"args = json.load(sys.stdin)\n"
		"json.dump({'cwd': os.getcwd(), 'data': open('local.txt').read(), 'args': args}, "
		"sys.stdout)\n");
	t_write(dir, "cfg/local.txt", "local data");
	t_write(dir, "cfg/bin/shout.py",
		"#!/usr/bin/env python3\nimport json, sys\nsys.stdin.read()\n"
		"json.dump({'shout': True}, sys.stdout)\n");
	t_write(dir, "cfg/fail.py", "import sys\nsys.stderr.write('it broke')\nsys.exit(3)\n");
	script = t_fmt("%s/cfg/bin/shout.py", dir);
	ck_assert_int_eq(chmod(script, 0755), 0);
	path = write_config(
		dir, "cfg/cact.json",
		"{\"tools\": [\n"
		" {\"name\": \"where\", \"parameters\": {\"type\": \"object\", "
		"\"properties\": {\"q\": {\"type\": \"string\"}}, \"additionalProperties\": "
		"false}, \"command\": [\"python3\", \"where.py\"], \"timeout_s\": 20},\n"
		" {\"name\": \"shout\", \"command\": \"./bin/shout.py\"},\n"
		" {\"name\": \"fail\", \"command\": [\"python3\", \"fail.py\"]},\n"
		" {\"name\": \"fail_loud\", \"command\": [\"python3\", \"fail.py\"], "
		"\"stderr_to_code\": true}]}\n");
	rdir = real(dir);
	ck_assert_int_eq(chdir("/"), 0);
	load_ok(cc, path);
	r = run(cc, "r = call_tool('where', q='x')\n"
		    "print(r['cwd'])\n"
		    "print(r['data'])\n"
		    "print(r['args'])\n"
		    "print(call_tool('shout'))\n"
		    "try:\n"
		    "    call_tool('where', q=1)\n"
		    "except RuntimeError as e:\n"
		    "    print('bad args:', '$.q: expected string, got integer' in str(e))\n"
		    "try:\n"
		    "    call_tool('fail')\n"
		    "except RuntimeError as e:\n"
		    "    print('failed:', 'it broke' in str(e))\n"
		    "try:\n"
		    "    call_tool('fail_loud')\n"
		    "except RuntimeError as e:\n"
		    "    print('loud:', 'it broke' in str(e))\n");
	t_assert_status(r, CACT_STATUS_OK);
	want = t_fmt("%s/cfg\nlocal data\n{'q': 'x'}\n{'shout': True}\nbad args: True\n"
		     "failed: False\nloud: True\n",
		     rdir);
	ck_assert_str_eq(t_out(r), want);
	cact_result_free(r);
	free(want);
	free(script);
	free(path);
	free(rdir);
	t_rmtree(dir);
	free(dir);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(config_unknown_keys_refused)
{
	struct cact_codeact *cc = new_cc(NULL);
	struct cact_error err = {0};
	char *dir = t_tmpdir(), *path, *want;

	add(cc, new_tool("keep", NULL, CACT_APPROVAL_NEVER_REQUIRE));
	load_bad(cc, dir, "{\"bogus\": 1}", CACT_EINVAL, "\"bogus\" is not a known key");
	load_bad(cc, dir, "{\"Tools\": []}", CACT_EINVAL, "\"Tools\" is not a known key");
	load_bad(cc, dir, "{\"limits\": {}, \"timeout\": 5}", CACT_EINVAL,
		 "\"timeout\" is not a known key");
	load_bad(cc, dir, "{\"tools\": [{\"name\": \"t\", \"command\": \"true\", \"bogus\": 1}]}",
		 CACT_EINVAL, "\"tools[0].bogus\" is not a known key");
	load_bad(cc, dir,
		 "{\"tools\": [{\"name\": \"t\", \"command\": \"true\"}, {\"name\": \"u\", "
		 "\"command\": \"true\", \"cwd\": \"/\"}]}",
		 CACT_EINVAL, "\"tools[1].cwd\" is not a known key");
	load_bad(cc, dir, "{\"limits\": {\"bogus_ms\": 5}}", CACT_EINVAL,
		 "\"limits.bogus_ms\" is not a known limit");
	/* The exact message for the simplest case. */
	path = write_config(dir, "x.json", "{\"approval\": \"never_require\"}");
	ck_assert_int_eq(cact_codeact_load_config(cc, path, &err), CACT_EINVAL);
	want = t_fmt("config %s: \"approval\" is not a known key", path);
	ck_assert_str_eq(err.message, want);
	free(want);
	free(path);
	t_rmtree(dir);
	free(dir);
	cact_codeact_free(cc);
}
END_TEST

START_TEST(config_wrong_types_refused)
{
	static const struct {
		const char *text;
		int code;
		const char *needle;
	} bad[] = {
		{"{\"approval_mode\": 1}", CACT_EINVAL, "\"approval_mode\""},
		{"{\"approval_mode\": \"sometimes\"}", CACT_EINVAL, "\"approval_mode\""},
		{"{\"per_call_approval\": \"yes\"}", CACT_EINVAL, "\"per_call_approval\""},
		{"{\"per_call_approval\": 1}", CACT_EINVAL, "\"per_call_approval\""},
		{"{\"workspace_root\": 5}", CACT_EINVAL, "\"workspace_root\""},
		{"{\"workspace_root\": [\"ws\"]}", CACT_EINVAL, "\"workspace_root\""},
		{"{\"workspace_root\": \"no-such-folder\"}", CACT_ENOENT, "workspace_root"},
		{"{\"workspace_root\": \"file.txt\"}", CACT_EINVAL, "workspace_root"},
		{"{\"file_mounts\": \"file.txt\"}", CACT_EINVAL, "\"file_mounts\""},
		{"{\"file_mounts\": [5]}", CACT_EINVAL, "file_mounts[0]"},
		{"{\"file_mounts\": [\"file.txt\", [\"file.txt\"]]}", CACT_EINVAL,
		 "file_mounts[1]"},
		{"{\"file_mounts\": [[\"file.txt\", 1]]}", CACT_EINVAL, "file_mounts[0]"},
		{"{\"file_mounts\": [[\"file.txt\", \"a\", \"b\"]]}", CACT_EINVAL,
		 "file_mounts[0]"},
		{"{\"file_mounts\": [\"missing.txt\"]}", CACT_ENOENT, "file_mounts[0]"},
		{"{\"file_mounts\": [[\"file.txt\", \"../x\"]]}", CACT_EINVAL, "file_mounts[0]"},
		{"{\"allowed_domains\": {}}", CACT_EINVAL, "\"allowed_domains\""},
		{"{\"allowed_domains\": [5]}", CACT_EINVAL, "allowed_domains[0]"},
		{"{\"allowed_domains\": [[\"a.com\", 5]]}", CACT_EINVAL, "allowed_domains[0]"},
		{"{\"allowed_domains\": [[\"a.com\", [5]]]}", CACT_EINVAL, "allowed_domains[0]"},
		{"{\"allowed_domains\": [[5, \"GET\"]]}", CACT_EINVAL, "allowed_domains[0]"},
		{"{\"allowed_domains\": [\"ok.com\", [\"b.com\", \"CONNECT\"]]}", CACT_EINVAL,
		 "allowed_domains[1]"},
		{"{\"allowed_domains\": [[\"b.com\", [\"GET\", \"FETCH\"]]]}", CACT_EINVAL,
		 "allowed_domains[0]"},
		{"{\"allowed_domains\": [[\"b.com\", "
		 "[\"GET\",\"GET\",\"GET\",\"GET\",\"GET\",\"GET\","
		 "\"GET\",\"GET\",\"GET\",\"GET\",\"GET\",\"GET\",\"GET\",\"GET\",\"GET\",\"GET\","
		 "\"GET\"]]]}",
		 CACT_EINVAL, "allowed_domains[0]"},
		{"{\"allowed_domains\": [\"https://u:p@x.com\"]}", CACT_EINVAL,
		 "allowed_domains[0]"},
		{"{\"tools\": {}}", CACT_EINVAL, "\"tools\""},
		{"{\"tools\": [5]}", CACT_EINVAL, "tools[0]"},
		{"{\"limits\": []}", CACT_EINVAL, "\"limits\""},
		{"{\"limits\": {\"timeout_ms\": \"5\"}}", CACT_EINVAL, "limits.timeout_ms"},
		{"{\"limits\": {\"timeout_ms\": -1}}", CACT_EINVAL, "limits.timeout_ms"},
		{"{\"limits\": {\"timeout_ms\": 1.5}}", CACT_EINVAL, "limits.timeout_ms"},
		{"{\"limits\": {\"timeout_ms\": 0}}", CACT_EINVAL, "limits.timeout_ms"},
		{"{\"limits\": {\"timeout_s\": \"5\"}}", CACT_EINVAL, "limits.timeout_s"},
		{"{\"limits\": {\"timeout_s\": true}}", CACT_EINVAL, "limits.timeout_s"},
		{"{\"limits\": {\"timeout_s\": 0}}", CACT_EINVAL, "limits.timeout_s"},
		{"{\"limits\": {\"timeout_s\": -2}}", CACT_EINVAL, "limits.timeout_s"},
		{"{\"limits\": {\"timeout_s\": 100000}}", CACT_EINVAL, "limits.timeout_s"},
		{"{\"limits\": {\"memory_mib\": 1.5}}", CACT_EINVAL, "limits.memory_mib"},
		{"{\"limits\": {\"memory_mib\": 1}}", CACT_EINVAL, "limits.memory_mib"},
		{"{\"limits\": {\"memory_mib\": null}}", CACT_EINVAL, "limits.memory_mib"},
		{"{\"limits\": {\"threads\": 0}}", CACT_EINVAL, "limits.threads"},
		{"{\"limits\": {\"output_files\": [1]}}", CACT_EINVAL, "limits.output_files"},
		{"[]", CACT_EINVAL, "not a JSON object"},
		{"\"cact\"", CACT_EINVAL, ""},
	};
	struct cact_codeact *cc = new_cc(NULL);
	struct cact_error err = {0};
	char *dir = t_tmpdir(), *ws;
	size_t i;

	t_write(dir, "file.txt", "f");
	t_write(dir, "ws/x", "");
	ws = t_fmt("%s/ws", dir);
	add(cc, new_tool("keep", NULL, CACT_APPROVAL_NEVER_REQUIRE));
	ck_assert_int_eq(cact_codeact_set_workspace(cc, ws, &err), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		load_bad(cc, dir, bad[i].text, bad[i].code, bad[i].needle);
	free(ws);
	t_rmtree(dir);
	free(dir);
	cact_codeact_free(cc);
}
END_TEST

START_TEST(config_bad_tools_refused)
{
	static const struct {
		const char *tools;
		const char *needle;
		const char *needle2;
	} bad[] = {
		{"[{\"command\": \"true\"}]", "\"tools[0]\"", "name"},
		{"[{\"name\": 5, \"command\": \"true\"}]", "\"tools[0]\"", "name"},
		{"[{\"name\": \"a b\", \"command\": \"true\"}]", "tools[0] (a b)", "only letters"},
		{"[{\"name\": \"\", \"command\": \"true\"}]", "tools[0] ()", "empty"},
		{"[{\"name\": \"t\"}]", "\"tools[0] (t)\"", "command"},
		{"[{\"name\": \"t\", \"command\": []}]", "\"tools[0] (t)\"", "command"},
		{"[{\"name\": \"t\", \"command\": [1]}]", "\"tools[0] (t)\"", "command"},
		{"[{\"name\": \"t\", \"command\": 5}]", "\"tools[0] (t)\"", "command"},
		{"[{\"name\": \"t\", \"command\": \"\"}]", "tools[0] (t)", "empty command"},
		{"[{\"name\": \"t\", \"command\": \"true\", \"description\": 5}]",
		 "\"tools[0] (t)\"", "description"},
		{"[{\"name\": \"t\", \"command\": \"true\", \"parameters\": \"x\"}]",
		 "\"tools[0] (t)\"", "parameters"},
		{"[{\"name\": \"t\", \"command\": \"true\", \"parameters\": {\"type\": "
		 "\"string\"}}]",
		 "tools[0] (t)", "bad parameters schema"},
		{"[{\"name\": \"t\", \"command\": \"true\", \"parameters\": {\"properties\": "
		 "{\"a\": "
		 "{\"type\": \"strin\"}}}}]",
		 "tools[0] (t)", "unknown type 'strin'"},
		{"[{\"name\": \"t\", \"command\": \"true\", \"approval_mode\": \"ask\"}]",
		 "\"tools[0] (t)\"", "approval_mode"},
		{"[{\"name\": \"t\", \"command\": \"true\", \"approval_mode\": true}]",
		 "\"tools[0] (t)\"", "approval_mode"},
		{"[{\"name\": \"t\", \"command\": \"true\", \"timeout_s\": 0}]", "\"tools[0] (t)\"",
		 "timeout_s"},
		{"[{\"name\": \"t\", \"command\": \"true\", \"timeout_s\": \"5\"}]",
		 "\"tools[0] (t)\"", "timeout_s"},
		{"[{\"name\": \"t\", \"command\": \"true\", \"timeout_s\": 90000}]",
		 "\"tools[0] (t)\"", "timeout_s"},
		{"[{\"name\": \"execute_code\", \"command\": \"true\"}]", "tools[0] (execute_code)",
		 "execute_code"},
		{"[{\"name\": \"ok\", \"command\": \"true\"}, {\"name\": \"t\", \"command\": "
		 "\"true\", "
		 "\"timeout_s\": -1}]",
		 "\"tools[1] (t)\"", "timeout_s"},
	};
	struct cact_codeact *cc = new_cc(NULL);
	char *dir = t_tmpdir(), *text;
	size_t i;

	add(cc, new_tool("keep", NULL, CACT_APPROVAL_ALWAYS_REQUIRE));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cact_error err = {0};
		char *path;

		text = t_fmt("{\"tools\": %s}", bad[i].tools);
		load_bad(cc, dir, text, CACT_EINVAL, bad[i].needle);
		path = write_config(dir, "bad.json", text);
		ck_assert_int_eq(cact_codeact_load_config(cc, path, &err), CACT_EINVAL);
		ck_assert_msg(strstr(err.message, bad[i].needle2) != NULL,
			      "tools %s: message \"%s\" lacks \"%s\"", bad[i].tools, err.message,
			      bad[i].needle2);
		free(path);
		free(text);
	}
	assert_names(cc, "keep");
	t_rmtree(dir);
	free(dir);
	cact_codeact_free(cc);
}
END_TEST

START_TEST(config_bad_file_changes_nothing)
{
	struct cact_codeact *cc = new_cc(NULL);
	struct cact_error err = {0};
	char *dir = t_tmpdir(), *ws, *m;

	t_write(dir, "ws/x", "");
	t_write(dir, "other/y", "");
	t_write(dir, "m.txt", "m");
	ws = t_fmt("%s/ws", dir);
	m = t_fmt("%s/m.txt", dir);
	add(cc, new_tool("keep", NULL, CACT_APPROVAL_NEVER_REQUIRE));
	ck_assert_int_eq(cact_codeact_set_workspace(cc, ws, &err), 0);
	ck_assert_int_eq(cact_codeact_add_file_mount(cc, m, "m.txt", &err), 0);
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "keep.example", NULL, 0, &err), 0);
	ck_assert_int_eq(cact_codeact_set_limit(cc, CACT_LIMIT_TIMEOUT_MS, 7000, &err), 0);
	/* Every key good but the last one applied (limits). */
	load_bad(cc, dir,
		 "{\"approval_mode\": \"always_require\", \"per_call_approval\": true,\n"
		 " \"workspace_root\": \"other\", \"file_mounts\": [[\"m.txt\", \"n.txt\"]],\n"
		 " \"allowed_domains\": [\"new.example\"],\n"
		 " \"tools\": [{\"name\": \"added\", \"command\": \"true\"}, {\"name\": \"keep\", "
		 "\"command\": \"true\"}],\n"
		 " \"limits\": {\"timeout_s\": 3, \"threads\": 0}}",
		 CACT_EINVAL, "limits.threads");
	ck_assert_int_eq(cact_codeact_approval(cc), CACT_APPROVAL_NEVER_REQUIRE);
	ck_assert_int_eq(cact_codeact_default_approval(cc), CACT_APPROVAL_NEVER_REQUIRE);
	ck_assert_int_eq(cact_codeact_per_call_approval(cc), 0);
	assert_names(cc, "keep");
	/* A bad tool after good ones. */
	load_bad(cc, dir,
		 "{\"workspace_root\": null, \"tools\": [{\"name\": \"added\", \"command\": "
		 "\"true\"}, {\"name\": \"bad/name\", \"command\": \"true\"}]}",
		 CACT_EINVAL, "tools[1]");
	assert_names(cc, "keep");
	free(ws);
	free(m);
	t_rmtree(dir);
	free(dir);
	cact_codeact_free(cc);
}
END_TEST

START_TEST(config_applies_on_top)
{
	struct cact_codeact *cc = new_cc(NULL);
	struct cact_error err = {0};
	char *dir = t_tmpdir(), *p1, *p2, *p3, *m;
	json_t *st;

	t_write(dir, "ws/x", "");
	t_write(dir, "m.txt", "m");
	m = t_fmt("%s/m.txt", dir);
	add(cc, new_tool("keep", NULL, CACT_APPROVAL_NEVER_REQUIRE));
	ck_assert_int_eq(cact_codeact_add_file_mount(cc, m, "m.txt", &err), 0);
	p1 = write_config(dir, "one.json",
			  "{\"workspace_root\": \"ws\", \"allowed_domains\": [\"a.example\"],\n"
			  " \"tools\": [{\"name\": \"cmd\", \"command\": \"true\"}]}");
	load_ok(cc, p1);
	assert_names(cc, "keep,cmd");
	ck_assert_uint_eq(mount_count(cc), 1);
	/* A tool of the same name from a file replaces and moves to the end. */
	p2 = write_config(dir, "two.json",
			  "{\"tools\": [{\"name\": \"keep\", \"command\": \"true\", "
			  "\"approval_mode\": \"always_require\"}], \"per_call_approval\": false}");
	load_ok(cc, p2);
	assert_names(cc, "cmd,keep");
	ck_assert_int_eq(cact_codeact_approval(cc), CACT_APPROVAL_ALWAYS_REQUIRE);
	st = state_of(cc);
	ck_assert(json_is_string(json_object_get(st, "workspace_root")));
	ck_assert_uint_eq(json_array_size(json_object_get(st, "allowed_domains")), 1);
	json_decref(st);
	/* null clears the workspace; an empty file changes nothing else. */
	p3 = write_config(dir, "three.json", "{\"workspace_root\": null}");
	load_ok(cc, p3);
	st = state_of(cc);
	ck_assert(json_is_null(json_object_get(st, "workspace_root")));
	ck_assert(json_is_true(json_object_get(st, "filesystem_enabled")));
	json_decref(st);
	free(p3);
	p3 = write_config(dir, "empty.json", "{}");
	{
		char *before = cact_codeact_state(cc), *after;

		load_ok(cc, p3);
		after = cact_codeact_state(cc);
		ck_assert_str_eq(after, before);
		cact_free(before);
		cact_free(after);
	}
	free(p1);
	free(p2);
	free(p3);
	free(m);
	t_rmtree(dir);
	free(dir);
	cact_codeact_free(cc);
}
END_TEST

START_TEST(config_missing_and_invalid_files)
{
	struct cact_codeact *cc = new_cc(NULL);
	struct cact_error err = {0};
	char *dir = t_tmpdir(), *missing, *p, *before, *after;

	before = cact_codeact_state(cc);
	missing = t_fmt("%s/nope.json", dir);
	ck_assert_int_eq(cact_codeact_load_config(cc, missing, &err), CACT_ENOENT);
	assert_has(err.message, missing);
	assert_has(err.message, "config");
	ck_assert_int_eq(cact_codeact_load_config(cc, NULL, &err), CACT_ENOENT);
	p = write_config(dir, "broken.json", "{\"tools\": [");
	ck_assert_int_eq(cact_codeact_load_config(cc, p, &err), CACT_EINVAL);
	{
		char *prefix = t_fmt("config %s: line ", p);

		ck_assert_msg(strncmp(err.message, prefix, strlen(prefix)) == 0, "message: %s",
			      err.message);
		free(prefix);
	}
	free(p);
	p = write_config(dir, "dup.json", "{\"limits\": {}, \"limits\": {}}");
	ck_assert_int_eq(cact_codeact_load_config(cc, p, &err), CACT_EINVAL);
	assert_has(err.message, p);
	free(p);
	p = write_config(dir, "empty.json", "");
	ck_assert_int_eq(cact_codeact_load_config(cc, p, &err), CACT_EINVAL);
	free(p);
	p = write_config(dir, "trailing.json", "{} {}");
	ck_assert_int_eq(cact_codeact_load_config(cc, p, &err), CACT_EINVAL);
	free(p);
	/* A folder is not a file. */
	ck_assert_int_eq(cact_codeact_load_config(cc, dir, &err), CACT_EINVAL);
	after = cact_codeact_state(cc);
	ck_assert_str_eq(after, before);
	cact_free(before);
	cact_free(after);
	free(missing);
	t_rmtree(dir);
	free(dir);
	cact_codeact_free(cc);
}
END_TEST

START_TEST(config_limits_accepted)
{
	struct cact_codeact *cc = new_cc(NULL);
	char *dir = t_tmpdir(), *p, *text, *tmp;
	json_t *st, *limits;
	size_t i;

	p = write_config(dir, "a.json", "{\"limits\": {\"timeout_s\": 2.5, \"memory_mib\": 64}}");
	load_ok(cc, p);
	free(p);
	st = state_of(cc);
	limits = json_object_get(st, "limits");
	ck_assert_int_eq(json_integer_value(json_object_get(limits, "timeout_ms")), 2500);
	ck_assert_int_eq(json_integer_value(json_object_get(limits, "memory_bytes")),
			 (json_int_t)(64 * MIB));
	json_decref(st);
	p = write_config(dir, "b.json", "{\"limits\": {\"timeout_ms\": 750, \"output_files\": 3}}");
	load_ok(cc, p);
	free(p);
	st = state_of(cc);
	limits = json_object_get(st, "limits");
	ck_assert_int_eq(json_integer_value(json_object_get(limits, "output_files")), 3);
	/* Loading on top keeps what the file does not name. */
	ck_assert_int_eq(json_integer_value(json_object_get(limits, "memory_bytes")),
			 (json_int_t)(64 * MIB));
	ck_assert_int_eq(json_integer_value(json_object_get(limits, "timeout_ms")), 750);
	json_decref(st);
	p = write_config(dir, "c.json", "{\"limits\": {\"timeout_s\": 0.001}}");
	load_ok(cc, p);
	free(p);
	st = state_of(cc);
	ck_assert_int_eq(
		json_integer_value(json_object_get(json_object_get(st, "limits"), "timeout_ms")),
		1);
	json_decref(st);
	/* Every limit by its name, at its default. */
	text = strdup("{\"limits\": {");
	for (i = 0; i < CACT_LIMIT__COUNT; i++) {
		tmp = t_fmt("%s%s\"%s\": %llu", text, i ? ", " : "",
			    cact_limit_name((enum cact_limit)i),
			    (unsigned long long)cact_limit_default((enum cact_limit)i));
		free(text);
		text = tmp;
	}
	tmp = t_fmt("%s}}", text);
	free(text);
	p = write_config(dir, "d.json", tmp);
	free(tmp);
	load_ok(cc, p);
	free(p);
	st = state_of(cc);
	limits = json_object_get(st, "limits");
	for (i = 0; i < CACT_LIMIT__COUNT; i++)
		ck_assert_int_eq(json_integer_value(json_object_get(
					 limits, cact_limit_name((enum cact_limit)i))),
				 (json_int_t)cact_limit_default((enum cact_limit)i));
	json_decref(st);
	t_rmtree(dir);
	free(dir);
	cact_codeact_free(cc);
}
END_TEST

START_TEST(config_limits_enforced)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_codeact *cc = new_cc(rt);
	struct cact_result *r;
	char *dir = t_tmpdir(), *p;

	p = write_config(dir, "cact.json", "{\"limits\": {\"timeout_s\": 1}}");
	load_ok(cc, p);
	r = run(cc, "import time\ntime.sleep(10)\nprint('late')\n");
	t_assert_status(r, CACT_STATUS_TIMEOUT);
	assert_lacks(t_out(r), "late");
	cact_result_free(r);
	free(p);
	t_rmtree(dir);
	free(dir);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
}
END_TEST

/* ---- review findings: the reference's getters and clear calls, a live description ---- */

/* A hand-wired execute_code shows the configuration as it is now, not as it was when made. */
START_TEST(codeact_tool_description_follows_config)
{
	struct cact_codeact *cc = new_cc(NULL);
	struct cact_tool *exec = NULL;
	struct cact_error err = {0};
	char *dir = t_tmpdir(), *first, *want;
	const char *d0, *d;

	t_write(dir, "notes.txt", "n");
	ck_assert_msg(cact_codeact_tool(cc, &exec, &err) == 0, "%s", err.message);
	d0 = cact_tool_description(exec);
	first = strdup(d0);
	ck_assert_ptr_nonnull(strstr(d0, "Tools: none"));

	add(cc, new_tool("lookup_price", NULL, CACT_APPROVAL_NEVER_REQUIRE));
	ck_assert_msg(cact_codeact_add_file_mount(cc, dir, "notes", &err) == 0, "%s", err.message);
	ck_assert_msg(cact_codeact_add_allowed_domain(cc, "api.example.com", NULL, 0, &err) == 0,
		      "%s", err.message);
	d = cact_tool_description(exec);
	want = cact_codeact_description(cc);
	ck_assert_str_eq(d, want);
	ck_assert_msg(strstr(d, "lookup_price") && strstr(d, "/input/notes") &&
			      strstr(d, "api.example.com"),
		      "the description does not follow the configuration: %s", d);
	/* What an earlier read handed out stays readable while the tool lives. */
	ck_assert_str_eq(d0, first);
	/* The same text twice: the same pointer (nothing piles up between changes). */
	ck_assert_ptr_eq(cact_tool_description(exec), d);
	cact_free(want);

	ck_assert_int_eq(cact_codeact_remove_tool(cc, "lookup_price", &err), 0);
	d = cact_tool_description(exec);
	ck_assert_msg(strstr(d, "lookup_price") == NULL, "a removed tool is still described: %s",
		      d);
	ck_assert_ptr_nonnull(strstr(d, "Tools: none"));

	cact_tool_unref(exec);
	cact_codeact_free(cc);
	free(first);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(clear_file_mounts_and_allowed_domains)
{
	struct cact_codeact *cc = new_cc(NULL);
	struct cact_error err = {0};
	char *dir = t_tmpdir(), *a, *b;
	const char *get[] = {"GET"};
	json_t *st;

	t_write(dir, "a.txt", "a");
	t_write(dir, "b.txt", "b");
	a = t_fmt("%s/a.txt", dir);
	b = t_fmt("%s/b.txt", dir);
	ck_assert_int_eq(cact_codeact_set_workspace(cc, dir, &err), 0);
	ck_assert_int_eq(cact_codeact_add_file_mount(cc, a, "a.txt", &err), 0);
	ck_assert_int_eq(cact_codeact_add_file_mount(cc, b, "b.txt", &err), 0);
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "a.example.com", NULL, 0, &err), 0);
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "b.example.com", get, 1, &err), 0);
	add(cc, new_tool("keep_me", NULL, CACT_APPROVAL_NEVER_REQUIRE));

	cact_codeact_clear_file_mounts(cc);
	ck_assert_uint_eq(mount_count(cc), 0);
	st = state_of(cc);
	/* The workspace, the domains and the tools stay. */
	ck_assert(json_is_string(json_object_get(st, "workspace_root")));
	ck_assert_uint_eq(json_array_size(json_object_get(st, "allowed_domains")), 2);
	ck_assert_uint_eq(json_array_size(json_object_get(st, "tool_names")), 1);
	json_decref(st);
	/* Adding again after a clear works, at the first place. */
	ck_assert_int_eq(cact_codeact_add_file_mount(cc, b, "b.txt", &err), 0);
	ck_assert_uint_eq(mount_count(cc), 1);
	cact_codeact_clear_file_mounts(cc);
	cact_codeact_clear_file_mounts(cc); /* nothing left: a no-op */

	cact_codeact_clear_allowed_domains(cc);
	st = state_of(cc);
	ck_assert(json_is_false(json_object_get(st, "network_enabled")));
	ck_assert_uint_eq(json_array_size(json_object_get(st, "allowed_domains")), 0);
	ck_assert(json_is_string(json_object_get(st, "workspace_root")));
	json_decref(st);

	free(a);
	free(b);
	cact_codeact_free(cc);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(typed_getters_mounts_and_domains)
{
	struct cact_codeact *cc = new_cc(NULL);
	struct cact_error err = {0};
	struct cact_file_mount *mounts = NULL;
	struct cact_allowed_domain *domains = NULL;
	char *dir = t_tmpdir(), *rdir, *a, *b, *want;
	const char *pg[] = {"post", "get", "GET"};
	size_t n = 99;

	/* Empty: a block to free all the same, and a count of 0. */
	ck_assert_int_eq(cact_codeact_file_mounts(cc, &mounts, &n), 0);
	ck_assert_ptr_nonnull(mounts);
	ck_assert_uint_eq(n, 0);
	cact_free(mounts);
	n = 99;
	ck_assert_int_eq(cact_codeact_allowed_domains(cc, &domains, &n), 0);
	ck_assert_ptr_nonnull(domains);
	ck_assert_uint_eq(n, 0);
	cact_free(domains);

	t_write(dir, "a.txt", "a");
	t_write(dir, "sub/b.txt", "b");
	rdir = real(dir);
	a = t_fmt("%s/a.txt", dir);
	b = t_fmt("%s/sub", dir);
	ck_assert_int_eq(cact_codeact_add_file_mount(cc, a, "\\data\\.\\a.txt", &err), 0);
	ck_assert_int_eq(cact_codeact_add_file_mount(cc, b, "input/sub", &err), 0);
	/* The same mount path again: replaced in place. */
	ck_assert_int_eq(cact_codeact_add_file_mount(cc, a, "/input/data/a.txt", &err), 0);
	ck_assert_int_eq(cact_codeact_file_mounts(cc, &mounts, &n), 0);
	ck_assert_uint_eq(n, 2);
	want = t_fmt("%s/a.txt", rdir);
	ck_assert_str_eq(mounts[0].host_path, want);
	ck_assert_str_eq(mounts[0].mount_path, "/input/data/a.txt");
	free(want);
	want = t_fmt("%s/sub", rdir);
	ck_assert_str_eq(mounts[1].host_path, want);
	ck_assert_str_eq(mounts[1].mount_path, "/input/sub");
	free(want);
	/* A copy: later changes leave it alone. */
	cact_codeact_clear_file_mounts(cc);
	ck_assert_str_eq(mounts[1].mount_path, "/input/sub");
	cact_free(mounts);

	ck_assert_int_eq(
		cact_codeact_add_allowed_domain(cc, "https://Z.example.com/v1", pg, 3, &err), 0);
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "a.example.com:8443", NULL, 0, &err),
			 0);
	ck_assert_int_eq(cact_codeact_add_allowed_domain(cc, "m.example.com", pg + 2, 1, &err), 0);
	ck_assert_int_eq(cact_codeact_allowed_domains(cc, &domains, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(domains[0].target, "a.example.com:8443");
	ck_assert_ptr_null(domains[0].methods);
	ck_assert_uint_eq(domains[0].n_methods, 0);
	ck_assert_str_eq(domains[1].target, "m.example.com");
	ck_assert_uint_eq(domains[1].n_methods, 1);
	ck_assert_str_eq(domains[1].methods[0], "GET");
	ck_assert_str_eq(domains[2].target, "z.example.com");
	ck_assert_uint_eq(domains[2].n_methods, 2);
	ck_assert_str_eq(domains[2].methods[0], "GET");
	ck_assert_str_eq(domains[2].methods[1], "POST");
	cact_codeact_clear_allowed_domains(cc);
	ck_assert_str_eq(domains[2].methods[1], "POST");
	cact_free(domains);

	free(a);
	free(b);
	free(rdir);
	cact_codeact_free(cc);
	t_rmtree(dir);
	free(dir);
}
END_TEST

/* Every run can write /output and /tmp: the state says so even with nothing at /input. */
START_TEST(state_filesystem_enabled_is_true)
{
	struct cact_codeact *cc = new_cc(NULL);
	json_t *st = state_of(cc);
	char *desc = cact_codeact_description(cc);

	ck_assert_ptr_nonnull(strstr(desc, "Write files to /output"));
	ck_assert_msg(json_is_true(json_object_get(st, "filesystem_enabled")),
		      "filesystem_enabled is not true, yet the code may write /output and /tmp");
	ck_assert(json_is_null(json_object_get(st, "workspace_root")));
	ck_assert_uint_eq(json_array_size(json_object_get(st, "file_mounts")), 0);
	cact_free(desc);
	json_decref(st);
	cact_codeact_free(cc);
}
END_TEST

/* Out-of-range limits are told in the key's own words and unit, never the library's. */
START_TEST(config_limit_messages_in_key_units)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{"{\"limits\": {\"memory_mib\": 8}}",
		 "limits.memory_mib: 8 MiB is below the minimum of 16 MiB"},
		{"{\"limits\": {\"timeout_s\": 100000}}",
		 "limits.timeout_s: 100000 s is above the maximum of 86400 s"},
		{"{\"limits\": {\"timeout_s\": 0.0001}}",
		 "limits.timeout_s: 0.0001 s is below the minimum of 0.001 s"},
		{"{\"limits\": {\"tmp_bytes\": 1000}}",
		 "limits.tmp_bytes: 1000 bytes is below the minimum of 4096 bytes (4 KiB)"},
		{"{\"limits\": {\"http_timeout_ms\": 5}}",
		 "limits.http_timeout_ms: 5 ms is below the minimum of 100 ms"},
		{"{\"limits\": {\"threads\": 5000}}",
		 "limits.threads: 5000 is above the maximum of 4096"},
		{"{\"tools\": [{\"name\": \"t\", \"command\": \"true\", \"timeout_s\": 100000}]}",
		 "at most 86400"},
	};
	struct cact_codeact *cc = new_cc(NULL);
	char *dir = t_tmpdir();
	struct cact_error err = {0};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *path = write_config(dir, "limits.json", cases[i].text);

		load_bad(cc, dir, cases[i].text, CACT_EINVAL, cases[i].want);
		ck_assert_int_eq(cact_codeact_load_config(cc, path, &err), CACT_EINVAL);
		/* memory_bytes where the file said memory_mib, or raw numbers of another unit. */
		ck_assert_msg(strstr(err.message, "must be between") == NULL &&
				      (strstr(cases[i].text, "memory_mib") == NULL ||
				       strstr(err.message, "memory_bytes") == NULL) &&
				      (strstr(cases[i].text, "timeout_s") == NULL ||
				       strstr(err.message, "timeout_ms") == NULL),
			      "internal names or units: %s", err.message);
		free(path);
	}
	cact_codeact_free(cc);
	t_rmtree(dir);
	free(dir);
}
END_TEST

/* The same for cact exec's options: --memory in MiB, --timeout in seconds. */
START_TEST(cli_limit_messages_in_option_units)
{
	static const struct {
		const char *opt, *value, *want;
	} cases[] = {
		{"--memory", "8", "cact exec: --memory: 8 MiB is below the minimum of 16 MiB\n"},
		{"--memory", "0", "cact exec: --memory: 0 MiB is below the minimum of 16 MiB\n"},
		{"--memory", "2000000",
		 "cact exec: --memory: 2000000 MiB is above the maximum of 1048576 MiB (1 TiB)\n"},
		{"--timeout", "99999",
		 "cact exec: --timeout: 99999 s is above the maximum of 86400 s\n"},
		{"--timeout", "0", "cact exec: --timeout: 0 s is below the minimum of 0.001 s\n"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *argv[] = {"exec", cases[i].opt, cases[i].value, "-c", "print(1)", NULL};
		char *out = NULL, *err = NULL;
		int rc = t_cli(argv, NULL, &out, &err);

		ck_assert_msg(rc == 2, "%s %s: status %d: %s", cases[i].opt, cases[i].value, rc,
			      err);
		ck_assert_str_eq(err, cases[i].want);
		ck_assert_str_eq(out, "");
		free(out);
		free(err);
	}
}
END_TEST

/* ---- python_path and preload ---- */

static struct cact_python_settings *python_of(const struct cact_codeact *cc)
{
	struct cact_python_settings *py = NULL;

	ck_assert_int_eq(cact_codeact_python(cc, &py), 0);
	ck_assert_ptr_nonnull(py);
	return py;
}

/* The file's lists, relative folders resolved against it, each entry once, in the state and back. */
START_TEST(config_python_path_and_preload)
{
	char *dir = t_fmt("%s", "/var/tmp/cact-unit-XXXXXX"), *pkgs, *cfg, *state, *rp;
	struct cact_codeact *cc = new_cc(NULL), *back = NULL, *snap = NULL;
	struct cact_python_settings *py;
	struct cact_error err = {0};
	json_t *st;

	/* Not under /tmp: every execution has its own, so a python path cannot be there. */
	ck_assert_ptr_nonnull(mkdtemp(dir));
	pkgs = t_fmt("%s/pkgs", dir);
	ck_assert_int_eq(mkdir(pkgs, 0755), 0);
	rp = real(pkgs);
	py = python_of(cc);
	ck_assert_uint_eq(py->n_python_paths, 0);
	ck_assert_uint_eq(py->n_preload, 0);
	cact_free(py);
	st = state_of(cc);
	ck_assert_ptr_null(json_object_get(st, "python_path"));
	ck_assert_ptr_null(json_object_get(st, "preload"));
	json_decref(st);

	cfg = write_config(dir, "c.json",
			   "{\"python_path\": [\"pkgs\", \"./pkgs/\"], "
			   "\"preload\": [\"json\", \"xml.dom.minidom\", \"json\"]}");
	load_ok(cc, cfg);
	load_ok(cc, cfg); /* on top: nothing twice */
	py = python_of(cc);
	ck_assert_uint_eq(py->n_python_paths, 1);
	ck_assert_str_eq(py->python_paths[0], rp);
	ck_assert_uint_eq(py->n_preload, 2);
	ck_assert_str_eq(py->preload[0], "json");
	ck_assert_str_eq(py->preload[1], "xml.dom.minidom");
	cact_free(py);

	ck_assert_int_eq(cact_codeact_snapshot(cc, &snap, &err), 0);
	ck_assert_int_eq(cact_codeact_add_preload(cc, "csv", &err), 0);
	py = python_of(snap);
	ck_assert_uint_eq(py->n_preload, 2);
	cact_free(py);

	state = cact_codeact_state(cc);
	st = parse(state);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(st, "python_path"), 0)),
			 rp);
	ck_assert_uint_eq(json_array_size(json_object_get(st, "preload")), 3);
	json_decref(st);
	ck_assert_msg(cact_codeact_new_from_state(NULL, state, NULL, 0, &back, &err) == 0, "%s",
		      err.message);
	py = python_of(back);
	ck_assert_uint_eq(py->n_python_paths, 1);
	ck_assert_str_eq(py->python_paths[0], rp);
	ck_assert_uint_eq(py->n_preload, 3);
	ck_assert_str_eq(py->preload[2], "csv");
	cact_free(py);

	cact_free(state);
	cact_codeact_free(back);
	cact_codeact_free(snap);
	cact_codeact_free(cc);
	free(cfg);
	t_rmtree(dir);
	free(rp);
	free(pkgs);
	free(dir);
}
END_TEST

START_TEST(config_python_bad_values_refused)
{
	struct cact_codeact *cc = new_cc(NULL);
	struct cact_error err = {0};
	char *dir = t_tmpdir(), *many;
	size_t i, at;

	t_write(dir, "file.txt", "x");
	load_bad(cc, dir, "{\"python_path\": \"/usr\"}", CACT_EINVAL,
		 "\"python_path\" must be a list of folders");
	load_bad(cc, dir, "{\"python_path\": [\"/usr\", 1]}", CACT_EINVAL,
		 "\"python_path\" must be a list of folders");
	load_bad(cc, dir, "{\"python_path\": [\"/usr\", \"no-such-folder\"]}", CACT_ENOENT,
		 "\"python_path[1]\": python path ");
	load_bad(cc, dir, "{\"python_path\": [\"file.txt\"]}", CACT_ENOENT, "is not a folder");
	load_bad(cc, dir, "{\"python_path\": [\"/tmp\"]}", CACT_EINVAL,
		 "\"python_path[0]\": python path /tmp is under /tmp");
	load_bad(cc, dir, "{\"python_path\": [\"\"]}", CACT_EINVAL, "python path is empty");
	load_bad(cc, dir, "{\"preload\": \"numpy\"}", CACT_EINVAL,
		 "\"preload\" must be a list of module names");
	load_bad(cc, dir, "{\"preload\": [\"numpy\", \"os; import x\"]}", CACT_EINVAL,
		 "\"preload[1]\": 'os; import x' is not a module name");
	load_bad(cc, dir, "{\"preload\": [\"a..b\"]}", CACT_EINVAL, "is not a module name");
	load_bad(cc, dir, "{\"preload\": [\"1abc\"]}", CACT_EINVAL, "is not a module name");
	many = malloc(65 * 16 + 32);
	at = (size_t)sprintf(many, "{\"preload\": [");
	for (i = 0; i < 65; i++)
		at += (size_t)sprintf(many + at, "%s\"m%zu\"", i ? ", " : "", i);
	sprintf(many + at, "]}");
	load_bad(cc, dir, many, CACT_EINVAL, "more than 64 modules to preload");
	free(many);

	ck_assert_int_eq(cact_codeact_add_python_path(cc, "/no/such/folder", &err), CACT_ENOENT);
	ck_assert_str_eq(err.message, "python path /no/such/folder is not a folder");
	ck_assert_int_eq(cact_codeact_add_preload(cc, "", &err), CACT_EINVAL);
	ck_assert_int_eq(cact_codeact_add_preload(cc, NULL, &err), CACT_EINVAL);
	/* A state is checked the same way. */
	{
		struct cact_codeact *back = NULL;

		ck_assert_int_eq(cact_codeact_new_from_state(NULL, "{\"preload\": [\"a b\"]}", NULL,
							     0, &back, &err),
				 CACT_EINVAL);
		ck_assert_msg(strstr(err.message, "state: \"preload[0]\": 'a b' is not a module") !=
				      NULL,
			      "%s", err.message);
		ck_assert_ptr_null(back);
	}
	cact_codeact_free(cc);
	t_rmtree(dir);
	free(dir);
}
END_TEST

int main(int argc, char **argv)
{
	const struct t_case cases[] = {
		T_CASE(approval_follows_tools, 30),
		T_CASE(approval_default_always, 30),
		T_CASE(approval_per_call_mode, 30),
		T_CASE(same_name_replaces_and_moves_to_end, 30),
		T_CASE(execute_code_tool_refused, 30),
		T_CASE(remove_unknown_tool_names_it, 30),
		T_CASE(clear_tools_keeps_handed_out_references, 30),
		T_CASE(mount_string_form, 30),
		T_CASE(mount_pair_form_normalized, 30),
		T_CASE(mount_relative_host_against_cwd, 30),
		T_CASE(workspace_and_mounts_in_execution, 60),
		T_CASE(domain_targets_normalized, 30),
		T_CASE(domain_methods_normalized, 30),
		T_CASE(domain_refusals, 30),
		T_CASE(domain_remove_normalizes, 30),
		T_CASE(description_lists_tools, 30),
		T_CASE(description_files_network_limits, 30),
		T_CASE(description_long_timeout_readable, 30),
		T_CASE(instructions_text, 30),
		T_CASE(input_schema_shape, 30),
		T_CASE(contents_stdout_files_stderr, 60),
		T_CASE(contents_error_item, 60),
		T_CASE(contents_without_output, 60),
		T_CASE(output_files_found_without_listing, 60),
		T_CASE(output_not_carried_over, 60),
		T_CASE(execute_calls_tools, 60),
		T_CASE(per_call_approval_in_execution, 60),
		T_CASE(snapshot_unaffected_by_later_changes, 60),
		T_CASE(change_during_execution_applies_later, 90),
		T_CASE(state_keys_and_defaults, 30),
		T_CASE(state_reflects_configuration, 30),
		T_CASE(state_round_trip, 30),
		T_CASE(state_missing_tool, 30),
		T_CASE(state_malformed_values, 30),
		T_CASE(state_malformed_containers, 30),
		T_CASE(state_partial_and_future, 30),
		T_CASE(no_runtime_describes_but_refuses_to_run, 60),
		T_CASE(call_arguments, 60),
		T_CASE(config_every_key, 30),
		T_CASE(config_relative_paths, 30),
		T_CASE(config_command_tools_run_in_file_folder, 60),
		T_CASE(config_unknown_keys_refused, 30),
		T_CASE(config_wrong_types_refused, 30),
		T_CASE(config_bad_tools_refused, 30),
		T_CASE(config_bad_file_changes_nothing, 30),
		T_CASE(config_applies_on_top, 30),
		T_CASE(config_missing_and_invalid_files, 30),
		T_CASE(config_limits_accepted, 30),
		T_CASE(config_limits_enforced, 60),
		T_CASE(codeact_tool_description_follows_config, 30),
		T_CASE(clear_file_mounts_and_allowed_domains, 30),
		T_CASE(typed_getters_mounts_and_domains, 30),
		T_CASE(state_filesystem_enabled_is_true, 30),
		T_CASE(config_limit_messages_in_key_units, 30),
		T_CASE(cli_limit_messages_in_option_units, 30),
		T_CASE(config_python_path_and_preload, 30),
		T_CASE(config_python_bad_values_refused, 30),
	};

	return t_main("unit_codeact", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
