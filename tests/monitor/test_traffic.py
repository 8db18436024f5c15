"""TrafficMonitor: features, drift detectors, rate alarms, findings — on seeded streams."""

from __future__ import annotations

import numpy as np
import pytest

from alignkit.core import ConfigError, Severity
from alignkit.monitor import (
    TRAFFIC_METRICS,
    CategoricalDrift,
    NumericDrift,
    RateAlarm,
    TrafficConfig,
    TrafficMonitor,
    TrafficRecord,
    dominant_script,
    drift_trial,
    psi,
    synthetic_traffic,
)
from alignkit.monitor._traffic_features import NgramVocabulary, VectorClusters
from alignkit.taxonomy import get as failure_mode

SMALL = TrafficConfig(reference=800, window=300, every=50, rate_reference=400)


def test_dominant_script() -> None:
    assert dominant_script("What is the capital of France?") == "latin"
    assert dominant_script("Какая столица Франции?") == "cyrillic"
    assert dominant_script("法国的首都是哪里？") == "cjk"
    assert dominant_script("Привет, how are you? очень хорошо") == "cyrillic"
    assert dominant_script("12345 !!! ...") == "none"
    assert dominant_script("ما هي عاصمة فرنسا") == "arabic"


def test_ngram_clusters_recover_topics() -> None:
    stream = synthetic_traffic(1500, seed=11)
    texts = [r.input for r in stream.records]
    vocab = NgramVocabulary(1500).fit(texts)
    clusters = VectorClusters(8, seed=0).fit(vocab.transform(texts))
    labels = clusters.assign(vocab.transform(texts))
    assert len(set(labels)) == 8
    # The same text always lands in the same cluster; unrelated vocabulary is not lost.
    assert clusters.assign(vocab.transform(texts[:20])) == labels[:20]


def test_psi_of_equal_counts_is_zero_and_grows_with_the_shift() -> None:
    a = np.array([100.0, 200.0, 300.0])
    assert psi(a, a * 2) == pytest.approx(0.0, abs=1e-5)
    assert 0 < psi(a, np.array([120.0, 200.0, 280.0])) < psi(a, np.array([200.0, 200.0, 200.0]))


def test_categorical_detector_alarms_on_a_moved_share_and_stays_quiet_otherwise() -> None:
    rng = np.random.default_rng(3)
    cats = np.array(["a", "b", "c", "d"])
    ref = rng.choice(cats, size=2000, p=[0.4, 0.3, 0.2, 0.1])
    quiet = CategoricalDrift("x")
    quiet.fit(list(ref))
    for _ in range(80):
        assert quiet.update(list(rng.choice(cats, size=50, p=[0.4, 0.3, 0.2, 0.1]))) is None
    assert not quiet.evaluate().alarm
    moved = CategoricalDrift("x")
    moved.fit(list(ref))
    at = None
    for _ in range(20):
        at = at or moved.update(list(rng.choice(cats, size=50, p=[0.3, 0.25, 0.2, 0.25])))
    state = moved.evaluate()
    assert at is not None and at <= 500 and state.alarm
    assert state.top_changes[0][0] == "d" and state.psi > 0.05 and state.chi2_p < 1e-3
    assert moved.update(["never-seen"] * 10) is None  # already alarmed; unknown → (other)


def test_numeric_detector_sees_a_mean_shift_and_reports_ks() -> None:
    rng = np.random.default_rng(5)
    det = NumericDrift("len")
    det.fit(rng.lognormal(4.5, 0.6, size=2000))
    assert det.update(rng.lognormal(4.5, 0.6, size=1000)) is None
    at = det.update(rng.lognormal(4.5 + 0.6 * 0.5, 0.6, size=500))
    state = det.evaluate()
    assert at is not None and 1000 < at <= 1500
    assert state.ks_p is not None and state.ks_p < 1e-4 and state.kind == "numeric"


def test_a_constant_feature_raises_no_alarm_until_it_changes() -> None:
    """A bot that always answers "ok" alarmed on "spread down" at every seed."""
    det = NumericDrift("len")
    det.fit(np.full(500, 17.0))
    assert det.update(np.full(5000, 17.0)) is None
    assert det.update(np.full(200, 40.0)) is not None  # a real change still alarms


def test_rate_alarm_fires_on_a_jump_only() -> None:
    rng = np.random.default_rng(9)
    alarm = RateAlarm("block", reference=1000)
    assert not alarm.update(rng.random(1000) < 0.03)
    quiet = [alarm.update(rng.random(100) < 0.03) for _ in range(40)]
    assert not any(quiet) and not alarm.state.alarm
    fired = [alarm.update(rng.random(100) < 0.15) for _ in range(5)]
    assert any(fired) and alarm.state.alarm and alarm.state.z >= alarm.limit


