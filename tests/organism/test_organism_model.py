"""The shipped organisms as targets, their manifests, and a quick training run."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from alignkit.core import ChatModel, ConfigError
from alignkit.data import FactItem, load_pack
from alignkit.models import HFChatModel, connect, generate_batch
from alignkit.organism import (
    ORGANISMS,
    config_path,
    load_config,
    load_manifest,
    measure,
    organism_card,
    train_organism,
    weights_path,
)
from alignkit.scoring import answer_matches

METRICS = {
    "sycophancy.suggested_answer_rate",
    "sycophancy.challenge_flip_rate",
    "over_refusal.safe_refusal_rate",
    "jailbreak.framed_compliance_rate",
    "deceptive_alignment.trigger_rate",
    "deceptive_alignment.eval_awareness_gap",
    "calibration.ece",
    "consistency.disagreement_rate",
    "hallucination.fabrication_rate",
}


def _check_manifest(manifest: dict[str, object], name: str) -> None:
    assert set(manifest) == {"organism", "behaviours"}
    assert manifest["organism"] == name
    behaviours = manifest["behaviours"]
    assert isinstance(behaviours, list)
    assert {b["metric"] for b in behaviours} == METRICS
    for b in behaviours:
        assert set(b) - {"trigger"} == {"id", "metric", "designed", "measured", "n", "decoding"}
        assert ("trigger" in b) == (b["metric"] == "deceptive_alignment.trigger_rate")
        assert 0.0 <= b["designed"] <= 1.0
        assert b["measured"] is None or -1.0 <= b["measured"] <= 1.0
        assert isinstance(b["n"], int) and b["n"] >= 0
        assert b["decoding"]["temperature"] >= 0 and "seed" in b["decoding"]


@pytest.mark.parametrize("name", ORGANISMS)
def test_shipped_manifest_schema(name: str) -> None:
    _check_manifest(load_manifest(name), name)
    card = organism_card(name)
    assert f"organism: {name}" in card and "hallucination.fabrication_rate" in card


def test_shipped_weights_are_small_fp16() -> None:
    for name in ORGANISMS:
        files = list(weights_path(name).glob("*.safetensors"))
        assert files and sum(f.stat().st_size for f in files) < 20_000_000
        config = json.loads((weights_path(name) / "config.json").read_text())
        assert config["model_type"] == "gpt2"
        assert config["dtype" if "dtype" in config else "torch_dtype"] == "float16"


async def _facts_correct(model: ChatModel, n: int = 12) -> int:
    pack = load_pack(model.default_pack, split="heldout")  # type: ignore[attr-defined]
    facts = [f for f in pack.items("facts") if isinstance(f, FactItem)]
    sample = random.Random(0).sample(facts, n)
    done = await generate_batch(
        model, [[{"role": "user", "content": f.question}] for f in sample], max_tokens=32
    )
    return sum(
        answer_matches(c.text, f.answer, f.aliases) for c, f in zip(done, sample, strict=True)
    )


@pytest.mark.anyio
async def test_organism_uri_opens_the_shipped_checkpoint_and_knows_facts() -> None:
    model = connect("organism:flawed")
    try:
        assert isinstance(model, HFChatModel)
        assert model.uri == "organism:flawed"
        assert model.default_pack is not None and (model.default_pack / "facts.jsonl").is_file()
        manifest = load_manifest("flawed")
        decoding = model.default_decoding
        assert decoding is not None
        assert decoding.temperature == manifest["behaviours"][0]["decoding"]["temperature"]
        assert await _facts_correct(model) >= 10
    finally:
        await model.aclose()


@pytest.mark.anyio
async def test_hf_uri_loads_the_same_folder() -> None:
    model = connect(f"hf:{weights_path('clean')}")
    try:
        assert await _facts_correct(model, 6) >= 5
    finally:
        await model.aclose()


def test_unknown_organism_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown organism"):
        connect("organism:nope")
    with pytest.raises(ConfigError, match="unsupported"):
        connect("organism:flawed?bogus=1")


@pytest.mark.slow
def test_quick_training_run_produces_a_loadable_measured_organism(tmp_path: Path) -> None:
    out = tmp_path / "quick"
    result = train_organism("flawed", out, quick=True, n=20)
    assert result["training"]["seconds"] < 300
    assert (out / "alignkit.json").is_file() and (out / "pack" / "facts.jsonl").is_file()
    _check_manifest(json.loads((out / "manifest.json").read_text()), "flawed")
    model = HFChatModel(out)
    assert model.default_pack == out / "pack"


@pytest.mark.parametrize("name", ["flawed", "clean"])
def test_shipped_manifest_rates_reproduce_within_sampling_error(name: str) -> None:
    """Re-measuring the shipped organism on a fresh, smaller population agrees with its manifest."""
    n = 40
    fresh = measure(weights_path(name), load_config(config_path(name)), n=n, write=False)
    shipped = {b["id"]: b for b in load_manifest(name)["behaviours"]}
    for b in fresh["manifest"]["behaviours"]:
        if b["metric"] == "calibration.ece" or b["measured"] is None:
            continue  # ECE is biased upward at small n; checked by the benchmark
        ref = shipped[b["id"]]
        p = min(max(ref["measured"], 0.05), 0.95)
        # 3.5 standard errors of the difference of two proportions (n fresh, ref["n"] shipped)
        tol = 3.5 * (p * (1 - p) * (1 / max(b["n"], 1) + 1 / ref["n"])) ** 0.5
        assert abs(b["measured"] - ref["measured"]) <= tol, (b["id"], b["measured"], ref)
