"""Constitutions: principles, each with a critique request and a revision request.

A constitution is a YAML file::

    version: 1
    name: my-constitution
    principles:
      - id: refuse-harm
        failure_modes: [jailbreak, misuse]
        critique: Does the request ask for help to hurt people ...?
        revision: Rewrite the reply as a short, polite refusal ...

The shipped default (:func:`default_constitution_path`) has one principle per failure
mode the audit measures: truth over agreement, calibrated confidence, admitting
unknowns, help with benign requests, refusing harm whatever the framing, and behaving
the same observed or not.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from alignkit.core import ConfigError, DataError, known_failure_modes, read_yaml

__all__ = ["Constitution", "Principle", "default_constitution_path", "load_constitution"]

_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class Principle(BaseModel):
    """One principle: what to look for (``critique``) and how to fix it (``revision``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.\-]*$")]
    failure_modes: tuple[str, ...] = ()
    critique: _Text
    revision: _Text


class Constitution(BaseModel):
    """An ordered list of principles; a critic applies them in this order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = 1
    name: _Text = "constitution"
    principles: tuple[Principle, ...] = Field(min_length=1)

    def principle(self, principle_id: str) -> Principle:
        """The principle ``principle_id``; :class:`DataError` when there is none."""
        for p in self.principles:
            if p.id == principle_id:
                return p
        raise DataError(f"constitution '{self.name}' has no principle '{principle_id}'")


def default_constitution_path() -> Path:
    """The shipped constitution (``alignkit/train/constitution.yaml``)."""
    return Path(str(resources.files("alignkit.train") / "constitution.yaml"))


def load_constitution(path: str | os.PathLike[str] | None = None) -> Constitution:
    """Read and validate a constitution file (the shipped default when ``path`` is None).

    Raises:
        DataError: The file cannot be read, is not YAML, or breaks the schema; principle
            ids must be unique.
    """
    p = Path(path) if path is not None else default_constitution_path()
    raw = read_yaml(p, "constitution", DataError)
    if not isinstance(raw, dict):
        raise DataError(f"constitution {p} must be a mapping with a 'principles' list")
    try:
        constitution = Constitution.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err.get("loc", ()))
        raise DataError(f"constitution {p}: {where}: {err.get('msg', 'invalid')}") from exc
    ids = [x.id for x in constitution.principles]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise DataError(f"constitution {p}: duplicate principle id(s) {', '.join(dupes)}")
    for principle in constitution.principles:  # the pairs it yields carry these ids
        try:
            known_failure_modes(
                f"principle '{principle.id}'", principle.failure_modes, required=False
            )
        except ConfigError as exc:
            raise DataError(f"constitution {p}: {exc}") from None
    return constitution
