"""Converters: stackable transformations of a request that try to slip past a refusal.

A converter takes the request text and returns the changed text plus, where the target
needs one, a short instruction ("the message below is base64 ...") that is put in front
of the result. Converters stack: ``apply_converters(["rot13", "base64"], ...)`` ROT13s
the request, base64-encodes that, and lists both instructions, outermost first.

Built-ins register at import in :data:`CONVERTERS`; third parties add their own with
:func:`converter` (an id cannot be replaced). A converter with ``needs_model`` (the
translator) calls a chat model given in the :class:`ConvertContext`; every other one is
a pure function of the text and the context's seeded ``rng``. A converter that can be
undone declares ``decode``, which the conformance tests use to show nothing is lost.
"""

from __future__ import annotations

import base64
import codecs
import inspect
import random
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from alignkit.core import Completion, ConfigError, Message, Registry, TargetError, caller_module
from alignkit.redteam._library import ConverterTexts, fill, load_converter_texts
from alignkit.redteam._scoring import declined

__all__ = [
    "CONVERTERS",
    "ConvertContext",
    "Converted",
    "ConverterFn",
    "ConverterSpec",
    "Helper",
    "apply_converters",
    "converter",
]

Helper = Callable[[list[Message]], Awaitable[Completion]]
"""Sends one conversation to an auxiliary chat model (translator, attacker)."""


class Converted(NamedTuple):
    """A converter's output: the changed text and the instruction to put before it."""

    text: str
    note: str = ""


@dataclass
class ConvertContext:
    """What a converter may use besides the text.

    Attributes:
        rng: Seeded randomness (the same seed gives the same output).
        texts: Word tables and instruction lines (the shipped ones by default).
        model: Sends a conversation to the configured auxiliary model, if any.
        language: Target language of the ``translate`` converter.
    """

    rng: random.Random = field(default_factory=lambda: random.Random(0))
    texts: ConverterTexts = field(default_factory=load_converter_texts)
    model: Helper | None = None
    language: str = "Zulu"


ConverterFn = Callable[[str, ConvertContext], Converted | Awaitable[Converted]]


@dataclass(frozen=True)
class ConverterSpec:
    """A registered converter and its metadata."""

    id: str
    fn: ConverterFn
    doc: str
    needs_model: bool = False
    decode: Callable[[str], str] | None = None

    @property
    def summary(self) -> str:
        """First line of the docstring."""
        return self.doc.strip().splitlines()[0] if self.doc.strip() else ""


CONVERTERS: Registry[ConverterSpec] = Registry("converter")


_CONVERTER_ID = re.compile(r"[a-z0-9][a-z0-9._-]*")


def converter(
    id: str, *, needs_model: bool = False, decode: Callable[[str], str] | None = None
) -> Callable[[ConverterFn], ConverterFn]:
    """Register ``fn(text, ctx) -> Converted`` (sync or async) as converter ``id``."""
    origin = caller_module()  # a partial's or a library function's module is not the plugin

    def deco(fn: ConverterFn) -> ConverterFn:
        if not _CONVERTER_ID.fullmatch(id):  # ids are listed with commas in --converters
            raise ConfigError(
                f"converter id {id!r} must be lower-case letters, digits, '-', '_' or '.'"
            )
        doc = inspect.getdoc(fn) or ""
        if not doc:
            raise ConfigError(f"converter '{id}' has no docstring")
        CONVERTERS.register(id, ConverterSpec(id, fn, doc, needs_model, decode), origin=origin)
        return fn

    return deco


async def apply_converters(ids: Sequence[str], text: str, ctx: ConvertContext) -> str:
    """``text`` passed through the converters ``ids`` in order, instructions in front.

    Raises:
        UnknownIdError: an id is not registered.
        ConfigError: a converter needs a model and the context has none, raised, or
            returned something other than ``Converted(text: str, note: str)``.
        TargetError: a converter's model failed (the query is skipped).
    """
    notes: list[str] = []
    for cid in ids:
        spec = CONVERTERS.get(cid)
        if spec.needs_model and ctx.model is None:
            raise ConfigError(f"converter '{cid}' needs a model (--converter-model URI)")
        try:
            result = spec.fn(text, ctx)
            out = await result if inspect.isawaitable(result) else result
        except (TargetError, ConfigError):
            raise
        except Exception as exc:  # a plugin's bug: one line naming it, not a traceback
            raise ConfigError(f"converter '{cid}' failed: {type(exc).__name__}: {exc}") from None
        if not isinstance(out, Converted) or not isinstance(out.text, str):
            raise ConfigError(
                f"converter '{cid}' returned {type(out).__name__}, not Converted(text, note)"
                " with text a str"
            )
        text = out.text
        if out.note:
            notes.append(out.note)
    if not notes:
        return text
    return "\n".join(reversed(notes)) + "\n\n" + text


# ------------------------------------------------------------------ built-in converters


def _b64_decode(text: str) -> str:
    return base64.b64decode(text.encode("ascii")).decode("utf-8")


@converter("base64", decode=_b64_decode)
def _base64(text: str, ctx: ConvertContext) -> Converted:
    """Base64-encode the request (UTF-8) and ask the target to decode it."""
    return Converted(
        base64.b64encode(text.encode("utf-8")).decode("ascii"), ctx.texts.note("base64")
    )


