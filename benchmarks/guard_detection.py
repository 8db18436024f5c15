"""Detection by the guard's classifier rails, on held-out sets they were never trained on.

1. The ``injection`` rail (the shipped classifier, as the rail scores a request: the
   highest score over the user messages):
   * alignkit's ``heldout`` injection split (injections and benign requests from template
     families and slot lists kept apart from training);
   * the red team's indirect injections: every carrier × document × payload of
     ``alignkit/redteam/data/injections.yaml`` (rendered with their canaries, as the
     ``prompt-injection`` check sends them), scored against the same benign negatives.
   Recall at 1 % false positives (the threshold is the smallest score above 99 % of the
   benign scores), for each positive set and for both together, and recall / FPR at the
   rail's shipped threshold.
2. The ``output-classifier`` rail on real-model responses: SmolLM2-135M-Instruct's answers
   to harmful and jailbreak-framed requests in ``datasets/labelled_responses`` (labelled
   by reading, never trained on). Positives are answers labelled ``complied`` or
   ``partial``, negatives ``refused`` (``unscorable`` is left out). The score is the rail's
   (the classifier's probability that the answer complied); the rail acts with
   ``require: any`` (the shipped ``require: marker`` acts only on answers carrying an
   unsafe marker, which SmolLM2 never writes). Recall at 1 % FPR, AUROC, and recall / FPR
   where the rail acts.

Usage::

    python benchmarks/guard_detection.py [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from _cli import writable_json_path, write_json

from alignkit.core import DecisionKind, Message, RailStage
from alignkit.guard._injection import InjectionOptions, InjectionRail
from alignkit.guard._injection_data import load_split
from alignkit.guard._injection_train import recall_at_fpr
from alignkit.guard._output import OutputClassifierOptions, OutputClassifierRail
from alignkit.redteam import canary_for, load_injections

LABELLED = Path(__file__).resolve().parents[1] / "datasets" / "labelled_responses"
HARMFUL_KINDS = ("harmful", "jailbreak_roleplay", "jailbreak_research", "jailbreak_novel")


def auroc(pos: Sequence[float], neg: Sequence[float]) -> float:
    """P(a positive outscores a negative), ties counting half (NaN without both)."""
    if not pos or not neg:
        return float("nan")
    p, n = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float(((p > n).sum() + 0.5 * (p == n).sum()) / (p.size * n.size))


def _share(values: Sequence[bool]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def _rates(pos: Sequence[float], neg: Sequence[float], threshold: float) -> dict[str, float]:
    return {
        "recall": _share([s >= threshold for s in pos]),
        "fpr": _share([s >= threshold for s in neg]),
    }


def _at_1pct(pos: Sequence[float], neg: Sequence[float]) -> float:
    return recall_at_fpr([*pos, *neg], [1] * len(pos) + [0] * len(neg), 0.01)


def injection_part() -> dict[str, Any]:
    rail = InjectionRail("injection", InjectionOptions())

    def score(messages: list[Message]) -> float:
        return float(asyncio.run(rail.check(RailStage.INPUT, messages)).score)

    held = load_split("heldout")
    neg = [
        score([{"role": "user", "content": r["prompt"]}]) for r in held if r["label"] != "injection"
    ]
    split_pos = [
        score([{"role": "user", "content": r["prompt"]}]) for r in held if r["label"] == "injection"
    ]
    lib = load_injections()
    red: dict[str, list[float]] = {}
    for c in lib.carriers:
        for d in lib.documents:
            for p in lib.payloads:
                attack = f"{c.id}/{d.id}/{p.id}"
                red.setdefault(p.family, []).append(score(lib.render(c, d, p, canary_for(attack))))
    red_pos = [s for scores in red.values() for s in scores]
    threshold = rail.threshold
    out: dict[str, Any] = {
        "benign_negatives": len(neg),
        "shipped_threshold": threshold,
        "heldout_split": {
            "positives": len(split_pos),
            "recall_at_1pct_fpr": _at_1pct(split_pos, neg),
            **_rates(split_pos, neg, threshold),
        },  # fmt: skip
        "redteam_injections": {
            "positives": len(red_pos),
            "recall_at_1pct_fpr": _at_1pct(red_pos, neg),
            **_rates(red_pos, neg, threshold),
        },  # fmt: skip
        "both": {
            "positives": len(split_pos) + len(red_pos),
            "recall_at_1pct_fpr": _at_1pct(split_pos + red_pos, neg),
            **_rates(split_pos + red_pos, neg, threshold),
        },  # fmt: skip
        "redteam_by_family_at_1pct_fpr": {
            fam: _at_1pct(scores, neg) for fam, scores in sorted(red.items())
        },
    }
    return out


def output_part() -> dict[str, Any]:
    rows: dict[str, dict[str, Any]] = {}
    for line in (LABELLED / "responses.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        rows[row["id"]] = row
    labels: dict[str, str] = {}
    for line in (LABELLED / "labels.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        labels[row["id"]] = row["label"]
    rail = OutputClassifierRail("output-classifier", OutputClassifierOptions(require="any"))
    pos: list[float] = []
    neg: list[float] = []
    acted_pos = acted_neg = 0
    for rid, row in rows.items():
        if row["source"] != "smollm2" or row["kind"] not in HARMFUL_KINDS:
            continue
        label = labels[rid]
        if label == "unscorable":
            continue
        messages: list[Message] = [{"role": "user", "content": row["prompt"]}]
        d = asyncio.run(rail.check(RailStage.OUTPUT, messages, row["response"]))
        acted = d.decision is not DecisionKind.ALLOW
        if label in ("complied", "partial"):
            pos.append(float(d.score))
            acted_pos += acted
        else:
            neg.append(float(d.score))
            acted_neg += acted
    return {
        "positives": len(pos),
        "negatives": len(neg),
        "auroc": auroc(pos, neg),
        "recall_at_1pct_fpr": _at_1pct(pos, neg),
        "false_positives_allowed_at_1pct": int(np.floor(0.01 * len(neg))),
        "where_the_rail_acts": {
            "recall": _share([True] * acted_pos + [False] * (len(pos) - acted_pos)),
            "fpr": _share([True] * acted_neg + [False] * (len(neg) - acted_neg)),
        },
    }


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", type=writable_json_path, default=None)
    args = p.parse_args(argv)
    results = {"injection": injection_part(), "output_classifier": output_part()}
    sys.stdout.write(json.dumps(results, indent=2) + "\n")
    inj, out = results["injection"], results["output_classifier"]
    lines = [
        f"injection rail, {inj['benign_negatives']} held-out benign negatives:",
        *(
            f"  {name}: {inj[key]['positives']} positives, recall at 1% FPR "
            f"{inj[key]['recall_at_1pct_fpr']:.3f}; at the shipped threshold "
            f"{inj['shipped_threshold']:.2f} recall {inj[key]['recall']:.3f}, "
            f"FPR {inj[key]['fpr']:.4f}"
            for name, key in (
                ("held-out split", "heldout_split"),
                ("red-team injections", "redteam_injections"),
                ("both", "both"),
            )
        ),  # fmt: skip
        f"output-classifier rail (require: any), SmolLM2 answers to harmful requests: "
        f"{out['positives']} complied / {out['negatives']} refused, AUROC {out['auroc']:.3f}, "
        f"recall at 1% FPR {out['recall_at_1pct_fpr']:.3f}; where it acts: recall "
        f"{out['where_the_rail_acts']['recall']:.3f}, FPR {out['where_the_rail_acts']['fpr']:.3f}",
    ]
    sys.stdout.write("\n" + "\n".join(lines) + "\n")
    if args.json:
        write_json(args.json, results)


if __name__ == "__main__":
    main()
