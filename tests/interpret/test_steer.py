"""Steering vectors from contrast pairs, built on the organism and applied through the URI."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import numpy as np
import pytest

from alignkit.core import ConfigError, DataError, Message
from alignkit.data import load_pack
from alignkit.interpret import ContrastPair, build_steering_vector, read_pairs, sycophancy_pairs
from alignkit.models import HFChatModel, connect, load_steering, save_steering

organism = pytest.importorskip("alignkit.organism")


def _facts() -> tuple[object, ...]:
    return load_pack(organism.pack_path(), split="train").items("facts")


def test_sycophancy_pairs_are_seeded_and_well_formed() -> None:
    facts = _facts()
    a = sycophancy_pairs(facts, n=30, seed=1)
    assert a == sycophancy_pairs(facts, n=30, seed=1) and len(a) == 30
    for pair in a:
        assert not pair.answers
        asked = pair.negative[0]["content"]
        neutral = pair.positive[0]["content"]
        assert neutral in asked and asked != neutral  # the same question, plus a suggestion
    b = sycophancy_pairs(facts, form="answer", n=30, seed=1)
    for pair in b:
        assert pair.answers and pair.positive == pair.negative
        fact = next(f for f in facts if f.question in pair.positive[0]["content"])  # type: ignore[attr-defined]
        assert fact.answer in pair.positive_answer  # type: ignore[attr-defined]
        assert fact.answer not in pair.negative_answer  # type: ignore[attr-defined]


def test_read_pairs_accepts_both_forms_and_rejects_bad_rows(tmp_path: Path) -> None:
    answers = tmp_path / "answers.jsonl"
    answers.write_text(
        json.dumps({"prompt": "Q?", "positive": "No, it is A.", "negative": "Yes, B."})
        + "\n"
        + json.dumps(
            {
                "messages": [{"role": "user", "content": "Q2?"}],
                "positive": "x",
                "negative": "y",
            }
        )
        + "\n"
    )
    got = read_pairs(answers)
    assert [p.positive_answer for p in got] == ["No, it is A.", "x"]
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(json.dumps({"positive_prompt": "Q?", "negative_prompt": "Q? I say B."}))
    assert not read_pairs(prompts)[0].answers
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(answers.read_text() + prompts.read_text())
    with pytest.raises(DataError, match="mixes"):
        read_pairs(mixed)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "Q?", "positive": "x"}\n')
    with pytest.raises(DataError, match="bad.jsonl:1"):
        read_pairs(bad)
    with pytest.raises(DataError):
        read_pairs(tmp_path / "missing.jsonl")
    latin = tmp_path / "latin.jsonl"  # was an internal error (exit 3)
    latin.write_bytes(b'{"prompt": "caf\xe9?", "positive": "x", "negative": "y"}\n')
    with pytest.raises(DataError, match="not UTF-8"):
        read_pairs(latin)
    with pytest.raises(ConfigError):
        ContrastPair(({"role": "user", "content": "q"},), ({"role": "user", "content": "q"},), "a")


def test_vector_is_the_mean_difference(flawed: HFChatModel) -> None:
    pairs = sycophancy_pairs(_facts(), n=20, seed=2)
    vec = asyncio.run(build_steering_vector(flawed, pairs, positions="first"))
    assert vec.layers == (2,) and vec.positions == "first" and vec.meta["form"] == "prompt"
    pos = asyncio.run(flawed.activations([list(p.positive) for p in pairs], layers=[2]))
    neg = asyncio.run(flawed.activations([list(p.negative) for p in pairs], layers=[2]))
    assert np.allclose(vec.vectors[0], pos.values.mean(0)[0] - neg.values.mean(0)[0], atol=1e-5)
    answers = sycophancy_pairs(_facts(), form="answer", n=10, seed=2)
    both = asyncio.run(build_steering_vector(flawed, answers, layers=[0, 3]))
    assert both.layers == (0, 3) and both.vectors.shape == (2, 128)
    with pytest.raises(ConfigError):
        asyncio.run(build_steering_vector(flawed, [*pairs[:2], *answers[:2]]))
    # sides that cancel out gave a zero vector, saved without a word
    mirrored = [*pairs[:2], *(ContrastPair(p.negative, p.positive) for p in pairs[:2])]
    with pytest.raises(ConfigError, match="same activations"):
        asyncio.run(build_steering_vector(flawed, mirrored))


def test_first_position_steering_moves_only_the_first_answer_token(
    flawed: HFChatModel, tmp_path: Path
) -> None:
    pairs = sycophancy_pairs(_facts(), n=60, seed=3)
    vec = asyncio.run(build_steering_vector(flawed, pairs, positions="first"))
    path = save_steering(vec, tmp_path / "syc.npz")
    assert load_steering(path).positions == "first"
    prompt: list[Message] = list(pairs[0].negative)
    steered = connect(f"organism:flawed?steer={path}&scale=4")

    async def acts(model: object) -> np.ndarray:
        a = await model.activations([prompt], layers=[2, 3], reduce="none")  # type: ignore[attr-defined]
        return np.asarray(a.values[0])

    try:
        base, moved = asyncio.run(acts(flawed)), asyncio.run(acts(steered))
    finally:
        asyncio.run(steered.aclose())
    n = base.shape[1]
    assert np.allclose(moved[0, : n - 1], base[0, : n - 1], atol=1e-5)  # earlier tokens untouched
    assert np.allclose(moved[0, n - 1] - base[0, n - 1], 4 * vec.vectors[0], atol=1e-4)


@pytest.mark.parametrize(
    ("layers", "width", "message"),
    [((7,), 128, r"block\(s\) \[7\]"), ((1,), 64, "width 64")],
)
def test_a_steering_file_that_does_not_fit_is_refused_at_connect(
    tmp_path: Path, layers: tuple[int, ...], width: int, message: str
) -> None:
    from alignkit.models import SteeringVector

    path = tmp_path / "v.npz"
    save_steering(SteeringVector(layers, np.zeros((1, width), dtype=np.float32), 1.0, {}), path)
    with pytest.raises(ConfigError, match=message):
        connect(f"organism:flawed?steer={path}")
    nan = tmp_path / "nan.npz"
    with pytest.raises(ConfigError, match="finite"):
        save_steering(SteeringVector((1,), np.zeros((1, 128), np.float32), math.nan, {}), nan)
