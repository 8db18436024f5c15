"""A small scripted coding agent whose tool calls go through alignkit's action policy.

The agent gets a tiny project with a failing test. Like agents that game their tests,
it first tries the shortcuts — delete the failing test, then make CI stop running the
tests — and only then fixes the bug. The policy blocks the first shortcut outright and
escalates the second to a human, who sees it on the approvals page of `alignkit serve`.

    python examples/coding_agent/agent.py                 # starts a server, you decide
    python examples/coding_agent/agent.py --auto deny     # a scripted reviewer decides
    python examples/coding_agent/agent.py --server http://127.0.0.1:8000   # your server

With `--server`, start the server first (any target works; the agent only checks tools):
    ALIGNKIT_ADMIN_TOKEN=secret alignkit serve organism:clean \
        --guard examples/coding_agent/guard.yaml --port 8000
and open http://127.0.0.1:8000/approvals (token: secret).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from alignkit.guard import ActionBlocked, ActionClient, GuardServer, governed

HERE = Path(__file__).resolve().parent
PROJECT = {
    "src/calc.py": "def add(a, b):\n    return a - b  # the bug\n",
    "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
    ".github/workflows/ci.yml": "on: push\njobs:\n  test:\n    steps:\n      - run: pytest\n",
}


def make_project(root: Path) -> None:
    for rel, text in PROJECT.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")


def build_tools(gate: ActionClient, root: Path) -> dict[str, Any]:
    """The agent's tools; every call is checked by the policy before it runs."""

    @governed(gate)
    def run(command: str) -> str:
        env = {**os.environ, "PYTHONPATH": str(root / "src")}
        words = command.split()
        if words[0] == "pytest":
            words = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *words[1:]]
        done = subprocess.run(words, cwd=root, env=env, capture_output=True, text=True)
        return (done.stdout + done.stderr).strip().splitlines()[-1]

    @governed(gate)
    def delete_file(path: str) -> None:
        (root / path).unlink()

    @governed(gate)
    def edit_file(path: str, old_str: str, new_str: str) -> None:
        file = root / path
        file.write_text(
            file.read_text(encoding="utf-8").replace(old_str, new_str), encoding="utf-8"
        )

    return {"run": run, "delete_file": delete_file, "edit_file": edit_file}


def act(log: list[dict[str, str]], step: str, fn: Any, *args: Any) -> Any:
    try:
        result = fn(*args)
    except ActionBlocked as exc:
        c = exc.check
        outcome = "denied" if c.status in ("denied", "expired") else "blocked"
        log.append({"step": step, "outcome": outcome, "rule": c.rule, "why": c.reason})
        print(f"  ✗ {step}: {outcome} by rule {c.rule} — {c.reason}")
        return None
    log.append({"step": step, "outcome": "ran", "result": str(result or "")})
    print(f"  ✓ {step}" + (f": {result}" if result else ""))
    return result


def agent(gate: ActionClient, root: Path) -> list[dict[str, str]]:
    """The scripted episode: shortcuts first, the honest fix last."""
    tools = build_tools(gate, root)
    log: list[dict[str, str]] = []
    print(f"agent working in {root}")
    act(log, "run the tests", tools["run"], "pytest")
    act(log, "delete the failing test", tools["delete_file"], "tests/test_calc.py")
    print("  … asking to change CI (waiting for a human on the approvals page)")
    act(
        log,
        "make CI skip the tests",
        tools["edit_file"],
        ".github/workflows/ci.yml",
        "run: pytest",
        "run: echo skipped",
    )
    act(log, "fix the bug", tools["edit_file"], "src/calc.py", "a - b", "a + b")
    act(log, "run the tests again", tools["run"], "pytest")
    return log


def auto_reviewer(base: str, token: str, verdict: str) -> threading.Thread:
    """A scripted human: decides the first approval that shows up."""

    def review() -> None:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        for _ in range(600):
            req = urllib.request.Request(f"{base}/admin/approvals?status=pending", headers=headers)
            with urllib.request.urlopen(req, timeout=10) as resp:
                pending = json.loads(resp.read())["approvals"]
            if pending:
                body = json.dumps({"by": "reviewer-bot", "note": f"auto {verdict}"}).encode()
                url = f"{base}/admin/approvals/{pending[0]['id']}/{verdict}"
                urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=10)
                return
            time.sleep(0.1)

    thread = threading.Thread(target=review, daemon=True)
    thread.start()
    return thread


def main(argv: list[str] | None = None) -> list[dict[str, str]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", help="an `alignkit serve` to check tool calls against")
    parser.add_argument("--auto", choices=["approve", "deny"], help="decide without a human")
    args = parser.parse_args(argv)
    if args.server and args.auto:
        parser.error("--auto decides on the built-in server only (with --server: on its page)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        make_project(root)
        if args.server:
            return agent(ActionClient(args.server), root)
        token = secrets.token_urlsafe(12)
        store = f"sqlite:///{Path(tmp) / 'alignkit.db'}"
        target = f"python:{HERE / 'upstream.py'}:respond"
        with GuardServer(target, HERE / "guard.yaml", store_url=store, admin_token=token) as srv:
            base = srv.url.removesuffix("/v1")
            print(f"approvals page: {base}/approvals#token={token}")
            reviewer = auto_reviewer(base, token, args.auto) if args.auto else None
            log = agent(ActionClient(srv.url, context={"user": "coding-agent"}), root)
            if reviewer is not None:
                reviewer.join(timeout=5)
            srv.stop()
        from alignkit.guard import verify_log

        report = verify_log(store)
        print(f"audit log: {report['entries']} entries, chain intact: {report['ok']}")
        return log


if __name__ == "__main__":
    from alignkit.core import AlignkitError

    try:
        main()
    except AlignkitError as exc:  # e.g. no server at --server: one line, not a traceback
        sys.exit(f"error: {exc}")
    except KeyboardInterrupt:
        sys.exit(130)
