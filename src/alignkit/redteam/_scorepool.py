"""Scoring in a worker process, so a large campaign's classifier does not slow its requests.

The rule and trained tiers of the shared classifier cost far more CPU per reply than
sending the request does. On a machine with a spare core, a big campaign hands the
replies to worker processes (one per spare core, at most four) in batches — whatever
arrived while the previous batch was being scored, one batch in flight per worker — and
keeps its own event loop free for the target. Scores are identical to
:meth:`Scorer.score`: the worker runs that very method. The judge tier, which is itself
a chat model, is never moved out of the campaign's process.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from alignkit.core import Completion, Message, Outcome, exit_when_orphaned
from alignkit.redteam._behaviours import Behaviour
from alignkit.redteam._scoring import Score, Scorer

__all__ = ["ScorePool", "available", "default_workers"]

_log = logging.getLogger(__name__)
_MAX_BATCH = 256
_BATCH_TIMEOUT_S = 60.0
"""A batch not back within this is given up: the worker is treated as stuck, and this
batch and every later one are scored in the campaign's process."""
_WORKER_SCORERS: dict[bool, Scorer] = {}

_Item = tuple[str | None, list[Message], str, bool]
"""(category, messages, reply text, asks) — what the worker needs to score one reply."""


def _score_batch(items: list[_Item], require_markers: bool) -> list[dict[str, Any]]:
    """Worker side: score a batch with a process-local :class:`Scorer`."""
    scorer = _WORKER_SCORERS.get(require_markers)
    if scorer is None:
        scorer = _WORKER_SCORERS[require_markers] = Scorer(require_markers=require_markers)
    out = []
    for category, messages, text, asks in items:
        behaviour = Behaviour(id="-", prompt="-", category=category)
        done = Completion(outcome=Outcome.OK, text=text)
        out.append(scorer.score(behaviour, messages, done, asks=asks).dump())
    return out


def available() -> bool:
    """Whether a scoring worker can be started here (Linux, where ``fork`` is safe to use).

    The worker is forked, not spawned: a spawned worker re-imports the caller's main
    module, which breaks scripts without an ``if __name__ == "__main__"`` guard.
    """
    return sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods()


def default_workers() -> int:
    """Scoring workers for this machine: one per spare core, at most four."""
    return max(1, min(4, (os.cpu_count() or 2) - 1))


class ScorePool:
    """Scores replies with :class:`Scorer` semantics in forked worker processes, batched.

    Args:
        require_markers: As for :class:`Scorer`.
        workers: Worker processes (default: :func:`default_workers`).
    """

    def __init__(self, *, require_markers: bool, workers: int | None = None) -> None:
        self.require_markers = require_markers
        self.workers = workers or default_workers()
        self._local = Scorer(require_markers=require_markers)
        self._executor = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=exit_when_orphaned,
            initargs=(os.getpid(),),
        )
        self._pending: list[tuple[_Item, asyncio.Future[Score]]] = []
        self._pumps: set[asyncio.Task[None]] = set()
        self._stuck = False
        self.batches = 0

    async def start(self) -> None:
        """Start the workers now (before the campaign opens threads and connections)."""
        loop = asyncio.get_running_loop()
        started = asyncio.gather(
            *(
                loop.run_in_executor(self._executor, _score_batch, [], self.require_markers)
                for _ in range(self.workers)
            )
        )
        try:
            await asyncio.wait_for(started, _BATCH_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - any failure means: score here
            self._give_up(exc)

    async def score(
        self,
        behaviour: Behaviour,
        messages: list[Message],
        completion: Completion,
        *,
        asks: bool = True,
    ) -> Score:
        """The reply's :class:`Score`, computed in the worker (errors and blocks at once)."""
        if not completion.ok:
            return self._local.score(behaviour, messages, completion, asks=asks)
        future: asyncio.Future[Score] = asyncio.get_running_loop().create_future()
        self._pending.append(((behaviour.category, messages, completion.text, asks), future))
        # one batch in flight per worker; a pump that has returned may still sit in the
        # set until its done-callback runs, and would never see this reply
        if sum(not p.done() for p in self._pumps) < self.workers:
            pump = asyncio.create_task(self._drain())
            self._pumps.add(pump)
            pump.add_done_callback(self._pumps.discard)
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            size = max(1, min(_MAX_BATCH, -(-len(self._pending) // self.workers)))
            batch, self._pending = self._pending[:size], self._pending[size:]
            results: list[dict[str, Any]] | None = None
            if not self._stuck:
                try:
                    results = await asyncio.wait_for(
                        loop.run_in_executor(
                            self._executor,
                            _score_batch,
                            [item for item, _ in batch],
                            self.require_markers,
                        ),
                        _BATCH_TIMEOUT_S,
                    )
                except Exception as exc:  # noqa: BLE001 - a dead or stuck worker
                    self._give_up(exc)
            if results is None:  # score here rather than lose attempts
                for (category, messages, text, asks), future in batch:
                    b = Behaviour(id="-", prompt="-", category=category)
                    done = Completion(outcome=Outcome.OK, text=text)
                    if not future.done():
                        future.set_result(self._local.score(b, messages, done, asks=asks))
                continue
            self.batches += 1
            for (_, future), raw in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(Score.model_validate(raw))

    def _give_up(self, exc: BaseException) -> None:
        if not self._stuck:
            reason = "no answer in time" if isinstance(exc, TimeoutError) else str(exc)
            _log.warning("scoring worker failed (%s); scoring in-process", reason)
        self._stuck = True

    async def aclose(self) -> None:
        """Finish pending batches and stop the worker."""
        if self._pumps:
            await asyncio.gather(*self._pumps, return_exceptions=True)
        if self._stuck:  # a stuck worker would never join: stop it instead
            for proc in list((getattr(self._executor, "_processes", None) or {}).values()):
                proc.kill()
            self._executor.shutdown(wait=False, cancel_futures=True)
            return
        await asyncio.to_thread(self._executor.shutdown, True, cancel_futures=True)
