/* SPDX-License-Identifier: MIT */
/*
 * The MCP client's core: options, the connection's life (started on
 * demand, again after a stdio server died, within a restart budget), the
 * handshake (initialize, then notifications/initialized), requests with
 * their timeout and cancellation, tools/list with its pages, and the cact
 * tools made from the list, whose calls are tools/call requests.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cact/cact.h>

#include "../tools/tools.h"
#include "../util/jsoncheck.h"
#include "../util/util.h"
#include "client.h"
#include "jsonrpc.h"

/* Protocol versions a server may answer initialize with, newest first. */
static const char *const versions[] = {"2025-11-25", "2025-06-18", "2025-03-26"};

CACT_API void cact_mcp_client_options_init(struct cact_mcp_client_options *o)
{
	memset(o, 0, sizeof(*o));
	o->timeout_ms = MCPC_DEFAULT_TIMEOUT_MS;
	o->max_message_bytes = MCPC_DEFAULT_MAX;
}

void mcpc_log(const struct cact_mcp_client *c, const char *fmt, ...)
{
	char line[MCPC_LOG_LINE + 128];
	size_t avail;
	va_list ap;
	int n, m;

	n = snprintf(line, sizeof(line), "[mcp %s] ", c->name);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	avail = sizeof(line) - (size_t)n - 1; /* room for the line feed */
	va_start(ap, fmt);
	m = vsnprintf(line + n, avail, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += (size_t)m < avail ? m : (int)avail - 1;
	line[n++] = '\n';
	if (write(2, line, (size_t)n) < 0)
		(void)0; /* nowhere to report it */
}

unsigned mcpc_generation(struct cact_mcp_client *c)
{
	unsigned g;

	pthread_mutex_lock(&c->lock);
	g = c->gen;
	pthread_mutex_unlock(&c->lock);
	return g;
}

void mcpc_lost(struct cact_mcp_client *c, unsigned gen)
{
	pthread_mutex_lock(&c->lock);
	if (c->state == MCPC_UP && c->gen == gen)
		c->state = MCPC_DOWN;
	pthread_mutex_unlock(&c->lock);
}

void mcpc_version(struct cact_mcp_client *c, char *out, size_t size)
{
	pthread_mutex_lock(&c->lock);
	ut_snprintf(out, size, "%s", c->version);
	pthread_mutex_unlock(&c->lock);
}

/* ---- options ---- */

static int check_name(const char *name, struct cact_error *err)
{
	size_t i, n = name ? strlen(name) : 0;

	if (n == 0 || n > MCPC_NAME_MAX)
		return ut_err(err, CACT_EINVAL, "mcp server name must have 1 to %d characters",
			      MCPC_NAME_MAX);
	for (i = 0; i < n; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
			return ut_err(err, CACT_EINVAL,
				      "mcp server name '%s': only letters, digits, '_' and '-' are "
				      "allowed",
				      name);
	}
	return 0;
}

/* No control characters (CR, LF above all) in what goes into a header or a command line. */
static int has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

static int check_options(const struct cact_mcp_client_options *o, struct cact_error *err)
{
	size_t i;
	int rc;

	if (!o)
		return ut_err(err, CACT_EINVAL, "mcp server options are NULL");
	if ((rc = check_name(o->name, err)))
		return rc;
	if (!!(o->argv && o->argv[0]) == !!o->url)
		return ut_err(err, CACT_EINVAL, "mcp server %s: give a command or a url, not %s",
			      o->name, o->url ? "both" : "neither");
	if (o->argv && !*o->argv[0])
		return ut_err(err, CACT_EINVAL, "mcp server %s: the command is empty", o->name);
	for (i = 0; i < o->n_env; i++)
		if (!o->env || !o->env[i] || !strchr(o->env[i], '=') || o->env[i][0] == '=')
			return ut_err(err, CACT_EINVAL,
				      "mcp server %s: environment entries are NAME=value", o->name);
	if (o->url) {
		if (strncmp(o->url, "http://", 7) != 0 && strncmp(o->url, "https://", 8) != 0)
			return ut_err(err, CACT_EINVAL,
				      "mcp server %s: url must be http:// or https://", o->name);
		if (has_ctl(o->url) || strchr(o->url, ' '))
			return ut_err(err, CACT_EINVAL,
				      "mcp server %s: url has spaces or control characters",
				      o->name);
	}
	for (i = 0; i < o->n_headers; i++) {
		const char *h = o->headers ? o->headers[i] : NULL,
			   *colon = h ? strchr(h, ':') : NULL;

		if (!colon || colon == h || has_ctl(h))
			return ut_err(
				err, CACT_EINVAL,
				"mcp server %s: headers are \"Name: value\" without line breaks",
				o->name);
	}
	if (o->timeout_ms > 86400000ull)
		return ut_err(err, CACT_EINVAL, "mcp server %s: timeout is over a day", o->name);
	if (o->max_message_bytes > (1ull << 30))
		return ut_err(err, CACT_EINVAL, "mcp server %s: max_message_bytes is over 1 GiB",
			      o->name);
	return 0;
}

static char **dup_list(const char *const *v, size_t n)
{
	char **out = calloc(n + 1, sizeof(*out));
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i < n; i++)
		if (!(out[i] = strdup(v[i]))) {
			while (i > 0)
				free(out[--i]);
			free(out);
			return NULL;
		}
	return out;
}

