# SPDX-License-Identifier: MIT
"""A Python callable's tool description: name, description and the JSON
Schema of its parameters, from its signature, type hints and docstring;
and the converter that turns validated JSON arguments back into the
annotated Python types (enums, dataclasses, tuples, sets, floats).

Supported annotations: int, float, str, bool, None, Any, list[X], tuple[X,
...], tuple[X, Y], set[X], dict[str, X], Optional[X], Union[...] (X | Y),
Literal[...], Enum subclasses, dataclasses, TypedDict, Annotated[X, "doc"].
Anything else is a TypeError that says what to do instead.
"""

import dataclasses
import enum
import functools
import inspect
import re
import sys
import typing
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

__all__ = ["Spec", "describe"]

_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_NoneType = type(None)

try:  # 3.10+: X | Y
    from types import UnionType as _UnionType  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - 3.9
    _UnionType = None

try:
    from typing import is_typeddict as _is_typeddict  # 3.10+
except ImportError:  # pragma: no cover - 3.9

    def _is_typeddict(tp):
        return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__total__")


Converter = Optional[Callable[[Any], Any]]


class Spec(NamedTuple):
    """What cact.Tool needs from a callable."""

    name: str
    description: str
    parameters: Dict[str, Any]
    convert: Optional[Callable[[Dict[str, Any]], Dict[str, Any]]]
    is_async: bool


class _Unsupported(TypeError):
    pass


def _json_type(values):
    """The JSON type name shared by all values, or None."""
    kinds = set()
    for v in values:
        if isinstance(v, bool):
            kinds.add("boolean")
        elif isinstance(v, int):
            kinds.add("integer")
        elif isinstance(v, float):
            kinds.add("number")
        elif isinstance(v, str):
            kinds.add("string")
        elif v is None:
            kinds.add("null")
        else:
            return None
    return kinds.pop() if len(kinds) == 1 else None


