# SPDX-License-Identifier: MIT
"""Live output: on_output(stream, text) of Runtime.execute, Session.execute
and CodeAct.execute, and of their async variants.

Whether output is live is told by order, never by time: the code prints,
sleeps, then calls a host tool that looks at what on_output has seen so
far."""

import asyncio
import threading

import pytest

import cact

# Prints a line, sleeps, then asks the host whether the line has arrived.
LIVE = ("import time\n"
        "print('first line')\n"
        "time.sleep(1)\n"
        "print('seen' if call_tool('seen_first') else 'not seen')\n")


class Recorder:
    """on_output and the seen_first tool: what arrived, and when the tool looked."""

    def __init__(self):
        self.chunks = []
        self.lock = threading.Lock()

    def __call__(self, stream, text):
        assert isinstance(stream, str) and isinstance(text, str)
        with self.lock:
            self.chunks.append((stream, text))

    def text(self, stream):
        with self.lock:
            return "".join(t for s, t in self.chunks if s == stream)

    def seen_first(self) -> bool:
        """Whether 'first line' has reached on_output."""
        return "first line\n" in self.text("stdout")


def check_live(r, rec):
    assert r.success, (r.status, r.stderr)
    assert r.stdout == "first line\nseen\n"
    assert rec.text("stdout") == r.stdout
    assert {s for s, _ in rec.chunks} <= {"stdout", "stderr"}


def test_runtime_output_is_live(rt):
    rec = Recorder()
    r = rt.execute(LIVE, tools=[rec.seen_first], on_output=rec, timeout=60)
    check_live(r, rec)


def test_stdout_and_stderr_in_order(rt):
    rec = Recorder()
    r = rt.execute("import sys\n"
                   "for i in range(3):\n"
                   "    print('out', i, flush=True)\n"
                   "    print('err', i, file=sys.stderr, flush=True)\n"
                   "print('h\\u00e9llo \\u2603', flush=True)\n",
                   on_output=rec, timeout=60)
    assert r.success
    assert rec.text("stdout") == r.stdout == "out 0\nout 1\nout 2\nh\u00e9llo \u2603\n"
    assert rec.text("stderr") == r.stderr == "err 0\nerr 1\nerr 2\n"
    assert all(s in ("stdout", "stderr") and t for s, t in rec.chunks)


def test_stderr_chunks_of_a_failing_run(rt):
    rec = Recorder()
    r = rt.execute("raise ValueError('boom')", on_output=rec)
    assert r.status == "python_error"
    assert "ValueError: boom" in rec.text("stderr")
    assert rec.text("stderr") == r.stderr


def test_no_output_no_call(rt):
    rec = Recorder()
    assert rt.execute("x = 1", on_output=rec).success
    assert rec.chunks == []


class Stop(Exception):
    pass


def raise_on_first(stream, text):
    raise Stop("no more, after %r" % text)


def test_on_output_that_raises_stops_the_run(rt):
    calls = []

    def after():
        """Called only if the run goes on after on_output raised."""
        calls.append(1)
        return 1

    with pytest.raises(Stop, match="no more, after 'started"):
        rt.execute("import time\nprint('started', flush=True)\n"
                   "time.sleep(2)\ncall_tool('after')\ntime.sleep(60)",
                   tools=[after], on_output=raise_on_first, timeout=120)
    assert calls == []
    # The runtime goes on.
    assert rt.execute("print(2)").stdout == "2\n"


def test_on_output_must_be_callable(rt):
    with pytest.raises(TypeError, match="on_output must be callable"):
        rt.execute("print(1)", on_output="print")
    with pytest.raises(TypeError, match="on_output must be callable"):
        cact.CodeAct(rt).execute("print(1)", on_output=1)
    with rt.session() as s:
        with pytest.raises(TypeError, match="on_output must be callable"):
            s.execute("print(1)", on_output=[])
        assert s.execute("print(1)").stdout == "1\n"
    assert rt.execute("print(1)", on_output=None).stdout == "1\n"


