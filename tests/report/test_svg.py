from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from alignkit.core import DataError, Plot
from alignkit.report import svg_plot
from alignkit.report._svg import _tick, nice_ticks

NS = "{http://www.w3.org/2000/svg}"


def _svg(kind: str, data: dict[str, Any], title: str = "A figure") -> ET.Element:
    text = svg_plot(Plot(check="c", title=title, kind=kind, data=data))  # type: ignore[arg-type]
    root = ET.fromstring(text)
    assert root.tag == f"{NS}svg"
    return root


def _texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{NS}text")]


LINE = {
    "x_label": "layer",
    "y_label": "AUROC",
    "series": [
        {"name": "flawed", "x": [0, 1, 2, 3], "y": [0.5, 0.8, 0.99, 0.9]},
        {"name": "clean", "x": [0, 1, 2, 3], "y": [0.5, None, 0.52, 0.5]},
    ],
}


def test_line_has_axes_labels_legend_and_one_path_per_series() -> None:
    root = _svg("line", LINE, title="Probe AUROC")
    texts = _texts(root)
    assert root.find(f"{NS}title") is not None and root.find(f"{NS}title").text == "Probe AUROC"
    for label in ("layer", "AUROC", "flawed", "clean", "Probe AUROC"):
        assert label in texts
    for tick in ("0", "1", "2", "3"):  # x ticks
        assert tick in texts
    data_paths = [p for p in root.iter(f"{NS}path") if p.get("stroke-width") == "2.2"]
    assert len(data_paths) == 2
    # the None in "clean" breaks the line into two pieces
    assert data_paths[1].get("d", "").count("M") == 2
    assert len(root.findall(f".//{NS}circle")) == 7


def test_line_points_are_placed_by_value() -> None:
    root = _svg("line", {"series": [{"name": "s", "x": [0, 10], "y": [0, 1]}]})
    (low, high) = [(float(c.get("cx", 0)), float(c.get("cy", 0))) for c in root.iter(f"{NS}circle")]
    assert high[0] > low[0]  # larger x is further right
    assert high[1] < low[1]  # larger y is higher up (smaller pixel y)


def test_line_accepts_categorical_x() -> None:
    root = _svg("line", {"series": [{"name": "s", "x": ["before", "after"], "y": [0.2, 0.1]}]})
    assert {"before", "after"} <= set(_texts(root))


def test_bar_has_one_rect_per_value_with_labels() -> None:
    data = {"labels": ["a<b", "c", "d"], "values": [0.5, -0.25, 1.5], "y_label": "rate"}
    text = svg_plot(Plot(check="c", title="bars", kind="bar", data=data))
    assert "a&lt;b" in text and "a<b" not in text
    root = ET.fromstring(text)
    bars = [r for r in root.iter(f"{NS}rect") if r.find(f"{NS}title") is not None]
    assert len(bars) == 3
    heights = [float(r.get("height", 0)) for r in bars]
    assert heights[2] > heights[0] > heights[1] > 0
    assert "rate" in _texts(root)


def test_reliability_diagram_has_bins_and_diagonal() -> None:
    bins = [
        {"confidence": 0.25, "accuracy": 0.2, "count": 10},
        {"confidence": 0.75, "accuracy": 0.5, "count": 30},
    ]
    root = _svg("reliability", {"bins": bins})
    texts = _texts(root)
    assert "stated confidence" in texts and "accuracy" in texts
    assert "perfect calibration" in texts and "accuracy in bin" in texts
    bars = [r for r in root.iter(f"{NS}rect") if r.find(f"{NS}title") is not None]
    assert len(bars) == 2
    diagonal = [ln for ln in root.iter(f"{NS}line") if ln.get("stroke-dasharray") and ln.get("x2")]
    diag = max(diagonal, key=lambda ln: float(ln.get("x2", 0)) - float(ln.get("x1", 0)))
    # from bottom-left to top-right
    assert float(diag.get("x2", 0)) > float(diag.get("x1", 0))
    assert float(diag.get("y2", 0)) < float(diag.get("y1", 0))
    # ECE computed from the bins: (10*0.05 + 30*0.25) / 40 = 0.2
    assert "ECE = 0.200" in texts and "n = 40" in texts


