"""Statistics over training streams: is the proxy still serving the intent?

:class:`GoodhartMonitor` takes a dense proxy metric and sparse, late, noisy intent
metrics and says ``ok``, ``diverging`` or ``overoptimised``; :func:`sb3_callback` and
:func:`trainer_callback` put it inside stable-baselines3 and transformers/TRL training
loops; :func:`check_log` runs it over any CSV/JSONL log. The simulated runs used to
measure it are in :func:`simulate_run` and :func:`score_detector`.
"""

from alignkit.monitor._callbacks import Action, sb3_callback, trainer_callback
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

__all__ = [
    "METRICS",
    "SHAPES",
    "Action",
    "DetectorScore",
    "GoodhartMonitor",
    "IntentStatus",
    "LogCheck",
    "MonitorState",
    "MonitorStatus",
    "SimulatedRun",
    "check_log",
    "monitor_rule",
    "read_log",
    "rolling_max_rule",
    "sb3_callback",
    "score_detector",
    "simulate_run",
    "trainer_callback",
]
