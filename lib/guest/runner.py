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


class _Quitter:
    """exit() and quit() as python3's site module defines them: they raise
    SystemExit, which ends the code with that exit status (in a session,
    the run ends and the session goes on)."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "Use %s() or Ctrl-D (i.e. EOF) to exit" % self.name

    def __call__(self, code=None):
        raise SystemExit(code)


def _install():
    # call_tool is a built-in of every execution, and importable: from cact import call_tool.
    builtins.call_tool = call_tool
    # The interpreter starts without the site module, which would define these.
    builtins.exit = _Quitter("exit")
    builtins.quit = _Quitter("quit")
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

def _host_http(method, url, body=None, headers=None, timeout=None):
    """Sends one HTTP request through the host. Returns (status, headers,
    body bytes, final url). Raises PermissionError when the policy refuses
    it, TimeoutError or OSError when it fails. timeout (seconds), when
    given, is used where it is shorter than the host's limit."""
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
    frame = {"type": "http_request", "id": call_id, "method": method, "url": url,
             "headers": fields, "body": encoded}
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and 0 < timeout < 1e9:
        frame["timeout_ms"] = int(timeout * 1000) or 1
    payload = json.dumps(frame, ensure_ascii=False).encode("utf-8", "surrogatepass")
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


# Request heads larger than this are refused (http.client's own lines are 64 KiB at most).
_HEAD_MAX = 1024 * 1024


