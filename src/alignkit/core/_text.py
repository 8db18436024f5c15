"""Showing text that a reader's display would otherwise obey."""

from __future__ import annotations

import re

__all__ = ["show_bidi"]

# Bidirectional embeddings, overrides and isolates: one in a check id or an answer made the
# text after it (other cells, other lines) read backwards.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def show_bidi(text: str) -> str:
    """``text`` with each bidirectional control shown as ``[U+202E]`` rather than obeyed."""
    return _BIDI_CONTROLS.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)
