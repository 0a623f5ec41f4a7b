# SPDX-License-Identifier: MIT
"""Python functions as tools: schemas from signatures, every JSON type,
conversions, exceptions, async tools, approval."""

import asyncio
import dataclasses
import enum
import functools
import json
import sys
import threading
from typing import Any, Dict, List, Literal, Optional, Tuple, TypedDict, Union

import pytest

import cact


def run_ok(rt, code, **kw):
    r = rt.execute(code, **kw)
    assert r.status == "ok", (r.status, r.stdout, r.stderr)
    return r.stdout


# ---- every JSON type, both ways ----

VALUES = [None, True, False, 0, -7, 2 ** 53, 1.5, -0.25, "", "héllo ✓ \u2028", [],
          [1, "a", None, [2.5]], {}, {"a": {"b": [None, True]}, "n": 3}]


def echo(value: Any) -> Any:
    """Returns its argument."""
    return value


@pytest.mark.parametrize("value", VALUES, ids=[repr(v)[:20] for v in VALUES])
def test_every_json_type_round_trips(rt, value):
    out = run_ok(rt, "import json\nv = call_tool('echo', value=json.loads(%r))\n"
                     "print(json.dumps([type(v).__name__, v]))" % json.dumps(value),
                 tools=[echo])
    kind, got = json.loads(out)
    assert got == value
    assert kind == {type(None): "NoneType"}.get(type(value), type(value).__name__)


def test_result_of_every_type(rt):
    def answer() -> dict:
        return {"none": None, "bool": True, "int": 3, "float": 2.5, "str": "s",
                "list": [1, [2]], "tuple": (1, 2), "dict": {"k": "v"}}

    out = run_ok(rt, "print(repr(call_tool('answer')))", tools=[answer])
    assert out == repr({"none": None, "bool": True, "int": 3, "float": 2.5, "str": "s",
                        "list": [1, [2]], "tuple": [1, 2], "dict": {"k": "v"}}) + "\n"


# ---- typed parameters ----

class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Size(enum.IntEnum):
    S = 1
    L = 3


@dataclasses.dataclass
class Point:
    x: float
    y: float = 0.0


@dataclasses.dataclass
class Shape:
    """A shape."""
    name: str
    points: List[Point]
    color: Color = Color.RED


class Address(TypedDict):
    street: str
    zip: int


def typed(i: int, f: float, s: str, b: bool, n: None, li: List[int], d: Dict[str, int],
          o: Optional[int], lit: Literal["a", "b"], c: Color, sz: Size, p: Point, sh: Shape,
          a: Address, t: Tuple[int, str], u: Union[int, str], v: Optional[List[Point]] = None,
          tup: Tuple[int, ...] = ()) -> dict:
    """Takes one of everything.

    Args:
        i: An integer.
        f: A float; 3 arrives as 3.0.
    """
    return {
        "i": [type(i).__name__, i], "f": [type(f).__name__, f], "s": s, "b": b, "n": n,
        "li": li, "d": d, "o": o, "lit": lit, "c": [type(c).__name__, c.value],
        "sz": [type(sz).__name__, int(sz)], "p": [type(p).__name__, p.x, p.y],
        "sh": [type(sh).__name__, sh.name, [type(q).__name__ for q in sh.points],
               type(sh.color).__name__],
        "a": [type(a).__name__, a], "t": [type(t).__name__, list(t)], "u": u,
        "v": None if v is None else [type(q).__name__ for q in v],
        "tup": [type(tup).__name__, list(tup)],
    }


