"""``alignkit checks``, ``alignkit taxonomy`` and ``alignkit config``."""

from __future__ import annotations

import difflib
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from alignkit import taxonomy
from alignkit.cli._common import JsonOpt, NoStoreOpt, literal, out, print_json
from alignkit.core import CHECKS, ConfigError, MetricSpec, config_schema

checks_app = typer.Typer(
    help="Registered checks.\n\nExample: alignkit checks list", no_args_is_help=True
)
taxonomy_app = typer.Typer(
    help="The failure-mode taxonomy.\n\nExample: alignkit taxonomy show sycophancy",
    invoke_without_command=True,
)
config_app = typer.Typer(
    help="Configuration.\n\nExample: alignkit config schema organism", no_args_is_help=True
)


def _covering() -> dict[str, list[str]]:
    cover: dict[str, list[str]] = {}
    for cid, spec in CHECKS.items():
        modes = set(spec.failure_modes) | {m.failure_mode for m in spec.metrics if m.failure_mode}
        for mode in modes:
            cover.setdefault(mode, []).append(cid)
    return cover


@checks_app.command("list")
def checks_list(
    json_: JsonOpt = False,
    _store: NoStoreOpt = None,
) -> None:
    """List registered checks with target kind, cost and metrics.

    Example: alignkit checks list --json
    """
    rows = [
        {
            "id": cid,
            "target_kind": str(spec.target_kind),
            "cost": spec.cost,
            "failure_modes": list(spec.failure_modes),
            "metrics": [m.name for m in spec.metrics],
            "requires": sorted(spec.requires),
            "item_kinds": list(spec.item_kinds),
            "summary": spec.summary,
        }
        for cid, spec in CHECKS.items()
    ]
    if json_:
        print_json({"checks": rows})
        return
    # One block per check: ids are too long for table columns in 80 characters.
    out.print(f"[bold]Registered checks[/bold] ({len(rows)})")
    for row in rows:
        out.print(
            Text.assemble(
                "\n",
                (str(row["id"]), "bold"),
                f"  {row['target_kind']} targets, cost {row['cost']}",
            ),
            highlight=False,
        )
        if row["summary"]:
            out.print(f"  {row['summary']}", markup=False)
        out.print(f"  metrics: {', '.join(row['metrics'])}", markup=False)
        out.print(f"  failure modes: {', '.join(row['failure_modes'])}", markup=False)


def _metric_row(m: MetricSpec, check_mode: str) -> dict[str, Any]:
    ordered = sorted(m.thresholds.items(), key=lambda kv: kv[0].rank)
    return {
        "name": m.name,
        "direction": str(m.direction),
        "thresholds": {str(sev): bound for sev, bound in ordered},
        "failure_mode": m.failure_mode or check_mode,
        "rate": m.rate,
        "description": m.description,
    }


