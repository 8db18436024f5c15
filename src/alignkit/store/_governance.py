"""Stored agent governance and traffic monitoring: the approval queue and traffic findings.

An approval is one escalated action (a tool call, or a chat request a rail escalated)
waiting for a human. It is created ``pending`` and leaves that state exactly once — to
``approved`` or ``denied`` by someone, or ``expired`` when nobody decided before
``expires_at`` — through a conditional update, so two approvers (or an approver and the
timeout) racing on one approval cannot both win, across processes too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import RowMapping

from alignkit.core import Finding, StoreError
from alignkit.store import _engine
from alignkit.store._engine import Conn, WriteConn
from alignkit.store._json import canonical_json, model_json
from alignkit.store._schema import APPROVALS, TRAFFIC_FINDINGS

__all__ = ["APPROVAL_STATUSES", "ApprovalBook", "ApprovalRecord", "TrafficHistory"]

APPROVAL_STATUSES = ("pending", "approved", "denied", "expired")


@dataclass(frozen=True)
class ApprovalRecord:
    """One stored approval.

    Attributes:
        id: Its id (hard to guess: whoever holds it may poll it).
        created_at: When it was requested.
        expires_at: When it is denied if nobody decided.
        status: ``pending``, ``approved``, ``denied`` or ``expired``.
        kind: ``action`` (a tool call) or ``chat`` (a request a rail escalated).
        subject: The tool, or the rail.
        rule: The rule (or rail) that escalated.
        reason: Why it was escalated.
        request_id: The audit-log entry of the escalated request.
        request: What the approver sees (JSON-able).
        decided_at: When it left ``pending``.
        decided_by: Who decided (``timeout`` for an expiry).
        note: The approver's note.
    """

    id: str
    created_at: datetime
    expires_at: datetime
    status: str
    kind: str
    subject: str
    rule: str
    reason: str
    request_id: str | None
    request: dict[str, Any]
    decided_at: datetime | None = None
    decided_by: str | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (times as ISO text)."""
        out = dict(self.__dict__)
        for key in ("created_at", "expires_at", "decided_at"):
            value = out[key]
            out[key] = value.isoformat() if value is not None else None
        return out


