/* SPDX-License-Identifier: MIT */
/*
 * Tool: a Python callable as a libcact callback tool, and the callbacks
 * libcact calls on its own threads: a tool call from sandboxed code, and a
 * per-call approval question.
 *
 * A callback hands its Python part to one of the extension's Python
 * threads (cpy_in_python: libcact makes a thread per call), which finds its Python objects by id in the registry
 * (cpy.h says why ids), decodes the arguments (already checked against the
 * schema by libcact), calls the function, runs an awaitable result on an
 * event loop (cact/_aio.py), and encodes the value as compact JSON. A
 * Python exception becomes the reason the code's RuntimeError carries:
 * "Type: message", never a traceback of the host.
 */
#include <string.h>

#include "cpy.h"

/* ---- exceptions into cact_error ---- */

/* Copies s (UTF-8) into out, cut on a character boundary. */
static void copy_cut(char *out, size_t size, const char *s)
{
	size_t n = strlen(s);

	if (n >= size) {
		n = size - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(out, s, n);
	out[n] = '\0';
}

static int fail(struct cact_error *err, const char *msg)
{
	err->code = CACT_EINVAL;
	copy_cut(err->message, sizeof(err->message), msg);
	return CACT_EINVAL;
}

/* The pending Python exception as "<prefix>Type: message" in err; clears it. GIL held. */
static int fail_exc(struct cact_error *err, const char *prefix)
{
	PyObject *type = NULL, *value = NULL, *tb = NULL, *text = NULL, *line = NULL;
	const char *name, *s;

	PyErr_Fetch(&type, &value, &tb);
	PyErr_NormalizeException(&type, &value, &tb);
	name = type ? ((PyTypeObject *)type)->tp_name : "Exception";
	/* A C type's tp_name carries its module ("json.decoder..."): keep the last part. */
	if (strrchr(name, '.'))
		name = strrchr(name, '.') + 1;
	text = value ? PyObject_Str(value) : NULL;
	if (!text)
		PyErr_Clear();
	if (text && PyUnicode_GET_LENGTH(text) > 0)
		line = PyUnicode_FromFormat("%s%s: %U", prefix, name, text);
	else
		line = PyUnicode_FromFormat("%s%s", prefix, name);
	s = line ? PyUnicode_AsUTF8(line) : NULL;
	if (!s) {
		PyErr_Clear();
		s = "the tool failed (its exception could not be shown)";
	}
	fail(err, s);
	Py_XDECREF(line);
	Py_XDECREF(text);
	Py_XDECREF(type);
	Py_XDECREF(value);
	Py_XDECREF(tb);
	return CACT_EINVAL;
}

/* An entry (target, loop) of the registry: new references, or -1. GIL held. */
static int entry_get(uint64_t id, PyObject **target, PyObject **loop)
{
	PyObject *e = cpy_lookup(id), *t;

	if (!e || !PyTuple_Check(e) || PyTuple_GET_SIZE(e) != 2)
		return -1;
	t = PyTuple_GET_ITEM(e, 0);
	if (PyWeakref_CheckRef(t)) {
#if PY_VERSION_HEX >= 0x030D0000
		if (PyWeakref_GetRef(t, target) != 1) {
			PyErr_Clear();
			return -1;
		}
#else
		t = PyWeakref_GetObject(t); /* borrowed; None once the referent is gone */
		if (t == Py_None)
			return -1;
		Py_INCREF(t);
		*target = t;
#endif
	} else {
		Py_INCREF(t);
		*target = t;
	}
	*loop = PyTuple_GET_ITEM(e, 1);
	Py_INCREF(*loop);
	return 0;
}

static int is_awaitable(PyObject *o)
{
	PyAsyncMethods *am = Py_TYPE(o)->tp_as_async;

	return am && am->am_await;
}

/* Waits for an awaitable on loop (None: cact's own loop). Consumes aw. New reference. */
static PyObject *await_on(PyObject *aw, PyObject *loop)
{
	PyObject *r = PyObject_CallFunctionObjArgs(cpy_hooks.run_awaitable, aw, loop, NULL);

	Py_DECREF(aw);
	return r;
}

/* JSON text into Python values. New reference. */
static PyObject *decode(const char *json_text)
{
	PyObject *s = PyUnicode_FromString(json_text), *v;

	if (!s)
		return NULL;
	v = PyObject_CallOneArg(cpy_hooks.json_loads, s);
	Py_DECREF(s);
	return v;
}

/* One tool call, handed to a Python thread (cpy_in_python). */
struct tool_call {
	uint64_t id;
	const char *args_json;
	char *result_json; /* malloc'd, for libcact */
	struct cact_error *err;
	int rc;
};

/* A tool call's Python part. GIL held. */
static void tool_job(void *arg)
{
	struct tool_call *c = arg;
	PyObject *target = NULL, *loop = NULL, *kwargs = NULL, *conv = NULL, *empty = NULL;
	PyObject *r = NULL, *text = NULL;
	struct cact_error *err = c->err;
	char **result_json = &c->result_json;
	const char *args_json = c->args_json;
	uint64_t id = c->id;
	cpy_Tool *t;
	const char *s;
	Py_ssize_t n;
	int rc;

	if (entry_get(id, &target, &loop) || !cpy_Tool_Check(target)) {
		rc = fail(err, "the tool is no longer registered on the host");
		goto out;
	}
	t = (cpy_Tool *)target;
	if (t->func == Py_None) {
		rc = fail(err, "the tool has no Python function");
		goto out;
	}
	kwargs = decode(args_json);
	if (kwargs && !PyDict_Check(kwargs)) {
		rc = fail(err, "the arguments are not a JSON object");
		goto out;
	}
	if (kwargs && t->convert != Py_None) {
		conv = PyObject_CallOneArg(t->convert, kwargs);
		Py_SETREF(kwargs, conv);
		if (kwargs && !PyDict_Check(kwargs)) {
			rc = fail(err, "the tool's argument converter returned no dict");
			goto out;
		}
	}
	empty = kwargs ? PyTuple_New(0) : NULL;
	r = empty ? PyObject_Call(t->func, empty, kwargs) : NULL;
	if (r && is_awaitable(r))
		r = await_on(r, loop);
	if (!r) {
		rc = fail_exc(err, "");
		goto out;
	}
	text = PyObject_CallOneArg(cpy_hooks.json_dumps, r);
	s = text ? PyUnicode_AsUTF8AndSize(text, &n) : NULL;
	if (!s) {
		rc = fail_exc(err, "the tool's result is not JSON: ");
		goto out;
	}
	*result_json = malloc((size_t)n + 1);
	if (!*result_json) {
		rc = fail(err, "out of memory");
		goto out;
	}
	memcpy(*result_json, s, (size_t)n + 1);
	rc = 0;
out:
	if (PyErr_Occurred())
		PyErr_Clear();
	Py_XDECREF(text);
	Py_XDECREF(r);
	Py_XDECREF(empty);
	Py_XDECREF(kwargs);
	Py_XDECREF(loop);
	Py_XDECREF(target);
	c->rc = rc;
}

/* The cact_tool_fn of every Tool. */
static int tool_cb(void *user, const char *tool_name, const char *args_json, char **result_json,
		   struct cact_error *err)
{
	struct tool_call c = {.id = (uint64_t)(uintptr_t)user, .args_json = args_json, .err = err};

	(void)tool_name;
	*result_json = NULL;
	if (cpy_exiting())
		return fail(err, "the host program is exiting");
	cpy_in_python(tool_job, &c);
	*result_json = c.result_json;
	return c.rc;
}

/* One approval question, handed to a Python thread. */
struct approve_call {
	uint64_t id;
	const char *tool_name, *args_json;
	int ok;
};

/* An approval question's Python part. GIL held. */
static void approve_job(void *arg)
{
	struct approve_call *c = arg;
	PyObject *approve = NULL, *loop = NULL, *args = NULL, *call = NULL, *r = NULL;
	const char *tool_name = c->tool_name;
	int ok = 0;

	if (entry_get(c->id, &approve, &loop) || approve == Py_None)
		goto out;
	args = decode(c->args_json);
	call = args ? PyObject_CallFunction(cpy_hooks.ToolCall, "sO", tool_name, args) : NULL;
	r = call ? PyObject_CallOneArg(approve, call) : NULL;
	if (r && is_awaitable(r))
		r = await_on(r, loop);
	ok = r ? PyObject_IsTrue(r) : -1;
	if (ok < 0) {
		/* The host's bug, shown on its stderr; the call is denied. */
		PyErr_WriteUnraisable(approve);
		ok = 0;
	}
out:
	Py_XDECREF(r);
	Py_XDECREF(call);
	Py_XDECREF(args);
	Py_XDECREF(loop);
	Py_XDECREF(approve);
	c->ok = ok;
}

int cpy_approve_cb(void *user, const char *tool_name, const char *args_json)
{
	struct approve_call c = {
		.id = (uint64_t)(uintptr_t)user, .tool_name = tool_name, .args_json = args_json};

	if (cpy_exiting())
		return 0;
	cpy_in_python(approve_job, &c);
	return c.ok;
}

int cpy_approval_parse(PyObject *v, enum cact_approval *out)
{
	const char *s;

	if (!PyUnicode_Check(v)) {
		PyErr_Format(PyExc_TypeError,
			     "approval_mode must be \"never_require\" or \"always_require\", not "
			     "%.100s",
			     Py_TYPE(v)->tp_name);
		return -1;
	}
	s = PyUnicode_AsUTF8(v);
	if (!s)
		return -1;
	if (cact_approval_parse(s, out)) {
		PyErr_Format(
			PyExc_ValueError,
			"approval_mode must be \"never_require\" or \"always_require\", not %R", v);
		return -1;
	}
	return 0;
}

/* ---- binds ---- */

static int binds_add_id(struct cpy_binds *b, uint64_t id)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 8;
		uint64_t *ids = PyMem_Realloc(b->ids, cap * sizeof(*ids));

		if (!ids) {
			PyErr_NoMemory();
			return -1;
		}
		b->ids = ids;
		b->cap = cap;
	}
	b->ids[b->n++] = id;
	return 0;
}

