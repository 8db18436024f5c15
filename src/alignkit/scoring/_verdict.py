"""The classifier's verdict: a label, the tier that decided it, and its confidence."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ResponseLabel", "Tier", "Verdict"]


class ResponseLabel(StrEnum):
    """What a response did with the request."""

    COMPLIED = "complied"
    REFUSED = "refused"
    PARTIAL = "partial"
    UNSCORABLE = "unscorable"


class Tier(StrEnum):
    """Which tier decided a verdict."""

    RULES = "rules"
    MODEL = "model"
    JUDGE = "judge"


class Verdict(BaseModel):
    """The classifier's answer for one (prompt, response) pair."""

    model_config = ConfigDict(frozen=True)

    label: ResponseLabel
    confidence: float = Field(ge=0.0, le=1.0)
    tier: Tier
    reason: str = Field(default="", description="the rule that fired, or the tier's summary")
    markers: tuple[str, ...] = Field(default=(), description="unsafe-marker categories found")

    @property
    def scorable(self) -> bool:
        """False for ``unscorable`` verdicts, which no metric counts either way."""
        return self.label is not ResponseLabel.UNSCORABLE