class _WireRequest:
    """Reads one HTTP/1.1 request as http.client writes it on a socket:
    the request line, the headers, then a body framed by Content-Length or
    chunked, or none. Bounded: the head by _HEAD_MAX, the body by
    HTTP_BODY_MAX."""

    def __init__(self):
        self.raw = bytearray()
        self.head = None  # (method, target, [(name, value)]) once the head is in
        self.body = bytearray()
        self.left = None  # body bytes still to come (Content-Length), or None
        self.chunked = False
        self.framed = False  # the request has a body (a length or chunks)
        self.done = False

    def feed(self, data):
        self.raw += data
        if self.head is None:
            end = self.raw.find(b"\r\n\r\n")
            if end < 0:
                if len(self.raw) > _HEAD_MAX:
                    raise ValueError("the request head is larger than %d bytes" % _HEAD_MAX)
                return
            self._parse_head(bytes(self.raw[:end]))
            del self.raw[:end + 4]
        if self.chunked:
            self._chunks()
        elif self.left is not None:
            take = self.raw[:self.left]
            del self.raw[:self.left]
            self.body += take
            self.left -= len(take)
            self.done = self.left == 0
        else:
            self.done = True
        if len(self.body) > HTTP_BODY_MAX:
            raise ValueError("the request body is larger than %d bytes" % HTTP_BODY_MAX)
        if self.done and self.raw:
            raise OSError("cact: bytes were sent after the end of the request")

    def _parse_head(self, head):
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            raise OSError("cact: not an HTTP request line: %r" % lines[0][:200])
        fields = []
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and fields:  # a folded value continues
                fields[-1] = (fields[-1][0], fields[-1][1] + " " + line.strip())
                continue
            name, sep, value = line.partition(":")
            if not sep:
                raise OSError("cact: not a header line: %r" % line[:200])
            fields.append((name.strip(), value.strip()))
        self.head = (parts[0], parts[1], fields)
        for name, value in fields:
            low = name.lower()
            if low == "transfer-encoding" and "chunked" in value.lower():
                self.chunked = self.framed = True
            elif low == "content-length" and not self.chunked:
                if not value.isdigit():
                    raise OSError("cact: bad Content-Length %r" % value[:40])
                self.left = int(value)
                self.framed = True
                if self.left > HTTP_BODY_MAX:
                    raise ValueError("the request body is larger than %d bytes" % HTTP_BODY_MAX)
        if self.chunked:
            self.left = None

    def _chunks(self):
        raw = self.raw
        at = 0
        while not self.done:
            end = raw.find(b"\r\n", at)
            if end < 0:
                if len(raw) - at > 4096:
                    raise OSError("cact: a chunk size line is too long")
                break
            size_text = bytes(raw[at:end]).split(b";")[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise OSError("cact: bad chunk size %r" % size_text[:40]) from None
            if size == 0:
                # The last chunk, then trailer lines up to an empty one.
                if raw[end + 2:end + 4] == b"\r\n":
                    at, self.done = end + 4, True
                    break
                stop = raw.find(b"\r\n\r\n", end + 2)
                if stop < 0:
                    if len(raw) - end > 65536:
                        raise OSError("cact: the request's trailer is too long")
                    break
                at, self.done = stop + 4, True
                break
            if len(raw) < end + 2 + size + 2:
                if size > HTTP_BODY_MAX:
                    raise ValueError("the request body is larger than %d bytes" % HTTP_BODY_MAX)
                break
            self.body += raw[end + 2:end + 2 + size]
            if len(self.body) > HTTP_BODY_MAX:
                raise ValueError("the request body is larger than %d bytes" % HTTP_BODY_MAX)
            at = end + 2 + size + 2
        del raw[:at]


class _HostSocket:
    """What http.client's connection writes to and reads from in place of a
    socket. It collects the request the connection writes; once the request
    is complete the host makes it, and the response is served from memory.
    A failure to make the request (refused, no route, TLS) is raised where
    sending is; a timeout is raised where the response is read, as a real
    socket would."""

    def __init__(self, scheme, host, port, default_port, timeout):
        self.scheme, self.host, self.port, self.default_port = scheme, host, port, default_port
        self.timeout = timeout
        self.closed = False
        self._request = _WireRequest()
        self._reply = None
        self._error = None

    def _url(self, target):
        if target[:7].lower() == "http://" or target[:8].lower() == "https://":
            return target  # the absolute form (a forwarding proxy's)
        authority = ("[%s]" % self.host) if ":" in self.host else self.host
        if self.port != self.default_port:
            authority += ":%d" % self.port
        return "%s://%s%s" % (self.scheme, authority, target)

    def sendall(self, data, flags=0):
        if self.closed:
            raise OSError("cact: the connection is closed")
        if not isinstance(data, (bytes, bytearray)):
            data = memoryview(data).cast("B")
        request = self._request
        request.feed(data)
        if not request.done:
            return
        self._request = _WireRequest()
        method, target, fields = request.head
        headers = {}
        for name, value in fields:
            key = next((k for k in headers if k.lower() == name.lower()), name)
            headers[key] = headers[key] + ", " + value if key in headers else value
        body = bytes(request.body) if request.framed else None
        try:
            status, got, data, final = _host_http(method, self._url(target), body, headers,
                                                  self.timeout)
        except TimeoutError as exc:
            self._error = exc
            return
        self._reply = (status, got, b"" if method == "HEAD" else data, final)

    def send(self, data, flags=0):
        self.sendall(data)
        return len(data)

    def makefile(self, mode="rb", buffering=None, **_kwargs):
        error, reply = self._error, self._reply
        self._error = self._reply = None
        if error is not None:
            raise error
        if reply is None:
            raise OSError("cact: the response was read before the request was complete")
        return _HostBody(reply)

    # Socket settings the host's limits stand in for.
    def settimeout(self, value):
        self.timeout = value

    def gettimeout(self):
        return self.timeout

    def setblocking(self, flag):
        pass

    def setsockopt(self, *args):
        pass

    def getsockopt(self, *args):
        return 0

    def shutdown(self, how):
        pass

    def close(self):
        self.closed = True

    def fileno(self):
        raise OSError("cact: the host makes this connection's requests; it has no socket")


class _HostBody(__import__("io").BufferedReader):
    """A response body the host fetched, read from memory."""

    def __init__(self, reply):
        import io

        status, fields, data, final = reply
        super().__init__(io.BytesIO(data))
        self.cact_reply = (status, fields, len(data), final)

    def fileno(self):
        import io

        raise io.UnsupportedOperation("cact: the response was fetched by the host; it has no "
                                      "socket")


def _adapt_urllib3(module):
    """urllib3's connection classes (1.26 and 2.x) subclass http.client's
    and open their sockets themselves in connect(). Here they are based on
    the host's connection and connect through it; the host verifies
    certificates, so an HTTPS connection is a verified one."""
    import http.client

    plain, tls = getattr(module, "HTTPConnection", None), getattr(module, "HTTPSConnection", None)
    if not isinstance(plain, type) or not issubclass(plain, _ORIGINAL_HTTP):
        return
    if not issubclass(plain, http.client.HTTPConnection):
        # Imported before this execution enabled the network (a preload).
        plain.__bases__ = tuple(http.client.HTTPConnection if base is _ORIGINAL_HTTP else base
                                for base in plain.__bases__)

    def connect(self):
        http.client.HTTPConnection.connect(self)
        self.is_verified = self._host_scheme == "https"

    plain.connect = connect
    if isinstance(tls, type) and issubclass(tls, plain):
        tls.connect = connect
        tls._host_scheme = "https"


def _adapt_requests(module):
    """requests checks that its CA bundle file exists before an HTTPS
    request, and the sandbox has none: the host verifies certificates with
    its own. It also takes a response's URL from the request it sent; the
    host followed the redirects, so the URL reached is the response's."""
    adapter = getattr(module, "HTTPAdapter", None)
    if adapter is None or getattr(adapter, "_host_adapted", False):
        return
    cert_verify, build_response = adapter.cert_verify, adapter.build_response

    def host_cert_verify(self, conn, url, verify, cert):
        return cert_verify(self, conn, url, False, cert)

    def host_build_response(self, req, resp):
        response = build_response(self, req, resp)
        final = getattr(getattr(resp, "_original_response", None), "url", None)
        if isinstance(final, str) and final:
            response.url = final
        return response

    adapter.cert_verify, adapter.build_response = host_cert_verify, host_build_response
    adapter._host_adapted = True


_ADAPT = {"urllib3.connection": _adapt_urllib3, "requests.adapters": _adapt_requests}
_ORIGINAL_HTTP = None


def _adapt(fix, module):
    """A version these adaptations do not fit is left as it is: its
    requests then fail as any socket does here, and nothing else does."""
    try:
        fix(module)
    except Exception:
        pass


class _AdaptOnImport:
    """A meta path finder that adapts the modules in _ADAPT when they are
    imported, after their own code ran."""

    def find_spec(self, name, path=None, target=None):
        fix = _ADAPT.get(name)
        if fix is None:
            return None
        import importlib.machinery

        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        def run(module):
            exec_module(module)
            _adapt(fix, module)

        spec.loader.exec_module = run
        return spec


def _enable_network():
    """Installs the helpers and routes http.client (and so urllib, urllib3
    and requests) through the host for this execution."""
    global _ORIGINAL_HTTP
    import http.client
    import urllib.error
    import urllib.request

    class HostResponse(http.client.HTTPResponse):
        """http.client's response, read from a body the host fetched."""

        # urllib assigns the URL it asked for; the one reached after redirects is kept.
        url = property(lambda self: self.__dict__.get("_final") or self.__dict__.get("_url"),
                       lambda self, value: self.__dict__.__setitem__("_url", value))

        def begin(self):
            reply = getattr(self.fp, "cact_reply", None)
            if reply is None or self.headers is not None:
                return super().begin()
            status, fields, length, final = reply
            self._final = final
            self.version, self.code, self.status = 11, status, status
            self.reason = http.client.responses.get(status, "")
            if self.debuglevel > 0:
                print("reply:", repr("HTTP/1.1 %d %s" % (status, self.reason)))
            message = http.client.HTTPMessage()
            for name, value in fields.items():
                # The host has decoded the framing: the body here is whole.
                if name in ("transfer-encoding", "connection", "keep-alive"):
                    continue
                for part in value.split("\n") if name == "set-cookie" else (value,):
                    message[_title(name)] = part
                    if self.debuglevel > 0:
                        print("header:", _title(name) + ":", part)
            self.headers = self.msg = message
            self.chunked, self.chunk_left = False, None
            self.length = length
            self.will_close = True

    class HostConnection(http.client.HTTPConnection):
        """http.client.HTTPConnection whose socket is the host: everything
        but connect() is http.client's own, so the interface is the
        documented one, and each request is made by the host."""

        _host_scheme = "http"
        response_class = HostResponse

        def connect(self):
            sys.audit("http.client.connect", self, self.host, self.port)
            self.sock = _HostSocket(self._host_scheme, self.host, self.port, self.default_port,
                                    self.timeout)

        def set_tunnel(self, host, port=None, headers=None):
            raise OSError("cact: tunnels and proxies are not available from sandboxed code")

    class HostSConnection(HostConnection):
        """HTTPS through the host, which verifies the certificate against
        its own authorities: key_file, cert_file, context and
        check_hostname are accepted and have no effect."""

        default_port = http.client.HTTPS_PORT
        _host_scheme = "https"

        def __init__(self, host, port=None, key_file=None, cert_file=None,
                     timeout=__import__("socket")._GLOBAL_DEFAULT_TIMEOUT, source_address=None,
                     *, context=None, check_hostname=None, blocksize=8192):
            super().__init__(host, port, timeout, source_address, blocksize)
            self.key_file, self.cert_file = key_file, cert_file
            self._context, self._check_hostname = context, check_hostname

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

    _ORIGINAL_HTTP = http.client.HTTPConnection
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
    # urllib3 and requests: adapted now if a preload imported them, else when imported.
    for name, fix in _ADAPT.items():
        if name in sys.modules:
            _adapt(fix, sys.modules[name])
    sys.meta_path.insert(0, _AdaptOnImport())
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


def _remember_sources(only=None):
    """Lets tracebacks and warnings quote the code's lines (linecache is
    imported only when something needs it): this run's, and in a session
    every earlier run's, whose functions the code may still call. A run
    starts with its own only (only=name): doing them all would make each
    run of a long session dearer than the last; a traceback does them all,
    in case the code cleared linecache's cache."""
    linecache = sys.modules.get("linecache")
    if linecache is not None:
        for name in (only,) if only else _sources:
            text = _sources[name]
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


_armed = False  # a session's run is on: SIGINT raises KeyboardInterrupt


def _on_sigint(signum, frame):
    """SIGINT in a session (cact_sandbox_session_interrupt): KeyboardInterrupt
    in the code, as Ctrl-C in python3, while a run is on. One that comes
    late, for a run that has already ended, is dropped."""
    if _armed:
        raise KeyboardInterrupt


def arm():
    """Called by the guest just before it tells the host that a session's
    code runs: from then on SIGINT interrupts the code (the host sends it
    only after that frame, so none is lost). The handler is put back if
    earlier code replaced it."""
    global _armed
    import signal

    if signal.getsignal(signal.SIGINT) is not _on_sigint:
        try:
            signal.signal(signal.SIGINT, _on_sigint)
        except BaseException:
            pass
    _armed = True


def run(source, finish=True, session=False):
    """Runs source (bytes) as __main__. Returns (exit_code, report_json).
    finish=False skips the exit-time work (thread join, atexit), which must
    not happen in a warm-up: it would mark the process as shutting down.
    session=True keeps __main__ from one run to the next and does no
    exit-time work either: threads and atexit handlers belong to the
    session, whose process is killed when it ends."""
    global _session_main, _armed
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
    # A session's runs are <code-1>, <code-2>, ... so that a traceback names
    # the run each frame's line comes from.
    name = "<code-%d>" % (len(_sources) + 1) if session else FILENAME
    try:
        text = source.decode("utf-8")
        if not session:
            _sources.clear()
        _sources[name] = text
        _remember_sources(name)
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
            _armed = False
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
