"""The :class:`Store`: runs, their findings and results, and attempts (DESIGN §4, §10)."""

from __future__ import annotations

import logging
import math
import shlex
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, Table, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import RowMapping

from alignkit.core import DEFAULT_STORE, AlignkitError, AuditResult, Finding, StoreError
from alignkit.store._attempts import AttemptRecord, AttemptWriter, attempt_from_row
from alignkit.store._checkpoint import WalCheckpointer, start_checkpointer
from alignkit.store._engine import (
    Location,
    StoreBusy,
    check_sqlite_file,
    make_engine,
    on_read_only_media,
    one_line,
    parse_location,
    translate_errors,
    write_options,
)
from alignkit.store._governance import ApprovalBook, TrafficHistory
from alignkit.store._guardlog import AuditLog
from alignkit.store._json import canonical_json, model_json
from alignkit.store._migrations import prepare_schema
from alignkit.store._owner import RunInUse, claim, other_owner, release
from alignkit.store._runrecord import (
    RUN_STATUSES,
    RunRecord,
    check_status,
    new_run_id,
    run_record,
)
from alignkit.store._schema import ATTEMPTS, FINDINGS, RUNS

__all__ = ["RUN_STATUSES", "RunRecord", "Store", "new_run_id"]

_AMBIGUOUS_SHOWN = 5

_log = logging.getLogger(__name__)


