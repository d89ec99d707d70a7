"""Numba kernels for exact Sudoku search, random solution grids and clue removal.

Every kernel works on the flat cell numbering of `sudoku_geometry.Geometry` and takes its
`units` (3n, n) and `peers` (n*n, P) int32 tables as inputs, so one compiled kernel serves every
grid size and box shape up to n = 36.

Terms:
- *candidates*: one uint64 bitmask per cell, bit d-1 set when digit d is still possible. A cell
  is *resolved* when exactly one bit is left. A puzzle's clues enter as single-bit masks.
- *propagation*: naked singles (a resolved cell removes its digit from its peers) and hidden
  singles (a digit with one possible cell in a unit is placed there), repeated until neither
  applies. A cell with no candidate, or a digit with no cell in a unit, is a contradiction.
- *search*: depth-first search over the unresolved cell with the fewest candidates. The stack is
  explicit: each frame keeps a copy of the candidates before the branch, the branch cell and the
  digits not yet tried there.
- *randomized search*: the same search, with a random digit order and a random choice among
  equally constrained cells, driven by a splitmix64 generator whose state is a uint64 array
  seeded from an explicit int64 seed. Numba's and numpy's global random state are never used.

Kernels are deterministic: the same inputs and seed give the same output, whatever the number
of threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, types
from numba.extending import intrinsic

ZERO = np.uint64(0)
ONE = np.uint64(1)

# Puzzles per task in the parallel batch kernel. The split depends only on the batch size, so
# results never depend on the thread count.
BATCH_CHUNK = 32


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
    box. Returns (queued, changed), with queued = -1 on a contradiction.
    """
    changed = False
    for axis in range(2):
        # axis 0 handles rows, axis 1 columns; `run` cells of a line lie in one box and `band`
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
    """Apply naked and hidden singles until neither applies; return False on a contradiction.

    `queue[:queued]` holds cells that became resolved and have not yet removed their digit from
    their peers. A cell is pushed only when it turns from several candidates to one, so at most
    n*n cells are ever queued in one call.
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

        queued, changed = _locked_candidates(cand, queue, queued, n, box_rows, box_cols,
                                             seg_all, seg_open)
        if queued < 0:
            return False
        if not changed:
            return True


@njit(cache=True)
def _count_mask(c0, c1, c2, over, count):
    """Digits whose bit-sliced place count (c0 + 2*c1 + 4*c2, valid below 8) equals `count`."""
    mask = ~over
    mask &= c0 if count & 1 else ~c0
    mask &= c1 if count & 2 else ~c1
    mask &= c2 if count & 4 else ~c2
    return mask


@njit(cache=True)
def _pick_branch(cand, units, randomize, rng):
    """Choose the next branch point with the fewest alternatives.

    Returns (index, digit, alternatives). A cell branch has index = cell and alternatives = its
    candidate mask. A digit branch has index = -(unit + 1), the digit's bit, and alternatives =
    a mask of positions k whose cell units[unit, k] can take the digit. alternatives is 0 when
    every cell is resolved.

    Cells come first; a digit branch is taken only when some unresolved digit of a unit has
    fewer places than the best cell has candidates, as in the column choice of exact cover.
    Without `randomize` ties go to the lowest index. With it, tied cells are chosen uniformly
    at random and digit branches are not used.
    """
    best = -1
    best_count = np.uint64(1 << 20)
    ties = 0
    for cell in range(cand.shape[0]):
        value = cand[cell]
        if value & (value - ONE) == ZERO:
            continue
        count = _popcount(value)
        if count < best_count:
            best = cell
            best_count = count
            ties = 1
            if count == np.uint64(2) and not randomize:
                return best, ZERO, cand[best]
        elif count == best_count and randomize:
            ties += 1
            if _rng_below(rng, ties) == 0:
                best = cell
    if best < 0:
        return best, ZERO, ZERO
    if randomize or best_count <= np.uint64(2):
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
def _search(cand, units, peers, limit, randomize, rng, node_limit, solution, work):
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
            index, digit, alternatives = _pick_branch(cand, units, randomize, rng)
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
        bit = _pick_bit(left, randomize, rng)
        left &= ~bit
        index = stack_index[top]
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
    return _search(cand, units, peers, limit, False, _new_rng(0), 0, solution,
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
            counts[row] = _search(cand, units, peers, limit, False, rng, 0, solutions[row], work)


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
        if _search(cand, units, peers, 1, True, rng, 2 * cells, solution, work) == 1:
            return


@njit(cache=True)
def _random_solution(units, peers, seed, solution):
    """Write the random solution grid of `seed` to `solution`."""
    _fill_random(units, peers, _new_rng(seed), solution, _new_workspace(solution.shape[0]))


@njit(cache=True)
def _has_other_solution(puzzle, solution, first, second, units, peers, cand, scratch, work, rng):
    """Tell whether blanking `first` and `second` (-1 for none) lets another solution appear.

    The puzzle has one solution. Any other solution of the blanked puzzle differs from it in
    `first`, or agrees in `first` and differs in `second`, so one search for each case with
    that digit excluded decides it. Each search stops at its first solution.
    """
    n = units.shape[1]
    full = (ONE << np.uint64(n)) - ONE
    _grid_to_candidates(puzzle, n, cand)
    cand[first] = full & ~(ONE << np.uint64(solution[first] - 1))
    if second >= 0:
        cand[second] = full
    if _search(cand, units, peers, 1, False, rng, 0, scratch, work) > 0:
        return True
    if second < 0:
        return False

    _grid_to_candidates(puzzle, n, cand)
    cand[first] = ONE << np.uint64(solution[first] - 1)
    cand[second] = full & ~(ONE << np.uint64(solution[second] - 1))
    return _search(cand, units, peers, 1, False, rng, 0, scratch, work) > 0


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
def _generate_puzzle(units, peers, seed, symmetric, target, puzzle, solution):
    """Write a random solution grid and a unique-solution puzzle from it; return the clue count.

    Groups of cells are blanked in random order when the puzzle keeps one solution, until the
    clue count reaches `target` (0 means no target). A group that would take the count below
    `target` is skipped, so the count ends at `target` or, when it cannot be reached, above it.
    """
    cells = solution.shape[0]
    rng = _new_rng(seed)
    work = _new_workspace(cells)
    _fill_random(units, peers, rng, solution, work)

    groups = _removal_groups(cells, symmetric, rng)
    puzzle[:] = solution
    clues = cells
    cand = np.empty(cells, np.uint64)
    scratch = np.empty(cells, np.int8)
    for index in range(groups.shape[0]):
        if clues <= target:
            break
        first = groups[index, 0]
        second = groups[index, 1]
        size = 1 if second < 0 else 2
        if clues - size < target:
            continue
        if _has_other_solution(puzzle, solution, first, second, units, peers, cand, scratch,
                               work, rng):
            continue
        puzzle[first] = 0
        if second >= 0:
            puzzle[second] = 0
        clues -= size
    return clues


@njit(cache=True, parallel=True)
def _generate_batch(units, peers, seeds, symmetric, target, puzzles, solutions):
    """Run `_generate_puzzle` for every seed in parallel; row i uses seeds[i] only."""
    for row in prange(seeds.shape[0]):
        _generate_puzzle(units, peers, seeds[row], symmetric, target, puzzles[row],
                         solutions[row])
