"""The prompt-injection classifier: word n-grams and character n-grams into a logistic regression.

Trained by alignkit on its own data (:mod:`._injection_data`) with
``python -m alignkit.guard._injection_train``, which writes every parameter — vocabulary,
weights, intercept, the decision threshold and the held-out measurement — into one JSON
file shipped with the package. Loading needs numpy only; no pickle, no download.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from alignkit.core import (
    ConfigError,
    DataError,
    Decision,
    DecisionKind,
    Message,
    Rail,
    RailStage,
    rail,
)
from alignkit.guard._rules import RuleOptions, parse_options

__all__ = ["DEFAULT_INJECTION_PARAMS", "InjectionClassifier", "InjectionRail", "features"]

DEFAULT_INJECTION_PARAMS = Path(__file__).resolve().parent / "data" / "injection_classifier.json"
MAX_CHARS = 4000
"""Longer prompts are read as their first and last halves of this many characters."""

_WORD = re.compile(r"[a-z]+|\d+|[^\sa-z\d]")
_MAX_CACHED_WORDS = 20_000


def _clip(text: str) -> str:
    if len(text) <= MAX_CHARS:
        return text
    half = MAX_CHARS // 2
    return text[:half] + " " + text[-half:]


def _words(text: str) -> list[str]:
    return _WORD.findall(_clip(text).lower())


def _char_grams(word: str) -> list[str]:
    """The character 4-gram features of one word (none for words of 3 letters or fewer)."""
    if len(word) <= 3:
        return []
    padded = f"<{word}>"
    return [f"c:{padded[i : i + 4]}" for i in range(len(padded) - 3)]


def features(text: str) -> set[str]:
    """The binary features of ``text``: word 1–3-grams and character 4-grams inside words."""
    words = _words(text)
    feats = {f"w:{w}" for w in words}
    feats.update(f"b:{a} {b}" for a, b in zip(words, words[1:], strict=False))
    feats.update(f"t:{a} {b} {c}" for a, b, c in zip(words, words[1:], words[2:], strict=False))
    for w in set(words):
        feats.update(_char_grams(w))
    return feats


@dataclass(frozen=True)
class InjectionClassifier:
    """A linear model over :func:`features`.

    Attributes:
        weights: Feature → weight (features not listed weigh 0).
        intercept: The bias.
        threshold: Probability at or above which a prompt counts as an injection: the
            1%-false-positive point of out-of-fold scores on the training negatives,
            floored at 0.5.
        metrics: What training measured on the held-out split.
    """

    weights: Mapping[str, float]
    intercept: float
    threshold: float
    metrics: Mapping[str, Any]
    _grams: dict[str, tuple[str, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """Word → its character-gram features that carry a weight (a bounded cache)."""

    @classmethod
    def load(cls, path: str | Path = DEFAULT_INJECTION_PARAMS) -> InjectionClassifier:
        """Read shipped (or retrained) parameters from JSON."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(
                weights={str(k): float(v) for k, v in data["weights"].items()},
                intercept=float(data["intercept"]),
                threshold=float(data["threshold"]),
                metrics=dict(data.get("metrics", {})),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DataError(f"cannot read injection classifier parameters {path}: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters (inverse of :meth:`load`)."""
        return {
            "weights": dict(self.weights),
            "intercept": self.intercept,
            "threshold": self.threshold,
            "metrics": dict(self.metrics),
        }

    def score(self, text: str) -> float:
        """Probability that ``text`` carries a prompt injection.

        The same sum as over :func:`features`, except that a word's character grams
        that carry a weight are found once and remembered (the others add nothing).
        """
        w, grams = self.weights, self._grams
        words = _words(text)
        feats = {f"w:{a}" for a in words}
        feats.update(f"b:{a} {b}" for a, b in zip(words, words[1:], strict=False))
        feats.update(f"t:{a} {b} {c}" for a, b, c in zip(words, words[1:], words[2:], strict=False))
        for word in set(words):
            known = grams.get(word)
            if known is None:
                if len(grams) >= _MAX_CACHED_WORDS:
                    grams.clear()
                known = grams[word] = tuple(f for f in _char_grams(word) if f in w)
            feats.update(known)
        z = self.intercept + sum(w.get(f, 0.0) for f in feats)
        return 1.0 / (1.0 + math.exp(-z)) if z > -500 else 0.0

    def score_batch(self, texts: Iterable[str]) -> list[float]:
        """:meth:`score` of each text."""
        return [self.score(t) for t in texts]


class InjectionOptions(RuleOptions):
    """Options of the ``injection`` rail."""

    threshold: float | None = Field(None, gt=0, lt=1, description="Default: the shipped one.")
    params: str | None = Field(None, description="Retrained parameters (JSON).")
    scope: Literal["last", "all"] = Field("all", description="Which user messages to read.")


class InjectionRail:
    """Blocks (or escalates) prompts the injection classifier scores at or above threshold."""

    def __init__(self, name: str, opts: InjectionOptions) -> None:
        if opts.action == "redact":
            raise ConfigError(f"rail '{name}': action: an injection cannot be redacted")
        self.name = name
        self.stages = frozenset({RailStage.INPUT})
        self.classifier = InjectionClassifier.load(opts.params or DEFAULT_INJECTION_PARAMS)
        self.threshold = opts.threshold or self.classifier.threshold
        self.kind = DecisionKind.ESCALATE if opts.action == "escalate" else DecisionKind.BLOCK
        self.scope = opts.scope

    async def check(
        self, stage: RailStage, messages: list[Message], response: str | None = None
    ) -> Decision:
        """Score the user messages; act when the highest score reaches the threshold."""
        users = [m["content"] for m in messages if m["role"] == "user"]
        if self.scope == "last":
            users = users[-1:]
        score = max((self.classifier.score(t) for t in dict.fromkeys(users)), default=0.0)
        if score < self.threshold:
            return Decision(decision=DecisionKind.ALLOW, rail=self.name, score=score)
        return Decision(
            decision=self.kind,
            rail=self.name,
            reason=f"prompt injection (score {score:.2f} ≥ {self.threshold:.2f})",
            score=score,
        )


@rail("injection", stages=[RailStage.INPUT], failure_modes=["prompt-injection"], tier="classifier")
def _injection(options: Mapping[str, Any]) -> Rail:
    """Block prompt injections found by alignkit's shipped classifier (offline, ~0.1 ms)."""
    opts = parse_options(InjectionOptions, options, "injection")
    return InjectionRail(opts.id or "injection", opts)
