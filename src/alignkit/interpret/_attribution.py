"""Attributions with the SHAP and LIME libraries (the ``interpret`` extra).

* :func:`shap_attributions` — SHAP values of a tabular classifier's positive-class
  probability, per row and feature, and the global ranking by mean absolute value;
* :func:`lime_tabular` — LIME's local linear explanation of one row;
* :func:`explain_response` — LIME text explanation of the shared response classifier:
  which words of a response made it score as a refusal (or compliance).

Both libraries are imported inside the functions; a missing one raises
:class:`~alignkit.core.MissingDependencyError` naming the extra.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from alignkit.core import CheckContext, ConfigError, DataError, MissingDependencyError, Plot
from alignkit.interpret._tabular import ClassifierTarget

__all__ = [
    "ShapResult",
    "TextExplanation",
    "explain_response",
    "lime_tabular",
    "shap_attributions",
    "shap_plot",
]

_log = logging.getLogger(__name__)
RESPONSE_LABELS = ("complied", "refused", "partial", "unscorable")


def _require(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise MissingDependencyError(module, "interpret")


@dataclass(frozen=True)
class ShapResult:
    """SHAP values of the positive-class probability.

    Attributes:
        features: Feature names.
        values: ``(n_rows, n_features)`` SHAP values.
        base_value: The explainer's expected value.
        rows: Indices of the explained rows in the table.
    """

    features: tuple[str, ...]
    values: np.ndarray
    base_value: float
    rows: np.ndarray

    @property
    def importance(self) -> dict[str, float]:
        """Mean absolute SHAP value per feature, largest first."""
        mean = np.abs(self.values).mean(0)
        order = np.argsort(-mean, kind="stable")
        return {self.features[i]: float(mean[i]) for i in order}

    def rank(self, feature: str) -> int:
        """1-based rank of ``feature`` by mean absolute SHAP value."""
        names = list(self.importance)
        if feature not in names:
            raise ConfigError(f"no feature '{feature}' (features: {', '.join(names)})")
        return names.index(feature) + 1


def shap_attributions(
    target: ClassifierTarget,
    *,
    max_rows: int = 200,
    background: int = 100,
    seed: int = 0,
) -> ShapResult:
    """SHAP values for a seeded sample of the target's rows (Kernel SHAP, model-agnostic).

    Args:
        target: The classifier and its table (numeric features).
        max_rows: Rows to explain.
        background: Rows summarising the data for the masker.
        seed: Row sampling.
    """
    _require("shap")
    import shap

    data = target.data()
    if data.x.dtype == object:
        raise ConfigError("SHAP here needs numeric features; encode categories first")
    rng = np.random.default_rng(seed)
    n = data.x.shape[0]
    rows = np.sort(rng.choice(n, size=min(max_rows, n), replace=False))
    back = data.x[rng.choice(n, size=min(background, n), replace=False)]

    def f(x: np.ndarray) -> np.ndarray:
        return target.predict_proba(np.asarray(x, dtype=np.float64))

    # KernelExplainer: model-agnostic and free of numba's first-call compilation; with up
    # to 11 features its default sample budget enumerates every coalition (exact values).
    explainer = shap.KernelExplainer(f, back)
    state = np.random.get_state()
    np.random.seed(seed)  # the kernel sampler draws from numpy's global stream
    try:
        values = explainer.shap_values(data.x[rows], silent=True)
    finally:
        np.random.set_state(state)
    base = float(np.asarray(explainer.expected_value, dtype=np.float64).reshape(-1)[0])
    return ShapResult(data.features, np.asarray(values, dtype=np.float64), base, rows)


def shap_plot(ctx: CheckContext, target: ClassifierTarget) -> Plot | None:
    """A bar plot of mean |SHAP| per feature for the report (None without shap)."""
    if importlib.util.find_spec("shap") is None:
        _log.info("shap is not installed; the fairness report has no attribution plot")
        return None
    if target.data().x.dtype == object:  # the fairness findings stand without the plot
        _log.info("the table has text features; the fairness report has no attribution plot")
        return None
    result = shap_attributions(target, max_rows=100, background=50, seed=ctx.seed)
    imp = result.importance
    return Plot(
        check=ctx.check.id,
        title="What drives the decisions: mean |SHAP| of P(selected)",
        kind="bar",
        data={"labels": list(imp), "values": list(imp.values()), "y_label": "mean |SHAP|"},
    )


def lime_tabular(
    target: ClassifierTarget,
    row: int,
    *,
    num_features: int = 6,
    num_samples: int = 2000,
    seed: int = 0,
) -> list[tuple[str, float]]:
    """LIME's explanation of one row: ``(feature condition, weight)`` pairs, strongest first."""
    _require("lime")
    from lime.lime_tabular import LimeTabularExplainer

    data = target.data()
    if not 0 <= row < data.x.shape[0]:
        raise ConfigError(f"row {row} out of range 0..{data.x.shape[0] - 1}")
    if data.x.dtype == object:
        raise ConfigError("LIME here needs numeric features; encode categories first")
    blank = [f for f, col in zip(data.features, data.x.T, strict=True) if np.isnan(col).any()]
    if blank:  # LIME's discretiser fails on them with a scipy domain error
        raise DataError(
            f"LIME cannot explain rows of a table with missing values (in {', '.join(blank)})"
        )

    def proba(x: np.ndarray) -> np.ndarray:
        p = target.predict_proba(np.asarray(x, dtype=np.float64))
        return np.column_stack([1 - p, p])

    explainer = LimeTabularExplainer(
        np.asarray(data.x, dtype=np.float64),
        feature_names=list(data.features),
        class_names=["not selected", "selected"],
        discretize_continuous=True,
        random_state=seed,
    )
    exp = explainer.explain_instance(
        np.asarray(data.x[row], dtype=np.float64),
        proba,
        num_features=num_features,
        num_samples=num_samples,
    )
    return [(str(name), float(w)) for name, w in exp.as_list()]


