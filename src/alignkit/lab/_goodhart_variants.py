"""The four Goodhart variants of Manheim and Garrabrant (2018), each under rising pressure.

Every experiment draws a large seeded population of candidates with a true value ``U``
and a proxy ``V``, applies optimisation pressure through the proxy, and compares the
true value reached with what the same pressure on ``U`` itself would reach
(*efficiency*, the ``lab.goodhart.*_efficiency`` metrics). Pressure is best-of-n
selection (``n`` up to 4,096; KL = log n − (n − 1)/n nats), a selection rate, or an
optimisation budget, depending on the variant.
"""

from __future__ import annotations

import numpy as np

from alignkit.core import Plot
from alignkit.lab._experiment import ExperimentOutput, experiment
from alignkit.lab._goodhart_metrics import CHECK, finding
from alignkit.lab._goodhart_rm import FloatArray, bon_estimate, kl_bon

__all__ = ["adversarial", "causal", "extremal", "regressional"]

_NS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]


def _pool(quick: bool) -> int:
    return 50_000 if quick else 400_000


def _line(
    title: str, x_label: str, y_label: str, series: dict[str, list[float]], x: list[float]
) -> Plot:
    return Plot(
        check=CHECK,
        title=title,
        kind="line",
        data={
            "x_label": x_label,
            "y_label": y_label,
            "series": [
                {"name": k, "x": x, "y": [round(v, 5) for v in ys]} for k, ys in series.items()
            ],
        },
    )


def _bon_sweep(u: FloatArray, v: FloatArray) -> tuple[list[float], list[float], list[float]]:
    """Best-of-n expectations of (V, U) selecting on V, and of U selecting on U."""
    on_v = bon_estimate(v, np.stack([v, u], axis=1), _NS)
    on_u = bon_estimate(u, u, _NS)
    return on_v[:, 0].tolist(), on_v[:, 1].tolist(), on_u.tolist()


def _efficiency(proxy_true: list[float], oracle: list[float], base: float) -> float:
    return (proxy_true[-1] - base) / (oracle[-1] - base)


@experiment(
    "goodhart.regressional",
    title="Regressional: select on V = U + noise; Gaussian vs heavy-tailed noise",
    failure_modes=("goodhart.regressional",),
)
def regressional(seed: int = 0, quick: bool = False) -> ExperimentOutput:
    """Best-of-n on ``V = U + X`` with ``X`` Gaussian or Student-t (1.5 d.o.f.), ``U ~ N(0, 1)``.

    With Gaussian noise the true value keeps a fixed share of the proxy's gain; with
    heavy-tailed noise the top of the proxy is ever more often noise, so
    ``E[U | V = v] → E[U]`` as ``v`` grows and the gain from more pressure vanishes.
    """
    rng = np.random.default_rng([seed, 1])
    n = _pool(quick)
    u = rng.standard_normal(n)
    noises = {
        "gaussian": rng.standard_normal(n),
        "heavy": rng.standard_t(1.5, size=n) * 0.5,
    }
    out = ExperimentOutput()
    kl = kl_bon(np.asarray(_NS)).round(4).tolist()
    series: dict[str, list[float]] = {}
    for name, x in noises.items():
        v = u + x
        proxy, true, oracle = _bon_sweep(u, v)
        eff = _efficiency(true, oracle, float(u.mean()))
        series[f"proxy V ({name})"] = proxy if name == "gaussian" else []
        series[f"true U ({name} noise)"] = true
        out.numbers[f"{name}_efficiency"] = eff
        out.findings.append(
            finding(
                f"regressional_{name}_efficiency",
                eff,
                n=n,
                note=f"E[U] gain {true[-1]:.3f} vs {oracle[-1]:.3f} selecting on U, n=4096",
                mitigation="select on a less noisy measure, or shrink toward the prior",
            )
        )
        if name == "heavy":
            out.plots.append(_conditional_plot(u, v))
            top = v >= np.quantile(v, 0.999)
            out.numbers["heavy_top_mean_u"] = float(u[top].mean())
            mid = (v >= np.quantile(v, 0.9)) & (v < np.quantile(v, 0.99))
            out.numbers["heavy_mid_mean_u"] = float(u[mid].mean())
        series.setdefault("true U (selecting on U)", oracle)
    series = {k: s for k, s in series.items() if s}
    out.plots.insert(
        0,
        _line(
            "Regressional Goodhart: best-of-n on V = U + X",
            "best-of-n KL (nats)",
            "mean of the selected",
            series,
            kl,
        ),
    )
    return out


