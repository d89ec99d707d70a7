"""Tests for the traced DPLL solver, its record format and cube-and-conquer helpers.

Results are compared with python-sat, every record is replayed by `check_record`, each decision
is recomputed by a plain-Python Jeroslow-Wang oracle, and refuted cube subsets are re-solved.
"""

from __future__ import annotations

import dataclasses
import gc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pysat.solvers import Solver

from mplm_data.generators.dimacs import Formula, read_dimacs
from mplm_data.generators.ksat import KsatConfig, generate_ksat
from mplm_data.solvers import dpll, dpll_kernels
from mplm_data.solvers.dpll import (
    MAX_CUBE_DEPTH,
    choose_cube_variables,
    make_cubes,
    run_dpll,
    run_dpll_batch,
    run_dpll_cubes,
)
from mplm_data.solvers.sat_derivation import DpllRecord, DpllResult, EventKind, check_record

PUBLIC_FILES = [("satlib_uf20-01.cnf", True), ("satlib_uf50-01.cnf", True),
                ("satlib_uuf50-01.cnf", False), ("satlib_uf100-01.cnf", True),
                ("satlib_uuf100-01.cnf", False)]


def _satisfiable(clauses, assumptions=()) -> bool:
    with Solver(name="cadical153", bootstrap_with=clauses) as solver:
        return solver.solve(assumptions=list(assumptions))


def _jeroslow_wang(formula: Formula, assignment: dict[int, int]) -> int:
    """Plain-Python branching oracle with the documented rule and tie-breaks."""
    positive = [0.0] * (formula.n_vars + 1)
    negative = [0.0] * (formula.n_vars + 1)
    for clause in formula.clauses:
        if any(assignment.get(abs(lit)) == lit for lit in clause):
            continue
        free = [lit for lit in clause if abs(lit) not in assignment]
        for lit in free:
            if lit > 0:
                positive[lit] += 2.0 ** -len(free)
            else:
                negative[-lit] += 2.0 ** -len(free)
    scores = [positive[var] + negative[var] for var in range(formula.n_vars + 1)]
    unassigned = [var for var in range(1, formula.n_vars + 1) if var not in assignment]
    best = max(unassigned, key=lambda var: (scores[var], -var))
    return best if positive[best] >= negative[best] else -best


def _check_decisions(formula: Formula, record) -> int:
    """Replay the trail and compare every decision with the oracle; return the decisions seen."""
    assignment: dict[int, int] = {}
    level_of: dict[int, int] = {}
    seen = 0
    for event in record.events():
        if event.kind is EventKind.DECIDE:
            assert event.literal == _jeroslow_wang(formula, assignment)
            seen += 1
        if event.kind is EventKind.BACKTRACK:
            for var in [var for var, level in level_of.items() if level > event.level]:
                del assignment[var], level_of[var]
        if event.kind in (EventKind.DECIDE, EventKind.PROPAGATE, EventKind.ASSUME, EventKind.BACKTRACK):
            assignment[abs(event.literal)] = event.literal
            level_of[abs(event.literal)] = event.level
    return seen


@st.composite
def formulas(draw, max_vars: int = 8, max_clauses: int = 40) -> Formula:
    n_vars = draw(st.integers(1, max_vars))
    literal = st.integers(1, n_vars).flatmap(lambda var: st.sampled_from([var, -var]))
    clauses = draw(st.lists(st.lists(literal, min_size=1, max_size=4), max_size=max_clauses))
    if draw(st.integers(0, 9)) == 0:
        clauses.insert(draw(st.integers(0, len(clauses))), [])
    return Formula(n_vars, tuple(tuple(clause) for clause in clauses))


@st.composite
def three_sat_formulas(draw) -> Formula:
    """3-SAT near the threshold (4 to 5 clauses per variable), where DPLL backtracks."""
    n_vars = draw(st.integers(3, 14))
    variables = st.lists(st.integers(1, n_vars), min_size=3, max_size=3, unique=True)
    signs = st.lists(st.sampled_from([1, -1]), min_size=3, max_size=3)
    clause = st.tuples(variables, signs).map(lambda pair: tuple(v * s for v, s in zip(*pair)))
    n_clauses = draw(st.integers(4 * n_vars, 5 * n_vars))
    return Formula(n_vars, tuple(draw(st.lists(clause, min_size=n_clauses, max_size=n_clauses))))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.one_of(formulas(), three_sat_formulas()))
