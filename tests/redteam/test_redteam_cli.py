"""``alignkit redteam``: help with examples, listings, one-line errors with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alignkit.cli import main


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stop:
        main(list(args))
    captured = capsys.readouterr()
    return int(stop.value.code or 0), captured.out, captured.err


@pytest.mark.parametrize(
    "command", [["redteam"], ["redteam", "run"], ["redteam", "report"], ["redteam", "list"]]
)
def test_help_has_an_example(capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    code, out, _ = _cli(capsys, *command, "--help")
    assert code == 0 and "Example" in out or command == ["redteam"]


def test_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(capsys, "redteam", "list", "--json")
    doc = json.loads(out)
    assert code == 0
    assert {"authority", "research", "many-shot"} <= set(doc["families"])
    assert {"base64", "translate"} <= set(doc["converters"])
    assert set(doc["strategies"]) == {"static", "search", "crescendo", "pair", "tap"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-queries", "0"], "--max-queries must be at least 1"),
        (["--strategy", "pair"], "needs an attacker model"),
        (["--markers", "sometimes"], "--markers must be one of"),
        (["--converters", "translate"], "needs --converter-model"),
        (["--exclude-families", "authorty"], "unknown attack family authorty"),
        (["--behaviours", "/nonexistent.jsonl", "--target", "python:/nonexistent.py:f"], ""),
        (["--resume", "rt-x", "--target", "organism:clean"], "leave out --target"),
        (
            ["--resume", "rt-x", "--max-queries", "30", "--strategy", "static"],
            "leave out --max-queries, --strategy",
        ),  # fmt: skip
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], message: str
) -> None:
    code, _, err = _cli(capsys, "redteam", "run", *args, "--store", str(tmp_path / "s.db"))
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    if "--target" not in args and "--resume" not in args:
        assert not (tmp_path / "s.db").exists(), "bad options must not create the store"


def test_run_then_report_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from redteam_apps import uri

    db = str(tmp_path / "c.db")
    code, out, _ = _cli(
        capsys,
        "redteam",
        "run",
        "--target",
        uri("fiction_weak"),
        "--max-behaviours",
        "2",
        "--max-queries",
        "10",
        "--store",
        db,
        "--json",
    )
    ran = json.loads(out)
    assert code == 0 and ran["sent"] == ran["attempts"] and ran["reused"] == 0
    code, out, _ = _cli(capsys, "redteam", "report", ran["run_id"], "--store", db, "--json")
    shown = json.loads(out)
    assert code == 0 and shown["attempts"] == ran["attempts"] and shown["broken"] == ran["broken"]
    assert set(shown) >= {
        "cells",
        "families",
        "converters",
        "per_behaviour",
        "evidence",
        "outcomes",
    }


def test_spend_caps_bound_a_campaign_against_an_openai_target(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DESIGN §6's --max-requests was refused by `redteam run` (an audit option only)."""
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "audit"))
    from audit_helpers import ThreadedStub

    with ThreadedStub(latency=0.0) as stub:
        code, out, err = _cli(
            capsys, "redteam", "run", "--target", stub.uri, "--max-requests", "3",
            "--max-behaviours", "4", "--max-queries", "3", "--store", str(tmp_path / "s.db"),
            "--json",
        )  # fmt: skip
        sent = len(stub.log)
    assert code in (0, 1), err
    assert sent == 3  # the cap held; the rest are stored as errors, never as behaviour
