/* SPDX-License-Identifier: MIT */
/*
 * cact._cact: module set-up, the callback registry, the thread runtimes are
 * started on, errors, and small argument helpers shared by the types.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cpy.h"

struct cpy_hooks cpy_hooks;
PyObject *cpy_CactError;
PyObject *cpy_UnsupportedError;
PyObject *cpy_SessionEndedError;

static atomic_int exiting;

int cpy_exiting(void)
{
	return atomic_load(&exiting);
}

PyObject *cpy_raise(int code, const struct cact_error *err, const char *what)
{
	const char *msg = err && err->message[0] ? err->message : cact_strerror(code);
	PyObject *type;

	switch (code) {
	case CACT_EINVAL:
	case CACT_ETOOBIG:
	case CACT_ENOENT:
	case CACT_EEXIST:
		type = PyExc_ValueError;
		break;
	case CACT_ENOMEM:
		return PyErr_NoMemory();
	case CACT_EUNSUPPORTED:
		type = cpy_UnsupportedError;
		break;
	default:
		type = cpy_CactError;
	}
	if (what)
		PyErr_Format(type, "%s: %s", what, msg);
	else
		PyErr_SetString(type, msg);
	return NULL;
}

/* ---- registry ---- */

static PyObject *registry; /* dict: int id -> entry */
static uint64_t next_id = 1;

uint64_t cpy_register(PyObject *entry)
{
	uint64_t id = next_id;
	PyObject *key = PyLong_FromUnsignedLongLong(id);

	if (!key || PyDict_SetItem(registry, key, entry)) {
		Py_XDECREF(key);
		return 0;
	}
	Py_DECREF(key);
	next_id++;
	return id;
}

void cpy_unregister(uint64_t id)
{
	PyObject *key, *type, *value, *tb;

	if (!id || !registry)
		return;
	/* Called from deallocators: keep any exception being raised. */
	PyErr_Fetch(&type, &value, &tb);
	key = PyLong_FromUnsignedLongLong(id);
	if (key && PyDict_DelItem(registry, key))
		PyErr_Clear();
	Py_XDECREF(key);
	PyErr_Restore(type, value, tb);
}

PyObject *cpy_lookup(uint64_t id)
{
	PyObject *key = PyLong_FromUnsignedLongLong(id), *v;

	if (!key) {
		PyErr_Clear();
		return NULL;
	}
	v = PyDict_GetItemWithError(registry, key);
	Py_DECREF(key);
	if (!v)
		PyErr_Clear();
	return v;
}

/* ---- the thread runtimes are started on ---- */

struct spawn_job {
	const struct cact_runtime_options *opts;
	struct cact_runtime *rt;
	struct cact_error err;
	int rc;
	int done;
};

static pthread_mutex_t spawn_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t spawn_cond = PTHREAD_COND_INITIALIZER;
static struct spawn_job *spawn_pending;
static pid_t spawner_pid; /* the process whose spawner thread runs; 0: none yet */

static void *spawner(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&spawn_lock);
	for (;;) {
		struct spawn_job *j;

		while (!spawn_pending)
			pthread_cond_wait(&spawn_cond, &spawn_lock);
		j = spawn_pending;
		spawn_pending = NULL;
		pthread_mutex_unlock(&spawn_lock);
		j->rc = cact_runtime_new(j->opts, &j->rt, &j->err);
		pthread_mutex_lock(&spawn_lock);
		j->done = 1;
		pthread_cond_broadcast(&spawn_cond);
	}
	return NULL;
}

int cpy_runtime_new(const struct cact_runtime_options *o, struct cact_runtime **out,
		    struct cact_error *err)
{
	struct spawn_job j = {.opts = o};
	pthread_attr_t attr;
	pthread_t t;
	int rc;

