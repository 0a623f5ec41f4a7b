# SPDX-License-Identifier: MIT
"""cact.Runtime: the C runtime plus what needs an event loop, and the
package's default runtime."""

import asyncio
import os
import threading

from . import _aio, _cact

__all__ = ["Runtime", "default_runtime"]


class Runtime(_cact.Runtime):
    """A sandbox runtime: one warm CPython (the zygote) that forks a fresh,
    isolated sandbox for each execution.

    Start one and run many executions through it, from any number of
    threads; each ``execute`` releases the GIL while its code runs. Use it
    as a context manager, or ``close()`` it.

    Options (keywords):

    - ``isolation``: "full" (default), or "reduced" to run without landlock
      or a cgroup namespace when the kernel lacks them.
    - ``guest``: path of the cact-guest helper; default ``$CACT_GUEST``,
      else the one installed with this package.
    - ``python_path``: a list of host folders added to the sandbox's import
      path and bound read-only at the same path, e.g.
      ``["/usr/lib/python3/dist-packages"]`` for Debian's numpy and pandas.
    - ``preload``: a list of module names imported once in the warm
      interpreter, so that no execution pays for them (e.g.
      ``["numpy", "pandas"]``; at most 64).
    - ``pool_size``, ``pool_max``: prepared sandboxes kept waiting.
    - ``max_running``: executions at once; ``queue_max``, ``queue_timeout``
      (seconds): callers that may wait for a sandbox, and for how long.
    - ``max_sessions``: sessions the runtime holds at once.
    - ``one_shot``: start cheaply for a single execution (no pool, no
      preload).

    Bad options raise TypeError or ValueError naming the option; a runtime
    that cannot start raises CactError (UnsupportedError when the kernel
    lacks a feature).
    """

    async def execute_async(self, code, *, timeout=None, memory_mib=None, files=None,
                            allowed_domains=None, tools=None, approve=None, on_output=None):
        """``execute`` for asyncio: the execution runs on a worker thread and
        never blocks the event loop; async tools and an async ``approve``
        run on this loop. Cancelling the awaiting task kills the sandbox
        (the execution's status becomes "cancelled") and raises
        CancelledError. ``on_output(stream, text)`` is called on the worker
        thread, not on the loop, as the code writes (use
        ``loop.call_soon_threadsafe`` to reach the loop)."""
        loop = asyncio.get_running_loop()
        r, w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        try:
            cf = _aio.executor().submit(
                self._execute, code, loop, r, w, timeout=timeout, memory_mib=memory_mib,
                files=files, allowed_domains=allowed_domains, tools=tools, approve=approve,
                on_output=on_output)
        except BaseException:
            os.close(r)
            os.close(w)
            raise

        def close(_):
            os.close(r)
            os.close(w)

        try:
            return await asyncio.wrap_future(cf, loop=loop)
        except asyncio.CancelledError:
            # The pipe turns readable: libcact kills the sandbox.
            os.write(w, b"x")
            raise
        finally:
            # The fds stay open until the worker is done with them.
            cf.add_done_callback(close)


_default = None
_default_lock = threading.Lock()


def default_runtime():
    """The runtime a CodeAct created without one executes on: started on
    first use (``Runtime()`` with the defaults), closed when the
    interpreter exits."""
    global _default
    with _default_lock:
        if _default is None or _default.closed:
            _default = Runtime()
        return _default


def close_default():
    global _default
    with _default_lock:
        rt, _default = _default, None
    if rt is not None:
        rt.close()
