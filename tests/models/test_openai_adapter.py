"""The openai: adapter against the in-process stub server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Iterator

import pytest

from alignkit.core import ConfigError, HttpConfig, Message, Outcome, TargetError
from alignkit.models import TargetOptions, connect, generate_batch
from alignkit.models._openai import OpenAIChatModel
from alignkit.models.stub import StubServer

pytestmark = pytest.mark.anyio

HI: list[Message] = [{"role": "user", "content": "a b c"}]


def _model(url: str, **http: object) -> OpenAIChatModel:
    opts = TargetOptions(http=HttpConfig.model_validate(http))
    model = connect(f"openai:{url}#stub-model", opts)
    assert isinstance(model, OpenAIChatModel)
    return model


@contextlib.contextmanager
def _dead_port() -> Iterator[int]:
    """A port nothing answers on: bound (so no other test can take it) but not listening."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


async def test_ok_completion_has_text_usage_latency() -> None:
    async with StubServer(latency=0.02) as s:
        model = _model(s.url)
        c = await model.generate(HI)
        await model.aclose()
    assert c.outcome is Outcome.OK and c.ok
    assert c.text == "echo: a b c"
    assert (c.usage.prompt_tokens, c.usage.completion_tokens) == (3, 4)
    assert 0.02 <= c.latency_s < 2.0
    assert c.logprobs is None


async def test_decoding_parameters_are_sent() -> None:
    async with StubServer(latency=0) as s:
        model = _model(s.url)
        await model.generate(HI, max_tokens=7, temperature=0.7, top_p=0.9, seed=42)
        body = s.last_request
        await model.generate(HI)
        body_default = s.last_request
        await model.aclose()
    assert body is not None and body_default is not None
    assert body["model"] == "stub-model"
    assert (body["max_tokens"], body["temperature"], body["top_p"], body["seed"]) == (
        7,
        0.7,
        0.9,
        42,
    )
    assert body["messages"] == HI
    assert "seed" not in body_default and "logprobs" not in body_default


async def test_max_tokens_truncates_reply() -> None:
    async with StubServer(latency=0) as s:
        model = _model(s.url)
        c = await model.generate([{"role": "user", "content": "one two three four"}], max_tokens=2)
        await model.aclose()
    assert c.ok and c.text == "echo: one"


async def test_logprobs_are_requested_and_parsed() -> None:
    async with StubServer(latency=0) as s:
        model = _model(s.url)
        c = await model.generate(HI, logprobs=True)
        body = s.last_request
        await model.aclose()
    assert body is not None and body["logprobs"] is True and body["top_logprobs"] == 5
    assert c.logprobs is not None
    assert [t.token for t in c.logprobs] == c.text.split()
    for t in c.logprobs:
        assert t.logprob < 0
        assert t.top is not None and len(t.top) == 5
        assert t.top[t.token] == t.logprob
        assert max(t.top.values()) == t.logprob


async def test_retries_recover_from_injected_500_and_429() -> None:
    async with StubServer(latency=0, error_rate=0.3, rate_limit_rate=0.2, seed=7) as s:
        model = _model(s.url, max_retries=8, backoff_s=0.001)
        results = [await model.generate(HI) for _ in range(25)]
        await model.aclose()
        injected, served = s.failures_injected, s.requests_served
    assert all(c.ok for c in results), [c.error for c in results if not c.ok]
    assert injected >= 5  # the failures really happened and were retried
    assert served == 25 + injected


async def test_retry_after_is_honoured_and_retries_are_bounded() -> None:
    async with StubServer(latency=0, rate_limit_rate=1.0, retry_after=0.3) as s:
        model = _model(s.url, max_retries=1, backoff_s=0.0)
        start = time.perf_counter()
        c = await model.generate(HI)
        elapsed = time.perf_counter() - start
        await model.aclose()
        served = s.requests_served
    assert c.outcome is Outcome.ERROR
    assert "HTTP 429" in c.error and "2 attempts" in c.error
    assert served == 2  # one try + one retry, never more
    assert elapsed >= 0.3  # waited Retry-After although backoff_s is 0


async def test_persistent_500_becomes_error_not_behaviour() -> None:
    async with StubServer(latency=0, error_rate=1.0) as s:
        model = _model(s.url, max_retries=2, backoff_s=0.0)
        c = await model.generate(HI)
        await model.aclose()
        served = s.requests_served
    assert c.outcome is Outcome.ERROR and not c.ok and c.text == ""
    assert "HTTP 500" in c.error
    assert served == 3


