"""The guard quick start runs end to end: answered, blocked, redacted, and a verified log."""

from __future__ import annotations

import json

import examples_helpers
import pytest

pytestmark = pytest.mark.network


def test_the_guard_quickstart(capsys: pytest.CaptureFixture[str]) -> None:
    with examples_helpers.example("guard_quickstart.py") as example:
        result = example.main()
    replies = result["replies"]

    benign = replies["benign"]
    assert benign["decision"] == "allow" and benign["finish_reason"] == "stop"
    assert "Paris" in benign["content"]

    secret = replies["secret"]  # refused before the app was called; the key never echoed
    assert secret["decision"] == "block" and secret["rail"] == "secrets"
    assert secret["finish_reason"] == "content_filter"
    assert secret["content"].startswith("This request was blocked by the alignkit guard")
    assert example.FAKE_KEY not in secret["content"]

    email = replies["email"]  # the address was masked, the question still answered
    assert email["decision"] == "modify" and "Shakespeare" in email["content"]

    assert result["log"] == {"ok": True, "entries": 3, "first_bad": None, "problem": "",
                             "head": result["log"]["head"]}  # fmt: skip
    logged = result["logged"]
    assert [e["decision"] for e in logged] == ["allow", "block", "modify"]
    text = json.dumps(logged)
    assert example.FAKE_KEY not in text and "ann@example.org" not in text
    assert "[REDACTED]" in logged[1]["messages"][-1]["content"]
    assert "[EMAIL]" in logged[2]["messages"][-1]["content"]
    assert "chain intact: True" in capsys.readouterr().out
