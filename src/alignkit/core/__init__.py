"""Shared types, protocols, registries, errors, configuration and statistics.

Everything above this layer speaks these types: a check returns :class:`Finding`
objects, a model adapter implements :class:`ChatModel`, a rail returns a
:class:`Decision`, and an audit produces an :class:`AuditResult`.
"""

from alignkit.core._chat import (
    ChatModel,
    Completion,
    Decoding,
    Message,
    Outcome,
    Target,
    TargetKind,
    TokenLogprob,
    Usage,
)
from alignkit.core._check import (
    CHECKS,
    AttemptRunner,
    CheckContext,
    CheckFn,
    CheckSpec,
    Cost,
    ItemSource,
    check,
)
from alignkit.core._config import (
    DEFAULT_STORE,
    DEFAULT_TARGET,
    AlignkitConfig,
    AuditConfig,
    HttpConfig,
    config_schema,
    load_config,
    resolve_store_url,
)
from alignkit.core._errors import (
    AlignkitError,
    CheckError,
    ConfigError,
    DataError,
    MissingDependencyError,
    RegistryError,
    SchemaVersionError,
    StoreError,
    TargetError,
    UnknownIdError,
)
from alignkit.core._findings import (
    AuditResult,
    Evidence,
    FailureModeSummary,
    Finding,
    MetricSpec,
    Plot,
    summarize,
)
from alignkit.core._rail import Decision, DecisionKind, Rail, RailStage
from alignkit.core._registry import ENTRY_POINT_GROUP, Registry, discover
from alignkit.core._severity import Direction, Severity
from alignkit.core._stats import (
    bootstrap_ci,
    newcombe_diff_ci,
    two_proportion_test,
    wilson_interval,
    z_test_from_intervals,
)

__all__ = [
    "CHECKS",
    "DEFAULT_STORE",
    "DEFAULT_TARGET",
    "ENTRY_POINT_GROUP",
    "AlignkitConfig",
    "AlignkitError",
    "AttemptRunner",
    "AuditConfig",
    "AuditResult",
    "ChatModel",
    "CheckContext",
    "CheckError",
    "CheckFn",
    "CheckSpec",
    "Completion",
    "ConfigError",
    "Cost",
    "DataError",
    "Decision",
    "DecisionKind",
    "Decoding",
    "Direction",
    "Evidence",
    "FailureModeSummary",
    "Finding",
    "HttpConfig",
    "ItemSource",
    "Message",
    "MetricSpec",
    "MissingDependencyError",
    "Outcome",
    "Plot",
    "Rail",
    "RailStage",
    "Registry",
    "RegistryError",
    "SchemaVersionError",
    "Severity",
    "StoreError",
    "Target",
    "TargetError",
    "TargetKind",
    "TokenLogprob",
    "UnknownIdError",
    "Usage",
    "bootstrap_ci",
    "check",
    "config_schema",
    "discover",
    "load_config",
    "newcombe_diff_ci",
    "resolve_store_url",
    "summarize",
    "two_proportion_test",
    "wilson_interval",
    "z_test_from_intervals",
]
