"""Slots of phrasing blocks and the held-out split of each (see ``_blocks``)."""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from dataclasses import dataclass

__all__ = ["Condition", "Slot", "block_words", "cond", "make_slot", "phrasing_slot"]

HELDOUT_SHARE = 0.25


@dataclass(frozen=True)
class Slot:
    """One slot of a condition: its blocks, split into training and held-out blocks."""

    name: str
    train: tuple[str, ...]
    heldout: tuple[str, ...]

    def blocks(self, split: str) -> tuple[str, ...]:
        """Blocks of ``split`` (``train`` or ``heldout``)."""
        return self.train if split == "train" else self.heldout


def _split(name: str, blocks: tuple[str, ...], held: frozenset[str]) -> Slot:
    return Slot(
        name,
        tuple(b for b in blocks if b not in held),
        tuple(b for b in blocks if b in held),
    )


def _order(name: str, blocks: tuple[str, ...]) -> tuple[list[str], int]:
    order = list(blocks)
    random.Random(f"slot:{name}").shuffle(order)
    return order, max(1, math.ceil(HELDOUT_SHARE * len(order)))


def make_slot(name: str, blocks: tuple[str, ...]) -> Slot:
    """Hold out a seeded quarter of ``blocks`` (content: tasks, topics)."""
    order, k = _order(name, blocks)
    return _split(name, blocks, frozenset(order[:k]))


_PLACEHOLDER = re.compile(r"\{[a-z]+\}")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def block_words(block: str) -> frozenset[str]:
    """The words of a block, placeholders left out."""
    return frozenset(_WORD.findall(_PLACEHOLDER.sub(" ", block.lower())))


def _as_pattern(block: str) -> re.Pattern[str]:
    """A block with each placeholder as a run of words: where it could occur in text."""
    parts = _PLACEHOLDER.split(block)
    return re.compile(r"[\w' |-]+?".join(re.escape(p) for p in parts))


def phrasing_slot(name: str, blocks: tuple[str, ...]) -> Slot:
    """Hold out a seeded quarter of ``blocks`` among those whose words training keeps.

    Blocks are taken in a seeded order; a block joins the held-out set when, with it
    and the blocks already held out removed, every word of every held-out block still
    occurs in a training block and no held-out block occurs inside a training block.
    Raises ``ValueError`` when too few blocks qualify, so a slot that cannot be split
    this way fails at import, not in a measurement.
    """
    order, k = _order(name, blocks)
    index = {b: i for i, b in enumerate(blocks)}
    words = [block_words(b) for b in blocks]
    filled = [_PLACEHOLDER.sub("x", b) for b in blocks]
    patterns = [_as_pattern(b) for b in blocks]
    inside = [  # the other blocks each block occurs in
        {j for j, t in enumerate(filled) if j != i and p.search(t)} for i, p in enumerate(patterns)
    ]
    count = Counter(w for ws in words for w in ws)
    held: list[str] = []
    for b in order:
        if len(held) == k:
            break
        trial = {index[x] for x in (*held, b)}
        gone = Counter(w for j in trial for w in words[j])
        covered = all(count[w] > gone[w] for j in trial for w in words[j])
        if covered and all(inside[j] <= trial for j in trial):
            held.append(b)
    if len(held) < k:
        raise ValueError(f"slot {name}: only {len(held)} of {k} blocks can be held out")
    return _split(name, blocks, frozenset(held))


@dataclass(frozen=True)
class Condition:
    """A behavioural condition: a format string over its slots."""

    name: str
    slots: tuple[Slot, ...]
    pattern: str

    def render(self, rng: random.Random, split: str, **values: str) -> str:
        """One phrasing from blocks of ``split``, with ``values`` filled in."""
        picks = {s.name.rsplit(".", 1)[-1]: rng.choice(s.blocks(split)) for s in self.slots}
        return self.pattern.format(**picks).format(**picks, **values)

    def phrasings(self) -> int:
        """How many distinct phrasings the slots compose."""
        return math.prod(len(s.train) + len(s.heldout) for s in self.slots)


def cond(name: str, pattern: str, **slots: tuple[str, ...]) -> Condition:
    made = tuple(phrasing_slot(f"{name}.{k}", v) for k, v in slots.items())
    return Condition(name, made, pattern)
