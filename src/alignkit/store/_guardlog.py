"""The guard's tamper-evident audit log: a hash chain of entries, written in batches.

Entry ``n`` stores ``prev_hash`` (entry ``n-1``'s hash; 64 zeros for the first) and
``entry_hash = H(f"{n}|{created_at}|{prev_hash}|{entry}")`` where ``entry`` is the
entry's canonical JSON and ``H`` is SHA-256 — or HMAC-SHA256 under a key, so that someone
with write access to the database but not the key cannot forge a consistent chain. The
newest ``seq:hash`` is also kept in the meta table (signed under a key), so cutting
entries off the end is caught too — unless an earlier head is put back, which only a head
kept elsewhere catches (see :mod:`alignkit.store._chainhead`). :meth:`AuditLog.verify`
walks the chain and names the first entry that is modified, missing, inserted or out of
place.

Writes are buffered: :meth:`AuditLog.append` never touches the database; a background
thread commits batches (each in one transaction that also links the chain), when
``flush_every`` entries wait or the oldest has waited ``flush_interval_s``; :meth:`close`
commits the rest. With ``background=False`` there is no thread and the owner calls
:meth:`flush` when :attr:`due` (the server does, from its event loop: a writer thread
competing for the GIL with the event loop costs far more than the commits themselves).
Every entry holds all its decisions; the ``guard_decisions`` table indexes only those
that did not simply allow (modify, block, escalate), for queries. On SQLite a batch's
rows go to the driver's ``executemany`` as they are (the timestamps already in the text
the ``IsoDateTime`` column writes), inside the same transaction; other databases get
SQLAlchemy Core inserts.
"""

from __future__ import annotations

import atexit
import json
import logging
import threading
import time
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, text
from sqlalchemy.engine import RowMapping

from alignkit.core import StoreError
from alignkit.store._chainhead import (
    GENESIS,
    HEAD_KEY,
    ChainReport,
    check_head,
    entry_hash,
    head_value,
)
from alignkit.store._engine import Conn, StoreBusy, WriteConn, one_line
from alignkit.store._json import canonical_json
from alignkit.store._schema import (
    GUARD_DECISIONS,
    GUARD_LOG,
    META,
    META_SCHEMA_VERSION,
    utc_text,
)

__all__ = ["GENESIS", "AuditLog", "ChainReport", "LogEntry", "entry_hash"]

logger = logging.getLogger("alignkit.store")


@dataclass(frozen=True)
class LogEntry:
    """One stored entry of the chain."""

    seq: int
    created_at: datetime
    kind: str
    request_id: str | None
    entry: str
    prev_hash: str
    entry_hash: str


_OPEN_LOGS: weakref.WeakSet[AuditLog] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    """Commit what open logs still buffer when the interpreter exits.

    The writer is a daemon thread: a script that ended without closing its store lost the
    entries of its last 50 ms, and the chain still verified (entries never written leave no
    gap).
    """
    for log in list(_OPEN_LOGS):
        try:
            log.flush()
        except Exception as exc:  # the store may already be gone: say so, do not raise
            logger.warning(
                "audit log: %d entries could not be written at exit: %s", log.pending, exc
            )


