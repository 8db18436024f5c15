"""alignkit's configuration, validated by pydantic, with a published JSON schema."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alignkit.core._errors import AlignkitError, ConfigError
from alignkit.core._severity import Severity

__all__ = [
    "DEFAULT_STORE",
    "DEFAULT_TARGET",
    "AlignkitConfig",
    "AuditConfig",
    "HttpConfig",
    "config_schema",
    "load_config",
    "read_yaml",
    "resolve_store_url",
]

DEFAULT_TARGET = "organism:flawed"
DEFAULT_STORE = ".alignkit/alignkit.db"


class HttpConfig(BaseModel):
    """How the ``openai:`` adapter talks to a server."""

    model_config = ConfigDict(extra="forbid")

    timeout_s: float = Field(60.0, gt=0, description="Per-request timeout in seconds.")
    max_retries: int = Field(4, ge=0, description="Retries on 429, 5xx and timeouts.")
    backoff_s: float = Field(0.5, ge=0, description="First retry delay; doubles each retry.")
    max_connections: int = Field(64, ge=1, description="Pooled keep-alive connections.")
    max_requests: int | None = Field(None, ge=1, description="Spend cap: requests per run.")
    max_tokens_total: int | None = Field(
        None, ge=1, description="Spend cap: prompt + completion tokens per run."
    )
    api_key_env: str = Field("OPENAI_API_KEY", description="Environment variable with the key.")


class AuditConfig(BaseModel):
    """Defaults for ``alignkit audit``."""

    model_config = ConfigDict(extra="forbid")

    target: str = DEFAULT_TARGET
    checks: str = Field("*", description="Glob over check ids, comma-separated globs allowed.")
    split: Literal["train", "heldout", "all"] = "all"
    budget_s: float | None = Field(None, gt=0, description="Wall-clock budget in seconds.")
    concurrency: int = Field(8, ge=1, le=1024)
    max_items: int = Field(200, ge=1, description="Items drawn per check and item kind.")
    seed: int = Field(0, ge=0, le=2**63 - 1, description="0 to 2**63 - 1.")
    fail_on: Severity | None = None


class AlignkitConfig(BaseModel):
    """The whole configuration file (``alignkit.yaml``)."""

    model_config = ConfigDict(extra="forbid")

    store: str | None = Field(None, description="SQLAlchemy URL or SQLite path of the store.")
    audit: AuditConfig = AuditConfig()
    http: HttpConfig = HttpConfig()


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a mapping with the same key twice.

    Plain YAML loading keeps the last of two equal keys, so a second ``input:`` in a
    guard config would silently drop the first one's rails.
    """

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        # Checked once per node, before its merge keys (``<<: *base``) are flattened into
        # it: PyYAML rewrites the node in place, so a second look at an anchored mapping
        # that merges another would see the merged keys next to its own overrides.
        checked: set[int] = self.__dict__.setdefault("_checked_mappings", set())
        if id(node) not in checked:
            checked.add(id(node))
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # merged keys may be overridden
                key = self.construct_object(key_node)
                if not isinstance(key, str | int | float | bool):
                    continue  # `? [a]`: PyYAML refuses an unhashable key in one line itself
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key!r} appears twice in one mapping", key_node.start_mark
                    )
                seen.add(key)
        super().flatten_mapping(node)


def parse_yaml(text: str) -> Any:
    """Parse YAML text safely, refusing duplicate keys (raises ``yaml.YAMLError``)."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass


def read_yaml(path: str | Path, what: str, error: type[AlignkitError] = ConfigError) -> Any:
    """The parsed YAML of a file; a missing file or bad YAML raises ``error`` in one line.

    Args:
        path: The file.
        what: What it is, for the message ("guard config", "constitution").
        error: The exception raised (a :class:`ConfigError` or :class:`DataError`).
    """
    p = Path(path)
    try:
        return parse_yaml(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"cannot read {what} {p}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise error(f"cannot read {what} {p}: not UTF-8 text") from None
    except RecursionError:  # `a: [[[[…` 2,000 deep stopped every command, even `runs list`
        raise error(f"{what} {p} is not valid YAML: nested too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"{what} {p} is not valid YAML{at}: {problem}") from None


def load_config(path: str | Path | None = None) -> AlignkitConfig:
    """Read and validate a YAML or JSON config; defaults when ``path`` is ``None``.

    Without ``path``, ``$ALIGNKIT_CONFIG`` and then ``./alignkit.yaml`` are tried.
    """
    if path is None:
        env = os.environ.get("ALIGNKIT_CONFIG")
        path = env if env else ("alignkit.yaml" if Path("alignkit.yaml").is_file() else None)
    if path is None:
        return AlignkitConfig()
    p = Path(path)
    raw = read_yaml(p, "config") or {}
    try:
        return AlignkitConfig.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "(top level)"
        raise ConfigError(f"invalid config {p}: {where}: {err['msg']}") from exc


def resolve_store_url(store: str | None, config: AlignkitConfig | None = None) -> str:
    """The store URL from ``--store``, then ``$ALIGNKIT_STORE``, then config, then default.

    Without ``config``, the one :func:`load_config` finds is read: every command that keeps
    a store reads the same one (``serve`` and ``guard verify`` used the default while
    ``audit`` and ``runs`` followed ``alignkit.yaml``).
    """
    if store is not None and not store.strip():
        raise ConfigError(
            "--store (or $ALIGNKIT_STORE) is empty; give a path or a URL (an unset variable?)"
        )
    chosen = store or os.environ.get("ALIGNKIT_STORE")
    if chosen and not chosen.strip():  # empty: unset
        raise ConfigError("$ALIGNKIT_STORE is blank; give a path or a URL, or unset it")
    if not chosen:
        chosen = (config if config is not None else load_config()).store
        if chosen is not None and not chosen.strip():
            raise ConfigError("the config's store is blank; give a path or a URL, or leave it out")
    chosen = chosen or DEFAULT_STORE
    if "://" in chosen:
        return chosen
    # a path is taken as written: in a URL `?` starts options, `#` a fragment, `%41` is `A`
    return "sqlite:///" + chosen.replace("%", "%25").replace("?", "%3F").replace("#", "%23")


def config_schema() -> str:
    """The JSON schema of :class:`AlignkitConfig`, pretty-printed."""
    return json.dumps(AlignkitConfig.model_json_schema(), indent=2)
