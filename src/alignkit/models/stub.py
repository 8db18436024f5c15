"""A deterministic OpenAI-compatible stub server for tests and benchmarks.

It answers ``POST /v1/chat/completions`` and ``GET /v1/models`` after a fixed latency,
with a reply that is a pure function of the request (by default ``"echo: <last user
message>"``, cut to ``max_tokens`` whitespace-separated words). It can inject a seeded
share of 500 and 429 answers, block requests that contain a marker, and counts the
requests it served and the largest number it held at once.

In-process::

    async with StubServer(latency=0.05) as s:
        model = connect(f"openai:{s.url}#stub")
        ...
        assert s.peak_in_flight <= 8

As a separate process (prints one line, the base URL, then serves until SIGTERM)::

    python -m alignkit.models.stub --port 0 --latency 0.05

Besides the OpenAI routes, ``GET /stub/stats`` returns the counters as JSON and
``POST /stub/reset`` zeroes them, so a client in another process can read them.

The server is a small HTTP/1.1 implementation on :mod:`asyncio` protocols (keep-alive,
``Content-Length`` and chunked bodies, one request at a time per connection) rather
than ``aiohttp.web``: each answer is one timer callback instead of a task, which keeps
the stub's own cost per request low enough that benchmarks measure the client.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import http
import json
import logging
import random
import signal
import sys
import zlib
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Literal, cast

from alignkit.core import ConfigError
from alignkit.models._uri import http_url

__all__ = ["Responder", "StubServer", "echo_responder", "main"]

_log = logging.getLogger(__name__)

Responder = Callable[[list[dict[str, Any]]], str]
"""Maps the request's messages to the reply text."""

BlockMode = Literal["finish_reason", "error"]

_MAX_HEAD = 64 * 1024
_MAX_BODY = 16 * 1024 * 1024
_Answer = tuple[int, dict[str, Any], dict[str, str], float]
"""(status, JSON document, extra headers, delay in seconds)."""


def echo_responder(messages: list[dict[str, Any]]) -> str:
    """The default reply: ``"echo: "`` followed by the last user message."""
    for m in reversed(messages):
        if m.get("role") == "user":
            return f"echo: {m.get('content') or ''}"
    return "echo:"


def _n_words(text: str) -> int:
    return len(text.split())


def _token_logprobs(words: Sequence[str], top_n: int) -> list[dict[str, Any]]:
    """Deterministic per-token logprobs: each token's value comes from its CRC32."""
    out: list[dict[str, Any]] = []
    for w in words:
        lp = -((zlib.crc32(w.encode()) % 1000) / 1000.0) - 0.001
        top = [{"token": w, "logprob": lp, "bytes": list(w.encode())}]
        for j in range(1, top_n):
            alt = f"{w}~{j}"
            top.append({"token": alt, "logprob": lp - 1.0 - j, "bytes": list(alt.encode())})
        out.append({"token": w, "logprob": lp, "bytes": list(w.encode()), "top_logprobs": top})
    return out


class _BadRequest(Exception):
    """The bytes received are not an HTTP/1.x request we can answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Request:
    """One parsed request."""

    __slots__ = ("body", "headers", "keep_alive", "method", "path")

    def __init__(
        self, method: str, path: str, headers: dict[str, str], body: bytes, keep_alive: bool
    ) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.keep_alive = keep_alive


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _BadRequest(400, "malformed request line")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise _BadRequest(400, "malformed header line")
        headers[name.strip().lower()] = value.strip()
    return parts[0], parts[1].split("?", 1)[0], parts[2], headers


def _dechunk(buf: bytes, start: int) -> tuple[bytes, int] | None:
    """Decode a chunked body starting at ``start``; ``None`` while incomplete."""
    pos, chunks = start, list[bytes]()
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        try:
            size = int(buf[pos:eol].split(b";", 1)[0], 16)
        except ValueError:
            raise _BadRequest(400, "malformed chunk size") from None
        if size == 0:
            end = buf.find(b"\r\n\r\n", eol)  # skip (empty) trailers
            return (b"".join(chunks), end + 4) if end >= 0 else None
        if len(buf) < eol + 2 + size + 2:
            return None
        chunks.append(buf[eol + 2 : eol + 2 + size])
        pos = eol + 2 + size + 2


def _parse_request(buf: bytes) -> tuple[_Request, int] | None:
    """The first complete request in ``buf`` and the bytes it used; ``None`` if incomplete."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if len(buf) > _MAX_HEAD:
            raise _BadRequest(431, "request head too large")
        return None
    method, path, version, headers = _parse_head(buf[:end])
    conn = headers.get("connection", "").lower()
    keep_alive = conn != "close" if version == "HTTP/1.1" else conn == "keep-alive"
    start = end + 4
    if "chunked" in headers.get("transfer-encoding", "").lower():
        decoded = _dechunk(buf, start)
        if decoded is None:
            return None
        return _Request(method, path, headers, decoded[0], keep_alive), decoded[1]
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise _BadRequest(400, "malformed Content-Length") from None
    if length < 0 or length > _MAX_BODY:
        raise _BadRequest(413, "request body too large")
    if len(buf) < start + length:
        return None
    return _Request(method, path, headers, buf[start : start + length], keep_alive), start + length