@dataclass(frozen=True)
class TextExplanation:
    """Why the response classifier gave a response its label.

    Attributes:
        label: The classifier's label for the full response.
        confidence: Its confidence.
        weights: ``(word, weight)`` pairs, strongest first; a positive weight pushes
            towards ``label``.
    """

    label: str
    confidence: float
    weights: list[tuple[str, float]]


def _label_probs(verdicts: Sequence[Any]) -> np.ndarray:
    """Verdicts → ``(n, 4)`` probabilities: the label gets its confidence, others share the rest."""
    k = len(RESPONSE_LABELS)
    out = np.empty((len(verdicts), k))
    for i, v in enumerate(verdicts):
        out[i] = (1 - v.confidence) / (k - 1)
        out[i, RESPONSE_LABELS.index(str(v.label))] = v.confidence
    return out


def explain_response(
    prompt: str,
    response: str,
    *,
    classifier: Any = None,
    num_features: int = 10,
    num_samples: int = 500,
    seed: int = 0,
) -> TextExplanation:
    """LIME text explanation of the response classifier on one exchange.

    LIME removes words from ``response`` at random, re-classifies each variant (the prompt
    stays fixed) and fits a local linear model; its weights say which words pushed the
    verdict towards its label.

    Args:
        prompt: The request.
        response: The response to explain.
        classifier: A :class:`~alignkit.scoring.ResponseClassifier` (the default one if None).
        num_features: Words to report.
        num_samples: Perturbed variants.
        seed: LIME's sampling seed.
    """
    _require("lime")
    from lime.lime_text import LimeTextExplainer

    from alignkit.scoring import ResponseClassifier

    if not re.search(r"\w", response):  # "...", emoji: LIME has no word to remove
        raise ConfigError("the response has no words to explain")
    clf = classifier or ResponseClassifier()
    verdict = clf.classify(prompt, response)
    label = str(verdict.label)
    fn: Callable[[list[str]], np.ndarray] = lambda texts: _label_probs(  # noqa: E731
        clf.classify_batch([(prompt, t) for t in texts])
    )
    explainer = LimeTextExplainer(class_names=list(RESPONSE_LABELS), random_state=seed)
    exp = explainer.explain_instance(
        response,
        fn,
        labels=(RESPONSE_LABELS.index(label),),
        num_features=num_features,
        num_samples=num_samples,
    )
    weights = [(str(w), float(v)) for w, v in exp.as_list(label=RESPONSE_LABELS.index(label))]
    return TextExplanation(label, float(verdict.confidence), weights)