def _insert_ignore(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows``, skipping any whose primary key ``key`` is already stored."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        conn.execute(sqlite_insert(table).on_conflict_do_nothing(index_elements=["key"]), rows)
    elif dialect == "postgresql":
        conn.execute(postgresql_insert(table).on_conflict_do_nothing(index_elements=["key"]), rows)
    else:
        keys = [r["key"] for r in rows]
        stored = set(conn.scalars(select(table.c.key).where(table.c.key.in_(keys))))
        fresh = [r for r in rows if r["key"] not in stored]
        if fresh:
            conn.execute(insert(table), fresh)


class Store:
    """alignkit's persistent store of runs, findings and attempts.

    Open one with :meth:`open`; it is a context manager and safe to share between
    threads. On SQLite, reads never wait for writers (WAL mode), and all writes from
    one ``Store`` are serialised.

    Example::

        with Store.open("sqlite:///.alignkit/alignkit.db") as store:
            for run in store.list_runs(limit=5):
                print(run.id, run.status)
    """

    def __init__(self, engine: Engine, location: Location, schema_version: int) -> None:
        """Wrap an engine whose schema is ready; use :meth:`open` instead."""
        self._engine = engine
        self._location = location
        self._schema_version = schema_version
        self._lock = threading.RLock()
        # An in-memory database is one shared connection: reads must queue as well.
        self._read_guard: AbstractContextManager[Any] = (
            self._lock if location.memory else nullcontext()
        )
        self._writers: weakref.WeakSet[AttemptWriter] = weakref.WeakSet()
        self._writers_lock = threading.Lock()
        self._logs: weakref.WeakSet[AuditLog] = weakref.WeakSet()
        self._checkpointer: WalCheckpointer | None = None
        self._closed = False

    @classmethod
    def open(cls, url: str, *, create: bool = True) -> Store:
        """Open (creating or migrating if needed) the store at SQLAlchemy URL ``url``.

        Args:
            url: e.g. ``sqlite:///.alignkit/alignkit.db`` (see ``resolve_store_url``).
            create: create the store when it does not exist; when false, a missing
                store is an error (for read-only commands).

        Raises:
            StoreError: the location cannot be written, the file is not a database,
                the database is not an alignkit store, the store is missing (with
                ``create`` false), or a migration failed (the store is unchanged).
            SchemaVersionError: the store was written by a newer alignkit.
        """
        location = parse_location(url)
        if location.sqlite_path is not None:
            check_sqlite_file(location.sqlite_path, create=create)
            location = on_read_only_media(location)
        engine = make_engine(location)
        try:
            version = prepare_schema(engine, location, create=create)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, location, version)

    @property
    def url(self) -> str:
        """The store's URL, password hidden."""
        return self._location.display

    @property
    def store_option(self) -> str:
        """`` --store …`` naming this store on a command line, or ``""`` for the default.

        Used in hints ("continue with: alignkit audit --resume RUN --store …") so that a
        run kept in another store can be found; the password stays hidden.
        """
        path = self._location.sqlite_path
        if path is not None:
            if path.resolve() == Path(DEFAULT_STORE).resolve():
                return ""
            return f" --store {shlex.quote(str(path))}"  # pasted into a shell as it is
        return f" --store {shlex.quote(self._location.display)}"

    @property
    def schema_version(self) -> int:
        """The schema version on disk."""
        return self._schema_version

    def __repr__(self) -> str:
        return f"Store({self.url!r}, schema v{self._schema_version})"

    def close(self) -> None:
        """Close open attempt writers (committing what they hold) and the connections."""
        if self._closed:
            return
        first_error: StoreError | None = None
        with self._writers_lock:
            logs = list(self._logs)
        for log in logs:
            try:
                log.close()
            except StoreError as exc:
                first_error = first_error or exc
        for writer in self._open_writers():
            try:
                writer.close()
            except StoreError as exc:
                first_error = first_error or exc
        self._closed = True
        if self._checkpointer is not None:
            self._checkpointer.close()
        self._engine.dispose()
        if first_error is not None:
            raise first_error

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- connections -------------------------------------------------------------

    def _require_open(self) -> None:
        if self._closed:
            raise StoreError(f"store {self.url} is closed")

    @contextmanager
    def _read(self, action: str) -> Iterator[Connection]:
        self._require_open()
        try:
            with (
                translate_errors(action, self.url),
                self._read_guard,
                self._engine.connect() as conn,
            ):
                yield conn
        except AlignkitError:
            raise
        except UnicodeEncodeError:  # a run id from a name that is not UTF-8
            raise StoreError(
                f"cannot {action} in store {self.url}: not valid text (a name that is not UTF-8?)"
            ) from None
        except (ValueError, TypeError) as exc:  # a hand-edited row: `started_at = 'garbage'`
            raise StoreError(
                f"cannot {action} in store {self.url}: a stored row is damaged ({one_line(exc)})"
            ) from None

    @contextmanager
    def _write(self, action: str, *, busy_s: float | None = None) -> Iterator[Connection]:
        """A connection in a write transaction, committed when the block succeeds.

        ``busy_s`` bounds the wait for the write lock (this process's and SQLite's):
        :class:`StoreBusy` when it stays taken that long.
        """
        self._require_open()
        start = time.monotonic()
        if not self._lock.acquire(timeout=-1 if busy_s is None else busy_s):
            raise StoreBusy(f"cannot {action} in store {self.url}: the store is busy")
        try:
            # one bound for both waits: this process's lock, then SQLite's
            left = None if busy_s is None else max(0.0, busy_s - (time.monotonic() - start))
            with translate_errors(action, self.url), self._engine.connect() as conn:
                conn.execution_options(**write_options(left))
                with conn.begin():
                    yield conn
        finally:
            self._lock.release()

    def _resolve(self, conn: Connection, run_id: str) -> RowMapping:
        """The run row whose id is ``run_id`` or, failing that, starts with it."""
        row = conn.execute(select(RUNS).where(RUNS.c.id == run_id)).mappings().first()
        if row is not None:
            return row
        matches = (
            conn.execute(
                select(RUNS)
                .where(RUNS.c.id.startswith(run_id, autoescape=True))
                .order_by(RUNS.c.id)
                .limit(_AMBIGUOUS_SHOWN + 1)
            )
            .mappings()
            .all()
            if run_id
            else []
        )
        if not matches:
            raise StoreError(f"no run '{run_id}' in store {self.url}")
        if len(matches) > 1:
            shown = ", ".join(m["id"] for m in matches[:_AMBIGUOUS_SHOWN])
            more = ", ..." if len(matches) > _AMBIGUOUS_SHOWN else ""
            raise StoreError(f"run id prefix '{run_id}' is ambiguous: matches {shown}{more}")
        return matches[0]

    # -- runs --------------------------------------------------------------------

    def has_run(self, run_id: str) -> bool:
        """Whether a run with exactly this id is stored."""
        with self._read(f"read run '{run_id}'") as conn:
            return conn.execute(select(RUNS.c.id).where(RUNS.c.id == run_id)).first() is not None

    def begin_run(
        self,
        run_id: str,
        *,
        resumed: bool,
        target: str,
        seed: int,
        config: Mapping[str, Any],
        alignkit_version: str,
        started_at: datetime,
    ) -> None:
        """Mark a resumed run ``running`` again, or record a new one (:meth:`create_run`).

        A resumed run's ``config`` replaces the stored one: it holds what the resume may
        change (budget, concurrency, where and how it reports).

        Raises:
            ConfigError: A resumed run is still running in another live process.
        """
        if resumed:
            self.claim_run(run_id)
            with self._write(f"resume run '{run_id}'") as conn:
                row = self._resolve(conn, run_id)
                conn.execute(
                    update(RUNS)
                    .where(RUNS.c.id == row["id"])
                    .values(status="running", finished_at=None, config=canonical_json(config))
                )
            return
        self.create_run(
            run_id,
            target=target,
            seed=seed,
            config=config,
            alignkit_version=alignkit_version,
            started_at=started_at,
        )
        self.claim_run(run_id)

    def claim_run(self, run_id: str) -> None:
        """Record this process as the one writing ``run_id`` (again: a no-op).

        Raises:
            RunInUse: Another live process on this machine is writing it.
        """
        with self._write(f"claim run '{run_id}'") as conn:
            claim(conn, self._resolve(conn, run_id)["id"])

    @contextmanager
    def failing_run(self, run_id: str, *, resumed: bool, resume_with: str) -> Iterator[None]:
        """Mark the run ``failed`` if the block raises (once the run is stored).

        On Ctrl-C it also logs how to continue the run: ``resume_with RUN_ID``. A resume of
        a finished run that fails leaves it finished: its stored result still stands.
        """
        before = self.get_run(run_id).status if resumed else None
        try:
            yield
        except RunInUse:  # another process owns the run: not ours to mark
            raise
        except BaseException as exc:
            if resumed and self._other_owner(run_id) is not None:
                # refused before this process claimed it (a bad option, Ctrl-C while the
                # model loaded): the live run is the other process's, left as it is
                raise
            stored = resumed or self.has_run(run_id)
            # finished before this resume, or by its owner meanwhile: its result stands
            if before == "finished" or (stored and self.get_run(run_id).status == "finished"):
                self.mark_run(run_id, "finished")
            elif stored:
                self.mark_run(run_id, "failed")
                if isinstance(exc, KeyboardInterrupt):
                    _log.warning(
                        "run %s interrupted; continue it with: %s %s%s",
                        run_id,
                        resume_with,
                        run_id,
                        self.store_option,
                    )
            raise

    def _other_owner(self, run_id: str) -> int | None:
        with self._read(f"read run '{run_id}'") as conn:
            return other_owner(conn, self._resolve(conn, run_id)["id"])

    def create_run(
        self,
        run_id: str,
        *,
        target: str,
        seed: int,
        config: Mapping[str, Any],
        alignkit_version: str,
        started_at: datetime,
    ) -> None:
        """Record a new run with status ``running``; :class:`StoreError` if the id exists."""
        config_json = canonical_json(dict(config))
        with self._write(f"create run '{run_id}'") as conn:
            exists = conn.execute(select(RUNS.c.id).where(RUNS.c.id == run_id)).first()
            if exists is not None:
                raise StoreError(f"run '{run_id}' already exists in store {self.url}")
            conn.execute(
                insert(RUNS).values(
                    id=run_id,
                    target=target,
                    seed=seed,
                    status="running",
                    started_at=started_at,
                    finished_at=None,
                    alignkit_version=alignkit_version,
                    config=config_json,
                    result=None,
                )
            )

    def finish_run(self, result: AuditResult, *, status: str = "finished") -> None:
        """Store ``result`` on its run and its findings as rows, replacing earlier ones.

        A resumed run finishes again: its findings and result are replaced, never
        duplicated. The run must exist (:meth:`create_run`).
        """
        check_status(status)
        rows = [
            {
                "run_id": result.run_id,
                "position": i,
                "check": f.check,
                "metric": f.metric,
                "failure_mode": f.failure_mode,
                "severity": f.severity.value,
                "value": None if math.isnan(f.value) else f.value,
                "finding": model_json(f),
            }
            for i, f in enumerate(result.findings)
        ]
        with self._write(f"store the result of run '{result.run_id}'") as conn:
            updated = conn.execute(
                update(RUNS)
                .where(RUNS.c.id == result.run_id)
                .values(
                    status=status,
                    finished_at=result.finished_at or datetime.now(UTC),
                    result=model_json(result),
                )
            ).rowcount
            if not updated:
                raise StoreError(f"no run '{result.run_id}' in store {self.url}")
            release(conn, result.run_id)
            conn.execute(delete(FINDINGS).where(FINDINGS.c.run_id == result.run_id))
            if rows:
                conn.execute(insert(FINDINGS), rows)

    def mark_run(self, run_id: str, status: str) -> None:
        """Set a run's status (``running`` clears ``finished_at``; the others set it)."""
        check_status(status)
        with self._write(f"mark run '{run_id}'") as conn:
            row = self._resolve(conn, run_id)
            finished_at = None if status == "running" else row["finished_at"] or datetime.now(UTC)
            conn.execute(
                update(RUNS)
                .where(RUNS.c.id == row["id"])
                .values(status=status, finished_at=finished_at)
            )
            if status != "running":
                release(conn, row["id"])

    def get_run(self, run_id: str) -> RunRecord:
        """The run ``run_id`` (or the one run whose id starts with it)."""
        with self._read(f"read run '{run_id}'") as conn:
            return run_record(self._resolve(conn, run_id))

    def list_runs(self, limit: int = 50) -> list[RunRecord]:
        """Up to ``limit`` runs, newest first."""
        query = (
            select(RUNS).order_by(RUNS.c.started_at.desc(), RUNS.c.id.desc()).limit(max(limit, 0))
        )
        with self._read("list runs") as conn:
            return [run_record(row) for row in conn.execute(query).mappings()]

    def load_result(self, run_id: str) -> AuditResult:
        """The :class:`AuditResult` stored by :meth:`finish_run` (prefixes accepted)."""
        with self._read(f"read run '{run_id}'") as conn:
            row = self._resolve(conn, run_id)
        if row["result"] is None:
            raise StoreError(f"run '{row['id']}' has no stored result (status {row['status']})")
        try:
            return AuditResult.model_validate_json(row["result"])
        except ValidationError as exc:
            raise StoreError(
                f"stored result of run '{row['id']}' is damaged: {one_line(exc)}"
            ) from exc

    def findings(self, run_id: str) -> list[Finding]:
        """The findings of a run, in the order the result listed them (prefixes accepted)."""
        with self._read(f"read findings of run '{run_id}'") as conn:
            resolved = self._resolve(conn, run_id)["id"]
            texts = conn.scalars(
                select(FINDINGS.c.finding)
                .where(FINDINGS.c.run_id == resolved)
                .order_by(FINDINGS.c.position)
            ).all()
        try:
            return [Finding.model_validate_json(text) for text in texts]
        except ValidationError as exc:
            raise StoreError(
                f"stored findings of run '{resolved}' are damaged: {one_line(exc)}"
            ) from exc

    # -- attempts ----------------------------------------------------------------

    def writer(self, *, flush_every: int = 64, flush_interval_s: float = 0.2) -> AttemptWriter:
        """A batched attempt writer bound to this store (closed with the store)."""
        self._require_open()
        writer = AttemptWriter(
            self._insert_attempts, flush_every=flush_every, flush_interval_s=flush_interval_s
        )
        with self._writers_lock:
            self._writers.add(writer)
        return writer

    def audit_log(
        self,
        *,
        key: bytes | None = None,
        flush_every: int = 512,
        flush_interval_s: float = 0.05,
        background: bool = True,
    ) -> AuditLog:
        """The guard's hash-chained audit log in this store (closed with the store).

        Args:
            key: HMAC key for the chain (``None``: plain SHA-256). Verify with the same key.
            flush_every: Commit when this many entries are buffered.
            flush_interval_s: Commit when the oldest buffered entry has waited this long.
            background: Commit from a writer thread; with ``False`` the caller flushes.
        """
        self._require_open()
        log = AuditLog(
            self._read,
            self._write,
            self.url,
            key=key,
            flush_every=flush_every,
            flush_interval_s=flush_interval_s,
            background=background,
        )
        with self._writers_lock:
            self._logs.add(log)
        return log

    def checkpoint_in_background(self, interval_s: float = 0.25) -> bool:
        """WAL checkpoints in a thread, not in commits (WalCheckpointer); whether they run.

        For an owner committing on an event loop. ``False``: no writable SQLite file.
        """
        with self._lock:
            self._require_open()
            if self._checkpointer is None:
                ckpt = start_checkpointer(self._engine, self._location, interval_s)
                if ckpt is not None:  # a store dropped unclosed stops its thread too
                    weakref.finalize(self, ckpt.close)
                self._checkpointer = ckpt
            return self._checkpointer is not None

    def approvals(self) -> ApprovalBook:
        """The approval queue's table (agent governance): ``add``, ``get``, ``find``, ...

        ``count``, ``decide`` and ``expire_due`` too; see :class:`ApprovalBook`.
        """
        self._require_open()
        return ApprovalBook(self._read, self._write, self.url)

    def traffic(self) -> TrafficHistory:
        """The traffic monitor's stored findings (``alignkit monitor traffic``)."""
        self._require_open()
        return TrafficHistory(self._read, self._write, self.url)

    def _open_writers(self) -> list[AttemptWriter]:
        with self._writers_lock:
            return list(self._writers)

    def drop_failed_attempts(self, run_id: str) -> int:
        """Delete the run's attempts whose outcome is ``error``; return how many.

        A resumed run sends them again: an error is the transport's or the app's failure,
        not the target's behaviour, and keeping it would replay the outage on every resume.
        """
        self._flush_writers()
        with self._write(f"drop failed attempts of run '{run_id}'") as conn:
            done = conn.execute(
                delete(ATTEMPTS).where(ATTEMPTS.c.run_id == run_id, ATTEMPTS.c.outcome == "error")
            )
        return int(done.rowcount or 0)

    def _insert_attempts(self, rows: list[dict[str, Any]]) -> None:
        with self._write(f"write {len(rows)} attempts") as conn:
            _insert_ignore(conn, ATTEMPTS, rows)

    def _flush_writers(self) -> None:
        """Commit what this store's writers hold, so reads see every added attempt."""
        for writer in self._open_writers():
            writer.flush()

    def attempts(self, run_id: str, producer: str | None = None) -> dict[str, AttemptRecord]:
        """A run's stored attempts (optionally one producer's), by key, oldest first.

        ``run_id`` must be the exact id; a run without attempts gives ``{}``.
        """
        self._flush_writers()
        query = select(ATTEMPTS).where(ATTEMPTS.c.run_id == run_id)
        if producer is not None:
            query = query.where(ATTEMPTS.c.producer == producer)
        query = query.order_by(ATTEMPTS.c.created_at, ATTEMPTS.c.key)
        with self._read(f"read attempts of run '{run_id}'") as conn:
            rows = conn.execute(query).mappings().all()
        try:
            return {row["key"]: attempt_from_row(row) for row in rows}
        except (ValidationError, ValueError) as exc:
            raise StoreError(
                f"stored attempts of run '{run_id}' are damaged: {one_line(exc)}"
            ) from exc

    def count_attempts(self, run_id: str) -> int:
        """How many attempts run ``run_id`` (exact id) has stored."""
        self._flush_writers()
        query = select(func.count()).select_from(ATTEMPTS).where(ATTEMPTS.c.run_id == run_id)
        with self._read(f"count attempts of run '{run_id}'") as conn:
            return int(conn.execute(query).scalar_one())
