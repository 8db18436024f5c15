"""Which registered checks an audit runs against a target."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from alignkit.core import CHECKS, CheckSpec, ConfigError, ItemSource, Target, UnknownIdError

__all__ = ["Selection", "match_checks", "select_checks"]


@dataclass(frozen=True)
class Selection:
    """Checks chosen to run, and those matched but skipped with the reason."""

    run: tuple[CheckSpec, ...]
    skipped: dict[str, str]


def match_checks(pattern: str) -> list[str]:
    """Check ids matched by a comma-separated list of globs; unknown plain ids are errors."""
    ids = CHECKS.ids()
    chosen: list[str] = []
    for part in (p.strip() for p in pattern.split(",")):
        if not part:
            continue
        if not any(ch in part for ch in "*?["):
            CHECKS.get(part)  # raises UnknownIdError with suggestions
            hits = [part]
        else:
            hits = fnmatch.filter(ids, part)
            if not hits:
                raise UnknownIdError(f"no check matches '{part}' (see: alignkit checks list)")
        chosen.extend(h for h in hits if h not in chosen)
    if not chosen:
        raise ConfigError(f"--checks '{pattern}' selects no check")
    return chosen


def select_checks(pattern: str, target: Target, data: ItemSource) -> Selection:
    """Resolve ``pattern`` and keep the checks that fit ``target`` and the item pack."""
    run: list[CheckSpec] = []
    skipped: dict[str, str] = {}
    for cid in match_checks(pattern):
        spec = CHECKS.get(cid)
        missing_caps = spec.requires - target.capabilities
        empty_kinds = [k for k in spec.item_kinds if not data.items(k)]
        if spec.target_kind is not target.kind:
            skipped[cid] = f"needs a {spec.target_kind} target"
        elif missing_caps:
            skipped[cid] = f"target lacks {', '.join(sorted(missing_caps))}"
        elif spec.item_kinds and len(empty_kinds) == len(spec.item_kinds):
            split = getattr(data, "split", "all")
            where = "" if split == "all" else f" in split {split}"
            skipped[cid] = f"item pack has no {'/'.join(spec.item_kinds)} items{where}"
        else:
            run.append(spec)
    return Selection(tuple(run), skipped)
