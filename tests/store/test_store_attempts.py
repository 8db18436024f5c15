"""Attempt keys and the batched writer: once per key, timely commits, threads and asyncio."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import anyio
import pytest

from alignkit.core import Completion, Decoding, Message, Outcome, StoreError, TokenLogprob
from alignkit.store import AttemptRecord, AttemptWriter, Store, attempt_key

RUN = "run-0001"
MakeAttempt = Callable[..., AttemptRecord]
MESSAGES: list[Message] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Capital of Ruritania? ünïcode"},
]


def _eventually(predicate: Callable[[], bool], timeout_s: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_attempt_key_is_sha256_of_canonical_json() -> None:
    params = {"temperature": 0.0, "max_tokens": 16}
    canonical = json.dumps(
        {
            "messages": MESSAGES,
            "params": params,
            "producer": "capability.facts",
            "run_id": RUN,
            "sample_index": 2,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    assert "ünïcode" not in canonical  # ASCII-escaped, so the bytes do not depend on locale
    expected = hashlib.sha256(canonical.encode()).hexdigest()
    assert attempt_key(RUN, "capability.facts", MESSAGES, params, 2) == expected


def test_attempt_key_depends_on_values_not_order() -> None:
    base: dict[str, Any] = {"temperature": 0.7, "top_p": 0.9, "extra": {"b": 1, "a": 2}}
    shuffled = {"extra": {"a": 2, "b": 1}, "top_p": 0.9, "temperature": 0.7}
    key = attempt_key(RUN, "p", MESSAGES, base, 0)
    assert key == attempt_key(RUN, "p", MESSAGES, shuffled, 0)
    variants = {
        attempt_key("run-0002", "p", MESSAGES, base, 0),
        attempt_key(RUN, "q", MESSAGES, base, 0),
        attempt_key(RUN, "p", MESSAGES[1:], base, 0),
        attempt_key(RUN, "p", MESSAGES, {**base, "temperature": 0.8}, 0),
        attempt_key(RUN, "p", MESSAGES, base, 1),
    }
    assert key not in variants
    assert len(variants) == 5


def test_attempt_key_accepts_common_parameter_types() -> None:
    a = attempt_key(RUN, "p", MESSAGES, {"decoding": Decoding(temperature=0.5)}, 0)
    b = attempt_key(RUN, "p", MESSAGES, {"decoding": Decoding(temperature=0.5)}, 0)
    c = attempt_key(RUN, "p", MESSAGES, {"decoding": Decoding(temperature=0.6)}, 0)
    assert a == b != c
    with pytest.raises(StoreError, match="JSON"):
        attempt_key(RUN, "p", MESSAGES, {"bad": object()}, 0)


def test_records_round_trip(store: Store) -> None:
    completion = Completion(
        outcome=Outcome.OK,
        text="Strelsau",
        latency_s=0.25,
        logprobs=[TokenLogprob(token="Strel", logprob=float("-inf"), top={"Strel": -0.1})],
    )
    record = AttemptRecord(
        key=attempt_key(RUN, "capability.facts", MESSAGES, {"t": 0.0}, 0),
        run_id=RUN,
        producer="capability.facts",
        messages=MESSAGES,
        params={"t": 0.0},
        sample_index=0,
        completion=completion,
    )
    blocked = AttemptRecord(
        key=attempt_key(RUN, "jailbreak", MESSAGES, {}, 0),
        run_id=RUN,
        producer="jailbreak",
        messages=MESSAGES,
        params={},
        sample_index=0,
        completion=Completion(outcome=Outcome.BLOCKED, error="policy"),
    )
    with store.writer() as writer:
        writer.add(record)
        writer.add(blocked)
    assert store.attempts(RUN) == {record.key: record, blocked.key: blocked}
    assert store.attempts(RUN, producer="jailbreak") == {blocked.key: blocked}
    assert store.attempts("other-run") == {}
    assert store.count_attempts(RUN) == 2


def test_a_key_is_stored_once(store: Store, make_attempt: MakeAttempt) -> None:
    first = make_attempt(1)
    again = make_attempt(1, text="a different answer")
    assert first.key == again.key
    with store.writer() as writer:
        writer.add(first)
        writer.add(again)  # same batch
        writer.flush()
        writer.add(again)  # a later batch
    with store.writer() as other:
        other.add(first)  # another writer
    stored = store.attempts(RUN)
    assert list(stored) == [first.key]
    assert stored[first.key].completion.text == "answer 1"


def test_batches_wait_for_size_or_age(
    store: Store, store_url: str, make_attempt: MakeAttempt
) -> None:
    with Store.open(store_url) as reader:  # a second connection pool: sees commits only
        writer = store.writer(flush_every=5, flush_interval_s=30.0)
        for i in range(4):
            writer.add(make_attempt(i))
        time.sleep(0.3)
        assert reader.count_attempts(RUN) == 0
        assert writer.pending == 4
        writer.add(make_attempt(4))  # the fifth fills the batch
        assert _eventually(lambda: reader.count_attempts(RUN) == 5)
        writer.close()


def test_a_quiet_period_still_flushes(
    store: Store, store_url: str, make_attempt: MakeAttempt
) -> None:
    with Store.open(store_url) as reader:
        writer = store.writer(flush_every=1000, flush_interval_s=0.05)
        for i in range(3):
            writer.add(make_attempt(i))
        # No further add, flush or close: only the timer thread can commit these.
        assert _eventually(lambda: reader.count_attempts(RUN) == 3)
        assert writer.pending == 0
        writer.close()


def test_reads_through_the_store_see_buffered_attempts(
    store: Store, make_attempt: MakeAttempt
) -> None:
    writer = store.writer(flush_every=1000, flush_interval_s=30.0)
    writer.add(make_attempt(0))
    assert store.count_attempts(RUN) == 1
    assert writer.pending == 0


def test_closing_the_store_commits_open_writers(
    store_url: str, store: Store, make_attempt: MakeAttempt
) -> None:
    writer = store.writer(flush_every=1000, flush_interval_s=30.0)
    for i in range(10):
        writer.add(make_attempt(i))
    store.close()
    with pytest.raises(StoreError, match="closed"):
        writer.add(make_attempt(99))
    with Store.open(store_url) as again:
        assert again.count_attempts(RUN) == 10


def test_unstorable_record_is_refused_at_add(store: Store, make_attempt: MakeAttempt) -> None:
    good = make_attempt(0)
    bad = AttemptRecord(
        key="k",
        run_id=RUN,
        producer="p",
        messages=MESSAGES,
        params={"x": object()},
        sample_index=0,
        completion=good.completion,
    )
    with store.writer() as writer:
        with pytest.raises(StoreError, match="JSON"):
            writer.add(bad)
        writer.add(good)
    assert list(store.attempts(RUN)) == [good.key]


def test_writer_arguments_are_checked(store: Store) -> None:
    with pytest.raises(StoreError, match="flush_every"):
        store.writer(flush_every=0)
    with pytest.raises(StoreError, match="flush_interval_s"):
        store.writer(flush_interval_s=0)


def test_a_failed_flush_keeps_its_rows(make_attempt: MakeAttempt) -> None:
    delivered: list[list[dict[str, Any]]] = []
    failures = [StoreError("disk I/O error")]

    def sink(rows: list[dict[str, Any]]) -> None:
        if failures:
            raise failures.pop()
        delivered.append(rows)

    writer = AttemptWriter(sink, flush_every=1000, flush_interval_s=60.0)
    writer.add(make_attempt(0))
    writer.add(make_attempt(1))
    with pytest.raises(StoreError, match="disk I/O"):
        writer.flush()
    assert writer.pending == 2
    with pytest.raises(StoreError, match="disk I/O"):
        writer.add(make_attempt(2))  # the failure is reported until a flush succeeds
    writer.flush()
    writer.add(make_attempt(2))
    writer.close()
    assert [[r["key"] for r in batch] for batch in delivered] == [
        [make_attempt(0).key, make_attempt(1).key],
        [make_attempt(2).key],
    ]


def test_threads_write_while_others_read(store: Store, make_attempt: MakeAttempt) -> None:
    errors: list[BaseException] = []
    done = threading.Event()

    def produce(offset: int) -> None:
        try:
            with store.writer(flush_every=16, flush_interval_s=0.01) as writer:
                for i in range(400):
                    writer.add(make_attempt(offset + i))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def consume() -> None:
        try:
            while not done.is_set():
                store.count_attempts(RUN)
                store.list_runs()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    producers = [threading.Thread(target=produce, args=(k * 10_000,)) for k in range(3)]
    reader = threading.Thread(target=consume)
    reader.start()
    for t in producers:
        t.start()
    for t in producers:
        t.join()
    done.set()
    reader.join()
    assert errors == []
    assert store.count_attempts(RUN) == 1200


@pytest.mark.anyio
async def test_writer_from_asyncio_tasks(store: Store, make_attempt: MakeAttempt) -> None:
    seen: list[int] = []
    with store.writer(flush_every=8, flush_interval_s=0.02) as writer:

        async def request(i: int) -> None:
            await anyio.sleep(0.001 * (i % 7))
            writer.add(make_attempt(i))

        async def watch() -> None:
            for _ in range(5):
                seen.append(len(store.attempts(RUN)))
                await anyio.sleep(0.005)

        async with anyio.create_task_group() as tg:
            tg.start_soon(watch)
            for i in range(300):
                tg.start_soon(request, i)
    assert seen == sorted(seen)
    assert store.count_attempts(RUN) == 300


def test_two_stores_on_one_file_write_concurrently(
    store: Store, store_url: str, make_attempt: MakeAttempt
) -> None:
    """Separate engines contend on SQLite's own lock (as two processes would)."""
    errors: list[BaseException] = []

    def produce(target: Store, offset: int) -> None:
        try:
            with target.writer(flush_every=4, flush_interval_s=0.005) as writer:
                for i in range(300):
                    writer.add(make_attempt(offset + i))
            target.mark_run(RUN, "running")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    with Store.open(store_url) as other:
        threads = [
            threading.Thread(target=produce, args=(store, 0)),
            threading.Thread(target=produce, args=(other, 100_000)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert other.count_attempts(RUN) == 600
