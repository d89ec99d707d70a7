"""The cube split of a SAT trace: split variables, their 2^d cubes and a DPLL record per cube.

`plan_cubes(formula, depth)` picks d split variables with the solver's own Jeroslow-Wang rule
(`choose_cube_variables`), lists the 2^d cubes over them (`make_cubes`: the all-positive cube
first) and runs the traced DPLL under every cube. MPLM and FJ traces of one formula render the
same plan, and CoT renders `plan_serial(formula)`, the run without a cube.

Fewer than d variables come back when fewer are left unassigned after level-0 propagation. None
come back when propagation alone decides the formula, and the plan then has the single empty
cube.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mplm_data.generators.dimacs import Formula
from mplm_data.generators.errors import MplmDataError
from mplm_data.solvers.dpll import (MAX_CUBE_DEPTH, choose_cube_variables, make_cubes, run_dpll,
                                    run_dpll_cubes)
from mplm_data.solvers.sat_derivation import DpllRecord, DpllResult

# Events one thread may write before rendering gives up. The CoT trace of SATLIB uuf100-01 has
# 4.9 mplm-v1 tokens per event, so 100 000 events are about 500 000 tokens in one thread.
DEFAULT_MAX_EVENTS = 100_000


@dataclass(frozen=True)
class CubePlan:
    """Split variables, the cubes over them in thread order, and the DPLL record of each cube."""

    variables: tuple[int, ...]
    cubes: tuple[tuple[int, ...], ...]
    records: tuple[DpllRecord, ...]


def _check_max_events(max_events: int) -> None:
    if isinstance(max_events, bool) or not isinstance(max_events, (int, np.integer)) or max_events < 1:
        raise ValueError(f"max_events must be a positive integer, got {max_events!r}")


def _check_split(formula: Formula, split: Sequence[int]) -> tuple[int, ...]:
    variables = tuple(int(var) for var in split)
    if len(variables) > MAX_CUBE_DEPTH:
        raise ValueError(f"split has {len(variables)} variables; at most {MAX_CUBE_DEPTH} are "
                         f"supported")
    out_of_range = any(not 1 <= var <= formula.n_vars for var in variables)
    if len(set(variables)) != len(variables) or out_of_range:
        raise ValueError(f"split must list distinct variables in 1..{formula.n_vars}, got "
                         f"{list(variables)}")
    return variables


def _check_finished(records: Sequence[DpllRecord], cubes: Sequence[tuple[int, ...]],
                    max_events: int) -> None:
    for record, cube in zip(records, cubes):
        if record.result is DpllResult.UNKNOWN:
            where = f"under the cube {' '.join(map(str, cube))}" if cube else "without a cube"
            raise MplmDataError(f"DPLL {where} needs more than max_events={max_events} events, "
                                f"so its trace would be too long; raise max_events, split deeper "
                                f"or use smaller formulas")


def plan_cubes(formula: Formula, depth: int = 2, *, split: Sequence[int] | None = None,
               max_events: int = DEFAULT_MAX_EVENTS) -> CubePlan:
    """Split `formula` on `depth` variables (or the given `split`) and solve every cube.

    Raises ValueError for an invalid depth or split, and MplmDataError when a cube's DPLL run
    needs more than `max_events` events.
    """
    _check_max_events(max_events)
    if split is None:
        variables = choose_cube_variables(formula, depth)
    else:
        variables = _check_split(formula, split)

    cubes = tuple(make_cubes(variables))
    records = tuple(run_dpll_cubes(formula, cubes, max_events=max_events))
    _check_finished(records, cubes, max_events)
    return CubePlan(variables, cubes, records)


def plan_serial(formula: Formula, *, max_events: int = DEFAULT_MAX_EVENTS) -> DpllRecord:
    """Solve `formula` without a cube; raises MplmDataError past `max_events` events."""
    _check_max_events(max_events)
    record = run_dpll(formula, max_events=max_events)
    _check_finished([record], [()], max_events)
    return record
