#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Three `cact mcp --http --sessions` replicas behind HAProxy (deploy/haproxy.cfg).

Starts the replicas on free loopback ports, HAProxy in front of them with the
committed configuration, and runs 2,000 execute_code calls from 20 clients:
16 clients make one-call MCP sessions (initialize, call, DELETE: the calls
spread across replicas), 4 clients make sessions of 10 calls that count in
an interpreter variable (20% of the calls, pinned to one replica). Midway it
kills with SIGKILL the replica holding the most live sessions, and checks:

- every call succeeds, but those on the killed replica: a call in flight
  there fails with HAProxy's clear 502, and a session that lived there
  reports that it ended (404 with "session ended"); never a success from a
  fresh interpreter (each session call checks its counter);
- two idle sessions placed on every replica beforehand: those of the killed
  replica say they ended (asked at once, before HAProxy's checks notice,
  and at the end), those of the others kept their variables;
- one-call sessions spread over the three replicas before the kill;
- sessions started after the kill land on live replicas only.

Prints the counts. Exit 77 (skipped) when HAProxy is not installed.

    tests/deploy/replicas.py   (CACT_BIN, CACT_SOURCE_ROOT from meson test)
"""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.environ.get("CACT_SOURCE_ROOT") or os.path.join(os.path.dirname(__file__), "..", "..")
CACT = os.environ.get("CACT_BIN") or os.path.join(ROOT, "build", "cact")
CFG = os.path.join(ROOT, "deploy", "haproxy.cfg")

REPLICAS = 3
CLIENTS = 20
SESSION_CLIENTS = 4  # 20% of the clients, and of the calls
CALLS_PER_CLIENT = 100
SESSION_LENGTH = 10
KILL_AFTER = CLIENTS * CALLS_PER_CLIENT // 2
THINK = 0.1  # a session's client between two calls, as a model thinks

# Each call sleeps a little so that calls are in flight when the replica dies.
STATELESS_CODE = "import time; time.sleep(0.02); print(open('/input/replica').read(), 6 * 7)"
SESSION_CODE = (
    "import time; time.sleep(0.02)\n"
    "n = globals().get('n', 0) + 1\n"
    "print(open('/input/replica').read(), n)"
)


def fail(msg):
    print("replicas: FAIL: " + msg, flush=True)
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_haproxy():
    for p in (shutil.which("haproxy"), "/usr/sbin/haproxy"):
        if p and os.access(p, os.X_OK):
            return p
    return None


class Http:
    """One client's keep-alive connection to HAProxy."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def request(self, method, body=None, sid=None):
        """(status, headers, parsed JSON or None); status 0 on a transport error."""
        headers = {"Accept": "application/json, text/event-stream"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if sid:
            headers["Mcp-Session-Id"] = sid
        data = json.dumps(body).encode() if body is not None else None
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.conn.request(method, "/mcp", body=data, headers=headers)
            r = self.conn.getresponse()
            raw = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
            if hdrs.get("connection", "").lower() == "close":
                self.close()
        except (OSError, http.client.HTTPException) as e:
            self.close()
            return 0, {}, {"transport": str(e)}
        msg = None
        if raw:
            text = raw.decode("utf-8", "replace")
            if hdrs.get("content-type", "").startswith("text/event-stream"):
                for line in text.splitlines():
                    if line.startswith("data:"):
                        msg = json.loads(line[5:])
            else:
                try:
                    msg = json.loads(text)
                except ValueError:
                    msg = {"unparsable": text[:200]}
        return r.status, hdrs, msg

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Counts:
    def __init__(self):
        self.lock = threading.Lock()
        self.done = 0
        self.ok = 0
        self.session_ok = 0
        self.stateless_ok = 0
        self.in_flight_failed = 0  # 502: the replica died during the call
        self.session_ended = 0  # 404: the session's replica is gone
        self.reinitialized = 0  # one-call sessions started again after a 404
        self.init_retried = 0  # initialize in flight on the dying replica
        self.unexpected = []
        self.by_replica_before = {}
        self.after_kill_sessions = {}
        self.sessions_on_killed = 0
        self.victim = None  # chosen and sent SIGKILL
        self.killed = None  # and reaped: gone
        self.kill_seq = None  # requests started before it may be in flight
        self.seq = 0
        self.live = {}  # client -> replica of its current multi-call session
        self.kill_event = threading.Event()

    def next_seq(self):
        with self.lock:
            self.seq += 1
            return self.seq


def rpc(id_, method, params=None):
    m = {"jsonrpc": "2.0", "id": id_, "method": method}
    if params is not None:
        m["params"] = params
    return m


def initialize(h, c=None):
    """(session id, status, message). An initialize in flight on the replica
    that died (502) made at most a session nobody will use: started again."""
    for _ in range(2):
        st, hdrs, msg = h.request("POST", rpc(1, "initialize", {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "replicas-test", "version": "1"}}))
        if st != 502 or c is None or c.victim is None:
            break
        with c.lock:
            c.init_retried += 1
    if st != 200 or "mcp-session-id" not in hdrs:
        return None, st, msg
    sid = hdrs["mcp-session-id"]
    h.request("POST", {"jsonrpc": "2.0", "method": "notifications/initialized"}, sid)
    return sid, st, msg


