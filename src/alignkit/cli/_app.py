"""The ``alignkit`` command tree (DESIGN §5) and its error handling."""

from __future__ import annotations

import errno
import io
import logging
import os
import signal
import sys
from typing import NoReturn

import click
import typer

from alignkit.cli._audit import audit
from alignkit.cli._common import err, printable, quiet_broken_pipe
from alignkit.cli._guard import guard_app, serve
from alignkit.cli._info import checks_app, config_app, taxonomy_app
from alignkit.cli._interpret import interpret_app
from alignkit.cli._lab import lab_app, monitor_app
from alignkit.cli._organism import organism_app
from alignkit.cli._redteam import redteam_app
from alignkit.cli._runs import runs_app
from alignkit.cli._traffic import traffic
from alignkit.cli._train import train_app
from alignkit.core import AlignkitError

__all__ = ["app", "main"]

app = typer.Typer(
    name="alignkit",
    help="Reproduce, detect, mitigate and guard against AI alignment failures.\n\n"
    "Example: alignkit audit --target organism:flawed",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("audit")(audit)
app.add_typer(runs_app, name="runs")
app.add_typer(checks_app, name="checks")
app.add_typer(taxonomy_app, name="taxonomy")
app.add_typer(config_app, name="config")
app.add_typer(organism_app, name="organism")
app.add_typer(lab_app, name="lab")
monitor_app.command("traffic")(traffic)
app.add_typer(monitor_app, name="monitor")
app.command("serve")(serve)
app.add_typer(guard_app, name="guard")
app.add_typer(redteam_app, name="redteam")
app.add_typer(train_app, name="train")
app.add_typer(interpret_app, name="interpret")


def _vendored_errors() -> tuple[type[Exception], ...]:
    """Typer's own copy of click's exceptions (newer typer vendors click); none on older."""
    try:
        from typer.exceptions import TyperException
    except ImportError:  # pragma: no cover - typer that raises click's own exceptions
        return ()
    return (TyperException,)


_USAGE_ERRORS: tuple[type[Exception], ...] = (click.ClickException, *_vendored_errors())


def _usage_line(exc: Exception) -> str:
    """One line for a usage error: the message and where the help is."""
    fmt = getattr(exc, "format_message", None)
    message = (fmt() if callable(fmt) else str(exc)).strip()
    ctx = getattr(exc, "ctx", None)
    if not message:  # a command group run bare: its help is printed, the line said nothing
        message = "missing command: name one of those listed above"
    path = getattr(ctx, "command_path", None)
    return f"error: {message}" + (f" (see '{path} --help')" if path else "")


_terminated: list[bool] = []


def _on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM (``timeout``, a cancelled CI job, ``docker stop``), handled as Ctrl-C is.

    It is passed on as SIGINT, so inside ``asyncio.run`` the loop's own handler cancels the
    main task cleanly; raised here, the interrupt could land inside another task, which
    then died with "Task exception was never retrieved" and a traceback.
    """
    _terminated.append(True)  # typer turns the interrupt into Exit(130); remember why
    signal.raise_signal(signal.SIGINT)


def _stopped(default: str) -> None:
    """Exit after an interrupt: 143 for SIGTERM, 130 for Ctrl-C."""
    if _terminated:
        err.print("terminated")
        sys.exit(143)
    err.print(default)
    sys.exit(130)


class _PrintableFormatter(logging.Formatter):
    """Log lines with control characters shown, never obeyed, by the terminal."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))


def _after_the_command() -> None:
    """Ignore the first Ctrl-C once the command has done its work and said so.

    Teardown (joining threads, flushing logs at exit) takes a moment; a Ctrl-C in it ended
    a finished run with exit 130 and no word, or with a traceback. A second one stops the
    process at once. SIGTERM keeps its meaning: it ends the process now, exit 143 (passed
    on as SIGINT, as during the run, it was ignored here). Only for the command line
    itself (``main()`` with no arguments): a caller of ``main(argv)`` goes on running, and
    its Ctrl-C must keep working.
    """

    def again(signum: int, frame: object) -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    def terminate(signum: int, frame: object) -> None:
        try:
            err.print("terminated")
            sys.stdout.flush()
            sys.stderr.flush()
        finally:  # a print re-entering a stream's write raises: exit all the same
            os._exit(143)

    signal.signal(signal.SIGINT, again)
    signal.signal(signal.SIGTERM, terminate)


_NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS}


def _internal_error(exc: Exception) -> NoReturn:
    if os.environ.get("ALIGNKIT_DEBUG"):
        raise exc
    err.print(
        f"internal error: {type(exc).__name__}: {exc} (set ALIGNKIT_DEBUG=1 for a traceback)",
        markup=False,
    )
    sys.exit(3)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI: exit 0 ok, 1 findings/failed gate, 2 bad input, 3 internal error."""
    logging.basicConfig(
        level=os.environ.get("ALIGNKIT_LOG", "WARNING").upper(),
        format="%(levelname)s %(name)s: %(message)s",
    )
    if isinstance(sys.stdout, io.TextIOWrapper):  # PYTHONIOENCODING=ascii: `≥` crashed a table
        sys.stdout.reconfigure(errors="backslashreplace")
    for handler in logging.getLogger().handlers:  # an app's error text is logged too
        handler.setFormatter(_PrintableFormatter("%(levelname)s %(name)s: %(message)s"))
    # A run killed by SIGTERM stayed "running" in the store with no word on resuming it.
    signal.signal(signal.SIGTERM, _on_sigterm)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        # A background job of a script starts with SIGINT ignored: asyncio then installs no
        # handler, and SIGTERM passed on as SIGINT did nothing (the run went on to the end).
        # Restored, an interrupt stops the run cleanly and leaves it resumable.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        rc = app(args=argv, standalone_mode=False)
        if argv is None:
            _after_the_command()
    except (click.exceptions.Abort, typer.Abort):
        _stopped("aborted")
    except _USAGE_ERRORS as exc:  # usage errors: one line, exit 2
        err.print(_usage_line(exc), markup=False)
        sys.exit(int(getattr(exc, "exit_code", 2)))
    except AlignkitError as exc:
        err.print(f"error: {exc}", markup=False)
        sys.exit(2)
    except KeyboardInterrupt:
        _stopped("interrupted")
    except BrokenPipeError:  # `alignkit ... --json | head`: the reader left
        quiet_broken_pipe()
    except OSError as exc:
        if exc.errno not in _NO_ROOM:
            _internal_error(exc)
        # a full disk or a failing device (`> /dev/full`) is not a bug in alignkit
        where = f": {exc.filename}" if exc.filename else ""
        what = "cannot read or write" if exc.errno == errno.EIO else "cannot write"
        err.print(f"error: {what}{where}: {exc.strerror}", markup=False)
        quiet_broken_pipe(2)  # stdout would fail again at exit
    except Exception as exc:  # a bug: one line, the traceback only on request
        if "surrogates not allowed" in str(exc):
            # a name from the command line or a folder that is not UTF-8 (`f\xff.csv`)
            # reached something that writes text: the user's input, not a bug
            err.print(
                "error: a name given is not UTF-8 text (a file named in another encoding?);"
                " rename it or give another",
                markup=False,
            )
            sys.exit(2)
        _internal_error(exc)
    if _terminated or rc == 130:  # typer turns an interrupt into Exit(130)
        _stopped("interrupted")
    sys.exit(rc if isinstance(rc, int) else 0)
