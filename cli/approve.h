/* SPDX-License-Identifier: MIT */
/* Answers to approval requests from the command line (--approve ask|all|none). */
#ifndef CACT_CLI_APPROVE_H
#define CACT_CLI_APPROVE_H

#include <pthread.h>
#include <stdio.h>

enum approve_mode { APPROVE_ASK, APPROVE_ALL, APPROVE_NONE };

/* Bytes of a call's code or arguments shown at once (before escaping). */
#define APPROVE_PAGE ((size_t)64 * 1024)

struct approver {
	enum approve_mode mode;
	pthread_mutex_t lock; /* one question on the terminal at a time */
	FILE *tty;
	int tty_tried;
	const char *cmd;
};

/* value: "ask" (also for NULL), "all" or "none". -1 after printing an error. */
int approver_init(struct approver *a, const char *value, const char *cmd);
/*
 * A cact_approval_fn: asks on /dev/tty in ask mode; no terminal means deny.
 *
 * The question shows the call in full: execute_code as its code, any other
 * tool as its arguments, pretty-printed JSON, both escaped for the terminal
 * (cli/term.h, TERM_TEXT), with a count of the escapes made. Text longer
 * than APPROVE_PAGE bytes is shown one page at a time: the first page, then
 * "[... N more bytes of T not shown ...]". While part of the call is unseen,
 * a plain y is refused (the question is asked again): "show" prints the
 * next page, "yes-unseen" approves without seeing the rest, anything else
 * denies. Once everything was shown, y, yes or Y approves. Input typed
 * before a question is printed is discarded, so an answer typed ahead never
 * approves a call its author did not see. End of input denies.
 */
int approver_decide(void *user, const char *name, const char *args_json);
void approver_close(struct approver *a);

#endif
