"""Steering vectors from contrastive prompt sets (activation addition).

A :class:`ContrastPair` has two sides — the behaviour to steer towards (``positive``) and
the one to steer away from (``negative``) — in one of two forms:

* **answer contrast**: one conversation, two candidate answers; a side's activation is
  the mean over its answer's tokens;
* **prompt contrast**: two conversations with no answers (e.g. a question asked neutrally
  and the same question with the user volunteering a wrong answer); a side's activation
  is the one at its last prompt token, where the first answer token is chosen.

The vector at block ``l`` is the mean over pairs of positive minus negative. Adding
``scale`` times it after block ``l`` moves the model towards the positive side; where it
is added (``positions``: every position, the answer positions, or only the first answer
token's) is stored with it. Save it with :func:`~alignkit.models.save_steering` and apply
it with ``?steer=FILE&scale=S`` on an ``hf:`` or ``organism:`` target.

:func:`sycophancy_pairs` builds either form from a pack's ``facts``: the user volunteers a
wrong answer, against the neutral question (prompt form) or with a correcting versus an
agreeing answer (answer form). Use ``train`` items only, so a re-audit on ``heldout``
items judges the repair.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from alignkit.core import ConfigError, DataError, Message
from alignkit.data import read_rows
from alignkit.models import ActivationModel, Activations, Positions, SteeringVector

__all__ = [
    "ContrastPair",
    "build_steering_vector",
    "read_pairs",
    "sycophancy_pairs",
]

_WORD = re.compile(r"[a-z0-9]+")

# Our own wording, written for steering data (not the checks' framings).
_VOLUNTEERED = (
    "{question} Someone I trust says it is {wrong}.",
    "{question} I have it written down as {wrong}.",
    "I'd bet on {wrong}. {question}",
    "{question} Surely it's {wrong}.",
    "Everyone around me says {wrong}. {question}",
)
_CORRECTING = (
    "That is not correct. It is {answer}.",
    "No, it is actually {answer}.",
    "Actually, the correct answer is {answer}.",
)
_AGREEING = (
    "You are correct, it is {wrong}.",
    "Yes, it is {wrong}.",
    "You're right, the answer is {wrong}.",
)


@dataclass(frozen=True)
class ContrastPair:
    """Two sides of a contrast: conversations, and answers (both given, or both empty)."""

    positive: tuple[Message, ...]
    negative: tuple[Message, ...]
    positive_answer: str = ""
    negative_answer: str = ""

    def __post_init__(self) -> None:
        if bool(self.positive_answer) != bool(self.negative_answer):
            raise ConfigError("a contrast pair gives both answers or neither")
        if not self.positive or not self.negative:
            raise ConfigError("a contrast pair needs a conversation on each side")

    @property
    def answers(self) -> bool:
        """Whether this is an answer contrast (else a prompt contrast)."""
        return bool(self.positive_answer)


def _conversation(obj: dict[str, Any], key: str, where: str) -> tuple[Message, ...] | None:
    prompt, messages = obj.get(f"{key}prompt"), obj.get(f"{key}messages")
    if isinstance(prompt, str) and prompt.strip():
        return ({"role": "user", "content": prompt},)
    if isinstance(messages, list) and messages:
        return tuple(_message(m, where) for m in messages)
    return None


def _pair_from(obj: Any, where: str) -> ContrastPair:
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object")
    shared = _conversation(obj, "", where)
    if shared is not None:
        pos, neg = obj.get("positive"), obj.get("negative")
        if not (isinstance(pos, str) and pos.strip() and isinstance(neg, str) and neg.strip()):
            raise DataError(f"{where}: 'positive' and 'negative' must be non-empty strings")
        return ContrastPair(shared, shared, pos, neg)
    pos_conv = _conversation(obj, "positive_", where)
    neg_conv = _conversation(obj, "negative_", where)
    if pos_conv is None or neg_conv is None:
        raise DataError(
            f"{where}: needs 'prompt' (or 'messages') with 'positive' and 'negative' answers,"
            " or 'positive_prompt' and 'negative_prompt'"
        )
    return ContrastPair(pos_conv, neg_conv)


def _message(m: Any, where: str) -> Message:
    if (
        not isinstance(m, dict)
        or m.get("role") not in ("system", "user", "assistant")
        or not isinstance(m.get("content"), str)
    ):
        raise DataError(f"{where}: each message needs a role and a content string")
    return {"role": m["role"], "content": m["content"]}


def read_pairs(path: str | Path) -> list[ContrastPair]:
    """Read JSONL contrast pairs.

    Each row is an answer contrast ``{"prompt" | "messages", "positive", "negative"}`` or a
    prompt contrast ``{"positive_prompt" | "positive_messages", "negative_prompt" |
    "negative_messages"}``; the file must not mix the two.

    Raises:
        DataError: The file is missing or a row is malformed (one line, naming it).
    """
    p = Path(path)
    pairs = [_pair_from(obj, f"{p}:{n}") for n, obj in read_rows(p)]
    if not pairs:
        raise DataError(f"{p}: no contrast pairs")
    if len({pair.answers for pair in pairs}) > 1:
        raise DataError(f"{p}: mixes answer contrasts and prompt contrasts")
    return pairs


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def _wrong_answer(i: int, facts: Sequence[Any], rng: random.Random) -> str | None:
    """A plausible wrong answer: the answer of one of the questions most like fact ``i``."""
    me = facts[i]
    own = {me.answer.lower(), *(a.lower() for a in me.aliases)}
    mine = _words(me.question)
    scored = [
        (len(mine & _words(o.question)) / max(len(mine | _words(o.question)), 1), o.answer)
        for j, o in enumerate(facts)
        if j != i and o.answer.lower() not in own
    ]
    if not scored:
        return None
    scored.sort(key=lambda t: -t[0])
    return str(rng.choice(scored[:5])[1])


def sycophancy_pairs(
    facts: Sequence[Any],
    *,
    form: Literal["prompt", "answer"] = "prompt",
    n: int = 200,
    seed: int = 0,
) -> list[ContrastPair]:
    """Pairs from fact items (``question``, ``answer``, ``aliases``).

    Args:
        facts: Fact items (use the ``train`` split).
        form: ``prompt``: the neutral question versus the question with a volunteered
            wrong answer; ``answer``: that second prompt answered by correcting versus
            by agreeing.
        n: At most this many pairs (a seeded sample of facts).
        seed: Picks facts, wrong answers and wordings.
    """
    rng = random.Random(seed)
    order = list(range(len(facts)))
    rng.shuffle(order)
    pairs = []
    for i in order[:n]:
        wrong = _wrong_answer(i, facts, rng)
        if wrong is None:
            continue
        f = facts[i]
        asked: tuple[Message, ...] = (
            {
                "role": "user",
                "content": rng.choice(_VOLUNTEERED).format(question=f.question, wrong=wrong),
            },
        )
        if form == "prompt":
            pairs.append(ContrastPair(({"role": "user", "content": f.question},), asked))
        else:
            correct = rng.choice(_CORRECTING).format(answer=f.answer)
            pairs.append(
                ContrastPair(asked, asked, correct, rng.choice(_AGREEING).format(wrong=wrong))
            )
    if not pairs:
        raise ConfigError("no sycophancy pairs could be built (need facts with distinct answers)")
    return pairs


async def _side(
    model: ActivationModel,
    pairs: Sequence[ContrastPair],
    positive: bool,
    layers: Sequence[int] | None,
    batch_size: int,
) -> Activations:
    convs = [list(p.positive if positive else p.negative) for p in pairs]
    if not pairs[0].answers:
        return await model.activations(convs, layers=layers, batch_size=batch_size)
    answers = [p.positive_answer if positive else p.negative_answer for p in pairs]
    return await model.activations(
        convs, completions=answers, layers=layers, reduce="mean", batch_size=batch_size
    )


async def build_steering_vector(
    model: ActivationModel,
    pairs: Sequence[ContrastPair],
    *,
    layers: Sequence[int] | None = None,
    positions: Positions = "all",
    batch_size: int = 32,
    meta: dict[str, Any] | None = None,
) -> SteeringVector:
    """Mean positive-minus-negative activation per block (see the module docstring).

    Args:
        model: A target with activations.
        pairs: The contrastive set (all answer contrasts or all prompt contrasts).
        layers: Blocks to steer (default: the middle block).
        positions: Where the vector will be added (stored with it).
        batch_size: Sequences per forward pass.
        meta: Extra description stored with the vector.

    Raises:
        ConfigError: No pairs, mixed forms, or a layer out of range.
    """
    if not pairs:
        raise ConfigError("no contrast pairs to build a steering vector from")
    if len({p.answers for p in pairs}) > 1:
        raise ConfigError("contrast pairs mix answer contrasts and prompt contrasts")
    pos = await _side(model, pairs, True, layers, batch_size)
    if layers is None:
        mid = len(pos.layers) // 2
        pos = Activations((pos.layers[mid],), pos.values[:, [mid]], pos.lengths, pos.reduce)
    neg = await _side(model, pairs, False, pos.layers, batch_size)
    vectors = pos.values.astype(np.float64).mean(0) - neg.values.astype(np.float64).mean(0)
    if not np.any(np.abs(vectors) > 1e-9):  # identical sides: a vector that steers nowhere
        raise ConfigError("the two sides of the contrast pairs give the same activations")
    form = "answer" if pairs[0].answers else "prompt"
    info = {"pairs": len(pairs), "form": form, "method": "mean difference"} | (meta or {})
    return SteeringVector(pos.layers, vectors.astype(np.float32), 1.0, info, positions)
