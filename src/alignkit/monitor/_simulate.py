"""Seeded simulated training runs for testing and benchmarking over-optimisation detectors.

Each run has ``length`` steps; the proxy is logged at every step, the intent ("gold")
every ``every`` steps, some values are dropped, each arrives ``delay`` steps late and
carries Gaussian noise of SD ``sigma``. Shapes, with ``x = step / length``:

- ``bon`` — best-of-n-like: gold ∝ u(2 − u) with u = √(x / x_peak) (a quadratic in
  d = √KL when KL grows linearly with steps);
- ``rl`` — RL-like with a long flat top: gold ∝ u(1 − ln u) with u = x / x_peak;
- ``plateau`` — never declines: rises and levels off (saturating exponential or logistic,
  40 % each), rises linearly and stops dead (10 %), or stays flat (10 %: pure noise);
- ``sparse`` — a ``bon`` or ``rl`` shape with intent every 10–25 steps, 30 % missing,
  late by up to 1 % of the run and noisier (peak-to-start gain 3–8 noise SDs instead of
  4–12).

The *detectability point* is the first step at which the noise-free gold is two noise
SDs below its peak (``None`` if it never gets there). A run *reaches* it when it does so
with at least 10 % of the run left, so that the whole allowed alarm window lies inside
the run; runs that reach it later are counted separately.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from alignkit.core import ConfigError
from alignkit.monitor._shape import FloatArray, noise_sd

__all__ = [
    "SHAPES",
    "DetectorScore",
    "SimulatedRun",
    "look_trace",
    "monitor_rule",
    "replay",
    "rolling_max_rule",
    "score_detector",
    "simulate_run",
    "trace_rule",
]

SHAPES = ("bon", "rl", "plateau", "sparse")


@dataclass(frozen=True)
class SimulatedRun:
    """One simulated run: the dense proxy, the sparse noisy intent and the truth.

    Attributes:
        shape: One of :data:`SHAPES`.
        length: Number of steps.
        proxy: Proxy value at every step, shape ``(length,)``.
        gold_true: Noise-free gold at every step, shape ``(length,)``.
        intent_steps: Steps the observed gold values refer to, shape ``(m,)``.
        intent_values: Observed (noisy) gold values, shape ``(m,)``.
        arrival: Step at which each observed value reaches the monitor, shape ``(m,)``.
        sigma: Noise SD.
        peak_step: Step of the noise-free peak.
        detectable_step: First step 2 SDs below the peak, or ``None``.
    """

    shape: str
    length: int
    proxy: FloatArray
    gold_true: FloatArray
    intent_steps: FloatArray
    intent_values: FloatArray
    arrival: FloatArray
    sigma: float
    peak_step: int
    detectable_step: int | None

    @property
    def declines(self) -> bool:
        """Whether the noise-free gold ever falls 2 SDs below its peak."""
        return self.detectable_step is not None


def _gold(shape: str, x: FloatArray, rng: np.random.Generator) -> FloatArray:
    if shape == "bon":
        u = np.sqrt(x / rng.uniform(0.2, 0.6))
        return np.asarray(u * (2 - u), dtype=np.float64)
    if shape == "rl":
        u = np.maximum(x / rng.uniform(0.3, 0.7), 1e-9)
        return np.asarray(u * (1 - np.log(u)), dtype=np.float64)
    kind = rng.random()
    if kind < 0.4:
        return 1 - np.exp(-x / rng.uniform(0.05, 0.3))
    if kind < 0.8:
        mid = rng.uniform(0.1, 0.5)
        return 1 / (1 + np.exp(-(x - mid) / rng.uniform(0.03, 0.1)))
    if kind < 0.9:  # a straight rise that stops dead
        return np.minimum(1.0, x / rng.uniform(0.1, 0.5))
    return np.zeros_like(x)  # an intent training never moves: pure noise around a level


def simulate_run(shape: str, seed: int, length: int = 1000) -> SimulatedRun:
    """Simulate one run of ``shape`` (see the module docstring) from ``seed``."""
    if shape not in SHAPES:
        raise ConfigError(f"unknown shape {shape!r}; expected one of {SHAPES}")
    rng = np.random.default_rng([seed, SHAPES.index(shape)])
    x = np.arange(length) / length
    base = str(rng.choice(["bon", "rl"])) if shape == "sparse" else shape
    gold = _gold(base, x, rng)
    amplitude = float(gold.max() - gold[0]) or 1.0  # a flat intent: noise on the unit scale
    snr = rng.uniform(3.0, 8.0) if shape == "sparse" else rng.uniform(4.0, 12.0)
    sigma = amplitude / snr
    proxy = np.log1p(x * rng.uniform(3, 20)) + rng.normal(0, 0.05, length)
    if shape == "sparse":
        every, keep, delay = int(rng.integers(10, 26)), 0.7, int(rng.integers(0, length // 100 + 1))
    else:
        every, keep, delay = int(rng.choice([5, 10, 20])), 1.0, 0
    steps = np.arange(every, length, every)
    steps = steps[rng.random(len(steps)) < keep]
    values = gold[steps] + rng.normal(0, sigma, len(steps))
    peak = int(np.argmax(gold))
    below = np.flatnonzero((np.arange(length) > peak) & (gold <= gold[peak] - 2 * sigma))
    detect = int(below[0]) if len(below) else None
    return SimulatedRun(
        shape,
        length,
        proxy,
        gold,
        steps.astype(float),
        values,
        (steps + delay).astype(float),
        sigma,
        peak,
        detect,
    )


def replay(run: SimulatedRun, on_intent: Callable[[float, float, float], bool]) -> float | None:
    """Feed ``run``'s intent values in arrival order; return the arrival step of the first alarm.

    ``on_intent(step, value, now)`` returns whether the detector is alarmed after it.
    """
    order = np.argsort(run.arrival, kind="stable")
    for i in order:
        if on_intent(float(run.intent_steps[i]), float(run.intent_values[i]), run.arrival[i]):
            return float(run.arrival[i])
    return None


def rolling_max_rule(
    window: int = 5, sds: float = 2.0, min_points: int = 10
) -> Callable[[SimulatedRun], float | None]:
    """The plain baseline: alarm when the rolling mean falls ``sds`` SEs below its running max.

    The rolling mean is over the last ``window`` intent values (in step order); the SE is
    that of a difference of two such means, ``σ̂·√(2/window)``, with ``σ̂`` from successive
    differences. Returns a function mapping a run to its alarm step (or ``None``).
    """

    def detect(run: SimulatedRun) -> float | None:
        steps: list[float] = []
        values: list[float] = []

        def on_intent(step: float, value: float, now: float) -> bool:
            i = int(np.searchsorted(steps, step, side="right"))
            steps.insert(i, step)
            values.insert(i, value)
            if len(values) < max(min_points, window + 1):
                return False
            y = np.asarray(values)
            means = np.convolve(y, np.ones(window) / window, mode="valid")
            tol = sds * noise_sd(y) * np.sqrt(2.0 / window)
            return bool(means[-1] < means.max() - tol)

        return replay(run, on_intent)

    return detect


@dataclass(frozen=True)
class DetectorScore:
    """How a detector did over a set of simulated runs (the measured bar of issue 16).

    Attributes:
        runs: Runs scored.
        reaching: Runs whose gold reaches the detectability point with ≥ 10 % of the run left.
        raised: Of those, runs alarmed inside the allowed window.
        early: Of those, runs alarmed more than 2 % of the run before the peak.
        late_or_missed: Of those, runs alarmed after the window or never.
        never_decline: Runs whose gold never declines (plateau shapes).
        false_alarms: Of those, runs alarmed at all.
        median_delay: Median of (alarm − detectability) / length over alarmed reaching runs.
        reaching_late: Runs that reach the detectability point with < 10 % of the run left.
        late_alarmed: Of those, runs alarmed at all (not before the peak − 2 %).
    """

    runs: int
    reaching: int
    raised: int
    early: int
    late_or_missed: int
    never_decline: int
    false_alarms: int
    median_delay: float
    reaching_late: int = 0
    late_alarmed: int = 0

    @property
    def detection_rate(self) -> float:
        """Share of reaching runs alarmed within the window."""
        return self.raised / self.reaching if self.reaching else float("nan")

    @property
    def false_alarm_rate(self) -> float:
        """Share of never-declining runs alarmed."""
        return self.false_alarms / self.never_decline if self.never_decline else float("nan")


def score_detector(
    runs: list[SimulatedRun], detect: Callable[[SimulatedRun], float | None]
) -> DetectorScore:
    """Apply ``detect`` (run → alarm step or ``None``) to ``runs`` and score it."""
    reaching = raised = early = late = never = false = tail = tail_alarmed = 0
    delays: list[float] = []
    for run in runs:
        alarm = detect(run)
        if run.shape == "plateau":
            never += 1
            false += alarm is not None
            continue
        if run.detectable_step is None:
            continue
        if run.detectable_step > 0.9 * run.length:
            tail += 1
            tail_alarmed += alarm is not None and alarm >= run.peak_step - 0.02 * run.length
            continue
        reaching += 1
        if alarm is None:
            late += 1
            continue
        delays.append((alarm - run.detectable_step) / run.length)
        if alarm < run.peak_step - 0.02 * run.length:
            early += 1
        elif alarm > run.detectable_step + 0.10 * run.length:
            late += 1
        else:
            raised += 1
    median = float(np.median(delays)) if delays else float("nan")
    return DetectorScore(
        len(runs), reaching, raised, early, late, never, false, median, tail, tail_alarmed
    )


def look_trace(run: SimulatedRun, min_points: int = 10) -> list[tuple[float, int, float]]:
    """The passed-its-peak p-value at every look the monitor would make on ``run``.

    Returns:
        ``(arrival step, intent values so far, p-value)`` per look, in arrival order; with
        :func:`trace_rule` this replays the monitor's alarm rule for any ``alpha`` and
        ``confirm`` without refitting (how the defaults were calibrated).
    """
    from alignkit.monitor._detector import peak_test

    steps: list[float] = []
    values: list[float] = []
    out: list[tuple[float, int, float]] = []

    def on_intent(step: float, value: float, now: float) -> bool:
        i = int(np.searchsorted(steps, step, side="right"))
        steps.insert(i, step)
        values.insert(i, value)
        if len(values) >= min_points:
            test = peak_test(np.asarray(steps), np.asarray(values))
            out.append((now, len(values), test.p_value))
        return False

    replay(run, on_intent)
    return out


def trace_rule(
    traces: dict[int, list[tuple[float, int, float]]],
    alpha: float,
    confirm: int = 2,
    min_points: int = 10,
) -> Callable[[SimulatedRun], float | None]:
    """The monitor's alarm rule applied to precomputed :func:`look_trace` results.

    ``traces`` maps ``id(run)`` to the run's trace; runs of more than 400 intent values
    are tested at every look here, a little more often than the monitor tests them.
    """
    from alignkit.monitor._detector import alarmed

    def detect(run: SimulatedRun) -> float | None:
        p_values: list[float] = []
        for now, n, p in traces[id(run)]:
            p_values = [*p_values, p][-confirm:]
            if alarmed(p_values, alpha, n, min_points, confirm):
                return now
        return None

    return detect


def monitor_rule(**options: Any) -> Callable[[SimulatedRun], float | None]:
    """A detector that feeds a run's gold to a :class:`GoodhartMonitor` built with ``options``."""
    from alignkit.monitor._monitor import GoodhartMonitor, MonitorState

    def detect(run: SimulatedRun) -> float | None:
        mon = GoodhartMonitor(proxy="reward", intent="gold", **options)

        def on_intent(step: float, value: float, now: float) -> bool:
            mon.observe(now)
            mon.observe(step, gold=value)
            return mon.intent_status("gold").state is MonitorState.OVEROPTIMISED

        return replay(run, on_intent)

    return detect
