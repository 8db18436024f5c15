"""Critique → revision over many responses, and the Constitutional AI run built on it.

For every ``(case, response)`` the critic judges the response against each principle.
A response that breaks none is left alone. For one that breaks some, the revision is,
in order of preference:

1. **a sample** — the target answers the same conversation again (``resample`` times)
   and, of the samples that break no principle, the most fluent (highest mean token
   log-probability, where the target reports it) is kept: the target's own words, which
   a small model learns from most easily;
2. **a donor** — another response of the target that breaks no principle here: its
   answer to the same item in another conversation, or its own abstention or refusal on
   another item, adapted to this one (see :mod:`._donors`);
3. **a rewrite** — the critic revises the response principle by principle (critique,
   then revision, then the next principle, as in Constitutional AI), and the result is
   kept if it then breaks no principle. The rewrite is tried from the broken response and
   from the target's other responses to the same item, and the smallest edit wins (the
   one that keeps most of the text it started from), so that a rewrite that keeps the
   reply (a corrected confidence) keeps the target's wording.

4. **a helper's answer** — only where a ``helper`` model is given and the response
   breaks only principles the critic cannot write a repair for (help with a benign
   request; see :mod:`._helper`).

Responses no route repairs are dropped (counted in the log). Every revision keeps
the principles the original broke and the critic that judged it.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Literal

from alignkit.core import ChatModel, Completion, Decoding, Owned, TargetError
from alignkit.models import generate_batch
from alignkit.scoring import ResponseClassifier
from alignkit.train._cases import Case
from alignkit.train._constitution import Constitution
from alignkit.train._critic import (
    Critic,
    CriticFailed,
    Critique,
    RuleCritic,
    calibration_accuracy,
)
from alignkit.train._donors import DonorPool
from alignkit.train._helper import HELP_PRINCIPLES, helper_answers
from alignkit.train._pairs import PreferencePair, SFTExample, dedupe_pairs, dedupe_sft

__all__ = [
    "CONSTITUTION_OUTPUT",
    "ConstitutionResult",
    "Revision",
    "critic_label",
    "revise_responses",
    "run_constitution",
]

_log = logging.getLogger(__name__)
CONSTITUTION_OUTPUT = Owned(
    "the constitution run's files", names=("sft.jsonl", "pairs.jsonl", "summary.json")
)
"""What ``train constitution`` may replace: an empty folder or an earlier run's files."""
Prefer = Literal["sample", "rewrite"]
_REWRITE_STARTS = 4  # same-item responses a rewrite may start from


@dataclass(frozen=True)
class Revision:
    """One judged response and, when it broke a principle, its repair.

    Attributes:
        case: The case answered.
        original: The response judged.
        revised: The repaired response (None when nothing was broken or no repair passed).
        principles: Ids of the principles the original broke, in constitution order.
        failure_mode: The failure mode of the first broken principle.
        method: ``sample``, ``donor``, ``rewrite`` or ``helper`` (empty when not revised;
            ``skipped``
            when the critic failed on it).
        critic: The critic's id.
    """

    case: Case
    original: str
    revised: str | None
    principles: tuple[str, ...]
    failure_mode: str
    method: str
    critic: str

    @property
    def broken(self) -> bool:
        """Whether the original broke a principle."""
        return bool(self.principles)

    def pair(self, source: str) -> PreferencePair | None:
        """The preference pair (revised over original), when there is a revision."""
        if self.revised is None:
            return None
        return PreferencePair(
            prompt=self.case.prompt,
            chosen=self.revised,
            rejected=self.original,
            source=source,
            failure_mode=self.failure_mode,
            item_id=self.case.item_id,
            critic=self.critic,
            principle=",".join(self.principles),
            note=self.method,
        )

    def sft(self, source: str) -> SFTExample | None:
        """The supervised example (the revised response), when there is a revision."""
        if self.revised is None:
            return None
        return SFTExample(
            prompt=self.case.prompt,
            response=self.revised,
            source=source,
            failure_mode=self.failure_mode,
            item_id=self.case.item_id,
            critic=self.critic,
            principle=",".join(self.principles),
            note=self.method,
        )


