# SPDX-License-Identifier: MIT
#
# The Python half of the guest. The zygote runs this module once; every
# execution child then calls run() on the model's code. It shares the
# process with that code, so nothing here is a security boundary: the host
# treats whatever this module reports as untrusted and takes the process's
# real fate from the kernel. Its job is to make ordinary code behave as it
# would under `python3 file.py`, plus the interactive display of a final
# expression.

# Only what every execution needs, and cheap to import: a one-shot runtime
# pays for each import here. json, traceback and linecache are imported
# where they are used (the zygote has them preloaded).
import _ast as ast
import atexit
import builtins
import gc
import sys
import types

FILENAME = "<code>"
RUNNER_FILE = "<cact-runner>"
TOOL_ARGS_MAX = 1024 * 1024  # set per execution by configure(); the host enforces its own
HTTP_BODY_MAX = 16 * 1024 * 1024
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
    "zipfile zlib zoneinfo http.client urllib.request urllib.error"
).split()


_call_ids = __import__("itertools").count(1)


# Calls (and HTTP requests) one execution may have in flight; more wait here.
IN_FLIGHT = 16
_slots = {}


def _in_flight(kind):
    """The semaphore that caps one kind of request in flight, made on first use:
    most executions never call a tool."""
    slots = _slots.get(kind)
    if slots is None:
        import threading
        slots = _slots.setdefault(kind, threading.BoundedSemaphore(IN_FLIGHT))
    return slots
JSON_DEPTH_MAX = 60  # the host refuses frames nested deeper than 64


