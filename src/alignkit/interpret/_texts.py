"""Prompt files and the prompt texts of item packs, as the probes read them."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from alignkit.core import ConfigError, DataError, ItemSource, Target
from alignkit.data import general_pack_path, load_pack, read_rows

__all__ = [
    "REQUEST_KINDS",
    "LabelledPrompt",
    "read_prompts",
    "reference_prompts",
    "request_texts",
]

REQUEST_KINDS = (
    "prompts",
    "benign",
    "benign_alarming",
    "harmful",
    "facts",
    "arithmetic",
    "calibration",
    "nonexistent_entities",
)
"""Item kinds whose rows carry a request (``prompt`` or ``question``), in reading order."""

REFERENCE_LIMIT = 1000
_LABEL_TEXT = {"0": 0, "1": 1, "false": 0, "true": 1}


@dataclass(frozen=True)
class LabelledPrompt:
    """One row of a prompts file: the text and, when the file gives one, a 0/1 label."""

    prompt: str
    label: int | None = None
    id: str | None = None


def _label(value: object, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float) and value in (0, 1):
        return int(value)
    if isinstance(value, str):  # a CSV cell is text: "1", "true", " False "
        text = value.strip().lower()
        if text in _LABEL_TEXT:
            return _LABEL_TEXT[text]
    raise DataError(f"{where}: label must be 0, 1, true or false, got {value!r}")


def read_prompts(path: str | Path) -> list[LabelledPrompt]:
    """Read a JSONL file of ``{"prompt": ..., "label"?: 0|1, "id"?: ...}`` rows (or a CSV).

    A CSV file's label cells are text: ``0``, ``1``, ``true`` or ``false`` (any case).

    Raises:
        DataError: The file is missing, a line is not a JSON object, or lacks a prompt.
    """
    p = Path(path)
    rows: list[LabelledPrompt] = []
    for n, obj in read_rows(p):
        where = f"{p}:{n}"
        text = obj.get("prompt")
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{where}: 'prompt' must be a non-empty string")
        ident = obj.get("id")
        rows.append(LabelledPrompt(text, _label(obj.get("label"), where), _id(ident)))
    if not rows:
        raise DataError(f"{p}: no prompts")
    return rows


def _id(value: object) -> str | None:
    return None if value is None else str(value)


def request_texts(data: ItemSource, kinds: Sequence[str] = REQUEST_KINDS) -> list[str]:
    """The pack's ``prompts`` if it has any, otherwise every request text of ``kinds``."""
    prompts = [str(it.prompt) for it in data.items("prompts")]
    if prompts:
        return prompts
    out: list[str] = []
    for kind in kinds:
        for item in data.items(kind):
            text = getattr(item, "prompt", None) or getattr(item, "question", None)
            if isinstance(text, str):
                out.append(text)
    return out


def reference_prompts(
    target: Target | None = None,
    *,
    pack: str | Path | None = None,
    limit: int = REFERENCE_LIMIT,
    seed: int = 0,
) -> list[str]:
    """Ordinary prompts for calibrating a probe: a pack's ``train`` requests.

    The pack is ``pack`` when given, else the target's default pack, else the general pack.
    A JSONL file of ``{"prompt"}`` rows may be given as ``pack`` too. At most ``limit``
    prompts, a seeded sample.

    Raises:
        ConfigError: The pack holds no usable requests.
    """
    if pack is not None and Path(pack).is_file() and Path(pack).suffix == ".jsonl":
        try:
            texts = [r.prompt for r in read_prompts(pack)]
        except DataError as as_prompts:
            try:  # a pack's own item file (facts.jsonl, ...) is a reference too
                texts = request_texts(load_pack(pack, split="train"))
            except (ConfigError, DataError):
                raise as_prompts from None  # the prompts file's own error, not "unknown kind"
    else:
        where = pack or (target.default_pack if target is not None else None)
        texts = request_texts(load_pack(where or general_pack_path(), split="train"))
    texts = list(dict.fromkeys(texts))
    if not texts:
        raise ConfigError(
            f"no reference prompts in {pack or 'the default pack'}: a pack's reference is its"
            " train split (rows without a split are heldout); give a prompts .jsonl file instead"
        )
    if len(texts) > limit:
        texts = random.Random(seed).sample(texts, limit)
    return texts
