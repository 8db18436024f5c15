"""``core.run_sync``: the synchronous APIs under a running event loop (a notebook)."""

from __future__ import annotations

import _thread
import asyncio
import contextvars
import signal
import threading
import time

import pytest

from alignkit.core import run_sync

WHO: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="unset")


async def _who() -> str:
    await asyncio.sleep(0)
    return WHO.get()


def test_without_a_loop_it_is_asyncio_run() -> None:
    assert run_sync(_who()) == "unset"


def test_under_a_running_loop_it_keeps_the_callers_context_and_errors() -> None:
    async def cell() -> str:
        WHO.set("acme")
        return run_sync(_who())  # asyncio.run refuses here

    assert asyncio.run(cell()) == "acme"  # the context was lost in the worker thread

    async def failing() -> None:
        raise ValueError("boom")

    async def cell2() -> None:
        run_sync(failing())

    with pytest.raises(ValueError, match="boom"):
        asyncio.run(cell2())


def test_an_interrupt_cancels_the_work_instead_of_waiting_for_it() -> None:
    """Ctrl-C in a notebook came back only when the whole run had finished."""
    cancelled = threading.Event()

    async def long_run() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def cell() -> None:
        threading.Timer(0.3, _thread.interrupt_main).start()  # Ctrl-C while it waits
        run_sync(long_run())

    # a loop without asyncio.run's own SIGINT handler, as a notebook kernel runs one; Ctrl-C
    # raises KeyboardInterrupt there. interrupt_main does nothing while SIGINT is ignored,
    # as it is for a test run started in the background (`make test &`): it failed there.
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    loop = asyncio.new_event_loop()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            loop.run_until_complete(cell())
    finally:
        loop.close()
        signal.signal(signal.SIGINT, before)
    assert time.monotonic() - started < 10 and cancelled.is_set()
