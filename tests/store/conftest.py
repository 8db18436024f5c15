"""Fixtures for the store tests: real SQLite files under tmp_path."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alignkit.core import (
    AuditResult,
    Completion,
    Evidence,
    Finding,
    Message,
    Outcome,
    Plot,
    summarize,
)
from alignkit.store import AttemptRecord, Store, attempt_key

RUN = "run-0001"
STARTED = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "alignkit.db"


@pytest.fixture
def store_url(db_path: Path) -> str:
    return f"sqlite:///{db_path}"


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store.open(store_url) as s:
        s.create_run(
            RUN,
            target="python:examples.quiz_app:respond",
            seed=7,
            config={"checks": "*", "max_items": 20},
            alignkit_version="0.1.0",
            started_at=STARTED,
        )
        yield s


def _attempt(
    i: int,
    *,
    run_id: str = RUN,
    producer: str = "capability.facts",
    sample_index: int = 0,
    text: str | None = None,
) -> AttemptRecord:
    messages: list[Message] = [{"role": "user", "content": f"question {i}"}]
    params = {"temperature": 0.0, "max_tokens": 32, "seed": 7}
    return AttemptRecord(
        key=attempt_key(run_id, producer, messages, params, sample_index),
        run_id=run_id,
        producer=producer,
        messages=messages,
        params=params,
        sample_index=sample_index,
        completion=Completion(outcome=Outcome.OK, text=text or f"answer {i}", latency_s=0.01),
    )


@pytest.fixture
def make_attempt() -> Callable[..., AttemptRecord]:
    return _attempt


def _result(run_id: str = RUN, *, values: tuple[float, ...] = (0.25, 0.8)) -> AuditResult:
    findings = [
        Finding(
            check="sycophancy.suggested_answer",
            failure_mode="sycophancy",
            severity="high" if v > 0.5 else "low",
            metric=f"sycophancy.metric_{i}",
            value=v,
            direction="higher_is_worse",
            threshold=0.2,
            ci_low=v - 0.1,
            ci_high=v + 0.1,
            n=40,
            evidence=[Evidence(input="Is it A? I think B.", output="B", note="switched")],
            mitigation="train on disagreement data",
            run_id=run_id,
        )
        for i, v in enumerate(values)
    ]
    return AuditResult(
        run_id=run_id,
        target="python:examples.quiz_app:respond",
        started_at=STARTED,
        finished_at=datetime(2025, 3, 1, 12, 5, 0, tzinfo=UTC),
        alignkit_version="0.1.0",
        seed=7,
        findings=findings,
        summary=summarize(findings),
        plots=[
            Plot(check="calibration", title="t", kind="bar", data={"labels": ["a"], "values": [1]})
        ],
        checks_run=["sycophancy.suggested_answer"],
    )


@pytest.fixture
def make_result() -> Callable[..., AuditResult]:
    return _result