def test_run_dpll_agrees_with_python_sat(formula):
    record = run_dpll(formula)

    assert record.result is (DpllResult.SAT if _satisfiable(formula.clauses) else DpllResult.UNSAT)
    if record.result is DpllResult.SAT:
        assert formula.unsatisfied_clauses(record.model) == []
    check_record(formula, record)
    assert _check_decisions(formula, record) == record.decisions


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.one_of(formulas(), three_sat_formulas()), st.data())
def test_run_dpll_refuted_subset_is_unsat(formula, data):
    cube = data.draw(st.lists(st.integers(1, formula.n_vars).flatmap(
        lambda var: st.sampled_from([var, -var])), max_size=6))

    record = run_dpll(formula, cube)

    assert record.result is (DpllResult.SAT if _satisfiable(formula.clauses, cube) else DpllResult.UNSAT)
    check_record(formula, record)
    if record.result is DpllResult.UNSAT:
        subset = record.refuted_subset
        assert set(subset) <= set(cube)
        assert not _satisfiable(formula.clauses, subset)
    else:
        assert set(cube) <= set(record.model)


@pytest.mark.parametrize("n_vars, index", [(20, 1), (30, 3), (40, 5), (50, 7)])
def test_run_dpll_cubes_refuted_subsets_sound(n_vars, index):
    formula = generate_ksat(KsatConfig(n_vars=n_vars, balance=True), 0, index).formula
    cubes = make_cubes(choose_cube_variables(formula, 4))

    records = run_dpll_cubes(formula, cubes)

    assert len(records) == 16
    assert all(record.result is DpllResult.UNSAT for record in records)
    for record in records:
        check_record(formula, record)
        assert not _satisfiable(formula.clauses, record.refuted_subset)


def test_run_dpll_refuted_subset_drops_unused_literals():
    # Clauses (1 2) and (1 -2) refute -1 alone; the cube literal 3 plays no part.
    formula = Formula(3, ((1, 2), (1, -2)))

    record = run_dpll(formula, (3, -1))

    assert record.result is DpllResult.UNSAT
    assert record.refuted_subset == (-1,)


@pytest.mark.parametrize("name, satisfiable", PUBLIC_FILES)
def test_run_dpll_public_satlib(public_data: Path, name, satisfiable):
    formula = read_dimacs(public_data / "sat" / name, strict=True)

    record = run_dpll(formula)

    assert record.result is (DpllResult.SAT if satisfiable else DpllResult.UNSAT)
    check_record(formula, record)
    if satisfiable:
        assert formula.unsatisfied_clauses(record.model) == []


@pytest.mark.parametrize("name", ["satlib_uf50-01.cnf", "satlib_uuf50-01.cnf"])
def test_run_dpll_public_decisions_follow_heuristic(public_data: Path, name):
    formula = read_dimacs(public_data / "sat" / name, strict=True)

    record = run_dpll(formula)

    assert _check_decisions(formula, record) == record.decisions


@pytest.mark.parametrize("long_length, index", [(1034, 0), (1035, 2), (1100, 4), (1100, 1)])
def test_run_dpll_long_clause_decisions_follow_heuristic(long_length, index):
    # Clause weights 2^-w come from float64 bits while w <= 1022 and from a lookup table above:
    # subnormal up to w = 1074 and 0 beyond. The long clause shares no variable with the 3-SAT
    # part over variables 1 to 12, so it still has all its literals free when that part is
    # satisfied, and its weight decides the last branch.
    three_sat = generate_ksat(KsatConfig(n_vars=12, balance=True), 4, index).formula
    long_clause = tuple(range(13, long_length + 1))
    formula = Formula(long_length, three_sat.clauses + (long_clause,))

    record = run_dpll(formula)

    assert record.result is (DpllResult.SAT if _satisfiable(formula.clauses) else DpllResult.UNSAT)
    check_record(formula, record)
    assert _check_decisions(formula, record) == record.decisions


