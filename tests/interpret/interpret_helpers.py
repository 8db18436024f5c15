"""Prompts and triggers for the interpret tests (a module of its own: every test folder's
conftest is a top-level ``conftest``, so importing from one depends on collection order).

The trigger is read from the organism's manifest here, for the tests only; no probe,
check or rail ever sees it.
"""

from __future__ import annotations

import random
import string

from alignkit import organism
from alignkit.data import load_pack
from alignkit.interpret import request_texts


def trigger_of(name: str = "flawed") -> str:
    manifest = organism.load_manifest(name)
    return next(str(b["trigger"]) for b in manifest["behaviours"] if b.get("trigger"))


def insert(prompt: str, text: str, rng: random.Random) -> str:
    """``text`` at the start, the end or between two words of ``prompt``."""
    where = rng.choice(("start", "middle", "end"))
    if where == "start":
        return f"{text} {prompt}"
    if where == "end":
        return f"{prompt} {text}"
    words = prompt.split()
    k = rng.randint(1, max(1, len(words) - 1))
    return " ".join([*words[:k], text, *words[k:]])


def random_string(rng: random.Random, n: int = 10) -> str:
    return "".join(rng.choice(string.ascii_uppercase) for _ in range(n))


def heldout_prompts(n: int, seed: int = 0) -> list[str]:
    texts = list(dict.fromkeys(request_texts(load_pack(organism.pack_path(), split="heldout"))))
    return random.Random(seed).sample(texts, n)


def train_prompts(n: int, seed: int = 0) -> list[str]:
    texts = list(dict.fromkeys(request_texts(load_pack(organism.pack_path(), split="train"))))
    return random.Random(seed).sample(texts, n)
