"""Run a GoodhartMonitor over a training log written by any framework (CSV or JSONL)."""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import unicodedata
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alignkit.core import (
    AuditResult,
    DataError,
    Finding,
    Plot,
    allow_long_csv_fields,
    repeated_columns,
    summarize,
)
from alignkit.monitor._monitor import (
    MAX_STEP,
    MAX_VALUE,
    GoodhartMonitor,
    MonitorStatus,
    as_finite,
)

__all__ = ["LogCheck", "check_log", "read_log"]

_STEP_FALLBACKS = (
    "step",
    "global_step",
    "_step",
    "timesteps",
    "total_timesteps",
    "iteration",
    "epoch",
)
_log = logging.getLogger(__name__)


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a CSV (header line) or JSONL (one object per line) training log.

    The format is chosen as :func:`_read_log` says.

    Raises:
        DataError: If the file cannot be read or a line is not valid.
    """
    return [row for _, row in _read_log(path)]


def _nfc(name: str) -> str:
    return unicodedata.normalize("NFC", name) if isinstance(name, str) else name


def _nfc_row(path: str | Path, line: int, row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with NFC column names; two names that differ only in form are refused."""
    out = {_nfc(k): v for k, v in row.items()}
    if len(out) < len(row):
        twice = next(n for n in out if sum(_nfc(k) == n for k in row) > 1)
        raise DataError(
            f"{path}:{line}: column {twice!r} is given twice (the same name with its accents"
            " written two ways)"
        )
    return out


