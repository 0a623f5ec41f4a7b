/* SPDX-License-Identifier: MIT */
/*
 * Live output (cact_request_set_output, the session run's output option):
 * the code's stdout and stderr reach the caller while it runs, in order,
 * within the caps, and put together they are the result's streams.
 *
 * Ordering is asserted against what the code does, never against a clock:
 * a host tool the code calls after its first print records whether that
 * print had reached the caller by then, and a "wait_for" tool holds the
 * code until a text has arrived.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common.h"

#define MAX_CHUNKS 8192

struct chunk {
	enum cact_stream stream;
	size_t len;
	unsigned marks; /* "mark" tool calls made when it arrived */
	int ends_mid_utf8;
};

/* What the output callback and the tools saw; the tools run on other threads. */
struct rec {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct chunk c[MAX_CHUNKS];
	size_t n, calls;
	char *text[3]; /* by stream: everything received, NUL-terminated */
	size_t len[3];
	unsigned marks;
	int first_seen_at_mark; /* "first" had arrived when the code called mark */
	pthread_t cb_thread;
	int other_thread;
};

static void rec_init(struct rec *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cond, NULL);
	r->text[1] = calloc(1, 1);
	r->text[2] = calloc(1, 1);
	r->cb_thread = pthread_self();
}

static void rec_free(struct rec *r)
{
	free(r->text[1]);
	free(r->text[2]);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->mu);
}

/* 1 when s ends inside a UTF-8 sequence that more bytes could complete. */
static int ends_mid_utf8(const unsigned char *s, size_t len)
{
	size_t back;

	for (back = 1; back <= 3 && back <= len; back++) {
		unsigned char c = s[len - back];
		size_t need;

		if ((c & 0xc0) == 0x80)
			continue;
		need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
		return need > back && c < 0xf8;
	}
	return 0;
}

static void on_output(void *user, enum cact_stream stream, const char *data, size_t len)
{
	struct rec *r = user;
	char *grown;

	ck_assert(stream == CACT_STREAM_STDOUT || stream == CACT_STREAM_STDERR);
	ck_assert_uint_gt(len, 0);
	pthread_mutex_lock(&r->mu);
	if (!pthread_equal(pthread_self(), r->cb_thread))
		r->other_thread = 1;
	if (r->n < MAX_CHUNKS) {
		r->c[r->n].stream = stream;
		r->c[r->n].len = len;
		r->c[r->n].marks = r->marks;
		r->c[r->n].ends_mid_utf8 = ends_mid_utf8((const unsigned char *)data, len);
		r->n++;
	}
	r->calls++;
	grown = realloc(r->text[stream], r->len[stream] + len + 1);
	ck_assert_ptr_nonnull(grown);
	memcpy(grown + r->len[stream], data, len);
	r->len[stream] += len;
	grown[r->len[stream]] = '\0';
	r->text[stream] = grown;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->mu);
}

/* mark(): the code got past its sleep; was "first" already received? */
static int tool_mark(void *user, const char *name, const char *args, char **result,
		     struct cact_error *err)
{
	struct rec *r = user;

	(void)name;
	(void)args;
	(void)err;
	pthread_mutex_lock(&r->mu);
	if (r->marks == 0)
		r->first_seen_at_mark = strstr(r->text[CACT_STREAM_STDOUT], "first") != NULL;
	r->marks++;
	pthread_mutex_unlock(&r->mu);
	*result = strdup("null");
	return *result ? 0 : CACT_ENOMEM;
}

/* wait_for(text=..., stream=1|2): holds the code until text has arrived (at most 20 s). */
static int tool_wait_for(void *user, const char *name, const char *args, char **result,
			 struct cact_error *err)
{
	struct rec *r = user;
	json_t *a = json_loads(args, 0, NULL);
	const char *want = json_string_value(json_object_get(a, "text"));
	int stream = (int)json_integer_value(json_object_get(a, "stream"));
	struct timespec until;
	int found = 0;

	(void)name;
	(void)err;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 20;
	pthread_mutex_lock(&r->mu);
	while (want && (stream == 1 || stream == 2) &&
	       !(found = strstr(r->text[stream], want) != NULL))
		if (pthread_cond_timedwait(&r->cond, &r->mu, &until))
			break;
	pthread_mutex_unlock(&r->mu);
	json_decref(a);
	*result = strdup(found ? "true" : "false");
	return *result ? 0 : CACT_ENOMEM;
}