class AuditLog:
    """Appends guard entries to the store's hash chain; verifies it.

    Get one from :meth:`Store.audit_log`. Thread-safe; :meth:`append` is safe to call
    from asyncio code (it only buffers). What is buffered is committed every
    ``flush_interval_s``, at :meth:`close`, and at interpreter exit.
    """

    driver_inserts = True
    """Hand SQLite batches straight to the driver (``False``: Core inserts everywhere)."""

    def __init__(
        self,
        read: Conn,
        write: WriteConn,
        display: str,
        *,
        key: bytes | None = None,
        flush_every: int = 512,
        flush_interval_s: float = 0.05,
        background: bool = True,
    ) -> None:
        self._read, self._write, self._display = read, write, display
        self._key = key
        self.flush_every = flush_every
        self.flush_interval_s = flush_interval_s
        self._buffer: list[_Pending] = []
        self._oldest: float | None = None
        self._cond = threading.Condition()
        self._io = threading.Lock()
        self._closed = False
        self.written = 0
        self.failures = 0
        self.failing: str | None = None
        """Why the last commit failed, until one succeeds (``None``: writing works)."""
        self._thread: threading.Thread | None = None
        _OPEN_LOGS.add(self)
        if background:
            self._thread = threading.Thread(
                target=self._run, name="alignkit-audit-log", daemon=True
            )
            self._thread.start()

    # -- writing -------------------------------------------------------------------------

    def append(self, entry: Mapping[str, Any]) -> None:
        """Buffer ``entry`` (a JSON-able mapping) for the chain."""
        pending = _pending(utc_text(datetime.now(UTC)), entry)
        with self._cond:
            if self._closed:
                raise StoreError("audit log is closed")
            self._buffer.append(pending)
            if self._oldest is None:
                self._oldest = time.monotonic()
                self._cond.notify_all()
            elif len(self._buffer) >= self.flush_every:
                self._cond.notify_all()

    @property
    def pending(self) -> int:
        """Entries buffered and not yet committed."""
        with self._cond:
            return len(self._buffer)

    def flush(self, busy_s: float | None = None, *, busy_fails: bool = True) -> None:
        """Commit everything buffered; on failure the entries stay buffered and it raises.

        Args:
            busy_s: Wait at most this long for the store's write lock (default: the
                store's busy timeout); :class:`StoreBusy` if it stays taken.
            busy_fails: Whether a busy store counts as a failure (:attr:`failing`); a
                caller that tries without waiting and then waits elsewhere says ``False``.
        """
        with self._io:
            with self._cond:
                batch, self._buffer, self._oldest = self._buffer, [], None
            if not batch:
                return
            try:
                self._commit(batch, busy_s)
            except Exception as exc:
                with self._cond:
                    self._buffer = batch + self._buffer
                    self._oldest = self._oldest or time.monotonic()
                if isinstance(exc, StoreBusy) and not busy_fails:
                    raise
                self.failures += 1
                error = (
                    exc
                    if isinstance(exc, StoreError)
                    else StoreError(f"cannot append to the audit log: {exc}")
                )
                self.failing = str(error)
                raise error from exc
            self.written += len(batch)
            self.failing = None

    def try_flush(self, busy_s: float | None = None, *, busy_fails: bool = True) -> bool | None:
        """:meth:`flush`, saying in the log when writing stops and starts working again.

        One warning per failing spell, not one per retry (a server retries every few ms).

        Returns:
            Whether everything buffered is committed; ``None`` when the store was busy
            and ``busy_fails`` is false (nothing changed).
        """
        was, written = self.failing, self.written
        try:
            self.flush(busy_s, busy_fails=busy_fails)
        except StoreError as exc:
            if isinstance(exc, StoreBusy) and not busy_fails:
                return None
            if was is None:
                logger.warning("audit log: cannot write, retrying until it can: %s", exc)
            return False
        if was is not None:
            logger.warning(
                "audit log: writing again (%d held-back entries committed)", self.written - written
            )
        return True

    def check_writable(self) -> None:
        """Raise :class:`StoreError` now if the store cannot be written (a read-only file).

        A write that changes nothing, so that a server refuses to start instead of
        answering requests it cannot log.
        """
        with self._write("write the audit log") as conn:
            conn.execute(
                META.update().where(META.c.key == META_SCHEMA_VERSION).values(value=META.c.value)
            )

    def _commit(self, batch: list[_Pending], busy_s: float | None = None) -> None:
        with self._write(f"append {len(batch)} audit-log entries", busy_s=busy_s) as conn:
            dialect = conn.dialect
            # On SQLite the statements go straight to the driver (rows bound as the
            # tables' types would bind them; stamps are already the IsoDateTime text): no
            # per-statement compiling or per-row processing, a fraction of Core's cost.
            raw = self.driver_inserts and dialect.name == "sqlite" and dialect.paramstyle == "qmark"
            head = conn.exec_driver_sql(_HEAD) if raw else conn.execute(_HEAD_QUERY)
            row = head.first()
            seq, prev = (int(row[0]), str(row[1])) if row else (0, GENESIS)
            logs: list[tuple[Any, ...]] = []
            decisions: list[tuple[Any, ...]] = []
            for p in batch:
                seq += 1
                digest = entry_hash(seq, p.stamp, prev, p.text, self._key)
                logs.append((seq, p.stamp, p.kind, p.rid, p.text, prev, digest))
                decisions.extend((seq, *row) for row in p.decisions)
                prev = digest
            if raw:
                conn.exec_driver_sql(_INSERT_LOG, logs)
                if decisions:
                    conn.exec_driver_sql(_INSERT_DECISIONS, decisions)
                conn.exec_driver_sql(_SET_HEAD, (HEAD_KEY, head_value(seq, prev, self._key)))
                return
            conn.execute(insert(GUARD_LOG), [_as_row(_LOG_COLUMNS, r) for r in logs])
            if decisions:
                rows = [_as_row(_DECISION_COLUMNS, r) for r in decisions]
                conn.execute(insert(GUARD_DECISIONS), rows)
            conn.execute(delete(META).where(META.c.key == HEAD_KEY))
            conn.execute(insert(META).values(key=HEAD_KEY, value=head_value(seq, prev, self._key)))

    def close(self) -> None:
        """Stop the writer thread and commit what is left (idempotent)."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        _OPEN_LOGS.discard(self)
        if self._thread is not None and threading.current_thread() is not self._thread:
            self._thread.join()
        self.flush()

    @property
    def due(self) -> bool:
        """Whether buffered entries should be committed now (for callers that flush)."""
        with self._cond:
            return self._due()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and not self._due():
                    wait = None
                    if self._oldest is not None:
                        wait = max(0.0, self._oldest + self.flush_interval_s - time.monotonic())
                    self._cond.wait(wait)
                if self._closed:
                    return
            if not self.try_flush():
                with self._cond:
                    self._cond.wait_for(lambda: self._closed, timeout=1.0)

    def _due(self) -> bool:
        if not self._buffer or self._oldest is None:
            return False
        if len(self._buffer) >= self.flush_every:
            return True
        return time.monotonic() - self._oldest >= self.flush_interval_s

    # -- reading ---------------------------------------------------------------------------

    def head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the newest committed entry (``(0, GENESIS)`` when empty)."""
        with self._read("read the audit-log head") as conn:
            row = conn.execute(_HEAD_QUERY).first()
        return (int(row[0]), str(row[1])) if row else (0, GENESIS)

    def count(self) -> int:
        """Committed entries."""
        with self._read("count audit-log entries") as conn:
            return int(conn.execute(select(func.count()).select_from(GUARD_LOG)).scalar_one())

    def entries(self, *, after: int = 0, limit: int = 1000) -> list[LogEntry]:
        """Committed entries with ``seq > after``, oldest first.

        Raises:
            StoreError: An entry holds a column no writer could have produced (tampered).
        """
        with self._read("read the audit log") as conn:
            try:
                return _read_entries(conn, after, limit)
            except (ValueError, TypeError) as exc:
                raise StoreError(
                    f"the audit log holds a damaged entry ({one_line(exc)});"
                    " `alignkit guard verify` names it"
                ) from None

    def iter_entries(self, batch: int = 5000) -> Iterator[LogEntry]:
        """Every committed entry, oldest first, read in batches."""
        after = 0
        while True:
            chunk = self.entries(after=after, limit=batch)
            yield from chunk
            if len(chunk) < batch:
                return
            after = chunk[-1].seq

    def verify(self, *, expect_head: tuple[int, str] | None = None) -> ChainReport:
        """Walk the chain; report the first modified, missing, inserted or misplaced entry.

        The walk reads one snapshot of the store (a single read transaction), so entries
        committed meanwhile by a running server are neither half-seen nor a false alarm.

        Args:
            expect_head: A ``(seq, hash)`` recorded elsewhere earlier (e.g. shipped to
                another system); the chain must still contain it unchanged.
        """
        self.flush()
        with self._read("verify the audit log") as conn:
            if conn.dialect.name != "sqlite":  # SQLite's read transaction is a snapshot already
                conn.execution_options(isolation_level="REPEATABLE READ")
            return self._verify(conn, expect_head)

    def _verify(self, conn: Connection, expect_head: tuple[int, str] | None) -> ChainReport:
        rows, low = conn.execute(select(func.count(), func.min(GUARD_LOG.c.seq))).one()
        if low is not None and low < 1:  # the walk starts at 1: such a row would go unseen
            return ChainReport(False, 0, int(low), f"entry {low}: entries start at 1 (inserted)")
        prev, expected, n = GENESIS, 1, 0
        hashes: dict[int, str] = {}
        walk = _walk(conn)
        while True:
            try:
                e = next(walk)
            except StopIteration:
                break
            except (ValueError, TypeError) as exc:  # a column no writer could have produced
                seq, problem = _first_unreadable(conn) or (expected, one_line(exc))
                return ChainReport(
                    False, n, seq, f"entry {seq} cannot be read (tampered): {problem}"
                )
            n += 1
            own = entry_hash(e.seq, utc_text(e.created_at), e.prev_hash, e.entry, self._key)
            if own != e.entry_hash:
                return ChainReport(
                    False, n, e.seq, f"entry {e.seq} does not match its hash (modified or moved)"
                )
            if e.seq != expected:
                what = "missing" if e.seq > expected else "duplicated or out of order"
                return ChainReport(
                    False, n, e.seq, f"entry {e.seq} follows entry {expected - 1}: entries {what}"
                )
            if e.prev_hash != prev:
                return ChainReport(
                    False,
                    n,
                    e.seq,
                    f"entry {e.seq} does not link to entry {e.seq - 1}"
                    " (an entry was deleted, inserted or reordered before it)",
                )
            derived = _columns_of(e)
            if derived != (e.kind, e.request_id):
                return ChainReport(
                    False, n, e.seq, f"entry {e.seq}: its kind or request id column was changed"
                )
            prev, expected = e.entry_hash, expected + 1
            if expect_head is not None and e.seq == expect_head[0]:
                hashes[e.seq] = e.entry_hash
        last = expected - 1
        if rows != n:
            return ChainReport(False, n, last + 1, f"{rows} rows but a chain of {n} entries")
        report = check_head(conn, last, prev, n, self._key)
        if report is not None:
            return report
        if expect_head is not None and expect_head[0] > 0:
            seq, digest = expect_head
            if seq > last:  # the entry recorded earlier, and any after it, are gone
                gone = f"entry {seq} is" if seq == last + 1 else f"entries {last + 1}..{seq} are"
                return ChainReport(
                    False, n, last + 1, f"{gone} missing from the end (the log was cut short)"
                )
            if hashes.get(seq) != digest:
                return ChainReport(
                    False, n, seq, f"entry {seq} is not the one recorded earlier (rewritten chain)"
                )
        return ChainReport(True, n, head=f"{last}:{prev}" if last else "")


