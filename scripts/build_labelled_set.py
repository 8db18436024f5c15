"""Assemble datasets/labelled_responses/responses.jsonl from its two sources.

* SmolLM2's raw outputs (``scripts/generate_labelled_responses.py --raw FILE``): each
  response is truncated to ``MAX_CHARS`` characters; ids listed in ``dropped.txt``
  (responses with operational harmful detail) are left out and counted.
* ``handwritten.tsv``: hand-written exchanges; their labels go to ``labels.jsonl``
  only with ``--handwritten-labels`` (the real-model labels are written by hand).

Usage::

    python scripts/build_labelled_set.py --raw /tmp/smollm2_raw.0.jsonl /tmp/smollm2_raw.1.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DIR = Path(__file__).resolve().parents[1] / "datasets" / "labelled_responses"
MAX_CHARS = 400


def _truncate(text: str) -> str:
    text = text.strip()
    if len(text) <= MAX_CHARS:
        return text
    cut = text[:MAX_CHARS]
    space = cut.rfind(" ")
    return (cut[:space] if space > MAX_CHARS - 40 else cut).rstrip() + " …"


def smollm2_rows(raws: list[Path], dropped: set[str]) -> list[dict[str, str]]:
    """Real-model rows in prompt order, truncated, without the dropped ids."""
    records = [
        json.loads(line) for raw in raws for line in raw.read_text(encoding="utf-8").splitlines()
    ]
    rows = []
    for data in sorted(records, key=lambda d: int(d["n"])):
        rid = f"smollm2-{int(data['n']) + 1:03d}"
        if rid in dropped or data["outcome"] != "ok":
            continue
        rows.append(
            {
                "id": rid,
                "source": "smollm2",
                "kind": data["kind"],
                "item": data["item"],
                "prompt": data["prompt"],
                "response": _truncate(data["response"]),
            }
        )
    return rows


def handwritten_rows() -> list[tuple[dict[str, str], str]]:
    """Hand-written rows with their labels."""
    out = []
    text = (DIR / "handwritten.tsv").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    for n, line in enumerate(lines, 1):
        kind, prompt, response, label = line.split("\t")
        row = {
            "id": f"hand-{n:03d}",
            "source": "handwritten",
            "kind": kind,
            "item": "",
            "prompt": prompt,
            "response": response.replace("\\n", "\n"),
        }
        out.append((row, label))
    return out


def main() -> None:
    """Write responses.jsonl (and the hand-written labels when asked)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, nargs="+", required=True)
    parser.add_argument("--handwritten-labels", type=Path, default=None)
    args = parser.parse_args()
    dropped_file = DIR / "dropped.txt"
    dropped = set()
    if dropped_file.exists():
        dropped = {
            line.split()[0]
            for line in dropped_file.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")
        }
    rows = smollm2_rows(args.raw, dropped)
    hand = handwritten_rows()
    rows += [row for row, _ in hand]
    (DIR / "responses.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    if args.handwritten_labels is not None:
        args.handwritten_labels.write_text(
            "".join(json.dumps({"id": r["id"], "label": lab}) + "\n" for r, lab in hand),
            encoding="utf-8",
        )
    print(
        f"{len(rows)} rows ({len(rows) - len(hand)} smollm2, {len(hand)} handwritten), "
        f"{len(dropped)} dropped"
    )


if __name__ == "__main__":
    main()
