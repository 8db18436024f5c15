"""Running the real ``alignkit`` command (a module of its own: every test folder's
conftest is a top-level ``conftest``, so importing from one depends on collection order)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real ``alignkit`` command in a subprocess."""
    full_env = {**os.environ, "ALIGNKIT_LOG": "ERROR", **(env or {})}
    full_env.pop("ALIGNKIT_STORE", None) if env is None or "ALIGNKIT_STORE" not in env else None
    return subprocess.run(
        [sys.executable, "-m", "alignkit", *args],
        cwd=cwd or REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def main_in_process(capsys: Any, *args: str) -> tuple[int, str, str]:
    """Run the CLI in this process (a subprocess pays torch's import): code, stdout, stderr.

    ``capsys`` is pytest's fixture of that name.
    """
    from alignkit.cli import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    got = capsys.readouterr()
    return code, got.out, got.err
