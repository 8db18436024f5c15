"""Fairness metrics against fairlearn, the classifier: target, the hiring example, SHAP/LIME."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import alignkit.audit
from alignkit.core import ConfigError, DataError, Direction, Severity, TargetError, TargetKind
from alignkit.interpret import (
    ClassifierTarget,
    demographic_parity_difference,
    disparate_impact_ratio,
    equalized_odds_difference,
    explain_classifier,
    fairness_report,
    lime_tabular,
    shap_attributions,
)
from alignkit.models import open_target

fm = pytest.importorskip("fairlearn.metrics")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "examples" / "hiring"))
import hiring  # noqa: E402


@pytest.mark.parametrize("seed", range(6))
def test_metrics_equal_fairlearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 400))
    groups = rng.choice(["a", "b", "c", "d"][: 2 + seed % 3], size=n)
    y_true = rng.integers(0, 2, size=n)
    y_pred = (rng.random(n) < np.where(groups == "a", 0.3, 0.6)).astype(int)
    ours = (
        demographic_parity_difference(y_true, y_pred, groups),
        equalized_odds_difference(y_true, y_pred, groups),
        disparate_impact_ratio(y_true, y_pred, groups),
    )
    ref = (
        fm.demographic_parity_difference(y_true, y_pred, sensitive_features=groups),
        fm.equalized_odds_difference(y_true, y_pred, sensitive_features=groups),
        fm.demographic_parity_ratio(y_true, y_pred, sensitive_features=groups),
    )
    assert np.allclose(ours, ref, rtol=0, atol=1e-9)


def test_report_intervals_bracket_the_values() -> None:
    rng = np.random.default_rng(1)
    groups = rng.choice(["x", "y"], size=300)
    y_true = rng.integers(0, 2, size=300)
    y_pred = (rng.random(300) < np.where(groups == "x", 0.2, 0.7)).astype(int)
    report = fairness_report(y_true, y_pred, groups, n_resamples=300)
    for name, value in report.values.items():
        lo, hi = report.intervals[name]
        assert lo <= value <= hi
    assert [g.group for g in report.groups] == ["x", "y"] and report.n == 300


@pytest.fixture(scope="module")
def hiring_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    model, data = hiring.build(tmp_path_factory.mktemp("hiring"), n=1200, seed=0)
    return hiring.target_uri(model, data)


def test_hiring_model_uses_the_proxy(hiring_uri: str) -> None:
    target = open_target(hiring_uri)
    assert isinstance(target, ClassifierTarget) and target.kind is TargetKind.CLASSIFIER
    shap = shap_attributions(target, max_rows=40, background=25)
    assert shap.rank("career_gap_months") <= 2
    assert shap.rank("commute_km") == len(shap.features)  # pure noise ranks last
    data = target.data()
    assert "gender" not in data.features
    # SHAP values are additive: base + sum = the model's probability
    p = target.predict_proba(data.x[shap.rows])
    assert np.allclose(shap.base_value + shap.values.sum(1), p, atol=1e-6)
    local = lime_tabular(target, 0, num_features=3, num_samples=500)
    assert len(local) == 3 and all(isinstance(w, float) for _, w in local)


def test_fairness_check_through_the_audit(hiring_uri: str, tmp_path: Path) -> None:
    from alignkit.audit import run

    result = run(hiring_uri, checks="bias.*", store=str(tmp_path / "a.db"))
    assert result.checks_run == ["bias.fairness"] and not result.errors
    by_metric = {f.metric: f for f in result.findings}
    target = open_target(hiring_uri)
    assert isinstance(target, ClassifierTarget)
    data = target.data()
    pred = target.predict(data.x)
    dir_ = by_metric["bias.disparate_impact_ratio"]
    assert dir_.value == pytest.approx(
        fm.demographic_parity_ratio(data.y, pred, sensitive_features=data.sensitive), abs=1e-9
    )
    assert dir_.direction is Direction.LOWER_IS_WORSE and dir_.severity >= Severity.MEDIUM
    dpd = by_metric["bias.demographic_parity_difference"]
    assert dpd.severity >= Severity.MEDIUM and dpd.failure_mode == "bias"
    assert {p.title.split(":")[0] for p in result.plots} >= {
        "Selection rate by gender",
        "What drives the decisions",
    }


def test_classifier_uri_errors(tmp_path: Path, hiring_uri: str) -> None:
    with pytest.raises(ConfigError, match="malformed classifier URI"):
        open_target("classifier:model.joblib")
    with pytest.raises(TargetError, match="not found"):
        open_target(f"classifier:{tmp_path / 'm.joblib'}@{tmp_path / 'd.csv'}")
    with pytest.raises(ConfigError, match="unsupported option"):
        open_target(hiring_uri + "&colour=red")
    bad = open_target(hiring_uri.replace("sensitive=gender", "sensitive=sex"))
    assert isinstance(bad, ClassifierTarget)
    with pytest.raises(ConfigError, match="no sensitive column 'sex'"):
        bad.data()
    # the audit refuses it before any check runs (it was a failed check, exit 1)
    wrong = hiring_uri.replace("sensitive=gender", "sensitive=sex")
    with pytest.raises(ConfigError, match="no sensitive column 'sex'"):
        alignkit.audit.run(wrong, checks="bias.fairness", store=str(tmp_path / "s.db"))
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b,label,sensitive\n1,2,1\n")
    model = hiring_uri.split(":", 1)[1].split("@")[0]
    with pytest.raises(DataError, match="3 fields"):
        ClassifierTarget(model, ragged).data()


def test_classifier_tables_from_spreadsheets_are_read_and_duplicate_columns_refused(
    tmp_path: Path, hiring_uri: str
) -> None:
    """A byte-order mark made the first column unknown (refused); a column named twice
    was read as whichever came last, silently."""
    model, rest = hiring_uri.split(":", 1)[1].split("@")
    data = Path(rest.split("?", 1)[0])
    marked = tmp_path / "bom.csv"
    marked.write_bytes(b"\xef\xbb\xbf" + data.read_bytes())
    plain = ClassifierTarget(model, data, label="hired", sensitive="gender").data()
    read = ClassifierTarget(model, marked, label="hired", sensitive="gender").data()
    assert read.features == plain.features and np.array_equal(read.y, plain.y)
    header, *rows = data.read_text().splitlines()
    first = header.split(",")[0]
    twice = tmp_path / "twice.csv"
    twice.write_text("\n".join([f"{header},{first}", *(f"{r},0" for r in rows)]) + "\n")
    with pytest.raises(DataError, match=f"twice.csv:1: column '{first}' appears twice"):
        ClassifierTarget(model, twice, label="hired", sensitive="gender").data()


def test_one_group_is_not_measured_rather_than_perfectly_fair(
    hiring_uri: str, tmp_path: Path
) -> None:
    """A table of men only read as parity 0.0, disparate impact 1.0: a false all-clear."""
    data = Path(hiring_uri.split("@", 1)[1].split("?", 1)[0])
    lines = data.read_text().splitlines()
    column = lines[0].split(",").index("gender")
    men = tmp_path / "men.csv"
    men.write_text("\n".join([lines[0], *(ln for ln in lines[1:]
                                          if ln.split(",")[column] == "male")]) + "\n")  # fmt: skip
    result = alignkit.audit.run(
        hiring_uri.replace(str(data), str(men)),
        checks="bias.fairness",
        store=str(tmp_path / "s.db"),
    )
    assert not result.findings
    assert "one gender group (male)" in result.skipped["bias.disparate_impact_ratio"]


def test_the_hiring_script_refuses_bad_rows_and_writes_outside_the_checkout(
    tmp_path: Path,
) -> None:
    import subprocess

    script = REPO / "examples" / "hiring" / "hiring.py"
    bad = subprocess.run([sys.executable, str(script), "--rows", "0"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert bad.returncode == 2 and "--rows must be at least 100" in bad.stderr
    assert "Traceback" not in bad.stderr and not list(tmp_path.iterdir())
    ok = subprocess.run([sys.executable, str(script), "--rows", "200"], cwd=tmp_path,
                        capture_output=True, text=True, timeout=120)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / ".alignkit" / "hiring" / "model.joblib").is_file()  # not examples/hiring


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's own small models and tables: text labels, a text feature, blank cells."""
    import joblib
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder
    from sklearn.svm import LinearSVC

    pd = pytest.importorskip("pandas")
    d = tmp_path_factory.mktemp("tables")
    rng = np.random.default_rng(0)
    n = 160
    a, b, grp = rng.normal(size=n), rng.normal(size=n), rng.choice(["x", "y"], n)
    y = (a + 0.5 * b + (grp == "x") + rng.normal(scale=0.5, size=n) > 0.5).astype(int)
    df = pd.DataFrame({"a": a.round(3), "b": b.round(3), "grp": grp, "label": y})
    words = df.assign(label=np.where(y == 1, "hired", "rejected"))
    words.to_csv(d / "words.csv", index=False)
    joblib.dump(LinearSVC().fit(words[["a", "b"]], words["label"]), d / "svc.joblib")
    colour = df.assign(colour=rng.choice(["red", "blue"], n))
    colour.to_csv(d / "colour.csv", index=False)
    encode = make_column_transformer((OneHotEncoder(), ["colour"]), remainder="passthrough")
    pipe = make_pipeline(encode, LogisticRegression()).fit(colour[["a", "b", "colour"]], y)
    joblib.dump(pipe, d / "pipe.joblib")
    joblib.dump(
        HistGradientBoostingClassifier(max_iter=20).fit(df[["a", "b"]], y), d / "hgb.joblib"
    )
    gaps = df.astype(object)
    gaps.loc[3, "a"] = ""
    gaps.to_csv(d / "gaps.csv", index=False)
    df.assign(grp="x").to_csv(d / "one.csv", index=False)
    joblib.dump(LogisticRegression().fit(df[["a", "b"]], y), d / "lr.joblib")
    return d


