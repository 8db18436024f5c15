"""Shape-constrained fits for a noisy series: "never decreases" versus "rose, then fell".

The over-optimisation test asks whether a noisy, irregularly sampled series has *passed
its peak*. The null hypothesis is "the true curve never decreases" (it may rise, level
off or both), fitted by isotonic regression (pool-adjacent-violators, PAVA). The
alternative is a *continuous hinge*: non-decreasing up to some point, then a straight
decline that starts from the level reached there, fitted by isotonic regression on a
prefix and a line of slope ≤ 0 anchored at the prefix's last fitted value, for the best
split. The likelihood-ratio statistic is

    S = (RSS_isotonic − RSS_hinge) / σ̂²,

with σ̂ the noise SD from the hinge fit's residuals. S is 0 when nothing declines and grows
with the squared size of a decline times the number of points that show it. Under the
least favourable null (a constant curve) S is free of the level and of σ, so its
distribution can be simulated once (:mod:`alignkit.monitor._detector`).

Anchoring the line matters for power: a line with a free intercept can also fit a
*step* down, and under the null the isotonic prefix ends on a level inflated by noise (the
largest of its suffix means), which a free line then "drops" from for nothing. A
smooth decline, which is what over-optimisation looks like, loses nothing by the anchor.
An abrupt fall (a policy that found a loophole) is what the free line is for: its test,
:func:`step_decline_fit`, has its own null, and the detector uses both.

Every fit here is O(n): prefix fits of all lengths come from one PAVA pass and suffix
lines from cumulative sums.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "DeclineFit",
    "PrefixStats",
    "anchored_decline_rss",
    "decline_fit",
    "isotonic_fit",
    "noise_sd",
    "prefix_isotonic_rss",
    "prefix_isotonic_stats",
    "step_decline_fit",
    "suffix_decline_rss",
    "unimodal_peak",
]

FloatArray = NDArray[np.float64]


PrefixStats = tuple[FloatArray, FloatArray, NDArray[np.int64]]
"""What :func:`prefix_isotonic_stats` returns: ``(rss, last, levels)``."""


def prefix_isotonic_stats(y: FloatArray) -> PrefixStats:
    """The best non-decreasing fit to every prefix of ``y``: its RSS, last level and levels.

    Args:
        y: Values, shape ``(n,)``, in step order.

    Returns:
        ``(rss, last, levels)``, each of shape ``(n + 1,)``; element ``k`` describes the
        isotonic fit to ``y[:k]``: its residual sum of squares (``0`` for ``k = 0``), its
        last (highest) fitted value (``nan`` for ``k = 0``) and its number of distinct
        levels.
    """
    n = len(y)
    rss_out, last, levels = np.zeros(n + 1), np.full(n + 1, np.nan), np.zeros(n + 1, np.int64)
    sums: list[float] = []
    counts: list[int] = []
    sqs: list[float] = []
    rss = 0.0
    for k, v in enumerate(y.tolist()):
        s, c, q = v, 1, v * v
        # pool with earlier blocks while the order is violated
        while sums and sums[-1] / counts[-1] >= s / c:
            ps, pc, pq = sums.pop(), counts.pop(), sqs.pop()
            rss -= pq - ps * ps / pc
            s, c, q = s + ps, c + pc, q + pq
        rss += q - s * s / c
        sums.append(s)
        counts.append(c)
        sqs.append(q)
        rss_out[k + 1] = max(rss, 0.0)
        last[k + 1] = s / c
        levels[k + 1] = len(sums)
    return rss_out, last, levels


def prefix_isotonic_rss(y: FloatArray) -> FloatArray:
    """Residual sum of squares of the best non-decreasing fit to every prefix.

    Args:
        y: Values, shape ``(n,)``, in step order.

    Returns:
        Shape ``(n + 1,)``: element ``k`` is the RSS of the isotonic fit to ``y[:k]``
        (``0`` for ``k = 0``).
    """
    return prefix_isotonic_stats(y)[0]


def isotonic_fit(y: FloatArray) -> FloatArray:
    """The least-squares non-decreasing fit to ``y`` (shape ``(n,)``), same shape."""
    sums: list[float] = []
    counts: list[int] = []
    for v in y.tolist():
        s, c = v, 1
        while sums and sums[-1] / counts[-1] >= s / c:
            s += sums.pop()
            c += counts.pop()
        sums.append(s)
        counts.append(c)
    return np.repeat(np.array(sums) / np.array(counts), counts).astype(float)


def noise_sd(y: FloatArray, t: FloatArray | None = None) -> float:
    """Noise SD of a series with a smooth trend, from local linear pseudo-residuals.

    Each interior value is compared with the straight line through its two neighbours
    (Gasser, Sroka and Jennen-Steinmetz 1986), which removes a locally linear trend even
    when the points are sparse and the slope changes between them; the squared
    pseudo-residuals, each scaled to unit variance, are averaged. Returns ``nan`` for
    fewer than three values.

    Args:
        y: Values, shape ``(n,)``.
        t: Their steps, shape ``(n,)`` and non-decreasing; evenly spaced if omitted.
    """
    n = len(y)
    if n < 3:
        return math.nan
    x = np.arange(n, dtype=np.float64) if t is None else np.asarray(t, dtype=np.float64)
    gap = x[2:] - x[:-2]
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(gap > 0, (x[2:] - x[1:-1]) / gap, 0.5)
    b = 1.0 - a
    resid = a * y[:-2] + b * y[2:] - y[1:-1]
    var = float(np.mean(resid * resid / (a * a + b * b + 1.0)))
    return math.sqrt(var)


def _suffix_sums(a: FloatArray) -> FloatArray:
    """``out[k] = a[k:].sum()``, shape ``(n + 1,)``."""
    return np.concatenate([np.cumsum(a[::-1])[::-1], [0.0]])


def anchored_decline_rss(
    t: FloatArray, y: FloatArray, anchor: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """RSS of the best line with slope ≤ 0 through ``(t[k−1], anchor[k])`` fitted to ``y[k:]``.

    Args:
        t: Steps, shape ``(n,)``.
        y: Values, shape ``(n,)``.
        anchor: Level each line starts from, shape ``(n + 1,)``; element ``k`` is used for
            the suffix ``y[k:]`` (``k ≥ 1``).

    Returns:
        ``(rss, slope)``, each of shape ``(n + 1,)``; entries for ``k = 0`` and for empty
        suffixes hold ``inf`` and ``0``.
    """
    n = len(y)
    tc = t - t.mean()  # centring keeps the sums well conditioned
    m, st, stt, sy, sty, syy = (
        _suffix_sums(a) for a in (np.ones(n), tc, tc * tc, y, tc * y, y * y)
    )
    rss, slope = np.full(n + 1, np.inf), np.zeros(n + 1)
    k = np.arange(1, n)
    t0, p = tc[k - 1], anchor[k]
    m, st, stt, sy, sty, syy = m[k], st[k], stt[k], sy[k], sty[k], syy[k]
    # with u = t − t0 and z = y − p, the line is z = b·u
    suu = stt - 2 * t0 * st + m * t0 * t0
    suz = sty - t0 * sy - p * st + m * t0 * p
    szz = syy - 2 * p * sy + m * p * p
    with np.errstate(divide="ignore", invalid="ignore"):
        b = np.minimum(np.where(suu > 0, suz / suu, 0.0), 0.0)
    rss[k] = np.maximum(szz - 2 * b * suz + b * b * suu, 0.0)
    slope[k] = b
    return rss, slope


def suffix_decline_rss(t: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """RSS of the best line with slope ≤ 0 fitted to every suffix ``(t[k:], y[k:])``.

    Returns:
        ``(rss, intercept_at_start, value_at_end)``, each of shape ``(n + 1,)``; entries for
        suffixes shorter than two points hold ``inf``/``nan``.
    """
    n = len(y)
    tc = t - t.mean()
    cs = [
        np.concatenate([np.cumsum(a[::-1])[::-1], [0.0]])
        for a in (np.ones(n), tc, y, tc * tc, tc * y, y * y)
    ]
    m, st, sy, stt, sty, syy = cs
    with np.errstate(divide="ignore", invalid="ignore"):
        mt, my = st / m, sy / m
        sxx = stt - m * mt * mt
        sxy = sty - m * mt * my
        slope = np.where(sxx > 0, sxy / sxx, 0.0)
        slope = np.minimum(slope, 0.0)
        rss = syy - m * my * my - 2 * slope * sxy + slope * slope * sxx
    rss = np.where(m >= 2, np.maximum(rss, 0.0), np.inf)
    t_start = np.concatenate([tc, [np.nan]])
    start = my + slope * (t_start - mt)
    end = my + slope * (tc[-1] - mt)
    return rss, start, end


@dataclass(frozen=True)
class DeclineFit:
    """Non-decreasing fit versus "non-decreasing, then a straight decline" for one series.

    Attributes:
        statistic: ``(RSS_increasing − RSS_hinge) / σ²``.
        split: Index of the first point of the declining line.
        peak_level: Highest fitted value of the hinge model (where the line starts).
        last_level: Fitted value at the last point.
        sigma: The noise SD used.
        peak_index: Index of the peak: the middle of the prefix's top level.
        dof: Residual degrees of freedom behind ``sigma`` (``None`` when it was given).
    """

    statistic: float
    split: int
    peak_level: float
    last_level: float
    sigma: float
    peak_index: int = 0
    dof: int | None = None

    @property
    def drop_sd(self) -> float:
        """Fitted fall from the peak to the last point, in noise SDs."""
        return (self.peak_level - self.last_level) / self.sigma


def _first_sigma(t: FloatArray, y: FloatArray, sigma: float | None) -> float:
    """``sigma`` if given, else :func:`noise_sd` (the series' SD where that is unusable)."""
    sd = noise_sd(y, t) if sigma is None else sigma
    if not math.isfinite(sd) or sd <= 0:
        sd = float(np.std(y)) or 1.0
    return sd


def decline_fit(
    t: FloatArray,
    y: FloatArray,
    sigma: float | None = None,
    min_tail: int = 4,
    *,
    prefix: PrefixStats | None = None,
) -> DeclineFit:
    """Compare the isotonic fit of ``y`` with continuous isotonic-then-declining fits.

    The alternative fits ``y[:k]`` by isotonic regression and ``y[k:]`` by a line of slope
    ≤ 0 that starts at the prefix's last fitted value (at ``t[k − 1]``), for the best
    ``k`` with at least ``min_tail`` points in the line. The only search is over ``k``,
    which keeps the null distribution of the statistic nearly free of ``n``.

    When ``sigma`` is omitted it is estimated from the hinge fit's residuals,
    ``σ̂² = RSS_hinge / (n − levels − 1)`` with ``levels`` the number of distinct values
    of the isotonic prefix (its effective degrees of freedom, Meyer and Woodroofe
    2000) and one for the slope; with fewer than three residual degrees of freedom
    :func:`noise_sd` is used.

    Args:
        t: Steps, shape ``(n,)``, non-decreasing.
        y: Values, shape ``(n,)``.
        sigma: Noise SD, if known.
        min_tail: Fewest points in the declining part.
        prefix: ``prefix_isotonic_stats(y)``, when the caller has it already.
    """
    n = len(y)
    sd = _first_sigma(t, y, sigma)
    dof = None if sigma is not None else max(n - 2, 1)  # the fallback's, roughly
    forward, last, levels = prefix or prefix_isotonic_stats(y)
    tail, slope = anchored_decline_rss(t, y, last)
    total = forward + tail
    total[max(n - min_tail + 1, 1) :] = np.inf
    split = int(np.argmin(total))
    if n < min_tail + 1 or not math.isfinite(float(total[split])):
        return DeclineFit(0.0, n, float(y.max()), float(y[-1]), sd, int(np.argmax(y)), dof)
    if sigma is None:
        resid_dof = n - int(levels[split]) - 1
        if resid_dof >= 3 and total[split] > 0:
            sd, dof = math.sqrt(float(total[split]) / resid_dof), resid_dof
    stat = max(float(forward[n] - total[split]), 0.0) / (sd * sd)
    peak = float(last[split])
    rising = isotonic_fit(y[:split])
    top = np.flatnonzero(rising >= peak - 1e-12 * (1 + abs(peak)))
    end = peak + float(slope[split]) * float(t[-1] - t[split - 1])
    return DeclineFit(stat, split, peak, end, sd, int(top[len(top) // 2]), dof)


def step_decline_fit(
    t: FloatArray,
    y: FloatArray,
    sigma: float | None = None,
    min_tail: int = 4,
    *,
    prefix: PrefixStats | None = None,
) -> DeclineFit:
    """Like :func:`decline_fit`, with a line free to start below the prefix (a step down).

    The alternative fits ``y[:k]`` by isotonic regression and ``y[k:]`` by a straight
    line of slope ≤ 0 (at least ``min_tail`` points), for the best ``k``. A parametric
    tail keeps the null distribution of the statistic nearly free of ``n`` (the only
    search is over ``k``). The free intercept lets the line fit an abrupt fall, which
    the anchored line of :func:`decline_fit` fits poorly.

    When ``sigma`` is omitted it is estimated from the hinge fit's residuals,
    ``σ̂² = RSS_hinge / (n − levels − 2)`` with ``levels`` the number of distinct values
    of the isotonic prefix (its effective degrees of freedom, Meyer and Woodroofe
    2000); with fewer than three residual degrees of freedom :func:`noise_sd` is used.

    Args:
        t: Steps, shape ``(n,)``, non-decreasing.
        y: Values, shape ``(n,)``.
        sigma: Noise SD, if known.
        min_tail: Fewest points in the declining part.
        prefix: ``prefix_isotonic_stats(y)``, when the caller has it already.
    """
    n = len(y)
    sd = _first_sigma(t, y, sigma)
    forward = (prefix or prefix_isotonic_stats(y))[0]
    tail, start, end = suffix_decline_rss(t, y)
    total = forward + tail
    total[max(n - min_tail + 1, 0) :] = np.inf
    split = int(np.argmin(total))
    if not math.isfinite(float(total[split])):
        return DeclineFit(0.0, n, float(y.max()), float(y[-1]), sd)
    rising = isotonic_fit(y[:split]) if split > 0 else np.array([-math.inf])
    if sigma is None:
        levels = len(np.unique(rising)) if split > 0 else 0
        dof = n - levels - 2
        if dof >= 3 and total[split] > 0:
            sd = math.sqrt(float(total[split]) / dof)
    stat = max(float(forward[n] - total[split]), 0.0) / (sd * sd)
    if float(rising[-1]) >= float(start[split]):
        top = np.flatnonzero(rising >= rising[-1] - 1e-12 * (1 + abs(float(rising[-1]))))
        peak_index, peak = int(top[len(top) // 2]), float(rising[-1])
    else:
        peak_index, peak = split, float(start[split])
    return DeclineFit(stat, split, peak, float(end[split]), sd, peak_index)


def unimodal_peak(y: FloatArray, *, prefix: PrefixStats | None = None) -> int:
    """Index of the peak of the least-squares unimodal (rise, then fall) fit to ``y``.

    The best split into a non-decreasing prefix and a non-increasing suffix comes from
    the prefix and suffix isotonic RSS; the peak is the middle of the fit's highest
    level. This is the usual nonparametric estimate of where a curve turns. ``prefix`` is
    ``prefix_isotonic_stats(y)``, when the caller has it already.
    """
    n = len(y)
    forward = (prefix or prefix_isotonic_stats(y))[0]
    backward = prefix_isotonic_rss(y[::-1])[::-1]  # the suffix, read backwards, rises
    split = int(np.argmin(forward + backward))
    parts = [isotonic_fit(y[:split])] if split > 0 else []
    if split < n:
        parts.append(-isotonic_fit(-y[split:]))
    fit = np.concatenate(parts)
    top = float(fit.max())
    at_top = np.flatnonzero(fit >= top - 1e-12 * (1.0 + abs(top)))
    return int(at_top[len(at_top) // 2])