@pytest.mark.parametrize("mode", ["finish_reason", "error"])
async def test_provider_block_is_blocked_outcome(mode: str) -> None:
    async with StubServer(latency=0, block_marker="[[BLOCK]]", block_mode=mode) as s:  # type: ignore[arg-type]
        model = _model(s.url, max_retries=3)
        blocked = await model.generate([{"role": "user", "content": "please [[BLOCK]] this"}])
        fine = await model.generate(HI)
        await model.aclose()
        served = s.requests_served
    assert blocked.outcome is Outcome.BLOCKED and not blocked.ok
    assert "content_filter" in blocked.error or "content filter" in blocked.error
    assert fine.ok
    assert served == 2  # a block is final: never retried


async def test_timeout_is_error_not_behaviour() -> None:
    async with StubServer(latency=2.0) as s:
        model = _model(s.url, timeout_s=0.2, max_retries=1, backoff_s=0.0)
        start = time.perf_counter()
        c = await model.generate(HI)
        elapsed = time.perf_counter() - start
        await model.aclose()
    assert c.outcome is Outcome.ERROR and c.text == ""
    assert "timeout" in c.error
    assert elapsed < 1.5  # two 0.2 s attempts, not the server's 2 s


async def test_other_4xx_is_error_without_retry() -> None:
    async with StubServer(latency=0, api_key="right") as s:
        model = connect(
            f"openai:{s.url}#m", TargetOptions(http=HttpConfig(max_retries=3), api_key="wrong")
        )
        c = await model.generate(HI)
        await model.aclose()
        served = s.requests_served
    assert c.outcome is Outcome.ERROR and "HTTP 401" in c.error
    assert served == 1


async def test_request_cap_stops_sending(caplog: pytest.LogCaptureFixture) -> None:
    async with StubServer(latency=0) as s:
        model = _model(s.url, max_requests=3)
        with caplog.at_level(logging.WARNING, logger="alignkit.models._openai"):
            results = [await model.generate(HI) for _ in range(6)]
        await model.aclose()
        served = s.requests_served
    assert [c.ok for c in results] == [True, True, True, False, False, False]
    assert all("spend cap reached" in c.error for c in results[3:])
    assert served == 3
    assert sum("spend cap reached" in r.getMessage() for r in caplog.records) == 1


async def test_a_request_waits_for_reservations_instead_of_failing() -> None:
    """With requests in flight, the next was refused ("0 tokens used and 60 reserved")
    although their answers used less than they reserved: a third of the cap went unused."""
    async with StubServer(latency=0.05) as s:
        model = _model(s.url, max_tokens_total=60)
        results = await generate_batch(model, [HI] * 12, concurrency=8, max_tokens=4)
        await model.aclose()
    # each answer uses 7 tokens and reserves 10: the cap is used until no request fits
    assert 60 - 10 < model.tokens_used <= 60
    assert sum(c.ok for c in results) == model.tokens_used // 7 == 8


async def test_models_opened_with_shared_options_share_the_caps() -> None:
    """A campaign's target, attacker, judge and translator each had the whole cap: the
    stub served 10 requests under --max-requests 5."""
    async with StubServer(latency=0) as s:
        opts = TargetOptions(http=HttpConfig(max_requests=5)).shared()
        target, attacker = (connect(f"openai:{s.url}#{m}", opts) for m in ("t", "a"))
        results = [await m.generate(HI) for _ in range(4) for m in (target, attacker)]
        alone = connect(f"openai:{s.url}#t", TargetOptions(http=HttpConfig(max_requests=5)))
        own = await alone.generate(HI)  # a meter of its own: not counted with the others
        for m in (target, attacker, alone):
            await m.aclose()
        served = s.requests_served
    assert sum(c.ok for c in results) == 5 and served == 6 and own.ok
    assert opts.spend is not None and opts.spend.requests == 5
    assert opts.shared() is opts


async def test_token_cap_stops_sending() -> None:
    async with StubServer(latency=0) as s:
        # each exchange uses 3 + 4 tokens; one may use up to 6 + 4 (prompt bound + max_tokens)
        model = _model(s.url, max_tokens_total=20)
        results = [await model.generate(HI, max_tokens=4) for _ in range(4)]
        await model.aclose()
        served = s.requests_served
    assert [c.ok for c in results] == [True, True, False, False]
    assert "max_tokens_total=20" in results[2].error
    assert served == 2 and model.tokens_used == 14


async def test_token_cap_is_never_exceeded_by_requests_in_flight() -> None:
    """Eight concurrent requests each passed the check before any was charged: 2.6x the cap."""
    async with StubServer(latency=0.05) as s:
        model = _model(s.url, max_tokens_total=50)
        results = await generate_batch(model, [HI] * 12, concurrency=8, max_tokens=4)
        await model.aclose()
    assert model.tokens_used <= 50
    assert sum(c.ok for c in results) == model.tokens_used // 7 >= 4


