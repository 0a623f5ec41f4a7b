/* SPDX-License-Identifier: MIT */
/*
 * The command line, driven as a user drives it: $CACT_BIN run with argv and
 * stdin, asserting its exit status, its two streams and what it leaves on disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "../common.h"

/* Runs the CLI with a NULL-terminated argv built from the arguments. */
#define CLI(in, out, err, ...) t_cli((const char *const[]){__VA_ARGS__, NULL}, (in), (out), (err))

#define PYPATH	 "/usr/lib/python3/dist-packages"
#define CODE_CAP (10u * 1024u * 1024u)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void write_bytes(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	const char *p = data;

	ck_assert_msg(fd >= 0, "cannot write %s: %s", path, strerror(errno));
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		ck_assert_msg(n > 0, "write %s: %s", path, strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	close(fd);
}

static int exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static size_t count_char(const char *s, char c)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == c;
	return n;
}

/* A clear one-line usage error: status 2, nothing on stdout, one stderr line "cact exec: ...". */
#define assert_usage_error(rc, out, err) assert_usage_error_at((rc), (out), (err), __LINE__)
static void assert_usage_error_at(int rc, const char *out, const char *err, int line)
{
	size_t n = strlen(err);

	ck_assert_msg(rc == 2, "line %d: status %d, expected 2\nstdout: %.500s\nstderr: %.500s",
		      line, rc, out, err);
	ck_assert_msg(out[0] == '\0', "line %d: stdout not empty: %.500s", line, out);
	ck_assert_msg(strncmp(err, "cact exec: ", 11) == 0,
		      "line %d: stderr does not start with 'cact exec: ': %.500s", line, err);
	ck_assert_msg(n > 11 && err[n - 1] == '\n' && count_char(err, '\n') == 1,
		      "line %d: stderr is not exactly one line: %.500s", line, err);
}

#define assert_status(rc, want, out, err) assert_status_at((rc), (want), (out), (err), __LINE__)
static void assert_status_at(int rc, int want, const char *out, const char *err, int line)
{
	ck_assert_msg(rc == want,
		      "line %d: status %d, expected %d\nstdout: %.1000s\nstderr: %.1000s", line, rc,
		      want, out, err);
}

/* Parses the single JSON object printed by --json (no trailing data, one line). */
static json_t *parse_json(const char *out)
{
	json_error_t je;
	json_t *j = json_loads(out, 0, &je);
	size_t n = strlen(out);

	ck_assert_msg(j != NULL, "stdout is not JSON (%s): %.500s", je.text, out);
	ck_assert_msg(json_is_object(j), "JSON is not an object: %.500s", out);
	ck_assert_msg(n > 0 && out[n - 1] == '\n' && count_char(out, '\n') == 1,
		      "--json printed more than one line");
	return j;
}

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	ck_assert_msg(json_is_string(v), "\"%s\" is not a string", key);
	return json_string_value(v);
}

/* Decodes standard base64; returns the bytes (owned) and their count in *len. */
static unsigned char *b64_decode(const char *s, size_t *len)
{
	static const char alpha[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(s), i, o = 0;
	unsigned char *buf = malloc(n / 4 * 3 + 3);
	uint32_t acc = 0;
	int bits = 0;

	ck_assert_ptr_nonnull(buf);
	ck_assert_msg(n % 4 == 0, "base64 length %zu is not a multiple of 4", n);
	for (i = 0; i < n; i++) {
		const char *p;

		if (s[i] == '=') {
			ck_assert_msg(i >= n - 2, "'=' inside base64");
			continue;
		}
		p = strchr(alpha, s[i]);
		ck_assert_msg(p != NULL && s[i] != '\0', "bad base64 character %c", s[i]);
		acc = (acc << 6) | (uint32_t)(p - alpha);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (unsigned char)(acc >> bits);
		}
	}
	*len = o;
	return buf;
}

/* ---------------------------------------------------------------------------------------- */
/* Where the code comes from. */

START_TEST(code_inline)
{
	char *out, *err;
	int rc = CLI(NULL, &out, &err, "exec", "-c", "print('hello from -c')");

	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "hello from -c\n");
	ck_assert_str_eq(err, "");
	free(out);
	free(err);
	rc = CLI(NULL, &out, &err, "exec", "--code", "print(6 * 7)");
	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "42\n");
	free(out);
	free(err);
}
END_TEST

/* CPU time of the reaped children of this process, in ms. */
static double children_cpu_ms(void)
{
	struct rusage r;

	ck_assert_int_eq(getrusage(RUSAGE_CHILDREN, &r), 0);
	return (double)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e3 +
	       (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e3;
}

START_TEST(exec_cpu_counted_in_its_resource_use)
{
	/*
	 * The CPU time the code burns shows in cact exec's own resource use
	 * (what `time cact exec` reports): every process below it is reaped
	 * by its parent, none left to a dying namespace that would reap it
	 * unaccounted. The code burns 300 ms of its own CPU, by its clock.
	 */
	char *out, *err;
	double before = children_cpu_ms();
	int rc = CLI(NULL, &out, &err, "exec", "-c",
		     "import time\n"
		     "while time.process_time() < 0.3:\n"
		     "    pass\n"
		     "print('burnt')");
	double used = children_cpu_ms() - before;

	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "burnt\n");
	ck_assert_msg(used >= 300.0, "cact exec's resource use shows %.1f ms of CPU", used);
	free(out);
	free(err);
}
END_TEST

START_TEST(code_from_file)
{
	char *dir = t_tmpdir(), *path = t_fmt("%s/prog.py", dir), *out, *err;
	int rc;

	t_write(dir, "prog.py", "import sys\nprint('from file')\nprint('warn', file=sys.stderr)\n");
	rc = CLI(NULL, &out, &err, "exec", path);
	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "from file\n");
	ck_assert_str_eq(err, "warn\n");
	free(out);
	free(err);
	free(path);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(code_from_stdin)
{
	char *out, *err;
	int rc = CLI("total = sum(range(10))\nprint('stdin', total)\n", &out, &err, "exec", "-");

	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "stdin 45\n");
	ck_assert_str_eq(err, "");
	free(out);
	free(err);
}
END_TEST

/* ---------------------------------------------------------------------------------------- */
/* /input: --workspace and --mount. */

