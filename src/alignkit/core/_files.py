"""Output folders written whole or not at all.

A command that writes a folder of results (an organism, a reward ensemble, a
constitution run) builds it in a hidden sibling and moves it into place when done, so an
interrupted or failed run leaves the folder as it was — never new weights next to an old
manifest, never half an ensemble.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from alignkit.core._errors import TargetError

__all__ = ["staged_folder"]


@contextlib.contextmanager
def staged_folder(out: Path, what: str = "the results") -> Iterator[Path]:
    """Yield a fresh sibling folder of ``out``; when the block succeeds, it becomes ``out``.

    ``out`` is resolved first (``.`` has no name; a symlink's target is what gets
    replaced). An existing ``out`` keeps its own inode, permissions and links: its entries
    move aside, the new ones move in, the old ones are deleted. On any failure ``out`` is
    left as it was and the staging folder is removed.

    Raises:
        TargetError: ``out`` cannot be replaced (it is as it was).
    """
    real = out.resolve()
    real.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{real.name}.", suffix=".partial", dir=real.parent))
    try:
        yield staging
        _replace(real, staging, what)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _replace(out: Path, staging: Path, what: str) -> None:
    if not out.exists():
        umask = os.umask(0)
        os.umask(umask)
        staging.chmod(0o777 & ~umask)  # a new folder's permissions, not mkdtemp's 0700
        staging.rename(out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    moves: list[tuple[Path, Path]] = []  # done so far, undone in reverse if one fails
    try:
        for entry in [*out.iterdir()]:
            moves.append((entry, old / entry.name))
            entry.rename(old / entry.name)
        for entry in [*staging.iterdir()]:
            moves.append((entry, out / entry.name))
            entry.rename(out / entry.name)
    except BaseException as exc:
        for source, target in reversed(moves):
            with contextlib.suppress(OSError):
                target.rename(source)
        shutil.rmtree(old, ignore_errors=True)
        if isinstance(exc, OSError):
            raise TargetError(
                f"cannot replace {what} in {out}: {exc.strerror or exc}; it is as it was"
            ) from exc
        raise
    shutil.rmtree(old, ignore_errors=True)
