"""The guard benchmark's lean load generator (``benchmarks/_loadgen.py``), against real servers."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from alignkit.models.stub import StubServer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import _loadgen  # noqa: E402

BODY = json.dumps({"model": "stub", "messages": [{"role": "user", "content": "hi"}]}).encode()

pytestmark = pytest.mark.anyio


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


async def _closing_server(answers: list[int]) -> asyncio.Server:
    """Answers each request on a connection, then closes it a moment later, as a server
    whose keep-alive timeout ran out does (no ``Connection: close`` in the answer)."""
    body = b'{"choices":[{"finish_reason":"stop"}]}'
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.lower().split(b"\r\n")
        length = next(int(x.split(b":")[1]) for x in lines if x.startswith(b"content-length"))
        await reader.readexactly(length)
        writer.write(answer)
        answers.append(1)
        await asyncio.sleep(0.05)
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def test_a_connection_the_server_closed_is_not_reused() -> None:
    answers: list[int] = []
    server = await _closing_server(answers)
    port = server.sockets[0].getsockname()[1]
    async with server, _loadgen.LeanClient(f"http://127.0.0.1:{port}/v1", BODY, 2) as c:
        for _ in range(3):  # each time the kept connection has been closed meanwhile
            _, ok = await asyncio.wait_for(c.post(), 5)
            assert ok
            await asyncio.sleep(0.2)
    assert len(answers) == 3


def test_unknown_client_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown client"):
        _loadgen.client("curl", "http://127.0.0.1:1/v1", BODY, 1)
