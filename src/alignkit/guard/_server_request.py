"""What a chat completions request may hold: the body parsed and checked, field by field.

Anything the server cannot honour or would have to guess at is refused with a 400 that
names the field (OpenAI's ``param``): a wrong type, a value out of range, more choices
than one, a forced tool call, JSON mode, an image part no rail could read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from alignkit.core import Message
from alignkit.guard._body import BodyError, body_json
from alignkit.guard._offline import content_text

__all__ = ["MAX_BODY_BYTES", "MAX_ID_CHARS", "MAX_MESSAGES", "BadRequest", "parse_request"]

_ROLES = ("system", "user", "assistant")
_GEN = {"max_tokens": int, "temperature": float, "top_p": float, "seed": int,
        "max_completion_tokens": int}  # fmt: skip
_ALIASES = {"max_completion_tokens": "max_tokens"}
_RANGES = {
    "max_tokens": (1, 1_000_000),
    "max_completion_tokens": (1, 1_000_000),
    "temperature": (0.0, 2.0),
    "top_p": (0.0, 1.0),
    "seed": (-(2**63), 2**63 - 1),
}


class BadRequest(Exception):
    """A request refused before the guard saw it (``param`` names the field)."""

    def __init__(self, message: str, param: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.param = param
        self.status = status


MAX_BODY_BYTES = 8 * 1024 * 1024
"""Largest chat request body read (a 39 MB body held the event loop for 18 s)."""
MAX_MESSAGES = 2048
"""Most messages in one request (279,612 one-letter messages held the event loop for 5 s)."""
MAX_ID_CHARS = 256
"""Longest ``user``, ``session`` or ``model`` name (each is copied into every log entry)."""


def _content(raw: Any, i: int) -> str:
    text = content_text(raw)  # a string, or OpenAI content parts with their text joined
    if text is not None:
        return text
    if raw is None:
        return ""
    raise BadRequest(f"messages[{i}].content must be text or a list of text parts", "messages")


def parse_request(body: bytes, headers: Any, default_model: str) -> dict[str, Any]:
    """The request's fields as the server uses them; :class:`BadRequest` when refused."""
    try:
        doc = body_json(body)
    except BodyError as exc:
        raise BadRequest(str(exc)) from None
    if not isinstance(doc, dict):
        raise BadRequest("request body must be a JSON object")
    raw = doc.get("messages")
    if not isinstance(raw, list) or not raw:
        raise BadRequest("'messages' must be a non-empty list", "messages")
    if len(raw) > MAX_MESSAGES:
        raise BadRequest(f"'messages' holds more than {MAX_MESSAGES} messages", "messages")
    messages: list[Message] = []
    for i, m in enumerate(raw):
        role = m.get("role") if isinstance(m, dict) else None
        if role == "developer":
            role = "system"
        if role not in _ROLES:
            raise BadRequest(f"messages[{i}].role must be system, user or assistant", "messages")
        messages.append(cast(Message, {"role": role, "content": _content(m.get("content"), i)}))
    gen: dict[str, Any] = {}
    for name, kind in _GEN.items():  # each given one must be valid, aliases included
        value = doc.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BadRequest(f"'{name}' must be a number", name)
        if kind is int and isinstance(value, float) and not value.is_integer():  # 5.7 was 5
            raise BadRequest(f"'{name}' must be a whole number", name)
        low, high = _RANGES[name]
        if not low <= value <= high:
            raise BadRequest(f"'{name}' must be between {low:g} and {high:g}", name)
        gen.setdefault(_ALIASES.get(name, name), kind(value))  # max_tokens wins over its alias
    for name in ("stream", "logprobs"):  # "yes" was taken as true, "false" as true too
        if doc.get(name) is not None and not isinstance(doc.get(name), bool):
            raise BadRequest(f"'{name}' must be true or false", name)
    n = doc.get("n", 1)
    if n is not None and (isinstance(n, bool) or n != 1):  # answering one choice misleads
        raise BadRequest("'n' must be 1: this server returns one choice per request", "n")
    top = doc.get("top_logprobs")
    whole = (isinstance(top, int) and not isinstance(top, bool)) or (
        isinstance(top, float) and top.is_integer()
    )
    if top is not None and (not whole or not 0 <= top <= 20):
        raise BadRequest("'top_logprobs' must be a whole number from 0 to 20", "top_logprobs")
    if top and not doc.get("logprobs"):
        raise BadRequest("'top_logprobs' needs 'logprobs': true", "top_logprobs")
    if doc.get("logprobs"):
        if doc.get("stream"):
            raise BadRequest("'logprobs' is not supported with 'stream'", "logprobs")
        gen["logprobs"] = True  # passed to the target; answered when it gives them
    _unsupported(doc)
    model = doc.get("model") or default_model
    user = doc.get("user") or headers.get("x-alignkit-user")
    session = doc.get("session") or headers.get("x-alignkit-session")
    for name, value in (("model", model), ("user", user), ("session", session)):
        if value is not None and not isinstance(value, str):
            raise BadRequest(f"'{name}' must be text", name)
        if value is not None and len(value) > MAX_ID_CHARS:
            raise BadRequest(f"'{name}' is longer than {MAX_ID_CHARS} characters", name)
    stream_opts = doc.get("stream_options")
    stream_opts = {} if stream_opts is None else stream_opts
    if not isinstance(stream_opts, dict):
        raise BadRequest("'stream_options' must be an object", "stream_options")
    include_usage = stream_opts.get("include_usage") or False  # null: not asked for
    if not isinstance(include_usage, bool):
        raise BadRequest("'stream_options.include_usage' must be true or false", "stream_options")
    return {
        "messages": messages,
        "model": model,
        "user": user,
        "session": session,
        "stream": bool(doc.get("stream")),
        "include_usage": include_usage,
        "stop": _stop(doc.get("stop")),
        "top_logprobs": int(top or 0),
        "gen": gen,
    }


