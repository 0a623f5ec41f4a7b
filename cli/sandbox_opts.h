/* SPDX-License-Identifier: MIT */
/*
 * The options of every command that starts a sandbox runtime (cact exec,
 * cact repl, cact mcp, cact agent): the configuration file, the isolation
 * level, the interpreter's packages (--python-path, --preload) and the MCP
 * servers whose tools the code calls. One table, one help text, one way to
 * apply them (cli/sandbox_opts.c). Errors are printed as "cact CMD: ...".
 */
#ifndef CACT_CLI_SANDBOX_OPTS_H
#define CACT_CLI_SANDBOX_OPTS_H

#include <stdio.h>

#include <cact/cact.h>

#include "opts.h"

/* At these indices of the caller's table; its own options follow. */
enum { SBO_CONFIG, SBO_ISOLATION, SBO_PYPATH, SBO_PRELOAD, SBO_MCP_SERVER, SBO_MCP_URL, SBO__N };

/* Fills o[0..SBO__N) (nothing parsed yet). */
void sbo_options(struct opt *o);

/*
 * Prints the help of the shared option which (SBO_*) on f, the text from
 * column width. --config's words differ from one command to the next: it
 * is the caller's.
 */
void sbo_help(FILE *f, int which, int width);

/*
 * A new configuration (owned, cact_codeact_free; *cc set even on failure)
 * from --config, then the servers of --mcp-server and --mcp-url, then the
 * folders of --python-path and the modules of --preload (repeatable, or
 * a comma-separated list) after the file's python_path and preload. 0, or
 * -1 after printing the error.
 */
int sbo_codeact(const char *cmd, struct opt *o, struct cact_codeact **cc);

/* The servers of --mcp-server and --mcp-url (as sbo_codeact does). 0, or -1 after printing. */
int sbo_mcp_servers(const char *cmd, struct opt *o, struct cact_codeact *cc);
/* --python-path and --preload added to cc (as sbo_codeact does). 0, or -1 after printing. */
int sbo_python(const char *cmd, struct opt *o, struct cact_codeact *cc);

/* ro->isolation from --isolation. 0, or -1 after printing. */
int sbo_isolation(const char *cmd, struct opt *o, struct cact_runtime_options *ro);

/*
 * Starts a runtime with ro and cc's python_path and preload, and gives it
 * to cc. 0, or the exit status to return after printing why: EXIT_USAGE
 * for an option the runtime refused (a folder, a module that cannot be
 * imported or leaves a thread), EXIT_SETUP when no sandbox could be had.
 */
int sbo_start(const char *cmd, const struct cact_runtime_options *ro, struct cact_codeact *cc,
	      struct cact_runtime **rt);

#endif
