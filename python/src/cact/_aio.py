# SPDX-License-Identifier: MIT
"""Where awaitables of tools and approval callbacks run, and the threads
that keep executions off an event loop.

An async tool's coroutine runs on the event loop of the caller that
awaits the execution (``execute_async``): a libcact thread hands it to
that loop and waits, so the tool may use the loop's clients and locks.
When the execution was started synchronously (``execute``), whose caller
blocks its own thread, it runs on cact's own event loop: one daemon thread
for the process, started on first use.
"""

import asyncio
import concurrent.futures
import os
import threading

__all__ = ["run_awaitable", "executor"]

_lock = threading.Lock()
_loop = None
_loop_pid = 0
_pool = None
_pool_pid = 0

# Executions awaited at once before further ones wait for a thread: the
# runtime's own default for executions running at once (max_running).
MAX_THREADS = 64


def _background_loop():
    """cact's own event loop, running on a daemon thread."""
    global _loop, _loop_pid
    with _lock:
        if _loop is None or _loop.is_closed() or _loop_pid != os.getpid():
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run():
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            threading.Thread(target=run, name="cact-async-tools", daemon=True).start()
            ready.wait()
            _loop, _loop_pid = loop, os.getpid()
        return _loop


async def _await(awaitable):
    return await awaitable


def run_awaitable(awaitable, loop):
    """Runs awaitable on loop (None, or a loop no longer running: cact's
    own) and waits for its value on the calling thread, a libcact thread."""
    if loop is None or loop.is_closed() or not loop.is_running():
        loop = _background_loop()
    coro = awaitable if asyncio.iscoroutine(awaitable) else _await(awaitable)
    return asyncio.run_coroutine_threadsafe(coro, loop).result()


def executor():
    """The thread pool that runs blocking executions for execute_async."""
    global _pool, _pool_pid
    with _lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=MAX_THREADS, thread_name_prefix="cact-exec")
            _pool_pid = os.getpid()
        return _pool


async def in_thread(fn, *args):
    """Awaits fn(*args) run on the executor, never blocking the loop."""
    loop = asyncio.get_running_loop()
    return await asyncio.wrap_future(executor().submit(fn, *args), loop=loop)
