"""What the guard returns for one request, and where it logs it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from alignkit.core import Completion, Decision, DecisionKind, Message, Outcome

__all__ = ["AuditSink", "GuardResult", "StageResult"]


class AuditSink(Protocol):
    """Where the guard appends its log entries (the store's ``AuditLog``)."""

    def append(self, entry: Mapping[str, Any]) -> None:
        """Queue one entry for the hash chain; must not block for long."""
        ...


@dataclass(frozen=True)
class StageResult:
    """The decisions of one stage and what it let through.

    Attributes:
        decisions: One per rail that ran, in order (latency filled in).
        stopped_by: The blocking or escalating decision, if any.
        messages: The conversation after input-stage modifications.
        text: The response after output-stage modifications (output stage only).
    """

    decisions: list[Decision]
    stopped_by: Decision | None
    messages: list[Message]
    text: str | None = None

    @property
    def blocked(self) -> bool:
        """Whether a rail stopped the stage."""
        return self.stopped_by is not None


@dataclass(frozen=True)
class GuardResult:
    """What happened to one request.

    Attributes:
        request_id: Id of the request (and of its audit-log entry).
        decision: ``allow``, ``modify`` or ``block`` (escalations count as blocks here).
        outcome: ``ok`` when the client gets a model answer, ``blocked`` when the guard or
            a breaker refused, ``error`` when the model failed.
        text: The answer the client gets (``None`` unless ``outcome`` is ``ok``).
        reason: Why it was blocked, changed or failed (empty when allowed).
        rail: The rail (or ``circuit-breaker``) that blocked it; for ``modify``, the rails
            that changed the text, comma-separated.
        input: Decisions of the input stage.
        output: Decisions of the output stage.
        completion: The model's completion, when the model was called.
        error: The upstream error, when ``outcome`` is ``error``.
        answer: The model's answer as the output rails that ran left it (what the audit
            log keeps: rails' redactions applied, even when a later rail blocked it).
        retry_after_s: For a breaker's refusal, seconds until it lets a probe through.
    """

    request_id: str
    decision: DecisionKind
    outcome: Outcome
    text: str | None
    reason: str = ""
    rail: str | None = None
    input: list[Decision] = field(default_factory=list)
    output: list[Decision] = field(default_factory=list)
    completion: Completion | None = None
    error: str = ""
    answer: str | None = None
    retry_after_s: float | None = None

    @property
    def decisions(self) -> list[Decision]:
        """All decisions, input first."""
        return [*self.input, *self.output]
