/* SPDX-License-Identifier: MIT */
/*
 * A small, strict option parser for the subcommands: long options with
 * "--name value" or "--name=value", short aliases, repeatable options, and
 * clear one-line errors for unknown options, missing values and options
 * given twice. No abbreviations, no permutation after "--".
 */
#ifndef CACT_CLI_OPTS_H
#define CACT_CLI_OPTS_H

#include <stddef.h>

enum { OPT_FLAG = 0, OPT_VALUE = 1 };
enum { OPT_ONCE = 0, OPT_REPEAT = 2 };

struct opt {
	const char *name; /* without "--" */
	char short_name;  /* 0: none */
	int kind;	  /* OPT_FLAG | OPT_VALUE, plus OPT_REPEAT */
	/* filled by opts_parse */
	int count;
	const char **values; /* every value given, in order */
};

/*
 * Parses argv[0..argc) (argv[0] is the first argument after the
 * subcommand). Positionals go to pos (at most max_pos). Returns 0, or -1 after
 * printing "cact CMD: ..." to stderr.
 */
int opts_parse(const char *cmd, int argc, char **argv, struct opt *opts, size_t n_opts,
	       const char **pos, size_t max_pos, size_t *n_pos);

struct opt *opts_find(struct opt *opts, size_t n_opts, const char *name);
/* The single value of a non-repeatable option, or NULL when absent. */
const char *opts_value(struct opt *opts, size_t n_opts, const char *name);
void opts_free(struct opt *opts, size_t n_opts);

/* Prints "cact CMD: message" on stderr. */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
