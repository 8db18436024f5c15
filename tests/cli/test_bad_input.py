"""Bad input: one clear line on stderr, exit 2, no traceback, stored data untouched."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import sqlite3
from pathlib import Path

import pytest
from cli_helpers import REPO, run_cli

QUIZ = "python:examples.quiz_app:respond"
ENV = {"PYTHONPATH": str(REPO)}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _assert_one_line_error(proc, *fragments: str) -> None:  # type: ignore[no-untyped-def]
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for frag in fragments:
        assert frag in lines[0], lines[0]


@pytest.fixture(scope="module")
def _audited(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a real store holding one finished audit run (made once per module)."""
    tmp_path = tmp_path_factory.mktemp("audited")
    db = tmp_path / "s.db"
    proc = run_cli(
        "audit",
        "--target",
        QUIZ,
        "--checks",
        "capability.facts",
        "--max-items",
        "20",
        "--store",
        str(db),
        "--out",
        str(tmp_path / "out"),
        cwd=tmp_path,
        env=ENV,
    )
    assert proc.returncode == 0, proc.stderr
    return tmp_path


@pytest.fixture
def store_with_run(_audited: Path, tmp_path: Path) -> Path:
    """A copy of that store for one test, which may change or break it."""
    for item in _audited.iterdir():
        if item.is_dir():
            shutil.copytree(item, tmp_path / item.name)
        else:
            shutil.copy2(item, tmp_path / item.name)
    return tmp_path / "s.db"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--checks", "capability.factz"], ["unknown check 'capability.factz'", "did you mean"]),
        (["--checks", "nothing.*"], ["no check matches 'nothing.*'"]),
        (["--target", "not a uri"], ["malformed target URI"]),
        (["--target", ""], ["malformed target URI"]),  # audited organism:flawed instead
        (["--seed", "99999999999999999999999"], ["--seed"]),  # an internal error
        (["--seed", "-5"], ["--seed"]),  # numpy's generators take no negative seed
        (["--target", "ftp:somewhere"], ["unknown target scheme 'ftp:'"]),
        (["--target", "python:no_such_module_xyz:fn"], ["cannot import"]),
        (["--split", "sideways"], ["--split"]),
        (["--data", "/nonexistent/pack"], ["/nonexistent/pack"]),
        (["--max-items", "0"], ["--max-items 0", "greater than or equal to 1"]),
        (["--concurrency", "0"], ["--concurrency 0"]),
        (["--budget", "-5"], ["--budget -5", "greater than 0"]),
        # empty values (an unset CI variable) are not the defaults: `--checks ''` ran all 14
        (["--checks", ""], ["selects no check"]),
        (["--split", ""], ["--split"]),
        (["--max-requests", "0"], ["--max-requests 0"]),
        (["--api-key-env", "ALIGNKIT_NO_SUCH_VAR"], ["ALIGNKIT_NO_SUCH_VAR", "not set"]),
        (["--target", "openai:http://127.0.0.1:99999/v1#m"], ["Port out of range"]),
        (["--checks", "bias.*,lab.*"], ["no selected check can run", "needs a classifier"]),
    ],
)
def test_bad_audit_input_leaves_store_untouched(
    store_with_run: Path, args: list[str], fragments: list[str]
) -> None:
    before = _digest(store_with_run)
    proc = run_cli(
        "audit",
        "--target",
        QUIZ,
        *args,
        "--store",
        str(store_with_run),
        cwd=store_with_run.parent,
        env=ENV,
    )
    _assert_one_line_error(proc, *fragments)
    assert _digest(store_with_run) == before


def test_broken_checkpoint_is_refused_before_the_run(tmp_path: Path) -> None:
    """It loaded lazily: every check then failed on its first request (exit 1, a report)."""
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text('{"model_type": "gpt2"}')
    db = tmp_path / "s.db"
    proc = run_cli("audit", "--target", f"hf:{ckpt}", "--checks", "capability.facts",
                   "--store", str(db), "--out", str(tmp_path / "o"), cwd=tmp_path)  # fmt: skip
    _assert_one_line_error(proc, "cannot load hf checkpoint")
    assert not (tmp_path / "o").exists()


