#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What the Python package costs on top of libcact, measured side by side
in one process on one runtime (make bench-python; docs/bench.md, "The
Python package").

1. A Python tool's round trip from sandboxed code: call_tool('echo',
   value=i) timed inside the sandbox, for a C callback tool (the
   reference: libcact's own dispatch), a Python function (run on the
   extension's worker threads, and, for comparison, on libcact's call
   thread) and an async Python function, in turns. Target: the Python
   tool's p50 at most 0.3 ms.
2. Runtime.execute against the C API (cact_runtime_run timed in C, no
   Python in the loop), alternating one execution of each so that both
   see the same machine; and Session.execute against
   cact_sandbox_session_run. Target: Runtime.execute's p50 at most 5%
   over the C API's.

CPU is counted too: the host process's own CPU (user + system, every
thread: Python, libcact's dispatch threads) per call or execution, and
the sandbox's (Result.stats["cpu_ms"]). Prints ratios, never gates on
absolute times. --profile adds the cost of the Python-level steps of one
tool call (decode, call, encode), timed in this thread.

    python3 bench/python_tools.py [--calls N] [--execs N] [--profile]
"""

import argparse
import json
import resource
import statistics
import sys
import time

import cact
from cact import _cact

ROUND_TRIP = """
import time, json
ts = []
for i in range({n}):
    t0 = time.perf_counter()
    call_tool('echo', value=i)
    ts.append(time.perf_counter() - t0)
