"""Sudoku dataset rows: generated puzzles with their measured clues and grade, and solved files.

`SudokuPuzzleTask` is the shard task behind `mplm-data gen sudoku` (see mplm_data.shards). Item i
of base seed s is generated from `item_seed(s, i)`. When the puzzle misses the grade filter, the
item is drawn again from `item_seed(s, i, attempt)` for attempt = 1, 2, ... up to
`max_attempts - 1`, and the row records the attempt and the seed that produced it, so every row
can be regenerated alone.

Row columns (`PUZZLE_SCHEMA`):
- `n`, `box_rows`, `box_cols`: the geometry;
- `puzzle`, `solution`: canonical text, one character per cell, `.` for a blank;
- `clues`: the number of givens, counted in the puzzle;
- `grade`, `technique`, `guesses`: measured by the logical grader, as `str(Grade)` (such as
  `hidden_single` or `guess+2`), the label of its hardest technique, and its guess count;
- `seed` (base seed), `index`, `attempt`, `item_seed`, `generator_version`: provenance.

`solve_puzzles` solves every puzzle of a `PuzzleFile` for `mplm-data solve sudoku` and returns
rows of `SOLVED_SCHEMA` plus a `SolveSummary`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pyarrow as pa

from mplm_data.generators.errors import MplmDataError
from mplm_data.generators.seeding import item_seed
from mplm_data.generators.sudoku import PuzzleConfig, Symmetry, generate_puzzle
from mplm_data.generators.sudoku_geometry import Geometry, grid_to_text
from mplm_data.solvers.sudoku_derivation import Derivation, Grade, Technique
from mplm_data.solvers.sudoku_exact import count_solutions_sat, solve_batch
from mplm_data.solvers.sudoku_logic import derive
from mplm_data.sudoku_io import PuzzleFile

logger = logging.getLogger(__name__)

# Bump when the row of a given (task config, seed, index) changes: generator, grader or retry rule.
GENERATOR_VERSION = "sudoku-1"
# Upper bound for `max_attempts`; a filter that needs more draws than this per item is too narrow
# for the generator and should be loosened instead.
MAX_ATTEMPTS = 10_000
# Puzzles per solve_batch call in solve_puzzles; bounds memory and sets the progress granularity.
SOLVE_CHUNK = 4096
# Techniques that can be the hardest of a derivation (contradictions and refutations grade as guess).
GRADE_TECHNIQUES = tuple(technique for technique in Technique if technique <= Technique.GUESS)

PUZZLE_SCHEMA = pa.schema([
    pa.field("n", pa.int32(), nullable=False),
    pa.field("box_rows", pa.int32(), nullable=False),
    pa.field("box_cols", pa.int32(), nullable=False),
    pa.field("puzzle", pa.large_string(), nullable=False),
    pa.field("solution", pa.large_string(), nullable=False),
    pa.field("clues", pa.int32(), nullable=False),
    pa.field("grade", pa.large_string(), nullable=False),
    pa.field("technique", pa.large_string(), nullable=False),
    pa.field("guesses", pa.int32(), nullable=False),
    pa.field("seed", pa.int64(), nullable=False),
    pa.field("index", pa.int64(), nullable=False),
    pa.field("attempt", pa.int32(), nullable=False),
    pa.field("item_seed", pa.int64(), nullable=False),
    pa.field("generator_version", pa.large_string(), nullable=False),
])

SOLVED_SCHEMA = pa.schema([
    pa.field("line", pa.int64(), nullable=False),
    pa.field("puzzle", pa.large_string(), nullable=False),
    pa.field("solution", pa.large_string(), nullable=True),
    pa.field("solutions_found", pa.int8(), nullable=False),
])


def parse_grade(text: str) -> Grade:
    """Parse a grade bound: a technique label such as `hidden_single`, or `guess+K` for K guesses."""
    label, _, guesses = text.strip().lower().partition("+")
    labels = [technique.label for technique in GRADE_TECHNIQUES]
    if label not in labels or (guesses and (not guesses.isdigit() or label != "guess")):
        raise ValueError(f"grade {text!r} is invalid; use one of {labels}, or guess+K for at "
                         f"least or at most K guesses")
    return Grade(Technique[label.upper()], int(guesses or 0))


def parse_technique(text: str) -> Technique:
    """Parse a technique label such as `locked_candidates` (case-insensitive)."""
    labels = [technique.label for technique in GRADE_TECHNIQUES]
    if text.strip().lower() not in labels:
        raise ValueError(f"technique {text!r} is invalid; use one of {labels}")
    return Technique[text.strip().upper()]


@dataclass(frozen=True)
class SudokuPuzzleTask:
    """Shard task that generates unique-solution puzzles, graded and optionally filtered by grade.

    The first six fields are those of `PuzzleConfig`. `solvable_by` keeps puzzles that the
    grader solves with techniques up to that one. `min_grade` and `max_grade` bound the measured
    grade: a technique label compares the hardest technique only, and `guess+K` also compares the
    guess count. `max_attempts` bounds the draws per item. `verify` re-counts the solutions of
    every puzzle with python-sat; it never changes the rows, so it is not part of `config()`.
    """

    n: int = 9
    box_rows: int | None = None
    box_cols: int | None = None
    clues: int | None = None
    minimal: bool = False
    symmetry: Symmetry = Symmetry.NONE
    solvable_by: Technique | None = None
    min_grade: str | None = None
    max_grade: str | None = None
    max_attempts: int = 100
    verify: bool = False
    name: str = field(init=False)

    def __post_init__(self) -> None:
        puzzle_config = PuzzleConfig(n=self.n, box_rows=self.box_rows, box_cols=self.box_cols,
                                     clues=self.clues, minimal=self.minimal,
                                     symmetry=self.symmetry)
        object.__setattr__(self, "symmetry", puzzle_config.symmetry)
        object.__setattr__(self, "name", f"sudoku-{puzzle_config.geometry.name}")

        if self.solvable_by is not None:
            object.__setattr__(self, "solvable_by", _technique_field(self.solvable_by))
        for name in ("min_grade", "max_grade"):
            value = getattr(self, name)
            if value is not None:
                try:
                    object.__setattr__(self, name, str(parse_grade(value)))
                except ValueError as err:
                    raise ValueError(f"{name}: {err}") from None
        low, high = self.grade_bounds
        if low is not None and high is not None and _above(low, high):
            raise ValueError(f"min_grade {self.min_grade!r} is harder than max_grade "
                             f"{self.max_grade!r}, so no puzzle can pass; swap or widen them")
        if low is not None and self.solvable_by is not None and low.technique > self.solvable_by:
            raise ValueError(f"min_grade {self.min_grade!r} is harder than solvable_by "
                             f"{self.solvable_by.label!r}, so no puzzle can pass; lower min_grade")
        if (isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int)
                or not 1 <= self.max_attempts <= MAX_ATTEMPTS):
            raise ValueError(f"max_attempts must be an integer in 1..{MAX_ATTEMPTS}, got "
                             f"{self.max_attempts!r}")

    @property
    def puzzle_config(self) -> PuzzleConfig:
        """Generator settings of every item."""
        return PuzzleConfig(n=self.n, box_rows=self.box_rows, box_cols=self.box_cols,
                            clues=self.clues, minimal=self.minimal, symmetry=self.symmetry)

    @property
    def geometry(self) -> Geometry:
        """Grid geometry of every item."""
        return self.puzzle_config.geometry

    @property
    def grade_bounds(self) -> tuple[Grade | None, Grade | None]:
        """Parsed `min_grade` and `max_grade` (None where unset)."""
        return (None if self.min_grade is None else parse_grade(self.min_grade),
                None if self.max_grade is None else parse_grade(self.max_grade))

    def schema(self) -> pa.Schema:
        """Row schema of every shard."""
        return PUZZLE_SCHEMA

    def config(self) -> dict[str, Any]:
        """Settings that fix the rows, JSON-able, for the manifest and provenance."""
        puzzle_config = self.puzzle_config
        geometry = puzzle_config.geometry
        return {"n": geometry.n, "box_rows": geometry.box_rows, "box_cols": geometry.box_cols,
                "clues": self.clues, "clue_target": puzzle_config.clue_target,
                "minimal": self.minimal, "symmetry": self.symmetry.value,
                "solvable_by": None if self.solvable_by is None else self.solvable_by.label,
                "min_grade": self.min_grade, "max_grade": self.max_grade,
                "max_attempts": self.max_attempts, "generator_version": GENERATOR_VERSION}

    def accepts(self, grade: Grade) -> bool:
        """Return whether a puzzle of this measured grade passes the grade filter."""
        low, high = self.grade_bounds
        if self.solvable_by is not None and grade.technique > self.solvable_by:
            return False
        if low is not None and _above(low, grade):
            return False
        return high is None or not _above(grade, high)

    def rows(self, seed: int, start: int, stop: int) -> pa.Table:
        """Generate the rows of items start..stop-1 of base `seed`."""
        records = [self.generate_item(seed, index)[0] for index in range(start, stop)]
        columns = {name: [record[name] for record in records] for name in PUZZLE_SCHEMA.names}
        return pa.Table.from_pydict(columns, schema=PUZZLE_SCHEMA)

    def generate_item(self, seed: int, index: int) -> tuple[dict[str, Any], Derivation]:
        """Generate item `index` of base `seed`: its row (a dict by column) and its derivation."""
        config = self.puzzle_config
        geometry = config.geometry
        max_technique = Technique.GUESS if self.solvable_by is None else self.solvable_by
        rejected: list[str] = []
        for attempt in range(self.max_attempts):
            attempt_seed = item_seed(seed, index) if attempt == 0 else item_seed(seed, index, attempt)
            puzzle, solution = generate_puzzle(config, attempt_seed)

            # A derivation under max_technique exists exactly when the full grader's hardest
            # technique is at most max_technique, and then the two derivations are the same.
            derivation = derive(puzzle, geometry, max_technique=max_technique)
            if derivation is None:
                rejected.append(f"above {max_technique.label}")
                continue
            grade = derivation.grade
            if not self.accepts(grade):
                rejected.append(str(grade))
                continue
            if not np.array_equal(derivation.solution, solution):
                raise MplmDataError(f"item {index} of seed {seed}: the grader's solution differs "
                                    f"from the generator's, so the puzzle is not unique")
            if self.verify:
                _verify_unique(puzzle, geometry, seed, index)
            if attempt:
                logger.debug("item %d of seed %d passed the grade filter on attempt %d (rejected: "
                             "%s)", index, seed, attempt, ", ".join(rejected))

            row = {"n": geometry.n, "box_rows": geometry.box_rows, "box_cols": geometry.box_cols,
                    "puzzle": grid_to_text(puzzle), "solution": grid_to_text(solution),
                    "clues": int(np.count_nonzero(puzzle)), "grade": str(grade),
                    "technique": grade.technique.label, "guesses": grade.guesses, "seed": seed,
                    "index": index, "attempt": attempt, "item_seed": attempt_seed,
                    "generator_version": GENERATOR_VERSION}
            return row, derivation

        seen = ", ".join(sorted(set(rejected)))
        raise MplmDataError(f"item {index} of seed {seed}: none of {self.max_attempts} puzzles "
                            f"passed the grade filter (grades seen: {seen}); give more clues "
                            f"(--clues), loosen --solvable-by, --min-grade or --max-grade, render "
                            f"guesses with --hypotheses, or raise --max-attempts")


def _technique_field(value: Technique | str) -> Technique:
    if isinstance(value, str) and not isinstance(value, Technique):
        try:
            return parse_technique(value)
        except ValueError as err:
            raise ValueError(f"solvable_by: {err}") from None
    if value not in GRADE_TECHNIQUES:
        raise ValueError(f"solvable_by must be one of {[t.label for t in GRADE_TECHNIQUES]}, got "
                         f"{value!r}")
    return Technique(value)


def _above(first: Grade, second: Grade) -> bool:
    """Return whether `first` is harder than `second`; a bare `guess` bound compares techniques only."""
    # Measured grades with the guess technique have at least one guess, so guess+0 is a bound.
    if Grade(Technique.GUESS, 0) in (first, second):
        return first.technique > second.technique
    return first > second


def _verify_unique(puzzle: np.ndarray, geometry: Geometry, seed: int, index: int) -> None:
    count = count_solutions_sat(puzzle, geometry, limit=2)
    if count != 1:
        raise MplmDataError(f"item {index} of seed {seed}: python-sat finds "
                            f"{'no' if count == 0 else 'several'} solutions, but the generator "
                            f"promised one; report this with the seed and index")


@dataclass
class SolveSummary:
    """Counts of one `solve_puzzles` run; `mismatched_lines` lists given solutions that are wrong."""

    puzzles: int = 0
    unique: int = 0
    multiple: int = 0
    no_solution: int = 0
    given_solutions: int = 0
    mismatched_lines: list[int] = field(default_factory=list)

    @property
    def solved(self) -> int:
        """Puzzles with at least one solution."""
        return self.unique + self.multiple


def solve_puzzles(puzzles: PuzzleFile, *,
                  progress: Callable[[int], None] | None = None) -> tuple[pa.Table, SolveSummary]:
    """Solve every puzzle of a file, counting solutions up to 2, and check given solutions.

    A given solution matches when it is the unique solution, or when the puzzle has several and
    the given grid is one of them (it keeps the givens and has no repeated digit, which the
    reader has checked). `progress` receives the number of puzzles of each solved chunk.
    """
    geometry = puzzles.geometry
    summary = SolveSummary(puzzles=len(puzzles))
    solutions = np.zeros_like(puzzles.puzzles)
    found = np.zeros(len(puzzles), dtype=np.int8)
    for start in range(0, len(puzzles), SOLVE_CHUNK):
        chunk = puzzles.puzzles[start:start + SOLVE_CHUNK]
        chunk_solutions, chunk_found = solve_batch(chunk, geometry, limit=2)
        solutions[start:start + len(chunk)] = chunk_solutions
        found[start:start + len(chunk)] = chunk_found
        if progress is not None:
            progress(len(chunk))

    summary.unique = int((found == 1).sum())
    summary.multiple = int((found >= 2).sum())
    summary.no_solution = int((found == 0).sum())
    if puzzles.solutions is not None:
        summary.given_solutions = len(puzzles)
        given = puzzles.solutions
        keeps_givens = ((puzzles.puzzles == 0) | (puzzles.puzzles == given)).all(axis=1)
        equal = (given == solutions).all(axis=1)
        matches = np.where(found == 1, equal, (found >= 2) & keeps_givens)
        summary.mismatched_lines = puzzles.lines[~matches].tolist()

    texts = [grid_to_text(solution) if count else None for solution, count in zip(solutions, found)]
    table = pa.Table.from_pydict({
        "line": puzzles.lines,
        "puzzle": [grid_to_text(puzzle) for puzzle in puzzles.puzzles],
        "solution": texts,
        "solutions_found": found,
    }, schema=SOLVED_SCHEMA)
    return table, summary
