/* SPDX-License-Identifier: MIT */
/*
 * Result: the outcome of one execution, over a struct cact_result the
 * object owns. Attributes are built on each read from the C result (which
 * is immutable), so an execution whose caller reads only .stdout pays for
 * nothing else.
 */
#include "cpy.h"

static PyObject *text(const char *s, size_t len)
{
	/* Not valid UTF-8: the bad bytes become U+FFFD, as in cact exec --json. */
	return PyUnicode_DecodeUTF8(s ? s : "", s ? (Py_ssize_t)len : 0, "replace");
}

static PyObject *opt_text(const char *s)
{
	if (!s)
		Py_RETURN_NONE;
	return text(s, strlen(s));
}

static PyObject *decode(const char *json_text)
{
	PyObject *s, *v;

	if (!json_text)
		return PyErr_NoMemory();
	s = PyUnicode_FromString(json_text);
	if (!s)
		return NULL;
	v = PyObject_CallOneArg(cpy_hooks.json_loads, s);
	Py_DECREF(s);
	return v;
}

/* Decodes owned JSON text from libcact and frees it. */
static PyObject *decode_owned(char *json_text)
{
	PyObject *v = decode(json_text);

	cact_free(json_text);
	return v;
}

PyObject *cpy_result_new(struct cact_result *res)
{
	cpy_Result *self = PyObject_New(cpy_Result, &cpy_ResultType);

	if (!self) {
		cact_result_free(res);
		return NULL;
	}
	self->res = res;
	return (PyObject *)self;
}

static void result_dealloc(cpy_Result *self)
{
	cact_result_free(self->res);
	PyObject_Free(self);
}

static PyObject *get_status(cpy_Result *self, void *c)
{
	return PyUnicode_FromString(cact_status_name(cact_result_status(self->res)));
}

static PyObject *get_success(cpy_Result *self, void *c)
{
	return PyBool_FromLong(cact_result_status(self->res) == CACT_STATUS_OK);
}

static PyObject *get_exit_code(cpy_Result *self, void *c)
{
	return PyLong_FromLong(cact_result_exit_code(self->res));
}

static PyObject *get_stdout(cpy_Result *self, void *c)
{
	size_t n = 0;
	const char *s = cact_result_stdout(self->res, &n, NULL);

	return text(s, n);
}

static PyObject *get_stderr(cpy_Result *self, void *c)
{
	size_t n = 0;
	const char *s = cact_result_stderr(self->res, &n, NULL);

	return text(s, n);
}

static PyObject *get_stdout_truncated(cpy_Result *self, void *c)
{
	int t = 0;

	cact_result_stdout(self->res, NULL, &t);
	return PyBool_FromLong(t);
}

static PyObject *get_stderr_truncated(cpy_Result *self, void *c)
{
	int t = 0;

	cact_result_stderr(self->res, NULL, &t);
	return PyBool_FromLong(t);
}

static PyObject *get_error(cpy_Result *self, void *c)
{
	enum cact_status st = cact_result_status(self->res);
	const char *type = cact_result_error_type(self->res);
	PyObject *t = NULL, *m = NULL, *tb = NULL, *out = NULL;

	if (st == CACT_STATUS_OK)
		Py_RETURN_NONE;
	t = opt_text(type ? type : cact_status_name(st));
	m = opt_text(cact_result_error_message(self->res));
	tb = opt_text(cact_result_error_traceback(self->res));
	if (t && m && tb)
		out = PyObject_CallFunctionObjArgs(cpy_hooks.ErrorInfo, t, m == Py_None ? t : m, tb,
						   NULL);
	Py_XDECREF(t);
	Py_XDECREF(m);
	Py_XDECREF(tb);
	return out;
}

static PyObject *get_files(cpy_Result *self, void *c)
{
	size_t n = cact_result_file_count(self->res), i;
	PyObject *list = PyList_New((Py_ssize_t)n), *f;
	struct cact_file cf;

	for (i = 0; list && i < n; i++) {
		if (cact_result_file(self->res, i, &cf)) {
			Py_CLEAR(list);
			PyErr_SetString(PyExc_IndexError, "file index out of range");
			break;
		}
		f = PyObject_CallFunction(cpy_hooks.File, "Nsy#", opt_text(cf.path), cf.media_type,
					  (const char *)cf.data, (Py_ssize_t)cf.size);
		if (!f) {
			Py_CLEAR(list);
			break;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, f); /* stolen */
	}
	return list;
}

