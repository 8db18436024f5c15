"""``alignkit serve``: any target behind the guard, as an OpenAI-compatible HTTP API.

Routes: ``POST /v1/chat/completions`` (``stream: true`` too), ``GET /v1/models``,
``GET /healthz``, ``GET /metrics`` (Prometheus text), ``POST /v1/actions/check`` and
``GET /v1/actions/approvals/{id}`` (tool-call governance), ``GET /approvals`` (the
approvals page), and, behind ``Authorization: Bearer <admin token>``,
``GET /admin/breakers``, ``POST /admin/breakers/signal``, ``POST /admin/breakers/reset``,
``GET /admin/log/verify``, ``GET /admin/approvals`` and
``POST /admin/approvals/{id}/approve|deny`` (see :mod:`._server_governance`). The chat
route itself — the guard call, JSON and SSE answers — is :mod:`._server_chat`; its
request parsing is :mod:`._server_request`.

The server always runs the approval queue (in the store), so rails and tool-call rules
that escalate wait for a human, and feeds the traffic monitor from a background task.

The answer of a streamed request is produced and checked by every output rail *before*
the first event is sent (the buffered window is the whole answer, since a ChatModel
returns whole completions); a blocked answer streams only a refusal with
``finish_reason: content_filter``. Outcomes map to HTTP as follows: allowed → 200;
blocked by a rail → 200 with ``finish_reason: content_filter`` and a refusal text;
refused by an open breaker → 503 ``circuit_open`` with ``Retry-After``; upstream failure
→ 502 ``upstream_error``; bad request → 400. Every chat request, whatever its fate (a
malformed one included), appends one audit-log entry. FastAPI and uvicorn are imported
only here, when a server is built (``pip install 'alignkit[serve]'``).

Per request CPU is what bounds the server's throughput, so an ``openai:`` upstream at a
plain ``http://`` URL is called through a lean pooled client (:mod:`._upstream`), each
response leaves in one write (:mod:`._server_http`), and :func:`serve` freezes what it
built before serving out of the cyclic garbage collector's full collections.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import hmac
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alignkit.core import (
    ChatModel,
    ConfigError,
    HttpConfig,
    MissingDependencyError,
    StoreError,
    resolve_store_url,
)
from alignkit.guard._approvals import ApprovalQueue
from alignkit.guard._config import GuardConfig, load_guard_config
from alignkit.guard._guard import Guard
from alignkit.guard._metrics import Metrics
from alignkit.guard._server_admin import add_breaker_admin
from alignkit.guard._server_chat import CHAT_PATH, State, app_class, chat, settle
from alignkit.guard._server_chat import cut_off_before_grace_ends as cut_off
from alignkit.guard._server_governance import add_governance_routes, governance_metrics
from alignkit.guard._server_http import bind_route_types, http_protocol, server_class
from alignkit.models import public_uri, uri_secrets
from alignkit.models._uri import http_url
from alignkit.store import AuditLog

if TYPE_CHECKING:
    from fastapi import FastAPI, Request, Response

__all__ = ["GuardServer", "create_app", "serve"]

_log = logging.getLogger(__name__)
ADMIN_TOKEN_ENV = "ALIGNKIT_ADMIN_TOKEN"
SWITCH_INTERVAL_S = float(os.environ.get("ALIGNKIT_SWITCH_INTERVAL_S", "0.0005"))
SHUTDOWN_GRACE_S = 30
"""Seconds a stopping server waits for open requests (approval long polls end at once)."""


def _fastapi() -> Any:
    try:
        import fastapi
    except ImportError as exc:
        raise MissingDependencyError("fastapi", "serve") from exc
    bind_route_types(globals())
    return fastapi


def _json(doc: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    from fastapi import Response

    body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    # answers can hold agents' arguments: never cached, never sniffed as something else
    fixed = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    return Response(
        body, status_code=status, media_type="application/json", headers=fixed | (headers or {})
    )


def _error(
    status: int, message: str, type_: str, code: str | None = None, **extra: Any
) -> Response:
    doc = {"error": {"message": message, "type": type_, "param": extra.pop("param", None),
                     "code": code}}  # fmt: skip
    return _json(doc, status, extra.pop("headers", None))


def _authorised(state: State, request: Request) -> Response | None:
    if not state.admin_token:
        return _error(403, f"admin endpoints are disabled: set ${ADMIN_TOKEN_ENV}", "forbidden")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # the scheme is case-insensitive (RFC 9110); the token is compared in constant time
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.encode(), state.admin_token.encode()
    ):
        return _error(401, "admin endpoints need 'Authorization: Bearer <token>'",
                      "invalid_request_error", "invalid_api_key")  # fmt: skip
    return None


async def _housekeeping(guard: Guard, stop: asyncio.Event, every_s: float = 0.5) -> None:
    """Expire approvals whose time is up and feed the traffic monitor, off the request path.

    Ends when ``stop`` is set, after the round in progress: cancelled, a round's thread
    could go on to log an expiry into an audit log already closed.
    """
    while True:
        try:
            await asyncio.wait_for(stop.wait(), every_s)
            return
        except TimeoutError:
            pass
        settle(guard)
        try:
            if guard.approvals is not None:  # a write: waits for a store another process holds
                await asyncio.to_thread(guard.approvals.expire_due)
            if guard.traffic is not None:
                await asyncio.to_thread(guard.traffic.drain)
        except Exception as exc:  # kept going; the next round retries
            _log.warning("guard housekeeping failed, retrying: %s", exc)


LOG_FLUSH_INTERVAL_S = float(os.environ.get("ALIGNKIT_LOG_FLUSH_S", "0.02"))
"""How long an audit entry may wait before ``alignkit serve`` commits it."""


_RETRY_S = 0.5
"""How often a server retries an audit log it cannot write."""

_LOCK_WAIT_S = 2.0
"""How long a commit may wait for a store another process is writing before requests are
refused (the wait happens in a thread; the event loop never waits for the lock)."""


async def _flush_log(log: AuditLog, guard: Guard) -> None:
    """Commit the audit log from the event loop whenever it is due (see AuditLog).

    The commit on the loop takes the store's write lock only if it is free; when another
    process holds it, a thread waits for it, and past :data:`_LOCK_WAIT_S` the log is
    failing: chat and tool-call checks are refused until a retry (off the loop) succeeds.
    """
    while True:
        await asyncio.sleep(log.flush_interval_s / 2)
        settle(guard)  # normally done after each answer; this catches any left behind
        if log.failing:  # kept buffered; meanwhile chat and tool-call checks are refused
            await asyncio.sleep(_RETRY_S)
            await asyncio.to_thread(log.try_flush, _RETRY_S)
        elif log.due and log.try_flush(0.0, busy_fails=False) is None:
            await asyncio.to_thread(log.try_flush, _LOCK_WAIT_S)


_CHAT_SCHEMA = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"type": "object", "required": ["messages"], "properties": {
        "model": {"type": "string"}, "stream": {"type": "boolean"},
        "stop": {"oneOf": [{"type": "string"}, {"type": "array", "maxItems": 4,
                                                "items": {"type": "string"}}]},
        "messages": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["role", "content"], "properties": {
                "role": {"type": "string", "enum": ["system", "user", "assistant"]},
                "content": {"type": "string"}}}}}}}}}}  # fmt: skip
"""The chat route's request body, as documented in the OpenAPI schema."""


