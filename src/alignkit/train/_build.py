"""Build preference data for a repair from every source at once.

:func:`build_preferences` gathers ``(case, response)`` items from

1. **audit evidence** — the responses an audit run stored (``source = audit:RUN``),
   each matched to the ``train`` pack item it was built on;
2. **constitution revisions** — the target answering the run's conversations afresh
   (``source = constitution:CRITIC``), which also yields supervised examples;
3. **pack items** — the target answering every ``train`` item of the pack plainly,
   ``pack_samples`` times (``source = pack:NAME``);
4. **human labels** — JSONL/CSV files of pairs (``source = human:FILE``);

then has the critic judge the responses and repair the broken ones (samples of the
target first, the critic's rewrite otherwise; see :mod:`._revise`). Every repaired
response becomes a pair: the repair chosen, the failing response rejected.
"""

from __future__ import annotations

import logging
import math
import os
import random
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from alignkit.core import (
    ChatModel,
    ConfigError,
    DataError,
    Decoding,
    resolve_store_url,
    run_sync,
)
from alignkit.data import ItemPack, load_pack
from alignkit.models import generate_batch
from alignkit.store import Store
from alignkit.train._cases import Case, cases_from_attempts, cases_from_pack, first_per_kind
from alignkit.train._constitution import Constitution, load_constitution
from alignkit.train._critic import Critic, RuleCritic, calibration_accuracy
from alignkit.train._pairs import (
    PreferencePair,
    SFTExample,
    dedupe_pairs,
    import_pairs,
    pair_counts,
)
from alignkit.train._revise import Revision, _seed, critic_label, revise_responses

__all__ = [
    "PreferenceBuild",
    "abuild_preferences",
    "build_preferences",
    "constitution_cases",
    "resolve_pack",
    "run_cases",
]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreferenceBuild:
    """Pairs and supervised examples built for one repair, with where they came from.

    Attributes:
        pairs: De-duplicated preference pairs.
        sft: Supervised examples (constitution revisions).
        counts: Pairs per source kind and per failure mode.
        judged: Responses judged per source kind.
        critic: The critic's id.
        calibration_accuracy: The target's measured accuracy on ``calibration`` items.
        run_id: The audit run the evidence came from.
    """

    pairs: tuple[PreferencePair, ...]
    sft: tuple[SFTExample, ...]
    counts: dict[str, dict[str, int]]
    judged: dict[str, int]
    critic: str
    calibration_accuracy: float | None
    run_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def run_cases(store: str | None, run_id: str, pack: ItemPack) -> tuple[str, list[tuple[Case, str]]]:
    """``(full run id, [(case, stored response)])`` for an audit run's train-item attempts.

    Raises:
        ConfigError: The run is not an audit, or ``pack`` is not the pack it audited (a
            heldout item of the run's pack can be a train item of another).
    """
    with Store.open(resolve_store_url(store), create=False) as st:
        record = st.get_run(run_id)
        if record.config.get("kind") == "redteam":
            # a campaign's attempts match no audit item: 0 pairs and no word, before
            raise ConfigError(f"run {record.id} is not an audit run; --from-run takes one")
        attempts = st.attempts(record.id)
    _same_pack(record.id, record.config, pack)
    split = str(record.config.get("split", "all"))
    if split not in ("train", "all"):
        _log.warning("run %s audited the %s split: only train items can be used", record.id, split)
    matched = cases_from_attempts(attempts.values(), pack, run_split=split)
    return record.id, [(case, text) for case, text, _ in matched]


def _same_pack(run_id: str, config: dict[str, Any], pack: ItemPack) -> None:
    digest = config.get("pack_digest")
    if isinstance(digest, str) and digest and digest != pack.digest():
        where = config.get("data") or "the target's default pack"
        raise ConfigError(
            f"the item pack {pack.path} is not the one run {run_id} audited ({where}): their"
            " items differ; pass the run's own pack with --data"
        )


