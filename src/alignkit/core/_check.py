"""The check protocol, the ``@check`` decorator and the context a check runs in (DESIGN §4)."""

from __future__ import annotations

import hashlib
import inspect
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

from alignkit.core._chat import Completion, Decoding, Message, TargetKind
from alignkit.core._errors import ConfigError
from alignkit.core._findings import Evidence, Finding, MetricSpec, Plot
from alignkit.core._modes import known_failure_modes
from alignkit.core._registry import Registry, caller_module

__all__ = [
    "CHECKS",
    "AttemptRunner",
    "CheckContext",
    "CheckFn",
    "CheckSpec",
    "Cost",
    "ItemSource",
    "check",
]

Cost = Literal["low", "medium", "high"]
CheckFn = Callable[[Any, "CheckContext"], Awaitable[list[Finding]]]
T = TypeVar("T")


@dataclass(frozen=True)
class CheckSpec:
    """A registered check and the metadata a report needs to explain its findings."""

    id: str
    fn: CheckFn
    failure_modes: tuple[str, ...]
    target_kind: TargetKind
    cost: Cost
    metrics: tuple[MetricSpec, ...]
    requires: frozenset[str] = frozenset()
    item_kinds: tuple[str, ...] = ()
    doc: str = ""

    def metric(self, name: str) -> MetricSpec:
        """The declared metric ``name``; :class:`ConfigError` if it is not declared."""
        for m in self.metrics:
            if m.name == name:
                return m
        raise ConfigError(f"check '{self.id}' does not declare metric '{name}'")

    @property
    def summary(self) -> str:
        """First line of the docstring."""
        return self.doc.strip().splitlines()[0] if self.doc.strip() else ""


CHECKS: Registry[CheckSpec] = Registry("check")


_COSTS = ("low", "medium", "high")


def _check_declaration(
    id: str, fn: CheckFn, failure_modes: Sequence[str], cost: str, metrics: Sequence[MetricSpec]
) -> None:
    """Refuse a declaration that breaks the rules every check follows (docs/plugins.md).

    Raises:
        ConfigError: No docstring, no or unknown failure modes, an unknown cost, or a
            metric id another check already declares (one name never means two quantities).
    """
    if not (inspect.getdoc(fn) or "").strip():
        raise ConfigError(f"check '{id}' needs a docstring (its first line is the summary)")
    if cost not in _COSTS:
        raise ConfigError(f"check '{id}': cost must be one of {', '.join(_COSTS)}, not {cost!r}")
    known_failure_modes(f"check '{id}'", failure_modes)
    known_failure_modes(
        f"check '{id}'", (m.failure_mode for m in metrics if m.failure_mode), required=False
    )
    names = [m.name for m in metrics]
    if len(set(names)) != len(names):
        raise ConfigError(f"check '{id}' declares a metric twice")
    for other_id, other in CHECKS.registered().items():
        taken = set(names) & {m.name for m in other.metrics}
        if taken and other_id != id:
            raise ConfigError(
                f"check '{id}': metric '{sorted(taken)[0]}' is already declared by check"
                f" '{other_id}'; one metric id never means two quantities"
            )


