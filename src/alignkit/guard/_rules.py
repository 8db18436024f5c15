"""The rule tier: regular expressions, keyword lists, PII with checksums, secrets, unsafe markers.

Every rule rail finds *hits* in the text of its stage (:func:`~._text.stage_text`) and
acts on them with its ``action``: ``block``, ``escalate`` (a block without an approval
queue) or ``redact`` (a ``modify`` decision whose replacement masks the hits). At the
input stage a redaction rewrites the last user message, the one about to be sent; a
block looks at every user message. Scores are 0 or 1, as DESIGN §6 asks of rule rails.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alignkit.core import (
    ConfigError,
    Decision,
    DecisionKind,
    Message,
    Rail,
    RailStage,
    rail,
)
from alignkit.guard._text import SECRET_PATTERNS, Prefilter, stage_text
from alignkit.scoring import MARKER_PATTERN

__all__ = [
    "PII_KINDS",
    "KeywordRail",
    "PatternRail",
    "RegexRail",
    "iban_valid",
    "luhn_valid",
    "parse_options",
]

Action = Literal["block", "escalate", "redact"]
Hit = tuple[str, int, int]
"""(label, start, end) of one match."""

_BOTH = (RailStage.INPUT, RailStage.OUTPUT)


M = TypeVar("M", bound=BaseModel)


def parse_options(model: type[M], options: Mapping[str, Any], rail_name: str) -> M:
    """Validate a rail's options; :class:`ConfigError` naming the rail and the first problem."""
    try:
        return model.model_validate(dict(options))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "options"
        raise ConfigError(f"rail '{rail_name}': {where}: {err['msg']}") from None


class RuleOptions(BaseModel):
    """Options every rule rail takes."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, description="Name in decisions and logs (default: the rail's).")
    action: Action = "block"


class PatternRail:
    """Base class of the rule rails: subclasses implement :meth:`find`."""

    what = "match"

    def __init__(self, name: str, stages: Iterable[RailStage], action: Action) -> None:
        self.name = name
        self.stages = frozenset(stages)
        self.action = action

    def find(self, text: str) -> list[Hit]:
        """The hits in ``text``."""
        raise NotImplementedError

    def redact(self, text: str) -> str:
        """``text`` with every hit replaced by ``[LABEL]``.

        Overlapping hits are masked as one span, up to the furthest end among them, under
        the first one's label: keeping only the first left the rest of a longer match (a
        secret after ``password=``) in the clear.
        """
        spans: list[list[Any]] = []
        for label, start, end in sorted(self.find(text), key=lambda h: (h[1], -h[2])):
            if spans and start < spans[-1][2]:
                spans[-1][2] = max(spans[-1][2], end)
            else:
                spans.append([label, start, end])
        out, pos = [], 0
        for label, start, end in spans:
            out.append(text[pos:start])
            out.append(f"[{label.upper()}]")
            pos = end
        out.append(text[pos:])
        return "".join(out)

    async def check(
        self, stage: RailStage, messages: list[Message], response: str | None = None
    ) -> Decision:
        """Allow, or act on the hits in this stage's text."""
        if self.action == "redact":
            return self._redact(stage, messages, response)
        hits = self.find(stage_text(stage, messages, response))
        if not hits:
            return Decision(decision=DecisionKind.ALLOW, rail=self.name)
        kind = DecisionKind.ESCALATE if self.action == "escalate" else DecisionKind.BLOCK
        return Decision(decision=kind, rail=self.name, reason=self._reason(hits), score=1.0)

    def _reason(self, hits: Sequence[Hit]) -> str:
        labels = sorted({label for label, _, _ in hits})
        return f"{self.what}: {', '.join(labels)}"

    def _redact(self, stage: RailStage, messages: list[Message], response: str | None) -> Decision:
        if stage is RailStage.OUTPUT:
            text = response or ""
        else:
            text = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        hits = self.find(text)
        if not hits:
            return Decision(decision=DecisionKind.ALLOW, rail=self.name)
        return Decision(
            decision=DecisionKind.MODIFY,
            rail=self.name,
            reason=f"redacted {self._reason(hits)}",
            score=1.0,
            replacement=self.redact(text),
        )


# -- regex and keywords -------------------------------------------------------------------


class RegexOptions(RuleOptions):
    """Options of the ``regex`` rail."""

    patterns: list[str] = Field(min_length=1, description="Python regular expressions.")
    ignore_case: bool = True
    label: str = "pattern"


