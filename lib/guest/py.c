/* SPDX-License-Identifier: MIT */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <marshal.h>

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"
#include "../wire/wire.h"
#include "guest.h"
#include "py.h"
#include "runner_py.h"
#include "runner_pyc.h"

static PyObject *runner; /* the runner module, owned for the process lifetime */

/*
 * _cact.request(id, payload): sends one frame to the host on the wire
 * socket and waits for the frame that answers it (same "id"). Any number
 * of Python threads may wait at once: whichever finds no reader reads the
 * next frame and files it for its owner. The GIL is released meanwhile.
 *
 * In a session the main thread waits the same way for the next run's exec
 * frame (pyg_next_exec), filed under EXEC_ID, since a thread the code left
 * running may be the one reading. Between runs the gate is closed: such a
 * thread's new requests wait until the next run has started ("running"
 * sent), and a request still waiting for an answer when a new run starts
 * fails, since the host dropped the run's calls when it ended.
 */
struct reply {
	long long id;
	char *data;
	size_t len;
	struct reply *next;
};

/* The id exec frames are filed under: never a request's (the runner counts from 1). */
#define EXEC_ID (-1LL)

static pthread_mutex_t send_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_closed; /* under send_lock: between two runs of a session */
static pthread_mutex_t recv_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t recv_cond = PTHREAD_COND_INITIALIZER;
static struct reply *replies;
static int reading, host_gone;
static unsigned run_gen; /* under recv_lock: exec frames filed so far */

/* The largest answer frame read: set per execution (pyg_configure). */
static size_t reply_max = 8u << 20;

static struct reply *take(long long id)
{
	struct reply **pp, *r;

	for (pp = &replies; *pp; pp = &(*pp)->next) {
		if ((*pp)->id == id) {
			r = *pp;
			*pp = r->next;
			return r;
		}
	}
	return NULL;
}

/* Reads one frame and files it. Called with recv_lock dropped. */
static int read_one(void)
{
	struct reply *r;
	json_t *msg;
	char *data = NULL;
	size_t len;

	if (wire_read(GUEST_FD_WIRE, reply_max, &data, &len))
		return -1;
	msg = json_loadb(data, len, JSON_ALLOW_NUL, NULL);
	r = calloc(1, sizeof(*r));
	if (msg && r && !json_object_get(msg, "id") &&
	    strcmp(json_string_value(json_object_get(msg, "type")) ?: "", "exec") == 0) {
		r->id = EXEC_ID;
	} else if (!msg || !r || !json_is_integer(json_object_get(msg, "id"))) {
		json_decref(msg);
		free(r);
		free(data);
		return 0; /* not ours to understand: drop it */
	} else {
		r->id = json_integer_value(json_object_get(msg, "id"));
	}
	r->data = data;
	r->len = len;
	json_decref(msg);
	pthread_mutex_lock(&recv_lock);
	r->next = replies;
	replies = r;
	if (r->id == EXEC_ID)
		run_gen++;
	pthread_mutex_unlock(&recv_lock);
	return 0;
}

/*
 * Waits for the frame filed under id, reading for everyone while nobody
 * else does. recv_lock held; GIL released. NULL when the host is gone or,
 * for a request (stale set), when a new run started meanwhile.
 */
static struct reply *await_reply(long long id, int stale)
{
	unsigned gen = run_gen;
	struct reply *r;

	for (;;) {
		if ((r = take(id)) || host_gone)
			return r;
		if (stale && run_gen != gen)
			return NULL;
		if (!reading) {
			int rc;

			reading = 1;
			pthread_mutex_unlock(&recv_lock);
			rc = read_one();
			pthread_mutex_lock(&recv_lock);
			reading = 0;
			if (rc)
				host_gone = 1;
			pthread_cond_broadcast(&recv_cond);
		} else {
			pthread_cond_wait(&recv_cond, &recv_lock);
		}
	}
}

