"""HTML for findings: one card per finding, explained against its check's thresholds."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from alignkit.core import (
    CHECKS,
    AlignkitError,
    Direction,
    Finding,
    MetricSpec,
    Severity,
    discover,
)
from alignkit.report._format import direction_text, esc, fmt_apart, fmt_ci, fmt_num, truncate
from alignkit.taxonomy import FailureMode, get, ids

__all__ = [
    "badge",
    "explain",
    "finding_card",
    "group_findings",
    "group_mitigations",
    "lookup_mode",
    "lookup_spec",
    "slug",
]

_log = logging.getLogger(__name__)
EVIDENCE_ITEMS = 5
EVIDENCE_CHARS = 1200
_SLUG = re.compile(r"[^A-Za-z0-9_.-]+")


def slug(text: str) -> str:
    """An id-safe fragment for anchors."""
    return _SLUG.sub("-", text).strip("-") or "x"


def badge(severity: Severity) -> str:
    """A coloured severity badge."""
    return f'<span class="badge sev-{severity.value}">{severity.value}</span>'


def lookup_mode(mode_id: str) -> FailureMode | None:
    """The taxonomy entry of ``mode_id``, or ``None`` for an id the taxonomy lacks."""
    try:
        discover()  # a plugin's failure modes join the taxonomy when plugins load
    except AlignkitError:  # a refused plugin: its modes are unknown, as lookup_spec's checks
        pass
    try:
        return get(mode_id)
    except KeyError:
        return None


def lookup_spec(finding: Finding) -> MetricSpec | None:
    """The registered :class:`MetricSpec` of the finding's metric, if its check is known."""
    try:
        if finding.check not in CHECKS:
            return None
        return CHECKS.get(finding.check).metric(finding.metric)
    except AlignkitError as exc:
        _log.debug("no registered metric for %s/%s: %s", finding.check, finding.metric, exc)
        return None


def _mode_rank(mode_id: str, order: dict[str, int]) -> int:
    return order.get(mode_id, len(order))


def group_findings(findings: Sequence[Finding]) -> dict[str, list[Finding]]:
    """Findings by failure mode: worst groups first, then in taxonomy order.

    Within a group, findings run from the worst severity down, then by check and metric.
    """
    order = {mode_id: i for i, mode_id in enumerate(ids())}
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(finding.failure_mode, []).append(finding)
    for members in groups.values():
        members.sort(key=lambda f: (-f.severity.rank, f.check, f.metric))

    def key(mode_id: str) -> tuple[int, int, str]:
        worst = groups[mode_id][0].severity.rank
        return -worst, _mode_rank(mode_id, order), mode_id

    return {mode_id: groups[mode_id] for mode_id in sorted(groups, key=key)}


# --- why a value earned its severity --------------------------------------------------


@dataclass(frozen=True)
class _Explanation:
    why: str
    ladder: list[tuple[Severity, float]]
    note: str = ""


def _op(direction: Direction) -> str:
    return "≥" if direction is Direction.HIGHER_IS_WORSE else "≤"


def _bounds(finding: Finding, spec: MetricSpec | None) -> list[float | None]:
    """The thresholds a reader compares the finding's value with."""
    return [finding.threshold, *(spec.thresholds.values() if spec is not None else ())]


def explain(finding: Finding, spec: MetricSpec | None) -> _Explanation:
    """Why the finding's value earned its severity, from the check's declared thresholds."""
    bounds = _bounds(finding, spec)
    value, op = fmt_apart(finding.value, bounds), _op(finding.direction)
    if spec is not None and spec.thresholds:
        ladder = sorted(spec.thresholds.items(), key=lambda kv: kv[0].rank)
        expected, bound = spec.severity_of(finding.value)
        if finding.severity is Severity.INFO:
            side = "below" if finding.direction is Direction.HIGHER_IS_WORSE else "above"
            why = f"{value} is {side} every threshold, so it is informational only."
        else:
            earned = spec.thresholds.get(finding.severity, bound)
            why = (
                f"{value} {op} {fmt_num(earned)}, the {finding.severity.value} threshold"
                f"{_next_step(finding, ladder)}."
            )
        note = ""
        if expected is not finding.severity:
            note = (
                f"The check's registered thresholds give {expected.value} for this value; "
                f"the finding reports {finding.severity.value}."
            )
        return _Explanation(why, ladder, note)
    if finding.threshold is None:
        return _Explanation("No threshold declared; severity as reported by the check.", [])
    threshold = fmt_num(finding.threshold)
    if finding.severity is Severity.INFO:
        direction = direction_text(finding.direction)
        why = f"{value} did not reach the threshold {threshold} ({direction})."
    else:
        why = f"{value} {op} {threshold}, the threshold that earned {finding.severity.value}."
    return _Explanation(why, [])


def _next_step(finding: Finding, ladder: list[tuple[Severity, float]]) -> str:
    """``; high starts at 0.4`` — the next-worse threshold the value did not reach."""
    worse = [(s, b) for s, b in ladder if s.rank > finding.severity.rank]
    if not worse:
        return ""
    severity, bound = worse[0]
    return f"; {severity.value} starts at {_op(finding.direction)} {fmt_num(bound)}"


