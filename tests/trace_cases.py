"""Instances for the trace tests: a hand-built 4x4 derivation and puzzles solvable by naked singles.

`naked_single_derivation(n, seed)` builds its own puzzles (a permuted pattern grid, then clues
removed while plain naked-single propagation still solves it) so the trace tests need neither
the puzzle generator nor random global state.
"""

from __future__ import annotations

import numpy as np

from mplm_data.generators.sudoku_geometry import Geometry, text_to_grid
from mplm_data.solvers.sudoku_derivation import Derivation, Fact, FactKind, Step, Technique

# Solution 1234/3412/2143/4321; the puzzle leaves r1c1 and r4c4 blank, two cells that are not
# peers, so each one only hears from given cells.
HAND_SOLUTION = "1234341221434321"
HAND_PUZZLE = ".23434122143432."


def _placement(geometry: Geometry, name: str, digit: int) -> Fact:
    row, col = int(name[1]), int(name[3])
    return Fact(FactKind.PLACEMENT, (row - 1) * geometry.n + col - 1, digit)


def hand_derivation() -> Derivation:
    """The 4x4 derivation whose traces tests/test_trace_costs.py checks by hand."""
    geometry = Geometry.for_size(4)
    fact = lambda name, digit: _placement(geometry, name, digit)  # noqa: E731
    steps = (
        Step(Technique.NAKED_SINGLE, -1, (fact("r1c1", 1),),
             (fact("r1c2", 2), fact("r1c3", 3), fact("r1c4", 4)), 0),
        Step(Technique.NAKED_SINGLE, -1, (fact("r4c4", 1),),
             (fact("r4c3", 2), fact("r4c2", 3), fact("r4c1", 4)), 0),
    )
    return Derivation(geometry, text_to_grid(HAND_PUZZLE, geometry),
                      text_to_grid(HAND_SOLUTION, geometry), steps)


def _solution(geometry: Geometry, rng: np.random.Generator) -> np.ndarray:
    """A valid grid: the standard pattern with bands, rows, stacks, columns and digits permuted."""
    n, rows, cols = geometry.n, geometry.box_rows, geometry.box_cols
    base = np.array([[(r * cols + r // rows + c) % n for c in range(n)] for r in range(n)])
    row_order = [band * rows + r for band in rng.permutation(n // rows) for r in rng.permutation(rows)]
    col_order = [stack * cols + c for stack in rng.permutation(n // cols) for c in rng.permutation(cols)]
    digits = rng.permutation(n) + 1
    return digits[base[np.ix_(row_order, col_order)]].astype(np.int8).ravel()


def naked_singles_solve(puzzle: np.ndarray, geometry: Geometry) -> bool:
    """Whether naked singles alone fill the grid (plain propagation, no shared code)."""
    n = geometry.n
    grid = [int(value) for value in puzzle]
    peers = geometry.peers.tolist()
    progress = True
    while progress:
        progress = False
        for cell in range(geometry.cells):
            if grid[cell]:
                continue
            used = {grid[peer] for peer in peers[cell]}
            left = [digit for digit in range(1, n + 1) if digit not in used]
            if len(left) == 1:
                grid[cell] = left[0]
                progress = True
    return all(grid)


def naked_single_puzzle(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, Geometry]:
    """A puzzle solvable by naked singles: clues removed in random order while that still holds."""
    geometry = Geometry.for_size(n)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(n,)))
    solution = _solution(geometry, rng)
    puzzle = solution.copy()
    for cell in rng.permutation(geometry.cells).tolist():
        value = puzzle[cell]
        puzzle[cell] = 0
        if not naked_singles_solve(puzzle, geometry):
            puzzle[cell] = value
    return puzzle, solution, geometry


def naked_single_derivation(n: int, seed: int) -> Derivation:
    """The grader's derivation of `naked_single_puzzle(n, seed)` (naked singles only)."""
    from mplm_data.solvers.sudoku_logic import derive

    puzzle, solution, geometry = naked_single_puzzle(n, seed)
    derivation = derive(puzzle, geometry, max_technique=Technique.NAKED_SINGLE)
    assert derivation is not None and np.array_equal(derivation.solution, solution)
    return derivation


def count_solutions(puzzle: np.ndarray, geometry: Geometry, limit: int = 2) -> int:
    """Number of solutions up to `limit`, by plain backtracking on the most constrained cell."""
    n = geometry.n
    grid = [int(value) for value in puzzle]
    peers = geometry.peers.tolist()

    def search() -> int:
        best, best_options = -1, None
        for cell in range(geometry.cells):
            if grid[cell]:
                continue
            used = {grid[peer] for peer in peers[cell]}
            options = [digit for digit in range(1, n + 1) if digit not in used]
            if best_options is None or len(options) < len(best_options):
                best, best_options = cell, options
                if not options:
                    return 0
        if best_options is None:
            return 1
        found = 0
        for digit in best_options:
            grid[best] = digit
            found += search()
            if found >= limit:
                break
        grid[best] = 0
        return found

    return search()


def minimal_puzzle(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, Geometry]:
    """A puzzle with a unique solution from which no clue can be removed (it often needs guesses
    under naked singles alone)."""
    puzzle, solution, geometry = naked_single_puzzle(n, seed)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(n, 1)))
    for cell in rng.permutation(geometry.cells).tolist():
        if puzzle[cell]:
            value = puzzle[cell]
            puzzle[cell] = 0
            if count_solutions(puzzle, geometry) != 1:
                puzzle[cell] = value
    return puzzle, solution, geometry