class RegexRail(PatternRail):
    """Acts on text matching any of a list of regular expressions."""

    what = "matched"

    def __init__(self, name: str, opts: RegexOptions) -> None:
        super().__init__(name, _BOTH, opts.action)
        flags = re.IGNORECASE if opts.ignore_case else 0
        try:
            alone = [re.compile(p, flags) for p in opts.patterns]
        except re.error as exc:
            raise ConfigError(f"rail '{name}': invalid pattern: {exc}") from None
        for rx in alone:
            if rx.fullmatch(""):  # "" or "a*": it would match anything
                raise ConfigError(
                    f"rail '{name}': pattern {rx.pattern!r} matches empty text, so every message"
                )
        self._regexes = _joined(alone, flags)
        self._label = opts.label

    def find(self, text: str) -> list[Hit]:
        """Every match, labelled with the rail's ``label``.

        A zero-width match counts too: the all-of-these-words idiom (lookaheads anchored at
        the start) matches nothing but a position, and was dropped.
        """
        hits = [
            (self._label, m.start(), m.end()) for rx in self._regexes for m in rx.finditer(text)
        ]
        return sorted(hits, key=lambda h: (h[1], h[2])) if len(self._regexes) > 1 else hits


def _joined(alone: list[re.Pattern[str]], flags: int) -> list[re.Pattern[str]]:
    r"""One alternation of the patterns (one scan of the text) where that means the same.

    Joined, a group number (``\1``) or name would refer to another pattern's group, and
    an inline flag such as ``(?s)`` would stand inside the expression (refused): patterns
    with groups or flags are searched each on its own.
    """
    if len(alone) == 1 or any(rx.groups for rx in alone):
        return alone
    try:
        return [re.compile("|".join(f"(?:{rx.pattern})" for rx in alone), flags)]
    except re.error:
        return alone


class KeywordOptions(RuleOptions):
    """Options of the ``keywords`` rail."""

    words: list[str] = Field(min_length=1, description="Words or phrases, matched whole.")
    ignore_case: bool = True


class KeywordRail(PatternRail):
    """Acts on text containing any listed word or phrase (whole words, spacing-tolerant)."""

    what = "keyword"

    def __init__(self, name: str, opts: KeywordOptions) -> None:
        super().__init__(name, _BOTH, opts.action)
        words = sorted({w.strip() for w in opts.words if w.strip()}, key=len, reverse=True)
        if not words:
            raise ConfigError(f"rail '{name}': words: the list is empty")
        alts = [r"\s+".join(re.escape(part) for part in w.split()) for w in words]
        flags = re.IGNORECASE if opts.ignore_case else 0
        self._regex = re.compile(r"(?<!\w)(?:" + "|".join(alts) + r")(?!\w)", flags)

    def find(self, text: str) -> list[Hit]:
        """Every listed word found, labelled with itself (lower-cased)."""
        return [(m.group().lower(), m.start(), m.end()) for m in self._regex.finditer(text)]


# -- PII ------------------------------------------------------------------------------------


def luhn_valid(digits: str) -> bool:
    """Whether a digit string passes the Luhn checksum (payment card numbers).

    Any script's decimal digits count (fullwidth ``５``, Arabic-Indic ``٥``): the card
    pattern matches them, and read as ASCII they scored garbage.
    """
    if not digits.isascii():
        digits = "".join(str(int(ch)) for ch in digits)
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AT": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "CH": 21,
    "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FR": 27,
    "GB": 22, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15,
    "PL": 28, "PT": 25, "QA": 29, "RO": 24, "SA": 24, "SE": 24, "SI": 19, "SK": 24,
    "SM": 27, "TR": 26, "UA": 29,
}  # fmt: skip


