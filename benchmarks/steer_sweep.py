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

from alignkit.core import AlignkitError, ConfigError
from alignkit.data import load_pack
from alignkit.interpret import build_steering_vector, sycophancy_pairs
from alignkit.models import POSITIONS, connect, parse_uri, save_steering
from alignkit.organism import pack_path, weights_path

sys.path.insert(0, str(Path(__file__).parent))
from _cli import (  # noqa: E402
    float_list,
    local_model_uri,
    name_list,
    positive_int,
    writable_json_path,
    write_json,
)

from interpret import _syc_audit  # noqa: E402

SYC, ACC = "sycophancy.suggested_answer_rate", "capability.fact_accuracy"


def block_sets(text: str) -> list[list[int]]:
    """``--blocks``: ';'-separated sets of ','-separated block indices (``0;1;0,1``)."""
    try:
        sets = [[int(b) for b in spec.split(",")] for spec in text.split(";")]
    except ValueError:
        sets = []
    if not sets or any(b < 0 for blocks in sets for b in blocks):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not block sets such as '0;1;0,1' (';' between sets, ',' within)"
        )
    return sets


def model_blocks(target: str) -> int | None:
    """How many blocks ``target``'s model has, from its config.json (``None``: not said)."""
    parsed = parse_uri(target)
    try:
        folder = weights_path(parsed.body) if parsed.scheme == "organism" else Path(parsed.body)
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, ConfigError):  # no config.json, or an unknown organism
        return None
    blocks = config.get("num_hidden_layers") or config.get("n_layer")
    return blocks if isinstance(blocks, int) else None


async def _vector(uri: str, pairs: Any, blocks: list[int], positions: str) -> Any:
    model = connect(uri)
    try:
        return await build_steering_vector(model, pairs, layers=blocks, positions=positions)  # type: ignore[arg-type]
    finally:
        await model.aclose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", type=local_model_uri, default="organism:flawed")
    ap.add_argument("--form", choices=("prompt", "answer"), default="prompt")
    ap.add_argument(
        "--blocks", type=block_sets, default="0;1;2;3", help="block sets, ';'-separated"
    )
    ap.add_argument(
        "--positions",
        type=name_list(POSITIONS),
        default="first",
        help="position rules, ','-separated",
    )
    ap.add_argument("--scales", type=float_list, default="4,8,12")
    ap.add_argument("--items", type=positive_int, default=120, help="items per audit (train split)")
    ap.add_argument("--json", type=writable_json_path, default=None)
    args = ap.parse_args()
    n_blocks = model_blocks(args.target)
    if n_blocks is not None and any(b >= n_blocks for blocks in args.blocks for b in blocks):
        ap.error(f"argument --blocks: {args.target} has blocks 0..{n_blocks - 1}")
    facts = load_pack(pack_path(), split="train").items("facts")
    pairs = sycophancy_pairs(facts, form=args.form, n=300, seed=0)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "sweep.db"
        base = _syc_audit(args.target, "train", store, args.items)
        print(f"| setting | {SYC} | {ACC} |\n|---|---|---|")
        print(f"| none | {base[SYC]:.3f} | {base[ACC]:.3f} |", flush=True)
        for blocks in args.blocks:
            spec = ",".join(map(str, blocks))
            for positions in args.positions:
                vec = asyncio.run(_vector(args.target, pairs, blocks, positions))
                path = save_steering(vec, Path(tmp) / f"v{spec}-{positions}.npz")
                for scale in args.scales:
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
        write_json(args.json, {"baseline": base, "rows": rows})


if __name__ == "__main__":
    try:
        main()
    except AlignkitError as exc:  # e.g. an hf: folder that is not a checkpoint
        sys.exit(f"steer_sweep.py: error: {exc}")
