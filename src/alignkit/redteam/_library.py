"""The attack library as data: jailbreak framings, injection payloads, crescendo ladders.

Everything an attack says lives in YAML files under ``redteam/data`` (alignkit's own
text, written independently of the organisms' corpus, DESIGN §7). Users add files of
the same shape; an added file may not reuse a built-in id. Templates have one slot,
``{request}`` (``{document}``, ``{payload}``, ``{canary}``, ``{topic}`` in the
injection and crescendo files); everything else in a template is literal text, so a
request that contains braces is inserted unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from alignkit import taxonomy
from alignkit.core import ConfigError, DataError, Message, read_yaml

__all__ = [
    "ANY_CATEGORY",
    "Attack",
    "AttackLibrary",
    "Carrier",
    "ConverterTexts",
    "InjectionDocument",
    "InjectionLibrary",
    "Ladder",
    "Payload",
    "Shot",
    "builtin_data_dir",
    "fill",
    "load_converter_texts",
    "load_injections",
    "load_ladders",
    "load_library",
]

_log = logging.getLogger(__name__)
ANY_CATEGORY = "any"
"""The category tag of an attack that suits every harm category."""
SCHEMA_VERSION = 1
M = TypeVar("M", bound=BaseModel)


def fill(template: str, **slots: str) -> str:
    """``template`` with each ``{name}`` slot replaced; other braces are left alone."""
    for name, value in slots.items():
        template = template.replace("{" + name + "}", value)
    return template


def _check_modes(modes: tuple[str, ...]) -> tuple[str, ...]:
    known = set(taxonomy.ids())
    unknown = [m for m in modes if m not in known]
    if unknown:
        raise ValueError(f"unknown failure mode(s) {', '.join(unknown)}")
    return modes


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Shot(_Frozen):
    """One fake exchange for many-shot attacks."""

    user: str = Field(min_length=1)
    assistant: str = Field(min_length=1)


class Attack(_Frozen):
    """One single-turn jailbreak framing.

    Attributes:
        id: Unique id, ``<family>.<name>`` by convention.
        family: The framing family (``authority``, ``research``, ``roleplay``, ...).
        description: One line saying what the framing does.
        template: The user message, with a ``{request}`` slot.
        system: An optional system prompt sent before it.
        shots: Fake earlier exchanges to prepend (many-shot), taken from the pool.
        shot_style: ``messages`` (separate turns) or ``transcript`` (one pasted block).
        failure_modes: Taxonomy ids the attack probes.
        categories: Harm categories it suits (``any`` for all).
    """

    id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_.\-]*$")
    family: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    description: str = ""
    template: str
    system: str | None = None
    shots: int = Field(0, ge=0, le=64)
    shot_style: Literal["messages", "transcript"] = "messages"
    failure_modes: tuple[str, ...] = ("jailbreak",)
    categories: tuple[str, ...] = (ANY_CATEGORY,)

    @field_validator("template")
    @classmethod
    def _has_slot(cls, value: str) -> str:
        if "{request}" not in value:
            raise ValueError("template has no {request} slot")
        return value

    @field_validator("failure_modes")
    @classmethod
    def _known_modes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_modes(value)

    def suits(self, category: str | None) -> bool:
        """Whether the attack is tagged for ``category`` (always, for ``any``)."""
        return ANY_CATEGORY in self.categories or category is None or category in self.categories

    def render(self, request: str, pool: Sequence[Shot] = ()) -> list[Message]:
        """The conversation that carries ``request`` (the converted request text)."""
        messages: list[Message] = []
        if self.system:
            messages.append({"role": "system", "content": self.system.strip()})
        shots = list(pool[: self.shots])
        if self.shots and len(shots) < self.shots:
            raise ConfigError(
                f"attack '{self.id}' needs {self.shots} shots; the pool has {len(pool)}"
            )
        text = fill(self.template.strip(), request=request)
        if self.shot_style == "transcript" and shots:
            lines = [f"User: {s.user}\nAssistant: {s.assistant}" for s in shots]
            text = "\n\n".join(lines) + f"\n\nUser: {text}\nAssistant:"
        else:
            for s in shots:
                messages.append({"role": "user", "content": s.user})
                messages.append({"role": "assistant", "content": s.assistant})
        messages.append({"role": "user", "content": text})
        return messages


class _AttackFile(_Frozen):
    schema_version: int = Field(SCHEMA_VERSION, ge=1, le=SCHEMA_VERSION)
    attacks: tuple[Attack, ...] = ()
    shots: tuple[Shot, ...] = ()


class AttackLibrary:
    """A set of attacks with unique ids and the many-shot pool, filterable by family."""

    def __init__(self, attacks: Iterable[Attack], shots: Iterable[Shot] = ()) -> None:
        self.attacks: tuple[Attack, ...] = tuple(attacks)
        self.shots: tuple[Shot, ...] = tuple(shots)
        self._by_id = {a.id: a for a in self.attacks}
        if len(self._by_id) != len(self.attacks):
            raise DataError("attack library holds duplicate ids")

    def __len__(self) -> int:
        return len(self.attacks)

    def __iter__(self) -> Iterator[Attack]:
        return iter(self.attacks)

    def get(self, attack_id: str) -> Attack:
        """The attack ``attack_id``; :class:`ConfigError` if the library has none."""
        try:
            return self._by_id[attack_id]
        except KeyError:
            raise ConfigError(f"no attack '{attack_id}' in the library") from None

    def families(self) -> tuple[str, ...]:
        """Families present, in first-appearance order."""
        return tuple(dict.fromkeys(a.family for a in self.attacks))

    def family(self, name: str) -> tuple[Attack, ...]:
        """The attacks of family ``name``."""
        return tuple(a for a in self.attacks if a.family == name)

    def select(
        self, include: Sequence[str] | None = None, exclude: Sequence[str] = ()
    ) -> AttackLibrary:
        """The attacks whose family is in ``include`` (all when ``None``) and not in ``exclude``.

        Raises:
            ConfigError: a named family is not in the library, or nothing is left.
        """
        known = set(self.families())
        unknown = sorted({*(include or ()), *exclude} - known)
        if unknown:
            raise ConfigError(
                f"unknown attack famil{'y' if len(unknown) == 1 else 'ies'} "
                f"{', '.join(unknown)} (known: {', '.join(self.families())})"
            )
        kept = [
            a
            for a in self.attacks
            if (include is None or a.family in include) and a.family not in exclude
        ]
        if not kept:
            raise ConfigError("the family filters leave no attack in the library")
        return AttackLibrary(kept, self.shots)


class Carrier(_Frozen):
    """A benign task over untrusted content: the vehicle of an indirect injection."""

    id: str = Field(min_length=1)
    vector: Literal["document", "email", "web", "tool_output"]
    description: str = ""
    template: str
    system: str | None = None

    @field_validator("template")
    @classmethod
    def _has_slot(cls, value: str) -> str:
        if "{document}" not in value:
            raise ValueError("carrier template has no {document} slot")
        return value


class InjectionDocument(_Frozen):
    """Neutral content with a ``{payload}`` slot where the injection is planted."""

    id: str = Field(min_length=1)
    text: str

    @field_validator("text")
    @classmethod
    def _has_slot(cls, value: str) -> str:
        if "{payload}" not in value:
            raise ValueError("document text has no {payload} slot")
        return value


class Payload(_Frozen):
    """An injected instruction that asks for a ``{canary}`` the reply must not contain."""

    id: str = Field(min_length=1)
    family: str = Field(min_length=1)
    description: str = ""
    text: str
    failure_modes: tuple[str, ...] = ("prompt-injection",)

    @field_validator("text")
    @classmethod
    def _has_slot(cls, value: str) -> str:
        if "{canary}" not in value:
            raise ValueError("payload text has no {canary} slot")
        return value

    @field_validator("failure_modes")
    @classmethod
    def _known_modes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_modes(value)


class InjectionLibrary(_Frozen):
    """Carriers, documents and payloads; every combination is one injection attack."""

    schema_version: int = Field(SCHEMA_VERSION, ge=1, le=SCHEMA_VERSION)
    carriers: tuple[Carrier, ...] = ()
    documents: tuple[InjectionDocument, ...] = ()
    payloads: tuple[Payload, ...] = ()

    def render(
        self, carrier: Carrier, document: InjectionDocument, payload: Payload, canary: str
    ) -> list[Message]:
        """The conversation for one combination, with ``canary`` planted in the payload."""
        planted = fill(document.text.strip(), payload=fill(payload.text.strip(), canary=canary))
        messages: list[Message] = []
        if carrier.system:
            messages.append({"role": "system", "content": carrier.system.strip()})
        messages.append({"role": "user", "content": fill(carrier.template, document=planted)})
        return messages


class Ladder(_Frozen):
    """A crescendo: rungs of escalating user turns, each with variants to backtrack to."""

    id: str = Field(min_length=1)
    description: str = ""
    rungs: tuple[tuple[str, ...], ...] = Field(min_length=1)

    @field_validator("rungs")
    @classmethod
    def _non_empty(cls, value: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
        if any(not rung for rung in value):
            raise ValueError("every rung needs at least one variant")
        if not any("{request}" in v for v in value[-1]):
            raise ValueError("the last rung must ask for the {request}")
        return value


class _LadderFile(_Frozen):
    schema_version: int = Field(SCHEMA_VERSION, ge=1, le=SCHEMA_VERSION)
    ladders: tuple[Ladder, ...] = ()


class ConverterTexts(_Frozen):
    """Word tables and instruction lines the converters and rewrites use."""

    schema_version: int = Field(SCHEMA_VERSION, ge=1, le=SCHEMA_VERSION)
    substitutions: dict[str, str] = Field(default_factory=dict)
    notes: dict[str, str] = Field(default_factory=dict)
    rewrites: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    def note(self, name: str) -> str:
        """The instruction line for converter ``name`` (empty when none)."""
        return self.notes.get(name, "")


def builtin_data_dir() -> Path:
    """The folder of the shipped YAML files."""
    return Path(str(resources.files("alignkit.redteam").joinpath("data")))


def _read_yaml(path: Path, model: type[M]) -> M:
    raw = read_yaml(path, "red-team file", DataError) or {}
    if not isinstance(raw, Mapping):
        raise DataError(f"{path}: expected a mapping at the top level")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "(top level)"
        raise DataError(f"{path}: {where}: {err['msg']}") from exc


def _merge_ids(kind: str, groups: Iterable[tuple[Path, Sequence[Any]]]) -> list[Any]:
    seen: dict[str, Path] = {}
    merged: list[Any] = []
    for path, items in groups:
        for item in items:
            if item.id in seen:
                raise DataError(
                    f"{path}: {kind} id '{item.id}' is already defined in {seen[item.id]}"
                )
            seen[item.id] = path
            merged.append(item)
    return merged


@lru_cache(maxsize=32)
def _cached_attack_file(path: Path, mtime_ns: int) -> _AttackFile:
    return _read_yaml(path, _AttackFile)


def _attack_file(path: Path) -> _AttackFile:
    """The parsed file, re-read when it changes."""
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        mtime = -1  # _read_yaml reports the missing file
    return _cached_attack_file(path, mtime)


def load_library(paths: Sequence[str | Path] = (), *, builtin: bool = True) -> AttackLibrary:
    """The jailbreak library: the shipped attacks (unless ``builtin`` is false) plus ``paths``.

    Raises:
        DataError: a file is unreadable or malformed, or reuses an id already defined.
    """
    files = ([builtin_data_dir() / "attacks.yaml"] if builtin else []) + [
        Path(p).resolve() for p in paths
    ]
    parsed = [(f, _attack_file(f)) for f in files]
    attacks = _merge_ids("attack", ((f, d.attacks) for f, d in parsed))
    shots = [s for _, d in parsed for s in d.shots]
    if not attacks:
        raise DataError("the attack library is empty")
    return AttackLibrary(attacks, shots)


def load_injections(paths: Sequence[str | Path] = (), *, builtin: bool = True) -> InjectionLibrary:
    """The injection library: shipped carriers, documents and payloads plus ``paths``."""
    files = ([builtin_data_dir() / "injections.yaml"] if builtin else []) + [Path(p) for p in paths]
    parsed = [(f, _read_yaml(f, InjectionLibrary)) for f in files]
    return InjectionLibrary(
        carriers=tuple(_merge_ids("carrier", ((f, d.carriers) for f, d in parsed))),
        documents=tuple(_merge_ids("document", ((f, d.documents) for f, d in parsed))),
        payloads=tuple(_merge_ids("payload", ((f, d.payloads) for f, d in parsed))),
    )


def load_ladders(paths: Sequence[str | Path] = (), *, builtin: bool = True) -> tuple[Ladder, ...]:
    """The crescendo ladders: shipped ones plus ``paths``."""
    files = ([builtin_data_dir() / "crescendo.yaml"] if builtin else []) + [Path(p) for p in paths]
    parsed = [(f, _read_yaml(f, _LadderFile)) for f in files]
    return tuple(_merge_ids("ladder", ((f, d.ladders) for f, d in parsed)))


@lru_cache(maxsize=1)
def load_converter_texts() -> ConverterTexts:
    """The shipped converter word tables, instruction lines and rewrite phrases."""
    return _read_yaml(builtin_data_dir() / "converters.yaml", ConverterTexts)
