"""Tool-call governance: the compiled policy and what a check answers (DESIGN §4).

:class:`ActionPolicy` compiles a policy file (see :mod:`._actions_policy`) into matchers
and decides on one call in well under a millisecond: ``evaluate(tool, arguments,
context)`` gives an :class:`ActionDecision` (``allow``, ``block`` or ``escalate``, the
rule and the reason). :meth:`alignkit.guard.Guard.check_action` adds the rest of the
contract — breakers, the approval queue, the audit log — and answers an
:class:`ActionCheck`: ``{decision: allow|block|pending, rule, reason, approval_id?}``.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
import shlex
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from alignkit.core import AlignkitError, DecisionKind
from alignkit.guard._actions_policy import (
    ActionPolicyConfig,
    ConditionConfig,
    RuleConfig,
    check_regexes,
    default_rules,
    load_policy_config,
)
from alignkit.guard._text import may_match, pattern_anchors

__all__ = ["ActionBlocked", "ActionCheck", "ActionDecision", "ActionPolicy", "glob_regex"]

_MAX_LEAVES = 20_000
_MAX_PATH = 4096
_URL_HOST = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^@/\s?#]*@)?(\[[^\]\s]+\]|[^:/\s?#]+)")
_BARE_HOST = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d+)?$")
_SEGMENTS = re.compile(r"\s*(?:&&|\|\||[;|\n])\s*")
_PREFIXES = {"sudo", "env", "time", "nohup", "nice", "exec", "command"}


class ActionCheck(BaseModel):
    """The answer to one tool-call check (the ``POST /v1/actions/check`` body).

    Attributes:
        decision: ``allow``, ``block`` or ``pending`` (waiting for a human).
        rule: The rule that decided (``default`` when none matched).
        reason: Why, in one line.
        approval_id: The approval to poll or wait on (escalations only).
        status: For escalations: ``pending``, ``approved``, ``denied`` or ``expired``.
        tool: The tool that was checked.
        request_id: Id of the check's audit-log entry.
        latency_ms: Time the policy took to decide.
        expires_at: When a pending approval times out (and is denied).
        decided_by: Who approved or denied it (``timeout`` for an expiry).
    """

    model_config = ConfigDict(frozen=True)

    decision: Literal["allow", "block", "pending"]
    rule: str
    reason: str
    approval_id: str | None = None
    status: Literal["pending", "approved", "denied", "expired"] | None = None
    tool: str = ""
    request_id: str = ""
    latency_ms: float = 0.0
    expires_at: datetime | None = None
    decided_by: str | None = None

    @property
    def allowed(self) -> bool:
        """Whether the action may run now."""
        return self.decision == "allow"


class ActionBlocked(AlignkitError):  # noqa: N818 - reads as what happened to the action
    """A governed tool call was blocked, denied or timed out; ``check`` says why."""

    def __init__(self, check: ActionCheck) -> None:
        if check.decision == "pending":
            message = (
                f"tool call {check.tool!r} is still waiting for approval {check.approval_id}"
                f" (rule {check.rule}); not run"
            )
        else:
            who = f" ({check.status} by {check.decided_by})" if check.decided_by else ""
            message = f"tool call {check.tool!r} blocked by rule {check.rule}{who}: {check.reason}"
        super().__init__(message)
        self.check = check


@dataclass(frozen=True)
class ActionDecision:
    """What the policy decided about one call (before approvals).

    Attributes:
        decision: ``allow``, ``block`` or ``escalate``.
        rule: The deciding rule's id (``default`` when none matched).
        reason: Why, naming the value that matched.
        latency_ms: Time taken to decide.
    """

    decision: DecisionKind
    rule: str
    reason: str
    latency_ms: float


def glob_regex(pattern: str) -> str:
    """A path glob as a regular expression (``**`` crosses folders; no ``/``: any depth)."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : end]
            body = "^" + body[1:] if body.startswith("!") else body
            out.append(f"[{body.replace(chr(92), chr(92) * 2)}]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    body = "".join(out)
    return body if "/" in pattern else f"(?:.*/)?{body}"


def _leaves(value: Any) -> Iterator[Any]:
    """Scalars inside ``value`` (depth-first, bounded)."""
    stack, n = [value], 0
    while stack and n < _MAX_LEAVES:
        v = stack.pop()
        if isinstance(v, Mapping):
            stack.extend(reversed(list(v.values())))
        elif isinstance(v, list | tuple):
            stack.extend(reversed(v))
        else:
            n += 1
            yield v


def _select(arguments: Mapping[str, Any], path: str) -> list[Any] | None:
    """Values at a dotted ``path`` (fanning out over lists); ``None`` when absent."""
    current: list[Any] = [arguments]
    for part in path.split("."):
        nxt: list[Any] = []
        for v in current:
            items = v if isinstance(v, list | tuple) else [v]
            for item in items:
                if isinstance(item, Mapping) and part in item:
                    nxt.append(item[part])
                elif isinstance(item, list | tuple) and part.isdigit() and int(part) < len(item):
                    nxt.append(item[int(part)])
        if not nxt:
            return None
        current = nxt
    return current


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str) and len(v) < 64:
        try:
            return float(v.strip().replace("_", "").replace(",", ""))
        except ValueError:
            return None
    return None


