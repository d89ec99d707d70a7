"""Compiled entry points of the traced DPLL: one run, a batch of runs, and first-decision scores.

Each entry point takes or builds the clause index of its formula (`dpll_kernels.clause_index`),
allocates the arrays of a run, calls `dpll_kernels.search` until the run ends, growing the event
buffers between calls, and packs the result. `mplm_data.solvers.dpll` wraps the output in
`DpllRecord` objects. Terms, literal indices and event rows are those of `dpll_kernels`.

A run's output is (status, refuted mask, counts, kinds int8[n], events int32[3, n],
masks uint64[n], model int32[n_vars]), where n is the number of stored events. `counts` is the
tuple (events, decisions, propagations, conflicts, backtracks) in `COUNT_*` order. `model` lists
the final assignment as literals with unassigned variables false, and it is a model of the
formula when status is SAT.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .dpll_kernels import (
    COUNT_BACKTRACKS, COUNT_CONFLICTS, COUNT_DECISIONS, COUNT_EVENTS, COUNT_PROPAGATIONS,
    EVENT_CLAUSE, EVENT_CONFLICT, EVENT_LEVEL, EVENT_LITERAL, N_COUNTS, N_STATE, STATE_BACKTRACKS,
    STATE_CONFLICTS, STATE_DECISIONS, STATE_EVENTS, STATE_PROPAGATIONS, STATE_REFUTED,
    STATE_STATUS, STATUS_UNKNOWN, STATUS_UNSAT, STOPPED, clause_index, search,
)

# Event budget of runs that count events without storing them.
_UNLIMITED_EVENTS = 1 << 62
# Initial capacity of a run's event buffers, in loop iterations of at most n_vars + 2 events.
_FIRST_ITERATIONS = 8


@njit(cache=True)
def _grow(kinds, events, masks, n_events, needed, max_events):
    """Return copies of the event buffers with room for `needed` more events after `n_events`
    (capped at max_events), at least doubling their size."""
    capacity = max(min(n_events + needed, max_events), min(2 * kinds.shape[0], max_events))
    grown_kinds = np.empty(capacity, dtype=np.int8)
    grown_kinds[:n_events] = kinds[:n_events]
    grown_events = np.empty((3, capacity), dtype=np.int32)
    grown_events[:, :n_events] = events[:, :n_events]
    grown_masks = np.empty(capacity, dtype=np.uint64)
    grown_masks[:n_events] = masks[:n_events]
    return grown_kinds, grown_events, grown_masks


@njit(cache=True)
def _run(starts, slots, offsets, occurrences, free, weights, cube, max_events, max_decisions,
         trace, lit_state, scores):
    """Run DPLL on one formula under `cube`, in which literal i has mask bit i.

    `free` must contain the packed counters of the empty trail and is changed. Returns
    (state, kinds, events, masks): the `dpll_kernels` state array with the result and counts,
    and event buffers whose first `_stored(state, max_events, trace)` entries are the stored
    events. `lit_state` receives the final assignment and, when the run stops at
    max_decisions, `scores` the Jeroslow-Wang scores of that decision.
    """
    n_vars = lit_state.shape[0] // 2
    n_clauses = starts.shape[0] - 1
    mask_of = np.zeros(max(n_vars, 1), dtype=np.uint64)
    trail = np.empty(max(n_vars, 1), dtype=np.uint32)
    level_start = np.zeros(n_vars + 2, dtype=np.int64)
    decision = np.zeros(n_vars + 2, dtype=np.int32)
    n_true = np.zeros(n_clauses, dtype=np.int32)
    clause_weight = np.empty(n_clauses, dtype=np.float64)
    lit_state[:] = 0
    per_iteration = n_vars + 2 if trace else 0
    capacity = min(max_events, _FIRST_ITERATIONS * per_iteration)
    kinds = np.empty(capacity, dtype=np.int8)
    events = np.empty((3, capacity), dtype=np.int32)
    masks = np.empty(capacity, dtype=np.uint64)
    state = np.zeros(N_STATE, dtype=np.int64)
    state[STATE_STATUS] = STATUS_UNKNOWN

    # An empty clause is a conflict at level 0 before anything is assigned.
    for clause in range(n_clauses):
        if free[clause] == 0:
            if trace:
                kinds[0] = EVENT_CONFLICT
                events[EVENT_LITERAL, 0] = 0
                events[EVENT_CLAUSE, 0] = clause
                events[EVENT_LEVEL, 0] = 0
                masks[0] = 0
            state[STATE_STATUS] = STATUS_UNSAT
            state[STATE_EVENTS] = 1
            state[STATE_CONFLICTS] = 1
            return state, kinds, events, masks

    while search(state, starts, slots, offsets, occurrences, free, weights, cube, max_events,
                 max_decisions, trace, lit_state, scores, mask_of, trail, level_start, decision,
                 n_true, clause_weight, kinds, events, masks):
        kinds, events, masks = _grow(kinds, events, masks, state[STATE_EVENTS], per_iteration,
                                     max_events)
    return state, kinds, events, masks


@njit(cache=True)
def _stored(state, max_events, trace):
    """Return how many events a run with this final state stored."""
    return min(state[STATE_EVENTS], max_events) if trace else 0


@njit(cache=True)
def _counts(state):
    """Return the run's counts as a tuple in `COUNT_*` order."""
    return (state[STATE_EVENTS], state[STATE_DECISIONS], state[STATE_PROPAGATIONS],
            state[STATE_CONFLICTS], state[STATE_BACKTRACKS])


