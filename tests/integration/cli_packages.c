/* SPDX-License-Identifier: MIT */
/*
 * Packages on every command: --python-path and --preload on cact exec,
 * cact repl, cact mcp and cact agent, and the configuration file's
 * python_path and preload, as a user runs them. Uses Debian's
 * python3-numpy and python3-pandas (scripts/install-deps installs them).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "../common.h"

extern char **environ;

#define CLI(in, out, err, ...) t_cli((const char *const[]){__VA_ARGS__, NULL}, (in), (out), (err))

#define PYPATH "/usr/lib/python3/dist-packages"

/* Whether the modules are already there when the code starts. */
#define LOADED_CODE "import sys\nprint('pandas' in sys.modules, 'numpy' in sys.modules)"

static size_t count_char(const char *s, char c)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == c;
	return n;
}

/* status want, nothing on stdout, exactly one stderr line starting "cact CMD: " and holding needle. */
#define assert_one_line(rc, want, out, err, cmd, needle) \
	assert_one_line_at((rc), (want), (out), (err), (cmd), (needle), __LINE__)
static void assert_one_line_at(int rc, int want, const char *out, const char *err, const char *cmd,
			       const char *needle, int line)
{
	char prefix[32];

	snprintf(prefix, sizeof(prefix), "cact %s: ", cmd);
	ck_assert_msg(rc == want, "line %d: status %d, expected %d\nstdout: %.500s\nstderr: %.500s",
		      line, rc, want, out, err);
	ck_assert_msg(out[0] == '\0', "line %d: stdout not empty: %.500s", line, out);
	ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0 && count_char(err, '\n') == 1 &&
			      err[strlen(err) - 1] == '\n',
		      "line %d: stderr is not one line starting '%s': %.500s", line, prefix, err);
	ck_assert_msg(strstr(err, needle) != NULL, "line %d: stderr lacks \"%s\": %.500s", line,
		      needle, err);
}

/* A folder outside /tmp (which every execution has its own of) with a module that starts a thread. */
static char *package_folder(void)
{
	char tmpl[] = "/var/tmp/cact-cli-packages-XXXXXX", *dir = mkdtemp(tmpl);

	ck_assert_ptr_nonnull(dir);
	dir = strdup(dir);
	t_write(dir, "leaves_thread.py",
		"import threading, time\n"
		"threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()\n");
	t_write(dir, "answer.py", "VALUE = 42\n");
	return dir;
}

START_TEST(exec_preload_loads_before_the_code)
{
	char *out, *err;
	int rc;

	rc = CLI(NULL, &out, &err, "exec", "--python-path", PYPATH, "-c", LOADED_CODE);
	ck_assert_msg(rc == 0, "status %d: %s", rc, err);
	ck_assert_str_eq(out, "False False\n");
	free(out);
	free(err);
	/* pandas imports numpy; a comma-separated list and a repeated option both work. */
	rc = CLI(NULL, &out, &err, "exec", "--python-path", PYPATH, "--preload", "json,pandas",
		 "--preload", "csv", "-c", LOADED_CODE);
	ck_assert_msg(rc == 0, "status %d: %s", rc, err);
	ck_assert_str_eq(out, "True True\n");
	free(out);
	free(err);
}
END_TEST

