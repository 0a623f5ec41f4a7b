# SPDX-License-Identifier: MIT
"""cact.Runtime and cact.Result."""

import asyncio
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import threading

import pytest

import cact


def test_execute_prints(rt):
    r = rt.execute("print(sum(range(10)))")
    assert r.success is True
    assert r.status == "ok"
    assert r.exit_code == 0
    assert r.stdout == "45\n"
    assert r.stderr == ""
    assert r.error is None
    assert r.files == []
    assert set(r.stats) == {"wall_ms", "cpu_ms", "peak_rss_kib", "tool_calls", "tool_ms",
                            "http_requests", "http_bytes"}
    assert r.stats["tool_calls"] == 0
    assert "45" in repr(r)


def test_python_error(rt):
    r = rt.execute("x = 1\nraise KeyError('nope')")
    assert r.success is False
    assert r.status == "python_error"
    assert r.exit_code == 1
    assert isinstance(r.error, cact.ErrorInfo)
    assert r.error.type == "KeyError"
    assert r.error.message == "'nope'"
    assert 'line 2' in r.error.traceback and "KeyError" in r.error.traceback


def test_system_exit_code(rt):
    r = rt.execute("import sys\nprint('bye')\nsys.exit(3)")
    assert r.status == "python_error"
    assert r.exit_code == 3
    assert r.stdout == "bye\n"


def test_timeout(rt):
    r = rt.execute("while True: pass", timeout=0.5)
    assert r.status == "timeout"
    assert r.success is False
    assert r.error.type == "timeout"
    assert r.error.traceback is None
    assert r.error.message


def test_memory_limit(rt):
    r = rt.execute("b = bytearray(400 << 20)\nprint(len(b))", memory_mib=64)
    assert r.status == "memory_limit", (r.status, r.stdout, r.stderr)
    assert r.success is False


def test_stderr_and_invalid_utf8(rt):
    r = rt.execute("import sys, os\nsys.stderr.write('warn\\n')\n_ = os.write(1, b'a\\xffb\\n')")
    assert r.success
    assert r.stderr == "warn\n"
    assert r.stdout == "a\ufffdb\n"


def test_output_files(rt):
    r = rt.execute(
        "open('/output/a.txt', 'w').write('hello')\n"
        "import os; os.makedirs('/output/img')\n"
        "open('/output/img/p.png', 'wb').write(b'\\x89PNG\\r\\n')\n")
    assert r.success, r.stderr
    files = sorted(r.files)
    assert [f.path for f in files] == ["/output/a.txt", "/output/img/p.png"]
    a, p = files
    assert isinstance(a, cact.File)
    assert a.data == b"hello" and a.size == 5 and a.media_type == "text/plain"
    assert p.media_type == "image/png" and p.data == b"\x89PNG\r\n"


def test_save_files(rt, tmp_path):
    r = rt.execute("open('/output/x.csv', 'w').write('a,b\\n')")
    r.save_files(tmp_path / "out")
    assert (tmp_path / "out" / "x.csv").read_text() == "a,b\n"
    with pytest.raises(ValueError, match="x.csv"):
        r.save_files(tmp_path / "out")
    r.save_files(tmp_path / "out", force=True)


def test_input_files(rt, tmp_path):
    (tmp_path / "data.csv").write_text("x,y\n1,2\n")
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "readme.txt").write_text("read me")
    r = rt.execute(
        "print(open('/input/in.csv').read().splitlines()[1])\n"
        "print(open('/input/docs/readme.txt').read())\n"
        "import os; print(os.access('/input/in.csv', os.W_OK))",
        files=[(str(tmp_path / "data.csv"), "in.csv"), (folder, "/input/docs")])
    assert r.stdout == "1,2\nread me\nFalse\n", r.stderr


