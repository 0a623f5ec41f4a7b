/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "../util/jsoncheck.h"
#include "../util/util.h"
#include "jsonrpc.h"

/* A usable id: a string, or an integer (MCP: "MUST be a string or integer"). */
static int id_ok(const json_t *id)
{
	return json_is_string(id) || json_is_integer(id);
}

static int invalid(struct jrpc_msg *m, json_t **bad_id, struct cact_error *err, const char *why)
{
	json_t *id = json_object_get(m->root, "id");

	if (bad_id && id_ok(id))
		*bad_id = json_incref(id);
	ut_err(err, CACT_EPROTO, "invalid JSON-RPC message: %s", why);
	jrpc_clear(m);
	return JRPC_INVALID_REQUEST;
}

int jrpc_parse(const char *text, size_t len, size_t max, struct jrpc_msg *m, json_t **bad_id,
	       struct cact_error *err)
{
	json_error_t jerr;
	json_t *v, *id, *method;
	char why[128];
	int rc;

	memset(m, 0, sizeof(*m));
	if (bad_id)
		*bad_id = NULL;
	if (len > max) {
		ut_err(err, CACT_ETOOBIG, "JSON-RPC message larger than %zu bytes", max);
		return JRPC_INVALID_REQUEST;
	}
	/*
	 * Before jansson builds anything (ut_json_check): the grammar, the
	 * depth, and what the tree would cost. Too deep or too many values is
	 * valid JSON the server will not take: an invalid request, like one
	 * over the size cap, without an id since nothing was decoded.
	 */
	rc = ut_json_check(text, len, JRPC_MAX_DEPTH, NULL, why, sizeof(why));
	if (rc == CACT_ETOOBIG) {
		ut_err(err, CACT_ETOOBIG, "invalid JSON-RPC message: %s", why);
		return JRPC_INVALID_REQUEST;
	}
	if (rc) {
		ut_err(err, CACT_EPROTO, "not JSON: %s", why);
		return JRPC_PARSE_ERROR;
	}
	/* JSON_REJECT_DUPLICATES: one key, one meaning, whoever reads it. */
	m->root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!m->root) {
		ut_err(err, CACT_EPROTO, "not JSON: %s", jerr.text);
		return JRPC_PARSE_ERROR;
	}
	m->len = len;
	if (json_is_array(m->root))
		return invalid(m, bad_id, err, "batches are not supported");
	if (!json_is_object(m->root))
		return invalid(m, bad_id, err, "not an object");
	v = json_object_get(m->root, "jsonrpc");
	if (!json_is_string(v) || strcmp(json_string_value(v), "2.0") != 0)
		return invalid(m, bad_id, err, "\"jsonrpc\" must be \"2.0\"");
	id = json_object_get(m->root, "id");
	method = json_object_get(m->root, "method");
	if (method) {
		if (!json_is_string(method) || json_string_length(method) == 0)
			return invalid(m, bad_id, err, "\"method\" must be a non-empty string");
		m->params = json_object_get(m->root, "params");
		if (m->params && !json_is_object(m->params) && !json_is_array(m->params))
			return invalid(m, bad_id, err, "\"params\" must be an object or an array");
		if (json_object_get(m->root, "result") || json_object_get(m->root, "error"))
			return invalid(m, bad_id, err, "a request has no result or error");
		m->method = json_string_value(method);
		if (!id) {
			m->kind = JRPC_NOTIFICATION;
			return 0;
		}
		if (!id_ok(id))
			return invalid(m, bad_id, err, "\"id\" must be a string or an integer");
		m->kind = JRPC_REQUEST;
		m->id = id;
		return 0;
	}
	m->result = json_object_get(m->root, "result");
	m->error = json_object_get(m->root, "error");
	if (!!m->result == !!m->error)
		return invalid(m, bad_id, err, "a response has exactly one of result and error");
	if (m->result) {
		if (!id_ok(id))
			return invalid(m, bad_id, err, "a result needs a string or integer id");
		m->kind = JRPC_RESULT;
		m->id = id;
		return 0;
	}
	if (!json_is_object(m->error) || !json_is_integer(json_object_get(m->error, "code")) ||
	    !json_is_string(json_object_get(m->error, "message")))
		return invalid(m, bad_id, err, "\"error\" needs an integer code and a message");
	if (id && !json_is_null(id) && !id_ok(id))
		return invalid(m, bad_id, err, "\"id\" must be a string, an integer or null");
	m->kind = JRPC_ERROR;
	m->id = json_is_null(id) ? NULL : id;
	return 0;
}

void jrpc_clear(struct jrpc_msg *m)
{
	size_t len = m->len;

	json_decref(m->root);
	memset(m, 0, sizeof(*m));
	/* After a large message, give the heap back (parts the caller still holds stay). */
	ut_json_trim(len);
}

json_t *jrpc_request(json_t *id, const char *method, json_t *params)
{
	return params ? json_pack("{s:s, s:O, s:s, s:O}", "jsonrpc", "2.0", "id", id, "method",
				  method, "params", params)
		      : json_pack("{s:s, s:O, s:s}", "jsonrpc", "2.0", "id", id, "method", method);
}

json_t *jrpc_notification(const char *method, json_t *params)
{
	return params ? json_pack("{s:s, s:s, s:O}", "jsonrpc", "2.0", "method", method, "params",
				  params)
		      : json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method", method);
}

json_t *jrpc_result(json_t *id, json_t *result)
{
	return json_pack("{s:s, s:O, s:O}", "jsonrpc", "2.0", "id", id, "result", result);
}

json_t *jrpc_error(json_t *id, int code, const char *message, json_t *data)
{
	json_t *e =
		data ? json_pack("{s:i, s:s, s:O}", "code", code, "message", message, "data", data)
		     : json_pack("{s:i, s:s}", "code", code, "message", message);

	if (!e)
		return NULL;
	return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(), "error",
			 e);
}

char *jrpc_dump(const json_t *msg)
{
	return msg ? json_dumps(msg, JSON_COMPACT) : NULL;
}

int jrpc_id_equal(const json_t *a, const json_t *b)
{
	if (!a || !b)
		return 0;
	if (json_is_string(a) && json_is_string(b))
		return strcmp(json_string_value(a), json_string_value(b)) == 0;
	if (json_is_integer(a) && json_is_integer(b))
		return json_integer_value(a) == json_integer_value(b);
	return 0;
}
