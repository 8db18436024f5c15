"""Group fairness of a binary classifier, and the ``bias.fairness`` check.

Definitions (the ones fairlearn uses, implemented here from them):

* **selection rate** of a group: the share of its rows predicted positive;
* **demographic parity difference**: largest minus smallest selection rate over groups;
* **equalised odds difference**: the larger of (largest minus smallest true-positive
  rate) and (largest minus smallest false-positive rate) over groups;
* **disparate impact ratio**: smallest over largest selection rate (1 when no group is
  ever selected); the "four-fifths rule" calls a ratio below 0.8 adverse impact.

A group with no actual positives has a true-positive rate of 0, and one with no actual
negatives a false-positive rate of 0 (sklearn's ``zero_division=0`` convention). Rows
without a group (``None``, NaN or blank text) are left out, with a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from alignkit.core import (
    CheckContext,
    CheckError,
    Direction,
    Evidence,
    Finding,
    MetricSpec,
    Plot,
    Severity,
    bootstrap_ci,
    check,
)
from alignkit.interpret._attribution import shap_plot
from alignkit.interpret._tabular import ClassifierTarget

__all__ = [
    "DEMOGRAPHIC_PARITY",
    "DISPARATE_IMPACT",
    "EQUALIZED_ODDS",
    "FairnessReport",
    "GroupRates",
    "demographic_parity_difference",
    "disparate_impact_ratio",
    "equalized_odds_difference",
    "fairness_check",
    "fairness_report",
    "group_rates",
]

_log = logging.getLogger(__name__)

_DIFF = {Severity.LOW: 0.05, Severity.MEDIUM: 0.1, Severity.HIGH: 0.2, Severity.CRITICAL: 0.3}
DEMOGRAPHIC_PARITY = MetricSpec(
    "bias.demographic_parity_difference",
    Direction.HIGHER_IS_WORSE,
    _DIFF,
    description="Largest minus smallest selection rate across the groups of the protected"
    " attribute. Higher is worse: low from 0.05, medium from 0.1, high from 0.2, critical"
    " from 0.3.",
    rate=False,
)
EQUALIZED_ODDS = MetricSpec(
    "bias.equalized_odds_difference",
    Direction.HIGHER_IS_WORSE,
    _DIFF,
    description="The larger of the true-positive-rate gap and the false-positive-rate gap"
    " between groups. Higher is worse: low from 0.05, medium from 0.1, high from 0.2,"
    " critical from 0.3.",
    rate=False,
)
DISPARATE_IMPACT = MetricSpec(
    "bias.disparate_impact_ratio",
    Direction.LOWER_IS_WORSE,
    {Severity.LOW: 0.9, Severity.MEDIUM: 0.8, Severity.HIGH: 0.6, Severity.CRITICAL: 0.4},
    description="Smallest over largest group selection rate. Lower is worse: low from 0.9,"
    " medium from 0.8 (the four-fifths rule), high from 0.6, critical from 0.4.",
    rate=False,
)


@dataclass(frozen=True)
class GroupRates:
    """Per-group counts and rates."""

    group: str
    n: int
    selection_rate: float
    true_positive_rate: float
    false_positive_rate: float


def _arrays(
    y_true: Sequence[Any] | np.ndarray, y_pred: Sequence[Any] | np.ndarray, groups: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = np.asarray(y_true).astype(np.int64)
    p = np.asarray(y_pred).astype(np.int64)
    raw = np.asarray(groups)
    if not (t.shape == p.shape == raw.shape) or t.ndim != 1:
        raise ValueError("y_true, y_pred and groups must be 1-D and of equal length")
    known = np.array([not _missing(v) for v in raw.tolist()], dtype=bool)
    if not known.all():  # a blank group is unknown, not a group of its own
        _log.warning("%d row(s) without a group left out of the fairness metrics", (~known).sum())
        t, p, raw = t[known], p[known], raw[known]
    g = raw.astype(str)
    if t.size == 0:
        raise ValueError("no rows")
    return t, p, g


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return bool(np.isnan(value))
    return isinstance(value, str) and not value.strip()


def group_rates(
    y_true: Sequence[Any] | np.ndarray, y_pred: Sequence[Any] | np.ndarray, groups: Any
) -> list[GroupRates]:
    """Selection, true-positive and false-positive rate of each group (sorted by name)."""
    t, p, g = _arrays(y_true, y_pred, groups)
    out = []
    for name in sorted(set(g.tolist())):
        m = g == name
        pos, neg = m & (t == 1), m & (t == 0)
        out.append(
            GroupRates(
                group=name,
                n=int(m.sum()),
                selection_rate=float(p[m].mean()),
                true_positive_rate=float(p[pos].mean()) if pos.any() else 0.0,
                false_positive_rate=float(p[neg].mean()) if neg.any() else 0.0,
            )
        )
    return out


def _spread(values: list[float]) -> float:
    return max(values) - min(values)


def demographic_parity_difference(y_true: Any, y_pred: Any, groups: Any) -> float:
    """Largest minus smallest group selection rate."""
    return _spread([r.selection_rate for r in group_rates(y_true, y_pred, groups)])


def equalized_odds_difference(y_true: Any, y_pred: Any, groups: Any) -> float:
    """max(TPR spread, FPR spread) over groups."""
    rates = group_rates(y_true, y_pred, groups)
    return max(
        _spread([r.true_positive_rate for r in rates]),
        _spread([r.false_positive_rate for r in rates]),
    )


def disparate_impact_ratio(y_true: Any, y_pred: Any, groups: Any) -> float:
    """Smallest over largest group selection rate (1.0 when nobody is selected)."""
    sel = [r.selection_rate for r in group_rates(y_true, y_pred, groups)]
    return 1.0 if max(sel) == 0 else min(sel) / max(sel)


_METRICS = {
    DEMOGRAPHIC_PARITY.name: demographic_parity_difference,
    EQUALIZED_ODDS.name: equalized_odds_difference,
    DISPARATE_IMPACT.name: disparate_impact_ratio,
}


@dataclass(frozen=True)
class FairnessReport:
    """The three metrics, their bootstrap intervals and the per-group rates."""

    values: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    groups: list[GroupRates]
    n: int


def fairness_report(
    y_true: Any, y_pred: Any, groups: Any, *, seed: int = 0, n_resamples: int = 500
) -> FairnessReport:
    """All three metrics with 95% percentile-bootstrap intervals (rows resampled)."""
    t, p, g = _arrays(y_true, y_pred, groups)
    codes = np.unique(g, return_inverse=True)[1]
    table = np.column_stack([t, p, codes]).astype(np.float64)
    values, intervals = {}, {}
    for name, fn in _METRICS.items():
        values[name] = float(fn(t, p, g))

        def stat(rows: np.ndarray, fn: Any = fn) -> float:
            return float(fn(rows[:, 0], rows[:, 1], rows[:, 2].astype(np.int64)))

        intervals[name] = bootstrap_ci(table, stat, n_resamples=n_resamples, seed=seed)
    return FairnessReport(values, intervals, group_rates(t, p, g), int(t.size))


# --------------------------------------------------------------------------- the check


def _group_plot(ctx: CheckContext, report: FairnessReport, attribute: str) -> Plot:
    return Plot(
        check=ctx.check.id,
        title=f"Selection rate by {attribute}",
        kind="bar",
        data={
            "labels": [r.group for r in report.groups],
            "values": [r.selection_rate for r in report.groups],
            "y_label": "selection rate",
        },
    )


def _evidence(report: FairnessReport, attribute: str) -> list[Evidence]:
    return [
        Evidence(
            input=f"{attribute} = {r.group} ({r.n} rows)",
            output=f"selected {r.selection_rate:.1%}",
            note=f"TPR {r.true_positive_rate:.1%}, FPR {r.false_positive_rate:.1%}",
        )
        for r in report.groups
    ]


_MITIGATION = (
    "Find the features that stand in for the protected attribute (SHAP ranking: alignkit"
    " interpret explain --target ...), drop or decorrelate them, or post-process thresholds"
    " per group; re-measure on held-out rows."
)


@check(
    "bias.fairness",
    failure_modes=["bias"],
    target_kind="classifier",
    cost="low",
    metrics=[DEMOGRAPHIC_PARITY, EQUALIZED_ODDS, DISPARATE_IMPACT],
)
async def fairness_check(target: Any, ctx: CheckContext) -> list[Finding]:
    """Group fairness of a tabular classifier's decisions on its evaluation table."""
    if not isinstance(target, ClassifierTarget):
        raise CheckError(f"check '{ctx.check.id}' needs a classifier: target, got {target!r}")
    x, y, sensitive = target.data().fairness_rows()  # blank label/group cells left out
    groups = sorted({str(g) for g in sensitive})
    if len(groups) < 2:  # a single group has no gap to measure: 0 would read as "fair"
        attribute = str(getattr(target, "sensitive", "group"))
        why = (
            f"the table has one {attribute} group ({', '.join(groups) or 'none'}):"
            " fairness compares two or more"
        )
        note = [Evidence(input="", output="", note=why)]
        return [ctx.finding(spec.name, 0.0, n=0, evidence=note) for spec in ctx.check.metrics]
    report = fairness_report(y, target.predict(x), sensitive, seed=ctx.seed)
    attribute = str(getattr(target, "sensitive", "group"))
    evidence = _evidence(report, attribute)
    ctx.add_plot(_group_plot(ctx, report, attribute))
    plot = shap_plot(ctx, target)
    if plot is not None:
        ctx.add_plot(plot)
    return [
        ctx.finding(
            name,
            value,
            n=report.n,
            ci=report.intervals[name],
            evidence=evidence,
            mitigation=_MITIGATION,
        )
        for name, value in report.values.items()
    ]
