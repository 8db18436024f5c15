"""generate_batch: order, bounded concurrency, seeds, callbacks, failure isolation."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from alignkit.core import Completion, ConfigError, Decoding, Message, Outcome, TargetKind
from alignkit.models import generate_batch

pytestmark = pytest.mark.anyio


class CountingModel:
    """A real (in-memory) ChatModel that records what it was asked and how many at once."""

    uri = "test:counting"
    kind = TargetKind.CHAT
    capabilities: frozenset[str] = frozenset()
    default_pack: Path | None = None
    default_decoding: Decoding | None = None

    def __init__(self, fail_on: str | None = None) -> None:
        self.in_flight = 0
        self.peak = 0
        self.seeds: dict[str, int | None] = {}
        self.params: list[tuple[int, float, float, bool]] = []
        self.fail_on = fail_on

    async def aclose(self) -> None:
        return None

    async def generate(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 64,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
        logprobs: bool = False,
    ) -> Completion:
        prompt = messages[-1]["content"]
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            # Later requests finish sooner, so completion order differs from request order.
            await asyncio.sleep(0.001 * (7 - int(prompt) % 7))
            if prompt == self.fail_on:
                raise RuntimeError("adapter bug\nwith two lines")
        finally:
            self.in_flight -= 1
        self.seeds[prompt] = seed
        self.params.append((max_tokens, temperature, top_p, logprobs))
        return Completion(outcome=Outcome.OK, text=f"answer {prompt}")


def reqs(n: int) -> list[list[Message]]:
    return [[{"role": "user", "content": str(i)}] for i in range(n)]


@pytest.mark.parametrize("concurrency", [1, 3, 8, 64])
async def test_results_in_request_order_and_concurrency_bounded(concurrency: int) -> None:
    model = CountingModel()
    results = await generate_batch(model, reqs(40), concurrency)
    assert [c.text for c in results] == [f"answer {i}" for i in range(40)]
    assert model.peak <= concurrency
    if concurrency > 1:
        assert model.peak == min(concurrency, 40)  # the bound is also used, not just respected


async def test_per_request_seeds_and_parameters() -> None:
    model = CountingModel()
    await generate_batch(
        model, reqs(5), 2, seed=100, max_tokens=9, temperature=0.5, top_p=0.8, logprobs=True
    )
    assert model.seeds == {str(i): 100 + i for i in range(5)}
    assert set(model.params) == {(9, 0.5, 0.8, True)}
    unseeded = CountingModel()
    await generate_batch(unseeded, reqs(3), 2)
    assert set(unseeded.seeds.values()) == {None}


async def test_exception_in_generate_becomes_error_completion() -> None:
    model = CountingModel(fail_on="3")
    results = await generate_batch(model, reqs(6), 2)
    assert results[3].outcome is Outcome.ERROR
    assert results[3].error == "RuntimeError: adapter bug with two lines"
    assert all(c.ok for i, c in enumerate(results) if i != 3)


async def test_a_batch_that_fails_throughout_warns_twice_not_per_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """151 failed requests printed 151 warning lines."""

    class Broken(CountingModel):
        async def generate(self, messages: list[Message], **kw: object) -> Completion:  # type: ignore[override]
            raise TypeError("generate is not async")

    with caplog.at_level("WARNING", logger="alignkit"):
        results = await generate_batch(Broken(), reqs(30), 4)
    assert all(c.error == "TypeError: generate is not async" for c in results)
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 2 and "30 of 30 requests" in said[1]


async def test_on_result_sync_and_async() -> None:
    seen: list[tuple[int, Completion]] = []
    results = await generate_batch(
        CountingModel(), reqs(10), 4, on_result=lambda i, c: seen.append((i, c))
    )
    assert sorted(i for i, _ in seen) == list(range(10))
    assert all(results[i] is c for i, c in seen)
    assert [i for i, _ in seen] != list(range(10))  # called as each finishes, not at the end

    stored: dict[int, str] = {}

    async def store(i: int, c: Completion) -> None:
        await asyncio.sleep(0)
        stored[i] = c.text

    await generate_batch(CountingModel(), reqs(10), 4, on_result=store)
    assert stored == {i: f"answer {i}" for i in range(10)}


async def test_on_result_exception_stops_the_batch() -> None:
    model = CountingModel()
    calls = 0

    def explode(i: int, c: Completion) -> None:
        nonlocal calls
        calls += 1
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        await generate_batch(model, reqs(50), 4, on_result=explode)
    assert 1 <= calls <= 4  # at most the requests already in flight report back
    assert len(model.seeds) <= 8  # no new requests were started after the failure
    assert model.in_flight == 0  # the other workers were cancelled, nothing left running


async def test_empty_batch_and_bad_concurrency() -> None:
    assert await generate_batch(CountingModel(), [], 8) == []
    with pytest.raises(ConfigError, match="concurrency"):
        await generate_batch(CountingModel(), reqs(2), 0)
