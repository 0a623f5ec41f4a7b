/* SPDX-License-Identifier: MIT */
/*
 * CodeAct: the execute_code tool over a struct cact_codeact
 * (include/cact/codeact.h): configuration, what the model reads, state,
 * execution, and a model's tool call answered as cact agent answers it.
 * The Python class cact.CodeAct (cact/_codeact.py) adds the conveniences
 * (several items per call, execute_async, the OpenAI schema).
 *
 * libcact owns the configuration; the object keeps, by name, the Tool
 * objects behind its callback tools (their callbacks find them through
 * the registry, weakly) and holds them for every execution.
 */
#include <jansson.h>
#include <string.h>

#include "cpy.h"

/* What cact agent caps a tool's answer to (lib/agent/agent.c, TOOL_RESULT_MAX). */
#define MODEL_TEXT_MAX ((4u << 20) + 1024)

typedef struct {
	PyObject_HEAD struct cact_codeact *cc;
	cpy_Runtime *runtime; /* a reference; NULL: the default runtime, taken when needed */
	PyObject *tools;      /* dict: name -> Tool, the Python side of cc's callback tools */
	PyObject *approve;    /* None or the per-call approval callable */
	uint64_t approve_id;  /* its registry entry (approve, None) */
	PyObject *weakreflist;
} cpy_CodeAct;

/* A tool with execute_code's schema, for checking a model's arguments as cact agent does. */
static struct cact_tool *schema_tool;

static int never_called(void *user, const char *name, const char *args, char **out,
			struct cact_error *err)
{
	return CACT_EINVAL;
}

static PyObject *codeact_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	cpy_CodeAct *self = (cpy_CodeAct *)type->tp_alloc(type, 0);

	if (!self)
		return NULL;
	self->tools = PyDict_New();
	Py_INCREF(Py_None);
	self->approve = Py_None;
	if (!self->tools) {
		Py_DECREF(self);
		return NULL;
	}
	return (PyObject *)self;
}

static int ready(cpy_CodeAct *self)
{
	if (!self->cc) {
		PyErr_SetString(PyExc_ValueError, "this CodeAct was not initialized");
		return -1;
	}
	return 0;
}

static int set_runtime(cpy_CodeAct *self, PyObject *rt)
{
	if (rt != Py_None && !cpy_Runtime_Check(rt)) {
		PyErr_Format(PyExc_TypeError, "runtime must be a cact.Runtime or None, not %.100s",
			     Py_TYPE(rt)->tp_name);
		return -1;
	}
	if (rt == Py_None) {
		Py_CLEAR(self->runtime);
		cact_codeact_set_runtime(self->cc, NULL);
		return 0;
	}
	Py_INCREF(rt);
	Py_XSETREF(self->runtime, (cpy_Runtime *)rt);
	/* libcact borrows it; every execution enters the Runtime's guard first. */
	cact_codeact_set_runtime(self->cc, self->runtime->rt);
	return 0;
}

static int codeact_init(cpy_CodeAct *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"runtime", NULL};
	struct cact_error err = {0};
	PyObject *rt = Py_None;
	int rc;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:CodeAct", kwlist, &rt))
		return -1;
	if (self->cc) {
		PyErr_SetString(PyExc_TypeError, "CodeAct.__init__ may run only once");
		return -1;
	}
	if ((rc = cact_codeact_new(NULL, &self->cc, &err))) {
		cpy_raise(rc, &err, NULL);
		return -1;
	}
	return set_runtime(self, rt);
}

static int codeact_traverse(cpy_CodeAct *self, visitproc visit, void *arg)
{
	Py_VISIT(self->tools);
	Py_VISIT(self->approve);
	Py_VISIT(self->runtime);
	return 0;
}

static int codeact_clear(cpy_CodeAct *self)
{
	Py_CLEAR(self->tools);
	Py_CLEAR(self->approve);
	Py_CLEAR(self->runtime);
	return 0;
}