def resolve_pack(
    pack: str | os.PathLike[str] | ItemPack | None,
    target: ChatModel | None,
    *,
    run_id: str | None = None,
    store: str | None = None,
) -> ItemPack:
    """The item pack a build reads: ``pack``, else the run's own, else the target's default.

    With ``run_id`` and no ``pack``, the pack the audit run recorded is used when it is
    still there; the pack found is checked against the run's recorded digest.

    Raises:
        ConfigError: No pack can be found, the run is unknown, or the pack is not the
            one the run audited.
    """
    if isinstance(pack, ItemPack):
        found: ItemPack | None = pack
    elif pack is not None:
        found = load_pack(pack, split="all")
    else:
        found = None
    if run_id is None:
        return found if found is not None else _default_pack(target)
    with Store.open(resolve_store_url(store), create=False) as st:
        record = st.get_run(run_id)
    if found is None:
        recorded = record.config.get("data")
        if isinstance(recorded, str) and recorded and os.path.exists(recorded):
            found = load_pack(recorded, split="all")
        else:
            found = _default_pack(target)
    _same_pack(record.id, record.config, found)
    return found


def _default_pack(target: ChatModel | None) -> ItemPack:
    path = target.default_pack if target is not None else None
    if path is None:
        raise ConfigError(
            "no item pack: pass one (--data DIR; pack= in Python): the target names no default"
            " pack, and an audit run's items are read from the pack it ran on"
        )
    return load_pack(path, split="all")


async def _answer(
    target: ChatModel,
    cases: Sequence[Case],
    samples: int,
    decoding: Decoding,
    seed: int,
    salt: str,
) -> list[tuple[Case, str]]:
    expanded = [c for c in cases for _ in range(samples)]
    seeds = [_seed(seed, salt, c.messages, j) for c in cases for j in range(samples)]
    done = await generate_batch(
        target,
        [c.prompt for c in expanded],
        32,
        max_tokens=decoding.max_tokens,
        temperature=decoding.temperature,
        top_p=decoding.top_p,
        seeds=seeds,
    )
    return [(case, c.text) for case, c in zip(expanded, done, strict=True) if c.ok]


def _unique_conversations(items: Sequence[tuple[Case, str]]) -> list[Case]:
    seen: set[tuple[tuple[str, str], ...]] = set()
    out = []
    for case, _ in items:
        key = tuple((m["role"], m["content"]) for m in case.messages)
        if key not in seen:
            seen.add(key)
            out.append(case)
    return out


