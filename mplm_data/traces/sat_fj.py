"""Fork-join 3-SAT traces: a parent that splits the formula and forks one child per cube.

The parent `main` has the whole formula as its prompt (`cnf vars N clauses M` and the clauses).
It writes `split V...`, the split variables of the plan (see `sat_plan`), and forks one child per
cube, `<fork> 15&5 15&-5 -15&5 -15&-5 </fork>`. Child `15&-5@1` starts with the parent's whole
context as its prefix and the prompt `cube 15 -5`. It writes its DPLL events under the cube
(`sat_words.event_words`), sends `sat MODEL` or `refuted S` to `parent` and halts.

Every child runs to the end; nothing stops a child whose cube another child's refutation already
covers. The parent receives the 2^d results (the join) and answers the first model it received,
or `unsat` when every child refuted its cube.
"""

from __future__ import annotations

from typing import Generator

from mplm_data.generators.dimacs import Formula
from mplm_data.solvers.sat_derivation import DpllRecord, DpllResult
from . import protocol as p
from .model import Trace
from .sat_plan import CubePlan
from .sat_words import (COORDINATOR, CUBE, SAT, SPLIT, UNSAT, cube_name, event_words,
                        formula_words, literal_words, model_words, refuted_words)
from .schedule import (Action, Answer, Child, Delivery, Emit, Fork, GeneratorProgram, Halt, Recv,
                       Schedule, Send, run_programs)
from .tokenizer import TraceTokenizer

ProgramBody = Generator[Action, Delivery | None, None]


def _child_program(record: DpllRecord) -> ProgramBody:
    yield Emit(event_words(record))
    if record.result is DpllResult.SAT:
        yield Send(p.GROUP_PARENT, model_words(record.model))
    else:
        yield Send(p.GROUP_PARENT, refuted_words(record.refuted_subset))
    yield Halt()


def _parent_program(plan: CubePlan) -> ProgramBody:
    yield Emit((SPLIT, *literal_words(plan.variables)))
    yield Fork(tuple(Child(cube_name(cube), (CUBE, *literal_words(cube)),
                           GeneratorProgram(_child_program(record)))
                     for cube, record in zip(plan.cubes, plan.records)))

    answer: tuple[str, ...] | None = None
    for _ in plan.cubes:
        delivery = yield Recv()
        if answer is None and delivery.words[0] == SAT:
            answer = delivery.words
    yield Answer(answer if answer is not None else (UNSAT,))


def render_sat_fj(formula: Formula, plan: CubePlan,
                  tokenizer: TraceTokenizer) -> tuple[Trace, Schedule]:
    """Render the plan as a fork-join trace (see the module docstring); return it with its schedule."""
    roots = [(COORDINATOR, formula_words(formula), GeneratorProgram(_parent_program(plan)))]
    return run_programs("sat", "fj", "cube", roots, tokenizer)
