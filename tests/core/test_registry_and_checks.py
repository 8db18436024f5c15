from __future__ import annotations

from typing import Any

import pytest

from alignkit.core import (
    CHECKS,
    ConfigError,
    Direction,
    MetricSpec,
    Registry,
    RegistryError,
    Severity,
    UnknownIdError,
    check,
    load_config,
)

RATE = MetricSpec(
    "demo.rate",
    Direction.HIGHER_IS_WORSE,
    {Severity.LOW: 0.05, Severity.MEDIUM: 0.2, Severity.HIGH: 0.5},
)
ACC = MetricSpec("demo.acc", Direction.LOWER_IS_WORSE, {Severity.LOW: 0.9, Severity.HIGH: 0.5})


def test_severity_order() -> None:
    assert Severity.INFO < Severity.LOW < Severity.MEDIUM < Severity.HIGH < Severity.CRITICAL
    assert max([Severity.LOW, Severity.HIGH, Severity.MEDIUM]) is Severity.HIGH


def test_severity_compares_with_its_name_in_the_same_order() -> None:
    """``Severity.CRITICAL >= "high"`` was False: a plain string compared alphabetically."""
    assert [s >= "high" for s in Severity] == [False, False, False, True, True]
    assert "medium" < Severity.CRITICAL and Severity.INFO <= "info"
    with pytest.raises(ValueError, match="'severe' is not a severity"):
        assert Severity.LOW < "severe"


@pytest.mark.parametrize(
    ("spec", "value", "expected", "threshold"),
    [
        (RATE, 0.0, Severity.INFO, 0.05),
        (RATE, 0.05, Severity.LOW, 0.05),
        (RATE, 0.3, Severity.MEDIUM, 0.2),
        (RATE, 0.9, Severity.HIGH, 0.5),
        (ACC, 0.95, Severity.INFO, 0.9),
        (ACC, 0.7, Severity.LOW, 0.9),
        (ACC, 0.5, Severity.HIGH, 0.5),
    ],
)
def test_metric_severity(
    spec: MetricSpec, value: float, expected: Severity, threshold: float
) -> None:
    assert spec.severity_of(value) == (expected, threshold)


def test_metric_specs_read_text_and_refuse_what_cannot_be_judged() -> None:
    """A direction given as text compared unequal to the enum and inverted every severity."""
    text = MetricSpec("demo.t", "higher_is_worse", {"low": 0.1, "high": "0.5"})  # type: ignore[arg-type]
    assert text.severity_of(0.9) == (Severity.HIGH, 0.5)
    assert text.severity_of(0.0) == (Severity.INFO, 0.1)
    bad = [
        (("rate", Direction.HIGHER_IS_WORSE, {}), "must be namespaced"),
        (("demo.x", "up", {}), "'up' is not a valid Direction"),
        (("demo.x", Direction.HIGHER_IS_WORSE, {"severe": 1}), "'severe' is not a valid"),
        (("demo.x", Direction.HIGHER_IS_WORSE, {Severity.LOW: 0.5, Severity.HIGH: 0.1}),
         "a more severe level needs a higher threshold"),
        (("demo.x", Direction.LOWER_IS_WORSE, {Severity.LOW: 0.5, Severity.HIGH: 0.9}),
         "needs a lower threshold"),
        (("demo.x", Direction.LOWER_IS_WORSE, {Severity.LOW: float("nan")}), "numbers"),
    ]  # fmt: skip
    for args, message in bad:
        with pytest.raises(ConfigError, match=message):
            MetricSpec(*args)  # type: ignore[arg-type]


def test_registry_refuses_override_and_suggests() -> None:
    reg: Registry[int] = Registry("widget")
    reg.register("alpha", 1, origin="alignkit.x")
    with pytest.raises(RegistryError, match="already registered"):
        reg.register("alpha", 2, origin="thirdparty")
    assert reg.get("alpha") == 1
    with pytest.raises(UnknownIdError, match="did you mean alpha"):
        reg.get("alpah")
    reg.register("beta", 2)
    assert list(reg) == reg.ids() == ["alpha", "beta"] and len(reg) == 2