def test_files_errors_say_what_to_fix(rt, tmp_path):
    with pytest.raises(TypeError, match="wrap a single one in a list"):
        rt.execute("1", files=str(tmp_path))
    with pytest.raises(ValueError, match=r"files\[0\].*ENOENT"):
        rt.execute("1", files=[str(tmp_path / "missing")])
    with pytest.raises(ValueError, match="must stay within /input"):
        rt.execute("1", files=[(str(tmp_path), "../etc")])
    with pytest.raises(TypeError, match="pair"):
        rt.execute("1", files=[(str(tmp_path), "a", "b")])


def test_allowed_domains(rt):
    r = rt.execute(
        "try:\n    http_get('https://example.org/')\nexcept PermissionError as e:\n"
        "    print('refused', e)\n",
        allowed_domains=["api.example.com", ("docs.example.com", ["get", "HEAD"])])
    assert r.stdout.startswith("refused"), (r.stdout, r.stderr)
    assert "example.org" in r.stdout
    with pytest.raises(ValueError, match="CONNECT"):
        rt.execute("1", allowed_domains=[("api.example.com", "CONNECT")])
    with pytest.raises(TypeError, match="allowed_domains"):
        rt.execute("1", allowed_domains="api.example.com")


def test_allowed_domain_reaches_local_server(rt):
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"hello from the host"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        port = srv.server_address[1]
        r = rt.execute("r = http_get('http://127.0.0.1:%d/x')\nprint(r['status'], r['body'])"
                       % port, allowed_domains=["127.0.0.1:%d" % port])
        assert r.stdout == "200 hello from the host\n", (r.stdout, r.stderr)
        assert r.stats["http_requests"] == 1
        assert r.network[0]["method"] == "GET" and r.network[0]["allowed"] is True
    finally:
        srv.shutdown()


def test_to_dict_has_the_keys_of_cact_exec_json(rt, root):
    code = "import sys\nprint('out')\nopen('/output/f.txt','w').write('x')\nsys.exit(2)"
    d = rt.execute(code).to_dict()
    assert d["status"] == "python_error" and d["exit_code"] == 2 and d["success"] is False
    assert d["stdout"] == "out\n" and d["files"][0]["path"] == "/output/f.txt"
    assert d["files"][0]["data"] == "eA=="  # base64 of "x"
    assert isinstance(d["contents"], list) and d["isolation"]["level"] == "full"
    cli = os.environ.get("CACT_BIN") or shutil.which("cact")
    if not cli:
        pytest.skip("no cact CLI to compare with: set CACT_BIN (tests/python.sh does)")
    env = dict(os.environ)
    out = subprocess.run([cli, "exec", "--json", "-c", code], capture_output=True, text=True,
                         env=env, timeout=120)
    want = json.loads(out.stdout)
    assert set(d) == set(want)
    assert set(d["stats"]) == set(want["stats"])
    for k in ("status", "success", "exit_code", "stdout", "stderr", "files", "skipped", "error"):
        assert d[k] == want[k], k


def test_result_contents_and_model_text(rt):
    r = rt.execute("print('hi')\n_ = open('/output/a.txt','w').write('abc')")
    items = r.contents()
    assert items[0] == {"type": "text", "text": "hi\n"}
    assert items[1]["type"] == "data" and items[1]["data"].startswith("data:text/plain;base64,")
    assert "hi" in r.model_text and "/output/a.txt (text/plain, 3 bytes)" in r.model_text


def test_isolation_and_stats(rt):
    iso = rt.isolation
    assert iso["level"] == "full" and iso["features"]["seccomp"] is True
    st = rt.stats()
    assert {"idle", "running", "executions", "restarts", "sessions"} <= set(st)
    rt.check()
    assert rt.guest and os.access(rt.guest, os.X_OK)
    assert rt.startup_seconds > 0


def test_context_manager_closes():
    with cact.Runtime() as r2:
        assert r2.execute("print(1)").stdout == "1\n"
    assert r2.closed
    with pytest.raises(ValueError, match="closed"):
        r2.execute("print(1)")
    r2.close()  # idempotent
    assert "closed" in repr(r2)


