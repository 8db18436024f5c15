"""Schema versions: creating a fresh store, refusing foreign or newer ones, migrating older ones.

The schema is versioned by an integer in the ``alignkit_meta`` table. Version
:data:`BASE_VERSION` is what ``_schema`` created when the store was introduced; every
later change is one :class:`Migration` appended to :data:`MIGRATIONS`, whose ``apply``
brings a store from ``version - 1`` to ``version``. Opening an older store runs the
pending steps in order inside one transaction, after copying an SQLite file to
``<file>.bak-v<old>``; if any step fails, nothing is changed. A store with a newer
version than this code knows is refused untouched.

A step receives a :class:`sqlalchemy.Connection` inside that transaction and must
write its own DDL (``conn.exec_driver_sql("ALTER TABLE ...")`` or
``SOME_TABLE.create(conn)``), never drop data, and must not commit.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version
from pathlib import Path

from sqlalchemy import Connection, Engine, delete, inspect, select

from alignkit.core import SchemaVersionError, StoreError
from alignkit.store._engine import (
    WRITE_OPTIONS,
    Location,
    enable_wal,
    one_line,
    translate_errors,
)
from alignkit.store._schema import (
    APPROVALS,
    GUARD_DECISIONS,
    GUARD_LOG,
    META,
    META_CREATED_BY,
    META_SCHEMA_VERSION,
    METADATA,
    TRAFFIC_FINDINGS,
)

__all__ = [
    "BASE_VERSION",
    "MIGRATIONS",
    "Migration",
    "alignkit_version",
    "latest_version",
    "prepare_schema",
]

logger = logging.getLogger("alignkit.store")

BASE_VERSION = 1


@dataclass(frozen=True)
class Migration:
    """One schema step: ``apply(conn)`` turns a store of ``version - 1`` into ``version``."""

    version: int
    description: str
    apply: Callable[[Connection], None]


def _add_guard_log(conn: Connection) -> None:
    """v2: the guard's hash-chained audit log and its per-rail decisions."""
    GUARD_LOG.create(conn)
    GUARD_DECISIONS.create(conn)


def _add_governance(conn: Connection) -> None:
    """v3: the approval queue of agent governance and the traffic monitor's findings."""
    APPROVALS.create(conn)
    TRAFFIC_FINDINGS.create(conn)


# Ordered steps after BASE_VERSION. Later issues append here, each with the matching
# table change in ``_schema``.
MIGRATIONS: list[Migration] = [
    Migration(2, "guard audit log and decisions", _add_guard_log),
    Migration(3, "approval queue and traffic findings", _add_governance),
]


def _steps() -> list[Migration]:
    """The registered steps, checked to run BASE_VERSION+1, +2, ... without gaps."""
    steps = list(MIGRATIONS)
    for expected, step in enumerate(steps, start=BASE_VERSION + 1):
        if step.version != expected:
            raise StoreError(
                f"alignkit's migration list is broken: step {step.description!r} has "
                f"version {step.version}, expected {expected}"
            )
    return steps


def latest_version() -> int:
    """The newest schema version this code reads and writes."""
    steps = _steps()
    return steps[-1].version if steps else BASE_VERSION


def alignkit_version() -> str:
    """The installed alignkit version (``unknown`` when run from a bare checkout)."""
    try:
        return _dist_version("alignkit")
    except PackageNotFoundError:
        return "unknown"


def _read_version(conn: Connection, display: str) -> int:
    raw = conn.execute(select(META.c.value).where(META.c.key == META_SCHEMA_VERSION)).scalar()
    try:
        return int(str(raw))
    except ValueError:
        raise StoreError(
            f"store {display} has a damaged meta table (schema_version is {raw!r})"
        ) from None


def _set_meta(conn: Connection, key: str, value: str) -> None:
    conn.execute(delete(META).where(META.c.key == key))
    conn.execute(META.insert().values(key=key, value=value))


