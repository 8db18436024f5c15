"""Drift of one feature of the traffic against its reference window.

**What is reported.** Over the most recent ``window`` values: the population stability
index (PSI) against the reference, the chi-square test of homogeneity of the two
samples' category (or bin) counts, and for numbers the two-sample Kolmogorov–Smirnov
test (both from scipy). Numbers are binned at the reference's deciles.

**When it alarms.** A test on a sliding window needs more data than a sequential test
to see a modest shift: a window of 500 requests carries about as much evidence as the
shift puts into 500 requests, but the window test must also pay, in its threshold, for
being looked at again and again. The alarm therefore comes from CUSUM detectors, the
sequential likelihood-ratio test for a change from a known to a shifted distribution
(Page, 1954), one per direction a shift can take:

* per category (or decile bin): its share goes up, or down — a Bernoulli CUSUM from the
  reference share ``p0`` to the share ``p1`` that, moved alone, gives a PSI of
  ``design_psi``;
* for numbers, on normal scores taken from the reference's empirical distribution: the
  mean goes up or down, the spread grows or shrinks, each by the amount that gives a
  PSI of ``design_psi`` on deciles.

A detector alarms when its statistic exceeds ``threshold`` (in nats). As a catch-all
for large changes of any shape, the window's chi-square test alarms too when its
p-value falls below ``window_alpha``. Shares below ``min_share`` are floored there, so
that a rare category appearing a few times does not alarm; categories never seen in
the reference count as ``(other)``.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from alignkit.core import ConfigError

__all__ = ["CategoricalDrift", "DriftState", "NumericDrift", "psi"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
OTHER = "(other)"
_SMOOTH = 0.5


def psi(expected: FloatArray, actual: FloatArray) -> float:
    """Population stability index of count vectors (0.5 added to every count)."""
    e = (expected + _SMOOTH) / (expected.sum() + _SMOOTH * len(expected))
    a = (actual + _SMOOTH) / (actual.sum() + _SMOOTH * len(actual))
    return float(((a - e) * np.log(a / e)).sum())


def _bernoulli_psi(p0: float, p1: float) -> float:
    """PSI of a change of one category's share from ``p0`` to ``p1``, the rest rescaled."""
    return (p1 - p0) * (math.log(p1 / (1 - p1)) - math.log(p0 / (1 - p0)))


def _bernoulli_design(p0: float, target: float) -> tuple[float | None, float | None]:
    """Shares above and below ``p0`` whose change alone gives PSI ``target``.

    ``None`` where no such share exists (a small share cannot fall by much).
    """
    from scipy.optimize import brentq

    eps = 1e-9

    def gap(p: float) -> float:
        return _bernoulli_psi(p0, p) - target

    up = brentq(gap, p0 + eps, 1 - eps) if gap(1 - eps) > 0 else None
    down = brentq(gap, eps, p0 - eps) if gap(eps) > 0 else None
    return up, down


def _decile_psi(shift: float, scale: float) -> float:
    from scipy import stats

    edges = stats.norm.ppf(np.linspace(0, 1, 11)[1:-1])
    q = np.full(10, 0.1)
    p = np.diff(np.concatenate([[0.0], stats.norm.cdf((edges - shift) / scale), [1.0]]))
    p = np.clip(p, 1e-12, None)
    return float(((p - q) * np.log(p / q)).sum())


MAX_DESIGN_PSI = 2.5
"""The largest shift a normal with a moved mean or scale reaches in the searched ranges."""


@lru_cache(maxsize=16)
def _normal_design(target: float) -> tuple[float, float, float]:
    """(mean shift, larger SD, smaller SD) of a normal giving decile PSI ``target``."""
    from scipy.optimize import brentq

    delta = brentq(lambda d: _decile_psi(d, 1.0) - target, 1e-6, 5.0)
    wide = brentq(lambda s: _decile_psi(0.0, s) - target, 1.0 + 1e-9, 10.0)
    narrow = brentq(lambda s: _decile_psi(0.0, s) - target, 0.05, 1.0 - 1e-9)
    return float(delta), float(wide), float(narrow)


