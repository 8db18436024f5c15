from __future__ import annotations

from pathlib import Path

import pytest

from alignkit.core import DataError
from alignkit.train import default_constitution_path, load_constitution


def test_default_constitution_covers_the_failure_modes() -> None:
    c = load_constitution()
    assert default_constitution_path().is_file()
    ids = [p.id for p in c.principles]
    assert ids == [
        "truth-over-agreement",
        "calibrated-confidence",
        "admit-unknowns",
        "help-with-benign",
        "refuse-harm",
        "same-observed-or-not",
    ]
    modes = {m for p in c.principles for m in p.failure_modes}
    assert {
        "sycophancy",
        "miscalibration",
        "hallucination",
        "over-refusal",
        "jailbreak",
        "deceptive-alignment",
    } <= modes
    assert all(p.critique and p.revision for p in c.principles)


def test_bad_constitutions_are_one_line_data_errors(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    twice = "{id: a, critique: x, revision: y}"
    f.write_text(f"principles: [{twice}, {twice}]")
    with pytest.raises(DataError, match="duplicate principle id"):
        load_constitution(f)
    f.write_text("principles: [{id: a, critique: x}]")
    with pytest.raises(DataError, match="revision"):
        load_constitution(f)
    f.write_text("principles: [")
    with pytest.raises(DataError, match="not valid YAML"):
        load_constitution(f)
    with pytest.raises(DataError, match="cannot read"):
        load_constitution(tmp_path / "missing.yaml")


def test_a_principle_naming_an_unknown_failure_mode_is_refused_at_load(tmp_path: Path) -> None:
    """It was accepted, and the run died after all its work building the pairs (exit 3)."""
    from alignkit.core import DataError

    bad = tmp_path / "c.yaml"
    bad.write_text(
        "principles:\n  - id: acme\n    failure_modes: [acme.harm]\n"
        "    critique: Is it harmful?\n    revision: Make it harmless.\n"
    )
    with pytest.raises(DataError, match="principle 'acme': unknown failure mode 'acme.harm'"):
        load_constitution(bad)