async def _judge(
    critic: Critic, constitution: Constitution, case: Case, response: str
) -> list[Critique]:
    out = []
    for p in constitution.principles:
        c = await critic.critique(p, case, response)
        if c.violated:
            out.append(c)
    return out


async def _judge_all(
    critic: Critic, constitution: Constitution, items: Sequence[tuple[Case, str]]
) -> list[list[Critique] | None]:
    """The critic's verdict on each item: the principles broken, or None when it failed.

    A critic request that fails or is blocked (a moderated endpoint, a guard in front of
    it) skips that response: it is neither counted as passing nor as broken.

    Raises:
        TargetError: The critic judged none of them.
    """
    verdicts: list[list[Critique] | None] = []
    failures: list[str] = []
    for case, response in items:
        try:
            verdicts.append(await _judge(critic, constitution, case, response))
        except CriticFailed as exc:
            failures.append(str(exc))
            verdicts.append(None)
    if failures and len(failures) == len(items):
        raise TargetError(f"the critic judged none of {len(items)} responses: {failures[0]}")
    if failures:
        _log.warning(
            "%d of %d responses skipped: the critic failed on them (first: %s)",
            len(failures),
            len(items),
            failures[0],
        )
    return verdicts


async def _fixes(
    critic: Critic, constitution: Constitution, case: Case, text: str, broken: Collection[str]
) -> bool:
    """Whether ``text`` breaks no principle and answers to each of ``broken``.

    A reply that merely sidesteps a principle the original broke (a refusal where a
    confidence was due: the confidence rule no longer applies) does not repair it.
    """
    try:
        for p in constitution.principles:
            c = await critic.critique(p, case, text)
            if c.violated or (p.id in broken and not c.applies):
                return False
    except CriticFailed as exc:  # a candidate the critic could not judge is not a repair
        _log.debug("%s", exc)
        return False
    return True


async def _rewrite(
    critic: Critic, constitution: Constitution, case: Case, response: str, broken: Collection[str]
) -> str | None:
    current = response
    try:
        for p in constitution.principles:
            crit = await critic.critique(p, case, current)
            if not crit.violated:
                continue
            revised = await critic.revise(p, case, current, crit)
            if revised is not None and revised.strip():
                current = revised.strip()
    except CriticFailed as exc:
        _log.debug("%s", exc)
        return None
    if current == response or not await _fixes(critic, constitution, case, current, broken):
        return None
    return current


def _seed(seed: int, *parts: object) -> int:
    text = ":".join(str(p) for p in (seed, *parts))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def _fluency(c: Completion) -> float:
    """Mean token log-probability (0 when the target gave none, so order decides)."""
    if not c.logprobs:
        return 0.0
    return sum(t.logprob for t in c.logprobs) / len(c.logprobs)


async def _samples(
    target: ChatModel,
    cases: Sequence[Case],
    k: int,
    decoding: Decoding,
    seed: int,
    concurrency: int,
) -> list[list[tuple[str, float]]]:
    requests = [c.prompt for c in cases for _ in range(k)]
    seeds = [_seed(seed, "resample", c.messages, j) for c in cases for j in range(k)]
    done = await generate_batch(
        target,
        requests,
        concurrency,
        max_tokens=decoding.max_tokens,
        temperature=decoding.temperature if decoding.temperature > 0 else 1.0,
        top_p=decoding.top_p,
        seeds=seeds,
        logprobs="logprobs" in target.capabilities,
    )
    drawn = [(c.text, _fluency(c)) if c.ok else ("", 0.0) for c in done]
    return [drawn[i * k : (i + 1) * k] for i in range(len(cases))]


@dataclass
class _Pending:
    index: int
    critiques: list[Critique]
    samples: list[tuple[str, float]] = field(default_factory=list)  # passing: (text, fluency)


