/* SPDX-License-Identifier: MIT */
/*
 * cact exec --config, cact describe and cact state, driven as a user drives
 * them: a configuration file with command tools (python3 scripts next to
 * it), approval on the command line, options over the file, bad files.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "../common.h"

/* Runs the CLI with a NULL-terminated argv built from the arguments. */
#define CLI(in, out, err, ...) t_cli((const char *const[]){__VA_ARGS__, NULL}, (in), (out), (err))

static char *real(const char *path)
{
	char buf[PATH_MAX];

	ck_assert_msg(realpath(path, buf) != NULL, "realpath %s: %s", path, strerror(errno));
	return strdup(buf);
}

static size_t count_char(const char *s, char c)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == c;
	return n;
}

#define assert_status(rc, want, out, err) assert_status_at((rc), (want), (out), (err), __LINE__)
static void assert_status_at(int rc, int want, const char *out, const char *err, int line)
{
	ck_assert_msg(rc == want,
		      "line %d: status %d, expected %d\nstdout: %.1500s\nstderr: %.1500s", line, rc,
		      want, out, err);
}

/*
 * A usage error: status 2, nothing on stdout, exactly one stderr line that
 * starts with prefix and contains needle.
 */
#define assert_one_line_error(rc, out, err, prefix, needle) \
	assert_one_line_error_at((rc), (out), (err), (prefix), (needle), __LINE__)
static void assert_one_line_error_at(int rc, const char *out, const char *err, const char *prefix,
				     const char *needle, int line)
{
	size_t n = strlen(err);

	assert_status_at(rc, 2, out, err, line);
	ck_assert_msg(out[0] == '\0', "line %d: stdout not empty: %.500s", line, out);
	ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0,
		      "line %d: stderr does not start with '%s': %.500s", line, prefix, err);
	ck_assert_msg(n > 0 && err[n - 1] == '\n' && count_char(err, '\n') == 1,
		      "line %d: stderr is not exactly one line: %.500s", line, err);
	ck_assert_msg(strstr(err, needle) != NULL, "line %d: stderr lacks '%s': %.500s", line,
		      needle, err);
}

static json_t *parse_json(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);

	ck_assert_msg(j != NULL, "not JSON (%s): %.1000s", je.text, text);
	return j;
}

static const char lookup_py[] = "import json, os, sys\n"
				"a = json.load(sys.stdin)\n"
				"json.dump({'echo': a['q'], 'cwd': os.getcwd()}, sys.stdout)\n";

static const char send_py[] = "import json, sys\n"
			      "a = json.load(sys.stdin)\n"
			      "json.dump({'sent': a['to']}, sys.stdout)\n";

static const char fail_py[] = "import sys\n"
			      "sys.stderr.write('no such word')\n"
			      "sys.exit(1)\n";

static const char config_json[] =
	"{\n"
	"  \"per_call_approval\": true,\n"
	"  \"workspace_root\": \"data\",\n"
	"  \"tools\": [\n"
	"    {\"name\": \"lookup\", \"description\": \"Looks up a word.\",\n"
	"     \"parameters\": {\"type\": \"object\", \"properties\": {\"q\": {\"type\": "
	"\"string\"}},\n"
	"                    \"required\": [\"q\"], \"additionalProperties\": false},\n"
	"     \"command\": [\"python3\", \"lookup.py\"], \"timeout_s\": 20},\n"
	"    {\"name\": \"send\", \"description\": \"Sends a message.\",\n"
	"     \"parameters\": {\"type\": \"object\", \"properties\": {\"to\": {\"type\": "
	"\"string\"}},\n"
	"                    \"required\": [\"to\"]},\n"
	"     \"approval_mode\": \"always_require\",\n"
	"     \"command\": [\"python3\", \"send.py\"], \"timeout_s\": 20},\n"
	"    {\"name\": \"broken\", \"command\": [\"python3\", \"fail.py\"]}\n"
	"  ],\n"
	"  \"limits\": {\"timeout_s\": 20, \"memory_mib\": 256}\n"
	"}\n";

/* A temporary folder with the tools, a data folder and cact.json (its path in *config). */
static char *tools_dir(char **config)
{
	char *dir = t_tmpdir();

	t_write(dir, "lookup.py", lookup_py);
	t_write(dir, "send.py", send_py);
	t_write(dir, "fail.py", fail_py);
	t_write(dir, "data/items.txt", "from config");
	t_write(dir, "other/items.txt", "from option");
	t_write(dir, "cact.json", config_json);
	*config = t_fmt("%s/cact.json", dir);
	return dir;
}

