"""Exact Sudoku solving: solution counts up to a limit, first solutions, and a SAT cross-check.

`count_solutions`, `solve` and `solve_batch` wrap the Numba search kernels of
`mplm_data.generators.sudoku_search` (propagation with naked singles, hidden singles and locked
candidates, then depth-first search). `count_solutions_sat` is an independent reference that
encodes the grid as CNF and counts models with python-sat.

A puzzle is a flat integer array of n*n cells (0 for a blank, 1..n for a clue) for a
`Geometry`; a batch is an (m, n*n) array. Every function rejects a malformed puzzle, a digit out
of range, or a digit given twice in a unit with `InputError` before any search starts.
"""

from __future__ import annotations

import logging

import numpy as np
from pysat.card import CardEnc, EncType
from pysat.formula import IDPool
from pysat.solvers import Solver

from mplm_data.generators import sudoku_search
from mplm_data.generators.errors import InputError
from mplm_data.generators.sudoku_geometry import Geometry, check_givens

logger = logging.getLogger(__name__)

# Cells gathered at once by the vectorized repeated-digit test, to bound its temporary memory.
_CHECK_CELLS = 1 << 24

# SAT solver used by count_solutions_sat.
SAT_SOLVER = "cadical153"


def _check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
        raise ValueError(f"limit must be an integer >= 1, got {limit!r}")
    return int(limit)


