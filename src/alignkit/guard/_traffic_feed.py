"""The guard's side of traffic monitoring: it feeds the monitor and acts on its findings.

Every finished request and every tool-call check is buffered here (cheap, on the request
path); :meth:`TrafficFeed.drain` hands the buffer to :class:`~alignkit.monitor.TrafficMonitor`
— from the server's background task, or in line once ``every`` requests are waiting when
the guard runs in-process. Answers are labelled refused or not by the shared response
classifier's rule tier. ``alignkit serve`` runs the labelling and the monitor in a worker
process (:meth:`TrafficFeed.use_process`, :mod:`._traffic_worker`). The feed then

* keeps the latest findings for ``/metrics``;
* stores them in the store every ``store_interval_s`` and at every new alarm
  (``alignkit monitor traffic`` renders that history);
* writes each new alarm into the audit log; and
* opens the ``breaker_key`` breaker, through the breakers' signal input, for an alarm at
  or above ``breaker_severity``.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from alignkit.core import ConfigError, DecisionKind, Finding, Message, Outcome, Severity
from alignkit.guard._breaker import CircuitBreakers
from alignkit.guard._config import TrafficGuardConfig
from alignkit.guard._result import AuditSink, GuardResult
from alignkit.guard._traffic_worker import (
    Batch,
    Labeller,
    MonitorProcess,
    MonitorReply,
    run_batch,
)
from alignkit.monitor import TrafficMonitor, TrafficRecord
from alignkit.store import TrafficHistory

__all__ = ["TrafficFeed", "load_embedder", "traffic_history"]

_log = logging.getLogger(__name__)
_MAX_BUFFER = 100_000


def load_embedder(spec: str) -> Callable[[list[str]], Any]:
    """The function named by ``module:function`` (an embedding model for the monitor)."""
    module, _, name = spec.partition(":")
    if not module or not name:
        raise ConfigError(f"traffic.embedder must be 'module:function', not {spec!r}")
    try:
        fn = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"traffic.embedder {spec!r} cannot be loaded: {exc}") from None
    if not callable(fn):
        raise ConfigError(f"traffic.embedder {spec!r} is not callable")
    return fn  # type: ignore[no-any-return]


class TrafficFeed:
    """Feeds guarded traffic to a :class:`TrafficMonitor` and acts on its alarms.

    Args:
        config: The ``traffic`` section of the guard config.
        breakers: The breakers an alarm may open.
        log: The audit log alarms are written to.
        auto_drain: Process the buffer in line once ``every`` requests wait.
    """

    def __init__(
        self,
        config: TrafficGuardConfig,
        *,
        breakers: CircuitBreakers | None = None,
        log: AuditSink | None = None,
        auto_drain: bool = True,
    ) -> None:
        self.config = config
        embed = load_embedder(config.embedder) if config.embedder else None
        self.monitor = TrafficMonitor(config, embed=embed)
        self.breakers = breakers
        self.log = log
        self.auto_drain = auto_drain
        self.history: TrafficHistory | None = None
        self._buffer: deque[tuple[TrafficRecord, str]] = deque(maxlen=_MAX_BUFFER)
        self._lock = threading.Lock()
        self._drain_lock = threading.Lock()
        self._labeller = Labeller()
        self._worker: MonitorProcess | None = None
        self.requests = 0
        self.latest: list[Finding] = []
        self._stored_at = 0.0
        self.dropped = 0
        self._tripped: set[str] = set()  # metrics whose alarm has signalled the breaker

    def attach(self, history: TrafficHistory) -> None:
        """Store reports in ``history`` (the store's traffic findings)."""
        self.history = history

    def use_process(self) -> None:
        """Run the labelling and the monitor in a worker process from now on.

        Call it before the first drain: the worker starts with an empty reference.
        """
        if self._worker is None:
            self._worker = MonitorProcess(self.config, self.config.embedder)

    def close(self) -> None:
        """Stop the worker process, if there is one (idempotent)."""
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.close()

    # -- the request path --------------------------------------------------------------------

    def observe(self, result: GuardResult, messages: list[Message]) -> None:
        """Buffer one finished chat request."""
        prompt = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        output = result.text if result.outcome is Outcome.OK else None
        record = TrafficRecord(
            input=prompt,
            output=output,
            blocked=result.outcome is Outcome.BLOCKED,
            escalated=any(d.decision is DecisionKind.ESCALATE for d in result.decisions),
            # a request the model refused as malformed is the sender's fault, not an error
            error=result.outcome is Outcome.ERROR
            and not (result.completion is not None and result.completion.invalid),
        )
        self._push(record, prompt)

    def observe_action(self, tool: str, decision: str) -> None:
        """Buffer one tool-call check (``allow``, ``block`` or ``pending``)."""
        record = TrafficRecord(
            input=tool,
            kind="action",
            blocked=decision == "block",
            escalated=decision == "pending",
        )
        self._push(record, "")

    def _push(self, record: TrafficRecord, prompt: str) -> None:
        with self._lock:
            if len(self._buffer) == self._buffer.maxlen:  # nobody drains: keep the newest
                self.dropped += 1
            self._buffer.append((record, prompt))
            due = self.auto_drain and len(self._buffer) >= self.config.every
        if due:  # in-process use: the caller's request is done and answered, whatever happens
            try:
                self.drain()
            except Exception as exc:  # an embedder that failed must not lose the answer
                _log.warning("traffic monitor failed on a batch, which is dropped: %s", exc)

    # -- processing -------------------------------------------------------------------------

    def drain(self) -> list[Finding]:
        """Process what is buffered; the findings of metrics that newly alarmed."""
        with self._drain_lock:
            with self._lock:
                batch = list(self._buffer)
                self._buffer.clear()
            if not batch:
                self._maybe_store([])
                return []
            reply = self._process(batch)
            self.requests = reply.requests
            if reply.findings is not None:
                self.latest = reply.findings
            for finding in reply.fresh:
                self._alarm(finding)
            fresh = {f.metric for f in reply.fresh}
            for finding in reply.findings or []:
                if not self._trips(finding):
                    self._tripped.discard(finding.metric)  # below the limit again: may re-trip
                elif finding.metric not in fresh and finding.metric not in self._tripped:
                    self._alarm(finding)  # an alarm that rose to the breaker's severity
            self._maybe_store(reply.fresh)
            return reply.fresh

    def _process(self, batch: Batch) -> MonitorReply:
        worker = self._worker
        if worker is not None:
            try:
                return worker.process(batch)
            except Exception as exc:  # monitoring must never take the guard down
                _log.warning("traffic monitor process failed (%s); monitoring in this process"
                             " from now on, with a new reference", exc)  # fmt: skip
                self._worker = None
                with contextlib.suppress(Exception):
                    worker.close()
        return run_batch(self.monitor, self._labeller, batch)

    def _alarm(self, finding: Finding) -> None:
        note = finding.evidence[0].note if finding.evidence else ""
        _log.warning("traffic alarm %s = %.4g (%s): %s", finding.metric, finding.value,
                     finding.severity.value, note)  # fmt: skip
        if self.log is not None:
            self.log.append(
                {
                    "kind": "alarm",
                    "time": datetime.now(UTC).isoformat(timespec="microseconds"),
                    "metric": finding.metric,
                    "severity": finding.severity.value,
                    "value": finding.value,
                    "failure_mode": finding.failure_mode,
                    "note": note,
                    "requests": self.requests,
                }
            )
        if self._trips(finding):
            self._tripped.add(finding.metric)
            reason = (
                f"traffic alarm {finding.metric} = {finding.value:.3g} ({finding.severity.value})"
            )
            assert self.breakers is not None
            self.breakers.signal(self.config.breaker_key, reason)

    def _trips(self, finding: Finding) -> bool:
        """Whether ``finding`` is severe enough to open the breaker."""
        limit = self.config.breaker_severity
        return (
            self.breakers is not None and limit is not None and finding.severity >= Severity(limit)
        )

    def _maybe_store(self, fresh: list[Finding]) -> None:
        if self.history is None or not self.latest:
            return
        now = time.monotonic()
        if not fresh and now - self._stored_at < self.config.store_interval_s:
            return
        self._stored_at = now
        try:
            self.history.add(self.latest, requests=self.requests, at=datetime.now(UTC))
        except Exception as exc:  # monitoring must never take the guard down
            _log.warning("cannot store traffic findings: %s", exc)

    # -- reading ----------------------------------------------------------------------------

    def render(self) -> list[str]:
        """Prometheus lines: requests seen, each metric's value and whether it alarms."""
        out = [
            "# HELP alignkit_traffic_requests_total Requests the traffic monitor has seen.",
            "# TYPE alignkit_traffic_requests_total counter",
            f"alignkit_traffic_requests_total {self.requests}",
            "# HELP alignkit_traffic_dropped_total Records dropped unmonitored because the"
            " buffer was full (the monitor fell behind).",
            "# TYPE alignkit_traffic_dropped_total counter",
            f"alignkit_traffic_dropped_total {self.dropped}",
            "# HELP alignkit_traffic_value Latest value of each traffic metric"
            " (PSI for drift, EWMA z-score for rates).",
            "# TYPE alignkit_traffic_value gauge",
        ]
        out += [f'alignkit_traffic_value{{metric="{f.metric}"}} {f.value:.6g}' for f in self.latest]
        out += [
            "# HELP alignkit_traffic_alarm Whether a traffic metric alarms (1) or not (0).",
            "# TYPE alignkit_traffic_alarm gauge",
        ]
        out += [
            f'alignkit_traffic_alarm{{metric="{f.metric}",severity="{f.severity.value}"}} '
            f"{int(f.severity is not Severity.INFO)}"
            for f in self.latest
        ]
        return out


def traffic_history(
    store_url: str | None = None, *, metric: str | None = None, since: datetime | None = None
) -> dict[str, Any]:
    """The stored traffic reports, per metric (``alignkit monitor traffic``).

    Args:
        store_url: The store (default: ``--store`` / ``$ALIGNKIT_STORE`` / the default).
        metric: Only metrics matching this glob (``traffic.input_*``).
        since: Only reports from this time on.

    Returns:
        ``{"reports": n, "metrics": [{"metric", "failure_mode", "latest": Finding-dict,
        "first_alarm": {"time", "requests", "severity", "value"} | None,
        "history": [{"time", "requests", "value", "severity"}]}]}``, metrics sorted by name.
    """
    import fnmatch

    from alignkit.core import resolve_store_url
    from alignkit.store import Store

    with Store.open(resolve_store_url(store_url), create=False) as store:
        # the glob narrows the query itself: filtered after the row limit, a long-running
        # store showed only its last hours and a wrong "first alarm"
        rows = store.traffic().read(since=since, metric_glob=metric, limit=_HISTORY_ROWS)
        if metric is not None:  # LIKE ignores case and is broader: the glob decides
            rows = [r for r in rows if fnmatch.fnmatchcase(r[2].metric, metric)]
        if metric is not None and not rows and store.traffic().read(since=since, limit=1):
            # a misspelt glob read as "nothing stored yet", and a --fail-on gate passed
            raise ConfigError(
                f"no stored traffic metric matches '{metric}' (without --metric the stored"
                " ones are listed)"
            )
    per: dict[str, dict[str, Any]] = {}
    stamps: set[datetime] = set()
    for at, requests, f in rows:
        stamps.add(at)
        value = f.value if math.isfinite(f.value) else None  # NaN is no JSON
        entry = per.setdefault(
            f.metric,
            {"metric": f.metric, "failure_mode": f.failure_mode, "first_alarm": None,
             "history": []},
        )  # fmt: skip
        point = {"time": at.isoformat(), "requests": requests, "value": value,
                 "severity": f.severity.value}  # fmt: skip
        entry["history"].append(point)
        entry["latest"] = {**f.model_dump(mode="json"), "value": value}
        if entry["first_alarm"] is None and f.severity is not Severity.INFO:
            entry["first_alarm"] = point
    return {
        "reports": len(stamps),
        "metrics": [per[k] for k in sorted(per)],
        "rows": len(rows),
        "truncated": len(rows) >= _HISTORY_ROWS,
    }


_HISTORY_ROWS = 200_000
"""Stored values ``monitor traffic`` reads at most (the newest)."""
