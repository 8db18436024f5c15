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
import math
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
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:(?=/)")
_SEGMENTS = re.compile(r"\s*(?:&&|\|\||\|&|[;|&\n])\s*")
_FD_DUP = re.compile(r"\d*[<>]&(?:\d+|-)|&>>?\s*/dev/null|\d*>>?\s*/dev/null\b")
_OPAQUE = re.compile(r"\$\(|`|[<>]\(|>")  # substitution, or output to a file: not a plain command
_PREFIXES = {"sudo", "env", "time", "nohup", "nice", "exec", "command"}
_BIN_DIRS = {"/bin", "/usr/bin", "/usr/local/bin", "/sbin", "/usr/sbin"}
_RUNS_TEXT = {"eval", "source", "."}  # run a string or a file: what runs is not on the line
_ASSIGN = re.compile(r"(?:^|[\s;&|(])(?:export\s+|local\s+)?([A-Za-z_]\w*)=([^\s;&|)]*)")
_VAR = re.compile(r"\$([A-Za-z_]\w*)")
_ARGUMENTS_TOO_LARGE = "arguments-too-large"


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


class _TooLarge(Exception):
    """Arguments with more containers than a check reads (a cyclic structure among them)."""


def _leaves(value: Any, limit: int = _MAX_LEAVES) -> Iterator[Any]:
    """Scalars inside ``value`` (depth-first, at most ``limit``; bytes read as text)."""
    stack, n, containers = [value], 0, 0
    while stack and n < limit:
        v = stack.pop()
        if isinstance(v, Mapping | list | tuple):
            containers += 1
            if containers > limit:  # a cycle (or a structure of empty lists) never ends
                raise _TooLarge
            stack.extend(reversed(list(v.values() if isinstance(v, Mapping) else v)))
        else:
            n += 1
            yield v.decode("utf-8", "replace") if isinstance(v, bytes | bytearray) else v


_LINE_OPS = frozenset({"regex", "not_regex", "contains", "command_in", "command_not_in"})
"""Operators that read a command line, so also an argument vector joined into one."""


def _argv_lines(value: Any) -> list[str]:
    """Each list of two or more strings inside ``value`` as one shell line.

    A command given as an argument vector (``["rm", "-rf", "/"]``, ``sh(*argv)``) was read
    word by word, and no rule about a command line ever saw it whole.
    """
    lines, stack, seen = [], [value], 0
    while stack and seen <= _MAX_LEAVES:
        v = stack.pop()
        seen += 1
        if isinstance(v, Mapping):
            stack.extend(v.values())
        elif isinstance(v, list | tuple):
            if len(v) > 1 and all(isinstance(x, str) for x in v):
                lines.append(shlex.join(v))
            else:
                stack.extend(v)
    return lines


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
    """``v`` as a finite number; ``None`` for anything else (NaN, ±inf, 10**400 included)."""
    n: float | None = None
    try:
        if isinstance(v, int | float) and not isinstance(v, bool):
            n = float(v)
        elif isinstance(v, str) and len(v) < 64:
            n = float(v.strip().replace("_", "").replace(",", ""))
    except (ValueError, OverflowError):
        return None
    return n if n is not None and math.isfinite(n) else None


def _hosts(v: str) -> list[str]:
    r"""Hosts of the URLs inside free text, as any client may read them.

    A backslash is read both as ``/`` (browsers) and as itself (curl, urllib): in
    ``https://pypi.org\@evil.com/`` the first reading reaches pypi.org, the second
    evil.com, and both are returned.
    """
    hosts: list[str] = []
    for text in dict.fromkeys((v.replace("\\", "/"), v)):
        hosts += [h.strip("[]").lower().rstrip(".") for h in _URL_HOST.findall(text)]
    if not hosts and len(v) < 260 and _BARE_HOST.match(v.strip()) and "." in v:
        hosts = [v.strip().split(":")[0].lower().rstrip(".")]
    return list(dict.fromkeys(hosts))