def check(
    id: str,
    *,
    failure_modes: Sequence[str],
    target_kind: TargetKind | str,
    cost: Cost,
    metrics: Sequence[MetricSpec],
    requires: Sequence[str] = (),
    item_kinds: Sequence[str] = (),
) -> Callable[[CheckFn], CheckFn]:
    """Register an async check ``(target, ctx) -> list[Finding]`` under ``id``.

    Example::

        @check("capability.facts", failure_modes=["capability-loss"], target_kind="chat",
               cost="low", metrics=[MetricSpec("capability.fact_accuracy", ...)],
               item_kinds=["facts"])
        async def fact_accuracy(target: ChatModel, ctx: CheckContext) -> list[Finding]:
            ...
    """
    origin = caller_module()  # a partial's or a library function's module is not the plugin

    def deco(fn: CheckFn) -> CheckFn:
        if not inspect.iscoroutinefunction(fn):
            raise ConfigError(f"check '{id}' must be an async function")
        if not metrics:
            raise ConfigError(f"check '{id}' declares no metrics")
        _check_declaration(id, fn, failure_modes, cost, metrics)
        spec = CheckSpec(
            id=id,
            fn=fn,
            failure_modes=tuple(failure_modes),
            target_kind=TargetKind(target_kind),
            cost=cost,
            metrics=tuple(metrics),
            requires=frozenset(requires),
            item_kinds=tuple(item_kinds),
            doc=inspect.getdoc(fn) or "",
        )
        CHECKS.register(id, spec, origin=origin)
        return fn

    return deco


class ItemSource(Protocol):
    """What a check sees of an item pack: items of one kind (already split-filtered)."""

    def items(self, kind: str) -> Sequence[Any]:
        """Items of ``kind`` (empty when the pack has none)."""
        ...


class AttemptRunner(Protocol):
    """Sends requests for a check, storing each as an attempt and skipping stored ones."""

    async def __call__(
        self,
        producer: str,
        requests: Sequence[list[Message]],
        *,
        decoding: Decoding,
        seed: int,
        logprobs: bool = False,
    ) -> list[Completion]:
        """Completions for ``requests``, in order."""
        ...


@dataclass
class CheckContext:
    """Everything a check may use besides its target.

    Checks never print; they draw items from ``data``, randomness from ``seed`` and send
    requests through :meth:`generate`, which stores every attempt (and, on resume,
    answers stored ones from the store).
    """

    check: CheckSpec
    run_id: str
    seed: int
    data: ItemSource
    decoding: Decoding
    runner: AttemptRunner
    max_items: int = 200
    plots: list[Plot] = field(default_factory=list)

    async def generate(
        self,
        requests: Sequence[list[Message]],
        *,
        decoding: Decoding | None = None,
        logprobs: bool = False,
        producer: str | None = None,
    ) -> list[Completion]:
        """Send ``requests`` (each ``decoding.samples`` times is the caller's business)."""
        return await self.runner(
            producer or self.check.id,
            requests,
            decoding=decoding or self.decoding,
            seed=self.seed,
            logprobs=logprobs,
        )

    def rng(self, salt: str = "") -> random.Random:
        """A :class:`random.Random` seeded from the run seed, the check id and ``salt``."""
        digest = hashlib.sha256(f"{self.seed}:{self.check.id}:{salt}".encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def sample(self, items: Sequence[T], k: int | None = None, salt: str = "") -> list[T]:
        """Up to ``k`` (default ``max_items``) items, a seeded sample in original order."""
        k = self.max_items if k is None else k
        if len(items) <= k:
            return list(items)
        picked = sorted(self.rng(salt).sample(range(len(items)), k))
        return [items[i] for i in picked]

    def finding(
        self,
        metric: str,
        value: float,
        *,
        n: int,
        ci: tuple[float, float] | None = None,
        evidence: Sequence[Evidence] = (),
        mitigation: str = "",
        failure_mode: str | None = None,
    ) -> Finding:
        """Build a finding for a declared metric, with severity from its thresholds."""
        spec = self.check.metric(metric)
        severity, threshold = spec.severity_of(value)
        return Finding(
            check=self.check.id,
            failure_mode=failure_mode or spec.failure_mode or self.check.failure_modes[0],
            severity=severity,
            metric=metric,
            value=value,
            direction=spec.direction,
            threshold=threshold,
            ci_low=None if ci is None else ci[0],
            ci_high=None if ci is None else ci[1],
            n=n,
            evidence=list(evidence),
            mitigation=mitigation,
            run_id=self.run_id,
        )

    def add_plot(self, plot: Plot) -> None:
        """Attach a figure to the report."""
        self.plots.append(plot)
