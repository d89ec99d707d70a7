"""Traced DPLL: run the Numba solver on formulas and cubes and wrap the results as records.

`run_dpll` solves one formula under an optional cube of assumption literals and returns a
`DpllRecord` (format in `mplm_data.solvers.sat_derivation`). `run_dpll_batch` runs many
(formula, cube) jobs in one compiled call, and `run_dpll_cubes` runs every cube of one formula.
`choose_cube_variables` picks the split variables of a cube-and-conquer step with the same
Jeroslow-Wang rule the solver branches with, and `make_cubes` lists the 2^d cubes over them.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

import numpy as np

from mplm_data.generators.dimacs import Formula

from . import dpll_calls, dpll_kernels as kernels
from .sat_derivation import DpllRecord, DpllResult

# Events stored per run before it stops with UNKNOWN. Buffers grow on demand; each stored event
# takes 21 bytes.
DEFAULT_MAX_EVENTS = 2_000_000
# Masks are uint64, one bit per cube literal.
MAX_CUBE_LITERALS = 64
# 2^16 cubes per split at most.
MAX_CUBE_DEPTH = 16
# Results by kernel status value. A dict lookup costs far less than calling the enum.
_RESULTS = {int(result): result for result in DpllResult}
# The cube array of runs without a cube. The kernels never write to a cube.
_NO_CUBE = np.empty(0, dtype=np.int32)
# Clause indexes of live formulas by id(formula), each with a weak reference to its formula. The
# reference's callback drops the entry when the formula is collected, before its id can be
# reused.
_INDEXES: dict[int, tuple[weakref.ref, tuple[np.ndarray, ...]]] = {}


def run_dpll(formula: Formula, cube: Sequence[int] = (), *, max_events: int = DEFAULT_MAX_EVENTS,
             trace: bool = True) -> DpllRecord:
    """Solve `formula` with every literal of `cube` assumed true, recording events when `trace`.

    For an UNSAT result under a cube, `record.refuted_subset` lists the cube literals that the
    refutation used. The run stops with UNKNOWN after `max_events` events. The first run on a
    Formula object builds its arrays and clause index, and later runs on it reuse them.
    """
    _check_max_events(max_events)
    cube = _check_cube(formula, cube)
    cube_array = np.array(cube, dtype=np.int32) if cube else _NO_CUBE

    status, refuted, counts, kinds, events, masks, model = dpll_calls.solve_one(
        _clause_index(formula), cube_array, int(max_events), trace)
    return _build_record(formula.n_vars, cube, status, refuted, counts, kinds, events, masks,
                         model)


def run_dpll_cubes(formula: Formula, cubes: Sequence[Sequence[int]], *,
                   max_events: int = DEFAULT_MAX_EVENTS, trace: bool = True) -> list[DpllRecord]:
    """Solve `formula` under each cube in one compiled call; return one record per cube."""
    return run_dpll_batch([(formula, cube) for cube in cubes], max_events=max_events, trace=trace)


def run_dpll_batch(jobs: Sequence[tuple[Formula, Sequence[int]]], *,
                   max_events: int = DEFAULT_MAX_EVENTS, trace: bool = True) -> list[DpllRecord]:
    """Solve every (formula, cube) job in one compiled call; return the records in job order.

    Consecutive jobs that share one Formula object share its arrays and occurrence lists.
    """
    _check_max_events(max_events)
    cubes = [_check_cube(formula, cube) for formula, cube in jobs]

    formulas: list[Formula] = []
    job_formula = np.empty(len(jobs), dtype=np.int64)
    for job, (formula, _) in enumerate(jobs):
        if not formulas or formulas[-1] is not formula:
            formulas.append(formula)
        job_formula[job] = len(formulas) - 1

    arrays = [formula.to_arrays() for formula in formulas]
    literals = np.concatenate([np.empty(0, np.int32), *(lits for lits, _ in arrays)])
    starts, formula_starts = _stack_starts([starts for _, starts in arrays])
    n_vars = np.array([formula.n_vars for formula in formulas], dtype=np.int64)
    cube_literals = np.array([lit for cube in cubes for lit in cube], dtype=np.int32)
    cube_starts = np.zeros(len(cubes) + 1, dtype=np.int64)
    np.cumsum([len(cube) for cube in cubes], out=cube_starts[1:])

    (status, refuted, counts, event_starts, kinds, events, masks, model_starts,
     models) = dpll_calls.solve_batch(n_vars, literals, starts, formula_starts, job_formula,
                                      cube_literals, cube_starts, int(max_events), trace)

    # Each record gets copies of its rows, so that it does not keep the whole batch alive.
    records = []
    for job, cube in enumerate(cubes):
        rows = slice(event_starts[job], event_starts[job + 1])
        records.append(_build_record(
            formulas[job_formula[job]].n_vars, cube, int(status[job]), int(refuted[job]),
            counts[job].tolist(), kinds[rows].copy(), events[:, rows].copy(), masks[rows].copy(),
            models[model_starts[job]:model_starts[job + 1]]))
    return records


def _build_record(n_vars: int, cube: tuple[int, ...], status: int, refuted: int,
                  counts: Sequence[int], kinds: np.ndarray, events: np.ndarray, masks: np.ndarray,
                  model: np.ndarray) -> DpllRecord:
    """Wrap one run's kernel output. The rows of `events` become the record's literals, clauses
    and levels without a copy, and `counts` is in `kernels.COUNT_*` order."""
    result = _RESULTS[status]
    n_events, decisions, propagations, conflicts, backtracks = counts
    return DpllRecord.from_fields({
        "n_vars": n_vars, "cube": cube, "result": result,
        "model": tuple(model.tolist()) if result is DpllResult.SAT else None,
        "refuted_mask": refuted, "kinds": kinds, "literals": events[kernels.EVENT_LITERAL],
        "clauses": events[kernels.EVENT_CLAUSE], "levels": events[kernels.EVENT_LEVEL],
        "masks": masks, "decisions": decisions, "propagations": propagations,
        "conflicts": conflicts, "backtracks": backtracks, "n_events": n_events,
    })


def _clause_index(formula: Formula) -> tuple[np.ndarray, ...]:
    """Return `kernels.clause_index` of `formula`, built on the first call for this object."""
    key = id(formula)
    entry = _INDEXES.get(key)
    if entry is not None and entry[0]() is formula:
        return entry[1]

    literals, starts = formula.to_arrays()
    index = kernels.clause_index(formula.n_vars, literals, starts)
    _INDEXES[key] = (weakref.ref(formula, lambda _, key=key: _INDEXES.pop(key, None)), index)
    return index


def _check_max_events(max_events: int) -> None:
    if isinstance(max_events, bool) or not isinstance(max_events, (int, np.integer)) or max_events < 1:
        raise ValueError(f"max_events must be a positive integer, got {max_events!r}")


def _check_cube(formula: Formula, cube: Sequence[int]) -> tuple[int, ...]:
    if len(cube) == 0:
        return ()
    cube = tuple(int(lit) for lit in cube)
    if len(cube) > MAX_CUBE_LITERALS:
        raise ValueError(f"cube has {len(cube)} literals; at most {MAX_CUBE_LITERALS} fit in a "
                         f"uint64 dependency mask")
    for lit in cube:
        if lit == 0 or abs(lit) > formula.n_vars:
            raise ValueError(f"cube literal {lit} is invalid; literals must be non-zero with "
                             f"|literal| <= n_vars={formula.n_vars}")
    return cube


def _stack_starts(per_formula: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate clause start offsets of several formulas; return (starts, formula_starts)."""
    starts = [np.zeros(1, dtype=np.int64)]
    formula_starts = np.zeros(len(per_formula) + 1, dtype=np.int64)
    literal_offset = 0
    for index, formula in enumerate(per_formula):
        starts.append(formula[1:] + literal_offset)
        literal_offset += int(formula[-1])
        formula_starts[index + 1] = formula_starts[index] + formula.shape[0] - 1
    return np.concatenate(starts), formula_starts


