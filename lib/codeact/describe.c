/* SPDX-License-Identifier: MIT */
/*
 * What the model reads: the execute_code description (built from the
 * configuration every time) and the short instructions for the system
 * prompt. Every sentence is there to make the model's first program work:
 * how to call tools, what each takes, where files are, what the network
 * allows, and the limits.
 */
#include <jansson.h>
#include <string.h>

#include "../tools/tools.h"
#include "../util/buf.h"
#include "../util/util.h"
#include "codeact.h"

#define TEXT_MAX (1u << 20)

/* "integer", "array of string", "'a' | 'b'", "string or null"... */
static void type_text(const json_t *s, char *out, size_t size)
{
	const json_t *t = json_object_get(s, "type"), *e = json_object_get(s, "enum");
	size_t i, used = 0;
	json_t *item;

	out[0] = '\0';
	if (json_is_array(e) && json_array_size(e) > 0 && json_array_size(e) <= 8) {
		json_array_foreach(e, i, item) {
			char *v = json_dumps(item, JSON_ENCODE_ANY | JSON_COMPACT);
			int n;

			if (!v)
				break;
			n = snprintf(out + used, size - used, "%s%s", i ? " | " : "", v);
			free(v);
			if (n < 0 || (size_t)n >= size - used)
				break;
			used += (size_t)n;
		}
		return;
	}
	if (json_is_string(t)) {
		const json_t *items = json_object_get(s, "items");

		if (strcmp(json_string_value(t), "array") == 0 && json_is_object(items)) {
			char inner[64];

			type_text(items, inner, sizeof(inner));
			ut_snprintf(out, size, "array of %s", inner[0] ? inner : "any");
		} else {
			ut_snprintf(out, size, "%s", json_string_value(t));
		}
		return;
	}
	if (json_is_array(t)) {
		json_array_foreach(t, i, item) {
			int n = snprintf(out + used, size - used, "%s%s", i ? " or " : "",
					 json_string_value(item) ? json_string_value(item) : "?");

			if (n < 0 || (size_t)n >= size - used)
				break;
			used += (size_t)n;
		}
		return;
	}
	ut_snprintf(out, size, "any");
}

static int is_required(const json_t *schema, const char *name)
{
	size_t i;
	json_t *item;

	json_array_foreach(json_object_get(schema, "required"), i, item)
		if (json_is_string(item) && strcmp(json_string_value(item), name) == 0)
			return 1;
	return 0;
}

/* One description, folded onto one line. */
static void add_folded(struct ut_buf *b, const char *text)
{
	int space = 0;

	for (; *text; text++) {
		if (*text == '\n' || *text == '\r' || *text == '\t' || *text == ' ') {
			space = 1;
			continue;
		}
		if (space && b->len > 0 && b->p[b->len - 1] != ' ')
			ut_buf_add(b, " ", 1);
		space = 0;
		ut_buf_add(b, text, 1);
	}
}

static void describe_tool(struct ut_buf *b, const struct cact_tool *t)
{
	const json_t *props = json_object_get(t->params, "properties");
	const char *key;
	json_t *sub;
	int first = 1;

	ut_buf_addf(b, "- %s(", t->name);
	json_object_foreach((json_t *)props, key, sub) {
		char type[160];

		type_text(sub, type, sizeof(type));
		ut_buf_addf(b, "%s%s%s: %s", first ? "" : ", ", key,
			    is_required(t->params, key) ? "" : "?", type);
		first = 0;
	}
	ut_buf_addf(b, ")");
	if (t->description[0]) {
		ut_buf_addf(b, ": ");
		add_folded(b, t->description);
	}
	if (t->approval == CACT_APPROVAL_ALWAYS_REQUIRE)
		ut_buf_addf(b, " (needs approval)");
	ut_buf_addf(b, "\n");
	/* Property descriptions, when the schema has them, one line each. */
	json_object_foreach((json_t *)props, key, sub) {
		const char *d = json_string_value(json_object_get(sub, "description"));

		if (d && *d) {
			ut_buf_addf(b, "    %s: ", key);
			add_folded(b, d);
			ut_buf_addf(b, "\n");
		}
	}
}

