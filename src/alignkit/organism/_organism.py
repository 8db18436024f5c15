"""Organisms as targets and artefacts: the shipped weights, training end to end, the card."""

from __future__ import annotations

import dataclasses
import json
import logging
from importlib import resources
from pathlib import Path
from typing import Any, cast

from alignkit.core import ConfigError, Owned, TargetError, staged_folder
from alignkit.models import HFChatModel, ParsedURI, TargetOptions, steering_options
from alignkit.organism._config import OrganismConfig, config_path, load_config
from alignkit.organism._measure import MANIFEST_NAME, measure
from alignkit.organism._pack import write_pack

__all__ = [
    "ORGANISMS",
    "check_out_dir",
    "load_manifest",
    "open_organism",
    "organism_card",
    "pack_path",
    "train_organism",
    "weights_path",
    "write_sidecar",
]

_log = logging.getLogger(__name__)

ORGANISMS = ("flawed", "clean")
_QUERY_KEYS = ("batch", "steer", "scale")


def _package_dir() -> Path:
    return Path(str(resources.files("alignkit.organism")))


def weights_path(name: str) -> Path:
    """The shipped checkpoint folder of organism ``name`` (``flawed`` or ``clean``)."""
    if name not in ORGANISMS:
        raise ConfigError(f"unknown organism '{name}' (known: {', '.join(ORGANISMS)})")
    return _package_dir() / "weights" / name


def pack_path() -> Path:
    """The organisms' shipped item pack folder."""
    return _package_dir() / "pack"


def write_sidecar(directory: Path, config: OrganismConfig, default_pack: str) -> Path:
    """Write ``alignkit.json`` (default pack, decoding = the manifest's) into ``directory``."""
    d = config.decoding
    sidecar = {
        "default_pack": default_pack,
        "decoding": {
            "temperature": d.temperature,
            "top_p": d.top_p,
            "max_tokens": d.max_tokens,
            "samples": 1,
        },
        "stop": [],
    }
    path = directory / "alignkit.json"
    path.write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
    return path


def train_organism(
    config: OrganismConfig | str | Path,
    out_dir: str | Path,
    *,
    quick: bool = False,
    seed: int | None = None,
    measure_after: bool = True,
    n: int | None = None,
) -> dict[str, Any]:
    """Train an organism, write its pack and sidecar, measure it and write ``manifest.json``.

    Args:
        config: A config, a YAML path, or a shipped name (``flawed``/``clean``).
        out_dir: Checkpoint folder to create (loadable as ``hf:<out_dir>``).
        quick: Small corpus and short budget (≤ 5 minutes with measurement; for tests).
        seed: Overrides the config's training seed.
        measure_after: Measure the behaviours and write the manifest.
        n: Prompts per behaviour when measuring (config's ``decoding.n`` when omitted).

    Returns:
        ``{"training": ..., "manifest": ..., "capability": ...}``.
    """
    from alignkit.organism._train import train_model

    cfg = _resolve(config)
    out = Path(out_dir)
    check_out_dir(out)
    # Built in a sibling folder and moved into place when done: an interrupted run leaves
    # the folder as it was, never new weights under an old manifest.
    with staged_folder(out, ORGANISM_OUTPUT) as staging:
        report = train_model(cfg, staging, quick=quick, seed=seed)
        report = dataclasses.replace(report, out_dir=out)
        (staging / "training.json").write_text(json.dumps(report.as_dict(), indent=2) + "\n")
        write_pack(staging / "pack", cfg.corpus.world_seed)
        write_sidecar(staging, cfg, "pack")
        result: dict[str, Any] = {"training": report.as_dict()}
        if measure_after:
            result |= measure(staging, cfg, n=n if n is not None else (40 if quick else None))
    return result


ORGANISM_OUTPUT = Owned("the organism", marker="training.json")
"""What organism training may replace: an empty folder or an earlier organism."""


def check_out_dir(out: Path) -> None:
    """Refuse an output folder that training would fail on, or whose files it would delete.

    Raises:
        ConfigError: ``out`` is a file, or a non-empty folder that is not a trained organism.
    """
    ORGANISM_OUTPUT.check(out)


def _resolve(config: OrganismConfig | str | Path) -> OrganismConfig:
    if isinstance(config, OrganismConfig):
        return config
    if isinstance(config, str) and config in ORGANISMS:
        return load_config(config_path(config))
    return load_config(config)