def call(h, sid, code, c):
    """(kind, replica, value, started_before_kill): kind ok|inflight|ended|other."""
    seq = c.next_seq()
    st, _, msg = h.request("POST", rpc(2, "tools/call", {
        "name": "execute_code", "arguments": {"code": code}}), sid)
    before_kill = c.kill_seq is None or seq <= c.kill_seq
    err = (msg or {}).get("error", {}).get("message", "") if isinstance(msg, dict) else ""
    if st == 200 and msg and "result" in msg and not msg["result"].get("isError"):
        text = msg["result"]["content"][0]["text"].split()
        return "ok", text[0], text[1], before_kill
    if st == 502 and "replica stopped before answering" in err:
        return "inflight", None, err, before_kill
    if st in (404, 503) and "session ended" in err:
        return "ended", None, err, before_kill
    return "other", None, "HTTP %d %s" % (st, json.dumps(msg)[:300]), before_kill


def after_call(c):
    with c.lock:
        c.done += 1
        if c.done == KILL_AFTER:
            c.kill_event.set()


def stateless_client(port, c, idx):
    h = Http(port)
    for i in range(CALLS_PER_CLIENT):
        attempts = 0
        while True:
            attempts += 1
            init_before_kill = c.killed is None
            sid, st, msg = initialize(h, c)
            if sid is None:
                with c.lock:
                    c.unexpected.append("client %d: initialize: HTTP %d %s" % (idx, st, msg))
                break
            kind, replica, value, before = call(h, sid, STATELESS_CODE, c)
            h.request("DELETE", None, sid)
            with c.lock:
                if kind == "ok":
                    if value != "42":
                        c.unexpected.append("client %d: wrong output %r" % (idx, value))
                    c.ok += 1
                    c.stateless_ok += 1
                    if c.killed is None:
                        c.by_replica_before[replica] = c.by_replica_before.get(replica, 0) + 1
                    elif replica == c.killed and not before:
                        c.unexpected.append("client %d: a call after the kill ran on the killed replica" % idx)
                elif kind == "inflight" and before:
                    c.in_flight_failed += 1
                elif kind == "ended" and init_before_kill and attempts == 1:
                    # Initialized on the replica just before it died: the call
                    # never ran, and a one-call session holds nothing, so start
                    # another, as a client does on 404.
                    c.reinitialized += 1
                    continue
                else:
                    c.unexpected.append("client %d (one-call session): %s: %s" % (idx, kind, value))
            break
        after_call(c)
    h.close()


def session_client(port, c, idx):
    h = Http(port)
    done = 0
    while done < CALLS_PER_CLIENT:
        sid, st, msg = initialize(h, c)
        if sid is None:
            with c.lock:
                c.unexpected.append("client %d: initialize: HTTP %d %s" % (idx, st, msg))
            after_call(c)
            done += 1
            continue
        started_after_kill = c.killed is not None
        replica = None
        expect = 1
        ended = False
        while expect <= SESSION_LENGTH and done < CALLS_PER_CLIENT and not ended:
            kind, rep, value, before = call(h, sid, SESSION_CODE, c)
            done += 1
            with c.lock:
                if kind == "ok":
                    if replica is None:
                        replica = rep
                        c.live[idx] = rep
                        if started_after_kill:
                            c.after_kill_sessions[rep] = c.after_kill_sessions.get(rep, 0) + 1
                    if rep != replica:
                        c.unexpected.append("client %d: session moved from %s to %s" % (idx, replica, rep))
                    if value != str(expect):
                        c.unexpected.append("client %d: session counter %s, expected %d: state lost"
                                            % (idx, value, expect))
                    c.ok += 1
                    c.session_ok += 1
                elif kind in ("inflight", "ended") and (replica == c.victim or (replica is None and not started_after_kill)):
                    if kind == "inflight" and not before:
                        c.unexpected.append("client %d: 502 on a call started after the kill" % idx)
                    if kind == "inflight":
                        c.in_flight_failed += 1
                    else:
                        c.session_ended += 1
                    c.sessions_on_killed += 1
                    ended = True
                else:
                    c.unexpected.append("client %d (session on %s): %s: %s" % (idx, replica, kind, value))
                    ended = True
            expect += 1
            after_call(c)
            time.sleep(THINK)
        with c.lock:
            c.live.pop(idx, None)
        if not ended:
            h.request("DELETE", None, sid)
    h.close()