def prepare_schema(engine: Engine, location: Location, *, create: bool) -> int:
    """Check, create or migrate the store behind ``engine``; return its schema version.

    Raises:
        StoreError: the database is unreadable, not an alignkit store, missing (with
            ``create`` false), or a migration failed (the store is then unchanged).
        SchemaVersionError: the store's schema is newer than this code knows.
    """
    display = location.display
    with translate_errors("read the schema", display), engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        version = _read_version(conn, display) if META.name in tables else None
    latest = latest_version()
    if version is None:
        if tables:
            shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
            raise StoreError(
                f"{display} is not an alignkit store (it holds tables {shown} but no "
                f"{META.name}); refusing to touch it"
            )
        if not create:
            raise StoreError(f"no alignkit store at {display}")
        enable_wal(engine, location)
        return _create(engine, location, latest)
    if version < BASE_VERSION:
        raise StoreError(
            f"store {display} records schema v{version}, which no alignkit wrote; its"
            f" {META.name} table is damaged"
        )
    if version > latest:
        raise SchemaVersionError(
            f"store {display} has schema v{version}; this alignkit reads up to "
            f"v{latest} — upgrade alignkit"
        )
    enable_wal(engine, location)
    if version < latest:
        return _migrate(engine, location, version)
    return version


def _create(engine: Engine, location: Location, latest: int) -> int:
    with translate_errors("create the schema", location.display), engine.connect() as conn:
        conn.execution_options(**WRITE_OPTIONS)
        with conn.begin():
            # Re-checked under the write lock: another process may have won the race.
            if inspect(conn).has_table(META.name):
                return _read_version(conn, location.display)
            METADATA.create_all(conn)
            _set_meta(conn, META_SCHEMA_VERSION, str(latest))
            _set_meta(conn, META_CREATED_BY, alignkit_version())
    logger.info("created alignkit store %s (schema v%d)", location.display, latest)
    return latest


def _backup(engine: Engine, location: Location, old: int) -> Path | None:
    """Copy an SQLite store to ``<file>.bak-v<old>`` (``-2``, ``-3``... if taken)."""
    path = location.sqlite_path
    if path is None:
        return None
    target = path.with_name(f"{path.name}.bak-v{old}")
    n = 2
    while True:  # claimed atomically: two processes at once picked (and deleted) one name
        try:
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            break
        except FileExistsError:
            target = path.with_name(f"{path.name}.bak-v{old}-{n}")
            n += 1
        except OSError as exc:
            raise StoreError(f"cannot back up {location.display} to {target}: {exc}") from exc
    try:
        with translate_errors(f"back up to {target}", location.display):
            raw = engine.raw_connection()
            try:
                dst = sqlite3.connect(target)
                try:
                    raw.driver_connection.backup(dst)  # type: ignore[union-attr]
                finally:
                    dst.close()
            finally:
                raw.close()
    except StoreError:
        _drop_backup(target)
        raise
    return target


def _drop_backup(target: Path) -> None:
    """Delete a backup this process made (with the WAL files SQLite may leave beside it)."""
    for name in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
        name.unlink(missing_ok=True)


def _migrate(engine: Engine, location: Location, old: int) -> int:
    display = location.display
    backup = _backup(engine, location, old)
    try:
        found, current = _apply_steps(engine, display, old)
    except BaseException:
        if backup is not None:  # the store is unchanged: the copy would only pile up
            _drop_backup(backup)
        raise
    if found == current:  # another process migrated it first: nothing to say or keep
        if backup is not None:
            _drop_backup(backup)
        return current
    logger.warning(
        "migrated alignkit store %s from schema v%d to v%d%s",
        display,
        old,
        current,
        f" (backup of v{old}: {backup})" if backup else "",
    )
    return current


def _apply_steps(engine: Engine, display: str, old: int) -> tuple[int, int]:
    """Run the migration steps in one transaction; the versions found and reached."""
    stamp = f"alignkit {alignkit_version()}, {datetime.now(UTC).isoformat(timespec='seconds')}"
    with translate_errors("migrate the schema", display), engine.connect() as conn:
        conn.execution_options(**WRITE_OPTIONS)
        with conn.begin():
            found = current = _read_version(conn, display)  # (another may have migrated)
            for step in _steps():
                if step.version <= current:
                    continue
                try:
                    step.apply(conn)
                except Exception as exc:
                    raise StoreError(
                        f"migrating store {display} to schema v{step.version} "
                        f"({step.description}) failed: {one_line(exc)}; the store is "
                        f"unchanged at v{old}"
                    ) from exc
                _set_meta(conn, META_SCHEMA_VERSION, str(step.version))
                _set_meta(conn, f"migration.v{step.version}", f"{step.description} ({stamp})")
                current = step.version
    return found, current
