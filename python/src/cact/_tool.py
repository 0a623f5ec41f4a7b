# SPDX-License-Identifier: MIT
"""Python callables as cact tools: cact.Tool, the @cact.tool decorator, and
the JSON encoding of what a tool returns."""

import dataclasses
import enum
import json
import weakref

from . import _cact
from ._schema import describe

__all__ = ["Tool", "tool", "as_tool", "dumps"]


class Tool(_cact.Tool):
    """A host function that sandboxed code calls with ``call_tool(name, **kwargs)``.

    ``func`` may be any callable, sync or async. Its name, description and
    parameter schema come from its ``__name__``, docstring (the text before
    an ``Args:`` section; parameter descriptions from that section) and
    type hints, unless given here. ``approval_mode="always_require"``
    makes every call wait for an ``approve`` callback (denied without one).

    A Tool stays callable: ``tool(...)`` calls ``func``.

    The arguments are checked against ``parameters`` by libcact before the
    function runs, then converted to the annotated types (enums,
    dataclasses, tuples, floats). The return value must be JSON: dicts,
    lists, str, int, float, bool, None (dataclasses and enums are encoded
    too). An exception reaches the code as ``RuntimeError`` carrying
    "Type: message", never the host's traceback.
    """

    def __init__(self, func, *, name=None, description=None, parameters=None,
                 approval_mode=None, _spec=None):
        spec = _spec or describe(func, name=name, description=description,
                                 parameters=parameters)
        super().__init__(func, spec.name, spec.description, spec.parameters,
                         approval_mode or "never_require", convert=spec.convert,
                         is_async=spec.is_async)
        # Decorated functions keep their identity for help() and introspection.
        for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
            try:
                object.__setattr__(self, attr, getattr(func, attr))
            except (AttributeError, TypeError):
                pass
        self.__wrapped__ = func

    def __get__(self, obj, objtype=None):
        # A decorated method: bound to its instance, it becomes a new Tool.
        if obj is None:
            return self
        return Tool(self.func.__get__(obj, objtype), name=self.name,
                    description=self.description, parameters=self.parameters,
                    approval_mode=self.approval_mode)


def tool(func=None, *, name=None, description=None, parameters=None, approval_mode=None):
    """Makes ``func`` a :class:`Tool`, with any of its fields set explicitly::

        @cact.tool
        def forecast(city: str, days: int = 1) -> dict:
            '''The weather forecast for a city.'''

        @cact.tool(name="send_email", approval_mode="always_require")
        async def send(to: str, body: str) -> str: ...
    """
    def make(f):
        return Tool(f, name=name, description=description, parameters=parameters,
                    approval_mode=approval_mode)

    return make if func is None else make(func)


# Plain callables passed as tools are described once (reading a signature
# and its type hints is not free) and the description reused while the
# callable lives. The cache holds descriptions, never Tools: a Tool holds
# its function, and a value that refers to its own key would keep a
# WeakKeyDictionary entry, and the callable, alive for ever.
_specs = weakref.WeakKeyDictionary()


def _spec(obj):
    try:
        spec = _specs.get(obj)
    except TypeError:  # not weakly referable, or not hashable
        return describe(obj)
    if spec is None:
        spec = describe(obj)
        try:
            _specs[obj] = spec
        except TypeError:
            pass
    return spec


def as_tool(obj):
    """The Tool for a callable (its description cached per callable), or TypeError."""
    if isinstance(obj, _cact.Tool):
        return obj
    if not callable(obj):
        raise TypeError("a tool is a callable or a cact.Tool, not %s" % type(obj).__name__)
    return Tool(obj, _spec=_spec(obj))


def _default(v):
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return dataclasses.asdict(v)
    if isinstance(v, enum.Enum):
        return v.value
    raise TypeError("Object of type %s is not JSON serializable; return dict, list, str, "
                    "int, float, bool or None" % type(v).__name__)


_encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"),
                            default=_default)


def dumps(value):
    """Compact, strict JSON text (NaN and infinities refused)."""
    try:
        return _encoder.encode(value)
    except ValueError as e:  # NaN, infinities, circular references
        raise ValueError("not valid JSON: %s" % e) from None

