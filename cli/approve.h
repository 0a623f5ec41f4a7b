/* SPDX-License-Identifier: MIT */
/* Answers to approval requests from the command line (--approve ask|all|none). */
#ifndef CACT_CLI_APPROVE_H
#define CACT_CLI_APPROVE_H

#include <pthread.h>
#include <stdio.h>

enum approve_mode { APPROVE_ASK, APPROVE_ALL, APPROVE_NONE };

struct approver {
	enum approve_mode mode;
	pthread_mutex_t lock; /* one question on the terminal at a time */
	FILE *tty;
	int tty_tried;
	const char *cmd;
};

/* value: "ask" (also for NULL), "all" or "none". -1 after printing an error. */
int approver_init(struct approver *a, const char *value, const char *cmd);
/* A cact_approval_fn: asks on /dev/tty in ask mode; no terminal means deny. */
int approver_decide(void *user, const char *name, const char *args_json);
void approver_close(struct approver *a);

#endif
