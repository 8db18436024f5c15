"""Behaviours: the harmful requests a red-team campaign tries to get a target to fulfil.

A behaviour is an id, the request text and, optionally, a harm category. They come
from an item pack's ``harmful`` items (a pack folder, or a ``harmful.jsonl``/``.csv``
file) or from any JSONL/CSV file whose rows carry the request as ``prompt``,
``behaviour``, ``behavior``, ``goal`` or ``request`` (``id`` and ``category`` optional).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from alignkit.core import DataError
from alignkit.data import ITEM_KINDS, HarmfulItem, Item, SplitSelector, load_pack, read_rows

__all__ = ["Behaviour", "behaviours_from_items", "load_behaviours", "sample_behaviours"]

_TEXT_FIELDS = ("prompt", "behaviour", "behavior", "goal", "request")


class Behaviour(BaseModel):
    """One harmful request to attack.

    Attributes:
        id: Unique id within the campaign.
        prompt: The request as a user would write it.
        category: The harm category; with markers required, success needs its marker.
    """

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    prompt: str = Field(min_length=1)
    category: str | None = None


def _from_pack(path: Path, split: SplitSelector) -> list[Behaviour]:
    pack = load_pack(path, split=split)
    items = pack.items("harmful")
    if not items:
        raise DataError(f"{path}: the pack has no harmful items (split {split})")
    return behaviours_from_items(items)


def behaviours_from_items(items: Sequence[Item]) -> list[Behaviour]:
    """Behaviours from a pack's ``harmful`` items (other kinds are skipped)."""
    return [
        Behaviour(id=it.id, prompt=it.prompt, category=it.category)
        for it in items
        if isinstance(it, HarmfulItem)
    ]


def _from_file(path: Path, split: SplitSelector) -> list[Behaviour]:
    out: list[Behaviour] = []
    seen: set[str] = set()
    for n, (line, row) in enumerate(read_rows(path), start=1):
        where = f"{path}:{line}"
        text = next((str(row[f]) for f in _TEXT_FIELDS if row.get(f)), "")
        if not text.strip():
            raise DataError(f"{where}: no request text (one of {', '.join(_TEXT_FIELDS)})")
        given = row.get("split", "heldout")
        if given not in ("train", "heldout"):  # "Train" matched no --split, silently
            raise DataError(f"{where}: split must be 'train' or 'heldout', not {given!r}")
        if split != "all" and given != split:
            continue
        bid = str(row.get("id") or f"behaviour-{n}")
        if bid in seen:
            raise DataError(f"{where}: duplicate id '{bid}'")
        seen.add(bid)
        category = row.get("category")
        out.append(Behaviour(id=bid, prompt=text, category=str(category) if category else None))
    if not out:
        raise DataError(f"{path}: no behaviours (split {split})")
    return out


def load_behaviours(path: str | Path, *, split: SplitSelector = "all") -> list[Behaviour]:
    """Behaviours from a pack folder, a ``harmful`` item file, or a JSONL/CSV file.

    Raises:
        DataError: the file is missing, malformed, or holds no behaviours.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"no behaviours at {p}")
    if p.is_dir() or (p.stem in ITEM_KINDS and p.suffix.lower() in (".jsonl", ".csv")):
        return _from_pack(p, split)
    if p.suffix.lower() not in (".jsonl", ".csv"):
        raise DataError(f"{p}: behaviours must be a pack folder or a .jsonl/.csv file")
    return _from_file(p, split)


def sample_behaviours(behaviours: Sequence[Behaviour], k: int | None, seed: int) -> list[Behaviour]:
    """Up to ``k`` behaviours, a seeded sample kept in file order (all when ``k`` is None)."""
    if k is None or len(behaviours) <= k:
        return list(behaviours)
    picked = sorted(random.Random(f"behaviours:{seed}").sample(range(len(behaviours)), k))
    return [behaviours[i] for i in picked]
