"""The two tests behind :class:`~alignkit.monitor.GoodhartMonitor`.

**Passed its peak** (``overoptimised``). The intent series is tested against two
alternatives of :mod:`alignkit.monitor._shape`, each by an isotonic-versus-hinge
likelihood ratio ``S``: a *gradual* decline (a line that starts from the level the rise
reached, :func:`~alignkit.monitor._shape.decline_fit`) and a *step* down (a line free to
start lower, :func:`~alignkit.monitor._shape.step_decline_fit`). Over-optimisation in a
reward-model loop usually looks like the first; a policy that finds a loophole, as in the
spec-gaming lab, like the second, which the anchored line fits poorly. The p-value is
twice the smaller of the two (Bonferroni).

Both nulls were simulated under a constant curve with Gaussian noise (the least
favourable case of "never decreases"). Gradual: ``n`` = 10 … 400 points (10,000 series
each, half evenly and half irregularly spaced); ``S`` is exactly 0 with probability about
``0.089 + 1.10/√n``; otherwise, with σ known, it is close to ``θ·χ²_k`` with
``θ = 1.068`` and ``k = 0.872 + 0.456 ln n``, and with σ estimated on ``ν`` residual
degrees of freedom ``S/(θk)`` follows an F(k, ν) law (constants fitted to the simulated
tail probabilities at 0.1 … 0.001). Step: ``n`` = 10 … 300 (3,000 series each), with σ
estimated, a gamma law with mean ``2.38 ln n − 2.16`` (at least 4.3) and variance
``18.5 + 2700 / n²``.

The monitor looks after every new intent value and raises ``overoptimised`` at the
first look where ``p ≤ α_n`` and each of the ``confirm − 1`` looks before it had
``p ≤ 10·α_n``, where ``α_n = alpha / (1 + ln(n / min_points))`` spends the level over
looks on a logarithmic scale (successive looks share most of their data, so the number
of nearly independent looks grows like ``ln n``, and a long run would otherwise collect
false alarms). The defaults (``alpha = 0.01``, ``confirm = 2``) were chosen on simulated
runs with seeds disjoint from the benchmark's (:data:`CALIBRATION_SEED`): the largest
``alpha`` on a grid whose false-alarm rate on never-declining runs was at most 4 %
(``python benchmarks/goodhart.py --calibrate``).

**Proxy and intent part ways** (``diverging``). Over the most recent third of the intent
observations (at least six), the proxy's least-squares slope must be significantly
positive (``t ≥ z_proxy``) while the intent's is not (``t < z_intent``): the proxy still
improves, the intent stalls or falls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import chdtrc, fdtrc, gammaincc

from alignkit.monitor._shape import (
    FloatArray,
    decline_fit,
    prefix_isotonic_stats,
    step_decline_fit,
    unimodal_peak,
)

__all__ = [
    "CALIBRATION_SEED",
    "PeakTest",
    "alarmed",
    "look_level",
    "null_p_value",
    "step_p_value",
    "peak_test",
    "slope_t",
]

_P0_BASE, _P0_SQRT = 0.089, 1.10  # P(S = 0) ≈ _P0_BASE + _P0_SQRT / √n
_K_BASE, _K_LOG, _THETA = 0.872, 0.456, 1.068  # S | S > 0 ≈ θ·χ²_k, k = _K_BASE + _K_LOG ln n
# the step test's null: S ≈ gamma with mean 2.38 ln n − 2.16 (at least 4.3), variance
# 18.5 + 2700 / n² (3,000 simulated constant series per n = 10 … 300)
_STEP_MEAN, _STEP_ICPT, _STEP_MIN, _STEP_VAR, _STEP_VAR_N = 2.38, -2.16, 4.3, 18.5, 2700.0
_CONFIRM_SLACK = 10.0  # confirming looks need p ≤ 10·α_n
_T_CAP = 1000.0  # a noise-free series has an infinite t; cap it for reporting
CALIBRATION_SEED = 500_000
"""First seed of the simulated runs the monitor's defaults were chosen on (the benchmark
uses seeds below 100,000 per unit of its ``--seed``)."""


def null_p_value(statistic: float, n: int, dof: int | None = None) -> float:
    """Approximate P(S ≥ statistic) for ``n`` points from a constant curve with noise.

    Args:
        statistic: The likelihood-ratio statistic ``S``.
        n: Points in the series.
        dof: Residual degrees of freedom of the noise estimate behind ``S``; ``None``
            when the noise SD was known.
    """
    if statistic <= 0:
        return 1.0
    n = max(n, 5)
    p_pos = 1.0 - min(_P0_BASE + _P0_SQRT / math.sqrt(n), 0.95)
    k = _K_BASE + _K_LOG * math.log(n)
    x = statistic / _THETA
    tail = chdtrc(k, x) if dof is None else fdtrc(k, max(dof, 1), x / k)
    return float(p_pos * tail)


def step_p_value(statistic: float, n: int) -> float:
    """Approximate P(S ≥ statistic) of the step test (:func:`step_decline_fit`) under the null."""
    if statistic <= 0:
        return 1.0
    mean = max(_STEP_MEAN * math.log(max(n, 3)) + _STEP_ICPT, _STEP_MIN)
    var = _STEP_VAR + _STEP_VAR_N / max(n, 3) ** 2
    shape, scale = mean * mean / var, var / mean
    return float(gammaincc(shape, statistic / scale))


def look_level(alpha: float, n: int, min_points: int) -> float:
    """``α_n``: the significance level of the look at ``n`` intent values."""
    return alpha / (1.0 + math.log(max(n, min_points) / min_points))


def alarmed(p_values: list[float], alpha: float, n: int, min_points: int, confirm: int) -> bool:
    """Whether the latest looks (``p_values``, oldest first, the last at ``n`` values) alarm."""
    if len(p_values) < confirm:
        return False
    level = look_level(alpha, n, min_points)
    earlier = p_values[len(p_values) - confirm : -1]
    return p_values[-1] <= level and all(p <= _CONFIRM_SLACK * level for p in earlier)


@dataclass(frozen=True)
class PeakTest:
    """Result of the passed-its-peak test on one intent series.

    Attributes:
        n: Number of intent values tested.
        statistic: The likelihood-ratio statistic.
        p_value: Its approximate p-value under "never decreases".
        peak_step: Step of the peak of the least-squares unimodal fit (the middle of its
            highest level).
        drop_sd: Fitted fall from the peak to the latest value, in noise SDs.
        sigma: Estimated noise SD of the intent values.
    """

    n: int
    statistic: float
    p_value: float
    peak_step: float
    drop_sd: float
    sigma: float


def peak_test(steps: FloatArray, values: FloatArray) -> PeakTest:
    """Test whether ``values`` (shape ``(n,)``, ordered by ``steps``) have passed a peak."""
    n = len(values)
    prefix = prefix_isotonic_stats(values)  # shared: the most expensive part, computed once
    fit = decline_fit(steps, values, prefix=prefix)
    p = null_p_value(fit.statistic, n, fit.dof)
    step = step_decline_fit(steps, values, prefix=prefix)
    p_step = step_p_value(step.statistic, n)
    if p_step < p:
        fit, p = step, p_step
    p = min(1.0, 2.0 * p)  # Bonferroni over the two alternatives
    peak = float(steps[unimodal_peak(values, prefix=prefix)])
    return PeakTest(n, fit.statistic, p, peak, fit.drop_sd, fit.sigma)


def slope_t(x: FloatArray, y: FloatArray) -> float:
    """T statistic of the least-squares slope of ``y`` on ``x`` (``0`` when undefined)."""
    n = len(x)
    if n < 3:
        return 0.0
    xc = x - x.mean()
    sxx = float(xc @ xc)
    if sxx <= 0:
        return 0.0
    slope = float(xc @ (y - y.mean())) / sxx
    resid = y - y.mean() - slope * xc
    s2 = float(resid @ resid) / (n - 2)
    if s2 <= 0:
        return math.copysign(_T_CAP, slope) if slope else 0.0
    return max(-_T_CAP, min(_T_CAP, slope / math.sqrt(s2 / sxx)))


def recent_window(steps: FloatArray, min_points: int = 6) -> float:
    """First step of the window used by the divergence test: the last third of ``steps``."""
    k = max(min_points, len(steps) // 3)
    return float(steps[-min(k, len(steps))])


def as_array(values: list[float]) -> FloatArray:
    """``values`` as a float64 array."""
    return np.asarray(values, dtype=np.float64)
