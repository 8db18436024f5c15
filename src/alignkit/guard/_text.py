"""Text helpers shared by the rails and the audit log: what a rail reads, and redaction."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from alignkit.core import Message, RailStage

__all__ = ["SECRET_PATTERNS", "Redactor", "stage_text"]

SECRET_PATTERNS: dict[str, re.Pattern[str]] = {
    "private-key": re.compile(
        r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY(?: BLOCK)?-----"
        r"(?:[\s\S]*?-----END [A-Z ]*PRIVATE KEY(?: BLOCK)?-----)?"
    ),
    "aws-access-key": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "github-token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b"),
    "openai-key": re.compile(r"\bsk-(?:proj-|svcacct-)?[A-Za-z0-9_\-]{20,}\b"),
    "anthropic-key": re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{20,}\b"),
    "slack-token": re.compile(r"\bxox[abprs]-[A-Za-z0-9\-]{10,}\b"),
    "google-api-key": re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"),
    "stripe-key": re.compile(r"\b(?:sk|rk)_live_[0-9A-Za-z]{20,}\b"),
    "jwt": re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
    "bearer-token": re.compile(r"\b(?i:bearer)\s+[A-Za-z0-9_\-.=]{20,}"),
    "assigned-secret": re.compile(
        r"\b(?i:api[_-]?key|secret(?:[_-]?key)?|access[_-]?token|auth[_-]?token|password)"
        r"\s*[:=]\s*['\"]?[A-Za-z0-9/+_\-.]{12,}['\"]?"
    ),
}
"""Shapes of credentials: provider key formats, private-key blocks, ``key = value`` pairs."""

_COMBINED_SECRETS = re.compile("|".join(f"(?:{p.pattern})" for p in SECRET_PATTERNS.values()))


def stage_text(stage: RailStage, messages: Sequence[Message], response: str | None) -> str:
    """The text a rail reads: the user messages at input, the response at output."""
    if stage is RailStage.OUTPUT:
        return response or ""
    users = [m["content"] for m in messages if m.get("role") == "user"]
    return users[0] if len(users) == 1 else "\n".join(users)


class Redactor:
    """Replaces credential shapes and configured secret strings with ``[REDACTED]``.

    Args:
        secrets: Exact strings (API keys, tokens, passwords) that must never be logged.
        patterns: Also replace everything matching :data:`SECRET_PATTERNS`.
    """

    MASK = "[REDACTED]"

    def __init__(self, secrets: Iterable[str] = (), *, patterns: bool = True) -> None:
        exact = sorted({s for s in secrets if s}, key=len, reverse=True)
        parts = [re.escape(s) for s in exact]
        if patterns:
            parts.append(_COMBINED_SECRETS.pattern)
        self._regex = re.compile("|".join(f"(?:{p})" for p in parts)) if parts else None

    def __call__(self, text: str) -> str:
        """``text`` with every secret masked."""
        if self._regex is None or not text:
            return text
        return self._regex.sub(self.MASK, text)
