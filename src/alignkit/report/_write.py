"""Write the three report files of an audit run."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from alignkit.core import AuditResult, ConfigError, Severity
from alignkit.report._html import to_html
from alignkit.report._json import to_json
from alignkit.report._junit import to_junit

__all__ = ["REPORT_FILES", "write_reports"]

_log = logging.getLogger(__name__)

# Kind of report → file name inside the output folder (DESIGN §5).
REPORT_FILES = {"html": "report.html", "json": "report.json", "junit": "junit.xml"}


def write_reports(
    result: AuditResult,
    out_dir: str | Path,
    *,
    fail_on: Severity = Severity.MEDIUM,
    rerun_hint: bool = True,
) -> dict[str, Path]:
    """Write ``report.html``, ``report.json`` and ``junit.xml`` into ``out_dir``.

    The folder is created if needed. All three are written to temporary names first and
    renamed only when all three are written, so a failure leaves the folder as it was
    (no half set, no temporary files), and a reader never sees half a report.

    Args:
        result: The audit result to render.
        out_dir: The folder to write into.
        fail_on: The mildest severity that JUnit counts as a failure.
        rerun_hint: Whether a failure names ``alignkit runs show RUN --out DIR`` (only
            for a stored run, and not from that command itself).

    Returns:
        ``{"html": path, "json": path, "junit": path}``.

    Raises:
        ConfigError: If the folder cannot be created or written.
    """
    rendered = {
        "html": to_html(result),
        "json": to_json(result),
        "junit": to_junit(result, fail_on=fail_on),
    }
    out_dir = Path(out_dir)
    paths = {kind: out_dir / name for kind, name in REPORT_FILES.items()}
    temps = {kind: p.with_name(f".{p.name}.{os.getpid()}.tmp") for kind, p in paths.items()}
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for kind, path in paths.items():
            if path.is_dir():  # a rename onto a folder fails only after the others moved
                raise IsADirectoryError(21, "Is a directory", str(path))
            temps[kind].write_text(rendered[kind], encoding="utf-8")
        for kind, path in paths.items():
            temps[kind].replace(path)
    except OSError as exc:
        for tmp in temps.values():
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
        where = exc.filename or out_dir
        again = (
            f"; a stored run's reports are written again by: alignkit runs show {result.run_id}"
            " --out DIR"
            if rerun_hint
            else ""
        )
        raise ConfigError(
            f"cannot write reports to {out_dir} ({where}: {exc.strerror or exc}){again}"
        ) from exc
    _log.info("wrote reports for run %s to %s", result.run_id, out_dir)
    return paths
