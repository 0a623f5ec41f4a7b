/* SPDX-License-Identifier: MIT */
/*
 * The execute_code tool's configuration and execution. Every public call
 * takes the object's lock; an execution copies the configuration under the
 * lock and runs the copy, so a change made while code runs applies to the
 * next execution only, and many executions may run at once.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../tools/tools.h"
#include "../util/util.h"
#include "../runtime/session.h"
#include "codeact.h"

static const char input_schema[] =
	"{\"type\":\"object\",\"properties\":{\"code\":{\"type\":\"string\",\"description\":"
	"\"Python 3 code to run in the sandbox. Print what you need to see; call tools with "
	"call_tool(name, **kwargs); write files to /output to return them.\"}},"
	"\"required\":[\"code\"],\"additionalProperties\":false}";

/* With a session: the same, and reset. */
static const char session_input_schema[] =
	"{\"type\":\"object\",\"properties\":{\"code\":{\"type\":\"string\",\"description\":"
	"\"Python 3 code to run in the sandbox. Print what you need to see; call tools with "
	"call_tool(name, **kwargs); write files to /output to return them. Variables, imports "
	"and files from earlier calls are still there.\"},\"reset\":{\"type\":\"boolean\","
	"\"description\":\"Start over with a fresh interpreter (empty /tmp and /output) before "
	"running the code.\"}},\"required\":[\"code\"],\"additionalProperties\":false}";

CACT_API const char *cact_codeact_input_schema(void)
{
	return input_schema;
}

CACT_API const char *cact_codeact_session_input_schema(void)
{
	return session_input_schema;
}

CACT_API void cact_codeact_set_persistent(struct cact_codeact *cc, int on)
{
	pthread_mutex_lock(&cc->lock);
	cc->persistent = !!on;
	pthread_mutex_unlock(&cc->lock);
}

CACT_API int cact_codeact_persistent(const struct cact_codeact *cc)
{
	struct cact_codeact *m = (struct cact_codeact *)cc;
	int on;

	pthread_mutex_lock(&m->lock);
	on = cc->persistent;
	pthread_mutex_unlock(&m->lock);
	return on;
}

CACT_API void cact_codeact_set_session_options(struct cact_codeact *cc,
					       const struct cact_sandbox_session_options *o)
{
	pthread_mutex_lock(&cc->lock);
	if (o)
		cc->session_opts = *o;
	else
		cact_sandbox_session_options_init(&cc->session_opts);
	pthread_mutex_unlock(&cc->lock);
}

CACT_API void cact_codeact_session_options(const struct cact_codeact *cc,
					   struct cact_sandbox_session_options *o)
{
	struct cact_codeact *m = (struct cact_codeact *)cc;

	pthread_mutex_lock(&m->lock);
	*o = cc->session_opts;
	pthread_mutex_unlock(&m->lock);
}

CACT_API int cact_codeact_new(struct cact_runtime *rt, struct cact_codeact **out,
			      struct cact_error *err)
{
	struct cact_codeact *cc;

	*out = NULL;
	cc = calloc(1, sizeof(*cc));
	if (!cc || cact_request_new(&cc->cfg) || cact_request_new(&cc->direct)) {
		if (cc)
			cact_request_free(cc->cfg);
		free(cc);
		return ut_err(err, CACT_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&cc->lock, NULL);
	cc->rt = rt;
	cact_sandbox_session_options_init(&cc->session_opts);
	*out = cc;
	return 0;
}

CACT_API void cact_codeact_set_runtime(struct cact_codeact *cc, struct cact_runtime *rt)
{
	pthread_mutex_lock(&cc->lock);
	cc->rt = rt;
	pthread_mutex_unlock(&cc->lock);
}

CACT_API void cact_codeact_free(struct cact_codeact *cc)
{
	if (!cc)
		return;
	cact_request_free(cc->cfg);
	cact_request_free(cc->direct);
	cc_python_free(cc);
	free(cc->live_desc);
	while (cc->n_retired > 0)
		free(cc->retired[--cc->n_retired]);
	free(cc->retired);
	pthread_mutex_destroy(&cc->lock);
	free(cc);
}

#define LOCKED(cc, expr)                                                    \
	({                                                                  \
		pthread_mutex_lock(&((struct cact_codeact *)(cc))->lock);   \
		__typeof__(expr) locked_result_ = (expr);                   \
		pthread_mutex_unlock(&((struct cact_codeact *)(cc))->lock); \
		locked_result_;                                             \
	})

enum cact_approval cc_effective_approval(const struct cact_codeact *cc)
{
	size_t i;

