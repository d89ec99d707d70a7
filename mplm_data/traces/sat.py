"""Render a 3-SAT formula in any trace format, and check a trace's answer.

`render_sat_trace(formula, fmt, tokenizer, depth=...)` is the entry point for `mplm` (cube and
conquer with preemption, `sat_mplm`), `fj` (one forked child per cube, `sat_fj`) and `cot` (one
serial DPLL run, `sat_cot`) traces. MPLM and FJ split the formula on `depth` variables
(`sat_plan.plan_cubes`); CoT ignores the depth. The result carries the trace, the schedule that
measured its costs and the split variables.

`sat_answer_check(formula, satisfiable)` is the check that `validate` runs last: exactly one
thread answers, it is `main`, a `sat` answer's model assigns every variable once and satisfies
every clause, and the answer agrees with the certified label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Callable

from mplm_data.generators.dimacs import Formula
from mplm_data.generators.errors import MplmDataError
from mplm_data.solvers.sat_labels import check_model
from .model import ErrorKind, ItemKind, Trace, TraceError
from .sat_cot import render_sat_cot
from .sat_fj import render_sat_fj
from .sat_mplm import render_sat_mplm
from .sat_plan import DEFAULT_MAX_EVENTS, CubePlan, plan_cubes, plan_serial
from .sat_words import COORDINATOR, SAT, UNSAT, parse_literals
from .sudoku import FORMATS, RenderedTrace
from .tokenizer import TraceTokenizer, project_tokenizer
from .validate import item_positions

DEFAULT_DEPTH = 2


@dataclass(frozen=True)
class RenderedSatTrace(RenderedTrace):
    """A rendered SAT trace, its schedule and the split variables (empty for CoT)."""

    variables: tuple[int, ...] = ()

    @property
    def preempted(self) -> int:
        """Number of threads that a preemption stopped."""
        return preempted_threads(self.trace)


def preempted_threads(trace: Trace) -> int:
    """Count the threads whose text ends with a preemption notice."""
    return sum(1 for thread in trace.threads
               if thread.items and thread.items[-1].kind is ItemKind.STOP)


def render_sat_trace(formula: Formula, fmt: str, tokenizer: TraceTokenizer | None = None, *,
                     depth: int = DEFAULT_DEPTH, split: Sequence[int] | None = None,
                     max_events: int = DEFAULT_MAX_EVENTS,
                     plan: CubePlan | None = None) -> RenderedSatTrace:
    """Render `formula` as an `mplm`, `fj` or `cot` trace.

    MPLM and FJ split on `depth` variables chosen by the solver's branching rule, or on `split`
    when given. A `plan` made beforehand replaces both, so that rendering two formats solves each
    cube once. Raises ValueError for an unknown format or an invalid depth or split, and
    MplmDataError when a DPLL run needs more than `max_events` events.
    """
    tokenizer = tokenizer or project_tokenizer()
    if fmt not in FORMATS:
        raise ValueError(f"trace format {fmt!r} is unknown; use one of {', '.join(FORMATS)}")

    if fmt == "cot":
        trace, schedule = render_sat_cot(formula, plan_serial(formula, max_events=max_events),
                                         tokenizer)
        return RenderedSatTrace(trace, schedule, ())

    if plan is None:
        plan = plan_cubes(formula, depth, split=split, max_events=max_events)
    renderer = render_sat_mplm if fmt == "mplm" else render_sat_fj
    trace, schedule = renderer(formula, plan, tokenizer)
    return RenderedSatTrace(trace, schedule, plan.variables)


def sat_answer_check(formula: Formula, satisfiable: bool,
                     tokenizer: TraceTokenizer | None = None) -> Callable[[Trace], None]:
    """Build the check that `main`, and no other thread, gives the right answer (see the module
    docstring)."""
    tokenizer = tokenizer or project_tokenizer()
    expected = SAT if satisfiable else UNSAT

    def check(trace: Trace) -> None:
        answering = [thread for thread in trace.threads if thread.answer is not None]
        if [thread.name for thread in answering] != [COORDINATOR]:
            names = ", ".join(thread.name for thread in answering) or "no thread"
            raise TraceError(ErrorKind.WRONG_ANSWER, COORDINATOR, -1,
                             f"{names} answers, but exactly one answer from {COORDINATOR} is "
                             f"expected")

        thread = answering[0]
        words = thread.answer
        position = item_positions(thread, tokenizer)[len(thread.items) - 1]
        if not words or words[0] != expected or (words[0] == UNSAT and len(words) > 1):
            raise TraceError(ErrorKind.WRONG_ANSWER, thread.name, position,
                             f"the answer is {' '.join(words)[:60]!r}, but the formula is "
                             f"{expected.upper()}, so the answer must be '{expected}'"
                             + (" and a model" if satisfiable else ""))
        if satisfiable:
            try:
                check_model(formula, parse_literals(words[1:]))
            except (ValueError, MplmDataError) as err:
                raise TraceError(ErrorKind.WRONG_ANSWER, thread.name, position,
                                 f"the answered model is wrong: {err}") from err
    return check
