"""The traffic monitor in a worker process, for ``alignkit serve``.

Labelling answers and updating the drift and rate detectors is about a third of the
guard's CPU under load. In a thread it competes with the event loop for the GIL; in a
worker process it runs on another core and the server only pickles each batch across.
:class:`MonitorProcess` keeps one such process (spawned, so no server thread or lock is
inherited) holding the :class:`~alignkit.monitor.TrafficMonitor`; each
:meth:`MonitorProcess.process` call sends a batch and waits for the monitor's answer.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import signal
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from alignkit.core import Finding, exit_when_orphaned
from alignkit.monitor import TrafficConfig, TrafficMonitor, TrafficRecord
from alignkit.scoring import find_deflection, find_refusal

__all__ = [
    "Batch",
    "Labeller",
    "MonitorProcess",
    "MonitorReply",
    "label",
    "paced_batch",
    "run_batch",
]

Batch = Sequence[tuple[TrafficRecord, str]]
"""Records with the prompt each answered (the classifier reads both)."""


@dataclass(frozen=True)
class MonitorReply:
    """What the monitor says after a batch.

    Attributes:
        fresh: Findings of metrics that newly alarmed.
        findings: Every metric's current finding (None: nothing to report yet).
        requests: Requests the monitor has seen.
    """

    fresh: list[Finding]
    findings: list[Finding] | None
    requests: int


class Labeller:
    """Whether an answer is a refusal, by the shared response classifier's rule tier.

    That tier says ``refused`` only for an answer holding a refusal or deflection phrase,
    so an answer with neither (most of them) is settled by those two searches, without
    the tier's costlier checks (repetition, garble, language).
    """

    def __init__(self) -> None:
        self._classifier: Any = None

    def refused(self, prompt: str, output: str) -> bool:
        text = output.replace("’", "'").strip()
        if find_refusal(text) is None and find_deflection(text) is None:
            return False
        if self._classifier is None:
            from alignkit.scoring import ResponseClassifier

            self._classifier = ResponseClassifier(use_model=False)
        return str(self._classifier.classify(prompt, output).label) == "refused"


def label(batch: Batch, labeller: Labeller) -> list[TrafficRecord]:
    """The records with ``refused`` filled in."""
    return [
        replace(r, refused=r.output is not None and labeller.refused(prompt, r.output))
        for r, prompt in batch
    ]


def run_batch(monitor: TrafficMonitor, labeller: Labeller, batch: Batch) -> MonitorReply:
    """Label ``batch``, feed it to ``monitor`` and say what it found."""
    fresh = monitor.observe_many(label(batch, labeller))
    findings = monitor.findings() if monitor.monitoring or fresh else None
    return MonitorReply(fresh, findings, monitor.requests)


PACE_SLICE = 64
"""Records the worker labels and observes between pauses."""
PACE_DUTY = 0.1
"""Share of a core the worker uses while it paces itself: it rests nine times as long as
each slice took."""
PACE_BUDGET_S = 0.3
"""Seconds a batch is paced at most; the rest of a larger one runs at full speed, so the
monitor keeps up with any rate."""


def paced_batch(
    monitor: TrafficMonitor,
    labeller: Labeller,
    batch: Batch,
    *,
    size: int = PACE_SLICE,
    duty: float = PACE_DUTY,
    budget_s: float = PACE_BUDGET_S,
) -> MonitorReply:
    """:func:`run_batch` in slices of ``size`` records, pausing after each.

    The worker's CPU then comes in small pieces: at 1,000 requests/s a whole batch was a
    20-50 ms burst on a core the server and its clients share, and requests answered
    during it waited tens of milliseconds. The detectors see every record in order, so
    the same metrics alarm, and the reply's findings are taken at the end of the batch,
    as :func:`run_batch` takes them. Differences: a rate alarm names the last request of
    its slice, not of the batch, and the window test of categorical drift (α 1e-7 per
    look) looks after each slice, as it does after each drain when traffic is slower.
    """
    start = time.monotonic()
    alarmed: set[str] = set()
    for i in range(0, len(batch), size):
        cpu = time.thread_time()
        alarmed.update(f.metric for f in monitor.observe_many(label(batch[i : i + size], labeller)))
        left = budget_s - (time.monotonic() - start)
        if i + size < len(batch) and left > 0:
            time.sleep(min(left, (time.thread_time() - cpu) * (1.0 / duty - 1.0)))
    findings = monitor.findings() if monitor.monitoring or alarmed else None
    fresh = [f for f in findings or [] if f.metric in alarmed]
    return MonitorReply(fresh, findings, monitor.requests)


# -- the worker process's side -----------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _start(config: TrafficConfig, embedder: str | None, server: int) -> None:
    from alignkit.guard._traffic_feed import load_embedder

    # Ctrl-C reaches the whole process group: the server shuts the worker down itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_when_orphaned(server)
    _yield_to_server()

    embed = load_embedder(embedder) if embedder else None
    _WORKER["monitor"] = TrafficMonitor(config, embed=embed)
    _WORKER["labeller"] = Labeller()
    _freeze()


WORKER_NICENESS = 10
"""How much lower the worker's CPU priority is than the server's (``os.nice``)."""


def _yield_to_server() -> None:
    # The monitor's work is never urgent; the requests are. Where the two compete for a
    # core the scheduler now gives the server ~9 shares in 10, and the worker the rest.
    with contextlib.suppress(OSError, AttributeError):  # no os.nice on Windows
        os.nice(WORKER_NICENESS)


def _freeze() -> None:
    # What lives as long as the worker (modules, then the fitted reference) is moved out
    # of the cyclic collector's view: its full passes over it took 50-90 ms of CPU, a
    # burst that the server and its clients, sharing the cores, felt as latency.
    gc.collect()
    gc.freeze()


def _work(batch: Batch) -> MonitorReply:
    monitor: TrafficMonitor = _WORKER["monitor"]
    fitting = not monitor.monitoring
    reply = paced_batch(monitor, _WORKER["labeller"], batch)
    if fitting and monitor.monitoring:  # the reference was fitted in this batch
        _freeze()
    return reply


class MonitorProcess:
    """One worker process holding the traffic monitor.

    Args:
        config: The monitor's configuration.
        embedder: ``module:function`` of an embedding model, loaded in the worker.
    """

    def __init__(self, config: TrafficConfig, embedder: str | None = None) -> None:
        self._pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start,
            initargs=(config, embedder, os.getpid()),
        )

    def process(self, batch: Batch) -> MonitorReply:
        """Send ``batch`` to the worker and wait for its reply.

        Raises:
            concurrent.futures.process.BrokenProcessPool: The worker died.
        """
        return self._pool.submit(_work, list(batch)).result()

    def close(self) -> None:
        """Stop the worker (idempotent)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
