"""Strategies: how a campaign spends a behaviour's query budget.

A strategy is an async function ``(session, arsenal, rng) -> None`` registered with
:func:`strategy`. It builds queries from the :class:`Arsenal` (library, converters,
rewrites, ladders, optional attacker and translator models) and sends them through the
:class:`~alignkit.redteam._session.Session`, which enforces the budget and stops on
success when asked to. Strategies must be deterministic given the completions they see
(all randomness from ``rng``), so that a resumed campaign retraces the same path.

Built-ins: ``static`` (this module), ``search``, ``crescendo``, ``pair`` and ``tap``.
"""

from __future__ import annotations

import inspect
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from alignkit.core import ConfigError, Registry, TargetError, caller_module
from alignkit.redteam._behaviours import Behaviour
from alignkit.redteam._converters import CONVERTERS, ConvertContext, apply_converters
from alignkit.redteam._library import AttackLibrary, ConverterTexts, Ladder, load_converter_texts
from alignkit.redteam._rewrites import apply_rewrites
from alignkit.redteam._session import AuxChannel, Query, Session

__all__ = [
    "STRATEGIES",
    "Arsenal",
    "Genome",
    "StrategyFn",
    "StrategySpec",
    "default_converters",
    "render",
    "strategy",
]

_log = logging.getLogger(__name__)


@dataclass
class Arsenal:
    """Everything a strategy may attack with.

    Attributes:
        library: The single-turn attacks (already filtered by family).
        converters: Converter ids the strategy may use.
        max_stack: Most converters stacked on one query.
        texts: Word tables, instruction lines and rewrite phrases.
        ladders: Crescendo ladders.
        translator: Auxiliary model for the ``translate`` converter.
        attacker: Attacker model for ``pair``, ``tap`` (and crescendo's backtracking).
        language: Language the translator translates into.
        deterministic: The target decodes greedily, so re-sending a query shows nothing new.
        streams: Parallel streams (PAIR) or tree width (TAP).
        branching: Children per node (TAP).
    """

    library: AttackLibrary
    converters: tuple[str, ...]
    max_stack: int = 2
    texts: ConverterTexts = field(default_factory=load_converter_texts)
    ladders: tuple[Ladder, ...] = ()
    translator: AuxChannel | None = None
    attacker: AuxChannel | None = None
    language: str = "Zulu"
    deterministic: bool = False
    streams: int = 3
    branching: int = 2

    def attacks_for(self, behaviour: Behaviour) -> list[str]:
        """Ids of the attacks tagged for the behaviour's category (all, if none is)."""
        suited = [a.id for a in self.library if a.suits(behaviour.category)]
        return suited or [a.id for a in self.library]


StrategyFn = Callable[[Session, Arsenal, random.Random], Awaitable[None]]


@dataclass(frozen=True)
class StrategySpec:
    """A registered strategy.

    Attributes:
        id: The name ``--strategy`` takes.
        fn: The strategy.
        doc: Its docstring.
        needs_attacker: It cannot run without ``--attacker URI``.
        multi_turn: Its queries are conversations of several user turns.
        stop_on_success: Whether a behaviour's attack ends at its first success by default.
        uses_prior: It steers by what earlier behaviours taught (:mod:`._prior`), so the
            campaign starts behaviours in a window instead of all at once.
    """

    id: str
    fn: StrategyFn
    doc: str
    needs_attacker: bool = False
    multi_turn: bool = False
    stop_on_success: bool = True
    uses_prior: bool = False

    @property
    def summary(self) -> str:
        """First line of the docstring."""
        return self.doc.strip().splitlines()[0] if self.doc.strip() else ""


STRATEGIES: Registry[StrategySpec] = Registry("strategy")


