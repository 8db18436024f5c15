from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

import alignkit.taxonomy._model as model
from alignkit.taxonomy import (
    NIST_FUNCTIONS,
    FailureMode,
    FailureModeTaken,
    all_modes,
    get,
    ids,
    nist_function,
    register,
)

# DESIGN §2, in the taxonomy's order.
DESIGN_IDS = [
    "specification-gaming",
    "reward-hacking",
    "goodhart.regressional",
    "goodhart.extremal",
    "goodhart.causal",
    "goodhart.adversarial",
    "reward-model-overoptimization",
    "goal-misgeneralization",
    "distribution-shift",
    "deceptive-alignment",
    "power-seeking",
    "side-effects",
    "sycophancy",
    "miscalibration",
    "hallucination",
    "over-refusal",
    "inconsistency",
    "jailbreak",
    "prompt-injection",
    "misuse",
    "bias",
    "unsafe-agent-action",
    "capability-loss",
]

BUILTIN = [m for m in all_modes() if m.id in DESIGN_IDS]


@pytest.fixture(autouse=True)
def _no_plugin_leaks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(model, "_extra", {})
    yield


def test_every_design_id_exactly_once_in_order() -> None:
    builtin_ids = [m.id for m in model._builtin().values()]
    assert builtin_ids == DESIGN_IDS
    raw = model.resources.files("alignkit.taxonomy").joinpath("failure_modes.yaml").read_text()
    listed = re.findall(r"^- id: (\S+)$", raw, flags=re.M)
    assert listed == DESIGN_IDS  # no duplicate hidden by the id → mode dict
    assert ids()[: len(DESIGN_IDS)] == DESIGN_IDS


@pytest.mark.parametrize("mode", BUILTIN, ids=lambda m: m.id)
def test_every_field_is_filled(mode: FailureMode) -> None:
    assert mode.title.strip() and mode.definition.strip()
    assert 2 <= len(mode.examples) <= 4
    assert 2 <= len(mode.mitigations) <= 4
    assert mode.nist
    for text in [*mode.examples, *mode.mitigations]:
        assert len(text.strip()) > 20, text
    # a definition of one or two sentences
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", mode.definition.strip()) if s]
    assert 1 <= len(sentences) <= 2, mode.definition
    assert mode.definition.rstrip().endswith(".")


@pytest.mark.parametrize("mode", BUILTIN, ids=lambda m: m.id)
def test_nist_codes_parse(mode: FailureMode) -> None:
    for code in mode.nist:
        assert nist_function(code) in NIST_FUNCTIONS
    assert len(set(mode.nist)) == len(mode.nist)


def test_every_nist_function_is_used() -> None:
    used = {nist_function(code) for m in BUILTIN for code in m.nist}
    assert used == set(NIST_FUNCTIONS)


@pytest.mark.parametrize(
    ("code", "function"),
    [
        ("MEASURE 2.6", "MEASURE"),
        ("GOVERN 1.4", "GOVERN"),
        ("MAP 1.1", "MAP"),
        ("MANAGE 4", "MANAGE"),
    ],
)
def test_nist_function(code: str, function: str) -> None:
    assert nist_function(code) == function


@pytest.mark.parametrize("bad", ["MEASURE2.6", "measure 2.6", "TEST 1.1", "MEASURE 2.6 ", ""])
def test_nist_function_rejects_malformed_codes(bad: str) -> None:
    with pytest.raises(ValueError, match="not a NIST AI RMF subcategory"):
        nist_function(bad)


def test_failure_mode_rejects_malformed_nist_code() -> None:
    with pytest.raises(ValidationError):
        FailureMode(id="acme.x", title="X", definition="Y.", nist=["MEASURE2.6"])


def test_get_and_unknown_id() -> None:
    assert get("sycophancy").title == "Sycophancy"
    with pytest.raises(KeyError):
        get("no-such-mode")


def _plugin(mode_id: str) -> FailureMode:
    return FailureMode(
        id=mode_id,
        title="Plugin mode",
        definition="A mode a plugin adds.",
        examples=["one", "two"],
        mitigations=["fix it", "watch it"],
        nist=["MEASURE 2.6"],
    )


def test_register_adds_a_namespaced_mode_after_builtins() -> None:
    register(_plugin("acme.widget-leak"))
    assert get("acme.widget-leak").title == "Plugin mode"
    assert ids()[-1] == "acme.widget-leak"
    assert ids()[: len(DESIGN_IDS)] == DESIGN_IDS


def test_register_refuses_a_taken_id() -> None:
    register(_plugin("acme.widget-leak"))
    with pytest.raises(FailureModeTaken, match="already exists"):
        register(_plugin("acme.widget-leak"))
    with pytest.raises(FailureModeTaken, match="already exists"):
        register(_plugin("sycophancy"))


@pytest.mark.parametrize("bad", ["goodhart.novel", "sycophancy.subtle"])
def test_register_needs_its_own_namespace(bad: str) -> None:
    with pytest.raises(FailureModeTaken, match="own namespace"):
        register(_plugin(bad))
    assert bad not in ids()


@pytest.mark.parametrize(
    "bad", ["widget-leak", ".x", "mine.", "mine..x", "mine.a b", "acme.rude\n", "Mine.Upper"]
)
def test_register_refuses_ids_that_are_not_namespaced_words(bad: str) -> None:
    """``.x`` passed the "has a dot" test with no namespace at all; ``mine.a b`` and a
    trailing newline were accepted as ids no command line could name."""
    with pytest.raises(FailureModeTaken, match="namespaced lower-case words"):
        register(_plugin(bad))
    assert bad not in ids()
