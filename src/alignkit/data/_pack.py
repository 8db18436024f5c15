"""Item packs on disk: loading, validation, the shipped general pack, writing JSONL.

A pack is a folder holding an optional ``pack.json`` (``{"name", "schema_version",
"description"}``) and one ``<kind>.jsonl`` or ``<kind>.csv`` file, or one ``<kind>.hf``
folder (a Hugging Face ``datasets`` dataset written by ``save_to_disk``, see
:mod:`._hf`), per item kind (:data:`~alignkit.data.ITEM_KINDS`). Rules the loader applies:

- A ``.jsonl`` or ``.csv`` file, or ``.hf`` folder, whose stem is not a known kind is an
  error naming the known kinds, so a misspelt ``fact.jsonl`` fails loudly instead of
  silently leaving a check without items. Everything else (``README.md``, hidden files,
  other folders) is ignored with a debug log, except a file named after a kind with
  another suffix (``facts.json``, ``facts.tsv``), which is an error.
- Without ``pack.json`` the pack is named after its folder, so a folder holding only a
  traffic log's ``prompts.jsonl`` is a pack. A single ``.jsonl``/``.csv`` file or
  ``.hf`` folder is a pack too, of the kind its stem names.
- In CSV files the first row names the fields and ``aliases`` are separated by ``|``;
  empty cells count as absent.
- A row without an ``id`` gets ``<kind>-<line>``; a row without a ``split`` is heldout.
  Ids must be unique within a kind.
- Errors are one line, ``FILE:LINE: field 'answer' missing``.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alignkit.core import ConfigError, DataError
from alignkit.data._hf import HF_SUFFIX, hf_rows
from alignkit.data._items import ITEM_KINDS, Item, SplitSelector
from alignkit.data._rows import read_rows

__all__ = [
    "SCHEMA_VERSION",
    "ItemPack",
    "PackManifest",
    "general_pack_path",
    "load_pack",
    "write_jsonl",
]

SCHEMA_VERSION = 1
"""The newest pack schema this alignkit reads."""

_SUFFIXES = (".jsonl", ".csv")
_SPLITS = ("train", "heldout", "all")
_log = logging.getLogger(__name__)


class PackManifest(BaseModel):
    """The contents of ``pack.json``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str = Field(default="", description="Pack name; defaults to the folder name.")
    schema_version: int = Field(default=SCHEMA_VERSION, ge=1)
    description: str = ""


class ItemPack:
    """Items by kind, filtered to one split; satisfies core's ``ItemSource`` protocol."""

    def __init__(
        self,
        name: str,
        path: Path,
        items: Mapping[str, Sequence[Item]],
        *,
        description: str = "",
        schema_version: int = SCHEMA_VERSION,
        split: SplitSelector = "all",
    ) -> None:
        _check_split(split)
        self.name = name
        self.path = path
        self.description = description
        self.schema_version = schema_version
        self.split: SplitSelector = split
        self._all = {kind: tuple(rows) for kind, rows in items.items()}
        self._items = {
            kind: tuple(r for r in rows if split == "all" or r.split == split)
            for kind, rows in sorted(self._all.items())
        }

    def kinds(self) -> tuple[str, ...]:
        """Kinds with at least one item in the selected split, sorted."""
        return tuple(kind for kind, rows in self._items.items() if rows)

    def items(self, kind: str) -> tuple[Item, ...]:
        """Items of ``kind`` in the selected split, in file order; empty if the pack has none.

        Raises:
            ConfigError: ``kind`` is not a known item kind (a typo in the caller).
        """
        if kind not in ITEM_KINDS:
            raise ConfigError(f"unknown item kind '{kind}'{_known_kinds_hint(kind)}")
        return self._items.get(kind, ())

    def counts(self) -> dict[str, int]:
        """Number of items per kind in the selected split (kinds without items omitted)."""
        return {kind: len(rows) for kind, rows in self._items.items() if rows}

    def digest(self) -> str:
        """A hash of every item of every split (not the pack's name or path).

        Two loads of unchanged files give the same digest; editing, adding or removing an
        item changes it, so a resumed run can tell that its pack changed underneath it.
        """
        h = hashlib.sha256()
        for kind, rows in sorted(self._all.items()):
            for row in rows:
                line = json.dumps([kind, row.model_dump(mode="json")], sort_keys=True)
                h.update(line.encode("utf-8") + b"\n")
        return h.hexdigest()[:16]

    def select(self, split: SplitSelector) -> ItemPack:
        """The same pack filtered to another split."""
        return ItemPack(
            self.name,
            self.path,
            self._all,
            description=self.description,
            schema_version=self.schema_version,
            split=split,
        )

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={n}" for k, n in self.counts().items())
        return f"ItemPack({self.name!r}, split={self.split!r}, {counts})"


