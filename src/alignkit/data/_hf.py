"""Items from a Hugging Face ``datasets`` dataset saved on disk (``save_to_disk``).

In a pack, such a dataset is a folder named ``<kind>.hf`` beside the JSONL/CSV files; on
its own, a ``<kind>.hf`` folder is a one-kind pack, like a single ``<kind>.jsonl``. The
folder is what ``Dataset.save_to_disk`` or ``DatasetDict.save_to_disk`` wrote; it is read
with ``datasets.load_from_disk`` (memory-mapped Arrow, no network).

Rows are read like JSONL rows: columns beyond the kind's fields are ignored, missing
(``None``) values count as absent, ``aliases`` may be a list or a ``|``-separated string.
For a ``DatasetDict`` every split is read, in name order; a row without a ``split``
column takes ``train`` from a dataset split named ``train`` and ``heldout`` from any
other, so a user's ``train``/``test`` dataset keeps its partition.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alignkit.core import DataError, MissingDependencyError

__all__ = ["HF_SUFFIX", "hf_rows"]

HF_SUFFIX = ".hf"
"""Suffix of a folder holding a dataset saved with ``save_to_disk``."""

_log = logging.getLogger(__name__)


def _load_from_disk(folder: Path) -> list[tuple[str | None, Any]]:
    """The saved dataset's parts: ``[(None, Dataset)]`` or ``[(split, Dataset), ...]``."""
    try:
        datasets = importlib.import_module("datasets")
    except ImportError as exc:
        install = "pip install datasets"
        raise MissingDependencyError("datasets", "datasets", install=install) from exc
    empty = _saved_without_rows(folder)
    if empty is not None:  # datasets wrote no Arrow file and cannot reopen it
        raise DataError(f"{folder}: the saved dataset{empty} has no rows")
    try:
        loaded = datasets.load_from_disk(str(folder))
    except Exception as exc:  # a damaged state.json or dataset_info.json raises anything
        raise DataError(
            f"{folder}: not a dataset saved with save_to_disk ({_reason(exc)})"
        ) from exc
    if isinstance(loaded, datasets.DatasetDict):
        names = sorted(loaded)
        return [("train" if name == "train" else "heldout", loaded[name]) for name in names]
    if isinstance(loaded, datasets.Dataset):
        return [(None, loaded)]
    raise DataError(f"{folder}: expected a Dataset or DatasetDict, got {type(loaded).__name__}")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    if isinstance(exc, KeyError | IndexError | AttributeError | TypeError) or not first:
        return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return first


def _saved_without_rows(folder: Path) -> str | None:
    """``""`` (or ``"'s split 'NAME'"``) when ``folder`` (or a split) lists no data file.

    ``save_to_disk`` of a zero-row dataset writes a ``state.json`` with no data files,
    which ``load_from_disk`` then fails on (an ``IndexError`` deep inside ``datasets``).
    """
    for state in (folder / "state.json", *folder.glob("*/state.json")):
        try:
            raw = json.loads(state.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # load_from_disk says what is wrong with it
        if isinstance(raw, dict) and raw.get("_data_files") == []:
            return "" if state.parent == folder else f"'s split '{state.parent.name}'"
    return None


def _finite(value: Any, where: str, field: str) -> None:
    """Refuse NaN and infinities, as the JSONL reader does (they would become text)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise DataError(f"{where}: field '{field}': {value} is out of range")
    if isinstance(value, list | tuple):
        for v in value:
            _finite(v, where, field)
    elif isinstance(value, dict):
        for v in value.values():
            _finite(v, where, field)


def _clean(record: dict[str, Any], default_split: str | None, where: str) -> dict[str, Any]:
    row = {key: value for key, value in record.items() if value is not None}
    for key, value in row.items():
        _finite(value, where, key)
    aliases = row.get("aliases")
    if isinstance(aliases, str):
        row["aliases"] = [a.strip() for a in aliases.split("|") if a.strip()]
    if default_split is not None and row.get("split") in (None, ""):
        row["split"] = default_split
    return row


def hf_rows(folder: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows of the dataset saved in ``folder``, numbered from 1 across all its splits.

    Raises:
        MissingDependencyError: The ``datasets`` package is not installed.
        DataError: ``folder`` does not hold a saved ``Dataset`` or ``DatasetDict``, the
            dataset has no rows, or a value is NaN or infinite (``FOLDER:ROW: reason``).
    """
    parts = _load_from_disk(folder)
    number = 0
    for default_split, dataset in parts:
        _log.debug("reading %d rows from %s", len(dataset), folder)
        records = iter(dataset)
        while True:
            try:
                record = next(records, None)
            except Exception as exc:  # a damaged Arrow file fails only when read
                raise DataError(f"{folder}: cannot read its rows ({_reason(exc)})") from exc
            if record is None:
                break
            number += 1
            yield number, _clean(dict(record), default_split, f"{folder}:{number}")
    if number == 0:
        raise DataError(f"{folder}: the saved dataset has no rows")