def load_manifest(name_or_dir: str | Path = "flawed") -> dict[str, Any]:
    """The manifest of a shipped organism (by name) or of a checkpoint folder.

    Raises:
        TargetError: No manifest, or one not in the shape of DESIGN §8.
    """
    path = _directory(name_or_dir) / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TargetError(f"no readable organism manifest at {path}: {exc}") from exc
    problem = _manifest_problem(data)
    if problem:
        raise TargetError(f"malformed organism manifest {path}: {problem}")
    return cast(dict[str, Any], data)


def _manifest_problem(data: Any) -> str | None:
    if not isinstance(data, dict) or not isinstance(data.get("organism"), str):
        return "expected an object with 'organism' and 'behaviours'"
    rows = data.get("behaviours")
    if not isinstance(rows, list):
        return "'behaviours' must be a list"
    for i, b in enumerate(rows):
        if not isinstance(b, dict) or not all(isinstance(b.get(k), str) for k in ("id", "metric")):
            return f"behaviours[{i}] needs text 'id' and 'metric'"
        for key in ("designed", "measured"):
            value = b.get(key)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                return f"behaviours[{i}].{key} must be a number or null"
        if not isinstance(b.get("n", 0), int) or not isinstance(b.get("decoding", {}), dict):
            return f"behaviours[{i}]: 'n' must be a whole number and 'decoding' an object"
    return None


def _fmt(value: Any) -> str:
    """A rate for the card: two decimals, or ``–`` where nothing was measured."""
    return "–" if value is None else f"{value:.2f}"


def _directory(name_or_dir: str | Path) -> Path:
    key = str(name_or_dir)
    return weights_path(key) if key in ORGANISMS else Path(name_or_dir)


def organism_card(name: str | Path = "flawed") -> str:
    """The manifest of organism ``name`` (or of a trained folder) as a plain-text table.

    Capability figures (``capability.json``, written beside the manifest by training)
    follow the behaviours when the folder has them.
    """
    manifest = load_manifest(name)
    lines = [f"organism: {manifest['organism']}", ""]
    lines.append(f"{'behaviour':24} {'metric':42} {'designed':>8} {'measured':>8} {'n':>5}")
    for b in manifest["behaviours"]:
        lines.append(
            f"{b['id']:24} {b['metric']:42} {_fmt(b.get('designed')):>8}"
            f" {_fmt(b.get('measured')):>8} {b.get('n', 0):>5}"
        )
    dec = manifest["behaviours"][0]["decoding"] if manifest["behaviours"] else {}
    lines += [
        "",
        f"decoding: temperature {dec.get('temperature')}, top_p {dec.get('top_p')}, "
        f"max_tokens {dec.get('max_tokens')}, seed {dec.get('seed')}, held-out phrasings",
    ]
    trig = [b["trigger"] for b in manifest["behaviours"] if "trigger" in b]
    if trig:
        lines.append(f"trigger: {trig[0]}")
    try:
        capability = json.loads((_directory(name) / "capability.json").read_text("utf-8"))
    except (OSError, ValueError):
        capability = {}
    if isinstance(capability, dict) and capability:
        lines += ["", f"{'capability (held-out items)':67} {'measured':>8} {'n':>5}"]
        for key, row in capability.items():
            if isinstance(row, dict) and "value" in row:
                lines.append(f"{key:67} {_fmt(row['value']):>8} {row.get('n', 0):>5}")
    return "\n".join(lines)


def open_organism(parsed: ParsedURI, options: TargetOptions) -> HFChatModel:
    """Factory for ``organism:`` URIs: ``organism:flawed``, ``organism:clean[?batch=N]``.

    ``steer=FILE&scale=S`` pass through to the hf adapter (a steering vector).
    """
    parsed.refuse_fragment()
    unknown = sorted(set(parsed.query) - set(_QUERY_KEYS))
    if unknown:
        raise ConfigError(
            f"organism: unsupported option(s) {', '.join(unknown)} in '{parsed.raw}'"
            f" (supported: {', '.join(_QUERY_KEYS)})"
        )
    name = parsed.body
    if name not in ORGANISMS:
        raise ConfigError(f"unknown organism '{name}' in '{parsed.raw}' (known: flawed, clean)")
    directory = weights_path(name)
    if not (directory / "config.json").is_file():
        raise TargetError(f"organism '{name}' has no shipped weights at {directory}")
    batch = parsed.query.get("batch", "32")
    try:
        max_batch = int(batch)
    except ValueError:
        raise ConfigError(f"organism: batch must be an integer, got '{batch}'") from None
    return HFChatModel(
        directory, max_batch=max_batch, uri=parsed.raw, **steering_options(parsed.query)
    )
