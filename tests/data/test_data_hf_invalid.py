"""Damaged or unusable ``save_to_disk`` folders: one-line data errors, never a crash."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from alignkit.core import DataError
from alignkit.data import load_pack

datasets = pytest.importorskip("datasets")
REPO = Path(__file__).resolve().parents[2]


def _facts(folder: Path, answers: list[object] | None = None) -> Path:
    answers = ["Paris", "4"] if answers is None else answers
    questions = [f"Q{i}?" for i in range(len(answers))]
    datasets.Dataset.from_dict({"question": questions, "answer": answers}).save_to_disk(
        str(folder / "facts.hf")
    )
    return folder / "facts.hf"


def test_a_dataset_without_rows_says_so(tmp_path: Path) -> None:
    hf = _facts(tmp_path / "empty", [])
    with pytest.raises(DataError, match="has no rows") as info:
        load_pack(tmp_path / "empty")
    assert str(hf) in str(info.value) and "\n" not in str(info.value)


def test_an_empty_split_of_a_dataset_dict_is_named(tmp_path: Path) -> None:
    parts = {
        "train": datasets.Dataset.from_dict({"question": ["Q?"], "answer": ["A"]}),
        "test": datasets.Dataset.from_dict({"question": [], "answer": []}),
    }
    datasets.DatasetDict(parts).save_to_disk(str(tmp_path / "facts.hf"))
    with pytest.raises(DataError, match="split 'test' has no rows"):
        load_pack(tmp_path)


@pytest.mark.parametrize(
    ("name", "content"),
    [("dataset_info.json", "[1, 2]"), ("state.json", "{}"), ("state.json", '{"_data_files": 3}')],
)
def test_damaged_metadata_is_one_data_error(tmp_path: Path, name: str, content: str) -> None:
    hf = _facts(tmp_path)
    (hf / name).write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match="not a dataset saved with save_to_disk") as info:
        load_pack(tmp_path)
    assert str(info.value).startswith(f"{hf}:") and "\n" not in str(info.value)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_values_are_refused_like_jsonl(tmp_path: Path, bad: float) -> None:
    hf = _facts(tmp_path, [1.5, bad])
    with pytest.raises(DataError) as info:
        load_pack(tmp_path)
    assert str(info.value) == f"{hf}:2: field 'answer': {bad} is out of range"
    jsonl = tmp_path / "j" / "facts.jsonl"
    jsonl.parent.mkdir()
    jsonl.write_text(json.dumps({"question": "Q?", "answer": bad}) + "\n")
    with pytest.raises(DataError, match="invalid JSON"):  # the JSONL reader refuses it too
        load_pack(jsonl.parent)


def test_finite_numbers_still_load(tmp_path: Path) -> None:
    _facts(tmp_path, [1.5, 2.0])
    assert [getattr(i, "answer", None) for i in load_pack(tmp_path).items("facts")] == [
        "1.5",
        "2.0",
    ]


def test_audit_cli_exits_2_on_an_empty_dataset(tmp_path: Path) -> None:
    hf = _facts(tmp_path / "pack", [])
    env = {
        **os.environ,
        "ALIGNKIT_STORE": f"sqlite:///{tmp_path / 'store.db'}",
        "PYTHONPATH": str(REPO),
    }
    cmd = [sys.executable, "-m", "alignkit", "audit", "--target"]
    cmd += ["python:examples.quiz_app:respond", "--checks", "capability.facts"]
    cmd += ["--data", str(tmp_path / "pack"), "--out", str(tmp_path / "out")]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    assert f"{hf}: the saved dataset has no rows" in proc.stderr
