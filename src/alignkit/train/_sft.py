"""Supervised fine-tuning with TRL's ``SFTTrainer``, on the CPU, offline.

The loss covers the response tokens only (TRL's completion-only loss on
prompt/completion rows), so the model learns what to answer, not to predict the user's
questions. Used for the supervised stage of a repair (see :mod:`._contrast`) before DPO.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
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
from alignkit.train._dpo import TrainReport
from alignkit.train._pairs import SFTExample, write_jsonl_models

__all__ = ["SFTSettings", "train_sft"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SFTSettings:
    """How to run supervised fine-tuning.

    Attributes:
        learning_rate: Peak learning rate (linear warm-up, linear decay).
        epochs: Passes over the examples.
        batch_size: Examples per step.
        max_length: Longest prompt + response in tokens (the model's context when None).
        max_steps: Stop after this many steps (-1: run the epochs).
        threads: torch threads (default: the cores this process may use).
        seed: Seed for shuffling.
    """

    learning_rate: float = 3e-4
    epochs: float = 8.0
    batch_size: int = 32
    max_length: int | None = None
    max_steps: int = -1
    threads: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if (
            not all(map(math.isfinite, (self.learning_rate, self.epochs)))
            or min(self.learning_rate, self.epochs) <= 0
        ):
            raise ConfigError("SFT needs finite learning_rate > 0 and epochs > 0")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, not {self.batch_size}")


def _rows(examples: Sequence[SFTExample]) -> list[dict[str, Any]]:
    return [
        {
            "prompt": [dict(m) for m in ex.prompt],
            "completion": [{"role": "assistant", "content": ex.response}],
        }
        for ex in examples
    ]


def train_sft(
    base: ChatModel,
    examples: Sequence[SFTExample],
    out_dir: str | Path,
    *,
    settings: SFTSettings | None = None,
    record: dict[str, Any] | None = None,
    callbacks: Sequence[Any] = (),
) -> TrainReport:
    """Fine-tune ``base`` on ``examples`` and write the result as ``hf:out_dir``.

    Args:
        base: The model to train (an ``hf:`` or ``organism:`` target).
        examples: Prompts and the responses to learn.
        out_dir: Folder for the new checkpoint (it carries the base's pack and decoding).
        settings: SFT settings (defaults when None).
        record: Extra facts for ``train.json``.
        callbacks: transformers ``TrainerCallback`` objects.

    Raises:
        ConfigError: No examples.
        DataError: No example fits in the context.
        TargetError: ``base`` has no local weights.
        MissingDependencyError: torch, transformers, trl or datasets is missing.
    """
    if not examples:
        raise ConfigError("no supervised examples to train on")
    s = settings or SFTSettings()
    base_dir = checkpoint_dir(base)
    require_trl()
    import torch

    start = time.perf_counter()
    limit_threads(s.threads)
    torch.manual_seed(s.seed)
    with quiet_hf(), tempfile.TemporaryDirectory(prefix="alignkit-sft-") as work:
        model, tokenizer = load_causal_lm(base_dir)
        max_length = s.max_length or context_of(model)
        examples = pairs_that_fit(tokenizer, examples, max_length)
        config = trl_config(
            "SFTConfig",
            work,
            per_device_train_batch_size=s.batch_size,
            num_train_epochs=s.epochs,
            max_steps=s.max_steps,
            learning_rate=s.learning_rate,
            lr_scheduler_type="linear",
            warmup_steps=0.05,
            max_length=max_length,
            completion_only_loss=True,
            packing=False,
            seed=s.seed,
        )
        trainer = lm_module("trl").SFTTrainer(
            model=model,
            args=config,
            train_dataset=lm_module("datasets").Dataset.from_list(_rows(examples)),
            processing_class=tokenizer,
            callbacks=list(callbacks),
        )
        full = {"method": "sft", "settings": asdict(s), "examples": len(examples), **(record or {})}
        out, steps, history = train_and_save(
            trainer, model, tokenizer, out_dir, base=base, record=full, started=start
        )
    write_jsonl_models(examples, out / "sft.jsonl")
    seconds = time.perf_counter() - start
    _log.info("SFT: %d steps over %d examples in %.0f s", steps, len(examples), seconds)
    return TrainReport(out, "sft", steps, seconds, len(examples), final_metrics(history), history)
