"""The lab: reproducible experiments and environments for alignment failure modes.

Experiments register in :data:`EXPERIMENTS` (id ``<group>.<name>``). The ``goodhart``
group (:func:`run_goodhart`) covers the four Goodhart variants, reward-model
over-optimisation with the Gao et al. fits, and mitigations at equal KL. The ``gaming``
group (:func:`run_gaming`) trains agents on eleven Gymnasium environments
(``alignkit/<Name>-v0``, :data:`ENVIRONMENTS`) whose reward has a loophole, detects the
gaming with :class:`~alignkit.monitor.GoodhartMonitor` from the reward and sparse intent
evaluations, and measures mitigations. Importing the package also registers the
``policy:`` target scheme and the ``lab.policy_gap`` check. Both runners return a core
:class:`~alignkit.core.AuditResult`.
"""

from alignkit.lab._experiment import (
    EXPERIMENTS,
    Experiment,
    ExperimentOutput,
    ProgressFn,
    experiment,
)
from alignkit.lab._gaming_agents import (
    EpisodeLog,
    Evaluation,
    Policy,
    QAgent,
    QConfig,
    RewardFn,
    evaluate,
    train_ppo,
    train_q,
)
from alignkit.lab._gaming_detect import (
    EVAL_EVERY,
    GamingDetector,
    Verdict,
    intent_eval_wrapper,
    new_monitor,
    verdict_of,
)
from alignkit.lab._gaming_metrics import METRICS as GAMING_METRICS
from alignkit.lab._gaming_mitigations import (
    MITIGATIONS,
    SECOND_PROXY,
    diverse_metrics,
    human_oversight,
    quantiliser,
)
from alignkit.lab._gaming_suite import GAMING_TARGET, GamingRun, run_gaming, train_detect
from alignkit.lab._goodhart import TARGET, merge_results, run_experiments, run_goodhart
from alignkit.lab._goodhart_fit import FormFit, fit_form
from alignkit.lab._goodhart_metrics import METRICS as GOODHART_METRICS
from alignkit.lab._goodhart_mitigations import mitigations
from alignkit.lab._goodhart_overopt import reward_model_overoptimisation
from alignkit.lab._goodhart_rm import Proxy, RewardWorld, bon_estimate, kl_bon, train_proxy
from alignkit.lab._goodhart_variants import adversarial, causal, extremal, regressional
from alignkit.lab._policy import PolicyTarget, load_policy, open_policy, policy_gap, save_ppo
from alignkit.lab.envs import ENVIRONMENTS, EnvSpec, LabEnv, env_id, make_env

__all__ = [
    "ENVIRONMENTS",
    "EVAL_EVERY",
    "EXPERIMENTS",
    "GAMING_METRICS",
    "GAMING_TARGET",
    "GOODHART_METRICS",
    "MITIGATIONS",
    "SECOND_PROXY",
    "TARGET",
    "EnvSpec",
    "EpisodeLog",
    "Evaluation",
    "Experiment",
    "ExperimentOutput",
    "FormFit",
    "GamingDetector",
    "GamingRun",
    "LabEnv",
    "Policy",
    "PolicyTarget",
    "ProgressFn",
    "Proxy",
    "QAgent",
    "QConfig",
    "RewardFn",
    "RewardWorld",
    "Verdict",
    "adversarial",
    "bon_estimate",
    "causal",
    "diverse_metrics",
    "env_id",
    "evaluate",
    "experiment",
    "extremal",
    "fit_form",
    "human_oversight",
    "intent_eval_wrapper",
    "kl_bon",
    "load_policy",
    "make_env",
    "mitigations",
    "new_monitor",
    "open_policy",
    "policy_gap",
    "quantiliser",
    "regressional",
    "reward_model_overoptimisation",
    "merge_results",
    "run_experiments",
    "run_gaming",
    "run_goodhart",
    "save_ppo",
    "train_detect",
    "train_ppo",
    "train_proxy",
    "train_q",
    "verdict_of",
]