static void codeact_dealloc(cpy_CodeAct *self)
{
	PyObject_GC_UnTrack(self);
	if (self->weakreflist)
		PyObject_ClearWeakRefs((PyObject *)self);
	/* Executions hold a reference to the object: none is in flight. */
	cact_codeact_free(self->cc);
	self->cc = NULL;
	cpy_unregister(self->approve_id);
	codeact_clear(self);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

/* The runtime to execute on: the object's, or the package's default. New reference. */
static cpy_Runtime *runtime_of(cpy_CodeAct *self)
{
	PyObject *rt;

	if (!self->runtime) {
		rt = PyObject_CallNoArgs(cpy_hooks.default_runtime);
		if (!rt)
			return NULL;
		if (set_runtime(self, rt)) {
			Py_DECREF(rt);
			return NULL;
		}
		Py_DECREF(rt);
	}
	Py_INCREF(self->runtime);
	return self->runtime;
}

/* ---- tools ---- */

static PyObject *codeact_add_tool(cpy_CodeAct *self, PyObject *obj)
{
	struct cact_error err = {0};
	cpy_Tool *t;
	PyObject *name = NULL;
	int rc;

	if (ready(self) || !(t = cpy_tool_from(obj)))
		return NULL;
	if ((rc = cact_codeact_add_tool(self->cc, t->tool, &err))) {
		Py_DECREF(t);
		return cpy_raise(rc, &err, NULL);
	}
	/* Same name: replaced and moved to the end, as libcact does. */
	name = PyUnicode_FromString(cact_tool_name(t->tool));
	if (!name ||
	    (PyDict_GetItemWithError(self->tools, name) && PyDict_DelItem(self->tools, name)) ||
	    PyErr_Occurred() || PyDict_SetItem(self->tools, name, (PyObject *)t)) {
		Py_XDECREF(name);
		Py_DECREF(t);
		return NULL;
	}
	Py_DECREF(name);
	return (PyObject *)t; /* the Tool registered */
}

static PyObject *codeact_remove_tool(cpy_CodeAct *self, PyObject *name)
{
	struct cact_error err = {0};
	const char *s;
	int rc;

	if (ready(self))
		return NULL;
	if (cpy_Tool_Check(name)) {
		PyObject *n = PyObject_GetAttrString(name, "name"), *r;

		r = n ? codeact_remove_tool(self, n) : NULL;
		Py_XDECREF(n);
		return r;
	}
	if (!(s = cpy_utf8(name, "a tool name", NULL)))
		return NULL;
	if ((rc = cact_codeact_remove_tool(self->cc, s, &err)))
		return cpy_raise(rc, &err, NULL);
	if (PyDict_DelItem(self->tools, name))
		PyErr_Clear(); /* served outside Python: not held here */
	Py_RETURN_NONE;
}

static PyObject *codeact_clear_tools(cpy_CodeAct *self, PyObject *unused)
{
	if (ready(self))
		return NULL;
	cact_codeact_clear_tools(self->cc);
	PyDict_Clear(self->tools);
	Py_RETURN_NONE;
}

static PyObject *codeact_get_tools(cpy_CodeAct *self, PyObject *unused)
{
	struct cact_tool **tools = NULL;
	PyObject *list = NULL, *t;
	size_t n = 0, i;

	if (ready(self))
		return NULL;
	if (cact_codeact_tools(self->cc, &tools, &n))
		return PyErr_NoMemory();
	list = PyList_New((Py_ssize_t)n);
	for (i = 0; list && i < n; i++) {
		t = PyDict_GetItemString(self->tools, cact_tool_name(tools[i])); /* borrowed */
		if (t && ((cpy_Tool *)t)->tool == tools[i])
			Py_INCREF(t);
		else
			t = (PyObject *)cpy_tool_wrap(tools[i]); /* a command or MCP tool */
		if (!t) {
			Py_CLEAR(list);
			break;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, t);
	}
	cact_tools_free(tools, n);
	return list;
}

/* ---- files ---- */

static PyObject *codeact_add_file_mount(cpy_CodeAct *self, PyObject *item)
{
	struct cact_error err = {0};
	PyObject *host = NULL, *mount = NULL;
	int rc;

	if (ready(self) || cpy_mount_item(item, &host, &mount))
		return NULL;
	rc = cact_codeact_add_file_mount(self->cc, PyBytes_AS_STRING(host),
					 mount ? PyBytes_AS_STRING(mount) : NULL, &err);
	Py_DECREF(host);
	Py_XDECREF(mount);
	if (rc)
		return cpy_raise(rc, &err, NULL);
	Py_RETURN_NONE;
}

static PyObject *codeact_remove_file_mount(cpy_CodeAct *self, PyObject *path)
{
	struct cact_error err = {0};
	PyObject *p;
	int rc;

	if (ready(self) || !(p = cpy_fspath(path, "mount_path")))
		return NULL;
	rc = cact_codeact_remove_file_mount(self->cc, PyBytes_AS_STRING(p), &err);
	Py_DECREF(p);
	if (rc)
		return cpy_raise(rc, &err, NULL);
	Py_RETURN_NONE;
}

static PyObject *codeact_clear_file_mounts(cpy_CodeAct *self, PyObject *unused)
{
	if (ready(self))
		return NULL;
	cact_codeact_clear_file_mounts(self->cc);
	Py_RETURN_NONE;
}

static PyObject *codeact_get_file_mounts(cpy_CodeAct *self, PyObject *unused)
{
	struct cact_file_mount *m = NULL;
	PyObject *list = NULL, *item;
	size_t n = 0, i;

	if (ready(self))
		return NULL;
	if (cact_codeact_file_mounts(self->cc, &m, &n))
		return PyErr_NoMemory();
	list = PyList_New((Py_ssize_t)n);
	for (i = 0; list && i < n; i++) {
		item = PyObject_CallFunction(cpy_hooks.FileMount, "NN",
					     PyUnicode_DecodeFSDefault(m[i].host_path),
					     PyUnicode_DecodeFSDefault(m[i].mount_path));
		if (!item) {
			Py_CLEAR(list);
			break;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, item);
	}
	cact_free(m);
	return list;
}

/* ---- network ---- */

static PyObject *codeact_add_allowed_domain(cpy_CodeAct *self, PyObject *item)
{
	struct cact_error err = {0};
	struct cpy_domain d;
	int rc;

	if (ready(self) || cpy_domain_item(item, &d))
		return NULL;
	rc = cact_codeact_add_allowed_domain(self->cc, PyUnicode_AsUTF8(d.target), d.methods, d.n,
					     &err);
	cpy_domain_clear(&d);
	if (rc)
		return cpy_raise(rc, &err, NULL);
	Py_RETURN_NONE;
}

static PyObject *codeact_remove_allowed_domain(cpy_CodeAct *self, PyObject *target)
{
	struct cact_error err = {0};
	const char *s;
	int rc;

	if (ready(self) || !(s = cpy_utf8(target, "target", NULL)))
		return NULL;
	if ((rc = cact_codeact_remove_allowed_domain(self->cc, s, &err)))
		return cpy_raise(rc, &err, NULL);
	Py_RETURN_NONE;
}

static PyObject *codeact_clear_allowed_domains(cpy_CodeAct *self, PyObject *unused)
{
	if (ready(self))
		return NULL;
	cact_codeact_clear_allowed_domains(self->cc);
	Py_RETURN_NONE;
}

static PyObject *codeact_get_allowed_domains(cpy_CodeAct *self, PyObject *unused)
{
	struct cact_allowed_domain *d = NULL;
	PyObject *list = NULL, *item, *methods;
	size_t n = 0, i, k;

	if (ready(self))
		return NULL;
	if (cact_codeact_allowed_domains(self->cc, &d, &n))
		return PyErr_NoMemory();
	list = PyList_New((Py_ssize_t)n);
	for (i = 0; list && i < n; i++) {
		if (d[i].methods) {
			methods = PyTuple_New((Py_ssize_t)d[i].n_methods);
			for (k = 0; methods && k < d[i].n_methods; k++) {
				PyObject *m = PyUnicode_FromString(d[i].methods[k]);

				if (!m) {
					Py_CLEAR(methods);
					break;
				}
				PyTuple_SET_ITEM(methods, (Py_ssize_t)k, m);
			}
		} else {
			Py_INCREF(Py_None);
			methods = Py_None;
		}
		item = methods ? PyObject_CallFunction(cpy_hooks.AllowedDomain, "sN", d[i].target,
						       methods)
			       : NULL;
		if (!item) {
			Py_CLEAR(list);
			break;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, item);
	}
	cact_free(d);
	return list;
}

/* ---- limits, config, approval ---- */

static PyObject *codeact_set_limit(cpy_CodeAct *self, PyObject *args)
{
	struct cact_error err = {0};
	const char *name;
	unsigned long long v;
	PyObject *value;
	int i, rc;

	if (ready(self) || !PyArg_ParseTuple(args, "sO:set_limit", &name, &value))
		return NULL;
	for (i = 0; i < CACT_LIMIT__COUNT; i++)
		if (strcmp(cact_limit_name(i), name) == 0)
			break;
	if (i == CACT_LIMIT__COUNT) {
		PyErr_Format(PyExc_ValueError, "unknown limit %R (see cact.limits())",
			     PyTuple_GET_ITEM(args, 0));
		return NULL;
	}
	if (PyBool_Check(value) || !PyLong_Check(value)) {
		PyErr_Format(PyExc_TypeError, "limit %s must be an int, not %.100s", name,
			     Py_TYPE(value)->tp_name);
		return NULL;
	}
	v = PyLong_AsUnsignedLongLong(value);
	if (v == (unsigned long long)-1 && PyErr_Occurred()) {
		PyErr_Clear();
		PyErr_Format(PyExc_ValueError, "limit %s must be between %llu and %llu, not %R",
			     name, (unsigned long long)cact_limit_min(i),
			     (unsigned long long)cact_limit_max(i), value);
		return NULL;
	}
	if ((rc = cact_codeact_set_limit(self->cc, i, v, &err)))
		return cpy_raise(rc, &err, NULL);
	Py_RETURN_NONE;
}

static PyObject *codeact_load_config(cpy_CodeAct *self, PyObject *path)
{
	struct cact_error err = {0};
	PyObject *p;
	int rc;

	if (ready(self) || !(p = cpy_fspath(path, "path")))
		return NULL;
	/* May start MCP servers: the GIL released. */
	Py_BEGIN_ALLOW_THREADS rc = cact_codeact_load_config(self->cc, PyBytes_AS_STRING(p), &err);
	Py_END_ALLOW_THREADS Py_DECREF(p);
	if (rc)
		return cpy_raise(rc, &err, NULL);
	Py_RETURN_NONE;
}

static PyObject *get_approval_mode(cpy_CodeAct *self, void *c)
{
	if (ready(self))
		return NULL;
	return PyUnicode_FromString(cact_approval_name(cact_codeact_default_approval(self->cc)));
}

static int set_approval_mode(cpy_CodeAct *self, PyObject *v, void *c)
{
	enum cact_approval a;

	if (ready(self))
		return -1;
	if (!v) {
		PyErr_SetString(PyExc_TypeError, "approval_mode cannot be deleted");
		return -1;
	}
	if (cpy_approval_parse(v, &a))
		return -1;
	cact_codeact_set_default_approval(self->cc, a);
	return 0;
}

static PyObject *get_approval_required(cpy_CodeAct *self, void *c)
{
	if (ready(self))
		return NULL;
	return PyBool_FromLong(cact_codeact_approval(self->cc) == CACT_APPROVAL_ALWAYS_REQUIRE);
}

static PyObject *get_approve(cpy_CodeAct *self, void *c)
{
	Py_INCREF(self->approve);
	return self->approve;
}

static int set_approve(cpy_CodeAct *self, PyObject *v, void *c)
{
	PyObject *entry;
	uint64_t id = 0;

	if (ready(self))
		return -1;
	if (!v)
		v = Py_None;
	if (v != Py_None && !PyCallable_Check(v)) {
		PyErr_Format(PyExc_TypeError, "approve must be callable (call) -> bool, not %.100s",
			     Py_TYPE(v)->tp_name);
		return -1;
	}
	if (v != Py_None) {
		entry = PyTuple_Pack(2, v, Py_None);
		id = entry ? cpy_register(entry) : 0;
		Py_XDECREF(entry);
		if (!id)
			return -1;
		cact_codeact_set_per_call_approval(self->cc, 1, cpy_approve_cb,
						   (void *)(uintptr_t)id);
	} else {
		cact_codeact_set_per_call_approval(self->cc, 0, NULL, NULL);
	}
	cpy_unregister(self->approve_id);
	self->approve_id = id;
	Py_INCREF(v);
	Py_XSETREF(self->approve, v);
	return 0;
}

static PyObject *get_workspace(cpy_CodeAct *self, void *c)
{
	char *st;
	json_t *root, *w;
	PyObject *out;

	if (ready(self))
		return NULL;
	st = cact_codeact_state(self->cc);
	root = st ? json_loads(st, 0, NULL) : NULL;
	cact_free(st);
	if (!root)
		return PyErr_NoMemory();
	w = json_object_get(root, "workspace_root");
	if (json_is_string(w))
		out = PyUnicode_DecodeFSDefault(json_string_value(w));
	else
		out = (Py_INCREF(Py_None), Py_None);
	json_decref(root);
	return out;
}

static int set_workspace(cpy_CodeAct *self, PyObject *v, void *c)
{
	struct cact_error err = {0};
	PyObject *p = NULL;
	int rc;

	if (ready(self))
		return -1;
	if (v && v != Py_None && !(p = cpy_fspath(v, "workspace_root")))
		return -1;
	rc = cact_codeact_set_workspace(self->cc, p ? PyBytes_AS_STRING(p) : NULL, &err);
	Py_XDECREF(p);
	if (rc) {
		cpy_raise(rc, &err, "workspace_root");
		return -1;
	}
	return 0;
}

static PyObject *get_runtime(cpy_CodeAct *self, void *c)
{
	PyObject *rt = self->runtime ? (PyObject *)self->runtime : Py_None;

	Py_INCREF(rt);
	return rt;
}

static int set_runtime_prop(cpy_CodeAct *self, PyObject *v, void *c)
{
	if (ready(self))
		return -1;
	return set_runtime(self, v ? v : Py_None);
}

/* ---- for the model ---- */

static PyObject *owned_text(char *s)
{
	PyObject *out;

	if (!s)
		return PyErr_NoMemory();
	out = PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace");
	cact_free(s);
	return out;
}

static PyObject *get_description(cpy_CodeAct *self, void *c)
{
	return ready(self) ? NULL : owned_text(cact_codeact_description(self->cc));
}

static PyObject *get_instructions(cpy_CodeAct *self, void *c)
{
	return ready(self) ? NULL : owned_text(cact_codeact_instructions(self->cc, 0));
}

static PyObject *codeact_instructions(cpy_CodeAct *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"tools_visible", NULL};
	int visible = 0;

	if (ready(self) ||
	    !PyArg_ParseTupleAndKeywords(args, kw, "|$p:get_instructions", kwlist, &visible))
		return NULL;
	return owned_text(cact_codeact_instructions(self->cc, visible));
}

