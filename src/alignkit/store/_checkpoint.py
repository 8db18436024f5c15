"""WAL checkpoints of a SQLite store from a thread of their own.

In WAL mode SQLite copies the log back into the database file (a *checkpoint*) inside
whichever commit makes the log pass ``wal_autocheckpoint`` pages (1,000 by default):
that commit then takes 10 ms or more instead of a fraction of one. A server committing
from its event loop (``alignkit serve``'s audit log) stalls every request for that long,
about once a second at 1,000 requests/s. :class:`WalCheckpointer` runs passive
checkpoints from its own connection in a thread instead (Python's ``sqlite3`` releases
the GIL while SQLite works, and a passive checkpoint never blocks a writer), and the
store's own connections checkpoint only as a backstop, should the thread fall far behind.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from alignkit.store._engine import Location, translate_errors

__all__ = ["BACKSTOP_PAGES", "WalCheckpointer", "start_checkpointer"]

logger = logging.getLogger("alignkit.store")

BACKSTOP_PAGES = 100_000
"""``wal_autocheckpoint`` of the store's connections while a checkpointer runs (pages of
4 KiB: a commit checkpoints itself only once the log has grown past ~400 MB)."""


class WalCheckpointer:
    """Checkpoints the WAL of the SQLite database at ``path`` every ``interval_s``.

    Args:
        path: The database file (already in WAL mode).
        interval_s: Seconds between passive checkpoints.
        busy_timeout_s: How long the checkpoint connection waits for a lock it needs.
    """

    def __init__(self, path: Path, interval_s: float = 0.25, busy_timeout_s: float = 5.0) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval_s must be > 0, not {interval_s!r}")
        self.path = path
        self.interval_s = interval_s
        self.checkpoints = 0
        """Passive checkpoints run so far."""
        self.failures = 0
        self._conn = sqlite3.connect(
            str(path), timeout=busy_timeout_s, check_same_thread=False, isolation_level=None
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="alignkit-wal-checkpoint", daemon=True
        )
        self._thread.start()

    def checkpoint(self) -> None:
        """One passive checkpoint now (what the thread does every ``interval_s``)."""
        self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        self.checkpoints += 1

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
        if threading.current_thread() is not self._thread:
            self._thread.join()
        self._conn.close()


def _backstop(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_PAGES}")


def start_checkpointer(
    engine: Engine, location: Location, interval_s: float
) -> WalCheckpointer | None:
    """A :class:`WalCheckpointer` for the store behind ``engine``, or ``None``.

    The engine's connections move to the :data:`BACKSTOP_PAGES` backstop. ``None``, with
    nothing changed, unless the store is a writable SQLite file.
    """
    path = location.sqlite_path
    if path is None or location.memory or location.url.query.get("immutable"):
        return None
    with translate_errors("start WAL checkpoints", location.display):
        checkpointer = WalCheckpointer(path, interval_s)
    event.listen(engine, "connect", _backstop)
    engine.dispose()  # connections already pooled reconnect with the backstop
    return checkpointer
