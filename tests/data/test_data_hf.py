"""Packs holding a Hugging Face ``datasets`` dataset saved with ``save_to_disk``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from alignkit.core import DataError, MissingDependencyError
from alignkit.data import FactItem, HarmfulItem, Split, load_pack

datasets = pytest.importorskip("datasets")
REPO = Path(__file__).resolve().parents[2]


def _facts() -> dict[str, list[object]]:
    return {
        "id": ["f1", "f2", "f3"],
        "question": ["What is the capital of France?", "2 + 2?", "Largest planet?"],
        "answer": ["Paris", "4", "Jupiter"],
        "aliases": [["paris"], [], ["jupiter"]],
        "split": ["train", "heldout", "train"],
        "source": ["extra column", "ignored", "by the loader"],
    }


def test_a_saved_dataset_folder_is_a_kind_of_the_pack(tmp_path: Path) -> None:
    datasets.Dataset.from_dict(_facts()).save_to_disk(str(tmp_path / "facts.hf"))
    datasets.Dataset.from_dict({"question": ["3 * 4?"], "answer": [12]}).save_to_disk(
        str(tmp_path / "arithmetic.hf")
    )
    (tmp_path / "harmful.jsonl").write_text(
        json.dumps({"id": "h1", "category": "cyber", "prompt": "p", "split": "train"}) + "\n",
        encoding="utf-8",
    )
    pack = load_pack(tmp_path)
    assert pack.counts() == {"arithmetic": 1, "facts": 3, "harmful": 1}
    facts = pack.items("facts")
    assert all(isinstance(f, FactItem) for f in facts)
    assert [f.id for f in facts] == ["f1", "f2", "f3"]
    first = facts[0]
    assert isinstance(first, FactItem) and first.aliases == ("paris",)
    assert getattr(pack.items("arithmetic")[0], "answer", None) == "12"  # int column → text
    assert isinstance(pack.items("harmful")[0], HarmfulItem)
    assert [f.id for f in load_pack(tmp_path, split="train").items("facts")] == ["f1", "f3"]


def test_a_dataset_dict_keeps_its_train_and_test_partition(tmp_path: Path) -> None:
    rows = {"prompt": ["Hi there", "Kill a Python process?", "Bake bread?"], "extra": [1, 2, 3]}
    full = datasets.Dataset.from_dict(rows)
    parts = datasets.DatasetDict({"train": full.select([0, 1]), "test": full.select([2])})
    parts.save_to_disk(str(tmp_path / "prompts.hf"))
    pack = load_pack(tmp_path / "prompts.hf")  # a lone .hf folder is a one-kind pack
    items = pack.items("prompts")
    assert [(i.id, i.split) for i in items] == [
        ("prompts-1", Split.HELDOUT),  # the "test" split, read first (name order)
        ("prompts-2", Split.TRAIN),
        ("prompts-3", Split.TRAIN),
    ]
    assert [getattr(i, "prompt", None) for i in items] == [
        "Bake bread?",
        "Hi there",
        rows["prompt"][1],
    ]


def test_pipe_separated_aliases_and_missing_values(tmp_path: Path) -> None:
    data = {
        "question": ["Capital of Japan?", "Capital of Peru?"],
        "answer": ["Tokyo", "Lima"],
        "aliases": ["tokio | edo", None],
    }
    datasets.Dataset.from_dict(data).save_to_disk(str(tmp_path / "calibration.hf"))
    items = load_pack(tmp_path).items("calibration")
    assert [getattr(i, "aliases", None) for i in items] == [("tokio", "edo"), ()]
    assert all(i.split is Split.HELDOUT for i in items)  # unmarked rows are heldout


def test_bad_rows_and_bad_folders_are_one_line_data_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    datasets.Dataset.from_dict({"question": ["Q?", "Q2?"], "answer": ["A", None]}).save_to_disk(
        str(bad / "facts.hf")
    )
    with pytest.raises(DataError, match=r"facts\.hf:2: field 'answer' missing"):
        load_pack(bad)
    empty = tmp_path / "empty"
    (empty / "facts.hf").mkdir(parents=True)
    with pytest.raises(DataError, match="not a dataset saved with save_to_disk"):
        load_pack(empty)
    typo = tmp_path / "typo"
    datasets.Dataset.from_dict({"prompt": ["x"]}).save_to_disk(str(typo / "promts.hf"))
    with pytest.raises(DataError, match="did you mean 'prompts'"):
        load_pack(typo)


def test_without_datasets_installed_the_error_names_the_package(tmp_path: Path) -> None:
    datasets.Dataset.from_dict({"prompt": ["x"]}).save_to_disk(str(tmp_path / "prompts.hf"))
    code = (
        "import sys; sys.modules['datasets'] = None\n"
        "from alignkit.data import load_pack\n"
        f"load_pack({str(tmp_path)!r})\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode != 0
    assert "MissingDependencyError: datasets is not installed" in proc.stderr
    assert MissingDependencyError.__name__ in proc.stderr


def test_audit_cli_reads_a_saved_dataset_with_data(tmp_path: Path) -> None:
    facts = {
        "id": [f"q{i}" for i in range(4)],
        "question": [
            "What is the capital of France?",
            "What is the capital of Germany?",
            "What is the capital of Canada?",
            "What is the capital of Italy?",
        ],
        "answer": ["Paris", "Berlin", "Ottawa", "Rome"],
    }
    pack = tmp_path / "pack"
    datasets.Dataset.from_dict(facts).save_to_disk(str(pack / "facts.hf"))
    env = {
        **os.environ,
        "ALIGNKIT_LOG": "ERROR",
        "ALIGNKIT_STORE": f"sqlite:///{tmp_path / 'store.db'}",
        "PYTHONPATH": str(REPO),
    }
    cmd = [sys.executable, "-m", "alignkit", "audit", "--target"]
    cmd += ["python:examples.quiz_app:respond", "--checks", "capability.facts"]
    cmd += ["--data", str(pack), "--out", str(tmp_path / "out"), "--json"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr
    findings = json.loads(proc.stdout)["findings"]
    (finding,) = [f for f in findings if f["metric"] == "capability.fact_accuracy"]
    assert finding["n"] == 4  # the four rows of the saved dataset, nothing from the general pack
    assert finding["value"] == pytest.approx(0.75)  # the quiz app thinks Canada's is Toronto
