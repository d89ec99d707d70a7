"""Tests for the random k-SAT generators: shapes, determinism, planted and SR guarantees."""

from __future__ import annotations

import pytest
from pysat.solvers import Solver

from mplm_data.generators.ksat import (
    KsatConfig,
    KsatKind,
    generate_ksat,
    generate_ksat_batch,
    planted_ksat,
    uniform_ksat,
)
from mplm_data.generators.errors import MplmDataError
from mplm_data.generators.seeding import item_rng


def _satisfiable(clauses) -> bool:
    # cadical153 is independent of the generators' default check solver (minisat22).
    with Solver(name="cadical153", bootstrap_with=clauses) as solver:
        return solver.solve()


@pytest.mark.parametrize("n_vars, k, ratio, seed", [
    (5, 3, 4.26, 0), (20, 3, 4.26, 1), (50, 3, 4.26, 2), (30, 4, 9.9, 3), (12, 2, 1.0, 4),
])
def test_uniform_ksat_shape(n_vars, k, ratio, seed):
    config = KsatConfig(n_vars=n_vars, k=k, ratio=ratio)

    formula = generate_ksat(config, seed, 0).formula

    assert formula.n_vars == n_vars
    assert formula.n_clauses == round(ratio * n_vars)
    assert all(len({abs(lit) for lit in clause}) == k for clause in formula.clauses)
    assert all(1 <= abs(lit) <= n_vars for clause in formula.clauses for lit in clause)
    assert len({frozenset(clause) for clause in formula.clauses}) == formula.n_clauses


def test_uniform_ksat_fills_every_distinct_clause():
    # 2 variables and k=2 allow exactly 4 distinct clauses; asking for all 4 must terminate.
    formula = uniform_ksat(2, 4, 2, item_rng(0, 0))

    assert sorted(formula.clauses) == [(-1, -2), (-1, 2), (1, -2), (1, 2)]


def test_uniform_ksat_uses_both_signs():
    formula = generate_ksat(KsatConfig(n_vars=50), 7, 0).formula
    literals = [lit for clause in formula.clauses for lit in clause]

    negative = sum(lit < 0 for lit in literals)

    assert 0.4 < negative / len(literals) < 0.6


@pytest.mark.parametrize("kind", ["uniform", "planted", "sr"])
def test_generate_ksat_deterministic(kind):
    config = KsatConfig(kind=kind, n_vars=15)

    first = generate_ksat(config, 11, 3)
    second = generate_ksat(config, 11, 3)

    assert first == second


@pytest.mark.parametrize("kind", ["uniform", "planted"])
def test_generate_ksat_items_differ(kind):
    config = KsatConfig(kind=kind, n_vars=15)

    formulas = {generate_ksat(config, 11, index).formula for index in range(8)}
    other_seed = generate_ksat(config, 12, 0).formula

    assert len(formulas) == 8
    assert other_seed not in formulas


def test_generate_ksat_batch_matches_single_items():
    config = KsatConfig(n_vars=10, balance=True)

    batch = list(generate_ksat_batch(config, 5, count=4, start=3))

    assert [item.index for item in batch] == [3, 4, 5, 6]
    assert batch[2] == generate_ksat(config, 5, 5)


def test_generate_ksat_n_clauses_overrides_ratio():
    formula = generate_ksat(KsatConfig(n_vars=10, ratio=4.26, n_clauses=17), 0, 0).formula

    assert formula.n_clauses == 17


@pytest.mark.parametrize("n_vars, k, seed", [(10, 3, 0), (40, 3, 1), (100, 3, 2), (20, 5, 3)])
def test_planted_ksat_hidden_assignment_satisfies(n_vars, k, seed):
    config = KsatConfig(kind="planted", n_vars=n_vars, k=k, ratio=6.0 if k == 3 else 20.0)

    item = generate_ksat(config, seed, 0)

    assert item.satisfiable is True
    assert sorted(abs(lit) for lit in item.planted) == list(range(1, n_vars + 1))
    assert item.formula.unsatisfied_clauses(item.planted) == []
    assert len(set(item.formula.clauses)) == item.formula.n_clauses


