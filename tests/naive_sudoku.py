"""Slow plain-Python Sudoku oracle for tests: recursive backtracking over Python sets.

It shares no code with the Numba kernels or `sudoku_geometry`: units are rebuilt here from
(n, box_rows, box_cols), and the search keeps one set of used digits per row, column and box.
A grid is any sequence of n*n ints, 0 for a blank.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def _box(row: int, col: int, box_rows: int, box_cols: int, n: int) -> int:
    return (row // box_rows) * (n // box_cols) + col // box_cols


def naive_units(n: int, box_rows: int, box_cols: int) -> list[list[int]]:
    """Cells of every row, column and box, as plain lists of cell indices."""
    rows = [[r * n + c for c in range(n)] for r in range(n)]
    cols = [[r * n + c for r in range(n)] for c in range(n)]
    boxes: list[list[int]] = [[] for _ in range(n)]
    for r in range(n):
        for c in range(n):
            boxes[_box(r, c, box_rows, box_cols, n)].append(r * n + c)
    return rows + cols + boxes


def is_valid_solution(grid: Sequence[int], n: int, box_rows: int, box_cols: int) -> bool:
    """Tell whether every row, column and box of `grid` holds each digit 1..n exactly once."""
    digits = set(range(1, n + 1))
    return all({int(grid[cell]) for cell in unit} == digits and len(unit) == n
               for unit in naive_units(n, box_rows, box_cols))


def naive_solutions(grid: Sequence[int], n: int, box_rows: int, box_cols: int,
                    limit: int = 2) -> tuple[int, list[int] | None]:
    """Count solutions up to `limit` by backtracking; return (count, first solution or None).

    Returns (0, None) when two clues repeat a digit in a unit.
    """
    cells = [int(v) for v in grid]
    used_row = [set() for _ in range(n)]
    used_col = [set() for _ in range(n)]
    used_box = [set() for _ in range(n)]
    for cell, digit in enumerate(cells):
        if digit:
            r, c = divmod(cell, n)
            b = _box(r, c, box_rows, box_cols, n)
            if digit in used_row[r] or digit in used_col[c] or digit in used_box[b]:
                return 0, None
            used_row[r].add(digit)
            used_col[c].add(digit)
            used_box[b].add(digit)

    all_digits = set(range(1, n + 1))
    found: list[list[int]] = []
    count = 0

    def options(cell: int) -> set[int]:
        r, c = divmod(cell, n)
        return all_digits - used_row[r] - used_col[c] - used_box[_box(r, c, box_rows, box_cols, n)]

    def backtrack() -> bool:
        """Extend the grid; return True once `limit` solutions are counted."""
        nonlocal count
        blanks = [cell for cell, digit in enumerate(cells) if digit == 0]
        if not blanks:
            count += 1
            if not found:
                found.append(list(cells))
            return count >= limit

        # Branch on the blank with the fewest options to keep the tree small.
        cell = min(blanks, key=lambda c: len(options(c)))
        r, c = divmod(cell, n)
        b = _box(r, c, box_rows, box_cols, n)
        for digit in sorted(options(cell)):
            cells[cell] = digit
            used_row[r].add(digit)
            used_col[c].add(digit)
            used_box[b].add(digit)
            done = backtrack()
            cells[cell] = 0
            used_row[r].discard(digit)
            used_col[c].discard(digit)
            used_box[b].discard(digit)
            if done:
                return True
        return False

    sys.setrecursionlimit(max(sys.getrecursionlimit(), n * n + 100))
    backtrack()
    return count, (found[0] if found else None)
