"""WAL checkpoints of a SQLite store from a thread of their own.

In WAL mode SQLite copies the log back into the database file (a *checkpoint*) inside
whichever commit makes the log pass ``wal_autocheckpoint`` pages (1,000 by default):
that commit then takes 10 ms or more instead of a fraction of one. A server committing
from its event loop (``alignkit serve``'s audit log) stalls every request for that long,
about once a second at 1,000 requests/s. :class:`WalCheckpointer` runs the checkpoints
from its own connection in a thread instead (Python's ``sqlite3`` releases the GIL while
SQLite works). A passive checkpoint never blocks a writer, but a log that a writer keeps
appending to during each pass is never rewound; once it passes ``truncate_pages`` the
thread truncates it, waiting at most ``truncate_wait_s`` for writers and readers (writers
that find the lock taken meanwhile wait elsewhere: the server's commit moves to a thread).
The store's own connections checkpoint only as a backstop, past :data:`BACKSTOP_PAGES`.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from alignkit.store._engine import Location, translate_errors

__all__ = ["BACKSTOP_PAGES", "WalCheckpointer", "start_checkpointer"]

logger = logging.getLogger("alignkit.store")

BACKSTOP_PAGES = 10_000
"""``wal_autocheckpoint`` of the store's connections while a checkpointer runs (pages of
4 KiB: a commit checkpoints itself only once the log has grown past ~40 MB)."""

_BUSY_S = 5.0
"""How long the checkpoint connection waits for a lock, outside truncations."""


class WalCheckpointer:
    """Checkpoints the WAL of the SQLite database at ``path`` every ``interval_s``.

    Call :meth:`start` to begin (the thread), :meth:`close` to end.

    Args:
        path: The database file (already in WAL mode).
        interval_s: Seconds between passive checkpoints.
        truncate_pages: Log size (pages) past which the log is truncated after a pass.
        truncate_wait_s: How long a truncation waits for writers and readers.
    """

    def __init__(
        self,
        path: Path,
        interval_s: float = 0.25,
        *,
        truncate_pages: int = 4_000,
        truncate_wait_s: float = 0.05,
    ) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval_s must be > 0, not {interval_s!r}")
        self.path = path
        self.interval_s = interval_s
        self.truncate_pages = truncate_pages
        self.truncate_wait_ms = max(1, int(truncate_wait_s * 1000))
        self.checkpoints = 0
        """Checkpoint passes run so far."""
        self.failures = 0
        self._growing = False
        self._conn = sqlite3.connect(
            str(path), timeout=_BUSY_S, check_same_thread=False, isolation_level=None
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="alignkit-wal-checkpoint", daemon=True
        )

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def checkpoint(self) -> tuple[int, int, int]:
        """One pass now: ``(busy, log pages, pages checkpointed)`` as SQLite reports them.

        A passive checkpoint, then a truncation when the log is still over
        ``truncate_pages`` (its result is the one returned then).
        """
        row = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        busy, log, done = int(row[0]), int(row[1]), int(row[2])
        if log > self.truncate_pages:
            self._conn.execute(f"PRAGMA busy_timeout = {self.truncate_wait_ms}")
            try:
                row = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                self._conn.execute(f"PRAGMA busy_timeout = {int(_BUSY_S * 1000)}")
            busy, log, done = int(row[0]), int(row[1]), int(row[2])
        self.checkpoints += 1
        growing = log > BACKSTOP_PAGES // 2
        if growing and not self._growing:
            logger.warning(
                "WAL of %s has %d pages and cannot be truncated (a reader or writer holds it)",
                self.path,
                log,
            )
        self._growing = growing
        return busy, log, done

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.checkpoint()
            except sqlite3.Error as exc:  # the backstop still bounds the log
                self.failures += 1
                if self.failures == 1:
                    logger.warning("WAL checkpoint of %s failed (retrying): %s", self.path, exc)

    def close(self) -> None:
        """Stop the thread and close its connection (idempotent)."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join()
        self._conn.close()


def _backstop(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_PAGES}")


def start_checkpointer(
    engine: Engine, location: Location, interval_s: float
) -> WalCheckpointer | None:
    """A running :class:`WalCheckpointer` for the store behind ``engine``, or ``None``.

    The engine's connections move to the :data:`BACKSTOP_PAGES` backstop. ``None``, with
    nothing changed, unless the store is a SQLite file this process may write.
    """
    path = location.sqlite_path
    if path is None or location.memory or location.url.query.get("immutable"):
        return None
    if location.url.query.get("mode") == "ro" or not os.access(path, os.W_OK):
        return None
    with translate_errors("start WAL checkpoints", location.display):
        checkpointer = WalCheckpointer(path, interval_s)
    try:
        event.listen(engine, "connect", _backstop)
        engine.dispose()  # connections already pooled reconnect with the backstop
    except BaseException:
        checkpointer.close()
        raise
    checkpointer.start()
    return checkpointer
