"""Tests of the uniqueness shortcuts: each result must agree with an exact solution count."""

from __future__ import annotations

import numpy as np
import pytest

from mplm_data.generators.seeding import item_rng
from mplm_data.generators.sudoku import PuzzleConfig, generate_puzzle, random_solution
from mplm_data.generators.sudoku_geometry import Geometry, text_to_grid
from mplm_data.generators.sudoku_shortcuts import (_stays_unique, _swap_component_is_free,
                                                  _swap_witness)
from mplm_data.solvers.sudoku_exact import count_solutions_sat
from naive_sudoku import is_valid_solution, naive_solutions

SHAPES = [(4, 2, 2), (6, 2, 3), (9, 3, 3), (12, 3, 4), (16, 4, 4)]


def _count(puzzle: np.ndarray, geometry: Geometry) -> int:
    if geometry.n <= 6:
        return naive_solutions(puzzle.tolist(), geometry.n, geometry.box_rows,
                               geometry.box_cols, limit=2)[0]
    return count_solutions_sat(puzzle, geometry, limit=2)


def _shortcuts(puzzle: np.ndarray, solution: np.ndarray, geometry: Geometry, first: int,
               second: int = -1) -> tuple[bool, bool]:
    queue = np.empty(geometry.cells, np.int32)
    mark = np.zeros(geometry.cells, np.int8)
    unique = _stays_unique(puzzle, solution, first, second, geometry.units, geometry.peers,
                           geometry.box_rows, geometry.box_cols)
    witness = _swap_witness(puzzle, solution, first, second, geometry.peers, geometry.box_rows,
                            geometry.box_cols, queue, mark)
    assert not mark.any(), "the swap test must leave its marks cleared"
    return unique, witness


def _blanked(puzzle: np.ndarray, *cells: int) -> np.ndarray:
    blanked = puzzle.copy()
    for cell in cells:
        if cell >= 0:
            blanked[cell] = 0
    return blanked


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[0]}")
@pytest.mark.parametrize("seed", range(3))
def test_shortcuts_agree_with_exact_count(shape, seed):
    n, box_rows, box_cols = shape
    geometry = Geometry(n, box_rows, box_cols)
    rng = item_rng(seed, n)
    clues = int(geometry.cells * rng.uniform(0.35, 0.6))
    puzzle, solution = generate_puzzle(PuzzleConfig(n=n, box_rows=box_rows, box_cols=box_cols,
                                                    clues=clues), seed)
    cells = np.flatnonzero(puzzle)
    decided = 0
    for first in rng.choice(cells, size=min(len(cells), 12), replace=False).tolist():
        second = int(rng.choice(cells)) if rng.random() < 0.3 else -1
        second = -1 if second == first else second
        unique, witness = _shortcuts(puzzle, solution, geometry, first, second)
        assert not unique or not witness
        if unique or witness:
            decided += 1
            assert (_count(_blanked(puzzle, first, second), geometry) == 2) == witness
    assert decided > 0, "no check was settled by a shortcut; the sample tests nothing"


def test_swap_witness_finds_rectangle():
    # Cells 0, 1, 8 and 9 hold 1 2 / 2 1 in rows 1 and 3. With cells 1, 8 and 9 blank, the
    # clue in cell 0 is all that fixes their order, so blanking it frees the rectangle.
    geometry = Geometry(4, 2, 2)
    solution = text_to_grid("1234341221434321", geometry)
    puzzle = _blanked(solution, 1, 8, 9)
    assert _count(puzzle, geometry) == 1
    assert _count(_blanked(puzzle, 0), geometry) == 2
    assert _shortcuts(puzzle, solution, geometry, 0) == (False, True)


def test_swap_witness_blocked_by_clue():
    geometry = Geometry(4, 2, 2)
    solution = text_to_grid("1234341221434321", geometry)
    puzzle = solution.copy()
    assert _shortcuts(puzzle, solution, geometry, 0) == (True, False)


def test_stays_unique_by_hidden_single():
    # Clues of one digit in columns 2-9 keep that digit out of cells 1-8 of row 1. No peer of
    # cell 0 is a clue, so no naked single applies there, and only the hidden single settles it.
    geometry = Geometry(9, 3, 3)
    solution = random_solution(geometry, 4)
    digit = solution[0]
    puzzle = np.zeros(geometry.cells, np.int8)
    for col in range(1, 9):
        row = int(np.flatnonzero(solution.reshape(9, 9)[:, col] == digit)[0])
        puzzle[row * 9 + col] = digit
    puzzle[0] = digit
    queue = np.empty(geometry.cells, np.int32)
    mark = np.zeros(geometry.cells, np.int8)
    full = (1 << 9) - 1
    seen = 1 << (digit - 1)
    for peer in geometry.peers[0]:
        if puzzle[peer]:
            seen |= 1 << (int(puzzle[peer]) - 1)
    assert seen != full, "the naked single must not apply in this case"
    assert _stays_unique(puzzle, solution, 0, -1, geometry.units, geometry.peers, 3, 3)
    assert not _swap_witness(puzzle, solution, 0, -1, geometry.peers, 3, 3, queue, mark)
    assert is_valid_solution(solution.tolist(), 9, 3, 3)


def _row_cycle(solution: np.ndarray, n: int, partner: int) -> list[int]:
    """Columns of the cycle through column 0 when row 0 exchanges cells with row `partner`."""
    grid = solution.reshape(n, n)
    columns = [0]
    while True:
        column = int(np.flatnonzero(grid[0] == grid[partner, columns[-1]])[0])
        if column == 0:
            return columns
        columns.append(column)


def test_swap_witness_finds_line_swap():
    geometry = Geometry(9, 3, 3)
    solution = next(grid for grid in (random_solution(geometry, seed) for seed in range(50))
                    if len(_row_cycle(grid, 9, 1)) >= 3)
    columns = _row_cycle(solution, 9, 1)
    puzzle = _blanked(solution, *columns[1:], *(9 + column for column in columns))
    queue = np.empty(geometry.cells, np.int32)
    mark = np.zeros(geometry.cells, np.int8)
    digit_swap = any(_swap_component_is_free(puzzle, solution, 0, swap, 0, -1, geometry.peers,
                                             queue, mark)
                     for swap in range(1, 10) if swap != solution[0])

    assert _count(_blanked(puzzle, 0), geometry) == 2
    assert not digit_swap
    assert _shortcuts(puzzle, solution, geometry, 0) == (False, True)
