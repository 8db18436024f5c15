"""Build the prompt kinds of alignkit's general pack from the sources in general_pack_src/.

Writes ``benign.jsonl``, ``benign_alarming.jsonl``, ``harmful.jsonl``,
``nonexistent_entities.jsonl`` and ``calibration.jsonl``. Every item was written by the
alignkit authors (none is taken from a published dataset); the safe-but-alarming
prompts follow the ten prompt types of XSTest's design, and the harmful contrast
prompts state a request only, never how to carry it out.

Ids name the item's type (``ba-homonym-003``) or category (``harm-cyber-011``). Splits are
assigned per kind by a salted hash of the id: the 30 % with the lowest hash are heldout.
Running the script twice gives byte-identical files
(``tests/scoring/test_classifier_pack.py`` checks the shipped ones). ``build_general_pack.py``
(facts, arithmetic, ``pack.json``) is left unchanged and does not touch these files.

Usage::

    python scripts/build_general_pack_prompts.py            # rewrite the shipped files
    python scripts/build_general_pack_prompts.py --out DIR  # write somewhere else
"""

from __future__ import annotations

import argparse
import hashlib
from collections import Counter
from pathlib import Path

from alignkit.data import (
    BenignAlarmingItem,
    BenignItem,
    CalibrationItem,
    HarmfulItem,
    Item,
    NonexistentEntityItem,
    Split,
    write_jsonl,
)

SRC_DIR = Path(__file__).resolve().parent / "general_pack_src"
PACK_DIR = Path(__file__).resolve().parents[1] / "src" / "alignkit" / "data" / "packs" / "general"
HELDOUT_SHARE = 0.3
SPLIT_SALT = "alignkit-general-prompts-v1"


def _rows(name: str) -> list[list[str]]:
    """Non-comment lines of a source file, split on tabs."""
    text = (SRC_DIR / name).read_text(encoding="utf-8")
    return [
        line.split("\t") for line in text.splitlines() if line.strip() and not line.startswith("#")
    ]


def _with_splits(items: list[Item]) -> list[Item]:
    def rank(key: str) -> int:
        digest = hashlib.sha256(f"{SPLIT_SALT}:{key}".encode()).digest()
        return int.from_bytes(digest[:8], "big")

    n_heldout = round(HELDOUT_SHARE * len(items))
    heldout = set(sorted((i.id for i in items), key=rank)[:n_heldout])
    return [
        i.model_copy(update={"split": Split.HELDOUT if i.id in heldout else Split.TRAIN})
        for i in items
    ]


def _numbered(prefix: str, groups: list[str]) -> list[str]:
    """``prefix-group-NNN`` ids, numbered within each group in file order."""
    seen: Counter[str] = Counter()
    ids = []
    for group in groups:
        seen[group] += 1
        ids.append(f"{prefix}-{group}-{seen[group]:03d}")
    return ids


def build_benign_alarming() -> list[Item]:
    """Safe prompts that look alarming, one id per XSTest-style type."""
    rows = _rows("benign_alarming.tsv")
    ids = _numbered("ba", [kind for kind, _ in rows])
    return _with_splits(
        [BenignAlarmingItem(id=i, prompt=prompt) for i, (_, prompt) in zip(ids, rows, strict=True)]
    )


def build_harmful() -> list[Item]:
    """Unsafe contrast requests with their harm category."""
    rows = _rows("harmful.tsv")
    ids = _numbered("harm", [category for category, _ in rows])
    return _with_splits(
        [
            HarmfulItem(id=i, category=category, prompt=prompt)
            for i, (category, prompt) in zip(ids, rows, strict=True)
        ]
    )


def build_benign() -> list[Item]:
    """Everyday requests."""
    rows = _rows("benign.txt")
    return _with_splits(
        [BenignItem(id=f"benign-{n:03d}", prompt=row[0]) for n, row in enumerate(rows, 1)]
    )


def build_nonexistent() -> list[Item]:
    """Questions about entities invented for the pack."""
    rows = _rows("nonexistent_entities.tsv")
    return _with_splits(
        [
            NonexistentEntityItem(id=f"ne-{n:03d}", entity=entity, question=question)
            for n, (entity, question) in enumerate(rows, 1)
        ]
    )


def build_calibration() -> list[Item]:
    """Checkable facts that a small model gets right only sometimes."""
    rows = _rows("calibration.tsv")
    items: list[Item] = []
    for n, (question, answer, aliases) in enumerate(rows, 1):
        alias_list = tuple(a.strip() for a in aliases.split("|") if a.strip())
        items.append(
            CalibrationItem(id=f"cal-{n:03d}", question=question, answer=answer, aliases=alias_list)
        )
    return _with_splits(items)


def build_prompt_kinds(out: Path) -> dict[str, int]:
    """Write the five prompt kinds into ``out``; returns rows written per file."""
    out.mkdir(parents=True, exist_ok=True)
    plan = {
        "benign": build_benign,
        "benign_alarming": build_benign_alarming,
        "harmful": build_harmful,
        "nonexistent_entities": build_nonexistent,
        "calibration": build_calibration,
    }
    return {kind: write_jsonl(fn(), out / f"{kind}.jsonl") for kind, fn in plan.items()}


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PACK_DIR, help="output folder")
    args = parser.parse_args()
    build_prompt_kinds(args.out)


if __name__ == "__main__":
    main()
