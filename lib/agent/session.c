/* SPDX-License-Identifier: MIT */
/*
 * Sessions: the messages of a conversation and the providers' state, as
 * JSON that survives the process, and what providers keep for one
 * conversation in this process only (attachments).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"
#include "agent.h"

#define SESSION_VERSION 1

CACT_API int cact_session_new(struct cact_session **out)
{
	struct cact_session *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return CACT_ENOMEM;
	s->messages = json_array();
	s->state = json_object();
	if (!s->messages || !s->state) {
		cact_session_free(s);
		return CACT_ENOMEM;
	}
	*out = s;
	return 0;
}

/* Guards the links of every attachment: conversations and owners may go on different threads. */
static pthread_mutex_t attach_lock = PTHREAD_MUTEX_INITIALIZER;

/* Unlinks a from its owner's list (lock held). */
static void unlink_owner(struct agent_attachment *a)
{
	struct agent_attachment **pp;

	for (pp = a->owner; *pp; pp = &(*pp)->o_next) {
		if (*pp == a) {
			*pp = a->o_next;
			break;
		}
	}
	a->o_next = NULL;
}

/* Unlinks a from its conversation (lock held). */
static void unlink_session(struct agent_attachment *a)
{
	struct agent_attachment **pp;

	for (pp = &a->session->attached; *pp; pp = &(*pp)->s_next) {
		if (*pp == a) {
			*pp = a->s_next;
			break;
		}
	}
	a->s_next = NULL;
	a->session = NULL;
}

void agent_attach(struct cact_session *s, struct agent_attachment **owner,
		  struct agent_attachment *a)
{
	pthread_mutex_lock(&attach_lock);
	a->owner = owner;
	a->session = s;
	a->s_next = s->attached;
	s->attached = a;
	a->o_next = *owner;
	*owner = a;
	pthread_mutex_unlock(&attach_lock);
}

struct agent_attachment *agent_attached(struct cact_session *s, struct agent_attachment **owner)
{
	struct agent_attachment *a;

	pthread_mutex_lock(&attach_lock);
	for (a = s->attached; a && a->owner != owner; a = a->s_next)
		;
	pthread_mutex_unlock(&attach_lock);
	return a;
}

void agent_detach(struct agent_attachment *a)
{
	pthread_mutex_lock(&attach_lock);
	unlink_owner(a);
	unlink_session(a);
	pthread_mutex_unlock(&attach_lock);
	a->drop(a);
}

void agent_drop_owner(struct agent_attachment **owner)
{
	struct agent_attachment *list, *a;

	pthread_mutex_lock(&attach_lock);
	list = *owner;
	*owner = NULL;
	for (a = list; a; a = a->o_next)
		unlink_session(a);
	pthread_mutex_unlock(&attach_lock);
	while ((a = list)) {
		list = a->o_next;
		a->drop(a);
	}
}

/* Unlinks and drops every attachment of s. */
static void drop_session(struct cact_session *s)
{
	struct agent_attachment *list, *a;

	pthread_mutex_lock(&attach_lock);
	list = s->attached;
	s->attached = NULL;
	for (a = list; a; a = a->s_next) {
		unlink_owner(a);
		a->session = NULL;
	}
	pthread_mutex_unlock(&attach_lock);
	while ((a = list)) {
		list = a->s_next;
		a->drop(a);
	}
}

CACT_API void cact_session_free(struct cact_session *s)
{
	if (!s)
		return;
	drop_session(s);
	json_decref(s->messages);
	json_decref(s->state);
	free(s);
}

/* A message as the Chat Completions API takes it: a role, and content or tool calls. */
static int check_message(json_t *m, size_t i, struct cact_error *err)
{
	const char *role = json_string_value(json_object_get(m, "role"));
	json_t *content = json_object_get(m, "content");

	if (!json_is_object(m))
		return ut_err(err, CACT_EINVAL, "session: messages[%zu] is not an object", i);
	if (!role || (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0 &&
		      strcmp(role, "tool") != 0 && strcmp(role, "system") != 0))
		return ut_err(
			err, CACT_EINVAL,
			"session: messages[%zu] needs a role of user, assistant, tool or system",
			i);
	if (content && !json_is_string(content) && !json_is_null(content) &&
	    !json_is_array(content))
		return ut_err(err, CACT_EINVAL, "session: messages[%zu].content must be text", i);
	if (strcmp(role, "tool") == 0 && !json_is_string(json_object_get(m, "tool_call_id")))
		return ut_err(err, CACT_EINVAL,
			      "session: messages[%zu] (a tool result) has no tool_call_id", i);
	return 0;
}

CACT_API int cact_session_load(const char *text, struct cact_session **out, struct cact_error *err)
{
	json_error_t jerr;
	json_t *root, *v, *msgs, *state, *m;
	struct cact_session *s;
	size_t i;
	int rc;

	*out = NULL;
	root = json_loads(text ? text : "", JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return ut_err(err, CACT_EINVAL, "session: not JSON: line %d: %s", jerr.line,
			      jerr.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return ut_err(err, CACT_EINVAL, "session: not a JSON object");
	}
	v = json_object_get(root, "version");
	msgs = json_object_get(root, "messages");
	state = json_object_get(root, "state");
	if (!json_is_integer(v) || json_integer_value(v) != SESSION_VERSION)
		rc = ut_err(err, CACT_EINVAL, "session: \"version\" must be %d", SESSION_VERSION);
	else if (!json_is_array(msgs))
		rc = ut_err(err, CACT_EINVAL, "session: \"messages\" must be a list");
	else if (state && !json_is_object(state))
		rc = ut_err(err, CACT_EINVAL, "session: \"state\" must be an object");
	else
		rc = 0;
	json_array_foreach(msgs, i, m) {
		if (rc)
			break;
		rc = check_message(m, i, err);
	}
	if (rc) {
		json_decref(root);
		return rc;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		json_decref(root);
		return ut_err(err, CACT_ENOMEM, "out of memory");
	}
	s->messages = json_incref(msgs);
	s->state = state ? json_incref(state) : json_object();
	json_decref(root);
	if (!s->state) {
		cact_session_free(s);
		return ut_err(err, CACT_ENOMEM, "out of memory");
	}
	*out = s;
	return 0;
}

CACT_API char *cact_session_to_json(const struct cact_session *s)
{
	json_t *root = json_pack("{s:i, s:O, s:O}", "version", SESSION_VERSION, "messages",
				 s->messages, "state", s->state);
	char *out = root ? json_dumps(root, JSON_COMPACT) : NULL;

	json_decref(root);
	return out;
}

CACT_API char *cact_session_messages_json(const struct cact_session *s)
{
	return json_dumps(s->messages, JSON_COMPACT);
}

CACT_API char *cact_session_state_json(const struct cact_session *s, const char *provider)
{
	json_t *v = provider ? json_object_get(s->state, provider) : NULL;

	return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}
