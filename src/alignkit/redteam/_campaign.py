"""Campaigns: run a strategy over behaviours against a target, storing every attempt.

``run_campaign(CampaignOptions(target=..., strategy="search"))`` is what
``alignkit redteam run`` calls. The run is recorded in the store with its options;
each attempt is written, with its score, as soon as it completes; ``resume=RUN_ID``
rebuilds the campaign from the stored options and re-sends nothing already stored.
When it finishes, the run gets an :class:`~alignkit.core.AuditResult` holding the
``jailbreak.attack_success_rate`` finding, so ``alignkit runs`` lists and gates it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alignkit import __version__
from alignkit.core import (
    AlignkitConfig,
    AuditResult,
    ChatModel,
    ConfigError,
    Decoding,
    RequestCounts,
    load_config,
    resolve_store_url,
    run_sync,
    summarize,
)
from alignkit.data import SplitSelector, general_pack_path
from alignkit.models import BoundedModel, TargetOptions, connect
from alignkit.redteam._behaviours import Behaviour, load_behaviours, sample_behaviours
from alignkit.redteam._converters import CONVERTERS
from alignkit.redteam._library import AttackLibrary, load_ladders, load_library
from alignkit.redteam._prior import run_windowed
from alignkit.redteam._report import (
    RedteamReport,
    report_finding,
    report_from_store,
    report_table,
    require_redteam_run,
)
from alignkit.redteam._scorepool import ScorePool, default_workers
from alignkit.redteam._scorepool import available as scorepool_available
from alignkit.redteam._scoring import AttemptOutcome, MarkerPolicy, Scorer
from alignkit.redteam._session import AuxChannel, Session, StoreChannel
from alignkit.redteam._strategies import STRATEGIES, Arsenal, StrategySpec, default_converters
from alignkit.store import AttemptRecord, AttemptWriter, Store, new_run_id

__all__ = [
    "POOL_MIN_QUERIES",
    "CampaignOptions",
    "CampaignResult",
    "new_campaign_id",
    "run_campaign",
]

_log = logging.getLogger(__name__)
ProgressFn = Callable[[int, int], None]
"""``progress(advance, total)``: ``advance`` attempts done; ``total`` is the query budget."""
_MARKERS = ("auto", "require", "ignore")


@dataclass(frozen=True)
class CampaignOptions:
    """Everything that determines a campaign; stored with the run so ``resume`` rebuilds it.

    Attributes:
        target: The target URI (DESIGN §6).
        behaviours: Pack folder or JSONL/CSV file; default: the target's own pack, else
            the general pack's harmful items.
        split: Which pack split to attack (``train``, ``heldout``, ``all``).
        strategy: ``static``, ``search``, ``crescendo``, ``pair`` or ``tap``.
        max_queries: Query budget per behaviour (target requests).
        concurrency: Most target requests in flight.
        max_behaviours: Attack a seeded sample of this many behaviours.
        seed: Seed of every random choice.
        attacks: Extra attack-library YAML files.
        ladders: Extra crescendo-ladder YAML files.
        families: Only these attack families (all when ``None``).
        exclude_families: Leave these families out.
        converters: Converters the strategy may use (default: all that need no model,
            plus ``translate`` when ``converter_model`` is set).
        max_stack: Most converters stacked on one query.
        attacker: Chat URI of the attacker model (``pair``, ``tap``, crescendo rephrasing).
        judge: Chat URI of the classifier's judge tier.
        converter_model: Chat URI the ``translate`` converter uses.
        language: Language ``translate`` translates into.
        markers: ``auto``, ``require`` or ``ignore`` the behaviour's category marker.
        stop_on_success: End a behaviour's attack at its first success (strategy default
            when ``None``: yes, except for ``static``).
        streams: PAIR streams / TAP width.
        branching: TAP branching factor.
        temperature: Override the target's decoding temperature.
        max_tokens: Override the target's completion length.
    """

    target: str = "organism:flawed"
    behaviours: str | None = None
    split: str = "all"
    strategy: str = "search"
    max_queries: int = 20
    concurrency: int = 8
    max_behaviours: int | None = None
    seed: int = 0
    attacks: tuple[str, ...] = ()
    ladders: tuple[str, ...] = ()
    families: tuple[str, ...] | None = None
    exclude_families: tuple[str, ...] = ()
    converters: tuple[str, ...] | None = None
    max_stack: int = 2
    attacker: str | None = None
    judge: str | None = None
    converter_model: str | None = None
    language: str = "Zulu"
    markers: str = "auto"
    stop_on_success: bool | None = None
    streams: int = 3
    branching: int = 2
    temperature: float | None = None
    max_tokens: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored as the run's config, with ``kind: redteam``)."""
        out = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> CampaignOptions:
        """Rebuild options from :meth:`to_dict` output (unknown keys ignored)."""
        names = {f.name for f in fields(cls)}
        kwargs: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in raw.items() if k in names
        }
        return cls(**kwargs)

    def validate(self) -> StrategySpec:
        """Check the options; the strategy they name.

        Raises:
            ConfigError: a value is out of range or names something unknown.
        """
        for name in ("attacks", "ladders", "families", "exclude_families", "converters"):
            if isinstance(getattr(self, name), str):  # "plain" read as p, l, a, i, n
                raise ConfigError(
                    f"{name} must be a tuple of ids, not the string {getattr(self, name)!r}"
                )
        if self.max_queries < 1:
            raise ConfigError(f"--max-queries must be at least 1, got {self.max_queries}")
        if not 0 <= self.seed < 2**63:  # stored as a 64-bit integer; numpy takes no sign
            raise ConfigError(f"--seed must be from 0 to 2**63 - 1, got {self.seed}")
        if self.concurrency < 1:
            raise ConfigError(f"--concurrency must be at least 1, got {self.concurrency}")
        if self.max_behaviours is not None and self.max_behaviours < 1:
            raise ConfigError(f"--max-behaviours must be at least 1, got {self.max_behaviours}")
        if self.split not in ("train", "heldout", "all"):
            raise ConfigError(f"--split must be train, heldout or all, not '{self.split}'")
        if self.markers not in _MARKERS:
            raise ConfigError(
                f"--markers must be one of {', '.join(_MARKERS)}, not '{self.markers}'"
            )
        if self.max_stack < 0 or self.streams < 1 or self.branching < 1:
            raise ConfigError("--max-stack must be >= 0, --streams and --branching >= 1")
        if (self.temperature is not None and not 0 <= self.temperature < math.inf) or (
            self.max_tokens is not None and self.max_tokens < 1
        ):  # NaN and inf were internal errors later
            raise ConfigError("--temperature must be a finite number >= 0 and --max-tokens >= 1")
        spec = STRATEGIES.get(self.strategy)
        if spec.needs_attacker and not self.attacker:
            raise ConfigError(f"strategy '{spec.id}' needs an attacker model: --attacker URI")
        for cid in self.converters or ():
            conv = CONVERTERS.get(cid)
            if conv.needs_model and not self.converter_model:
                raise ConfigError(f"converter '{cid}' needs --converter-model URI")
        self.library()
        load_ladders(self.ladders)
        if self.behaviours is not None:
            load_behaviours(self.behaviours, split=_split(self.split))
        return spec

    def library(self) -> AttackLibrary:
        """The attack library these options select."""
        families = list(self.families) if self.families is not None else None
        return load_library(self.attacks).select(families, self.exclude_families)


