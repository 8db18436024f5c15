"""``alignkit serve``: a port it cannot bind is one line, exit 2; the banner names the real port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from cli_helpers import REPO, run_cli

QUIZ = "python:examples.quiz_app:respond"
ENV = {"PYTHONPATH": str(REPO)}


def _one_line(proc: subprocess.CompletedProcess[str], fragment: str) -> None:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert len(lines) == 1 and fragment in lines[0], proc.stderr
    assert "serving" not in proc.stderr  # no banner for a server that never listened


def test_a_port_in_use_or_out_of_range_is_one_line(tmp_path: Path) -> None:
    store = str(tmp_path / "s.db")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        proc = run_cli("serve", QUIZ, "--port", port, "--store", store, env=ENV, timeout=60)
    _one_line(proc, f"cannot bind 127.0.0.1:{port}")
    proc = run_cli("serve", QUIZ, "--port", "70000", "--store", store, env=ENV, timeout=60)
    _one_line(proc, "port 70000 is out of range")


def test_port_0_is_announced_as_bound_and_ctrl_c_stops(tmp_path: Path) -> None:
    env = {**os.environ, **ENV, "ALIGNKIT_LOG": "ERROR"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "alignkit", "serve", QUIZ, "--port", "0",
         "--store", str(tmp_path / "s.db"), "--json"],
        cwd=REPO, env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None and proc.stdout is not None
        banner = proc.stderr.readline()
        assert banner.startswith(f"serving {QUIZ} on http://127.0.0.1:"), banner
        url = banner.split(" on ", 1)[1].split()[0]
        assert not url.endswith(":0/v1")
        # --json: the bound address for scripts, as one JSON line on stdout
        announced = json.loads(proc.stdout.readline())
        assert announced == {"url": url, "approvals": url.removesuffix("/v1") + "/approvals"}
        with urllib.request.urlopen(url.removesuffix("/v1") + "/healthz", timeout=10) as r:
            assert r.status == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) in (0, 130)  # 130: the shell's code for Ctrl-C
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_server_that_cannot_write_its_log_refuses_requests(tmp_path: Path) -> None:
    """A full disk (here: a file-size limit) under the store. It answered 200 to every
    request while each log entry was lost, warned every 10 ms, and ended in a traceback;
    now it refuses with 503 until it can write, and stops with one line."""
    import resource

    from alignkit.store import Store

    store = tmp_path / "s.db"
    Store.open(f"sqlite:///{store}").close()
    limit = 48 * 1024

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, **ENV}
    proc = subprocess.Popen(
        [sys.executable, "-m", "alignkit", "serve", QUIZ, "--port", "0", "--store", str(store)],
        cwd=REPO, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        preexec_fn=small_files,
    )  # fmt: skip
    codes: list[str] = []
    try:
        assert proc.stderr is not None
        url = proc.stderr.readline().split(" on ", 1)[1].split()[0]
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "2+2?"}]})
        for _ in range(80):
            req = urllib.request.Request(
                url + "/chat/completions", body.encode(), {"content-type": "application/json"}
            )
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    codes.append(str(r.status))
            except urllib.error.HTTPError as exc:
                codes.append(f"{exc.code} {json.loads(exc.read())['error']['code']}")
        try:  # a load balancer must not send traffic to it meanwhile
            urllib.request.urlopen(url.removesuffix("/v1") + "/healthz", timeout=10)
            health = 200
        except urllib.error.HTTPError as exc:
            health = exc.code
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert health == 503
    refused = "503 audit_log_unavailable"
    assert codes[0] == "200" and refused in codes, codes
    assert "200" not in codes[codes.index(refused) :], codes  # none answered off the record
    assert "Traceback" not in stderr
    assert stderr.count("cannot write, retrying") == 1, stderr  # one warning, not hundreds
    assert "entries could not be written" in stderr
    verified = run_cli("guard", "verify", "--store", str(store))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_store_locked_by_another_process_is_refused_not_waited_for(tmp_path: Path) -> None:
    """Another process held the store's write lock: every route, /healthz included, hung
    for the 30 s busy timeout at a time instead of answering 503 at once."""
    import sqlite3
    import time

    from alignkit.store import Store

    store = tmp_path / "s.db"
    Store.open(f"sqlite:///{store}").close()
    env = {**os.environ, **ENV}
    proc = subprocess.Popen(
        [sys.executable, "-m", "alignkit", "serve", QUIZ, "--port", "0", "--store", str(store)],
        cwd=REPO, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "2+2?"}]}).encode()

    def ask(path: str) -> str:
        req = urllib.request.Request(url + path, body, {"content-type": "application/json"})
        if path == "/healthz":
            req = urllib.request.Request(url.removesuffix("/v1") + path)
        try:  # the timeout is the property: a stalled event loop answers nothing for 30 s
            with urllib.request.urlopen(req, timeout=10) as r:
                return str(r.status)
        except urllib.error.HTTPError as exc:
            return str(exc.code)

    holder = sqlite3.connect(store, isolation_level=None, timeout=30)
    try:
        assert proc.stderr is not None
        url = proc.stderr.readline().split(" on ", 1)[1].split()[0]
        assert ask("/chat/completions") == "200"
        holder.execute("BEGIN EXCLUSIVE")
        answered_during = [ask("/chat/completions")]
        deadline = time.monotonic() + 20
        while answered_during[-1] == "200" and time.monotonic() < deadline:
            time.sleep(0.2)
            answered_during.append(ask("/chat/completions"))
        assert answered_during[-1] == "503", answered_during
        assert ask("/healthz") == "503"
        try:
            urllib.request.urlopen(
                urllib.request.Request(url + "/chat/completions", body,
                                       {"content-type": "application/json"}), timeout=10,
            )  # fmt: skip
        except urllib.error.HTTPError as exc:
            refusal = json.loads(exc.read())["error"]
        assert refusal["code"] == "audit_log_unavailable"
        assert str(tmp_path) not in refusal["message"]  # where the store is: the server's log
        holder.execute("ROLLBACK")
        deadline = time.monotonic() + 20
        while ask("/healthz") != "200" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ask("/chat/completions") == "200"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        holder.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in stderr
    assert stderr.count("cannot write, retrying") == 1, stderr
    verified = run_cli("guard", "verify", "--store", str(store))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    answered = 2 + answered_during.count("200")  # every answered request is on the record
    with Store.open(f"sqlite:///{store}", create=False) as st:
        assert st.audit_log(background=False).count() == answered


def test_a_second_ctrl_c_answers_the_requests_in_flight_and_keeps_the_log(
    tmp_path: Path,
) -> None:
    """uvicorn quits at once on a second Ctrl-C: a request still waiting on the model got
    a traceback and a plain-text 500, and no audit entry."""
    import threading
    import time

    from alignkit.store import Store

    (tmp_path / "slowapp.py").write_text(
        "import asyncio\n\nasync def respond(messages):\n    await asyncio.sleep(60)\n"
        "    return 'late'\n"
    )
    store = tmp_path / "s.db"
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}:{REPO}", "ALIGNKIT_LOG": "ERROR"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "alignkit", "serve", "python:slowapp:respond", "--port", "0",
         "--store", str(store)],
        cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    answers: list[tuple[int, str]] = []

    def ask(url: str) -> None:
        body = json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode()
        request = urllib.request.Request(
            url + "/chat/completions", body, {"content-type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as r:
                answers.append((r.status, r.read().decode()))
        except urllib.error.HTTPError as exc:
            answers.append((exc.code, exc.read().decode()))

    try:
        assert proc.stderr is not None
        url = proc.stderr.readline().split(" on ", 1)[1].split()[0]
        client = threading.Thread(target=ask, args=(url,))
        client.start()
        time.sleep(1.0)  # the request is waiting on the app
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        client.join(timeout=20)  # not the 24 s of the grace
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert answers and answers[0][0] == 503, answers
    assert json.loads(answers[0][1])["error"]["message"]
    assert "Traceback" not in stderr, stderr
    with Store.open(f"sqlite:///{store}", create=False) as st:
        assert st.audit_log(background=False).count() == 1
