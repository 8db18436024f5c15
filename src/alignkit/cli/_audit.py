"""``alignkit audit``."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from alignkit.cli._common import (
    ApiKeyEnvOpt,
    JsonOpt,
    MaxRequestsOpt,
    MaxTokensTotalOpt,
    StoreOpt,
    check_report_folder,
    err,
    http_config,
    note_replaced_reports,
    out,
    out_path,
    print_json,
    progress_bar,
    stdout_to_stderr,
    writable_folder,
)
from alignkit.cli._render import print_result
from alignkit.core import (
    AlignkitConfig,
    ConfigError,
    Severity,
    checked_path,
    load_config,
    resolve_store_url,
)

__all__ = ["audit"]


class _Bars:
    """One progress bar per check; fed by the audit's progress callback."""

    def __init__(self, progress: Progress) -> None:
        self._p = progress
        self._tasks: dict[str, TaskID] = {}

    def __call__(self, producer: str, advance: int, add_total: int) -> None:
        task = self._tasks.get(producer)
        if task is None:
            task = self._tasks[producer] = self._p.add_task(producer, total=0)
        if add_total:
            total = self._p.tasks[task].total or 0
            self._p.update(task, total=total + add_total)
        if advance:
            self._p.advance(task, advance)


def audit(
    target: Annotated[
        str | None, typer.Option(help="Target URI (default: the config's, or the shipped default).")
    ] = None,
    checks: Annotated[
        str | None, typer.Option(help="Glob(s) over check ids, comma-separated.")
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="Item pack folder (overrides the target's default pack).")
    ] = None,
    split: Annotated[str | None, typer.Option(help="train, heldout or all.")] = None,
    budget: Annotated[float | None, typer.Option(help="Wall-clock budget in seconds.")] = None,
    resume: Annotated[
        str | None, typer.Option(help="Continue run RUN, sending no stored attempt again.")
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", parser=out_path, help="Report folder (default .alignkit/runs/RUN)."),
    ] = None,
    fail_on: Annotated[
        Severity | None, typer.Option(help="Exit 1 if a finding is at or above this severity.")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed for item sampling and sampled decoding.")
    ] = None,
    max_items: Annotated[int | None, typer.Option(help="Items per check and item kind.")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Requests in flight.")] = None,
    config: Annotated[
        Path | None, typer.Option(help="Config file (default ./alignkit.yaml).")
    ] = None,
    api_key_env: ApiKeyEnvOpt = None,
    max_requests: MaxRequestsOpt = None,
    max_tokens_total: MaxTokensTotalOpt = None,
    store: StoreOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Run the checks that fit a target and write report.html, report.json and junit.xml.

    Example: alignkit audit --target openai:http://127.0.0.1:8000/v1#my-model --fail-on high
    """
    cfg = load_config(config)
    if out_dir is None and resume is not None and (stored := _stored_reporting(store, cfg, resume)):
        out_dir = Path(stored["out"]) if "out" in stored else None  # the run's own --out
    if out_dir is not None:  # found only after the whole audit had run (and spent its requests)
        checked_path(out_dir)
        if out_dir.exists() and not out_dir.is_dir():
            raise ConfigError(f"--out {out_dir}: exists and is not a folder")
        writable_folder(out_dir / "report.json")
        check_report_folder(out_dir, resolve_store_url(store, cfg))
    from alignkit import audit as audit_api
    from alignkit.models import TargetOptions
    from alignkit.report import to_json, write_reports

    options = TargetOptions(http=http_config(cfg, api_key_env, max_requests, max_tokens_total))
    reporting = {"out": str(out_dir.resolve())} if out_dir is not None else {}
    if fail_on is not None:
        reporting["fail_on"] = str(fail_on)
    with (
        stdout_to_stderr(json_),
        progress_bar(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        ) as bars,
    ):
        result = audit_api.run(
            target,
            checks=checks,
            data=data,
            split=split,
            seed=seed,
            budget_s=budget,
            max_items=max_items,
            concurrency=concurrency,
            resume=resume,
            store=store,
            config=cfg,
            target_options=options,
            progress=_Bars(bars),
            reporting=reporting,
        )
    # a resumed run reports where and how it was started (--out, --fail-on), unless told
    kept = _stored_reporting(store, cfg, result.run_id) if resume else reporting
    report_dir = Path(kept["out"]) if "out" in kept else audit_api.default_out_dir(result.run_id)
    threshold = Severity(kept["fail_on"]) if "fail_on" in kept else cfg.audit.fail_on
    note_replaced_reports(report_dir, result.run_id)
    try:
        write_reports(result, report_dir, fail_on=threshold or Severity.MEDIUM, rerun_hint=False)
    except ConfigError as exc:  # the run is stored: its reports can be written again
        where = f" --store {shlex.quote(store)}" if store else ""
        raise ConfigError(
            f"{exc}; the run is stored, write its reports with:"
            f" alignkit runs show {result.run_id}{where} --out DIR"
        ) from None
    if json_:
        print_json(to_json(result))
    else:
        print_result(result)
        out.print(f"report: {report_dir / 'report.html'}", markup=False)
    if result.errors:  # a check that could not run is not a pass
        err.print(
            f"{len(result.errors)} check(s) failed to run: {', '.join(sorted(result.errors))}",
            markup=False,
        )
        raise typer.Exit(1)
    # no finding at all is no finding at the threshold (`--fail-on info` failed such a run)
    if threshold is not None and any(f.severity >= threshold for f in result.findings):
        raise typer.Exit(1)


def _stored_reporting(store: str | None, cfg: AlignkitConfig, run_id: str) -> dict[str, str]:
    """The ``--out``/``--fail-on`` a run was started (or last resumed) with."""
    from alignkit.store import Store

    with Store.open(resolve_store_url(store, cfg), create=False) as st:
        kept = st.get_run(run_id).config.get("reporting")
    return {str(k): str(v) for k, v in kept.items()} if isinstance(kept, dict) else {}
