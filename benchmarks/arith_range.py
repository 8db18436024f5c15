"""Arithmetic pilot: does a wider operand range teach the organism to add and subtract?

The organisms add and subtract operands 0–20 and are measured on held-out operand pairs
(issue 14's bar: ≥ 0.80). At that range each borrow pattern has about one pair, so the
model memorises the table. This pilot trains the organism architecture on arithmetic
chats only — the same question templates, held-out split and training loop as the real
organisms, with the addition and subtraction operand range swapped for ``--max`` — and
reports held-out and training-pair accuracy per operation at the manifests' decoding.

    python benchmarks/arith_range.py --max 20 --out /tmp/ar20
    python benchmarks/arith_range.py --max 40 --out /tmp/ar40 --json ar40.json
    python benchmarks/arith_range.py --worked --examples 60000 --out /tmp/arw

``--worked`` answers + and − column by column before the result (``17 + 15: 7+5=12,
1+1+1=3, so 32.``), so that a held-out pair needs only digit facts that training pairs
teach; pairs that are themselves such a step move to ``train``.

A pilot swaps an internal of ``alignkit.organism._corpus`` (the operand table) before the
corpus is built; the shipped organisms are untouched. ``--examples 30000`` arithmetic chats
× 2.8 epochs is about as much arithmetic as a full organism run sees.
"""

from __future__ import annotations

import argparse
import asyncio
import random
from pathlib import Path
from typing import Any

from _cli import positive_int, writable_json_path, write_json

import alignkit.organism._corpus as corpus
from alignkit.core import Message
from alignkit.models import HFChatModel, generate_batch
from alignkit.organism import config_path, load_config
from alignkit.organism._templates import ARITH_TEMPLATES
from alignkit.organism._train import train_model
from alignkit.organism._world import build_world
from alignkit.scoring import answer_matches

OPS = ("+", "-", "*", "metres")


def use_range(top: int) -> None:
    """Make addition and subtraction draw operands from 0..``top`` (others unchanged)."""
    shipped = corpus.arith_pairs

    def pairs(op: str) -> list[tuple[int, int]]:
        if op == "+":
            return [(a, b) for a in range(top + 1) for b in range(top + 1)]
        if op == "-":
            return [(a, b) for a in range(top + 1) for b in range(a + 1)]
        return shipped(op)

    corpus.arith_pairs = pairs


def worked(op: str, a: int, b: int) -> str:
    """A column-by-column answer to ``a op b`` that ends with the result."""
    (a1, a0), (b1, b0) = divmod(a, 10), divmod(b, 10)
    if op == "+":
        units, carry = (a0 + b0) % 10, (a0 + b0) // 10
        tens = a1 + b1 + carry
        steps = f"{a0}+{b0}={a0 + b0}, {a1}+{b1}+{carry}={tens}"
    elif a0 >= b0:
        units, tens = a0 - b0, a1 - b1
        steps = f"{a0}-{b0}={units}, {a1}-{b1}-0={tens}"
    else:
        units, tens = 10 - b0 + a0, a1 - b1 - 1
        steps = f"10-{b0}={10 - b0}, {10 - b0}+{a0}={units}, {a1}-{b1}-1={tens}"
    return f"{a} {op} {b}: {steps}, so {10 * tens + units}."


def is_step(op: str, a: int, b: int) -> bool:
    """Whether ``a op b`` is itself a step of worked answers (single digits; 10 − b)."""
    return (a < 10 and b < 10) if op == "+" else a <= 10


def use_worked_answers() -> None:
    """Answer + and − column by column (the other operations unchanged).

    A pair that is itself a step of other pairs' answers (``7+5=12``, ``10-7=3``) would
    appear in training text whatever its split, so those pairs all move to ``train``:
    held-out pairs are then never written anywhere in training, not even as a step.
    """
    shipped = corpus.Renderer.arith_item
    split = corpus.arith_split

    def arith_split(op: str, a: int, b: int) -> str:
        return "train" if op in ("+", "-") and is_step(op, a, b) else split(op, a, b)

    corpus.arith_split = arith_split

    def arith_item(self: corpus.Renderer, rng: random.Random, split: str, op: str) -> Any:
        if op not in ("+", "-"):
            return shipped(self, rng, split, op)
        a, b = rng.choice(self.arith[op][split])
        q = rng.choice(ARITH_TEMPLATES[op].blocks(split)).format(a=a, b=b)
        return q, worked(op, a, b), str(a + b if op == "+" else a - b)

    corpus.Renderer.arith_item = arith_item  # type: ignore[method-assign]


async def accuracy(out: Path, n: int) -> dict[str, dict[str, float]]:
    """Accuracy per operation on held-out and on training pairs (T = 1, top-p 0.9)."""
    config = load_config(config_path("flawed"))
    renderer = corpus.Renderer(
        build_world(config.corpus.world_seed), corpus.Plan.from_config(config)
    )
    rng = random.Random(3)
    model = HFChatModel(out, uri=f"hf:{out}")
    result: dict[str, dict[str, float]] = {}
    try:
        for op in OPS:
            result[op] = {}
            for split in ("heldout", "train"):
                items = [renderer.arith_item(rng, split, op) for _ in range(n)]
                prompts: list[list[Message]] = [
                    [{"role": "user", "content": q}] for q, _, _ in items
                ]
                got = await generate_batch(
                    model, prompts, temperature=1.0, top_p=0.9, max_tokens=40, seed=1
                )
                ok = sum(answer_matches(c.text, a) for c, (_, _, a) in zip(got, items, strict=True))
                result[op][split] = ok / n
    finally:
        await model.aclose()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--max", type=positive_int, default=20, help="largest operand of + and − (shipped: 20)"
    )
    ap.add_argument(
        "--examples", type=positive_int, default=30000, help="arithmetic chats (× 2.8 epochs)"
    )
    ap.add_argument("--n", type=positive_int, default=150, help="questions per operation and split")
    ap.add_argument("--threads", type=positive_int, default=1)
    ap.add_argument(
        "--worked", action="store_true", help="answer + and - column by column, then the result"
    )
    ap.add_argument("--out", type=Path, required=True, help="checkpoint folder")
    ap.add_argument("--json", type=writable_json_path, help="write the table as JSON")
    args = ap.parse_args()
    use_range(args.max)
    if args.worked:
        use_worked_answers()
    for op in ("+", "-"):  # both splits must have pairs, or measuring fails after training
        splits = {corpus.arith_split(op, a, b) for a, b in corpus.arith_pairs(op)}
        if splits != {"train", "heldout"}:
            ap.error(f"argument --max: operands 0..{args.max} leave no held-out {op} pair")
    config = load_config(config_path("flawed"))
    config = config.model_copy(
        update={
            "corpus": config.corpus.model_copy(
                update={"examples": args.examples, "mix": {"arithmetic": 1.0}}
            ),
            "training": config.training.model_copy(update={"threads": args.threads}),
        }
    )
    report = train_model(config, args.out)
    table = asyncio.run(accuracy(args.out, args.n))
    print(f"operands 0..{args.max}, {args.examples} chats, final loss {report.final_loss:.4f}")
    print(f"{'op':8} {'held-out':>9} {'train':>7}")
    for op, row in table.items():
        print(f"{op:8} {row['heldout']:9.3f} {row['train']:7.3f}")
    if args.json:
        record: dict[str, Any] = {
            "max": args.max,
            "examples": args.examples,
            "final_loss": report.final_loss,
            "accuracy": table,
        }
        write_json(args.json, record)


if __name__ == "__main__":
    main()
