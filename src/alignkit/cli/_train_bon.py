"""``alignkit train bon``: best-of-n reranking with a reward-model ensemble."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alignkit.core import ConfigError

MAX_BON_N = 4096
"""Most samples per prompt ``train bon`` takes: all of them are held and scored at once."""


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

    ensemble = RewardEnsemble.load(reward_dir)
    model = connect(uri)
    try:
        cases = None
        if prompts is not None:
            convs = read_prompts(prompts)
        else:
            path = data or model.default_pack
            if path is None:
                raise ConfigError("no prompts: pass --prompts FILE or --data DIR")
            cases = cases_from_pack(load_pack(path), split="heldout", max_per_kind=max_per_kind)
            convs = [c.prompt for c in cases]
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
