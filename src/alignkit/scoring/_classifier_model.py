"""The trained tier: TF-IDF n-grams and shape features into a multinomial logistic regression.

The feature pipeline is ours (:func:`features`, in :mod:`._classifier_features`), used
both by the training script (``scripts/train_response_classifier.py``) and here, so the
shipped parameters —
vocabulary, inverse document frequencies, weights and intercepts, in one JSON file —
fully determine the predictions; scikit-learn is needed only to fit them, never to
load them, and no pickle is involved.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from alignkit.core import DataError
from alignkit.scoring._classifier_features import META_PREFIX, features

__all__ = ["DEFAULT_PARAMS", "TrainedModel", "features"]

DEFAULT_PARAMS = Path(__file__).resolve().parent / "params" / "response_classifier.json"
"""The shipped parameters."""


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

    def encode(
        self, text: str, prompt: str | None = None
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Sparse row of ``text``: columns and values.

        N-gram features get sublinear tf × idf, L2-normalised together; shape features
        (names starting with :data:`META_PREFIX`) are appended with their count, so the
        length of a response does not dilute them.
        """
        grams: list[tuple[int, float]] = []
        shape: list[tuple[int, float]] = []
        for name, count in features(text, prompt).items():
            col = self.vocabulary.get(name)
            if col is None:
                continue
            if name.startswith(META_PREFIX):
                shape.append((col, float(count)))
            else:
                grams.append((col, (1.0 + math.log(count)) * float(self.idf[col])))
        vals = np.fromiter((v for _, v in grams), dtype=np.float64, count=len(grams))
        norm = float(np.sqrt(np.dot(vals, vals)))
        if norm > 0.0:
            vals = vals / norm
        pairs = sorted([*zip((c for c, _ in grams), vals.tolist(), strict=True), *shape])
        cols = np.fromiter((c for c, _ in pairs), dtype=np.int64, count=len(pairs))
        return cols, np.fromiter((v for _, v in pairs), dtype=np.float64, count=len(pairs))

    def predict_proba(
        self, texts: Sequence[str], prompts: Sequence[str | None] | None = None
    ) -> NDArray[np.float64]:
        """Class probabilities (softmax of the linear scores), one row per text.

        ``prompts``, when given, pairs each text with its prompt (the prompt-dependent
        shape features are left out for a text without one).
        """
        if prompts is not None and len(prompts) != len(texts):
            raise ValueError(f"{len(prompts)} prompts for {len(texts)} texts")
        scores = np.empty((len(texts), len(self.classes)), dtype=np.float64)
        for row, text in enumerate(texts):
            cols, vals = self.encode(text, None if prompts is None else prompts[row])
            scores[row] = self.coef[:, cols] @ vals + self.intercept
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return np.asarray(exp / exp.sum(axis=1, keepdims=True), dtype=np.float64)
