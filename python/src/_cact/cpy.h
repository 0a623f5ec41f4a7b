/* SPDX-License-Identifier: MIT */
/*
 * cact._cact: the CPython extension over libcact's public API
 * (include/cact/). This header is shared by the extension's modules only.
 *
 * Conventions (docs/python.md, "Internals"): cross-file functions carry the
 * cpy_ prefix; locals start NULL and are released at one exit; comments say
 * new/borrowed/stolen where it is not obvious. Every call into libcact that
 * can block (executions, runtime start-up, session runs and resets) is made
 * with the GIL released.
 */
#ifndef CACT_PY_CPY_H
#define CACT_PY_CPY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
#include <stdint.h>

#include <cact/cact.h>

/* ---- module-wide state (module.c) ---- */

/*
 * Objects the package hands the extension when it is imported
 * (cact/__init__.py calls _cact._init): the JSON codec, the result types
 * written in Python, and the hooks that run awaitables and turn plain
 * callables into tools. All new references owned by the module, NULL until
 * _init ran.
 */
struct cpy_hooks {
	PyObject *json_loads;	   /* json.loads */
	PyObject *json_dumps;	   /* cact._tool.dumps: compact, strict JSON text */
	PyObject *run_awaitable;   /* cact._aio.run_awaitable(awaitable, loop) -> value */
	PyObject *as_tool;	   /* cact._tool.as_tool(obj) -> Tool */
	PyObject *default_runtime; /* cact._runtime_default() -> Runtime */
	PyObject *File;		   /* cact.File(path, media_type, data) */
	PyObject *ErrorInfo;	   /* cact.ErrorInfo(type, message, traceback) */
	PyObject *ToolCall;	   /* cact.ToolCall(name, arguments) */
	PyObject *FileMount;	   /* cact.FileMount(host_path, mount_path) */
	PyObject *AllowedDomain;   /* cact.AllowedDomain(target, methods) */
	PyObject *guest_default;   /* str: the cact-guest installed with the package */
};
extern struct cpy_hooks cpy_hooks;

/* Exceptions: cact.CactError and its subclasses (new references owned by the module). */
extern PyObject *cpy_CactError;
extern PyObject *cpy_UnsupportedError;
extern PyObject *cpy_SessionEndedError;

/* Set once the interpreter is shutting down: callbacks then stay out of Python. */
int cpy_exiting(void);

/*
 * Raises the Python exception for a libcact failure: TypeError/ValueError
 * for bad arguments (CACT_EINVAL, CACT_ETOOBIG, CACT_ENOENT, CACT_EEXIST),
 * MemoryError, UnsupportedError, CactError otherwise. what (may be NULL)
 * prefixes the message. Returns NULL.
 */
PyObject *cpy_raise(int code, const struct cact_error *err, const char *what);

/*
 * The callback registry. libcact keeps a callback's user pointer beyond the
 * call that handed it over (a tool call left running when its execution
 * ends holds it until it returns), so user pointers are never pointers to
 * Python objects: they are ids, looked up here under the GIL. An id whose
 * entry was removed answers "gone". GIL held for all three.
 */
uint64_t cpy_register(PyObject *entry); /* entry: borrowed, a new reference is kept; 0 on failure */
void cpy_unregister(uint64_t id);
PyObject *cpy_lookup(uint64_t id); /* borrowed, or NULL (no exception set) */

/*
 * Starts a runtime on the extension's own long-lived thread. libcact's
 * helper process dies with the thread that spawned it (PR_SET_PDEATHSIG),
 * and a Python program may create a runtime on a thread that ends soon
 * after. Call with the GIL released.
 */
int cpy_runtime_new(const struct cact_runtime_options *o, struct cact_runtime **out,
		    struct cact_error *err);

/*
 * Runs fn(arg) holding the GIL on one of the extension's Python worker
 * threads and waits for it (module.c says why). Called by libcact's
 * threads, without the GIL; never fails (fn runs on the calling thread
 * when no worker can be started).
 */
void cpy_in_python(void (*fn)(void *), void *arg);

/* Seconds (int or float, > 0) into whole milliseconds, rounded up. -1 with an exception set. */
int cpy_seconds_ms(PyObject *v, const char *what, uint64_t *out);

