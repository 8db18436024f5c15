from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from alignkit.core import DataError
from alignkit.monitor import MonitorState, check_log


def _rows(n: int = 800) -> list[dict[str, object]]:
    rng = np.random.default_rng(0)
    rows: list[dict[str, object]] = []
    for step in range(n):
        x = step / n
        row: dict[str, object] = {"global_step": step, "reward": round(x * 3, 4)}
        if step % 10 == 0:
            row["gold"] = float(4 * x * (1 - x) + rng.normal(0, 0.08))
        rows.append(row)
    return rows


def test_csv_log(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    lines = ["global_step,reward,gold"]
    lines += [f"{r['global_step']},{r['reward']},{r.get('gold', '')}" for r in _rows()]
    path.write_text("\n".join(lines), encoding="utf-8")
    result = check_log(path, proxy="reward", intent=["gold"])
    assert result.rows == 800
    assert result.status.state is MonitorState.OVEROPTIMISED
    assert 300 <= (result.status.peak_step or 0) <= 550
    audit = result.to_audit_result()
    assert audit.target == f"log:{path}"
    assert audit.summary["reward-model-overoptimization"].worst_severity.value == "high"
    assert audit.plots[0].data["x_label"] == "global_step"


def test_jsonl_log_with_nulls(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    rows = _rows()
    for r in rows:
        r.setdefault("gold", None)
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    result = check_log(path, proxy="reward", intent="gold", step="global_step")
    assert result.status.state is MonitorState.OVEROPTIMISED
    assert len(result.monitor.series("gold")[0]) == 80  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.jsonl", '{"step": 1, "reward": 1}\nnot json\n', "bad.jsonl:2 is not valid JSON"),
        ("nocol.csv", "step,reward\n1,2\n", "no column 'gold'"),
        ("empty.csv", "", "has no rows"),
        ("text.csv", "step,reward,gold\n1,a,b\n", "line 2: reward 'a' is not a number"),
        ("gaps.csv", "step,reward,gold\n1,,NA\n2,nan,-\n", "no numeric values for 'reward'"),
        ("badstep.csv", "step,reward,gold\nx,1,2\n", "step 'x' is not a number"),
        # a NaN step broke the ordering and, with it, every later alarm
        ("nanstep.csv", "step,reward,gold\n1,1,2\nnan,1,2\n", "step 'nan' is not a finite"),
        # a row number in place of a missing step landed among the real steps
        ("nostep.csv", "step,reward,gold\n1000,1,2\n,1,2\n", "line 3: the step is empty"),
        ("ragged.csv", "step,reward,gold\n1,1,2,9\n", "more cells than the header"),
        # the last of two same-named columns was read, silently
        ("twice.csv", "step,gold,reward,gold\n1,1,2,0.5\n", "column 'gold' appears twice"),
        ("under.csv", "step,reward,gold\n1,1_0,2\n", "reward '1_0' is not a number"),
        ("understep.csv", "step,reward,gold\n1_0,1,2\n", "step '1_0' is not a number"),
        (
            "bigstep.jsonl",
            '{"step": 1%s, "reward": 1, "gold": 1}\n' % ("0" * 400),
            "is not a finite number",
        ),  # fmt: skip
        (
            "bigint.jsonl",
            '{"step": 1, "reward": 1%s, "gold": 1}\n' % ("0" * 5000),
            "bigint.jsonl:1 holds a number too long to read",
        ),  # fmt: skip
        # the fits square the steps: 1e160 overflowed into an internal error
        ("hugestep.csv", "step,reward,gold\n1e160,1,2\n", "line 2: step '1e160' is out of range"),
        ("hugevalue.csv", "step,reward,gold\n1,1e160,2\n", "line 2: reward value '1e160' is out"),
        ("infgold.csv", "step,reward,gold\n1,1,inf\n", "(missing, NaN and infinite values"),
    ],
)
def test_bad_logs_raise_one_line_data_errors(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as err:
        check_log(path, proxy="reward", intent=["gold"])
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_ok_before_any_test_says_so(tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    path.write_text("step,reward,gold\n1,0.1,0.2\n2,0.2,0.3\n3,0.3,null\n", encoding="utf-8")
    status = check_log(path, proxy="reward", intent="gold").status
    assert status.state is MonitorState.OK
    assert status.describe() == (
        "ok at step 3 (not tested yet: gold 2 of the 10 values a test needs)"
    )


def test_missing_file() -> None:
    with pytest.raises(DataError, match="cannot read training log"):
        check_log("/nonexistent/log.csv")


def _plateau_lines(step: str = "step") -> list[str]:
    rng = np.random.default_rng(3)
    lines = [f"{step},reward,gold"]
    for i in range(600):
        gold = f"{min(1.0, 3 * i / 600) + rng.normal(0, 0.05):.4f}" if i % 10 == 0 else ""
        lines.append(f"{i * 100},{np.log1p(8 * i / 600):.4f},{gold}")
    return lines


def test_a_step_logged_twice_counts_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Duplicated rows (a resumed run, a concatenated export) made a plateau 'overoptimised'.

    Counting once is said: 50 rows over 10 epochs read as 10 values without a word.
    """
    lines = _plateau_lines()
    once, twice = tmp_path / "once.csv", tmp_path / "twice.csv"
    once.write_text("\n".join(lines))
    twice.write_text("\n".join([lines[0]] + [ln for ln in lines[1:] for _ in range(2)]))
    with caplog.at_level("WARNING"):
        a = check_log(once, proxy="reward", intent="gold")
    assert "log a metric again" not in caplog.text
    with caplog.at_level("WARNING"):
        b = check_log(twice, proxy="reward", intent="gold")
    assert f"{len(lines) - 1} row(s) log a metric again" in caplog.text
    assert a.status.state is not MonitorState.OVEROPTIMISED
    assert b.status.state is a.status.state
    assert len(b.monitor.series("gold")[0]) == 60  # type: ignore[union-attr]


def test_bom_and_step_header_spellings(tmp_path: Path) -> None:
    """A BOM (Excel) or a `Step` header silently turned steps into row numbers (100x off)."""
    for header in ("step", "Step", "_step"):
        path = tmp_path / f"{header}.csv"
        path.write_text("\n".join(_plateau_lines(header)), encoding="utf-8-sig")
        result = check_log(path, proxy="reward", intent="gold")
        assert result.monitor.series("gold")[0][-1] == 59000, header  # type: ignore[union-attr]


def test_trailing_empty_columns_of_a_spreadsheet_export_are_fine(tmp_path: Path) -> None:
    """`step,reward,gold,,` was refused as "column '' appears twice"."""
    path = tmp_path / "log.csv"
    rows = "".join(f"{r['global_step']},{r['reward']},{r.get('gold', '')},,\n" for r in _rows())
    path.write_text("step,reward,gold,,\n" + rows, encoding="utf-8")
    assert check_log(path).status.state is MonitorState.OVEROPTIMISED


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_line_separator_inside_a_value_and_a_long_cell_are_read(
    tmp_path: Path, suffix: str
) -> None:
    """U+2028 inside a JSON string or a CSV cell split the row (str.splitlines), and a
    logged completion over 128 KiB was "not a valid CSV file"."""
    log = tmp_path / f"log{suffix}"
    rows = [{"step": i, "reward": i, "gold": i, "note": "a\u2028b" + "n" * 200_000 * (i == 3)}
            for i in range(12)]  # fmt: skip
    if suffix == ".jsonl":
        log.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    else:
        log.write_text("step,reward,gold,note\n" + "".join(
            f"{r['step']},{r['reward']},{r['gold']},{r['note']}\n" for r in rows))  # fmt: skip
    result = check_log(log, proxy="reward", intent=["gold"])
    assert result.rows == 12


def test_column_names_match_however_the_accents_are_encoded(tmp_path: Path) -> None:
    """A header written decomposed (`re\u0301compense`, as macOS file tools write it) and a
    `--proxy récompense` typed composed were "no column récompense" although both read alike."""
    import unicodedata

    nfd, nfc = (unicodedata.normalize(f, "récompense") for f in ("NFD", "NFC"))
    assert nfd != nfc
    path = tmp_path / "log.csv"
    lines = [f"global_step,{nfd},gold"]
    lines += [f"{r['global_step']},{r['reward']},{r.get('gold', '')}" for r in _rows()]
    path.write_text("\n".join(lines), encoding="utf-8")
    result = check_log(path, proxy=nfc, intent=["gold"])
    assert result.status.state is MonitorState.OVEROPTIMISED
    assert check_log(path, proxy=nfd, intent="gold").rows == 800


def test_two_columns_that_read_alike_are_refused_not_merged(tmp_path: Path) -> None:
    """`café` composed and decomposed were merged by the NFC lookup: one column's values
    were dropped without a word."""
    path = tmp_path / "log.csv"
    path.write_text("step,reward,caf\u00e9,cafe\u0301\n" + "".join(
        f"{i},{i},1,2\n" for i in range(20)), encoding="utf-8")  # fmt: skip
    with pytest.raises(DataError, match="given twice"):
        check_log(path, proxy="reward", intent="café")


def test_a_latched_alarm_keeps_its_figures_when_a_later_fit_blurs(tmp_path: Path) -> None:
    """The intent fell from the start, alarmed at step 100, then came back: the status
    said "peak near step 0 (confidence 0.000)" and a 2-SD drop, from the last fit."""
    rng = np.random.default_rng(0)
    path = tmp_path / "u.csv"
    rows = [f"{s},{s / 100},{-4 * (s / 600) * (1 - s / 600) + rng.normal(0, 0.05):.4f}"
            for s in range(0, 600, 10)]  # fmt: skip
    path.write_text("step,reward,gold\n" + "\n".join(rows), encoding="utf-8")
    result = check_log(path, proxy="reward", intent="gold")
    assert result.status.state is MonitorState.OVEROPTIMISED
    status = result.monitor.intent_status("gold")  # type: ignore[union-attr]
    assert status.confidence > 0.99 and status.drop_sd > 5, status
    whole = result.monitor.intent_status("gold", latest=True)  # type: ignore[union-attr]
    assert whole.confidence < status.confidence