def test_schema_from_signature():
    t = cact.Tool(typed)
    p = t.parameters
    assert t.name == "typed" and t.description == "Takes one of everything."
    props = p["properties"]
    assert props["i"] == {"type": "integer", "description": "An integer."}
    assert props["f"] == {"type": "number", "description": "A float; 3 arrives as 3.0."}
    assert props["s"] == {"type": "string"} and props["b"] == {"type": "boolean"}
    assert props["n"] == {"type": "null"}
    assert props["li"] == {"type": "array", "items": {"type": "integer"}}
    assert props["d"] == {"type": "object", "additionalProperties": {"type": "integer"}}
    assert props["o"] == {"type": ["integer", "null"]}
    assert props["lit"] == {"type": "string", "enum": ["a", "b"]}
    assert props["c"] == {"type": "string", "enum": ["red", "green"]}
    assert props["sz"] == {"type": "integer", "enum": [1, 3]}
    assert props["p"]["properties"] == {"x": {"type": "number"},
                                        "y": {"type": "number", "default": 0.0}}
    assert props["p"]["required"] == ["x"] and props["p"]["additionalProperties"] is False
    assert props["sh"]["description"] == "A shape."
    assert props["sh"]["properties"]["color"] == {"type": "string", "enum": ["red", "green"],
                                                  "default": "red"}
    assert props["a"]["properties"] == {"street": {"type": "string"}, "zip": {"type": "integer"}}
    assert sorted(props["a"]["required"]) == ["street", "zip"]
    assert props["t"]["minItems"] == props["t"]["maxItems"] == 2
    assert props["u"] == {"type": ["integer", "string"]}
    assert props["v"]["type"] == ["array", "null"] and props["v"]["default"] is None
    assert props["tup"] == {"type": "array", "items": {"type": "integer"}, "default": []}
    assert p["required"] == ["i", "f", "s", "b", "n", "li", "d", "o", "lit", "c", "sz", "p",
                             "sh", "a", "t", "u"]
    assert p["additionalProperties"] is False


def test_typed_arguments_are_converted(rt):
    out = run_ok(rt, """
r = call_tool('typed', i=1, f=3, s='x', b=True, n=None, li=[1, 2], d={'k': 1}, o=None,
              lit='b', c='green', sz=3, p={'x': 1}, sh={'name': 'tri', 'points': [{'x': 0}]},
              a={'street': 'Main', 'zip': 1}, t=[1, 'a'], u='s', v=[{'x': 2, 'y': 3}],
              tup=[4, 5])
import json; print(json.dumps(r, sort_keys=True))
""", tools=[typed])
    got = json.loads(out)
    assert got["i"] == ["int", 1] and got["f"] == ["float", 3.0]
    assert got["c"] == ["Color", "green"] and got["sz"] == ["Size", 3]
    assert got["p"] == ["Point", 1.0, 0.0]
    assert got["sh"] == ["Shape", "tri", ["Point"], "Color"]
    assert got["a"] == ["dict", {"street": "Main", "zip": 1}]
    assert got["t"] == ["tuple", [1, "a"]] and got["v"] == ["Point"]
    assert got["tup"] == ["tuple", [4, 5]]
    assert got["lit"] == "b" and got["o"] is None and got["n"] is None


def test_arguments_are_checked_before_the_call(rt):
    calls = []

    def strict(x: int, color: Color, p: Point) -> int:
        calls.append(x)
        return x

    out = run_ok(rt, """
for kw in [dict(x='1', color='red', p={'x': 1}), dict(x=1, color='blue', p={'x': 1}),
           dict(x=1, color='red', p={'y': 1}), dict(x=1, color='red', p={'x': 1}, extra=2),
           dict(color='red', p={'x': 1})]:
    try:
        call_tool('strict', **kw)
    except RuntimeError as e:
        print(e)
""", tools=[strict])
    lines = out.splitlines()
    assert len(lines) == 5
    assert "$.x: expected integer, got string" in lines[0]
    assert "$.color" in lines[1]
    assert "$.p" in lines[2] and "x" in lines[2]
    assert "extra" in lines[3]
    assert "x" in lines[4]
    assert all(l.startswith("tool 'strict' failed: arguments do not match") for l in lines)
    assert calls == []