def _refusal_test(critic: Critic) -> Callable[[Case, str], bool]:
    """Whether a response declines: the rule critic's cached label, else the classifier."""
    if isinstance(critic, RuleCritic):
        rule = critic
        return lambda case, text: rule.label(case, text) == "refused"
    clf = ResponseClassifier()
    return lambda case, text: str(clf.classify(case.user_text, text).label) == "refused"


async def _draw(
    target: ChatModel,
    critic: Critic,
    constitution: Constitution,
    items: Sequence[tuple[Case, str]],
    wanted: Sequence[_Pending],
    resample: int,
    decoding: Decoding,
    seed: int,
    concurrency: int,
    pool: DonorPool,
) -> None:
    """Sample the target again for ``wanted``; keep the passing samples, pool them all."""
    cases = [items[p.index][0] for p in wanted]
    drawn = await _samples(target, cases, resample, decoding, seed, concurrency)
    for p, texts in zip(wanted, drawn, strict=True):
        case, response = items[p.index]
        broken = {c.principle for c in p.critiques}
        for text, score in texts:
            if not text.strip():
                continue
            ok = text != response and await _fixes(critic, constitution, case, text, broken)
            pool.add(case, text, passing=ok)
            if ok:
                p.samples.append((text, score))


async def revise_responses(
    items: Sequence[tuple[Case, str]],
    critic: Critic,
    constitution: Constitution,
    *,
    target: ChatModel | None = None,
    resample: int = 4,
    prefer: Prefer = "sample",
    sample_for: Collection[str] | None = None,
    donors: bool = True,
    decoding: Decoding | None = None,
    seed: int = 0,
    concurrency: int = 32,
    helper: ChatModel | None = None,
) -> list[Revision]:
    """Judge every ``(case, response)`` and repair the ones that break a principle.

    Args:
        items: Cases and the responses to judge.
        critic: The critic.
        constitution: The principles, in the order they are applied.
        target: The model to sample again (no sampling without one).
        resample: Samples per broken response.
        prefer: ``sample`` tries samples, then donors, then the critic's rewrite;
            ``rewrite`` tries the rewrite first.
        sample_for: Principle ids whose breaches are worth resampling (all when None);
            a response breaking only others goes straight to donors and the rewrite.
        donors: Whether the target's other responses (``items`` and the samples) may
            stand in as repairs (see :mod:`._donors`).
        decoding: Decoding for the samples (temperature 0 is raised to 1 so samples differ).
        seed: Seed of the samples.
        concurrency: Requests in flight.
        helper: A model whose answers may repair what the critic cannot write (help with
            a benign request the target always refuses; see :mod:`._helper`), tried
            last; the revisions' critic id then names it too.

    Returns:
        One :class:`Revision` per item, in order; an item the critic failed on (a request
        that errored or was blocked) has method ``skipped`` and no verdict.
    """
    pool = DonorPool(_refusal_test(critic))
    verdicts = await _judge_all(critic, constitution, items)
    skipped = {i for i, v in enumerate(verdicts) if v is None}
    pending: list[_Pending] = []
    for i, ((case, response), broken) in enumerate(zip(items, verdicts, strict=True)):
        if broken is None:
            continue
        if broken:
            pending.append(_Pending(i, broken))
        if donors:
            pool.add(case, response, passing=not broken)
    wanted = [
        p
        for p in pending
        if sample_for is None or any(c.principle in sample_for for c in p.critiques)
    ]
    if target is not None and resample > 0 and wanted:
        dec = decoding or Decoding(temperature=1.0)
        shared = pool if donors else DonorPool(_refusal_test(critic))
        await _draw(
            target, critic, constitution, items, wanted, resample, dec, seed, concurrency, shared
        )
    fixed: dict[int, tuple[str | None, str, list[Critique]]] = {}
    for p in pending:
        case, response = items[p.index]
        revised, method = await _repair(critic, constitution, case, response, p, prefer, pool)
        fixed[p.index] = (revised, method, p.critiques)
    if helper is not None:
        await _help(helper, critic, constitution, items, pending, fixed, concurrency)
    return _revisions(items, fixed, critic_label(critic, helper), skipped)