print(json.dumps(ts))
"""

SNIPPET = "print(sum(range(100)))"


def echo(value: int) -> dict:
    """Returns its argument."""
    return {"value": value}


async def aecho(value: int) -> dict:
    """Returns its argument, asynchronously."""
    return {"value": value}


def cpu_s():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def tool_round_trip(rt, tool, calls, batch=600):
    """Per-call microseconds seen by the sandboxed code, host CPU per call
    (us) and sandbox CPU per call (us)."""
    us, host_cpu, box_cpu = [], 0.0, 0.0
    with rt.session(tools=[tool]) as s:
        s.execute(ROUND_TRIP.format(n=50))  # warm: the first calls fault pages in
        left = calls
        while left > 0:
            n = min(batch, left)
            c0 = cpu_s()
            r = s.execute(ROUND_TRIP.format(n=n))
            host_cpu += cpu_s() - c0
            if not r.success:
                sys.exit("bench: the round-trip code failed: %s" % r.stderr)
            us += [t * 1e6 for t in json.loads(r.stdout)]
            box_cpu += r.stats["cpu_ms"] * 1000
            left -= n
    return us, host_cpu * 1e6 / calls, box_cpu / calls


def execute_vs_c(rt, execs):
    """Alternates one Runtime.execute and one C API execution; the wall
    times (us) of each and the host CPU per execution (us) of each."""
    py, c = [], []
    py_cpu = c_cpu = 0.0
    for _ in range(20):  # warm both paths
        rt.execute(SNIPPET)
        _cact._c_exec_timings(rt, SNIPPET, 1)
    for i in range(execs):
        c0 = cpu_s()
        t0 = time.perf_counter()
        r = rt.execute(SNIPPET)
        t1 = time.perf_counter()
        c1 = cpu_s()
        if not r.success:
            sys.exit("bench: the snippet failed: %s" % r.stderr)
        py.append((t1 - t0) * 1e6)
        py_cpu += c1 - c0
        c0 = cpu_s()
        c += _cact._c_exec_timings(rt, SNIPPET, 1)
        c_cpu += cpu_s() - c0
    return py, c, py_cpu * 1e6 / execs, c_cpu * 1e6 / execs


def session_vs_c(rt, runs):
    py, c = [], []
    with rt.session() as s:
        for _ in range(20):
            s.execute(SNIPPET)
            _cact._c_session_timings(s, SNIPPET, 1)
        for _ in range(runs):
            t0 = time.perf_counter()
            s.execute(SNIPPET)
            py.append((time.perf_counter() - t0) * 1e6)
            c += _cact._c_session_timings(s, SNIPPET, 1)
    return py, c


def line(label, xs, extra=""):
    print("  %-34s p50 %8.1f us  p90 %8.1f us  p99 %8.1f us%s"
          % (label, pct(xs, 50), pct(xs, 90), pct(xs, 99), extra))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=3000, help="tool calls per kind (3000)")
    ap.add_argument("--execs", type=int, default=400,
                    help="executions of each path, and session runs (400)")
    ap.add_argument("--profile", action="store_true",
                    help="time the Python-level steps of a tool call")
    a = ap.parse_args()
    if a.calls < 1 or a.execs < 1:
        sys.exit("bench: --calls and --execs must be at least 1")

    with cact.Runtime() as rt:
        print("cact %s, libcact %s, Python %s" % (cact.__version__, cact.libcact_version(),
                                                 sys.version.split()[0]))
        print("\n1. A tool's round trip from sandboxed code (%d calls each)" % a.calls)
        ctool = _cact._c_echo_tool("echo")
        # (label, tool, Python tools on the extension's worker threads)
        kinds = [("C callback (reference)", ctool, True),
                 ("Python function", cact.Tool(echo), True),
                 ("Python, on libcact's thread", cact.Tool(echo), False),
                 ("async Python function", cact.Tool(aecho, name="echo"), True)]
        res = {label: ([], 0.0, 0.0) for label, _, _ in kinds}
        # Rounds of each in turn, so that all see the same machine.
        rounds = 5
        for _ in range(rounds):
            for label, t, workers in kinds:
                _cact._tool_threads(workers)
                us, host, box = tool_round_trip(rt, t, max(1, a.calls // rounds))
                old = res[label]
                res[label] = (old[0] + us, old[1] + host / rounds, old[2] + box / rounds)
        _cact._tool_threads(True)
        for label, _, _ in kinds:
            us, host, box = res[label]
            line(label, us, "  host CPU %6.1f us/call  sandbox CPU %5.1f us/call" % (host, box))
        c50 = pct(res["C callback (reference)"][0], 50)
        p50 = pct(res["Python function"][0], 50)
        d50 = pct(res["Python, on libcact's thread"][0], 50)
        a50 = pct(res["async Python function"][0], 50)
        print("  ratio Python/C p50: %.2fx (on libcact's thread: %.2fx); async Python/C p50: "
              "%.2fx" % (p50 / c50, d50 / c50, a50 / c50))
        print("  host CPU ratio Python/C: %.2fx" % (res["Python function"][1]
                                                  / res["C callback (reference)"][1]))
        print("  target: Python tool p50 <= 300 us: %s (%.1f us)"
              % ("met" if p50 <= 300 else "NOT met", p50))

        print("\n2. Runtime.execute against the C API (%d executions each, alternating)"
              % a.execs)
        py, c, py_cpu, c_cpu = execute_vs_c(rt, a.execs)
        line("C API (cact_runtime_run)", c, "  host CPU %6.1f us/exec" % c_cpu)
        line("Runtime.execute", py, "  host CPU %6.1f us/exec" % py_cpu)
        over = pct(py, 50) / pct(c, 50) - 1
        print("  overhead of Runtime.execute, p50: %+.1f%% (%+.1f us); mean: %+.1f%%"
              % (over * 100, pct(py, 50) - pct(c, 50),
                 (statistics.mean(py) / statistics.mean(c) - 1) * 100))
        print("  host CPU ratio Python/C: %.2fx (%+.1f us/exec)" % (py_cpu / c_cpu,
                                                                   py_cpu - c_cpu))
        print("  target: overhead <= 5%%: %s" % ("met" if over <= 0.05 else "NOT met"))

        py, c = session_vs_c(rt, a.execs)
        print("\n   Session.execute against cact_sandbox_session_run (%d runs each)" % a.execs)
        line("C API (cact_sandbox_session_run)", c)
        line("Session.execute", py)
        print("  overhead of Session.execute, p50: %+.1f%% (%+.1f us)"
              % ((pct(py, 50) / pct(c, 50) - 1) * 100, pct(py, 50) - pct(c, 50)))

        if a.profile:
            # libcact calls a tool on its own threads, which cProfile does not
            # follow: time the Python-level steps of one call in this thread
            # instead, to split the Python tool's extra cost into that work
            # and the rest (taking the GIL on a libcact thread, waking it).
            import timeit
            from cact._tool import dumps
            t = cact.Tool(echo)
            args = '{"value":7}'
            n = 20000
            steps = [
                ("json.loads(arguments)", lambda: json.loads(args)),
                ("echo(**kwargs)", lambda: t.func(**{"value": 7})),
                ("dumps(result)", lambda: dumps({"value": 7})),
                ("all three", lambda: dumps(t.func(**json.loads(args)))),
            ]
            print("\n3. The Python-level steps of one tool call, in this thread")
            for label, fn in steps:
                us = min(timeit.repeat(fn, number=n, repeat=5)) / n * 1e6
                print("  %-34s %6.2f us" % (label, us))
            print("  Python tool p50 - C tool p50:      %6.1f us" % (p50 - c50))

if __name__ == "__main__":
    main()
