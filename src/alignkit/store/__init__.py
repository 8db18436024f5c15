"""alignkit's persistent store: runs, findings, attempts and the guard's audit log, versioned.

The store is an SQLAlchemy Core schema behind any SQLAlchemy URL (default
``sqlite:///.alignkit/alignkit.db``, chosen with ``--store`` or ``ALIGNKIT_STORE``)::

    from alignkit.store import Store, attempt_key

    with Store.open("sqlite:///.alignkit/alignkit.db") as store:
        run = store.get_run("3f2a")          # a unique prefix of the id is enough
        result = store.load_result(run.id)   # the AuditResult of a finished run
        done = store.attempts(run.id)        # stored attempts, by attempt_key
        report = store.audit_log().verify()  # the guard's hash chain, checked
        pending = store.approvals().find("pending")  # escalated agent actions

Opening refuses files that are not databases, databases that are not alignkit stores,
and stores written by a newer alignkit (:class:`~alignkit.core.SchemaVersionError`);
it migrates older stores forward after backing up the SQLite file.
"""

from alignkit.store._attempts import AttemptRecord, AttemptWriter, attempt_key, request_seed
from alignkit.store._engine import StoreBusy, store_file
from alignkit.store._governance import (
    APPROVAL_STATUSES,
    ApprovalBook,
    ApprovalRecord,
    TrafficHistory,
)
from alignkit.store._guardlog import GENESIS, AuditLog, ChainReport, LogEntry, entry_hash
from alignkit.store._owner import RunInUse
from alignkit.store._store import RUN_STATUSES, RunRecord, Store, new_run_id

__all__ = [
    "RunInUse",
    "APPROVAL_STATUSES",
    "GENESIS",
    "RUN_STATUSES",
    "ApprovalBook",
    "ApprovalRecord",
    "AttemptRecord",
    "AttemptWriter",
    "AuditLog",
    "ChainReport",
    "LogEntry",
    "RunRecord",
    "Store",
    "StoreBusy",
    "TrafficHistory",
    "attempt_key",
    "request_seed",
    "store_file",
    "entry_hash",
    "new_run_id",
]
