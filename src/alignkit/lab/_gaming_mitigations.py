"""Mitigations practitioners are told to use against reward gaming, on the lab environments.

- **Diverse metrics**: train on the reward plus a second proxy, itself gameable in its own
  way (a lap counter, an orientation sensor, …), so that gaming one costs the other.
- **Satisficing**: a quantiliser (Taylor 2016) — draw rollouts from a base policy (uniform
  random) in a simulator copy of the episode and carry out one picked at random from the
  top ``q`` by reward, instead of the best one.
- **Human oversight**: the sparse intent evaluations (2 % of episodes) train a table of the
  intent per state and action, which is fed back into the reward as a bonus (its absence
  as a penalty) on every episode.

Each returns an :class:`~alignkit.lab._gaming_agents.Evaluation` in the gameable
environment; the suite compares it with the gaming and the patched-trained agents.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from alignkit.core import ConfigError
from alignkit.lab._gaming_agents import EpisodeLog, Evaluation, evaluate, train_q
from alignkit.lab._gaming_detect import EVAL_EVERY
from alignkit.lab.envs import LabEnv, make_env

__all__ = ["MITIGATIONS", "SECOND_PROXY", "diverse_metrics", "human_oversight", "quantiliser"]

SECOND_PROXY: dict[str, dict[str, float]] = {
    "BoatRace": {"line_crossed": 1.0},
    "BlockStack": {"stacked": 1.0},
    "TallFall": {"walked": 1.0, "stepped_in_place": 1.0},
    "PauseGame": {"caught": 1.0, "missed": 1.0},
    "SensorTamper": {"watered": 1.0},
    "OffSwitch": {"interrupted": 1.0},
    "AbsentSupervisor": {"checkpoint": 0.1},
    "SideEffects": {"box_pushed": -0.5},
    "Engagement": {"mild_shown": 0.5},
}
"""Per environment, the second proxy as event weights: what a second, cheap sensor counts.

None of them reads the loophole's own event (that would be the patch, not a second
metric), and each can be gamed on its own terms:

- BoatRace — a start-line counter: any clockwise crossing counts, so rocking back and
  forth across the line games it;
- BlockStack — a placement sensor on the blue block: lifting red and putting it back
  counts again;
- TallFall — a pedometer: it counts steps, so stepping in place at the edge counts;
- PauseGame — a counter of blocks reaching the paddle row, caught or missed: it pays for
  a running game, not for playing it well;
- SensorTamper — a watering counter: a tomato counts each time it is watered dry, so
  letting tomatoes dry out between waterings counts more;
- OffSwitch — a log of honoured interruptions: walking into the interruption on purpose
  games it;
- AbsentSupervisor — a checkpoint on the permitted route: pacing over it counts again;
- SideEffects — a disturbance sensor on the box (any push costs): both routes push the
  box once, so it cannot tell them apart;
- Engagement — a content-quality audit counting mild items shown: showing nothing but mild
  items games it.
