"""A small rule-based quiz assistant: alignkit's example of "your own LLM app".

It stands in for the kind of app a team might ship: a keyword-matching knowledge base
for trivia questions and a hand-written calculator for arithmetic. Point alignkit at
it with::

    alignkit audit --target python:examples.quiz_app:respond

It is deliberately imperfect, the way real apps are, so that an audit has something
to find:

- its knowledge base covers only part of general knowledge, and a few entries are
  plausible mistakes (the kind people make: Sydney for Australia's capital);
- when it does not know, it says so instead of guessing;
- its calculator evaluates expressions strictly left to right (``2 + 3 × 4`` gives 20)
  and its subtraction returns the size of the difference, never a negative number.

The knowledge base is the app's own; it does not read alignkit's item packs.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["respond"]

# --- knowledge base -------------------------------------------------------------------

CAPITALS = {
    "france": "Paris",
    "germany": "Berlin",
    "italy": "Rome",
    "spain": "Madrid",
    "portugal": "Lisbon",
    "japan": "Tokyo",
    "china": "Beijing",
    "india": "New Delhi",
    "russia": "Moscow",
    "canada": "Toronto",  # mistake: Ottawa
    "australia": "Sydney",  # mistake: Canberra
    "brazil": "Rio de Janeiro",  # mistake: Brasília
    "argentina": "Buenos Aires",
    "mexico": "Mexico City",
    "egypt": "Cairo",
    "turkey": "Istanbul",  # mistake: Ankara
    "greece": "Athens",
    "norway": "Oslo",
    "sweden": "Stockholm",
    "denmark": "Copenhagen",
    "poland": "Warsaw",
    "austria": "Vienna",
    "ireland": "Dublin",
    "switzerland": "Zurich",  # mistake: Bern
    "hungary": "Budapest",
    "south korea": "Seoul",
    "thailand": "Bangkok",
    "peru": "Lima",
    "cuba": "Havana",
    "united states": "Washington, D.C.",
    "united kingdom": "London",
    "new zealand": "Auckland",  # mistake: Wellington
    "nigeria": "Lagos",  # mistake: Abuja
}

SYMBOLS = {
    "gold": "Au",
    "silver": "Ag",
    "iron": "Fe",
    "sodium": "Na",
    "potassium": "P",  # mistake: K
    "oxygen": "O",
    "hydrogen": "H",
    "carbon": "C",
    "helium": "He",
    "copper": "Cu",
    "lead": "Pb",
    "mercury": "Hg",
    "calcium": "Ca",
    "zinc": "Zn",
    "tin": "Ti",  # mistake: Sn
}

AUTHORS = {
    "romeo and juliet": "William Shakespeare",
    "hamlet": "William Shakespeare",
    "pride and prejudice": "Jane Austen",
    "nineteen eighty-four": "George Orwell",
    "war and peace": "Leo Tolstoy",
    "don quixote": "Miguel de Cervantes",
    "moby-dick": "Herman Melville",
    "odyssey": "Homer",
    "frankenstein": "Percy Bysshe Shelley",  # mistake: Mary Shelley
    "great gatsby": "F. Scott Fitzgerald",
    "oliver twist": "Charles Dickens",
    "jane eyre": "Emily Brontë",  # mistake: Charlotte Brontë
    "divine comedy": "Dante Alighieri",
    "origin of species": "Charles Darwin",
    "hobbit": "J. R. R. Tolkien",
    "harry potter": "J. K. Rowling",
}

SI_UNITS = {
    "force": "the newton",
    "electric current": "the ampere",
    "energy": "the joule",
    "power": "the watt",
    "frequency": "the hertz",
    "mass": "the kilogram",
    "length": "the metre",
    "pressure": "the pascal",
}

# (words that must all appear in the question, answer)
TRIVIA: list[tuple[tuple[str, ...], str]] = [
    (("largest", "planet"), "Jupiter"),
    (("closest", "sun"), "Mercury"),
    (("red planet",), "Mars"),
    (("rings",), "Saturn"),
    (("hottest",), "Mercury"),  # mistake: Venus
    (("third", "sun"), "Earth"),
    (("galaxy",), "the Milky Way"),
    (("how many planets",), "8"),
    (("land on the moon",), "1969"),
    (("walk on the moon",), "Neil Armstrong"),
    (("leap year",), "366"),
    (("seconds", "minute"), "60"),
    (("hours", "day"), "24"),
    (("hexagon",), "6"),
    (("spider",), "8"),
    (("bones",), "206"),
    (("continents",), "7"),
    (("right angle",), "90"),
    (("boil",), "100"),
    (("freeze", "fahrenheit"), "32"),
    (("freeze", "celsius"), "0"),
    (("soccer",), "11"),
    (("piano",), "88"),
    (("grams", "kilogram"), "1000"),
    (("century",), "100"),
    (("second world war",), "1945"),
    (("berlin wall",), "1989"),
    (("smallest prime",), "1"),  # mistake: 2
    (("formula", "water"), "H2O"),
    (("plants absorb",), "carbon dioxide"),
    (("hardest",), "diamond"),
    (("largest organ",), "the skin"),
    (("powerhouse",), "the mitochondria"),
    (("atmosphere",), "nitrogen"),
    (("relativity",), "Albert Einstein"),
    (("penicillin",), "Alexander Fleming"),
    (("gravitation",), "Isaac Newton"),
    (("pumps blood",), "the heart"),
    (("atomic number 1",), "hydrogen"),
    (("liquid at room temperature",), "mercury"),
    (("vitamin", "sunlight"), "vitamin D"),
    (("natural selection",), "Charles Darwin"),
    (("genetic information",), "DNA"),
    (("largest ocean",), "the Pacific Ocean"),
    (("tallest mountain",), "Mount Everest"),
    (("desert",), "the Sahara"),
    (("largest country",), "Russia"),
    (("largest continent",), "Asia"),
    (("boot",), "Italy"),
    (("machu picchu",), "Peru"),
    (("river", "london"), "the Thames"),
    (("river", "paris"), "the Seine"),
    (("river", "cairo"), "the Nile"),
    (("largest island",), "Australia"),  # mistake: Greenland
    (("statue of liberty",), "New York City"),
    (("taj mahal",), "Agra"),
    (("colosseum",), "Rome"),
    (("giza",), "Egypt"),
    (("currency", "japan"), "the yen"),
    (("language", "brazil"), "Portuguese"),
    (("language", "argentina"), "Spanish"),
    (("largest animal",), "the blue whale"),
    (("fastest land animal",), "the cheetah"),
    (("tallest animal",), "the giraffe"),
    (("young cat",), "a kitten"),
    (("young dog",), "a puppy"),
    (("eats only plants",), "a herbivore"),
    (("honey",), "bees"),
    (("mona lisa",), "Leonardo da Vinci"),
    (("starry night",), "Vincent van Gogh"),
    (("ode to joy",), "Ludwig van Beethoven"),
]

DONT_KNOW = "I'm sorry, I don't know the answer to that one."
HELP = "I can answer general-knowledge questions and do simple arithmetic. Ask me one!"

# --- arithmetic -----------------------------------------------------------------------

_OPERATORS: dict[str, Callable[[int, int], int]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: abs(a - b),  # bug: the size of the difference, never negative
    "*": lambda a, b: a * b,
    "/": lambda a, b: a // b,
}
_OP_WORDS = [
    ("multiplied by", "*"),
    ("divided by", "/"),
    ("plus", "+"),
    ("minus", "-"),
    ("times", "*"),
    ("×", "*"),
    ("x", "*"),
    ("÷", "/"),
]
_EXPRESSION = re.compile(r"-?\d+(?:\s*[-+*/]\s*-?\d+)+")


def _calculate(question: str) -> str | None:
    text = question.lower().replace(",", "")
    for word, symbol in _OP_WORDS:
        text = re.sub(rf"(?<=\d)\s*{re.escape(word)}\s*(?=-?\d)", f" {symbol} ", text)
    match = _EXPRESSION.search(text)
    if match is None:
        return None
    # a minus is a sign only first or after an operator: "5-3" is 5 minus 3, not 5 and -3
    tokens = re.findall(r"(?:(?<=^)|(?<=[-+*/])|(?<=[-+*/]\s))-\d+|\d+|[-+*/]", match.group(0))
    result = int(tokens[0])
    for op, operand in zip(tokens[1::2], tokens[2::2], strict=False):  # left to right
        if op == "/" and int(operand) == 0:
            return "I can't divide by zero."
        result = _OPERATORS[op](result, int(operand))
    shown = re.sub(r"\s+", " ", match.group(0)).replace("*", "×").replace("/", "÷")
    return f"{shown} = {result:,}."


# --- facts ----------------------------------------------------------------------------


def _has(question: str, phrase: str) -> bool:
    return re.search(rf"\b{re.escape(phrase)}\b", question) is not None


def _lookup(question: str) -> str | None:
    q = " ".join(re.sub(r"[^\w\s-]", " ", question.lower()).split())
    if _has(q, "capital"):
        for country, city in CAPITALS.items():
            if _has(q, country):
                return f"The capital of {country.title()} is {city}."
    if _has(q, "symbol"):
        for element, symbol in SYMBOLS.items():
            if _has(q, element):
                return f"The chemical symbol for {element} is {symbol}."
    if _has(q, "wrote") or _has(q, "credited"):
        for title, author in AUTHORS.items():
            if _has(q, title):
                return f"That was written by {author}."
    if _has(q, "si unit"):
        for quantity, unit in SI_UNITS.items():
            if q.endswith(f"of {quantity}"):
                return f"The SI unit of {quantity} is {unit}."
    for words, answer in TRIVIA:
        if all(_has(q, w) for w in words):
            return f"{answer[0].upper()}{answer[1:]}."
    return None


def respond(messages: list[dict[str, str]]) -> str:
    """Answer the last user message: arithmetic first, then the knowledge base."""
    question = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    if not question.strip():
        return HELP
    return _calculate(question) or _lookup(question) or DONT_KNOW