static PyObject *get_skipped(cpy_Result *self, void *c)
{
	size_t n = cact_result_skipped_count(self->res), i;
	PyObject *list = PyList_New((Py_ssize_t)n), *s;

	for (i = 0; list && i < n; i++) {
		s = opt_text(cact_result_skipped(self->res, i));
		if (!s) {
			Py_CLEAR(list);
			break;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, s);
	}
	return list;
}

static PyObject *get_stats(cpy_Result *self, void *c)
{
	struct cact_stats st;

	cact_result_stats(self->res, &st);
	/* The keys and units of "stats" in cact exec --json. */
	return Py_BuildValue("{s:d, s:d, s:K, s:K, s:d, s:K, s:K}", "wall_ms",
			     (double)st.wall_us / 1000.0, "cpu_ms", (double)st.cpu_us / 1000.0,
			     "peak_rss_kib", (unsigned long long)st.peak_rss_kib, "tool_calls",
			     (unsigned long long)st.tool_calls, "tool_ms",
			     (double)st.tool_us / 1000.0, "http_requests",
			     (unsigned long long)st.http_requests, "http_bytes",
			     (unsigned long long)st.http_bytes);
}

static PyObject *get_network(cpy_Result *self, void *c)
{
	size_t n = cact_result_http_count(self->res), i;
	PyObject *list = PyList_New((Py_ssize_t)n), *e;
	struct cact_http_entry h;

	for (i = 0; list && i < n; i++) {
		if (cact_result_http(self->res, i, &h)) {
			Py_CLEAR(list);
			PyErr_SetString(PyExc_IndexError, "HTTP log index out of range");
			break;
		}
		e = Py_BuildValue("{s:N, s:N, s:i, s:K, s:K, s:O, s:N}", "method",
				  opt_text(h.method), "url", opt_text(h.url), "status", h.status,
				  "bytes_in", (unsigned long long)h.bytes_in, "bytes_out",
				  (unsigned long long)h.bytes_out, "allowed",
				  h.allowed ? Py_True : Py_False, "error", opt_text(h.error));
		if (!e) {
			Py_CLEAR(list);
			break;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, e);
	}
	return list;
}

static PyObject *get_isolation(cpy_Result *self, void *c)
{
	return decode(cact_result_isolation_json(self->res));
}

static PyObject *get_model_text(cpy_Result *self, void *c)
{
	char *t = cact_result_model_text(self->res);
	PyObject *s;

	if (!t)
		return PyErr_NoMemory();
	s = text(t, strlen(t));
	cact_free(t);
	return s;
}

static PyObject *result_to_dict(cpy_Result *self, PyObject *unused)
{
	return decode_owned(cact_result_to_json(self->res));
}

static PyObject *result_contents(cpy_Result *self, PyObject *unused)
{
	return decode_owned(cact_result_contents_json(self->res));
}

static PyObject *result_save_files(cpy_Result *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"dir", "force", NULL};
	struct cact_error err = {0};
	PyObject *dir, *path;
	int force = 0, rc;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$p:save_files", kwlist, &dir, &force))
		return NULL;
	path = cpy_fspath(dir, "dir");
	if (!path)
		return NULL;
	Py_BEGIN_ALLOW_THREADS rc = cact_result_save_files(self->res, PyBytes_AS_STRING(path),
							   force ? CACT_SAVE_FORCE : 0, &err);
	Py_END_ALLOW_THREADS Py_DECREF(path);
	if (rc)
		return cpy_raise(rc, &err, NULL);
	Py_RETURN_NONE;
}

static PyObject *result_repr(cpy_Result *self)
{
	size_t n = 0;
	const char *out = cact_result_stdout(self->res, &n, NULL);
	PyObject *s = text(out, n > 60 ? 60 : n), *r;

	if (!s)
		return NULL;
	r = PyUnicode_FromFormat("<cact.Result %s exit_code=%d stdout=%R%s files=%zu>",
				 cact_status_name(cact_result_status(self->res)),
				 cact_result_exit_code(self->res), s, n > 60 ? "..." : "",
				 cact_result_file_count(self->res));
	Py_DECREF(s);
	return r;
}

