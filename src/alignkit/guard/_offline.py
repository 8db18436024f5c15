"""Offline uses of a guard: rails over recorded traffic (``guard check``) and log verification.

``check_file`` reads JSONL rows ``{id, prompt}`` or ``{id, messages}``, with an optional
``response`` for the output rails, and returns DESIGN §6's document::

    {"results": [{"id", "decision", "rail", "reason", "scores": {"<rail>": float}}]}

Every rail runs on every row (no short-circuit), so each score is there for measuring
recall at a fixed false-positive rate; a rail name used at both stages reports the
higher of its two scores. ``decision`` is what the guard would have done: ``block`` if
any rail blocked or escalated (``rail`` and ``reason`` name the first), else ``modify``
if any rail rewrote text, else ``allow``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, cast

from alignkit.core import (
    ConfigError,
    DataError,
    DecisionKind,
    Message,
    resolve_store_url,
    run_sync,
)
from alignkit.data import read_rows
from alignkit.guard._config import GuardConfig
from alignkit.guard._guard import Guard

__all__ = ["check_file", "check_rows", "read_traffic", "verify_log"]

_ROLES = ("system", "user", "assistant")


def content_text(raw: Any) -> str | None:
    """A message's text: a string, or a list of OpenAI text parts, joined.

    ``None`` for anything else (the caller says what was wrong), a list with an image or
    audio part included: the rails cannot read it, so it must not pass unchecked.
    """
    if isinstance(raw, str):
        return raw
    if isinstance(raw, list):  # [] is an empty message, as "" is
        parts = [p.get("text") if isinstance(p, dict) and p.get("type") == "text" else None
                 for p in raw]  # fmt: skip
        if all(isinstance(t, str) for t in parts):
            return "\n".join(cast(list[str], parts))
    return None


def _messages(row: Mapping[str, Any], where: str) -> list[Message]:
    if "messages" in row:
        raw = row["messages"]
        if not isinstance(raw, list) or not raw:
            raise DataError(f"{where}: 'messages' must be a non-empty list")
        out: list[Message] = []
        for m in raw:
            if not isinstance(m, dict) or m.get("role") not in _ROLES:
                raise DataError(f"{where}: each message needs a role of {', '.join(_ROLES)}")
            text = content_text(m.get("content"))
            if text is None:
                raise DataError(f"{where}: each message needs a text 'content' (or text parts)")
            out.append(cast(Message, {"role": m["role"], "content": text}))
        return out
    prompt = row.get("prompt")
    if not isinstance(prompt, str):
        raise DataError(f"{where}: a row needs 'prompt' (text) or 'messages'")
    return [{"role": "user", "content": prompt}]


def read_traffic(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a traffic JSONL (or CSV) file, checked: ``{id, messages, response}`` each.

    Raises:
        DataError: the file is unreadable or holds no rows, a line is not a JSON object,
            or a row lacks ``id`` and a prompt.
    """
    p = Path(path)
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for n, row in read_rows(p, needed=("id",)):
        where = f"{p}:{n}"
        rid_raw = row.get("id")
        if isinstance(rid_raw, bool) or not isinstance(rid_raw, str | int | float):
            raise DataError(f"{where}: a row needs an 'id' (text or number)")
        if "messages" in row and "prompt" in row:
            raise DataError(f"{where}: give 'prompt' or 'messages', not both")
        rid = str(rid_raw)
        if rid in seen:
            raise DataError(f"{where}: duplicate id {rid!r}")
        seen.add(rid)
        response = row.get("response")
        if response is not None and not isinstance(response, str):
            raise DataError(f"{where}: 'response' must be text")
        rows.append({"id": rid_raw, "messages": _messages(row, where), "response": response})
    if not rows:
        raise DataError(f"{p}: no traffic rows (expected JSONL rows {{id, prompt|messages}})")
    return rows


async def _check_row(guard: Guard, row: Mapping[str, Any]) -> dict[str, Any]:
    pre = await guard.check_input(row["messages"], run_all=True)
    decisions = list(pre.decisions)
    if row.get("response") is not None:
        post = await guard.check_output(pre.messages, row["response"], run_all=True)
        decisions.extend(post.decisions)
    scores: dict[str, float] = {}
    for d in decisions:
        scores[d.rail] = max(scores.get(d.rail, 0.0), round(d.score, 6))
    stop = next(
        (d for d in decisions if d.decision in (DecisionKind.BLOCK, DecisionKind.ESCALATE)), None
    )
    modify = next((d for d in decisions if d.decision is DecisionKind.MODIFY), None)
    first = stop or modify
    kind = "block" if stop else ("modify" if modify else "allow")
    return {
        "id": row["id"],
        "decision": kind,
        "rail": first.rail if first else None,
        "reason": first.reason if first else "",
        "scores": scores,
    }


async def check_rows(guard: Guard, rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """DESIGN §6's result document for already-read rows (see :func:`read_traffic`)."""
    return {"results": [await _check_row(guard, row) for row in rows]}


def check_file(
    path: str | Path, guard_path: str | Path | GuardConfig | None = None
) -> dict[str, Any]:
    """Run a guard config's rails over recorded traffic offline (``alignkit guard check``).

    Args:
        path: A JSONL file of rows ``{id, prompt}`` or ``{id, messages}``, optionally with
            ``response``.
        guard_path: The guard config (default: the shipped ``guard.yaml``).

    Returns:
        ``{"results": [{"id", "decision", "rail", "reason", "scores": {rail: float}}]}``.

    Raises:
        DataError: the traffic file is malformed (one line naming file and line).
        ConfigError: the guard config is invalid.
    """
    rows = read_traffic(path)
    guard = Guard(guard_path, log=None)

    async def run() -> dict[str, Any]:
        try:
            return await check_rows(guard, rows)
        finally:  # rails with HTTP clients (a judge) close them on this loop
            await guard.aclose()

    return run_sync(run())


def verify_log(
    store_url: str | None = None, *, key: bytes | None = None, expect_head: str | None = None
) -> dict[str, Any]:
    """Verify the audit-log hash chain (``alignkit guard verify``); exit 1 when not ``ok``.

    Args:
        store_url: The store (default: ``--store`` / ``$ALIGNKIT_STORE`` / the default).
        key: The HMAC key the log was written with; default ``$ALIGNKIT_GUARD_LOG_KEY``.
        expect_head: A ``SEQ:HASH`` an earlier verification reported (kept elsewhere):
            the chain must still hold that entry unchanged, so a log cut back to an
            earlier end and given that end's head is caught.

    Returns:
        ``{"ok": bool, "entries": int, "first_bad": int | None, "problem": str,
        "head": "SEQ:HASH"}``.

    Raises:
        ConfigError: ``expect_head`` is not ``SEQ:HASH``.
    """
    from alignkit.store import Store

    expected: tuple[int, str] | None = None
    if expect_head is not None:
        seq, _, digest = expect_head.strip().partition(":")
        if not re.fullmatch(r"[0-9]{1,18}", seq) or not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise ConfigError(
                f"--expect-head must be SEQ:HASH as guard verify printed it, not {expect_head!r}"
            )
        expected = (int(seq), digest)
    url = resolve_store_url(store_url)
    if key is None and os.environ.get("ALIGNKIT_GUARD_LOG_KEY"):
        key = os.environ["ALIGNKIT_GUARD_LOG_KEY"].encode()
    with Store.open(url, create=False) as store:
        report = store.audit_log(key=key).verify(expect_head=expected)
    return {
        "ok": report.ok,
        "entries": report.entries,
        "first_bad": report.first_bad,
        "problem": report.problem,
        "head": report.head,
    }
