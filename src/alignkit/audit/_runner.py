"""Sending a check's requests: attempts stored as they complete, stored ones reused on resume."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from alignkit.core import (
    Completion,
    Decoding,
    Message,
    Outcome,
)
from alignkit.models import BUDGET_EXHAUSTED, BoundedModel, generate_batch
from alignkit.store import AttemptRecord, AttemptWriter, attempt_key, request_seed

__all__ = ["BUDGET_EXHAUSTED", "AttemptLog"]

ProgressFn = Callable[[str, int, int], None]
"""``progress(producer, advance, add_to_total)``."""


@dataclass
class _Batch:
    producer: str
    requests: Sequence[list[Message]]
    keyed: list[tuple[str, int]]
    pending: list[int]
    params: dict[str, object]
    results: list[Completion | None]


class AttemptLog:
    """The :class:`~alignkit.core.AttemptRunner` the audit hands to every check.

    Each request gets a deterministic key from (run, producer, messages, decoding,
    occurrence index); a key already stored is answered from the store, every new
    completion is written as soon as it arrives, and sampled requests get a seed
    derived from the run seed and the key, so a resumed run reproduces the same text.
    """

    def __init__(
        self,
        model: BoundedModel,
        run_id: str,
        writer: AttemptWriter,
        stored: dict[str, AttemptRecord],
        *,
        concurrency: int,
        progress: ProgressFn | None = None,
    ) -> None:
        self._model = model
        self._run_id = run_id
        self._writer = writer
        self._stored = stored
        self._concurrency = concurrency
        self._progress = progress
        self._seen: Counter[str] = Counter()
        self.sent = 0
        self.reused = 0
        self.failed = 0  # sent and stored, but answered with an error
        self.unsent = 0  # requests the run's budget stopped (not stored: a resume sends them)

    def _key(
        self, producer: str, messages: list[Message], params: dict[str, object]
    ) -> tuple[str, int]:
        """The attempt key and occurrence index of this request within the run."""
        base = attempt_key(self._run_id, producer, messages, params, 0)
        index = self._seen[base]
        self._seen[base] += 1
        if index == 0:
            return base, 0
        return attempt_key(self._run_id, producer, messages, params, index), index

    async def __call__(
        self,
        producer: str,
        requests: Sequence[list[Message]],
        *,
        decoding: Decoding,
        seed: int,
        logprobs: bool = False,
    ) -> list[Completion]:
        """Completions for ``requests`` in order (see the class docstring)."""
        params: dict[str, object] = {**asdict(decoding), "logprobs": logprobs}
        keyed = [self._key(producer, list(m), params) for m in requests]
        keys = [k for k, _ in keyed]
        results: list[Completion | None] = [None] * len(requests)
        pending: list[int] = []
        for i, key in enumerate(keys):
            hit = self._stored.get(key)
            if hit is not None:
                results[i] = hit.completion
            else:
                pending.append(i)
        self.reused += len(requests) - len(pending)
        if self._progress:
            self._progress(producer, len(requests) - len(pending), len(requests))
        if pending:
            batch = _Batch(producer, requests, keyed, pending, params, results)
            await self._send(batch, decoding, seed, logprobs)
        return [r if r is not None else Completion.failed("not sent") for r in results]

    async def _send(self, b: _Batch, decoding: Decoding, seed: int, logprobs: bool) -> None:
        def record(j: int, completion: Completion) -> None:
            i = b.pending[j]
            b.results[i] = completion
            if self._progress:
                self._progress(b.producer, 1, 0)
            if completion.outcome is Outcome.ERROR and completion.error == BUDGET_EXHAUSTED:
                self.unsent += 1
                return
            self.sent += 1
            self.failed += completion.outcome is Outcome.ERROR
            key, index = b.keyed[i]
            self._writer.add(
                AttemptRecord(
                    key=key,
                    run_id=self._run_id,
                    producer=b.producer,
                    messages=list(b.requests[i]),
                    params=dict(b.params),
                    sample_index=index,
                    completion=completion,
                )
            )

        await generate_batch(
            self._model,
            [list(b.requests[i]) for i in b.pending],
            concurrency=self._concurrency,
            max_tokens=decoding.max_tokens,
            temperature=decoding.temperature,
            top_p=decoding.top_p,
            seeds=[
                request_seed(seed, b.producer, list(b.requests[i]), b.params, b.keyed[i][1])
                for i in b.pending
            ],
            logprobs=logprobs,
            on_result=record,
        )
