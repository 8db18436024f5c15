"""HTTP clients that send one JSON body to one URL, for the latency benchmarks.

Two interchangeable clients post the same body over keep-alive connections and time each
answer:

* :class:`LeanClient` (the default) writes each prepared request in one ``write`` and
  parses the answer with httptools on a plain asyncio protocol — a load generator in the
  manner of wrk or vegeta, which cost this machine 0.15–0.18 ms of CPU per request
  against aiohttp's 0.27–0.36 at 1,000 req/s. On a two-core machine the generator shares
  the cores with the server it measures, so its own cost shows up in the server's tail
  (docs/benchmarks.md, "Run-time guard overhead").
* :class:`AiohttpClient`: the same measurements through aiohttp, for comparison.

Both give ``(seconds, ok)`` per request, ``ok`` meaning a 200 whose body holds
``finish_reason: stop``; a connection or parse failure, or no answer within
:data:`TIMEOUT_S`, raises :class:`OSError`. The lean client sends a request again only
when a kept-alive connection ended cleanly before a byte of the answer came (the server's
keep-alive timeout racing the request), once, and counts it in ``resent``.
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

__all__ = ["CLIENTS", "TIMEOUT_S", "AiohttpClient", "Client", "LeanClient", "answered", "client"]

CLIENTS = ("lean", "aiohttp")
TIMEOUT_S = 60.0
"""How long either client waits for a connection and an answer before the request fails."""


def answered(status: int, body: bytes) -> bool:
    """Whether an answer is a finished chat completion."""
    return status == 200 and b'"finish_reason":"stop"' in body.replace(b" ", b"")


class Client:
    """Posts the body (:meth:`post`); used as ``async with``, which opens and closes it."""

    resent = 0
    """Requests sent again after a kept-alive connection closed before answering."""

    async def post(self) -> tuple[float, bool]:
        raise NotImplementedError

    async def open(self) -> None:
        """Make ready to post (nothing by default)."""

    async def aclose(self) -> None:
        """Release the connections."""

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class _Stale(OSError):
    """A kept-alive connection the server closed cleanly before answering."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self) -> None:
        import httptools

        self._parser = httptools.HttpResponseParser(self)
        self._error = httptools.HttpParserError
        self._body: list[bytes] = []
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.transport: asyncio.Transport | None = None
        self.open = True
        self.used = False
        self._received = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._received = True
        try:
            self._parser.feed_data(data)
        except self._error as exc:
            self._fail(OSError(f"malformed answer: {exc}"))
            self.close()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self.open = self.open and bool(self._parser.should_keep_alive())
        body, self._body = b"".join(self._body), []
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((int(self._parser.get_status_code()), body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        if exc is None and not self._received and self.used:
            self._fail(_Stale("kept-alive connection closed before the answer"))
        else:  # a reset, a first request, or an answer cut off: the server's failure
            self._fail(OSError(f"connection lost before the whole answer: {exc}"))

    def _fail(self, exc: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)

    def send(self, data: bytes) -> asyncio.Future[tuple[int, bytes]]:
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        self._received = False
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(TIMEOUT_S, self._give_up)
        waiter.add_done_callback(lambda _: timer.cancel())
        self.transport.write(data)
        return waiter

    def _give_up(self) -> None:
        self._fail(OSError(f"no answer within {TIMEOUT_S:g} s"))
        self.close()

    def close(self) -> None:
        self.open = False
        if self.transport is not None:
            self.transport.close()


class LeanClient(Client):
    """POSTs ``payload`` to ``url`` + ``/chat/completions`` on at most ``limit`` connections."""

    def __init__(self, url: str, payload: bytes, limit: int) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http":
            raise ValueError(f"the lean client speaks plain http://, not {url!r}")
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        path = parts.path.rstrip("/") + "/chat/completions"
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        self._request = head.encode("latin-1") + payload
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(limit)
        self.connections = 0

    async def post(self) -> tuple[float, bool]:
        start = time.perf_counter()  # waiting for a connection counts, as in aiohttp
        async with self._slots:
            conn = None
            while self._idle and conn is None:  # the server may have closed an idle one
                conn = self._idle.pop()
                conn = conn if conn.open else None
            if conn is not None:
                try:
                    return await self._exchange(conn, start)
                except _Stale:
                    self.resent += 1
            return await self._exchange(await self._connect(), start)

    async def _exchange(self, conn: _Connection, start: float) -> tuple[float, bool]:
        try:
            status, body = await conn.send(self._request)
        except BaseException:
            conn.close()
            raise
        conn.used = True
        elapsed = time.perf_counter() - start
        if conn.open:
            self._idle.append(conn)
        else:
            conn.close()
        return elapsed, answered(status, body)

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(_Connection, self._host, self._port), TIMEOUT_S
            )
        except TimeoutError as exc:
            raise OSError(f"no connection within {TIMEOUT_S:g} s") from exc
        self.connections += 1
        return conn

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class AiohttpClient(Client):
    """The same requests through an ``aiohttp.ClientSession``."""

    def __init__(self, url: str, payload: bytes, limit: int) -> None:
        self._url = url + "/chat/completions"
        self._payload = payload
        self._limit = limit
        self._session: Any = None  # resent stays 0: aiohttp does not say

    async def post(self) -> tuple[float, bool]:
        import aiohttp

        start = time.perf_counter()
        try:
            async with self._session.post(
                self._url, data=self._payload, headers={"Content-Type": "application/json"}
            ) as resp:
                raw = await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise OSError(str(exc) or type(exc).__name__) from exc
        return time.perf_counter() - start, answered(resp.status, raw)

    async def open(self) -> None:
        import aiohttp

        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._limit),
            timeout=aiohttp.ClientTimeout(total=TIMEOUT_S),
        )

    async def aclose(self) -> None:
        await self._session.close()


def client(kind: str, url: str, payload: bytes, limit: int) -> Client:
    """A ``lean`` or ``aiohttp`` client (see the module docstring)."""
    if kind == "lean":
        return LeanClient(url, payload, limit)
    if kind == "aiohttp":
        return AiohttpClient(url, payload, limit)
    raise ValueError(f"unknown client {kind!r} (one of {', '.join(CLIENTS)})")