def load_pack(path: str | os.PathLike[str], split: SplitSelector = "all") -> ItemPack:
    """Load and validate the pack at ``path``: a folder, or one item file or ``.hf`` folder.

    Args:
        path: A pack folder, a single item file whose stem is its kind, or a ``<kind>.hf``
            folder holding a dataset saved with ``datasets``' ``save_to_disk``.
        split: Keep ``train`` items, ``heldout`` items, or ``all``.

    Raises:
        DataError: The pack is missing or malformed (one line, naming file, line and field).
        ConfigError: ``split`` is not ``train``, ``heldout`` or ``all``.
        MissingDependencyError: The pack holds a ``.hf`` folder and ``datasets`` is not
            installed.
    """
    _check_split(split)
    root = Path(path)
    if root.is_file() or _is_hf(root):
        kind = _kind_of(root)
        items = {kind: _read_items(root, kind)}
        return ItemPack(root.stem, root, items, split=split)
    if not root.is_dir():
        raise DataError(f"no item pack at {root}: not a folder or a .jsonl/.csv file")
    manifest = _read_manifest(root / "pack.json")
    files = _item_files(root)
    if not files:
        raise DataError(
            f"{root}: no item files; expected <kind>.jsonl or <kind>.csv with kind one of "
            + ", ".join(ITEM_KINDS)
        )
    items = {kind: _read_items(file, kind) for kind, file in files.items()}
    return ItemPack(
        manifest.name or root.resolve().name,
        root,
        items,
        description=manifest.description,
        schema_version=manifest.schema_version,
        split=split,
    )


def general_pack_path() -> Path:
    """The folder of the general pack shipped inside the ``alignkit`` package."""
    path = Path(str(resources.files("alignkit.data").joinpath("packs", "general")))
    if not (path / "pack.json").is_file():
        raise DataError(f"the shipped general pack is missing from this installation ({path})")
    return path


