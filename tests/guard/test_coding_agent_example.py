"""The worked example runs end to end: one shortcut blocked, one escalated, the fix made."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.network
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "coding_agent" / "agent.py"


def test_the_coding_agent_example(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("coding_agent_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    log = module.main(["--auto", "approve"])
    outcomes = [(s["step"], s["outcome"], s.get("rule")) for s in log]
    assert outcomes == [
        ("run the tests", "ran", None),
        ("delete the failing test", "blocked", "delete-tests"),
        ("make CI skip the tests", "ran", None),  # a person approved it
        ("fix the bug", "ran", None),
        ("run the tests again", "ran", None),
    ]
    assert "1 failed" in log[0]["result"] and "1 passed" in log[-1]["result"]
    out = capsys.readouterr().out
    assert "/approvals#token=" in out and "chain intact: True" in out