static PyObject *codeact_state(cpy_CodeAct *self, PyObject *unused)
{
	char *st;
	PyObject *s, *v;

	if (ready(self))
		return NULL;
	st = cact_codeact_state(self->cc);
	if (!st)
		return PyErr_NoMemory();
	s = PyUnicode_FromString(st);
	cact_free(st);
	v = s ? PyObject_CallOneArg(cpy_hooks.json_loads, s) : NULL;
	Py_XDECREF(s);
	return v;
}

/* ---- execution ---- */

/*
 * The configuration an execution runs: cc itself, or, when async tools or
 * an async approval callback must run on loop, a snapshot with those bound
 * to it (*snap, freed by the caller). -1 with an exception.
 */
static int bound_config(cpy_CodeAct *self, PyObject *loop, struct cpy_binds *b,
			struct cact_codeact **snap)
{
	struct cact_error err = {0};
	PyObject *key, *value;
	Py_ssize_t pos = 0;
	void *user = NULL;
	int rc;

	*snap = NULL;
	if (loop == Py_None)
		return 0;
	if ((rc = cact_codeact_snapshot(self->cc, snap, &err))) {
		cpy_raise(rc, &err, NULL);
		return -1;
	}
	while (PyDict_Next(self->tools, &pos, &key, &value)) {
		cpy_Tool *t = (cpy_Tool *)value;
		struct cact_tool *ct;

		if (!t->is_async)
			continue;
		if (!(ct = cpy_tool_bind(t, loop, b)))
			return -1;
		/* The same name replaces the snapshot's entry for this execution. */
		if ((rc = cact_codeact_add_tool(*snap, ct, &err))) {
			cpy_raise(rc, &err, NULL);
			return -1;
		}
	}
	if (self->approve != Py_None) {
		if (cpy_approval_bind(self->approve, loop, b, &user))
			return -1;
		cact_codeact_set_per_call_approval(*snap, 1, cpy_approve_cb, user);
	}
	return 0;
}

