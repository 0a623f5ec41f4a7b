/* SPDX-License-Identifier: MIT */
/*
 * Session: one sandboxed interpreter kept across runs
 * (include/cact/sandbox_session.h). Runs of one session happen one at a
 * time (libcact makes a concurrent call wait); close() waits for a run in
 * flight, so interrupt() first to stop one.
 */
#include <string.h>
#include <unistd.h>

#include "cpy.h"

PyObject *cpy_session_new(cpy_Runtime *rt, struct cact_sandbox_session *s, PyObject *keep,
			  struct cpy_binds *b)
{
	cpy_Session *self = PyObject_New(cpy_Session, &cpy_SessionType);

	if (!self) {
		/* Nothing runs in it yet: closing it here cannot wait for anything. */
		cact_sandbox_session_close(s);
		Py_XDECREF(keep);
		return NULL;
	}
	self->s = s;
	Py_INCREF(rt);
	self->rt = rt;
	cpy_guard_init(&self->guard);
	self->keep = keep;
	self->binds = *b;
	memset(b, 0, sizeof(*b));
	self->weakreflist = NULL;
	/* Listed on the runtime, which ends it first should the runtime close. */
	self->next = rt->sessions;
	if (self->next)
		self->next->pprev = &self->next;
	self->pprev = &rt->sessions;
	rt->sessions = self;
	return (PyObject *)self;
}

void cpy_session_end(cpy_Session *self)
{
	struct cact_sandbox_session *s = self->s;
	cpy_Runtime *rt = self->rt;

	if (!s)
		return;
	cpy_guard_close(&self->guard);
	/* Another thread may have ended it while this one waited. */
	if (!self->s)
		return;
	self->s = NULL;
	self->rt = NULL;
	*self->pprev = self->next;
	if (self->next)
		self->next->pprev = self->pprev;
	self->next = NULL;
	self->pprev = NULL;
	if (rt->pid == getpid()) {
		Py_BEGIN_ALLOW_THREADS cact_sandbox_session_close(s);
		Py_END_ALLOW_THREADS
	}
	cpy_binds_clear(&self->binds);
	Py_CLEAR(self->keep);
	Py_DECREF(rt);
}

static void session_dealloc(cpy_Session *self)
{
	if (self->weakreflist)
		PyObject_ClearWeakRefs((PyObject *)self);
	cpy_session_end(self);
	cpy_guard_destroy(&self->guard);
	PyObject_Free(self);
}

/* Enters the session and its runtime: 0, or -1 with an exception. */
static int enter(cpy_Session *self)
{
	if (!self->s || cpy_guard_enter(&self->guard)) {
		PyErr_SetString(cpy_SessionEndedError, "session ended: closed");
		return -1;
	}
	if (cpy_runtime_enter(self->rt)) {
		cpy_guard_leave(&self->guard);
		return -1;
	}
	return 0;
}

static void leave(cpy_Session *self)
{
	cpy_runtime_leave(self->rt);
	cpy_guard_leave(&self->guard);
}

/* A failed session call: SessionEndedError once the session has ended. */
static PyObject *session_raise(cpy_Session *self, int rc, const struct cact_error *err)
{
	if (rc == CACT_ESANDBOX && cact_sandbox_session_ended(self->s)) {
		PyErr_SetString(cpy_SessionEndedError, err->message);
		return NULL;
	}
	return cpy_raise(rc, err, NULL);
}

static PyObject *session_execute(cpy_Session *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"code", "timeout", "on_output", NULL};
	struct cact_sandbox_session_run_options o;
	struct cpy_output oo;
	struct cact_result *res = NULL;
	struct cact_error err = {0};
	PyObject *code, *timeout = Py_None, *on_output = Py_None;
	const char *s;
	Py_ssize_t len;
	int rc;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$OO:execute", kwlist, &code, &timeout,
					 &on_output))
		return NULL;
	if (!(s = cpy_utf8(code, "code", &len)))
		return NULL;
	cact_sandbox_session_run_options_init(&o);
	if (timeout != Py_None && cpy_seconds_ms(timeout, "timeout", &o.timeout_ms))
		return NULL;
	if (cpy_output_init(&oo, on_output, -1, -1))
		return NULL;
	if (oo.fn) {
		o.output = cpy_output_cb;
		o.output_user = &oo;
		o.cancel_fd = oo.cancel_fd;
	}
	if (enter(self)) {
		cpy_output_finish(&oo);
		return NULL;
	}
	Py_BEGIN_ALLOW_THREADS rc =
		cact_sandbox_session_run(self->s, s, (size_t)len, &o, &res, &err);
	Py_END_ALLOW_THREADS if (oo.failed)
	{
		/* What on_output raised comes first: the run stopped for it. */
		cact_result_free(res);
		res = NULL;
		rc = -1;
	}
	else if (rc) session_raise(self, rc, &err);
	leave(self);
	if (cpy_output_finish(&oo))
		return NULL;
	return rc ? NULL : cpy_result_new(res);
}

static PyObject *session_reset(cpy_Session *self, PyObject *unused)
{
	struct cact_error err = {0};
	int rc;

	if (enter(self))
		return NULL;
	Py_BEGIN_ALLOW_THREADS rc = cact_sandbox_session_reset(self->s, &err);
	Py_END_ALLOW_THREADS leave(self);
	if (rc)
		return cpy_raise(rc, &err, "cannot reset the session");
	Py_RETURN_NONE;
}