async def test_api_key_from_options_is_sent_but_never_shown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "sk-test-SECRET-4242"
    async with StubServer(latency=0, api_key=secret, error_rate=0.5, seed=1) as s:
        opts = TargetOptions(http=HttpConfig(max_retries=6, backoff_s=0.0), api_key=secret)
        with caplog.at_level(logging.DEBUG):
            model = connect(f"openai:{s.url}#m", opts)
            results = [await model.generate(HI) for _ in range(5)]
            await model.aclose()
    assert all(c.ok for c in results)  # the stub accepted the key
    assert secret not in model.uri and secret not in repr(model)
    assert all(secret not in c.error for c in results)
    assert secret not in caplog.text


async def test_api_key_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_LLM_KEY", "env-key-1")
    async with StubServer(latency=0, api_key="env-key-1") as s:
        model = connect(
            f"openai:{s.url}#m", TargetOptions(http=HttpConfig(api_key_env="MY_LLM_KEY"))
        )
        c = await model.generate(HI)
        await model.aclose()
    assert c.ok
    assert "env-key-1" not in model.uri


async def test_no_key_is_fine_for_local_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    async with StubServer(latency=0) as s:
        model = _model(s.url)
        c = await model.generate(HI)
        await model.aclose()
    assert c.ok


async def test_ping_ok_and_unreachable() -> None:
    async with StubServer(latency=0) as s:
        model = _model(s.url)
        await model.ping()
        await model.aclose()
    with _dead_port() as port:
        dead = _model(f"http://127.0.0.1:{port}/v1")
        start = time.perf_counter()
        with pytest.raises(TargetError) as info:
            await dead.ping()
    assert time.perf_counter() - start < 3.5
    msg = str(info.value)
    assert msg.startswith(f"cannot reach http://127.0.0.1:{port}/v1: ")
    assert "\n" not in msg


async def test_ping_reports_rejected_key() -> None:
    async with StubServer(latency=0, api_key="right") as s:
        model = OpenAIChatModel(s.url, "m", api_key="wrong")
        with pytest.raises(TargetError, match="HTTP 401"):
            await model.ping()


async def test_connection_refused_is_error_completion() -> None:
    with _dead_port() as port:
        model = _model(f"http://127.0.0.1:{port}/v1", max_retries=1, backoff_s=0.0)
        c = await model.generate(HI)
    await model.aclose()
    assert c.outcome is Outcome.ERROR and "connection error" in c.error


async def test_batch_through_adapter_is_bounded_and_ordered() -> None:
    async with StubServer(latency=0.02) as s:
        model = _model(s.url)
        reqs: list[list[Message]] = [[{"role": "user", "content": f"q{i}"}] for i in range(40)]
        results = await generate_batch(model, reqs, concurrency=8)
        await model.aclose()
        peak = s.peak_in_flight
    assert [c.text for c in results] == [f"echo: q{i}" for i in range(40)]
    assert 1 < peak <= 8


async def test_session_is_reopened_after_aclose() -> None:
    async with StubServer(latency=0) as s:
        model = _model(s.url)
        first = await model.generate(HI)
        await model.aclose()
        second = await model.generate(HI)
        await model.aclose()
    assert first.ok and second.ok


def test_direct_construction_validates() -> None:
    with pytest.raises(ConfigError):
        OpenAIChatModel("localhost:8000", "m")
    with pytest.raises(ConfigError, match="names no model"):
        OpenAIChatModel("http://localhost:8000/v1", "")


