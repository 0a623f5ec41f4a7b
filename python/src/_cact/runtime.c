/* SPDX-License-Identifier: MIT */
/*
 * Runtime: one libcact runtime (a zygote and its pool), its executions and
 * the request they run: code, file mounts, network targets, tools, limits.
 * Thread-safe as libcact is: any number of threads may execute at once,
 * each with the GIL released while its code runs. close() waits for the
 * executions in flight, ends the sessions still open, and frees the
 * runtime.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpy.h"

/* ---- request items: files and allowed domains (also used by CodeAct) ---- */

int cpy_mount_item(PyObject *item, PyObject **host, PyObject **mount)
{
	*host = *mount = NULL;
	if ((PyTuple_Check(item) || PyList_Check(item)) && PySequence_Size(item) == 2) {
		PyObject *h = PySequence_GetItem(item, 0), *m = PySequence_GetItem(item, 1);

		if (h && m) {
			*host = cpy_fspath(h, "the host path");
			*mount = *host ? cpy_fspath(m, "the mount path") : NULL;
		}
		Py_XDECREF(h);
		Py_XDECREF(m);
		if (!*mount) {
			Py_CLEAR(*host);
			return -1;
		}
		return 0;
	}
	if (PyTuple_Check(item) || PyList_Check(item)) {
		PyErr_Format(PyExc_TypeError,
			     "a file mount is a path or a (host path, mount path) pair, not a "
			     "%.100s of %zd items",
			     Py_TYPE(item)->tp_name, PySequence_Size(item));
		return -1;
	}
	*host = cpy_fspath(item, "a file mount");
	return *host ? 0 : -1;
}

void cpy_domain_clear(struct cpy_domain *d)
{
	Py_CLEAR(d->target);
	Py_CLEAR(d->keep);
	PyMem_Free(d->methods);
	d->methods = NULL;
	d->n = 0;
}

/* One method name, kept alive in d->keep. */
static int add_method(struct cpy_domain *d, PyObject *m)
{
	const char *s = cpy_utf8(m, "an HTTP method", NULL);
	const char **grown;

	if (!s || PyList_Append(d->keep, m))
		return -1;
	grown = PyMem_Realloc(d->methods, (d->n + 1) * sizeof(*grown));
	if (!grown) {
		PyErr_NoMemory();
		return -1;
	}
	d->methods = grown;
	d->methods[d->n++] = s;
	return 0;
}

int cpy_domain_item(PyObject *item, struct cpy_domain *d)
{
	PyObject *t = NULL, *ms = NULL, *it = NULL, *m;
	int rc = -1;

	memset(d, 0, sizeof(*d));
	d->keep = PyList_New(0);
	if (!d->keep)
		return -1;
	if (PyUnicode_Check(item)) {
		Py_INCREF(item);
		d->target = item;
		return 0;
	}
	if (!(PyTuple_Check(item) || PyList_Check(item)) || PySequence_Size(item) != 2) {
		PyErr_Format(PyExc_TypeError,
			     "an allowed domain is a target (\"api.example.com\") or a (target, "
			     "method or methods) pair, not %.100s",
			     Py_TYPE(item)->tp_name);
		goto out;
	}
	t = PySequence_GetItem(item, 0);
	ms = t ? PySequence_GetItem(item, 1) : NULL;
	if (!ms)
		goto out;
	if (!PyUnicode_Check(t)) {
		PyErr_Format(PyExc_TypeError, "a domain's target must be a str, not %.100s",
			     Py_TYPE(t)->tp_name);
		goto out;
	}
	if (PyUnicode_Check(ms)) {
		if (add_method(d, ms))
			goto out;
	} else if (ms != Py_None) {
		it = PyObject_GetIter(ms);
		if (!it) {
			PyErr_Format(PyExc_TypeError,
				     "a domain's methods are a str, a list of str or None, not "
				     "%.100s",
				     Py_TYPE(ms)->tp_name);
			goto out;
		}
		while ((m = PyIter_Next(it))) {
			int bad = add_method(d, m);

			Py_DECREF(m);
			if (bad)
				goto out;
		}
		if (PyErr_Occurred())
			goto out;
	}
	Py_INCREF(t);
	d->target = t;
	rc = 0;
out:
	Py_XDECREF(it);
	Py_XDECREF(ms);
	Py_XDECREF(t);
	if (rc)
		cpy_domain_clear(d);
	return rc;
}

