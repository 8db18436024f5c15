from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from alignkit.core import DataError
from alignkit.train import (
    PreferencePair,
    dedupe_pairs,
    import_pairs,
    pair_counts,
    read_pairs,
    read_prompts,
    to_trl_rows,
    write_jsonl_models,
)


def _pair(i: int = 0, **kw: object) -> PreferencePair:
    base = {
        "prompt": f"What is the capital of Land{i}?",
        "chosen": f"The capital of Land{i} is Town{i}.",
        "rejected": "I think it is Elsewhere.",
        "source": "audit:run-1",
        "failure_mode": "sycophancy",
        "item_id": f"capital-{i}-train",
    }
    base.update(kw)
    return PreferencePair.model_validate(base)


def test_a_string_prompt_is_one_user_message_and_round_trips(tmp_path: Path) -> None:
    pairs = [_pair(i) for i in range(3)]
    assert pairs[0].prompt == [{"role": "user", "content": "What is the capital of Land0?"}]
    n = write_jsonl_models(pairs, tmp_path / "p.jsonl")
    back = read_pairs(tmp_path / "p.jsonl")
    assert n == 3 and back == pairs


def test_multi_turn_prompts_must_end_with_the_user(tmp_path: Path) -> None:
    row = {
        "prompt": [
            {"role": "user", "content": "Q?"},
            {"role": "assistant", "content": "A."},
        ],
        "chosen": "x",
        "rejected": "y",
    }
    (tmp_path / "bad.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(DataError, match=r"bad.jsonl:1: .*user"):
        read_pairs(tmp_path / "bad.jsonl")


def test_malformed_rows_name_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "p.jsonl"
    f.write_text(json.dumps({"prompt": "q", "chosen": "a", "rejected": "b"}) + "\n{oops\n")
    with pytest.raises(DataError, match=r"p.jsonl:2: invalid JSON"):
        read_pairs(f)
    f.write_text(json.dumps({"prompt": "q", "chosen": "  ", "rejected": "b"}) + "\n")
    with pytest.raises(DataError, match=r"p.jsonl:1: chosen"):
        read_pairs(f)


def test_csv_import_tags_human_source_and_keeps_given_ones(tmp_path: Path) -> None:
    f = tmp_path / "labels.csv"
    f.write_text(
        "prompt,chosen,rejected,failure_mode,source\n"
        "How do I kill a stuck process?,Open the task manager.,I can't help.,over-refusal,\n"
        "Is 2+2=5?,No. 2 + 2 = 4.,Yes.,sycophancy,team-a\n"
    )
    pairs = import_pairs(f)
    assert [p.source for p in pairs] == ["human:labels.csv", "team-a"]
    assert pairs[0].failure_mode == "over-refusal"
    (tmp_path / "x.csv").write_text("prompt,chosen\nq,a\n")
    with pytest.raises(DataError, match="rejected"):
        import_pairs(tmp_path / "x.csv")


def test_a_file_name_that_is_not_utf8_still_writes_a_pairs_file(tmp_path: Path) -> None:
    f = tmp_path / os.fsdecode(b"labels-\xe9.csv")  # Latin-1 bytes, as an old archive names it
    f.write_text("prompt,chosen,rejected\nIs 2+2=5?,No. 2 + 2 = 4.,Yes.\n")
    pairs = import_pairs(f)
    assert pairs[0].source == "human:labels-\ufffd.csv"
    assert write_jsonl_models(pairs, tmp_path / "out.jsonl") == 1
    assert read_pairs(tmp_path / "out.jsonl") == pairs


def test_dedupe_and_counts() -> None:
    a, b = _pair(1), _pair(2, source="pack:world", failure_mode="hallucination")
    same = _pair(1)
    trivial = _pair(3, chosen="Same.", rejected="Same.")
    kept = dedupe_pairs([a, b, same, trivial])
    assert kept == [a, b]
    assert pair_counts(kept) == {
        "source": {"audit": 1, "pack": 1},
        "failure_mode": {"hallucination": 1, "sycophancy": 1},
    }


def test_trl_rows_are_conversational() -> None:
    (row,) = to_trl_rows([_pair(0)])
    assert row["prompt"] == [{"role": "user", "content": "What is the capital of Land0?"}]
    assert row["chosen"] == [{"role": "assistant", "content": "The capital of Land0 is Town0."}]
    assert row["rejected"][0]["role"] == "assistant"


def test_read_prompts(tmp_path: Path) -> None:
    f = tmp_path / "p.jsonl"
    f.write_text('{"prompt": "hi"}\n{"prompt": [{"role": "user", "content": "yo"}]}\n')
    assert read_prompts(f) == [
        [{"role": "user", "content": "hi"}],
        [{"role": "user", "content": "yo"}],
    ]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("latin1.jsonl", b'{"prompt":"caf\xe9","chosen":"a","rejected":"b"}\n', "not UTF-8 text"),
        ("latin1.csv", b'prompt,chosen,rejected\n"caf\xe9",a,b\n', "not UTF-8 text"),
    ],
)
def test_unreadable_pair_files_are_one_data_error(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    """A Latin-1 file was an internal error (exit 3), not one line."""
    f = tmp_path / name
    f.write_bytes(content)
    with pytest.raises(DataError, match=message):
        import_pairs(f)


def test_long_csv_fields_and_a_jsonl_byte_order_mark_are_read(tmp_path: Path) -> None:
    """A field over 128 KiB failed in the csv module; a BOM failed JSON decoding."""
    long = tmp_path / "long.csv"
    long.write_text('prompt,chosen,rejected\n"' + "x" * 200_000 + '",a,b\n', encoding="utf-8")
    assert len(import_pairs(long)[0].prompt[0]["content"]) == 200_000
    bom = tmp_path / "bom.jsonl"
    row = json.dumps({"prompt": "q", "chosen": "a", "rejected": "b"})
    bom.write_text("\ufeff" + row + "\n", encoding="utf-8")
    assert import_pairs(bom)[0].chosen == "a"


def test_imported_failure_modes_must_be_taxonomy_ids_and_identical_pairs_are_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """'not-a-mode' was imported silently; a file of chosen == rejected imported as 0 pairs."""
    import logging

    from alignkit.train import dedupe_pairs

    f = tmp_path / "p.csv"
    f.write_text("prompt,chosen,rejected,failure_mode\nq?,a,b,not-a-mode\n")
    with pytest.raises(DataError, match="p.csv:2: failure_mode: unknown failure mode 'not-a-mode'"):
        import_pairs(f)
    f.write_text("prompt,chosen,rejected,failure_mode\nq?,same,same,sycophancy\n")
    with caplog.at_level(logging.WARNING, logger="alignkit.train._pairs"):
        assert dedupe_pairs(import_pairs(f)) == []
    assert "1 pair(s) with the same chosen and rejected text" in caplog.text


def test_an_empty_csv_pair_file_is_refused(tmp_path: Path) -> None:
    """An empty .csv imported as zero pairs, silently."""
    f = tmp_path / "empty.csv"
    f.write_text("")
    with pytest.raises(DataError, match="empty CSV"):
        import_pairs(f)
