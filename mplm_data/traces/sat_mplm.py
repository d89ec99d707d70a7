"""MPLM 3-SAT traces: cube and conquer with one persistent thread per cube and preemption.

Threads, in this order: `main`, then one thread per cube of the plan (see `sat_plan`), named by
its cube (`15&-5`, see `sat_words`).

- `main` has the prompt `cnf vars N clauses M split V... cubes K`, without the clauses. It
  receives the cube threads' results, and a refutation `refuted S` covers every cube that
  contains S. Once every cube is covered, `main` writes the answer `unsat`. The first
  `sat MODEL` it receives becomes its answer.
- A cube thread has the whole formula, `cube L...` and its groups as its prompt (the group named
  S holds the peers whose cube contains S, `cubes` every peer). It writes its DPLL events under
  its cube (`sat_words.event_words`), then:
  - with a model: `<send> main sat MODEL </send> <preempt> cubes </preempt> <halt>`;
  - with a refutation that used the cube literals S: `<send> main refuted S </send>`, then, when
    S is a proper subset of its cube, `<preempt> S </preempt>`, so that every peer whose cube
    contains S stops at once, and `<halt>`.

A preemption has an empty body because the target only needs to stop, and the sender's name in
the notice (`<stop> 15&5 </stop>`) tells which result stopped it.

The result goes to `main` before the preemption. Two threads whose preemptions complete in the
same step stop each other; since each one's result was already sent, `main` still hears a model
or a refutation that covers both. A thread stopped during its own send is covered by the
refutation of the thread that stopped it, or that thread sent a model.

The lockstep schedule decides when a preemption reaches a peer. The scheduler cuts the peer's
text at that step, so the rest of its DPLL events are never written: that is where MPLM saves
tokens over fork-join, whose children all run to the end.
"""

from __future__ import annotations

from typing import Generator

import numpy as np

from mplm_data.generators.dimacs import Formula
from mplm_data.solvers.sat_derivation import DpllRecord, DpllResult
from .model import Trace
from .sat_plan import CubePlan
from .sat_words import (COORDINATOR, CUBE, CUBES, SAT, SPLIT, UNSAT, covered,
                        cube_groups, cube_name, event_words, formula_header, formula_words,
                        literal_words, model_words, parse_literals, refuted_words, subset_group)
from .schedule import (Action, Answer, Delivery, Emit, GeneratorProgram, Halt, Preempt, Recv,
                       Schedule, Send, run_programs)
from .tokenizer import TraceTokenizer

ProgramBody = Generator[Action, Delivery | None, None]


def _main_program(plan: CubePlan) -> ProgramBody:
    uncovered = np.ones(len(plan.cubes), dtype=bool)
    while True:
        delivery = yield Recv()
        words = delivery.words
        if words[0] == SAT:
            yield Answer(words)
            return

        uncovered &= ~covered(plan.cubes, parse_literals(words[1:]))
        if not uncovered.any():
            yield Answer((UNSAT,))
            return


def _cube_program(cube: tuple[int, ...], record: DpllRecord, peers: bool) -> ProgramBody:
    yield Emit(event_words(record))

    if record.result is DpllResult.SAT:
        yield Send(COORDINATOR, model_words(record.model))
        if peers:
            yield Preempt(subset_group(()), ())
        yield Halt()
        return

    subset = record.refuted_subset
    yield Send(COORDINATOR, refuted_words(subset))
    if peers and len(subset) < len(cube):
        yield Preempt(subset_group(subset), ())
    yield Halt()


def main_prompt(formula: Formula, plan: CubePlan) -> tuple[str, ...]:
    """Prompt of the coordinator: the formula's size, the split variables and the cube count."""
    return (*formula_header(formula), SPLIT, *literal_words(plan.variables), CUBES,
            str(len(plan.cubes)))


def cube_prompt(formula: Formula, plan: CubePlan, cube: tuple[int, ...]) -> tuple[str, ...]:
    """Prompt of a cube thread: the formula, its cube and its groups."""
    return (*formula_words(formula), CUBE, *literal_words(cube), *cube_groups(cube, plan.cubes))


def render_sat_mplm(formula: Formula, plan: CubePlan,
                    tokenizer: TraceTokenizer) -> tuple[Trace, Schedule]:
    """Render the plan as an MPLM trace (see the module docstring); return it with its schedule."""
    peers = len(plan.cubes) > 1
    roots = [(COORDINATOR, main_prompt(formula, plan), GeneratorProgram(_main_program(plan)))]
    for cube, record in zip(plan.cubes, plan.records):
        roots.append((cube_name(cube), cube_prompt(formula, plan, cube),
                      GeneratorProgram(_cube_program(cube, record, peers))))
    return run_programs("sat", "mplm", "cube", roots, tokenizer)
