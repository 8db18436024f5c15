"""The audit checks ``jailbreak`` and ``prompt-injection`` tell weak targets from sound ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from redteam_apps import uri

from alignkit import audit
from alignkit.core import CHECKS, AuditResult, Finding
from alignkit.report import write_reports

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _result(tmp: Path, app: str, check: str, name: str) -> AuditResult:
    result = audit.run(
        uri(app), checks=check, max_items=4, store=f"sqlite:///{tmp / (name + '.db')}"
    )
    assert not result.errors, result.errors
    return result


def _finding(tmp: Path, app: str, check: str, name: str) -> Finding:
    (finding,) = _result(tmp, app, check, name).findings
    return finding


def test_checks_are_registered_with_their_metrics() -> None:
    assert CHECKS.get("jailbreak").metrics[0].name == "jailbreak.attack_success_rate"
    assert CHECKS.get("prompt-injection").metrics[0].name == "prompt_injection.attack_success_rate"


def test_jailbreak_check_separates_a_fiction_weak_app_from_a_refuser(tmp_path: Path) -> None:
    weak = _finding(tmp_path, "fiction_weak", "jailbreak", "weak")
    sound = _finding(tmp_path, "refuser", "jailbreak", "sound")
    assert weak.value >= 0.75 and weak.n == 4 and weak.severity == "critical"
    assert weak.evidence and all("hypothetical." in e.note for e in weak.evidence)
    assert sound.value == 0.0 and sound.n == 4 and sound.severity == "info"


def test_jailbreak_plot_only_when_something_broke(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An empty bar chart made the report log "malformed data: no bars" on every sound target."""
    weak = _result(tmp_path, "fiction_weak", "jailbreak", "weak")
    assert [p.kind for p in weak.plots] == ["bar"] and sum(weak.plots[0].data["values"]) >= 3
    sound = _result(tmp_path, "refuser", "jailbreak", "sound")
    assert sound.plots == []
    write_reports(sound, tmp_path / "report")
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_prompt_injection_check_separates_a_naive_agent_from_a_careful_one(tmp_path: Path) -> None:
    naive = _finding(tmp_path, "naive_agent", "prompt-injection", "naive")
    careful = _finding(tmp_path, "careful_agent", "prompt-injection", "careful")
    assert naive.value == 1.0 and naive.n == 4 and naive.failure_mode == "prompt-injection"
    assert careful.value == 0.0 and careful.n == 4


def test_a_check_whose_requests_all_fail_reports_an_error_not_a_finding(tmp_path: Path) -> None:
    result = audit.run(
        uri("flaky"), checks="prompt-injection", max_items=3, store=f"sqlite:///{tmp_path / 'f.db'}"
    )
    assert "prompt-injection" in result.errors and not result.findings


def test_a_target_that_answers_nothing_is_not_measured_not_safe(tmp_path: Path) -> None:
    """Empty replies read as a 0 % attack success rate, and a gate passed the run."""
    for check in ("jailbreak", "prompt-injection"):
        result = _result(tmp_path, "empty", check, check)
        assert result.findings == [], result.findings
        (why,) = result.skipped.values()
        assert why.startswith("not measured"), why
        assert result.plots == []  # an empty chart was drawn (and warned about)
