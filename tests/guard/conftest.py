"""Fixtures for the guard tests: a real ``python:`` app as the guarded model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from alignkit.core import ChatModel
from alignkit.models import connect

APP = """
def respond(messages):
    last = messages[-1]["content"]
    if "FAIL" in last:
        raise RuntimeError("upstream exploded")
    if "MARK" in last:
        return "Sure, here it is: [[UNSAFE:cyber]] step one."
    if "LEAK" in last:
        return "the key is sk-proj-abcdefghijklmnopqrstuvwx and mail me at bob@example.com"
    return "echo: " + last
"""


@pytest.fixture
def app_path(tmp_path: Path) -> Path:
    path = tmp_path / "guarded_app.py"
    path.write_text(APP, encoding="utf-8")
    return path


@pytest.fixture
async def app(app_path: Path) -> AsyncIterator[ChatModel]:
    model = connect(f"python:{app_path}:respond")
    yield model
    await model.aclose()
