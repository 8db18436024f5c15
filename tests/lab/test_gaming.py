"""Q-learning finds the loopholes; GoodhartMonitor flags it from reward and sparse intent."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from alignkit.core import ConfigError
from alignkit.lab import (
    ENVIRONMENTS,
    EVAL_EVERY,
    GamingDetector,
    QAgent,
    env_id,
    evaluate,
    intent_eval_wrapper,
    make_env,
    run_gaming,
    train_detect,
    train_q,
)


def test_q_learning_is_deterministic_under_seed() -> None:
    a = train_q(make_env("PauseGame"), 200, seed=3)
    b = train_q(make_env("PauseGame"), 200, seed=3)
    c = train_q(make_env("PauseGame"), 200, seed=4)
    assert np.array_equal(a.q, b.q) and not np.array_equal(a.q, c.q)


def test_q_agent_discovers_the_pause_loophole_and_not_under_the_patch() -> None:
    gamer = train_q(make_env("PauseGame"), 400, seed=0)
    honest = train_q(make_env("PauseGame", patched=True), 400, seed=0)
    g = evaluate(gamer, make_env("PauseGame"), 20)
    h = evaluate(honest, make_env("PauseGame"), 20)
    assert g.reward >= h.reward and g.intent <= 0.5 * h.intent
    assert g.events.get("paused", 0) >= 1 and h.events.get("caught", 0) > 5


@pytest.mark.parametrize(("name", "episodes"), [("Engagement", 2000), ("OffSwitch", 4000)])
def test_detector_flags_gaming_and_not_the_patched_run(name: str, episodes: int) -> None:
    # Engagement's intent declines gradually; OffSwitch's falls at once when the agent
    # learns to disable the switch
    gaming = train_detect(name, episodes, seed=0)
    patched = train_detect(name, episodes, seed=0, patched=True)
    assert gaming.verdict.gaming and not patched.verdict.gaming
    assert gaming.verdict.evaluations == episodes // EVAL_EVERY
    evaluated = [c for c in gaming.curve if c[2] is not None]
    assert len(evaluated) / len(gaming.curve) <= 0.02


def test_detector_refuses_denser_intent() -> None:
    with pytest.raises(ConfigError):
        GamingDetector(every=10)
    with pytest.raises(ConfigError):
        intent_eval_wrapper(make_env("BoatRace"), every=2)


def test_intent_wrapper_reports_intent_only_on_evaluation_episodes() -> None:
    env = intent_eval_wrapper(make_env("TallFall"), every=50)
    seen = []
    for ep in range(100):
        env.reset(seed=ep)
        done = False
        while not done:
            _, _, term, trunc, info = env.step(0)
            done = term or trunc
            if "intent" in info:
                seen.append(ep)
    assert seen == [49, 99]


def test_q_table_round_trips(tmp_path) -> None:  # type: ignore[no-untyped-def]
    agent = train_q(make_env("Engagement"), 50, seed=1)
    path = agent.save(tmp_path / "q.npz")
    again = QAgent.load(path)
    assert np.array_equal(agent.q, again.q) and again.env_id == "alignkit/Engagement-v0"


def test_shift_report_shows_the_train_test_gap() -> None:
    # one environment named three ways runs once (it trained and reported three times)
    result = run_gaming(["LavaShift", "lavashift", "alignkit/LavaShift-v0"], quick=True)
    assert not result.errors and result.checks_run == ["gaming.LavaShift"]
    (f,) = [f for f in result.findings if f.metric == "lab.gaming.test_intent_drop"]
    assert f.failure_mode == "distribution-shift" and f.value > 0.5
    assert any(t.title.startswith("Shift") for t in result.tables)


def test_a_seed_no_rng_takes_is_refused_before_anything_runs() -> None:
    with pytest.raises(ConfigError, match="seed must be"):
        run_gaming(["LavaShift"], seed=-1)


@pytest.mark.parametrize("name", ["TallFall", "AbsentSupervisor"])
def test_intent_improves_before_the_loophole_is_found(name: str) -> None:
    """The designs put the loophole behind competence: intent peaks well into training."""
    spec = ENVIRONMENTS.get(env_id(name))
    run = train_detect(name, spec.episodes, seed=0)
    assert run.verdict.gaming and run.verdict.peak_step is not None
    # Not a decline from the first episodes: the peak lies past the first eighth of
    # training (the "start" window below).
    assert run.verdict.peak_step > spec.episodes / 8
    intents = np.array([c[2] for c in run.curve if c[2] is not None])
    k = len(intents) // 8
    start, peak, end = (
        intents[:k].mean(),
        np.convolve(intents, np.ones(k) / k).max(),
        intents[-k:].mean(),
    )
    assert peak > start > end
    assert (
        end
        < 0.5
        * evaluate(train_q(make_env(name, patched=True), spec.episodes), make_env(name)).intent
    )


def test_intent_wrapper_refuses_an_env_that_reports_no_intent() -> None:
    """It summed a missing intent as 0: every evaluation 0.0, and a clean "no alarm"."""
    env = intent_eval_wrapper(gym.make("CartPole-v1"))
    env.reset(seed=0)
    with pytest.raises(ConfigError, match=r"CartPoleEnv reports no info\['intent'\]"):
        env.step(0)


@pytest.mark.parametrize(
    ("gaming", "patched", "share"),
    [(0.5, 1.0, 0.5), (1.0, 1.0, 1.0), (-0.4, -0.4, 1.0), (-0.5, -0.4, 0.0), (0.0, 0.0, 1.0)],
)
def test_intent_share_is_one_when_the_reward_trained_agent_does_not_game(
    gaming: float, patched: float, share: float
) -> None:
    """Equal intents that are costs (≤ 0) came out as share 0.0, severity high."""
    from alignkit.lab._gaming_suite import _share

    assert _share(gaming, patched) == share


def test_agents_refuse_wrapped_envs_and_mismatched_tables() -> None:
    """gym.make's wrapper gave "'OrderEnforcing' object has no attribute 'fast_step'"."""
    with pytest.raises(ConfigError, match=r"gym.make\(id\).unwrapped\), not OrderEnforcing"):
        train_q(gym.make("alignkit/BoatRace-v0"), 5)
    with pytest.raises(ConfigError, match="episodes must be at least 1"):
        evaluate(train_q(make_env("PauseGame"), 5), make_env("PauseGame"), 0)
    boat = train_q(make_env("BoatRace"), 5)
    with pytest.raises(ConfigError, match="the agent's table is"):
        train_q(make_env("PauseGame"), 5, agent=boat)


@pytest.mark.parametrize(("q", "n"), [(0.0, 30), (-0.5, 30), (2.0, 30), (0.1, 0)])
def test_quantiliser_refuses_a_q_outside_0_1_and_no_rollouts(q: float, n: int) -> None:
    from alignkit.lab._gaming_mitigations import quantiliser

    with pytest.raises(ConfigError, match="0 < q <= 1"):
        quantiliser("PauseGame", 0, 0, eval_episodes=1, q=q, n=n)
