"""Batched, seeded autoregressive decoding for the ``hf:`` adapter.

:func:`decode_batch` runs several requests through one causal language model at once,
with our own loop rather than ``model.generate``, so that every row is decoded under its
own settings and its own random stream:

* prompts are left-padded into one ``(batch, max_len)`` tensor with an attention mask
  and explicit position ids (``cumsum(mask) - 1``), so a padded row sees the same
  positions as it would alone;
* one prefill pass fills the KV cache, then each step feeds one token per live row;
* a row is greedy when its temperature is 0, otherwise it samples from
  ``softmax(logits / temperature)`` restricted to the top-``p`` nucleus, by inverse CDF
  with one uniform draw per step from the row's own ``torch.Generator`` (seeded from the
  request), so its tokens depend only on (prompt, decoding, seed);
* a row finishes at an end-of-sequence id, at one of its stop strings or after its
  ``max_new_tokens``; finished rows are dropped from the batch and the cache.

Batch composition still changes float rounding inside the model's matrix products (a
row's logits alone and inside a batch differ by ~1e-7), which can only change a token
when two candidates are that close; the tests measure this.

:class:`MicroBatcher` forms those batches from concurrent requests.

Every forward pass goes through :func:`_forward`, the one place where activations will
be captured; ``on_forward`` already receives each pass's raw model output.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

from alignkit.core import TokenLogprob

if TYPE_CHECKING:
    import torch

__all__ = [
    "BatchStats",
    "DecodeRequest",
    "DecodeResult",
    "ForwardSpec",
    "MicroBatcher",
    "TokenText",
    "decode_batch",
]

FinishReason = Literal["eos", "stop", "length"]
ForwardHook = Callable[[int, Any], None]
"""Called as ``hook(step, output)`` after every forward pass (step 0 is the prefill)."""

TOP_LOGPROBS = 5

J = TypeVar("J")
R = TypeVar("R")


class TokenText(Protocol):
    """The part of a tokenizer decoding needs."""

    def decode(self, token_ids: list[int], skip_special_tokens: bool = False) -> str:
        """Text of ``token_ids``."""
        ...


@dataclass(frozen=True)
class DecodeRequest:
    """One row of a batch: an encoded prompt and how to continue it."""

    prompt_ids: tuple[int, ...]
    max_new_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    stop: tuple[str, ...] = ()
    logprobs: bool = False


@dataclass(frozen=True)
class DecodeResult:
    """What one row produced.

    ``token_ids`` are the generated ids without a final end-of-sequence id;
    ``n_generated`` counts every id the model produced, that one included. ``text`` is
    cut before the first stop string. ``logprobs`` has one entry per id in ``token_ids``.
    """

    token_ids: tuple[int, ...]
    text: str
    n_generated: int
    finish_reason: FinishReason
    logprobs: list[TokenLogprob] | None = None


@dataclass(frozen=True)
class ForwardSpec:
    """How to call a model's ``forward``, which differs between transformers versions."""

    cache_kwarg: str = "past_key_values"
    logits_kwarg: str | None = None


@dataclass
class _Row:
    request: DecodeRequest
    generator: torch.Generator | None
    ids: list[int] = field(default_factory=list)
    logprobs: list[TokenLogprob] = field(default_factory=list)
    reason: FinishReason | None = None
    n_generated: int = 0


def decode_batch(
    model: Any,
    requests: Sequence[DecodeRequest],
    *,
    tokenizer: TokenText,
    eos_ids: frozenset[int],
    pad_id: int,
    spec: ForwardSpec = ForwardSpec(),
    on_forward: ForwardHook | None = None,
) -> list[DecodeResult]:
    """Decode ``requests`` together through ``model``; results come back in order.

    Args:
        model: A transformers causal LM in eval mode.
        requests: The rows; prompts may have different lengths.
        tokenizer: Turns ids back into text (for stop strings and the result).
        eos_ids: Ids that end a row.
        pad_id: Id placed in the left padding (always masked out).
        spec: Keyword names of the model's ``forward``.
        on_forward: Optional hook called after each forward pass.

    Returns:
        One :class:`DecodeResult` per request.
    """
    import torch

    rows = [_Row(r, _generator(r)) for r in requests]
    for row in rows:
        if row.request.max_new_tokens <= 0:
            row.reason = "length"
    live = [i for i, row in enumerate(rows) if row.reason is None]
    if live:
        with torch.inference_mode():
            _run(model, rows, live, tokenizer, eos_ids, pad_id, spec, on_forward)
    return [_result(row, tokenizer) for row in rows]


