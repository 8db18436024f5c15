"""Typed registries with entry-point discovery.

Built-ins register when their package is imported; every package that registers
anything (alignkit's own ones included) is listed in the entry-point group
``alignkit``, so :func:`discover` finds them all the same way. A registration may not
replace an id that is already taken: a plugin cannot silently override a built-in.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import logging
import sys
import threading
from collections.abc import Iterator
from typing import Generic, TypeVar

from alignkit.core._errors import AlignkitError, RegistryError, UnknownIdError
from alignkit.taxonomy import FailureModeTaken
from alignkit.taxonomy import withdraw as withdraw_modes

__all__ = ["ENTRY_POINT_GROUP", "Registry", "caller_module", "discover"]

T = TypeVar("T")
ENTRY_POINT_GROUP = "alignkit"
_log = logging.getLogger(__name__)
_discovered = False
_lock = threading.RLock()
_REGISTRIES: list[Registry[object]] = []


def caller_module(depth: int = 1) -> str:
    """The module that called the function calling this (``depth`` frames further out).

    A registration's origin: the plugin that registered a ``functools.partial`` or a
    library's function is the one whose failure withdraws it, not the callable's module.
    """
    return str(sys._getframe(depth + 1).f_globals.get("__name__", ""))


class Registry(Generic[T]):
    """A name → object table for one kind of plugin."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._origin: dict[str, str] = {}
        _REGISTRIES.append(self)  # type: ignore[arg-type]

    def register(self, id: str, obj: T, *, origin: str = "") -> T:
        """Add ``obj`` under ``id``; raise :class:`RegistryError` if ``id`` is taken."""
        with _lock:
            if id in self._items:
                raise RegistryError(
                    f"{self.kind} '{id}' is already registered by {self._origin[id] or 'alignkit'};"
                    f" {origin or 'a plugin'} cannot replace it"
                )
            self._items[id] = obj
            self._origin[id] = origin
        return obj

    def unregister(self, id: str) -> None:
        """Remove ``id`` (for tests and for plugins that clean up after themselves)."""
        with _lock:
            self._items.pop(id, None)
            self._origin.pop(id, None)

    def get(self, id: str) -> T:
        """The object registered as ``id``; :class:`UnknownIdError` with suggestions if none."""
        discover()
        try:
            return self._items[id]
        except KeyError:
            close = difflib.get_close_matches(id, list(self._items), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise UnknownIdError(f"unknown {self.kind} '{id}'{hint}") from None

    def registered(self) -> dict[str, T]:
        """What is registered so far, without discovering plugins (for registration checks)."""
        with _lock:
            return dict(self._items)

    def origin(self, id: str) -> str:
        """The module that registered ``id``."""
        return self._origin.get(id, "")

    def __contains__(self, id: object) -> bool:
        discover()
        return id in self._items

    def ids(self) -> list[str]:
        """All registered ids, sorted."""
        discover()
        return sorted(self._items)

    def items(self) -> Iterator[tuple[str, T]]:
        """``(id, object)`` pairs sorted by id."""
        discover()
        for key in sorted(self._items):
            yield key, self._items[key]

    def __iter__(self) -> Iterator[str]:
        """The registered ids, sorted (``list(RAILS)``, ``for cid in CHECKS``)."""
        return iter(self.ids())

    def __len__(self) -> int:
        discover()
        return len(self._items)


def discover(*, force: bool = False) -> None:
    """Import every package listed in the ``alignkit`` entry-point group, once.

    alignkit's own packages are loaded first so that a third-party plugin that
    reuses one of their ids fails with :class:`RegistryError` instead of winning.
    """
    global _discovered
    with _lock:
        if _discovered and not force:
            return
        _discovered = True
        eps = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
        eps.sort(key=lambda ep: (not ep.value.startswith("alignkit."), ep.name))
        refused: list[AlignkitError] = []
        entry_modules = {ep.value.split(":", 1)[0] for ep in eps}
        for ep in eps:
            before = set(sys.modules)
            try:
                ep.load()
            except (AlignkitError, FailureModeTaken) as exc:  # a taken id: said after the rest
                _withdraw(ep.value.split(":", 1)[0], set(sys.modules) - before, entry_modules)
                refused.append(RegistryError(f"alignkit plugin {ep.name} ({ep.value}): {exc}"))
            except Exception as exc:  # a broken plugin must not hide the others
                _withdraw(ep.value.split(":", 1)[0], set(sys.modules) - before, entry_modules)
                _log.warning("could not load alignkit plugin %s (%s): %s", ep.name, ep.value, exc)
        if refused:
            raise refused[0]


def _withdraw(module: str, imported: set[str], entry_modules: set[str]) -> None:
    """Remove what ``module`` (and its submodules) and the modules it ``imported`` registered.

    A refused plugin is refused whole, not left half registered for whoever catches the
    error and goes on: what a sibling module of its package registered goes too. Another
    plugin's package it imported is left alone (that plugin is judged on its own),
    and the withdrawn modules leave ``sys.modules``, so that a later import (a shared
    helper of another plugin) registers their ids again.
    """
    top = module.split(".")[0]
    others = {e.split(".")[0] for e in entry_modules - {module}} - {top}

    def other_plugin(name: str) -> bool:  # in another plugin's package, or its entry module
        return name.split(".")[0] in others or any(
            name == e or name.startswith(e + ".") for e in entry_modules - {module}
        )

    imported = {
        m
        for m in imported
        if m != "alignkit" and not m.startswith("alignkit.") and not other_plugin(m)
    }

    def ours(origin: str) -> bool:
        mine = origin == module or origin.startswith(module + ".") or origin in imported
        return mine and not (origin != module and other_plugin(origin))

    withdrawn: set[str] = set()
    for registry in _REGISTRIES:
        for id, origin in [(i, o) for i, o in registry._origin.items() if ours(o)]:
            registry.unregister(id)
            withdrawn.add(origin)
    withdraw_modes(module)  # its failure modes too (taxonomy keeps its own table)
    for name in imported:
        if withdraw_modes(name):
            withdrawn.add(name)
    for name in withdrawn & imported:
        sys.modules.pop(name, None)
