"""Words that Sudoku traces are written in: names of cells and units, grids, facts and steps.

Names (1-based): cell `r3c7`; units `r3` (row), `c7` (column), `b2` (box, row-major). Digits are
decimal numbers `1`..`n`, so a 16x16 grid uses `1`..`16`. A grid is written row by row with `|`
between rows and `.` for a blank: `1 . 3 4 | 3 4 1 2 | ...`.

A fact is `r1c2 = 3` (placement) or `r1c2 not 3` (elimination). A derivation step is written

    TECHNIQUE [UNIT] CONCLUSION ... [from PREMISE ...] ;

for example `naked_single r1c2 = 2 from r1c1 = 1 r1c3 = 3 r1c4 = 4 ;` or
`hidden_single b1 r2c2 = 4 from ... ;`. A guess has no premises, and a contradiction has no
conclusion: `contradiction from ... ;`.

This module also maps each MPLM decomposition to the hardest technique its threads can apply.
"""

from __future__ import annotations

import numpy as np

from mplm_data.generators.errors import MplmDataError
from mplm_data.generators.sudoku_geometry import Geometry
from mplm_data.solvers.sudoku_derivation import Derivation, Fact, FactKind, Step, Technique

BLANK = "."
ROW_BREAK = "|"
END_STEP = ";"
PLACED = "="
NOT = "not"
FROM = "from"

# Hardest non-guessing technique each decomposition's threads apply; a derivation that needs more
# must be filtered out (derive(..., max_technique=...) returns None) or use hypothesis threads.
DECOMPOSITION_TECHNIQUE = {
    "cell": Technique.NAKED_SINGLE,
    "box": Technique.NAKED_SINGLE,
    "unit": Technique.HIDDEN_SINGLE,
}
DECOMPOSITIONS = tuple(DECOMPOSITION_TECHNIQUE)


class NotExpressibleError(MplmDataError):
    """A derivation uses a technique that the chosen trace decomposition cannot express."""


def max_technique(decomposition: str) -> Technique:
    """Hardest technique an MPLM decomposition expresses; use it as `derive(max_technique=...)`."""
    try:
        return DECOMPOSITION_TECHNIQUE[decomposition]
    except KeyError:
        raise ValueError(f"decomposition {decomposition!r} is unknown; use one of "
                         f"{', '.join(DECOMPOSITIONS)}") from None


def check_expressible(derivation: Derivation, decomposition: str) -> None:
    """Raise NotExpressibleError naming the first step above `max_technique(decomposition)`."""
    limit = max_technique(decomposition)
    for number, step in enumerate(derivation.steps, start=1):
        if step.technique > limit:
            raise NotExpressibleError(
                f"derivation step {number} uses {step.technique.label}, which the {decomposition} "
                f"decomposition cannot express; generate with --solvable-by {limit.label} "
                f"(derive with max_technique={limit.name}), or render with hypothesis threads")


def cell_word(geometry: Geometry, cell: int) -> str:
    """Name of a cell: `r3c7`."""
    return geometry.cell_name(cell)


def unit_word(geometry: Geometry, unit: int) -> str:
    """Name of a unit: `r3`, `c7` or `b2`."""
    kind, index = divmod(unit, geometry.n)
    return f"{'rcb'[kind]}{index + 1}"


def parse_cell(word: str, geometry: Geometry) -> int | None:
    """Cell index named by `r3c7`, or None when the word names no cell of the grid."""
    if not word.startswith("r") or "c" not in word:
        return None
    row_text, _, col_text = word[1:].partition("c")
    if not (row_text.isdigit() and col_text.isdigit()):
        return None
    row, col = int(row_text), int(col_text)
    if not (1 <= row <= geometry.n and 1 <= col <= geometry.n):
        return None
    return (row - 1) * geometry.n + col - 1


def grid_words(grid: np.ndarray, geometry: Geometry) -> list[str]:
    """Write a grid as words: row by row, `|` between rows, `.` for a blank."""
    words: list[str] = []
    for row in range(geometry.n):
        if row:
            words.append(ROW_BREAK)
        values = grid[row * geometry.n:(row + 1) * geometry.n].tolist()
        words.extend(BLANK if value == 0 else str(value) for value in values)
    return words


def parse_grid_words(words: tuple[str, ...] | list[str], geometry: Geometry) -> np.ndarray | None:
    """Parse words written by `grid_words` back into a grid; return None for any other words."""
    n = geometry.n
    if len(words) != n * n + n - 1:
        return None
    grid = np.zeros(geometry.cells, dtype=np.int16)
    position = 0
    for index, word in enumerate(words):
        if index % (n + 1) == n:
            if word != ROW_BREAK:
                return None
            continue
        if word != BLANK:
            if not word.isdigit() or not 1 <= int(word) <= n:
                return None
            grid[position] = int(word)
        position += 1
    return grid


def fact_words(fact: Fact, geometry: Geometry) -> list[str]:
    """`r1c2 = 3` for a placement, `r1c2 not 3` for an elimination."""
    relation = PLACED if fact.kind is FactKind.PLACEMENT else NOT
    return [cell_word(geometry, fact.cell), relation, str(fact.digit)]


def step_words(step: Step, geometry: Geometry) -> list[str]:
    """Write one derivation step as words, ending with `;`."""
    words = [step.technique.label]
    if step.unit >= 0:
        words.append(unit_word(geometry, step.unit))
    for fact in step.conclusions:
        words += fact_words(fact, geometry)
    if step.premises and step.technique is not Technique.REFUTATION:
        words.append(FROM)
        for fact in step.premises:
            words += fact_words(fact, geometry)
    words.append(END_STEP)
    return words


def problem_words(geometry: Geometry, puzzle: np.ndarray) -> list[str]:
    """Write the whole puzzle as prompt words: `sudoku n 9 box 3 x 3 grid ...`."""
    return ["sudoku", "n", str(geometry.n), "box", str(geometry.box_rows), "x",
            str(geometry.box_cols), "grid", *grid_words(puzzle, geometry)]


def message_facts(sender: str, words: tuple[str, ...], geometry: Geometry) -> list[tuple[int, int, bool]]:
    """Read the facts of a message body as (cell, digit, is_placement) triples.

    A cell thread's value message is just the digit (`3`), because the sender names the cell.
    Any other body is a list of `CELL D` placements and `CELL not D` eliminations. Raises
    ValueError for a body that is neither.
    """
    if len(words) == 1:
        cell = parse_cell(sender, geometry)
        if cell is None or not words[0].isdigit():
            raise ValueError(f"message {sender}: {' '.join(words)} is invalid; a one-word "
                             f"body must be a digit sent by a cell thread")
        return [(cell, int(words[0]), True)]

    facts: list[tuple[int, int, bool]] = []
    index = 0
    while index < len(words):
        cell = parse_cell(words[index], geometry)
        placement = index + 1 < len(words) and words[index + 1] != NOT
        digit_at = index + 1 if placement else index + 2
        if cell is None or digit_at >= len(words) or not words[digit_at].isdigit():
            raise ValueError(f"message {sender}: {' '.join(words)} is invalid; expected "
                             f"'CELL D' or 'CELL not D' facts")
        facts.append((cell, int(words[digit_at]), placement))
        index = digit_at + 1
    return facts