	*out = NULL;
	pthread_mutex_lock(&spawn_lock);
	/* After a fork the child has no spawner thread: it starts its own. */
	if (spawner_pid != getpid()) {
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&attr, 256 * 1024);
		rc = pthread_create(&t, &attr, spawner, NULL);
		pthread_attr_destroy(&attr);
		if (rc) {
			pthread_mutex_unlock(&spawn_lock);
			err->code = CACT_ESYS;
			snprintf(err->message, sizeof(err->message),
				 "cannot start the runtime thread: pthread_create: %s",
				 strerror(rc));
			return CACT_ESYS;
		}
		spawner_pid = getpid();
		spawn_pending = NULL;
	}
	/* One start-up at a time: wait for the slot, then for the answer. */
	while (spawn_pending)
		pthread_cond_wait(&spawn_cond, &spawn_lock);
	spawn_pending = &j;
	pthread_cond_broadcast(&spawn_cond);
	while (!j.done)
		pthread_cond_wait(&spawn_cond, &spawn_lock);
	pthread_mutex_unlock(&spawn_lock);
	*out = j.rt;
	*err = j.err;
	return j.rc;
}

/* ---- the Python threads callbacks run on ---- */

/*
 * libcact calls a tool on a thread it makes for that call. Taking the GIL
 * there (PyGILState_Ensure) makes a Python thread state and destroys it
 * when the thread ends, and CPython 3.11 maps a frame stack for every new
 * thread state and unmaps it with it: on this kind of VM the unmap's TLB
 * shootdown and the fresh pages' faults cost more than handing the call to
 * a thread that keeps its state. Workers are made when every one is busy
 * (a tool may block, or call back into cact), and those beyond POOL_KEEP
 * end after POOL_IDLE_S idle seconds.
 */
#define POOL_KEEP   4
#define POOL_IDLE_S 30

struct pyjob {
	void (*fn)(void *);
	void *arg;
	int done;
	pthread_cond_t cond; /* signalled under pool_lock once done */
	struct pyjob *next;
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond = PTHREAD_COND_INITIALIZER;
static struct pyjob *pool_head, *pool_tail;
static unsigned pool_queued, pool_idle, pool_threads;
static atomic_int pool_direct; /* the benchmark's switch: run on libcact's thread */

/* A fork's child has none of its parent's workers (pthread_atfork). */
static void pool_atfork_child(void)
{
	pthread_mutex_init(&pool_lock, NULL);
	pthread_cond_init(&pool_cond, NULL);
	pool_head = pool_tail = NULL;
	pool_queued = pool_idle = pool_threads = 0;
}

static void *pyworker(void *unused)
{
	PyGILState_STATE g = PyGILState_Ensure(); /* this thread's state, kept */
	PyThreadState *ts = PyEval_SaveThread();
	struct timespec until;
	struct pyjob *j;

	(void)unused;
	pthread_mutex_lock(&pool_lock);
	for (;;) {
		while (!pool_head) {
			int rc;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += POOL_IDLE_S;
			pool_idle++;
			rc = pthread_cond_timedwait(&pool_cond, &pool_lock, &until);
			pool_idle--;
			if (rc == ETIMEDOUT && !pool_head && pool_threads > POOL_KEEP)
				goto quit;
		}
		j = pool_head;
		pool_head = j->next;
		if (!pool_head)
			pool_tail = NULL;
		pool_queued--;
		pthread_mutex_unlock(&pool_lock);
		PyEval_RestoreThread(ts);
		j->fn(j->arg);
		ts = PyEval_SaveThread();
		pthread_mutex_lock(&pool_lock);
		j->done = 1;
		pthread_cond_signal(&j->cond);
	}
quit:
	pool_threads--;
	pthread_mutex_unlock(&pool_lock);
	/* A finalizing interpreter is not entered again: the state is left. */
	if (!cpy_exiting()) {
		PyEval_RestoreThread(ts);
		PyGILState_Release(g);
	}
	return NULL;
}

static void run_direct(void (*fn)(void *), void *arg)
{
	PyGILState_STATE g = PyGILState_Ensure();

	fn(arg);
	PyGILState_Release(g);
}

void cpy_in_python(void (*fn)(void *), void *arg)
{
	struct pyjob j = {.fn = fn, .arg = arg};
	pthread_attr_t attr;
	pthread_t t;
	int spawn, rc;

	if (atomic_load(&pool_direct)) {
		run_direct(fn, arg);
		return;
	}
	pthread_cond_init(&j.cond, NULL);
	pthread_mutex_lock(&pool_lock);
	if (pool_tail)
		pool_tail->next = &j;
	else
		pool_head = &j;
	pool_tail = &j;
	pool_queued++;
	/* Queued calls beyond the idle workers: one more worker. */
	spawn = pool_queued > pool_idle;
	if (spawn)
		pool_threads++;
	else
		pthread_cond_signal(&pool_cond);
	pthread_mutex_unlock(&pool_lock);
	if (spawn) {
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		rc = pthread_create(&t, &attr, pyworker, NULL);
		pthread_attr_destroy(&attr);
		if (rc) {
			struct pyjob **pp;

			/* No worker: take the call back unless one took it meanwhile. */
			pthread_mutex_lock(&pool_lock);
			pool_threads--;
			for (pp = &pool_head; *pp && *pp != &j; pp = &(*pp)->next)
				;
			if (*pp) {
				*pp = j.next;
				if (pool_tail == &j) {
					struct pyjob *last = pool_head;

					while (last && last->next)
						last = last->next;
					pool_tail = last;
				}
				pool_queued--;
				pthread_mutex_unlock(&pool_lock);
				pthread_cond_destroy(&j.cond);
				run_direct(fn, arg);
				return;
			}
			pthread_mutex_unlock(&pool_lock);
		}
	}
	pthread_mutex_lock(&pool_lock);
	while (!j.done)
		pthread_cond_wait(&j.cond, &pool_lock);
	pthread_mutex_unlock(&pool_lock);
	pthread_cond_destroy(&j.cond);
}

/* _tool_threads(on): the benchmark compares workers with libcact's own threads. */
static PyObject *mod_tool_threads(PyObject *self, PyObject *on)
{
	int v = PyObject_IsTrue(on);

	if (v < 0)
		return NULL;
	atomic_store(&pool_direct, !v);
	Py_RETURN_NONE;
}

/* ---- guards ---- */

void cpy_guard_init(struct cpy_guard *g)
{
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->idle, NULL);
	g->users = 0;
	g->closed = 0;
}

