"""Candidate state of a partly solved Sudoku grid, and one finder per logical technique.

`CandidateState` stores which digits each empty cell can still take and, for every candidate
removed so far, the fact that removed it. Each finder looks for the first application of one
technique and returns it as a `Match`: the placement or eliminations it concludes, plus the removed
candidates whose removal facts justify it (`cited`). The grader in `sudoku_logic` turns matches
into derivation steps.

Conventions inside this module:
- digits are 0-based, so index d stands for digit d + 1;
- a candidate is a pair (cell, d). `reason[cell, d]` is `PRESENT` while the candidate remains.
  After its removal it is the peer cell whose placement removed it, or `ELIMINATED` when an
  elimination fact of a technique or refutation removed it;
- filled cells have no candidates, so counts only cover empty cells;
- units are numbered as in `Geometry.units`: rows, then columns, then boxes;
- a segment is the intersection of a box and a line (row or column).

Every finder scans in a fixed order, stated in its docstring, so results are deterministic. The
searches are vectorized over the whole grid; the per-match work is proportional to the unit size.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from mplm_data.generators.sudoku_geometry import Geometry
from .sudoku_derivation import Technique

PRESENT = -1
ELIMINATED = -2
NO_UNIT = -1


@dataclass(frozen=True, eq=False)
class Layout:
    """Index arrays of one geometry, shared by every state of that geometry."""

    n: int
    units: np.ndarray          # (3n, n) cells of each unit
    cell_units: np.ndarray     # (n*n, 3) row, column and box unit of each cell
    peers: np.ndarray          # (n*n, P) peers of each cell
    segment_box: np.ndarray    # (S,) box unit of each segment, segments sorted by (box, line)
    segment_line: np.ndarray   # (S,) row or column unit of each segment
    segment_order: np.ndarray  # (S,) permutation from [row segments, column segments] to sorted
    row_segments: np.ndarray   # (n * box_rows, box_cols) cells of each row segment
    column_segments: np.ndarray  # (n * box_cols, box_rows) cells of each column segment
    bits: np.ndarray           # (n,) int64 powers of two, to turn boolean rows into bitmasks


@lru_cache(maxsize=16)
def layout_for(geometry: Geometry) -> Layout:
    """Build (once per geometry) the index arrays that the finders use."""
    n, box_rows, box_cols = geometry.n, geometry.box_rows, geometry.box_cols
    grid = np.arange(n * n, dtype=np.int64).reshape(n, n)
    cell_box = geometry.cell_units[:, 2]

    row_segments = grid.reshape(n, n // box_cols, box_cols).reshape(-1, box_cols)
    column_segments = grid.T.reshape(n, n // box_rows, box_rows).reshape(-1, box_rows)
    row_lines = row_segments[:, 0] // n
    column_lines = n + column_segments[:, 0] % n
    segment_line = np.concatenate([row_lines, column_lines])
    segment_box = np.concatenate([cell_box[row_segments[:, 0]], cell_box[column_segments[:, 0]]])
    segment_order = np.lexsort((segment_line, segment_box))

    return Layout(
        n=n,
        units=geometry.units.astype(np.int64),
        cell_units=geometry.cell_units.astype(np.int64),
        peers=geometry.peers.astype(np.int64),
        segment_box=segment_box[segment_order],
        segment_line=segment_line[segment_order],
        segment_order=segment_order,
        row_segments=row_segments,
        column_segments=column_segments,
        bits=np.left_shift(np.int64(1), np.arange(n, dtype=np.int64)),
    )


class Match(NamedTuple):
    """One application of a technique found in a state, before it is applied."""

    technique: Technique
    unit: int
    placement: tuple[int, int] | None
    eliminations: tuple[tuple[int, int], ...]
    cited_cells: np.ndarray
    cited_digits: np.ndarray


class CandidateState:
    """Digits, candidates and removal facts of a partly solved grid."""

    def __init__(self, layout: Layout, grid: np.ndarray) -> None:
        n = layout.n
        self.layout = layout
        self.grid = np.array(grid, dtype=np.int8)

        # The removal fact of a candidate taken by the givens is the lowest given peer holding
        # the digit: peers are sorted, and the loop runs from the highest peer down.
        self.reason = np.full((n * n, n), PRESENT, dtype=np.int32)
        peer_digits = self.grid[layout.peers].astype(np.int64) - 1
        for column in range(layout.peers.shape[1] - 1, -1, -1):
            rows = np.flatnonzero(peer_digits[:, column] >= 0)
            self.reason[rows, peer_digits[rows, column]] = layout.peers[rows, column]

        filled = self.grid > 0
        self.cand = (self.reason == PRESENT) & ~filled[:, None]
        self.cell_count = self.cand.sum(axis=1, dtype=np.int32)
        self.unit_count = self.cand[layout.units].sum(axis=1, dtype=np.int32)
        self.placed = np.zeros((3 * n, n), dtype=bool)
        unit_digits = self.grid[layout.units].astype(np.int64)
        unit_index, position = np.nonzero(unit_digits)
        self.placed[unit_index, unit_digits[unit_index, position] - 1] = True
        self.empty_count = int(np.count_nonzero(~filled))

    def copy(self) -> "CandidateState":
        """Return an independent copy, used as the snapshot a guess returns to."""
        other = object.__new__(CandidateState)
        other.layout = self.layout
        for name in ("grid", "reason", "cand", "cell_count", "unit_count", "placed"):
            setattr(other, name, getattr(self, name).copy())
        other.empty_count = self.empty_count
        return other

    def place(self, cell: int, digit: int) -> None:
        """Fill `cell` with `digit` and remove the digit from the candidates of its peers."""
        layout = self.layout
        units = layout.cell_units[cell]
        digits = np.flatnonzero(self.cand[cell])
        self.unit_count[units[:, None], digits[None, :]] -= 1
        self.cand[cell] = False
        self.cell_count[cell] = 0
        self.grid[cell] = digit + 1
        self.placed[units, digit] = True
        self.empty_count -= 1

        peers = layout.peers[cell]
        hit = peers[self.cand[peers, digit]]
        self.cand[hit, digit] = False
        self.reason[hit, digit] = cell
        self.cell_count[hit] -= 1
        self.unit_count[:, digit] -= np.bincount(layout.cell_units[hit].ravel(),
                                                 minlength=3 * layout.n).astype(np.int32)

    def eliminate(self, cell: int, digit: int) -> None:
        """Remove candidate `digit` from `cell` by an elimination fact of its own."""
        self.cand[cell, digit] = False
        self.reason[cell, digit] = ELIMINATED
        self.cell_count[cell] -= 1
        self.unit_count[self.layout.cell_units[cell], digit] -= 1

    def empty_cells(self, unit: int) -> np.ndarray:
        """Empty cells of `unit`, in unit order."""
        cells = self.layout.units[unit]
        return cells[self.grid[cells] == 0]


def find_contradiction(state: CandidateState) -> Match | None:
    """Find an empty cell with no candidate (lowest cell first), else a digit with no place.

    A cell contradiction has unit `NO_UNIT` and cites every digit of the cell. A unit contradiction
    (lowest unit, then lowest digit) cites the digit in every empty cell of the unit.
    """
    dead_cells = np.flatnonzero((state.cell_count == 0) & (state.grid == 0))
    if dead_cells.size:
        cell = int(dead_cells[0])
        digits = np.arange(state.layout.n)
        return Match(Technique.CONTRADICTION, NO_UNIT, None, (), np.full_like(digits, cell), digits)

    dead_digits = np.flatnonzero((state.unit_count == 0) & ~state.placed)
    if dead_digits.size:
        unit, digit = divmod(int(dead_digits[0]), state.layout.n)
        cells = state.empty_cells(unit)
        return Match(Technique.CONTRADICTION, unit, None, (), cells, np.full_like(cells, digit))
    return None


def find_naked_single(state: CandidateState) -> Match | None:
    """Find the lowest empty cell with exactly one candidate."""
    singles = np.flatnonzero(state.cell_count == 1)
    if not singles.size:
        return None

    cell = int(singles[0])
    digit = int(np.argmax(state.cand[cell]))
    others = np.flatnonzero(np.arange(state.layout.n) != digit)
    return Match(Technique.NAKED_SINGLE, NO_UNIT, (cell, digit), (), np.full_like(others, cell),
                 others)


def find_hidden_single(state: CandidateState) -> Match | None:
    """Find a digit with exactly one candidate cell in a unit (lowest unit, then lowest digit)."""
    singles = np.flatnonzero(state.unit_count == 1)
    if not singles.size:
        return None

    unit, digit = divmod(int(singles[0]), state.layout.n)
    cells = state.layout.units[unit]
    cell = int(cells[state.cand[cells, digit]][0])
    others = cells[(state.grid[cells] == 0) & (cells != cell)]
    return Match(Technique.HIDDEN_SINGLE, unit, (cell, digit), (), others,
                 np.full_like(others, digit))


def find_locked_candidates(state: CandidateState) -> Match | None:
    """Find pointing, else claiming, in segment order (box, then line), then lowest digit.

    Pointing: all candidates of a digit in a box lie in one segment, so the digit leaves the rest
    of the segment's line. Its unit is the box. Claiming: all candidates of a digit in a line lie
    in one segment, so the digit leaves the rest of the segment's box. Its unit is the line.
    """
    layout = state.layout
    segment_count = np.concatenate([
        state.cand[layout.row_segments].sum(axis=1, dtype=np.int32),
        state.cand[layout.column_segments].sum(axis=1, dtype=np.int32),
    ])[layout.segment_order]
    box_count = state.unit_count[layout.segment_box]
    line_count = state.unit_count[layout.segment_line]
    occupied = segment_count > 0

    pointing = np.argwhere(occupied & (box_count == segment_count) & (line_count > segment_count))
    if pointing.size:
        segment, digit = (int(value) for value in pointing[0])
        return _locked_match(state, int(layout.segment_box[segment]),
                             int(layout.segment_line[segment]), digit)

    claiming = np.argwhere(occupied & (line_count == segment_count) & (box_count > segment_count))
    if claiming.size:
        segment, digit = (int(value) for value in claiming[0])
        return _locked_match(state, int(layout.segment_line[segment]),
                             int(layout.segment_box[segment]), digit)
    return None


def _locked_match(state: CandidateState, source: int, target: int, digit: int) -> Match:
    """Build the match for `digit` confined within `source` to its overlap with `target`."""
    layout = state.layout
    source_cells = layout.units[source]
    target_cells = layout.units[target]
    overlap = np.intersect1d(source_cells, target_cells)

    outside = ~np.isin(target_cells, overlap)
    removed = target_cells[outside & state.cand[target_cells, digit]]
    confining = source_cells[~np.isin(source_cells, overlap) & (state.grid[source_cells] == 0)]
    return Match(Technique.LOCKED_CANDIDATES, source, None,
                 tuple((int(cell), digit) for cell in removed),
                 confining, np.full_like(confining, digit))


def find_naked_pair(state: CandidateState) -> Match | None:
    """Find two cells of a unit whose only candidates are the same two digits.

    Scans units in order, then cell pairs in unit order, and takes the first pair that removes at
    least one candidate from another cell of the unit.
    """
    layout = state.layout
    masks = state.cand.astype(np.int64) @ layout.bits
    unit_masks = masks[layout.units]
    two = state.cell_count[layout.units] == 2
    same = (unit_masks[:, :, None] == unit_masks[:, None, :]) & two[:, :, None] & two[:, None, :]
    same &= np.triu(np.ones((layout.n, layout.n), dtype=bool), k=1)

    for unit, first, second in np.argwhere(same).tolist():
        cells = layout.units[unit]
        pair = state.cand[cells[first]]
        others = np.ones(layout.n, dtype=bool)
        others[[first, second]] = False
        hits = np.argwhere(state.cand[cells] & pair & others[:, None])
        if not hits.size:
            continue

        pair_cells = cells[[first, second]]
        others = np.flatnonzero(~pair)
        removed = tuple((int(cells[position]), int(digit)) for position, digit in hits)
        return Match(Technique.NAKED_PAIR, unit, None, removed, np.repeat(pair_cells, others.size),
                     np.tile(others, 2))
    return None


def find_hidden_pair(state: CandidateState) -> Match | None:
    """Find two digits whose only candidate cells in a unit are the same two cells.

    Scans units in order, then digit pairs in ascending order, and takes the first pair whose
    cells hold at least one other candidate.
    """
    layout = state.layout
    unit_cand = state.cand[layout.units]
    places = (unit_cand.astype(np.int64) * layout.bits[None, :, None]).sum(axis=1)
    two = state.unit_count == 2
    same = (places[:, :, None] == places[:, None, :]) & two[:, :, None] & two[:, None, :]
    same &= np.triu(np.ones((layout.n, layout.n), dtype=bool), k=1)

    for unit, first, second in np.argwhere(same).tolist():
        cells = layout.units[unit]
        pair_cells = cells[unit_cand[unit, :, first]]
        extra = state.cand[pair_cells].copy()
        extra[:, [first, second]] = False
        if not extra.any():
            continue

        removed = tuple((int(pair_cells[index]), int(digit)) for index, digit in np.argwhere(extra))
        others = state.empty_cells(unit)
        others = others[~np.isin(others, pair_cells)]
        return Match(Technique.HIDDEN_PAIR, unit, None, removed, np.tile(others, 2),
                     np.repeat([first, second], others.size))
    return None


def find_guess(state: CandidateState) -> tuple[int, int]:
    """Choose the guess (cell, digit): the empty cell with the fewest candidates (lowest cell on
    ties) and its lowest candidate."""
    counts = np.where(state.grid == 0, state.cell_count, state.layout.n + 1)
    cell = int(np.argmin(counts))
    return cell, int(np.argmax(state.cand[cell]))
