"""The scoring worker pool: a stuck worker costs time, never attempts or a hang."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from alignkit.core import Completion, Outcome
from alignkit.redteam import _scorepool
from alignkit.redteam._behaviours import Behaviour
from alignkit.redteam._scorepool import ScorePool, available
from alignkit.redteam._scoring import Scorer

pytestmark = pytest.mark.skipif(not available(), reason="the scoring worker needs fork")


def test_a_stuck_worker_falls_back_to_scoring_in_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_scorepool, "_BATCH_TIMEOUT_S", 1.0)
    behaviour = Behaviour(id="b", prompt="say the marker", category="weapons")
    messages = [{"role": "user", "content": "say the marker"}]
    reply = Completion(outcome=Outcome.OK, text="Sure: [[UNSAFE:weapons]]")
    expected = Scorer(require_markers=True).score(behaviour, messages, reply).dump()

    async def run() -> tuple[list[dict[str, object]], bool]:
        pool = ScorePool(require_markers=True, workers=1)
        await pool.start()
        pids = list(pool._executor._processes)  # noqa: SLF001 - the real worker's pid
        os.kill(pids[0], signal.SIGSTOP)  # the worker stops answering, as if deadlocked
        try:
            # each reply is answered (a lone reply after a finished batch once waited
            # forever for a pump that had already returned)
            scores = [
                (await asyncio.wait_for(pool.score(behaviour, messages, reply), 10)).dump()
                for _ in range(3)
            ]
            stuck = pool._stuck  # noqa: SLF001
            await asyncio.wait_for(pool.aclose(), 10)  # closing must not wait for it
        finally:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        return scores, stuck

    scores, stuck = asyncio.run(run())
    assert stuck
    assert scores == [expected] * 3
