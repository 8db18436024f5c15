from __future__ import annotations

import numpy as np
import pytest

from alignkit.core import ConfigError
from alignkit.monitor import GoodhartMonitor, MonitorState, sb3_callback, trainer_callback


def test_trainer_callback_stops_training_when_overoptimised() -> None:
    transformers = pytest.importorskip("transformers")
    mon = GoodhartMonitor(proxy="reward", intent=["eval_gold"])
    cb = trainer_callback(mon, action="stop")
    assert isinstance(cb, transformers.TrainerCallback)
    state, control = transformers.TrainerState(), transformers.TrainerControl()
    rng = np.random.default_rng(0)
    stopped_at = None
    for step in range(1, 1001):
        state.global_step = step
        x = step / 1000
        cb.on_log(None, state, control, logs={"reward": x, "loss": 1 - x})
        if step % 10 == 0:
            cb.on_evaluate(
                None, state, control, metrics={"eval_gold": 4 * x * (1 - x) + rng.normal(0, 0.05)}
            )
        if control.should_training_stop:
            stopped_at = step
            break
    assert stopped_at is not None and 500 < stopped_at < 800
    assert mon.status.state is MonitorState.OVEROPTIMISED


@pytest.mark.slow
def test_sb3_callback_feeds_episode_returns() -> None:
    pytest.importorskip("stable_baselines3")
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    env = make_vec_env("CartPole-v1", n_envs=1, seed=0)
    model = PPO("MlpPolicy", env, n_steps=128, batch_size=64, n_epochs=1, seed=0, device="cpu")
    mon = GoodhartMonitor(proxy="reward", intent=["gold"])
    seen: list[int] = []

    def intent(step: int) -> dict[str, float]:
        seen.append(step)
        return {"gold": 1.0}

    model.learn(total_timesteps=512, callback=sb3_callback(mon, intent_fn=intent, every=128))
    steps, returns = mon.series("reward")
    assert len(returns) > 5 and all(r > 0 for r in returns)
    assert seen == [128, 256, 384, 512]


def test_bad_action() -> None:
    with pytest.raises(ConfigError):
        trainer_callback(GoodhartMonitor(), action="explode")  # type: ignore[arg-type]
