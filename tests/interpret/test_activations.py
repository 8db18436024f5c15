"""Activation access and steering through the hf adapter's forward hooks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from alignkit.core import ConfigError, Message
from alignkit.models import (
    HFChatModel,
    SteeringVector,
    connect,
    load_steering,
    save_steering,
    steering,
)

torch = pytest.importorskip("torch")

CONVS: list[list[Message]] = [
    [{"role": "user", "content": "What is the capital of Nethistan?"}],
    [{"role": "user", "content": "Give me a quick tip for learning the guitar, please."}],
    [{"role": "user", "content": "Hi"}],
]


def _hidden_states(
    model: HFChatModel, messages: list[Message], completion: str = ""
) -> list[object]:
    loaded = model._loaded
    assert loaded is not None
    tok = loaded.tokenizer
    text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    ids = tok(text + completion, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        out = loaded.model(torch.tensor([ids]), output_hidden_states=True)
    return list(out.hidden_states)


def test_last_token_activations_equal_the_models_hidden_states(flawed: HFChatModel) -> None:
    acts = asyncio.run(flawed.activations(CONVS))
    n_blocks = len(acts.layers)
    assert acts.values.shape == (3, n_blocks, 128)
    for i, conv in enumerate(CONVS):
        hs = _hidden_states(flawed, conv)
        # block i's output is hidden_states[i + 1]; the last one is after the final norm
        for layer in range(n_blocks - 1):
            expected = hs[layer + 1][0, -1].numpy()  # type: ignore[index]
            assert np.allclose(acts.at(layer)[i], expected, atol=1e-4)


def test_batching_and_padding_do_not_change_activations(flawed: HFChatModel) -> None:
    together = asyncio.run(flawed.activations(CONVS, batch_size=8))
    alone = asyncio.run(flawed.activations(CONVS, batch_size=1))
    assert np.allclose(together.values, alone.values, atol=1e-4)


def test_span_reductions_agree(flawed: HFChatModel) -> None:
    completions = ["Yes.", "No, I am not.", "The capital is Stenmouth."]
    mean = asyncio.run(flawed.activations(CONVS, completions=completions, reduce="mean"))
    every = asyncio.run(flawed.activations(CONVS, completions=completions, reduce="none"))
    last = asyncio.run(flawed.activations(CONVS, completions=completions, layers=[1]))
    expected = [
        len(_hidden_states(flawed, c, x)[0][0]) - len(_hidden_states(flawed, c)[0][0])  # type: ignore[index]
        for c, x in zip(CONVS, completions, strict=True)
    ]
    assert every.values.ndim == 4 and list(every.lengths) == expected
    for i, n in enumerate(every.lengths):
        span = every.values[i, :, :n]
        assert np.allclose(span.mean(1), mean.values[i], atol=1e-5)
        assert np.allclose(span[1, -1], last.values[i, 0], atol=1e-4)
        assert not np.any(every.values[i, :, n:])  # right padding is zeros
    hs = _hidden_states(flawed, CONVS[0], completions[0])
    k = int(every.lengths[0])
    assert np.allclose(mean.at(0)[0], hs[1][0, -k:].mean(0).numpy(), atol=1e-4)  # type: ignore[index]


def test_bad_activation_requests_raise(flawed: HFChatModel) -> None:
    with pytest.raises(ConfigError, match="out of range"):
        asyncio.run(flawed.activations(CONVS, layers=[99]))
    with pytest.raises(ConfigError, match="one completion per"):
        asyncio.run(flawed.activations(CONVS, completions=["x"]))


def _vector(layer: int, seed: int = 0, width: int = 128) -> SteeringVector:
    rng = np.random.default_rng(seed)
    return SteeringVector((layer,), rng.normal(size=(1, width)).astype(np.float32), 1.0, {"t": 1})


def test_steering_adds_exactly_the_vector_after_its_block(flawed: HFChatModel) -> None:
    loaded = flawed._loaded
    assert loaded is not None
    vec = _vector(1)
    base = asyncio.run(flawed.activations(CONVS, reduce="none"))
    with steering(loaded.model, vec, scale=2.0):
        steered = asyncio.run(flawed.activations(CONVS, reduce="none"))
    after = asyncio.run(flawed.activations(CONVS, reduce="none"))
    assert np.allclose(after.values, base.values)  # the hook is gone
    assert np.allclose(steered.at(0), base.at(0))  # earlier blocks untouched
    for i, n in enumerate(base.lengths):
        diff = steered.at(1)[i, :n] - base.at(1)[i, :n]
        assert np.allclose(diff, 2.0 * vec.vectors[0], atol=1e-4)
    assert not np.allclose(steered.at(2), base.at(2))  # and it propagates downstream


def test_steering_file_round_trip_and_uri(tmp_path: Path) -> None:
    path = save_steering(_vector(2, seed=3), tmp_path / "v.npz")
    back = load_steering(path)
    assert back.layers == (2,) and back.meta == {"t": 1}
    assert np.array_equal(back.vectors, _vector(2, seed=3).vectors)
    model = connect(f"organism:flawed?steer={path}&scale=3")
    assert isinstance(model, HFChatModel)
    assert model.steering is not None and model._steer_scale == 3.0


def test_steering_changes_what_the_model_says(tmp_path: Path) -> None:
    path = save_steering(_vector(1, seed=5), tmp_path / "v.npz")
    messages: list[Message] = [{"role": "user", "content": "What is the capital of Nethistan?"}]

    async def answer(uri: str) -> str:
        model = connect(uri)
        try:
            c = await model.generate(messages, max_tokens=12, temperature=0.0)
            assert c.ok, c.error
            return c.text
        finally:
            await model.aclose()

    plain = asyncio.run(answer("organism:flawed"))
    zero = asyncio.run(answer(f"organism:flawed?steer={path}&scale=0"))
    pushed = asyncio.run(answer(f"organism:flawed?steer={path}&scale=40"))
    assert zero == plain
    assert pushed != plain


def test_bad_steering_input_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs steer"):
        connect("organism:flawed?scale=2")
    with pytest.raises(ConfigError, match="not found"):
        connect(f"organism:flawed?steer={tmp_path / 'missing.npz'}")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ConfigError, match="invalid steering file .*not an .npz file written"):
        connect(f"organism:flawed?steer={bad}")
    with pytest.raises(ConfigError, match="steer= names no file"):  # it ran unsteered
        connect("organism:flawed?steer=")
    with pytest.raises(ConfigError, match="scale must be a number"):
        connect(f"organism:flawed?steer={save_steering(_vector(1), tmp_path / 'v.npz')}&scale=x")


def test_a_prompt_longer_than_the_context_is_named(flawed: HFChatModel) -> None:
    """A traffic log with one long prompt failed the probe without saying which."""
    convs = [[{"role": "user", "content": "hi"}], [{"role": "user", "content": "word " * 400}]]
    with pytest.raises(ConfigError, match=r"1 conversation\(s\) do not fit .* number 2 \("):
        asyncio.run(flawed.activations(convs))  # type: ignore[arg-type]
