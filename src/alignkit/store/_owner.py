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

__all__ = ["claim", "release"]


def _key(run_id: str) -> str:
    return f"owner:{run_id}"[:64]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def claim(conn: Connection, run_id: str) -> None:
    """Record this process as the run's owner, in the caller's write transaction.

    Raises:
        ConfigError: Another live process on this host owns the run.
    """
    raw = conn.execute(select(META.c.value).where(META.c.key == _key(run_id))).scalar()
    host = socket.gethostname()
    if raw is not None:
        try:
            owner = json.loads(raw)
            theirs, pid = str(owner["host"]), int(owner["pid"])
        except (ValueError, KeyError, TypeError):
            theirs, pid = "", 0
        if theirs == host and pid != os.getpid() and pid > 0 and _alive(pid):
            raise ConfigError(
                f"run {run_id} is still running in process {pid}; wait for it or stop it"
                " before resuming (resuming now would send its requests twice)"
            )
        conn.execute(delete(META).where(META.c.key == _key(run_id)))
    owner_json = json.dumps({"host": host, "pid": os.getpid()})
    conn.execute(insert(META).values(key=_key(run_id), value=owner_json))


def release(conn: Connection, run_id: str) -> None:
    """Forget the run's owner (it finished, failed or was interrupted)."""
    conn.execute(delete(META).where(META.c.key == _key(run_id)))