START_TEST(workspace_visible_read_only)
{
	char *dir = t_tmpdir(), *new_path = t_fmt("%s/new.txt", dir), *out, *err;
	int rc;

	t_write(dir, "a.txt", "workspace data\n");
	t_write(dir, "sub/b.txt", "nested\n");
	rc = CLI(NULL, &out, &err, "exec", "--workspace", dir, "-c",
		 "print(open('/input/a.txt').read(), end='')\n"
		 "print(open('/input/sub/b.txt').read(), end='')\n"
		 "try:\n"
		 "    open('/input/new.txt', 'w')\n"
		 "    print('writable')\n"
		 "except OSError:\n"
		 "    print('read-only')\n");
	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "workspace data\nnested\nread-only\n");
	ck_assert(!exists(new_path));
	free(out);
	free(err);
	free(new_path);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(mount_file_default_guest)
{
	char *dir = t_tmpdir(), *host = t_fmt("%s/f.txt", dir), *code, *out, *err;
	int rc;

	t_write(dir, "f.txt", "mounted file\n");
	code = t_fmt("print(open('/input%s').read(), end='')", host);
	rc = CLI(NULL, &out, &err, "exec", "--mount", host, "-c", code);
	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "mounted file\n");
	free(out);
	free(err);
	free(code);
	free(host);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(mount_file_with_guest)
{
	char *dir = t_tmpdir(), *host = t_fmt("%s/f.txt", dir),
	     *spec = t_fmt("%s=data/g.txt", host);
	char *out, *err;
	int rc;

	t_write(dir, "f.txt", "guest named\n");
	rc = CLI(NULL, &out, &err, "exec", "--mount", spec, "-c",
		 "import os\n"
		 "print(os.listdir('/input'), os.listdir('/input/data'))\n"
		 "print(open('/input/data/g.txt').read(), end='')\n");
	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "['data'] ['g.txt']\nguest named\n");
	free(out);
	free(err);
	free(spec);
	free(host);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(mount_folder_default_guest)
{
	char *dir = t_tmpdir(), *host = t_fmt("%s/tree", dir), *code, *out, *err;
	int rc;

	t_write(dir, "tree/x.txt", "x\n");
	t_write(dir, "tree/deep/y.txt", "y\n");
	code = t_fmt("import os\n"
		     "print(sorted(os.listdir('/input%s')))\n"
		     "print(open('/input%s/deep/y.txt').read(), end='')\n",
		     host, host);
	rc = CLI(NULL, &out, &err, "exec", "--mount", host, "-c", code);
	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "['deep', 'x.txt']\ny\n");
	free(out);
	free(err);
	free(code);
	free(host);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(mount_folder_with_guest)
{
	char *dir = t_tmpdir(), *spec = t_fmt("%s/tree=lib", dir), *out, *err;
	int rc;

	t_write(dir, "tree/x.txt", "x\n");
	t_write(dir, "tree/deep/y.txt", "y\n");
	rc = CLI(NULL, &out, &err, "exec", "--mount", spec, "-c",
		 "import os\n"
		 "print(sorted(os.listdir('/input/lib')))\n"
		 "print(open('/input/lib/deep/y.txt').read(), end='')\n"
		 "try:\n"
		 "    open('/input/lib/z.txt', 'w')\n"
		 "    print('writable')\n"
		 "except OSError:\n"
		 "    print('read-only')\n");
	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "['deep', 'x.txt']\ny\nread-only\n");
	free(out);
	free(err);
	free(spec);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(mount_two)
{
	char *dir = t_tmpdir(), *s1 = t_fmt("%s/one.txt=one.txt", dir);
	char *s2 = t_fmt("%s/two.txt=more/two.txt", dir), *out, *err;
	int rc;

	t_write(dir, "one.txt", "1");
	t_write(dir, "two.txt", "2");
	rc = CLI(NULL, &out, &err, "exec", "--mount", s1, "--mount", s2, "-c",
		 "print(open('/input/one.txt').read() + open('/input/more/two.txt').read())");
	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "12\n");
	free(out);
	free(err);
	free(s1);
	free(s2);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(mount_same_guest_replaces)
{
	char *dir = t_tmpdir(), *s1 = t_fmt("%s/first.txt=x.txt", dir);
	char *s2 = t_fmt("%s/second.txt=./input/x.txt", dir), *out, *err;
	int rc;

	t_write(dir, "first.txt", "first");
	t_write(dir, "second.txt", "second");
	rc = CLI(NULL, &out, &err, "exec", "--mount", s1, "--mount", s2, "-c",
		 "import os\nprint(os.listdir('/input'), open('/input/x.txt').read())");
	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "['x.txt'] second\n");
	free(out);
	free(err);
	free(s1);
	free(s2);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(mount_guest_normalized)
{
	char *dir = t_tmpdir(), *spec = t_fmt("%s/f.txt=input/./a\\b//c.txt", dir), *out, *err;
	int rc;

	t_write(dir, "f.txt", "normalized");
	rc = CLI(NULL, &out, &err, "exec", "--mount", spec, "-c",
		 "print(open('/input/a/b/c.txt').read())");
	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "normalized\n");
	free(out);
	free(err);
	free(spec);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(mount_with_workspace)
{
	char *ws = t_tmpdir(), *other = t_tmpdir(), *spec = t_fmt("%s/f.txt=extra/f.txt", other);
	char *out, *err;
	int rc;

	t_write(ws, "a.txt", "from workspace");
	t_write(other, "f.txt", "from mount");
	rc = CLI(NULL, &out, &err, "exec", "--workspace", ws, "--mount", spec, "-c",
		 "print(open('/input/a.txt').read())\nprint(open('/input/extra/f.txt').read())");
	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "from workspace\nfrom mount\n");
	free(out);
	free(err);
	free(spec);
	t_rmtree(ws);
	t_rmtree(other);
	free(ws);
	free(other);
}
END_TEST

/* ---------------------------------------------------------------------------------------- */
/* Limits. */

START_TEST(timeout_stops_sleep_loop)
{
	char *out, *err;
	double t0 = now_s(), dt;
	int rc = CLI(NULL, &out, &err, "exec", "--timeout", "0.5", "-c",
		     "import time\nwhile True:\n    time.sleep(0.05)\n");

	dt = now_s() - t0;
	assert_status(rc, 124, out, err);
	ck_assert_msg(dt < 5.0, "timeout took %.2f s", dt);
	ck_assert_str_eq(out, "");
	ck_assert_msg(strstr(err, "timeout") != NULL, "stderr does not say timeout: %s", err);
	free(out);
	free(err);
	/* A busy loop is stopped just the same. */
	t0 = now_s();
	rc = CLI(NULL, &out, &err, "exec", "--timeout", "0.5", "-c", "while True:\n    pass\n");
	dt = now_s() - t0;
	assert_status(rc, 124, out, err);
	ck_assert_msg(dt < 5.0, "timeout took %.2f s", dt);
	free(out);
	free(err);
}
END_TEST

START_TEST(timeout_decimal_accepted)
{
	char *out, *err;
	/* A decimal limit is accepted and means what it says. */
	int rc = CLI(NULL, &out, &err, "exec", "--timeout", "1.5", "-c",
		     "import time\ntime.sleep(0.6)\nprint('slept')");

	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "slept\n");
	free(out);
	free(err);
	rc = CLI(NULL, &out, &err, "exec", "--timeout=1.25", "-c",
		 "import time\ntime.sleep(3)\nprint('slept')");
	assert_status(rc, 124, out, err);
	ck_assert_str_eq(out, "");
	ck_assert_msg(strstr(err, "1.25 s") != NULL, "stderr does not name the limit: %s", err);
	free(out);
	free(err);
	rc = CLI(NULL, &out, &err, "exec", "--timeout", "7.125", "-c", "print('ok')");
	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "ok\n");
	free(out);
	free(err);
}
END_TEST

START_TEST(memory_cap_exceeded)
{
	char *out, *err;
	int rc = CLI(NULL, &out, &err, "exec", "--memory", "64", "-c",
		     "b = bytearray(300 * 1024 * 1024)\nprint(len(b))");

	assert_status(rc, 125, out, err);
	ck_assert_str_eq(out, "");
	ck_assert_msg(strstr(err, "memory_limit") != NULL, "stderr does not name the limit: %s",
		      err);
	free(out);
	free(err);
}
END_TEST

START_TEST(memory_cap_raised)
{
	char *out, *err;
	int rc = CLI(NULL, &out, &err, "exec", "--memory", "1024", "-c",
		     "b = bytearray(300 * 1024 * 1024)\nprint(len(b))");

	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "314572800\n");
	free(out);
	free(err);
}
END_TEST