def _encode(status: int, doc: dict[str, Any], extra: dict[str, str], keep_alive: bool) -> bytes:
    body = json.dumps(doc).encode()
    lines = [
        f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}",
        "Server: alignkit-stub",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        f"Connection: {'keep-alive' if keep_alive else 'close'}",
    ]
    lines.extend(f"{k}: {v}" for k, v in extra.items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _error(status: int, message: str, type_: str, code: str | None = None) -> _Answer:
    doc = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return status, doc, {}, 0.0


class _Connection(asyncio.Protocol):
    """One client connection: parses requests and writes answers, one at a time."""

    def __init__(self, server: StubServer) -> None:
        self._server = server
        self._transport: asyncio.Transport | None = None
        self._buf = b""
        self._busy = False
        self._counted = False
        self._continued = False
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._server._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._counted:
            self._server.in_flight -= 1
            self._counted = False
        self._server._connections.discard(self)
        self._transport = None

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if not self._busy:
            self._next()

    def close(self) -> None:
        """Drop the connection (used when the server stops)."""
        if self._transport is not None:
            self._transport.close()

    def _next(self) -> None:
        try:
            parsed = _parse_request(self._buf)
        except _BadRequest as exc:
            doc = _error(exc.status, str(exc), "invalid_request_error")[1]
            self._busy = True
            self._send(_encode(exc.status, doc, {}, False), False)
            return
        if parsed is None:
            self._maybe_continue()
            return
        request, used = parsed
        self._buf = self._buf[used:]
        self._busy, self._continued = True, False
        is_chat = request.path == "/v1/chat/completions"
        if is_chat:
            self._counted = True
            self._server._enter()
        status, doc, extra, delay = self._server._dispatch(request)
        raw = _encode(status, doc, extra, request.keep_alive)
        if delay > 0:
            self._timer = asyncio.get_running_loop().call_later(
                delay, self._send, raw, request.keep_alive
            )
        else:
            self._send(raw, request.keep_alive)

    def _maybe_continue(self) -> None:
        end = self._buf.find(b"\r\n\r\n")
        if end >= 0 and not self._continued and b"100-continue" in self._buf[:end].lower():
            self._continued = True
            if self._transport is not None:
                self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _send(self, raw: bytes, keep_alive: bool) -> None:
        self._timer = None
        if self._counted:
            self._counted = False
            self._server.in_flight -= 1
            self._server.requests_served += 1
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        transport.write(raw)
        self._busy = False
        if not keep_alive:
            transport.close()
        elif self._buf:
            self._next()


class StubServer:
    """An OpenAI-compatible chat server with fixed latency and deterministic answers.

    Args:
        latency: Seconds each successful answer waits before it is sent.
        responder: ``responder(messages) -> str`` giving the reply; default
            :func:`echo_responder`.
        error_rate: Share of chat requests answered with HTTP 500 (seeded draw).
        rate_limit_rate: Share answered with HTTP 429 and a ``Retry-After`` header.
        retry_after: Seconds put in ``Retry-After`` on 429 answers.
        seed: Seed of the failure draws; the n-th request gets the same draw every run.
        block_marker: A request whose messages contain this string is blocked.
        block_mode: ``"finish_reason"`` answers 200 with ``finish_reason`` ``content_filter``;
            ``"error"`` answers 400 with error code ``content_filter``.
        api_key: When set, requests must carry ``Authorization: Bearer <api_key>`` (else 401).
        model: The model id listed by ``/v1/models``.
        host: Interface to bind.
        port: Port to bind; 0 picks a free one.
    """

    def __init__(
        self,
        latency: float = 0.05,
        *,
        responder: Responder | None = None,
        error_rate: float = 0.0,
        rate_limit_rate: float = 0.0,
        retry_after: float = 0.0,
        seed: int = 0,
        block_marker: str | None = None,
        block_mode: BlockMode = "finish_reason",
        api_key: str | None = None,
        model: str = "stub",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        rates = (error_rate, rate_limit_rate, error_rate + rate_limit_rate)
        if latency < 0 or not all(0.0 <= r <= 1.0 for r in rates):
            raise ConfigError(
                "stub: latency must be >= 0 and error_rate, rate_limit_rate and their sum"
                " within [0, 1]"
            )
        self.latency = latency
        self.responder: Responder = responder or echo_responder
        self.error_rate = error_rate
        self.rate_limit_rate = rate_limit_rate
        self.retry_after = retry_after
        self.seed = seed
        self.block_marker = block_marker
        self.block_mode: BlockMode = block_mode
        self.api_key = api_key
        self.model = model
        self.host = host
        self.port = port
        self.requests_served = 0
        self.failures_injected = 0
        self.in_flight = 0
        self.peak_in_flight = 0
        self.last_request: dict[str, Any] | None = None
        self._draws = 0
        self._completions = 0
        self._server: asyncio.Server | None = None
        self._connections: set[_Connection] = set()
        self._url = ""

    # ---------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        """Base URL of the OpenAI API, e.g. ``http://127.0.0.1:8123/v1``."""
        if not self._url:
            raise RuntimeError("StubServer is not started")
        return self._url

    async def start(self) -> str:
        """Bind and start serving; returns :attr:`url`."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self), self.host, self.port, backlog=1024
        )
        host, port = self._server.sockets[0].getsockname()[:2]
        self.port = int(port)
        self._url = http_url(host, self.port)
        return self._url

    async def stop(self) -> None:
        """Stop serving and drop open connections (answers not yet sent are lost)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for conn in list(self._connections):
            conn.close()
        await server.wait_closed()
        await asyncio.sleep(0)  # let connection_lost callbacks run

    async def __aenter__(self) -> StubServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def reset_counters(self) -> None:
        """Zero the request counters; the peak restarts from the current in-flight count."""
        self.requests_served = 0
        self.failures_injected = 0
        self.peak_in_flight = self.in_flight

    def stats(self) -> dict[str, int]:
        """The counters, as ``/stub/stats`` returns them."""
        return {
            "requests_served": self.requests_served,
            "failures_injected": self.failures_injected,
            "in_flight": self.in_flight,
            "peak_in_flight": self.peak_in_flight,
        }

    # ---------------------------------------------------------------- routing

    def _enter(self) -> None:
        self.in_flight += 1
        if self.in_flight > self.peak_in_flight:
            self.peak_in_flight = self.in_flight

    def _dispatch(self, request: _Request) -> _Answer:
        route = (request.method, request.path)
        if self.api_key is not None and request.path.startswith("/v1/"):
            if request.headers.get("authorization") != f"Bearer {self.api_key}":
                return _error(401, "invalid api key", "invalid_request_error", "invalid_api_key")
        if route == ("POST", "/v1/chat/completions"):
            return self._chat(request)
        if route == ("GET", "/v1/models"):
            model = {"id": self.model, "object": "model", "created": 0, "owned_by": "alignkit"}
            return 200, {"object": "list", "data": [model]}, {}, 0.0
        if route == ("GET", "/stub/stats"):
            return 200, dict(self.stats()), {}, 0.0
        if route == ("POST", "/stub/reset"):
            self.reset_counters()
            return 200, dict(self.stats()), {}, 0.0
        return _error(404, f"no route {request.method} {request.path}", "invalid_request_error")

    def _chat(self, request: _Request) -> _Answer:
        try:
            body = json.loads(request.body)
            messages = body["messages"]
            if not isinstance(messages, list):
                raise TypeError("messages must be a list")
        except (ValueError, KeyError, TypeError) as exc:
            return _error(400, f"bad request: {exc}", "invalid_request_error")
        self.last_request = body
        if body.get("stream"):
            return _error(400, "streaming is not supported by the stub", "invalid_request_error")
        injected = self._inject_failure()
        if injected is not None:
            return injected
        blocked = self._is_blocked(messages)
        if blocked and self.block_mode == "error":
            return _error(
                400, "blocked by content filter", "invalid_request_error", "content_filter"
            )
        try:
            doc = self._completion(body, messages, blocked)
        except Exception as exc:  # a broken responder is the test's bug: answer 500, say why
            _log.exception("stub responder failed")
            return _error(500, f"responder raised {type(exc).__name__}: {exc}", "server_error")
        return 200, doc, {}, self.latency

    def _inject_failure(self) -> _Answer | None:
        if self.error_rate <= 0 and self.rate_limit_rate <= 0:
            return None
        draw = random.Random(self.seed * 1_000_003 + self._draws).random()
        self._draws += 1
        if draw < self.error_rate:
            self.failures_injected += 1
            return _error(500, "injected server error", "server_error")
        if draw < self.error_rate + self.rate_limit_rate:
            self.failures_injected += 1
            status, doc, _, _ = _error(
                429, "injected rate limit", "rate_limit_error", "rate_limit_exceeded"
            )
            return status, doc, {"Retry-After": f"{self.retry_after:g}"}, 0.0
        return None

    def _is_blocked(self, messages: list[dict[str, Any]]) -> bool:
        marker = self.block_marker
        if not marker:
            return False
        return any(marker in str(m.get("content", "")) for m in messages)

    def _completion(
        self, body: dict[str, Any], messages: list[dict[str, Any]], blocked: bool
    ) -> dict[str, Any]:
        self._completions += 1
        text, finish = "", "content_filter"
        if not blocked:
            text, finish = self.responder(messages), "stop"
            words = text.split()
            limit = body.get("max_tokens") or body.get("max_completion_tokens")
            if isinstance(limit, int) and 0 < limit < len(words):
                text, finish = " ".join(words[:limit]), "length"
        prompt_tokens = sum(_n_words(str(m.get("content") or "")) for m in messages)
        completion_tokens = _n_words(text)
        logprobs = None
        if body.get("logprobs"):
            top_n = int(body.get("top_logprobs") or 0)
            logprobs = {"content": _token_logprobs(text.split(), max(top_n, 0)), "refusal": None}
        return {
            "id": f"chatcmpl-stub-{self._completions}",
            "object": "chat.completion",
            "created": 0,
            "model": str(body.get("model") or self.model),
            "system_fingerprint": "alignkit-stub",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "finish_reason": finish,
                    "logprobs": logprobs,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


# -------------------------------------------------------------------- process entry point


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m alignkit.models.stub",
        description="Serve a deterministic OpenAI-compatible stub; prints its base URL.",
        epilog="example: python -m alignkit.models.stub --port 0 --latency 0.05",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--latency", type=float, default=0.05, help="seconds per answer")
    p.add_argument("--error-rate", type=float, default=0.0, help="share of HTTP 500 answers")
    p.add_argument("--rate-limit-rate", type=float, default=0.0, help="share of HTTP 429s")
    p.add_argument("--retry-after", type=float, default=0.0, help="Retry-After on 429s")
    p.add_argument("--seed", type=int, default=0, help="seed of the failure draws")
    p.add_argument("--model", default="stub", help="model id listed by /v1/models")
    p.add_argument("--block-marker", default=None, help="block requests containing this")
    return p.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    server = StubServer(
        args.latency,
        error_rate=args.error_rate,
        rate_limit_rate=args.rate_limit_rate,
        retry_after=args.retry_after,
        seed=args.seed,
        model=args.model,
        block_marker=args.block_marker,
        host=args.host,
        port=args.port,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        # what is built by now lives as long as the process: keep the cyclic collector's
        # full passes (50 ms here) from walking it while the stub serves a benchmark
        gc.collect()
        gc.freeze()
        sys.stdout.write(server.url + "\n")
        sys.stdout.flush()
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> None:
    """Run the stub until SIGTERM or SIGINT, after printing its base URL on one line."""
    args = _parse_args(argv)
    try:
        asyncio.run(_serve(args))
    except (ConfigError, OSError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