def test_kwargs_accepts_extra_arguments(rt):
    def anything(first: int, **rest) -> dict:
        return {"first": first, "rest": rest}

    assert "additionalProperties" not in cact.Tool(anything).parameters
    out = run_ok(rt, "print(call_tool('anything', first=1, a=2, b='c'))", tools=[anything])
    assert out == "{'first': 1, 'rest': {'a': 2, 'b': 'c'}}\n"


# ---- failures ----

class QuotaExceeded(Exception):
    pass


def test_exceptions_reach_the_code_as_runtime_error(rt):
    def fails(kind: str):
        if kind == "value":
            raise ValueError("bad value 42")
        if kind == "custom":
            raise QuotaExceeded("no quota left")
        if kind == "empty":
            raise KeyError()
        if kind == "exit":
            raise SystemExit(3)
        return None

    out = run_ok(rt, """
for k in ['value', 'custom', 'empty', 'exit']:
    try:
        call_tool('fails', kind=k)
    except RuntimeError as e:
        print(type(e).__name__, e)
""", tools=[fails])
    assert out.splitlines() == [
        "RuntimeError tool 'fails' failed: ValueError: bad value 42",
        "RuntimeError tool 'fails' failed: QuotaExceeded: no quota left",
        "RuntimeError tool 'fails' failed: KeyError",
        "RuntimeError tool 'fails' failed: SystemExit: 3",
    ]
    assert "Traceback" not in out and "test_tools.py" not in out


def test_results_that_are_not_json(rt):
    def give(kind: str):
        return {"set": {1, 2}, "nan": float("nan"), "obj": object(),
                "dc": Point(1.0, 2.0), "enum": Color.RED}[kind]

    out = run_ok(rt, """
for k in ['set', 'nan', 'obj', 'dc', 'enum']:
    try:
        print('ok', call_tool('give', kind=k))
    except RuntimeError as e:
        print(e)
""", tools=[give])
    lines = out.splitlines()
    assert lines[0] == ("tool 'give' failed: the tool's result is not JSON: TypeError: Object of "
                        "type set is not JSON serializable; return dict, list, str, int, float, "
                        "bool or None")
    assert lines[1].startswith("tool 'give' failed: the tool's result is not JSON: ValueError")
    assert "Object of type object is not JSON serializable" in lines[2]
    assert lines[3] == "ok {'x': 1.0, 'y': 2.0}" and lines[4] == "ok red"


def test_result_over_the_cap(rt):
    def big() -> str:
        return "x" * (2 << 20)

    out = run_ok(rt, "try:\n    call_tool('big')\nexcept RuntimeError as e:\n    print(e)",
                 tools=[big])
    assert out.startswith("tool 'big' failed: ") and "larger than 1048576 bytes" in out, out


def test_unknown_tool_lists_the_tools(rt):
    out = run_ok(rt, "try:\n    call_tool('nope')\nexcept RuntimeError as e:\n    print(e)",
                 tools=[echo])
    assert "unknown tool" in out and "echo" in out


# ---- kinds of callables ----

def test_decorator_sets_fields_and_keeps_the_function(rt):
    @cact.tool(name="area", description="Area of a rectangle.", approval_mode="never_require")
    def rect(w: float, h: float) -> float:
        """Ignored docstring."""
        return w * h

    assert isinstance(rect, cact.Tool)
    assert rect.name == "area" and rect.description == "Area of a rectangle."
    assert rect(2, 3) == 6 and rect.__name__ == "rect" and rect.__doc__ == "Ignored docstring."
    assert run_ok(rt, "print(call_tool('area', w=2, h=2.5))", tools=[rect]) == "5.0\n"

    @cact.tool
    def plain(x: int) -> int:
        return x + 1

    assert plain.name == "plain" and plain(1) == 2


def test_explicit_parameters_are_used_as_given(rt):
    schema = {"type": "object", "properties": {"q": {"type": "string", "maxLength": 3}},
              "required": ["q"]}

    @cact.tool(parameters=schema)
    def search(**kw):
        return kw

    assert search.parameters == schema
    out = run_ok(rt, "print(call_tool('search', q='abc'))\n"
                     "try:\n    call_tool('search', q='abcd')\nexcept RuntimeError as e:\n"
                     "    print('refused' if 'q' in str(e) else e)", tools=[search])
    assert out == "{'q': 'abc'}\nrefused\n"


