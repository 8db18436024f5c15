"""The ``policy:`` target, the ``lab.policy_gap`` check, and the ``alignkit lab`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli.conftest import run_cli

from alignkit.core import CHECKS, ConfigError, TargetError, TargetKind
from alignkit.lab import make_env, train_q
from alignkit.models import open_target


def test_policy_scheme_opens_a_saved_q_table(tmp_path: Path) -> None:
    path = train_q(make_env("Engagement"), 300, seed=0).save(tmp_path / "e.npz")
    target = open_target(f"policy:{path}@alignkit/Engagement-v0")
    assert target.kind is TargetKind.POLICY and "lab.policy_gap" in CHECKS
    with pytest.raises(ConfigError):
        open_target(f"policy:{path}")
    with pytest.raises(TargetError):
        open_target(f"policy:{tmp_path / 'missing.npz'}@alignkit/Engagement-v0")


def test_audit_of_a_gaming_policy_reports_the_intent_gap(tmp_path: Path) -> None:
    import alignkit.audit

    path = train_q(make_env("PauseGame"), 400, seed=0).save(tmp_path / "p.npz")
    result = alignkit.audit.run(
        f"policy:{path}@alignkit/PauseGame-v0",
        checks="lab.policy_gap",
        store=str(tmp_path / "s.db"),
        max_items=20,
    )
    (f,) = result.findings
    assert f.metric == "lab.policy.intent_share" and f.failure_mode == "reward-hacking"
    assert f.value < 0.25 and f.severity.value == "high"


def _main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process (the subprocess start-up costs seconds per call)."""
    from alignkit.cli import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_cli_list_train_and_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proc = run_cli("lab", "list", "--json")  # the installed entry point, once
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    assert len(listed["environments"]) == 11
    assert any(e["id"].startswith("gaming.") for e in listed["experiments"])
    pol = tmp_path / "pg.npz"
    code, stdout, stderr = _main(
        capsys, "lab", "train", "PauseGame", "--steps", "9000", "--seed", "1", "--out", str(pol),
        "--json",
    )  # fmt: skip
    assert code == 0, stderr
    summary = json.loads(stdout)
    assert pol.exists() and summary["target"].startswith("policy:")
    assert summary["evaluation"]["intent"] < summary["max_intent"] / 2 and summary["log"]
    out = tmp_path / "report"
    code, _, stderr = _main(
        capsys,
        "lab",
        "run",
        "--only",
        "gaming",
        "--envs",
        "LavaShift",
        "--quick",
        "--out",
        str(out),
    )
    assert code == 0, stderr
    report = json.loads((out / "report.json").read_text())
    assert report["target"] == "lab:gaming" and report["findings"]
    assert (out / "report.html").exists()
    code, _, stderr = _main(
        capsys, "lab", "run", "--only", "gaming", "--envs", "NoSuchEnv", "--out", str(out)
    )
    assert code == 2 and "NoSuchEnv" in stderr and "Traceback" not in stderr
