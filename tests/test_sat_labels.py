"""Tests for certified labels (sat_labels) and the DRUP checker (rup).

The checker is tested on hand-made proofs, on tampered solver proofs, and against the `drup`
package (a checker extracted from verified Why3 code) when it is installed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pysat.solvers import Solver

from mplm_data.generators.dimacs import Formula, parse_dimacs, read_dimacs
from mplm_data.generators.errors import InputError, MplmDataError
from mplm_data.generators.ksat import KsatConfig, generate_ksat
from mplm_data.solvers.rup import ProofStep, check_drup, parse_drup
from mplm_data.solvers.sat_labels import PROOF_FALLBACK, check_model, label_formula

# All four sign patterns over variables 1 and 2: the smallest 2-SAT refutation.
ALL_PAIRS = Formula(2, ((1, 2), (-1, 2), (1, -2), (-1, -2)))
PUBLIC_SAT = ["satlib_uf20-01.cnf", "satlib_uf50-01.cnf", "satlib_uf100-01.cnf"]
PUBLIC_UNSAT = ["satlib_uuf50-01.cnf", "satlib_uuf100-01.cnf"]


def _solver_proof(formula: Formula, solver: str) -> list[str]:
    with Solver(name=solver, bootstrap_with=formula.clauses, with_proof=True) as sat:
        assert not sat.solve()
        return sat.get_proof()


def _unsat_formula(n_vars: int, pair: int) -> Formula:
    return generate_ksat(KsatConfig(kind="sr", n_vars=n_vars), 0, 2 * pair).formula


# Labels.

def test_label_formula_small_unsat_has_checked_proof():
    formula = parse_dimacs("p cnf 2 3\n1 2 0\n2 0\n-2 0\n")

    label = label_formula(formula)

    assert label.text == "UNSAT"
    assert label.model is None
    assert label.proof_check.valid
    assert check_drup(formula, label.proof).valid


@pytest.mark.parametrize("solver", ["cadical153", "glucose4", "lingeling", "minisat22"])
@pytest.mark.parametrize("n_vars, seed", [(10, 0), (20, 1), (40, 2)])
def test_label_formula_planted_sat_model_checked(solver, n_vars, seed):
    formula = generate_ksat(KsatConfig(kind="planted", n_vars=n_vars), seed, 0).formula

    label = label_formula(formula, solver=solver)

    assert label.satisfiable
    assert len(label.model) == n_vars
    assert formula.unsatisfied_clauses(label.model) == []


@pytest.mark.parametrize("solver", ["cadical153", "glucose4", "maplecm", "minisat22", "maplesat"])
@pytest.mark.parametrize("n_vars, pair", [(10, 0), (30, 1)])
def test_label_formula_sr_unsat_proof_checked(solver, n_vars, pair):
    formula = _unsat_formula(n_vars, pair)

    label = label_formula(formula, solver=solver)

    assert not label.satisfiable
    assert label.proof_check.valid
    assert label.proof_check.lemmas >= 1


def test_label_formula_without_proof_support_uses_fallback():
    label = label_formula(ALL_PAIRS, solver="minisat22")

    assert label.solver == "minisat22"
    assert label.proof_solver == PROOF_FALLBACK


def test_label_formula_no_clauses_is_sat():
    label = label_formula(Formula(3, ()))

    assert label.satisfiable
    assert label.model == (-1, -2, -3)


def test_label_formula_zero_variables_has_empty_model():
    assert label_formula(Formula(0, ())).model == ()


def test_label_formula_unused_variables_set_false():
    label = label_formula(Formula(5, ((2,), (4, -4))))

    assert label.model[1] == 2
    assert label.model[0] == -1


@pytest.mark.parametrize("solver", ["cadical153", "glucose4"])
def test_label_formula_empty_clause_is_unsat(solver):
    formula = parse_dimacs("p cnf 2 2\n1 2 0\n0\n")

    label = label_formula(formula, solver=solver)

    assert not label.satisfiable
    assert label.proof_check.valid


def test_label_formula_unknown_solver_raises():
    with pytest.raises(ValueError, match="unknown python-sat solver 'fastest'"):
        label_formula(ALL_PAIRS, solver="fastest")


def test_check_model_rejects_falsifying_model():
    with pytest.raises(MplmDataError, match=r"falsifies 1 clauses, the first being clause 1 \(-1 2 0\)"):
        check_model(ALL_PAIRS, [1, -2])


def test_check_model_rejects_partial_model():
    with pytest.raises(MplmDataError, match="does not assign each of the variables 1..2"):
        check_model(ALL_PAIRS, [2])


@pytest.mark.parametrize("name", PUBLIC_SAT)
def test_label_formula_public_sat(public_data: Path, name):
    formula = read_dimacs(public_data / "sat" / name, strict=True)

    label = label_formula(formula)

    assert label.satisfiable
    check_model(formula, label.model)


@pytest.mark.parametrize("solver", ["cadical153", "glucose4"])
@pytest.mark.parametrize("name", PUBLIC_UNSAT)
def test_label_formula_public_unsat(public_data: Path, name, solver):
    formula = read_dimacs(public_data / "sat" / name, strict=True)

    label = label_formula(formula, solver=solver)

    assert not label.satisfiable
    assert label.proof_check.valid


# The RUP checker on hand-made proofs.

def test_check_drup_accepts_hand_proof():
    check = check_drup(ALL_PAIRS, ["2 0", "0"])

    assert check.valid
    assert check.lemmas == 2


def test_check_drup_rejects_non_rup_lemma():
    satisfiable = Formula(2, ((1, 2), (-1, 2), (1, -2)))

    check = check_drup(satisfiable, ["2 0", "-2 0", "0"])

    # "2" is RUP, but "-2" is not: it is false in the only model (1, 2).
    assert not check.valid
    assert check.failed_step == 1
    assert "(-2 0) is not RUP" in check.reason


def test_check_drup_requires_empty_clause():
    check = check_drup(ALL_PAIRS, ["2 0"])

    assert not check.valid
    assert check.reason == "the proof never derives the empty clause"


def test_check_drup_rejects_empty_clause_on_sat_formula():
    check = check_drup(Formula(2, ((1, 2), (-1, 2))), ["0"])

    assert not check.valid
    assert check.failed_step == 0


def test_check_drup_honours_deletion():
    valid = check_drup(ALL_PAIRS, ["2 0", "0"])
    deleted = check_drup(ALL_PAIRS, ["d 1 -2 0", "2 0", "0"])

    assert valid.valid
    # Without (1 -2) the clauses are satisfiable (1 false, 2 true), so the empty clause fails.
    assert not deleted.valid
    assert deleted.failed_step == 2
    assert deleted.deletions == 1


def test_check_drup_honours_unit_deletion():
    formula = Formula(2, ((1,), (-1, 2), (-2, -1)))

    assert check_drup(formula, ["0"]).valid
    assert not check_drup(formula, ["d 1 0", "0"]).valid


def test_check_drup_deletion_matches_literal_set():
    check = check_drup(ALL_PAIRS, ["d -2 1 0", "d 5 6 0", "2 0", "0"])

    assert check.deletions == 2
    assert check.unmatched_deletions == 1


def test_check_drup_ignores_steps_after_empty_clause():
    check = check_drup(ALL_PAIRS, ["2 0", "0", "1 0", "d 2 0"])

    assert check.valid
    assert check.lemmas == 2


def test_check_drup_accepts_tautology_and_new_variable():
    check = check_drup(ALL_PAIRS, ["3 -3 0", "2 5 0", "2 0", "0"])

    assert check.valid


def test_check_drup_formula_with_empty_clause():
    assert check_drup(Formula(1, ((1,), ())), ["0"]).valid


def test_check_drup_accepts_parsed_steps():
    steps = [ProofStep(False, (2,)), ProofStep(False, ())]

    assert check_drup(ALL_PAIRS, steps).valid


def test_parse_drup_several_steps_per_line():
    steps = parse_drup("c comment\n2 0 d 1\n2 0 0\n")

    assert steps == [ProofStep(False, (2,)), ProofStep(True, (1, 2)), ProofStep(False, ())]


@pytest.mark.parametrize("text, message", [
    ("1 x 0\n", "invalid proof token 'x'"),
    ("1 2 0\n3", "proof ends inside a step"),
    ("d\n", "proof ends inside a step"),
])
def test_parse_drup_rejects_malformed(text, message):
    with pytest.raises(InputError, match=message):
        parse_drup(text)


# The RUP checker on solver proofs, tampered or not.

@pytest.mark.parametrize("solver", ["cadical153", "glucose4", "lingeling"])
@pytest.mark.parametrize("n_vars, pair", [(10, 0), (20, 1), (30, 2)])
def test_check_drup_accepts_solver_proof(solver, n_vars, pair):
    formula = _unsat_formula(n_vars, pair)

    assert check_drup(formula, _solver_proof(formula, solver)).valid


@pytest.mark.parametrize("n_vars, pair", [(20, 0), (30, 1), (40, 2)])
def test_check_drup_rejects_truncated_proof(n_vars, pair):
    formula = _unsat_formula(n_vars, pair)
    proof = [line for line in _solver_proof(formula, "glucose4") if line.strip() != "0"]

    assert not check_drup(formula, proof).valid


@pytest.mark.parametrize("n_vars, pair", [(20, 0), (30, 1), (40, 2)])
def test_check_drup_rejects_proof_of_weakened_formula(n_vars, pair):
    # A proof for the formula with its last clause is not a proof without it (that one is SAT).
    formula = _unsat_formula(n_vars, pair)
    proof = _solver_proof(formula, "glucose4")
    weakened = Formula(formula.n_vars, formula.clauses[:-1])

    assert not check_drup(weakened, proof).valid


def _slow_check(formula: Formula, steps: list[ProofStep]) -> bool:
    """Plain-Python DRUP oracle: the same rules as rup.py, without counters or Numba."""
    database = [frozenset(clause) for clause in formula.clauses]
    for step in steps:
        if step.delete:
            if frozenset(step.clause) in database:
                database.remove(frozenset(step.clause))
            continue
        if not _propagates_to_conflict(database, {-lit for lit in step.clause}):
            return False
        if not step.clause:
            return True
        database.append(frozenset(step.clause))
    return False


def _propagates_to_conflict(database: list[frozenset[int]], true_literals: set[int]) -> bool:
    if any(-lit in true_literals for lit in true_literals):
        return True
    changed = True
    while changed:
        changed = False
        for clause in database:
            if clause & true_literals:
                continue
            free = [lit for lit in clause if -lit not in true_literals]
            if not free:
                return True
            if len(free) == 1:
                true_literals.add(free[0])
                changed = True
    return False


def _tamper(steps: list[ProofStep], kind: str, rng: np.random.Generator) -> list[ProofStep]:
    """Change one non-empty lemma: drop it, negate one of its literals, or drop its first literal."""
    tampered = list(steps)
    lemmas = [index for index, step in enumerate(steps) if not step.delete and step.clause]
    position = lemmas[int(rng.integers(len(lemmas)))]
    clause = list(steps[position].clause)
    if kind == "drop":
        del tampered[position]
        return tampered
    if kind == "negate":
        slot = int(rng.integers(len(clause)))
        clause[slot] = -clause[slot]
    elif kind == "shorten":
        clause = clause[1:]
    tampered[position] = ProofStep(False, tuple(clause))
    return tampered


def _balanced_unsat(index: int) -> Formula:
    # Odd items of a balanced uniform family are UNSAT; n = 50 gives proofs of 50 to 100 lemmas.
    return generate_ksat(KsatConfig(n_vars=50, balance=True), 0, index).formula


@pytest.mark.parametrize("kind", ["none", "drop", "negate", "shorten"])
@pytest.mark.parametrize("solver", ["cadical153", "glucose4"])
@pytest.mark.parametrize("index", [1, 3, 5, 7, 9, 11])
def test_check_drup_matches_slow_oracle(kind, solver, index):
    formula = _balanced_unsat(index)
    steps = parse_drup(_solver_proof(formula, solver))
    proof = steps if kind == "none" else _tamper(steps, kind, np.random.default_rng(index))

    assert check_drup(formula, proof).valid == _slow_check(formula, proof)


@pytest.mark.parametrize("kind", ["none", "drop", "negate", "shorten"])
@pytest.mark.parametrize("index", [1, 3, 5, 7, 9, 11])
def test_check_drup_agrees_with_drup_package(kind, index):
    drup = pytest.importorskip("drup")
    formula = _balanced_unsat(index)
    steps = [step for step in parse_drup(_solver_proof(formula, "glucose4")) if not step.delete]
    proof = steps if kind == "none" else _tamper(steps, kind, np.random.default_rng(index))

    ours = check_drup(formula, proof).valid
    outcome = drup.check_proof([list(clause) for clause in formula.clauses],
                               [list(step.clause) for step in proof]).outcome
    theirs = outcome == drup.Outcome.VALID

    # drup also accepts RAT lemmas, so it may accept what a RUP-only checker rejects (dropping a
    # lemma of item 11 leaves such a RAT lemma), but never the reverse.
    assert ours <= theirs
    if kind == "none":
        assert ours


def test_check_drup_rejects_tampered_proof():
    formula = _balanced_unsat(1)
    steps = parse_drup(_solver_proof(formula, "glucose4"))

    tampered = _tamper(steps, "shorten", np.random.default_rng(1))

    assert check_drup(formula, steps).valid
    assert not check_drup(formula, tampered).valid
