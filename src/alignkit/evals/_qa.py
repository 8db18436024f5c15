"""The question-and-answer loop shared by checks that grade short answers.

A check turns its items into :class:`Question` objects, sends them with
:func:`ask_questions` (one user message each, through ``ctx.generate`` so every attempt
is stored) and gets back a :class:`QuizResult`: which answers were right, which were
wrong, and which requests produced no behaviour (errors and provider blocks, which are
never counted). :func:`accuracy_finding` turns a result into the finding for an
accuracy metric, with a Wilson interval and evidence of wrong answers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from alignkit.core import (
    CheckContext,
    CheckError,
    Completion,
    Evidence,
    Finding,
    Message,
    Outcome,
    wilson_interval,
)
from alignkit.models import BUDGET_EXHAUSTED
from alignkit.scoring import answer_matches

__all__ = ["Graded", "Question", "QuizResult", "accuracy_finding", "ask_questions", "no_behaviour"]

_log = logging.getLogger(__name__)
MAX_EVIDENCE = 5
_MAX_OUTPUT_CHARS = 400


@dataclass(frozen=True)
class Question:
    """One question to ask and the answers that count as right."""

    id: str
    text: str
    answer: str
    aliases: tuple[str, ...] = ()

    def messages(self) -> list[Message]:
        """The question as a single user message."""
        return [{"role": "user", "content": self.text}]


@dataclass(frozen=True)
class Graded:
    """A question, the completion it got, and whether that completion was right.

    ``correct`` is ``None`` when the request produced no behaviour (error or blocked).
    """

    question: Question
    completion: Completion
    correct: bool | None


@dataclass(frozen=True)
class QuizResult:
    """Every graded question of one check, in the order they were asked."""

    graded: tuple[Graded, ...]

    @property
    def scored(self) -> tuple[Graded, ...]:
        """Questions whose request produced behaviour (outcome ``ok``)."""
        return tuple(g for g in self.graded if g.correct is not None)

    @property
    def excluded(self) -> tuple[Graded, ...]:
        """Questions whose request errored or was blocked; they are not in ``n``."""
        return tuple(g for g in self.graded if g.correct is None)

    @property
    def wrong(self) -> tuple[Graded, ...]:
        """Scored questions answered wrongly."""
        return tuple(g for g in self.graded if g.correct is False)

    @property
    def n(self) -> int:
        """Number of scored questions."""
        return len(self.scored)

    @property
    def n_correct(self) -> int:
        """Number of questions answered correctly."""
        return sum(1 for g in self.graded if g.correct)


async def ask_questions(
    ctx: CheckContext, questions: Sequence[Question], *, producer: str | None = None
) -> QuizResult:
    """Ask each question as one user message and grade the answers with ``answer_matches``.

    Requests go through ``ctx.generate`` under the run's decoding (greedy by default).
    """
    completions = await ctx.generate([q.messages() for q in questions], producer=producer)
    if len(completions) != len(questions):
        raise CheckError(
            f"check '{ctx.check.id}': runner returned {len(completions)} completions"
            f" for {len(questions)} requests"
        )
    graded = tuple(
        Graded(q, c, answer_matches(c.text, q.answer, q.aliases) if c.ok else None)
        for q, c in zip(questions, completions, strict=True)
    )
    return QuizResult(graded)


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_OUTPUT_CHARS else text[: _MAX_OUTPUT_CHARS - 1] + "…"


def _exclusion_evidence(ctx: CheckContext, result: QuizResult) -> Evidence:
    excluded = result.excluded
    blocked = sum(1 for g in excluded if g.completion.outcome is Outcome.BLOCKED)
    unsent = sum(1 for g in excluded if g.completion.error == BUDGET_EXHAUSTED)
    errors = len(excluded) - blocked - unsent
    parts = [f"{errors} error", f"{blocked} blocked"]
    if unsent:  # stopped by --budget: never sent, so no error of the target's
        parts.append(f"{unsent} not sent, budget ran out")
    summary = (
        f"{len(excluded)} of {len(result.graded)} requests excluded from n ({', '.join(parts)})"
    )
    _log.info("%s: %s", ctx.check.id, summary)
    first = excluded[0]
    reason = first.completion.error or first.completion.outcome.value
    return Evidence(input=first.question.text, output="", note=f"{summary}; e.g. {reason}")


def accuracy_finding(
    ctx: CheckContext, metric: str, result: QuizResult, *, mitigation: str
) -> Finding:
    """The finding for accuracy metric ``metric``: share correct, Wilson 95 % CI, evidence.

    Evidence holds up to five wrong answers (``note`` gives the expected answer) and,
    when some requests produced no behaviour, one entry saying how many were excluded.

    Raises:
        CheckError: No request produced behaviour, so there is nothing to measure.
    """
    if result.n == 0:
        why = no_behaviour([g.completion for g in result.graded], 300)
        if why is None:  # answered, but none gradable
            reasons = {g.completion.error or g.completion.outcome.value for g in result.excluded}
            why = f"all {len(result.graded)} requests failed ({'; '.join(sorted(reasons))[:300]})"
        raise CheckError(f"check '{ctx.check.id}': {why}")
    evidence = [
        Evidence(
            input=g.question.text,
            output=_clip(g.completion.text),
            note=f"expected: {g.question.answer}",
        )
        for g in result.wrong[:MAX_EVIDENCE]
    ]
    if result.excluded:
        evidence.append(_exclusion_evidence(ctx, result))
    return ctx.finding(
        metric,
        result.n_correct / result.n,
        n=result.n,
        ci=wilson_interval(result.n_correct, result.n),
        evidence=evidence,
        mitigation=mitigation,
    )


def no_behaviour(completions: Sequence[Completion], limit: int) -> str | None:
    """Why no request produced behaviour (failed, or never sent), or ``None`` if one did."""
    if not completions or any(c.ok for c in completions):
        return None
    unsent = sum(c.error == BUDGET_EXHAUSTED for c in completions)
    sent = [c for c in completions if c.error != BUDGET_EXHAUSTED]
    reasons = "; ".join(sorted({c.error or c.outcome.value for c in sent}))[:limit]
    if not unsent:
        return f"all {len(completions)} requests failed ({reasons})"
    if not sent:  # not sent, or given up on in flight: no failure of the target
        return f"none of its {unsent} requests was answered before the budget ran out"
    return (
        f"{len(sent)} requests failed ({reasons}) and {unsent} were not answered before"
        " the budget ran out"
    )
