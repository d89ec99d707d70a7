"""Sudoku grid geometry: sizes, units, peers and the canonical text form.

A grid of size n has n rows, n columns and n boxes of `box_rows` x `box_cols` cells, with
`n = box_rows * box_cols`. Cells are numbered row-major from 0 to n*n - 1. A grid is a flat
`int8` array of n*n values: 0 for a blank cell, 1..n for a digit.

Units are numbered 0..3n-1: rows first (0..n-1), then columns (n..2n-1), then boxes (2n..3n-1),
boxes numbered row-major. Two cells are peers when they share a unit.

The canonical text form is one line per grid, row-major, one character per cell, `.` for a blank
and the symbols `1`-`9`, then `A`, `B`, ... for the digits 10 and up (so 16x16 uses `1-9A-G`,
25x25 uses `1-9A-P`, and 36x36 uses `1-9A-Z` followed by `a` for 36).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from .errors import InputError

MAX_SIZE = 36
SYMBOLS = "123456789ABCDEFGHIJKLMNOPQRSTUVWXYZa"
BLANK = "."

# Box shapes (rows, cols) used when only n is given: square boxes where n is a square, otherwise
# the widest box with rows <= cols.
_DEFAULT_BOX = {4: (2, 2), 6: (2, 3), 8: (2, 4), 9: (3, 3), 10: (2, 5), 12: (3, 4), 15: (3, 5),
                16: (4, 4), 20: (4, 5), 25: (5, 5), 30: (5, 6), 36: (6, 6)}


@dataclass(frozen=True)
class Geometry:
    """Shape of an n x n Sudoku grid with `box_rows` x `box_cols` boxes."""

    n: int
    box_rows: int
    box_cols: int

    def __post_init__(self) -> None:
        if not 2 <= self.box_rows <= MAX_SIZE or not 1 <= self.box_cols <= MAX_SIZE:
            raise ValueError(f"box shape {self.box_rows}x{self.box_cols} is invalid; "
                             f"each side must be between 1 and {MAX_SIZE}")
        if self.box_rows * self.box_cols != self.n:
            raise ValueError(f"box shape {self.box_rows}x{self.box_cols} does not tile a "
                             f"{self.n}x{self.n} grid; box_rows * box_cols must equal n")
        if not 4 <= self.n <= MAX_SIZE:
            raise ValueError(f"grid size n={self.n} is out of range; use 4 <= n <= {MAX_SIZE}")

    @classmethod
    def for_size(cls, n: int, box_rows: int | None = None, box_cols: int | None = None) -> "Geometry":
        """Build the geometry for size n, choosing the default box shape when none is given."""
        if box_rows is None and box_cols is None:
            if n not in _DEFAULT_BOX:
                raise ValueError(f"grid size n={n} has no default box shape; pass box_rows and "
                                 f"box_cols, or use one of {sorted(_DEFAULT_BOX)}")
            box_rows, box_cols = _DEFAULT_BOX[n]
        elif box_rows is None:
            box_rows = n // box_cols
        elif box_cols is None:
            box_cols = n // box_rows
        return _shared_geometry(cls, n, box_rows, box_cols)

    @classmethod
    def for_cell_count(cls, cells: int) -> "Geometry":
        """Build the default geometry for a grid of `cells` cells, such as 81 or 256."""
        n = int(round(cells ** 0.5))
        if n * n != cells or n not in _DEFAULT_BOX:
            raise ValueError(f"{cells} cells is not a supported grid; expected n*n cells for n in "
                             f"{sorted(_DEFAULT_BOX)}")
        return cls.for_size(n)

    @property
    def cells(self) -> int:
        """Number of cells, n*n."""
        return self.n * self.n

    @property
    def name(self) -> str:
        """Short label such as `9x9` or `6x6(2x3)` for non-square boxes."""
        label = f"{self.n}x{self.n}"
        if self.box_rows != self.box_cols:
            label += f"({self.box_rows}x{self.box_cols})"
        return label

    def box_of(self, cell: int) -> int:
        """Index (0..n-1) of the box that contains `cell`."""
        row, col = divmod(cell, self.n)
        boxes_per_row = self.n // self.box_cols
        return (row // self.box_rows) * boxes_per_row + col // self.box_cols

    @cached_property
    def units(self) -> np.ndarray:
        """Cells of each unit, shape (3n, n), int32: rows, then columns, then boxes."""
        n = self.n
        grid = np.arange(n * n, dtype=np.int32).reshape(n, n)
        boxes = [grid[r:r + self.box_rows, c:c + self.box_cols].ravel()
                 for r in range(0, n, self.box_rows) for c in range(0, n, self.box_cols)]
        return np.ascontiguousarray(np.concatenate([grid, grid.T, np.stack(boxes)]))

    @cached_property
    def cell_units(self) -> np.ndarray:
        """Units of each cell, shape (n*n, 3), int32: its row, column and box unit ids."""
        cells = np.arange(self.cells, dtype=np.int32)
        rows, cols = np.divmod(cells, self.n)
        boxes = np.array([self.box_of(int(c)) for c in cells], dtype=np.int32)
        return np.stack([rows, self.n + cols, 2 * self.n + boxes], axis=1)

    @cached_property
    def peers(self) -> np.ndarray:
        """Peers of each cell, shape (n*n, P), int32, sorted; P = 3n - 1 - box_rows - box_cols."""
        rows = []
        for cell in range(self.cells):
            members = np.unique(self.units[self.cell_units[cell]].ravel())
            rows.append(members[members != cell])
        return np.ascontiguousarray(np.stack(rows).astype(np.int32))

    def unit_name(self, unit: int) -> str:
        """Human-readable unit name, 1-based: `row 3`, `column 7` or `box 2`."""
        kind, index = divmod(unit, self.n)
        return f"{('row', 'column', 'box')[kind]} {index + 1}"

    def cell_name(self, cell: int) -> str:
        """Cell name `rXcY`, 1-based row and column."""
        row, col = divmod(cell, self.n)
        return f"r{row + 1}c{col + 1}"


@lru_cache(maxsize=64)
def _shared_geometry(cls: type[Geometry], n: int, box_rows: int, box_cols: int) -> Geometry:
    # One object per shape, so its unit and peer tables are built once per process.
    return cls(n, box_rows, box_cols)


def grid_to_text(grid: np.ndarray) -> str:
    """Render a flat grid in the canonical text form."""
    return "".join(BLANK if v == 0 else SYMBOLS[v - 1] for v in np.asarray(grid).tolist())


def text_to_grid(text: str, geometry: Geometry | None = None) -> np.ndarray:
    """Parse one grid in the canonical text form into a flat int8 array.

    Raises InputError naming the position and symbol of the first invalid character.
    """
    if geometry is None:
        geometry = Geometry.for_cell_count(len(text))
    if len(text) != geometry.cells:
        raise InputError(f"grid text has {len(text)} characters; a {geometry.name} grid needs "
                         f"{geometry.cells}")

    lookup = {symbol: value for value, symbol in enumerate(SYMBOLS[:geometry.n], start=1)}
    lookup[BLANK] = 0
    grid = np.empty(geometry.cells, dtype=np.int8)
    for position, symbol in enumerate(text):
        value = lookup.get(symbol)
        if value is None:
            raise InputError(f"symbol {symbol!r} at position {position + 1} is not valid in a "
                             f"{geometry.name} grid; use '.' or one of {SYMBOLS[:geometry.n]!r}")
        grid[position] = value
    return grid


def find_conflict(grid: np.ndarray, geometry: Geometry) -> tuple[int, int, int, int] | None:
    """Return (unit, digit, first_cell, second_cell) for a digit given twice in a unit, or None."""
    grid = np.asarray(grid)
    for unit in range(3 * geometry.n):
        seen: dict[int, int] = {}
        for cell in geometry.units[unit].tolist():
            digit = int(grid[cell])
            if digit == 0:
                continue
            if digit in seen:
                return unit, digit, seen[digit], cell
            seen[digit] = cell
    return None


def check_givens(grid: np.ndarray, geometry: Geometry) -> None:
    """Raise InputError when the grid has the wrong shape, a digit out of range or a repeated digit."""
    grid = np.asarray(grid)
    if grid.shape != (geometry.cells,):
        raise InputError(f"grid has shape {grid.shape}; a {geometry.name} grid is a flat array of "
                         f"{geometry.cells} cells")
    bad = np.flatnonzero((grid < 0) | (grid > geometry.n))
    if bad.size:
        cell = int(bad[0])
        raise InputError(f"cell {geometry.cell_name(cell)} holds {int(grid[cell])}; digits of a "
                         f"{geometry.name} grid are 1..{geometry.n}, and 0 marks a blank")

    conflict = find_conflict(grid, geometry)
    if conflict is not None:
        unit, digit, first, second = conflict
        raise InputError(f"digit {SYMBOLS[digit - 1]} is given twice in {geometry.unit_name(unit)} "
                         f"({geometry.cell_name(first)} and {geometry.cell_name(second)}), so the "
                         f"puzzle has no solution; fix the givens")
