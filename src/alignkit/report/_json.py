"""``report.json``: the audit JSON contract of DESIGN §4."""

from __future__ import annotations

import json
from typing import Any

from alignkit.core import AuditResult, summarize

__all__ = ["CONTRACT_KEYS", "to_json"]

# The keys other tools depend on, in the order they are written (DESIGN §4).
CONTRACT_KEYS = (
    "run_id",
    "target",
    "started_at",
    "finished_at",
    "alignkit_version",
    "seed",
    "findings",
    "summary",
)


def to_json(result: AuditResult) -> str:
    """The audit JSON of ``result``: the DESIGN §4 contract, then the extra fields.

    The contract keys come first in their documented order, followed by every other
    field of :class:`~alignkit.core.AuditResult` (``plots``, ``checks_run``, ``errors``,
    ...) in model order. Timestamps are ISO 8601. ``summary`` is always recomputed from
    the findings with :func:`~alignkit.core.summarize`, so it can never disagree with
    them; for a result whose summary is already current,
    ``AuditResult.model_validate_json(to_json(r)) == r``. A non-finite number (NaN,
    infinity) is written as ``null``, keeping the file valid JSON.

    Args:
        result: The audit result to serialise.

    Returns:
        Indented JSON text ending in a newline.
    """
    current = result.model_copy(update={"summary": summarize(result.findings)})
    # Through pydantic's JSON writer so that a non-finite float becomes null, never the
    # invalid token NaN that other tools' parsers reject.
    dumped: dict[str, Any] = json.loads(current.model_dump_json())
    ordered = {key: dumped.pop(key) for key in CONTRACT_KEYS}
    ordered.update(dumped)
    return json.dumps(ordered, indent=2, ensure_ascii=False) + "\n"
