"""``alignkit monitor traffic``: the traffic monitor's drift and anomaly history."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.table import Table

from alignkit.cli._common import JsonOpt, StoreOpt, err, literal, out, print_json, severity_style
from alignkit.core import ConfigError, Severity

__all__ = ["traffic"]

_BLOCKS = "▁▂▃▄▅▆▇█"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _since(text: str | None) -> datetime | None:
    if not text:
        return None
    unit = text[-1]
    try:
        amount = float(text[:-1])
    except ValueError:
        amount = -1
    if unit not in _UNITS or not 0 < amount < float("inf"):  # nan fails too
        raise ConfigError(f"--since must look like 30m, 12h or 7d, not '{text}'")
    try:
        return datetime.now(UTC) - timedelta(seconds=amount * _UNITS[unit])
    except OverflowError:  # 99999999d: further back than any stored report
        return None


def _spark(raw: list[float | None], width: int = 24) -> str:
    values = [v for v in raw if v is not None][-width:]  # a NaN value is stored as none
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    if not math.isfinite(span):  # ±1.7e308: the span overflows; scale down first
        low, span = low / 4, (high / 4 - low / 4) or 1.0
        values = [v / 4 for v in values]
    return "".join(_BLOCKS[int((v - low) / span * (len(_BLOCKS) - 1))] for v in values)


def traffic(
    store: StoreOpt = None,
    metric: Annotated[
        str | None, typer.Option(help="Only metrics matching this glob, e.g. 'traffic.input_*'.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only reports this recent: 30m, 12h, 7d.")
    ] = None,
    fail_on: Annotated[
        Severity | None,
        typer.Option("--fail-on", help="Exit 1 when a metric's latest report is at least this."),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Show the drift and anomaly history that `alignkit serve` stored.

    Example: alignkit monitor traffic --store .alignkit/alignkit.db --metric 'traffic.input_*'
    """
    from alignkit.guard import traffic_history

    report = traffic_history(store, metric=metric, since=_since(since))
    if json_:
        print_json(report)
    elif not report["metrics"]:
        narrowed = " match --since/--metric" if since or metric else " stored yet"
        out.print(
            f"no traffic reports{narrowed} (alignkit serve stores them as traffic flows)",
            markup=False,
        )
    else:
        out.print(_table(report))
    if report.get("truncated"):
        err.print(
            f"note: only the newest {report['rows']} stored values were read; first alarms"
            " are within them (narrow with --since or --metric)",
            markup=False,
        )
    worst = [Severity(m["latest"]["severity"]) for m in report["metrics"]]
    if fail_on is not None and any(s >= fail_on for s in worst):
        raise typer.Exit(1)


def _table(report: dict[str, Any]) -> Table:
    table = Table(title=f"Traffic monitor ({report['reports']} reports)")
    for name in ("metric", "latest", "severity", "history", "first alarm"):
        table.add_column(name, no_wrap=name != "first alarm")
    for m in report["metrics"]:
        latest = m["latest"]
        sev = Severity(latest["severity"])
        first = m["first_alarm"]
        alarm = f"{first['time'][:19]} (request {first['requests']})" if first else "-"
        table.add_row(
            literal(m["metric"]),
            "-" if latest["value"] is None else f"{latest['value']:.3f}",
            f"[{severity_style(sev)}]{sev.value}[/]",
            _spark([p["value"] for p in m["history"]]),
            alarm,
        )
    return table
