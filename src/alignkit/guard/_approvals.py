"""The approval queue: escalated actions wait in the store for a human; a timeout denies.

An escalation (a tool call a policy rule escalates, or a chat request a rail escalates)
becomes a ``pending`` approval holding what the approver needs to see, with secrets
redacted. A person approves or denies it — through ``alignkit serve``'s admin API or its
approvals page — or nobody does before ``timeout_s`` and it expires, which counts as a
denial. The request, every decision (who, when, note) and every expiry go into the
guard's hash-chained audit log. The queue lives in the store, so an agent in one process
can wait on an approval that a person decides through a server in another.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from alignkit.guard._actions import ActionCheck
from alignkit.guard._result import AuditSink
from alignkit.store import ApprovalBook, ApprovalRecord, Store

__all__ = ["ApprovalQueue", "check_of", "safe_json"]

_log = logging.getLogger(__name__)
_MAX_JSON_TEXT = 4000
_SHOWN_TEXT = 1 << 20  # what a reviewer is shown: whole requests (bodies are capped anyway)
_SHOWN_ITEMS = 100_000


def _now() -> datetime:
    return datetime.now(UTC)


def safe_json(
    value: Any,
    redact: Callable[[str], str],
    budget: int = _MAX_JSON_TEXT,
    items: int = 200,
    cut: list[str] | None = None,
) -> Any:
    """``value`` made JSON-safe for logs and the store: strings redacted and cut, depth bounded.

    What had to be cut is named in ``cut`` when a list is given.
    """

    def walk(v: Any, depth: int) -> Any:
        if depth > 12:
            if cut is not None:
                cut.append("nested deeper than 12 levels")
            return "…"
        if isinstance(v, str):
            if len(v) > budget and cut is not None:
                cut.append(f"a text of {len(v):,} characters")
            return redact(v if len(v) <= budget else v[:budget] + "…")
        if isinstance(v, bool) or v is None:
            return v
        if isinstance(v, int):
            return v if abs(v) < 2**63 else str(v)
        if isinstance(v, float):
            return v if v == v and abs(v) != float("inf") else str(v)
        if isinstance(v, Mapping | list | tuple) and len(v) > items and cut is not None:
            cut.append(f"a collection of {len(v):,} items")
        if isinstance(v, Mapping):
            out: dict[str, Any] = {}
            for k, x in list(v.items())[:items]:
                name = str(k)
                if len(name) > 200 and cut is not None:  # a payload after the cut went unseen
                    cut.append(f"a key of {len(name):,} characters")
                out[redact(name[:200])] = walk(x, depth + 1)  # keys hold secrets too
            return out
        if isinstance(v, list | tuple):
            return [walk(x, depth + 1) for x in list(v)[:items]]
        return redact(repr(v)[:budget])

    return walk(value, 0)


def check_of(record: ApprovalRecord, **extra: Any) -> ActionCheck:
    """The :class:`ActionCheck` an approval in its current state amounts to."""
    status = record.status
    if status == "pending":
        decision, reason = "pending", f"{record.reason} — waiting for approval"
    elif status == "approved":
        note = f": {record.note}" if record.note else ""
        decision, reason = "allow", f"approved by {record.decided_by}{note}"
    elif status == "denied":
        note = f": {record.note}" if record.note else ""
        decision, reason = "block", f"denied by {record.decided_by}{note}"
    else:
        waited = (record.expires_at - record.created_at).total_seconds()
        decision, reason = "block", f"no decision within {waited:g} s; denied (timeout)"
    return ActionCheck(
        decision=decision,
        rule=record.rule,
        reason=reason,
        approval_id=record.id,
        status=status,
        tool=record.subject,
        request_id=record.request_id or "",
        expires_at=record.expires_at,
        decided_by=record.decided_by,
        **extra,
    )


class ApprovalQueue:
    """Escalations waiting in the store for a human decision.

    Args:
        book: The store's approval table (:meth:`Store.approvals`).
        timeout_s: Time a tool call waits before it is denied (default: the guard's
            ``approvals.timeout_s`` once attached, else 300 s).
        chat_timeout_s: Time an escalated chat request waits before it is denied.
        log: The audit log requests, decisions and expiries go to.
        redact: Masks secrets in what is stored and logged.
        poll_s: How often a waiter looks at the store.

    Example::

        queue = ApprovalQueue.from_store(store, log=store.audit_log())
        guard = Guard("guard.yaml", approvals=queue)
        check = guard.check_action("edit_file", {"path": ".github/workflows/ci.yml"})
        final = await guard.wait_action(check.approval_id)   # allow or block
    """

    def __init__(
        self,
        book: ApprovalBook,
        *,
        timeout_s: float | None = None,
        chat_timeout_s: float | None = None,
        log: AuditSink | None = None,
        redact: Callable[[str], str] | None = None,
        poll_s: float = 0.2,
    ) -> None:
        self.book = book
        # None: the guard's config decides when the queue is attached (300 / 60 s until then)
        self.configured = timeout_s is not None, chat_timeout_s is not None
        self.timeout_s = timeout_s if timeout_s is not None else 300.0
        self.chat_timeout_s = chat_timeout_s if chat_timeout_s is not None else 60.0
        self.log = log
        self.redact: Callable[[str], str] = redact or (lambda s: s)
        self.poll_s = poll_s
        # set by a server: once it is stopping, waiters stop waiting (pending: a denial)
        self.stopping: Callable[[], bool] = lambda: False
        self.decided: dict[str, int] = {"approved": 0, "denied": 0, "expired": 0}
        self._counting = threading.Lock()
        self.requested = 0

    @classmethod
    def from_store(cls, store: Store, **kwargs: Any) -> ApprovalQueue:
        """A queue on ``store``'s approval table."""
        return cls(store.approvals(), **kwargs)

    # -- requests and decisions ------------------------------------------------------------

    def submit(
        self,
        *,
        kind: str,
        subject: str,
        rule: str,
        reason: str,
        request: Mapping[str, Any],
        request_id: str | None = None,
        timeout_s: float | None = None,
    ) -> ApprovalRecord:
        """Queue an escalation; it expires (denied) after ``timeout_s``."""
        wait = timeout_s if timeout_s is not None else (
            self.chat_timeout_s if kind == "chat" else self.timeout_s)  # fmt: skip
        now = _now()
        cut: list[str] = []
        # The reviewer sees the whole request: a view cut at 4,000 characters let a payload
        # after the cut be approved unseen. What cannot be shown whole is denied at once.
        hidden: list[str] = []

        def redact(text: str) -> str:
            out = self.redact(text)
            if out != text:
                hidden.append(text)
            return out

        shown = safe_json(dict(request), redact, _SHOWN_TEXT, _SHOWN_ITEMS, cut)
        record = ApprovalRecord(
            id=f"apr_{secrets.token_urlsafe(16)}",
            created_at=now,
            expires_at=now + timedelta(seconds=wait),
            status="pending",
            kind=kind,
            subject=subject[:200],
            rule=rule[:200],
            reason=self.redact(reason),
            request_id=request_id,
            request=shown,
        )
        self.book.add(record)
        with self._counting:  # submitted from worker threads (the server's store calls)
            self.requested += 1
        self._append("requested", record, by="guard")
        if cut:
            why = f"too large to show a reviewer whole ({cut[0]})"
        elif hidden and kind == "action":
            # A secret pattern (a private key's BEGIN … END) can hide a command between its
            # markers: approved unseen, `rm -rf` ran. A tool call is shown whole or denied.
            why = "it holds text the guard redacts as a secret, which could hide what it does"
        else:
            return record
        return self.decide(record.id, approve=False, by="guard", note=why)[1]

    def get(self, approval_id: str) -> ApprovalRecord:
        """The approval now (expiring it first if its time is up)."""
        record = self.book.get(approval_id)
        if record.status == "pending" and record.expires_at <= _now():
            self.expire_due()
            record = self.book.get(approval_id)
        return record

    def decide(
        self, approval_id: str, *, approve: bool, by: str, note: str = ""
    ) -> tuple[bool, ApprovalRecord]:
        """Approve or deny a pending approval; whether this call decided it, and its state.

        Raises:
            StoreError: there is no such approval.
        """
        self.get(approval_id)  # missing → StoreError; due → expired first
        status = "approved" if approve else "denied"
        changed, record = self.book.decide(
            approval_id, status, self.redact(by) or "admin", self.redact(note), _now()
        )
        if changed:
            with self._counting:
                self.decided[status] += 1
            self._append(status, record, by=record.decided_by or "admin", note=record.note)
        return changed, record

    def expire_due(self) -> list[ApprovalRecord]:
        """Deny every approval whose time is up (each is logged once)."""
        moved = self.book.expire_due(_now())
        for record in moved:
            with self._counting:
                self.decided["expired"] += 1
            self._append("expired", record, by="timeout")
        return moved

    def find(self, status: str | None = None, limit: int = 100) -> list[ApprovalRecord]:
        """Approvals, newest first (expiring the due ones first)."""
        self.expire_due()
        return self.book.find(status, limit=limit)

    def _append(self, event: str, record: ApprovalRecord, *, by: str, note: str = "") -> None:
        if self.log is None:
            return
        self.log.append(
            {
                "kind": "approval",
                "event": event,
                "time": _now().isoformat(timespec="microseconds"),
                "approval_id": record.id,
                "approval_kind": record.kind,
                "request_id": record.request_id,
                "subject": record.subject,
                "rule": record.rule,
                "reason": record.reason,
                "by": by,
                "note": note,
                "expires_at": record.expires_at.isoformat(),
            }
        )

    # -- waiting -----------------------------------------------------------------------------

    def _deadline(self, record: ApprovalRecord, timeout_s: float | None) -> float:
        left = (record.expires_at - _now()).total_seconds()
        if timeout_s is not None:
            left = min(left, timeout_s)
        return time.monotonic() + max(0.0, left)

    async def wait(self, approval_id: str, timeout_s: float | None = None) -> ApprovalRecord:
        """Wait until the approval is decided or expires, or ``timeout_s`` passes.

        The store is read in a thread: expiring writes, and the store may be locked.
        """
        record = await asyncio.to_thread(self.get, approval_id)
        deadline = self._deadline(record, timeout_s)
        while record.status == "pending" and not self.stopping():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            await asyncio.sleep(min(self.poll_s, left))
            record = await asyncio.to_thread(self.get, approval_id)
        if record.status == "pending" and timeout_s is None and not self.stopping():
            await asyncio.sleep(max(0.0, (record.expires_at - _now()).total_seconds()) + 0.01)
            record = await asyncio.to_thread(self.get, approval_id)
        return record

    def wait_sync(self, approval_id: str, timeout_s: float | None = None) -> ApprovalRecord:
        """:meth:`wait` for synchronous code (blocks the calling thread)."""
        record = self.get(approval_id)
        deadline = self._deadline(record, timeout_s)
        while record.status == "pending":
            left = deadline - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(self.poll_s, left))
            record = self.get(approval_id)
        if record.status == "pending" and timeout_s is None:  # until expiry: settle it
            time.sleep(max(0.0, (record.expires_at - _now()).total_seconds()) + 0.01)
            record = self.get(approval_id)
        return record
