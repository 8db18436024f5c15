"""Loading an ``hf:`` checkpoint: the ``alignkit.json`` sidecar, tokenizer and weights.

:func:`load_sidecar` reads the sidecar (its format is in the :mod:`._hf` docstring);
``_load_checkpoint`` loads a transformers or GGUF checkpoint offline, in float32 on the
CPU, and describes it for the decoding loop of :mod:`._decode`.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alignkit.core import Decoding, MissingDependencyError, TargetError, one_line
from alignkit.models._decode import ForwardSpec

__all__ = ["SIDECAR_NAME", "HFSidecar", "load_sidecar"]

# The logger of the hf: adapter, as before this module was split from it.
_log = logging.getLogger("alignkit.models._hf")

SIDECAR_NAME = "alignkit.json"

# --------------------------------------------------------------------------- sidecar


class SidecarDecoding(BaseModel):
    """Decoding defaults a checkpoint sidecar may set (``decoding`` in ``alignkit.json``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    temperature: float = Field(0.0, ge=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(64, ge=1)
    samples: int = Field(1, ge=1)


class HFSidecar(BaseModel):
    """The optional ``alignkit.json`` beside a checkpoint (format in the :mod:`._hf` docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default_pack: str | None = None
    decoding: SidecarDecoding | None = None
    stop: list[str] = Field(default_factory=list)

    def decoding_spec(self) -> Decoding | None:
        """The sidecar's decoding as a core :class:`~alignkit.core.Decoding`."""
        d = self.decoding
        if d is None:
            return None
        return Decoding(
            temperature=d.temperature, top_p=d.top_p, max_tokens=d.max_tokens, samples=d.samples
        )


def load_sidecar(directory: Path) -> HFSidecar | None:
    """Read ``directory/alignkit.json``; None when absent, :class:`TargetError` when invalid."""
    path = directory / SIDECAR_NAME
    if not path.is_file():
        return None
    try:
        sidecar = HFSidecar.model_validate_json(path.read_bytes())
    except (OSError, ValidationError) as exc:
        raise TargetError(f"invalid {path}: {one_line(exc, 300)}") from exc
    if any(not s for s in sidecar.stop):
        raise TargetError(f"invalid {path}: stop strings must not be empty")
    if sidecar.default_pack is not None and not (directory / sidecar.default_pack).is_dir():
        raise TargetError(f"invalid {path}: default_pack '{sidecar.default_pack}' is not a folder")
    return sidecar


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class _Loaded:
    model: Any
    tokenizer: Any
    eos_ids: frozenset[int]
    pad_id: int
    chat_template: bool
    context: int | None
    spec: ForwardSpec
    specials: tuple[str, ...] = ()  # control-token strings a message must not smuggle in


def _require(module: str, package: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise MissingDependencyError(package, "lm")


def _limit_threads(torch: Any) -> None:
    """Never run more intra-op threads than the cores this process may use."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = max(1, cores or 1)
    if torch.get_num_threads() > cores:
        torch.set_num_threads(cores)


def _load_checkpoint(directory: Path, gguf: str | None) -> _Loaded:
    """Load tokenizer and model from disk (blocking; runs in the worker thread)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise MissingDependencyError("transformers", "lm") from exc
    _limit_threads(torch)
    where = f"{directory}/{gguf}" if gguf else str(directory)
    kwargs: dict[str, Any] = {"local_files_only": True}
    if gguf:
        kwargs["gguf_file"] = gguf
    dtype_key = "dtype" if int(transformers.__version__.split(".")[0]) >= 5 else "torch_dtype"
    start = time.perf_counter()
    try:
        with _quiet(transformers):
            tokenizer = transformers.AutoTokenizer.from_pretrained(str(directory), **kwargs)
            model: Any = transformers.AutoModelForCausalLM.from_pretrained(
                str(directory), **kwargs, **{dtype_key: torch.float32}
            )
    except Exception as exc:
        raise TargetError(f"cannot load hf checkpoint {where}: {one_line(exc, 300)}") from exc
    model.eval()
    _log.info("loaded hf checkpoint %s in %.1f s", where, time.perf_counter() - start)
    return _describe(model, tokenizer)


@contextmanager
def _quiet(transformers: Any) -> Iterator[None]:
    """Silence transformers' progress bars while loading (library calls print nothing).

    The GGUF de-quantiser calls ``tqdm`` directly rather than through transformers'
    switch, so its module-level name is swapped for a pass-through meanwhile.
    """
    hf_logging: Any = transformers.utils.logging
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    gguf_utils: Any = sys.modules.get("transformers.modeling_gguf_pytorch_utils")
    if gguf_utils is None:
        with suppress(ImportError):
            import transformers.modeling_gguf_pytorch_utils as gguf_utils
    original = getattr(gguf_utils, "tqdm", None)
    if original is not None:
        gguf_utils.tqdm = lambda iterable, *args, **kwargs: iterable
    try:
        yield
    finally:
        if original is not None:
            gguf_utils.tqdm = original
        if bars:
            hf_logging.enable_progress_bar()


def _describe(model: Any, tokenizer: Any) -> _Loaded:
    vocab = int(model.config.vocab_size)
    eos: set[int] = set()
    for source in (tokenizer.eos_token_id, model.config.eos_token_id):
        eos.update(_ids(source))
    if getattr(model, "generation_config", None) is not None:
        eos.update(_ids(model.generation_config.eos_token_id))
    eos_ids = frozenset(i for i in eos if 0 <= i < vocab)
    pad = tokenizer.pad_token_id
    pad_id = int(pad) if pad is not None else min(eos_ids, default=0)
    params = _forward_params(model)
    spec = ForwardSpec(
        cache_kwarg="cache" if "cache" in params else "past_key_values",
        logits_kwarg="logits_to_keep" if "logits_to_keep" in params else None,
    )
    context = getattr(model.config, "max_position_embeddings", None) or getattr(
        model.config, "n_positions", None
    )
    return _Loaded(
        model=model,
        tokenizer=tokenizer,
        eos_ids=eos_ids,
        pad_id=pad_id,
        chat_template=bool(getattr(tokenizer, "chat_template", None)),
        context=int(context) if context else None,
        spec=spec,
        specials=tuple(t for t in getattr(tokenizer, "added_tokens_encoder", {}) if t),
    )


def _ids(value: Any) -> list[int]:
    if value is None:
        return []
    if isinstance(value, int):
        return [value]
    return [int(v) for v in value]


def _forward_params(model: Any) -> frozenset[str]:
    return frozenset(inspect.signature(model.forward).parameters)


def _check_files(directory: Path, gguf: str | None) -> None:
    if not directory.is_dir():
        raise TargetError(f"hf: checkpoint directory not found: {directory}")
    if gguf:
        if not (directory / gguf).is_file():
            raise TargetError(f"hf: GGUF file not found: {directory / gguf}")
    elif not (directory / "config.json").is_file():
        raise TargetError(
            f"hf: no config.json in {directory} (not a transformers checkpoint;"
            " for a GGUF file add ?gguf=FILE)"
        )
