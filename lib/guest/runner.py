# SPDX-License-Identifier: MIT
#
# The Python half of the guest. The zygote runs this module once; every
# execution child then calls run() on the model's code. It shares the
# process with that code, so nothing here is a security boundary: the host
# treats whatever this module reports as untrusted and takes the process's
# real fate from the kernel. Its job is to make ordinary code behave as it
# would under `python3 file.py`, plus the interactive display of a final
# expression.

import ast
import atexit
import builtins
import gc
import io
import json
import linecache
import sys
import traceback
import types

FILENAME = "<code>"
RUNNER_FILE = "<cact-runner>"
TOOL_ARGS_MAX = 1024 * 1024  # the host's default cap; the host enforces its own
_PLAIN = '{"type":"result","exit_code":%d,"error":null,"memory_error":%s}'
TRACEBACK_MAX = 64 * 1024
TRACEBACK_FRAMES = 100

# Imported once in the zygote so that no execution pays for them. Modules
# that start threads at import time (numpy's BLAS, for one) must never be
# here: the zygote has to stay single-threaded to fork and unshare.
PRELOAD = (
    "abc argparse array asyncio base64 binascii bisect calendar cmath codecs "
    "collections collections.abc concurrent.futures contextlib copy csv "
    "dataclasses datetime decimal difflib email.utils enum errno fnmatch "
    "fractions functools glob gzip hashlib heapq hmac html io ipaddress "
    "itertools json locale logging math mimetypes numbers operator os "
    "pathlib pickle pprint queue random re secrets shlex shutil signal "
    "socket statistics string struct tempfile textwrap threading time "
    "timeit traceback typing unicodedata urllib.parse uuid warnings "
    "zipfile zlib zoneinfo"
).split()


_call_ids = __import__("itertools").count(1)


