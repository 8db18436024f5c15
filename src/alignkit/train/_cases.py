"""Cases: a conversation to answer, tied to the pack item it was built from.

A critic judges a response against what is known about the item (the right answer, the
entity that does not exist, the harm category). Cases come from two places:

- :func:`cases_from_pack` — every item of a pack's ``train`` split, asked plainly;
- :func:`cases_from_attempts` — the requests an audit run stored (with whatever framing
  the check wrapped around the item), matched back to the pack item whose text they
  contain. Only ``train`` items are kept (DESIGN §7): an attempt built on a ``heldout``
  item never becomes repair data.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from alignkit.core import Message
from alignkit.data import Item, ItemPack
from alignkit.scoring import detect_unsafe_markers
from alignkit.store import AttemptRecord

__all__ = ["Case", "ItemIndex", "cases_from_attempts", "cases_from_pack"]

_log = logging.getLogger(__name__)
_TEXT_FIELD = {
    "facts": "question",
    "calibration": "question",
    "arithmetic": "question",
    "nonexistent_entities": "question",
    "benign": "prompt",
    "benign_alarming": "prompt",
    "prompts": "prompt",
    "harmful": "prompt",
}
_CONFIDENCE_ASK = re.compile(r"\bconfiden(ce|t)\b|\bhow (sure|likely)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Case:
    """A conversation ending in the user's turn, and what is known about its item.

    Attributes:
        messages: The conversation to answer.
        kind: The item kind (``facts``, ``harmful``, ...); ``""`` when unknown.
        item_id: The pack item's id.
        request: The item's own text as it appears inside ``messages``.
        answer: The right answer (fact-like kinds).
        aliases: Other accepted answers.
        entity: The entity that does not exist (``nonexistent_entities``).
        category: The harm category (``harmful``).
        split: The item's split (always ``train`` for repair data).
    """

    messages: tuple[Message, ...]
    kind: str
    item_id: str = ""
    request: str = ""
    answer: str | None = None
    aliases: tuple[str, ...] = ()
    entity: str | None = None
    category: str | None = None
    split: str = "train"
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def prompt(self) -> list[Message]:
        """The conversation as a list of messages."""
        return list(self.messages)

    @property
    def user_text(self) -> str:
        """The last user message."""
        return self.messages[-1]["content"]

    @property
    def framed(self) -> bool:
        """Whether the last user message wraps the item's text in anything else."""
        return bool(self.request) and self.user_text.strip() != self.request.strip()

    @property
    def multi_turn(self) -> bool:
        """Whether the conversation holds an earlier assistant turn (a challenge, say)."""
        return any(m["role"] == "assistant" for m in self.messages)

    @property
    def pressured(self) -> bool:
        """Whether the user adds anything to a fact question (a suggestion, a challenge)."""
        return self.multi_turn or (self.kind in ("facts", "arithmetic") and self.framed)

    @property
    def asks_confidence(self) -> bool:
        """Whether the user asks for a stated confidence."""
        return bool(_CONFIDENCE_ASK.search(self.user_text))


def _text_of(kind: str, item: Item) -> str:
    return str(getattr(item, _TEXT_FIELD.get(kind, "prompt"), "") or "")


def _case(kind: str, item: Item, messages: Sequence[Message]) -> Case:
    answer = getattr(item, "answer", None)
    return Case(
        messages=tuple(messages),
        kind=kind,
        item_id=item.id,
        request=_text_of(kind, item),
        answer=None if answer is None else str(answer),
        aliases=tuple(getattr(item, "aliases", ()) or ()),
        entity=getattr(item, "entity", None),
        category=getattr(item, "category", None),
        split=str(item.split),
    )


def cases_from_pack(
    pack: ItemPack,
    *,
    kinds: Iterable[str] | None = None,
    split: str = "train",
    max_per_kind: int | None = None,
) -> list[Case]:
    """One plainly asked case per item of ``split`` (default ``train``) and kind.

    ``max_per_kind`` keeps the first items of each kind only (for quick runs).
    """
    out: list[Case] = []
    for kind in kinds or pack.kinds():
        if kind not in _TEXT_FIELD:
            continue
        items = [it for it in pack.items(kind) if split == "all" or str(it.split) == split]
        for item in items[:max_per_kind]:
            text = _text_of(kind, item)
            out.append(_case(kind, item, [{"role": "user", "content": text}]))
    return out


def first_per_kind(cases: Iterable[Case], limit: int | None) -> list[Case]:
    """The first ``limit`` cases of each kind, in order (all of them when ``limit`` is None)."""
    if limit is None:
        return list(cases)
    taken: Counter[str] = Counter()
    out = []
    for case in cases:
        taken[case.kind] += 1
        if taken[case.kind] <= limit:
            out.append(case)
    return out


class ItemIndex:
    """Finds the pack item whose text a request contains (the longest such text wins)."""

    def __init__(self, pack: ItemPack) -> None:
        self._exact: dict[str, tuple[str, Item]] = {}
        self._all: list[tuple[str, str, Item]] = []
        for kind in pack.kinds():
            if kind not in _TEXT_FIELD:
                continue
            for item in pack.items(kind):
                text = _text_of(kind, item).strip()
                if text:
                    self._exact.setdefault(text, (kind, item))
                    self._all.append((text, kind, item))
        self._all.sort(key=lambda t: -len(t[0]))

    def find(self, text: str) -> tuple[str, Item] | None:
        """``(kind, item)`` whose text occurs in ``text``, or None."""
        hit = self._exact.get(text.strip())
        if hit is not None:
            return hit
        for needle, kind, item in self._all:
            if needle in text:
                return kind, item
        return None


def _first_user(messages: Sequence[Message]) -> str:
    return next((m["content"] for m in messages if m["role"] == "user"), "")


def cases_from_attempts(
    attempts: Iterable[AttemptRecord], pack: ItemPack, *, run_split: str = "all"
) -> list[tuple[Case, str, str]]:
    """``(case, response, producer)`` for every stored attempt that produced behaviour.

    An attempt is matched to the item whose text occurs in its first user message.
    Attempts on ``heldout`` items are dropped. An attempt that matches no item is kept
    only when the run audited the ``train`` split alone and the response carries an
    unsafe marker (a harmful item passed through a converter); it becomes a ``harmful``
    case of unknown item.
    """
    index = ItemIndex(pack)
    out: list[tuple[Case, str, str]] = []
    dropped = {"heldout": 0, "unmatched": 0}
    for a in attempts:
        if not a.completion.ok or not a.messages or a.messages[-1]["role"] != "user":
            continue
        hit = index.find(_first_user(a.messages))
        if hit is None:
            if run_split == "train" and detect_unsafe_markers(a.completion.text):
                case = Case(messages=tuple(a.messages), kind="harmful", request="")
                out.append((case, a.completion.text, a.producer))
            else:
                dropped["unmatched"] += 1
            continue
        kind, item = hit
        if str(item.split) != "train":
            dropped["heldout"] += 1
            continue
        out.append((_case(kind, item, a.messages), a.completion.text, a.producer))
    _log.info(
        "matched %d attempts to train items (dropped: %d heldout, %d unmatched)",
        len(out),
        dropped["heldout"],
        dropped["unmatched"],
    )
    return out
