"""Command-line helpers shared by the benchmark scripts: argument types and JSON output.

The argument types refuse a bad value while the command line is parsed, with argparse's
own one-line usage error (exit 2), so that no benchmark starts expensive work it cannot
finish or report::

    ap.add_argument("--runs", type=positive_int, default=3)
    ap.add_argument("--json", type=writable_json_path)
    ...
    write_json(args.json, doc)  # NaN and infinities become null: standard JSON

The scripts run as ``python benchmarks/NAME.py``, so this folder is on ``sys.path`` and
they import this module as ``_cli``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

__all__ = [
    "claim_folder",
    "dumps",
    "float_list",
    "jsonable",
    "local_model_uri",
    "name_and_path",
    "name_list",
    "nonnegative_float",
    "nonnegative_int",
    "positive_float",
    "positive_int",
    "writable_json_path",
    "write_json",
]


# -- numbers -----------------------------------------------------------------------------


def _number(cast: Callable[[str], Any], text: str, ok: Callable[[Any], bool], what: str) -> Any:
    try:
        value = cast(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if isinstance(value, float) and not math.isfinite(value) or not ok(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
    return value


def positive_int(text: str) -> int:
    """An integer ≥ 1."""
    return int(_number(int, text, lambda v: v >= 1, "a whole number >= 1"))


def nonnegative_int(text: str) -> int:
    """An integer ≥ 0."""
    return int(_number(int, text, lambda v: v >= 0, "a whole number >= 0"))


def positive_float(text: str) -> float:
    """A finite number > 0."""
    return float(_number(float, text, lambda v: v > 0, "a number > 0"))


def nonnegative_float(text: str) -> float:
    """A finite number ≥ 0."""
    return float(_number(float, text, lambda v: v >= 0, "a number >= 0"))


def float_list(text: str) -> list[float]:
    """Comma-separated finite numbers, at least one (``4,6,8``)."""
    parts = [p.strip() for p in text.split(",")]
    if not all(parts):
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of numbers")
    return [_number(float, p, lambda v: True, "a number") for p in parts]


def name_list(choices: Iterable[str], *, empty_ok: bool = False) -> Callable[[str], list[str]]:
    """A type for comma-separated names out of ``choices`` (``flawed,clean``)."""
    known = tuple(choices)

    def names(text: str) -> list[str]:
        out = [n.strip() for n in text.split(",") if n.strip()]
        unknown = [n for n in out if n not in known]
        if unknown or not (out or empty_ok):
            what = f"unknown name {unknown[0]!r}" if unknown else f"{text!r} names nothing"
            raise argparse.ArgumentTypeError(f"{what} (choose from {', '.join(known)})")
        return out

    return names


# -- paths and targets -------------------------------------------------------------------


def writable_json_path(text: str) -> Path:
    """A file path whose folder exists and can be written (checked before the run)."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder, not a file")
    folder = path.parent
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"cannot write {text}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise argparse.ArgumentTypeError(f"cannot write {text}: permission denied")
    return path


def name_and_path(text: str) -> tuple[str, Path]:
    """``NAME=PATH`` as ``(NAME, PATH)``; the path must exist."""
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=PATH")
    if not Path(path).exists():
        raise argparse.ArgumentTypeError(f"{path} does not exist")
    return name, Path(path)


LOCAL_SCHEMES = ("organism", "hf")


def local_model_uri(text: str) -> str:
    """A target URI of a model whose activations this process can read (organism:, hf:)."""
    from alignkit.models import parse_uri

    try:
        scheme = parse_uri(text).scheme
    except Exception as exc:  # ConfigError: malformed URI
        raise argparse.ArgumentTypeError(str(exc)) from None
    if scheme not in LOCAL_SCHEMES:
        raise argparse.ArgumentTypeError(
            f"{text!r}: the target must be a local hf: or organism: model "
            "(this benchmark reads its activations)"
        )
    return text


# -- output ------------------------------------------------------------------------------


def jsonable(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float replaced by ``None`` (JSON ``null``)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    return obj


def dumps(obj: Any, **kwargs: Any) -> str:
    """Standard JSON text of ``obj`` (no ``NaN``/``Infinity``): :func:`json.dumps` keywords."""
    return json.dumps(jsonable(obj), allow_nan=False, **kwargs)


def write_json(path: Path, obj: Any, **kwargs: Any) -> None:
    """Write ``obj`` to ``path`` as standard JSON (``indent=2`` unless given), newline-ended."""
    kwargs.setdefault("indent", 2)
    path.write_text(dumps(obj, **kwargs) + "\n", encoding="utf-8")


# -- working folders ---------------------------------------------------------------------


SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def claim_folder(folder: Path, owner: str, names: Iterable[str]) -> None:
    """Make ``folder`` the working folder of benchmark ``owner``, without its old outputs.

    ``names`` are glob patterns of the files the benchmark writes there (a ``.db``
    pattern covers SQLite's side files too). Files matching them are removed only when a
    marker shows that an earlier run of ``owner`` claimed the folder; otherwise they are
    someone else's, and the run stops with one line (exit 1) before touching anything.
    """
    if folder.exists() and not folder.is_dir():
        sys.exit(f"{folder} is not a folder")
    patterns = [
        p + side for p in names for side in ("", *(SQLITE_SIDE_FILES if p.endswith(".db") else ()))
    ]
    found = sorted({f for p in patterns for f in folder.glob(p) if f.is_file()})
    marker = folder / f".{owner}-benchmark"
    if found and not marker.is_file():
        sys.exit(
            f"{folder} already holds {found[0].name}, which no run of {owner}.py wrote there; "
            "choose another folder or remove the file yourself"
        )
    folder.mkdir(parents=True, exist_ok=True)
    marker.write_text(f"working folder of benchmarks/{owner}.py\n", encoding="utf-8")
    for f in found:
        f.unlink()
