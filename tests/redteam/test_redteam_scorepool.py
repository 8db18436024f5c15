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


def test_workers_exit_when_the_campaign_is_killed_outright(tmp_path: object) -> None:
    """SIGKILL of the campaign left its scoring workers running forever, children of init
    (they hold the write end of the queue they wait on, so no end-of-file ever comes)."""
    import subprocess
    import sys
    import time

    script = (
        "import asyncio, sys, time\n"
        "from alignkit.redteam._scorepool import ScorePool\n"
        "async def main():\n"
        "    pool = ScorePool(require_markers=True, workers=2)\n"
        "    await pool.start()\n"
        "    print(*pool._executor._processes, flush=True)\n"
        "    time.sleep(60)\n"
        "asyncio.run(main())\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    workers = [int(p) for p in proc.stdout.readline().split()]
    assert len(workers) == 2
    proc.kill()
    proc.wait()

    def alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        with open(f"/proc/{pid}/stat") as f:  # a zombie waiting for init counts as gone
            return f.read().split(") ")[1].split()[0] != "Z"

    deadline = time.monotonic() + 20
    while any(alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [p for p in workers if alive(p)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left
