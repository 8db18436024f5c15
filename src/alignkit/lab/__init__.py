"""The lab: reproducible experiments and environments for alignment failure modes.

Experiments register in :data:`EXPERIMENTS` (id ``<group>.<name>``); :func:`run_goodhart`
runs the Goodhart group — the four Goodhart variants, reward-model over-optimisation with
the Gao et al. fits, and mitigations at equal KL — and returns a core
:class:`~alignkit.core.AuditResult` with ``target="lab:goodhart"``.
"""

from alignkit.lab._experiment import (
    EXPERIMENTS,
    Experiment,
    ExperimentOutput,
    ProgressFn,
    experiment,
)
from alignkit.lab._goodhart import TARGET, run_experiments, run_goodhart
from alignkit.lab._goodhart_fit import FormFit, fit_form
from alignkit.lab._goodhart_metrics import METRICS as GOODHART_METRICS
from alignkit.lab._goodhart_mitigations import mitigations
from alignkit.lab._goodhart_overopt import reward_model_overoptimisation
from alignkit.lab._goodhart_rm import Proxy, RewardWorld, bon_estimate, kl_bon, train_proxy
from alignkit.lab._goodhart_variants import adversarial, causal, extremal, regressional

__all__ = [
    "EXPERIMENTS",
    "GOODHART_METRICS",
    "TARGET",
    "Experiment",
    "ExperimentOutput",
    "FormFit",
    "ProgressFn",
    "Proxy",
    "RewardWorld",
    "adversarial",
    "bon_estimate",
    "causal",
    "experiment",
    "extremal",
    "fit_form",
    "kl_bon",
    "mitigations",
    "regressional",
    "reward_model_overoptimisation",
    "run_experiments",
    "run_goodhart",
    "train_proxy",
]