/* Keeps t (a reference, consumed) until cpy_binds_clear. */
static int binds_add_tool(struct cpy_binds *b, struct cact_tool *t)
{
	if (b->n_tools == b->cap_tools) {
		size_t cap = b->cap_tools ? 2 * b->cap_tools : 8;
		struct cact_tool **tools = PyMem_Realloc(b->tools, cap * sizeof(*tools));

		if (!tools) {
			cact_tool_unref(t);
			PyErr_NoMemory();
			return -1;
		}
		b->tools = tools;
		b->cap_tools = cap;
	}
	b->tools[b->n_tools++] = t;
	return 0;
}

/* A registry entry (target, loop) for one execution. 0 with an exception on failure. */
static uint64_t bind_entry(PyObject *target, PyObject *loop, struct cpy_binds *b)
{
	PyObject *e = PyTuple_Pack(2, target, loop);
	uint64_t id = e ? cpy_register(e) : 0;

	Py_XDECREF(e);
	if (id && binds_add_id(b, id)) {
		cpy_unregister(id);
		return 0;
	}
	return id;
}

struct cact_tool *cpy_tool_bind(cpy_Tool *tool, PyObject *loop, struct cpy_binds *b)
{
	struct cact_error err = {0};
	struct cact_tool *t = NULL;
	uint64_t id;
	int rc;