/* Iterates over a collection argument, refusing a lone str or path (a common slip). */
PyObject *cpy_items_iter(PyObject *v, const char *what, const char *one)
{
	if (PyUnicode_Check(v) || PyBytes_Check(v) || PyObject_HasAttrString(v, "__fspath__")) {
		PyErr_Format(PyExc_TypeError,
			     "%s must be a list of %s; wrap a single one in a list", what, one);
		return NULL;
	}
	return PyObject_GetIter(v);
}

/* ---- the request of an execution ---- */

static int set_limits(struct cact_request *req, PyObject *timeout, PyObject *memory_mib)
{
	struct cact_error err = {0};
	uint64_t ms, lo, hi;
	unsigned long long mib;
	int rc;

	if (timeout && timeout != Py_None) {
		if (cpy_seconds_ms(timeout, "timeout", &ms))
			return -1;
		lo = cact_limit_min(CACT_LIMIT_TIMEOUT_MS);
		hi = cact_limit_max(CACT_LIMIT_TIMEOUT_MS);
		if (ms < lo || ms > hi) {
			char range[96];

			snprintf(range, sizeof(range), "between %g and %g seconds",
				 (double)lo / 1000.0, (double)hi / 1000.0);
			PyErr_Format(PyExc_ValueError, "timeout must be %s, not %R", range,
				     timeout);
			return -1;
		}
		if ((rc = cact_request_set_limit(req, CACT_LIMIT_TIMEOUT_MS, ms, &err)))
			return cpy_raise(rc, &err, "timeout"), -1;
	}
	if (memory_mib && memory_mib != Py_None) {
		lo = cact_limit_min(CACT_LIMIT_MEMORY_BYTES) >> 20;
		hi = cact_limit_max(CACT_LIMIT_MEMORY_BYTES) >> 20;
		if (PyBool_Check(memory_mib) || !PyLong_Check(memory_mib)) {
			PyErr_Format(PyExc_TypeError, "memory_mib must be an int (MiB), not %.100s",
				     Py_TYPE(memory_mib)->tp_name);
			return -1;
		}
		mib = PyLong_AsUnsignedLongLong(memory_mib);
		if ((mib == (unsigned long long)-1 && PyErr_Occurred()) || mib < lo || mib > hi) {
			PyErr_Clear();
			PyErr_Format(PyExc_ValueError,
				     "memory_mib must be between %llu and %llu, not %R",
				     (unsigned long long)(lo ? lo : 1), (unsigned long long)hi,
				     memory_mib);
			return -1;
		}
		if ((rc = cact_request_set_limit(req, CACT_LIMIT_MEMORY_BYTES, (uint64_t)mib << 20,
						 &err)))
			return cpy_raise(rc, &err, "memory_mib"), -1;
	}
	return 0;
}

static int add_files(struct cact_request *req, PyObject *files)
{
	struct cact_error err = {0};
	PyObject *it, *item, *host = NULL, *mount = NULL;
	char what[48];
	Py_ssize_t i = 0;
	int rc = 0;

	if (!files || files == Py_None)
		return 0;
	it = cpy_items_iter(files, "files", "paths or (host path, mount path) pairs");
	if (!it)
		return -1;
	while (rc == 0 && (item = PyIter_Next(it))) {
		rc = cpy_mount_item(item, &host, &mount);
		if (rc == 0 &&
		    (rc = cact_request_add_mount(req, PyBytes_AS_STRING(host),
						 mount ? PyBytes_AS_STRING(mount) : NULL, &err))) {
			snprintf(what, sizeof(what), "files[%zd]", i);
			cpy_raise(rc, &err, what);
		}
		Py_CLEAR(host);
		Py_CLEAR(mount);
		Py_DECREF(item);
		i++;
	}
	Py_DECREF(it);
	return rc || PyErr_Occurred() ? -1 : 0;
}

