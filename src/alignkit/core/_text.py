"""Showing text that a reader's display would otherwise obey; text that is not Unicode."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["has_lone_surrogate", "one_line", "show_bidi"]

# Bidirectional embeddings, overrides and isolates: one in a check id or an answer made the
# text after it (other cells, other lines) read backwards.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def show_bidi(text: str) -> str:
    """``text`` with each bidirectional control shown as ``[U+202E]`` rather than obeyed."""
    return _BIDI_CONTROLS.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)


def one_line(text: object, limit: int = 200) -> str:
    """``text`` (an error message, say) on one line, cut to ``limit`` characters with ``…``.

    Runs of whitespace become one space; an exception without a message is its type's name.
    """
    flat = " ".join(str(text).split())
    if not flat and isinstance(text, BaseException):  # `raise ValueError()`
        flat = type(text).__name__
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


_SURROGATE = re.compile("[\ud800-\udfff]")


def has_lone_surrogate(value: Any) -> bool:
    r"""Whether a string in ``value`` (parsed JSON, keys too) holds a lone surrogate.

    ``json.loads`` makes one of ``"\ud800"``, and no UTF-8 encoder (SQLite's included)
    can write it.
    """
    stack = [value]
    while stack:  # not recursive: a document nested 900 deep is valid JSON
        v = stack.pop()
        if isinstance(v, str):
            if _SURROGATE.search(v):
                return True
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False
