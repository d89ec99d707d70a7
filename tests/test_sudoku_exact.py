"""Tests of the exact Sudoku solver API against the naive oracle, python-sat and real puzzles."""

from __future__ import annotations

from pathlib import Path

import numba
import numpy as np
import pytest

from mplm_data.generators import sudoku_search
from mplm_data.generators.errors import InputError
from mplm_data.generators.sudoku import random_solution
from mplm_data.generators.sudoku_geometry import Geometry, text_to_grid
from mplm_data.solvers.sudoku_exact import (count_solutions, count_solutions_sat, solve,
                                            solve_batch)
from naive_sudoku import is_valid_solution, naive_solutions

TWO_SOLUTION_4X4 = "..34" "3412" "..43" "4321"

SHAPES = [(4, 2, 2), (6, 2, 3), (6, 3, 2), (8, 2, 4), (9, 3, 3)]


def _valid(grid: np.ndarray, geometry: Geometry) -> bool:
    return is_valid_solution(grid.tolist(), geometry.n, geometry.box_rows, geometry.box_cols)


def _random_puzzle(geometry: Geometry, seed: int) -> np.ndarray:
    """Blank a random share of a random solution grid; half the time change one clue.

    A changed clue never repeats a digit in a unit, so the puzzle is valid input that may have
    no solution, one, or several.
    """
    rng = np.random.default_rng(seed)
    solution = random_solution(geometry, seed)
    keep = rng.random(geometry.cells) < rng.uniform(0.3, 0.6)
    puzzle = np.where(keep, solution, 0).astype(np.int8)

    clues = np.flatnonzero(puzzle)
    if rng.random() < 0.5 and clues.size:
        cell = int(rng.choice(clues))
        peers = geometry.peers[cell]
        allowed = sorted(set(range(1, geometry.n + 1)) - set(puzzle[peers].tolist()))
        puzzle[cell] = rng.choice(allowed)
    return puzzle


def _read_tdoku(path: Path) -> np.ndarray:
    """Read a tdoku benchmark file: '#' comment lines, then one 81-character puzzle per line."""
    rows = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rows.append(text_to_grid(line[:81], Geometry.for_size(9)))
    return np.stack(rows)


def test_count_solutions_two_solution_4x4():
    geometry = Geometry.for_size(4)
    puzzle = text_to_grid(TWO_SOLUTION_4X4, geometry)
    assert count_solutions(puzzle, geometry, limit=10) == 2
    assert count_solutions_sat(puzzle, geometry, limit=10) == 2
    assert naive_solutions(puzzle, 4, 2, 2, limit=10)[0] == 2


def test_count_solutions_stops_at_limit():
    geometry = Geometry.for_size(9)
    empty = np.zeros(81, dtype=np.int8)
    assert count_solutions(empty, geometry, limit=1) == 1
    assert count_solutions(empty, geometry, limit=7) == 7


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[0]}({s[1]}x{s[2]})")
@pytest.mark.parametrize("seed", range(8))
def test_count_solutions_matches_naive_and_sat(shape, seed):
    geometry = Geometry(*shape)
    puzzle = _random_puzzle(geometry, seed)
    expected, first = naive_solutions(puzzle.tolist(), *shape, limit=3)

    assert count_solutions(puzzle, geometry, limit=3) == expected
    assert count_solutions_sat(puzzle, geometry, limit=3) == expected
    solution = solve(puzzle, geometry)
    if expected == 0:
        assert solution is None
    else:
        assert solution is not None
        assert _valid(solution, geometry)
        assert np.array_equal(solution[puzzle > 0], puzzle[puzzle > 0])


@pytest.mark.parametrize("shape", [(12, 3, 4), (12, 4, 3), (16, 4, 4)],
                         ids=lambda s: f"{s[0]}x{s[0]}({s[1]}x{s[2]})")
@pytest.mark.parametrize("seed", range(3))
def test_count_solutions_matches_sat_large(shape, seed):
    geometry = Geometry(*shape)
    puzzle = _random_puzzle(geometry, seed)
    assert count_solutions(puzzle, geometry, limit=3) == count_solutions_sat(puzzle, geometry,
                                                                             limit=3)


@pytest.mark.parametrize("seed", range(12))
def test_count_solutions_any_16_clues_not_unique(seed):
    geometry = Geometry.for_size(9)
    solution = random_solution(geometry, seed)
    cells = np.random.default_rng(seed).choice(81, size=16, replace=False)
    puzzle = np.zeros(81, dtype=np.int8)
    puzzle[cells] = solution[cells]

    assert count_solutions(puzzle, geometry, limit=2) == 2
    assert count_solutions_sat(puzzle, geometry, limit=2) == 2


@pytest.fixture
def no_search(monkeypatch):
    """Make any call of the search kernels fail the test."""
    def forbidden(*args):
        raise AssertionError("the search kernel ran on contradictory givens")

    monkeypatch.setattr(sudoku_search, "_count_one", forbidden)
    monkeypatch.setattr(sudoku_search, "_count_batch", forbidden)


