"""``alignkit serve``, ``alignkit guard check`` and ``alignkit guard verify``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from alignkit.cli._common import (
    ApiKeyEnvOpt,
    JsonOpt,
    MaxRequestsOpt,
    MaxTokensTotalOpt,
    NoStoreOpt,
    StoreOpt,
    err,
    http_config,
    out,
    print_json,
)
from alignkit.core import load_config, resolve_store_url
from alignkit.models import public_uri

guard_app = typer.Typer(
    help="The run-time guard: offline checks and the audit log.\n\nExample: alignkit guard verify",
    no_args_is_help=True,
)
GuardOpt = Annotated[
    Path | None,
    typer.Option("--guard", help="Guard config YAML (default: the shipped guard.yaml)."),
]


def serve(
    target: Annotated[str, typer.Argument(help="Target URI to serve, e.g. organism:flawed.")],
    guard: GuardOpt = None,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    api_key_env: ApiKeyEnvOpt = None,
    max_requests: MaxRequestsOpt = None,
    max_tokens_total: MaxTokensTotalOpt = None,
    store: StoreOpt = None,
    json_: Annotated[
        bool,
        typer.Option("--json", help="Once listening, print {url, approvals} as one JSON line."),
    ] = False,
) -> None:
    """Serve TARGET as an OpenAI-compatible API behind the guard's rails, breakers and audit log.

    Also serves tool-call checks (POST /v1/actions/check) and the approvals page
    (/approvals, admin token from $ALIGNKIT_ADMIN_TOKEN).

    Example: alignkit serve openai:http://127.0.0.1:9000/v1#upstream --guard guard.yaml --port 8000
    """
    from alignkit.guard import serve as run_server

    def listening(url: str) -> None:
        approvals = f"{url.removesuffix('/v1')}/approvals"
        err.print(f"serving {public_uri(target)} on {url} (Ctrl-C stops)", markup=False)
        err.print(f"approvals page: {approvals}", markup=False)
        if json_:  # for scripts that start it with --port 0 and need the address
            typer.echo(json.dumps({"url": url, "approvals": approvals}))

    cfg = load_config()
    given = (api_key_env, max_requests, max_tokens_total) != (None, None, None)
    # without either, the server's own default (one retry: a client waits on each)
    http = http_config(cfg, api_key_env, max_requests, max_tokens_total)
    run_server(
        target,
        guard,
        host=host,
        port=port,
        store_url=resolve_store_url(store, cfg),
        http=http if given or "http" in cfg.model_fields_set else None,
        listening=listening,
    )


@guard_app.command("check")
def check(
    traffic: Annotated[
        Path,
        typer.Argument(help="JSONL rows {id, prompt|messages, response?}, or a CSV file."),
    ],
    guard: GuardOpt = None,
    json_: JsonOpt = False,
    _store: NoStoreOpt = None,
) -> None:
    """Run the guard's rails offline over recorded traffic.

    Example: alignkit guard check traffic.jsonl --guard guard.yaml --json
    """
    from alignkit.guard import check_file

    result = check_file(traffic, guard)
    if json_:
        print_json(result)
        return
    for row in result["results"]:
        cells = (row["id"], row["decision"], row["rail"] or "-", row["reason"])
        out.print("\t".join(_cell(c) for c in cells), markup=False)


def _cell(value: object) -> str:
    r"""One tab-separated cell: a tab or line break inside it is written as ``\t``, ``\n``."""
    return str(value).replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


@guard_app.command("verify")
def verify(
    store: StoreOpt = None,
    expect_head: Annotated[
        str | None,
        typer.Option(
            "--expect-head",
            metavar="SEQ:HASH",
            help="A head an earlier verify printed (kept elsewhere): the chain must still"
            " hold it, so a log cut back to an earlier end is caught.",
        ),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Verify the audit log's hash chain; exit 1 and name the first bad entry if tampered.

    Set ALIGNKIT_GUARD_LOG_KEY to the key the log was written with. Keep the printed head
    somewhere the store's writers cannot reach and pass it back with --expect-head.

    Example: alignkit guard verify --store .alignkit/alignkit.db --expect-head 120:3f9a…
    """
    from alignkit.guard import verify_log

    report = verify_log(resolve_store_url(store), expect_head=expect_head)
    if json_:
        print_json(report)
    elif report["ok"]:
        head = f"; head {report['head']}" if report["head"] else ""
        out.print(
            f"audit log verified: {report['entries']} entries, chain intact{head}", markup=False
        )
    else:
        out.print(
            f"audit log FAILED verification at entry {report['first_bad']}: {report['problem']}",
            markup=False,
        )
    if not report["ok"]:
        raise typer.Exit(1)
