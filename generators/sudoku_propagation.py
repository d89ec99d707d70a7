"""Numba kernels for Sudoku candidate propagation on uint64 bitmasks.

Every kernel works on the flat cell numbering of `sudoku_geometry.Geometry` and takes its
`units` (3n, n) and `peers` (n*n, P) int32 tables as inputs, so one compiled kernel serves every
grid size and box shape up to n = 36.

Terms:
- *candidates*: one uint64 bitmask per cell, bit d-1 set when digit d is still possible. A cell
  is *resolved* when exactly one bit is left. A puzzle's clues enter as single-bit masks.
- *propagation*: naked singles (a resolved cell removes its digit from its peers), hidden
  singles (a digit with one possible cell in a unit is placed there) and locked candidates
  (see `_locked_candidates`), repeated until none applies. A cell with no candidate, or a digit
  with no cell in a unit, is a contradiction.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

ZERO = np.uint64(0)
ONE = np.uint64(1)


@intrinsic
def _popcount(typingctx, value):
    """Number of set bits of a uint64, as one LLVM ctpop instruction."""
    if value != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return types.uint64(types.uint64), codegen


@intrinsic
def _trailing_zeros(typingctx, value):
    """Index of the lowest set bit of a non-zero uint64, as one LLVM cttz instruction."""
    if value != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        return builder.cttz(args[0], context.get_constant(types.boolean, True))

    return types.uint64(types.uint64), codegen


@njit(cache=True)
def _grid_to_candidates(grid, n, cand):
    """Fill `cand` from a grid: one bit for a clue, all n digits for a blank cell."""
    full = (ONE << np.uint64(n)) - ONE
    for cell in range(grid.shape[0]):
        digit = grid[cell]
        if digit == 0:
            cand[cell] = full
        else:
            cand[cell] = ONE << np.uint64(digit - 1)


@njit(cache=True)
def _box_shape(units):
    """Return (box_rows, box_cols), read from the first box unit (cells listed row-major)."""
    n = units.shape[1]
    first_row = units[2 * n, 0] // n
    box_cols = 0
    while box_cols < n and units[2 * n, box_cols] // n == first_row:
        box_cols += 1
    return n // box_cols, box_cols


@njit(cache=True)
def _locked_candidates(cand, queue, queued, n, box_rows, box_cols, seg_all, seg_open):
    """Apply locked candidates to every box-line intersection (a *segment*).

    Pointing: a digit whose open places in a box all lie in one segment leaves the rest of that
    line. Claiming: a digit whose places in a line all lie in one segment leaves the rest of that
    box. Newly resolved cells are appended to `queue`. Returns (queued, changed), with
    queued = -1 on a contradiction.
    """
    changed = False
    for axis in range(2):
        # Axis 0 handles rows and axis 1 columns. A segment is `run` cells long, and `band`
        # parallel lines cross each box.
        run = box_cols if axis == 0 else box_rows
        band = box_rows if axis == 0 else box_cols
        segments = n // run
        for line in range(n):
            for seg in range(segments):
                every = ZERO
                open_ = ZERO
                for pos in range(seg * run, (seg + 1) * run):
                    value = cand[line * n + pos if axis == 0 else pos * n + line]
                    every |= value
                    if value & (value - ONE) != ZERO:
                        open_ |= value
                seg_all[line, seg] = every
                seg_open[line, seg] = open_

        # Segment masks are not refreshed after an elimination. A stale mask is a superset,
        # which only makes the rules fire less, except for a digit with no place left in the
        # line, where the state has no solution anyway.
        for line in range(n):
            first_line = (line // band) * band
            for seg in range(segments):
                here = seg_open[line, seg]
                if here == ZERO:
                    continue
                line_rest = ZERO
                for other in range(segments):
                    if other != seg:
                        line_rest |= seg_all[line, other]
                box_rest = ZERO
                for other in range(first_line, first_line + band):
                    if other != line:
                        box_rest |= seg_all[other, seg]

                for rule in range(2):
                    mask = here & ~line_rest if rule == 0 else here & ~box_rest
                    if mask == ZERO:
                        continue
                    for step in range(band if rule == 0 else segments):
                        if rule == 0:
                            if first_line + step == line:
                                continue
                            target_line = first_line + step
                            target_seg = seg
                        else:
                            if step == seg:
                                continue
                            target_line = line
                            target_seg = step
                        for pos in range(target_seg * run, (target_seg + 1) * run):
                            cell = (target_line * n + pos if axis == 0
                                    else pos * n + target_line)
                            value = cand[cell]
                            if value & mask == ZERO:
                                continue
                            value &= ~mask
                            if value == ZERO:
                                return -1, True
                            cand[cell] = value
                            changed = True
                            if value & (value - ONE) == ZERO:
                                queue[queued] = cell
                                queued += 1
    return queued, changed


@njit(cache=True)
def _propagate(cand, queue, queued, units, peers, box_rows, box_cols, seg_all, seg_open):
    """Apply naked singles, hidden singles and locked candidates until none applies.

    Returns False on a contradiction. `queue[:queued]` lists cells that became resolved and
    have not yet removed their digit from their peers. A cell is pushed only when it turns from
    several candidates to one, so at most n*n cells are ever queued in one call. Locked
    candidates run only when the cheaper singles find nothing.
    """
    n = units.shape[1]
    full = (ONE << np.uint64(n)) - ONE
    head = 0
    while True:
        while head < queued:
            cell = queue[head]
            head += 1
            mask = cand[cell]
            for k in range(peers.shape[1]):
                peer = peers[cell, k]
                value = cand[peer]
                if value & mask != ZERO:
                    value &= ~mask
                    if value == ZERO:
                        return False
                    cand[peer] = value
                    if value & (value - ONE) == ZERO:
                        queue[queued] = peer
                        queued += 1

        # Hidden singles: digits seen exactly once in a unit and not yet resolved there.
        placed = False
        open_units = 0
        for unit in range(units.shape[0]):
            once = ZERO
            twice = ZERO
            resolved = ZERO
            for k in range(n):
                value = cand[units[unit, k]]
                twice |= once & value
                once |= value
                if value & (value - ONE) == ZERO:
                    resolved |= value
            if once != full:
                return False
            if resolved != full:
                open_units += 1

            hidden = once & ~twice & ~resolved
            while hidden != ZERO:
                bit = hidden & (~hidden + ONE)
                hidden ^= bit
                for k in range(n):
                    cell = units[unit, k]
                    if cand[cell] & bit != ZERO:
                        cand[cell] = bit
                        queue[queued] = cell
                        queued += 1
                        placed = True
                        break
        if placed:
            continue
        if open_units == 0:
            return True

        queued, changed = _locked_candidates(cand, queue, queued, n, box_rows, box_cols,
                                             seg_all, seg_open)
        if queued < 0:
            return False
        if not changed:
            return True