static char *write_config(const char *dir, const char *name, const char *text)
{
	t_write(dir, name, text);
	return t_fmt("%s/%s", dir, name);
}

START_TEST(exec_config_command_tools)
{
	char *cfg, *dir = tools_dir(&cfg), *out, *err;
	int rc;

	rc = CLI(NULL, &out, &err, "exec", "--config", cfg, "-c",
		 "r = call_tool('lookup', q='hello')\nprint(r['echo'])\n"
		 "print(open('/input/items.txt').read())\n");
	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "hello\nfrom config\n");
	ck_assert_str_eq(err, "");
	free(out);
	free(err);
	free(cfg);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(exec_config_paths_from_file_folder)
{
	char *cfg, *dir = tools_dir(&cfg), *out, *err, *want, *rdir;
	int rc;

	rdir = real(dir);
	/* Run from elsewhere: the tools and the workspace are the file's. */
	ck_assert_int_eq(chdir("/"), 0);
	rc = CLI(NULL, &out, &err, "exec", "--config", cfg, "-c",
		 "print(call_tool('lookup', "
		 "q='x')['cwd'])\nprint(open('/input/items.txt').read())\n");
	assert_status(rc, 0, out, err);
	want = t_fmt("%s\nfrom config\n", rdir);
	ck_assert_str_eq(out, want);
	free(want);
	free(out);
	free(err);
	/* And a relative --config path from the folder above. */
	ck_assert_int_eq(chdir(dir), 0);
	ck_assert_int_eq(chdir(".."), 0);
	{
		char *rel = strrchr(rdir, '/') + 1;
		char *relcfg = t_fmt("%s/cact.json", rel);

		rc = CLI(NULL, &out, &err, "exec", "--config", relcfg, "-c",
			 "print(call_tool('lookup', q='y')['echo'])\n");
		assert_status(rc, 0, out, err);
		ck_assert_str_eq(out, "y\n");
		free(relcfg);
		free(out);
		free(err);
	}
	ck_assert_int_eq(chdir("/"), 0);
	free(rdir);
	free(cfg);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(exec_config_tool_errors)
{
	char *cfg, *dir = tools_dir(&cfg), *out, *err;
	int rc;

	rc = CLI(NULL, &out, &err, "exec", "--config", cfg, "-c",
		 "for kw in ({'q': 1}, {}, {'q': 'a', 'extra': 2}):\n"
		 "    try:\n"
		 "        call_tool('lookup', **kw)\n"
		 "    except RuntimeError as e:\n"
		 "        print(str(e).split(': ', 1)[1])\n"
		 "try:\n"
		 "    call_tool('broken')\n"
		 "except RuntimeError as e:\n"
		 "    print('broken:', 'no such word' in str(e), 'log' in str(e))\n");
	assert_status(rc, 0, out, err);
	/* The tool's stderr goes to cact's log (stderr here), not to the code. */
	ck_assert_msg(strstr(err, "[tool broken]") != NULL, "stderr: %s", err);
	ck_assert_msg(strstr(err, "no such word") != NULL, "stderr: %s", err);
	ck_assert_msg(strstr(out, "$.q: expected string, got integer") != NULL, "stdout: %s", out);
	ck_assert_msg(strstr(out, "$: missing required property 'q'") != NULL, "stdout: %s", out);
	ck_assert_msg(strstr(out, "$: unexpected property 'extra'") != NULL, "stdout: %s", out);
	ck_assert_msg(strstr(out, "broken: False True\n") != NULL, "stdout: %s", out);
	free(out);
	free(err);
	/* Uncaught, a tool failure fails the code: status 1, the error on stderr. */
	rc = CLI(NULL, &out, &err, "exec", "--config", cfg, "-c", "call_tool('broken')\n");
	assert_status(rc, 1, out, err);
	ck_assert_msg(strstr(err, "RuntimeError") != NULL, "stderr: %s", err);
	ck_assert_msg(strstr(err, "no such word") != NULL, "stderr: %s", err);
	free(out);
	free(err);
	free(cfg);
	t_rmtree(dir);
	free(dir);
}
END_TEST

static const char send_code[] = "try:\n"
				"    print('sent', call_tool('send', to='a@example.com')['sent'])\n"
				"except PermissionError as e:\n"
				"    print('denied')\n"
				"print(call_tool('lookup', q='free')['echo'])\n";

START_TEST(approve_all_approves)
{
	char *cfg, *dir = tools_dir(&cfg), *out, *err;
	int rc;

	rc = CLI(NULL, &out, &err, "exec", "--config", cfg, "--approve", "all", "-c", send_code);
	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "sent a@example.com\nfree\n");
	ck_assert_str_eq(err, "");
	free(out);
	free(err);
	free(cfg);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(approve_none_denies)
{
	char *cfg, *dir = tools_dir(&cfg), *out, *err;
	int rc;

	rc = CLI(NULL, &out, &err, "exec", "--config", cfg, "--approve=none", "-c", send_code);
	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "denied\nfree\n");
	ck_assert_str_eq(err, "");
	free(out);
	free(err);
	/* Uncaught: a PermissionError fails the code. */
	rc = CLI(NULL, &out, &err, "exec", "--config", cfg, "--approve", "none", "-c",
		 "call_tool('send', to='x')\nprint('after')\n");
	assert_status(rc, 1, out, err);
	ck_assert_str_eq(out, "");
	ck_assert_msg(strstr(err, "PermissionError") != NULL, "stderr: %s", err);
	free(out);
	free(err);
	free(cfg);
	t_rmtree(dir);
	free(dir);
}
END_TEST

