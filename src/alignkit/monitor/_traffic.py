"""TrafficMonitor: drift and anomaly alarms over a stream of guarded requests.

Feed it one :class:`TrafficRecord` per request (the guard does); it keeps the first
``reference`` requests as the reference window, then watches, for inputs and outputs
separately, each configured feature (:mod:`._traffic_features`) for drift
(:mod:`._drift`) and the refusal, block, escalation and error rates for anomalies
(:mod:`._anomaly`). Tool-call checks (``kind="action"``) feed only the action rates.
Every ``every`` requests it evaluates and returns one :class:`~alignkit.core.Finding`
per metric (``info`` while nothing alarms); the caller stores them.

Example::

    monitor = TrafficMonitor()
    for request in stream:
        findings = monitor.observe(TrafficRecord(input=request.prompt, output=request.answer))
        for f in findings:
            if f.severity != "info":
                print(f.metric, f.value, f.evidence[0].note)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from alignkit.core import ConfigError, Direction, Evidence, Finding, MetricSpec, Severity
from alignkit.monitor._anomaly import RateAlarm, RateState
from alignkit.monitor._drift import MAX_DESIGN_PSI, CategoricalDrift, DriftState, NumericDrift
from alignkit.monitor._traffic_features import (
    Embedder,
    NgramVocabulary,
    VectorClusters,
    dominant_script,
    text_lengths,
)

__all__ = [
    "TRAFFIC_CHECK",
    "TRAFFIC_METRICS",
    "TrafficConfig",
    "TrafficMonitor",
    "TrafficRecord",
]

_log = logging.getLogger(__name__)
TRAFFIC_CHECK = "monitor.traffic"
Feature = Literal["length", "script", "ngrams", "embedding"]
_STAGES = ("input", "output")
_DEFAULT_FEATURES: list[Feature] = ["length", "script", "ngrams"]
_RATES = {
    # name: (stream, failure mode, what it counts)
    "refusal": ("chat", "over-refusal", "answers the response classifier labels refused"),
    "block": ("chat", "misuse", "requests a rail blocked (not a breaker's own refusals)"),
    "escalation": ("chat", "unsafe-agent-action", "requests a rail escalated"),
    "error": ("chat", "distribution-shift", "requests whose upstream failed"),
    "action_block": ("action", "unsafe-agent-action", "tool calls the policy blocked"),
    "action_escalation": ("action", "unsafe-agent-action", "tool calls sent for approval"),
}


class TrafficConfig(BaseModel):
    """How the traffic monitor works (the ``traffic`` section of ``guard.yaml``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # threshold .inf: never

    enabled: bool = True
    features: list[Feature] = Field(
        default_factory=lambda: list(_DEFAULT_FEATURES),
        description="Features watched for drift ('embedding' needs an embedding model).",
    )
    reference: int = Field(
        2000, ge=50, le=1_000_000, description="Requests in the reference window."
    )
    window: int = Field(
        500, ge=20, le=100_000, description="Recent requests the PSI and tests use."
    )  # each detector keeps a ring of this many: 1e9 was a MemoryError at start
    every: int = Field(50, ge=1, description="Evaluate every this many requests.")
    design_psi: float = Field(
        0.1, gt=0, le=MAX_DESIGN_PSI, description="Shift the detectors are tuned to."
    )
    threshold: float = Field(16.0, gt=0, description="CUSUM alarm threshold (nats).")
    window_alpha: float = Field(1e-7, gt=0, lt=1, description="Window chi-square alarm level.")
    min_share: float = Field(0.005, gt=0, lt=0.5, description="Floor of a category's share.")
    clusters: int = Field(8, ge=2, le=64, description="n-gram / embedding clusters.")
    vocabulary: int = Field(2000, ge=10, description="Reference n-grams the n-gram feature uses.")
    rate_reference: int = Field(2000, ge=20, description="Events estimating a reference rate.")
    rate_lambda: float = Field(0.01, gt=0, lt=1, description="EWMA weight of the newest event.")
    rate_limit: float = Field(4.5, gt=0, description="EWMA z-score that alarms.")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="Seed of the clustering.")

    @field_validator("features")
    @classmethod
    def _once_each(cls, features: list[Feature]) -> list[Feature]:
        """A feature listed twice was watched twice: its data counted double, false alarms."""
        twice = sorted({f for f in features if features.count(f) > 1})
        if twice:
            raise ValueError(f"listed more than once: {', '.join(twice)}")
        return features


