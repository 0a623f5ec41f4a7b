# SPDX-License-Identifier: MIT
"""cact.CodeAct: configuration, what the model reads, state, execution,
the model-facing tool call."""

import asyncio
import json
import os
import threading

import pytest

import cact


def lookup(country: str) -> dict:
    """Facts about a country."""
    return {"country": country, "capital": {"France": "Paris"}.get(country, "?")}


def convert(amount: float, currency: str = "EUR") -> float:
    """Converts an amount to USD."""
    return round(amount * 1.1, 2)


@cact.tool(approval_mode="always_require")
def send_email(to: str, body: str) -> str:
    """Sends an email."""
    return "sent to " + to


@pytest.fixture
def ca(rt):
    return cact.CodeAct(rt)


# ---- tools ----

def test_tools_crud(ca):
    ca.add_tools(lookup)
    ca.add_tools([convert, send_email])
    assert [t.name for t in ca.get_tools()] == ["lookup", "convert", "send_email"]
    assert ca.get_tools()[2] is send_email
    # The same name replaces the tool and moves it to the end.
    ca.add_tools(cact.Tool(lookup, description="Other facts."))
    assert [t.name for t in ca.get_tools()] == ["convert", "send_email", "lookup"]
    assert ca.get_tools()[2].description == "Other facts."
    ca.remove_tool("convert")
    ca.remove_tool(send_email)
    assert [t.name for t in ca.get_tools()] == ["lookup"]
    with pytest.raises(ValueError, match="no tool named 'convert'"):
        ca.remove_tool("convert")
    ca.clear_tools()
    assert ca.get_tools() == []
    with pytest.raises(ValueError, match="execute_code"):
        cact.Tool(lookup, name="execute_code")
    # libcact refuses it too, whatever made the tool.
    with pytest.raises(ValueError, match="execute_code"):
        ca.add_tools(cact._cact.Tool(lookup, "execute_code"))
    assert ca.get_tools() == []


def test_add_tools_refuses_non_callables(ca):
    with pytest.raises(TypeError, match="a tool is a callable or a cact.Tool, not str"):
        ca.add_tools(["lookup"])


def test_constructor_takes_everything(rt, tmp_path):
    (tmp_path / "a.txt").write_text("A")
    calls = []
    ca = cact.CodeAct(rt, tools=[lookup, send_email], file_mounts=[str(tmp_path / "a.txt")],
                      allowed_domains=["api.example.com"], approval_mode="never_require",
                      workspace_root=tmp_path, approve=lambda c: calls.append(c) or True,
                      timeout=7, memory_mib=256, limits={"stdout_bytes": 4096})
    st = ca.state()
    assert st["tool_names"] == ["lookup", "send_email"]
    assert st["workspace_root"] == str(tmp_path)
    assert st["limits"]["timeout_ms"] == 7000 and st["limits"]["memory_bytes"] == 256 << 20
    assert st["limits"]["stdout_bytes"] == 4096
    assert st["per_call_approval"] is True
    r = ca.execute("print(open('/input/a.txt').read(), call_tool('send_email', to='a', body='b'))")
    assert r.stdout == "A sent to a\n", r.stderr
    assert calls == [cact.ToolCall("send_email", {"to": "a", "body": "b"})]


# ---- file mounts ----

