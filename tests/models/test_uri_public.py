"""Target URIs as shown and stored: credentials removed, everything else kept."""

from __future__ import annotations

import pytest

from alignkit.models import public_uri


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
    ],
)
def test_public_uri(uri: str, shown: str) -> None:
    assert public_uri(uri) == shown
