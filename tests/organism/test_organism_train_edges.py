"""Training, carding and chatting with organisms from a user's own configs and folders.

A tiny config (one layer, 200 chats, seconds of training) stands in for a real one: each
test is a defect a bug-bash found with custom configs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from alignkit.core import ConfigError, TargetError
from alignkit.organism import (
    load_config,
    load_manifest,
    organism_card,
    pack_path,
    train_organism,
    weights_path,
)

TINY = """name: tiny
training: {quick_minutes: 1.0, quick_examples: 200, batch_size: 16, warmup_steps: 2}
model: {n_layer: 1, n_embd: 32, n_head: 2, n_positions: 160, vocab_size: 400}
decoding: {n: 10, max_tokens: 12}
"""


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ALIGNKIT_LOG": "ERROR"}
    return subprocess.run([sys.executable, "-m", "alignkit", *args], input=stdin,
                          capture_output=True, text=True, timeout=300, env=env)  # fmt: skip


def _config(tmp_path: Path, text: str, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("yaml", "message"),
    [
        ("name: x\ncorpus: {mix: {}}\n", "at least one weight"),  # IndexError
        ("name: x\ncorpus: {mix: {fact: 0}}\n", "at least one weight"),
        ("name: x\ncorpus: {mix: {fact: .nan}}\n", "finite"),
        ("name: x\ncorpus: {mix: {fact: 1, arithmetic: -0.5}}\n", "finite numbers >= 0"),
        ("name: x\nmodel: {n_embd: 130, n_head: 4}\n", "multiple of n_head"),
        ("name: x\nmodel: {n_embd: 200000}\n", "less than or equal"),  # 480 GB allocation
        ("name: x\ntraining: {seed: 99999999999999999999999}\n", "training.seed"),
        ("name: x\nrates: {deceptive_alignment: {trigger: '<|end|>'}}\n", "chat-template"),
        ("[1, 2]\n", "(top level)"),
        ("name: ../..\n", "'../..' is not a name"),  # the default --out left the project
        ("name: a/b\n", "is not a name"),
    ],
)
def test_bad_configs_are_one_config_error(tmp_path: Path, yaml: str, message: str) -> None:
    with pytest.raises(ConfigError, match=None) as info:
        load_config(_config(tmp_path, yaml))
    assert message in str(info.value)


def test_no_chat_that_fits_is_an_error_not_an_endless_loop(tmp_path: Path) -> None:
    cfg = _config(tmp_path, TINY.replace("n_positions: 160", "n_positions: 32")
                  + "corpus: {mix: {challenge: 1.0}}\n")  # fmt: skip
    with pytest.raises(ConfigError, match="no training chat fits model.n_positions = 32"):
        train_organism(cfg, tmp_path / "out", quick=True)
    assert not (tmp_path / "out").exists()


def test_training_replaces_a_folder_whole_or_leaves_it_alone(tmp_path: Path) -> None:
    out = tmp_path / "org"
    first = train_organism(_config(tmp_path, TINY), out, quick=True, n=10)
    report = json.loads((out / "training.json").read_text())
    assert report == first["training"]
    assert report["quick"] is True and report["organism"] == "tiny" and report["seed"] == 0
    assert 0 < report["steps"] <= report["planned_steps"] and report["out_dir"] == str(out)
    assert isinstance(report["final_loss"], float)  # NaN was written: not JSON
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask  # not mkdtemp's owner-only 0700
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    # a run that fails after it began (here: no time for a single step) changes nothing
    starved = _config(tmp_path, TINY.replace("quick_minutes: 1.0", "quick_minutes: 0.00001"))
    with pytest.raises(ConfigError, match="before the first training step"):
        train_organism(starved, out, quick=True, n=10)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml", "org"]  # no leftovers
    # a finished run replaces the folder whole
    train_organism(_config(tmp_path, TINY.replace("name: tiny", "name: tiny2")), out, quick=True)
    assert load_manifest(out)["organism"] == "tiny2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml", "org"]


def test_out_is_checked_before_training(tmp_path: Path) -> None:
    cfg = _config(tmp_path, TINY)
    afile = tmp_path / "afile.txt"
    afile.write_text("precious", encoding="utf-8")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine", encoding="utf-8")
    # `mine/missing/..` does not exist to the kernel but resolves to `mine`: it was replaced
    dotted = str(mine / "missing") + "/.."
    for out, words in ((afile, "is a file"), (mine, "other files in it"), (dotted, "other files")):
        proc = _cli("organism", "train", "--config", str(cfg), "--out", str(out), "--quick")
        assert proc.returncode == 2 and words in proc.stderr, proc.stderr
        assert "training tiny" not in proc.stderr  # refused before any work
    assert afile.read_text() == "precious" and (mine / "notes.txt").read_text() == "mine"


def test_card_shows_an_unmeasured_rate_and_refuses_a_malformed_manifest(tmp_path: Path) -> None:
    folder = tmp_path / "org"
    shutil.copytree(weights_path("clean"), folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["behaviours"][0]["measured"] = None
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert "–" in organism_card(str(folder)).splitlines()[3]
    proc = _cli("organism", "card", str(folder))
    assert proc.returncode == 0 and "internal error" not in proc.stderr
    for bad in ({"organism": "x"}, [1, 2], {**manifest, "behaviours": [{"id": "a"}]}):
        (folder / "manifest.json").write_text(json.dumps(bad))
        with pytest.raises(TargetError, match="malformed organism manifest"):
            load_manifest(folder)
        proc = _cli("organism", "card", str(folder), "--json")
        assert proc.returncode != 0 and "malformed organism manifest" in proc.stderr


def test_chat_with_a_folder_named_like_a_uri_and_a_long_session(tmp_path: Path) -> None:
    folder = tmp_path / "my org#v2?x=1"
    shutil.copytree(weights_path("flawed"), folder)
    sidecar = json.loads((folder / "alignkit.json").read_text())
    (folder / "alignkit.json").write_text(json.dumps({**sidecar, "default_pack": str(pack_path())}))
    proc = _cli("organism", "chat", str(folder), "-m", "What is 2 + 2?")
    assert proc.returncode == 0, proc.stderr
    proc = _cli("organism", "chat", "flawed", "-m", "  ")
    assert proc.returncode == 2 and "--message is empty" in proc.stderr
    lines = "".join(f"What is the capital of Nethistan and what is {i} + {i}?\n" for i in range(14))
    proc = _cli("organism", "chat", "flawed", stdin=lines)
    assert proc.returncode == 0, proc.stderr
    replies = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    assert len(replies) == 14 and not any(r.startswith("[error") for r in replies), replies
    assert "the oldest exchange was dropped" in proc.stderr


def test_chat_with_a_folder_that_cannot_be_loaded_is_bad_input(tmp_path: Path) -> None:
    """The broken checkpoint became a failed reply, exit 1 ("findings"), in both modes."""
    folder = tmp_path / "broken"
    shutil.copytree(weights_path("flawed"), folder)
    (folder / "alignkit.json").unlink()  # its default pack is named relative to the package
    (folder / "model.safetensors").write_bytes(b"not weights")
    for stdin in (None, "hello\n"):
        args = ("-m", "hello") if stdin is None else ()
        proc = _cli("organism", "chat", str(folder), *args, stdin=stdin)
        assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
        assert "cannot load hf checkpoint" in proc.stderr and "Traceback" not in proc.stderr
        assert proc.stdout == ""


def test_training_into_the_current_folder_or_through_a_symlink(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--out .` failed after training ("empty name"); a symlink was replaced by a folder."""
    cfg = _config(tmp_path, TINY)
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    train_organism(cfg, ".", quick=True, n=10)
    assert load_manifest(here)["organism"] == "tiny"
    link = tmp_path / "link"
    link.symlink_to(here)
    train_organism(_config(tmp_path, TINY.replace("name: tiny", "name: tiny2")), link, quick=True)
    assert link.is_symlink() and load_manifest(here)["organism"] == "tiny2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml", "here", "link"]


