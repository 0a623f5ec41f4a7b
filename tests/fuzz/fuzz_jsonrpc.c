/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: a JSON-RPC message from an MCP peer (jrpc_parse). The first
 * byte picks the size cap, so that the over-cap path is reachable; the rest
 * is the message. Invariants: a refusal is one of the two JSON-RPC codes
 * with a reason, and an id handed back for the error response is a string
 * or an integer; a message that parses, dumped again (jrpc_dump) and parsed
 * again, is the same kind with the same id and method, and the builders
 * make messages of the same kind from its parts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/jsonrpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_id(const json_t *a, const json_t *b)
{
	return (!a && !b) || jrpc_id_equal(a, b);
}

static int same_method(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Parses text again and checks it is m once more. */
static void reparse(const struct jrpc_msg *m, const char *text)
{
	struct cact_error err = {0};
	struct jrpc_msg again;
	json_t *bad = NULL;

	if (!text)
		return; /* out of memory */
	if (jrpc_parse(text, strlen(text), SIZE_MAX, &again, &bad, &err) != 0)
		abort();
	if (bad || again.kind != m->kind || !same_id(again.id, m->id) ||
	    !same_method(again.method, m->method))
		abort();
	jrpc_clear(&again);
}

/* The builders, from the parsed message's parts, make the same kind again. */
static void rebuild(const struct jrpc_msg *m)
{
	json_t *msg = NULL, *code;
	char *text;

	switch (m->kind) {
	case JRPC_REQUEST:
		msg = jrpc_request(m->id, m->method, m->params);
		break;
	case JRPC_NOTIFICATION:
		msg = jrpc_notification(m->method, m->params);
		break;
	case JRPC_RESULT:
		msg = jrpc_result(m->id, m->result);
		break;
	case JRPC_ERROR:
		code = json_object_get(m->error, "code");
		msg = jrpc_error(m->id, (int)json_integer_value(code),
				 json_string_value(json_object_get(m->error, "message")),
				 json_object_get(m->error, "data"));
		break;
	}
	text = jrpc_dump(msg);
	/* An error code beyond int changes in the cast: the kind and id still hold. */
	reparse(m, text);
	free(text);
	json_decref(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cact_error err = {0};
	struct jrpc_msg m;
	json_t *bad = NULL;
	size_t max;
	char *text;
	int rc;

	if (size == 0)
		return 0;
	max = (size_t)16 << (data[0] % 16);
	data++;
	size--;
	rc = jrpc_parse((const char *)data, size, max, &m, &bad, &err);
	if (rc) {
		if ((rc != JRPC_PARSE_ERROR && rc != JRPC_INVALID_REQUEST) || !err.message[0] ||
		    m.root)
			abort();
		if (bad && !json_is_string(bad) && !json_is_integer(bad))
			abort();
		json_decref(bad);
		return 0;
	}
	if (bad || !m.root)
		abort();
	switch (m.kind) {
	case JRPC_REQUEST:
		if (!m.method || !m.id || m.result || m.error)
			abort();
		break;
	case JRPC_NOTIFICATION:
		if (!m.method || m.id)
			abort();
		break;
	case JRPC_RESULT:
		if (m.method || !m.id || !m.result || m.error)
			abort();
		break;
	case JRPC_ERROR:
		if (m.method || m.result || !m.error)
			abort();
		break;
	}
	text = jrpc_dump(m.root);
	reparse(&m, text);
	free(text);
	rebuild(&m);
	jrpc_clear(&m);
	return 0;
}