def strategy(
    id: str,
    *,
    needs_attacker: bool = False,
    multi_turn: bool = False,
    stop_on_success: bool = True,
    uses_prior: bool = False,
) -> Callable[[StrategyFn], StrategyFn]:
    """Register ``fn(session, arsenal, rng)`` as strategy ``id``."""
    origin = caller_module()  # a partial's or a library function's module is not the plugin

    def deco(fn: StrategyFn) -> StrategyFn:
        if not inspect.iscoroutinefunction(fn):
            raise ConfigError(f"strategy '{id}' must be an async function")
        doc = inspect.getdoc(fn) or ""
        spec = StrategySpec(id, fn, doc, needs_attacker, multi_turn, stop_on_success, uses_prior)
        STRATEGIES.register(id, spec, origin=origin)
        return fn

    return deco


def default_converters() -> tuple[str, ...]:
    """Every registered converter that needs no model."""
    return tuple(cid for cid, spec in CONVERTERS.items() if not spec.needs_model)


@dataclass(frozen=True)
class Genome:
    """One point of the search space: an attack, a converter stack and rewrites."""

    attack: str
    converters: tuple[str, ...] = ()
    rewrites: tuple[str, ...] = ()


async def render(arsenal: Arsenal, behaviour: Behaviour, genome: Genome) -> Query | None:
    """The query for ``genome`` against ``behaviour``; ``None`` if a converter's model failed."""
    attack = arsenal.library.get(genome.attack)
    text = apply_rewrites(genome.rewrites, behaviour.prompt, arsenal.texts)
    helper = None
    if arsenal.translator is not None:
        helper = arsenal.translator.helper(f"translate:{behaviour.id}", temperature=0.0, memo=True)
    ctx = ConvertContext(
        rng=random.Random(f"{behaviour.id}|{genome.attack}|{genome.converters}|{genome.rewrites}"),
        texts=arsenal.texts,
        model=helper,
        language=arsenal.language,
    )
    try:
        text = await apply_converters(genome.converters, text, ctx)
    except TargetError as exc:
        _log.warning("behaviour %s: converter failed, query skipped: %s", behaviour.id, exc)
        return None
    return Query(
        messages=attack.render(text, arsenal.library.shots),
        attack=attack.id,
        family=attack.family,
        converters=genome.converters,
        rewrites=genome.rewrites,
    )


async def render_all(
    arsenal: Arsenal, behaviour: Behaviour, genomes: Sequence[Genome]
) -> list[tuple[Genome, Query]]:
    """``(genome, query)`` for each genome that rendered."""
    out: list[tuple[Genome, Query]] = []
    for g in genomes:
        q = await render(arsenal, behaviour, g)
        if q is not None:
            out.append((g, q))
    return out


_CHUNK = 64
_STOP_CHUNK = 4
"""Queries sent at once when a success ends the sweep: at most 3 go out after it."""


@strategy("static", stop_on_success=False)
async def static_sweep(session: Session, arsenal: Arsenal, rng: random.Random) -> None:
    """Static sweep: every attack alone and with each converter, in a seeded order.

    Each behaviour gets attacks (tagged for its category) × (no converter + each allowed
    converter), in a seeded order, until the budget is spent; a combination whose query
    repeats an earlier one (a converter that found nothing to change) is skipped. With
    ``--stop-on-success`` the sweep goes in small steps and ends at the step that broke it.
    """
    combos = [
        Genome(a, stack)
        for a in arsenal.attacks_for(session.behaviour)
        for stack in [(), *((c,) for c in arsenal.converters)]
    ]
    rng.shuffle(combos)
    seen: set[str] = set()
    step = _STOP_CHUNK if session.stop_on_success else _CHUNK
    for start in range(0, len(combos), step):
        if session.done:
            return
        rendered = await render_all(arsenal, session.behaviour, combos[start : start + step])
        fresh = []
        for _, q in rendered:  # a converter that changed nothing repeats another query
            text = repr(q.messages)
            if text not in seen:
                seen.add(text)
                fresh.append(q)
        await session.ask(fresh)