static void describe_files(struct ut_buf *b, const struct cact_request *cfg)
{
	size_t i;

	if (!cfg->has_workspace && cfg->n_mounts == 0) {
		ut_buf_addf(b, "Files: no input files are mounted (/input is empty). ");
	} else {
		ut_buf_addf(b, "Files: read inputs from /input (read-only).");
		if (cfg->has_workspace)
			ut_buf_addf(b, " /input holds the workspace folder (list it with "
				       "os.listdir(\"/input\")).");
		if (cfg->n_mounts > 0) {
			ut_buf_addf(b, " Mounted:");
			for (i = 0; i < cfg->n_mounts; i++)
				ut_buf_addf(b, "%s %s%s", i ? "," : "", cfg->mounts[i].guest,
					    cfg->mounts[i].is_dir ? "/ (folder)" : "");
			ut_buf_addf(b, ".");
		}
		ut_buf_addf(b, " ");
	}
	ut_buf_addf(b, "Write files to /output (folders allowed): each file there is returned with "
		       "the result. /tmp is scratch space; the working directory is /tmp.\n");
}

static void describe_network(struct ut_buf *b, const struct cact_request *cfg)
{
	size_t i;

	if (cfg->n_domains == 0) {
		ut_buf_addf(b, "Network: none. The code cannot reach the network.\n");
		return;
	}
	ut_buf_addf(b, "Network: HTTP(S) only, only to these targets (any other raises "
		       "PermissionError):");
	for (i = 0; i < cfg->n_domains; i++)
		ut_buf_addf(b, "%s %s (%s)", i ? ";" : "", cfg->domains[i].target,
			    cfg->domains[i].methods ? cfg->domains[i].methods
						    : "any method but CONNECT and TRACE");
	ut_buf_addf(
		b,
		". A target without a port means the scheme's default port; *.name means "
		"its subdomains.\nUse the built-ins http_get(url, headers=None), "
		"http_post(url, body=\"\", content_type=\"application/json\", headers=None) and "
		"http_request(method, url, body=None, headers=None); each returns "
		"{\"status\": int, \"headers\": dict, \"body\": str, \"url\": str} (pass "
		"binary=True for body as bytes), follows redirects to allowed targets, for "
		"example: r = http_get(\"https://%s/\"); data = json.loads(r[\"body\"]). "
		"urllib.request.urlopen and http.client work too. A failed request raises "
		"OSError (urllib: URLError).\n",
		cfg->domains[0].target[0] == '*' ? cfg->domains[0].target + 2
						 : cfg->domains[0].target);
}

/* "512 MiB", "64 KiB", "100 bytes". */
static void size_text(uint64_t n, char *out, size_t size)
{
	if (n >= (1u << 20) && n % (1u << 20) == 0)
		ut_snprintf(out, size, "%llu MiB", (unsigned long long)(n >> 20));
	else if (n >= 1024 && n % 1024 == 0)
		ut_snprintf(out, size, "%llu KiB", (unsigned long long)(n >> 10));
	else
		ut_snprintf(out, size, "%llu bytes", (unsigned long long)n);
}

static void describe_limits(struct ut_buf *b, const struct cact_request *cfg)
{
	const uint64_t *l = cfg->limits;
	char mem[32], out[32], files[32];

	uint64_t ms = l[CACT_LIMIT_TIMEOUT_MS];
	char secs[32];

	/* "30 s", "2.5 s", "3600 s": never an exponent. */
	if (ms % 1000 == 0)
		ut_snprintf(secs, sizeof(secs), "%llu", (unsigned long long)(ms / 1000));
	else if (ms % 100 == 0)
		ut_snprintf(secs, sizeof(secs), "%llu.%llu", (unsigned long long)(ms / 1000),
			    (unsigned long long)(ms % 1000 / 100));
	else if (ms % 10 == 0)
		ut_snprintf(secs, sizeof(secs), "%llu.%02llu", (unsigned long long)(ms / 1000),
			    (unsigned long long)(ms % 1000 / 10));
	else
		ut_snprintf(secs, sizeof(secs), "%llu.%03llu", (unsigned long long)(ms / 1000),
			    (unsigned long long)(ms % 1000));
	size_text(l[CACT_LIMIT_MEMORY_BYTES], mem, sizeof(mem));
	size_text(l[CACT_LIMIT_STDOUT_BYTES], out, sizeof(out));
	size_text(l[CACT_LIMIT_OUTPUT_BYTES], files, sizeof(files));
	ut_buf_addf(b,
		    "Limits per run: %s s of wall-clock time (time spent in tools counts), %s of "
		    "memory, %s of stdout (the rest is cut), %llu files and %s in /output",
		    secs, mem, out, (unsigned long long)l[CACT_LIMIT_OUTPUT_FILES], files);
	if (cfg->n_tools > 0)
		ut_buf_addf(b, ", %llu tool calls", (unsigned long long)l[CACT_LIMIT_TOOL_CALLS]);
	ut_buf_addf(b, ".\n");
}