static int add_domains(struct cact_request *req, PyObject *domains)
{
	struct cact_error err = {0};
	struct cpy_domain d;
	PyObject *it, *item;
	char what[48];
	Py_ssize_t i = 0;
	int rc = 0;

	if (!domains || domains == Py_None)
		return 0;
	it = cpy_items_iter(domains, "allowed_domains", "targets or (target, methods) pairs");
	if (!it)
		return -1;
	while (rc == 0 && (item = PyIter_Next(it))) {
		rc = cpy_domain_item(item, &d);
		if (rc == 0) {
			rc = cact_request_add_allowed_domain(req, PyUnicode_AsUTF8(d.target),
							     d.methods, d.n, &err);
			if (rc) {
				snprintf(what, sizeof(what), "allowed_domains[%zd]", i);
				cpy_raise(rc, &err, what);
			}
			cpy_domain_clear(&d);
		}
		Py_DECREF(item);
		i++;
	}
	Py_DECREF(it);
	return rc || PyErr_Occurred() ? -1 : 0;
}

int cpy_request_fill(struct cact_request *req, PyObject *timeout, PyObject *memory_mib,
		     PyObject *files, PyObject *domains, PyObject *tools, PyObject *approve,
		     PyObject *loop, PyObject **keep, struct cpy_binds *b)
{
	struct cact_error err = {0};
	PyObject *it = NULL, *item;
	int ask = approve && approve != Py_None, rc = -1;
	void *user = NULL;

	*keep = PyList_New(0);
	if (!*keep)
		return -1;
	if (approve && approve != Py_None && !PyCallable_Check(approve)) {
		PyErr_Format(PyExc_TypeError, "approve must be callable (call) -> bool, not %.100s",
			     Py_TYPE(approve)->tp_name);
		goto out;
	}
	if (set_limits(req, timeout, memory_mib) || add_files(req, files) ||
	    add_domains(req, domains))
		goto out;
	if (tools && tools != Py_None) {
		it = cpy_items_iter(tools, "tools", "callables or cact.Tool objects");
		if (!it)
			goto out;
		while ((item = PyIter_Next(it))) {
			cpy_Tool *t = cpy_tool_from(item);
			struct cact_tool *ct = NULL;
			int bad;

			Py_DECREF(item);
			if (!t)
				goto out;
			bad = PyList_Append(*keep, (PyObject *)t);
			if (!bad)
				ct = cpy_tool_bind(t, loop, b);
			if (ct && cact_tool_approval(ct) == CACT_APPROVAL_ALWAYS_REQUIRE)
				ask = 1;
			if (ct && (bad = cact_request_add_tool(req, ct, &err)))
				cpy_raise(bad, &err, "tools");
			Py_DECREF(t);
			if (!ct || bad)
				goto out;
		}
		if (PyErr_Occurred())
			goto out;
	}
	/*
	 * Per-call approval whenever a tool needs it: without an approve
	 * callback every such call is denied, never run unasked.
	 */
	if (ask) {
		if (approve && approve != Py_None) {
			if (cpy_approval_bind(approve, loop ? loop : Py_None, b, &user))
				goto out;
			cact_request_set_approval(req, 1, cpy_approve_cb, user);
		} else {
			cact_request_set_approval(req, 1, NULL, NULL);
		}
	}
	rc = 0;
out:
	Py_XDECREF(it);
	if (rc)
		Py_CLEAR(*keep);
	return rc;
}

/* ---- the Runtime type ---- */

int cpy_runtime_enter(cpy_Runtime *self)
{
	if (!self->rt || cpy_guard_enter(&self->guard)) {
		PyErr_SetString(PyExc_ValueError, "the runtime is closed");
		return -1;
	}
	if (self->pid != getpid()) {
		cpy_guard_leave(&self->guard);
		PyErr_Format(cpy_CactError,
			     "this Runtime was started by process %d; after a fork, start a new "
			     "Runtime in the child",
			     (int)self->pid);
		return -1;
	}
	return 0;
}

void cpy_runtime_leave(cpy_Runtime *self)
{
	cpy_guard_leave(&self->guard);
}

static PyObject *runtime_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	cpy_Runtime *self = (cpy_Runtime *)type->tp_alloc(type, 0);

	if (!self)
		return NULL;
	cpy_guard_init(&self->guard);
	self->pid = getpid();
	return (PyObject *)self;
}

