"""The official ``openai`` client talks to the stub: the stub speaks the protocol."""

from __future__ import annotations

import openai
import pytest

from alignkit.models.stub import StubServer

pytestmark = pytest.mark.anyio


async def test_official_client_chat_completion_with_logprobs() -> None:
    async with StubServer(latency=0.01, model="stub-1") as s:
        client = openai.AsyncOpenAI(base_url=s.url, api_key="k", max_retries=0)
        resp = await client.chat.completions.create(
            model="stub-1",
            messages=[
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "hello world"},
            ],
            max_tokens=10,
            temperature=0.0,
            seed=3,
            logprobs=True,
            top_logprobs=2,
        )
        models = await client.models.list()
        await client.close()
        sent = s.last_request
    choice = resp.choices[0]
    assert choice.message.content == "echo: hello world"
    assert choice.finish_reason == "stop"
    assert resp.usage is not None and resp.usage.prompt_tokens == 4
    assert resp.usage.completion_tokens == 3 and resp.usage.total_tokens == 7
    assert choice.logprobs is not None and choice.logprobs.content is not None
    assert [t.token for t in choice.logprobs.content] == ["echo:", "hello", "world"]
    assert all(len(t.top_logprobs) == 2 for t in choice.logprobs.content)
    assert [m.id for m in models.data] == ["stub-1"]
    assert sent is not None and sent["seed"] == 3 and sent["max_tokens"] == 10


async def test_official_client_sees_rate_limit_and_auth_errors() -> None:
    async with StubServer(latency=0, rate_limit_rate=1.0, retry_after=1) as s:
        client = openai.AsyncOpenAI(base_url=s.url, api_key="k", max_retries=0)
        with pytest.raises(openai.RateLimitError):
            await client.chat.completions.create(
                model="stub", messages=[{"role": "user", "content": "x"}]
            )
        await client.close()
    async with StubServer(latency=0, api_key="right") as s:
        client = openai.AsyncOpenAI(base_url=s.url, api_key="wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            await client.chat.completions.create(
                model="stub", messages=[{"role": "user", "content": "x"}]
            )
        await client.close()


def test_official_sync_client_against_stub_in_thread() -> None:
    import asyncio
    import threading

    ready = threading.Event()
    box: dict[str, object] = {}

    async def serve(stop: asyncio.Event) -> None:
        async with StubServer(latency=0, block_marker="[[BLOCK]]") as s:
            box["url"] = s.url
            ready.set()
            await stop.wait()

    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete, args=(serve(stop),), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        client = openai.OpenAI(base_url=str(box["url"]), api_key="k", max_retries=0)
        ok = client.chat.completions.create(
            model="stub", messages=[{"role": "user", "content": "ping"}]
        )
        blocked = client.chat.completions.create(
            model="stub", messages=[{"role": "user", "content": "[[BLOCK]]"}]
        )
        client.close()
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
    assert ok.choices[0].message.content == "echo: ping"
    assert blocked.choices[0].finish_reason == "content_filter"
