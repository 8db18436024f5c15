"""Output folders written whole or not at all, and never over someone else's files.

A command that writes a folder of results (an organism, a checkpoint, a reward ensemble,
a constitution run) builds it in a hidden sibling and moves it into place when done, so
an interrupted or failed run leaves the folder as it was — never new weights next to an
old manifest, never half an ensemble. It replaces only a folder that is empty or holds
what such a command writes (:class:`Owned`); anything else is refused before any work.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import hashlib
import os
import re
import shutil
import socket
import stat
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import IO, Any

from alignkit.core._errors import AlignkitError, ConfigError, TargetError

__all__ = [
    "CSV_FIELD_LIMIT",
    "Owned",
    "allow_long_csv_fields",
    "atomic_file",
    "checked_path",
    "repeated_columns",
    "staged_folder",
]


CSV_FIELD_LIMIT = 16 * 1024 * 1024
"""Longest CSV field read: the csv module's default, 128 KiB, is too small for texts."""


def allow_long_csv_fields() -> None:
    """Raise the csv module's field limit to :data:`CSV_FIELD_LIMIT` (never lower it)."""
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)


def repeated_columns(header: Sequence[str | None]) -> list[str]:
    """Column names a CSV header gives twice (empty names aside: trailing commas).

    ``csv.DictReader`` keeps the last of two same-named columns, so the other one's values
    would be lost without a word.
    """
    names = [n.strip() for n in header if n is not None and n.strip()]
    return sorted({n for n in names if names.count(n) > 1})


def checked_path(path: Path, option: str = "--out") -> Path:
    """``path`` resolved, or a :class:`ConfigError` saying in one line why it cannot be.

    A symlink loop, a name over 255 bytes or a path over 4,096 bytes were "internal
    errors" from whatever first touched the path.
    """
    try:
        return path.resolve(strict=True)
    except (FileNotFoundError, NotADirectoryError):  # not there yet: the caller says more
        pass
    except RuntimeError:  # Python 3.11-3.12: a symlink loop
        raise ConfigError(f"{option} {path}: a symlink loop") from None
    except OSError as exc:
        why = "a symlink loop" if exc.errno == errno.ELOOP else exc.strerror or str(exc)
        raise ConfigError(f"{option} {path}: {why}") from None
    try:
        real = path.resolve()
        real.exists()  # ENAMETOOLONG in a part that does not exist yet
    except (OSError, RuntimeError) as exc:
        why = getattr(exc, "strerror", None) or "a symlink loop"
        raise ConfigError(f"{option} {path}: {why}") from None
    return real


def _as_new(mode: int) -> int:
    """``mode`` under this process's umask, as ``open``/``mkdir`` would create it."""
    umask = os.umask(0)
    os.umask(umask)
    return mode & ~umask