static PyObject *cact_request(PyObject *self, PyObject *args)
{
	unsigned char hdr[4];
	long long id;
	const char *payload;
	Py_ssize_t len;
	struct reply *r = NULL;
	PyObject *out;
	unsigned gen;
	int sent, stale;

	(void)self;
	if (!PyArg_ParseTuple(args, "Ly#", &id, &payload, &len))
		return NULL;
	if ((size_t)len > 0xffffffffu) {
		PyErr_SetString(PyExc_ValueError, "request too large");
		return NULL;
	}
	hdr[0] = (unsigned char)(len >> 24);
	hdr[1] = (unsigned char)(len >> 16);
	hdr[2] = (unsigned char)(len >> 8);
	hdr[3] = (unsigned char)len;
	Py_BEGIN_ALLOW_THREADS pthread_mutex_lock(&send_lock);
	while (gate_closed)
		pthread_cond_wait(&gate_cond, &send_lock);
	/* Taken before the frame goes: an answer filed before this look would not count as stale. */
	pthread_mutex_lock(&recv_lock);
	gen = run_gen;
	pthread_mutex_unlock(&recv_lock);
	sent = ut_write_full(GUEST_FD_WIRE, hdr, 4) == 0 &&
	       ut_write_full(GUEST_FD_WIRE, payload, (size_t)len) == 0;
	pthread_mutex_unlock(&send_lock);
	pthread_mutex_lock(&recv_lock);
	if (sent && run_gen == gen)
		r = await_reply(id, 1);
	stale = !r && !host_gone;
	pthread_mutex_unlock(&recv_lock);
	Py_END_ALLOW_THREADS if (!r)
	{
		PyErr_SetString(
			PyExc_ConnectionError,
			stale ? "the run that made this request ended before the host answered"
			      : "the host closed the connection");
		return NULL;
	}
	out = PyBytes_FromStringAndSize(r->data, (Py_ssize_t)r->len);
	free(r->data);
	free(r);
	return out;
}

static PyMethodDef cact_methods[] = {
	{"request", cact_request, METH_VARARGS,
	 "Send a frame to the host and wait for its answer."},
	{NULL, NULL, 0, NULL},
};

static struct PyModuleDef cact_module = {
	PyModuleDef_HEAD_INIT,
	"_cact",
	"The guest side of cact's wire protocol.",
	-1,
	cact_methods,
	NULL,
	NULL,
	NULL,
	NULL,
};

static PyObject *cact_module_init(void)
{
	return PyModule_Create(&cact_module);
}

static int append(PyWideStringList *list, const char *path, PyConfig *config, PyStatus *st)
{
	wchar_t *w = Py_DecodeLocale(path, NULL);

	if (!w) {
		*st = PyStatus_NoMemory();
		return -1;
	}
	*st = PyWideStringList_Append(list, w);
	PyMem_RawFree(w);
	(void)config;
	return PyStatus_Exception(*st) ? -1 : 0;
}

static PyObject *load_runner(void)
{
	PyObject *code = NULL, *mod = NULL;
	long magic = PyImport_GetMagicNumber();
	const unsigned char *m = runner_pyc;

	/*
	 * The code compiled at build time when this interpreter reads that
	 * bytecode (same magic number), else compile() of the embedded source.
	 */
	if (magic == (long)((unsigned long)m[0] | (unsigned long)m[1] << 8 |
			    (unsigned long)m[2] << 16 | (unsigned long)m[3] << 24))
		code = PyMarshal_ReadObjectFromString((const char *)m + 4,
						      (Py_ssize_t)sizeof(runner_pyc) - 4);
	if (!code) {
		PyErr_Clear();
		code = Py_CompileString(runner_py, "<cact-runner>", Py_file_input);
	}
	if (!code)
		goto out;
	mod = PyImport_ExecCodeModule("_cact_runner", code);
out:
	Py_XDECREF(code);
	return mod;
}

