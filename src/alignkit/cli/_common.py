"""Shared pieces of the command line: consoles, option types, output helpers."""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.segment import Segment
from rich.text import Text

from alignkit.core import (
    AlignkitConfig,
    ConfigError,
    HttpConfig,
    Owned,
    Severity,
    checked_path,
    show_bidi,
)

__all__ = [
    "JsonOpt",
    "NoStoreOpt",
    "StoreOpt",
    "err",
    "out",
    "print_json",
    "progress_bar",
    "severity_style",
    "stdout_to_stderr",
    "writable_folder",
]

# Control characters (ESC starts terminal commands: clear the screen, set the title) and
# bidirectional overrides, as they come in packs, targets' answers and their errors.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")  # and lone surrogates


def printable(text: str) -> str:
    """``text`` safe for a terminal: controls as U+FFFD, bidi overrides as ``[U+202E]``.

    Lone surrogates (from a file name that is not UTF-8) become U+FFFD too.
    """
    return show_bidi(_CONTROLS.sub("\ufffd", text))


class _SafeConsole(Console):
    """A console that never passes a control character of the text it prints to the terminal.

    Rich's own styling and cursor control are untouched (they are not text segments).
    """

    def on_broken_pipe(self) -> None:
        """The reader left (``alignkit ... | head``): exit 141 quietly, as SIGPIPE would.

        Rich exits 1, which reads as "findings reached --fail-on".
        """
        quiet_broken_pipe()

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        safe = (seg if seg.control else Segment(printable(seg.text), seg.style) for seg in buffer)
        return super()._render_buffer(safe)


BROKEN_PIPE_EXIT = 141
"""Exit status when stdout's reader has gone: 128 + SIGPIPE, as a shell reports it."""


def quiet_broken_pipe(code: int = BROKEN_PIPE_EXIT) -> NoReturn:
    """Point stdout at /dev/null (so closing it at exit cannot fail again) and exit ``code``."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no stdout file descriptor at all
        pass
    raise SystemExit(code)


out = _SafeConsole(highlight=False, soft_wrap=True)
err = _SafeConsole(stderr=True, highlight=False, soft_wrap=True)

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        envvar="ALIGNKIT_STORE",
        help="Store URL or SQLite path (default .alignkit/alignkit.db).",
        show_envvar=True,
    ),
]
# DESIGN §5: ``--store`` is accepted after any subcommand, so one command line (or an
# exported ALIGNKIT_STORE) serves them all; commands that keep nothing in a store take it
# and leave it unused, hidden from their help.
NoStoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        envvar="ALIGNKIT_STORE",
        hidden=True,
        help="Accepted on every command; this one reads and writes no store.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]

_STYLES = {
    Severity.INFO: "dim",
    Severity.LOW: "cyan",
    Severity.MEDIUM: "yellow",
    Severity.HIGH: "red",
    Severity.CRITICAL: "bold red",
}


def severity_style(sev: Severity) -> str:
    """Rich style for a severity."""
    return _STYLES[sev]


def _finite(obj: Any) -> Any:
    """``obj`` with NaN and infinities as ``None``: JSON has no literal for them."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def print_json(obj: Any) -> None:
    """Write ``obj`` as JSON to stdout (strings are taken as JSON already).

    NaN and infinities are written as ``null`` (``NaN`` made the document invalid JSON).
    """
    text = (
        obj
        if isinstance(obj, str)
        else json.dumps(_finite(obj), indent=2, default=_json_default, allow_nan=False)
    )
    try:
        typer.echo(text)
        sys.stdout.flush()  # a closed pipe is found here, not in typer (which exits 1)
    except BrokenPipeError:
        quiet_broken_pipe()


def _json_default(value: Any) -> str:
    """Datetimes in ISO 8601 as report.json writes them (``…T11:42:40.324712Z``)."""
    if isinstance(value, datetime):
        text = value.isoformat()
        return text[: -len("+00:00")] + "Z" if text.endswith("+00:00") else text
    return str(value)


