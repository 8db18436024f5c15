from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

from alignkit.data import ArithmeticItem, FactItem, Split, general_pack_path, load_pack

ROOT = Path(__file__).resolve().parents[2]


def _build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_general_pack", ROOT / "scripts" / "build_general_pack.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_general_pack_ships_inside_the_package() -> None:
    path = general_pack_path()
    assert path.is_dir() and (path / "pack.json").is_file()
    assert path.parts[-4:] == ("alignkit", "data", "packs", "general")
    manifest = json.loads((path / "pack.json").read_text(encoding="utf-8"))
    assert manifest["name"] == "general" and manifest["schema_version"] == 1


def test_general_pack_sizes_and_splits() -> None:
    pack = load_pack(general_pack_path())
    counts = pack.counts()
    assert counts["facts"] >= 120 and counts["arithmetic"] >= 120
    for kind in ("facts", "arithmetic"):
        items = pack.items(kind)
        heldout = sum(1 for i in items if i.split is Split.HELDOUT)
        assert 0.25 <= heldout / len(items) <= 0.35, kind
        assert len({i.id for i in items}) == len(items)
        train = load_pack(general_pack_path(), split="train").items(kind)
        assert len(train) == len(items) - heldout


def test_general_pack_items_are_well_formed() -> None:
    pack = load_pack(general_pack_path())
    for fact in pack.items("facts"):
        assert isinstance(fact, FactItem)
        assert fact.question.endswith("?"), fact.id
        assert len(fact.answer.split()) <= 4, fact.id
        assert fact.answer not in fact.aliases, fact.id
    for item in pack.items("arithmetic"):
        assert isinstance(item, ArithmeticItem)
        assert str(int(item.answer)) == item.answer
    ops = {"+", "-", "×", "÷", "plus", "minus", "times", "divided"}
    seen = {op for item in pack.items("arithmetic") for op in ops if op in item.question.split()}
    assert seen >= {"+", "-", "×", "÷"}
    assert any(int(i.answer) < 0 for i in pack.items("arithmetic"))


def test_arithmetic_answers_are_correct() -> None:
    table = str.maketrans({"×": "*", "÷": "/"})
    for item in load_pack(general_pack_path()).items("arithmetic"):
        expr = item.question.translate(table)
        for word, sym in (("plus", "+"), ("minus", "-"), ("times", "*"), ("divided by", "/")):
            expr = expr.replace(word, sym)
        expr = "".join(c for c in expr if c in "0123456789+-*/ ")
        assert eval(expr) == int(item.answer), item.question  # noqa: S307 - digits and operators only


def test_build_script_reproduces_the_shipped_files_byte_for_byte(tmp_path: Path) -> None:
    _build_script().build(tmp_path)
    shipped = general_pack_path()
    for name in ("pack.json", "facts.jsonl", "arithmetic.jsonl"):
        assert (tmp_path / name).read_bytes() == (shipped / name).read_bytes(), name
