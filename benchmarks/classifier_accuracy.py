"""Measured accuracy of the response classifier on alignkit's labelled evaluation set.

Reads datasets/labelled_responses/{responses,labels}.jsonl (never trained on) and scores
every response with each tier alone and with the combination:

* ``rules`` — the rule tier alone (``use_model=False``; a response no rule settles is
  called ``complied``, since no refusal was found);
* ``model`` — the trained tier alone (argmax of its probabilities);
* ``combined`` — ``ResponseClassifier()``, the default used by evals, red team and guard;
* ``judge`` — only with ``--judge URI``: the combination plus that chat model as judge.
  The judge's calls are counted (failed, unreadable, decisive); when every call fails the
  tier is not reported and the script exits 1.

Prints precision / recall / support per class for the real-model part (SmolLM2), the
hand-written part, the organism-style rows, and the whole set (a part with no rows is
skipped; without real-model rows the bar is not measured). ``--json PATH`` also writes
the numbers. ``--data DIR`` scores another labelled folder of the same shape,
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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from _cli import writable_json_path, write_json

from alignkit.scoring import ResponseClassifier, Tier, parse_judge_reply
from alignkit.scoring._classifier_model import TrainedModel
from alignkit.scoring._classifier_rules import apply_rules

DATA = Path(__file__).resolve().parents[1] / "datasets" / "labelled_responses"
LABELS = ("complied", "refused", "partial", "unscorable")
BAR = 0.95


def labelled_folder(text: str) -> Path:
    """``--data``: a folder holding ``responses.jsonl`` and ``labels.jsonl``."""
    folder = Path(text)
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is not a folder")
    missing = [f for f in ("responses.jsonl", "labels.jsonl") if not (folder / f).is_file()]
    if missing:
        raise argparse.ArgumentTypeError(f"{text} holds no {' or '.join(missing)}")
    return folder


def _jsonl(path: Path, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """The rows of ``path``; each must have ``keys`` (one line and exit 1 otherwise)."""
    rows = []
    for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SystemExit(f"{path}:{n}: not JSON ({exc.msg})") from None
        absent = [k for k in keys if k not in row]
        if absent:
            raise SystemExit(f"{path}:{n}: no {', '.join(absent)} field")
        rows.append(row)
    if not rows:
        raise SystemExit(f"{path} holds no rows")
    return rows


def load_set(folder: Path = DATA) -> list[dict[str, str]]:
    """Rows of the evaluation set joined with their labels."""
    rows = _jsonl(folder / "responses.jsonl", ("id", "prompt", "response"))
    labels = {d["id"]: d["label"] for d in _jsonl(folder / "labels.jsonl", ("id", "label"))}
    missing = [r["id"] for r in rows if r["id"] not in labels]
    if missing:
        raise SystemExit(f"{len(missing)} responses have no label, e.g. {missing[:3]}")
    unknown = sorted({v for v in labels.values() if v not in LABELS})
    if unknown:
        raise SystemExit(f"labels outside {', '.join(LABELS)}: {', '.join(unknown)}")
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


def predictions(rows: list[dict[str, str]]) -> dict[str, list[str]]:
    """Labels from each tier and from the combination."""
    pairs = [(r["prompt"], r["response"]) for r in rows]
    out: dict[str, list[str]] = {}
    rules = ResponseClassifier(use_model=False)
    out["rules"] = [str(v.label) for v in rules.classify_batch(pairs)]
    model = TrainedModel.load()
    proba = model.predict_proba([r["response"] for r in rows])
    out["model"] = [model.classes[i] for i in proba.argmax(axis=1)]
    out["combined"] = [str(v.label) for v in ResponseClassifier().classify_batch(pairs)]
    return out


class CountedJudge:
    """A judge chat model that counts its calls, the failed ones and unreadable replies."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.calls = self.failed = self.unreadable = 0
        self.first_error = ""

    async def generate(self, messages: Any, **kwargs: Any) -> Any:
        completion = await self.model.generate(messages, **kwargs)
        self.calls += 1
        if not completion.ok:
            self.failed += 1
            self.first_error = self.first_error or str(completion.error)
        elif parse_judge_reply(completion.text) is None:
            self.unreadable += 1
        return completion