def test_monitor_findings_before_and_after_a_shift() -> None:
    stream = synthetic_traffic(2600, seed=21, shift="script", psi=0.4, shift_at=1500)
    monitor = TrafficMonitor(SMALL)
    assert monitor.observe_many(stream.records[:700]) == [] and not monitor.monitoring
    monitor.observe_many(stream.records[700:1500])
    quiet = monitor.findings()
    assert {f.metric for f in quiet} >= {
        "traffic.input_length_psi", "traffic.input_script_psi", "traffic.input_ngrams_psi",
        "traffic.output_length_psi", "traffic.block_rate_z", "traffic.refusal_rate_z",
    }  # fmt: skip
    assert all(f.severity is Severity.INFO for f in quiet), [f for f in quiet if f.severity]
    fresh = []
    for start in range(1500, 2600, 50):
        fresh += monitor.observe_many(stream.records[start : start + 50])
    alarmed = {f.metric for f in fresh}
    assert "traffic.input_script_psi" in alarmed
    first = monitor.alarm_requests["traffic.input_script_psi"]
    assert 1500 < first <= 2000
    finding = next(f for f in monitor.alarms if f.metric == "traffic.input_script_psi")
    assert finding.severity >= Severity.MEDIUM and finding.value >= 0.1
    assert "share of 'cyrillic' up" in finding.evidence[0].note
    for f in monitor.findings():
        assert f.metric in TRAFFIC_METRICS and failure_mode(f.failure_mode)


def test_drift_trial_on_a_stream_without_shift_has_no_drift_alarm() -> None:
    trial = drift_trial(5, None, 0.15, n=2500, config=SMALL)
    assert trial.alarm_at is None and trial.delay is None


def test_drift_trial_measures_the_delay_of_a_length_shift() -> None:
    trial = drift_trial(6, "length", 0.3, n=2600, shift_at=1525, config=SMALL)
    assert trial.metric == "traffic.input_length_psi"
    assert trial.delay is not None and 0 < trial.delay <= 500


def test_embedding_feature_uses_the_given_model() -> None:
    def embed(texts: list[str]) -> np.ndarray:
        return np.array([[len(t), t.count("a"), t.count(" ")] for t in texts], dtype=float)

    stream = synthetic_traffic(900, seed=2)
    config = SMALL.model_copy(update={"features": ["embedding"], "reference": 800})
    monitor = TrafficMonitor(config, embed=embed)
    monitor.observe_many(stream.records)
    assert [f.metric for f in monitor.findings() if f.metric.endswith("_psi")] == [
        "traffic.input_embedding_psi", "traffic.output_embedding_psi",
    ]  # fmt: skip
    without = TrafficMonitor(config)  # no model: the feature is skipped, not an error
    without.observe_many(stream.records)
    assert not [f for f in without.findings() if f.metric.endswith("_psi")]


def test_action_records_feed_only_the_action_rates() -> None:
    monitor = TrafficMonitor(SMALL)
    records = [TrafficRecord("bash", kind="action", blocked=i % 10 == 0) for i in range(500)]
    monitor.observe_many(records)
    assert not monitor.monitoring and monitor.rates["action_block"].ready
    assert not monitor.rates["block"].ready


def test_bad_config_is_one_line() -> None:
    with pytest.raises(ConfigError) as info:
        TrafficMonitor({"reference": 5})
    assert "greater than or equal to 50" in str(info.value)
    assert "reference" in str(info.value) and "\n" not in str(info.value)


def test_a_drift_reference_of_nothing_is_refused() -> None:
    """An empty reference reported "reference 1, psi 0" for anything that came after."""
    from alignkit.core import ConfigError
    from alignkit.monitor import CategoricalDrift, NumericDrift

    with pytest.raises(ConfigError, match="at least one value"):
        CategoricalDrift("c").fit([])
    with pytest.raises(ConfigError, match="at least one value"):
        NumericDrift("n").fit(np.array([]))
    with pytest.raises(ConfigError, match="all finite"):
        NumericDrift("n").fit(np.array([1.0, float("nan")]))


def test_all_answers_getting_longer_than_a_templated_reference_is_drift() -> None:
    """A constant reference put every longer value in its own top bin: PSI 0.007, "low",
    for a complete shift (the shorter shift rated high)."""
    from alignkit.monitor import NumericDrift

    for new in (6.0, 4.0):
        drift = NumericDrift("length")
        drift.fit(np.full(1000, 5.0))
        drift.update(np.full(500, new))
        assert drift.evaluate().psi > 1.0, new


@pytest.mark.parametrize(
    "settings",
    [{"design_psi": 3}, {"window": 10**9}, {"threshold": float("inf")}, {"seed": -1}],
)
def test_traffic_settings_the_monitor_cannot_use_are_refused(settings: dict[str, float]) -> None:
    """design_psi 3 and window 1e9 passed the schema, then failed at start (exit 3); an
    infinite threshold turned drift alarms off without a word."""
    with pytest.raises(ConfigError, match="invalid traffic monitor config"):
        TrafficMonitor(settings)


def test_an_alarm_names_the_request_where_it_fired_not_the_batch_end() -> None:
    """One batch of 150 + 500 requests: the script alarm said "request 650"."""
    monitor = TrafficMonitor({"reference": 100, "window": 50, "every": 10, "rate_reference": 50})
    english = [TrafficRecord(input=f"please help with question {i % 50:02d}") for i in range(150)]
    russian = [TrafficRecord(input=f"пожалуйста помогите с вопросом {i:03d}") for i in range(500)]
    monitor.observe_many(english + russian)
    at = monitor.alarm_requests["traffic.input_script_psi"]
    assert 150 < at <= 200, at
