"""Clue removal: blank cells of a solution grid while its solution stays unique.

A *group* is a set of cells blanked together: one cell, or a cell and its image under
180-degree rotation. The Numba kernel `_remove_clues` tries the groups in a random order and
keeps a removal only when no other solution appears. The cheap exact tests of
`sudoku_shortcuts` (singles, digit and line swaps) settle a check when they can; otherwise searches of
`sudoku_search` that stop at the first solution found decide it. A check that passes
`NODE_CAP` branch points is handed back to Python and decided by an incremental SAT solver
(`SatUniquenessCheck`), then the kernel resumes. Either way the check is exact, so the puzzle
depends only on the seed.
"""

from __future__ import annotations

import logging
import threading

import numpy as np
from numba import njit, prange
from pysat.card import CardEnc, EncType
from pysat.formula import IDPool
from pysat.solvers import Solver

from .sudoku_geometry import Geometry
from .sudoku_propagation import ONE, _box_shape, _grid_to_candidates
from .sudoku_search import _fill_random, _new_rng, _new_workspace, _rng_below, _search
from .sudoku_shortcuts import _stays_unique, _swap_witness

logger = logging.getLogger(__name__)

# Branch points of the first run of a uniqueness check; each later run doubles it.
RESTART_NODES = 64

# Branch points after which a uniqueness check goes to the SAT solver: a few ms of search on
# a 25x25 grid. One minimal 25x25 puzzle took 85 s of CPU with a cap of 2048 and 64 s with 256
# on a shared 2-core AMD EPYC, most of it in the SAT solver either way.
NODE_CAP = 256

# SAT solver of the fallback check.
SAT_SOLVER = "cadical153"


@njit(cache=True)
def _has_solution(start, units, peers, prefer, node_cap, rng, cand, scratch, work):
    """Tell whether the candidate state `start` has a solution: 1 yes, 0 no, -1 undecided.

    Finding one solution of a sparse grid can take far longer in one branch order than in
    another. So runs are cut off after RESTART_NODES branch points, then after twice as many,
    and so on, and each run after the first tries digits in a random order. The last run is complete, so the
    answer is exact, and the cut-off runs together open fewer branch points than the budget of
    the last one. With
    `node_cap` > 0, the check gives up with -1 once a run of `node_cap` branch points fails.
    """
    budget = RESTART_NODES
    randomize = False
    while True:
        if node_cap > 0:
            budget = min(budget, node_cap)
        cand[:] = start
        found = _search(cand, units, peers, 1, randomize, rng, budget, prefer, scratch, work)
        if found >= 0:
            return 1 if found > 0 else 0
        if node_cap > 0 and budget >= node_cap:
            return -1
        budget *= 2
        randomize = True


@njit(cache=True)
def _has_other_solution(puzzle, solution, first, second, units, peers, node_cap, rng, start,
                        cand, scratch, work, queue, mark):
    """Tell whether blanking `first` and `second` (-1 for none) lets another solution appear.

    Returns 1 yes, 0 no, -1 undecided (see `_has_solution`). The tests of `sudoku_shortcuts`
    come first. Otherwise, any other solution of the blanked puzzle differs from the known one
    in `first`, or agrees in `first` and differs in `second`, so one search for each case with
    that digit excluded decides it. Both searches try the known solution's digits first.
    Setting the SAT fallback's phases the same way cut one minimal 25x25 puzzle from 61 s to
    45 s. In the search it made no measurable difference on minimal 9x9 puzzles.
    """
    n = units.shape[1]
    full = (ONE << np.uint64(n)) - ONE
    box_rows, box_cols = _box_shape(units)
    if _stays_unique(puzzle, solution, first, second, units, peers, box_rows, box_cols):
        return 0
    if _swap_witness(puzzle, solution, first, second, peers, box_rows, box_cols, queue, mark):
        return 1

    _grid_to_candidates(puzzle, n, start)
    start[first] = full & ~(ONE << np.uint64(solution[first] - 1))
    if second >= 0:
        start[second] = full
    found = _has_solution(start, units, peers, solution, node_cap, rng, cand, scratch, work)
    if found != 0 or second < 0:
        return found

    _grid_to_candidates(puzzle, n, start)
    start[first] = ONE << np.uint64(solution[first] - 1)
    start[second] = full & ~(ONE << np.uint64(solution[second] - 1))
    return _has_solution(start, units, peers, solution, node_cap, rng, cand, scratch, work)


@njit(cache=True)
def _removal_groups(cells, symmetric, rng):
    """Return the cells removed together, shape (g, 2), in random order; -1 pads single cells.

    With `symmetric`, a cell and its image under 180-degree rotation form one group.
    """
    count = (cells + 1) // 2 if symmetric else cells
    groups = np.full((count, 2), -1, np.int32)
    for index in range(count):
        groups[index, 0] = index
        if symmetric and index != cells - 1 - index:
            groups[index, 1] = cells - 1 - index

    for index in range(count - 1, 0, -1):
        other = _rng_below(rng, index + 1)
        for k in range(2):
            groups[index, k], groups[other, k] = groups[other, k], groups[index, k]
    return groups


@njit(cache=True)
def _start_puzzle(units, peers, seed, symmetric, solution):
    """Write the random solution grid of `seed` to `solution`; return (groups, rng).

    `groups` is the random removal order of `_removal_groups` and `rng` the random state that
    the uniqueness checks of `_remove_clues` continue from.
    """
    rng = _new_rng(seed)
    _fill_random(units, peers, rng, solution, _new_workspace(solution.shape[0]))
    return _removal_groups(solution.shape[0], symmetric, rng), rng