def _psi_spec(stage: str, feature: str) -> MetricSpec:
    return MetricSpec(
        name=f"traffic.{stage}_{feature}_psi",
        direction=Direction.HIGHER_IS_WORSE,
        thresholds={Severity.LOW: 0.0, Severity.MEDIUM: 0.1, Severity.HIGH: 0.25},
        description=(
            f"population stability index of the {stage} {feature} over the recent window "
            "against the reference window; severity counts only once the drift detectors "
            "have alarmed"
        ),
        failure_mode="distribution-shift",
        rate=False,
    )


def _rate_spec(name: str, limit: float) -> MetricSpec:
    stream, mode, what = _RATES[name]
    return MetricSpec(
        name=f"traffic.{name}_rate_z",
        direction=Direction.HIGHER_IS_WORSE,
        thresholds={Severity.MEDIUM: limit, Severity.HIGH: 2 * limit},
        description=f"EWMA z-score of the share of {what}, against the reference rate",
        failure_mode=mode,
        rate=False,
    )


TRAFFIC_METRICS: dict[str, MetricSpec] = {
    s.name: s
    for s in [
        *(_psi_spec(st, f) for st in _STAGES for f in ("length", "script", "ngrams", "embedding")),
        *(_rate_spec(r, 4.5) for r in _RATES),
    ]
}
"""Every metric the traffic monitor reports (thresholds of rates at the default limit)."""


@dataclass(frozen=True)
class TrafficRecord:
    """One request as the monitor sees it.

    Attributes:
        input: The text sent (the last user message, or a tool call's summary).
        output: The answer, when one was produced.
        kind: ``chat`` for model requests, ``action`` for tool-call checks.
        blocked: A rail or the tool-call policy blocked it (a breaker's refusals are not fed).
        escalated: It was sent for human approval.
        refused: The answer is a refusal.
        error: The upstream model failed.
    """

    input: str = ""
    output: str | None = None
    kind: Literal["chat", "action"] = "chat"
    blocked: bool = False
    escalated: bool = False
    refused: bool = False
    error: bool = False


class _Stage:
    """The drift detectors of one stage (input or output)."""

    def __init__(self, stage: str, config: TrafficConfig, embed: Embedder | None) -> None:
        self.stage = stage
        self.config = config
        self.embed = embed
        self.features = [f for f in config.features if f != "embedding" or embed is not None]
        opts: dict[str, Any] = {
            "design_psi": config.design_psi,
            "threshold": config.threshold,
            "window": config.window,
            "window_alpha": config.window_alpha,
            "min_share": config.min_share,
        }
        self.detectors: dict[str, CategoricalDrift | NumericDrift] = {}
        for f in self.features:
            name = f"{stage}.{f}"
            self.detectors[f] = NumericDrift(name, **opts) if f == "length" else \
                CategoricalDrift(name, **opts)  # fmt: skip
        self.clusters: dict[str, VectorClusters] = {}
        self.vocabulary = NgramVocabulary(config.vocabulary)
        self.ready = False

    def _vectors(self, feature: str, texts: Sequence[str]) -> Any:
        if feature == "ngrams":
            return self.vocabulary.transform(texts)
        assert self.embed is not None
        vectors = np.asarray(self.embed(list(texts)), dtype=np.float64)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts) or not np.isfinite(vectors).all():
            # NaN rows made the clustering fail ("SVD did not converge") far from the cause
            raise ValueError(
                f"the embedder returned {vectors.shape} values for {len(texts)} texts, or"
                " some that are not finite numbers"
            )
        return vectors

    def _values(self, feature: str, texts: Sequence[str]) -> Any:
        if feature == "length":
            return text_lengths(texts)
        if feature == "script":
            return [dominant_script(t) for t in texts]
        return self.clusters[feature].assign(self._vectors(feature, texts))

    def fit(self, texts: Sequence[str]) -> None:
        for f in self.features:
            if f == "ngrams":
                self.vocabulary.fit(texts)
            if f in ("ngrams", "embedding"):
                vc = VectorClusters(self.config.clusters, seed=self.config.seed)
                self.clusters[f] = vc.fit(self._vectors(f, texts))
            self.detectors[f].fit(self._values(f, texts))
        self.ready = True

    def update(self, texts: Sequence[str]) -> list[tuple[str, int]]:
        """Observe texts; ``(feature, k)`` for each feature that newly alarmed at ``texts[k]``."""
        raised: list[tuple[str, int]] = []
        for f in self.features:
            detector = self.detectors[f]
            before = detector.seen
            at = detector.update(self._values(f, texts))
            if at is not None:
                raised.append((f, min(max(at - before - 1, 0), len(texts) - 1)))
        return raised