def _conditional_plot(u: FloatArray, v: FloatArray) -> Plot:
    """E[U | V in a quantile bin] against the bin's median V (heavy-tailed noise)."""
    qs = np.concatenate([np.linspace(0.5, 0.99, 15), [0.995, 0.999, 0.9999, 1.0]])
    edges = np.quantile(v, qs)
    xs, ys = [], []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        m = (v >= lo) & (v <= hi)
        xs.append(round(float(np.median(v[m])), 4))
        ys.append(float(u[m].mean()))
    return _line(
        "Heavy-tailed noise: E[U | V] returns to E[U] at the top",
        "V (bin median)",
        "E[U | V]",
        {"E[U | V]": ys, "E[U]": [float(u.mean())] * len(xs)},
        xs,
    )


@experiment(
    "goodhart.extremal",
    title="Extremal: the proxy-value relation holds only on the data's range",
    failure_modes=("goodhart.extremal",),
)
def extremal(seed: int = 0, quick: bool = False) -> ExperimentOutput:
    """Best-of-n on a feature ``x`` whose value is linear within the data's range only.

    Candidates have ``x ~ N(0, 1.5²)``. On the range seen when the relation was learned
    (``|x| ≤ 2``) the true value is ``U = x`` — the proxy ``V = x`` is exact there —
    but beyond it ``U = x − (x − 2)²``: strong selection leaves the range and loses.
    """
    rng = np.random.default_rng([seed, 2])
    x = rng.normal(0.0, 1.5, _pool(quick))
    u = x - np.clip(x - 2.0, 0.0, None) ** 2
    proxy, true, oracle = _bon_sweep(u, x)
    eff = _efficiency(true, oracle, float(u.mean()))
    out = ExperimentOutput(
        numbers={"efficiency": eff, "peak_true": max(true), "final_true": true[-1]}
    )
    out.findings.append(
        finding(
            "extremal_efficiency",
            eff,
            n=len(x),
            note=f"true value peaks at {max(true):.3f}, ends at {true[-1]:.3f}",
            mitigation="constrain optimisation to the validated range "
            "(a quantiliser or a KL penalty)",
        )
    )
    out.plots.append(
        _line(
            "Extremal Goodhart: best-of-n on x beyond the data's range",
            "best-of-n KL (nats)",
            "mean of the selected",
            {"proxy V = x": proxy, "true U": true, "true U (selecting on U)": oracle},
            kl_bon(np.asarray(_NS)).round(4).tolist(),
        )
    )
    return out


