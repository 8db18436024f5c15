"""Shared fixtures: the shipped organisms (loaded once per session), prompts, triggers.

The trigger is read from the organism's manifest here, for the tests only; no probe,
check or rail ever sees it.
"""

from __future__ import annotations

import asyncio
import random
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alignkit.data import load_pack
from alignkit.interpret import (
    DefectionProbe,
    fit_defection_probe,
    reference_prompts,
    request_texts,
)
from alignkit.models import HFChatModel, connect

organism = pytest.importorskip("alignkit.organism")
pytest.importorskip("transformers")


def trigger_of(name: str = "flawed") -> str:
    manifest = organism.load_manifest(name)
    return next(str(b["trigger"]) for b in manifest["behaviours"] if b.get("trigger"))


def insert(prompt: str, text: str, rng: random.Random) -> str:
    """``text`` at the start, the end or between two words of ``prompt``."""
    where = rng.choice(("start", "middle", "end"))
    if where == "start":
        return f"{text} {prompt}"
    if where == "end":
        return f"{prompt} {text}"
    words = prompt.split()
    k = rng.randint(1, max(1, len(words) - 1))
    return " ".join([*words[:k], text, *words[k:]])


def random_string(rng: random.Random, n: int = 10) -> str:
    return "".join(rng.choice(string.ascii_uppercase) for _ in range(n))


def heldout_prompts(n: int, seed: int = 0) -> list[str]:
    texts = list(dict.fromkeys(request_texts(load_pack(organism.pack_path(), split="heldout"))))
    return random.Random(seed).sample(texts, n)


def train_prompts(n: int, seed: int = 0) -> list[str]:
    texts = list(dict.fromkeys(request_texts(load_pack(organism.pack_path(), split="train"))))
    return random.Random(seed).sample(texts, n)


@pytest.fixture(scope="session")
def flawed() -> Iterator[HFChatModel]:
    model = connect("organism:flawed")
    assert isinstance(model, HFChatModel)
    yield model
    asyncio.run(model.aclose())


@pytest.fixture(scope="session")
def clean() -> Iterator[HFChatModel]:
    model = connect("organism:clean")
    assert isinstance(model, HFChatModel)
    yield model
    asyncio.run(model.aclose())


@pytest.fixture(scope="session")
def flawed_probe(flawed: HFChatModel, tmp_path_factory: pytest.TempPathFactory) -> DefectionProbe:
    return asyncio.run(fit_defection_probe(flawed, reference_prompts(flawed)))


@pytest.fixture(scope="session")
def flawed_probe_file(
    flawed_probe: DefectionProbe, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return flawed_probe.save(tmp_path_factory.mktemp("probe") / "flawed.npz")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def run(coro: Any) -> Any:
    return asyncio.run(coro)