/* Copies of a str argument as UTF-8 (borrowed from the object); NULL with TypeError naming what. */
const char *cpy_utf8(PyObject *v, const char *what, Py_ssize_t *len);

/* A str (or os.PathLike) path argument as a new bytes object of its file system encoding. */
PyObject *cpy_fspath(PyObject *v, const char *what);

/* ---- collection items (runtime.c) ---- */

/*
 * A file mount: a path (host path = mount path: *mount stays NULL) or a
 * (host path, mount path) pair. New bytes references, or -1.
 */
int cpy_mount_item(PyObject *item, PyObject **host, PyObject **mount);

/* An allowed domain: a target, or a (target, method or methods) pair. */
struct cpy_domain {
	PyObject *target;     /* str */
	PyObject *keep;	      /* list: the method strings, alive while methods is used */
	const char **methods; /* UTF-8, borrowed from keep; NULL and n 0 for all methods */
	size_t n;
};
int cpy_domain_item(PyObject *item, struct cpy_domain *d);
void cpy_domain_clear(struct cpy_domain *d);

/* An iterator over a collection argument; TypeError for a lone str or path. */
PyObject *cpy_items_iter(PyObject *v, const char *what, const char *one);

/* ---- a guard: in-flight users of a libcact object that close() must wait for ---- */

struct cpy_guard {
	pthread_mutex_t lock;
	pthread_cond_t idle;
	unsigned users;
	int closed;
};

void cpy_guard_init(struct cpy_guard *g);
void cpy_guard_destroy(struct cpy_guard *g);
/* 0, or -1 when closed (no exception set). GIL held or not. */
int cpy_guard_enter(struct cpy_guard *g);
void cpy_guard_leave(struct cpy_guard *g);
/* Marks it closed and waits (the GIL released) until no user is left. 1 if it was open. */
int cpy_guard_close(struct cpy_guard *g);

/* ---- Tool (tool.c) ---- */

typedef struct {
	PyObject_HEAD struct cact_tool *tool; /* one reference */
	PyObject *func;	   /* the callable; None for tools served elsewhere (commands, MCP) */
	PyObject *convert; /* None, or callable(kwargs dict) -> kwargs dict */
	int is_async;	   /* func is a coroutine function */
	uint64_t id;	   /* registry entry (the tool itself), 0 for external tools */
	PyObject *weakreflist;
} cpy_Tool;

extern PyTypeObject cpy_ToolType;
int cpy_tool_ready(PyObject *m);
#define cpy_Tool_Check(o) PyObject_TypeCheck((o), &cpy_ToolType)
/*
 * A Tool for obj: itself when it is one, else cact._tool.as_tool(obj). New
 * reference or NULL (TypeError saying what a tool may be).
 */
cpy_Tool *cpy_tool_from(PyObject *obj);
/* A Tool object around a libcact tool not made here (takes a new reference to t). */
cpy_Tool *cpy_tool_wrap(struct cact_tool *t);

/*
 * One execution's callbacks. Tools and approval callbacks that must run an
 * awaitable on a given event loop get registry entries and libcact tools of
 * their own for that execution; everything here is released by
 * cpy_binds_clear (GIL held).
 */
struct cpy_binds {
	uint64_t *ids;
	size_t n, cap;
	struct cact_tool **tools; /* references */
	size_t n_tools, cap_tools;
};

/* libcact's view of tool (a reference the caller drops), bound to loop when not None. */
struct cact_tool *cpy_tool_bind(cpy_Tool *tool, PyObject *loop, struct cpy_binds *b);
/* The approval callback for approve (a callable, or None: deny), run on loop when given. */
int cpy_approval_bind(PyObject *approve, PyObject *loop, struct cpy_binds *b, void **user);
void cpy_binds_clear(struct cpy_binds *b);
/* The cact_approval_fn that serves cpy_approval_bind's user. */
int cpy_approve_cb(void *user, const char *tool_name, const char *args_json);
/* Parses "never_require" / "always_require"; -1 with ValueError. */
int cpy_approval_parse(PyObject *v, enum cact_approval *out);

/* ---- live output (output.c) ---- */

/*
 * One execution's on_output. The run gets cancel_fd as its cancel fd and
 * output_cb with this as its user; an exception from on_output is kept,
 * and 8 bytes written to stop_fd (the cancel fd itself for an eventfd, the
 * write end for a pipe) stop the run.
 */