def test_bad_options():
    with pytest.raises(TypeError, match="keyword"):
        cact.Runtime("full")
    with pytest.raises(TypeError):
        cact.Runtime(pool=3)
    with pytest.raises(ValueError, match='"full" or "reduced"'):
        cact.Runtime(isolation="none")
    with pytest.raises(TypeError, match="pool_size must be an int"):
        cact.Runtime(pool_size="2")
    with pytest.raises(ValueError, match="pool_size"):
        cact.Runtime(pool_size=-1)
    with pytest.raises(TypeError, match="queue_timeout must be a number of seconds"):
        cact.Runtime(queue_timeout="1")
    with pytest.raises(ValueError, match="cact-guest-missing"):
        cact.Runtime(guest="/nonexistent/cact-guest-missing")
    with pytest.raises(TypeError, match="python_path must be a list of folders"):
        cact.Runtime(python_path="/usr/lib/python3/dist-packages")
    with pytest.raises(ValueError, match="/nonexistent-folder is not a folder"):
        cact.Runtime(python_path=["/nonexistent-folder"])
    with pytest.raises(TypeError, match="preload must be a list of module names"):
        cact.Runtime(preload="json")
    with pytest.raises(TypeError, match=r"preload\[1\] must be a str"):
        cact.Runtime(preload=["json", 3])
    with pytest.raises(cact.CactError, match="cannot import no_such_module_here"):
        cact.Runtime(preload=["no_such_module_here"])


@pytest.fixture
def site_dir():
    # Not under /tmp: every execution has a /tmp of its own there.
    d = tempfile.mkdtemp(prefix="cact-test-site-", dir="/var/tmp")
    yield pathlib.Path(d)
    shutil.rmtree(d)


def test_python_path_and_preload(site_dir):
    pkg = site_dir
    (pkg / "hostmod.py").write_text("import sys\nVALUE = 42\n")
    with cact.Runtime(python_path=[pkg], preload=["hostmod", "wave"]) as rt:
        # Imported in the warm interpreter: already there when the code starts.
        r = rt.execute("import sys\nprint('hostmod' in sys.modules, 'wave' in sys.modules)\n"
                       "import hostmod\nprint(hostmod.VALUE)\n"
                       "open('%s/x', 'w')" % pkg)
        assert r.stdout == "True True\n42\n", r.stderr
        # Bound read-only.
        assert r.error.type in ("OSError", "PermissionError"), r.error
    with cact.Runtime() as rt:
        r = rt.execute("import sys\nprint('wave' in sys.modules)\nimport hostmod")
        assert r.stdout == "False\n"
        assert r.error.type == "ModuleNotFoundError"


def test_bad_execute_arguments(rt):
    with pytest.raises(TypeError, match="code must be a str"):
        rt.execute(b"print(1)")
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        rt.execute("1", timeout=0)
    with pytest.raises(ValueError, match="timeout must be between"):
        rt.execute("1", timeout=10 ** 8)
    with pytest.raises(TypeError, match="timeout must be a number of seconds"):
        rt.execute("1", timeout="5")
    with pytest.raises(ValueError, match="memory_mib must be between"):
        rt.execute("1", memory_mib=0)
    with pytest.raises(TypeError, match="memory_mib must be an int"):
        rt.execute("1", memory_mib=1.5)
    with pytest.raises(ValueError, match="NUL"):
        rt.execute("print(1)\0")
    with pytest.raises(TypeError, match="approve must be callable"):
        rt.execute("1", approve=True)
    with pytest.raises(TypeError, match="timeuot"):
        rt.execute("1", timeuot=3)


def test_cact_guest_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("CACT_GUEST", str(tmp_path / "no-guest"))
    with pytest.raises(ValueError, match="no-guest"):
        cact.Runtime()