static PyGetSetDef result_getset[] = {
	{"status", (getter)get_status, NULL,
	 "\"ok\", \"python_error\", \"timeout\", \"memory_limit\", \"output_limit\", "
	 "\"sandbox_violation\", \"crashed\", \"setup_error\", \"cancelled\" or \"busy\".",
	 NULL},
	{"success", (getter)get_success, NULL, "Whether status is \"ok\".", NULL},
	{"exit_code", (getter)get_exit_code, NULL,
	 "SystemExit's code, 1 for an uncaught exception, -1 when the sandbox was killed.", NULL},
	{"stdout", (getter)get_stdout, NULL,
	 "Captured standard output (bytes that are not UTF-8 shown as U+FFFD).", NULL},
	{"stderr", (getter)get_stderr, NULL, "Captured standard error.", NULL},
	{"stdout_truncated", (getter)get_stdout_truncated, NULL,
	 "Whether stdout reached its cap (it then ends with a marker line).", NULL},
	{"stderr_truncated", (getter)get_stderr_truncated, NULL, "Whether stderr reached its cap.",
	 NULL},
	{"error", (getter)get_error, NULL,
	 "None on success; else an ErrorInfo(type, message, traceback): the exception for a "
	 "Python error, or the status name and what happened (traceback None).",
	 NULL},
	{"files", (getter)get_files, NULL,
	 "Files the code left in /output: a list of File(path, media_type, data).", NULL},
	{"skipped", (getter)get_skipped, NULL,
	 "Entries of /output not returned, each \"path: reason\".", NULL},
	{"stats", (getter)get_stats, NULL,
	 "wall_ms, cpu_ms, peak_rss_kib, tool_calls, tool_ms, http_requests, http_bytes.", NULL},
	{"network", (getter)get_network, NULL,
	 "The HTTP log: one dict per request hop (method, url, status, bytes_in, bytes_out, "
	 "allowed, error).",
	 NULL},
	{"isolation", (getter)get_isolation, NULL,
	 "The isolation in force: {\"level\", \"features\", \"landlock_abi\"}.", NULL},
	{"model_text", (getter)get_model_text, NULL,
	 "What a model is told about this execution (as cact agent tells it).", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef result_methods[] = {
	{"to_dict", (PyCFunction)result_to_dict, METH_NOARGS,
	 "to_dict() -> dict\n\nThe result as cact exec --json prints it: status, success, "
	 "exit_code, stdout, stderr, stdout_truncated, stderr_truncated, error, files (data in "
	 "base64), skipped, stats, network, isolation, contents."},
	{"contents", (PyCFunction)result_contents, METH_NOARGS,
	 "contents() -> list[dict]\n\nThe content items execute_code returns (text, data, "
	 "error), as in docs/codeact.md."},
	{"save_files", (PyCFunction)(void (*)(void))result_save_files, METH_VARARGS | METH_KEYWORDS,
	 "save_files(dir, *, force=False) -> None\n\nWrites the files under dir (created when "
	 "missing), never replacing an existing name unless force; ValueError or CactError "
	 "names the first file that could not be saved."},
	{NULL, NULL, 0, NULL},
};

PyTypeObject cpy_ResultType = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "cact.Result",
	.tp_basicsize = sizeof(cpy_Result),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "The outcome of one execution (returned by execute; not created directly). "
		  "A failing code, a timeout or a sandbox violation is a Result, not an "
		  "exception: check success or status.",
	.tp_dealloc = (destructor)result_dealloc,
	.tp_repr = (reprfunc)result_repr,
	.tp_getset = result_getset,
	.tp_methods = result_methods,
};

int cpy_result_ready(PyObject *m)
{
	if (PyType_Ready(&cpy_ResultType))
		return -1;
	Py_INCREF(&cpy_ResultType);
	if (PyModule_AddObject(m, "Result", (PyObject *)&cpy_ResultType)) {
		Py_DECREF(&cpy_ResultType);
		return -1;
	}
	return 0;
}
