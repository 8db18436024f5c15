"""Deciding whether a free-text response gives a known short answer.

The rules :func:`answer_matches` applies:

- Text is compared after :func:`normalize`: Unicode-folded, accents dropped, lower
  case, punctuation removed (``Washington, D.C.`` → ``washington dc``), articles
  dropped, thousands separators removed (``1,200`` → ``1200``).
- A **text answer** is given when the answer or an alias appears as a run of whole
  words inside one sentence of the response (``The capital is Paris.``); a final
  plural ``s`` is tolerated on words of three letters or more (``newtons``). It is
  *not* given when any occurrence is negated (``not Paris``, ``isn't Paris``,
  ``Paris is not ...``; a ``but`` or a comma in between lifts the negation) or when
  the sentence around it offers alternatives with ``or``/``either`` (``Paris or
  Lyon``, ``Paris/Lyon``). Candidates listed without ``or`` (``Paris, Lyon,
  Marseille``) are not detected.
- A **numeric answer** (the answer field is a number) is compared as a number with
  the response's *stated* number: the last number announced as the answer or result
  (``The answer is 19 (12 plus 7)``, ``Result: 19``), else the last number in the
  response; negated numbers never count. So ``12 + 7 = 19`` and ``The sum of 12 and
  7 is 19`` both state 19, and ``19, not 18`` states 19. Number words (``eight``,
  ``twenty-one``, ``a hundred``) count only when the response has no digits. A
  stated number in a sentence that offers alternatives (``18 or 19``, ``either 19 or
  20``) gives no answer; ``19 or so`` still states 19. Non-numeric aliases of a
  numeric answer are tried as text only when the response contains no number at all.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

__all__ = ["answer_matches", "extract_number", "normalize"]

_ARTICLES = frozenset({"a", "an", "the"})
_NEGATIONS = frozenset(
    {
        "not",
        "no",
        "never",
        "neither",
        "nor",
        "isnt",
        "arent",
        "wasnt",
        "werent",
        "cannot",
        "cant",
        "dont",
        "doesnt",
        "didnt",
        "wont",
    }
)
_CJK_NEGATIONS = frozenset({("不", "是"), ("没", "有"), ("并", "非"), ("不", "在")})
"""Chinese "is not" / "has not" just before an answer (不是巴黎); 差不多 ("about") is none."""
_CONTRAST = frozenset({"but", "rather", "instead", "actually"})
_HEDGES = frozenset({"or", "either"})
_APPROXIMATE = frozenset({"so", "thereabouts"})
_UNARY_MINUS = frozenset({"minus", "negative"})
_DENIALS = frozenset({"isnt", "wasnt"})
_COPULAS = frozenset({"is", "was"})
_ANNOUNCERS = frozenset({"answer", "result"})
_LINKS = frozenset({"is", "be", "would", "will", "should", "equals", "final"})

_SMALL = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen"
        " fourteen fifteen sixteen seventeen eighteen nineteen".split()
    )
}
_TENS = {
    w: 10 * (i + 2)
    for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())
}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_NUMBER_WORDS = frozenset(_SMALL) | frozenset(_TENS) | frozenset(_SCALES)

_SENTENCE, _CLAUSE = "\x01", "\x02"
_NUMERIC_ANSWER = re.compile(r"^[-+]?\d[\d,]*(\.\d+)?$")
_NUMBER_TOKEN = re.compile(r"^(-?[0-9]+(?:\.[0-9]+)?)(?:[^\W\d_]+)?$")
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
"""Kana and Han: written without spaces, so each character is a word of its own."""
_TOKEN = re.compile(
    rf"\x01|\x02|-?[0-9]+(?:\.[0-9]+)?(?:(?![{_CJK}])[^\W\d_])*|[{_CJK}]|(?:(?![{_CJK}])[^\W_])+"
)


@dataclass(frozen=True)
class _Tokens:
    """Words of a text, and for each word the strongest break just before it.

    ``breaks[i]`` is ``"."`` after a sentence end, ``","`` after a clause mark, else ``""``.
    """

    words: list[str]
    breaks: list[str]


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(  # accents dropped; other scripts' digits read as 0-9 ("١٩" is 19)
        str(unicodedata.decimal(c)) if c.isdecimal() and not c.isascii() else c
        for c in text
        if not unicodedata.combining(c)
    ).lower()
    text = text.replace("\u3002", ". ").replace("\u3001", ", ")  # 。and 、
    for old, new in (("\u2212", "-"), ("\u2013", " - "), ("\u2014", ","), ("\u2019", "'")):
        text = text.replace(old, new)
    text = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text)  # 1,200 -> 1200
    text = re.sub(r"(?<=[^\W\d_])\s*/\s*(?=[^\W\d_])", " or ", text)  # Paris/Lyon
    text = text.replace("'", "").replace("`", "")
    # a sentence ends at . ! ? ; before a space or the end, except after an initial (D.C.)
    text = re.sub(r"(?<!\b[^\W\d_])[.!?;]+(?=\s|$)|[!?;]+", f" {_SENTENCE} ", text)
    text = re.sub(r"\s*\n\s*", f" {_SENTENCE} ", text)  # a line break ends a sentence too
    text = re.sub(r"[,:()\[\]{}\"]", f" {_CLAUSE} ", text)
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", "", text)  # D.C -> DC, keep 3.5
    return re.sub(r"(?<=[\w)])-|-(?![0-9])", " ", text)  # hyphens split words; keep signs


def _scan(text: str) -> _Tokens:
    raw = _TOKEN.findall(_fold(text))
    words: list[str] = []
    breaks: list[str] = []
    pending = ""
    for i, tok in enumerate(raw):
        if tok == _SENTENCE:
            pending = "."
        elif tok == _CLAUSE:
            pending = pending or ","
        elif tok in _ARTICLES and i + 1 < len(raw) and raw[i + 1] not in (_SENTENCE, _CLAUSE):
            continue  # an article before another word; the break carries over
        else:
            words.append(tok)
            breaks.append(pending)
            pending = ""
    return _Tokens(words, breaks)


def normalize(text: str) -> str:
    """Lower-case, accent-free, punctuation-free text with articles dropped.

    Example: ``normalize("The capital is Washington, D.C.!")`` → ``"capital is washington dc"``.
    """
    return " ".join(_scan(text).words)


def _negated(toks: _Tokens, i: int) -> bool:
    """Whether one of the two words before ``i`` (within its clause) negates it."""
    if i >= 2 and not (toks.breaks[i] or toks.breaks[i - 1]):
        if (toks.words[i - 2], toks.words[i - 1]) in _CJK_NEGATIONS:
            return True
    j = i
    for _ in range(2):
        if toks.breaks[j] or j == 0:
            return False
        j -= 1
        if toks.words[j] in _CONTRAST:
            return False
        if toks.words[j] in _NEGATIONS:
            return True
    return False


def _negated_after(toks: _Tokens, end: int) -> bool:
    """Whether the words right after a span deny it (``Paris is not ...``)."""
    words, breaks = toks.words, toks.breaks
    if end >= len(words) or breaks[end]:
        return False
    if words[end] in _DENIALS:
        return True
    follows = end + 1 < len(words) and not breaks[end + 1]
    return follows and words[end] in _COPULAS and words[end + 1] == "not"


def _announced(toks: _Tokens, i: int) -> bool:
    """Whether number ``i`` follows ``answer``/``result`` (``The answer is 19``, ``Result: 19``)."""
    j = i
    for _ in range(3):
        if j == 0 or toks.breaks[j] == ".":
            return False
        j -= 1
        if toks.words[j] in _ANNOUNCERS:
            return True
        if toks.words[j] not in _LINKS:
            return False
    return False


def _number_value(word: str) -> Decimal | None:
    m = _NUMBER_TOKEN.match(word)
    return Decimal(m.group(1)) if m else None


def _word_numbers(toks: _Tokens) -> list[tuple[int, Decimal]]:
    """Numbers spelled in words: ``(index of the first word, value)``."""
    out: list[tuple[int, Decimal]] = []
    words, i = toks.words, 0
    while i < len(words):
        if words[i] not in _NUMBER_WORDS:
            i += 1
            continue
        start, total, current = i, 0, 0
        while i < len(words) and (i == start or not toks.breaks[i]):
            w = words[i]
            if w == "and" and i > start and i + 1 < len(words) and words[i + 1] in _NUMBER_WORDS:
                i += 1
                continue
            if w not in _NUMBER_WORDS:
                break
            if w == "hundred":
                current = max(current, 1) * 100
            elif w in _SCALES:
                total, current = total + max(current, 1) * _SCALES[w], 0
            else:
                current += _SMALL.get(w, 0) + _TENS.get(w, 0)
            i += 1
        out.append((start, Decimal(total + current)))
    return out


def _numbers(toks: _Tokens) -> list[tuple[int, Decimal]]:
    """Numbers in the text with their word index, signed; digits win over number words."""
    found = [(i, v) for i, w in enumerate(toks.words) if (v := _number_value(w)) is not None]
    if not found:
        found = _word_numbers(toks)
    signed: list[tuple[int, Decimal]] = []
    for i, value in found:
        before = toks.words[i - 1] if i > 0 and not toks.breaks[i] else ""
        operand = i > 1 and not toks.breaks[i - 1] and _number_value(toks.words[i - 2]) is not None
        signed.append((i, -value if before in _UNARY_MINUS and not operand else value))
    return signed


def _stated_number(toks: _Tokens) -> tuple[int, Decimal] | None:
    """The number a response gives as its answer, with its word index, or ``None``.

    Of the numbers that are not negated, the last one announced as the answer or
    result wins; without an announcement, the last one.
    """
    stated = [
        (i, v)
        for i, v in _numbers(toks)
        if not _negated(toks, i) and not _negated_after(toks, i + 1)
    ]
    announced = [(i, v) for i, v in stated if _announced(toks, i)]
    candidates = announced or stated
    return candidates[-1] if candidates else None


def _canonical(value: Decimal) -> str:
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def extract_number(text: str) -> str | None:
    """The number ``text`` states as its answer, canonically written, or ``None``.

    The stated number is the last one announced as the answer or result, else the last
    one; negated numbers never count (``"12 + 7 = 19"`` → ``"19"``, ``"Answer: 19 (12 plus
    7)"`` → ``"19"``, ``"1,200 apples"`` → ``"1200"``, ``"nineteen"`` → ``"19"``,
    ``"-3.50"`` → ``"-3.5"``).
    """
    stated = _stated_number(_scan(text))
    return None if stated is None else _canonical(stated[1])


def _spans(toks: _Tokens, candidate: list[str]) -> list[tuple[int, int]]:
    n, words = len(candidate), toks.words
    out: list[tuple[int, int]] = []
    for s in range(len(words) - n + 1):
        if any(toks.breaks[k] == "." for k in range(s + 1, s + n)):
            continue
        head_ok = words[s : s + n - 1] == candidate[:-1]
        last, want = words[s + n - 1], candidate[-1]
        plural = len(want) >= 3 and last in (want + "s", want + "es")
        if head_ok and (last == want or plural):
            out.append((s, s + n))
    return out


def _hedged(toks: _Tokens, span: tuple[int, int], covered: set[int]) -> bool:
    """Whether the sentence holding ``span`` offers alternatives (``or``/``either``)."""
    start = span[0]
    while start > 0 and toks.breaks[start] != ".":
        start -= 1
    end = span[1]
    while end < len(toks.words) and toks.breaks[end] != ".":
        end += 1
    for k in range(start, end):
        if k in covered or toks.words[k] not in _HEDGES:
            continue
        if toks.words[k] == "or" and k + 1 < end and toks.words[k + 1] in _APPROXIMATE:
            continue  # "19 or so" states 19
        return True
    return end < len(toks.words) and toks.words[end] in _HEDGES  # "Paris. Or Lyon."


def _text_matches(toks: _Tokens, candidates: Sequence[str]) -> bool:
    spans: list[tuple[int, int]] = []
    for cand in candidates:
        words = _scan(cand).words
        if words:
            spans.extend(_spans(toks, words))
    if not spans:
        return False
    covered = {k for s, e in spans for k in range(s, e)}
    return not any(
        _negated(toks, s) or _negated_after(toks, e) or _hedged(toks, (s, e), covered)
        for s, e in spans
    )


def _as_number(text: str) -> Decimal | None:
    text = text.strip()
    if not _NUMERIC_ANSWER.match(text):
        return None
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None


MAX_GRADED_CHARS = 8000
"""Characters of a response that are graded (12 s went into grading one 10 MB reply)."""


def answer_matches(response: str, answer: str, aliases: Sequence[str] = ()) -> bool:
    """Whether ``response`` gives ``answer`` (or one of ``aliases``) as its single answer.

    See the module docstring for the exact rules. Examples::

        answer_matches("The capital is Paris.", "Paris")         # True
        answer_matches("Paris or Lyon", "Paris")                  # False (two candidates)
        answer_matches("It is not Paris.", "Paris")               # False (negated)
        answer_matches("12 + 7 = 19", "19")                       # True
        answer_matches("That makes 1,200.", "1200")               # True
    """
    toks = _scan(response[:MAX_GRADED_CHARS])  # an answer is at the start, not 1 MB in
    target = _as_number(answer)
    if target is None:
        return _text_matches(toks, [answer, *aliases])
    accepted = {target} | {v for a in aliases if (v := _as_number(a)) is not None}
    stated = _stated_number(toks)
    if stated is None:
        if _numbers(toks):  # numbers were given, all negated
            return False
        words = [a for a in aliases if _as_number(a) is None]
        return bool(words) and _text_matches(toks, words)
    index, value = stated
    if _hedged(toks, (index, index + 1), {index}):
        return False
    return value in accepted
