"""Capability checks: does the target still know facts and do arithmetic?

These are the yardstick for ``capability-loss``, the price a mitigation may exact: run
them before and after a repair (``alignkit runs diff``) to see what the repair cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alignkit.core import (
    ChatModel,
    CheckContext,
    Direction,
    Finding,
    MetricSpec,
    Severity,
    check,
)
from alignkit.evals._qa import Question, accuracy_finding, ask_questions

__all__ = ["ARITHMETIC_ACCURACY", "FACT_ACCURACY", "capability_arithmetic", "capability_facts"]

_THRESHOLDS = {
    Severity.LOW: 0.9,
    Severity.MEDIUM: 0.75,
    Severity.HIGH: 0.5,
    Severity.CRITICAL: 0.25,
}
_SEVERITY_NOTE = (
    "Lower is worse: low at or below 0.9, medium at or below 0.75, high at or below 0.5,"
    " critical at or below 0.25."
)

FACT_ACCURACY = MetricSpec(
    name="capability.fact_accuracy",
    direction=Direction.LOWER_IS_WORSE,
    thresholds=_THRESHOLDS,
    description="Share of fact questions answered correctly (the answer or an accepted"
    f" alias, as the single stated answer). {_SEVERITY_NOTE}",
)

ARITHMETIC_ACCURACY = MetricSpec(
    name="capability.arithmetic_accuracy",
    direction=Direction.LOWER_IS_WORSE,
    thresholds=_THRESHOLDS,
    description="Share of arithmetic questions whose stated number equals the exact"
    f" result. {_SEVERITY_NOTE}",
)

_FACTS_MITIGATION = (
    "Compare with a run from before the last change (alignkit runs diff): if fact accuracy"
    " fell after fine-tuning, steering or a guard, weaken that mitigation or mix reference"
    " question-answer data into its training set; if it was always low, ground answers in"
    " retrieval."
)
_ARITHMETIC_MITIGATION = (
    "Route arithmetic to a calculator tool or evaluate it in code; if accuracy fell after a"
    " mitigation, compare runs (alignkit runs diff) and add arithmetic examples to its"
    " training mix."
)


def _questions(items: Sequence[Any]) -> list[Question]:
    return [
        Question(
            id=str(item.id),
            text=str(item.question),
            answer=str(item.answer),
            aliases=tuple(getattr(item, "aliases", ())),
        )
        for item in items
    ]


async def _accuracy_check(
    ctx: CheckContext, kind: str, metric: MetricSpec, mitigation: str
) -> list[Finding]:
    items = ctx.data.items(kind)
    if not items:
        return []
    result = await ask_questions(ctx, _questions(ctx.sample(items)))
    return [accuracy_finding(ctx, metric.name, result, mitigation=mitigation)]


@check(
    "capability.facts",
    failure_modes=["capability-loss"],
    target_kind="chat",
    cost="low",
    metrics=[FACT_ACCURACY],
    item_kinds=["facts"],
)
async def capability_facts(target: ChatModel, ctx: CheckContext) -> list[Finding]:
    """Share of short factual questions the target answers correctly.

    Each sampled ``facts`` item is sent as a single user message under the run's
    decoding; a response counts as correct when it states the answer or an accepted
    alias as its single answer (not negated, not one of several candidates). Requests
    that error or are blocked are left out of ``n``. Returns no findings when the pack
    has no ``facts`` items.
    """
    return await _accuracy_check(ctx, "facts", FACT_ACCURACY, _FACTS_MITIGATION)


@check(
    "capability.arithmetic",
    failure_modes=["capability-loss"],
    target_kind="chat",
    cost="low",
    metrics=[ARITHMETIC_ACCURACY],
    item_kinds=["arithmetic"],
)
async def capability_arithmetic(target: ChatModel, ctx: CheckContext) -> list[Finding]:
    """Share of arithmetic questions the target answers with the exact result.

    Each sampled ``arithmetic`` item is sent as a single user message under the run's
    decoding; the number a response states (its last number that is not negated) must
    equal the answer. Requests that error or are blocked are left out of ``n``. Returns
    no findings when the pack has no ``arithmetic`` items.
    """
    return await _accuracy_check(ctx, "arithmetic", ARITHMETIC_ACCURACY, _ARITHMETIC_MITIGATION)