START_TEST(memory_limit_json)
{
	json_t *j, *e;
	char *out, *err;
	const char *msg;
	int rc = CLI(NULL, &out, &err, "exec", "--json", "--memory", "64", "-c",
		     "b = bytearray(300 * 1024 * 1024)");

	assert_status(rc, 125, out, err);
	j = parse_json(out);
	ck_assert_str_eq(jstr(j, "status"), "memory_limit");
	ck_assert(json_is_false(json_object_get(j, "success")));
	e = json_object_get(j, "error");
	/* The spec asks for a string; the library gives a MemoryError object (see report). */
	msg = json_is_string(e) ? json_string_value(e)
				: json_string_value(json_object_get(e, "message"));
	ck_assert_msg(msg && strstr(msg, "64 MiB"), "error does not name the cap: %s", out);
	json_decref(j);
	free(out);
	free(err);
}
END_TEST

/* ---------------------------------------------------------------------------------------- */
/* --output-dir. */

START_TEST(output_dir_writes_exact_bytes)
{
	char *dir = t_tmpdir(), *od = t_fmt("%s/out", dir), *p, *data, *out, *err;
	unsigned char want[256];
	size_t len, i;
	int rc;

	for (i = 0; i < 256; i++)
		want[i] = (unsigned char)i;
	rc = CLI(NULL, &out, &err, "exec", "--output-dir", od, "-c",
		 "import os\n"
		 "os.makedirs('/output/a/b')\n"
		 "_ = open('/output/a/b/c.bin', 'wb').write(bytes(range(256)))\n"
		 "_ = open('/output/top.txt', 'w').write('hello\\n')\n");
	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "");
	ck_assert_msg(strstr(err, "cact: file /output/top.txt (text/plain, 6 bytes)"), "stderr: %s",
		      err);
	ck_assert_msg(strstr(err, "cact: file /output/a/b/c.bin (application/octet-stream, 256 "
				  "bytes)"),
		      "stderr: %s", err);
	p = t_fmt("%s/a/b/c.bin", od);
	data = t_read_file(p, &len);
	ck_assert_msg(data != NULL, "%s missing", p);
	ck_assert_uint_eq(len, 256);
	ck_assert(memcmp(data, want, 256) == 0);
	free(data);
	free(p);
	p = t_fmt("%s/top.txt", od);
	t_assert_file_is(p, "hello\n");
	free(p);
	free(out);
	free(err);
	free(od);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(output_dir_existing_file_refused)
{
	char *od = t_tmpdir(), *p = t_fmt("%s/t.txt", od), *out, *err;
	int rc;

	t_write(od, "t.txt", "original");
	rc = CLI(NULL, &out, &err, "exec", "--output-dir", od, "-c",
		 "_ = open('/output/t.txt', 'w').write('new')");
	assert_status(rc, 4, out, err); /* files not saved */
	ck_assert_str_eq(out, "");
	ck_assert_msg(strncmp(err, "cact exec: --output-dir", 23) == 0, "stderr: %s", err);
	t_assert_file_is(p, "original");
	free(out);
	free(err);
	free(p);
	t_rmtree(od);
	free(od);
}
END_TEST

START_TEST(output_dir_force_overwrites)
{
	char *od = t_tmpdir(), *p = t_fmt("%s/t.txt", od), *out, *err;
	int rc;

	t_write(od, "t.txt", "original");
	rc = CLI(NULL, &out, &err, "exec", "--output-dir", od, "--force", "-c",
		 "_ = open('/output/t.txt', 'w').write('new')");
	assert_status(rc, 0, out, err);
	t_assert_file_is(p, "new");
	free(out);
	free(err);
	free(p);
	t_rmtree(od);
	free(od);
}
END_TEST