def test_taller_accuracy_gives_taller_bar() -> None:
    bins = [
        {"confidence": 0.3, "accuracy": 0.1, "count": 5},
        {"confidence": 0.7, "accuracy": 0.9, "count": 5},
    ]
    root = _svg("reliability", {"bins": bins, "n_bins": 10})
    bars = [r for r in root.iter(f"{NS}rect") if r.find(f"{NS}title") is not None]
    assert float(bars[1].get("height", 0)) > 5 * float(bars[0].get("height", 0))


def test_titles_and_labels_are_escaped() -> None:
    text = svg_plot(
        Plot(
            check="c",
            title="<script>x</script> & co",
            kind="line",
            data={"series": [{"name": '"><b>', "x": [1, 2], "y": [1, 2]}]},
        )
    )
    ET.fromstring(text)
    assert "<script>" not in text and "<b>" not in text
    assert "&lt;script&gt;" in text


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("line", {"series": [{"name": "s", "x": [1, 2], "y": [1]}]}),
        ("line", {"series": []}),
        ("line", {"x_label": "no series"}),
        ("bar", {"labels": ["a", "b"], "values": [1]}),
        ("bar", {"labels": ["a"], "values": ["high"]}),
        ("reliability", {"bins": [{"confidence": 0.5}]}),
        ("reliability", {"bins": []}),
        ("line", {"series": [{"name": "s", "x": [1], "y": [float("nan")]}]}),
    ],
)
def test_malformed_data_raises_data_error(kind: str, data: dict[str, Any]) -> None:
    with pytest.raises(DataError, match=re.escape(f"({kind})")):
        svg_plot(Plot(check="c", title="t", kind=kind, data=data))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("low", "high"), [(0, 1), (0.12, 0.47), (-3, 17), (5, 5), (1e-4, 3e-4), (-2.5, -0.1)]
)
def test_nice_ticks_cover_the_range(low: float, high: float) -> None:
    ticks = nice_ticks(low, high)
    assert ticks[0] <= low and ticks[-1] >= high
    assert 3 <= len(ticks) <= 12
    steps = {round(b - a, 12) for a, b in zip(ticks, ticks[1:], strict=False)}
    assert len(steps) == 1


@pytest.mark.parametrize(
    ("value", "label"),
    [(0.2, "0.2"), (0.125, "0.125"), (1500, "1500"), (50_000, "50k"), (500_000, "500k"),
     (1_500_000, "1.5M"), (-2e9, "-2G"), (-0.0, "0")],
)  # fmt: skip
def test_tick_labels_are_compact_and_correct(value: float, label: str) -> None:
    assert _tick(value) == label


def test_many_series_stay_distinguishable() -> None:
    series = [{"name": f"s{i}", "x": [0, 1], "y": [i, i + 1]} for i in range(9)]
    root = _svg("line", {"series": series})
    paths = [p for p in root.iter(f"{NS}path") if p.get("stroke-width") == "2.2"]
    styles = {(p.get("stroke"), p.get("stroke-dasharray")) for p in paths}
    assert len(styles) == 9


def test_axes_of_counts_and_indices_and_long_labels() -> None:
    """All-zero counts ran from -1 to 1, block indices got 0.5 ticks, and a label cut by one
    character carried a note longer than the character."""
    assert nice_ticks(0.0, 0.0)[0] == 0.0 and nice_ticks(0.0, 0.0)[-1] > 0
    series = [{"name": "s", "x": [0, 1, 2, 3], "y": [1, 2, 3, 4]}]
    line = svg_plot(Plot(check="c", title="t", kind="line", data={"series": series}))
    labels = re.findall(r">([^<>]+)</text>", line)
    assert "0.5" not in labels and "1" in labels
    bars = {"labels": ["refusal-suppression", "x"], "values": [0, 0]}
    bar = svg_plot(Plot(check="c", title="t", kind="bar", data=bars))
    assert "refusal-suppressi…" in bar and "more characters" not in bar
    assert not any(t.startswith("-") for t in re.findall(r">(-?\d[\d.]*)</text>", bar))