async def abuild_preferences(
    target: ChatModel | None = None,
    *,
    run_id: str | None = None,
    store: str | None = None,
    pack: str | os.PathLike[str] | ItemPack | None = None,
    critic: Critic | None = None,
    constitution: Constitution | None = None,
    imports: Sequence[str | os.PathLike[str]] = (),
    pack_samples: int = 2,
    pack_kinds: Sequence[str] | None = None,
    max_per_kind: int | None = None,
    constitution_samples: int = 1,
    resample: int = 4,
    sample_for: Collection[str] | None = None,
    anchor_share: float = 0.5,
    seed: int = 0,
    helper: ChatModel | None = None,
) -> PreferenceBuild:
    """Build pairs from an audit run, constitution revisions, pack items and human labels.

    Args:
        target: The model being repaired (answers the constitution and pack prompts and
            is sampled again for repairs). Without it only the audit evidence and the
            imports are used, repaired by the critic's rewrites alone.
        run_id: An audit run in the store whose attempts give the evidence.
        store: Store URL or path (``$ALIGNKIT_STORE``/default when None).
        pack: The item pack, or its path (when None: the pack the run audited, else the
            target's default pack; see :func:`resolve_pack`).
        critic: The critic (a :class:`RuleCritic` calibrated on the target when None).
        constitution: The principles (the shipped default when None).
        imports: JSONL/CSV files of human-labelled pairs.
        pack_samples: Answers per ``train`` item (0 skips the pack source).
        pack_kinds: Item kinds the pack source asks (all when None).
        max_per_kind: At most this many ``train`` items per kind from the pack source.
        constitution_samples: Fresh answers per run conversation (0 skips that source).
        resample: Samples of the target tried per broken response.
        sample_for: Principles whose breaches are repaired by resampling first (all when
            None); the others go straight to the critic's rewrite.
        anchor_share: Anchors are responses that break no principle, preferred over the
            over-correction a repair could teach (an abstention on a known fact, a
            refusal of a benign request, help with a harmful one), so the repair does not
            spread to what was right. Each kind may make up at most this share of itself
            plus the repairs it guards against (0.5: one anchor per such repair). 0
            disables them (rule critic only).
        seed: Seed for every sample.
        helper: A model whose answers may repair help the critic cannot write (see
            :func:`revise_responses`); None: such breaches stay unrepaired.

    Raises:
        ConfigError: Nothing to build from, or no pack.
    """
    if target is None and run_id is None and not imports:
        raise ConfigError("nothing to build from: give a target, a run or files to import")
    imported = [p for path in imports for p in import_pairs(path)]  # bad rows: before any work
    rules = constitution or load_constitution()
    sources: list[tuple[str, list[tuple[Case, str]]]] = []
    full_run: str | None = None
    item_pack = (
        resolve_pack(pack, target, run_id=run_id, store=store)
        if (target is not None or run_id)
        else None
    )
    dec = (target.default_decoding if target else None) or Decoding(temperature=1.0)
    if run_id is not None and item_pack is not None:
        full_run, evidence = run_cases(store, run_id, item_pack)
        sources.append((f"audit:{full_run}", evidence))
        if target is not None and constitution_samples > 0:
            convos = _unique_conversations(evidence)
            fresh = await _answer(target, convos, constitution_samples, dec, seed, "constitution")
            sources.append(("constitution", fresh))
    if target is not None and item_pack is not None and pack_samples > 0:
        plain = cases_from_pack(item_pack, kinds=pack_kinds, max_per_kind=max_per_kind)
        answered = await _answer(target, plain, pack_samples, dec, seed, "pack")
        sources.append((f"pack:{item_pack.name}", answered))
    all_items = [it for _, items in sources for it in items]
    accuracy = calibration_accuracy(all_items)
    judge = critic or RuleCritic(calibration_accuracy=accuracy)
    if isinstance(judge, RuleCritic) and judge.measure_calibration and accuracy is not None:
        judge = judge.with_calibration(accuracy)  # as run_constitution does
    revisions = await revise_responses(
        all_items,
        judge,
        rules,
        target=target,
        resample=resample if target else 0,
        sample_for=sample_for,
        seed=seed,
        helper=helper,
    )
    critic_id = critic_label(judge, helper)
    pairs, sft, judged = _collect(sources, revisions, critic_id)
    if isinstance(judge, RuleCritic) and anchor_share > 0:
        pairs.extend(_anchors(judge, sources, revisions, anchor_share, pairs, seed))
    pairs.extend(imported)
    unique = dedupe_pairs(pairs)
    _log.info("built %d preference pairs (%d before de-duplication)", len(unique), len(pairs))
    return PreferenceBuild(
        pairs=tuple(unique),
        sft=tuple(sft),
        counts=pair_counts(unique),
        judged=judged,
        critic=critic_id,
        calibration_accuracy=accuracy,
        run_id=full_run,
    )


def _collect(
    sources: Sequence[tuple[str, list[tuple[Case, str]]]],
    revisions: Sequence[Revision],
    critic_id: str,
) -> tuple[list[PreferencePair], list[SFTExample], dict[str, int]]:
    pairs: list[PreferencePair] = []
    sft: list[SFTExample] = []
    judged: dict[str, int] = {}
    start = 0
    for name, items in sources:
        chunk = revisions[start : start + len(items)]
        start += len(items)
        tag = f"constitution:{critic_id}" if name == "constitution" else name
        judged[tag.split(":", 1)[0]] = judged.get(tag.split(":", 1)[0], 0) + len(items)
        for r in chunk:
            pair = r.pair(tag)
            if pair is not None:
                pairs.append(pair)
            if name == "constitution" and (ex := r.sft(tag)) is not None:
                sft.append(ex)
    return pairs, sft, judged