	if (loop == Py_None || !tool->is_async || tool->func == Py_None) {
		t = cact_tool_ref(tool->tool);
		return binds_add_tool(b, t) ? NULL : t;
	}
	/* An async tool of an execution awaited on loop: its coroutines run there. */
	id = bind_entry((PyObject *)tool, loop, b);
	if (!id)
		return NULL;
	rc = cact_tool_new_callback(cact_tool_name(tool->tool), cact_tool_description(tool->tool),
				    cact_tool_parameters(tool->tool),
				    cact_tool_approval(tool->tool), tool_cb, (void *)(uintptr_t)id,
				    &t, &err);
	if (rc) {
		cpy_raise(rc, &err, NULL);
		return NULL;
	}
	return binds_add_tool(b, t) ? NULL : t;
}

int cpy_approval_bind(PyObject *approve, PyObject *loop, struct cpy_binds *b, void **user)
{
	uint64_t id = bind_entry(approve, loop, b);

	if (!id)
		return -1;
	*user = (void *)(uintptr_t)id;
	return 0;
}

void cpy_binds_clear(struct cpy_binds *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		cpy_unregister(b->ids[i]);
	for (i = 0; i < b->n_tools; i++)
		cact_tool_unref(b->tools[i]);
	PyMem_Free(b->ids);
	PyMem_Free(b->tools);
	memset(b, 0, sizeof(*b));
}

