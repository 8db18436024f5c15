"""Repairs in the target's own words ("donors").

A small model learns a repair most easily when the preferred response is something it
already says, and is damaged least: a template it never produced has to be learned
token by token, and that pressure spreads to everything else it says. So before the
critic writes a template, :class:`DonorPool` offers responses the target itself gave,
judged afresh in the broken case's own context:

- **same item** — the target's answer to the same pack item in another conversation
  (asked plainly, say, where no suggested answer or framing pulled it off course);
- **carried over** — the target's own abstentions and refusals on *other* items, which
  hold nothing of their item but, at most, its name: an abstention about another
  nonexistent entity with that name swapped for this case's entity, a refusal of another
  harmful request. Those whose request is worded most like this case's are tried first.

A donor is used only if it breaks no principle in this case's context, so a plain
answer cannot stand in where the principle asks for more (a stated confidence, say);
there the critic's rewrite starts from a same-item response instead of the broken one
(see :func:`~alignkit.train._revise.revise_responses`), which keeps the target's wording
where the rewrite can.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from alignkit.train._cases import Case
from alignkit.train._critic import abstains

__all__ = ["DonorPool"]

_WORD = re.compile(r"[a-z0-9']+")


def _words(text: str, drop: str | None) -> frozenset[str]:
    if drop:
        text = text.replace(drop, " ")
    return frozenset(_WORD.findall(text.lower()))


@dataclass(frozen=True)
class _Carried:
    kind: str
    words: frozenset[str]
    entity: str | None
    text: str


class DonorPool:
    """The target's responses, indexed for reuse as repairs.

    Args:
        refused: ``(case, response) -> bool``: whether the response declines (the shared
            response classifier's ``refused`` label, say). Declining and
            abstaining responses are the ones carried over to other items.
    """

    def __init__(self, refused: Callable[[Case, str], bool]) -> None:
        self._refused = refused
        self._same: dict[str, Counter[str]] = {}
        self._carried: dict[_Carried, int] = {}

    def __len__(self) -> int:
        return sum(len(c) for c in self._same.values())

    def add(self, case: Case, text: str, *, passing: bool) -> None:
        """Record a response of the target to ``case``.

        Every response counts as a same-item candidate (it is judged again where it is
        used); a ``passing`` abstention or refusal is also carried over to other items.
        """
        text = text.strip()
        if not text:
            return
        if case.item_id:
            self._same.setdefault(case.item_id, Counter())[text] += 1
        if not passing:
            return
        entity = case.entity or None
        named = entity is not None and entity in text
        if abstains(text) and entity is not None and not named:
            return  # an abstention naming something else (a misspelt name): not portable
        if not (abstains(text) or self._refused(case, text)):
            return
        key = _Carried(case.kind, _words(case.request or case.user_text, entity), entity, text)
        self._carried[key] = self._carried.get(key, 0) + 1

    def same_item(self, case: Case, *, exclude: str = "") -> list[str]:
        """The target's responses to ``case``'s item, commonest first."""
        counts = self._same.get(case.item_id) if case.item_id else None
        if not counts:
            return []
        return [t for t, _ in counts.most_common() if t != exclude.strip()]

    def carried(self, case: Case, *, limit: int = 8) -> list[str]:
        """Abstentions and refusals from other items, adapted to ``case``, best first.

        Ranked by item kind (the same kind first), then by how much of the request's
        wording they share, then by how often the target said them. A donor naming its
        own entity is adapted by swapping in ``case``'s entity and is skipped when
        ``case`` has none.
        """
        words = _words(case.request or case.user_text, case.entity)
        scored: dict[str, tuple[bool, float, int]] = {}
        for d, count in self._carried.items():
            text = d.text
            if d.entity is not None and d.entity in text:
                if not case.entity or case.entity == d.entity:
                    continue
                text = text.replace(d.entity, case.entity)
            union = len(words | d.words) or 1
            key = (d.kind == case.kind, len(words & d.words) / union, count)
            if text not in scored or key > scored[text]:
                scored[text] = key
        ranked = sorted(scored, key=lambda t: scored[t], reverse=True)
        return ranked[:limit]
