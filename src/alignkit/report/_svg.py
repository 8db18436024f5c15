"""Inline SVG for report figures: line charts, bar charts and reliability diagrams.

Each figure is a self-contained ``<svg>`` element (no scripts, fonts or links) with
axes, ticks, axis labels, a legend and a ``<title>`` for screen readers. The data
formats are those of :class:`alignkit.core.Plot`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from alignkit.core import DataError, Plot
from alignkit.report._format import clip, esc, fmt_num

__all__ = ["svg_plot"]

_W, _H = 640, 360
_LEFT, _RIGHT, _BOTTOM = 64, 20, 50
# Okabe–Ito palette: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
_AXIS = "#374151"
_GRID = "#e5e7eb"
_FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"'


def svg_plot(plot: Plot) -> str:
    """Render ``plot`` as an inline SVG element.

    Args:
        plot: A figure of kind ``line`` (``{"x_label", "y_label", "series": [{"name",
            "x", "y"}]}``; ``y`` may hold ``null`` for gaps, ``x`` may be categories),
            ``bar`` (``{"labels", "values", "y_label"}``) or ``reliability``
            (``{"bins": [{"confidence", "accuracy", "count"}]}``, optionally ``"ece"``
            and ``"n_bins"``). ``line`` and ``bar`` accept ``"y_range": [low, high]``.

    Returns:
        The ``<svg>`` markup, well-formed XML.

    Raises:
        DataError: If ``plot.data`` does not have the shape its kind requires.
    """
    renderer = _RENDERERS[plot.kind]
    try:
        return renderer(plot)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise DataError(f"plot {plot.title!r} ({plot.kind}) has malformed data: {exc}") from exc


# --- geometry -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Frame:
    """The plot area and the linear maps from data to pixels."""

    left: float
    top: float
    right: float
    bottom: float
    x0: float
    x1: float
    y0: float
    y1: float

    def px(self, x: float) -> float:
        span = self.x1 - self.x0 or 1.0
        return self.left + (x - self.x0) / span * (self.right - self.left)

    def py(self, y: float) -> float:
        span = self.y1 - self.y0 or 1.0
        return self.bottom - (y - self.y0) / span * (self.bottom - self.top)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering ``[low, high]`` (about ``count`` of them)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError("axis range is not finite")
    if high < low:
        low, high = high, low
    if high == low and low == 0:  # all zero (no count): 0 to 1, not -1 to 1
        high = 1.0
    elif high == low:
        pad = abs(low) * 0.1
        low, high = low - pad, high + pad
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step + 1e-9)
    last = math.ceil(high / step - 1e-9)
    ticks = [round(k * step, 12) for k in range(first, last + 1)]
    return ticks


def _tick(value: float) -> str:
    """A compact axis label: ``0.2``, ``0.125``, ``1500``, ``250k``, ``1.5M``."""
    magnitude = abs(value)
    for start, scale, suffix in ((1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if magnitude >= start:
            return f"{value / scale:.4g}{suffix}"
    text = f"{value:.4g}"
    return "0" if text == "-0" else text


def _margins(labels: Sequence[str], rotate: bool) -> tuple[float, float]:
    """Left and bottom margins that leave room for (rotated) x tick labels."""
    if not rotate:
        return float(_LEFT), float(_BOTTOM)
    first = len(labels[0]) if labels else 0
    longest = max((len(label) for label in labels), default=0)
    return max(float(_LEFT), min(150.0, 5.5 * first * 0.82 + 8)), _BOTTOM + min(70.0, 4.0 * longest)


def _style(i: int) -> tuple[str, str]:
    """Colour and dash pattern of series ``i``; dashes tell apart series past the palette."""
    dashes = ("", "6 3", "2 3")
    return PALETTE[i % len(PALETTE)], dashes[(i // len(PALETTE)) % len(dashes)]


def _num(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} must be a number, got {value!r}")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return result


def _y_range(data: dict[str, Any], values: Sequence[float], include_zero: bool) -> list[float]:
    if "y_range" in data:
        low, high = (_num(v, "y_range") for v in data["y_range"])
        return nice_ticks(low, high) if (low, high) != (0.0, 1.0) else _unit_ticks()
    low, high = min(values), max(values)
    if include_zero:
        low, high = min(low, 0.0), max(high, 0.0)
    if 0.0 <= low and high <= 1.0 and high - low > 0.25:
        return _unit_ticks()
    return nice_ticks(low, high)


def _unit_ticks() -> list[float]:
    return [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]


# --- shared pieces --------------------------------------------------------------------


# Room in the figure's width: a 14 px bold title of more than ~75 characters ran off both
# sides (its full text is the <title> and the caption); 12 px legend text averages ~7 px
# a character (6.5 let "ensemble mean" run into the next entry's swatch).
_TITLE_CHARS = 72
_LEGEND_CHAR_W = 7.2


def _open(plot: Plot, legend: Sequence[tuple[str, str, str]], height: int = _H) -> list[str]:
    """The ``<svg>`` start tag, the title and the legend row(s)."""
    title = esc(plot.title)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {height}" '
        f'width="100%" role="img" aria-label="{title}" class="plot" {_FONT}>',
        f"<title>{title}</title>",
        f'<rect x="0" y="0" width="{_W}" height="{height}" fill="#ffffff"/>',
        f'<text x="{_W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="600" '
        f'fill="#111827">{esc(clip(plot.title, _TITLE_CHARS))}</text>',
    ]
    parts.extend(_legend(legend))
    return parts


def _legend_rows(entries: Sequence[tuple[str, str, str]]) -> list[list[tuple[str, str, str]]]:
    """Entries laid out in rows that fit the width."""
    rows: list[list[tuple[str, str, str]]] = [[]]
    width = 0.0
    for entry in entries:
        item = 26 + _LEGEND_CHAR_W * len(clip(entry[0], 40))
        if rows[-1] and width + item > _W - _LEFT - _RIGHT:
            rows.append([])
            width = 0.0
        rows[-1].append(entry)
        width += item
    return [row for row in rows if row]


def _legend(entries: Sequence[tuple[str, str, str]]) -> list[str]:
    """Legend entries ``(label, colour, shape)``; shape is ``line``, ``box`` or ``dash``."""
    parts = []
    for r, row in enumerate(_legend_rows(entries)):
        x, y = float(_LEFT), 40.0 + 18 * r
        for label, colour, shape in row:
            shown = clip(label, 40)
            if shape == "box":
                parts.append(
                    f'<rect x="{x}" y="{y - 9}" width="14" height="10" fill="{colour}" '
                    'fill-opacity="0.85"/>'
                )
            else:
                pattern = "5 4" if shape == "dash" else shape.partition(":")[2]
                dash = f' stroke-dasharray="{pattern}"' if pattern else ""
                parts.append(
                    f'<line x1="{x}" y1="{y - 4}" x2="{x + 16}" y2="{y - 4}" stroke="{colour}" '
                    f'stroke-width="2.5"{dash}/>'
                )
            parts.append(
                f'<text x="{x + 20}" y="{y}" font-size="12" fill="#1f2937">{esc(shown)}</text>'
            )
            x += 26 + _LEGEND_CHAR_W * len(shown)
    return parts


def _top(legend: Sequence[tuple[str, str, str]]) -> float:
    return 40.0 + 18 * len(_legend_rows(legend))


def _axes(
    frame: _Frame,
    x_ticks: Sequence[tuple[float, str]],
    y_ticks: Sequence[float],
    x_label: str,
    y_label: str,
    *,
    rotate_x: bool = False,
) -> list[str]:
    """Grid lines, tick marks and labels, and both axis titles."""
    parts = []
    for y in y_ticks:
        py = frame.py(y)
        parts.append(
            f'<line x1="{frame.left}" y1="{py:.1f}" x2="{frame.right}" y2="{py:.1f}" '
            f'stroke="{_GRID}" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{frame.left - 8}" y="{py + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="{_AXIS}">{esc(_tick(y))}</text>'
        )
    for x, label in x_ticks:
        px = frame.px(x)
        parts.append(
            f'<line x1="{px:.1f}" y1="{frame.bottom}" x2="{px:.1f}" y2="{frame.bottom + 5}" '
            f'stroke="{_AXIS}"/>'
        )
        anchor, transform = "middle", ""
        if rotate_x:
            anchor = "end"
            transform = f' transform="rotate(-35 {px:.1f} {frame.bottom + 18})"'
        parts.append(
            f'<text x="{px:.1f}" y="{frame.bottom + 18}" text-anchor="{anchor}" font-size="11" '
            f'fill="{_AXIS}"{transform}>{esc(label)}</text>'
        )
    parts.append(
        f'<path d="M{frame.left} {frame.top} V{frame.bottom} H{frame.right}" fill="none" '
        f'stroke="{_AXIS}" stroke-width="1.2"/>'
    )
    if x_label:
        below = _H - 10 if rotate_x else frame.bottom + 40
        parts.append(
            f'<text x="{(frame.left + frame.right) / 2}" y="{below}" '
            f'text-anchor="middle" font-size="12" fill="#111827">{esc(x_label)}</text>'
        )
    if y_label:
        cy = (frame.top + frame.bottom) / 2
        parts.append(
            f'<text x="16" y="{cy}" text-anchor="middle" font-size="12" fill="#111827" '
            f'transform="rotate(-90 16 {cy})">{esc(y_label)}</text>'
        )
    return parts


# --- kinds ----------------------------------------------------------------------------


def _line(plot: Plot) -> str:
    data = plot.data
    series = list(data["series"])
    if not series:
        raise ValueError("no series")
    xs_all = [x for s in series for x in s["x"]]
    categorical = any(isinstance(x, str) for x in xs_all)
    categories = list(dict.fromkeys(str(x) for x in xs_all)) if categorical else []
    lines: list[tuple[str, list[tuple[float, float] | None]]] = []
    for i, s in enumerate(series):
        xs, ys = list(s["x"]), list(s["y"])
        if len(xs) != len(ys):
            raise ValueError(f"series {i} has {len(xs)} x values and {len(ys)} y values")
        points: list[tuple[float, float] | None] = []
        for x, y in zip(xs, ys, strict=True):
            px = float(categories.index(str(x))) if categorical else _num(x, "x")
            points.append(None if y is None else (px, _num(y, "y")))
        lines.append((str(s.get("name", f"series {i + 1}")), points))
    coords = [p for _, pts in lines for p in pts if p is not None]
    if not coords:
        raise ValueError("no finite points")
    legend = [(name, _style(i)[0], f"line:{_style(i)[1]}") for i, (name, _) in enumerate(lines)]
    y_ticks = _y_range(data, [y for _, y in coords], include_zero=False)
    if categorical:
        x_lo, x_hi = -0.5, len(categories) - 0.5
        x_ticks = [(float(i), clip(c, 14)) for i, c in enumerate(categories)]
    else:
        ticks = nice_ticks(min(x for x, _ in coords), max(x for x, _ in coords), 6)
        x_lo, x_hi = ticks[0], ticks[-1]
        if all(float(x).is_integer() for x, _ in coords):  # block 0.5 is no block
            ticks = [t for t in ticks if float(t).is_integer()] or ticks
        x_ticks = [(t, _tick(t)) for t in ticks]
    rotate = categorical and (len(categories) > 8 or max(len(c) for c in categories) > 12)
    left, bottom = _margins([label for _, label in x_ticks], rotate)
    frame = _Frame(
        left, _top(legend) + 8, _W - _RIGHT, _H - bottom, x_lo, x_hi, y_ticks[0], y_ticks[-1]
    )
    parts = _open(plot, legend)
    parts += _axes(
        frame,
        x_ticks,
        y_ticks,
        str(data.get("x_label", "")),
        str(data.get("y_label", "")),
        rotate_x=rotate,
    )
    for i, (name, points) in enumerate(lines):
        parts += _polyline(frame, points, i, name)
    parts.append("</svg>")
    return "\n".join(parts)


def _polyline(
    frame: _Frame, points: Sequence[tuple[float, float] | None], index: int, name: str
) -> list[str]:
    """Series ``index``: a path broken at gaps, with point markers when there are few points."""
    colour, pattern = _style(index)
    dash = f' stroke-dasharray="{pattern}"' if pattern else ""
    segments: list[str] = []
    pen_up = True
    for point in points:
        if point is None:
            pen_up = True
            continue
        segments.append(
            f"{'M' if pen_up else 'L'}{frame.px(point[0]):.1f} {frame.py(point[1]):.1f}"
        )
        pen_up = False
    parts = [
        f'<path d="{" ".join(segments)}" fill="none" stroke="{colour}" stroke-width="2.2" '
        f'stroke-linejoin="round" stroke-linecap="round"{dash}/>'
    ]
    present = [p for p in points if p is not None]
    if len(present) <= 40:
        for x, y in present:
            parts.append(
                f'<circle cx="{frame.px(x):.1f}" cy="{frame.py(y):.1f}" r="3.2" fill="{colour}">'
                f"<title>{esc(name)}: ({esc(fmt_num(x))}, {esc(fmt_num(y))})</title></circle>"
            )
    return parts


def _bar(plot: Plot) -> str:
    data = plot.data
    labels = [str(label) for label in data["labels"]]
    values = [_num(v, "value") for v in data["values"]]
    if len(labels) != len(values):
        raise ValueError(f"{len(labels)} labels and {len(values)} values")
    if not values:
        raise ValueError("no bars")
    x_ticks = [(float(i), clip(label, 18)) for i, label in enumerate(labels)]
    rotate = len(labels) > 6 or max(len(label) for label in labels) > 12
    left, bottom = _margins([label for _, label in x_ticks], rotate)
    y_ticks = _y_range(data, values, include_zero=True)
    frame = _Frame(
        left, _top([]) + 8, _W - _RIGHT, _H - bottom, -0.5, len(values) - 0.5, y_ticks[0],
        y_ticks[-1],
    )  # fmt: skip
    parts = _open(plot, [])
    parts += _axes(
        frame,
        x_ticks,
        y_ticks,
        str(data.get("x_label", "")),
        str(data.get("y_label", "")),
        rotate_x=rotate,
    )
    parts += _bars(frame, labels, values)
    parts.append("</svg>")
    return "\n".join(parts)


def _bars(frame: _Frame, labels: Sequence[str], values: Sequence[float]) -> list[str]:
    """The bars from the zero line, value labels when there is room, and the zero line."""
    slot = (frame.right - frame.left) / len(values)
    base = frame.py(min(max(0.0, frame.y0), frame.y1))
    parts = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        top = frame.py(value)
        y, height = min(top, base), abs(base - top)
        x = frame.left + slot * (i + 0.15)
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{height:.1f}" '
            f'fill="{PALETTE[0]}" fill-opacity="0.85"><title>{esc(label)}: '
            f"{esc(fmt_num(value))}</title></rect>"
        )
        if len(values) <= 20:
            # above a positive bar; inside the far end of a negative one
            ty, colour = (y - 4, "#111827") if value >= 0 else (y + height - 5, "#ffffff")
            if value < 0 and height < 16:
                ty, colour = y + height + 12, "#111827"
            parts.append(
                f'<text x="{x + slot * 0.35:.1f}" y="{ty:.1f}" text-anchor="middle" '
                f'font-size="11" fill="{colour}">{esc(_tick(value))}</text>'
            )
    if frame.y0 < 0 < frame.y1 or frame.y1 <= 0:
        parts.append(
            f'<line x1="{frame.left}" y1="{base:.1f}" x2="{frame.right}" y2="{base:.1f}" '
            f'stroke="{_AXIS}" stroke-width="1.2"/>'
        )
    return parts


def _reliability(plot: Plot) -> str:
    data = plot.data
    bins = [
        (
            _num(b["confidence"], "confidence"),
            _num(b["accuracy"], "accuracy"),
            int(_num(b.get("count", 0), "count")),
        )
        for b in data["bins"]
    ]
    if not bins:
        raise ValueError("no bins")
    legend = [
        ("accuracy in bin", PALETTE[0], "box"),
        ("gap to calibration", PALETTE[1], "box"),
        ("perfect calibration", "#6b7280", "dash"),
    ]
    frame = _Frame(
        _LEFT,
        _top(legend) + 8,
        _LEFT + (_H - _BOTTOM - _top(legend) - 8) * 1.6,
        _H - _BOTTOM,
        0.0,
        1.0,
        0.0,
        1.0,
    )
    parts = _open(plot, legend)
    ticks = _unit_ticks()
    parts += _axes(frame, [(t, _tick(t)) for t in ticks], ticks, "stated confidence", "accuracy")
    width = _bin_width(data, [c for c, _, _ in bins])
    for confidence, accuracy, count in sorted(bins):
        lo, hi = max(0.0, confidence - width / 2), min(1.0, confidence + width / 2)
        x, w = frame.px(lo), frame.px(hi) - frame.px(lo)
        tip = f"confidence {fmt_num(confidence)}, accuracy {fmt_num(accuracy)}, n = {count}"
        parts.append(
            f'<rect x="{x:.1f}" y="{frame.py(accuracy):.1f}" width="{w:.1f}" '
            f'height="{frame.bottom - frame.py(accuracy):.1f}" fill="{PALETTE[0]}" '
            f'fill-opacity="0.85" stroke="#ffffff" stroke-width="0.8"><title>{esc(tip)}</title>'
            "</rect>"
        )
        gap_top, gap_bottom = (
            frame.py(max(accuracy, confidence)),
            frame.py(min(accuracy, confidence)),
        )
        parts.append(
            f'<rect x="{x:.1f}" y="{gap_top:.1f}" width="{w:.1f}" '
            f'height="{gap_bottom - gap_top:.1f}" fill="{PALETTE[1]}" fill-opacity="0.35" '
            f'stroke="{PALETTE[1]}" stroke-width="0.8"/>'
        )
        if len(bins) <= 20 and count:
            parts.append(
                f'<text x="{x + w / 2:.1f}" y="{frame.bottom - 4}" text-anchor="middle" '
                f'font-size="9" fill="#ffffff">{count}</text>'
            )
    parts.append(
        f'<line x1="{frame.px(0)}" y1="{frame.py(0)}" x2="{frame.px(1)}" y2="{frame.py(1)}" '
        'stroke="#6b7280" stroke-width="1.5" stroke-dasharray="5 4"/>'
    )
    parts += _reliability_notes(frame, data, bins)
    parts.append("</svg>")
    return "\n".join(parts)


def _bin_width(data: dict[str, Any], confidences: list[float]) -> float:
    """Bar width: ``1 / n_bins`` when given, else the closest spacing of the bins."""
    if "n_bins" in data:
        return 1.0 / max(1, int(_num(data["n_bins"], "n_bins")))
    ordered = sorted(set(confidences))
    gaps = [b - a for a, b in zip(ordered, ordered[1:], strict=False)]
    return min(0.1, max(0.02, min(gaps, default=0.1))) * 0.92


def _reliability_notes(
    frame: _Frame, data: dict[str, Any], bins: Sequence[tuple[float, float, int]]
) -> list[str]:
    """Side notes: total samples and the ECE (given, or computed from the bins)."""
    total = sum(count for _, _, count in bins)
    if "ece" in data:
        ece = _num(data["ece"], "ece")
    elif total:
        ece = sum(count * abs(acc - conf) for conf, acc, count in bins) / total
    else:
        ece = float("nan")
    x = frame.right + 24
    notes = [
        f"n = {total:,}",
        f"ECE = {fmt_num(ece)}",
        f"{len(bins)} bin{'' if len(bins) == 1 else 's'} shown",
    ]
    return [
        f'<text x="{x:.1f}" y="{frame.top + 16 + 18 * i:.1f}" font-size="12" '
        f'fill="#1f2937">{esc(note)}</text>'
        for i, note in enumerate(notes)
    ]


_RENDERERS: dict[str, Callable[[Plot], str]] = {
    "line": _line,
    "bar": _bar,
    "reliability": _reliability,
}
