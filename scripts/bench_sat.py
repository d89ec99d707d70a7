"""Benchmark the traced DPLL solver against a plain recursive Python DPLL and python-sat minisat22.

All three run in one process on the same formulas: SATLIB uf50-01, uuf50-01, uf100-01 and
uuf100-01 from $MPLM_PUBLIC_DATA/sat (skipped when unset), plus generated uniform 3-SAT at
ratio 4.26 (one SAT and one UNSAT item at n = 50 and at n = 75), a planted n = 100 formula and
an SR(40) pair.

- traced DPLL: `run_dpll(formula)` end to end, with every event recorded (Numba kernels compiled
  by a warm-up run first). Repeated calls on one Formula reuse its arrays and clause index.
- first call: `run_dpll` on a fresh copy of the formula, which builds its arrays and clause
  index again (the copies are made before timing).
- Python DPLL: a plain recursive DPLL in this script with the same branching rule
  (two-sided Jeroslow-Wang, ties to the smallest variable, positive sign on ties). Each call
  simplifies the clause list, so unit propagation and branching reach the same nodes as the
  traced solver, and the decision counts must agree. A formula that exceeds --python-budget
  seconds is reported as a lower bound, with no extrapolation.
- kernel only: the compiled `solve_one` call on a clause index built beforehand, which shows how
  much of the traced DPLL time goes to the Python wrapper and the building of the record.
- minisat22: `Solver(name="minisat22", bootstrap_with=clauses)` plus `solve()`, construction
  included, like the first-call column of the traced DPLL.

A second table times the DRUP checker (`check_drup`) on the UNSAT formulas' proofs from glucose4
and cadical153, next to the `drup` package when it is installed. `drup` takes no deletions, so
it gets the proof's lemmas only.

Each time is the fastest of repeated runs (--repeats, --python-repeats), because other jobs on
a shared machine only ever add time.
Ratios: Python DPLL time / traced DPLL time (goal >= 500) and traced DPLL time / minisat22 time
(goal <= 20).

Usage: .venv/bin/python scripts/bench_sat.py [--repeats 21] [--python-repeats 3]
                                             [--python-budget 120]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np
from pysat.solvers import Solver

from mplm_data.generators.dimacs import Formula, read_dimacs
from mplm_data.generators.ksat import KsatConfig, generate_ksat
from mplm_data.solvers.dpll import DEFAULT_MAX_EVENTS, run_dpll
from mplm_data.solvers.dpll_calls import solve_one
from mplm_data.solvers.dpll_kernels import clause_index
from mplm_data.solvers.rup import check_drup, parse_drup
from mplm_data.solvers.sat_derivation import DpllResult

PUBLIC_NAMES = ("uf50-01", "uuf50-01", "uf100-01", "uuf100-01")
SPEEDUP_GOAL = 500.0
MINISAT_GOAL = 20.0


class BudgetExceeded(Exception):
    """The Python DPLL ran past its time budget."""


@dataclass
class PythonDpll:
    """Plain recursive DPLL over tuples of literals, with a deadline and a decision counter."""

    deadline: float
    decisions: int = 0

    def solve(self, clauses: list[tuple[int, ...]]) -> bool:
        if time.perf_counter() > self.deadline:
            raise BudgetExceeded
        clauses = propagate(clauses)
        if clauses is None:
            return False
        if not clauses:
            return True

        lit = jeroslow_wang(clauses)
        self.decisions += 1
        if self.solve(simplify(clauses, lit)):
            return True
        return self.solve(simplify(clauses, -lit))


def simplify(clauses: list[tuple[int, ...]], lit: int) -> list[tuple[int, ...]]:
    """Drop the clauses that `lit` satisfies and remove -lit from the others."""
    return [tuple(other for other in clause if other != -lit) for clause in clauses if lit not in clause]


def propagate(clauses: list[tuple[int, ...]]) -> list[tuple[int, ...]] | None:
    """Apply unit clauses until none is left; return None when a clause becomes empty."""
    while True:
        if any(not clause for clause in clauses):
            return None
        unit = next((clause[0] for clause in clauses if len(clause) == 1), None)
        if unit is None:
            return clauses
        clauses = simplify(clauses, unit)


def jeroslow_wang(clauses: list[tuple[int, ...]]) -> int:
    """Pick the literal with the traced solver's rule; `clauses` hold only unassigned literals."""
    positive: dict[int, float] = {}
    negative: dict[int, float] = {}
    for clause in clauses:
        weight = 2.0 ** -len(clause)
        for lit in clause:
            scores = positive if lit > 0 else negative
            scores[abs(lit)] = scores.get(abs(lit), 0.0) + weight
    best = min(positive.keys() | negative.keys(),
               key=lambda var: (-(positive.get(var, 0.0) + negative.get(var, 0.0)), var))
    return best if positive.get(best, 0.0) >= negative.get(best, 0.0) else -best