def test_methods_partials_and_callable_objects(rt):
    class Counter:
        def __init__(self):
            self.n = 0

        def add(self, k: int) -> int:
            """Adds k."""
            self.n += k
            return self.n

    class Greeter:
        def __call__(self, who: str) -> str:
            return "hi " + who

    def scale(x: float, factor: float) -> float:
        return x * factor

    c = Counter()
    triple = functools.partial(scale, factor=3)
    out = run_ok(rt, "print(call_tool('add', k=2), call_tool('add', k=3), "
                     "call_tool('Greeter', who='bob'), call_tool('scale', x=2))",
                 tools=[c.add, Greeter(), triple])
    assert out == "2 5 hi bob 6.0\n"
    assert cact.Tool(c.add).description == "Adds k."


def test_docstring_styles():
    def google(a: int, b: str):
        """Does it.

        Args:
            a: The first
                one.
            b (str): The second.

        Returns:
            Nothing.
        """

    def sphinx(a: int, b: str):
        """Does it.

        :param a: The first one.
        :param str b: The second.
        :returns: nothing
        """

    def numpy(a: int, b: str):
        """Does it.

        Parameters
        ----------
        a : int
            The first one.
        b : str
            The second.
        """

    for f in (google, sphinx, numpy):
        p = cact.Tool(f).parameters["properties"]
        assert p["a"]["description"] == "The first one.", f.__name__
        assert p["b"]["description"] == "The second.", f.__name__
        assert cact.Tool(f).description == "Does it.", f.__name__


def test_bad_tool_definitions_say_what_to_fix():
    import datetime

    def star(*args):
        pass

    def posonly(a, /):
        pass

    def when(t: datetime.datetime):
        pass

    def intkeys(d: Dict[int, str]):
        pass

    with pytest.raises(TypeError, match=r"\*args cannot receive anything"):
        cact.Tool(star)
    with pytest.raises(TypeError, match="positional-only"):
        cact.Tool(posonly)
    with pytest.raises(TypeError, match="datetime has no JSON Schema.*parameters="):
        cact.Tool(when)
    with pytest.raises(TypeError, match=r"dict\[str, \.\.\.\]"):
        cact.Tool(intkeys)
    with pytest.raises(ValueError, match="not a valid tool name.*cact.tool\\(name="):
        cact.Tool(lambda: 1)
    with pytest.raises(ValueError, match="not a valid tool name"):
        cact.Tool(echo, name="has space")
    with pytest.raises(ValueError, match="execute_code"):
        cact.Tool(echo, name="execute_code")
    with pytest.raises(TypeError, match="callable"):
        cact.Tool(42)
    with pytest.raises(TypeError, match="parameters must be a JSON Schema object"):
        cact.Tool(echo, parameters=[1])
    with pytest.raises(ValueError, match="tool 'echo'"):
        cact.Tool(echo, parameters={"type": "string"})
    with pytest.raises(ValueError, match="approval_mode must be"):
        cact.Tool(echo, approval_mode="sometimes")
    with pytest.raises(TypeError, match="a tool is a callable"):
        cact.CodeAct(tools=[42])


# ---- async tools ----

def test_async_tool_from_sync_execute_runs_on_cacts_loop(rt):
    seen = {}

    async def fetch(n: int) -> int:
        await asyncio.sleep(0.01)
        seen["thread"] = threading.current_thread().name
        return n + 1

    assert cact.Tool(fetch).is_async
    out = run_ok(rt, "print(call_tool('fetch', n=41))", tools=[fetch])
    assert out == "42\n"
    assert seen["thread"] == "cact-async-tools"