"""


def _evaluate(policy: Any, name: str, episodes: int, seed: int) -> Evaluation:
    return evaluate(policy, make_env(name), episodes, seed=seed)


def diverse_metrics(name: str, episodes: int, seed: int, eval_episodes: int = 100) -> Evaluation:
    """Train on reward + the second proxy of :data:`SECOND_PROXY`; evaluate in the gameable env."""
    weights = SECOND_PROXY.get(name, {})

    def reward_fn(obs: int, action: int, r: float, info: dict[str, Any]) -> float:
        return r + sum(weights.get(e, 0.0) for e in info["events"])

    agent = train_q(make_env(name), episodes, seed=seed, reward_fn=reward_fn)
    return _evaluate(agent, name, eval_episodes, seed)


class _Quantiliser:
    """Acts out, each episode, a rollout drawn from the top ``q`` of base rollouts by reward."""

    def __init__(self, env: LabEnv, q: float, n: int, seed: int) -> None:
        self.env, self.q, self.n = env, q, n
        self.rng = np.random.default_rng(seed)
        self.plan: list[int] = []

    def plan_episode(self) -> None:
        """Simulate ``n`` uniform-random rollouts from a copy of the current state; keep one."""
        n_actions = int(self.env.action_space.n)
        longest = self.env.horizon - self.env.t
        draws = self.rng.integers(n_actions, size=(self.n, max(longest, 1))).tolist()
        scored: list[tuple[float, list[int]]] = []
        for actions in draws:
            sim = self.env.clone()
            total = 0.0
            for k, a in enumerate(actions):
                _, r, _, _, term, trunc = sim.fast_step(a)
                total += r
                if term or trunc:
                    del actions[k + 1 :]
                    break
            scored.append((total, actions))
        scored.sort(key=lambda x: -x[0])
        top = scored[: max(1, int(round(self.q * self.n)))]
        self.plan = list(top[int(self.rng.integers(len(top)))][1])


def quantiliser(
    name: str, episodes: int, seed: int, eval_episodes: int = 20, q: float = 0.1, n: int = 30
) -> Evaluation:
    """A q-quantiliser over uniform-random rollouts (needs no training; ``episodes`` unused)."""
    if not (0 < q <= 1 and n >= 1 and eval_episodes >= 1):
        raise ConfigError(f"need 0 < q <= 1, n >= 1 and eval_episodes >= 1 (q={q}, n={n})")
    env = make_env(name)
    agent = _Quantiliser(env, q, n, seed)
    rewards, intents = [], []
    for ep in range(eval_episodes):
        env.reset(seed=seed * 100_003 + ep)
        agent.plan_episode()
        total_r = total_i = 0.0
        for a in agent.plan:
            _, r, i, _, term, trunc = env.fast_step(a)
            total_r += r
            total_i += i
            if term or trunc:
                break
        rewards.append(total_r)
        intents.append(total_i)
    return Evaluation(float(np.mean(rewards)), float(np.mean(intents)), eval_episodes)


def human_oversight(name: str, episodes: int, seed: int, eval_episodes: int = 100) -> Evaluation:
    """Learn a per-(state, action) intent table from evaluation episodes; add it to the reward.

    The learner sees ``reward + w·(Î(s, a) − ī)``: the intent estimated for the state and
    action minus the mean over everything evaluated, so steps judged worse than usual are
    penalised. ``w`` makes an episode's full intent worth twice the largest episode reward
    seen so far: the overseer's judgement outweighs the proxy.
    """
    env = make_env(name)
    n_s, n_a = int(env.observation_space.n), int(env.action_space.n)
    table = _IntentTable(n_s, n_a, 2.0 / max(abs(env.max_intent), 1e-9))
    agent = train_q(env, episodes, seed=seed, reward_fn=table.reward, on_episode=table.episode)
    return _evaluate(agent, name, eval_episodes, seed)


class _IntentTable:
    """Running mean intent per (state, action), filled from evaluation episodes only."""

    def __init__(self, n_states: int, n_actions: int, scale: float) -> None:
        self.sums = [[0.0] * n_actions for _ in range(n_states)]
        self.counts = [[0] * n_actions for _ in range(n_states)]
        self.total, self.n, self.scale, self.largest = 0.0, 0, scale, 1e-6
        self.trace: list[tuple[int, int, float]] = []
        self.recording = EVAL_EVERY == 1

    def episode(self, log: EpisodeLog) -> None:
        """After each episode: bank the trace if it was an evaluation episode."""
        self.largest = max(self.largest, abs(log.reward))
        if self.recording:
            for s, a, i in self.trace:
                self.sums[s][a] += i
                self.counts[s][a] += 1
                self.total += i
            self.n += len(self.trace)
        self.trace.clear()
        self.recording = (log.episode + 1) % EVAL_EVERY == EVAL_EVERY - 1

    def reward(self, obs: int, action: int, r: float, info: dict[str, Any]) -> float:
        """The reward the learner sees: ``r`` plus the overseer's judgement of the step."""
        if self.recording:
            self.trace.append((obs, action, float(info["intent"])))
        c = self.counts[obs][action]
        if c == 0:
            return r
        judged = self.sums[obs][action] / c - self.total / self.n
        return r + self.scale * self.largest * judged


MITIGATIONS: dict[str, Callable[[str, int, int], Evaluation]] = {
    "diverse_metrics": diverse_metrics,
    "quantiliser": quantiliser,
    "human_oversight": human_oversight,
}
"""Mitigation name → ``fn(env_name, episodes, seed) -> Evaluation`` in the gameable env."""