void cpy_guard_destroy(struct cpy_guard *g)
{
	pthread_cond_destroy(&g->idle);
	pthread_mutex_destroy(&g->lock);
}

int cpy_guard_enter(struct cpy_guard *g)
{
	int rc = 0;

	pthread_mutex_lock(&g->lock);
	if (g->closed)
		rc = -1;
	else
		g->users++;
	pthread_mutex_unlock(&g->lock);
	return rc;
}

void cpy_guard_leave(struct cpy_guard *g)
{
	pthread_mutex_lock(&g->lock);
	if (--g->users == 0)
		pthread_cond_broadcast(&g->idle);
	pthread_mutex_unlock(&g->lock);
}

int cpy_guard_close(struct cpy_guard *g)
{
	int was_open, busy;

	pthread_mutex_lock(&g->lock);
	was_open = !g->closed;
	g->closed = 1;
	busy = g->users > 0;
	pthread_mutex_unlock(&g->lock);
	if (busy) {
		/*
		 * Users in flight may need the GIL to finish (tool callbacks), and
		 * the lock is never held while the GIL is being taken back.
		 */
		Py_BEGIN_ALLOW_THREADS pthread_mutex_lock(&g->lock);
		while (g->users)
			pthread_cond_wait(&g->idle, &g->lock);
		pthread_mutex_unlock(&g->lock);
		Py_END_ALLOW_THREADS
	}
	return was_open;
}

/* ---- argument helpers ---- */

int cpy_seconds_ms(PyObject *v, const char *what, uint64_t *out)
{
	double s;

	if (PyBool_Check(v) || !(PyLong_Check(v) || PyFloat_Check(v))) {
		PyErr_Format(PyExc_TypeError, "%s must be a number of seconds, not %.100s", what,
			     Py_TYPE(v)->tp_name);
		return -1;
	}
	s = PyFloat_AsDouble(v);
	if (s == -1.0 && PyErr_Occurred())
		return -1;
	/* NaN fails the first test. */
	if (!(s > 0) || s > 1e9) {
		PyErr_Format(PyExc_ValueError, "%s must be a positive number of seconds, not %R",
			     what, v);
		return -1;
	}
	*out = (uint64_t)(s * 1000.0);
	if ((double)*out < s * 1000.0)
		(*out)++;
	return 0;
}