def _first_invalid_row(grids: np.ndarray, geometry: Geometry) -> int:
    """Return the first row of an integer (m, n*n) array with a bad digit or a repeat, or -1."""
    out_of_range = np.flatnonzero(((grids < 0) | (grids > geometry.n)).any(axis=1))
    if out_of_range.size:
        return int(out_of_range[0])

    small = grids.astype(np.int8, copy=False)
    rows_per_chunk = max(1, _CHECK_CELLS // geometry.units.size)
    for start in range(0, len(small), rows_per_chunk):
        chunk = np.sort(small[start:start + rows_per_chunk][:, geometry.units], axis=2)
        repeated = (chunk[:, :, 1:] == chunk[:, :, :-1]) & (chunk[:, :, 1:] > 0)
        rows = np.flatnonzero(repeated.any(axis=(1, 2)))
        if rows.size:
            return int(rows[0]) + start
    return -1


def _check_dtype(array: np.ndarray, geometry: Geometry) -> None:
    if not np.issubdtype(array.dtype, np.integer):
        raise InputError(f"puzzle has dtype {array.dtype}; pass integer digits (0 for a blank, "
                         f"1..{geometry.n})")


def _checked_batch(puzzles: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Return `puzzles` as a C-contiguous (m, n*n) int8 array after checking every row.

    The range and repeated-digit tests run vectorized over the batch. The first invalid row is
    then passed to `check_givens`, whose InputError names the cell or unit.
    """
    array = np.asarray(puzzles)
    if array.ndim != 2 or array.shape[1] != geometry.cells:
        raise InputError(f"puzzle batch has shape {array.shape}; a batch of {geometry.name} "
                         f"puzzles is an (m, {geometry.cells}) array")
    _check_dtype(array, geometry)

    row = _first_invalid_row(array, geometry)
    if row >= 0:
        try:
            check_givens(array[row], geometry)
        except InputError as err:
            raise InputError(f"puzzle {row}: {err.message}") from err
    return np.ascontiguousarray(array, dtype=np.int8)


def _checked_puzzle(puzzle: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Return one puzzle as a flat int8 array after the same checks as a batch row."""
    array = np.asarray(puzzle)
    if array.shape != (geometry.cells,):
        check_givens(array, geometry)
    _check_dtype(array, geometry)

    if _first_invalid_row(array[None, :], geometry) >= 0:
        check_givens(array, geometry)
    return np.ascontiguousarray(array, dtype=np.int8)


def count_solutions(puzzle: np.ndarray, geometry: Geometry, limit: int = 2) -> int:
    """Count the solutions of `puzzle`, stopping at `limit`; 1 means the solution is unique."""
    limit = _check_limit(limit)
    grid = _checked_puzzle(puzzle, geometry)
    solution = np.zeros(geometry.cells, dtype=np.int8)
    return int(sudoku_search._count_one(grid, geometry.units, geometry.peers, limit, solution))


def solve(puzzle: np.ndarray, geometry: Geometry) -> np.ndarray | None:
    """Solve `puzzle`; return an int8 solution grid, or None when it has no solution.

    When the puzzle has several solutions, the first one in search order is returned; use
    `count_solutions` to test uniqueness.
    """
    grid = _checked_puzzle(puzzle, geometry)
    solution = np.zeros(geometry.cells, dtype=np.int8)
    found = sudoku_search._count_one(grid, geometry.units, geometry.peers, 1, solution)
    return solution if found else None


def solve_batch(puzzles: np.ndarray, geometry: Geometry,
                limit: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Solve every row of an (m, n*n) batch in one compiled, multithreaded call.

    Returns (solutions, solutions_found): solutions is (m, n*n) int8 with the first solution of
    each puzzle in search order, or zeros when it has none; solutions_found is (m,) int64, the
    number of solutions counted up to `limit`. Results do not depend on the thread count.
    """
    limit = _check_limit(limit)
    grids = _checked_batch(puzzles, geometry)
    solutions = np.zeros_like(grids)
    found = np.zeros(len(grids), dtype=np.int64)
    if len(grids):
        sudoku_search._count_batch(grids, geometry.units, geometry.peers, limit, solutions,
                                   found)
    logger.debug("solved %d %s puzzles with limit %d", len(grids), geometry.name, limit)
    return solutions, found


def _sudoku_cnf(grid: np.ndarray, geometry: Geometry) -> tuple[list[list[int]], int]:
    """Encode `grid` as CNF; variable cell*n + d (0-based digit d) + 1 means "cell is d+1".

    Every cell takes exactly one digit and every unit contains each digit exactly once. Pairwise
    at-most-one clauses are used up to n = 16 and the sequential counter above, so the formula
    stays near linear in size for 25x25 and 36x36 grids. Returns (clauses, cell_variables).
    """
    n = geometry.n
    cell_variables = geometry.cells * n
    pool = IDPool(start_from=cell_variables + 1)
    encoding = EncType.pairwise if n <= 16 else EncType.seqcounter

    groups: list[list[int]] = []
    for cell in range(geometry.cells):
        groups.append([cell * n + d + 1 for d in range(n)])
    for unit in geometry.units.tolist():
        for d in range(n):
            groups.append([cell * n + d + 1 for cell in unit])

    clauses: list[list[int]] = []
    for literals in groups:
        clauses.extend(CardEnc.equals(lits=literals, bound=1, vpool=pool,
                                      encoding=encoding).clauses)
    for cell, digit in enumerate(grid.tolist()):
        if digit:
            clauses.append([cell * n + digit])
    return clauses, cell_variables


def count_solutions_sat(puzzle: np.ndarray, geometry: Geometry, limit: int = 2) -> int:
    """Count the solutions of `puzzle` up to `limit` with a CNF encoding and a SAT solver.

    Each model found is blocked by a clause over the cell variables before the next call, so
    every solution is counted once. This shares no code with the search kernels and serves as
    their reference.
    """
    limit = _check_limit(limit)
    grid = _checked_puzzle(puzzle, geometry)
    clauses, cell_variables = _sudoku_cnf(grid, geometry)

    count = 0
    with Solver(name=SAT_SOLVER, bootstrap_with=clauses) as sat:
        while count < limit and sat.solve():
            count += 1
            model = sat.get_model()
            sat.add_clause([-literal for literal in model[:cell_variables] if literal > 0])
    return count