def test_out_that_is_a_file_is_refused_before_the_run(store_with_run: Path) -> None:
    blocker = store_with_run.parent / "a-file"
    blocker.write_text("keep me")
    before = _digest(store_with_run)
    proc = run_cli("audit", "--target", QUIZ, "--out", str(blocker), "--store",
                   str(store_with_run), cwd=store_with_run.parent, env=ENV)  # fmt: skip
    _assert_one_line_error(proc, "is not a folder")
    assert _digest(store_with_run) == before and blocker.read_text() == "keep me"
    # a folder below a file: found only after the whole run had been spent
    proc = run_cli("audit", "--target", QUIZ, "--out", str(blocker / "sub"), "--store",
                   str(store_with_run), cwd=store_with_run.parent, env=ENV)  # fmt: skip
    _assert_one_line_error(proc, "its folder cannot be created or written")
    assert _digest(store_with_run) == before


def test_empty_store_option_is_refused(store_with_run: Path) -> None:
    proc = run_cli("runs", "list", "--store", "", cwd=store_with_run.parent)
    _assert_one_line_error(proc, "--store (or $ALIGNKIT_STORE) is empty")


def test_a_blank_store_in_the_config_or_environment_is_refused(tmp_path: Path) -> None:
    """``store: "  "`` in alignkit.yaml made an audit create a database named two spaces."""
    (tmp_path / "alignkit.yaml").write_text('store: "  "\n')
    proc = run_cli("audit", "--target", QUIZ, "--max-items", "1", cwd=tmp_path)
    _assert_one_line_error(proc, "the config's store is blank")
    (tmp_path / "alignkit.yaml").unlink()
    proc = run_cli("runs", "list", cwd=tmp_path, env={"ALIGNKIT_STORE": " "})
    _assert_one_line_error(proc, "$ALIGNKIT_STORE) is empty")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_unreachable_endpoint(tmp_path: Path) -> None:
    uri = f"openai:http://127.0.0.1:{_closed_port()}/v1#m"
    proc = run_cli("audit", "--target", uri, "--store", str(tmp_path / "s.db"), cwd=tmp_path)
    _assert_one_line_error(proc, "cannot reach")


def test_invalid_config(tmp_path: Path) -> None:
    cfg = tmp_path / "alignkit.yaml"
    cfg.write_text("audit:\n  concurrency: zero\n")
    proc = run_cli("audit", "--config", str(cfg), "--store", str(tmp_path / "s.db"), cwd=tmp_path)
    _assert_one_line_error(proc, "invalid config", "audit.concurrency")


