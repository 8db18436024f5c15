"""Synthetic guarded traffic with a known shift, to measure the traffic monitor.

A request has a topic (8, equally likely), a script (Latin 90 %, Cyrillic 7 %, CJK 3 %)
and a length in characters (log-normal, median about 90); its words are drawn half from
a shared vocabulary and half from its topic's, written in its script. Answers are drawn
the same way (longer); 4 % are refusals, 3 % of requests are blocked, 1 % fail upstream
and 0.5 % are escalated. A *shift* changes one property from request ``shift_at`` on,
by an amount chosen so that the PSI of that property's distribution after the shift
against before (deciles of the reference for lengths, categories otherwise) equals
``psi``:

* ``length``: the log-length's mean moves up;
* ``script``: the Cyrillic share grows, the others shrink in proportion;
* ``topic``: one topic's share grows, the others shrink in proportion;
* ``spread``: the log-length's spread grows (a change of shape, not of level).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from scipy import stats
from scipy.optimize import brentq

from alignkit.monitor._traffic import TrafficConfig, TrafficMonitor, TrafficRecord

__all__ = ["SHIFT_KINDS", "DriftTrial", "TrafficStream", "drift_trial", "synthetic_traffic"]

SHIFT_KINDS = ("length", "script", "topic", "spread")
_TOPICS = 8
_SCRIPTS = ("latin", "cyrillic", "cjk")
_SCRIPT_P = np.array([0.90, 0.07, 0.03])
_LOG_MU, _LOG_SD = 4.5, 0.6
_OUT_MU, _OUT_SD = 5.5, 0.5
_REFUSALS = (
    "I can't help with that request.",
    "I'm sorry, but I cannot assist with this.",
    "I won't be able to help with that, sorry.",
)
_CYR = dict(zip("abcdefghijklmnopqrstuvwxyz", "абцдефгхийклмнопярстуввхыз", strict=True))


def _spell(word: str, script: str) -> str:
    if script == "cyrillic":
        return "".join(_CYR[ch] for ch in word)
    if script == "cjk":
        return "".join(chr(0x4E00 + (ord(ch) * 37 + len(word) * 11) % 2000) for ch in word[::2])
    return word


@lru_cache(maxsize=1)
def _vocabulary() -> dict[str, tuple[NDArray[np.object_], list[NDArray[np.object_]]]]:
    """Per script: the shared words and each topic's words (the same for every run)."""
    rng = np.random.default_rng(20240611)
    cons, vows = list("bcdfghjklmnprstvz"), list("aeiou")

    def word() -> str:
        return "".join(str(rng.choice(cons)) + str(rng.choice(vows))
                       for _ in range(int(rng.integers(2, 5))))  # fmt: skip

    common = [word() for _ in range(150)]
    topics = [[word() for _ in range(150)] for _ in range(_TOPICS)]
    return {
        s: (
            np.array([_spell(w, s) for w in common], dtype=object),
            [np.array([_spell(w, s) for w in t], dtype=object) for t in topics],
        )
        for s in _SCRIPTS
    }


def _zipf(n: int) -> NDArray[np.float64]:
    w = 1.0 / np.arange(1, n + 1, dtype=np.float64)
    out: NDArray[np.float64] = w / w.sum()
    return out


_ZIPF = _zipf(150)


def _psi(p: NDArray[np.float64], q: NDArray[np.float64]) -> float:
    return float(((p - q) * np.log(p / q)).sum())


def _grow(base: NDArray[np.float64], i: int, share: float) -> NDArray[np.float64]:
    out: NDArray[np.float64] = base * (1 - share) / (1 - base[i])
    out[i] = share
    return out


def _decile_psi(shift: float, scale: float) -> float:
    edges = stats.norm.ppf(np.linspace(0, 1, 11)[1:-1])
    p = np.diff(np.concatenate([[0.0], stats.norm.cdf((edges - shift) / scale), [1.0]]))
    return _psi(p, np.full(10, 0.1))


@dataclass(frozen=True)
class _Params:
    topic_p: NDArray[np.float64]
    script_p: NDArray[np.float64]
    log_mu: float
    log_sd: float


def _shifted(kind: str, psi: float) -> _Params:
    base_t = np.full(_TOPICS, 1.0 / _TOPICS)
    if kind == "length":
        d = brentq(lambda x: _decile_psi(x, 1.0) - psi, 1e-6, 5)
        return _Params(base_t, _SCRIPT_P, _LOG_MU + d * _LOG_SD, _LOG_SD)
    if kind == "spread":
        s = brentq(lambda x: _decile_psi(0.0, x) - psi, 1 + 1e-9, 10)
        return _Params(base_t, _SCRIPT_P, _LOG_MU, _LOG_SD * s)
    if kind == "script":
        c = brentq(lambda x: _psi(_grow(_SCRIPT_P, 1, x), _SCRIPT_P) - psi, 0.0701, 0.999)
        return _Params(base_t, _grow(_SCRIPT_P, 1, c), _LOG_MU, _LOG_SD)
    if kind == "topic":
        c = brentq(lambda x: _psi(_grow(base_t, 0, x), base_t) - psi, 0.1251, 0.999)
        return _Params(_grow(base_t, 0, c), _SCRIPT_P, _LOG_MU, _LOG_SD)
    raise ValueError(f"unknown shift kind {kind!r}; expected one of {', '.join(SHIFT_KINDS)}")


