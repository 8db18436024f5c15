"""How the audit log's entries are chained, and the recorded head of the chain.

Entry ``n``'s hash is ``H(f"{n}|{created_at}|{prev_hash}|{entry}")``, ``H`` SHA-256 or,
under a key, HMAC-SHA256. The newest ``seq:hash`` is kept in the meta table; under a key
it carries its own MAC, so that someone who can write the database but has not the key
cannot cut entries off the end and write the head of the shorter chain. They can still
put back a head the log had earlier (one they copied then): only a head kept elsewhere
(``guard verify --expect-head``) catches that.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from sqlalchemy import Connection, select

from alignkit.store._schema import META

__all__ = ["GENESIS", "HEAD_KEY", "ChainReport", "check_head", "entry_hash", "head_value"]

GENESIS = "0" * 64
HEAD_KEY = "guard_log.head"


@dataclass(frozen=True)
class ChainReport:
    """What :meth:`AuditLog.verify` found.

    Attributes:
        ok: Whether the whole chain is intact.
        entries: Entries checked.
        first_bad: ``seq`` of the first bad entry (``None`` when intact).
        problem: One line saying what is wrong with it.
        head: ``seq:hash`` of the newest entry of an intact chain ("" when empty): keep
            it elsewhere and pass it as ``expect_head`` later to catch a rewritten end.
    """

    ok: bool
    entries: int
    first_bad: int | None = None
    problem: str = ""
    head: str = ""


def entry_hash(seq: int, created_at: str, prev_hash: str, entry: str, key: bytes | None) -> str:
    """The hash that links entry ``seq`` into the chain (hex)."""
    data = f"{seq}|{created_at}|{prev_hash}|{entry}".encode()
    if key:
        return hmac.new(key, data, hashlib.sha256).hexdigest()
    return hashlib.sha256(data).hexdigest()


def _head_mac(seq: int, digest: str, key: bytes) -> str:
    return hmac.new(key, f"head|{seq}|{digest}".encode(), hashlib.sha256).hexdigest()


def head_value(seq: int, digest: str, key: bytes | None) -> str:
    """The meta table's record of the newest entry: ``seq:hash``, ``:mac`` under a key."""
    return f"{seq}:{digest}:{_head_mac(seq, digest, key)}" if key else f"{seq}:{digest}"


def check_head(
    conn: Connection, last: int, digest: str, n: int, key: bytes | None
) -> ChainReport | None:
    """A failed report when the recorded head disagrees with the chain's end, else ``None``."""
    raw = conn.execute(select(META.c.value).where(META.c.key == HEAD_KEY)).scalar()
    if raw is None:
        if last == 0:
            return None
        return ChainReport(
            False,
            n,
            last,
            f"the recorded head of the chain is missing (entries after {last} may have been cut)",
        )
    seq_text, _, rest = str(raw).partition(":")
    head_hash, _, mac = rest.partition(":")
    if not re.fullmatch(r"[0-9]{1,18}", seq_text) or len(head_hash) != len(digest):
        return ChainReport(
            False, n, last, f"the chain's recorded head is unreadable ({str(raw)[:40]!r})"
        )
    seq = int(seq_text)
    if seq > last:
        return ChainReport(
            False, n, last + 1, f"entries {last + 1}..{seq} are missing from the end"
        )
    if seq != last or head_hash != digest:
        return ChainReport(
            False, n, seq, f"the chain's recorded head ({seq}) does not match entry {last}"
        )
    if key and not (mac.isascii() and hmac.compare_digest(mac, _head_mac(seq, digest, key))):
        return ChainReport(
            False,
            n,
            last + 1,
            "the chain's recorded head is not signed with the log's key: it was rewritten"
            " (entries may have been cut off the end) or written by an older alignkit",
        )
    return None