const char *cpy_utf8(PyObject *v, const char *what, Py_ssize_t *len)
{
	const char *s;

	if (!PyUnicode_Check(v)) {
		PyErr_Format(PyExc_TypeError, "%s must be a str, not %.100s", what,
			     Py_TYPE(v)->tp_name);
		return NULL;
	}
	s = PyUnicode_AsUTF8AndSize(v, len);
	if (!s && PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
		PyErr_Clear();
		PyErr_Format(PyExc_ValueError, "%s is not valid text (it holds a lone surrogate)",
			     what);
	}
	return s;
}

PyObject *cpy_fspath(PyObject *v, const char *what)
{
	PyObject *p = NULL, *out = NULL;

	if (!PyUnicode_Check(v) && !PyBytes_Check(v) && !PyObject_HasAttrString(v, "__fspath__")) {
		PyErr_Format(PyExc_TypeError, "%s must be a path (str or os.PathLike), not %.100s",
			     what, Py_TYPE(v)->tp_name);
		return NULL;
	}
	if (!PyUnicode_FSConverter(v, &p))
		return NULL;
	if (memchr(PyBytes_AS_STRING(p), '\0', (size_t)PyBytes_GET_SIZE(p))) {
		PyErr_Format(PyExc_ValueError, "%s holds a NUL byte", what);
		goto out;
	}
	out = p;
	p = NULL;
out:
	Py_XDECREF(p);
	return out;
}

/* ---- module functions ---- */

static int take_hook(PyObject *kw, const char *name, PyObject **slot)
{
	PyObject *v = PyDict_GetItemString(kw, name); /* borrowed */

	if (!v) {
		PyErr_Format(PyExc_TypeError, "_init: missing %s", name);
		return -1;
	}
	Py_INCREF(v);
	Py_XSETREF(*slot, v);
	return 0;
}

static PyObject *mod_init(PyObject *self, PyObject *args, PyObject *kw)
{
	if (PyTuple_GET_SIZE(args) || !kw) {
		PyErr_SetString(PyExc_TypeError, "_init takes keyword arguments only");
		return NULL;
	}
	if (take_hook(kw, "json_loads", &cpy_hooks.json_loads) ||
	    take_hook(kw, "json_dumps", &cpy_hooks.json_dumps) ||
	    take_hook(kw, "run_awaitable", &cpy_hooks.run_awaitable) ||
	    take_hook(kw, "as_tool", &cpy_hooks.as_tool) ||
	    take_hook(kw, "default_runtime", &cpy_hooks.default_runtime) ||
	    take_hook(kw, "File", &cpy_hooks.File) ||
	    take_hook(kw, "ErrorInfo", &cpy_hooks.ErrorInfo) ||
	    take_hook(kw, "ToolCall", &cpy_hooks.ToolCall) ||
	    take_hook(kw, "FileMount", &cpy_hooks.FileMount) ||
	    take_hook(kw, "AllowedDomain", &cpy_hooks.AllowedDomain) ||
	    take_hook(kw, "guest_default", &cpy_hooks.guest_default))
		return NULL;
	Py_RETURN_NONE;
}

/* Registered with atexit by the package: from here on callbacks stay out of Python. */
static PyObject *mod_shutdown(PyObject *self, PyObject *unused)
{
	atomic_store(&exiting, 1);
	Py_RETURN_NONE;
}

static PyObject *mod_version(PyObject *self, PyObject *unused)
{
	return PyUnicode_FromString(cact_version());
}

static PyObject *mod_limits(PyObject *self, PyObject *unused)
{
	PyObject *d = PyDict_New(), *v = NULL;
	int i;

	if (!d)
		return NULL;
	for (i = 0; i < CACT_LIMIT__COUNT; i++) {
		v = Py_BuildValue("(KKK)", (unsigned long long)cact_limit_default(i),
				  (unsigned long long)cact_limit_min(i),
				  (unsigned long long)cact_limit_max(i));
		if (!v || PyDict_SetItemString(d, cact_limit_name(i), v))
			goto fail;
		Py_CLEAR(v);
	}
	return d;
fail:
	Py_XDECREF(v);
	Py_DECREF(d);
	return NULL;
}

static PyObject *mod_input_schema(PyObject *self, PyObject *unused)
{
	return PyUnicode_FromString(cact_codeact_input_schema());
}