def _hosts(v: str) -> list[str]:
    hosts = [h.strip("[]").lower().rstrip(".") for h in _URL_HOST.findall(v)]
    if not hosts and len(v) < 260 and _BARE_HOST.match(v.strip()) and "." in v:
        hosts = [v.strip().split(":")[0].lower().rstrip(".")]
    return hosts


def _commands(v: str) -> list[list[str]]:
    out = []
    for seg in _SEGMENTS.split(v):
        try:
            words = shlex.split(seg, comments=False)
        except ValueError:
            words = seg.split()
        while words and (words[0] in _PREFIXES or re.match(r"^\w+=", words[0])):
            words = words[1:]
        if words:
            out.append([posixpath.basename(words[0]), *words[1:]])
    return out


class _Condition:
    """One compiled condition: which values it reads and the test each value gets."""

    def __init__(self, cfg: ConditionConfig, workspace: str | None) -> None:
        self.paths: list[str] | None = None
        if cfg.arg != "*":
            self.paths = [cfg.arg] if isinstance(cfg.arg, str) else list(cfg.arg)
        self.op = cfg.operator
        self.workspace = workspace.rstrip("/") + "/" if workspace else None
        self.negated = self.op.startswith("not_") or self.op.endswith("_not_in")
        value = getattr(cfg, self.op)
        self.value = value
        self.test: Callable[[Any], bool] = self._build(self.op, value)

    def _build(self, op: str, value: Any) -> Callable[[Any], bool]:
        if op in ("glob", "not_glob"):
            rx = re.compile("|".join(f"(?:{glob_regex(p)})" for p in value))
            return lambda v: isinstance(v, str) and (p := self._path(v)) is not None and \
                bool(rx.fullmatch(p)) != (op == "not_glob")  # fmt: skip
        if op in ("regex", "not_regex"):
            rx = re.compile("|".join(f"(?:{_scoped(p)})" for p in value))
            anchors = pattern_anchors(value)
            negate = op == "not_regex"

            def search(v: Any) -> bool:
                if not isinstance(v, str):
                    return False
                if anchors is not None and not may_match(anchors, v.lower()):
                    return negate  # a required string is missing: no pattern can match
                return bool(rx.search(v)) != negate

            return search
        if op == "contains":
            words = [w.lower() for w in value]
            return lambda v: isinstance(v, str) and any(w in v.lower() for w in words)
        if op in ("host_in", "host_not_in"):
            rx = re.compile("|".join(fnmatch.translate(h.lower()) for h in value))
            inside = op == "host_in"
            return lambda v: (
                isinstance(v, str) and any(bool(rx.fullmatch(h)) == inside for h in _hosts(v))
            )
        if op in ("command_in", "command_not_in"):
            allowed = [e.split() for e in value]

            def ok(words: list[str]) -> bool:
                return any(len(words) >= len(a) and all(fnmatch.fnmatchcase(w, p)
                           for w, p in zip(words, a, strict=False)) for a in allowed)  # fmt: skip

            inside = op == "command_in"
            return lambda v: isinstance(v, str) and any(ok(c) == inside for c in _commands(v))
        if op in ("gt", "ge", "lt", "le"):
            bound = float(value)
            cmp = {"gt": float.__gt__, "ge": float.__ge__, "lt": float.__lt__, "le": float.__le__}[
                op
            ]
            return lambda v: (n := _number(v)) is not None and cmp(n, bound)
        if op == "equals":
            return lambda v: v == value or (isinstance(v, str) and v == str(value))
        return lambda v: True  # exists: decided by presence alone

    def _path(self, v: str) -> str | None:
        if len(v) > _MAX_PATH or "\n" in v or not v.strip():
            return None
        p = v.strip().replace("\\", "/")
        if self.workspace and (p + "/").startswith(self.workspace):
            p = p[len(self.workspace) :] or "."
        p = posixpath.normpath(p)
        return p[2:] if p.startswith("./") else p

    def witness(self, arguments: Mapping[str, Any], strings: Callable[[], list[str]]) -> Any:
        """A value that makes the condition hold, or ``None`` when it does not hold."""
        if self.paths is None:
            values: Sequence[Any] = strings()
        else:
            found = next((v for p in self.paths if (v := _select(arguments, p)) is not None), None)
            if self.op == "exists":
                return "present" if (found is not None) == self.value else None
            if found is None:
                return None
            values = list(_leaves(found))
        if self.op == "exists":
            return "present" if bool(values) == self.value else None
        return next((v for v in values if self.test(v)), None)


