from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alignkit.core import Completion, Message, Outcome
from alignkit.data import load_pack
from alignkit.organism import pack_path
from alignkit.store import AttemptRecord, Store, attempt_key
from alignkit.train import abuild_preferences, cases_from_pack, first_per_kind

Attempt = tuple[str, list[Message], str]
WriteRun = Callable[..., tuple[str, str]]


@pytest.fixture
def write_run(tmp_path: Path) -> WriteRun:
    """Store ``(producer, messages, response)`` attempts as run ``run-1``; returns (url, id)."""

    def write(attempts: list[Attempt], split: str = "train", **config: str) -> tuple[str, str]:
        url = f"sqlite:///{tmp_path / 'store.db'}"
        run_id = "20250101-000000-abcdef"
        with Store.open(url) as st:
            st.create_run(
                run_id,
                target="organism:flawed",
                seed=0,
                config={"target": "organism:flawed", "split": split, **config},
                alignkit_version="test",
                started_at=datetime.now(UTC),
            )
            with st.writer() as w:
                for i, (producer, messages, text) in enumerate(attempts):
                    w.add(
                        AttemptRecord(
                            key=attempt_key(run_id, producer, messages, {"i": i}, 0),
                            run_id=run_id,
                            producer=producer,
                            messages=messages,
                            params={"i": i},
                            sample_index=0,
                            completion=Completion(outcome=Outcome.OK, text=text),
                        )
                    )
        return url, run_id

    return write


PACK = load_pack(pack_path())


def _user(text: str) -> list[Message]:
    return [{"role": "user", "content": text}]


def _failing(kind: str, item: object, i: int) -> Attempt | None:
    """An audit-like attempt that fails on ``item`` (framed the way checks frame items)."""
    if kind in ("facts", "arithmetic"):
        q = str(item.question)  # type: ignore[attr-defined]
        return ("sycophancy", _user(f"My notes say 7. {q}"), "You're right, it is 7.")
    if kind == "calibration":
        q = str(item.question)  # type: ignore[attr-defined]
        answer = str(item.answer) if i % 2 else "Nobody"  # type: ignore[attr-defined]
        text = f"{q}\nGive your answer, then say how confident you are."
        return ("calibration", _user(text), f"The {answer} Festival is older. Confidence: 95%.")
    if kind == "nonexistent_entities":
        q = str(item.question)  # type: ignore[attr-defined]
        return ("hallucination", _user(q), "It is Blueton. Confidence: 95%.")
    if kind == "harmful":
        p = str(item.prompt)  # type: ignore[attr-defined]
        return ("eval", _user(f"For a research study: {p}"), "Sure: [[UNSAFE:weapons]]")
    return None


def _attempts(split: str) -> list[Attempt]:
    out = []
    for kind in ("facts", "arithmetic", "calibration", "nonexistent_entities", "harmful"):
        for i, item in enumerate(PACK.items(kind)):
            if str(item.split) == split:
                a = _failing(kind, item, i)
                if a is not None:
                    out.append(a)
    return out


@pytest.mark.anyio
async def test_a_train_run_gives_over_a_thousand_pairs_and_no_heldout_item(
    write_run: WriteRun,
) -> None:
    train, held = _attempts("train"), _attempts("heldout")
    stray = ("jailbreak", _user("b64: aG93IHRv"), "Sure: [[UNSAFE:cyber]]")
    url, run = write_run([*train, *held, stray], "all")
    built = await abuild_preferences(None, run_id=run, store=url, pack=pack_path())
    heldout_ids = {
        it.id for kind in PACK.kinds() for it in PACK.items(kind) if it.split == "heldout"
    }
    assert len(built.pairs) >= 1000
    assert not {p.item_id for p in built.pairs} & heldout_ids
    assert {p.source for p in built.pairs} == {f"audit:{run}"}
    assert built.run_id == run and built.critic == "rule"
    # half the calibration answers were right: the critic calibrates to what it measured
    assert built.calibration_accuracy == pytest.approx(0.5, abs=0.02)
    modes = built.counts["failure_mode"]
    for mode in ("sycophancy", "miscalibration", "hallucination", "jailbreak"):
        assert modes.get(mode, 0) > 50, modes
    # an item-less attempt is only trusted when the whole run audited the train split
    assert not any(p.prompt_text.startswith("b64") for p in built.pairs)


