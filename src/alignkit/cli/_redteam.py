"""``alignkit redteam run | report | list``: red-team campaigns (DESIGN §5)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from alignkit.cli._common import (
    ApiKeyEnvOpt,
    JsonOpt,
    MaxRequestsOpt,
    MaxTokensTotalOpt,
    NoStoreOpt,
    StoreOpt,
    err,
    http_config,
    literal,
    out,
    print_json,
    progress_bar,
    stdout_to_stderr,
)
from alignkit.core import ConfigError, load_config

if TYPE_CHECKING:
    from alignkit.redteam import RedteamReport

redteam_app = typer.Typer(
    help="Red-team campaigns: attack library, converters, search, multi-turn, resume.\n\n"
    "Example: alignkit redteam run --target organism:flawed",
    no_args_is_help=True,
)
_ROWS = 25


def _csv(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(p.strip() for p in value.split(",") if p.strip())


def _pct(x: float | None) -> str:
    return "not measured" if x is None else f"{100 * x:.1f}%"


def _summary(rep: RedteamReport) -> None:
    budget = f", ≤{rep.max_queries} queries per behaviour" if rep.max_queries else ""
    out.print(
        f"campaign {rep.run_id} against {rep.target} — strategy {rep.strategy}{budget}"
        f" ({rep.status})",
        markup=False,
    )
    unscored = rep.behaviours - rep.scored_behaviours
    out.print(
        f"behaviours broken: {rep.broken} / {rep.scored_behaviours}"
        f" = {_pct(rep.attack_success_rate)}"
        + (
            ""
            if rep.attack_success_rate is None
            else f" (95% CI {_pct(rep.ci_low)}–{_pct(rep.ci_high)})"
        )
        + (f"; {unscored} with no scorable reply" if unscored else ""),
        markup=False,
    )
    firsts = rep.queries_to_first_success
    if firsts:
        out.print(
            f"queries to first success: median {rep.queries_to_first_success_median:g}"
            f" (min {firsts[0]}, max {firsts[-1]})",
            markup=False,
        )
    outcomes = ", ".join(f"{k} {v}" for k, v in rep.outcomes.items())
    out.print(
        f"attempts: {rep.attempts} ({outcomes}); tokens: {rep.prompt_tokens} prompt,"
        f" {rep.completion_tokens} completion",
        markup=False,
    )
    if rep.auxiliary_requests:
        out.print(
            f"attacker/translator: {rep.auxiliary_requests} requests,"
            f" {rep.auxiliary_tokens} tokens",
            markup=False,
        )


def _matrix(rep: RedteamReport) -> Table:
    families = sorted({c.family for c in rep.cells})
    table = Table(title="behaviours broken / attacked, per harm category × attack family")
    table.add_column("category", no_wrap=True)
    for f in families:
        table.add_column(literal(f), justify="right")
    cells = {(c.category, c.family): c for c in rep.cells}
    for cat in sorted({c.category for c in rep.cells}):
        row = [literal(cat)]
        for f in families:
            c = cells.get((cat, f))
            row.append(literal(f"{c.broken}/{c.behaviours}" if c else "–"))
        table.add_row(*row)
    return table


def _groups(title: str, rows: list[object]) -> Table:
    table = Table(title=title)
    for col in ("name", "attempts", "successes", "per attempt", "behaviours broken"):
        table.add_column(col, justify="left" if col == "name" else "right")
    for r in rows:
        name, a, s, b = (
            getattr(r, k) for k in ("name", "attempts", "successes", "behaviours_broken")
        )
        table.add_row(literal(name), str(a), str(s), _pct(s / a) if a else "–", str(b))
    return table


def _behaviours(rep: RedteamReport) -> Table:
    shown = rep.per_behaviour[:_ROWS]
    more = len(rep.per_behaviour) - len(shown)
    table = Table(
        title="per behaviour" + (f" (first {_ROWS}; {more} more in --json)" if more else "")
    )
    for col in ("behaviour", "category", "queries", "first success", "broken by"):
        table.add_column(col, justify="right" if col in ("queries", "first success") else "left")
    for b in shown:
        table.add_row(
            literal(b.id),
            literal(b.category or "–"),
            str(b.queries),
            str(b.first_success) if b.first_success is not None else "–",
            literal(b.broken_by or "–"),
        )
    return table


def render_report(rep: RedteamReport) -> None:
    """Print a campaign report on the terminal."""
    _summary(rep)
    if rep.cells:
        out.print(_matrix(rep))
        out.print(_groups("attack families", list(rep.families)))
        out.print(_groups("converters", list(rep.converters)))
        out.print(_behaviours(rep))
    for e in rep.evidence:
        conv = f" + {', '.join(e.converters)}" if e.converters else ""
        out.print(
            f"\n[{e.behaviour}] {e.attack}{conv}, query {e.query}"
            + (f", {e.turns} turns" if e.turns > 1 else ""),
            markup=False,
        )
        out.print(f"  > {e.input[:300]}", markup=False)
        out.print(f"  < {e.output[:300]}", markup=False)


# spend caps and the key may change on --resume (as --budget may for an audit)
_NOT_CAMPAIGN_OPTIONS = {
    "resume",
    "evidence",
    "store",
    "json_",
    "api_key_env",
    "max_requests",
    "max_tokens_total",
}


@redteam_app.command("run")
def run(
    ctx: typer.Context,
    target: Annotated[
        str | None, typer.Option(help="Target URI (default organism:flawed).")
    ] = None,
    behaviours: Annotated[
        str | None,
        typer.Option(help="Pack folder or JSONL/CSV of behaviours (default: target's pack)."),
    ] = None,
    strategy: Annotated[
        str, typer.Option(help="static, search, crescendo, pair or tap.")
    ] = "search",
    max_queries: Annotated[int, typer.Option(help="Query budget per behaviour.")] = 20,
    concurrency: Annotated[int, typer.Option(help="Most requests in flight.")] = 8,
    max_behaviours: Annotated[
        int | None, typer.Option(help="Attack a seeded sample of this many behaviours.")
    ] = None,
    split: Annotated[str, typer.Option(help="Pack split: train, heldout or all.")] = "all",
    attacks: Annotated[
        list[str] | None, typer.Option("--attacks", help="Extra attack-library YAML (repeatable).")
    ] = None,
    families: Annotated[
        str | None, typer.Option(help="Only these families (comma-separated).")
    ] = None,
    exclude_families: Annotated[
        str | None, typer.Option(help="Leave these families out (comma-separated).")
    ] = None,
    converters: Annotated[
        str | None, typer.Option(help="Converters to use (comma-separated; default all).")
    ] = None,
    attacker: Annotated[str | None, typer.Option(help="Attacker model URI (pair, tap).")] = None,
    judge: Annotated[str | None, typer.Option(help="Judge model URI for the classifier.")] = None,
    converter_model: Annotated[
        str | None, typer.Option(help="Model URI for the translate converter.")
    ] = None,
    markers: Annotated[
        str, typer.Option(help="Category marker needed for success: auto, require, ignore.")
    ] = "auto",
    language: Annotated[str, typer.Option(help="Language of the translate converter.")] = "Zulu",
    max_stack: Annotated[int, typer.Option(help="Most converters stacked on a query.")] = 2,
    streams: Annotated[int, typer.Option(help="PAIR streams / TAP width.")] = 3,
    branching: Annotated[int, typer.Option(help="TAP branching factor.")] = 2,
    temperature: Annotated[
        float | None, typer.Option(help="Override the target's sampling temperature.")
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option(help="Override the target's completion length.")
    ] = None,
    stop_on_success: Annotated[
        bool | None,
        typer.Option(
            "--stop-on-success/--keep-going", help="End a behaviour at its first success."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same campaign.")] = 0,
    resume: Annotated[
        str | None, typer.Option(help="Continue run RUN; stored attempts are not re-sent.")
    ] = None,
    evidence: Annotated[int, typer.Option(min=0, help="Successful attacks to show.")] = 5,
    api_key_env: ApiKeyEnvOpt = None,
    max_requests: MaxRequestsOpt = None,
    max_tokens_total: MaxTokensTotalOpt = None,
    store: StoreOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Run a red-team campaign; every attempt is stored as it completes.

    Example: alignkit redteam run --target organism:flawed --strategy search --max-queries 20
    """
    from alignkit.models import TargetOptions
    from alignkit.redteam import CampaignOptions, run_campaign

    http = http_config(load_config(), api_key_env, max_requests, max_tokens_total)
    options = None
    if resume is None:
        options = CampaignOptions(
            target=target or "organism:flawed",
            behaviours=behaviours,
            split=split,
            strategy=strategy,
            max_queries=max_queries,
            concurrency=concurrency,
            max_behaviours=max_behaviours,
            seed=seed,
            attacks=tuple(attacks or ()),
            families=_csv(families),
            exclude_families=_csv(exclude_families) or (),
            converters=_csv(converters),
            attacker=attacker,
            judge=judge,
            converter_model=converter_model,
            markers=markers,
            stop_on_success=stop_on_success,
            language=language,
            max_stack=max_stack,
            streams=streams,
            branching=branching,
            temperature=temperature,
            max_tokens=max_tokens,
        )
        options.validate()
    else:
        given = [
            "--" + name.replace("_", "-")
            for name in ctx.params
            if name not in _NOT_CAMPAIGN_OPTIONS
            and getattr(ctx.get_parameter_source(name), "name", "") == "COMMANDLINE"
        ]
        if given:
            raise ConfigError(
                "--resume continues a stored campaign with its stored options;"
                f" leave out {', '.join(given)}"
            )
    with (
        stdout_to_stderr(json_),
        progress_bar(
            TextColumn("red team"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            quiet=json_,
        ) as bar,
    ):
        task = bar.add_task("red team", total=None)

        def progress(advance: int, total: int) -> None:
            bar.update(task, advance=advance, total=total)

        result = run_campaign(
            options,
            resume=resume,
            store=store,
            progress=progress,
            evidence=evidence,
            target_options=TargetOptions(http=http),
        )
    if json_:
        doc = result.report.model_dump(mode="json")
        doc.update(sent=result.sent, reused=result.reused, elapsed_s=round(result.elapsed_s, 3))
        print_json(doc)
    else:
        render_report(result.report)
        err.print(
            f"\n{result.sent} requests sent, {result.reused} reused from the store in"
            f" {result.elapsed_s:.1f} s; report again with: alignkit redteam report"
            f" {result.run_id}",
            markup=False,
        )
    if not result.report.scored_behaviours:
        # every attempt errored or was unscorable, or none was made: a campaign that failed
        why = "could be scored" if result.report.behaviours else "was attacked"
        err.print(f"no behaviour {why}: the campaign measured nothing", markup=False)
        raise typer.Exit(1)


@redteam_app.command("report")
def report(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run id (a unique prefix will do).")],
    evidence: Annotated[int, typer.Option(min=0, help="Successful attacks to show.")] = 5,
    store: StoreOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Attack success per harm category × family, queries to first success, tokens, evidence.

    Example: alignkit redteam report rt-20250101-120000-abc123
    """
    from alignkit.redteam import load_report

    rep = load_report(run_id, store=store, evidence=evidence)
    if json_:
        print_json(rep.model_dump_json(indent=2))
        return
    render_report(rep)


@redteam_app.command("list")
def list_(
    json_: JsonOpt = False,
    _store: NoStoreOpt = None,
) -> None:
    """List the attack families, converters and strategies.

    Example: alignkit redteam list
    """
    from alignkit.redteam import CONVERTERS, STRATEGIES, load_library

    library = load_library()
    families = {f: [a.id for a in library.family(f)] for f in library.families()}
    convs = {cid: spec.summary for cid, spec in CONVERTERS.items()}
    strategies = {sid: spec.summary for sid, spec in STRATEGIES.items()}
    if json_:
        print_json({"families": families, "converters": convs, "strategies": strategies})
        return
    sections: list[tuple[str, dict[str, str]]] = [
        ("attack families", {f: f"{len(ids)} attacks" for f, ids in families.items()}),
        ("converters", convs),
        ("strategies", strategies),
    ]
    for title, rows in sections:
        table = Table(title=title)
        table.add_column("id", no_wrap=True)
        table.add_column("")
        for k, v in rows.items():
            table.add_row(literal(k), literal(v))
        out.print(table)
