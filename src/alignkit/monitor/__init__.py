"""Statistics over streams: training logs (is the proxy still serving the intent?) and traffic.

:class:`GoodhartMonitor` takes a dense proxy metric and sparse, late, noisy intent
metrics and says ``ok``, ``diverging`` or ``overoptimised``; :func:`sb3_callback` and
:func:`trainer_callback` put it inside stable-baselines3 and transformers/TRL training
loops; :func:`check_log` runs it over any CSV/JSONL log. The simulated runs used to
measure it are in :func:`simulate_run` and :func:`score_detector`.

:class:`TrafficMonitor` watches a stream of requests (the guard feeds it) for drift of
inputs and outputs against a reference window — length, script, n-grams, embeddings —
and for anomalies in refusal, block, escalation and error rates, and returns Findings.
:func:`synthetic_traffic` and :func:`drift_trial` measure it on streams with a known shift.
"""

from alignkit.monitor._anomaly import RateAlarm, RateState
from alignkit.monitor._callbacks import Action, sb3_callback, trainer_callback
from alignkit.monitor._drift import CategoricalDrift, DriftState, NumericDrift, psi
from alignkit.monitor._logs import LogCheck, check_log, read_log
from alignkit.monitor._metrics import METRICS
from alignkit.monitor._monitor import GoodhartMonitor, IntentStatus, MonitorState, MonitorStatus
from alignkit.monitor._simulate import (
    SHAPES,
    DetectorScore,
    SimulatedRun,
    monitor_rule,
    rolling_max_rule,
    score_detector,
    simulate_run,
)
from alignkit.monitor._traffic import (
    TRAFFIC_CHECK,
    TRAFFIC_METRICS,
    TrafficConfig,
    TrafficMonitor,
    TrafficRecord,
)
from alignkit.monitor._traffic_features import SCRIPTS, dominant_script
from alignkit.monitor._traffic_sim import (
    SHIFT_KINDS,
    DriftTrial,
    TrafficStream,
    drift_trial,
    synthetic_traffic,
)

__all__ = [
    "METRICS",
    "SCRIPTS",
    "SHAPES",
    "SHIFT_KINDS",
    "TRAFFIC_CHECK",
    "TRAFFIC_METRICS",
    "Action",
    "CategoricalDrift",
    "DetectorScore",
    "DriftState",
    "DriftTrial",
    "GoodhartMonitor",
    "IntentStatus",
    "LogCheck",
    "MonitorState",
    "MonitorStatus",
    "NumericDrift",
    "RateAlarm",
    "RateState",
    "SimulatedRun",
    "TrafficConfig",
    "TrafficMonitor",
    "TrafficRecord",
    "TrafficStream",
    "check_log",
    "dominant_script",
    "drift_trial",
    "monitor_rule",
    "psi",
    "read_log",
    "rolling_max_rule",
    "sb3_callback",
    "score_detector",
    "simulate_run",
    "synthetic_traffic",
    "trainer_callback",
]
