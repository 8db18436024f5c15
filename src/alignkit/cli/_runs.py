"""``alignkit runs list | show | diff | gate``."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from alignkit.cli._common import (
    JsonOpt,
    StoreOpt,
    check_report_folder,
    err,
    literal,
    out,
    out_path,
    print_json,
)
from alignkit.cli._render import print_changes, print_result
from alignkit.core import AuditResult, ConfigError, Severity, load_config, resolve_store_url

if TYPE_CHECKING:  # the command line imports what a command needs when it runs
    from alignkit.store import Store

runs_app = typer.Typer(
    help="Stored runs: list, show, diff, gate.\n\nExample: alignkit runs list",
    no_args_is_help=True,
)
RunArg = Annotated[str, typer.Argument(help="Run id (a unique prefix is enough).")]


def _open(store: str | None) -> Store:
    from alignkit.store import Store

    return Store.open(resolve_store_url(store, load_config()), create=False)


_SAME = (("target", "target"), ("split", "split"), ("data", "item pack"), ("pack_digest", "items"))


def _differences(st: Store, a: str, b: str) -> list[str]:
    """How two stored runs' setups differ (a diff across them compares unlike things)."""
    ca, cb = st.get_run(a).config, st.get_run(b).config
    return [
        f"{label}: {ca.get(key) or 'default'} vs {cb.get(key) or 'default'}"
        for key, label in _SAME
        if key in ca and key in cb and ca.get(key) != cb.get(key)
    ]


def _note_differences(differences: list[str]) -> None:
    for line in differences:
        err.print(f"note: the runs differ in {line}", markup=False)


@runs_app.command("list")
def runs_list(
    limit: Annotated[
        int, typer.Option(min=1, max=2**31 - 1, help="How many runs, newest first.")
    ] = 50,
    store: StoreOpt = None,
    json_: JsonOpt = False,
) -> None:
    """List stored runs, newest first.

    Example: alignkit runs list --limit 10
    """
    with _open(store) as st:
        runs = st.list_runs(limit)
    if json_:
        # run_id as in report.json; id kept for scripts written against earlier versions
        print_json({"runs": [{"run_id": r.id, **dataclasses.asdict(r)} for r in runs]})
        return
    table = Table(title="Runs")
    table.add_column("run", no_wrap=True, min_width=max((len(r.id) for r in runs), default=3))
    table.add_column("status", no_wrap=True)
    table.add_column("target", overflow="fold")
    table.add_column("started", no_wrap=True)
    table.add_column("took", no_wrap=True, justify="right")
    for r in runs:
        took = _duration((r.finished_at - r.started_at).total_seconds()) if r.finished_at else "-"
        table.add_row(
            literal(r.id), r.status, literal(r.target), f"{r.started_at:%Y-%m-%d %H:%M}", took
        )
    out.print(table)


def _duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``2h07m``."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


@runs_app.command("show")
def runs_show(
    run: RunArg,
    store: StoreOpt = None,
    json_: JsonOpt = False,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out", parser=out_path, help="Also write report.html, report.json and junit.xml here."
        ),
    ] = None,
) -> None:
    """Show a finished run's findings (and, with --out, write its reports again).

    Example: alignkit runs show 20261125-1443 --out reports/
    """
    from alignkit.report import to_json, write_reports

    if out_dir is not None:
        check_report_folder(out_dir, resolve_store_url(store, load_config()))
    with _open(store) as st:
        record = st.get_run(run)
        result = st.load_result(record.id)
    if record.status != "finished":  # a resumed run still going showed its old result
        err.print(
            f"note: run {record.id} is {record.status}; this is the result it last stored",
            markup=False,
        )
    if out_dir is not None:
        # junit.xml counts failures at the run's own --fail-on (it used medium for all)
        reporting = record.config.get("reporting")
        kept = str(reporting.get("fail_on", "")) if isinstance(reporting, dict) else ""
        stored = next((s for s in Severity if s.value == kept), None)
        threshold = stored or load_config().audit.fail_on or Severity.MEDIUM
        paths = write_reports(result, out_dir, fail_on=threshold, rerun_hint=False)
        err.print(f"report: {paths['html']}", markup=False)
    if json_:
        print_json(to_json(result))
    else:
        print_result(result)


