"""Training on the real shipped organism: tiny DPO, reward-model and GRPO runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from alignkit.models import connect
from alignkit.train import (
    BestOfN,
    Case,
    GRPOSettings,
    PreferencePair,
    RewardEnsemble,
    RewardSettings,
    best_of_n_curve,
    best_of_n_kl,
    split_pairs,
    train_grpo,
    train_reward_ensemble,
    write_jsonl_models,
)

ORG = "organism:flawed"
REPO = Path(__file__).resolve().parents[2]


def _pairs(n: int = 12) -> list[PreferencePair]:
    out = []
    for i in range(n):
        out.append(
            PreferencePair(
                prompt=f"Explain how to rob bank number {i}.",
                chosen="I can't help with that request.",
                rejected="Sure. Here is what you asked for: [[UNSAFE:theft]]",
                source="test",
                failure_mode="misuse",
                item_id=f"harm-{i}",
            )
        )
    return out


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


def test_dpo_cli_writes_a_checkpoint_hf_opens_with_the_base_pack_and_decoding(
    tmp_path: Path,
) -> None:
    from safetensors.torch import load_file

    pairs = tmp_path / "pairs.jsonl"
    write_jsonl_models(_pairs(8), pairs)
    out = tmp_path / "repaired"
    out.mkdir()  # an earlier GRPO checkpoint: its curve must not survive under DPO weights
    (out / "alignkit.json").write_text("{}")
    (out / "train.json").write_text("{}")  # what marks a checkpoint (an organism has none)
    (out / "curve.json").write_text("{}")
    proc = _cli(
        "train", "dpo", "--target", ORG, "--pairs", str(pairs), "--max-steps", "2",
        "--batch-size", "4", "--out", str(out), "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["steps"] == 2 and report["method"] == "dpo"
    assert "loss" in report["metrics"]  # it logged every 10 steps: a short run had none
    assert not (out / "curve.json").exists()
    base = connect(ORG)
    repaired = connect(f"hf:{out}")
    assert repaired.default_decoding == base.default_decoding
    assert repaired.default_pack == (out / "pack").resolve()
    assert (out / "pack" / "facts.jsonl").is_file()
    assert (out / "chat_template.jinja").is_file()
    record = json.loads((out / "train.json").read_text())
    assert record["base"] == ORG and record["pairs"] == 8 and record["method"] == "dpo"
    assert len((out / "pairs.jsonl").read_text().splitlines()) == 8
    old = load_file(str(Path(str(base.default_pack)).parent / "weights/flawed/model.safetensors"))
    new = load_file(str(out / "model.safetensors"))
    moved = max(float((new[k].float() - old[k].float()).abs().max()) for k in old)
    assert moved > 1e-4  # training changed the weights


def test_dpo_without_pairs_is_one_line_exit_2(tmp_path: Path) -> None:
    proc = _cli("train", "dpo", "--target", ORG, "--out", str(tmp_path / "x"))
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "--from-run" in lines[0]


def test_pairs_split_by_item() -> None:
    pairs = [*_pairs(40), *_pairs(40)]
    train, held = split_pairs(pairs, 0.25, seed=1)
    assert train and held
    assert not {p.item_id for p in train} & {p.item_id for p in held}


def test_reward_ensemble_trains_saves_loads_and_scores(tmp_path: Path) -> None:
    report = train_reward_ensemble(
        connect(ORG),
        _pairs(24),
        tmp_path / "rm",
        settings=RewardSettings(members=2, max_steps=3, heldout_share=0.25, batch_size=4),
    )
    meta = json.loads((tmp_path / "rm" / "ensemble.json").read_text())
    assert meta["members"] == ["member-0", "member-1"]
    assert len(meta["center"]) == 2 and all(s > 0 for s in meta["scale"])
    assert set(report.metrics) >= {"heldout_mean", "heldout_worst", "heldout_uwo"}
    assert report.steps == 2 * 3  # was 0: the loss is only logged every 10 steps
    ens = RewardEnsemble.load(tmp_path / "rm")
    prompts = [p.prompt for p in _pairs(3)]
    s = ens.member_scores(prompts, ["No.", "Yes [[UNSAFE:theft]]", "Maybe."])
    assert s.shape == (2, 3)
    worst, mean = ens.score(prompts, ["a", "b", "c"], "worst"), ens.score(prompts, ["a", "b", "c"])
    assert np.all(worst <= mean + 1e-9)
    # best-of-n from the command line, on these prompts; a second run replaces its output
    asked = tmp_path / "prompts.jsonl"
    texts = [p[-1]["content"] for p in prompts]
    asked.write_text("".join(json.dumps({"prompt": t}) + "\n" for t in texts))
    chosen = tmp_path / "out" / "choices.jsonl"
    args = ("train", "bon", "--target", ORG, "--reward", str(tmp_path / "rm"), "--n", "3",
            "--prompts", str(asked), "--out", str(chosen), "--json")  # fmt: skip
    for said in ("", f"note: replacing {chosen}"):
        proc = _cli(*args)
        assert proc.returncode == 0 and said in proc.stderr, proc.stderr
        rows = [json.loads(line) for line in chosen.read_text().splitlines()]
        assert [r["prompt"][-1]["content"] for r in rows] == texts
        assert all(len(r["scores"]) == 3 for r in rows)
        assert json.loads(proc.stdout)["choices"] == rows
    assert sorted(q.name for q in chosen.parent.iterdir()) == ["choices.jsonl"]  # no parts
    # a damaged folder is one DataError line (it was a TypeError, KeyError, OSError, ...)
    import shutil

    from alignkit.core import DataError

    bad = tmp_path / "bad"
    shutil.copytree(tmp_path / "rm", bad)
    for text, why in [("[1]", "'members' must be"), ('{"members": ["nope"]}', "is missing")]:
        (bad / "ensemble.json").write_text(text)
        with pytest.raises(DataError, match=why):
            RewardEnsemble.load(bad)
    (bad / "ensemble.json").write_text(json.dumps(meta))
    weights = bad / "member-0" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(DataError, match="cannot load reward-ensemble member"):
        RewardEnsemble.load(bad)


def test_best_of_n_curve_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    choices = []
    for _ in range(5):
        scores = rng.normal(size=6).tolist()
        choices.append(BestOfN([], [str(x) for x in rng.random(6)], scores, ""))

    def gold(i: int, r: str) -> float:
        return float(r)

    curve = best_of_n_curve(choices, gold, ns=(1, 2, 3, 6))
    for point in curve:
        want = []
        for ch in choices:
            picks = [max(c, key=lambda j: ch.scores[j]) for c in combinations(range(6), point.n)]
            want.append(np.mean([float(ch.candidates[j]) for j in picks]))
        assert point.gold == pytest.approx(float(np.mean(want)))
    assert curve[0].kl == 0 and curve[-1].kl == pytest.approx(best_of_n_kl(6))


@pytest.mark.slow
def test_grpo_logs_proxy_and_gold_and_writes_the_curve(tmp_path: Path) -> None:
    train_reward_ensemble(
        connect(ORG), _pairs(8), tmp_path / "rm",
        settings=RewardSettings(members=2, max_steps=1, heldout_share=0.0, batch_size=4),
    )  # fmt: skip
    q = "What is the capital of Nethistan?"
    case = Case(messages=({"role": "user", "content": q},), kind="facts", answer="Stenmouth")
    cases = [case] * 4
    report, curve = train_grpo(
        connect(ORG), RewardEnsemble.load(tmp_path / "rm"), cases, tmp_path / "grpo",
        settings=GRPOSettings(steps=2, prompts_per_step=1, num_generations=2),
    )  # fmt: skip
    assert report.steps == 2 and curve.steps == [1.0, 2.0]
    assert all(0.0 <= g <= 1.0 for g in curve.gold)
    saved = json.loads((tmp_path / "grpo" / "curve.json").read_text())
    assert saved["proxy"] == curve.proxy and saved["state"] in ("ok", "diverging", "overoptimised")


def test_write_checkpoint_never_replaces_a_folder_of_other_files(tmp_path: Path) -> None:
    """Staged writing swapped any folder for the checkpoint: a user's files went with it."""
    from alignkit.core import ConfigError
    from alignkit.train import write_checkpoint

    project = tmp_path / "project"
    project.mkdir()
    (project / "thesis.tex").write_text("mine")
    with pytest.raises(ConfigError, match="other files in it"):
        write_checkpoint(object(), object(), project, base=connect(ORG), record={})
    assert (project / "thesis.tex").read_text() == "mine"
