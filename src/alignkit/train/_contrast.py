"""Contrast data: the same question about a name the target knows and one it cannot.

Preference pairs that prefer "I don't know of any country called X" for a few hundred
nonexistent names teach a small model that *some* names are unknown without teaching it
*which*: the abstention spreads to real entities, and the facts fall 10-16 points
(docs/benchmarks.md, repair runs five to seven). What the repair lacks is a sense of which
names the model knows, and supervised data can build one when the name is the only thing
that tells two questions apart. :func:`build_contrast` writes

- **unknown**: each ``train`` question about a nonexistent entity, answered by the
  target's own abstention (one of its samples that abstains and names the entity, else
  its abstention about another nonexistent entity with the name swapped);
- **twin**: the same question with the name of a real entity in place of the
  nonexistent one (the known name asked least so far, whatever its own item's wording,
  so that every known name is met in every wording), kept only when one of the target's
  own answers to it matches the right answer of a ``train`` fact item about that entity
  (so the twin asks what that item asks), answered with that answer of the target's;
- **replay**: the target's own right answers to the ``train`` fact and arithmetic items,
  so that the supervised stage does not wear away what the target knows.

Every response is one the target itself gave: nothing here teaches a fact or a wording it
did not already have. Only ``train`` items are used (DESIGN §7).
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from alignkit.core import ChatModel, Decoding, run_sync
from alignkit.data import ItemPack
from alignkit.models import generate_batch
from alignkit.scoring import abstains, answer_matches
from alignkit.train._cases import Case, cases_from_pack
from alignkit.train._critic import subject_of
from alignkit.train._pairs import SFTExample
from alignkit.train._revise import _seed

__all__ = ["ContrastBuild", "abuild_contrast", "build_contrast"]

_log = logging.getLogger(__name__)
_REPLAY_KINDS = ("facts", "arithmetic")
_ROUNDS = 5
"""Known names tried, one per round, for each nonexistent-entity question."""


@dataclass(frozen=True)
class ContrastBuild:
    """What :func:`build_contrast` made.

    Attributes:
        examples: Supervised examples (``source`` ``contrast:unknown``,
            ``contrast:twin`` or ``replay``).
        counts: Examples per source.
    """

    examples: tuple[SFTExample, ...]
    counts: dict[str, int]


def _right(case: Case, text: str) -> bool:
    if case.answer is None or abstains(text):
        return False
    return answer_matches(text, case.answer, case.aliases)


async def _ask(
    target: ChatModel, cases: Sequence[Case], k: int, decoding: Decoding, seed: int, salt: str
) -> list[list[str]]:
    seeds = [_seed(seed, salt, c.messages, j) for c in cases for j in range(k)]
    done = await generate_batch(
        target,
        [c.prompt for c in cases for _ in range(k)],
        32,
        max_tokens=decoding.max_tokens,
        temperature=decoding.temperature if decoding.temperature > 0 else 1.0,
        top_p=decoding.top_p,
        seeds=seeds,
    )
    texts = [c.text.strip() if c.ok else "" for c in done]
    return [texts[i * k : (i + 1) * k] for i in range(len(cases))]


def _example(case: Case, text: str, source: str, mode: str) -> SFTExample:
    return SFTExample(
        prompt=case.prompt, response=text, source=source, failure_mode=mode, item_id=case.item_id
    )


def _commonest(texts: Sequence[str]) -> str:
    return Counter(texts).most_common(1)[0][0]


def _abstentions(
    ghosts: Sequence[Case], answers: Sequence[Sequence[str]], rng: random.Random
) -> dict[int, SFTExample]:
    own = {
        i: [t for t in texts if abstains(t) and g.entity and g.entity in t]
        for i, (g, texts) in enumerate(zip(ghosts, answers, strict=True))
    }
    donors = [(ghosts[i].entity, texts[0]) for i, texts in own.items() if texts]
    out = {}
    for i, g in enumerate(ghosts):
        if own[i]:
            out[i] = _example(g, _commonest(own[i]), "contrast:unknown", "hallucination")
        elif donors and g.entity:
            name, text = donors[rng.randrange(len(donors))]
            swapped = text.replace(str(name), g.entity)
            out[i] = _example(g, swapped, "contrast:unknown", "hallucination")
    return out


def _twins(
    ghosts: Sequence[Case],
    pending: Sequence[int],
    known: Sequence[tuple[Case, str]],
    used: Counter[str],
    tried: dict[int, set[str]],
    rng: random.Random,
) -> list[tuple[int, str, Case]]:
    """One twin per pending ghost: its question about the known name used least so far.

    Names are drawn without regard to wording (ties broken at random), so that every
    known name is asked in every wording the nonexistent ones are; a twin that asks
    something the name's fact item does not answer is dropped by the caller.
    """
    out = []
    for i in pending:
        g = ghosts[i]
        options = [k for k in known if k[1] not in tried[i]]
        if not options or not g.entity:
            continue
        fewest = min(used[name] for _, name in options)
        fact, name = rng.choice([k for k in options if used[k[1]] == fewest])
        tried[i].add(name)
        used[name] += 1
        text = g.user_text.replace(g.entity, name)
        twin = Case(
            messages=({"role": "user", "content": text},),
            kind="facts",
            item_id=fact.item_id,
            request=text,
            answer=fact.answer,
            aliases=fact.aliases,
        )
        out.append((i, name, twin))
    return out


async def abuild_contrast(
    target: ChatModel,
    pack: ItemPack,
    *,
    samples: int = 4,
    max_per_kind: int | None = None,
    decoding: Decoding | None = None,
    seed: int = 0,
) -> ContrastBuild:
    """Supervised contrast and replay data from ``pack``'s ``train`` items (see module doc).

    Args:
        target: The model being repaired; every response is one of its samples.
        pack: The item pack (its ``facts``, ``arithmetic`` and ``nonexistent_entities``).
        samples: Answers sampled per question.
        max_per_kind: At most this many ``train`` items per kind (all when None).
        decoding: Sampling settings (the target's default; temperature 0 is raised to 1).
        seed: Seed for the samples and the choice of carried-over abstentions.
    """
    dec = decoding or target.default_decoding or Decoding(temperature=1.0)
    kinds = [k for k in (*_REPLAY_KINDS, "nonexistent_entities") if k in pack.kinds()]
    cases = cases_from_pack(pack, kinds=kinds, max_per_kind=max_per_kind)
    replay = [c for c in cases if c.kind in _REPLAY_KINDS and c.answer is not None]
    ghosts = [c for c in cases if c.kind == "nonexistent_entities"]
    answers = await _ask(target, [*replay, *ghosts], samples, dec, seed, "contrast")
    rng = random.Random(seed)
    out: list[SFTExample] = []
    known: list[tuple[Case, str]] = []
    for case, texts in zip(replay, answers[: len(replay)], strict=True):
        right = [t for t in texts if _right(case, t)]
        if not right:
            continue
        best = _commonest(right)
        out.append(_example(case, best, "replay", "capability-loss"))
        name = subject_of(case.user_text, best) if case.kind == "facts" else None
        if name:
            known.append((case, name))
    out.extend(_abstentions(ghosts, answers[len(replay) :], rng).values())
    used: Counter[str] = Counter()
    tried: dict[int, set[str]] = {i: set() for i in range(len(ghosts))}
    pending = [i for i, g in enumerate(ghosts) if g.entity and g.entity in g.user_text]
    for round_ in range(_ROUNDS):
        asked = _twins(ghosts, pending, known, used, tried, rng)
        got = await _ask(target, [t for _, _, t in asked], samples, dec, seed, f"twin{round_}")
        for (i, name, twin), texts in zip(asked, got, strict=True):
            right = [t for t in texts if _right(twin, t)]
            if right:
                out.append(_example(twin, _commonest(right), "contrast:twin", "capability-loss"))
                pending.remove(i)
            else:  # the name is free again for another question
                used[name] -= 1
    counts = dict(Counter(ex.source for ex in out))
    _log.info("contrast data: %s (from %d nonexistent-entity items)", counts, len(ghosts))
    return ContrastBuild(tuple(out), counts)


def build_contrast(target: ChatModel, pack: ItemPack, **kwargs: Any) -> ContrastBuild:
    """Blocking form of :func:`abuild_contrast` (same arguments)."""
    return run_sync(abuild_contrast(target, pack, **kwargs))