@njit(cache=True)
def _result(state):
    """Return the run's status, STOPPED reported as STATUS_UNKNOWN."""
    return STATUS_UNKNOWN if state[STATE_STATUS] == STOPPED else state[STATE_STATUS]


@njit(cache=True)
def _write_model(lit_state, model):
    """Write the model literals: variable v as v when it is true and as -v otherwise."""
    for var in range(model.shape[0]):
        model[var] = var + 1 if lit_state[2 * var] > 0 else -(var + 1)


@njit(cache=True)
def solve_one(index, cube, max_events, trace):
    """Run DPLL on the formula of `index`, its `clause_index`, under `cube`.

    The run reads `index` but does not change it. Returns the run's output in the layout of the
    module docstring. The event arrays are views of the run's buffers while those are at most
    twice the size of the stored events. Otherwise they are copies, so that a record of a short
    run does not keep alive a buffer sized for 8 (n_vars + 2) events.
    """
    starts, slots, offsets, occurrences, free, weights = index
    n_vars = (offsets.shape[0] - 1) // 2
    lit_state = np.empty(2 * n_vars, dtype=np.int8)
    scores = np.empty(2 * n_vars, dtype=np.float64)
    state, kinds, events, masks = _run(starts, slots, offsets, occurrences, free.copy(), weights,
                                       cube, max_events, -1, trace, lit_state, scores)

    stored = _stored(state, max_events, trace)
    model = np.empty(n_vars, dtype=np.int32)
    _write_model(lit_state, model)
    if kinds.shape[0] > 2 * stored:
        return (_result(state), np.uint64(state[STATE_REFUTED]), _counts(state),
                kinds[:stored].copy(), events[:, :stored].copy(), masks[:stored].copy(), model)
    return (_result(state), np.uint64(state[STATE_REFUTED]), _counts(state), kinds[:stored],
            events[:, :stored], masks[:stored], model)


@njit(cache=True)
def first_branch_scores(index):
    """Run DPLL on the formula of `index` up to its first decision, without a cube or trace.

    Returns (status, positive, negative), status being STATUS_UNKNOWN when level-0 propagation
    leaves the formula undecided. In that case `positive[v]` and `negative[v]` are the
    Jeroslow-Wang scores of v and -v at that point (index 0 unused), and 0 for assigned
    variables. In every other case both arrays are all 0.
    """
    starts, slots, offsets, occurrences, free, weights = index
    n_vars = (offsets.shape[0] - 1) // 2
    lit_state = np.empty(2 * n_vars, dtype=np.int8)
    scores = np.zeros(2 * n_vars, dtype=np.float64)
    state, _, _, _ = _run(starts, slots, offsets, occurrences, free.copy(), weights,
                          np.empty(0, dtype=np.int32), _UNLIMITED_EVENTS, 0, False, lit_state,
                          scores)

    positive = np.zeros(n_vars + 1, dtype=np.float64)
    negative = np.zeros(n_vars + 1, dtype=np.float64)
    status = _result(state)
    if status == STATUS_UNKNOWN:
        positive[1:] = scores[0::2]
        negative[1:] = scores[1::2]
    return status, positive, negative


