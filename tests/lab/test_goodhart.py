from __future__ import annotations

import numpy as np
import pytest

from alignkit import taxonomy
from alignkit.core import AuditResult, ConfigError, Direction
from alignkit.lab import (
    EXPERIMENTS,
    GOODHART_METRICS,
    RewardWorld,
    adversarial,
    bon_estimate,
    causal,
    extremal,
    fit_form,
    kl_bon,
    regressional,
    run_goodhart,
    train_proxy,
)


def test_registry_lists_the_goodhart_experiments() -> None:
    ids = [i for i, e in EXPERIMENTS.items() if e.group == "goodhart"]
    assert set(ids) == {
        "goodhart.regressional",
        "goodhart.extremal",
        "goodhart.causal",
        "goodhart.adversarial",
        "goodhart.rm_overoptimisation",
        "goodhart.mitigations",
    }
    known = set(taxonomy.ids())
    for _, exp in EXPERIMENTS.items():
        assert exp.title and exp.run.__doc__
        assert set(exp.failure_modes) <= known


def test_metric_table_is_consistent() -> None:
    known = set(taxonomy.ids())
    for name, spec in GOODHART_METRICS.items():
        assert name.startswith("lab.goodhart.") and spec.name == name
        assert spec.thresholds and spec.failure_mode in known


def test_unbiased_bon_estimator_matches_exact_expectations() -> None:
    values = np.arange(1.0, 11.0)  # selector == values: E[max of n without replacement]
    est = bon_estimate(values, values, [1, 2, 10])
    assert est[0] == pytest.approx(values.mean())
    # E[max of 2 drawn without replacement] = Σ i·C(i−1, 1)/C(10, 2)
    assert est[1] == pytest.approx(sum(i * (i - 1) for i in range(1, 11)) / 45)
    assert est[2] == pytest.approx(10.0)
    assert kl_bon(np.array([1.0]))[0] == pytest.approx(0.0)
    assert kl_bon(np.array([60000.0]))[0] == pytest.approx(np.log(60000) - 59999 / 60000)


@pytest.mark.parametrize("form", ["bon", "rl"])
def test_fits_recover_alpha_beta(form: str) -> None:
    rng = np.random.default_rng(0)
    d = np.linspace(0.2, 3.0, 30)
    second = d * d if form == "bon" else d * np.log(d)
    r = d * 0.9 - 0.25 * second + rng.normal(0, 0.005, d.size)
    fit = fit_form(d, r, form)  # type: ignore[arg-type]
    assert fit.alpha == pytest.approx(0.9, abs=0.02)
    assert fit.beta == pytest.approx(0.25, abs=0.02)
    assert fit.beta_ci[0] < 0.25 < fit.beta_ci[1]
    assert fit.r2 > 0.99
    lo, hi = fit.prediction_interval(3.5)
    assert lo < float(fit.predict(np.array([3.5]))[0]) < hi


def test_regressional_gaussian_vs_heavy_tailed() -> None:
    out = regressional(0, quick=True)
    # Gaussian noise keeps a fixed share of the gain; heavy-tailed noise loses it at the top
    assert 0.55 < out.numbers["gaussian_efficiency"] < 0.85
    assert out.numbers["heavy_efficiency"] < 0.2
    # E[U | V] returns toward E[U] = 0 at the very top of V
    assert out.numbers["heavy_top_mean_u"] < 0.5 * out.numbers["heavy_mid_mean_u"]


def test_extremal_causal_adversarial_lose_true_value_under_pressure() -> None:
    ext = extremal(0, quick=True).numbers
    assert ext["final_true"] < ext["peak_true"] and ext["efficiency"] < 0
    cau = causal(0, quick=True).numbers
    assert cau["observational_slope"] > 0.85 and cau["efficiency"] < 0.5
    assert adversarial(0, quick=True).numbers["efficiency"] < 0.75


def test_causal_optimiser_spends_its_whole_budget_on_the_best_split() -> None:
    """At each budget b the optimiser's (c, m) meets c² + (m/2)² = b² and maximises c + m.

    The maximum, by a brute-force search along the constraint, is b·√5 (k = 2); an
    optimum with m = k·c instead of k²·c spent only part of the budget.
    """
    plot = causal(0, quick=True).plots[0].data
    series = {s["name"]: np.asarray(s["y"], dtype=float) for s in plot["series"]}
    budgets = np.asarray(plot["series"][0]["x"], dtype=float)
    c, v = series["true U"], series["proxy V"]
    m = v - c
    np.testing.assert_allclose(c**2 + (m / 2) ** 2, budgets**2, atol=1e-3)
    angles = np.linspace(0.0, np.pi / 2, 200_001)
    best = (np.cos(angles) + 2 * np.sin(angles)).max()  # c = b cos a, m = 2 b sin a
    np.testing.assert_allclose(v, budgets * best, atol=1e-4)


