"""Test helpers for the audit tests: a threaded stub server that answers like the example app."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from alignkit.models.stub import StubServer

REPO = Path(__file__).resolve().parents[2]


def load_quiz_app() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "quiz_app_for_audit", REPO / "examples" / "quiz_app.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ThreadedStub:
    """A real stub server on 127.0.0.1 in a background thread, logging what it answered."""

    def __init__(self, latency: float, **options: Any) -> None:
        self.app = load_quiz_app()
        self.log: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self.server = StubServer(latency, responder=self._respond, **options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def _respond(self, messages: list[dict[str, Any]]) -> str:
        with self._lock:
            self.log.append((time.time(), str(messages[-1]["content"])))
        return str(self.app.respond(messages))

    def __enter__(self) -> ThreadedStub:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def uri(self) -> str:
        return f"openai:{self.server.url}#stub"

    def prompts(self) -> list[str]:
        with self._lock:
            return [p for _, p in self.log]

    def clear(self) -> None:
        with self._lock:
            self.log.clear()


_APP = load_quiz_app()


def forgetful(messages: list[dict[str, Any]]) -> str:
    """The example app after a bad update: it has forgotten every other fact it knew."""
    question = str(messages[-1]["content"])
    if sum(map(ord, question)) % 2 == 0 and not any(ch.isdigit() for ch in question):
        return "I'm not sure."
    return str(_APP.respond(messages))


def seed_echo(messages: list[dict[str, Any]], seed: int | None = None) -> str:
    """Answers with the sampling seed it was sent (what a sampling model's text depends on)."""
    return f"seed {seed}"


def flaky(messages: list[dict[str, Any]]) -> str:
    """The example app behind a provider outage: capital questions fail while it lasts.

    The outage lasts while the file named by ``$ALIGNKIT_TEST_OUTAGE`` exists.
    """
    question = str(messages[-1]["content"])
    outage = os.environ.get("ALIGNKIT_TEST_OUTAGE", "")
    if outage and os.path.exists(outage) and "capital" in question.lower():
        raise ConnectionError("upstream unavailable")
    return str(_APP.respond(messages))
