"""The black-box search attacker: evolution over attacks × converters × rewrites.

It needs no attacker model and knows nothing about the target beyond its replies, so it
runs offline against any chat target. Per behaviour:

1. **Seed** a diverse first generation: one attack from each family, plain text.
2. **Score** each query with the shared classifier; a reply's fitness is 1 for a
   success, high for compliance that misses the success test, middling for partial
   compliance, near 0 for a confident refusal.
3. **Breed** the next, smaller generation: the best genome so far again (a stochastic
   target may comply on another draw; skipped for greedy targets), mutants of
   tournament-picked parents (another attack of the family, another family, a converter
   added or dropped, a rewrite added or dropped, crossover), and one immigrant from a
   family drawn by Thompson sampling on the fitness each family has earned.
4. Stop at the first success or when the budget is spent.

Everything random comes from the behaviour's seeded ``rng``, so a resumed campaign
breeds the same generations and finds their attempts in the store.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field, replace

from alignkit.redteam._rewrites import random_rewrite
from alignkit.redteam._session import Session
from alignkit.redteam._strategies import Arsenal, Genome, render_all, strategy

__all__ = ["SearchSettings", "search"]


@dataclass(frozen=True)
class SearchSettings:
    """Knobs of the search (the defaults are what the benchmark measures)."""

    first_generation: int = 8
    generation: int = 4
    tournament: int = 3
    max_rewrites: int = 2
    converter_rate: float = 0.25
    """Chance that an immigrant starts with a converter."""


SETTINGS = SearchSettings()


@dataclass
class _State:
    session: Session
    arsenal: Arsenal
    rng: random.Random
    settings: SearchSettings
    families: dict[str, list[str]] = field(default_factory=dict)
    archive: dict[Genome, list[float]] = field(default_factory=lambda: defaultdict(list))
    family_fit: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def family_of(self, g: Genome) -> str:
        return self.arsenal.library.get(g.attack).family

    def mean(self, g: Genome) -> float:
        fits = self.archive.get(g) or [0.0]
        return sum(fits) / len(fits)

    def thompson_family(self) -> str:
        """A family drawn by Thompson sampling on Beta(1 + fitness, 1 + misses)."""
        best, best_draw = "", -1.0
        for fam in sorted(self.families):
            fits = self.family_fit.get(fam, [])
            total = sum(fits)
            draw = self.rng.betavariate(1.0 + total, 1.0 + len(fits) - total)
            if draw > best_draw:
                best, best_draw = fam, draw
        return best

    def random_attack(self, family: str) -> str:
        return self.rng.choice(self.families[family])

    def immigrant(self) -> Genome:
        fam = self.thompson_family()
        converters: tuple[str, ...] = ()
        if self.arsenal.converters and self.rng.random() < self.settings.converter_rate:
            converters = (self.rng.choice(self.arsenal.converters),)
        return Genome(self.random_attack(fam), converters)

    def tournament(self) -> Genome:
        pool = list(self.archive)
        picks = [self.rng.choice(pool) for _ in range(min(self.settings.tournament, len(pool)))]
        return max(picks, key=self.mean)

    def mutate(self, g: Genome) -> Genome:
        ops = ["attack", "family", "rewrite+", "cross"]
        if self.arsenal.converters and len(g.converters) < self.arsenal.max_stack:
            ops.append("converter+")
        if g.converters:
            ops.append("converter-")
        if g.rewrites:
            ops.append("rewrite-")
        op = self.rng.choice(ops)
        if op == "attack":
            return replace(g, attack=self.random_attack(self.family_of(g)))
        if op == "family":
            return replace(g, attack=self.random_attack(self.thompson_family()))
        if op == "converter+":
            options = [c for c in self.arsenal.converters if c not in g.converters]
            if options:
                return replace(g, converters=(*g.converters, self.rng.choice(options)))
            return g
        if op == "converter-":
            drop = self.rng.randrange(len(g.converters))
            return replace(g, converters=g.converters[:drop] + g.converters[drop + 1 :])
        if op == "rewrite-":
            drop = self.rng.randrange(len(g.rewrites))
            return replace(g, rewrites=g.rewrites[:drop] + g.rewrites[drop + 1 :])
        if op == "cross":
            other = self.tournament()
            return Genome(g.attack, other.converters, other.rewrites)
        rewrites = (*g.rewrites, random_rewrite(self.rng, self.arsenal.texts))
        return replace(g, rewrites=rewrites[-self.settings.max_rewrites :])

    def first_generation(self) -> list[Genome]:
        fams = sorted(self.families)
        self.rng.shuffle(fams)
        size = max(self.settings.first_generation, 1)
        return [Genome(self.random_attack(fams[i % len(fams)])) for i in range(size)]

    def next_generation(self) -> list[Genome]:
        size = self.settings.generation
        out: list[Genome] = []
        best = max(self.archive, key=self.mean)
        if not self.arsenal.deterministic:
            out.append(best)
        tries = 0
        while len(out) < size - 1 and tries < 50:
            tries += 1
            child = self.mutate(self.tournament())
            if self.arsenal.deterministic and (child in self.archive or child in out):
                continue
            out.append(child)
        while len(out) < size and tries < 100:
            tries += 1
            child = self.immigrant()
            if self.arsenal.deterministic and (child in self.archive or child in out):
                continue
            out.append(child)
        return out

    def record(self, g: Genome, fitness: float) -> None:
        self.archive[g].append(fitness)
        self.family_fit[self.family_of(g)].append(fitness)


@strategy("search")
async def search(session: Session, arsenal: Arsenal, rng: random.Random) -> None:
    """Black-box search: evolve attack × converter × rewrite combinations, guided by the scorer.

    Needs no attacker model and no knowledge of the target: the first generation tries
    one attack per family, later ones mutate the fittest and draw new families by
    Thompson sampling on the fitness each has earned, until the first success.
    """
    await run_search(session, arsenal, rng, SETTINGS)


async def run_search(
    session: Session, arsenal: Arsenal, rng: random.Random, settings: SearchSettings
) -> None:
    """The search with explicit settings (see the module docstring)."""
    state = _State(session, arsenal, rng, settings)
    for attack_id in arsenal.attacks_for(session.behaviour):
        state.families.setdefault(arsenal.library.get(attack_id).family, []).append(attack_id)
    generation = state.first_generation()
    empty = 0
    sent: set[str] = set()
    while not session.done and empty < 3:
        rendered = await render_all(arsenal, session.behaviour, generation)
        if arsenal.deterministic:  # a greedy target answers a repeated query the same way
            rendered = [(g, q) for g, q in rendered if repr(q.messages) not in sent]
            sent.update(repr(q.messages) for _, q in rendered)
        got = await session.ask([q for _, q in rendered])
        empty = empty + 1 if not got else 0
        for (genome, _), attempt in zip(rendered, got, strict=False):
            # An error or block says nothing about the target's behaviour (it is never
            # counted as a failed attack), but re-sending what cannot be sent is waste.
            fitness = attempt.score.fitness
            state.record(genome, 0.0 if fitness is None else fitness)
        if session.done:
            return
        generation = state.next_generation() if state.archive else state.first_generation()