@checks_app.command("show")
def checks_show(
    id: Annotated[str, typer.Argument(help="Check id, e.g. sycophancy.")],
    json_: JsonOpt = False,
    _store: NoStoreOpt = None,
) -> None:
    """Show one check: what it measures, the items it needs, each metric's severity thresholds.

    Example: alignkit checks show sycophancy
    """
    if id not in CHECKS:
        close = difflib.get_close_matches(id, list(CHECKS), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else " (see: alignkit checks list)"
        raise ConfigError(f"unknown check '{id}'{hint}")
    spec = CHECKS.get(id)
    mode = spec.failure_modes[0] if spec.failure_modes else ""
    metrics = [_metric_row(m, mode) for m in spec.metrics]
    row: dict[str, Any] = {
        "id": id,
        "target_kind": str(spec.target_kind),
        "cost": spec.cost,
        "failure_modes": list(spec.failure_modes),
        "requires": sorted(spec.requires),
        "item_kinds": list(spec.item_kinds),
        "doc": spec.doc,
        "metrics": metrics,
    }
    if json_:
        print_json(row)
        return
    out.print(Text.assemble((id, "bold"), f"  {row['target_kind']} targets, cost {spec.cost}"))
    out.print(f"\n{spec.doc or '-'}\n", markup=False)
    needs = ", ".join(spec.item_kinds) or "none"
    out.print(f"item kinds: {needs}", markup=False)
    if spec.requires:
        out.print(f"target must offer: {', '.join(sorted(spec.requires))}", markup=False)
    for m in metrics:
        arrow = "higher" if m["direction"] == "higher_is_worse" else "lower"
        out.print(
            Text.assemble(
                "\n", (str(m["name"]), "bold"), f"  ({arrow} is worse; {m['failure_mode']})"
            )
        )
        if m["description"]:
            out.print(f"  {m['description']}", markup=False)
        cmp = ">=" if arrow == "higher" else "<="
        bounds = ", ".join(f"{sev} {cmp} {b:g}" for sev, b in m["thresholds"].items())
        out.print(f"  severity: {bounds or 'info only'}", markup=False)


@taxonomy_app.callback()
def taxonomy_list(
    ctx: typer.Context,
    json_: JsonOpt = False,
    _store: NoStoreOpt = None,
) -> None:
    """List failure-mode ids with the checks that cover them.

    Example: alignkit taxonomy
    """
    if ctx.invoked_subcommand is not None:
        ctx.obj = {"json": json_}  # `taxonomy --json show ID` asks the subcommand for JSON
        return
    cover = _covering()
    if json_:
        print_json(
            {
                "failure_modes": [
                    {"id": m.id, "title": m.title, "checks": sorted(cover.get(m.id, []))}
                    for m in taxonomy.all_modes()
                ]
            }
        )
        return
    modes = taxonomy.all_modes()
    table = Table(title="Failure modes")
    table.add_column("id", no_wrap=True, min_width=max(len(m.id) for m in modes))
    table.add_column("title")
    table.add_column("checks", overflow="fold")
    for m in modes:
        checks = ", ".join(sorted(cover.get(m.id, []))) or "-"
        table.add_row(literal(m.id), literal(m.title), literal(checks))
    out.print(table)


@taxonomy_app.command("show")
def taxonomy_show(
    ctx: typer.Context,
    id: Annotated[str, typer.Argument(help="Failure-mode id, e.g. sycophancy.")],
    json_: JsonOpt = False,
    _store: NoStoreOpt = None,
) -> None:
    """Show one failure mode: definition, examples, mitigations, NIST AI RMF, checks.

    Example: alignkit taxonomy show reward-hacking
    """
    json_ = json_ or bool((ctx.obj or {}).get("json"))
    checks = sorted(_covering().get(id, []))  # loads plugins, which may add failure modes
    try:
        mode = taxonomy.get(id)
    except KeyError:
        close = difflib.get_close_matches(id, taxonomy.ids(), n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise ConfigError(f"unknown failure mode '{id}' ({hint}see: alignkit taxonomy)") from None
    if json_:
        print_json({**mode.model_dump(), "checks": checks})
        return
    out.print(Text.assemble((mode.title, "bold"), f"  ({mode.id})\n\n{mode.definition}\n"))
    for heading, items in (
        ("Examples", mode.examples),
        ("Mitigations", mode.mitigations),
        ("NIST AI RMF", mode.nist),
        ("Checks", checks),
    ):
        out.print(f"[bold]{heading}[/bold]")
        for item in items or ["-"]:
            out.print(f"  • {item}", markup=False)


_SCHEMAS = ("alignkit", "guard", "actions", "organism", "constitution")


@config_app.command("schema")
def schema(
    kind: Annotated[
        str, typer.Argument(help="alignkit, guard, actions, organism or constitution.")
    ] = "alignkit",
    json_: JsonOpt = True,
    _store: NoStoreOpt = None,
) -> None:
    """Print the JSON schema a config file is validated against (alignkit.yaml by default).

    Example: alignkit config schema guard > guard.schema.json

    The schema is JSON either way; ``--json`` is accepted as everywhere else.
    """
    if kind == "alignkit":
        print_json(config_schema())
        return
    if kind not in _SCHEMAS:
        raise ConfigError(f"no config kind '{kind}' (known: {', '.join(_SCHEMAS)})")
    from pydantic import BaseModel

    from alignkit.guard import ActionPolicyConfig, GuardConfig
    from alignkit.organism import OrganismConfig
    from alignkit.train import Constitution

    models: dict[str, type[BaseModel]] = {
        "guard": GuardConfig,
        "actions": ActionPolicyConfig,
        "organism": OrganismConfig,
        "constitution": Constitution,
    }
    model = models[kind]
    print_json(model.model_json_schema())
