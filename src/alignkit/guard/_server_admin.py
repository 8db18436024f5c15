"""The guard server's admin routes (circuit breakers, audit-log verification)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from alignkit.core import ConfigError
from alignkit.guard._body import BodyError, body_json
from alignkit.guard._server_http import bind_route_types

if TYPE_CHECKING:
    from fastapi import FastAPI, Request, Response

    from alignkit.guard._server_chat import State

__all__ = ["add_breaker_admin"]


def add_breaker_admin(app: FastAPI, state: State) -> None:
    """The ``/admin`` routes: breakers listed, signalled and reset; the audit log verified.

    Each needs ``Authorization: Bearer $ALIGNKIT_ADMIN_TOKEN``.
    """
    from alignkit.guard._server import _authorised, _error, _json

    bind_route_types(globals())

    async def admitted(request: Request) -> Any:
        """The request's JSON body, or the error response (no token, a malformed body)."""
        denied = _authorised(state, request)
        if denied:
            return denied
        try:
            return body_json(await request.body() or b"{}")
        except BodyError as exc:  # a lone surrogate opened a breaker no listing could show
            return _error(400, str(exc), "invalid_request_error")

    @app.get("/admin/breakers", tags=["admin"])
    async def breakers(request: Request) -> Response:
        denied = _authorised(state, request)
        return denied or _json({"breakers": state.guard.breakers.snapshot()})

    @app.post("/admin/breakers/signal", tags=["admin"])
    async def signal(request: Request) -> Response:
        doc = await admitted(request)
        if isinstance(doc, Response):
            return doc
        try:
            key, reason = str(doc["key"]), str(doc.get("reason") or "signalled by admin")
            state.guard.breakers.signal(key, reason)
        except (ValueError, KeyError, TypeError, AttributeError):
            return _error(400, "body must be {\"key\": ..., \"reason\": ...}",
                          "invalid_request_error")  # fmt: skip
        except ConfigError as exc:
            return _error(400, str(exc), "invalid_request_error")
        return _json({"key": key, "state": state.guard.breakers.state(key).value})

    @app.post("/admin/breakers/reset", tags=["admin"])
    async def reset(request: Request) -> Response:
        doc = await admitted(request)
        if isinstance(doc, Response):
            return doc
        # Only an empty body or {} resets every breaker: a typo must not close them all.
        if not isinstance(doc, dict) or set(doc) - {"key"}:
            return _error(400, 'body must be {} (all breakers) or {"key": ...}',
                          "invalid_request_error")  # fmt: skip
        key = doc.get("key")
        if "key" in doc:
            if not isinstance(key, str) or not key:
                return _error(400, "'key' must be a breaker key", "invalid_request_error")
            try:
                state.guard.breakers.check_key(key)
            except ConfigError as exc:
                return _error(400, str(exc), "invalid_request_error")
        state.guard.breakers.reset(key)
        return _json({"reset": key or "all"})

    @app.get("/admin/log/verify", tags=["admin"])
    async def verify(request: Request) -> Response:
        denied = _authorised(state, request)
        if denied:
            return denied
        if state.log is None:
            return _error(404, "this server keeps no audit log", "not_found")
        report = await asyncio.to_thread(state.log.verify)
        return _json({"ok": report.ok, "entries": report.entries, "first_bad": report.first_bad,
                      "problem": report.problem})  # fmt: skip
