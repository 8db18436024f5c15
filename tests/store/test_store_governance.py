"""Schema v3 for real: the approval table and traffic findings, and a v2 store migrating to it."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alignkit.core import Direction, Finding, Severity, StoreError
from alignkit.store import ApprovalRecord, Store, _migrations
from alignkit.store._migrations import latest_version


def record(approval_id: str, *, expires_in: float = 60.0) -> ApprovalRecord:
    now = datetime.now(UTC)
    return ApprovalRecord(
        id=approval_id, created_at=now, expires_at=now + timedelta(seconds=expires_in),
        status="pending", kind="action", subject="edit_file", rule="edit-ci",
        reason="CI decides", request_id="r1", request={"tool": "edit_file", "arguments": {}},
    )  # fmt: skip


def test_two_approvers_racing_on_one_approval_cannot_both_win(store_url: str) -> None:
    with Store.open(store_url) as store:
        book = store.approvals()
        book.add(record("apr_1"))
        results: list[bool] = []

        def decide(approve: bool, who: str) -> None:
            other = Store.open(store_url)  # another connection pool, as another process would
            try:
                changed, _ = other.approvals().decide(
                    "apr_1", "approved" if approve else "denied", who, "", datetime.now(UTC)
                )
                results.append(changed)
            finally:
                other.close()

        threads = [threading.Thread(target=decide, args=(i % 2 == 0, f"p{i}")) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [False] * 5 + [True]
        final = book.get("apr_1")
        assert final.status in ("approved", "denied") and final.decided_by is not None
        with pytest.raises(StoreError, match="no approval 'apr_x'"):
            book.get("apr_x")


def test_expiry_moves_only_due_pending_approvals(store_url: str) -> None:
    with Store.open(store_url) as store:
        book = store.approvals()
        book.add(record("due", expires_in=-1))
        book.add(record("later"))
        moved = book.expire_due(datetime.now(UTC))
        assert [r.id for r in moved] == ["due"] and moved[0].decided_by == "timeout"
        assert book.expire_due(datetime.now(UTC)) == []
        changed, after = book.decide("due", "approved", "alice", "", datetime.now(UTC))
        assert not changed and after.status == "expired"
        assert [r.id for r in book.find("pending")] == ["later"]


def test_traffic_history_round_trips_findings(store_url: str) -> None:
    f = Finding(check="monitor.traffic", failure_mode="distribution-shift",
                severity=Severity.MEDIUM, metric="traffic.input_script_psi", value=0.14,
                direction=Direction.HIGHER_IS_WORSE, n=500)  # fmt: skip
    with Store.open(store_url) as store:
        history = store.traffic()
        at = datetime.now(UTC)
        history.add([f, f.model_copy(update={"metric": "traffic.block_rate_z", "value": 1.0})],
                    requests=2500, at=at)  # fmt: skip
        rows = history.read(metrics=["traffic.input_script_psi"])
    assert rows == [(at, 2500, f)]


def test_a_v2_store_migrates_to_v3_with_a_backup(
    db_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert latest_version() == 3
    with monkeypatch.context() as patch:
        patch.setattr(_migrations, "MIGRATIONS", _migrations.MIGRATIONS[:1])
        with Store.open(store_url) as store:
            assert store.schema_version == 2
            log = store.audit_log()
            log.append({"kind": "request", "request_id": "before-v3"})
            log.flush()
    con = sqlite3.connect(db_path)
    con.execute("DROP TABLE approvals")
    con.execute("DROP TABLE traffic_findings")
    con.commit()
    con.close()
    with Store.open(store_url) as store:
        assert store.schema_version == 3
        assert store.audit_log().verify().ok and store.audit_log().count() == 1
        store.approvals().add(record("apr_after"))
        assert store.approvals().get("apr_after").status == "pending"
    backup = db_path.with_name(db_path.name + ".bak-v2")
    con = sqlite3.connect(backup)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        version = con.execute(
            "SELECT value FROM alignkit_meta WHERE key = 'schema_version'"
        ).fetchone()[0]
    finally:
        con.close()
    assert version == "2" and "approvals" not in tables and "guard_log" in tables
