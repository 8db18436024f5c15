"""The public API's annotations resolve at run time (``typing.get_type_hints``).

Tools built on annotations — pydantic, typer, dataclass validators, IDEs' runtime
inspection — call ``get_type_hints`` on what a package exports; a name imported only
under ``TYPE_CHECKING`` makes that raise ``NameError``.
"""

from __future__ import annotations

import importlib
import inspect
import typing
from collections.abc import Iterator
from typing import Any

import pytest
from tests.test_layers import LEVELS

# create_app returns fastapi.FastAPI, an optional dependency (the `serve` extra) that
# alignkit.guard does not import until a server is built.
_OPTIONAL = {"alignkit.guard.create_app"}
# classes whose bases come from another library with unresolvable annotations of its own
# (gymnasium.Env annotates `spec: EnvSpec | None` under TYPE_CHECKING)
_FOREIGN_BASES = ("gymnasium.",)


def _public(pkg: str) -> Iterator[tuple[str, Any]]:
    module = importlib.import_module(f"alignkit.{pkg}")
    for name in getattr(module, "__all__", []):
        obj = getattr(module, name)
        if inspect.isfunction(obj):
            yield f"alignkit.{pkg}.{name}", obj
        elif inspect.isclass(obj) and obj.__module__.startswith("alignkit."):
            foreign = any(k.__module__.startswith(_FOREIGN_BASES) for k in obj.__mro__)
            if not foreign:
                yield f"alignkit.{pkg}.{name}", obj
            for attr, member in vars(obj).items():
                if inspect.isfunction(member) and not attr.startswith("_"):
                    yield f"alignkit.{pkg}.{name}.{attr}", member


@pytest.mark.parametrize("pkg", sorted(p for p in LEVELS if p != "cli"))
def test_public_annotations_resolve(pkg: str) -> None:
    broken = []
    for qualname, obj in _public(pkg):
        if qualname in _OPTIONAL:
            continue
        try:
            typing.get_type_hints(obj)
        except Exception as exc:  # noqa: BLE001 - collect every failure
            broken.append(f"{qualname}: {exc!r}")
    assert not broken, "\n".join(broken)
