from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from alignkit.core import ConfigError, DataError, ItemSource
from alignkit.data import (
    ITEM_KINDS,
    ArithmeticItem,
    FactItem,
    HarmfulItem,
    ItemPack,
    NonexistentEntityItem,
    PromptItem,
    Split,
    load_pack,
    write_jsonl,
)


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _fact(i: int, split: str = "train", **extra: object) -> dict[str, object]:
    return {"id": f"f{i}", "question": f"Q{i}?", "answer": f"A{i}", "split": split, **extra}


@pytest.fixture
def pack_dir(tmp_path: Path) -> Path:
    (tmp_path / "pack.json").write_text(
        json.dumps({"name": "mine", "schema_version": 1, "description": "d"}), encoding="utf-8"
    )
    _write(
        tmp_path / "facts.jsonl",
        [_fact(1, aliases=["a1", "one"]), _fact(2, "heldout"), _fact(3)],
    )
    _write(
        tmp_path / "arithmetic.jsonl",
        [{"id": "x1", "question": "1+1?", "answer": 2, "split": "heldout"}],
    )
    return tmp_path


def test_item_kinds_have_exactly_the_design_fields() -> None:
    expected = {
        "facts": {"id", "question", "answer", "aliases", "split"},
        "calibration": {"id", "question", "answer", "aliases", "split"},
        "arithmetic": {"id", "question", "answer", "split"},
        "benign": {"id", "prompt", "split"},
        "benign_alarming": {"id", "prompt", "split"},
        "prompts": {"id", "prompt", "split"},
        "harmful": {"id", "category", "prompt", "split"},
        "nonexistent_entities": {"id", "question", "entity", "split"},
    }
    assert {k: set(m.model_fields) for k, m in ITEM_KINDS.items()} == expected


def test_load_pack_reads_every_kind_and_filters_by_split(pack_dir: Path) -> None:
    pack = load_pack(pack_dir)
    assert pack.name == "mine" and pack.description == "d" and pack.path == pack_dir
    assert pack.kinds() == ("arithmetic", "facts")
    assert pack.counts() == {"arithmetic": 1, "facts": 3}
    facts = pack.items("facts")
    assert isinstance(facts, tuple) and all(isinstance(f, FactItem) for f in facts)
    assert [f.id for f in facts] == ["f1", "f2", "f3"]
    assert facts[0].aliases == ("a1", "one")
    arithmetic = pack.items("arithmetic")[0]
    assert isinstance(arithmetic, ArithmeticItem) and arithmetic.answer == "2"

    train = load_pack(pack_dir, split="train")
    assert [f.id for f in train.items("facts")] == ["f1", "f3"]
    assert train.items("arithmetic") == ()
    assert train.kinds() == ("facts",)
    heldout = pack.select("heldout")
    assert [f.id for f in heldout.items("facts")] == ["f2"]
    assert all(f.split is Split.HELDOUT for f in heldout.items("facts"))


def test_pack_is_an_item_source_and_absent_kinds_are_empty(pack_dir: Path) -> None:
    pack: ItemSource = load_pack(pack_dir)
    assert pack.items("harmful") == ()
    with pytest.raises(ConfigError, match="did you mean 'facts'"):
        pack.items("fact")


def test_items_are_frozen(pack_dir: Path) -> None:
    item = load_pack(pack_dir).items("facts")[0]
    with pytest.raises(ValueError):
        item.answer = "changed"  # type: ignore[misc]


def test_missing_field_error_names_file_line_and_field(tmp_path: Path) -> None:
    rows = [_fact(1), _fact(2), {"id": "f3", "question": "Q?", "split": "train"}]
    _write(tmp_path / "facts.jsonl", rows)
    with pytest.raises(DataError) as err:
        load_pack(tmp_path)
    message = str(err.value)
    assert message == f"{tmp_path / 'facts.jsonl'}:3: field 'answer' missing"
    assert "\n" not in message


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ({"id": "a", "question": "Q", "answer": "A", "split": "test"}, "field 'split'"),
        ({"id": "a", "question": "  ", "answer": "A"}, "field 'question'"),
        ({"id": "a", "question": "Q", "answer": "A", "aliases": "x|y"}, "field 'aliases'"),
        ({"id": "a", "question": "Q", "answer": "A", "aliases": ["ok", ""]}, "field 'aliases.1'"),
    ],
)
def test_invalid_values_are_reported(tmp_path: Path, row: dict[str, object], fragment: str) -> None:
    _write(tmp_path / "facts.jsonl", [row])
    with pytest.raises(DataError, match=rf"facts\.jsonl:1: {fragment}"):
        load_pack(tmp_path)


