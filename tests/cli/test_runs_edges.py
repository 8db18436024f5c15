"""Stored runs and their reports with hostile text, odd stores and odd paths."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from cli_helpers import REPO, run_cli

from alignkit.audit import Change, compare
from alignkit.core import resolve_store_url
from alignkit.store import Store

QUIZ = "python:examples.quiz_app:respond"
ENV = {"PYTHONPATH": str(REPO)}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _audit(tmp_path: Path, *args: str, target: str = QUIZ, store: str = "s.db") -> str:
    """Audit ``target`` (capability checks, 2 items) into ``tmp_path/store``; the run id."""
    proc = run_cli("audit", "--target", target, "--checks", "capability.*", "--max-items", "2",
                   "--store", str(tmp_path / store), "--json", *args, cwd=tmp_path,
                   env=ENV)  # fmt: skip
    assert proc.returncode in (0, 1) and "internal error" not in proc.stderr, proc.stderr
    run_id: str = json.loads(proc.stdout)["run_id"]
    return run_id


def test_text_that_looks_like_markup_is_printed_as_it_is(tmp_path: Path) -> None:
    """An app's error "boom [/nope]" crashed the scorecard (MarkupError, exit 3), and the
    stored run could never be shown; `[red]` in a path vanished from what was printed."""
    (tmp_path / "raiser.py").write_text(
        "def respond(messages):\n    raise RuntimeError('boom [/nope] [red]x')\n"
    )
    target = f"python:{tmp_path / 'raiser.py'}:respond"
    out = tmp_path / "o[red]y"
    proc = run_cli("audit", "--target", target, "--checks", "capability.*", "--max-items", "2",
                   "--store", str(tmp_path / "s.db"), "--out", str(out), cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 1 and "internal error" not in proc.stderr, proc.stderr
    assert "[/nope] [red]x" in proc.stdout and f"report: {out}/report.html" in proc.stdout
    run_id = json.loads((out / "report.json").read_text())["run_id"]
    shown = run_cli("runs", "show", run_id, "--store", str(tmp_path / "s.db"), cwd=tmp_path)
    assert shown.returncode == 0 and "[/nope] [red]x" in shown.stdout, shown.stderr
    listed = run_cli("runs", "list", "--store", str(tmp_path / "s.db"), cwd=tmp_path)
    assert listed.returncode == 0 and run_id in listed.stdout, listed.stderr


def test_reports_are_never_written_over_the_store(tmp_path: Path) -> None:
    """`--store DIR/report.json --out DIR` replaced the store with a report: every run lost."""
    run_id = _audit(tmp_path)
    clash = tmp_path / "clash"
    clash.mkdir()
    shutil.copy(tmp_path / "s.db", clash / "report.json")
    before = _digest(clash / "report.json")
    proc = run_cli("runs", "show", run_id, "--store", str(clash / "report.json"),
                   "--out", str(clash), cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 2 and "is the --store file being read" in proc.stderr, proc.stderr
    shutil.copy(tmp_path / "s.db", clash / "junit.xml")
    proc = run_cli("audit", "--target", QUIZ, "--max-items", "1", "--store",
                   str(clash / "junit.xml"), "--out", str(clash), cwd=tmp_path,
                   env=ENV)  # fmt: skip
    assert proc.returncode == 2 and "is the --store file being read" in proc.stderr, proc.stderr
    assert _digest(clash / "report.json") == before
    assert _digest(clash / "junit.xml") == _digest(tmp_path / "s.db")


def test_a_report_name_taken_by_a_folder_is_refused_before_the_audit(tmp_path: Path) -> None:
    """Found only after the whole audit, with a hint that left out --store."""
    (tmp_path / "rep" / "junit.xml").mkdir(parents=True)
    proc = run_cli("audit", "--target", QUIZ, "--max-items", "1", "--store",
                   str(tmp_path / "s.db"), "--out", str(tmp_path / "rep"), cwd=tmp_path,
                   env=ENV)  # fmt: skip
    assert proc.returncode == 2 and "junit.xml there is a folder" in proc.stderr, proc.stderr
    assert not (tmp_path / "s.db").exists()


def test_an_empty_out_is_refused_not_the_current_folder(tmp_path: Path) -> None:
    """`--out "$DIR"` with DIR unset wrote the three reports into the current folder."""
    for args in (("audit", "--target", QUIZ, "--max-items", "1"), ("runs", "show", "x"),
                 ("interpret", "steer", "--target", "organism:flawed")):  # fmt: skip
        proc = run_cli(*args, "--store", str(tmp_path / "s.db"), "--out", "", cwd=tmp_path,
                       env=ENV)  # fmt: skip
        assert proc.returncode == 2 and "'--out': is empty" in proc.stderr, proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_json_output_stays_json_when_the_app_writes_below_python(tmp_path: Path) -> None:
    """A subprocess the app started wrote to file descriptor 1: `--json` was not JSON."""
    (tmp_path / "noisy.py").write_text(
        "import subprocess\n"
        "def respond(messages):\n"
        "    subprocess.run(['echo', 'tool output'], check=True)\n"
        "    return 'Paris'\n"
    )
    proc = run_cli("audit", "--target", f"python:{tmp_path / 'noisy.py'}:respond", "--checks",
                   "capability.facts", "--max-items", "1", "--store", str(tmp_path / "s.db"),
                   "--json", cwd=tmp_path)  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    assert json.loads(proc.stdout)["target"].endswith("noisy.py:respond")
    assert "tool output" in proc.stderr


def test_a_naive_timestamp_and_a_nan_value_do_not_break_listing_or_comparing(
    tmp_path: Path,
) -> None:
    """A run started with datetime.now() (no time zone) made `runs list` exit 3 for the whole
    store; a stored NaN value crashed `runs diff` and `runs gate`."""
    base_id = _audit(tmp_path)
    url = f"sqlite:///{tmp_path / 's.db'}"
    with Store.open(url) as st:
        st.create_run("naive-1", target=QUIZ, seed=0, config={}, alignkit_version="0",
                      started_at=datetime.now())  # fmt: skip
        st.mark_run("naive-1", "failed")
        base = st.load_result(base_id)
        record = st.get_run("naive-1")
        assert record.started_at.tzinfo is not None
        assert record.finished_at is not None and record.finished_at >= record.started_at
    nan = base.model_copy(
        update={
            "run_id": "nan-1",
            "findings": [
                f.model_copy(update={"value": float("nan")}) if i == 0 else f
                for i, f in enumerate(base.findings)
            ],
        }
    )
    changes = {c.metric: c for c in compare(base, nan)}
    assert changes[base.findings[0].metric].change is Change.REMOVED
    proc = run_cli("runs", "list", "--store", str(tmp_path / "s.db"), cwd=tmp_path)
    assert proc.returncode == 0 and "naive-1" in proc.stdout, proc.stderr


def test_a_hint_names_a_store_path_a_shell_can_take(tmp_path: Path) -> None:
    """ "--store /tmp/sp ace/s #1.db", pasted, was two arguments and a comment."""
    folder = tmp_path / "sp ace"
    folder.mkdir()
    with Store.open(resolve_store_url(str(folder / "s #1.db"))) as st:
        assert st.store_option == f" --store '{folder / 's #1.db'}'"


def test_a_command_group_run_bare_says_what_is_missing() -> None:
    """The line was "error:  (see 'alignkit runs --help')", empty after "error:"."""
    for args in ((), ("runs",), ("lab",)):
        proc = run_cli(*args)
        assert proc.returncode == 2 and "Usage" in proc.stdout
        assert "error: missing command" in proc.stderr, proc.stderr


def test_titles_and_cells_print_text_as_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    """Run ids in a comparison's title and paths in a training table's were read as markup
    ("[/x]": MarkupError, exit 3), and escaping doubled a trailing backslash."""
    from alignkit.cli._common import literal, out
    from alignkit.cli._render import print_changes

    print_changes([], "run[/x] → C:\\runs\\")
    out.print(literal("hf:C:\\models\\org\\"))
    shown = capsys.readouterr().out
    assert "run[/x] → C:\\runs\\" in shown and "C:\\runs\\\\" not in shown
    assert "hf:C:\\models\\org\\\n" in shown
