# SPDX-License-Identifier: MIT
"""cact.CodeAct: the execute_code tool, configured from Python."""

import json
import os

from . import _aio, _cact

__all__ = ["CodeAct"]


def _is_path(v):
    return isinstance(v, (str, bytes, os.PathLike))


def _one_or_many(value, is_single, what="an item"):
    """[value] when it is a single item, else its items."""
    if is_single(value):
        return [value]
    if isinstance(value, dict) or not hasattr(value, "__iter__"):
        raise TypeError("expected %s or a list of them, not %s" % (what, type(value).__name__))
    return list(value)


_TOOL = "a tool (a callable or a cact.Tool)"
_MOUNT = "a file mount (a path or a (host path, mount path) pair)"
_DOMAIN = "an allowed domain (a target or a (target, methods) pair)"


def _mount_single(v):
    return _is_path(v) or (isinstance(v, tuple) and len(v) == 2 and all(map(_is_path, v)))


def _domain_single(v):
    return isinstance(v, str) or (isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str))


class CodeAct(_cact.CodeAct):
    """The ``execute_code`` tool: a configuration (sandbox tools, file mounts,
    network targets, limits, approval) and what a model or an agent host
    needs around it: the description the model reads, instructions for the
    system prompt, the derived approval mode, a serializable state, and
    execution.

    ``runtime``: the Runtime to execute on (default: the package's own,
    started on first use). ``tools``: callables or Tool objects.
    ``file_mounts``: paths (visible at ``/input/<path>``) or (host path,
    mount path) pairs. ``allowed_domains``: targets or (target, method or
    methods) pairs. ``approval_mode``: the default mode, "never_require" or
    "always_require". ``workspace_root``: a host folder visible at
    ``/input``. ``approve``: per-call approval, ``approve(call) -> bool``
    (sync or async), asked before each call of an "always_require" tool.
    ``timeout`` (seconds) and ``memory_mib`` set those limits, ``limits``
    any limit by its name in ``cact.limits()``; ``config`` applies a cact
    JSON configuration file first (as ``cact exec --config``).

    Thread-safe: an execution works on a snapshot of the configuration
    taken when it starts.
    """

    def __init__(self, runtime=None, *, tools=(), file_mounts=(), allowed_domains=(),
                 approval_mode="never_require", workspace_root=None, approve=None,
                 timeout=None, memory_mib=None, limits=None, config=None):
        super().__init__(runtime)
        if config is not None:
            self.load_config(config)
        self.approval_mode = approval_mode
        if workspace_root is not None:
            self.workspace_root = workspace_root
        for t in _one_or_many(tools, callable, _TOOL):
            self.add_tool(t)
        for m in _one_or_many(file_mounts, _is_path, _MOUNT):
            self.add_file_mount(m)
        for d in _one_or_many(allowed_domains, lambda v: isinstance(v, str), _DOMAIN):
            self.add_allowed_domain(d)
        self.set_limits(timeout=timeout, memory_mib=memory_mib, **(limits or {}))
        if approve is not None:
            self.approve = approve

    # ---- configuration, several at a time ----

    def add_tools(self, *tools):
        """Registers tools: callables, Tool objects, or lists of them. The
        same name replaces the earlier tool (and moves it to the end); a
        tool named execute_code is refused."""
        for arg in tools:
            for t in _one_or_many(arg, callable, _TOOL):
                self.add_tool(t)

    def add_file_mounts(self, *mounts):
        """Mounts host files or folders read-only under ``/input``: each a
        path (host path = mount path), a (host path, mount path) tuple, or a
        list of those. Host paths must exist; mount paths are normalized
        ("data" and "/input/data" are the same); ".." is refused."""
        for arg in mounts:
            for m in _one_or_many(arg, _mount_single, _MOUNT):
                self.add_file_mount(m)

    def add_allowed_domains(self, *domains):
        """Allows network targets: each a target ("api.example.com", a URL,
        "*.example.com", "host:8443"), a (target, method or methods) tuple,
        or a list of those. No methods: all but CONNECT and TRACE."""
        for arg in domains:
            for d in _one_or_many(arg, _domain_single, _DOMAIN):
                self.add_allowed_domain(d)

    def set_limits(self, *, timeout=None, memory_mib=None, **limits):
        """Sets limits: ``timeout`` in seconds, ``memory_mib``, and any limit
        by its name in ``cact.limits()`` (``stdout_bytes=...``)."""
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
                raise TypeError("timeout must be a number of seconds, not %s"
                                % type(timeout).__name__)
            if not timeout > 0:
                raise ValueError("timeout must be a positive number of seconds, not %r" % timeout)
            ms = timeout * 1000
            self.set_limit("timeout_ms", int(ms) + (0 if ms == int(ms) else 1))
        if memory_mib is not None:
            if isinstance(memory_mib, bool) or not isinstance(memory_mib, int):
                raise TypeError("memory_mib must be an int (MiB), not %s"
                                % type(memory_mib).__name__)
            if memory_mib <= 0:
                raise ValueError("memory_mib must be positive, not %r" % memory_mib)
            self.set_limit("memory_bytes", memory_mib << 20)
        for name, value in limits.items():
            self.set_limit(name, value)

    # ---- execution ----

    async def execute_async(self, code, *, on_output=None):
        """``execute`` for asyncio: runs on a worker thread, never blocking
        the event loop; async tools and an async ``approve`` run on this
        loop. Cancelling the awaiting task does not stop the sandbox: the
        execution runs on to its end or its timeout. ``on_output(stream,
        text)`` is called on the worker thread, not on the loop."""
        import asyncio
        import functools
        loop = asyncio.get_running_loop()
        return await _aio.in_thread(
            functools.partial(self._execute, code, loop, on_output=on_output))

    async def handle_tool_call_async(self, arguments_json):
        """``handle_tool_call`` for asyncio (a worker thread; async callbacks on this loop)."""
        import asyncio
        loop = asyncio.get_running_loop()
        return await _aio.in_thread(self._handle_tool_call, arguments_json, loop)

    def openai_tool(self):
        """The execute_code function tool for OpenAI-compatible chat APIs::

            {"type": "function", "function": {"name": "execute_code",
             "description": <self.description>, "parameters": <input schema>}}

        Built on every call, so it shows the configuration as it is now.
        """
        return {
            "type": "function",
            "function": {
                "name": "execute_code",
                "description": self.description,
                "parameters": json.loads(_cact.execute_code_schema()),
            },
        }

    @classmethod
    def from_state(cls, state, *, runtime=None, tools=(), approve=None):
        """Rebuilds a configuration from ``state()`` (a dict or its JSON
        text) and the tools it names (``tools`` must hold each of them;
        extra ones are ignored). ValueError names a malformed state or a
        missing tool."""
        obj = cls._from_state(state, runtime, list(_one_or_many(tools, callable, _TOOL)))
        if approve is not None:
            obj.approve = approve
        return obj

    def __repr__(self):
        return "<cact.CodeAct tools=%s mounts=%d domains=%d approval=%s>" % (
            [t.name for t in self.get_tools()], len(self.get_file_mounts()),
            len(self.get_allowed_domains()),
            "required" if self.approval_required else "not required")