def test_unwritable_store(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = run_cli(
        "audit", "--target", QUIZ, "--store", str(blocker / "s.db"), cwd=tmp_path, env=ENV
    )
    _assert_one_line_error(proc)
    assert blocker.read_text() == "not a folder"


def test_corrupt_store_is_refused_and_unchanged(tmp_path: Path) -> None:
    db = tmp_path / "corrupt.db"
    db.write_bytes(b"this is not sqlite at all" * 100)
    before = _digest(db)
    for args in (["runs", "list"], ["audit", "--target", QUIZ]):
        proc = run_cli(*args, "--store", str(db), cwd=tmp_path, env=ENV)
        _assert_one_line_error(proc)
    assert _digest(db) == before


def test_store_from_newer_schema_is_refused_and_unchanged(store_with_run: Path) -> None:
    con = sqlite3.connect(store_with_run)
    with con:
        con.execute("UPDATE alignkit_meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    before = _digest(store_with_run)
    for args in (["runs", "list"], ["audit", "--target", QUIZ]):
        proc = run_cli(*args, "--store", str(store_with_run), cwd=store_with_run.parent, env=ENV)
        _assert_one_line_error(proc, "v99")
    assert _digest(store_with_run) == before


def test_unknown_run_and_missing_store(store_with_run: Path, tmp_path: Path) -> None:
    proc = run_cli("runs", "show", "no-such-run", "--store", str(store_with_run))
    _assert_one_line_error(proc, "no-such-run")
    missing = tmp_path / "missing.db"
    proc = run_cli("runs", "list", "--store", str(missing))
    _assert_one_line_error(proc)
    assert not missing.exists()


def test_unknown_failure_mode(tmp_path: Path) -> None:
    proc = run_cli("taxonomy", "show", "not-a-mode")
    _assert_one_line_error(proc, "unknown failure mode")
    _assert_one_line_error(run_cli("taxonomy", "show", "sycophanc"), "did you mean sycophancy?")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("audit", "--no-such-flag"), "No such option: --no-such-flag"),
        (("organism", "train", "-v"), "No such option: -v"),
        (("runs", "no-such-command"), "No such command"),
        (("audit", "--max-items", "abc"), "--max-items"),
        (("runs", "list", "--limit", "0"), "--limit"),
        (("redteam", "report", "rt-x", "--evidence", "-1"), "--evidence"),
        (("organism", "chat", "-m", "hi", "--max-tokens", "0"), "--max-tokens"),
        (("organism", "chat", "-m", "hi", "--temperature", "-1"), "--temperature"),
        (("runs", "list", "--limit", str(2**63)), "--limit"),  # an SQLite overflow, exit 3
        (("interpret", "explain", "--response", "x", "--seed", "-1"), "--seed"),
        (("train", "reward", "--target", QUIZ, "--pairs", "p", "--seed", str(2**32)), "--seed"),
    ],
)
def test_usage_errors_are_one_line_exit_2(args: tuple[str, ...], fragment: str) -> None:
    proc = run_cli(*args)
    _assert_one_line_error(proc, fragment, "--help")
    assert "internal error" not in proc.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("organism", "chat", "-m", "hi", "--temperature", "inf"),  # a failed reply, exit 1
        ("redteam", "run", "--target", QUIZ, "--temperature", "nan"),  # an internal error
    ],
)
def test_non_finite_temperatures_are_bad_input(args: tuple[str, ...]) -> None:
    _assert_one_line_error(run_cli(*args, env=ENV), "--temperature must be a finite number")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("guard", "check", "TRAFFIC", "--guard", "BROKEN"), "guard config"),
        (("organism", "train", "--config", "BROKEN"), "organism config"),
        (("audit", "--config", "BROKEN"), "config"),
        (
            ("train", "constitution", "--target", QUIZ, "--out", "o", "--constitution", "BROKEN"),
            "constitution",
        ),  # fmt: skip
    ],
)
def test_broken_yaml_is_one_line_naming_the_line(
    tmp_path: Path, args: tuple[str, ...], fragment: str
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("rails:\n  - name: [unclosed\n", encoding="utf-8")
    traffic = tmp_path / "t.jsonl"
    traffic.write_text('{"id": 1, "prompt": "hello"}\n', encoding="utf-8")
    argv = [str(broken) if a == "BROKEN" else str(traffic) if a == "TRAFFIC" else a for a in args]
    proc = run_cli(*argv, cwd=tmp_path, env=ENV)
    _assert_one_line_error(proc, fragment, "is not valid YAML (line ")
    assert not (tmp_path / "o").exists()
    # nested 2,000 deep (a RecursionError), and a list as a key (a TypeError): exit 3
    for text, says in (("a: " + "[" * 2000 + "]" * 2000, "nested too deeply"),
                       ("? [a]\n: b\n", "is not valid YAML")):  # fmt: skip
        broken.write_text(text, encoding="utf-8")
        _assert_one_line_error(run_cli(*argv, cwd=tmp_path, env=ENV), fragment, says)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("train", "constitution", "--target", QUIZ, "--out", "o", "--samples", "0"), "--samples"),
        (("train", "preferences", "--target", QUIZ, "--out", "p.jsonl", "--max-per-kind", "-1"),
         "--max-per-kind"),
        (("train", "grpo", "--target", "organism:flawed", "--reward", "rm", "--out", "o",
          "--lr", "-1"),
         "learning_rate > 0"),
        (("train", "reward", "--target", QUIZ, "--pairs", "p.jsonl", "--out", "o", "--epochs",
          "0"), "epochs > 0"),
        (("train", "dpo", "--target", QUIZ, "--pairs", "p.jsonl", "--out", "o", "--max-steps",
          "0"), "--max-steps must be -1 (all) or at least 1"),
        (("train", "dpo", "--target", QUIZ, "--pairs", "p.jsonl", "--out", "a-file"),
         "--out a-file is a file"),
        (("train", "preferences", "--target", QUIZ, "--out", "."), "is a folder"),
        (("train", "preferences", "--target", QUIZ, "--out", "p" * 256), "File name too long"),
        (("interpret", "steer", "--target", "organism:flawed", "--preset", "sycophancy",
          "--scale", "nan", "--out", "v.npz"), "--scale must be a finite number"),
    ],
)  # fmt: skip
def test_bad_training_options_fail_before_any_work(
    tmp_path: Path, args: tuple[str, ...], fragment: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "p.jsonl").write_text('{"prompt": "q", "chosen": "a", "rejected": "b"}\n')
    proc = run_cli(*args, cwd=tmp_path, env=ENV)
    _assert_one_line_error(proc, fragment)
    assert (tmp_path / "a-file").read_text() == "not a folder"
    assert not (tmp_path / "o").exists() and not (tmp_path / "v.npz").exists()


