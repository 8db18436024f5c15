"""Reward-model over-optimisation: best-of-n and RL against a Bradley–Terry proxy, with fits."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from alignkit.core import Plot, Table
from alignkit.lab._experiment import ExperimentOutput, experiment
from alignkit.lab._goodhart_fit import FormFit, fit_form
from alignkit.lab._goodhart_metrics import CHECK, finding
from alignkit.lab._goodhart_rl import Trajectory, policy_gradient, pool_policy_gradient
from alignkit.lab._goodhart_rm import (
    Capacity,
    FloatArray,
    Proxy,
    RewardWorld,
    bon_estimate,
    comparisons,
    kl_bon,
    train_proxy,
)

__all__ = [
    "BON_NS",
    "WORLD",
    "bon_curve",
    "bon_curves",
    "mean_trajectory",
    "reward_model_overoptimisation",
    "rl_run",
]

WORLD = RewardWorld()
N_COMPARISONS = 1000
N_PROXIES = 6
BON_NS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000, 2000, 4000, 8000, 16000, 30000, 60000]
RL_STEPS = 230
RL_POOL = 200_000
RL_LR = 0.06
_MITIGATE = "use a KL penalty or early stopping, an ensemble (WCO/UWO), or refresh the proxy"


def bon_curves(
    world: RewardWorld,
    members: list[Proxy],
    ns: list[int],
    rng: np.random.Generator,
    *,
    pool: int,
    repeats: int = 1,
    objectives: Mapping[str, Callable[[FloatArray], FloatArray] | None] | None = None,
) -> dict[str, tuple[FloatArray, FloatArray]]:
    """Best-of-n gold and selector score (relative to π₀) per objective and ``n``.

    Each objective maps the members' scores (shape ``(members, pool)``) to one score per
    response (``None``: the first member alone); all objectives see the same pools.
    Gold enters the unbiased estimator as its expectation given the members'
    projections (:meth:`RewardWorld.gold_given`), exact because every objective looks
    only at those projections.
    """
    objs = dict(objectives) if objectives is not None else {"proxy": None}
    thetas = np.stack([p.theta for p in members])
    sums = {k: (np.zeros(len(ns)), np.zeros(len(ns))) for k in objs}
    for _ in range(repeats):
        x = world.base_samples(pool, rng)
        scores = np.stack([p.score(x) for p in members])
        g = world.gold_given(x, thetas)
        for name, objective in objs.items():
            s = scores[0] if objective is None else objective(scores)
            est = bon_estimate(s, np.stack([g, s], axis=1), ns)
            sums[name][0][:] += (est[:, 0] - g.mean()) / repeats
            sums[name][1][:] += (est[:, 1] - s.mean()) / repeats
    return sums


def bon_curve(
    world: RewardWorld, proxy: Proxy, ns: list[int], rng: np.random.Generator, *, pool: int
) -> tuple[FloatArray, FloatArray]:
    """Best-of-n gold and proxy (relative to π₀) for one proxy."""
    return bon_curves(world, [proxy], ns, rng, pool=pool)["proxy"]


def _pairwise_accuracy(world: RewardWorld, proxy: Proxy, rng: np.random.Generator) -> float:
    a, b = world.base_samples(20000, rng), world.base_samples(20000, rng)
    return float(np.mean((proxy.score(a) > proxy.score(b)) == (world.gold(a) > world.gold(b))))


def _fit_line(title: str, d: FloatArray, curves: dict[str, FloatArray]) -> Plot:
    return Plot(
        check=CHECK,
        title=title,
        kind="line",
        data={
            "x_label": "d = √KL (nats^½)",
            "y_label": "reward relative to the base policy",
            "series": [
                {"name": k, "x": np.round(d, 4).tolist(), "y": np.round(v, 5).tolist()}
                for k, v in curves.items()
            ],
        },
    )


def _fit_row(label: str, fit: FormFit, held_out: float | None) -> list[str | float | int | None]:
    return [
        label,
        round(fit.alpha, 4),
        round(fit.beta, 4),
        f"[{fit.beta_ci[0]:.4f}, {fit.beta_ci[1]:.4f}]",
        round(fit.r2, 4),
        None if held_out is None else round(held_out, 4),
        fit.n,
    ]


@experiment(
    "goodhart.rm_overoptimisation",
    title="Reward-model over-optimisation: best-of-n and RL on a Bradley-Terry proxy, fitted",
    failure_modes=("reward-model-overoptimization",),
)
def reward_model_overoptimisation(seed: int = 0, quick: bool = False) -> ExperimentOutput:
    """Gold and proxy against d = √KL for best-of-n (n ≤ 60,000) and KL-regularised RL.

    Fits ``d(α − βd)`` on best-of-n points with ``n ≤ 1000`` and checks its prediction
    at ``n = 60,000``; fits ``d(α − β ln d)`` on the first 70 % (in ``d``) of the RL run
    and checks it on the rest. A knob table varies comparisons, capacity and label noise.
    """
    rng = np.random.default_rng([seed, 10])
    n_proxies = 3 if quick else N_PROXIES
    proxies = [train_proxy(WORLD, N_COMPARISONS, rng) for _ in range(n_proxies)]
    out = ExperimentOutput()
    _bon_part(proxies, rng, quick, out)
    _rl_part(proxies, rng, quick, out)
    out.tables.append(_knob_table(rng, quick))
    return out


def _bon_part(
    proxies: list[Proxy], rng: np.random.Generator, quick: bool, out: ExperimentOutput
) -> None:
    """Best-of-n sweep, the d(α − βd) fit and its n = 60,000 prediction."""
    n_proxies = len(proxies)
    pool = 60_000 if quick else 200_000
    curves = [bon_curve(WORLD, p, BON_NS, rng, pool=pool) for p in proxies]
    gold = np.mean([c[0] for c in curves], axis=0)
    prox = np.mean([c[1] for c in curves], axis=0)
    d = np.sqrt(kl_bon(np.asarray(BON_NS)))
    fit_mask = (np.asarray(BON_NS) <= 1000) & (d > 0)
    bon_fit = fit_form(d[fit_mask], gold[fit_mask], "bon")
    heldout = ~fit_mask & (d > 0)
    bon_err = float(np.mean(np.abs(bon_fit.predict(d[heldout]) - gold[heldout]) / gold.max()))
    pred_60k = float(bon_fit.predict(d[-1:])[0])
    interval = bon_fit.prediction_interval(float(d[-1]))
    peak, final = float(gold.max()), float(gold[-1])
    declines = [1 - c[0][-1] / c[0].max() for c in curves]
    out.numbers.update(
        bon_peak=peak,
        bon_final=final,
        bon_decline=(peak - final) / peak,
        bon_peak_n=float(BON_NS[int(np.argmax(gold))]),
        bon_alpha=bon_fit.alpha,
        bon_beta=bon_fit.beta,
        bon_beta_ci_low=bon_fit.beta_ci[0],
        bon_beta_ci_high=bon_fit.beta_ci[1],
        bon_r2=bon_fit.r2,
        bon_heldout_error=bon_err,
        bon_pred_60k=pred_60k,
        bon_actual_60k=final,
        bon_pred_60k_rel_error=(pred_60k - final) / final,
        bon_pred_60k_pi_low=interval[0],
        bon_pred_60k_pi_high=interval[1],
        bon_decline_min=float(min(declines)),
        bon_decline_max=float(max(declines)),
        proxy_pairwise_accuracy=float(
            np.mean([_pairwise_accuracy(WORLD, p, rng) for p in proxies])
        ),
        proxies=float(n_proxies),
    )
    out.findings.append(
        finding(
            "bon_gold_decline",
            (peak - final) / peak,
            n=n_proxies,
            note=f"mean of {n_proxies} proxies: gold peaks at n={BON_NS[int(np.argmax(gold))]} "
            f"({peak:.3f}), {final:.3f} at n=60000; per proxy decline "
            f"{min(declines):.2f}-{max(declines):.2f}",
            mitigation=_MITIGATE,
        )
    )
    out.plots.append(
        _fit_line(
            "Best-of-n against Bradley–Terry proxies (mean of the proxies; fit on n ≤ 1000)",
            d,
            {"gold": gold, "proxy": prox, "fit d(α − βd)": bon_fit.predict(d)},
        )
    )
    out.tables.append(
        Table(
            check=CHECK,
            title="Best-of-n at n = 60,000: fitted form's prediction vs measured gold",
            columns=["predicted", "95% prediction interval", "measured", "relative error"],
            rows=[
                [
                    round(pred_60k, 4),
                    f"[{interval[0]:.4f}, {interval[1]:.4f}]",
                    round(final, 4),
                    round((pred_60k - final) / final, 4),
                ]
            ],
        )
    )
    out.tables.append(
        Table(
            check=CHECK,
            title="Fits of the Gao et al. forms (held-out error: mean |error| / peak gold)",
            columns=["form", "alpha", "beta", "beta 95% CI", "R²", "held-out error", "points"],
            rows=[_fit_row("best-of-n d(α − βd), fit n ≤ 1000", bon_fit, bon_err)],
        )
    )


def mean_trajectory(runs: list[Trajectory]) -> Trajectory:
    """The step-by-step mean of runs recorded at the same steps."""
    return Trajectory(
        runs[0].steps,
        *(np.mean([getattr(t, f) for t in runs], axis=0) for f in ("kl", "gold", "proxy")),
    )


def rl_run(proxy: Proxy, rng: np.random.Generator, quick: bool, **options: float) -> Trajectory:
    """The lab's RL run: natural policy gradient over a pool of base responses."""
    return pool_policy_gradient(
        WORLD,
        proxy,
        rng,
        pool=30_000 if quick else RL_POOL,
        steps=RL_STEPS,
        lr=RL_LR,
        kl_coef=float(options.get("kl_coef", 0.0)),
        refresh_every=int(options.get("refresh_every", 0)),
    )


