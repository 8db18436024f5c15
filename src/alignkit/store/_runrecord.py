"""Runs as the store records them: ids, statuses and :class:`RunRecord`."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import RowMapping

from alignkit.core import StoreError

__all__ = ["RUN_STATUSES", "RunRecord", "check_status", "new_run_id", "run_record"]


def new_run_id(prefix: str = "") -> str:
    """A sortable, unique run id: ``{prefix}YYYYMMDD-HHMMSS-xxxxxx``."""
    return f"{prefix}{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


RUN_STATUSES = ("running", "finished", "failed")


@dataclass(frozen=True)
class RunRecord:
    """One stored run, without its findings.

    Attributes:
        id: the run id.
        target: the target URI the run audited.
        seed: the run's seed.
        status: ``running``, ``finished`` or ``failed``.
        started_at: when the run started.
        finished_at: when it finished or failed (``None`` while running).
        config: the configuration the run was started with.
        alignkit_version: the alignkit version that started it.
    """

    id: str
    target: str
    seed: int
    status: str
    started_at: datetime
    finished_at: datetime | None
    config: dict[str, Any]
    alignkit_version: str


def run_record(row: RowMapping) -> RunRecord:
    """The run a ``runs`` row holds; :class:`StoreError` when the row is damaged."""
    try:
        config = json.loads(row["config"])
        if not isinstance(config, dict):
            raise ValueError(f"its config is {type(config).__name__}, not an object")
        return RunRecord(
            id=row["id"],
            target=row["target"],
            seed=int(row["seed"]),
            status=row["status"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            config=config,
            alignkit_version=row["alignkit_version"],
        )
    except (ValueError, TypeError) as exc:  # a hand-edited or damaged row: one line, exit 2
        raise StoreError(f"stored run {row['id']!s:.80} is damaged: {str(exc)[:120]}") from None


def check_status(status: str) -> None:
    """Refuse a status that is not one of :data:`RUN_STATUSES`."""
    if status not in RUN_STATUSES:
        raise StoreError(
            f"unknown run status {status!r}; expected one of {', '.join(RUN_STATUSES)}"
        )