def _generator(request: DecodeRequest) -> torch.Generator | None:
    import torch

    if request.temperature <= 0:
        return None
    gen: torch.Generator = torch.Generator(device="cpu")
    gen.manual_seed(request.seed % 2**64)
    return gen


def _run(
    model: Any,
    rows: list[_Row],
    live: list[int],
    tokenizer: TokenText,
    eos_ids: frozenset[int],
    pad_id: int,
    spec: ForwardSpec,
    on_forward: ForwardHook | None,
) -> None:
    """The decoding loop over the rows listed in ``live`` (indices into ``rows``)."""
    import torch

    device = next(model.parameters()).device
    ids, mask, pos = _left_pad([rows[i].request.prompt_ids for i in live], pad_id, device)
    cache: Any = None
    step = 0
    while live:
        out = _forward(model, ids, mask, pos, cache, spec)
        if on_forward is not None:
            on_forward(step, out)
        logits, cache = _logits_and_cache(out)
        chosen = _choose(logits, [rows[i] for i in live])
        logp = _logprobs(logits, chosen) if _wants_logprobs(rows, live) else None
        keep: list[int] = []
        for j, i in enumerate(live):
            top = None if logp is None else (logp[0][j], logp[1][j], logp[2][j])
            if not _advance(rows[i], int(chosen[j]), top, tokenizer, eos_ids):
                keep.append(j)
        if len(keep) < len(live):
            live = [live[j] for j in keep]
            if not live:
                break
            index = torch.tensor(keep, device=device)
            cache.batch_select_indices(index)
            chosen, mask, pos = chosen[index], mask[index], pos[index]
        ids = chosen.unsqueeze(-1)
        mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=-1)
        pos = pos[:, -1:] + 1
        step += 1