def _url_hosts(v: str) -> list[str]:
    r"""The hosts a URL argument may reach, read leniently as clients do (empty if none).

    ``evil.com/x``, ``//evil.com/x`` and ``https:/evil.com/x`` reach a host a strict
    parser would miss; a backslash is read as ``/`` (browsers) and as itself (curl,
    urllib), so ``https://pypi.org\@evil.com/`` gives both pypi.org and evil.com.
    """
    out = []
    for s in dict.fromkeys((v.strip().replace("\\", "/"), v.strip())):
        if m := _SCHEME.match(s):
            s = s[m.end() :]
        authority = re.split(r"[/?#]", s.lstrip("/\\"), maxsplit=1)[0]
        host = authority.rsplit("@", 1)[-1]
        host = host[1 : host.find("]")] if host.startswith("[") else host.split(":")[0]
        host = host.lower().rstrip(".")
        if not host or any(c.isspace() for c in host):
            return []  # one reading has no host: the URL is unreadable
        out.append(host)
    return list(dict.fromkeys(out))


def _commands(v: str) -> tuple[list[list[str]], bool]:
    """The commands of a shell line by their words, and whether it hides any.

    A line is opaque when it substitutes commands (``$(…)``, backticks, ``<(…)``), names
    a program by a variable (``$RM -rf /``), runs a string or a file (``eval``, ``source``)
    or writes output to a file: what runs or what is written cannot be read off the words.
    A program named by a path keeps it (``./pytest`` is not ``pytest``), except in the
    system's bin folders.
    """
    v = _FD_DUP.sub(" ", v)
    opaque = bool(_OPAQUE.search(v))
    out = []
    for seg in _SEGMENTS.split(v):
        try:
            words = shlex.split(seg, comments=False)
        except ValueError:
            words = seg.split()
        while words and (words[0] in _PREFIXES or re.match(r"^\w+=", words[0])):
            words = words[1:]
        if words:
            prog = words[0]
            if posixpath.dirname(prog) in _BIN_DIRS:
                prog = posixpath.basename(prog)
            opaque = opaque or "$" in prog or prog in _RUNS_TEXT
            out.append([prog, *words[1:]])
    return out, opaque


def _dequoted(v: str) -> str:
    """``v`` after the shell's quote removal and expansion, roughly.

    ``r''m -rf "/"`` reads ``rm -rf /``, and so does ``RM=rm; $RM -rf /``: variables the
    line itself sets are expanded (others are left as written).
    """
    if not any(c in v for c in "'\"\\{$"):
        return v
    v = re.sub(r"\$\{(\w+)\}", r"$\1", re.sub(r"['\"\\]", "", v))
    if names := dict(_ASSIGN.findall(v)):
        v = _VAR.sub(lambda m: names.get(m.group(1), m.group(0)), v)
    return v