@dataclass
class CampaignResult:
    """What a campaign did: its run id, report, and how many requests it sent or reused."""

    run_id: str
    options: CampaignOptions
    report: RedteamReport
    sent: int
    reused: int
    elapsed_s: float
    resumed: bool = False
    notes: list[str] = field(default_factory=list)


def new_campaign_id() -> str:
    """A sortable, unique run id: ``rt-YYYYMMDD-HHMMSS-xxxxxx``."""
    return new_run_id("rt-")


def _rng(seed: int, strategy: str, behaviour: str) -> random.Random:
    digest = hashlib.sha256(f"{seed}:{strategy}:{behaviour}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _split(value: str) -> SplitSelector:
    if value == "train":
        return "train"
    if value == "heldout":
        return "heldout"
    return "all"


def _behaviours(opts: CampaignOptions, target: ChatModel) -> list[Behaviour]:
    source: str | Path = opts.behaviours or target.default_pack or general_pack_path()
    behaviours = load_behaviours(source, split=_split(opts.split))
    return sample_behaviours(behaviours, opts.max_behaviours, opts.seed)


def _converters(opts: CampaignOptions) -> tuple[str, ...]:
    if opts.converters is not None:
        return opts.converters
    extra = ("translate",) if opts.converter_model else ()
    return default_converters() + extra


@dataclass
class _Models:
    """The target and auxiliary models a campaign opened (closed together)."""

    target: ChatModel
    judge: ChatModel | None = None
    attacker: ChatModel | None = None
    translator: ChatModel | None = None

    async def aclose(self) -> None:
        for m in (self.target, self.judge, self.attacker, self.translator):
            if m is not None:
                await m.aclose()


async def _open(opts: CampaignOptions, t_opts: TargetOptions) -> _Models:
    models = _Models(connect(opts.target, t_opts))
    try:
        models.judge = connect(opts.judge, t_opts) if opts.judge else None
        models.attacker = connect(opts.attacker, t_opts) if opts.attacker else None
        models.translator = connect(opts.converter_model, t_opts) if opts.converter_model else None
    except BaseException:
        await models.aclose()
        raise
    return models


@dataclass(frozen=True)
class _Plan:
    opts: CampaignOptions
    spec: StrategySpec
    run_id: str
    resumed: bool
    stored: dict[str, AttemptRecord]
    t_opts: TargetOptions
    started: datetime
    score_processes: int | None = None


def _absolute(opts: CampaignOptions) -> CampaignOptions:
    """``opts`` with its file paths made absolute (they are stored for a resume)."""

    def absolute(path: str) -> str:
        return str(Path(path).resolve()) if Path(path).exists() else path

    return replace(
        opts,
        behaviours=absolute(opts.behaviours) if opts.behaviours else opts.behaviours,
        attacks=tuple(absolute(p) for p in opts.attacks),
        ladders=tuple(absolute(p) for p in opts.ladders),
    )


def _inputs_digest(opts: CampaignOptions, behaviours: list[Behaviour]) -> str:
    """A hash of what the campaign attacks with: its behaviours and extra attack files."""
    h = hashlib.sha256()
    for b in behaviours:
        h.update(b.model_dump_json().encode() + b"\n")
    for path in (*opts.attacks, *opts.ladders):
        try:
            h.update(Path(path).read_bytes())
        except OSError:
            h.update(f"missing:{path}".encode())
    return h.hexdigest()[:16]


def _begin(store: Store, plan: _Plan, behaviours: list[Behaviour]) -> None:
    """Record the campaign; a resumed one must find the inputs it started on.

    Raises:
        ConfigError: The behaviours or attack files changed since the campaign started
            (resuming would mix two campaigns in one result).
    """
    digest = _inputs_digest(plan.opts, behaviours)
    if plan.resumed:
        stored = store.get_run(plan.run_id).config.get("inputs_digest")
        if stored and stored != digest:
            raise ConfigError(
                f"the behaviours or attack files of campaign {plan.run_id} changed since it"
                " started; resuming would mix two campaigns; start a new one instead"
            )
    store.begin_run(
        plan.run_id,
        resumed=plan.resumed,
        target=plan.opts.target,
        seed=plan.opts.seed,
        config={"kind": "redteam", **plan.opts.to_dict(), "inputs_digest": digest},
        alignkit_version=__version__,
        started_at=plan.started,
    )


def _decoding(opts: CampaignOptions, target: ChatModel) -> Decoding:
    base = target.default_decoding or Decoding()
    return Decoding(
        temperature=base.temperature if opts.temperature is None else opts.temperature,
        top_p=base.top_p,
        max_tokens=base.max_tokens if opts.max_tokens is None else opts.max_tokens,
    )


def _arsenal(plan: _Plan, models: _Models, writer: AttemptWriter, deterministic: bool) -> Arsenal:
    opts = plan.opts

    def aux(model: ChatModel | None, producer: str) -> AuxChannel | None:
        if model is None:
            return None
        return AuxChannel(model, plan.run_id, producer, writer, plan.stored, opts.seed)

    return Arsenal(
        library=opts.library(),
        converters=_converters(opts),
        max_stack=opts.max_stack,
        ladders=load_ladders(opts.ladders),
        translator=aux(models.translator, "redteam.translator"),
        attacker=aux(models.attacker, "redteam.attacker"),
        language=opts.language,
        deterministic=deterministic,
        streams=opts.streams,
        branching=opts.branching,
    )


async def _execute(plan: _Plan, store: Store, progress: ProgressFn | None) -> tuple[int, int]:
    """Run the campaign; ``(sent, reused)`` target requests."""
    opts, spec = plan.opts, plan.spec
    models = await _open(opts, plan.t_opts)
    pool: ScorePool | None = None
    try:
        ping = getattr(models.target, "ping", None)
        if ping is not None:
            await ping()
        behaviours = _behaviours(opts, models.target)
        decoding = _decoding(opts, models.target)
        require = Scorer.policy_requires(
            _marker(opts.markers), models.target.default_pack is not None
        )
        _begin(store, plan, behaviours)
        total = len(behaviours) * opts.max_queries
        pool = _score_pool(plan, require, total, judged=models.judge is not None)
        if pool is not None:
            await pool.start()
        with store.writer(flush_every=256) as writer:
            channel = StoreChannel(
                BoundedModel(models.target, opts.concurrency),
                plan.run_id,
                f"redteam.{spec.id}",
                writer,
                plan.stored,
                Scorer(require_markers=require, judge=models.judge),
                decoding,
                opts.seed,
                opts.concurrency,
                progress=(lambda n: progress(n, total)) if progress else None,
                pool=pool,
            )
            arsenal = _arsenal(plan, models, writer, decoding.temperature == 0)
            stop = spec.stop_on_success if opts.stop_on_success is None else opts.stop_on_success
            sessions = [
                Session(b, channel, opts.max_queries, stop_on_success=stop) for b in behaviours
            ]
            if progress is not None:
                progress(0, total)

            async def start(s: Session) -> None:
                await spec.fn(s, arsenal, _rng(opts.seed, spec.id, s.behaviour.id))

            window = prior_window(opts.concurrency) if spec.uses_prior else len(sessions)
            await run_windowed(sessions, start, window)
        return channel.sent, channel.reused
    finally:
        if pool is not None:
            await pool.aclose()
        await models.aclose()


def prior_window(concurrency: int) -> int:
    """Behaviours attacked at once by a strategy that learns across them.

    Enough to keep ``concurrency`` requests in flight (a search generation is 4–8
    queries); a smaller window lets later behaviours learn from more earlier ones.
    """
    return max(4, concurrency // 4)


POOL_MIN_QUERIES = 2000
"""Campaigns planning at least this many queries score in a worker process (auto mode)."""


def _score_pool(plan: _Plan, require: bool, total: int, *, judged: bool) -> ScorePool | None:
    """A scoring worker when it pays: big campaign, spare core, no judge (or when asked)."""
    wanted = plan.score_processes
    if wanted is None:
        wanted = (
            default_workers() if total >= POOL_MIN_QUERIES and (os.cpu_count() or 1) >= 2 else 0
        )
    if wanted <= 0 or judged or not scorepool_available():
        return None
    return ScorePool(require_markers=require, workers=wanted)


def _marker(value: str) -> MarkerPolicy:
    if value == "require":
        return "require"
    if value == "ignore":
        return "ignore"
    return "auto"


def _resolve(
    store: Store, options: CampaignOptions | None, resume: str | None
) -> tuple[str, CampaignOptions, dict[str, AttemptRecord], datetime]:
    if resume is None:
        if options is None:
            raise ConfigError("no campaign options given")
        return new_campaign_id(), options, {}, datetime.now(UTC)
    record = store.get_run(resume)
    require_redteam_run(record)
    opts = CampaignOptions.from_dict(record.config)
    return record.id, opts, store.attempts(record.id), record.started_at


STORED_EVIDENCE = 10
"""Example attacks the stored finding keeps, whatever ``evidence`` the caller shows."""


def _finish(st: Store, url: str, plan: _Plan, evidence: int) -> RedteamReport:
    """Build the report, store the run's result (the ASR finding and table), mark it done."""
    run = st.get_run(plan.run_id)
    # what is stored does not follow how much the terminal shows (--evidence 0 stored none)
    kept = report_from_store(st, url, run, evidence=max(evidence, STORED_EVIDENCE))
    report = kept.model_copy(update={"evidence": kept.evidence[: max(evidence, 0)]})
    check = f"redteam.{plan.spec.id}"
    findings, errors = [], {}
    if report.scored_behaviours:
        findings = [report_finding(kept, check=check, run_id=plan.run_id)]
    else:  # an unreachable target is not a 0 % attack success rate (a gate passed it)
        outcomes = ", ".join(f"{k} {v}" for k, v in report.outcomes.items()) or "no attempt"
        errors[check] = f"no behaviour could be scored ({outcomes})"
    st.finish_run(
        AuditResult(
            run_id=plan.run_id,
            target=plan.opts.target,
            started_at=plan.started,
            finished_at=datetime.now(UTC),
            alignkit_version=__version__,
            seed=plan.opts.seed,
            findings=findings,
            summary=summarize(findings),
            tables=[report_table(report, check=check)],
            checks_run=[check] if findings else [],
            errors=errors,
            # attempts without an answer: `runs gate` names a run that rests on fewer (a
            # campaign whose requests mostly failed passed the gate without a word)
            requests=RequestCounts(
                sent=report.attempts, failed=report.outcomes.get(AttemptOutcome.ERROR.value, 0)
            ),
        )
    )
    return report.model_copy(update={"status": "finished"})


def run_campaign(
    options: CampaignOptions | None = None,
    *,
    resume: str | None = None,
    store: str | None = None,
    config: AlignkitConfig | None = None,
    target_options: TargetOptions | None = None,
    progress: ProgressFn | None = None,
    evidence: int = 10,
    score_processes: int | None = None,
) -> CampaignResult:
    """Run (or, with ``resume=RUN_ID``, continue) a red-team campaign.

    Example::

        from alignkit.redteam import CampaignOptions, run_campaign

        result = run_campaign(CampaignOptions(target="organism:flawed", max_queries=20))
        print(result.report.attack_success_rate, result.report.queries_to_first_success_median)

    ``score_processes`` chooses where replies are classified: 0 in this process, N in N
    forked worker processes (Linux). By default campaigns of at least
    :data:`POOL_MIN_QUERIES` queries on a machine with two or more cores, without a judge,
    use one worker per spare core (at most four). Scores are the same either way.

    Raises:
        ConfigError: bad options, or ``resume`` names a run that is not a campaign.
        StoreError: the store cannot be opened or written.
        TargetError: the target cannot be reached.
    """
    cfg = config or load_config()
    # one spend meter for the run: target, attacker, judge and translator share the caps
    t_opts = (target_options or TargetOptions(http=cfg.http)).shared()
    t0 = time.perf_counter()
    url = resolve_store_url(store, cfg)
    if options is not None and resume is None:
        options.validate()  # bad input never touches the store
        options = _absolute(options)  # a resume from another folder reads the same files
    with Store.open(url) as st:
        run_id, opts, stored, started = _resolve(st, options, resume)
        spec = opts.validate()
        plan = _Plan(
            opts, spec, run_id, resume is not None, stored, t_opts, started, score_processes
        )
        with st.failing_run(
            run_id, resumed=plan.resumed, resume_with="alignkit redteam run --resume"
        ):
            sent, reused = run_sync(_execute(plan, st, progress))
        report = _finish(st, url, plan, evidence)
    return CampaignResult(
        run_id=run_id,
        options=opts,
        report=report,
        sent=sent,
        reused=reused,
        elapsed_s=time.perf_counter() - t0,
        resumed=resume is not None,
    )
