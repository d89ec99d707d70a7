"""Numba kernels of the traced DPLL solver: the clause index and the search loop.

The solver is plain DPLL: unit propagation with per-clause counters, the two-sided dynamic
Jeroslow-Wang branching rule, and chronological backtracking. It records one event per decision,
propagation, conflict and backtrack; `mplm_data.solvers.sat_derivation` documents the format and
the event kinds, whose values `EVENT_*` must equal. `dpll_calls` contains the compiled entry
points that allocate a run's arrays and pack its output.

Literal indices: the kernels address literal v as index 2(v-1) and -v as 2(v-1)+1
(`literal_index`), so the negation of index i is i ^ 1 and its variable is i >> 1, counted from
0. `slots[p]` is the index of the literal at position p of the flat clause array, and
`lit_state[i]` is 1 when literal index i is true, -1 when it is false and 0 when unassigned. The
trail stores literal indices.

Counters: `n_true[c]` counts the occurrences in clause c made true by the trail literals
processed so far (trail position < `qhead`). The uint64 `free[c]` packs two more: bits 32 to 63
count the occurrences not made false by them (the free occurrences), and bits 0 to 31 are the
XOR of the literal indices of those occurrences, so a clause with one free occurrence names it
without a scan. One subtraction and one XOR update both when an occurrence becomes false. A
clause with no true occurrence is unit when it has one free occurrence and a conflict when it
has none. Undoing a processed trail literal restores the same counters, so backtracking costs as
much as the assignments it undoes.

Dependency masks: bit i stands for cube literal i. An assumed cube literal carries its own bit,
a decision carries 0, a propagated literal the union of the masks of the other literals in its
reason clause, and a conflict the union over its clause. After a conflict at level d, the
decision of level d is undone and its negation is asserted at level d - 1 with the conflict's
mask. A conflict at level 0 therefore carries cube literals that, with the formula, are already
unsatisfiable, and it leaves out cube literals that no branch of the refutation used. Without a
cube every mask is 0, and the kernels skip computing them.

Index types: the hot loops index arrays with unsigned integers (`uint32` arrays, `uint64`
offsets and the `ONE` constant), because Numba wraps every signed index for negative values and
that check cost about a third of the search time.

NOTE: Numba's on-disk cache checks only the source file of the function it loads, so the cached
entry points of `dpll_calls` and the kernels of `rup` keep running an old copy of these kernels
after this file changes. Delete `solvers/__pycache__/*.nbi` and `*.nbc` after editing it.
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

# Positions of the counts in the tuple of counts that the entry points return.
COUNT_EVENTS = 0
COUNT_DECISIONS = 1
COUNT_PROPAGATIONS = 2
COUNT_CONFLICTS = 3
COUNT_BACKTRACKS = 4
N_COUNTS = 5

# Rows of the int32 `events` array of a run. The event kinds are a separate int8 array.
EVENT_LITERAL = 0
EVENT_CLAUSE = 1
EVENT_LEVEL = 2

# Unsigned constants: mixing a uint64 with a plain int literal gives int64 or float64 in Numba.
ZERO = np.uint64(0)
ONE = np.uint64(1)
TWO = np.uint64(2)
THREE = np.uint64(3)
FOUR = np.uint64(4)
# Fields of the packed `free` counters: the free count above bit 32, their XOR below.
FREE_SHIFT = np.uint64(32)
FREE_ONE = np.uint64(1 << 32)
XOR_MASK = np.uint64((1 << 32) - 1)
# IEEE 754 float64: exponent bias, stored mantissa bits and significand precision.
EXPONENT_BIAS = 1023
MANTISSA_BITS = 52
SIGNIFICAND_BITS = 53

# Slots of the int64 `state` array in which `search` keeps its scalars between calls.
STATE_STATUS = 0
STATE_LEVEL = 1
STATE_TRAIL_SIZE = 2
STATE_QHEAD = 3
STATE_NEXT_UNIT = 4
STATE_NEXT_ASSUMPTION = 5
STATE_EVENTS = 6
STATE_DECISIONS = 7
STATE_PROPAGATIONS = 8
STATE_CONFLICTS = 9
STATE_BACKTRACKS = 10
STATE_REFUTED = 11
N_STATE = 12
# `STATE_STATUS` of a run stopped by max_decisions. The entry points report it as UNKNOWN.
STOPPED = -1


@njit(cache=True)
def literal_index(lit):
    """Map literal v to 2(v-1) and literal -v to 2(v-1)+1."""
    return 2 * (abs(lit) - 1) + (1 if lit < 0 else 0)


@njit(cache=True, inline="always")
def index_literal(index):
    """Map an unsigned literal index back to its signed literal."""
    var = np.int64(index >> ONE) + 1
    return -var if index & ONE else var


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
def clause_index(n_vars, literals, starts):
    """Build the solver's view of a formula.

    Returns (starts, slots uint32[n_literals], offsets uint64[2 n_vars + 1], occurrences
    uint32[n_literals], free uint64[n_clauses], weights). `starts` is a copy of the clause start
    offsets, so that the kernels see the same array types whether or not the caller's arrays are
    read-only, and Numba compiles them once. The clauses containing literal index i are
    occurrences[offsets[i]:offsets[i+1]] in clause order, listed once per occurrence. `free`
    contains the packed counters of the empty trail, and `weights[w]` is 2^-w for every w up to
    the longest clause's length.
    """
    n_literals = literals.shape[0]
    n_clauses = starts.shape[0] - 1
    slots = np.empty(n_literals, dtype=np.uint32)
    offsets = np.zeros(2 * n_vars + 1, dtype=np.uint64)
    for position in range(n_literals):
        index = literal_index(literals[position])
        slots[position] = index
        offsets[index + 1] += ONE
    for index in range(2 * n_vars):
        offsets[index + 1] += offsets[index]

    fill = offsets[:-1].copy()
    occurrences = np.empty(n_literals, dtype=np.uint32)
    free = np.empty(n_clauses, dtype=np.uint64)
    longest = 0
    for clause in range(n_clauses):
        first, end = starts[clause], starts[clause + 1]
        longest = max(longest, end - first)
        combined = ZERO
        for position in range(first, end):
            index = slots[position]
            combined ^= index
            occurrences[fill[index]] = clause
            fill[index] += ONE
        free[clause] = (np.uint64(end - first) << FREE_SHIFT) | combined

    weights = np.empty(longest + 1, dtype=np.float64)
    for width in range(longest + 1):
        weights[width] = math.ldexp(1.0, -width)
    return starts.copy(), slots, offsets, occurrences, free, weights


@njit(cache=True)
def search(state, starts, slots, offsets, occurrences, free, weights, cube, max_events,
           max_decisions, trace, lit_state, scores, mask_of, trail, level_start, decision, n_true,
           clause_weight, kinds, events, masks):
    """Run DPLL from the scalars in `state` until the run ends or the event buffers are full.

    Returns True when it stopped because `kinds`, `events` and `masks` have no room for one
    more loop iteration (n_vars + 2 events: at most one per variable, a conflict and a
    backtrack). The caller then grows them and calls again with the same arrays. Otherwise
    `state[STATE_STATUS]` contains the result: STOPPED when the run reached decision number
    max_decisions + 1 (max_decisions >= 0), or STATUS_UNKNOWN when it recorded more than
    max_events events. A stopped run leaves that decision's Jeroslow-Wang scores in `scores`
    (float64, 2 n_vars entries).

    The loop body is written out instead of split into helpers: an inlined Numba helper that
    takes arrays still updates their reference counts on every call.
    """
    n_vars = lit_state.shape[0] // 2
    n_clauses = starts.shape[0] - 1
    masked = cube.shape[0] > 0
    # 2^-w as float64 bits: biased exponent 1023 - w and a zero mantissa, exact while the
    # exponent stays normal (w <= 1022). Writing the bits lets the loop vectorize, which the
    # lookup in `weights` does not.
    bit_weights = weights.shape[0] - 1 < EXPONENT_BIAS
    weight_bits = clause_weight.view(np.int64)
    # A variable's score sums at most `max_degree` weights 2^-w with w <= longest, so every
    # partial sum is a multiple of 2^-longest and at most `max_degree`. All of them are exact
    # float64 values, whatever the order of the terms, when max_degree * 2^longest <= 2^53.
    # Runs that stop at max_decisions keep the loop that writes every score.
    longest = weights.shape[0] - 1
    max_degree = ZERO
    for var in range(np.uint64(n_vars)):
        max_degree = max(max_degree, offsets[(var << ONE) + TWO] - offsets[var << ONE])
    exact_sums = max_decisions < 0 and longest <= SIGNIFICAND_BITS and \
        max_degree <= ONE << np.uint64(SIGNIFICAND_BITS - longest)
    capacity = kinds.shape[0]
    per_iteration = n_vars + 2 if trace else 0
    status = state[STATE_STATUS]
    level = state[STATE_LEVEL]
    trail_size = state[STATE_TRAIL_SIZE]
    qhead = state[STATE_QHEAD]
    next_unit = state[STATE_NEXT_UNIT]
    next_assumption = state[STATE_NEXT_ASSUMPTION]
    n_events = state[STATE_EVENTS]
    n_decisions = state[STATE_DECISIONS]
    n_propagations = state[STATE_PROPAGATIONS]
    n_conflicts = state[STATE_CONFLICTS]
    n_backtracks = state[STATE_BACKTRACKS]
    refuted = np.uint64(state[STATE_REFUTED])

    full = False
    while status == STATUS_UNKNOWN and n_events <= max_events:
        if trace and n_events + per_iteration > capacity and capacity < max_events:
            full = True
            break

        # Propagate: process the trail from qhead until it is done or a clause is in conflict.
        # A conflict still lets the current literal's occurrences be counted, so that undoing
        # the literal restores every counter it changed.
        conflict = -1
        conflict_mask = ZERO
        while conflict < 0 and qhead < trail_size:
            index = trail[qhead]
            qhead += 1
            for slot in range(offsets[index], offsets[index + ONE]):
                clause = occurrences[slot]
                n_true[clause] += 1

            negation = index ^ ONE
            for slot in range(offsets[negation], offsets[negation + ONE]):
                clause = occurrences[slot]
                packed = (free[clause] - FREE_ONE) ^ negation
                free[clause] = packed
                left = packed >> FREE_SHIFT
                if left > ONE or n_true[clause] > 0 or conflict >= 0:
                    continue
                if left == ZERO:
                    conflict = clause
                    if masked:
                        for position in range(starts[clause], starts[clause + 1]):
                            conflict_mask |= mask_of[slots[position] >> ONE]
                    if trace and n_events < max_events:
                        kinds[n_events] = EVENT_CONFLICT
                        events[EVENT_LITERAL, n_events] = 0
                        events[EVENT_CLAUSE, n_events] = clause
                        events[EVENT_LEVEL, n_events] = level
                        masks[n_events] = conflict_mask
                    n_events += 1
                    n_conflicts += 1
                    continue

                # One free occurrence left: the clause is unit when it is unassigned. It may
                # also be true or false already, assigned but not yet processed.
                unit = packed & XOR_MASK
                if lit_state[unit] != 0:
                    continue
                mask = ZERO
                if masked:
                    for position in range(starts[clause], starts[clause + 1]):
                        if slots[position] != unit:
                            mask |= mask_of[slots[position] >> ONE]
                lit_state[unit] = 1
                lit_state[unit ^ ONE] = -1
                mask_of[unit >> ONE] = mask
                trail[trail_size] = unit
                trail_size += 1
                if trace and n_events < max_events:
                    kinds[n_events] = EVENT_PROPAGATE
                    events[EVENT_LITERAL, n_events] = index_literal(unit)
                    events[EVENT_CLAUSE, n_events] = clause
                    events[EVENT_LEVEL, n_events] = level
                    masks[n_events] = mask
                n_events += 1
                n_propagations += 1

        if conflict >= 0:
            if level == 0:
                status = STATUS_UNSAT
                refuted = conflict_mask
                break

            # Backtrack: undo level `level`, newest first, then assert the decision's negation
            # one level lower with the conflict's mask.
            keep = level_start[level]
            for position in range(trail_size - 1, keep - 1, -1):
                index = trail[position]
                if position < qhead:
                    for slot in range(offsets[index], offsets[index + ONE]):
                        clause = occurrences[slot]
                        n_true[clause] -= 1
                    negation = index ^ ONE
                    for slot in range(offsets[negation], offsets[negation + ONE]):
                        clause = occurrences[slot]
                        free[clause] = (free[clause] ^ negation) + FREE_ONE
                lit_state[index] = 0
                lit_state[index ^ ONE] = 0
            trail_size = keep
            qhead = min(qhead, keep)

            flipped = -decision[level]
            level -= 1
            index = literal_index(flipped)
            lit_state[index] = 1
            lit_state[index ^ 1] = -1
            mask_of[index >> 1] = conflict_mask
            trail[trail_size] = index
            trail_size += 1
            if trace and n_events < max_events:
                kinds[n_events] = EVENT_BACKTRACK
                events[EVENT_LITERAL, n_events] = flipped
                events[EVENT_CLAUSE, n_events] = -1
                events[EVENT_LEVEL, n_events] = level
                masks[n_events] = conflict_mask
            n_events += 1
            n_backtracks += 1
            continue

        # Level 0: the formula's unit clauses first, then the cube literals, one at a time.
        while next_unit < n_clauses and starts[next_unit + 1] - starts[next_unit] != 1:
            next_unit += 1
        if next_unit < n_clauses:
            clause = next_unit
            next_unit += 1
            index = slots[starts[clause]]
            if lit_state[index] == 0:
                lit_state[index] = 1
                lit_state[index ^ ONE] = -1
                mask_of[index >> ONE] = ZERO
                trail[trail_size] = index
                trail_size += 1
                if trace and n_events < max_events:
                    kinds[n_events] = EVENT_PROPAGATE
                    events[EVENT_LITERAL, n_events] = index_literal(index)
                    events[EVENT_CLAUSE, n_events] = clause
                    events[EVENT_LEVEL, n_events] = 0
                    masks[n_events] = ZERO
                n_events += 1
                n_propagations += 1
            continue
        if next_assumption < cube.shape[0]:
            lit = cube[next_assumption]
            index = literal_index(lit)
            bit = ONE << np.uint64(next_assumption)
            next_assumption += 1
            if lit_state[index] < 0:
                status = STATUS_UNSAT
                refuted = bit | mask_of[index >> 1]
                if trace and n_events < max_events:
                    kinds[n_events] = EVENT_CONFLICT
                    events[EVENT_LITERAL, n_events] = lit
                    events[EVENT_CLAUSE, n_events] = -1
                    events[EVENT_LEVEL, n_events] = 0
                    masks[n_events] = refuted
                n_events += 1
                n_conflicts += 1
                break
            if lit_state[index] == 0:
                lit_state[index] = 1
                lit_state[index ^ 1] = -1
                mask_of[index >> 1] = bit
                trail[trail_size] = index
                trail_size += 1
                if trace and n_events < max_events:
                    kinds[n_events] = EVENT_ASSUME
                    events[EVENT_LITERAL, n_events] = lit
                    events[EVENT_CLAUSE, n_events] = -1
                    events[EVENT_LEVEL, n_events] = 0
                    masks[n_events] = bit
                n_events += 1
            continue

        # Jeroslow-Wang: `clause_weight[c]` is 2^-free[c] for an unsatisfied clause and 0 for a
        # satisfied one. The general loop sums each literal's score in clause order, as the
        # plain definition does, so that inexact sums round the same way.
        unsatisfied = 0
        if bit_weights:
            for clause in range(n_clauses):
                unsatisfied += n_true[clause] == 0
                width = free[clause] >> FREE_SHIFT
                weight_bits[clause] = (EXPONENT_BIAS - width) << MANTISSA_BITS \
                    if n_true[clause] == 0 else 0
        else:
            for clause in range(n_clauses):
                unsatisfied += n_true[clause] == 0
                clause_weight[clause] = weights[free[clause] >> FREE_SHIFT] * (n_true[clause] == 0)
        if unsatisfied == 0:
            status = STATUS_SAT
            break
        best = -1
        best_score = 0.0
        if exact_sums:
            # The order of the terms cannot change a sum here, so four accumulators shorten
            # the chain of dependent adds, and only the winner's two scores are summed apart.
            for var in range(np.uint64(n_vars)):
                positive_index = var << ONE
                if lit_state[positive_index] != 0:
                    continue
                slot = offsets[positive_index]
                end = offsets[positive_index + TWO]
                first = 0.0
                second = 0.0
                third = 0.0
                fourth = 0.0
                while slot + THREE < end:
                    first += clause_weight[occurrences[slot]]
                    second += clause_weight[occurrences[slot + ONE]]
                    third += clause_weight[occurrences[slot + TWO]]
                    fourth += clause_weight[occurrences[slot + THREE]]
                    slot += FOUR
                while slot < end:
                    first += clause_weight[occurrences[slot]]
                    slot += ONE
                total = (first + second) + (third + fourth)
                if total > best_score:
                    best = np.int64(var)
                    best_score = total
            if best >= 0:
                positive_index = np.uint64(best) << ONE
                positive = 0.0
                negative = 0.0
                for slot in range(offsets[positive_index], offsets[positive_index + ONE]):
                    positive += clause_weight[occurrences[slot]]
                for slot in range(offsets[positive_index + ONE], offsets[positive_index + TWO]):
                    negative += clause_weight[occurrences[slot]]
                scores[positive_index] = positive
                scores[positive_index + ONE] = negative
        else:
            for var in range(np.uint64(n_vars)):
                positive_index = var << ONE
                positive = 0.0
                negative = 0.0
                if lit_state[positive_index] == 0:
                    for slot in range(offsets[positive_index], offsets[positive_index + ONE]):
                        positive += clause_weight[occurrences[slot]]
                    for slot in range(offsets[positive_index + ONE],
                                      offsets[positive_index + TWO]):
                        negative += clause_weight[occurrences[slot]]
                scores[positive_index] = positive
                scores[positive_index + ONE] = negative
                if positive + negative > best_score:
                    best = np.int64(var)
                    best_score = positive + negative
        if max_decisions >= 0 and n_decisions >= max_decisions:
            status = STOPPED
            break

        if best >= 0:
            branch = best + 1 if scores[2 * best] >= scores[2 * best + 1] else -(best + 1)
        else:
            # Some clause is unsatisfied, so every score is 0 only when 2^-w underflowed to 0
            # (w > 1074) in all unsatisfied clauses. All variables then tie, and the smallest
            # unassigned one wins with the positive sign.
            branch = 1
            while lit_state[2 * branch - 2] != 0:
                branch += 1
        level += 1
        level_start[level] = trail_size
        decision[level] = branch
        index = literal_index(branch)
        lit_state[index] = 1
        lit_state[index ^ 1] = -1
        mask_of[index >> 1] = ZERO
        trail[trail_size] = index
        trail_size += 1
        if trace and n_events < max_events:
            kinds[n_events] = EVENT_DECIDE
            events[EVENT_LITERAL, n_events] = branch
            events[EVENT_CLAUSE, n_events] = -1
            events[EVENT_LEVEL, n_events] = level
            masks[n_events] = ZERO
        n_events += 1
        n_decisions += 1

    if n_events > max_events:
        status = STATUS_UNKNOWN
    state[STATE_STATUS] = status
    state[STATE_LEVEL] = level
    state[STATE_TRAIL_SIZE] = trail_size
    state[STATE_QHEAD] = qhead
    state[STATE_NEXT_UNIT] = next_unit
    state[STATE_NEXT_ASSUMPTION] = next_assumption
    state[STATE_EVENTS] = n_events
    state[STATE_DECISIONS] = n_decisions
    state[STATE_PROPAGATIONS] = n_propagations
    state[STATE_CONFLICTS] = n_conflicts
    state[STATE_BACKTRACKS] = n_backtracks
    state[STATE_REFUTED] = np.int64(refuted)
    return full
