"""Numba kernels for exact Sudoku search and random solution grids.

The search propagates candidates with `sudoku_propagation._propagate`, then branches depth
first on the unresolved cell with the fewest candidates. The stack is explicit: each frame
keeps a copy of the candidates before the branch, the branch cell and the digits not yet tried
there. Solutions are counted up to a limit and the first one is written out.

A *randomized search* tries the digits of each branch cell in random order, driven by a
splitmix64 generator whose state is a uint64 array seeded from an explicit int64 seed. Numba's
and numpy's global random states are never used. Kernels are deterministic: the same inputs and
seed give the same output, whatever the number of threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .sudoku_propagation import (ONE, ZERO, _box_shape, _grid_to_candidates, _popcount,
                                 _propagate, _trailing_zeros)

# Puzzles per task in the parallel batch kernel. The split depends only on the batch size, so
# results never depend on the thread count.
BATCH_CHUNK = 32

# An empty `prefer` grid: the search tries digits in plain or random order.
_NO_PREFERENCE = np.zeros(0, np.int8)


@njit(cache=True)
def _rng_next(rng):
    """Advance the splitmix64 state rng[0] and return the next 64-bit output."""
    rng[0] += np.uint64(0x9E3779B97F4A7C15)
    z = rng[0]
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def _rng_below(rng, bound):
    """Draw an integer in [0, bound) for 1 <= bound < 2**32 (multiply-shift on the top 32 bits)."""
    high = _rng_next(rng) >> np.uint64(32)
    return np.int64((high * np.uint64(bound)) >> np.uint64(32))


@njit(cache=True)
def _new_rng(seed):
    """Build a splitmix64 state array from an int64 seed.

    The state starts at a scrambled seed, so that nearby seeds start far apart on the
    splitmix64 sequence instead of one step apart.
    """
    rng = np.empty(1, np.uint64)
    rng[0] = np.uint64(seed)
    rng[0] = _rng_next(rng)
    return rng


@njit(cache=True)
def _pick_cell(cand):
    """Return the unresolved cell with the fewest candidates, or -1 when all are resolved.

    Ties go to the lowest index, which keeps a search on one region of the grid. Random
    tie-breaks made refutations on sparse 25x25 grids far slower, and branching on a digit
    with few places in a unit, as exact cover does, made 9x9 solving slower and larger grids
    no faster.
    """
    best = -1
    best_count = np.uint64(1 << 20)
    for cell in range(cand.shape[0]):
        value = cand[cell]
        if value & (value - ONE) == ZERO:
            continue
        count = _popcount(value)
        if count < best_count:
            best = cell
            best_count = count
            if count == np.uint64(2):
                return best
    return best


@njit(cache=True)
def _pick_digit(cell, left, prefer, randomize, rng):
    """Choose the next digit bit to try at `cell` from the mask `left`.

    The digit of the grid `prefer` comes first when `prefer` is not empty and allows it;
    otherwise the lowest bit, or a uniformly random one when `randomize`.
    """
    if prefer.shape[0] > 0 and prefer[cell] > 0:
        bit = ONE << np.uint64(prefer[cell] - 1)
        if left & bit != ZERO:
            return bit
    if not randomize:
        return left & (~left + ONE)
    skip = _rng_below(rng, np.int64(_popcount(left)))
    for _ in range(skip):
        left &= left - ONE
    return left & (~left + ONE)


@njit(cache=True)
def _search(cand, units, peers, limit, randomize, rng, node_limit, prefer, solution, work):
    """Count solutions of the candidate state `cand` up to `limit`; write the first to `solution`.

    Returns the number of solutions found (at most `limit`), or -1 when `node_limit` > 0 branch
    points were opened before the search ended. `cand` is overwritten. `work` is a workspace
    from `_new_workspace` for grids of this size.
    """
    stack, stack_cell, stack_left, queue, seg_all, seg_open = work
    cells = cand.shape[0]
    box_rows, box_cols = _box_shape(units)

    queued = 0
    for cell in range(cells):
        value = cand[cell]
        if value == ZERO:
            return 0
        if value & (value - ONE) == ZERO:
            queue[queued] = cell
            queued += 1

    count = 0
    depth = 0
    nodes = 0
    while True:
        fresh = False
        if _propagate(cand, queue, queued, units, peers, box_rows, box_cols, seg_all, seg_open):
            cell = _pick_cell(cand)
            if cell < 0:
                if count == 0:
                    for c in range(cells):
                        solution[c] = np.int8(_trailing_zeros(cand[c]) + ONE)
                count += 1
                if count >= limit:
                    return count
            else:
                nodes += 1
                if node_limit > 0 and nodes > node_limit:
                    return -1
                stack[depth, :] = cand
                stack_cell[depth] = cell
                stack_left[depth] = cand[cell]
                depth += 1
                fresh = True

        # Take the next untried digit of the deepest open frame. A frame whose last digit is
        # taken is popped at once, so the stack holds only open choices.
        if depth == 0:
            return count
        top = depth - 1
        cell = stack_cell[top]
        bit = _pick_digit(cell, stack_left[top], prefer, randomize, rng)
        if not fresh:
            cand[:] = stack[top]
        cand[cell] = bit
        stack_left[top] &= ~bit
        if stack_left[top] == ZERO:
            depth -= 1
        queue[0] = cell
        queued = 1


@njit(cache=True)
def _new_workspace(cells):
    """Allocate a search workspace for grids of `cells` cells.

    It holds the stack (candidates, cell and untried digits of each frame), the propagation
    queue and the two segment mask tables of `_locked_candidates`.
    """
    n = np.int64(np.sqrt(cells) + 0.5)
    return (np.empty((cells, cells), np.uint64), np.empty(cells, np.int32),
            np.empty(cells, np.uint64), np.empty(cells, np.int32),
            np.empty((n, n), np.uint64), np.empty((n, n), np.uint64))


@njit(cache=True)
def _count_one(grid, units, peers, limit, solution):
    """Count the solutions of one grid up to `limit` and write the first one to `solution`."""
    cells = grid.shape[0]
    cand = np.empty(cells, np.uint64)
    _grid_to_candidates(grid, units.shape[1], cand)
    return _search(cand, units, peers, limit, False, _new_rng(0), 0, _NO_PREFERENCE, solution,
                   _new_workspace(cells))


@njit(cache=True, parallel=True)
def _count_batch(grids, units, peers, limit, solutions, counts):
    """Count the solutions of each row of `grids` up to `limit`; rows are solved in parallel."""
    total, cells = grids.shape
    chunks = (total + BATCH_CHUNK - 1) // BATCH_CHUNK
    for chunk in prange(chunks):
        cand = np.empty(cells, np.uint64)
        work = _new_workspace(cells)
        rng = _new_rng(0)
        for row in range(chunk * BATCH_CHUNK, min(total, (chunk + 1) * BATCH_CHUNK)):
            _grid_to_candidates(grids[row], units.shape[1], cand)
            counts[row] = _search(cand, units, peers, limit, False, rng, 0, _NO_PREFERENCE,
                                  solutions[row], work)


@njit(cache=True)
def _fill_diagonal_boxes(units, rng, cand):
    """Fill the boxes on the main diagonal of `cand` with random permutations of the digits.

    Those boxes share no row or column, so any such filling is consistent. Each gets a
    Fisher-Yates shuffle. Boxes of other bands and stacks stay open (all candidates).
    """
    n = units.shape[1]
    box_rows, box_cols = _box_shape(units)
    digits = np.empty(n, np.int64)
    for box in range(min(n // box_rows, n // box_cols)):
        for k in range(n):
            digits[k] = k
        for k in range(n - 1, 0, -1):
            other = _rng_below(rng, k + 1)
            digits[k], digits[other] = digits[other], digits[k]
        k = 0
        for row in range(box * box_rows, (box + 1) * box_rows):
            for col in range(box * box_cols, (box + 1) * box_cols):
                cand[row * n + col] = ONE << np.uint64(digits[k])
                k += 1


@njit(cache=True)
def _fill_random(units, peers, rng, solution, work):
    """Write a random full solution grid to `solution` by randomized search with restarts.

    The diagonal boxes are drawn first (`_fill_diagonal_boxes`) and the search fills the rest,
    which took about 25 us instead of 56 us per 9x9 grid on one core of a shared AMD EPYC. A
    run that opens more than 2*n*n branch points is abandoned and restarted from new diagonal
    boxes with the advanced random state, which cuts off the rare runs that would backtrack
    for a long time.
    """
    cells = solution.shape[0]
    full = (ONE << np.uint64(units.shape[1])) - ONE
    cand = np.empty(cells, np.uint64)
    while True:
        cand[:] = full
        _fill_diagonal_boxes(units, rng, cand)
        if _search(cand, units, peers, 1, True, rng, 2 * cells, _NO_PREFERENCE, solution,
                   work) == 1:
            return


@njit(cache=True)
def _random_solution(units, peers, seed, solution):
    """Write the random solution grid of `seed` to `solution`."""
    _fill_random(units, peers, _new_rng(seed), solution, _new_workspace(solution.shape[0]))