def _rl_part(
    proxies: list[Proxy], rng: np.random.Generator, quick: bool, out: ExperimentOutput
) -> None:
    """RL runs on the same proxies and the d(α − β ln d) fit.

    The reported RL is :func:`rl_run` (a softmax policy over base responses); REINFORCE
    on a Gaussian policy over the feature space is fitted beside it for comparison.
    """
    traj = mean_trajectory([rl_run(p, rng, quick) for p in proxies])
    gauss = mean_trajectory(
        [
            policy_gradient(WORLD, p, rng, steps=RL_STEPS, batch=64 if quick else 256)
            for p in proxies
        ]
    )
    rd, rg = traj.d, traj.gold
    pos = rd > 0
    cut = pos & (rd <= 0.7 * rd.max())
    rl_fit = fit_form(rd[cut], rg[cut], "rl")
    rl_all = fit_form(rd[pos], rg[pos], "rl")
    rl_quadratic = fit_form(rd[pos], rg[pos], "bon")  # for comparison: the best-of-n form
    gpos = gauss.d > 0
    gauss_fit = fit_form(gauss.d[gpos], gauss.gold[gpos], "rl")
    rest = pos & ~cut
    rl_err = float(np.mean(np.abs(rl_fit.predict(rd[rest]) - rg[rest]) / rg.max()))
    rl_peak, rl_final = float(rg.max()), float(rg[-1])
    out.numbers.update(
        rl_peak=rl_peak,
        rl_final=rl_final,
        rl_final_kl=float(traj.kl[-1]),
        rl_decline=(rl_peak - rl_final) / rl_peak,
        rl_alpha=rl_all.alpha,
        rl_beta=rl_all.beta,
        rl_beta_ci_low=rl_all.beta_ci[0],
        rl_beta_ci_high=rl_all.beta_ci[1],
        rl_r2=rl_all.r2,
        rl_bon_form_r2=rl_quadratic.r2,
        rl_first70_r2=rl_fit.r2,
        rl_heldout_error=rl_err,
        rl_gaussian_r2=gauss_fit.r2,
        rl_gaussian_decline=1 - float(gauss.gold[-1]) / float(gauss.gold.max()),
        rl_gaussian_final_kl=float(gauss.kl[-1]),
    )
    out.findings.append(
        finding(
            "rl_gold_decline",
            (rl_peak - rl_final) / rl_peak,
            n=len(rd),
            note=f"gold peaks at {rl_peak:.3f}, ends at {rl_final:.3f} (KL {traj.kl[-1]:.2f})",
            mitigation=_MITIGATE,
        )
    )
    out.plots.append(
        _fit_line(
            "Natural policy gradient over base responses, same proxies (mean over proxies)",
            rd,
            {"gold": rg, "proxy": traj.proxy, "fit d(α − β ln d)": rl_fit.predict(rd)},
        )
    )
    out.plots.append(
        _fit_line(
            "REINFORCE on a Gaussian policy, same proxies (mean over proxies)",
            gauss.d,
            {"gold": gauss.gold, "proxy": gauss.proxy},
        )
    )
    fits = next(t for t in out.tables if t.title.startswith("Fits of the Gao"))
    fits.rows.extend(
        [
            _fit_row("RL d(α − β ln d), all points", rl_all, None),
            _fit_row("RL fitted with the best-of-n form d(α − βd), all points", rl_quadratic, None),
            _fit_row("RL d(α − β ln d), first 70 % of d", rl_fit, rl_err),
            _fit_row("Gaussian-policy REINFORCE d(α − β ln d), all points", gauss_fit, None),
        ]
    )


