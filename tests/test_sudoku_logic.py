"""Tests of the logical Sudoku grader: each technique, grades, filtering and replayed derivations.

Every derivation the tests produce is replayed by `sudoku_derivation_checker`, which shares no
code with the grader. Solutions of unique puzzles are compared with a python-sat encoding. The
technique positions below were built for these tests. The two puzzles with equal clue counts were
made from grids of `_pattern_solution` by removing clues while the solution stayed unique.
"""

from __future__ import annotations

import dataclasses
import itertools
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from pysat.solvers import Solver

from mplm_data.generators.errors import InputError
from mplm_data.generators.sudoku_geometry import Geometry
from mplm_data.solvers.sudoku_derivation import Derivation, Fact, FactKind, Step, Technique
from mplm_data.solvers.sudoku_logic import derive, grade
from sudoku_derivation_checker import DerivationError, check_derivation

SYMBOLS = "123456789ABCDEFGHIJKLMNOPQRSTUVWXYZa"
NINE = Geometry.for_size(9)
FOUR = Geometry.for_size(4)

# 25 clues each, both unique: the first is solved by singles, the second needs guesses.
SINGLES_PUZZLE = "15......3..832.5..3....7.....96......3.....26...73.19............1..46.5...971..."
GUESS_PUZZLE = "157.........3.6.........9.......2..7....19.2.6427....8.845.....9.....635...9...4."
# GUESS_PUZZLE with r5c5 (cell 40) changed from 1 to 5: it has no solution, and techniques below
# guess stall before they reach a contradiction.
UNSOLVABLE_AFTER_GUESSES = (
    "157.........3.6.........9.......2..7....59.2.6427....8.845.....9.....635...9...4.")

# Positions whose first step is the named technique (cells are 0-based, row-major).
HIDDEN_SINGLE_POSITION = "." * 13 + "1" + "." * 11 + "1" + ".." + "1" + "." * 27 + "1" + "." * 24
POINTING_POSITION = "." * 9 + "234" + "." * 13 + "1" + "." * 55
CLAIMING_POSITION = "...2345" + "." * 27 + "1" + "." * 27 + "1" + "." * 18
NAKED_PAIR_POSITION = (
    "74395.8.18.13745..5.918.743952418376184637.5.37629518463.82941.29.74163.41.563...")
HIDDEN_PAIR_POSITION = (
    "5.1.27.6.....15..7....6..1...4....8...9.86....58.4.39...5....3.....5.1.881.2.4.59")


def _parse(text: str) -> np.ndarray:
    """Read one grid written one symbol per cell, `.` or `0` for a blank."""
    return np.array([0 if symbol in ".0" else SYMBOLS.index(symbol) + 1 for symbol in text],
                    dtype=np.int8)


def _place(cell: int, digit: int) -> Fact:
    return Fact(FactKind.PLACEMENT, cell, digit)


def _elim(cell: int, digit: int) -> Fact:
    return Fact(FactKind.ELIMINATION, cell, digit)


def _candidates(grid: np.ndarray, geometry: Geometry) -> dict[int, set[int]]:
    """Candidates of each empty cell: the digits that no peer holds."""
    digits = set(range(1, geometry.n + 1))
    return {cell: digits - {int(grid[peer]) for peer in geometry.peers[cell]}
            for cell in range(geometry.cells) if grid[cell] == 0}


def _has_single(grid: np.ndarray, geometry: Geometry) -> bool:
    """True when some empty cell has one candidate or some digit has one place in a unit."""
    candidates = _candidates(grid, geometry)
    if any(len(digits) == 1 for digits in candidates.values()):
        return True
    for unit in geometry.units.tolist():
        for digit in range(1, geometry.n + 1):
            places = [cell for cell in unit if digit in candidates.get(cell, ())]
            if len(places) == 1:
                return True
    return False