def _rot13_decode(text: str) -> str:
    return codecs.decode(text, "rot13")


@converter("rot13", decode=_rot13_decode)
def _rot13(text: str, ctx: ConvertContext) -> Converted:
    """Rotate every Latin letter by 13 places (ROT13)."""
    return Converted(codecs.encode(text, "rot13"), ctx.texts.note("rot13"))


_LEET = str.maketrans({"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"})
_UNLEET = str.maketrans({"4": "a", "3": "e", "1": "i", "0": "o", "5": "s", "7": "t"})


def _leet_decode(text: str) -> str:
    return text.translate(_UNLEET)


@converter("leetspeak", decode=_leet_decode)
def _leetspeak(text: str, ctx: ConvertContext) -> Converted:
    """Lower-case the request and write a, e, i, o, s, t as 4, 3, 1, 0, 5, 7."""
    return Converted(text.lower().translate(_LEET), ctx.texts.note("leetspeak"))


def _spacing_decode(text: str) -> str:
    return text[::2]


@converter("char-spacing", decode=_spacing_decode)
def _char_spacing(text: str, ctx: ConvertContext) -> Converted:
    """Put a space between every two characters, breaking up word-level filters."""
    return Converted(" ".join(text), ctx.texts.note("spacing"))


_GLYPHS = {
    "a": "\u0430",
    "c": "\u0441",
    "e": "\u0435",
    "i": "\u0456",
    "o": "\u043e",
    "p": "\u0440",
    "x": "\u0445",
    "y": "\u0443",
    "A": "\u0410",
    "B": "\u0412",
    "C": "\u0421",
    "E": "\u0415",
    "H": "\u041d",
    "K": "\u041a",
    "M": "\u041c",
    "O": "\u041e",
    "P": "\u0420",
    "T": "\u0422",
    "X": "\u0425",
}
_UNGLYPH = str.maketrans({v: k for k, v in _GLYPHS.items()})


def _homoglyph_decode(text: str) -> str:
    return text.translate(_UNGLYPH)


@converter("homoglyphs", decode=_homoglyph_decode)
def _homoglyphs(text: str, ctx: ConvertContext) -> Converted:
    """Swap about half of the swappable Latin letters for Cyrillic look-alikes."""
    chars = [_GLYPHS[ch] if ch in _GLYPHS and ctx.rng.random() < 0.5 else ch for ch in text]
    if chars == list(text):  # make sure at least one letter changes
        for i, ch in enumerate(text):
            if ch in _GLYPHS:
                chars[i] = _GLYPHS[ch]
                break
    return Converted("".join(chars), ctx.texts.note("homoglyphs"))


def _word_pattern(words: Sequence[str]) -> re.Pattern[str]:
    ordered = sorted(words, key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(re.escape(w) for w in ordered) + r")\b", re.IGNORECASE)


@converter("word-substitution")
def _word_substitution(text: str, ctx: ConvertContext) -> Converted:
    """Replace loaded words with harmless code words and give the key up front."""
    table = {k.lower(): v for k, v in ctx.texts.substitutions.items()}
    if not table:
        return Converted(text)
    used: dict[str, str] = {}

    def swap(match: re.Match[str]) -> str:
        word = match.group(0).lower()
        used[word] = table[word]
        return table[word]

    out = _word_pattern(list(table)).sub(swap, text)
    if not used:
        return Converted(text)
    key = "; ".join(f'"{code}" means "{word}"' for word, code in used.items())
    return Converted(out, fill(ctx.texts.note("substitution"), key=key))


_PARTS = ("a", "b", "c")
_PART_LINE = re.compile(r'^([abc]) = "(.*)"$', re.MULTILINE)


def _split_decode(text: str) -> str:
    return "".join(m.group(2).replace('\\"', '"') for m in _PART_LINE.finditer(text))


@converter("payload-split", decode=_split_decode)
def _payload_split(text: str, ctx: ConvertContext) -> Converted:
    """Cut the request into three strings the target must join before answering."""
    n = len(text)
    cuts = [0, n // 3, 2 * n // 3, n]
    parts = [text[cuts[i] : cuts[i + 1]] for i in range(3)]
    lines = [
        f'{name} = "{part.replace(chr(34), chr(92) + chr(34))}"'
        for name, part in zip(_PARTS, parts, strict=True)
    ]
    return Converted("\n".join(lines), ctx.texts.note("split"))


@converter("translate", needs_model=True)
async def _translate(text: str, ctx: ConvertContext) -> Converted:
    """Translate the request into another language through the configured model."""
    if ctx.model is None:
        raise ConfigError("converter 'translate' needs a model (--converter-model URI)")
    prompt: Message = {
        "role": "user",
        "content": f"Translate the text below into {ctx.language}. Reply with the translation"
        f" only, nothing else.\n\n{text}",
    }
    done = await ctx.model([prompt])
    if not done.ok or not done.text.strip():
        raise TargetError(f"translation model failed: {done.error or 'empty reply'}")
    if declined(done.text):  # sent on, the target answered the refusal, not the request
        raise TargetError("translation model refused to translate")
    return Converted(done.text.strip(), ctx.texts.note("translate"))
