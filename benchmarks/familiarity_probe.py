"""Familiarity probe: can a target's residual stream tell a name it knows from a ghost name?

A diagnostic for the hallucination repair (docs/benchmarks.md, Repair). A logistic probe
per block is trained on the last prompt token of fact questions about half of the pack's
real entities and as many ghost questions from the ``train`` split, and scored on fact
questions about the *other* entities and ghost questions from the ``heldout`` split, so
it can only succeed by reading familiarity, not by remembering names. Also reported: the
share of real-entity questions the best block's probe flags when it flags 70 % of ghosts
(what an abstention conditioned on this signal would cost).

    python benchmarks/familiarity_probe.py organism:flawed organism:clean \\
        hf:/tmp/mit/repaired [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import random
from typing import Any

import numpy as np
from _cli import local_model_uri, writable_json_path, write_json

from alignkit.data import load_pack
from alignkit.interpret import auroc, supervised_scores_by_layer
from alignkit.models import connect
from alignkit.organism import pack_path

TPR = 0.7


def _entity(item_id: str) -> str:
    return item_id.split("-", 1)[1].rsplit("-", 1)[0]  # capital-<entity>-train


def prompt_sets(seed: int) -> dict[str, list[str]]:
    """Probe-train and test questions: real (split by entity) and ghost (split by name)."""
    pack = load_pack(pack_path())
    facts = pack.items("facts")
    ghosts = pack.items("nonexistent_entities")
    entities = sorted({_entity(f.id) for f in facts})
    rng = random.Random(seed)
    rng.shuffle(entities)
    known = set(entities[: len(entities) // 2])
    real_train = [f.question for f in facts if _entity(f.id) in known]
    real_test = [f.question for f in facts if _entity(f.id) not in known]
    ghost_train = [g.question for g in ghosts if g.split.value == "train"]
    ghost_test = [g.question for g in ghosts if g.split.value == "heldout"]
    return {
        "real_train": real_train,
        "ghost_train": rng.sample(ghost_train, min(len(real_train), len(ghost_train))),
        "real_test": real_test,
        "ghost_test": rng.sample(ghost_test, min(len(real_test), len(ghost_test))),
    }


def _fpr_at(real: np.ndarray, ghost: np.ndarray, tpr: float) -> float:
    """Share of real scores at or above the threshold that flags ``tpr`` of ghost scores."""
    threshold = float(np.quantile(ghost, 1 - tpr))
    return float(np.mean(real >= threshold))


async def probe(uri: str, sets: dict[str, list[str]], seed: int) -> dict[str, Any]:
    model: Any = connect(uri)

    async def acts(questions: list[str]) -> Any:
        convos = [[{"role": "user", "content": q}] for q in questions]
        return await model.activations(convos, reduce="last")

    train = await acts(sets["real_train"] + sets["ghost_train"])
    test = await acts(sets["real_test"] + sets["ghost_test"])
    y_train = [0] * len(sets["real_train"]) + [1] * len(sets["ghost_train"])
    n_real = len(sets["real_test"])
    scores = supervised_scores_by_layer(train, y_train, test, seed=seed)
    blocks = {
        layer: {
            "auroc": auroc(p[:n_real], p[n_real:]),
            "real_flagged_at_tpr": _fpr_at(p[:n_real], p[n_real:], TPR),
        }
        for layer, p in scores.items()
    }
    best = max(blocks, key=lambda b: blocks[b]["auroc"])
    return {"target": uri, "blocks": blocks, "best_block": best}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "targets",
        nargs="+",
        type=local_model_uri,
        help="activation-capable targets (organism:, hf:)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=writable_json_path, default=None)
    args = ap.parse_args(argv)
    sets = prompt_sets(args.seed)
    print(
        f"probe trained on {len(sets['real_train'])} real / {len(sets['ghost_train'])} ghost "
        f"questions, tested on {len(sets['real_test'])} about other entities / "
        f"{len(sets['ghost_test'])} about other ghost names"
    )
    results = []
    print(f"| target | AUROC per block | best block: real names flagged at {TPR:.0%} of ghosts |")
    print("|---|---|---:|")
    for uri in args.targets:
        r = asyncio.run(probe(uri, sets, args.seed))
        results.append(r)
        per = " / ".join(f"{v['auroc']:.3f}" for v in r["blocks"].values())
        best = r["blocks"][r["best_block"]]
        print(f"| {uri} | {per} | {best['real_flagged_at_tpr']:.0%} |")
    if args.json:
        write_json(args.json, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