def start_replica(cact, dirpath, name):
    ws = os.path.join(dirpath, name)
    os.mkdir(ws)
    with open(os.path.join(ws, "replica"), "w") as f:
        f.write(name)
    with open(os.path.join(dirpath, name + ".json"), "w") as f:
        json.dump({"workspace_root": ws}, f)
    err = open(os.path.join(dirpath, name + ".stderr"), "w+")
    p = subprocess.Popen([cact, "mcp", "--http", "127.0.0.1:0", "--sessions",
                          "--config", os.path.join(dirpath, name + ".json"),
                          "--max-sessions", "128", "--max-conns-per-ip", "512"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    for _ in range(300):
        err.seek(0)
        for line in err.read().splitlines():
            if line.startswith("cact mcp: serving http://127.0.0.1:"):
                port = int(line.split(":")[-1].split("/")[0])
                return p, port
        if p.poll() is not None:
            break
        time.sleep(0.05)
    err.seek(0)
    fail("replica %s did not start: %s" % (name, err.read()[-500:]))


def has_readyz(port):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/readyz")
        st = conn.getresponse().status
        conn.close()
        return st == 200
    except (OSError, http.client.HTTPException):
        return False


def wait_up(port, procs):
    """Until a one-call session has run on every replica through HAProxy."""
    seen = set()
    h = Http(port)
    for _ in range(200):
        sid, _, _ = initialize(h)
        if sid:
            st, _, msg = h.request("POST", rpc(2, "tools/call", {
                "name": "execute_code", "arguments": {"code": "print(open('/input/replica').read())"}}), sid)
            if st == 200 and "result" in (msg or {}):
                seen.add(msg["result"]["content"][0]["text"].strip())
            h.request("DELETE", None, sid)
        if len(seen) == REPLICAS:
            h.close()
            return
        for p in procs:
            if p.poll() is not None:
                fail("a process exited while starting: %s" % p.args)
        time.sleep(0.05)
    fail("HAProxy never reached all replicas (saw %s)" % sorted(seen))


def pin_sessions(port):
    """Two idle sessions on every replica, each holding n = 1: {replica: [sid, sid]}."""
    h = Http(port)
    pinned = {}
    for _ in range(100):
        sid, _, _ = initialize(h)
        if sid is None:
            continue
        kind, rep, value, _ = call(h, sid, SESSION_CODE, Counts())
        if kind != "ok" or value != "1":
            fail("a pinned session's first call: %s %s" % (kind, value))
        if len(pinned.setdefault(rep, [])) < 2:
            pinned[rep].append(sid)
        else:
            h.request("DELETE", None, sid)
        if len(pinned) == REPLICAS and all(len(v) == 2 for v in pinned.values()):
            h.close()
            return pinned
    fail("could not place two sessions on every replica: %s" % pinned)


def check_pinned(port, sid, expect_ended):
    """A pinned session's second call: 'ended' or the counter it printed."""
    h = Http(port)
    kind, rep, value, _ = call(h, sid, SESSION_CODE, Counts())
    h.close()
    if expect_ended:
        if kind != "ended":
            fail("a session on the killed replica answered %s %s: it should report that it ended"
                 % (kind, value))
        return value
    if kind != "ok" or value != "2":
        fail("a session on a live replica lost its state: %s %s" % (kind, value))
    return value


def main():
    haproxy = find_haproxy()
    if haproxy is None:
        print("replicas: skipped: HAProxy is not installed (apt-get install haproxy; scripts/install-deps)")
        return 77
    if not os.access(CACT, os.X_OK):
        fail("no cact at %s" % CACT)

    t0 = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="cact-replicas.")
    procs = {}
    hap = None
    try:
        ports = {}
        for i in range(1, REPLICAS + 1):
            name = "r%d" % i
            procs[name], ports[name] = start_replica(CACT, tmp, name)
        env = dict(os.environ)
        listen = free_port()
        env["CACT_LISTEN"] = "127.0.0.1:%d" % listen
        for i in range(1, REPLICAS + 1):
            env["CACT_REPLICA_%d" % i] = "127.0.0.1:%d" % ports["r%d" % i]
        env["CACT_REPLICAS_ON_LOOPBACK"] = "1"
        if not has_readyz(ports["r1"]):
            fail("GET /readyz does not answer 200 on a ready replica")
        print("replicas: health checks: GET /readyz", flush=True)
        hlog = open(os.path.join(tmp, "haproxy.log"), "w+")
        hap = subprocess.Popen([haproxy, "-db", "-f", CFG], env=env,
                               stdin=subprocess.DEVNULL, stdout=hlog, stderr=subprocess.STDOUT)
        wait_up(listen, list(procs.values()) + [hap])
        pinned = pin_sessions(listen)

        c = Counts()
        threads = []
        for idx in range(CLIENTS):
            fn = session_client if idx < SESSION_CLIENTS else stateless_client
            t = threading.Thread(target=fn, args=(listen, c, idx), daemon=True)
            threads.append(t)
            t.start()

        if not c.kill_event.wait(120):
            fail("the clients never reached %d calls (%d done)" % (KILL_AFTER, c.done))
        with c.lock:
            on = {}
            for rep in c.live.values():
                on[rep] = on.get(rep, 0) + 1
            victim = max(sorted(procs), key=lambda r: on.get(r, 0))
            live_there = on.get(victim, 0)
            c.victim = victim
            os.kill(procs[victim].pid, signal.SIGKILL)
        # Until the process is gone its listening socket still takes
        # connections: calls started until then were in flight on it.
        procs[victim].wait()
        with c.lock:
            c.kill_seq = c.seq
            c.killed = victim
        print("replicas: killed %s (SIGKILL) after %d calls, holding %d busy and 2 idle sessions"
              % (victim, KILL_AFTER, live_there), flush=True)
        # At once, before HAProxy's checks have noticed, and again at the end.
        print("replicas: an idle session of %s, at once: %s"
              % (victim, check_pinned(listen, pinned[victim][0], True)), flush=True)

        for t in threads:
            t.join(300)
            if t.is_alive():
                fail("a client did not finish")
        if hap.poll() is not None:
            fail("HAProxy exited")
        for name, p in procs.items():
            if name != victim and p.poll() is not None:
                fail("replica %s exited" % name)

        print("replicas: an idle session of %s, at the end: %s"
              % (victim, check_pinned(listen, pinned[victim][1], True)), flush=True)
        for name in sorted(pinned):
            if name != victim:
                for sid in pinned[name]:
                    check_pinned(listen, sid, False)
        print("replicas: the idle sessions of the live replicas kept their state", flush=True)

        total = CLIENTS * CALLS_PER_CLIENT
        failed = c.in_flight_failed + c.session_ended
        print("replicas: %d calls from %d clients (%d in sessions of up to %d calls): "
              "%d ok (%d one-call sessions, %d session calls), "
              "%d failed in flight on %s (502), %d session calls told their session ended (404 or 503), "
              "%d one-call sessions started again, %d initialize retried, %d unexpected"
              % (total, CLIENTS, SESSION_CLIENTS * CALLS_PER_CLIENT, SESSION_LENGTH, c.ok,
                 c.stateless_ok, c.session_ok, c.in_flight_failed, victim, c.session_ended,
                 c.reinitialized, c.init_retried, len(c.unexpected)), flush=True)
        print("replicas: one-call sessions per replica before the kill: %s; "
              "sessions started after the kill per replica: %s"
              % (json.dumps(c.by_replica_before, sort_keys=True),
                 json.dumps(c.after_kill_sessions, sort_keys=True)), flush=True)
        for u in c.unexpected[:20]:
            print("replicas: unexpected: " + u)

        if c.unexpected:
            fail("%d unexpected outcomes" % len(c.unexpected))
        if c.ok + failed != total:
            fail("%d ok + %d failed != %d calls" % (c.ok, failed, total))
        before = sum(c.by_replica_before.values())
        for name in procs:
            share = c.by_replica_before.get(name, 0)
            if share * 10 < before:
                fail("replica %s served %d of %d one-call sessions: not spread" % (name, share, before))
        if victim in c.after_kill_sessions:
            fail("a session started after the kill landed on the killed replica")
        if not c.after_kill_sessions:
            fail("no session started after the kill")
        print("replicas: ok in %.1f s" % (time.monotonic() - t0))
        return 0
    finally:
        if hap is not None and hap.poll() is None:
            hap.terminate()
            hap.wait()
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
