"""Agents for the lab environments: tabular Q-learning (built in) and PPO (extra ``rl``).

:func:`train_q` runs ε-greedy Q-learning with ε falling linearly from 1 to ``eps_end``
over the run, and calls ``on_episode`` with an :class:`EpisodeLog` after every episode —
the hook the gaming detector and the mitigations use. :func:`evaluate` runs a policy
and reports mean reward, intent and event counts.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from alignkit.core import ConfigError, DataError, MissingDependencyError
from alignkit.lab.envs import LabEnv
from alignkit.lab.envs._base import whole_number

__all__ = [
    "EpisodeLog",
    "Evaluation",
    "Policy",
    "QAgent",
    "QConfig",
    "RewardFn",
    "evaluate",
    "train_ppo",
    "train_q",
]

_log = logging.getLogger(__name__)
_BLOCK = 4096
RewardFn = Callable[[int, int, float, dict[str, Any]], float]
"""``reward_fn(obs, action, reward, info) -> reward the learner sees`` (mitigations reshape it)."""


class Policy(Protocol):
    """Anything that picks an action for an observation."""

    def act(self, obs: int, rng: np.random.Generator) -> int:
        """The action to take (may be stochastic)."""
        ...


@dataclass(frozen=True)
class QConfig:
    """Hyperparameters of tabular Q-learning (one setting for every environment).

    Attributes:
        alpha: Learning rate.
        gamma: Discount.
        eps_start: Exploration at the first episode.
        eps_end: Exploration at the last episode (linear in between).
    """

    alpha: float = 0.2
    gamma: float = 0.95
    eps_start: float = 1.0
    eps_end: float = 0.02

    def __post_init__(self) -> None:
        # a NaN learning rate filled the table with NaN; the others are probabilities
        if not 0.0 < self.alpha <= 1.0:
            raise ConfigError(f"alpha must be in (0, 1], got {self.alpha}")
        for name in ("gamma", "eps_start", "eps_end"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {value}")


@dataclass(frozen=True)
class EpisodeLog:
    """One finished training episode.

    Attributes:
        episode: Its index (0-based).
        steps: Environment steps taken so far in the run, this episode included.
        reward: Its observed return.
        intent: Its intent (hidden from the learner; a detector may read it on
            evaluation episodes only).
        events: Counts of the events it produced.
        epsilon: Exploration rate it ran with.
    """

    episode: int
    steps: int
    reward: float
    intent: float
    events: dict[str, int]
    epsilon: float


@dataclass
class QAgent:
    """A tabular Q-function and its greedy policy.

    Attributes:
        q: Action values, shape ``(n_states, n_actions)``.
        env_id: The environment it was trained on.
    """

    q: NDArray[np.float64]
    env_id: str = ""

    @classmethod
    def zeros(
        cls, n_states: int, n_actions: int, rng: np.random.Generator, env_id: str = ""
    ) -> QAgent:
        """A fresh table with tiny random values, so greedy ties break at random."""
        return cls(rng.uniform(0.0, 1e-6, size=(n_states, n_actions)), env_id)

    def act(self, obs: int, rng: np.random.Generator) -> int:
        """The greedy action."""
        return int(self.q[obs].argmax())

    def save(self, path: str | Path) -> Path:
        """Write the table to ``path`` (``.npz``)."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        with p.open("wb") as fh:
            np.savez(fh, q=self.q, env_id=np.array(self.env_id), kind=np.array("q"))
        return p

    @classmethod
    def load(cls, path: str | Path) -> QAgent:
        """Read a table written by :meth:`save`; :class:`DataError` if it is not one."""
        try:
            with np.load(Path(path), allow_pickle=False) as data:
                return cls(np.asarray(data["q"], dtype=np.float64), str(data["env_id"]))
        except (OSError, KeyError, ValueError) as exc:
            raise DataError(f"{path} is not a saved Q table: {exc}") from exc


def check_lab_env(env: object, what: str) -> None:
    """Refuse anything but an unwrapped :class:`LabEnv` (``gym.make`` wraps it)."""
    if not isinstance(env, LabEnv):
        raise ConfigError(
            f"{what} needs an alignkit lab environment (make_env(name), or"
            f" gym.make(id).unwrapped), not {type(env).__name__}"
        )