def test_check_decorator_registers_and_validates() -> None:
    @check(
        "test.demo-check",
        failure_modes=["sycophancy"],
        target_kind="chat",
        cost="low",
        metrics=[RATE],
    )
    async def demo(target: object, ctx: object) -> list[object]:
        """A demo check."""
        return []

    try:
        spec = CHECKS.get("test.demo-check")
        assert spec.summary == "A demo check."
        assert spec.metric("demo.rate") is RATE
        with pytest.raises(ConfigError):
            spec.metric("nope")
        with pytest.raises(RegistryError):
            check(
                "test.demo-check",
                failure_modes=["sycophancy"],
                target_kind="chat",
                cost="low",
                metrics=[RATE],
            )(demo)
    finally:
        CHECKS.unregister("test.demo-check")

    with pytest.raises(ConfigError, match="async"):
        check("test.sync", failure_modes=["x"], target_kind="chat", cost="low", metrics=[RATE])(
            lambda t, c: []  # type: ignore[arg-type, return-value]
        )


def test_check_declarations_follow_the_rules_plugins_are_told() -> None:
    """Unknown failure modes, costs, no docstring and a metric id of another check passed."""

    async def documented(target: object, ctx: object) -> list[object]:
        """A check."""
        return []

    async def bare(target: object, ctx: object) -> list[object]:
        return []

    other = MetricSpec("demo.other", Direction.HIGHER_IS_WORSE, {})
    cases = [
        (dict(failure_modes=["made-up-mode"]), documented, "unknown failure mode 'made-up-mode'"),
        (dict(failure_modes=[]), documented, "names no failure mode"),
        (dict(cost="free"), documented, "cost must be one of low, medium, high"),
        ({}, bare, "needs a docstring"),
        (dict(metrics=[other, other]), documented, "declares a metric twice"),
        (dict(metrics=[MetricSpec("capability.fact_accuracy", Direction.HIGHER_IS_WORSE, {})]),
         documented, "already declared by check 'capability.facts'"),
    ]  # fmt: skip
    for change, fn, message in cases:
        args: dict[str, Any] = dict(failure_modes=["sycophancy"], target_kind="chat",
                                    cost="low", metrics=[other]) | change  # fmt: skip
        with pytest.raises(ConfigError, match=message):
            check("test.rules", **args)(fn)
        assert "test.rules" not in CHECKS


def test_config_errors_are_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "alignkit.yaml"
    bad.write_text("audit:\n  concurrency: -3\n")
    with pytest.raises(ConfigError, match=r"audit\.concurrency") as info:
        load_config(bad)
    assert "\n" not in str(info.value)
    bad.write_text("audit: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    bad.write_text("unknown_key: 1\n")
    with pytest.raises(ConfigError, match="unknown_key"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        ({"stages": [], "failure_modes": ["misuse"]}, "names no stage"),
        ({"stages": ["middle"], "failure_modes": ["misuse"]}, "stages must be input and/or output"),
        ({"stages": ["input"], "failure_modes": []}, "names no failure mode"),
        ({"stages": ["input"], "failure_modes": ["not-a-mode"]}, "unknown failure mode"),
        ({"stages": ["input"], "failure_modes": ["misuse"], "tier": "turbo"}, "tier must be"),
    ],
)
def test_rail_declarations_are_validated_like_checks(
    declaration: dict[str, Any], message: str
) -> None:
    """A tier of 'turbo' left the rail with no budget; no stage, no failure mode went unseen."""
    from alignkit.core import RAILS, ConfigError, rail

    with pytest.raises(ConfigError, match=message):
        rail("test-declared", **declaration)(lambda options: None)  # type: ignore[arg-type,return-value]
    assert "test-declared" not in RAILS.ids()


def test_evidence_texts_are_cut() -> None:
    """A pack of 1 MB questions put 5 MB of evidence into report.json."""
    from alignkit.core import Evidence

    ev = Evidence(input="q" * 1_000_000, output="a" * 5000, note="short")
    assert len(ev.input) == len(ev.output) == 4000 and ev.input.endswith("…")
    assert ev.note == "short"
