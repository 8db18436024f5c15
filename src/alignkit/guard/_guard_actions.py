"""Tool calls through the guard: the action policy, approvals and the audit log (DESIGN §4).

:class:`ToolCalls` is the part of :class:`~alignkit.guard.Guard` that checks agent tool
calls; it is a mixin, so the guard's breakers, policy, queue and log are its own.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from alignkit.core import ConfigError, DecisionKind
from alignkit.guard._actions import ActionCheck, ActionPolicy
from alignkit.guard._approvals import ApprovalQueue, check_of, safe_json
from alignkit.guard._breaker import CircuitBreakers, scope_keys
from alignkit.guard._config import GuardConfig
from alignkit.guard._result import AuditSink
from alignkit.guard._text import Redactor
from alignkit.guard._traffic_feed import TrafficFeed

__all__ = ["ToolCalls", "new_request_id"]

_ID_PREFIX = os.urandom(6).hex()
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    """A request id unique across processes: a random per-process prefix and a counter."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER):010x}"


class ToolCalls:
    """Agent tool-call checks: policy → (approval) → breakers → audit log."""

    config: GuardConfig
    log: AuditSink | None
    breakers: CircuitBreakers
    actions: ActionPolicy
    approvals: ApprovalQueue | None
    redact: Redactor
    traffic: TrafficFeed | None

    def check_action(
        self,
        tool: str,
        arguments: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        *,
        request_id: str | None = None,
    ) -> ActionCheck:
        """Check one tool call against the action policy (DESIGN §4's tool-call check).

        Args:
            tool: The tool's name.
            arguments: Its arguments (any JSON-like mapping).
            context: Who and where: ``user`` and ``session`` choose breakers,
                ``workspace`` is shown to approvers; everything is logged.
            request_id: Id of the check's audit-log entry (a fresh one by default).

        Returns:
            ``allow`` or ``block`` at once; an escalation answers ``pending`` with an
            ``approval_id`` to wait on (:meth:`wait_action`) — or ``block`` when this guard
            has no approval queue (fail closed).
        """
        rid = request_id or new_request_id()
        if context is not None and not isinstance(context, Mapping):
            raise ConfigError(
                f"context must be a mapping such as {{'user': ...}}, not {type(context).__name__}"
            )
        if arguments is not None and not isinstance(arguments, Mapping):
            raise ConfigError(f"arguments must be a mapping, not {type(arguments).__name__}")
        ctx = dict(context or {})
        user, session = ctx.get("user"), ctx.get("session")
        keys = scope_keys(None, user if isinstance(user, str) else None,
                          session if isinstance(session, str) else None)[1:]  # fmt: skip
        refusal = self.breakers.peek("global") or self.breakers.admit(keys)
        if refusal is not None:
            check = ActionCheck(decision="block", rule="circuit-breaker", reason=refusal.message(),
                                tool=str(tool), request_id=rid)  # fmt: skip
            return self._action_done(check, arguments, ctx, "refused", None)
        try:
            check, policy = self._decide_action(str(tool), arguments, ctx, rid)
        except BaseException:  # a busy store, a raising policy: the probe slot goes back
            self.breakers.release(keys)
            raise
        self.breakers.record(keys, "violation" if check.decision == "block" else "ok")
        return self._action_done(check, arguments, ctx, policy, keys)

    def _decide_action(
        self, tool: str, arguments: Mapping[str, Any] | None, ctx: dict[str, Any], rid: str
    ) -> tuple[ActionCheck, str]:
        d = self.actions.evaluate(tool, arguments, ctx)
        if d.decision is DecisionKind.ESCALATE and self.approvals is not None:
            record = self.approvals.submit(
                kind="action", subject=tool, rule=d.rule, reason=d.reason,
                request={"tool": tool, "arguments": dict(arguments or {}), "context": ctx},
                request_id=rid,
            )  # fmt: skip
            check = check_of(record, latency_ms=d.latency_ms)
        elif d.decision is DecisionKind.ESCALATE:
            reason = f"{d.reason}; escalation needs an approval queue, so it is blocked"
            check = ActionCheck(decision="block", rule=d.rule, reason=reason, tool=tool,
                                request_id=rid, latency_ms=d.latency_ms)  # fmt: skip
        else:
            decision = "block" if d.decision is DecisionKind.BLOCK else "allow"
            check = ActionCheck(decision=decision, rule=d.rule, reason=d.reason, tool=tool,
                                request_id=rid, latency_ms=d.latency_ms)  # fmt: skip
        return check, d.decision.value

    def _action_done(
        self,
        check: ActionCheck,
        arguments: Mapping[str, Any] | None,
        context: Mapping[str, Any],
        policy: str,
        keys: list[str] | None,
    ) -> ActionCheck:
        if self.log is not None:
            audit = self.config.audit_log
            self.log.append(
                {
                    "kind": "action",
                    "request_id": self.redact(check.request_id),  # client-given: masked
                    "time": datetime.now(UTC).isoformat(timespec="microseconds"),
                    "tool": self.redact(check.tool[:200]),
                    "arguments": safe_json(dict(arguments or {}), self.redact, audit.max_text_chars)
                    if audit.log_text
                    else None,
                    "context": safe_json(dict(context), self.redact, 500),
                    "policy": policy,
                    "decision": check.decision,
                    "rule": check.rule,
                    "reason": self.redact(check.reason),
                    "approval_id": check.approval_id,
                    "latency_ms": round(check.latency_ms, 4),
                }
            )
        if self.traffic is not None and check.rule != "circuit-breaker":  # no traffic
            self.traffic.observe_action(check.tool, check.decision)
        return check

    def _queue(self) -> ApprovalQueue:
        if self.approvals is None:
            raise ConfigError("this guard has no approval queue: Guard(..., approvals=queue)")
        return self.approvals

    def action_status(self, approval_id: str) -> ActionCheck:
        """Where an escalated tool call stands now (``pending``, ``allow`` or ``block``)."""
        return check_of(self._queue().get(approval_id))

    async def wait_action(self, approval_id: str, timeout_s: float | None = None) -> ActionCheck:
        """Wait for a human (or the timeout) to decide an escalated tool call."""
        return check_of(await self._queue().wait(approval_id, timeout_s))

    def wait_action_sync(self, approval_id: str, timeout_s: float | None = None) -> ActionCheck:
        """:meth:`wait_action` for synchronous code."""
        return check_of(self._queue().wait_sync(approval_id, timeout_s))