/* Runs the CLI in a new session, without a controlling terminal; returns its status. */
static int cli_without_terminal(const char *const *argv, char **out, char **err)
{
	char *tmp = t_tmpdir(), *po = t_fmt("%s/out", tmp), *pe = t_fmt("%s/err", tmp);
	int status = -1, rc = -1;
	FILE *f;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char *o = NULL, *e = NULL;
		int r;

		if (setsid() < 0)
			_exit(90);
		r = t_cli(argv, NULL, &o, &e);
		f = fopen(po, "w");
		if (!f)
			_exit(91);
		fputs(o, f);
		fclose(f);
		f = fopen(pe, "w");
		if (!f)
			_exit(91);
		fputs(e, f);
		fclose(f);
		_exit(r);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "the child died");
	rc = WEXITSTATUS(status);
	ck_assert_msg(rc != 90 && rc != 91, "the child could not set up (%d)", rc);
	{
		char buf[65536];
		size_t n;

		f = fopen(po, "r");
		ck_assert_ptr_nonnull(f);
		n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = '\0';
		fclose(f);
		*out = strdup(buf);
		f = fopen(pe, "r");
		ck_assert_ptr_nonnull(f);
		n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = '\0';
		fclose(f);
		*err = strdup(buf);
	}
	free(po);
	free(pe);
	t_rmtree(tmp);
	free(tmp);
	return rc;
}

