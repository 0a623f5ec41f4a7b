# SPDX-License-Identifier: MIT
"""
cact mcp for operators (docs/mcp.md, "Operating"): /healthz and /readyz,
/metrics read with a strict parser of the Prometheus text format
(prom_strict.py), the drain on SIGTERM, and --log-format json. Each case
starts `cact mcp --http 127.0.0.1:0` ($CACT_BIN) as a child, talks to it
over loopback, and stops it.

    ops.py CASE      one case (health, metrics, metrics_listener,
                     cardinality, drain, drain_grace, drain_stdio, logs, usage)
"""
import ctypes
import http.client
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prom_strict  # noqa: E402

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "ops-test", "version": "1"},
    },
}


def fail(msg):
    raise AssertionError(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def _die_with_parent():
    # PR_SET_PDEATHSIG, SIGKILL: a test that fails takes its server along.
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)


class Server:
    """cact mcp --http 127.0.0.1:0 ARGS..., its stderr kept line by line (at most 10000)."""

    def __init__(self, *args, env=None):
        bin_ = os.environ.get("CACT_BIN")
        check(bin_, "CACT_BIN is not set")
        e = dict(os.environ)
        e.update(env or {})
        self.p = subprocess.Popen(
            [bin_, "mcp", "--http", "127.0.0.1:0", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=e,
            preexec_fn=_die_with_parent,
        )
        self.lines = []
        self.lock = threading.Lock()
        self.port = self.metrics_port = None
        deadline = time.monotonic() + 30
        buf = b""
        want_metrics = "--metrics" in args
        while (self.port is None or (want_metrics and self.metrics_port is None)) and \
                time.monotonic() < deadline:
            r, _, _ = select.select([self.p.stderr], [], [], 0.2)
            if not r:
                continue
            chunk = os.read(self.p.stderr.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self._take(line.decode("utf-8", "replace"))
        check(self.port, "cact mcp did not start: %r" % self.lines)
        self.rest = buf
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _take(self, line):
        with self.lock:
            if len(self.lines) < 10000:
                self.lines.append(line)
        m = re.search(r"metrics at http://127\.0\.0\.1:(\d+)/metrics", line)
        if m:
            self.metrics_port = int(m.group(1))
        m = re.search(r"serving http://127\.0\.0\.1:(\d+)/mcp", line)
        if m:
            self.port = int(m.group(1))

    def _read(self):
        buf = self.rest
        while True:
            chunk = os.read(self.p.stderr.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self._take(line.decode("utf-8", "replace"))
        if buf:
            self._take(buf.decode("utf-8", "replace"))

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.p.poll() is None:
            self.p.send_signal(sig)
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            fail("cact mcp did not stop within %d s" % timeout)
        self.reader.join(10)
        return rc

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def request(port, method, path, body=None, headers=None, timeout=60):
    """(status, headers, body text) of one request on a fresh connection."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = {"Host": "127.0.0.1:%d" % port}
    h.update(headers or {})
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    text = r.read().decode("utf-8")
    c.close()
    return r.status, r.headers, text


def mcp_post(port, msg, sid=None, token=None):
    h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if sid:
        h["Mcp-Session-Id"] = sid
    if token:
        h["Authorization"] = "Bearer " + token
    return request(port, "POST", "/mcp", msg, h)


def messages(headers, text):
    """The JSON-RPC messages of an answer: one JSON body, or the data lines of a stream."""
    if headers.get("Content-Type", "").startswith("text/event-stream"):
        return [json.loads(l[6:]) for l in text.split("\n") if l.startswith("data: ")]
    return [json.loads(text)] if text else []


def initialize(port, token=None):
    st, h, text = mcp_post(port, INIT, token=token)
    check(st == 200, "initialize: %d %s" % (st, text))
    return h["Mcp-Session-Id"]


def call(port, sid, code, id_, token=None, name="execute_code", args=None):
    msg = {
        "jsonrpc": "2.0",
        "id": id_,
        "method": "tools/call",
        "params": {"name": name, "arguments": args if args is not None else {"code": code}},
    }
    st, h, text = mcp_post(port, msg, sid, token)
    check(st == 200, "tools/call: %d %s" % (st, text))
    msgs = messages(h, text)
    final = [m for m in msgs if m.get("id") == id_]
    check(len(final) == 1, "no answer to call %s: %r" % (id_, msgs))
    return final[0], msgs


def result_text(m):
    return "\n".join(c.get("text", "") for c in m["result"]["content"])


def scrape(port, token=None):
    h = {"Authorization": "Bearer " + token} if token else {}
    st, hd, text = request(port, "GET", "/metrics", headers=h)
    check(st == 200, "/metrics: %d %s" % (st, text))
    ctype = hd.get("Content-Type", "")
    check(ctype.startswith("text/plain") and "version=0.0.4" in ctype, "Content-Type %r" % ctype)
    return prom_strict.parse(text), text


def value(fams, family, name=None, **labels):
    for n, l, v in fams[family]["samples"]:
        if n == (name or family) and l == labels:
            return v
    fail("no sample %s%r in %s" % (name or family, labels, family))


# ---- cases ----


def case_health():
    s = Server("--token-env", "OPS_TOKEN", env={"OPS_TOKEN": "s3cret-token-value"})
    try:
        for path, want in (("/healthz", "ok\n"), ("/readyz", "ready\n")):
            # No token, a Host that is not the server's, HEAD too: probes send what they like.
            st, h, text = request(s.port, "GET", path, headers={"Host": "10.1.2.3:8080"})
            check(st == 200 and text == want, "%s: %d %r" % (path, st, text))
            check(h["Content-Type"].startswith("text/plain"), "%s: %r" % (path, h["Content-Type"]))
            check("s3cret" not in text, "%s shows the token" % path)
            st, _, text = request(s.port, "HEAD", path)
            check(st == 200 and text == "", "HEAD %s: %d %r" % (path, st, text))
            st, h, _ = request(s.port, "POST", path, body=b"{}")
            check(st == 405 and "GET" in h.get("Allow", ""), "POST %s: %d" % (path, st))
        # Everything else still wants the token.
        st, _, _ = mcp_post(s.port, INIT)
        check(st == 401, "/mcp without the token: %d" % st)
        st, _, _ = request(s.port, "GET", "/metrics")
        check(st == 401, "/metrics without the token: %d" % st)
        st, _, _ = request(s.port, "GET", "/healthzz")
        check(st == 404, "/healthzz: %d" % st)
        check(s.stop() == 0, "exit status")
    finally:
        s.kill()
    print("health: /healthz and /readyz answer without the token; the rest wants it")


def case_metrics():
    tok = "metrics-token"
    s = Server("--token-env", "OPS_TOKEN", env={"OPS_TOKEN": tok})
    try:
        fams, _ = scrape(s.port, tok)
        want = {
            "cact_executions_total": "counter",
            "cact_execution_seconds": "histogram",
            "cact_queue_wait_seconds": "histogram",
            "cact_pool_size": "gauge",
            "cact_pool_busy": "gauge",
            "cact_pool_waiting": "gauge",
            "cact_mcp_sessions": "gauge",
            "cact_sandbox_sessions": "gauge",
            "cact_tool_calls_total": "counter",
            "cact_http_requests_total": "counter",
            "cact_http_received_bytes_total": "counter",
            "cact_http_sent_bytes_total": "counter",
            "process_resident_memory_bytes": "gauge",
            "process_open_fds": "gauge",
        }
        for f, t in want.items():
            check(f in fams and fams[f]["type"] == t, "%s: %r" % (f, fams.get(f)))
        # Prometheus conventions: HELP everywhere, counters and only counters end in _total.
        for f, fam in fams.items():
            check(fam["help"], "%s has no HELP" % f)
            check((fam["type"] == "counter") == f.endswith("_total"), "%s: %s" % (f, fam["type"]))
        check(value(fams, "process_resident_memory_bytes") > 0, "RSS is 0")
        check(value(fams, "process_open_fds") > 0, "open fds is 0")
        check(value(fams, "cact_pool_size") + value(fams, "cact_pool_busy") >= 0, "pool")
        ok0 = value(fams, "cact_executions_total", status="ok")
        err0 = value(fams, "cact_executions_total", status="python_error")
        n0 = value(fams, "cact_execution_seconds", "cact_execution_seconds_count")
        q0 = value(fams, "cact_queue_wait_seconds", "cact_queue_wait_seconds_count")
        h0 = value(fams, "cact_http_requests_total", code="200")
        in0 = value(fams, "cact_http_received_bytes_total")
        out0 = value(fams, "cact_http_sent_bytes_total")

        sid = initialize(s.port, tok)
        for i in range(3):
            m, _ = call(s.port, sid, "print(%d)" % i, 10 + i, tok)
            check(not m["result"]["isError"], "call %d: %r" % (i, m))
        m, _ = call(s.port, sid, "raise ValueError('x')", 20, tok)
        check(m["result"]["isError"], "a Python error is an error: %r" % m)
        # A long call: in flight, busy, seen by a scrape while it runs.
        done = {}
        t = threading.Thread(
            target=lambda: done.update(m=call(s.port, sid, "import time\ntime.sleep(3)", 30, tok))
        )
        t.start()
        seen = False
        until = time.monotonic() + 20
        while time.monotonic() < until and not seen:
            fams, _ = scrape(s.port, tok)
            seen = value(fams, "cact_calls_in_flight") == 1 and value(fams, "cact_pool_busy") == 1
            time.sleep(0.1)
        check(seen, "a running call never showed in cact_calls_in_flight and cact_pool_busy")
        check(value(fams, "cact_mcp_sessions") == 1, "one live session")
        t.join(60)
        check("m" in done, "the long call did not answer")

        fams, text = scrape(s.port, tok)
        check(value(fams, "cact_executions_total", status="ok") == ok0 + 4, "ok: %s" % text)
        check(value(fams, "cact_executions_total", status="python_error") == err0 + 1, "errors")
        n = value(fams, "cact_execution_seconds", "cact_execution_seconds_count")
        check(n == n0 + 5, "histogram count %s, was %s" % (n, n0))
        check(value(fams, "cact_execution_seconds", "cact_execution_seconds_sum") >= 3.0,
              "the 3 s call is in the sum")
        # The long call is not in the buckets under 3 s, and is in +Inf.
        check(value(fams, "cact_execution_seconds", "cact_execution_seconds_bucket", le="2.5")
              <= n - 1, "the 3 s call landed under 2.5 s")
        check(value(fams, "cact_queue_wait_seconds", "cact_queue_wait_seconds_count") == q0 + 5,
              "queue wait count")
        check(value(fams, "cact_tool_calls_total", tool="execute_code", outcome="ok") == 4,
              "execute_code ok")
        check(value(fams, "cact_tool_calls_total", tool="execute_code", outcome="error") == 1,
              "execute_code error")
        check(value(fams, "cact_http_requests_total", code="200") > h0, "HTTP 200s")
        check(value(fams, "cact_http_received_bytes_total") > in0, "bytes in")
        check(value(fams, "cact_http_sent_bytes_total") > out0, "bytes out")
        check(value(fams, "cact_mcp_sessions_total") >= 1, "sessions started")
        check(s.stop() == 0, "exit status")
    finally:
        s.kill()
    print("metrics: strict parse, conventions, and the values follow the calls")


def case_metrics_listener():
    s = Server("--metrics", "127.0.0.1:0", "--token-env", "OPS_TOKEN", env={"OPS_TOKEN": "t"})
    try:
        check(s.metrics_port, "no metrics URL: %r" % s.lines)
        fams, _ = scrape(s.metrics_port)  # no token there
        check("cact_executions_total" in fams, "families")
        for path in ("/healthz", "/readyz"):
            st, _, text = request(s.metrics_port, "GET", path)
            check(st == 200, "%s there: %d %r" % (path, st, text))
        st, _, _ = request(s.port, "GET", "/metrics", headers={"Authorization": "Bearer t"})
        check(st == 404, "/metrics moved away from the MCP listener: %d" % st)
        st, _, _ = request(s.metrics_port, "GET", "/mcp")
        check(st == 404, "no /mcp on the metrics listener: %d" % st)
        st, _, _ = request(s.metrics_port, "POST", "/metrics", body=b"x")
        check(st == 405, "POST /metrics: %d" % st)
        check(s.stop() == 0, "exit status")
    finally:
        s.kill()
    print("metrics_listener: /metrics, /healthz, /readyz on --metrics, without the token")


def case_cardinality():
    """Tool names are labels: hostile ones never get in, and at most 32 do."""
    d = tempfile.mkdtemp()
    cfg = os.path.join(d, "cact.json")
    with open(cfg, "w") as f:
        json.dump({"tools": [{"name": "t%02d" % i, "command": ["cat"]} for i in range(40)]}, f)
    s = Server("--config", cfg, "--expose-tools")
    try:
        sid = initialize(s.port)
        hostile = ['a"b', "a\\b", "a\nb", "a}b{", "é\u2028", "x" * 300]
        for i, name in enumerate(hostile):
            st, _, text = mcp_post(s.port, {"jsonrpc": "2.0", "id": 100 + i, "method": "tools/call",
                                            "params": {"name": name, "arguments": {}}}, sid)
            check(st == 200 and "unknown tool" in text, "%r: %d %s" % (name, st, text))
        for i in range(40):
            m, _ = call(s.port, sid, None, 200 + i, name="t%02d" % i, args={"v": i})
            check(not m["result"]["isError"], "t%02d: %r" % (i, m))
        fams, text = scrape(s.port)
        tools = {l["tool"] for n, l, v in fams["cact_tool_calls_total"]["samples"]}
        check("_other" in tools, "no _other: %r" % tools)
        check(len(tools) <= 33, "%d tool labels: %r" % (len(tools), sorted(tools)))
        for h in hostile:
            check(h not in tools, "a hostile name became a label: %r" % h)
        total = sum(v for n, l, v in fams["cact_tool_calls_total"]["samples"])
        check(total == 46, "every call counted once: %s" % total)
        check(value(fams, "cact_tool_calls_total", tool="_other", outcome="refused") == 6,
              "unknown names are refused calls of _other")
        check(s.stop() == 0, "exit status")
    finally:
        s.kill()
    print("cardinality: %d tool labels for 40 tools and 6 hostile names" % len(tools))


def case_drain():
    s = Server("--log-format", "json")
    try:
        sid = initialize(s.port)
        got = {}
        t = threading.Thread(target=lambda: got.update(
            r=call(s.port, sid, "import time\ntime.sleep(4)\nprint('finished')", 7)))
        t.start()
        # The call is running once the pool shows it busy.
        until = time.monotonic() + 20
        while time.monotonic() < until:
            fams, _ = scrape(s.port)
            if value(fams, "cact_calls_in_flight") == 1:
                break
            time.sleep(0.05)
        s.p.send_signal(signal.SIGTERM)
        # /readyz turns 503 at once (bounded wait for the signal to land); /healthz stays 200.
        until = time.monotonic() + 5
        st = 200
        while time.monotonic() < until and st == 200:
            st, _, text = request(s.port, "GET", "/readyz")
        check(st == 503 and text.startswith("not ready: draining"), "readyz: %d %r" % (st, text))
        st, _, _ = request(s.port, "GET", "/healthz")
        check(st == 200, "healthz while draining: %d" % st)
        m, _ = call(s.port, sid, "print('late')", 8)
        check(m["result"]["isError"] and "retry" in result_text(m) and
              "shutting down" in result_text(m), "a new call during the drain: %r" % m)
        st, h, text = mcp_post(s.port, INIT)
        check(st == 503 and h.get("Retry-After") and "retry" in text,
              "a new session during the drain: %d %r" % (st, text))
        t.join(60)
        check("r" in got, "the call in flight got no answer")
        final, msgs = got["r"]
        check(not final["result"]["isError"] and "finished" in result_text(final),
              "the call in flight did not complete: %r" % final)
        told = [m for m in msgs if m.get("method") == "notifications/message" and
                "shutting down" in str(m["params"].get("data"))]
        check(told, "the session was not told: %r" % msgs)
        check(s.p.wait(30) == 0, "exit status %s" % s.p.returncode)
        s.reader.join(10)
        events = [json.loads(l)["event"] for l in s.lines]
        check("drain_started" in events and "drain_ended" in events, "events: %r" % events)
    finally:
        s.kill()
    print("drain: the call in flight completed, a new one was told to retry, exit 0")


def case_drain_grace():
    s = Server("--drain-timeout", "1", "--log-format", "json")
    try:
        sid = initialize(s.port)
        got = {}
        t = threading.Thread(target=lambda: got.update(
            r=call(s.port, sid, "import time\nprint('begun', flush=True)\ntime.sleep(120)", 9)))
        t.start()
        until = time.monotonic() + 20
        while time.monotonic() < until:
            fams, _ = scrape(s.port)
            if value(fams, "cact_calls_in_flight") == 1:
                break
            time.sleep(0.05)
        s.p.send_signal(signal.SIGTERM)
        t.join(60)
        check("r" in got, "the cancelled call got no answer")
        final, _ = got["r"]
        text = result_text(final)
        check(final["result"]["isError"] and "drain grace period" in text and "cancelled" in text,
              "the call past the grace: %r" % final)
        check(s.p.wait(30) == 0, "exit status %s" % s.p.returncode)
        s.reader.join(10)
        ended = [json.loads(l) for l in s.lines if '"drain_ended"' in l]
        check(ended and "1 call(s) cancelled" in ended[0]["message"], "drain_ended: %r" % ended)
    finally:
        s.kill()
    print("drain_grace: past --drain-timeout the call was cancelled and answered, exit 0")


def case_drain_stdio():
    """Over stdio too: the session is told, a new call refused, the one in flight answered."""
    p = subprocess.Popen([os.environ["CACT_BIN"], "mcp", "--drain-timeout", "20"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=_die_with_parent)
    try:
        def send(m):
            p.stdin.write((json.dumps(m) + "\n").encode())
            p.stdin.flush()

        got = []

        def read_until(id_, limit_s=60):
            until = time.monotonic() + limit_s
            while time.monotonic() < until:
                for m in got:
                    if m.get("id") == id_:
                        return m, got
                r, _, _ = select.select([p.stdout], [], [], 0.5)
                if not r:
                    continue
                line = p.stdout.readline()
                check(line, "cact mcp closed its output: %r" % got)
                got.append(json.loads(line))
            fail("no answer to %s: %r" % (id_, got))

        send(INIT)
        read_until(1)
        send({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "execute_code", "arguments": {"code": "import time\ntime.sleep(3)\nprint('ok')"}}})
        time.sleep(1)  # the call is under way (it needs 3 s; nothing asserts on this)
        p.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        send({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
            "name": "execute_code", "arguments": {"code": "print(1)"}}})
        late, seen = read_until(3)
        check(late["result"]["isError"] and "retry" in result_text(late), "late call: %r" % late)
        check(any(m.get("method") == "notifications/message" and
                  "shutting down" in str(m["params"]["data"]) for m in seen), "not told: %r" % seen)
        first, _ = read_until(2)
        check(not first["result"]["isError"] and result_text(first) == "ok\n",
              "the call in flight: %r" % first)
        check(p.wait(30) == 0, "exit status %s" % p.returncode)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    print("drain_stdio: told, the late call refused, the call in flight answered, exit 0")


def check_log_lines(lines):
    calls = []
    for l in lines:
        o = json.loads(l)  # every line is one JSON object
        check(isinstance(o, dict), "not an object: %r" % l)
        for k in ("time", "level", "event", "session", "execution", "status", "message"):
            check(k in o, "%r lacks %s" % (l, k))
        check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o["time"]), "time %r" % o)
        if o["event"] == "call":
            calls.append(o)
    return calls


def case_logs():
    secret = "OUTPUT-MUST-NOT-BE-LOGGED"
    for extra in ([], ["--log-output"]):
        s = Server("--log-format", "json", *extra)
        try:
            sid = initialize(s.port)
            call(s.port, sid, "print('%s')" % secret, 2)
            call(s.port, sid, "import sys\nprint('%s-err', file=sys.stderr)\nraise SystemExit(3)"
                 % secret, 3)
            check(s.stop() == 0, "exit status")
        finally:
            s.kill()
        calls = check_log_lines(s.lines)
        check(len(calls) == 2, "two call events: %r" % s.lines)
        for c in calls:
            check(c["session"] and c["execution"] and c["tool"] == "execute_code", "%r" % c)
            for k in ("wall_ms", "cpu_ms", "queue_ms", "duration_ms"):
                check(isinstance(c.get(k), (int, float)) and c[k] >= 0, "%s in %r" % (k, c))
        check([c["status"] for c in calls] == ["ok", "python_error"], "statuses %r" % calls)
        check(len({c["execution"] for c in calls}) == 2, "execution ids differ")
        check(len({c["session"] for c in calls}) == 1, "one session")
        check(sid not in "\n".join(s.lines), "the Mcp-Session-Id (a secret) is in the log")
        logged = secret in "\n".join(s.lines)
        if extra:
            check(calls[0].get("stdout") == secret + "\n", "stdout with --log-output: %r" % calls)
            check(secret + "-err" in calls[1].get("stderr", ""), "stderr with --log-output")
        else:
            check(not logged, "code output in the log without --log-output")
    print("logs: every line is a JSON object with the fields; output only with --log-output")


def case_usage():
    bin_ = os.environ["CACT_BIN"]
    for args, words in (
        (["--log-format", "xml"], "--log-format"),
        (["--log-output"], "--log-output needs --log-format json"),
        (["--drain-timeout", "-1"], "--drain-timeout"),
        (["--drain-timeout", "4000"], "--drain-timeout"),
        (["--metrics", "nowhere:port"], "--metrics"),
    ):
        p = subprocess.run([bin_, "mcp", "--http", "127.0.0.1:0", *args], capture_output=True,
                           text=True, timeout=30, stdin=subprocess.DEVNULL)
        err = p.stderr.strip()
        check(p.returncode == 2 and words in err and len(err.splitlines()) == 1,
              "%r: %d %r" % (args, p.returncode, p.stderr))
    p = subprocess.run([bin_, "mcp", "--help"], capture_output=True, text=True, timeout=30)
    for o in ("--drain-timeout", "--metrics", "--log-format", "--log-output"):
        check(o in p.stdout, "--help lacks %s" % o)
    print("usage: bad values are one-line errors, --help lists the options")


CASES = {n[5:]: f for n, f in globals().items() if n.startswith("case_")}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        sys.exit("usage: ops.py %s" % "|".join(CASES))
    prom_strict.self_test()
    CASES[sys.argv[1]]()