def _unsupported(doc: Mapping[str, Any]) -> None:
    """Refuse what the target cannot do rather than answer as if it had.

    Tools may be offered (the model may answer in text, as it could anyway), but a call
    cannot be forced, and JSON output cannot be promised.
    """
    tools = doc.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise BadRequest("'tools' must be a list", "tools")
    choice = doc.get("tool_choice")
    if choice is not None and choice not in ("none", "auto"):
        if not isinstance(choice, str | dict):
            raise BadRequest("'tool_choice' must be none, auto, required or an object",
                              "tool_choice")  # fmt: skip
        raise BadRequest("this server cannot force a tool call: 'tool_choice' must be none or"
                          " auto", "tool_choice")  # fmt: skip
    for name in ("presence_penalty", "frequency_penalty"):  # no target here applies them
        value = doc.get(name)
        if value is not None and (isinstance(value, bool) or value != 0):
            raise BadRequest(f"this server cannot apply '{name}': leave it out or 0", name)
    if doc.get("logit_bias"):
        raise BadRequest("this server cannot apply 'logit_bias': leave it out or empty",
                          "logit_bias")  # fmt: skip
    fmt = doc.get("response_format")
    if fmt is not None and fmt != {"type": "text"}:
        if not isinstance(fmt, dict):
            raise BadRequest("'response_format' must be an object", "response_format")
        raise BadRequest("this server answers in text only: 'response_format' must be"
                          " {\"type\": \"text\"}", "response_format")  # fmt: skip


def _stop(raw: Any) -> tuple[str, ...]:
    """OpenAI's ``stop``: a string or up to four; the answer ends before the first found."""
    if raw is None:
        return ()
    stops = [raw] if isinstance(raw, str) else raw
    if (
        not isinstance(stops, list)
        or len(stops) > 4
        or not all(isinstance(s, str) and s for s in stops)
    ):
        raise BadRequest("'stop' must be a non-empty string or a list of up to 4", "stop")
    return tuple(stops)