START_TEST(approve_ask_without_terminal_denies)
{
	char *cfg, *dir = tools_dir(&cfg), *out, *err;
	int rc;

	/* The default is ask. */
	rc = cli_without_terminal(
		(const char *const[]){"exec", "--config", cfg, "-c", send_code, NULL}, &out, &err);
	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "denied\nfree\n");
	ck_assert_str_eq(err,
			 "cact exec: no terminal to ask; denied a call of send (see --approve)\n");
	free(out);
	free(err);
	rc = cli_without_terminal((const char *const[]){"exec", "--config", cfg, "--approve", "ask",
							"-c", send_code, NULL},
				  &out, &err);
	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "denied\nfree\n");
	ck_assert_str_eq(err,
			 "cact exec: no terminal to ask; denied a call of send (see --approve)\n");
	free(out);
	free(err);
	free(cfg);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(approve_bad_value)
{
	char *cfg, *dir = tools_dir(&cfg), *out, *err;
	int rc;

	rc = CLI(NULL, &out, &err, "exec", "--config", cfg, "--approve", "maybe", "-c", "print(1)");
	assert_one_line_error(rc, out, err,
			      "cact exec: ", "--approve: 'maybe' is not ask, all or none");
	free(out);
	free(err);
	free(cfg);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(timeout_option_overrides_file)
{
	char *dir = t_tmpdir(), *cfg, *out, *err;
	int rc;

	cfg = write_config(dir, "cact.json", "{\"limits\": {\"timeout_s\": 1}}");
	/* The file's limit alone: killed. */
	rc = CLI(NULL, &out, &err, "exec", "--config", cfg, "-c",
		 "import time\ntime.sleep(3)\nprint('done')\n");
	assert_status(rc, 124, out, err);
	ck_assert_str_eq(out, "");
	free(out);
	free(err);
	/* --timeout wins over it. */
	rc = CLI(NULL, &out, &err, "exec", "--config", cfg, "--timeout", "15", "-c",
		 "import time\ntime.sleep(3)\nprint('done')\n");
	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "done\n");
	free(out);
	free(err);
	free(cfg);
	/* And the other way round: shorter on the command line. */
	cfg = write_config(dir, "long.json", "{\"limits\": {\"timeout_s\": 30}}");
	rc = CLI(NULL, &out, &err, "exec", "--config", cfg, "--timeout", "0.5", "-c",
		 "import time\ntime.sleep(5)\nprint('done')\n");
	assert_status(rc, 124, out, err);
	ck_assert_str_eq(out, "");
	free(out);
	free(err);
	free(cfg);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(workspace_option_overrides_file)
{
	char *cfg, *dir = tools_dir(&cfg), *out, *err, *other;
	int rc;

	other = t_fmt("%s/other", dir);
	rc = CLI(NULL, &out, &err, "exec", "--config", cfg, "--workspace", other, "-c",
		 "print(open('/input/items.txt').read())\n");
	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "from option\n");
	free(out);
	free(err);
	free(other);
	free(cfg);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(mount_option_adds_to_file)
{
	char *dir = t_tmpdir(), *cfg, *out, *err, *spec;
	int rc;

	t_write(dir, "a.txt", "file A");
	t_write(dir, "b.txt", "option B");
	cfg = write_config(dir, "cact.json", "{\"file_mounts\": [[\"a.txt\", \"in/a.txt\"]]}");
	spec = t_fmt("%s/b.txt=b.txt", dir);
	rc = CLI(NULL, &out, &err, "exec", "--config", cfg, "--mount", spec, "-c",
		 "print(open('/input/in/a.txt').read(), open('/input/b.txt').read())\n");
	assert_status(rc, 0, out, err);
	ck_assert_str_eq(out, "file A option B\n");
	free(out);
	free(err);
	free(spec);
	free(cfg);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(json_output_has_contents)
{
	char *cfg, *dir = tools_dir(&cfg), *out, *err;
	json_t *j, *contents, *item;
	int rc;

	rc = CLI(NULL, &out, &err, "exec", "--config", cfg, "--json", "-c",
		 "print(call_tool('lookup', q='json')['echo'])\n"
		 "_ = open('/output/r.txt', 'w').write('R')\n");
	assert_status(rc, 0, out, err);
	j = parse_json(out);
	contents = json_object_get(j, "contents");
	ck_assert_msg(json_is_array(contents), "no contents: %s", out);
	ck_assert_uint_eq(json_array_size(contents), 2);
	item = json_array_get(contents, 0);
	ck_assert_str_eq(json_string_value(json_object_get(item, "type")), "text");
	ck_assert_str_eq(json_string_value(json_object_get(item, "text")), "json\n");
	item = json_array_get(contents, 1);
	ck_assert_str_eq(json_string_value(json_object_get(item, "type")), "data");
	ck_assert_str_eq(json_string_value(json_object_get(item, "path")), "/output/r.txt");
	ck_assert_str_eq(json_string_value(json_object_get(item, "data")),
			 "data:text/plain;base64,Ug==");
	ck_assert_int_eq(
		json_integer_value(json_object_get(json_object_get(j, "stats"), "tool_calls")), 1);
	json_decref(j);
	free(out);
	free(err);
	/* A failure: the last item is the error. */
	rc = CLI(NULL, &out, &err, "exec", "--config", cfg, "--json", "-c",
		 "raise KeyError('missing-thing')\n");
	assert_status(rc, 1, out, err);
	j = parse_json(out);
	contents = json_object_get(j, "contents");
	item = json_array_get(contents, json_array_size(contents) - 1);
	ck_assert_str_eq(json_string_value(json_object_get(item, "type")), "error");
	ck_assert_str_eq(json_string_value(json_object_get(item, "message")), "Execution error");
	ck_assert_msg(strstr(json_string_value(json_object_get(item, "details")), "missing-thing"),
		      "details: %s", json_string_value(json_object_get(item, "details")));
	json_decref(j);
	free(out);
	free(err);
	free(cfg);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(describe_config)
{
	char *cfg, *dir = tools_dir(&cfg), *out, *err;
	int rc;

	rc = CLI(NULL, &out, &err, "describe", "--config", cfg);
	assert_status(rc, 0, out, err);
	ck_assert_str_eq(err, "");
	ck_assert_msg(strstr(out, "call_tool(name, **kwargs)") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "- lookup(q: string): Looks up a word.\n") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "- send(to: string): Sends a message. (needs approval)\n") !=
			      NULL,
		      "%s", out);
	ck_assert_msg(strstr(out, "- broken()") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "PermissionError") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "/input holds the workspace folder") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "/output") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "Network: none") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "20 s of wall-clock time") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "256 MiB of memory") != NULL, "%s", out);
	free(out);
	free(err);
	/* Without a configuration: the empty one. */
	rc = CLI(NULL, &out, &err, "describe");
	assert_status(rc, 0, out, err);
	ck_assert_msg(strstr(out, "Tools: none are registered.") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "/input is empty") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "30 s of wall-clock time") != NULL, "%s", out);
	free(out);
	free(err);
	free(cfg);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(describe_network_config)
{
	char *dir = t_tmpdir(), *cfg, *out, *err;
	int rc;

	cfg = write_config(dir, "net.json",
			   "{\"allowed_domains\": [\"https://API.example.com/v1\", "
			   "[\"example.org\", [\"post\", \"get\"]]]}");
	rc = CLI(NULL, &out, &err, "describe", "--config", cfg);
	assert_status(rc, 0, out, err);
	ck_assert_msg(strstr(out, "api.example.com (any method") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "example.org (GET,POST)") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "http_get(") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "http_post(") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "http_request(") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "Network: none") == NULL, "%s", out);
	free(out);
	free(err);
	free(cfg);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(describe_instructions)
{
	char *cfg, *dir = tools_dir(&cfg), *a, *b, *err;
	int rc;

	rc = CLI(NULL, &a, &err, "describe", "--config", cfg, "--instructions");
	assert_status(rc, 0, a, err);
	ck_assert_str_eq(err, "");
	free(err);
	rc = CLI(NULL, &b, &err, "describe", "--config", cfg, "--instructions", "--tools-visible");
	assert_status(rc, 0, b, err);
	ck_assert_str_eq(err, "");
	ck_assert_msg(strstr(a, "Prefer one execute_code call") != NULL, "%s", a);
	ck_assert_msg(strstr(b, "Prefer one execute_code call") != NULL, "%s", b);
	ck_assert_str_ne(a, b);
	ck_assert_msg(strstr(b, "also offered to you directly") != NULL, "%s", b);
	ck_assert_msg(strstr(a, "also offered to you directly") == NULL, "%s", a);
	/* Not the description. */
	ck_assert_msg(strstr(a, "- lookup(") == NULL, "%s", a);
	free(a);
	free(b);
	free(err);
	free(cfg);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(describe_schema)
{
	char *cfg, *dir = tools_dir(&cfg), *out, *err, *want;
	json_t *j;
	int rc;

	rc = CLI(NULL, &out, &err, "describe", "--schema");
	assert_status(rc, 0, out, err);
	want = t_fmt("%s\n", cact_codeact_input_schema());
	ck_assert_str_eq(out, want);
	free(want);
	j = parse_json(out);
	ck_assert_str_eq(json_string_value(json_object_get(j, "type")), "object");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "required"), 0)),
			 "code");
	json_decref(j);
	free(out);
	free(err);
	/* The same with a configuration: the schema does not depend on it. */
	rc = CLI(NULL, &out, &err, "describe", "--config", cfg, "--schema");
	assert_status(rc, 0, out, err);
	want = t_fmt("%s\n", cact_codeact_input_schema());
	ck_assert_str_eq(out, want);
	free(want);
	free(out);
	free(err);
	free(cfg);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(describe_usage_errors)
{
	char *out, *err;
	int rc;

	rc = CLI(NULL, &out, &err, "describe", "--tools-visible");
	assert_one_line_error(rc, out, err, "cact describe: ",
			      "--tools-visible only applies with --instructions");
	free(out);
	free(err);
	rc = CLI(NULL, &out, &err, "describe", "--schema", "--tools-visible");
	assert_one_line_error(rc, out, err, "cact describe: ", "--tools-visible");
	free(out);
	free(err);
	rc = CLI(NULL, &out, &err, "describe", "--schema", "--instructions");
	assert_one_line_error(rc, out, err, "cact describe: ", "not both");
	free(out);
	free(err);
	rc = CLI(NULL, &out, &err, "describe", "extra");
	assert_one_line_error(rc, out, err, "cact describe: ", "extra");
	free(out);
	free(err);
	rc = CLI(NULL, &out, &err, "state", "--instructions");
	assert_one_line_error(rc, out, err, "cact state: ", "--instructions");
	free(out);
	free(err);
}
END_TEST

