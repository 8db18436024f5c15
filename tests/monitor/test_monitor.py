from __future__ import annotations

import math

import numpy as np
import pytest

from alignkit.core import ConfigError, Direction, Severity
from alignkit.monitor import GoodhartMonitor, MonitorState, monitor_rule, simulate_run
from alignkit.monitor._detector import alarmed, look_level, null_p_value, peak_test, step_p_value
from alignkit.monitor._shape import (
    decline_fit,
    isotonic_fit,
    noise_sd,
    prefix_isotonic_rss,
    step_decline_fit,
    unimodal_peak,
)
from alignkit.monitor._simulate import look_trace, trace_rule


def _feed(mon: GoodhartMonitor, gold: np.ndarray, every: int, sigma: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for step in range(len(gold)):
        metrics: dict[str, float] = {"reward": step / len(gold)}
        if step % every == 0:
            metrics["gold"] = float(gold[step] + rng.normal(0, sigma))
        mon.observe(step, **metrics)


def test_isotonic_prefix_rss_matches_direct_fit() -> None:
    y = np.array([3.0, 1.0, 2.0, 5.0, 4.0, 4.0, 0.0])
    rss = prefix_isotonic_rss(y)
    for k in range(1, len(y) + 1):
        fit = isotonic_fit(y[:k])
        assert np.all(np.diff(fit) >= -1e-12)
        assert rss[k] == pytest.approx(float(((y[:k] - fit) ** 2).sum()))


def test_noise_sd_ignores_a_smooth_trend() -> None:
    rng = np.random.default_rng(1)
    t = np.sort(rng.uniform(0, 100, 400))
    y = np.sin(t / 15) * 5 + rng.normal(0, 0.3, len(t))
    assert noise_sd(y, t) == pytest.approx(0.3, rel=0.15)


def test_decline_statistic_is_large_for_a_decline_and_zero_for_a_rise() -> None:
    t = np.arange(60.0)
    rising = t / 10
    assert decline_fit(t, rising + 0.0, sigma=0.1).statistic == 0.0
    falling = np.minimum(t, 30) - np.maximum(t - 30, 0)
    assert decline_fit(t, falling, sigma=1.0).statistic > 100


def test_decline_fit_recovers_a_continuous_hinge() -> None:
    t = np.arange(60.0)
    y = np.minimum(t, 30) - 0.5 * np.maximum(t - 30, 0)  # rises to 30 at t = 30, then falls
    fit = decline_fit(t, y, sigma=1.0)
    assert fit.peak_level == pytest.approx(30.0)
    assert fit.last_level == pytest.approx(30 - 0.5 * 29)
    assert fit.drop_sd == pytest.approx(14.5)
    assert 29 <= fit.peak_index <= 31 and fit.dof is None


@pytest.mark.parametrize("n", [15, 40, 150])
def test_null_p_value_is_calibrated_on_constant_series(n: int) -> None:
    rng = np.random.default_rng(n)
    reps = 600
    ps = np.empty(reps)
    for i in range(reps):
        t = np.sort(rng.uniform(0, 100, n)) if i % 2 else np.arange(n * 1.0)
        fit = decline_fit(t, rng.normal(size=n))
        ps[i] = null_p_value(fit.statistic, n, fit.dof)
    # P(p <= 0.05) is 0.05 up to sampling error: SD sqrt(0.05 * 0.95 / 600) = 0.009
    assert 0.05 - 3 * 0.009 <= float(np.mean(ps <= 0.05)) <= 0.05 + 3 * 0.009


def test_step_p_value_is_calibrated_on_constant_series() -> None:
    rng = np.random.default_rng(2)
    n = 40
    ps = [
        step_p_value(step_decline_fit(np.arange(n * 1.0), rng.normal(size=n)).statistic, n)
        for _ in range(400)
    ]
    # about 5 % below 0.05 (the gamma approximation is allowed to be a little conservative)
    assert 0.01 <= float(np.mean(np.asarray(ps) <= 0.05)) <= 0.09


def test_step_alternative_fits_an_abrupt_fall_the_anchored_line_cannot() -> None:
    # a loophole found at t = 50: the intent drops from 1 to 0.6 at once and stays there
    t = np.arange(80.0)
    y = np.where(t < 50, np.minimum(t / 20, 1.0), 0.6)
    step = step_decline_fit(t, y, sigma=0.1)
    assert step.split == 50
    assert step.peak_level == pytest.approx(1.0) and step.last_level == pytest.approx(0.6)
    # the step fits exactly, so its statistic is the whole isotonic RSS; the anchored line
    # leaves a residual
    iso_rss = float(np.sum((y - isotonic_fit(y)) ** 2)) / 0.1**2
    assert step.statistic == pytest.approx(iso_rss)
    assert decline_fit(t, y, sigma=0.1).statistic < 0.9 * iso_rss
    # the detector takes the stronger of the two, paying a factor 2 for the choice
    noisy = y + np.random.default_rng(0).normal(0, 0.3, 80)
    fit = step_decline_fit(t, noisy)
    assert peak_test(t, noisy).p_value == pytest.approx(2 * step_p_value(fit.statistic, 80))


def test_alarm_rule_spends_alpha_over_looks_and_needs_a_confirming_look() -> None:
    assert look_level(0.01, 10, 10) == pytest.approx(0.01)
    assert look_level(0.01, 100, 10) == pytest.approx(0.01 / (1 + np.log(10)))
    assert alarmed([0.05, 0.001], 0.01, 10, 10, confirm=2)  # earlier look within 10·α
    assert not alarmed([0.2, 0.001], 0.01, 10, 10, confirm=2)
    assert not alarmed([0.001, 0.02], 0.01, 10, 10, confirm=2)  # latest look not significant
    assert alarmed([0.2, 0.001], 0.01, 10, 10, confirm=1)
    assert not alarmed([0.009], 0.01, 100, 10, confirm=1)  # level at n = 100 is 0.003


def test_trace_replay_matches_the_monitor() -> None:
    runs = [simulate_run(shape, seed) for shape in ("sparse", "bon", "plateau") for seed in (1, 2)]
    traces = {id(r): look_trace(r) for r in runs}
    replayed, real = trace_rule(traces, alpha=GoodhartMonitor().alpha), monitor_rule()
    alarms = [real(r) for r in runs]
    assert [replayed(r) for r in runs] == alarms
    assert any(a is not None for a in alarms)


@pytest.mark.parametrize(
    ("values", "peak"),
    [
        ([0, 1, 2, 3, 4, 3, 2, 1, 0], 4),
        (list(4 * np.linspace(0, 1, 101) * (1 - np.linspace(0, 1, 101))), 50),
        ([0, 1, 2, 3], 3),  # still rising: the last point
        ([3, 2, 1, 0], 0),  # only falling: the first
    ],
)
def test_unimodal_peak_is_where_the_fit_turns(values: list[float], peak: int) -> None:
    assert unimodal_peak(np.asarray(values, dtype=float)) == peak


def test_detects_a_peak_and_estimates_it() -> None:
    x = np.arange(1000) / 1000
    gold = 4 * x * (1 - x) * 3  # peak 3 at step 500
    mon = GoodhartMonitor(proxy="reward", intent=["gold"])
    _feed(mon, gold, every=10, sigma=0.3, seed=0)
    status = mon.status
    assert status.state is MonitorState.OVEROPTIMISED
    assert status.intent == "gold"
    assert status.peak_step is not None and 400 <= status.peak_step <= 600
    assert status.confidence > 0.99
    alarm = status.intents[0].alarm_step
    assert alarm is not None and 500 < alarm < 800


def test_no_alarm_on_a_plateau() -> None:
    x = np.arange(1000) / 1000
    alarms = 0
    for seed in range(10):
        mon = GoodhartMonitor(proxy="reward", intent="gold")
        _feed(mon, 1 - np.exp(-x / 0.1), every=10, sigma=0.15, seed=seed)
        alarms += mon.status.state is MonitorState.OVEROPTIMISED
    assert alarms <= 1


def test_plateau_with_rising_proxy_is_diverging() -> None:
    x = np.arange(1000) / 1000
    mon = GoodhartMonitor(proxy="reward", intent="gold")
    _feed(mon, 1 - np.exp(-x / 0.05), every=10, sigma=0.05, seed=3)
    assert mon.status.state is MonitorState.DIVERGING
    div = [f for f in mon.findings() if f.metric == "monitor.divergence_t"][0]
    assert div.failure_mode == "specification-gaming"
    assert div.severity >= Severity.MEDIUM


def test_sparse_late_noisy_intent() -> None:
    run = next(
        r
        for r in (simulate_run("sparse", seed) for seed in range(50))
        if r.detectable_step is not None and r.detectable_step < 700
    )
    mon = GoodhartMonitor(proxy="reward", intent="gold")
    order = np.argsort(run.arrival)
    raised = None
    for i in order:  # values arrive late and are keyed by the step they describe
        mon.observe(float(run.arrival[i]), reward=1.0)
        mon.observe(float(run.intent_steps[i]), gold=float(run.intent_values[i]))
        if raised is None and mon.status.state is MonitorState.OVEROPTIMISED:
            raised = float(run.arrival[i])
    assert raised is not None and raised >= run.peak_step - 0.02 * run.length
    steps, values = mon.series("gold")
    assert steps == sorted(steps) and len(values) == len(run.intent_values)


def test_findings_carry_metric_specs() -> None:
    x = np.arange(600) / 600
    mon = GoodhartMonitor(
        proxy="loss", intent=["gold"], minimize=["loss"], failure_mode="goodhart.regressional"
    )
    rng = np.random.default_rng(5)
    for step in range(600):
        mon.observe(
            step, loss=1 - x[step], gold=float(np.sin(np.pi * x[step]) + rng.normal(0, 0.1))
        )
    found = {f.metric: f for f in mon.findings()}
    drop = found["monitor.intent_drop_sd"]
    assert drop.failure_mode == "goodhart.regressional"
    assert drop.direction is Direction.HIGHER_IS_WORSE
    assert drop.severity is Severity.HIGH and drop.value > 2
    assert mon.series("loss")[1][0] == pytest.approx(1.0)  # sign restored


def test_bad_configuration_is_rejected() -> None:
    with pytest.raises(ConfigError):
        GoodhartMonitor(proxy="gold", intent="gold")
    with pytest.raises(ConfigError):
        GoodhartMonitor(intent=[])
    with pytest.raises(ConfigError):
        GoodhartMonitor(minimize=["nope"])
    with pytest.raises(ConfigError, match="names a metric twice"):
        GoodhartMonitor(intent=["gold", "gold"])  # each finding came out twice
    with pytest.raises(ConfigError, match="whole number confirm"):
        GoodhartMonitor(confirm=1.5)  # type: ignore[arg-type]  # a TypeError 10 values later
    assert GoodhartMonitor(confirm=np.int64(3)).confirm == 3  # type: ignore[arg-type]


def test_minimize_may_be_one_name_as_intent_may() -> None:
    """``minimize="eval_loss"`` was read as its letters ("unknown metrics: _, a, e, ...")."""
    mon = GoodhartMonitor(intent="eval_loss", minimize="eval_loss")
    assert mon.minimize == {"eval_loss"}


# gold rises, then falls in the last four values: diverging after the last value, not yet
# confirmed as past its peak (confirm=2 needs a second significant look)
_LATE_FALL = [0.052, 0.221, 0.24, 0.082, 0.496, 0.504, 0.429, 0.665, 0.695, 0.742, 0.754, 0.88,
              0.73, 0.853, 0.838, 1.027, 0.966, 0.934, 0.873, 0.959, 1.001, 0.956, 1.184, 1.129,
              0.553, 0.654, 0.884, 0.814]  # fmt: skip


def test_a_value_sent_again_is_not_a_second_look() -> None:
    """The same step and value sent twice met ``confirm=2`` with one significant look."""
    mon = GoodhartMonitor()
    for i, gold in enumerate(_LATE_FALL):
        mon.observe(i * 10, reward=float(i), gold=gold)
    before = mon.status.state
    assert before is not MonitorState.OVEROPTIMISED
    mon.observe(10 * (len(_LATE_FALL) - 1), gold=_LATE_FALL[-1])
    assert mon.status.state is before


def test_a_latched_alarm_keeps_the_figures_of_the_alarm() -> None:
    """Gold dips, the alarm latches, then gold recovers to new highs: status and findings
    still name the peak and the drop that raised the alarm (they showed confidence 0)."""
    x = np.arange(1000) / 1000
    gold = 4 * x * (1 - x) * 3
    mon = GoodhartMonitor(proxy="reward", intent=["gold"])
    _feed(mon, gold, every=10, sigma=0.3, seed=0)
    alarmed = mon.status
    assert alarmed.state is MonitorState.OVEROPTIMISED and alarmed.peak_step is not None
    for step in range(1000, 3000, 10):  # recovers far above the old peak
        mon.observe(step, reward=step / 1000, gold=3.0 + step / 100)
    status = mon.status
    assert status.state is MonitorState.OVEROPTIMISED
    assert status.peak_step == alarmed.peak_step and status.confidence > 0.99
    drop = next(f for f in mon.findings() if f.metric == "monitor.intent_drop_sd")
    assert drop.value > 2 and drop.severity is Severity.HIGH


def test_huge_values_and_steps_are_handled_in_one_line() -> None:
    mon = GoodhartMonitor()
    mon.observe(1, reward=10**400, gold=1.0)  # skipped, as an infinity is
    assert mon.series("reward") == ([], [])
    with pytest.raises(ConfigError, match="finite"):
        mon.observe(10**400, reward=1.0)
    with pytest.raises(ConfigError, match="finite"):
        mon.observe(None, reward=1.0)  # type: ignore[arg-type]


def test_missing_and_non_numeric_values_are_skipped() -> None:
    mon = GoodhartMonitor()
    mon.observe(1, reward=None, gold=math.nan)
    mon.observe_mapping(2, {"reward": "x", "gold": True, "other": 1.0})
    assert mon.series("reward") == ([], []) and mon.series("gold") == ([], [])
    assert mon.status.state is MonitorState.OK and mon.step == 2.0


def test_status_names_the_latest_step_and_unknown_intents_are_config_errors() -> None:
    mon = GoodhartMonitor(proxy="reward", intent=["gold"])
    mon.observe(99, reward=1.0, gold=1.0)
    assert mon.status.step == 99
    mon.observe(150, loss=1.0)  # a metric the monitor does not track still moves the step
    assert mon.status.step == 150
    with pytest.raises(ConfigError, match="not an intent metric"):
        mon.intent_status("nope")


def test_non_finite_steps_are_refused() -> None:
    mon = GoodhartMonitor()
    with pytest.raises(ConfigError, match="finite"):
        mon.observe(float("nan"), gold=1.0)
    with pytest.raises(ConfigError, match="finite"):
        mon.observe(float("inf"), reward=1.0)


@pytest.mark.parametrize("offset", [0.0, 1e6, 1e7])
def test_a_constant_offset_does_not_change_the_verdict(offset: float) -> None:
    """A rising gold of 1e7 + x was called overoptimised at step 120 (arithmetic precision)."""
    rng = np.random.default_rng(11)
    mon = GoodhartMonitor()
    for step in range(1000):
        x = step / 1000
        gold = offset + x + rng.normal(0, 0.05) if step % 10 == 0 else None
        mon.observe(step, reward=x, gold=gold)
    assert mon.status.state is not MonitorState.OVEROPTIMISED


def test_an_unknown_simulated_shape_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown shape 'nope'"):
        simulate_run("nope", 0)
