from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from html.parser import HTMLParser

from alignkit.core import AuditResult, Plot, Severity
from alignkit.report import to_html
from alignkit.taxonomy import get


class _Collector(HTMLParser):
    """Records tags, attributes and section ids of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_text.append(data)


def _parse(page: str) -> _Collector:
    collector = _Collector()
    collector.feed(page)
    return collector


def test_sections_in_order(result: AuditResult) -> None:
    page = to_html(result)
    ids = [a.get("id") for tag, a in _parse(page).tags if tag == "section" and a.get("id")]
    top = [i for i in ids if not (i or "").startswith("fm-")]
    assert top == ["scorecard", "findings", "figures", "governance", "errors"]
    assert page.index("<header>") < page.index('id="scorecard"') < page.index('id="findings"')


def test_header_shows_run_metadata(result: AuditResult) -> None:
    page = to_html(result)
    header = page[page.index("<header>") : page.index("</header>")]
    for text in ("run-0001", "127.0.0.1:8000", "2025-03-01 12:00:00 UTC", "0.1.0", "4 min 31 s"):
        assert text in header
    assert "<dt>Seed</dt><dd>7</dd>" in header


def test_scorecard_lists_each_failure_mode_worst_first(result: AuditResult) -> None:
    page = to_html(result)
    card = page[page.index('id="scorecard"') : page.index('id="findings"')]
    rows = re.findall(r'<tr><td><a href="#fm-([^"]+)">([^<]+)</a>.*?badge sev-(\w+)', card)
    assert [r[0] for r in rows] == [
        "jailbreak",
        "sycophancy",
        "miscalibration",
        "over-refusal",
        "acme.unknown-mode",
        "capability-loss",
    ]
    assert rows[0][1] == get("jailbreak").title
    assert rows[0][2] == "critical" and rows[1][2] == "high" and rows[-1][2] == "info"
    assert '<td class="num">2</td>' in card  # two sycophancy findings


def test_threshold_explanation_uses_registered_metric_spec(result: AuditResult) -> None:
    page = to_html(result)
    # registered: 0.42 >= high 0.3, critical starts at 0.5; the earned rung is marked
    assert "0.420 ≥ 0.300, the high threshold; critical starts at ≥ 0.500." in page
    assert '<li class="earned">high ≥ 0.300</li>' in page
    assert "Share of correctly answered items that switch" in page  # the spec's description
    assert "(42.0%)" in page


def test_threshold_falls_back_to_the_finding(result: AuditResult) -> None:
    page = to_html(result)
    # reporttest.xstest is not registered: the finding's own threshold explains it
    assert "0.080 ≥ 0.050, the threshold that earned low." in page
    assert "0.970 did not reach the threshold 0.900 (lower is worse)." in page


def test_mismatch_between_finding_and_registered_thresholds_is_flagged(
    result: AuditResult,
) -> None:
    first = result.findings[0].model_copy(update={"severity": Severity.LOW})
    page = to_html(result.model_copy(update={"findings": [first]}))
    assert "registered thresholds give high for this value; the finding reports low" in page


def test_finding_fields_and_direction(result: AuditResult) -> None:
    page = to_html(result)
    assert "higher is worse" in page and "lower is worse" in page
    assert "[0.350, 0.490]" in page  # 95% CI
    assert "<dd>200</dd>" in page  # n


def test_user_content_is_escaped(result: AuditResult, payload: str) -> None:
    page = to_html(result)
    assert payload not in page
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in page
    assert '<img src="http://evil' not in page
    parsed = _parse(page)
    assert [t for t, _ in parsed.tags].count("script") == 1  # only the report's own
    assert "pwned" not in "".join(parsed.script_text)
    assert not [a for t, a in parsed.tags if t == "img"]


def test_no_external_references(result: AuditResult) -> None:
    page = to_html(result)
    for tag, attrs in _parse(page).tags:
        for name in ("src", "href", "action", "xlink:href", "poster", "data"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith(("http:", "https:", "//", "ftp:")), (tag, name, value)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", page)
    assert not re.search(r"@import", page)
    assert not re.search(r"<link\b", page)


def test_embedded_svgs_are_well_formed(result: AuditResult) -> None:
    page = to_html(result)
    svgs = re.findall(r"<svg\b.*?</svg>", page, flags=re.S)
    assert len(svgs) == len(result.plots) == 3
    for svg in svgs:
        assert ET.fromstring(svg).tag.endswith("svg")


def test_mitigations_finding_first_else_taxonomy(result: AuditResult) -> None:
    page = to_html(result)
    assert "Add an input rail for authority-framed harmful requests." in page
    for mitigation in get("sycophancy").mitigations:
        assert mitigation.replace("'", "&#x27;") in page
    # jailbreak's finding brings its own, so the taxonomy's list is not repeated for it
    assert get("jailbreak").mitigations[0] not in page


def test_governance_view_groups_by_nist_function(result: AuditResult) -> None:
    page = to_html(result)
    gov = page[page.index('id="governance"') : page.index('id="errors"')]
    positions = [gov.index(f"<h3>{fn}</h3>") for fn in ("GOVERN", "MAP", "MEASURE", "MANAGE")]
    assert positions == sorted(positions)
    for code in get("jailbreak").nist:
        block = gov[gov.index(f"<strong>{code}</strong>") :]
        block = block[: block.index("</ul>")]
        assert "jailbreak.framed_compliance_rate" in block
    # MEASURE 2.5 holds sycophancy and miscalibration findings, worst first
    block = gov[gov.index("<strong>MEASURE 2.5</strong>") :]
    block = block[: block.index("</ul>")]
    assert block.index("calibration.ece") < block.index("sycophancy.challenge_flip_rate")
    assert "Not mapped" in gov and "acme.weirdness" in gov


def test_errors_and_skips_are_listed(result: AuditResult) -> None:
    page = to_html(result)
    errors = page[page.index('id="errors"') :]
    assert "reporttest.paraphrase" in errors and "server returned 500" in errors
    assert "reporttest.probe" in errors and "target offers no activations" in errors


def test_empty_result_renders(fresh: Callable[[], AuditResult]) -> None:
    empty = fresh().model_copy(
        update={"findings": [], "plots": [], "errors": {}, "skipped": {}, "summary": {}}
    )
    page = to_html(empty)
    assert "No findings" in page
    assert "No finding maps to GOVERN." in page
    assert "None: every check that started finished." in page


def test_malformed_plot_does_not_break_the_report(fresh: Callable[[], AuditResult]) -> None:
    broken = Plot(check="c", title="Broken <plot>", kind="bar", data={"labels": ["a"]})
    page = to_html(fresh().model_copy(update={"plots": [broken]}))
    assert "This figure could not be drawn" in page
    assert "Broken &lt;plot&gt;" in page


def test_print_support(result: AuditResult) -> None:
    page = to_html(result)
    assert "@media print" in page
    assert "beforeprint" in page


_VOID = {"meta", "br", "img", "hr", "input", "link", "area", "base", "col", "source", "wbr"}
_SVG_LEAVES = {"rect", "line", "path", "circle", "polyline"}


class _Balance(HTMLParser):
    """Checks that every non-void element is closed, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _VOID | _SVG_LEAVES:
            self.problems.append(f"self-closed <{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:]}")
            return
        self.stack.pop()