struct cpy_output {
	PyObject *fn;		     /* borrowed; NULL: no live output */
	int cancel_fd, stop_fd;	     /* -1: none */
	int own_fd;		     /* an eventfd made for this run, or -1 */
	int failed;		     /* on_output raised: type, value, tb hold it */
	PyObject *type, *value, *tb; /* owned */
};

/*
 * fn None or NULL: no live output. cancel_fd and stop_fd: the caller's, or
 * -1 (an eventfd is made when fn is given). -1 with TypeError when fn is
 * not callable, or OSError.
 */
int cpy_output_init(struct cpy_output *o, PyObject *fn, int cancel_fd, int stop_fd);
/* The cact_output_fn; user is a struct cpy_output. Takes the GIL. */
void cpy_output_cb(void *user, enum cact_stream stream, const char *data, size_t len);
/* After the run, GIL held: 0, or -1 with on_output's exception restored. */
int cpy_output_finish(struct cpy_output *o);

/* ---- Result (result.c) ---- */

typedef struct {
	PyObject_HEAD struct cact_result *res; /* owned */
} cpy_Result;

extern PyTypeObject cpy_ResultType;
int cpy_result_ready(PyObject *m);
/* Consumes res (freed on failure too). New reference or NULL. */
PyObject *cpy_result_new(struct cact_result *res);

/* ---- Runtime and Session (runtime.c, session.c) ---- */

struct cpy_Session;

typedef struct {
	PyObject_HEAD struct cact_runtime *rt;
	struct cpy_guard guard; /* executions and session calls in flight */
	pid_t pid;		/* the process that started it: a fork's child may not use it */
	PyObject *guest;	/* str: the helper in use */
	struct cpy_Session *sessions; /* open sessions, closed before the runtime (GIL held) */
	PyObject *weakreflist;
} cpy_Runtime;

extern PyTypeObject cpy_RuntimeType;
int cpy_runtime_ready(PyObject *m);
#define cpy_Runtime_Check(o) PyObject_TypeCheck((o), &cpy_RuntimeType)
/* Enters rt's guard: 0, or -1 with an exception (closed, or used after a fork). */
int cpy_runtime_enter(cpy_Runtime *rt);
void cpy_runtime_leave(cpy_Runtime *rt);

/*
 * What Runtime.execute and Runtime.session take besides the code: the
 * request's mounts, domains, tools and limits. Fills req; keeps the Tool
 * objects in *keep (a new list) and the callbacks in b. -1 with an
 * exception.
 */
int cpy_request_fill(struct cact_request *req, PyObject *timeout, PyObject *memory_mib,
		     PyObject *files, PyObject *domains, PyObject *tools, PyObject *approve,
		     PyObject *loop, PyObject **keep, struct cpy_binds *b);

typedef struct cpy_Session {
	PyObject_HEAD struct cact_sandbox_session *s; /* NULL once closed */
	cpy_Runtime *rt;			      /* a reference; NULL once closed */
	struct cpy_guard guard;			      /* calls in flight */
	PyObject *keep;				      /* Tool objects its callbacks use */
	struct cpy_binds binds;
	struct cpy_Session *next, **pprev; /* in rt->sessions */
	PyObject *weakreflist;
} cpy_Session;

extern PyTypeObject cpy_SessionType;
int cpy_session_ready(PyObject *m);
/* Ends a session (waits for a call in flight); GIL held. Used by Runtime.close too. */
void cpy_session_end(cpy_Session *self);
/*
 * A Session object around s (consumed), started on rt, keeping keep (a
 * list of objects to hold while it lives, stolen) and the callbacks b
 * (moved). New reference or NULL.
 */
PyObject *cpy_session_new(cpy_Runtime *rt, struct cact_sandbox_session *s, PyObject *keep,
			  struct cpy_binds *b);

/* ---- CodeAct (codeact.c) ---- */

extern PyTypeObject cpy_CodeActType;
int cpy_codeact_ready(PyObject *m);

/* Benchmark helpers (bench.c): the C API's own timings, for bench/python_tools.py. */
extern PyMethodDef cpy_bench_methods[];

#endif
