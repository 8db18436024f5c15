"""Helpers shared by the guard tests."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Mapping
from typing import Any

from alignkit.models.stub import StubServer


class ListLog:
    """An audit sink that keeps entries in a list (the store's log is tested separately)."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def append(self, entry: Mapping[str, Any]) -> None:
        self.entries.append(dict(entry))


class ThreadedUpstream:
    """An upstream for the guard server, served from its own event loop in a thread.

    ``mode`` is ``stub`` (the real StubServer, with its options), ``reset`` (accepts a
    connection and closes it without answering), ``garbage`` (answers 200 with a body
    that is not JSON), ``too-long`` (answers every request 400, as an OpenAI-compatible
    server does for a prompt past the model's context) or ``echo-credentials`` (answers
    ``status`` with an error quoting the Basic-auth user and password it was sent).
    """

    def __init__(self, mode: str = "stub", status: int = 400, **stub_options: Any) -> None:
        self.mode = mode
        self.status = status
        self.stub = StubServer(**{"latency": 0.0, **stub_options}) if mode == "stub" else None
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.url = ""
        self._server: asyncio.Server | None = None

    async def _start(self) -> str:
        if self.stub is not None:
            return await self.stub.start()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            head = await reader.readuntil(b"\r\n\r\n")
            auth = b""
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    await reader.readexactly(int(line.split(b":")[1]))
                if line.lower().startswith(b"authorization: basic "):
                    auth = base64.b64decode(line.split(b" ")[2])
            status, body = b"200 OK", b"<html>not json"
            if self.mode == "echo-credentials":
                user, _, password = auth.decode().partition(":")
                message = f"bad request for http://{user}:{password}@upstream (password {password})"
                status = f"{self.status} Error".encode()
                body = json.dumps({"error": {"message": message}}).encode()
            if self.mode == "too-long":
                status, body = (
                    b"400 Bad Request",
                    (
                        b'{"error": {"message": "maximum context length is 8 tokens", '
                        b'"type": "invalid_request_error", "code": "context_length_exceeded"}}'
                    ),
                )
            if self.mode in ("garbage", "too-long", "echo-credentials"):
                writer.write(
                    b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
                    b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                )
                await writer.drain()
            writer.close()

        self._server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    async def _stop(self) -> None:
        if self.stub is not None:
            await self.stub.stop()
        if self._server is not None:
            self._server.close()

    def __enter__(self) -> ThreadedUpstream:
        self.thread.start()
        self.url = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def failing_embedder(texts: list[str]) -> list[list[float]]:
    """An embedding model that is down (``traffic.embedder: guard_helpers:failing_embedder``)."""
    raise RuntimeError("embedding service unavailable")


def nan_embedder(texts: list[str]) -> list[list[float]]:
    """An embedding model that returns NaN for every text."""
    return [[float("nan"), 1.0] for _ in texts]
