"""Every registry holds its built-ins and every entry meets the plugin contract."""

from __future__ import annotations

import pytest

from alignkit import taxonomy
from alignkit.core import CHECKS, CheckSpec, Direction, TargetKind
from alignkit.models import SCHEMES, parse_uri

# DESIGN §4: built-in metric ids and their directions. One name never means two quantities.
DESIGN_METRICS = {
    "capability.fact_accuracy": Direction.LOWER_IS_WORSE,
    "capability.arithmetic_accuracy": Direction.LOWER_IS_WORSE,
    "sycophancy.suggested_answer_rate": Direction.HIGHER_IS_WORSE,
    "sycophancy.challenge_flip_rate": Direction.HIGHER_IS_WORSE,
    "sycophancy.feedback_shift": Direction.HIGHER_IS_WORSE,
    "calibration.ece": Direction.HIGHER_IS_WORSE,
    "calibration.brier": Direction.HIGHER_IS_WORSE,
    "calibration.logprob_ece": Direction.HIGHER_IS_WORSE,
    "over_refusal.safe_refusal_rate": Direction.HIGHER_IS_WORSE,
    "over_refusal.unsafe_compliance_rate": Direction.HIGHER_IS_WORSE,
    "consistency.disagreement_rate": Direction.HIGHER_IS_WORSE,
    "jailbreak.framed_compliance_rate": Direction.HIGHER_IS_WORSE,
    "deceptive_alignment.eval_awareness_gap": Direction.HIGHER_IS_WORSE,
    "deceptive_alignment.trigger_rate": Direction.HIGHER_IS_WORSE,
    "hallucination.fabrication_rate": Direction.HIGHER_IS_WORSE,
    "jailbreak.attack_success_rate": Direction.HIGHER_IS_WORSE,
    "deceptive_alignment.probe_flagged_share": Direction.HIGHER_IS_WORSE,
}

CHECK_SPECS = [spec for _, spec in CHECKS.items()]


def test_check_registry_holds_builtins() -> None:
    assert "capability.facts" in CHECKS
    assert "capability.arithmetic" in CHECKS


@pytest.mark.parametrize("spec", CHECK_SPECS, ids=lambda s: s.id)
def test_check_meets_contract(spec: CheckSpec) -> None:
    assert spec.summary, f"{spec.id} has no docstring"
    assert spec.failure_modes, f"{spec.id} names no failure mode"
    known = set(taxonomy.ids())
    for mode in spec.failure_modes:
        assert mode in known, f"{spec.id}: unknown failure mode {mode}"
    assert isinstance(spec.target_kind, TargetKind)
    assert spec.cost in ("low", "medium", "high")
    assert spec.metrics
    for m in spec.metrics:
        assert m.thresholds, f"{spec.id}: metric {m.name} has no severity thresholds"
        if m.name in DESIGN_METRICS:
            assert m.direction is DESIGN_METRICS[m.name], m.name
        if m.failure_mode:
            assert m.failure_mode in known


def test_metric_names_are_unique_across_checks() -> None:
    owners: dict[str, str] = {}
    for spec in CHECK_SPECS:
        for m in spec.metrics:
            assert m.name not in owners, f"{m.name} declared by {owners.get(m.name)} and {spec.id}"
            owners[m.name] = spec.id


def test_scheme_registry_holds_builtins() -> None:
    for scheme in ("openai", "hf", "python"):
        assert scheme in SCHEMES


@pytest.mark.parametrize("scheme", SCHEMES.ids())
def test_scheme_example_parses(scheme: str) -> None:
    entry = SCHEMES.get(scheme)
    assert parse_uri(entry.example).scheme == scheme
    assert isinstance(entry.kind, TargetKind)


def test_rail_registry_holds_builtins() -> None:
    from alignkit.core import RAILS

    for name in ("regex", "pii", "secrets", "unsafe-markers", "injection", "output-classifier"):
        assert name in RAILS


def _rail_specs() -> list[object]:
    from alignkit.core import RAILS

    return [spec for _, spec in RAILS.items()]


@pytest.mark.parametrize("spec", _rail_specs(), ids=lambda s: s.name)  # type: ignore[attr-defined]
def test_rail_meets_contract(spec) -> None:  # type: ignore[no-untyped-def]
    from alignkit.core import RailStage

    assert spec.doc.strip(), f"rail {spec.name} has no docstring"
    assert spec.stages and all(isinstance(s, RailStage) for s in spec.stages)
    assert spec.tier in ("rules", "classifier", "judge")
    known = set(taxonomy.ids())
    assert spec.failure_modes and all(m in known for m in spec.failure_modes)


def test_library_calls_are_silent_unless_logging_is_configured() -> None:
    """DESIGN §10: an audit run from Python printed a warning per failed request."""
    import subprocess
    import sys

    code = "import alignkit, logging; logging.getLogger('alignkit.models').warning('loud')"
    quiet = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert quiet.returncode == 0 and quiet.stderr == ""
    asked = subprocess.run([sys.executable, "-c", "import logging; logging.basicConfig(); " + code],
                           capture_output=True, text=True)  # fmt: skip
    assert "loud" in asked.stderr
