"""GoodhartMonitor: watch a proxy metric and the metrics it stands for during training."""

from __future__ import annotations

import bisect
import logging
import math
import numbers
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from alignkit.core import ConfigError, Evidence, Finding, MetricSpec
from alignkit.monitor._detector import (
    PeakTest,
    alarmed,
    as_array,
    peak_test,
    recent_window,
    slope_t,
)
from alignkit.monitor._metrics import DIVERGENCE_T, INTENT_DROP_SD

__all__ = ["GoodhartMonitor", "IntentStatus", "MonitorState", "MonitorStatus"]

_log = logging.getLogger(__name__)
# Beyond _DENSE intent values the test runs only when the series has grown by _GROWTH
# since the last one, so a long log costs O(n log n) tests' worth of work, not O(n²).
_DENSE, _GROWTH = 400, 0.01


class MonitorState(StrEnum):
    """What the monitor currently concludes, from best to worst."""

    OK = "ok"
    DIVERGING = "diverging"
    OVEROPTIMISED = "overoptimised"

    @property
    def rank(self) -> int:
        """0 for ``ok``, 1 for ``diverging``, 2 for ``overoptimised``."""
        return list(MonitorState).index(self)


@dataclass(frozen=True)
class IntentStatus:
    """The monitor's view of one intent metric.

    Attributes:
        name: The intent metric.
        state: Its state (``overoptimised`` latches once confirmed).
        n: Number of values observed.
        peak_step: Estimated step of its peak (``None`` before any decline is fitted).
        confidence: ``1 − p`` of the passed-its-peak test at the latest look.
        drop_sd: Fitted fall from the peak to the latest value, in noise SDs.
        sigma: Estimated noise SD of its values.
        divergence_t: Proxy slope t over the recent window while this intent stalls, else 0.
        intent_t: t statistic of this intent's slope over the recent window.
        alarm_step: Step at which ``overoptimised`` was first confirmed.
    """

    name: str
    state: MonitorState
    n: int
    peak_step: float | None
    confidence: float
    drop_sd: float
    sigma: float
    divergence_t: float
    intent_t: float
    alarm_step: float | None = None


@dataclass(frozen=True)
class MonitorStatus:
    """The monitor's overall conclusion: the worst state over the intent metrics.

    Attributes:
        state: ``ok``, ``diverging`` or ``overoptimised``.
        step: Latest step observed.
        peak_step: Estimated peak step of the intent metric that decided ``state``.
        confidence: ``1 − p`` that this intent metric has passed its peak.
        intent: The deciding intent metric (``None`` when nothing is wrong).
        intents: Per-intent detail, in the order the monitor was given.
        min_points: Intent values the monitor needs before it tests one.
    """

    state: MonitorState
    step: float | None
    peak_step: float | None
    confidence: float
    intent: str | None
    intents: tuple[IntentStatus, ...] = field(default_factory=tuple)
    min_points: int = 0

    def describe(self) -> str:
        """One line for a log or a terminal."""
        if self.state is MonitorState.OK:
            few = [f"{d.name} {d.n}" for d in self.intents if d.n < self.min_points]
            untested = (
                f" (not tested yet: {', '.join(few)} of the {self.min_points} values a test needs)"
                if few
                else ""
            )
            return f"ok at step {_fmt(self.step)}{untested}"
        where = f", peak near step {_fmt(self.peak_step)}" if self.peak_step is not None else ""
        return (
            f"{self.state.value}: {self.intent} at step {_fmt(self.step)}{where} "
            f"(confidence {self.confidence:.3f})"
        )


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


@dataclass
class _Series:
    steps: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def add(self, step: float, value: float) -> bool:
        """Insert in step order; a step logged again replaces its value (the last one wins).

        Resumed runs and concatenated exports log steps twice; counting both made one
        measurement look like two independent ones and a plateau look like a decline.

        Returns:
            Whether the step is new (``False``: a value was replaced).
        """
        i = bisect.bisect_left(self.steps, step)
        if i < len(self.steps) and self.steps[i] == step:
            self.values[i] = value
            return False
        self.steps.insert(i, step)
        self.values.insert(i, value)
        return True


@dataclass
class _IntentTrack:
    series: _Series = field(default_factory=_Series)
    last: PeakTest | None = None
    p_values: list[float] = field(default_factory=list)
    alarm_step: float | None = None
    alarm_test: PeakTest | None = None
    tested_n: int = 0