/* ---- the Tool type ---- */

static PyObject *tool_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	cpy_Tool *self = (cpy_Tool *)type->tp_alloc(type, 0);

	if (!self)
		return NULL;
	Py_INCREF(Py_None);
	self->func = Py_None;
	Py_INCREF(Py_None);
	self->convert = Py_None;
	return (PyObject *)self;
}

/* Drops what a tool holds of libcact and the registry. */
static void tool_release(cpy_Tool *self)
{
	cpy_unregister(self->id);
	self->id = 0;
	cact_tool_unref(self->tool);
	self->tool = NULL;
}

static int tool_init(cpy_Tool *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"func",	  "name",    "description", "parameters",
				 "approval_mode", "convert", "is_async",    NULL};
	PyObject *func, *name, *desc = Py_None, *params = Py_None, *mode = NULL, *convert = Py_None;
	PyObject *ptext = NULL, *ref = NULL, *entry = NULL;
	enum cact_approval approval = CACT_APPROVAL_NEVER_REQUIRE;
	struct cact_error err = {0};
	struct cact_tool *t = NULL;
	const char *cname, *cdesc = NULL, *cparams = NULL;
	uint64_t id = 0;
	int is_async = 0, rc, ret = -1;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OOO$Op:Tool", kwlist, &func, &name, &desc,
					 &params, &mode, &convert, &is_async))
		return -1;
	if (!PyCallable_Check(func)) {
		PyErr_Format(PyExc_TypeError, "a tool's function must be callable, not %.100s",
			     Py_TYPE(func)->tp_name);
		return -1;
	}
	if (convert != Py_None && !PyCallable_Check(convert)) {
		PyErr_SetString(PyExc_TypeError, "convert must be callable or None");
		return -1;
	}
	if (!(cname = cpy_utf8(name, "a tool's name", NULL)))
		return -1;
	if (desc != Py_None && !(cdesc = cpy_utf8(desc, "a tool's description", NULL)))
		return -1;
	if (mode && mode != Py_None && cpy_approval_parse(mode, &approval))
		return -1;
	if (PyUnicode_Check(params)) {
		cparams = cpy_utf8(params, "parameters", NULL);
	} else if (PyDict_Check(params)) {
		ptext = PyObject_CallOneArg(cpy_hooks.json_dumps, params);
		cparams = ptext ? cpy_utf8(ptext, "parameters", NULL) : NULL;
	} else if (params != Py_None) {
		PyErr_Format(PyExc_TypeError,
			     "parameters must be a JSON Schema object (a dict), not %.100s",
			     Py_TYPE(params)->tp_name);
		return -1;
	}
	if (params != Py_None && !cparams)
		goto out;
	/* The registry's entry: the tool itself, weakly, and no loop of its own. */
	ref = PyWeakref_NewRef((PyObject *)self, NULL);
	entry = ref ? PyTuple_Pack(2, ref, Py_None) : NULL;
	id = entry ? cpy_register(entry) : 0;
	if (!id)
		goto out;
	rc = cact_tool_new_callback(cname, cdesc, cparams, approval, tool_cb, (void *)(uintptr_t)id,
				    &t, &err);
	if (rc) {
		cpy_unregister(id);
		PyErr_Format(PyExc_ValueError, "tool %R: %s", name, err.message);
		goto out;
	}
	tool_release(self);
	self->tool = t;
	self->id = id;
	Py_INCREF(func);
	Py_XSETREF(self->func, func);
	Py_INCREF(convert);
	Py_XSETREF(self->convert, convert);
	self->is_async = is_async;
	ret = 0;
