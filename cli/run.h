/* SPDX-License-Identifier: MIT */
/*
 * What cact exec and cact repl share (cli/run.c): one table of options
 * (everything but where the code comes from), one function that applies
 * them to a CodeAct configuration and the runtime options, one that starts
 * the runtime, and one that prints a result and saves its files. Errors
 * are printed as "cact CMD: ..." with the caller's CMD.
 */
#ifndef CACT_CLI_RUN_H
#define CACT_CLI_RUN_H

#include <stddef.h>
#include <stdio.h>

#include <cact/cact.h>

#include "approve.h"
#include "opts.h"
#include "sandbox_opts.h"

/*
 * The shared options, at these indices of the caller's table, after those
 * of every command that starts a sandbox (cli/sandbox_opts.h: --config,
 * --isolation, --python-path, --preload, --mcp-server, --mcp-url); its
 * own ones follow.
 */
enum {
	RUN_O_WORKSPACE = SBO__N,
	RUN_O_MOUNT,
	RUN_O_TIMEOUT,
	RUN_O_MEMORY,
	RUN_O_OUTDIR,
	RUN_O_FORCE,
	RUN_O_JSON,
	RUN_O_APPROVE,
	RUN_O_DOMAIN,
	RUN_O_CAFILE,
	RUN_O_RESOLVE,
	RUN_O_PROXY,
	RUN_O_REDIRECT_HEADER,
	RUN_O_HELP,
	RUN_O__N
};

/* Joins cli.h's exit statuses: the code succeeded but its files were not all saved. */
#define EXIT_SAVE 4

/* Fills o[0..RUN_O__N) with the shared options (nothing parsed yet). */
void run_options(struct opt *o);

/*
 * Prints the shared options' help lines on f. session: in cact repl's
 * words (the timeout is each run's, the memory cap the session's, the files
 * saved each run's new or changed ones).
 */
void run_options_help(FILE *f, int session);

/*
 * Applies the parsed shared options: *cc gets a new configuration (owned:
 * cact_codeact_free; set even on failure) with --config first, then the
 * MCP servers, limits, files and network; ap answers its per-call
 * approvals (--approve; the caller closes it); ro gets --isolation (the
 * configuration holds --python-path and --preload). ro->one_shot is left
 * to the caller. 0, or -1 after printing the error (a usage error).
 */
int run_configure(const char *cmd, struct opt *o, struct approver *ap, struct cact_codeact **cc,
		  struct cact_runtime_options *ro);

/* sbo_start (cli/sandbox_opts.h). */
int run_start(const char *cmd, const struct cact_runtime_options *ro, struct cact_codeact *cc,
	      struct cact_runtime **rt);

/* cact exec's exit status for a result's status. */
int run_exit_status(enum cact_status s);

/* How results are shown and their files saved (--output-dir, --force, --json). */
struct run_output {
	const char *cmd;
	const char *dir; /* --output-dir, or NULL */
	int force, json;
	int streamed; /* the code's streams were written as they came: not again at the end */
	int reduced;  /* --isolation reduced: the isolation in force is shown once */
	int told;     /* it was */
	char **saved; /* names (below /output) saved to dir so far */
	size_t n_saved, cap_saved;
};

/*
 * Reads --output-dir, --force and --json into *out and checks, before any
 * code runs, that files can be saved in the folder (created when missing).
 * 0, or -1 after printing the usage error.
 */
int run_output_init(const char *cmd, struct opt *o, const struct cact_runtime_options *ro,
		    struct run_output *out);

/*
 * Shows a result as cact exec does: with --json one JSON line on stdout
 * (with what --output-dir did), otherwise the code's stdout and stderr,
 * then on stderr a line for a status other than ok and python_error and
 * one per file (names escaped, cli/term.h). Saves the files first. A file
 * that an earlier result of out saved is replaced without --force; one
 * that was in the folder before is not. Returns cact exec's exit status:
 * the result's, EXIT_SAVE when it was ok but a file was not saved,
 * EXIT_SETUP when out of memory.
 */
int run_output_result(struct run_output *out, const struct cact_result *res);

void run_output_free(struct run_output *out);

/*
 * The code's output as it comes (cact exec and cact repl without --json):
 * its bytes as they are, stdout to stdout and stderr to stderr, as they
 * would be from python3; the result's copy is then not printed again
 * (run_output.streamed).
 *
 * The code does not wait for whoever reads cact's output: what cannot be
 * written without blocking (a full pipe) waits here, in order across both
 * streams, and is written by run_live_flush(l, 1) after the run. That is
 * bounded: the runtime hands over no more than the stream caps.
 */
struct run_live_piece;
struct run_live {
	struct run_live_piece *head, **tail;
	int failed; /* stdout could not be written */
};

void run_live_init(struct run_live *l);
/* A cact_output_fn; user is the struct run_live. */
void run_live_output(void *user, enum cact_stream stream, const char *data, size_t len);
/* Writes what is queued, in order; with wait 0, only while it does not block. */
void run_live_flush(struct run_live *l, int wait);

#endif
