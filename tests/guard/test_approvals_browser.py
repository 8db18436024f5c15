"""The approvals page in a real headless Chromium, against the real server on 127.0.0.1.

Escalate → the page shows it → approve → the agent proceeds; and escalate → nobody
decides → the timeout denies it. Both end up in a verified audit log.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alignkit.guard import ActionBlocked, ActionClient, GuardServer, governed
from alignkit.store import Store

pytestmark = pytest.mark.network
CHROMIUM = Path("/usr/lib/chromium/chromium")
TOKEN = "page-token-for-tests"
TIMEOUT_S = 12.0  # steps 1 and 3 decide within it; on a loaded machine 6 s was close
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-dev-shm-usage"]  # fmt: skip


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[GuardServer, str]]:
    app = tmp_path / "app.py"
    app.write_text("def respond(messages):\n    return 'ok'\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'page.db'}"
    config = {"approvals": {"timeout_s": TIMEOUT_S}, "traffic": {"enabled": False}}
    with GuardServer(f"python:{app}:respond", config, store_url=url, admin_token=TOKEN) as srv:
        yield srv, url


class Agent(threading.Thread):
    """A scripted agent: one governed tool call in its own thread."""

    def __init__(self, fn: Any, *args: Any) -> None:
        super().__init__(daemon=True)
        self.fn, self.args = fn, args
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.fn(*self.args)
        except BaseException as exc:  # reported by the test
            self.error = exc


def test_approve_on_the_page_and_time_out(server: tuple[GuardServer, str], tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (make setup installs it where apt-get works)")
    from playwright.sync_api import expect, sync_playwright

    srv, store_url = server
    root = srv.url.removesuffix("/v1")
    client = ActionClient(srv.url, context={"user": "coder-1"})
    ci = tmp_path / "ci.yml"
    ci.write_text("run: pytest\n", encoding="utf-8")
    ran: list[str] = []

    @governed(client)
    def edit_file(path: str, new_str: str) -> None:
        Path(path).write_text(new_str, encoding="utf-8")
        ran.append("edit_file")

    @governed(client)
    def bash(command: str) -> None:
        ran.append(command)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{root}/approvals#token={TOKEN}")
            page.fill("#by", "alice")
            page.click("#connect")
            expect(page.locator("#status")).to_contain_text("connected", timeout=10_000)

            # 1. escalate → shown → approved → the agent proceeds
            agent = Agent(edit_file, str(tmp_path / ".github" / "workflows" / "ci.yml"), "run: x")
            (tmp_path / ".github" / "workflows").mkdir(parents=True)
            agent.start()
            card = page.locator("article.approval").filter(has_text="edit_file")
            expect(card).to_be_visible(timeout=10_000)
            expect(card).to_contain_text("edit-ci")
            expect(card.locator("pre")).to_contain_text("ci.yml")
            card.locator("input.note").fill("one-off CI fix")
            card.locator("button.approve").click()
            agent.join(timeout=20)
            assert agent.error is None and ran == ["edit_file"]
            expect(card).to_have_count(0, timeout=5_000)

            # 2. escalate → nobody decides → the timeout denies; the agent does not proceed
            waiting = Agent(bash, "git reset --hard HEAD~5")
            waiting.start()
            late = page.locator("article.approval").filter(has_text="git-discard")
            expect(late).to_be_visible(timeout=10_000)
            waiting.join(timeout=TIMEOUT_S + 15)
            assert isinstance(waiting.error, ActionBlocked)
            assert waiting.error.check.status == "expired" and ran == ["edit_file"]
            expect(late).to_have_count(0, timeout=5_000)
            rows = page.locator("#decided tbody tr")
            expect(rows.filter(has_text="git-discard")).to_contain_text("expired", timeout=5_000)
            expect(rows.filter(has_text="edit-ci")).to_contain_text("alice")

            # 3. a right-to-left override is shown, not obeyed; deciding needs a name, and
            # the name in the box is the one recorded (typing it without Connect gave "admin")
            # ... and so are tag characters, which spell text a model reads and a person
            # does not see (outside the Basic Multilingual Plane: they were missed)
            tags = "".join(chr(0xE0000 + ord(c)) for c in " && x")
            hidden = Agent(bash, "\u202egit reset --hard origin/main" + tags)
            hidden.start()
            tricky = page.locator("article.approval").filter(has_text="[U+202E]")
            expect(tricky).to_be_visible(timeout=10_000)
            expect(tricky).to_contain_text("[U+E0020][U+E0026][U+E0026][U+E0020][U+E0078]")
            page.fill("#by", "")
            tricky.locator("button.deny").click()
            expect(page.locator("#status")).to_contain_text("enter your name", timeout=5_000)
            expect(tricky).to_have_count(1)
            page.fill("#by", "bob")
            tricky.locator("button.deny").click()
            hidden.join(timeout=20)
            assert isinstance(hidden.error, ActionBlocked)
            assert hidden.error.check.decided_by == "bob"
        finally:
            browser.close()
    srv.stop()
    with Store.open(store_url) as store:
        log = store.audit_log()
        assert log.verify().ok
        events = [json.loads(e.entry) for e in log.entries() if e.kind == "approval"]
    decided = [(e["event"], e["by"], e["rule"]) for e in events if e["event"] != "requested"]
    assert decided == [("approved", "alice", "edit-ci"), ("expired", "timeout", "git-discard"),
                       ("denied", "bob", "git-discard")]  # fmt: skip
    approved = next(e for e in events if e["event"] == "approved")
    assert approved["note"] == "one-off CI fix" and approved["time"]