static PyObject *session_interrupt(cpy_Session *self, PyObject *unused)
{
	int rc;

	if (enter(self))
		return NULL;
	/* Thread-safe in libcact, and quick: the run's thread gets KeyboardInterrupt. */
	rc = cact_sandbox_session_interrupt(self->s);
	if (rc) {
		struct cact_error err = {.code = rc};

		snprintf(err.message, sizeof(err.message), "session ended: %s",
			 cact_sandbox_session_ended(self->s) ? cact_sandbox_session_ended(self->s)
							     : "unknown");
		session_raise(self, rc, &err);
	}
	leave(self);
	if (rc)
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *session_close(cpy_Session *self, PyObject *unused)
{
	cpy_session_end(self);
	Py_RETURN_NONE;
}

static PyObject *session_enter_ctx(cpy_Session *self, PyObject *unused)
{
	Py_INCREF(self);
	return (PyObject *)self;
}

static PyObject *session_exit_ctx(cpy_Session *self, PyObject *args)
{
	return session_close(self, NULL);
}

static PyObject *get_runs(cpy_Session *self, void *c)
{
	unsigned n;

	if (enter(self))
		return NULL;
	n = cact_sandbox_session_runs(self->s);
	leave(self);
	return PyLong_FromUnsignedLong(n);
}

static PyObject *get_ended(cpy_Session *self, void *c)
{
	const char *why;
	PyObject *out;

	if (!self->s)
		return PyUnicode_FromString("closed");
	if (enter(self))
		return NULL;
	why = cact_sandbox_session_ended(self->s);
	out = why ? PyUnicode_FromString(why) : (Py_INCREF(Py_None), Py_None);
	leave(self);
	return out;
}

static PyObject *get_pid(cpy_Session *self, void *c)
{
	pid_t pid;

	if (enter(self))
		return NULL;
	pid = cact_sandbox_session_pid(self->s);
	leave(self);
	return PyLong_FromLong((long)pid);
}

static PyObject *get_closed(cpy_Session *self, void *c)
{
	return PyBool_FromLong(self->s == NULL);
}

static PyObject *session_repr(cpy_Session *self)
{
	if (!self->s)
		return PyUnicode_FromString("<cact.Session closed>");
	return PyUnicode_FromFormat("<cact.Session runs=%u>", cact_sandbox_session_runs(self->s));
}

static PyMethodDef session_methods[] = {
	{"execute", (PyCFunction)(void (*)(void))session_execute, METH_VARARGS | METH_KEYWORDS,
	 "execute(code, *, timeout=None, on_output=None) -> Result\n\nRuns code in the "
	 "session's interpreter; globals and imports persist. A run that times out or crashes "
	 "ends the session (its Result says so); later runs raise SessionEndedError. "
	 "on_output(stream, text) is called with \"stdout\" or \"stderr\" and the text as the "
	 "code writes it, in order; if it raises, the run is cancelled (which ends the session) "
	 "and execute raises that."},
	{"reset", (PyCFunction)session_reset, METH_NOARGS,
	 "reset() -> None\n\nA fresh interpreter (same tools, files, limits); works on an ended "
	 "session too."},
	{"interrupt", (PyCFunction)session_interrupt, METH_NOARGS,
	 "interrupt() -> None\n\nRaises KeyboardInterrupt in the run in progress (from another "
	 "thread); the session survives unless the code ignores it."},
	{"close", (PyCFunction)session_close, METH_NOARGS,
	 "close() -> None\n\nEnds the session (waits for a run in progress). Idempotent."},
	{"__enter__", (PyCFunction)session_enter_ctx, METH_NOARGS,
	 "__enter__() -> self\n\nThe session itself; leaving the with block closes it."},
	{"__exit__", (PyCFunction)session_exit_ctx, METH_VARARGS,
	 "__exit__(*exc_info) -> None\n\nCloses the session (close())."},
	{NULL, NULL, 0, NULL},
};

static PyGetSetDef session_getset[] = {
	{"runs", (getter)get_runs, NULL, "Runs completed so far.", NULL},
	{"ended", (getter)get_ended, NULL,
	 "None while the session is alive; else why it ended (\"timeout in run 3\", \"closed\").",
	 NULL},
	{"pid", (getter)get_pid, NULL, "Host pid of the session's interpreter (0 when none).",
	 NULL},
	{"closed", (getter)get_closed, NULL, "Whether close() was called.", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject cpy_SessionType = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "cact.Session",
	.tp_basicsize = sizeof(cpy_Session),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "A sandboxed interpreter kept across runs (Runtime.session(), "
		  "CodeAct.session()); a context manager.",
	.tp_dealloc = (destructor)session_dealloc,
	.tp_repr = (reprfunc)session_repr,
	.tp_methods = session_methods,
	.tp_getset = session_getset,
	.tp_weaklistoffset = offsetof(cpy_Session, weakreflist),
};

int cpy_session_ready(PyObject *m)
{
	if (PyType_Ready(&cpy_SessionType))
		return -1;
	Py_INCREF(&cpy_SessionType);
	if (PyModule_AddObject(m, "Session", (PyObject *)&cpy_SessionType)) {
		Py_DECREF(&cpy_SessionType);
		return -1;
	}
	return 0;
}