def test_async_tool_from_execute_async_runs_on_the_callers_loop(rt):
    async def main():
        loop = asyncio.get_running_loop()
        lock = asyncio.Lock()  # bound to this loop: usable only from it
        seen = []

        async def guarded(n: int) -> int:
            async with lock:
                seen.append(asyncio.get_running_loop() is loop)
                await asyncio.sleep(0)
                return n * 2

        r = await rt.execute_async("print([call_tool('guarded', n=i) for i in range(3)])",
                                   tools=[guarded])
        return r, seen

    r, seen = asyncio.run(main())
    assert r.stdout == "[0, 2, 4]\n", r.stderr
    assert seen == [True, True, True]


def test_async_tool_exception(rt):
    async def broken() -> None:
        raise LookupError("not found")

    out = run_ok(rt, "try:\n    call_tool('broken')\nexcept RuntimeError as e:\n    print(e)",
                 tools=[broken])
    assert out == "tool 'broken' failed: LookupError: not found\n"


def test_sync_function_returning_an_awaitable(rt):
    async def later():
        return "later"

    def make() -> str:
        return later()

    assert run_ok(rt, "print(call_tool('make'))", tools=[make]) == "later\n"


# ---- approval ----

@cact.tool(approval_mode="always_require")
def pay(amount: int, to: str) -> str:
    """Pays someone."""
    return "paid %d to %s" % (amount, to)


PAY_CODE = """
for amount in (5, 500):
    try:
        print(call_tool('pay', amount=amount, to='bob'))
    except PermissionError as e:
        print('denied:', e)
"""


def test_approval_per_call(rt):
    calls = []

    def approve(call):
        calls.append(call)
        return call.arguments["amount"] < 100

    out = run_ok(rt, PAY_CODE, tools=[pay], approve=approve)
    assert out.splitlines() == ["paid 5 to bob", "denied: tool 'pay': the call was not approved"]
    assert calls == [cact.ToolCall("pay", {"amount": 5, "to": "bob"}),
                     cact.ToolCall("pay", {"amount": 500, "to": "bob"})]


def test_approval_required_without_approve_denies(rt):
    out = run_ok(rt, PAY_CODE, tools=[pay])
    assert out.count("denied") == 2


def test_approval_never_asked_for_other_tools(rt):
    asked = []
    out = run_ok(rt, "print(call_tool('echo', value=1))", tools=[echo],
                 approve=lambda c: asked.append(c) or True)
    assert out == "1\n" and asked == []


def test_approve_that_raises_denies_and_reports(rt, monkeypatch):
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: reported.append(u.exc_value))

    def approve(call):
        raise RuntimeError("approver broke")

    out = run_ok(rt, PAY_CODE, tools=[pay], approve=approve)
    assert out.count("denied") == 2
    assert [str(e) for e in reported] == ["approver broke", "approver broke"]


def test_async_approve(rt):
    async def main():
        async def approve(call):
            await asyncio.sleep(0)
            return call.arguments["to"] == "bob" and call.arguments["amount"] == 5

        return await rt.execute_async(PAY_CODE, tools=[pay], approve=approve)

    r = asyncio.run(main())
    assert r.stdout.splitlines()[0] == "paid 5 to bob"
    assert r.stdout.splitlines()[1].startswith("denied")


def test_validate():
    t = cact.Tool(echo)
    with pytest.raises(ValueError, match="missing required property 'value'"):
        t.validate({})
    with pytest.raises(ValueError, match="other"):
        t.validate({"value": 1, "other": 2})
    cact.Tool(echo).validate({"value": [1]})


def test_callables_passed_as_tools_are_not_kept_alive(rt):
    import gc
    import weakref

    def make(i):
        def adder(x: int) -> int:
            """Adds a constant."""
            return x + i
        return adder

    refs = []
    for i in range(3):
        f = make(i)
        refs.append(weakref.ref(f))
        r = rt.execute("print(call_tool('adder', x=1))", tools=[f])
        assert r.stdout == "%d\n" % (1 + i), r.stderr
        del f, r
    gc.collect()
    assert [w() for w in refs] == [None, None, None]
