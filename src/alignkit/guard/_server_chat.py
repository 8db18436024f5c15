"""The chat completions route of ``alignkit serve``: parse, guard, answer (JSON or SSE).

:func:`chat` turns one request into a :class:`Reply` — whatever happens, it answers and
never raises for anything the client sent. The server answers this route from its ASGI
entry point, ahead of FastAPI's middleware and router (:func:`app_class`): those layers
cost more CPU per request than the rule tier, and the route needs none of them. The
FastAPI route stays, for the OpenAPI schema and for an app mounted under a prefix.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from alignkit.core import ChatModel, Decoding, Outcome
from alignkit.guard._guard import PROVIDER_RAIL, Guard, new_request_id
from alignkit.guard._metrics import Metrics
from alignkit.guard._result import GuardResult
from alignkit.guard._server_request import MAX_BODY_BYTES, BadRequest, parse_request
from alignkit.store import StoreBusy

if TYPE_CHECKING:
    from fastapi import Response

__all__ = [
    "CHAT_PATH",
    "ChatRequest",
    "RawRequest",
    "Reply",
    "State",
    "app_class",
    "chat",
    "log_unavailable",
    "store_busy",
    "settle",
]

_log = logging.getLogger(__name__)
CHAT_PATH = "/v1/chat/completions"
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def _until_stop(text: str, stops: tuple[str, ...]) -> str:
    """``text`` up to the first stop sequence (the sequence itself is not returned)."""
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=len(text))
    return text[:cut]


CUT_OFF_SHARE = 0.8
"""Share of the shutdown grace after which in-flight chat requests are answered 503."""


@dataclass
class State:
    """What the server's routes share."""

    guard: Guard
    model: ChatModel
    target: str
    metrics: Metrics
    admin_token: str | None
    log: Any
    stopping: Callable[[], bool] = lambda: False
    """Whether the server has begun to stop (set once uvicorn's server exists)."""
    hurry: Callable[[], bool] = lambda: False
    """Whether a second Ctrl-C asked to end the grace now."""
    inflight: set[asyncio.Task[Any]] = field(default_factory=set)
    cut_off: bool = False
    """Set when the shutdown grace is nearly spent: in-flight requests are answered 503."""


async def cut_off_before_grace_ends(state: State, grace_s: float) -> None:
    """Once the server stops, answer the requests still waiting on the model in time.

    At the grace's end uvicorn cancels them, with a traceback, a plain-text 500 and no
    log entry. A second Ctrl-C (``state.hurry``) ends the wait at once.
    """
    while not state.stopping():
        await asyncio.sleep(0.25)
    loop = asyncio.get_running_loop()
    end = loop.time() + grace_s * CUT_OFF_SHARE
    while loop.time() < end and not state.hurry():
        await asyncio.sleep(0.05)
    state.cut_off = True
    for task in list(state.inflight):
        task.cancel()


