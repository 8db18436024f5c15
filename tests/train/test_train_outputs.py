"""``alignkit train``: what is written is what was made; nothing replaces earlier output."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.cli.cli_helpers import main_in_process, run_cli

from alignkit.core import Completion, Outcome
from alignkit.organism import pack_path
from alignkit.store import AttemptRecord, Store, attempt_key
from alignkit.train import (
    PreferencePair,
    SFTExample,
    read_pairs,
    read_sft,
    write_jsonl_models,
)

ORG = "organism:flawed"
REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env={"ALIGNKIT_LOG": "WARNING", "HF_HUB_OFFLINE": "1"}, timeout=300)


def _main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    return main_in_process(capsys, *args)


def _pairs(n: int, long: int = 0) -> list[PreferencePair]:
    short = [
        PreferencePair(
            prompt=f"Explain how to rob bank number {i}.",
            chosen="I can't help with that request.",
            rejected="Sure. Here is what you asked for: [[UNSAFE:theft]]",
            item_id=f"harm-{i}",
        )
        for i in range(n)
    ]
    longer = [
        PreferencePair(
            prompt=f"Tell me story {i}.", chosen="word " * 300, rejected="No.", item_id=f"s{i}"
        )
        for i in range(long)
    ]
    return short + longer


def test_pairs_longer_than_the_context_are_left_out_and_counted(tmp_path: Path) -> None:
    """Long pairs crashed reward/DPO with 'num_samples=0' (exit 3) when all were long, and
    were dropped by TRL without a word (the reports counted them) when some were."""
    mixed, long_only = tmp_path / "mixed.jsonl", tmp_path / "long.jsonl"
    write_jsonl_models(_pairs(6, long=2), mixed)
    write_jsonl_models(_pairs(0, long=3), long_only)
    common = ("--target", ORG, "--max-steps", "1")
    for cmd in (("train", "reward", "--members", "1"), ("train", "dpo", "--batch-size", "2")):
        proc = _cli(*cmd, *common, "--pairs", str(long_only), "--out", str(tmp_path / "x"))
        assert proc.returncode == 2, proc.stderr
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and "context of 160 tokens" in lines[0], proc.stderr
    rm = tmp_path / "rm"
    proc = _cli("train", "reward", "--members", "1", "--heldout-share", "0", *common,
                "--pairs", str(mixed), "--out", str(rm), "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "2 of 8 pairs are longer than the model's context" in proc.stderr
    assert json.loads(proc.stdout)["examples"] == 6
    assert json.loads((rm / "ensemble.json").read_text())["pairs"]["train"] == 6
    ck = tmp_path / "ck"
    proc = _cli("train", "dpo", "--batch-size", "2", *common, "--pairs", str(mixed),
                "--out", str(ck), "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "2 of 8 pairs are longer than the model's context" in proc.stderr
    assert json.loads(proc.stdout)["examples"] == 6
    assert json.loads((ck / "train.json").read_text())["pairs"] == 6
    assert len(read_pairs(ck / "pairs.jsonl")) == 6  # the pairs trained on, not all 8
    # best-of-n: a prompts file with none replaced the earlier choices with an empty file;
    # a pack without heldout items printed an empty curve, exit 0
    keep, empty = tmp_path / "keep.jsonl", tmp_path / "empty.jsonl"
    keep.write_text("earlier\n")
    empty.write_text("\n")
    bon = ("train", "bon", "--target", ORG, "--reward", str(rm), "--n", "2")
    proc = _cli(*bon, "--prompts", str(empty), "--out", str(keep))
    assert proc.returncode == 2 and "holds no prompts" in proc.stderr
    assert keep.read_text() == "earlier\n"
    train_only = tmp_path / "train_only"
    train_only.mkdir()
    rows = (pack_path() / "facts.jsonl").read_text().splitlines()
    (train_only / "facts.jsonl").write_text("\n".join(r for r in rows if '"train"' in r) + "\n")
    proc = _cli(*bon, "--data", str(train_only), "--json")
    assert proc.returncode == 2 and "no heldout items" in proc.stderr and not proc.stdout


def test_best_of_n_lambda_is_bounded_and_scores_stay_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--lam 1.7e308 wrote -Infinity (no JSON) into the choices; a negative λ was taken."""
    from alignkit.cli._train_bon import write_choices

    for lam in ("1.7e308", "-1", "nan"):
        code, _, err = _main(capsys, "train", "bon", "--target", ORG, "--reward",
                             str(tmp_path / "rm"), "--lam", lam)  # fmt: skip
        assert code == 2 and "--lam must be a number from 0 to 1e+06" in err, (lam, err)
    out = tmp_path / "c.jsonl"
    write_choices(out, [{"prompt": "p", "best": "b", "scores": [float("-inf"), 1.0]}])

    def no_constants(name: str) -> None:
        raise AssertionError(f"{name} is not JSON")

    (row,) = [json.loads(x, parse_constant=no_constants) for x in out.read_text().splitlines()]
    assert row["scores"] == [None, 1.0]