START_TEST(output_dir_symlink_inside_refused)
{
	char *od = t_tmpdir(), *outside = t_tmpdir();
	char *secret = t_fmt("%s/secret.txt", outside), *link = t_fmt("%s/l.txt", od);
	char *sublink = t_fmt("%s/sub", od), *planted = t_fmt("%s/x.txt", outside), *out, *err;
	struct stat st;
	int rc;

	t_write(outside, "secret.txt", "secret");
	ck_assert_int_eq(symlink(secret, link), 0);
	rc = CLI(NULL, &out, &err, "exec", "--output-dir", od, "--force", "-c",
		 "_ = open('/output/l.txt', 'w').write('pwned')");
	assert_status(rc, 4, out, err);
	ck_assert_msg(strncmp(err, "cact exec: --output-dir", 23) == 0, "stderr: %s", err);
	t_assert_file_is(secret, "secret");
	ck_assert_int_eq(lstat(link, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	free(out);
	free(err);
	/* A symlinked folder inside DIR is not followed either. */
	ck_assert_int_eq(symlink(outside, sublink), 0);
	rc = CLI(NULL, &out, &err, "exec", "--output-dir", od, "--force", "-c",
		 "import os\nos.mkdir('/output/sub')\n"
		 "_ = open('/output/sub/x.txt', 'w').write('pwned')");
	assert_status(rc, 4, out, err);
	ck_assert_msg(strncmp(err, "cact exec: --output-dir", 23) == 0, "stderr: %s", err);
	ck_assert(!exists(planted));
	free(out);
	free(err);
	free(secret);
	free(link);
	free(sublink);
	free(planted);
	t_rmtree(od);
	t_rmtree(outside);
	free(od);
	free(outside);
}
END_TEST

START_TEST(output_dir_itself_symlink_refused)
{
	char *dir = t_tmpdir(), *real = t_fmt("%s/real", dir), *link = t_fmt("%s/link", dir);
	char *planted = t_fmt("%s/z.txt", real), *out, *err;
	int rc;

	ck_assert_int_eq(mkdir(real, 0755), 0);
	ck_assert_int_eq(symlink(real, link), 0);
	rc = CLI(NULL, &out, &err, "exec", "--output-dir", link, "-c",
		 "_ = open('/output/z.txt', 'w').write('z')");
	assert_status(rc, 2, out, err);
	ck_assert_msg(strncmp(err, "cact exec: --output-dir", 23) == 0, "stderr: %s", err);
	ck_assert(!exists(planted));
	free(out);
	free(err);
	free(real);
	free(link);
	free(planted);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(files_listed_on_stderr)
{
	char *out, *err;
	int rc = CLI(NULL, &out, &err, "exec", "-c",
		     "_ = open('/output/r.csv', 'w').write('a,b\\n1,2\\n')");

	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "");
	ck_assert_str_eq(err, "cact: file /output/r.csv (text/csv, 8 bytes)\n");
	free(out);
	free(err);
}
END_TEST

/* ---------------------------------------------------------------------------------------- */
/* --json. */

START_TEST(json_keys_and_types)
{
	static const char *const keys[] = {
		"status",	    "success", "exit_code", "stdout",  "stderr", "stdout_truncated",
		"stderr_truncated", "error",   "files",	    "skipped", "stats",	 "isolation",
	};
	json_t *j, *stats, *iso, *feat, *v;
	const char *k;
	char *out, *err;
	size_t i;
	int rc = CLI(NULL, &out, &err, "exec", "--json", "-c",
		     "import sys\nprint('hi')\nprint('oops', file=sys.stderr)");

	assert_status(rc, 0, out, err);
	ck_assert_str_eq(err, "");
	j = parse_json(out);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ck_assert_msg(json_object_get(j, keys[i]) != NULL, "key %s missing: %s", keys[i],
			      out);
	ck_assert_str_eq(jstr(j, "status"), "ok");
	ck_assert(json_is_true(json_object_get(j, "success")));
	ck_assert(json_is_integer(json_object_get(j, "exit_code")));
	ck_assert_int_eq(json_integer_value(json_object_get(j, "exit_code")), 0);
	ck_assert_str_eq(jstr(j, "stdout"), "hi\n");
	ck_assert_str_eq(jstr(j, "stderr"), "oops\n");
	ck_assert(json_is_false(json_object_get(j, "stdout_truncated")));
	ck_assert(json_is_false(json_object_get(j, "stderr_truncated")));
	ck_assert(json_is_null(json_object_get(j, "error")));
	ck_assert(json_is_array(json_object_get(j, "files")));
	ck_assert_uint_eq(json_array_size(json_object_get(j, "files")), 0);
	ck_assert(json_is_array(json_object_get(j, "skipped")));
	ck_assert_uint_eq(json_array_size(json_object_get(j, "skipped")), 0);

	stats = json_object_get(j, "stats");
	ck_assert(json_is_object(stats));
	ck_assert(json_is_number(json_object_get(stats, "wall_ms")));
	ck_assert(json_number_value(json_object_get(stats, "wall_ms")) > 0);
	ck_assert(json_is_number(json_object_get(stats, "cpu_ms")));
	ck_assert(json_number_value(json_object_get(stats, "cpu_ms")) >= 0);
	ck_assert(json_is_integer(json_object_get(stats, "peak_rss_kib")));
	ck_assert(json_integer_value(json_object_get(stats, "peak_rss_kib")) > 0);

	iso = json_object_get(j, "isolation");
	ck_assert(json_is_object(iso));
	ck_assert_str_eq(jstr(iso, "level"), "full");
	ck_assert(json_is_integer(json_object_get(iso, "landlock_abi")));
	ck_assert_int_ge(json_integer_value(json_object_get(iso, "landlock_abi")), 1);
	feat = json_object_get(iso, "features");
	ck_assert(json_is_object(feat));
	ck_assert_uint_ge(json_object_size(feat), 10);
	json_object_foreach(feat, k, v)
		ck_assert_msg(json_is_boolean(v), "features.%s is not a boolean", k);
	ck_assert(json_is_true(json_object_get(feat, "landlock")));
	ck_assert(json_is_true(json_object_get(feat, "seccomp")));
	ck_assert(json_is_true(json_object_get(feat, "user_namespace")));
	json_decref(j);
	free(out);
	free(err);
}
END_TEST

START_TEST(json_files_base64_and_media_types)
{
	static const struct {
		const char *path, *type;
	} want[] = {
		{"/output/a.txt", "text/plain"},
		{"/output/b.csv", "text/csv"},
		{"/output/c.json", "application/json"},
		{"/output/d.png", "image/png"},
		{"/output/e.xyz", "application/octet-stream"},
	};
	json_t *j, *files;
	char *out, *err;
	size_t i, k;
	int rc = CLI(NULL, &out, &err, "exec", "--json", "-c",
		     "for n in ['a.txt', 'b.csv', 'c.json', 'd.png', 'e.xyz']:\n"
		     "    _ = open('/output/' + n, 'wb').write(n.encode() + bytes([0, 255, 10]) * "
		     "len(n))\n");

	assert_status(rc, 0, out, err);
	j = parse_json(out);
	files = json_object_get(j, "files");
	ck_assert(json_is_array(files));
	ck_assert_uint_eq(json_array_size(files), 5);
	for (i = 0; i < 5; i++) {
		const char *name = want[i].path + strlen("/output/");
		json_t *f = NULL;
		unsigned char *data;
		size_t len, nlen = strlen(name), size = nlen + 3 * nlen;

		for (k = 0; k < 5; k++)
			if (strcmp(jstr(json_array_get(files, k), "path"), want[i].path) == 0)
				f = json_array_get(files, k);
		ck_assert_msg(f != NULL, "%s not in files: %s", want[i].path, out);
		ck_assert_str_eq(jstr(f, "media_type"), want[i].type);
		ck_assert(json_is_integer(json_object_get(f, "size")));
		ck_assert_int_eq(json_integer_value(json_object_get(f, "size")), (json_int_t)size);
		data = b64_decode(jstr(f, "data"), &len);
		ck_assert_uint_eq(len, size);
		ck_assert(memcmp(data, name, nlen) == 0);
		for (k = 0; k < nlen; k++)
			ck_assert(data[nlen + 3 * k] == 0 && data[nlen + 3 * k + 1] == 255 &&
				  data[nlen + 3 * k + 2] == 10);
		free(data);
	}
	json_decref(j);
	free(out);
	free(err);
}
END_TEST

START_TEST(json_python_error)
{
	json_t *j, *e;
	char *out, *err;
	int rc = CLI(NULL, &out, &err, "exec", "--json", "-c",
		     "def f():\n    raise ValueError('boom')\nf()");

	assert_status(rc, 1, out, err);
	j = parse_json(out);
	ck_assert_str_eq(jstr(j, "status"), "python_error");
	ck_assert(json_is_false(json_object_get(j, "success")));
	ck_assert_int_eq(json_integer_value(json_object_get(j, "exit_code")), 1);
	e = json_object_get(j, "error");
	ck_assert(json_is_object(e));
	ck_assert_str_eq(jstr(e, "type"), "ValueError");
	ck_assert_str_eq(jstr(e, "message"), "boom");
	ck_assert_msg(strstr(jstr(e, "traceback"), "Traceback (most recent call last)") &&
			      strstr(jstr(e, "traceback"), "ValueError: boom"),
		      "traceback: %s", jstr(e, "traceback"));
	ck_assert_msg(strstr(jstr(j, "stderr"), "ValueError: boom") != NULL, "%s", out);
	json_decref(j);
	free(out);
	free(err);
}
END_TEST

START_TEST(isolation_reduced_reported)
{
	json_t *j;
	char *out, *err;
	int rc =
		CLI(NULL, &out, &err, "exec", "--json", "--isolation", "reduced", "-c", "print(1)");

	assert_status(rc, 0, out, err);
	j = parse_json(out);
	ck_assert_str_eq(jstr(j, "status"), "ok");
	ck_assert_str_eq(jstr(j, "stdout"), "1\n");
	ck_assert_str_eq(jstr(json_object_get(j, "isolation"), "level"), "reduced");
	json_decref(j);
	free(out);
	free(err);
	/* Without --json the reduced level is reported on stderr. */
	rc = CLI(NULL, &out, &err, "exec", "--isolation", "reduced", "-c", "print(1)");
	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "1\n");
	ck_assert_msg(strstr(err, "\"level\":\"reduced\"") != NULL, "stderr: %s", err);
	free(out);
	free(err);
	/* And full, asked for explicitly, is full. */
	rc = CLI(NULL, &out, &err, "exec", "--json", "--isolation", "full", "-c", "print(1)");
	assert_status(rc, 0, out, err);
	j = parse_json(out);
	ck_assert_str_eq(jstr(json_object_get(j, "isolation"), "level"), "full");
	json_decref(j);
	free(out);
	free(err);
}
END_TEST

START_TEST(python_path_numpy)
{
	char *out, *err;
	int rc = CLI(NULL, &out, &err, "exec", "--python-path", PYPATH, "-c",
		     "import numpy\nprint(int(numpy.arange(5).sum()))");

	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "10\n");
	free(out);
	free(err);
}
END_TEST

START_TEST(python_path_absent_numpy_missing)
{
	char *out, *err;
	int rc = CLI(NULL, &out, &err, "exec", "-c", "import numpy");

	assert_status(rc, 1, out, err);
	ck_assert_str_eq(out, "");
	ck_assert_msg(strstr(err, "ModuleNotFoundError") != NULL, "stderr: %s", err);
	free(out);
	free(err);
}
END_TEST

