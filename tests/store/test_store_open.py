"""Opening stores: creation, refusals that leave files untouched, translated errors."""

from __future__ import annotations

import importlib.util
import json
import os
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alignkit.core import SchemaVersionError, StoreError
from alignkit.store import AttemptRecord, Store
from alignkit.store._migrations import latest_version

MakeAttempt = Callable[..., AttemptRecord]


def _snapshot(path: Path) -> bytes:
    return path.read_bytes()


def test_open_creates_parent_folders_and_a_wal_store(db_path: Path, store_url: str) -> None:
    assert not db_path.parent.exists()
    with Store.open(store_url) as store:
        assert store.schema_version == latest_version()
    assert db_path.is_file()
    con = sqlite3.connect(db_path)
    try:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        meta = dict(con.execute("SELECT key, value FROM alignkit_meta").fetchall())
        assert meta["schema_version"] == str(latest_version())
        assert "created_by" in meta
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"alignkit_meta", "runs", "findings", "attempts"} <= tables
    finally:
        con.close()


def test_reopening_keeps_data(store_url: str, store: Store) -> None:
    store.close()
    with Store.open(store_url, create=False) as again:
        assert again.get_run("run-0001").seed == 7


def test_create_false_refuses_a_missing_store_and_creates_nothing(db_path: Path) -> None:
    with pytest.raises(StoreError, match="no alignkit store"):
        Store.open(f"sqlite:///{db_path}", create=False)
    assert not db_path.exists()
    assert not db_path.parent.exists()


def test_create_false_refuses_an_empty_database(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    with pytest.raises(StoreError, match="no alignkit store"):
        Store.open(f"sqlite:///{path}", create=False)
    assert path.read_bytes() == b""


def test_garbage_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(bytes(range(256)) * 40)
    before = _snapshot(path)
    with pytest.raises(StoreError, match="not an SQLite database") as info:
        Store.open(f"sqlite:///{path}")
    assert "\n" not in str(info.value)
    assert _snapshot(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["garbage.db"]


def test_corrupt_database_behind_a_valid_header_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff\x13" * 3000)
    before = _snapshot(path)
    with pytest.raises(StoreError) as info:
        Store.open(f"sqlite:///{path}")
    assert str(info.value).startswith("cannot read the schema in store")
    assert "\n" not in str(info.value)
    assert _snapshot(path) == before


def test_foreign_sqlite_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("INSERT INTO users (name) VALUES ('ada')")
    con.commit()
    con.close()
    before = _snapshot(path)
    with pytest.raises(StoreError, match="not an alignkit store .*users") as info:
        Store.open(f"sqlite:///{path}")
    assert not isinstance(info.value, SchemaVersionError)
    assert _snapshot(path) == before
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert con.execute("SELECT name FROM users").fetchall() == [("ada",)]
    finally:
        con.close()


def test_newer_schema_is_refused_untouched(db_path: Path, store_url: str) -> None:
    Store.open(store_url).close()
    newer = latest_version() + 1
    con = sqlite3.connect(db_path)
    con.execute(f"UPDATE alignkit_meta SET value = '{newer}' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    before = _snapshot(db_path)
    expected = (
        f"has schema v{newer}; this alignkit reads up to v{latest_version()} — upgrade alignkit"
    )
    with pytest.raises(SchemaVersionError, match=expected):
        Store.open(store_url)
    assert _snapshot(db_path) == before
    assert not list(db_path.parent.glob("*.bak-*"))


def test_damaged_meta_table_is_an_error(db_path: Path, store_url: str) -> None:
    Store.open(store_url).close()
    con = sqlite3.connect(db_path)
    con.execute("DELETE FROM alignkit_meta WHERE key = 'schema_version'")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="damaged meta table"):
        Store.open(store_url)


def test_unwritable_location_parent_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="is a file, not a folder"):
        Store.open(f"sqlite:///{blocker}/sub/alignkit.db")
    assert blocker.read_text() == "x"


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores folder permissions"
)
def test_unwritable_location_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    try:
        with pytest.raises(StoreError, match="not writable"):
            Store.open(f"sqlite:///{folder}/alignkit.db")
    finally:
        folder.chmod(0o700)


def test_a_folder_is_not_a_store(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a directory"):
        Store.open(f"sqlite:///{tmp_path}")


@pytest.mark.parametrize("url", ["not a url ::", "nosuchdialect://x/y"])
def test_bad_urls_are_store_errors(url: str) -> None:
    with pytest.raises(StoreError):
        Store.open(url)


def test_missing_driver_is_a_store_error() -> None:
    if importlib.util.find_spec("psycopg2") is not None:
        pytest.skip("psycopg2 is installed")
    with pytest.raises(StoreError, match="driver"):
        Store.open("postgresql+psycopg2://u:secret@127.0.0.1:1/db")


def test_closed_store_refuses_work(store: Store) -> None:
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        store.list_runs()


def test_in_memory_store_is_shared_between_threads(make_attempt: MakeAttempt) -> None:
    with Store.open("sqlite://") as store:
        store.create_run(
            "mem",
            target="t",
            seed=0,
            config={},
            alignkit_version="0",
            started_at=datetime(2025, 1, 1),
        )
        errors: list[BaseException] = []

        def work(offset: int) -> None:
            try:
                with store.writer(flush_every=7) as writer:
                    for i in range(50):
                        writer.add(make_attempt(offset + i, run_id="mem"))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(k * 1000,)) for k in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert store.count_attempts("mem") == 150
        assert store.get_run("mem").target == "t"


def test_a_store_path_is_taken_as_written(tmp_path: Path) -> None:
    """`--store 'nightly?.db'` wrote to `nightly` (`?` read as URL options) and
    `--store 'x%41.db'` looked for `xA.db`."""
    from alignkit.core import resolve_store_url

    for name in ("nightly?.db", "x%41.db", "50%.db", "a#b.db"):
        path = tmp_path / name
        with Store.open(resolve_store_url(str(path))) as store:
            assert store.list_runs() == []
        assert path.is_file(), name
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".db") == sorted(
        ["nightly?.db", "x%41.db", "50%.db", "a#b.db"])  # fmt: skip


def test_a_wal_store_on_read_only_media_is_read(tmp_path: Path) -> None:
    """A WAL store needs its -shm file beside it: on read-only media every reading command
    failed with "unable to open database file"."""
    import shlex
    import shutil
    import subprocess
    import sys

    folder = tmp_path / "me%41dia?#x"  # kept as written through the file: URI
    folder.mkdir()
    from alignkit.core import resolve_store_url

    with Store.open(resolve_store_url(str(folder / "s.db"))) as store:
        store.create_run("r1", target="t", seed=0, config={}, alignkit_version="x",
                         started_at=datetime.now(UTC))  # fmt: skip
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare")
    d, db = shlex.quote(str(folder)), shlex.quote(str(folder / "s.db"))
    script = (
        f"mount --bind {d} {d} && mount -o remount,ro,bind {d} {d}"
        f" && {sys.executable} -m alignkit runs list --json --store {db}"
    )
    proc = subprocess.run(["unshare", "-m", "bash", "-c", script], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    if "mount:" in proc.stderr or "unshare:" in proc.stderr:
        pytest.skip(f"cannot mount read-only here: {proc.stderr.strip()[:80]}")
    assert proc.returncode == 0, proc.stderr
    assert [r["run_id"] for r in json.loads(proc.stdout)["runs"]] == ["r1"]
    assert "WARNING" not in proc.stderr
