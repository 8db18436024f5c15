"""Target URIs as shown and stored: credentials removed, everything else kept."""

from __future__ import annotations

import base64

import pytest

from alignkit.models import public_uri, uri_secrets


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        (
            "openai:http://u:pw@h:8000/v1?api-key=s&x=1#m",
            "openai:http://***@h:8000/v1?api-key=***&x=1#m",
        ),
        ("openai:https://h/v1#gpt", "openai:https://h/v1#gpt"),
        ("organism:flawed?steer=v.npz&scale=2", "organism:flawed?steer=v.npz&scale=2"),
        ("hf:/models/x?gguf=a.gguf", "hf:/models/x?gguf=a.gguf"),
        ("python:app:respond", "python:app:respond"),
        ("openai:http://u:pw@[::1/v1#m", "openai:http://***@[::1/v1#m"),
        # unencoded / ? # in a password moved the '@' out of the host part: shown in plain
        ("openai:http://bob:pa/ss@h:8000/v1#m", "openai:http://***@h:8000/v1#m"),
        ("openai:http://bob:pa?ss@h/v1#m", "openai:http://***@h/v1#m"),
        ("openai:http://bob:pa#ss@h/v1#m", "openai:http://***@h/v1#m"),
        ("openai:http://bob:pa@@h/v1#m", "openai:http://***@h/v1#m"),
        ("opneai:http://bob:pw@h/v1#m", "opneai:http://***@h/v1#m"),
        # a password cut by '?' or '#' (no #model too)
        ("openai:http://bob:1234?56@h/v1#m", "openai:http://***@h/v1#m"),
        ("openai:http://bob:1234#56@h/v1#m", "openai:http://***@h/v1#m"),
        ("opneai:http://bob:s3cret#pw2024x@h:9/v1", "opneai:http://***@h:9/v1"),
        # an @ in the query or the model name is no user info
        ("openai:http://[::1]/v1?tag=a@b#m", "openai:http://[::1]/v1?tag=a@b#m"),
        ("openai:http://bob:pw@h/v1?email=a@b.com#m", "openai:http://***@h/v1?email=a@b.com#m"),
        ("openai:http://h/v1#claude@2024", "openai:http://h/v1#claude@2024"),
        # model names and paths with an @ keep their host (Workers AI: #@cf/meta/...)
        ("openai:https://h/ai/v1#@cf/meta/llama-3", "openai:https://h/ai/v1#@cf/meta/llama-3"),
        ("openai:http://h:8000/v1#org@team/model", "openai:http://h:8000/v1#org@team/model"),
        ("openai:http://h/v1/@scope/models#m", "openai:http://h/v1/@scope/models#m"),
        # a '#' in a password with no path after the host
        ("openai:http://user:pa#ssword@h:8000#m", "openai:http://***@h:8000#m"),
        ("openai:http://user:12#3456@h:8000#m", "openai:http://***@h:8000#m"),
        ("openai:https://user:pa#ss/1234@h/v1#m", "openai:https://***@h/v1#m"),
        # well-formed URLs keep their host (a stored target is compared on resume)
        (
            "openai:http://localhost:4000#claude@20240620",
            "openai:http://localhost:4000#claude@20240620",
        ),
        ("openai:https://h:8080#@cf/meta/llama", "openai:https://h:8080#@cf/meta/llama"),
        ("openai:https://h:8443/@scope/v1#m", "openai:https://h:8443/@scope/v1#m"),
        ("openai:https://h:8000?email=a@b.com#m", "openai:https://h:8000?email=a@b.com#m"),
        # refused as they are, but the refusal quotes them
        ("  openai:http://u:pw@h/v1#m ", "openai:http://***@h/v1#m"),
        ("OpenAI:HTTP://u:pw@h/v1#m", "OpenAI:http://***@h/v1#m"),
        ("openai:u:pw@h:8000/v1#m", "openai:***@h:8000/v1#m"),
        ("openai://u:pw@h/v1#m", "openai://***@h/v1#m"),  # `openai://` for `openai:http://`
        ("openai:http:/u:pw@h/v1#m", "openai:http:/***@h/v1#m"),
        ("openai:u:pw@myhost/v1#m", "openai:***@myhost/v1#m"),
        # the shape is masked whatever the scheme (no python: target has an '@')
        ("python:mod:fn@v2", "python:***@v2"),
        ("python:mod:fn", "python:mod:fn"),
    ],
)
def test_public_uri(uri: str, shown: str) -> None:
    assert public_uri(uri) == shown


def test_a_url_cut_inside_its_password_shows_no_part_of_it() -> None:
    """``openai:http://bob:pa#ss@h/v1#m`` opens as the URL ``http://bob:pa``: the error
    quoted it, half the password included."""
    from alignkit.models import public_url

    assert public_url("http://bob:pa") == "http://***"
    assert public_url("http://h:8000") == "http://h:8000"


def test_uri_secrets_are_what_an_upstream_could_echo() -> None:
    """An '@' in the query (``?email=a@b.com``) was read as the end of the user info: the
    password was taken as "pw123456@h/v1?email=a" and the API key was missed; the Basic
    header an upstream echoes carries the pair in base64."""
    uri = "openai:http://bob:pw123456@h/v1?email=a@b.com&api_key=KEYKEYKEY#m"
    basic = base64.b64encode(b"bob:pw123456").decode()
    assert uri_secrets(uri) == sorted(["KEYKEYKEY", "pw123456", "bob:pw123456", basic])
    assert uri_secrets(" OpenAI:HTTP://bob:pw123456@h/v1#m")[-1] == "pw123456"
    assert uri_secrets("organism:flawed") == uri_secrets("openai:http://h/v1#m") == []


def test_a_served_address_is_a_url_clients_can_use() -> None:
    """`serve --host ::1` printed http://::1:18010/v1 ("Invalid port" in every client)."""
    from alignkit.models._uri import http_url

    assert http_url("::1", 8000) == "http://[::1]:8000/v1"
    assert http_url("127.0.0.1", 8000) == "http://127.0.0.1:8000/v1"
