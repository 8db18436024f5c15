"""Comparing two runs metric by metric: ``runs diff`` and the CI gate ``runs gate``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from alignkit.core import (
    CHECKS,
    AuditResult,
    Finding,
    two_proportion_test,
    z_test_from_intervals,
)

__all__ = ["Change", "MetricChange", "compare", "gate"]


class Change(StrEnum):
    """How a metric moved between two runs, judged by its direction."""

    WORSE = "worse"
    BETTER = "better"
    SAME = "same"
    ADDED = "added"
    REMOVED = "removed"


@dataclass(frozen=True)
class MetricChange:
    """One metric in two runs; ``delta_worse > 0`` means it got worse."""

    check: str
    metric: str
    failure_mode: str
    before: float | None
    after: float | None
    delta_worse: float | None
    p_value: float | None
    change: Change
    significant: bool


def _is_rate(f: Finding) -> bool:
    if f.check in CHECKS:
        try:
            return CHECKS.get(f.check).metric(f.metric).rate
        except Exception:  # the metric may have been renamed since the run
            pass
    return 0.0 <= f.value <= 1.0 and f.n > 0


def _p_value(a: Finding, b: Finding) -> float | None:
    """Two-sided p-value of the difference, when the findings carry enough to test it."""
    if _is_rate(a) and _is_rate(b) and a.n and b.n:
        _, p = two_proportion_test(round(a.value * a.n), a.n, round(b.value * b.n), b.n)
        return p
    if None not in (a.ci_low, a.ci_high, b.ci_low, b.ci_high):
        assert a.ci_low is not None and a.ci_high is not None
        assert b.ci_low is not None and b.ci_high is not None
        _, p = z_test_from_intervals(a.value, (a.ci_low, a.ci_high), b.value, (b.ci_low, b.ci_high))
        return p
    return None


def _pair(a: Finding, b: Finding, alpha: float, tolerance: float) -> MetricChange:
    delta = a.direction.signed_change(a.value, b.value)
    p = _p_value(a, b)
    significant = p is not None and p < alpha
    if abs(delta) <= 1e-12:
        change = Change.SAME
    else:
        change = Change.WORSE if delta > 0 else Change.BETTER
    if change is Change.WORSE and delta <= tolerance:
        significant = False
    return MetricChange(
        a.check, a.metric, a.failure_mode, a.value, b.value, delta, p, change, significant
    )


def compare(
    before: AuditResult, after: AuditResult, *, alpha: float = 0.05, tolerance: float = 0.0
) -> list[MetricChange]:
    """Every metric of either run, matched on (check, metric), ordered by failure mode.

    A value that is not a finite number (a stored NaN) counts as not measured in that run.
    """
    a = {(f.check, f.metric): f for f in before.findings if math.isfinite(f.value)}
    b = {(f.check, f.metric): f for f in after.findings if math.isfinite(f.value)}
    out: list[MetricChange] = []
    for key in sorted(set(a) | set(b)):
        fa, fb = a.get(key), b.get(key)
        if fa and fb:
            out.append(_pair(fa, fb, alpha, tolerance))
        else:
            f = fa or fb
            assert f is not None
            kind = Change.REMOVED if fa else Change.ADDED
            out.append(
                MetricChange(
                    f.check,
                    f.metric,
                    f.failure_mode,
                    fa.value if fa else None,
                    fb.value if fb else None,
                    None,
                    None,
                    kind,
                    False,
                )
            )
    return sorted(out, key=lambda c: (c.failure_mode, c.check, c.metric))


def gate(
    run: AuditResult, baseline: AuditResult, *, max_regression: float = 0.0, alpha: float = 0.05
) -> list[MetricChange]:
    """Metrics of ``run`` significantly worse than ``baseline`` by more than ``max_regression``.

    A rate is tested with a two-proportion z-test, other metrics with a z-test from their
    95 % intervals; a metric without the data for a test regresses when its change alone
    exceeds ``max_regression``. An empty list means the gate passes.
    """
    failed = []
    for c in compare(baseline, run, alpha=alpha, tolerance=max_regression):
        if c.change is not Change.WORSE or c.delta_worse is None:
            continue
        if c.significant or (c.p_value is None and c.delta_worse > max_regression):
            failed.append(c)
    return failed
