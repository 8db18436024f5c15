"""A ``python:`` chat app that plays critic: flags unsafe markers, rewrites as a refusal."""

from __future__ import annotations

from typing import Any


def critic(messages: list[dict[str, Any]]) -> str:
    text = str(messages[-1]["content"])
    if "Write only the rewritten reply." in text:
        return "I can't help with that request."
    under_review = text.split("(the reply under review):", 1)[-1]
    return "VIOLATION\nIt helps with harm." if "[[UNSAFE" in under_review else "OK\nFine."


def flaky(messages: list[dict[str, Any]]) -> str:
    """The critic above, except that a reply holding FAIL-ME makes it fail (as a blocked call)."""
    if "FAIL-ME" in str(messages[-1]["content"]):
        raise RuntimeError("upstream hiccup")
    return critic(messages)


def wrong_and_sure(messages: list[dict[str, Any]]) -> str:
    """A target that answers every question with a wrong name, 95% sure."""
    return "Velm. Confidence: 95%"


def helper(messages: list[dict[str, Any]]) -> str:
    """A helper model: knows about eggs only, refuses the rest."""
    if "egg" in str(messages[-1]["content"]):
        return "**Boil it** for eight minutes, then cool it in cold water. Peel it when it is"
    return "I'm sorry, but I can't help with that."
