#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A scripted fake of an OpenAI-compatible Chat Completions server, for tests.

Run it with /usr/bin/python3 (standard library only):

    /usr/bin/python3 -I fake_openai.py --port-file FILE [--script FILE]
        [--log FILE] [--api-key KEY] [--lifetime SECONDS]

It listens on 127.0.0.1, on a port the kernel picks, and writes that port
(decimal, then a newline) to --port-file once it accepts connections (the
file appears whole: it is written aside and renamed). It exits by itself
after --lifetime seconds (default 120), or as soon as its stdin reaches its
end when stdin is a pipe or a socket (a parent that keeps the write end open
and closes it, or dies, stops the server).

It answers POST requests whose path ends in /chat/completions (anything
before that is accepted, so base_url may be "http://127.0.0.1:PORT/v1");
any other request gets 404.

--api-key KEY: every request must carry "Authorization: Bearer KEY", or it
gets 401 with {"error": {"message": "Incorrect API key provided", ...}}
(no step is consumed).

--log FILE: one JSON line appended per request:
    {"step": index of the step used, or null,
     "request": the parsed request body (null when it is not JSON),
     "headers": {lower-case name: value, Authorization included},
     "failed": null, or why the request was refused}

--script FILE: a JSON list of steps. Each request takes the first step not
yet used whose "match" (optional) fits the request; a step is used once. A
request that no step fits gets 500 {"error": {"message": "fake server: no
script step left ..."}}. A step is an object:

  "match": {                      all given conditions must hold
      "last_user_contains": s,    the last message with role "user" has s in its text
      "last_tool_contains": s,    the last message with role "tool" has s in its text
      "any_message_contains": s   some message has s in its text, or in one of
  },                              its tool calls' names or arguments
  "expect": {                     checked once the step is chosen; the first
      "tool_result_contains": s,  that fails makes the answer 400 with
      "system_contains": s,       {"error": {"message": "fake server: expectation
      "has_tool": name,           failed: ..."}} naming it (logged as "failed")
      "no_tool": name,            - some "tool" message has s in its text
      "stream": bool,             - a "system" (or "developer") message has s
      "header": {name: value}     - the request's tools have / lack a function
  },                                named name; - its "stream" is (not) true;
                                  - a request header (any case) equals value
  "status": 200,                  HTTP status (default 200)
  "headers": {name: value},       extra response headers (Retry-After, ...)
  "delay_ms": 0,                  wait before answering
  "body": "...",                  raw text sent verbatim (Content-Type
                                  application/json unless "headers" says otherwise)
  "sse_raw": "...",               raw event-stream text sent verbatim (Content-Type
                                  text/event-stream) when the request streams
  "response": {                   a completion, built by the server:
      "content": str or null,     (default null)
      "tool_calls": [{"id": s, "name": s, "arguments": str or object}],
      "finish_reason": s,         (default "tool_calls" with tool calls, else "stop")
      "usage": {...}              sent as given; no usage at all when absent
  }

What is sent: when the request has "stream": true, "sse_raw" if the step has
it, else the "response" as server-sent events (chat.completion.chunk
objects: a first delta with the role, the content in several deltas, each
tool call's id and name, then its arguments in several pieces, a last
chunk with the finish reason, a usage chunk (empty choices) when the request
asked for stream_options.include_usage and the step has a usage, then
"data: [DONE]"), in HTTP chunked encoding, one event per chunk. Otherwise
"body" if the step has it, else the "response" as one chat.completion
object. A step with none of these answers {"error": {"message": "fake
server: scripted status N"}} when its status is 400 or more, and an empty
assistant message otherwise.
"""

import argparse
import json
import os
import stat
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
steps = []
used = []
log_file = None
api_key = None
counter = [0]


def text_of(content):
    """The text of a message content: a string, or the text of its parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def messages_of(req):
    msgs = req.get("messages") if isinstance(req, dict) else None
    return [m for m in msgs if isinstance(m, dict)] if isinstance(msgs, list) else []


def last_with_role(req, role):
    for m in reversed(messages_of(req)):
        if m.get("role") == role:
            return text_of(m.get("content"))
    return None


def message_has(m, s):
    if s in text_of(m.get("content")):
        return True
    for tc in m.get("tool_calls") or []:
        fn = tc.get("function") if isinstance(tc, dict) else None
        if isinstance(fn, dict):
            for k in ("name", "arguments"):
                v = fn.get(k)
                if isinstance(v, str) and s in v:
                    return True
    return False


def matches(step, req):
    m = step.get("match") or {}
    if "last_user_contains" in m:
        t = last_with_role(req, "user")
        if t is None or m["last_user_contains"] not in t:
            return False
    if "last_tool_contains" in m:
        t = last_with_role(req, "tool")
        if t is None or m["last_tool_contains"] not in t:
            return False
    if "any_message_contains" in m:
        if not any(message_has(x, m["any_message_contains"]) for x in messages_of(req)):
            return False
    return True


def tool_names(req):
    names = []
    tools = req.get("tools") if isinstance(req, dict) else None
    for t in tools if isinstance(tools, list) else []:
        fn = t.get("function") if isinstance(t, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            names.append(fn["name"])
    return names


def check_expect(step, req, headers):
    """None when every expectation holds, else what failed."""
    e = step.get("expect") or {}
    msgs = messages_of(req)
    if "tool_result_contains" in e:
        s = e["tool_result_contains"]
        if not any(m.get("role") == "tool" and s in text_of(m.get("content")) for m in msgs):
            return "no tool message contains %r" % s
    if "system_contains" in e:
        s = e["system_contains"]
        if not any(m.get("role") in ("system", "developer") and s in text_of(m.get("content")) for m in msgs):
            return "no system message contains %r" % s
    if "has_tool" in e and e["has_tool"] not in tool_names(req):
        return "tool %r is not offered (tools: %s)" % (e["has_tool"], tool_names(req))
    if "no_tool" in e and e["no_tool"] in tool_names(req):
        return "tool %r is offered" % e["no_tool"]
    if "stream" in e and bool(req.get("stream") is True) != bool(e["stream"]):
        return "stream is %r, expected %r" % (req.get("stream"), e["stream"])
    for name, value in (e.get("header") or {}).items():
        got = headers.get(name.lower())
        if got != value:
            return "header %s is %r, expected %r" % (name, got, value)
    return None


def pick(req):
    """Index of the first unused step that fits, marked used; None when none."""
    with lock:
        for i, step in enumerate(steps):
            if not used[i] and matches(step, req):
                used[i] = True
                return i
    return None


def write_log(entry):
    if log_file is None:
        return
    with lock:
        with open(log_file, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")


def tool_call_obj(tc, i):
    args = tc.get("arguments", "{}")
    if not isinstance(args, str):
        args = json.dumps(args)
    return {
        "id": tc.get("id", "call_%d" % i),
        "type": "function",
        "function": {"name": tc.get("name", ""), "arguments": args},
    }


def finish_of(resp):
    if "finish_reason" in resp:
        return resp["finish_reason"]
    return "tool_calls" if resp.get("tool_calls") else "stop"


def completion(resp, req):
    counter[0] += 1
    msg = {"role": "assistant", "content": resp.get("content")}
    calls = [tool_call_obj(tc, i) for i, tc in enumerate(resp.get("tool_calls") or [])]
    if calls:
        msg["tool_calls"] = calls
    out = {
        "id": "chatcmpl-fake-%d" % counter[0],
        "object": "chat.completion",
        "created": int(time.time()),
        "model": req.get("model", "fake"),
        "choices": [{"index": 0, "message": msg, "finish_reason": finish_of(resp)}],
    }
    if "usage" in resp:
        out["usage"] = resp["usage"]
    return out


def pieces(s, n=3):
    """s cut into about n pieces (at least one, never empty unless s is)."""
    if len(s) <= 1:
        return [s]
    size = max(1, (len(s) + n - 1) // n)
    return [s[i:i + size] for i in range(0, len(s), size)]


def chunks(resp, req):
    """The events of a streamed completion, as data strings."""
    counter[0] += 1
    base = {
        "id": "chatcmpl-fake-%d" % counter[0],
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": req.get("model", "fake"),
    }

    def chunk(delta, finish=None):
        c = dict(base)
        c["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}]
        return json.dumps(c)

    content = resp.get("content")
    calls = resp.get("tool_calls") or []
    out = [chunk({"role": "assistant", "content": "" if content is not None else None})]
    if content:
        out += [chunk({"content": p}) for p in pieces(content)]
    for i, tc in enumerate(calls):
        obj = tool_call_obj(tc, i)
        out.append(chunk({"tool_calls": [{"index": i, "id": obj["id"], "type": "function",
                                          "function": {"name": obj["function"]["name"], "arguments": ""}}]}))
        for p in pieces(obj["function"]["arguments"], 4):
            out.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": p}}]}))
    out.append(chunk({}, finish_of(resp)))
    opts = req.get("stream_options")
    if isinstance(opts, dict) and opts.get("include_usage") and "usage" in resp:
        c = dict(base)
        c["choices"] = []
        c["usage"] = resp["usage"]
        out.append(json.dumps(c))
    out.append("[DONE]")
    return out


def error_body(message, kind="fake_error"):
    return json.dumps({"error": {"message": message, "type": kind, "code": None}})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-openai/1"

    def log_message(self, fmt, *args):
        pass

    def send_whole(self, status, body, ctype="application/json", extra=None):
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        names = {k.lower() for k in (extra or {})}
        if "content-type" not in names:
            self.send_header("Content-Type", ctype)
        for k, v in (extra or {}).items():
            self.send_header(k, str(v))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def send_stream(self, status, events, extra=None, raw=None):
        self.send_response(status)
        names = {k.lower() for k in (extra or {})}
        if "content-type" not in names:
            self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        for k, v in (extra or {}).items():
            self.send_header(k, str(v))
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        parts = [raw.encode("utf-8")] if raw is not None else [
            ("data: " + e + "\n\n").encode("utf-8") for e in events]
        for p in parts:
            if p:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(p), p))
                self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def do_GET(self):
        self.send_whole(404, error_body("fake server: no such endpoint"))

    def do_POST(self):
        length = self.headers.get("Content-Length")
        raw = self.rfile.read(int(length)) if length and length.isdigit() else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        entry = {"step": None, "request": None, "headers": headers, "failed": None}
        try:
            req = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            req = None
        entry["request"] = req
        if not self.path.split("?")[0].endswith("/chat/completions"):
            entry["failed"] = "no such endpoint: %s" % self.path
            write_log(entry)
            self.send_whole(404, error_body("fake server: no such endpoint"))
            return
        if api_key is not None and headers.get("authorization") != "Bearer " + api_key:
            entry["failed"] = "unauthorized"
            write_log(entry)
            self.send_whole(401, error_body("Incorrect API key provided", "invalid_request_error"))
            return
        if not isinstance(req, dict):
            entry["failed"] = "request body is not a JSON object"
            write_log(entry)
            self.send_whole(400, error_body("fake server: request body is not a JSON object"))
            return
        i = pick(req)
        entry["step"] = i
        if i is None:
            entry["failed"] = "no step left"
            write_log(entry)
            self.send_whole(500, error_body("fake server: no script step left for this request"))
            return
        step = steps[i]
        why = check_expect(step, req, headers)
        entry["failed"] = why
        write_log(entry)
        if step.get("delay_ms"):
            time.sleep(step["delay_ms"] / 1000.0)
        if why is not None:
            self.send_whole(400, error_body("fake server: expectation failed: " + why))
            return
        self.answer(step, req)

    def answer(self, step, req):
        status = step.get("status", 200)
        extra = step.get("headers") or {}
        streaming = req.get("stream") is True
        if streaming and "sse_raw" in step:
            self.send_stream(status, None, extra, raw=step["sse_raw"])
        elif streaming and "response" in step:
            self.send_stream(status, chunks(step["response"], req), extra)
        elif "body" in step:
            self.send_whole(status, step["body"], extra=extra)
        elif "response" in step:
            self.send_whole(status, json.dumps(completion(step["response"], req)), extra=extra)
        elif status >= 400:
            self.send_whole(status, error_body("fake server: scripted status %d" % status), extra=extra)
        else:
            self.send_whole(status, json.dumps(completion({"content": ""}, req)), extra=extra)


def watch_stdin():
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    os._exit(0)


def main():
    global steps, used, log_file, api_key
    ap = argparse.ArgumentParser(description="scripted fake OpenAI-compatible server")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--script")
    ap.add_argument("--log")
    ap.add_argument("--api-key")
    ap.add_argument("--lifetime", type=float, default=120.0)
    a = ap.parse_args()
    if a.script:
        with open(a.script, encoding="utf-8") as f:
            steps = json.load(f)
        if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
            sys.exit("fake_openai: the script is not a list of objects")
    used = [False] * len(steps)
    log_file = a.log
    api_key = a.api_key
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.replace(tmp, a.port_file)
    try:
        mode = os.fstat(0).st_mode
        if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            threading.Thread(target=watch_stdin, daemon=True).start()
    except OSError:
        pass
    timer = threading.Timer(a.lifetime, lambda: os._exit(0))
    timer.daemon = True
    timer.start()
    server.serve_forever()


if __name__ == "__main__":
    main()
