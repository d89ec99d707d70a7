"""Hypothesis threads: MPLM traces for puzzles that need guesses.

Each guess of the derivation (a cell and a digit, nested inside the guesses still open when it
was made) becomes one hypothesis thread `h1`, `h2`, ... in order. Its prompt states the chain of
assumptions, outermost first, then the whole puzzle: `hypothesis r5c5 = 7 r2c2 = 3 sudoku n 9
...`. Every hypothesis thread runs from step 1, in parallel with the decomposition's threads. It
keeps the whole grid: it first writes the placements that the givens and its assumptions allow
(`set r3c4 2 ...`); every thread of the decomposition sends the values it places to the `hyp`
group (or to `all`), and after each message the hypothesis writes the placements its rules now
allow, or `none`. It must know the givens from the start: a grid filled before all of them are
known could be consistent with the assumptions and yet wrong. Its rules are those of the decomposition (naked singles, plus
hidden singles for `unit`); it also notices a cell without candidates and a digit without a place
in a unit, the two contradictions the grader checks for.

- On a contradiction it writes `contradiction CELL` (or `contradiction UNIT D`), preempts its
  `nested` hypotheses if one of its direct children has not yet reported, sends the refutation
  `CELL not D` to the `refute` group and halts. `refute` holds the threads that own the guessed
  cell one level up (the decomposition's threads for an outermost guess, the parent hypothesis
  otherwise) and the later hypotheses that share that parent context.
- When its grid is full it preempts `all` other threads (those still waiting can never finish,
  since they needed the guess) and answers the whole grid.

The guesses come from `plan_hypotheses`, a depth-first search with the same rules and the
grader's guess rule; for a derivation that uses only those rules and guesses, the plan is the
derivation's own guesses. The plan fixes the threads' outcomes in advance: a refuted guess ends
in a contradiction (or is preempted first by the hypothesis that fills the grid), and the
innermost guess left open fills the grid. `check_outcomes` compares them with what the schedule
produced.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Generator

import numpy as np

from mplm_data.generators.errors import MplmDataError
from mplm_data.generators.sudoku_geometry import Geometry
from mplm_data.solvers.sudoku_derivation import Derivation, Technique
from . import protocol as p
from .model import ItemKind, Trace
from .schedule import Action, Answer, Delivery, Emit, Halt, Preempt, Recv, Send
from .sudoku_words import (NotExpressibleError, cell_word, grid_words, message_facts, problem_words,
                           unit_word)

HYP_GROUP = "hyp"
REFUTE_GROUP = "refute"
NESTED_GROUP = "nested"


@dataclass
class Guess:
    """One guess of the derivation: its number (from 1), cell, digit and parent (0 = none)."""

    number: int
    cell: int
    digit: int
    parent: int
    refuted: bool = False
    children: list[int] = field(default_factory=list)

    @property
    def name(self) -> str:
        """Name of the hypothesis thread: `h1`, `h2`, ..."""
        return f"h{self.number}"


def derivation_guesses(derivation: Derivation) -> list[Guess]:
    """List the guesses of a derivation in order, with their nesting and whether each was refuted."""
    guesses: list[Guess] = []
    open_guesses: list[Guess] = []
    for step in derivation.steps:
        if step.technique is Technique.GUESS:
            fact = step.conclusions[0]
            parent = open_guesses[-1].number if open_guesses else 0
            guess = Guess(len(guesses) + 1, fact.cell, fact.digit, parent)
            if parent:
                guesses[parent - 1].children.append(guess.number)
            guesses.append(guess)
            open_guesses.append(guess)
        elif step.technique is Technique.CONTRADICTION:
            open_guesses[-1].refuted = True
        elif step.technique is Technique.REFUTATION:
            open_guesses.pop()
    return guesses


def _ancestors(guesses: list[Guess], number: int) -> list[int]:
    chain = []
    while number:
        chain.append(number)
        number = guesses[number - 1].parent
    return chain[::-1]


def hypothesis_groups(guesses: list[Guess], guess: Guess,
                      owners: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Build the `refute` and `nested` groups of a hypothesis thread.

    `owners` are the decomposition's threads that own the guessed cell.
    """
    up = owners if guess.parent == 0 else (guesses[guess.parent - 1].name,)
    later = [other.name for other in guesses[guess.number:]
             if guess.number not in _ancestors(guesses, other.number)
             and (guess.parent == 0 or guess.parent in _ancestors(guesses, other.number))]
    nested = [other.name for other in guesses[guess.number:]
              if guess.number in _ancestors(guesses, other.number)]
    groups = {REFUTE_GROUP: tuple(up) + tuple(later)}
    if nested:
        groups[NESTED_GROUP] = tuple(nested)
    return groups


