"""The guard configuration (``guard.yaml``), validated with pydantic before anything starts.

A config names rails per stage; each entry is ``{rail: <registered name>, ...options}``.
Loading refuses, with one line naming the place: an unknown rail (with suggestions), a
rail at a stage where it cannot act, two entries with one ``id``, unknown or missing
fields. Options a rail itself rejects are refused when :func:`build_rails` builds it,
which :class:`~alignkit.guard.Guard` does on construction — before serving anything.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from alignkit.core import (
    RAIL_TIERS,
    RAILS,
    ConfigError,
    Rail,
    RailStage,
    Severity,
    UnknownIdError,
    read_yaml,
)
from alignkit.monitor import TrafficConfig

__all__ = [
    "DEFAULT_GUARD",
    "TIER_BUDGET_MS",
    "ApprovalConfig",
    "AuditLogConfig",
    "BreakerConfig",
    "GuardConfig",
    "RailEntry",
    "TrafficGuardConfig",
    "build_rails",
    "load_guard_config",
]

DEFAULT_GUARD = Path(__file__).resolve().parent / "guard.yaml"
"""The shipped default guard configuration."""

TIER_BUDGET_MS = dict(zip(RAIL_TIERS, (1.0, 10.0, 5000.0), strict=True))
"""Default latency budget of a rail, by tier, in milliseconds."""

Scope = Literal["global", "model", "user", "session"]
_SCOPES: tuple[Scope, ...] = ("global", "model", "user", "session")


class RailEntry(BaseModel):
    """One rail in a stage: its registered name, an optional id, and its options."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    rail: str = Field(description="A registered rail name (see RAILS).")
    id: str | None = Field(None, description="Name in decisions and logs; defaults to rail.")
    budget_ms: float | None = Field(
        None, gt=0, description="Latency budget; overruns are counted (default: by tier)."
    )
    timeout_ms: float | None = Field(
        None, gt=0, description="Hard limit; a rail that takes longer blocks (fail closed)."
    )

    @property
    def name(self) -> str:
        """The name this entry's decisions carry."""
        return self.id or self.rail

    @property
    def options(self) -> dict[str, Any]:
        """Everything besides ``rail``, passed to the rail's factory."""
        extra = dict(self.model_extra or {})
        if self.id is not None:
            extra["id"] = self.id
        return extra


class BreakerConfig(BaseModel):
    """Safety circuit breakers (closed → open → half-open), one per scope key."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    enabled: bool = True
    scopes: list[Scope] = Field(default_factory=lambda: list(_SCOPES))
    window_s: float = Field(60.0, gt=0, description="Sliding window of the rates.")
    min_requests: int = Field(20, ge=1, description="Requests in the window before tripping.")
    violation_rate: float = Field(0.5, gt=0, le=1, description="Blocked share that trips.")
    error_rate: float = Field(0.5, gt=0, le=1, description="Upstream-error share that trips.")
    cooldown_s: float = Field(30.0, gt=0, description="Open time before half-open probes.")
    half_open_probes: int = Field(3, ge=1, description="Clean probes that close it again.")
    max_keys: int = Field(10_000, ge=1, description="Model/user/session breakers kept (LRU).")


class AuditLogConfig(BaseModel):
    """What the hash-chained audit log keeps."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    enabled: bool = True
    redact_secrets: list[str] = Field(
        default_factory=list, description="Exact strings never written to the log."
    )
    redact_env: list[str] = Field(
        default_factory=lambda: ["OPENAI_API_KEY", "ALIGNKIT_ADMIN_TOKEN"],
        description="Environment variables whose values are never written to the log.",
    )
    redact_patterns: bool = Field(True, description="Also mask credential-shaped text.")
    log_text: bool = Field(True, description="Keep (redacted) prompts and responses.")
    max_text_chars: int = Field(4000, ge=0, description="Longer texts are cut.")

    def secrets(self) -> list[str]:
        """The configured secret strings, environment values included."""
        env = [os.environ.get(name, "") for name in self.redact_env]
        return [s for s in [*self.redact_secrets, *env] if s]


class ApprovalConfig(BaseModel):
    """The approval queue of escalated actions (``alignkit serve`` always runs it)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    timeout_s: float = Field(
        300.0, gt=0, le=7 * 86400, description="A tool call not decided in this time is denied."
    )
    chat_timeout_s: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="An escalated chat request waits this long, then is denied.",
    )


def breaker_key_error(key: str) -> str | None:
    """Why ``key`` names no breaker (``None`` when it does: ``global`` or ``scope:id``)."""
    scope, _, rest = key.partition(":")
    if scope in _SCOPES and (scope == "global" or rest):
        return None
    return f"breaker key '{key}' is not global, model:<name>, user:<id> or session:<id>"


class TrafficGuardConfig(TrafficConfig):
    """The traffic monitor, plus what the guard does with its alarms."""

    breaker_severity: Severity | None = Field(
        Severity.HIGH, description="Alarms at or above this open the breaker (null: never)."
    )
    breaker_key: str = Field("global", description="The breaker an alarm opens.")

    @field_validator("breaker_key")
    @classmethod
    def _a_breaker(cls, key: str) -> str:  # checked at the first alarm, it stopped the feed
        if (why := breaker_key_error(key)) is not None:
            raise ValueError(why)
        return key

    process: bool = Field(
        True,
        description="alignkit serve: run the monitor in a worker process, off the event loop's"
        " GIL (false: in a thread of the server).",
    )
    store_interval_s: float = Field(10.0, gt=0, description="Seconds between stored reports.")
    embedder: str | None = Field(
        None, description="'module:function' mapping a list of texts to vectors (n, dim)."
    )


class GuardConfig(BaseModel):
    """A whole guard configuration."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    version: Literal[1] = 1
    input: list[RailEntry] = Field(default_factory=list)
    output: list[RailEntry] = Field(default_factory=list)
    breakers: BreakerConfig = BreakerConfig()
    audit_log: AuditLogConfig = AuditLogConfig()
    actions: str | dict[str, Any] | None = Field(
        None,
        description="Tool-call policy: a YAML file (relative to this file) or the policy "
        "inline; null: the default policy.",
    )
    approvals: ApprovalConfig = ApprovalConfig()
    traffic: TrafficGuardConfig = TrafficGuardConfig()