def _add_public(app: FastAPI, state: State) -> None:
    from fastapi.responses import PlainTextResponse

    # The hot path is answered by the application itself before any middleware or
    # routing (see app_class); this route documents it and serves a mounted app.
    @app.post(CHAT_PATH, openapi_extra=_CHAT_SCHEMA)
    async def chat_route(request: Request) -> Response:
        response = (await chat(state, request)).response()
        settle(state.guard)
        return response

    @app.get("/v1/models")
    async def models() -> Response:
        entry = {"id": state.target, "object": "model", "created": 0, "owned_by": "alignkit"}
        return _json({"object": "list", "data": [entry]})

    @app.get("/healthz")
    async def healthz() -> Response:
        if state.log is not None and state.log.failing is not None:  # it answers nothing
            doc = {"status": "audit_log_unavailable", "target": state.target}
            return _json(doc, status=503)
        return _json({"status": "ok", "target": state.target})

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics() -> Response:
        log = state.log
        stats = {"written": 0, "pending": 0, "failures": 0}
        if log is not None:
            stats = {"written": log.written, "pending": log.pending, "failures": log.failures}
        extra = governance_metrics(state.guard)
        text = state.metrics.render(state.guard.breakers, stats, state.guard.over_budget, extra)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")


@functools.cache
def _app_class() -> Any:
    return app_class(_fastapi().FastAPI)


