"""Small, dependency-light statistics: intervals and tests used by checks and gates."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from statistics import NormalDist

import numpy as np

__all__ = [
    "bootstrap_ci",
    "calibration_bins",
    "expected_calibration_error",
    "newcombe_diff_ci",
    "two_proportion_test",
    "wilson_interval",
    "z_test_from_intervals",
]


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def _two_sided_p(z: float) -> float:
    return 2 * (1 - NormalDist().cdf(abs(z)))


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; ``(0, 1)`` when ``n == 0``."""
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= successes <= n:
        raise ValueError(f"successes={successes} outside 0..{n}")
    z = _z(confidence)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # The bounds contain p exactly: at p = 0 or 1 rounding left them 1e-17 on the wrong side.
    return min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half))


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    statistic: Callable[[np.ndarray], float] = lambda a: float(np.mean(a)),
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` over ``values`` (seeded).

    ``values`` may be 1-D (items) or 2-D (items × columns, resampled by row).
    """
    arr = np.asarray(values, dtype=float)
    if arr.shape[0] == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, arr.shape[0], size=(n_resamples, arr.shape[0]))
    stats = np.array([statistic(arr[i]) for i in idx])
    alpha = (1 - confidence) / 2
    return float(np.quantile(stats, alpha)), float(np.quantile(stats, 1 - alpha))


def two_proportion_test(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float]:
    """Pooled two-proportion z-test of ``p2 - p1``: returns ``(z, two-sided p)``."""
    if n1 <= 0 or n2 <= 0:
        return 0.0, 1.0
    p1, p2 = k1 / n1, k2 / n2
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0 if p1 == p2 else 0.0
    z = (p2 - p1) / se
    return z, _two_sided_p(z)


def newcombe_diff_ci(
    k1: int, n1: int, k2: int, n2: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Newcombe's hybrid score interval for ``p1 - p2`` (method 10)."""
    p1 = k1 / n1 if n1 else 0.0
    p2 = k2 / n2 if n2 else 0.0
    l1, u1 = wilson_interval(k1, n1, confidence)
    l2, u2 = wilson_interval(k2, n2, confidence)
    d = p1 - p2
    lo = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    hi = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return max(-1.0, lo), min(1.0, hi)


def z_test_from_intervals(
    a: float, a_ci: tuple[float, float], b: float, b_ci: tuple[float, float]
) -> tuple[float, float]:
    """Approximate z-test of ``b - a`` from two 95% intervals: ``(z, two-sided p)``.

    Each standard error is taken as the interval width over 2·1.96, which is exact for
    normal intervals and a fair approximation for Wilson or bootstrap ones.
    """
    se_a = (a_ci[1] - a_ci[0]) / (2 * 1.959964)
    se_b = (b_ci[1] - b_ci[0]) / (2 * 1.959964)
    se = math.hypot(se_a, se_b)
    if se == 0:
        return 0.0, 1.0 if a == b else 0.0
    z = (b - a) / se
    return z, _two_sided_p(z)


def calibration_bins(
    confidence: Sequence[float] | np.ndarray,
    correct: Sequence[float] | np.ndarray,
    n_bins: int = 15,
) -> list[dict[str, float]]:
    """Equal-width confidence bins over [0, 1]: mean confidence, accuracy and count of each.

    Bins are half-open ``[lo, hi)`` except the last, which includes 1.0; empty bins are
    left out.
    """
    conf = np.clip(np.asarray(confidence, dtype=float), 0.0, 1.0)
    hit = np.asarray(correct, dtype=float)
    idx = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    bins = []
    for b in range(n_bins):
        mask = idx == b
        if mask.any():
            bins.append(
                {
                    "confidence": float(conf[mask].mean()),
                    "accuracy": float(hit[mask].mean()),
                    "count": float(mask.sum()),
                }
            )
    return bins


def expected_calibration_error(
    confidence: Sequence[float] | np.ndarray,
    correct: Sequence[float] | np.ndarray,
    n_bins: int = 15,
) -> float:
    """ECE: the count-weighted mean gap between confidence and accuracy over the bins."""
    bins = calibration_bins(confidence, correct, n_bins)
    total = sum(b["count"] for b in bins)
    if total == 0:
        return 0.0
    return sum(b["count"] * abs(b["confidence"] - b["accuracy"]) for b in bins) / total
