"""The store's tables, as SQLAlchemy Core metadata (the newest schema version).

A fresh store is created from these definitions and stamped with the newest version;
an older store reaches the same shape through the steps in ``_migrations``. A change
to a table here therefore always comes with a migration step that makes it on disk.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator

__all__ = [
    "APPROVALS",
    "ATTEMPTS",
    "FINDINGS",
    "GUARD_DECISIONS",
    "GUARD_LOG",
    "META",
    "METADATA",
    "META_CREATED_BY",
    "META_SCHEMA_VERSION",
    "RUNS",
    "TRAFFIC_FINDINGS",
    "IsoDateTime",
]

META_SCHEMA_VERSION = "schema_version"
META_CREATED_BY = "created_by"

# Named constraints keep later ALTERs (and SQLite table rebuilds) addressable by name.
METADATA = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def utc_text(value: datetime) -> str:
    """``value`` as the store keeps it: ISO-8601 in UTC (a naive value is local time)."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


class IsoDateTime(TypeDecorator[datetime]):
    """A datetime stored as ISO-8601 text in UTC.

    SQLite has no datetime type and SQLAlchemy's default drops the offset; text keeps
    the offset, round-trips exactly and sorts chronologically for values in UTC. A naive
    value (``datetime.now()``) is local time and stored converted; a naive text read back
    (a hand-edited row) is taken as UTC: mixed, the two could not be subtracted.
    """

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> str | None:
        """Serialise ``value`` (UTC when it is timezone-aware)."""
        if value is None:
            return None
        return utc_text(value)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        """Parse the stored text back into a datetime."""
        if value is None:
            return None
        parsed = datetime.fromisoformat(str(value))
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


META = Table(
    "alignkit_meta",
    METADATA,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

RUNS = Table(
    "runs",
    METADATA,
    Column("id", String(128), primary_key=True),
    Column("target", Text, nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", IsoDateTime, nullable=False, index=True),
    Column("finished_at", IsoDateTime, nullable=True),
    Column("alignkit_version", String(64), nullable=False),
    Column("config", Text, nullable=False),
    # The whole AuditResult as JSON, set when the run finishes.
    Column("result", Text, nullable=True),
)

FINDINGS = Table(
    "findings",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "run_id",
        String(128),
        ForeignKey("runs.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("position", Integer, nullable=False),
    Column("check", String(200), nullable=False, index=True),
    Column("metric", String(200), nullable=False, index=True),
    Column("failure_mode", String(200), nullable=False, index=True),
    Column("severity", String(16), nullable=False),
    # Nullable: SQLite stores a NaN float as NULL; the finding JSON keeps the value.
    Column("value", Float, nullable=True),
    Column("finding", Text, nullable=False),
)

ATTEMPTS = Table(
    "attempts",
    METADATA,
    Column("key", String(64), primary_key=True),
    Column("run_id", String(128), nullable=False),
    Column("producer", String(200), nullable=False),
    Column("sample_index", Integer, nullable=False),
    Column("messages", Text, nullable=False),
    Column("params", Text, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("completion", Text, nullable=False),
    Column("created_at", IsoDateTime, nullable=False),
)
# Serves both "all attempts of a run" and "attempts of one producer in a run".
Index(None, ATTEMPTS.c.run_id, ATTEMPTS.c.producer)

# -- schema v2: the guard's hash-chained audit log and its decisions -----------------------

GUARD_LOG = Table(
    "guard_log",
    METADATA,
    # Positions in the chain, 1, 2, 3, ... without gaps; assigned by the writer.
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("created_at", IsoDateTime, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("request_id", String(64), nullable=True, index=True),
    # The entry as canonical JSON: exactly the text the hash covers.
    Column("entry", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("entry_hash", String(64), nullable=False),
)

GUARD_DECISIONS = Table(
    "guard_decisions",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("log_seq", BigInteger, nullable=False, index=True),
    Column("request_id", String(64), nullable=True, index=True),
    Column("created_at", IsoDateTime, nullable=False, index=True),
    Column("stage", String(16), nullable=False),
    Column("rail", String(200), nullable=False, index=True),
    Column("decision", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("score", Float, nullable=True),
    Column("latency_ms", Float, nullable=True),
)

# -- schema v3: agent governance (approvals) and traffic monitoring -------------------------

APPROVALS = Table(
    "approvals",
    METADATA,
    Column("id", String(64), primary_key=True),
    Column("created_at", IsoDateTime, nullable=False, index=True),
    Column("expires_at", IsoDateTime, nullable=False),
    # pending | approved | denied | expired
    Column("status", String(16), nullable=False, index=True),
    # action (a tool call) | chat (a request a rail escalated)
    Column("kind", String(16), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("rule", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("request_id", String(64), nullable=True),
    # What the approver sees (tool, arguments, context; or the conversation), as JSON.
    Column("request", Text, nullable=False),
    Column("decided_at", IsoDateTime, nullable=True),
    Column("decided_by", String(200), nullable=True),
    Column("note", Text, nullable=False),
)

TRAFFIC_FINDINGS = Table(
    "traffic_findings",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", IsoDateTime, nullable=False, index=True),
    # Requests the monitor had seen when it reported.
    Column("requests", BigInteger, nullable=False),
    Column("metric", String(200), nullable=False, index=True),
    Column("severity", String(16), nullable=False),
    Column("value", Float, nullable=True),
    Column("finding", Text, nullable=False),
)
