"""Terminal rendering of audit results and run comparisons."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from alignkit import taxonomy
from alignkit.cli._common import literal, out, severity_style
from alignkit.core import AlignkitError, AuditResult, Severity, discover

if TYPE_CHECKING:  # the command line imports what a command needs when it runs
    from alignkit.audit import MetricChange

__all__ = ["print_changes", "print_result"]


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def print_result(result: AuditResult, *, min_severity: Severity = Severity.INFO) -> None:
    """Scorecard by failure mode, then the findings table."""
    out.print(
        Text.assemble(
            ("alignkit audit", "bold"), f" {result.target}   run ", (result.run_id, "bold")
        )
    )
    card = Table("failure mode", "worst", "findings", title="Scorecard")
    with contextlib.suppress(AlignkitError):  # a refused plugin: its modes stay unknown
        discover()  # a plugin's failure modes join the taxonomy when plugins load
    for mode, s in result.summary.items():
        try:
            title = taxonomy.get(mode).title
        except KeyError:
            title = mode
        card.add_row(
            literal(title),
            f"[{severity_style(s.worst_severity)}]{s.worst_severity}[/]",
            str(s.count),
        )
    out.print(card)
    title = "Findings (details, thresholds and evidence in the report)"
    table = Table(title=title, show_edge=False)
    table.add_column("severity", no_wrap=True, min_width=8)
    table.add_column("metric", overflow="fold")
    for name in ("value", "95% CI", "n"):
        table.add_column(name, no_wrap=True)
    for f in sorted(result.findings, key=lambda f: -f.severity.rank):
        if f.severity < min_severity:
            continue
        ci = "-" if f.ci_low is None or f.ci_high is None else f"{f.ci_low:.2f}–{f.ci_high:.2f}"
        arrow = "↑" if f.direction == "higher_is_worse" else "↓"
        table.add_row(
            f"[{severity_style(f.severity)}]{f.severity}[/]",
            literal(f"{f.metric} {arrow}"),
            _fmt(f.value),
            ci,
            str(f.n),
        )
    out.print(table)
    for cid, why in {**result.errors}.items():
        out.print(Text.assemble(("error", "red"), f" {cid}: {why}"))
    r = result.requests
    if r is not None and r.shortfall():
        answered = r.sent - r.failed + r.reused
        out.print(
            Text.assemble(
                ("requests:", "yellow"), f" {r.shortfall()}; findings rest on {answered} answered"
            )
        )
    for cid, why in result.skipped.items():
        out.print(literal(f"skipped {cid}: {why}", "dim"))


def print_changes(changes: list[MetricChange], title: str) -> None:
    """A per-metric comparison table."""
    table = Table(title=literal(title))  # run ids from the store
    table.add_column("metric", no_wrap=True)
    for name in ("before", "after", "change", "p"):
        table.add_column(name, no_wrap=True)
    from alignkit.audit import Change

    colour = {Change.WORSE: "red", Change.BETTER: "green"}
    for c in changes:
        mark = c.change.value + (" *" if c.significant else "")
        style = colour.get(c.change, "dim")
        p = "-" if c.p_value is None else f"{c.p_value:.3g}"
        table.add_row(literal(c.metric), _fmt(c.before), _fmt(c.after), f"[{style}]{mark}[/]", p)
    out.print(table)
    if any(c.significant for c in changes):
        out.print("[dim]* significant at the 5% level[/dim]")