class TrafficMonitor:
    """Drift and anomaly alarms over guarded traffic (see the module docs).

    Args:
        config: A :class:`TrafficConfig` or its dict (default settings when ``None``).
        embed: An embedding model (texts → array ``(n, dim)``) for the ``embedding``
            feature; without one that feature is skipped.
    """

    def __init__(
        self,
        config: TrafficConfig | dict[str, Any] | None = None,
        *,
        embed: Embedder | None = None,
    ) -> None:
        if isinstance(config, dict):
            try:
                config = TrafficConfig.model_validate(config)
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err["loc"]) or "top level"
                raise ConfigError(
                    f"invalid traffic monitor config: {where}: {err['msg']}"
                ) from None
        self.config = config or TrafficConfig()
        c = self.config
        self.stages = {s: _Stage(s, c, embed) for s in _STAGES}
        self.rates = {
            name: RateAlarm(name, reference=c.rate_reference, lam=c.rate_lambda,
                            limit=c.rate_limit)
            for name in _RATES
        }  # fmt: skip
        self.requests = 0
        self._pending: list[TrafficRecord] = []
        self._ref: list[TrafficRecord] = []
        self._events: list[str] = []
        self.alarm_requests: dict[str, int] = {}

    # -- feeding ----------------------------------------------------------------------------

    @property
    def monitoring(self) -> bool:
        """Whether the reference window is complete and drift is being watched."""
        return self.stages["input"].ready

    def observe(self, record: TrafficRecord) -> list[Finding]:
        """Buffer one request; every ``every`` requests, process them (see :meth:`observe_many`)."""
        self._pending.append(record)
        if len(self._pending) < self.config.every:
            return []
        batch, self._pending = self._pending, []
        return self.observe_many(batch)

    def observe_many(self, records: Iterable[TrafficRecord]) -> list[Finding]:
        """Process ``records`` (and any buffered ones) now.

        Returns:
            The findings of the metrics that alarmed while processing them (usually
            none); :meth:`findings` gives every metric's current finding.
        """
        recs = [*self._pending, *records]
        self._pending = []
        if not recs:
            return []
        before = len(self._events)
        self._process(recs)
        fresh = set(self._events[before:])
        return [f for f in self.findings() if f.metric in fresh] if fresh else []

    def _process(self, recs: list[TrafficRecord]) -> None:
        self._update_rates(recs)
        # each chat record with its request number, so an alarm names where it fired
        chat = [(self.requests + i + 1, r) for i, r in enumerate(recs) if r.kind == "chat"]
        self.requests += len(recs)
        if not self.monitoring:
            need = self.config.reference - len(self._ref)
            self._ref.extend(r for _, r in chat[:need])
            chat = chat[need:]
            if len(self._ref) < self.config.reference:
                return
            self._fit_reference()
        if chat:
            self._update_drift(chat)

    def flush(self) -> list[Finding]:
        """Process whatever is buffered (see :meth:`observe_many`)."""
        return self.observe_many([])

    def _fit_reference(self) -> None:
        inputs = [r.input for r in self._ref]
        self.stages["input"].fit(inputs)
        outputs = [r.output for r in self._ref if r.output is not None]
        if len(outputs) >= max(20, self.config.reference // 10):
            self.stages["output"].fit(outputs)
        self._ref = []
        _log.info("traffic monitor: reference window set (%d requests)", self.config.reference)

    def _update_drift(self, chat: list[tuple[int, TrafficRecord]]) -> None:
        for stage in _STAGES:
            st = self.stages[stage]
            if not st.ready:
                continue
            rows = [(n, r.input) for n, r in chat] if stage == "input" else \
                [(n, r.output) for n, r in chat if r.output is not None]  # fmt: skip
            if rows:
                for f, k in st.update([text for _, text in rows]):
                    self._raise(f"traffic.{stage}_{f}_psi", rows[k][0])

    def _update_rates(self, recs: list[TrafficRecord]) -> None:
        fields = {"refusal": "refused", "block": "blocked", "escalation": "escalated",
                  "error": "error", "action_block": "blocked",
                  "action_escalation": "escalated"}  # fmt: skip
        for name, alarm in self.rates.items():
            stream = _RATES[name][0]
            rows = [r for r in recs if r.kind == stream]
            if name == "refusal":
                rows = [r for r in rows if r.output is not None]
            if rows and alarm.update([getattr(r, fields[name]) for r in rows]):
                self._raise(f"traffic.{name}_rate_z")

    def _raise(self, metric: str, at: int | None = None) -> None:
        """Record an alarm of ``metric`` at request ``at`` (rates: the batch's last one)."""
        request = self.requests if at is None else at
        self.alarm_requests.setdefault(metric, request)
        self._events.append(metric)
        _log.warning("traffic monitor: %s alarmed at request %d", metric, request)

    def pop_alarms(self) -> list[str]:
        """Metrics that alarmed since the last call (each alarm once)."""
        events, self._events = self._events, []
        return events

    def rebase(self) -> None:
        """Forget the reference and every drift alarm; the next requests form a new one."""
        embed = self.stages["input"].embed
        self.stages = {s: _Stage(s, self.config, embed) for s in _STAGES}
        self.alarm_requests = {k: v for k, v in self.alarm_requests.items() if "_rate_" in k}
        self._ref = []

    # -- reading ----------------------------------------------------------------------------

    def drift_states(self) -> list[DriftState]:
        """The current state of every drift detector that has a reference."""
        return [
            d.evaluate() for st in self.stages.values() if st.ready for d in st.detectors.values()
        ]

    def rate_states(self) -> list[RateState]:
        """The current state of every rate alarm that has a reference."""
        return [a.state for a in self.rates.values() if a.ready]

    def findings(self) -> list[Finding]:
        """One finding per metric with a reference (see :data:`TRAFFIC_METRICS`)."""
        out = [self._drift_finding(s) for s in self.drift_states()]
        out += [self._rate_finding(s) for s in self.rate_states()]
        return out

    @property
    def alarms(self) -> list[Finding]:
        """The findings now above ``info``."""
        return [f for f in self.findings() if f.severity is not Severity.INFO]

    def _drift_finding(self, s: DriftState) -> Finding:
        stage, feature = s.feature.split(".", 1)
        spec = TRAFFIC_METRICS[f"traffic.{stage}_{feature}_psi"]
        severity = Severity.INFO
        if s.alarm:
            severity = max(Severity.LOW, spec.severity_of(s.psi)[0], key=lambda v: v.rank)
        tests = f"chi-square p = {s.chi2_p:.3g}"
        if s.ks_p is not None and s.ks_stat is not None:
            tests += f"; KS D = {s.ks_stat:.3f}, p = {s.ks_p:.3g}"
        moved = ", ".join(f"{c} {a:.3f}→{b:.3f}" for c, a, b in s.top_changes)
        at = self.alarm_requests.get(spec.name)
        note = (
            f"alarm at request {at}: {s.alarm_reason}" if s.alarm else
            f"no alarm (largest CUSUM: {s.cusum[0]} at {s.cusum[1]:.1f} of "
            f"{self.config.threshold:g} nats)"
        )  # fmt: skip
        return Finding(
            check=TRAFFIC_CHECK,
            failure_mode="distribution-shift",
            severity=severity,
            metric=spec.name,
            value=s.psi,
            direction=spec.direction,
            threshold=spec.thresholds[Severity.MEDIUM],
            n=s.window,
            evidence=[
                Evidence(
                    input=f"{s.feature}: reference {s.reference} requests, last {s.window}",
                    output=f"PSI {s.psi:.3f}; {tests}; largest moves: {moved}",
                    note=note,
                )
            ],
            mitigation=(
                "Look at what changed in the traffic; audit a sample of it (a pack with a "
                "prompts file: alignkit audit --data DIR) and, once the change is understood "
                "and accepted, take a new reference: TrafficMonitor.rebase() in-process, a "
                "restart of alignkit serve (its monitor forms a new one)."
            ),
        )

    def _rate_finding(self, s: RateState) -> Finding:
        spec = _rate_spec(s.name, self.config.rate_limit)
        severity = spec.severity_of(s.z)[0]
        ref = s.reference_rate or 0.0
        return Finding(
            check=TRAFFIC_CHECK,
            failure_mode=spec.failure_mode or "distribution-shift",
            severity=severity,
            metric=spec.name,
            value=s.z,
            direction=spec.direction,
            threshold=self.config.rate_limit,
            n=s.n,
            evidence=[
                Evidence(
                    input=f"{s.name} rate: reference {ref:.4f}",
                    output=f"EWMA rate {s.rate:.4f}, z = {s.z:.2f} "
                    f"(limit {self.config.rate_limit:g})",
                    note=f"crossed the limit {s.alarms} time(s)",
                )
            ],
            mitigation=(
                "Find what drives the rate (alignkit guard verify, the audit log's decisions); "
                "a circuit breaker can be opened from this alarm."
            ),
        )
