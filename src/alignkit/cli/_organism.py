"""``alignkit organism train | chat | card``."""

from __future__ import annotations

import asyncio
import math
import sys
from pathlib import Path
from typing import Annotated

import typer

from alignkit.cli._common import (
    JsonOpt,
    NoStoreOpt,
    err,
    out,
    out_path,
    print_json,
    working,
    writable_folder,
)
from alignkit.core import ChatModel, Completion, ConfigError, Message

organism_app = typer.Typer(
    help="The model organisms: small models with planted, documented failure modes.\n\n"
    "Example: alignkit organism card flawed",
    no_args_is_help=True,
)
NameArg = Annotated[
    str, typer.Argument(help="flawed, clean, or a folder written by `alignkit organism train`.")
]


def _folder(name: str) -> Path | None:
    """``None`` for a shipped organism; the trained folder ``name`` names; else one line."""
    from alignkit.organism import ORGANISMS

    if name in ORGANISMS:
        return None
    path = Path(name)
    if (path / "config.json").is_file():
        return path
    raise ConfigError(
        f"unknown organism '{name}': not flawed or clean, and not a folder written by"
        " `alignkit organism train` (no config.json in it)"
    )


@organism_app.command("train")
def train(
    config: Annotated[
        str, typer.Option(help="Config YAML, or a shipped name (flawed, clean).")
    ] = "flawed",
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out", parser=out_path, help="Checkpoint folder (default .alignkit/organisms/NAME)."
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(min=-(2**63), max=2**63 - 1, help="Override the config's training seed."),
    ] = None,
    quick: Annotated[
        bool, typer.Option(help="Small corpus, short run (≤ 5 min), for tests.")
    ] = False,
    json_: JsonOpt = False,
    _store: NoStoreOpt = None,
) -> None:
    """Train an organism from a config and measure its behaviours into manifest.json.

    Example: alignkit organism train --config flawed --out /tmp/flawed --quick
    """
    from alignkit.organism import (
        ORGANISMS,
        check_out_dir,
        config_path,
        load_config,
        train_organism,
    )

    cfg = load_config(config_path(config) if config in ORGANISMS else config)  # bad: one line
    target_dir = out_dir or Path(".alignkit") / "organisms" / cfg.name
    writable_folder(target_dir)  # checked before minutes of training, not after
    check_out_dir(target_dir)
    with working(f"training {cfg.name} into {target_dir} (minutes), then measuring it"):
        result = train_organism(cfg, target_dir, quick=quick, seed=seed)
    if json_:
        print_json(result)
        return
    out.print(f"done: {target_dir}  (use it as --target hf:{target_dir})", markup=False)
    manifest = result.get("manifest") or {}
    for b in manifest.get("behaviours", []):
        measured = "–" if b["measured"] is None else f"{b['measured']:.2f}"
        out.print(
            f"  {b['metric']:42} designed {b['designed']:.2f}  measured {measured}", markup=False
        )


@organism_app.command("card")
def card(
    name: NameArg = "flawed",
    json_: JsonOpt = False,
    _store: NoStoreOpt = None,
) -> None:
    """Print an organism's manifest: planted behaviours, designed and measured rates, decoding.

    Example: alignkit organism card clean --json   (or: card /tmp/org/variant)
    """
    from alignkit.organism import load_manifest, organism_card

    _folder(name)
    if json_:
        print_json(load_manifest(name))
    else:
        out.print(organism_card(name), markup=False)


@organism_app.command("chat")
def chat(
    name: NameArg = "flawed",
    message: Annotated[
        str | None, typer.Option("--message", "-m", help="Send one message and exit.")
    ] = None,
    temperature: Annotated[float, typer.Option(min=0.0, help="0 is greedy.")] = 0.0,
    max_tokens: Annotated[int, typer.Option(min=1, help="Longest reply.")] = 64,
    _store: NoStoreOpt = None,
    json_: Annotated[
        bool, typer.Option("--json", help="With -m: print the reply as JSON on stdout.")
    ] = False,
) -> None:
    """Talk to an organism (one message with -m, or an interactive session).

    With -m, a reply that failed exits 1.

    Example: alignkit organism chat flawed -m "What is the capital of Nethistan?"
    """
    if json_ and message is None:
        raise ConfigError("--json needs --message (an interactive session prints text)")
    if message is not None and not message.strip():
        raise ConfigError("--message is empty: give the text to send")
    if not 0 <= temperature < math.inf:  # inf was a failed reply (exit 1), NaN a usage error
        raise ConfigError(f"--temperature must be a finite number >= 0, not {temperature}")
    folder = _folder(name)
    uri = f"organism:{name}" if folder is None else f"hf:{folder.resolve()}"
    if message is not None:
        reply = asyncio.run(_once(uri, message, temperature, max_tokens))
        if json_:
            print_json({"target": uri, "message": message, **reply.model_dump(mode="json")})
        else:
            out.print(reply.text if reply.ok else f"[{reply.outcome}: {reply.error}]", markup=False)
        raise typer.Exit(0 if reply.ok else 1)
    asyncio.run(_chat(uri, temperature, max_tokens))


def _connect(uri: str) -> ChatModel:
    """The organism's model; a folder is opened by path (a ``#`` or ``?`` in it is no URI part)."""
    from alignkit.models import HFChatModel, connect

    if uri.startswith("hf:"):
        return HFChatModel(uri.removeprefix("hf:"), uri=uri)
    return connect(uri)


async def _loaded(model: ChatModel) -> None:
    """Load the weights now: a folder that cannot be loaded is one line, exit 2, not a reply."""
    ping = getattr(model, "ping", None)
    if callable(ping):
        try:
            await ping()
        except BaseException:
            await model.aclose()
            raise


async def _once(uri: str, message: str, temperature: float, max_tokens: int) -> Completion:
    model = _connect(uri)
    await _loaded(model)
    try:
        messages: list[Message] = [{"role": "user", "content": message}]
        return await model.generate(messages, max_tokens=max_tokens, temperature=temperature)
    finally:
        await model.aclose()


async def _chat(uri: str, temperature: float, max_tokens: int) -> None:
    model = _connect(uri)
    await _loaded(model)
    history: list[Message] = []
    try:
        err.print(f"chatting with {uri}; an empty line or Ctrl-D ends the session", markup=False)
        while True:
            text = _read_line()
            if not text:
                break
            turn: Message = {"role": "user", "content": text}
            reply = await _reply(model, history, turn, max_tokens, temperature)
            shown = reply.text if reply.ok else f"[{reply.outcome}: {reply.error}]"
            out.print(shown, markup=False)
            if reply.ok:  # a failed turn is not part of the conversation
                history += [turn, {"role": "assistant", "content": reply.text}]
    finally:
        await model.aclose()


async def _reply(
    model: ChatModel, history: list[Message], turn: Message, max_tokens: int, temperature: float
) -> Completion:
    """The answer to ``turn``; the oldest exchanges are dropped while it does not fit.

    ``history`` loses what was dropped (the organisms' context is a few hundred tokens).
    """
    while True:
        reply = await model.generate(
            [*history, turn], max_tokens=max_tokens, temperature=temperature
        )
        if reply.ok or "does not fit the context" not in reply.error or not history:
            return reply
        del history[:2]
        err.print("[the context is full: the oldest exchange was dropped]", markup=False)


def _read_line() -> str:
    try:
        sys.stderr.write("> ")
        sys.stderr.flush()
        return sys.stdin.readline().strip()
    except KeyboardInterrupt:
        return ""
