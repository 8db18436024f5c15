"""Safety circuit breakers: per scope key, trip on violation or error rate over a sliding window.

Each key (``global``, ``model:<name>``, ``user:<id>``, ``session:<id>``) has a breaker::

    closed ──(rate over the window ≥ threshold, with ≥ min_requests)──▶ open
    open ──(cooldown_s elapsed)──▶ half-open ──(half_open_probes clean answers)──▶ closed
    half-open ──(a violation or an error)──▶ open

A *violation* is a request a rail blocked; an *error* is an upstream failure. Other
monitors (an anomaly alarm, an operator) trip a breaker through :meth:`CircuitBreakers.signal`.
While any of a request's breakers is open, the request is refused with a reason naming
the breaker, the cause and when probing resumes. Rates are kept in one-second buckets,
so memory per breaker is bounded by the window length.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from alignkit.core import ConfigError
from alignkit.guard._config import BreakerConfig, breaker_key_error

__all__ = ["BreakerRefusal", "BreakerState", "CircuitBreakers", "Result", "scope_keys"]

Result = Literal["ok", "violation", "error"]


class BreakerState(StrEnum):
    """A breaker's state."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerRefusal:
    """Why a request was refused: the open breaker's key and the reason it opened."""

    key: str
    reason: str
    retry_after_s: float

    def message(self) -> str:
        """One line for the client."""
        return (
            f"circuit breaker open for {self.key}: {self.reason};"
            f" probing resumes in {max(0.0, self.retry_after_s):.0f} s"
        )


@dataclass
class _Breaker:
    key: str
    state: BreakerState = BreakerState.CLOSED
    buckets: deque[list[int]] = field(default_factory=deque)  # [second, total, viol, err]
    total: int = 0
    violations: int = 0
    errors: int = 0
    opened_at: float = 0.0
    reason: str = ""
    trips: int = 0
    probes_out: int = 0
    probes_ok: int = 0


def scope_keys(
    model: str | None = None, user: str | None = None, session: str | None = None
) -> list[str]:
    """The breaker keys a request belongs to, broadest first."""
    keys = ["global"]
    if model:
        keys.append(f"model:{model}")
    if user:
        keys.append(f"user:{user}")
    if session:
        keys.append(f"session:{session}")
    return keys


