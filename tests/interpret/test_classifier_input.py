"""What a ``classifier:`` table may hold: ``?positive=``, blank cells, ``--features``."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from alignkit.cli import main
from alignkit.core import ConfigError, DataError
from alignkit.interpret import (
    ClassifierTarget,
    explain_classifier,
    fairness_report,
    group_rates,
)
from alignkit.models import open_target

joblib = pytest.importorskip("joblib")
linear = pytest.importorskip("sklearn.linear_model")

FEATURES = ("skill", "gap", "noise")


def _rows(n: int = 120, seed: int = 0) -> list[dict[str, str]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        gender = "female" if i % 2 else "male"
        skill, noise = rng.normal(), rng.normal()
        gap = rng.normal() + (1.0 if gender == "female" else 0.0)
        hired = int(skill - gap + 0.3 * rng.normal() > -0.5)
        out.append(
            {"skill": f"{skill:.3f}", "gap": f"{gap:.3f}", "noise": f"{noise:.3f}",
             "gender": gender, "hired": str(hired)}
        )  # fmt: skip
    return out


def _model(folder: Path) -> Path:
    rows = _rows(400, seed=1)
    x = np.array([[float(r[f]) for f in FEATURES] for r in rows])
    y = np.array([int(r["hired"]) for r in rows])  # integer classes 0 and 1
    path = folder / "model.joblib"
    joblib.dump(linear.LogisticRegression().fit(x, y), path)
    return path


def _table(folder: Path, rows: list[dict[str, str]], name: str = "data.csv") -> Path:
    path = folder / name
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*FEATURES, "gender", "hired"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def _uri(model: Path, table: Path, query: str = "") -> str:
    return f"classifier:{model}@{table}?label=hired&sensitive=gender{query}"


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _model(tmp_path_factory.mktemp("clf"))


# --------------------------------------------------------------------------- ?positive=


def test_a_positive_value_that_matches_no_label_is_refused(model: Path, tmp_path: Path) -> None:
    uri = _uri(model, _table(tmp_path, _rows()), "&positive=yes")
    with pytest.raises(ConfigError) as info:
        explain_classifier(uri)
    text = str(info.value)
    assert "?positive=yes matches no value of the label column 'hired' (values: 0, 1)" in text
    assert "np.int64" not in text and "\n" not in text


def test_the_audit_refuses_it_before_the_check_runs(model: Path, tmp_path: Path) -> None:
    from alignkit.audit import run

    uri = _uri(model, _table(tmp_path, _rows()), "&positive=yes")
    with pytest.raises(ConfigError, match=r"\?positive=yes matches no value"):
        run(uri, checks="bias.fairness", store=str(tmp_path / "a.db"))


def test_the_cli_says_it_in_one_line_and_exits_2(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = _uri(model, _table(tmp_path, _rows()), "&positive=yes")
    with pytest.raises(SystemExit) as exc:
        main(["interpret", "explain", "--target", uri])
    out = capsys.readouterr()
    assert exc.value.code == 2
    assert "bias.demographic_parity_difference" not in out.out  # no "perfectly fair" numbers
    assert "positive=yes" in out.err and "(values: 0, 1)" in out.err
    assert len(out.err.strip().splitlines()) == 1


def test_positive_given_as_text_matches_integer_labels(model: Path, tmp_path: Path) -> None:
    table = _table(tmp_path, _rows())
    given = explain_classifier(_uri(model, table, "&positive=1"))
    default = explain_classifier(_uri(model, table))
    assert given.fairness is not None and default.fairness is not None
    assert given.fairness.values == default.fairness.values
    assert given.fairness.values["bias.disparate_impact_ratio"] < 1.0  # not the empty answer


# --------------------------------------------------------------------------- blank cells


def _values(uri: str) -> dict[str, float]:
    result = explain_classifier(uri)
    assert result.fairness is not None
    return result.fairness.values


@pytest.mark.parametrize("column", ["gender", "hired"])
def test_rows_with_a_blank_cell_are_left_out_of_fairness(
    model: Path, tmp_path: Path, column: str, caplog: pytest.LogCaptureFixture
) -> None:
    rows = _rows()
    blanked = [dict(r, **{column: ""}) if i % 7 == 0 else r for i, r in enumerate(rows)]
    kept = [r for i, r in enumerate(rows) if i % 7 != 0]
    left = len(rows) - len(kept)
    with caplog.at_level(logging.WARNING):
        result = explain_classifier(_uri(model, _table(tmp_path, blanked, "blank.csv")))
    expected = explain_classifier(_uri(model, _table(tmp_path, kept, "kept.csv")))
    assert result.fairness is not None and expected.fairness is not None
    assert result.fairness.values == expected.fairness.values
    assert result.fairness.n == len(kept)
    assert [g.group for g in result.fairness.groups] == ["female", "male"]  # no '' group
    assert f"{left} of {len(rows)} row(s) left out" in caplog.text
    assert f"{left} blank {column}" in caplog.text


def test_the_check_counts_only_complete_rows(model: Path, tmp_path: Path) -> None:
    from alignkit.audit import run

    rows = _rows()
    rows[0] = dict(rows[0], gender="")
    rows[1] = dict(rows[1], hired="")
    result = run(
        _uri(model, _table(tmp_path, rows)), checks="bias.fairness", store=str(tmp_path / "a.db")
    )
    assert not result.errors and result.findings
    assert {f.n for f in result.findings} == {len(rows) - 2}
    dir_ = next(f for f in result.findings if f.metric == "bias.disparate_impact_ratio")
    assert dir_.value > 0  # a '' group never selected had made it 0


def test_no_complete_row_is_one_data_error(model: Path, tmp_path: Path) -> None:
    rows = [dict(r, hired="") if i % 2 else dict(r, gender="") for i, r in enumerate(_rows())]
    target = open_target(_uri(model, _table(tmp_path, rows)))
    assert isinstance(target, ClassifierTarget)
    with pytest.raises(DataError, match="no row has both a 'hired' and a 'gender' value"):
        target.data()


@pytest.mark.parametrize("blank", [None, float("nan"), "", "  "])
def test_group_rates_leave_out_rows_without_a_group(blank: object) -> None:
    groups = np.array(["a", "b", blank, "a", "b", blank], dtype=object)
    y_true = np.array([1, 0, 1, 0, 1, 0])
    y_pred = np.array([1, 0, 0, 1, 1, 0])
    rates = group_rates(y_true, y_pred, groups)
    assert [(r.group, r.n) for r in rates] == [("a", 2), ("b", 2)]
    assert fairness_report(y_true, y_pred, groups, n_resamples=20).n == 4


# --------------------------------------------------------------------------- --features


def test_features_limits_the_shap_list(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("shap")
    uri = _uri(model, _table(tmp_path, _rows(60)))
    with pytest.raises(SystemExit) as exc:
        main(["interpret", "explain", "--target", uri, "--features", "2", "--json"])
    out = capsys.readouterr()
    assert exc.value.code in (0, None), out.err
    importance = json.loads(out.out)["shap_importance"]
    assert len(importance) > 2  # the JSON keeps every feature; the text shows the top N
    with pytest.raises(SystemExit):
        main(["interpret", "explain", "--target", uri, "--features", "2"])
    text = capsys.readouterr().out
    ranked = [line for line in text.splitlines() if line.strip()[:2] in ("1.", "2.", "3.")]
    assert [line.split()[1] for line in ranked] == list(importance)[:2]