def test_reports_are_written_again_from_the_store_and_replacing_is_said(
    store_with_run: Path,
) -> None:
    """A failed report write left no way back to the reports but a new run."""
    here = store_with_run.parent
    (run,) = json.loads(run_cli("runs", "list", "--json", "--store", str(store_with_run)).stdout)[
        "runs"
    ]
    again = run_cli("runs", "show", run["id"], "--out", str(here / "again"), "--store",
                    str(store_with_run), cwd=here)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert json.loads((here / "again" / "report.json").read_text())["run_id"] == run["id"]
    assert sorted(p.name for p in (here / "again").iterdir()) == [
        "junit.xml", "report.html", "report.json"]  # fmt: skip
    other = run_cli("audit", "--target", QUIZ, "--checks", "capability.facts", "--max-items",
                    "3", "--out", str(here / "again"), "--store", str(store_with_run),
                    cwd=here, env=ENV)  # fmt: skip
    assert f"note: replacing the reports of run {run['id']}" in other.stderr
    # a user's own files of those names were replaced without a word
    mine = here / "mine"
    mine.mkdir()
    (mine / "report.html").write_text("<p>my notes</p>")
    (mine / "report.json").write_text('{"mine": 1}')
    theirs = run_cli("audit", "--target", QUIZ, "--checks", "capability.facts", "--max-items",
                     "3", "--out", str(mine), "--store", str(store_with_run), cwd=here,
                     env=ENV)  # fmt: skip
    assert f"note: replacing report.html, report.json in {mine}" in theirs.stderr


def test_gate_refuses_a_run_as_its_own_baseline_and_notes_cut_runs(store_with_run: Path) -> None:
    """A run gated against itself passed; a run cut by --budget passed without a word."""
    here, db = store_with_run.parent, str(store_with_run)
    (run,) = json.loads(run_cli("runs", "list", "--json", "--store", db).stdout)["runs"]
    proc = run_cli("runs", "gate", run["id"], "--baseline", run["id"], "--store", db, cwd=here)
    _assert_one_line_error(proc, "is its own --baseline")
    cut = run_cli("audit", "--target", QUIZ, "--checks", "capability.facts", "--max-items", "20",
                  "--budget", "0.001", "--store", db, "--out", str(here / "cut"), "--json",
                  cwd=here, env=ENV)  # fmt: skip
    cut_id = json.loads(cut.stdout)["run_id"]
    gated = run_cli("runs", "gate", cut_id, "--baseline", run["id"], "--store", db, cwd=here)
    assert f"note: run {cut_id}:" in gated.stderr and "not sent (budget ran out)" in gated.stderr


def test_control_characters_from_an_app_never_reach_the_terminal(tmp_path: Path) -> None:
    """An app's error with ESC sequences cleared the screen and set the terminal's title."""
    app = tmp_path / "esc_app.py"
    app.write_text(
        "def boom(messages):\n"
        "    raise RuntimeError('\\x1b]0;PWN\\x07\\x1b[2J\\x1b[31mRED \\u202e evil')\n",
        encoding="utf-8",
    )
    db = tmp_path / "s.db"
    proc = run_cli("audit", "--target", f"python:{app}:boom", "--checks", "capability.facts",
                   "--max-items", "2", "--store", str(db), "--out", str(tmp_path / "o"),
                   env={"ALIGNKIT_LOG": "WARNING"})  # fmt: skip
    shown = run_cli("runs", "list", "--store", str(db))
    for text in (proc.stdout, proc.stderr, shown.stdout, shown.stderr):
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "PWN" in proc.stderr and "[U+202E]" in proc.stderr  # shown, not obeyed


