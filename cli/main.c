/* SPDX-License-Identifier: MIT */
/* cact: the command line. Uses nothing but the public API in <cact/...>. */
#include <stdio.h>
#include <string.h>

#include <cact/cact.h>

#include "cli.h"

static const char usage[] =
	"usage: cact COMMAND [OPTIONS]\n"
	"\n"
	"  exec      run Python in the sandbox (cact exec --help)\n"
	"  repl      run Python in one sandbox session, typed or as cells (cact repl --help)\n"
	"  agent     answer prompts with a model that writes code for the sandbox\n"
	"  mcp       serve execute_code to MCP hosts over stdio or HTTP\n"
	"  describe  print the execute_code description a model reads for a config\n"
	"  state     print the serializable state of a config\n"
	"  doctor    show what this machine supports\n"
	"  bench     measure execution latency against a plain and a bwrap'd python3\n"
	"  version   print the version\n";

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "exec") == 0)
		return cmd_exec(argc - 2, argv + 2);
	if (strcmp(argv[1], "repl") == 0)
		return cmd_repl(argc - 2, argv + 2);
	if (strcmp(argv[1], "agent") == 0)
		return cmd_agent(argc - 2, argv + 2);
	if (strcmp(argv[1], "mcp") == 0)
		return cmd_mcp(argc - 2, argv + 2);
	if (strcmp(argv[1], "describe") == 0)
		return cmd_describe(argc - 2, argv + 2);
	if (strcmp(argv[1], "state") == 0)
		return cmd_state(argc - 2, argv + 2);
	if (strcmp(argv[1], "doctor") == 0)
		return cmd_doctor(argc - 2, argv + 2);
	if (strcmp(argv[1], "bench") == 0)
		return cmd_bench(argc - 2, argv + 2);
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("cact %s\n", cact_version());
		return EXIT_OK;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		fputs(usage, stdout);
		return EXIT_OK;
	}
	fprintf(stderr, "cact: unknown command '%s'\n\n%s", argv[1], usage);
	return EXIT_USAGE;
}