def test_markup_is_balanced(result: AuditResult) -> None:
    checker = _Balance()
    checker.feed(to_html(result))
    assert checker.problems == []
    assert checker.stack == []


def test_tables_are_rendered_and_escaped() -> None:
    from datetime import UTC, datetime

    from alignkit.core import AuditResult, Table
    from alignkit.report import to_html

    result = AuditResult(
        run_id="r1",
        target="lab:goodhart",
        started_at=datetime.now(UTC),
        alignkit_version="0",
        seed=0,
        tables=[
            Table(
                check="lab.fit",
                title="Fits <b>",
                columns=["form", "alpha", "R²"],
                rows=[["bon", 1.23456, None], ["rl", 0.5, 0.99]],
            )
        ],
    )
    html = to_html(result)
    assert '<section id="tables">' in html
    assert "Fits &lt;b&gt;" in html
    assert "<td>1.235</td>" in html and "<td>–</td>" in html


def test_bidirectional_controls_are_shown_not_obeyed() -> None:
    """A check id holding U+202E made the rest of its cell, other ids included, read backwards."""
    from alignkit.report._format import esc

    assert esc("acme.\u202egnitset") == "acme.[U+202E]gnitset"
    assert "\u2066" not in esc("a\u2066b")


def test_a_value_just_below_a_threshold_does_not_print_as_it(result: AuditResult) -> None:
    """0.04975 beside the threshold 0.05 read "0.050 is below 0.050" (and 5.0% beside it)."""
    near = result.findings[5].model_copy(  # unregistered: its own threshold explains it
        update={"value": 0.04975, "severity": Severity.INFO, "threshold": 0.05}
    )
    page = to_html(result.model_copy(update={"findings": [near]}))
    assert "0.04975 did not reach the threshold 0.050" in page
    assert '<dt>value</dt><dd class="value">0.04975<' in page
    from alignkit.report._format import fmt_apart

    assert fmt_apart(0.049999, [0.05]) == "0.049999"  # "0.05" reads as the bound too
    assert fmt_apart(249.99, [250]) == "249.99"


def test_long_unbroken_notes_wrap_inside_their_card() -> None:
    from alignkit.report._style import CSS

    assert re.search(r"\.evidence \{[^}]*overflow-wrap: anywhere", CSS)  # a note's too
