"""Send many requests to one chat model with bounded concurrency."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence

from alignkit.core import ChatModel, Completion, ConfigError, Message

__all__ = ["OnResult", "generate_batch"]

_log = logging.getLogger(__name__)

OnResult = Callable[[int, Completion], Awaitable[None] | None]
"""Called with ``(index, completion)`` as each request finishes; may be async."""


async def generate_batch(
    model: ChatModel,
    requests: Sequence[list[Message]],
    concurrency: int = 8,
    *,
    max_tokens: int = 64,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int | None = None,
    seeds: Sequence[int] | None = None,
    logprobs: bool = False,
    on_result: OnResult | None = None,
) -> list[Completion]:
    """Answer every conversation in ``requests``, at most ``concurrency`` at a time.

    A fixed pool of ``concurrency`` worker tasks pulls request indices in order, so no
    more than that many calls to ``model.generate`` are ever in flight and the cost per
    request does not grow with the batch. Request ``i`` is sent with ``seed + i`` when
    ``seed`` is given, so a batch is reproducible whatever order answers arrive in.

    Args:
        model: The chat model to query.
        requests: One message list per request.
        concurrency: Most requests in flight at once (≥ 1).
        max_tokens: Completion length limit for every request.
        temperature: Sampling temperature (0 = greedy).
        top_p: Nucleus sampling mass.
        seed: Base seed; request ``i`` uses ``seed + i``.
        seeds: One seed per request instead (overrides ``seed``); the audit derives
            them from attempt keys so a resumed run samples the same text.
        logprobs: Ask for token log-probabilities.
        on_result: ``on_result(index, completion)``, sync or async, called as each request
            finishes (e.g. to store it). An exception it raises stops the batch and
            propagates.

    Returns:
        The completions, in the order of ``requests``. An exception escaping
        ``model.generate`` becomes an ``error`` completion; it never stops the batch.

    Raises:
        ConfigError: ``concurrency`` is below 1.
    """
    if concurrency < 1:
        raise ConfigError(f"concurrency must be at least 1, got {concurrency}")
    n = len(requests)
    if seeds is not None and len(seeds) != n:
        raise ConfigError(f"seeds has {len(seeds)} entries for {n} requests")

    def seed_of(i: int) -> int | None:
        if seeds is not None:
            return seeds[i]
        return None if seed is None else seed + i

    results: list[Completion | None] = [None] * n
    next_index = iter(range(n))
    raised: list[str] = []  # one warning per batch, not one per request (151 lines)

    async def one(i: int) -> Completion:
        try:
            return await model.generate(
                requests[i],
                max_tokens=max_tokens,
                temperature=temperature,
                top_p=top_p,
                seed=seed_of(i),
                logprobs=logprobs,
            )
        except Exception as exc:  # a broken adapter must not kill the batch
            why = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
            if not raised:
                _log.warning("request %d to %s raised %s", i, model.uri, why[:300])
            raised.append(why)
            return Completion.failed(why)

    async def worker() -> None:
        for i in next_index:  # a shared iterator: each index is taken by one worker
            completion = await one(i)
            results[i] = completion
            if on_result is not None:
                maybe = on_result(i, completion)
                if inspect.isawaitable(maybe):
                    await maybe

    if n:
        await _run_all([worker() for _ in range(min(concurrency, n))])
    if len(raised) > 1:
        _log.warning("%d of %d requests to %s raised (the first is above)", len(raised), n,
                     model.uri)  # fmt: skip
    return [c if c is not None else Completion.failed("not sent") for c in results]


async def _run_all(coros: list[Awaitable[None]]) -> None:
    """Run ``coros`` as tasks; on the first exception cancel the rest and re-raise it."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
