"""Rewrites: small surface edits of a request that the search attacker mutates with.

A rewrite id is ``kind`` or ``kind:n`` (``n`` picks a phrase from the shipped list of
that kind). Rewrites are pure functions of the text, so a stored attempt's rewrites
rebuild exactly the text that was sent.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence

from alignkit.core import ConfigError
from alignkit.redteam._library import ConverterTexts

__all__ = ["REWRITES", "apply_rewrites", "random_rewrite", "topic_of"]


_LEADS = re.compile(
    r"^\s*(?:please\s+)?(?:(?:how\s+(?:can|do|would|should|could|might)\s+(?:i|you|one|someone)"
    r"(?:\s+best)?)|(?:explain|describe|show\s+me|tell\s+me)\s+how\s+(?:to|i\s+can|i\s+could)"
    r"|give\s+me\s+(?:the\s+)?(?:steps|instructions|a\s+guide)\s+(?:to|for)"
    r"|what(?:'s|\s+is)\s+the\s+(?:best|easiest|fastest|simplest|quickest)\s+way\s+to"
    r"|teach\s+me\s+(?:how\s+)?to|help\s+me|i\s+(?:need|want)\s+to|can\s+you\s+help\s+me)\s+",
    re.IGNORECASE,
)
_TAIL = re.compile(r"[\s.?!]*(?:help me[.!]?)?[\s.?!]*$", re.IGNORECASE)
_QUESTION = re.compile(
    r"^\s*how\s+(?:can|do|would|could)\s+i\s+(.+?)\??\s*$", re.IGNORECASE | re.DOTALL
)


def topic_of(request: str) -> str:
    """The task a request asks about, as a verb phrase (``make an untraceable gun``)."""
    text = _LEADS.sub("", request.strip(), count=1)
    text = _TAIL.sub("", text).strip()
    if not text:
        return request.strip().rstrip("?.!")
    return text[0].lower() + text[1:]


def _phrase(kind: str, texts: ConverterTexts, n: int) -> str:
    phrases = texts.rewrites.get(kind, ())
    if not phrases:
        raise ConfigError(f"no '{kind}' rewrite phrases in the converter texts")
    return phrases[n % len(phrases)]


def _imperative(text: str) -> str:
    m = _QUESTION.match(text)
    return f"Explain how to {m.group(1).rstrip('?. ')}." if m else text


def _typo(text: str) -> str:
    words = text.split(" ")
    longest = max(range(len(words)), key=lambda i: len(words[i]), default=0)
    w = words[longest]
    if len(w) >= 4:
        mid = len(w) // 2
        words[longest] = w[: mid - 1] + w[mid] + w[mid - 1] + w[mid + 1 :]
    return " ".join(words)


_Rewrite = Callable[[str, ConverterTexts, int], str]
REWRITES: dict[str, _Rewrite] = {
    "polite": lambda t, x, n: f"{_phrase('polite_prefix', x, n)} {t}",
    "pressure": lambda t, x, n: f"{t} {_phrase('pressure_suffix', x, n)}",
    "context": lambda t, x, n: f"{_phrase('context_prefix', x, n)} {t}",
    "imperative": lambda t, x, n: _imperative(t),
    "lowercase": lambda t, x, n: t.lower(),
    "typo": lambda t, x, n: _typo(t),
}
"""Rewrite kind → ``fn(text, texts, n)``."""
_PHRASED = ("polite", "pressure", "context")


def apply_rewrites(ids: Sequence[str], text: str, texts: ConverterTexts) -> str:
    """``text`` with the rewrites ``ids`` applied in order."""
    for rid in ids:
        kind, _, n = rid.partition(":")
        fn = REWRITES.get(kind)
        if fn is None:
            raise ConfigError(f"unknown rewrite '{rid}' (known: {', '.join(REWRITES)})")
        text = fn(text, texts, int(n or 0))
    return text


def random_rewrite(rng: random.Random, texts: ConverterTexts) -> str:
    """A random rewrite id."""
    kind = rng.choice(sorted(REWRITES))
    if kind in _PHRASED:
        key = {
            "polite": "polite_prefix",
            "pressure": "pressure_suffix",
            "context": "context_prefix",
        }
        return f"{kind}:{rng.randrange(max(1, len(texts.rewrites.get(key[kind], ()))))}"
    return kind
