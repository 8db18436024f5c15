"""Schema migrations, for real: a v1 store on disk meets a test-only v2 step."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Connection

from alignkit.core import AuditResult, StoreError
from alignkit.store import AttemptRecord, Store, _migrations
from alignkit.store._migrations import BASE_VERSION, Migration

RUN = "run-0001"


def _add_notes(conn: Connection) -> None:
    conn.exec_driver_sql("ALTER TABLE runs ADD COLUMN note TEXT")
    conn.exec_driver_sql("UPDATE runs SET note = 'carried over'")


def _broken(conn: Connection) -> None:
    conn.exec_driver_sql("CREATE TABLE guard_decisions (id INTEGER PRIMARY KEY)")
    conn.exec_driver_sql("DELETE FROM attempts")
    raise RuntimeError("step exploded halfway")


def _meta(path: Path) -> dict[str, str]:
    con = sqlite3.connect(path)
    try:
        return dict(con.execute("SELECT key, value FROM alignkit_meta").fetchall())
    finally:
        con.close()


def _tables(path: Path) -> set[str]:
    con = sqlite3.connect(path)
    try:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        con.close()


# Tables added after v1 (v2: the guard's log; v3: approvals and traffic findings).
V2_TABLES = ("guard_log", "guard_decisions", "approvals", "traffic_findings")


@pytest.fixture
def v1_store(
    db_path: Path,
    store_url: str,
    make_attempt: Callable[..., AttemptRecord],
    make_result: Callable[..., AuditResult],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[AuditResult, dict[str, AttemptRecord]]:
    """A closed v1 store on disk with a finished run and 30 attempts.

    The current schema is newer than v1, so the store is created with no migration
    steps registered and the tables later versions added are dropped again.
    """
    assert BASE_VERSION == 1
    with monkeypatch.context() as patch:
        patch.setattr(_migrations, "MIGRATIONS", [])
        Store.open(store_url).close()
    con = sqlite3.connect(db_path)
    try:
        for table in V2_TABLES:
            con.execute(f"DROP TABLE {table}")
        con.commit()
    finally:
        con.close()
    monkeypatch.setattr(_migrations, "MIGRATIONS", [])
    with Store.open(store_url) as store:
        assert store.schema_version == 1
        store.create_run(
            RUN,
            target="t",
            seed=3,
            config={"a": 1},
            alignkit_version="0.1.0",
            started_at=make_result().started_at,
        )
        with store.writer() as writer:
            for i in range(30):
                writer.add(make_attempt(i))
        result = make_result()
        store.finish_run(result)
        attempts = store.attempts(RUN)
    return result, attempts


def test_v1_store_migrates_to_a_registered_v2(
    db_path: Path,
    store_url: str,
    v1_store: tuple[AuditResult, dict[str, AttemptRecord]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    result, attempts = v1_store
    monkeypatch.setattr(_migrations, "MIGRATIONS", [Migration(2, "add run notes", _add_notes)])

    with caplog.at_level(logging.WARNING, logger="alignkit.store"), Store.open(store_url) as store:
        assert store.schema_version == 2
        assert store.load_result(RUN) == result
        assert store.findings(RUN) == result.findings
        assert store.attempts(RUN) == attempts
        assert store.get_run(RUN).config == {"a": 1}
    assert any("from schema v1 to v2" in r.getMessage() for r in caplog.records)
    assert any("bak-v1" in r.getMessage() for r in caplog.records)

    meta = _meta(db_path)
    assert meta["schema_version"] == "2"
    assert meta["migration.v2"].startswith("add run notes")
    con = sqlite3.connect(db_path)
    try:
        assert con.execute("SELECT note FROM runs").fetchall() == [("carried over",)]
    finally:
        con.close()

    backup = db_path.with_name(db_path.name + ".bak-v1")
    assert backup.is_file()
    assert _meta(backup)["schema_version"] == "1"
    con = sqlite3.connect(backup)
    try:
        columns = {r[1] for r in con.execute("PRAGMA table_info(runs)")}
        assert "note" not in columns
        assert con.execute("SELECT count(*) FROM attempts").fetchone()[0] == 30
        assert con.execute("SELECT count(*) FROM findings").fetchone()[0] == len(result.findings)
    finally:
        con.close()

    # Opening again is a no-op: no second migration, no second backup.
    with Store.open(store_url) as store:
        assert store.schema_version == 2
    assert sorted(p.name for p in db_path.parent.glob("*.bak-*")) == [backup.name]


def test_failed_migration_leaves_the_store_unchanged(
    db_path: Path,
    store_url: str,
    v1_store: tuple[AuditResult, dict[str, AttemptRecord]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result, attempts = v1_store
    monkeypatch.setattr(_migrations, "MIGRATIONS", [Migration(2, "broken step", _broken)])
    with pytest.raises(StoreError, match="v2 \\(broken step\\) failed: step exploded") as info:
        Store.open(store_url)
    assert "unchanged at v1" in str(info.value)
    assert _meta(db_path)["schema_version"] == "1"
    assert "guard_decisions" not in _tables(db_path)  # the DDL was rolled back too
    for _ in range(2):  # each failed try left another full copy beside the store
        with pytest.raises(StoreError):
            Store.open(store_url)
    assert not list(db_path.parent.glob(db_path.name + ".bak-*"))

    monkeypatch.setattr(_migrations, "MIGRATIONS", [])
    with Store.open(store_url) as store:
        assert store.schema_version == 1
        assert store.attempts(RUN) == attempts
        assert store.load_result(RUN) == result


def test_backup_name_does_not_overwrite_an_earlier_backup(
    db_path: Path,
    store_url: str,
    v1_store: tuple[AuditResult, dict[str, AttemptRecord]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    earlier = db_path.with_name(db_path.name + ".bak-v1")
    earlier.write_bytes(b"an older backup")
    monkeypatch.setattr(_migrations, "MIGRATIONS", [Migration(2, "add run notes", _add_notes)])
    with Store.open(store_url) as store:
        assert store.schema_version == 2
    assert earlier.read_bytes() == b"an older backup"
    assert _meta(db_path.with_name(db_path.name + ".bak-v1-2"))["schema_version"] == "1"


def test_two_steps_run_in_order(
    db_path: Path,
    store_url: str,
    v1_store: tuple[AuditResult, dict[str, AttemptRecord]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def add_table(conn: Connection) -> None:
        conn.exec_driver_sql("CREATE TABLE approvals (id TEXT PRIMARY KEY, note TEXT)")
        conn.exec_driver_sql("INSERT INTO approvals SELECT id, note FROM runs")

    steps = [Migration(2, "add run notes", _add_notes), Migration(3, "approvals", add_table)]
    monkeypatch.setattr(_migrations, "MIGRATIONS", steps)
    with Store.open(store_url) as store:
        assert store.schema_version == 3
    con = sqlite3.connect(db_path)
    try:
        assert con.execute("SELECT id, note FROM approvals").fetchall() == [(RUN, "carried over")]
    finally:
        con.close()


def test_a_gap_in_the_migration_list_is_refused(
    store_url: str,
    v1_store: tuple[AuditResult, dict[str, AttemptRecord]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_migrations, "MIGRATIONS", [Migration(3, "skips v2", _add_notes)])
    with pytest.raises(StoreError, match="migration list is broken"):
        Store.open(store_url)


@pytest.mark.parametrize("version", ["0", "-5"])
def test_a_version_no_alignkit_wrote_is_a_damaged_store(
    db_path: Path, store_url: str, v1_store: tuple[AuditResult, dict[str, AttemptRecord]],
    version: str,
) -> None:  # fmt: skip
    con = sqlite3.connect(db_path)
    con.execute("UPDATE alignkit_meta SET value = ? WHERE key = 'schema_version'", (version,))
    con.commit()
    con.close()
    with pytest.raises(StoreError, match=f"schema v{version}, which no alignkit wrote"):
        Store.open(store_url)
    assert not list(db_path.parent.glob(db_path.name + ".bak-*"))


def test_processes_opening_an_old_store_at_once_migrate_it_once(
    db_path: Path, store_url: str, v1_store: tuple[AuditResult, dict[str, AttemptRecord]]
) -> None:
    """Each process that lost the race said it had migrated, and left a full backup."""
    import subprocess
    import sys
    import time

    start = time.time() + 3.0  # all read v1 before any has migrated
    code = (
        "import logging, sys, time\n"
        "from alignkit.store import Store\n"
        "logging.basicConfig(level=logging.WARNING)\n"
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
        "Store.open(sys.argv[1]).close()\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, store_url, str(start)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    said = [p.communicate(timeout=120)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), said
    (told,) = [s for s in said if "migrated alignkit store" in s]
    named = Path(told.split("(backup of v1: ", 1)[1].split(")")[0])
    assert named.is_file() and _meta(named)["schema_version"] == "1"  # a loser deleted it
    assert list(db_path.parent.glob("*.bak-*")) == [named]
    assert int(_meta(db_path)["schema_version"]) > 1  # (this process patched the steps away)
