"""MPLM Sudoku traces: persistent threads that solve the puzzle by passing placements.

Decompositions (`DECOMPOSITIONS`), with the threads they create in this order:

- `cell` (default): one thread per cell, `r1c1` ... `rNcN`. Prompt
  `cell r1c2 empty digits 9 <group> peers ... </group>` (or `cell r1c1 given 5 ...`); the peers
  group lists the cell's row, column and box peers. Programs: `sudoku_regions`.
- `box`: one thread per box, `b1` ... `bN`. Prompt `box b1 digits 9 cells r1c1 5 r1c2 . ...
  <group> peers ... </group>`; the peers are the boxes of the same band and stack, the only ones
  that share a row or column with it.
- `unit`: one thread per row, column and box, `r1` ... `rN`, `c1` ... `cN`, `b1` ... `bN`, all
  sending to `all`. Rows announce the givens and answer; columns and boxes halt when their cells
  are known.

The answer is the union of the threads' answers: each empty cell answers its digit (`cell`),
each box or row answers `CELL D` pairs for its blanks, and a hypothesis thread that fills the
grid answers the whole grid.

Puzzles whose derivation needs more than `max_technique(decomposition)` are either filtered out
before rendering (`derive(..., max_technique=max_technique(decomposition))` returns None), or
rendered with hypothesis threads (`hypotheses=True`, see `sudoku_hypotheses`), which guess where
the decomposition's rules stall.
"""

from __future__ import annotations

from mplm_data.generators.sudoku_geometry import Geometry
from mplm_data.solvers.sudoku_derivation import Derivation, Technique
from . import protocol as p
from .model import Trace
from .schedule import GeneratorProgram, Program, Schedule, run_programs
from .sudoku_hypotheses import (HYP_GROUP, check_outcomes, hypothesis_groups, hypothesis_program,
                                hypothesis_prompt, plan_hypotheses)
from .sudoku_regions import Region, empty_cell_program, given_cell_program, region_program
from .sudoku_words import BLANK, cell_word, check_expressible, max_technique, unit_word
from .tokenizer import TraceTokenizer

# Default cap on hypothesis threads per trace; each one keeps the whole grid in its context.
MAX_HYPOTHESES = 64

Root = tuple[str, tuple[str, ...], Program]


def _group(name: str, members: list[str] | tuple[str, ...]) -> list[str]:
    return [p.GROUP, name, *members, p.GROUP_END] if members else []


def _cell_roots(derivation: Derivation, hyp_names: list[str]) -> list[Root]:
    geometry = derivation.geometry
    dests = ("peers", HYP_GROUP) if hyp_names else ("peers",)
    roots: list[Root] = []
    for cell in range(geometry.cells):
        peers = [cell_word(geometry, peer) for peer in geometry.peers[cell].tolist()]
        digit = int(derivation.puzzle[cell])
        head = ["cell", cell_word(geometry, cell)]
        head += ["given", str(digit)] if digit else ["empty", "digits", str(geometry.n)]
        prompt = tuple(head + _group("peers", peers) + _group(HYP_GROUP, hyp_names))
        if digit:
            program = given_cell_program(digit, ("peers",))
        else:
            program = empty_cell_program(cell, geometry, dests)
        roots.append((cell_word(geometry, cell), prompt, GeneratorProgram(program)))
    return roots


def _cells_words(derivation: Derivation, cells: list[int]) -> list[str]:
    words = ["cells"]
    for cell in cells:
        digit = int(derivation.puzzle[cell])
        words += [cell_word(derivation.geometry, cell), str(digit) if digit else BLANK]
    return words


def _box_peers(geometry: Geometry, box: int) -> list[int]:
    band, stack = divmod(box, geometry.n // geometry.box_cols)
    per_row = geometry.n // geometry.box_cols
    return [other for other in range(geometry.n) if other != box
            and (other // per_row == band or other % per_row == stack)]


def _region_roots(derivation: Derivation, decomposition: str, hyp_names: list[str]) -> list[Root]:
    geometry = derivation.geometry
    n = geometry.n
    units = range(2 * n, 3 * n) if decomposition == "box" else range(3 * n)
    roots: list[Root] = []
    for unit in units:
        cells = geometry.units[unit].tolist()
        givens = {cell: int(derivation.puzzle[cell]) for cell in cells if derivation.puzzle[cell]}
        name = unit_word(geometry, unit)
        prompt = ["box" if decomposition == "box" else "unit", name, "digits", str(n)]
        prompt += _cells_words(derivation, cells)
        if decomposition == "box":
            peers = [unit_word(geometry, 2 * n + other) for other in _box_peers(geometry, unit - 2 * n)]
            prompt += _group("peers", peers) + _group(HYP_GROUP, hyp_names)
            dests = ("peers", HYP_GROUP) if hyp_names else ("peers",)
            region = Region(tuple(cells), (unit,), givens, dests, announce=True, answers=True,
                            given_dests=("peers",))
        else:
            is_row = unit < n
            region = Region(tuple(cells), (unit,), givens, (p.GROUP_ALL,), announce=is_row,
                            answers=is_row)
        roots.append((name, tuple(prompt), GeneratorProgram(region_program(region, geometry))))
    return roots


def _owners(geometry: Geometry, decomposition: str, cell: int) -> tuple[str, ...]:
    if decomposition == "cell":
        return (cell_word(geometry, cell),)
    units = geometry.cell_units[cell].tolist()
    if decomposition == "box":
        return (unit_word(geometry, units[2]),)
    return tuple(unit_word(geometry, unit) for unit in units)


def render_mplm(derivation: Derivation, tokenizer: TraceTokenizer, *, decomposition: str = "cell",
                hypotheses: bool = False, max_hypotheses: int = MAX_HYPOTHESES) -> tuple[Trace, Schedule]:
    """Render the derivation as an MPLM trace; return the trace and its schedule.

    Without `hypotheses`, raises NotExpressibleError when the derivation needs more than the
    decomposition expresses. With them, any puzzle is rendered, with one hypothesis thread per
    planned guess, up to `max_hypotheses`.
    """
    hidden = max_technique(decomposition) >= Technique.HIDDEN_SINGLE
    geometry = derivation.geometry
    if hypotheses:
        guesses = plan_hypotheses(derivation.puzzle, geometry, hidden=hidden, limit=max_hypotheses)
    else:
        check_expressible(derivation, decomposition)
        guesses = []
    hyp_names = [guess.name for guess in guesses]

    if decomposition == "cell":
        roots = _cell_roots(derivation, hyp_names)
    else:
        roots = _region_roots(derivation, decomposition, hyp_names)
    for guess in guesses:
        groups = hypothesis_groups(guesses, guess, _owners(geometry, decomposition, guess.cell))
        prompt = hypothesis_prompt(guesses, guess, derivation.puzzle, geometry, groups)
        program = hypothesis_program(guesses, guess, derivation.puzzle, geometry, hidden)
        roots.append((guess.name, prompt, GeneratorProgram(program)))

    trace, schedule = run_programs("sudoku", "mplm", decomposition, roots, tokenizer)
    check_outcomes(trace, guesses)
    return trace, schedule
