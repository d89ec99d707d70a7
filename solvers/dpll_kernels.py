"""Numba kernels of the traced DPLL solver and the clause occurrence lists it shares with rup.py.

The solver is plain DPLL: unit propagation with per-clause counters, the two-sided dynamic
Jeroslow-Wang branching rule, and chronological backtracking. It records one event per decision,
propagation, conflict and backtrack; `mplm_data.solvers.sat_derivation` documents the format and
the event kinds, whose values `EVENT_*` must equal.

Literal indices: the kernels address literal v as index 2(v-1) and -v as 2(v-1)+1
(`literal_index`), so the negation of index i is i ^ 1 and its variable is i >> 1, counted from
0. `slots[p]` is the index of the literal at position p of the flat clause array, and
`lit_state[i]` is 1 when literal index i is true, -1 when it is false and 0 when unassigned. The
trail stores literal indices.

Counters: `n_true[c]` and `n_false[c]` count the literal occurrences of clause c made true and
false by the trail literals processed so far (trail index < `qhead`). A clause with no true
literal and one non-false occurrence left is unit. A clause with all occurrences false is a
conflict. Undoing a processed trail literal decrements the same counters, so backtracking costs
as much as the assignments it undoes. The trail size, `qhead`, the count of satisfied clauses
and the event count are scalars that the helpers take and return, so that the compiled loops
keep them in registers.

Dependency masks: bit i stands for cube literal i. An assumed cube literal carries its own bit,
a decision carries 0, a propagated literal the union of the masks of the other literals in its
reason clause, and a conflict the union over its clause. After a conflict at level d, the
decision of level d is undone and its negation is asserted at level d - 1 with the conflict's
mask. A conflict at level 0 therefore carries cube literals that, with the formula, are already
unsatisfiable, and it leaves out cube literals that no branch of the refutation used.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

EVENT_ASSUME = 0
EVENT_DECIDE = 1
EVENT_PROPAGATE = 2
EVENT_CONFLICT = 3
EVENT_BACKTRACK = 4

STATUS_UNSAT = 0
STATUS_SAT = 1
STATUS_UNKNOWN = 2

# Slots of the int64 `counters` array that every run fills.
COUNT_EVENTS = 0
COUNT_DECISIONS = 1
COUNT_PROPAGATIONS = 2
COUNT_CONFLICTS = 3
COUNT_BACKTRACKS = 4
N_COUNTS = 5

# Rows of the int32 `events` array of a run; the event kinds are a separate int8 array.
EVENT_LITERAL = 0
EVENT_CLAUSE = 1
EVENT_LEVEL = 2

# Event budget of runs that count events without storing them.
_UNLIMITED_EVENTS = 1 << 62

@njit(cache=True)
def literal_index(lit):
    """Map literal v to 2(v-1) and literal -v to 2(v-1)+1."""
    return 2 * (abs(lit) - 1) + (1 if lit < 0 else 0)


@njit(cache=True)
def occurrence_lists(n_vars, literals, starts):
    """Build CSR occurrence lists: the clauses containing literal index i are
    `clauses[offsets[i]:offsets[i+1]]`, listed once per occurrence."""
    counts = np.zeros(2 * n_vars + 1, dtype=np.int64)
    for position in range(literals.shape[0]):
        counts[literal_index(literals[position]) + 1] += 1
    offsets = np.cumsum(counts)

    clauses = np.empty(literals.shape[0], dtype=np.int64)
    fill = offsets[:-1].copy()
    for clause in range(starts.shape[0] - 1):
        for position in range(starts[clause], starts[clause + 1]):
            index = literal_index(literals[position])
            clauses[fill[index]] = clause
            fill[index] += 1
    return offsets, clauses


@njit(cache=True)
def literal_slots(literals):
    """Return the literal index of every position of the flat clause array, as int32."""
    slots = np.empty(literals.shape[0], dtype=np.int32)
    for position in range(literals.shape[0]):
        slots[position] = literal_index(literals[position])
    return slots


@njit(cache=True, inline="always")
def _reserve(kinds, events, masks, n_events, needed, max_events):
    """Return event buffers with room for `needed` more events after `n_events` (capped at
    max_events), doubling them when they are too small."""
    wanted = min(n_events + needed, max_events)
    if wanted <= kinds.shape[0]:
        return kinds, events, masks
    capacity = max(wanted, min(2 * kinds.shape[0], max_events))
    grown_kinds = np.empty(capacity, dtype=np.int8)
    grown_kinds[:n_events] = kinds[:n_events]
    grown = np.empty((3, capacity), dtype=np.int32)
    grown[:, :n_events] = events[:, :n_events]
    grown_masks = np.empty(capacity, dtype=np.uint64)
    grown_masks[:n_events] = masks[:n_events]
    return grown_kinds, grown, grown_masks


@njit(cache=True, inline="always")
def _record(kinds, events, masks, n_events, kind, lit, clause, level, mask, max_events, trace):
    """Store one event when tracing and below `max_events`; return the new event count.

    The caller reserves room first (`_reserve`). Events past `max_events` are counted but not
    stored, and the caller then stops with UNKNOWN."""
    if trace and n_events < max_events:
        kinds[n_events] = kind
        events[EVENT_LITERAL, n_events] = lit
        events[EVENT_CLAUSE, n_events] = clause
        events[EVENT_LEVEL, n_events] = level
        masks[n_events] = mask
    return n_events + 1


@njit(cache=True, inline="always")
def _assign(index, mask, lit_state, mask_of, trail, trail_size):
    """Make literal index `index` true with dependency `mask`; return the new trail size."""
    lit_state[index] = 1
    lit_state[index ^ 1] = -1
    mask_of[index >> 1] = mask
    trail[trail_size] = index
    return trail_size + 1


@njit(cache=True, inline="always")
def _propagate(literals, slots, starts, offsets, occurrences, level, lit_state, mask_of, trail,
               trail_size, qhead, satisfied, n_true, n_false, kinds, events, masks, counters,
               n_events, max_events, trace):
    """Process the trail from qhead.

    Returns (conflict clause or -1, conflict mask, trail_size, qhead, satisfied, n_events). A
    conflict stops propagation after the current trail literal's occurrences are counted. The
    buffers need room for n_vars + 1 events, one per newly assigned variable and one conflict."""
    conflict = -1
    conflict_mask = np.uint64(0)
    while conflict < 0 and qhead < trail_size:
        index = trail[qhead]
        qhead += 1

        for slot in range(offsets[index], offsets[index + 1]):
            clause = occurrences[slot]
            n_true[clause] += 1
            if n_true[clause] == 1:
                satisfied += 1

        negation = index ^ 1
        for slot in range(offsets[negation], offsets[negation + 1]):
            clause = occurrences[slot]
            n_false[clause] += 1
            if n_true[clause] > 0 or conflict >= 0:
                continue
            first, end = starts[clause], starts[clause + 1]
            if n_false[clause] == end - first:
                conflict = clause
                for position in range(first, end):
                    conflict_mask |= mask_of[slots[position] >> 1]
                n_events = _record(kinds, events, masks, n_events, EVENT_CONFLICT, 0, clause,
                                   level, conflict_mask, max_events, trace)
                counters[COUNT_CONFLICTS] += 1
            elif n_false[clause] == end - first - 1:
                # Find the one occurrence that is not false. If it is unassigned the clause is
                # unit; if it is true (on the trail, not yet processed) there is nothing to do.
                unit = -1
                mask = np.uint64(0)
                for position in range(first, end):
                    other = slots[position]
                    if lit_state[other] < 0:
                        mask |= mask_of[other >> 1]
                    elif lit_state[other] == 0:
                        unit = position
                    else:
                        unit = -1
                        break
                if unit >= 0:
                    trail_size = _assign(slots[unit], mask, lit_state, mask_of, trail, trail_size)
                    n_events = _record(kinds, events, masks, n_events, EVENT_PROPAGATE,
                                       literals[unit], clause, level, mask, max_events, trace)
                    counters[COUNT_PROPAGATIONS] += 1
    return conflict, conflict_mask, trail_size, qhead, satisfied, n_events


@njit(cache=True, inline="always")
def _undo(keep, offsets, occurrences, lit_state, trail, trail_size, qhead, satisfied, n_true,
          n_false):
    """Unassign trail entries from index `keep` on, undoing the counters of processed ones.

    Returns (trail_size, qhead, satisfied)."""
    for position in range(trail_size - 1, keep - 1, -1):
        index = trail[position]
        if position < qhead:
            for slot in range(offsets[index], offsets[index + 1]):
                clause = occurrences[slot]
                n_true[clause] -= 1
                if n_true[clause] == 0:
                    satisfied -= 1
            negation = index ^ 1
            for slot in range(offsets[negation], offsets[negation + 1]):
                n_false[occurrences[slot]] -= 1
        lit_state[index] = 0
        lit_state[index ^ 1] = 0
    return keep, min(qhead, keep), satisfied


@njit(cache=True)
def _clause_weights(starts):
    """Return `weights[w] = 2^-w` for every w from 0 to the longest clause's length."""
    longest = 0
    for clause in range(starts.shape[0] - 1):
        longest = max(longest, starts[clause + 1] - starts[clause])
    weights = np.empty(longest + 1, dtype=np.float64)
    for width in range(longest + 1):
        weights[width] = math.ldexp(1.0, -width)
    return weights


