"""The tool-call policy file: declarative rules over a tool's name and arguments.

A policy is a list of rules tried in order; the first rule whose tool pattern and
conditions all hold decides (``allow``, ``block`` or ``escalate``); when none does, the
policy's ``default`` decides (``allow``). With ``defaults: true`` (the default) alignkit's
built-in rules for destructive actions (``actions.yaml`` next to this module,
:data:`DEFAULT_ACTIONS`) are tried after the file's own, so a file only adds to them —
or overrides one, with an earlier rule or a rule of the same id. Top-level keys starting
with ``x-`` are ignored, so a file can hold YAML anchors for shared lists::

    version: 1
    workspace: /srv/repo            # absolute paths under it are matched as relative
    rules:
      - id: scratch-may-go
        decision: allow
        tools: ["delete_file"]
        when: [{arg: path, glob: ["tmp/**"]}]
      - id: egress
        decision: block
        reason: only the package index may be reached
        tools: ["http_*", "fetch"]
        when: [{arg: url, host_not_in: ["pypi.org", "*.pythonhosted.org"]}]
      - id: budget
        decision: escalate
        tools: ["purchase"]
        when: [{arg: amount, gt: 50}]

A condition names an argument (``arg``: a dotted path, a list of alternatives — the
first present counts — or ``"*"`` for every string argument at any depth) and exactly
one test: ``glob``/``not_glob`` (paths: ``**`` crosses folders; a pattern without ``/``
matches a file name at any depth), ``regex``/``not_regex`` (searched), ``contains``
(case-insensitive), ``host_in``/``host_not_in`` (host names of URLs, ``*`` wildcards),
``command_in``/``command_not_in`` (each command of a shell line, by its first words),
``gt``/``ge``/``lt``/``le`` (numbers), ``equals``, ``exists``. A test on a list or an
object holds when it holds for any element; a ``not_*`` test therefore says "some value
lies outside the allow-list".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from alignkit.core import ConfigError, read_yaml

__all__ = [
    "DEFAULT_ACTIONS",
    "OPERATORS",
    "ActionPolicyConfig",
    "ConditionConfig",
    "RuleConfig",
    "check_regexes",
    "default_rules",
    "load_policy_config",
]

RuleDecision = Literal["allow", "block", "escalate"]

OPERATORS = (
    "glob",
    "not_glob",
    "regex",
    "not_regex",
    "contains",
    "host_in",
    "host_not_in",
    "command_in",
    "command_not_in",
    "gt",
    "ge",
    "lt",
    "le",
    "equals",
    "exists",
)
"""The tests a condition can make (exactly one per condition)."""


class ConditionConfig(BaseModel):
    """One test on one argument."""

    # `gt: .nan` and `gt: .inf` loaded as rules that never held
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    arg: str | list[str] = Field(
        "*", min_length=1, description="Dotted argument path(s), or '*' for all."
    )
    glob: list[str] | None = None
    not_glob: list[str] | None = None
    regex: list[str] | None = None
    not_regex: list[str] | None = None
    contains: list[str] | None = None
    host_in: list[str] | None = None
    host_not_in: list[str] | None = None
    command_in: list[str] | None = None
    command_not_in: list[str] | None = None
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    equals: str | float | bool | None = None
    exists: bool | None = None

    @model_validator(mode="after")
    def _one_test(self) -> ConditionConfig:
        given = [op for op in OPERATORS if getattr(self, op) is not None]
        if len(given) != 1:
            what = "no test" if not given else f"{len(given)} tests ({', '.join(given)})"
            raise ValueError(f"a condition needs exactly one of {', '.join(OPERATORS)}; got {what}")
        if getattr(self, given[0]) == []:  # `regex: []` loaded as a rule that never matched
            raise ValueError(f"'{given[0]}' lists nothing")
        if self.arg == [] or "" in ([self.arg] if isinstance(self.arg, str) else self.arg):
            raise ValueError("'arg' names no argument")
        return self

    @property
    def operator(self) -> str:
        """The test this condition makes."""
        return next(op for op in OPERATORS if getattr(self, op) is not None)


class RuleConfig(BaseModel):
    """One rule: which tools, under which conditions, and what to decide."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200, description="Names the rule in decisions.")
    decision: RuleDecision
    reason: str = Field("", description="Told to the agent and the approver.")
    tools: list[str] = Field(
        default_factory=lambda: ["*"], min_length=1, description="Tool-name globs."
    )
    when: list[ConditionConfig] = Field(default_factory=list, description="All must hold.")