def write_jsonl(items: Iterable[BaseModel], path: str | os.PathLike[str]) -> int:
    """Write ``items`` to ``path`` as JSONL (UTF-8, Unix line ends), atomically.

    Keys come in the order ``id``, the kind's own fields, ``split``, so the same items
    always produce the same bytes. Returns the number of rows written.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps(_ordered(item.model_dump(mode="json")), ensure_ascii=False) for item in items
    ]
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write("".join(line + "\n" for line in lines))
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(lines)


def _ordered(row: dict[str, Any]) -> dict[str, Any]:
    head = {"id": row.pop("id")} if "id" in row else {}
    tail = {"split": row.pop("split")} if "split" in row else {}
    return {**head, **row, **tail}


def _check_split(split: str) -> None:
    if split not in _SPLITS:
        raise ConfigError(f"unknown split '{split}': expected one of {', '.join(_SPLITS)}")


def _known_kinds_hint(kind: str) -> str:
    close = difflib.get_close_matches(kind, list(ITEM_KINDS), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f" (known kinds: {', '.join(ITEM_KINDS)}){hint}"


def _is_hf(entry: Path) -> bool:
    return entry.suffix.lower() == HF_SUFFIX and entry.is_dir()


def _kind_of(file: Path) -> str:
    if file.suffix.lower() not in _SUFFIXES and not _is_hf(file):
        raise DataError(f"{file}: an item file must end in .jsonl or .csv (or be a .hf folder)")
    if file.stem not in ITEM_KINDS:
        raise DataError(f"{file}: unknown item kind '{file.stem}'{_known_kinds_hint(file.stem)}")
    return file.stem


def _item_files(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for entry in sorted(root.iterdir()):
        if entry.name == "pack.json":
            continue
        if entry.name.startswith(".") or not (entry.is_file() or _is_hf(entry)):
            _log.debug("pack %s: ignoring %s", root, entry.name)
            continue
        if entry.suffix.lower() not in _SUFFIXES and not _is_hf(entry):
            if entry.stem.lower() in ITEM_KINDS:  # facts.json, facts.tsv: meant as items
                raise DataError(
                    f"{entry}: item files are <kind>.jsonl or <kind>.csv (or a <kind>.hf"
                    " folder); rename or convert it"
                )
            _log.debug("pack %s: ignoring %s (not .jsonl or .csv)", root, entry.name)
            continue
        kind = _kind_of(entry)
        if kind in found:
            raise DataError(
                f"{root}: both {found[kind].name} and {entry.name} hold kind '{kind}'; keep one"
            )
        found[kind] = entry
    return found


def _read_manifest(file: Path) -> PackManifest:
    if not file.exists():
        return PackManifest()
    try:
        raw = json.loads(file.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{file}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{file}: cannot read: {exc}") from exc
    if not isinstance(raw, dict):
        raise DataError(f"{file}: expected a JSON object")
    try:
        manifest = PackManifest.model_validate(raw)
    except ValidationError as exc:
        raise DataError(f"{file}: {_describe(exc)}") from None
    if manifest.schema_version > SCHEMA_VERSION:
        raise DataError(
            f"{file}: schema_version {manifest.schema_version} is newer than this alignkit"
            f" reads ({SCHEMA_VERSION}); upgrade alignkit"
        )
    return manifest


def _read_items(file: Path, kind: str) -> tuple[Item, ...]:
    model = ITEM_KINDS[kind]
    if _is_hf(file):
        rows = hf_rows(file)
    else:
        needed = [n for n, info in model.model_fields.items() if info.is_required() and n != "id"]
        rows = read_rows(file, needed)
    seen: dict[str, int] = {}
    items: list[Item] = []
    try:
        for line, row in rows:
            if isinstance(row.get("aliases"), str) and file.suffix.lower() == ".csv":
                row["aliases"] = [a.strip() for a in row["aliases"].split("|") if a.strip()]
            if row.get("id") in (None, ""):
                row["id"] = f"{kind}-{line}"
            try:
                item = model.model_validate(row)
            except ValidationError as exc:
                raise DataError(f"{file}:{line}: {_describe(exc)}") from None
            if item.id in seen:
                raise DataError(
                    f"{file}:{line}: duplicate id '{item.id}' (first on line {seen[item.id]})"
                )
            seen[item.id] = line
            items.append(item)
    except UnicodeDecodeError as exc:
        raise DataError(f"{file}: not UTF-8 text ({exc.reason})") from exc
    except csv.Error as exc:
        raise DataError(f"{file}: unreadable CSV: {exc}") from None
    except OSError as exc:
        raise DataError(f"{file}: cannot read: {exc}") from exc
    return tuple(items)


def _describe(exc: ValidationError) -> str:
    errors = exc.errors()
    first = errors[0]
    field = ".".join(str(part) for part in first["loc"]) or "row"
    if first["type"] == "missing":
        text = f"field '{field}' missing"
    else:
        text = f"field '{field}': {first['msg']}"
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more)"
    return text
