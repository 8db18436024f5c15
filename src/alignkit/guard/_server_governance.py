"""``alignkit serve``'s agent-governance routes: tool-call checks, approvals and their page.

Public (no token — an approval id is unguessable, so holding one is the right to poll
it):

* ``POST /v1/actions/check`` — body ``{"tool", "arguments"?, "context"?}``; answers
  :class:`~alignkit.guard.ActionCheck` as JSON at once (an escalation is ``pending`` with
  an ``approval_id``). A malformed body gets 400 (413 when over 1 MiB) with one clear
  line in ``error.message``, never a 5xx.
* ``GET /v1/actions/approvals/{id}[?wait=S]`` — the approval's state as an
  ``ActionCheck``, after waiting up to ``S`` seconds (at most 60) for a decision.
* ``GET /approvals`` — the approvals page (it asks for the admin token).

Admin (``Authorization: Bearer <token>``): ``GET /admin/approvals[?status=...]``,
``POST /admin/approvals/{id}/approve`` and ``.../deny`` with ``{"by"?, "note"?}``
(409 when it was already decided or has expired).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alignkit.core import StoreError
from alignkit.guard._approvals import check_of
from alignkit.guard._body import BodyError, body_json
from alignkit.guard._server_chat import log_unavailable, store_busy
from alignkit.guard._server_http import bind_route_types
from alignkit.store import StoreBusy

if TYPE_CHECKING:
    from fastapi import FastAPI, Request, Response

__all__ = ["add_governance_routes", "governance_metrics"]

_log = logging.getLogger(__name__)
WEB = Path(__file__).resolve().parent / "web"
MAX_BODY = 1 << 20
MAX_WAIT_S = 60.0
_FIELDS = ("tool", "arguments", "context")
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_STATIC = {
    "/approvals": ("approvals.html", "text/html; charset=utf-8"),
    "/approvals/app.js": ("approvals.js", "text/javascript; charset=utf-8"),
    "/approvals/app.css": ("approvals.css", "text/css; charset=utf-8"),
}


class _Bad(Exception):
    def __init__(self, message: str, param: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.param = param
        self.status = status


def parse_check(body: bytes, headers: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """``(tool, arguments, context)`` of a check request; :class:`_Bad` says what is wrong."""
    if len(body) > MAX_BODY:
        raise _Bad(f"request body is larger than {MAX_BODY} bytes", status=413)
    try:
        doc = body_json(body)
    except BodyError as exc:
        raise _Bad(str(exc)) from None
    if not isinstance(doc, dict):
        raise _Bad('request body must be a JSON object {"tool": ..., "arguments": {...}}')
    unknown = sorted(k for k in doc if k not in _FIELDS)
    if unknown:
        raise _Bad(f"unknown field '{unknown[0]}' (fields: {', '.join(_FIELDS)})", unknown[0])
    tool = doc.get("tool")
    if not isinstance(tool, str) or not tool.strip():
        raise _Bad("'tool' must be the tool's name (non-empty text)", "tool")
    if len(tool) > 200:
        raise _Bad("'tool' must be at most 200 characters", "tool")
    arguments = doc.get("arguments")
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise _Bad("'arguments' must be an object of argument names to values", "arguments")
    context = doc.get("context")
    if context is None:
        context = {}
    if not isinstance(context, dict):
        raise _Bad("'context' must be an object", "context")
    for name, header in (("user", "x-alignkit-user"), ("session", "x-alignkit-session")):
        if name not in context and headers.get(header):
            context[name] = headers.get(header)
    return tool.strip(), arguments, context


def add_governance_routes(app: FastAPI, state: Any) -> None:
    """Add the action, approval and page routes to ``app`` (``state`` is the server's)."""
    from alignkit.guard._server import _error, _json

    bind_route_types(globals())

    guard = state.guard

    @app.post("/v1/actions/check", tags=["actions"])
    async def check(request: Request) -> Response:
        if (refused := log_unavailable(state)) is not None:  # the agent must not proceed
            return refused.response()
        try:
            tool, arguments, context = parse_check(await request.body(), request.headers)
        except _Bad as exc:
            state.metrics.error("bad_action")
            return _error(exc.status, str(exc), "invalid_request_error", param=exc.param)
        try:
            # in a thread: an escalation writes its approval, and the store may be locked
            result = await asyncio.to_thread(guard.check_action, tool, arguments, context)
        except StoreBusy:  # the escalation could not be queued: the agent must not proceed
            state.metrics.error("store_busy")
            return store_busy().response()
        except Exception as exc:  # a fault of ours: say so; the agent must not proceed
            _log.exception("tool-call check failed")
            state.metrics.error("internal")
            if guard.log is not None:
                guard.log.append({"kind": "fault", "error": repr(exc)[:500], "tool": tool[:200]})
            return _error(500, "internal guard error; the tool call was not checked (treat it "
                          "as blocked)", "server_error")  # fmt: skip
        state.metrics.observe_action(result)
        return _json(result.model_dump(mode="json"))

    @app.get("/v1/actions/approvals/{approval_id}", tags=["actions"])
    async def status(approval_id: str, request: Request) -> Response:
        raw = request.query_params.get("wait", "0")
        try:
            wait = float(raw)
        except ValueError:
            wait = -1.0
        if not 0 <= wait <= 3600 or wait != wait:
            return _error(400, "'wait' must be a number of seconds", "invalid_request_error",
                          param="wait")  # fmt: skip
        queue = guard.approvals
        if queue is None:
            return _error(404, "this server keeps no approval queue", "not_found")
        try:  # store calls off the loop: another process may hold the store's lock
            record = await asyncio.to_thread(queue.get, approval_id)
            if record.status == "pending" and wait > 0:  # ends at once if the server stops
                record = await queue.wait(approval_id, min(wait, MAX_WAIT_S))
        except StoreBusy:
            return store_busy().response()
        except StoreError:
            return _error(404, f"no approval '{approval_id[:80]}'", "not_found")
        return _json(check_of(record).model_dump(mode="json"))

    _add_admin(app, state)
    _add_page(app)


def _add_admin(app: FastAPI, state: Any) -> None:
    from alignkit.guard._server import _authorised as authorised
    from alignkit.guard._server import _error as error
    from alignkit.guard._server import _json as as_json

    guard = state.guard

    @app.get("/admin/approvals", tags=["admin"])
    async def approvals(request: Request) -> Response:
        denied = authorised(state, request)
        if denied:
            return denied
        status = request.query_params.get("status") or None
        if status not in (None, "all", "pending", "approved", "denied", "expired"):
            return error(400, "'status' must be pending, approved, denied, expired or all",
                         "invalid_request_error", param="status")  # fmt: skip
        try:
            limit = max(1, min(1000, int(request.query_params.get("limit", "100"))))
        except ValueError:
            return error(400, "'limit' must be a whole number", "invalid_request_error",
                         param="limit")  # fmt: skip
        queue = guard.approvals
        wanted = None if status == "all" else status
        try:
            rows = [] if queue is None else await asyncio.to_thread(queue.find, wanted, limit)
            # the page said 200 of 2,514
            total = 0 if queue is None else await asyncio.to_thread(queue.book.count, wanted)
        except StoreBusy:
            return store_busy().response()
        return as_json({"approvals": [r.to_dict() for r in rows], "total": total})

    async def decide(approval_id: str, request: Request, approve: bool) -> Response:
        denied = authorised(state, request)
        if denied:
            return denied
        try:
            doc = body_json(await request.body() or b"{}")
        except BodyError:
            doc = None
        if not isinstance(doc, dict) or not all(
            isinstance(doc.get(k, ""), str) for k in ("by", "note")
        ):
            return error(400, 'body must be {"by": "<name>", "note": "<text>"} (both optional)',
                         "invalid_request_error")  # fmt: skip
        by = (doc.get("by") or request.headers.get("x-alignkit-user") or "admin").strip()[:200]
        queue = guard.approvals
        if queue is None:
            return error(404, "this server keeps no approval queue", "not_found")
        try:
            changed, record = await asyncio.to_thread(
                queue.decide,
                approval_id, approve=approve, by=by or "admin", note=str(doc.get("note", ""))[:2000]
            )  # fmt: skip
        except StoreBusy:
            return store_busy().response()
        except StoreError:
            return error(404, f"no approval '{approval_id[:80]}'", "not_found")
        if not changed:
            when = record.decided_at.isoformat() if record.decided_at else "earlier"
            return error(
                409, f"approval {record.id} was already {record.status} (by {record.decided_by}, "
                f"{when})", "conflict", "already_decided",
            )  # fmt: skip
        return as_json(
            {"approval": record.to_dict(), "check": check_of(record).model_dump(mode="json")}
        )

    @app.post("/admin/approvals/{approval_id}/approve", tags=["admin"])
    async def approve(approval_id: str, request: Request) -> Response:
        return await decide(approval_id, request, True)

    @app.post("/admin/approvals/{approval_id}/deny", tags=["admin"])
    async def deny(approval_id: str, request: Request) -> Response:
        return await decide(approval_id, request, False)


def _add_page(app: FastAPI) -> None:
    from fastapi.responses import Response as Plain

    def serve_file(name: str, media: str) -> Any:
        body = (WEB / name).read_bytes()

        async def handler() -> Plain:
            return Plain(
                body,
                media_type=media,
                headers={
                    "Content-Security-Policy": _CSP,
                    "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer",
                    "Cache-Control": "no-store",
                },
            )

        return handler

    for route, (name, media) in _STATIC.items():
        app.get(route, include_in_schema=False)(serve_file(name, media))


def governance_metrics(guard: Any) -> list[str]:
    """``/metrics`` lines of the approval queue and the traffic monitor."""
    out: list[str] = []
    queue = guard.approvals
    if queue is not None:
        pending = queue.book.count("pending")
        out += [
            "# HELP alignkit_guard_approvals_pending Escalations waiting for a human.",
            "# TYPE alignkit_guard_approvals_pending gauge",
            f"alignkit_guard_approvals_pending {pending}",
            "# HELP alignkit_guard_approvals_total Escalations by outcome (this process).",
            "# TYPE alignkit_guard_approvals_total counter",
            f'alignkit_guard_approvals_total{{status="requested"}} {queue.requested}',
        ]
        out += [f'alignkit_guard_approvals_total{{status="{k}"}} {v}'
                for k, v in sorted(queue.decided.items())]  # fmt: skip
    if guard.traffic is not None:
        out += guard.traffic.render()
    return out
