"""Tests of random solution grids and puzzle generation: validity, uniqueness, minimality, seeds."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from mplm_data.generators import sudoku_removal, sudoku_search
from mplm_data.generators.seeding import item_seed
from mplm_data.generators.sudoku import (PuzzleConfig, Symmetry, default_clue_target,
                                         generate_puzzle, generate_puzzles, random_solution)
from mplm_data.generators.sudoku_geometry import Geometry
from mplm_data.solvers.sudoku_exact import count_solutions_sat
from naive_sudoku import is_valid_solution, naive_solutions

SHAPES = [(4, 2, 2), (6, 2, 3), (9, 3, 3), (12, 3, 4), (16, 4, 4), (25, 5, 5)]


def _shape_id(shape):
    return f"{shape[0]}x{shape[0]}({shape[1]}x{shape[2]})"


def _valid(grid: np.ndarray, geometry: Geometry) -> bool:
    return is_valid_solution(grid.tolist(), geometry.n, geometry.box_rows, geometry.box_cols)


def _count(puzzle: np.ndarray, geometry: Geometry) -> int:
    """Solution count up to 2 from the naive oracle for small grids, python-sat otherwise."""
    if geometry.n <= 6:
        return naive_solutions(puzzle.tolist(), geometry.n, geometry.box_rows,
                               geometry.box_cols, limit=2)[0]
    return count_solutions_sat(puzzle, geometry, limit=2)


@pytest.mark.parametrize("kwargs, field", [
    ({"n": 3}, "n"),
    ({"n": 37}, "n"),
    ({"n": True}, "n"),
    ({"n": 9, "box_rows": 2, "box_cols": 4}, "box_rows"),
    ({"n": 10, "box_rows": 3}, "box_rows"),
    ({"clues": 0}, "clues"),
    ({"clues": 82}, "clues"),
    ({"clues": 30.0}, "clues"),
    ({"minimal": True, "clues": 30}, "clues"),
    ({"minimal": "yes"}, "minimal"),
    ({"symmetry": "mirror"}, "symmetry"),
])
def test_puzzle_config_rejects_invalid_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        PuzzleConfig(**kwargs)


def test_puzzle_config_resolves_geometry_and_symmetry():
    config = PuzzleConfig(n=12, box_rows=4, symmetry="rot180")
    assert config.geometry == Geometry(12, 4, 3)
    assert config.symmetry is Symmetry.ROTATE_180
    assert PuzzleConfig(n=6).geometry == Geometry(6, 2, 3)


@pytest.mark.parametrize("n, target", [(4, 5), (9, 28), (16, 112), (25, 344), (36, 891)])
def test_default_clue_target_per_size(n, target):
    assert default_clue_target(Geometry.for_size(n)) == target
    assert PuzzleConfig(n=n).clue_target == target
    assert PuzzleConfig(n=n, minimal=True).clue_target == 0


@pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
@pytest.mark.parametrize("seed", range(3))
def test_random_solution_valid(shape, seed):
    geometry = Geometry(*shape)
    solution = random_solution(geometry, seed)
    assert solution.dtype == np.int8
    assert _valid(solution, geometry)


def test_random_solution_valid_36x36():
    geometry = Geometry.for_size(36)
    assert _valid(random_solution(geometry, 2026), geometry)


@pytest.mark.parametrize("n", [9, 16])
def test_random_solution_rows_not_shifted_pattern(n):
    """Shifting a base row makes every row a rotation of row 1; search-drawn grids differ."""
    geometry = Geometry.for_size(n)
    solution = random_solution(geometry, 5).reshape(n, n)
    first = solution[0].tolist()
    rotations = {tuple(first[k:] + first[:k]) for k in range(n)}
    shifted_rows = sum(tuple(row) in rotations for row in solution.tolist())
    assert shifted_rows < n


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("minimal", [False, True])
@pytest.mark.parametrize("symmetry", list(Symmetry))
def test_generate_puzzle_4x4_unique(seed, minimal, symmetry):
    config = PuzzleConfig(n=4, minimal=minimal, symmetry=symmetry)
    puzzle, solution = generate_puzzle(config, seed)
    count, found = naive_solutions(puzzle.tolist(), 4, 2, 2, limit=2)
    assert count == 1
    assert found == solution.tolist()


@pytest.mark.parametrize("seed", range(15))
@pytest.mark.parametrize("minimal", [False, True])
@pytest.mark.parametrize("symmetry", list(Symmetry))
def test_generate_puzzle_9x9_unique(seed, minimal, symmetry):
    config = PuzzleConfig(n=9, minimal=minimal, symmetry=symmetry)
    puzzle, solution = generate_puzzle(config, seed)
    assert count_solutions_sat(puzzle, config.geometry, limit=2) == 1
    assert np.array_equal(solution[puzzle > 0], puzzle[puzzle > 0])
    assert _valid(solution, config.geometry)


@pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
def test_generate_puzzle_default_unique_and_consistent(shape):
    config = PuzzleConfig(n=shape[0], box_rows=shape[1], box_cols=shape[2])
    geometry = config.geometry
    puzzle, solution = generate_puzzle(config, 11)
    assert _valid(solution, geometry)
    assert np.array_equal(solution[puzzle > 0], puzzle[puzzle > 0])
    assert np.count_nonzero(puzzle) == config.clue_target
    assert _count(puzzle, geometry) == 1


@pytest.mark.parametrize("shape", [(4, 2, 2), (6, 2, 3), (6, 3, 2), (9, 3, 3)], ids=_shape_id)
@pytest.mark.parametrize("seed", range(3))
def test_generate_puzzle_minimal_has_no_removable_clue(shape, seed):
    config = PuzzleConfig(n=shape[0], box_rows=shape[1], box_cols=shape[2], minimal=True)
    geometry = config.geometry
    puzzle, _ = generate_puzzle(config, seed)
    assert _count(puzzle, geometry) == 1
    for cell in np.flatnonzero(puzzle):
        reduced = puzzle.copy()
        reduced[cell] = 0
        assert _count(reduced, geometry) == 2, f"clue at cell {cell} is removable"


@pytest.mark.parametrize("seed", range(3))
def test_generate_puzzle_rot180_minimal_pairs_needed(seed):
    config = PuzzleConfig(n=9, minimal=True, symmetry=Symmetry.ROTATE_180)
    geometry = config.geometry
    puzzle, _ = generate_puzzle(config, seed)
    assert np.array_equal(puzzle > 0, (puzzle > 0)[::-1])
    for cell in np.flatnonzero(puzzle[:41]):
        reduced = puzzle.copy()
        reduced[[cell, 80 - cell]] = 0
        assert _count(reduced, geometry) == 2, f"clue pair at cell {cell} is removable"


@pytest.mark.parametrize("clues", [30, 36, 45])
@pytest.mark.parametrize("symmetry", list(Symmetry))
def test_generate_puzzle_reaches_clue_target(clues, symmetry):
    config = PuzzleConfig(n=9, clues=clues, symmetry=symmetry)
    puzzle, _ = generate_puzzle(config, 4)
    assert np.count_nonzero(puzzle) == clues
    if symmetry is Symmetry.ROTATE_180:
        assert np.array_equal(puzzle > 0, (puzzle > 0)[::-1])


def test_generate_puzzle_unreachable_target_keeps_more_clues():
    config = PuzzleConfig(n=4, clues=1)
    puzzle, _ = generate_puzzle(config, 0)
    assert np.count_nonzero(puzzle) > 1
    assert _count(puzzle, config.geometry) == 1


@pytest.mark.parametrize("n", [9, 25])
def test_generate_puzzle_same_seed_identical(n):
    config = PuzzleConfig(n=n)
    first = generate_puzzle(config, 123)
    second = generate_puzzle(config, 123)
    assert first[0].tobytes() == second[0].tobytes()
    assert first[1].tobytes() == second[1].tobytes()


@pytest.mark.parametrize("n", [4, 9, 16])
def test_generate_puzzle_different_seeds_differ(n):
    config = PuzzleConfig(n=n)
    puzzles = {generate_puzzle(config, seed)[0].tobytes() for seed in range(10)}
    assert len(puzzles) == 10


def test_generate_puzzle_ignores_global_numpy_seed():
    config = PuzzleConfig(n=9, minimal=True)
    geometry = config.geometry
    saved = np.random.get_state()
    try:
        np.random.seed(1)
        first = generate_puzzle(config, 99), random_solution(geometry, 99)
        np.random.seed(2)
        np.random.random(1000)
        second = generate_puzzle(config, 99), random_solution(geometry, 99)
    finally:
        np.random.set_state(saved)
    assert first[0][0].tobytes() == second[0][0].tobytes()
    assert first[0][1].tobytes() == second[0][1].tobytes()
    assert first[1].tobytes() == second[1].tobytes()


def test_generate_puzzles_matches_item_seeds():
    config = PuzzleConfig(n=9, symmetry=Symmetry.ROTATE_180)
    puzzles, solutions = generate_puzzles(config, seed=8, count=6, start=3)
    for row in range(6):
        puzzle, solution = generate_puzzle(config, item_seed(8, 3 + row))
        assert np.array_equal(puzzles[row], puzzle)
        assert np.array_equal(solutions[row], solution)


def test_generate_puzzles_independent_of_thread_count():
    config = PuzzleConfig(n=16)
    default_threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = generate_puzzles(config, seed=1, count=8)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = generate_puzzles(config, seed=1, count=8)
    finally:
        numba.set_num_threads(default_threads)
    assert np.array_equal(one[0], many[0])
    assert np.array_equal(one[1], many[1])


@pytest.mark.parametrize("seed", [-1, 1 << 63, 2.0])
def test_generate_puzzle_rejects_bad_seed(seed):
    with pytest.raises(ValueError, match="seed"):
        generate_puzzle(PuzzleConfig(n=4), seed)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("symmetry", list(Symmetry))
def test_generate_puzzle_sat_fallback_same_puzzle(seed, symmetry, monkeypatch):
    """Sending every check that branches to the SAT solver changes no puzzle."""
    config = PuzzleConfig(n=9, minimal=True, symmetry=symmetry)
    expected = generate_puzzle(config, seed)
    monkeypatch.setattr(sudoku_removal, "NODE_CAP", 1)
    calls = []
    original = sudoku_removal.SatUniquenessCheck.has_other_solution
    monkeypatch.setattr(sudoku_removal.SatUniquenessCheck, "has_other_solution",
                        lambda self, *args: calls.append(args) or original(self, *args))

    puzzle, solution = generate_puzzle(config, seed)
    batch = generate_puzzles(config, seed=seed, count=2)
    assert calls
    assert np.array_equal(puzzle, expected[0])
    assert np.array_equal(solution, expected[1])
    assert np.array_equal(batch[0][1], generate_puzzle(config, item_seed(seed, 1))[0])


@pytest.mark.parametrize("shape", [(6, 2, 3), (9, 3, 3)], ids=_shape_id)
@pytest.mark.parametrize("seed", range(6))
def test_sat_check_matches_search_kernel(shape, seed):
    geometry = Geometry(*shape)
    config = PuzzleConfig(n=shape[0], box_rows=shape[1], box_cols=shape[2], minimal=True)
    puzzle, solution = generate_puzzle(config, seed)
    rng = np.random.default_rng(seed)
    clues = np.flatnonzero(puzzle)
    blanks = np.flatnonzero(puzzle == 0)
    cases = [(int(rng.choice(clues)), -1), (int(rng.choice(clues)), int(rng.choice(blanks))),
             tuple(int(c) for c in rng.choice(clues, size=2, replace=False))]

    check = sudoku_removal.sat_check(geometry)
    work = [np.empty(geometry.cells, np.uint64), np.empty(geometry.cells, np.uint64),
            np.empty(geometry.cells, np.int8), sudoku_search._new_workspace(geometry.cells),
            np.empty(geometry.cells, np.int32), np.zeros(geometry.cells, np.int8)]
    for first, second in cases:
        reduced = puzzle.copy()
        reduced[[c for c in (first, second) if c >= 0]] = 0
        expected = count_solutions_sat(reduced, geometry, limit=2) == 2
        found = sudoku_removal._has_other_solution(
            puzzle, solution, first, second, geometry.units, geometry.peers, 0,
            sudoku_search._new_rng(seed), *work)
        assert found == int(expected)
        assert check.has_other_solution(puzzle, solution, first, second) == expected