def test_proxy_learns_gold_direction_and_label_noise_hurts() -> None:
    world = RewardWorld()
    rng = np.random.default_rng(0)
    clean = train_proxy(world, 3000, rng)
    noisy = train_proxy(world.with_(label_noise=0.4), 3000, rng)
    assert clean.theta[0] > 0.5 * np.abs(clean.theta[world.quality_dims :]).max()
    assert np.linalg.norm(noisy.theta) < np.linalg.norm(clean.theta)


def test_mlp_proxy_learns_and_its_members_disagree_off_the_data() -> None:
    from alignkit.lab._goodhart_rm import comparisons, train_mlp_proxy
    from alignkit.scoring import standardize_members

    world = RewardWorld()
    rng = np.random.default_rng(0)
    pairs = comparisons(world, 2000, rng)
    # the same comparisons, three initialisations
    members = [
        train_mlp_proxy(world, 0, np.random.default_rng([0, k]), pairs=pairs) for k in range(3)
    ]
    linear = train_proxy(world, 0, rng, pairs=pairs)
    a, b = world.base_samples(20_000, rng), world.base_samples(20_000, rng)
    truth = world.gold(a) > world.gold(b)

    def accuracy(score: np.ndarray, other: np.ndarray) -> float:
        return float(np.mean((score > other) == truth))

    lin_acc = accuracy(linear.score(a), linear.score(b))
    for m in members:  # SE of each accuracy on 20,000 pairs < 0.004
        acc = accuracy(m.score(a), m.score(b))
        assert acc > 0.8 and acc > lin_acc  # a linear proxy cannot see gold's nuisance penalty
    # on a common scale (each member standardised over base-policy responses) the members
    # agree where π₀ puts its data and disagree three base-SDs out
    ref = world.base_samples(100_000, rng)
    ref_scores = np.stack([m.score(ref) for m in members])
    near = standardize_members(ref_scores).std(axis=0)
    far_x = 3.0 * world.base_samples(2000, rng)
    far = standardize_members(np.stack([m.score(far_x) for m in members]), ref_scores).std(axis=0)
    assert float(np.median(far)) > 2.5 * float(np.median(near)) > 0.0


def test_gold_given_projection_is_an_unbiased_substitute() -> None:
    world = RewardWorld()
    rng = np.random.default_rng(1)
    x = world.base_samples(200_000, rng)
    direction = np.array([[1.0, 0.5] + [0.2] * (world.dim - 2)])
    select = x @ direction[0] > 1.5
    g, rb = world.gold(x), world.gold_given(x, direction)
    assert rb[select].mean() == pytest.approx(g[select].mean(), abs=0.03)
    assert rb[select].std() < 0.5 * g[select].std()


def _tilt(x: np.ndarray, r: np.ndarray, g: np.ndarray, c: float) -> tuple[float, float]:
    """KL and gold (relative to the pool mean) of π ∝ exp(c·r) over the pool ``x``."""
    z = c * (r - r.max())
    p = np.exp(z) / np.exp(z).sum()
    kl = float(p @ (np.log(p) + np.log(len(x))))
    return kl, float(p @ g - g.mean())