def note_replaced_reports(folder: Path, run_id: str) -> None:
    """Say so when the reports replace files in ``folder`` (as CI expects, they do).

    Another run's reports are named by their run; files of the same names that are no
    run's (a user's own ``report.html``) were replaced without a word.
    """
    from alignkit.report import REPORT_FILES

    there = [name for name in REPORT_FILES.values() if (folder / name).is_file()]
    if not there:
        return
    try:
        before = json.loads((folder / "report.json").read_text(encoding="utf-8")).get("run_id")
    except (OSError, ValueError, AttributeError):
        before = None
    if before == run_id:
        return
    if isinstance(before, str) and before:
        err.print(f"note: replacing the reports of run {before} in {folder}", markup=False)
    else:  # a user's own report.html was replaced without a word
        err.print(f"note: replacing {', '.join(there)} in {folder}", markup=False)


def literal(value: object, style: str = "") -> Text:
    """``value`` printed as it is, never read as markup.

    ``[/x]`` in a target's error crashed the scorecard; ``rich.markup.escape`` doubles a
    trailing backslash (a Windows path).
    """
    return Text(str(value), style=style)


def out_path(value: str) -> Path:
    """Parse an output option: an empty value (an unset variable) is refused.

    ``Path("")`` is ``.``: ``--out "$DIR"`` with ``DIR`` unset wrote into the current folder.
    """
    if not value.strip():
        raise typer.BadParameter("is empty; give a path (an unset variable?)")
    return Path(value)


def note_replaced_file(path: Path) -> None:
    """Say so when an output file already exists (it is replaced, as ``-o`` flags do)."""
    if path.is_file():
        err.print(f"note: replacing {path}", markup=False)


def not_an_input(path: Path, option: str, inputs: dict[str, Path | None]) -> None:
    """Refuse an output file that is one of the files the command reads or is inside one.

    Args:
        path: The output file.
        option: Its option, for the message.
        inputs: Input files by the option that names them (``None``: not given).

    Raises:
        ConfigError: ``path`` is one of ``inputs`` (writing it would replace the input),
            or inside one that is a folder.
    """
    for name, source in inputs.items():
        if source is None:
            continue
        if _same_file(path, source):
            raise ConfigError(
                f"{option} {path} is the {name} file being read; writing it would replace"
                " the input, give another name"
            )
        if source.is_dir() and _inside(path, source):  # a reward ensemble's ensemble.json
            raise ConfigError(
                f"{option} {path} is inside the {name} folder being read; give a path outside it"
            )


def no_input_inside(folder: Path, option: str, inputs: dict[str, Path | None]) -> None:
    """Refuse an output folder, replaced as a whole, that holds one of the inputs.

    Args:
        folder: The output folder.
        option: Its option, for the message.
        inputs: Input files or folders by the option that names them (``None``: not given).

    Raises:
        ConfigError: An input is ``folder`` itself or inside it.
    """
    for name, source in inputs.items():
        if source is not None and _inside(source, folder):
            raise ConfigError(
                f"{option} {folder} holds the {name} input {source}; give a folder outside it"
            )


def writable_out(path: Path, *, folder: bool, owned: Owned | None = None) -> Path:
    """Refuse an output path that cannot be written, before any work is done.

    Args:
        path: The ``--out`` path.
        folder: Whether the command writes a folder (else a file).
        owned: What the command may replace in its folder (see :class:`Owned`).

    Raises:
        ConfigError: A folder output that is an existing file or holds files the command
            did not write, or a file output that is an existing folder.
    """
    checked_path(path)  # first: a name too long for is_dir() to ask
    if not folder and path.is_dir():
        raise ConfigError(f"--out {path} is a folder; give a file name")
    if folder:
        (owned or Owned("the output")).check(path)
    writable_folder(path)
    return path


