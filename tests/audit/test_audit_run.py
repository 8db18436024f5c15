"""``alignkit.audit.run`` end to end: real adapters, a real SQLite store, real reports."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from audit_helpers import REPO, ThreadedStub

import alignkit.audit
from alignkit.audit import Change, compare, gate
from alignkit.core import Severity
from alignkit.report import to_json, write_reports
from alignkit.store import Store

QUIZ = "python:examples.quiz_app:respond"


@pytest.fixture(autouse=True)
def _repo_cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.syspath_prepend(str(Path(__file__).parent))


def _run(tmp_path: Path, target: str = QUIZ, **kw: object) -> alignkit.audit.AuditResult:  # type: ignore[name-defined]
    return alignkit.audit.run(target, store=str(tmp_path / "s.db"), **kw)  # type: ignore[arg-type]


def test_run_stores_findings_attempts_and_renders(tmp_path: Path) -> None:
    result = _run(tmp_path, checks="capability.*", seed=1)
    metrics = {f.metric: f for f in result.findings}
    assert set(metrics) == {"capability.fact_accuracy", "capability.arithmetic_accuracy"}
    for f in metrics.values():
        assert f.run_id == result.run_id
        assert f.ci_low is not None and f.ci_high is not None
        assert f.ci_low <= f.value <= f.ci_high
        assert f.n > 100
    assert result.summary["capability-loss"].count == 2
    with Store.open(f"sqlite:///{tmp_path / 's.db'}", create=False) as st:
        assert st.get_run(result.run_id).status == "finished"
        assert st.count_attempts(result.run_id) == sum(f.n for f in result.findings)
        assert st.load_result(result.run_id).findings == result.findings
    paths = write_reports(result, tmp_path / "out")
    assert json.loads(paths["json"].read_text()) == json.loads(to_json(result))
    assert "Capability loss" in paths["html"].read_text()


def test_same_seed_same_findings_and_sampling_by_seed(tmp_path: Path) -> None:
    a = _run(tmp_path, checks="capability.facts", seed=5, max_items=40)
    b = _run(tmp_path, checks="capability.facts", seed=5, max_items=40)
    assert [f.model_dump(exclude={"run_id"}) for f in a.findings] == [
        f.model_dump(exclude={"run_id"}) for f in b.findings
    ]
    with Store.open(f"sqlite:///{tmp_path / 's.db'}", create=False) as st:
        asked_a = {r.messages[0]["content"] for r in st.attempts(a.run_id).values()}
        c = _run(tmp_path, checks="capability.facts", seed=6, max_items=40)
        asked_c = {r.messages[0]["content"] for r in st.attempts(c.run_id).values()}
    assert len(asked_a) == len(asked_c) == 40
    assert asked_a != asked_c


def test_same_seed_sends_the_same_sampling_seeds_in_every_run(tmp_path: Path) -> None:
    """The request seeds depend on the run seed and the request, never on the run id."""

    def sent(seed: int) -> dict[str, str]:
        run = _run(tmp_path, "python:audit_helpers:seed_echo", checks="capability.facts",
                   seed=seed, max_items=10)  # fmt: skip
        with Store.open(f"sqlite:///{tmp_path / 's.db'}", create=False) as st:
            rows = st.attempts(run.run_id).values()
            return {r.messages[-1]["content"]: r.completion.text for r in rows}

    first, again, other = sent(5), sent(5), sent(6)
    assert len(set(first.values())) == 10  # one seed per request
    assert first == again
    assert set(first.values()).isdisjoint(other.values())


def test_concurrency_bound_and_budget(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with ThreadedStub(latency=0.2) as stub:
        start = time.monotonic()
        result = _run(tmp_path, stub.uri, checks="capability.*", concurrency=4, budget_s=1.5)
        elapsed = time.monotonic() - start
        assert 1 < stub.server.peak_in_flight <= 4
    assert elapsed < 6
    answered = sum(f.n for f in result.findings)
    assert 0 < answered < 60  # ~1.5 s x 4 in flight / 0.2 s; far fewer than the 339 items
    # the cut is said, with the way to finish the run (findings alone only show a small n)
    (said,) = [r.getMessage() for r in caplog.records if "budget" in r.getMessage()]
    assert f"alignkit audit --resume {result.run_id}" in said and "not sent" in said
    # ... and recorded in the result, so report.json and report.html say it too
    counts = result.requests
    assert counts is not None and counts.unsent > 0 and counts.failed == 0
    assert counts.sent == answered and counts.sent + counts.unsent == 339
    assert f"{counts.unsent} not sent (budget ran out)" in (
        write_reports(result, tmp_path / "out")["html"].read_text()
    )
    assert json.loads(to_json(result))["requests"]["unsent"] == counts.unsent


def test_diff_and_gate_catch_a_real_regression(tmp_path: Path) -> None:
    base = _run(tmp_path, checks="capability.*", seed=2)
    same = _run(tmp_path, checks="capability.*", seed=2)
    worse = _run(tmp_path, "python:audit_helpers:forgetful", checks="capability.*", seed=2)
    assert gate(same, base) == []
    failed = gate(worse, base)
    assert [c.metric for c in failed] == ["capability.fact_accuracy"]
    assert failed[0].p_value is not None and failed[0].p_value < 0.05
    changes = {c.metric: c for c in compare(base, worse)}
    assert changes["capability.fact_accuracy"].change is Change.WORSE
    assert changes["capability.arithmetic_accuracy"].change is Change.SAME
    # a tolerance larger than the drop lets it through
    drop = changes["capability.fact_accuracy"].delta_worse
    assert drop is not None and gate(worse, base, max_regression=drop + 0.01) == []


def test_severity_follows_thresholds(tmp_path: Path) -> None:
    result = _run(tmp_path, checks="capability.facts")
    (f,) = result.findings
    assert f.severity is Severity.MEDIUM  # the example app knows about 69 % of the facts
    assert f.threshold == 0.75


def test_resuming_a_red_team_campaign_as_an_audit_is_refused(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from alignkit.core import ConfigError

    with Store.open(f"sqlite:///{tmp_path / 's.db'}") as st:
        st.create_run(
            "rt-1", target="organism:flawed", seed=0, config={"kind": "redteam", "attacker": None},
            alignkit_version="0", started_at=datetime.now(UTC),
        )  # fmt: skip
    with pytest.raises(ConfigError, match="alignkit redteam run --resume rt-1"):
        _run(tmp_path, resume="rt-1")


def test_resume_refuses_options_that_would_change_the_run(tmp_path: Path) -> None:
    """--resume X --max-items 7 ran with the stored 5, silently."""
    from alignkit.core import ConfigError

    first = _run(tmp_path, checks="capability.facts", max_items=5)
    with pytest.raises(ConfigError, match="--max-items 7 differs from the stored 5"):
        _run(tmp_path, resume=first.run_id, max_items=7)
    with pytest.raises(ConfigError, match="--checks"):
        _run(tmp_path, resume=first.run_id, checks="sycophancy")
    with pytest.raises(ConfigError, match="nothing to resume"):  # finished, nothing failed
        _run(tmp_path, resume=first.run_id, max_items=5, concurrency=2, budget_s=60)


def test_resume_sends_failed_requests_again_and_refuses_a_changed_pack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An outage's errors were replayed on every resume; a pack edited since was mixed in."""
    from alignkit.core import ConfigError

    outage = tmp_path / "outage"
    outage.touch()
    monkeypatch.setenv("ALIGNKIT_TEST_OUTAGE", str(outage))
    pack = tmp_path / "pack"
    pack.mkdir()
    rows = [
        {"id": f"f{i}", "question": f"What is the capital of {c}?", "answer": a}
        for i, (c, a) in enumerate([("France", "Paris"), ("Japan", "Tokyo"), ("Spain", "Madrid")])
    ]
    rows.append({"id": "f9", "question": "What is the chemical symbol for gold?", "answer": "Au"})
    (pack / "facts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    target = "python:audit_helpers:flaky"
    first = _run(tmp_path, target, checks="capability.facts", data=pack)
    (during,) = first.findings
    assert during.n == 1  # the three capital questions failed: errors, not behaviour
    assert first.requests is not None
    assert (first.requests.sent, first.requests.failed, first.requests.reused) == (4, 3, 0)
    outage.unlink()
    after = _run(tmp_path, target, resume=first.run_id)
    (fact,) = after.findings
    assert fact.n == 4 and fact.value == 1.0  # all four sent again and answered
    assert after.requests is not None
    assert (after.requests.sent, after.requests.failed, after.requests.reused) == (3, 0, 1)
    with Store.open(f"sqlite:///{tmp_path / 's.db'}") as st:
        attempts = st.attempts(first.run_id).values()
        assert len(attempts) == 4 and all(a.completion.ok for a in attempts)
    # a later edit of the pack: the stored run cannot be continued on other items
    outage.touch()
    second = _run(tmp_path, target, checks="capability.facts", data=pack)
    (pack / "facts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:2]))
    outage.unlink()
    with pytest.raises(ConfigError, match="changed since the run started"):
        _run(tmp_path, target, resume=second.run_id)


def test_credentials_in_the_target_uri_never_reach_reports_or_the_store(tmp_path: Path) -> None:
    """`openai:http://user:pw@host/v1?api-key=…` was written verbatim into every report."""
    with ThreadedStub(latency=0.0) as stub:
        secret_uri = stub.uri.replace("http://", "http://user:PASSW0RD@").replace(
            "/v1#", "/v1?api-key=SECRET123#"
        )
        result = _run(tmp_path, secret_uri, checks="capability.facts", max_items=3)
    assert result.findings and "PASSW0RD" not in result.target and "SECRET123" not in result.target
    assert result.target.startswith("openai:http://***@127.0.0.1:")
    write_reports(result, tmp_path / "out")
    for name in ("report.json", "report.html", "junit.xml"):
        text = (tmp_path / "out" / name).read_text()
        assert "PASSW0RD" not in text and "SECRET123" not in text, name
    for db in tmp_path.glob("s.db*"):  # the database and its write-ahead log
        raw = db.read_bytes()
        assert b"PASSW0RD" not in raw and b"SECRET123" not in raw, db.name
    # a resume must bring the secrets back: without them it sent "api-key=***" each time
    from alignkit.core import ConfigError

    with pytest.raises(ConfigError, match="carried credentials, which are not stored"):
        _run(tmp_path, None, resume=result.run_id)  # type: ignore[arg-type]
    with ThreadedStub(latency=0.0) as stub:  # user:password@ alone is asked for again too
        only_user = _run(tmp_path, stub.uri.replace("http://", "http://user:PASSW0RD@"),
                         checks="capability.facts", max_items=3)  # fmt: skip
    with pytest.raises(ConfigError, match="carried credentials, which are not stored"):
        _run(tmp_path, None, resume=only_user.run_id)  # type: ignore[arg-type]
    other = secret_uri.replace("127.0.0.1", "localhost")
    with pytest.raises(ConfigError, match="differs from the stored") as err:
        _run(tmp_path, other, resume=result.run_id)
    assert "PASSW0RD" not in str(err.value) and "SECRET123" not in str(err.value)


def test_a_run_stopped_by_its_budget_can_be_resumed(tmp_path: Path) -> None:
    """The cut said 'continue with --resume', and the resume said 'nothing to resume'."""
    with ThreadedStub(latency=0.05) as stub:
        cut = _run(tmp_path, stub.uri, checks="capability.facts", max_items=40, concurrency=1,
                   budget_s=0.5)  # fmt: skip
        assert cut.requests is not None and cut.requests.unsent > 0
        notes = [e.note for f in cut.findings for e in f.evidence]  # not "N error"
        assert any(f"{cut.requests.unsent} not sent, budget ran out" in n for n in notes)
        done = _run(tmp_path, stub.uri, resume=cut.run_id, budget_s=60)
    assert done.requests is not None and done.requests.unsent == 0
    assert done.requests.reused == cut.requests.sent
    assert done.requests.sent == cut.requests.unsent
    (fact,) = done.findings
    assert fact.n == 40


def test_an_answer_with_a_lone_surrogate_is_stored_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One such string from an app aborted the whole audit (exit 2) when it was stored."""
    (tmp_path / "surrogate_app.py").write_text(
        "def respond(messages):\n    return 'Paris \\ud800 lone'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    result = _run(tmp_path, "python:surrogate_app:respond", checks="capability.facts",
                  max_items=5)  # fmt: skip
    (fact,) = result.findings
    assert fact.n == 5
    with Store.open(f"sqlite:///{tmp_path / 's.db'}", create=False) as st:
        texts = {a.completion.text for a in st.attempts(result.run_id).values()}
    assert texts == {"Paris \ufffd lone"}


def test_python_callers_get_alignkit_errors_and_lists_of_checks(tmp_path: Path) -> None:
    """target=5 and checks=[...] raised AttributeError from deep inside."""
    from alignkit.core import ConfigError

    with pytest.raises(ConfigError, match="target must be a URI string, not int"):
        _run(tmp_path, 5, checks="capability.facts")  # type: ignore[arg-type]
    result = _run(tmp_path, checks=["capability.facts"], max_items=3)
    assert result.checks_run == ["capability.facts"]
    with pytest.raises(ConfigError, match="fail_on 'severe'"):
        write_reports(result, tmp_path / "o", fail_on="severe")  # type: ignore[arg-type]
    assert not (tmp_path / "o").exists()
    # config= as the CLI's --config takes it, a file path: AttributeError 'str' ... 'audit'
    cfg = tmp_path / "team.yaml"
    cfg.write_text("audit:\n  max_items: 2\n  seed: 7\n")
    assert _run(tmp_path, checks="capability.facts", config=str(cfg)).seed == 7
    with pytest.raises(ConfigError, match="config must be a path or an AlignkitConfig, not int"):
        _run(tmp_path, checks="capability.facts", config=5)  # type: ignore[arg-type]


def test_run_works_under_a_running_event_loop(tmp_path: Path) -> None:
    """In a notebook (a running loop) run() failed with asyncio.run's RuntimeError."""
    import asyncio

    async def notebook_cell() -> alignkit.audit.AuditResult:  # type: ignore[name-defined]
        return _run(tmp_path, checks="capability.facts", max_items=3)

    result = asyncio.run(notebook_cell())
    assert [f.metric for f in result.findings] == ["capability.fact_accuracy"]
    assert result.findings[0].n == 3
