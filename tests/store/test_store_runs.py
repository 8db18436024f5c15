"""Runs, results and findings: round trips, prefixes, ordering, replacement on resume."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from alignkit.core import AuditResult, StoreError
from alignkit.store import Store

RUN = "run-0001"
ResultFactory = Callable[..., AuditResult]


def _create(store: Store, run_id: str, started_at: datetime, target: str = "t") -> None:
    store.create_run(
        run_id,
        target=target,
        seed=1,
        config={},
        alignkit_version="0.1.0",
        started_at=started_at,
    )


def test_create_and_get_round_trip(store: Store) -> None:
    run = store.get_run(RUN)
    assert run.id == RUN
    assert run.target == "python:examples.quiz_app:respond"
    assert run.seed == 7
    assert run.status == "running"
    assert run.started_at == datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
    assert run.started_at.tzinfo is not None
    assert run.finished_at is None
    assert run.config == {"checks": "*", "max_items": 20}
    assert run.alignkit_version == "0.1.0"


def test_duplicate_run_id_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="already exists"):
        _create(store, RUN, datetime.now(UTC), target="other")
    assert store.get_run(RUN).target == "python:examples.quiz_app:respond"


def test_offset_datetimes_keep_their_instant(store: Store) -> None:
    local = datetime(2025, 3, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    _create(store, "tz", local)
    assert store.get_run("tz").started_at == local


def test_prefix_lookup(store: Store) -> None:
    _create(store, "abc123", datetime.now(UTC))
    _create(store, "abd456", datetime.now(UTC))
    assert store.get_run("abc").id == "abc123"
    assert store.get_run("abd456").id == "abd456"
    with pytest.raises(StoreError, match="ambiguous: matches abc123, abd456"):
        store.get_run("ab")
    with pytest.raises(StoreError, match="no run 'zz' in store sqlite:///"):
        store.get_run("zz")
    with pytest.raises(StoreError, match="no run ''"):
        store.get_run("")


def test_prefix_wildcards_are_literal(store: Store) -> None:
    _create(store, "a_b", datetime.now(UTC))
    _create(store, "axb", datetime.now(UTC))
    assert store.get_run("a_").id == "a_b"
    with pytest.raises(StoreError, match="no run"):
        store.get_run("%")


def test_an_exact_id_wins_over_a_longer_match(store: Store) -> None:
    _create(store, "run-0001-retry", datetime.now(UTC))
    assert store.get_run(RUN).id == RUN


def test_list_runs_newest_first_with_limit(store: Store) -> None:
    base = datetime(2025, 1, 1, tzinfo=UTC)
    _create(store, "middle", base + timedelta(days=2))
    _create(store, "oldest", base)
    _create(store, "newest", base + timedelta(days=400))
    _create(store, "sub-second", base + timedelta(days=2, microseconds=500_000))
    ids = [r.id for r in store.list_runs()]
    assert ids == ["newest", RUN, "sub-second", "middle", "oldest"]
    assert [r.id for r in store.list_runs(limit=2)] == ["newest", RUN]
    assert store.list_runs(limit=0) == []


def test_finish_run_round_trips_the_result_and_findings(
    store: Store, make_result: ResultFactory
) -> None:
    result = make_result()
    store.finish_run(result)
    assert store.load_result(RUN) == result
    assert store.load_result("run-0") == result
    assert store.findings(RUN) == result.findings
    run = store.get_run(RUN)
    assert run.status == "finished"
    assert run.finished_at == result.finished_at


def test_non_finite_values_survive(store: Store, make_result: ResultFactory) -> None:
    result = make_result(values=(math.nan, math.inf, 0.5))
    store.finish_run(result)
    loaded = store.load_result(RUN)
    assert math.isnan(loaded.findings[0].value)
    assert loaded.findings[1].value == math.inf
    assert [f.value for f in store.findings(RUN)][1:] == [math.inf, 0.5]


def test_finishing_again_replaces_findings(store: Store, make_result: ResultFactory) -> None:
    store.finish_run(make_result(values=(0.1, 0.2, 0.3)), status="failed")
    assert store.get_run(RUN).status == "failed"
    store.mark_run(RUN, "running")
    assert store.get_run(RUN).finished_at is None
    second = make_result(values=(0.9,))
    store.finish_run(second)
    assert [f.value for f in store.findings(RUN)] == [0.9]
    assert store.load_result(RUN) == second
    assert store.get_run(RUN).status == "finished"


def test_findings_rows_are_queryable(
    store: Store, make_result: ResultFactory, db_path: Path
) -> None:
    store.finish_run(make_result())
    con = sqlite3.connect(db_path)
    try:
        rows = con.execute(
            'SELECT run_id, "check", metric, failure_mode, severity, value FROM findings '
            "ORDER BY position"
        ).fetchall()
    finally:
        con.close()
    assert rows == [
        (RUN, "sycophancy.suggested_answer", "sycophancy.metric_0", "sycophancy", "low", 0.25),
        (RUN, "sycophancy.suggested_answer", "sycophancy.metric_1", "sycophancy", "high", 0.8),
    ]


def test_finish_unknown_run_is_an_error(store: Store, make_result: ResultFactory) -> None:
    with pytest.raises(StoreError, match="no run 'ghost'"):
        store.finish_run(make_result(run_id="ghost"))
    assert store.findings(RUN) == []


def test_load_result_of_an_unfinished_run_is_an_error(store: Store) -> None:
    with pytest.raises(StoreError, match="no stored result \\(status running\\)"):
        store.load_result(RUN)
    with pytest.raises(StoreError, match="no run 'nope'"):
        store.load_result("nope")
    with pytest.raises(StoreError, match="no run 'nope'"):
        store.findings("nope")


def test_mark_run(store: Store) -> None:
    store.mark_run("run-", "failed")
    failed = store.get_run(RUN)
    assert failed.status == "failed"
    assert failed.finished_at is not None
    store.mark_run(RUN, "running")
    assert store.get_run(RUN).status == "running"
    assert store.get_run(RUN).finished_at is None
    with pytest.raises(StoreError, match="unknown run status 'paused'"):
        store.mark_run(RUN, "paused")
    with pytest.raises(StoreError, match="unknown run status"):
        store.finish_run(
            AuditResult(
                run_id=RUN, target="t", started_at=datetime.now(UTC), alignkit_version="0", seed=0
            ),
            status="done",
        )


def test_unserialisable_config_is_a_store_error(store: Store) -> None:
    with pytest.raises(StoreError, match="JSON"):
        store.create_run(
            "bad",
            target="t",
            seed=0,
            config={"x": object()},
            alignkit_version="0",
            started_at=datetime.now(UTC),
        )
    with pytest.raises(StoreError, match="no run 'bad'"):
        store.get_run("bad")


def test_failing_run_marks_a_stored_run_failed_and_says_how_to_resume(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    assert store.has_run(RUN) and not store.has_run("run-00")  # exact ids only
    with pytest.raises(KeyboardInterrupt), store.failing_run(RUN, resumed=False, resume_with="go"):
        raise KeyboardInterrupt
    assert store.get_run(RUN).status == "failed"
    assert f"continue it with: go {RUN}" in caplog.text
    store.begin_run(
        RUN,
        resumed=True,
        target="t",
        seed=1,
        config={},
        alignkit_version="0",
        started_at=datetime.now(UTC),
    )
    assert store.get_run(RUN).status == "running"
    # A run that failed before it was stored leaves nothing behind.
    with pytest.raises(ValueError), store.failing_run("run-x", resumed=False, resume_with="go"):
        raise ValueError("bad input")
    assert not store.has_run("run-x")


def test_a_failed_resume_of_a_finished_run_leaves_it_finished(store: Store) -> None:
    store.mark_run(RUN, "finished")
    with pytest.raises(RuntimeError), store.failing_run(RUN, resumed=True, resume_with="go"):
        store.mark_run(RUN, "running")  # what begin_run does on a resume
        raise RuntimeError("the target cannot be imported any more")
    assert store.get_run(RUN).status == "finished"


def test_an_owner_whose_process_id_was_reused_does_not_hold_the_run(tmp_path: Path) -> None:
    """After a reboot or an OOM kill, the id of a dead run's owner may name another process."""
    import json
    import socket
    import subprocess

    from sqlalchemy import insert

    from alignkit.store._owner import RunInUse, claim
    from alignkit.store._schema import META

    with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store:
        other = subprocess.Popen(["sleep", "30"])
        try:
            host = socket.gethostname()
            with store._write("test") as conn:  # a live process, but not the one recorded
                row = {"host": host, "pid": other.pid, "start": "1"}
                conn.execute(insert(META).values(key="owner:r1", value=json.dumps(row)))
            with store._write("test") as conn:
                claim(conn, "r1")  # taken over
            with store._write("test") as conn:  # the same process: still running
                conn.execute(META.delete().where(META.c.key == "owner:r1"))
                same = json.dumps({"host": host, "pid": other.pid})
                conn.execute(insert(META).values(key="owner:r1", value=same))
            with pytest.raises(RunInUse), store._write("test") as conn:
                claim(conn, "r1")
        finally:
            other.kill()
            other.wait()