def test_arithmetic_answer_must_be_a_number(tmp_path: Path) -> None:
    _write(tmp_path / "arithmetic.jsonl", [{"id": "a", "question": "1+1?", "answer": "two"}])
    with pytest.raises(DataError, match=r"arithmetic\.jsonl:1: field 'answer'"):
        load_pack(tmp_path)


def test_invalid_json_and_non_objects(tmp_path: Path) -> None:
    (tmp_path / "facts.jsonl").write_text(
        json.dumps(_fact(1)) + "\n\n{not json\n", encoding="utf-8"
    )
    with pytest.raises(DataError, match=r"facts\.jsonl:3: invalid JSON"):
        load_pack(tmp_path)
    (tmp_path / "facts.jsonl").write_text("[1, 2]\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"facts\.jsonl:1: expected a JSON object"):
        load_pack(tmp_path)


@pytest.mark.parametrize(
    "line",
    [
        '{"id": "n", "question": NaN, "answer": "a"}',  # asked the question "nan"
        '{"id": "m", "question": "q", "answer": 1e999}',  # expected the answer "inf"
        '{"id": ' + "9" * 5000 + ', "question": "q", "answer": "a"}',  # an internal error
    ],
)
def test_values_outside_json_are_refused_with_their_line(tmp_path: Path, line: str) -> None:
    (tmp_path / "facts.jsonl").write_text(line + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"facts\.jsonl:1: invalid JSON"):
        load_pack(tmp_path)


def test_duplicate_ids_within_a_kind(tmp_path: Path) -> None:
    _write(tmp_path / "facts.jsonl", [_fact(1), _fact(2), _fact(1)])
    with pytest.raises(DataError, match=r"facts\.jsonl:3: duplicate id 'f1' \(first on line 1\)"):
        load_pack(tmp_path)


def test_same_id_in_two_kinds_is_fine(tmp_path: Path) -> None:
    _write(tmp_path / "facts.jsonl", [_fact(1)])
    _write(tmp_path / "calibration.jsonl", [_fact(1)])
    pack = load_pack(tmp_path)
    assert pack.items("facts")[0].id == pack.items("calibration")[0].id == "f1"


def test_newer_schema_version_is_refused(pack_dir: Path) -> None:
    (pack_dir / "pack.json").write_text(json.dumps({"name": "x", "schema_version": 2}))
    with pytest.raises(DataError, match="schema_version 2 is newer"):
        load_pack(pack_dir)


@pytest.mark.parametrize("text", ["{bad", "[]", '{"schema_version": 0}'])
def test_malformed_manifest(pack_dir: Path, text: str) -> None:
    (pack_dir / "pack.json").write_text(text)
    with pytest.raises(DataError, match=r"pack\.json"):
        load_pack(pack_dir)


def test_unknown_jsonl_kind_is_an_error_naming_known_kinds(pack_dir: Path) -> None:
    _write(pack_dir / "fact.jsonl", [_fact(9)])
    with pytest.raises(DataError, match=r"unknown item kind 'fact' \(known kinds: facts,"):
        load_pack(pack_dir)


def test_other_files_are_ignored_with_a_debug_log(
    pack_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (pack_dir / "README.md").write_text("# notes")
    (pack_dir / "notes.txt").write_text("x")
    (pack_dir / ".facts.jsonl.swp").write_text("junk")
    (pack_dir / "sub").mkdir()
    with caplog.at_level(logging.DEBUG, logger="alignkit.data"):
        pack = load_pack(pack_dir)
    assert pack.counts() == {"arithmetic": 1, "facts": 3}
    logged = caplog.text
    assert "README.md" in logged and "notes.txt" in logged


def test_two_files_for_one_kind_is_an_error(pack_dir: Path) -> None:
    (pack_dir / "facts.csv").write_text("id,question,answer\nz,Q,A\n")
    with pytest.raises(DataError, match="both facts.csv and facts.jsonl"):
        load_pack(pack_dir)


def test_traffic_log_folder_without_manifest(tmp_path: Path) -> None:
    log = tmp_path / "traffic"
    log.mkdir()
    _write(
        log / "prompts.jsonl",
        [
            {"prompt": "hello there", "user": "u1", "ts": 1},
            {"id": "p7", "prompt": "second", "split": "train"},
        ],
    )
    pack = load_pack(log)
    assert pack.name == "traffic"
    prompts = pack.items("prompts")
    assert all(isinstance(p, PromptItem) for p in prompts)
    # a row without id gets <kind>-<line>; a row without split is heldout
    assert [(p.id, p.split) for p in prompts] == [
        ("prompts-1", Split.HELDOUT),
        ("p7", Split.TRAIN),
    ]
    assert load_pack(log, split="train").counts() == {"prompts": 1}


def test_a_traffic_log_in_chat_form_is_a_prompts_pack(tmp_path: Path) -> None:
    """Rows {id, messages} (what `guard check` reads) were refused as a prompts pack."""
    log = _write(
        tmp_path / "prompts.jsonl",
        [
            {"id": "r1", "messages": [{"role": "system", "content": "Be brief."},
                                      {"role": "user", "content": "first"},
                                      {"role": "assistant", "content": "ok"},
                                      {"role": "user", "content": "What is 2 + 2?"}]},
            {"id": "r2", "prompt": "plain form"},
        ],
    )  # fmt: skip
    items = load_pack(log).items("prompts")
    assert [it.prompt for it in items] == ["What is 2 + 2?", "plain form"]
    _write(log, [{"id": "r3", "messages": [{"role": "system", "content": "only"}]}])
    with pytest.raises(DataError, match="field 'prompt' missing"):
        load_pack(log)


def test_single_file_is_a_pack_of_its_stem_kind(tmp_path: Path) -> None:
    file = _write(tmp_path / "harmful.jsonl", [{"id": "h", "category": "c", "prompt": "p"}])
    pack = load_pack(file)
    assert pack.name == "harmful" and pack.path == file
    assert isinstance(pack.items("harmful")[0], HarmfulItem)
    other = _write(tmp_path / "traffic.jsonl", [{"prompt": "x"}])
    with pytest.raises(DataError, match="unknown item kind 'traffic'"):
        load_pack(other)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="must end in .jsonl or .csv"):
        load_pack(tmp_path / "notes.txt")


def test_csv_pack_with_aliases_and_blank_cells(tmp_path: Path) -> None:
    (tmp_path / "facts.csv").write_text(
        "id,question,answer,aliases,split\n"
        'c1,Capital of the USA?,"Washington, D.C.",Washington|Washington DC ,train\n'
        "c2,Capital of France?,Paris,,\n",
        encoding="utf-8",
    )
    (tmp_path / "nonexistent_entities.csv").write_text(
        "id,question,entity,split\nn1,Who founded Qorvath Labs?,Qorvath Labs,heldout\n"
    )
    pack = load_pack(tmp_path)
    c1, c2 = pack.items("facts")
    assert c1.answer == "Washington, D.C." and c1.aliases == ("Washington", "Washington DC")
    assert c2.aliases == () and c2.split is Split.HELDOUT
    entity = pack.items("nonexistent_entities")[0]
    assert isinstance(entity, NonexistentEntityItem) and entity.entity == "Qorvath Labs"


def test_csv_errors_name_the_physical_line(tmp_path: Path) -> None:
    (tmp_path / "facts.csv").write_text(
        'id,question,answer\nc1,"multi\nline question",A\nc2,Q,\n', encoding="utf-8"
    )
    with pytest.raises(DataError, match=r"facts\.csv:4: field 'answer' missing"):
        load_pack(tmp_path)


def test_a_quote_left_open_in_csv_is_refused_not_read_to_the_end(tmp_path: Path) -> None:
    """The open quote swallowed every later row into one question, without a word."""
    (tmp_path / "facts.csv").write_text(
        'id,question,answer\nc1,"Capital of France?,Paris\nc2,Q,A\nc3,Q,A\n', encoding="utf-8"
    )
    with pytest.raises(DataError, match=r"facts\.csv:4: unreadable CSV: .*quote left open"):
        load_pack(tmp_path)


def test_a_lone_surrogate_is_refused_with_its_line(tmp_path: Path) -> None:
    """Such text cannot be written back as UTF-8: a command failed later, on output."""
    pair = json.dumps(_fact(1, question="smile \U0001f600"))  # an escaped pair is fine
    lone = json.dumps(_fact(2)).replace('"answer": "', '"answer": "\\ud800')
    (tmp_path / "facts.jsonl").write_text(pair + "\n" + lone + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"facts\.jsonl:2: a lone surrogate"):
        load_pack(tmp_path)


def test_long_csv_cells_load_and_null_json_values_count_as_absent(tmp_path: Path) -> None:
    """A 140 kB cell crashed the loader (csv's 128 KiB limit); JSON null was a type error."""
    long_question = "Why " + "very " * 28_000 + "long?"
    (tmp_path / "facts.csv").write_text(f"id,question,answer\nc1,{long_question},A\n")
    assert load_pack(tmp_path).items("facts")[0].question == long_question
    (tmp_path / "facts.csv").unlink()
    _write(tmp_path / "facts.jsonl", [_fact(1, split=None, aliases=None)])  # type: ignore[arg-type]
    (item,) = load_pack(tmp_path).items("facts")
    assert item.split is Split.HELDOUT and item.aliases == ()


def test_pack_digest_follows_the_items_not_the_path(pack_dir: Path) -> None:
    first = load_pack(pack_dir)
    assert load_pack(pack_dir, split="train").digest() == first.digest()  # every split counts
    copy = pack_dir.parent / f"{pack_dir.name}-copy"
    copy.mkdir()
    for f in pack_dir.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    assert load_pack(copy).digest() == first.digest()
    _write(copy / "facts.jsonl", [_fact(1), _fact(2, "heldout")])
    assert load_pack(copy).digest() != first.digest()


@pytest.mark.parametrize("name", ["facts.json", "facts.tsv", "Facts.txt"])
def test_a_kind_file_with_another_suffix_is_an_error(pack_dir: Path, name: str) -> None:
    """It was ignored with a debug log: the check then ran on no items of that kind."""
    (pack_dir / name).write_text("{}")
    with pytest.raises(DataError, match="item files are <kind>.jsonl or <kind>.csv"):
        load_pack(pack_dir)


def test_missing_or_empty_pack(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no item pack"):
        load_pack(tmp_path / "nope")
    (tmp_path / "pack.json").write_text('{"name": "empty"}')
    with pytest.raises(DataError, match="no item files"):
        load_pack(tmp_path)


def test_bad_split_is_a_config_error(pack_dir: Path) -> None:
    with pytest.raises(ConfigError, match="unknown split 'test'"):
        load_pack(pack_dir, split="test")  # type: ignore[arg-type]


def test_write_jsonl_round_trips_byte_identically(tmp_path: Path) -> None:
    items = [
        FactItem(id="f1", question="Capital of Brazil?", answer="Brasília", aliases=("Brasilia",)),
        FactItem(id="f2", question="Q?", answer="A", split=Split.TRAIN),
    ]
    out = tmp_path / "out" / "facts.jsonl"
    assert write_jsonl(items, out) == 2
    first = out.read_bytes()
    assert first.decode("utf-8").splitlines()[0] == (
        '{"id": "f1", "question": "Capital of Brazil?", "answer": "Brasília",'
        ' "aliases": ["Brasilia"], "split": "heldout"}'
    )
    loaded = load_pack(out).items("facts")
    assert list(loaded) == items
    write_jsonl(loaded, out)
    assert out.read_bytes() == first
    assert [p.name for p in out.parent.iterdir()] == ["facts.jsonl"]  # no temp files left


def test_pack_repr_and_counts_are_informative(pack_dir: Path) -> None:
    pack = load_pack(pack_dir)
    assert isinstance(pack, ItemPack)
    assert repr(pack) == "ItemPack('mine', split='all', arithmetic=1, facts=3)"


def test_csv_without_a_header_row_is_refused(tmp_path: Path) -> None:
    """Its first item was read as the header: a one-row file loaded no item, silently."""
    (tmp_path / "facts.csv").write_text("What is the capital of France?,Paris\n")
    with pytest.raises(DataError, match=r"facts.csv:1: the first row must name the columns; "
                       r"no 'question' or 'answer' column"):  # fmt: skip
        load_pack(tmp_path)
    (tmp_path / "facts.csv").write_text("question,answer\n")  # a header and no rows: empty
    assert load_pack(tmp_path).items("facts") == ()


def test_a_csv_row_with_more_cells_than_the_header_is_refused(tmp_path: Path) -> None:
    """An unquoted comma shifted a row's cells: the overflow was dropped, the rest misread
    as other columns, silently. Trailing empty cells (spreadsheet exports) are fine."""
    (tmp_path / "facts.csv").write_text(
        "id,question,answer\nc1,Q,A,,\nc2,Capital of Arden, the old one?,Elm\n", encoding="utf-8"
    )
    with pytest.raises(DataError, match=r"facts\.csv:3: 4 fields, the header has 3"):
        load_pack(tmp_path)
