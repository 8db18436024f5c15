"""Checkpoints in and out: find a target's weights, write a trained model as ``hf:DIR``.

A trained folder holds everything ``hf:DIR`` needs — weights, tokenizer and chat
template, generation config — plus the base target's ``alignkit.json`` sidecar with its
default pack (copied into ``DIR/pack``) and decoding, so ``alignkit audit --target
hf:DIR`` audits the repaired model exactly as the base was audited, and ``train.json``
recording what was trained, from what, how, and how long it took.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from alignkit.core import (
    ChatModel,
    ConfigError,
    DataError,
    MissingDependencyError,
    Owned,
    TargetError,
    staged_folder,
)
from alignkit.models import load_sidecar
from alignkit.train._pairs import PreferencePair, SFTExample

__all__ = [
    "CHECKPOINT_OUTPUT",
    "TRAIN_RECORD",
    "chat_length",
    "checkpoint_dir",
    "context_of",
    "drop_printers",
    "final_metrics",
    "logged_numbers",
    "pairs_that_fit",
    "lm_module",
    "limit_threads",
    "load_causal_lm",
    "require_trl",
    "train_and_save",
    "trl_config",
    "write_checkpoint",
]

_log = logging.getLogger(__name__)
_Row = TypeVar("_Row", PreferencePair, SFTExample)
TRAIN_RECORD = "train.json"
_COPY = ("chat_template.jinja", "generation_config.json")


def checkpoint_dir(target: ChatModel) -> Path:
    """The local transformers checkpoint folder behind a chat target.

    Works for ``hf:`` targets and for targets opened through them (``organism:``).

    Raises:
        TargetError: The target is not a local transformers checkpoint (an API, a GGUF
            file, a Python app): there are no weights to train.
    """
    if getattr(target, "_gguf", None):
        raise TargetError(f"{target.uri}: GGUF checkpoints cannot be fine-tuned here")
    directory = getattr(target, "directory", None) or getattr(target, "_dir", None)
    if directory is None and target.uri.startswith("hf:"):
        directory = target.uri[3:].split("?", 1)[0]
    if directory is None or not (Path(directory) / "config.json").is_file():
        raise TargetError(
            f"{target.uri} is not a local transformers checkpoint (use hf:DIR or organism:NAME)"
        )
    return Path(directory)


def lm_module(name: str) -> ModuleType:
    """Import ``trl`` or ``datasets`` (or another training dependency) by name.

    Raises:
        MissingDependencyError: The module is not installed.
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MissingDependencyError(name, "lm") from exc


def trl_config(kind: str, work: str, **settings: Any) -> Any:
    """TRL's ``kind`` config (``DPOConfig``, ``RewardConfig``, ``GRPOConfig``) for CPU runs.

    Full precision, no gradient checkpointing, no checkpoints saved, no reporting, no
    progress bars, data loaded in the main process; ``settings`` add to or override these.
    """
    common: dict[str, Any] = {
        "output_dir": work,
        "bf16": False,
        "fp16": False,
        "gradient_checkpointing": False,
        "use_cpu": True,
        "report_to": [],
        "save_strategy": "no",
        "disable_tqdm": True,
        "logging_steps": 10,
        "dataloader_num_workers": 0,
    }
    steps = int(settings.get("max_steps", -1))
    if 0 < steps < 10:  # a short run logs its last step too (no metrics at all otherwise)
        common["logging_steps"] = steps
    return getattr(lm_module("trl"), kind)(**{**common, **settings})


def require_trl() -> None:
    """Raise :class:`MissingDependencyError` unless torch, transformers, trl and datasets import."""
    for module in ("torch", "transformers", "trl", "datasets"):
        try:
            __import__(module)
        except ImportError as exc:
            raise MissingDependencyError(module, "lm") from exc


def drop_printers(trainer: Any) -> None:
    """Remove the callbacks through which a transformers Trainer prints to the terminal."""
    transformers = lm_module("transformers")
    for cb in ("PrinterCallback", "ProgressCallback"):
        klass = getattr(transformers, cb, None)
        if klass is not None:
            trainer.remove_callback(klass)


def limit_threads(threads: int | None) -> None:
    """Use at most ``threads`` torch threads (default: the cores this process may use)."""
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    n = max(1, min(threads or cores or 1, cores or 1))
    torch.set_num_threads(n)


def context_of(model: Any) -> int:
    """The model's context length in tokens (1024 when its config does not say)."""
    cfg = model.config
    n = getattr(cfg, "n_positions", None) or getattr(cfg, "max_position_embeddings", None)
    return int(n or 1024)


def chat_length(tokenizer: Any, prompt: Sequence[Any], response: str) -> int:
    """Tokens of ``prompt`` plus the assistant's ``response`` under the chat template."""
    conv = [*map(dict, prompt), {"role": "assistant", "content": response}]
    return len(tokenizer.apply_chat_template(conv, tokenize=True, return_dict=True)["input_ids"])


def logged_numbers(row: dict[str, Any]) -> dict[str, float]:
    """The numeric fields of one row of a trainer's log."""
    return {k: float(v) for k, v in row.items() if isinstance(v, int | float)}


def final_metrics(history: Sequence[dict[str, Any]]) -> dict[str, float]:
    """The last logged row that has a loss (empty when none has)."""
    rows = [r for r in history if "loss" in r]
    return logged_numbers(rows[-1]) if rows else {}


