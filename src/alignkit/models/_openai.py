"""The ``openai:`` adapter: any OpenAI-compatible chat-completions server.

``openai:http://127.0.0.1:8000/v1#my-model`` talks to vLLM, Ollama, a llama.cpp server,
alignkit's own server or a hosted API. One aiohttp session per model instance keeps a
pool of keep-alive connections (httpx's async client is several times slower on two
cores, see REFERENCES). Failed requests are retried with exponential backoff and jitter;
what still fails comes back as an ``error`` completion, a provider's content filter as
``blocked``, so neither is ever counted as model behaviour.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import random
import time
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp

from alignkit.core import (
    ChatModelBase,
    Completion,
    ConfigError,
    HttpConfig,
    Message,
    Outcome,
    TargetError,
    TokenLogprob,
    Usage,
    one_line,
)
from alignkit.models._uri import (
    ParsedURI,
    SpendMeter,
    TargetOptions,
    public_url,
    register_scheme,
    uri_secrets,
)

__all__ = ["OpenAIChatModel"]

_log = logging.getLogger(__name__)

PING_TIMEOUT_S = 3.0
_TOP_LOGPROBS = 5
_MAX_BACKOFF_S = 60.0
_BLOCK_WORDS = ("content_filter", "content_policy")


class _Retryable(Exception):
    """An attempt failed in a way that may succeed when repeated."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def _retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header value asks for (None when absent or a date)."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def completion_from_http(
    status: int, raw: bytes, retry_after: str | None, latency: float
) -> Completion:
    """The completion an HTTP answer stands for; raises :class:`_Retryable` for 429 and 5xx.

    ``retry_after`` is the answer's ``Retry-After`` header, if it had one.
    """
    if status == 200:
        return _parse_completion(raw, latency)
    error = _error_fields(raw)
    if status == 429 or status >= 500:
        raise _Retryable(f"HTTP {status}: {error['message']}", _retry_after(retry_after))
    if status == 400 and any(w in f"{error['code']} {error['type']}" for w in _BLOCK_WORDS):
        return Completion(
            outcome=Outcome.BLOCKED,
            error=f"blocked by provider: {error['message'] or error['code']}",
            latency_s=latency,
        )
    # 400, 413, 422: the endpoint refused this request (too long, a parameter it does not
    # take); 401/403/404 and the rest are the endpoint's or its configuration's fault
    invalid = status in (400, 413, 422)
    return Completion.failed(f"HTTP {status}: {error['message']}", latency, invalid=invalid)


