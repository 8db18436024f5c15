"""The black-box search attacker: evolution over attacks × converters × rewrites.

It needs no attacker model and knows nothing about the target beyond its replies, so it
runs offline against any chat target. Per behaviour:

1. **Seed** a first generation: one attack from each family, plain text — or, once
   earlier behaviours of the campaign have taught which attacks work on this target
   (:mod:`._prior`), the attacks a Thompson draw on those lessons ranks highest.
2. **Score** each query with the shared classifier; a reply's fitness is 1 for a
   success, high for compliance that misses the success test, middling for partial
   compliance, near 0 for a confident refusal.
3. **Breed** the next, smaller generation: the best genome so far again (a stochastic
   target may comply on another draw; skipped for greedy targets), mutants of
   tournament-picked parents (another attack of the family, another family, a converter
   added or dropped, a rewrite added or dropped, crossover), and one immigrant from a
   family drawn by Thompson sampling on the fitness each family has earned here and the
   successes it had on earlier behaviours.
4. Stop at the first success or when the budget is spent.

Everything random comes from the behaviour's seeded ``rng``, so a resumed campaign
breeds the same generations and finds their attempts in the store.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field, replace

from alignkit.redteam._prior import Prior
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
    prior_min_tries: int = 8
    """Attempts on earlier behaviours needed before their lessons steer the search."""
    prior_cap: float = 20.0
    """Most pseudo-attempts the lessons of earlier behaviours weigh, per family."""


SETTINGS = SearchSettings()


@dataclass
class _State:
    session: Session
    arsenal: Arsenal
    rng: random.Random
    settings: SearchSettings
    prior: Prior = field(default_factory=Prior)
    families: dict[str, list[str]] = field(default_factory=dict)
    archive: dict[Genome, list[float]] = field(default_factory=lambda: defaultdict(list))
    family_fit: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    @property
    def informed(self) -> bool:
        """Whether earlier behaviours left enough evidence to steer by."""
        return self.prior.tries >= self.settings.prior_min_tries

    def family_of(self, g: Genome) -> str:
        return self.arsenal.library.get(g.attack).family

    def mean(self, g: Genome) -> float:
        fits = self.archive.get(g) or [0.0]
        return sum(fits) / len(fits)

    def thompson_family(self) -> str:
        """A family drawn by Thompson sampling on this behaviour's fitness and the prior."""
        best, best_draw = "", -1.0
        for fam in sorted(self.families):
            fits = self.family_fit.get(fam, [])
            total = sum(fits)
            alpha, beta = 1.0 + total, 1.0 + len(fits) - total
            if self.informed:
                s, n = self.prior.families.get(fam, (0, 0))
                weight = min(1.0, self.settings.prior_cap / n) if n else 0.0
                alpha, beta = alpha + weight * s, beta + weight * (n - s)
            draw = self.rng.betavariate(alpha, beta)
            if draw > best_draw:
                best, best_draw = fam, draw
        return best

    def random_attack(self, family: str) -> str:
        options = self.families[family]
        if not self.informed:
            return self.rng.choice(options)
        return max(options, key=lambda a: self.prior.draw(a, family, self.rng))

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
        size = max(self.settings.first_generation, 1)
        if self.informed:  # the attacks most likely to work here, by a Thompson draw each
            draws = {
                a: self.prior.draw(a, fam, self.rng)
                for fam, attacks in sorted(self.families.items())
                for a in attacks
            }
            ranked = sorted(draws, key=lambda a: -draws[a])
            return [Genome(ranked[i % len(ranked)]) for i in range(size)]
        fams = sorted(self.families)
        self.rng.shuffle(fams)
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


@strategy("search", uses_prior=True)
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
    state = _State(session, arsenal, rng, settings, session.prior or Prior())
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
