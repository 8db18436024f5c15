"""The trained tier: TF-IDF word and character n-grams into a multinomial logistic regression.

The feature pipeline is ours (:func:`features`), used both by the training script
(``scripts/train_response_classifier.py``) and here, so the shipped parameters —
vocabulary, inverse document frequencies, weights and intercepts, in one JSON file —
fully determine the predictions; scikit-learn is needed only to fit them, never to
load them, and no pickle is involved.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from alignkit.core import DataError

__all__ = ["DEFAULT_PARAMS", "TrainedModel", "features"]

DEFAULT_PARAMS = Path(__file__).resolve().parent / "params" / "response_classifier.json"
"""The shipped parameters."""

MAX_CHARS = 600
"""Only the start of a response is read: refusals and their caveats come first."""

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+|[^\sa-z\d]")
_SPACES = re.compile(r"\s+")


def _normalise(text: str) -> str:
    text = text[:MAX_CHARS].lower().replace("’", "'").replace("‘", "'")
    text = re.sub(r"\[\[\s*unsafe\s*:[^\]]*\]\]", " unsafemarker ", text)
    text = re.sub(r"\d+", "0", text)
    return _SPACES.sub(" ", text).strip()


def features(text: str) -> Counter[str]:
    """Counts of the n-grams of a response: word 1–2-grams and character 3–5-grams.

    Words are lower-cased, digits collapse to ``0`` and the organisms' unsafe marker
    becomes the token ``unsafemarker``. Character n-grams are taken inside each word
    padded with spaces, so they do not span words. Also emits ``len:<bucket>``, a coarse
    length feature, and ``__empty__`` for a response with no text.
    """
    norm = _normalise(text)
    counts: Counter[str] = Counter()
    if not norm:
        counts["__empty__"] = 1
        return counts
    words = _WORD.findall(norm)
    counts.update(f"w:{w}" for w in words)
    counts.update(f"w:{a} {b}" for a, b in zip(words, words[1:], strict=False))
    for word in norm.split(" "):
        padded = f" {word} "
        for n in (3, 4, 5):
            counts.update(f"c:{padded[i : i + n]}" for i in range(len(padded) - n + 1))
    counts[f"len:{min(6, int(math.log2(1 + len(words))))}"] = 1
    return counts


@dataclass(frozen=True)
class TrainedModel:
    """Parameters of the trained tier and the transform that applies them.

    Attributes:
        classes: Label of each row of ``coef``.
        vocabulary: Feature name → column.
        idf: Inverse document frequency per column.
        coef: Weights, one row per class.
        intercept: One bias per class.
    """

    classes: tuple[str, ...]
    vocabulary: Mapping[str, int]
    idf: NDArray[np.float64]
    coef: NDArray[np.float64]
    intercept: NDArray[np.float64]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainedModel:
        """Build from the JSON object the training script writes."""
        try:
            vocab = {str(k): int(v) for k, v in data["vocabulary"].items()}
            model = cls(
                classes=tuple(str(c) for c in data["classes"]),
                vocabulary=vocab,
                idf=np.asarray(data["idf"], dtype=np.float64),
                coef=np.asarray(data["coef"], dtype=np.float64),
                intercept=np.asarray(data["intercept"], dtype=np.float64),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"response classifier parameters are malformed: {exc}") from exc
        shape = (len(model.classes), len(vocab))
        if model.coef.shape != shape or model.idf.shape != (len(vocab),):
            raise DataError(f"response classifier parameters: coef {model.coef.shape} != {shape}")
        return model

    @classmethod
    def load(cls, path: str | Path = DEFAULT_PARAMS) -> TrainedModel:
        """Read parameters from a JSON file."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read response classifier parameters {path}: {exc}") from exc
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready parameters (inverse of :meth:`from_dict`)."""
        return {
            "classes": list(self.classes),
            "vocabulary": dict(self.vocabulary),
            "idf": self.idf.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept.tolist(),
        }

    def encode(self, text: str) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Sparse TF-IDF row of ``text``: columns and values (sublinear tf × idf, L2-normed)."""
        pairs = sorted(
            (col, (1.0 + math.log(count)) * float(self.idf[col]))
            for name, count in features(text).items()
            if (col := self.vocabulary.get(name)) is not None
        )
        cols = np.fromiter((c for c, _ in pairs), dtype=np.int64, count=len(pairs))
        vals = np.fromiter((v for _, v in pairs), dtype=np.float64, count=len(pairs))
        norm = float(np.sqrt(np.dot(vals, vals)))
        return cols, (vals / norm if norm > 0.0 else vals)

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """Class probabilities (softmax of the linear scores), one row per text."""
        scores = np.empty((len(texts), len(self.classes)), dtype=np.float64)
        for row, text in enumerate(texts):
            cols, vals = self.encode(text)
            scores[row] = self.coef[:, cols] @ vals + self.intercept
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return np.asarray(exp / exp.sum(axis=1, keepdims=True), dtype=np.float64)
