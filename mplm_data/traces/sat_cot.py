"""Chain-of-thought 3-SAT traces: one thread that writes the whole serial DPLL run.

The thread `main` has the whole formula as its prompt (`cnf vars N clauses M` and the clauses).
It writes every event of the DPLL run without a cube (`sat_plan.plan_serial`,
`sat_words.event_words`) and answers `sat MODEL` or `unsat`.
"""

from __future__ import annotations

from typing import Generator

from mplm_data.generators.dimacs import Formula
from mplm_data.solvers.sat_derivation import DpllRecord, DpllResult
from .model import Trace
from .sat_words import COORDINATOR, UNSAT, event_words, formula_words, model_words
from .schedule import Action, Answer, Emit, GeneratorProgram, Schedule, run_programs
from .tokenizer import TraceTokenizer


def _cot_program(record: DpllRecord) -> Generator[Action, object, None]:
    yield Emit(event_words(record))
    yield Answer(model_words(record.model) if record.result is DpllResult.SAT else (UNSAT,))


def render_sat_cot(formula: Formula, record: DpllRecord,
                   tokenizer: TraceTokenizer) -> tuple[Trace, Schedule]:
    """Render a run without a cube as a one-thread trace; return the trace and its schedule."""
    roots = [(COORDINATOR, formula_words(formula), GeneratorProgram(_cot_program(record)))]
    return run_programs("sat", "cot", "single", roots, tokenizer)
