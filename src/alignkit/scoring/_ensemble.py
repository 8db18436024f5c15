"""Reward-ensemble objectives: combine the scores of several reward models into one.

Coste et al. (2024) optimise a policy against an ensemble of reward models rather than
one, with three ways of combining the members' scores for the same response:

- ``mean`` — the average score;
- ``worst`` — worst-case optimisation (WCO): the lowest member score;
- ``uwo`` — uncertainty-weighted optimisation: ``mean − λ · var``, with the variance
  taken across members (population variance, ``ddof=0``), so responses the members
  disagree about are penalised (λ ≈ 0.5 for best-of-n and 0.1 for RL in that paper).

The members' scores should be on a common scale (for example each standardised on the
same reference responses) before they are combined; :func:`standardize_members` does that.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from alignkit.core import ConfigError

__all__ = [
    "ENSEMBLE_OBJECTIVES",
    "EnsembleObjective",
    "ensemble_score",
    "mean_objective",
    "standardize_members",
    "uncertainty_weighted_objective",
    "worst_case_objective",
]

EnsembleObjective = Literal["mean", "worst", "uwo"]
ENSEMBLE_OBJECTIVES: tuple[EnsembleObjective, ...] = ("mean", "worst", "uwo")


def _members(scores: ArrayLike) -> NDArray[np.float64]:
    try:
        arr = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as exc:  # ragged lists, text
        raise ConfigError(f"ensemble scores must be numbers of one shape: {exc}") from None
    if arr.ndim < 1 or arr.shape[0] < 1:
        raise ConfigError("ensemble scores need shape (members, ...) with at least one member")
    return arr


def mean_objective(scores: ArrayLike) -> NDArray[np.float64]:
    """Mean over members.

    Args:
        scores: Member scores, shape ``(members, ...)`` (e.g. ``(5, n_responses)``).

    Returns:
        Shape ``(...)``: one combined score per response.
    """
    return np.asarray(_members(scores).mean(axis=0), dtype=np.float64)


def worst_case_objective(scores: ArrayLike) -> NDArray[np.float64]:
    """Minimum over members (worst-case optimisation); shapes as :func:`mean_objective`."""
    return np.asarray(_members(scores).min(axis=0), dtype=np.float64)


def uncertainty_weighted_objective(scores: ArrayLike, lam: float = 0.5) -> NDArray[np.float64]:
    """Mean minus ``lam`` times the across-member variance; shapes as :func:`mean_objective`.

    Raises:
        ConfigError: If ``lam`` is negative.
    """
    if lam < 0:
        raise ConfigError(f"the uncertainty weight must be >= 0, not {lam}")
    arr = _members(scores)
    return np.asarray(arr.mean(axis=0) - lam * arr.var(axis=0), dtype=np.float64)


def ensemble_score(
    scores: ArrayLike, objective: EnsembleObjective = "mean", *, lam: float = 0.5
) -> NDArray[np.float64]:
    """Combine member scores with the named objective.

    Args:
        scores: Member scores, shape ``(members, ...)``.
        objective: ``"mean"``, ``"worst"`` or ``"uwo"``.
        lam: λ of the uncertainty-weighted objective (ignored by the others).

    Returns:
        Shape ``(...)``.

    Raises:
        ConfigError: For an unknown objective or malformed scores.

    Example:
        >>> ensemble_score([[1.0, 2.0], [3.0, 0.0]], "worst").tolist()
        [1.0, 0.0]
    """
    if objective == "mean":
        return mean_objective(scores)
    if objective == "worst":
        return worst_case_objective(scores)
    if objective == "uwo":
        return uncertainty_weighted_objective(scores, lam)
    known = ", ".join(ENSEMBLE_OBJECTIVES)
    raise ConfigError(f"unknown ensemble objective {objective!r}; expected one of {known}")


def standardize_members(
    scores: ArrayLike, reference: ArrayLike | None = None
) -> NDArray[np.float64]:
    """Put each member on mean 0, SD 1 over ``reference`` scores (default: ``scores`` itself).

    Args:
        scores: Member scores, shape ``(members, n)``.
        reference: Member scores on reference responses, shape ``(members, m)``.

    Returns:
        Shape ``(members, n)``.
    """
    arr = _members(scores)
    ref = arr if reference is None else _members(reference)
    if ref.shape[0] != arr.shape[0]:
        raise ConfigError("reference scores must have one row per member")
    axes = tuple(range(1, ref.ndim))
    mu = ref.mean(axis=axes, keepdims=True)
    sd = ref.std(axis=axes, keepdims=True)
    sd = np.where(sd > 0, sd, 1.0)
    shape = (arr.shape[0],) + (1,) * (arr.ndim - 1)
    return np.asarray((arr - mu.reshape(shape)) / sd.reshape(shape), dtype=np.float64)
