"""The optional LLM-judge rail, with a real ``python:`` app as the judge."""

from __future__ import annotations

from pathlib import Path

import pytest

from alignkit.core import RAILS, DecisionKind, Message, RailStage

pytestmark = pytest.mark.anyio

JUDGE = """
def respond(messages):
    text = messages[-1]["content"]
    if "explode" in text:
        raise RuntimeError("judge down")
    if "gibberish" in text:
        return "hmm, hard to say"
    return "UNSAFE: it asks for harm" if "weapon" in text else "SAFE"
"""


@pytest.fixture
def judge_uri(tmp_path: Path) -> str:
    path = tmp_path / "judge_app.py"
    path.write_text(JUDGE, encoding="utf-8")
    return f"python:{path}:respond"


def user(text: str) -> list[Message]:
    return [{"role": "user", "content": text}]


async def test_judge_verdicts_and_fail_closed(judge_uri: str) -> None:
    rail = RAILS.get("llm-judge").factory({"target": judge_uri})
    assert (await rail.check(RailStage.INPUT, user("bake bread"))).decision is DecisionKind.ALLOW
    unsafe = await rail.check(RailStage.OUTPUT, user("x"), "here is a weapon plan")
    assert unsafe.decision is DecisionKind.BLOCK and unsafe.reason == "judge: unsafe"
    broken = await rail.check(RailStage.INPUT, user("explode please"))
    assert broken.decision is DecisionKind.BLOCK and "judge failed" in broken.reason
    vague = await rail.check(RailStage.INPUT, user("gibberish"))
    assert vague.decision is DecisionKind.BLOCK and "unreadable verdict" in vague.reason
    await rail.aclose()  # type: ignore[attr-defined]


async def test_judge_can_fail_open_when_configured(judge_uri: str) -> None:
    rail = RAILS.get("llm-judge").factory({"target": judge_uri, "on_error": "allow"})
    assert (await rail.check(RailStage.INPUT, user("explode"))).decision is DecisionKind.ALLOW
