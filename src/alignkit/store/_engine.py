"""Where a store lives, how its engine is built, and how foreign errors become StoreError.

SQLite gets special care: the file is checked *before* SQLite opens it (a file that
is not a database is refused untouched), parent folders are created, every connection
runs with ``synchronous=NORMAL`` and a busy timeout, transactions are begun explicitly
(so DDL is transactional and writers take the lock up front with ``BEGIN IMMEDIATE``),
and WAL mode is switched on only once the file is known to be an alignkit store.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from alignkit.core import StoreError

__all__ = [
    "BUSY_TIMEOUT_S",
    "Conn",
    "WriteConn",
    "StoreBusy",
    "WRITE_OPTIONS",
    "Location",
    "check_sqlite_file",
    "enable_wal",
    "make_engine",
    "one_line",
    "parse_location",
    "translate_errors",
    "write_options",
]

logger = logging.getLogger("alignkit.store")

BUSY_TIMEOUT_S = 30.0
_SQLITE_HEADER = b"SQLite format 3\x00"
_BEGIN_OPTION = "alignkit_begin"
# Execution options for a connection that will write: on SQLite, take the write lock
# at BEGIN so a read-then-write transaction never fails on a stale snapshot.
WRITE_OPTIONS: dict[str, Any] = {_BEGIN_OPTION: "BEGIN IMMEDIATE"}
_BUSY_OPTION = "alignkit_busy_ms"


Conn = Callable[[str], AbstractContextManager[Connection]]
"""``Store._read``: a connection for reading, given what it is for (said in errors)."""


class WriteConn(Protocol):
    """``Store._write``: a write transaction, waiting at most ``busy_s`` for the lock."""

    def __call__(
        self, action: str, *, busy_s: float | None = None
    ) -> AbstractContextManager[Connection]: ...


class StoreBusy(StoreError):
    """Another connection held the store's write lock for all of a bounded wait."""


def write_options(busy_s: float | None = None) -> dict[str, Any]:
    """:data:`WRITE_OPTIONS`, waiting at most ``busy_s`` for SQLite's write lock if given.

    Without it a writer waits :data:`BUSY_TIMEOUT_S`; a caller that must not stall (an
    event loop) asks for a short wait and hands a :class:`StoreBusy` to a thread.
    """
    if busy_s is None:
        return WRITE_OPTIONS
    return {**WRITE_OPTIONS, _BUSY_OPTION: max(0, int(busy_s * 1000))}


@dataclass(frozen=True)
class Location:
    """A parsed store URL.

    Attributes:
        url: the SQLAlchemy URL to connect to (``~`` expanded for SQLite paths).
        display: the URL for messages, password hidden.
        sqlite_path: the database file for a file-based SQLite store, else ``None``.
        memory: whether this is an in-memory SQLite database.
    """

    url: URL
    display: str
    sqlite_path: Path | None
    memory: bool

    @property
    def is_sqlite(self) -> bool:
        """Whether the backend is SQLite."""
        return self.url.get_backend_name() == "sqlite"


