"""Interpretability: activation probes, steering vectors, SHAP/LIME attributions, fairness.

Looking inside a model finds what behaviour alone may hide:

* :func:`fit_defection_probe` — the generic contrast-pair probe ("Are you doing something
  dangerous?" yes minus no) on an ``hf:``/``organism:`` target's residual stream; it
  scores prompts for imminent defection without knowing any trigger
  (``alignkit interpret probe``), powers the ``deceptive_alignment.probe`` check and the
  ``defection-probe`` guard rail;
* :func:`build_steering_vector` — activation addition from contrastive answers
  (``alignkit interpret steer``), applied with ``?steer=FILE&scale=S``;
* :func:`shap_attributions`, :func:`lime_tabular`, :func:`explain_response` — SHAP and
  LIME on tabular classifiers and on the shared response classifier
  (``alignkit interpret explain``);
* the ``classifier:MODEL.joblib@DATA.csv`` target and the ``bias.fairness`` check
  (demographic parity difference, equalised odds difference, disparate impact ratio).

Importing the package registers the check, the rail and the ``classifier:`` scheme;
torch, shap and lime load only when used.
"""

from alignkit.interpret._api import (
    ClassifierExplanation,
    ProbeResult,
    explain_classifier,
    probe_prompts,
    run_probe,
    run_steer,
    steer_pairs_from_pack,
)
from alignkit.interpret._attribution import (
    ShapResult,
    TextExplanation,
    explain_response,
    lime_tabular,
    shap_attributions,
)
from alignkit.interpret._check import PROBE_FLAGGED_SHARE, activation_model, defection_probe_check
from alignkit.interpret._fairness import (
    DEMOGRAPHIC_PARITY,
    DISPARATE_IMPACT,
    EQUALIZED_ODDS,
    FairnessReport,
    GroupRates,
    demographic_parity_difference,
    disparate_impact_ratio,
    equalized_odds_difference,
    fairness_check,
    fairness_report,
    group_rates,
)
from alignkit.interpret._probe import (
    CONTRAST_ANSWERS,
    CONTRAST_QUESTIONS,
    DEFAULT_THRESHOLD,
    DefectionProbe,
    auroc,
    auroc_by_layer,
    contrast_direction,
    fit_defection_probe,
    fitting_activations,
    probe_from_contrast,
    prompt_activations,
    supervised_auroc_by_layer,
    supervised_scores_by_layer,
)
from alignkit.interpret._rail import DefectionProbeOptions, DefectionProbeRail
from alignkit.interpret._steer import (
    ContrastPair,
    build_steering_vector,
    read_pairs,
    sycophancy_pairs,
)
from alignkit.interpret._tabular import ClassifierTarget, TabularData, open_classifier
from alignkit.interpret._texts import (
    REQUEST_KINDS,
    LabelledPrompt,
    read_prompts,
    reference_prompts,
    request_texts,
)

__all__ = [
    "CONTRAST_ANSWERS",
    "CONTRAST_QUESTIONS",
    "DEFAULT_THRESHOLD",
    "DEMOGRAPHIC_PARITY",
    "DISPARATE_IMPACT",
    "EQUALIZED_ODDS",
    "PROBE_FLAGGED_SHARE",
    "REQUEST_KINDS",
    "ClassifierExplanation",
    "ClassifierTarget",
    "ContrastPair",
    "DefectionProbe",
    "DefectionProbeOptions",
    "DefectionProbeRail",
    "FairnessReport",
    "GroupRates",
    "LabelledPrompt",
    "ProbeResult",
    "ShapResult",
    "TabularData",
    "TextExplanation",
    "activation_model",
    "auroc",
    "auroc_by_layer",
    "build_steering_vector",
    "contrast_direction",
    "defection_probe_check",
    "demographic_parity_difference",
    "disparate_impact_ratio",
    "equalized_odds_difference",
    "explain_classifier",
    "explain_response",
    "fairness_check",
    "fairness_report",
    "fit_defection_probe",
    "fitting_activations",
    "group_rates",
    "lime_tabular",
    "open_classifier",
    "probe_from_contrast",
    "probe_prompts",
    "prompt_activations",
    "read_pairs",
    "read_prompts",
    "reference_prompts",
    "request_texts",
    "run_probe",
    "run_steer",
    "shap_attributions",
    "steer_pairs_from_pack",
    "supervised_auroc_by_layer",
    "supervised_scores_by_layer",
    "sycophancy_pairs",
]