static void free_list(char **v)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static void client_free(struct cact_mcp_client *c)
{
	if (c->tr) {
		c->tr->close(c, 0);
		c->tr->release(c);
	}
	free(c->name);
	free_list(c->argv);
	free_list(c->env);
	free(c->cwd);
	free(c->url);
	free_list(c->headers);
	json_decref(c->tools);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static int copy_options(struct cact_mcp_client *c, const struct cact_mcp_client_options *o)
{
	size_t argc = 0;

	while (o->argv && o->argv[argc])
		argc++;
	c->name = strdup(o->name);
	c->env = dup_list(o->env, o->n_env);
	c->n_env = o->n_env;
	c->headers = dup_list(o->headers, o->n_headers);
	c->n_headers = o->n_headers;
	if (!c->name || !c->env || !c->headers)
		return CACT_ENOMEM;
	if (argc && !(c->argv = dup_list(o->argv, argc)))
		return CACT_ENOMEM;
	if (o->cwd && !(c->cwd = strdup(o->cwd)))
		return CACT_ENOMEM;
	if (o->url && !(c->url = strdup(o->url)))
		return CACT_ENOMEM;
	c->timeout_ms = o->timeout_ms ? o->timeout_ms : MCPC_DEFAULT_TIMEOUT_MS;
	c->max_message = o->max_message_bytes ? (size_t)o->max_message_bytes : MCPC_DEFAULT_MAX;
	c->tr = o->url ? &mcpc_http : &mcpc_stdio;
	return 0;
}

/* ---- requests ---- */

/* The reason a response gives for failing: "message (code N)". */
static void error_text(json_t *error, char *out, size_t size)
{
	const char *msg = json_string_value(json_object_get(error, "message"));

	ut_snprintf(out, size, "%s (code %lld)", msg ? msg : "no message",
		    (long long)json_integer_value(json_object_get(error, "code")));
}

/* Best effort: the server may stop working on request id. */
static void send_cancel(struct cact_mcp_client *c, long long id, const char *reason)
{
	json_t *params = json_pack("{s:I, s:s}", "requestId", (json_int_t)id, "reason", reason);

	if (params)
		c->tr->notify(c, "notifications/cancelled", params, NULL);
	json_decref(params);
}

/*
 * One request over the current connection, no start: *result is the
 * result (new reference). MCPC_RECONNECT goes back to the caller.
 */
static int exchange(struct cact_mcp_client *c, const char *method, json_t *params, int cancel_fd,
		    json_t **result, struct cact_error *err)
{
	long long id = atomic_fetch_add(&c->next_id, 1);
	uint64_t deadline = ut_now_us() + c->timeout_ms * 1000;
	json_t *reply = NULL, *error;
	char why[CACT_ERROR_MAX];
	int rc;

	*result = NULL;
	rc = c->tr->request(c, id, method, params, deadline, cancel_fd, &reply, err);
	if (rc == MCPC_TIMEOUT) {
		/* initialize must not be cancelled (the connection is closed instead). */
		if (strcmp(method, "initialize") != 0)
			send_cancel(c, id, "timed out");
		return ut_err(err, CACT_ESYS, "mcp server %s: no answer to %s within %llu ms",
			      c->name, method, (unsigned long long)c->timeout_ms);
	}
	if (rc == MCPC_CANCELLED) {
		if (strcmp(method, "initialize") != 0)
			send_cancel(c, id, "the execution ended");
		return ut_err(err, CACT_ESYS, "cancelled: the execution ended");
	}
	if (rc)
		return rc;
	if ((error = json_object_get(reply, "error"))) {
		error_text(error, why, sizeof(why));
		json_decref(reply);
		return ut_err(err, CACT_EINVAL, "mcp server %s: %s failed: %s", c->name, method,
			      why);
	}
	*result = json_incref(json_object_get(reply, "result"));
	json_decref(reply);
	if (!json_is_object(*result)) {
		json_decref(*result);
		*result = NULL;
		return ut_err(err, CACT_EPROTO, "mcp server %s: the result of %s is not an object",
			      c->name, method);
	}
	return 0;
}

static int handshake(struct cact_mcp_client *c, int cancel_fd, struct cact_error *err)
{
	json_t *params, *result = NULL;
	const char *v;
	size_t i;
	int rc;

	params = json_pack("{s:s, s:{}, s:{s:s, s:s}}", "protocolVersion", MCPC_PROTOCOL_VERSION,
			   "capabilities", "clientInfo", "name", "cact", "version", cact_version());
	if (!params)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	rc = exchange(c, "initialize", params, cancel_fd, &result, err);
	json_decref(params);
	if (rc == MCPC_RECONNECT)
		rc = ut_err(err, CACT_ESYS, "mcp server %s: the connection ended during initialize",
			    c->name);
	if (rc)
		return rc;
	v = json_string_value(json_object_get(result, "protocolVersion"));
	for (i = 0; v && i < UT_ARRAY_SIZE(versions); i++)
		if (strcmp(v, versions[i]) == 0)
			break;
	if (!v || i == UT_ARRAY_SIZE(versions)) {
		rc = ut_err(err, CACT_EPROTO,
			    "mcp server %s: speaks protocol version %.40s; cact speaks 2025-11-25, "
			    "2025-06-18 and 2025-03-26",
			    c->name, v ? v : "(none)");
		json_decref(result);
		return rc;
	}
	pthread_mutex_lock(&c->lock);
	ut_snprintf(c->version, sizeof(c->version), "%s", v);
	pthread_mutex_unlock(&c->lock);
	json_decref(result);
	return c->tr->notify(c, "notifications/initialized", NULL, err);
}

/* 1 when cancel_fd (-1: none) is readable. */
static int cancelled(int cancel_fd)
{
	struct pollfd f = {.fd = cancel_fd, .events = POLLIN};

	return cancel_fd >= 0 && poll(&f, 1, 0) > 0;
}

/*
 * Starts the connection unless it is up (or another thread is starting it,
 * which is waited for, in slices, so that cancel_fd is still heard).
 */
static int ensure_up(struct cact_mcp_client *c, int cancel_fd, unsigned *gen,
		     struct cact_error *err)
{
	uint64_t now;
	size_t slot;
	int rc;

	pthread_mutex_lock(&c->lock);
	while (c->state == MCPC_STARTING) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 100 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&c->cond, &c->lock, &until);
		if (c->state == MCPC_STARTING && cancelled(cancel_fd)) {
			pthread_mutex_unlock(&c->lock);
			return ut_err(err, CACT_ESYS, "cancelled: the execution ended");
		}
	}
	if (c->state == MCPC_UP) {
		*gen = c->gen;
		pthread_mutex_unlock(&c->lock);
		return 0;
	}
	now = ut_now_us();
	slot = c->n_starts % MCPC_RESTARTS;
	if (c->n_starts >= MCPC_RESTARTS && now - c->starts[slot] < MCPC_RESTART_WINDOW_US) {
		pthread_mutex_unlock(&c->lock);
		return ut_err(err, CACT_ESYS,
			      "mcp server %s: not started again: it was started %d times within a "
			      "minute",
			      c->name, MCPC_RESTARTS);
	}
	c->starts[slot] = now;
	c->n_starts++;
	c->state = MCPC_STARTING;
	*gen = ++c->gen;
	c->version[0] = '\0';
	pthread_mutex_unlock(&c->lock);

	rc = c->tr->open(c, err);
	if (!rc)
		rc = handshake(c, cancel_fd, err);
	if (rc)
		c->tr->close(c, 1); /* half started: nothing to wait for */
	pthread_mutex_lock(&c->lock);
	c->state = rc ? MCPC_DOWN : MCPC_UP;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* A request, starting the connection first when it is down. */
