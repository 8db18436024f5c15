"""A lean pooled HTTP/1.1 client for the ``openai:`` upstream of ``alignkit serve``.

Under load, aiohttp's client cost the guard server about as much CPU per request as all
its rails together. The chat route needs far less of HTTP: POST one JSON body over a
pooled keep-alive connection, in one write, and read one answer, parsed by httptools (the
C parser uvicorn uses; it comes with the ``serve`` extra). :class:`PooledOpenAIChatModel`
replaces only that exchange of :class:`~alignkit.models.OpenAIChatModel`: retries with
backoff, spend caps, the total timeout, and how answers, HTTP errors, timeouts and
connection failures become completions stay the adapter's. :func:`pooled` swaps it in
for a plain ``http://`` upstream and leaves any other model (``https://``, an install
without httptools) as it is.
"""

from __future__ import annotations

import asyncio
import base64
import time
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import unquote, urlsplit

from alignkit.core import ChatModel, Completion, one_line
from alignkit.models import OpenAIChatModel
from alignkit.models._openai import _Retryable, completion_from_http

__all__ = ["PooledOpenAIChatModel", "pooled"]


@dataclass(frozen=True)
class _Answer:
    """One HTTP answer: status, headers (lower-case names), whole body."""

    status: int
    headers: dict[str, str]
    body: bytes


class _StaleConnection(ConnectionError):
    """A pooled connection the server had closed: nothing of an answer arrived."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection; answers are parsed by httptools as they arrive."""

    def __init__(self, loop: asyncio.AbstractEventLoop, reused_ok: bool = True) -> None:
        import httptools

        self._loop = loop
        self._parser = httptools.HttpResponseParser(self)
        self._parse_error: type[Exception] = httptools.HttpParserError
        self.transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[_Answer] | None = None
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._received = False
        self._headers_done = False
        self._until_eof = False
        self.reused = False
        self.reusable = False
        self.closed = False

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._received = True
        try:
            self._parser.feed_data(data)
        except self._parse_error as exc:
            self._fail(ConnectionError(f"malformed HTTP answer: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is None or self._waiter.done():
            return
        if self._headers_done and self._until_eof:  # the body ran to the end of the stream
            self.on_message_complete()
            return
        why = f": {exc}" if exc is not None else ""
        if not self._received and self.reused:
            self._fail(_StaleConnection(f"server closed the pooled connection{why}"))
        else:
            self._fail(ConnectionResetError(f"server closed the connection mid-answer{why}"))

    # -- httptools callbacks ----------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._headers_done = True
        chunked = "chunked" in self._headers.get("transfer-encoding", "").lower()
        self._until_eof = "content-length" not in self._headers and not chunked

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        self.reusable = not self.closed and bool(self._parser.should_keep_alive())
        status = int(self._parser.get_status_code())
        waiter.set_result(_Answer(status, self._headers, b"".join(self._body)))

    # -- use --------------------------------------------------------------------------------

    def send(self, data: bytes) -> asyncio.Future[_Answer]:
        """Write one whole request; the future resolves to its answer."""
        assert self.transport is not None
        self._headers, self._body = {}, []
        self._received = self._headers_done = self._until_eof = self.reusable = False
        self._waiter = self._loop.create_future()
        self.transport.write(data)
        return self._waiter

    def _fail(self, exc: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)

    def close(self) -> None:
        """Close the connection (an answer still awaited fails)."""
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class _Pool:
    """Keep-alive connections to one ``http://`` endpoint, at most ``limit`` at a time."""

    def __init__(self, url: str, headers: dict[str, str], limit: int) -> None:
        parts = urlsplit(url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = f"[{self._host}]" if ":" in self._host else self._host  # IPv6 literal
        host = host if parts.port is None else f"{host}:{parts.port}"
        lines = [f"POST {target} HTTP/1.1", f"Host: {host}", "Accept: application/json"]
        lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() != "content-length"]
        if (parts.username or parts.password) and "authorization" not in map(str.lower, headers):
            # user:password@ in the URL is Basic auth, as the adapter's client sends it
            pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
            try:  # latin-1, as aiohttp encodes Basic auth; beyond it, UTF-8
                raw = pair.encode("latin-1")
            except UnicodeEncodeError:
                raw = pair.encode()
            lines.append(f"Authorization: Basic {base64.b64encode(raw).decode()}")
        self._head = ("\r\n".join(lines) + "\r\nContent-Length: ").encode("latin-1")
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(limit)
        self._loop = asyncio.get_running_loop()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the connections belong to."""
        return self._loop

    async def post(self, body: bytes) -> _Answer:
        """POST ``body``; a pooled connection the server had closed is retried on another."""
        data = b"%b%d\r\n\r\n%b" % (self._head, len(body), body)
        async with self._slots:
            while self._idle:
                conn = self._idle.pop()
                if conn.closed:
                    continue
                conn.reused = True
                try:
                    return await self._exchange(conn, data)
                except _StaleConnection:
                    continue
            _, conn = await self._loop.create_connection(
                lambda: _Connection(self._loop), self._host, self._port
            )
            return await self._exchange(conn, data)

    async def _exchange(self, conn: _Connection, data: bytes) -> _Answer:
        try:
            answer = await conn.send(data)
        except BaseException:  # failed, timed out or cancelled: the connection is spent
            conn.close()
            raise
        if conn.reusable:
            self._idle.append(conn)
        else:
            conn.close()
        return answer

    def close(self) -> None:
        """Close the idle connections."""
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class PooledOpenAIChatModel(OpenAIChatModel):
    """:class:`~alignkit.models.OpenAIChatModel` with its chat requests on a lean pool.

    Same arguments and behaviour; only plain ``http://`` base URLs, and httptools must be
    installed (see :func:`pooled`). ``ping`` still uses the adapter's aiohttp session.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pool: _Pool | None = None

    def _pool_here(self) -> _Pool:
        loop = asyncio.get_running_loop()
        if self._pool is None or self._pool.loop is not loop:
            self._pool = _Pool(self._chat_url, self._headers, self._http.max_connections)
        return self._pool

    async def aclose(self) -> None:
        """Close the pooled connections (and the adapter's session, if ping opened one)."""
        pool, self._pool = self._pool, None
        if pool is not None and not pool.loop.is_closed():  # else its sockets went with it
            pool.close()
        await super().aclose()

    async def _attempt(self, payload: bytes, start: float) -> Completion:
        """One HTTP exchange; raises ``_Retryable`` exactly where the adapter's does."""
        try:
            async with asyncio.timeout(self._http.timeout_s):
                answer = await self._pool_here().post(payload)
        except TimeoutError:
            raise _Retryable(f"timeout after {self._http.timeout_s:g} s") from None
        except OSError as exc:  # refused, reset, closed early, unresolvable, malformed
            raise _Retryable(f"connection error: {one_line(exc)}") from None
        return completion_from_http(
            answer.status,
            answer.body,
            answer.headers.get("retry-after"),
            time.perf_counter() - start,
        )


def pooled(model: ChatModel) -> ChatModel:
    """``model`` as a :class:`PooledOpenAIChatModel` where it can be one, else ``model``."""
    if type(model) is not OpenAIChatModel:
        return model
    if urlsplit(model._chat_url).scheme != "http":
        return model
    try:
        import httptools  # noqa: F401
    except ImportError:
        return model
    auth = model._headers.get("Authorization", "")
    key = auth.removeprefix("Bearer ") if auth else ""
    return PooledOpenAIChatModel(
        model._base, model.model, http=model._http, api_key=key, spend=model._spend
    )