START_TEST(state_config)
{
	char *cfg, *dir = tools_dir(&cfg), *out, *err, *rdir, *want;
	json_t *j, *names;
	int rc;

	rdir = real(dir);
	rc = CLI(NULL, &out, &err, "state", "--config", cfg);
	assert_status(rc, 0, out, err);
	ck_assert_str_eq(err, "");
	j = parse_json(out);
	ck_assert_str_eq(json_string_value(json_object_get(j, "backend")), "cact");
	names = json_object_get(j, "tool_names");
	ck_assert_uint_eq(json_array_size(names), 3);
	ck_assert_str_eq(json_string_value(json_array_get(names, 0)), "lookup");
	ck_assert_str_eq(json_string_value(json_array_get(names, 1)), "send");
	ck_assert_str_eq(json_string_value(json_array_get(names, 2)), "broken");
	ck_assert(json_is_true(json_object_get(j, "per_call_approval")));
	ck_assert_str_eq(json_string_value(json_object_get(j, "approval_mode")), "never_require");
	want = t_fmt("%s/data", rdir);
	ck_assert_str_eq(json_string_value(json_object_get(j, "workspace_root")), want);
	free(want);
	ck_assert(json_is_true(json_object_get(j, "filesystem_enabled")));
	ck_assert_int_eq(
		json_integer_value(json_object_get(json_object_get(j, "limits"), "timeout_ms")),
		20000);
	ck_assert_int_eq(
		json_integer_value(json_object_get(json_object_get(j, "limits"), "memory_bytes")),
		256ll << 20);
	json_decref(j);
	free(out);
	free(err);
	/* Without a configuration. */
	rc = CLI(NULL, &out, &err, "state");
	assert_status(rc, 0, out, err);
	j = parse_json(out);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "tool_names")), 0);
	ck_assert(json_is_null(json_object_get(j, "workspace_root")));
	json_decref(j);
	free(out);
	free(err);
	free(rdir);
	free(cfg);
	t_rmtree(dir);
	free(dir);
}
END_TEST

