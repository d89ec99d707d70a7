"""Chain-of-thought Sudoku traces: one thread that states every derivation step in order.

The thread `main` has the whole puzzle as its prompt (`sudoku n 9 box 3 x 3 grid ...`), writes
each step of the derivation with its premises (see `sudoku_words.step_words`), guesses,
contradictions and refutations included, and ends with `<answer> GRID </answer>`, the solution
written row by row. Its context grows with the number of steps times their premises, which is
what the MPLM decomposition avoids.
"""

from __future__ import annotations

from typing import Generator

from mplm_data.solvers.sudoku_derivation import Derivation
from .model import Trace
from .schedule import Action, Answer, Emit, GeneratorProgram, Schedule, run_programs
from .sudoku_words import grid_words, problem_words, step_words
from .tokenizer import TraceTokenizer

COT_THREAD = "main"


def _cot_program(derivation: Derivation) -> Generator[Action, object, None]:
    geometry = derivation.geometry
    for step in derivation.steps:
        yield Emit(tuple(step_words(step, geometry)))
    yield Answer(tuple(grid_words(derivation.solution, geometry)))


def render_cot(derivation: Derivation, tokenizer: TraceTokenizer) -> tuple[Trace, Schedule]:
    """Render the derivation as a one-thread chain of thought; return the trace and its schedule."""
    prompt = tuple(problem_words(derivation.geometry, derivation.puzzle))
    roots = [(COT_THREAD, prompt, GeneratorProgram(_cot_program(derivation)))]
    return run_programs("sudoku", "cot", "single", roots, tokenizer)