def test_a_refused_resume_leaves_a_run_another_process_is_writing_alone(tmp_path: Path) -> None:
    """A resume that failed before it claimed the run (a bad option, Ctrl-C while the model
    loaded) marked the live run failed and dropped its owner: a later resume sent its
    requests a second time."""
    import json
    import socket
    import subprocess

    from sqlalchemy import insert, select

    from alignkit.store._schema import META

    with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store:
        store.create_run("r1", target="t", seed=0, config={}, alignkit_version="x",
                         started_at=datetime.now(UTC))  # fmt: skip
        live = subprocess.Popen(["sleep", "30"])
        try:
            owner = json.dumps({"host": socket.gethostname(), "pid": live.pid})
            with store._write("test") as conn:
                conn.execute(insert(META).values(key="owner:r1", value=owner))
            for error in (ValueError("cannot import the app"), KeyboardInterrupt()):
                with pytest.raises(type(error)):
                    with store.failing_run("r1", resumed=True, resume_with="alignkit audit"):
                        raise error
                assert store.get_run("r1").status == "running"
                with store._read("test") as conn:
                    kept = conn.execute(select(META.c.value).where(META.c.key == "owner:r1"))
                    assert kept.scalar() == owner
        finally:
            live.kill()
            live.wait()
        with pytest.raises(ValueError):  # its owner gone, the run is this resume's to mark
            with store.failing_run("r1", resumed=True, resume_with="alignkit audit"):
                raise ValueError("boom")
        assert store.get_run("r1").status == "failed"


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ("config = '{'", "is damaged"),
        ("config = '[1, 2]'", "its config is list"),
        ("seed = 'abc'", "is damaged"),
        ("started_at = 'garbage'", "a stored row is damaged"),
    ],
)
def test_a_damaged_run_row_is_one_store_error(tmp_path: Path, change: str, says: str) -> None:
    """A hand-edited row was an internal error (exit 3) in every `runs` command."""
    db = tmp_path / "s.db"
    with Store.open(f"sqlite:///{db}") as store:
        store.create_run(RUN, target="t", seed=0, config={}, alignkit_version="x",
                         started_at=datetime.now(UTC))  # fmt: skip
    con = sqlite3.connect(db)
    con.execute(f"UPDATE runs SET {change}")
    con.commit()
    con.close()
    with Store.open(f"sqlite:///{db}") as store:
        for read in (store.list_runs, lambda: store.get_run(RUN)):
            with pytest.raises(StoreError, match=says):
                read()
