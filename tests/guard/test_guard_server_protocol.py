"""``alignkit serve`` against the OpenAI protocol's edges, with the official client.

Each test here is a defect an outside-in bug-bash found: a field that was guessed at or
ignored, an error in the wrong shape, a secret that reached the client or the log.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from guard_helpers import ThreadedUpstream

from alignkit.core import HttpConfig
from alignkit.guard import GuardServer
from alignkit.store import Store

pytestmark = pytest.mark.network
SECRET = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ZZZZ"
APP = f"""
def respond(messages):
    if "RAISE" in messages[-1]["content"]:
        raise RuntimeError("app exploded with secret {SECRET}")
    return "fine"
"""


@pytest.fixture(scope="module")
def upstream() -> Iterator[ThreadedUpstream]:
    with ThreadedUpstream() as up:
        yield up


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'serve.db'}"


@pytest.fixture
def server(upstream: ThreadedUpstream, store_url: str) -> Iterator[GuardServer]:
    with GuardServer(
        f"openai:{upstream.url}#stub",
        {"breakers": {"scopes": ["user"], "min_requests": 1}},
        store_url=store_url,
        admin_token="t",
        http=HttpConfig(timeout_s=2, max_retries=0),
    ) as srv:
        yield srv


def client(srv: GuardServer, **options: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=srv.url, api_key="unused", **{"max_retries": 0, **options})


def entries(store_url: str) -> list[dict[str, Any]]:
    with Store.open(store_url) as store:
        return [json.loads(e.entry) for e in store.audit_log().entries()]


USER = [{"role": "user", "content": "hello there friend"}]


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"max_tokens": 5.7}, "max_tokens"),  # read as 5
        ({"max_tokens": 10**400}, "max_tokens"),  # OverflowError: a 500
        ({"seed": -(10**400)}, "seed"),
        ({"seed": 1.5}, "seed"),  # read as 1
        ({"n": True}, "n"),  # True == 1
        ({"stream_options": []}, "stream_options"),
        ({"stream": True, "stream_options": {"include_usage": "yes"}}, "stream_options"),
        ({"max_tokens": 5, "max_completion_tokens": -3}, "max_completion_tokens"),  # ignored
        ({"tools": "x"}, "tools"),
        ({"tool_choice": "required"}, "tool_choice"),  # answered in text, no tool call
        ({"tool_choice": {"type": "function", "function": {"name": "f"}}}, "tool_choice"),
        ({"response_format": {"type": "json_object"}}, "response_format"),  # not JSON
        ({"response_format": "x"}, "response_format"),
        ({"presence_penalty": 1.5}, "presence_penalty"),  # accepted, never applied
        ({"frequency_penalty": -0.5}, "frequency_penalty"),
        ({"logit_bias": {"50256": -100}}, "logit_bias"),
        ({"top_logprobs": 3}, "top_logprobs"),  # without logprobs
        ({"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
        ({"logprobs": True, "top_logprobs": 10**400}, "top_logprobs"),  # a 500
        ({"user": "u" * 300}, "user"),  # copied whole into every log entry
        ({"messages": [{"role": "user", "content": "a"}] * 2049}, "messages"),  # 5 s of CPU
        ({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]},
         "messages"),  # an image-only prompt became an empty one
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"},
            {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}]},
         "messages"),
        ({"messages": [{"role": "user", "content": ["raw string"]}]}, "messages"),
    ],
)  # fmt: skip
def test_fields_are_refused_rather_than_guessed_at_or_ignored(
    server: GuardServer, extra: dict[str, Any], param: str
) -> None:
    body = {"model": "m", "messages": USER, **extra}
    with pytest.raises(openai.BadRequestError) as info:
        client(server).chat.completions.create(**body)
    assert info.value.status_code == 400
    assert info.value.body["param"] == param  # type: ignore[index]


def test_what_can_be_honoured_is_accepted(server: GuardServer) -> None:
    c = client(server)
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    out = c.chat.completions.create(model="m", messages=USER, tools=tools, tool_choice="auto")
    assert out.choices[0].message.content == "echo: hello there friend"  # type: ignore[arg-type]
    parts = [{"type": "text", "text": "hi"}, {"type": "text", "text": "there"}]
    out = c.chat.completions.create(model="m", messages=[{"role": "user", "content": parts}],
                                    response_format={"type": "text"}, n=1)  # fmt: skip
    assert out.choices[0].message.content == "echo: hi\nthere"
    # what clients send by default, or loosely, stays accepted
    out = c.chat.completions.create(model="m", messages=USER, n=1.0, top_logprobs=0,  # type: ignore[arg-type]
                                    stream=True, stream_options={"include_usage": None})  # type: ignore[typeddict-item]  # fmt: skip
    assert "".join(ch.choices[0].delta.content or "" for ch in out if ch.choices)
    out = c.chat.completions.create(model="m", messages=USER, presence_penalty=0,
                                    frequency_penalty=0.0, logit_bias={})  # fmt: skip
    assert out.choices[0].message.content == "echo: hello there friend"
    empty = c.chat.completions.create(model="m", messages=[{"role": "user", "content": []}])
    assert empty.choices[0].message.content is not None
    out = c.chat.completions.create(model="m", messages=USER, logprobs=True, top_logprobs=2)
    assert out.choices[0].logprobs is not None and out.choices[0].logprobs.content
    assert all(len(t.top_logprobs) == 2 for t in out.choices[0].logprobs.content)


def test_a_cut_answer_finishes_with_length(server: GuardServer) -> None:
    c = client(server)
    out = c.chat.completions.create(model="m", messages=USER, max_tokens=2)
    assert (out.choices[0].message.content, out.choices[0].finish_reason) == ("echo: hello",
                                                                              "length")  # fmt: skip
    chunks = list(c.chat.completions.create(model="m", messages=USER, max_tokens=2, stream=True))
    assert chunks[-1].choices[0].finish_reason == "length"
    whole = c.chat.completions.create(model="m", messages=USER, max_tokens=50)
    assert whole.choices[0].finish_reason == "stop"


def test_unknown_paths_and_methods_answer_in_openai_shape(server: GuardServer) -> None:
    c = client(server)
    with pytest.raises(openai.NotFoundError, match="no such endpoint: GET /v1/models/x"):
        c.models.retrieve("x")
    with pytest.raises(openai.NotFoundError, match="no such endpoint: POST /v1/completions"):
        c.completions.create(model="m", prompt="hi")
    with pytest.raises(openai.APIStatusError, match="method not allowed") as info:
        c.get("/chat/completions", cast_to=object)
    assert info.value.status_code == 405


def test_an_open_breaker_is_not_retried_by_the_official_client(server: GuardServer) -> None:
    base = server.url.removesuffix("/v1")
    c = client(server, max_retries=2)  # the client's default
    c.post(base + "/admin/breakers/signal", body={"key": "user:eve"}, cast_to=object,
           options={"headers": {"Authorization": "Bearer t"}})  # fmt: skip
    t = time.perf_counter()
    with pytest.raises(openai.APIStatusError, match="circuit breaker open") as info:
        c.chat.completions.create(model="m", messages=USER, user="eve")
    assert info.value.status_code == 503 and info.value.response.headers["retry-after"]
    assert time.perf_counter() - t < 5  # it waited out Retry-After twice, then got through


def test_a_client_gone_mid_upload_is_logged_and_serving_goes_on(
    server: GuardServer, store_url: str
) -> None:
    host, port = server.url.removeprefix("http://").removesuffix("/v1").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                     b'{"model":')  # fmt: skip
    deadline = time.monotonic() + 5
    while not any(e.get("kind") == "bad_request" for e in entries(store_url)):
        assert time.monotonic() < deadline, "the disconnect left no audit entry"
        time.sleep(0.05)
    [gone] = [e for e in entries(store_url) if e.get("kind") == "bad_request"]
    assert "disconnected" in gone["error"]
    out = client(server).chat.completions.create(model="m", messages=USER)
    assert out.choices[0].message.content == "echo: hello there friend"


def test_a_secret_in_an_upstream_error_reaches_neither_client_nor_log(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text(APP, encoding="utf-8")
    store_url = f"sqlite:///{tmp_path / 's.db'}"
    with GuardServer(f"python:{app}:respond", store_url=store_url) as srv:
        with pytest.raises(openai.APIStatusError) as info:
            client(srv).chat.completions.create(
                model="m", messages=[{"role": "user", "content": "RAISE"}]
            )
    assert info.value.status_code == 502 and "app exploded" in str(info.value)
    assert SECRET not in info.value.response.text
    log = entries(store_url)
    assert log and all(SECRET not in json.dumps(e) for e in log)
    assert "app exploded" in log[-1]["reason"]


def test_fields_left_out_take_the_targets_own_decoding() -> None:
    """A served organism answered clients that sent no temperature greedily with 64 tokens,
    not with the decoding it is measured under (its manifest's)."""
    from alignkit.core import Decoding
    from alignkit.guard._server_chat import _with_defaults

    own = Decoding(temperature=1.0, top_p=0.9, max_tokens=40)
    assert _with_defaults({}, own) == {"temperature": 1.0, "top_p": 0.9, "max_tokens": 40}
    given = {"temperature": 0.0, "max_tokens": 5, "seed": 3}
    assert _with_defaults(given, own) == {**given, "top_p": 0.9}
    assert _with_defaults(given, None) == given  # no default of its own: the adapter's
