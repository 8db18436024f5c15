"""Put a chat app behind alignkit's run-time guard and call it with the openai client.

Run from anywhere (``pip install 'alignkit[serve]' openai``)::

    python examples/guard_quickstart.py

It starts ``alignkit serve`` in a background thread (:class:`~alignkit.guard.GuardServer`)
in front of ``examples/quiz_app.py`` with the shipped default ``guard.yaml`` and a
throw-away SQLite store, sends three requests with the official ``openai`` client — one
ordinary, one carrying an API key, one carrying an e-mail address — then stops the
server and verifies the audit log's hash chain. The same as a command line::

    alignkit serve python:examples.quiz_app:respond --port 8000 --store /tmp/guard.db
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import openai

from alignkit.guard import GuardServer, verify_log
from alignkit.store import Store

APP = Path(__file__).resolve().parent / "quiz_app.py"
LOG_KEY = b"quickstart-demo-key"  # in production: $ALIGNKIT_GUARD_LOG_KEY, kept secret
FAKE_KEY = "sk-proj-" + "A1b2C3d4" * 4  # shaped like an OpenAI key; not a real one


def ask(client: openai.OpenAI, text: str) -> dict[str, Any]:
    """Send one user message; return what the client got back."""
    reply = client.chat.completions.create(
        model="quiz", messages=[{"role": "user", "content": text}], user="demo-user"
    )
    choice = reply.choices[0]
    guard = (reply.model_extra or {}).get("alignkit", {})  # the guard's own field
    return {
        "content": choice.message.content,
        "finish_reason": choice.finish_reason,
        "decision": guard.get("decision"),
        "rail": guard.get("rail"),
    }


def main() -> dict[str, Any]:
    """Run the walk-through; return each reply and the log verification report."""
    with tempfile.TemporaryDirectory() as tmp:
        store = f"sqlite:///{Path(tmp) / 'guard.db'}"
        replies: dict[str, dict[str, Any]] = {}
        # guard_path=None: the shipped default guard.yaml (secrets, PII, injection, ...)
        with GuardServer(f"python:{APP}:respond", store_url=store, log_key=LOG_KEY) as srv:
            print(f"guard serving on {srv.url}")
            # Any api_key is accepted: the guard does not authenticate clients.
            client = openai.OpenAI(base_url=srv.url, api_key="unused", max_retries=0)
            replies["benign"] = ask(client, "What is the capital of France?")
            replies["secret"] = ask(client, f"My key is {FAKE_KEY}. What is 6 times 7?")
            replies["email"] = ask(client, "I'm ann@example.org: who wrote Hamlet?")
        # Leaving the block stops the server and commits the audit log.
        report = verify_log(store, key=LOG_KEY)
        with Store.open(store, create=False) as db:  # what the log holds, entry by entry
            log = db.audit_log(key=LOG_KEY, background=False)
            logged = [json.loads(e.entry) for e in log.entries()]
    for name, reply in replies.items():
        print(f"{name:>6}: {reply['decision']:<6} {reply['finish_reason']:<14} {reply['content']}")
    print(f"audit log: {report['entries']} entries, chain intact: {report['ok']}")
    for entry in logged:  # one per request: the decision, every rail's verdict, the text
        prompt = entry["messages"][-1]["content"]
        print(f"logged: {entry['decision']:<6} rail={entry['rail']} prompt={prompt!r}")
    return {"replies": replies, "log": report, "logged": logged}


if __name__ == "__main__":
    main()
