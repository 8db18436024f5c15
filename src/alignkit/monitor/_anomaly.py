"""Anomaly alarms on event rates (refusals, blocks, escalations, errors): EWMA z-scores.

Each rate is a stream of yes/no events. Its reference rate is estimated from the first
``reference`` events; an exponentially weighted moving average ``e_t = λ·x_t + (1 −
λ)·e_{t−1}`` then tracks the recent rate. An EWMA of a Bernoulli stream is a weighted
count over about ``n = (2 − λ)/λ`` events, and for rare events its distribution is far
from normal, so the z-score is taken from the exact binomial tail: the probability of
``e_t·n`` or more events out of ``n`` at the reference rate, turned into the standard
normal quantile with the same upper tail. To allow for the reference rate being an
estimate, the tail uses its Wilson upper bound (two standard errors). The alarm is
``z ≥ limit``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from alignkit.core import ConfigError

__all__ = ["RateAlarm", "RateState"]


@dataclass
class RateState:
    """Where one rate stands.

    Attributes:
        name: The rate (``block``, ``refusal``, ...).
        reference_rate: The rate in the reference (``None`` until it is set).
        rate: The EWMA of the rate now.
        z: Its z-score against the reference.
        n: Events observed after the reference.
        alarm: Whether the z-score is at or above the limit now.
        alarms: How many times it has crossed the limit.
    """

    name: str
    reference_rate: float | None = None
    rate: float = 0.0
    z: float = 0.0
    n: int = 0
    alarm: bool = False
    alarms: int = 0


class RateAlarm:
    """An EWMA control chart on one event rate.

    Args:
        name: The rate's name.
        reference: Events used to estimate the reference rate.
        lam: EWMA weight of the newest event.
        limit: z-score at which it alarms.
    """

    def __init__(
        self, name: str, *, reference: int = 2000, lam: float = 0.01, limit: float = 4.5
    ) -> None:
        if not (reference >= 1 and 0 < lam < 1 and 0 < limit < math.inf):
            raise ConfigError("need reference >= 1, 0 < lam < 1 and a finite limit > 0")
        self.name = name
        self.reference = reference
        self.lam = lam
        self.limit = limit
        self._ref_events: list[bool] = []
        self._ewma = 0.0
        self._bound = 0.0
        self.state = RateState(name)

    @property
    def ready(self) -> bool:
        """Whether the reference rate is set."""
        return self.state.reference_rate is not None

    def set_reference(self, events: int, total: int) -> None:
        """Set the reference rate from ``events`` out of ``total``."""
        rate = (events + 0.5) / (total + 1.0)
        z2 = 4.0
        centre = rate + z2 / (2 * total)
        spread = math.sqrt(z2) * math.sqrt(rate * (1 - rate) / total + z2 / (4 * total * total))
        self._bound = min(1.0 - 1e-9, (centre + spread) / (1 + z2 / total))
        self._ewma = rate
        self.state = RateState(self.name, reference_rate=rate, rate=rate)

    def scores(self, ewma: NDArray[np.float64]) -> NDArray[np.float64]:
        """z-scores of EWMA values (see the module docs)."""
        from scipy.special import betainc, ndtri

        n = (2.0 - self.lam) / self.lam
        k = np.clip(ewma * n, 1e-9, n)
        tail = np.where(ewma > 0, betainc(k, n - k + 1.0, self._bound), 1.0)
        # stats.norm.isf(q) is -ndtri(q); called directly, without scipy.stats' per-call cost
        return np.asarray(-ndtri(np.clip(tail, 1e-300, 1.0)), dtype=np.float64)

    def update(self, events: Sequence[bool] | NDArray[np.bool_]) -> bool:
        """Observe events; whether the chart newly crossed its limit."""
        from scipy.signal import lfilter

        x = np.asarray(events, dtype=np.float64)
        if not self.ready:
            need = self.reference - len(self._ref_events)
            self._ref_events.extend(bool(v) for v in x[:need])
            x = x[need:]
            if len(self._ref_events) < self.reference:
                return False
            self.set_reference(sum(self._ref_events), len(self._ref_events))
            self._ref_events = []
        if x.size == 0:
            return False
        z, _ = lfilter([self.lam], [1.0, -(1.0 - self.lam)], x, zi=[(1 - self.lam) * self._ewma])
        scores = self.scores(np.asarray(z, dtype=np.float64))
        st = self.state
        above = scores >= self.limit
        before = np.concatenate([[st.alarm], above[:-1]])
        crossings = int(np.count_nonzero(above & ~before))
        self._ewma = float(z[-1])
        st.rate, st.z, st.n = self._ewma, float(scores[-1]), st.n + int(x.size)
        st.alarm = bool(above[-1])
        st.alarms += crossings
        return crossings > 0