/* Runs code; *out the Result (new reference) or NULL with an exception. */
static PyObject *run(cpy_CodeAct *self, const char *code, Py_ssize_t len, PyObject *loop,
		     PyObject *on_output, struct cact_error *err, int *rc)
{
	struct cact_codeact_execute_options eo;
	struct cpy_output oo;
	struct cact_codeact *snap = NULL;
	struct cact_result *res = NULL;
	struct cpy_binds b = {0};
	cpy_Runtime *rt = NULL;
	PyObject *keep = NULL, *out = NULL;

	*rc = 0;
	if (cpy_output_init(&oo, on_output, -1, -1))
		return NULL;
	cact_codeact_execute_options_init(&eo);
	if (oo.fn) {
		eo.output = cpy_output_cb;
		eo.output_user = &oo;
		eo.cancel_fd = oo.cancel_fd;
	}
	if (!(rt = runtime_of(self))) {
		cpy_output_finish(&oo);
		return NULL;
	}
	/* The tools this run may call stay alive for it, whatever happens to the config. */
	keep = PyDict_Values(self->tools);
	if (!keep || bound_config(self, loop, &b, &snap) || cpy_runtime_enter(rt))
		goto out;
	Py_BEGIN_ALLOW_THREADS *rc = cact_codeact_execute_with(snap ? snap : self->cc, code,
							       (size_t)len, &eo, &res, err);
	Py_END_ALLOW_THREADS cpy_runtime_leave(rt);
	if (oo.failed) {
		/* What on_output raised comes first: the run stopped for it. */
		cact_result_free(res);
		*rc = 0;
	} else if (*rc == 0) {
		out = cpy_result_new(res);
	}
out:
	cpy_output_finish(&oo);
	cact_codeact_free(snap);
	cpy_binds_clear(&b);
	Py_XDECREF(keep);
	Py_DECREF(rt);
	return out;
}

