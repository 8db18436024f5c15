"""Rows of a user's JSONL or CSV file, each ``(line, dict)``, every failure one ``DataError``.

One reader for every table a user hands alignkit (item packs, preference pairs, prompt
lists): UTF-8 with or without a byte-order mark, blank lines skipped, JSON's ``NaN`` and
out-of-range numbers refused, text that is not Unicode (a lone surrogate such as
an escaped U+D800) refused, CSV fields up to 16 MiB and quotes checked strictly (a quote left
open swallowed the rest of the file), empty cells and ``null`` values left out of the row
(so a model's default applies), and the file and line in every error.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from alignkit.core import DataError, allow_long_csv_fields, has_lone_surrogate, repeated_columns

__all__ = ["read_rows"]


def read_rows(path: str | Path, needed: Sequence[str] = ()) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, row)`` for each row of a ``.jsonl`` or ``.csv`` file.

    Args:
        path: The file; its suffix picks the format (anything but ``.csv`` is read as JSONL).
        needed: Columns a CSV file's header must name (JSONL rows are validated by the caller).

    Raises:
        DataError: The file cannot be read, is not UTF-8, or a line is not a JSON object
            (or CSV row) — ``FILE:LINE: reason``, one line.
    """
    file = Path(path)
    rows = _csv_rows(file, needed) if file.suffix.lower() == ".csv" else _jsonl_rows(file)
    try:
        yield from rows
    except UnicodeDecodeError as exc:
        raise DataError(f"{file}: not UTF-8 text ({exc.reason})") from None
    except csv.Error as exc:
        raise DataError(f"{file}: unreadable CSV: {exc}") from None
    except IsADirectoryError:
        raise DataError(f"{file}: is a folder, not a file") from None
    except OSError as exc:
        raise DataError(f"{file}: cannot read: {exc.strerror or exc}") from None


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def _jsonl_rows(file: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with file.open(encoding="utf-8-sig") as fh:
        for line, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                row = json.loads(text, parse_constant=_not_json, parse_float=_finite)
            except json.JSONDecodeError as exc:
                raise DataError(f"{file}:{line}: invalid JSON: {exc.msg}") from None
            except RecursionError:
                raise DataError(f"{file}:{line}: JSON nested too deeply") from None
            except ValueError as exc:  # NaN, 1e999, an integer of 5,000 digits
                raise DataError(f"{file}:{line}: invalid JSON: {str(exc)[:120]}") from None
            if not isinstance(row, dict):
                raise DataError(f"{file}:{line}: expected a JSON object, got {type(row).__name__}")
            if "\\u" in text and has_lone_surrogate(row):  # only an escape can make one
                raise DataError(
                    f"{file}:{line}: a lone surrogate (an escape such as \\ud800 without its "
                    "pair) is not Unicode text"
                )
            # null counts as absent, as an empty cell does in CSV ("split": null is heldout)
            yield line, {k: v for k, v in row.items() if v is not None}


def _csv_rows(file: Path, needed: Sequence[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    allow_long_csv_fields()
    with file.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh, strict=True)
        try:
            yield from _csv_records(file, reader, needed)
        except csv.Error as exc:
            hint = " (a quote left open?)" if "end of data" in str(exc) else ""
            line = reader.reader.line_num
            raise DataError(f"{file}:{line}: unreadable CSV: {exc}{hint}") from None


def _csv_records(
    file: Path, reader: csv.DictReader[str], needed: Sequence[str]
) -> Iterator[tuple[int, dict[str, Any]]]:
    header = [name.strip() for name in reader.fieldnames or []]
    twice = repeated_columns(header)
    if twice:  # DictReader keeps the last of them: the other column's values were lost
        shown = ", ".join(map(repr, twice))
        raise DataError(f"{file}:1: column {shown} appears twice")
    if needed and not header:  # an empty file: no row would say what is missing
        raise DataError(f"{file}: empty CSV; the first row must name the columns")
    missing = [name for name in needed if name not in header]
    if header and missing:  # a file without a header row lost its first item silently
        absent = " or ".join(map(repr, missing))
        found = ", ".join(map(repr, header))
        raise DataError(
            f"{file}:1: the first row must name the columns; no {absent} column among {found}"
        )
    for record in reader:
        extra = [v for v in record.get(None) or () if v.strip()]
        if extra:  # the cells were shifted or a comma was not quoted: columns misaligned
            fields = len(header) + len(record[None])
            raise DataError(
                f"{file}:{reader.line_num}: {fields} fields, the header has {len(header)}"
                " (a comma in a value needs quotes)"
            )
        row: dict[str, Any] = {
            key.strip(): value
            for key, value in record.items()
            if key is not None and value not in (None, "")
        }
        if row:
            yield reader.line_num, row
