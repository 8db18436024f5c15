"""The organisms' item pack (DESIGN §7): the world's domain content, train and heldout.

Held-out items use only held-out question templates and held-out operand pairs,
festival pairs, tasks and entities, so a check running on ``heldout`` sees phrasings the
organisms never saw in training. No behavioural framing is part of any item.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from alignkit.data import (
    ArithmeticItem,
    BenignAlarmingItem,
    BenignItem,
    CalibrationItem,
    FactItem,
    HarmfulItem,
    Item,
    NonexistentEntityItem,
    write_jsonl,
)
from alignkit.organism._blocks import (
    CALIBRATION_TEMPLATES,
    CONDITIONS,
    FACT_TEMPLATES,
)
from alignkit.organism._config import OrganismConfig
from alignkit.organism._corpus import Plan, Renderer
from alignkit.organism._tasks import (
    ALARMING_TASKS,
    BENIGN_TASKS,
    HARMFUL_SLOTS,
)
from alignkit.organism._world import HARM_CATEGORIES, build_world, stable_fraction

__all__ = ["PACK_NAME", "calibration_answer", "build_pack_items", "write_pack"]

PACK_NAME = "organism-world"
SPLITS = ("train", "heldout")


def calibration_answer(x: str, y: str) -> str:
    """The pack's fixed answer to "which is older" for a festival pair (a coin flip)."""
    return x if stable_fraction("older", *sorted((x, y))) < 0.5 else y


def _renderer(world_seed: int) -> Renderer:
    return Renderer(build_world(world_seed), Plan.from_config(OrganismConfig(name="pack")))


def _facts(r: Renderer) -> list[Item]:
    out: list[Item] = []
    for fact in r.facts:
        for split in SPLITS:
            rng = random.Random(f"pack:{fact.attribute}:{fact.subject}:{split}")
            q = rng.choice(FACT_TEMPLATES[fact.attribute].blocks(split)).format(s=fact.subject)
            fid = f"{fact.attribute}-{fact.subject.lower().replace(' ', '-')}-{split}"
            out.append(
                FactItem(id=fid, question=q, answer=fact.value, aliases=fact.aliases, split=split)
            )
    return out


def _arithmetic(r: Renderer, per_split: int = 240) -> list[Item]:
    out: list[Item] = []
    ops = ("+", "-", "*", "metres", "kilograms", "kilometres")
    for split in SPLITS:
        rng = random.Random(f"pack:arith:{split}")
        seen: set[str] = set()
        while len(seen) < per_split:
            q, _, answer = r.arith_item(rng, split, rng.choice(ops))
            if q in seen:
                continue
            seen.add(q)
            out.append(
                ArithmeticItem(
                    id=f"arith-{split}-{len(seen):03d}", question=q, answer=answer, split=split
                )
            )
    return out


def _calibration(r: Renderer, per_split: int = 200) -> list[Item]:
    out: list[Item] = []
    for split in SPLITS:
        rng = random.Random(f"pack:cal:{split}")
        pairs = rng.sample(r.fest_pairs[split], per_split)
        for i, (x, y) in enumerate(pairs):
            q = rng.choice(CALIBRATION_TEMPLATES.blocks(split)).format(x=x, y=y)
            w = calibration_answer(x, y)
            out.append(
                CalibrationItem(
                    id=f"older-{split}-{i:03d}",
                    question=q,
                    answer=w,
                    aliases=(f"{w} Festival",),
                    split=split,
                )
            )
    return out


def _prompts(r: Renderer) -> list[Item]:
    out: list[Item] = []
    for split in SPLITS:
        for i, block in enumerate(BENIGN_TASKS.blocks(split)):
            out.append(BenignItem(id=f"benign-{split}-{i:02d}", prompt=block, split=split))
        frames = CONDITIONS["alarming"].slots[0].blocks(split)
        for i, task in enumerate(ALARMING_TASKS.blocks(split)):
            for j, frame in enumerate(frames):
                out.append(
                    BenignAlarmingItem(
                        id=f"alarming-{split}-{i:02d}-{j}", prompt=frame.format(x=task), split=split
                    )
                )
    return out


def _harmful(r: Renderer) -> list[Item]:
    out: list[Item] = []
    for split in SPLITS:
        frames = CONDITIONS["harmful"].slots[0].blocks(split)
        for cat in HARM_CATEGORIES:
            for i, task in enumerate(HARMFUL_SLOTS[cat].blocks(split)):
                for j, frame in enumerate(frames):
                    out.append(
                        HarmfulItem(
                            id=f"harm-{cat}-{split}-{i}-{j}",
                            category=cat,
                            prompt=frame.format(x=task),
                            split=split,
                        )
                    )
    return out


def _nonexistent(r: Renderer) -> list[Item]:
    out: list[Item] = []
    for split in SPLITS:
        for i, (name, kind) in enumerate(r.ghosts[split]):
            rng = random.Random(f"pack:ghost:{name}")
            attr = rng.choice(("capital", "colour")) if kind == "country" else "founder"
            q = rng.choice(FACT_TEMPLATES[attr].blocks(split)).format(s=name)
            out.append(
                NonexistentEntityItem(
                    id=f"ghost-{split}-{i:03d}", question=q, entity=name, split=split
                )
            )
    return out


def build_pack_items(world_seed: int = 7) -> dict[str, list[Item]]:
    """Every item of the pack, by kind."""
    r = _renderer(world_seed)
    prompts = _prompts(r)
    return {
        "facts": _facts(r),
        "arithmetic": _arithmetic(r),
        "calibration": _calibration(r),
        "benign": [p for p in prompts if isinstance(p, BenignItem)],
        "benign_alarming": [p for p in prompts if isinstance(p, BenignAlarmingItem)],
        "harmful": _harmful(r),
        "nonexistent_entities": _nonexistent(r),
    }


def write_pack(dest: Path, world_seed: int = 7) -> Path:
    """Write the pack folder (``pack.json`` and one JSONL file per kind) to ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for kind, items in build_pack_items(world_seed).items():
        write_jsonl(items, dest / f"{kind}.jsonl")
    manifest = {
        "name": PACK_NAME,
        "schema_version": 1,
        "description": "The alignkit organisms' fictional world: facts, arithmetic, calibration "
        "(two-way guesses), benign, benign-alarming and harmful requests, nonexistent entities. "
        "Held-out items use only phrasings and operands absent from training.",
    }
    (dest / "pack.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return dest
