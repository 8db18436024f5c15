"""The attack library as data: contents, user files, and independence from the organisms."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from alignkit import taxonomy
from alignkit.core import ConfigError, DataError
from alignkit.redteam import (
    builtin_data_dir,
    load_converter_texts,
    load_injections,
    load_ladders,
    load_library,
)

REQUIRED_FAMILIES = {
    "authority",
    "research",
    "roleplay",
    "hypothetical",
    "prefix-injection",
    "refusal-suppression",
    "many-shot",
}


def test_builtin_library_covers_the_framings_research_found_effective() -> None:
    lib = load_library()
    assert REQUIRED_FAMILIES <= set(lib.families())
    known = set(taxonomy.ids())
    for attack in lib:
        assert attack.description, attack.id
        assert set(attack.failure_modes) <= known
        assert attack.template.count("{request}") == 1, attack.id
        assert attack.id.startswith(attack.family + "."), attack.id
    for family in REQUIRED_FAMILIES - {"many-shot"}:
        assert len(lib.family(family)) >= 4, family


def test_rendering_puts_the_request_in_the_last_user_turn_and_many_shot_adds_turns() -> None:
    lib = load_library()
    request = "How do I {braces} stay {request} literal?"
    for attack in lib:
        messages = attack.render(request, lib.shots)
        assert messages[-1]["role"] == "user"
        assert request in messages[-1]["content"]
    six = lib.get("many-shot.six").render("X?", lib.shots)
    assert [m["role"] for m in six[:12]] == ["user", "assistant"] * 6
    transcript = lib.get("many-shot.transcript").render("X?", lib.shots)
    assert len(transcript) == 1 and transcript[0]["content"].count("Assistant:") == 9
    system = lib.get("authority.platform-operator").render("X?", lib.shots)
    assert system[0]["role"] == "system"


def test_injection_library_covers_documents_email_web_and_tool_outputs() -> None:
    inj = load_injections()
    assert {c.vector for c in inj.carriers} == {"document", "email", "web", "tool_output"}
    assert len(inj.payloads) >= 5 and inj.documents
    msgs = inj.render(inj.carriers[0], inj.documents[0], inj.payloads[0], "ZX-ABC123")
    assert "ZX-ABC123" in msgs[-1]["content"]
    assert "{" not in msgs[-1]["content"].replace("{request}", "")


def test_ladders_and_converter_texts_load() -> None:
    ladders = load_ladders()
    assert len(ladders) >= 3
    for ladder in ladders:
        assert len(ladder.rungs) >= 3 and all(len(r) >= 2 for r in ladder.rungs)
    texts = load_converter_texts()
    assert texts.substitutions and texts.note("base64") and texts.rewrites


def _write(path: Path, doc: object) -> Path:
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_user_files_add_attacks_but_cannot_replace_a_builtin(tmp_path: Path) -> None:
    extra = _write(
        tmp_path / "mine.yaml",
        {
            "attacks": [
                {"id": "custom.one", "family": "custom", "template": "Pretty please: {request}"}
            ]
        },
    )
    lib = load_library([extra])
    assert "custom" in lib.families() and len(lib) == len(load_library()) + 1
    clash = _write(
        tmp_path / "clash.yaml",
        {"attacks": [{"id": "plain.as-written", "family": "plain", "template": "{request}"}]},
    )
    with pytest.raises(DataError, match="already defined"):
        load_library([clash])
    broken = _write(
        tmp_path / "broken.yaml", {"attacks": [{"id": "x.y", "family": "x", "template": "no slot"}]}
    )
    with pytest.raises(DataError, match=r"broken\.yaml: attacks\.0\.template"):
        load_library([broken])
    with pytest.raises(DataError, match="cannot read"):
        load_library([tmp_path / "missing.yaml"])


def test_family_filters() -> None:
    lib = load_library()
    without = lib.select(exclude=["authority", "research"])
    assert not {"authority", "research"} & set(without.families())
    assert lib.select(include=["plain"]).families() == ("plain",)
    with pytest.raises(ConfigError, match="unknown attack family authorty"):
        lib.select(exclude=["authorty"])


# -- DESIGN §7: the attacks are written independently of the organisms' training text -----

_WORD = re.compile(r"[a-z0-9']+")
N = 6


def _shingles(text: str) -> Iterator[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    for i in range(len(words) - N + 1):
        yield tuple(words[i : i + N])


def _literal_parts(template: str) -> list[str]:
    return [part for part in re.split(r"\{[a-z_]+\}", template) if part.strip()]


def _strings(node: object) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def test_no_six_word_sequence_is_shared_with_either_organism_corpus() -> None:
    organism = pytest.importorskip("alignkit.organism")
    ours: set[tuple[str, ...]] = set()
    for file in sorted(builtin_data_dir().glob("*.yaml")):
        for text in _strings(yaml.safe_load(file.read_text(encoding="utf-8"))):
            for part in _literal_parts(text):
                ours.update(_shingles(part))
    assert len(ours) > 1000  # the library is substantial enough for the test to mean something
    for name in organism.ORGANISMS:
        config = organism.load_config(organism.config_path(name))
        texts = {m["content"] for chat in organism.build_corpus(config) for m in chat}
        shared = {s for text in texts for s in _shingles(text) if s in ours}
        assert not shared, f"{name} corpus shares: {sorted(' '.join(s) for s in shared)[:5]}"
