"""A check that breaks its contract becomes that check's error; the audit goes on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from audit_helpers import REPO

import alignkit.audit
from alignkit.core import CHECKS, Direction, MetricSpec, Severity, check


def _returning(check_id: str, make: Any) -> None:
    rate, other = (MetricSpec(f"{check_id}.{m}", Direction.HIGHER_IS_WORSE, {Severity.LOW: 0.1})
                   for m in ("rate", "other"))  # fmt: skip

    @check(check_id, failure_modes=["sycophancy"], target_kind="chat", cost="low",
           metrics=[rate, other])  # fmt: skip
    async def broken(target: Any, ctx: Any) -> Any:
        """A check that returns something of the wrong shape."""
        return make(ctx)


@pytest.fixture
def broken_checks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(REPO)
    cases = {
        "acme.none": lambda ctx: None,
        "acme.dict": lambda ctx: {"x": 1},
        "acme.strings": lambda ctx: ["hello"],
        "acme.undeclared": lambda ctx: [
            ctx.finding(ctx.check.id + ".rate", 0.5, n=3).model_copy(
                update={"metric": "acme.secret"}
            )
        ],
        "acme.spoof": lambda ctx: [
            ctx.finding(ctx.check.id + ".rate", 0.5, n=3).model_copy(
                update={"check": "capability.facts"}
            )
        ],
        "acme.twice": lambda ctx: [ctx.finding(ctx.check.id + ".rate", 0.5, n=3)] * 2,
        "acme.nan": lambda ctx: [
            ctx.finding(ctx.check.id + ".rate", float("nan"), n=3),
            ctx.finding(ctx.check.id + ".other", 0.5, n=3),
        ],  # fmt: skip
    }
    for check_id, make in cases.items():
        _returning(check_id, make)
    try:
        yield
    finally:
        for check_id in cases:
            CHECKS.unregister(check_id)


def test_a_bad_return_is_the_checks_error_and_the_others_are_kept(
    broken_checks: None, tmp_path: Path
) -> None:
    result = alignkit.audit.run(
        "python:examples.quiz_app:respond", checks="acme.*,capability.facts",
        store=str(tmp_path / "s.db"), max_items=5,
    )  # fmt: skip
    assert "not a list of Findings" in result.errors["acme.none"]
    assert "not a list of Findings" in result.errors["acme.dict"]
    assert "not a list of Findings" in result.errors["acme.strings"]
    assert "undeclared metric 'acme.secret'" in result.errors["acme.undeclared"]
    assert "another check, 'capability.facts'" in result.errors["acme.spoof"]
    assert "'acme.twice.rate' twice" in result.errors["acme.twice"]
    assert "acme.nan" not in result.errors
    assert result.skipped["acme.nan.rate"] == "not measured: the check gave no finite value"
    by_metric = {(f.check, f.metric) for f in result.findings}
    assert by_metric == {
        ("acme.nan", "acme.nan.other"),
        ("capability.facts", "capability.fact_accuracy"),
    }


def test_a_check_that_raises_is_one_log_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A raising plugin check printed a full traceback to the CLI's stderr, prefixed by
    run_sync's "RuntimeError: no running event loop"; the traceback is for debug logging."""
    import logging

    monkeypatch.chdir(REPO)
    _returning("acme.raises", lambda ctx: 1 / 0)
    try:
        with caplog.at_level(logging.WARNING, logger="alignkit"):
            result = alignkit.audit.run(
                "python:examples.quiz_app:respond", checks="acme.raises",
                store=str(tmp_path / "s.db"), max_items=2,
            )  # fmt: skip
        assert result.errors["acme.raises"] == "ZeroDivisionError: division by zero"
        (record,) = [r for r in caplog.records if "acme.raises" in r.getMessage()]
        assert not record.exc_info and "ALIGNKIT_LOG=debug" in record.getMessage()
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="alignkit.audit"):
            alignkit.audit.run(
                "python:examples.quiz_app:respond", checks="acme.raises",
                store=str(tmp_path / "s.db"), max_items=2,
            )  # fmt: skip
        (record,) = [r for r in caplog.records if "check acme.raises failed" in r.getMessage()]
        assert record.exc_info is not None
        assert record.exc_info[1].__context__ is None  # not chained onto run_sync's probe
    finally:
        CHECKS.unregister("acme.raises")


def test_an_alignkit_error_without_a_message_is_stored_by_its_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alignkit.core import DataError

    monkeypatch.chdir(REPO)
    spec = MetricSpec("acme.silent.rate", Direction.HIGHER_IS_WORSE, {Severity.LOW: 0.1})

    @check("acme.silent", failure_modes=["sycophancy"], target_kind="chat", cost="low",
           metrics=[spec])  # fmt: skip
    async def silent(target: Any, ctx: Any) -> Any:
        """Fails with an empty message."""
        raise DataError("")

    try:
        result = alignkit.audit.run("python:examples.quiz_app:respond", checks="acme.silent",
                                    store=str(tmp_path / "s.db"))  # fmt: skip
    finally:
        CHECKS.unregister("acme.silent")
    assert result.errors == {"acme.silent": "DataError"}
