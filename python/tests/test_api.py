# SPDX-License-Identifier: MIT
"""The package's public surface: the names the issue fixes, a docstring on
every public name, and type stubs that declare all of it."""

import ast
import inspect
import pathlib

import pytest

import cact

PKG = pathlib.Path(cact.__file__).parent

FIXED = {
    cact.Runtime: ["execute", "execute_async", "session", "close", "__enter__", "__exit__"],
    cact.Session: ["execute", "reset", "close"],
    cact.Result: ["status", "success", "exit_code", "stdout", "stderr", "error", "files",
                  "stats", "to_dict"],
    cact.CodeAct: ["add_tools", "get_tools", "remove_tool", "clear_tools",
                   "add_file_mounts", "get_file_mounts", "remove_file_mount",
                   "clear_file_mounts", "add_allowed_domains", "get_allowed_domains",
                   "remove_allowed_domain", "clear_allowed_domains", "description",
                   "instructions", "approval_required", "state", "from_state", "execute",
                   "execute_async", "openai_tool", "handle_tool_call"],
}


def public_classes():
    return [getattr(cact, n) for n in cact.__all__ if inspect.isclass(getattr(cact, n))]


def public_members(cls):
    """Names a user reaches on cls: its own and its C base's, not object's or tuple's."""
    if issubclass(cls, BaseException):
        base = set(dir(BaseException))
    elif issubclass(cls, tuple):
        base = set(dir(tuple))
    else:
        base = set(dir(object))
    names = {n for n in dir(cls) if not n.startswith("_") and n not in base}
    if "__enter__" in dir(cls):
        names |= {"__enter__", "__exit__"}
    if issubclass(cls, tuple):
        names -= {"count", "index"}
    return sorted(names)


def test_fixed_names_exist():
    for cls, names in FIXED.items():
        missing = [n for n in names if not hasattr(cls, n)]
        assert not missing, (cls, missing)
    assert cact.File._fields == ("path", "media_type", "data")
    assert cact.ErrorInfo._fields == ("type", "message", "traceback")
    params = inspect.signature(cact.CodeAct.__init__).parameters
    for name in ("runtime", "tools", "file_mounts", "allowed_domains", "approval_mode",
                 "workspace_root"):
        assert name in params
    assert params["approval_mode"].default == "never_require"
    assert callable(cact.tool)


def test_every_public_name_has_a_docstring():
    undocumented = []
    for name in cact.__all__:
        obj = getattr(cact, name)
        if isinstance(obj, str):
            continue
        if not (inspect.getdoc(obj) or "").strip():
            undocumented.append(name)
        if inspect.isclass(obj):
            for m in public_members(obj):
                if not (inspect.getdoc(getattr(obj, m)) or "").strip():
                    undocumented.append("%s.%s" % (name, m))
    assert not undocumented, "no docstring: " + ", ".join(undocumented)
    assert cact.__doc__


def stub_tree(name):
    path = PKG / name
    text = path.read_text()
    assert text.strip(), "%s is empty" % path
    return ast.parse(text)


def test_stubs_declare_the_public_api():
    tree = stub_tree("__init__.pyi")
    top = {}
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            top[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            top[node.target.id] = node
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    top[t.id] = node
    missing = [n for n in cact.__all__ if n not in top]
    assert not missing, "not in __init__.pyi: %s" % missing
    for cls in public_classes():
        node = top[cls.__name__]
        declared = set()
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                declared.add(item.name)
            elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                declared.add(item.target.id)
        undeclared = [m for m in public_members(cls) if m not in declared]
        assert not undeclared, "%s in __init__.pyi lacks %s" % (cls.__name__, undeclared)


def test_stubs_match_the_signatures():
    """Every keyword a Python-level signature takes is in the stub, and no more."""
    tree = stub_tree("__init__.pyi")
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    checked = 0
    for cls in public_classes():
        for item in classes[cls.__name__].body:
            if not isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            fn = inspect.getattr_static(cls, item.name)
            fn = getattr(fn, "__func__", fn)
            try:
                sig = inspect.signature(fn)
            except (TypeError, ValueError):
                continue  # a C method without a text signature
            a = item.args
            stub = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]
            real = [p.name for p in sig.parameters.values()
                    if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
                    and not p.name.startswith("_")]
            if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
                # **options (a C __init__, set_limits): the named ones at least.
                assert set(real) <= set(stub), (cls.__name__, item.name, stub, real)
            else:
                assert stub == real, (cls.__name__, item.name, stub, real)
            checked += 1
    assert checked >= 10


def test_extension_stub_parses():
    tree = stub_tree("_cact.pyi")
    names = {n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    from cact import _cact
    public = {n for n in dir(_cact) if not n.startswith("__") and inspect.isroutine(getattr(_cact, n))}
    assert public <= names, public - names
    assert {"Tool", "Runtime", "CodeAct"} <= names
    assert (PKG / "py.typed").exists()