@njit(cache=True, inline="always")
def jeroslow_wang(slots, starts, weights, lit_state, n_true, n_false, scores):
    """Fill `scores[i]` with the Jeroslow-Wang score of literal index i and return the branching
    literal, or 0 when no unassigned variable occurs in an unsatisfied clause.

    The score of a literal sums 2^-w over the unsatisfied clauses containing it, w being the
    clause's count of non-false occurrences, taken from `weights` (`_clause_weights`). The
    variable with the largest positive + negative score wins (the smallest variable on ties),
    with the sign of its larger score (+ on ties). `scores` has 2 n_vars + 1 entries, and the
    last one collects the occurrences of assigned literals, which keeps the loop free of a
    branch on the assignment. Each score sums in clause order, as the plain definition does."""
    sink = scores.shape[0] - 1
    scores[:] = 0.0
    for clause in range(starts.shape[0] - 1):
        if n_true[clause] > 0:
            continue
        first, end = starts[clause], starts[clause + 1]
        weight = weights[end - first - n_false[clause]]
        for position in range(first, end):
            index = slots[position]
            scores[index if lit_state[index] == 0 else sink] += weight

    best = -1
    best_score = 0.0
    for var in range(sink // 2):
        score = scores[2 * var] + scores[2 * var + 1]
        if score > best_score:
            best = var
            best_score = score
    if best < 0:
        return 0
    return best + 1 if scores[2 * best] >= scores[2 * best + 1] else -(best + 1)


@njit(cache=True)
def solve(n_vars, literals, slots, starts, offsets, occurrences, cube, max_events,
          max_decisions, trace, lit_state, scores, counters):
    """Run DPLL on one formula under the assumptions `cube`; cube literal i has mask bit i.

    Returns (status, refuted mask, kinds int8[capacity], events int32[3, capacity],
    masks uint64[capacity]). The first `stored_events(counters, max_events, trace)` entries of
    the three buffers are the stored events, with rows EVENT_LITERAL, EVENT_CLAUSE and
    EVENT_LEVEL in `events`. `lit_state` (int8, length 2 n_vars) receives the final assignment
    and `counters` the COUNT_* totals. With max_decisions >= 0 the run stops with UNKNOWN before
    decision number max_decisions + 1, leaving that decision's Jeroslow-Wang scores in
    `scores` (float64, length 2 n_vars + 1)."""
    n_clauses = starts.shape[0] - 1
    mask_of = np.zeros(max(n_vars, 1), dtype=np.uint64)
    trail = np.empty(max(n_vars, 1), dtype=np.int32)
    level_start = np.zeros(n_vars + 2, dtype=np.int64)
    decision = np.zeros(n_vars + 2, dtype=np.int32)
    n_true = np.zeros(n_clauses, dtype=np.int32)
    n_false = np.zeros(n_clauses, dtype=np.int32)
    weights = _clause_weights(starts)
    lit_state[:] = 0
    counters[:] = 0
    # One loop iteration emits at most one event per variable plus a conflict and one more.
    per_iteration = n_vars + 2 if trace else 0
    capacity = min(max_events, 8 * per_iteration)
    kinds = np.empty(capacity, dtype=np.int8)
    events = np.empty((3, capacity), dtype=np.int32)
    masks = np.empty(capacity, dtype=np.uint64)
    n_events = 0

    for clause in range(n_clauses):
        if starts[clause + 1] == starts[clause]:
            counters[COUNT_EVENTS] = _record(kinds, events, masks, n_events, EVENT_CONFLICT, 0,
                                             clause, 0, np.uint64(0), max_events, trace)
            counters[COUNT_CONFLICTS] += 1
            return STATUS_UNSAT, np.uint64(0), kinds, events, masks

    level = 0
    trail_size = 0
    qhead = 0
    satisfied = 0
    next_unit = 0
    next_assumption = 0
    status = STATUS_UNKNOWN
    refuted = np.uint64(0)
    while n_events <= max_events:
        if trace:
            kinds, events, masks = _reserve(kinds, events, masks, n_events, per_iteration,
                                            max_events)
        conflict, conflict_mask, trail_size, qhead, satisfied, n_events = _propagate(
            literals, slots, starts, offsets, occurrences, level, lit_state, mask_of, trail,
            trail_size, qhead, satisfied, n_true, n_false, kinds, events, masks, counters,
            n_events, max_events, trace)
        if conflict >= 0:
            if level == 0:
                status, refuted = STATUS_UNSAT, conflict_mask
                break
            flipped = -decision[level]
            trail_size, qhead, satisfied = _undo(level_start[level], offsets, occurrences,
                                                 lit_state, trail, trail_size, qhead, satisfied,
                                                 n_true, n_false)
            level -= 1
            trail_size = _assign(literal_index(flipped), conflict_mask, lit_state, mask_of, trail,
                                 trail_size)
            n_events = _record(kinds, events, masks, n_events, EVENT_BACKTRACK, flipped, -1,
                               level, conflict_mask, max_events, trace)
            counters[COUNT_BACKTRACKS] += 1
            continue

        # Level 0: the formula's unit clauses first, then the cube literals, one at a time.
        while next_unit < n_clauses and starts[next_unit + 1] - starts[next_unit] != 1:
            next_unit += 1
        if next_unit < n_clauses:
            clause = next_unit
            next_unit += 1
            index = slots[starts[clause]]
            if lit_state[index] == 0:
                trail_size = _assign(index, np.uint64(0), lit_state, mask_of, trail, trail_size)
                n_events = _record(kinds, events, masks, n_events, EVENT_PROPAGATE,
                                   literals[starts[clause]], clause, 0, np.uint64(0), max_events,
                                   trace)
                counters[COUNT_PROPAGATIONS] += 1
            continue
        if next_assumption < cube.shape[0]:
            lit = cube[next_assumption]
            index = literal_index(lit)
            bit = np.uint64(1) << np.uint64(next_assumption)
            next_assumption += 1
            if lit_state[index] < 0:
                refuted = bit | mask_of[index >> 1]
                n_events = _record(kinds, events, masks, n_events, EVENT_CONFLICT, lit, -1, 0,
                                   refuted, max_events, trace)
                counters[COUNT_CONFLICTS] += 1
                status = STATUS_UNSAT
                break
            if lit_state[index] == 0:
                trail_size = _assign(index, bit, lit_state, mask_of, trail, trail_size)
                n_events = _record(kinds, events, masks, n_events, EVENT_ASSUME, lit, -1, 0, bit,
                                   max_events, trace)
            continue

        if satisfied == n_clauses:
            status = STATUS_SAT
            break
        branch = jeroslow_wang(slots, starts, weights, lit_state, n_true, n_false, scores)
        if branch == 0:
            status = STATUS_SAT
            break
        if max_decisions >= 0 and counters[COUNT_DECISIONS] >= max_decisions:
            break
        level += 1
        level_start[level] = trail_size
        decision[level] = branch
        trail_size = _assign(literal_index(branch), np.uint64(0), lit_state, mask_of, trail,
                             trail_size)
        n_events = _record(kinds, events, masks, n_events, EVENT_DECIDE, branch, -1, level,
                           np.uint64(0), max_events, trace)
        counters[COUNT_DECISIONS] += 1

    counters[COUNT_EVENTS] = n_events
    if n_events > max_events:
        status = STATUS_UNKNOWN
    return status, refuted, kinds, events, masks


@njit(cache=True)
def stored_events(counters, max_events, trace):
    """Return how many events a run with these counters stored."""
    return min(counters[COUNT_EVENTS], max_events) if trace else 0


@njit(cache=True)
def _write_model(lit_state, model):
    """Write the model literals: variable v as v when it is true and as -v otherwise."""
    for var in range(model.shape[0]):
        model[var] = var + 1 if lit_state[2 * var] > 0 else -(var + 1)


@njit(cache=True)
def solve_one(n_vars, literals, starts, cube, max_events, trace):
    """Run `solve` on one formula.

    Returns (status, refuted mask, counters, kinds int8[n], events int32[3, n], masks uint64[n],
    model int32[n_vars]) with exactly the n stored events. `model` lists the final assignment
    as literals, unassigned variables false, and is a model of the formula when status is SAT."""
    offsets, occurrences = occurrence_lists(n_vars, literals, starts)
    lit_state = np.empty(2 * n_vars, dtype=np.int8)
    scores = np.empty(2 * n_vars + 1, dtype=np.float64)
    counters = np.empty(N_COUNTS, dtype=np.int64)
    status, refuted, kinds, events, masks = solve(
        n_vars, literals, literal_slots(literals), starts, offsets, occurrences, cube, max_events,
        -1, trace, lit_state, scores, counters)

    stored = stored_events(counters, max_events, trace)
    model = np.empty(n_vars, dtype=np.int32)
    _write_model(lit_state, model)
    return (status, refuted, counters, kinds[:stored].copy(), events[:, :stored].copy(),
            masks[:stored].copy(), model)


@njit(cache=True)
def first_branch_scores(n_vars, literals, starts):
    """Run `solve` up to its first decision without a cube or trace.

    Returns (status, positive, negative), status being STATUS_UNKNOWN when level-0 propagation
    leaves the formula undecided. Then `positive[v]` and `negative[v]` are the Jeroslow-Wang
    scores of v and -v at that point (index 0 unused); otherwise they are 0."""
    offsets, occurrences = occurrence_lists(n_vars, literals, starts)
    lit_state = np.empty(2 * n_vars, dtype=np.int8)
    scores = np.zeros(2 * n_vars + 1, dtype=np.float64)
    counters = np.empty(N_COUNTS, dtype=np.int64)
    status, _, _, _, _ = solve(n_vars, literals, literal_slots(literals), starts, offsets,
                               occurrences, np.empty(0, dtype=np.int32), _UNLIMITED_EVENTS, 0,
                               False, lit_state, scores, counters)

    positive = np.zeros(n_vars + 1, dtype=np.float64)
    negative = np.zeros(n_vars + 1, dtype=np.float64)
    if status == STATUS_UNKNOWN:
        positive[1:] = scores[0:2 * n_vars:2]
        negative[1:] = scores[1:2 * n_vars:2]
    return status, positive, negative


@njit(cache=True)
def solve_batch(n_vars, literals, starts, formula_starts, job_formula, cube_literals,
                cube_starts, max_events, trace):
    """Run `solve` for every job j: formula job_formula[j] under the cube
    cube_literals[cube_starts[j]:cube_starts[j+1]].

    Formula f owns clauses formula_starts[f]:formula_starts[f+1] of (literals, starts) and has
    n_vars[f] variables. Returns per-job status, refuted masks and counters, then the stored
    events of all jobs concatenated (event_starts, kinds, events int32[3, n], masks) and their
    models concatenated (model_starts, models), in the layout of `solve_one`."""
    n_jobs = job_formula.shape[0]
    status = np.empty(n_jobs, dtype=np.int8)
    refuted = np.zeros(n_jobs, dtype=np.uint64)
    counters = np.zeros((n_jobs, N_COUNTS), dtype=np.int64)
    event_starts = np.zeros(n_jobs + 1, dtype=np.int64)
    model_starts = np.zeros(n_jobs + 1, dtype=np.int64)
    for job in range(n_jobs):
        model_starts[job + 1] = model_starts[job] + n_vars[job_formula[job]]
    models = np.zeros(model_starts[n_jobs], dtype=np.int32)
    all_kinds = np.empty(1024, dtype=np.int8)
    all_events = np.empty((3, 1024), dtype=np.int32)
    all_masks = np.empty(1024, dtype=np.uint64)

    current = -1
    offsets = np.empty(0, dtype=np.int64)
    occurrences = np.empty(0, dtype=np.int64)
    formula_literals = literals[:0]
    formula_slots = literal_slots(formula_literals)
    formula_starts_local = starts[:1]
    for job in range(n_jobs):
        formula = job_formula[job]
        if formula != current:
            current = formula
            first, last = formula_starts[formula], formula_starts[formula + 1]
            formula_starts_local = starts[first:last + 1] - starts[first]
            formula_literals = literals[starts[first]:starts[last]]
            formula_slots = literal_slots(formula_literals)
            offsets, occurrences = occurrence_lists(n_vars[formula], formula_literals,
                                                    formula_starts_local)
        lit_state = np.empty(2 * n_vars[formula], dtype=np.int8)
        scores = np.empty(2 * n_vars[formula] + 1, dtype=np.float64)
        cube = cube_literals[cube_starts[job]:cube_starts[job + 1]]

        result, mask, kinds, events, masks = solve(
            n_vars[formula], formula_literals, formula_slots, formula_starts_local, offsets,
            occurrences, cube, max_events, -1, trace, lit_state, scores, counters[job])
        status[job] = result
        refuted[job] = mask
        _write_model(lit_state, models[model_starts[job]:model_starts[job + 1]])

        start = event_starts[job]
        end = start + stored_events(counters[job], max_events, trace)
        all_kinds, all_events, all_masks = _reserve(all_kinds, all_events, all_masks, start,
                                                    end - start, _UNLIMITED_EVENTS)
        all_kinds[start:end] = kinds[:end - start]
        all_events[:, start:end] = events[:, :end - start]
        all_masks[start:end] = masks[:end - start]
        event_starts[job + 1] = end
    stored = event_starts[n_jobs]
    return (status, refuted, counters, event_starts, all_kinds[:stored], all_events[:, :stored],
            all_masks[:stored], model_starts, models)