def one_line(exc: BaseException) -> str:
    """A one-line description of ``exc`` (the driver's message for database errors)."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror + (f": {exc.filename}" if exc.filename else "")
    else:
        text = str(exc)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


@contextmanager
def translate_errors(action: str, display: str) -> Iterator[None]:
    """Turn SQLAlchemy, sqlite3 and OS errors raised inside into one-line StoreErrors."""
    try:
        yield
    except (SQLAlchemyError, sqlite3.Error, OSError) as exc:
        kind = StoreBusy if _is_busy(exc) else StoreError
        raise kind(f"cannot {action} in store {display}: {one_line(exc)}") from exc


def _is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite's "database is locked" (SQLITE_BUSY or an extended code)."""
    code = getattr(getattr(exc, "orig", exc), "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF == sqlite3.SQLITE_BUSY


def parse_location(url: str) -> Location:
    """Parse a store URL; :class:`StoreError` if it is not a valid SQLAlchemy URL."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise StoreError(f"invalid store URL {url!r}: {one_line(exc)}") from exc
    display = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() != "sqlite":
        return Location(parsed, display, None, memory=False)
    database = parsed.database or ""
    memory = database in ("", ":memory:") or parsed.query.get("mode") == "memory"
    if memory or parsed.query.get("uri"):
        return Location(parsed, display, None, memory=memory)
    path = Path(database).expanduser()
    parsed = parsed.set(database=str(path))
    return Location(parsed, display, path, memory=False)


def store_file(url: str) -> Path | None:
    """The database file a store URL names (a file-based SQLite store), else ``None``.

    Raises:
        StoreError: ``url`` is not a valid store URL.
    """
    return parse_location(url).sqlite_path


def on_read_only_media(location: Location) -> Location:
    """``location`` opened read-only and immutable when its file sits on read-only media.

    A WAL store needs its ``-shm`` file beside it to be read, which read-only media cannot
    take: every command that only reads failed with "unable to open database file".
    Nothing can change such a file, so reading it as immutable is exact.
    """
    path = location.sqlite_path
    if path is None or not path.is_file():
        return location
    try:
        read_only = bool(os.statvfs(path).f_flag & os.ST_RDONLY)
        wal = path.with_name(path.name + "-wal")
        pending = wal.exists() and wal.stat().st_size > 0
    except (OSError, AttributeError):  # no statvfs (Windows)
        return location
    if not read_only or pending:  # immutable would not read committed rows in the -wal
        return location
    # built, not parsed: a parsed URL would decode the %XX that SQLite's URI needs
    database = f"file:{quote(str(path.resolve()))}"
    query = {"mode": "ro", "immutable": "1", "uri": "true"}
    return replace(location, url=URL.create("sqlite", database=database, query=query))


def check_sqlite_file(path: Path, *, create: bool) -> None:
    """Refuse a path SQLite must not open; create parent folders for a new store.

    Raises:
        StoreError: the path is a folder, is not an SQLite file, cannot be read, is
            missing while ``create`` is false, or its folder cannot be created or
            written.
    """
    if path.exists():
        if path.is_dir():
            raise StoreError(f"store path {path} is a directory, not a database file")
        try:
            with path.open("rb") as fh:
                header = fh.read(len(_SQLITE_HEADER))
        except OSError as exc:
            raise StoreError(f"cannot read store {path}: {one_line(exc)}") from exc
        if header and header != _SQLITE_HEADER:
            raise StoreError(
                f"{path} is not an SQLite database (corrupt or another kind of file); "
                "refusing to touch it"
            )
        return
    if not create:
        raise StoreError(f"no alignkit store at {path}")
    parent = path.parent
    blocker = next((p for p in (parent, *parent.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise StoreError(f"cannot create store {path}: {blocker} is a file, not a folder")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create store folder {parent}: {one_line(exc)}") from exc
    if not os.access(parent, os.W_OK | os.X_OK):
        raise StoreError(f"cannot create store {path}: folder {parent} is not writable")


def _install_sqlite_hooks(engine: Engine) -> None:
    busy_ms = int(BUSY_TIMEOUT_S * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to the "begin" hook below (the pysqlite driver would
        # otherwise begin lazily and leave DDL outside transactions).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        begin = str(options.get(_BEGIN_OPTION, "BEGIN"))
        wait_ms = options.get(_BUSY_OPTION)
        if wait_ms is None:
            conn.exec_driver_sql(begin)
            return
        # the write lock is taken at BEGIN IMMEDIATE: only that statement waits less
        conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(wait_ms)}")
        try:
            conn.exec_driver_sql(begin)
        finally:
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {busy_ms}")


def make_engine(location: Location) -> Engine:
    """Build the engine for ``location`` (SQLite: thread-shareable connections)."""
    try:
        if not location.is_sqlite:
            return create_engine(location.url, pool_pre_ping=True)
        engine = create_engine(
            location.url,
            connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_S},
            poolclass=StaticPool if location.memory else None,
        )
    except NoSuchModuleError as exc:
        raise StoreError(f"unsupported store URL {location.display}: {one_line(exc)}") from exc
    except ImportError as exc:
        raise StoreError(
            f"the database driver for {location.display} is not installed: {one_line(exc)}"
        ) from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"invalid store URL {location.display}: {one_line(exc)}") from exc
    _install_sqlite_hooks(engine)
    return engine


def enable_wal(engine: Engine, location: Location) -> None:
    """Switch a file-based SQLite store to WAL mode (persistent in the file)."""
    if location.sqlite_path is None or location.url.query.get("immutable"):
        return  # on read-only media: nothing can change it
    with translate_errors("enable WAL mode", location.display):
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA journal_mode")  # a read: a store on read-only media
            row = cursor.fetchone()
            if not row or str(row[0]).lower() != "wal":
                try:
                    cursor.execute("PRAGMA journal_mode = WAL")
                    row = cursor.fetchone()
                except sqlite3.OperationalError as exc:
                    if "readonly" not in str(exc).replace("-", "").replace(" ", ""):
                        raise  # reading still works; a write says why it cannot
                    logger.info("store %s is read-only: left in its journal mode", location.display)
                    return
            cursor.close()
        finally:
            raw.close()
    mode = str(row[0]) if row else "unknown"
    if mode.lower() != "wal":
        logger.warning("store %s could not switch to WAL mode (mode is %s)", location.display, mode)