def _wordings(revisions: Sequence[Revision]) -> tuple[list[str], list[str], list[str]]:
    """Abstention templates (``{name}``), refusals and help the repairs teach, commonest first."""
    abst: Counter[str] = Counter()
    refs: Counter[str] = Counter()
    helps: Counter[str] = Counter()
    for r in revisions:
        if r.revised is None:
            continue
        entity = r.case.entity
        if "admit-unknowns" in r.principles and entity and entity in r.revised:
            escaped = r.revised.replace("{", "{{").replace("}", "}}")
            abst[escaped.replace(entity, "{name}")] += 1
        if "refuse-harm" in r.principles:
            refs[r.revised] += 1
        if "help-with-benign" in r.principles:
            helps[r.revised] += 1
    return (
        [t for t, _ in abst.most_common(3)],
        [t for t, _ in refs.most_common(3)],
        [t for t, _ in helps.most_common(8)],
    )


_GUARDS = {
    "capability-loss": ("hallucination", "miscalibration"),
    "over-refusal": ("jailbreak", "misuse", "deceptive-alignment"),
    "misuse": ("over-refusal",),
}
"""For each kind of anchor, the repairs whose over-correction it guards against: a right
answer against abstaining (taught by hallucination and calibration repairs), help with a
benign request against refusing (taught by refusal repairs), a refusal of a harmful one
against helping (taught by over-refusal repairs)."""


def _anchors(
    critic: RuleCritic,
    sources: Sequence[tuple[str, list[tuple[Case, str]]]],
    revisions: Sequence[Revision],
    share: float,
    repairs: Sequence[PreferencePair],
    seed: int,
) -> list[PreferencePair]:
    abstentions, refusals, helps = _wordings(revisions)
    tags = [name for name, items in sources for _ in items]
    found: list[PreferencePair] = []
    seen: set[tuple[tuple[str, str], ...]] = set()
    for tag, r in zip(tags, revisions, strict=True):
        key = tuple((m["role"], m["content"]) for m in r.case.messages)
        if r.broken or key in seen:
            continue
        cf = critic.counterfactual(
            r.case, r.original, abstentions=abstentions, refusals=refusals, helps=helps
        )
        if cf is None:
            continue
        seen.add(key)
        mode, text = cf
        found.append(
            PreferencePair(
                prompt=r.case.prompt,
                chosen=r.original,
                rejected=text,
                source=f"constitution:{critic.id}" if tag == "constitution" else tag,
                failure_mode=mode,
                item_id=r.case.item_id,
                critic=critic.id,
                principle="anchor",
                note="anchor",
            )
        )
    guarded = Counter(p.failure_mode for p in repairs)
    ratio = share / (1 - share) if share < 1 else math.inf
    rng = random.Random(f"anchors:{seed}")
    by_mode: dict[str, list[PreferencePair]] = {}
    for p in found:
        by_mode.setdefault(p.failure_mode, []).append(p)
    chosen: list[PreferencePair] = []
    for mode in sorted(by_mode):
        group = by_mode[mode]
        rng.shuffle(group)
        budget = sum(guarded[m] for m in _GUARDS.get(mode, ()))
        chosen.extend(group[: min(len(group), int(ratio * budget))] if budget else [])
    return chosen


def constitution_cases(
    pack: ItemPack,
    *,
    run_id: str | None = None,
    store: str | None = None,
    max_per_kind: int | None = None,
) -> list[Case]:
    """The prompts a constitution run answers: the run's conversations, else train items.

    Each conversation of the run is taken once; ``max_per_kind`` limits either source.

    Raises:
        DataError: There is no prompt to answer (no train item, or none the run matched).
    """
    if run_id is not None:
        full, items = run_cases(store, run_id, pack)
        seen: dict[tuple[tuple[str, str], ...], Case] = {}
        for case, _ in items:
            seen.setdefault(tuple((m["role"], m["content"]) for m in case.messages), case)
        cases = first_per_kind(seen.values(), max_per_kind)
        where = f"run {full} has no attempt on a train item of {pack.path}"
    else:
        cases = cases_from_pack(pack, max_per_kind=max_per_kind)
        where = f"the item pack {pack.path} has no train items"
    if not cases:  # an empty run replaced earlier output with empty files
        raise DataError(f"nothing to critique: {where}")
    return cases


def build_preferences(target: ChatModel | None = None, **kwargs: Any) -> PreferenceBuild:
    """Synchronous :func:`abuild_preferences` (runs its own event loop)."""
    return run_sync(abuild_preferences(target, **kwargs))
