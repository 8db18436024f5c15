"""A small helper for grid layouts: parse a map, index free cells, move with walls."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["MOVES", "Layout"]

MOVES = ((-1, 0), (1, 0), (0, -1), (0, 1))
"""Row/column offsets of the actions up, down, left, right."""


@dataclass(frozen=True)
class Layout:
    """A parsed map: ``#`` is a wall, anything else a free cell; letters mark features.

    Attributes:
        rows: The map's rows.
        cells: Free cells in reading order; a cell's index is its place here.
    """

    rows: tuple[str, ...]
    cells: tuple[tuple[int, int], ...]
    _index: dict[tuple[int, int], int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {cell: k for k, cell in enumerate(self.cells)})

    @classmethod
    def parse(cls, text: str) -> Layout:
        """Parse a map given as lines of equal length."""
        rows = tuple(line for line in text.strip("\n").splitlines())
        cells = tuple((r, c) for r, row in enumerate(rows) for c, ch in enumerate(row) if ch != "#")
        return cls(rows, cells)

    def find(self, ch: str) -> tuple[int, int]:
        """The first cell marked ``ch``."""
        return self.all(ch)[0]

    def all(self, ch: str) -> list[tuple[int, int]]:
        """Every cell marked ``ch``."""
        return [(r, c) for r, c in self.cells if self.rows[r][c] == ch]

    def free(self, r: int, c: int) -> bool:
        """Whether ``(r, c)`` is inside the map and not a wall."""
        return (r, c) in self._index

    def step(self, pos: tuple[int, int], action: int) -> tuple[int, int]:
        """Where moving ``action`` (up, down, left, right) from ``pos`` lands."""
        dr, dc = MOVES[action]
        nxt = (pos[0] + dr, pos[1] + dc)
        return nxt if nxt in self._index else pos

    def index(self, pos: tuple[int, int]) -> int:
        """Index of a free cell."""
        return self._index[pos]

    def blank(self) -> list[list[str]]:
        """The map with walls kept and every free cell drawn as ``.``."""
        return [["#" if ch == "#" else "." for ch in row] for row in self.rows]