def hypothesis_prompt(guesses: list[Guess], guess: Guess, puzzle: np.ndarray, geometry: Geometry,
                      groups: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Prompt of a hypothesis thread: its chain of assumptions, the puzzle and its groups."""
    words = ["hypothesis"]
    for number in _ancestors(guesses, guess.number):
        assumed = guesses[number - 1]
        words += [cell_word(geometry, assumed.cell), "=", str(assumed.digit)]
    words += problem_words(geometry, puzzle)
    for name, members in groups.items():
        words += [p.GROUP, name, *members, p.GROUP_END]
    return tuple(words)


class _Grid:
    """Whole-grid candidate state of a hypothesis thread, with its contradiction checks."""

    def __init__(self, geometry: Geometry, hidden: bool):
        n = geometry.n
        self.geometry = geometry
        self.hidden_rule = hidden
        self.cand = [(1 << n) - 1] * geometry.cells
        self.value = [0] * geometry.cells
        self.peers = geometry.peers.tolist()
        self.cell_units = geometry.cell_units.tolist()
        self.unit_cells = geometry.units.tolist()
        self.places = [[n] * (n + 1) for _ in range(3 * n)]
        self.placed = [set() for _ in range(3 * n)]
        self.naked: deque[int] = deque()
        self.hidden: deque[tuple[int, int]] = deque()
        self.conflict: list[str] | None = None
        self.words: list[str] = []

    def _fail(self, words: list[str]) -> None:
        if self.conflict is None:
            self.conflict = ["contradiction", *words]

    def remove(self, cell: int, digit: int) -> None:
        bit = 1 << (digit - 1)
        if not self.cand[cell] & bit:
            return
        if self.value[cell] == digit:
            self._fail([cell_word(self.geometry, cell)])
            return
        self.cand[cell] &= ~bit
        if self.value[cell]:
            return
        for unit in self.cell_units[cell]:
            self.places[unit][digit] -= 1
            if digit not in self.placed[unit]:
                if self.places[unit][digit] == 0:
                    self._fail([unit_word(self.geometry, unit), str(digit)])
                elif self.places[unit][digit] == 1:
                    self.hidden.append((unit, digit))
        left = self.cand[cell].bit_count()
        if left == 0:
            self._fail([cell_word(self.geometry, cell)])
        elif left == 1:
            self.naked.append(cell)

    def place(self, cell: int, digit: int) -> None:
        if self.value[cell]:
            if self.value[cell] != digit:
                self._fail([cell_word(self.geometry, cell)])
            return
        if not self.cand[cell] >> (digit - 1) & 1:
            self._fail([cell_word(self.geometry, cell)])
            return
        for other in range(1, self.geometry.n + 1):
            if other != digit and self.cand[cell] >> (other - 1) & 1:
                self.remove(cell, other)
        self.value[cell] = digit
        for unit in self.cell_units[cell]:
            self.placed[unit].add(digit)
        for peer in self.peers[cell]:
            self.remove(peer, digit)

    def propagate(self) -> None:
        """Place every naked (and, if enabled, hidden) single, writing `set CELL D` for each."""
        while self.conflict is None:
            if self.naked:
                cell = self.naked.popleft()
                if self.value[cell]:
                    continue
                digit = self.cand[cell].bit_length()
            elif self.hidden_rule and self.hidden:
                unit, digit = self.hidden.popleft()
                if digit in self.placed[unit]:
                    continue
                bit = 1 << (digit - 1)
                cell = next(cell for cell in self.unit_cells[unit] if self.cand[cell] & bit)
            else:
                return
            self.words += ["set", cell_word(self.geometry, cell), str(digit)]
            self.place(cell, digit)

    @property
    def full(self) -> bool:
        return all(self.value)

    def copy(self) -> "_Grid":
        other = object.__new__(_Grid)
        other.__dict__.update(self.__dict__)
        other.cand, other.value = list(self.cand), list(self.value)
        other.places = [list(counts) for counts in self.places]
        other.placed = [set(digits) for digits in self.placed]
        other.naked, other.hidden = deque(self.naked), deque(self.hidden)
        other.words = []
        return other


def plan_hypotheses(puzzle: np.ndarray, geometry: Geometry, *, hidden: bool,
                    limit: int) -> list[Guess]:
    """Plan the guesses that hypothesis threads need, depth first with the threads' own rules.

    From the givens, naked singles (and hidden singles when `hidden`) are applied until they
    stall; then the empty cell with the fewest candidates (lowest cell on ties) is guessed with its
    lowest candidate, the grader's guess rule. A contradiction refutes the innermost open guess in
    its parent's state, where solving goes on. When a derivation uses only these rules and
    guesses, the plan equals its guesses. Raises NotExpressibleError when more than `limit`
    guesses are needed, and MplmDataError when the puzzle has no solution.
    """
    state = _Grid(geometry, hidden)
    for cell in np.flatnonzero(puzzle).tolist():
        state.place(cell, int(puzzle[cell]))
    state.propagate()
    guesses: list[Guess] = []
    open_guesses: list[tuple[_Grid, Guess]] = []

    while not state.full or state.conflict is not None:
        if state.conflict is not None:
            if not open_guesses:
                raise MplmDataError("the puzzle has no solution; check the givens")
            state, guess = open_guesses.pop()
            guess.refuted = True
            state.remove(guess.cell, guess.digit)
            state.propagate()
            continue

        if len(guesses) == limit:
            raise NotExpressibleError(f"the puzzle needs more than {limit} hypotheses with the "
                                      f"rules of this decomposition; raise max_hypotheses or "
                                      f"choose a stronger decomposition")
        empty = [cell for cell in range(geometry.cells) if not state.value[cell]]
        cell = min(empty, key=lambda index: (state.cand[index].bit_count(), index))
        digit = (state.cand[cell] & -state.cand[cell]).bit_length()
        parent = open_guesses[-1][1].number if open_guesses else 0
        guess = Guess(len(guesses) + 1, cell, digit, parent)
        if parent:
            guesses[parent - 1].children.append(guess.number)
        guesses.append(guess)
        open_guesses.append((state.copy(), guess))
        state.place(cell, digit)
        state.propagate()
    return guesses


def hypothesis_program(guesses: list[Guess], guess: Guess, puzzle: np.ndarray, geometry: Geometry,
                       hidden: bool) -> Generator[Action, Delivery | None, None]:
    """Run one hypothesis thread (see the module docstring)."""
    grid = _Grid(geometry, hidden)
    for cell in np.flatnonzero(puzzle).tolist():
        grid.place(cell, int(puzzle[cell]))
    for number in _ancestors(guesses, guess.number):
        assumed = guesses[number - 1]
        grid.place(assumed.cell, assumed.digit)
    grid.words = []
    grid.propagate()
    children = {guesses[number - 1].name for number in guess.children}
    reported: set[str] = set()
    delivery = None

    while True:
        if delivery is not None:
            grid.words = []
            if delivery.sender in children:
                reported.add(delivery.sender)
            for cell, digit, placement in message_facts(delivery.sender, delivery.words, geometry):
                if placement:
                    grid.place(cell, digit)
                else:
                    grid.remove(cell, digit)
            grid.propagate()

        if grid.conflict is not None:
            yield Emit(tuple(grid.words + grid.conflict))
            if children - reported:
                yield Preempt(NESTED_GROUP, ("refuted",))
            yield Send(REFUTE_GROUP, (cell_word(geometry, guess.cell), "not", str(guess.digit)))
            yield Halt()
            return

        if grid.words or delivery is not None:
            yield Emit(tuple(grid.words) or ("none",))
        if grid.full:
            yield Preempt(p.GROUP_ALL, ("solved",))
            yield Answer(tuple(grid_words(np.array(grid.value), geometry)))
            return
        delivery = yield Recv()


def check_outcomes(trace: Trace, guesses: list[Guess]) -> None:
    """Raise MplmDataError when a hypothesis thread ended otherwise than its plan allows.

    A refuted guess ends in a contradiction, or is preempted when another hypothesis fills the
    grid first (all hypotheses run in parallel). A guess left open never ends in a contradiction.
    """
    for guess in guesses:
        last = trace.thread(guess.name).items[-1].kind
        if guess.refuted and last not in (ItemKind.HALT, ItemKind.STOP):
            raise MplmDataError(f"hypothesis {guess.name} should end in a contradiction or be "
                                f"preempted, since its guess is refuted, but it ends with {last.value}")
        if not guess.refuted and last is ItemKind.HALT:
            raise MplmDataError(f"hypothesis {guess.name} found a contradiction, but its guess is "
                                f"never refuted")
