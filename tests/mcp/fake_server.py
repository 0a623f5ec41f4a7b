#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A scripted MCP server (stdio) that misbehaves on request, for tests/mcp/client.c.

Each tool does one thing, good or bad; options set what happens before any
tool is called:

  --log FILE        append every line received to FILE
  --version V       answer initialize with protocol version V
  --exit-at-init    exit (status 4) when initialize arrives
  --noise           print a line that is not JSON before anything else
  --page N          list the tools N per page (nextCursor)
  --stderr TEXT     write TEXT to stderr at start
  --slow-init-if F  when file F exists, wait 30 s before answering initialize

Standard library only.
"""
import json
import os
import sys
import threading
import time

out_lock = threading.Lock()
opts = {"log": None, "version": None, "exit_at_init": False, "page": 0, "slow_init_if": None}
waiting = {}  # id of a request we sent -> id of the call to answer with the reply


def send(msg):
    data = (json.dumps(msg) + "\n").encode()
    with out_lock:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


def send_raw(data):
    with out_lock:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


def result(rid, res):
    send({"jsonrpc": "2.0", "id": rid, "result": res})


def text(rid, t, is_error=False):
    res = {"content": [{"type": "text", "text": t}]}
    if is_error:
        res["isError"] = True
    result(rid, res)


TOOLS = [
    ("echo", "Echoes text", {"text": {"type": "string"}}, ["text"]),
    ("sleep", "Sleeps, then answers with its tag", {"seconds": {"type": "number"}, "tag": {"type": "string"}}, ["seconds"]),
    ("die", "Exits in the middle of the call", {}, []),
    ("never", "Never answers", {}, []),
    ("garbage", "Sends a malformed line, then the answer", {}, []),
    ("flood", "Sends notifications, then the answer", {"count": {"type": "integer"}, "size": {"type": "integer"}}, ["count"]),
    ("big", "Answers with a message of this many bytes", {"bytes": {"type": "integer"}}, ["bytes"]),
    ("wrong_id", "Answers with another id", {"then_right": {"type": "boolean"}}, []),
    ("fail", "A tool error", {}, []),
    ("rpc_error", "A JSON-RPC error", {}, []),
    ("ping_first", "Pings the client, then answers with its reply", {}, []),
    ("ask", "Asks the client for sampling, then answers with the error", {}, []),
    ("multi_text", "Two text items", {}, []),
    ("json_text", "A text item holding JSON", {}, []),
    ("image", "An image item", {}, []),
    ("pid", "The server's process id", {}, []),
    ("env", "An environment variable", {"name": {"type": "string"}}, ["name"]),
    ("cwd", "The server's working directory", {}, []),
    ("bad schema", "A name cact cannot use", {}, []),
    ("odd_schema", "A schema cact does not check", None, []),
]


def tool_list():
    tools = []
    for name, desc, props, req in TOOLS:
        if props is None:
            schema = {"type": "object", "properties": {"x": {"type": 5}}}
        else:
            schema = {"type": "object", "properties": props, "required": req}
        tools.append({"name": name, "description": desc, "inputSchema": schema})
    return tools


def call(rid, name, args):
    if name == "echo":
        text(rid, args["text"])
    elif name == "sleep":
        def later():
            time.sleep(args["seconds"])
            result(rid, {"content": [], "structuredContent": {"tag": args.get("tag", "")}})
        threading.Thread(target=later, daemon=True).start()
    elif name == "die":
        sys.stderr.write("dying as asked\n")
        sys.stderr.flush()
        os._exit(3)
    elif name == "never":
        pass
    elif name == "garbage":
        send_raw(b"{this is not json\n")
        send_raw(b"\"a string, not a message\"\n")
        text(rid, "after the garbage")
    elif name == "flood":
        size = args.get("size", 1000)
        note = json.dumps({"jsonrpc": "2.0", "method": "notifications/message",
                           "params": {"level": "info", "data": "x" * size}}).encode() + b"\n"
        chunk = note * 100
        for _ in range(args["count"] // 100):
            send_raw(chunk)
        send_raw(note * (args["count"] % 100))
        text(rid, "after %d notifications" % args["count"])
    elif name == "big":
        text(rid, "y" * args["bytes"])
    elif name == "wrong_id":
        result(rid + 1000, {"content": [{"type": "text", "text": "wrong"}]})
        send({"jsonrpc": "2.0", "id": str(rid), "result": {"content": []}})
        if args.get("then_right"):
            text(rid, "right")
    elif name == "fail":
        text(rid, "it failed as asked", is_error=True)
    elif name == "rpc_error":
        send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32000, "message": "no such luck"}})
    elif name == "ping_first":
        waiting["p1"] = rid
        send({"jsonrpc": "2.0", "id": "p1", "method": "ping"})
    elif name == "ask":
        waiting["s1"] = rid
        send({"jsonrpc": "2.0", "id": "s1", "method": "sampling/createMessage",
              "params": {"messages": [], "maxTokens": 1}})
    elif name == "multi_text":
        result(rid, {"content": [{"type": "text", "text": "1"}, {"type": "text", "text": "hello"}]})
    elif name == "json_text":
        text(rid, '{"a": [1, 2], "b": null}')
    elif name == "image":
        result(rid, {"content": [{"type": "image", "data": "AAAA", "mimeType": "image/png"}]})
    elif name == "pid":
        result(rid, {"content": [], "structuredContent": {"pid": os.getpid()}})
    elif name == "env":
        result(rid, {"content": [], "structuredContent": {"value": os.environ.get(args["name"])}})
    elif name == "cwd":
        text(rid, json.dumps(os.getcwd()))
    elif name == "odd_schema":
        result(rid, {"content": [], "structuredContent": {"args": args}})
    else:
        send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32602, "message": "unknown tool " + name}})


def handle(msg):
    method = msg.get("method")
    rid = msg.get("id")
    if method is None:
        # A response to one of our requests.
        if rid in waiting:
            call_id = waiting.pop(rid)
            result(call_id, {"content": [], "structuredContent": {"reply": msg}})
        return
    if method == "initialize":
        if opts["exit_at_init"]:
            sys.stderr.write("refusing to start\n")
            sys.stderr.flush()
            os._exit(4)
        if opts["slow_init_if"] and os.path.exists(opts["slow_init_if"]):
            time.sleep(30)
        version = opts["version"] or msg["params"]["protocolVersion"]
        result(rid, {"protocolVersion": version, "capabilities": {"tools": {}},
                     "serverInfo": {"name": "fake", "version": "1"}})
    elif method == "tools/list":
        tools = tool_list()
        page = opts["page"]
        if page:
            start = int((msg.get("params") or {}).get("cursor") or 0)
            res = {"tools": tools[start:start + page]}
            if start + page < len(tools):
                res["nextCursor"] = str(start + page)
            result(rid, res)
        else:
            result(rid, {"tools": tools})
    elif method == "tools/call":
        call(rid, msg["params"]["name"], msg["params"].get("arguments") or {})
    elif method == "ping":
        result(rid, {})
    elif rid is not None:
        send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "method not found"}})


def main():
    args = sys.argv[1:]
    while args:
        a = args.pop(0)
        if a == "--log":
            opts["log"] = args.pop(0)
        elif a == "--version":
            opts["version"] = args.pop(0)
        elif a == "--exit-at-init":
            opts["exit_at_init"] = True
        elif a == "--noise":
            send_raw(b"starting up, not JSON\n")
        elif a == "--page":
            opts["page"] = int(args.pop(0))
        elif a == "--slow-init-if":
            opts["slow_init_if"] = args.pop(0)
        elif a == "--stderr":
            sys.stderr.write(args.pop(0) + "\n")
            sys.stderr.flush()
    for line in sys.stdin.buffer:
        if opts["log"]:
            with open(opts["log"], "ab") as f:
                f.write(line)
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        handle(msg)


if __name__ == "__main__":
    main()
