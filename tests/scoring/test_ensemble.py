from __future__ import annotations

import numpy as np
import pytest

from alignkit.core import ConfigError
from alignkit.scoring import (
    ensemble_score,
    mean_objective,
    standardize_members,
    uncertainty_weighted_objective,
    worst_case_objective,
)

SCORES = [[1.0, 4.0, -2.0], [3.0, 0.0, -2.0]]  # 2 members x 3 responses


def test_hand_computed_values() -> None:
    assert mean_objective(SCORES).tolist() == [2.0, 2.0, -2.0]
    assert worst_case_objective(SCORES).tolist() == [1.0, 0.0, -2.0]
    # population variances: 1, 4, 0
    assert uncertainty_weighted_objective(SCORES, 0.5).tolist() == [1.5, 0.0, -2.0]
    assert ensemble_score(SCORES, "uwo", lam=0.1).tolist() == pytest.approx([1.9, 1.6, -2.0])
    assert ensemble_score(SCORES, "worst").tolist() == [1.0, 0.0, -2.0]


def test_objectives_rank_disputed_responses_differently() -> None:
    # response 1 has the best mean but the members disagree about it
    assert int(np.argmax(mean_objective(SCORES))) == 0
    assert int(np.argmax(uncertainty_weighted_objective(SCORES, 1.0))) == 0
    assert ensemble_score(SCORES, "uwo", lam=1.0)[1] < ensemble_score(SCORES, "mean")[1]


def test_higher_dimensional_scores() -> None:
    s = np.arange(24, dtype=float).reshape(4, 2, 3)
    assert ensemble_score(s, "mean").shape == (2, 3)
    assert ensemble_score(s, "worst").tolist() == s[0].tolist()


def test_standardize_members() -> None:
    z = standardize_members([[1.0, 2.0, 3.0], [10.0, 30.0, 50.0]])
    assert z[0].tolist() == pytest.approx(z[1].tolist())
    assert z.mean(axis=1).tolist() == pytest.approx([0.0, 0.0])


def test_errors() -> None:
    with pytest.raises(ConfigError):
        ensemble_score(SCORES, "median")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        uncertainty_weighted_objective(SCORES, -1.0)
    with pytest.raises(ConfigError):
        mean_objective(np.float64(1.0))


@pytest.mark.parametrize("scores", [[[1.0, 2.0], [3.0]], "abc"])
def test_malformed_scores_are_a_config_error(scores: object) -> None:
    """Ragged lists and text raised numpy's ValueError, not the documented ConfigError."""
    with pytest.raises(ConfigError, match="numbers of one shape"):
        ensemble_score(scores, "mean")  # type: ignore[arg-type]
