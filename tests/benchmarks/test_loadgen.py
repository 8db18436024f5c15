"""The guard benchmark's lean load generator (``benchmarks/_loadgen.py``), against real servers."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from alignkit.models.stub import StubServer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import _loadgen  # noqa: E402

BODY = json.dumps({"model": "stub", "messages": [{"role": "user", "content": "hi"}]}).encode()
ANSWER_BODY = b'{"choices":[{"finish_reason":"stop"}]}'
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(ANSWER_BODY), ANSWER_BODY)

pytestmark = pytest.mark.anyio

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


@pytest.mark.parametrize("kind", _loadgen.CLIENTS)
async def test_answers_are_timed_and_checked(kind: str) -> None:
    async with StubServer(latency=0.0) as stub, _loadgen.client(kind, stub.url, BODY, 4) as c:
        results = await asyncio.gather(*(c.post() for _ in range(20)))
        assert all(ok for _, ok in results)
        assert all(0 < dt < 5 for dt, _ in results)
        assert stub.stats()["requests_served"] == 20
    async with (
        StubServer(latency=0.0, error_rate=1.0) as stub,
        _loadgen.client(kind, stub.url, BODY, 1) as c,
    ):
        assert (await c.post())[1] is False  # a 500 is answered, not ok


async def _read_request(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.lower().split(b"\r\n")
    await reader.readexactly(
        next(int(x.split(b":")[1]) for x in lines if x.startswith(b"content-length"))
    )


async def _serve(handle: Handler) -> tuple[asyncio.Server, str]:
    """A server calling ``handle(reader, writer, n)`` for the n-th connection."""
    connections = 0

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            await handle(reader, writer, connections)
        finally:  # else the server's close waits for it (Python 3.12 on)
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"


def _keep_answering(delay: float = 0.0) -> Handler:
    """A handler answering every request of its connection, each after ``delay`` s."""

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        while True:
            try:
                await _read_request(r)
            except asyncio.IncompleteReadError:
                return
            await asyncio.sleep(delay)
            w.write(ANSWER)

    return handle


async def test_connections_are_kept_alive() -> None:
    server, url = await _serve(_keep_answering())
    async with server, _loadgen.LeanClient(url, BODY, 2) as c:
        for _ in range(10):
            assert (await c.post())[1]
        assert c.connections == 1


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    """It answers, then closes a moment later, as a server whose keep-alive timeout ran out
    does (no ``Connection: close``): a reused connection would wait forever."""

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        await _read_request(r)
        w.write(ANSWER)
        await asyncio.sleep(0.05)
        w.close()

    server, url = await _serve(handle)
    async with server, _loadgen.LeanClient(url, BODY, 2) as c:
        for _ in range(3):
            _, ok = await asyncio.wait_for(c.post(), 5)
            assert ok
            await asyncio.sleep(0.2)
        assert c.connections == 3 and c.resent == 0


async def test_a_clean_close_racing_a_request_is_sent_once_more() -> None:
    """The first connection answers once, then closes (FIN) on reading the next request,
    as a server whose keep-alive timeout fires just then does: sent again, counted."""
    seen: list[int] = []

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        await _read_request(r)
        seen.append(n)
        w.write(ANSWER)
        if n == 1:
            await _read_request(r)
            w.close()
            return
        await w.drain()

    server, url = await _serve(handle)
    async with server, _loadgen.LeanClient(url, BODY, 1) as c:
        assert (await c.post())[1]
        assert (await asyncio.wait_for(c.post(), 5))[1]
        assert c.resent == 1 and seen == [1, 2]


async def test_a_reset_is_a_failure_not_a_resend() -> None:
    """A server that aborts the connection while a request is in flight has failed it."""

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        await _read_request(r)
        w.write(ANSWER)
        await _read_request(r)
        linger = struct.pack("ii", 1, 0)  # closing with a zero linger sends a RST
        w.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        w.transport.abort()

    server, url = await _serve(handle)
    async with server, _loadgen.LeanClient(url, BODY, 1) as c:
        assert (await c.post())[1]
        with pytest.raises(OSError):
            await asyncio.wait_for(c.post(), 5)
        assert c.resent == 0


async def test_waiting_for_a_connection_counts_as_latency() -> None:
    """With one connection, the second of two concurrent requests waits for the first."""
    delay = 0.2
    server, url = await _serve(_keep_answering(delay))
    async with server, _loadgen.LeanClient(url, BODY, 1) as c:
        (d1, ok1), (d2, ok2) = await asyncio.gather(c.post(), c.post())
        assert ok1 and ok2
        assert max(d1, d2) >= 2 * delay * 0.95


def test_bad_clients_and_urls_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown client"):
        _loadgen.client("curl", "http://127.0.0.1:1/v1", BODY, 1)
    with pytest.raises(ValueError, match="plain http"):
        _loadgen.client("lean", "https://127.0.0.1:1/v1", BODY, 1)
