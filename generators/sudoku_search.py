"""Numba kernels for exact Sudoku search and random solution grids.

The search propagates candidates with `sudoku_propagation._propagate`, then branches depth
first on the choice with the fewest alternatives: an unresolved cell, or a digit with few
places in a unit. The stack is explicit: each frame keeps a copy of the candidates before the
branch, the branch point and the alternatives not yet tried there. Solutions are counted up to
a limit and the first one is written out.

A *randomized search* takes the alternatives of each branch point in random order, driven by a
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

# An empty `prefer` grid: the search takes alternatives in plain or random order.
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

    The state starts at a scrambled seed, so that streams of nearby seeds do not overlap.
    """
    rng = np.empty(1, np.uint64)
    rng[0] = np.uint64(seed)
    rng[0] = _rng_next(rng)
    return rng


@njit(cache=True)
def _count_mask(c0, c1, c2, over, count):
    """Digits whose bit-sliced place count (c0 + 2*c1 + 4*c2, valid below 8) equals `count`."""
    mask = ~over
    mask &= c0 if count & 1 else ~c0
    mask &= c1 if count & 2 else ~c1
    mask &= c2 if count & 4 else ~c2
    return mask


@njit(cache=True)
def _pick_branch(cand, units):
    """Choose the next branch point with the fewest alternatives.

    Returns (index, digit, alternatives). A cell branch has index = cell and alternatives = its
    candidate mask. A digit branch has index = -(unit + 1), the digit's bit, and alternatives =
    a mask of positions k whose cell units[unit, k] can take the digit. alternatives is 0 when
    every cell is resolved.

    As in the column choice of exact cover, a digit branch is taken only when a digit has
    fewer places in some unit than the best cell has candidates. Ties go to the lowest index,
    which keeps a search on one region of the grid; random tie-breaks made refutations on
    sparse 25x25 grids far slower.
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
                return best, ZERO, cand[best]
    if best < 0:
        return best, ZERO, ZERO
    if best_count <= np.uint64(2):
        return best, ZERO, cand[best]

    # Count the places of every digit in every unit with bit-sliced counters; counts of 8 or
    # more are flagged in `over`. Digits placed in the unit count 1 and are never chosen.
    top = min(np.int64(best_count) - 1, 7)
    best_unit = -1
    digit = ZERO
    n = units.shape[1]
    for unit in range(units.shape[0]):
        c0 = ZERO
        c1 = ZERO
        c2 = ZERO
        over = ZERO
        for k in range(n):
            value = cand[units[unit, k]]
            carry = c0 & value
            c0 ^= value
            carry2 = c1 & carry
            c1 ^= carry
            over |= c2 & carry2
            c2 ^= carry2
        for count in range(2, top + 1):
            mask = _count_mask(c0, c1, c2, over, count)
            if mask != ZERO:
                best_unit = unit
                digit = mask & (~mask + ONE)
                top = count - 1
                break
        if top < 2:
            break
    if best_unit < 0:
        return best, ZERO, cand[best]

    places = ZERO
    for k in range(n):
        if cand[units[best_unit, k]] & digit != ZERO:
            places |= ONE << np.uint64(k)
    return -(best_unit + 1), digit, places


@njit(cache=True)
def _pick_bit(remaining, randomize, rng):
    """Return the lowest set bit of `remaining`, or a uniformly random one when `randomize`."""
    if not randomize:
        return remaining & (~remaining + ONE)
    skip = _rng_below(rng, np.int64(_popcount(remaining)))
    for _ in range(skip):
        remaining &= remaining - ONE
    return remaining & (~remaining + ONE)


@njit(cache=True)
def _pick_alternative(left, index, digit, units, prefer, randomize, rng):
    """Choose the next alternative bit of a frame (see `_pick_branch`) from the mask `left`.

    The alternative that agrees with the grid `prefer` comes first when `prefer` is not
    empty; otherwise the lowest bit, or a random one when `randomize`.
    """
    if prefer.shape[0] > 0:
        if index >= 0:
            wanted = prefer[index]
            if wanted > 0:
                bit = ONE << np.uint64(wanted - 1)
                if left & bit != ZERO:
                    return bit
        else:
            rest = left
            while rest != ZERO:
                bit = rest & (~rest + ONE)
                rest ^= bit
                wanted = prefer[units[-index - 1, _trailing_zeros(bit)]]
                if wanted > 0 and ONE << np.uint64(wanted - 1) == digit:
                    return bit
    return _pick_bit(left, randomize, rng)


@njit(cache=True)
def _search(cand, units, peers, limit, randomize, rng, node_limit, prefer, solution, work):
    """Count solutions of the candidate state `cand` up to `limit`; write the first to `solution`.

    Returns the number of solutions found (at most `limit`), or -1 when `node_limit` > 0 branch
    points were opened before the search ended. `cand` is overwritten. `work` is a workspace
    from `_new_workspace` for grids of this size.
    """
    stack, stack_index, stack_digit, stack_left, queue, seg_all, seg_open = work
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
            index, digit, alternatives = _pick_branch(cand, units)
            if alternatives == ZERO:
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
                stack_index[depth] = index
                stack_digit[depth] = digit
                stack_left[depth] = alternatives
                depth += 1
                fresh = True

        # Take the next untried alternative of the deepest open frame; a frame whose last
        # alternative is taken is popped at once, so the stack holds only open choices.
        if depth == 0:
            return count
        top = depth - 1
        left = stack_left[top]
        index = stack_index[top]
        bit = _pick_alternative(left, index, stack_digit[top], units, prefer, randomize, rng)
        left &= ~bit
        if index >= 0:
            cell = index
            value = bit
        else:
            cell = units[-index - 1, _trailing_zeros(bit)]
            value = stack_digit[top]
        if not fresh:
            cand[:] = stack[top]
        cand[cell] = value
        stack_left[top] = left
        if left == ZERO:
            depth -= 1
        queue[0] = cell
        queued = 1


@njit(cache=True)
def _new_workspace(cells):
    """Allocate the search stack, its frame fields, the propagation queue and segment masks."""
    n = np.int64(np.sqrt(cells) + 0.5)
    return (np.empty((cells, cells), np.uint64), np.empty(cells, np.int32),
            np.empty(cells, np.uint64), np.empty(cells, np.uint64), np.empty(cells, np.int32),
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
def _fill_random(units, peers, rng, solution, work):
    """Write a random full solution grid to `solution` by randomized search with restarts.

    A run that opens more than 2*n*n branch points is abandoned and restarted with the advanced
    random state, which cuts off the rare runs that would backtrack for a long time.
    """
    cells = solution.shape[0]
    full = (ONE << np.uint64(units.shape[1])) - ONE
    cand = np.empty(cells, np.uint64)
    while True:
        cand[:] = full
        if _search(cand, units, peers, 1, True, rng, 2 * cells, _NO_PREFERENCE, solution,
                   work) == 1:
            return


@njit(cache=True)
def _random_solution(units, peers, seed, solution):
    """Write the random solution grid of `seed` to `solution`."""
    _fill_random(units, peers, _new_rng(seed), solution, _new_workspace(solution.shape[0]))
