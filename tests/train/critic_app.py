"""A ``python:`` chat app that plays critic: flags unsafe markers, rewrites as a refusal."""

from __future__ import annotations

from typing import Any


def critic(messages: list[dict[str, Any]]) -> str:
    text = str(messages[-1]["content"])
    if "Write only the rewritten reply." in text:
        return "I can't help with that request."
    under_review = text.split("(the reply under review):", 1)[-1]
    return "VIOLATION\nIt helps with harm." if "[[UNSAFE" in under_review else "OK\nFine."