class _Rule:
    def __init__(self, cfg: RuleConfig, workspace: str | None) -> None:
        self.id = cfg.id
        self.decision = DecisionKind(cfg.decision)
        self.reason = cfg.reason or f"matched rule {cfg.id}"
        self.tools = re.compile(
            "|".join(fnmatch.translate(t.lower()) for t in cfg.tools), re.IGNORECASE
        )
        self.any_tool = cfg.tools == ["*"]
        self.conditions = [_Condition(c, workspace) for c in cfg.when]


class ActionPolicy:
    """A compiled tool-call policy.

    Args:
        config: A policy file path, a dict, an :class:`ActionPolicyConfig`, or ``None``
            for the default policy (the built-in rules, everything else allowed).

    Raises:
        ConfigError: the policy is unreadable or invalid (one line naming the place).

    Example::

        policy = ActionPolicy("policy.yaml")
        d = policy.evaluate("shell", {"command": "git push --force origin main"})
        assert d.decision == "block" and d.rule == "force-push"
    """

    def __init__(
        self,
        config: str | Path | dict[str, Any] | ActionPolicyConfig | None = None,
        *,
        label: str | None = None,
    ) -> None:
        cfg, where = load_policy_config(config, label=label)
        check_regexes(cfg, where)
        self.config = cfg
        self.source = where
        rules = list(cfg.rules)
        if cfg.defaults:
            own = {r.id for r in rules}
            rules += [r for r in default_rules() if r.id not in own]
        self.rules = [_Rule(r, cfg.workspace) for r in rules]
        self.default = DecisionKind(cfg.default)

    def evaluate(
        self,
        tool: str,
        arguments: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> ActionDecision:
        """Decide on one call: the first rule that matches, else the default."""
        start = time.perf_counter()
        args: Mapping[str, Any] = arguments or {}
        if not isinstance(args, Mapping):
            raise TypeError("arguments must be a mapping of argument names to values")
        cache: list[list[str]] = []

        def strings() -> list[str]:
            if not cache:
                cache.append([v for v in _leaves(args) if isinstance(v, str)])
            return cache[0]

        name = str(tool)
        for rule in self.rules:
            if not rule.any_tool and not rule.tools.fullmatch(name):
                continue
            witnesses = []
            for cond in rule.conditions:
                w = cond.witness(args, strings)
                if w is None:
                    break
                witnesses.append(w)
            else:
                shown = next((w for w in witnesses if isinstance(w, str) and w != "present"), None)
                reason = rule.reason
                if shown is not None:
                    reason += f" ({_short(shown)})"
                ms = (time.perf_counter() - start) * 1000.0
                return ActionDecision(rule.decision, rule.id, reason, ms)
        ms = (time.perf_counter() - start) * 1000.0
        return ActionDecision(self.default, "default", "no rule matched", ms)


def _scoped(pattern: str) -> str:
    """``(?i)rest`` as ``(?i:rest)``, so patterns with leading flags can be joined."""
    m = re.match(r"^\(\?([aiLmsux]+)\)", pattern)
    return f"(?{m.group(1)}:{pattern[m.end() :]})" if m else pattern


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
