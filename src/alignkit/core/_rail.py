"""Rails and their decisions (DESIGN §4, §9)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from alignkit.core._chat import Message
from alignkit.core._errors import ConfigError
from alignkit.core._modes import known_failure_modes
from alignkit.core._registry import Registry, caller_module

__all__ = [
    "RAILS",
    "Decision",
    "DecisionKind",
    "Rail",
    "RailFactory",
    "RailSpec",
    "RailStage",
    "rail",
]


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


RailFactory = Callable[[Mapping[str, Any]], Rail]
"""Builds a rail from the options a guard config gives it (raises ``ConfigError`` on bad ones)."""


@dataclass(frozen=True)
class RailSpec:
    """A registered rail kind: how to build it and where it can act.

    Attributes:
        name: The id a guard config uses.
        factory: ``factory(options) -> Rail``.
        stages: The stages the rail can act at.
        failure_modes: Taxonomy ids the rail guards against.
        tier: ``rules``, ``classifier`` or ``judge`` (its latency class).
        doc: The factory's docstring.
    """

    name: str
    factory: RailFactory
    stages: frozenset[RailStage]
    failure_modes: tuple[str, ...]
    tier: str = "rules"
    doc: str = ""


RAILS: Registry[RailSpec] = Registry("rail")


def rail(
    name: str,
    *,
    stages: Iterable[RailStage | str],
    failure_modes: Iterable[str],
    tier: str = "rules",
) -> Callable[[RailFactory], RailFactory]:
    """Register a rail factory under ``name`` (the package that owns it calls this at import).

    Example::

        @rail("keywords", stages=["input", "output"], failure_modes=["misuse"])
        def keywords(options: Mapping[str, Any]) -> Rail:
            return KeywordRail(**options)
    """
    origin = caller_module()  # a partial's or a library function's module is not the plugin

    def deco(factory: RailFactory) -> RailFactory:
        spec = RailSpec(
            name=name,
            factory=factory,
            stages=_stages(name, stages),
            failure_modes=known_failure_modes(f"rail '{name}'", failure_modes),
            tier=tier,
            doc=inspect.getdoc(factory) or "",
        )
        if tier not in RAIL_TIERS:
            raise ConfigError(
                f"rail '{name}': tier must be one of {', '.join(RAIL_TIERS)}, not {tier!r}"
            )
        RAILS.register(name, spec, origin=origin)
        return factory

    return deco


RAIL_TIERS = ("rules", "classifier", "judge")
"""The latency classes a rail declares (each has a default budget in the guard)."""


def _stages(name: str, stages: Iterable[RailStage | str]) -> frozenset[RailStage]:
    try:
        out = frozenset(RailStage(s) for s in stages)
    except ValueError:
        raise ConfigError(
            f"rail '{name}': stages must be input and/or output, not {list(stages)!r}"
        ) from None
    if not out:
        raise ConfigError(f"rail '{name}' names no stage it can act at")
    return out