static PyObject *mod_features(PyObject *self, PyObject *unused)
{
	struct cact_features f;
	struct cact_error err = {0};
	PyObject *d = NULL, *present = NULL;
	unsigned bit;
	int rc;

	/* Forks a probe child: done with the GIL released like any other wait. */
	Py_BEGIN_ALLOW_THREADS rc = cact_features_probe(&f, &err);
	Py_END_ALLOW_THREADS if (rc) return cpy_raise(rc, &err, "cannot probe the kernel");
	present = PyDict_New();
	if (!present)
		return NULL;
	for (bit = 1; bit <= CACT_FEATURE_PIDFD; bit <<= 1) {
		if (PyDict_SetItemString(present, cact_feature_name(bit),
					 (f.present & bit) ? Py_True : Py_False))
			goto out;
	}
	d = Py_BuildValue("{s:O, s:i, s:s, s:s}", "features", present, "landlock_abi",
			  f.landlock_abi, "kernel", f.kernel, "missing", f.missing_why);
out:
	Py_DECREF(present);
	return d;
}

static PyMethodDef module_methods[] = {
	{"_init", (PyCFunction)(void (*)(void))mod_init, METH_VARARGS | METH_KEYWORDS,
	 "Internal: the package hands over its hooks (cact/__init__.py)."},
	{"_tool_threads", mod_tool_threads, METH_O,
	 "Internal (bench/python_tools.py): whether Python tools run on the extension's "
	 "worker threads (True, the default) or on libcact's call threads."},
	{"_shutdown", mod_shutdown, METH_NOARGS,
	 "Internal: the interpreter is exiting; callbacks stop entering Python."},
	{"libcact_version", mod_version, METH_NOARGS,
	 "libcact_version() -> str\n\nThe version of the libcact built into this extension."},
	{"limits", mod_limits, METH_NOARGS,
	 "limits() -> dict[str, tuple[int, int, int]]\n\n"
	 "Every execution limit by name: (default, minimum, maximum)."},
	{"execute_code_schema", mod_input_schema, METH_NOARGS,
	 "execute_code_schema() -> str\n\nThe JSON Schema of execute_code's arguments."},
	{"probe_features", mod_features, METH_NOARGS,
	 "probe_features() -> dict\n\nWhat this kernel offers the sandbox (forks a probe)."},
	{NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
	PyModuleDef_HEAD_INIT,
	"cact._cact",
	"The C core of the cact package: libcact's public API for Python.",
	-1,
	module_methods,
	NULL,
	NULL,
	NULL,
	NULL,
};

static int add_exception(PyObject *m, const char *name, PyObject *base, const char *doc,
			 PyObject **slot)
{
	char full[64];

	snprintf(full, sizeof(full), "cact.%s", name);
	*slot = PyErr_NewExceptionWithDoc(full, doc, base, NULL);
	if (!*slot)
		return -1;
	Py_INCREF(*slot);
	if (PyModule_AddObject(m, name, *slot)) {
		Py_DECREF(*slot);
		return -1;
	}
	return 0;
}

PyMODINIT_FUNC PyInit__cact(void)
{
	PyObject *m = PyModule_Create(&module_def);

	if (!m)
		return NULL;
	registry = PyDict_New();
	if (!registry)
		goto fail;
	if (pthread_atfork(NULL, NULL, pool_atfork_child))
		goto fail;
	if (add_exception(m, "CactError", PyExc_Exception,
			  "A failure of the sandbox runtime (not of the code it ran): the helper "
			  "could not start, a system call failed, the runtime broke.",
			  &cpy_CactError) ||
	    add_exception(m, "UnsupportedError", cpy_CactError,
			  "The kernel lacks a feature the isolation level needs; the message "
			  "names it (try isolation=\"reduced\", or see cact doctor).",
			  &cpy_UnsupportedError) ||
	    add_exception(m, "SessionEndedError", cpy_CactError,
			  "The session has ended (a run timed out or crashed, it was idle too "
			  "long, or it was closed); the message says why. Start a new one or "
			  "reset() it.",
			  &cpy_SessionEndedError))
		goto fail;
	if (cpy_tool_ready(m) || cpy_result_ready(m) || cpy_runtime_ready(m) ||
	    cpy_session_ready(m) || cpy_codeact_ready(m))
		goto fail;
	if (PyModule_AddFunctions(m, cpy_bench_methods))
		goto fail;
	return m;
fail:
	Py_DECREF(m);
	return NULL;
}