def create_app(
    model: ChatModel,
    guard: Guard,
    *,
    target: str | None = None,
    admin_token: str | None = None,
    log: Any = None,
) -> FastAPI:
    """The FastAPI application serving ``model`` behind ``guard``.

    Args:
        model: The chat model every request goes to, whatever ``model`` name it gives.
        guard: The guard (its ``log`` receives the audit entries).
        target: The id listed by ``/v1/models`` (default: ``model.uri``).
        admin_token: Bearer token of the admin endpoints (``None``: they answer 403).
        log: The store's ``AuditLog`` behind ``guard.log``, for ``/admin/log/verify``,
            ``/metrics`` and closing at shutdown.
    """
    # shown to every client (/v1/models, /healthz): never the upstream's credentials
    state = State(guard, model, public_uri(target or model.uri), Metrics(), admin_token, log)
    guard.model = model

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        flusher = asyncio.create_task(_flush_log(log, guard)) if log is not None else None
        stopping = asyncio.Event()
        keeper = asyncio.create_task(_housekeeping(guard, stopping))
        cutter = asyncio.create_task(cut_off(state, SHUTDOWN_GRACE_S))
        yield
        stopping.set()
        cutter.cancel()
        await keeper
        if flusher is not None:
            flusher.cancel()
        settle(guard)
        if guard.traffic is not None:
            guard.traffic.close()
        await guard.aclose()
        await model.aclose()
        if log is not None:
            try:
                log.close()
            except StoreError as exc:  # one line, not a traceback from the lifespan
                _log.error("audit log: %d entries could not be written: %s", log.pending, exc)

    app: FastAPI = _app_class()(title="alignkit guard", version="1", lifespan=lifespan)
    app.guard_state = state  # type: ignore[attr-defined]
    guard.defer_records = True  # settled after each answer is sent (see _server_chat)
    _add_public(app, state)
    add_breaker_admin(app, state)
    add_governance_routes(app, state)
    _openai_errors(app)
    return app


def _stop_waiters_with(app: Any, guard: Guard, server: Any) -> None:
    """Approval waits (long polls, escalated chats) end when ``server`` starts stopping.

    They would otherwise hold the shutdown for the whole grace period; a pending approval
    that stops waiting is a denial. Chat requests still waiting on the model near the
    grace's end are answered 503 (``cut_off_before_grace_ends``).
    """
    app.guard_state.stopping = lambda: bool(server.should_exit)
    app.guard_state.hurry = lambda: bool(getattr(server, "hurry", False))
    if guard.approvals is not None:
        guard.approvals.stopping = lambda: bool(server.should_exit)


def _openai_errors(app: FastAPI) -> None:
    """Unknown paths and methods under ``/v1/`` answer in OpenAI's error shape.

    FastAPI's ``{"detail": ...}`` left the official clients with "Error code: 404" and
    nothing else.
    """
    from fastapi.exception_handlers import http_exception_handler
    from starlette.exceptions import HTTPException

    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if not request.url.path.startswith("/v1/"):
            return await http_exception_handler(request, exc)
        what = f"{request.method} {request.url.path}"
        known = {404: ("no such endpoint", "not_found"),
                 405: ("method not allowed", "method_not_allowed")}  # fmt: skip
        words, code = known.get(exc.status_code, (str(exc.detail), None))
        message = f"{words}: {what}" if code else words
        return _error(exc.status_code, message, "invalid_request_error", code,
                      headers=dict(exc.headers or {}))  # fmt: skip

    app.add_exception_handler(HTTPException, handler)


