"""The GoodhartMonitor walk-through alarms after the gold peak, and never on an honest run."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import examples_helpers
import pytest


@pytest.fixture(scope="module")
def example() -> Iterator[ModuleType]:
    with examples_helpers.example("goodhart_monitor.py") as module:
        yield module


def test_the_walk_through(example: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    runs = example.main()
    printed = capsys.readouterr().out

    over = runs["over-optimised"]
    assert over.alarm_step is not None and over.alarm_step > example.GOLD_PEAK
    assert over.changes[-1] == (over.alarm_step, "overoptimised")  # it latches
    assert over.final.startswith("overoptimised: gold")
    assert f"alarm at step {over.alarm_step:g}" in printed

    honest = runs["honest"]
    assert honest.alarm_step is None and honest.changes == []  # ok from start to end
    assert honest.final == f"ok at step {example.STEPS}"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_other_seeds(example: ModuleType, seed: int, capsys: pytest.CaptureFixture[str]) -> None:
    over = example.train("over-optimised", peaking=True, seed=seed)
    assert over.alarm_step is not None
    # never overoptimised at or before the true peak
    assert all(step > example.GOLD_PEAK for step, state in over.changes if state == "overoptimised")
    honest = example.train("honest", peaking=False, seed=seed)
    assert honest.alarm_step is None and honest.changes == []