def test_pool_policy_gradient_traces_the_tilted_policies() -> None:
    from alignkit.lab._goodhart_rl import pool_policy_gradient

    world = RewardWorld()
    proxy = train_proxy(world, 2000, np.random.default_rng(0))
    lr, steps, pool = 0.1, 60, 5000
    traj = pool_policy_gradient(
        world, proxy, np.random.default_rng(1), pool=pool, steps=steps, lr=lr
    )
    x = world.base_samples(pool, np.random.default_rng(1))  # the same pool
    r, g = proxy.score(x), world.gold_given(x, proxy.theta[None, :])
    assert traj.kl[0] == pytest.approx(0.0, abs=1e-12) and traj.gold[0] == pytest.approx(0.0)
    for step, kl, gold in zip(traj.steps, traj.kl, traj.gold, strict=True):
        want_kl, want_gold = _tilt(x, r, g, lr * step)  # no penalty: π ∝ exp(lr·t·r)
        assert kl == pytest.approx(want_kl, rel=1e-6, abs=1e-9)
        assert gold == pytest.approx(want_gold, rel=1e-6, abs=1e-9)
    assert np.all(np.diff(traj.kl) > 0) and traj.kl[-1] < np.log(pool)
    # with a KL penalty β the policy settles on the tilt at c = 1/β, whatever the run length
    beta = 2.0
    pen = pool_policy_gradient(
        world, proxy, np.random.default_rng(1), pool=pool, steps=400, lr=lr, kl_coef=beta
    )
    assert pen.kl[-1] == pytest.approx(_tilt(x, r, g, 1 / beta)[0], rel=1e-3)
    assert pen.kl[-1] < traj.kl[-1]


def test_quick_end_to_end_run() -> None:
    calls: list[tuple[str, int, int]] = []
    result = run_goodhart(seed=0, quick=True, progress=lambda i, d, t: calls.append((i, d, t)))
    assert isinstance(result, AuditResult)
    assert result.target == "lab:goodhart" and not result.errors
    assert [c[1] for c in calls] == list(range(1, 7)) and calls[-1][2] == 6
    metrics = {f.metric for f in result.findings}
    assert metrics == set(GOODHART_METRICS)
    modes = {f.failure_mode for f in result.findings}
    assert {
        "goodhart.regressional",
        "goodhart.extremal",
        "goodhart.causal",
        "goodhart.adversarial",
        "reward-model-overoptimization",
    } <= modes
    for f in result.findings:
        assert f.run_id == result.run_id
        assert f.direction is GOODHART_METRICS[f.metric].direction
    assert all(p.kind == "line" and p.data["series"] for p in result.plots)
    assert any("α" in str(t.columns) or "alpha" in t.columns for t in result.tables)
    decline = next(f for f in result.findings if f.metric == "lab.goodhart.bon_gold_decline")
    assert decline.value > 0.05 and decline.direction is Direction.HIGHER_IS_WORSE
    rows = [str(r[0]) for t in result.tables for r in t.rows]
    # both ensemble settings, and the proxy fitted on all the separate members' labels
    assert any("members share comparisons" in r for r in rows)
    assert any(r.startswith("single proxy, all members' comparisons") for r in rows)
    assert any("MLP members share" in r for r in rows)


def test_same_seed_same_numbers() -> None:
    assert extremal(3, quick=True).numbers == extremal(3, quick=True).numbers
    assert extremal(3, quick=True).numbers != extremal(4, quick=True).numbers


def test_best_of_n_with_tied_scores_picks_among_the_tied_at_random() -> None:
    """Brute force over every n-subset, ties broken uniformly: the estimate depended on
    the order of the pool (0.0 or 10.0 for a true 5.0)."""
    import itertools

    rng = np.random.default_rng(0)
    scores = rng.integers(0, 3, 9).astype(float)
    values = rng.normal(size=9)

    def brute(n: int) -> float:
        means = []
        for pick in itertools.combinations(range(9), n):
            top = max(scores[i] for i in pick)
            means.append(np.mean([values[i] for i in pick if scores[i] == top]))
        return float(np.mean(means))

    ns = [1, 2, 3, 5, 9]
    np.testing.assert_allclose(bon_estimate(scores, values, ns), [brute(n) for n in ns])
    flipped = bon_estimate(scores[::-1].copy(), values[::-1].copy(), ns)
    np.testing.assert_allclose(flipped, [brute(n) for n in ns])


@pytest.mark.parametrize(
    "changes",
    [{"label_noise": 1.5}, {"temperature": float("nan")}, {"temperature": 0.0},
     {"dim": 0}, {"quality_dims": 11}],
)  # fmt: skip
def test_reward_world_refuses_settings_that_mean_nothing(changes: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        RewardWorld().with_(**changes)


def test_proxies_and_kl_refuse_inputs_without_an_answer() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ConfigError, match="at least one comparison"):
        train_proxy(RewardWorld(), 0, rng)  # all-NaN weights and ~50 warnings
    with pytest.raises(ConfigError, match="capacity"):
        train_proxy(RewardWorld(), 10, rng, capacity="cubic")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="n >= 1"):
        kl_bon(0)
