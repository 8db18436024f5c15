"""DESIGN §4 / issue 13: attempts survive SIGKILL, and ``--resume`` re-sends none of them."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from audit_helpers import ThreadedStub

from alignkit.store import Store

ARGS = ["--checks", "capability.*", "--max-items", "100", "--concurrency", "4", "--seed", "11"]


def _audit(
    *args: str, tmp: Path, log: str = "ERROR", ignore_sigint: bool = False
) -> subprocess.Popen[str]:
    env = {**os.environ, "ALIGNKIT_LOG": log}
    return subprocess.Popen(
        [sys.executable, "-m", "alignkit", "audit", *args, "--json"],
        cwd=tmp,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as a script's background job starts: SIGINT ignored
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        if ignore_sigint
        else None,
    )


def _findings(db: Path, run_id: str) -> set[tuple[object, ...]]:
    with Store.open(f"sqlite:///{db}", create=False) as st:
        return {
            (f.check, f.metric, round(f.value, 9), f.n, f.ci_low, f.ci_high)
            for f in st.findings(run_id)
        }


@pytest.mark.slow  # 15 s; `make test` stays under 10 minutes on 2 cores (pytest --runslow)
def test_sigkill_then_resume_loses_nothing_and_resends_nothing(tmp_path: Path) -> None:
    db = tmp_path / "killed.db"
    with ThreadedStub(latency=0.25) as stub:
        proc = _audit("--target", stub.uri, *ARGS, "--store", str(db), "--out", "r1", tmp=tmp_path)
        deadline = time.monotonic() + 60
        while not stub.log and time.monotonic() < deadline:  # wait for the first answer
            time.sleep(0.05)
        time.sleep(random.uniform(2.5, 4.5))
        kill_time = time.time()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        answered_early = {p for t, p in stub.log if t + stub.server.latency < kill_time - 1.0}
        assert len(answered_early) >= 10, "the run should have been killed mid-way"

        with Store.open(f"sqlite:///{db}", create=False) as st:
            (run,) = st.list_runs()
            stored = st.attempts(run.id)
        stored_prompts = {rec.messages[-1]["content"] for rec in stored.values()}
        kept = len(answered_early & stored_prompts) / len(answered_early)
        assert kept >= 0.95, (
            f"only {kept:.1%} of attempts answered >1 s before the kill were stored"
        )

        stub.clear()
        stub.server.latency = 0.01
        resumed = _audit("--resume", run.id[:15], "--store", str(db), "--out", "r2", tmp=tmp_path)
        _, err = resumed.communicate(timeout=120)
        assert resumed.returncode == 0, err
        resent = set(stub.prompts())
        assert not (resent & stored_prompts), "resume re-sent attempts that were already stored"
        with Store.open(f"sqlite:///{db}", create=False) as st:
            assert st.get_run(run.id).status == "finished"
            assert st.count_attempts(run.id) == len(stored) + len(resent)

        fresh_db = tmp_path / "fresh.db"
        full = _audit(
            "--target", stub.uri, *ARGS, "--store", str(fresh_db), "--out", "r3", tmp=tmp_path
        )
        _, err = full.communicate(timeout=120)
        assert full.returncode == 0, err
    with Store.open(f"sqlite:///{fresh_db}", create=False) as st:
        (fresh_run,) = st.list_runs()
    assert _findings(db, run.id) == _findings(fresh_db, fresh_run.id)
    assert len(_findings(db, run.id)) == 2


@pytest.mark.parametrize("ignore_sigint", [False, True])
def test_sigterm_marks_the_run_failed_and_says_how_to_resume(
    tmp_path: Path, ignore_sigint: bool
) -> None:
    """SIGTERM (timeout, a cancelled CI job) left the run "running" forever, with no word.

    Started with SIGINT ignored (a background job), SIGTERM did nothing at all.
    """
    db = tmp_path / "term.db"
    with ThreadedStub(latency=0.25) as stub:
        proc = _audit(
            "--target", stub.uri, *ARGS, "--store", str(db), "--out", "r1", tmp=tmp_path,
            log="WARNING", ignore_sigint=ignore_sigint,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not stub.log and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    with Store.open(f"sqlite:///{db}", create=False) as st:
        (run,) = st.list_runs()
        assert run.status == "failed"
    assert f"alignkit audit --resume {run.id}" in err and "Traceback" not in err
    assert err.rstrip().endswith("terminated")


def _stop_between_writes(proc: subprocess.Popen[str], db: Path) -> None:
    """SIGSTOP ``proc`` at a moment it holds no write lock on ``db`` (else others wait)."""
    for _ in range(100):
        proc.send_signal(signal.SIGSTOP)
        con = sqlite3.connect(db, timeout=0.05)
        try:
            con.execute("BEGIN IMMEDIATE")
            con.rollback()
            return
        except sqlite3.OperationalError:  # stopped inside a transaction: let it finish
            proc.send_signal(signal.SIGCONT)
            time.sleep(0.02)
        finally:
            con.close()
    raise AssertionError("the store stayed locked")


def test_a_run_still_running_cannot_be_resumed_twice(tmp_path: Path) -> None:
    """A resume beside the live run sent the same requests twice."""
    db = tmp_path / "live.db"

    def errors(run_id: str) -> int:
        with Store.open(f"sqlite:///{db}", create=False) as st:
            return sum(not a.completion.ok for a in st.attempts(run_id).values())

    with ThreadedStub(latency=0.25, error_rate=0.9) as stub:  # some fail after retries
        proc = _audit("--target", stub.uri, *ARGS, "--store", str(db), "--out", "r1", tmp=tmp_path)
        deadline = time.monotonic() + 60
        while len(stub.log) < 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(stub.log) >= 8, "the audit sent fewer than 8 requests in 60 s"
        time.sleep(1.0)
        with Store.open(f"sqlite:///{db}", create=False) as st:
            (run,) = st.list_runs()
        try:
            _stop_between_writes(proc, db)  # alive, but writing nothing while we look
            failed_before = errors(run.id)
            for _ in range(2):  # a refused resume marked the live run failed: the next went in
                second = _audit("--resume", run.id, "--store", str(db), "--out", "r2",
                                tmp=tmp_path)  # fmt: skip
                _, err = second.communicate(timeout=60)
                assert second.returncode == 2, err
                assert f"still running in process {proc.pid}" in err, err
            with Store.open(f"sqlite:///{db}", create=False) as st:
                assert st.get_run(run.id).status == "running"
            assert failed_before > 0 and errors(run.id) == failed_before  # they were deleted
        finally:
            proc.send_signal(signal.SIGCONT)
            proc.send_signal(signal.SIGKILL)  # a dead owner no longer holds the run
            proc.wait(10)
        third = _audit("--resume", run.id, "--budget", "2", "--store", str(db), "--out", "r3",
                       tmp=tmp_path)  # fmt: skip
        _, err = third.communicate(timeout=60)
        assert third.returncode in (0, 1) and "still running" not in err, err  # taken over
