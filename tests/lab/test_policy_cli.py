"""The ``policy:`` target, the ``lab.policy_gap`` check, and the ``alignkit lab`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli.cli_helpers import main_in_process, run_cli

from alignkit.core import CHECKS, ConfigError, TargetError, TargetKind
from alignkit.lab import load_policy, make_env, train_q
from alignkit.models import open_target


def test_policy_scheme_opens_a_saved_q_table(tmp_path: Path) -> None:
    path = train_q(make_env("Engagement"), 300, seed=0).save(tmp_path / "e.npz")
    target = open_target(f"policy:{path}@alignkit/Engagement-v0")
    assert target.kind is TargetKind.POLICY and "lab.policy_gap" in CHECKS
    with pytest.raises(ConfigError):
        open_target(f"policy:{path}")
    with pytest.raises(TargetError):
        open_target(f"policy:{tmp_path / 'missing.npz'}@alignkit/Engagement-v0")


def test_a_policy_for_another_environment_is_refused(tmp_path: Path) -> None:
    """Same-sized spaces audited as valid (exit 0); other sizes failed the check (exit 1)."""
    import numpy as np

    absent = train_q(make_env("AbsentSupervisor"), 200, seed=1).save(tmp_path / "as.npz")
    with pytest.raises(ConfigError, match="trained on alignkit/AbsentSupervisor-v0"):
        open_target(f"policy:{absent}@alignkit/OffSwitch-v0")
    bare = tmp_path / "bare.npz"
    np.savez(bare, q=np.zeros((3, 7)), env_id=np.array(""), kind=np.array("q"))
    with pytest.raises(ConfigError, match="3 states and 7 actions"):
        open_target(f"policy:{bare}@alignkit/BoatRace-v0")
    np.savez(bare, q=np.full((16, 4), np.nan), env_id=np.array(""), kind=np.array("q"))
    with pytest.raises(ConfigError, match="finite"):
        open_target(f"policy:{bare}@alignkit/BoatRace-v0")


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
    return main_in_process(capsys, *args)


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
    # each finding names its environment's experiment (all said "lab.gaming"), and the
    # JUnit suites are the experiments that ran, none of them empty
    assert {f["check"] for f in report["findings"]} == {"gaming.LavaShift"}
    junit = (out / "junit.xml").read_text()
    assert 'testsuite name="gaming.LavaShift"' in junit and 'tests="0"' not in junit
    code, _, stderr = _main(
        capsys, "lab", "run", "--only", "gaming", "--envs", "NoSuchEnv", "--out", str(out)
    )
    assert code == 2 and "NoSuchEnv" in stderr and "Traceback" not in stderr
    code, _, stderr = _main(capsys, "lab", "run", "--only", "gaming", "--envs", "", "--out",
                            str(out))  # fmt: skip
    assert code == 2 and "names no environment" in stderr  # it ran all 11


def test_lab_train_refuses_bad_output_before_training_and_says_when_untested(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--out problems surfaced only after training (exit 3); a short run said "gaming": false."""
    for out, agent, fragment in (
        (tmp_path, "q", "is a folder"),
        (tmp_path / "p.zip", "q", "saved as .npz"),
        (tmp_path / "p.npz", "ppo", "saved as .zip"),
    ):
        code, _, stderr = _main(capsys, "lab", "train", "BoatRace", "--agent", agent,
                                "--steps", "100", "--out", str(out))  # fmt: skip
        assert code == 2 and fragment in stderr, stderr
    code, _, stderr = _main(capsys, "lab", "train", "BoatRace", "--seed", "-1")
    assert code == 2 and "--seed" in stderr
    code, stdout, stderr = _main(capsys, "lab", "train", "BoatRace", "--steps", "300",
                                 "--out", str(tmp_path / "short.npz"), "--json")  # fmt: skip
    verdict = json.loads(stdout)["verdict"]
    assert code == 0 and verdict["gaming"] is None and verdict["describe"].startswith("not tested")
    assert "replacing" not in stderr
    code, _, stderr = _main(capsys, "lab", "train", "BoatRace", "--steps", "300",
                            "--out", str(tmp_path / "short.npz"), "--json")  # fmt: skip
    assert code == 0 and f"note: replacing {tmp_path / 'short.npz'}" in stderr  # was silent


def test_lab_train_ppo_logs_each_tenth_of_the_run(tmp_path: Path) -> None:
    """The PPO log listed only intent evaluations and the last reward, and printed nothing."""
    pytest.importorskip("stable_baselines3")
    out = tmp_path / "p.zip"
    args = ("lab", "train", "BoatRace", "--agent", "ppo", "--steps", "2000", "--out", str(out))
    proc = run_cli(*args, "--json")
    assert proc.returncode == 0, proc.stderr
    log = json.loads(proc.stdout)["log"]
    assert len(log) == 10 and [r["steps"] for r in log] == sorted(r["steps"] for r in log)
    assert log[0]["steps"] >= 200 and log[-1]["steps"] >= 2000
    assert sum(r["episodes"] for r in log) > 0 and all(r["reward"] is not None for r in log)
    assert any(r["events"] for r in log)
    shown = run_cli(*args)
    assert shown.stderr.count("steps ") == 10
    # the file records its environment: one with the same sizes audited as valid (exit 0)
    assert load_policy(out).env_id == "alignkit/BoatRace-v0"  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="trained on alignkit/BoatRace-v0"):
        open_target(f"policy:{out}@alignkit/PauseGame-v0")
