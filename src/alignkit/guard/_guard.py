"""The in-process guard: breakers → input rails → model → output rails → audit log (DESIGN §9).

Rails of a stage run in config order. A ``modify`` decision rewrites what later rails
and the model see (input) or what the client gets (output); the first ``block`` or
``escalate`` stops the stage. Without an approval queue ``escalate`` acts as ``block``
(fail closed), and so does a rail that raises; with one (``approvals=``), the request
waits for a human: approved, the stage goes on with the next rail; denied or timed out,
it is blocked. Every request — refused, blocked, failed upstream or answered — becomes
one audit-log entry holding every decision made, and feeds the traffic monitor.

Tool calls go through :meth:`Guard.check_action`: the action policy decides, an
escalation becomes a pending approval, and every check is one audit-log entry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alignkit.core import (
    RAILS,
    ChatModel,
    Completion,
    ConfigError,
    Decision,
    DecisionKind,
    Message,
    Outcome,
    Rail,
    RailStage,
)
from alignkit.guard._actions import ActionPolicy
from alignkit.guard._approvals import ApprovalQueue, check_of
from alignkit.guard._breaker import BreakerState, CircuitBreakers, Result, scope_keys
from alignkit.guard._config import TIER_BUDGET_MS, GuardConfig, build_rails, load_guard_config
from alignkit.guard._guard_actions import ToolCalls, new_request_id
from alignkit.guard._result import AuditSink, GuardResult, StageResult
from alignkit.guard._text import Redactor
from alignkit.guard._traffic_feed import TrafficFeed

__all__ = ["PROVIDER_RAIL", "Guard", "new_request_id"]

_log = logging.getLogger(__name__)

PROVIDER_RAIL = "provider"
"""The ``rail`` of a request the upstream provider's own content filter refused."""
_STOPS = (DecisionKind.BLOCK, DecisionKind.ESCALATE)


def _final_kind(decisions: list[Decision]) -> DecisionKind:
    kinds = {d.decision for d in decisions}
    if kinds & set(_STOPS):
        return DecisionKind.BLOCK
    return DecisionKind.MODIFY if DecisionKind.MODIFY in kinds else DecisionKind.ALLOW