class CircuitBreakers:
    """All breakers of one guard.

    Args:
        config: Window, thresholds, cooldown and the scopes in use.
        clock: Monotonic seconds (tests pass a fake clock).
        on_change: Called as ``on_change(key, new_state, reason)`` on every transition
            (the guard writes it to the audit log); must be quick and must not raise.
    """

    def __init__(
        self,
        config: BreakerConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str, BreakerState, str], None] | None = None,
    ) -> None:
        self.config = config or BreakerConfig()
        self.on_change = on_change
        self._clock = clock
        self._scopes = frozenset(self.config.scopes)
        self._lock = threading.Lock()
        self._fixed: dict[str, _Breaker] = {}
        self._lru: OrderedDict[str, _Breaker] = OrderedDict()
        self.transitions = 0

    # -- lookup -------------------------------------------------------------------

    def _active(self, keys: Iterable[str]) -> list[str]:
        return [k for k in keys if k.split(":", 1)[0] in self._scopes]

    def _get(self, key: str, create: bool = True) -> _Breaker | None:
        if key == "global":
            found = self._fixed.get(key)
            if found is None and create:
                found = self._fixed[key] = _Breaker(key)
            return found
        # Model, user and session names come from clients: at most max_keys are kept.
        found = self._lru.get(key)
        if found is not None:
            self._lru.move_to_end(key)
        elif create:
            while len(self._lru) >= self.config.max_keys:
                self._evict()
            found = self._lru[key] = _Breaker(key)
        return found

    def _evict(self) -> None:
        """Forget the least recently used closed breaker (an open one only if none is closed).

        A flood of new names therefore cannot reset a breaker that has tripped.
        """
        for key, b in self._lru.items():
            if b.state is BreakerState.CLOSED:
                del self._lru[key]
                return
        self._lru.popitem(last=False)

    # -- the request path -----------------------------------------------------------

    def admit(self, keys: Iterable[str]) -> BreakerRefusal | None:
        """``None`` if the request may proceed, else the refusal of the first open breaker."""
        if not self.config.enabled:
            return None
        now = self._clock()
        with self._lock:
            probing: list[_Breaker] = []
            for key in keys:  # a signal can open a breaker outside `scopes`: it refuses too
                b = self._get(key, create=False)
                if b is None or b.state is BreakerState.CLOSED:
                    continue
                if b.state is BreakerState.OPEN:
                    wait = b.opened_at + self.config.cooldown_s - now
                    if wait > 0:
                        return BreakerRefusal(key, b.reason, wait)
                    self._move(b, BreakerState.HALF_OPEN)
                if b.probes_out >= self.config.half_open_probes:
                    return BreakerRefusal(key, f"half-open, probing ({b.reason})", 1.0)
                probing.append(b)
            for b in probing:  # claimed only once every breaker has let the request through
                b.probes_out += 1
        return None

    def release(self, keys: Iterable[str]) -> None:
        """Hand back the half-open probe slots a request claimed, counting nothing.

        For a request that ends without a verdict on the target: cancelled, or refused by
        the target as malformed. Kept, three such slots held a half-open breaker shut
        for good.
        """
        if not self.config.enabled:
            return
        with self._lock:
            for key in keys:
                b = self._get(key, create=False)
                if b is not None and b.state is BreakerState.HALF_OPEN:
                    b.probes_out = max(0, b.probes_out - 1)

    def peek(self, key: str) -> BreakerRefusal | None:
        """The refusal breaker ``key`` gives now, admitting nothing (``None`` unless open)."""
        if not self.config.enabled:
            return None
        with self._lock:
            b = self._get(key, create=False)
            if b is None or b.state is not BreakerState.OPEN:
                return None
            wait = b.opened_at + self.config.cooldown_s - self._clock()
            return BreakerRefusal(key, b.reason, wait) if wait > 0 else None

    def record(self, keys: Iterable[str], result: Result) -> None:
        """Count one finished request (``ok``, ``violation`` or ``error``) under ``keys``."""
        if not self.config.enabled:
            return
        now = self._clock()
        with self._lock:
            keys = list(keys)
            active = set(self._active(keys))
            for key in keys:
                b = self._get(key, create=key in active)
                if b is None:
                    continue
                if b.state is BreakerState.HALF_OPEN:
                    self._probe_result(b, result)
                elif b.state is BreakerState.CLOSED and key in active:
                    self._count(b, now, result)
                    self._maybe_trip(b, now)

    @staticmethod
    def check_key(key: str) -> None:
        """Raise :class:`ConfigError` unless ``key`` names a breaker scope."""
        if (why := breaker_key_error(key)) is not None:
            raise ConfigError(why)

    def signal(self, key: str, reason: str) -> None:
        """Open breaker ``key`` now (for monitors and operators), whatever its rates."""
        self.check_key(key)
        with self._lock:
            b = self._get(key)
            assert b is not None
            self._open(b, self._clock(), f"signalled: {reason}")

    def reset(self, key: str | None = None) -> None:
        """Close breaker ``key`` (all breakers when ``None``) and forget its window."""
        with self._lock:
            targets = [*self._fixed.values(), *self._lru.values()] if key is None else []
            if key is not None and (b := self._get(key, create=False)) is not None:
                targets = [b]
            for b in targets:
                self._clear(b)
                self._move(b, BreakerState.CLOSED)

    def state(self, key: str) -> BreakerState:
        """The state of breaker ``key`` (closed when it has never seen a request)."""
        with self._lock:
            b = self._get(key, create=False)
            return BreakerState.CLOSED if b is None else self._current(b, self._clock())

    def _current(self, b: _Breaker, now: float) -> BreakerState:
        """``b``'s state now: an open breaker past its cool-down admits a probe (half-open)."""
        if b.state is BreakerState.OPEN and now >= b.opened_at + self.config.cooldown_s:
            return BreakerState.HALF_OPEN
        return b.state

    def snapshot(self) -> list[dict[str, object]]:
        """Every breaker's key, state, window counts, trips and reason (for metrics and admin)."""
        now = self._clock()
        with self._lock:
            out: list[dict[str, object]] = []
            for b in [*self._fixed.values(), *self._lru.values()]:
                self._prune(b, now)
                out.append(
                    {
                        "key": b.key,
                        "state": self._current(b, now).value,  # as state() says
                        "requests": b.total,
                        "violations": b.violations,
                        "errors": b.errors,
                        "trips": b.trips,
                        "reason": b.reason,
                    }
                )
            return out

    # -- internals -------------------------------------------------------------------

    def _count(self, b: _Breaker, now: float, result: Result) -> None:
        second = int(now)
        if not b.buckets or b.buckets[-1][0] != second:
            b.buckets.append([second, 0, 0, 0])
        bucket = b.buckets[-1]
        bucket[1] += 1
        b.total += 1
        if result == "violation":
            bucket[2] += 1
            b.violations += 1
        elif result == "error":
            bucket[3] += 1
            b.errors += 1
        self._prune(b, now)

    def _prune(self, b: _Breaker, now: float) -> None:
        horizon = now - self.config.window_s
        while b.buckets and b.buckets[0][0] + 1 <= horizon:
            _, total, viol, err = b.buckets.popleft()
            b.total -= total
            b.violations -= viol
            b.errors -= err

    def _maybe_trip(self, b: _Breaker, now: float) -> None:
        cfg = self.config
        if b.total < cfg.min_requests:
            return
        if b.violations / b.total >= cfg.violation_rate:
            rate = f"{b.violations / b.total:.2f} ({b.violations}/{b.total})"
            self._open(b, now, f"violation rate {rate} in the last {cfg.window_s:g} s")
        elif b.errors / b.total >= cfg.error_rate:
            rate = f"{b.errors / b.total:.2f} ({b.errors}/{b.total})"
            self._open(b, now, f"upstream error rate {rate} in the last {cfg.window_s:g} s")

    def _probe_result(self, b: _Breaker, result: Result) -> None:
        b.probes_out = max(0, b.probes_out - 1)
        if result != "ok":
            self._open(b, self._clock(), f"half-open probe failed ({result}); was: {b.reason}")
            return
        b.probes_ok += 1
        if b.probes_ok >= self.config.half_open_probes:
            self._clear(b)
            self._move(b, BreakerState.CLOSED)

    def _open(self, b: _Breaker, now: float, reason: str) -> None:
        self._clear(b)
        b.opened_at = now
        b.reason = reason
        if b.state is not BreakerState.OPEN:  # a signal to an open breaker is no new trip
            b.trips += 1
        self._move(b, BreakerState.OPEN)

    @staticmethod
    def _clear(b: _Breaker) -> None:
        b.buckets.clear()
        b.total = b.violations = b.errors = 0
        b.probes_out = b.probes_ok = 0

    def _move(self, b: _Breaker, state: BreakerState) -> None:
        if b.state is not state:
            self.transitions += 1
            b.state = state
            if state is BreakerState.CLOSED:
                b.reason = ""
            if self.on_change is not None:
                self.on_change(b.key, state, b.reason)
