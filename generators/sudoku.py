"""Random Sudoku solution grids and unique-solution puzzles.

`random_solution` draws a full solution grid by randomized search. `generate_puzzle` draws one,
then blanks cells in random order (a cell and its 180-degree image together under
`Symmetry.ROTATE_180`), keeping each removal only when the puzzle still has exactly one
solution. The removal loop runs inside one Numba kernel of `sudoku_removal`, which returns
only for the rare checks that need its SAT fallback.

Each output depends only on the configuration and the int seed passed in; derive per-item seeds
with `seeding.item_seed(seed, index)`. Grids are flat int8 arrays of n*n cells, 0 for a blank.

The clue count of a puzzle is a stopping target, not a promise: removal stops when the target
is reached, but when the pass ends first because no further cell can be blanked, the puzzle
keeps more clues. Callers record the measured count, `np.count_nonzero(puzzle)`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

import numpy as np

from . import sudoku_removal, sudoku_search
from .seeding import item_seed
from .sudoku_geometry import MAX_SIZE, Geometry

logger = logging.getLogger(__name__)

_MAX_SEED = (1 << 63) - 1


class Symmetry(str, Enum):
    """Symmetry kept while clues are removed."""

    NONE = "none"
    ROTATE_180 = "rot180"


def default_clue_target(geometry: Geometry) -> int:
    """Clue target used when a config sets neither `clues` nor `minimal`.

    The target is round(f * n*n) with f = 0.35 + 0.0125 * (n - 9): 28 clues for 9x9, 112 for
    16x16, 344 for 25x25 and 891 for 36x36. Sparser targets cost much more time at large n,
    because each uniqueness check on a sparse grid searches a larger tree. Minimal puzzles had
    24 clues on average for 9x9 and about 265 for 25x25 in our runs.
    """
    fraction = 0.35 + 0.0125 * (geometry.n - 9)
    return int(round(fraction * geometry.cells))


@lru_cache(maxsize=64)
def _geometry(n: int, box_rows: int | None, box_cols: int | None) -> Geometry:
    # One shared instance per shape, because Geometry computes its units and peers tables
    # once per instance, which costs about half a millisecond for 9x9.
    return Geometry.for_size(n, box_rows, box_cols)


def _check_int(name: str, value: object, low: int, high: int) -> None:
    is_integer = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if not is_integer or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in {low}..{high}, got {value!r}")


@dataclass(frozen=True)
class PuzzleConfig:
    """Settings of puzzle generation: grid shape, clue target, minimality and symmetry.

    `clues` is the number of clues at which removal stops; None uses `default_clue_target`.
    `minimal` tries every cell once and yields a puzzle from which no clue (no symmetric pair
    under `Symmetry.ROTATE_180`) can be removed; it excludes `clues`.
    """

    n: int = 9
    box_rows: int | None = None
    box_cols: int | None = None
    clues: int | None = None
    minimal: bool = False
    symmetry: Symmetry = Symmetry.NONE

    def __post_init__(self) -> None:
        _check_int("n", self.n, 4, MAX_SIZE)
        for name in ("box_rows", "box_cols"):
            value = getattr(self, name)
            if value is not None:
                _check_int(name, value, 1, self.n)
        try:
            geometry = self.geometry
        except ValueError as err:
            raise ValueError(f"box_rows={self.box_rows} and box_cols={self.box_cols} do not "
                             f"fit n={self.n}: {err}") from err

        if self.clues is not None:
            _check_int("clues", self.clues, 1, geometry.cells)
        if not isinstance(self.minimal, bool):
            raise ValueError(f"minimal must be True or False, got {self.minimal!r}")
        if self.minimal and self.clues is not None:
            raise ValueError(f"minimal=True removes every clue it can, so clues must be None, "
                             f"got clues={self.clues}")
        try:
            object.__setattr__(self, "symmetry", Symmetry(self.symmetry))
        except ValueError as err:
            raise ValueError(f"symmetry must be one of {[s.value for s in Symmetry]}, got "
                             f"{self.symmetry!r}") from err

    @property
    def geometry(self) -> Geometry:
        """Grid geometry; the default box shape of n unless box_rows or box_cols is set."""
        return _geometry(int(self.n), self.box_rows, self.box_cols)

    @property
    def clue_target(self) -> int:
        """Clue count at which removal stops; 0 for a minimal puzzle (no target)."""
        if self.minimal:
            return 0
        if self.clues is not None:
            return self.clues
        return default_clue_target(self.geometry)


def _check_seed(seed: int) -> int:
    _check_int("seed", seed, 0, _MAX_SEED)
    return int(seed)


def random_solution(geometry: Geometry, seed: int) -> np.ndarray:
    """Draw a full solution grid (flat int8, n*n cells) by randomized search from `seed`."""
    solution = np.zeros(geometry.cells, dtype=np.int8)
    sudoku_search._random_solution(geometry.units, geometry.peers, _check_seed(seed), solution)
    return solution


def generate_puzzle(config: PuzzleConfig, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Generate one puzzle with a unique solution; return (puzzle, solution), both flat int8."""
    geometry = config.geometry
    solution = np.zeros(geometry.cells, dtype=np.int8)
    groups, rng = sudoku_removal._start_puzzle(
        geometry.units, geometry.peers, _check_seed(seed),
        config.symmetry is Symmetry.ROTATE_180, solution)

    puzzle = solution.copy()
    stop, clues = sudoku_removal._remove_clues(
        puzzle, solution, groups, 0, config.clue_target, sudoku_removal.NODE_CAP, rng,
        geometry.units, geometry.peers)
    if stop < len(groups):
        clues = sudoku_removal.finish_removal(geometry, puzzle, solution, groups, stop,
                                              config.clue_target, rng)
    logger.debug("generated a %s puzzle with %d clues from seed %d", geometry.name, clues, seed)
    return puzzle, solution


def generate_puzzles(config: PuzzleConfig, seed: int, count: int,
                     start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Generate items start..start+count-1 of the stream `seed` in parallel threads.

    Row j equals `generate_puzzle(config, item_seed(seed, start + j))`, whatever the thread
    count. Returns (puzzles, solutions), both (count, n*n) int8.
    """
    _check_seed(seed)
    _check_int("count", count, 0, 1 << 40)
    _check_int("start", start, 0, 1 << 62)
    geometry = config.geometry
    symmetric = config.symmetry is Symmetry.ROTATE_180
    seeds = np.array([item_seed(seed, start + i) for i in range(count)], dtype=np.int64)
    puzzles = np.zeros((count, geometry.cells), dtype=np.int8)
    solutions = np.zeros((count, geometry.cells), dtype=np.int8)
    stops = np.zeros(count, dtype=np.int64)
    if count:
        sudoku_removal._generate_batch(geometry.units, geometry.peers, seeds, symmetric,
                                       config.clue_target, sudoku_removal.NODE_CAP, puzzles,
                                       solutions, stops)

    # Rows whose kernel run stopped at a hard check are finished one by one. Drawing the
    # solution again from the seed gives the same grid and groups; the random state differs,
    # but it only orders the searches and never changes a result.
    group_count = (geometry.cells + 1) // 2 if symmetric else geometry.cells
    for row in np.flatnonzero(stops < group_count).tolist():
        groups, rng = sudoku_removal._start_puzzle(geometry.units, geometry.peers,
                                                   seeds[row], symmetric, solutions[row].copy())
        sudoku_removal.finish_removal(geometry, puzzles[row], solutions[row], groups,
                                      int(stops[row]), config.clue_target, rng)
    return puzzles, solutions
