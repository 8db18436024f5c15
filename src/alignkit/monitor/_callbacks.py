"""Training-loop callbacks that feed a :class:`GoodhartMonitor` and warn or stop.

stable-baselines3 and transformers are imported inside the factories, so importing
:mod:`alignkit.monitor` stays light; a missing one raises
:class:`~alignkit.core.MissingDependencyError` naming the extra to install.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Callable, Mapping
from typing import Any, Literal

from alignkit.core import ConfigError, MissingDependencyError
from alignkit.monitor._monitor import GoodhartMonitor, MonitorState, as_finite

__all__ = ["Action", "sb3_callback", "trainer_callback"]

_log = logging.getLogger(__name__)

Action = Literal["warn", "stop"]


def _check_action(action: str) -> None:
    if action not in ("warn", "stop"):
        raise ConfigError(f"action must be 'warn' or 'stop', not {action!r}")


class _Alarm:
    """Turns the monitor's state into at most one warning per new state."""

    def __init__(self, monitor: GoodhartMonitor, action: Action) -> None:
        self.monitor, self.action = monitor, action
        self.reported = MonitorState.OK

    def should_stop(self) -> bool:
        status = self.monitor.status
        if status.state.rank > self.reported.rank:
            self.reported = status.state
            _log.warning("GoodhartMonitor: %s", status.describe())
        return self.action == "stop" and status.state is MonitorState.OVEROPTIMISED


def sb3_callback(
    monitor: GoodhartMonitor,
    *,
    action: Action = "warn",
    intent_fn: Callable[[int], Mapping[str, float]] | None = None,
    every: int = 1000,
) -> Any:
    """A stable-baselines3 ``BaseCallback`` that feeds ``monitor`` during ``model.learn``.

    The proxy is each finished episode's return (``info["episode"]["r"]``, as written
    by SB3's ``Monitor`` wrapper); intent metrics are read from the same ``info`` dicts
    when the environment reports them under the monitor's intent names. With several
    environments, the values that arrive on one call share a step and are fed as their
    mean. ``intent_fn(num_timesteps)``, when given, is called at the first step at or past
    each multiple of ``every`` (e.g. an evaluation of the true objective; with several
    environments the step count moves by their number per call).

    Args:
        monitor: The monitor to feed.
        action: ``"warn"`` logs a warning when the state worsens; ``"stop"`` also ends
            training once the monitor says ``overoptimised``.
        intent_fn: Optional function of the step returning intent metric values.
        every: Steps between calls of ``intent_fn`` (a positive whole number).

    Returns:
        A ``stable_baselines3.common.callbacks.BaseCallback`` instance.

    Raises:
        ConfigError: ``action`` or ``every`` is not valid.
        MissingDependencyError: If stable-baselines3 is not installed.
    """
    _check_action(action)
    if isinstance(every, bool) or not isinstance(every, numbers.Integral) or every < 1:
        raise ConfigError(f"every must be a positive whole number of steps, not {every!r}")
    every = int(every)
    try:
        from stable_baselines3.common.callbacks import BaseCallback
    except ImportError as exc:
        raise MissingDependencyError("stable-baselines3", "rl") from exc

    alarm = _Alarm(monitor, action)

    class GoodhartCallback(BaseCallback):  # type: ignore[misc,unused-ignore]
        """Feeds episode returns and reported intent metrics to a GoodhartMonitor."""

        intent_due = every

        def _on_step(self) -> bool:
            step = int(self.num_timesteps)
            seen: dict[str, list[float]] = {}
            for info in self.locals.get("infos", []) or []:
                metrics: dict[str, object] = {k: v for k, v in info.items() if k in monitor.intent}
                episode = info.get("episode")
                if isinstance(episode, Mapping) and "r" in episode:
                    metrics[monitor.proxy] = episode["r"]
                for name, raw in metrics.items():
                    if (value := as_finite(raw)) is not None:
                        seen.setdefault(name, []).append(value)
            if seen:  # one value per step: several at one step would overwrite each other
                monitor.observe_mapping(step, {k: sum(v) / len(v) for k, v in seen.items()})
            fed = bool(seen)
            if intent_fn is not None and step >= self.intent_due:
                self.intent_due = (step // every + 1) * every
                monitor.observe_mapping(step, dict(intent_fn(step)))
                fed = True
            return not (fed and alarm.should_stop())

    return GoodhartCallback()


def trainer_callback(monitor: GoodhartMonitor, *, action: Action = "warn") -> Any:
    """A transformers/TRL ``TrainerCallback`` that feeds ``monitor`` from the trainer's logs.

    Every ``on_log`` and ``on_evaluate`` dict is passed to the monitor at
    ``state.global_step``, each value once (``Trainer.evaluate`` sends its metrics to
    both hooks); name the monitor's metrics as the trainer logs them (for example
    ``GoodhartMonitor(proxy="reward", intent=["eval_gold"])``).

    Args:
        monitor: The monitor to feed.
        action: ``"warn"`` or ``"stop"`` (sets ``control.should_training_stop``).

    Returns:
        A ``transformers.TrainerCallback`` instance.

    Raises:
        MissingDependencyError: If transformers is not installed.
    """
    _check_action(action)
    try:
        from transformers import TrainerCallback
    except ImportError as exc:
        raise MissingDependencyError("transformers", "lm") from exc

    alarm = _Alarm(monitor, action)

    class GoodhartTrainerCallback(TrainerCallback):  # type: ignore[misc,unused-ignore]
        """Feeds logged metrics to a GoodhartMonitor; warns or stops training."""

        logged: tuple[int, dict[str, object]] = (-1, {})

        def _feed(self, state: Any, control: Any, metrics: Mapping[str, object] | None) -> Any:
            if metrics:
                monitor.observe_mapping(int(state.global_step), metrics)
                if alarm.should_stop():
                    control.should_training_stop = True
            return control

        def on_log(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            logs = kwargs.get("logs")
            self.logged = (int(state.global_step), dict(logs or {}))
            return self._feed(state, control, logs)

        def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            metrics = kwargs.get("metrics") or {}
            step, seen = self.logged
            if step == int(state.global_step) and all(seen.get(k) == v for k, v in metrics.items()):
                return control  # already fed through on_log (Trainer.evaluate logs first)
            return self._feed(state, control, metrics)

    return GoodhartTrainerCallback()
