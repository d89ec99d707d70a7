"""Fork-join Sudoku traces: a parent that holds the grid and forks one worker per box per round.

The parent thread `main` has the whole puzzle as its prompt. The derivation is cut into *rounds*:
a step joins the first round after every step it depends on, so the steps of one round are
independent of each other. A step depends on the steps that concluded its premises, a hidden
single also on every earlier placement in its unit (they decide which cells count as empty), and
locked candidates and pairs on every earlier step. Guesses, contradictions and refutations are
*barriers*: the parent writes them itself between rounds, and rounds after a barrier depend only
on facts concluded before it.

Each round the parent emits `<fork> b1 ... bn </fork>`; child `bK@R` (box K, round R) starts
with the parent's whole context as its prefix and the prompt `box bK`, writes the round's steps
whose first conclusion lies in its box (in derivation order, same words as chain of thought),
sends their conclusions to its parent (`<send> parent r1c2 = 3 ... </send>`, or `none`) and
halts. The parent receives the n results (`<recv>` n times: the join) and goes on. After the last
round it answers with the solution grid.
"""

from __future__ import annotations

from typing import Generator

from mplm_data.solvers.sudoku_derivation import Derivation, Fact, FactKind, Step, Technique
from . import protocol as p
from .model import Trace
from .schedule import (Action, Answer, Child, Emit, Fork, GeneratorProgram, Halt, Recv, Schedule,
                       Send, run_programs)
from .sudoku_words import fact_words, grid_words, problem_words, step_words
from .tokenizer import TraceTokenizer

FJ_THREAD = "main"
_BARRIERS = (Technique.GUESS, Technique.CONTRADICTION, Technique.REFUTATION)

Round = dict[int, list[Step]]


def plan_rounds(derivation: Derivation) -> list[Step | Round]:
    """Cut the derivation into barrier steps and rounds (box index -> steps of that box)."""
    geometry = derivation.geometry
    plan: list[Step | Round] = []
    rounds: list[Round] = []
    level_of: dict[Fact, int] = {}
    unit_levels: dict[int, int] = {}
    last_level = 0

    for step in derivation.steps:
        if step.technique in _BARRIERS:
            plan.extend(rounds)
            plan.append(step)
            rounds, level_of, unit_levels, last_level = [], {}, {}, 0
            continue

        level = 1 + max((level_of.get(fact, 0) for fact in step.premises), default=0)
        if step.technique is Technique.HIDDEN_SINGLE:
            level = max(level, 1 + unit_levels.get(step.unit, 0))
        elif step.technique is not Technique.NAKED_SINGLE:
            level = max(level, 1 + last_level)
        last_level = max(last_level, level)

        for fact in step.conclusions:
            level_of[fact] = level
            if fact.kind is FactKind.PLACEMENT:
                for unit in geometry.cell_units[fact.cell].tolist():
                    unit_levels[unit] = max(unit_levels.get(unit, 0), level)
        while len(rounds) < level:
            rounds.append({})
        box = geometry.box_of(step.conclusions[0].cell)
        rounds[level - 1].setdefault(box, []).append(step)

    plan.extend(rounds)
    return plan


def _worker(steps: list[Step], derivation: Derivation) -> Generator[Action, object, None]:
    geometry = derivation.geometry
    results: list[str] = []
    for step in steps:
        yield Emit(tuple(step_words(step, geometry)))
        for fact in step.conclusions:
            results += fact_words(fact, geometry)
    yield Send(p.GROUP_PARENT, tuple(results) or ("none",))
    yield Halt()


def _parent(plan: list[Step | Round], derivation: Derivation) -> Generator[Action, object, None]:
    geometry = derivation.geometry
    for entry in plan:
        if isinstance(entry, Step):
            yield Emit(tuple(step_words(entry, geometry)))
            continue

        children = tuple(Child(f"b{box + 1}", ("box", f"b{box + 1}"),
                               GeneratorProgram(_worker(entry.get(box, []), derivation)))
                         for box in range(geometry.n))
        yield Fork(children)
        for _ in children:
            yield Recv()
    yield Answer(tuple(grid_words(derivation.solution, geometry)))


def render_fj(derivation: Derivation, tokenizer: TraceTokenizer) -> tuple[Trace, Schedule]:
    """Render the derivation as fork-join rounds of box workers; return the trace and schedule."""
    plan = plan_rounds(derivation)
    prompt = tuple(problem_words(derivation.geometry, derivation.puzzle))
    roots = [(FJ_THREAD, prompt, GeneratorProgram(_parent(plan, derivation)))]
    return run_programs("sudoku", "fj", "box", roots, tokenizer)
