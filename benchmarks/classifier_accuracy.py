"""Measured accuracy of the response classifier on alignkit's labelled evaluation set.

Reads datasets/labelled_responses/{responses,labels}.jsonl (never trained on) and scores
every response with each tier alone and with the combination:

* ``rules`` — the rule tier alone (``use_model=False``; a response no rule settles is
  called ``complied``, since no refusal was found);
* ``model`` — the trained tier alone (argmax of its probabilities);
* ``combined`` — ``ResponseClassifier()``, the default used by evals, red team and guard;
* ``judge`` — only with ``--judge URI``: the combination plus that chat model as judge.

Prints precision / recall / support per class for the real-model part (SmolLM2), the
hand-written part, the organism-style rows, and the whole set. ``--json PATH`` also
writes the numbers. ``--data DIR`` scores another labelled folder of the same shape,
e.g. the development set ``datasets/classifier_dev`` (which the trained tier was fitted
on, so its numbers there are not an estimate of accuracy).

Usage::

    python benchmarks/classifier_accuracy.py [--json out.json] [--judge URI] [--data DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alignkit.scoring import ResponseClassifier
from alignkit.scoring._classifier_model import TrainedModel
from alignkit.scoring._classifier_rules import apply_rules

DATA = Path(__file__).resolve().parents[1] / "datasets" / "labelled_responses"
LABELS = ("complied", "refused", "partial", "unscorable")
BAR = 0.95


def load_set(folder: Path = DATA) -> list[dict[str, str]]:
    """Rows of the evaluation set joined with their labels."""
    rows = [json.loads(x) for x in (folder / "responses.jsonl").read_text("utf-8").splitlines()]
    labels = {}
    for line in (folder / "labels.jsonl").read_text("utf-8").splitlines():
        data = json.loads(line)
        labels[data["id"]] = data["label"]
    missing = [r["id"] for r in rows if r["id"] not in labels]
    if missing:
        raise SystemExit(f"{len(missing)} responses have no label, e.g. {missing[:3]}")
    return [{**r, "label": labels[r["id"]]} for r in rows]


def per_class(gold: Sequence[str], pred: Sequence[str]) -> dict[str, dict[str, float]]:
    """Precision, recall and support for each label."""
    table: dict[str, dict[str, float]] = {}
    for label in LABELS:
        tp = sum(g == p == label for g, p in zip(gold, pred, strict=True))
        n_pred = sum(p == label for p in pred)
        n_gold = sum(g == label for g in gold)
        table[label] = {
            "precision": tp / n_pred if n_pred else float("nan"),
            "recall": tp / n_gold if n_gold else float("nan"),
            "support": n_gold,
            "predicted": n_pred,
        }
    table["_accuracy"] = {"value": sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold)}
    return table


def predictions(rows: list[dict[str, str]], judge_uri: str | None) -> dict[str, list[str]]:
    """Labels from each tier and from the combination."""
    pairs = [(r["prompt"], r["response"]) for r in rows]
    out: dict[str, list[str]] = {}
    rules = ResponseClassifier(use_model=False)
    out["rules"] = [str(v.label) for v in rules.classify_batch(pairs)]
    model = TrainedModel.load()
    proba = model.predict_proba([r["response"] for r in rows])
    out["model"] = [model.classes[i] for i in proba.argmax(axis=1)]
    out["combined"] = [str(v.label) for v in ResponseClassifier().classify_batch(pairs)]
    if judge_uri is not None:
        from alignkit.models import connect

        clf = ResponseClassifier(judge=connect(judge_uri))
        verdicts = asyncio.run(clf.aclassify_batch(pairs))
        out["judge"] = [str(v.label) for v in verdicts]
    return out


def _fmt(x: float) -> str:
    return "  -  " if x != x else f"{x:.3f}"


def report(rows: list[dict[str, str]], preds: dict[str, list[str]]) -> dict[str, Any]:
    """Print the tables; return the numbers."""
    subsets = {
        "real-model (SmolLM2)": [i for i, r in enumerate(rows) if r["source"] == "smollm2"],
        "hand-written": [i for i, r in enumerate(rows) if r["source"] == "handwritten"],
        "organism-style": [i for i, r in enumerate(rows) if r["kind"] == "organism"],
        "whole set": list(range(len(rows))),
    }
    result: dict[str, Any] = {}
    for name, idx in subsets.items():
        gold = [rows[i]["label"] for i in idx]
        counts = {lab: gold.count(lab) for lab in LABELS}
        print(f"\n## {name}: n={len(idx)} {counts}")
        print("| tier | " + " | ".join(f"{lab[:4]} P / R" for lab in LABELS) + " | acc |")
        print("|---|" + "---|" * (len(LABELS) + 1))
        result[name] = {}
        for tier, pred in preds.items():
            table = per_class(gold, [pred[i] for i in idx])
            result[name][tier] = table
            cells = [
                f"{_fmt(table[lab]['precision'])} / {_fmt(table[lab]['recall'])}" for lab in LABELS
            ]
            print(f"| {tier} | " + " | ".join(cells) + f" | {table['_accuracy']['value']:.3f} |")
    return result


def bar_met(result: dict[str, Any], tier: str = "combined") -> bool:
    """The issue's bar: ≥ 0.95 precision and recall for refused and complied, on both parts."""
    return all(
        result[part][tier][label][metric] >= BAR
        for part in ("real-model (SmolLM2)", "whole set")
        for label in ("refused", "complied")
        for metric in ("precision", "recall")
    )


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    parser.add_argument("--judge", default=None, help="chat-model URI to use as the judge tier")
    parser.add_argument("--data", type=Path, default=DATA, help="labelled folder to score")
    args = parser.parse_args()
    rows = load_set(args.data)
    start = time.perf_counter()
    preds = predictions(rows, args.judge)
    elapsed = time.perf_counter() - start
    result = report(rows, preds)
    met = bar_met(result)
    print(
        f"\nbar (>= {BAR} P and R for refused and complied, real-model part and whole set): "
        f"{'met' if met else 'NOT met'}; scored {len(rows)} responses x {len(preds)} tiers "
        f"in {elapsed:.1f} s"
    )
    rule_share = sum(apply_rules(r["response"]) is not None for r in rows) / len(rows)
    print(f"rules fire on {rule_share:.1%} of responses")
    if args.json is not None:
        payload = {"n": len(rows), "bar_met": met, "rule_coverage": rule_share, "tables": result}
        args.json.write_text(json.dumps(payload, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
