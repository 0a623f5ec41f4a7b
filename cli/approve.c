/* SPDX-License-Identifier: MIT */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "approve.h"
#include "opts.h"

int approver_init(struct approver *a, const char *value, const char *cmd)
{
	memset(a, 0, sizeof(*a));
	a->cmd = cmd;
	pthread_mutex_init(&a->lock, NULL);
	if (!value || strcmp(value, "ask") == 0)
		a->mode = APPROVE_ASK;
	else if (strcmp(value, "all") == 0)
		a->mode = APPROVE_ALL;
	else if (strcmp(value, "none") == 0)
		a->mode = APPROVE_NONE;
	else {
		cli_error(cmd, "--approve: '%s' is not ask, all or none", value);
		return -1;
	}
	return 0;
}

int approver_decide(void *user, const char *name, const char *args_json)
{
	struct approver *a = user;
	char line[64];
	int yes = 0;

	if (a->mode != APPROVE_ASK)
		return a->mode == APPROVE_ALL;
	pthread_mutex_lock(&a->lock);
	if (!a->tty_tried) {
		/* The terminal, not stdin: stdin may be the code itself. */
		a->tty = fopen("/dev/tty", "r+");
		a->tty_tried = 1;
	}
	if (!a->tty) {
		fprintf(stderr,
			"cact %s: no terminal to ask; denied a call of %s (see --approve)\n",
			a->cmd, name);
	} else {
		json_t *args = json_loads(args_json, 0, NULL);
		const char *code = json_string_value(json_object_get(args, "code"));

		/* execute_code is shown as the code it would run. */
		if (strcmp(name, "execute_code") == 0 && code)
			fprintf(a->tty, "cact: run this code in the sandbox?\n%s%s", code,
				code[0] && code[strlen(code) - 1] == '\n' ? "" : "\n");
		else
			fprintf(a->tty, "cact: a call of %s with %.2000s\n", name, args_json);
		fprintf(a->tty, "allow? [y/N] ");
		json_decref(args);
		fflush(a->tty);
		if (fgets(line, sizeof(line), a->tty))
			yes = strcmp(line, "y\n") == 0 || strcmp(line, "yes\n") == 0 ||
			      strcmp(line, "Y\n") == 0;
	}
	pthread_mutex_unlock(&a->lock);
	return yes;
}

void approver_close(struct approver *a)
{
	if (a->tty)
		fclose(a->tty);
	a->tty = NULL;
	pthread_mutex_destroy(&a->lock);
}
