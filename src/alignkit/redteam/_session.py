"""Sending attack queries: per-behaviour budgets, stored attempts, resume without repeats.

A strategy talks to one :class:`Session` per behaviour: it hands over queries, the
session numbers them (1, 2, 3, ... within the behaviour), enforces the query budget and
passes them to a channel, which sends and scores them. Two channels exist:

* :class:`StoreChannel` (campaigns) keys each query with :func:`alignkit.store.attempt_key`
  over (run, producer, messages, the request parameters), answers keys already in the
  store from the store, and writes every new attempt — with its score — as soon as it
  completes. Strategies are deterministic given their completions, so a resumed run
  retraces the same path and finds every earlier query in the store.
* :class:`CheckChannel` (audit checks) sends through the check context, which stores
  and resumes attempts in the audit's own way.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from alignkit.core import (
    ChatModel,
    CheckContext,
    Completion,
    Decoding,
    Message,
)
from alignkit.models import generate_batch
from alignkit.redteam._behaviours import Behaviour
from alignkit.redteam._scorepool import ScorePool
from alignkit.redteam._scoring import Score, Scorer
from alignkit.store import AttemptRecord, AttemptWriter, attempt_key, request_seed

if TYPE_CHECKING:
    from alignkit.redteam._prior import Prior

__all__ = [
    "Attempt",
    "AuxChannel",
    "Channel",
    "CheckChannel",
    "Query",
    "Session",
    "StoreChannel",
]

_log = logging.getLogger(__name__)
ProgressFn = Callable[[int], None]


@dataclass(frozen=True)
class Query:
    """One conversation to send, and what produced it.

    Attributes:
        messages: The conversation.
        attack: Attack id (a library id, ``crescendo.<ladder>``, ``pair``, ...).
        family: The attack's family, for per-family reporting.
        converters: Converter ids applied to the request, in order.
        rewrites: Rewrite ids applied to the request.
        turn: 1-based user turn within a multi-turn attack (0 for single-turn).
        tag: Free-form provenance (e.g. ``stream 2, depth 3``).
        asks: Whether this turn asks for the behaviour itself. A reply to a turn that
            does not (a crescendo's harmless opening) succeeds only on marker evidence.
    """

    messages: list[Message]
    attack: str
    family: str
    converters: tuple[str, ...] = ()
    rewrites: tuple[str, ...] = ()
    turn: int = 0
    tag: str = ""
    asks: bool = True

    def meta(self) -> dict[str, Any]:
        """The query's provenance as stored with its attempt."""
        return {
            "attack": self.attack,
            "family": self.family,
            "converters": list(self.converters),
            "rewrites": list(self.rewrites),
            "turn": self.turn,
            "tag": self.tag,
            "asks": self.asks,
        }


@dataclass(frozen=True)
class Attempt:
    """A sent (or stored) query with its completion and score."""

    query: Query
    index: int
    completion: Completion
    score: Score

    @property
    def success(self) -> bool:
        """Whether the attempt broke the behaviour."""
        return self.score.outcome == "success"


class Channel(Protocol):
    """Sends numbered queries for one behaviour and returns scored attempts in order."""

    async def send(
        self, behaviour: Behaviour, numbered: Sequence[tuple[int, Query]]
    ) -> list[Attempt]:
        """Attempts for ``numbered`` (``(index, query)`` pairs), in order."""
        ...


class Session:
    """One behaviour's attack: a query budget, the attempts so far, early stop on success."""

    def __init__(
        self,
        behaviour: Behaviour,
        channel: Channel,
        budget: int,
        *,
        stop_on_success: bool = True,
    ) -> None:
        self.behaviour = behaviour
        self.channel = channel
        self.budget = budget
        self.stop_on_success = stop_on_success
        self.attempts: list[Attempt] = []
        self.prior: Prior | None = None
        """What earlier behaviours of the campaign taught (set by the scheduler)."""
        self._next = 1

    @property
    def remaining(self) -> int:
        """Queries left in the budget."""
        return max(0, self.budget - (self._next - 1))

    @property
    def succeeded(self) -> bool:
        """Whether any attempt so far succeeded."""
        return any(a.success for a in self.attempts)

    @property
    def done(self) -> bool:
        """Budget spent, or a success with ``stop_on_success``."""
        return self.remaining <= 0 or (self.stop_on_success and self.succeeded)

    async def ask(self, queries: Sequence[Query]) -> list[Attempt]:
        """Send up to the remaining budget of ``queries``; nothing once :attr:`done`."""
        if self.done or not queries:
            return []
        take = list(queries[: self.remaining])
        numbered = [(self._next + i, q) for i, q in enumerate(take)]
        self._next += len(take)
        got = await self.channel.send(self.behaviour, numbered)
        self.attempts.extend(got)
        return got


def _usage(completion: Completion) -> dict[str, int]:
    return {
        "prompt_tokens": completion.usage.prompt_tokens,
        "completion_tokens": completion.usage.completion_tokens,
    }


def _stored_score(record: AttemptRecord) -> Score | None:
    raw = record.params.get("score")
    if not isinstance(raw, Mapping):
        return None
    try:
        return Score.model_validate(raw)
    except ValueError:
        return None


@dataclass
class StoreChannel:
    """Campaign channel: keyed, stored as completed, answered from the store on resume."""

    model: ChatModel
    run_id: str
    producer: str
    writer: AttemptWriter
    stored: Mapping[str, AttemptRecord]
    scorer: Scorer
    decoding: Decoding
    seed: int
    concurrency: int
    progress: ProgressFn | None = None
    pool: ScorePool | None = None
    sent: int = 0
    reused: int = 0

    def params(self, behaviour: Behaviour, query: Query, index: int) -> dict[str, Any]:
        """The request parameters the attempt key covers."""
        d = self.decoding
        return {
            "temperature": d.temperature,
            "top_p": d.top_p,
            "max_tokens": d.max_tokens,
            "redteam": {
                "behaviour": behaviour.id,
                "category": behaviour.category,
                "q": index,
                **query.meta(),
            },
        }

    async def send(
        self, behaviour: Behaviour, numbered: Sequence[tuple[int, Query]]
    ) -> list[Attempt]:
        """Attempts for ``numbered``: stored ones from the store, the rest sent and stored."""
        results: list[Attempt | None] = [None] * len(numbered)
        pending: list[tuple[int, str, dict[str, Any]]] = []
        for i, (index, query) in enumerate(numbered):
            params = self.params(behaviour, query, index)
            key = attempt_key(self.run_id, self.producer, query.messages, params, 0)
            record = self.stored.get(key)
            if record is None:
                pending.append((i, key, params))
                continue
            score = _stored_score(record) or self.scorer.score(
                behaviour, query.messages, record.completion, asks=query.asks
            )
            results[i] = Attempt(query, index, record.completion, score)
            self.reused += 1
        if pending:
            await self._send(behaviour, numbered, pending, results)
        return [r for r in results if r is not None]

    async def _send(
        self,
        behaviour: Behaviour,
        numbered: Sequence[tuple[int, Query]],
        pending: list[tuple[int, str, dict[str, Any]]],
        results: list[Attempt | None],
    ) -> None:
        async def finish(j: int, completion: Completion) -> None:
            i, key, params = pending[j]
            index, query = numbered[i]
            if self.pool is not None:
                score = await self.pool.score(
                    behaviour, query.messages, completion, asks=query.asks
                )
            else:
                score = await self.scorer.ascore(
                    behaviour, query.messages, completion, asks=query.asks
                )
            self.writer.add(
                AttemptRecord(
                    key=key,
                    run_id=self.run_id,
                    producer=self.producer,
                    messages=list(query.messages),
                    params={**params, "score": score.dump(), "usage": _usage(completion)},
                    sample_index=0,
                    completion=completion,
                )
            )
            results[i] = Attempt(query, index, completion, score)
            self.sent += 1
            if self.progress is not None:
                self.progress(1)

        scoring: list[asyncio.Task[None]] = []

        def record(j: int, completion: Completion) -> None:
            # Score and store off the request slot, so a slow scorer never holds a slot.
            scoring.append(asyncio.ensure_future(finish(j, completion)))

        d = self.decoding
        try:
            await generate_batch(
                self.model,
                [numbered[i][1].messages for i, _, _ in pending],
                concurrency=self.concurrency,
                max_tokens=d.max_tokens,
                temperature=d.temperature,
                top_p=d.top_p,
                seeds=[
                    request_seed(self.seed, self.producer, numbered[i][1].messages, params, 0)
                    for i, _, params in pending
                ],
                on_result=record,
            )
        finally:
            await asyncio.gather(*scoring)


@dataclass
class CheckChannel:
    """Audit-check channel: requests go through the check context (stored, resumable)."""

    ctx: CheckContext
    producer: str
    scorer: Scorer
    decoding: Decoding

    async def send(
        self, behaviour: Behaviour, numbered: Sequence[tuple[int, Query]]
    ) -> list[Attempt]:
        """Attempts for ``numbered``, scored with the rule and trained tiers."""
        done = await self.ctx.generate(
            [q.messages for _, q in numbered], decoding=self.decoding, producer=self.producer
        )
        return [
            Attempt(q, index, c, self.scorer.score(behaviour, q.messages, c, asks=q.asks))
            for (index, q), c in zip(numbered, done, strict=True)
        ]


@dataclass
class AuxChannel:
    """Requests to an auxiliary model (attacker, translator), stored and reused on resume.

    Calls with the same ``tag`` and messages are told apart by their order, so a caller
    that makes them in a deterministic order gets the same replies back on resume.
    """

    model: ChatModel
    run_id: str
    producer: str
    writer: AttemptWriter | None
    stored: Mapping[str, AttemptRecord]
    seed: int
    temperature: float = 1.0
    max_tokens: int = 256
    sent: int = 0
    failed: int = 0
    _seen: Counter[str] = field(default_factory=Counter)
    _memo: dict[str, Completion] = field(default_factory=dict)

    async def ask(
        self,
        messages: list[Message],
        tag: str,
        *,
        temperature: float | None = None,
        memo: bool = False,
    ) -> Completion:
        """The auxiliary model's reply to ``messages`` (from the store when already asked).

        With ``memo`` a repeated ``(tag, messages)`` gets the first reply again instead
        of a fresh one (for a translator; an attacker wants fresh samples).
        """
        temp = self.temperature if temperature is None else temperature
        params = {"temperature": temp, "max_tokens": self.max_tokens, "tag": tag}
        base = attempt_key(self.run_id, self.producer, messages, params, 0)
        if memo and base in self._memo:
            return self._memo[base]
        index = 0 if memo else self._seen[base]
        self._seen[base] += 1
        key = (
            base if index == 0 else attempt_key(self.run_id, self.producer, messages, params, index)
        )
        hit = self.stored.get(key)
        if hit is not None:
            done = hit.completion
        else:
            done = await self.model.generate(
                messages,
                max_tokens=self.max_tokens,
                temperature=temp,
                seed=request_seed(self.seed, self.producer, messages, params, index),
            )
            self.sent += 1
            if not done.ok:
                self.failed += 1
                if self.failed == 1:  # once: an attacker that cannot work fails every call
                    _log.warning(
                        "%s (%s) failed: %s; failed calls are not stored, and an attacker"
                        " that keeps failing writes no prompts",
                        self.model.uri, self.producer, done.error or done.outcome.value,
                    )  # fmt: skip
            if self.writer is not None and done.ok:
                self.writer.add(
                    AttemptRecord(
                        key, self.run_id, self.producer, list(messages), params, index, done
                    )
                )
        if memo and done.ok:
            self._memo[base] = done
        return done

    def helper(
        self, tag: str, *, temperature: float | None = None, memo: bool = False
    ) -> Callable[[list[Message]], Awaitable[Completion]]:
        """A converter :data:`~alignkit.redteam.Helper` bound to ``tag``."""

        async def call(messages: list[Message]) -> Completion:
            return await self.ask(messages, tag, temperature=temperature, memo=memo)

        return call