char *cc_describe(const struct cact_codeact *cc, int persistent)
{
	const struct cact_request *cfg = cc->cfg;
	struct ut_buf b;
	size_t i;

	ut_buf_init(&b, TEXT_MAX);
	if (cc->persistent)
		ut_buf_addf(
			&b,
			"Run Python 3.11 code in a sandbox and get back its stdout, stderr, errors "
			"and "
			"the files it writes. State persists between runs of this conversation: "
			"variables, functions, imported modules and the files in /tmp and /output "
			"are "
			"kept, so you can work step by step and build on earlier results. Each "
			"result "
			"lists the files the run added or changed. Threads left running are paused "
			"between runs. A run that times out, crashes or runs out of memory ends "
			"the "
			"session, and the next run says so; pass reset=true to start over with a "
			"fresh "
			"interpreter. The value of a final bare expression is printed, as in the "
			"interactive interpreter. The standard library is available; packages "
			"cannot "
			"be installed.\n\n");
	else
		ut_buf_addf(
			&b,
			"Run Python 3.11 code in a sandbox and get back its stdout, stderr, errors "
			"and "
			"the files it writes. Every run starts fresh: no variables or files "
			"survive "
			"between runs, so do all the work in one program and print the results you "
			"need. The value of a final bare expression is printed, as in the "
			"interactive "
			"interpreter. The standard library is available; packages cannot be "
			"installed.\n\n");
	if (cfg->n_tools == 0) {
		ut_buf_addf(&b, "Tools: none are registered.\n\n");
	} else {
		ut_buf_addf(&b,
			    "Tools: call them with call_tool(name, **kwargs): the tool name "
			    "first, then keyword arguments only (never a dict or other positional "
			    "arguments). It returns the tool's result as Python values and raises "
			    "RuntimeError if the tool fails");
		for (i = 0; i < cfg->n_tools; i++)
			if (cfg->tools[i]->approval == CACT_APPROVAL_ALWAYS_REQUIRE && cc->per_call)
				break;
		if (i < cfg->n_tools)
			ut_buf_addf(&b, ", PermissionError if a call needing approval is denied");
		ut_buf_addf(&b, ". Calls may be made from threads to run them concurrently. "
				"Available tools (? marks optional parameters):\n");
		for (i = 0; i < cfg->n_tools; i++)
			describe_tool(&b, cfg->tools[i]);
		ut_buf_addf(&b, "\n");
	}
	describe_files(&b, cfg);
	describe_network(&b, cfg);
	describe_limits(&b, cfg);
	return ut_buf_steal(&b, NULL);
}

CACT_API char *cact_codeact_instructions(const struct cact_codeact *cc, int tools_visible)
{
	struct cact_codeact *m = (struct cact_codeact *)cc;
	struct ut_buf b;
	size_t n;

	pthread_mutex_lock(&m->lock);
	n = m->cfg->n_tools;
	pthread_mutex_unlock(&m->lock);
	ut_buf_init(&b, 4096);
	if (cact_codeact_persistent(cc))
		ut_buf_addf(&b,
			    "You can run Python with the execute_code tool. Its interpreter keeps "
			    "its state between calls (variables, imports, files in /tmp and "
			    "/output), so you may work step by step, but do as much as you can in "
			    "each call (loops, tool calls, post-processing) and print what you "
			    "need; its description lists the tools, files, network access and "
			    "limits.");
	else
		ut_buf_addf(
			&b,
			"You can run Python with the execute_code tool. Prefer one execute_code "
			"call per request that does all the work in code (loops, tool calls, "
			"post-processing) and prints the answer; its description lists the "
			"tools, files, network access and limits.");
	if (n > 0 && tools_visible)
		ut_buf_addf(&b, " Some sandbox tools are also offered to you directly; use "
				"execute_code with call_tool whenever you combine calls or process "
				"their results.");
	else if (n > 0)
		ut_buf_addf(&b, " The sandbox tools are reachable only with call_tool inside "
				"execute_code.");
	ut_buf_addf(&b, "\n");
	return ut_buf_steal(&b, NULL);
}
