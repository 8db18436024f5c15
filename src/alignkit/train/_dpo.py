"""Direct preference optimisation with TRL's ``DPOTrainer``, on the CPU, offline.

The reference model is the base checkpoint itself, loaded a second time and passed to
the trainer explicitly (so nothing is fetched from a hub); bf16 and gradient
checkpointing are off. With ``sft_weight > 0`` the loss adds the chosen responses'
negative log-likelihood (TRL's ``sft`` loss term, as in RPO), which keeps the chosen
answers likely rather than only more likely than the rejected ones.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from alignkit.core import ChatModel, ConfigError
from alignkit.models import quiet_hf
from alignkit.train._checkpoint import (
    checkpoint_dir,
    context_of,
    final_metrics,
    limit_threads,
    lm_module,
    load_causal_lm,
    pairs_that_fit,
    require_trl,
    train_and_save,
    trl_config,
)
from alignkit.train._pairs import PreferencePair, pair_counts, to_trl_rows, write_jsonl_models

__all__ = ["DPOSettings", "TrainReport", "train_dpo"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DPOSettings:
    """How to run DPO.

    Attributes:
        beta: DPO's β: how far the policy may move from the reference.
        learning_rate: Peak learning rate (linear warm-up, cosine decay).
        epochs: Passes over the pairs.
        batch_size: Pairs per step.
        sft_weight: Weight of the chosen responses' NLL term (0 = plain DPO).
        max_length: Longest prompt + response in tokens (the model's context when None).
        max_steps: Stop after this many steps (-1: run the epochs).
        threads: torch threads (default: the cores this process may use).
        seed: Seed for shuffling and initialisation.
    """

    beta: float = 0.1
    learning_rate: float = 2e-4
    epochs: float = 2.0
    batch_size: int = 16
    sft_weight: float = 0.5
    max_length: int | None = None
    max_steps: int = -1
    threads: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        finite = all(map(math.isfinite, (self.beta, self.learning_rate, self.epochs)))
        if not finite or min(self.beta, self.learning_rate, self.epochs) <= 0:
            # NaN passed "<= 0" and trained a checkpoint of NaN weights, exit 0
            raise ConfigError("DPO needs finite beta > 0, learning_rate > 0 and epochs > 0")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, not {self.batch_size}")
        if not (math.isfinite(self.sft_weight) and self.sft_weight >= 0):
            raise ConfigError(f"sft_weight must be a finite number >= 0, not {self.sft_weight}")


@dataclass(frozen=True)
class TrainReport:
    """What a training run did.

    Attributes:
        out_dir: The checkpoint written (open it as ``hf:<out_dir>``).
        method: ``dpo``, ``sft``, ``reward`` or ``grpo``.
        steps: Optimiser steps taken.
        seconds: Wall-clock time of the run, loading and saving included.
        examples: Training examples (pairs or prompts).
        metrics: Final logged metrics (loss, reward accuracy and margin, ...).
        history: Every logged row.
    """

    out_dir: Path
    method: str
    steps: int
    seconds: float
    examples: int
    metrics: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        d = asdict(self)
        d["out_dir"] = str(self.out_dir)
        return d


def _dpo_config(settings: DPOSettings, work: str, max_length: int) -> Any:
    return trl_config(
        "DPOConfig",
        work,
        per_device_train_batch_size=settings.batch_size,
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps,
        learning_rate=settings.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=0.05,
        beta=settings.beta,
        max_length=max_length,
        loss_type=["sigmoid", "sft"] if settings.sft_weight > 0 else ["sigmoid"],
        loss_weights=[1.0, settings.sft_weight] if settings.sft_weight > 0 else None,
        seed=settings.seed,
    )


def train_dpo(
    base: ChatModel,
    pairs: Sequence[PreferencePair],
    out_dir: str | Path,
    *,
    settings: DPOSettings | None = None,
    record: dict[str, Any] | None = None,
    callbacks: Sequence[Any] = (),
) -> TrainReport:
    """Fine-tune ``base`` on ``pairs`` with DPO and write the result as ``hf:out_dir``.

    Args:
        base: The model to repair (an ``hf:`` or ``organism:`` target).
        pairs: Preference pairs (see :mod:`alignkit.train._pairs`).
        out_dir: Folder for the new checkpoint.
        settings: DPO settings (defaults when None).
        record: Extra facts for ``train.json`` (the run the pairs came from, ...).
        callbacks: transformers ``TrainerCallback`` objects (a progress bar, a monitor).

    Pairs longer than the context (``max_length``) are left out, with a warning; the
    checkpoint's ``pairs.jsonl`` holds the pairs trained on.

    Raises:
        ConfigError: No pairs.
        DataError: No pair fits in the context.
        TargetError: ``base`` has no local weights.
        MissingDependencyError: torch, transformers, trl or datasets is missing.
    """
    if not pairs:
        raise ConfigError("no preference pairs to train on")
    s = settings or DPOSettings()
    base_dir = checkpoint_dir(base)
    require_trl()
    import torch

    start = time.perf_counter()
    limit_threads(s.threads)
    torch.manual_seed(s.seed)
    with quiet_hf(), tempfile.TemporaryDirectory(prefix="alignkit-dpo-") as work:
        model, tokenizer = load_causal_lm(base_dir)
        max_length = s.max_length or context_of(model)
        pairs = pairs_that_fit(tokenizer, pairs, max_length)  # TRL cut or dropped the rest
        report_record: dict[str, Any] = {
            "method": "dpo",
            "settings": asdict(s),
            "pairs": len(pairs),
            "pair_counts": pair_counts(pairs),
            **(record or {}),
        }
        ref, _ = load_causal_lm(base_dir)
        dataset = lm_module("datasets").Dataset.from_list(to_trl_rows(pairs))
        trainer = lm_module("trl").DPOTrainer(
            model=model,
            ref_model=ref,
            args=_dpo_config(s, work, max_length),
            train_dataset=dataset,
            processing_class=tokenizer,
            callbacks=list(callbacks),
        )
        out, steps, history = train_and_save(
            trainer, model, tokenizer, out_dir, base=base, record=report_record, started=start
        )
    write_jsonl_models(pairs, out / "pairs.jsonl")  # the pairs trained on, not those given
    seconds = time.perf_counter() - start
    _log.info("DPO: %d steps over %d pairs in %.0f s", steps, len(pairs), seconds)
    return TrainReport(out, "dpo", steps, seconds, len(pairs), final_metrics(history), history)
