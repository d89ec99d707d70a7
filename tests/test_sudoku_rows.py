"""Tests for the Sudoku puzzle task and the file solver (mplm_data.sudoku_rows).

Uniqueness is re-checked with python-sat (`count_solutions_sat`), and solutions with the plain
unit check of sudoku_geometry, so the rows are not judged by the code that made them.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from mplm_data.generators.errors import MplmDataError
from mplm_data.generators.seeding import item_seed
from mplm_data.generators.sudoku import generate_puzzle
from mplm_data.generators.sudoku_geometry import Geometry, find_conflict, text_to_grid
from mplm_data.solvers.sudoku_derivation import Grade, Technique
from mplm_data.solvers.sudoku_exact import count_solutions_sat
from mplm_data.solvers.sudoku_logic import derive
from mplm_data.sudoku_io import PuzzleFile
from mplm_data.sudoku_rows import (PUZZLE_SCHEMA, SOLVED_SCHEMA, SudokuPuzzleTask, parse_grade,
                                   solve_puzzles)


@pytest.mark.parametrize(("text", "expected"), [
    ("naked_single", Grade(Technique.NAKED_SINGLE, 0)),
    ("Hidden_Single", Grade(Technique.HIDDEN_SINGLE, 0)),
    ("guess", Grade(Technique.GUESS, 0)),
    ("guess+3", Grade(Technique.GUESS, 3)),
])
def test_parse_grade_valid(text: str, expected: Grade) -> None:
    assert parse_grade(text) == expected


@pytest.mark.parametrize("text", ["", "guessing", "naked_pair+1", "guess+x", "contradiction"])
def test_parse_grade_invalid_raises(text: str) -> None:
    with pytest.raises(ValueError, match="is invalid"):
        parse_grade(text)


@pytest.mark.parametrize(("options", "fragment"), [
    ({"max_attempts": 0}, "max_attempts"),
    ({"max_attempts": 10**6}, "max_attempts"),
    ({"min_grade": "hardest"}, "min_grade"),
    ({"max_grade": "guess+-1"}, "max_grade"),
    ({"solvable_by": "xwing"}, "solvable_by"),
    ({"solvable_by": Technique.REFUTATION}, "solvable_by"),
    ({"min_grade": "naked_pair", "max_grade": "hidden_single"}, "min_grade"),
    ({"min_grade": "guess+2", "max_grade": "guess+1"}, "min_grade"),
    ({"min_grade": "guess", "solvable_by": "hidden_pair"}, "solvable_by"),
    ({"symmetry": "mirror"}, "symmetry"),
    ({"n": 9, "clues": 0}, "clues"),
])
def test_task_invalid_options_raise(options: dict, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        SudokuPuzzleTask(**options)


@pytest.mark.parametrize(("bounds", "grade", "accepted"), [
    ({"max_grade": "guess"}, Grade(Technique.GUESS, 4), True),
    ({"max_grade": "guess+3"}, Grade(Technique.GUESS, 4), False),
    ({"max_grade": "guess+4"}, Grade(Technique.GUESS, 4), True),
    ({"min_grade": "guess"}, Grade(Technique.GUESS, 1), True),
    ({"min_grade": "guess"}, Grade(Technique.HIDDEN_PAIR, 0), False),
    ({"min_grade": "guess+2"}, Grade(Technique.GUESS, 1), False),
    ({"min_grade": "hidden_single", "max_grade": "naked_pair"}, Grade(Technique.NAKED_PAIR, 0), True),
    ({"max_grade": "hidden_single"}, Grade(Technique.LOCKED_CANDIDATES, 0), False),
    ({"solvable_by": "hidden_single"}, Grade(Technique.HIDDEN_SINGLE, 0), True),
    ({"solvable_by": "hidden_single"}, Grade(Technique.GUESS, 1), False),
])
def test_task_accepts_grade_bounds(bounds: dict, grade: Grade, accepted: bool) -> None:
    assert SudokuPuzzleTask(**bounds).accepts(grade) is accepted


def test_task_pickles_and_names_itself() -> None:
    task = SudokuPuzzleTask(n=16, min_grade="Hidden_Single", solvable_by="guess", symmetry="rot180")

    assert pickle.loads(pickle.dumps(task)) == task
    assert task.name == "sudoku-16x16"
    assert task.solvable_by is Technique.GUESS
    assert task.min_grade == "hidden_single"
    assert task.config()["solvable_by"] == "guess"
    assert task.config()["symmetry"] == "rot180"
    assert task.config()["clue_target"] == 112


@pytest.mark.parametrize(("n", "seed"), [(4, 0), (4, 7), (9, 0), (9, 3)])
def test_task_rows_match_remeasured_values(n: int, seed: int) -> None:
    task = SudokuPuzzleTask(n=n)
    geometry = task.geometry
    table = task.rows(seed, 0, 4)

    assert table.schema.equals(PUZZLE_SCHEMA)
    for row in table.to_pylist():
        puzzle = text_to_grid(row["puzzle"], geometry)
        solution = text_to_grid(row["solution"], geometry)
        assert row["clues"] == int(np.count_nonzero(puzzle))
        assert row["grade"] == str(derive(puzzle, geometry).grade)
        assert row["technique"] == derive(puzzle, geometry).grade.technique.label
        assert count_solutions_sat(puzzle, geometry, limit=2) == 1
        assert (solution > 0).all()
        assert find_conflict(solution, geometry) is None
        assert ((puzzle == 0) | (puzzle == solution)).all()


@pytest.mark.parametrize("seed", [0, 11])
def test_task_rows_independent_of_shard_split(seed: int) -> None:
    task = SudokuPuzzleTask(n=9)

    whole = task.rows(seed, 0, 6)
    parts = pa.concat_tables([task.rows(seed, 0, 2), task.rows(seed, 2, 3), task.rows(seed, 3, 6)])

    assert whole.equals(parts)
    assert whole.column("index").to_pylist() == list(range(6))


def test_task_rows_regenerate_from_item_seed() -> None:
    task = SudokuPuzzleTask(n=9, max_grade="hidden_single", max_attempts=200)
    geometry = task.geometry

    for row in task.rows(5, 0, 4).to_pylist():
        stream = () if row["attempt"] == 0 else (row["attempt"],)
        assert row["item_seed"] == item_seed(5, row["index"], *stream)
        puzzle, _ = generate_puzzle(task.puzzle_config, row["item_seed"])
        np.testing.assert_array_equal(text_to_grid(row["puzzle"], geometry), puzzle)
        assert Technique[row["technique"].upper()] <= Technique.HIDDEN_SINGLE


@pytest.mark.parametrize("options", [{"solvable_by": "hidden_single"}, {"max_grade": "naked_pair"}])
def test_task_grade_filter_holds(options: dict) -> None:
    task = SudokuPuzzleTask(n=9, max_attempts=200, **options)

    rows = task.rows(1, 0, 5).to_pylist()

    limit = parse_grade(options.get("solvable_by") or options["max_grade"]).technique
    assert all(Technique[row["technique"].upper()] <= limit for row in rows)


def test_task_unreachable_filter_raises() -> None:
    # A 4x4 puzzle with a unique solution never needs a guess in these generator settings.
    task = SudokuPuzzleTask(n=4, min_grade="guess+5", max_attempts=3)

    with pytest.raises(MplmDataError, match="loosen"):
        task.rows(0, 0, 1)


@pytest.mark.slow
def test_task_verify_accepts_generated_puzzles() -> None:
    task = SudokuPuzzleTask(n=9, verify=True)

    assert task.rows(2, 0, 3).num_rows == 3


def small_file(puzzles: list[str], solutions: list[str] | None = None) -> PuzzleFile:
    geometry = Geometry.for_size(4)
    grids = np.stack([text_to_grid(text, geometry) for text in puzzles])
    given = None if solutions is None else np.stack([text_to_grid(t, geometry) for t in solutions])
    return PuzzleFile(Path("small.txt"), geometry, "line", "1-4",
                      np.arange(1, len(puzzles) + 1, dtype=np.int64), grids, given)


UNIQUE_4X4 = "1.3.34...14.4.2."
UNIQUE_4X4_SOLUTION = "1234341221434321"
# r1c3 has 1 and 2 in its row and 3 and 4 in its column, so no digit fits there.
NO_SOLUTION_4X4 = "12........3...4."
EMPTY_4X4 = "." * 16


def test_solve_puzzles_counts_outcomes() -> None:
    table, summary = solve_puzzles(small_file([UNIQUE_4X4, NO_SOLUTION_4X4, EMPTY_4X4]))

    assert table.schema.equals(SOLVED_SCHEMA)
    assert table.column("solutions_found").to_pylist() == [1, 0, 2]
    assert table.column("solution").to_pylist()[:2] == [UNIQUE_4X4_SOLUTION, None]
    assert table.column("line").to_pylist() == [1, 2, 3]
    assert (summary.puzzles, summary.unique, summary.no_solution, summary.multiple) == (3, 1, 1, 1)
    assert summary.solved == 2


def test_solve_puzzles_reports_wrong_given_solution() -> None:
    wrong = "1234341221434312"
    puzzles = small_file([UNIQUE_4X4, UNIQUE_4X4, EMPTY_4X4],
                         [UNIQUE_4X4_SOLUTION, wrong, UNIQUE_4X4_SOLUTION])

    _, summary = solve_puzzles(puzzles)

    assert summary.given_solutions == 3
    assert summary.mismatched_lines == [2]