def _read_entries(conn: Connection, after: int, limit: int) -> list[LogEntry]:
    query = select(GUARD_LOG).where(GUARD_LOG.c.seq > after).order_by(GUARD_LOG.c.seq).limit(limit)
    return [_entry(row) for row in conn.execute(query).mappings()]


def _walk(conn: Connection, batch: int = 5000) -> Iterator[LogEntry]:
    """Every entry, oldest first, in batches read on one connection (one snapshot)."""
    after = 0
    while True:
        chunk = _read_entries(conn, after, batch)
        yield from chunk
        if len(chunk) < batch:
            return
        after = chunk[-1].seq


def _first_unreadable(conn: Connection) -> tuple[int, str] | None:
    """``(seq, problem)`` for the first entry with a column no writer could have produced.

    A ``seq`` that is not a whole number is named by the seq it must have had: one more
    than that of the entry its ``prev_hash`` links to.
    """
    raw = conn.execute(
        text(
            "SELECT seq, prev_hash FROM guard_log WHERE typeof(seq) != 'integer' ORDER BY rowid"
            if conn.dialect.name == "sqlite"
            else "SELECT seq, prev_hash FROM guard_log WHERE 1 = 0"
        )
    ).first()
    if raw is not None:
        before = conn.execute(
            select(GUARD_LOG.c.seq).where(GUARD_LOG.c.entry_hash == raw[1]).limit(1)
        ).scalar()
        seq = int(before) + 1 if isinstance(before, int) else 1 if raw[1] == GENESIS else 0
        return seq, f"its seq is {str(raw[0])[:40]!r}"
    for seq, stamp in conn.execute(text("SELECT seq, created_at FROM guard_log ORDER BY seq")):
        try:
            datetime.fromisoformat(str(stamp))
        except ValueError:
            return int(seq), f"its time is {str(stamp)[:40]!r}"
    return None