def test_runtime_started_on_a_thread_that_ends():
    """libcact's helper dies with the thread that spawned it; the package
    starts runtimes on a thread of its own, so the helper outlives the
    caller's thread and never has to be restarted."""
    box = []
    t = threading.Thread(target=lambda: box.append(cact.Runtime()))
    t.start()
    t.join()
    r2 = box[0]
    try:
        for _ in range(3):
            assert r2.execute("print('alive')").stdout == "alive\n"
        assert r2.stats()["restarts"] == 0
    finally:
        r2.close()


def test_sixteen_threads_at_once(rt):
    n = 16
    barrier = threading.Barrier(n)
    out = [None] * n
    errors = []

    def work(i):
        try:
            barrier.wait()
            r = rt.execute("import time\ntime.sleep(0.05)\nprint(%d * %d)" % (i, i))
            out[i] = (r.status, r.stdout)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert out == [("ok", "%d\n" % (i * i)) for i in range(n)]


def test_sixteen_threads_with_tools(rt):
    n = 16
    barrier = threading.Barrier(n)
    out = [None] * n

    def double(x: int) -> int:
        return 2 * x

    def work(i):
        barrier.wait()
        r = rt.execute("print(sum(call_tool('double', x=%d) for _ in range(20)))" % i,
                       tools=[double])
        out[i] = (r.status, r.stdout, r.stderr)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == [("ok", "%d\n" % (40 * i), "") for i in range(n)]


def test_tools_that_block_run_at_once(rt):
    """Tool calls of concurrent executions run at the same time: each of
    eight waits, inside the tool, for all eight to be there."""
    n = 8
    inside = threading.Barrier(n)

    def meet() -> int:
        return inside.wait(timeout=60)

    out = [None] * n

    def work(i):
        r = rt.execute("print(call_tool('meet') >= 0)", tools=[meet], timeout=90)
        out[i] = (r.status, r.stdout, r.stderr)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == [("ok", "True\n", "")] * n


def test_gil_released_while_code_runs(rt):
    """Python threads run while an execution is in flight: the sandboxed
    code waits, through a tool, for a counter that only another Python
    thread advances."""
    counter = [0]
    stop = threading.Event()

    def bump():
        while not stop.is_set():
            counter[0] += 1

    def count() -> int:
        return counter[0]

    t = threading.Thread(target=bump)
    t.start()
    try:
        r = rt.execute(
            "seen = [call_tool('count') for _ in range(3)]\n"
            "import time\n"
            "n = 0\n"
            "while call_tool('count') == seen[-1] and n < 10000: n += 1\n"
            "print(call_tool('count') > seen[0])", tools=[count], timeout=60)
    finally:
        stop.set()
        t.join()
    assert r.stdout == "True\n", (r.status, r.stdout, r.stderr)


def test_execute_async_does_not_block_the_loop(rt):
    async def main():
        ticks = 0
        task = asyncio.ensure_future(rt.execute_async("import time\ntime.sleep(0.3)\nprint('done')"))
        while not task.done():
            ticks += 1
            await asyncio.sleep(0.01)
        return ticks, await task

    ticks, r = asyncio.run(main())
    assert r.stdout == "done\n"
    assert ticks > 1


def test_execute_async_cancel_kills_the_sandbox(rt):
    async def main():
        started = asyncio.Event()

        async def mark() -> bool:
            started.set()
            return True

        task = asyncio.ensure_future(rt.execute_async(
            "call_tool('mark')\nimport time\ntime.sleep(60)", tools=[mark], timeout=120))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    before = rt.stats()["executions"]
    asyncio.run(main())
    # The sandbox was killed: the runtime drains to no running execution.
    for _ in range(600):
        if rt.stats()["running"] == 0:
            break
        threading.Event().wait(0.05)
    assert rt.stats()["running"] == 0
    assert rt.stats()["executions"] > before


def test_fork_child_cannot_use_the_parents_runtime(rt):
    rt.execute("print(1)")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            rt.execute("print(1)")
        except cact.CactError as e:
            code = 0 if "after a fork" in str(e) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert rt.execute("print(2)").stdout == "2\n"
