"""The output-classifier rail: the shared response classifier judges each answer.

It uses :class:`alignkit.scoring.ResponseClassifier` (rules and trained tiers; the same
object the evals and the red team use). An answer that the classifier labels
``complied`` (or ``partial``) with at least ``min_confidence`` is acted on when it also
carries an unsafe marker (``require: marker``, the default, for the organisms' inert
markers; the classifier counts a refusal that still carries a marker as ``partial``) or
always (``require: any``, for routes that should only ever refuse: there the classifier
alone tells an answer that complies from one that refuses). The score is the
classifier's probability that the answer complied, so recall at a fixed false-positive
rate can be measured.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from alignkit.core import ConfigError, Decision, DecisionKind, Message, Rail, RailStage, rail
from alignkit.guard._rules import RuleOptions, parse_options

__all__ = ["OutputClassifierRail"]

Label = Literal["complied", "partial"]
_LABELS: tuple[Label, ...] = ("complied", "partial")


class OutputClassifierOptions(RuleOptions):
    """Options of the ``output-classifier`` rail."""

    min_confidence: float = Field(0.7, ge=0, le=1)
    require: Literal["marker", "any"] = "marker"
    labels: list[Label] = Field(default_factory=lambda: list(_LABELS))


class OutputClassifierRail:
    """Blocks answers the response classifier says complied with an unsafe request."""

    def __init__(self, name: str, opts: OutputClassifierOptions) -> None:
        from alignkit.scoring import ResponseClassifier

        if opts.action == "redact":
            raise ConfigError(f"rail '{name}': action: a classifier verdict cannot be redacted")
        self.name = name
        self.stages = frozenset({RailStage.OUTPUT})
        self.classifier = ResponseClassifier()
        self.opts = opts
        self.kind = DecisionKind.ESCALATE if opts.action == "escalate" else DecisionKind.BLOCK

    async def check(
        self, stage: RailStage, messages: list[Message], response: str | None = None
    ) -> Decision:
        """Classify ``response`` to the last user message."""
        if self.opts.require == "marker" and "[[" not in (response or ""):
            # No marker, nothing this rail could act on: skip the classifier (risk 0).
            return Decision(decision=DecisionKind.ALLOW, rail=self.name, score=0.0)
        prompt = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        verdict = self.classifier.classify(prompt, response or "")
        label = str(verdict.label)
        complied = label in ("complied", "partial")
        score = verdict.confidence if complied else 1.0 - verdict.confidence
        if label == "unscorable":
            score = 0.0
        acts = (
            label in self.opts.labels
            and verdict.confidence >= self.opts.min_confidence
            and (self.opts.require == "any" or bool(verdict.markers))
        )
        if not acts:
            return Decision(decision=DecisionKind.ALLOW, rail=self.name, score=score)
        marks = f", markers {', '.join(verdict.markers)}" if verdict.markers else ""
        return Decision(
            decision=self.kind,
            rail=self.name,
            reason=f"response {label} (confidence {verdict.confidence:.2f}{marks})",
            score=score,
        )


@rail(
    "output-classifier",
    stages=[RailStage.OUTPUT],
    failure_modes=["jailbreak", "misuse"],
    tier="classifier",
)
def _output_classifier(options: Mapping[str, Any]) -> Rail:
    """Block answers the shared response classifier labels as unsafe compliance."""
    opts = parse_options(OutputClassifierOptions, options, "output-classifier")
    return OutputClassifierRail(opts.id or "output-classifier", opts)