/* ---------------------------------------------------------------------------------------- */
/* What the code does, and the exit status it earns. */

START_TEST(exception_exits_1_with_traceback)
{
	char *out, *err;
	int rc = CLI(NULL, &out, &err, "exec", "-c", "print('before')\nraise KeyError('missing')");

	assert_status(rc, 1, out, err);
	ck_assert_str_eq(out, "before\n");
	ck_assert_msg(strstr(err, "Traceback (most recent call last)") != NULL, "stderr: %s", err);
	ck_assert_msg(strstr(err, "KeyError: 'missing'") != NULL, "stderr: %s", err);
	free(out);
	free(err);
}
END_TEST

START_TEST(sys_exit_3)
{
	json_t *j;
	char *out, *err;
	int rc = CLI(NULL, &out, &err, "exec", "-c", "import sys\nsys.exit(3)");

	assert_status(rc, 1, out, err);
	ck_assert_str_eq(out, "");
	free(out);
	free(err);
	rc = CLI(NULL, &out, &err, "exec", "--json", "-c", "import sys\nsys.exit(3)");
	assert_status(rc, 1, out, err);
	j = parse_json(out);
	ck_assert_str_eq(jstr(j, "status"), "python_error");
	ck_assert(json_is_false(json_object_get(j, "success")));
	ck_assert_int_eq(json_integer_value(json_object_get(j, "exit_code")), 3);
	json_decref(j);
	free(out);
	free(err);
}
END_TEST

START_TEST(sys_exit_0)
{
	json_t *j;
	char *out, *err;
	int rc = CLI(NULL, &out, &err, "exec", "-c", "import sys\nprint('bye')\nsys.exit(0)");

	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "bye\n");
	ck_assert_str_eq(err, "");
	free(out);
	free(err);
	rc = CLI(NULL, &out, &err, "exec", "--json", "-c", "import sys\nsys.exit(0)");
	assert_status(rc, 0, out, err);
	j = parse_json(out);
	ck_assert_str_eq(jstr(j, "status"), "ok");
	ck_assert(json_is_null(json_object_get(j, "error")));
	json_decref(j);
	free(out);
	free(err);
}
END_TEST

START_TEST(os_exit_5)
{
	json_t *j;
	char *out, *err;
	int rc = CLI(NULL, &out, &err, "exec", "-c", "import os\nos._exit(5)");

	assert_status(rc, 1, out, err);
	free(out);
	free(err);
	rc = CLI(NULL, &out, &err, "exec", "--json", "-c", "import os\nos._exit(5)");
	assert_status(rc, 1, out, err);
	j = parse_json(out);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "exit_code")), 5);
	json_decref(j);
	free(out);
	free(err);
}
END_TEST

START_TEST(last_expression_printed)
{
	static const struct {
		const char *code, *out;
	} cases[] = {
		{"1+1", "2\n"},	      {"None", ""},	     {"x=5\nx*2", "10\n"},
		{"'abc'", "'abc'\n"}, {"print('p')", "p\n"}, {"x = 3", ""},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out, *err;
		int rc = CLI(NULL, &out, &err, "exec", "-c", cases[i].code);

		assert_status(rc, 0, out, err);
		ck_assert_msg(strcmp(out, cases[i].out) == 0, "-c %s printed '%s', expected '%s'",
			      cases[i].code, out, cases[i].out);
		free(out);
		free(err);
	}
}
END_TEST

START_TEST(output_kept_before_os_exit)
{
	char *out, *err;
	int rc = CLI(NULL, &out, &err, "exec", "-c",
		     "import os, sys\n"
		     "print('line one')\n"
		     "sys.stdout.write('no newline')\n"
		     "sys.stderr.write('to stderr')\n"
		     "os._exit(0)\n");

	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "line one\nno newline");
	ck_assert_str_eq(err, "to stderr");
	free(out);
	free(err);
}
END_TEST

START_TEST(streams_kept_separate)
{
	json_t *j;
	char *out, *err;
	int rc = CLI(NULL, &out, &err, "exec", "-c",
		     "import sys\n"
		     "for i in range(3):\n"
		     "    print('out', i)\n"
		     "    print('err', i, file=sys.stderr)\n");

	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "out 0\nout 1\nout 2\n");
	ck_assert_str_eq(err, "err 0\nerr 1\nerr 2\n");
	free(out);
	free(err);
	rc = CLI(NULL, &out, &err, "exec", "--json", "-c",
		 "import sys\nprint('O')\nprint('E', file=sys.stderr)");
	assert_status(rc, 0, out, err);
	ck_assert_str_eq(err, "");
	j = parse_json(out);
	ck_assert_str_eq(jstr(j, "stdout"), "O\n");
	ck_assert_str_eq(jstr(j, "stderr"), "E\n");
	json_decref(j);
	free(out);
	free(err);
}
END_TEST

START_TEST(huge_stdout_truncated)
{
	json_t *j;
	const char *s;
	char *out, *err;
	int rc = CLI(NULL, &out, &err, "exec", "-c", "print('x' * 3000000)");

	ck_assert_msg(rc != 2 && rc != 3 && rc < 126, "status %d; stderr: %.500s", rc, err);
	ck_assert_msg(strlen(out) < 1100000, "stdout not truncated: %zu bytes", strlen(out));
	ck_assert_msg(strlen(out) >= 1048576, "stdout shorter than the cap: %zu", strlen(out));
	ck_assert_msg(strstr(out, "truncated") != NULL, "no visible marker at the end: %s",
		      out + strlen(out) - 200);
	free(out);
	free(err);
	rc = CLI(NULL, &out, &err, "exec", "--json", "-c", "print('x' * 3000000)");
	ck_assert_msg(rc != 2 && rc != 3 && rc < 126, "status %d; stderr: %.500s", rc, err);
	j = parse_json(out);
	ck_assert(json_is_true(json_object_get(j, "stdout_truncated")));
	ck_assert(json_is_false(json_object_get(j, "stderr_truncated")));
	s = jstr(j, "stdout");
	ck_assert_uint_ge(strlen(s), 1048576);
	ck_assert_msg(strstr(s + strlen(s) - 200, "truncated") != NULL, "no marker: %s",
		      s + strlen(s) - 200);
	json_decref(j);
	free(out);
	free(err);
}
END_TEST

START_TEST(seccomp_violation_126)
{
	char *out, *err;
	int rc = CLI(NULL, &out, &err, "exec", "-c",
		     "import ctypes\n"
		     "libc = ctypes.CDLL(None)\n"
		     "libc.ptrace(0, 0, 0, 0)\n"
		     "print('survived')\n");

	assert_status(rc, 126, out, err);
	ck_assert_str_eq(out, "");
	ck_assert_msg(strstr(err, "sandbox_violation") != NULL, "stderr: %s", err);
	free(out);
	free(err);
}
END_TEST

START_TEST(timeout_json)
{
	json_t *j;
	char *out, *err;
	int rc = CLI(NULL, &out, &err, "exec", "--json", "--timeout", "0.5", "-c",
		     "import time\nwhile True:\n    time.sleep(0.05)\n");

	assert_status(rc, 124, out, err);
	j = parse_json(out);
	ck_assert_str_eq(jstr(j, "status"), "timeout");
	ck_assert(json_is_false(json_object_get(j, "success")));
	ck_assert_msg(json_is_string(json_object_get(j, "error")), "error is not a string: %s",
		      out);
	ck_assert_msg(strlen(jstr(j, "error")) > 0, "error is empty");
	json_decref(j);
	free(out);
	free(err);
}
END_TEST

