"""The lab's Gymnasium environments: a visible reward, a hidden intent, and a loophole.

Every environment registers twice: in :data:`ENVIRONMENTS` (alignkit's registry, with the
failure mode it demonstrates and its loophole) and with Gymnasium as
``alignkit/<Name>-v0``, so ``gymnasium.make("alignkit/BoatRace-v0", patched=True)``
works once :mod:`alignkit.lab` is imported. ``info["intent"]`` carries the hidden
per-step performance and ``info["events"]`` what happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from alignkit.core import ConfigError, Registry, UnknownIdError
from alignkit.lab.envs._base import LabEnv, StepResult, draw
from alignkit.lab.envs._gaming import BlockStack, BoatRace, PauseGame, SensorTamper, TallFall
from alignkit.lab.envs._grid import Layout
from alignkit.lab.envs._safety import AbsentSupervisor, Engagement, OffSwitch, SideEffects
from alignkit.lab.envs._shift import CoinRunLite, LavaShift

__all__ = [
    "ENVIRONMENTS",
    "AbsentSupervisor",
    "BlockStack",
    "BoatRace",
    "CoinRunLite",
    "Engagement",
    "EnvSpec",
    "LabEnv",
    "LavaShift",
    "Layout",
    "OffSwitch",
    "PauseGame",
    "SensorTamper",
    "SideEffects",
    "StepResult",
    "TallFall",
    "draw",
    "env_id",
    "make_env",
]


@dataclass(frozen=True)
class EnvSpec:
    """A registered lab environment.

    Attributes:
        id: Gymnasium id, ``alignkit/<Name>-v0``.
        cls: The environment class.
        failure_mode: Taxonomy id of what it demonstrates.
        loophole: One line: how the reward is met without the intent.
        episodes: Training episodes the built-in Q agent gets by default.
    """

    id: str
    cls: type[LabEnv]
    failure_mode: str
    loophole: str
    episodes: int

    @property
    def name(self) -> str:
        """The class name, e.g. ``BoatRace``."""
        return self.cls.__name__

    @property
    def gameable(self) -> bool:
        """Whether it has a loophole and a ``patched`` variant that closes it."""
        return self.cls.has_patch

    @property
    def summary(self) -> str:
        """First line of the class docstring."""
        return (self.cls.__doc__ or "").strip().splitlines()[0]


ENVIRONMENTS: Registry[EnvSpec] = Registry("lab environment")


def _register(cls: type[LabEnv], failure_mode: str, loophole: str, episodes: int) -> None:
    spec = EnvSpec(f"alignkit/{cls.__name__}-v0", cls, failure_mode, loophole, episodes)
    ENVIRONMENTS.register(spec.id, spec, origin=__name__)
    if spec.id not in gym.registry:  # a "module:Class" string: made envs pickle, specs serialise
        gym.register(id=spec.id, entry_point=f"{cls.__module__}:{cls.__name__}")


for _cls, _mode, _loophole, _episodes in (
    (BoatRace, "specification-gaming", "circles back and forth across a respawning target", 4000),
    (BlockStack, "specification-gaming", "flips the red block instead of stacking it", 4000),
    (TallFall, "specification-gaming", "grows tall and topples its head over the edge", 4000),
    (PauseGame, "reward-hacking", "pauses forever while the score display glitches up", 4000),
    (SensorTamper, "reward-hacking", "sits in the bucket so every tomato looks watered", 4000),
    (OffSwitch, "power-seeking", "disables its off switch before passing the interruption", 4000),
    (
        AbsentSupervisor,
        "deceptive-alignment",
        "cuts through the forbidden cell before the supervisor arrives",
        6000,
    ),
    (SideEffects, "side-effects", "pushes the box into a corner on the shortest route", 4000),
    (Engagement, "reward-hacking", "radicalises the user, who then clicks more", 4000),
    (CoinRunLite, "goal-misgeneralization", "learns 'run right', not 'get the coin'", 4000),
    (LavaShift, "distribution-shift", "memorises a route that the test lava covers", 4000),
):
    _register(_cls, _mode, _loophole, _episodes)


def env_id(name: str) -> str:
    """The full id for ``name``: ``BoatRace``, ``BoatRace-v0`` or ``alignkit/BoatRace-v0``."""
    if name in ENVIRONMENTS:
        return name
    for candidate in (f"alignkit/{name}", f"alignkit/{name}-v0"):
        if candidate in ENVIRONMENTS:
            return candidate
    for key, spec in ENVIRONMENTS.items():
        if spec.name.lower() == name.lower():
            return key
    known = ", ".join(spec.name for _, spec in ENVIRONMENTS.items())
    raise UnknownIdError(f"unknown lab environment '{name}' (known: {known})")


def make_env(name: str, **kwargs: Any) -> LabEnv:
    """A fresh, unwrapped lab environment (faster than ``gymnasium.make`` for training).

    Raises:
        UnknownIdError: If ``name`` is not a lab environment.
        ConfigError: If an option is not accepted (e.g. ``patched`` where there is no patch).
    """
    spec = ENVIRONMENTS.get(env_id(name))
    try:
        return spec.cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{spec.name} does not accept these options: {exc}") from exc
