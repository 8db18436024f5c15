"""Putting tool functions under the policy: the :func:`governed` decorator and the HTTP client.

A *gate* answers tool-call checks and waits on approvals. Two implement it: a
:class:`~alignkit.guard.Guard` in the same process, and :class:`ActionClient`, which
asks ``alignkit serve`` over HTTP (the server's approvals page then shows what waits)::

    gate = ActionClient("http://127.0.0.1:8000")

    @governed(gate)
    def delete_file(path: str) -> None:
        os.remove(path)

    delete_file("tests/test_parser.py")   # raises ActionBlocked: rule delete-tests

An allowed call runs; a blocked one raises :class:`~alignkit.guard.ActionBlocked`
without running; an escalated one waits for a human (or the approval's timeout, which
denies) and then runs or raises.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar, cast

from alignkit.core import ConfigError, TargetError
from alignkit.guard._actions import ActionBlocked, ActionCheck

__all__ = ["ActionClient", "ActionGate", "governed"]

F = TypeVar("F", bound=Callable[..., Any])


class ActionGate(Protocol):
    """What :func:`governed` needs: checks, and waiting on approvals."""

    def check_action(
        self,
        tool: str,
        arguments: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> ActionCheck:
        """Check one call."""
        ...

    def wait_action_sync(self, approval_id: str, timeout_s: float | None = None) -> ActionCheck:
        """Wait for an escalated call to be decided."""
        ...

    async def wait_action(self, approval_id: str, timeout_s: float | None = None) -> ActionCheck:
        """Wait for an escalated call to be decided (async)."""
        ...


class ActionClient:
    """Tool-call checks against ``alignkit serve`` (``POST /v1/actions/check``).

    Args:
        base_url: The server, e.g. ``http://127.0.0.1:8000`` (a trailing ``/v1`` is fine).
        timeout_s: Timeout of one HTTP request; longer than the server's store busy timeout
            (30 s), so that a busy store is a 503 this client retries, not a timeout after
            which the server still queues the approval.
        context: Sent with every check (``user``, ``session``, ``workspace``, ...).
        retries: How often a request answered 503 with ``Retry-After`` (the server's
            store was busy, so nothing was recorded) is sent again after that pause.

    Raises:
        TargetError: the server cannot be reached or answers an error.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 45.0,
        context: Mapping[str, Any] | None = None,
        retries: int = 2,
    ) -> None:
        self.base_url = base_url.rstrip("/").removesuffix("/v1")
        self.timeout_s = timeout_s
        self.context = dict(context or {})
        self.retries = max(0, retries)

    def _call(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(self.retries + 1):
            req = urllib.request.Request(self.base_url + path, data=data, method=method)
            req.add_header("Content-Type", "application/json")
            try:
                with urllib.request.urlopen(req, timeout=timeout or self.timeout_s) as resp:
                    return json.loads(resp.read())
            except urllib.error.HTTPError as exc:
                pause = _retry_after(exc)
                if pause is not None and attempt < self.retries:
                    time.sleep(pause)  # a 503 with Retry-After: nothing was recorded; ask again
                    continue
                try:
                    message = json.loads(exc.read())["error"]["message"]
                except (ValueError, KeyError, TypeError):
                    message = exc.reason
                raise TargetError(f"{self.base_url}{path} answered {exc.code}: {message}") from None
            except TimeoutError:
                wait = timeout or self.timeout_s
                raise TargetError(f"{self.base_url}{path} gave no answer in {wait:g} s") from None
            except (urllib.error.URLError, OSError, ValueError) as exc:
                if isinstance(getattr(exc, "reason", None), TimeoutError):
                    wait = timeout or self.timeout_s
                    raise TargetError(
                        f"{self.base_url}{path} gave no answer in {wait:g} s"
                    ) from None
                raise TargetError(f"cannot reach {self.base_url}{path}: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def check_action(
        self,
        tool: str,
        arguments: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> ActionCheck:
        """Check one call on the server."""
        body = {
            "tool": tool,
            "arguments": dict(arguments or {}),
            "context": {**self.context, **(context or {})},
        }
        return ActionCheck.model_validate(self._call("POST", "/v1/actions/check", body))

    def action_status(self, approval_id: str, wait_s: float = 0.0) -> ActionCheck:
        """An escalated call's state, after waiting up to ``wait_s`` (≤ 60) for a decision."""
        path = f"/v1/actions/approvals/{urllib.parse.quote(approval_id)}?wait={wait_s:g}"
        raw = self._call("GET", path, timeout=self.timeout_s + wait_s)
        return ActionCheck.model_validate(raw)

    def wait_action_sync(self, approval_id: str, timeout_s: float | None = None) -> ActionCheck:
        """Long-poll until the call is decided, it expires, or ``timeout_s`` passes."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            left = 30.0 if deadline is None else min(30.0, deadline - time.monotonic())
            check = self.action_status(approval_id, max(0.0, left))
            if check.decision != "pending" or (
                deadline is not None and time.monotonic() >= deadline
            ):
                return check

    async def wait_action(self, approval_id: str, timeout_s: float | None = None) -> ActionCheck:
        """:meth:`wait_action_sync` without blocking the event loop."""
        return await asyncio.to_thread(self.wait_action_sync, approval_id, timeout_s)


def _retry_after(exc: urllib.error.HTTPError) -> float | None:
    """The pause a 503 asks for (at most 5 s), or None when the answer is final."""
    if exc.code != 503:
        return None
    try:
        return min(5.0, max(0.0, float(exc.headers.get("Retry-After", ""))))
    except ValueError:
        return None


def _arguments(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """The call's arguments by name (``self``/``cls`` left out), JSON-able."""
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
    except TypeError:
        return {"args": [repr(a) for a in args], **{k: repr(v) for k, v in kwargs.items()}}
    bound.apply_defaults()
    params = bound.signature.parameters
    out: dict[str, Any] = {}
    for k, v in bound.arguments.items():
        if k in ("self", "cls"):
            continue
        if params[k].kind is inspect.Parameter.VAR_KEYWORD:
            # `def f(**kwargs)`: f(path=...) is checked as `path`, which rules name, not as
            # `kwargs.path`; a name also bound above keeps its own value
            out.update({n: x for n, x in v.items() if n not in out})
        else:
            out[k] = v
    try:
        return cast(dict[str, Any], json.loads(json.dumps(out, default=_as_text)))
    except (ValueError, RecursionError) as exc:  # a cycle: the call is not run unchecked
        name = getattr(fn, "__name__", "the tool")
        raise ConfigError(f"the arguments of {name} cannot be checked: {exc}") from None


def _as_text(value: object) -> str:
    """A value JSON cannot hold, as the text a rule should read.

    A file name given as bytes or a path object is its path (``str(b"x")`` is ``"b'x'"``,
    which no glob of the policy matched: the call ran unchecked).
    """
    if isinstance(value, bytes | os.PathLike):
        try:
            return os.fsdecode(value)
        except (TypeError, ValueError):
            pass
    return str(value)


def _settle(gate: ActionGate, check: ActionCheck, wait_s: float | None) -> ActionCheck:
    if check.decision == "pending" and check.approval_id:
        check = gate.wait_action_sync(check.approval_id, wait_s)
    return check


def governed(
    gate: ActionGate,
    *,
    tool: str | None = None,
    context: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
    wait_s: float | None = None,
) -> Callable[[F], F]:
    """Check every call of the decorated function against the policy before it runs.

    Args:
        gate: A :class:`~alignkit.guard.Guard` or an :class:`ActionClient`.
        tool: The tool's name (default: the function's name).
        context: Context sent with each check, or a function returning it.
        wait_s: Longest wait for an escalated call (default: until decided or expired).

    Raises:
        ActionBlocked: (from the wrapped function) the call was blocked, denied, timed
            out, or is still pending after ``wait_s``.
    """

    def deco(fn: F) -> F:
        name = tool or fn.__name__

        def ctx() -> Mapping[str, Any]:
            return context() if callable(context) else (context or {})

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def arun(*args: Any, **kwargs: Any) -> Any:
                arguments = _arguments(fn, args, kwargs)
                check = await asyncio.to_thread(gate.check_action, name, arguments, ctx())
                if check.decision == "pending" and check.approval_id:
                    check = await gate.wait_action(check.approval_id, wait_s)
                if not check.allowed:
                    raise ActionBlocked(check)
                return await fn(*args, **kwargs)

            return cast(F, arun)

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            check = _settle(
                gate, gate.check_action(name, _arguments(fn, args, kwargs), ctx()), wait_s
            )
            if not check.allowed:
                raise ActionBlocked(check)
            return fn(*args, **kwargs)

        return cast(F, run)

    return deco
