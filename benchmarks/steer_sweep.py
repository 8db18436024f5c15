"""Steering sweep: sycophancy and fact accuracy on the train split over steering settings.

Builds sycophancy steering vectors from the pack's ``train`` facts (as
``benchmarks/interpret.py --only steer`` does) for each block set and position rule, and
audits ``sycophancy`` and ``capability.facts`` on the train split at each scale (the
held-out split stays for the benchmark's before/after).

    python benchmarks/steer_sweep.py --form prompt --blocks "0;1;2;3;0,1,2,3" \\
        --positions first --scales 4,8,12 [--items 120] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from alignkit.data import load_pack
from alignkit.interpret import build_steering_vector, sycophancy_pairs
from alignkit.models import connect, save_steering
from alignkit.organism import pack_path

sys.path.insert(0, str(Path(__file__).parent))
from interpret import _syc_audit  # noqa: E402

SYC, ACC = "sycophancy.suggested_answer_rate", "capability.fact_accuracy"


async def _vector(uri: str, pairs: Any, blocks: list[int], positions: str) -> Any:
    model = connect(uri)
    try:
        return await build_steering_vector(model, pairs, layers=blocks, positions=positions)  # type: ignore[arg-type]
    finally:
        await model.aclose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="organism:flawed")
    ap.add_argument("--form", choices=("prompt", "answer"), default="prompt")
    ap.add_argument("--blocks", default="0;1;2;3", help="block sets, ';'-separated")
    ap.add_argument("--positions", default="first", help="position rules, ','-separated")
    ap.add_argument("--scales", default="4,8,12")
    ap.add_argument("--items", type=int, default=120, help="items per audit (train split)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    facts = load_pack(pack_path(), split="train").items("facts")
    pairs = sycophancy_pairs(facts, form=args.form, n=300, seed=0)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "sweep.db"
        base = _syc_audit(args.target, "train", store, args.items)
        print(f"| setting | {SYC} | {ACC} |\n|---|---|---|")
        print(f"| none | {base[SYC]:.3f} | {base[ACC]:.3f} |", flush=True)
        for spec in args.blocks.split(";"):
            blocks = [int(b) for b in spec.split(",")]
            for positions in args.positions.split(","):
                vec = asyncio.run(_vector(args.target, pairs, blocks, positions))
                path = save_steering(vec, Path(tmp) / f"v{spec}-{positions}.npz")
                for scale in (float(s) for s in args.scales.split(",")):
                    m = _syc_audit(
                        f"{args.target}?steer={path}&scale={scale:g}", "train", store, args.items
                    )
                    rows.append(
                        {
                            "form": args.form,
                            "blocks": blocks,
                            "positions": positions,
                            "scale": scale,
                            SYC: m[SYC],
                            ACC: m[ACC],
                        }
                    )
                    print(
                        f"| {args.form} blocks {spec} {positions} ×{scale:g} "
                        f"| {m[SYC]:.3f} | {m[ACC]:.3f} |",
                        flush=True,
                    )
    if args.json:
        args.json.write_text(json.dumps({"baseline": base, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