# --- the card -------------------------------------------------------------------------


def finding_card(finding: Finding, mode: FailureMode | None) -> str:
    """One finding as an HTML card."""
    spec = lookup_spec(finding)
    expl = explain(finding, spec)
    bounds = _bounds(finding, spec)
    value = esc(fmt_apart(finding.value, bounds))
    if spec is not None and spec.rate and 0.0 <= finding.value <= 1.0:
        pct = f"{finding.value:.1%}"
        if any(b is not None and b != finding.value and f"{b:.1%}" == pct for b in bounds):
            hundred = [None if b is None else 100 * b for b in bounds]
            pct = fmt_apart(100 * finding.value, hundred) + "%"  # 4.975 %, not 5.0 %
        value += f' <span class="muted small">({pct})</span>'
    parts = [
        f'<article class="card sev-border-{finding.severity.value}">',
        '<div class="card-head">',
        badge(finding.severity),
        f'<code class="metric">{esc(finding.metric)}</code>',
        f'<span class="check small">check <code>{esc(finding.check)}</code></span>',
        "</div>",
    ]
    if spec is not None and spec.description:
        parts.append(f'<div class="muted small">{esc(spec.description)}</div>')
    parts += [
        '<dl class="stats">',
        f'<div><dt>value</dt><dd class="value">{value}</dd></div>',
        f"<div><dt>direction</dt><dd>{esc(direction_text(finding.direction))}</dd></div>",
        f"<div><dt>threshold</dt><dd>{esc(fmt_num(finding.threshold))}</dd></div>",
        f"<div><dt>95% CI</dt><dd>{esc(fmt_ci(finding.ci_low, finding.ci_high))}</dd></div>",
        f"<div><dt>n</dt><dd>{finding.n:,}</dd></div>",
        "</dl>",
        f'<p class="why"><strong>Why {esc(finding.severity.value)}:</strong> {esc(expl.why)}</p>',
    ]
    if expl.ladder:
        op = _op(finding.direction)
        items = "".join(
            f'<li class="{"earned" if sev is finding.severity else ""}">'
            f"{esc(sev.value)} {op} {esc(fmt_num(bound))}</li>"
            for sev, bound in expl.ladder
        )
        parts.append(f'<ul class="ladder" aria-label="severity thresholds">{items}</ul>')
    if expl.note:
        parts.append(f'<p class="note">{esc(expl.note)}</p>')
    parts.append(_evidence(finding))
    parts.append(_mitigation(finding, mode))
    parts.append("</article>")
    return "\n".join(p for p in parts if p)


def _evidence(finding: Finding) -> str:
    if not finding.evidence:
        return ""
    shown = finding.evidence[:EVIDENCE_ITEMS]
    parts = [f"<details><summary>Evidence ({len(finding.evidence)})</summary>"]
    for item in shown:
        parts.append('<div class="evidence">')
        parts.append(
            f'<div class="label">input</div><pre>{esc(truncate(item.input, EVIDENCE_CHARS))}</pre>'
        )
        parts.append(
            f'<div class="label">output</div><pre>{esc(truncate(item.output, EVIDENCE_CHARS))}'
            "</pre>"
        )
        if item.note:
            note = esc(truncate(item.note, EVIDENCE_CHARS))
            parts.append(f'<div class="label">note</div><div>{note}</div>')
        parts.append("</div>")
    hidden = len(finding.evidence) - len(shown)
    if hidden:
        parts.append(
            f'<p class="muted small">{hidden} more evidence item{"s" if hidden > 1 else ""} '
            "in report.json.</p>"
        )
    parts.append("</details>")
    return "\n".join(parts)


def _mitigation(finding: Finding, mode: FailureMode | None) -> str:
    """The finding's own mitigation, else a pointer to the taxonomy's (shown once per group)."""
    if finding.mitigation:
        return (
            f'<div class="mitigation"><strong>Mitigation.</strong> {esc(finding.mitigation)}</div>'
        )
    if mode is not None and mode.mitigations:
        return (
            '<p class="small"><strong>Mitigation:</strong> see the '
            f'<a href="#mit-{esc(slug(mode.id))}">recommended mitigations for '
            f"{esc(mode.title)}</a> below.</p>"
        )
    return ""


def group_mitigations(mode: FailureMode | None, findings: Sequence[Finding]) -> str:
    """The taxonomy's mitigations, once per group, when a finding brings none of its own."""
    if mode is None or not mode.mitigations or all(f.mitigation for f in findings):
        return ""
    items = "".join(f"<li>{esc(m)}</li>" for m in mode.mitigations)
    return (
        f'<div class="mitigation" id="mit-{esc(slug(mode.id))}"><strong>Recommended '
        f"mitigations for {esc(mode.title)}</strong> "
        '<span class="muted small">(from the alignkit taxonomy)</span>'
        f"<ul>{items}</ul></div>"
    )
