"""WAL checkpoints from a thread of their own (``Store.checkpoint_in_background``), on
real SQLite files."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

from alignkit.store import Store
from alignkit.store._checkpoint import BACKSTOP_PAGES, WalCheckpointer


def _fill(store: Store, entries: int, every: int = 200) -> None:
    log = store.audit_log(background=False)
    for i in range(entries):
        log.append({"kind": "request", "request_id": f"r{i}", "text": "x" * 2000})
        if i % every == every - 1:
            log.flush()
    log.flush()


def _wal_pages(db: Path) -> int:
    wal = db.with_name(db.name + "-wal")
    return wal.stat().st_size // 4096 if wal.exists() else 0


def test_commits_leave_checkpoints_to_the_thread(tmp_path: Path) -> None:
    """With the checkpointer on, a commit never copies the WAL back itself (the WAL
    grows past SQLite's 1,000-page default and the database file does not grow); one
    pass of the checkpointer copies all of it, and every entry is kept."""
    db = tmp_path / "s.db"
    with Store.open(f"sqlite:///{db}") as store:
        assert store.checkpoint_in_background(interval_s=3600)  # the thread stays idle
        assert store.checkpoint_in_background()  # idempotent
        size = db.stat().st_size
        _fill(store, 3000)  # ~6 MB of entries
        assert _wal_pages(db) > 1200, "a commit checkpointed on its own"
        assert db.stat().st_size == size, "the database file grew: something checkpointed"
        checkpointer = store._checkpointer
        assert checkpointer is not None and checkpointer._thread.is_alive()
        busy, log, done = checkpointer.checkpoint()  # the first copy is the checkpointer's
        assert busy == 0 and done > 0
        assert db.stat().st_size > size + 4_000_000
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


def test_the_wal_stays_bounded_under_several_writers(tmp_path: Path) -> None:
    """Two stores committing often on one file (a guard and an audit sharing a store): a
    passive pass is often overtaken by a commit, so the log is not rewound by itself; the
    checkpointer truncates it once it passes its limit, and the store's connections keep
    a backstop."""
    db = tmp_path / "s.db"
    with Store.open(f"sqlite:///{db}") as store, Store.open(f"sqlite:///{db}") as other:
        assert store.checkpoint_in_background(interval_s=3600)
        with store._engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == BACKSTOP_PAGES
        checkpointer = WalCheckpointer(db, 0.01, truncate_pages=300)
        stop = threading.Event()

        def write(s: Store) -> None:
            while not stop.is_set():
                _fill(s, 10, every=10)  # ~20 KB per commit, one every few ms
                time.sleep(0.002)

        writers = [threading.Thread(target=write, args=(s,)) for s in (store, other)]
        peak = 0
        try:
            checkpointer.start()
            for w in writers:
                w.start()
            deadline = time.monotonic() + 3.0
            while time.monotonic() < deadline:
                peak = max(peak, _wal_pages(db))
                time.sleep(0.01)
        finally:
            stop.set()
            for w in writers:
                w.join(10)
            checkpointer.close()
        assert checkpointer.checkpoints > 10 and checkpointer.failures == 0
        assert peak < 1500, f"the WAL reached {peak} pages"


def test_stores_without_a_writable_wal_file_are_left_alone(tmp_path: Path) -> None:
    with Store.open("sqlite://") as memory:
        assert not memory.checkpoint_in_background()
    db = tmp_path / "ro.db"
    Store.open(f"sqlite:///{db}").close()
    db.chmod(0o444)
    try:
        with contextlib.suppress(Exception), Store.open(f"sqlite:///{db}") as ro:
            if not ro.url.endswith("immutable=1"):  # opened read-only some other way
                assert not ro.checkpoint_in_background()
    finally:
        db.chmod(0o644)