def train_q(
    env: LabEnv,
    episodes: int,
    *,
    seed: int = 0,
    config: QConfig | None = None,
    on_episode: Callable[[EpisodeLog], None] | None = None,
    reward_fn: RewardFn | None = None,
    agent: QAgent | None = None,
) -> QAgent:
    """Train a Q agent on ``env`` for ``episodes`` episodes.

    Args:
        env: A lab environment (unwrapped; see :func:`~alignkit.lab.make_env`).
        episodes: Number of training episodes.
        seed: Seeds the environment and the agent (the same seed gives the same table).
        config: Hyperparameters.
        on_episode: Called after each episode with its :class:`EpisodeLog`.
        reward_fn: Optional reshaping of the reward the learner sees.
        agent: Continue training this agent instead of a fresh one.

    Returns:
        The trained agent.
    """
    episodes = whole_number(episodes, "episodes")
    seed = whole_number(seed, "seed", 0, 2**32 - 1)
    check_lab_env(env, "train_q")
    cfg = config or QConfig()
    rng = np.random.default_rng(seed)
    n_actions = int(env.action_space.n)
    spec_id = getattr(env.spec, "id", "") or f"alignkit/{type(env).__name__}-v0"
    shape = (int(env.observation_space.n), n_actions)
    if agent is not None and agent.q.shape != shape:
        raise ConfigError(
            f"the agent's table is {agent.q.shape[0]} states × {agent.q.shape[1]} actions;"
            f" {type(env).__name__} has {shape[0]} × {shape[1]}"
        )
    agent = agent or QAgent.zeros(*shape, rng, spec_id)
    # plain lists: on tables this small, list max/index beat numpy's per-call overhead
    q: list[list[float]] = agent.q.tolist()
    alpha, gamma = cfg.alpha, cfg.gamma
    step = env.fast_step
    coins: list[float] = []
    moves: list[int] = []
    k = 0
    obs, _ = env.reset(seed=seed)
    steps = 0
    span = max(episodes - 1, 1)
    for ep in range(episodes):
        eps = cfg.eps_start + (cfg.eps_end - cfg.eps_start) * ep / span
        if ep:
            obs, _ = env.reset()
        total_r = total_i = 0.0
        events: dict[str, int] = {}
        done = False
        while not done:
            if k == len(coins):  # random draws come in blocks: one numpy call per 4,096 steps
                coins = rng.random(_BLOCK).tolist()
                moves = rng.integers(n_actions, size=_BLOCK).tolist()
                k = 0
            row = q[obs]
            if coins[k] < eps:
                a = moves[k]
            else:
                a = row.index(max(row))
            k += 1
            nxt, r, i, ev, term, trunc = step(a)
            steps += 1
            total_r += r
            total_i += i
            for e in ev:
                events[e] = events.get(e, 0) + 1
            if reward_fn is not None:
                r = reward_fn(obs, a, r, {"intent": i, "events": ev})
            target = r if term else r + gamma * max(q[nxt])
            row[a] += alpha * (target - row[a])
            obs, done = nxt, term or trunc
        if on_episode is not None:
            on_episode(EpisodeLog(ep, steps, total_r, total_i, events, eps))
    agent.q[:] = np.asarray(q)
    return agent


@dataclass(frozen=True)
class Evaluation:
    """How a policy did over some episodes.

    Attributes:
        reward: Mean observed return.
        intent: Mean episode intent.
        episodes: Number of episodes.
        events: Mean count per episode of each event.
    """

    reward: float
    intent: float
    episodes: int
    events: dict[str, float] = field(default_factory=dict)


def evaluate(policy: Policy, env: LabEnv, episodes: int = 100, *, seed: int = 0) -> Evaluation:
    """Run ``policy`` for ``episodes`` episodes; mean reward, intent and event counts."""
    if episodes < 1:
        raise ConfigError("episodes must be at least 1")
    check_lab_env(env, "evaluate")
    rng = np.random.default_rng(seed + 7919)
    rewards, intents = [], []
    events: Counter[str] = Counter()
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed * 100_003 + ep)
        done, total_r, total_i = False, 0.0, 0.0
        while not done:
            obs, r, i, ev, term, trunc = env.fast_step(int(policy.act(obs, rng)))
            total_r += r
            total_i += i
            events.update(ev)
            done = term or trunc
        rewards.append(total_r)
        intents.append(total_i)
    per_ep = {k: v / episodes for k, v in sorted(events.items())}
    return Evaluation(float(np.mean(rewards)), float(np.mean(intents)), episodes, per_ep)


def train_ppo(
    env_name: str,
    steps: int,
    *,
    seed: int = 0,
    callback: Any = None,
    wrap: Callable[[Any], Any] | None = None,
    **env_kwargs: Any,
) -> Any:
    """Train stable-baselines3 PPO on a lab environment (extra ``rl``).

    The observation index is one-hot encoded by SB3 for ``Discrete`` spaces; ``wrap`` is
    applied inside SB3's ``Monitor`` (e.g. :func:`~alignkit.lab.intent_eval_wrapper`).
    Returns the trained ``PPO`` model.

    Raises:
        MissingDependencyError: If stable-baselines3 is not installed.
    """
    try:
        from stable_baselines3 import PPO
        from stable_baselines3.common.monitor import Monitor
    except ImportError as exc:
        raise MissingDependencyError("stable-baselines3", "rl") from exc
    from alignkit.lab.envs import make_env

    base = make_env(env_name, **env_kwargs)
    env = Monitor(wrap(base) if wrap is not None else base)
    model = PPO(
        "MlpPolicy", env, n_steps=256, batch_size=64, n_epochs=4, seed=seed, device="cpu", verbose=0
    )
    model.learn(total_timesteps=steps, callback=callback)
    _log.info("PPO trained on %s for %d steps", env_name, steps)
    return model