class ActionPolicyConfig(BaseModel):
    """A whole tool-call policy."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    defaults: bool = Field(True, description="Try alignkit's built-in rules after these.")
    default: RuleDecision = Field("allow", description="Decision when no rule matches.")
    workspace: str | None = Field(
        None, description="Root that absolute paths are made relative to."
    )
    rules: list[RuleConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> ActionPolicyConfig:
        seen: set[str] = set()
        for i, r in enumerate(self.rules):
            if r.id in seen:
                raise ValueError(f"rules[{i}]: two rules with id '{r.id}'")
            seen.add(r.id)
        return self


# -- the built-in rules ---------------------------------------------------------------------

DEFAULT_ACTIONS = Path(__file__).resolve().parent / "actions.yaml"
"""The built-in tool-call rules, as a policy file (readable, and a template to copy)."""


@lru_cache(maxsize=1)
def _default_rules() -> tuple[RuleConfig, ...]:
    raw = yaml.safe_load(DEFAULT_ACTIONS.read_text(encoding="utf-8"))
    raw.pop("x-lists", None)
    return tuple(ActionPolicyConfig.model_validate(raw).rules)


def default_rules() -> list[RuleConfig]:
    """The built-in rules: destructive patterns block or escalate (DESIGN §4)."""
    return list(_default_rules())


def _format_error(exc: ValidationError, source: str) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "top level"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = f"unknown field (tests are: {', '.join(OPERATORS)})" if "when" in where else \
            "unknown field"  # fmt: skip
    elif err["type"] == "missing":
        msg = "missing field"
    return f"invalid action policy {source}: {where}: {msg}"


def load_policy_config(
    source: str | Path | dict[str, Any] | ActionPolicyConfig | None,
    *,
    label: str | None = None,
) -> tuple[ActionPolicyConfig, str]:
    """Read and validate a policy (YAML file, dict, model, or ``None`` for the default).

    Returns:
        The config and a description of where it came from (for error messages).

    Raises:
        ConfigError: the file is unreadable, not YAML, or not a valid policy (one line).
    """
    if source is None:
        return ActionPolicyConfig(), "(default)"
    if isinstance(source, ActionPolicyConfig):
        return source, "(object)"
    if isinstance(source, str | Path):
        path = Path(source)
        where = str(path)
        raw = read_yaml(path, "action policy")
    else:
        raw, where = source, label or "(dict)"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"invalid action policy {where}: expected a mapping at top level")
    raw = {k: v for k, v in raw.items() if not str(k).startswith("x-")}  # YAML anchor lists
    try:
        return ActionPolicyConfig.model_validate(raw), where
    except ValidationError as exc:
        raise ConfigError(_format_error(exc, where)) from None


def check_regexes(config: ActionPolicyConfig, where: str, glob_regex: Callable[[str], str]) -> None:
    """Refuse a policy whose regular expressions or globs do not compile (one line).

    ``glob_regex`` turns a path glob into the regular expression it is matched with.
    """
    for i, rule in enumerate(config.rules):
        for j, cond in enumerate(rule.when):
            checks = [(p, p, "a valid regular expression") for p in
                      [*(cond.regex or []), *(cond.not_regex or [])]]  # fmt: skip
            globs = [*(cond.glob or []), *(cond.not_glob or [])]
            checks += [(p, glob_regex(p), "a valid glob") for p in globs]
            for k, (pattern, compiled, what) in enumerate(checks):
                try:
                    re.compile(compiled)
                except re.error as exc:
                    raise ConfigError(
                        f"invalid action policy {where}: rules.{i}.when.{j}: pattern {k} "
                        f"{pattern!r} is not {what} ({exc})"
                    ) from None