static PyObject *execute(cpy_CodeAct *self, PyObject *code, PyObject *loop, PyObject *on_output)
{
	struct cact_error err = {0};
	const char *s;
	Py_ssize_t len;
	PyObject *out;
	int rc;

	if (ready(self) || !(s = cpy_utf8(code, "code", &len)))
		return NULL;
	out = run(self, s, len, loop, on_output, &err, &rc);
	if (rc)
		return cpy_raise(rc, &err, "cannot execute");
	return out;
}

static PyObject *codeact_execute(cpy_CodeAct *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"code", "on_output", NULL};
	PyObject *code, *on_output = Py_None;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$O:execute", kwlist, &code, &on_output))
		return NULL;
	return execute(self, code, Py_None, on_output);
}

/* _execute(code, loop, *, on_output=None): execute_async's worker (cact/_codeact.py). */
static PyObject *codeact_execute_bound(cpy_CodeAct *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"code", "loop", "on_output", NULL};
	PyObject *code, *loop, *on_output = Py_None;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|$O:_execute", kwlist, &code, &loop,
					 &on_output))
		return NULL;
	return execute(self, code, loop, on_output);
}

/* Asks approve (sync, or awaited on loop) about a call. 1, 0, or -1 with an exception. */
static int ask(PyObject *approve, PyObject *loop, const char *name, PyObject *arguments)
{
	PyObject *call, *r;
	int ok;

	if (approve == Py_None)
		return 0;
	call = PyObject_CallFunction(cpy_hooks.ToolCall, "sO", name, arguments);
	r = call ? PyObject_CallOneArg(approve, call) : NULL;
	Py_XDECREF(call);
	if (r && Py_TYPE(r)->tp_as_async && Py_TYPE(r)->tp_as_async->am_await) {
		PyObject *v = PyObject_CallFunctionObjArgs(cpy_hooks.run_awaitable, r, loop, NULL);

		Py_SETREF(r, v);
	}
	ok = r ? PyObject_IsTrue(r) : -1;
	Py_XDECREF(r);
	return ok;
}

/*
 * A model's execute_code call, answered with the text cact agent gives the
 * model for it (lib/agent/agent.c, tool_call; lib/agent/provider.c): the
 * same checks in the same order, the same messages.
 */
