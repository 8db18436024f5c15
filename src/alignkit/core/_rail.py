"""Rails and their decisions (DESIGN §4, §9)."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from alignkit.core._chat import Message

__all__ = ["Decision", "DecisionKind", "Rail", "RailStage"]


class DecisionKind(StrEnum):
    """What a rail decided."""

    ALLOW = "allow"
    MODIFY = "modify"
    BLOCK = "block"
    ESCALATE = "escalate"


class RailStage(StrEnum):
    """Where in the pipeline a rail acts."""

    INPUT = "input"
    OUTPUT = "output"


class Decision(BaseModel):
    """A rail's verdict on one request or response."""

    model_config = ConfigDict(frozen=True)

    decision: DecisionKind
    rail: str
    reason: str = ""
    latency_ms: float = 0.0
    score: float = Field(default=0.0, ge=0.0, le=1.0)
    replacement: str | None = None


@runtime_checkable
class Rail(Protocol):
    """A guard rail: looks at the conversation (and the response, at the output stage)."""

    name: str
    stages: frozenset[RailStage]

    async def check(
        self, stage: RailStage, messages: list[Message], response: str | None = None
    ) -> Decision:
        """Decide on one request (input stage) or one response (output stage)."""
        ...
