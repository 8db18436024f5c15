"""``monitor traffic`` over a long-running store: the history it shows is the right one."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alignkit.cli import main
from alignkit.core import Direction, Finding, Severity
from alignkit.guard import traffic_history
from alignkit.store import Store


def _finding(metric: str, value: float, severity: Severity) -> Finding:
    return Finding(check="traffic", failure_mode="distribution-shift", severity=severity,
                   metric=metric, value=value, direction=Direction.HIGHER_IS_WORSE)  # fmt: skip


def test_history_of_one_metric_survives_many_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With 20 metrics a report, the row limit cut the history before the --metric filter:
    the first alarm of a long run was reported hours late."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with Store.open(url) as store:
        feed = store.traffic()
        for report in range(700):
            findings = [
                _finding(f"traffic.m{k:02d}", 0.5 if report >= 50 else 0.0,
                         Severity.HIGH if report >= 50 and k == 0 else Severity.INFO)
                for k in range(20)
            ]  # fmt: skip
            findings.append(_finding("traffic.odd", math.nan, Severity.INFO))
            feed.add(findings, requests=report * 50, at=start + timedelta(seconds=10 * report))
    history = traffic_history(url, metric="traffic.m00")
    (m00,) = history["metrics"]
    assert history["reports"] == 700 and len(m00["history"]) == 700
    assert m00["first_alarm"]["requests"] == 2500  # report 50
    # a NaN value (stored as such) crashed the table and made --json invalid
    with pytest.raises(SystemExit) as done:
        main(["monitor", "traffic", "--store", url, "--metric", "traffic.odd", "--json"])
    assert done.value.code == 0
    (odd,) = json.loads(capsys.readouterr().out)["metrics"]
    assert odd["latest"]["value"] is None
    with pytest.raises(SystemExit) as done:
        main(["monitor", "traffic", "--store", url, "--metric", "traffic.odd"])
    assert done.value.code == 0
    with pytest.raises(SystemExit) as done:
        main(["monitor", "traffic", "--store", url, "--since", "99999999d"])
    assert done.value.code == 0  # further back than anything stored: everything


def test_a_metric_glob_is_matched_as_a_glob_not_as_sql(tmp_path: Path) -> None:
    """`--metric traffic.INPUT_LEN` found rows (SQL LIKE ignores case), then dropped them
    all: "no reports", and a --fail-on gate passed; `[n]` was matched as the text "[n]"."""
    from alignkit.core import ConfigError

    url = f"sqlite:///{tmp_path / 's.db'}"
    now = datetime.now(UTC)
    with Store.open(url) as st:
        for i in range(5):
            finding = Finding(check="traffic", failure_mode="distribution-shift",
                              severity=Severity.HIGH if i > 2 else Severity.INFO,
                              metric="traffic.input_len", value=0.1 * i,
                              direction=Direction.HIGHER_IS_WORSE)  # fmt: skip
            st.traffic().add([finding], requests=i * 10, at=now - timedelta(minutes=50 - i))
    with pytest.raises(ConfigError, match="no stored traffic metric matches"):
        traffic_history(url, metric="traffic.INPUT_LEN")
    found = traffic_history(url, metric="traffic.input_le[n]")
    assert [m["metric"] for m in found["metrics"]] == ["traffic.input_len"]