def call_tool(name, /, *args, **kwargs):
    """Calls the host tool `name` with keyword arguments and returns its
    result as Python values. Raises RuntimeError when the tool fails,
    PermissionError when the call is not approved."""
    if args:
        raise TypeError(
            "call_tool() takes the tool name, then keyword arguments only: "
            "call_tool(%r, a=1, b=2); got %d positional argument(s) after the name"
            % (name, len(args)))
    if not isinstance(name, str):
        raise TypeError("call_tool(): the tool name must be a str, not %s" % type(name).__name__)
    call_id = next(_call_ids)
    try:
        payload = json.dumps({"type": "tool_call", "id": call_id, "name": name, "args": kwargs},
                             ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise TypeError("call_tool(%r): arguments must be JSON values (dict, list, str, int, "
                        "float, bool, None): %s" % (name, exc)) from None
    if len(payload) > TOOL_ARGS_MAX + 256:
        raise ValueError("call_tool(%r): the arguments are larger than %d bytes"
                         % (name, TOOL_ARGS_MAX))
    import _cact

    reply = json.loads(_cact.request(call_id, payload))
    if reply.get("ok"):
        return reply.get("value")
    if reply.get("denied"):
        raise PermissionError("tool %r: %s" % (name, reply.get("error")))
    raise RuntimeError("tool %r failed: %s" % (name, reply.get("error")))


def _install():
    # call_tool is a built-in of every execution, and importable: from cact import call_tool.
    builtins.call_tool = call_tool
    module = types.ModuleType("cact", "Helpers cact gives sandboxed code.")
    module.call_tool = call_tool
    sys.modules["cact"] = module


# Exit handlers registered by the preloaded modules themselves (logging's, for one).
_base_exitfuncs = 0


def preload():
    global _base_exitfuncs
    _install()
    for name in PRELOAD:
        try:
            __import__(name)
        except Exception:
            pass
    # Objects alive now are shared copy-on-write with every child; keep the
    # collector from touching (and so copying) them.
    gc.collect()
    gc.freeze()
    _base_exitfuncs = atexit._ncallbacks()


def _split(tree):
    """Returns (module, expression) where expression is the final bare
    expression statement, evaluated separately so its value can be shown."""
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    return tree, last


def _trim(tb):
    # Drop the frames of this module so the traceback starts at the code.
    while tb is not None and tb.tb_frame.f_code.co_filename != FILENAME:
        tb = tb.tb_next
    return tb


def _format(exc):
    try:
        if isinstance(exc, SyntaxError) or exc.__traceback__ is None:
            text = "".join(traceback.format_exception_only(type(exc), exc))
        else:
            exc.__traceback__ = _trim(exc.__traceback__)
            # The innermost frames only: formatting a million-frame recursion
            # would outlast the time limit. Frames of this module (call_tool's)
            # are cact's, not the code's: left out.
            te = traceback.TracebackException(type(exc), exc, exc.__traceback__,
                                              limit=-TRACEBACK_FRAMES)
            te.stack = traceback.StackSummary.from_list(
                [f for f in te.stack if f.filename != RUNNER_FILE])
            text = "".join(te.format())
    except BaseException:
        text = "%s\n" % type(exc).__name__
    if len(text) > TRACEBACK_MAX:
        text = text[: TRACEBACK_MAX // 2] + "\n[... traceback truncated ...]\n" + text[-TRACEBACK_MAX // 2 :]
    return text


def _message(exc):
    try:
        return str(exc)[:TRACEBACK_MAX]
    except BaseException:
        return "<unprintable %s>" % type(exc).__name__


def _shutdown():
    # What the interpreter does at exit: wait for non-daemon threads, run
    # atexit handlers, flush the standard streams. Each step only when the
    # code gave it something to do: untouched pages stay shared (and cheap).
    threading = sys.modules.get("threading")
    if threading is not None and (threading.active_count() > 1 or threading._shutdown_locks):
        try:
            threading._shutdown()
        except BaseException:
            pass
    if atexit._ncallbacks() > _base_exitfuncs:
        try:
            atexit._run_exitfuncs()
        except BaseException:
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass


def _exit_code(exc):
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int) and not isinstance(code, bool):
        return code
    try:
        print(code, file=sys.stderr)
    except BaseException:
        pass
    return 1


def run(source, finish=True):
    """Runs source (bytes) as __main__. Returns (exit_code, report_json).
    finish=False skips the exit-time work (thread join, atexit), which must
    not happen in a warm-up: it would mark the process as shutting down."""
    error = None
    memory = False
    main = types.ModuleType("__main__")
    main.__dict__["__builtins__"] = builtins
    main.__dict__["__file__"] = FILENAME
    sys.modules["__main__"] = main
    exit_code = 0
    try:
        text = source.decode("utf-8")
        linecache.cache[FILENAME] = (len(text), None, text.splitlines(True), FILENAME)
        tree, last = _split(ast.parse(text, FILENAME, "exec"))
        body = compile(tree, FILENAME, "exec", dont_inherit=True)
        expr = compile(last, FILENAME, "eval", dont_inherit=True) if last else None
        exec(body, main.__dict__)
        if expr is not None:
            value = eval(expr, main.__dict__)
            if value is not None:
                print(repr(value))
    except SystemExit as exc:
        exit_code = _exit_code(exc)
        if exit_code != 0:
            error = {"type": "SystemExit", "message": "exit code %d" % exit_code, "traceback": ""}
    except BaseException as exc:
        memory = isinstance(exc, MemoryError)
        exit_code = 1
        tb = _format(exc)
        try:
            sys.stderr.write(tb)
        except BaseException:
            pass
        error = {"type": type(exc).__name__, "message": _message(exc), "traceback": tb}
    finally:
        if finish:
            _shutdown()
    if error is None:
        return exit_code, _PLAIN % (exit_code, "false")
    try:
        return exit_code, json.dumps({"type": "result", "exit_code": exit_code, "error": error,
                                      "memory_error": memory})
    except BaseException:
        return exit_code, _PLAIN % (exit_code, "true" if memory else "false")


def warm():
    """Runs small snippets through the same path as run(), with the real
    standard streams (the caller points fds 1 and 2 at /dev/null), so that
    the pages a first execution would copy are copied before the request
    arrives."""
    try:
        run(b"import json, math\nx = [i * i for i in range(200)]\n"
            b"print(sum(x), json.dumps({'a': 1}))\nmath.sqrt(2)\n", finish=False)
        run(b"import sys\nprint('x', file=sys.stderr)\n1/0", finish=False)
    finally:
        sys.modules.pop("__main__", None)
        linecache.cache.pop(FILENAME, None)