START_TEST(config_python_path_and_preload)
{
	char *dir = package_folder(), *cfg, *out, *err;
	int rc;

	t_write(dir, "cact.json",
		"{\"python_path\": [\".\", \"" PYPATH "\"], \"preload\": [\"answer\", \"numpy\"]}");
	cfg = t_fmt("%s/cact.json", dir);
	rc = CLI(NULL, &out, &err, "exec", "--config", cfg, "-c",
		 "import sys, answer\nprint(answer.VALUE, 'numpy' in sys.modules)");
	ck_assert_msg(rc == 0, "status %d: %s", rc, err);
	ck_assert_str_eq(out, "42 True\n");
	free(out);
	free(err);
	/* The options come on top of the file's. */
	rc = CLI(NULL, &out, &err, "exec", "--config", cfg, "--preload", "pandas", "-c",
		 LOADED_CODE);
	ck_assert_msg(rc == 0, "status %d: %s", rc, err);
	ck_assert_str_eq(out, "True True\n");
	free(out);
	free(err);
	/* cact repl reads the same file; its session starts with them loaded. */
	rc = CLI("import sys, answer\n# %%\nprint(answer.VALUE, 'numpy' in sys.modules)\n", &out,
		 &err, "repl", "--config", cfg);
	ck_assert_msg(rc == 0, "status %d: %s", rc, err);
	ck_assert_str_eq(out, "42 True\n");
	free(out);
	free(err);
	/* A bad entry is named by key and index, before anything starts. */
	t_write(dir, "bad.json", "{\"preload\": [\"numpy\", \"os; import x\"]}");
	free(cfg);
	cfg = t_fmt("%s/bad.json", dir);
	rc = CLI(NULL, &out, &err, "exec", "--config", cfg, "-c", "1");
	assert_one_line(rc, 2, out, err, "exec",
			"\"preload[1]\": 'os; import x' is not a module name");
	free(out);
	free(err);
	free(cfg);
	t_rmtree(dir);
	free(dir);
}
END_TEST

/* Each command that starts a sandbox refuses bad values the same way, in one line. */
START_TEST(bad_values_refused_on_every_command)
{
	static const char *const cmds[] = {"exec", "repl", "mcp", "agent"};
	char *dir = package_folder(), *out, *err;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		const char *c = cmds[i];
		int agent = strcmp(c, "agent") == 0;
		const char *model[] = {"--base-url", "http://127.0.0.1:9/v1", "--model", "m"};

/* exec needs code, repl a cell (no cell: nothing starts), agent a model and a prompt. */
#define RUN(...)                                                                                   \
	(agent ? CLI("", &out, &err, c, model[0], model[1], model[2], model[3], __VA_ARGS__, "hi") \
	 : strcmp(c, "exec") == 0 ? CLI("", &out, &err, c, __VA_ARGS__, "-c", "1")                 \
				  : CLI("1\n", &out, &err, c, __VA_ARGS__))
		rc = RUN("--python-path", "/no/such/folder");
		assert_one_line(rc, 2, out, err, c,
				"--python-path: python path /no/such/folder is not a folder");
		free(out);
		free(err);
		rc = RUN("--python-path", "/tmp");
		assert_one_line(rc, 2, out, err, c, "every execution has its own");
		free(out);
		free(err);
		rc = RUN("--preload", "numpy;os");
		assert_one_line(rc, 2, out, err, c, "--preload: 'numpy;os' is not a module name");
		free(out);
		free(err);
		rc = RUN("--preload", "numpy,");
		assert_one_line(rc, 2, out, err, c, "--preload 'numpy,': a module name is empty");
		free(out);
		free(err);
		/* The runtime imports them: a missing module and one that leaves a thread stop start-up. */
		rc = RUN("--preload", "no_such_module_cact");
		assert_one_line(rc, 3, out, err, c,
				"cannot set up the sandbox: preload: cannot import "
				"no_such_module_cact: ModuleNotFoundError");
		free(out);
		free(err);
		rc = RUN("--python-path", dir, "--preload", "answer,leaves_thread");
		assert_one_line(rc, 3, out, err, c,
				"importing leaves_thread left 1 threads running; the zygote must "
				"stay single-threaded");
		free(out);
		free(err);
#undef RUN
	}
	t_rmtree(dir);
	free(dir);
}
END_TEST

/* One line of at most cap bytes from fd within ms, or NULL. */
static char *read_line(int fd, char *buf, size_t cap, size_t *used, int ms)
{
	for (;;) {
		char *nl = memchr(buf, '\n', *used);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (nl) {
			char *line = strndup(buf, (size_t)(nl - buf));

			*used -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, *used);
			return line;
		}
		if (*used == cap || poll(&p, 1, ms) <= 0)
			return NULL;
		n = read(fd, buf + *used, cap - *used);
		if (n <= 0)
			return NULL;
		*used += (size_t)n;
	}
}

