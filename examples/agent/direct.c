/* SPDX-License-Identifier: MIT */
/*
 * execute_code as the agent's only tool: the tools are registered in a
 * CodeAct configuration, cact_codeact_tool turns it into execute_code, and
 * the agent offers the model that one tool, with the CodeAct instructions
 * as its own. The answer streams to stdout as it arrives.
 *
 *   OPENAI_BASE_URL=https://api.openai.com/v1 OPENAI_MODEL=gpt-4o-mini \
 *   OPENAI_API_KEY=... cact-sample-direct ["question"]
 *
 * examples/agent/run.sh direct runs it against a scripted test server when
 * OPENAI_BASE_URL is not set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <cact/cact.h>

static const char default_prompt[] =
	"Which of Paris, Berlin and Rome will be the warmest tomorrow, and how warm?";

/* forecast(city): tomorrow's weather, from a table. */
static int forecast(void *user, const char *name, const char *args, char **result,
		    struct cact_error *err)
{
	static const struct {
		const char *city, *sky;
		int high, low;
	} table[] = {
		{"Paris", "cloudy", 19, 11},  {"Berlin", "rain", 15, 8},
		{"Rome", "sunny", 24, 15},    {"Madrid", "sunny", 27, 14},
		{"London", "showers", 16, 9},
	};
	json_t *a = json_loads(args, 0, NULL);
	const char *city = json_string_value(json_object_get(a, "city"));
	json_t *out = NULL;
	size_t i;

	(void)user;
	(void)name;
	for (i = 0; city && i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(city, table[i].city) == 0)
			out = json_pack("{s:s, s:i, s:i, s:s}", "city", table[i].city, "high_c",
					table[i].high, "low_c", table[i].low, "sky", table[i].sky);
	if (!out)
		snprintf(err->message, sizeof(err->message), "no forecast for '%s'",
			 city ? city : "");
	json_decref(a);
	if (!out)
		return CACT_ENOENT;
	*result = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	return *result ? 0 : CACT_ENOMEM;
}

struct ui {
	int streamed; /* answer text already printed */
};

/* Prints text on stderr, each line indented. */
static void indented(const char *text, size_t len)
{
	size_t i = 0;

	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (text + i)) : len - i;

		fprintf(stderr, "    | %.*s\n", (int)n, text + i);
		i += n + 1;
	}
}

/* A tool call the model made; execute_code is shown as its code. */
static void show_call(const struct cact_event *ev)
{
	json_t *args = json_loads(ev->text, 0, NULL);
	json_t *code = json_object_get(args, "code");

	fprintf(stderr, "[step %u] %s\n", ev->step, ev->name);
	if (strcmp(ev->name, "execute_code") == 0 && json_is_string(code))
		indented(json_string_value(code), json_string_length(code));
	else
		indented(ev->text, ev->len);
	json_decref(args);
}

/* The answer's text to stdout as it streams; progress to stderr. */
static void on_event(void *user, const struct cact_event *ev)
{
	struct ui *u = user;

	switch (ev->kind) {
	case CACT_EVENT_TEXT:
		fwrite(ev->text, 1, ev->len, stdout);
		fflush(stdout);
		u->streamed = 1;
		break;
	case CACT_EVENT_TOOL_CALL:
		show_call(ev);
		break;
	case CACT_EVENT_SANDBOX_CALL:
		fprintf(stderr, "    -> call_tool %s %.*s\n", ev->name, (int)ev->len, ev->text);
		break;
	case CACT_EVENT_TOOL_RESULT:
		fprintf(stderr, "  %s %s\n", ev->name, ev->ok ? "ok" : "failed");
		indented(ev->text, ev->len);
		break;
	default:
		break;
	}
}

int main(int argc, char **argv)
{
	const char *base_url = getenv("OPENAI_BASE_URL"), *model = getenv("OPENAI_MODEL");
	const char *prompt = argc > 1 ? argv[1] : default_prompt;
	struct cact_chat_options co;
	struct ui u = {0};
	struct cact_run_options ro = {.on_event = on_event, .event_user = &u};
	struct cact_error err = {0};
	struct cact_runtime *rt = NULL;
	struct cact_codeact *cc = NULL;
	struct cact_tool *tool = NULL, *exec = NULL;
	struct cact_chat *chat = NULL;
	struct cact_agent *agent = NULL;
	struct cact_session *session = NULL;
	struct cact_run *run = NULL;
	char *instructions = NULL;
	int status = 1;

	if (!base_url || !*base_url) {
		fprintf(stderr, "cact-sample-direct: set OPENAI_BASE_URL (or use "
				"examples/agent/run.sh direct)\n");
		return 2;
	}
	cact_chat_options_init(&co);
	co.base_url = base_url;
	co.model = model && *model ? model : "gpt-4o-mini";
	co.api_key_env = getenv("OPENAI_API_KEY") ? "OPENAI_API_KEY" : NULL;
	co.stream = 1;

	/* The sandbox and its tools. */
	if (cact_runtime_new(NULL, &rt, &err) || cact_codeact_new(rt, &cc, &err) ||
	    cact_tool_new_callback("forecast", "Tomorrow's weather in a city: high_c, low_c, sky.",
				   "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":"
				   "\"string\",\"description\":\"English name, e.g. Paris\"}},"
				   "\"required\":[\"city\"],\"additionalProperties\":false}",
				   CACT_APPROVAL_NEVER_REQUIRE, forecast, NULL, &tool, &err) ||
	    cact_codeact_add_tool(cc, tool, &err))
		goto out;

	/* execute_code, described from cc, and the instructions that go with it. */
	instructions = cact_codeact_instructions(cc, 0);
	if (!instructions) {
		snprintf(err.message, sizeof(err.message), "out of memory");
		goto out;
	}
	if (cact_codeact_tool(cc, &exec, &err) || cact_chat_new(&co, &chat, &err) ||
	    cact_agent_new(chat, instructions, &agent, &err) ||
	    cact_agent_add_tool(agent, exec, &err))
		goto out;
	if (cact_session_new(&session)) {
		snprintf(err.message, sizeof(err.message), "out of memory");
		goto out;
	}

	fprintf(stderr, "> %s\n", prompt);
	if (cact_agent_run(agent, session, prompt, &ro, &run, &err))
		goto out;
	if (u.streamed)
		printf("\n");
	else
		printf("%s\n", cact_run_text(run));
	fflush(stdout);
	fprintf(stderr, "[%s after %u step(s)]\n", cact_stop_name(cact_run_stop(run)),
		cact_run_steps(run));
	status = cact_run_stop(run) == CACT_STOP_FINAL ? 0 : 1;
out:
	if (status && err.message[0])
		fprintf(stderr, "cact-sample-direct: %s\n", err.message);
	cact_run_free(run);
	cact_session_free(session);
	cact_agent_free(agent);
	cact_chat_free(chat);
	cact_tool_unref(exec);
	cact_tool_unref(tool);
	cact_free(instructions);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
	return status;
}
