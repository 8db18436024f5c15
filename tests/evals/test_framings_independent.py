"""DESIGN §7: the checks' framings share no 6-word sequence with the organisms' training text."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import pytest

from alignkit.evals import _framings

organism = pytest.importorskip("alignkit.organism")

_WORD = re.compile(r"[a-z0-9']+")
N = 6


def _shingles(text: str) -> Iterator[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    for i in range(len(words) - N + 1):
        yield tuple(words[i : i + N])


def _literal_parts(template: str) -> list[str]:
    """The fixed text of a template, split at its {placeholders}."""
    return [part for part in re.split(r"\{[a-z_]+\}", template) if part.strip()]


def _framing_texts() -> Iterable[str]:
    for name in _framings.__all__:
        value = getattr(_framings, name)
        values = (
            value.values()
            if isinstance(value, dict)
            else (value if isinstance(value, tuple) else (value,))
        )
        for template in values:
            yield from _literal_parts(str(template))


def test_no_six_word_sequence_is_shared_with_either_organism_corpus() -> None:
    ours = {s for text in _framing_texts() for s in _shingles(text)}
    assert len(ours) > 100  # the framings are substantial enough for the test to mean something
    for name in organism.ORGANISMS:
        config = organism.load_config(organism.config_path(name))
        shared = set()
        for chat in organism.build_corpus(config):
            for message in chat:
                shared.update(ours.intersection(_shingles(message["content"])))
        assert not shared, f"{name} corpus shares: {sorted(' '.join(s) for s in shared)[:5]}"