START_TEST(syntax_error)
{
	json_t *j, *e;
	char *out, *err;
	int rc = CLI(NULL, &out, &err, "exec", "-c", "def f(:");

	assert_status(rc, 1, out, err);
	ck_assert_str_eq(out, "");
	ck_assert_msg(strstr(err, "SyntaxError") != NULL, "stderr: %s", err);
	free(out);
	free(err);
	rc = CLI(NULL, &out, &err, "exec", "--json", "-c", "def f(:");
	assert_status(rc, 1, out, err);
	j = parse_json(out);
	ck_assert_str_eq(jstr(j, "status"), "python_error");
	e = json_object_get(j, "error");
	ck_assert(json_is_object(e));
	ck_assert_str_eq(jstr(e, "type"), "SyntaxError");
	json_decref(j);
	free(out);
	free(err);
}
END_TEST

/* ---------------------------------------------------------------------------------------- */
/* Bad input: status 2, one line on stderr, nothing on stdout, nothing on disk. */

START_TEST(bad_unknown_option)
{
	char *out, *err;
	int rc = CLI(NULL, &out, &err, "exec", "--nosuch", "-c", "print(1)");

	assert_usage_error(rc, out, err);
	ck_assert_msg(strstr(err, "--nosuch") != NULL, "%s", err);
	free(out);
	free(err);
	rc = CLI(NULL, &out, &err, "exec", "-z", "-c", "print(1)");
	assert_usage_error(rc, out, err);
	free(out);
	free(err);
	rc = CLI(NULL, &out, &err, "exec", "--json=yes", "-c", "print(1)");
	assert_usage_error(rc, out, err);
	free(out);
	free(err);
	rc = CLI(NULL, &out, &err, "exec", "-c");
	assert_usage_error(rc, out, err);
	free(out);
	free(err);
}
END_TEST

START_TEST(bad_network_options)
{
	static const char *const bad[][2] = {
		{"--allow-domain", "user@example.com"},
		{"--allow-domain", "127.1"},
		{"--allow-domain", "example.com=CONNECT"},
		{"--allow-domain", "example.com=FETCH"},
		{"--allow-domain", "example.com="},
		{"--allow-domain", "example.com:99999"},
		{"--resolve", "example.com"},
		{"--resolve", "example.com=not-an-address"},
		{"--resolve", "127.0.0.1=127.0.0.1"},
		{"--ca-file", "/nonexistent/ca.pem"},
		{"--proxy", "socks5://127.0.0.1:1080"},
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *out, *err;
		int rc = CLI(NULL, &out, &err, "exec", bad[i][0], bad[i][1], "-c", "print(1)");

		ck_assert_msg(rc == 2, "%s %s: status %d", bad[i][0], bad[i][1], rc);
		assert_usage_error(rc, out, err);
		ck_assert_msg(strstr(err, bad[i][0]) != NULL, "%s %s: %s", bad[i][0], bad[i][1],
			      err);
		free(out);
		free(err);
	}
}
END_TEST

START_TEST(network_off_by_default)
{
	char *out, *err;
	int rc = CLI(NULL, &out, &err, "exec", "-c",
		     "print('http_get' in dir(__builtins__))\n"
		     "import urllib.request\n"
		     "try:\n"
		     "    urllib.request.urlopen('http://127.0.0.1:9/', timeout=2)\n"
		     "except OSError as e:\n"
		     "    print('refused')\n");

	ck_assert_msg(rc == 0, "status %d: %s", rc, err);
	ck_assert_str_eq(out, "False\nrefused\n");
	free(out);
	free(err);
}
END_TEST

START_TEST(bad_duplicate_option)
{
	char *out, *err;
	int rc =
		CLI(NULL, &out, &err, "exec", "--timeout", "5", "--timeout", "6", "-c", "print(1)");

	assert_usage_error(rc, out, err);
	ck_assert_msg(strstr(err, "--timeout") != NULL, "%s", err);
	free(out);
	free(err);
	rc = CLI(NULL, &out, &err, "exec", "-c", "print(1)", "--code", "print(2)");
	assert_usage_error(rc, out, err);
	free(out);
	free(err);
	rc = CLI(NULL, &out, &err, "exec", "--json", "--json", "-c", "print(1)");
	assert_usage_error(rc, out, err);
	free(out);
	free(err);
}
END_TEST

