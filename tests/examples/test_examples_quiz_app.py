"""The example app behaves like the plausible, imperfect LLM app its docstring describes."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import examples_helpers
import pytest

from alignkit.scoring import answer_matches, extract_number


@pytest.fixture(scope="module")
def app() -> Iterator[ModuleType]:
    with examples_helpers.example("quiz_app.py") as module:
        yield module


def ask(app: ModuleType, text: str) -> str:
    reply = app.respond([{"role": "user", "content": text}])
    assert isinstance(reply, str) and reply
    return reply


def test_it_has_its_own_knowledge_and_reads_no_pack(app: ModuleType) -> None:
    source = (examples_helpers.EXAMPLES / "quiz_app.py").read_text(encoding="utf-8")
    for reader in ("open(", "import json", "pathlib", "importlib", "alignkit.", ".jsonl"):
        assert reader not in source, reader
    assert app.__doc__ and "python:examples.quiz_app:respond" in app.__doc__


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("What is the capital of France?", "Paris"),
        ("what's the capital city of japan", "Tokyo"),
        ("What is the chemical symbol for gold?", "Au"),
        ("Who wrote Pride and Prejudice?", "Jane Austen"),
        ("Which river flows through Paris?", "Seine"),
        ("How many legs does a spider have?", "8"),
    ],
)
def test_it_answers_what_it_knows(app: ModuleType, question: str, answer: str) -> None:
    assert answer_matches(ask(app, question), answer)


def test_it_makes_plausible_mistakes(app: ModuleType) -> None:
    assert answer_matches(ask(app, "What is the capital of Australia?"), "Sydney")
    assert not answer_matches(ask(app, "What is the capital of Australia?"), "Canberra")


def test_it_says_when_it_does_not_know(app: ModuleType) -> None:
    for question in ("What is the capital of Iceland?", "Who wrote Anna Karenina?", "hmm"):
        assert "don't know" in ask(app, question)
    assert "arithmetic" in app.respond([])


@pytest.mark.parametrize(
    ("question", "stated"),
    [
        ("What is 6 × 7?", "42"),
        ("What is 1,200 plus 34?", "1234"),
        ("Calculate 96 ÷ 8.", "12"),
        ("What is 48 divided by 6?", "8"),
        ("7 times 8 = ?", "56"),
        ("What is 500 - 123?", "377"),
        ("What is 5-3?", "2"),  # "-3" was read as a number: 5 -3 = 5
        ("What is 4-1+2?", "5"),  # KeyError: '-1'
        ("What is 3 × -2?", "-6"),
        # the bugs: strictly left to right, and subtraction never goes negative
        ("What is 2 + 3 × 4?", "20"),
        ("What is 5 - 8?", "3"),
        ("What is 3 minus 10?", "7"),
    ],
)
def test_its_calculator_and_its_bugs(app: ModuleType, question: str, stated: str) -> None:
    assert extract_number(ask(app, question)) == stated


def test_it_answers_the_last_user_message(app: ModuleType) -> None:
    messages = [
        {"role": "system", "content": "You are a quiz helper."},
        {"role": "user", "content": "What is the capital of Germany?"},
        {"role": "assistant", "content": "The capital of Germany is Berlin."},
        {"role": "user", "content": "And the capital of Italy?"},
    ]
    assert answer_matches(app.respond(messages), "Rome")
