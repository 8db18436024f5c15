"""Tool-call governance over HTTP: the real server on 127.0.0.1, a real store, a real client."""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from alignkit.core import TargetError
from alignkit.guard import ActionBlocked, ActionClient, GuardServer, governed
from alignkit.store import Store

pytestmark = pytest.mark.network
TOKEN = "admin-token-for-tests"
CONFIG: dict[str, Any] = {"approvals": {"timeout_s": 2.0}, "traffic": {"enabled": False}}


@pytest.fixture
def target(tmp_path: Path) -> str:
    app = tmp_path / "app.py"
    app.write_text("def respond(messages):\n    return 'ok'\n", encoding="utf-8")
    return f"python:{app}:respond"


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'serve.db'}"


@pytest.fixture
def server(target: str, store_url: str) -> Iterator[GuardServer]:
    with GuardServer(target, CONFIG, store_url=store_url, admin_token=TOKEN) as srv:
        yield srv


def call(url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    data = (
        None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    )
    req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def base(srv: GuardServer) -> str:
    return srv.url.removesuffix("/v1")


def test_check_allow_block_and_pending(server: GuardServer) -> None:
    url = base(server) + "/v1/actions/check"
    status, doc = call(url, {"tool": "read_file", "arguments": {"path": "src/a.py"}})
    assert status == 200 and doc["decision"] == "allow" and doc["rule"] == "default"
    status, doc = call(url, {"tool": "delete_file", "arguments": {"path": "tests/test_a.py"}})
    assert (doc["decision"], doc["rule"]) == ("block", "delete-tests")
    status, doc = call(url, {"tool": "bash", "arguments": {"command": "rm -rf dist"}})
    assert doc["decision"] == "pending" and doc["approval_id"].startswith("apr_")
    assert set(doc) >= {"decision", "rule", "reason", "approval_id"}


def test_approve_through_the_admin_api_and_poll(server: GuardServer, store_url: str) -> None:
    root = base(server)
    body = {"tool": "edit_file", "arguments": {"path": ".github/workflows/ci.yml"},
            "context": {"user": "a1"}}  # fmt: skip
    _, pending = call(root + "/v1/actions/check", body)
    aid = pending["approval_id"]
    approve = f"{root}/admin/approvals/{aid}/approve"
    assert call(approve, {"by": "alice"})[0] == 401
    assert call(approve, {"by": "alice"}, "wrong")[0] == 401
    status, listed = call(root + "/admin/approvals?status=pending", token=TOKEN)
    assert status == 200 and [a["id"] for a in listed["approvals"]] == [aid]
    assert listed["total"] == 1  # the page shows "200 of N" from it
    assert listed["approvals"][0]["request"]["arguments"]["path"] == ".github/workflows/ci.yml"

    def later() -> None:
        time.sleep(0.1)  # the poll below is waiting by then
        call(approve, {"by": "alice", "note": "reviewed"}, TOKEN)

    approver = threading.Thread(target=later)
    approver.start()
    status, final = call(f"{root}/v1/actions/approvals/{aid}?wait=10")
    approver.join()
    assert status == 200 and final["decision"] == "allow" and final["decided_by"] == "alice"
    status, again = call(f"{root}/admin/approvals/{aid}/deny", {"by": "bob"}, TOKEN)
    assert status == 409 and "already approved" in again["error"]["message"]
    assert call(f"{root}/v1/actions/approvals/apr_nope")[0] == 404
    assert call(f"{root}/admin/approvals/apr_nope/approve", {}, TOKEN)[0] == 404
    server.stop()
    with Store.open(store_url) as store:
        log = store.audit_log()
        assert log.verify().ok
        kinds = [(e["kind"], e.get("event")) for e in map(json.loads, (x.entry for x in
                                                                      log.entries()))]  # fmt: skip
    assert kinds == [("approval", "requested"), ("action", None), ("approval", "approved")]


def test_an_undecided_approval_expires_by_itself(server: GuardServer, store_url: str) -> None:
    root = base(server)
    body = {"tool": "bash", "arguments": {"command": "git reset --hard"}}
    _, pending = call(root + "/v1/actions/check", body)
    time.sleep(3.0)  # nobody polls: the server's housekeeping expires it
    # read the store itself first: the routes below expire a due approval on their own
    with Store.open(store_url) as store:
        assert [a.id for a in store.approvals().find("expired")] == [pending["approval_id"]]
    status, listed = call(root + "/admin/approvals?status=expired", token=TOKEN)
    assert [a["id"] for a in listed["approvals"]] == [pending["approval_id"]]
    _, final = call(f"{root}/v1/actions/approvals/{pending['approval_id']}")
    assert final["decision"] == "block" and final["status"] == "expired"
    _, metrics = 200, urllib.request.urlopen(root + "/metrics", timeout=10).read().decode()
    assert 'alignkit_guard_actions_total{decision="pending",rule="git-discard"} 1' in metrics
    assert 'alignkit_guard_approvals_total{status="expired"} 1' in metrics


def test_client_and_decorator_against_the_server(server: GuardServer) -> None:
    client = ActionClient(server.url, context={"user": "remote-agent"})
    ran: list[str] = []

    @governed(client)
    def write_file(path: str, content: str) -> None:
        ran.append(path)

    write_file("src/a.py", "x = 1\n")
    with pytest.raises(ActionBlocked, match="empty-tests"):
        write_file("tests/test_a.py", "")
    with pytest.raises(ActionBlocked, match="expired by timeout"):
        write_file("conftest.py", "collect_ignore = ['tests']")  # nobody approves: 2 s
    assert ran == ["src/a.py"]


def _junk(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["str", "int", "float", "bool", "none", "list", "dict"][: 7 if depth < 3 else 5]
    kind = rng.choice(kinds)
    if kind == "str":
        return rng.choice(["", "tool", "x" * rng.randint(0, 300), "ü\u0000", "tests/a.py"])
    if kind == "int":
        return rng.choice([0, -1, 10**40, 7])
    if kind == "float":
        return rng.choice([0.5, -3.2, 1e308])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "none":
        return None
    if kind == "list":
        return [_junk(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    keys = ["tool", "arguments", "context", "path", "command", "user", "args"]
    return {rng.choice(keys): _junk(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def test_malformed_check_bodies_get_a_clear_4xx_never_a_5xx(server: GuardServer) -> None:
    url = base(server) + "/v1/actions/check"
    fixed = [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"arguments": {}}', "'tool' must be"),
        (b'{"tool": ""}', "'tool' must be"),
        (b'{"tool": "x", "arguments": [1]}', "'arguments' must be an object"),
        (b'{"tool": "x", "context": "me"}', "'context' must be an object"),
        (b'{"tool": "x", "args": {}}', "unknown field 'args'"),
        (b'{"tool": "' + b"t" * 300 + b'"}', "at most 200"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"tool": "\xff"}', "not valid JSON"),
        # NaN passed every spending limit (NaN > 20 is false)
        (b'{"tool": "buy", "arguments": {"dollars": NaN}}', "NaN is not a JSON value"),
        # a lone surrogate reached the store, which cannot write it: a 500
        (b'{"tool": "edit_file\\ud800", "arguments": {}}', "lone surrogate"),
        (
            b'{"tool": "edit_file", "arguments": {"path": ".github/ci\\udc00.yml"}}',
            "lone surrogate",
        ),
    ]
    for body, message in fixed:
        status, doc = call(url, body)
        assert status == 400 and message in doc["error"]["message"], (body[:40], doc)
        assert "\n" not in doc["error"]["message"]
    status, doc = call(url, b'{"tool": "x", "arguments": {"a": "' + b"y" * (1 << 20) + b'"}}')
    assert status == 413 and "larger than" in doc["error"]["message"]
    rng = random.Random(7)
    seen = set()
    for _ in range(200):
        body = _junk(rng)
        if rng.random() < 0.5:
            body = {"tool": rng.choice(["bash", "delete_file", 5]), "arguments": _junk(rng, 1)}
        status, doc = call(url, json.dumps(body).encode())
        seen.add(status)
        assert status in (200, 400), (status, doc, body)
        if status == 400:
            assert doc["error"]["message"] and "\n" not in doc["error"]["message"]
    assert seen == {200, 400}
    status, doc = call(base(server) + "/v1/actions/approvals/apr_x?wait=soon")
    assert status == 400 and doc["error"]["param"] == "wait"


def test_admin_answers_are_not_cached_and_the_scheme_is_case_insensitive(
    server: GuardServer,
) -> None:
    """`bearer TOKEN` got 401; admin JSON with agents' arguments had no no-store."""
    url = base(server) + "/admin/approvals?status=pending"
    for scheme in ("bearer", "BEARER"):
        req = urllib.request.Request(url, headers={"Authorization": f"{scheme} {TOKEN}"})
        with urllib.request.urlopen(req, timeout=15) as resp:
            assert resp.status == 200
            assert resp.headers["Cache-Control"] == "no-store"
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer  {TOKEN}"})
    with pytest.raises(urllib.error.HTTPError) as padded:
        urllib.request.urlopen(req, timeout=15)
    assert padded.value.code == 401


def test_stopping_does_not_wait_out_a_long_poll(target: str, store_url: str) -> None:
    """Ctrl-C on `alignkit serve` took 28 s while an agent waited on an approval."""
    config = {"approvals": {"timeout_s": 120.0}, "traffic": {"enabled": False}}
    with GuardServer(target, config, store_url=store_url, admin_token=TOKEN) as srv:
        root = base(srv)
        body = {"tool": "bash", "arguments": {"command": "rm -rf dist"}}
        _, pending = call(root + "/v1/actions/check", body)
        url = f"{root}/v1/actions/approvals/{pending['approval_id']}?wait=60"

        def poll() -> None:
            try:
                call(url)
            except (OSError, ValueError):  # the server went away: expected
                pass

        waiter = threading.Thread(target=poll, daemon=True)
        waiter.start()
        time.sleep(0.5)
        started = time.perf_counter()
        srv.stop()
        took = time.perf_counter() - started
    assert took < 10, took


def test_stopping_lets_an_answer_in_flight_finish(tmp_path: Path, store_url: str) -> None:
    """A short shutdown grace cut 6-second completions with a 500."""
    app, started = tmp_path / "slow.py", tmp_path / "started"
    app.write_text(f"import pathlib, time\ndef respond(messages):\n"
                   f"    pathlib.Path({str(started)!r}).touch()\n"
                   f"    time.sleep(2)\n    return 'done'\n")  # fmt: skip
    with GuardServer(f"python:{app}:respond", CONFIG, store_url=store_url) as srv:
        answers: list[Any] = []
        asker = _ask_in_background(srv, "hi", answers)
        _wait_for(started.exists)  # the answer is in flight
        srv.stop()
        asker.join(10)
    status, doc = answers[0]
    assert status == 200 and doc["choices"][0]["message"]["content"] == "done"


def _wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _ask_in_background(srv: GuardServer, content: str, answers: list[Any]) -> threading.Thread:
    """A chat request sent from a thread; its (status, body) lands in ``answers``."""

    def ask() -> None:
        body = {"model": "m", "messages": [{"role": "user", "content": content}]}
        answers.append(call(srv.url + "/chat/completions", body))

    asker = threading.Thread(target=ask)
    asker.start()
    return asker


def test_stopping_ends_a_chat_waiting_on_an_escalation(target: str, store_url: str) -> None:
    """It held the shutdown for the whole grace, then failed against a closed store."""
    config = {"input": [{"rail": "keywords", "words": ["wire money"], "action": "escalate"}],
              "approvals": {"timeout_s": 120.0, "chat_timeout_s": 120.0},
              "traffic": {"enabled": False}}  # fmt: skip
    answers: list[Any] = []
    with GuardServer(target, config, store_url=store_url) as srv:
        asker = _ask_in_background(srv, "wire money now", answers)
        queue = srv.guard.approvals
        assert queue is not None
        _wait_for(lambda: bool(queue.find("pending")))  # the chat waits on its approval
        started = time.perf_counter()
        srv.stop()
        took = time.perf_counter() - started
        asker.join(10)
    assert took < 10, took
    status, doc = answers[0]
    assert status == 200 and doc["alignkit"]["decision"] == "block"  # undecided: denied
    assert doc["alignkit"]["reason"].count("wire money") == 1  # the reason was said twice
    with Store.open(store_url) as store:
        assert store.audit_log().verify().ok
        # closed with the request: it stayed pending, and approving it after a restart
        # logged "allow" for a request that had been refused
        (record,) = store.approvals().find()
        assert record.status == "denied" and record.decided_by == "alignkit"


def test_an_escalation_waiting_for_a_locked_store_stalls_no_other_request(
    server: GuardServer, store_url: str, tmp_path: Path
) -> None:
    """With another process holding the store's lock, an escalated tool call wrote its
    approval from the event loop: every route, /healthz included, waited with it."""
    import sqlite3

    root = base(server)
    holder = sqlite3.connect(tmp_path / "serve.db", isolation_level=None, timeout=30)
    answers: list[Any] = []
    try:
        holder.execute("BEGIN EXCLUSIVE")
        body = {"tool": "bash", "arguments": {"command": "rm -rf dist"}}
        checker = threading.Thread(target=lambda: answers.append(
            call(root + "/v1/actions/check", body)))  # fmt: skip
        checker.start()
        time.sleep(0.5)  # the check is waiting for the lock by now
        started = time.monotonic()
        with urllib.request.urlopen(root + "/v1/models", timeout=10) as r:
            assert r.status == 200
        assert time.monotonic() - started < 5  # answered while the check waits
        assert not answers  # still waiting: it has no approval to give yet
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    checker.join(30)
    ((status, doc),) = answers
    assert status == 200 and doc["decision"] == "pending"


def test_an_escalation_the_store_cannot_queue_is_a_503_not_a_fault(
    target: str, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store locked past its busy timeout made an escalated tool call a 500 "internal
    guard error", logged as a fault of the guard."""
    import sqlite3

    from alignkit.store import _engine

    monkeypatch.setattr(_engine, "BUSY_TIMEOUT_S", 1.0)  # 30 s in use
    with GuardServer(target, CONFIG, store_url=store_url, admin_token=TOKEN) as srv:
        holder = sqlite3.connect(tmp_path / "serve.db", isolation_level=None, timeout=30)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            body = {"tool": "bash", "arguments": {"command": "rm -rf dist"}}
            status, doc = call(base(srv) + "/v1/actions/check", body)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
    assert status == 503 and doc["error"]["code"] == "store_busy"


def test_the_client_asks_again_when_the_store_was_busy(
    target: str, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 503 store_busy (nothing recorded, Retry-After: 1) reached the agent as a
    TargetError: one brief lock failed the tool call."""
    import sqlite3

    from alignkit.store import _engine

    monkeypatch.setattr(_engine, "BUSY_TIMEOUT_S", 1.0)
    with GuardServer(target, CONFIG, store_url=store_url, admin_token=TOKEN) as srv:
        holder = sqlite3.connect(
            tmp_path / "serve.db", isolation_level=None, timeout=30, check_same_thread=False
        )
        holder.execute("BEGIN EXCLUSIVE")
        release = threading.Timer(1.8, lambda: (holder.execute("ROLLBACK"), holder.close()))
        release.start()  # after the first answer (a 503 at ~1 s), before the second ask
        try:
            check = ActionClient(srv.url).check_action("bash", {"command": "rm -rf dist"})
        finally:
            release.join()
        assert check.decision == "pending" and check.approval_id
        holder = sqlite3.connect(tmp_path / "serve.db", isolation_level=None, timeout=30)
        holder.execute("BEGIN EXCLUSIVE")
        try:  # retries=0: the answer as it came
            with pytest.raises(TargetError, match="503"):
                ActionClient(srv.url, retries=0).check_action("bash", {"command": "rm -rf x"})
        finally:
            holder.execute("ROLLBACK")
            holder.close()


def test_escalations_waiting_on_a_locked_store_wait_together_not_in_turn(
    target: str, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each approval write waited for this process's lock without a bound, then for the
    busy timeout: the fifth of five escalations answered after five timeouts."""
    import sqlite3

    from alignkit.store import _engine

    monkeypatch.setattr(_engine, "BUSY_TIMEOUT_S", 1.0)
    answered: list[tuple[int, float]] = []
    with GuardServer(target, CONFIG, store_url=store_url, admin_token=TOKEN) as srv:
        holder = sqlite3.connect(tmp_path / "serve.db", isolation_level=None, timeout=30)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            started = time.monotonic()

            def escalate() -> None:
                body = {"tool": "bash", "arguments": {"command": "rm -rf dist"}}
                status, _ = call(base(srv) + "/v1/actions/check", body)
                answered.append((status, time.monotonic() - started))

            threads = [threading.Thread(target=escalate) for _ in range(5)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
    assert [s for s, _ in answered] == [503] * 5
    assert max(t for _, t in answered) < 3.5, answered  # in turn: 5 s and more
