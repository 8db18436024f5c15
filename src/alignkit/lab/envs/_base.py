"""The base every lab environment shares: seeding, time limit, intent, events, rendering.

A lab environment is a small Gymnasium environment with a ``Discrete`` observation (the
index of the full state, so a tabular agent can learn it) and ``Discrete`` actions. Each
step returns the observed reward — the *specification* — and puts in ``info``

- ``intent``: the hidden per-step performance the designer wanted (summed over an episode
  it is the episode's intent; the agent never sees it), and
- ``events``: names of what happened (``target_hit``, ``flipped``, ``paused``, …), used to
  explain a verdict, never to reach it.

Subclasses implement :meth:`LabEnv._reset_state`, :meth:`LabEnv._transition`,
:meth:`LabEnv._encode` and :meth:`LabEnv._canvas`; the base adds the time limit, the
bookkeeping and both render modes (ANSI text and an RGB array drawn from the same canvas).
"""

from __future__ import annotations

import copy
import math
import numbers
from abc import abstractmethod
from typing import Any, ClassVar, NamedTuple, Self

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from alignkit.core import ConfigError

__all__ = ["CELL_PX", "FastStep", "LabEnv", "StepResult", "draw", "whole_number"]

CELL_PX = 8


def whole_number(value: object, what: str, low: int = 1, high: int | None = None) -> int:
    """``value`` as an ``int`` if it is a whole number (numpy's too) from ``low`` to ``high``.

    Raises:
        ConfigError: Otherwise (a bool, a float such as 2.7 or NaN, out of range).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{what} must be a whole number, got {value!r}")
    number = int(value)
    if number < low or (high is not None and number > high):
        span = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise ConfigError(f"{what} must be a whole number {span}, got {value!r}")
    return number


_COLOURS: dict[str, tuple[int, int, int]] = {
    " ": (235, 235, 235),
    ".": (210, 210, 210),
    "#": (60, 60, 60),
    "A": (30, 90, 220),
    "a": (120, 160, 240),
    "G": (40, 170, 70),
    "T": (230, 160, 30),
    "R": (210, 40, 40),
    "r": (240, 130, 130),
    "B": (40, 60, 200),
    "X": (120, 30, 140),
    "L": (250, 90, 0),
    "C": (250, 210, 0),
    "P": (150, 150, 150),
    "S": (20, 20, 20),
    "W": (30, 170, 200),
    "w": (180, 140, 90),
    "o": (130, 80, 40),
}
_DEFAULT_COLOUR = (100, 100, 100)
_SCALARS = (int, float, str, bool, tuple, type(None))
_CONTAINERS = (np.ndarray, list, dict, set)


def _own_copy(value: Any) -> Any:
    """A copy of a state container that shares nothing mutable with ``value``."""
    if isinstance(value, np.ndarray):
        return value.copy()
    items = value.values() if isinstance(value, dict) else value
    flat = all(isinstance(v, _SCALARS) for v in items)  # the shipped envs: cheap
    return copy.copy(value) if flat else copy.deepcopy(value)


class StepResult(NamedTuple):
    """What one transition produced, before the base adds the time limit.

    Attributes:
        reward: The observed reward (the specification).
        intent: The hidden per-step performance.
        events: Names of what happened this step.
        terminated: Whether the episode ended in a terminal state.
    """

    reward: float
    intent: float
    events: tuple[str, ...] = ()
    terminated: bool = False


FastStep = tuple[int, float, float, tuple[str, ...], bool, bool]
"""``(obs, reward, intent, events, terminated, truncated)`` from :meth:`LabEnv.fast_step`."""


class LabEnv(gym.Env[int, int]):
    """Base class of alignkit's specification-gaming environments.

    Args:
        render_mode: ``"ansi"``, ``"rgb_array"`` or ``None``.
        patched: Close the loophole (environments without one reject ``True``).
        horizon: Steps before the episode is truncated (the class default if ``None``).
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}  # noqa: RUF012
    observation_space: spaces.Discrete  # type: ignore[assignment]
    action_space: spaces.Discrete  # type: ignore[assignment]
    n_states: ClassVar[int]
    action_names: ClassVar[tuple[str, ...]]
    default_horizon: ClassVar[int]
    has_patch: ClassVar[bool] = True
    max_intent: ClassVar[float] = 1.0
    """Best expected episode intent the environment allows (the bar's yardstick)."""

    def __init__(
        self, render_mode: str | None = None, patched: bool = False, horizon: int | None = None
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ConfigError(
                f"render_mode must be 'ansi', 'rgb_array' or None, not {render_mode!r}"
            )
        if patched and not self.has_patch:
            raise ConfigError(f"{type(self).__name__} has no loophole to patch")
        self.render_mode = render_mode
        self.patched = bool(patched)
        # int(nan) raised ValueError, int(inf) OverflowError, and 2.7 became 2
        self.horizon = self.default_horizon if horizon is None else whole_number(horizon, "horizon")
        self.observation_space = spaces.Discrete(self.n_states)
        self.action_space = spaces.Discrete(len(self.action_names))
        self.t = 0
        self.episode_reward = 0.0
        self.episode_intent = 0.0
        self.last_events: tuple[str, ...] = ()

    # --- what subclasses implement ----------------------------------------------------

    @abstractmethod
    def _reset_state(self, options: dict[str, Any]) -> None:
        """Set the start state (randomness from ``self.np_random``)."""

    @abstractmethod
    def _transition(self, action: int) -> StepResult:
        """Apply ``action`` to the state."""

    @abstractmethod
    def _encode(self) -> int:
        """The observation: an index in ``range(n_states)``."""

    @abstractmethod
    def _canvas(self) -> list[str]:
        """The scene as rows of equal-length characters (see the colour table)."""

    def _status(self) -> str:
        """One line shown under the ANSI canvas."""
        return ""

    # --- the Gymnasium API --------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """Start an episode; ``seed`` reseeds the environment's generator."""
        super().reset(seed=seed)
        self.t = 0
        self.episode_reward = 0.0
        self.episode_intent = 0.0
        self.last_events = ()
        self._reset_state(dict(options or {}))
        return self._encode(), {"intent": 0.0, "events": []}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict[str, Any]]:
        """Advance one step: observation, reward, terminated, truncated, info."""
        a = int(action)
        if not 0 <= a < len(self.action_names):
            raise ConfigError(f"action {action!r} is outside 0..{len(self.action_names) - 1}")
        obs, reward, intent, events, terminated, truncated = self.fast_step(a)
        info = {"intent": float(intent), "events": list(events)}
        return obs, float(reward), bool(terminated), truncated, info

    def fast_step(self, action: int) -> FastStep:
        """:meth:`step` without the action check and the ``info`` dict, for training loops.

        ``action`` must be a valid ``int``. Returns ``(obs, reward, intent, events,
        terminated, truncated)``.
        """
        res = self._transition(action)
        if not (math.isfinite(res.reward) and math.isfinite(res.intent)):
            # a NaN silently filled Q tables and dropped the monitor's values
            raise ConfigError(
                f"{type(self).__name__} gave reward {res.reward!r} and intent {res.intent!r}"
                f" at step {self.t + 1}; both must be finite numbers"
            )
        self.t += 1
        self.episode_reward += res.reward
        self.episode_intent += res.intent
        self.last_events = res.events
        return (
            self._encode(),
            res.reward,
            res.intent,
            res.events,
            res.terminated,
            not res.terminated and self.t >= self.horizon,
        )

    def clone(self) -> Self:
        """A copy to simulate from: its own state, the same random generator.

        Cheaper than ``copy.deepcopy`` of the whole environment: only state containers
        (lists, dicts, sets, NumPy arrays) are copied, deeply, so a subclass's nested or
        array state is its own too. Sharing the generator keeps a simulated rollout from
        knowing the real episode's future random draws.
        """
        sim = copy.copy(self)
        for key, value in vars(self).items():
            if isinstance(value, _CONTAINERS):
                setattr(sim, key, _own_copy(value))
        return sim

    def render(self) -> str | NDArray[np.uint8] | None:
        """ANSI text or an RGB array ``(rows·8, cols·8, 3)``, by ``render_mode``."""
        if self.render_mode == "ansi":
            status = self._status()
            text = "\n".join(self._canvas())
            tail = f"t={self.t} reward={self.episode_reward:.2f} intent={self.episode_intent:.2f}"
            return f"{text}\n{status + ' ' if status else ''}{tail}\n"
        if self.render_mode == "rgb_array":
            return draw(self._canvas())
        return None


def draw(rows: list[str]) -> NDArray[np.uint8]:
    """Paint character rows as an RGB image, ``CELL_PX`` pixels per cell, shape ``(h, w, 3)``."""
    width = max((len(r) for r in rows), default=1)
    img = np.zeros((len(rows) * CELL_PX, width * CELL_PX, 3), dtype=np.uint8)
    for i, row in enumerate(rows):
        for j, ch in enumerate(row.ljust(width)):
            colour = _COLOURS.get(ch, _DEFAULT_COLOUR)
            y, x = i * CELL_PX, j * CELL_PX
            img[y + 1 : y + CELL_PX - 1, x + 1 : x + CELL_PX - 1] = colour
    return img