def test_file_mounts_crud(ca, tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("1")
    d = tmp_path / "dir"
    d.mkdir()
    ca.add_file_mounts(str(a))
    ca.add_file_mounts((str(d), "\\data\\.\\x"), [(str(a), "input/b.csv")])
    mounts = ca.get_file_mounts()
    assert mounts == [
        cact.FileMount(str(a), "/input" + str(a)),
        cact.FileMount(str(d), "/input/data/x"),
        cact.FileMount(str(a), "/input/b.csv"),
    ]
    assert isinstance(mounts[0], cact.FileMount) and mounts[1].mount_path == "/input/data/x"
    # Re-adding a mount path replaces it (in place).
    ca.add_file_mounts((str(d), "b.csv"))
    assert ca.get_file_mounts()[2] == cact.FileMount(str(d), "/input/b.csv")
    ca.remove_file_mount("data/x")
    ca.remove_file_mount("/input/b.csv")
    assert [m.mount_path for m in ca.get_file_mounts()] == ["/input" + str(a)]
    with pytest.raises(ValueError):
        ca.remove_file_mount("nothing/here")
    ca.clear_file_mounts()
    assert ca.get_file_mounts() == []


def test_file_mount_errors(ca, tmp_path):
    with pytest.raises(ValueError, match="ENOENT"):
        ca.add_file_mounts(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="must stay within /input"):
        ca.add_file_mounts((str(tmp_path), "a/../../b"))
    with pytest.raises(ValueError):
        ca.add_file_mounts((str(tmp_path), "   "))
    with pytest.raises(TypeError, match=r"expected a file mount \(a path or a \(host path, mount path\) pair\) or a list of them, not int"):
        ca.add_file_mounts(3)
    with pytest.raises(TypeError, match="path"):
        ca.add_file_mounts([3])
    assert ca.get_file_mounts() == []


# ---- allowed domains ----

def test_allowed_domains_crud(ca):
    ca.add_allowed_domains("https://API.Example.com/v1/x", ("b.example.com", ["post", "get", "GET"]))
    ca.add_allowed_domains([("c.example.com:8443", "put"), "*.example.org"])
    assert ca.get_allowed_domains() == [
        cact.AllowedDomain("*.example.org", None),
        cact.AllowedDomain("api.example.com", None),
        cact.AllowedDomain("b.example.com", ("GET", "POST")),
        cact.AllowedDomain("c.example.com:8443", ("PUT",)),
    ]
    ca.add_allowed_domains(("api.example.com", "delete"))
    assert ca.get_allowed_domains()[1] == cact.AllowedDomain("api.example.com", ("DELETE",))
    ca.remove_allowed_domain("https://b.example.com")
    assert [d.target for d in ca.get_allowed_domains()] == [
        "*.example.org", "api.example.com", "c.example.com:8443"]
    with pytest.raises(ValueError):
        ca.remove_allowed_domain("nowhere.example.com")
    ca.clear_allowed_domains()
    assert ca.get_allowed_domains() == []


def test_allowed_domain_errors(ca):
    with pytest.raises(ValueError, match="CONNECT"):
        ca.add_allowed_domains(("a.example.com", "CONNECT"))
    with pytest.raises(ValueError, match="TRACE"):
        ca.add_allowed_domains(("a.example.com", ["GET", "TRACE"]))
    with pytest.raises(ValueError):
        ca.add_allowed_domains("https://user:pw@a.example.com/")
    with pytest.raises(TypeError, match="target"):
        ca.add_allowed_domains([3])
    assert ca.get_allowed_domains() == []


# ---- what the model reads ----

def test_description_follows_the_configuration(ca, tmp_path):
    before = ca.description
    assert "lookup" not in before and "/input/docs" not in before
    ca.add_tools(lookup)
    after = ca.description
    assert after != before and "lookup" in after and "Facts about a country." in after
    ca.add_allowed_domains(("api.example.com", "GET"))
    assert "api.example.com" in ca.description and "http_get" in ca.description
    ca.add_file_mounts((str(tmp_path), "docs"))
    assert "/input/docs" in ca.description
    ca.clear_tools()
    assert "lookup" not in ca.description


def test_instructions(ca):
    ca.add_tools(lookup)
    text = ca.instructions
    assert "execute_code" in text
    assert text == ca.get_instructions(tools_visible=False)
    assert ca.get_instructions(tools_visible=True) != text


def test_openai_tool(ca):
    ca.add_tools(lookup)
    t = ca.openai_tool()
    assert t["type"] == "function"
    assert t["function"]["name"] == "execute_code"
    assert t["function"]["description"] == ca.description
    assert t["function"]["parameters"]["required"] == ["code"]
    assert t["function"]["parameters"]["properties"]["code"]["type"] == "string"
    json.dumps(t)


# ---- approval ----

def test_approval_required_is_derived(ca):
    assert ca.approval_mode == "never_require" and ca.approval_required is False
    ca.add_tools(lookup)
    assert ca.approval_required is False
    ca.add_tools(send_email)
    assert ca.approval_required is True
    ca.approve = lambda call: True
    assert ca.approval_required is False  # asked call by call instead
    ca.approve = None
    assert ca.approval_required is True
    ca.remove_tool("send_email")
    assert ca.approval_required is False
    ca.approval_mode = "always_require"
    assert ca.approval_required is True
    with pytest.raises(ValueError, match="approval_mode must be"):
        ca.approval_mode = "maybe"
    with pytest.raises(TypeError, match="approve must be callable"):
        ca.approve = "yes"


# ---- state ----

def test_state_round_trip(rt, tmp_path):
    ca = cact.CodeAct(rt, tools=[lookup, send_email], file_mounts=[(str(tmp_path), "w")],
                      allowed_domains=[("api.example.com", "GET")], timeout=12)
    st = ca.state()
    assert st["backend"] == "cact" and st["approval_mode"] == "always_require"
    assert st["file_mounts"] == [{"host_path": str(tmp_path), "mount_path": "/input/w"}]
    assert st["allowed_domains"] == [{"target": "api.example.com", "methods": ["GET"]}]
    assert st["network_enabled"] is True and st["filesystem_enabled"] is True
    back = cact.CodeAct.from_state(st, runtime=rt, tools=[send_email, lookup, convert])
    assert isinstance(back, cact.CodeAct)
    assert back.state() == st
    assert [t.name for t in back.get_tools()] == ["lookup", "send_email"]
    assert back.get_tools()[1] is send_email
    assert back.runtime is rt
    # JSON text works as well, and the rebuilt configuration runs.
    again = cact.CodeAct.from_state(json.dumps(st), runtime=rt, tools=[lookup, send_email])
    r = again.execute("print(call_tool('lookup', country='France')['capital'])")
    assert r.stdout == "Paris\n"


def test_from_state_errors(rt):
    st = cact.CodeAct(rt, tools=[lookup]).state()
    with pytest.raises(ValueError, match="lookup"):
        cact.CodeAct.from_state(st, runtime=rt, tools=[])
    with pytest.raises(ValueError, match="state"):
        cact.CodeAct.from_state("{not json", runtime=rt)
    with pytest.raises(TypeError, match="state must be a dict"):
        cact.CodeAct.from_state(3)
    with pytest.raises(TypeError, match="runtime must be a cact.Runtime"):
        cact.CodeAct.from_state(st, runtime="rt", tools=[lookup])


def test_from_state_with_approve(rt):
    ca = cact.CodeAct(rt, tools=[send_email], approve=lambda c: True)
    back = cact.CodeAct.from_state(ca.state(), runtime=rt, tools=[send_email],
                                   approve=lambda c: False)
    r = back.execute("try:\n    call_tool('send_email', to='x', body='y')\n"
                     "except PermissionError:\n    print('denied')")
    assert r.stdout == "denied\n"


# ---- execution ----

def test_execute_with_tools(ca):
    ca.add_tools(lookup, convert)
    r = ca.execute("c = call_tool('lookup', country='France')\n"
                   "print(c['capital'], call_tool('convert', amount=10))")
    assert r.stdout == "Paris 11.0\n"
    assert r.stats["tool_calls"] == 2


def test_execute_takes_a_snapshot(ca):
    started, release = threading.Event(), threading.Event()

    def pause() -> bool:
        started.set()
        release.wait(30)
        return True

    ca.add_tools(pause, lookup)
    out = {}
    t = threading.Thread(target=lambda: out.setdefault(
        "r", ca.execute("call_tool('pause')\nprint(call_tool('lookup', country='France'))")))
    t.start()
    assert started.wait(60)
    ca.remove_tool("lookup")  # the running execution keeps its snapshot
    release.set()
    t.join()
    assert out["r"].stdout == "{'country': 'France', 'capital': 'Paris'}\n", out["r"].stderr
    r = ca.execute("try:\n    call_tool('lookup', country='France')\n"
                   "except RuntimeError as e:\n    print('gone')")
    assert r.stdout == "gone\n"


def test_execute_async_with_async_tools_on_the_callers_loop(ca):
    async def main():
        loop = asyncio.get_running_loop()
        seen = []

        async def where() -> str:
            seen.append(asyncio.get_running_loop() is loop)
            return "here"

        ca.add_tools(where)
        ticks = 0
        task = asyncio.ensure_future(ca.execute_async(
            "import time\ntime.sleep(0.2)\nprint(call_tool('where'))"))
        while not task.done():
            ticks += 1
            await asyncio.sleep(0.01)
        return await task, seen, ticks

    r, seen, ticks = asyncio.run(main())
    assert r.stdout == "here\n" and seen == [True] and ticks > 1


def test_limits(ca):
    ca.set_limits(timeout=0.5)
    r = ca.execute("while True: pass")
    assert r.status == "timeout"
    with pytest.raises(ValueError, match="unknown limit 'nope'"):
        ca.set_limits(nope=3)
    with pytest.raises(TypeError, match="limit stdout_bytes must be an int"):
        ca.set_limits(stdout_bytes="3")
    with pytest.raises(ValueError):
        ca.set_limits(stdout_bytes=0)
    with pytest.raises(ValueError, match="timeout must be a positive"):
        ca.set_limits(timeout=-1)
    assert set(cact.limits()) >= {"timeout_ms", "memory_bytes", "tool_calls"}


def test_workspace_root(ca, tmp_path):
    (tmp_path / "w.txt").write_text("workspace")
    ca.workspace_root = tmp_path
    assert ca.workspace_root == str(tmp_path)
    assert ca.execute("print(open('/input/w.txt').read())").stdout == "workspace\n"
    ca.workspace_root = None
    assert ca.workspace_root is None
    with pytest.raises(ValueError, match="workspace_root"):
        ca.workspace_root = tmp_path / "missing"


def test_default_runtime():
    ca = cact.CodeAct(tools=[lookup])
    assert ca.runtime is None
    r = ca.execute("print(call_tool('lookup', country='France')['capital'])")
    assert r.stdout == "Paris\n"
    assert ca.runtime is cact.default_runtime()


def test_closed_runtime(tmp_path):
    rt = cact.Runtime()
    ca = cact.CodeAct(rt)
    rt.close()
    with pytest.raises(ValueError, match="the runtime is closed"):
        ca.execute("print(1)")


def test_config_file(ca, tmp_path):
    cfg = tmp_path / "cact.json"
    cfg.write_text(json.dumps({
        "approval_mode": "never_require",
        "allowed_domains": ["api.example.com"],
        "tools": [{"name": "shout", "description": "Upper-cases text.",
                   "parameters": {"type": "object", "properties": {"text": {"type": "string"}},
                                  "required": ["text"]},
                   "command": ["python3", "-c",
                               "import json,sys; print(json.dumps(json.load(sys.stdin)['text'].upper()))"]}],
        "limits": {"timeout_s": 20},
    }))
    ca.add_tools(lookup)
    ca.load_config(cfg)
    tools = ca.get_tools()
    assert [t.name for t in tools] == ["lookup", "shout"]
    assert tools[1].func is None and "served outside Python" in repr(tools[1])
    with pytest.raises(TypeError, match="served outside Python"):
        tools[1](text="x")
    assert ca.execute("print(call_tool('shout', text='hi'))").stdout == "HI\n"
    bad = tmp_path / "bad.json"
    bad.write_text('{"tools": 3}')
    with pytest.raises(ValueError, match="tools"):
        ca.load_config(bad)


# ---- the model-facing tool call ----

def test_handle_tool_call_texts(ca):
    ca.add_tools(lookup)
    assert ca.handle_tool_call('{"code": "print(6 * 7)"}') == "42\n"
    assert ca.handle_tool_call(json.dumps({"code": "x = 1"})) == \
        "Code executed successfully without output.\n"
    text = ca.handle_tool_call(json.dumps({"code": "print('a')\nopen('/output/r.txt','w').write('xy')"}))
    r = ca.execute("print('a')\nopen('/output/r.txt','w').write('xy')")
    assert text == r.model_text
    assert "/output/r.txt (text/plain, 2 bytes)" in text
    err = ca.handle_tool_call('{"code": "1/0"}')
    assert err.startswith("[Execution error]\npython_error (exit code 1): ZeroDivisionError")
    assert ca.handle_tool_call('{"code": 5}') == (
        "Error: the arguments do not match the parameters of 'execute_code': "
        "$.code: expected string, got integer")
    assert ca.handle_tool_call('{"code": "1", "x": 2}').startswith(
        "Error: the arguments do not match the parameters of 'execute_code'")
    assert ca.handle_tool_call("not json").startswith(
        "Error: the arguments of 'execute_code' are not a JSON object: ")
    assert ca.handle_tool_call("[1]") == \
        "Error: the arguments of 'execute_code' are not a JSON object"
    assert ca.handle_tool_call("").startswith(
        "Error: the arguments do not match the parameters of 'execute_code'")


def test_handle_tool_call_asks_for_approval(ca):
    ca.add_tools(send_email)
    assert ca.approval_required
    denied = ("Denied: the user did not approve this call of 'execute_code'. Do not retry it "
              "unless the user asks.")
    assert ca.handle_tool_call('{"code": "print(1)"}') == denied
    ca.approval_mode = "always_require"
    asked = []
    ca.approve = lambda call: asked.append(call) or True
    assert ca.handle_tool_call('{"code": "print(1)"}') == "1\n"
    assert asked == [cact.ToolCall("execute_code", {"code": "print(1)"})]


def test_handle_tool_call_matches_cact_agent(rt, root, tmp_path):
    """The same text cact agent sends the model for the same call: run the
    agent against the scripted server and compare its tool message."""
    cli = os.environ.get("CACT_BIN")
    if not cli:
        pytest.skip("set CACT_BIN to the cact CLI to compare with cact agent (tests/python.sh does)")
    import subprocess
    import sys
    code = "print('sum', sum(range(5)))\nopen('/output/o.txt', 'w').write('abc')\nraise ValueError('late')"
    args = json.dumps({"code": code})
    script = [
        {"response": {"tool_calls": [{"id": "c1", "name": "execute_code", "arguments": args}]}},
        {"response": {"content": "done"}},
    ]
    (tmp_path / "s.json").write_text(json.dumps(script))
    log = tmp_path / "log.jsonl"
    srv = subprocess.Popen([sys.executable, "-I", str(root / "tests/agent/fake_openai.py"),
                            "--port-file", str(tmp_path / "port"), "--script",
                            str(tmp_path / "s.json"), "--log", str(log)],
                           stdin=subprocess.PIPE)
    try:
        for _ in range(1000):
            if (tmp_path / "port").exists():
                break
            threading.Event().wait(0.01)
        port = (tmp_path / "port").read_text().strip()
        env = dict(os.environ, OPENAI_API_KEY="")
        subprocess.run([cli, "agent", "--base-url", "http://127.0.0.1:%s/v1" % port,
                        "--model", "m", "hello"], env=env, capture_output=True, timeout=300,
                       stdin=subprocess.DEVNULL)
    finally:
        srv.stdin.close()
        srv.wait(30)
    requests = [json.loads(l)["request"] for l in log.read_text().splitlines()]
    tool_msgs = [m for m in requests[-1]["messages"] if m["role"] == "tool"]
    assert len(tool_msgs) == 1
    ours = cact.CodeAct(rt).handle_tool_call(args)
    assert ours == tool_msgs[0]["content"]


def test_handle_tool_call_async(ca):
    async def main():
        return await ca.handle_tool_call_async('{"code": "print(2 + 2)"}')

    assert asyncio.run(main()) == "4\n"


def test_session_from_codeact(ca):
    ca.add_tools(lookup)
    with ca.session() as s:
        assert s.execute("x = call_tool('lookup', country='France')").success
        assert s.execute("print(x['capital'])").stdout == "Paris\n"
        ca.remove_tool("lookup")  # the session keeps the configuration it started with
        assert s.execute("print(call_tool('lookup', country='X')['capital'])").stdout == "?\n"
    assert s.closed
