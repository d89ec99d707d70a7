"""Numba kernels of the traced DPLL solver and the clause occurrence lists it shares with rup.py.

The solver is plain DPLL: unit propagation with per-clause counters, the two-sided dynamic
Jeroslow-Wang branching rule, and chronological backtracking. It records one event per decision,
propagation, conflict and backtrack; `mplm_data.solvers.sat_derivation` documents the format and
the event kinds, whose values `EVENT_*` must equal.

Counters: `n_true[c]` and `n_false[c]` count the literal occurrences of clause c made true and
false by the trail literals processed so far (index < `qhead`). A clause with no true literal
and one non-false occurrence left is unit. A clause with all occurrences false is a conflict.
Undoing a processed trail literal decrements the same counters, so backtracking costs as much
as the assignments it undoes.

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

# Slots of the int64 `state` array: trail length, next trail index to propagate, satisfied clauses.
_TRAIL = 0
_QHEAD = 1
_SATISFIED = 2


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
def _reserve(events, masks, n_events, needed, max_events):
    """Return buffers with room for `needed` more events after `n_events` (capped at
    max_events), doubling them when they are too small."""
    wanted = min(n_events + needed, max_events)
    if wanted <= events.shape[0]:
        return events, masks
    capacity = max(wanted, min(2 * events.shape[0], max_events))
    grown = np.empty((capacity, 4), dtype=np.int32)
    grown[:n_events] = events[:n_events]
    grown_masks = np.empty(capacity, dtype=np.uint64)
    grown_masks[:n_events] = masks[:n_events]
    return grown, grown_masks


@njit(cache=True)
def _record(events, masks, counters, kind, lit, clause, level, mask, max_events, trace):
    """Count one event and store it when tracing and below `max_events`.

    The caller reserves room first (`_reserve`). Events past `max_events` are counted but not
    stored, and the caller then stops with UNKNOWN."""
    n = counters[COUNT_EVENTS]
    if trace and n < max_events:
        events[n, 0] = kind
        events[n, 1] = lit
        events[n, 2] = clause
        events[n, 3] = level
        masks[n] = mask
    counters[COUNT_EVENTS] = n + 1


@njit(cache=True)
def _assign(lit, level, mask, value, level_of, mask_of, trail, state):
    var = abs(lit)
    value[var] = 1 if lit > 0 else -1
    level_of[var] = level
    mask_of[var] = mask
    trail[state[_TRAIL]] = lit
    state[_TRAIL] += 1


@njit(cache=True)
def _propagate(literals, starts, offsets, occurrences, level, value, level_of, mask_of, trail,
               state, n_true, n_false, events, masks, counters, max_events, trace):
    """Process the trail from qhead; return (conflict clause or -1, conflict mask).

    A conflict stops propagation after the current trail literal's occurrences are counted. The
    buffers need room for n_vars + 1 events, one per newly assigned variable and one conflict."""
    conflict = -1
    conflict_mask = np.uint64(0)
    while conflict < 0 and state[_QHEAD] < state[_TRAIL]:
        lit = trail[state[_QHEAD]]
        state[_QHEAD] += 1

        index = literal_index(lit)
        for slot in range(offsets[index], offsets[index + 1]):
            clause = occurrences[slot]
            n_true[clause] += 1
            if n_true[clause] == 1:
                state[_SATISFIED] += 1

        index = literal_index(-lit)
        for slot in range(offsets[index], offsets[index + 1]):
            clause = occurrences[slot]
            n_false[clause] += 1
            if n_true[clause] > 0 or conflict >= 0:
                continue
            length = starts[clause + 1] - starts[clause]
            if n_false[clause] == length:
                conflict = clause
                for position in range(starts[clause], starts[clause + 1]):
                    conflict_mask |= mask_of[abs(literals[position])]
                _record(events, masks, counters, EVENT_CONFLICT, 0, clause, level, conflict_mask,
                        max_events, trace)
                counters[COUNT_CONFLICTS] += 1
            elif n_false[clause] == length - 1:
                # Find the one occurrence that is not false. If it is unassigned the clause is
                # unit; if it is true (on the trail, not yet processed) there is nothing to do.
                unit = 0
                mask = np.uint64(0)
                for position in range(starts[clause], starts[clause + 1]):
                    other = literals[position]
                    sign = 1 if other > 0 else -1
                    if value[abs(other)] == -sign:
                        mask |= mask_of[abs(other)]
                    elif value[abs(other)] == 0:
                        unit = other
                    else:
                        unit = 0
                        break
                if unit != 0:
                    _assign(unit, level, mask, value, level_of, mask_of, trail, state)
                    _record(events, masks, counters, EVENT_PROPAGATE, unit, clause, level, mask,
                            max_events, trace)
                    counters[COUNT_PROPAGATIONS] += 1
    return conflict, conflict_mask


@njit(cache=True)
def _undo(keep, offsets, occurrences, value, trail, state, n_true, n_false):
    """Unassign trail entries from index `keep` on, undoing the counters of processed ones."""
    for position in range(state[_TRAIL] - 1, keep - 1, -1):
        lit = trail[position]
        if position < state[_QHEAD]:
            index = literal_index(lit)
            for slot in range(offsets[index], offsets[index + 1]):
                clause = occurrences[slot]
                n_true[clause] -= 1
                if n_true[clause] == 0:
                    state[_SATISFIED] -= 1
            index = literal_index(-lit)
            for slot in range(offsets[index], offsets[index + 1]):
                n_false[occurrences[slot]] -= 1
        value[abs(lit)] = 0
    state[_TRAIL] = keep
    state[_QHEAD] = min(state[_QHEAD], keep)


@njit(cache=True)
def jeroslow_wang(literals, starts, value, n_true, n_false, positive, negative):
    """Fill `positive[v]` and `negative[v]` with the Jeroslow-Wang scores of v and -v and return
    the branching literal, or 0 when no unassigned variable occurs in an unsatisfied clause.

    The score of a literal sums 2^-w over the unsatisfied clauses containing it, w being the
    clause's count of non-false occurrences. The variable with the largest positive + negative
    score wins (the smallest variable on ties), with the sign of its larger score (+ on ties)."""
    positive[:] = 0.0
    negative[:] = 0.0
    for clause in range(starts.shape[0] - 1):
        if n_true[clause] > 0:
            continue
        weight = math.ldexp(1.0, -(starts[clause + 1] - starts[clause] - n_false[clause]))
        for position in range(starts[clause], starts[clause + 1]):
            lit = literals[position]
            if value[abs(lit)] == 0:
                if lit > 0:
                    positive[lit] += weight
                else:
                    negative[-lit] += weight

    best = 0
    best_score = 0.0
    for var in range(1, value.shape[0]):
        score = positive[var] + negative[var]
        if score > best_score:
            best = var
            best_score = score
    if best == 0:
        return 0
    return best if positive[best] >= negative[best] else -best


@njit(cache=True)
def solve(n_vars, literals, starts, offsets, occurrences, cube, cube_bits, max_events,
          max_decisions, trace, value, positive, negative, counters):
    """Run DPLL on one formula under the assumptions `cube`.

    Returns (status, events int32[n, 4], masks uint64[n], refuted mask). `value` (int8, length
    n_vars + 1) receives the final assignment and `counters` the COUNT_* totals. With max_decisions
    >= 0 the run stops with UNKNOWN before decision number max_decisions + 1, leaving that
    decision's Jeroslow-Wang scores in `positive` and `negative`."""
    n_clauses = starts.shape[0] - 1
    level_of = np.zeros(n_vars + 1, dtype=np.int32)
    mask_of = np.zeros(n_vars + 1, dtype=np.uint64)
    trail = np.zeros(max(n_vars, 1), dtype=np.int32)
    level_start = np.zeros(n_vars + 2, dtype=np.int64)
    decision = np.zeros(n_vars + 2, dtype=np.int32)
    n_true = np.zeros(n_clauses, dtype=np.int32)
    n_false = np.zeros(n_clauses, dtype=np.int32)
    state = np.zeros(3, dtype=np.int64)
    value[:] = 0
    counters[:] = 0
    # One loop iteration emits at most one event per variable plus a conflict and one more.
    per_iteration = n_vars + 2 if trace else 0
    events = np.empty((min(max_events, 4 * per_iteration), 4), dtype=np.int32)
    masks = np.empty(events.shape[0], dtype=np.uint64)

    for clause in range(n_clauses):
        if starts[clause + 1] == starts[clause]:
            _record(events, masks, counters, EVENT_CONFLICT, 0, clause, 0, np.uint64(0),
                    max_events, trace)
            counters[COUNT_CONFLICTS] += 1
            stored = min(counters[COUNT_EVENTS], max_events) if trace else 0
            return STATUS_UNSAT, events[:stored], masks[:stored], np.uint64(0)

    level = 0
    next_unit = 0
    next_assumption = 0
    status = STATUS_UNKNOWN
    refuted = np.uint64(0)
    while counters[COUNT_EVENTS] <= max_events:
        if trace:
            events, masks = _reserve(events, masks, counters[COUNT_EVENTS], per_iteration,
                                     max_events)
        conflict, conflict_mask = _propagate(
            literals, starts, offsets, occurrences, level, value, level_of, mask_of, trail,
            state, n_true, n_false, events, masks, counters, max_events, trace)
        if conflict >= 0:
            if level == 0:
                status, refuted = STATUS_UNSAT, conflict_mask
                break
            flipped = -decision[level]
            _undo(level_start[level], offsets, occurrences, value, trail, state, n_true, n_false)
            level -= 1
            _assign(flipped, level, conflict_mask, value, level_of, mask_of, trail, state)
            _record(events, masks, counters, EVENT_BACKTRACK, flipped, -1, level, conflict_mask,
                    max_events, trace)
            counters[COUNT_BACKTRACKS] += 1
            continue

        # Level 0: the formula's unit clauses first, then the cube literals, one at a time.
        while next_unit < n_clauses and starts[next_unit + 1] - starts[next_unit] != 1:
            next_unit += 1
        if next_unit < n_clauses:
            clause = next_unit
            next_unit += 1
            lit = literals[starts[clause]]
            if value[abs(lit)] == 0:
                _assign(lit, 0, np.uint64(0), value, level_of, mask_of, trail, state)
                _record(events, masks, counters, EVENT_PROPAGATE, lit, clause, 0, np.uint64(0),
                        max_events, trace)
                counters[COUNT_PROPAGATIONS] += 1
            continue
        if next_assumption < cube.shape[0]:
            lit = cube[next_assumption]
            bit = cube_bits[next_assumption]
            next_assumption += 1
            sign = 1 if lit > 0 else -1
            if value[abs(lit)] == -sign:
                refuted = bit | mask_of[abs(lit)]
                _record(events, masks, counters, EVENT_CONFLICT, lit, -1, 0, refuted, max_events,
                        trace)
                counters[COUNT_CONFLICTS] += 1
                status = STATUS_UNSAT
                break
            if value[abs(lit)] == 0:
                _assign(lit, 0, bit, value, level_of, mask_of, trail, state)
                _record(events, masks, counters, EVENT_ASSUME, lit, -1, 0, bit, max_events, trace)
            continue

        if state[_SATISFIED] == n_clauses:
            status = STATUS_SAT
            break
        branch = jeroslow_wang(literals, starts, value, n_true, n_false, positive, negative)
        if branch == 0:
            status = STATUS_SAT
            break
        if max_decisions >= 0 and counters[COUNT_DECISIONS] >= max_decisions:
            break
        level += 1
        level_start[level] = state[_TRAIL]
        decision[level] = branch
        _assign(branch, level, np.uint64(0), value, level_of, mask_of, trail, state)
        _record(events, masks, counters, EVENT_DECIDE, branch, -1, level, np.uint64(0),
                max_events, trace)
        counters[COUNT_DECISIONS] += 1

    if counters[COUNT_EVENTS] > max_events:
        status = STATUS_UNKNOWN
    stored = min(counters[COUNT_EVENTS], max_events) if trace else 0
    return status, events[:stored], masks[:stored], refuted


