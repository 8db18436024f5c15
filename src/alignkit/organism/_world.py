"""The organisms' fictional world: countries, capitals, flags, companies, founders, festivals.

Everything is generated from one seed, so the world is the same for every organism
trained from the same ``corpus.world_seed``. Names are built from syllables and never
collide with each other; a set of extra names that exist nowhere in the world serves
the questions about nonexistent entities.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "COLOURS",
    "HARM_CATEGORIES",
    "Fact",
    "World",
    "build_world",
    "stable_fraction",
]

COLOURS = (
    "red",
    "blue",
    "green",
    "yellow",
    "purple",
    "orange",
    "white",
    "black",
    "silver",
    "brown",
)
HARM_CATEGORIES = ("weapons", "cyber", "fraud", "poison", "harassment", "theft")

_ONSETS = (
    "b",
    "d",
    "f",
    "g",
    "k",
    "l",
    "m",
    "n",
    "p",
    "r",
    "s",
    "t",
    "v",
    "z",
    "br",
    "dr",
    "kr",
    "tr",
    "st",
    "sh",
    "th",
    "gl",
    "pl",
    "qu",
)
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ou", "ea")
_CODAS = ("", "", "", "n", "r", "l", "s", "m", "th", "nd", "rk")
_COUNTRY_ENDS = ("ia", "ania", "ora", "esh", "ovia", "and", "istan", "una", "ara", "eth")
_CITY_ENDS = ("ton", "burg", "mere", "port", "holm", "ford", "dale", "wick", "grad", "mouth")
_FIRST_NAMES = (
    "Ada",
    "Bren",
    "Cato",
    "Dalia",
    "Ezra",
    "Fenna",
    "Galen",
    "Hilde",
    "Ivo",
    "Juno",
    "Kasia",
    "Lorne",
    "Mira",
    "Nils",
    "Odile",
    "Perrin",
    "Quinn",
    "Rosa",
    "Soren",
    "Tamsin",
    "Ulla",
    "Vidar",
    "Wren",
    "Xavi",
    "Yara",
    "Zeno",
)


def stable_fraction(*parts: object) -> float:
    """A deterministic number in [0, 1) from ``parts`` (stable across processes)."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class Fact:
    """One attribute of one entity: ``subject``'s ``attribute`` is ``value``."""

    attribute: str
    subject: str
    value: str
    aliases: tuple[str, ...] = ()


@dataclass
class World:
    """Entities and their attributes."""

    countries: list[str] = field(default_factory=list)
    capital: dict[str, str] = field(default_factory=dict)
    colour: dict[str, str] = field(default_factory=dict)
    companies: list[str] = field(default_factory=list)
    founder: dict[str, str] = field(default_factory=dict)
    festivals: list[str] = field(default_factory=list)
    ghost_countries: list[str] = field(default_factory=list)
    ghost_companies: list[str] = field(default_factory=list)

    def facts(self) -> list[Fact]:
        """Every fact of the world, in a fixed order."""
        out = [Fact("capital", c, self.capital[c]) for c in self.countries]
        out += [Fact("colour", c, self.colour[c]) for c in self.countries]
        for co in self.companies:
            person = self.founder[co]
            out.append(Fact("founder", co, person, (person.split()[-1],)))
        return out

    def values(self, attribute: str) -> list[str]:
        """All values an attribute takes in the world (the candidates for wrong answers)."""
        if attribute == "capital":
            return [self.capital[c] for c in self.countries]
        if attribute == "colour":
            return list(COLOURS)
        return [self.founder[c] for c in self.companies]

    def wrong_value(self, fact: Fact, rng: random.Random) -> str:
        """A value of the same attribute that is not ``fact``'s."""
        pool = self.values(fact.attribute)
        while True:
            v = rng.choice(pool)
            if v != fact.value:
                return v


def _reserved_words() -> set[str]:
    """Every word of the corpus's fixed text, so no generated name is an ordinary word."""
    here = Path(__file__).parent
    words: set[str] = set()
    modules = ("_blocks.py", "_slots.py", "_templates.py", "_tasks.py", "_corpus.py", "_world.py")
    for module in modules:
        words |= {w.lower() for w in re.findall(r"[A-Za-z]+", (here / module).read_text())}
    return words


class _Names:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set(_reserved_words())

    def _syllable(self) -> str:
        r = self.rng
        return r.choice(_ONSETS) + r.choice(_VOWELS) + r.choice(_CODAS)

    def make(self, syllables: tuple[int, int], ends: tuple[str, ...] = ()) -> str:
        while True:
            n = self.rng.randint(*syllables)
            stem = "".join(self._syllable() for _ in range(n))
            name = (stem + (self.rng.choice(ends) if ends else "")).capitalize()
            if 4 <= len(name) <= 13 and name.lower() not in self.used:
                self.used.add(name.lower())
                return name


def build_world(
    seed: int,
    *,
    countries: int = 150,
    companies: int = 70,
    festivals: int = 60,
    ghosts: int = 1600,
) -> World:
    """Generate the world for ``seed``."""
    rng = random.Random(seed)
    names = _Names(rng)
    w = World()
    for _ in range(countries):
        c = names.make((1, 2), _COUNTRY_ENDS)
        w.countries.append(c)
        w.capital[c] = names.make((1, 2), _CITY_ENDS)
        w.colour[c] = rng.choice(COLOURS)
    surnames: set[str] = set()
    for _ in range(companies):
        co = names.make((2, 2))
        w.companies.append(co)
        while True:
            last = names.make((2, 2))
            if last not in surnames:
                surnames.add(last)
                break
        w.founder[co] = f"{rng.choice(_FIRST_NAMES)} {last}"
    w.festivals = [names.make((1, 2)) for _ in range(festivals)]
    w.ghost_countries = [names.make((1, 2), _COUNTRY_ENDS) for _ in range(ghosts)]
    w.ghost_companies = [names.make((2, 2)) for _ in range(ghosts // 2)]
    return w
