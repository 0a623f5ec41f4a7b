/* SPDX-License-Identifier: MIT */
/*
 * What execute_code's MCP result holds for a model to read: text files
 * (CSV, JSON, Markdown, XML, SVG) as embedded resources with their text, cut
 * at 64 KiB on a UTF-8 boundary with a note naming the file; binary files
 * and text that is not valid UTF-8 as blobs, byte for byte; raster images,
 * matplotlib's plt.show() figures included, as image items; and a Python
 * error's traceback once, whether or not stderr kept it.
 *
 * The server runs in this process and is spoken to over a socket pair, as
 * an MCP host speaks to `cact mcp` on stdio.
 */
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../common.h"

/* The cap lib/mcp/content.c puts on one text file (docs/mcp.md). */
#define TEXT_MAX 65536

struct fx {
	struct cact_runtime *rt;
	struct cact_codeact *cc;
	struct cact_mcp_server *srv;
	int sock, srv_sock;
	pthread_t th;
	int rc;
	struct cact_error err;
	char *in;
	size_t in_len, in_cap;
	int next_id;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void *serve(void *arg)
{
	struct fx *f = arg;

	f->rc = cact_mcp_serve_stdio(f->srv, f->srv_sock, f->srv_sock, &f->err);
	return NULL;
}

static void put(struct fx *f, json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	size_t n = strlen(text);

	ck_assert_int_eq(send(f->sock, text, n, MSG_NOSIGNAL), (ssize_t)n);
	ck_assert_int_eq(send(f->sock, "\n", 1, MSG_NOSIGNAL), 1);
	free(text);
	json_decref(msg);
}

/* The response to request id (notifications skipped), or a failed test after ms. */
static json_t *response(struct fx *f, int id, unsigned ms)
{
	uint64_t until = now_ms() + ms;

	for (;;) {
		char *nl = f->in ? memchr(f->in, '\n', f->in_len) : NULL;
		struct pollfd p = {.fd = f->sock, .events = POLLIN};
		uint64_t now = now_ms();
		ssize_t got;

		if (nl) {
			size_t len = (size_t)(nl - f->in);
			json_t *m = json_loadb(f->in, len, 0, NULL);

			ck_assert_msg(m != NULL, "not JSON: %.300s", f->in);
			memmove(f->in, nl + 1, f->in_len - len - 1);
			f->in_len -= len + 1;
			if (json_integer_value(json_object_get(m, "id")) == id &&
			    !json_object_get(m, "method"))
				return m;
			json_decref(m);
			continue;
		}
		ck_assert_msg(now < until && poll(&p, 1, (int)(until - now)) > 0,
			      "no response to %d within %u ms", id, ms);
		if (f->in_len + 65536 > f->in_cap) {
			f->in_cap = f->in_cap ? f->in_cap * 2 : 1 << 20;
			f->in = realloc(f->in, f->in_cap);
			ck_assert(f->in != NULL);
		}
		got = recv(f->sock, f->in + f->in_len, f->in_cap - f->in_len, 0);
		ck_assert_msg(got > 0, "the server closed the connection");
		f->in_len += (size_t)got;
	}
}

static void fx_setup(struct fx *f, const char *version)
{
	static const char *const paths[] = {"/usr/lib/python3/dist-packages"};
	struct cact_runtime_options o;
	struct cact_error err = {0};
	int sv[2];
	json_t *m;

	memset(f, 0, sizeof(*f));
	signal(SIGPIPE, SIG_IGN);
	cact_runtime_options_init(&o);
	/* matplotlib, for plt.show(); the other cases need nothing from there. */
	o.python_paths = paths;
	o.n_python_paths = 1;
	f->rt = t_runtime_opts(&o);
	ck_assert_int_eq(cact_codeact_new(NULL, &f->cc, &err), 0);
	cact_codeact_set_runtime(f->cc, f->rt);
	ck_assert_msg(cact_mcp_server_new(f->cc, NULL, &f->srv, &err) == 0, "%s", err.message);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->sock = sv[0];
	f->srv_sock = sv[1];
	ck_assert_int_eq(pthread_create(&f->th, NULL, serve, f), 0);
	put(f, json_pack("{s:s, s:i, s:s, s:{s:s, s:{}, s:{s:s, s:s}}}", "jsonrpc", "2.0", "id", 0,
			 "method", "initialize", "params", "protocolVersion", version,
			 "capabilities", "clientInfo", "name", "t", "version", "1"));
	m = response(f, 0, 10000);
	ck_assert_str_eq(
		json_string_value(json_object_get(json_object_get(m, "result"), "protocolVersion")),
		version);
	json_decref(m);
	put(f, json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method", "notifications/initialized"));
	f->next_id = 1;
}

static void fx_teardown(struct fx *f)
{
	shutdown(f->sock, SHUT_WR);
	pthread_join(f->th, NULL);
	ck_assert_msg(f->rc == 0, "cact_mcp_serve_stdio: %s", f->err.message);
	close(f->sock);
	close(f->srv_sock);
	cact_mcp_server_free(f->srv);
	cact_codeact_free(f->cc);
	cact_runtime_free(f->rt);
	free(f->in);
}

/* Runs code through tools/call; the result object (new reference). */
static json_t *call(struct fx *f, const char *code)
{
	int id = f->next_id++;
	json_t *m, *r;

	put(f,
	    json_pack("{s:s, s:i, s:s, s:{s:s, s:{s:s}}}", "jsonrpc", "2.0", "id", id, "method",
		      "tools/call", "params", "name", "execute_code", "arguments", "code", code));
	m = response(f, id, 120000);
	r = json_object_get(m, "result");
	ck_assert_msg(json_is_object(r), "not a result: %s", json_dumps(m, 0));
	json_incref(r);
	json_decref(m);
	return r;
}

/* The content item about file:///output/<name>, or NULL. */
static json_t *resource(json_t *result, const char *name)
{
	char uri[256];
	json_t *item;
	size_t i;

	snprintf(uri, sizeof(uri), "file:///output/%s", name);
	json_array_foreach(json_object_get(result, "content"), i, item) {
		const char *u = json_string_value(
			json_object_get(json_object_get(item, "resource"), "uri"));

		if (u && strcmp(u, uri) == 0)
			return json_object_get(item, "resource");
	}
	return NULL;
}

/* How many times needle occurs in the result's text items. */
static int count_in_text(json_t *result, const char *needle)
{
	json_t *item;
	size_t i;
	int n = 0;

	json_array_foreach(json_object_get(result, "content"), i, item) {
		const char *t = json_string_value(json_object_get(item, "text"));

		for (; t && (t = strstr(t, needle)); t += strlen(needle))
			n++;
	}
	return n;
}

/* The text item that contains needle, or NULL. */
static const char *text_with(json_t *result, const char *needle)
{
	json_t *item;
	size_t i;

	json_array_foreach(json_object_get(result, "content"), i, item) {
		const char *t = json_string_value(json_object_get(item, "text"));

		if (json_equal(json_object_get(item, "type"), json_string("text")) && t &&
		    strstr(t, needle))
			return t;
	}
	return NULL;
}

static void assert_text_resource(json_t *result, const char *name, const char *type,
				 const char *want)
{
	json_t *res = resource(result, name);
	char *all = json_dumps(result, 0);

	ck_assert_msg(res != NULL, "no resource for %s: %.2000s", name, all);
	ck_assert_str_eq(json_string_value(json_object_get(res, "mimeType")), type);
	ck_assert_msg(json_is_string(json_object_get(res, "text")) && !json_object_get(res, "blob"),
		      "%s is not a text resource: %.2000s", name, all);
	ck_assert_str_eq(json_string_value(json_object_get(res, "text")), want);
	free(all);
}

/* The blob of a resource, decoded, must be exactly want (len bytes). */
static void assert_blob(json_t *result, const char *name, const char *want, size_t len)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	json_t *res = resource(result, name);
	const char *s;
	unsigned char out[256];
	size_t n = 0, i, bits = 0;
	unsigned acc = 0;

	ck_assert_msg(res != NULL, "no resource for %s", name);
	ck_assert_msg(!json_object_get(res, "text"), "%s came back as text", name);
	s = json_string_value(json_object_get(res, "blob"));
	ck_assert_msg(s != NULL, "%s has no blob", name);
	for (i = 0; s[i] && s[i] != '='; i++) {
		const char *p = strchr(b64, s[i]);

		ck_assert(p != NULL && n < sizeof(out));
		acc = (acc << 6) | (unsigned)(p - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	ck_assert_uint_eq(n, len);
	ck_assert(memcmp(out, want, len) == 0);
}

/* Text formats come back as text, for every protocol version the server speaks. */
START_TEST(text_files_are_text)
{
	static const char *const versions[] = {"2025-03-26", "2025-06-18", "2025-11-25"};
	struct fx f;
	json_t *r;
	size_t v;

	for (v = 0; v < 3; v++) {
		fx_setup(&f, versions[v]);
		r = call(&f, "import json, os\n"
			     "os.makedirs('/output/sub dir')\n"
			     "open('/output/sub dir/t.csv', 'w').write('a,b\\n1,2\\n')\n"
			     "json.dump({'k': [1, 2]}, open('/output/d.json', 'w'))\n"
			     "open('/output/r.md', 'w').write('# Title\\n\\n\\u00e9t\\u00e9 "
			     "\\u2713\\n')\n"
			     "open('/output/x.xml', 'w').write('<a>1</a>')\n"
			     "open('/output/p.svg', 'w').write('<svg/>')\n"
			     "open('/output/empty.txt', 'w').close()\n"
			     "print('done')\n");
		ck_assert(json_is_false(json_object_get(r, "isError")));
		assert_text_resource(r, "sub%20dir/t.csv", "text/csv", "a,b\n1,2\n");
		assert_text_resource(r, "d.json", "application/json", "{\"k\": [1, 2]}");
		assert_text_resource(r, "r.md", "text/markdown",
				     "# Title\n\n\xc3\xa9t\xc3\xa9 \xe2\x9c\x93\n");
		assert_text_resource(r, "x.xml", "application/xml", "<a>1</a>");
		/* SVG is XML text, not a picture most clients show. */
		assert_text_resource(r, "p.svg", "image/svg+xml", "<svg/>");
		assert_text_resource(r, "empty.txt", "text/plain", "");
		ck_assert_int_eq(count_in_text(r, "[cut:"), 0);
		json_decref(r);
		fx_teardown(&f);
	}
}
END_TEST

/* Past the cap: the first 64 KiB, never half a character, and a note naming the file. */
START_TEST(long_text_is_cut_with_a_note)
{
	struct fx f;
	json_t *r, *res;
	const char *text, *note;

	fx_setup(&f, "2025-11-25");
	/* 'a' then 2-byte characters: byte 65535 is the first half of one. */
	r = call(&f, "open('/output/big.csv', 'w').write('a' + '\\u00e9' * 50000)\n"
		     "open('/output/exact.txt', 'w').write('b' * 65536)\n");
	ck_assert(json_is_false(json_object_get(r, "isError")));
	res = resource(r, "big.csv");
	ck_assert_ptr_nonnull(res);
	text = json_string_value(json_object_get(res, "text"));
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(strlen(text), TEXT_MAX - 1);
	ck_assert(memcmp(text + TEXT_MAX - 3, "\xc3\xa9", 2) == 0);
	note = text_with(r, "[cut: /output/big.csv");
	ck_assert_msg(note != NULL, "no note for the cut file: %.500s", json_dumps(r, 0));
	ck_assert_ptr_nonnull(strstr(note, "100001 bytes"));
	ck_assert_ptr_nonnull(strstr(note, "first 65535"));
	/* Exactly at the cap: whole, no note. */
	res = resource(r, "exact.txt");
	ck_assert_uint_eq(json_string_length(json_object_get(res, "text")), TEXT_MAX);
	ck_assert_int_eq(count_in_text(r, "[cut:"), 1);
	/* The files list still gives the whole size. */
	ck_assert_int_eq(
		json_integer_value(json_object_get(
			json_array_get(
				json_object_get(json_object_get(r, "structuredContent"), "files"),
				0),
			"size")),
		100001);
	json_decref(r);
	fx_teardown(&f);
}
END_TEST

/* Bytes that are not UTF-8 under a text name go as a blob, unchanged; nothing breaks. */
START_TEST(hostile_bytes_stay_bytes)
{
	struct fx f;
	json_t *r;
	char *all;

	fx_setup(&f, "2025-11-25");
	r = call(&f, "import sys\n"
		     "open('/output/bad.txt', 'wb').write(b'ok\\xff\\xfe\\xc0\\x80')\n"
		     "open('/output/nul.json', 'wb').write(b'{\"a\": \"\\x00\"}')\n"
		     "open('/output/sur.csv', 'wb').write(b'\\xed\\xa0\\x80,1')\n"
		     "open('/output/data.bin', 'wb').write(bytes(range(8)))\n"
		     "sys.stdout.buffer.write(b'out\\xff\\n')\n"
		     "sys.stderr.buffer.write(b'err\\xfe\\n')\n");
	all = json_dumps(r, 0);
	ck_assert_msg(json_is_false(json_object_get(r, "isError")), "%s", all);
	assert_blob(r, "bad.txt", "ok\xff\xfe\xc0\x80", 6);
	assert_blob(r, "nul.json", "{\"a\": \"\0\"}", 10);
	assert_blob(r, "sur.csv", "\xed\xa0\x80,1", 5);
	assert_blob(r, "data.bin", "\0\1\2\3\4\5\6\7", 8);
	/* The streams come as valid text, the bad bytes replaced. */
	ck_assert_int_eq(count_in_text(r, "out\xef\xbf\xbd\n"), 1);
	ck_assert_int_eq(count_in_text(r, "err\xef\xbf\xbd\n"), 1);
	free(all);
	json_decref(r);
	fx_teardown(&f);
}
END_TEST

/* Raster images are image items, plt.show() figures included; other types blobs. */
START_TEST(images_are_images)
{
	static const char png_b64[] =
		"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8"
		"BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
	struct fx f;
	json_t *r, *item;
	size_t i;
	int images = 0, dot = 0;
	char *code;

	fx_setup(&f, "2025-11-25");
	code = t_fmt("import base64\n"
		     "import matplotlib.pyplot as plt\n"
		     "open('/output/dot.png', 'wb').write(base64.b64decode('%s'))\n"
		     "open('/output/doc.pdf', 'wb').write(b'%%PDF-1.4 ...')\n"
		     "plt.plot([1, 3, 2])\n"
		     "plt.show()\n",
		     png_b64);
	r = call(&f, code);
	free(code);
	ck_assert_msg(json_is_false(json_object_get(r, "isError")), "%s", json_dumps(r, 0));
	json_array_foreach(json_object_get(r, "content"), i, item) {
		const char *type = json_string_value(json_object_get(item, "type"));
		const char *data = json_string_value(json_object_get(item, "data"));

		if (strcmp(type, "image") != 0)
			continue;
		images++;
		ck_assert_str_eq(json_string_value(json_object_get(item, "mimeType")), "image/png");
		/* base64 of a PNG signature */
		ck_assert_msg(data && strncmp(data, "iVBORw0KGgo", 11) == 0, "not a PNG");
		dot += strcmp(data, png_b64) == 0;
	}
	ck_assert_int_eq(images, 2);
	ck_assert_int_eq(dot, 1);
	ck_assert_int_eq(count_in_text(r, "[figure saved to /output/figure-1.png]"), 1);
	assert_blob(r, "doc.pdf", "%PDF-1.4 ...", 12);
	json_decref(r);
	fx_teardown(&f);
}
END_TEST

/* A Python error's traceback reaches the model once, in stderr or in the error item. */
START_TEST(traceback_once)
{
	struct fx f;
	json_t *r;
	const char *err;

	fx_setup(&f, "2025-11-25");
	r = call(&f, "import sys\n"
		     "print('before', file=sys.stderr)\n"
		     "def f():\n"
		     "    return 1 / 0\n"
		     "f()\n");
	ck_assert(json_is_true(json_object_get(r, "isError")));
	ck_assert_int_eq(count_in_text(r, "Traceback (most recent call last)"), 1);
	ck_assert_int_eq(count_in_text(r, "return 1 / 0"), 1);
	ck_assert_ptr_nonnull(text_with(r, "[stderr]\nbefore\nTraceback"));
	err = text_with(r, "[error]");
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_nonnull(strstr(err, "ZeroDivisionError: division by zero"));
	ck_assert_ptr_nonnull(strstr(err, "traceback is in [stderr] above"));
	json_decref(r);

	/* stderr over its cap loses the traceback: then the error item carries it. */
	r = call(&f, "import sys\n"
		     "sys.stderr.write('x' * (8 << 20))\n"
		     "raise ValueError('late')\n");
	ck_assert(json_is_true(json_object_get(r, "isError")));
	ck_assert_int_eq(count_in_text(r, "Traceback (most recent call last)"), 1);
	err = text_with(r, "[error]");
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_nonnull(strstr(err, "Traceback (most recent call last)"));
	ck_assert_ptr_nonnull(strstr(err, "ValueError: late"));
	json_decref(r);
	fx_teardown(&f);
}
END_TEST

int main(int argc, char **argv)
{
	const struct t_case cases[] = {
		T_CASE(text_files_are_text, 90),      T_CASE(long_text_is_cut_with_a_note, 60),
		T_CASE(hostile_bytes_stay_bytes, 60), T_CASE(images_are_images, 120),
		T_CASE(traceback_once, 60),
	};

	return t_main("mcp_content", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
