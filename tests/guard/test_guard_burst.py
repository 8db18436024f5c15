"""Under a concurrent burst, ``alignkit serve`` keeps one verified audit entry per request.

The audit log is written in batches off the request path; these tests show that no
batching loses an entry: after a burst and a clean shutdown (SIGTERM to a real
``alignkit serve`` process, or stopping the embedded server) the chain verifies and holds
exactly one ``request`` entry for every request id the clients were given.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from alignkit.guard import GuardServer
from alignkit.store import Store

pytestmark = pytest.mark.network

CONCURRENCY = 32
REQUESTS = 320


async def _burst(url: str, n: int = REQUESTS, concurrency: int = CONCURRENCY) -> list[str]:
    """Send ``n`` chat requests, ``concurrency`` at a time; the request ids answered."""
    ids: list[str] = []
    todo = iter(range(n))

    async def worker(session: aiohttp.ClientSession) -> None:
        for i in todo:
            body = {"model": "m", "messages": [{"role": "user", "content": f"question {i}"}]}
            async with session.post(url + "/chat/completions", json=body) as resp:
                doc = json.loads(await resp.read())
                assert resp.status == 200, doc
                assert doc["choices"][0]["message"]["content"] == f"echo: question {i}"
                ids.append(resp.headers["x-alignkit-request-id"])

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return ids


def _logged_requests(store_url: str) -> list[str]:
    """Request ids of the ``request`` entries, after checking the whole chain."""
    with Store.open(store_url) as store:
        log = store.audit_log()
        report = log.verify()
        assert report.ok, report.problem
        return [
            json.loads(e.entry)["request_id"] for e in log.iter_entries() if e.kind == "request"
        ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_burst_then_sigterm_keeps_every_request_in_the_verified_log(
    app_path: Path, tmp_path: Path
) -> None:
    store_url = f"sqlite:///{tmp_path / 'burst.db'}"
    port = _free_port()
    code = (
        "from alignkit.guard import serve; "
        f"serve({f'python:{app_path}:respond'!r}, port={port}, store_url={store_url!r})"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=1):
                    break
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "alignkit serve did not start"
                time.sleep(0.1)
        ids = asyncio.run(_burst(base + "/v1"))
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    # uvicorn shuts down cleanly (lifespan, log committed), then re-raises the signal.
    assert proc.returncode in (0, -signal.SIGTERM), err
    assert len(set(ids)) == REQUESTS
    logged = _logged_requests(store_url)
    assert sorted(logged) == sorted(ids)  # each request exactly once, nothing else


def test_burst_then_stop_keeps_every_request_in_the_verified_log(
    app_path: Path, tmp_path: Path
) -> None:
    store_url = f"sqlite:///{tmp_path / 'burst.db'}"
    with GuardServer(f"python:{app_path}:respond", store_url=store_url) as srv:
        ids = asyncio.run(_burst(srv.url))
    assert sorted(_logged_requests(store_url)) == sorted(ids)


@pytest.mark.anyio
async def test_deferred_records_are_written_on_settle(app_path: Path) -> None:
    """The server defers each request's audit entry until its answer is sent."""
    from guard_helpers import ListLog

    from alignkit.guard import Guard
    from alignkit.models import connect

    model, log = connect(f"python:{app_path}:respond"), ListLog()
    guard = Guard(model=model, log=log)
    guard.defer_records = True
    results = [await guard.run([{"role": "user", "content": f"q{i}"}]) for i in range(3)]
    assert log.entries == []
    guard.settle()
    assert [e["request_id"] for e in log.entries] == [r.request_id for r in results]
    assert guard.traffic is not None and len(guard.traffic._buffer) == 3
    await model.aclose()


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_the_traffic_monitor_worker_does_not_outlive_a_killed_server(
    app_path: Path, tmp_path: Path
) -> None:
    port, store_url = _free_port(), f"sqlite:///{tmp_path / 'kill.db'}"
    code = (
        "from alignkit.guard import serve; "
        f"serve({f'python:{app_path}:respond'!r}, port={port}, store_url={store_url!r})"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=1):
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "no server"
                time.sleep(0.1)
        asyncio.run(_burst(base + "/v1", n=64))
        deadline = time.monotonic() + 30
        while not workers and time.monotonic() < deadline:
            time.sleep(0.2)  # the worker starts at the first drain
            workers = {
                c
                for c in _children(proc.pid)
                if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text(errors="replace")
            }
        assert workers, "the traffic monitor runs in a child process"
    finally:
        proc.kill()
        proc.wait(timeout=30)
    deadline = time.monotonic() + 20
    while any(_running(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_running(w) for w in workers)


def test_a_request_still_waiting_when_the_grace_ends_is_answered_and_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request waiting on the model past the shutdown grace was cancelled by uvicorn:
    a traceback, a plain-text 500 and no audit entry."""
    from alignkit.guard import _server

    monkeypatch.setattr(_server, "SHUTDOWN_GRACE_S", 2.0)
    app = tmp_path / "slow_app.py"
    app.write_text("import asyncio\nasync def respond(messages):\n"
                   "    await asyncio.sleep(120)\n    return 'late'\n")  # fmt: skip
    store_url = f"sqlite:///{tmp_path / 'grace.db'}"
    answers: list[tuple[int, Any]] = []
    srv = GuardServer(f"python:{app}:respond", store_url=store_url).__enter__()
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})

    def ask() -> None:
        req = urllib.request.Request(srv.url + "/chat/completions", data=body.encode(),
                                     headers={"Content-Type": "application/json"})  # fmt: skip
        try:
            urllib.request.urlopen(req, timeout=60)
        except urllib.error.HTTPError as exc:
            answers.append((exc.code, json.loads(exc.read())))

    asker = threading.Thread(target=ask)
    asker.start()
    time.sleep(1.0)  # the request waits on the app by now
    started = time.monotonic()
    srv.__exit__(None, None, None)
    asker.join(30)
    assert time.monotonic() - started < 15
    ((status, doc),) = answers
    assert status == 503 and doc["error"]["code"] == "server_stopping"
    with Store.open(store_url) as store:
        log = store.audit_log()
        assert log.verify().ok
        entries = [json.loads(e.entry) for e in log.iter_entries()]
    assert [e["error"] for e in entries if e["kind"] == "fault"] == [
        "the server stopped before the model answered"
    ]
