"""The ``alignkit train`` commands, run as a user runs them (subprocess, real organism)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.cli.cli_helpers import main_in_process

from alignkit.core import ConfigError, TargetError
from alignkit.train import read_pairs, read_sft

REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ALIGNKIT_LOG": "ERROR", "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "alignkit", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_preferences_imports_human_labels(tmp_path: Path) -> None:
    src = tmp_path / "labels.csv"
    src.write_text("prompt,chosen,rejected,failure_mode\nq?,good,bad,sycophancy\nq?,good,bad,\n")
    out = tmp_path / "pairs.jsonl"
    proc = _cli("train", "preferences", "--import", str(src), "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["pairs"] == 1  # the duplicate row is dropped
    (pair,) = read_pairs(out)
    assert pair.source == "human:labels.csv" and pair.failure_mode == "sycophancy"


def test_preferences_never_replace_a_pairs_file_with_nothing(tmp_path: Path) -> None:
    """An import that gave no pair replaced the earlier pairs with an empty file, exit 0;
    a write that failed part-way left a truncated file in place of the earlier one."""
    from alignkit.core import DataError
    from alignkit.train import write_jsonl_models

    src, out = tmp_path / "labels.csv", tmp_path / "pairs.jsonl"
    src.write_text("prompt,chosen,rejected\nq?,good,bad\n")
    assert _cli("train", "preferences", "--import", str(src), "--out", str(out)).returncode == 0
    before = out.read_bytes()
    src.write_text("prompt,chosen,rejected\nq?,same,same\n")  # dropped: nothing left
    proc = _cli("train", "preferences", "--import", str(src), "--out", str(out))
    assert proc.returncode == 2 and "no preference pairs were built" in proc.stderr
    assert out.read_bytes() == before

    def rows() -> Iterator[Any]:
        yield from read_pairs(out)
        raise OSError(28, "No space left on device")

    with pytest.raises(DataError, match="No space left on device"):
        write_jsonl_models(rows(), out)
    assert out.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == [
        "labels.csv", "pairs.jsonl"]  # fmt: skip


def test_constitution_with_the_rule_critic_on_the_organism(tmp_path: Path) -> None:
    out = tmp_path / "cai"
    proc = _cli(
        "train", "constitution", "--target", "organism:flawed", "--critic", "rule",
        "--max-per-kind", "3", "--out", str(out), "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["critic"] == "rule" and summary["responses"] > 0
    sft, pairs = read_sft(out / "sft.jsonl"), read_pairs(out / "pairs.jsonl")
    assert len(sft) == summary["sft"] and len(pairs) == summary["pairs"] <= summary["revised"]
    assert all(p.critic == "rule" and p.principle for p in pairs)
    by = summary["by_sample"] + summary["by_donor"] + summary["by_rewrite"]
    assert summary["revised"] == by


def test_unknown_critic_scheme_is_one_line_exit_2(tmp_path: Path) -> None:
    proc = _cli(
        "train", "constitution", "--target", "organism:flawed", "--critic", "nope:x",
        "--out", str(tmp_path / "c"),
    )  # fmt: skip
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "nope" in lines[0]


def _main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code, _, err = main_in_process(capsys, *args)
    return code, err


def test_dpo_refuses_non_finite_settings_and_a_folder_of_other_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--beta nan trained a checkpoint of NaN weights (exit 0); an existing folder lost its
    files to the checkpoint's pack/."""
    pairs = tmp_path / "p.jsonl"
    pairs.write_text('{"prompt": "hi", "chosen": "a", "rejected": "b"}\n')
    base = ("train", "dpo", "--target", "organism:flawed", "--pairs", str(pairs),
            "--max-steps", "1", "--batch-size", "1")  # fmt: skip
    for option in (("--beta", "nan"), ("--lr", "inf"), ("--sft-weight", "nan")):
        code, err = _main(capsys, *base, *option, "--out", str(tmp_path / "d"))
        assert code == 2 and "finite" in err, (option, err)
    project = tmp_path / "project"
    (project / "pack").mkdir(parents=True)
    (project / "pack" / "NOTES.md").write_text("mine")
    code, err = _main(capsys, *base, "--out", str(project))
    assert code == 2 and "other files in it" in err
    assert (project / "pack" / "NOTES.md").read_text() == "mine"
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    code, err = _main(capsys, *base, "--out", str(blocker / "sub"))
    assert code == 2 and "cannot be created" in err
    assert not (tmp_path / "d").exists()


