"""Write the three report files of an audit run."""

from __future__ import annotations

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
    result: AuditResult, out_dir: Path, *, fail_on: Severity = Severity.MEDIUM
) -> dict[str, Path]:
    """Write ``report.html``, ``report.json`` and ``junit.xml`` into ``out_dir``.

    The folder is created if needed. Each file is written to a temporary name and then
    renamed, so a reader never sees half a report.

    Args:
        result: The audit result to render.
        out_dir: The folder to write into.
        fail_on: The mildest severity that JUnit counts as a failure.

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
    paths: dict[str, Path] = {}
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for kind, text in rendered.items():
            path = out_dir / REPORT_FILES[kind]
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
            paths[kind] = path
    except OSError as exc:
        raise ConfigError(f"cannot write reports to {out_dir}: {exc.strerror or exc}") from exc
    _log.info("wrote reports for run %s to %s", result.run_id, out_dir)
    return paths