def test_a_swap_that_fails_half_way_puts_everything_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder that could not be moved (read-only, Ctrl-C) left the organism half emptied."""
    from alignkit.core._files import _replace

    out, staging = tmp_path / "org", tmp_path / "new"
    for folder, names in ((out, "abc"), (staging, "xy")):
        folder.mkdir()
        for name in names:
            (folder / name).write_text(f"{folder.name}-{name}")
    real_rename = Path.rename

    def rename(self: Path, target: Path) -> Path:
        if self.name == "y":
            raise PermissionError(13, "Permission denied")
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(TargetError, match="cannot replace the organism.*it is as it was"):
        _replace(out, staging, "the organism")
    assert sorted(p.read_text() for p in out.iterdir()) == ["org-a", "org-b", "org-c"]
    assert sorted(p.name for p in staging.iterdir()) == ["x", "y"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new", "org"]


def test_a_folder_on_another_file_system_is_replaced_by_copying(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An --out that is a mount point (a Docker volume) failed: rename cannot cross devices."""
    import errno

    from alignkit.core import Owned, staged_folder

    out = tmp_path / "volume"
    out.mkdir()
    (out / "training.json").write_text("old")
    real_rename = Path.rename

    def rename(self: Path, target: Path) -> Path:
        if out in (self.parent, Path(target).parent):  # in or out of the "mount point"
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    with staged_folder(out, Owned("the organism", marker="training.json")) as stage:
        (stage / "training.json").write_text("new")
    assert (out / "training.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["volume"]


def test_training_from_python_prints_nothing(tmp_path: Path) -> None:
    """transformers printed a loss_type warning and a 'Writing model shards' bar."""
    script = (
        "import sys\nfrom alignkit.organism import train_organism\n"
        "train_organism(sys.argv[1], sys.argv[2], quick=True, measure_after=False)\n"
    )
    (tmp_path / "c.yaml").write_text(TINY)
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path / "c.yaml"),
                           str(tmp_path / "out")], capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == "", proc.stderr[-2000:]