START_TEST(bad_code_and_file)
{
	char *dir = t_tmpdir(), *path = t_fmt("%s/p.py", dir), *out, *err;
	int rc;

	t_write(dir, "p.py", "print('file')\n");
	rc = CLI(NULL, &out, &err, "exec", "-c", "print(1)", path);
	assert_usage_error(rc, out, err);
	free(out);
	free(err);
	rc = CLI(NULL, &out, &err, "exec", path, path);
	assert_usage_error(rc, out, err);
	free(out);
	free(err);
	free(path);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(bad_no_code)
{
	char *out, *err;
	int rc = CLI(NULL, &out, &err, "exec");

	assert_usage_error(rc, out, err);
	free(out);
	free(err);
	rc = CLI(NULL, &out, &err, "exec", "--json", "--timeout", "5");
	assert_usage_error(rc, out, err);
	free(out);
	free(err);
}
END_TEST

START_TEST(bad_timeout_values)
{
	static const char *const bad[] = {
		"-1",
		"1e9",
		"",
		"0",
		"0.0",
		"1.2345",
		"abc",
		"1.",
		".5",
		"5s",
		" 5",
		"1..2",
		"99999999999999999999",
		"0x10",
		"+5",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *out, *err;
		int rc = CLI(NULL, &out, &err, "exec", "--timeout", bad[i], "-c", "print(1)");

		ck_assert_msg(rc == 2, "--timeout '%s': status %d", bad[i], rc);
		assert_usage_error(rc, out, err);
		free(out);
		free(err);
	}
}
END_TEST

START_TEST(bad_memory_values)
{
	static const char *const bad[] = {
		"0", "abc", "99999999999999999999", "-1", "", "1.5", "64M", "18446744073709551615",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *out, *err;
		int rc = CLI(NULL, &out, &err, "exec", "--memory", bad[i], "-c", "print(1)");

		ck_assert_msg(rc == 2, "--memory '%s': status %d", bad[i], rc);
		assert_usage_error(rc, out, err);
		free(out);
		free(err);
	}
}
END_TEST

START_TEST(bad_mount_missing_source)
{
	char *dir = t_tmpdir(), *missing = t_fmt("%s/nope", dir), *spec = t_fmt("%s=x", missing);
	char *out, *err;
	int rc = CLI(NULL, &out, &err, "exec", "--mount", missing, "-c", "print(1)");

	assert_usage_error(rc, out, err);
	free(out);
	free(err);
	rc = CLI(NULL, &out, &err, "exec", "--mount", spec, "-c", "print(1)");
	assert_usage_error(rc, out, err);
	free(out);
	free(err);
	free(missing);
	free(spec);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(bad_mount_escapes_input)
{
	static const char *const bad[] = {
		"/etc/hostname=../x",
		"/etc/hostname=a/../../x",
		"/etc/hostname=..",
		"/etc/hostname=a\\..\\..\\x",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *out, *err;
		int rc = CLI(NULL, &out, &err, "exec", "--mount", bad[i], "-c", "print(1)");

		ck_assert_msg(rc == 2, "--mount '%s': status %d", bad[i], rc);
		assert_usage_error(rc, out, err);
		ck_assert_msg(strstr(err, "must stay within /input") != NULL, "%s", err);
		free(out);
		free(err);
	}
}
END_TEST

START_TEST(bad_mount_blank_or_empty_guest)
{
	static const char *const bad[] = {
		"x=",
		"/etc/hostname=",
		"/etc/hostname= ",
		"/etc/hostname=.",
		"/etc/hostname=input",
		"/etc/hostname=./input/.",
		"/etc/hostname=//",
		"",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *out, *err;
		int rc = CLI(NULL, &out, &err, "exec", "--mount", bad[i], "-c", "print(1)");

		ck_assert_msg(rc == 2, "--mount '%s': status %d", bad[i], rc);
		assert_usage_error(rc, out, err);
		free(out);
		free(err);
	}
}
END_TEST

START_TEST(bad_workspace)
{
	char *dir = t_tmpdir(), *missing = t_fmt("%s/nope", dir), *file = t_fmt("%s/f.txt", dir);
	char *out, *err;
	int rc;

	t_write(dir, "f.txt", "not a folder");
	rc = CLI(NULL, &out, &err, "exec", "--workspace", missing, "-c", "print(1)");
	assert_usage_error(rc, out, err);
	free(out);
	free(err);
	rc = CLI(NULL, &out, &err, "exec", "--workspace", file, "-c", "print(1)");
	assert_usage_error(rc, out, err);
	t_assert_file_is(file, "not a folder");
	free(out);
	free(err);
	free(missing);
	free(file);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(bad_code_nul_byte)
{
	static const char code[] = "print('a')\0print('b')\n";
	char *dir = t_tmpdir(), *path = t_fmt("%s/nul.py", dir), *data, *out, *err;
	size_t len;
	int rc;

	write_bytes(path, code, sizeof(code) - 1);
	rc = CLI(NULL, &out, &err, "exec", path);
	assert_usage_error(rc, out, err);
	data = t_read_file(path, &len);
	ck_assert_uint_eq(len, sizeof(code) - 1);
	ck_assert(memcmp(data, code, len) == 0);
	free(data);
	free(out);
	free(err);
	/* The same FILE given after "--". */
	rc = CLI(NULL, &out, &err, "exec", "--", path);
	assert_usage_error(rc, out, err);
	free(out);
	free(err);
	free(path);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(bad_code_too_big)
{
	char *dir = t_tmpdir(), *path = t_fmt("%s/big.py", dir), *buf, *out, *err;
	struct stat st;
	int rc;

	buf = malloc(CODE_CAP + 1);
	ck_assert_ptr_nonnull(buf);
	memcpy(buf, "print(7)\n", 9);
	memset(buf + 9, '#', CODE_CAP + 1 - 9);
	write_bytes(path, buf, CODE_CAP + 1);
	rc = CLI(NULL, &out, &err, "exec", path);
	assert_usage_error(rc, out, err);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, CODE_CAP + 1);
	free(out);
	free(err);
	/* Exactly at the cap it runs. */
	ck_assert_int_eq(truncate(path, CODE_CAP), 0);
	rc = CLI(NULL, &out, &err, "exec", path);
	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "7\n");
	free(out);
	free(err);
	free(buf);
	free(path);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(bad_code_too_big_stdin)
{
	char *buf = malloc(CODE_CAP + 2), *out, *err;
	int rc;

	ck_assert_ptr_nonnull(buf);
	memcpy(buf, "print(7)\n", 9);
	memset(buf + 9, '#', CODE_CAP + 1 - 9);
	buf[CODE_CAP + 1] = '\0';
	rc = CLI(buf, &out, &err, "exec", "-");
	assert_usage_error(rc, out, err);
	free(out);
	free(err);
	free(buf);
}
END_TEST

START_TEST(bad_isolation_value)
{
	static const char *const bad[] = {"bogus", "", "FULL", "none", "reduced "};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *out, *err;
		int rc = CLI(NULL, &out, &err, "exec", "--isolation", bad[i], "-c", "print(1)");

		ck_assert_msg(rc == 2, "--isolation '%s': status %d", bad[i], rc);
		assert_usage_error(rc, out, err);
		free(out);
		free(err);
	}
}
END_TEST

START_TEST(bad_force_without_output_dir)
{
	char *out, *err;
	int rc = CLI(NULL, &out, &err, "exec", "--force", "-c", "print(1)");

	assert_usage_error(rc, out, err);
	free(out);
	free(err);
}
END_TEST

START_TEST(bad_missing_file)
{
	char *dir = t_tmpdir(), *path = t_fmt("%s/nope.py", dir), *out, *err;
	int rc = CLI(NULL, &out, &err, "exec", path);

	assert_usage_error(rc, out, err);
	ck_assert(!exists(path));
	free(out);
	free(err);
	/* A folder is not code either. */
	rc = CLI(NULL, &out, &err, "exec", dir);
	assert_usage_error(rc, out, err);
	free(out);
	free(err);
	free(path);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(bad_input_runs_nothing)
{
	char *dir = t_tmpdir(), *od = t_fmt("%s/out", dir), *out, *err;
	int rc;

	/* The code would write a file; a usage error must stop it before it runs. */
	rc = CLI(NULL, &out, &err, "exec", "--output-dir", od, "--timeout", "0", "-c",
		 "_ = open('/output/x.txt', 'w').write('x')");
	assert_usage_error(rc, out, err);
	ck_assert(!exists(od));
	free(out);
	free(err);
	rc = CLI(NULL, &out, &err, "exec", "--output-dir", od, "--isolation", "bogus", "-c",
		 "_ = open('/output/x.txt', 'w').write('x')");
	assert_usage_error(rc, out, err);
	ck_assert(!exists(od));
	free(out);
	free(err);
	free(od);
	t_rmtree(dir);
	free(dir);
}
END_TEST

/* ---------------------------------------------------------------------------------------- */
/* The other subcommands. */

START_TEST(cli_no_arguments)
{
	char *out, *err;
	int rc = t_cli((const char *const[]){NULL}, NULL, &out, &err);

	assert_status(rc, 2, out, err);
	ck_assert_msg(strstr(err, "usage: cact") != NULL, "stderr: %s", err);
	ck_assert_str_eq(out, "");
	free(out);
	free(err);
}
END_TEST

START_TEST(cli_unknown_command)
{
	char *out, *err;
	int rc = CLI(NULL, &out, &err, "nosuch");

	assert_status(rc, 2, out, err);
	ck_assert_msg(strstr(err, "nosuch") != NULL, "stderr: %s", err);
	ck_assert_str_eq(out, "");
	free(out);
	free(err);
}
END_TEST

START_TEST(cli_version)
{
	char *out, *err;
	int rc = CLI(NULL, &out, &err, "version");

	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "cact 0.1.0\n");
	ck_assert_str_eq(err, "");
	free(out);
	free(err);
}
END_TEST

START_TEST(exec_help)
{
	char *out, *err;
	int rc = CLI(NULL, &out, &err, "exec", "--help");

	assert_status(rc, 0, out, err);
	ck_assert_msg(strncmp(out, "usage: cact exec", 16) == 0, "stdout: %s", out);
	ck_assert(strstr(out, "--output-dir") != NULL);
	ck_assert(strstr(out, "--isolation") != NULL);
	ck_assert_str_eq(err, "");
	free(out);
	free(err);
	rc = CLI(NULL, &out, &err, "exec", "-h");
	assert_status(rc, 0, out, err);
	ck_assert_msg(strncmp(out, "usage: cact exec", 16) == 0, "stdout: %s", out);
	free(out);
	free(err);
}
END_TEST

START_TEST(doctor_reports_full)
{
	char *out, *err;
	int rc = CLI(NULL, &out, &err, "doctor");

	assert_status(rc, 0, out, err);
	ck_assert_msg(strstr(out, "landlock") != NULL, "stdout: %s", out);
	ck_assert_msg(strstr(out, "isolation possible: full") != NULL, "stdout: %s", out);
	ck_assert_msg(strstr(out, "test execution: ok") != NULL, "stdout: %s", out);
	free(out);
	free(err);
}
END_TEST

START_TEST(bench_runs)
{
	const char *prefix = "p50 speedup vs bwrap+python: ";
	char *out, *err, *last, *end;
	size_t n;
	double ratio;
	int rc = CLI(NULL, &out, &err, "bench", "-n", "10");

	assert_status(rc, 0, out, err);
	/* The fork floor ran, all three ways, and cact's CPU is set against it. */
	ck_assert_msg(strstr(out, "\nfork floor, plain fork "), "no fork floor: %s\nstderr: %s",
		      out, err);
	ck_assert_msg(strstr(out, "\nfork floor, with namespaces "),
		      "no fork floor with namespaces: %s\nstderr: %s", out, err);
	ck_assert_msg(strstr(out, "\n  the same, running no code "),
		      "no fork floor running no code: %s\nstderr: %s", out, err);
	ck_assert_msg(strstr(out, "\ncpu per execution, cact vs the fork floor with namespaces: "),
		      "no comparison with the fork floor: %s", out);
	n = strlen(out);
	ck_assert_msg(n > 0 && out[n - 1] == '\n', "stdout: %s", out);
	out[n - 1] = '\0';
	last = strrchr(out, '\n');
	last = last ? last + 1 : out;
	ck_assert_msg(strncmp(last, prefix, strlen(prefix)) == 0, "last line: %s", last);
	errno = 0;
	ratio = strtod(last + strlen(prefix), &end);
	ck_assert_msg(end != last + strlen(prefix) && errno == 0 && ratio > 0, "no number in: %s",
		      last);
	ck_assert_msg(strcmp(end, "x") == 0, "last line does not end in x: %s", last);
	free(out);
	free(err);
}
END_TEST

/* cact bench --sessions: a session's runs alone, the first 100 apart, and its memory. */
START_TEST(bench_sessions_alone)
{
	char *out, *err;
	int rc = CLI(NULL, &out, &err, "bench", "--sessions", "-n", "10");

	assert_status(rc, 0, out, err);
	ck_assert_msg(strstr(out, "cact session run, back to back") && strstr(out, "(n=1000)") &&
			      strstr(out, "its first 100 runs: p50 ") &&
			      strstr(out, "private memory of an idle session: "),
		      "stdout: %s", out);
	ck_assert_msg(!strstr(out, "bwrap + python3, back to back") && !strstr(out, "pandas"),
		      "more than the sessions ran: %s", out);
	free(out);
	free(err);
	rc = CLI(NULL, &out, &err, "bench", "--sessions", "--packages");
	assert_status(rc, 2, out, err);
	ck_assert_str_eq(err, "cact bench: --packages, --sessions and --concurrency are separate "
			      "runs\n");
	free(out);
	free(err);
}
END_TEST

START_TEST(bench_bad_iterations)
{
	static const char *const bad[] = {"abc", "", "-5", "9", "100001", "10x"};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *out, *err;
		int rc = CLI(NULL, &out, &err, "bench", "-n", bad[i]);

		assert_status(rc, 2, out, err);
		ck_assert_str_eq(out, "");
		ck_assert_msg(strncmp(err, "cact bench: ", 12) == 0, "stderr: %s", err);
		free(out);
		free(err);
	}
}
END_TEST

int main(int argc, char **argv)
{
	const struct t_case cases[] = {
		T_CASE(code_inline, 60),
		T_CASE(exec_cpu_counted_in_its_resource_use, 60),
		T_CASE(code_from_file, 60),
		T_CASE(code_from_stdin, 60),
		T_CASE(workspace_visible_read_only, 60),
		T_CASE(mount_file_default_guest, 60),
		T_CASE(mount_file_with_guest, 60),
		T_CASE(mount_folder_default_guest, 60),
		T_CASE(mount_folder_with_guest, 60),
		T_CASE(mount_two, 60),
		T_CASE(mount_same_guest_replaces, 60),
		T_CASE(mount_guest_normalized, 60),
		T_CASE(mount_with_workspace, 60),
		T_CASE(timeout_stops_sleep_loop, 60),
		T_CASE(timeout_decimal_accepted, 60),
		T_CASE(memory_cap_exceeded, 60),
		T_CASE(memory_cap_raised, 60),
		T_CASE(memory_limit_json, 60),
		T_CASE(output_dir_writes_exact_bytes, 60),
		T_CASE(output_dir_existing_file_refused, 60),
		T_CASE(output_dir_force_overwrites, 60),
		T_CASE(output_dir_symlink_inside_refused, 60),
		T_CASE(output_dir_itself_symlink_refused, 60),
		T_CASE(files_listed_on_stderr, 60),
		T_CASE(json_keys_and_types, 60),
		T_CASE(json_files_base64_and_media_types, 60),
		T_CASE(json_python_error, 60),
		T_CASE(isolation_reduced_reported, 60),
		T_CASE(python_path_numpy, 60),
		T_CASE(python_path_absent_numpy_missing, 60),
		T_CASE(exception_exits_1_with_traceback, 60),
		T_CASE(sys_exit_3, 60),
		T_CASE(sys_exit_0, 60),
		T_CASE(os_exit_5, 60),
		T_CASE(last_expression_printed, 60),
		T_CASE(output_kept_before_os_exit, 60),
		T_CASE(streams_kept_separate, 60),
		T_CASE(huge_stdout_truncated, 60),
		T_CASE(seccomp_violation_126, 60),
		T_CASE(timeout_json, 60),
		T_CASE(syntax_error, 60),
		T_CASE(bad_unknown_option, 60),
		T_CASE(bad_network_options, 60),
		T_CASE(network_off_by_default, 60),
		T_CASE(bad_duplicate_option, 60),
		T_CASE(bad_code_and_file, 60),
		T_CASE(bad_no_code, 60),
		T_CASE(bad_timeout_values, 60),
		T_CASE(bad_memory_values, 60),
		T_CASE(bad_mount_missing_source, 60),
		T_CASE(bad_mount_escapes_input, 60),
		T_CASE(bad_mount_blank_or_empty_guest, 60),
		T_CASE(bad_workspace, 60),
		T_CASE(bad_code_nul_byte, 60),
		T_CASE(bad_code_too_big, 60),
		T_CASE(bad_code_too_big_stdin, 60),
		T_CASE(bad_isolation_value, 60),
		T_CASE(bad_force_without_output_dir, 60),
		T_CASE(bad_missing_file, 60),
		T_CASE(bad_input_runs_nothing, 60),
		T_CASE(cli_no_arguments, 60),
		T_CASE(cli_unknown_command, 60),
		T_CASE(cli_version, 60),
		T_CASE(exec_help, 60),
		T_CASE(doctor_reports_full, 60),
		T_CASE(bench_runs, 180),
		T_CASE(bench_bad_iterations, 60),
		T_CASE(bench_sessions_alone, 120),
	};

	return t_main("cli", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
