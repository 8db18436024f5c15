"""Writing outputs safely: whole files or none, and paths refused in one line."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from alignkit.core import ConfigError, DataError, atomic_file, checked_path


def test_a_failed_write_leaves_the_earlier_file_and_no_leftovers(tmp_path: Path) -> None:
    out = tmp_path / "pairs.jsonl"
    out.write_text("earlier\n")
    with pytest.raises(DataError, match=r"cannot write .*pairs.jsonl: No space left"):
        with atomic_file(out, text=True, error=DataError) as fh:
            fh.write("half a row")
            raise OSError(28, "No space left on device")
    assert out.read_text() == "earlier\n" and [p.name for p in tmp_path.iterdir()] == [out.name]
    with atomic_file(out) as fh:
        np.savez(fh, x=np.arange(3))
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
    assert list(np.load(out)["x"]) == [0, 1, 2]


def test_an_unwritable_place_is_a_config_error_not_an_internal_error() -> None:
    """``interpret steer --out /proc/v.npz`` ended in "internal error: FileNotFoundError"."""
    with pytest.raises(ConfigError, match="cannot write /proc/alignkit-test.npz"):
        with atomic_file("/proc/alignkit-test.npz") as fh:
            fh.write(b"x")


def test_paths_that_cannot_be_used_are_said_in_one_line(tmp_path: Path) -> None:
    """A symlink loop and a 256-byte name were "internal error: RuntimeError/OSError"."""
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    with pytest.raises(ConfigError, match="--out .*loop1: a symlink loop"):
        checked_path(tmp_path / "loop1")
    with pytest.raises(ConfigError, match="File name too long"):
        checked_path(tmp_path / ("a" * 256), "--save")
    assert checked_path(tmp_path / "new" / "x.npz") == (tmp_path / "new" / "x.npz").resolve()


def test_a_link_is_written_through_and_an_earlier_file_keeps_its_mode(tmp_path: Path) -> None:
    """Replacing the path put a regular file where a symlink was (the shared target kept
    its old content), and an earlier 0600 file came out 0644."""
    shared = tmp_path / "shared" / "pairs.jsonl"
    shared.parent.mkdir()
    shared.write_text("old\n")
    shared.chmod(0o600)
    link = tmp_path / "pairs.jsonl"
    link.symlink_to(shared)
    with atomic_file(link, text=True) as fh:
        fh.write("new\n")
    assert link.is_symlink() and shared.read_text() == "new\n"
    assert shared.stat().st_mode & 0o777 == 0o600
    long_name = tmp_path / ("p" * 250 + ".npz")  # the staging file's name must fit too
    with atomic_file(long_name) as fh:
        fh.write(b"x")
    assert long_name.read_bytes() == b"x"


def test_a_tilde_is_a_name_like_any_other(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``~nosuchuser/x`` was called "a symlink loop" (expanduser raised), and ``~/x`` was
    checked in $HOME while the write went to ./~/x."""
    monkeypatch.chdir(tmp_path)
    assert checked_path(Path("~nosuchuser/x")) == tmp_path / "~nosuchuser" / "x"


def test_a_pipe_is_written_to_not_replaced(tmp_path: Path) -> None:
    """`--out /dev/stdout` (a pipe) or `/dev/null` was replaced by a regular file: as root,
    /dev/null became a file for every program on the machine."""
    import stat
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "stdout"  # as /dev/stdout links to the process's pipe
    link.symlink_to(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    try:
        with atomic_file(link, text=True) as fh:
            fh.write('{"row": 1}\n')
    finally:
        if reader.is_alive():  # the old behaviour: nobody opened the pipe; let it go
            with open(fifo, "wb"):
                pass
        reader.join(10)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and link.is_symlink()
    assert got == [b'{"row": 1}\n']
    with atomic_file(os.devnull) as fh:  # a device is written to, too
        fh.write(b"x")
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_staging_folders_of_a_killed_run_are_swept_by_the_next(tmp_path: Path) -> None:
    """A SIGKILLed `train reward` left `.rm.*.partial` folders (a model's worth of weights
    each) that no later run removed."""
    import signal
    import subprocess
    import sys

    from alignkit.core import Owned, staged_folder

    out = tmp_path / "rm"
    killed = subprocess.run(
        [sys.executable, "-c",
         "import os, signal, sys\n"
         "from pathlib import Path\n"
         "from alignkit.core import Owned, staged_folder\n"
         "with staged_folder(Path(sys.argv[1]), Owned('the model', names=('*',))) as stage:\n"
         "    (stage / 'weights.bin').write_bytes(b'x' * 1000)\n"
         "    os.kill(os.getpid(), signal.SIGKILL)\n", str(out)],
        capture_output=True, timeout=60,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".rm.") and left[0].endswith(".partial")
    from alignkit.core._files import _host_tag

    aside = tmp_path / f".rm.{_host_tag()}-999999.abc.old"  # a dead run's: the only old copy
    aside.mkdir()
    elsewhere = tmp_path / ".rm.0badc0de-999999.abc.partial"  # another host's: cannot ask
    elsewhere.mkdir()
    with staged_folder(out, Owned("the model", names=("*",))) as stage:
        kept = [aside.name, elsewhere.name]
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*kept, stage.name])
        (stage / "weights.bin").write_bytes(b"y")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*kept, "rm"])