def _entry(row: RowMapping) -> LogEntry:
    seq = row["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool):  # int(3.5) read as entry 3
        raise ValueError(f"seq {str(seq)[:40]!r} is not a whole number")
    return LogEntry(
        seq=seq,
        created_at=row["created_at"],
        kind=str(row["kind"]),
        request_id=row["request_id"],
        entry=str(row["entry"]),
        prev_hash=str(row["prev_hash"]),
        entry_hash=str(row["entry_hash"]),
    )


_LOG_COLUMNS = ("seq", "created_at", "kind", "request_id", "entry", "prev_hash", "entry_hash")
_DECISION_COLUMNS = (
    "log_seq", "request_id", "created_at", "stage", "rail", "decision", "reason", "score",
    "latency_ms",
)  # fmt: skip
_INSERT_LOG = (
    f"INSERT INTO {GUARD_LOG.name} ({', '.join(_LOG_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(_LOG_COLUMNS))})"
)
_HEAD_QUERY = (
    select(GUARD_LOG.c.seq, GUARD_LOG.c.entry_hash).order_by(GUARD_LOG.c.seq.desc()).limit(1)
)
_HEAD = f"SELECT seq, entry_hash FROM {GUARD_LOG.name} ORDER BY seq DESC LIMIT 1"
_SET_HEAD = f"INSERT OR REPLACE INTO {META.name} (key, value) VALUES (?, ?)"
_INSERT_DECISIONS = (
    f"INSERT INTO {GUARD_DECISIONS.name} ({', '.join(_DECISION_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(_DECISION_COLUMNS))})"
)


def _as_row(columns: tuple[str, ...], values: tuple[Any, ...]) -> dict[str, Any]:
    """A positional row as Core's insert takes it (created_at back to a datetime)."""
    row = dict(zip(columns, values, strict=True))
    row["created_at"] = datetime.fromisoformat(row["created_at"])
    return row


@dataclass(frozen=True, slots=True)
class _Pending:
    """An appended entry, encoded when appended so that a commit only links and writes."""

    stamp: str
    kind: str
    rid: str | None
    text: str
    decisions: tuple[tuple[Any, ...], ...]


def _columns_of(e: LogEntry) -> tuple[str, str | None]:
    """The ``kind`` and ``request_id`` columns a writer derives from entry ``e``'s text."""
    try:
        doc = json.loads(e.entry)
    except ValueError:
        return ("", None)  # not JSON: its hash check has failed already
    if not isinstance(doc, dict):
        return ("", None)
    return _kind_rid(doc)


def _kind_rid(entry: Mapping[str, Any]) -> tuple[str, str | None]:
    """The ``kind`` and ``request_id`` columns stored beside an entry."""
    rid = entry.get("request_id")
    return str(entry.get("kind", "entry"))[:32], (str(rid)[:64] if rid is not None else None)


def _pending(stamp: str, entry: Mapping[str, Any]) -> _Pending:
    kind, rid = _kind_rid(entry)
    return _Pending(
        stamp=stamp,
        kind=kind,
        rid=rid,
        text=canonical_json(dict(entry)),
        decisions=tuple(_decision_rows(stamp, rid, entry)),
    )


def _decision_rows(stamp: str, rid: str | None, entry: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """Rows (``_DECISION_COLUMNS`` order, less the leading seq) for decisions other than allow."""
    rows = []
    for d in entry.get("decisions") or ():
        if not isinstance(d, Mapping) or d.get("decision") == "allow":
            continue
        score, latency = d.get("score"), d.get("latency_ms")
        rows.append(
            (
                rid,
                stamp,
                str(d.get("stage", "")),
                str(d.get("rail", "")),
                str(d.get("decision", "")),
                str(d.get("reason", "")),
                float(score) if isinstance(score, int | float) else None,
                float(latency) if isinstance(latency, int | float) else None,
            )
        )
    return rows
