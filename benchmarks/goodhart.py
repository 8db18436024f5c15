"""The measured bar of issue 16: the Goodhart lab's reproduction and GoodhartMonitor.

Three parts, each against the issue's bar:

1. Reward-model over-optimisation (``goodhart.rm_overoptimisation``): gold peaks inside
   the sweep and ends >= 20 % below its peak, beta's 95 % interval excludes 0, R^2 >= 0.95
   for both forms, and the best-of-n form fitted on n <= 1000 predicts gold at n = 60,000
   within 10 % and within its 95 % prediction interval.
2. Mitigations (``goodhart.mitigations``): WCO/UWO ensembles vs a single proxy over
   best-of-n KL 0-8.4 nats without and with 25 % label noise (linear members on shared or
   separate comparisons; MLP members sharing 4,000 or 1,000 comparisons), and the
   shared-error case.
3. GoodhartMonitor over ``--runs`` seeded simulated runs of each shape (best-of-n-like,
   RL-like with a long flat top, plateau without decline, noisy sparse intent), against
   plain rolling-mean-vs-running-maximum rules, two of them with their tolerance chosen
   the way the monitor's ``alpha`` was.

    python benchmarks/goodhart.py [--seed 0] [--runs 60] [--quick] [--json out.json]
    python benchmarks/goodhart.py --calibrate   # how the monitor's defaults were chosen

``--calibrate`` replays the monitor's alarm rule over a grid of ``alpha`` and the plain
rule over a grid of tolerances on runs with seeds from ``CALIBRATION_SEED`` on (100 per
declining shape, 300 plateaus), disjoint from the benchmark's, and marks the largest
setting whose false-alarm rate there is at most 4 %; the defaults and the "calibrated"
baseline rows are those settings.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

from _cli import positive_int, writable_json_path, write_json

from alignkit.lab import mitigations, reward_model_overoptimisation
from alignkit.monitor import (
    SHAPES,
    DetectorScore,
    SimulatedRun,
    monitor_rule,
    rolling_max_rule,
    score_detector,
    simulate_run,
)
from alignkit.monitor._detector import CALIBRATION_SEED
from alignkit.monitor._simulate import look_trace, trace_rule

CALIBRATION_TARGET = 0.04
"""Largest false-alarm rate on the calibration runs a chosen setting may have."""
# settings chosen by --calibrate (CALIBRATION_TARGET on the calibration seeds)
CALIBRATED_PLAIN = ((10, 3.5), (5, 4.5))


def _fmt(x: float) -> str:
    return f"{x:.3f}" if abs(x) < 100 else f"{x:.1f}"


def rm_part(seed: int, quick: bool) -> tuple[dict[str, float], list[tuple[str, str, bool | None]]]:
    n = reward_model_overoptimisation(seed, quick).numbers
    beta_excl = n["bon_beta_ci_low"] > 0 or n["bon_beta_ci_high"] < 0
    rl_excl = n["rl_beta_ci_low"] > 0 or n["rl_beta_ci_high"] < 0
    inside = n["bon_pred_60k_pi_low"] <= n["bon_actual_60k"] <= n["bon_pred_60k_pi_high"]
    rows = [
        (
            "best-of-n gold peaks inside the sweep, ends >= 20 % below peak",
            f"peak at n={n['bon_peak_n']:.0f}; decline {n['bon_decline']:.1%} (mean of "
            f"{n['proxies']:.0f} proxies; per proxy {n['bon_decline_min']:.1%}-"
            f"{n['bon_decline_max']:.1%})",
            1 < n["bon_peak_n"] < 60000 and n["bon_decline"] >= 0.2,
        ),
        (
            "RL gold ends >= 20 % below peak",
            f"decline {n['rl_decline']:.1%} at KL {n['rl_final_kl']:.2f}",
            n["rl_decline"] >= 0.2,
        ),
        (
            "beta's 95 % interval excludes 0 (best-of-n)",
            f"beta {n['bon_beta']:.4f} [{n['bon_beta_ci_low']:.4f}, {n['bon_beta_ci_high']:.4f}]",
            beta_excl,
        ),
        (
            "beta's 95 % interval excludes 0 (RL)",
            f"beta {n['rl_beta']:.4f} [{n['rl_beta_ci_low']:.4f}, {n['rl_beta_ci_high']:.4f}]",
            rl_excl,
        ),
        (
            "R^2 >= 0.95, best-of-n form d(a - b d) (fit n <= 1000)",
            f"{n['bon_r2']:.4f}",
            n["bon_r2"] >= 0.95,
        ),
        (
            "R^2 >= 0.95, RL form d(a - b ln d) (all points)",
            f"{n['rl_r2']:.4f} (first 70 % of d: {n['rl_first70_r2']:.4f}; the best-of-n form "
            f"d(a - b d) fits the same RL points with R^2 {n['rl_bon_form_r2']:.4f}; "
            f"Gaussian-policy REINFORCE: R^2 {n['rl_gaussian_r2']:.4f}, decline "
            f"{n['rl_gaussian_decline']:.1%} at KL {n['rl_gaussian_final_kl']:.2f})",
            n["rl_r2"] >= 0.95,
        ),
        (
            "best-of-n fit predicts n = 60,000 within 10 %",
            f"predicted {n['bon_pred_60k']:.4f}, measured {n['bon_actual_60k']:.4f} "
            f"({n['bon_pred_60k_rel_error']:+.1%})",
            abs(n["bon_pred_60k_rel_error"]) <= 0.10,
        ),
        (
            "... and within its 95 % prediction interval",
            f"[{n['bon_pred_60k_pi_low']:.4f}, {n['bon_pred_60k_pi_high']:.4f}]",
            inside,
        ),
        (
            "held-out prediction error (mean |error| / peak gold)",
            f"best-of-n n > 1000: {n['bon_heldout_error']:.3f}; RL last 30 % of d: "
            f"{n['rl_heldout_error']:.3f}",
            None,
        ),
    ]
    return n, rows


def mitigation_part(
    seed: int, quick: bool
) -> tuple[dict[str, float], list[tuple[str, str, bool | None]]]:
    n = mitigations(seed, quick).numbers
    rows: list[tuple[str, str, bool | None]] = []
    settings = [("", "members share comparisons"), ("separate_", "separate comparisons")]
    settings += [
        (f"mlp{c}_", f"MLP members share {c:,} comparisons")
        for c in (4000, 1000)
        if f"single_proxy_mlp{c}_noise0_decline" in n  # --quick runs 1,000 alone
    ]
    for data, label in settings:
        for noise in (0, 25):
            key = f"{data}noise{noise}"
            single = n[f"single_proxy_{key}_decline"]
            for obj in ("wco", "uwo", "mean"):
                dec = n[f"ensemble_{obj}_{key}_decline"]
                gain = n[f"ensemble_{obj}_{key}_gain"]
                ok = (dec <= 0.02 and single > 0.02) if obj != "mean" else None
                rows.append(
                    (
                        f"{obj.upper()} ensemble ({label}), {noise} % label noise: no gold "
                        "decline over KL 0-8.4"
                        if obj != "mean"
                        else f"mean ensemble ({label}), {noise} % label noise (reference)",
                        f"decline {dec:.1%} vs single proxy {single:.1%}; gold gain at KL 8.4 "
                        f"{gain:+.1%} of the single proxy's peak (published ~30 % / ~75 %)",
                        ok,
                    )
                )
            if data.startswith("mlp"):
                rows.append(
                    (
                        f"single MLP proxy ({label}), {noise} % label noise: held-out "
                        "pair accuracy against gold (reference)",
                        f"{n[f'{key}_pair_accuracy']:.3f}",
                        None,
                    )
                )
            if data == "separate_":
                rows.append(
                    (
                        f"single proxy on all 5 members' comparisons, {noise} % label noise "
                        "(reference)",
                        f"decline {n[f'pooled_proxy_{key}_decline']:.1%}; gold gain at KL 8.4 "
                        f"{n[f'pooled_proxy_{key}_gain']:+.1%}",
                        None,
                    )
                )
    wco, uwo = n["shared_ensemble_wco_decline"], n["shared_ensemble_uwo_decline"]
    rows.append(
        (
            "shared-error case: ensembles fail (WCO and UWO still decline >= 20 %)",
            f"WCO {wco:.1%}, UWO {uwo:.1%}, single {n['shared_single_proxy_decline']:.1%}",
            wco >= 0.2 and uwo >= 0.2,
        )
    )
    rows.append(
        (
            "monitor early stop (RL): gold lost vs peak",
            f"{n['monitor_regret']:.1%} (alarmed in {n['monitor_alarmed']:.0f} runs) vs "
            f"{n['no_stop_regret']:.1%} without stopping",
            n["monitor_regret"] < n["no_stop_regret"],
        )
    )
    return n, rows


def monitor_part(seed: int, runs: int) -> dict[str, Any]:
    sims = [simulate_run(shape, seed * 100_000 + i) for shape in SHAPES for i in range(runs)]
    detectors: dict[str, Callable[[SimulatedRun], float | None]] = {
        "GoodhartMonitor (defaults)": monitor_rule(),
        "rolling mean (5) vs running max, 2 SE": rolling_max_rule(5, 2.0),
        "rolling mean (10) vs running max, 2 SE": rolling_max_rule(10, 2.0),
        "rolling mean (10) vs running max, 3 SE": rolling_max_rule(10, 3.0),
        "rolling mean (10) vs running max, 4 SE": rolling_max_rule(10, 4.0),
    }
    for window, sds in CALIBRATED_PLAIN:
        name = f"rolling mean ({window}) vs running max, {sds:g} SE (calibrated)"
        detectors[name] = rolling_max_rule(window, sds)
    out: dict[str, Any] = {}
    for name, det in detectors.items():
        t0 = time.perf_counter()
        pooled = score_detector(sims, det)
        per = {s: score_detector([r for r in sims if r.shape == s], det) for s in SHAPES}
        out[name] = {"pooled": pooled, "per_shape": per, "seconds": time.perf_counter() - t0}
    return out


def _line(name: str, s: DetectorScore, mark: str = "") -> str:
    return (
        f"| {name}{mark} | {s.raised}/{s.reaching} = {s.detection_rate:.1%} | {s.early} | "
        f"{s.late_or_missed} | {s.false_alarms}/{s.never_decline} = "
        f"{s.false_alarm_rate:.1%} | {s.median_delay:+.3f} |"
    )


def calibrate(per_shape: int = 100, plateaus: int = 300) -> None:
    """Print the calibration grids (see the module docstring)."""
    runs = [
        simulate_run(shape, CALIBRATION_SEED + i)
        for shape in SHAPES
        for i in range(plateaus if shape == "plateau" else per_shape)
    ]
    traces = {id(r): look_trace(r) for r in runs}
    grids: dict[str, list[tuple[str, Callable[[SimulatedRun], float | None]]]] = {
        "GoodhartMonitor": [
            (f"alpha = {a:g}", trace_rule(traces, a))
            for a in (0.02, 0.015, 0.01, 0.008, 0.007, 0.006, 0.005, 0.004, 0.003, 0.002)
        ],
    }
    for window in (5, 10, 20):
        grids[f"rolling mean ({window})"] = [
            (f"{sds:g} SE", rolling_max_rule(window, sds))
            for sds in (3.0, 3.25, 3.5, 3.75, 4.0, 4.5)
        ]
    print(f"Calibration runs: seeds from {CALIBRATION_SEED}, {len(runs)} runs")
    print("| detector | raised | early | late/missed | false alarms | median delay |")
    print("|---|---|---|---|---|---|")
    for family, settings in grids.items():
        scores = [(label, score_detector(runs, det)) for label, det in settings]
        ok = [i for i, (_, sc) in enumerate(scores) if sc.false_alarm_rate <= CALIBRATION_TARGET]
        chosen = ok[0] if ok else None  # grids run from loose to strict
        for i, (label, sc) in enumerate(scores):
            print(_line(f"{family}, {label}", sc, " **(chosen)**" if i == chosen else ""))


def _score_dict(s: DetectorScore) -> dict[str, float]:
    d = dict(s.__dict__)
    d.update(detection_rate=s.detection_rate, false_alarm_rate=s.false_alarm_rate)
    return d


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", type=positive_int, default=60, help="simulated runs per shape")
    ap.add_argument("--quick", action="store_true", help="smaller pools (not for the table)")
    ap.add_argument("--json", type=writable_json_path, default=None)
    ap.add_argument("--calibrate", action="store_true", help="print the calibration grids")
    args = ap.parse_args()
    t0 = time.perf_counter()
    if args.calibrate:
        calibrate()
        print(f"\ntotal {time.perf_counter() - t0:.0f} s")
        return 0
    rm_numbers, rm_rows = rm_part(args.seed, args.quick)
    mit_numbers, mit_rows = mitigation_part(args.seed, args.quick)
    mon = monitor_part(args.seed, args.runs)
    print("| bar | measured | met |\n|---|---|---|")
    for bar, measured, ok in rm_rows + mit_rows:
        met = "n/a" if ok is None else ("yes" if ok else "no")
        print(f"| {bar} | {measured} | {met} |")
    ours = mon["GoodhartMonitor (defaults)"]["pooled"]
    print()
    print(f"Monitor: {args.runs} runs per shape ({args.runs * len(SHAPES)} runs), seed {args.seed}")
    print(
        "| detector | raised in window (reaching runs) | early | late/missed | false "
        "alarms (plateau) | median delay (fraction of run) |"
    )
    print("|---|---|---|---|---|---|")
    for name, res in mon.items():
        print(_line(name, res["pooled"]))
    print()
    print(
        "| shape | GoodhartMonitor raised | early | late/missed | false alarms | median delay "
        "| reached with < 10 % left (alarmed) |"
    )
    print("|---|---|---|---|---|---|---|")
    for shape, s in mon["GoodhartMonitor (defaults)"]["per_shape"].items():
        print(
            f"| {shape} | {s.raised}/{s.reaching} | {s.early} | {s.late_or_missed} | "
            f"{s.false_alarms}/{s.never_decline} | {s.median_delay:+.3f} | "
            f"{s.reaching_late} ({s.late_alarmed}) |"
        )
    bars = [
        (
            "overoptimised raised in >= 90 % of reaching runs, in the window",
            ours.detection_rate >= 0.9,
        ),
        ("false overoptimised in <= 5 % of never-declining runs", ours.false_alarm_rate <= 0.05),
    ]
    for name, res in mon.items():
        if name.startswith("rolling"):
            base: DetectorScore = res["pooled"]
            both = (
                ours.median_delay < base.median_delay
                and ours.false_alarm_rate < base.false_alarm_rate
            )
            bars.append((f"beats '{name}' on both median delay and false alarms", both))
    print()
    for bar, ok in bars:
        print(f"- {bar}: {'met' if ok else 'NOT met'}")
    print(
        f"\ntotal {time.perf_counter() - t0:.0f} s on {platform.processor() or platform.machine()}"
        f", Python {platform.python_version()}"
    )
    if args.json:
        payload = {
            "seed": args.seed,
            "runs_per_shape": args.runs,
            "reward_model": rm_numbers,
            "mitigations": mit_numbers,
            "monitor": {
                name: {
                    "pooled": _score_dict(r["pooled"]),
                    "per_shape": {k: _score_dict(v) for k, v in r["per_shape"].items()},
                    "seconds": r["seconds"],
                }
                for name, r in mon.items()
            },
        }
        write_json(args.json, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
