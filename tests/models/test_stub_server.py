"""The stub server itself: protocol details, failure injection, process mode."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from alignkit.core import ConfigError, HttpConfig, Message, Outcome, TargetError
from alignkit.models import TargetOptions, connect, generate_batch
from alignkit.models._openai import OpenAIChatModel
from alignkit.models.stub import StubServer, echo_responder

pytestmark = pytest.mark.anyio

HI: list[Message] = [{"role": "user", "content": "hi"}]


def openai_model(url: str, options: TargetOptions | None = None) -> OpenAIChatModel:
    model = connect(f"openai:{url}#stub", options)
    assert isinstance(model, OpenAIChatModel)
    return model


async def post_chat(session: aiohttp.ClientSession, url: str, **body: object) -> tuple[int, dict]:  # type: ignore[type-arg]
    payload = {"model": "stub", "messages": [{"role": "user", "content": "x y"}], **body}
    async with session.post(f"{url}/chat/completions", json=payload) as resp:
        return resp.status, await resp.json()


async def test_responder_and_counters() -> None:
    def responder(messages: list[dict[str, object]]) -> str:
        return f"{len(messages)} messages"

    async with StubServer(latency=0, responder=responder) as s, aiohttp.ClientSession() as http:
        for _ in range(3):
            status, doc = await post_chat(http, s.url)
        served, peak = s.requests_served, s.peak_in_flight
        async with http.get(f"{s.url.removesuffix('/v1')}/stub/stats") as resp:
            stats = await resp.json()
        async with http.post(f"{s.url.removesuffix('/v1')}/stub/reset") as resp:
            after = await resp.json()
    assert status == 200 and doc["choices"][0]["message"]["content"] == "1 messages"
    assert (served, peak) == (3, 1)
    assert stats["requests_served"] == 3 and after["requests_served"] == 0


async def test_failure_injection_is_seeded() -> None:
    async def statuses(seed: int) -> list[int]:
        async with StubServer(latency=0, error_rate=0.3, rate_limit_rate=0.2, seed=seed) as s:
            async with aiohttp.ClientSession() as http:
                return [(await post_chat(http, s.url))[0] for _ in range(40)]

    a, b, c = await statuses(5), await statuses(5), await statuses(6)
    assert a == b and a != c
    assert set(a) == {200, 429, 500}
    assert 8 <= a.count(500) + a.count(429) <= 32


async def test_rate_limit_answer_carries_retry_after() -> None:
    async with StubServer(latency=0, rate_limit_rate=1.0, retry_after=2.5) as s:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{s.url}/chat/completions", json={"messages": []}) as resp:
                assert resp.status == 429
                assert resp.headers["Retry-After"] == "2.5"
                assert (await resp.json())["error"]["code"] == "rate_limit_exceeded"


async def test_bad_requests_and_unknown_routes() -> None:
    async with StubServer(latency=0) as s, aiohttp.ClientSession() as http:
        async with http.post(f"{s.url}/chat/completions", data=b"{not json") as resp:
            assert resp.status == 400
        async with http.post(f"{s.url}/chat/completions", json={"model": "m"}) as resp:
            assert resp.status == 400
        async with http.get(f"{s.url}/nothing-here") as resp:
            assert resp.status == 404 and "error" in await resp.json()
        status, _ = await post_chat(http, s.url, stream=True)
        assert status == 400
        status, doc = await post_chat(http, s.url)  # the connection is still usable
        assert status == 200


async def test_chunked_request_body() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "in parts"}]})
        for i in range(0, len(body), 7):
            yield body[i : i + 7].encode()

    async with StubServer(latency=0) as s, aiohttp.ClientSession() as http:
        async with http.post(f"{s.url}/chat/completions", data=chunks()) as resp:
            doc = await resp.json()
    assert doc["choices"][0]["message"]["content"] == "echo: in parts"


async def test_http10_and_connection_close() -> None:
    async with StubServer(latency=0) as s:
        reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
        writer.write(b"GET /v1/models HTTP/1.0\r\nHost: x\r\n\r\n")
        raw = await asyncio.wait_for(reader.read(), 5)  # returns at EOF: the server closed
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"Connection: close" in head
    assert json.loads(body)["data"][0]["id"] == "stub"


async def test_latency_is_applied_and_in_flight_counted() -> None:
    async with StubServer(latency=0.5) as s:
        model = connect(f"openai:{s.url}#stub")
        start = time.perf_counter()
        results = await generate_batch(model, [HI] * 6, concurrency=6)
        elapsed = time.perf_counter() - start
        await model.aclose()
        peak = s.peak_in_flight
    assert all(c.ok for c in results)
    assert 0.5 <= elapsed < 2.5  # six requests in parallel, not 3 s in sequence
    assert peak == 6


def test_bad_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        StubServer(latency=-1)
    with pytest.raises(ConfigError):
        StubServer(error_rate=0.7, rate_limit_rate=0.5)


def test_echo_responder() -> None:
    assert (
        echo_responder([{"role": "system", "content": "s"}, {"role": "user", "content": "u"}])
        == "echo: u"
    )
    assert echo_responder([]) == "echo:"


# ---------------------------------------------------------------- as a separate process


@pytest.fixture
def stub_process() -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "alignkit.models.stub", "--port", "0", "--latency", "0.5"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    try:
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        proc.stdout.close()


async def test_process_prints_url_serves_and_stops_on_sigterm(
    stub_process: tuple[subprocess.Popen[str], str],
) -> None:
    proc, url = stub_process
    assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
    model = openai_model(url)
    await model.ping()
    c = await model.generate(HI)
    await model.aclose()
    assert c.ok and c.text == "echo: hi"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0


async def test_server_killed_mid_request_gives_error_not_hang(
    stub_process: tuple[subprocess.Popen[str], str],
) -> None:
    proc, url = stub_process
    model = openai_model(
        url, TargetOptions(http=HttpConfig(max_retries=2, backoff_s=0.05, timeout_s=5))
    )
    task = asyncio.ensure_future(model.generate(HI))
    await asyncio.sleep(0.2)  # the request is inside the stub's 0.5 s latency
    proc.send_signal(signal.SIGKILL)
    start = time.perf_counter()
    c = await asyncio.wait_for(task, 10)
    assert time.perf_counter() - start < 3
    assert c.outcome is Outcome.ERROR and "connection error" in c.error
    with pytest.raises(TargetError, match="cannot reach"):
        await model.ping()
    await model.aclose()


@pytest.mark.slow
async def test_stub_process_serves_well_over_640_per_second() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "alignkit.models.stub", "--port", "0", "--latency", "0.05"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    try:
        model = openai_model(url)
        await model.ping()
        start = time.perf_counter()
        results = await generate_batch(model, [HI] * 1024, concurrency=64)
        rate = 1024 / (time.perf_counter() - start)
        await model.aclose()
    finally:
        proc.kill()
        proc.wait(10)
        proc.stdout.close()
    assert all(c.ok for c in results)
    assert rate > 800  # ideal 1,280 at C=64
