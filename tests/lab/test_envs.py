"""The lab environments: Gymnasium's checker, determinism, rendering, patches, loopholes."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from alignkit import taxonomy
from alignkit.core import ConfigError, UnknownIdError
from alignkit.lab import ENVIRONMENTS, make_env

VARIANTS = [
    (key, patched)
    for key, spec in ENVIRONMENTS.items()
    for patched in ((False, True) if spec.gameable else (False,))
]


def test_registry_holds_the_eleven_environments() -> None:
    names = {spec.name for _, spec in ENVIRONMENTS.items()}
    assert names == {
        "BoatRace", "BlockStack", "TallFall", "PauseGame", "SensorTamper", "OffSwitch",
        "AbsentSupervisor", "SideEffects", "CoinRunLite", "LavaShift", "Engagement",
    }  # fmt: skip
    known = set(taxonomy.ids())
    for key, spec in ENVIRONMENTS.items():
        assert key == f"alignkit/{spec.name}-v0" and key in gym.registry
        assert spec.failure_mode in known and spec.summary and spec.loophole
        assert spec.gameable == (spec.name not in ("CoinRunLite", "LavaShift"))


@pytest.mark.parametrize(("env_id", "patched"), VARIANTS)
def test_check_env_passes(env_id: str, patched: bool) -> None:
    env = gym.make(env_id, patched=patched, render_mode="rgb_array").unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env)


def _rollout(env_id: str, patched: bool, seed: int) -> list[tuple[int, float, float, list[str]]]:
    env = make_env(env_id, patched=patched)
    rng = np.random.default_rng(123)
    obs, _ = env.reset(seed=seed)
    out = []
    for _ in range(60):
        obs, r, term, trunc, info = env.step(int(rng.integers(env.action_space.n)))
        out.append((obs, r, info["intent"], info["events"]))
        if term or trunc:
            obs, _ = env.reset()
    return out


@pytest.mark.parametrize(("env_id", "patched"), VARIANTS)
def test_deterministic_under_seed(env_id: str, patched: bool) -> None:
    assert _rollout(env_id, patched, 5) == _rollout(env_id, patched, 5)


@pytest.mark.parametrize("env_id", ENVIRONMENTS.ids())
def test_renders_ansi_and_rgb(env_id: str) -> None:
    text_env = make_env(env_id, render_mode="ansi")
    text_env.reset(seed=0)
    text = text_env.render()
    assert isinstance(text, str) and "reward=" in text and "intent=" in text
    img_env = make_env(env_id, render_mode="rgb_array")
    img_env.reset(seed=0)
    img = img_env.render()
    assert isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.ndim == 3
    assert img.shape[2] == 3 and img.shape[0] % 8 == 0 and img.std() > 0


def test_patch_is_refused_where_there_is_no_loophole() -> None:
    for name in ("CoinRunLite", "LavaShift"):
        with pytest.raises(ConfigError):
            make_env(name, patched=True)
    with pytest.raises(ConfigError):
        make_env("LavaShift", mode="deploy")
    with pytest.raises(UnknownIdError):
        make_env("BoatRaec")


def _play(name: str, actions: list[int], patched: bool) -> tuple[float, float, list[str]]:
    """Mean reward and intent of an open-loop script over 30 seeds, and its events."""
    env = make_env(name, patched=patched)
    rewards, intents, events = [], [], []
    for seed in range(30):
        env.reset(seed=seed)
        for a in actions:
            _, _, term, trunc, info = env.step(a)
            events += info["events"]
            if term or trunc:
                break
        rewards.append(env.episode_reward)
        intents.append(env.episode_intent)
    return float(np.mean(rewards)), float(np.mean(intents)), events


@pytest.mark.parametrize(
    ("name", "gaming", "honest"),
    [
        ("BoatRace", [1, 1] + [0, 1] * 11, [0] * 24),
        ("BlockStack", [2, 3] + [2] * 8, [1, 1, 2] + [1] * 7),
        ("TallFall", [0] * 8 + [1, 1, 1, 2], [0] * 20),
        ("PauseGame", [3] + [1] * 29, None),
        ("SensorTamper", [1] * 20, [1, 0, 0, 0, 1, 1, 1] * 3),
        ("OffSwitch", [1, 0, 3, 3, 3, 3], [3, 3, 3, 3]),
        ("AbsentSupervisor", [3] * 6, [3] * 4 + [1, 1, 3, 3, 0, 0]),
        ("SideEffects", [3, 1, 3, 3, 3], [1, 3, 1, 3, 3, 0, 3]),
        ("Engagement", [2] * 20, [1] * 20),
    ],
)
def test_the_loophole_pays_more_and_the_patch_closes_it(
    name: str, gaming: list[int], honest: list[int] | None
) -> None:
    g_r, g_i, g_events = _play(name, gaming, patched=False)
    gp_r, _, _ = _play(name, gaming, patched=True)
    assert g_events, "the gaming script produced no events"
    if honest is not None:
        h_r, h_i, _ = _play(name, honest, patched=False)
        hp_r, _, _ = _play(name, honest, patched=True)
        assert g_r > h_r and g_i < h_i  # the letter beats the intent in the gameable env
        assert hp_r > gp_r  # the patch makes the intended behaviour pay more
    else:
        assert g_i == 0 and g_r > 0 and gp_r == 0


def test_a_clone_owns_array_and_nested_state() -> None:
    """A subclass keeping its state in an array or a list of lists: stepping a clone (as
    the quantiliser does to simulate) changed the real episode."""
    from alignkit.lab import LabEnv
    from alignkit.lab.envs import StepResult

    class Garden(LabEnv):
        action_names = ("water", "stay")
        n_states = 8
        default_horizon = 5

        def _reset_state(self, options: dict[str, object]) -> None:
            self.wet = np.zeros(3, dtype=bool)
            self.log: list[list[int]] = [[]]

        def _transition(self, action: int) -> StepResult:
            self.log[0].append(action)
            if action == 0:
                self.wet[:] = True
            return StepResult(1.0, 0.0)

        def _encode(self) -> int:
            return int(self.wet[0]) + 2 * int(self.wet[1]) + 4 * int(self.wet[2])

        def _canvas(self) -> list[str]:
            return ["".join("W" if w else "." for w in self.wet)]

    env = Garden()
    env.reset(seed=0)
    sim = env.clone()
    sim.step(0)
    assert not env.wet.any() and env.log == [[]]
    assert sim.wet.all() and sim.log == [[0]]


def test_non_finite_rewards_and_a_zero_horizon_are_refused() -> None:
    from alignkit.lab import LabEnv
    from alignkit.lab.envs import StepResult

    class Broken(LabEnv):
        action_names = ("go",)
        n_states = 1
        default_horizon = 3

        def _reset_state(self, options: dict[str, object]) -> None:
            pass

        def _transition(self, action: int) -> StepResult:
            return StepResult(1.0, float("nan"))

        def _encode(self) -> int:
            return 0

        def _canvas(self) -> list[str]:
            return ["."]

    env = Broken()
    env.reset(seed=0)
    with pytest.raises(ConfigError, match="intent nan at step 1; both must be finite"):
        env.step(0)
    with pytest.raises(ConfigError, match="horizon must be a whole number of at least 1"):
        make_env("BoatRace", horizon=0)  # was the default horizon
