"""Findings, metric specifications and the audit result (DESIGN §4)."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from alignkit.core._errors import ConfigError
from alignkit.core._severity import Direction, Severity

__all__ = [
    "AuditResult",
    "Evidence",
    "Finding",
    "FailureModeSummary",
    "RequestCounts",
    "MetricSpec",
    "Plot",
    "Table",
    "summarize",
]


_METRIC_ID = re.compile(r"[a-z0-9][a-z0-9_-]*(?:\.[a-z0-9][a-z0-9_-]*)+")


EVIDENCE_MAX_CHARS = 4000
"""Longest evidence text kept (a pack of 1 MB questions made a 5 MB report.json)."""


class Evidence(BaseModel):
    """One input/output pair that illustrates a finding (each text cut at 4,000 characters)."""

    model_config = ConfigDict(frozen=True)

    input: str
    output: str
    note: str = ""

    @field_validator("input", "output", "note")
    @classmethod
    def _cut(cls, text: str) -> str:
        if len(text) <= EVIDENCE_MAX_CHARS:
            return text
        return text[: EVIDENCE_MAX_CHARS - 1] + "…"


class Finding(BaseModel):
    """One measured metric of one check on one target."""

    model_config = ConfigDict(frozen=True)

    check: str
    failure_mode: str
    severity: Severity
    metric: str
    value: float
    direction: Direction
    threshold: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0
    evidence: list[Evidence] = Field(default_factory=list)
    mitigation: str = ""
    run_id: str = ""


@dataclass(frozen=True)
class MetricSpec:
    """A metric a check declares: its stable id, direction and severity thresholds.

    ``thresholds`` maps a severity to the value at which it starts: for a
    higher-is-worse metric a value ``>= thresholds[s]`` earns at least ``s``; for a
    lower-is-worse metric a value ``<= thresholds[s]`` does. A value that crosses
    none is ``info``. ``rate`` says the value is a proportion of ``n`` items (so two
    runs can be compared with a two-proportion test). ``failure_mode`` overrides the
    check's first failure mode for findings of this metric.
    """

    name: str
    direction: Direction
    thresholds: Mapping[Severity, float] = field(default_factory=dict)
    description: str = ""
    failure_mode: str | None = None
    rate: bool = True

    def __post_init__(self) -> None:
        """Read ``direction`` and severities given as text; refuse what cannot be judged.

        ``"higher_is_worse"`` as a string compared unequal to the enum and inverted every
        severity; thresholds out of order made a milder value the more severe one.

        Raises:
            ConfigError: A malformed name, direction, severity or threshold (one line).
        """
        if not _METRIC_ID.fullmatch(self.name):
            raise ConfigError(
                f"metric id {self.name!r} must be namespaced lower-case words,"
                " e.g. 'acme.impolite_rate'"
            )
        try:
            direction = Direction(self.direction)
            thresholds = {Severity(k): float(v) for k, v in dict(self.thresholds).items()}
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"metric {self.name}: {exc}") from None
        if Severity.INFO in thresholds or any(math.isnan(v) for v in thresholds.values()):
            raise ConfigError(f"metric {self.name}: thresholds are numbers for low … critical")
        ordered = [thresholds[s] for s in sorted(thresholds, key=lambda s: s.rank)]
        worse_up = direction is Direction.HIGHER_IS_WORSE
        if any((b < a) if worse_up else (b > a) for a, b in itertools.pairwise(ordered)):
            raise ConfigError(
                f"metric {self.name}: a more severe level needs a "
                f"{'higher' if worse_up else 'lower'} threshold ({direction.value})"
            )
        object.__setattr__(self, "direction", direction)
        object.__setattr__(self, "thresholds", thresholds)

    def severity_of(self, value: float) -> tuple[Severity, float | None]:
        """The severity ``value`` earns and the threshold that earned it.

        Returns ``(Severity.INFO, t)`` with ``t`` the mildest threshold when no
        threshold is crossed, so a report can show what the value was held against.
        """
        ordered = sorted(self.thresholds.items(), key=lambda kv: kv[0].rank, reverse=True)
        for severity, bound in ordered:
            crossed = (
                value >= bound if self.direction is Direction.HIGHER_IS_WORSE else value <= bound
            )
            if crossed:
                return severity, bound
        mildest = ordered[-1][1] if ordered else None
        return Severity.INFO, mildest


class Plot(BaseModel):
    """Data for one figure; the report renders it as inline SVG.

    ``kind`` is ``line`` (``data = {"x_label", "y_label", "series": [{"name", "x", "y"}]}``),
    ``bar`` (``{"labels", "values", "y_label"}``) or ``reliability``
    (``{"bins": [{"confidence", "accuracy", "count"}]}``).
    """

    model_config = ConfigDict(frozen=True)

    check: str
    title: str
    kind: Literal["line", "bar", "reliability"]
    data: dict[str, Any]


class Table(BaseModel):
    """A small table for the report (a lab's fits, attack success per category, ...)."""

    model_config = ConfigDict(frozen=True)

    check: str
    title: str
    columns: list[str]
    rows: list[list[str | float | int | None]]


class FailureModeSummary(BaseModel):
    """Per failure mode: the worst severity among its findings and how many there are."""

    model_config = ConfigDict(frozen=True)

    worst_severity: Severity
    count: int


def summarize(findings: Sequence[Finding]) -> dict[str, FailureModeSummary]:
    """Group findings by failure mode into the audit JSON's ``summary`` block."""
    out: dict[str, FailureModeSummary] = {}
    for f in findings:
        prev = out.get(f.failure_mode)
        if prev is None:
            out[f.failure_mode] = FailureModeSummary(worst_severity=f.severity, count=1)
        else:
            worst = max(prev.worst_severity, f.severity, key=lambda s: s.rank)
            out[f.failure_mode] = FailureModeSummary(worst_severity=worst, count=prev.count + 1)
    return dict(sorted(out.items()))


class RequestCounts(BaseModel):
    """What became of a chat audit's requests; findings rest only on the answered ones.

    ``sent`` were sent in this session, ``reused`` came from the store (a resumed run),
    ``failed`` were sent but got no answer (a server error, a spend cap; never counted as
    behaviour), ``unsent`` were stopped by ``--budget`` (a resume sends them).
    """

    model_config = ConfigDict(frozen=True)

    sent: int = 0
    reused: int = 0
    failed: int = 0
    unsent: int = 0

    def shortfall(self) -> str:
        """A short phrase on what is missing (empty when every request was answered)."""
        parts = []
        if self.failed:
            parts.append(f"{self.failed} request{'s' * (self.failed != 1)} failed")
        if self.unsent:
            parts.append(f"{self.unsent} not sent (budget ran out)")
        return ", ".join(parts)


class AuditResult(BaseModel):
    """Everything one audit run produced; ``report.json`` is its JSON form (DESIGN §4)."""

    run_id: str
    target: str
    started_at: datetime
    finished_at: datetime | None = None
    alignkit_version: str
    seed: int
    findings: list[Finding] = Field(default_factory=list)
    summary: dict[str, FailureModeSummary] = Field(default_factory=dict)
    plots: list[Plot] = Field(default_factory=list)
    tables: list[Table] = Field(default_factory=list)
    checks_run: list[str] = Field(default_factory=list)
    errors: dict[str, str] = Field(default_factory=dict)
    skipped: dict[str, str] = Field(default_factory=dict)
    requests: RequestCounts | None = None  # chat targets only

    def worst_severity(self) -> Severity:
        """The worst severity among all findings (``info`` when there are none)."""
        return max((f.severity for f in self.findings), key=lambda s: s.rank, default=Severity.INFO)
