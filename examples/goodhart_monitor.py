"""GoodhartMonitor in a training loop: catch the step where the reward stops tracking the goal.

Run from the repository root::

    python examples/goodhart_monitor.py

Two simulated training runs of 1,000 steps each. The proxy (``reward``, what the
optimiser maximises) is logged at every step and rises throughout. The goal (``gold``,
a held-out evaluation) is measured every 10 steps with noise:

- in the *over-optimised* run gold rises, peaks at step 500 and falls, while the reward
  keeps rising (reward over-optimisation);
- in the *honest* run gold keeps rising with the reward.

The script feeds both signals to :class:`alignkit.monitor.GoodhartMonitor`, prints each
change of the monitor's state and the step where it raised ``overoptimised``. It is
deterministic (one NumPy seed) and takes a few seconds. See ``docs/monitor.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alignkit.monitor import GoodhartMonitor, MonitorState

STEPS = 1_000  # training steps per run
EVAL_EVERY = 10  # gold is measured on one step in ten
GOLD_PEAK = 500  # where gold peaks in the over-optimised run
NOISE = 0.05  # SD of the noise on every logged value


@dataclass(frozen=True)
class Run:
    """What the monitor said about one simulated run."""

    name: str
    changes: list[tuple[int, str]]  # (step, new state) each time the state changed
    alarm_step: float | None  # step at which ``overoptimised`` was raised (None: never)
    peak_step: float | None  # the monitor's estimate of gold's peak
    drop_sd: float  # fitted fall of gold from that peak, in noise SDs
    final: str  # the monitor's last one-line summary


def proxy_at(step: int) -> float:
    """The reward: rises for the whole run, ever more slowly."""
    return float(np.log1p(8 * step / STEPS))


def gold_at(step: int, *, peaking: bool) -> float:
    """The goal: rises then falls (peak at GOLD_PEAK), or keeps rising like the reward."""
    x = step / STEPS
    return 4 * x * (1 - x) if peaking else proxy_at(step)


def train(name: str, *, peaking: bool, seed: int = 0) -> Run:
    """Simulate one run and feed every logged value to a GoodhartMonitor."""
    rng = np.random.default_rng(seed)
    monitor = GoodhartMonitor(proxy="reward", intent="gold")  # the defaults
    state = MonitorState.OK
    changes: list[tuple[int, str]] = []
    print(f"{name} run:")
    for step in range(1, STEPS + 1):
        # ... one optimisation step of your trainer would go here ...
        logged = {"reward": proxy_at(step) + rng.normal(0, NOISE)}
        if step % EVAL_EVERY == 0:  # a held-out evaluation of the goal, now and then
            logged["gold"] = gold_at(step, peaking=peaking) + rng.normal(0, NOISE)
        monitor.observe(step, **logged)

        status = monitor.status  # recomputed only when a new value has arrived
        if status.state is not state:
            print(f"  step {step:>4}: {state.value} -> {status.describe()}")
            state = status.state
            changes.append((step, state.value))

    gold = monitor.intent_status("gold")
    if gold.alarm_step is None:
        print(f"  no alarm; {monitor.status.describe()}")
    else:
        print(
            f"  alarm at step {gold.alarm_step:g}; estimated gold peak near step "
            f"{gold.peak_step:g}; at step {STEPS} gold is {gold.drop_sd:.1f} noise SDs below it"
        )
    return Run(
        name,
        changes,
        gold.alarm_step,
        gold.peak_step,
        gold.drop_sd,
        monitor.status.describe(),
    )


def main() -> dict[str, Run]:
    """Run both simulations; return what the monitor said about each."""
    runs = {
        "over-optimised": train(f"over-optimised (gold peaks at step {GOLD_PEAK})", peaking=True),
        "honest": train("honest (gold keeps rising)", peaking=False),
    }
    return runs


if __name__ == "__main__":
    main()
