/* SPDX-License-Identifier: MIT */
#ifndef CACT_CLI_H
#define CACT_CLI_H

/* Exit statuses of cact exec (and of the other subcommands where they apply). */
enum {
	EXIT_OK = 0,
	EXIT_CODE_FAILED = 1,
	EXIT_USAGE = 2,
	EXIT_SETUP = 3,
	EXIT_TIMEOUT = 124,
	EXIT_LIMIT = 125,
	EXIT_VIOLATION = 126,
};

int cmd_exec(int argc, char **argv);
int cmd_repl(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_describe(int argc, char **argv);
int cmd_state(int argc, char **argv);
int cmd_agent(int argc, char **argv);

struct cact_codeact;
/*
 * Adds the servers of --mcp-server NAME=COMMAND and --mcp-url NAME=URL to cc
 * (cli/sandbox_opts.c). 0, or -1 after printing "cact CMD: ...".
 */
int cli_add_mcp_servers(const char *cmd, struct cact_codeact *cc, const char *const *servers,
			int n_servers, const char *const *urls, int n_urls);

int cmd_mcp(int argc, char **argv);

#endif
