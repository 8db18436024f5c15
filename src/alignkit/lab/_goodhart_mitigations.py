"""Mitigations of reward-model over-optimisation, compared at equal KL.

Best-of-n side (KL 0–8.4 nats, n ≤ 12,000): a single proxy against ensembles of five
proxies (standardised on the base-policy pool) combined by mean, worst case (WCO) or
mean − 0.5·variance (UWO, λ as Coste et al. used for best-of-n), without and with 25 %
label noise, in two settings: members fitted on bootstrap resamples of the *same* 4,000
comparisons (Coste et al.'s members share their preference data), and members fitted on
*separate* sets of 4,000 (independent errors, five times the labels, with a proxy fitted on
all 20,000 beside them). The single proxy is the first member. The same comparison with
nonlinear members (:class:`~alignkit.lab._goodhart_rm.MLPProxy`, one hidden layer) that
share the same comparisons and differ only by their initialisation, at 4,000 comparisons
and at the 1,000 of :mod:`._goodhart_overopt`; their gold is estimated on plain gold over
a large pool, since the projection trick holds for linear selectors only. Also a q-quantiliser
(KL = log 1/q), and a *shared-error* world where the labeller also likes a nuisance
feature the gold penalises, so every member learns the same error.

RL side: the RL run of :mod:`._goodhart_overopt` (natural policy gradient over base
responses) with a KL penalty, with the proxy refreshed every ``k`` steps on comparisons
drawn from the current policy, and stopped by :class:`~alignkit.monitor.GoodhartMonitor`
fed noisy, sparse gold evaluations.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np

from alignkit.core import Plot, Table
from alignkit.lab._experiment import ExperimentOutput, experiment
from alignkit.lab._goodhart_metrics import CHECK, finding
from alignkit.lab._goodhart_overopt import (
    N_COMPARISONS,
    WORLD,
    bon_curve,
    bon_curves,
    mean_trajectory,
    rl_run,
)
from alignkit.lab._goodhart_rl import Trajectory
from alignkit.lab._goodhart_rm import (
    FloatArray,
    Proxy,
    RewardWorld,
    bon_estimate,
    comparisons,
    kl_bon,
    quantile_estimate,
    train_mlp_proxy,
    train_proxy,
)
from alignkit.monitor import GoodhartMonitor, MonitorState
from alignkit.scoring import ensemble_score, standardize_members

__all__ = ["mitigations"]

ENSEMBLE_NS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000, 2000, 4000, 8000, 12000]
MEMBERS = 5
UWO_LAMBDA = 0.5
RL_PROXIES = 4
SHARED_BIAS = 0.3
Objective = Callable[[FloatArray], FloatArray]

ENSEMBLE_COMPARISONS = 4000
Data = Literal["shared", "separate"]
POOLED = "single proxy, all members' comparisons"


def _members_only(s: FloatArray) -> FloatArray:
    """Member scores on a common scale (mean 0, SD 1 over the base-policy pool)."""
    return standardize_members(s[:MEMBERS])


_OBJECTIVES: dict[str, Objective | None] = {
    "single proxy": None,
    "ensemble mean": lambda s: ensemble_score(_members_only(s), "mean"),
    "ensemble WCO": lambda s: ensemble_score(_members_only(s), "worst"),
    "ensemble UWO": lambda s: ensemble_score(_members_only(s), "uwo", lam=UWO_LAMBDA),
}


def _members(world: RewardWorld, rng: np.random.Generator, data: Data) -> list[Proxy]:
    """Five proxies, plus for ``separate`` a sixth fitted on all their comparisons.

    ``shared``: every member is fitted on its own bootstrap resample of the same
    comparisons (as Coste et al.'s members share one preference set and differ by seed;
    a convex Bradley–Terry fit has no seed, so resampling supplies the diversity).
    ``separate``: every member is fitted on its own fresh comparisons, so members' errors
    are independent but the ensemble has seen five times the labels; the sixth proxy, fitted
    on all of them, separates what the labels buy from what the ensemble objective buys.
    """
    n = ENSEMBLE_COMPARISONS
    if data == "separate":
        sets = [comparisons(world, n, rng) for _ in range(MEMBERS)]
        pooled = tuple(np.concatenate(parts) for parts in zip(*sets, strict=True))
        a, b, y = pooled
        return [train_proxy(world, 0, rng, pairs=p) for p in sets] + [
            train_proxy(world, 0, rng, pairs=(a, b, y))
        ]
    a, b, y = comparisons(world, n, rng)
    out = []
    for _ in range(MEMBERS):
        idx = rng.integers(0, n, n)
        out.append(train_proxy(world, 0, rng, pairs=(a[idx], b[idx], y[idx])))
    return out


def _ensemble_curves(
    world: RewardWorld, rng: np.random.Generator, repeats: int, pool: int, data: Data = "shared"
) -> dict[str, FloatArray]:
    """Mean gold (relative to π₀) per objective, averaged over ``repeats`` ensembles."""
    objectives = dict(_OBJECTIVES)
    if data == "separate":
        objectives[POOLED] = lambda s: s[MEMBERS]
    sums: dict[str, FloatArray] = {k: np.zeros(len(ENSEMBLE_NS)) for k in objectives}
    for _ in range(repeats):
        curves = bon_curves(
            world, _members(world, rng, data), ENSEMBLE_NS, rng, pool=pool, objectives=objectives
        )
        for name, (gold, _) in curves.items():
            sums[name] += gold / repeats
    return sums


def _decline(curve: FloatArray) -> float:
    peak = float(curve.max())
    return (peak - float(curve[-1])) / peak if peak > 0 else float("nan")


def _kl_plot(title: str, kl: FloatArray, curves: dict[str, FloatArray], x_label: str) -> Plot:
    return Plot(
        check=CHECK,
        title=title,
        kind="line",
        data={
            "x_label": x_label,
            "y_label": "gold relative to the base policy",
            "series": [
                {"name": k, "x": np.round(kl, 4).tolist(), "y": np.round(v, 5).tolist()}
                for k, v in curves.items()
            ],
        },
    )


def _interp(kl: FloatArray, gold: FloatArray, at: float) -> float:
    order = np.argsort(kl)
    return float(np.interp(at, kl[order], gold[order]))


Row = list[str | float | int | None]


def _bon_side(rng: np.random.Generator, quick: bool, out: ExperimentOutput) -> list[Row]:
    repeats, pool = (1, 30_000) if quick else (4, 200_000)
    kl = kl_bon(np.asarray(ENSEMBLE_NS))
    rows: list[Row] = []
    for data in ("shared", "separate"):
        for noise in (0.0, 0.25):
            curves = _ensemble_curves(WORLD.with_(label_noise=noise), rng, repeats, pool, data)
            tag = f"{int(noise * 100)}% label noise, {_DATA_TAG[data]}"
            out.plots.append(
                _kl_plot(
                    f"Best-of-n: single proxy vs ensembles of 5 ({tag})",
                    kl,
                    curves,
                    "best-of-n KL (nats)",
                )
            )
            rows += _ensemble_rows(curves, kl, tag, f"{_PREFIX[data]}noise{int(noise * 100)}", out)
    return rows + _shared_error(rng, repeats, pool, kl, out)


def _mlp_curves(
    world: RewardWorld, rng: np.random.Generator, n_comparisons: int, repeats: int, pool: int
) -> tuple[dict[str, FloatArray], float]:
    """Mean gold per objective for five MLP members on the same comparisons, and accuracy.

    Members differ only by their initialisation. Gold enters :func:`bon_estimate` as plain
    gold over a fresh pool. The accuracy is the first member's agreement with gold on
    held-out base-policy pairs, averaged over the ``repeats`` ensembles.
    """
    sums: dict[str, FloatArray] = {k: np.zeros(len(ENSEMBLE_NS)) for k in _OBJECTIVES}
    accuracy = 0.0
    for _ in range(repeats):
        pairs = comparisons(world, n_comparisons, rng)
        members = [train_mlp_proxy(world, 0, rng, pairs=pairs) for _ in range(MEMBERS)]
        x = world.base_samples(pool, rng)
        g = world.gold(x)
        scores = np.stack([m.score(x) for m in members])
        half = pool // 2  # the pool's two halves as held-out pairs
        agree = (scores[0, :half] > scores[0, half : 2 * half]) == (g[:half] > g[half : 2 * half])
        accuracy += float(agree.mean()) / repeats
        for name, objective in _OBJECTIVES.items():
            s = scores[0] if objective is None else objective(scores)
            sums[name] += (bon_estimate(s, g, ENSEMBLE_NS) - g.mean()) / repeats
    return sums, accuracy


MLP_SETTINGS = ((ENSEMBLE_COMPARISONS, 4), (N_COMPARISONS, 10))
"""(comparisons shared by the members, ensembles averaged) for the MLP rows."""


def _mlp_side(rng: np.random.Generator, quick: bool, out: ExperimentOutput) -> list[Row]:
    """The ensemble rows again with MLP members that share their comparisons.

    ``quick`` runs the 1,000-comparison setting alone (its members fit in a fraction of
    the time).
    """
    pool = 30_000 if quick else 300_000
    kl = kl_bon(np.asarray(ENSEMBLE_NS))
    rows: list[Row] = []
    for n_comp, repeats in MLP_SETTINGS[-1:] if quick else MLP_SETTINGS:
        for noise in (0.0, 0.25):
            world = WORLD.with_(label_noise=noise)
            curves, acc = _mlp_curves(world, rng, n_comp, 1 if quick else repeats, pool)
            tag = f"{int(noise * 100)}% label noise, MLP members share {n_comp:,} comparisons"
            out.plots.append(
                _kl_plot(f"Best-of-n: single MLP proxy vs ensembles of 5 ({tag})", kl, curves, _KL)
            )
            suffix = f"mlp{n_comp}_noise{int(noise * 100)}"
            rows += _ensemble_rows(curves, kl, tag, suffix, out)
            out.numbers[f"{suffix}_pair_accuracy"] = acc
    return rows


_KL = "best-of-n KL (nats)"
_DATA_TAG = {"shared": "members share comparisons", "separate": "separate comparisons"}
_PREFIX = {"shared": "", "separate": "separate_"}


def _ensemble_rows(
    curves: dict[str, FloatArray], kl: FloatArray, tag: str, suffix: str, out: ExperimentOutput
) -> list[Row]:
    """Table rows and numbers (``<objective>_<suffix>_decline``/``_gain``) for one setting."""
    rows: list[Row] = []
    single = curves["single proxy"]
    for name, curve in curves.items():
        gain = (float(curve[-1]) - float(single[-1])) / float(single.max())
        rows.append(
            [
                f"{name} ({tag})",
                "best-of-n",
                round(float(kl[-1]), 2),
                round(float(curve[-1]), 4),
                round(gain, 4),
                round(_decline(curve), 4),
            ]
        )
        key = "pooled_proxy" if name == POOLED else name.replace(" ", "_").lower()
        out.numbers[f"{key}_{suffix}_decline"] = _decline(curve)
        out.numbers[f"{key}_{suffix}_gain"] = gain
    return rows


def _shared_error(
    rng: np.random.Generator, repeats: int, pool: int, kl: FloatArray, out: ExperimentOutput
) -> list[Row]:
    """The labeller likes a nuisance feature the gold penalises: every member learns it."""
    rows: list[Row] = []
    shared = _ensemble_curves(WORLD.with_(bias=SHARED_BIAS), rng, repeats, pool)
    out.plots.append(
        _kl_plot(
            "Shared error: every member learns the labeller's bias",
            kl,
            shared,
            "best-of-n KL (nats)",
        )
    )
    for name, curve in shared.items():
        rows.append(
            [
                f"{name} (shared error)",
                "best-of-n",
                round(float(kl[-1]), 2),
                round(float(curve[-1]), 4),
                None,
                round(_decline(curve), 4),
            ]
        )
        out.numbers[f"shared_{name.replace(' ', '_').lower()}_decline"] = _decline(curve)
    out.findings.append(
        finding(
            "shared_error_ensemble_decline",
            _decline(shared["ensemble WCO"]),
            n=repeats * MEMBERS,
            note=f"UWO declines {_decline(shared['ensemble UWO']):.2f}, single proxy "
            f"{_decline(shared['single proxy']):.2f}",
            mitigation="diversify what members learn from (labellers, data, architectures); "
            "audit for shared biases such as length",
        )
    )
    return rows


def _quantiliser(rng: np.random.Generator, quick: bool, out: ExperimentOutput) -> list[Row]:
    proxy = train_proxy(WORLD, N_COMPARISONS, rng)
    pool = 30_000 if quick else 300_000
    x = WORLD.base_samples(pool, rng)
    g = WORLD.gold_given(x, proxy.theta[None, :])
    s = proxy.score(x)
    base = float(g.mean())
    bon_gold, _ = bon_curve(WORLD, proxy, ENSEMBLE_NS, rng, pool=pool)
    bon_kl = kl_bon(np.asarray(ENSEMBLE_NS))
    qs = np.exp(-np.linspace(0.0, 8.4, 15))
    q_gold = np.array([quantile_estimate(s, g, float(q)) - base for q in qs])
    q_kl = np.log(1 / qs)
    out.plots.append(
        _kl_plot(
            "q-quantiliser (KL = log 1/q) vs best-of-n, same proxy",
            q_kl,
            {"quantiliser": q_gold},
            "KL (nats)",
        )
    )
    rows: list[Row] = []
    for target in (2.0, 4.0, 8.4):
        qg, bg = _interp(q_kl, q_gold, target), _interp(bon_kl, bon_gold, target)
        rows.append(
            [
                f"q-quantiliser q={math.exp(-target):.2g}",
                "selection",
                target,
                round(qg, 4),
                round((qg - bg) / abs(bg), 4),
                None,
            ]
        )
        out.numbers[f"quantiliser_kl{target:g}_gain_vs_bon"] = (qg - bg) / abs(bg)
    return rows


def _rl_side(rng: np.random.Generator, quick: bool, out: ExperimentOutput) -> list[Row]:
    n_proxies = 2 if quick else RL_PROXIES
    settings: dict[str, dict[str, float]] = {
        "no mitigation": {},
        "KL penalty 0.05": {"kl_coef": 0.05},
        "KL penalty 0.2": {"kl_coef": 0.2},
        "proxy refreshed every 25 steps": {"refresh_every": 25},
        "proxy refreshed every 50 steps": {"refresh_every": 50},
    }
    per: dict[str, list[Trajectory]] = {k: [] for k in settings}
    for _ in range(n_proxies):
        proxy = train_proxy(WORLD, N_COMPARISONS, rng)
        for name, kw in settings.items():
            per[name].append(rl_run(proxy, rng, quick, **kw))
    runs = {k: mean_trajectory(v) for k, v in per.items()}
    plain = runs["no mitigation"]
    out.plots.append(
        Plot(
            check=CHECK,
            title=f"RL mitigations: gold against KL (mean of {n_proxies} proxies)",
            kind="line",
            data={
                "x_label": "KL (nats)",
                "y_label": "gold relative to the base policy",
                "series": [
                    {"name": k, "x": np.round(t.kl, 4).tolist(), "y": np.round(t.gold, 5).tolist()}
                    for k, t in runs.items()
                ],
            },
        )
    )
    rows: list[Row] = []
    for name, t in runs.items():
        kl_end, gold_end = float(t.kl[-1]), float(t.gold[-1])
        ref = _interp(plain.kl, plain.gold, kl_end)
        rows.append(
            [
                name,
                "RL",
                round(kl_end, 2),
                round(gold_end, 4),
                round((gold_end - ref) / float(plain.gold.max()), 4),
                round(_decline(t.gold), 4),
            ]
        )
        out.numbers[f"rl_{name.replace(' ', '_')}_final_gold"] = gold_end
    rows.append(_monitor_row(per["no mitigation"], rng, out))
    return rows


def _monitor_stop(run: Trajectory, rng: np.random.Generator) -> int:
    """Index where GoodhartMonitor, fed noisy gold at every other record, says overoptimised."""
    noise = 0.05 * float(run.gold.max())
    mon = GoodhartMonitor(proxy="proxy", intent="gold")
    for i, step in enumerate(run.steps):
        metrics = {"proxy": float(run.proxy[i])}
        if i % 2 == 0:
            metrics["gold"] = float(run.gold[i]) + float(rng.normal(0.0, noise))
        mon.observe_mapping(float(step), metrics)
        if mon.status.state is MonitorState.OVEROPTIMISED:
            return i
    return len(run.steps) - 1


def _monitor_row(runs: list[Trajectory], rng: np.random.Generator, out: ExperimentOutput) -> Row:
    """Replay each unmitigated run through the monitor; stop at its alarm."""
    stops = [_monitor_stop(t, rng) for t in runs]
    gold_stop = float(np.mean([t.gold[i] for t, i in zip(runs, stops, strict=True)]))
    kl_stop = float(np.mean([t.kl[i] for t, i in zip(runs, stops, strict=True)]))
    peaks = float(np.mean([t.gold.max() for t in runs]))
    finals = float(np.mean([t.gold[-1] for t in runs]))
    regret = (peaks - gold_stop) / peaks
    alarmed = sum(i < len(t.steps) - 1 for t, i in zip(runs, stops, strict=True))
    out.numbers.update(
        monitor_regret=regret,
        monitor_stop_kl=kl_stop,
        no_stop_regret=(peaks - finals) / peaks,
        monitor_alarmed=float(alarmed),
    )
    out.findings.append(
        finding(
            "monitor_stop_regret",
            regret,
            n=len(runs),
            note=f"alarmed in {alarmed}/{len(runs)} runs; mean KL at stop {kl_stop:.2f}; "
            f"gold lost without stopping {(peaks - finals) / peaks:.3f} of peak",
            mitigation="stop at the monitor's alarm and keep the checkpoint nearest its peak step",
        )
    )
    plain = mean_trajectory(runs)
    ref = _interp(plain.kl, plain.gold, kl_stop)
    return [
        "early stop by GoodhartMonitor",
        "RL",
        round(kl_stop, 2),
        round(gold_stop, 4),
        round((gold_stop - ref) / float(plain.gold.max()), 4),
        round(regret, 4),
    ]


@experiment(
    "goodhart.mitigations",
    title="Mitigations at equal KL: ensembles (mean/WCO/UWO), KL penalty, quantiliser, "
    "refreshed proxy, monitor early stop, shared-error failure",
    failure_modes=("reward-model-overoptimization",),
)
def mitigations(seed: int = 0, quick: bool = False) -> ExperimentOutput:
    """Every mitigation in the module docstring, tabulated against the single proxy."""
    rng = np.random.default_rng([seed, 20])
    out = ExperimentOutput()
    rows = _bon_side(rng, quick, out)
    rows += _mlp_side(np.random.default_rng([seed, 21]), quick, out)
    rows += _quantiliser(rng, quick, out) + _rl_side(rng, quick, out)
    out.tables.append(
        Table(
            check=CHECK,
            title="Mitigations: gold at the end of the sweep vs the single proxy at the same KL",
            columns=[
                "method",
                "optimiser",
                "KL (nats)",
                "gold",
                "gain vs single proxy at equal KL (÷ its peak)",
                "decline from own peak",
            ],
            rows=rows,
        )
    )
    return out
