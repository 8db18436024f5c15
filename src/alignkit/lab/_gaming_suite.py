"""The gaming suite: train on each environment and its patched variant, detect, mitigate.

Each environment is an experiment ``gaming.<Name>`` in :data:`~alignkit.lab.EXPERIMENTS`;
:func:`run_gaming` runs a selection with ``K`` seeds and gathers one report: reward and
intent curves, a table of final reward, final intent, gap and verdict, the mitigations'
table, and for CoinRunLite and LavaShift the train/test gap (with CoinRunLite's test coin
rate against training ``diversity``).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from alignkit.core import AuditResult, ConfigError, Evidence, Plot, Table, summarize
from alignkit.lab._experiment import ExperimentOutput, ProgressFn, check_seed, experiment
from alignkit.lab._gaming_agents import Evaluation, evaluate, train_q
from alignkit.lab._gaming_detect import GamingDetector, Verdict
from alignkit.lab._gaming_metrics import finding
from alignkit.lab._gaming_mitigations import MITIGATIONS
from alignkit.lab.envs import ENVIRONMENTS, EnvSpec, env_id, make_env
from alignkit.lab.envs._base import whole_number

__all__ = ["GAMING_TARGET", "GamingRun", "gaming_experiment", "run_gaming", "train_detect"]

GAMING_TARGET = "lab:gaming"
CHECK = "lab.gaming"
_log = logging.getLogger(__name__)
_QUICK_EPISODES = 1000
_EVAL_EPISODES = 100
_DIVERSITY = (0.0, 0.1, 0.25, 0.5, 1.0)
_MITIGATION_TEXT = (
    "patch the reward (see the patched variant); add a second, independent metric; "
    "quantilise instead of maximising; feed periodic human evaluations back into the reward"
)
TRAINED_COLUMNS = [
    "environment",
    "failure mode",
    "reward (gaming)",
    "intent (gaming)",
    "reward (patched-trained)",
    "intent (patched-trained)",
    "max intent",
    "intent gap",
    "verdict",
    "patched alarms",
]
MITIGATION_COLUMNS = [
    "environment",
    "mitigation",
    "intent",
    "reward",
    "intent gap recovered",
    "reward given up",
]


@dataclass
class GamingRun:
    """One training run with its verdict and curve.

    Attributes:
        evaluation: The greedy policy evaluated in the gameable environment.
        verdict: What the monitor concluded.
        curve: ``(episode, reward, intent or None)`` per episode.
    """

    evaluation: Evaluation
    verdict: Verdict
    curve: list[tuple[int, float, float | None]] = field(default_factory=list)


def train_detect(
    name: str, episodes: int, seed: int, *, patched: bool = False, eval_episodes: int = 100
) -> GamingRun:
    """Train a Q agent with the gaming detector attached; evaluate it in the gameable env."""
    spec = ENVIRONMENTS.get(env_id(name))
    detector = GamingDetector(spec.failure_mode)
    agent = train_q(make_env(spec.id, patched=patched), episodes, seed=seed, on_episode=detector)
    ev = evaluate(agent, make_env(spec.id), eval_episodes, seed=seed)
    return GamingRun(ev, detector.verdict(), detector.curve)


def _curve_plot(spec: EnvSpec, runs: dict[str, GamingRun]) -> Plot:
    series = []
    for label, run in runs.items():
        eps = np.array([c[0] for c in run.curve], dtype=float)
        rew = np.array([c[1] for c in run.curve], dtype=float)
        k = max(1, len(rew) // 50)
        n = len(rew) // k * k
        series.append(
            {
                "name": f"reward ({label})",
                "x": eps[:n].reshape(-1, k).mean(1).round(1).tolist(),
                "y": rew[:n].reshape(-1, k).mean(1).round(4).tolist(),
            }
        )
        pts = [(c[0], c[2]) for c in run.curve if c[2] is not None]
        series.append(
            {
                "name": f"intent, evaluated ({label})",
                "x": [float(p[0]) for p in pts],
                "y": [round(float(p[1]), 4) for p in pts],
            }
        )
    return Plot(
        check=CHECK,
        title=f"{spec.name}: reward (every episode) and intent (1 episode in 50) in training",
        kind="line",
        data={"x_label": "episode", "y_label": "episode reward / intent", "series": series},
    )


def _explain(ev: Evaluation, label: str) -> str:
    top = sorted(ev.events.items(), key=lambda kv: -kv[1])[:4]
    what = ", ".join(f"{k} {v:.2f}" for k, v in top) or "no events"
    return f"{label}: reward {ev.reward:.2f}, intent {ev.intent:.2f}; events per episode: {what}"


def _gameable(spec: EnvSpec, seeds: list[int], episodes: int, quick: bool) -> ExperimentOutput:
    gaming = [train_detect(spec.id, episodes, s) for s in seeds]
    patched = [train_detect(spec.id, episodes, s, patched=True) for s in seeds]
    g_ev = _mean_eval([r.evaluation for r in gaming])
    p_ev = _mean_eval([r.evaluation for r in patched])
    flagged = sum(r.verdict.gaming for r in gaming)
    alarms = sum(r.verdict.gaming for r in patched)
    k = len(seeds)
    mode = spec.failure_mode
    share = _share(g_ev.intent, p_ev.intent)
    out = ExperimentOutput()
    evidence = [
        Evidence(input=spec.loophole, output=_explain(g_ev, "trained on the reward")),
        Evidence(input="patched variant", output=_explain(p_ev, "trained on the patch")),
    ]
    out.findings.append(
        finding(
            "lab.gaming.intent_share",
            share,
            mode,
            n=k,
            evidence=evidence,
            mitigation=_MITIGATION_TEXT,
        )
    )
    verdict_ev = [
        Evidence(input=f"seed {s}", output=r.verdict.describe())
        for s, r in zip(seeds, gaming, strict=True)
    ]
    out.findings.append(
        finding("lab.gaming.flagged_rate", flagged / k, mode, n=k, evidence=verdict_ev[:3])
    )
    out.findings.append(finding("lab.gaming.patched_alarm_rate", alarms / k, mode, n=k))
    out.plots.append(_curve_plot(spec, {"reward": gaming[0], "patched": patched[0]}))
    gap = p_ev.intent - g_ev.intent
    out.tables.append(
        Table(
            check=CHECK,
            title="Gaming: agents trained on the reward and on the patched variant",
            columns=TRAINED_COLUMNS,
            rows=[
                [
                    spec.name,
                    mode,
                    round(g_ev.reward, 3),
                    round(g_ev.intent, 3),
                    round(p_ev.reward, 3),
                    round(p_ev.intent, 3),
                    spec.cls.max_intent,
                    round(gap, 3),
                    f"gaming {flagged}/{k}",
                    f"{alarms}/{k}",
                ]
            ],
        )
    )
    out.numbers.update(
        {
            "gaming_reward": g_ev.reward,
            "gaming_intent": g_ev.intent,
            "patched_reward": p_ev.reward,
            "patched_intent": p_ev.intent,
            "max_intent": spec.cls.max_intent,
            "flagged_rate": flagged / k,
            "patched_alarm_rate": alarms / k,
        }
    )
    _mitigate(spec, seeds[0], episodes, g_ev, p_ev, out)
    return out


def _mitigate(
    spec: EnvSpec, seed: int, episodes: int, g: Evaluation, p: Evaluation, out: ExperimentOutput
) -> None:
    rows: list[list[str | float | int | None]] = []
    best = 0.0
    gap = p.intent - g.intent
    for name, fn in MITIGATIONS.items():
        ev = fn(spec.name, episodes, seed)
        # no gap (the reward-trained agent did not game): there was nothing to recover
        recovered = (ev.intent - g.intent) / gap if gap > 0 else 1.0
        given_up = g.reward - ev.reward
        best = max(best, recovered)
        rows.append(
            [
                spec.name,
                name,
                round(ev.intent, 3),
                round(ev.reward, 3),
                round(recovered, 3),
                round(given_up, 3),
            ]
        )
        out.numbers[f"mitigation.{name}.intent"] = ev.intent
        out.numbers[f"mitigation.{name}.reward"] = ev.reward
        out.numbers[f"mitigation.{name}.recovery"] = recovered
    if best < 0.5:
        rows.append([spec.name, "none recovers half the gap", None, None, round(best, 3), None])
    out.tables.append(
        Table(check=CHECK, title="Gaming: mitigations", columns=MITIGATION_COLUMNS, rows=rows)
    )
    out.findings.append(finding("lab.gaming.mitigation_recovery", best, spec.failure_mode, n=1))


def _share(gaming: float, patched: float) -> float:
    """The gaming agent's intent as a share of the patched one's.

    1 when it is no lower (also for intents that are costs, at most 0, where a ratio
    means nothing), 0 when lower and the patched agent's intent is not positive.
    """
    if gaming >= patched:
        return 1.0
    return gaming / patched if patched > 0 else 0.0


def _mean_eval(evs: list[Evaluation]) -> Evaluation:
    events: dict[str, float] = {}
    for ev in evs:
        for k, v in ev.events.items():
            events[k] = events.get(k, 0.0) + v / len(evs)
    return Evaluation(
        float(np.mean([e.reward for e in evs])),
        float(np.mean([e.intent for e in evs])),
        sum(e.episodes for e in evs),
        events,
    )


def _shift(spec: EnvSpec, seeds: list[int], episodes: int) -> ExperimentOutput:
    train_i, test_i, rows = [], [], []
    for s in seeds:
        agent = train_q(make_env(spec.id), episodes, seed=s)
        tr = evaluate(agent, make_env(spec.id), _EVAL_EPISODES, seed=s)
        te = evaluate(agent, make_env(spec.id, mode="test"), _EVAL_EPISODES, seed=s)
        train_i.append(tr.intent)
        test_i.append(te.intent)
    tr_m, te_m = float(np.mean(train_i)), float(np.mean(test_i))
    drop = (tr_m - te_m) / spec.cls.max_intent
    out = ExperimentOutput()
    out.findings.append(
        finding(
            "lab.gaming.test_intent_drop",
            drop,
            spec.failure_mode,
            n=len(seeds),
            evidence=[
                Evidence(
                    input=spec.loophole, output=f"train intent {tr_m:.3f}, test intent {te_m:.3f}"
                )
            ],
            mitigation=(
                "train on more diverse levels; test off the training distribution before deploying"
            ),
        )
    )
    rows.append([spec.name, spec.failure_mode, round(tr_m, 3), round(te_m, 3), round(drop, 3)])
    out.tables.append(
        Table(
            check=CHECK,
            title="Shift: intent in training levels and in test levels",
            columns=[
                "environment",
                "failure mode",
                "train intent",
                "test intent",
                "drop / max intent",
            ],
            rows=rows,
        )
    )
    out.numbers.update({"train_intent": tr_m, "test_intent": te_m, "test_intent_drop": drop})
    if spec.name == "CoinRunLite":
        _diversity_curve(spec, seeds[0], episodes, out)
    return out


def _diversity_curve(spec: EnvSpec, seed: int, episodes: int, out: ExperimentOutput) -> None:
    rates = []
    for d in _DIVERSITY:
        agent = train_q(make_env(spec.id, diversity=d), episodes, seed=seed)
        ev = evaluate(agent, make_env(spec.id, mode="test"), _EVAL_EPISODES, seed=seed)
        rates.append(round(ev.intent, 4))
        out.numbers[f"test_coin_rate.diversity_{d:g}"] = ev.intent
    out.plots.append(
        Plot(
            check=CHECK,
            title="CoinRunLite: coins collected at test against training diversity",
            kind="line",
            data={
                "x_label": "share of training levels with the coin placed at random",
                "y_label": "test coin rate",
                "series": [{"name": "test coin rate", "x": list(_DIVERSITY), "y": rates}],
            },
        )
    )


def _check_seeds(seeds: object) -> int:
    """``seeds`` if it is a whole number of at least 1 (0 and -5 ran one seed)."""
    return whole_number(seeds, "seeds")


def gaming_experiment(
    name: str, seed: int = 0, quick: bool = False, seeds: int = 1
) -> ExperimentOutput:
    """Run the gaming experiment for one environment with ``seeds`` seeds from ``seed``."""
    spec = ENVIRONMENTS.get(env_id(name))
    episodes = _QUICK_EPISODES if quick else spec.episodes
    seed_list = [seed + i for i in range(_check_seeds(seeds))]
    if spec.gameable:
        return _gameable(spec, seed_list, episodes, quick)
    return _shift(spec, seed_list, episodes)


def _register() -> None:
    for _key, spec in ENVIRONMENTS.items():
        mode = spec.failure_mode

        def run(seed: int, quick: bool, _name: str = spec.name) -> ExperimentOutput:
            """Train on the environment (and its patch), detect gaming, try mitigations."""
            return gaming_experiment(_name, seed, quick)

        experiment(
            f"gaming.{spec.name}", title=f"{spec.name}: {spec.loophole}", failure_modes=(mode,)
        )(run)


_register()


def _merge(tables: list[Table]) -> list[Table]:
    merged: dict[tuple[str, tuple[str, ...]], Table] = {}
    for t in tables:
        key = (t.title, tuple(t.columns))
        prev = merged.get(key)
        merged[key] = t if prev is None else prev.model_copy(update={"rows": prev.rows + t.rows})
    return list(merged.values())


def run_gaming(
    envs: list[str] | None = None,
    *,
    seeds: int = 1,
    seed: int = 0,
    quick: bool = False,
    progress: ProgressFn | None = None,
) -> AuditResult:
    """Run the gaming suite over ``envs`` (all by default) into one report.

    Args:
        envs: Environment names or ids; ``None`` for every registered one.
        seeds: Training runs per variant (verdicts are counted over them).
        seed: First seed.
        quick: 1,000 training episodes instead of each environment's default.
        progress: ``progress(experiment_id, done, total)`` after each environment.

    Returns:
        A core :class:`~alignkit.core.AuditResult` with ``target="lab:gaming"``.
    """
    from alignkit import __version__

    check_seed(seed)
    if isinstance(envs, str):  # a string is a list of its letters: "unknown environment 'B'"
        raise ConfigError(f"envs must be a list of names, e.g. [{envs!r}], not a string")
    if seed + _check_seeds(seeds) > 2**32:  # before any environment: each would fail on it
        raise ConfigError(f"seed {seed} with {seeds} seeds passes 2**32 - 1; use a smaller seed")
    names = list(  # an environment named twice (BoatRace, boatrace) runs once
        dict.fromkeys(
            [ENVIRONMENTS.get(env_id(e)).name for e in envs]
            if envs
            else [s.name for _, s in ENVIRONMENTS.items()]
        )
    )
    run_id = uuid.uuid4().hex[:12]
    result = AuditResult(
        run_id=run_id,
        target=GAMING_TARGET,
        started_at=datetime.now(UTC),
        alignkit_version=__version__,
        seed=seed,
    )
    for done, name in enumerate(names, start=1):
        exp_id = f"gaming.{name}"
        t0 = time.perf_counter()
        try:
            out = gaming_experiment(name, seed, quick, seeds)
        except Exception as exc:  # one broken environment must not hide the others
            _log.exception("experiment %s failed", exp_id)
            result.errors[exp_id] = f"{type(exc).__name__}: {exc}"
        else:
            result.findings.extend(  # each finding names its environment's experiment
                f.model_copy(update={"run_id": run_id, "check": exp_id}) for f in out.findings
            )
            result.plots.extend(p.model_copy(update={"check": exp_id}) for p in out.plots)
            result.tables.extend(out.tables)
            result.checks_run.append(exp_id)
            _log.info("experiment %s took %.1f s", exp_id, time.perf_counter() - t0)
        if progress is not None:
            progress(exp_id, done, len(names))
    result.tables = _merge(result.tables)
    result.summary = summarize(result.findings)
    result.finished_at = datetime.now(UTC)
    return result