static int opt_uint(PyObject *v, const char *what, unsigned *out)
{
	unsigned long n;

	if (!v || v == Py_None)
		return 0;
	if (PyBool_Check(v) || !PyLong_Check(v)) {
		PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", what,
			     Py_TYPE(v)->tp_name);
		return -1;
	}
	n = PyLong_AsUnsignedLong(v);
	if ((n == (unsigned long)-1 && PyErr_Occurred()) || n > 1000000) {
		PyErr_Clear();
		PyErr_Format(PyExc_ValueError, "%s must be between 0 and 1000000, not %R", what, v);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

/*
 * A list option of strings: paths (as file system bytes) or module names
 * (UTF-8). Returns a new list holding the objects the C strings in *out
 * point into (an array the caller frees with PyMem_Free), or NULL with an
 * exception.
 */
static PyObject *str_list(PyObject *v, const char *what, const char *one, int paths,
			  const char ***out, size_t *n)
{
	PyObject *keep = NULL, *it = NULL, *item, *s;
	const char **arr = NULL;
	Py_ssize_t i, len;
	char name[64];

	*out = NULL;
	*n = 0;
	keep = PyList_New(0);
	it = keep ? cpy_items_iter(v, what, one) : NULL;
	if (!it)
		goto fail;
	for (i = 0; (item = PyIter_Next(it)); i++) {
		snprintf(name, sizeof(name), "%s[%zd]", what, i);
		if (paths) {
			s = cpy_fspath(item, name);
		} else if (cpy_utf8(item, name, &len)) {
			s = PyUnicode_AsUTF8String(item);
		} else {
			s = NULL;
		}
		Py_DECREF(item);
		if (!s || PyList_Append(keep, s)) {
			Py_XDECREF(s);
			goto fail;
		}
		Py_DECREF(s);
	}
	if (PyErr_Occurred())
		goto fail;
	len = PyList_GET_SIZE(keep);
	arr = PyMem_Calloc((size_t)len + 1, sizeof(*arr));
	if (!arr) {
		PyErr_NoMemory();
		goto fail;
	}
	for (i = 0; i < len; i++)
		arr[i] = PyBytes_AS_STRING(PyList_GET_ITEM(keep, i));
	Py_DECREF(it);
	*out = arr;
	*n = (size_t)len;
	return keep;
fail:
	Py_XDECREF(it);
	Py_XDECREF(keep);
	return NULL;
}

static int runtime_init(cpy_Runtime *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"isolation",	  "guest",	  "python_path", "preload",
				 "pool_size",	  "pool_max",	  "max_running", "queue_max",
				 "queue_timeout", "max_sessions", "one_shot",	 NULL};
	PyObject *isolation = NULL, *guest = Py_None, *paths = Py_None, *preload = Py_None;
	PyObject *pool_size = NULL, *pool_max = NULL, *max_running = NULL, *queue_max = NULL;
	PyObject *queue_timeout = NULL, *max_sessions = NULL, *guest_b = NULL, *paths_b = NULL;
	PyObject *preload_s = NULL;
	struct cact_runtime_options o;
	struct cact_error err = {0};
	struct cact_runtime *rt = NULL;
	const char **cpaths = NULL, **cpreload = NULL;
	const char *env;
	int one_shot = 0, rc, ret = -1;

	if (PyTuple_GET_SIZE(args)) {
		PyErr_SetString(PyExc_TypeError, "Runtime takes keyword arguments only");
		return -1;
	}
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|$OOOOOOOOOOp:Runtime", kwlist, &isolation,
					 &guest, &paths, &preload, &pool_size, &pool_max,
					 &max_running, &queue_max, &queue_timeout, &max_sessions,
					 &one_shot))
		return -1;
	if (self->rt) {
		PyErr_SetString(PyExc_TypeError, "Runtime.__init__ may run only once");
		return -1;
	}
	cact_runtime_options_init(&o);
	if (isolation && isolation != Py_None) {
		const char *s = cpy_utf8(isolation, "isolation", NULL);

		if (!s)
			return -1;
		if (strcmp(s, "full") == 0) {
			o.isolation = CACT_ISOLATION_FULL;
		} else if (strcmp(s, "reduced") == 0) {
			o.isolation = CACT_ISOLATION_REDUCED;
		} else {
			PyErr_Format(PyExc_ValueError,
				     "isolation must be \"full\" or \"reduced\", not %R",
				     isolation);
			return -1;
		}
	}
	if (opt_uint(pool_size, "pool_size", &o.pool_size) ||
	    opt_uint(pool_max, "pool_max", &o.pool_max) ||
	    opt_uint(max_running, "max_running", &o.max_running) ||
	    opt_uint(queue_max, "queue_max", &o.queue_max) ||
	    opt_uint(max_sessions, "max_sessions", &o.max_sessions))
		return -1;
	if (queue_timeout && queue_timeout != Py_None &&
	    cpy_seconds_ms(queue_timeout, "queue_timeout", &o.queue_timeout_ms))
		return -1;
	o.one_shot = one_shot;
	/* The helper: guest=, else $CACT_GUEST, else the one installed with the package. */
	if (guest != Py_None) {
		guest_b = cpy_fspath(guest, "guest");
	} else if ((env = getenv("CACT_GUEST")) && *env) {
		guest_b = PyBytes_FromString(env);
	} else if (cpy_hooks.guest_default) {
		guest_b = cpy_fspath(cpy_hooks.guest_default, "the package's cact-guest");
	} else {
		PyErr_SetString(PyExc_TypeError, "the cact package was not initialized");
	}
	if (!guest_b)
		goto out;
	o.guest_path = PyBytes_AS_STRING(guest_b);
	if (paths != Py_None) {
		paths_b = str_list(paths, "python_path", "folders", 1, &cpaths, &o.n_python_paths);
		if (!paths_b)
			goto out;
		o.python_paths = cpaths;
	}
	if (preload != Py_None) {
		preload_s =
			str_list(preload, "preload", "module names", 0, &cpreload, &o.n_preload);
		if (!preload_s)
			goto out;
		o.preload = cpreload;
	}
	Py_BEGIN_ALLOW_THREADS rc = cpy_runtime_new(&o, &rt, &err);
	Py_END_ALLOW_THREADS if (rc)
	{
		cpy_raise(rc, &err, "cannot start the cact runtime");
		goto out;
	}
	self->rt = rt;
	self->guest = PyUnicode_DecodeFSDefault(o.guest_path);
	if (!self->guest)
		goto out;
	ret = 0;
