"""Closing the loop: turn audit findings into training data and repair the model.

Preference data (:class:`PreferencePair`, :func:`build_preferences`), Constitutional AI
(:func:`load_constitution`, :class:`RuleCritic`, :class:`ChatCritic`,
:func:`run_constitution`), DPO (:func:`train_dpo`), reward models and ensembles
(:func:`train_reward_ensemble`, :class:`RewardEnsemble`), best-of-n reranking
(:func:`best_of_n`) and an online method watched by ``GoodhartMonitor``
(:func:`train_grpo`). Repair data is built only from a pack's ``train`` split; judge a
repair by re-auditing the ``heldout`` split (``alignkit audit --split heldout``)::

    from alignkit.models import connect
    from alignkit.train import build_preferences, train_dpo

    flawed = connect("organism:flawed")
    built = build_preferences(flawed, run_id="20250101-120000-a1b2c3")
    train_dpo(flawed, built.pairs, "repaired/")   # then: alignkit audit --target hf:repaired

torch, transformers, trl and datasets are imported only when a model is trained.
"""

from __future__ import annotations

from alignkit.train._bon import BestOfN, BestOfNPoint, best_of_n, best_of_n_curve, best_of_n_kl
from alignkit.train._build import (
    PreferenceBuild,
    abuild_preferences,
    build_preferences,
    constitution_cases,
    resolve_pack,
    run_cases,
)
from alignkit.train._cases import (
    Case,
    ItemIndex,
    cases_from_attempts,
    cases_from_pack,
    first_per_kind,
)
from alignkit.train._checkpoint import (
    CHECKPOINT_OUTPUT,
    TRAIN_RECORD,
    checkpoint_dir,
    write_checkpoint,
)
from alignkit.train._constitution import (
    Constitution,
    Principle,
    default_constitution_path,
    load_constitution,
)
from alignkit.train._contrast import ContrastBuild, abuild_contrast, build_contrast
from alignkit.train._critic import (
    ChatCritic,
    Critic,
    Critique,
    RuleCritic,
    abstains,
    stated_confidence,
)
from alignkit.train._dpo import DPOSettings, TrainReport, train_dpo
from alignkit.train._grpo import GRPOSettings, OnlineCurve, train_grpo
from alignkit.train._pairs import (
    PreferencePair,
    SFTExample,
    check_pair_file,
    dedupe_pairs,
    dedupe_sft,
    import_pairs,
    pair_counts,
    read_pairs,
    read_prompts,
    read_sft,
    sft_sidecar,
    to_trl_rows,
    write_jsonl_models,
    write_preference_files,
)
from alignkit.train._revise import (
    CONSTITUTION_OUTPUT,
    ConstitutionResult,
    Revision,
    revise_responses,
    run_constitution,
)
from alignkit.train._reward import (
    REWARD_OUTPUT,
    RewardEnsemble,
    RewardSettings,
    split_pairs,
    train_reward_ensemble,
)
from alignkit.train._sft import SFTSettings, train_sft

__all__ = [
    "CHECKPOINT_OUTPUT",
    "CONSTITUTION_OUTPUT",
    "REWARD_OUTPUT",
    "TRAIN_RECORD",
    "BestOfN",
    "BestOfNPoint",
    "Case",
    "ChatCritic",
    "Constitution",
    "ContrastBuild",
    "ConstitutionResult",
    "Critic",
    "Critique",
    "DPOSettings",
    "GRPOSettings",
    "ItemIndex",
    "OnlineCurve",
    "PreferenceBuild",
    "PreferencePair",
    "Principle",
    "Revision",
    "RewardEnsemble",
    "RewardSettings",
    "RuleCritic",
    "SFTExample",
    "SFTSettings",
    "TrainReport",
    "abstains",
    "abuild_contrast",
    "abuild_preferences",
    "best_of_n",
    "best_of_n_curve",
    "best_of_n_kl",
    "build_contrast",
    "build_preferences",
    "cases_from_attempts",
    "cases_from_pack",
    "first_per_kind",
    "check_pair_file",
    "checkpoint_dir",
    "constitution_cases",
    "dedupe_pairs",
    "dedupe_sft",
    "default_constitution_path",
    "import_pairs",
    "load_constitution",
    "pair_counts",
    "read_pairs",
    "read_prompts",
    "read_sft",
    "resolve_pack",
    "revise_responses",
    "run_cases",
    "run_constitution",
    "sft_sidecar",
    "split_pairs",
    "stated_confidence",
    "to_trl_rows",
    "train_dpo",
    "train_grpo",
    "train_reward_ensemble",
    "train_sft",
    "write_checkpoint",
    "write_jsonl_models",
    "write_preference_files",
]
