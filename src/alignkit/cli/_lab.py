"""``alignkit lab list | train | run`` and ``alignkit monitor check``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from alignkit.cli._common import (
    JsonOpt,
    NoStoreOpt,
    check_report_folder,
    err,
    literal,
    note_replaced_reports,
    out,
    out_path,
    print_json,
    progress_bar,
)
from alignkit.cli._render import print_result
from alignkit.core import ConfigError, Severity

lab_app = typer.Typer(
    help="Reproducible experiments on alignment failures.\n\nExample: alignkit lab list",
    no_args_is_help=True,
)
monitor_app = typer.Typer(
    help="Statistics over training logs and traffic.\n\n"
    "Example: alignkit monitor check log.csv --proxy reward --intent gold",
    no_args_is_help=True,
)
_GROUPS = ("goodhart", "gaming")
_AGENTS = ("q", "ppo")
MAX_SEEDS = 1000
"""Most training runs per variant ``lab run --seeds`` takes (each is a full training run)."""
MAX_STEPS = 10_000_000
"""Most environment steps ``lab train --steps`` takes (the log keeps every episode)."""


@lab_app.command("list")
def lab_list(
    json_: JsonOpt = False,
    _store: NoStoreOpt = None,
) -> None:
    """List the registered lab experiments and environments.

    Example: alignkit lab list
    """
    from alignkit.lab import ENVIRONMENTS, EXPERIMENTS

    envs = [
        {
            "id": spec.id,
            "failure_mode": spec.failure_mode,
            "patched_variant": spec.gameable,
            "loophole": spec.loophole,
            "max_intent": spec.cls.max_intent,
        }
        for _, spec in ENVIRONMENTS.items()
    ]
    if json_:
        print_json(
            {
                "experiments": [
                    {
                        "id": e.id,
                        "group": e.group,
                        "title": e.title,
                        "failure_modes": list(e.failure_modes),
                    }
                    for _, e in EXPERIMENTS.items()
                ],
                "environments": envs,
            }
        )
        return
    table = Table(title="Lab")
    table.add_column("experiment", no_wrap=True)
    table.add_column("what it shows")
    for _, e in EXPERIMENTS.items():
        table.add_row(literal(e.id), literal(e.title))
    out.print(table)
    env_table = Table(title="Environments")
    env_table.add_column("id", no_wrap=True)
    env_table.add_column("failure mode", no_wrap=True)
    env_table.add_column("patch")
    env_table.add_column("loophole")
    for row in envs:
        patch = "yes" if row["patched_variant"] else "-"
        env_table.add_row(
            *(literal(str(v)) for v in (row["id"], row["failure_mode"], patch, row["loophole"]))
        )
    out.print(env_table)


@lab_app.command("run")
def lab_run(
    only: Annotated[
        str | None,
        typer.Option(help="Run one group of experiments: goodhart or gaming (default both)."),
    ] = None,
    envs: Annotated[
        str | None, typer.Option(help="Gaming only: comma-separated environments (default all).")
    ] = None,
    seeds: Annotated[int, typer.Option(help="Gaming only: training runs per variant.")] = 1,
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same result.")] = 0,
    quick: Annotated[bool, typer.Option(help="Smaller runs for a smoke test.")] = False,
    out_dir: Annotated[
        Path | None, typer.Option("--out", parser=out_path, help="Report folder.")
    ] = None,
    json_: JsonOpt = False,
    _store: NoStoreOpt = None,
) -> None:
    """Run lab experiments and write report.html, report.json and junit.xml.

    Example: alignkit lab run --only gaming --envs BoatRace,PauseGame --seeds 3
    """
    from alignkit.lab import merge_results, run_experiments, run_gaming
    from alignkit.report import to_json, write_reports

    if only is not None and only not in _GROUPS:
        raise ConfigError(f"--only must be one of {', '.join(_GROUPS)}, not '{only}'")
    if not 1 <= seeds <= MAX_SEEDS:  # 10**9 built a list of seeds until memory ran out
        raise ConfigError(f"--seeds must be from 1 to {MAX_SEEDS}, not {seeds}")
    if envs is not None and only == "goodhart":
        raise ConfigError("--envs applies to the gaming experiments, not --only goodhart")
    if seeds != 1 and only == "goodhart":
        raise ConfigError("--seeds applies to the gaming experiments, not --only goodhart")
    names = [e.strip() for e in envs.split(",") if e.strip()] if envs is not None else None
    if names == []:  # an empty value (an unset variable) ran every environment
        raise ConfigError("--envs names no environment (see: alignkit lab list)")
    if out_dir is not None:  # checked before the experiments, not after
        check_report_folder(out_dir)
    with progress_bar(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ) as bar:
        task = bar.add_task(f"lab {only or 'all'}", total=None)

        def progress(experiment: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=experiment)

        results = []
        if only in (None, "goodhart"):
            results.append(run_experiments("goodhart", seed=seed, quick=quick, progress=progress))
        if only in (None, "gaming"):
            results.append(
                run_gaming(names, seeds=seeds, seed=seed, quick=quick, progress=progress)
            )
        result = results[0] if len(results) == 1 else merge_results(results)
    folder = out_dir or Path(".alignkit") / "lab" / result.run_id
    note_replaced_reports(folder, result.run_id)
    write_reports(result, folder, fail_on=Severity.CRITICAL, rerun_hint=False)
    if json_:
        print_json(to_json(result))
    else:
        print_result(result)
        out.print(f"report: {folder / 'report.html'}", markup=False)
    if result.errors:  # an experiment that could not run is not a pass
        err.print(
            f"{len(result.errors)} experiment(s) failed: {', '.join(sorted(result.errors))}",
            markup=False,
        )
        raise typer.Exit(1)


@lab_app.command("train")
def lab_train(
    env: Annotated[str, typer.Argument(help="Environment, e.g. BoatRace or alignkit/BoatRace-v0.")],
    agent: Annotated[str, typer.Option(help="q (built-in tabular) or ppo (extra 'rl').")] = "q",
    steps: Annotated[
        int,
        typer.Option(
            help="Step budget: q trains steps / horizon episodes (episodes that end early"
            " take fewer steps); ppo trains at least this many steps. The summary gives the"
            " steps actually run."
        ),
    ] = 60_000,
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same policy.")] = 0,
    patched: Annotated[bool, typer.Option(help="Train on the patched variant.")] = False,
    out_path: Annotated[
        Path | None, typer.Option("--out", parser=out_path, help="Where to save the policy.")
    ] = None,
    json_: JsonOpt = False,
    _store: NoStoreOpt = None,
) -> None:
    """Train an agent; log reward, intent and events; save the policy; say if it games.

    Example: alignkit lab train BoatRace --agent q --steps 60000 --seed 0
    """
    from alignkit.cli._lab_train import train_command

    if agent not in _AGENTS:
        raise ConfigError(f"--agent must be q or ppo, not '{agent}'")
    if not 100 <= steps <= MAX_STEPS:  # 10**20 ran silently while its log filled memory
        raise ConfigError(f"--steps must be from 100 to {MAX_STEPS:,}, not {steps}")
    if not 0 <= seed < 2**32:  # PPO's seeding failed on it after the setup
        raise ConfigError(f"--seed must be a whole number from 0 to 2**32 - 1, got {seed}")
    summary = train_command(env, agent, steps, seed, patched, out_path, quiet=json_)
    if json_:
        print_json(summary)


@monitor_app.command("check")
def monitor_check(
    log: Annotated[Path, typer.Argument(help="Training log, CSV or JSONL.")],
    proxy: Annotated[str, typer.Option(help="Column the optimiser maximises.")] = "reward",
    intent: Annotated[
        list[str] | None,
        typer.Option(help="Column(s) measuring the intent (repeatable; default: gold)."),
    ] = None,
    step: Annotated[
        str | None,
        typer.Option(
            help="Step column (default: the first of step, global_step, _step, timesteps,"
            " total_timesteps, iteration, epoch present, else row order)."
        ),
    ] = None,
    minimize: Annotated[
        list[str] | None,
        typer.Option(help="Intent column(s) for which lower is better (repeatable)."),
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", parser=out_path, help="Write a report here too.")
    ] = None,
    json_: JsonOpt = False,
    _store: NoStoreOpt = None,
) -> None:
    """Run GoodhartMonitor over a training log; exit 1 when the intent has passed its peak.

    Example: alignkit monitor check train_log.csv --proxy reward --intent gold
    """
    from alignkit.monitor import MonitorState, check_log
    from alignkit.report import REPORT_FILES, to_json, write_reports

    if out_dir is not None:
        check_report_folder(out_dir)
    if out_dir is not None and log.exists():  # `--out .` beside report.json: the log was lost
        hit = next((n for n in REPORT_FILES.values() if (out_dir / n).exists()
                    and (out_dir / n).resolve() == log.resolve()), None)  # fmt: skip
        if hit is not None:
            raise ConfigError(
                f"--out {out_dir} would write {hit} over the log being read; give another folder"
            )
    checked = check_log(
        log, proxy=proxy, intent=tuple(intent or ["gold"]), step=step, minimize=minimize or ()
    )
    result = checked.to_audit_result()
    if out_dir is not None:
        note_replaced_reports(out_dir, result.run_id)
        write_reports(result, out_dir, rerun_hint=False)
    if json_:
        print_json(
            {
                "state": str(checked.status.state),
                "summary": checked.status.describe(),
                "rows": checked.rows,
                "report": json.loads(to_json(result)),
            }
        )
    else:
        out.print(checked.status.describe(), markup=False)
    if checked.status.state is MonitorState.OVEROPTIMISED:
        raise typer.Exit(1)
