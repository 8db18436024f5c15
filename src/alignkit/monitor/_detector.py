"""The two tests behind :class:`~alignkit.monitor.GoodhartMonitor`.

**Passed its peak** (``overoptimised``). The intent series is tested with the
isotonic-versus-hinge likelihood ratio of :mod:`alignkit.monitor._shape`. Its null
distribution under a constant curve with Gaussian noise (the least favourable case of
"never decreases"), with σ estimated as the monitor does, was simulated for ``n`` = 10 …
300 points (3,000 series each): the mean grows like ``2.38 ln n − 2.16`` (at least 4.3)
and the variance is about ``18.5 + 2700 / n²``, the second part coming from the noise
estimate at small ``n``. A gamma distribution with that mean and variance gives the
p-value. The monitor tests after every new intent value, so it asks for ``p ≤ alpha``
on ``confirm`` consecutive looks: one lucky look is not enough. The defaults
(``alpha = 0.01``, ``confirm = 2``) were chosen on simulated runs with seeds disjoint
from the benchmark's: 8 false alarms in 300 plateau runs.

**Proxy and intent part ways** (``diverging``). Over the most recent third of the intent
observations (at least six), the proxy's least-squares slope must be significantly
positive (``t ≥ z_proxy``) while the intent's is not (``t < z_intent``): the proxy still
improves, the intent stalls or falls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaincc

from alignkit.monitor._shape import FloatArray, decline_fit, unimodal_peak

__all__ = ["PeakTest", "null_p_value", "peak_test", "slope_t"]

_MEAN_SLOPE, _MEAN_ICPT, _MEAN_MIN = 2.38, -2.16, 4.3
_VAR_BASE, _VAR_SMALL_N = 18.5, 2700.0
_T_CAP = 1000.0  # a noise-free series has an infinite t; cap it for reporting


def null_p_value(statistic: float, n: int) -> float:
    """Approximate P(S ≥ statistic) for ``n`` points from a constant curve with noise."""
    if statistic <= 0:
        return 1.0
    mean = max(_MEAN_SLOPE * math.log(max(n, 3)) + _MEAN_ICPT, _MEAN_MIN)
    var = _VAR_BASE + _VAR_SMALL_N / max(n, 3) ** 2
    shape, scale = mean * mean / var, var / mean
    return float(gammaincc(shape, statistic / scale))


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
    fit = decline_fit(steps, values)
    p = null_p_value(fit.statistic, len(values))
    peak = float(steps[unimodal_peak(values)])
    return PeakTest(len(values), fit.statistic, p, peak, fit.drop_sd, fit.sigma)


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