def _nullable(schema):
    """schema that also accepts null."""
    t = schema.get("type")
    if isinstance(t, str):
        out = dict(schema)
        out["type"] = [t, "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = list(out["enum"]) + [None]
        return out
    if isinstance(t, list):
        out = dict(schema)
        if "null" not in t:
            out["type"] = t + ["null"]
        return out
    if not schema:
        return schema
    return {"anyOf": [schema, {"type": "null"}]}


def _seq_converter(item_conv, make):
    if item_conv is None:
        return make if make is not list else None
    return lambda v: make(item_conv(x) for x in v)


def _schema_of(tp, where, seen):
    """(schema, converter) for one annotation."""
    if tp is Any or tp is inspect.Parameter.empty or tp is object:
        return {}, None
    if tp is None or tp is _NoneType:
        return {"type": "null"}, None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        schema, conv = _schema_of(args[0], where, seen)
        docs = [a for a in args[1:] if isinstance(a, str)]
        if docs:
            schema = dict(schema)
            schema["description"] = docs[0]
        return schema, conv
    if tp is bool:
        return {"type": "boolean"}, None
    if tp is int:
        return {"type": "integer"}, None
    if tp is float:
        # JSON has one number type: 3 arrives as int, the function gets 3.0.
        return {"type": "number"}, lambda v: float(v) if isinstance(v, int) and not isinstance(v, bool) else v
    if tp is str:
        return {"type": "string"}, None
    if origin is typing.Union or (_UnionType is not None and isinstance(tp, _UnionType)):
        members = [a for a in args if a is not _NoneType]
        optional = len(members) < len(args)
        if len(members) == 1:
            schema, conv = _schema_of(members[0], where, seen)
            if optional:
                schema = _nullable(schema)
                if conv is not None:
                    inner = conv
                    conv = lambda v: None if v is None else inner(v)  # noqa: E731
            return schema, conv
        parts = [_schema_of(m, where, seen) for m in members]
        schemas = [p[0] for p in parts]
        if all(set(s) == {"type"} and isinstance(s["type"], str) for s in schemas):
            types = []
            for s in schemas:
                if s["type"] not in types:
                    types.append(s["type"])
            schema = {"type": types + (["null"] if optional else [])}
        else:
            schema = {"anyOf": schemas + ([{"type": "null"}] if optional else [])}
        return schema, None
    if origin is typing.Literal:
        values = list(args)
        schema = {"enum": values}
        t = _json_type(values)
        if t:
            schema = {"type": t, "enum": values}
        return schema, None
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        values = [m.value for m in tp]
        t = _json_type(values)
        if t is None:
            raise _Unsupported("%s: the values of enum %s are not all JSON scalars of one type"
                               % (where, tp.__name__))
        return {"type": t, "enum": values}, tp
    if tp in (list, tuple, set, frozenset) or origin in (list, tuple, set, frozenset) or \
            origin in _abc_sequences():
        container = origin or tp
        make = {tuple: tuple, set: set, frozenset: frozenset}.get(container, list)
        schema = {"type": "array"}
        if container is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            parts = [_schema_of(a, "%s[%d]" % (where, i), seen) for i, a in enumerate(args)]
            schema["prefixItems"] = [p[0] for p in parts]
            schema["minItems"] = schema["maxItems"] = len(parts)
            convs = [p[1] for p in parts]
            if any(convs):
                return schema, lambda v: tuple(c(x) if c else x for c, x in zip(convs, v))
            return schema, tuple
        item_conv = None
        if args:
            items, item_conv = _schema_of(args[0], where + "[]", seen)
            schema["items"] = items
        if make in (set, frozenset):
            schema["uniqueItems"] = True
        return schema, _seq_converter(item_conv, make)
    if tp is dict or origin is dict or origin in _abc_mappings():
        schema = {"type": "object"}
        if args:
            if args[0] is not str and args[0] is not Any:
                raise _Unsupported("%s: JSON object keys are strings; use dict[str, ...]" % where)
            values, conv = _schema_of(args[1], where + "{}", seen)
            schema["additionalProperties"] = values
            if conv is not None:
                return schema, lambda v: {k: conv(x) for k, x in v.items()}
        return schema, None
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _object_schema(tp, where, seen, _dataclass_fields(tp), lambda kw: tp(**kw))
    if _is_typeddict(tp):
        return _object_schema(tp, where, seen, _typeddict_fields(tp), None)
    name = getattr(tp, "__name__", None) or repr(tp)
    raise _Unsupported(
        "%s: type %s has no JSON Schema here; annotate it with int, float, str, bool, a list, "
        "dict[str, ...], a Literal, an Enum, a dataclass or a TypedDict, or give the tool "
        "parameters= explicitly" % (where, name))


def _abc_sequences():
    import collections.abc as abc
    return (abc.Sequence, abc.MutableSequence, abc.Iterable, abc.Collection, abc.Set,
            abc.MutableSet)


def _abc_mappings():
    import collections.abc as abc
    return (abc.Mapping, abc.MutableMapping)


def _hints(obj):
    try:
        return typing.get_type_hints(obj, include_extras=True)
    except Exception as e:  # NameError for an unresolvable forward reference, ...
        raise _Unsupported("cannot read the type hints of %s: %s" % (
            getattr(obj, "__qualname__", repr(obj)), e)) from None


def _dataclass_fields(tp):
    hints = _hints(tp)
    out = []
    for f in dataclasses.fields(tp):
        if not f.init:
            continue
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        default = f.default if f.default is not dataclasses.MISSING else inspect.Parameter.empty
        out.append((f.name, hints.get(f.name, Any), required, default))
    return out


def _typeddict_fields(tp):
    hints = _hints(tp)
    required_keys = getattr(tp, "__required_keys__", None)
    if required_keys is None:
        required_keys = set(hints) if getattr(tp, "__total__", True) else set()
    out = []
    for name, hint in hints.items():
        # NotRequired[X] / Required[X] (3.11+) wrap the type.
        origin = typing.get_origin(hint)
        if origin is not None and getattr(origin, "_name", "") in ("NotRequired", "Required"):
            hint = typing.get_args(hint)[0]
        out.append((name, hint, name in required_keys, inspect.Parameter.empty))
    return out


def _object_schema(tp, where, seen, fields, make):
    if tp in seen:
        raise _Unsupported("%s: %s refers to itself; recursive types have no schema here"
                           % (where, tp.__name__))
    seen = seen | {tp}
    props, required, convs = {}, [], {}
    for name, hint, is_required, default in fields:
        schema, conv = _schema_of(hint, "%s.%s" % (where, name), seen)
        schema = dict(schema)
        if default is not inspect.Parameter.empty and _is_json(default):
            schema["default"] = _plain(default)
        props[name] = schema
        if is_required:
            required.append(name)
        if conv is not None:
            convs[name] = conv
    schema = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        schema["required"] = required
    doc = inspect.getdoc(tp)
    if doc and not doc.startswith(tp.__name__ + "("):  # dataclasses' generated docstring
        schema["description"] = _summary(doc)

    def convert(value):
        kw = {k: (convs[k](v) if k in convs else v) for k, v in value.items()}
        return make(kw) if make else kw

    return schema, convert if (make or convs) else None


def _plain(v):
    if isinstance(v, enum.Enum):
        return v.value
    if isinstance(v, tuple):
        return list(v)
    return v


def _is_json(v):
    import json
    try:
        json.dumps(_plain(v), allow_nan=False)
        return True
    except (TypeError, ValueError):
        return False


# ---- docstrings ----

_SECTION_RE = re.compile(
    r"^\s*(Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments|Returns?|Yields?|"
    r"Raises|Examples?|Notes?|See Also|Attributes)\s*:?\s*$")


def _summary(doc):
    """The docstring's text before its first section (Args:, :param, ...)."""
    lines = []
    for line in doc.splitlines():
        if _SECTION_RE.match(line) or line.lstrip().startswith(":param") or \
                line.lstrip().startswith(":return") or line.lstrip().startswith(":raises"):
            break
        if set(line.strip()) == {"-"} and lines:  # NumPy: the underline of a section title
            lines.pop()
            break
        lines.append(line)
    return "\n".join(lines).strip()


def _param_docs(doc):
    """{parameter: description} from Google, Sphinx or NumPy style docstrings."""
    out = {}
    if not doc:
        return out
    for m in re.finditer(r":param\s+(?:[^:]*\s)?(\w+)\s*:\s*(.*?)(?=\n\s*:|\Z)", doc, re.S):
        out[m.group(1)] = " ".join(m.group(2).split())
    lines = doc.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^(\s*)(Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments)\s*:?\s*$", line)
        if not m:
            i += 1
            continue
        numpy = i + 1 < len(lines) and set(lines[i + 1].strip()) == {"-"}
        i += 2 if numpy else 1
        base = None
        current = None
        while i < len(lines):
            line = lines[i]
            if not line.strip():
                i += 1
                if numpy and current is None:
                    break
                continue
            indent = len(line) - len(line.lstrip())
            if base is None:
                base = indent
            if indent < base or (_SECTION_RE.match(line) and indent <= base):
                break
            if indent == base:
                if numpy:
                    mm = re.match(r"^\s*\**(\w+)\s*(?::.*)?$", line)
                    current = mm.group(1) if mm else None
                    if current:
                        out.setdefault(current, "")
                else:
                    mm = re.match(r"^\s*\**(\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$", line)
                    current = mm.group(1) if mm else None
                    if current:
                        out[current] = mm.group(3).strip()
            elif current:
                out[current] = (out.get(current, "") + " " + line.strip()).strip()
            i += 1
    return out


# ---- the callable ----

def _target(func):
    """The function whose signature and docstring describe func."""
    if isinstance(func, functools.partial):
        return func.func
    if inspect.isroutine(func) or inspect.isclass(func):
        return func
    call = getattr(type(func), "__call__", None)
    return call if call is not None else func


def _default_name(func):
    f = func.func if isinstance(func, functools.partial) else func
    name = getattr(f, "__name__", None)
    if name is None:
        name = type(f).__name__
    return name


def _is_async(func):
    if inspect.iscoroutinefunction(func):
        return True
    if isinstance(func, functools.partial):
        return _is_async(func.func)
    call = getattr(type(func), "__call__", None)
    return call is not None and not inspect.isroutine(func) and inspect.iscoroutinefunction(call)


def describe(func, name=None, description=None, parameters=None):
    """The Spec of func; TypeError or ValueError saying what to fix."""
    if not callable(func):
        raise TypeError("a tool must be callable (a function, a method or an object with "
                        "__call__), not %s" % type(func).__name__)
    tool_name = name if name is not None else _default_name(func)
    if not isinstance(tool_name, str):
        raise TypeError("a tool's name must be a str, not %s" % type(tool_name).__name__)
    if not _NAME_RE.match(tool_name):
        if name is None:
            raise ValueError(
                "%r is not a valid tool name (1-128 of A-Z a-z 0-9 _ . -): name it with "
                "cact.tool(name=...)" % tool_name)
        raise ValueError("%r is not a valid tool name (1-128 of A-Z a-z 0-9 _ . -)" % tool_name)
    if tool_name == "execute_code":
        raise ValueError("a tool may not be called execute_code (that is the tool the model calls)")
    target = _target(func)
    doc = inspect.getdoc(target) or ""
    if description is None:
        description = _summary(doc)
    elif not isinstance(description, str):
        raise TypeError("a tool's description must be a str, not %s" % type(description).__name__)
    is_async = _is_async(func)
    if parameters is not None:
        if not isinstance(parameters, dict):
            raise TypeError("parameters must be a JSON Schema object (a dict), not %s"
                            % type(parameters).__name__)
        return Spec(tool_name, description, parameters, None, is_async)
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError) as e:
        raise TypeError("tool %s: cannot read its signature (%s); give parameters= explicitly"
                        % (tool_name, e)) from None
    hints = _hints(target) if not isinstance(func, functools.partial) else _hints(func.func)
    docs = _param_docs(doc)
    props, required, convs = {}, [], {}
    extra = False
    for p in sig.parameters.values():
        where = "tool %s, parameter %s" % (tool_name, p.name)
        if p.kind is p.VAR_POSITIONAL:
            raise TypeError("%s: call_tool passes keyword arguments only, so *%s cannot "
                            "receive anything; remove it or give parameters= explicitly"
                            % ("tool " + tool_name, p.name))
        if p.kind is p.VAR_KEYWORD:
            extra = True
            continue
        if p.kind is p.POSITIONAL_ONLY and p.default is p.empty:
            raise TypeError("%s is positional-only; call_tool passes keyword arguments only"
                            % where)
        if p.kind is p.POSITIONAL_ONLY:
            continue  # has a default, and call_tool cannot set it
        hint = hints.get(p.name, p.annotation)
        try:
            schema, conv = _schema_of(hint, where, frozenset())
        except _Unsupported as e:
            raise TypeError(str(e)) from None
        schema = dict(schema)
        if p.name in docs and docs[p.name] and "description" not in schema:
            schema["description"] = docs[p.name]
        if p.default is p.empty:
            required.append(p.name)
        elif _is_json(p.default):
            schema["default"] = _plain(p.default)
        props[p.name] = schema
        if conv is not None:
            convs[p.name] = conv
    params = {"type": "object", "properties": props}
    if required:
        params["required"] = required
    if not extra:
        params["additionalProperties"] = False
    convert = None
    if convs:
        def convert(kwargs, _convs=convs):
            for k, c in _convs.items():
                if k in kwargs:
                    kwargs[k] = c(kwargs[k])
            return kwargs
    return Spec(tool_name, description, params, convert, is_async)
