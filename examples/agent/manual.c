/* SPDX-License-Identifier: MIT */
/*
 * Wiring by hand, without the CodeAct provider: the lookup tools live in a
 * CodeAct configuration behind execute_code, while send_email stays a
 * direct tool the model calls itself, outside the sandbox, and only after
 * the user approves (always_require). The system prompt is built here:
 * cact_codeact_instructions, then this program's own text.
 *
 *   OPENAI_BASE_URL=https://api.openai.com/v1 OPENAI_MODEL=gpt-4o-mini \
 *   OPENAI_API_KEY=... cact-sample-manual ["request"]
 *
 * On a terminal it asks before sending; without one, it denies.
 * examples/agent/run.sh manual runs it against a scripted test server when
 * OPENAI_BASE_URL is not set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include <cact/cact.h>

static const char default_prompt[] =
	"Find who on my team has the most vacation days left and e-mail them a reminder.";

static const char own_instructions[] =
	"Besides execute_code you have send_email, which sends one e-mail once the user "
	"approves it. Look things up with execute_code first; send e-mail only when the user "
	"asks for it, and say whether it was sent.";

static const struct {
	const char *name, *email;
	int days_left;
} team_table[] = {
	{"Ada", "ada@example.com", 3},
	{"Grace", "grace@example.com", 17},
	{"Linus", "linus@example.com", 9},
};

#define N_TEAM (sizeof(team_table) / sizeof(team_table[0]))

/* team(): the members and their addresses. */
static int team(void *user, const char *name, const char *args, char **result,
		struct cact_error *err)
{
	json_t *list = json_array();
	size_t i;

	(void)user;
	(void)name;
	(void)args;
	(void)err;
	for (i = 0; list && i < N_TEAM; i++)
		json_array_append_new(list, json_pack("{s:s, s:s}", "name", team_table[i].name,
						      "email", team_table[i].email));
	*result = list ? json_dumps(list, JSON_COMPACT) : NULL;
	json_decref(list);
	return *result ? 0 : CACT_ENOMEM;
}

/* vacation_days(name): days left this year. */
static int vacation_days(void *user, const char *name, const char *args, char **result,
			 struct cact_error *err)
{
	json_t *a = json_loads(args, 0, NULL);
	const char *who = json_string_value(json_object_get(a, "name"));
	int rc = CACT_ENOENT;
	size_t i;

	(void)user;
	(void)name;
	for (i = 0; who && i < N_TEAM; i++)
		if (strcmp(who, team_table[i].name) == 0)
			rc = asprintf(result, "%d", team_table[i].days_left) < 0 ? CACT_ENOMEM : 0;
	if (rc == CACT_ENOENT)
		snprintf(err->message, sizeof(err->message), "nobody named '%s'", who ? who : "");
	json_decref(a);
	return rc;
}

/* send_email(to, subject, body): only "queues" it here, on stderr. */
static int send_email(void *user, const char *name, const char *args, char **result,
		      struct cact_error *err)
{
	json_t *a = json_loads(args, 0, NULL);
	const char *to = json_string_value(json_object_get(a, "to"));

	(void)user;
	(void)name;
	(void)err;
	fprintf(stderr, "  [outbox] %s\n", args);
	if (asprintf(result, "\"queued for %s\"", to ? to : "?") < 0)
		*result = NULL;
	json_decref(a);
	return *result ? 0 : CACT_ENOMEM;
}

