# SPDX-License-Identifier: MIT
"""python/examples/openai_loop.py, run as a user runs it, against the
project's scripted OpenAI-compatible server (tests/agent/fake_openai.py)."""

import json
import os
import subprocess
import sys
import time

import pytest

from conftest import ROOT

FAKE = ROOT / "tests" / "agent" / "fake_openai.py"
EXAMPLE = ROOT / "python" / "examples" / "openai_loop.py"

CODE = (
    "cities = ['Paris', 'Berlin', 'Rome']\n"
    "best = max(cities, key=lambda c: call_tool('forecast', city=c)['high_c'])\n"
    "f = call_tool('forecast', city=best)\n"
    "print(best, f['high_c'], call_tool('convert', celsius=f['high_c']))\n"
)


@pytest.fixture
def fake_server(tmp_path):
    """Starts the fake server with a script; yields (base_url, log path)."""
    procs = []

    def start(script):
        (tmp_path / "script.json").write_text(json.dumps(script))
        port_file = tmp_path / "port"
        log = tmp_path / "log.jsonl"
        p = subprocess.Popen(
            ["/usr/bin/python3", "-I", str(FAKE), "--port-file", str(port_file),
             "--script", str(tmp_path / "script.json"), "--log", str(log),
             "--api-key", "sk-test", "--lifetime", "120"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(p)
        for _ in range(400):
            if port_file.exists():
                break
            if p.poll() is not None:
                pytest.fail("fake_openai.py exited: %s" % p.stderr.read().decode())
            time.sleep(0.05)
        else:
            pytest.fail("fake_openai.py wrote no port in 20 s")
        port = int(port_file.read_text())
        return "http://127.0.0.1:%d/v1" % port, log

    yield start
    for p in procs:
        p.stdin.close()  # the server stops when its stdin ends
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run_example(base_url, *args, key="sk-test"):
    env = dict(os.environ, OPENAI_BASE_URL=base_url, OPENAI_MODEL="fake-model",
               OPENAI_API_KEY=key)
    return subprocess.run([sys.executable, str(EXAMPLE), *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_openai_loop_runs_tools_and_answers(fake_server):
    base_url, log = fake_server([
        {"match": {"last_user_contains": "warmest"},
         "expect": {"has_tool": "execute_code", "system_contains": "execute_code"},
         "response": {"tool_calls": [{"id": "call_1", "name": "execute_code",
                                      "arguments": {"code": CODE}}]}},
        {"match": {"last_tool_contains": "Rome"},
         "expect": {"tool_result_contains": "Rome 24 75.2"},
         "response": {"content": "Rome is warmest tomorrow: 24 C (75.2 F)."}},
    ])
    p = run_example(base_url, "Which city is warmest tomorrow?")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "Rome is warmest tomorrow: 24 C (75.2 F).\n"
    # The code and its result are shown on stderr.
    assert "--- execute_code" in p.stderr and "Rome 24 75.2" in p.stderr
    requests = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["step"] for r in requests] == [0, 1]
    assert all(r["failed"] is None for r in requests), requests
    first = requests[0]["request"]
    assert first["model"] == "fake-model"
    assert [t["function"]["name"] for t in first["tools"]] == ["execute_code"]
    # The model reads the host's tools in the description.
    desc = first["tools"][0]["function"]["description"]
    assert "forecast" in desc and "convert" in desc
    assert requests[0]["headers"]["authorization"] == "Bearer sk-test"
    # The assistant's tool call and the tool's answer went back to the model.
    msgs = requests[1]["request"]["messages"]
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "tool"]
    assert msgs[3]["tool_call_id"] == "call_1"


def test_openai_loop_reports_tool_errors_to_the_model(fake_server):
    # An unknown city: the host's KeyError reaches the code as RuntimeError,
    # and the model is told, then answers.
    base_url, log = fake_server([
        {"match": {"last_user_contains": "Oslo"},
         "response": {"tool_calls": [{"id": "c1", "name": "execute_code",
                                      "arguments": {"code": "call_tool('forecast', city='Oslo')"}}]}},
        {"match": {"last_tool_contains": "Execution error"},
         "expect": {"tool_result_contains": "no forecast for Oslo"},
         "response": {"content": "I have no forecast for Oslo."}},
    ])
    p = run_example(base_url, "Weather in Oslo?")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "I have no forecast for Oslo.\n"
    assert "Traceback" not in p.stdout


def test_openai_loop_says_what_to_set(fake_server):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    p = subprocess.run([sys.executable, str(EXAMPLE)], env=env, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode != 0
    assert "set OPENAI_BASE_URL and OPENAI_MODEL" in p.stderr
    base_url, _ = fake_server([])
    p = run_example(base_url, "hi", key="wrong")
    assert p.returncode != 0
    assert "answered 401" in p.stderr
