# SPDX-License-Identifier: MIT
"""10,000 executions with resident memory and file descriptors flat.

Session runs (about a millisecond each) with Python tool calls and
every Result attribute read, so the whole Python path (request, tool
callback, Result, File, ErrorInfo, decoding) is exercised; then a round
of clean executions and of object churn. The checks are on memory and
descriptor counts, never on time.
"""

import concurrent.futures
import gc
import time

import cact

from conftest import open_fds, rss_kib


def echo(value: int) -> dict:
    return {"value": value, "text": "x" * 64}


def use(r):
    """Reads everything a program might read from a Result."""
    assert r.success, (r.status, r.stderr)
    r.stdout, r.stderr, r.error, r.files, r.stats, r.skipped, r.network, r.status
    r.exit_code, r.stdout_truncated
    return r


def run_many(s, n):
    """n runs in session s; every 25th makes 10 calls of a Python tool
    (the first call_tool of a run costs libcact a few milliseconds, so the
    calls are grouped)."""
    plain = "print(1)\n_ = open('/output/o.txt', 'w').write('abc')"
    tooled = ("for i in range(10):\n    v = call_tool('echo', value=i)\n"
              "print(v['value'])\n" + plain)
    for i in range(n):
        r = use(s.execute(tooled if i % 25 == 0 else plain))
        if i % 25 == 0:
            assert r.stats["tool_calls"] == 10 and r.stdout == "9\n1\n", r.stdout
        if i % 1000 == 0:
            r.to_dict()
            r.contents()
            r.model_text


def test_ten_thousand_executions_keep_rss_and_fds_flat(rt):
    # Two sessions on two threads, 5,000 runs each: every run returns a
    # file, 4,000 Python tool calls in all.
    t0 = time.monotonic()
    with rt.session(tools=[echo]) as s1, rt.session(tools=[echo]) as s2, \
            concurrent.futures.ThreadPoolExecutor(2) as pool:
        def both(n):
            for f in [pool.submit(run_many, s, n) for s in (s1, s2)]:
                f.result()

        both(500)  # warm-up: allocator pools, caches
        gc.collect()
        rss0, fds0 = rss_kib(), open_fds()
        both(4500)
        gc.collect()
        rss1, fds1 = rss_kib(), open_fds()
        assert s1.runs == s2.runs == 5000
    elapsed = time.monotonic() - t0
    print("10000 session executions in %.1f s; RSS %d -> %d KiB; fds %d -> %d"
          % (elapsed, rss0, rss1, fds0, fds1))
    assert fds1 <= fds0
    # 9000 runs: a leak of even 200 bytes a run would show as 1.8 MiB.
    assert rss1 - rss0 < 1536, (rss0, rss1)


def test_clean_executions_and_object_churn_keep_rss_and_fds_flat(rt):
    def once():
        ca = cact.CodeAct(rt, tools=[cact.Tool(echo)], allowed_domains=["api.example.com"])
        use(ca.execute("print(call_tool('echo', value=2))"))
        r = rt.execute("1/0", tools=[echo])
        assert r.error.type == "ZeroDivisionError"
        ca.state()
        ca.description

    for _ in range(30):
        once()
    gc.collect()
    rss0, fds0 = rss_kib(), open_fds()
    for _ in range(200):
        once()
    gc.collect()
    rss1, fds1 = rss_kib(), open_fds()
    # 200 rounds: a leak of 8 KiB a round (a Result, a Tool, a CodeAct
    # kept) would show.
    print("200 rounds: RSS %d -> %d KiB; fds %d -> %d" % (rss0, rss1, fds0, fds1))
    assert fds1 <= fds0
    assert rss1 - rss0 < 1536, (rss0, rss1)