def train_and_save(
    trainer: Any,
    model: Any,
    tokenizer: Any,
    out_dir: str | os.PathLike[str],
    *,
    base: ChatModel,
    record: dict[str, Any],
    started: float,
) -> tuple[Path, int, list[dict[str, float]]]:
    """Run ``trainer`` and write ``model`` as a checkpoint; ``(folder, steps, log rows)``.

    ``record`` goes into ``train.json`` with the final metrics and the seconds since
    ``started`` (a ``time.perf_counter()`` reading).
    """
    drop_printers(trainer)
    trainer.train()
    history = [logged_numbers(r) for r in trainer.state.log_history]
    model.eval()
    full = {
        **record,
        "final": final_metrics(history),
        "seconds": round(time.perf_counter() - started, 1),
    }
    out = write_checkpoint(model, tokenizer, out_dir, base=base, record=full)
    return out, int(trainer.state.global_step), history


def pairs_that_fit(tokenizer: Any, pairs: Sequence[_Row], max_length: int) -> list[_Row]:
    """The rows whose prompt plus each response fit in ``max_length`` tokens.

    A row is a preference pair (prompt + chosen and prompt + rejected) or a supervised
    example (prompt + response). TRL drops (reward models) or cuts (DPO, SFT) longer
    ones on its own, so the counts reported were not what was trained, and with none
    left it failed with an internal error. The conversation is tokenized with the chat
    template, as TRL does.

    Raises:
        DataError: No row fits.
    """

    def longest(row: _Row) -> int:
        texts = (row.chosen, row.rejected) if isinstance(row, PreferencePair) else (row.response,)
        return max(chat_length(tokenizer, row.prompt, t) for t in texts)

    kept = [p for p in pairs if longest(p) <= max_length]
    what = "pairs" if all(isinstance(p, PreferencePair) for p in pairs) else "examples"
    if pairs and not kept:
        raise DataError(
            f"none of the {len(pairs)} {what} fits the model's context of {max_length} tokens"
            " (prompt and response together); give shorter ones"
        )
    if len(kept) < len(pairs):
        _log.warning(
            "%d of %d %s are longer than the model's context of %d tokens and were left out",
            len(pairs) - len(kept),
            len(pairs),
            what,
            max_length,
        )
    return kept


def load_causal_lm(directory: Path) -> tuple[Any, Any]:
    """``(model, tokenizer)`` from a checkpoint folder, offline, in float32 on the CPU."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            str(directory), local_files_only=True, dtype=torch.float32
        )
    except Exception as exc:
        raise TargetError(f"cannot load checkpoint {directory}: {exc}") from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def _sidecar(base: ChatModel, base_dir: Path, out: Path) -> dict[str, Any]:
    stored = load_sidecar(base_dir)
    side: dict[str, Any] = {}
    pack = base.default_pack
    if pack is not None and Path(pack).is_dir():
        dest = out / "pack"
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(pack, dest)
        side["default_pack"] = "pack"
    dec = base.default_decoding
    if dec is not None:
        side["decoding"] = {
            "temperature": dec.temperature,
            "top_p": dec.top_p,
            "max_tokens": dec.max_tokens,
            "samples": dec.samples,
        }
    if stored is not None and stored.stop:
        side["stop"] = list(stored.stop)
    return side


CHECKPOINT_OUTPUT = Owned("the checkpoint", marker=TRAIN_RECORD)
"""What a training command may replace with a checkpoint: an empty folder or a checkpoint.

The mark is ``train.json``, which only :func:`write_checkpoint` writes: ``alignkit.json``
is in every organism folder too, and a DPO run replaced a trained organism (manifest
included) with no word.
"""


def write_checkpoint(
    model: Any,
    tokenizer: Any,
    out_dir: str | os.PathLike[str],
    *,
    base: ChatModel,
    record: dict[str, Any],
) -> Path:
    """Save ``model`` and ``tokenizer`` into ``out_dir`` as a checkpoint ``hf:`` can open.

    Copies the base checkpoint's chat template and generation config, writes the base
    target's sidecar (default pack copied in, decoding) and ``train.json`` (``record``
    plus the base target's URI).
    """
    out = Path(out_dir)
    base_dir = checkpoint_dir(base)
    if out.resolve() == base_dir.resolve():
        raise ConfigError(f"--out {out} is the base checkpoint itself; choose a new folder")
    # Written whole in a sibling folder, then moved into place: an earlier checkpoint's
    # files (a GRPO curve.json under new DPO weights) do not survive, nor does half a write.
    with staged_folder(out, CHECKPOINT_OUTPUT) as stage:
        model.save_pretrained(str(stage), safe_serialization=True)
        tokenizer.save_pretrained(str(stage))
        for name in _COPY:
            if (base_dir / name).is_file():
                shutil.copy2(base_dir / name, stage / name)
        side = _sidecar(base, base_dir, stage)
        (stage / "alignkit.json").write_text(json.dumps(side, indent=2) + "\n", encoding="utf-8")
        full = {"base": base.uri, "base_dir": str(base_dir), **record}
        (stage / TRAIN_RECORD).write_text(json.dumps(full, indent=2, default=str) + "\n")
    _log.info("wrote checkpoint %s (hf:%s)", out, out)
    return out
