# SPDX-License-Identifier: MIT
"""cact: run model-written Python in a kernel-enforced sandbox.

A CodeAct runtime for agents: a language model answers by writing Python;
cact runs it in a sandbox (namespaces, seccomp, landlock, rlimits, hard
timeouts and memory caps) forked from a warm interpreter, where the code
can call your Python functions as tools, read mounted files, write
artifacts to ``/output`` and reach only allow-listed network targets.

    import cact

    with cact.Runtime() as rt:
        r = rt.execute("print(sum(range(10)))")
        print(r.stdout)                    # 45

    def forecast(city: str) -> dict:
        '''Tomorrow's weather for a city.'''
        return {"city": city, "high_c": 21}

    ca = cact.CodeAct(tools=[forecast])
    ca.execute("print(call_tool('forecast', city='Paris'))")

The extension module ``cact._cact`` is libcact's C API for Python; this
package adds the conveniences. docs/python.md has the whole story.
"""

import atexit as _atexit
import json as _json
import os as _os

from . import _cact
from ._aio import run_awaitable as _run_awaitable
from ._cact import (CactError, Result, Session, SessionEndedError, UnsupportedError,
                    execute_code_schema, libcact_version, limits, probe_features)
from ._codeact import CodeAct
from ._runtime import Runtime, close_default as _close_default, default_runtime
from ._tool import Tool, as_tool as _as_tool, dumps as _dumps, tool
from ._types import AllowedDomain, ErrorInfo, File, FileMount, ToolCall

__version__ = "0.1.0"

__all__ = [
    "Runtime", "Session", "Result", "File", "ErrorInfo", "CodeAct", "Tool", "tool",
    "ToolCall", "FileMount", "AllowedDomain", "CactError", "UnsupportedError",
    "SessionEndedError", "default_runtime", "limits", "libcact_version",
    "execute_code_schema", "probe_features", "GUEST",
]

#: The cact-guest helper installed with this package. A Runtime uses it
#: unless given ``guest=`` or the environment sets ``CACT_GUEST``.
GUEST = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "cact-guest")

_cact._init(
    json_loads=_json.loads,
    json_dumps=_dumps,
    run_awaitable=_run_awaitable,
    as_tool=_as_tool,
    default_runtime=default_runtime,
    File=File,
    ErrorInfo=ErrorInfo,
    ToolCall=ToolCall,
    FileMount=FileMount,
    AllowedDomain=AllowedDomain,
    guest_default=GUEST,
)


@_atexit.register
def _exiting():
    # From here on a tool call from a sandbox still running (on a daemon
    # thread) fails at once instead of entering a finalizing interpreter.
    _cact._shutdown()
    _close_default()
