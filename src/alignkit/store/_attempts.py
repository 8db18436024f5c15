"""Attempts: the deterministic key, the record, and the batched background writer.

Every request a check or campaign sends is stored as an attempt keyed by
:func:`attempt_key`, so a resumed run can skip what is already stored (DESIGN §4).
:class:`AttemptWriter` buffers records and commits them in batches — when
``flush_every`` are buffered or the oldest has waited ``flush_interval_s`` — from a
background thread, so that attempts are committed as they complete and a killed
process loses at most the last fraction of a second.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, cast

from alignkit.core import Completion, Message, StoreError
from alignkit.store._json import canonical_json, model_json

__all__ = [
    "AttemptRecord",
    "AttemptWriter",
    "attempt_from_row",
    "attempt_key",
    "attempt_row",
    "request_seed",
]

logger = logging.getLogger("alignkit.store")


def attempt_key(
    run_id: str,
    producer: str,
    messages: list[Message],
    params: Mapping[str, Any],
    sample_index: int,
) -> str:
    """The attempt's key: sha256 (hex) of the canonical JSON of all its arguments.

    The JSON is the object ``{"messages", "params", "producer", "run_id",
    "sample_index"}`` with sorted keys and no whitespace, so the key depends only on
    the values, never on the order a mapping was built in.
    """
    payload = {
        "run_id": run_id,
        "producer": producer,
        "messages": list(messages),
        "params": dict(params),
        "sample_index": sample_index,
    }
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def request_seed(
    run_seed: int,
    producer: str,
    messages: list[Message],
    params: Mapping[str, Any],
    sample_index: int,
) -> int:
    """The sampling seed of one request: from the run seed and the request, not the run id.

    A resumed run sends a missing request with the same seed, so it gets the same text,
    and two runs with the same seed send every request with the same seed (DESIGN §10:
    the same seed gives the same result).
    """
    content = attempt_key("", producer, messages, params, sample_index)
    digest = hashlib.sha256(f"{run_seed}:{content}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


@dataclass(frozen=True)
class AttemptRecord:
    """One stored request and its completion.

    Attributes:
        key: :func:`attempt_key` of the fields below.
        run_id: the run that sent it.
        producer: the check or campaign id that sent it.
        messages: the conversation sent.
        params: decoding and other parameters that change the answer.
        sample_index: which draw of several for the same input (0 for the first).
        completion: what came back (errors and blocks included).
    """

    key: str
    run_id: str
    producer: str
    messages: list[Message]
    params: dict[str, Any]
    sample_index: int
    completion: Completion


def attempt_row(record: AttemptRecord, created_at: datetime) -> dict[str, Any]:
    """The ``attempts`` table row for ``record``."""
    return {
        "key": record.key,
        "run_id": record.run_id,
        "producer": record.producer,
        "sample_index": record.sample_index,
        "messages": canonical_json(list(record.messages)),
        "params": canonical_json(record.params),
        "outcome": record.completion.outcome.value,
        "text": record.completion.text,
        "completion": model_json(record.completion),
        "created_at": created_at,
    }


def attempt_from_row(row: Mapping[Any, Any]) -> AttemptRecord:
    """Rebuild a record from its ``attempts`` row."""
    return AttemptRecord(
        key=str(row["key"]),
        run_id=str(row["run_id"]),
        producer=str(row["producer"]),
        messages=cast(list[Message], json.loads(row["messages"])),
        params=cast(dict[str, Any], json.loads(row["params"])),
        sample_index=int(row["sample_index"]),
        completion=Completion.model_validate_json(row["completion"]),
    )


Sink = Callable[[list[dict[str, Any]]], None]
_LIVE: weakref.WeakSet[AttemptWriter] = weakref.WeakSet()
_LIVE_LOCK = threading.Lock()


class AttemptWriter:
    """Buffers attempts and commits them in batches, from a background thread too.

    :meth:`add` never touches the database: it buffers the record and wakes the
    writer thread when ``flush_every`` records are waiting or the oldest has waited
    ``flush_interval_s``; the thread also wakes by itself, so a quiet period still
    flushes. A key is stored once, however often it is added. A failed flush keeps
    its records for the next try; the error is raised by the next :meth:`add`,
    :meth:`flush` or :meth:`close` unless a later flush succeeds first. Safe to use
    from any thread and from asyncio code. Writers still open at interpreter exit
    are flushed then.
    """

    def __init__(self, sink: Sink, *, flush_every: int = 64, flush_interval_s: float = 0.2):
        if flush_every < 1 or flush_interval_s <= 0:
            raise StoreError(
                "attempt writer needs flush_every >= 1 and flush_interval_s > 0, "
                f"got {flush_every} and {flush_interval_s}"
            )
        self._sink = sink
        self.flush_every = flush_every
        self.flush_interval_s = flush_interval_s
        self._buffer: dict[str, dict[str, Any]] = {}  # attempts rows by key
        self._oldest: float | None = None  # monotonic time the oldest buffered row arrived
        self._error: StoreError | None = None
        self._closed = False
        self._cond = threading.Condition()
        self._io_lock = threading.Lock()  # one flush at a time
        self._thread = threading.Thread(
            target=self._run, name="alignkit-attempt-writer", daemon=True
        )
        self._thread.start()
        with _LIVE_LOCK:
            _LIVE.add(self)

    @property
    def pending(self) -> int:
        """How many records are buffered and not yet committed."""
        with self._cond:
            return len(self._buffer)

    def add(self, record: AttemptRecord) -> None:
        """Buffer ``record``; the writer thread commits it soon.

        Raises:
            StoreError: the writer is closed, the record cannot be stored (parameters
                that are not JSON), or the last flush failed and none has succeeded since.
        """
        row = attempt_row(record, datetime.now(UTC))
        with self._cond:
            if self._closed:
                raise StoreError("attempt writer is closed")
            if self._error is not None:
                raise self._error
            if record.key not in self._buffer:
                self._buffer[record.key] = row
                if self._oldest is None:  # the thread sleeps without a deadline: set one
                    self._oldest = time.monotonic()
                    self._cond.notify_all()
            if self._due():
                self._cond.notify_all()

    def flush(self) -> None:
        """Commit everything buffered now; :class:`StoreError` (records kept) on failure."""
        with self._io_lock:
            with self._cond:
                batch = list(self._buffer.values())
                oldest = self._oldest
                self._buffer = {}
                self._oldest = None
            if not batch:
                return
            try:
                self._sink(batch)
            except Exception as exc:
                error = exc if isinstance(exc, StoreError) else StoreError(str(exc))
                with self._cond:
                    restored = {row["key"]: row for row in batch}
                    restored.update(self._buffer)
                    self._buffer = restored
                    self._oldest = oldest
                    self._error = error
                if error is exc:
                    raise
                raise error from exc
            with self._cond:
                self._error = None

    def close(self) -> None:
        """Stop the writer thread and commit what is left (idempotent)."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join()
        with _LIVE_LOCK:
            _LIVE.discard(self)
        self.flush()

    def __enter__(self) -> AttemptWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _due(self) -> bool:
        """Whether the buffer should be committed now (caller holds ``_cond``)."""
        if not self._buffer or self._oldest is None:
            return False
        if len(self._buffer) >= self.flush_every:
            return True
        return time.monotonic() - self._oldest >= self.flush_interval_s

    def _wait_s(self) -> float | None:
        """How long the thread may sleep before the buffer falls due (``_cond`` held)."""
        if self._oldest is None:
            return None
        return max(0.0, self._oldest + self.flush_interval_s - time.monotonic())

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and not self._due():
                    self._cond.wait(self._wait_s())
                if self._closed:
                    return
            try:
                self.flush()
            except StoreError as exc:
                logger.warning("attempt writer: flush failed, retrying: %s", exc)
                with self._cond:  # back off instead of spinning on a broken store
                    self._cond.wait_for(lambda: self._closed, timeout=1.0)


def _close_live_writers() -> None:
    with _LIVE_LOCK:
        writers = list(_LIVE)
    for writer in writers:
        try:
            writer.close()
        except StoreError as exc:
            logger.error("attempt writer: %d attempts not stored at exit: %s", writer.pending, exc)


atexit.register(_close_live_writers)