@pytest.mark.parametrize(
    "args",
    [
        ("interpret", "steer", "--preset", "sycophancy", "--target", "organism:flawed", "--out"),
        ("interpret", "probe", "--target", "organism:flawed", "--save"),
    ],
)
def test_interpret_outputs_under_a_file_are_refused_before_the_work(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    """The vector or probe was built first (15 s), then lost to an internal error; a name
    over 255 bytes was an internal error from the is-it-a-folder test."""
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    proc = run_cli(*args, str(blocker / "v.npz"))
    _assert_one_line_error(proc, "its folder cannot be created or written")
    _assert_one_line_error(run_cli(*args, str(tmp_path / ("v" * 256))), "File name too long")


@pytest.mark.parametrize(
    "uri",
    [
        "openai:ftp://bob:s3cretpw@127.0.0.1:9/v1#m",
        "opneai:http://bob:s3cretpw@127.0.0.1:9/v1#m",
        "openai:http://bob:s3cret/pw@127.0.0.1:9/v1#m",
        "openai:http://bob:s3cret#pw@127.0.0.1:9/v1#m",
        " openai:http://bob:s3cretpw@127.0.0.1:9/v1#m",  # pasted with a space
        "openai:HTTP://bob:s3cretpw@127.0.0.1:9/v1#m",
        "OpenAI:http://bob:s3cretpw@127.0.0.1:9/v1#m",
        "openai:bob:s3cretpw@127.0.0.1:9/v1#m",  # no http://
    ],
)
def test_a_refused_target_uri_never_shows_its_password(uri: str, tmp_path: Path) -> None:
    """Errors quoted the raw URI: a wrong scheme, a non-http URL, or a password with an
    unencoded '/' or '#' printed the password."""
    proc = run_cli("audit", "--target", uri, "--store", str(tmp_path / "s.db"), cwd=tmp_path)
    _assert_one_line_error(proc)
    assert "s3cret" not in proc.stderr + proc.stdout and "***" in proc.stderr


def test_an_out_path_that_cannot_exist_is_bad_input_not_an_internal_error(
    tmp_path: Path,
) -> None:
    """A 256-byte name and a symlink loop as --out were "internal error" (exit 3)."""
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    for out, says in ((tmp_path / ("a" * 256), "File name too long"),
                      (tmp_path / "loop1", "a symlink loop")):  # fmt: skip
        proc = run_cli("audit", "--target", QUIZ, "--max-items", "1", "--out", str(out),
                       "--store", str(tmp_path / "s.db"), cwd=tmp_path)  # fmt: skip
        _assert_one_line_error(proc, says)
    assert not (tmp_path / "s.db").exists()  # refused before any work


def test_a_name_that_is_not_utf8_is_bad_input_not_an_internal_error(tmp_path: Path) -> None:
    """`monitor check $'f\\xff.csv' --json` and `runs list --store $'bad\\xff.db'` were
    internal errors (exit 3): the name reached JSON or SQLite as a lone surrogate."""
    import os

    log = tmp_path / os.fsdecode(b"f\xff.csv")
    log.write_text("step,reward,gold\n" + "".join(f"{i},{i},{i}\n" for i in range(8)))
    store = str(tmp_path / os.fsdecode(b"bad\xff.db"))
    for args in (("monitor", "check", str(log), "--json"), ("runs", "list", "--store", store)):
        _assert_one_line_error(run_cli(*args, cwd=tmp_path), "is not UTF-8 text")


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("interpret", "steer", "--target", "organism:flawed", "--pairs", "{in}", "--out"),
         "--pairs"),
        (("interpret", "probe", "--target", "organism:flawed", "--prompts", "{in}", "--save"),
         "--prompts"),
        (("train", "bon", "--target", "organism:flawed", "--reward", "rm", "--prompts", "{in}",
          "--out"), "--prompts"),
        (("train", "preferences", "--import", "{in}", "--out"), "--import #1"),
    ],
)  # fmt: skip
def test_an_output_that_is_the_input_is_refused_and_the_input_kept(
    tmp_path: Path, args: tuple[str, ...], option: str
) -> None:
    """`--out` naming the file being read replaced the user's pairs or prompts (bon with no
    note, written in place) with the command's output."""
    source = tmp_path / "rows.jsonl"
    source.write_text('{"prompt": "What is the capital of Nethistan?"}\n')
    before = _digest(source)
    (tmp_path / "link.jsonl").symlink_to(source)
    for given in (source, tmp_path / "link.jsonl"):  # the same file by another name too
        filled = [str(source) if a == "{in}" else a for a in args]
        proc = run_cli(*filled, str(given), cwd=tmp_path)
        _assert_one_line_error(proc, f"is the {option} file being read")
    assert _digest(source) == before


def test_an_output_inside_an_input_folder_is_refused(tmp_path: Path) -> None:
    """`train bon --out RM/ensemble.json` wrote JSONL over the ensemble it had read."""
    rm = tmp_path / "rm"
    rm.mkdir()
    (rm / "ensemble.json").write_text("{}")
    proc = run_cli("train", "bon", "--target", "organism:flawed", "--reward", str(rm),
                   "--out", str(rm / "ensemble.json"), cwd=tmp_path)  # fmt: skip
    _assert_one_line_error(proc, "is inside the --reward folder being read")
    assert (rm / "ensemble.json").read_text() == "{}"


def test_best_of_n_refuses_an_n_it_cannot_hold(tmp_path: Path) -> None:
    """--n 10**12 ran out of memory (an internal error) after loading the ensemble."""
    proc = run_cli("train", "bon", "--target", "organism:flawed", "--reward", "rm",
                   "--n", str(10**12), cwd=tmp_path)  # fmt: skip
    _assert_one_line_error(proc, "--n must be at most")