@njit(cache=True)
def solve_batch(n_vars, literals, starts, formula_starts, job_formula, cube_literals,
                cube_starts, max_events, trace):
    """Run DPLL for every job j: formula job_formula[j] under the cube
    cube_literals[cube_starts[j]:cube_starts[j+1]].

    Formula f owns clauses formula_starts[f]:formula_starts[f+1] of (literals, starts) and has
    n_vars[f] variables. Consecutive jobs of one formula share its clause index. Returns
    per-job status, refuted masks and counts (int64[n_jobs, 5]), then the stored events of all
    jobs concatenated (event_starts, kinds, events int32[3, n], masks) and their models
    concatenated (model_starts, models), in the layout of `solve_one`.
    """
    n_jobs = job_formula.shape[0]
    status = np.empty(n_jobs, dtype=np.int8)
    refuted = np.zeros(n_jobs, dtype=np.uint64)
    counts = np.zeros((n_jobs, N_COUNTS), dtype=np.int64)
    event_starts = np.zeros(n_jobs + 1, dtype=np.int64)
    model_starts = np.zeros(n_jobs + 1, dtype=np.int64)
    for job in range(n_jobs):
        model_starts[job + 1] = model_starts[job] + n_vars[job_formula[job]]
    models = np.zeros(model_starts[n_jobs], dtype=np.int32)
    all_kinds = np.empty(1024, dtype=np.int8)
    all_events = np.empty((3, 1024), dtype=np.int32)
    all_masks = np.empty(1024, dtype=np.uint64)

    current = -1
    index = clause_index(0, literals[:0], starts[:1])
    for job in range(n_jobs):
        formula = job_formula[job]
        if formula != current:
            current = formula
            first, last = formula_starts[formula], formula_starts[formula + 1]
            index = clause_index(n_vars[formula], literals[starts[first]:starts[last]],
                                 starts[first:last + 1] - starts[first])
        clause_starts, slots, offsets, occurrences, free, weights = index
        lit_state = np.empty(2 * n_vars[formula], dtype=np.int8)
        scores = np.empty(2 * n_vars[formula], dtype=np.float64)
        cube = cube_literals[cube_starts[job]:cube_starts[job + 1]]

        state, kinds, events, masks = _run(clause_starts, slots, offsets, occurrences,
                                           free.copy(), weights, cube, max_events, -1, trace,
                                           lit_state, scores)
        status[job] = _result(state)
        refuted[job] = np.uint64(state[STATE_REFUTED])
        counts[job, COUNT_EVENTS] = state[STATE_EVENTS]
        counts[job, COUNT_DECISIONS] = state[STATE_DECISIONS]
        counts[job, COUNT_PROPAGATIONS] = state[STATE_PROPAGATIONS]
        counts[job, COUNT_CONFLICTS] = state[STATE_CONFLICTS]
        counts[job, COUNT_BACKTRACKS] = state[STATE_BACKTRACKS]
        _write_model(lit_state, models[model_starts[job]:model_starts[job + 1]])

        start = event_starts[job]
        stored = _stored(state, max_events, trace)
        if start + stored > all_kinds.shape[0]:
            all_kinds, all_events, all_masks = _grow(all_kinds, all_events, all_masks, start,
                                                     stored, _UNLIMITED_EVENTS)
        all_kinds[start:start + stored] = kinds[:stored]
        all_events[:, start:start + stored] = events[:, :stored]
        all_masks[start:start + stored] = masks[:stored]
        event_starts[job + 1] = start + stored
    total = event_starts[n_jobs]
    return (status, refuted, counts, event_starts, all_kinds[:total], all_events[:, :total],
            all_masks[:total], model_starts, models)