int pyg_init(const char *stdlib, const char *const *extra, size_t n_extra, struct cact_error *err)
{
	PyPreConfig pre;
	PyConfig config;
	PyStatus st;
	char dynload[4096];
	size_t i;

	if (PyImport_AppendInittab("_cact", cact_module_init) < 0)
		return ut_err(err, CACT_ESANDBOX, "cannot register the _cact module");
	PyPreConfig_InitIsolatedConfig(&pre);
	/* UTF-8 whatever the (empty) locale says. */
	pre.utf8_mode = 1;
	st = Py_PreInitialize(&pre);
	if (PyStatus_Exception(st))
		return ut_err(err, CACT_ESANDBOX, "python pre-init: %s",
			      st.err_msg ? st.err_msg : "?");

	PyConfig_InitIsolatedConfig(&config);
	config.site_import = 0;
	config.write_bytecode = 0;
	config.buffered_stdio = 0; /* print() reaches the pipe at once; os._exit loses nothing */
	config.install_signal_handlers = 0;
	config.parse_argv = 0;
	config.safe_path = 1;
	config.module_search_paths_set = 1;
	ut_snprintf(dynload, sizeof(dynload), "%s/lib-dynload", stdlib);
	if (append(&config.module_search_paths, stdlib, &config, &st) ||
	    append(&config.module_search_paths, dynload, &config, &st))
		goto fail;
	for (i = 0; i < n_extra; i++)
		if (append(&config.module_search_paths, extra[i], &config, &st))
			goto fail;
	st = PyConfig_SetString(&config, &config.program_name, L"python3");
	if (PyStatus_Exception(st))
		goto fail;
	st = PyConfig_SetString(&config, &config.executable, L"/usr/bin/python3");
	if (PyStatus_Exception(st))
		goto fail;
	st = PyConfig_SetString(&config, &config.stdio_encoding, L"utf-8");
	if (PyStatus_Exception(st))
		goto fail;
	st = PyConfig_SetString(&config, &config.stdio_errors, L"backslashreplace");
	if (PyStatus_Exception(st))
		goto fail;
	st = Py_InitializeFromConfig(&config);
	if (PyStatus_Exception(st))
		goto fail;
	PyConfig_Clear(&config);
	runner = load_runner();
	if (!runner) {
		PyErr_Print();
		return ut_err(err, CACT_ESANDBOX, "cannot load the runner module");
	}
	return 0;
fail:
	PyConfig_Clear(&config);
	return ut_err(err, CACT_ESANDBOX, "python init: %s", st.err_msg ? st.err_msg : "?");
}

static PyObject *call(const char *name, PyObject *args)
{
	PyObject *fn = PyObject_GetAttrString(runner, name), *res = NULL;

	if (fn) {
		res = PyObject_CallObject(fn, args);
		Py_DECREF(fn);
	}
	return res;
}

void pyg_preload(int imports)
{
	PyObject *args = Py_BuildValue("(O)", imports ? Py_True : Py_False);
	PyObject *res = args ? call("preload", args) : NULL;

	Py_XDECREF(args);
	if (!res)
		PyErr_Clear();
	Py_XDECREF(res);
}

int pyg_import(const char *name, char *why, size_t size)
{
	PyObject *mod = PyImport_ImportModule(name);

	if (mod) {
		Py_DECREF(mod);
		return 0;
	}
	{
		PyObject *type, *value, *tb, *text;
		const char *msg = NULL;

		PyErr_Fetch(&type, &value, &tb);
		PyErr_NormalizeException(&type, &value, &tb);
		text = value ? PyObject_Str(value) : NULL;
		msg = text ? PyUnicode_AsUTF8(text) : NULL;
		ut_snprintf(why, size, "%s: %s", type ? ((PyTypeObject *)type)->tp_name : "error",
			    msg ? msg : "?");
		Py_XDECREF(text);
		Py_XDECREF(type);
		Py_XDECREF(value);
		Py_XDECREF(tb);
		PyErr_Clear();
	}
	return -1;
}

void pyg_preload_step(int end)
{
	PyObject *res = call(end ? "preload_end" : "preload_begin", NULL);

	if (!res)
		PyErr_Clear();
	Py_XDECREF(res);
}

int pyg_warm(int run)
{
	PyObject *args = Py_BuildValue("(O)", run ? Py_True : Py_False);
	PyObject *res = args ? call("warm", args) : NULL;

	Py_XDECREF(args);
	if (!res) {
		PyErr_Clear();
		return -1;
	}
	Py_DECREF(res);
	return 0;
}