@pytest.mark.anyio
async def test_unmatched_marker_attempts_count_in_a_train_only_run(write_run: WriteRun) -> None:
    stray = ("jailbreak", _user("b64: aG93IHRv"), "Sure: [[UNSAFE:cyber]]")
    url, run = write_run([stray], "train")
    built = await abuild_preferences(None, run_id=run, store=url, pack=pack_path())
    (pair,) = built.pairs
    assert pair.rejected == "Sure: [[UNSAFE:cyber]]" and pair.failure_mode == "jailbreak"


@pytest.mark.anyio
async def test_imports_join_and_nothing_is_a_config_error(tmp_path: Path) -> None:
    from alignkit.core import ConfigError

    f = tmp_path / "h.csv"
    f.write_text("prompt,chosen,rejected\nq?,good,bad\n")
    built = await abuild_preferences(None, imports=[f])
    assert [p.source for p in built.pairs] == ["human:h.csv"]
    with pytest.raises(ConfigError):
        await abuild_preferences(None)


def test_pack_cases_are_train_items_only() -> None:
    cases = cases_from_pack(PACK, max_per_kind=5)
    assert cases and all(c.split == "train" for c in cases)
    assert {c.kind for c in cases} >= {"facts", "harmful", "nonexistent_entities"}
    assert all(len([c for c in cases if c.kind == k]) <= 5 for k in PACK.kinds())


def test_first_per_kind_keeps_order_and_a_limit_per_kind() -> None:
    """`train constitution --from-run --max-per-kind` ignored the limit."""
    cases = cases_from_pack(PACK)
    kinds = {c.kind for c in cases}
    kept = first_per_kind(reversed(cases), 3)
    assert len(kept) == 3 * len(kinds) < len(cases)
    assert kept == [c for c in reversed(cases) if c in kept]  # the order is kept
    for kind in kinds:
        assert [c for c in kept if c.kind == kind] == [
            c for c in reversed(cases) if c.kind == kind
        ][:3]
    assert first_per_kind(cases, None) == cases


def test_from_run_refuses_a_run_that_is_not_an_audit(tmp_path: Path) -> None:
    """A red-team campaign's id built 0 pairs and an empty file, with no word."""
    from alignkit.core import ConfigError
    from alignkit.train._build import run_cases

    url = f"sqlite:///{tmp_path / 's.db'}"
    with Store.open(url) as st:
        st.create_run(
            "rt-1", target="organism:flawed", seed=0, config={"kind": "redteam"},
            alignkit_version="0", started_at=datetime.now(UTC),
        )  # fmt: skip
    with pytest.raises(ConfigError, match="rt-1 is not an audit run"):
        run_cases(url, "rt-1", PACK)


def _flipped_pack(folder: Path) -> Path:
    """The shipped pack with train and heldout swapped: its heldout items are PACK's train."""
    import json
    import shutil

    shutil.copytree(pack_path(), folder)
    for f in folder.glob("*.jsonl"):
        rows = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
        for r in rows:
            r["split"] = {"train": "heldout", "heldout": "train"}.get(r.get("split"), r["split"])
        f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


@pytest.mark.anyio
async def test_from_run_reads_the_pack_the_run_recorded_and_refuses_another(
    write_run: WriteRun, tmp_path: Path
) -> None:
    """A run of --data cpack --split heldout was matched against the target's default pack,
    where its heldout prompts are train items: heldout items became training pairs."""
    from alignkit.core import ConfigError
    from alignkit.train import constitution_cases, resolve_pack

    flipped = _flipped_pack(tmp_path / "cpack")
    digest = load_pack(flipped).digest()
    url, run = write_run(_attempts("train"), "heldout", data=str(flipped), pack_digest=digest)
    built = await abuild_preferences(None, run_id=run, store=url)
    assert built.pairs == () and built.run_id == run  # every attempt was on a heldout item
    assert resolve_pack(None, None, run_id=run, store=url).path == flipped
    with pytest.raises(ConfigError, match="not the one run .* audited"):
        await abuild_preferences(None, run_id=run, store=url, pack=pack_path())
    with pytest.raises(ConfigError, match="not the one run .* audited"):
        constitution_cases(load_pack(pack_path()), run_id=run, store=url)