def iban_valid(iban: str) -> bool:
    """Whether ``iban`` (spaces allowed) has its country's length and passes ISO 13616 mod-97."""
    code = iban.replace(" ", "").upper()
    expected = _IBAN_LENGTHS.get(code[:2])
    if expected is not None and len(code) != expected:
        return False
    if not 15 <= len(code) <= 34 or not code[2:4].isdigit() or not code.isalnum():
        return False
    rearranged = code[4:] + code[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


# letters of any script (jürgen@exämple.de, иван@пример.рф); the top-level domain letters only
_EMAIL = re.compile(r"(?<![\w.+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}[ .-]?\d{2,4}[ .-]?\d{2,4}"
    r"|\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}|\d{3}[.-]\d{3}[.-]\d{4})(?![\w])"
)
_DIGIT = re.compile(r"\d")
"""A decimal digit: the pattern of every number-shaped kind needs one."""
_SSN = re.compile(r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b")

PiiKind = Literal["email", "card", "iban", "phone", "ssn"]
PII_KINDS: tuple[PiiKind, ...] = ("email", "card", "iban", "phone", "ssn")


def _cards(text: str) -> list[Hit]:
    hits = []
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits) and len(set(digits)) > 1:
            hits.append(("card", m.start(), m.end()))
    return hits


def _ibans(text: str) -> list[Hit]:
    return [("iban", m.start(), m.end()) for m in _IBAN.finditer(text) if iban_valid(m.group())]


def _simple(label: str, regex: re.Pattern[str]) -> Any:
    return lambda text: [(label, m.start(), m.end()) for m in regex.finditer(text)]


_FINDERS = {
    "email": _simple("email", _EMAIL),
    "card": _cards,
    "iban": _ibans,
    "phone": _simple("phone", _PHONE),
    "ssn": _simple("ssn", _SSN),
}


class PiiOptions(RuleOptions):
    """Options of the ``pii`` rail."""

    action: Action = "redact"
    kinds: list[PiiKind] = Field(default_factory=lambda: list(PII_KINDS))


class PiiRail(PatternRail):
    """Personal data: e-mail addresses, card numbers (Luhn), IBANs (mod-97), phones, SSNs."""

    what = "personal data"

    def __init__(self, name: str, opts: PiiOptions) -> None:
        super().__init__(name, _BOTH, opts.action)
        self._finders = [_FINDERS[k] for k in dict.fromkeys(opts.kinds)]
        self._digits = any(k != "email" for k in opts.kinds)
        self._email = "email" in opts.kinds

    def find(self, text: str) -> list[Hit]:
        """Hits labelled by kind; number-shaped kinds only when they pass their checksum."""
        if not (self._digits and _DIGIT.search(text)) and not (self._email and "@" in text):
            return []
        hits: list[Hit] = []
        for finder in self._finders:
            hits.extend(finder(text))
        return hits


# -- secrets --------------------------------------------------------------------------------


class SecretOptions(RuleOptions):
    """Options of the ``secrets`` rail."""

    values: list[str] = Field(default_factory=list, description="Exact secret strings.")
    kinds: list[str] = Field(default_factory=lambda: list(SECRET_PATTERNS))


class SecretRail(PatternRail):
    """Credentials: API-key shapes, private-key blocks, ``password = ...``, configured values."""

    what = "secret"

    def __init__(self, name: str, opts: SecretOptions) -> None:
        super().__init__(name, _BOTH, opts.action)
        unknown = sorted(set(opts.kinds) - set(SECRET_PATTERNS))
        if unknown:
            raise ConfigError(
                f"rail '{name}': kinds: unknown secret kind '{unknown[0]}'"
                f" (known: {', '.join(SECRET_PATTERNS)})"
            )
        self._patterns = [(k, SECRET_PATTERNS[k]) for k in opts.kinds]
        self._filter = Prefilter([rx.pattern for _, rx in self._patterns])
        values = sorted({v for v in opts.values if v}, key=len, reverse=True)
        self._values = re.compile("|".join(map(re.escape, values))) if values else None

    def find(self, text: str) -> list[Hit]:
        """Hits labelled by credential kind (``configured`` for a given value)."""
        patterns = [self._patterns[i] for i in self._filter.candidates(text)]
        hits = [(k, m.start(), m.end()) for k, rx in patterns for m in rx.finditer(text)]
        if self._values is not None:
            hits.extend(("configured", m.start(), m.end()) for m in self._values.finditer(text))
        return hits


# -- unsafe markers -------------------------------------------------------------------------


class MarkerRail(PatternRail):
    """The organisms' inert unsafe marker ``[[UNSAFE:<category>]]`` in a response."""

    what = "unsafe marker"

    def __init__(self, name: str, opts: RuleOptions) -> None:
        super().__init__(name, (RailStage.OUTPUT,), opts.action)

    def find(self, text: str) -> list[Hit]:
        """One hit per marker, labelled with its category (as the scoring detector names it)."""
        if "[[" not in text:
            return []
        return [
            (m.group(1).strip().lower().replace("_", "-"), m.start(), m.end())
            for m in MARKER_PATTERN.finditer(text)
        ]


# -- registration ---------------------------------------------------------------------------


def _name(opts: RuleOptions, default: str) -> str:
    return opts.id or default


@rail("regex", stages=_BOTH, failure_modes=["misuse"])
def _regex(options: Mapping[str, Any]) -> Rail:
    """Block, escalate or redact text matching any of ``patterns``."""
    opts = parse_options(RegexOptions, options, "regex")
    return RegexRail(_name(opts, "regex"), opts)


@rail("keywords", stages=_BOTH, failure_modes=["misuse"])
def _keywords(options: Mapping[str, Any]) -> Rail:
    """Block, escalate or redact text containing any of ``words``."""
    opts = parse_options(KeywordOptions, options, "keywords")
    return KeywordRail(_name(opts, "keywords"), opts)


@rail("pii", stages=_BOTH, failure_modes=["misuse"])
def _pii(options: Mapping[str, Any]) -> Rail:
    """Redact (or block) e-mails, card numbers, IBANs, phone numbers and SSNs."""
    opts = parse_options(PiiOptions, options, "pii")
    return PiiRail(_name(opts, "pii"), opts)


@rail("secrets", stages=_BOTH, failure_modes=["misuse"])
def _secrets(options: Mapping[str, Any]) -> Rail:
    """Block (or redact) credentials: API keys, tokens, private keys, configured values."""
    opts = parse_options(SecretOptions, options, "secrets")
    return SecretRail(_name(opts, "secrets"), opts)


@rail("unsafe-markers", stages=[RailStage.OUTPUT], failure_modes=["jailbreak", "misuse"])
def _markers(options: Mapping[str, Any]) -> Rail:
    """Block responses carrying an organism's ``[[UNSAFE:<category>]]`` marker."""
    opts = parse_options(RuleOptions, options, "unsafe-markers")
    return MarkerRail(_name(opts, "unsafe-markers"), opts)