def _special(path: Path) -> bool:
    """Whether ``path`` (its link followed) is there and neither a file nor a folder."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


@contextlib.contextmanager
def atomic_file(
    path: str | os.PathLike[str], *, text: bool = False, error: type[AlignkitError] = ConfigError
) -> Iterator[IO[Any]]:
    """Write ``path`` whole or not at all: into a sibling file, moved over it on success.

    The parent folder is created. A failed write (a full disk, ``/proc``) leaves an
    earlier file as it was and raises ``error`` in one line. A device, a pipe or
    ``/dev/stdout`` is written to in place: there is no file to keep, and moving a file
    over ``/dev/null`` replaced the device for every program on the machine.
    """
    out = Path(path)
    if _special(out):
        try:
            with open(out, "w", encoding="utf-8") if text else open(out, "wb") as through:
                yield through
        except OSError as exc:
            raise error(f"cannot write {out}: {exc.strerror or exc}") from None
        return
    if out.is_symlink():  # replace the file the link points at, not the link
        out = out.resolve()
    part: Path | None = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".ak-", suffix=".part", dir=out.parent)
        part = Path(name)
        fh: IO[Any] = os.fdopen(fd, "w", encoding="utf-8") if text else os.fdopen(fd, "wb")
        with fh:
            yield fh
        # an earlier file's permissions, or a new file's (not mkstemp's 0600)
        part.chmod(stat.S_IMODE(out.stat().st_mode) if out.exists() else _as_new(0o666))
        os.replace(part, out)
        part = None
    except OSError as exc:
        raise error(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        if part is not None:
            part.unlink(missing_ok=True)


@dataclass(frozen=True)
class Owned:
    """What a command may replace: a folder holding ``marker``, or only ``names``.

    Attributes:
        what: The output, for messages ("the checkpoint", "the reward ensemble").
        marker: A file that makes the folder this kind of output (``alignkit.json``).
        names: Name patterns of everything the command writes in it.
    """

    what: str
    marker: str | None = None
    names: tuple[str, ...] = ()

    def check(self, out: Path, option: str = "--out") -> None:
        """Refuse ``out`` unless it is missing, empty, or this kind of output.

        Raises:
            ConfigError: ``out`` is a file, or a folder holding other files (which
                replacing it would delete).
        """
        # what would be replaced: `victim/missing/..` does not exist, but resolves to victim
        real = checked_path(out, option)
        if real.exists() and not real.is_dir():
            raise ConfigError(f"{option} {out} is a file; give a folder")
        if not real.is_dir():
            return
        entries = [e.name for e in real.iterdir()]
        if not entries or (self.marker is not None and (real / self.marker).is_file()):
            return
        if self.names and all(any(fnmatch(n, p) for p in self.names) for n in entries):
            return
        raise ConfigError(
            f"{option} {out} is a folder with other files in it, which writing {self.what}"
            " there would delete; give a new or empty folder (or an earlier one of its kind)"
        )


@contextlib.contextmanager
def staged_folder(out: Path, owned: Owned) -> Iterator[Path]:
    """Yield a fresh sibling folder of ``out``; when the block succeeds, it becomes ``out``.

    ``out`` is checked first (:meth:`Owned.check`) and resolved (``.`` has no name; a
    symlink's target is what gets replaced). An existing ``out`` keeps its own inode,
    permissions and links: its entries move aside, the new ones move in, the old ones are
    deleted. On any failure ``out`` is left as it was and the staging folder is removed.

    Raises:
        ConfigError: ``out`` holds files this kind of output does not own.
        TargetError: ``out`` cannot be replaced (it is as it was).
    """
    owned.check(out)
    real = out.resolve()
    real.parent.mkdir(parents=True, exist_ok=True)
    _sweep(real)
    staging = Path(tempfile.mkdtemp(prefix=_prefix(real), suffix=".partial", dir=real.parent))
    try:
        yield staging
        _replace(real, staging, owned.what)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _host_tag() -> str:
    """This machine, as 8 hex digits (a process id means something only on its own host)."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _prefix(out: Path) -> str:
    """Name prefix of ``out``'s staging and set-aside folders: host and process id."""
    return f".{out.name}.{_host_tag()}-{os.getpid()}."


def _sweep(out: Path) -> None:
    """Delete staging folders of ``out`` left by a process that is gone (a SIGKILL).

    A set-aside ``.old`` folder stays: cut short while replacing, it holds the only copy
    of what ``out`` held before.
    """
    pattern = re.compile(rf"\.{re.escape(out.name)}\.([0-9a-f]{{8}})-(\d+)\.[^.]+\.partial")
    try:
        entries = list(out.parent.iterdir())
    except OSError:  # a folder that may be written but not listed: nothing to sweep
        return
    for entry in entries:
        m = pattern.fullmatch(entry.name)
        # another machine's (a shared volume): its process cannot be asked, so it stays
        if m is None or m.group(1) != _host_tag() or not entry.is_dir() or entry.is_symlink():
            continue
        try:
            os.kill(int(m.group(2)), 0)
        except ProcessLookupError:  # gone: nobody will finish or undo it
            shutil.rmtree(entry, ignore_errors=True)
        except (OSError, OverflowError):  # alive under another user, or no such id
            pass


def _move(source: Path, target: Path) -> None:
    """Rename, or copy and delete across file systems (``out`` may be a mount point)."""
    try:
        source.rename(target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        shutil.move(str(source), str(target))


def _replace(out: Path, staging: Path, what: str) -> None:
    if not out.exists():
        staging.chmod(_as_new(0o777))  # a new folder's permissions, not mkdtemp's 0700
        staging.rename(out)
        return
    old = Path(tempfile.mkdtemp(prefix=_prefix(out), suffix=".old", dir=out.parent))
    moves: list[tuple[Path, Path]] = []  # done so far, undone in reverse if one fails
    try:
        for entry in [*out.iterdir()]:
            moves.append((entry, old / entry.name))
            _move(entry, old / entry.name)
        for entry in [*staging.iterdir()]:
            moves.append((entry, out / entry.name))
            _move(entry, out / entry.name)
    except BaseException as exc:
        for source, target in reversed(moves):
            with contextlib.suppress(OSError):
                _move(target, source)
        shutil.rmtree(old, ignore_errors=True)
        if isinstance(exc, OSError):
            raise TargetError(
                f"cannot replace {what} in {out}: {exc.strerror or exc}; it is as it was"
            ) from exc
        raise
    shutil.rmtree(old, ignore_errors=True)
