/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: tool parameter schemas and the arguments checked against
 * them, both written by whoever configures or calls a tool. The input is a
 * schema, a NUL byte, then a value (no NUL: the value is {}). The schema
 * goes through schema_check and, when it passes, the value through
 * schema_validate; the same schema text also goes through the public tool
 * constructor, which must reach the same verdict, and cact_tool_validate.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools/tools.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int never_called(void *user, const char *name, const char *args, char **result,
			struct cact_error *err)
{
	(void)user;
	(void)name;
	(void)args;
	(void)result;
	(void)err;
	abort();
}

/* A failure is CACT_EINVAL with a message (starting with '$' when it names a path). */
static void check_failure(int rc, const struct cact_error *err, int path_first)
{
	if (rc == 0)
		return;
	if (rc != CACT_EINVAL || err->code != CACT_EINVAL || err->message[0] == '\0' ||
	    (path_first && err->message[0] != '$'))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t slen = nul ? (size_t)(nul - data) : size;
	const char *vtext = nul ? (const char *)nul + 1 : "{}";
	size_t vlen = nul ? size - slen - 1 : 2;
	struct cact_error err, again;
	struct cact_tool *tool = NULL;
	json_t *schema, *value;
	json_error_t je;
	char *stext, *vcopy;
	int rc, rc2;

	schema = json_loadb((const char *)data, slen, JSON_REJECT_DUPLICATES, &je);
	value = json_loadb(vtext, vlen, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);

	if (schema) {
		memset(&err, 0, sizeof(err));
		rc = schema_check(schema, &err);
		check_failure(rc, &err, 0);
		if (rc == 0 && value) {
			memset(&err, 0, sizeof(err));
			rc2 = schema_validate(schema, value, &err);
			check_failure(rc2, &err, 1);
			/* Deterministic: the same verdict and message a second time. */
			memset(&again, 0, sizeof(again));
			if (schema_validate(schema, value, &again) != rc2 ||
			    strcmp(again.message, err.message) != 0)
				abort();
			/* Without an error structure. */
			if (schema_validate(schema, value, NULL) != rc2)
				abort();
		}
		if (schema_check(schema, NULL) != rc)
			abort();

		/* The public constructor parses the same text: the same verdict. */
		stext = malloc(slen + 1);
		if (stext) {
			memcpy(stext, data, slen);
			stext[slen] = '\0';
			memset(&err, 0, sizeof(err));
			rc2 = cact_tool_new_callback("fuzz", NULL, stext,
						     CACT_APPROVAL_NEVER_REQUIRE, never_called,
						     NULL, &tool, &err);
			if ((rc2 == 0) != (rc == 0) || (rc2 == 0) != (tool != NULL))
				abort();
			check_failure(rc2, &err, 0);
			if (tool) {
				vcopy = malloc(vlen + 1);
				if (vcopy) {
					memcpy(vcopy, vtext, vlen);
					vcopy[vlen] = '\0';
					memset(&err, 0, sizeof(err));
					check_failure(cact_tool_validate(tool, vcopy, &err), &err,
						      0);
					free(vcopy);
				}
				cact_tool_unref(tool);
			}
			free(stext);
		}
	}
	json_decref(schema);
	json_decref(value);
	return 0;
}
