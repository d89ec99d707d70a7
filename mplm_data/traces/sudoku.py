"""Render a Sudoku derivation in any trace format, and check a trace's answer.

`render_trace(derivation, fmt, tokenizer, decomposition=..., hypotheses=...)` is the one entry
point for `mplm`, `fj` and `cot` traces; it returns the trace with the schedule that measured its
costs. `answer_grid` assembles the grid a trace answers, and `answer_check` turns the solution
into the check that `validate` runs last.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from mplm_data.generators.sudoku_geometry import Geometry
from mplm_data.solvers.sudoku_derivation import Derivation
from .model import ErrorKind, Trace, TraceError
from .schedule import Costs, Schedule
from .sudoku_cot import render_cot
from .sudoku_fj import render_fj
from .sudoku_mplm import MAX_HYPOTHESES, render_mplm
from .sudoku_words import cell_word, parse_cell, parse_grid_words
from .tokenizer import TraceTokenizer, project_tokenizer
from .validate import item_positions

FORMATS = ("mplm", "fj", "cot")


@dataclass(frozen=True)
class RenderedTrace:
    """A rendered trace with the schedule its costs come from."""

    trace: Trace
    schedule: Schedule

    @property
    def costs(self) -> Costs:
        """The trace's costs."""
        return self.schedule.costs


def render_trace(derivation: Derivation, fmt: str, tokenizer: TraceTokenizer | None = None, *,
                 decomposition: str = "cell", hypotheses: bool = False,
                 max_hypotheses: int = MAX_HYPOTHESES) -> RenderedTrace:
    """Render `derivation` as an `mplm`, `fj` or `cot` trace.

    `decomposition`, `hypotheses` and `max_hypotheses` apply to MPLM only (FJ always forks box
    workers and CoT has one thread). Raises NotExpressibleError when an MPLM decomposition cannot
    express the derivation, and ValueError for an unknown format or decomposition.
    """
    tokenizer = tokenizer or project_tokenizer()
    if fmt == "mplm":
        trace, schedule = render_mplm(derivation, tokenizer, decomposition=decomposition,
                                      hypotheses=hypotheses, max_hypotheses=max_hypotheses)
    elif fmt == "fj":
        trace, schedule = render_fj(derivation, tokenizer)
    elif fmt == "cot":
        trace, schedule = render_cot(derivation, tokenizer)
    else:
        raise ValueError(f"trace format {fmt!r} is unknown; use one of {', '.join(FORMATS)}")
    return RenderedTrace(trace, schedule)


def _answers(trace: Trace, puzzle: np.ndarray, geometry: Geometry,
             tokenizer: TraceTokenizer) -> tuple[np.ndarray, dict[int, tuple[str, int]]]:
    """Assemble the answered grid and, per answered cell, the (thread, token position) of its answer."""
    grid = np.asarray(puzzle, dtype=np.int16).copy()
    owners: dict[int, tuple[str, int]] = {}
    for thread in trace.threads:
        words = thread.answer
        if words is None:
            continue
        position = item_positions(thread, tokenizer)[len(thread.items) - 1]

        full = parse_grid_words(words, geometry)
        own_cell = parse_cell(thread.name, geometry)
        if full is not None:
            assignments = list(enumerate(full.tolist()))
        elif len(words) == 1 and own_cell is not None and words[0].isdigit():
            assignments = [(own_cell, int(words[0]))]
        else:
            assignments = _pairs(words, geometry, thread.name, position)

        for cell, digit in assignments:
            if not 1 <= digit <= geometry.n:
                raise TraceError(ErrorKind.WRONG_ANSWER, thread.name, position,
                                 f"the answer gives {cell_word(geometry, cell)} the digit {digit}, "
                                 f"outside 1..{geometry.n}")
            if grid[cell] and grid[cell] != digit:
                raise TraceError(ErrorKind.WRONG_ANSWER, thread.name, position,
                                 f"the answer gives {cell_word(geometry, cell)} = {digit}, but "
                                 f"{grid[cell]} is given or answered elsewhere")
            grid[cell] = digit
            owners.setdefault(cell, (thread.name, position))
    return grid, owners


def answer_grid(trace: Trace, puzzle: np.ndarray, geometry: Geometry,
                tokenizer: TraceTokenizer | None = None) -> np.ndarray:
    """Assemble the grid a trace answers: the givens plus the answers of its threads.

    A thread answers one digit (a cell thread, for its own cell), `CELL D` pairs, or a whole grid.
    Raises TraceError (WRONG_ANSWER) when an answer is unreadable or two answers disagree.
    """
    return _answers(trace, puzzle, geometry, tokenizer or project_tokenizer())[0]


def _pairs(words: tuple[str, ...], geometry: Geometry, thread: str, position: int) -> list[tuple[int, int]]:
    cells = [parse_cell(word, geometry) for word in words[0::2]]
    digits = words[1::2]
    if len(words) % 2 or None in cells or not all(digit.isdigit() for digit in digits):
        raise TraceError(ErrorKind.WRONG_ANSWER, thread, position, "the answer is neither a digit, "
                         "a list of 'CELL D' pairs nor a whole grid")
    return [(cell, int(digit)) for cell, digit in zip(cells, digits)]


def answer_check(puzzle: np.ndarray, solution: np.ndarray, geometry: Geometry,
                 tokenizer: TraceTokenizer | None = None) -> Callable[[Trace], None]:
    """Build the check that a trace answers exactly `solution`, for `validate(answer_check=...)`."""
    counter = tokenizer or project_tokenizer()

    def check(trace: Trace) -> None:
        grid, owners = _answers(trace, puzzle, geometry, counter)
        missing = np.flatnonzero(grid == 0)
        if missing.size:
            raise TraceError(ErrorKind.WRONG_ANSWER, "-", -1, f"no thread answers cell "
                             f"{cell_word(geometry, int(missing[0]))} ({missing.size} cells "
                             f"unanswered)")
        wrong = np.flatnonzero(grid != np.asarray(solution))
        if wrong.size:
            cell = int(wrong[0])
            thread, position = owners.get(cell, ("-", -1))
            raise TraceError(ErrorKind.WRONG_ANSWER, thread, position,
                             f"the answer has {cell_word(geometry, cell)} = {grid[cell]}, but the "
                             f"solution has {int(solution[cell])}")
    return check


def hypothesis_count(trace: Trace) -> int:
    """Number of hypothesis threads (`h1`, `h2`, ...) in an MPLM trace."""
    return sum(1 for thread in trace.threads if thread.prompt[:1] == ("hypothesis",))
