"""What a campaign learns across behaviours, without giving up reproducibility.

A red teamer who has broken ten behaviours knows which framings this target gives in
to; the search attacker does the same. Behaviours start in file order, at most
``window`` at a time, and behaviour *i* starts with the :class:`Prior` of behaviours
``0 … i − window`` — all of which have finished by then. That set, and so the prior,
is the same in every run with the same seed and the same replies, so a resumed campaign
still retraces its path and finds every earlier query in the store.

The prior counts, per attack, the attempts that were sent and the successes among them
(an attempt that could not be sent — a prompt too long for the target, say — counts as
a try that did not work). Nothing in it comes from the target's documentation.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

from alignkit.redteam._session import Attempt, Session

__all__ = ["Prior", "run_windowed"]


@dataclass(frozen=True)
class Prior:
    """Per attack: ``(successes, tries)`` over the behaviours attacked so far.

    Attributes:
        counts: Attack id → (successes, tries).
        families: Family → (successes, tries), summed over its attacks.
    """

    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    families: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def tries(self) -> int:
        """Attempts counted."""
        return sum(n for _, n in self.families.values())

    def plus(self, attempts: Iterable[Attempt]) -> Prior:
        """A new prior that also counts ``attempts``."""
        counts = dict(self.counts)
        families = dict(self.families)
        for a in attempts:
            if a.score.outcome == "blocked":
                continue  # a provider's filter is not the target's behaviour
            hit = int(a.success)
            s, n = counts.get(a.query.attack, (0, 0))
            counts[a.query.attack] = (s + hit, n + 1)
            s, n = families.get(a.query.family, (0, 0))
            families[a.query.family] = (s + hit, n + 1)
        return Prior(counts, families)

    def draw(self, attack: str, family: str, rng: random.Random, cap: float = 20.0) -> float:
        """A Thompson draw of ``attack``'s success chance, shrunk towards its family's.

        The evidence is capped at ``cap`` pseudo-attempts, so a behaviour that resists
        what worked elsewhere still gets to explore.
        """
        fs, fn = self.families.get(family, (0, 0))
        s, n = self.counts.get(attack, (0, 0))
        mean = (fs + 1.0) / (fn + 2.0)
        weight = min(1.0, cap / n) if n else 0.0
        alpha = 1.0 + 2.0 * mean + weight * s
        beta = 1.0 + 2.0 * (1.0 - mean) + weight * (n - s)
        return rng.betavariate(alpha, beta)


StartFn = Callable[[Session], Awaitable[None]]


class _Window:
    """Starts behaviour *i* once behaviours ``0 … i − window`` have all finished."""

    def __init__(self, sessions: Sequence[Session], window: int) -> None:
        self.sessions = sessions
        self.window = max(1, window)
        self.finished = [False] * len(sessions)
        self.prefix = 0  # behaviours 0 … prefix − 1 have finished
        self.snapshots = [Prior()]  # snapshots[k]: the prior of behaviours 0 … k − 1
        self.cond = asyncio.Condition()

    async def prior_for(self, i: int) -> Prior:
        need = max(0, i - self.window + 1)
        async with self.cond:
            await self.cond.wait_for(lambda: self.prefix >= need)
        return self.snapshots[need]

    async def finish(self, i: int) -> None:
        async with self.cond:
            self.finished[i] = True
            while self.prefix < len(self.sessions) and self.finished[self.prefix]:
                done = self.sessions[self.prefix].attempts
                self.snapshots.append(self.snapshots[self.prefix].plus(done))
                self.prefix += 1
            self.cond.notify_all()


async def run_windowed(sessions: Sequence[Session], start: StartFn, window: int) -> None:
    """Run ``start(session)`` for every session, each with its :class:`Prior` set first.

    With ``window >= len(sessions)`` every behaviour starts at once with an empty prior.
    """
    sched = _Window(sessions, window)

    async def one(i: int) -> None:
        try:
            sessions[i].prior = await sched.prior_for(i)
            await start(sessions[i])
        finally:
            await sched.finish(i)

    await asyncio.gather(*(one(i) for i in range(len(sessions))))