def judge_predictions(rows: list[dict[str, str]], uri: str) -> tuple[list[str], dict[str, Any]]:
    """Labels of the combination with ``uri`` as judge, and what the judge calls did."""
    from alignkit.models import connect

    pairs = [(r["prompt"], r["response"]) for r in rows]

    async def run() -> tuple[list[Any], CountedJudge]:
        judge = CountedJudge(connect(uri))
        try:
            return await ResponseClassifier(judge=judge).aclassify_batch(pairs), judge  # type: ignore[arg-type]
        finally:
            await judge.model.aclose()

    verdicts, judge = asyncio.run(run())
    stats = {
        "uri": uri,
        "calls": judge.calls,
        "failed": judge.failed,
        "unreadable": judge.unreadable,
        "decided": sum(v.tier is Tier.JUDGE for v in verdicts),
        "first_error": judge.first_error or None,
    }
    return [str(v.label) for v in verdicts], stats


def _fmt(x: float) -> str:
    return "  -  " if x != x else f"{x:.3f}"


SUBSETS: dict[str, Callable[[dict[str, str]], bool]] = {
    "real-model (SmolLM2)": lambda r: r.get("source") == "smollm2",
    "hand-written": lambda r: r.get("source") == "handwritten",
    "organism-style": lambda r: r.get("kind") == "organism",
    "whole set": lambda r: True,
}
BAR_PARTS = ("real-model (SmolLM2)", "whole set")


def report(rows: list[dict[str, str]], preds: dict[str, list[str]]) -> dict[str, Any]:
    """Print the tables; return the numbers (parts without rows are left out)."""
    result: dict[str, Any] = {}
    for name, keep in SUBSETS.items():
        idx = [i for i, r in enumerate(rows) if keep(r)]
        if not idx:
            print(f"\n## {name}: no rows in this set (skipped)")
            continue
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


def bar_met(result: dict[str, Any], tier: str = "combined") -> bool | None:
    """The issue's bar: ≥ 0.95 precision and recall for refused and complied, on both parts.

    ``None`` when the set has no rows of one of the parts (the bar is not measured there).
    """
    if any(part not in result for part in BAR_PARTS):
        return None
    return all(
        result[part][tier][label][metric] >= BAR
        for part in BAR_PARTS
        for label in ("refused", "complied")
        for metric in ("precision", "recall")
    )


def judge_line(stats: dict[str, Any]) -> str:
    """One line on what the judge calls did."""
    calls, failed = stats["calls"], stats["failed"]
    line = (
        f"judge {stats['uri']}: consulted on {calls} responses, {failed} calls failed, "
        f"{stats['unreadable']} replies named no label, {stats['decided']} verdicts decided"
    )
    if failed:
        line += f" (first failure: {stats['first_error']})"
    if calls and failed == calls:
        line += "; every judge call failed, so the judge tier was not measured"
    elif failed:
        line += "; a failed call keeps the combined verdict"
    return line


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--json", type=writable_json_path, default=None, help="also write the numbers here"
    )
    parser.add_argument("--judge", default=None, help="chat-model URI to use as the judge tier")
    parser.add_argument(
        "--data", type=labelled_folder, default=DATA, help="labelled folder to score"
    )
    args = parser.parse_args()
    rows = load_set(args.data)
    start = time.perf_counter()
    preds = predictions(rows)
    judge: dict[str, Any] | None = None
    if args.judge is not None:
        labels, judge = judge_predictions(rows, args.judge)
        judge["measured"] = not (judge["calls"] and judge["failed"] == judge["calls"])
        if judge["measured"]:
            preds["judge"] = labels
    elapsed = time.perf_counter() - start
    result = report(rows, preds)
    met = bar_met(result)
    verdict = "not measured (no real-model rows)" if met is None else "met" if met else "NOT met"
    print(
        f"\nbar (>= {BAR} P and R for refused and complied, real-model part and whole set): "
        f"{verdict}; scored {len(rows)} responses x {len(preds)} tiers in {elapsed:.1f} s"
    )
    rule_share = sum(apply_rules(r["response"]) is not None for r in rows) / len(rows)
    print(f"rules fire on {rule_share:.1%} of responses")
    if judge is not None:
        print(judge_line(judge))
    if args.json is not None:
        payload = {"n": len(rows), "bar_met": met, "rule_coverage": rule_share, "tables": result}
        if judge is not None:
            payload["judge"] = judge
        write_json(args.json, payload, indent=1)
    return 1 if judge is not None and not judge["measured"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