static PyObject *handle_call(cpy_CodeAct *self, PyObject *arguments, PyObject *loop)
{
	struct cact_error err = {0};
	json_error_t jerr;
	json_t *args = NULL, *code;
	char *compact = NULL, *text = NULL;
	const char *s;
	Py_ssize_t len;
	PyObject *res = NULL, *out = NULL, *pyargs = NULL;
	int rc, ok;

	if (ready(self) || !(s = cpy_utf8(arguments, "arguments_json", &len)))
		return NULL;
	args = json_loadb(len ? s : "{}", len ? (size_t)len : 2, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(args)) {
		out = PyUnicode_FromFormat(
			"Error: the arguments of 'execute_code' are not a JSON object%s%s",
			args ? "" : ": ", args ? "" : jerr.text);
		goto out;
	}
	compact = json_dumps(args, JSON_COMPACT);
	if (!compact) {
		out = PyUnicode_FromString("Error: out of memory");
		goto out;
	}
	if (cact_tool_validate(schema_tool, compact, &err)) {
		out = PyUnicode_FromFormat("Error: the arguments do not match the parameters of "
					   "'execute_code': %s",
					   err.message);
		goto out;
	}
	if (cact_codeact_approval(self->cc) == CACT_APPROVAL_ALWAYS_REQUIRE) {
		pyargs = PyUnicode_FromString(compact);
		Py_XSETREF(pyargs,
			   pyargs ? PyObject_CallOneArg(cpy_hooks.json_loads, pyargs) : NULL);
		ok = pyargs ? ask(self->approve, loop, "execute_code", pyargs) : -1;
		if (ok < 0)
			goto out;
		if (!ok) {
			out = PyUnicode_FromString(
				"Denied: the user did not approve this call of "
				"'execute_code'. Do not retry it unless the user "
				"asks.");
			goto out;
		}
	}
	code = json_object_get(args, "code");
	res = run(self, json_string_value(code), (Py_ssize_t)json_string_length(code), loop,
		  Py_None, &err, &rc);
	if (rc) {
		out = PyUnicode_FromFormat("Error: tool 'execute_code' failed: %s", err.message);
		goto out;
	}
	if (!res)
		goto out;
	text = cact_result_model_text(((cpy_Result *)res)->res);
	if (!text) {
		PyErr_NoMemory();
		goto out;
	}
	len = (Py_ssize_t)strlen(text);
	if ((size_t)len > MODEL_TEXT_MAX) {
		/* Cut as the agent's capped buffer does, on a character boundary. */
		len = MODEL_TEXT_MAX;
		while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80)
			len--;
	}
	out = PyUnicode_DecodeUTF8(text, len, "replace");
out:
	cact_free(text);
	Py_XDECREF(res);
	Py_XDECREF(pyargs);
	free(compact);
	json_decref(args);
	return out;
}

static PyObject *codeact_handle_tool_call(cpy_CodeAct *self, PyObject *arguments)
{
	return handle_call(self, arguments, Py_None);
}

static PyObject *codeact_handle_bound(cpy_CodeAct *self, PyObject *args)
{
	PyObject *arguments, *loop;

	if (!PyArg_ParseTuple(args, "OO:_handle_tool_call", &arguments, &loop))
		return NULL;
	return handle_call(self, arguments, loop);
}

static PyObject *codeact_session(cpy_CodeAct *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"idle_timeout", "lifetime", "cpu_total", NULL};
	PyObject *idle = Py_None, *life = Py_None, *cpu = Py_None, *keep = NULL, *out = NULL;
	struct cact_sandbox_session_options so;
	struct cact_sandbox_session *s = NULL;
	struct cact_codeact *snap = NULL;
	struct cact_error err = {0};
	struct cpy_binds b = {0};
	cpy_Runtime *rt = NULL;
	void *user = NULL;
	int rc;

	if (ready(self) ||
	    !PyArg_ParseTupleAndKeywords(args, kw, "|$OOO:session", kwlist, &idle, &life, &cpu))
		return NULL;
	cact_codeact_session_options(self->cc, &so);
	if ((idle != Py_None && cpy_seconds_ms(idle, "idle_timeout", &so.idle_timeout_ms)) ||
	    (life != Py_None && cpy_seconds_ms(life, "lifetime", &so.lifetime_ms)) ||
	    (cpu != Py_None && cpy_seconds_ms(cpu, "cpu_total", &so.cpu_total_ms)))
		return NULL;
	if (!(rt = runtime_of(self)))
		return NULL;
	keep = PyDict_Values(self->tools);
	if (!keep)
		goto out;
	if ((rc = cact_codeact_snapshot(self->cc, &snap, &err))) {
		cpy_raise(rc, &err, NULL);
		goto out;
	}
	/* The session's approval entry lives as long as the session, whatever approve becomes. */
	if (self->approve != Py_None) {
		if (cpy_approval_bind(self->approve, Py_None, &b, &user))
			goto out;
		cact_codeact_set_per_call_approval(snap, 1, cpy_approve_cb, user);
	}
	if (cpy_runtime_enter(rt))
		goto out;
	Py_BEGIN_ALLOW_THREADS rc = cact_codeact_session_new(snap, &so, &s, &err);
	Py_END_ALLOW_THREADS cpy_runtime_leave(rt);
	if (rc) {
		cpy_raise(rc, &err, "cannot start a session");
		goto out;
	}
	out = cpy_session_new(rt, s, keep, &b);
	keep = NULL;
out:
	cact_codeact_free(snap);
	cpy_binds_clear(&b);
	Py_XDECREF(keep);
	Py_DECREF(rt);
	return out;
}