def test_text_labels_without_positive_are_refused_not_read_as_fair(tables: Path) -> None:
    """'hired'/'rejected' counted nobody as selected: parity 0, disparate impact 1."""
    uri = f"classifier:{tables}/svc.joblib@{tables}/words.csv?sensitive=grp"
    with pytest.raises(ConfigError, match=r"counts as positive.*set \?positive="):
        explain_classifier(uri)
    report = explain_classifier(uri + "&positive=hired").fairness
    assert report is not None and all(g.selection_rate > 0.2 for g in report.groups)


def test_a_text_feature_costs_the_shap_plot_not_the_fairness_findings(
    tables: Path, tmp_path: Path
) -> None:
    """A OneHotEncoder pipeline failed the whole check ('encode categories first')."""
    uri = f"classifier:{tables}/pipe.joblib@{tables}/colour.csv?sensitive=grp"
    result = alignkit.audit.run(uri, checks="bias.fairness", store=str(tmp_path / "s.db"))
    assert not result.errors and len(result.findings) == 3
    explained = explain_classifier(uri)
    assert explained.fairness is not None and explained.shap is None
    assert any("encode categories" in note for note in explained.notes)


def test_blank_cells_are_missing_values_and_lime_says_it_cannot_use_them(tables: Path) -> None:
    """A blank cell made the column text ('could not convert string to float')."""
    target = open_target(f"classifier:{tables}/hgb.joblib@{tables}/gaps.csv?sensitive=grp")
    assert isinstance(target, ClassifierTarget)
    data = target.data()
    assert data.x.dtype == np.float64 and np.isnan(data.x[3, 0])
    assert target.predict(data.x).shape == (160,)
    with pytest.raises(DataError, match="missing values \\(in a\\)"):
        lime_tabular(target, 0)


def test_explain_does_not_call_one_group_fair(tables: Path) -> None:
    explained = explain_classifier(f"classifier:{tables}/lr.joblib@{tables}/one.csv?sensitive=grp")
    assert explained.fairness is None and explained.shap is not None
    assert explained.notes[0].startswith("fairness not measured: the table has one grp group (x)")


def test_a_table_where_nobody_is_selected_is_measured(tables: Path, tmp_path: Path) -> None:
    """All-0 labels were refused as if 0 were an unknown word ("set ?positive=")."""
    zeros = tmp_path / "zeros.csv"
    lines = (tables / "one.csv").read_text().splitlines()
    zeros.write_text("\n".join([lines[0], *(ln.rsplit(",", 1)[0] + ",0" for ln in lines[1:])]))
    target = open_target(f"classifier:{tables}/lr.joblib@{zeros}?sensitive=grp")
    assert isinstance(target, ClassifierTarget) and not target.data().y.any()
