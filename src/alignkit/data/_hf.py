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
import logging
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
    try:
        loaded = datasets.load_from_disk(str(folder))
    except (FileNotFoundError, ValueError, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{folder}: not a dataset saved with save_to_disk ({reason})") from exc
    if isinstance(loaded, datasets.DatasetDict):
        names = sorted(loaded)
        return [("train" if name == "train" else "heldout", loaded[name]) for name in names]
    if isinstance(loaded, datasets.Dataset):
        return [(None, loaded)]
    raise DataError(f"{folder}: expected a Dataset or DatasetDict, got {type(loaded).__name__}")


def _clean(record: dict[str, Any], default_split: str | None) -> dict[str, Any]:
    row = {key: value for key, value in record.items() if value is not None}
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
        DataError: ``folder`` does not hold a saved ``Dataset`` or ``DatasetDict``.
    """
    parts = _load_from_disk(folder)
    number = 0
    for default_split, dataset in parts:
        _log.debug("reading %d rows from %s", len(dataset), folder)
        for record in dataset:
            number += 1
            yield number, _clean(dict(record), default_split)
