"""``alignkit train bon``: best-of-n reranking with a reward-model ensemble."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Any

from rich.table import Table

from alignkit.cli._common import (
    _finite,
    literal,
    not_an_input,
    note_replaced_file,
    out,
    print_json,
    working,
    writable_out,
)
from alignkit.core import ConfigError, DataError, atomic_file

MAX_BON_N = 4096
"""Most samples per prompt ``train bon`` takes: all of them are held and scored at once."""
MAX_BON_LAM = 1e6
"""Largest λ ``train bon`` takes: far past any useful penalty, and scores stay finite."""


def run_bon(
    target: str,
    reward_dir: Path,
    n: int,
    objective: str,
    lam: float,
    prompts: Path | None,
    data: Path | None,
    max_per_kind: int | None,
    seed: int,
    out_file: Path | None,
    json_: bool,
) -> None:
    """``alignkit train bon`` once its options are parsed: check, sample, write, print.

    Raises:
        ConfigError: An option is out of range, or ``--out`` is an input (before any work).
        DataError: There are no prompts.
    """
    check_bon_options(n, objective, lam)
    if out_file is not None:
        writable_out(out_file, folder=False)
        inputs = {"--prompts": prompts, "--data": data, "--reward": reward_dir}
        if prompts is None and data is None:  # the target's own pack is read
            from alignkit.models import connect

            inputs["item pack"] = connect(target).default_pack
        not_an_input(out_file, "--out", inputs)
    with working(f"best-of-{n}"):
        result = asyncio.run(
            best_of_n_rows(target, reward_dir, n, objective, lam, prompts, data, max_per_kind, seed)
        )
    if out_file is not None:
        write_choices(out_file, result["choices"])
    if json_:
        print_json(result)
        return
    if result["curve"]:
        table = Table(title=literal(f"best-of-n against {reward_dir} ({objective})"))
        for col in ("n", "KL bound (nats)", "proxy", "gold"):
            table.add_column(col, justify="right")
        for p in result["curve"]:
            table.add_row(str(p["n"]), f"{p['kl']:.2f}", f"{p['proxy']:.3f}", f"{p['gold']:.3f}")
        out.print(table)
    for c in result["choices"][:5]:
        out.print(f"{c['prompt'][-1]['content'][:70]!r} → {c['best'][:70]!r}", markup=False)


def check_bon_options(n: int, objective: str, lam: float) -> None:
    """Refuse, before any work, ``--n``, ``--objective`` or ``--lam`` out of range.

    Raises:
        ConfigError: One of them is out of range (one line).
    """
    if n > MAX_BON_N:  # every sample of every prompt is held and scored at once
        raise ConfigError(f"--n must be at most {MAX_BON_N}, not {n}")
    if objective not in ("mean", "worst", "uwo"):
        raise ConfigError(f"--objective must be mean, worst or uwo, not '{objective}'")
    # NaN ranked every sample alike; 1.7e308 overflowed every score to -inf; a negative λ
    # rewards the members' disagreement
    if not (math.isfinite(lam) and 0 <= lam <= MAX_BON_LAM):
        raise ConfigError(f"--lam must be a number from 0 to {MAX_BON_LAM:g}, not {lam}")


def write_choices(out_file: Path, choices: list[dict[str, Any]]) -> None:
    """Write the choices as JSON lines; a score that is not finite is written as null.

    ``-Infinity`` is no JSON: the file could not be read back.
    """
    note_replaced_file(out_file)
    with atomic_file(out_file, text=True) as fh:
        fh.writelines(json.dumps(_finite(r), allow_nan=False) + "\n" for r in choices)


async def best_of_n_rows(
    uri: str,
    reward_dir: Path,
    n: int,
    objective: Any,
    lam: float,
    prompts: Path | None,
    data: Path | None,
    max_per_kind: int | None,
    seed: int,
) -> dict[str, Any]:
    """Best-of-``n`` choices for ``--prompts`` or the pack's heldout items, as JSON rows.

    With pack items, also the gold (rule critic) score of best-of-k for k = 1, 2, 4, … n.
    """
    from dataclasses import asdict

    from alignkit.data import load_pack
    from alignkit.models import connect
    from alignkit.train import (
        RewardEnsemble,
        RuleCritic,
        best_of_n,
        best_of_n_curve,
        cases_from_pack,
        read_prompts,
    )
    from alignkit.train._critic import RULE_PRINCIPLES

    model = connect(uri)
    try:
        cases = None
        if prompts is not None:
            convs = read_prompts(prompts)
            if not convs:  # an empty file of choices replaced the earlier one, exit 0
                raise DataError(f"--prompts {prompts} holds no prompts")
        else:
            path = data or model.default_pack
            if path is None:
                raise ConfigError("no prompts: pass --prompts FILE or --data DIR")
            cases = cases_from_pack(load_pack(path), split="heldout", max_per_kind=max_per_kind)
            convs = [c.prompt for c in cases]
            if not convs:  # an empty curve, exit 0
                raise DataError(f"the item pack {path} has no heldout items; pass --prompts FILE")
        ensemble = RewardEnsemble.load(reward_dir)
        choices = await best_of_n(
            model, ensemble, convs, n=n, objective=objective, lam=lam, seed=seed
        )
    finally:
        await model.aclose()
    curve = []
    if cases is not None:
        critic = RuleCritic()
        ns = sorted({k for k in (1, 2, 4, 8, 16, 32, 64) if k < n} | {n})  # n itself too
        curve = [
            asdict(p)
            for p in best_of_n_curve(
                choices,
                lambda i, r: float(critic.passes(cases[i], r, RULE_PRINCIPLES)),
                ns,
            )
        ]
    return {
        "curve": curve,
        "choices": [{"prompt": c.prompt, "best": c.best, "scores": c.scores} for c in choices],
    }