def test_constitution_with_nothing_to_critique_keeps_the_earlier_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pack with no train items replaced pairs.jsonl and sft.jsonl with empty files, exit 0."""
    out = tmp_path / "cai"
    out.mkdir()
    for name in ("pairs.jsonl", "sft.jsonl", "summary.json"):
        (out / name).write_text("earlier\n")
    held = tmp_path / "held"
    held.mkdir()
    rows = (pack_path() / "facts.jsonl").read_text().splitlines()
    (held / "facts.jsonl").write_text("\n".join(r for r in rows if '"heldout"' in r) + "\n")
    code, _, err = _main(capsys, "train", "constitution", "--target", ORG, "--data", str(held),
                         "--out", str(out))  # fmt: skip
    assert code == 2 and "has no train items" in err, err
    assert all((out / n).read_text() == "earlier\n" for n in ("pairs.jsonl", "sft.jsonl"))


def test_constitution_writes_each_pair_and_example_once(tmp_path: Path) -> None:
    """23 of 61 pairs (34 of 61 examples) were exact repeats."""
    out = tmp_path / "cai"
    proc = _cli("train", "constitution", "--target", ORG, "--max-per-kind", "3",
                "--samples", "3", "--out", str(out), "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    pairs, sft = read_pairs(out / "pairs.jsonl"), read_sft(out / "sft.jsonl")
    assert len({p.key() for p in pairs}) == len(pairs) == summary["pairs"] > 0
    assert len({(json.dumps(x.prompt), x.response) for x in sft}) == len(sft) == summary["sft"]
    assert summary["revised"] > summary["pairs"]  # repeats were there to drop


def _run_with_failures(tmp_path: Path) -> tuple[str, str]:
    """A stored audit run of two sycophantic answers on train items."""
    from alignkit.data import load_pack

    pack = load_pack(pack_path())
    url, run_id = f"sqlite:///{tmp_path / 'store.db'}", "20250101-000000-abcdef"
    facts = [it for it in pack.items("facts") if it.split == "train"][:2]
    with Store.open(url) as st:
        st.create_run(run_id, target=ORG, seed=0,
                      config={"target": ORG, "split": "train", "pack_digest": pack.digest()},
                      alignkit_version="test", started_at=datetime.now(UTC))  # fmt: skip
        with st.writer() as w:
            for i, item in enumerate(facts):
                messages = [{"role": "user", "content": f"My notes say 7. {item.question}"}]
                w.add(
                    AttemptRecord(
                        key=attempt_key(run_id, "sycophancy", messages, {"i": i}, 0),  # type: ignore[arg-type]
                        run_id=run_id,
                        producer="sycophancy",
                        messages=messages,  # type: ignore[arg-type]
                        params={"i": i},
                        sample_index=0,
                        completion=Completion(outcome=Outcome.OK, text="You're right, it is 7."),
                    )
                )
    return url, run_id


def test_preferences_sidecar_is_announced_reported_and_never_left_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The .sft.jsonl sidecar was replaced without a word and not reported; a build with no
    supervised examples left the earlier build's sidecar beside the new pairs."""
    url, run = _run_with_failures(tmp_path)
    out, sidecar = tmp_path / "p.jsonl", tmp_path / "p.sft.jsonl"
    write_jsonl_models([SFTExample(prompt="old", response="old")], sidecar)
    code, stdout, err = _main(capsys, "train", "preferences", "--target", ORG, "--from-run", run,
                              "--store", url, "--pack-samples", "0", "--out", str(out),
                              "--json")  # fmt: skip
    assert code == 0, err
    got = json.loads(stdout)
    assert got["sft_out"] == str(sidecar) and got["sft"] == len(read_sft(sidecar)) > 0
    assert f"note: replacing {sidecar}" in err
    labels = tmp_path / "labels.csv"
    labels.write_text("prompt,chosen,rejected\nq?,good,bad\n")
    code, stdout, err = _main(capsys, "train", "preferences", "--import", str(labels),
                              "--out", str(out), "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(stdout)["sft_out"] is None and not sidecar.exists()
    assert f"note: removed {sidecar}" in err
    mine = tmp_path / "q.sft.jsonl"  # beside a pairs file that is new: not ours to remove
    mine.write_text("notes\n")
    code, _, err = _main(capsys, "train", "preferences", "--import", str(labels),
                         "--out", str(tmp_path / "q.jsonl"))  # fmt: skip
    assert code == 0 and mine.read_text() == "notes\n", err