out:
	PyMem_Free(cpaths);
	PyMem_Free(cpreload);
	Py_XDECREF(preload_s);
	Py_XDECREF(paths_b);
	Py_XDECREF(guest_b);
	return ret;
}

/* Ends the sessions still open and frees the runtime. GIL held; no caller in flight. */
static void runtime_free(cpy_Runtime *self)
{
	struct cact_runtime *rt = self->rt;

	while (self->sessions)
		cpy_session_end(self->sessions);
	self->rt = NULL;
	if (!rt)
		return;
	if (self->pid != getpid())
		return; /* a fork's copy: the runtime belongs to the parent */
	/* Joins libcact's threads, which may be waiting for the GIL in a callback. */
	Py_BEGIN_ALLOW_THREADS cact_runtime_free(rt);
	Py_END_ALLOW_THREADS
}

static PyObject *runtime_close(cpy_Runtime *self, PyObject *unused)
{
	if (self->rt) {
		cpy_guard_close(&self->guard);
		runtime_free(self);
	}
	Py_RETURN_NONE;
}

static void runtime_dealloc(cpy_Runtime *self)
{
	if (self->weakreflist)
		PyObject_ClearWeakRefs((PyObject *)self);
	/* Every execution and session holds a reference: none is in flight here. */
	runtime_free(self);
	cpy_guard_destroy(&self->guard);
	Py_CLEAR(self->guest);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

/*
 * The common part of execute and _execute: the request, the run with the
 * GIL released, the Result.
 */
static PyObject *run(cpy_Runtime *self, PyObject *code, PyObject *timeout, PyObject *memory_mib,
		     PyObject *files, PyObject *domains, PyObject *tools, PyObject *approve,
		     PyObject *loop, int cancel_fd, int stop_fd, PyObject *on_output)
{
	struct cpy_output oo;
	struct cpy_binds b = {0};
	struct cact_error err = {0};
	struct cact_request *req = NULL;
	struct cact_result *res = NULL;
	PyObject *keep = NULL, *out = NULL;
	const char *s;
	Py_ssize_t len;
	int rc;

	if (!(s = cpy_utf8(code, "code", &len)))
		return NULL;
	if (cpy_output_init(&oo, on_output, cancel_fd, stop_fd))
		return NULL;
	if (cact_request_new(&req)) {
		cpy_output_finish(&oo);
		return PyErr_NoMemory();
	}
	if ((rc = cact_request_set_code(req, s, (size_t)len, &err))) {
		cpy_raise(rc, &err, "code");
		goto out;
	}
	if (cpy_request_fill(req, timeout, memory_mib, files, domains, tools, approve, loop, &keep,
			     &b))
		goto out;
	cact_request_set_cancel_fd(req, oo.cancel_fd);
	if (oo.fn)
		cact_request_set_output(req, cpy_output_cb, &oo);
	if (cpy_runtime_enter(self))
		goto out;
	Py_BEGIN_ALLOW_THREADS rc = cact_runtime_run(self->rt, req, &res, &err);
	Py_END_ALLOW_THREADS cpy_runtime_leave(self);
	/* What on_output raised comes first: the run stopped for it. */
	if (oo.failed) {
		cact_result_free(res);
		goto out;
	}
	if (rc) {
		cpy_raise(rc, &err, "cannot execute");
		goto out;
	}
	out = cpy_result_new(res);
out:
	cpy_output_finish(&oo);
	cpy_binds_clear(&b);
	Py_XDECREF(keep);
	cact_request_free(req);
	return out;
}

static PyObject *runtime_execute(cpy_Runtime *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"code",  "timeout", "memory_mib", "files", "allowed_domains",
				 "tools", "approve", "on_output",  NULL};
	PyObject *code, *timeout = Py_None, *mem = Py_None, *files = Py_None, *domains = Py_None;
	PyObject *tools = Py_None, *approve = Py_None, *on_output = Py_None;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$OOOOOOO:execute", kwlist, &code, &timeout,
					 &mem, &files, &domains, &tools, &approve, &on_output))
		return NULL;
	return run(self, code, timeout, mem, files, domains, tools, approve, Py_None, -1, -1,
		   on_output);
}