static void add_tool(struct cact_request *req, const char *name, cact_tool_fn fn, void *user)
{
	struct cact_tool *t = NULL;
	struct cact_error err = {0};

	ck_assert_msg(cact_tool_new_callback(name, "a test tool", NULL, CACT_APPROVAL_NEVER_REQUIRE,
					     fn, user, &t, &err) == 0,
		      "%s", err.message);
	ck_assert_msg(cact_request_add_tool(req, t, &err) == 0, "%s", err.message);
	cact_tool_unref(t);
}

static struct cact_request *req_of(const char *code, struct rec *r)
{
	struct cact_request *req = NULL;
	struct cact_error err = {0};

	ck_assert_int_eq(cact_request_new(&req), 0);
	if (code)
		ck_assert_msg(cact_request_set_code(req, code, strlen(code), &err) == 0, "%s",
			      err.message);
	add_tool(req, "mark", tool_mark, r);
	add_tool(req, "wait_for", tool_wait_for, r);
	return req;
}

static void set_limit(struct cact_request *req, enum cact_limit l, uint64_t v)
{
	struct cact_error err = {0};

	ck_assert_msg(cact_request_set_limit(req, l, v, &err) == 0, "%s", err.message);
}

/* Each stream put together is exactly the result's, and no chunk was cut inside a character. */
static void assert_whole(struct rec *r, const struct cact_result *res)
{
	const char *s;
	size_t len, i;

	s = cact_result_stdout(res, &len, NULL);
	ck_assert_msg(
		len == r->len[1] && memcmp(s, r->text[1], len) == 0,
		"stdout received (%zu bytes)\n---\n%.300s\n---\nresult (%zu bytes)\n---\n%.300s",
		r->len[1], r->text[1], len, s);
	s = cact_result_stderr(res, &len, NULL);
	ck_assert_msg(
		len == r->len[2] && memcmp(s, r->text[2], len) == 0,
		"stderr received (%zu bytes)\n---\n%.300s\n---\nresult (%zu bytes)\n---\n%.300s",
		r->len[2], r->text[2], len, s);
	/* Only a stream's last chunk may end inside a character (the code's last bytes). */
	for (i = 0; i < r->n; i++) {
		size_t j;

		if (!r->c[i].ends_mid_utf8)
			continue;
		for (j = i + 1; j < r->n; j++)
			ck_assert_msg(r->c[j].stream != r->c[i].stream,
				      "chunk %zu ends inside a UTF-8 sequence", i);
	}
	ck_assert_int_eq(r->other_thread, 0);
}

/* Index of the first chunk of stream at or after which text has arrived. */
static size_t chunk_with(struct rec *r, enum cact_stream stream, const char *text)
{
	size_t i, upto = 0;
	char *at = strstr(r->text[stream], text);

	ck_assert_msg(at != NULL, "never received %s", text);
	for (i = 0; i < r->n; i++) {
		if (r->c[i].stream != stream)
			continue;
		upto += r->c[i].len;
		if (upto >= (size_t)(at - r->text[stream]) + strlen(text))
			return i;
	}
	ck_abort_msg("no chunk holds %s", text);
	return 0;
}

static const char sleep_code[] = "import time\n"
				 "print('first')\n"
				 "time.sleep(1)\n"
				 "call_tool('mark')\n"
				 "print('second')\n";

/* The first line reaches the caller while the code sleeps, before it prints the second. */
START_TEST(first_line_arrives_before_second_is_written)
{
	struct cact_runtime *rt = t_runtime();
	struct rec r;
	struct cact_request *req;
	struct cact_result *res;

	rec_init(&r);
	req = req_of(sleep_code, &r);
	cact_request_set_output(req, on_output, &r);
	res = t_run_req(rt, req);
	t_assert_status(res, CACT_STATUS_OK);
	ck_assert_msg(r.first_seen_at_mark, "'first' had not reached the caller when the code "
					    "called mark() after sleeping");
	ck_assert_uint_eq(r.c[chunk_with(&r, CACT_STREAM_STDOUT, "first")].marks, 0);
	ck_assert_uint_eq(r.c[chunk_with(&r, CACT_STREAM_STDOUT, "second")].marks, 1);
	ck_assert_str_eq(r.text[1], "first\nsecond\n");
	assert_whole(&r, res);
	cact_result_free(res);
	cact_request_free(req);

	/* Without a callback: the same result, nothing delivered. */
	rec_free(&r);
	rec_init(&r);
	req = req_of(sleep_code, &r);
	res = t_run_req(rt, req);
	t_assert_status(res, CACT_STATUS_OK);
	ck_assert_str_eq(t_out(res), "first\nsecond\n");
	ck_assert_uint_eq(r.calls, 0);
	ck_assert_int_eq(r.first_seen_at_mark, 0);
	cact_result_free(res);
	cact_request_free(req);
	rec_free(&r);
	cact_runtime_free(rt);
}
END_TEST