class GoodhartMonitor:
    """Detects when optimising a proxy stops serving the intent it stands for.

    Feed it the proxy (dense: every logged step) and one or more intent metrics
    (sparse, late and noisy is fine: most steps may lack them, and a value may arrive
    after later steps with the step it refers to). ``status`` then says

    - ``overoptimised`` — an intent metric has passed its peak: an isotonic-versus-
      hinge likelihood-ratio test on its values is significant at the latest look
      (``p ≤ α_n``, with ``alpha`` spent over looks on a log scale) and nearly so
      (``p ≤ 10·α_n``) at the ``confirm − 1`` looks before it (see
      :mod:`alignkit.monitor._detector`). This latches.
    - ``diverging`` — the proxy still rises significantly over the recent window while
      an intent metric does not (the specification-gaming signature).
    - ``ok`` — neither.

    The test runs after every intent value up to 400 of them, then whenever the series
    has grown by 1 % (so very long logs stay cheap).

    Args:
        proxy: Name of the optimised metric.
        intent: Name(s) of the metrics it is meant to track.
        minimize: Names among ``proxy``/``intent`` for which lower is better (losses).
        alpha: Significance level of the passed-its-peak test at the first look; the
            look at ``n`` intent values uses ``alpha / (1 + ln(n / min_points))``.
        confirm: Consecutive looks that must (nearly) agree to raise ``overoptimised``.
        min_points: Intent values needed before any test runs.
        z_proxy: t the proxy's recent slope must reach for ``diverging``.
        z_intent: t below which the intent's recent slope counts as stalled.
        failure_mode: Failure mode of the over-optimisation finding.
        check: Check id written into findings.

    Example:
        >>> mon = GoodhartMonitor(proxy="reward", intent=["gold"])
        >>> for step in range(100):
        ...     mon.observe(step, reward=step / 100)
        >>> mon.status.state.value
        'ok'
    """

    def __init__(
        self,
        proxy: str = "reward",
        intent: str | Sequence[str] = ("gold",),
        *,
        minimize: Collection[str] = (),
        alpha: float = 0.01,
        confirm: int = 2,
        min_points: int = 10,
        z_proxy: float = 3.0,
        z_intent: float = 1.0,
        failure_mode: str = "reward-model-overoptimization",
        check: str = "monitor.goodhart",
    ) -> None:
        intents = _names(intent)
        if not intents:
            raise ConfigError("GoodhartMonitor needs at least one intent metric")
        if len(set(intents)) < len(intents):
            raise ConfigError(f"intent names a metric twice: {', '.join(intents)}")
        if proxy in intents:
            raise ConfigError(f"metric {proxy!r} cannot be both the proxy and an intent")
        minimize = _names(minimize)  # a plain string is one name, not its letters
        unknown = set(minimize) - {proxy, *intents}
        if unknown:
            raise ConfigError(f"minimize names unknown metrics: {', '.join(sorted(unknown))}")
        counts = (confirm, min_points)  # np.int64 is whole too
        whole = all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in counts)
        if not (0 < alpha < 1 and whole and confirm >= 1 and min_points >= 4):
            raise ConfigError("need 0 < alpha < 1, a whole number confirm >= 1 and min_points >= 4")
        self.proxy = proxy
        self.intent = tuple(intents)
        self.minimize = frozenset(minimize)
        self.alpha, self.confirm, self.min_points = alpha, confirm, min_points
        self.z_proxy, self.z_intent = z_proxy, z_intent
        self.failure_mode, self.check = failure_mode, check
        self._proxy = _Series()
        self._tracks = {name: _IntentTrack() for name in self.intent}
        self._now: float | None = None
        self._version = 0
        self._cached: tuple[int, MonitorStatus] | None = None
        self._out_of_range: set[str] = set()

    # --- feeding -------------------------------------------------------------------

    def observe(self, step: float, /, **metrics: float | None) -> None:
        """Record the metrics logged for ``step``; unknown names and ``None``/NaN are skipped."""
        self.observe_mapping(step, metrics)

    def observe_mapping(self, step: float, metrics: Mapping[str, object]) -> None:
        """Like :meth:`observe`, for names that are not Python identifiers (``rewards/mean``)."""
        at = as_finite(step)
        if at is None:  # one NaN step broke the ordering and, with it, the alarm
            raise ConfigError(f"step must be a finite number, not {step!r}")
        if abs(at) > MAX_STEP:  # the fits square steps: 1e160 overflowed into a crash
            raise ConfigError(f"step {step!r} is out of range (at most 2**53 in size)")
        step = at
        if self._now is None or step > self._now:
            self._now = step
            self._version += 1  # the status names the latest step
        for name, raw in metrics.items():
            if name != self.proxy and name not in self._tracks:
                continue
            value = as_finite(raw)
            if value is None:
                continue
            if abs(value) > MAX_VALUE:  # the fits square values: 1e160 read as no peak
                if name not in self._out_of_range:  # skipped like NaN, said once: a raise
                    self._out_of_range.add(name)  # would end a training run mid-way
                    _log.warning("GoodhartMonitor: %s values beyond 1e100 are skipped", name)
                continue
            if name in self.minimize:
                value = -value
            self._version += 1
            if name == self.proxy:
                self._proxy.add(step, value)
            else:
                self._look(name, step, value)

    def _look(self, name: str, step: float, value: float) -> None:
        track = self._tracks[name]
        new = track.series.add(step, value)
        n = len(track.series.values)
        if n < self.min_points or (n > _DENSE and n - track.tested_n < n * _GROWTH):
            return
        track.tested_n = n
        values = as_array(track.series.values)
        # centred: the test is shift-invariant, its arithmetic on 1e7 + x is not
        test = peak_test(as_array(track.series.steps), values - float(np.median(values)))
        track.last = test
        # a step sent again (a resend, several envs at one step) redoes the latest look;
        # counting it as a new one let one significant look meet ``confirm``
        kept = track.p_values if new else track.p_values[:-1]
        track.p_values = [*kept, test.p_value][-self.confirm :]
        if track.alarm_step is None and alarmed(
            track.p_values, self.alpha, n, self.min_points, self.confirm
        ):
            track.alarm_step = self._now
            track.alarm_test = test
            _log.info(
                "intent %r has passed its peak (near step %g; p=%.2g): the proxy %r is "
                "over-optimised",
                name,
                test.peak_step,
                test.p_value,
                self.proxy,
            )

    # --- reading -------------------------------------------------------------------

    @property
    def step(self) -> float | None:
        """Latest step observed."""
        return self._now

    def series(self, name: str) -> tuple[list[float], list[float]]:
        """``(steps, values)`` recorded for ``name`` (values as given, not sign-flipped)."""
        if name == self.proxy:
            s = self._proxy
        elif name in self._tracks:
            s = self._tracks[name].series
        else:
            raise ConfigError(f"the monitor does not track {name!r}")
        sign = -1.0 if name in self.minimize else 1.0
        return list(s.steps), [sign * v for v in s.values]

    def intent_status(self, name: str, *, latest: bool = False) -> IntentStatus:
        """The detail for intent metric ``name`` (:class:`ConfigError` if it is not one).

        Once the monitor has alarmed, its figures (peak, confidence, drop) stay those of
        the alarm unless a later look alarms on its own; ``latest`` gives the latest
        look's figures all the same (a verdict on the whole run).
        """
        track = self._tracks.get(name)
        if track is None:
            raise ConfigError(f"{name!r} is not an intent metric of this monitor")
        test = track.last
        n = len(track.series.values)
        still = test is not None and _declined(test)
        if still and test is not None:
            still = alarmed([test.p_value], self.alpha, n, self.min_points, 1)
        if track.alarm_test is not None and not latest and not still:
            # latched, and the latest look no longer alarms on its own (the intent
            # recovered, or the fit blurred): keep the alarm's figures, or the peak to roll
            # back to is lost (status said confidence 0, or a peak at the first step)
            test = track.alarm_test
        div_t, int_t = self._divergence(track.series)
        if track.alarm_step is not None:
            state = MonitorState.OVEROPTIMISED
        elif div_t > 0:
            state = MonitorState.DIVERGING
        else:
            state = MonitorState.OK
        declined = _declined(test)
        return IntentStatus(
            name=name,
            state=state,
            n=len(track.series.values),
            peak_step=test.peak_step if test is not None and declined else None,
            confidence=1.0 - test.p_value if test is not None else 0.0,
            drop_sd=test.drop_sd if test is not None and declined else 0.0,
            sigma=test.sigma if test is not None else math.nan,
            divergence_t=div_t,
            intent_t=int_t,
            alarm_step=track.alarm_step,
        )

    def _divergence(self, series: _Series) -> tuple[float, float]:
        """``(proxy t if the intent stalls else 0, intent t)`` over the recent window."""
        if len(series.values) < self.min_points or len(self._proxy.values) < 3:
            return 0.0, 0.0
        steps = as_array(series.steps)
        start = recent_window(steps)
        values = as_array(series.values)
        values = values - float(np.median(values))
        intent_t = slope_t(steps[steps >= start], values[steps >= start])
        p_steps, p_vals = as_array(self._proxy.steps), as_array(self._proxy.values)
        p_vals = p_vals - float(np.median(p_vals))
        mask = p_steps >= start
        if mask.sum() < 3:
            return 0.0, intent_t
        proxy_t = slope_t(p_steps[mask], p_vals[mask])
        stalled = intent_t < self.z_intent and proxy_t >= self.z_proxy
        return (proxy_t if stalled else 0.0), intent_t

    @property
    def status(self) -> MonitorStatus:
        """The worst state over the intent metrics, with its peak step and confidence.

        Recomputed only when a value has arrived since the last call.
        """
        if self._cached is not None and self._cached[0] == self._version:
            return self._cached[1]
        status = self._status()
        self._cached = (self._version, status)
        return status

    def _status(self) -> MonitorStatus:
        details = tuple(self.intent_status(name) for name in self.intent)
        worst = max(details, key=lambda d: (d.state.rank, d.confidence))
        if worst.state is MonitorState.OK:
            return MonitorStatus(
                MonitorState.OK, self._now, None, worst.confidence, None, details, self.min_points
            )
        return MonitorStatus(
            worst.state,
            self._now,
            worst.peak_step,
            worst.confidence,
            worst.name,
            details,
            self.min_points,
        )

    # --- findings ------------------------------------------------------------------

    def findings(self, run_id: str = "") -> list[Finding]:
        """Two findings per intent metric: the confirmed drop and the divergence."""
        out: list[Finding] = []
        for d in (self.intent_status(name) for name in self.intent):
            drop = d.drop_sd if d.state is MonitorState.OVEROPTIMISED else 0.0
            note = (
                f"{d.n} values of {d.name}; peak near step {_fmt(d.peak_step)}; confidence "
                f"{d.confidence:.4f}; alarm at step {_fmt(d.alarm_step)}"
            )
            out.append(self._finding(INTENT_DROP_SD, self.failure_mode, drop, d, note, run_id))
            note = (
                f"proxy {self.proxy} slope t={d.divergence_t:.2f}; "
                f"{d.name} slope t={d.intent_t:.2f}"
            )
            out.append(
                self._finding(DIVERGENCE_T, "specification-gaming", d.divergence_t, d, note, run_id)
            )
        return out

    def _finding(
        self,
        spec: MetricSpec,
        mode: str,
        value: float,
        d: IntentStatus,
        note: str,
        run_id: str,
    ) -> Finding:
        severity, threshold = spec.severity_of(value)
        return Finding(
            check=self.check,
            failure_mode=mode,
            severity=severity,
            metric=spec.name,
            value=round(float(value), 6),
            direction=spec.direction,
            threshold=threshold,
            n=d.n,
            evidence=[
                Evidence(
                    input=f"proxy={self.proxy} intent={d.name}", output=d.state.value, note=note
                )
            ],
            mitigation=(
                "stop or roll back to the checkpoint near the peak step; strengthen the KL "
                "penalty, use a reward-model ensemble (worst-case or uncertainty-weighted), or "
                "refresh the proxy with new labels from the current policy"
            ),
            run_id=run_id,
        )


def _declined(test: PeakTest | None) -> bool:
    return test is not None and test.statistic > 0 and test.drop_sd > 0


def _names(names: str | Collection[str]) -> list[str]:
    return [names] if isinstance(names, str) else list(names)


MAX_STEP = float(2**53)
"""The largest step size accepted: every whole number up to it is exact as a float."""
MAX_VALUE = 1e100
"""The largest metric size accepted (the fits square values; 1e160 overflowed)."""


def as_finite(raw: object) -> float | None:
    """A finite float from ``raw``, or ``None`` for missing/NaN/non-numeric/huge values."""
    if raw is None or isinstance(raw, bool):
        return None
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None