	if (cc->default_approval == CACT_APPROVAL_ALWAYS_REQUIRE)
		return CACT_APPROVAL_ALWAYS_REQUIRE;
	if (cc->per_call)
		return CACT_APPROVAL_NEVER_REQUIRE;
	for (i = 0; i < cc->cfg->n_tools; i++)
		if (cact_tool_approval(cc->cfg->tools[i]) == CACT_APPROVAL_ALWAYS_REQUIRE)
			return CACT_APPROVAL_ALWAYS_REQUIRE;
	return CACT_APPROVAL_NEVER_REQUIRE;
}

CACT_API void cact_codeact_set_default_approval(struct cact_codeact *cc, enum cact_approval a)
{
	pthread_mutex_lock(&cc->lock);
	cc->default_approval = a == CACT_APPROVAL_ALWAYS_REQUIRE ? a : CACT_APPROVAL_NEVER_REQUIRE;
	pthread_mutex_unlock(&cc->lock);
}

CACT_API enum cact_approval cact_codeact_default_approval(const struct cact_codeact *cc)
{
	return LOCKED(cc, cc->default_approval);
}

CACT_API enum cact_approval cact_codeact_approval(const struct cact_codeact *cc)
{
	return LOCKED(cc, cc_effective_approval(cc));
}

CACT_API void cact_codeact_set_per_call_approval(struct cact_codeact *cc, int on,
						 cact_approval_fn fn, void *user)
{
	pthread_mutex_lock(&cc->lock);
	cc->per_call = !!on;
	cc->approve_fn = fn;
	cc->approve_user = user;
	pthread_mutex_unlock(&cc->lock);
}

CACT_API int cact_codeact_per_call_approval(const struct cact_codeact *cc)
{
	return LOCKED(cc, cc->per_call);
}

CACT_API int cact_codeact_add_tool(struct cact_codeact *cc, struct cact_tool *tool,
				   struct cact_error *err)
{
	if (!tool)
		return ut_err(err, CACT_EINVAL, "tool is NULL");
	/* The model calls execute_code itself: a sandbox tool of that name would shadow nothing but confuse it. */
	if (strcmp(cact_tool_name(tool), "execute_code") == 0)
		return ut_err(err, CACT_EINVAL, "a sandbox tool may not be named execute_code");
	return LOCKED(cc, cact_request_add_tool(cc->cfg, tool, err));
}

CACT_API int cact_codeact_remove_tool(struct cact_codeact *cc, const char *name,
				      struct cact_error *err)
{
	return LOCKED(cc, cact_request_remove_tool(cc->cfg, name, err));
}

CACT_API void cact_codeact_clear_tools(struct cact_codeact *cc)
{
	pthread_mutex_lock(&cc->lock);
	cact_request_clear_tools(cc->cfg);
	pthread_mutex_unlock(&cc->lock);
}

CACT_API int cact_codeact_tools(const struct cact_codeact *cc, struct cact_tool ***out, size_t *n)
{
	struct cact_codeact *m = (struct cact_codeact *)cc;
	struct cact_tool **list;
	size_t i;

	pthread_mutex_lock(&m->lock);
	list = calloc(m->cfg->n_tools + 1, sizeof(*list));
	if (!list) {
		pthread_mutex_unlock(&m->lock);
		return CACT_ENOMEM;
	}
	for (i = 0; i < m->cfg->n_tools; i++)
		list[i] = cact_tool_ref(m->cfg->tools[i]);
	*n = m->cfg->n_tools;
	pthread_mutex_unlock(&m->lock);
	*out = list;
	return 0;
}

CACT_API int cact_codeact_direct_tools(const struct cact_codeact *cc, struct cact_tool ***out,
				       size_t *n)
{
	struct cact_codeact *m = (struct cact_codeact *)cc;
	struct cact_tool **list;
	size_t i;

	pthread_mutex_lock(&m->lock);
	list = calloc(m->direct->n_tools + 1, sizeof(*list));
	if (list) {
		for (i = 0; i < m->direct->n_tools; i++)
			list[i] = cact_tool_ref(m->direct->tools[i]);
		*n = m->direct->n_tools;
	}
	pthread_mutex_unlock(&m->lock);
	*out = list;
	return list ? 0 : CACT_ENOMEM;
}

CACT_API void cact_tools_free(struct cact_tool **tools, size_t n)
{
	size_t i;

	for (i = 0; tools && i < n; i++)
		cact_tool_unref(tools[i]);
	free(tools);
}

CACT_API int cact_codeact_set_workspace(struct cact_codeact *cc, const char *dir,
					struct cact_error *err)
{
	return LOCKED(cc, cact_request_set_workspace(cc->cfg, dir, err));
}

CACT_API int cact_codeact_add_file_mount(struct cact_codeact *cc, const char *host,
					 const char *mount, struct cact_error *err)
{
	return LOCKED(cc, cact_request_add_mount(cc->cfg, host, mount, err));
}

CACT_API int cact_codeact_remove_file_mount(struct cact_codeact *cc, const char *mount,
					    struct cact_error *err)
{
	return LOCKED(cc, cact_request_remove_mount(cc->cfg, mount, err));
}

CACT_API void cact_codeact_clear_file_mounts(struct cact_codeact *cc)
{
	pthread_mutex_lock(&cc->lock);
	/* From the end: each removal is then a plain truncation. */
	while (cc->cfg->n_mounts > 0)
		if (cact_request_remove_mount(cc->cfg, cc->cfg->mounts[cc->cfg->n_mounts - 1].guest,
					      NULL))
			break;
	pthread_mutex_unlock(&cc->lock);
}

/*
 * The mounts as one block (cact_free): the array, then every string it
 * points to, so that the caller has one thing to free and nothing to
 * unlock.
 */
CACT_API int cact_codeact_file_mounts(const struct cact_codeact *cc, struct cact_file_mount **out,
				      size_t *n)
{
	struct cact_codeact *m = (struct cact_codeact *)cc;
	const struct cact_request *cfg;
	struct cact_file_mount *list = NULL;
	size_t i, bytes, count;
	char *p;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&m->lock);
	cfg = m->cfg;
	count = cfg->n_mounts;
	bytes = (count + 1) * sizeof(*list);
	for (i = 0; i < count; i++)
		bytes += strlen(cfg->mounts[i].host) + strlen(cfg->mounts[i].guest) + 2;
	list = calloc(1, bytes);
	if (list) {
		p = (char *)(list + count + 1);
		for (i = 0; i < count; i++) {
			list[i].host_path = p;
			p = stpcpy(p, cfg->mounts[i].host) + 1;
			list[i].mount_path = p;
			p = stpcpy(p, cfg->mounts[i].guest) + 1;
		}
	}
	pthread_mutex_unlock(&m->lock);
	if (!list)
		return CACT_ENOMEM;
	*out = list;
	*n = count;
	return 0;
}