@pytest.mark.parametrize("n", [9, 16, 25])
@pytest.mark.parametrize("function", [count_solutions, solve, count_solutions_sat])
def test_solver_rejects_repeated_digit_before_search(n, function, no_search):
    geometry = Geometry.for_size(n)
    puzzle = np.zeros(geometry.cells, dtype=np.int8)
    puzzle[0] = 5
    puzzle[n - 1] = 5
    with pytest.raises(InputError, match="digit 5 is given twice in row 1"):
        function(puzzle, geometry)


@pytest.mark.parametrize("n", [9, 16, 25])
def test_solve_batch_rejects_repeated_digit_naming_row(n, no_search):
    geometry = Geometry.for_size(n)
    puzzles = np.zeros((3, geometry.cells), dtype=np.int8)
    puzzles[2, 0] = 5
    puzzles[2, 1] = 5
    with pytest.raises(InputError, match="puzzle 2: digit 5 is given twice in row 1"):
        solve_batch(puzzles, geometry)


@pytest.mark.parametrize("bad", [
    pytest.param(np.zeros(80, dtype=np.int8), id="short"),
    pytest.param(np.full(81, 10, dtype=np.int16), id="digit-10"),
    pytest.param(np.full(81, -1, dtype=np.int64), id="negative"),
    pytest.param(np.zeros(81, dtype=np.float64), id="float"),
])
def test_count_solutions_rejects_malformed_grid(bad):
    with pytest.raises(InputError):
        count_solutions(bad, Geometry.for_size(9))


@pytest.mark.parametrize("limit", [0, -1, 1.5, True])
def test_count_solutions_rejects_bad_limit(limit):
    with pytest.raises(ValueError, match="limit"):
        count_solutions(np.zeros(81, dtype=np.int8), Geometry.for_size(9), limit=limit)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[0]}({s[1]}x{s[2]})")
def test_solve_batch_matches_single_calls(shape):
    geometry = Geometry(*shape)
    puzzles = np.stack([_random_puzzle(geometry, seed) for seed in range(40)])
    solutions, found = solve_batch(puzzles, geometry, limit=3)

    for row, puzzle in enumerate(puzzles):
        assert found[row] == count_solutions(puzzle, geometry, limit=3)
        single = solve(puzzle, geometry)
        expected = np.zeros(geometry.cells, np.int8) if single is None else single
        assert np.array_equal(solutions[row], expected)


def test_solve_batch_independent_of_thread_count():
    geometry = Geometry.for_size(9)
    puzzles = np.stack([_random_puzzle(geometry, seed) for seed in range(100)])
    default_threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = solve_batch(puzzles, geometry)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = solve_batch(puzzles, geometry)
    finally:
        numba.set_num_threads(default_threads)
    assert np.array_equal(one[0], many[0])
    assert np.array_equal(one[1], many[1])


def test_solve_batch_empty_batch():
    solutions, found = solve_batch(np.zeros((0, 81), dtype=np.int8), Geometry.for_size(9))
    assert solutions.shape == (0, 81)
    assert found.shape == (0,)


@pytest.mark.parametrize("name", [
    "tdoku_puzzles2_17_clue_first1000.txt",
    "tdoku_puzzles3_magictour_top1465.txt",
    "tdoku_puzzles6_forum_hardest_1106.txt",
])
def test_solve_batch_public_tdoku_puzzles(public_data, name):
    geometry = Geometry.for_size(9)
    puzzles = _read_tdoku(public_data / "sudoku" / name)
    solutions, found = solve_batch(puzzles, geometry, limit=2)

    assert len(puzzles) > 300
    assert np.all(found == 1)
    given = puzzles > 0
    assert np.array_equal(solutions[given], puzzles[given])
    assert all(_valid(solution, geometry) for solution in solutions)


def test_solve_public_25x25_matches_published_solution(public_data):
    def read_numbers(path: Path) -> np.ndarray:
        return np.array([int(token) for token in path.read_text().split()], dtype=np.int8)

    geometry = Geometry.for_size(25)
    puzzle = read_numbers(public_data / "sudoku" / "bnguyen_25x25.txt")
    expected = read_numbers(public_data / "sudoku" / "bnguyen_25x25_solution.txt")

    assert count_solutions(puzzle, geometry) == 1
    assert np.array_equal(solve(puzzle, geometry), expected)


def test_solve_batch_public_16x16(public_data):
    geometry = Geometry.for_size(16)
    lines = (public_data / "sudoku" / "vukr_16x16.txt").read_text().split()
    puzzles = np.stack([text_to_grid(line, geometry) for line in lines])
    solutions, found = solve_batch(puzzles, geometry, limit=2)

    assert len(puzzles) == 100
    assert np.all(found >= 1)
    given = puzzles > 0
    assert np.array_equal(solutions[given], puzzles[given])
    assert all(_valid(solution, geometry) for solution in solutions)
    for row in range(5):
        assert found[row] == count_solutions_sat(puzzles[row], geometry, limit=2)