class _Cusums:
    """A bank of one-sided CUSUM statistics, updated a batch at a time."""

    def __init__(self, labels: list[str]) -> None:
        self.labels = labels
        self.s = np.zeros(len(labels))
        self.peak = 0.0

    def update(self, increments: FloatArray, threshold: float) -> tuple[int, int] | None:
        """Add ``increments`` (shape ``(n, m)``); the first (row, column) over ``threshold``."""
        if increments.size == 0:
            return None
        c = np.cumsum(increments, axis=0)
        s = c - np.minimum(-self.s[None, :], np.minimum.accumulate(c, axis=0))
        self.s = s[-1].copy()
        self.peak = max(self.peak, float(s.max()))
        over = s > threshold
        rows = np.flatnonzero(over.any(axis=1))
        if rows.size == 0:
            return None
        row = int(rows[0])
        return row, int(np.argmax(s[row]))

    def top(self) -> tuple[str, float]:
        """The label and value of the largest statistic."""
        i = int(np.argmax(self.s))
        return self.labels[i], float(self.s[i])


@dataclass
class DriftState:
    """Where one feature's drift stands.

    Attributes:
        feature: The feature's name (``input.length``, ...).
        kind: ``numeric`` or ``categorical``.
        psi: PSI of the recent window against the reference.
        chi2_p: p-value of the window's chi-square test against the reference.
        ks_p: p-value of the Kolmogorov–Smirnov test (numbers only).
        ks_stat: The Kolmogorov–Smirnov statistic (numbers only).
        window: Values in the recent window.
        reference: Values in the reference.
        cusum: The largest CUSUM statistic now (nats) and what it tracks.
        alarm_at: Index (count of values seen) at which the alarm was raised.
        alarm_reason: What raised it.
        top_changes: The categories whose share moved most, as ``(name, ref, now)``.
    """

    feature: str
    kind: str
    psi: float = 0.0
    chi2_p: float = 1.0
    ks_p: float | None = None
    ks_stat: float | None = None
    window: int = 0
    reference: int = 0
    cusum: tuple[str, float] = ("", 0.0)
    alarm_at: int | None = None
    alarm_reason: str = ""
    top_changes: list[tuple[str, float, float]] = field(default_factory=list)

    @property
    def alarm(self) -> bool:
        """Whether the feature has alarmed since its reference was set."""
        return self.alarm_at is not None


