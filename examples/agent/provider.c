/* SPDX-License-Identifier: MIT */
/*
 * The CodeAct context provider: the tools live in a CodeAct configuration
 * that the provider owns, and the model sees one tool, execute_code, whose
 * description lists them. Each run the provider adds its instructions and
 * an execute_code built from the configuration as it is when the run
 * starts, and records the configuration's state in the session.
 *
 *   OPENAI_BASE_URL=https://api.openai.com/v1 OPENAI_MODEL=gpt-4o-mini \
 *   OPENAI_API_KEY=... cact-sample-provider ["question"]
 *
 * examples/agent/run.sh provider runs it against a scripted test server
 * when OPENAI_BASE_URL is not set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <cact/cact.h>

static const char default_prompt[] =
	"How much do 3 notebooks and 2 pens cost, in euros and in US dollars?";

/* price(item): the shop's price list, in euros. */
static int price(void *user, const char *name, const char *args, char **result,
		 struct cact_error *err)
{
	static const struct {
		const char *item;
		double eur;
	} list[] = {{"notebook", 4.50}, {"pen", 1.20}, {"stapler", 8.90}, {"folder", 2.35}};
	json_t *a = json_loads(args, 0, NULL);
	const char *item = json_string_value(json_object_get(a, "item"));
	size_t i;
	int rc = CACT_ENOENT;

	(void)user;
	(void)name;
	for (i = 0; item && i < sizeof(list) / sizeof(list[0]); i++) {
		if (strcmp(item, list[i].item) == 0) {
			rc = asprintf(result, "%.2f", list[i].eur) < 0 ? CACT_ENOMEM : 0;
			break;
		}
	}
	if (rc == CACT_ENOENT)
		snprintf(err->message, sizeof(err->message), "no item named '%s'",
			 item ? item : "");
	json_decref(a);
	return rc;
}

/* exchange_rate(currency): how many units of currency one euro buys. */
static int exchange_rate(void *user, const char *name, const char *args, char **result,
			 struct cact_error *err)
{
	json_t *a = json_loads(args, 0, NULL);
	const char *cur = json_string_value(json_object_get(a, "currency"));
	double rate = 0;

	(void)user;
	(void)name;
	if (cur && strcmp(cur, "USD") == 0)
		rate = 1.08;
	else if (cur && strcmp(cur, "GBP") == 0)
		rate = 0.86;
	else if (cur && strcmp(cur, "JPY") == 0)
		rate = 162.4;
	json_decref(a);
	if (rate == 0) {
		snprintf(err->message, sizeof(err->message), "no rate for '%s'", cur ? cur : "");
		return CACT_ENOENT;
	}
	return asprintf(result, "%g", rate) < 0 ? CACT_ENOMEM : 0;
}

static int add_tool(struct cact_codeact *cc, const char *name, const char *desc, const char *params,
		    cact_tool_fn fn, struct cact_error *err)
{
	struct cact_tool *t = NULL;
	int rc = cact_tool_new_callback(name, desc, params, CACT_APPROVAL_NEVER_REQUIRE, fn, NULL,
					&t, err);

	if (rc == 0)
		rc = cact_codeact_add_tool(cc, t, err);
	cact_tool_unref(t);
	return rc;
}

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

/* Progress on stderr: what the model asks for and what the sandbox does. */
static void on_event(void *user, const struct cact_event *ev)
{
	(void)user;
	switch (ev->kind) {
	case CACT_EVENT_STEP:
		fprintf(stderr, "[step %u] asking the model\n", ev->step);
		break;
	case CACT_EVENT_TOOL_CALL:
		show_call(ev);
		break;
	case CACT_EVENT_SANDBOX_CALL:
		fprintf(stderr, "    -> call_tool %s %.*s\n", ev->name, (int)ev->len, ev->text);
		break;
	case CACT_EVENT_SANDBOX_DONE:
		fprintf(stderr, "    <- %s %s %.*s\n", ev->name, ev->ok ? "ok" : "failed",
			(int)ev->len, ev->text);
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
	struct cact_context_provider prov;
	struct cact_run_options ro = {.on_event = on_event};
	struct cact_error err = {0};
	struct cact_runtime *rt = NULL;
	struct cact_codeact *cc = NULL;
	struct cact_chat *chat = NULL;
	struct cact_agent *agent = NULL;
	struct cact_session *session = NULL;
	struct cact_run *run = NULL;
	char *state = NULL;
	int status = 1;

	if (!base_url || !*base_url) {
		fprintf(stderr, "cact-sample-provider: set OPENAI_BASE_URL (or use "
				"examples/agent/run.sh provider)\n");
		return 2;
	}
	cact_chat_options_init(&co);
	co.base_url = base_url;
	co.model = model && *model ? model : "gpt-4o-mini";
	co.api_key_env = getenv("OPENAI_API_KEY") ? "OPENAI_API_KEY" : NULL;

	/* The sandbox, and the configuration the provider owns, with its tools. */
	if (cact_runtime_new(NULL, &rt, &err) || cact_codeact_new(rt, &cc, &err) ||
	    add_tool(cc, "price", "Price of one item of the shop, in euros.",
		     "{\"type\":\"object\",\"properties\":{\"item\":{\"type\":\"string\","
		     "\"enum\":[\"notebook\",\"pen\",\"stapler\",\"folder\"]}},"
		     "\"required\":[\"item\"],\"additionalProperties\":false}",
		     price, &err) ||
	    add_tool(cc, "exchange_rate", "How many units of a currency one euro buys.",
		     "{\"type\":\"object\",\"properties\":{\"currency\":{\"type\":\"string\","
		     "\"description\":\"ISO code: USD, GBP or JPY\"}},"
		     "\"required\":[\"currency\"],\"additionalProperties\":false}",
		     exchange_rate, &err))
		goto out;

	/* The agent: no tools of its own; the provider brings execute_code. */
	if (cact_chat_new(&co, &chat, &err) ||
	    cact_agent_new(chat, "Answer briefly. Show the amounts you computed.", &agent, &err) ||
	    cact_codeact_provider(cc, 0, &prov, &err))
		goto out;
	/* Once added, the agent releases the provider; until then it is ours. */
	if (cact_agent_add_provider(agent, &prov, &err)) {
		prov.release(prov.user);
		goto out;
	}
	if (cact_session_new(&session)) {
		snprintf(err.message, sizeof(err.message), "out of memory");
		goto out;
	}

	fprintf(stderr, "> %s\n", prompt);
	if (cact_agent_run(agent, session, prompt, &ro, &run, &err))
		goto out;
	printf("%s\n", cact_run_text(run));
	fflush(stdout);
	/* What the provider recorded about this run's configuration. */
	state = cact_session_state_json(session, "codeact");
	fprintf(stderr, "[%s after %u step(s)] session state \"codeact\": %.200s...\n",
		cact_stop_name(cact_run_stop(run)), cact_run_steps(run), state ? state : "none");
	status = cact_run_stop(run) == CACT_STOP_FINAL ? 0 : 1;
out:
	if (status && err.message[0])
		fprintf(stderr, "cact-sample-provider: %s\n", err.message);
	cact_free(state);
	cact_run_free(run);
	cact_session_free(session);
	cact_agent_free(agent);
	cact_chat_free(chat);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
	return status;
}