def _open(
    target_uri: str,
    guard_path: str | Path | GuardConfig | dict[str, Any] | None,
    store_url: str | None,
    http: HttpConfig | None,
    log_key: bytes | None,
) -> tuple[ChatModel, Guard, Any, Any]:
    from alignkit.guard._upstream import pooled
    from alignkit.models import TargetOptions, connect
    from alignkit.store import Store

    config = load_guard_config(guard_path)  # a bad config fails before anything opens
    model = pooled(connect(target_uri, TargetOptions(http=http or HttpConfig(max_retries=1))))
    # and so does a bad rail option (rails are built here); an upstream that echoes the
    # URI's password or the API key into an error must not put it in the log or the reply
    key = os.environ.get((http or HttpConfig()).api_key_env, "")
    secrets = [*uri_secrets(target_uri), *([key] if len(key) >= 6 else [])]
    guard = Guard(config, model=model, secrets=secrets)
    store = Store.open(resolve_store_url(store_url))
    if log_key is None and os.environ.get("ALIGNKIT_GUARD_LOG_KEY"):
        log_key = os.environ["ALIGNKIT_GUARD_LOG_KEY"].encode()
    # Committed from the event loop (no GIL contention with a writer thread) in small
    # batches: a commit holds the loop for ~0.4 ms plus ~18 us per entry, so at 20 ms
    # no request waits long behind one.
    log = store.audit_log(
        key=log_key, background=False, flush_interval_s=LOG_FLUSH_INTERVAL_S, flush_every=1024
    )
    try:
        log.check_writable()  # a server that cannot log must not answer
        try:  # a commit that also checkpointed the WAL held the loop 10+ ms, once a second
            store.checkpoint_in_background()
        except StoreError as exc:  # commits go on checkpointing: slower, still correct
            _log.warning("WAL checkpoints stay in the commits: %s", exc)
        queue = ApprovalQueue.from_store(
            store,
            timeout_s=config.approvals.timeout_s,
            chat_timeout_s=config.approvals.chat_timeout_s,
        )
        guard.attach(log, queue)
        if guard.traffic is not None:  # fed from the server's background task
            guard.traffic.auto_drain = False
            guard.traffic.attach(store.traffic())
            if config.traffic.process:
                guard.traffic.use_process()
    except BaseException:
        store.close()
        raise
    return model, guard, log, store


