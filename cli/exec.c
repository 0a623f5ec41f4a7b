/* SPDX-License-Identifier: MIT */
/* cact exec: run Python from a file, stdin or the command line in the sandbox. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cact/cact.h>

#include "approve.h"
#include "cli.h"
#include "opts.h"
#include "run.h"

static const char help_head[] =
	"usage: cact exec [OPTIONS] [FILE | -]\n"
	"\n"
	"Runs Python from FILE, from standard input with -, or from -c in a sandbox.\n"
	"\n"
	"  -c, --code CODE          code given inline\n";

static const char help_tail[] =
	"\n"
	"Exit status: 0 success, 1 the code failed, 2 usage error, 3 the sandbox could\n"
	"not be set up, 4 the code succeeded but its files could not all be saved to\n"
	"--output-dir, 124 timeout, 125 memory or output limit, 126 sandbox violation\n"
	"or crash.\n";

/* cact exec's own option, after the shared ones (cli/run.h). */
enum { O_CODE = RUN_O__N, O__N };

static int read_code(const char *file, uint64_t max, char **code, size_t *len)
{
	int fd = strcmp(file, "-") == 0 ? 0 : open(file, O_RDONLY | O_CLOEXEC);
	size_t cap = 65536, used = 0;
	char *buf = NULL;

	if (fd < 0) {
		cli_error("exec", "cannot read %s: %s", file, strerror(errno));
		return -1;
	}
	for (;;) {
		ssize_t n;

		if (used == cap || !buf) {
			char *g;

			cap = buf ? cap * 2 : cap;
			g = realloc(buf, cap + 1);
			if (!g) {
				cli_error("exec", "out of memory");
				goto fail;
			}
			buf = g;
		}
		n = read(fd, buf + used, cap - used);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			cli_error("exec", "cannot read %s: %s", file, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > max) {
			cli_error("exec", "code in %s is larger than %llu bytes", file,
				  (unsigned long long)max);
			goto fail;
		}
	}
	if (fd != 0)
		close(fd);
	buf[used] = '\0';
	*code = buf;
	*len = used;
	return 0;
fail:
	if (fd > 0)
		close(fd);
	free(buf);
	return -1;
}

int cmd_exec(int argc, char **argv)
{
	struct opt o[O__N];
	struct cact_runtime_options ro;
	struct cact_error err = {0};
	struct cact_runtime *rt = NULL;
	struct cact_codeact *cc = NULL;
	struct cact_result *res = NULL;
	struct run_output out = {0};
	struct approver ap = {0};
	struct cact_codeact_execute_options xo;
	const char *pos[1];
	size_t n_pos = 0, code_len = 0;
	char *code = NULL;
	struct run_live live;
	int status = EXIT_USAGE, rc;

	run_options(o);
	o[O_CODE] = (struct opt){"code", 'c', OPT_VALUE};
	cact_runtime_options_init(&ro);
	if (opts_parse("exec", argc, argv, o, O__N, pos, 1, &n_pos))
		goto out;
	if (o[RUN_O_HELP].count) {
		fputs(help_head, stdout);
		run_options_help(stdout, 0);
		fputs(help_tail, stdout);
		status = EXIT_OK;
		goto out;
	}
	if (run_configure("exec", o, &ap, &cc, &ro))
		goto out;
	/* One execution: no preloaded modules, no spare child, no page probe. */
	ro.one_shot = 1;
	if (o[O_CODE].count && n_pos) {
		cli_error("exec", "give the code once: -c CODE or FILE, not both");
		goto out;
	}
	if (!o[O_CODE].count && !n_pos) {
		cli_error("exec", "no code: give FILE, - (standard input) or -c CODE");
		goto out;
	}
	if (o[O_CODE].count) {
		code = strdup(o[O_CODE].values[0]);
		code_len = code ? strlen(code) : 0;
		if (!code) {
			cli_error("exec", "out of memory");
			goto out;
		}
	} else if (read_code(pos[0], cact_limit_default(CACT_LIMIT_CODE_BYTES), &code, &code_len)) {
		goto out;
	}
	if (memchr(code, '\0', code_len)) {
		cli_error("exec", "code contains a NUL byte");
		goto out;
	}
	if (run_output_init("exec", o, &ro, &out))
		goto out;
	if ((status = run_start("exec", &ro, cc, &rt)))
		goto out;
	cact_codeact_execute_options_init(&xo);
	run_live_init(&live);
	if (!out.json) {
		fflush(stdout);
		xo.output = run_live_output;
		xo.output_user = &live;
		out.streamed = 1;
	}
	rc = cact_codeact_execute_with(cc, code, code_len, &xo, &res, &err);
	run_live_flush(&live, 1);
	if (rc) {
		cli_error("exec", "%s", err.message);
		status = err.code == CACT_EINVAL || err.code == CACT_ETOOBIG ? EXIT_USAGE
									     : EXIT_SETUP;
		goto out;
	}
	status = run_output_result(&out, res);
	if (live.failed && status == EXIT_OK)
		status = EXIT_SETUP;
out:
	run_output_free(&out);
	cact_result_free(res);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
	approver_close(&ap);
	free(code);
	opts_free(o, O__N);
	return status;
}
