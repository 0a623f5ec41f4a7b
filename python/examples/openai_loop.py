#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A complete tool-calling loop against any OpenAI-compatible server (OpenAI,
Azure OpenAI, vLLM, llama.cpp, Ollama, LM Studio), with cact's execute_code
as the model's only tool. Standard library only, besides cact.

    OPENAI_BASE_URL=https://api.openai.com/v1 OPENAI_MODEL=gpt-4o-mini \\
    OPENAI_API_KEY=... python3 openai_loop.py "Which city is warmest tomorrow?"

The model writes Python; cact runs it in the sandbox, where it calls the
host's Python functions below (forecast, convert) with call_tool; the
output goes back to the model until it answers. The code of each call and
the result go to stderr, the answer to stdout.
"""

import json
import os
import sys
import urllib.error
import urllib.request

import cact

FORECASTS = {
    "Paris": {"high_c": 19, "sky": "cloudy"},
    "Berlin": {"high_c": 15, "sky": "rain"},
    "Rome": {"high_c": 24, "sky": "sunny"},
}


def forecast(city: str) -> dict:
    """Tomorrow's forecast for a city: high temperature in C and the sky.

    Args:
        city: A city name, e.g. "Paris".
    """
    if city not in FORECASTS:
        raise KeyError("no forecast for %s (known: %s)" % (city, ", ".join(FORECASTS)))
    return dict(FORECASTS[city], city=city)


def convert(celsius: float) -> float:
    """Degrees Celsius in Fahrenheit."""
    return round(celsius * 9 / 5 + 32, 1)


def chat(base_url, model, api_key, messages, tools):
    """One Chat Completions request; the assistant message."""
    body = json.dumps({"model": model, "messages": messages, "tools": tools}).encode()
    req = urllib.request.Request(base_url.rstrip("/") + "/chat/completions", data=body,
                                 headers={"Content-Type": "application/json"})
    if api_key:
        req.add_header("Authorization", "Bearer " + api_key)
    try:
        with urllib.request.urlopen(req, timeout=300) as resp:
            answer = json.load(resp)
    except urllib.error.HTTPError as e:
        raise SystemExit("openai_loop: the model server answered %d: %s"
                         % (e.code, e.read().decode(errors="replace")[:500]))
    return answer["choices"][0]["message"]


def run(prompt, base_url, model, api_key=None, max_steps=10, codeact=None):
    """Runs the loop; the model's final answer."""
    ca = codeact or cact.CodeAct(tools=[forecast, convert], timeout=30)
    messages = [
        {"role": "system", "content": ca.instructions},
        {"role": "user", "content": prompt},
    ]
    tools = [ca.openai_tool()]
    for _ in range(max_steps):
        msg = chat(base_url, model, api_key, messages, tools)
        messages.append({k: v for k, v in msg.items() if k in ("role", "content", "tool_calls")})
        calls = msg.get("tool_calls") or []
        if not calls:
            return msg.get("content") or ""
        for call in calls:
            fn = call["function"]
            if fn["name"] == "execute_code":
                try:
                    code = json.loads(fn["arguments"]).get("code", "")
                except (ValueError, AttributeError):
                    code = fn["arguments"]
                print("--- execute_code\n%s" % code, file=sys.stderr)
                # The same text cact agent gives the model: output, files, errors.
                text = ca.handle_tool_call(fn["arguments"])
            else:
                text = "Error: there is no tool named '%s'. Available tools: execute_code" % fn["name"]
            print("--- result\n%s" % text, file=sys.stderr)
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": text})
    return "(no answer within %d steps)" % max_steps


def main():
    base_url = os.environ.get("OPENAI_BASE_URL")
    model = os.environ.get("OPENAI_MODEL")
    if not base_url or not model:
        sys.exit("openai_loop: set OPENAI_BASE_URL and OPENAI_MODEL (and OPENAI_API_KEY)")
    prompt = " ".join(sys.argv[1:]) or "Which of Paris, Berlin and Rome is warmest tomorrow?"
    print(run(prompt, base_url, model, os.environ.get("OPENAI_API_KEY")))


if __name__ == "__main__":
    main()