CACT_API int cact_codeact_add_allowed_domain(struct cact_codeact *cc, const char *target,
					     const char *const *methods, size_t n,
					     struct cact_error *err)
{
	return LOCKED(cc, cact_request_add_allowed_domain(cc->cfg, target, methods, n, err));
}

CACT_API int cact_codeact_remove_allowed_domain(struct cact_codeact *cc, const char *target,
						struct cact_error *err)
{
	return LOCKED(cc, cact_request_remove_allowed_domain(cc->cfg, target, err));
}

CACT_API void cact_codeact_clear_allowed_domains(struct cact_codeact *cc)
{
	pthread_mutex_lock(&cc->lock);
	while (cc->cfg->n_domains > 0)
		if (cact_request_remove_allowed_domain(
			    cc->cfg, cc->cfg->domains[cc->cfg->n_domains - 1].target, NULL))
			break;
	pthread_mutex_unlock(&cc->lock);
}

/* Number of methods in "GET,POST" (0 for NULL: all methods). */
static size_t count_methods(const char *list)
{
	size_t n = list && *list ? 1 : 0;

	for (; list && *list; list++)
		n += *list == ',';
	return n;
}

/*
 * One block as for cact_codeact_file_mounts: the array, then every entry's
 * method pointers, then the strings.
 */