/*
 * _execute(code, loop, cancel_fd, stop_fd, ...): execute_async's worker
 * (cact/_runtime.py). cancel_fd: the read end of a pipe that stops the run
 * once readable; stop_fd: its write end, where an on_output that raises
 * writes.
 */
static PyObject *runtime_execute_bound(cpy_Runtime *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"code",    "loop",	  "cancel_fd", "stop_fd",
				 "timeout", "memory_mib", "files",     "allowed_domains",
				 "tools",   "approve",	  "on_output", NULL};
	PyObject *code, *loop, *timeout = Py_None, *mem = Py_None, *files = Py_None;
	PyObject *domains = Py_None, *tools = Py_None, *approve = Py_None, *on_output = Py_None;
	int cancel_fd, stop_fd;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "OOii|$OOOOOOO:_execute", kwlist, &code, &loop,
					 &cancel_fd, &stop_fd, &timeout, &mem, &files, &domains,
					 &tools, &approve, &on_output))
		return NULL;
	return run(self, code, timeout, mem, files, domains, tools, approve, loop, cancel_fd,
		   stop_fd, on_output);
}

static PyObject *runtime_session(cpy_Runtime *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"timeout", "memory_mib",   "files",	"allowed_domains", "tools",
				 "approve", "idle_timeout", "lifetime", "cpu_total",	   NULL};
	PyObject *timeout = Py_None, *mem = Py_None, *files = Py_None, *domains = Py_None;
	PyObject *tools = Py_None, *approve = Py_None, *idle = Py_None, *life = Py_None;
	PyObject *cpu = Py_None, *keep = NULL, *out = NULL;
	struct cact_sandbox_session_options so;
	struct cact_sandbox_session *s = NULL;
	struct cact_request *req = NULL;
	struct cact_error err = {0};
	struct cpy_binds b = {0};
	int rc;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|$OOOOOOOOO:session", kwlist, &timeout, &mem,
					 &files, &domains, &tools, &approve, &idle, &life, &cpu))
		return NULL;
	cact_sandbox_session_options_init(&so);
	if ((idle != Py_None && cpy_seconds_ms(idle, "idle_timeout", &so.idle_timeout_ms)) ||
	    (life != Py_None && cpy_seconds_ms(life, "lifetime", &so.lifetime_ms)) ||
	    (cpu != Py_None && cpy_seconds_ms(cpu, "cpu_total", &so.cpu_total_ms)))
		return NULL;
	if (cact_request_new(&req))
		return PyErr_NoMemory();
	if (cpy_request_fill(req, timeout, mem, files, domains, tools, approve, Py_None, &keep, &b))
		goto out;
	if (cpy_runtime_enter(self))
		goto out;
	Py_BEGIN_ALLOW_THREADS rc = cact_sandbox_session_new(self->rt, req, &so, &s, &err);
	Py_END_ALLOW_THREADS cpy_runtime_leave(self);
	if (rc) {
		cpy_raise(rc, &err, "cannot start a session");
		goto out;
	}
	out = cpy_session_new(self, s, keep, &b); /* consumes s and keep, moves b */
	keep = NULL;
