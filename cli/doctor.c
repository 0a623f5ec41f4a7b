/* SPDX-License-Identifier: MIT */
/* cact doctor: what this machine supports, and whether a sandbox really starts. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cact/cact.h>

#include "cli.h"
#include "opts.h"

static const unsigned all[] = {
	CACT_FEATURE_USER_NS, CACT_FEATURE_MOUNT_NS, CACT_FEATURE_PID_NS,    CACT_FEATURE_NET_NS,
	CACT_FEATURE_IPC_NS,  CACT_FEATURE_UTS_NS,   CACT_FEATURE_CGROUP_NS, CACT_FEATURE_LANDLOCK,
	CACT_FEATURE_SECCOMP, CACT_FEATURE_PIDFD,
};

int cmd_doctor(int argc, char **argv)
{
	static const char probe[] = "import sys; print(sys.version.split()[0])";
	struct opt o[] = {{"help", 'h', OPT_FLAG}};
	struct cact_features f;
	struct cact_error err = {0};
	struct cact_runtime *rt = NULL;
	struct cact_request *req = NULL;
	struct cact_result *res = NULL;
	const char *pos[1];
	size_t n_pos, i;
	int full, reduced, status = EXIT_OK;

	if (opts_parse("doctor", argc, argv, o, 1, pos, 0, &n_pos))
		return EXIT_USAGE;
	if (o[0].count) {
		puts("usage: cact doctor\n\nPrints the kernel features cact uses, the isolation "
		     "level this machine allows, and tries one execution.");
		opts_free(o, 1);
		return EXIT_OK;
	}
	opts_free(o, 1);
	if (cact_features_probe(&f, &err)) {
		fprintf(stderr, "cact doctor: %s\n", err.message);
		return EXIT_SETUP;
	}
	printf("cact %s on Linux %s\n\n", cact_version(), f.kernel);
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		int have = !!(f.present & all[i]);
		const char *need =
			(all[i] & CACT_FEATURES_REQUIRED) ? "required" : "full isolation only";

		printf("  %-18s %-4s (%s)", cact_feature_name(all[i]), have ? "yes" : "NO", need);
		if (all[i] == CACT_FEATURE_LANDLOCK && have)
			printf(", ABI %d", f.landlock_abi);
		putchar('\n');
	}
	full = (f.present & (CACT_FEATURES_REQUIRED | CACT_FEATURES_FULL_ONLY)) ==
	       (CACT_FEATURES_REQUIRED | CACT_FEATURES_FULL_ONLY);
	reduced = (f.present & CACT_FEATURES_REQUIRED) == CACT_FEATURES_REQUIRED;
	printf("\nisolation possible: %s\n", full ? "full" : reduced ? "reduced only" : "none");
	if (f.missing_why[0] && !reduced)
		printf("  why: %s\n", f.missing_why);
	if (geteuid() == 0)
		printf("note: running as root. The sandbox keeps root's kernel identity (uid 0)\n"
		       "      inside its namespaces; the kernel does not apply RLIMIT_NPROC to uid "
		       "0,\n"
		       "      so threads are capped by the per-execution pid limit instead (Linux\n"
		       "      6.14+). Run cact as an unprivileged user for defence in depth.\n");
	if (!reduced)
		return EXIT_SETUP;

	{
		struct cact_runtime_options ro;

		cact_runtime_options_init(&ro);
		ro.isolation = full ? CACT_ISOLATION_FULL : CACT_ISOLATION_REDUCED;
		ro.one_shot = 1;
		if (cact_runtime_new(&ro, &rt, &err)) {
			printf("sandbox start: FAILED: %s\n", err.message);
			return EXIT_SETUP;
		}
	}
	printf("sandbox start: ok in %.1f ms\n", (double)cact_runtime_startup_us(rt) / 1000.0);
	if (cact_request_new(&req) || cact_request_set_code(req, probe, strlen(probe), &err) ||
	    cact_runtime_run(rt, req, &res, &err)) {
		printf("test execution: FAILED: %s\n", err.message);
		status = EXIT_SETUP;
	} else {
		size_t n;
		const char *out = cact_result_stdout(res, &n, NULL);
		struct cact_stats st;

		cact_result_stats(res, &st);
		printf("test execution: %s, Python %.*s in %.2f ms\n",
		       cact_status_name(cact_result_status(res)), (int)(n ? n - 1 : 0), out,
		       (double)st.wall_us / 1000.0);
		printf("isolation in force: %s\n", cact_result_isolation_json(res));
		if (cact_result_status(res) != CACT_STATUS_OK)
			status = EXIT_SETUP;
	}
	cact_result_free(res);
	cact_request_free(req);
	cact_runtime_free(rt);
	return status;
}
