/* SPDX-License-Identifier: MIT */
/*
 * JSON-RPC 2.0 messages as MCP uses them: one JSON object per message (no
 * batches since protocol version 2025-06-18), requests with a string or
 * integer id, notifications without one, responses with exactly one of
 * result and error. Every byte is from a peer and untrusted: the parser
 * enforces the size cap before parsing, checks the grammar, the nesting
 * and what decoding would cost before jansson allocates anything
 * (ut_json_check), refuses duplicate keys and invalid UTF-8, and
 * classifies or rejects with the JSON-RPC error code the peer should get.
 */
#ifndef CACT_MCP_JSONRPC_H
#define CACT_MCP_JSONRPC_H

#include <jansson.h>
#include <stddef.h>

#include <cact/error.h>

#define JRPC_PARSE_ERROR      -32700
#define JRPC_INVALID_REQUEST  -32600
#define JRPC_METHOD_NOT_FOUND -32601
#define JRPC_INVALID_PARAMS   -32602
#define JRPC_INTERNAL_ERROR   -32603
/* MCP: a request that needs an initialized session (server-defined range). */
#define JRPC_NOT_INITIALIZED -32002
#define JRPC_MAX_DEPTH	     64

enum jrpc_kind {
	JRPC_REQUEST,	   /* method, params, id */
	JRPC_NOTIFICATION, /* method, params */
	JRPC_RESULT,	   /* id, result */
	JRPC_ERROR,	   /* id (may be null), error {code, message, data} */
};

struct jrpc_msg {
	enum jrpc_kind kind;
	json_t *root;	    /* owned: the whole message */
	json_t *id;	    /* borrowed from root; NULL for notifications */
	const char *method; /* borrowed */
	json_t *params;	    /* borrowed; NULL when absent */
	json_t *result;	    /* borrowed */
	json_t *error;	    /* borrowed */
	size_t len;	    /* the text's length: jrpc_clear trims the heap after large ones */
};

/*
 * Parses one message of len bytes (at most max). Returns 0 with *m filled
 * (jrpc_clear it), or a JSON-RPC error code (JRPC_PARSE_ERROR,
 * JRPC_INVALID_REQUEST) with the reason in err and, when the message had a
 * usable id, a new reference to it in *bad_id (else NULL) so that the
 * error response can name it.
 */
int jrpc_parse(const char *text, size_t len, size_t max, struct jrpc_msg *m, json_t **bad_id,
	       struct cact_error *err);
void jrpc_clear(struct jrpc_msg *m);

/* Builders: new references (NULL when out of memory). id and params/result are copied by reference. */
json_t *jrpc_request(json_t *id, const char *method, json_t *params);
json_t *jrpc_notification(const char *method, json_t *params);
json_t *jrpc_result(json_t *id, json_t *result);
/* id NULL means null; data may be NULL. */
json_t *jrpc_error(json_t *id, int code, const char *message, json_t *data);

/* Compact text of a message, owned; NULL when out of memory. */
char *jrpc_dump(const json_t *msg);

/* 1 when two ids are the same id (same type and value). */
int jrpc_id_equal(const json_t *a, const json_t *b);

#endif