out:
	cpy_binds_clear(&b);
	Py_XDECREF(keep);
	cact_request_free(req);
	return out;
}

static PyObject *runtime_stats(cpy_Runtime *self, PyObject *unused)
{
	struct cact_runtime_stats st;

	if (cpy_runtime_enter(self))
		return NULL;
	cact_runtime_stats(self->rt, &st);
	cpy_runtime_leave(self);
	return Py_BuildValue("{s:I, s:I, s:I, s:I, s:I, s:K, s:K, s:K, s:I}", "idle", st.idle,
			     "preparing", st.preparing, "running", st.running, "waiting",
			     st.waiting, "pool_target", st.pool_target, "executions",
			     (unsigned long long)st.executions, "busy", (unsigned long long)st.busy,
			     "restarts", (unsigned long long)st.restarts, "sessions", st.sessions);
}

static PyObject *runtime_check(cpy_Runtime *self, PyObject *unused)
{
	struct cact_error err = {0};
	int rc;

	if (cpy_runtime_enter(self))
		return NULL;
	rc = cact_runtime_check(self->rt, &err);
	cpy_runtime_leave(self);
	if (rc)
		return cpy_raise(rc, &err, NULL);
	Py_RETURN_NONE;
}

static PyObject *runtime_enter_ctx(cpy_Runtime *self, PyObject *unused)
{
	if (!self->rt) {
		PyErr_SetString(PyExc_ValueError, "the runtime is closed");
		return NULL;
	}
	Py_INCREF(self);
	return (PyObject *)self;
}

static PyObject *runtime_exit_ctx(cpy_Runtime *self, PyObject *args)
{
	return runtime_close(self, NULL);
}

static PyObject *get_isolation(cpy_Runtime *self, void *c)
{
	char *j;
	PyObject *s, *v;

	if (cpy_runtime_enter(self))
		return NULL;
	j = cact_runtime_isolation_json(self->rt);
	cpy_runtime_leave(self);
	if (!j)
		return PyErr_NoMemory();
	s = PyUnicode_FromString(j);
	cact_free(j);
	v = s ? PyObject_CallOneArg(cpy_hooks.json_loads, s) : NULL;
	Py_XDECREF(s);
	return v;
}

static PyObject *get_closed(cpy_Runtime *self, void *c)
{
	return PyBool_FromLong(self->rt == NULL);
}

static PyObject *get_guest(cpy_Runtime *self, void *c)
{
	if (!self->guest)
		Py_RETURN_NONE;
	Py_INCREF(self->guest);
	return self->guest;
}

static PyObject *get_startup(cpy_Runtime *self, void *c)
{
	uint64_t us;

	if (cpy_runtime_enter(self))
		return NULL;
	us = cact_runtime_startup_us(self->rt);
	cpy_runtime_leave(self);
	return PyFloat_FromDouble((double)us / 1e6);
}

static PyObject *runtime_repr(cpy_Runtime *self)
{
	if (!self->rt)
		return PyUnicode_FromString("<cact.Runtime closed>");
	return PyUnicode_FromFormat("<cact.Runtime guest=%R>", self->guest);
}

