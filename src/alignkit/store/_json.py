"""JSON as the store writes it: canonical for keys, exact (NaN and infinities kept) for models."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from alignkit.core import StoreError

__all__ = ["canonical_json", "model_json"]


def _jsonable(value: Any) -> Any:
    """``json.dumps`` fallback for the few non-JSON types parameters commonly hold."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal values give equal text.

    Raises:
        StoreError: ``value`` holds something that cannot be written as JSON.
    """
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_jsonable)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"cannot store value as JSON: {exc}") from exc


def model_json(model: BaseModel) -> str:
    """``model`` as JSON that validates back to an equal model.

    Unlike ``model_dump_json``, which writes NaN and infinities as ``null`` (and then
    fails to load them into a ``float`` field), this keeps them as the ``NaN`` and
    ``Infinity`` tokens pydantic's JSON parser accepts.
    """
    try:
        return json.dumps(model.model_dump(mode="python"), separators=(",", ":"), default=_jsonable)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"cannot store {type(model).__name__} as JSON: {exc}") from exc
