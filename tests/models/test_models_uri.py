"""Target URI parsing, the scheme registry and errors when opening targets."""

from __future__ import annotations

from pathlib import Path

import pytest

from alignkit.core import ConfigError, Decoding, TargetKind
from alignkit.models import (
    SCHEMES,
    ParsedURI,
    TargetOptions,
    connect,
    open_target,
    parse_uri,
    register_scheme,
)
from alignkit.models._openai import OpenAIChatModel
from alignkit.models._python import PythonChatModel


def test_parse_openai_uri_splits_body_and_fragment() -> None:
    p = parse_uri("openai:http://127.0.0.1:8000/v1#my-model")
    assert (p.scheme, p.body, p.fragment, p.query) == (
        "openai",
        "http://127.0.0.1:8000/v1",
        "my-model",
        {},
    )


def test_parse_query_parameters() -> None:
    p = parse_uri("organism:flawed?steer=v.npz&scale=2")
    assert p.body == "flawed" and p.query == {"steer": "v.npz", "scale": "2"}
    with pytest.raises(ConfigError, match="'scale=' more than once"):  # ran with the last one
        parse_uri("organism:flawed?steer=v.npz&scale=1&scale=2")


@pytest.mark.parametrize("bad", ["", "no-scheme-here", "openai:", "1x:thing"])
def test_malformed_uri_is_config_error(bad: str) -> None:
    with pytest.raises(ConfigError, match="malformed target URI"):
        parse_uri(bad)


def test_unknown_scheme_lists_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown target scheme 'nope:'.*openai:.*python:"):
        open_target("nope:thing")


def test_builtin_schemes_registered_as_chat() -> None:
    for name in ("openai", "python"):
        assert name in SCHEMES
        assert SCHEMES.get(name).kind is TargetKind.CHAT


def test_openai_uri_opens_adapter_without_network() -> None:
    model = connect("openai:http://127.0.0.1:9/v1#m1")
    assert isinstance(model, OpenAIChatModel)
    assert model.uri == "openai:http://127.0.0.1:9/v1#m1"
    assert model.model == "m1"
    assert model.kind is TargetKind.CHAT
    assert model.capabilities == frozenset({"logprobs"})
    assert model.default_pack is None and model.default_decoding is None


def test_openai_without_model_fragment_is_config_error() -> None:
    with pytest.raises(ConfigError, match="names no model"):
        connect("openai:http://127.0.0.1:8000/v1")


@pytest.mark.parametrize(
    "uri", ["openai:127.0.0.1:8000/v1#m", "openai:ftp://host/v1#m", "openai:/local/path#m"]
)
def test_openai_body_must_be_http_url(uri: str) -> None:
    with pytest.raises(ConfigError, match="http"):
        connect(uri)


def test_openai_uri_query_is_kept_on_requests_but_secrets_redacted() -> None:
    model = connect("openai:https://user:pw@api.example.com/v1?api-version=2&api_key=zzz#gpt")
    assert "pw" not in model.uri and "zzz" not in model.uri and "user" not in model.uri
    assert "api-version=2" in model.uri
    assert "zzz" not in repr(model)


def test_python_uri_needs_function_part() -> None:
    with pytest.raises(ConfigError, match="python:module:function"):
        connect("python:just_a_module")


def test_connect_rejects_non_chat_kind() -> None:
    class _Policy:
        uri = "fakepolicy:x"
        kind = TargetKind.POLICY
        capabilities: frozenset[str] = frozenset()
        default_pack: Path | None = None
        default_decoding: Decoding | None = None

        async def aclose(self) -> None:
            return None

    def factory(parsed: ParsedURI, options: TargetOptions) -> _Policy:
        return _Policy()

    register_scheme("fakepolicy", factory, kind="policy", example="fakepolicy:x")
    try:
        assert open_target("fakepolicy:x").kind is TargetKind.POLICY
        with pytest.raises(ConfigError, match="not a chat model"):
            connect("fakepolicy:x")
    finally:
        SCHEMES.unregister("fakepolicy")


def test_python_uri_opens_python_model(tmp_path: Path) -> None:
    app = tmp_path / "uri_app_mod.py"
    app.write_text("def respond(messages):\n    return 'hi'\n")
    model = connect(f"python:{app}:respond")
    assert isinstance(model, PythonChatModel)
    assert model.uri == f"python:{app}:respond"


def test_a_scheme_plugin_that_misbehaves_is_one_line() -> None:
    """A factory that raised KeyError, or returned a str, was an internal error (exit 3)."""
    from alignkit.core import TargetError
    from alignkit.models import register_scheme

    made: dict[str, object] = {}

    def factory(parsed: object, options: object) -> object:
        return made["target"]

    register_scheme("acme-test", factory, kind="chat", example="acme-test:x")  # type: ignore[arg-type]
    try:
        with pytest.raises(TargetError, match=r"'acme-test:' could not open it: KeyError"):
            open_target("acme-test:x")
        made["target"] = "not a model"
        with pytest.raises(TargetError, match="returned str, not a target"):
            open_target("acme-test:x")
    finally:
        SCHEMES.unregister("acme-test")
    for bad in ("", "Acme", "my scheme!", "1x"):
        with pytest.raises(ConfigError, match="must be a URI scheme"):
            register_scheme(bad, factory, kind="chat", example="x:y")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "uri",
    [
        "hf:/models/smol?gguf=SmolLM2-135M-Instruct.Q4_1.gguf",  # a query already there
        "organism:flawed?steer=old.npz&scale=3",  # options replaced, not given twice
        "openai:http://127.0.0.1:8000/v1#judge",  # the fragment stays last
    ],
)
def test_with_query_round_trips_through_parse_uri(uri: str) -> None:
    """`interpret steer`'s hint appended `?steer=` blindly: a second `?`, paths unencoded."""
    from alignkit.models import with_query

    path = "/tmp/my dir/v&1#2.npz"
    parsed = parse_uri(with_query(uri, steer=path, scale="2"))
    original = parse_uri(uri)
    assert parsed.query == {**original.query, "steer": path, "scale": "2"}
    assert (parsed.scheme, parsed.body, parsed.fragment) == (
        original.scheme,
        original.body,
        original.fragment,
    )