class OpenAIChatModel(ChatModelBase):
    """A chat model behind an OpenAI-compatible ``/chat/completions`` endpoint.

    Args:
        base_url: The API root, e.g. ``http://127.0.0.1:8000/v1``.
        model: The model name sent in every request.
        http: Timeouts, retries, connection pool size and spend caps.
        api_key: Bearer token; when ``None`` it is read from ``http.api_key_env``
            (a missing key is fine: local servers need none).
        spend: What counts against the caps, shared with the run's other models
            (default: this model's own).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        http: HttpConfig | None = None,
        api_key: str | None = None,
        spend: SpendMeter | None = None,
    ) -> None:
        try:
            parts = urlsplit(base_url)
            parts.port  # noqa: B018 - raises on a port out of range
        except ValueError as exc:
            why = str(exc)
            if "could not be cast" in why:  # urllib quotes the "port": maybe part of a password
                why = "its port is not a number 0-65535 (percent-encode / ? # @ in a password)"
            raise ConfigError(f"openai: bad URL '{public_url(base_url)}': {why}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"openai: target needs an http(s) URL, got '{one_line(public_url(base_url))}'"
            )
        if not model:
            raise ConfigError(
                f"openai: target '{public_url(base_url)}' names no model; add '#model-name',"
                " e.g. openai:http://127.0.0.1:8000/v1#my-model"
            )
        self._base = base_url.rstrip("/")
        self._model = model
        self._http = http or HttpConfig()
        key = api_key if api_key is not None else os.environ.get(self._http.api_key_env)
        self._headers = {"Content-Type": "application/json"}
        if key and (parts.username or parts.password):  # aiohttp refused the pair: exit 3
            raise ConfigError(
                f"openai: '{public_url(base_url)}' carries credentials (user:password@) and an"
                f" API key is set (${self._http.api_key_env} or --api-key-env); give one of them"
            )
        if key:
            self._headers["Authorization"] = f"Bearer {key}"
        # an upstream may echo the credentials into an error body: never into our errors
        held = [*uri_secrets(f"openai:{base_url}#{model}"), *([key] if key else [])]
        self._secrets = sorted((x for x in set(held) if len(x) >= 6), key=len, reverse=True)
        parts = urlsplit(self._base)
        self._chat_url = urlunsplit(parts._replace(path=parts.path + "/chat/completions"))
        self._models_url = urlunsplit(parts._replace(path=parts.path + "/models"))
        super().__init__(
            f"openai:{public_url(self._base)}#{model}", capabilities=frozenset({"logprobs"})
        )
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None
        self._timeout = aiohttp.ClientTimeout(total=self._http.timeout_s)
        self._spend = spend if spend is not None else SpendMeter()
        self._usage_warned = False
        self._cap_warned = False
        self._jitter = random.Random()

    # ------------------------------------------------------------------ Target

    @property
    def model(self) -> str:
        """The model name sent with each request."""
        return self._model

    @property
    def requests_sent(self) -> int:
        """Requests admitted so far (retries count once), by all models sharing the meter."""
        return self._spend.requests

    @property
    def tokens_used(self) -> int:
        """Prompt plus completion tokens reported so far (to the shared spend meter)."""
        return self._spend.tokens

    # ------------------------------------------------------------------ session

    def _client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            connector = aiohttp.TCPConnector(
                limit=self._http.max_connections, keepalive_timeout=30.0, ttl_dns_cache=300
            )
            self._session = aiohttp.ClientSession(
                connector=connector, headers=self._headers, timeout=self._timeout
            )
            self._session_loop = loop
        return self._session

    async def aclose(self) -> None:
        """Close the HTTP session and its pooled connections."""
        session, self._session = self._session, None
        if session is None or session.closed:
            return
        if self._session_loop is asyncio.get_running_loop():
            await session.close()
        else:  # opened in an event loop that has finished; its sockets went with it
            _log.debug("%s: dropping a session opened in another event loop", self._uri)

    async def ping(self, timeout_s: float = PING_TIMEOUT_S) -> None:
        """Check that the server answers HTTP at all, within ``timeout_s`` seconds.

        The audit calls this before it starts so that a wrong address fails at once.

        Raises:
            TargetError: ``cannot reach <url>: <reason>`` when no HTTP answer arrives, or
                when the server rejects the API key (401/403).
        """
        where = public_url(self._base)
        reason = ""
        try:
            timeout = aiohttp.ClientTimeout(total=timeout_s)
            async with self._client().get(self._models_url, timeout=timeout) as resp:
                await resp.read()
                if resp.status in (401, 403):
                    reason = (
                        f"API key rejected (HTTP {resp.status}); check ${self._http.api_key_env}"
                    )
        except TimeoutError:
            reason = f"no answer within {timeout_s:g} s"
        except aiohttp.ClientError as exc:
            reason = self._scrub(one_line(exc))
        if reason:
            await self.aclose()
            raise TargetError(f"cannot reach {where}: {reason}")

    # ------------------------------------------------------------------ ChatModel

    async def generate(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 64,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
        logprobs: bool = False,
    ) -> Completion:
        """Send one chat request; failures come back as ``error``/``blocked`` completions."""
        reserve = _token_estimate(messages, max_tokens)
        while self._waits_for_flight(reserve):
            await asyncio.sleep(_SETTLE_POLL_S)
        capped = self._spend_cap_reason(reserve)
        if capped is not None:
            return Completion.failed(capped)
        spend = self._spend
        spend.requests += 1
        spend.reserved += reserve
        body: dict[str, Any] = {
            "model": self._model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "top_p": top_p,
        }
        if seed is not None:
            body["seed"] = seed
        if logprobs:
            body["logprobs"] = True
            body["top_logprobs"] = _TOP_LOGPROBS
        payload = json.dumps(body).encode()
        start = time.perf_counter()
        try:
            completion = await self._send_with_retries(payload, start)
        finally:
            spend.reserved -= reserve
        used = completion.usage.prompt_tokens + completion.usage.completion_tokens
        if completion.ok and used == 0 and self._http.max_tokens_total is not None:
            used = reserve  # the server reports no usage: count the most it could have cost
            if not self._usage_warned:
                self._usage_warned = True
                _log.warning(
                    "%s reports no token usage; max_tokens_total counts each request as its"
                    " prompt size plus max_tokens",
                    self._uri,
                )
        spend.tokens += used
        return completion

    def _waits_for_flight(self, reserve: int) -> bool:
        """Whether a request fits the token cap only once the requests in flight settle.

        Refused at once, it failed with "0 tokens used and 230 reserved" although what
        those requests really use (their answers, not their max_tokens) left room for it.
        """
        http, spend = self._http, self._spend
        cap = http.max_tokens_total
        return (
            cap is not None
            and spend.reserved > 0
            and spend.tokens + reserve <= cap < spend.tokens + spend.reserved + reserve
            and (http.max_requests is None or spend.requests < http.max_requests)
        )

    def _spend_cap_reason(self, reserve: int) -> str | None:
        """Why a request of at most ``reserve`` tokens may not be sent, or ``None``.

        The token cap is hard: a request is sent only if it fits beside what was used and
        what the requests in flight may still use, each counted as its prompt size plus
        ``max_tokens``.
        """
        http, spend = self._http, self._spend
        reason = None
        cap = http.max_tokens_total
        if http.max_requests is not None and spend.requests >= http.max_requests:
            reason = f"spend cap reached: {spend.requests} of max_requests={http.max_requests}"
        elif cap is not None and spend.tokens + spend.reserved + reserve > cap:
            held = f" and {spend.reserved} reserved in flight" if spend.reserved else ""
            reason = (
                f"spend cap reached: {spend.tokens} tokens used{held} of"
                f" max_tokens_total={cap}; the next request may use {reserve}"
            )
        if reason is not None and not self._cap_warned:
            self._cap_warned = True
            _log.warning("%s: %s; further requests are not sent", self._uri, reason)
        return reason

    async def _send_with_retries(self, payload: bytes, start: float) -> Completion:
        retries = self._http.max_retries
        reason = ""
        for attempt in range(retries + 1):
            try:
                done = await self._attempt(payload, start)
            except _Retryable as exc:
                reason = self._scrub(exc.reason)
                if attempt == retries:
                    break
                delay = self._http.backoff_s * (2**attempt) * (0.5 + self._jitter.random())
                if exc.retry_after is not None:
                    delay = max(delay, exc.retry_after)
                delay = min(delay, _MAX_BACKOFF_S)
                _log.debug("%s: %s; retry %d in %.2f s", self._uri, reason, attempt + 1, delay)
                await asyncio.sleep(delay)
            else:
                error = self._scrub(done.error) if done.error else done.error
                return done if error == done.error else done.model_copy(update={"error": error})
        tries = f" after {retries + 1} attempts" if retries else ""
        return Completion.failed(f"{reason}{tries}", latency_s=time.perf_counter() - start)

    def _scrub(self, text: str) -> str:
        """``text`` with this model's credentials shown as ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    async def _attempt(self, payload: bytes, start: float) -> Completion:
        """One HTTP exchange; raises :class:`_Retryable` for what is worth repeating."""
        try:
            async with self._client().post(self._chat_url, data=payload) as resp:
                raw = await resp.read()
                status = resp.status
                headers = resp.headers
        except TimeoutError:
            raise _Retryable(f"timeout after {self._http.timeout_s:g} s") from None
        except aiohttp.ClientError as exc:
            raise _Retryable(f"connection error: {one_line(exc)}") from None
        if status != 200 and self._secrets:  # before the error text is cut to 160 characters
            raw = self._scrub(raw.decode("utf-8", "replace")).encode()
        return completion_from_http(
            status, raw, headers.get("Retry-After"), time.perf_counter() - start
        )


