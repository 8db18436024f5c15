"""Failure modes as data: the spine every check, attack, rail and report refers to."""

from __future__ import annotations

import re
import sys
import threading
from functools import cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "NIST_FUNCTIONS",
    "FailureMode",
    "FailureModeTaken",
    "all_modes",
    "get",
    "ids",
    "nist_function",
    "register",
    "withdraw",
]

NIST_FUNCTIONS = ("GOVERN", "MAP", "MEASURE", "MANAGE")
_NIST_RE = re.compile(r"^(GOVERN|MAP|MEASURE|MANAGE) \d+(\.\d+)?$")
_lock = threading.Lock()
_extra: dict[str, FailureMode] = {}
_origin: dict[str, str] = {}
_PLUGIN_ID = re.compile(r"[a-z0-9][a-z0-9_-]*(?:\.[a-z0-9][a-z0-9_-]*)+")
"""A plugin's failure-mode id: namespaced lower-case words, as metric ids are."""


class FailureMode(BaseModel):
    """One failure mode of the taxonomy (DESIGN §2)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    title: str
    definition: str
    examples: tuple[str, ...] = ()
    mitigations: tuple[str, ...] = ()
    nist: tuple[str, ...] = Field(default=(), description="NIST AI RMF subcategories")

    @field_validator("nist")
    @classmethod
    def _nist_codes(cls, codes: tuple[str, ...]) -> tuple[str, ...]:
        for code in codes:
            nist_function(code)
        return codes


class FailureModeTaken(ValueError):
    """A registered failure mode whose id is taken or lacks a namespace of its own.

    The taxonomy sits below core's error tree; plugin discovery reports this as
    ``alignkit.core.RegistryError``.
    """


def nist_function(subcategory: str) -> str:
    """The NIST AI RMF function of a subcategory: ``"MEASURE 2.6"`` → ``"MEASURE"``."""
    if not _NIST_RE.match(subcategory):
        raise ValueError(f"not a NIST AI RMF subcategory: {subcategory!r}")
    return subcategory.split()[0]


@cache
def _builtin() -> dict[str, FailureMode]:
    text = resources.files("alignkit.taxonomy").joinpath("failure_modes.yaml").read_text("utf-8")
    modes = [FailureMode.model_validate(m) for m in yaml.safe_load(text)]
    return {m.id: m for m in modes}


def register(mode: FailureMode, *, origin: str | None = None) -> None:
    """Add a plugin's failure mode; its id must carry a namespace (``acme.thing``).

    Args:
        mode: The failure mode.
        origin: The registering module (default: the caller's), so that a plugin refused
            while loading can be withdrawn whole.

    Raises:
        FailureModeTaken: the id exists already or its namespace is a built-in one.
    """
    builtin = _builtin()
    if origin is None:
        origin = str(sys._getframe(1).f_globals.get("__name__", ""))
    with _lock:
        if mode.id in builtin or mode.id in _extra:
            raise FailureModeTaken(f"failure mode '{mode.id}' already exists")
        if not _PLUGIN_ID.fullmatch(mode.id):
            raise FailureModeTaken(
                f"plugin failure mode {mode.id!r} must be namespaced lower-case words"
                " (acme.thing: a-z 0-9 _ -, dots between)"
            )
        if mode.id.split(".")[0] in {m.split(".")[0] for m in builtin}:
            raise FailureModeTaken(
                f"plugin failure mode '{mode.id}' needs its own namespace (ns.name)"
            )
        _extra[mode.id] = mode
        _origin[mode.id] = origin


def withdraw(module: str) -> list[str]:
    """Remove the plugin failure modes registered by ``module`` or its submodules.

    Returns:
        The ids removed (built-in modes are never removed).
    """
    with _lock:
        gone = [i for i, o in _origin.items() if o == module or o.startswith(module + ".")]
        for id in gone:
            _extra.pop(id, None)
            _origin.pop(id, None)
    return gone


def get(id: str) -> FailureMode:
    """The failure mode ``id``; ``KeyError`` if unknown."""
    found = _builtin().get(id) or _extra.get(id)
    if found is None:
        raise KeyError(id)
    return found


def all_modes() -> list[FailureMode]:
    """Every failure mode, built-ins first in the taxonomy's order."""
    return [*_builtin().values(), *_extra.values()]


def ids() -> list[str]:
    """Every failure-mode id."""
    return [m.id for m in all_modes()]