/* The same through a sandbox session, run after run. */
START_TEST(session_runs_stream_output)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_sandbox_session_run_options o;
	struct cact_sandbox_session *s = NULL;
	struct cact_error err = {0};
	struct cact_result *res = NULL;
	struct cact_request *tmpl;
	struct rec r;
	const char *second = "print('again', n)\n";

	rec_init(&r);
	tmpl = req_of(NULL, &r);
	ck_assert_msg(cact_sandbox_session_new(rt, tmpl, NULL, &s, &err) == 0, "%s", err.message);
	cact_sandbox_session_run_options_init(&o);
	ck_assert_ptr_null(o.output);
	o.output = on_output;
	o.output_user = &r;
	ck_assert_msg(cact_sandbox_session_run(s, sleep_code, strlen(sleep_code), &o, &res, &err) ==
			      0,
		      "%s", err.message);
	t_assert_status(res, CACT_STATUS_OK);
	ck_assert_msg(r.first_seen_at_mark, "'first' had not reached the caller when the code "
					    "called mark() after sleeping");
	ck_assert_uint_eq(r.c[chunk_with(&r, CACT_STREAM_STDOUT, "second")].marks, 1);
	assert_whole(&r, res);
	cact_result_free(res);
	res = NULL;
	rec_free(&r);

	/* The next run's callback hears that run only. */
	rec_init(&r);
	ck_assert_msg(cact_sandbox_session_run(s, "n = 2\n", 6, NULL, &res, &err) == 0, "%s",
		      err.message);
	cact_result_free(res);
	res = NULL;
	ck_assert_msg(cact_sandbox_session_run(s, second, strlen(second), &o, &res, &err) == 0,
		      "%s", err.message);
	t_assert_status(res, CACT_STATUS_OK);
	ck_assert_str_eq(r.text[1], "again 2\n");
	assert_whole(&r, res);
	cact_result_free(res);
	cact_sandbox_session_close(s);
	cact_request_free(tmpl);
	rec_free(&r);
	cact_runtime_free(rt);
}
END_TEST

/* stdout and stderr reach the caller in the order the code wrote them. */
START_TEST(streams_arrive_in_order)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req;
	struct cact_result *res;
	struct rec r;
	size_t a, b, c;

	rec_init(&r);
	req = req_of("import sys\n"
		     "print('alpha')\n"
		     "assert call_tool('wait_for', text='alpha', stream=1)\n"
		     "print('beta', file=sys.stderr)\n"
		     "assert call_tool('wait_for', text='beta', stream=2)\n"
		     "print('gamma')\n"
		     "raise ValueError('delta')\n",
		     &r);
	cact_request_set_output(req, on_output, &r);
	res = t_run_req(rt, req);
	t_assert_status(res, CACT_STATUS_PYTHON_ERROR);
	a = chunk_with(&r, CACT_STREAM_STDOUT, "alpha");
	b = chunk_with(&r, CACT_STREAM_STDERR, "beta");
	c = chunk_with(&r, CACT_STREAM_STDOUT, "gamma");
	ck_assert_msg(a < b && b < c, "chunks alpha %zu, beta %zu, gamma %zu", a, b, c);
	/* The traceback is stderr's, after beta. */
	ck_assert_uint_gt(chunk_with(&r, CACT_STREAM_STDERR, "ValueError: delta"), b);
	assert_whole(&r, res);
	cact_result_free(res);
	cact_request_free(req);
	rec_free(&r);
	cact_runtime_free(rt);
}
END_TEST