def _format_error(exc: ValidationError, source: str) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "top level"
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
    elif err["type"] == "missing":
        msg = "missing field"
    return f"invalid guard config {source}: {where}: {msg}"


def _validate_stages(config: GuardConfig, source: str) -> None:
    for stage in (RailStage.INPUT, RailStage.OUTPUT):
        seen: set[str] = set()
        for i, entry in enumerate(getattr(config, stage.value)):
            where = f"invalid guard config {source}: {stage.value}[{i}]"
            try:
                spec = RAILS.get(entry.rail)
            except UnknownIdError as exc:
                raise ConfigError(f"{where}: {exc}") from None
            if stage not in spec.stages:
                can = " and ".join(sorted(s.value for s in spec.stages))
                raise ConfigError(
                    f"{where}: rail '{entry.rail}' cannot act at the {stage.value} stage"
                    f" (it acts at {can})"
                )
            if entry.name in _RESERVED_NAMES:  # the guard's own refusals go by these
                raise ConfigError(
                    f"{where}: '{entry.name}' names the guard's own blocks; choose another id"
                )
            if entry.name in seen:
                raise ConfigError(f"{where}: two rails named '{entry.name}'; give one an id")
            seen.add(entry.name)


_RESERVED_NAMES = frozenset({"circuit-breaker", "provider"})
"""``rail`` values of the guard's own blocks: an open breaker, the provider's filter."""


def load_guard_config(
    source: str | Path | dict[str, Any] | GuardConfig | None = None,
) -> GuardConfig:
    """Read and validate a guard config (a YAML file, a dict, or ``None`` for the default).

    Raises:
        ConfigError: the file is missing or unreadable, or the config is invalid.
    """
    if isinstance(source, GuardConfig):
        config, where = source, "(object)"
    else:
        if source is None or isinstance(source, str | Path):
            path = Path(source) if source is not None else DEFAULT_GUARD
            where = str(path)
            raw = read_yaml(path, "guard config")
            if raw is None:  # an empty file ran with no rail at all, without a word
                raise ConfigError(
                    f"guard config {where} is empty: no rail would run (name the rails, as"
                    " the shipped guard.yaml does, or leave out --guard for the defaults)"
                )
            if isinstance(raw, dict) and not {"input", "output", "actions"} & raw.keys():
                # a file meant to tune breakers turned every default rail off, silently
                raise ConfigError(
                    f"guard config {where} names no rails (no 'input', 'output' or 'actions'),"
                    " so none would run; list them as the shipped guard.yaml does, or write"
                    " 'input: []' to run none on purpose"
                )
        else:
            raw, where = source, "(dict)"
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ConfigError(f"invalid guard config {where}: expected a mapping at top level")
        try:
            config = GuardConfig.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(_format_error(exc, where)) from None
    _validate_stages(config, where)
    return _resolve_actions(config, source, where)


def _resolve_actions(
    config: GuardConfig, source: str | Path | dict[str, Any] | GuardConfig | None, where: str
) -> GuardConfig:
    """Load and check the ``actions`` policy now, so a bad one fails before anything starts."""
    from alignkit.guard._actions import ActionPolicy

    actions = config.actions
    if isinstance(actions, str):
        path = Path(actions)
        if not path.is_absolute() and isinstance(source, str | Path):
            path = Path(source).parent / path
        ActionPolicy(path)
        return config.model_copy(update={"actions": str(path)})
    if isinstance(actions, dict):
        ActionPolicy(actions, label=f"{where} (actions)")
    return config


def build_rails(config: GuardConfig) -> dict[RailStage, list[Rail]]:
    """The rails of each stage, built from their registered factories, in config order."""
    built: dict[RailStage, list[Rail]] = {}
    for stage in (RailStage.INPUT, RailStage.OUTPUT):
        rails = []
        for i, entry in enumerate(getattr(config, stage.value)):
            spec = RAILS.get(entry.rail)
            where = f"invalid guard config: {stage.value}[{i}] ({entry.rail})"
            try:
                rail = spec.factory(entry.options)
            except ConfigError as exc:
                raise ConfigError(f"{where}: {exc}") from None
            except Exception as exc:  # a plugin's factory: one line, not a traceback
                raise ConfigError(f"{where}: the rail could not be built: {exc!r}") from None
            if not callable(getattr(rail, "check", None)) or not isinstance(
                getattr(rail, "name", None), str
            ):
                raise ConfigError(
                    f"{where}: the factory returned {type(rail).__name__}, not a rail"
                )
            rails.append(rail)
        built[stage] = rails
    return built