def _record(row: RowMapping) -> ApprovalRecord:
    try:
        request = json.loads(row["request"])
    except ValueError as exc:
        raise StoreError(f"stored approval '{row['id']}' is damaged: {exc}") from exc
    return ApprovalRecord(
        id=row["id"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        status=row["status"],
        kind=row["kind"],
        subject=row["subject"],
        rule=row["rule"],
        reason=row["reason"],
        request_id=row["request_id"],
        request=request if isinstance(request, dict) else {"value": request},
        decided_at=row["decided_at"],
        decided_by=row["decided_by"],
        note=row["note"],
    )


class ApprovalBook:
    """The store's approval table (get one from :meth:`Store.approvals`). Thread-safe.

    Its writes wait at most the store's busy timeout in all (this process's lock, then
    SQLite's): a server's escalations queued behind one another otherwise waited that long
    each.
    """

    def __init__(self, read: Conn, write: WriteConn, display: str) -> None:
        self._read, self._write, self._display = read, write, display

    def add(self, record: ApprovalRecord) -> None:
        """Store a new approval (its id must be new)."""
        if record.status not in APPROVAL_STATUSES:
            raise StoreError(f"unknown approval status {record.status!r}")
        row = {**record.__dict__, "request": canonical_json(record.request)}
        # a lone surrogate (a tool name from text that is not UTF-8) cannot be written:
        # shown as U+FFFD, the approval is stored instead of the check failing
        row = {k: _SURROGATES.sub("\ufffd", v) if isinstance(v, str) else v for k, v in row.items()}
        with self._write(f"add approval '{record.id}'", busy_s=_engine.BUSY_TIMEOUT_S) as conn:
            conn.execute(insert(APPROVALS).values(**row))

    def get(self, approval_id: str) -> ApprovalRecord:
        """The approval ``approval_id``; :class:`StoreError` when there is none."""
        with self._read(f"read approval '{approval_id}'") as conn:
            row = conn.execute(select(APPROVALS).where(APPROVALS.c.id == approval_id)).mappings()
            found = row.first()
        if found is None:
            raise StoreError(f"no approval '{approval_id}' in store {self._display}")
        return _record(found)

    def find(self, status: str | None = None, *, limit: int = 100) -> list[ApprovalRecord]:
        """Approvals (only those with ``status`` when given), newest first.

        Pending ones come soonest-expiring first, so a long queue shows a reviewer what is
        about to lapse.
        """
        order = (
            APPROVALS.c.expires_at.asc() if status == "pending" else APPROVALS.c.created_at.desc()
        )
        query = select(APPROVALS).order_by(order).limit(max(0, limit))
        if status is not None:
            query = query.where(APPROVALS.c.status == status)
        with self._read("list approvals") as conn:
            return [_record(r) for r in conn.execute(query).mappings()]

    def count(self, status: str | None = None) -> int:
        """How many approvals there are (with ``status`` when given)."""
        query = select(func.count()).select_from(APPROVALS)
        if status is not None:
            query = query.where(APPROVALS.c.status == status)
        with self._read("count approvals") as conn:
            return int(conn.execute(query).scalar_one())

    def decide(
        self, approval_id: str, status: str, by: str, note: str, now: datetime
    ) -> tuple[bool, ApprovalRecord]:
        """Move a pending, unexpired approval to ``status``; whether this call did it.

        Returns the approval as stored afterwards, whoever decided it.
        """
        if status not in ("approved", "denied"):
            raise StoreError(f"an approval can be approved or denied, not {status!r}")
        with self._write(f"decide approval '{approval_id}'", busy_s=_engine.BUSY_TIMEOUT_S) as conn:
            changed = conn.execute(
                update(APPROVALS)
                .where(APPROVALS.c.id == approval_id)
                .where(APPROVALS.c.status == "pending")
                .where(APPROVALS.c.expires_at > now)
                .values(status=status, decided_at=now, decided_by=by[:200], note=note)
            ).rowcount
        return bool(changed), self.get(approval_id)

    def expire_due(self, now: datetime) -> list[ApprovalRecord]:
        """Mark every pending approval past its expiry ``expired``; those this call moved.

        Takes the write lock only when something is due (a server calls this twice a second).
        """
        query = (
            select(APPROVALS.c.id)
            .where(APPROVALS.c.status == "pending")
            .where(APPROVALS.c.expires_at <= now)
        )
        with self._read("find due approvals") as conn:
            if conn.execute(query.limit(1)).first() is None:
                return []
        with self._write("expire approvals", busy_s=_engine.BUSY_TIMEOUT_S) as conn:
            due = conn.execute(query).scalars().all()
            moved = []
            for approval_id in due:
                changed = conn.execute(
                    update(APPROVALS)
                    .where(APPROVALS.c.id == approval_id)
                    .where(APPROVALS.c.status == "pending")
                    .values(status="expired", decided_at=now, decided_by="timeout")
                ).rowcount
                if changed:
                    moved.append(approval_id)
        return [self.get(a) for a in moved]


class TrafficHistory:
    """The traffic monitor's stored findings (get one from :meth:`Store.traffic`)."""

    def __init__(self, read: Conn, write: Conn, display: str) -> None:
        self._read, self._write, self._display = read, write, display

    def add(self, findings: Sequence[Finding], *, requests: int, at: datetime) -> None:
        """Store one report of the monitor (its findings at ``at``, after ``requests``)."""
        rows = [
            {
                "created_at": at,
                "requests": requests,
                "metric": f.metric,
                "severity": f.severity.value,
                "value": f.value if f.value == f.value else None,  # NaN is stored as NULL
                "finding": model_json(f),
            }
            for f in findings
        ]
        if rows:
            with self._write(f"store {len(rows)} traffic findings") as conn:
                conn.execute(insert(TRAFFIC_FINDINGS), rows)

    def read(
        self,
        *,
        since: datetime | None = None,
        metrics: Sequence[str] | None = None,
        metric_glob: str | None = None,
        limit: int = 10_000,
    ) -> list[tuple[datetime, int, Finding]]:
        """Stored ``(time, requests, finding)``, the newest ``limit``, oldest first.

        ``metric_glob`` (``traffic.input_*``) selects in the query, before the limit.
        """
        query = select(TRAFFIC_FINDINGS).order_by(TRAFFIC_FINDINGS.c.id.desc()).limit(limit)
        if since is not None:
            query = query.where(TRAFFIC_FINDINGS.c.created_at >= since)
        if metrics:
            query = query.where(TRAFFIC_FINDINGS.c.metric.in_(list(metrics)))
        if metric_glob is not None:
            query = query.where(TRAFFIC_FINDINGS.c.metric.like(_like(metric_glob), escape="\\"))
        with self._read("read traffic findings") as conn:
            rows = conn.execute(query).mappings().all()
        try:
            return [
                (r["created_at"], int(r["requests"]), Finding.model_validate_json(r["finding"]))
                for r in reversed(rows)
            ]
        except ValidationError as exc:
            raise StoreError(
                f"stored traffic findings are damaged: {exc.errors()[0]['msg']}"
            ) from exc


_SURROGATES = re.compile("[\ud800-\udfff]")


def _like(glob: str) -> str:
    """A shell glob as an SQL LIKE pattern that admits at least what the glob matches.

    ``[...]`` becomes one character of any kind (it was matched literally, so
    ``traffic.input_le[n]`` found nothing); the caller filters with the glob itself.
    """
    glob = re.sub(r"\[!?\]?[^\]]*\]", "\x00", glob)
    out = glob.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return out.replace("*", "%").replace("?", "_").replace("\x00", "_")
