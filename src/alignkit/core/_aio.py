"""Running the library's async work from synchronous code."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["run_sync"]

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion and return its result, with or without a running loop.

    With no event loop running this is :func:`asyncio.run`. Inside one (a Jupyter
    notebook, an async application), where ``asyncio.run`` is refused, the coroutine runs
    on a fresh loop in a worker thread while the caller waits; the caller's loop is
    blocked meanwhile, so an async server should call the synchronous API through
    :func:`asyncio.to_thread` instead.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1, thread_name_prefix="alignkit-sync") as pool:
        return pool.submit(asyncio.run, coro).result()