def test_execute_async_output_is_live(rt):
    rec = Recorder()

    async def main():
        return await rt.execute_async(LIVE, tools=[rec.seen_first], on_output=rec,
                                      timeout=60)

    check_live(asyncio.run(main()), rec)


def test_execute_async_on_output_that_raises(rt):
    async def main():
        return await rt.execute_async("import time\nprint('started', flush=True)\n"
                                      "time.sleep(60)", on_output=raise_on_first,
                                      timeout=120)

    with pytest.raises(Stop):
        asyncio.run(main())


def test_session_output_is_live(rt):
    rec = Recorder()
    with rt.session(tools=[rec.seen_first], timeout=60) as s:
        check_live(s.execute(LIVE, on_output=rec), rec)
        # Another run, another callback; a run without one is as before.
        rec2 = Recorder()
        assert s.execute("print('again')", on_output=rec2).stdout == "again\n"
        assert rec2.text("stdout") == "again\n"
        assert s.execute("print('quiet')").stdout == "quiet\n"
        assert len(rec2.chunks) == 1


def test_session_on_output_that_raises(rt):
    with rt.session(timeout=120) as s:
        with pytest.raises(Stop):
            s.execute("import time\nprint('started', flush=True)\ntime.sleep(60)",
                      on_output=raise_on_first)
        # Stopping the run ends the session, as a cancelled run does.
        assert s.ended
        with pytest.raises(cact.SessionEndedError):
            s.execute("print(1)")


def test_codeact_output_is_live(rt):
    rec = Recorder()
    ca = cact.CodeAct(rt, tools=[rec.seen_first], timeout=60)
    check_live(ca.execute(LIVE, on_output=rec), rec)


def test_codeact_execute_async_output_is_live(rt):
    rec = Recorder()
    ca = cact.CodeAct(rt, tools=[rec.seen_first], timeout=60)

    async def main():
        return await ca.execute_async(LIVE, on_output=rec)

    check_live(asyncio.run(main()), rec)


def test_codeact_on_output_that_raises(rt):
    calls = []

    def after():
        """Called only if the run goes on after on_output raised."""
        calls.append(1)
        return 1

    ca = cact.CodeAct(rt, tools=[after], timeout=120)
    with pytest.raises(Stop):
        ca.execute("import time\nprint('started', flush=True)\n"
                   "time.sleep(2)\ncall_tool('after')\ntime.sleep(60)",
                   on_output=raise_on_first)
    assert calls == []
    assert ca.execute("print(3)").stdout == "3\n"


def test_codeact_session_output_is_live(rt):
    rec = Recorder()
    ca = cact.CodeAct(rt, tools=[rec.seen_first], timeout=60)
    with ca.session() as s:
        check_live(s.execute(LIVE, on_output=rec), rec)


def test_invalid_utf8_is_replaced_as_in_the_result(rt):
    rec = Recorder()
    r = rt.execute("import os\n_ = os.write(1, b'a\\xffb\\n')", on_output=rec)
    assert r.stdout == "a\ufffdb\n"
    assert rec.text("stdout") == r.stdout


def test_no_descriptor_left_behind(rt):
    """Each run with on_output makes an eventfd of its own; none stays open.
    (Other descriptors come and go with the runtime's pool: the check
    allows a few, far fewer than the 90 a leak would leave.)"""
    from conftest import open_fds

    def rounds(s, n):
        for i in range(n):
            rec = Recorder()
            assert rt.execute("print(%d)" % i, on_output=rec).stdout == rec.text("stdout")
            with pytest.raises(Stop):
                rt.execute("print(%d)" % i, on_output=raise_on_first)
            assert s.execute("print(%d)" % i, on_output=rec).success

    with rt.session() as s:
        rounds(s, 5)
        before = open_fds()
        rounds(s, 30)
        after = open_fds()
    assert after - before < 10, (before, after)
