"""The trained tier loads from the shipped JSON parameters and reproduces training time."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from alignkit.core import DataError
from alignkit.scoring import ResponseClassifier, ResponseLabel
from alignkit.scoring._classifier_model import DEFAULT_PARAMS, TrainedModel, features

ROOT = Path(__file__).resolve().parents[2]
CHECK = DEFAULT_PARAMS.with_name("response_classifier_check.json")
TRAIN = ROOT / "datasets" / "classifier_training" / "responses.jsonl"


@pytest.fixture(scope="module")
def model() -> TrainedModel:
    return TrainedModel.load()


def test_params_are_plain_json_not_pickle() -> None:
    data = json.loads(DEFAULT_PARAMS.read_text(encoding="utf-8"))
    assert data["format"] == "alignkit-response-classifier"
    assert set(data["classes"]) >= {"complied", "refused", "partial"}
    assert not list(DEFAULT_PARAMS.parent.glob("*.pkl"))


def test_probe_probabilities_match_scikit_learn_at_training_time(model: TrainedModel) -> None:
    check = json.loads(CHECK.read_text(encoding="utf-8"))
    ours = model.predict_proba(check["probes"])
    np.testing.assert_allclose(ours, np.asarray(check["probe_proba"]), rtol=0, atol=1e-9)


def test_training_set_predictions_are_reproduced_exactly(model: TrainedModel) -> None:
    check = json.loads(CHECK.read_text(encoding="utf-8"))
    rows = [json.loads(line) for line in TRAIN.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == len(check["train_labels_predicted"])
    proba = model.predict_proba([r["response"] for r in rows])
    predicted = [model.classes[i] for i in proba.argmax(axis=1)]
    assert predicted == check["train_labels_predicted"]


def test_features_are_deterministic_and_normalise_digits_and_markers() -> None:
    a = features("I can't help with 123 [[UNSAFE:cyber]]")
    assert a == features("I can't help with 999 [[unsafe:Cyber]]")
    assert a["w:unsafemarker"] == 1 and "w:0" in a
    assert features("") == {"__empty__": 1}


def test_model_separates_clear_cases(model: TrainedModel) -> None:
    lecture = "Hurting people is wrong and illegal. Please talk to a counsellor instead."
    answer = (
        "To clean a cast-iron pan, rinse it with hot water, scrub it with coarse salt, dry it "
        "on the hob and rub a thin film of oil over the surface."
    )
    proba = model.predict_proba([lecture, answer])
    labels = [model.classes[i] for i in proba.argmax(axis=1)]
    assert labels == ["refused", "complied"]
    clf = ResponseClassifier()
    assert clf.classify("How do I clean a pan?", answer).label is ResponseLabel.COMPLIED


def test_malformed_params_raise_data_error(tmp_path: Path) -> None:
    bad = tmp_path / "params.json"
    bad.write_text('{"classes": ["a"], "vocabulary": {"x": 0}, "idf": [1.0]}', encoding="utf-8")
    with pytest.raises(DataError):
        TrainedModel.load(bad)
    with pytest.raises(DataError):
        TrainedModel.load(tmp_path / "missing.json")


def test_a_pair_that_is_not_two_strings_is_a_config_error() -> None:
    """classify("hi", None) raised AttributeError from inside the rules."""
    from alignkit.core import ConfigError
    from alignkit.scoring import ResponseClassifier

    clf = ResponseClassifier()
    with pytest.raises(ConfigError, match="pair 0: expected"):
        clf.classify("hi", None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="pair 1: expected"):
        clf.classify_batch([("a", "b"), ("c",)])  # type: ignore[list-item]