class Guard(ToolCalls):
    """Rails around a chat model, with circuit breakers and a hash-chained audit log.

    Args:
        config: A :class:`GuardConfig`, a path to a YAML file, a dict, or ``None`` for the
            shipped default ``guard.yaml``.
        model: The chat model :meth:`run` calls (may also be passed per call).
        log: Where audit-log entries go (``store.audit_log()``); ``None`` keeps no log.
        breakers: Breakers to use; by default built from the config.
        approvals: The approval queue escalations wait in (``None``: escalate = block).
        secrets: More strings to mask, as configured ones are (serve: the URI's password).

    Example::

        guard = Guard("guard.yaml", model=connect("openai:http://127.0.0.1:8000/v1#m"))
        result = await guard.run([{"role": "user", "content": "hi"}], user="alice")
        if result.outcome == "ok":
            print(result.text)
    """

    def __init__(
        self,
        config: GuardConfig | str | Path | dict[str, Any] | None = None,
        *,
        model: ChatModel | None = None,
        log: AuditSink | None = None,
        breakers: CircuitBreakers | None = None,
        approvals: ApprovalQueue | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        self.config = load_guard_config(config)
        self.model = model
        self.log: AuditSink | None = None
        rails = build_rails(self.config)
        self.input_rails: list[Rail] = rails[RailStage.INPUT]
        self.output_rails: list[Rail] = rails[RailStage.OUTPUT]
        self._limits = _limits(self.config)
        self.over_budget: dict[str, int] = {}
        self.breakers = breakers or CircuitBreakers(
            self.config.breakers, on_change=self._log_transition
        )
        audit = self.config.audit_log
        masked = [*audit.secrets(), *secrets]  # configured, and the target's credentials
        self.redact = Redactor(masked, patterns=audit.redact_patterns)
        # Reasons are the rails' own words ("secret: assigned-secret"), which the credential
        # shapes would mask: only configured secret strings are masked there.
        self._redact_reason = Redactor(masked, patterns=False)
        actions = self.config.actions
        self.actions = ActionPolicy(actions if actions is not None else None)
        self.approvals: ApprovalQueue | None = None
        self.traffic: TrafficFeed | None = None
        if self.config.traffic.enabled:
            self.traffic = TrafficFeed(self.config.traffic, breakers=self.breakers)
        # Hold each finished request's audit entry and traffic record until settle(): the
        # server settles right after the answer is sent, off the request's latency.
        self.defer_records = False
        self._unsettled: deque[tuple[GuardResult, list[Message], dict[str, Any]]] = deque()
        self.attach(log, approvals)

    def attach(self, log: AuditSink | None, approvals: ApprovalQueue | None = None) -> None:
        """Give the guard its audit log and approval queue (also after it was built).

        ``alignkit serve`` builds the guard first, so that a bad rail option is refused
        before the store is opened, and attaches the store's log afterwards.
        """
        self.log = log if self.config.audit_log.enabled else None
        if self.traffic is not None:
            self.traffic.log = self.log
        if approvals is not None:
            self.approvals = approvals
            timeout_given, chat_given = approvals.configured
            if not timeout_given:  # guard.yaml's `approvals:` was ignored in-process
                approvals.timeout_s = self.config.approvals.timeout_s
            if not chat_given:
                approvals.chat_timeout_s = self.config.approvals.chat_timeout_s
            approvals.log = approvals.log or self.log
            approvals.redact = self.redact

    @classmethod
    def from_file(cls, path: str | Path | None = None, **kwargs: Any) -> Guard:
        """A guard configured by the YAML file at ``path`` (the default one when ``None``)."""
        return cls(path, **kwargs)

    async def aclose(self) -> None:
        """Release what rails hold (a judge's connections); the guarded model is the caller's."""
        for rail in [*self.input_rails, *self.output_rails]:
            close = getattr(rail, "aclose", None)
            if close is not None:
                await close()

    # -- stages -------------------------------------------------------------------------

    async def _run_rail(
        self, stage: RailStage, index: int, messages: list[Message], text: str | None
    ) -> Decision:
        """Run the ``index``-th rail of ``stage``; its decision carries the entry's name."""
        rail = (self.input_rails if stage is RailStage.INPUT else self.output_rails)[index]
        limits = self._limits[stage]  # a rail appended after the guard was built has none
        limit = limits[index] if index < len(limits) else _Limit(rail.name, None, None)
        timeout = limit.timeout_ms
        start = time.perf_counter()
        try:
            if timeout is None:
                decision = await rail.check(stage, messages, text)
            else:
                decision = await asyncio.wait_for(rail.check(stage, messages, text), timeout / 1e3)
        except TimeoutError as exc:  # wait_for's, or one the rail raised itself
            decision = _timed_out(timeout) if timeout is not None else _failed(repr(exc))
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():  # the caller cancelled this request
                raise
            decision = _failed("CancelledError raised by the rail")
        except (Exception, SystemExit) as exc:  # a broken rail must not let traffic through
            _log.error("rail %s failed: %s: %s", limit.name, type(exc).__name__, exc)
            _log.debug("rail %s failed", limit.name, exc_info=True)
            decision = _failed(f"{type(exc).__name__}: {exc}")
        if not isinstance(decision, Decision):  # a plugin's rail returned "block" or None
            decision = _failed(f"it returned {type(decision).__name__}, not a Decision")
        ms = (time.perf_counter() - start) * 1000.0
        if timeout is not None and ms > timeout and decision.decision is not DecisionKind.BLOCK:
            decision = _timed_out(timeout)  # it blocked the event loop, so wait_for never fired
        if limit.budget_ms is not None and ms > limit.budget_ms:
            self.over_budget[limit.name] = self.over_budget.get(limit.name, 0) + 1
        # model_validate of the fields is about half the cost of model_copy(update=...).
        fields = {**decision.__dict__, "rail": limit.name, "latency_ms": ms}
        return type(decision).model_validate(fields)

    async def _stage(
        self,
        stage: RailStage,
        messages: list[Message],
        text: str | None,
        *,
        run_all: bool = False,
        start: int = 0,
    ) -> StageResult:
        """Run the rails of ``stage`` from the ``start``-th on."""
        rails = self.input_rails if stage is RailStage.INPUT else self.output_rails
        decisions: list[Decision] = []
        stopped: Decision | None = None
        current = list(messages)
        for index in range(start, len(rails)):
            d = await self._run_rail(stage, index, current, text)
            decisions.append(d)
            if d.decision in _STOPS:
                stopped = stopped or d
                if not run_all:
                    break
            elif d.decision is DecisionKind.MODIFY and d.replacement is not None:
                if stage is RailStage.INPUT:
                    current = _replace_last_user(current, d.replacement)
                else:
                    text = d.replacement
        return StageResult(decisions, stopped, current, text)

    async def check_input(self, messages: list[Message], *, run_all: bool = False) -> StageResult:
        """Run the input rails over ``messages`` (all of them with ``run_all``, for scoring)."""
        return await self._stage(RailStage.INPUT, messages, None, run_all=run_all)

    async def check_output(
        self, messages: list[Message], response: str, *, run_all: bool = False
    ) -> StageResult:
        """Run the output rails over ``response`` to ``messages``."""
        return await self._stage(RailStage.OUTPUT, messages, response, run_all=run_all)

    async def _escalated(
        self, stage: RailStage, result: StageResult, rid: str, context: Mapping[str, Any]
    ) -> StageResult:
        """Send each escalation of ``result`` to a human; go on or block as they decide."""
        decisions, done = list(result.decisions), len(result.decisions)
        while (
            self.approvals is not None
            and result.stopped_by is not None
            and result.stopped_by.decision is DecisionKind.ESCALATE
        ):
            stop = result.stopped_by
            request: dict[str, Any] = {"stage": stage.value, "context": dict(context)}
            request["messages"] = [dict(m) for m in result.messages]
            if stage is RailStage.OUTPUT:
                request["response"] = result.text
            # store writes in a thread: another process may hold the store's lock
            record = await asyncio.to_thread(
                self.approvals.submit,
                kind="chat", subject=stop.rail, rule=stop.rail, reason=stop.reason,
                request=request, request_id=rid,
            )  # fmt: skip
            final = await self.approvals.wait(record.id)
            if final.status == "pending":  # it stopped waiting: the server is stopping
                # close it, or it could be approved later for a request already refused
                _, final = await asyncio.to_thread(
                    self.approvals.decide,
                    record.id, approve=False, by="alignkit", note="the request stopped waiting",
                )  # fmt: skip
            verdict = check_of(final)
            approved = verdict.decision == "allow"
            kind = DecisionKind.ALLOW if approved else DecisionKind.BLOCK
            decisions.append(Decision(decision=kind, rail="approval", reason=verdict.reason))
            if not approved:
                why = f"{stop.reason}; {verdict.reason}"
                blocked = Decision(
                    decision=DecisionKind.BLOCK, rail=stop.rail, reason=why, score=stop.score
                )
                return StageResult(decisions, blocked, result.messages, result.text)
            more = await self._stage(stage, result.messages, result.text, start=done)
            decisions += more.decisions
            done += len(more.decisions)
            result = StageResult(decisions, more.stopped_by, more.messages, more.text)
        return StageResult(decisions, result.stopped_by, result.messages, result.text)

    # -- the whole request --------------------------------------------------------------

    async def run(
        self,
        messages: list[Message],
        *,
        model: ChatModel | None = None,
        model_name: str | None = None,
        user: str | None = None,
        session: str | None = None,
        request_id: str | None = None,
        **generate: Any,
    ) -> GuardResult:
        """Guard one request end to end; never raises for a blocked or failed request.

        Args:
            messages: The conversation.
            model: The model to call (default: the guard's).
            model_name: The name the client asked for (breaker scope and log).
            user: The end user's id (breaker scope).
            session: The session id (breaker scope).
            request_id: Id for the log entry (a random one by default).
            **generate: Passed to ``model.generate`` (``max_tokens``, ``temperature``, ...).
        """
        chat = model or self.model
        if chat is None:
            raise ConfigError("Guard.run needs a model: Guard(model=...) or run(model=...)")
        rid = request_id or new_request_id()
        name = model_name or chat.uri
        keys = scope_keys(name, user, session)
        context = {"model": name, "user": user, "session": session}
        refusal = self.breakers.admit(keys)
        if refusal is not None:
            result = GuardResult(
                rid, DecisionKind.BLOCK, Outcome.BLOCKED, None, refusal.message(),
                "circuit-breaker", retry_after_s=max(0.0, refusal.retry_after_s),
            )  # fmt: skip
            return self._finish(result, messages, context, None)
        try:
            pre = await self.check_input(messages)
            if pre.stopped_by is not None and self.approvals is not None:
                pre = await self._escalated(RailStage.INPUT, pre, rid, context)
            if pre.stopped_by is not None:
                # Logged as the input rails left it: what they masked stays masked.
                return self._finish(_stopped(rid, pre), pre.messages, context, keys, "violation")
            try:
                completion = await chat.generate(pre.messages, **generate)
            except Exception as exc:  # the ChatModel contract says never; a log entry must survive
                _log.exception("model %s raised instead of returning an error completion", name)
                completion = Completion.failed(f"model raised {type(exc).__name__}: {exc}")
            if not completion.ok:
                # an upstream's error is its own text, not a rail's: credentials in it are
                # masked before it reaches the caller, the client or the log
                error = self.redact(completion.error)
                reason = error or f"upstream answered {completion.outcome.value}"
                if completion.outcome is Outcome.BLOCKED:  # the provider's own content filter
                    # a block of this request, like a rail's, counted as its violation: it
                    # was logged as allowed, with no rail, and counted as an upstream error
                    result = GuardResult(
                        rid, DecisionKind.BLOCK, Outcome.BLOCKED, None, reason, PROVIDER_RAIL,
                        input=pre.decisions, completion=completion,
                    )  # fmt: skip
                    return self._finish(result, pre.messages, context, keys, "violation")
                result = GuardResult(
                    rid, _final_kind(_unescalated(pre.decisions)), completion.outcome, None, reason,
                    input=pre.decisions, completion=completion, error=error,
                )  # fmt: skip
                # a request the target refused as malformed is the sender's, not a target error:
                # counted, one client's over-long prompts opened the breaker for everyone
                if completion.invalid:
                    self.breakers.release(keys)
                    return self._finish(result, pre.messages, context, keys, None)
                return self._finish(result, pre.messages, context, keys, "error")
            post = await self.check_output(pre.messages, completion.text)
            if post.stopped_by is not None and self.approvals is not None:
                post = await self._escalated(RailStage.OUTPUT, post, rid, context)
            if post.stopped_by is not None:
                result = _stopped(rid, pre, post, completion)
                return self._finish(result, pre.messages, context, keys, "violation")
            decisions = _unescalated([*pre.decisions, *post.decisions])
            changed = [d for d in decisions if d.decision is DecisionKind.MODIFY]
            result = GuardResult(
                rid, _final_kind(decisions), Outcome.OK, post.text,
                reason="; ".join(f"{d.rail}: {d.reason}" for d in changed),
                rail=",".join(dict.fromkeys(d.rail for d in changed)) or None,
                input=pre.decisions, output=post.decisions, completion=completion, answer=post.text,
            )  # fmt: skip
            return self._finish(result, pre.messages, context, keys, "ok")
        except BaseException:  # cancelled (the client left) or a fault: no verdict to count,
            self.breakers.release(keys)  # but a half-open probe slot to hand back
            raise

    # -- bookkeeping ----------------------------------------------------------------------

    def _finish(
        self,
        result: GuardResult,
        messages: list[Message],
        context: dict[str, Any],
        keys: list[str] | None,
        breaker_result: Result | None = None,
    ) -> GuardResult:
        if keys is not None and breaker_result is not None:
            self.breakers.record(keys, breaker_result)
        if self.defer_records:
            self._unsettled.append((result, messages, context))
        else:
            self._record(result, messages, context)
        return result

    def _record(
        self, result: GuardResult, messages: list[Message], context: dict[str, Any]
    ) -> None:
        if self.log is not None:
            self.log.append(self.entry(result, messages, context))
        if self.traffic is not None and result.rail != "circuit-breaker":
            # a breaker's own refusals are no traffic: counted as blocks, they raised a
            # "misuse" alarm that re-opened the breaker and restarted its cooldown
            self.traffic.observe(result, messages)

    def settle(self) -> None:
        """Write the audit entries and traffic records held back by ``defer_records``."""
        while self._unsettled:
            try:
                held = self._unsettled.popleft()
            except IndexError:  # another thread settled the last one
                return
            self._record(*held)

    def entry(
        self, result: GuardResult, messages: list[Message], context: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The audit-log entry of ``result``, with secrets redacted and texts cut."""
        audit = self.config.audit_log
        cut = audit.max_text_chars

        def clean(text: str | None) -> str | None:
            if text is None or not audit.log_text:
                return None
            return self.redact(text)[:cut]  # masked first: a cut never leaves part of a key

        # Ids come from the client: masked in full (a user id shaped like a key is a key),
        # and wherever the guard's own reasons quote them ("circuit breaker open for user:…").
        ids = {"request_id": result.request_id, **context}
        masked = {k: (self.redact(v) if isinstance(v, str) else v) for k, v in ids.items()}
        reason = self._redact_reason(result.reason)
        for k, v in ids.items():
            if isinstance(v, str) and v and masked[k] != v:
                reason = reason.replace(v, str(masked[k]))
        return {
            "kind": "request",
            **masked,
            "time": datetime.now(UTC).isoformat(timespec="microseconds"),
            "decision": result.decision.value,
            "outcome": result.outcome.value,
            "rail": result.rail,
            "reason": reason,
            "decisions": [
                {
                    "stage": stage,
                    "rail": d.rail,
                    "decision": d.decision.value,
                    "reason": self._redact_reason(d.reason),
                    "score": d.score,
                    "latency_ms": round(d.latency_ms, 4),
                }
                for stage, ds in (("input", result.input), ("output", result.output))
                for d in ds
            ],
            "messages": [{"role": m["role"], "content": clean(m["content"])} for m in messages]
            if audit.log_text
            else None,
            "response": clean(result.answer),
            "error": self.redact(result.error),
        }

    def _log_transition(self, key: str, state: BreakerState, reason: str) -> None:
        key, reason = self.redact(key), self.redact(reason)  # a user id may be an API key
        _log.warning("circuit breaker %r → %s %r", key, state.value, reason)  # agents' text: quoted
        if self.log is not None:
            self.log.append(
                {
                    "kind": "breaker",
                    "time": datetime.now(UTC).isoformat(timespec="microseconds"),
                    "key": key,
                    "state": state.value,
                    "reason": reason,
                }
            )


def _failed(why: str) -> Decision:
    """The block a rail that broke its contract gets: the guard fails closed."""
    return _closed(f"rail failed ({why}); failing closed")


def _timed_out(timeout_ms: float) -> Decision:
    """The block a rail that ran past its ``timeout_ms`` gets."""
    return _closed(f"rail timed out after {timeout_ms:g} ms; failing closed")


def _closed(reason: str) -> Decision:
    # named by _run_rail, which gives every decision its config entry's name
    return Decision(decision=DecisionKind.BLOCK, rail="", reason=reason, score=1.0)


def _unescalated(decisions: list[Decision]) -> list[Decision]:
    """Decisions without escalations (those a human approved, on a path that went on)."""
    return [d for d in decisions if d.decision is not DecisionKind.ESCALATE]


@dataclass(frozen=True)
class _Limit:
    """A configured rail entry's name (its ``id`` or rail), budget and timeout in ms."""

    name: str
    budget_ms: float | None
    timeout_ms: float | None


def _limits(config: GuardConfig) -> dict[RailStage, list[_Limit]]:
    """The limits of each stage's rail entries, in config order.

    Kept per entry, not per rail object: a factory that hands out one cached rail for
    two entries must not give the first entry the second one's timeout.
    """
    return {
        stage: [
            _Limit(
                entry.name,
                entry.budget_ms or TIER_BUDGET_MS.get(RAILS.get(entry.rail).tier),
                entry.timeout_ms,
            )
            for entry in getattr(config, stage.value)
        ]
        for stage in (RailStage.INPUT, RailStage.OUTPUT)
    }


def _stopped(
    rid: str,
    pre: StageResult,
    post: StageResult | None = None,
    completion: Completion | None = None,
) -> GuardResult:
    """The result of a request a rail stopped (at the input stage, or the output one)."""
    stop = (post.stopped_by if post is not None else None) or pre.stopped_by
    assert stop is not None
    return GuardResult(
        rid,
        DecisionKind.BLOCK,
        Outcome.BLOCKED,
        None,
        stop.reason,
        stop.rail,
        pre.decisions,
        post.decisions if post is not None else [],
        completion,
        answer=post.text if post is not None else None,
    )


def _replace_last_user(messages: list[Message], content: str) -> list[Message]:
    out = list(messages)
    for i in range(len(out) - 1, -1, -1):
        if out[i]["role"] == "user":
            out[i] = {"role": "user", "content": content}
            break
    return out