def _pysat_solutions(grid: np.ndarray, geometry: Geometry, limit: int = 2) -> list[np.ndarray]:
    """Up to `limit` solutions from a direct CNF encoding (one variable per cell and digit).

    Each unit contains each digit at least once and at most once. The at-most-one clauses are
    implied by the others, but without them the solver needs seconds per hard 9x9 puzzle.
    """
    n = geometry.n

    def var(cell: int, digit: int) -> int:
        return cell * n + digit

    units = geometry.units.tolist()
    clauses = [[var(cell, d) for cell in unit] for unit in units for d in range(1, n + 1)]
    clauses.extend([-var(a, d), -var(b, d)] for unit in units for d in range(1, n + 1)
                   for a, b in itertools.combinations(unit, 2))
    for cell in range(geometry.cells):
        clauses.append([var(cell, d) for d in range(1, n + 1)])
        clauses.extend([-var(cell, a), -var(cell, b)]
                       for a, b in itertools.combinations(range(1, n + 1), 2))
    givens = [var(cell, int(digit)) for cell, digit in enumerate(grid) if digit]

    solutions = []
    with Solver(name="g3", bootstrap_with=clauses) as solver:
        for model in solver.enum_models(assumptions=givens):
            true = [literal - 1 for literal in model if literal > 0]
            solution = np.zeros(geometry.cells, dtype=np.int8)
            for index in true:
                solution[index // n] = index % n + 1
            solutions.append(solution)
            if len(solutions) == limit:
                break
    return solutions


def _pattern_solution(geometry: Geometry, rng: np.random.Generator) -> np.ndarray:
    """A valid solved grid: a shifted pattern with rows, columns and digits shuffled."""
    n, box_rows, box_cols = geometry.n, geometry.box_rows, geometry.box_cols
    index = np.arange(n)
    pattern = (box_cols * (index[:, None] % box_rows) + index[:, None] // box_rows
               + index[None, :]) % n
    rows = np.concatenate([band * box_rows + rng.permutation(box_rows)
                           for band in rng.permutation(n // box_rows)])
    cols = np.concatenate([stack * box_cols + rng.permutation(box_cols)
                           for stack in rng.permutation(n // box_cols)])
    digits = rng.permutation(n) + 1
    return digits[pattern[rows][:, cols]].ravel().astype(np.int8)


def _random_puzzle(geometry: Geometry, seed: int, clue_fraction: float) -> np.ndarray:
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(geometry.n,)))
    puzzle = _pattern_solution(geometry, rng)
    puzzle[rng.random(geometry.cells) >= clue_fraction] = 0
    return puzzle


# --- techniques ---------------------------------------------------------------------------------


def test_naked_single_cites_placed_peers():
    step = derive(_parse("123............."), FOUR).steps[0]

    assert step == Step(Technique.NAKED_SINGLE, -1, (_place(3, 4),),
                        (_place(0, 1), _place(1, 2), _place(2, 3)), 0)


def test_hidden_single_cites_one_fact_per_empty_cell():
    position = _parse(HIDDEN_SINGLE_POSITION)
    step = derive(position, NINE).steps[0]

    assert not any(len(digits) == 1 for digits in _candidates(position, NINE).values())
    assert step.technique == Technique.HIDDEN_SINGLE
    assert step.unit == 0
    assert step.conclusions == (_place(0, 1),)
    assert set(step.premises) == {_place(13, 1), _place(25, 1), _place(28, 1), _place(56, 1)}
    assert len(step.premises) == 4


def test_locked_candidates_pointing_eliminations():
    position = _parse(POINTING_POSITION)
    step = derive(position, NINE).steps[0]

    assert not _has_single(position, NINE)
    assert step.technique == Technique.LOCKED_CANDIDATES
    assert step.unit == 2 * 9  # box 1
    assert step.conclusions == (_elim(3, 1), _elim(4, 1), _elim(5, 1))
    assert step.premises == (_place(25, 1),)


def test_locked_candidates_claiming_eliminations():
    position = _parse(CLAIMING_POSITION)
    step = derive(position, NINE).steps[0]

    assert not _has_single(position, NINE)
    assert step.technique == Technique.LOCKED_CANDIDATES
    assert step.unit == 0  # row 1
    assert step.conclusions == tuple(_elim(cell, 1) for cell in (9, 10, 11, 18, 19, 20))
    assert set(step.premises) == {_place(34, 1), _place(62, 1)}


def test_naked_pair_eliminations():
    position = _parse(NAKED_PAIR_POSITION)
    candidates = _candidates(position, NINE)
    step = derive(position, NINE).steps[0]

    assert not _has_single(position, NINE)
    assert candidates[78] == candidates[79] == {2, 9}
    assert candidates[80] == {2, 7, 8, 9}
    assert step.technique == Technique.NAKED_PAIR
    assert step.unit == 8  # row 9
    assert step.conclusions == (_elim(80, 2), _elim(80, 9))
    assert all(fact.kind == FactKind.PLACEMENT for fact in step.premises)
    assert all(fact.digit not in (2, 9) for fact in step.premises)
    # One fact per other digit in each pair cell, but cell 69 contains 6 and removes it from both.
    assert len(step.premises) == 2 * 7 - 1


def test_hidden_pair_eliminations():
    position = _parse(HIDDEN_PAIR_POSITION)
    candidates = _candidates(position, NINE)
    row = [cell for cell in range(54, 63) if cell in candidates]
    step = derive(position, NINE).steps[0]

    assert not _has_single(position, NINE)
    assert [cell for cell in row if 1 in candidates[cell]] == [57, 59]
    assert [cell for cell in row if 8 in candidates[cell]] == [57, 59]
    assert step.technique == Technique.HIDDEN_PAIR
    assert step.unit == 6  # row 7
    assert step.conclusions == (_elim(57, 6), _elim(57, 7), _elim(57, 9), _elim(59, 9))
    assert set(step.premises) == {_place(73, 1), _place(13, 1), _place(69, 1),
                                  _place(72, 8), _place(40, 8), _place(71, 8)}


def test_guess_takes_lowest_candidate_of_first_cell():
    derivation = derive(np.zeros(16, dtype=np.int8), FOUR)

    assert derivation.steps[0] == Step(Technique.GUESS, -1, (_place(0, 1),), (), 1)
    check_derivation(derivation)


def test_contradiction_then_refutation_of_closed_guess():
    derivation = derive(_parse("..4....13..4...."), FOUR)
    steps = derivation.steps
    first = next(i for i, step in enumerate(steps) if step.technique == Technique.CONTRADICTION)
    refutation = steps[first + 1]
    guess = next(step for step in reversed(steps[:first]) if step.technique == Technique.GUESS)

    assert steps[first].depth == guess.depth
    assert refutation.technique == Technique.REFUTATION
    assert refutation.depth == guess.depth - 1
    assert refutation.premises == guess.conclusions
    assert refutation.conclusions == (_elim(guess.conclusions[0].cell, guess.conclusions[0].digit),)
    check_derivation(derivation)


# --- grades and filtering -----------------------------------------------------------------------


def test_grade_differs_at_equal_clue_count():
    singles, guessing = _parse(SINGLES_PUZZLE), _parse(GUESS_PUZZLE)

    assert np.count_nonzero(singles) == np.count_nonzero(guessing) == 25
    assert len(_pysat_solutions(singles, NINE)) == 1
    assert len(_pysat_solutions(guessing, NINE)) == 1
    assert grade(singles, NINE).technique <= Technique.HIDDEN_SINGLE
    assert grade(singles, NINE).guesses == 0
    assert grade(guessing, NINE).technique == Technique.GUESS
    assert grade(guessing, NINE).guesses > 0


@pytest.mark.parametrize(("text", "limit"), [
    (HIDDEN_SINGLE_POSITION, Technique.NAKED_SINGLE),
    (SINGLES_PUZZLE, Technique.NAKED_SINGLE),
    (POINTING_POSITION, Technique.HIDDEN_SINGLE),
    (NAKED_PAIR_POSITION, Technique.LOCKED_CANDIDATES),
    (HIDDEN_PAIR_POSITION, Technique.NAKED_PAIR),
    (GUESS_PUZZLE, Technique.HIDDEN_PAIR),
])
def test_derive_below_needed_technique_returns_none(text, limit):
    assert derive(_parse(text), NINE, max_technique=limit) is None


@pytest.mark.parametrize("text", [SINGLES_PUZZLE, GUESS_PUZZLE, NAKED_PAIR_POSITION,
                                  HIDDEN_PAIR_POSITION])
def test_derive_at_needed_technique_matches_unlimited(text):
    full = derive(_parse(text), NINE)
    limited = derive(_parse(text), NINE, max_technique=full.grade.technique)

    assert limited is not None
    assert limited.steps == full.steps


def test_derive_repeats_exactly():
    first = derive(_parse(GUESS_PUZZLE), NINE)
    second = derive(_parse(GUESS_PUZZLE), NINE)

    assert first.steps == second.steps
    assert np.array_equal(first.solution, second.solution)


@pytest.mark.parametrize("offset", [-1, 0])
def test_derive_max_steps_bounds_length(offset):
    needed = len(derive(_parse(GUESS_PUZZLE), NINE).steps)
    limited = derive(_parse(GUESS_PUZZLE), NINE, max_steps=needed + offset)

    if offset < 0:
        assert limited is None
    else:
        assert len(limited.steps) == needed


# --- input errors -------------------------------------------------------------------------------


def test_derive_rejects_repeated_given():
    with pytest.raises(InputError, match="given twice"):
        derive(_parse("1..1" + "." * 12), FOUR)


@pytest.mark.parametrize(("text", "geometry"), [
    ("12....3.....4...", FOUR),
    (UNSOLVABLE_AFTER_GUESSES, NINE),
])
def test_derive_rejects_puzzle_without_solution(text, geometry):
    assert not _pysat_solutions(_parse(text), geometry)
    with pytest.raises(InputError, match="no solution"):
        derive(_parse(text), geometry)


def test_derive_finds_no_solution_only_by_guessing():
    assert derive(_parse(UNSOLVABLE_AFTER_GUESSES), NINE, max_technique=Technique.HIDDEN_PAIR) is None


@pytest.mark.parametrize("kwargs", [
    {"max_technique": Technique.CONTRADICTION},
    {"max_technique": 0},
    {"max_steps": 0},
    {"max_steps": 2.5},
])
def test_derive_rejects_invalid_limits(kwargs):
    with pytest.raises(ValueError, match="max_"):
        derive(_parse(SINGLES_PUZZLE), NINE, **kwargs)


# --- replayed derivations -----------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(("n", "box_rows", "clue_fraction"), [
    (4, 2, 0.25), (4, 2, 0.4), (6, 2, 0.35), (9, 3, 0.3), (9, 3, 0.45), (12, 3, 0.5),
])
def test_checker_accepts_random_puzzle(seed, n, box_rows, clue_fraction):
    geometry = Geometry.for_size(n, box_rows)
    puzzle = _random_puzzle(geometry, seed, clue_fraction)
    derivation = derive(puzzle, geometry)
    solutions = _pysat_solutions(puzzle, geometry)

    check_derivation(derivation)
    if len(solutions) == 1:
        assert np.array_equal(derivation.solution, solutions[0])


@pytest.mark.parametrize("text", [SINGLES_PUZZLE, GUESS_PUZZLE, HIDDEN_SINGLE_POSITION,
                                  POINTING_POSITION, CLAIMING_POSITION, NAKED_PAIR_POSITION,
                                  HIDDEN_PAIR_POSITION])
def test_checker_accepts_technique_position(text):
    check_derivation(derive(_parse(text), NINE))


def _tamper_premise(step: Step) -> Step:
    # Drop every premise about one digit. One dropped fact alone can leave the step valid, because
    # another premise may rule out the same candidate (a box peer and a column peer with the digit).
    digit = step.premises[0].digit
    return dataclasses.replace(step, premises=tuple(f for f in step.premises if f.digit != digit))


def _tamper_conclusion(step: Step) -> Step:
    fact = step.conclusions[0]
    changed = dataclasses.replace(fact, digit=fact.digit % 9 + 1)
    return dataclasses.replace(step, conclusions=(changed,) + step.conclusions[1:])


def _tamper_depth(step: Step) -> Step:
    return dataclasses.replace(step, depth=step.depth + 1)


_TAMPERED_STEPS = [
    (text, technique, tamper)
    for text, technique in [
        (SINGLES_PUZZLE, Technique.NAKED_SINGLE),
        (SINGLES_PUZZLE, Technique.HIDDEN_SINGLE),
        (POINTING_POSITION, Technique.LOCKED_CANDIDATES),
        (NAKED_PAIR_POSITION, Technique.NAKED_PAIR),
        (HIDDEN_PAIR_POSITION, Technique.HIDDEN_PAIR),
        (GUESS_PUZZLE, Technique.GUESS),
        (GUESS_PUZZLE, Technique.CONTRADICTION),
        (GUESS_PUZZLE, Technique.REFUTATION),
    ]
    for tamper in (_tamper_premise, _tamper_conclusion, _tamper_depth)
    # A guess has no premise and a contradiction no conclusion to tamper with.
    if (technique, tamper) not in ((Technique.GUESS, _tamper_premise),
                                   (Technique.CONTRADICTION, _tamper_conclusion))
]


@pytest.mark.parametrize(("text", "technique", "tamper"), _TAMPERED_STEPS)
def test_checker_rejects_tampered_step(text, technique, tamper):
    derivation = derive(_parse(text), NINE)
    index = next(i for i, step in enumerate(derivation.steps) if step.technique == technique)
    step = derivation.steps[index]
    steps = derivation.steps[:index] + (tamper(step),) + derivation.steps[index + 1:]

    with pytest.raises(DerivationError):
        check_derivation(dataclasses.replace(derivation, steps=steps))


@pytest.mark.parametrize("index", range(8))
def test_checker_rejects_naked_single_without_premise(index):
    derivation = derive(_parse(SINGLES_PUZZLE), NINE)
    position = next(i for i, step in enumerate(derivation.steps)
                    if step.technique == Technique.NAKED_SINGLE)
    step = derivation.steps[position]
    premises = step.premises[:index] + step.premises[index + 1:]
    steps = list(derivation.steps)
    steps[position] = dataclasses.replace(step, premises=premises)

    assert len(step.premises) == 8
    with pytest.raises(DerivationError, match="premises do not force"):
        check_derivation(dataclasses.replace(derivation, steps=tuple(steps)))


@pytest.mark.parametrize("change", ["drop_last_step", "wrong_solution", "drop_refutation"])
def test_checker_rejects_tampered_derivation(change):
    derivation = derive(_parse(GUESS_PUZZLE), NINE)
    if change == "drop_last_step":
        tampered = dataclasses.replace(derivation, steps=derivation.steps[:-1])
    elif change == "wrong_solution":
        solution = derivation.solution.copy()
        solution[[0, 1]] = solution[[1, 0]]
        tampered = dataclasses.replace(derivation, solution=solution)
    else:
        steps = tuple(step for step in derivation.steps if step.technique != Technique.REFUTATION)
        tampered = dataclasses.replace(derivation, steps=steps)

    with pytest.raises(DerivationError):
        check_derivation(tampered)


# --- public collections -------------------------------------------------------------------------


@lru_cache(maxsize=None)
def _read_lines(path: Path) -> tuple[str, ...]:
    """Puzzle lines of a one-grid-per-line file: `#` comments and blank lines dropped."""
    lines = path.read_text().splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def _read_numbers(path: Path) -> np.ndarray:
    """Read a grid written as whitespace-separated numbers, 0 for a blank."""
    return np.array(path.read_text().split(), dtype=np.int8)


def _check_public(puzzle: np.ndarray, geometry: Geometry) -> Derivation:
    derivation = derive(puzzle, geometry)
    check_derivation(derivation)
    return derivation


@pytest.mark.public_data
@pytest.mark.parametrize("index", range(0, 100, 3))
def test_public_4x4_collection_replays(public_data, index):
    lines = _read_lines(public_data / "sudoku" / "vukr_4x4.txt")

    assert len(lines) == 100
    _check_public(_parse(lines[index]), FOUR)


@pytest.mark.public_data
@pytest.mark.parametrize("index", range(30))
@pytest.mark.parametrize("name", ["tdoku_puzzles2_17_clue_first1000.txt",
                                  "tdoku_puzzles3_magictour_top1465.txt"])
def test_public_9x9_collection_replays(public_data, name, index):
    puzzle = _parse(_read_lines(public_data / "sudoku" / name)[index])
    derivation = _check_public(puzzle, NINE)

    assert np.array_equal(derivation.solution, _pysat_solutions(puzzle, NINE, limit=1)[0])


@pytest.mark.public_data
@pytest.mark.parametrize("index", range(10))
def test_public_9x9_solutions_match(public_data, index):
    line = _read_lines(public_data / "sudoku" / "kaggle_bryanpark_first1000.csv")[index]
    puzzle, solution = (_parse(part) for part in line.split(","))

    assert np.array_equal(_check_public(puzzle, NINE).solution, solution)


@pytest.mark.public_data
@pytest.mark.parametrize("index", range(3))
def test_public_16x16_collection_replays(public_data, index):
    line = _read_lines(public_data / "sudoku" / "vukr_16x16.txt")[index]

    _check_public(_parse(line), Geometry.for_size(16))


@pytest.mark.public_data
def test_public_25x25_solution_matches(public_data):
    puzzle = _read_numbers(public_data / "sudoku" / "bnguyen_25x25.txt")
    solution = _read_numbers(public_data / "sudoku" / "bnguyen_25x25_solution.txt")
    derivation = _check_public(puzzle, Geometry.for_size(25))

    assert np.count_nonzero(puzzle) == 344
    assert np.array_equal(derivation.solution, solution)