CACT_API int cact_codeact_allowed_domains(const struct cact_codeact *cc,
					  struct cact_allowed_domain **out, size_t *n)
{
	struct cact_codeact *m = (struct cact_codeact *)cc;
	const struct cact_request *cfg;
	struct cact_allowed_domain *list = NULL;
	size_t i, k, bytes, count, n_ptrs = 0;
	const char **ptrs, *c;
	char *p;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&m->lock);
	cfg = m->cfg;
	count = cfg->n_domains;
	bytes = (count + 1) * sizeof(*list);
	for (i = 0; i < count; i++) {
		n_ptrs += count_methods(cfg->domains[i].methods);
		bytes += strlen(cfg->domains[i].target) + 1;
		bytes += cfg->domains[i].methods ? strlen(cfg->domains[i].methods) + 1 : 0;
	}
	bytes += n_ptrs * sizeof(*ptrs);
	list = calloc(1, bytes);
	if (list) {
		ptrs = (const char **)(list + count + 1);
		p = (char *)(ptrs + n_ptrs);
		for (i = 0; i < count; i++) {
			const struct rt_domain *d = &cfg->domains[i];

			list[i].target = p;
			p = stpcpy(p, d->target) + 1;
			list[i].n_methods = count_methods(d->methods);
			if (list[i].n_methods == 0)
				continue;
			/* "GET,POST" is copied with each comma cut into a NUL. */
			list[i].methods = ptrs;
			ptrs[0] = p;
			for (c = d->methods, k = 1; *c; c++) {
				if (*c == ',') {
					*p++ = '\0';
					ptrs[k++] = p;
				} else {
					*p++ = *c;
				}
			}
			*p++ = '\0';
			ptrs += list[i].n_methods;
		}
	}
	pthread_mutex_unlock(&m->lock);
	if (!list)
		return CACT_ENOMEM;
	*out = list;
	*n = count;
	return 0;
}

CACT_API int cact_codeact_set_ca_file(struct cact_codeact *cc, const char *path,
				      struct cact_error *err)
{
	return LOCKED(cc, cact_request_set_ca_file(cc->cfg, path, err));
}

CACT_API int cact_codeact_set_proxy(struct cact_codeact *cc, const char *proxy,
				    struct cact_error *err)
{
	return LOCKED(cc, cact_request_set_proxy(cc->cfg, proxy, err));
}

CACT_API int cact_codeact_add_resolve(struct cact_codeact *cc, const char *host, const char *addr,
				      struct cact_error *err)
{
	return LOCKED(cc, cact_request_add_resolve(cc->cfg, host, addr, err));
}

CACT_API int cact_codeact_add_redirect_header(struct cact_codeact *cc, const char *name,
					      struct cact_error *err)
{
	return LOCKED(cc, cact_request_add_redirect_header(cc->cfg, name, err));
}

CACT_API int cact_codeact_set_limit(struct cact_codeact *cc, enum cact_limit which, uint64_t value,
				    struct cact_error *err)
{
	return LOCKED(cc, cact_request_set_limit(cc->cfg, which, value, err));
}

CACT_API char *cact_codeact_description(const struct cact_codeact *cc)
{
	return LOCKED(cc, cc_describe(cc, cc->persistent));
}

CACT_API char *cact_codeact_state(const struct cact_codeact *cc)
{
	return LOCKED(cc, cc_state(cc));
}

