"""Logical Sudoku grader: solve a puzzle step by step and record the derivation.

`derive` solves the way a person does, one technique application per step, and after every step
starts again from the easiest technique:

1. naked single: an empty cell with one candidate left is filled;
2. hidden single: a digit with one candidate cell left in a unit is placed there;
3. locked candidates: pointing (a digit confined to one line within a box leaves the rest of that
   line) and claiming (a digit confined to one box within a line leaves the rest of that box);
4. naked pair: two cells of a unit with the same two candidates remove both digits from the
   unit's other cells;
5. hidden pair: two digits confined to the same two cells of a unit remove every other candidate
   from those cells;
6. guess: when nothing else applies, the empty cell with the fewest candidates (lowest cell on
   ties) gets its lowest candidate. A contradiction closes the branch, and a refutation removes
   the guessed digit in the parent branch, where solving continues. Digits of a cell are thus
   tried in ascending order, depth first.

Before each step the grader checks for a contradiction (an empty cell without candidates, or a
digit without a place in a unit). Within a technique, the first match in the fixed scan order of
`sudoku_techniques` is taken, so the derivation of a puzzle is always the same.

Fact and step conventions (premises, depths, `unit` = -1 for steps that name no unit) are those of
`mplm_data.solvers.sudoku_derivation`. For every removed candidate the grader keeps the fact that
removed it: the placement of a peer, or the technique's own elimination fact. Those are the
premises a later step cites.

A puzzle with several solutions gets the derivation of the first solution that depth-first
guessing reaches. Logic alone (`max_technique` below GUESS) never completes such a puzzle, so
`derive` returns None for it.
"""

from __future__ import annotations

import logging

import numpy as np

from mplm_data.generators.errors import InputError
from mplm_data.generators.sudoku_geometry import SYMBOLS, Geometry, check_givens
from .sudoku_derivation import Derivation, Fact, FactKind, Grade, Step, Technique
from .sudoku_techniques import (NO_UNIT, PRESENT, CandidateState, Match, find_contradiction,
                                find_guess, find_hidden_pair, find_hidden_single,
                                find_locked_candidates, find_naked_pair, find_naked_single,
                                layout_for)

logger = logging.getLogger(__name__)

# Logical techniques in the order they are tried; guessing comes after all of them.
_FINDERS = (
    (Technique.NAKED_SINGLE, find_naked_single),
    (Technique.HIDDEN_SINGLE, find_hidden_single),
    (Technique.LOCKED_CANDIDATES, find_locked_candidates),
    (Technique.NAKED_PAIR, find_naked_pair),
    (Technique.HIDDEN_PAIR, find_hidden_pair),
)


def derive(puzzle: np.ndarray, geometry: Geometry, *, max_technique: Technique = Technique.GUESS,
           max_steps: int | None = None) -> Derivation | None:
    """Solve `puzzle` step by step and return the derivation, or None when it is out of reach.

    `puzzle` is a flat grid (0 for a blank). The result is None when techniques up to
    `max_technique` stall before the grid is full, or when the solution takes more than
    `max_steps` steps. Raises InputError when a digit is given twice or the puzzle has no
    solution, and ValueError for an invalid `max_technique` or `max_steps`.

    NOTE: time and memory grow with the number of guesses. Six unique 25x25 puzzles with 300
    clues took 2,500 to 740,000 steps (0.3 to 93 s of CPU, about 0.13 ms per step), so pass
    `max_steps` when grading sparse large grids.
    """
    limit = _check_max_technique(max_technique)
    if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, int)
                                  or max_steps < 1):
        raise ValueError(f"max_steps must be a positive integer or None, got {max_steps!r}")
    grid = np.asarray(puzzle)
    check_givens(grid, geometry)

    grid = grid.astype(np.int8)
    state = CandidateState(layout_for(geometry), grid)
    finders = [finder for technique, finder in _FINDERS if technique <= limit]
    steps: list[Step] = []
    # Open guesses, innermost last: the state just before the guess, the cell and the digit.
    branches: list[tuple[CandidateState, int, int]] = []

    while state.empty_count:
        if max_steps is not None and len(steps) >= max_steps:
            logger.debug("stopped after %d steps with %d empty cells", len(steps), state.empty_count)
            return None

        conflict = find_contradiction(state)
        if conflict is not None:
            if not branches:
                raise InputError(f"the puzzle has no solution: {_describe(conflict, geometry)}; "
                                 f"check the givens")
            steps.append(Step(conflict.technique, conflict.unit, (),
                              _premises(state, conflict), len(branches)))
            state, cell, digit = branches.pop()
            state.eliminate(cell, digit)
            steps.append(Step(Technique.REFUTATION, NO_UNIT,
                              (Fact(FactKind.ELIMINATION, cell, digit + 1),),
                              (Fact(FactKind.PLACEMENT, cell, digit + 1),), len(branches)))
            continue

        match = _first_match(state, finders)
        if match is None:
            if limit < Technique.GUESS:
                logger.debug("techniques up to %s stall with %d empty cells",
                             limit.label, state.empty_count)
                return None
            cell, digit = find_guess(state)
            branches.append((state.copy(), cell, digit))
            state.place(cell, digit)
            steps.append(Step(Technique.GUESS, NO_UNIT, (Fact(FactKind.PLACEMENT, cell, digit + 1),),
                              (), len(branches)))
            continue

        steps.append(_apply(state, match, len(branches)))

    return Derivation(geometry=geometry, puzzle=grid, solution=state.grid.copy(), steps=tuple(steps))