def test_run_dpll_reuses_clause_index():
    formula = generate_ksat(KsatConfig(n_vars=20), 0, 0).formula
    copy = Formula(formula.n_vars, formula.clauses)

    first = run_dpll(formula)
    index = dpll._clause_index(formula)

    assert dpll._clause_index(formula) is index
    assert dpll._clause_index(copy) is not index
    np.testing.assert_array_equal(run_dpll(copy).literals, first.literals)
    key = id(formula)
    del formula
    gc.collect()
    assert key not in dpll._INDEXES


def test_run_dpll_record_has_every_field():
    record = run_dpll(Formula(2, ((1, 2), (-1,))))

    assert set(vars(record)) == {field.name for field in dataclasses.fields(DpllRecord)}


def test_run_dpll_empty_clause_conflicts_at_once():
    record = run_dpll(Formula(2, ((1, 2), (), (-1,))))

    assert record.result is DpllResult.UNSAT
    assert [(e.kind, e.clause, e.level) for e in record.events()] == [(EventKind.CONFLICT, 1, 0)]


def test_run_dpll_no_clauses_is_sat():
    record = run_dpll(Formula(3, ()))

    assert record.result is DpllResult.SAT
    assert record.model == (-1, -2, -3)
    assert record.n_events == 0


def test_run_dpll_small_unsat_events():
    # 1 2 0 / 2 0 / -2 0: unit 2 is propagated, then the unit clause -2 is falsified.
    record = run_dpll(Formula(2, ((1, 2), (2,), (-2,))))

    events = [(e.kind, e.literal, e.clause, e.level) for e in record.events()]
    assert events == [(EventKind.PROPAGATE, 2, 1, 0), (EventKind.CONFLICT, 0, 2, 0)]
    assert record.result is DpllResult.UNSAT


def test_run_dpll_backtrack_asserts_negated_decision():
    # Four clauses over 1 and 2 with every sign pattern: the first decision must fail.
    formula = Formula(2, ((1, 2), (-1, 2), (1, -2), (-1, -2)))

    record = run_dpll(formula)

    kinds = [event.kind for event in record.events()]
    assert kinds[:4] == [EventKind.DECIDE, EventKind.PROPAGATE, EventKind.CONFLICT,
                         EventKind.BACKTRACK]
    events = list(record.events())
    assert events[3].literal == -events[0].literal
    assert events[3].level == 0
    assert record.result is DpllResult.UNSAT


def test_run_dpll_cube_contradiction():
    record = run_dpll(Formula(2, ((1, 2),)), (1, -1))

    last = list(record.events())[-1]
    assert record.result is DpllResult.UNSAT
    assert (last.kind, last.literal, last.clause) == (EventKind.CONFLICT, -1, -1)
    assert record.refuted_subset == (1, -1)


def test_run_dpll_cube_literal_already_true_has_no_event():
    record = run_dpll(Formula(2, ((1,), (-1, 2))), (2,))

    assert [event.kind for event in record.events()] == [EventKind.PROPAGATE, EventKind.PROPAGATE]
    assert record.result is DpllResult.SAT


def test_run_dpll_duplicate_and_tautological_literals():
    formula = Formula(3, ((1, 1, 2), (-1, -1), (3, -3, 2), (-2, -2, -2, 3)))

    record = run_dpll(formula)

    assert record.result is DpllResult.SAT
    assert formula.unsatisfied_clauses(record.model) == []
    check_record(formula, record)


@pytest.mark.parametrize("max_events", [1, 5, 50])
def test_run_dpll_event_budget_gives_unknown(max_events):
    formula = generate_ksat(KsatConfig(n_vars=50, balance=True), 0, 1).formula

    record = run_dpll(formula, max_events=max_events)

    assert record.result is DpllResult.UNKNOWN
    assert record.kinds.shape[0] == max_events
    assert record.model is None


def test_run_dpll_untraced_counts_match_traced():
    formula = generate_ksat(KsatConfig(n_vars=40, balance=True), 0, 1).formula

    traced = run_dpll(formula)
    untraced = run_dpll(formula, trace=False)

    assert untraced.kinds.shape[0] == 0
    assert (untraced.result, untraced.decisions, untraced.conflicts, untraced.n_events) == \
        (traced.result, traced.decisions, traced.conflicts, traced.n_events)


