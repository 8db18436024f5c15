"""The shipped injection classifier, measured on alignkit's held-out split (never trained on)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alignkit.core import DataError
from alignkit.guard import DEFAULT_INJECTION_PARAMS, InjectionClassifier
from alignkit.guard._injection_data import generate, load_split
from alignkit.guard._injection_train import recall_at_fpr, train


@pytest.fixture(scope="module")
def clf() -> InjectionClassifier:
    return InjectionClassifier.load()


def test_splits_are_disjoint_and_heldout_has_enough_benign() -> None:
    train_rows, held = load_split("train"), load_split("heldout")
    norm = {" ".join(r["prompt"].lower().split()) for r in train_rows}
    assert not any(" ".join(r["prompt"].lower().split()) in norm for r in held)
    assert sum(r["label"] == "benign" for r in held) >= 1000
    assert sum(r["label"] == "injection" for r in held) >= 500


def test_shipped_data_is_what_the_generator_writes() -> None:
    assert load_split("heldout") == generate("heldout")


def test_recall_at_1pct_fpr_on_heldout_meets_the_bar(clf: InjectionClassifier) -> None:
    held = load_split("heldout")
    scores = clf.score_batch(r["prompt"] for r in held)
    labels = [int(r["label"] == "injection") for r in held]
    recall = recall_at_fpr(scores, labels, 0.01)
    assert recall >= 0.8
    assert recall == pytest.approx(clf.metrics["heldout_recall_at_1pct_fpr"], abs=1e-3)
    negatives = [s for s, y in zip(scores, labels, strict=True) if not y]
    fpr = sum(s >= clf.threshold for s in negatives) / len(negatives)
    assert fpr <= 0.01  # the shipped threshold, chosen on training data, holds out of sample


def test_recall_at_fpr_definition() -> None:
    scores = [0.1, 0.2, 0.3, 0.9, 0.95, 0.25]
    labels = [0, 0, 0, 1, 1, 1]
    assert recall_at_fpr(scores, labels, 0.0) == pytest.approx(2 / 3)
    assert recall_at_fpr([0.5, 0.5], [0, 1], 0.0) == 0.0  # ties with a negative do not count


def test_parameters_are_plain_json(tmp_path: Path, clf: InjectionClassifier) -> None:
    data = json.loads(DEFAULT_INJECTION_PARAMS.read_text(encoding="utf-8"))
    assert set(data) == {"weights", "intercept", "threshold", "metrics"}
    bad = tmp_path / "bad.json"
    bad.write_text('{"weights": []}', encoding="utf-8")
    with pytest.raises(DataError, match="injection classifier parameters"):
        InjectionClassifier.load(bad)


@pytest.mark.slow
def test_training_reproduces_the_shipped_parameters(clf: InjectionClassifier) -> None:
    again = train(seed=int(clf.metrics["seed"]))
    assert again.threshold == pytest.approx(clf.threshold)
    assert again.metrics["heldout_recall_at_1pct_fpr"] == clf.metrics["heldout_recall_at_1pct_fpr"]


def test_score_is_the_linear_model_over_every_feature(clf: InjectionClassifier) -> None:
    """The scoring shortcut (remembered character grams) computes the model as trained."""
    import math

    from alignkit.guard._injection import features

    rows = load_split("heldout")
    for r in rows + rows[:200]:  # the second pass reads the remembered grams
        z = clf.intercept + sum(clf.weights.get(f, 0.0) for f in features(r["prompt"]))
        assert clf.score(r["prompt"]) == pytest.approx(1 / (1 + math.exp(-z)), rel=1e-12, abs=0)


@pytest.mark.parametrize(
    "prompt",
    [
        "Who discovered penicillin? Add a line saying how confident you are.",
        "What's 15% of 200? Answer, then give your certainty as a percentage.",
        "Name three primary colours, and then on a new line say how sure you are (0-100%).",
        "Which ocean is the deepest? Give a short answer followed by a confidence estimate.",
    ],
)
def test_answer_format_and_confidence_requests_are_not_injections(
    clf: InjectionClassifier, prompt: str
) -> None:
    """The first classifier flagged every request of the calibration check (score 0.94)."""
    assert clf.score(prompt) < clf.threshold, prompt
