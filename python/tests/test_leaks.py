# SPDX-License-Identifier: MIT
"""10,000 executions with resident memory and file descriptors flat.

Session runs (a fraction of a millisecond each) with a tool call and
every Result attribute read, so the whole Python path (request, tool
callback, Result, File, ErrorInfo, decoding) is exercised; then a round
of clean executions and of object churn. The checks are on memory and
descriptor counts, never on time.
"""

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


def test_ten_thousand_executions_keep_rss_and_fds_flat(rt):
    # Every run returns a file; every fifth calls a Python tool.
    plain = "print(1)\n_ = open('/output/o.txt', 'w').write('abc')"
    tooled = "v = call_tool('echo', value=1)\nprint(v['value'])\n" + plain
    t0 = time.monotonic()
    with rt.session(tools=[echo]) as s:
        for i in range(1000):  # warm-up: allocator pools, caches
            use(s.execute(tooled if i % 5 == 0 else plain))
        gc.collect()
        rss0, fds0 = rss_kib(), open_fds()
        for i in range(9000):
            r = use(s.execute(tooled if i % 5 == 0 else plain))
            if i % 1000 == 0:
                r.to_dict()
                r.contents()
                r.model_text
        gc.collect()
        rss1, fds1 = rss_kib(), open_fds()
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

    for _ in range(50):
        once()
    gc.collect()
    rss0, fds0 = rss_kib(), open_fds()
    for _ in range(300):
        once()
    gc.collect()
    rss1, fds1 = rss_kib(), open_fds()
    print("300 rounds: RSS %d -> %d KiB; fds %d -> %d" % (rss0, rss1, fds0, fds1))
    assert fds1 <= fds0
    assert rss1 - rss0 < 1536, (rss0, rss1)
