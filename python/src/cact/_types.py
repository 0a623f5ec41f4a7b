# SPDX-License-Identifier: MIT
"""Small value types of the cact package: what results, approvals and
configurations hand back. Plain named tuples: compare, unpack and print
as tuples do."""

from typing import Any, Dict, NamedTuple, Optional, Tuple

__all__ = ["File", "ErrorInfo", "ToolCall", "FileMount", "AllowedDomain"]


class File(NamedTuple):
    """A file the code left in ``/output``.

    ``path`` is ``/output/...``; ``media_type`` is guessed from the extension
    (``application/octet-stream`` otherwise); ``data`` holds the bytes.
    """

    path: str
    media_type: str
    data: bytes

    @property
    def size(self) -> int:
        """Length of ``data`` in bytes."""
        return len(self.data)

    def __repr__(self) -> str:
        return "File(path=%r, media_type=%r, size=%d)" % (self.path, self.media_type, len(self.data))


class ErrorInfo(NamedTuple):
    """Why an execution failed (``Result.error``).

    For a Python error: the exception's ``type`` ("ZeroDivisionError"), its
    ``message`` and the ``traceback`` text of the sandboxed code. For other
    outcomes (timeout, memory limit, sandbox violation, ...): ``type`` is the
    status name, ``message`` says what happened, ``traceback`` is None.
    """

    type: str
    message: str
    traceback: Optional[str]


class ToolCall(NamedTuple):
    """A call an ``approve`` callback is asked about: the tool's ``name``
    and the ``arguments`` the code passed (already checked against the
    tool's schema)."""

    name: str
    arguments: Dict[str, Any]


class FileMount(NamedTuple):
    """A file mount of a CodeAct configuration: the resolved ``host_path``
    and the normalized ``mount_path`` (``/input/...``)."""

    host_path: str
    mount_path: str


class AllowedDomain(NamedTuple):
    """A network target of a CodeAct configuration: the normalized
    ``target`` and its ``methods`` (upper-case, sorted), or None for every
    method but CONNECT and TRACE."""

    target: str
    methods: Optional[Tuple[str, ...]]