/* from_state(state, runtime, tools): the classmethod's C part (cact/_codeact.py). */
static PyObject *codeact_from_state(PyTypeObject *cls, PyObject *args)
{
	PyObject *state, *rt, *tools, *it = NULL, *item, *held = NULL, *text = NULL;
	struct cact_tool **arr = NULL;
	struct cact_error err = {0};
	struct cact_codeact *cc = NULL;
	cpy_CodeAct *self = NULL;
	Py_ssize_t n, i;
	const char *s;
	int rc;

	if (!PyArg_ParseTuple(args, "OOO:_from_state", &state, &rt, &tools))
		return NULL;
	if (rt != Py_None && !cpy_Runtime_Check(rt)) {
		PyErr_Format(PyExc_TypeError, "runtime must be a cact.Runtime or None, not %.100s",
			     Py_TYPE(rt)->tp_name);
		return NULL;
	}
	if (PyDict_Check(state)) {
		text = PyObject_CallOneArg(cpy_hooks.json_dumps, state);
	} else if (PyUnicode_Check(state)) {
		Py_INCREF(state);
		text = state;
	} else {
		PyErr_Format(PyExc_TypeError, "state must be a dict (or its JSON text), not %.100s",
			     Py_TYPE(state)->tp_name);
		return NULL;
	}
	held = PyList_New(0);
	it = held && text ? cpy_items_iter(tools, "tools", "callables or cact.Tool objects") : NULL;
	if (!it)
		goto out;
	while ((item = PyIter_Next(it))) {
		cpy_Tool *t = cpy_tool_from(item);

		Py_DECREF(item);
		if (!t || PyList_Append(held, (PyObject *)t)) {
			Py_XDECREF(t);
			goto out;
		}
		Py_DECREF(t);
	}
	if (PyErr_Occurred())
		goto out;
	n = PyList_GET_SIZE(held);
	arr = PyMem_Calloc((size_t)n + 1, sizeof(*arr));
	if (!arr) {
		PyErr_NoMemory();
		goto out;
	}
	for (i = 0; i < n; i++)
		arr[i] = ((cpy_Tool *)PyList_GET_ITEM(held, i))->tool;
	if (!(s = cpy_utf8(text, "state", NULL)))
		goto out;
	rc = cact_codeact_new_from_state(NULL, s, arr, (size_t)n, &cc, &err);
	if (rc) {
		cpy_raise(rc, &err, "state");
		goto out;
	}
	self = (cpy_CodeAct *)cls->tp_new(cls, NULL, NULL);
	if (!self)
		goto out;
	self->cc = cc;
	cc = NULL;
	if (set_runtime(self, rt))
		Py_CLEAR(self);
	/* The Python side of the tools the state named, in their order. */
	for (i = 0; self && i < n; i++) {
		cpy_Tool *t = (cpy_Tool *)PyList_GET_ITEM(held, i);
		struct cact_tool **now = NULL;
		size_t k, m = 0;

		if (cact_codeact_tools(self->cc, &now, &m)) {
			PyErr_NoMemory();
			Py_CLEAR(self);
			break;
		}
		for (k = 0; k < m; k++) {
			if (now[k] == t->tool &&
			    PyDict_SetItemString(self->tools, cact_tool_name(t->tool),
						 (PyObject *)t))
				Py_CLEAR(self);
		}
		cact_tools_free(now, m);
	}
out:
	cact_codeact_free(cc);
	PyMem_Free(arr);
	Py_XDECREF(it);
	Py_XDECREF(held);
	Py_XDECREF(text);
	return (PyObject *)self;
}

