/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "approve.h"
#include "opts.h"
#include "term.h"

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

/* y, yes or Y. */
static int is_yes(const char *s)
{
	return strcmp(s, "y") == 0 || strcmp(s, "yes") == 0 || strcmp(s, "Y") == 0;
}

/*
 * Reads one line from the terminal, without its newline, into line. A line
 * too long for it reads as "" (no answer is that long). -1 at the end of
 * input, or when the line ends without a newline (Ctrl-D after text): deny.
 * read(), not stdio: nothing typed after the line stays in a buffer of ours.
 */
static int read_answer(int fd, char *line, size_t size)
{
	size_t n = 0;
	int too_long = 0;
	ssize_t r;
	char c;

	for (;;) {
		r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (c == '\n')
			break;
		if (n + 1 < size)
			line[n++] = c;
		else
			too_long = 1;
	}
	if (n > 0 && line[n - 1] == '\r')
		n--;
	line[too_long ? 0 : n] = '\0';
	return 0;
}

/* Prints the next page of text (from *shown), escaped, then what is left unseen. */
static void show_page(FILE *tty, const char *text, size_t len, size_t *shown)
{
	size_t cut = *shown + term_cut(text + *shown, len - *shown, APPROVE_PAGE), k = 0;
	char *esc;

	if (cut == *shown) /* cannot happen with a page of 64 KiB; never loop */
		cut = len;
	esc = term_escape(text + *shown, cut - *shown, TERM_TEXT, &k);
	if (*shown > 0)
		fprintf(tty, "[... bytes %zu to %zu of %zu ...]\n", *shown + 1, cut, len);
	fprintf(tty, "%s%s", esc, esc[0] && esc[strlen(esc) - 1] == '\n' ? "" : "\n");
	term_free(esc);
	if (k)
		fprintf(tty,
			"[%zu control, bidi, invisible or invalid UTF-8 character(s) shown as "
			"\\x, \\u or \\U escapes]\n",
			k);
	if (cut < len)
		fprintf(tty, "[... %zu more bytes of %zu not shown ...]\n", len - cut, len);
	*shown = cut;
}

/* Asks on the terminal about one call; 1 when the person approves it. */
static int ask(FILE *tty, const char *name, const char *args_json)
{
	json_t *args = json_loads(args_json, JSON_DECODE_ANY, NULL);
	json_t *code = json_object_get(args, "code");
	char *dump = NULL, *shown_name = term_escape_str(name, TERM_NAME), line[64];
	const char *text;
	size_t len, shown = 0;
	int yes = 0;

	if (strcmp(name, "execute_code") == 0 && json_is_string(code)) {
		/* execute_code is shown as the code it would run. */
		fprintf(tty, "cact: run this code in the sandbox?\n");
		text = json_string_value(code);
		len = json_string_length(code);
	} else {
		/* Every argument, one per line; JSON escapes C0 controls itself. */
		dump = args ? json_dumps(args, JSON_INDENT(2) | JSON_ENCODE_ANY) : NULL;
		text = dump ? dump : args_json ? args_json : "";
		len = strlen(text);
		fprintf(tty, "cact: a call of %s with\n", shown_name);
	}
	show_page(tty, text, len, &shown);
	for (;;) {
		/* Only what is typed after the question answers it. */
		tcflush(fileno(tty), TCIFLUSH);
		if (shown < len)
			fprintf(tty,
				"allow? %zu bytes not shown yet: show to see the next part, "
				"yes-unseen to allow without seeing them [show/yes-unseen/N] ",
				len - shown);
		else
			fprintf(tty, "allow? [y/N] ");
		fflush(tty);
		if (read_answer(fileno(tty), line, sizeof(line)))
			break;
		if (shown == len) {
			yes = is_yes(line);
			break;
		}
		if (strcmp(line, "yes-unseen") == 0) {
			yes = 1;
			break;
		}
		if (strcmp(line, "show") == 0) {
			show_page(tty, text, len, &shown);
			continue;
		}
		if (!is_yes(line))
			break;
		fprintf(tty, "cact: y allows only a call seen in full; %zu bytes are not shown\n",
			len - shown);
	}
	free(dump);
	term_free(shown_name);
	json_decref(args);
	return yes;
}

int approver_decide(void *user, const char *name, const char *args_json)
{
	struct approver *a = user;
	int yes = 0;

	if (a->mode != APPROVE_ASK)
		return a->mode == APPROVE_ALL;
	pthread_mutex_lock(&a->lock);
	if (!a->tty_tried) {
		/* The terminal, not stdin: stdin may be the code itself. Not for tool commands. */
		a->tty = fopen("/dev/tty", "r+e");
		a->tty_tried = 1;
	}
	if (!a->tty) {
		char *shown_name = term_escape_str(name, TERM_NAME);

		fprintf(stderr,
			"cact %s: no terminal to ask; denied a call of %s (see --approve)\n",
			a->cmd, shown_name);
		term_free(shown_name);
	} else {
		yes = ask(a->tty, name, args_json);
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