def _uvicorn() -> Any:
    try:
        import uvicorn
    except ImportError as exc:
        raise MissingDependencyError("uvicorn", "serve") from exc
    return uvicorn


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``.

    Raises:
        ConfigError: The port is out of range, in use or not allowed, or the host is
            unknown (one line).
    """
    if not 0 <= port <= 65535:
        raise ConfigError(f"port {port} is out of range (0-65535)")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot bind {host}:{port}: unknown host ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot bind {host}:{port}: {exc.strerror or exc}") from None
    return sock


def serve(
    target_uri: str,
    guard_path: str | Path | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    store_url: str | None = None,
    *,
    admin_token: str | None = None,
    http: HttpConfig | None = None,
    log_key: bytes | None = None,
    listening: Callable[[str], None] | None = None,
) -> None:
    """Serve ``target_uri`` behind the guard until interrupted (``alignkit serve``).

    Args:
        target_uri: Any chat target URI (``organism:flawed``, ``openai:URL#model``, ...).
        guard_path: Guard config YAML (default: the shipped ``guard.yaml``).
        host: Interface to bind.
        port: Port to bind.
        store_url: Store for the audit log (default: ``$ALIGNKIT_STORE`` or the default).
        admin_token: Admin bearer token (default: ``$ALIGNKIT_ADMIN_TOKEN``).
        http: How to talk to an ``openai:`` upstream (default: one retry).
        log_key: HMAC key for the audit chain (default: ``$ALIGNKIT_GUARD_LOG_KEY``).
        listening: Called with the base URL (``http://host:port/v1``) once the port is
            bound, before the first request is served.

    Raises:
        ConfigError: bad target URI or guard config (before anything is bound), or a
            port that cannot be bound.
        MissingDependencyError: fastapi or uvicorn is not installed.
    """
    uvicorn = _uvicorn()
    _fastapi()
    model, guard, log, store = _open(target_uri, guard_path, store_url, http, log_key)
    token = admin_token or os.environ.get(ADMIN_TOKEN_ENV) or None
    sock: socket.socket | None = None
    try:
        sock = bind(host, port)
        if listening is not None:
            bound_host, bound_port = sock.getsockname()[:2]
            listening(http_url(bound_host, bound_port))
        app = create_app(model, guard, target=target_uri, admin_token=token, log=log)
        # Everything built so far lives as long as the server: move it out of the cyclic
        # collector's view, so that its full collections under load scan only what
        # requests allocate (else each one walks every module, rail and model object).
        gc.collect()
        gc.freeze()
        # The traffic feed's drain runs in a worker thread; with the default 5 ms GIL
        # switch interval a request arriving during a drain could wait that long for the
        # event loop to run again.
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, http=http_protocol(), lifespan="on",
            timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        )  # fmt: skip
        server = server_class(uvicorn)(config)
        _stop_waiters_with(app, guard, server)
        server.run(sockets=[sock])
    finally:
        if guard.traffic is not None:  # the app's shutdown does this, if it started
            guard.traffic.close()
        if sock is not None:
            sock.close()
        store.close()


class GuardServer:
    """``alignkit serve`` in a background thread, for tests, benchmarks and embedding.

    Example::

        with GuardServer("openai:http://127.0.0.1:9000/v1#stub", store_url=url) as srv:
            client = openai.OpenAI(base_url=srv.url, api_key="x")

    ``loop`` is uvicorn's event-loop choice (``auto``: uvloop when it is installed).
    """

    def __init__(
        self,
        target_uri: str,
        guard_path: str | Path | GuardConfig | dict[str, Any] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        store_url: str | None = None,
        admin_token: str | None = None,
        http: HttpConfig | None = None,
        log_key: bytes | None = None,
        loop: str = "auto",
    ) -> None:
        self._uvicorn = _uvicorn()
        _fastapi()
        self.model, self.guard, self.log, self._store = _open(
            target_uri, guard_path, store_url, http, log_key
        )
        token = admin_token or os.environ.get(ADMIN_TOKEN_ENV) or None  # as serve() reads it
        self.app = create_app(
            self.model, self.guard, target=target_uri, admin_token=token, log=self.log
        )
        self._config = self._uvicorn.Config(
            self.app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            http=http_protocol(),
            loop=loop,
            timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        )
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def start(self, timeout_s: float = 20.0) -> str:
        """Start serving; returns the base URL (``http://host:port/v1``)."""
        self._server = server_class(self._uvicorn)(self._config)
        _stop_waiters_with(self.app, self.guard, self._server)
        self._server.install_signal_handlers = lambda: None  # not the main thread
        self._thread = threading.Thread(target=self._server.run, name="alignkit-serve", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ConfigError("alignkit serve did not start (port in use?)")
            time.sleep(0.01)
        sock = self._server.servers[0].sockets[0]
        host, port = sock.getsockname()[:2]
        self.url = http_url(host, port)
        return self.url

    def stop(self) -> None:
        """Stop serving, commit the audit log, close the store."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=SHUTDOWN_GRACE_S + 15)  # the grace, then the shutdown
        self._store.close()

    def __enter__(self) -> GuardServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