def check_report_folder(out_dir: Path, store_url: str | None = None) -> None:
    """Refuse, before any work, a report folder the reports cannot be written into.

    ``store_url`` is the store the command writes to (``None``: it stores nothing).

    Raises:
        ConfigError: A report's name there is a folder, or a report would be written over
            the store's own file (every stored run was lost).
    """
    from alignkit.report import REPORT_FILES
    from alignkit.store import store_file

    database = None if store_url is None else store_file(store_url)
    writable_folder(out_dir / "report.json")
    for name in REPORT_FILES.values():
        if (out_dir / name).is_dir():
            raise ConfigError(
                f"--out {out_dir}: {name} there is a folder; remove it or choose another"
            )
        if database is not None:
            not_an_input(out_dir / name, "--out", {"--store": database})


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError):
        return False


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)  # hard links and links too
    except (OSError, ValueError):
        try:
            return a.resolve() == b.resolve()
        except (OSError, RuntimeError):
            return False


def writable_folder(path: Path, option: str = "--out") -> None:
    """Refuse ``path`` when its folder cannot be created or written (checked before work).

    Raises:
        ConfigError: The nearest existing ancestor is not a writable folder.
    """
    checked_path(path, option)
    parent = next((p for p in (path.parent, *path.parent.parents) if p.exists()), None)
    if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK):
        raise ConfigError(f"{option} {path}: its folder cannot be created or written")


@contextlib.contextmanager
def stdout_to_stderr(active: bool = True) -> Iterator[None]:
    """Send what others print (a user's app under audit) to stderr while ``active``.

    With ``--json`` stdout must hold the JSON document and nothing else. File descriptor
    1 is pointed at stderr too, for what writes below Python (a subprocess the app starts,
    a C library), when stdout is the process's own.
    """
    if not active:
        yield
        return
    saved = _point_stdout_at_stderr()
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)


def _point_stdout_at_stderr() -> int | None:
    """A copy of file descriptor 1 after pointing it at 2, or ``None`` when not ours to move."""
    try:
        if sys.stdout.fileno() != 1 or sys.stderr.fileno() != 2:
            return None
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError, AttributeError):  # io.UnsupportedOperation is a ValueError
        return None
    os.dup2(2, 1)
    return saved


def progress_bar(*columns: str | ProgressColumn, quiet: bool = False) -> Progress:
    """A progress display on stderr, cleared when done; off when stderr is no terminal."""
    return Progress(*columns, console=err, transient=True, disable=quiet or not err.is_terminal)


@contextlib.contextmanager
def working(what: str) -> Iterator[None]:
    """A spinner with the time elapsed on stderr while long work of unknown length runs."""
    with progress_bar(
        SpinnerColumn(), TextColumn("{task.description}", markup=False), TimeElapsedColumn()
    ) as bar:
        bar.add_task(what, total=None)
        yield


ApiKeyEnvOpt = Annotated[
    str | None, typer.Option(help="Env var holding the API key for openai: targets.")
]
MaxRequestsOpt = Annotated[
    int | None, typer.Option(help="Spend cap: requests to an openai: target.")
]
MaxTokensTotalOpt = Annotated[
    int | None, typer.Option(help="Spend cap: tokens to an openai: target.")
]


def http_config(
    cfg: AlignkitConfig, key_env: str | None, max_req: int | None, max_tok: int | None
) -> HttpConfig:
    """The config's ``http`` section with ``--api-key-env`` and the spend caps applied.

    Raises:
        ConfigError: The variable is not set, or a cap is out of range (one line).
    """
    given = {"api_key_env": key_env, "max_requests": max_req, "max_tokens_total": max_tok}
    update = {k: v for k, v in given.items() if v is not None}
    if key_env is not None and key_env not in os.environ:
        raise ConfigError(f"--api-key-env {key_env}: that environment variable is not set")
    try:
        return HttpConfig.model_validate({**cfg.http.model_dump(), **update})
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).replace("_", "-") if first["loc"] else "http"
        raise ConfigError(f"--{name} {first.get('input')!r}: {first['msg']}") from None