@runs_app.command("diff")
def runs_diff(
    a: Annotated[str, typer.Argument(help="The earlier run (before).")],
    b: Annotated[str, typer.Argument(help="The later run (after).")],
    store: StoreOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Per-metric change from run A to run B, judged by each metric's direction.

    Example: alignkit runs diff BEFORE_RUN AFTER_RUN
    """
    from alignkit.audit import compare

    with _open(store) as st:
        before = st.load_result(st.get_run(a).id)
        after = st.load_result(st.get_run(b).id)
        _note_differences(_differences(st, before.run_id, after.run_id))
    _note_shortfalls(before, after)
    changes = compare(before, after)
    if json_:
        print_json(
            {
                "before": before.run_id,
                "after": after.run_id,
                "changes": [dataclasses.asdict(c) for c in changes],
            }
        )
    else:
        print_changes(changes, f"{before.run_id} → {after.run_id}")


def _note_shortfalls(*results: AuditResult) -> None:
    """Say which runs were cut short or failed in part: their findings rest on fewer items."""
    for r in results:
        if r.requests is not None and r.requests.shortfall():
            err.print(f"note: run {r.run_id}: {r.requests.shortfall()}; its findings rest on"
                      " fewer items", markup=False)  # fmt: skip
        for check_id, why in r.errors.items():
            err.print(f"note: run {r.run_id}: check {check_id} failed ({why})", markup=False)


@runs_app.command("gate")
def runs_gate(
    run: RunArg,
    baseline: Annotated[str, typer.Option(help="The run to compare against.")],
    max_regression: Annotated[
        float, typer.Option(help="Tolerated worsening of any metric, in its own units.")
    ] = 0.0,
    store: StoreOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Exit 1 when a metric got significantly worse than in the baseline (the CI use).

    Example: alignkit runs gate NEW_RUN --baseline MAIN_RUN --max-regression 0.02
    """
    from alignkit.audit import Change, compare, gate

    if not max_regression >= 0:
        raise ConfigError(f"--max-regression {max_regression}: must be 0 or more")
    with _open(store) as st:
        current = st.load_result(st.get_run(run).id)
        base = st.load_result(st.get_run(baseline).id)
        _note_differences(_differences(st, base.run_id, current.run_id))
    if current.run_id == base.run_id:  # a run gated against itself always passed
        raise ConfigError(f"run {current.run_id} is its own --baseline; name an earlier run")
    _note_shortfalls(base, current)
    failed = gate(current, base, max_regression=max_regression)
    changes = compare(base, current)
    # A metric the baseline measured and this run did not cannot be judged: say so.
    nan = {f.metric for f in current.findings if not math.isfinite(f.value)}
    gone = {
        c.metric: current.skipped.get(c.metric)
        or current.skipped.get(c.check)
        or current.errors.get(c.check)
        or ("its value is not a number" if c.metric in nan else "not in this run")
        for c in changes
        if c.change is Change.REMOVED
    }
    judged = [c for c in changes if c.change not in (Change.REMOVED, Change.ADDED)]
    if not judged:  # nothing in common: a gate that judged nothing must not pass
        raise ConfigError(
            f"runs {current.run_id} and {base.run_id} share no measured metric; the gate"
            " cannot judge (were they audited with the same checks and items?)"
        )
    if json_:
        print_json(
            {
                "run": current.run_id,
                "baseline": base.run_id,
                "passed": not failed,
                "regressions": [dataclasses.asdict(c) for c in failed],
                "unjudged": [{"metric": m, "reason": why} for m, why in gone.items()],
            }
        )
    elif failed:
        print_changes(failed, f"Regressions of {current.run_id} against {base.run_id}")
    else:
        out.print(
            f"gate passed: no metric of {current.run_id} is significantly worse "
            f"than in {base.run_id}",
            markup=False,
        )
    for metric, why in gone.items():
        err.print(f"warning: {metric} was measured in {base.run_id} but not judged: {why}",
                  markup=False)  # fmt: skip
    if failed:
        raise typer.Exit(1)
