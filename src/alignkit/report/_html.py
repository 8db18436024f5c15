"""``report.html``: one self-contained, offline page for people to read and print.

Sections, in order: header, scorecard by failure mode, findings grouped by failure
mode, figures, the governance view (NIST AI RMF), check errors and skips. Everything
that comes from a check, a target or a user is HTML-escaped; the page loads nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from alignkit.core import AuditResult, DataError, Finding, Severity, summarize
from alignkit.report._format import esc, fmt_num, severities_desc
from alignkit.report._html_findings import (
    badge,
    finding_card,
    group_findings,
    group_mitigations,
    lookup_mode,
    slug,
)
from alignkit.report._nist import FUNCTION_TEXT, SUBCATEGORY_TEXT, subcategory_key
from alignkit.report._style import CSS, SCRIPT
from alignkit.report._svg import svg_plot
from alignkit.taxonomy import NIST_FUNCTIONS, nist_function

__all__ = ["to_html"]

_log = logging.getLogger(__name__)


def to_html(result: AuditResult) -> str:
    """The audit as one self-contained HTML page (inline CSS and SVG, no external links).

    Args:
        result: The audit result to render.

    Returns:
        The HTML document as text.
    """
    groups = group_findings(result.findings)
    sections = [
        _header(result),
        _scorecard(result, groups),
        _findings(groups),
        _figures(result),
        _tables(result),
        _governance(groups),
        _problems(result),
        _footer(result),
    ]
    title = esc(f"alignkit audit — {result.target} — {result.run_id}")
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="generator" content="alignkit">',
            f"<title>{title}</title>",
            f"<style>{CSS}</style>",
            "</head>",
            "<body>",
            "<main>",
            *sections,
            "</main>",
            f"<script>{SCRIPT}</script>",
            "</body>",
            "</html>",
            "",
        ]
    )


def _time(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    text = moment.isoformat(sep=" ", timespec="seconds")
    return text.replace("+00:00", " UTC")


def _duration(result: AuditResult) -> str:
    if result.finished_at is None:
        return "—"
    seconds = (result.finished_at - result.started_at).total_seconds()
    minutes, secs = divmod(max(seconds, 0.0), 60)
    return f"{int(minutes)} min {secs:.0f} s" if minutes else f"{secs:.1f} s"


def _header(result: AuditResult) -> str:
    worst = result.worst_severity()
    rows = [
        ("Target", f"<code>{esc(result.target)}</code>"),
        ("Run ID", f"<code>{esc(result.run_id)}</code>"),
        ("Started", esc(_time(result.started_at))),
        ("Finished", esc(_time(result.finished_at))),
        ("Duration", esc(_duration(result))),
        ("alignkit version", esc(result.alignkit_version)),
        ("Seed", esc(result.seed)),
        ("Checks run", f"{len(result.checks_run)}"),
        ("Worst severity", badge(worst) if result.findings else "—"),
    ]
    meta = "".join(f"<div><dt>{name}</dt><dd>{value}</dd></div>" for name, value in rows)
    return (
        "<header>"
        "<h1>alignkit audit report</h1>"
        f'<p class="subtitle">{esc(_overview(result))}</p>'
        f'<dl class="meta">{meta}</dl>'
        "</header>"
    )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _overview(result: AuditResult) -> str:
    """One sentence: how many findings, failure modes, checks and problems."""
    modes = len({f.failure_mode for f in result.findings})
    text = (
        f"{_plural(len(result.findings), 'finding')} across {_plural(modes, 'failure mode')} "
        f"from {_plural(len(result.checks_run), 'check')}"
    )
    if result.errors:
        text += f"; {_plural(len(result.errors), 'check')} failed"
    if result.skipped:
        text += f"; {len(result.skipped)} skipped"
    if result.requests is not None and result.requests.shortfall():
        text += f"; {result.requests.shortfall()}"
    return text + "."


def _tally(findings: Sequence[Finding]) -> str:
    counts = {sev: 0 for sev in Severity}
    for finding in findings:
        counts[finding.severity] += 1
    items = "".join(
        f"<li>{badge(sev)} <span>{counts[sev]}</span></li>" for sev in severities_desc()
    )
    return f'<ul class="tally" aria-label="findings by severity">{items}</ul>'


def _scorecard(result: AuditResult, groups: dict[str, list[Finding]]) -> str:
    parts = ['<section id="scorecard">', "<h2>Scorecard by failure mode</h2>"]
    if not groups:
        parts.append('<p class="empty">No findings: no check produced a measurement.</p>')
        parts.append("</section>")
        return "\n".join(parts)
    summary = summarize(result.findings)
    parts.append(_tally(result.findings))
    parts.append(
        "<table><thead><tr><th>Failure mode</th><th>Worst severity</th>"
        '<th class="num">Findings</th><th>Checks</th></tr></thead><tbody>'
    )
    for mode_id, findings in groups.items():
        mode = lookup_mode(mode_id)
        title = esc(mode.title) if mode else esc(mode_id)
        checks = ", ".join(
            f"<code>{esc(c)}</code>" for c in dict.fromkeys(f.check for f in findings)
        )
        parts.append(
            f'<tr><td><a href="#fm-{esc(slug(mode_id))}">{title}</a>'
            f'<div class="muted small"><code>{esc(mode_id)}</code></div></td>'
            f"<td>{badge(summary[mode_id].worst_severity)}</td>"
            f'<td class="num">{summary[mode_id].count}</td>'
            f'<td class="small">{checks}</td></tr>'
        )
    parts.append("</tbody></table>")
    parts.append("</section>")
    return "\n".join(parts)


def _findings(groups: dict[str, list[Finding]]) -> str:
    parts = [
        '<section id="findings">',
        '<div class="toolbar"><button type="button" onclick="alignkitToggle(true)">'
        'Expand all</button><button type="button" onclick="alignkitToggle(false)">'
        "Collapse all</button></div>",
        "<h2>Findings by failure mode</h2>",
    ]
    if not groups:
        parts.append('<p class="empty">No findings.</p>')
    for mode_id, findings in groups.items():
        mode = lookup_mode(mode_id)
        worst = findings[0].severity
        parts.append(f'<section class="group" id="fm-{esc(slug(mode_id))}">')
        parts.append(
            f'<div class="group-head">{badge(worst)}<h3>{esc(mode.title if mode else mode_id)}'
            f'</h3><code class="id">{esc(mode_id)}</code><span class="muted small">'
            f"{len(findings)} finding{'s' if len(findings) != 1 else ''}</span></div>"
        )
        if mode is not None:
            parts.append(f'<p class="definition">{esc(mode.definition)}</p>')
            chips = "".join(f'<span class="chip">NIST {esc(code)}</span>' for code in mode.nist)
            parts.append(f'<div class="chips">{chips}</div>')
        else:
            parts.append(
                '<p class="definition">This failure mode is not in the taxonomy '
                "(a plugin that was not loaded, or a misspelt id).</p>"
            )
        parts.extend(finding_card(f, mode) for f in findings)
        parts.append(group_mitigations(mode, findings))
        parts.append("</section>")
    parts.append("</section>")
    return "\n".join(parts)


def _figures(result: AuditResult) -> str:
    parts = ['<section id="figures">', "<h2>Figures</h2>"]
    if not result.plots:
        parts.append('<p class="empty">No check produced a figure.</p>')
    for plot in result.plots:
        try:
            svg = svg_plot(plot)
        except DataError as exc:
            _log.warning("%s", exc)
            svg = f'<p class="note">This figure could not be drawn: {esc(exc)}</p>'
        parts.append(
            f"<figure>{svg}<figcaption>{esc(plot.title)} — check "
            f"<code>{esc(plot.check)}</code> ({esc(plot.kind)})</figcaption></figure>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def _cell(value: str | float | int | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return esc(str(value))


def _tables(result: AuditResult) -> str:
    """Tables that checks or experiments attached (omitted when there are none)."""
    if not result.tables:
        return ""
    parts = ['<section id="tables">', "<h2>Tables</h2>"]
    for table in result.tables:
        head = "".join(f"<th>{esc(c)}</th>" for c in table.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in table.rows
        )
        parts.append(
            f"<h3>{esc(table.title)} <small>— <code>{esc(table.check)}</code></small></h3>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def _governance(groups: dict[str, list[Finding]]) -> str:
    """Findings by NIST AI RMF function and subcategory, through the taxonomy."""
    by_code: dict[str, list[Finding]] = {}
    unmapped: list[Finding] = []
    for mode_id, findings in groups.items():
        mode = lookup_mode(mode_id)
        if mode is None or not mode.nist:
            unmapped.extend(findings)
            continue
        for code in mode.nist:
            by_code.setdefault(code, []).extend(findings)
    parts = [
        '<section id="governance">',
        "<h2>Governance view: NIST AI RMF 1.0</h2>",
        '<p class="muted small">Each finding appears under every subcategory its failure mode '
        "maps to in the alignkit taxonomy.</p>",
    ]
    for function in NIST_FUNCTIONS:
        codes = sorted((c for c in by_code if nist_function(c) == function), key=subcategory_key)
        parts.append(f'<div class="gov-function"><h3>{function}</h3>')
        parts.append(f'<p class="muted small">{esc(FUNCTION_TEXT[function])}</p>')
        if not codes:
            parts.append(f'<p class="empty">No finding maps to {function}.</p>')
        for code in codes:
            parts.append(_governance_sub(code, by_code[code]))
        parts.append("</div>")
    if unmapped:
        parts.append('<div class="gov-function"><h3>Not mapped</h3>')
        parts.append(_governance_sub("", unmapped))
        parts.append("</div>")
    parts.append("</section>")
    return "\n".join(parts)


def _governance_sub(code: str, findings: list[Finding]) -> str:
    ordered = sorted(findings, key=lambda f: (-f.severity.rank, f.failure_mode, f.metric))
    worst = ordered[0].severity
    head = (
        f"<strong>{esc(code)}</strong> {esc(SUBCATEGORY_TEXT.get(code, ''))}"
        if code
        else "<strong>Failure modes without a taxonomy entry</strong>"
    )
    items = "".join(
        f"<li>{badge(f.severity)}<code>{esc(f.metric)}</code> = {esc(fmt_num(f.value))}"
        f' <a class="small" href="#fm-{esc(slug(f.failure_mode))}">{esc(f.failure_mode)}</a></li>'
        for f in ordered
    )
    return (
        f'<div class="gov-sub"><div>{badge(worst)} {head} '
        f'<span class="muted small">({len(findings)} finding{"s" if len(findings) != 1 else ""})'
        f"</span></div><ul>{items}</ul></div>"
    )


def _problems(result: AuditResult) -> str:
    parts = ['<section id="errors" class="errors">', "<h2>Check errors</h2>"]
    if result.errors:
        parts.append("<table><thead><tr><th>Check</th><th>Error</th></tr></thead><tbody>")
        for check_id, message in result.errors.items():
            parts.append(
                f"<tr><td><code>{esc(check_id)}</code></td><td><pre>{esc(message)}</pre></td></tr>"
            )
        parts.append("</tbody></table>")
    else:
        parts.append('<p class="empty">None: every check that started finished.</p>')
    if result.skipped:
        parts.append("<h4>Skipped checks</h4>")
        parts.append("<table><thead><tr><th>Check</th><th>Reason</th></tr></thead><tbody>")
        for check_id, reason in result.skipped.items():
            parts.append(f"<tr><td><code>{esc(check_id)}</code></td><td>{esc(reason)}</td></tr>")
        parts.append("</tbody></table>")
    if result.checks_run:
        listed = ", ".join(f"<code>{esc(c)}</code>" for c in result.checks_run)
        parts.append(f'<h4>Checks run</h4><p class="small">{listed}</p>')
    parts.append("</section>")
    return "\n".join(parts)


def _footer(result: AuditResult) -> str:
    return (
        f"<footer>Generated by alignkit {esc(result.alignkit_version)}. "
        "This page is self-contained: it loads no scripts, fonts or images. "
        "The machine-readable record is report.json.</footer>"
    )
