/* SPDX-License-Identifier: MIT */
/*
 * Live output: the on_output callable of execute, called with the code's
 * stdout and stderr as they arrive (cact_output_fn, include/cact/request.h).
 * libcact calls back on the thread that runs the execution, which has
 * released the GIL: the callback takes it for the call. An exception from
 * on_output is kept, the run is stopped through its cancel fd, and the
 * caller raises the exception once the run has returned.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cpy.h"

int cpy_output_init(struct cpy_output *o, PyObject *fn, int cancel_fd, int stop_fd)
{
	memset(o, 0, sizeof(*o));
	o->cancel_fd = cancel_fd;
	o->stop_fd = stop_fd;
	o->own_fd = -1;
	if (!fn || fn == Py_None)
		return 0;
	if (!PyCallable_Check(fn)) {
		PyErr_Format(PyExc_TypeError,
			     "on_output must be callable as on_output(stream, text), not %.100s",
			     Py_TYPE(fn)->tp_name);
		return -1;
	}
	if (cancel_fd < 0 || stop_fd < 0) {
		/* No cancel fd of the caller's: one to stop the run with. */
		o->own_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (o->own_fd < 0) {
			PyErr_SetFromErrno(PyExc_OSError);
			return -1;
		}
		o->cancel_fd = o->stop_fd = o->own_fd;
	}
	o->fn = fn;
	return 0;
}

void cpy_output_cb(void *user, enum cact_stream stream, const char *data, size_t len)
{
	struct cpy_output *o = user;
	PyGILState_STATE g;
	PyObject *name, *text, *r = NULL;
	uint64_t one = 1;
	ssize_t n;

	g = PyGILState_Ensure();
	if (o->failed)
		goto out; /* the run is stopping: nothing more for on_output */
	name = PyUnicode_FromString(cact_stream_name(stream) ? cact_stream_name(stream) : "");
	text = name ? PyUnicode_DecodeUTF8(data, (Py_ssize_t)len, "replace") : NULL;
	if (text)
		r = PyObject_CallFunctionObjArgs(o->fn, name, text, NULL);
	Py_XDECREF(text);
	Py_XDECREF(name);
	if (r) {
		Py_DECREF(r);
		goto out;
	}
	o->failed = 1;
	PyErr_Fetch(&o->type, &o->value, &o->tb);
	/* The cancel fd turns readable: libcact ends the run. */
	do
		n = write(o->stop_fd, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
out:
	PyGILState_Release(g);
}

int cpy_output_finish(struct cpy_output *o)
{
	if (o->own_fd >= 0)
		close(o->own_fd);
	o->own_fd = -1;
	if (!o->failed)
		return 0;
	o->failed = 0;
	PyErr_Restore(o->type, o->value, o->tb);
	o->type = o->value = o->tb = NULL;
	return -1;
}