class CategoricalDrift:
    """Drift of a categorical feature (script, n-gram cluster, ...).

    Args:
        feature: Name used in findings.
        design_psi: The shift each detector is tuned to (PSI).
        threshold: CUSUM alarm threshold in nats.
        window: Values in the recent window the PSI and tests use.
        window_alpha: p-value at which the window's chi-square test alarms as well.
        min_share: Floor on a category's reference share in the detectors.
    """

    kind = "categorical"

    def __init__(
        self,
        feature: str,
        *,
        design_psi: float = 0.1,
        threshold: float = 16.0,
        window: int = 500,
        window_alpha: float = 1e-7,
        min_share: float = 0.005,
    ) -> None:
        if not 0 < design_psi <= MAX_DESIGN_PSI:
            raise ConfigError(f"design_psi must be in (0, {MAX_DESIGN_PSI}], not {design_psi}")
        if not (0 < threshold < math.inf and window >= 1 and 0 < min_share < 0.5):
            raise ConfigError("need a finite threshold > 0, window >= 1, 0 < min_share < 0.5")
        self.feature = feature
        self.design_psi = design_psi
        self.threshold = threshold
        self.window = window
        self.window_alpha = window_alpha
        self.min_share = min_share
        self.categories: list[str] = []
        self._index: dict[str, int] = {}
        self.ref_counts: FloatArray = np.zeros(0)
        self._ring: IntArray = np.full(window, -1, dtype=np.int64)
        self._pos = 0
        self._counts: FloatArray = np.zeros(0)
        self._llr: FloatArray = np.zeros((0, 2))  # per detector: (if present, if absent)
        self._cusums = _Cusums([])
        self.seen = 0
        self.state = DriftState(feature, self.kind)

    # -- reference ------------------------------------------------------------------------

    def fit(self, reference: Sequence[str], categories: Sequence[str] | None = None) -> None:
        """Set the reference window (and clear any alarm).

        Args:
            reference: The reference values.
            categories: All categories, in order (default: those seen, sorted); values
                outside them count as ``(other)``.
        """
        seen = Counter(str(v) for v in reference)
        if not seen:  # it reported a reference of 1 value and no drift from nothing
            raise ConfigError("a drift reference needs at least one value")
        self.categories = list(categories) if categories is not None else sorted(seen)
        if OTHER not in self.categories:
            self.categories.append(OTHER)
        self._index = {c: i for i, c in enumerate(self.categories)}
        counts = np.zeros(len(self.categories))
        for value, times in seen.items():
            counts[self._index.get(value, self._index[OTHER])] += times
        self.ref_counts = counts
        n = max(1.0, float(self.ref_counts.sum()))
        llr, labels = [], []
        for cat, count in zip(self.categories, self.ref_counts, strict=True):
            share = (count + _SMOOTH) / (n + _SMOOTH * len(self.categories))
            p0 = min(max(share, self.min_share), 1 - self.min_share)
            for p1, word in zip(_bernoulli_design(p0, self.design_psi), ("up", "down"),
                                strict=True):  # fmt: skip
                if p1 is None:  # a shift this small cannot move the share that way
                    llr.append((-1.0, -1.0))
                else:
                    llr.append((math.log(p1 / p0), math.log((1 - p1) / (1 - p0))))
                labels.append(f"share of '{cat}' {word}")
        self._llr = np.asarray(llr)
        self._cusums = _Cusums(labels)
        self._ring = np.full(self.window, -1, dtype=np.int64)
        self._pos = 0
        self._counts = np.zeros(len(self.categories))
        self.seen = 0
        self.state = DriftState(self.feature, self.kind, reference=int(n))

    def codes(self, values: Sequence[str]) -> IntArray:
        """Category index of each value (unknown ones as ``(other)``)."""
        other = self._index[OTHER]
        return np.fromiter((self._index.get(v, other) for v in values), np.int64, len(values))

    # -- monitoring -----------------------------------------------------------------------

    def update(self, values: Sequence[str]) -> int | None:
        """Observe ``values``; the index (in values seen) of a new alarm, if one was raised."""
        return self.update_codes(self.codes(values))

    def _slide(self, codes: IntArray) -> None:
        k = len(self.categories)
        codes = codes[-self.window :]
        slots = (self._pos + np.arange(len(codes))) % self.window
        old = self._ring[slots]
        old = old[old >= 0]
        self._counts -= np.bincount(old, minlength=k)
        self._counts += np.bincount(codes, minlength=k)
        self._ring[slots] = codes
        self._pos = int((self._pos + len(codes)) % self.window)

    def update_codes(self, codes: IntArray) -> int | None:
        """:meth:`update` with category indices."""
        if len(codes) == 0:
            return None
        onehot = np.zeros((len(codes), len(self.categories)), dtype=bool)
        onehot[np.arange(len(codes)), codes] = True
        present = np.repeat(onehot, 2, axis=1)
        inc = np.where(present, self._llr[:, 0][None, :], self._llr[:, 1][None, :])
        hit = self._cusums.update(inc, self.threshold)
        self._slide(codes)
        start = self.seen
        self.seen += len(codes)
        st = self.state
        if st.alarm_at is not None:
            return None
        if hit is not None:
            st.alarm_at = start + hit[0] + 1
            st.alarm_reason = f"CUSUM: {self._cusums.labels[hit[1]]}"
            return st.alarm_at
        if self._counts.sum() >= 50:
            p = _chi2_p(self.ref_counts, self._counts)
            if p < self.window_alpha:
                st.alarm_at = self.seen
                st.alarm_reason = f"window chi-square p = {p:.2g}"
                return st.alarm_at
        return None

    def evaluate(self) -> DriftState:
        """PSI, chi-square and the detectors' state over the recent window."""
        st = self.state
        counts = self._counts.copy()
        st.window = int(counts.sum())
        st.cusum = self._cusums.top()
        if st.window == 0:
            return st
        st.psi = psi(self.ref_counts, counts)
        st.chi2_p = _chi2_p(self.ref_counts, counts)
        ref_share = self.ref_counts / max(1.0, self.ref_counts.sum())
        now_share = counts / counts.sum()
        order = np.argsort(-np.abs(now_share - ref_share))[:3]
        st.top_changes = [
            (self.categories[i], float(ref_share[i]), float(now_share[i])) for i in order
        ]
        return st