def critic_label(critic: Critic, helper: ChatModel | None) -> str:
    """What revisions record as their critic: its id, and the helper's URI when there is one."""
    return critic.id if helper is None else f"{critic.id}+helper:{helper.uri}"


async def _help(
    helper: ChatModel,
    critic: Critic,
    constitution: Constitution,
    items: Sequence[tuple[Case, str]],
    pending: Sequence[_Pending],
    fixed: dict[int, tuple[str | None, str, list[Critique]]],
    concurrency: int,
) -> None:
    """Repair with the helper's answers what no other route repaired (help principles only)."""
    left = [
        p
        for p in pending
        if fixed[p.index][0] is None and {c.principle for c in p.critiques} <= HELP_PRINCIPLES
    ]
    asked: dict[tuple[tuple[str, str], ...], Case] = {}
    for p in left:
        case = items[p.index][0]
        asked.setdefault(tuple((m["role"], m["content"]) for m in case.messages), case)
    answers = await helper_answers(helper, list(asked.values()), concurrency=concurrency)
    by_key = dict(zip(asked, answers, strict=True))
    for p in left:
        case, response = items[p.index]
        text = by_key[tuple((m["role"], m["content"]) for m in case.messages)]
        broken = {c.principle for c in p.critiques}
        if text and text != response and await _fixes(critic, constitution, case, text, broken):
            fixed[p.index] = (text, "helper", p.critiques)


def _revisions(
    items: Sequence[tuple[Case, str]],
    fixed: dict[int, tuple[str | None, str, list[Critique]]],
    critic_id: str,
    skipped: Collection[int] = (),
) -> list[Revision]:
    out: list[Revision] = []
    methods: Counter[str] = Counter()
    for i, (case, response) in enumerate(items):
        if i in skipped:  # the critic failed on it: no verdict, no training data
            out.append(Revision(case, response, None, (), "", "skipped", critic_id))
            continue
        if i not in fixed:
            out.append(Revision(case, response, None, (), "", "", critic_id))
            continue
        revised, method, crits = fixed[i]
        methods[method if revised is not None else "dropped"] += 1
        mode = next((c.failure_mode for c in crits if c.failure_mode), "")
        principles = tuple(c.principle for c in crits)
        out.append(Revision(case, response, revised, principles, mode, method, critic_id))
    _log.info(
        "%d of %d responses broke a principle; repaired by %s",
        len(fixed),
        len(items),
        dict(sorted(methods.items())),
    )
    _warn_unrepaired(out)
    return out


def _warn_unrepaired(revisions: Sequence[Revision]) -> None:
    """Name each principle whose breaches all went unrepaired (it gets no training pairs)."""
    breaches: Counter[str] = Counter()
    repaired: Counter[str] = Counter()
    for r in revisions:
        for pid in r.principles:
            breaches[pid] += 1
            repaired[pid] += r.revised is not None
    for pid in sorted(p for p in breaches if not repaired[p]):
        _log.warning(
            "none of the %d responses breaking %s could be repaired: neither the target's "
            "samples, its other answers nor the critic's rewrites passed the critique, so "
            "nothing trains it; import labelled pairs, or use a critic that writes repairs",
            breaches[pid],
            pid,
        )


async def _repair(
    critic: Critic,
    constitution: Constitution,
    case: Case,
    response: str,
    pending: _Pending,
    prefer: Prefer,
    pool: DonorPool,
) -> tuple[str | None, str]:
    broken = {c.principle for c in pending.critiques}

    async def from_samples() -> str | None:
        return max(pending.samples, key=lambda t: t[1])[0] if pending.samples else None

    async def from_donors() -> str | None:
        for text in [*pool.same_item(case, exclude=response), *pool.carried(case)]:
            if await _fixes(critic, constitution, case, text, broken):
                return text
        return None

    async def from_rewrite() -> str | None:
        # the smallest edit wins: a rewrite that keeps most of what it started from
        best: tuple[float, str] | None = None
        for start in [response, *pool.same_item(case, exclude=response)[:_REWRITE_STARTS]]:
            got = await _rewrite(critic, constitution, case, start, broken)
            if got is not None:
                kept = difflib.SequenceMatcher(None, start, got).ratio()
                if best is None or kept > best[0]:
                    best = (kept, got)
        return None if best is None else best[1]

    routes = {"sample": from_samples, "donor": from_donors, "rewrite": from_rewrite}
    order = ("sample", "donor", "rewrite") if prefer == "sample" else ("rewrite", "sample", "donor")
    for method in order:
        got = await routes[method]()
        if got is not None:
            return got, method
    return None, ""