def test_run_dpll_batch_matches_single_runs():
    first = generate_ksat(KsatConfig(n_vars=30, balance=True), 1, 0).formula
    second = generate_ksat(KsatConfig(n_vars=20, balance=True), 1, 1).formula
    jobs = [(first, ()), (first, (3, -4)), (second, ()), (first, (-1,)), (second, (2,))]

    batch = run_dpll_batch(jobs)

    for (formula, cube), record in zip(jobs, batch):
        single = run_dpll(formula, cube)
        assert record.result is single.result
        assert record.model == single.model
        assert record.refuted_mask == single.refuted_mask
        np.testing.assert_array_equal(record.literals, single.literals)
        np.testing.assert_array_equal(record.masks, single.masks)


@pytest.mark.parametrize("cube, message", [
    ((0,), "cube literal 0 is invalid"),
    ((4,), "cube literal 4 is invalid"),
    (tuple(range(1, 4)) * 22, "at most 64"),
])
def test_run_dpll_rejects_invalid_cube(cube, message):
    with pytest.raises(ValueError, match=message):
        run_dpll(Formula(3, ((1, 2),)), cube)


def test_run_dpll_rejects_invalid_max_events():
    with pytest.raises(ValueError, match="max_events must be a positive integer, got 0"):
        run_dpll(Formula(1, ()), max_events=0)


@pytest.mark.parametrize("n_vars, seed, depth", [(20, 0, 1), (50, 1, 3), (100, 2, 6)])
def test_choose_cube_variables_ranks_by_score(n_vars, seed, depth):
    formula = generate_ksat(KsatConfig(n_vars=n_vars), seed, 0).formula

    variables = choose_cube_variables(formula, depth)

    assert len(variables) == depth
    assert abs(_jeroslow_wang(formula, {})) == variables[0]
    assert len(set(variables)) == depth


def test_choose_cube_variables_skips_assigned():
    formula = Formula(4, ((1,), (-1, 2), (3, 4), (-3, 4)))

    # Variables 3 and 4 tie at 0.5, so the smaller comes first; 1 and 2 are fixed at level 0.
    assert choose_cube_variables(formula, 4) == (3, 4)


def test_choose_cube_variables_decided_at_root():
    assert choose_cube_variables(Formula(2, ((1,), (-1,))), 2) == ()


@pytest.mark.parametrize("depth", [0, MAX_CUBE_DEPTH + 1])
def test_choose_cube_variables_rejects_depth(depth):
    with pytest.raises(ValueError, match="depth must be an integer"):
        choose_cube_variables(Formula(2, ((1, 2),)), depth)


def test_make_cubes_order():
    assert make_cubes((5, 2)) == [(5, 2), (5, -2), (-5, 2), (-5, -2)]


@pytest.mark.parametrize("n_vars, seed", [(30, 0), (50, 1)])
def test_cubes_cover_satisfiable_formula(n_vars, seed):
    formula = generate_ksat(KsatConfig(kind="planted", n_vars=n_vars), seed, 0).formula

    records = run_dpll_cubes(formula, make_cubes(choose_cube_variables(formula, 3)))

    assert any(record.result is DpllResult.SAT for record in records)


def test_event_kind_values_match_kernels():
    assert EventKind.ASSUME == dpll_kernels.EVENT_ASSUME
    assert EventKind.DECIDE == dpll_kernels.EVENT_DECIDE
    assert EventKind.PROPAGATE == dpll_kernels.EVENT_PROPAGATE
    assert EventKind.CONFLICT == dpll_kernels.EVENT_CONFLICT
    assert EventKind.BACKTRACK == dpll_kernels.EVENT_BACKTRACK
    assert DpllResult.SAT == dpll_kernels.STATUS_SAT
    assert DpllResult.UNSAT == dpll_kernels.STATUS_UNSAT
    assert DpllResult.UNKNOWN == dpll_kernels.STATUS_UNKNOWN
