"""The HTML report in a real headless Chromium: nothing runs off the page or loads.

Layout is measured, not read from the source: figure titles inside the figure, legend
entries apart, no sideways scroll with every evidence item open, no network request.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from alignkit.core import AuditResult, Direction, Evidence, Finding, Plot, Severity
from alignkit.report import write_reports

CHROMIUM = Path("/usr/lib/chromium/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-dev-shm-usage"]  # fmt: skip

_LONG_TITLE = (
    "Best-of-n: single MLP proxy vs ensembles of 5 (25% label noise, MLP members share "
    "4,000 comparisons)"
)


def _result() -> AuditResult:
    series = [
        {"name": name, "x": [0, 1, 2, 3], "y": [0.1 * i + k for i in range(4)]}
        for k, name in enumerate(
            ["single proxy", "ensemble mean", "ensemble WCO", "ensemble UWO", "gold (ensemble)"]
        )
    ]
    finding = Finding(
        check="acme.facts",
        failure_mode="capability-loss",
        severity=Severity.HIGH,
        metric="acme.accuracy",
        value=0.2,
        direction=Direction.LOWER_IS_WORSE,
        threshold=0.5,
        n=4,
        evidence=[Evidence(input="Q" * 3000, output="W" * 5000, note="expected: " + "A" * 3000)],
        run_id="r1",
    )
    return AuditResult(
        run_id="r1",
        target="python:app.py:respond",
        started_at=datetime.now(UTC),
        alignkit_version="0",
        seed=0,
        findings=[finding],
        plots=[
            Plot(
                check="acme.fit",
                title=_LONG_TITLE,
                kind="line",
                data={"x_label": "d", "y_label": "gold", "series": series},
            )
        ],
    )


def test_report_layout_in_a_real_browser(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Chromium is installed by make setup")
    sync_api = pytest.importorskip("playwright.sync_api")
    page_path = write_reports(_result(), tmp_path, rerun_hint=False)["html"]
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_path.as_uri())
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            title = page.evaluate(
                "(() => { const t = document.querySelector('svg.plot > text');"
                " const b = t.getBBox(); return [b.x, b.x + b.width]; })()"
            )
            legend = page.evaluate(
                "Array.from(document.querySelectorAll('svg.plot text[font-size=\"12\"]'))"
                ".filter(t => t.getBBox().y < 60)"
                ".map(t => { const b = t.getBBox(); return [b.x, b.x + b.width, b.y]; })"
            )
        finally:
            browser.close()
    assert [u for u in requests if not u.startswith("file:")] == []
    assert overflow <= 0, "a long unbroken note pushed the page sideways"
    assert 0 <= title[0] and title[1] <= 640, f"the title runs off the figure: {title}"
    rows: dict[float, list[list[float]]] = {}
    for x0, x1, y in legend:
        rows.setdefault(round(y), []).append([x0, x1])
    for entries in rows.values():
        entries.sort()
        for (_, end), (start, _) in zip(entries, entries[1:], strict=False):
            assert end + 20 <= start, "a legend label runs into the next entry's swatch"