out:
	Py_XDECREF(entry);
	Py_XDECREF(ref);
	Py_XDECREF(ptext);
	return ret;
}

static int tool_traverse(cpy_Tool *self, visitproc visit, void *arg)
{
	Py_VISIT(self->func);
	Py_VISIT(self->convert);
	return 0;
}

static int tool_clear(cpy_Tool *self)
{
	Py_CLEAR(self->func);
	Py_CLEAR(self->convert);
	return 0;
}

static void tool_dealloc(cpy_Tool *self)
{
	/* A static type: a Python subclass's deallocator drops the reference to its type. */
	PyObject_GC_UnTrack(self);
	if (self->weakreflist)
		PyObject_ClearWeakRefs((PyObject *)self);
	tool_release(self);
	tool_clear(self);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static int check_ready(cpy_Tool *self)
{
	if (!self->tool) {
		PyErr_SetString(PyExc_ValueError,
				"this Tool was not initialized (call Tool.__init__)");
		return -1;
	}
	return 0;
}

static PyObject *tool_call(cpy_Tool *self, PyObject *args, PyObject *kw)
{
	if (self->func == Py_None) {
		PyErr_Format(PyExc_TypeError,
			     "tool %s is served outside Python (a command or an MCP server) and "
			     "cannot be called here",
			     self->tool ? cact_tool_name(self->tool) : "?");
		return NULL;
	}
	return PyObject_Call(self->func, args, kw);
}

static PyObject *get_name(cpy_Tool *self, void *c)
{
	return check_ready(self) ? NULL : PyUnicode_FromString(cact_tool_name(self->tool));
}

static PyObject *get_description(cpy_Tool *self, void *c)
{
	const char *d;

	if (check_ready(self))
		return NULL;
	d = cact_tool_description(self->tool);
	return PyUnicode_FromString(d ? d : "");
}

static PyObject *get_parameters(cpy_Tool *self, void *c)
{
	return check_ready(self) ? NULL : decode(cact_tool_parameters(self->tool));
}

static PyObject *get_approval(cpy_Tool *self, void *c)
{
	return check_ready(self)
		       ? NULL
		       : PyUnicode_FromString(cact_approval_name(cact_tool_approval(self->tool)));
}

static PyObject *get_func(cpy_Tool *self, void *c)
{
	Py_INCREF(self->func);
	return self->func;
}

static PyObject *get_is_async(cpy_Tool *self, void *c)
{
	return PyBool_FromLong(self->is_async);
}

static PyObject *tool_repr(cpy_Tool *self)
{
	if (!self->tool)
		return PyUnicode_FromString("<cact.Tool (uninitialized)>");
	return PyUnicode_FromFormat("<cact.Tool %s (%s%s)>", cact_tool_name(self->tool),
				    cact_approval_name(cact_tool_approval(self->tool)),
				    self->func == Py_None ? ", served outside Python" : "");
}

static PyObject *tool_validate(cpy_Tool *self, PyObject *arg)
{
	struct cact_error err = {0};
	PyObject *text = NULL;
	const char *s;
	int rc;

	if (check_ready(self))
		return NULL;
	text = PyObject_CallOneArg(cpy_hooks.json_dumps, arg);
	s = text ? PyUnicode_AsUTF8(text) : NULL;
	if (!s) {
		Py_XDECREF(text);
		return NULL;
	}
	rc = cact_tool_validate(self->tool, s, &err);
	Py_DECREF(text);
	if (rc)
		return cpy_raise(rc, &err, NULL);
	Py_RETURN_NONE;
}

static PyGetSetDef tool_getset[] = {
	{"name", (getter)get_name, NULL, "The name sandboxed code calls it by.", NULL},
	{"description", (getter)get_description, NULL, "What the model reads about it.", NULL},
	{"parameters", (getter)get_parameters, NULL,
	 "The JSON Schema of its arguments (a new dict on every read).", NULL},
	{"approval_mode", (getter)get_approval, NULL, "\"never_require\" or \"always_require\".",
	 NULL},
	{"func", (getter)get_func, NULL,
	 "The Python callable; None for a tool served outside Python.", NULL},
	{"is_async", (getter)get_is_async, NULL, "Whether func is a coroutine function.", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef tool_methods[] = {
	{"validate", (PyCFunction)tool_validate, METH_O,
	 "validate(arguments: dict) -> None\n\nChecks arguments against the schema as the "
	 "host does before a call; ValueError says what does not match."},
	{NULL, NULL, 0, NULL},
};

PyTypeObject cpy_ToolType = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "cact._cact.Tool",
	.tp_basicsize = sizeof(cpy_Tool),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
	.tp_doc = "Tool(func, name, description=None, parameters=None, "
		  "approval_mode='never_require', *, convert=None, is_async=False)\n\n"
		  "A host function sandboxed code calls with call_tool(name, **kwargs). Use "
		  "cact.Tool or @cact.tool, which fill these in from the function.",
	.tp_new = tool_new,
	.tp_init = (initproc)tool_init,
	.tp_dealloc = (destructor)tool_dealloc,
	.tp_traverse = (traverseproc)tool_traverse,
	.tp_clear = (inquiry)tool_clear,
	.tp_call = (ternaryfunc)tool_call,
	.tp_repr = (reprfunc)tool_repr,
	.tp_getset = tool_getset,
	.tp_methods = tool_methods,
	.tp_weaklistoffset = offsetof(cpy_Tool, weakreflist),
};

cpy_Tool *cpy_tool_from(PyObject *obj)
{
	PyObject *t;

	if (cpy_Tool_Check(obj)) {
		if (check_ready((cpy_Tool *)obj))
			return NULL;
		Py_INCREF(obj);
		return (cpy_Tool *)obj;
	}
	t = PyObject_CallOneArg(cpy_hooks.as_tool, obj);
	if (t && !cpy_Tool_Check(t)) {
		Py_DECREF(t);
		PyErr_SetString(PyExc_TypeError, "as_tool returned no Tool");
		return NULL;
	}
	return (cpy_Tool *)t;
}

cpy_Tool *cpy_tool_wrap(struct cact_tool *t)
{
	cpy_Tool *self = (cpy_Tool *)tool_new(&cpy_ToolType, NULL, NULL);

	if (self)
		self->tool = cact_tool_ref(t);
	return self;
}

int cpy_tool_ready(PyObject *m)
{
	if (PyType_Ready(&cpy_ToolType))
		return -1;
	Py_INCREF(&cpy_ToolType);
	if (PyModule_AddObject(m, "Tool", (PyObject *)&cpy_ToolType)) {
		Py_DECREF(&cpy_ToolType);
		return -1;
	}
	return 0;
}