def test_planted_ksat_rejects_falsified_clauses():
    formula, hidden = planted_ksat(3, 7, 3, item_rng(1, 0))

    # Of the 8 clauses over 3 variables exactly one is falsified by the hidden assignment.
    assert tuple(-lit for lit in hidden) not in formula.clauses
    assert formula.n_clauses == 7


@pytest.mark.parametrize("n_vars, pair", [(5, 0), (10, 1), (20, 2), (40, 3)])
def test_sr_pair_differs_in_one_literal(n_vars, pair):
    config = KsatConfig(kind="sr", n_vars=n_vars)

    unsat = generate_ksat(config, 0, 2 * pair)
    twin = generate_ksat(config, 0, 2 * pair + 1)

    assert (unsat.pair, twin.pair) == (pair, pair)
    assert (unsat.satisfiable, twin.satisfiable) == (False, True)
    assert unsat.formula.clauses[:-1] == twin.formula.clauses[:-1]
    last_unsat, last_twin = unsat.formula.clauses[-1], twin.formula.clauses[-1]
    assert sum(a != b for a, b in zip(last_unsat, last_twin)) == 1
    assert sorted(map(abs, last_unsat)) == sorted(map(abs, last_twin))


@pytest.mark.parametrize("n_vars, pair", [(5, 0), (10, 1), (20, 2), (40, 3)])
def test_sr_pair_labels_match_independent_solver(n_vars, pair):
    config = KsatConfig(kind="sr", n_vars=n_vars)

    unsat = generate_ksat(config, 0, 2 * pair).formula
    twin = generate_ksat(config, 0, 2 * pair + 1).formula

    assert not _satisfiable(unsat.clauses)
    assert _satisfiable(twin.clauses)
    assert _satisfiable(unsat.clauses[:-1])


@pytest.mark.parametrize("seed", [0, 1])
def test_balanced_uniform_alternates_labels(seed):
    config = KsatConfig(n_vars=20, balance=True)

    items = list(generate_ksat_batch(config, seed, count=6))

    assert [item.satisfiable for item in items] == [True, False] * 3
    assert [_satisfiable(item.formula.clauses) for item in items] == [True, False] * 3


def test_unbalanced_uniform_label_unknown():
    assert generate_ksat(KsatConfig(n_vars=10), 0, 0).satisfiable is None


def test_kind_accepts_strings():
    assert KsatConfig(kind="planted").kind is KsatKind.PLANTED


@pytest.mark.parametrize("fields, message", [
    ({"kind": "random"}, "kind must be one of"),
    ({"n_vars": 0}, r"n_vars must be an integer in \[1, "),
    ({"n_vars": 2.5}, "n_vars must be an integer"),
    ({"k": 0}, r"k must be an integer in \[1, 20\], got 0"),
    ({"k": 21}, r"k must be an integer in \[1, 20\], got 21"),
    ({"ratio": 0.0}, r"ratio must be in \(0, "),
    ({"ratio": float("nan")}, "ratio must be in"),
    ({"n_clauses": -1}, "n_clauses must be an integer"),
    ({"n_vars": 3, "ratio": 3.0}, "n_clauses=9 exceeds the 8 distinct 3-clauses"),
    ({"kind": "planted", "n_vars": 3, "n_clauses": 8}, "exceeds the 7 distinct"),
    ({"kind": "planted", "balance": True}, "balance=True needs UNSAT formulas"),
    ({"kind": "sr", "n_clauses": 10}, "n_clauses must be None for kind='sr'"),
    ({"kind": "sr", "sr_bernoulli": 1.5}, r"sr_bernoulli must be in \[0, 1\]"),
    ({"kind": "sr", "sr_geometric": 0.0}, r"sr_geometric must be in \(0, 1\]"),
    ({"solver": "nosuchsolver"}, "solver must be a python-sat solver name"),
    ({"max_attempts": 0}, "max_attempts must be an integer"),
])
def test_ksat_config_rejects_invalid(fields, message):
    with pytest.raises(ValueError, match=message):
        KsatConfig(**fields)


def test_balanced_uniform_gives_up_after_max_attempts():
    # All 80 distinct 3-clauses over 5 variables: every draw is UNSAT, so item 0 (SAT) fails.
    config = KsatConfig(n_vars=5, n_clauses=80, balance=True, max_attempts=3)

    with pytest.raises(MplmDataError, match="no SAT formula in 3 attempts"):
        generate_ksat(config, 0, 0)
