"""Severity levels and metric directions."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Direction", "Severity"]


class Severity(StrEnum):
    """How bad a finding is; ordered ``info < low < medium < high < critical``."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Position in the order, 0 for ``info``."""
        return _ORDER.index(self)

    def __lt__(self, other: object) -> bool:
        rank = _rank_of(other)
        return NotImplemented if rank is None else self.rank < rank

    def __le__(self, other: object) -> bool:
        rank = _rank_of(other)
        return NotImplemented if rank is None else self.rank <= rank

    def __gt__(self, other: object) -> bool:
        rank = _rank_of(other)
        return NotImplemented if rank is None else self.rank > rank

    def __ge__(self, other: object) -> bool:
        rank = _rank_of(other)
        return NotImplemented if rank is None else self.rank >= rank


def _rank_of(other: object) -> int | None:
    """The rank of a Severity or of its name (``"high"``); ``None`` for a non-string.

    A plain string compared alphabetically would put ``"critical"`` below ``"high"``, so
    one that names no severity is refused rather than compared that way.
    """
    if not isinstance(other, str):
        return None
    try:
        return Severity(other).rank
    except ValueError:
        names = ", ".join(s.value for s in Severity)
        raise ValueError(f"{other!r} is not a severity ({names})") from None


_ORDER = [Severity.INFO, Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]


class Direction(StrEnum):
    """Which way a metric gets worse."""

    HIGHER_IS_WORSE = "higher_is_worse"
    LOWER_IS_WORSE = "lower_is_worse"

    def worse(self, a: float, b: float) -> bool:
        """Whether value ``a`` is strictly worse than value ``b``."""
        return a > b if self is Direction.HIGHER_IS_WORSE else a < b

    def signed_change(self, before: float, after: float) -> float:
        """``after - before`` oriented so that a positive number means *worse*."""
        delta = after - before
        return delta if self is Direction.HIGHER_IS_WORSE else -delta
