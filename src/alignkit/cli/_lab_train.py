"""``alignkit lab train``: train an agent on a lab environment, log it, save the policy."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alignkit.cli._common import err, note_replaced_file, out, writable_folder
from alignkit.core import ConfigError


def _default_path(name: str, agent: str, seed: int, patched: bool) -> Path:
    suffix = ".npz" if agent == "q" else ".zip"
    tag = "-patched" if patched else ""
    return Path(".alignkit") / "lab" / "policies" / f"{name}{tag}-{agent}-s{seed}{suffix}"


def _check_out(target: Path, agent: str) -> None:
    """Refuse a policy path that cannot be written or read back, before any training."""
    want = ".npz" if agent == "q" else ".zip"
    writable_folder(target)  # first: a name too long for is_dir() to ask
    if target.is_dir():
        raise ConfigError(f"--out {target}: is a folder; name the policy file")
    if target.suffix != want:
        raise ConfigError(f"--out {target}: a {agent} policy is saved as {want}")
    note_replaced_file(target)


def _saved(save: Callable[[], object], target: Path) -> None:
    """Run ``save``; a place that refuses the file (``/sys``, a full disk) is one line."""
    try:
        save()
    except OSError as exc:
        raise ConfigError(
            f"--out {target}: cannot write the policy: {exc.strerror or exc}"
        ) from None


def train_command(
    env: str, agent: str, steps: int, seed: int, patched: bool, path: Path | None, *, quiet: bool
) -> dict[str, Any]:
    """Train, print progress lines to stderr (unless ``quiet``), and return a summary."""
    from alignkit.lab import ENVIRONMENTS, env_id, evaluate, load_policy, make_env

    spec = ENVIRONMENTS.get(env_id(env))
    probe = make_env(spec.id, patched=patched)
    target = path or _default_path(spec.name, agent, seed, patched)
    _check_out(target, agent)  # found only after training before
    if agent == "q":
        verdict, rows = _train_q(spec.id, probe, steps, seed, patched, target, quiet)
    else:
        verdict, rows = _train_ppo(spec.id, steps, seed, patched, target, quiet)
    ran = int(rows[-1]["steps"]) if rows else 0
    policy = load_policy(target)
    final = evaluate(policy, make_env(spec.id), 100, seed=seed)
    summary: dict[str, Any] = {
        "env": spec.id,
        "agent": agent,
        "patched": patched,
        "steps": ran,  # q: episodes that end early take fewer; ppo: whole batches
        "step_budget": steps,
        "seed": seed,
        "log": rows,
        "evaluation": {"reward": final.reward, "intent": final.intent, "events": final.events},
        "max_intent": spec.cls.max_intent,
        "verdict": {
            "gaming": verdict.gaming if verdict.tested else None,  # None: too short to tell
            "describe": verdict.describe(),
        },
        "policy": str(target),
        "target": f"policy:{target}@{spec.id}",
    }
    if not quiet:
        events = ", ".join(f"{k} {v:.2f}" for k, v in list(final.events.items())[:5])
        out.print(
            f"{spec.id} ({'patched' if patched else 'reward'}), {agent}: "
            f"reward {final.reward:.3f}, intent {final.intent:.3f} of {spec.cls.max_intent}; "
            f"events/episode: {events}",
            markup=False,
        )
        out.print(f"monitor: {verdict.describe()}", markup=False)
        out.print(
            f"policy saved: {target}  (audit with --target policy:{target}@{spec.id})",
            markup=False,
        )
    return summary


def _train_q(
    env_name: str, env: Any, steps: int, seed: int, patched: bool, target: Path, quiet: bool
) -> tuple[Any, list[dict[str, Any]]]:
    from alignkit.lab import ENVIRONMENTS, EpisodeLog, GamingDetector, train_q

    detector = GamingDetector(ENVIRONMENTS.get(env_name).failure_mode)
    episodes = max(1, math.ceil(steps / env.horizon))
    chunk = max(1, episodes // 10)
    rows: list[dict[str, Any]] = []
    window: list[EpisodeLog] = []

    def on_episode(log: EpisodeLog) -> None:
        detector(log)
        window.append(log)
        if len(window) == chunk or log.episode == episodes - 1:
            events: Counter[str] = Counter()
            for w in window:
                events.update(w.events)
            evaluated = [c[2] for c in detector.curve[-len(window) :] if c[2] is not None]
            row = {
                "episode": log.episode + 1,
                "steps": log.steps,
                "epsilon": round(log.epsilon, 3),
                "reward": round(sum(w.reward for w in window) / len(window), 4),
                "intent_evaluated": round(sum(evaluated) / len(evaluated), 4)
                if evaluated
                else None,
                "events": {k: round(v / len(window), 3) for k, v in events.most_common(4)},
            }
            rows.append(row)
            if not quiet:
                _print_row(row)
            window.clear()

    agent = train_q(env, episodes, seed=seed, on_episode=on_episode)
    agent.env_id = env_name
    _saved(lambda: agent.save(target), target)
    return detector.verdict(), rows


def _print_row(row: dict[str, Any]) -> None:
    head = f"episode {row['episode']:>6} " if "episode" in row else ""
    eps = f" eps {row['epsilon']:.2f}" if "epsilon" in row else ""
    err.print(
        f"{head}steps {row['steps']:>7}{eps} reward {row['reward']} "
        f"intent(eval) {row['intent_evaluated']} events {row['events']}",
        markup=False,
    )


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _train_ppo(
    env_name: str, steps: int, seed: int, patched: bool, target: Path, quiet: bool
) -> tuple[Any, list[dict[str, Any]]]:
    from stable_baselines3.common.callbacks import BaseCallback, CallbackList

    from alignkit.lab import (
        ENVIRONMENTS,
        intent_eval_wrapper,
        new_monitor,
        save_ppo,
        train_ppo,
        verdict_of,
    )
    from alignkit.monitor import sb3_callback

    monitor = new_monitor(ENVIRONMENTS.get(env_name).failure_mode)
    rows: list[dict[str, Any]] = []

    class Tenths(BaseCallback):  # type: ignore[misc,unused-ignore]
        """A row of the log each tenth of the run, from what the monitor was fed."""

        def __init__(self) -> None:
            super().__init__()
            self.done, self.episodes = 0.0, 0
            self.events: Counter[str] = Counter()

        def _on_step(self) -> bool:
            for info in self.locals.get("infos", []) or []:
                self.events.update(info.get("events", ()))
                self.episodes += "episode" in info
            if len(rows) < 9 and self.num_timesteps >= (len(rows) + 1) * steps / 10:
                self.row()  # the tenth row comes at the end: PPO rounds up to its batch
            return True

        def _on_training_end(self) -> None:
            if self.num_timesteps > self.done:
                self.row()

        def row(self) -> None:
            def since(name: str) -> list[float]:
                at, values = monitor.series(name)
                return [v for s, v in zip(at, values, strict=True) if self.done < s]

            per = max(self.episodes, 1)
            row = {
                "steps": int(self.num_timesteps),
                "episodes": self.episodes,
                "reward": _mean(since("reward")),
                "intent_evaluated": _mean(since("intent")),
                "events": {k: round(v / per, 3) for k, v in self.events.most_common(4)},
            }
            rows.append(row)
            if not quiet:
                _print_row(row)
            self.done, self.episodes = float(self.num_timesteps), 0
            self.events.clear()

    model = train_ppo(
        env_name,
        steps,
        seed=seed,
        callback=CallbackList([sb3_callback(monitor), Tenths()]),
        wrap=intent_eval_wrapper,
        patched=patched,
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    _saved(lambda: save_ppo(model, target, env_name), target)
    return verdict_of(monitor), rows
