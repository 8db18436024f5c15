"""Which process is writing a run: a resume must not send a live run's requests again.

The owner (host and process id) sits in ``alignkit_meta`` under ``owner:RUN`` while the
run is running; a run whose owner is alive on this host cannot be taken over. An owner on
another host cannot be checked and is taken over (a store shared between machines).
"""

from __future__ import annotations

import json
import os
import socket

from sqlalchemy import Connection, delete, insert, select

from alignkit.core import ConfigError
from alignkit.store._schema import META

__all__ = ["RunInUse", "claim", "other_owner", "release"]


class RunInUse(ConfigError):
    """The run is being written by another live process (nothing about it was changed)."""


def _key(run_id: str) -> str:
    return f"owner:{run_id}"[:64]


def _boot_id() -> str:
    try:  # Linux: changes at every boot, so an owner from before a reboot is stale
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def _started(pid: int) -> str:
    """When process ``pid`` started (clock ticks since boot); ``""`` where unknown.

    A process id is reused after its process ends: the start time tells them apart.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _me() -> dict[str, object]:
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "boot": _boot_id(), "start": _started(pid)}


def _live(owner: dict[str, object]) -> int | None:
    """The owner's process id if it is a live process on this machine, else ``None``."""
    me = _me()
    try:
        pid = int(str(owner["pid"]))
    except (KeyError, ValueError):
        return None
    if owner.get("host") != me["host"] or pid == me["pid"] or pid <= 0 or not _alive(pid):
        return None
    for key, now in (("boot", me["boot"]), ("start", _started(pid))):
        if owner.get(key) and now and owner[key] != now:
            return None  # rebooted since, or the id now belongs to another process
    return pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def other_owner(conn: Connection, run_id: str) -> int | None:
    """The process id of another live process on this host that owns the run, or ``None``."""
    raw = conn.execute(select(META.c.value).where(META.c.key == _key(run_id))).scalar()
    if raw is None:
        return None
    try:
        owner = json.loads(raw)
    except ValueError:
        return None
    return _live(owner) if isinstance(owner, dict) else None


def claim(conn: Connection, run_id: str) -> None:
    """Record this process as the run's owner, in the caller's write transaction.

    Raises:
        RunInUse: Another live process on this host owns the run.
    """
    pid = other_owner(conn, run_id)
    if pid is not None:
        raise RunInUse(
            f"run {run_id} is still running in process {pid}; wait for it or stop it"
            " before resuming (resuming now would send its requests twice)"
        )
    conn.execute(delete(META).where(META.c.key == _key(run_id)))
    conn.execute(insert(META).values(key=_key(run_id), value=json.dumps(_me())))


def release(conn: Connection, run_id: str) -> None:
    """Forget the run's owner (it finished, failed or was interrupted)."""
    conn.execute(delete(META).where(META.c.key == _key(run_id)))
