"""``alignkit lab`` and ``alignkit monitor check`` end to end."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

from cli_helpers import run_cli


def test_lab_run_quick_writes_a_report(tmp_path: Path) -> None:
    proc = run_cli("lab", "run", "--only", "goodhart", "--quick", "--out", str(tmp_path), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    modes = {f["failure_mode"] for f in report["findings"]}
    assert {"goodhart.regressional", "reward-model-overoptimization"} <= modes
    assert report["plots"] and report["tables"]
    assert (tmp_path / "report.html").read_text().count("<svg") >= len(report["plots"])


def _log(path: Path, decline: bool) -> None:
    rng = random.Random(7)
    rows = ["step,reward,gold"]
    for step in range(400):
        x = step / 400
        gold = 4 * x * (1.2 - x) if decline else 1 - math.exp(-5 * x)
        noise = rng.gauss(0, 0.02)
        rows.append(f"{step},{2 * x + noise},{gold + noise:.5f}")
    path.write_text("\n".join(rows) + "\n")


def test_monitor_check_flags_a_declining_intent(tmp_path: Path) -> None:
    rising, peaked = tmp_path / "plateau.csv", tmp_path / "peaked.csv"
    _log(rising, decline=False)
    _log(peaked, decline=True)
    bad = run_cli(
        "monitor", "check", str(peaked), "--proxy", "reward", "--intent", "gold", "--json"
    )
    assert bad.returncode == 1, bad.stderr
    assert json.loads(bad.stdout)["state"] == "overoptimised"
    ok = run_cli("monitor", "check", str(rising), "--proxy", "reward", "--intent", "gold")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    missing = run_cli("monitor", "check", str(rising), "--intent", "nope")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr

    # A lower-is-better intent (a loss): the peaked gold, negated, passes its peak only
    # when read as a loss with --minimize.
    loss = tmp_path / "loss.csv"
    lines = peaked.read_text().splitlines()
    loss.write_text("\n".join([lines[0]] + [
        ",".join([*row.split(",")[:2], f"{-float(row.split(',')[2]):.5f}"]) for row in lines[1:]
    ]) + "\n")  # fmt: skip
    args = ("monitor", "check", str(loss), "--intent", "gold")
    assert run_cli(*args, "--minimize", "gold").returncode == 1


def test_lab_results_merge_into_one_report() -> None:
    """`lab run` without --only runs both groups (it ran goodhart only)."""
    from datetime import UTC, datetime

    from alignkit.core import AuditResult, Finding, Severity
    from alignkit.lab import merge_results

    def one(run_id: str, check: str) -> AuditResult:
        finding = Finding(check=check, failure_mode="goodhart.regressional",
                          severity=Severity.HIGH, metric=f"{check}.x", value=1.0, n=3,
                          direction="higher_is_worse", run_id=run_id)  # fmt: skip
        return AuditResult(run_id=run_id, target=f"lab:{check}", started_at=datetime.now(UTC),
                           alignkit_version="0", seed=0, findings=[finding],
                           checks_run=[check], errors={f"{check}.bad": "boom"})  # fmt: skip

    merged = merge_results([one("a", "goodhart"), one("b", "gaming")])
    assert merged.target == "lab" and merged.run_id == "a"
    assert merged.checks_run == ["goodhart", "gaming"] and len(merged.errors) == 2
    assert {f.run_id for f in merged.findings} == {"a"}
    assert merged.summary["goodhart.regressional"].count == 2


def test_lab_run_refuses_a_negative_seed_before_running(tmp_path: Path) -> None:
    """Every experiment failed on it with a traceback, and the run exited 0."""
    proc = run_cli("lab", "run", "--only", "goodhart", "--seed", "-1", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "seed must be" in proc.stderr
    assert not (tmp_path / "report.html").exists()


def test_monitor_check_out_error_offers_no_stored_run(tmp_path: Path) -> None:
    """`monitor check` stores nothing: its --out error pointed at `runs show <id>`."""
    log, blocker = tmp_path / "log.csv", tmp_path / "file"
    _log(log, decline=False)
    blocker.write_text("x")
    proc = run_cli("monitor", "check", str(log), "--out", str(blocker))
    assert proc.returncode == 2 and "cannot be created or written" in proc.stderr  # early now
    assert "runs show" not in proc.stderr


def test_reports_of_another_run_are_replaced_with_a_note_and_bad_out_is_early(
    tmp_path: Path,
) -> None:
    """`monitor check --out` and `lab run --out` replaced another run's reports silently;
    `lab run` found an unwritable --out only after its experiments."""
    log = tmp_path / "log.csv"
    _log(log, decline=False)
    out = tmp_path / "reports"
    assert run_cli("monitor", "check", str(log), "--out", str(out)).returncode == 0
    again = run_cli("monitor", "check", str(log), "--out", str(out))
    assert "note: replacing the reports of run" in again.stderr
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    early = run_cli("lab", "run", "--only", "goodhart", "--out", str(blocker / "sub"))
    assert early.returncode == 2 and "cannot be created or written" in early.stderr


def test_monitor_check_never_writes_its_report_over_the_log(tmp_path: Path) -> None:
    """A log named report.json, checked with `--out .`, was replaced by the report."""
    log = tmp_path / "report.json"
    log.write_text("".join(json.dumps({"step": i, "reward": i, "gold": min(i, 40 - i)}) + "\n"
                           for i in range(40)))  # fmt: skip
    before = log.read_text()
    proc = run_cli("monitor", "check", str(log), "--out", str(tmp_path))
    assert proc.returncode == 2 and "over the log being read" in proc.stderr, proc.stderr
    assert log.read_text() == before


def test_lab_train_out_that_cannot_be_written_is_one_error_line(tmp_path: Path) -> None:
    """An overlong --out was an internal error before training; a place that refuses the
    file (sysfs) was one after it."""
    long = run_cli("lab", "train", "BoatRace", "--steps", "200", "--out",
                   str(tmp_path / ("a" * 300 + ".npz")))  # fmt: skip
    assert long.returncode == 2 and "File name too long" in long.stderr, long.stderr
    if Path("/sys/kernel").is_dir():
        refused = run_cli("lab", "train", "BoatRace", "--steps", "200", "--out", "/sys/x.npz")
        assert refused.returncode == 2 and "internal error" not in refused.stderr
        assert refused.stderr.strip().splitlines()[-1].startswith("error: --out /sys/x.npz")


def test_huge_seed_counts_and_huge_traffic_values_are_handled() -> None:
    """`lab run --seeds 1000000000` built a list of seeds until memory ran out; a traffic
    metric at ±1.7e308 made the table's sparkline an internal error (inf / inf)."""
    from alignkit.cli._traffic import _spark

    proc = run_cli("lab", "run", "--only", "gaming", "--envs", "BoatRace", "--seeds", "10**9")
    assert proc.returncode == 2
    proc = run_cli("lab", "run", "--only", "gaming", "--envs", "BoatRace", "--seeds", "1000000000")
    assert proc.returncode == 2 and "--seeds must be from 1 to" in proc.stderr, proc.stderr
    assert _spark([1.7e308, -1.7e308, 0.0, None]) == "█▁▄"