/* Caps, the truncation marker and characters cut between writes. */
START_TEST(caps_marker_and_utf8)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req;
	struct cact_result *res;
	struct rec r;
	const char *marker = "\n[... output truncated by cact";
	size_t i;

	rec_init(&r);
	req = req_of("import sys\n"
		     "sys.stdout.buffer.write(b'caf\\xc3')\n"
		     "call_tool('wait_for', text='caf', stream=1)\n"
		     "sys.stdout.buffer.write(b'\\xa9 \\xf0\\x9f')\n"
		     "call_tool('wait_for', text='\\xe9 ', stream=1)\n"
		     "sys.stdout.buffer.write(b'\\x98\\x80\\n')\n"
		     "sys.stdout.write('x' * 10000)\n"
		     "sys.stderr.write('e' * 3000)\n",
		     &r);
	set_limit(req, CACT_LIMIT_STDOUT_BYTES, 4096);
	set_limit(req, CACT_LIMIT_STDERR_BYTES, 2048);
	cact_request_set_output(req, on_output, &r);
	res = t_run_req(rt, req);
	t_assert_status(res, CACT_STATUS_OK);
	/* Never cut inside é or 😀, though the code wrote them in pieces. */
	for (i = 0; i < r.n; i++)
		ck_assert_msg(!r.c[i].ends_mid_utf8, "chunk %zu ends inside a character", i);
	ck_assert_msg(strncmp(r.text[1], "caf\xc3\xa9 \xf0\x9f\x98\x80\n", 11) == 0, "%.20s",
		      r.text[1]);
	/* Nothing past the caps but the marker, which comes last. */
	ck_assert_ptr_nonnull(strstr(r.text[1], marker));
	ck_assert_ptr_nonnull(strstr(r.text[2], marker));
	ck_assert_uint_le(r.len[1], 4096 + 128);
	ck_assert_uint_le(r.len[2], 2048 + 128);
	ck_assert_msg(strstr(r.text[1], marker) > r.text[1] + 4000, "marker too early");
	assert_whole(&r, res);
	cact_result_free(res);
	cact_request_free(req);
	rec_free(&r);
	cact_runtime_free(rt);
}
END_TEST

/* A byte at a time: grouped, at most one call per stream per 20 ms. */
START_TEST(many_small_writes_grouped)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req;
	struct cact_result *res;
	struct cact_stats st;
	struct rec r;

	rec_init(&r);
	req = req_of("import sys\n"
		     "for i in range(30000):\n"
		     "    sys.stdout.write('x')\n"
		     "    if i % 1000 == 0:\n"
		     "        sys.stderr.write('e')\n",
		     &r);
	cact_request_set_output(req, on_output, &r);
	res = t_run_req(rt, req);
	t_assert_status(res, CACT_STATUS_OK);
	cact_result_stats(res, &st);
	ck_assert_uint_eq(r.len[1], 30000);
	ck_assert_uint_eq(r.len[2], 30);
	/* Two streams, one round per 20 ms of the run, and the last one. */
	ck_assert_msg(r.calls <= 2 * (st.wall_us / 20000 + 2), "%zu calls in %llu us", r.calls,
		      (unsigned long long)st.wall_us);
	assert_whole(&r, res);
	cact_result_free(res);
	cact_request_free(req);
	rec_free(&r);
	cact_runtime_free(rt);
}
END_TEST

/* A run that times out or is cut short still hands over what it wrote. */
START_TEST(output_of_a_timed_out_run)
{
	struct cact_runtime *rt = t_runtime();
	struct cact_request *req;
	struct cact_result *res;
	struct rec r;

	rec_init(&r);
	req = req_of("import time\n"
		     "print('before')\n"
		     "call_tool('mark')\n"
		     "time.sleep(60)\n",
		     &r);
	set_limit(req, CACT_LIMIT_TIMEOUT_MS, 1500);
	cact_request_set_output(req, on_output, &r);
	res = t_run_req(rt, req);
	t_assert_status(res, CACT_STATUS_TIMEOUT);
	ck_assert_str_eq(r.text[1], "before\n");
	assert_whole(&r, res);
	cact_result_free(res);
	cact_request_free(req);
	rec_free(&r);
	cact_runtime_free(rt);
}
END_TEST

int main(int argc, char **argv)
{
	const struct t_case cases[] = {
		T_CASE(first_line_arrives_before_second_is_written, 120),
		T_CASE(session_runs_stream_output, 120),
		T_CASE(streams_arrive_in_order, 120),
		T_CASE(caps_marker_and_utf8, 120),
		T_CASE(many_small_writes_grouped, 120),
		T_CASE(output_of_a_timed_out_run, 120),
	};

	return t_main("output", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