def _read_log(path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    """``(line, row)`` for each row of a training log, ``line`` as an editor numbers it.

    The format is chosen by the suffix (``.csv``, ``.tsv``, ``.jsonl``/``.json``/
    ``.ndjson``) or, failing that, by whether the first character is ``{``.

    Raises:
        DataError: If the file cannot be read or a line is not valid.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")  # a BOM (Excel) hid the first column
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read training log {p}: {exc}") from exc
    suffix = p.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson") or (
        suffix not in (".csv", ".tsv") and text.lstrip().startswith("{")
    ):
        return list(_jsonl_rows(text, p))
    delimiter = "\t" if suffix == ".tsv" else ","
    allow_long_csv_fields()  # logged sample completions pass 128 KiB
    try:
        # only \r and \n end a row: str.splitlines() also split at U+2028 inside a cell
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
        twice = repeated_columns(reader.fieldnames or [])
        if twice:  # DictReader keeps the last of them: the other column was silently lost
            raise DataError(f"{p}, line 1: column {', '.join(map(repr, twice))} appears twice")
        rows = []
        for row in reader:
            if None in row:  # more cells than the header names: columns would shift
                raise DataError(f"{p}, line {reader.line_num}: more cells than the header has")
            rows.append((reader.line_num, {k.strip(): v for k, v in row.items() if k is not None}))
    except csv.Error as exc:
        raise DataError(f"{p} is not a valid CSV file: {exc}") from exc
    return rows


def _jsonl_rows(text: str, path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    # JSON strings may hold U+2028 raw (json.dumps(ensure_ascii=False) writes it so)
    for lineno, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{lineno} is not valid JSON: {exc.msg}") from exc
        except RecursionError:
            raise DataError(f"{path}:{lineno}: JSON nested too deeply") from None
        except ValueError:  # an integer of 5,000 digits: Python's own advice is no help here
            raise DataError(f"{path}:{lineno} holds a number too long to read") from None
        if not isinstance(row, dict):
            raise DataError(f"{path}:{lineno} is not a JSON object")
        yield lineno, row


@dataclass(frozen=True)
class LogCheck:
    """What :func:`check_log` found.

    Attributes:
        path: The log.
        rows: Rows read.
        status: The monitor's final status.
        findings: The monitor's findings.
        plots: Proxy and intent against step (core :class:`~alignkit.core.Plot`).
        monitor: The monitor, fed with the whole log.
    """

    path: str
    rows: int
    status: MonitorStatus
    findings: list[Finding]
    plots: list[Plot] = field(default_factory=list)
    monitor: GoodhartMonitor | None = None

    def to_audit_result(self, *, run_id: str | None = None) -> AuditResult:
        """This check as a core :class:`~alignkit.core.AuditResult` (target ``log:PATH``)."""
        from alignkit import __version__

        rid = run_id or uuid.uuid4().hex[:12]
        now = datetime.now(UTC)
        findings = [f.model_copy(update={"run_id": rid}) for f in self.findings]
        return AuditResult(
            run_id=rid,
            target=f"log:{self.path}",
            started_at=now,
            finished_at=now,
            alignkit_version=__version__,
            seed=0,
            findings=findings,
            summary=summarize(findings),
            plots=list(self.plots),
            checks_run=["monitor.goodhart"],
        )


def check_log(
    path: str | Path,
    *,
    proxy: str = "reward",
    intent: str | Sequence[str] = ("gold",),
    step: str | None = None,
    minimize: Sequence[str] = (),
    **options: Any,
) -> LogCheck:
    """Feed a CSV/JSONL training log to a :class:`GoodhartMonitor` and report its verdict.

    Args:
        path: The log; one row per logged step; empty cells, ``null``, ``NA``, ``-`` and
            ``nan`` are missing values (intent metrics are usually logged on few rows).
        proxy: Column of the optimised metric.
        intent: Column(s) of the intended metrics.
        step: Column holding the step; by default the first of ``step``,
            ``global_step``, ``timesteps``, ``total_timesteps``, ``iteration``, ``epoch``
            present, else the row number.
        minimize: Columns for which lower is better.
        **options: Passed to :class:`GoodhartMonitor`.

    Raises:
        DataError: If the log is unreadable, lacks a named column, has a cell of the proxy
            or an intent metric that is neither a number nor missing, or has no numeric
            values for one of them.
    """
    # column names compare as NFC: "é" typed composed matched no decomposed header
    numbered = [(line, _nfc_row(path, line, row)) for line, row in _read_log(path)]
    rows = [row for _, row in numbered]
    if not rows:
        raise DataError(f"training log {path} has no rows")
    proxy, step, minimize = _nfc(proxy), _nfc(step) if step else step, [_nfc(m) for m in minimize]
    intents = [_nfc(intent)] if isinstance(intent, str) else [_nfc(i) for i in intent]
    columns = set().union(*(r.keys() for r in rows))
    missing = [c for c in (proxy, *intents) if c not in columns]
    if missing:
        raise DataError(
            f"training log {path} has no column {', '.join(map(repr, missing))} "
            f"(columns: {', '.join(sorted(columns))})"
        )
    if step is not None and step not in columns:
        raise DataError(f"training log {path} has no step column {step!r}")
    by_lower = {c.lower(): c for c in sorted(columns, key=str)}
    step_col = step or next((by_lower[c] for c in _STEP_FALLBACKS if c in by_lower), None)
    if step_col is None:
        _log.warning(
            "training log %s has no step column (%s): using row numbers as steps; name one"
            " with --step",
            path,
            ", ".join(_STEP_FALLBACKS),
        )
    monitor = GoodhartMonitor(proxy=proxy, intent=intents, minimize=minimize, **options)
    seen: set[tuple[str, float]] = set()
    repeats = 0
    for i, (line, row) in enumerate(numbered):  # messages name the file's line
        for name in (proxy, *intents):
            if not _number_or_missing(row.get(name)):
                raise DataError(
                    f"training log {path}, line {line}: {name} {row[name]!r} is not a number"
                )
        for name in (proxy, *intents):  # the monitor skips them; a log can say where
            value = as_finite(row.get(name))
            if value is not None and abs(value) > MAX_VALUE:
                raise DataError(
                    f"training log {path}, line {line}: {name} value {row[name]!r}"
                    " is out of range (at most 1e100 in size)"
                )
        at = _step(row.get(step_col), line, path) if step_col else float(i)
        logged = {(n, at) for n in (proxy, *intents) if as_finite(row.get(n)) is not None}
        repeats += bool(logged & seen)  # a train row and an eval row at one step: no repeat
        seen |= logged
        monitor.observe_mapping(at, row)
    if repeats:  # 50 rows over 10 epochs read as 10 values, without a word
        _log.warning(
            "training log %s: %d row(s) log a metric again at the step of an earlier row; the"
            " monitor keeps one value per step (the last); name a finer step column with --step",
            path,
            repeats,
        )
    for name in (proxy, *intents):
        if not monitor.series(name)[0]:
            raise DataError(
                f"training log {path} has no numeric values for {name!r}"
                " (missing, NaN and infinite values are skipped)"
            )
    plots = [_plot(monitor, proxy, name, step_col or "row", path) for name in intents]
    return LogCheck(str(path), len(rows), monitor.status, monitor.findings(), plots, monitor)


def _plot(monitor: GoodhartMonitor, proxy: str, name: str, x_label: str, path: str | Path) -> Plot:
    """Proxy and one intent metric against the step."""
    return Plot(
        check="monitor.goodhart",
        title=f"{proxy} and {name} over training ({Path(path).name})",
        kind="line",
        data={
            "x_label": x_label,
            "y_label": "value",
            "series": [
                {"name": n, "x": xs, "y": ys}
                for n in (proxy, name)
                for xs, ys in [monitor.series(n)]
            ],
        },
    )


_MISSING = {"", "null", "none", "na", "n/a", "nan", "-"}


def _number_or_missing(raw: object) -> bool:
    """Whether a cell is a number (NaN and infinities included) or a missing-value mark."""
    if raw is None or isinstance(raw, int | float) and not isinstance(raw, bool):
        return True
    if not isinstance(raw, str):
        return False
    if raw.strip().lower() in _MISSING:
        return True
    return _decimal(raw) is not None


def _decimal(text: str) -> float | None:
    """``text`` as a number as a log writes one; Python's ``1_0`` (10) is not one."""
    if "_" in text:
        return None
    try:
        return float(text)
    except (ValueError, OverflowError):
        return None


def _step(raw: object, line: int, path: str | Path) -> float:
    where = f"training log {path}, line {line}"
    if raw is None or raw == "":  # a row number here would land among real steps
        raise DataError(f"{where}: the step is empty")
    value: float | None = None
    if isinstance(raw, str):
        value = _decimal(raw)
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        value = float(raw) if abs(raw) < 1e308 else math.inf
    if value is None:
        raise DataError(f"{where}: step {raw!r} is not a number")
    if not math.isfinite(value):
        raise DataError(f"{where}: step {str(raw)[:40]!r} is not a finite number")
    if abs(value) > MAX_STEP:
        raise DataError(f"{where}: step {str(raw)[:40]!r} is out of range (at most 2**53)")
    return value