def choose_cube_variables(formula: Formula, depth: int) -> tuple[int, ...]:
    """Pick `depth` split variables for cube-and-conquer, best first.

    After unit propagation at level 0, variables are ranked by the Jeroslow-Wang score J(v) +
    J(-v) that the solver branches on (ties to the smallest variable). Fewer than `depth`
    variables come back when fewer unassigned variables occur in unsatisfied clauses, and none
    when propagation alone decides the formula.
    """
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or \
            not 1 <= depth <= MAX_CUBE_DEPTH:
        raise ValueError(f"depth must be an integer in [1, {MAX_CUBE_DEPTH}], got {depth!r}")

    status, positive, negative = dpll_calls.first_branch_scores(_clause_index(formula))
    if status != kernels.STATUS_UNKNOWN:
        return ()
    scores = positive + negative
    ranked = sorted((var for var in range(1, formula.n_vars + 1) if scores[var] > 0),
                    key=lambda var: (-scores[var], var))
    return tuple(ranked[:depth])


def make_cubes(variables: Sequence[int]) -> list[tuple[int, ...]]:
    """List the 2^d cubes over `variables`: cube j negates variable i when bit d-1-i of j is set,
    so the all-positive cube comes first and the all-negative one last."""
    depth = len(variables)
    return [tuple(-var if j >> (depth - 1 - i) & 1 else var for i, var in enumerate(variables))
            for j in range(2 ** depth)]
