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


def test_sb3_intent_fn_runs_with_several_environments() -> None:
    """With 3 environments the step count moves by 3: intent_fn runs at the first step at
    or past each multiple of 100 (it drifted to 102, 201, 300, 402, ... + 3 each time)."""
    pytest.importorskip("stable_baselines3")
    from stable_baselines3 import A2C
    from stable_baselines3.common.env_util import make_vec_env

    env = make_vec_env("CartPole-v1", n_envs=3, seed=0)
    model = A2C("MlpPolicy", env, n_steps=5, seed=0, device="cpu")
    mon = GoodhartMonitor(proxy="reward", intent=["gold"])
    seen: list[int] = []

    def intent(step: int) -> dict[str, float]:
        seen.append(step)
        return {"gold": 1.0}

    model.learn(total_timesteps=600, callback=sb3_callback(mon, intent_fn=intent, every=100))
    assert seen == [next(s for s in range(3, 601, 3) if s >= k * 100) for k in range(1, 7)]


@pytest.mark.parametrize("every", [0, -5, 2.5, True])
def test_sb3_callback_refuses_a_step_interval_that_is_not_positive(every: object) -> None:
    """every=0 crashed model.learn with ZeroDivisionError at the first intent step."""
    pytest.importorskip("stable_baselines3")
    mon = GoodhartMonitor(proxy="reward", intent=["gold"])
    with pytest.raises(ConfigError, match="every must be a positive whole number"):
        sb3_callback(mon, intent_fn=lambda s: {"gold": 1.0}, every=every)  # type: ignore[arg-type]


def test_sb3_episodes_ending_together_in_several_environments_all_count() -> None:
    """Four environments finish an episode on the same call: the proxy at that step is
    the mean of their returns (only the last environment's return was kept)."""
    pytest.importorskip("stable_baselines3")
    import gymnasium as gym
    import numpy as np
    from stable_baselines3 import A2C
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    class FiveSteps(gym.Env[np.ndarray, int]):
        observation_space = gym.spaces.Box(0.0, 1.0, (1,), dtype=np.float32)
        action_space = gym.spaces.Discrete(2)

        def __init__(self, reward: float) -> None:
            self.reward, self.t = reward, 0

        def reset(self, *, seed=None, options=None):  # type: ignore[no-untyped-def]
            super().reset(seed=seed)
            self.t = 0
            return np.zeros(1, np.float32), {}

        def step(self, action):  # type: ignore[no-untyped-def]
            self.t += 1
            info = {"gold": self.reward}
            return np.zeros(1, np.float32), self.reward, self.t >= 5, False, info

    env = DummyVecEnv([lambda r=r: Monitor(FiveSteps(r)) for r in (1.0, 2.0, 3.0, 4.0)])
    model = A2C("MlpPolicy", env, n_steps=5, seed=0, device="cpu")
    mon = GoodhartMonitor(proxy="reward", intent=["gold"])
    model.learn(total_timesteps=200, callback=sb3_callback(mon))
    steps, returns = mon.series("reward")
    assert steps == [float(s) for s in range(20, 201, 20)]
    assert returns == [12.5] * 10  # mean of 5, 10, 15, 20
    assert set(mon.series("gold")[1]) == {2.5}


def test_bad_action() -> None:
    with pytest.raises(ConfigError):
        trainer_callback(GoodhartMonitor(), action="explode")  # type: ignore[arg-type]


def test_trainer_evaluate_feeds_each_value_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A real Trainer.evaluate() sends its metrics to on_log and to on_evaluate."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")

    class Tiny(torch.nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x, labels=None):  # type: ignore[no-untyped-def]
            loss = ((self.w * x - labels) ** 2).mean()
            return {"loss": loss, "logits": self.w * x}

    rows = [{"x": torch.tensor([1.0]), "labels": torch.tensor([2.0])} for _ in range(4)]
    mon = GoodhartMonitor(proxy="loss", intent=["eval_loss"], minimize=["eval_loss"])
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path), report_to=[], use_cpu=True, per_device_eval_batch_size=4,
        disable_tqdm=True,
    )  # fmt: skip
    trainer = transformers.Trainer(
        model=Tiny(), args=args, eval_dataset=rows, callbacks=[trainer_callback(mon)]
    )
    trainer.evaluate()
    trainer.state.global_step = 1  # a value logged again at one step replaces the first
    trainer.evaluate()
    steps, values = mon.series("eval_loss")
    assert len(values) == 2, values


def test_values_too_large_to_fit_are_skipped_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    """A reward past 1e100 raised inside observe (ending a training run), or, before
    that, overflowed the fits into reading a peaked curve as having no peak."""
    mon = GoodhartMonitor(proxy="reward", intent="gold")
    for i in range(50):
        mon.observe(i, reward=float(i), gold=1e160 if i % 2 else 1.0)
    assert mon.series("gold")[1] == [1.0] * 25
    assert caplog.text.count("gold values beyond 1e100 are skipped") == 1