static PyMethodDef runtime_methods[] = {
	{"execute", (PyCFunction)(void (*)(void))runtime_execute, METH_VARARGS | METH_KEYWORDS,
	 "execute(code, *, timeout=None, memory_mib=None, files=None, allowed_domains=None, "
	 "tools=None, approve=None, on_output=None) -> Result\n\n"
	 "Runs code in a fresh sandbox and waits for it, the GIL released. timeout: seconds "
	 "(default 30); memory_mib: the memory cap; files: paths or (host path, mount path) "
	 "pairs visible read-only under /input; allowed_domains: network targets or (target, "
	 "methods) pairs; tools: callables or Tool objects the code calls with call_tool; "
	 "approve: approve(call) -> bool, asked before each call of a tool whose "
	 "approval_mode is \"always_require\" (without it such calls are denied); on_output: "
	 "on_output(stream, text), called with \"stdout\" or \"stderr\" and the text as the "
	 "code writes it, in order (if it raises, the run stops and execute raises that)."},
	{"_execute", (PyCFunction)(void (*)(void))runtime_execute_bound,
	 METH_VARARGS | METH_KEYWORDS,
	 "Internal: execute with async tools bound to loop and a cancel fd (execute_async)."},
	{"session", (PyCFunction)(void (*)(void))runtime_session, METH_VARARGS | METH_KEYWORDS,
	 "session(*, timeout=None, memory_mib=None, files=None, allowed_domains=None, "
	 "tools=None, approve=None, idle_timeout=None, lifetime=None, cpu_total=None) -> "
	 "Session\n\nStarts a sandboxed interpreter kept across runs (its globals persist). "
	 "idle_timeout, lifetime, cpu_total: seconds (defaults 600, 3600, 600)."},
	{"stats", (PyCFunction)runtime_stats, METH_NOARGS,
	 "stats() -> dict\n\nThe runtime's load: idle, preparing, running, waiting, "
	 "pool_target, executions, busy, restarts, sessions."},
	{"check", (PyCFunction)runtime_check, METH_NOARGS,
	 "check() -> None\n\nRaises CactError when the runtime gave up after its helper died "
	 "too often."},
	{"close", (PyCFunction)runtime_close, METH_NOARGS,
	 "close() -> None\n\nWaits for executions in flight, ends open sessions, stops the "
	 "sandbox helper. Idempotent."},
	{"__enter__", (PyCFunction)runtime_enter_ctx, METH_NOARGS,
	 "__enter__() -> self\n\nThe runtime itself; leaving the with block closes it."},
	{"__exit__", (PyCFunction)runtime_exit_ctx, METH_VARARGS,
	 "__exit__(*exc_info) -> None\n\nCloses the runtime (close())."},
	{NULL, NULL, 0, NULL},
};

static PyGetSetDef runtime_getset[] = {
	{"isolation", (getter)get_isolation, NULL,
	 "The isolation in force: {\"level\", \"features\", \"landlock_abi\"}.", NULL},
	{"closed", (getter)get_closed, NULL, "Whether close() was called.", NULL},
	{"guest", (getter)get_guest, NULL, "Path of the cact-guest helper in use.", NULL},
	{"startup_seconds", (getter)get_startup, NULL,
	 "How long the sandbox helper took to start and warm up.", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject cpy_RuntimeType = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "cact._cact.Runtime",
	.tp_basicsize = sizeof(cpy_Runtime),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
	.tp_doc = "Runtime(*, isolation='full', guest=None, python_path=None, preload=None, "
		  "pool_size=None, "
		  "pool_max=None, max_running=None, queue_max=None, queue_timeout=None, "
		  "max_sessions=None, one_shot=False)\n\n"
		  "A warm sandboxed interpreter that forks one sandbox per execution.",
	.tp_new = runtime_new,
	.tp_init = (initproc)runtime_init,
	.tp_dealloc = (destructor)runtime_dealloc,
	.tp_repr = (reprfunc)runtime_repr,
	.tp_methods = runtime_methods,
	.tp_getset = runtime_getset,
	.tp_weaklistoffset = offsetof(cpy_Runtime, weakreflist),
};

int cpy_runtime_ready(PyObject *m)
{
	if (PyType_Ready(&cpy_RuntimeType))
		return -1;
	Py_INCREF(&cpy_RuntimeType);
	if (PyModule_AddObject(m, "Runtime", (PyObject *)&cpy_RuntimeType)) {
		Py_DECREF(&cpy_RuntimeType);
		return -1;
	}
	return 0;
}