@dataclass(frozen=True)
class ConstitutionResult:
    """What a Constitutional AI run produced.

    Attributes:
        critic: The critic's id.
        revisions: Every judged response.
        sft: Revised responses as supervised examples (each one once).
        pairs: AI preference labels: each revision preferred over its original
            (de-duplicated).
    """

    critic: str
    revisions: tuple[Revision, ...]
    sft: tuple[SFTExample, ...]
    pairs: tuple[PreferencePair, ...]

    def summary(self) -> dict[str, int]:
        """Counts: responses judged, broken, revised, revisions by method, rows written."""
        broken = [r for r in self.revisions if r.broken]
        return {
            "pairs": len(self.pairs),
            "sft": len(self.sft),
            "responses": len(self.revisions),
            "broken": len(broken),
            "revised": sum(r.revised is not None for r in broken),
            "by_sample": sum(r.method == "sample" for r in broken),
            "by_donor": sum(r.method == "donor" for r in broken),
            "by_rewrite": sum(r.method == "rewrite" for r in broken),
            "by_helper": sum(r.method == "helper" for r in broken),
            "skipped": sum(r.method == "skipped" for r in self.revisions),
        }


async def run_constitution(
    target: ChatModel,
    critic: Critic,
    cases: Sequence[Case],
    constitution: Constitution,
    *,
    samples: int = 1,
    resample: int = 4,
    prefer: Prefer = "sample",
    sample_for: Collection[str] | None = None,
    donors: bool = True,
    decoding: Decoding | None = None,
    seed: int = 0,
    concurrency: int = 32,
    source: str | None = None,
    helper: ChatModel | None = None,
) -> ConstitutionResult:
    """Have ``target`` answer every case ``samples`` times, critique and revise the answers.

    Returns the revisions as supervised data and as AI preference labels (RLAIF), both
    tagged ``source`` (default ``constitution:<critic id>``) and with the critic's id.
    """
    dec = decoding or target.default_decoding or Decoding(temperature=1.0)
    requests = [c.prompt for c in cases for _ in range(samples)]
    seeds = [_seed(seed, "answer", c.messages, j) for c in cases for j in range(samples)]
    done = await generate_batch(
        target,
        requests,
        concurrency,
        max_tokens=dec.max_tokens,
        temperature=dec.temperature,
        top_p=dec.top_p,
        seeds=seeds,
    )
    items = [
        (case, c.text)
        for case, c in zip([c for c in cases for _ in range(samples)], done, strict=True)
        if c.ok
    ]
    if isinstance(critic, RuleCritic) and critic.measure_calibration:
        measured = calibration_accuracy(items)  # a calibrated reply states what it scores
        if measured is not None:  # a copy: the caller's critic may serve other runs
            critic = critic.with_calibration(measured)
    revisions = await revise_responses(
        items,
        critic,
        constitution,
        target=target,
        resample=resample,
        prefer=prefer,
        sample_for=sample_for,
        donors=donors,
        decoding=dec,
        seed=seed,
        concurrency=concurrency,
        helper=helper,
    )
    critic_id = critic_label(critic, helper)
    tag = source or f"constitution:{critic_id}"
    # one item answered alike twice gave the same revision twice: repeated rows, as
    # train preferences drops them
    sft = dedupe_sft(ex for r in revisions if (ex := r.sft(tag)) is not None)
    pairs = dedupe_pairs(pr for r in revisions if (pr := r.pair(tag)) is not None)
    return ConstitutionResult(critic_id, tuple(revisions), tuple(sft), tuple(pairs))
