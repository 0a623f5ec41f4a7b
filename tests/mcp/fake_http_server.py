#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A scripted Streamable HTTP MCP server, for tests/mcp/client.c.

  fake_http_server.py LOGFILE

Listens on 127.0.0.1 (a free port, printed on stdout as "port N") at /mcp
and appends one JSON line per HTTP request to LOGFILE: verb, JSON-RPC
method and id, the session, protocol-version and X-Test headers. Sessions
are "s-1", "s-2", ... (one per initialize); the tool "expire" ends the
current one, so that the next request gets 404. Standard library only.
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log_path = sys.argv[1]
lock = threading.Lock()
state = {"sessions": 0, "live": set(), "answers": {}}
answered = threading.Condition(lock)

TOOLS = ["echo", "expire", "asks", "flood", "big", "fail500", "json_mode", "text_plain"]


def log(entry):
    with open(log_path, "a") as f:
        f.write(json.dumps(entry) + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body=None, ctype="application/json", session=None):
        data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", ctype)
        if session:
            self.send_header("Mcp-Session-Id", session)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def start_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def event(self, msg):
        self.wfile.write(b"event: message\ndata: " + json.dumps(msg).encode() + b"\n\n")
        self.wfile.flush()

    def do_DELETE(self):
        log({"verb": "DELETE", "session": self.headers.get("Mcp-Session-Id")})
        with lock:
            state["live"].discard(self.headers.get("Mcp-Session-Id"))
        self.reply(200)

    def do_GET(self):
        log({"verb": "GET"})
        self.reply(405)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        msg = json.loads(body)
        session = self.headers.get("Mcp-Session-Id")
        method = msg.get("method")
        log({"verb": "POST", "method": method, "id": msg.get("id"), "session": session,
             "version": self.headers.get("MCP-Protocol-Version"),
             "accept": self.headers.get("Accept"), "x_test": self.headers.get("X-Test")})
        if method == "initialize":
            with lock:
                state["sessions"] += 1
                sid = "s-%d" % state["sessions"]
                state["live"].add(sid)
            self.reply(200, {"jsonrpc": "2.0", "id": msg["id"], "result": {
                "protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
                "serverInfo": {"name": "fake-http", "version": "1"}}}, session=sid)
            return
        with lock:
            live = session in state["live"]
        if not session:
            self.reply(400, {"jsonrpc": "2.0", "id": None,
                             "error": {"code": -32000, "message": "no session"}})
            return
        if not live:
            self.reply(404, {"jsonrpc": "2.0", "id": None,
                             "error": {"code": -32001, "message": "session not found"}})
            return
        if method is None:
            # The client's answer to one of our requests.
            with answered:
                state["answers"][msg.get("id")] = msg
                answered.notify_all()
            self.reply(202)
            return
        if "id" not in msg:
            self.reply(202)
            return
        rid = msg["id"]
        if method == "tools/list":
            self.reply(200, {"jsonrpc": "2.0", "id": rid, "result": {"tools": [
                {"name": n, "inputSchema": {"type": "object"}} for n in TOOLS]}})
            return
        name = msg["params"]["name"]
        args = msg["params"].get("arguments") or {}
        if name == "echo":
            self.start_stream()
            self.event({"jsonrpc": "2.0", "method": "notifications/message",
                        "params": {"level": "info", "data": "working"}})
            self.event({"jsonrpc": "2.0", "id": rid,
                        "result": {"content": [{"type": "text", "text": args.get("text", "")}]}})
        elif name == "expire":
            with lock:
                state["live"].discard(session)
            self.reply(200, {"jsonrpc": "2.0", "id": rid,
                             "result": {"content": [{"type": "text", "text": "expired"}]}})
        elif name == "asks":
            # Requests first; the answer waits for the client's replies to them.
            self.start_stream()
            self.event({"jsonrpc": "2.0", "id": "p1", "method": "ping"})
            self.event({"jsonrpc": "2.0", "id": "r1", "method": "roots/list"})
            with answered:
                answered.wait_for(lambda: "p1" in state["answers"] and "r1" in state["answers"],
                                  timeout=10)
                got = {k: state["answers"].get(k) for k in ("p1", "r1")}
            self.event({"jsonrpc": "2.0", "id": rid,
                        "result": {"content": [], "structuredContent": got}})
        elif name == "flood":
            self.start_stream()
            note = (b"event: message\ndata: " + json.dumps(
                {"jsonrpc": "2.0", "method": "notifications/progress",
                 "params": {"progressToken": 1, "progress": 1, "data": "z" * 1000}}).encode()
                + b"\n\n")
            for _ in range(args.get("count", 1000) // 100):
                self.wfile.write(note * 100)
            self.event({"jsonrpc": "2.0", "id": rid,
                        "result": {"content": [{"type": "text", "text": "flooded"}]}})
        elif name == "big":
            self.reply(200, {"jsonrpc": "2.0", "id": rid, "result": {
                "content": [{"type": "text", "text": "b" * args.get("bytes", 10)}]}})
        elif name == "fail500":
            self.reply(500, {"jsonrpc": "2.0", "id": rid,
                             "error": {"code": -32603, "message": "it broke inside"}})
        elif name == "json_mode":
            self.reply(200, {"jsonrpc": "2.0", "id": rid, "result": {
                "content": [{"type": "text", "text": "[1, 2]"}]}})
        elif name == "text_plain":
            self.reply(200, b"hello", ctype="text/plain")
        else:
            self.reply(200, {"jsonrpc": "2.0", "id": rid,
                             "error": {"code": -32602, "message": "unknown tool"}})


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that hangs up on a big or long answer is expected here.
        if not isinstance(sys.exc_info()[1], (ConnectionError, BrokenPipeError)):
            super().handle_error(request, client_address)


def main():
    server = Server(("127.0.0.1", 0), Handler)
    print("port %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