def _check_json(value, what, depth=0):
    """Refuses what the host's JSON reader would refuse as a protocol violation."""
    if depth > JSON_DEPTH_MAX:
        raise ValueError("%s: nested deeper than %d levels" % (what, JSON_DEPTH_MAX))
    if isinstance(value, dict):
        for key, item in value.items():
            # The host's JSON reader takes no NUL in a key (a value may hold one).
            if isinstance(key, str) and "\0" in key:
                raise ValueError("%s: key %r holds a NUL character" % (what, key))
            _check_json(item, what, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_json(item, what, depth + 1)
    elif isinstance(value, int) and not isinstance(value, bool):
        if not -(1 << 63) <= value < (1 << 63):
            raise ValueError("%s: integer %d does not fit in 64 bits (pass it as a string)"
                             % (what, value))


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
    _check_json(kwargs, "call_tool(%r) arguments" % name)
    import json

    call_id = next(_call_ids)
    try:
        payload = json.dumps({"type": "tool_call", "id": call_id, "name": name, "args": kwargs},
                             ensure_ascii=False, allow_nan=False,
                             separators=(",", ":")).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise TypeError("call_tool(%r): arguments must be JSON values (dict, list, str, int, "
                        "float, bool, None): %s" % (name, exc)) from None
    except RecursionError:
        raise ValueError("call_tool(%r): arguments nest too deeply" % name) from None
    # Far over the cap: refused here as the host would refuse it.
    if len(payload) > 2 * TOOL_ARGS_MAX + 4096:
        raise RuntimeError("tool %r failed: the arguments are larger than %d bytes"
                           % (name, TOOL_ARGS_MAX))
    import _cact

    with _in_flight("tool"):
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
    _install_matplotlib_backend()


# ---- matplotlib: headless, and plt.show() returns the figures ----

MPL_CONFIG = "/tmp/matplotlib"
_figures_shown = 0


def _mpl_show(*args, **kwargs):
    """plt.show() as a notebook shows figures: each open figure is written
    to /output as PNG (figure-1.png, figure-2.png, ... across the
    execution), then closed."""
    global _figures_shown
    from matplotlib._pylab_helpers import Gcf

    managers = Gcf.get_all_fig_managers()
    for manager in managers:
        _figures_shown += 1
        path = "/output/figure-%d.png" % _figures_shown
        manager.canvas.figure.savefig(path, format="png")
        print("[figure saved to %s]" % path)
    if managers:
        Gcf.destroy_all()


def _install_matplotlib_backend():
    """The backend matplotlib gets by default (MPLBACKEND, which the host sets
    with MPLCONFIGDIR in the sandbox's environment): Agg's canvas, and a
    show() that saves. Its settings folder is in the execution's /tmp (the
    preload's font cache, if matplotlib was preloaded, is in memory)."""
    module = types.ModuleType("_cact_matplotlib", "cact's matplotlib backend: Agg, show() saves.")

    def load():
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.backend_bases import FigureManagerBase

        class FigureManager(FigureManagerBase):
            def show(self):
                _mpl_show()

        module.FigureCanvas = FigureCanvasAgg
        module.FigureManager = FigureManager

    def getattr_(name):
        if name in ("FigureCanvas", "FigureManager"):
            load()
            return module.__dict__[name]
        raise AttributeError(name)

    module.__getattr__ = getattr_
    module.show = _mpl_show
    sys.modules["_cact_matplotlib"] = module


# ---- network: every request is made by the host, which decides ----

def _host_http(method, url, body=None, headers=None):
    """Sends one HTTP request through the host. Returns (status, headers,
    body bytes, final url). Raises PermissionError when the policy refuses
    it, TimeoutError or OSError when it fails."""
    if not isinstance(method, str) or not method:
        raise TypeError("method must be a non-empty str, like 'GET'")
    if not isinstance(url, str):
        raise TypeError("url must be a str, not %s" % type(url).__name__)
    fields = {}
    if headers is not None:
        items = headers.items() if hasattr(headers, "items") else headers
        for name, value in items:
            if not isinstance(name, str):
                raise TypeError("header names must be str, not %s" % type(name).__name__)
            if isinstance(value, bytes):
                value = value.decode("latin-1")
            elif not isinstance(value, str):
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    value = str(value)
                else:
                    raise TypeError("header %r: value must be a str, not %s"
                                    % (name, type(value).__name__))
            # Names are HTTP tokens; NUL, CR and LF never reach the host's frame.
            if not name or not all(33 <= ord(c) < 127 and c not in '()<>@,;:\\"/[]?={}'
                                   for c in name):
                raise PermissionError("bad header name %r" % name)
            if "\0" in value or "\r" in value or "\n" in value:
                raise PermissionError("header %r has a line break or NUL" % name)
            fields[name] = value
    if body is None:
        encoded = None
    else:
        if isinstance(body, str):
            body = body.encode("utf-8")
        elif isinstance(body, (bytes, bytearray, memoryview)):
            body = bytes(body)
        else:
            raise TypeError("body must be str or bytes, not %s" % type(body).__name__)
        if len(body) > HTTP_BODY_MAX:
            raise ValueError("the request body is larger than %d bytes" % HTTP_BODY_MAX)
        import binascii

        encoded = binascii.b2a_base64(body, newline=False).decode("ascii")
    import json

    call_id = next(_call_ids)
    payload = json.dumps({"type": "http_request", "id": call_id, "method": method, "url": url,
                          "headers": fields, "body": encoded},
                         ensure_ascii=False).encode("utf-8", "surrogatepass")
    import _cact

    with _in_flight("http"):
        reply = json.loads(_cact.request(call_id, payload))
    if not reply.get("ok"):
        error = reply.get("error") or "the request failed"
        if reply.get("denied"):
            raise PermissionError(error)
        if "timed out" in error or "Timeout" in error:
            raise TimeoutError(error)
        raise OSError(error)
    import binascii

    value = reply["value"]
    return (value["status"], value["headers"], binascii.a2b_base64(value["body"]),
            value.get("url") or url)


def _response(status, headers, data, url, binary):
    return {"status": status, "headers": headers,
            "body": data if binary else data.decode("utf-8", "replace"), "url": url}


def http_request(method, url, body=None, headers=None, binary=False):
    """Makes an HTTP(S) request through the host to an allowed target.
    Returns {"status": int, "headers": {lower-case name: str}, "body": str
    (bytes when binary=True), "url": the final URL after redirects}.
    Raises PermissionError when the target or method is not allowed, and
    OSError (TimeoutError for timeouts) when the request fails."""
    status, fields, data, final = _host_http(method.upper() if isinstance(method, str) else method,
                                             url, body, headers)
    return _response(status, fields, data, final, binary)


def http_get(url, headers=None, binary=False):
    """GET url through the host; see http_request."""
    return http_request("GET", url, None, headers, binary)


def http_post(url, body="", content_type="application/json", headers=None, binary=False):
    """POST body (str, bytes, or any JSON value, which is encoded as JSON)
    to url through the host with the given Content-Type; see http_request."""
    if not isinstance(body, (str, bytes, bytearray, memoryview)):
        import json

        body = json.dumps(body)
    fields = dict(headers.items() if hasattr(headers, "items") else headers or ())
    if content_type and not any(k.lower() == "content-type" for k in fields if isinstance(k, str)):
        fields["Content-Type"] = content_type
    return http_request("POST", url, body, fields, binary)


def _title(name):
    return "-".join(part.capitalize() for part in name.split("-"))


def _enable_network():
    """Installs the helpers and routes http.client (and so urllib) through
    the host for this execution."""
    import http.client
    import io
    import urllib.error
    import urllib.request

    class HostResponse(io.BufferedIOBase):
        """http.client.HTTPResponse's interface over a response the host fetched."""

        def __init__(self, status, fields, data, final, method):
            super().__init__()
            self.status = self.code = status
            self.reason = http.client.responses.get(status, "")
            self.version = 11
            self.will_close = True
            self.chunked = False
            self._final = final
            message = http.client.HTTPMessage()
            for name, value in fields.items():
                for part in value.split("\n") if name == "set-cookie" else (value,):
                    message[_title(name)] = part
            self.headers = self.msg = message
            self._body = io.BytesIO(b"" if method == "HEAD" else data)
            self.length = len(self._body.getbuffer())

        # urllib assigns the URL it asked for; the one reached after redirects is kept.
        url = property(lambda self: self._final, lambda self, value: None)

        def readable(self):
            return True

        def read(self, amt=None):
            return self._body.read(-1 if amt is None else amt)

        def read1(self, n=-1):
            return self._body.read1(n)

        def readinto(self, b):
            return self._body.readinto(b)

        def readline(self, limit=-1):
            return self._body.readline(limit)

        def peek(self, n=0):
            at = self._body.tell()
            return self._body.getvalue()[at:at + max(n, 1)]

        def getheader(self, name, default=None):
            values = self.headers.get_all(name)
            return ", ".join(values) if values else default

        def getheaders(self):
            return list(self.headers.items())

        def info(self):
            return self.headers

        def geturl(self):
            return self._final

        def getcode(self):
            return self.status

        def isclosed(self):
            return self._body.closed

        def fileno(self):
            raise io.UnsupportedOperation("cact: the response was fetched by the host; it has "
                                          "no socket")

        def close(self):
            self._body.close()
            super().close()

    class HostConnection(http.client.HTTPConnection):
        """http.client.HTTPConnection's interface; the host makes the request.
        A subclass of the original, for isinstance checks and its static
        helpers; every method that would touch a socket is replaced."""

        default_port = http.client.HTTP_PORT
        scheme = "http"
        response_class = HostResponse

        def __init__(self, host, port=None, timeout=None, source_address=None,
                     blocksize=8192, **_ignored):
            self.host, self.port = self._get_hostport(host, port)
            self.timeout = timeout
            self.sock = None
            self.debuglevel = 0
            self._tunnel_host = None
            self._pending = None
            self._response = None

        def set_debuglevel(self, level):
            self.debuglevel = level

        def set_tunnel(self, host, port=None, headers=None):
            raise OSError("cact: tunnels and proxies are not available from sandboxed code")

        def connect(self):
            pass

        def close(self):
            self._pending = None

        def putrequest(self, method, url, skip_host=False, skip_accept_encoding=False):
            self._pending = [method, url, [], []]

        def putheader(self, header, *values):
            if self._pending is None:
                raise http.client.CannotSendHeader()
            text = [v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in values]
            name = header.decode("latin-1") if isinstance(header, bytes) else header
            self._pending[2].append((name, ", ".join(text)))

        def endheaders(self, message_body=None, *, encode_chunked=False):
            if self._pending is None:
                raise http.client.CannotSendHeader()
            if message_body is not None:
                self.send(message_body)

        def send(self, data):
            if self._pending is None:
                raise http.client.CannotSendRequest()
            if hasattr(data, "read"):
                data = data.read()
            if isinstance(data, str):
                data = data.encode("utf-8")
            if isinstance(data, (bytes, bytearray, memoryview)):
                self._pending[3].append(bytes(data))
            else:
                for chunk in data:
                    self._pending[3].append(chunk.encode("utf-8") if isinstance(chunk, str)
                                            else bytes(chunk))

        def request(self, method, url, body=None, headers={}, *, encode_chunked=False):
            self.putrequest(method, url)
            for name, value in headers.items():
                self.putheader(name, value)
            self.endheaders(body)
            # The exchange happens now, so that its failure is request()'s, where
            # urllib turns an OSError into URLError.
            self._response = self._exchange()

        def getresponse(self):
            response, self._response = self._response, None
            if response is not None:
                return response
            if self._pending is None:
                raise http.client.ResponseNotReady()
            return self._exchange()

        def _exchange(self):
            method, target, fields, chunks = self._pending
            self._pending = None
            if not (target[:7].lower() == "http://" or target[:8].lower() == "https://"):
                authority = ("[%s]" % self.host) if ":" in self.host else self.host
                if self.port != self.default_port:
                    authority += ":%d" % self.port
                target = "%s://%s%s" % (self.scheme, authority, target)
            body = b"".join(chunks) if chunks or method in ("POST", "PUT", "PATCH") else None
            status, got, data, final = _host_http(method, target, body, fields)
            return self.response_class(status, got, data, final, method)

    class HostSConnection(HostConnection):
        default_port = http.client.HTTPS_PORT
        scheme = "https"

    class Denied(urllib.error.URLError, PermissionError):
        """A URL the host's allow-list refused: both URLError and PermissionError."""

    def denied(open_fn):
        def opener(self, req):
            try:
                return open_fn(self, req)
            except urllib.error.URLError as exc:
                if isinstance(exc.reason, PermissionError) and not isinstance(exc, Denied):
                    raise Denied(exc.reason) from None
                raise
        return opener

    http.client.HTTPConnection = HostConnection
    http.client.HTTPSConnection = HostSConnection
    urllib.request.HTTPHandler.http_open = denied(urllib.request.HTTPHandler.http_open)
    if hasattr(urllib.request, "HTTPSHandler"):
        urllib.request.HTTPSHandler.https_open = denied(urllib.request.HTTPSHandler.https_open)
    else:
        class HTTPSHandler(urllib.request.AbstractHTTPHandler):
            def https_open(self, req):
                return self.do_open(HostSConnection, req)
            https_request = urllib.request.AbstractHTTPHandler.do_request_
        HTTPSHandler.https_open = denied(HTTPSHandler.https_open)
        urllib.request.HTTPSHandler = HTTPSHandler
    # Proxies from the environment mean nothing here: the host makes the connection.
    urllib.request.getproxies = lambda: {}
    for name in ("http_request", "http_get", "http_post"):
        setattr(builtins, name, globals()[name])
        setattr(sys.modules["cact"], name, globals()[name])


def configure(network, tool_args_max, http_body_max):
    """Sets up one execution (in its child, before the code runs)."""
    global TOOL_ARGS_MAX, HTTP_BODY_MAX

    TOOL_ARGS_MAX = tool_args_max
    HTTP_BODY_MAX = http_body_max
    if network:
        _enable_network()


# Exit handlers registered by the preloaded modules themselves (logging's, for one).
_base_exitfuncs = 0


def preload(imports=True):
    """Installs the helpers and, unless the runtime will serve one execution
    only, imports the common modules once for every child."""
    global _base_exitfuncs
    _install()
    if imports:
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


_preload_dir = None


def preload_begin():
    """Before the runtime's own preload modules (in the zygote, on the
    host's file system): matplotlib, if one of them imports it, keeps its
    settings and font cache in a private temporary folder, not in a
    folder of the host's /tmp that executions would not see."""
    global _preload_dir
    import os
    import tempfile

    if os.environ.get("MPLCONFIGDIR") == MPL_CONFIG:
        _preload_dir = tempfile.mkdtemp(prefix="cact-mpl-")
        os.environ["MPLCONFIGDIR"] = _preload_dir


def preload_end():
    """After them: the temporary folder goes (the font cache stays in
    memory), matplotlib looks for its folders in the execution's /tmp, and
    the collector keeps off what the modules left (a collection would
    copy it into every child)."""
    global _preload_dir, _base_exitfuncs
    import os

    if _preload_dir is not None:
        import shutil

        shutil.rmtree(_preload_dir, ignore_errors=True)
        os.environ["MPLCONFIGDIR"] = MPL_CONFIG
        mpl = sys.modules.get("matplotlib")
        if mpl is not None:
            mpl.get_configdir = mpl.get_cachedir = lambda: MPL_CONFIG
        _preload_dir = None
    _warm_ups[:] = []
    for name, code in _WARM_UPS:
        if name in sys.modules:
            try:
                _warm_ups.append(compile(code, "<warm-up %s>" % name, "exec"))
            except BaseException:
                pass
    _warm_up_packages()
    # Their exit handlers are not the code's: an execution runs only those it registers.
    _base_exitfuncs = atexit._ncallbacks()
    gc.collect()
    gc.freeze()


# What a first use of a preloaded package builds lazily (caches, dispatch
# tables, interned objects): done once in the zygote, so that children
# inherit it, and again in each prepared child before its request, so that
# the pages a first use writes (and so copies) are copied off the request
# path. Only for packages the runtime's preload brought in.
_WARM_UPS = (
    ("numpy", "import numpy as np\n"
              "a = np.arange(12.0).reshape(3, 4)\n"
              "(a * 2).sum(axis=0).tolist(); repr(a)\n"),
    ("pandas", "import pandas as pd\n"
               "df = pd.DataFrame({'k': ['a', 'b', 'a'], 'v': [1, 2, 3]})\n"
               "df.groupby('k').v.sum().to_dict(); repr(df)\n"),
)
_warm_ups = []


def _warm_up_packages():
    for code in _warm_ups:
        try:
            exec(code, {"__name__": "__warm_up__"})
        except BaseException:
            pass


def _split(tree):
    """Returns (module, expression) where expression is the final bare
    expression statement, evaluated separately so its value can be shown."""
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    return tree, last


def _trim(tb):
    # Drop the frames of this module so the traceback starts at the code.
    while tb is not None and tb.tb_frame.f_code.co_filename not in _sources:
        tb = tb.tb_next
    return tb


def _remember_sources():
    """Lets tracebacks and warnings quote the code's lines (linecache is
    imported only when something needs it): this run's, and in a session
    every earlier run's, whose functions the code may still call."""
    linecache = sys.modules.get("linecache")
    if linecache is not None:
        for name, text in _sources.items():
            linecache.cache[name] = (len(text), None, text.splitlines(True), name)


def _format(exc):
    import traceback

    _remember_sources()
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
    _flush()


def _flush():
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


_sources = {}  # file name -> source text of the code run in this process


_session_main = None


def _interrupts(on):
    """In a session, SIGINT (cact_session_interrupt) raises KeyboardInterrupt
    while the code runs, as Ctrl-C does in python3; between runs it is
    ignored."""
    import signal

    try:
        signal.signal(signal.SIGINT, signal.default_int_handler if on else signal.SIG_IGN)
    except BaseException:
        pass


def run(source, finish=True, session=False):
    """Runs source (bytes) as __main__. Returns (exit_code, report_json).
    finish=False skips the exit-time work (thread join, atexit), which must
    not happen in a warm-up: it would mark the process as shutting down.
    session=True keeps __main__ from one run to the next and does no
    exit-time work either: threads and atexit handlers belong to the
    session, whose process is killed when it ends."""
    global _session_main
    error = None
    memory = False
    if session and _session_main is not None:
        main = _session_main
    else:
        main = types.ModuleType("__main__")
        main.__dict__["__builtins__"] = builtins
        main.__dict__["__file__"] = FILENAME
        if session:
            _session_main = main
    sys.modules["__main__"] = main
    exit_code = 0
    if session:
        _interrupts(True)
    # A session's runs are <code-1>, <code-2>, ... so that a traceback names
    # the run each frame's line comes from.
    name = "<code-%d>" % (len(_sources) + 1) if session else FILENAME
    try:
        text = source.decode("utf-8")
        if not session:
            _sources.clear()
        _sources[name] = text
        _remember_sources()
        tree, last = _split(compile(text, name, "exec", ast.PyCF_ONLY_AST, True))
        body = compile(tree, name, "exec", dont_inherit=True)
        expr = compile(last, name, "eval", dont_inherit=True) if last else None
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
        if session:
            _interrupts(False)
            _flush()
        elif finish:
            _shutdown()
    if error is None:
        return exit_code, _PLAIN % (exit_code, "false")
    try:
        import json

        return exit_code, json.dumps({"type": "result", "exit_code": exit_code, "error": error,
                                      "memory_error": memory})
    except BaseException:
        return exit_code, _PLAIN % (exit_code, "true" if memory else "false")


def warm(run_snippet=True):
    """In each new child of the zygote, before its request. First what must
    differ between executions: the interpreter's own after-fork hooks are
    not run (see py.h), and the one that matters here is the random
    module's reseed. Then a small snippet through the same path as run(),
    with the real standard streams (the caller points fds 1 and 2 at
    /dev/null), so that what a first execution touches is in place before
    the request arrives. Only the common path: an error's traceback costs
    its pages when it happens."""
    random = sys.modules.get("random")
    if random is not None:
        random.seed()
    if not run_snippet:
        return
    try:
        configure(0, TOOL_ARGS_MAX, HTTP_BODY_MAX)
        run(b"x = [i * i for i in range(10)]\nprint(sum(x), f'{x[1]}')\nx[2]\n", finish=False)
        _warm_up_packages()
    finally:
        sys.modules.pop("__main__", None)
        _sources.clear()
        if "linecache" in sys.modules:
            sys.modules["linecache"].cache.pop(FILENAME, None)