class _Condition:
    """One compiled condition: which values it reads and the test each value gets.

    A value the test cannot read — a path that does not normalise, a URL without a host,
    a shell line that hides its commands, a number that is not one — holds the condition
    of a ``block`` or ``escalate`` rule on a named argument and never that of an
    ``allow`` rule: the policy fails closed. Under ``"*"`` (every string at any depth) such
    values are skipped, as most strings there are not paths, URLs or numbers at all;
    shell lines count there too.
    """

    def __init__(self, cfg: ConditionConfig, workspace: str | None, strict: bool) -> None:
        self.paths: list[str] | None = None
        if cfg.arg != "*":
            self.paths = [cfg.arg] if isinstance(cfg.arg, str) else list(cfg.arg)
        self.op = cfg.operator
        self.workspace = posixpath.normpath(workspace.replace("\\", "/")) if workspace else None
        self.negated = self.op.startswith("not_") or self.op.endswith("_not_in")
        self.strict = strict
        self.unknown = strict and self.paths is not None  # what an unreadable value counts as
        value = getattr(cfg, self.op)
        self.value = value
        self.test: Callable[[Any], bool] = self._build(self.op, value, strict)

    def _build(self, op: str, value: Any, strict: bool) -> Callable[[Any], bool]:
        if op in ("glob", "not_glob"):
            rx = re.compile("|".join(f"(?:{glob_regex(p)})" for p in value))
            negate = op == "not_glob"

            def path_test(v: Any) -> bool:
                p = self._path(v) if isinstance(v, str) else None
                if p is None:
                    return self._unreadable(v)
                return bool(rx.fullmatch(p)) != negate

            return path_test
        if op in ("regex", "not_regex"):
            # each on its own: joined, a later pattern's \\1 or (?P<a>…) meant another group
            rxs = [re.compile(p) for p in value]
            anchors = pattern_anchors(value)
            negate = op == "not_regex"

            def found(v: str) -> bool:
                if anchors is not None and not may_match(anchors, v.lower()):
                    return False  # a required string is missing: no pattern can match
                return any(rx.search(v) for rx in rxs)

            def search(v: Any) -> bool:
                if not isinstance(v, str):
                    return False
                if negate:
                    return not found(v)
                return found(v) or ((d := _dequoted(v)) != v and found(d))

            return search
        if op == "contains":
            words = [w.lower() for w in value]
            return lambda v: isinstance(v, str) and any(w in v.lower() for w in words)
        if op in ("host_in", "host_not_in"):
            rx = re.compile("|".join(fnmatch.translate(h.lower()) for h in value))
            inside = op == "host_in"

            def host_test(v: Any) -> bool:
                if not isinstance(v, str):
                    return self._unreadable(v)
                hosts = _hosts(v) if self.paths is None else _url_hosts(v)
                if not hosts:
                    return False if self.paths is None else self.unknown
                held = [bool(rx.fullmatch(h)) == inside for h in hosts]
                # several hosts (URLs, or readings of one URL): a block or escalate rule
                # holds if any does, an allow rule only if all do
                return any(held) if strict else all(held)

            return host_test
        if op in ("command_in", "command_not_in"):
            allowed = [e.split() for e in value]

            def ok(words: list[str]) -> bool:
                return any(len(words) >= len(a) and all(fnmatch.fnmatchcase(w, p)
                           for w, p in zip(words, a, strict=False)) for a in allowed)  # fmt: skip

            inside = op == "command_in"

            def command_test(v: Any) -> bool:
                if not isinstance(v, str):
                    return self._unreadable(v)
                commands, opaque = _commands(v)
                if opaque:  # what would run cannot be read off the line
                    return strict
                held = [ok(c) == inside for c in commands]
                # `pytest || rm -rf /`: a block rule holds if any command does, an allow
                # rule only if every one does
                return any(held) if strict else bool(held) and all(held)

            return command_test
        if op in ("gt", "ge", "lt", "le"):
            bound = float(value)
            cmp = {"gt": float.__gt__, "ge": float.__ge__, "lt": float.__lt__, "le": float.__le__}[
                op
            ]

            def number_test(v: Any) -> bool:
                n = _number(v)
                if n is None:
                    return self._unreadable(v)
                return cmp(n, bound)

            return number_test
        if op == "equals":
            # only a number in the policy compares as a number: "00123" is not "123"
            number = float(value) if isinstance(value, int | float) and not isinstance(
                value, bool) else None  # fmt: skip

            def equals_test(v: Any) -> bool:
                if v == value or (isinstance(v, str) and v == str(value)):
                    return True
                if isinstance(value, bool):  # `true` sent as "true" or "True"
                    return isinstance(v, str) and v.strip().lower() == str(value).lower()
                # 5 sent as "5" or "5.0": a number is compared as a number
                return number is not None and not isinstance(v, bool) and _number(v) == number

            return equals_test
        return lambda v: True  # exists: decided by presence alone

    def _unreadable(self, v: Any) -> bool:
        """What a value the test cannot read counts as (``null`` is an absent value)."""
        return self.unknown and v is not None

    def _path(self, v: str) -> str | None:
        """``v`` as a normalised relative path; ``None`` when it cannot be one."""
        p = v.strip()
        if not p or "\n" in p or "\x00" in p:
            return None
        p = posixpath.normpath(p.replace("\\", "/"))  # linear: collapses //, ./ and ..
        ws = self.workspace
        absolute = p.startswith("/") or re.match(r"[A-Za-z]:/", p) is not None
        if ws and ws.startswith("/") and not absolute:  # relative: `../../etc/passwd`
            p = posixpath.normpath(posixpath.join(ws, p))
        if ws and (p == ws or p.startswith(ws.rstrip("/") + "/")):
            p = p[len(ws.rstrip("/")) + 1 :] or "."
        return p if len(p) <= _MAX_PATH else None

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
            if self.op in _LINE_OPS:  # ["rm", "-rf", "build"] under `arg: cmd` too
                values += _argv_lines(found)
        if self.op == "exists":
            return "present" if bool(values) == self.value else None
        if not self.strict and self.paths is not None:
            # an allow rule holds only if every value passes: ["tmp/x", "tests/a.py"]
            # passed on its first
            if not values or not all(self.test(v) for v in values):
                return None
        return next((v if v is not None else "null" for v in values if self.test(v)), None)


