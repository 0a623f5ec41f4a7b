/* SPDX-License-Identifier: MIT */
/*
 * cact describe: the execute_code description (or instructions) a model
 * would read for a configuration; cact state: its serializable state.
 * Neither starts a sandbox.
 */
#include <stdio.h>
#include <string.h>

#include <cact/cact.h>

#include "cli.h"
#include "opts.h"

static struct cact_codeact *load(const char *cmd, const char *config)
{
	struct cact_codeact *cc = NULL;
	struct cact_error err = {0};

	if (cact_codeact_new(NULL, &cc, &err)) {
		cli_error(cmd, "%s", err.message);
		return NULL;
	}
	if (config && cact_codeact_load_config(cc, config, &err)) {
		cli_error(cmd, "%s", err.message);
		cact_codeact_free(cc);
		return NULL;
	}
	return cc;
}

int cmd_describe(int argc, char **argv)
{
	struct opt o[] = {{"config", 0, OPT_VALUE},
			  {"instructions", 0, OPT_FLAG},
			  {"tools-visible", 0, OPT_FLAG},
			  {"schema", 0, OPT_FLAG},
			  {"help", 'h', OPT_FLAG}};
	const size_t n = sizeof(o) / sizeof(o[0]);
	struct cact_codeact *cc = NULL;
	const char *pos[1];
	size_t n_pos;
	char *text = NULL;
	int status = EXIT_USAGE;

	if (opts_parse("describe", argc, argv, o, n, pos, 0, &n_pos))
		goto out;
	if (o[4].count) {
		puts("usage: cact describe [--config FILE] [--instructions [--tools-visible]] "
		     "[--schema]\n\n"
		     "Prints the execute_code description a model reads for the configuration,\n"
		     "or with --instructions the system-prompt instructions, or with --schema the\n"
		     "tool's input schema.");
		status = EXIT_OK;
		goto out;
	}
	if (o[2].count && !o[1].count) {
		cli_error("describe", "--tools-visible only applies with --instructions");
		goto out;
	}
	if (o[3].count && o[1].count) {
		cli_error("describe", "give --schema or --instructions, not both");
		goto out;
	}
	cc = load("describe", o[0].count ? o[0].values[0] : NULL);
	if (!cc)
		goto out;
	if (o[3].count) {
		puts(cact_codeact_input_schema());
		status = EXIT_OK;
		goto out;
	}
	text = o[1].count ? cact_codeact_instructions(cc, o[2].count > 0)
			  : cact_codeact_description(cc);
	if (!text) {
		cli_error("describe", "out of memory");
		status = EXIT_SETUP;
		goto out;
	}
	fputs(text, stdout);
	status = EXIT_OK;
out:
	cact_free(text);
	cact_codeact_free(cc);
	opts_free(o, n);
	return status;
}

int cmd_state(int argc, char **argv)
{
	struct opt o[] = {{"config", 0, OPT_VALUE}, {"help", 'h', OPT_FLAG}};
	struct cact_codeact *cc = NULL;
	const char *pos[1];
	size_t n_pos;
	char *text = NULL;
	int status = EXIT_USAGE;

	if (opts_parse("state", argc, argv, o, 2, pos, 0, &n_pos))
		goto out;
	if (o[1].count) {
		puts("usage: cact state [--config FILE]\n\nPrints the serializable state of the "
		     "execute_code configuration as JSON.");
		status = EXIT_OK;
		goto out;
	}
	cc = load("state", o[0].count ? o[0].values[0] : NULL);
	if (!cc)
		goto out;
	text = cact_codeact_state(cc);
	if (!text) {
		cli_error("state", "out of memory");
		status = EXIT_SETUP;
		goto out;
	}
	puts(text);
	status = EXIT_OK;
out:
	cact_free(text);
	cact_codeact_free(cc);
	opts_free(o, 2);
	return status;
}
