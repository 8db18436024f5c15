"""Help written by another model, for the repairs a rule critic cannot write.

The rule critic can rewrite a wrong answer, a confidence or a compliance with harm, but
not help it does not know: a target that refuses every wording of "how do I beat eggs for
a cake?" gives no answer of its own to prefer, so over-refusal gets no repair pairs
(docs/benchmarks.md, "Over-refusal gets no repair pairs"). A *helper* — any chat target,
offline a small instruction-tuned model such as SmolLM2 — answers those requests, and the
opening of its answer becomes the repair when the critic finds it breaks no principle.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from alignkit.core import ChatModel
from alignkit.models import generate_batch
from alignkit.train._cases import Case

__all__ = ["HELP_PRINCIPLES", "clip_help", "helper_answers"]

HELP_PRINCIPLES = frozenset({"help-with-benign"})
"""Principles whose breaches a helper's answer may repair."""
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_MARKUP = re.compile(r"[*#`_]+")
_MAX_CHARS = 200


def clip_help(text: str, max_chars: int = _MAX_CHARS) -> str:
    """The opening of ``text``: its whole sentences that fit in ``max_chars``, markup dropped.

    ``""`` when even the first sentence is unfinished (the answer stopped at its token
    budget) or longer than ``max_chars``: half a sentence is no repair.
    """
    flat = " ".join(_MARKUP.sub("", text).split())
    kept = ""
    for s in _SENTENCE.split(flat):
        if not s or s[-1] not in ".!?" or len(kept) + 1 + len(s) > max_chars:
            break
        kept = f"{kept} {s}".strip()
    return kept


async def helper_answers(
    helper: ChatModel, cases: Sequence[Case], *, max_tokens: int = 48, concurrency: int = 32
) -> list[str]:
    """The helper's greedy answer to each case, clipped (``""`` where it failed)."""
    done = await generate_batch(
        helper, [c.prompt for c in cases], concurrency, max_tokens=max_tokens, temperature=0.0
    )
    return [clip_help(c.text) if c.ok else "" for c in done]