static int call(struct cact_mcp_client *c, const char *method, json_t *params, int cancel_fd,
		json_t **result, struct cact_error *err)
{
	unsigned gen;
	int attempt, rc = 0;

	for (attempt = 0; attempt < 2; attempt++) {
		if ((rc = ensure_up(c, cancel_fd, &gen, err)))
			return rc;
		rc = exchange(c, method, params, cancel_fd, result, err);
		if (rc != MCPC_RECONNECT)
			return rc;
		mcpc_lost(c, gen);
	}
	return ut_err(err, CACT_ESYS, "mcp server %s: the connection was lost twice during %s",
		      c->name, method);
}

static int list_tools(struct cact_mcp_client *c, struct cact_error *err)
{
	json_t *all = json_array(), *params = NULL, *result = NULL, *tools, *t;
	size_t page, i;
	int rc = 0;

	if (!all)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	for (page = 0;; page++) {
		const char *next;

		if (page == MCPC_MAX_PAGES) {
			rc = ut_err(err, CACT_EPROTO,
				    "mcp server %s: tools/list has more than %d pages", c->name,
				    MCPC_MAX_PAGES);
			break;
		}
		if ((rc = call(c, "tools/list", params, -1, &result, err)))
			break;
		tools = json_object_get(result, "tools");
		if (!json_is_array(tools)) {
			rc = ut_err(err, CACT_EPROTO,
				    "mcp server %s: tools/list has no \"tools\" list", c->name);
			break;
		}
		json_array_foreach(tools, i, t) {
			if (json_array_size(all) == MCPC_MAX_TOOLS) {
				rc = ut_err(err, CACT_EPROTO, "mcp server %s: more than %d tools",
					    c->name, MCPC_MAX_TOOLS);
				break;
			}
			if (!json_is_object(t) || !json_is_string(json_object_get(t, "name")))
				continue;
			json_array_append(all, t);
		}
		next = json_string_value(json_object_get(result, "nextCursor"));
		json_decref(params);
		params = next && *next ? json_pack("{s:s}", "cursor", next) : NULL;
		json_decref(result);
		result = NULL;
		if (rc || !params)
			break;
	}
	json_decref(result);
	json_decref(params);
	if (rc) {
		json_decref(all);
		return rc;
	}
	c->tools = all;
	return 0;
}

