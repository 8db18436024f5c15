"""Scoring: deciding what a response says.

Answer matching (:func:`answer_matches`, :func:`extract_number`, :func:`normalize`),
shared by every check that compares a response with a known answer; what a response says
of itself (:func:`abstains`, :func:`parse_confidence`); the response classifier and the
unsafe-marker detector; the reward-ensemble objectives.
"""

from alignkit.scoring._answers import answer_matches, extract_number, normalize
from alignkit.scoring._classifier import ResponseClassifier
from alignkit.scoring._classifier_rules import find_deflection, find_refusal
from alignkit.scoring._ensemble import (
    ENSEMBLE_OBJECTIVES,
    EnsembleObjective,
    ensemble_score,
    mean_objective,
    standardize_members,
    uncertainty_weighted_objective,
    worst_case_objective,
)
from alignkit.scoring._judge import JUDGE_INSTRUCTIONS, parse_judge_reply
from alignkit.scoring._markers import MARKER_PATTERN, complied_with_marker, detect_unsafe_markers
from alignkit.scoring._statements import abstains, parse_confidence
from alignkit.scoring._verdict import ResponseLabel, Tier, Verdict

__all__ = ["abstains", "answer_matches", "extract_number", "normalize", "parse_confidence"]
__all__ += [
    "JUDGE_INSTRUCTIONS",
    "MARKER_PATTERN",
    "ResponseClassifier",
    "ResponseLabel",
    "Tier",
    "Verdict",
    "complied_with_marker",
    "detect_unsafe_markers",
    "find_deflection",
    "find_refusal",
    "parse_judge_reply",
]
__all__ += [
    "ENSEMBLE_OBJECTIVES",
    "EnsembleObjective",
    "ensemble_score",
    "mean_objective",
    "standardize_members",
    "uncertainty_weighted_objective",
    "worst_case_objective",
]