const char *cc_live_description(struct cact_codeact *cc)
{
	const char *out;
	char *text, **grown;

	pthread_mutex_lock(&cc->lock);
	/* A hand-wired execute_code has no conversation to keep a session for: each call is fresh. */
	text = cc_describe(cc, 0);
	if (text && cc->live_desc && strcmp(text, cc->live_desc) == 0) {
		free(text);
	} else if (text && !cc->live_desc) {
		cc->live_desc = text;
	} else if (text) {
		/* A reader may still hold the old text: it stays until cc goes. */
		grown = realloc(cc->retired, (cc->n_retired + 1) * sizeof(*grown));
		if (grown) {
			cc->retired = grown;
			cc->retired[cc->n_retired++] = cc->live_desc;
			cc->live_desc = text;
		} else {
			free(text);
		}
	}
	out = cc->live_desc;
	pthread_mutex_unlock(&cc->lock);
	return out;
}

/* A private copy of the configuration (lock held). */
static int copy_of(const struct cact_codeact *cc, struct cact_codeact **out)
{
	struct cact_codeact *c = calloc(1, sizeof(*c));

	if (!c)
		return CACT_ENOMEM;
	*c = *cc;
	pthread_mutex_init(&c->lock, NULL);
	c->cfg = c->direct = NULL;
	c->live_desc = NULL;
	c->retired = NULL;
	c->n_retired = 0;
	if (cact_request_dup(cc->cfg, &c->cfg) || cact_request_dup(cc->direct, &c->direct) ||
	    cc_python_copy(c, cc)) {
		cact_request_free(c->cfg);
		cact_request_free(c->direct);
		pthread_mutex_destroy(&c->lock);
		free(c);
		return CACT_ENOMEM;
	}
	*out = c;
	return 0;
}

CACT_API int cact_codeact_snapshot(const struct cact_codeact *cc, struct cact_codeact **out,
				   struct cact_error *err)
{
	int rc = LOCKED(cc, copy_of(cc, out));

	return rc ? ut_err(err, rc, "out of memory") : 0;
}

void cc_take_config(struct cact_codeact *cc, struct cact_codeact *from)
{
	struct cact_request *cfg, *direct;

	pthread_mutex_lock(&cc->lock);
	cfg = cc->cfg;
	direct = cc->direct;
	cc->cfg = from->cfg;
	cc->direct = from->direct;
	cc->default_approval = from->default_approval;
	cc->per_call = from->per_call;
	cc->persistent = from->persistent;
	cc->session_opts = from->session_opts;
	from->cfg = cfg;
	from->direct = direct;
	/* Swapped too: from frees cc's old ones. */
	{
		struct cact_codeact held = *cc;

		cc->py_paths = from->py_paths;
		cc->n_py_paths = from->n_py_paths;
		cc->preload = from->preload;
		cc->n_preload = from->n_preload;
		from->py_paths = held.py_paths;
		from->n_py_paths = held.n_py_paths;
		from->preload = held.preload;
		from->n_preload = held.n_preload;
	}
	pthread_mutex_unlock(&cc->lock);
}

int cc_execute(struct cact_codeact *cc, const char *code, size_t len, const struct cc_hooks *hooks,
	       struct cact_result **out, struct cact_error *err)
{
	struct cact_request *req = NULL;
	struct cact_runtime *rt;
	int rc;

	*out = NULL;
	pthread_mutex_lock(&cc->lock);
	rt = cc->rt;
	rc = cact_request_dup(cc->cfg, &req);
	if (rc == 0) {
		/* The configuration's own callback first; the run's when it has none. */
		if (cc->approve_fn || !hooks)
			cact_request_set_approval(req, cc->per_call, cc->approve_fn,
						  cc->approve_user);
		else
			cact_request_set_approval(req, cc->per_call, hooks->approve,
						  hooks->approve_user);
		if (hooks) {
			req->observe_fn = hooks->observe;
			req->observe_user = hooks->observe_user;
			req->cancel_fd = hooks->cancel_fd;
			cact_request_set_output(req, hooks->output, hooks->output_user);
		}
	}
	pthread_mutex_unlock(&cc->lock);
	if (rc)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	if (!rt)
		rc = ut_err(err, CACT_EINVAL, "no runtime to execute on");
	else if ((rc = cact_request_set_code(req, code, len, err)) == 0)
		rc = cact_runtime_run(rt, req, out, err);
	cact_request_free(req);
	return rc;
}

CACT_API int cact_codeact_execute(struct cact_codeact *cc, const char *code, size_t len,
				  struct cact_result **out, struct cact_error *err)
{
	return cc_execute(cc, code, len, NULL, out, err);
}

