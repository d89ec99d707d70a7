"""Certified SAT/UNSAT labels from python-sat: checked models and checked DRUP proofs.

`label_formula` solves a formula with a python-sat solver and accepts the result only after an
independent check. A SAT result comes with a model, which must satisfy every clause. An UNSAT
result comes with a DRUP proof, which `mplm_data.solvers.rup` must accept.

Models list every variable 1..n_vars as a signed literal. python-sat leaves out variables that no
clause mentions, and those are set false. A formula with no clauses is SAT with the all-false
model, which is empty when n_vars is 0.

Proofs come from the labelling solver when it can log them. For other solvers (minisat22, for
example) the UNSAT result is re-derived with `PROOF_FALLBACK` and that proof is checked.
Some solvers detect UNSAT while loading the clauses and emit a proof with no empty clause. The
empty clause is then appended, and the checker verifies it by unit propagation like any lemma.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from pysat.solvers import Solver, SolverNames

from mplm_data.generators.dimacs import Formula
from mplm_data.generators.errors import MplmDataError

from .rup import ProofCheck, check_drup, parse_drup

logger = logging.getLogger(__name__)

# python-sat 1.9.dev24 solvers whose proofs pass `check_drup` on the SATLIB uuf100 benchmark.
# maplesat also logs proofs, but they fail the RUP check (the `drup` package rejects them too),
# so its UNSAT results are certified through PROOF_FALLBACK.
PROOF_SOLVERS = frozenset({
    "cadical103", "cadical153", "cadical195", "cadical300", "glucose3", "glucose4", "glucose42",
    "gluecard3", "gluecard4", "lingeling", "maplechrono", "maplecm",
})
PROOF_FALLBACK = "cadical153"


@dataclass(frozen=True)
class Label:
    """A checked result: a model for SAT, a DRUP proof and its check for UNSAT.

    `solver` produced the result and `proof_solver` the proof, which differ when the labelling
    solver cannot log proofs.
    """

    satisfiable: bool
    solver: str
    model: tuple[int, ...] | None = None
    proof: tuple[str, ...] | None = None
    proof_solver: str | None = None
    proof_check: ProofCheck | None = None

    @property
    def text(self) -> str:
        """`SAT` or `UNSAT`."""
        return "SAT" if self.satisfiable else "UNSAT"


def check_model(formula: Formula, model: Iterable[int]) -> None:
    """Raise `MplmDataError` unless `model` assigns every variable once and satisfies every clause."""
    model = tuple(model)
    variables = sorted(abs(lit) for lit in model)
    if variables != list(range(1, formula.n_vars + 1)):
        raise MplmDataError(f"model does not assign each of the variables 1..{formula.n_vars} "
                            f"exactly once; it has {len(model)} literals")
    unsatisfied = formula.unsatisfied_clauses(model)
    if unsatisfied:
        first = unsatisfied[0]
        raise MplmDataError(f"model falsifies {len(unsatisfied)} clauses, the first being clause "
                            f"{first} ({' '.join(map(str, formula.clauses[first]))} 0)")


def label_formula(formula: Formula, solver: str = "cadical153") -> Label:
    """Solve `formula` with the python-sat solver `solver` and return the checked label.

    Raises `MplmDataError` when the model or the proof fails its check, which means a solver bug,
    and `ValueError` for an unknown solver name.
    """
    if not hasattr(SolverNames, solver):
        raise ValueError(f"unknown python-sat solver {solver!r}; use one of "
                         f"{sorted(name for name in vars(SolverNames) if not name.startswith('_'))}")

    with Solver(name=solver, bootstrap_with=formula.clauses, with_proof=solver in PROOF_SOLVERS) as sat:
        satisfiable = bool(sat.solve())
        if satisfiable:
            model = _full_model(sat.get_model() or [], formula.n_vars)
        elif solver in PROOF_SOLVERS:
            proof = sat.get_proof() or []

    if satisfiable:
        try:
            check_model(formula, model)
        except MplmDataError as err:
            raise MplmDataError(f"solver {solver!r} returned a wrong model: {err}; try another "
                                f"solver") from err
        return Label(True, solver, model=model)

    proof_solver = solver
    if solver not in PROOF_SOLVERS:
        proof_solver = PROOF_FALLBACK
        logger.debug("solver %s cannot log proofs; re-solving with %s", solver, proof_solver)
        with Solver(name=proof_solver, bootstrap_with=formula.clauses, with_proof=True) as sat:
            if sat.solve():
                raise MplmDataError(f"solvers disagree: {solver!r} reports UNSAT but "
                                    f"{proof_solver!r} reports SAT")
            proof = sat.get_proof() or []

    steps = parse_drup(proof, source=f"{proof_solver} proof")
    if not any(not step.delete and not step.clause for step in steps):
        proof = [*proof, "0"]
        steps = parse_drup(proof, source=f"{proof_solver} proof")
    check = check_drup(formula, steps)
    if not check.valid:
        raise MplmDataError(f"the DRUP proof from {proof_solver!r} failed the check: "
                            f"{check.reason}; try another solver")
    return Label(False, solver, proof=tuple(proof), proof_solver=proof_solver, proof_check=check)


def _full_model(model: list[int], n_vars: int) -> tuple[int, ...]:
    values = {abs(lit): lit for lit in model if abs(lit) <= n_vars}
    return tuple(values.get(var, -var) for var in range(1, n_vars + 1))