class _Rule:
    def __init__(self, cfg: RuleConfig, workspace: str | None, builtin: bool = False) -> None:
        self.id = cfg.id
        self.builtin = builtin
        self.decision = DecisionKind(cfg.decision)
        self.reason = cfg.reason or f"matched rule {cfg.id}"
        self.tools = re.compile(
            "|".join(fnmatch.translate(t.lower()) for t in cfg.tools), re.IGNORECASE
        )
        self.any_tool = cfg.tools == ["*"]
        strict = self.decision is not DecisionKind.ALLOW
        self.conditions = [_Condition(c, workspace, strict) for c in cfg.when]


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
        check_regexes(cfg, where, glob_regex)
        self.config = cfg
        self.source = where
        own = {r.id for r in cfg.rules}
        builtins = [r for r in default_rules() if r.id not in own] if cfg.defaults else []
        self.rules = [_Rule(r, cfg.workspace) for r in cfg.rules]
        self.rules += [_Rule(r, cfg.workspace, builtin=True) for r in builtins]
        self.default = DecisionKind(cfg.default)

    def evaluate(
        self,
        tool: str,
        arguments: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> ActionDecision:
        """Decide on one call: the first rule that matches, else the default.

        A file's ``escalate`` that matches first gives way to a built-in ``block`` that
        also matches.
        """
        start = time.perf_counter()
        args: Mapping[str, Any] = arguments or {}
        if not isinstance(args, Mapping):
            raise TypeError("arguments must be a mapping of argument names to values")
        try:
            leaves = list(_leaves(args, _MAX_LEAVES + 1))
        except _TooLarge:
            leaves = [None] * (_MAX_LEAVES + 1)
        if len(leaves) > _MAX_LEAVES:  # a check that reads only part of them would fail open
            ms = (time.perf_counter() - start) * 1000.0
            why = f"the arguments hold more than {_MAX_LEAVES:,} values; too large to check"
            return ActionDecision(DecisionKind.BLOCK, _ARGUMENTS_TOO_LARGE, why, ms)
        cache: list[list[str]] = []

        def strings() -> list[str]:
            if not cache:
                cache.append([v for v in leaves if isinstance(v, str)] + _argv_lines(args))
            return cache[0]

        name = str(tool)
        for i, rule in enumerate(self.rules):
            reason = self._match(rule, name, args, strings)
            if reason is None:
                continue
            decided = rule
            if rule.decision is DecisionKind.ESCALATE and not rule.builtin:
                # A file's escalation (an allow-list that asks a human) never weakens a
                # built-in block: `git push --force` stayed "ask a human" behind one.
                for later in self.rules[i + 1 :]:
                    if later.builtin and later.decision is DecisionKind.BLOCK:
                        hard = self._match(later, name, args, strings)
                        if hard is not None:
                            decided, reason = later, hard
                            break
            ms = (time.perf_counter() - start) * 1000.0
            return ActionDecision(decided.decision, decided.id, reason, ms)
        ms = (time.perf_counter() - start) * 1000.0
        return ActionDecision(self.default, "default", "no rule matched", ms)

    @staticmethod
    def _match(
        rule: _Rule, tool: str, args: Mapping[str, Any], strings: Callable[[], list[str]]
    ) -> str | None:
        """The reason ``rule`` gives for this call, or ``None`` when it does not match."""
        if not rule.any_tool and not rule.tools.fullmatch(tool):
            return None
        witnesses = []
        for cond in rule.conditions:
            w = cond.witness(args, strings)
            if w is None:
                return None
            witnesses.append(w)
        shown = next((w for w in witnesses if isinstance(w, str) and w != "present"), None)
        return rule.reason if shown is None else f"{rule.reason} ({_short(shown)})"


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