@experiment(
    "goodhart.causal",
    title="Causal: the optimiser moves the metric instead of its cause",
    failure_modes=("goodhart.causal",),
)
def causal(seed: int = 0, quick: bool = False) -> ExperimentOutput:
    """An optimiser with budget ``b`` raises ``V = c + m`` through the cause ``c`` or directly.

    In the observed population (no optimisation) the metric moves with its cause:
    ``c ~ N(0, 1)``, ``m ~ N(0, 0.3²)``, so a regression of ``U = c`` on ``V`` has
    slope ≈ 0.92 and predicts most of any gain in ``V``. An optimiser that pays
    ``c² + (m/k)²`` (metric manipulation ``k = 2`` times cheaper per unit of ``V``) and
    spends budget ``b²`` on maximising ``V`` puts most of it into ``m``.
    """
    rng = np.random.default_rng([seed, 3])
    n = _pool(quick)
    c, m = rng.standard_normal(n), rng.normal(0.0, 0.3, n)
    v = c + m
    slope = float(np.cov(c, v)[0, 1] / np.var(v))
    k = 2.0
    budgets = np.linspace(0.0, 3.0, 13)
    # maximise c + m s.t. c² + (m/k)² = b²: (c, m) ∝ (1, k²)
    norm = np.sqrt(1 + k**2)
    c_opt, m_opt = budgets / norm, budgets * k**2 / norm
    v_opt = c_opt + m_opt
    predicted = slope * v_opt
    eff = float(c_opt[-1] / budgets[-1])  # selecting on U would put the whole budget into c
    out = ExperimentOutput(numbers={"efficiency": eff, "observational_slope": slope})
    out.findings.append(
        finding(
            "causal_efficiency",
            eff,
            n=n,
            note=f"observational slope of U on V {slope:.3f} predicted "
            f"{predicted[-1]:.2f}; reached {c_opt[-1]:.2f}",
            mitigation="reward the cause, audit how the metric was moved",
        )
    )
    out.plots.append(
        _line(
            "Causal Goodhart: optimising V through its cheapest lever",
            "optimisation budget b",
            "value",
            {
                "proxy V": v_opt.tolist(),
                "true U": c_opt.tolist(),
                "U predicted from V (observational fit)": predicted.tolist(),
                "true U (optimising U)": budgets.tolist(),
            },
            budgets.round(3).tolist(),
        )
    )
    return out


@experiment(
    "goodhart.adversarial",
    title="Adversarial: candidates inflate the proxy in response to the cut-off",
    failure_modes=("goodhart.adversarial",),
)
def adversarial(seed: int = 0, quick: bool = False) -> ExperimentOutput:
    """A selector admits the top ``q`` by ``V``; candidates game ``V`` up to their ability.

    Candidates have merit ``U ~ N(0, 1)`` and a gaming ability ``g ~ Exp(mean 0.7)``
    independent of merit. Knowing the cut-off ``τ``, any candidate with ``U + g ≥ τ``
    inflates ``V`` to reach it; the selector sets ``τ`` so that a share ``q`` passes (the
    equilibrium: ``τ`` is the ``1 − q`` quantile of ``U + g``). Without the adversary
    the selector would admit the top ``q`` by merit.
    """
    rng = np.random.default_rng([seed, 4])
    n = _pool(quick)
    u = rng.standard_normal(n)
    reach = u + rng.exponential(0.7, n)
    qs = np.geomspace(0.5, 0.001, 12)
    true, oracle, honest_cut = [], [], []
    for q in qs:
        sel = reach >= np.quantile(reach, 1 - q)
        true.append(float(u[sel].mean()))
        oracle.append(float(u[u >= np.quantile(u, 1 - q)].mean()))
        honest_cut.append(float(np.quantile(u, 1 - q)))
    eff = (true[-1] - float(u.mean())) / (oracle[-1] - float(u.mean()))
    out = ExperimentOutput(numbers={"efficiency": eff})
    out.findings.append(
        finding(
            "adversarial_efficiency",
            eff,
            n=n,
            note=f"merit of admitted {true[-1]:.3f} vs {oracle[-1]:.3f} without gaming, top 0.1 %",
            mitigation="keep the rule's details private, verify claims, "
            "use measures that are costly to inflate",
        )
    )
    pressure = np.log(1 / qs).round(4).tolist()
    out.plots.append(
        _line(
            "Adversarial Goodhart: merit of admitted candidates",
            "selection pressure log(1/q)",
            "mean merit U of the admitted",
            {"with gaming": true, "without gaming": oracle},
            pressure,
        )
    )
    return out