@dataclass(frozen=True)
class Reply:
    """One answer: a JSON body, or server-sent events (``events``)."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    events: AsyncIterator[bytes] | None = None

    @classmethod
    def json(cls, doc: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Reply:
        """``doc`` as compact UTF-8 JSON."""
        body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
        return cls(status, body, headers or {})

    @classmethod
    def error(
        cls, status: int, message: str, type_: str, code: str | None = None, **extra: Any
    ) -> Reply:
        """An OpenAI-style error (``param`` and ``headers`` may be given)."""
        doc = {"error": {"message": message, "type": type_, "param": extra.pop("param", None),
                         "code": code}}  # fmt: skip
        return cls.json(doc, status, extra.pop("headers", None))

    @property
    def media_type(self) -> str:
        """The Content-Type (as Starlette would write it)."""
        return "text/event-stream; charset=utf-8" if self.events else "application/json"

    def response(self) -> Response:
        """The reply as a Starlette response (for the FastAPI route)."""
        from fastapi.responses import Response, StreamingResponse

        if self.events is not None:
            return StreamingResponse(self.events, self.status, dict(self.headers),
                                     media_type=self.media_type)  # fmt: skip
        return Response(self.body, self.status, dict(self.headers), media_type=self.media_type)

    async def send(self, send: Send) -> None:
        """Send the reply over raw ASGI."""
        raw = [(b"content-type", self.media_type.encode())]
        raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()]
        if self.events is None:
            raw.append((b"content-length", str(len(self.body)).encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": raw})
        if self.events is not None:
            async for chunk in self.events:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": self.body})


def _refusal_text(result: GuardResult) -> str:
    if result.rail == PROVIDER_RAIL:
        return f"This request was blocked by the model's provider ({result.reason})."
    return f"This request was blocked by the alignkit guard ({result.rail}: {result.reason})."


def _completion_doc(req: dict[str, Any], result: GuardResult) -> dict[str, Any]:
    blocked = result.outcome is Outcome.BLOCKED
    text = _refusal_text(result) if blocked else _until_stop(result.text or "", req["stop"])
    usage = result.completion.usage if result.completion is not None else None
    prompt_t = usage.prompt_tokens if usage else 0
    completion_t = usage.completion_tokens if usage and not blocked else 0
    return {
        "id": f"chatcmpl-{result.request_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": req["model"],
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": text,
                    "refusal": _refusal_text(result) if blocked else None,
                },
                "finish_reason": _finish_reason(result, text, blocked),
                "logprobs": _logprobs_doc(req, result) if text == (result.text or "") else None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_t,
            "completion_tokens": completion_t,
            "total_tokens": prompt_t + completion_t,
        },
        "alignkit": {  # the guard decision of DESIGN §4, for the whole request
            "request_id": result.request_id,
            "decision": result.decision.value,
            "rail": result.rail,
            "reason": result.reason,
            "latency_ms": round(sum(d.latency_ms for d in [*result.input, *result.output]), 3),
        },
    }


def _finish_reason(result: GuardResult, text: str, blocked: bool) -> str:
    """``content_filter``, ``length`` (cut at ``max_tokens`` and not at a stop) or ``stop``."""
    if blocked:
        return "content_filter"
    done = result.completion
    cut = done is not None and done.truncated and text == (result.text or "")
    return "length" if cut else "stop"


def _logprobs_doc(req: dict[str, Any], result: GuardResult) -> dict[str, Any] | None:
    """The target's token logprobs, when asked for and the answer went out as generated.

    A blocked or rail-modified answer gets none: they would describe text the client
    does not see.
    """
    done = result.completion
    if not req["gen"].get("logprobs") or done is None or done.logprobs is None:
        return None
    if result.outcome is Outcome.BLOCKED or result.text != done.text:
        return None
    top = req["top_logprobs"]  # as many as asked for, up to what the target gave (5)

    def best(alternatives: dict[str, float] | None) -> list[dict[str, Any]]:
        ranked = sorted((alternatives or {}).items(), key=lambda kv: -kv[1])[:top]
        return [{"token": k, "logprob": v} for k, v in ranked]

    return {
        "content": [
            {"token": t.token, "logprob": t.logprob, "top_logprobs": best(t.top)}
            for t in done.logprobs
        ]
    }


def _chunks(text: str, size: int = 16) -> list[str]:
    words = text.split(" ")
    return [" ".join(words[i : i + size]) + (" " if i + size < len(words) else "")
            for i in range(0, len(words), size)] or [""]  # fmt: skip


async def _sse(req: dict[str, Any], result: GuardResult) -> AsyncIterator[bytes]:
    doc = _completion_doc(req, result)
    choice = doc["choices"][0]
    base = {"id": doc["id"], "object": "chat.completion.chunk", "created": doc["created"],
            "model": doc["model"]}  # fmt: skip

    def event(delta: dict[str, Any], finish: str | None) -> bytes:
        chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish,
                                      "logprobs": None}]}  # fmt: skip
        return b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\n"

    yield event({"role": "assistant", "content": ""}, None)
    for piece in _chunks(choice["message"]["content"] or ""):
        yield event({"content": piece}, None)
    yield event({}, choice["finish_reason"])
    if req["include_usage"]:
        usage_chunk = {**base, "choices": [], "usage": doc["usage"]}
        yield b"data: " + json.dumps(usage_chunk).encode() + b"\n\n"
    yield b"data: [DONE]\n\n"


async def _body(request: ChatRequest) -> bytes:
    """The request body; a client gone before sending all of it is a bad request."""
    from starlette.requests import ClientDisconnect

    try:
        return await request.body()
    except ClientDisconnect:
        raise BadRequest("the client disconnected before sending the whole body") from None


class ChatRequest(Protocol):
    """What :func:`chat` needs of a request (a Starlette one, or a :class:`RawRequest`)."""

    @property
    def headers(self) -> Mapping[str, str]:
        """Request headers (lower-case names)."""
        ...

    async def body(self) -> bytes:
        """The whole request body."""
        ...


def store_busy() -> Reply:
    """503: the store stayed locked by another process for all of its busy timeout."""
    return Reply.error(503, "the store is busy (another process holds its lock); retry",
                       "server_error", "store_busy", headers={"Retry-After": "1"})  # fmt: skip


def log_unavailable(state: State) -> Reply | None:
    """A 503 while the audit log cannot be written: nothing is answered off the record."""
    log = state.log
    if log is None or log.failing is None:
        return None
    state.metrics.error("audit_log")
    return Reply.error(
        503,
        # the reason (a store path or database host, a driver error) stays in the server's log
        "the audit log cannot be written, so requests are refused until it can",
        "server_error",
        "audit_log_unavailable",
        headers={"Retry-After": "1"},
    )


async def chat(state: State, request: ChatRequest) -> Reply:
    """Answer one chat completions request; never raises for anything the client sent."""
    start = time.perf_counter()
    if (refused := log_unavailable(state)) is not None:
        return refused
    try:
        req = parse_request(await _body(request), request.headers, state.target)
    except BadRequest as exc:
        state.metrics.error("bad_request")
        if state.guard.log is not None:  # refused before the guard: still on the record
            state.guard.log.append(
                {"kind": "bad_request", "request_id": new_request_id(), "error": str(exc)}
            )
        return Reply.error(exc.status, str(exc), "invalid_request_error", param=exc.param)
    rid = new_request_id()
    task = asyncio.current_task()
    if task is not None:
        state.inflight.add(task)
    try:
        result = await state.guard.run(
            req["messages"],
            model_name=req["model"],
            user=req["user"],
            session=req["session"],
            request_id=rid,
            **_with_defaults(req["gen"], state.model.default_decoding),
        )
    except asyncio.CancelledError:
        if not state.cut_off or task is None:
            raise
        task.uncancel()  # our own cut-off: answer, and keep the request on the record
        state.metrics.error("stopped")
        if state.guard.log is not None:
            stopped = "the server stopped before the model answered"
            state.guard.log.append({"kind": "fault", "request_id": rid, "error": stopped})
        return Reply.error(
            503, "the server is stopping; the request was not answered", "server_error",
            "server_stopping", headers={"Retry-After": "1"},
        )  # fmt: skip
    except StoreBusy:  # an escalation could not be queued: another process holds the store
        state.metrics.error("store_busy")
        return store_busy()
    except Exception as exc:  # a fault of ours: answer clearly, keep the log whole
        _log.exception("guard failed on request %s", rid)
        state.metrics.error("internal")
        if state.guard.log is not None:
            state.guard.log.append({"kind": "fault", "request_id": rid, "error": repr(exc)[:500]})
        return Reply.error(
            500, "internal guard error; the request was not answered", "server_error"
        )
    finally:
        state.inflight.discard(task)
    state.metrics.observe(result, time.perf_counter() - start)
    headers = {"x-alignkit-request-id": rid}
    if result.rail == "circuit-breaker":
        wait = result.retry_after_s
        retry = str(max(1, math.ceil(wait if wait is not None else 1.0)))
        # x-should-retry: the official clients would otherwise wait and resend on their own,
        # turning a safety refusal into a silent stall; Retry-After stays for the caller
        return Reply.error(
            503, result.reason, "circuit_breaker_error", "circuit_open",
            headers={**headers, "Retry-After": retry, "x-should-retry": "false"},
        )  # fmt: skip
    if result.outcome is Outcome.ERROR and result.completion is not None:
        if result.completion.invalid:  # the target refused this request: the client's fault
            return Reply.error(
                400, f"the model cannot take this request: {result.error}",
                "invalid_request_error", "invalid_request", headers=headers,
            )  # fmt: skip
    if result.outcome is Outcome.ERROR:
        code = "upstream_timeout" if "timeout" in result.error.lower() else "upstream_error"
        return Reply.error(
            502, f"upstream model failed: {result.error}", "upstream_error", code, headers=headers
        )
    if req["stream"]:
        return Reply(200, headers=headers, events=_sse(req, result))
    return Reply.json(_completion_doc(req, result), 200, headers)


def _with_defaults(gen: dict[str, Any], default: Decoding | None) -> dict[str, Any]:
    """The request's decoding, completed from the target's own default decoding.

    Where the target names one (an organism's measured decoding, a checkpoint sidecar's).
    """
    if default is None:
        return gen
    own = {"temperature": default.temperature, "top_p": default.top_p,
           "max_tokens": default.max_tokens}  # fmt: skip
    return {**own, **gen}


class RawRequest:
    """What :func:`chat` reads of a request (body, headers), straight from ASGI."""

    def __init__(self, scope: Mapping[str, Any], receive: Receive) -> None:
        self.headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            self.headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
        self._receive = receive

    async def body(self) -> bytes:
        """The whole request body."""
        chunks = []
        size = 0
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                from starlette.requests import ClientDisconnect

                raise ClientDisconnect()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise BadRequest(
                    f"request body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB",
                    status=413,
                )
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def settle(guard: Guard) -> None:
    """Write what the guard held back (see ``Guard.defer_records``); log, never raise."""
    try:
        guard.settle()
    except Exception:  # e.g. the store is already closed: the entry cannot be kept
        _log.exception("cannot write a finished request's audit entry")


def app_class(base: type[Any]) -> type[Any]:
    """A subclass of FastAPI ``base`` answering chat completions before its middleware.

    Its instances serve :func:`chat` for ``POST /v1/chat/completions`` once
    ``guard_state`` is set, and hand every other request to FastAPI.
    """

    class GuardApp(base):  # type: ignore[misc]
        guard_state: State | None = None

        async def __call__(
            self, scope: MutableMapping[str, Any], receive: Receive, send: Send
        ) -> None:
            state = self.guard_state
            if (
                state is not None
                and scope["type"] == "http"
                and scope["path"] == CHAT_PATH
                and scope["method"] == "POST"
            ):
                reply = await chat(state, RawRequest(scope, receive))
                try:
                    await reply.send(send)
                finally:
                    settle(state.guard)
                return
            await super().__call__(scope, receive, send)

    return GuardApp