@njit(cache=True)
def _remove_clues(puzzle, solution, groups, begin, target, node_cap, rng, units, peers):
    """Blank groups[begin:] of `puzzle` in order while the solution stays unique.

    Stops when the clue count reaches `target` (0 means no target). A group that would take
    the count below `target` is skipped, so the count ends at `target` or, when it cannot be
    reached, above it. Returns (stop, clues): stop is len(groups) when the pass is complete,
    or the index of the first group whose check hit `node_cap`, to be decided by the caller.

    One pass over all groups yields a minimal puzzle when there is no target, because blanking
    clues only adds solutions. A group whose removal allowed a second solution earlier still
    allows one after later removals, so no group needs a second try.
    """
    cells = solution.shape[0]
    work = _new_workspace(cells)
    start = np.empty(cells, np.uint64)
    cand = np.empty(cells, np.uint64)
    scratch = np.empty(cells, np.int8)
    queue = np.empty(cells, np.int32)
    mark = np.zeros(cells, np.int8)
    clues = 0
    for cell in range(cells):
        if puzzle[cell] != 0:
            clues += 1

    for index in range(begin, groups.shape[0]):
        if clues <= target:
            return groups.shape[0], clues
        first = groups[index, 0]
        second = groups[index, 1]
        size = 1 if second < 0 else 2
        if clues - size < target:
            continue
        found = _has_other_solution(puzzle, solution, first, second, units, peers, node_cap,
                                    rng, start, cand, scratch, work, queue, mark)
        if found < 0:
            return index, clues
        if found > 0:
            continue
        puzzle[first] = 0
        if second >= 0:
            puzzle[second] = 0
        clues -= size
    return groups.shape[0], clues


@njit(cache=True, parallel=True)
def _generate_batch(units, peers, seeds, symmetric, target, node_cap, puzzles, solutions,
                    stops):
    """Start and run the removal of every row in parallel; row i depends only on seeds[i].

    stops[i] is the `_remove_clues` stop index of row i; rows that stopped early are finished
    by the caller.
    """
    for row in prange(seeds.shape[0]):
        groups, rng = _start_puzzle(units, peers, seeds[row], symmetric, solutions[row])
        puzzles[row, :] = solutions[row]
        stops[row] = _remove_clues(puzzles[row], solutions[row], groups, 0, target, node_cap,
                                   rng, units, peers)[0]


class SatUniquenessCheck:
    """Incremental python-sat solver over the Sudoku rules of one geometry.

    It decides the uniqueness checks that `_remove_clues` leaves undecided. Conflict-driven
    clause learning settled hard checks of sparse 25x25 grids about 100 times faster than the
    search (0.8 s against 77 s for one check, on a shared 2-core AMD EPYC). Clues and excluded digits are passed as assumptions, so the clauses the solver
    learns follow from the rules alone and stay valid for every later puzzle. Variable
    cell*n + d means "cell holds digit d" (1-based d).
    """

    def __init__(self, geometry: Geometry):
        self.geometry = geometry
        n = geometry.n
        pool = IDPool(start_from=geometry.cells * n + 1)
        encoding = EncType.pairwise if n <= 25 else EncType.seqcounter
        groups = [[cell * n + d for d in range(1, n + 1)] for cell in range(geometry.cells)]
        for unit in geometry.units.tolist():
            groups.extend([cell * n + d for cell in unit] for d in range(1, n + 1))

        self._solver = Solver(name=SAT_SOLVER)
        for literals in groups:
            self._solver.append_formula(
                CardEnc.equals(lits=literals, bound=1, vpool=pool, encoding=encoding).clauses)
        self._lock = threading.Lock()

    def has_other_solution(self, puzzle: np.ndarray, solution: np.ndarray, first: int,
                           second: int) -> bool:
        """Tell whether blanking `first` and `second` (-1 for none) lets another solution appear.

        The cases are those of `_has_other_solution`; the solver prefers the known solution's
        digits, as the search does.
        """
        n = self.geometry.n
        blanked = {first, second}
        clues = [cell * n + int(digit) for cell, digit in enumerate(puzzle.tolist())
                 if digit and cell not in blanked]
        first_literal = first * n + int(solution[first])
        cases = [[-first_literal]]
        if second >= 0:
            cases.append([first_literal, -(second * n + int(solution[second]))])

        with self._lock:
            self._solver.set_phases([cell * n + int(digit)
                                     for cell, digit in enumerate(solution.tolist())])
            return any(self._solver.solve(assumptions=clues + case) for case in cases)


_checks: dict[Geometry, SatUniquenessCheck] = {}
_checks_lock = threading.Lock()


def sat_check(geometry: Geometry) -> SatUniquenessCheck:
    """Return the process-wide SAT check of `geometry`, building it on first use."""
    with _checks_lock:
        check = _checks.get(geometry)
        if check is None:
            logger.debug("building the SAT uniqueness check for %s grids", geometry.name)
            check = _checks[geometry] = SatUniquenessCheck(geometry)
        return check


def finish_removal(geometry: Geometry, puzzle: np.ndarray, solution: np.ndarray,
                   groups: np.ndarray, stop: int, target: int, rng: np.ndarray) -> int:
    """Continue `_remove_clues` from group `stop` to the end; return the clue count.

    Each group where the kernel stops is decided by the SAT check, and the kernel resumes at
    the next group. The result is the same as with an unlimited node cap.
    """
    clues = int(np.count_nonzero(puzzle))
    while stop < len(groups):
        first, second = (int(cell) for cell in groups[stop])
        if not sat_check(geometry).has_other_solution(puzzle, solution, first, second):
            puzzle[first] = 0
            if second >= 0:
                puzzle[second] = 0
        stop, clues = _remove_clues(puzzle, solution, groups, stop + 1, target, NODE_CAP, rng,
                                    geometry.units, geometry.peers)
    return clues