def _knob_table(rng: np.random.Generator, quick: bool) -> Table:
    """Peak and n = 1000 gold for comparisons × capacity × label noise (plain Monte Carlo)."""
    rows: list[list[str | float | int | None]] = []
    sizes = (250, 1000, 4000)
    pool = 10_000 if quick else 200_000
    ns = [1, 4, 16, 64, 256, 1000]
    for n_comp in sizes:
        for capacity in ("linear", "quadratic"):
            for noise in (0.0, 0.25):
                world = WORLD.with_(label_noise=noise)
                cap: Capacity = "linear" if capacity == "linear" else "quadratic"
                proxy = Proxy(train_proxy(world, n_comp, rng, cap).theta, cap)
                x = world.base_samples(pool, rng)
                g = world.gold(x)
                est = bon_estimate(proxy.score(x), g, ns) - g.mean()
                rows.append(
                    [
                        n_comp,
                        capacity,
                        noise,
                        round(_pairwise_accuracy(world, proxy, rng), 3),
                        round(float(est.max()), 3),
                        round(float(est[-1]), 3),
                    ]
                )
    return Table(
        check=CHECK,
        title="Proxy knobs: pairwise accuracy and best-of-n gold (peak over n ≤ 1000, at n = 1000)",
        columns=[
            "comparisons",
            "capacity",
            "label noise",
            "pairwise accuracy",
            "peak gold",
            "gold at n=1000",
        ],
        rows=rows,
    )


def fresh_pairs(
    world: RewardWorld, n: int, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``n`` new comparisons from π₀ (re-exported for the mitigation experiments)."""
    return comparisons(world, n, rng)
