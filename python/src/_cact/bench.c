/* SPDX-License-Identifier: MIT */
/*
 * The C API's own timings, measured inside the extension so that
 * bench/python_tools.py compares Python with C on the same runtime, the
 * same guest and the same process: executions and session runs through
 * the C API with no Python in the loop, and a C callback tool to compare
 * a Python tool's round trip with.
 */
#include <string.h>
#include <time.h>

#include "cpy.h"

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Times n runs of fn; the list of microseconds, or NULL with an exception. */
static PyObject *timed(int n, int (*fn)(void *ctx, struct cact_error *err), void *ctx)
{
	struct cact_error err = {0};
	double *us = PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof(*us));
	PyObject *list = NULL, *v;
	int i, rc = 0;

	if (!us)
		return PyErr_NoMemory();
	Py_BEGIN_ALLOW_THREADS for (i = 0; i < n && rc == 0; i++)
	{
		double t0 = now_us();

		rc = fn(ctx, &err);
		us[i] = now_us() - t0;
	}
	Py_END_ALLOW_THREADS if (rc)
	{
		cpy_raise(rc, &err, "C API run");
		goto out;
	}
	list = PyList_New(n);
	for (i = 0; list && i < n; i++) {
		if (!(v = PyFloat_FromDouble(us[i]))) {
			Py_CLEAR(list);
			break;
		}
		PyList_SET_ITEM(list, i, v);
	}
out:
	PyMem_Free(us);
	return list;
}

struct exec_ctx {
	struct cact_runtime *rt;
	const char *code;
	size_t len;
	struct cact_sandbox_session *s;
};

/* What Runtime.execute does in C: a request, the run, the result freed. */
static int one_exec(void *p, struct cact_error *err)
{
	struct exec_ctx *c = p;
	struct cact_request *req = NULL;
	struct cact_result *res = NULL;
	int rc = cact_request_new(&req);

	if (rc == 0 && (rc = cact_request_set_code(req, c->code, c->len, err)) == 0)
		rc = cact_runtime_run(c->rt, req, &res, err);
	if (rc == 0 && cact_result_status(res) != CACT_STATUS_OK) {
		snprintf(err->message, sizeof(err->message), "the benchmark code failed: %s",
			 cact_status_name(cact_result_status(res)));
		rc = CACT_EINVAL;
	}
	cact_result_free(res);
	cact_request_free(req);
	return rc;
}

static int one_session_run(void *p, struct cact_error *err)
{
	struct exec_ctx *c = p;
	struct cact_result *res = NULL;
	int rc = cact_sandbox_session_run(c->s, c->code, c->len, NULL, &res, err);

	cact_result_free(res);
	return rc;
}

static PyObject *c_exec_timings(PyObject *m, PyObject *args)
{
	struct exec_ctx c = {0};
	PyObject *rt, *out;
	Py_ssize_t len;
	int n;

	if (!PyArg_ParseTuple(args, "O!s#i:_c_exec_timings", &cpy_RuntimeType, &rt, &c.code, &len,
			      &n))
		return NULL;
	c.len = (size_t)len;
	if (cpy_runtime_enter((cpy_Runtime *)rt))
		return NULL;
	c.rt = ((cpy_Runtime *)rt)->rt;
	out = timed(n, one_exec, &c);
	cpy_runtime_leave((cpy_Runtime *)rt);
	return out;
}

static PyObject *c_session_timings(PyObject *m, PyObject *args)
{
	struct exec_ctx c = {0};
	cpy_Session *s;
	PyObject *out;
	Py_ssize_t len;
	int n;

	if (!PyArg_ParseTuple(args, "O!s#i:_c_session_timings", &cpy_SessionType, &s, &c.code, &len,
			      &n))
		return NULL;
	if (!s->s || cpy_runtime_enter(s->rt)) {
		if (!PyErr_Occurred())
			PyErr_SetString(cpy_SessionEndedError, "session ended: closed");
		return NULL;
	}
	c.len = (size_t)len;
	c.s = s->s;
	out = timed(n, one_session_run, &c);
	cpy_runtime_leave(s->rt);
	return out;
}

/* A C callback tool: answers its arguments back, as a Python echo tool would. */
static int echo(void *user, const char *name, const char *args_json, char **result_json,
		struct cact_error *err)
{
	*result_json = strdup(args_json);
	return *result_json ? 0 : CACT_ENOMEM;
}

static PyObject *c_echo_tool(PyObject *m, PyObject *args)
{
	const char *name;
	struct cact_error err = {0};
	struct cact_tool *t = NULL;
	cpy_Tool *out;
	int rc;

	if (!PyArg_ParseTuple(args, "s:_c_echo_tool", &name))
		return NULL;
	rc = cact_tool_new_callback(name, "Returns its arguments (a C callback).", NULL,
				    CACT_APPROVAL_NEVER_REQUIRE, echo, NULL, &t, &err);
	if (rc)
		return cpy_raise(rc, &err, NULL);
	out = cpy_tool_wrap(t);
	cact_tool_unref(t);
	return (PyObject *)out;
}

PyMethodDef cpy_bench_methods[] = {
	{"_c_exec_timings", c_exec_timings, METH_VARARGS,
	 "Internal (bench/python_tools.py): microseconds of n executions of code through the C "
	 "API on runtime, no Python in the loop."},
	{"_c_session_timings", c_session_timings, METH_VARARGS,
	 "Internal (bench/python_tools.py): microseconds of n session runs through the C API."},
	{"_c_echo_tool", c_echo_tool, METH_VARARGS,
	 "Internal (bench/python_tools.py): a C callback tool that returns its arguments."},
	{NULL, NULL, 0, NULL},
};
