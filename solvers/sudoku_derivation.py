"""The Sudoku derivation: ground-truth reasoning steps and the facts each step used.

A derivation is what the logical grader records while it solves a puzzle, and what the trace
renderers turn into chain-of-thought, fork-join and message-passing traces.

Terms:
- A *fact* is a placement (cell holds digit) or an elimination (digit is not a candidate of cell).
  Givens are placement facts that no step concludes.
- Every placement implies, without being written down, the elimination of its digit from all of
  the cell's peers. Premises cite the placement in that case, never the implied elimination. Only
  eliminations made by a technique (locked candidates, pairs, a refuted guess) are facts in their
  own right.
- A *step* applies one technique. `conclusions` are the new facts it establishes and `premises`
  are earlier facts (givens included) that justify them:
  - naked single: one placement; premises hold, for every other digit, one placed peer or one
    elimination fact that removes it from the cell;
  - hidden single: one placement of digit d in `unit`; premises hold, for every other empty cell
    of the unit, one fact that excludes d from it;
  - locked candidates, naked pair, hidden pair: eliminations; premises are the facts that confine
    the digits to the cells the technique names;
  - guess: one placement with no premises, opening a new branch (`depth` + 1);
  - contradiction: no conclusions; premises are the facts that leave a cell with no candidate or
    a digit with no place in `unit`. The branch of the last open guess is closed;
  - refutation: one elimination, the digit of the guess just closed, with that guess as the only
    premise; it belongs to the parent branch, so its `depth` is one less than the guess's.
- `unit` is the unit a step works in: the unit of a hidden single, pair or digit contradiction,
  the box (pointing) or line (claiming) that confines a locked candidate. It is -1 for naked
  singles, guesses, refutations and contradictions of a cell with no candidate left.
- `depth` is the number of open guesses when the step is taken. Facts concluded at a depth deeper
  than the current step's depth were retracted by a contradiction and are no longer in force.

The sequence is stable: field names and technique values are part of the dataset format.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from mplm_data.generators.sudoku_geometry import Geometry


class Technique(IntEnum):
    """Solving techniques in order of difficulty; the value is stored in datasets."""

    NAKED_SINGLE = 1
    HIDDEN_SINGLE = 2
    LOCKED_CANDIDATES = 3
    NAKED_PAIR = 4
    HIDDEN_PAIR = 5
    GUESS = 6
    CONTRADICTION = 7
    REFUTATION = 8

    @property
    def label(self) -> str:
        """Lower-case name used in text, such as `hidden_single`."""
        return self.name.lower()


class FactKind(IntEnum):
    """Kind of a fact; the value is stored in datasets."""

    PLACEMENT = 0
    ELIMINATION = 1


@dataclass(frozen=True, order=True)
class Fact:
    """A placement (`cell` holds `digit`) or an elimination (`digit` is not a candidate of `cell`)."""

    kind: FactKind
    cell: int
    digit: int


@dataclass(frozen=True)
class Step:
    """One application of a technique: the facts it concludes and the earlier facts it used."""

    technique: Technique
    unit: int
    conclusions: tuple[Fact, ...]
    premises: tuple[Fact, ...]
    depth: int


@dataclass(frozen=True, order=True)
class Grade:
    """Measured difficulty: the hardest technique used, then the number of guesses."""

    technique: Technique
    guesses: int

    def __str__(self) -> str:
        if self.guesses:
            return f"{self.technique.label}+{self.guesses}"
        return self.technique.label


@dataclass(frozen=True)
class Derivation:
    """All steps that take a puzzle to its solution, in the order the grader took them."""

    geometry: Geometry
    puzzle: np.ndarray
    solution: np.ndarray
    steps: tuple[Step, ...]

    @property
    def givens(self) -> tuple[Fact, ...]:
        """Placement facts for the clues of the puzzle, in cell order."""
        return tuple(Fact(FactKind.PLACEMENT, int(cell), int(self.puzzle[cell]))
                     for cell in np.flatnonzero(self.puzzle))

    @property
    def grade(self) -> Grade:
        """Hardest technique used (contradictions and refutations count as guesses) and guesses."""
        guesses = sum(step.technique == Technique.GUESS for step in self.steps)
        hardest = max((min(step.technique, Technique.GUESS) for step in self.steps),
                      default=Technique.NAKED_SINGLE)
        return Grade(Technique(hardest), guesses)