/* The text of cact mcp's answer to one execute_code call, run with args. Owned. */
static char *mcp_call(const char *const *args, size_t n_args, const char *code)
{
	static const char init[] =
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
		"\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":"
		"\"t\",\"version\":\"1\"}}}\n"
		"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n";
	const char *bin = getenv("CACT_BIN"), *argv[16] = {bin, "mcp"};
	posix_spawn_file_actions_t fa;
	char *buf = malloc(1u << 20), *line = NULL, *req, *text = NULL;
	json_t *call, *m, *item;
	size_t used = 0, i;
	int in[2], o[2], devnull, status;
	pid_t pid;

	ck_assert_ptr_nonnull(bin);
	ck_assert(n_args < 13);
	for (i = 0; i < n_args; i++)
		argv[2 + i] = args[i];
	call = json_pack("{s:s, s:i, s:s, s:{s:s, s:{s:s}}}", "jsonrpc", "2.0", "id", 2, "method",
			 "tools/call", "params", "name", "execute_code", "arguments", "code", code);
	req = json_dumps(call, JSON_COMPACT);
	json_decref(call);
	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(pipe(o), 0);
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, o[1], 1);
	posix_spawn_file_actions_adddup2(&fa, devnull, 2);
	posix_spawn_file_actions_addclose(&fa, in[1]);
	posix_spawn_file_actions_addclose(&fa, o[0]);
	ck_assert_int_eq(posix_spawn(&pid, bin, &fa, NULL, (char *const *)argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(o[1]);
	close(devnull);
	signal(SIGPIPE, SIG_IGN);
	ck_assert(write(in[1], init, strlen(init)) == (ssize_t)strlen(init));
	ck_assert(write(in[1], req, strlen(req)) == (ssize_t)strlen(req));
	ck_assert(write(in[1], "\n", 1) == 1);
	while ((line = read_line(o[0], buf, 1u << 20, &used, 120000))) {
		if (strstr(line, "\"id\":2"))
			break;
		free(line);
	}
	close(in[1]);
	close(o[0]);
	waitpid(pid, &status, 0);
	ck_assert_msg(line != NULL, "no answer to tools/call");
	m = json_loads(line, 0, NULL);
	ck_assert_msg(m != NULL, "not JSON: %.500s", line);
	item = json_array_get(json_object_get(json_object_get(m, "result"), "content"), 0);
	ck_assert_msg(json_is_string(json_object_get(item, "text")), "no text: %.1000s", line);
	text = strdup(json_string_value(json_object_get(item, "text")));
	json_decref(m);
	free(line);
	free(req);
	free(buf);
	return text;
}

START_TEST(mcp_preload_and_python_path)
{
	static const char *const without[] = {"--python-path", PYPATH};
	static const char *const with[] = {"--python-path", PYPATH, "--preload", "pandas"};
	char *dir = package_folder(), *cfg, *text;
	const char *from_file[2];

	text = mcp_call(without, 2, LOADED_CODE);
	ck_assert_str_eq(text, "False False\n");
	free(text);
	text = mcp_call(with, 4,
			LOADED_CODE "\nimport pandas as pd\n"
				    "print(pd.DataFrame({'k': ['a', 'b', 'a'], 'v': [1, 2, "
				    "3]}).groupby('k').v.sum().to_dict())");
	ck_assert_str_eq(text, "True True\n{'a': 4, 'b': 2}\n");
	free(text);
	/* The configuration file's python_path and preload. */
	t_write(dir, "cact.json", "{\"python_path\": [\".\"], \"preload\": [\"answer\"]}");
	cfg = t_fmt("%s/cact.json", dir);
	from_file[0] = "--config";
	from_file[1] = cfg;
	text = mcp_call(from_file, 2, "import sys\nprint('answer' in sys.modules)");
	ck_assert_str_eq(text, "True\n");
	free(text);
	free(cfg);
	t_rmtree(dir);
	free(dir);
}
END_TEST

int main(int argc, char **argv)
{
	const struct t_case cases[] = {
		T_CASE(exec_preload_loads_before_the_code, 120),
		T_CASE(config_python_path_and_preload, 180),
		T_CASE(bad_values_refused_on_every_command, 240),
		T_CASE(mcp_preload_and_python_path, 240),
	};

	if (access(PYPATH "/pandas", F_OK) != 0) {
		printf("SKIP: cli_packages: Debian's python3-pandas is not installed "
		       "(scripts/install-deps installs it)\n");
		return 77;
	}
	return t_main("cli_packages", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