@pytest.mark.parametrize(
    ("message", "ok", "text"),
    [
        (
            {"content": [{"type": "text", "text": "Par"}, {"type": "text", "text": "is"}]},
            True,
            "Paris",
        ),
        ({"content": None}, False, ""),  # e.g. a reasoning model that ran out of max_tokens
        ({"content": None, "tool_calls": [{"id": "t"}]}, False, ""),
        ({"content": ""}, True, ""),
    ],
)
def test_message_content_forms(message: dict[str, object], ok: bool, text: str) -> None:
    """Content parts were scored as their Python repr; null content as an empty answer."""
    import json

    from alignkit.models._openai import _parse_completion

    raw = json.dumps({"choices": [{"message": message, "finish_reason": "length"}]}).encode()
    done = _parse_completion(raw, 0.1)
    assert done.ok is ok and done.text == text
    if not ok:
        assert "no message content" in done.error


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b'{"choices":[{"message":{"content":"hi"},"logprobs":{"content":[{"token":"hi",'
         b'"logprob":NaN}]}}]}', "is not a log-probability"),
        (b'{"choices":[{"message":{"content":"hi"},"logprobs":{"content":[{"token":"hi",'
         b'"logprob":-0.1,"top_logprobs":[{"token":"hi","logprob":Infinity}]}]}}]}',
         "is not a log-probability"),
        (b'{"choices":[{"message":{"content":"hi"},"logprobs":{"content":[{"token":"hi",'
         b'"logprob":0.5}]}}]}', "is not a log-probability"),
        (b'{"choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":1e400}}',
         "OverflowError"),
        (b'{"choices":' + b"[" * 100_000, "RecursionError"),
    ],
)  # fmt: skip
def test_malformed_numbers_and_depth_are_a_malformed_response(body: bytes, why: str) -> None:
    """NaN logprobs were passed on (the server then wrote invalid JSON, calibration read
    "perfectly calibrated"); 1e400 tokens or a body nested 100,000 deep escaped the parser
    ("model raised OverflowError")."""
    from alignkit.models._openai import _parse_completion, _Retryable, completion_from_http

    done = _parse_completion(body, 0.1)
    assert not done.ok and done.error.startswith("malformed response") and why in done.error
    with pytest.raises(_Retryable):  # a 500 with a deep body is retried like another
        completion_from_http(500, b'{"error":' + b"[" * 100_000, None, 0.1)


def test_log_zero_and_rounding_keep_the_answer() -> None:
    """-Infinity (log 0) in a top alternative threw the whole answer away."""
    from alignkit.models._openai import LOGPROB_FLOOR, _parse_completion

    raw = (b'{"choices":[{"message":{"content":"hi"},"logprobs":{"content":[{"token":"hi",'
           b'"logprob":5e-6,"top_logprobs":[{"token":"hi","logprob":-0.0},'
           b'{"token":"yo","logprob":-Infinity}]}]}}]}')  # fmt: skip
    done = _parse_completion(raw, 0.1)
    assert done.ok and done.logprobs is not None
    (tok,) = done.logprobs
    assert tok.logprob == 0.0 and tok.top == {"hi": 0.0, "yo": LOGPROB_FLOOR}


def test_negative_token_counts_count_as_none() -> None:
    """prompt_tokens -1000000 took a million tokens off --max-tokens-total."""
    from alignkit.models._openai import _parse_completion

    raw = b'{"choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":-1000000,' \
          b'"completion_tokens":1}}'  # fmt: skip
    done = _parse_completion(raw, 0.1)
    assert done.ok and (done.usage.prompt_tokens, done.usage.completion_tokens) == (0, 1)


def test_url_credentials_and_an_api_key_together_are_refused() -> None:
    """aiohttp refused the pair at the first request: an internal error, exit 3."""
    with pytest.raises(ConfigError, match="carries credentials .* and an API key is set"):
        OpenAIChatModel("http://alice:pw@127.0.0.1:9/v1", "m", api_key="k")
    OpenAIChatModel("http://alice:pw@127.0.0.1:9/v1", "m", api_key="")  # either alone is fine


@pytest.mark.parametrize("status", [500, 401])
async def test_credentials_an_upstream_echoes_never_reach_an_error_or_the_log(
    status: int, caplog: pytest.LogCaptureFixture
) -> None:
    """A proxy that answered "bad credentials: Basic Ym9i..." or "invalid key sk-..." put
    them into the completion's error (stored with the run) and the retry log line."""
    from aiohttp import web

    async def echo(request: web.Request) -> web.Response:
        # after 150 characters: a cut at 160 fell inside the key, past the masking
        said = f"{'x' * 140} rejected {request.headers.get('Authorization', '')} at {request.url}"
        return web.json_response({"error": {"message": said}}, status=status)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        url = f"http://bob:pw-4242-secret@127.0.0.1:{port}/v1?api_key=qk-9999-secret"
        with caplog.at_level(logging.DEBUG):
            model = connect(f"openai:{url}#m", TargetOptions(http=HttpConfig(
                max_retries=1, backoff_s=0.0)))  # fmt: skip
            c = await model.generate(HI)
            await model.aclose()
    finally:
        await runner.cleanup()
    assert c.outcome is Outcome.ERROR and "rejected Basic *" in c.error
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("alignkit"))
    assert "retry 1" in ours or status == 401
    for secret in ("pw-4242-secret", "qk-9999-secret", "Ym9iOnB3LTQyNDItc2VjcmV0"):
        for part in (secret[:5], secret[-5:]):  # no piece of it either
            assert part not in c.error and part not in ours
