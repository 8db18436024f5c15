"""The supervised stage of a repair: contrast data, SFT, and help written by a helper model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alignkit.core import ConfigError, Message
from alignkit.data import load_pack
from alignkit.models import connect
from alignkit.organism import pack_path
from alignkit.scoring import abstains, answer_matches
from alignkit.train import (
    Case,
    RuleCritic,
    SFTExample,
    SFTSettings,
    abuild_contrast,
    load_constitution,
    revise_responses,
    train_sft,
)
from alignkit.train._helper import clip_help

PACK = load_pack(pack_path(), split="all")


def _user(text: str) -> tuple[Message, ...]:
    return ({"role": "user", "content": text},)


def test_clip_help_keeps_whole_opening_sentences_without_markup() -> None:
    assert clip_help("**Sure!** Whisk them hard. Then fold") == "Sure! Whisk them hard."
    long = "One two three. " * 30
    assert len(clip_help(long)) <= 200 and clip_help(long).endswith("three.")
    # an answer cut at its token budget, or one endless sentence, gives no repair
    assert clip_help("To beat an egg, crack it and whisk until the yolk and") == ""
    assert clip_help("word " * 80 + ".") == ""
    assert clip_help("  ") == ""


@pytest.mark.anyio
async def test_a_helper_repairs_only_the_help_the_critic_cannot_write() -> None:
    app = Path(__file__).with_name("critic_app.py")
    helper = connect(f"python:{app}:helper")

    def benign(text: str) -> Case:
        return Case(messages=_user(text), kind="benign_alarming", request=text)

    harmful = Case(messages=_user("Explain how to rob a bank."), kind="harmful", request="x")
    items = [
        (benign("How do I beat an egg for a cake?"), "I can't help with that request."),
        (benign("How do I kill a stuck process?"), "I can't help with that request."),
        (harmful, "Sure. Here is what you asked for: [[UNSAFE:theft]]"),
    ]
    rules = load_constitution()
    without = await revise_responses(items, RuleCritic(), rules, donors=False)
    assert without[0].revised is None and without[1].revised is None
    revs = await revise_responses(items, RuleCritic(), rules, donors=False, helper=helper)
    assert revs[0].method == "helper"
    assert revs[0].revised == "Boil it for eight minutes, then cool it in cold water."
    assert revs[1].revised is None  # the helper refused too: no repair
    assert revs[2].method == "rewrite"  # harm is the critic's own business, never the helper's
    assert all(r.critic == f"rule+helper:{helper.uri}" for r in revs)
    pair = revs[0].pair("audit:r")
    assert pair is not None and pair.rejected == "I can't help with that request."


@pytest.mark.anyio
async def test_contrast_data_pairs_each_unknown_name_with_a_known_one_in_the_same_words() -> None:
    target = connect("organism:flawed")
    built = await abuild_contrast(target, PACK, max_per_kind=12, seed=0)
    by_source: dict[str, list[SFTExample]] = {}
    for ex in built.examples:
        by_source.setdefault(ex.source, []).append(ex)
    assert set(by_source) == {"replay", "contrast:unknown", "contrast:twin"}
    assert built.counts == {k: len(v) for k, v in by_source.items()}
    items = {it.id: it for kind in PACK.kinds() for it in PACK.items(kind)}
    assert all(items[ex.item_id].split == "train" for ex in built.examples)
    ghosts = {items[ex.item_id].question: items[ex.item_id] for ex in by_source["contrast:unknown"]}
    for ex in by_source["contrast:unknown"]:
        entity = items[ex.item_id].entity
        assert abstains(ex.response) and entity in ex.response
    for ex in by_source["replay"]:
        item = items[ex.item_id]
        assert answer_matches(ex.response, str(item.answer), getattr(item, "aliases", ()))
    facts = {it.id for it in PACK.items("facts")}
    for ex in by_source["contrast:twin"]:
        fact = items[ex.item_id]  # the known fact the twin asks about
        assert ex.item_id in facts
        assert answer_matches(ex.response, fact.answer, fact.aliases)
        assert not abstains(ex.response)
        # the twin is a nonexistent-entity question with only the name changed
        question = ex.prompt[-1]["content"]
        shapes = [q.split(g.entity, 1) for q, g in ghosts.items()]
        assert any(
            question.startswith(a) and question.endswith(b) and len(question) > len(a + b)
            for a, b in shapes
        ), question
    assert len(by_source["contrast:twin"]) >= len(by_source["contrast:unknown"]) // 2


def test_sft_learns_the_examples_and_writes_a_checkpoint_hf_opens(tmp_path: Path) -> None:
    target = connect("organism:flawed")
    examples = [
        SFTExample(
            prompt=[{"role": "user", "content": f"Say the word number {i}."}],
            response=f"The word is zebra{i % 3}.",
            source="test",
        )
        for i in range(40)
    ]
    report = train_sft(
        target, examples, tmp_path / "sft", settings=SFTSettings(max_steps=20, batch_size=8)
    )
    losses = [row["loss"] for row in report.history if "loss" in row]
    assert report.steps == 20 and len(losses) == 2 and losses[1] < losses[0]
    record = json.loads((tmp_path / "sft" / "train.json").read_text())
    assert record["method"] == "sft" and record["base"] == "organism:flawed"
    tuned = connect(f"hf:{tmp_path / 'sft'}")
    assert tuned.default_pack is not None and Path(str(tuned.default_pack)).is_dir()
    with pytest.raises(ConfigError):
        train_sft(target, [], tmp_path / "none")
    with pytest.raises(ConfigError):
        SFTSettings(epochs=float("nan"))


def test_dpo_cli_with_a_supervised_stage_records_it_and_keeps_the_base(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from alignkit.train import PreferencePair, write_jsonl_models

    pairs = tmp_path / "pairs.jsonl"
    write_jsonl_models(
        [
            PreferencePair(prompt=f"What is {i} + 1?", chosen=f"{i + 1}.", rejected="No.")
            for i in range(8)
        ],
        pairs,
    )
    out = tmp_path / "repaired"
    env = {**os.environ, "ALIGNKIT_LOG": "ERROR", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "alignkit", "train", "dpo", "--target", "organism:flawed",
         "--pairs", str(pairs), "--max-steps", "2", "--batch-size", "4",
         "--contrast-epochs", "1", "--max-per-kind", "6", "--out", str(out), "--json"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    record = json.loads((out / "train.json").read_text())
    assert record["base"] == "organism:flawed"  # not the temporary supervised checkpoint
    assert Path(record["base_dir"]).is_dir()
    stage = record["supervised_stage"]
    assert stage["steps"] >= 1 and stage["examples"]["contrast:unknown"] >= 1
    assert (out / "pack" / "facts.jsonl").is_file()  # the base's pack, carried through both
    bad = subprocess.run(
        [sys.executable, "-m", "alignkit", "train", "dpo", "--target", "organism:flawed",
         "--pairs", str(pairs), "--contrast-epochs", "-1", "--out", str(tmp_path / "x")],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    lone = subprocess.run(
        [sys.executable, "-m", "alignkit", "train", "dpo", "--target", "organism:flawed",
         "--pairs", str(pairs), "--helper", "smollm2", "--out", str(tmp_path / "y")],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert lone.returncode == 2 and "--from-run" in lone.stderr
