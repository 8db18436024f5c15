"""WAL checkpoints from a thread of their own (``Store.checkpoint_in_background``), on
real SQLite files."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from alignkit.store import Store
from alignkit.store._checkpoint import BACKSTOP_PAGES


def _fill(store: Store, entries: int) -> None:
    log = store.audit_log(background=False)
    for i in range(entries):
        log.append({"kind": "request", "request_id": f"r{i}", "text": "x" * 2000})
        if i % 200 == 199:
            log.flush()
    log.flush()


def _wal_pages(db: Path) -> int:
    wal = db.with_name(db.name + "-wal")
    return wal.stat().st_size // 4096 if wal.exists() else 0


def test_commits_leave_checkpoints_to_the_thread(tmp_path: Path) -> None:
    """With the checkpointer on, a commit never copies the WAL back itself (the WAL
    grows past SQLite's 1,000-page default), the thread's checkpoint does, and every
    entry is in the database afterwards."""
    db = tmp_path / "s.db"
    with Store.open(f"sqlite:///{db}") as store:
        assert store.checkpoint_in_background(interval_s=3600)  # the thread stays idle
        assert store.checkpoint_in_background()  # idempotent
        _fill(store, 3000)  # ~6 MB of entries
        assert _wal_pages(db) > 1200, "a commit checkpointed on its own"
        checkpointer = store._checkpointer
        assert checkpointer is not None and checkpointer._thread.is_alive()
        checkpointer.checkpoint()
        with sqlite3.connect(db) as raw:  # everything is in the database file now
            busy, frames, done = raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            assert busy == 0 and frames == done
        assert store.audit_log().count() == 3000
    assert not checkpointer._thread.is_alive(), "closing the store stops the thread"
    with Store.open(f"sqlite:///{db}") as again:
        assert again.audit_log().count() == 3000 and again.audit_log().verify().ok


def test_without_the_checkpointer_commits_checkpoint(tmp_path: Path) -> None:
    """The control: SQLite's own checkpoints keep the WAL near 1,000 pages."""
    db = tmp_path / "s.db"
    with Store.open(f"sqlite:///{db}") as store:
        _fill(store, 3000)
        assert _wal_pages(db) < 1200


def test_the_thread_checkpoints_and_a_backstop_remains(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with Store.open(f"sqlite:///{db}") as store:
        assert store.checkpoint_in_background(interval_s=0.01)
        with store._engine.connect() as conn:  # the store's connections keep a backstop
            pages = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
        assert pages == BACKSTOP_PAGES
        _fill(store, 300)
        checkpointer = store._checkpointer
        assert checkpointer is not None
        done = threading.Event()
        for _ in range(500):
            if checkpointer.checkpoints >= 3:
                done.set()
                break
            done.wait(0.01)
        assert done.is_set() and checkpointer.failures == 0


def test_stores_without_a_wal_file_are_left_alone(tmp_path: Path) -> None:
    with Store.open("sqlite://") as memory:
        assert not memory.checkpoint_in_background()