def _left_pad(
    prompts: list[tuple[int, ...]], pad_id: int, device: Any
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ids, attention mask and position ids, each ``(batch, max_len)``, padded on the left."""
    import torch

    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, prompt in enumerate(prompts):
        if prompt:
            ids[i, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
            mask[i, width - len(prompt) :] = 1
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    return ids.to(device), mask.to(device), pos.to(device)


def _forward(
    model: Any,
    ids: torch.Tensor,
    mask: torch.Tensor,
    pos: torch.Tensor,
    cache: Any,
    spec: ForwardSpec,
) -> Any:
    """One forward pass over ``ids`` ``(batch, new_len)``; returns the model's raw output."""
    kwargs: dict[str, Any] = {
        "input_ids": ids,
        "attention_mask": mask,
        "position_ids": pos,
        "use_cache": True,
        spec.cache_kwarg: cache,
    }
    if spec.logits_kwarg is not None:
        kwargs[spec.logits_kwarg] = 1
    return model(**kwargs)


def _logits_and_cache(out: Any) -> tuple[torch.Tensor, Any]:
    """The last position's logits ``(batch, vocab)`` in fp32, and the updated KV cache."""
    new_cache = getattr(out, "cache", None)
    if new_cache is None:
        new_cache = out.past_key_values
    logits: torch.Tensor = out.logits[:, -1, :].float()
    return logits, new_cache


def _choose(logits: torch.Tensor, rows: list[_Row]) -> torch.Tensor:
    """Next id per row ``(batch,)``: argmax for greedy rows, a nucleus sample for the rest."""
    import torch

    greedy = logits.argmax(dim=-1)
    if all(row.generator is None for row in rows):
        return greedy
    temps = torch.tensor([max(r.request.temperature, 1e-6) for r in rows], device=logits.device)
    top_p = torch.tensor([r.request.top_p for r in rows], device=logits.device)
    draws = [
        0.0 if r.generator is None else float(torch.rand((), generator=r.generator)) for r in rows
    ]
    uniform = torch.tensor(draws, device=logits.device, dtype=logits.dtype)
    probs = torch.softmax(logits / temps.unsqueeze(-1), dim=-1)
    sorted_p, order = torch.sort(probs, dim=-1, descending=True, stable=True)
    # Keep the smallest prefix whose mass reaches top_p, and the first token always: a
    # top_p that underflows to 0 in float32 (1e-46) kept none, and the pick fell on the
    # least likely token of the vocabulary.
    before = sorted_p.cumsum(dim=-1) - sorted_p
    keep = before < top_p.unsqueeze(-1)
    keep[:, 0] = True
    sorted_p = torch.where(keep, sorted_p, torch.zeros_like(sorted_p))
    cdf = sorted_p.cumsum(dim=-1)
    target = (uniform * cdf[:, -1]).unsqueeze(-1)
    pick = torch.searchsorted(cdf, target, right=True).clamp(max=cdf.shape[-1] - 1)
    sampled = order.gather(-1, pick).squeeze(-1)
    is_greedy = torch.tensor([r.generator is None for r in rows], device=logits.device)
    return torch.where(is_greedy, greedy, sampled)


def _wants_logprobs(rows: list[_Row], live: list[int]) -> bool:
    return any(rows[i].request.logprobs for i in live)


def _logprobs(
    logits: torch.Tensor, chosen: torch.Tensor
) -> tuple[list[float], list[list[float]], list[list[int]]]:
    """Log-probability of each chosen id and the ``TOP_LOGPROBS`` best alternatives."""
    import torch

    logp = torch.log_softmax(logits, dim=-1)
    picked = logp.gather(-1, chosen.unsqueeze(-1)).squeeze(-1)
    k = min(TOP_LOGPROBS, logp.shape[-1])
    top_v, top_i = logp.topk(k, dim=-1)
    return picked.tolist(), top_v.tolist(), top_i.tolist()


def _advance(
    row: _Row,
    token: int,
    top: tuple[float, list[float], list[int]] | None,
    tokenizer: TokenText,
    eos_ids: frozenset[int],
) -> bool:
    """Record ``token`` for ``row``; True when the row has finished."""
    row.n_generated += 1
    if token in eos_ids:
        row.reason = "eos"
        return True
    row.ids.append(token)
    if row.request.logprobs and top is not None:
        row.logprobs.append(_token_logprob(token, top, tokenizer))
    if row.request.stop and _stop_at(_text(row.ids, tokenizer), row.request.stop) is not None:
        row.reason = "stop"
    elif len(row.ids) >= row.request.max_new_tokens:
        row.reason = "length"
    return row.reason is not None


def _token_logprob(
    token: int, top: tuple[float, list[float], list[int]], tokenizer: TokenText
) -> TokenLogprob:
    alternatives: dict[str, float] = {}
    for value, alt in zip(top[1], top[2], strict=True):
        alternatives.setdefault(tokenizer.decode([alt]), value)
    return TokenLogprob(token=tokenizer.decode([token]), logprob=top[0], top=alternatives)


def _text(ids: list[int], tokenizer: TokenText) -> str:
    return tokenizer.decode(ids, skip_special_tokens=True)


def _stop_at(text: str, stops: tuple[str, ...]) -> int | None:
    """Index of the earliest stop string in ``text``, or None."""
    hits = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(hits) if hits else None


def _result(row: _Row, tokenizer: TokenText) -> DecodeResult:
    text = _text(row.ids, tokenizer)
    cut = _stop_at(text, row.request.stop) if row.request.stop else None
    if cut is not None:
        text = text[:cut]
    return DecodeResult(
        token_ids=tuple(row.ids),
        text=text,
        n_generated=row.n_generated,
        finish_reason=row.reason or "length",
        logprobs=list(row.logprobs) if row.request.logprobs else None,
    )


@dataclass(frozen=True)
class BatchStats:
    """How the micro-batcher grouped requests so far."""

    batches: int = 0
    requests: int = 0
    largest: int = 0


class MicroBatcher(Generic[J, R]):
    """Gathers jobs submitted within ``window_s`` (up to ``max_batch``) into one call of ``run``.

    ``run`` executes on ``executor()``, one batch at a time; jobs that arrive meanwhile
    form the next batch. If ``run`` raises, ``fail(exc)`` answers every job of the batch.
    """

    def __init__(
        self,
        run: Callable[[list[J]], list[R]],
        fail: Callable[[Exception], R],
        executor: Callable[[], ThreadPoolExecutor],
        max_batch: int,
        window_s: float,
    ) -> None:
        self._run, self._fail, self._executor = run, fail, executor
        self._max_batch, self._window_s = max_batch, window_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[tuple[J, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None
        self.stats = BatchStats()

    async def submit(self, job: J) -> R:
        """Queue ``job`` and wait for its result."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop: anything queued on the old one is gone
            self._loop, self._pending, self._task = loop, [], None
        future: asyncio.Future[R] = loop.create_future()
        self._pending.append((job, future))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            if len(self._pending) < self._max_batch:
                await asyncio.sleep(self._window_s)
            batch = [(j, f) for j, f in self._pending[: self._max_batch] if not f.done()]
            del self._pending[: self._max_batch]
            if not batch:
                continue
            jobs = [j for j, _ in batch]
            try:
                results = await loop.run_in_executor(self._executor(), self._run, jobs)
            except Exception as exc:  # the executor was shut down, or run itself failed
                results = [self._fail(exc) for _ in jobs]
            s = self.stats
            self.stats = BatchStats(
                s.batches + 1, s.requests + len(jobs), max(s.largest, len(jobs))
            )
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
