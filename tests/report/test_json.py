from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from alignkit.core import AuditResult, Finding, Severity, summarize
from alignkit.report import CONTRACT_KEYS, to_json

FINDING_KEYS = [
    "check",
    "failure_mode",
    "severity",
    "metric",
    "value",
    "direction",
    "threshold",
    "ci_low",
    "ci_high",
    "n",
    "evidence",
    "mitigation",
    "run_id",
]


def test_contract_keys_come_first_in_design_order(result: AuditResult) -> None:
    doc = json.loads(to_json(result))
    keys = list(doc)
    assert tuple(keys[: len(CONTRACT_KEYS)]) == CONTRACT_KEYS
    assert CONTRACT_KEYS == (
        "run_id",
        "target",
        "started_at",
        "finished_at",
        "alignkit_version",
        "seed",
        "findings",
        "summary",
    )
    for extra in ("plots", "checks_run", "errors"):
        assert extra in keys[len(CONTRACT_KEYS) :]


def test_findings_are_finding_dicts(result: AuditResult) -> None:
    doc = json.loads(to_json(result))
    assert len(doc["findings"]) == len(result.findings)
    for raw, finding in zip(doc["findings"], result.findings, strict=True):
        assert list(raw) == FINDING_KEYS
        assert raw["severity"] == finding.severity.value
        assert raw["direction"] == finding.direction.value
        for item in raw["evidence"]:
            assert set(item) == {"input", "output", "note"}


def test_summary_matches_core_summarize(result: AuditResult) -> None:
    doc = json.loads(to_json(result))
    expected = {
        mode: {"worst_severity": s.worst_severity.value, "count": s.count}
        for mode, s in summarize(result.findings).items()
    }
    assert doc["summary"] == expected
    assert doc["summary"]["sycophancy"] == {"worst_severity": "high", "count": 2}
    assert list(doc["summary"]) == sorted(doc["summary"])


def test_stale_summary_is_recomputed(fresh: Callable[[], AuditResult]) -> None:
    result = fresh().model_copy(update={"summary": {}})
    doc = json.loads(to_json(result))
    assert doc["summary"]["jailbreak"] == {"worst_severity": "critical", "count": 1}


def test_timestamps_are_iso_8601(result: AuditResult) -> None:
    doc = json.loads(to_json(result))
    assert datetime.fromisoformat(doc["started_at"]) == result.started_at
    assert datetime.fromisoformat(doc["finished_at"]) == result.finished_at
    unfinished = result.model_copy(update={"finished_at": None})
    assert json.loads(to_json(unfinished))["finished_at"] is None


def test_round_trip(result: AuditResult) -> None:
    text = to_json(result)
    assert AuditResult.model_validate_json(text) == result
    assert to_json(AuditResult.model_validate_json(text)) == text


def test_output_is_deterministic(result: AuditResult, fresh: Callable[[], AuditResult]) -> None:
    assert to_json(result) == to_json(fresh())


def test_non_finite_values_still_give_valid_json(fresh: Callable[[], AuditResult]) -> None:
    bad = Finding(
        check="x",
        failure_mode="bias",
        severity=Severity.LOW,
        metric="x.m",
        value=float("nan"),
        direction="higher_is_worse",
        ci_low=float("-inf"),
    )
    result = fresh().model_copy(update={"findings": [bad]})

    def reject(token: str) -> None:
        raise AssertionError(f"invalid JSON token {token}")

    doc = json.loads(to_json(result), parse_constant=reject)
    assert doc["findings"][0]["value"] is None
    assert doc["findings"][0]["ci_low"] is None