def _error_fields(raw: bytes) -> dict[str, str]:
    """``message``, ``code`` and ``type`` from an OpenAI-style error body (best effort)."""
    fields = {"message": "", "code": "", "type": ""}
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: `{"error": [[[[…`
        fields["message"] = one_line(raw.decode("utf-8", "replace"), 160)
        return fields
    err = doc.get("error", doc) if isinstance(doc, dict) else doc
    if isinstance(err, dict):
        for name in fields:
            value = err.get(name)
            fields[name] = one_line(str(value), 160) if value is not None else ""
        inner = err.get("innererror")
        if isinstance(inner, dict) and inner.get("code"):
            fields["code"] += f" {inner['code']}"
    elif isinstance(err, str):
        fields["message"] = one_line(err, 160)
    return fields


_SETTLE_POLL_S = 0.005
"""How often a request waiting for the token cap's in-flight reservations looks again."""


def _token_estimate(messages: list[Message], max_tokens: int) -> int:
    """A generous bound on a request's tokens: half a token per prompt byte, plus max_tokens."""
    prompt = sum(len(str(m.get("content", "")).encode()) // 2 + 4 for m in messages)
    return prompt + max_tokens


def _parse_completion(raw: bytes, latency: float) -> Completion:
    try:
        doc = json.loads(raw)
        choice = doc["choices"][0]
        message = choice.get("message") or {}
        content = message.get("content")
        if isinstance(content, list):  # content parts: keep the text ones
            content = "".join(
                str(p.get("text", ""))
                for p in content
                if isinstance(p, dict) and p.get("type") == "text"
            )
        text = content or message.get("refusal") or ""
        finish = choice.get("finish_reason")
        usage_doc = doc.get("usage") or {}
        usage = Usage(
            prompt_tokens=_tokens(usage_doc.get("prompt_tokens")),
            completion_tokens=_tokens(usage_doc.get("completion_tokens")),
        )
        logprobs = _parse_logprobs(choice.get("logprobs"))
    except (
        ValueError,
        KeyError,
        IndexError,
        TypeError,
        AttributeError,
        OverflowError,
        RecursionError,
    ) as exc:  # 1e400 tokens, a body nested 100,000 deep
        return Completion.failed(
            f"malformed response: {type(exc).__name__}: {one_line(str(exc), 120)}",
            latency_s=latency,
        )
    if finish == "content_filter":
        return Completion(
            outcome=Outcome.BLOCKED,
            text=str(text),
            usage=usage,
            latency_s=latency,
            error="blocked by provider: finish_reason content_filter",
        )
    if content is None and not text:  # no message text at all is not an empty answer
        why = "a tool call" if message.get("tool_calls") else f"finish_reason {finish}"
        return Completion.failed(f"response has no message content ({why})", latency_s=latency)
    return Completion(
        outcome=Outcome.OK, text=str(text), usage=usage, latency_s=latency, logprobs=logprobs,
        truncated=finish == "length",
    )  # fmt: skip


def _tokens(value: Any) -> int:
    """A token count of a ``usage`` block; a negative one counts as 0.

    ``prompt_tokens: -1000000`` took a million tokens off ``--max-tokens-total``.
    """
    return max(0, int(value or 0))


LOGPROB_FLOOR = -1e4
"""Where ``-Infinity`` (log 0) is put: JSON has no infinities, and e⁻¹⁰⁰⁰⁰ is 0 as well."""


def _logprob(value: Any) -> float:
    """A log-probability: a number at most 0 (rounding above it up to 1e-3 is 0).

    NaN or a positive value is a malformed response (NaN became invalid JSON downstream
    and a calibration of 0.0); ``-Infinity`` is :data:`LOGPROB_FLOOR`.
    """
    x = float(value)
    if math.isnan(x) or x > 1e-3:
        raise ValueError(f"logprob {value!r} is not a log-probability")
    return min(max(x, LOGPROB_FLOOR), 0.0)


def _parse_logprobs(doc: Any) -> list[TokenLogprob] | None:
    if not isinstance(doc, dict) or not isinstance(doc.get("content"), list):
        return None
    out: list[TokenLogprob] = []
    for item in doc["content"]:
        top_items = item.get("top_logprobs") or []
        top = {str(t["token"]): _logprob(t["logprob"]) for t in top_items} or None
        out.append(
            TokenLogprob(token=str(item["token"]), logprob=_logprob(item["logprob"]), top=top)
        )
    return out


def _open(parsed: ParsedURI, options: TargetOptions) -> OpenAIChatModel:
    base = parsed.body
    if not base.startswith(("http://", "https://")):
        raise ConfigError(
            "openai: target needs an http(s) URL after 'openai:', got"
            f" '{one_line(public_url(base))}' (e.g. openai:http://127.0.0.1:8000/v1#my-model)"
        )
    if parsed.query:
        base = f"{base}?{urlencode(parsed.query)}"
    return OpenAIChatModel(
        base, parsed.fragment, http=options.http, api_key=options.api_key, spend=options.spend
    )


register_scheme("openai", _open, kind="chat", example="openai:http://127.0.0.1:8000/v1#my-model")