CACT_API void cact_codeact_execute_options_init(struct cact_codeact_execute_options *o)
{
	memset(o, 0, sizeof(*o));
	o->cancel_fd = -1;
}

CACT_API int cact_codeact_execute_with(struct cact_codeact *cc, const char *code, size_t len,
				       const struct cact_codeact_execute_options *opts,
				       struct cact_result **out, struct cact_error *err)
{
	struct cc_hooks hooks = {.cancel_fd = -1};

	if (!opts)
		return cc_execute(cc, code, len, NULL, out, err);
	/* No approval callback here: the configuration's own one applies. */
	hooks.cancel_fd = opts->cancel_fd;
	hooks.output = opts->output;
	hooks.output_user = opts->output_user;
	return cc_execute(cc, code, len, &hooks, out, err);
}

CACT_API int cact_codeact_session_new(struct cact_codeact *cc,
				      const struct cact_sandbox_session_options *opts,
				      struct cact_sandbox_session **out, struct cact_error *err)
{
	struct cact_sandbox_session_options so;
	struct cact_request *tmpl = NULL;
	struct cact_runtime *rt;
	int rc;

	*out = NULL;
	pthread_mutex_lock(&cc->lock);
	rt = cc->rt;
	rc = cact_request_dup(cc->cfg, &tmpl);
	if (rc == 0)
		cact_request_set_approval(tmpl, cc->per_call, cc->approve_fn, cc->approve_user);
	so = opts ? *opts : cc->session_opts;
	pthread_mutex_unlock(&cc->lock);
	if (rc)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	if (!rt)
		rc = ut_err(err, CACT_EINVAL, "no runtime to start a session on");
	else
		rc = cact_sandbox_session_new(rt, tmpl, &so, out, err);
	cact_request_free(tmpl);
	return rc;
}

/* A session run's request gets the run's hooks (cc_session_run). */
struct session_hooks {
	const struct cc_hooks *hooks;
	int own_approval; /* the configuration had its own callback: it stays */
};

static void adjust_run(struct cact_request *req, void *user)
{
	const struct session_hooks *sh = user;

	if (!sh->hooks)
		return;
	if (!sh->own_approval)
		cact_request_set_approval(req, req->per_call, sh->hooks->approve,
					  sh->hooks->approve_user);
	req->observe_fn = sh->hooks->observe;
	req->observe_user = sh->hooks->observe_user;
}

int cc_session_run(struct cact_codeact *cc, struct cact_sandbox_session *s, const char *code,
		   size_t len, const struct cc_hooks *hooks, struct cact_result **out,
		   struct cact_error *err)
{
	struct cact_sandbox_session_run_options o;
	struct session_hooks sh = {.hooks = hooks};

	pthread_mutex_lock(&cc->lock);
	sh.own_approval = cc->approve_fn != NULL;
	pthread_mutex_unlock(&cc->lock);
	cact_sandbox_session_run_options_init(&o);
	if (hooks) {
		o.cancel_fd = hooks->cancel_fd;
		o.output = hooks->output;
		o.output_user = hooks->output_user;
	}
	return rt_session_run(s, code, len, &o, adjust_run, &sh, out, err);
}

CACT_API int cact_codeact_call(struct cact_codeact *cc, const char *args_json,
			       struct cact_result **out, struct cact_error *err)
{
	json_error_t jerr;
	json_t *args = json_loads(args_json ? args_json : "", JSON_REJECT_DUPLICATES, &jerr);
	json_t *code = json_object_get(args, "code");
	int rc;

	*out = NULL;
	if (!args)
		return ut_err(err, CACT_EINVAL, "execute_code arguments are not JSON: %s",
			      jerr.text);
	if (!json_is_object(args) || !json_is_string(code) || json_object_size(args) != 1) {
		json_decref(args);
		return ut_err(err, CACT_EINVAL,
			      "execute_code takes one argument, {\"code\": \"...\"}");
	}
	rc = cact_codeact_execute(cc, json_string_value(code), json_string_length(code), out, err);
	json_decref(args);
	return rc;
}