static PyMethodDef codeact_methods[] = {
	{"add_tool", (PyCFunction)codeact_add_tool, METH_O,
	 "add_tool(tool) -> Tool\n\nRegisters one tool (a callable or a Tool); the same name "
	 "replaces the earlier tool and moves to the end. Returns the Tool."},
	{"remove_tool", (PyCFunction)codeact_remove_tool, METH_O,
	 "remove_tool(name) -> None\n\nValueError naming it when there is no such tool."},
	{"clear_tools", (PyCFunction)codeact_clear_tools, METH_NOARGS,
	 "clear_tools() -> None\n\nRemoves every tool."},
	{"get_tools", (PyCFunction)codeact_get_tools, METH_NOARGS,
	 "get_tools() -> list[Tool]\n\nThe tools in order."},
	{"add_file_mount", (PyCFunction)codeact_add_file_mount, METH_O,
	 "add_file_mount(mount) -> None\n\nA path (host path = mount path) or a (host path, "
	 "mount path) pair, read-only under /input."},
	{"remove_file_mount", (PyCFunction)codeact_remove_file_mount, METH_O,
	 "remove_file_mount(mount_path) -> None\n\n\"/input/x\", \"input/x\" or \"x\"."},
	{"clear_file_mounts", (PyCFunction)codeact_clear_file_mounts, METH_NOARGS,
	 "clear_file_mounts() -> None"},
	{"get_file_mounts", (PyCFunction)codeact_get_file_mounts, METH_NOARGS,
	 "get_file_mounts() -> list[FileMount]\n\nIn the order added: (host_path, mount_path)."},
	{"add_allowed_domain", (PyCFunction)codeact_add_allowed_domain, METH_O,
	 "add_allowed_domain(domain) -> None\n\nA target (\"api.example.com\", a URL, "
	 "\"*.example.com\", \"host:8443\") or a (target, method or methods) pair."},
	{"remove_allowed_domain", (PyCFunction)codeact_remove_allowed_domain, METH_O,
	 "remove_allowed_domain(target) -> None"},
	{"clear_allowed_domains", (PyCFunction)codeact_clear_allowed_domains, METH_NOARGS,
	 "clear_allowed_domains() -> None"},
	{"get_allowed_domains", (PyCFunction)codeact_get_allowed_domains, METH_NOARGS,
	 "get_allowed_domains() -> list[AllowedDomain]\n\nSorted by target: (target, methods "
	 "or None for all)."},
	{"set_limit", (PyCFunction)codeact_set_limit, METH_VARARGS,
	 "set_limit(name, value) -> None\n\nA limit by its name in cact.limits() (timeout_ms, "
	 "memory_bytes, ...)."},
	{"load_config", (PyCFunction)codeact_load_config, METH_O,
	 "load_config(path) -> None\n\nApplies a cact JSON configuration file (docs/codeact.md) "
	 "on top of the current configuration; a bad file changes nothing."},
	{"get_instructions", (PyCFunction)(void (*)(void))codeact_instructions,
	 METH_VARARGS | METH_KEYWORDS,
	 "get_instructions(*, tools_visible=False) -> str\n\nThe system-prompt text; "
	 "tools_visible says the sandbox's tools are also offered to the model directly."},
	{"state", (PyCFunction)codeact_state, METH_NOARGS,
	 "state() -> dict\n\nThe serializable state (docs/codeact.md, \"State\")."},
	{"execute", (PyCFunction)(void (*)(void))codeact_execute, METH_VARARGS | METH_KEYWORDS,
	 "execute(code, *, on_output=None) -> Result\n\nRuns code under a snapshot of the "
	 "configuration, the GIL released. Up-front approval is the caller's business "
	 "(approval_required); per-call approval happens inside. on_output(stream, text) is "
	 "called with \"stdout\" or \"stderr\" and the text as the code writes it, in order; "
	 "if it raises, the run stops and execute raises that."},
	{"_execute", (PyCFunction)(void (*)(void))codeact_execute_bound,
	 METH_VARARGS | METH_KEYWORDS,
	 "Internal: execute with async tools bound to an event loop."},
	{"handle_tool_call", (PyCFunction)codeact_handle_tool_call, METH_O,
	 "handle_tool_call(arguments_json) -> str\n\nA model's execute_code call (its arguments "
	 "as JSON text), answered with the text cact agent gives the model: the output, the "
	 "files, or an error, a denial, a bad-arguments message."},
	{"_handle_tool_call", (PyCFunction)codeact_handle_bound, METH_VARARGS,
	 "Internal: handle_tool_call with async callbacks bound to an event loop."},
	{"session", (PyCFunction)(void (*)(void))codeact_session, METH_VARARGS | METH_KEYWORDS,
	 "session(*, idle_timeout=None, lifetime=None, cpu_total=None) -> Session\n\nA "
	 "sandboxed interpreter kept across runs, with this configuration as it is now."},
	{"_from_state", (PyCFunction)codeact_from_state, METH_VARARGS | METH_CLASS,
	 "Internal: from_state's C part."},
	{NULL, NULL, 0, NULL},
};

static PyGetSetDef codeact_getset[] = {
	{"description", (getter)get_description, NULL,
	 "The tool description for the model, rebuilt from the configuration on every read.", NULL},
	{"instructions", (getter)get_instructions, NULL,
	 "Short instructions for the system prompt.", NULL},
	{"approval_mode", (getter)get_approval_mode, (setter)set_approval_mode,
	 "The default approval mode: \"never_require\" or \"always_require\".", NULL},
	{"approval_required", (getter)get_approval_required, NULL,
	 "Whether execute_code needs approval before it runs: the default mode is "
	 "always_require, or a tool is and there is no per-call approval.",
	 NULL},
	{"approve", (getter)get_approve, (setter)set_approve,
	 "Per-call approval: approve(call) -> bool (or an awaitable of it), asked before each "
	 "call of an always_require tool; None turns per-call approval off.",
	 NULL},
	{"workspace_root", (getter)get_workspace, (setter)set_workspace,
	 "A host folder visible read-only at /input, or None.", NULL},
	{"runtime", (getter)get_runtime, (setter)set_runtime_prop,
	 "The Runtime executions run on (None: the package's default runtime).", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject cpy_CodeActType = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "cact._cact.CodeAct",
	.tp_basicsize = sizeof(cpy_CodeAct),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
	.tp_doc = "The C core of cact.CodeAct.",
	.tp_new = codeact_new,
	.tp_init = (initproc)codeact_init,
	.tp_dealloc = (destructor)codeact_dealloc,
	.tp_traverse = (traverseproc)codeact_traverse,
	.tp_clear = (inquiry)codeact_clear,
	.tp_methods = codeact_methods,
	.tp_getset = codeact_getset,
	.tp_weaklistoffset = offsetof(cpy_CodeAct, weakreflist),
};

int cpy_codeact_ready(PyObject *m)
{
	struct cact_error err = {0};

	if (cact_tool_new_callback("execute_code", NULL, cact_codeact_input_schema(),
				   CACT_APPROVAL_NEVER_REQUIRE, never_called, NULL, &schema_tool,
				   &err)) {
		PyErr_Format(PyExc_ImportError, "cannot build execute_code's schema: %s",
			     err.message);
		return -1;
	}
	if (PyType_Ready(&cpy_CodeActType))
		return -1;
	Py_INCREF(&cpy_CodeActType);
	if (PyModule_AddObject(m, "CodeAct", (PyObject *)&cpy_CodeActType)) {
		Py_DECREF(&cpy_CodeActType);
		return -1;
	}
	return 0;
}
