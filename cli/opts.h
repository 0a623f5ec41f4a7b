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
#include <stdint.h>

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

/*
 * Checks a limit given on the command line against the library's range
 * (cact_limit_min/max) and, when out of it, prints the error in the
 * option's words and unit: "cact exec: --memory: 8 MiB is below the
 * minimum of 16 MiB". value is in the limit's own unit (bytes, ms), given
 * is the text the user typed, per is how many of the limit's units make
 * one of the option's (1 MiB for --memory, 1000 for --timeout in seconds),
 * unit its name ("MiB", "s"). Returns 0 in range, -1 after printing.
 */
int opts_limit_range(const char *cmd, const char *option, int which, uint64_t value,
		     const char *given, uint64_t per, const char *unit);

/* Prints "cact CMD: message" on stderr. */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
