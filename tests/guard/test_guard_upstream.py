"""The server's lean upstream client and corked transport, against real servers.

The pooled client must answer exactly as the aiohttp adapter it stands in for: same
texts, same error completions, same retries, over reused keep-alive connections.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from alignkit.core import HttpConfig, Outcome
from alignkit.guard._server_http import CorkedTransport
from alignkit.guard._upstream import PooledOpenAIChatModel, pooled
from alignkit.models import OpenAIChatModel, TargetOptions, connect
from alignkit.models.stub import StubServer

pytestmark = [pytest.mark.anyio, pytest.mark.network]

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture
async def stub() -> AsyncIterator[StubServer]:
    server = StubServer(latency=0.0)
    await server.start()
    yield server
    await server.stop()


def _pair(url: str, **http: Any) -> tuple[OpenAIChatModel, PooledOpenAIChatModel]:
    config = HttpConfig(**{"max_retries": 0, "backoff_s": 0.0, **http})
    plain = connect(f"openai:{url}#m", TargetOptions(http=config))
    lean = pooled(plain)
    assert isinstance(plain, OpenAIChatModel) and isinstance(lean, PooledOpenAIChatModel)
    return plain, lean


async def _both(plain: OpenAIChatModel, lean: PooledOpenAIChatModel, **kw: Any) -> list[Any]:
    try:
        return [await m.generate(list(MESSAGES), **kw) for m in (plain, lean)]  # type: ignore[arg-type]
    finally:
        await plain.aclose()
        await lean.aclose()


def test_pooled_swaps_only_plain_http_openai_targets(tmp_path: Any) -> None:
    plain = connect("openai:http://127.0.0.1:9/v1#m")
    lean = pooled(plain)
    assert type(lean) is PooledOpenAIChatModel and lean.uri == plain.uri
    secure = connect("openai:https://api.example.com/v1#m")
    assert pooled(secure) is secure
    app = tmp_path / "app.py"
    app.write_text("def respond(messages):\n    return 'hi'\n", encoding="utf-8")
    local = connect(f"python:{app}:respond")
    assert pooled(local) is local


async def test_answers_match_the_adapter_over_one_reused_connection(stub: StubServer) -> None:
    plain, lean = _pair(stub.url)
    first = await plain.generate(list(MESSAGES), max_tokens=16)  # type: ignore[arg-type]
    answers = [await lean.generate(list(MESSAGES), max_tokens=16) for _ in range(20)]  # type: ignore[arg-type]
    pool = lean._pool
    assert pool is not None and len(pool._idle) == 1
    conn = pool._idle[0]
    more = await asyncio.gather(*(lean.generate(list(MESSAGES)) for _ in range(8)))  # type: ignore[arg-type]
    assert conn in pool._idle and 1 <= len(pool._idle) <= 8
    for a in [*answers, *more]:
        assert a.outcome is Outcome.OK and a.text == first.text
        assert a.usage == first.usage
    await plain.aclose()
    await lean.aclose()
    assert lean._pool is None and conn.closed


@pytest.mark.parametrize(
    ("options", "http"),
    [
        ({"error_rate": 1.0}, {}),  # HTTP 500
        ({"latency": 1.0}, {"timeout_s": 0.2}),  # timeout
        ({"block_marker": "capital", "block_mode": "error"}, {}),  # 400 content_filter
        ({"block_marker": "capital"}, {}),  # 200 finish_reason content_filter
        ({"api_key": "right"}, {}),  # 401
    ],
)
async def test_failures_become_the_same_completions(
    options: dict[str, Any], http: dict[str, Any]
) -> None:
    server = StubServer(**{"latency": 0.0, **options})
    await server.start()
    try:
        plain, lean = _pair(server.url, **http)
        got = await _both(plain, lean)
    finally:
        await server.stop()
    assert got[1].outcome is got[0].outcome is not Outcome.OK
    assert got[1].error == got[0].error and got[1].text == got[0].text


async def test_refused_connection_is_a_connection_error() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    plain, lean = _pair(f"http://127.0.0.1:{port}/v1")
    got = await _both(plain, lean)
    assert [c.outcome for c in got] == [Outcome.ERROR, Outcome.ERROR]
    assert all(c.error.startswith("connection error: ") for c in got)


async def test_rate_limit_is_retried_after_its_retry_after() -> None:
    server = StubServer(latency=0.0, rate_limit_rate=0.5, retry_after=0.05, seed=3)
    await server.start()
    try:
        _, lean = _pair(server.url, max_retries=6)
        answers = [await lean.generate(list(MESSAGES)) for _ in range(10)]  # type: ignore[arg-type]
        await lean.aclose()
    finally:
        await server.stop()
    assert all(a.outcome is Outcome.OK for a in answers)


Script = Callable[[int], bytes]


async def _scripted(answer: Script, *, close_after: bool) -> tuple[asyncio.Server, list[int]]:
    """A raw HTTP server: the n-th request (over all connections) gets ``answer(n)``."""
    seen: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(0)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                seen[-1] += 1
                writer.write(answer(sum(seen)))
                await writer.drain()
                if close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0), seen


def _completion(text: str) -> bytes:
    return json.dumps(
        {"choices": [{"message": {"role": "assistant", "content": text},
                      "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 3, "completion_tokens": 2}}
    ).encode()  # fmt: skip


async def test_pooled_connection_closed_by_the_server_is_replaced() -> None:
    """A keep-alive answer, then the server hangs up (an idle timeout): no error."""

    def answer(n: int) -> bytes:
        body = _completion(f"answer {n}")
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)

    server, seen = await _scripted(answer, close_after=True)
    port = server.sockets[0].getsockname()[1]
    _, lean = _pair(f"http://127.0.0.1:{port}/v1")
    texts = []
    for i in range(6):
        texts.append((await lean.generate(list(MESSAGES))).text)  # type: ignore[arg-type]
        if i % 2:  # else the next request may be written before the close is seen
            await asyncio.sleep(0.05)
    await lean.aclose()
    server.close()
    assert texts == [f"answer {n}" for n in range(1, 7)]
    assert seen == [1] * 6


@pytest.mark.parametrize("framing", ["chunked", "until-close"])
async def test_chunked_and_close_delimited_answers_are_read_whole(framing: str) -> None:
    body = _completion("x" * 5000)

    def answer(n: int) -> bytes:
        if framing == "chunked":
            parts = [body[i : i + 1000] for i in range(0, len(body), 1000)]
            chunks = b"".join(b"%x\r\n%b\r\n" % (len(p), p) for p in parts)
            return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
        return b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body

    server, seen = await _scripted(answer, close_after=framing != "chunked")
    port = server.sockets[0].getsockname()[1]
    _, lean = _pair(f"http://127.0.0.1:{port}/v1")
    got = [await lean.generate(list(MESSAGES)) for _ in range(2)]  # type: ignore[arg-type]
    await lean.aclose()
    server.close()
    assert [c.text for c in got] == ["x" * 5000] * 2
    assert seen == ([2] if framing == "chunked" else [1, 1])


async def test_malformed_answer_is_a_connection_error() -> None:
    server, _ = await _scripted(lambda n: b"NONSENSE\r\n\r\n", close_after=False)
    port = server.sockets[0].getsockname()[1]
    _, lean = _pair(f"http://127.0.0.1:{port}/v1")
    got = await lean.generate(list(MESSAGES))  # type: ignore[arg-type]
    await lean.aclose()
    server.close()
    assert got.outcome is Outcome.ERROR
    assert got.error.startswith("connection error: malformed HTTP answer")


async def test_corked_transport_sends_one_step_of_writes_as_one() -> None:
    received: list[bytes] = []
    done = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.read())  # up to EOF
        done.set()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    raw, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
    assert isinstance(raw, asyncio.Transport)
    writes: list[bytes] = []
    real_write = raw.write

    def counted(data: bytes | bytearray | memoryview) -> None:
        writes.append(bytes(data))
        real_write(data)

    raw.write = counted  # type: ignore[method-assign]
    corked = CorkedTransport(raw, loop)
    corked.write(b"HTTP/1.1 200 OK\r\n\r\n")
    corked.write(b"body")
    assert writes == [] and corked.get_write_buffer_size() >= 23
    await asyncio.sleep(0)  # the end of the loop step
    assert writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    corked.write(b" and the end")
    corked.close()  # what is queued goes out before the close
    await asyncio.wait_for(done.wait(), 5)
    server.close()
    assert writes[1:] == [b" and the end"]
    assert received == [b"HTTP/1.1 200 OK\r\n\r\nbody and the end"]


async def test_credentials_in_the_url_are_sent_as_the_adapter_sends_them() -> None:
    """user:password@ in an http:// upstream URL reached it from `audit` (aiohttp's Basic
    auth) but not from `serve`: the pooled client dropped it."""
    heads: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        heads.append(head)
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))  # fmt: skip
        await reader.readexactly(length)
        body = _completion("ok")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    plain, lean = _pair(f"http://bob:p%40ss@127.0.0.1:{port}/v1")
    answers = await _both(plain, lean)
    server.close()
    assert [a.text for a in answers] == ["ok", "ok"]

    def auth(head: bytes) -> bytes:
        return next(
            line for line in head.split(b"\r\n") if line.lower().startswith(b"authorization:")
        )

    assert auth(heads[1]).lower() == auth(heads[0]).lower()  # Basic Ym9iOnBAc3M= (bob:p@ss)
    assert b"Ym9iOnBAc3M=" in auth(heads[1])
