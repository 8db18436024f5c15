"""Organisms as targets and artefacts: the shipped weights, training end to end, the card."""

from __future__ import annotations

import json
import logging
from importlib import resources
from pathlib import Path
from typing import Any

from alignkit.core import ConfigError, TargetError
from alignkit.models import HFChatModel, ParsedURI, TargetOptions, steering_options
from alignkit.organism._config import OrganismConfig, config_path, load_config
from alignkit.organism._measure import MANIFEST_NAME, measure
from alignkit.organism._pack import write_pack

__all__ = [
    "ORGANISMS",
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
    report = train_model(cfg, out, quick=quick, seed=seed)
    write_pack(out / "pack", cfg.corpus.world_seed)
    write_sidecar(out, cfg, "pack")
    result: dict[str, Any] = {"training": report.as_dict()}
    if measure_after:
        result |= measure(out, cfg, n=n if n is not None else (40 if quick else None))
    return result


def _resolve(config: OrganismConfig | str | Path) -> OrganismConfig:
    if isinstance(config, OrganismConfig):
        return config
    if isinstance(config, str) and config in ORGANISMS:
        return load_config(config_path(config))
    return load_config(config)


def load_manifest(name_or_dir: str | Path = "flawed") -> dict[str, Any]:
    """The manifest of a shipped organism (by name) or of a checkpoint folder."""
    path = _directory(name_or_dir) / MANIFEST_NAME
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TargetError(f"no readable organism manifest at {path}: {exc}") from exc
    return data


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
            f"{b['id']:24} {b['metric']:42} {b['designed']:>8.2f} {b['measured']:>8.2f} {b['n']:>5}"
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
                lines.append(f"{key:67} {row['value']:>8.2f} {row.get('n', 0):>5}")
    return "\n".join(lines)


def open_organism(parsed: ParsedURI, options: TargetOptions) -> HFChatModel:
    """Factory for ``organism:`` URIs: ``organism:flawed``, ``organism:clean[?batch=N]``.

    ``steer=FILE&scale=S`` pass through to the hf adapter (a steering vector).
    """
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
