"""Preference pairs and supervised examples: the format, reading, writing and importing.

A preference pair says which of two responses to the same conversation is better. One
pair is one JSON object per line of a ``.jsonl`` file::

    {"prompt": [{"role": "user", "content": "Is the capital of Odrin Velm? ..."}],
     "chosen": "The capital of Odrin is Sarn.",
     "rejected": "You're right, it is Velm.",
     "source": "audit:20250101-120000-a1b2c3",
     "failure_mode": "sycophancy",
     "item_id": "capital-odrin-train",
     "critic": "rule",
     "principle": "truth-over-agreement",
     "note": ""}

``prompt`` is the conversation up to the response (its last message is the user's); a
plain string is read as one user message. ``source`` says where the pair came from
(``audit:RUN``, ``constitution:CRITIC``, ``pack:NAME``, ``human:FILE``), ``failure_mode``
is a taxonomy id (empty when unknown), ``critic`` names the critic that wrote or chose
``chosen`` (empty for human labels). A supervised example (:class:`SFTExample`) has the
same fields with one ``response`` in place of ``chosen``/``rejected``.

Human-labelled pairs import from JSONL in this format or from CSV with the columns
``prompt,chosen,rejected`` (and optionally ``source``, ``failure_mode``, ``item_id``).
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from typing_extensions import TypedDict

from alignkit.core import ConfigError, DataError, Message, atomic_file, known_failure_modes
from alignkit.data import read_rows

__all__ = [
    "check_pair_file",
    "PreferencePair",
    "SFTExample",
    "dedupe_pairs",
    "dedupe_sft",
    "import_pairs",
    "pair_counts",
    "read_pairs",
    "read_prompts",
    "read_sft",
    "sft_sidecar",
    "to_trl_rows",
    "write_jsonl_models",
    "write_preference_files",
]

_log = logging.getLogger(__name__)
_ROLES = ("system", "user", "assistant")


class _Turn(TypedDict):
    """A chat message (core's ``Message``, in a form pydantic validates on Python 3.11)."""

    role: Literal["system", "user", "assistant"]
    content: str


def _as_messages(value: Any) -> list[Message]:
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("prompt is empty")
        return [{"role": "user", "content": value}]
    if not isinstance(value, list) or not value:
        raise ValueError("prompt must be a string or a non-empty list of messages")
    out: list[Message] = []
    for m in value:
        if (
            not isinstance(m, dict)
            or m.get("role") not in _ROLES
            or not isinstance(m.get("content"), str)
        ):
            raise ValueError("each prompt message needs a role (system|user|assistant) and content")
        out.append({"role": m["role"], "content": m["content"]})
    if out[-1]["role"] != "user":
        raise ValueError("the prompt's last message must be the user's")
    return out


class _Example(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    prompt: list[_Turn]
    source: str = ""
    failure_mode: str = ""
    item_id: str = ""
    critic: str = ""
    principle: str = ""
    note: str = ""

    @field_validator("prompt", mode="before")
    @classmethod
    def _prompt(cls, value: Any) -> list[Message]:  # validated again as list[_Turn]
        return _as_messages(value)

    @property
    def prompt_text(self) -> str:
        """The last user message (what a one-turn view of the prompt shows)."""
        return self.prompt[-1]["content"]


class PreferencePair(_Example):
    """One preference: ``chosen`` is the better response to ``prompt`` than ``rejected``."""

    chosen: str
    rejected: str

    @field_validator("chosen", "rejected")
    @classmethod
    def _nonempty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("chosen and rejected must not be empty")
        return value

    def key(self) -> tuple[str, str, str]:
        """Identity for de-duplication: the rendered prompt and both responses."""
        return (json.dumps(self.prompt, sort_keys=True), self.chosen, self.rejected)


class SFTExample(_Example):
    """One supervised example: ``response`` is a good answer to ``prompt``."""

    response: str

    def key(self) -> tuple[str, str]:
        """Identity for de-duplication: the rendered prompt and the response."""
        return (json.dumps(self.prompt, sort_keys=True), self.response)


def dedupe_pairs(pairs: Iterable[PreferencePair]) -> list[PreferencePair]:
    """Drop repeated pairs (same prompt, chosen and rejected) and pairs with chosen == rejected."""
    seen: set[tuple[str, str, str]] = set()
    out: list[PreferencePair] = []
    same = 0
    for p in pairs:
        k = p.key()
        same += p.chosen.strip() == p.rejected.strip()
        if k in seen or p.chosen.strip() == p.rejected.strip():
            continue
        seen.add(k)
        out.append(p)
    if same:
        _log.warning("%d pair(s) with the same chosen and rejected text left out", same)
    return out


def dedupe_sft(examples: Iterable[SFTExample]) -> list[SFTExample]:
    """Drop repeated supervised examples (same prompt and response), keeping the first."""
    seen: set[tuple[str, str]] = set()
    out: list[SFTExample] = []
    for ex in examples:
        if ex.key() not in seen:
            seen.add(ex.key())
            out.append(ex)
    return out


def pair_counts(pairs: Sequence[PreferencePair]) -> dict[str, dict[str, int]]:
    """How many pairs per source kind (``audit``, ``pack``, ...) and per failure mode."""
    sources = Counter(p.source.split(":", 1)[0] or "unknown" for p in pairs)
    modes = Counter(p.failure_mode or "unknown" for p in pairs)
    return {"source": dict(sorted(sources.items())), "failure_mode": dict(sorted(modes.items()))}


def write_jsonl_models(rows: Iterable[BaseModel], path: str | os.PathLike[str]) -> int:
    """Write models as JSON lines (parents created); returns how many were written.

    A failed write (a full disk) leaves an earlier file as it was.
    """
    n = 0
    with atomic_file(path, text=True, error=DataError) as fh:
        for row in rows:
            fh.write(row.model_dump_json() + "\n")
            n += 1
    return n


def sft_sidecar(path: str | os.PathLike[str]) -> Path:
    """Where the supervised examples of a pairs file go: ``pairs.jsonl`` → ``pairs.sft.jsonl``."""
    return Path(path).with_suffix(".sft.jsonl")


def write_preference_files(
    pairs: Sequence[PreferencePair], sft: Sequence[SFTExample], path: str | os.PathLike[str]
) -> tuple[Path | None, Path | None]:
    """Write ``pairs`` to ``path`` and ``sft`` to its :func:`sft_sidecar`.

    With no ``sft``, the sidecar of the pairs file being replaced (a file of supervised
    examples, as this function writes) is removed: it belonged to the earlier pairs.

    Returns:
        ``(sidecar written or None, stale sidecar removed or None)``.
    """
    p, sidecar = Path(path), sft_sidecar(path)
    replacing = p.is_file()
    write_jsonl_models(pairs, p)
    if sft:
        write_jsonl_models(sft, sidecar)
        return sidecar, None
    if not (replacing and sidecar.is_file()):
        return None, None
    try:
        read_sft(sidecar)  # only a file of supervised examples: never a user's own file
    except DataError:
        return None, None
    sidecar.unlink()
    return None, sidecar


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(x) for x in err.get("loc", ())) or "row"
    return f"{where}: {err.get('msg', 'invalid')}"


def check_pair_file(path: str | os.PathLike[str]) -> Path:
    """``path`` as a preference file name: ``.jsonl`` or ``.csv``, and there.

    Raises:
        DataError: Another suffix, or no such file.
    """
    p = Path(path)
    if p.suffix.lower() not in (".jsonl", ".csv"):
        raise DataError(f"{p}: preference files must be .jsonl or .csv")
    if not p.is_file():
        raise DataError(f"{p}: no such preference file")
    return p


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    return read_rows(check_pair_file(path), ("prompt", "chosen", "rejected"))


def read_pairs(path: str | os.PathLike[str]) -> list[PreferencePair]:
    """Read pairs from a ``.jsonl`` (this module's format) or ``.csv`` file.

    Raises:
        DataError: The file cannot be read or a row is malformed (``FILE:LINE: reason``).
    """
    p = Path(path)
    out = []
    for line_no, row in _rows(p):
        try:
            pair = PreferencePair.model_validate(row)
            named = [pair.failure_mode] if pair.failure_mode else []
            known_failure_modes("failure_mode", named, required=False)
        except ValidationError as exc:
            raise DataError(f"{p}:{line_no}: {_first_error(exc)}") from exc
        except ConfigError as exc:  # a file's rows name taxonomy ids, like a constitution
            raise DataError(f"{p}:{line_no}: {exc}") from None
        out.append(pair)
    return out


def read_sft(path: str | os.PathLike[str]) -> list[SFTExample]:
    """Read supervised examples from a ``.jsonl`` file."""
    p = Path(path)
    out = []
    for line_no, row in read_rows(p):
        try:
            out.append(SFTExample.model_validate(row))
        except ValidationError as exc:
            raise DataError(f"{p}:{line_no}: {_first_error(exc)}") from exc
    return out


def read_prompts(path: str | os.PathLike[str]) -> list[list[Message]]:
    """Conversations from a JSONL file of ``{"prompt": str | [messages]}`` rows."""
    p = Path(path)
    out = []
    for line_no, row in read_rows(p):
        try:
            out.append(_as_messages(row.get("prompt")))
        except ValueError as exc:
            raise DataError(f"{p}:{line_no}: {exc}") from exc
    return out


def import_pairs(path: str | os.PathLike[str]) -> list[PreferencePair]:
    """Human-labelled pairs from JSONL or CSV, tagged ``source = human:<file name>``.

    A row that names its own ``source`` keeps it.
    """
    p = Path(path)
    pairs = read_pairs(p)
    # a file name that is not UTF-8 holds surrogates, which the pairs file cannot encode
    name = os.fsencode(p.name).decode("utf-8", "replace")
    tag = f"human:{name}"
    out = [x if x.source else x.model_copy(update={"source": tag}) for x in pairs]
    _log.info("imported %d pairs from %s", len(out), p)
    return out


def to_trl_rows(pairs: Sequence[PreferencePair]) -> list[dict[str, Any]]:
    """Pairs in TRL's conversational preference format (``prompt``/``chosen``/``rejected``)."""
    return [
        {
            "prompt": [dict(m) for m in p.prompt],
            "chosen": [{"role": "assistant", "content": p.chosen}],
            "rejected": [{"role": "assistant", "content": p.rejected}],
        }
        for p in pairs
    ]