/* cmd with --config path: a one-line "cact CMD: ..." error with needle, status 2, no stdout. */
static void bad_config_everywhere(const char *path, const char *needle)
{
	static const char *const cmds[] = {"exec", "describe", "state"};
	size_t i;

	for (i = 0; i < 3; i++) {
		char *out, *err, *prefix = t_fmt("cact %s: ", cmds[i]);
		int rc;

		if (i == 0)
			rc = CLI(NULL, &out, &err, "exec", "--config", path, "-c", "print('ran')");
		else
			rc = CLI(NULL, &out, &err, cmds[i], "--config", path);
		assert_one_line_error(rc, out, err, prefix, needle);
		free(prefix);
		free(out);
		free(err);
	}
}

START_TEST(bad_config_missing_file)
{
	char *dir = t_tmpdir(), *path = t_fmt("%s/missing.json", dir);

	bad_config_everywhere(path, path);
	bad_config_everywhere(path, "config");
	free(path);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(bad_config_invalid_json)
{
	char *dir = t_tmpdir(), *path = write_config(dir, "cact.json", "{\"tools\": [\n"),
	     *want = t_fmt("config %s: line ", path);

	bad_config_everywhere(path, want);
	free(want);
	free(path);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(bad_config_unknown_key)
{
	char *dir = t_tmpdir(), *path = write_config(dir, "cact.json", "{\"tolls\": []}"), *out,
	     *err, *want;
	int rc;

	want = t_fmt("config %s: \"tolls\" is not a known key", path);
	bad_config_everywhere(path, want);
	free(want);
	/* The exact line. */
	rc = CLI(NULL, &out, &err, "exec", "--config", path, "-c", "print(1)");
	want = t_fmt("cact exec: config %s: \"tolls\" is not a known key\n", path);
	ck_assert_int_eq(rc, 2);
	ck_assert_str_eq(err, want);
	free(want);
	free(out);
	free(err);
	free(path);
	path = write_config(dir, "limits.json", "{\"limits\": {\"timeout\": 5}}");
	bad_config_everywhere(path, "\"limits.timeout\" is not a known limit");
	free(path);
	path = write_config(
		dir, "tool.json",
		"{\"tools\": [{\"name\": \"t\", \"command\": \"true\", \"args\": []}]}");
	bad_config_everywhere(path, "\"tools[0].args\" is not a known key");
	free(path);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(bad_config_wrong_type)
{
	char *dir = t_tmpdir(), *path, *want;

	path = write_config(dir, "cact.json", "{\"per_call_approval\": \"yes\"}");
	want = t_fmt("config %s: \"per_call_approval\" must be true or false", path);
	bad_config_everywhere(path, want);
	free(want);
	free(path);
	path = write_config(dir, "ws.json", "{\"workspace_root\": 7}");
	bad_config_everywhere(path, "\"workspace_root\"");
	free(path);
	path = write_config(dir, "lim.json", "{\"limits\": {\"timeout_s\": \"10\"}}");
	bad_config_everywhere(path, "\"limits.timeout_s\"");
	free(path);
	path = write_config(dir, "mounts.json", "{\"file_mounts\": [42]}");
	bad_config_everywhere(path, "\"file_mounts[0]\"");
	free(path);
	path = write_config(dir, "arr.json", "[1, 2]");
	bad_config_everywhere(path, "not a JSON object");
	free(path);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(bad_config_bad_tool)
{
	char *dir = t_tmpdir(), *path;

	path = write_config(dir, "name.json",
			    "{\"tools\": [{\"name\": \"bad name\", \"command\": \"true\"}]}");
	bad_config_everywhere(path, "tools[0] (bad name)");
	free(path);
	path = write_config(
		dir, "schema.json",
		"{\"tools\": [{\"name\": \"ok\", \"command\": \"true\"}, {\"name\": \"t\", "
		"\"command\": \"true\", \"parameters\": {\"type\": \"array\"}}]}");
	bad_config_everywhere(path, "tools[1] (t)");
	free(path);
	path = write_config(dir, "cmd.json", "{\"tools\": [{\"name\": \"t\"}]}");
	bad_config_everywhere(path, "\"tools[0] (t)\"");
	free(path);
	path = write_config(dir, "ec.json",
			    "{\"tools\": [{\"name\": \"execute_code\", \"command\": \"true\"}]}");
	bad_config_everywhere(path, "execute_code");
	free(path);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(bad_config_checked_before_code)
{
	char *dir = t_tmpdir(), *path = write_config(dir, "cact.json", "{\"bogus\": true}"), *out,
	     *err;
	int rc;

	/* The file is refused even when the code is missing or unreadable. */
	rc = CLI(NULL, &out, &err, "exec", "--config", path, "/nonexistent/code.py");
	assert_one_line_error(rc, out, err, "cact exec: config ", "\"bogus\"");
	free(out);
	free(err);
	free(path);
	t_rmtree(dir);
	free(dir);
}
END_TEST

int main(int argc, char **argv)
{
	const struct t_case cases[] = {
		T_CASE(exec_config_command_tools, 60),
		T_CASE(exec_config_paths_from_file_folder, 60),
		T_CASE(exec_config_tool_errors, 60),
		T_CASE(approve_all_approves, 60),
		T_CASE(approve_none_denies, 60),
		T_CASE(approve_ask_without_terminal_denies, 60),
		T_CASE(approve_bad_value, 30),
		T_CASE(timeout_option_overrides_file, 90),
		T_CASE(workspace_option_overrides_file, 60),
		T_CASE(mount_option_adds_to_file, 60),
		T_CASE(json_output_has_contents, 60),
		T_CASE(describe_config, 30),
		T_CASE(describe_network_config, 30),
		T_CASE(describe_instructions, 30),
		T_CASE(describe_schema, 30),
		T_CASE(describe_usage_errors, 30),
		T_CASE(state_config, 30),
		T_CASE(bad_config_missing_file, 30),
		T_CASE(bad_config_invalid_json, 30),
		T_CASE(bad_config_unknown_key, 30),
		T_CASE(bad_config_wrong_type, 30),
		T_CASE(bad_config_bad_tool, 30),
		T_CASE(bad_config_checked_before_code, 30),
	};

	return t_main("cli_codeact", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
