"""Running the library's async work from synchronous code."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run_sync"]

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion and return its result, with or without a running loop.

    With no event loop running this is :func:`asyncio.run`. Inside one (a Jupyter
    notebook, an async application), where ``asyncio.run`` is refused, the coroutine runs
    on a fresh loop in a worker thread, in a copy of the caller's context, while the
    caller waits; the caller's loop is blocked meanwhile, so an async server should call
    the synchronous API through :func:`asyncio.to_thread` instead. An interrupt of the
    wait (Ctrl-C in a notebook) cancels the coroutine, as it would under ``asyncio.run``
    (the outermost one only, when such calls nest).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        running = False
    else:
        running = True
    if not running:  # outside the except block: the caller's errors carry no context
        return asyncio.run(coro)
    started, done = threading.Event(), threading.Event()
    box: dict[str, Any] = {}

    async def main() -> T:
        box["loop"], box["task"] = asyncio.get_running_loop(), asyncio.current_task()
        started.set()
        return await coro

    def work() -> None:
        try:
            box["result"] = asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            box["error"] = exc
        finally:
            started.set()  # also when main() never ran
            done.set()

    # waited on through an Event: a Thread.join interrupted by Ctrl-C can mark a thread
    # that is still running as stopped (CPython 3.11)
    thread = threading.Thread(target=contextvars.copy_context().run, args=(work,), daemon=True)
    thread.start()
    try:
        while not done.wait(0.1):
            pass
    except BaseException:
        started.wait()
        if "task" in box:
            try:
                box["loop"].call_soon_threadsafe(box["task"].cancel)
            except RuntimeError:  # its loop has closed: the coroutine is done
                pass
        done.wait()  # the coroutine's own clean-up (a run marked interrupted) finishes
        raise
    if "error" in box:
        raise box["error"]
    result: T = box["result"]
    return result
