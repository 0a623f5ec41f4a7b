#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""HTTP and HTTPS servers for tests/sandbox/network.c.

Binds two plain HTTP servers ("a" and "b") and, given a certificate, one
HTTPS server ("s"), all on ephemeral ports, and prints "ports A B S" (S is 0
without a certificate). Then prints one line per request it receives,
"req NAME METHOD PATH", before answering it. Exits when its stdin closes or
after --lifetime seconds, whichever comes first, removing the --remove folder
(the test's certificate folder: a test that fails leaves nothing behind).

Routes (any method):
  /echo?delay=S            JSON: server, method, path, headers ([name, value]
                           in the order received), body (latin-1), body_b64,
                           peak (the most requests answered at once so far),
                           after sleeping S seconds (default 0)
  /redirect?to=URL&code=N  N (default 302) with Location: URL
  /chain/N?code=C          N redirects (C, default 302) to /chain/N-1, then 200
  /bytes/N                 N bytes of 'x'
  /slow?delay=S            sleeps S seconds before the headers, then "late"
  /stall?first=N&total=M&sleep=S
                           Content-Length M, N bytes, a pause of S seconds,
                           then the rest
  /binary                  the bytes 0..255
  /headers?n=N             N extra headers X-Many-<i>: v<i>
  /gzip                    a gzip-encoded text (Content-Encoding: gzip)
  /cookie                  two Set-Cookie headers
  /status/N                status N
"""

import argparse
import base64
import gzip
import http.server
import json
import os
import shutil
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse

GZIP_TEXT = b"hello gzip " * 200
LOCK = threading.Lock()
ACTIVE = [0, 0]  # requests being answered now, the most at once so far


def note(line):
    with LOCK:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "netserver/1"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()

    def __getattr__(self, name):
        if name.startswith("do_"):
            return self.route
        raise AttributeError(name)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def answer(self, code, body=b"", headers=(), ctype="text/plain"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        for name, value in headers:
            self.send_header(name, value)
        if code not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and code not in (204, 304):
            self.wfile.write(body)
        self.close_connection = True

    def route(self):
        note("req %s %s %s" % (self.server.name, self.command, self.path))
        body = self.read_body()
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        parts = url.path.strip("/").split("/")
        with LOCK:
            ACTIVE[0] += 1
            ACTIVE[1] = max(ACTIVE)
        try:
            self.dispatch(parts, q, body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass
        finally:
            with LOCK:
                ACTIVE[0] -= 1

    def dispatch(self, parts, q, body):
        head = parts[0]
        if head == "echo":
            time.sleep(float(q.get("delay", "0")))
            out = {"peak": ACTIVE[1], "server": self.server.name, "method": self.command,
                   "path": self.path, "headers": [[k, v] for k, v in self.headers.items()],
                   "body": body.decode("latin-1"),
                   "body_b64": base64.b64encode(body).decode("ascii")}
            self.answer(200, json.dumps(out).encode(), ctype="application/json")
        elif head == "redirect":
            self.answer(int(q.get("code", "302")), b"moved",
                        headers=[("Location", q.get("to", "/echo"))])
        elif head == "chain":
            n = int(parts[1])
            code = q.get("code", "302")
            if n > 0:
                self.answer(int(code), b"moved",
                            headers=[("Location", "/chain/%d?code=%s" % (n - 1, code))])
            else:
                self.answer(200, b"end of chain")
        elif head == "bytes":
            self.answer(200, b"x" * int(parts[1]))
        elif head == "slow":
            time.sleep(float(q.get("delay", "5")))
            self.answer(200, b"late")
        elif head == "stall":
            first, total = int(q.get("first", "1000")), int(q.get("total", "2000"))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(total))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"y" * first)
            self.wfile.flush()
            time.sleep(float(q.get("sleep", "5")))
            self.wfile.write(b"y" * (total - first))
            self.close_connection = True
        elif head == "binary":
            self.answer(200, bytes(range(256)), ctype="application/octet-stream")
        elif head == "headers":
            n = int(q.get("n", "10"))
            self.answer(200, b"many", headers=[("X-Many-%d" % i, "v%d" % i) for i in range(n)])
        elif head == "gzip":
            self.answer(200, gzip.compress(GZIP_TEXT),
                        headers=[("Content-Encoding", "gzip")])
        elif head == "cookie":
            self.answer(200, b"cookies", headers=[("Set-Cookie", "a=1; Path=/"),
                                                  ("Set-Cookie", "b=2; Path=/")])
        elif head == "status":
            code = int(parts[1])
            self.answer(code, b"status %d" % code)
        else:
            self.answer(404, b"no route")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, name, bind, context=None):
        self.name = name
        super().__init__((bind, 0), Handler)
        if context:
            self.socket = context.wrap_socket(self.socket, server_side=True,
                                              do_handshake_on_connect=False)

    def handle_error(self, request, client_address):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--lifetime", type=float, default=120)
    ap.add_argument("--remove")
    args = ap.parse_args()

    def leave():
        if args.remove:
            shutil.rmtree(args.remove, ignore_errors=True)
        os._exit(0)

    servers = [Server("a", args.bind), Server("b", args.bind)]
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        servers.append(Server("s", args.bind, ctx))
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    ports = [s.server_address[1] for s in servers] + [0]
    note("ports %d %d %d" % tuple(ports[:3]))

    def watch_stdin():
        while sys.stdin.buffer.read(4096):
            pass
        leave()

    threading.Thread(target=watch_stdin, daemon=True).start()
    time.sleep(args.lifetime)
    leave()


if __name__ == "__main__":
    main()
