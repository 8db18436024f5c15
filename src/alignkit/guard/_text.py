"""Text helpers shared by the rails and the audit log: what a rail reads, and redaction."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from alignkit.core import Message, RailStage

__all__ = [
    "SECRET_PATTERNS",
    "Anchors",
    "Prefilter",
    "Redactor",
    "may_match",
    "pattern_anchors",
    "stage_text",
]

SECRET_PATTERNS: dict[str, re.Pattern[str]] = {
    "private-key": re.compile(
        r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY(?: BLOCK)?-----"
        r"(?:[\s\S]*?-----END [A-Z ]*PRIVATE KEY(?: BLOCK)?-----)?"
    ),
    "aws-access-key": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "github-token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b"),
    "openai-key": re.compile(r"\bsk-(?:proj-|svcacct-)?[A-Za-z0-9_\-]{20,}\b"),
    "anthropic-key": re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{20,}\b"),
    "slack-token": re.compile(r"\bxox[abprs]-[A-Za-z0-9\-]{10,}\b"),
    "google-api-key": re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"),
    "stripe-key": re.compile(r"\b(?:sk|rk)_live_[0-9A-Za-z]{20,}\b"),
    "jwt": re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
    "bearer-token": re.compile(r"\b(?i:bearer)\s+[A-Za-z0-9_\-.=]{20,}"),
    "assigned-secret": re.compile(
        r"\b(?i:api[_-]?key|secret(?:[_-]?key)?|access[_-]?token|auth[_-]?token|password)"
        r"\s*[:=]\s*['\"]?[A-Za-z0-9/+_\-.]{12,}['\"]?"
    ),
}
"""Shapes of credentials: provider key formats, private-key blocks, ``key = value`` pairs."""


def stage_text(stage: RailStage, messages: Sequence[Message], response: str | None) -> str:
    """The text a rail reads: the user messages at input, the response at output."""
    if stage is RailStage.OUTPUT:
        return response or ""
    users = [m["content"] for m in messages if m.get("role") == "user"]
    return users[0] if len(users) == 1 else "\n".join(users)


Anchors = list[list[frozenset[str]]]
"""Per pattern: sets of lower-case strings; a match contains one string of every set."""


def _required(items: Any) -> list[frozenset[str]]:
    """What every match of parsed ``items`` contains: one string of each returned set."""
    from re import _constants as c  # type: ignore[attr-defined]

    found: list[frozenset[str]] = []
    buf: list[str] = []

    def flush() -> None:
        if buf:
            found.append(frozenset(["".join(buf).lower()]))
            buf.clear()

    for op, av in items:
        if op is c.LITERAL:
            buf.append(chr(av))
        elif op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            continue  # zero width: the literal run goes on
        else:
            flush()
            if op is c.IN and av and all(o is c.LITERAL for o, _ in av):
                found.append(frozenset(chr(v).lower() for _, v in av))  # e.g. [:=]
            elif op is c.SUBPATTERN:
                found += _required(av[3])
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT) and av[0] >= 1:
                found += _required(av[2])
            elif op is c.BRANCH:
                best = [_best(_required(b)) for b in av[1]]
                if best and all(best):
                    found.append(frozenset().union(*best))  # type: ignore[arg-type]
    flush()
    return found


def _chance(alts: frozenset[str]) -> float:
    """How likely random text holds one of ``alts`` at a given place (lower: more selective)."""
    return sum(27.0 ** -len(a) for a in alts)


def _best(sets: list[frozenset[str]]) -> frozenset[str] | None:
    """The most selective set: the one least likely to turn up in text by chance."""
    return min(sets, key=_chance, default=None)


def pattern_anchors(patterns: Sequence[str]) -> Anchors | None:
    """For each pattern, what any match contains (``None``: unknown for some pattern)."""
    from re import _parser  # type: ignore[attr-defined]

    out: Anchors = []
    try:
        for p in patterns:
            req = _required(_parser.parse(p))
            if not req:
                return None
            out.append(req)
    except Exception:  # an unusual pattern: no pre-filter, the regex decides alone
        return None
    return out


def may_match(anchors: Anchors, low: str) -> bool:
    """Whether lower-cased text ``low`` holds what some pattern's matches must contain."""
    return any(all(any(a in low for a in alts) for alts in conj) for conj in anchors)


class Prefilter:
    """Which of several patterns could match a text, told by strings every match contains.

    For each pattern it keeps the sets of strings that every match holds one of
    (:func:`pattern_anchors`). One C-level search for any string of the patterns' most
    selective sets rejects most texts outright; a text that passes is narrowed to the
    patterns whose every set it meets. Texts and strings are compared case-folded, so
    case-insensitive patterns are covered. A pattern whose anchors are unknown is always
    a candidate.

    Args:
        patterns: The regular expressions (source text, compiled without flags: inline
            flags such as ``(?i:...)`` are fine), in the caller's order.
    """

    def __init__(self, patterns: Sequence[str]) -> None:
        self._needs: list[list[tuple[str, ...]] | None] = []
        for p in patterns:
            anchors = pattern_anchors([p])
            if anchors is None:
                self._needs.append(None)
                continue
            sets = sorted(anchors[0], key=_chance)  # the most selective first
            self._needs.append([tuple({a.casefold() for a in alts}) for alts in sets])
        self._always = [i for i, n in enumerate(self._needs) if n is None]
        firsts = sorted({a for n in self._needs if n for a in n[0]}, key=len, reverse=True)
        self._any = re.compile("|".join(map(re.escape, firsts))) if firsts else None

    def candidates(self, text: str) -> list[int]:
        """Indices (ascending) of the patterns that may match ``text``."""
        if self._any is None:
            return list(self._always)
        folded = text.casefold()
        if self._any.search(folded) is None:
            return list(self._always)
        out = []
        for i, need in enumerate(self._needs):
            if need is not None:
                for alts in need:
                    for a in alts:
                        if a in folded:
                            break
                    else:
                        break  # no string of this set: the pattern cannot match
                else:
                    out.append(i)
            else:
                out.append(i)
        return out


class Redactor:
    """Replaces credential shapes and configured secret strings with ``[REDACTED]``.

    Args:
        secrets: Exact strings (API keys, tokens, passwords) that must never be logged.
        patterns: Also replace everything matching :data:`SECRET_PATTERNS`.
    """

    MASK = "[REDACTED]"

    def __init__(self, secrets: Iterable[str] = (), *, patterns: bool = True) -> None:
        exact = sorted({s for s in secrets if s}, key=len, reverse=True)
        parts = [re.escape(s) for s in exact]
        if patterns:
            parts += [p.pattern for p in SECRET_PATTERNS.values()]
        self._regex = re.compile("|".join(f"(?:{p})" for p in parts)) if parts else None
        # The alternation matches exactly where one of its parts does: text in which no
        # part can match (most text: told by the prefilter, else by the candidate parts
        # alone) is returned as it is, without running the whole alternation over it.
        self._parts = [re.compile(p) for p in parts]
        self._filter = Prefilter(parts)

    def __call__(self, text: str) -> str:
        """``text`` with every secret masked."""
        if self._regex is None or not text:
            return text
        if not any(self._parts[i].search(text) for i in self._filter.candidates(text)):
            return text
        return self._regex.sub(self.MASK, text)
