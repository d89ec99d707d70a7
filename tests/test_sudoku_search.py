"""Tests of the Numba Sudoku kernels: random generator, propagation rules and search limits."""

from __future__ import annotations

import numpy as np
import pytest

from mplm_data.generators import sudoku_propagation as propagation
from mplm_data.generators import sudoku_removal as removal
from mplm_data.generators import sudoku_search as kernels
from mplm_data.generators.sudoku import random_solution
from mplm_data.generators.sudoku_geometry import Geometry

SHAPES = [(4, 2, 2), (6, 2, 3), (6, 3, 2), (8, 2, 4), (9, 3, 3), (12, 3, 4), (12, 4, 3),
          (16, 4, 4), (25, 5, 5)]


def _shape_id(shape):
    return f"{shape[0]}x{shape[0]}({shape[1]}x{shape[2]})"


def _bit(digit: int) -> np.uint64:
    return np.uint64(1 << (digit - 1))


@pytest.mark.parametrize("bound", [1, 2, 3, 9, 36, 1296])
def test_rng_below_covers_range(bound):
    rng = kernels._new_rng(12345)
    draws = np.array([kernels._rng_below(rng, bound) for _ in range(max(200, 20 * bound))])
    assert draws.min() == 0
    assert draws.max() == bound - 1
    assert len(np.unique(draws)) == bound


def test_rng_streams_differ_for_nearby_seeds():
    outputs = {int(kernels._rng_next(kernels._new_rng(seed))) for seed in range(1000)}
    assert len(outputs) == 1000


def test_rng_same_seed_same_stream():
    first = kernels._new_rng(77)
    second = kernels._new_rng(77)
    assert [kernels._rng_next(first) for _ in range(5)] == [kernels._rng_next(second)
                                                            for _ in range(5)]


@pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
def test_box_shape_read_from_units(shape):
    geometry = Geometry(*shape)
    assert propagation._box_shape(geometry.units) == (shape[1], shape[2])


@pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
@pytest.mark.parametrize("seed", range(4))
def test_propagate_keeps_solution_digits(shape, seed):
    """Naked singles, hidden singles and locked candidates never remove a solution's digit."""
    geometry = Geometry(*shape)
    solution = random_solution(geometry, seed)
    keep = np.random.default_rng(seed).random(geometry.cells) < 0.35
    puzzle = np.where(keep, solution, 0).astype(np.int8)

    cand = np.empty(geometry.cells, np.uint64)
    propagation._grid_to_candidates(puzzle, geometry.n, cand)
    work = kernels._new_workspace(geometry.cells)
    queue = work[3]
    queued = 0
    for cell in np.flatnonzero(puzzle):
        queue[queued] = cell
        queued += 1
    box_rows, box_cols = propagation._box_shape(geometry.units)

    consistent = propagation._propagate(cand, queue, queued, geometry.units, geometry.peers,
                                    box_rows, box_cols, work[4], work[5])
    assert consistent
    solution_bits = np.left_shift(np.uint64(1), solution.astype(np.uint64) - np.uint64(1))
    assert np.all(cand & solution_bits == solution_bits)


def _locked_state(geometry: Geometry):
    cand = np.full(geometry.cells, np.uint64((1 << geometry.n) - 1))
    work = kernels._new_workspace(geometry.cells)
    return cand, work


def test_locked_candidates_pointing_clears_row():
    """Digit 1 confined to row 1 inside box 1 leaves the rest of row 1."""
    geometry = Geometry.for_size(9)
    cand, work = _locked_state(geometry)
    for cell in (9, 10, 11, 18, 19, 20):
        cand[cell] &= ~_bit(1)

    queued, changed = propagation._locked_candidates(cand, work[3], 0, 9, 3, 3, work[4], work[5])
    assert changed
    assert queued == 0
    assert all(cand[cell] & _bit(1) == 0 for cell in range(3, 9))
    assert all(cand[cell] & _bit(1) for cell in range(3))


def test_locked_candidates_claiming_clears_box():
    """Digit 2 confined to box 1 inside column 1 leaves the rest of box 1."""
    geometry = Geometry.for_size(9)
    cand, work = _locked_state(geometry)
    for row in range(3, 9):
        cand[row * 9] &= ~_bit(2)

    queued, changed = propagation._locked_candidates(cand, work[3], 0, 9, 3, 3, work[4], work[5])
    assert changed
    box_rest = [1, 2, 10, 11, 19, 20]
    assert all(cand[cell] & _bit(2) == 0 for cell in box_rest)
    assert all(cand[row * 9] & _bit(2) for row in range(3))


def test_locked_candidates_no_change_on_open_grid():
    geometry = Geometry(12, 3, 4)
    cand, work = _locked_state(geometry)
    before = cand.copy()
    queued, changed = propagation._locked_candidates(cand, work[3], 0, 12, 3, 4, work[4], work[5])
    assert not changed
    assert np.array_equal(cand, before)


def test_search_node_limit_reports_cutoff():
    geometry = Geometry.for_size(16)
    cand = np.full(geometry.cells, np.uint64((1 << 16) - 1))
    solution = np.zeros(geometry.cells, np.int8)
    status = kernels._search(cand, geometry.units, geometry.peers, 1, False,
                             kernels._new_rng(0), 1, kernels._NO_PREFERENCE, solution,
                             kernels._new_workspace(geometry.cells))
    assert status == -1


def test_search_rejects_empty_candidate_set():
    geometry = Geometry.for_size(9)
    cand = np.full(81, np.uint64(511))
    cand[40] = np.uint64(0)
    solution = np.zeros(81, np.int8)
    count = kernels._search(cand, geometry.units, geometry.peers, 2, False, kernels._new_rng(0),
                            0, kernels._NO_PREFERENCE, solution, kernels._new_workspace(81))
    assert count == 0


@pytest.mark.parametrize("cells", [16, 36, 81, 625])
@pytest.mark.parametrize("symmetric", [False, True])
def test_removal_groups_cover_each_cell_once(cells, symmetric):
    groups = removal._removal_groups(cells, symmetric, kernels._new_rng(cells))
    members = groups[groups >= 0]
    assert np.array_equal(np.sort(members), np.arange(cells))
    if symmetric:
        paired = groups[groups[:, 1] >= 0]
        assert np.all(paired[:, 0] + paired[:, 1] == cells - 1)
        assert len(groups) == (cells + 1) // 2
    else:
        assert np.all(groups[:, 1] == -1)


def test_removal_groups_order_is_shuffled():
    groups = removal._removal_groups(81, False, kernels._new_rng(3))
    assert not np.array_equal(groups[:, 0], np.arange(81))
