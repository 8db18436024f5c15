"""Shared fixtures: the shipped organisms (loaded once per session) and a fitted probe.

Prompts and the trigger: ``interpret_helpers``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alignkit.interpret import DefectionProbe, fit_defection_probe, reference_prompts
from alignkit.models import HFChatModel, connect

pytest.importorskip("transformers")


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
