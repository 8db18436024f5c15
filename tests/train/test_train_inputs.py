"""``alignkit train``: what the commands read is never what they write, checked before work."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.cli.cli_helpers import main_in_process

from alignkit.organism import pack_path

ORG = "organism:flawed"


def _main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code, _, err = main_in_process(capsys, *args)
    return code, err


def _one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_an_out_in_the_item_pack_is_refused_and_the_pack_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--data mp/facts.jsonl --out mp/facts.jsonl replaced the pack's items with pairs, exit 0;
    the target's default pack (inside the installed package) was no safer."""
    mp = tmp_path / "mp"
    shutil.copytree(pack_path(), mp)
    facts = mp / "facts.jsonl"
    before = facts.read_bytes()
    rm = tmp_path / "rm"
    cases = [
        ("train", "preferences", "--target", ORG, "--data", str(facts), "--out", str(facts)),
        ("train", "preferences", "--target", ORG, "--data", str(mp), "--out", str(facts)),
        ("train", "preferences", "--target", ORG, "--out", str(pack_path() / "p.jsonl")),
        ("train", "constitution", "--target", ORG, "--data", str(mp), "--out", str(mp / "c")),
        ("train", "constitution", "--target", ORG, "--out", str(pack_path() / "c")),
        ("train", "grpo", "--target", ORG, "--reward", str(rm), "--data", str(mp),
         "--out", str(mp / "g")),
        ("train", "bon", "--target", ORG, "--reward", str(rm), "--out", str(facts),
         "--data", str(mp)),
        ("train", "bon", "--target", ORG, "--reward", str(rm),
         "--out", str(pack_path() / "b.jsonl")),
    ]  # fmt: skip
    for args in cases:
        code, err = _main(capsys, *args)
        assert code == 2, (args, err)
        assert "being read" in _one_line(err) or "holds the" in err, (args, err)
    assert facts.read_bytes() == before
    assert sorted(p.name for p in mp.iterdir()) == sorted(p.name for p in pack_path().iterdir())
    assert not (pack_path() / "p.jsonl").exists() and not (pack_path() / "c").exists()


def test_a_folder_out_holding_an_input_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A checkpoint folder is replaced as a whole: a --pairs file inside it went with it."""
    ck = tmp_path / "ck"
    ck.mkdir()
    (ck / "train.json").write_text("{}")  # an earlier checkpoint: the command may replace it
    pairs = ck / "mine.jsonl"
    pairs.write_text('{"prompt": "hi", "chosen": "a", "rejected": "b"}\n')
    code, err = _main(capsys, "train", "dpo", "--target", ORG, "--pairs", str(pairs),
                      "--max-steps", "1", "--out", str(ck))  # fmt: skip
    assert code == 2 and "holds the --pairs #1 input" in _one_line(err)
    assert pairs.read_text().startswith('{"prompt"')


def test_malformed_pair_files_are_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad --import/--pairs row was found only after all the sampling (13 s and more):
    here the run is not even looked up before the file is read."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "hi", "chosen": "a", "rejected": "b"}\n{"prompt": "hi"}\n')
    out = tmp_path / "p.jsonl"
    for args in (
        ("train", "preferences", "--target", ORG, "--from-run", "no-such-run",
         "--import", str(bad), "--out", str(out)),
        ("train", "dpo", "--target", ORG, "--from-run", "no-such-run",
         "--pairs", str(bad), "--out", str(tmp_path / "d")),
    ):  # fmt: skip
        code, err = _main(capsys, *args)
        assert code == 2 and f"{bad}:2:" in _one_line(err), (args, err)
    assert not out.exists() and not (tmp_path / "d").exists()