def test_constitution_and_reward_replace_their_own_earlier_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second run into the same --out was refused ("other files in it"), so the docs'
    examples failed the second time; an interrupted reward run left members with no
    ensemble.json, which no later run could replace."""
    out = tmp_path / "cai"
    args = ("train", "constitution", "--target", "organism:flawed", "--max-per-kind", "1",
            "--out", str(out))  # fmt: skip
    for _ in range(2):
        code, err = _main(capsys, *args)
        assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["pairs.jsonl", "sft.jsonl", "summary.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["cai"]  # no staging folder left behind
    (out / "notes.txt").write_text("mine")
    code, err = _main(capsys, *args)
    assert code == 2 and "other files in it" in err

    from alignkit.train import CHECKPOINT_OUTPUT, REWARD_OUTPUT

    half = tmp_path / "rm"
    (half / "member-0").mkdir(parents=True)  # what an interrupted run used to leave
    REWARD_OUTPUT.check(half)
    with pytest.raises(ConfigError, match="other files"):
        REWARD_OUTPUT.check(out)
    checkpoint = tmp_path / "ckpt"  # another command's output is not this one's to replace
    checkpoint.mkdir()
    (checkpoint / "alignkit.json").write_text("{}")
    (checkpoint / "train.json").write_text("{}")
    (checkpoint / "model.safetensors").write_text("weights")
    code, err = _main(capsys, *args[:-1], str(checkpoint))
    assert code == 2 and "other files in it" in err
    assert (checkpoint / "model.safetensors").read_text() == "weights"
    CHECKPOINT_OUTPUT.check(checkpoint)
    # a trained organism has alignkit.json too, but is no checkpoint to replace: a DPO run
    # deleted its manifest
    from alignkit.organism import weights_path

    with pytest.raises(ConfigError, match="other files"):
        CHECKPOINT_OUTPUT.check(weights_path("clean"))


def test_training_into_the_base_checkpoint_is_refused_before_any_work() -> None:
    """It was refused only after training (minutes of lost work by default)."""
    from alignkit.cli._train import _not_the_base
    from alignkit.organism import weights_path

    with pytest.raises(ConfigError, match="is the base checkpoint itself"):
        _not_the_base(weights_path("flawed"), "organism:flawed")
    with pytest.raises(TargetError, match="not a local transformers checkpoint"):
        _not_the_base(Path("x"), f"python:{Path(__file__).with_name('critic_app.py')}:critic")


def test_preference_outputs_and_inputs_are_checked_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--out x.csv got JSONL that --pairs then misread; a bad --pairs name was refused
    only after the pairs were built; --pack-samples -1 gave 0 pairs."""
    code, err = _main(capsys, "train", "preferences", "--out", str(tmp_path / "x.csv"))
    assert code == 2 and "written as .jsonl" in err
    bad, d = str(tmp_path / "bad.txt"), str(tmp_path / "d")
    code, err = _main(capsys, "train", "dpo", "--target", "organism:flawed", "--from-run", "R",
                      "--pairs", bad, "--out", d)  # fmt: skip
    assert code == 2 and "must be .jsonl or .csv" in err
    code, err = _main(capsys, "train", "preferences", "--pack-samples", "-1",
                      "--out", str(tmp_path / "p.jsonl"))  # fmt: skip
    assert code == 2 and "'--pack-samples'" in err
