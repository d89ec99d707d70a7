"""Cheap exact tests that decide a uniqueness check before any search.

A uniqueness check decides whether blanking one clue, or a pair of clues, of a puzzle with a known
unique solution lets another solution appear. Three tests settle most checks on dense grids and
many on sparse ones, each at a small fraction of the cost of a search:

- *naked single*: the remaining clues among the peers of a blanked cell leave it one digit.
- *hidden single*: in some unit of a blanked cell, every other cell is a remaining clue or sees a
  remaining clue of the blanked cell's digit, so that digit has one place left in the unit.
- *digit swap*: exchanging digits a and b of the solution on a set of cells gives another valid
  grid when every unit has both its a-cell and its b-cell in the set, or neither. The smallest
  such set around a blanked cell is its connected component in the graph that joins the a-cell
  and the b-cell of each unit. When that component contains no remaining clue, the swapped grid is
  a second solution of the blanked puzzle.
- *line swap*: two rows of one band (or two columns of one stack) can exchange their cells on a
  set of positions whose digits are the same set in both lines. Rows and boxes keep their
  digits, and each column swaps two of its own cells. The smallest such set around a blanked
  cell is the cycle of positions reached by repeatedly moving to where the first line has the
  digit that the second line has at the current position. When its cells contain no remaining
  clue, the exchanged grid is a second solution.

The two singles prove that the solution stays unique, and a swap of either kind proves that it does
not.
A test that proves neither leaves the check to the search, so the tests change how fast a
check ends, never its result.
Kernels take the `units` and `peers` tables of `sudoku_geometry.Geometry`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .sudoku_propagation import ONE


@njit(cache=True)
def _sees_clue(puzzle, cell, digit, peers, first, second):
    """Tell whether a clue of `digit` other than cells `first` and `second` is a peer of `cell`."""
    for k in range(peers.shape[1]):
        peer = peers[cell, k]
        if puzzle[peer] == digit and peer != first and peer != second:
            return True
    return False


@njit(cache=True)
def _naked_single(puzzle, solution, cell, other, peers, full):
    """Tell whether the clues among the peers of `cell`, not counting `other`, leave it one digit."""
    seen = ONE << np.uint64(solution[cell] - 1)
    for k in range(peers.shape[1]):
        peer = peers[cell, k]
        if peer != other and puzzle[peer] != 0:
            seen |= ONE << np.uint64(puzzle[peer] - 1)
    return seen == full


@njit(cache=True)
def _hidden_single(puzzle, solution, cell, other, units, peers, box_rows, box_cols):
    """Tell whether the solution digit of `cell` has no other place in one of its units.

    Cells `cell` and `other` (-1 for none) count as blank. Another cell of the unit is ruled
    out when it is a remaining clue or sees a remaining clue of that digit.
    """
    n = units.shape[1]
    digit = solution[cell]
    row, col = cell // n, cell % n
    box = (row // box_rows) * (n // box_cols) + col // box_cols
    for unit in (row, n + col, 2 * n + box):
        placed_elsewhere = False
        for k in range(n):
            mate = units[unit, k]
            if mate == cell:
                continue
            is_clue = puzzle[mate] != 0 and mate != other
            if not is_clue and not _sees_clue(puzzle, mate, digit, peers, cell, other):
                placed_elsewhere = True
                break
        if not placed_elsewhere:
            return True
    return False


@njit(cache=True)
def _forced(puzzle, solution, cell, other, units, peers, box_rows, box_cols):
    """Tell whether a naked or hidden single forces `cell` to its solution digit."""
    full = (ONE << np.uint64(units.shape[1])) - ONE
    return (_naked_single(puzzle, solution, cell, other, peers, full)
            or _hidden_single(puzzle, solution, cell, other, units, peers, box_rows, box_cols))


@njit(cache=True)
def _stays_unique(puzzle, solution, first, second, units, peers, box_rows, box_cols):
    """Tell whether a single forces each blanked cell (`second` is -1 for none) back to its digit.

    True means the blanked puzzle still has only the known solution. False means nothing: a
    search has to decide.
    """
    if not _forced(puzzle, solution, first, second, units, peers, box_rows, box_cols):
        return False
    return second < 0 or _forced(puzzle, solution, second, first, units, peers, box_rows,
                                 box_cols)


@njit(cache=True)
def _swap_component_is_free(puzzle, solution, cell, swap, first, second, peers, queue, mark):
    """Tell whether the component of `cell` for swapping its digit with `swap` contains no clue.

    Cells `first` and `second` count as blank. `queue` and `mark` are int32 and int8 scratch
    arrays of one entry per cell; `mark` must be all zero and is left all zero.
    """
    digit = solution[cell]
    mark[cell] = 1
    queue[0] = cell
    head = 0
    tail = 1
    free = True
    while head < tail and free:
        current = queue[head]
        head += 1
        partner_digit = swap if solution[current] == digit else digit
        for k in range(peers.shape[1]):
            peer = peers[current, k]
            if solution[peer] != partner_digit or mark[peer] != 0:
                continue
            if puzzle[peer] != 0 and peer != first and peer != second:
                free = False
                break
            mark[peer] = 1
            queue[tail] = peer
            tail += 1

    for k in range(tail):
        mark[queue[k]] = 0
    return free


@njit(cache=True)
def _line_cell(line, position, axis, n):
    """Return the cell at `position` of row `line` (axis 0) or column `line` (axis 1)."""
    return line * n + position if axis == 0 else position * n + line


@njit(cache=True)
def _line_cycle_is_free(puzzle, solution, cell, partner, axis, first, second, n):
    """Tell whether exchanging the line of `cell` with line `partner` on the cycle of positions
    through `cell` meets no clue other than cells `first` and `second`."""
    line = cell // n if axis == 0 else cell % n
    start = cell % n if axis == 0 else cell // n
    position = start
    while True:
        for swapped in (_line_cell(line, position, axis, n),
                        _line_cell(partner, position, axis, n)):
            if puzzle[swapped] != 0 and swapped != first and swapped != second:
                return False

        digit = solution[_line_cell(partner, position, axis, n)]
        position = 0
        while solution[_line_cell(line, position, axis, n)] != digit:
            position += 1
        if position == start:
            return True


@njit(cache=True)
def _swap_witness(puzzle, solution, first, second, peers, box_rows, box_cols, queue, mark):
    """Tell whether a digit swap or a line swap free of clues yields a second solution."""
    n = int(np.sqrt(solution.shape[0]) + 0.5)
    for blanked in range(2):
        cell = first if blanked == 0 else second
        if cell < 0:
            continue
        for axis in range(2):
            line = cell // n if axis == 0 else cell % n
            band = box_rows if axis == 0 else box_cols
            for partner in range(line - line % band, line - line % band + band):
                if partner != line and _line_cycle_is_free(puzzle, solution, cell, partner,
                                                           axis, first, second, n):
                    return True
        for swap in range(1, n + 1):
            if swap != solution[cell] and _swap_component_is_free(
                    puzzle, solution, cell, swap, first, second, peers, queue, mark):
                return True
    return False