CACT_API int cact_mcp_client_new(const struct cact_mcp_client_options *o,
				 struct cact_mcp_client **out, struct cact_error *err)
{
	struct cact_mcp_client *c;
	unsigned gen;
	int rc;

	if (out)
		*out = NULL;
	if (!out)
		return ut_err(err, CACT_EINVAL, "out is NULL");
	if ((rc = check_options(o, err)))
		return rc;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	atomic_init(&c->refs, 1);
	atomic_init(&c->next_id, 1);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->state = MCPC_DOWN;
	if (copy_options(c, o)) {
		c->tr = NULL;
		client_free(c);
		return ut_err(err, CACT_ENOMEM, "out of memory");
	}
	if ((rc = ensure_up(c, -1, &gen, err)) || (rc = list_tools(c, err))) {
		client_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

CACT_API struct cact_mcp_client *cact_mcp_client_ref(struct cact_mcp_client *c)
{
	if (c)
		atomic_fetch_add(&c->refs, 1);
	return c;
}

CACT_API void cact_mcp_client_unref(struct cact_mcp_client *c)
{
	if (c && atomic_fetch_sub(&c->refs, 1) == 1)
		client_free(c);
}

/* ---- tools ---- */

struct mcpc_tool {
	struct cact_mcp_client *c; /* a reference */
	char *remote;		   /* the server's name of the tool */
};

/*
 * Every text item as JSON when it is JSON, else as a string. The message's
 * check saw strings: what one holds is checked before it is decoded
 * (ut_json_check) and kept as a string when it would cost too much. *left
 * is what the items of one result may still cost together: each check
 * alone allows 16 MiB of slack, and a result may hold many items.
 */
static json_t *text_value(const char *text, size_t *left)
{
	struct ut_json_stats st;
	json_t *v = NULL;

	if (!ut_json_check(text, strlen(text), UT_JSON_DEPTH_LIMIT, &st, NULL, 0) &&
	    st.cost <= *left) {
		v = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
		if (v)
			*left -= st.cost;
	}

	return v ? v : json_string(text);
}

/* 1 when content is a non-empty list of text items only. */
static int all_text(const json_t *content)
{
	json_t *item;
	size_t i;

	if (!json_is_array(content) || json_array_size(content) == 0)
		return 0;
	json_array_foreach(content, i, item) {
		const char *type = json_string_value(json_object_get(item, "type"));

		if (!type || strcmp(type, "text") != 0 ||
		    !json_is_string(json_object_get(item, "text")))
			return 0;
	}
	return 1;
}

/* An isError result: the server's text is the reason. */
static int tool_failed(const json_t *content, struct cact_error *err)
{
	char why[CACT_ERROR_MAX] = "";
	size_t i, used = 0;
	json_t *item;

	json_array_foreach(content, i, item) {
		const char *text = json_string_value(json_object_get(item, "text"));
		int n;

		if (!text)
			continue;
		n = snprintf(why + used, sizeof(why) - used, "%s%s", used ? "\n" : "", text);
		if (n < 0 || (size_t)n >= sizeof(why) - used)
			break;
		used += (size_t)n;
	}
	if (!why[0]) {
		char *dump = content ? json_dumps(content, JSON_COMPACT) : NULL;

		ut_snprintf(why, sizeof(why), "%s", dump ? dump : "the tool failed");
		free(dump);
	}
	return ut_err(err, CACT_EINVAL, "%s", why);
}

static json_t *result_value(const json_t *result)
{
	json_t *content = json_object_get(result, "content");
	json_t *structured = json_object_get(result, "structuredContent");
	json_t *item, *list;
	size_t i, left = 0;

	if (structured && !json_is_null(structured))
		return json_incref(structured);
	if (!all_text(content))
		return content ? json_incref(content) : json_null();
	json_array_foreach(content, i, item)
		left += json_string_length(json_object_get(item, "text"));
	left = ut_json_budget(left);
	item = json_array_get(content, 0);
	if (json_array_size(content) == 1)
		return text_value(json_string_value(json_object_get(item, "text")), &left);
	list = json_array();
	json_array_foreach(content, i, item) {
		const char *text = json_string_value(json_object_get(item, "text"));

		if (!list || json_array_append_new(list, text_value(text, &left))) {
			json_decref(list);
			return NULL;
		}
	}
	return list;
}

static int tool_invoke_mcp(void *data, const char *name, const char *args_json, size_t result_cap,
			   int cancel_fd, char **result_json, struct cact_error *err)
{
	struct mcpc_tool *t = data;
	json_t *args, *params = NULL, *result = NULL, *value = NULL;
	int rc;

	(void)name;
	(void)result_cap;
	*result_json = NULL;
	args = json_loads(args_json, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(args)) {
		json_decref(args);
		return ut_err(err, CACT_EINVAL, "the arguments are not an object");
	}
	params = json_pack("{s:s, s:o}", "name", t->remote, "arguments", args);
	if (!params)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	rc = call(t->c, "tools/call", params, cancel_fd, &result, err);
	json_decref(params);
	if (rc)
		return rc;
	if (json_is_true(json_object_get(result, "isError"))) {
		rc = tool_failed(json_object_get(result, "content"), err);
		goto out;
	}
	value = result_value(result);
	*result_json = value ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	if (!*result_json)
		rc = ut_err(err, CACT_ENOMEM, "out of memory");
out:
	json_decref(value);
	json_decref(result);
	return rc;
}

static void tool_release_mcp(void *data)
{
	struct mcpc_tool *t = data;

	cact_mcp_client_unref(t->c);
	free(t->remote);
	free(t);
}

static const struct tool_ops mcp_ops = {.invoke = tool_invoke_mcp, .release = tool_release_mcp};

/* A tool over c's remote tool, with ops; schema NULL: any object. */
static int make_tool(struct cact_mcp_client *c, const char *full, const char *remote,
		     const char *desc, const char *schema, enum cact_approval approval,
		     struct cact_tool **out, struct cact_error *err)
{
	struct mcpc_tool *t = calloc(1, sizeof(*t));
	int rc;

	*out = NULL;
	if (!t || !(t->remote = strdup(remote))) {
		free(t);
		return ut_err(err, CACT_ENOMEM, "out of memory");
	}
	if ((rc = tool_new(full, desc, schema, approval, out, err))) {
		free(t->remote);
		free(t);
		return rc;
	}
	t->c = cact_mcp_client_ref(c);
	(*out)->kind = TOOL_CUSTOM;
	(*out)->ops = &mcp_ops;
	(*out)->ops_data = t;
	return 0;
}

/* One listed tool as a cact tool; 1 (skipped, logged) when it cannot be one. */
static int tool_from(struct cact_mcp_client *c, json_t *def, struct cact_tool **out,
		     struct cact_error *err)
{
	const char *remote = json_string_value(json_object_get(def, "name"));
	const char *desc = json_string_value(json_object_get(def, "description"));
	json_t *schema = json_object_get(def, "inputSchema");
	char full[256], *text = NULL;
	struct cact_error why = {0};
	int rc;

	if (!desc)
		desc = json_string_value(json_object_get(def, "title"));
	if (ut_snprintf(full, sizeof(full), "%s.%s", c->name, remote) < 0 || strlen(full) > 128) {
		mcpc_log(c, "skipping tool %.200s: the name is too long", remote);
		return 1;
	}
	if (json_is_object(schema) && !(text = json_dumps(schema, JSON_COMPACT)))
		return ut_err(err, CACT_ENOMEM, "out of memory");
	rc = make_tool(c, full, remote, desc, text, CACT_APPROVAL_NEVER_REQUIRE, out, &why);
	free(text);
	if (rc == CACT_EINVAL && strstr(why.message, "bad parameters schema")) {
		/* The server checks its arguments itself: accept any object. */
		mcpc_log(c, "tool %.200s: arguments are not checked here: %s", remote, why.message);
		rc = make_tool(c, full, remote, desc, NULL, CACT_APPROVAL_NEVER_REQUIRE, out, &why);
	}
	if (rc == CACT_EINVAL) {
		mcpc_log(c, "skipping tool %.200s: %s", remote, why.message);
		return 1;
	}
	if (rc && err)
		*err = why;
	return rc;
}

CACT_API int cact_mcp_client_tools(struct cact_mcp_client *c, struct cact_tool ***tools, size_t *n,
				   struct cact_error *err)
{
	struct cact_tool **list;
	size_t i, k, count = 0;
	json_t *def;
	int rc = 0;

	*tools = NULL;
	*n = 0;
	if (!c)
		return ut_err(err, CACT_EINVAL, "client is NULL");
	list = calloc(json_array_size(c->tools) + 1, sizeof(*list));
	if (!list)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	json_array_foreach(c->tools, i, def) {
		struct cact_tool *t = NULL;

		rc = tool_from(c, def, &t, err);
		if (rc == 1) {
			rc = 0;
			continue;
		}
		if (rc)
			break;
		for (k = 0; k < count; k++)
			if (strcmp(cact_tool_name(list[k]), cact_tool_name(t)) == 0)
				break;
		if (k < count) {
			mcpc_log(c, "skipping a second tool named %.200s", cact_tool_name(t));
			cact_tool_unref(t);
			continue;
		}
		list[count++] = t;
	}
	if (rc) {
		cact_tools_free(list, count);
		return rc;
	}
	*tools = list;
	*n = count;
	return 0;
}

CACT_API int cact_mcp_client_tool_approval(struct cact_tool *tool, enum cact_approval approval,
					   struct cact_tool **out, struct cact_error *err)
{
	struct mcpc_tool *t;

	if (!out)
		return ut_err(err, CACT_EINVAL, "out is NULL");
	*out = NULL;
	if (!tool || tool->kind != TOOL_CUSTOM || tool->ops != &mcp_ops)
		return ut_err(err, CACT_EINVAL, "not a tool of an mcp server");
	t = tool->ops_data;
	return make_tool(t->c, tool->name, t->remote, tool->description, tool->params_text,
			 approval, out, err);
}

CACT_API int cact_codeact_add_mcp_server(struct cact_codeact *cc,
					 const struct cact_mcp_client_options *o,
					 struct cact_error *err)
{
	struct cact_mcp_client *c = NULL;
	struct cact_tool **tools = NULL;
	size_t n = 0, i;
	int rc;

	if (!cc)
		return ut_err(err, CACT_EINVAL, "configuration is NULL");
	if ((rc = cact_mcp_client_new(o, &c, err)))
		return rc;
	rc = cact_mcp_client_tools(c, &tools, &n, err);
	for (i = 0; !rc && i < n; i++)
		if ((rc = cact_codeact_add_tool(cc, tools[i], err)))
			while (i > 0)
				cact_codeact_remove_tool(cc, cact_tool_name(tools[--i]), NULL);
	cact_tools_free(tools, n);
	cact_mcp_client_unref(c);
	return rc;
}
