# SPDX-License-Identifier: MIT
"""cact.Session: an interpreter kept across runs."""

import threading

import pytest

import cact


def test_state_persists_and_reset_clears(rt):
    with rt.session() as s:
        assert s.ended is None and s.closed is False
        assert s.execute("x = 40\nimport json").success
        assert s.execute("print(x + 2, json.dumps([1]))").stdout == "42 [1]\n"
        assert s.runs == 2
        assert s.pid > 0
        s.reset()
        assert s.runs == 0
        r = s.execute("print(x)")
        assert r.status == "python_error" and r.error.type == "NameError"
    assert s.closed and s.ended == "closed"
    with pytest.raises(cact.SessionEndedError, match="closed"):
        s.execute("print(1)")
    s.close()  # idempotent


def test_session_files_are_per_run(rt):
    with rt.session() as s:
        r1 = s.execute("open('/output/a.txt', 'w').write('1')")
        r2 = s.execute("open('/output/b.txt', 'w').write('2')")
        assert [f.path for f in r1.files] == ["/output/a.txt"]
        assert [f.path for f in r2.files] == ["/output/b.txt"]


def test_session_with_tools_and_approval(rt):
    calls = []

    def remember(item: str) -> int:
        calls.append(item)
        return len(calls)

    @cact.tool(approval_mode="always_require")
    def wipe() -> str:
        calls.clear()
        return "wiped"

    with rt.session(tools=[remember, wipe], approve=lambda c: False) as s:
        assert s.execute("n = call_tool('remember', item='a')").success
        r = s.execute("print(n, call_tool('remember', item='b'))\n"
                      "try:\n    call_tool('wipe')\nexcept PermissionError:\n    print('no')")
        assert r.stdout == "1 2\nno\n"
    assert calls == ["a", "b"]


def test_timeout_ends_the_session(rt):
    s = rt.session()
    try:
        assert s.execute("y = 1").success
        r = s.execute("while True: pass", timeout=0.5)
        assert r.status == "timeout"
        assert s.ended and "timeout" in s.ended
        with pytest.raises(cact.SessionEndedError, match="timeout"):
            s.execute("print(y)")
        s.reset()
        assert s.ended is None
        assert s.execute("print('fresh')").stdout == "fresh\n"
    finally:
        s.close()


def test_interrupt(rt):
    with rt.session() as s:
        out = {}
        started = threading.Event()

        def tick() -> bool:
            started.set()
            return True

        # The session's tools are fixed when it starts: a new one has tick.
        s.close()
        s = rt.session(tools=[tick])
        t = threading.Thread(target=lambda: out.setdefault(
            "r", s.execute("call_tool('tick')\nwhile True: pass", timeout=60)))
        t.start()
        assert started.wait(60)
        # The run may not have reached its loop yet: interrupt until it ends.
        while t.is_alive():
            s.interrupt()
            t.join(0.05)
        r = out["r"]
        assert r.status == "python_error" and r.error.type == "KeyboardInterrupt"
        assert s.ended is None
        assert s.execute("print('still here')").stdout == "still here\n"
        s.close()


def test_runtime_close_ends_open_sessions():
    rt = cact.Runtime()
    s = rt.session()
    assert s.execute("print(1)").stdout == "1\n"
    rt.close()
    assert s.closed
    with pytest.raises(cact.SessionEndedError):
        s.execute("print(1)")


def test_session_options_are_checked(rt):
    with pytest.raises(ValueError, match="idle_timeout"):
        rt.session(idle_timeout=-1)
    with pytest.raises(TypeError, match="lifetime must be a number of seconds"):
        rt.session(lifetime="1h")
    with pytest.raises(TypeError, match="timeout must be a number of seconds"):
        with rt.session() as s:
            s.execute("1", timeout="2")
