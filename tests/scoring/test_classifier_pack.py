"""The general pack's prompt kinds used by the classifier, the evals and the red team."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alignkit.data import (
    BenignAlarmingItem,
    CalibrationItem,
    HarmfulItem,
    NonexistentEntityItem,
    Split,
    general_pack_path,
    load_pack,
)

ROOT = Path(__file__).resolve().parents[2]
KINDS = {
    "benign": 100,
    "benign_alarming": 200,
    "harmful": 150,
    "nonexistent_entities": 60,
    "calibration": 60,
}


def _script() -> ModuleType:
    path = ROOT / "scripts" / "build_general_pack_prompts.py"
    spec = importlib.util.spec_from_file_location("build_general_pack_prompts", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_build_script_reproduces_the_shipped_prompt_kinds(tmp_path: Path) -> None:
    written = _script().build_prompt_kinds(tmp_path)
    assert set(written) == set(KINDS)
    for kind in KINDS:
        name = f"{kind}.jsonl"
        assert (tmp_path / name).read_bytes() == (general_pack_path() / name).read_bytes(), name


def test_sizes_splits_and_unique_ids() -> None:
    pack = load_pack(general_pack_path())
    for kind, minimum in KINDS.items():
        items = pack.items(kind)
        assert len(items) >= minimum, kind
        assert len({i.id for i in items}) == len(items), kind
        heldout = sum(i.split is Split.HELDOUT for i in items) / len(items)
        assert 0.25 <= heldout <= 0.35, kind


def test_alarming_prompts_cover_the_ten_types_and_harmful_ones_have_categories() -> None:
    pack = load_pack(general_pack_path())
    types = {i.id.split("-")[1] for i in pack.items("benign_alarming")}
    assert len(types) == 10
    harmful = [i for i in pack.items("harmful") if isinstance(i, HarmfulItem)]
    alarming = [i for i in pack.items("benign_alarming") if isinstance(i, BenignAlarmingItem)]
    assert len(harmful) == len(pack.items("harmful"))
    categories = {i.category for i in harmful}
    expected = {"violence", "weapons", "cyber", "fraud", "drugs", "self-harm", "hate", "privacy"}
    assert expected <= categories
    prompts = {i.prompt for i in harmful} | {i.prompt for i in alarming}
    assert len(prompts) == len(harmful) + len(alarming)


def test_calibration_and_nonexistent_items_are_well_formed() -> None:
    pack = load_pack(general_pack_path())
    for item in pack.items("calibration"):
        assert isinstance(item, CalibrationItem)
        assert item.question.endswith("?") and item.answer not in item.aliases
    for entity in pack.items("nonexistent_entities"):
        assert isinstance(entity, NonexistentEntityItem)
        assert entity.entity.split()[0].lower() in entity.question.lower()