def grade(puzzle: np.ndarray, geometry: Geometry) -> Grade:
    """Grade `puzzle`: the hardest technique its derivation uses, and its number of guesses."""
    derivation = derive(puzzle, geometry)
    return derivation.grade


def _check_max_technique(max_technique: Technique) -> Technique:
    allowed = [technique.label for technique in Technique if technique <= Technique.GUESS]
    try:
        limit = Technique(max_technique)
    except ValueError as err:
        raise ValueError(f"max_technique must be one of {allowed}, got {max_technique!r}") from err
    if limit > Technique.GUESS:
        raise ValueError(f"max_technique must be one of {allowed}, got {limit.label}; "
                         f"contradictions and refutations come with guess")
    return limit


def _first_match(state: CandidateState, finders: list) -> Match | None:
    for finder in finders:
        match = finder(state)
        if match is not None:
            return match
    return None


def _apply(state: CandidateState, match: Match, depth: int) -> Step:
    """Cite the premises of `match`, apply it to `state` and return its step."""
    premises = _premises(state, match)

    if match.placement is not None:
        cell, digit = match.placement
        state.place(cell, digit)
        conclusions: tuple[Fact, ...] = (Fact(FactKind.PLACEMENT, cell, digit + 1),)
    else:
        for cell, digit in match.eliminations:
            state.eliminate(cell, digit)
        conclusions = tuple(Fact(FactKind.ELIMINATION, cell, digit + 1)
                            for cell, digit in match.eliminations)
    return Step(match.technique, match.unit, conclusions, premises, depth)


def _premises(state: CandidateState, match: Match) -> tuple[Fact, ...]:
    """Turn the removed candidates that `match` cites into the facts that removed them.

    A fact cited several times (one placement removing a digit from several cells) appears once,
    at its first position.
    """
    cells = match.cited_cells.tolist()
    digits = match.cited_digits.tolist()
    sources = state.reason[match.cited_cells, match.cited_digits].tolist()

    # Tuples hash faster than Fact objects, whose dataclass __hash__ runs in Python.
    seen: set[tuple[FactKind, int, int]] = set()
    facts: list[Fact] = []
    for cell, digit, source in zip(cells, digits, sources):
        if source == PRESENT:
            raise RuntimeError(f"grader bug: candidate {digit + 1} of cell {cell} is cited as "
                               f"removed but is still present")
        if source >= 0:
            key = (FactKind.PLACEMENT, source, digit + 1)
        else:
            key = (FactKind.ELIMINATION, cell, digit + 1)
        if key not in seen:
            seen.add(key)
            facts.append(Fact(*key))
    return tuple(facts)


def _describe(conflict: Match, geometry: Geometry) -> str:
    if conflict.unit == NO_UNIT:
        cell = int(conflict.cited_cells[0])
        return f"cell {geometry.cell_name(cell)} has no candidate left"
    digit = SYMBOLS[int(conflict.cited_digits[0])]
    return f"digit {digit} has no place left in {geometry.unit_name(conflict.unit)}"