class NumericDrift:
    """Drift of a numeric feature (text length, ...): decile bins plus mean and spread.

    Takes the arguments of :class:`CategoricalDrift`; the bins are a
    :class:`CategoricalDrift` of their own.
    """

    kind = "numeric"

    def __init__(
        self,
        feature: str,
        *,
        design_psi: float = 0.1,
        threshold: float = 16.0,
        window: int = 500,
        window_alpha: float = 1e-7,
        min_share: float = 0.005,
    ) -> None:
        self.feature = feature
        self.bins = CategoricalDrift(
            feature,
            design_psi=design_psi,
            threshold=threshold,
            window=window,
            window_alpha=window_alpha,
            min_share=min_share,
        )
        self.threshold = self.bins.threshold
        self.edges: FloatArray = np.zeros(0)
        self._ref: FloatArray = np.zeros(0)
        self._mean, self._sd = 0.0, 1.0
        self._normal = _normal_design(self.bins.design_psi)
        self._moments = _Cusums(["mean up", "mean down", "spread up", "spread down"])
        self._spread = True
        self._recent: deque[float] = deque(maxlen=self.bins.window)

    @property
    def state(self) -> DriftState:
        """The feature's drift state."""
        return self.bins.state

    @property
    def seen(self) -> int:
        """Values observed since the reference was set."""
        return self.bins.seen

    def fit(self, reference: FloatArray) -> None:
        """Set the reference window (and clear any alarm)."""
        ref = np.sort(np.asarray(reference, dtype=np.float64))
        if ref.size == 0 or not np.isfinite(ref).all():
            raise ConfigError("a drift reference needs at least one value, all finite")
        self._ref = ref
        edges = np.unique(np.quantile(ref, np.linspace(0, 1, 11)[1:-1]))
        top = float(ref[-1])
        if edges.size == 0 or edges[-1] >= top:
            # the top decile is tied at the maximum (a templated answer): without an edge
            # just above it, every larger value shared its bin (all answers longer: PSI 0)
            edges = np.append(edges[edges < top], [top, np.nextafter(top, np.inf)])
        self.edges = edges
        names = [f"bin{i}" for i in range(len(self.edges) + 1)]
        codes = np.searchsorted(self.edges, ref, side="right")
        self.bins.fit([names[i] for i in codes], categories=names)  # bin i is category i
        self.bins.state.kind = self.kind
        scores = self._raw_scores(ref)
        # A reference with one value (a bot that always answers "ok") has no spread to lose:
        # its spread-down CUSUM grew by -log(narrow) with every request, a false alarm.
        self._spread = bool(scores.std() > 0)
        self._mean, self._sd = float(scores.mean()), float(scores.std()) or 1.0
        self._moments = _Cusums(self._moments.labels)
        self._recent.clear()

    def _raw_scores(self, values: FloatArray) -> FloatArray:
        from scipy.special import ndtri  # stats.norm.ppf, without its per-call overhead

        ref = self._ref
        lo = np.searchsorted(ref, values, side="left")
        hi = np.searchsorted(ref, values, side="right")
        rank = (lo + hi) / 2.0 + 0.5
        return np.asarray(ndtri(rank / (len(ref) + 1.0)), dtype=np.float64)

    def update(self, values: FloatArray) -> int | None:
        """Observe numbers; the index (in values seen) of a new alarm, if one was raised."""
        values = np.asarray(values, dtype=np.float64)
        start = self.bins.seen
        codes = np.searchsorted(self.edges, values, side="right").astype(np.int64)
        raised = self.bins.update_codes(codes)
        self._recent.extend(float(v) for v in values)
        z = (self._raw_scores(values) - self._mean) / self._sd
        delta, wide, narrow = self._normal
        inc = np.stack(
            [
                delta * z - delta * delta / 2,
                -delta * z - delta * delta / 2,
                -math.log(wide) + z * z * (1 - 1 / wide**2) / 2,
                -math.log(narrow) + z * z * (1 - 1 / narrow**2) / 2,
            ],
            axis=1,
        )
        if not self._spread:
            inc[:, 2:] = 0.0
        hit = self._moments.update(inc, self.threshold)
        st = self.bins.state
        if hit is not None:
            at = start + hit[0] + 1
            if st.alarm_at is None or at < st.alarm_at:
                st.alarm_at = at
                st.alarm_reason = f"CUSUM: {self._moments.labels[hit[1]]}"
                raised = at
        return raised

    def evaluate(self) -> DriftState:
        """As :meth:`CategoricalDrift.evaluate`, plus the Kolmogorov–Smirnov test."""
        from scipy import stats

        st = self.bins.evaluate()
        label, value = self._moments.top()
        if value > st.cusum[1]:
            st.cusum = (label, value)
        if self._recent:
            window = np.fromiter(self._recent, np.float64, len(self._recent))
            res = stats.ks_2samp(self._ref, window)
            st.ks_stat, st.ks_p = float(res.statistic), float(res.pvalue)
        return st


def _chi2_p(reference: FloatArray, window: FloatArray) -> float:
    """p-value of the chi-square test of homogeneity of two count vectors."""
    from scipy.special import chdtrc  # stats.chi2.sf, without its per-call overhead

    table = np.vstack([reference, window])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or table[1].sum() == 0:
        return 1.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    return float(chdtrc(table.shape[1] - 1, statistic))
