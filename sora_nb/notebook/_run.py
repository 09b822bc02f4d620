"""Running a job's coroutine from a cell that must block until it ends.

A cell runs inside ipykernel's event loop, so ``asyncio.run`` and a plain
``run_until_complete`` raise (docs/notebook.md, "Running async code from a
cell"). ``nest_asyncio2`` makes the loop re-entrant and, unlike
``nest_asyncio``, defers shell messages that arrive meanwhile (Run All's next
``execute_request``, ``kernel_info``, widget ``comm_msg``) until the nested run
ends instead of wedging the kernel. Outside a kernel (a plain
``InteractiveShell``, a script) there is no running loop: one private loop is
kept for the process so the client's connection pool survives from one cell to
the next.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import nest_asyncio2

__all__ = ["background_loop", "run_blocking", "running_loop", "start_background"]

T = TypeVar("T")

_private_loop: asyncio.AbstractEventLoop | None = None
_thread_loop: asyncio.AbstractEventLoop | None = None
_background: set[asyncio.Task[Any]] = set()


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The loop running in this thread (the kernel's), or None."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _loop_for_blocking() -> asyncio.AbstractEventLoop:
    global _private_loop
    loop = running_loop()
    if loop is not None:
        nest_asyncio2.apply(loop)  # idempotent: patches the loop's class once
        return loop
    if _private_loop is None or _private_loop.is_closed():
        _private_loop = asyncio.new_event_loop()
        atexit.register(_close, _private_loop)
    return _private_loop


def _close(loop: asyncio.AbstractEventLoop) -> None:
    # Async generators dropped mid-stream are finalized by tasks on this loop:
    # run them.
    if not loop.is_closed():
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to its end and return its result, even from inside a running
    loop.

    A ``KeyboardInterrupt`` (the kernel's interrupt) cancels the task at once
    and waits for the cancellation to unwind, so the job closes its connection
    and records its turn as interrupted before the interrupt propagates.
    """
    loop = _loop_for_blocking()
    task = loop.create_task(coro)
    try:
        return loop.run_until_complete(task)
    except KeyboardInterrupt:
        _cancel_and_wait(loop, task)
        raise


def _cancel_and_wait(loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> None:
    task.cancel()
    # The task may already hold the KeyboardInterrupt (raised inside one of its
    # steps): either way only its clean-up matters now, not its outcome.
    with contextlib.suppress(BaseException):
        loop.run_until_complete(task)


def start_background(
    coro: Coroutine[Any, Any, T], on_done: Callable[[asyncio.Task[T]], None]
) -> asyncio.Task[T]:
    """Schedule ``coro`` on the running loop (the caller checked there is
    one).
    """
    task = asyncio.get_running_loop().create_task(coro)
    _background.add(task)  # the loop keeps only a weak reference to its tasks
    task.add_done_callback(_background.discard)
    task.add_done_callback(on_done)
    return task


def background_loop() -> asyncio.AbstractEventLoop:
    """A loop running in a thread of its own, for front ends with no kernel loop
    (marimo).

    marimo calls a widget's message handlers with no running loop and does not
    keep tasks alive after a cell; the views' jobs run here instead, and their
    widget updates are sent through the comm the front end opened.
    """
    global _thread_loop
    if _thread_loop is None or _thread_loop.is_closed():
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="sora_nb-views", daemon=True)
        thread.start()
        _thread_loop = loop
    return _thread_loop