@njit(cache=True)
def solve_one(n_vars, literals, starts, cube, cube_bits, max_events, max_decisions, trace):
    """Run `solve` on one formula and return (status, events, masks, refuted mask, value,
    counters, positive, negative), the last two being the scores of the last branching step."""
    offsets, occurrences = occurrence_lists(n_vars, literals, starts)
    value = np.zeros(n_vars + 1, dtype=np.int8)
    positive = np.zeros(n_vars + 1, dtype=np.float64)
    negative = np.zeros(n_vars + 1, dtype=np.float64)
    counters = np.zeros(N_COUNTS, dtype=np.int64)
    status, events, masks, refuted = solve(n_vars, literals, starts, offsets, occurrences, cube,
                                           cube_bits, max_events, max_decisions, trace, value,
                                           positive, negative, counters)
    return status, events, masks, refuted, value, counters, positive, negative


@njit(cache=True)
def solve_batch(n_vars, literals, starts, formula_starts, job_formula, cube_literals, cube_bits,
                cube_starts, max_events, max_decisions, trace):
    """Run `solve` for every job j: formula job_formula[j] under the cube
    cube_literals[cube_starts[j]:cube_starts[j+1]].

    Formula f owns clauses formula_starts[f]:formula_starts[f+1] of (literals, starts) and has
    n_vars[f] variables. Returns per-job status, refuted masks, counters and event offsets, the
    concatenated events and masks, and the final values concatenated with offsets."""
    n_jobs = job_formula.shape[0]
    status = np.empty(n_jobs, dtype=np.int8)
    refuted = np.zeros(n_jobs, dtype=np.uint64)
    counters = np.zeros((n_jobs, N_COUNTS), dtype=np.int64)
    event_starts = np.zeros(n_jobs + 1, dtype=np.int64)
    value_starts = np.zeros(n_jobs + 1, dtype=np.int64)
    for job in range(n_jobs):
        value_starts[job + 1] = value_starts[job] + n_vars[job_formula[job]] + 1
    values = np.zeros(value_starts[n_jobs], dtype=np.int8)
    all_events = np.empty((1024, 4), dtype=np.int32)
    all_masks = np.empty(1024, dtype=np.uint64)

    current = -1
    offsets = np.empty(0, dtype=np.int64)
    occurrences = np.empty(0, dtype=np.int64)
    formula_literals = literals[:0]
    formula_starts_local = starts[:1]
    for job in range(n_jobs):
        formula = job_formula[job]
        if formula != current:
            current = formula
            first, last = formula_starts[formula], formula_starts[formula + 1]
            formula_starts_local = starts[first:last + 1] - starts[first]
            formula_literals = literals[starts[first]:starts[last]]
            offsets, occurrences = occurrence_lists(n_vars[formula], formula_literals,
                                                    formula_starts_local)
        positive = np.zeros(n_vars[formula] + 1, dtype=np.float64)
        negative = np.zeros(n_vars[formula] + 1, dtype=np.float64)
        value = values[value_starts[job]:value_starts[job + 1]]
        cube = cube_literals[cube_starts[job]:cube_starts[job + 1]]
        bits = cube_bits[cube_starts[job]:cube_starts[job + 1]]

        result, events, masks, mask = solve(
            n_vars[formula], formula_literals, formula_starts_local, offsets, occurrences, cube,
            bits, max_events, max_decisions, trace, value, positive, negative, counters[job])
        status[job] = result
        refuted[job] = mask
        start = event_starts[job]
        end = start + events.shape[0]
        if end > all_events.shape[0]:
            capacity = max(end, 2 * all_events.shape[0])
            grown = np.empty((capacity, 4), dtype=np.int32)
            grown[:start] = all_events[:start]
            grown_masks = np.empty(capacity, dtype=np.uint64)
            grown_masks[:start] = all_masks[:start]
            all_events, all_masks = grown, grown_masks
        all_events[start:end] = events
        all_masks[start:end] = masks
        event_starts[job + 1] = end
    stored = event_starts[n_jobs]
    return (status, refuted, counters, event_starts, all_events[:stored], all_masks[:stored],
            value_starts, values)