def _render_all(
    rng: np.random.Generator, topics: NDArray[np.int64], scripts: list[str], lengths: list[int]
) -> list[str]:
    """Texts of the given topics, scripts and lengths (words drawn in one go)."""
    vocab = _vocabulary()
    sizes = np.asarray([n // 4 + 3 for n in lengths])
    idx = rng.choice(150, size=int(sizes.sum()), p=_ZIPF)
    shared = rng.random(int(sizes.sum())) < 0.5
    ends = np.cumsum(sizes)
    out = []
    for i, (script, length) in enumerate(zip(scripts, lengths, strict=True)):
        a, b = int(ends[i] - sizes[i]), int(ends[i])
        common, by_topic = vocab[script]
        words = np.where(shared[a:b], common[idx[a:b]], by_topic[int(topics[i])][idx[a:b]])
        text = " ".join(words)
        while len(text) < length:
            text = f"{text} {text}"
        out.append(text[:length])
    return out


@dataclass(frozen=True)
class TrafficStream:
    """A synthetic stream: its records, where it shifts, how, and by how much.

    Attributes:
        records: The requests, in order.
        shift: The kind of shift (``None``: no shift).
        shift_at: Index of the first shifted request.
        psi: The designed PSI of the shifted property.
    """

    records: list[TrafficRecord]
    shift: str | None
    shift_at: int | None
    psi: float


def synthetic_traffic(
    n: int = 10_000,
    *,
    seed: int = 0,
    shift: str | None = None,
    psi: float = 0.15,
    shift_at: int = 6025,
) -> TrafficStream:
    """A seeded stream of ``n`` requests, shifted at ``shift_at`` when ``shift`` is given."""
    rng = np.random.default_rng(seed)
    base = _shifted("length", 1e-9)
    after = _shifted(shift, psi) if shift is not None else base
    cut = min(n, shift_at) if shift is not None else n
    topic_ids = np.concatenate([rng.choice(_TOPICS, size=cut, p=base.topic_p),
                                rng.choice(_TOPICS, size=n - cut, p=after.topic_p)])  # fmt: skip
    script_ids = np.concatenate([rng.choice(3, size=cut, p=base.script_p),
                                 rng.choice(3, size=n - cut, p=after.script_p)])  # fmt: skip
    log_len = np.concatenate([rng.normal(base.log_mu, base.log_sd, size=cut),
                              rng.normal(after.log_mu, after.log_sd, size=n - cut)])  # fmt: skip
    lengths = np.clip(np.round(np.exp(log_len)), 3, 4000).astype(int)
    scripts = [_SCRIPTS[int(i)] for i in script_ids]
    prompts = _render_all(rng, topic_ids, scripts, [int(x) for x in lengths])
    u = rng.random(n)
    blocked, error, escalated = u < 0.03, (u >= 0.03) & (u < 0.04), (u >= 0.04) & (u < 0.045)
    refused = (rng.random(n) < 0.04) & ~blocked & ~error
    answered = ~blocked & ~error & ~refused
    out_len = np.clip(np.round(np.exp(rng.normal(_OUT_MU, _OUT_SD, size=n))), 3, 8000)
    which = np.flatnonzero(answered)
    answers = _render_all(rng, topic_ids[which], [scripts[i] for i in which],
                          [int(out_len[i]) for i in which])  # fmt: skip
    texts: dict[int, str] = dict(zip(which.tolist(), answers, strict=True))
    pick = rng.integers(len(_REFUSALS), size=n)
    records = []
    for i in range(n):
        output = _REFUSALS[int(pick[i])] if refused[i] else texts.get(i)
        records.append(
            TrafficRecord(
                prompts[i],
                output,
                blocked=bool(blocked[i]),
                escalated=bool(escalated[i]),
                refused=bool(refused[i]),
                error=bool(error[i]),
            )  # fmt: skip
        )
    return TrafficStream(records, shift, shift_at if shift else None, psi)


@dataclass(frozen=True)
class DriftTrial:
    """The monitor's first drift alarm on one stream.

    Attributes:
        seed: The stream's seed.
        shift: Its kind of shift (``None``: none).
        psi: Its designed PSI.
        alarm_at: Requests seen when the first drift alarm was reported (``None``: never).
        metric: The metric that alarmed first.
        delay: ``alarm_at − shift_at`` (negative: before the shift; ``None``: no alarm).
        rate_alarms: Rate metrics that alarmed.
    """

    seed: int
    shift: str | None
    psi: float
    alarm_at: int | None
    metric: str | None
    delay: int | None
    rate_alarms: tuple[str, ...]


def drift_trial(
    seed: int,
    shift: str | None,
    psi: float,
    *,
    n: int = 10_000,
    shift_at: int = 6025,
    config: TrafficConfig | None = None,
    make_stream: Callable[..., TrafficStream] = synthetic_traffic,
) -> DriftTrial:
    """Run a fresh :class:`TrafficMonitor` over one synthetic stream, ``every`` at a time."""
    stream = make_stream(n, seed=seed, shift=shift, psi=psi, shift_at=shift_at)
    monitor = TrafficMonitor(config)
    step = monitor.config.every
    first: tuple[int, str] | None = None
    rates: list[str] = []
    for start in range(0, n, step):
        monitor.observe_many(stream.records[start : start + step])
        for metric in monitor.pop_alarms():
            if metric.endswith("_psi"):
                first = first or (monitor.requests, metric)
            else:
                rates.append(metric)
    if first is None:
        return DriftTrial(seed, shift, psi, None, None, None, tuple(rates))
    at, metric = first
    delay = at - shift_at if shift else None
    return DriftTrial(seed, shift, psi, at, metric, delay, tuple(rates))
