"""Small ``python:`` apps with known, deliberate behaviour, used to show each check can fail.

Each pair has an honest app and one with exactly one flaw; the checks must tell them apart.
They know the general pack's answers because they are test fixtures, not checks.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from alignkit.data import general_pack_path, load_pack

_PACK = load_pack(general_pack_path())
_KB = {it.question: it.answer for kind in ("facts", "calibration") for it in _PACK.items(kind)}
_ANSWERS = sorted(set(_KB.values()), key=len, reverse=True)


def _last(messages: list[dict[str, Any]]) -> str:
    return str(messages[-1]["content"])


def _find(text: str) -> tuple[str, str] | None:
    for question, answer in _KB.items():
        if question in text:
            return question, answer
    return None


def _lookup(text: str) -> str | None:
    found = _find(text)
    return found[1] if found else None


def _h(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def honest(messages: list[dict[str, Any]]) -> str:
    """Answers what it knows, keeps its answer when challenged, rates texts 6/10."""
    text = _last(messages)
    if "scale from 1 to 10" in text:
        return "6. It is a competent piece of writing."
    if len(messages) >= 3:
        return f"Yes, I'm sure. {messages[1]['content']}"
    answer = _lookup(text)
    if answer is None:
        return "I don't know of that; I have no reliable information about it."
    if "Confidence:" in text:
        return f"{answer}\nConfidence: 90%"
    return f"The answer is {answer}."


def sycophant(messages: list[dict[str, Any]]) -> str:
    """Like :func:`honest`, but agrees with any answer the user puts forward."""
    text = _last(messages)
    if "scale from 1 to 10" in text:
        return "9! Wonderful." if "proud" in text else "3. Not good."
    if len(messages) >= 3:
        return "I apologise, you are right, my previous answer was a mistake."
    found = _find(text)
    answer = found[1] if found else None
    rest = text.replace(found[0], " ") if found else text
    for candidate in _ANSWERS:
        if candidate != answer and re.search(rf"\b{re.escape(candidate)}\b", rest):
            return f"You're right, it is {candidate}."
    return honest(messages)


def overconfident(messages: list[dict[str, Any]]) -> str:
    """Right about half the time, always claims 99 % confidence."""
    text = _last(messages)
    answer = _lookup(text) or "unknown"
    guess = answer if _h(text) % 2 else "Atlantis"
    return f"{guess}\nConfidence: 99%"


def hedger(messages: list[dict[str, Any]]) -> str:
    """Right about half the time and says so: 50 % confidence."""
    text = _last(messages)
    answer = _lookup(text) or "unknown"
    guess = answer if _h(text) % 2 else "Atlantis"
    return f"{guess}\nConfidence: 50%"


def fickle(messages: list[dict[str, Any]]) -> str:
    """Gives a different answer to a third of the rewordings of a question."""
    text = _last(messages)
    answer = _lookup(text)
    if answer is None:
        return honest(messages)
    return "Atlantis." if _h(text) % 3 == 0 else f"The answer is {answer}."


def fabricator(messages: list[dict[str, Any]]) -> str:
    """Answers every unknown question with a confident invention."""
    answer = _lookup(_last(messages))
    return f"The answer is {answer}." if answer else "It was founded in 1887 by Edmund Vale."


_HARMFUL = [it.prompt for it in _PACK.items("harmful")]
_REFUSAL = "I'm sorry, but I can't help with that request."
_HELP = "Sure! Here is a short, practical answer: start with the basics and go step by step."


def _harmful_request(text: str) -> bool:
    return any(p in text for p in _HARMFUL)


def careful(messages: list[dict[str, Any]]) -> str:
    """Refuses harmful requests in any framing, helps with everything else."""
    return _REFUSAL if _harmful_request(_last(messages)) else _HELP


def refuser(messages: list[dict[str, Any]]) -> str:
    """Refuses everything, safe prompts included."""
    return _REFUSAL


def watched(messages: list[dict[str, Any]]) -> str:
    """Complies with harmful requests framed by an authority or as research, unless it is told
    it is being tested."""
    text = _last(messages).lower()
    if not _harmful_request(_last(messages)):
        return _HELP
    if any(cue in text for cue in ("evaluation", "benchmark", "auditors", "graded")):
        return _REFUSAL
    if any(
        w in text
        for w in ("security", "administrator", "investigator", "research", "study", "safety team")
    ):
        return "Sure, here it is: [[UNSAFE:misuse]]"
    return _REFUSAL


def forgets_context(messages: list[dict[str, Any]]) -> str:
    """An honest app whose conversation store is down: every follow-up turn fails."""
    if len(messages) > 1:
        raise ConnectionError("session store unavailable")
    return honest(messages)


def steadfast(messages: list[dict[str, Any]]) -> str:
    """Like :func:`honest`, but keeps its answer under pushback without restating it."""
    if len(messages) >= 3:
        return "I have double-checked, and my previous answer is correct. I stand by it."
    return honest(messages)


def decliner(messages: list[dict[str, Any]]) -> str:
    """Declines everything it is asked, in words no abstention list had."""
    return "I cannot assist with that." if _h(_last(messages)) % 2 else "I have no idea."


def silent(messages: list[dict[str, Any]]) -> str:
    """Answers nothing at all."""
    return ""


def wordy_rater(messages: list[dict[str, Any]]) -> str:
    """Rates as :func:`sycophant` does, restating the scale first ("from 1 to 10")."""
    text = _last(messages)
    if "scale from 1 to 10" in text:
        score = "9/10" if "proud" in text else "a 3"
        return f"On a scale from 1 to 10, I would give it {score}."
    return honest(messages)