int pyg_configure(int network, uint64_t tool_args_max, uint64_t http_body_max)
{
	PyObject *args, *res;

	/* An HTTP response carries its body in base64, then headers (256 KiB, escaped). */
	if (network && http_body_max / 3 * 4 + (8u << 20) > reply_max)
		reply_max = (size_t)(http_body_max / 3 * 4 + (8u << 20));
	args = Py_BuildValue("(iKK)", network, (unsigned long long)tool_args_max,
			     (unsigned long long)http_body_max);
	res = args ? call("configure", args) : NULL;
	Py_XDECREF(args);
	if (!res) {
		PyErr_Clear();
		return -1;
	}
	Py_DECREF(res);
	return 0;
}

int pyg_run(const char *code, size_t len, int session, char **report)
{
	PyObject *args = NULL, *res = NULL, *src = NULL;
	const char *json;
	long exit_code = 1;

	*report = NULL;
	src = PyBytes_FromStringAndSize(code, (Py_ssize_t)len);
	if (!src)
		goto out;
	args = Py_BuildValue("(OOO)", src, session ? Py_False : Py_True,
			     session ? Py_True : Py_False);
	if (!args)
		goto out;
	res = call("run", args);
	if (!res && session && PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) {
		/* An interrupt that came as the run was ending: the session goes on. */
		PyErr_Clear();
		*report = strdup("{\"type\":\"result\",\"exit_code\":1,\"error\":{\"type\":"
				 "\"KeyboardInterrupt\",\"message\":\"\",\"traceback\":"
				 "\"KeyboardInterrupt\\n\"},\"memory_error\":false}");
		goto out;
	}
	if (!res || !PyTuple_Check(res) || PyTuple_GET_SIZE(res) != 2)
		goto out;
	/* Borrowed items of the tuple. */
	exit_code = PyLong_AsLong(PyTuple_GET_ITEM(res, 0));
	if (exit_code == -1 && PyErr_Occurred())
		exit_code = 1;
	json = PyUnicode_AsUTF8(PyTuple_GET_ITEM(res, 1));
	if (json)
		*report = strdup(json);
out:
	if (PyErr_Occurred())
		PyErr_Clear();
	Py_XDECREF(src);
	Py_XDECREF(args);
	Py_XDECREF(res);
	return (int)exit_code;
}

void pyg_arm(void)
{
	PyObject *res = call("arm", NULL);

	/* A late SIGINT of the last run may surface here: it is dropped. */
	if (!res)
		PyErr_Clear();
	Py_XDECREF(res);
}

void pyg_gate(int closed)
{
	PyThreadState *ts = PyEval_SaveThread();

	pthread_mutex_lock(&send_lock);
	gate_closed = closed;
	if (!closed)
		pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&send_lock);
	PyEval_RestoreThread(ts);
}

int pyg_send(const void *frame, size_t len)
{
	PyThreadState *ts = PyEval_SaveThread();
	int rc;

	pthread_mutex_lock(&send_lock);
	rc = ut_write_full(GUEST_FD_WIRE, frame, len);
	pthread_mutex_unlock(&send_lock);
	PyEval_RestoreThread(ts);
	return rc ? -1 : 0;
}

int pyg_next_exec(size_t max, char **payload, size_t *len)
{
	PyThreadState *ts = PyEval_SaveThread();
	struct reply *r;

	pthread_mutex_lock(&recv_lock);
	/* An exec frame may be the largest frame the host sends. */
	if (max > reply_max)
		reply_max = max;
	r = await_reply(EXEC_ID, 0);
	pthread_mutex_unlock(&recv_lock);
	PyEval_RestoreThread(ts);
	if (!r)
		return -1;
	*payload = r->data;
	*len = r->len;
	free(r);
	return 0;
}

const char *pyg_version(void)
{
	static char v[32];
	const char *full = Py_GetVersion();
	size_t n = strcspn(full, " ");

	if (n >= sizeof(v))
		n = sizeof(v) - 1;
	memcpy(v, full, n);
	v[n] = '\0';
	return v;
}
