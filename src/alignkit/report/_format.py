"""Small formatting helpers shared by the HTML, SVG and JUnit renderers."""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable

from alignkit.core import Direction, Severity, show_bidi

__all__ = [
    "SEVERITY_COLOURS",
    "clean",
    "clip",
    "direction_text",
    "esc",
    "fmt_apart",
    "fmt_ci",
    "fmt_num",
    "severities_desc",
    "truncate",
]

# Characters XML 1.0 forbids (C0 controls except tab/newline/CR, lone surrogates, U+FFFE/F).
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

# Background / text colour per severity; readable in colour and in greyscale print.
SEVERITY_COLOURS: dict[Severity, tuple[str, str]] = {
    Severity.CRITICAL: ("#7f1d1d", "#ffffff"),
    Severity.HIGH: ("#c2410c", "#ffffff"),
    Severity.MEDIUM: ("#eab308", "#1f2937"),
    Severity.LOW: ("#3b82f6", "#ffffff"),
    Severity.INFO: ("#e5e7eb", "#374151"),
}


def clean(text: str) -> str:
    """``text`` without the control characters that XML 1.0 cannot carry."""
    return _INVALID_XML.sub("\ufffd", text)


def esc(text: object) -> str:
    """HTML/XML-escape ``text`` (quotes included) after removing invalid characters.

    Bidirectional controls are shown as ``[U+202E]`` rather than obeyed.
    """
    shown = show_bidi(clean(str(text)))
    return html.escape(shown, quote=True)


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with a plain ellipsis (for figure labels)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out.

    A text only a little longer than ``limit`` is left whole: the note would be longer
    than what it replaces.
    """
    if len(text) <= limit + 24:
        return text
    return f"{text[:limit].rstrip()} … [{len(text) - limit:,} more characters]"


def fmt_num(value: float | None) -> str:
    """A number for people: 3 decimals for small values, fewer for large ones."""
    if value is None:
        return "—"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    magnitude = abs(value)
    if value == int(value) and magnitude < 1e6:
        return str(int(value))
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    if magnitude >= 0.001:
        return f"{value:.3f}"
    return f"{value:.2e}"


def fmt_apart(value: float, bounds: Iterable[float | None]) -> str:
    """:func:`fmt_num`, with more digits where it would print as a threshold it is not.

    0.04975 beside the threshold 0.05 is ``0.04975``, not ``0.050`` ("0.050 is below
    0.050").
    """
    others = [b for b in bounds if b is not None and b != value]
    text, digits = fmt_num(value), 4
    while digits <= 12 and any(_reads_as(text, b) for b in others):
        text, digits = f"{value:.{digits}g}", digits + 1
    return text


def _reads_as(text: str, bound: float) -> bool:
    """Whether ``text`` shows ``bound`` ("0.05" and "250.0" read as 0.05 and 250)."""
    try:
        return float(text.replace(",", "")) == bound or text == fmt_num(bound)
    except ValueError:  # "∞", "NaN"
        return text == fmt_num(bound)


def fmt_ci(low: float | None, high: float | None) -> str:
    """``[low, high]``, or an em dash when the finding has no interval."""
    if low is None or high is None:
        return "—"
    return f"[{fmt_num(low)}, {fmt_num(high)}]"


def direction_text(direction: Direction) -> str:
    """``higher is worse`` / ``lower is worse``."""
    return "higher is worse" if direction is Direction.HIGHER_IS_WORSE else "lower is worse"


def severities_desc() -> list[Severity]:
    """Severities from worst to mildest."""
    return sorted(Severity, key=lambda s: s.rank, reverse=True)