def best_seconds(function, repeats: int) -> float:
    """Return the fastest of `repeats` runs, the one least slowed by other jobs on the machine."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def first_call_seconds(formula: Formula, repeats: int) -> float:
    """Return the fastest `run_dpll` on `repeats` fresh copies of `formula`."""
    copies = [Formula(formula.n_vars, formula.clauses) for _ in range(repeats)]
    times = []
    for copy in copies:
        start = time.perf_counter()
        run_dpll(copy)
        times.append(time.perf_counter() - start)
    return min(times)


def kernel_call(formula: Formula):
    """Return a function that runs only the compiled solver on prepared arrays."""
    index = clause_index(formula.n_vars, *formula.to_arrays())
    cube = np.empty(0, dtype=np.int32)
    return lambda: solve_one(index, cube, DEFAULT_MAX_EVENTS, True)


def minisat(formula: Formula) -> bool:
    with Solver(name="minisat22", bootstrap_with=formula.clauses) as solver:
        return bool(solver.solve())


def load_formulas() -> list[tuple[str, Formula]]:
    formulas = []
    data = os.environ.get("MPLM_PUBLIC_DATA")
    if data and Path(data, "sat").is_dir():
        for name in PUBLIC_NAMES:
            formulas.append((name, read_dimacs(Path(data, "sat", f"satlib_{name}.cnf"), strict=True)))
    else:
        print("MPLM_PUBLIC_DATA is not set; the SATLIB formulas are skipped", file=sys.stderr)

    for n_vars in (50, 75):
        config = KsatConfig(n_vars=n_vars, balance=True)
        formulas.append((f"uniform{n_vars}-sat", generate_ksat(config, 0, 0).formula))
        formulas.append((f"uniform{n_vars}-unsat", generate_ksat(config, 0, 1).formula))
    formulas.append(("planted100", generate_ksat(KsatConfig(kind="planted", n_vars=100), 0, 0).formula))
    formulas.append(("sr40-unsat", generate_ksat(KsatConfig(kind="sr", n_vars=40), 0, 0).formula))
    formulas.append(("sr40-sat", generate_ksat(KsatConfig(kind="sr", n_vars=40), 0, 1).formula))
    return formulas


def describe_machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (f"{cpu}, {os.cpu_count()} CPUs, load average {load}; Python {platform.python_version()}, "
            f"numba {version('numba')}, python-sat {version('python-sat')}")


def bench_proofs(formulas: list[tuple[str, Formula]], repeats: int) -> int:
    """Print the DRUP checking table; return the number of proofs that failed a check."""
    try:
        import drup
    except ImportError:
        drup = None
        print("the drup package is not installed; its column stays empty", file=sys.stderr)

    print("| formula | proof solver | proof lines | lemmas | check_drup (ms) | drup package (ms) |")
    print("|---|---|---|---|---|---|")
    failures = 0
    for name, formula in formulas:
        for solver in ("glucose4", "cadical153"):
            with Solver(name=solver, bootstrap_with=formula.clauses, with_proof=True) as sat:
                sat.solve()
                proof = sat.get_proof()
            steps = parse_drup(proof)
            check = check_drup(formula, steps)
            ours = best_seconds(lambda: check_drup(formula, steps), repeats)
            theirs_text = ""
            if drup is not None:
                lemmas = [list(step.clause) for step in steps if not step.delete]
                clauses = [list(clause) for clause in formula.clauses]
                outcome = drup.check_proof(clauses, lemmas).outcome
                theirs = best_seconds(lambda: drup.check_proof(clauses, lemmas), max(1, repeats // 7))
                theirs_text = f"{theirs * 1e3:.1f}"
                failures += outcome != drup.Outcome.VALID
            failures += not check.valid
            print(f"| {name} | {solver} | {len(proof)} | {check.lemmas} | {ours * 1e3:.1f} "
                  f"| {theirs_text} |", flush=True)
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21, help="runs per traced DPLL and "
                        "minisat22 measurement; the fastest counts")
    parser.add_argument("--python-repeats", type=int, default=3,
                        help="runs per Python DPLL measurement; the fastest counts")
    parser.add_argument("--python-budget", type=float, default=120.0,
                        help="seconds allowed to the Python DPLL per formula")
    args = parser.parse_args()

    formulas = load_formulas()
    run_dpll(formulas[0][1])  # compile or load the Numba kernels

    print(describe_machine())
    print("| formula | vars | clauses | result | decisions | Python DPLL (s) | traced DPLL (ms) "
          "| first call (ms) | kernel only (ms) | minisat22 (ms) | Python / traced "
          "| traced / minisat22 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    speedups: dict[str, float] = {}
    slowdowns, failures = [], 0
    for name, formula in formulas:
        record = run_dpll(formula)
        traced = best_seconds(lambda: run_dpll(formula), args.repeats)
        first = first_call_seconds(formula, args.repeats)
        kernel = best_seconds(kernel_call(formula), args.repeats)
        reference = best_seconds(lambda: minisat(formula), args.repeats)
        if (record.result is DpllResult.SAT) != minisat(formula):
            print(f"{name}: traced DPLL and minisat22 disagree", file=sys.stderr)
            failures += 1

        python_seconds, python_text = math.inf, ""
        for _ in range(args.python_repeats):
            python = PythonDpll(deadline=time.perf_counter() + args.python_budget)
            start = time.perf_counter()
            try:
                python_result = python.solve(list(formula.clauses))
            except BudgetExceeded:
                python_seconds, python_text = args.python_budget, f"> {args.python_budget:.0f}"
                break
            python_seconds = min(python_seconds, time.perf_counter() - start)
            python_text = f"{python_seconds:.3f}"
            if python_result != (record.result is DpllResult.SAT) or python.decisions != record.decisions:
                print(f"{name}: Python DPLL gives {python_result} after {python.decisions} "
                      f"decisions, traced DPLL {record.result.name} after {record.decisions}",
                      file=sys.stderr)
                failures += 1
                break

        speedup = python_seconds / traced
        speedups[name] = speedup
        slowdowns.append(traced / reference)
        bound = ">= " if python_text.startswith(">") else ""
        print(f"| {name} | {formula.n_vars} | {formula.n_clauses} | {record.result.name} "
              f"| {record.decisions} | {python_text} | {traced * 1e3:.3f} | {first * 1e3:.3f} "
              f"| {kernel * 1e3:.3f} "
              f"| {reference * 1e3:.3f} "
              f"| {bound}{speedup:.0f} | {traced / reference:.1f} |", flush=True)

    print()
    failures += bench_proofs([(name, formula) for name, formula in formulas
                              if not minisat(formula)], args.repeats)

    goal_rows = {name: speedups[name] for name in PUBLIC_NAMES if name in speedups}
    if goal_rows:
        slowest = min(goal_rows, key=goal_rows.get)
        print(f"\nPython / traced on {', '.join(goal_rows)}: min {goal_rows[slowest]:.0f} "
              f"({slowest}), median {statistics.median(goal_rows.values()):.0f} "
              f"(goal >= {SPEEDUP_GOAL:.0f})")
    print(f"Python / traced on all formulas: min {min(speedups.values()):.0f}, median "
          f"{statistics.median(speedups.values()):.0f}")
    print(f"traced / minisat22: median {statistics.median(slowdowns):.1f}, max {max(slowdowns):.1f} "
          f"(goal <= {MINISAT_GOAL:.0f})")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