/* Asks on the terminal; without one, denies. */
static int approve(void *user, const char *tool, const char *args)
{
	char line[16];

	(void)user;
	if (!isatty(STDIN_FILENO)) {
		fprintf(stderr, "  %s %s: no terminal to ask on, denied\n", tool, args);
		return 0;
	}
	fprintf(stderr, "  allow %s %s? [y/N] ", tool, args);
	return fgets(line, sizeof(line), stdin) && (line[0] == 'y' || line[0] == 'Y');
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

static void on_event(void *user, const struct cact_event *ev)
{
	(void)user;
	switch (ev->kind) {
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

static int add_tool(struct cact_codeact *cc, struct cact_agent *agent, const char *name,
		    const char *desc, const char *params, enum cact_approval approval,
		    cact_tool_fn fn, struct cact_error *err)
{
	struct cact_tool *t = NULL;
	int rc = cact_tool_new_callback(name, desc, params, approval, fn, NULL, &t, err);

	if (rc == 0)
		rc = cc ? cact_codeact_add_tool(cc, t, err) : cact_agent_add_tool(agent, t, err);
	cact_tool_unref(t);
	return rc;
}

int main(int argc, char **argv)
{
	const char *base_url = getenv("OPENAI_BASE_URL"), *model = getenv("OPENAI_MODEL");
	const char *prompt = argc > 1 ? argv[1] : default_prompt;
	struct cact_chat_options co;
	struct cact_run_options ro = {.approve = approve, .on_event = on_event};
	struct cact_error err = {0};
	struct cact_runtime *rt = NULL;
	struct cact_codeact *cc = NULL;
	struct cact_tool *exec = NULL;
	struct cact_chat *chat = NULL;
	struct cact_agent *agent = NULL;
	struct cact_session *session = NULL;
	struct cact_run *run = NULL;
	char *codeact_text = NULL, *instructions = NULL;
	int status = 1;

	if (!base_url || !*base_url) {
		fprintf(stderr, "cact-sample-manual: set OPENAI_BASE_URL (or use "
				"examples/agent/run.sh manual)\n");
		return 2;
	}
	cact_chat_options_init(&co);
	co.base_url = base_url;
	co.model = model && *model ? model : "gpt-4o-mini";
	co.api_key_env = getenv("OPENAI_API_KEY") ? "OPENAI_API_KEY" : NULL;

	/* The sandbox's tools, reached only through execute_code. */
	if (cact_runtime_new(NULL, &rt, &err) || cact_codeact_new(rt, &cc, &err) ||
	    add_tool(cc, NULL, "team", "The members of the team: name and email.", NULL,
		     CACT_APPROVAL_NEVER_REQUIRE, team, &err) ||
	    add_tool(cc, NULL, "vacation_days", "Vacation days a member has left this year.",
		     "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}},"
		     "\"required\":[\"name\"],\"additionalProperties\":false}",
		     CACT_APPROVAL_NEVER_REQUIRE, vacation_days, &err) ||
	    cact_codeact_tool(cc, &exec, &err))
		goto out;

	/* The instructions, by hand: CodeAct's, then ours. */
	codeact_text = cact_codeact_instructions(cc, 0);
	if (!codeact_text ||
	    asprintf(&instructions, "%s\n\n%s", codeact_text, own_instructions) < 0) {
		instructions = NULL;
		snprintf(err.message, sizeof(err.message), "out of memory");
		goto out;
	}

	/* execute_code and the direct-only send_email, side by side. */
	if (cact_chat_new(&co, &chat, &err) || cact_agent_new(chat, instructions, &agent, &err) ||
	    cact_agent_add_tool(agent, exec, &err) ||
	    add_tool(NULL, agent, "send_email", "Send an e-mail. The user approves each one.",
		     "{\"type\":\"object\",\"properties\":{\"to\":{\"type\":\"string\"},"
		     "\"subject\":{\"type\":\"string\"},\"body\":{\"type\":\"string\"}},"
		     "\"required\":[\"to\",\"subject\",\"body\"],\"additionalProperties\":false}",
		     CACT_APPROVAL_ALWAYS_REQUIRE, send_email, &err))
		goto out;
	if (cact_session_new(&session)) {
		snprintf(err.message, sizeof(err.message), "out of memory");
		goto out;
	}

	fprintf(stderr, "> %s\n", prompt);
	if (cact_agent_run(agent, session, prompt, &ro, &run, &err))
		goto out;
	printf("%s\n", cact_run_text(run));
	fflush(stdout);
	fprintf(stderr, "[%s after %u step(s)]\n", cact_stop_name(cact_run_stop(run)),
		cact_run_steps(run));
	status = cact_run_stop(run) == CACT_STOP_FINAL ? 0 : 1;
out:
	if (status && err.message[0])
		fprintf(stderr, "cact-sample-manual: %s\n", err.message);
	cact_run_free(run);
	cact_session_free(session);
	cact_agent_free(agent);
	cact_chat_free(chat);
	cact_tool_unref(exec);
	free(instructions);
	cact_free(codeact_text);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
	return status;
}
