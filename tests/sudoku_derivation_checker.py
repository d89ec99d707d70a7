"""Independent replay checker for Sudoku derivations, used only by tests.

`check_derivation` replays a derivation with plain Python sets and raises `DerivationError` at the
first step that breaks the rules of `mplm_data.solvers.sudoku_derivation`:
- every premise is in force: a given, or a conclusion of a branch that is still open (a refutation
  cites the guess whose branch the contradiction just before it closed);
- every conclusion follows from the premises alone under the step's technique, every premise is
  needed by that rule, and every conclusion is new (no placed digit or fact already rules it out);
- depths: a guess opens a branch one deeper, a contradiction closes the innermost branch and is
  followed by the refutation of that guess one level up, every other step stays at the current
  depth;
- at the end the placements in force fill the grid, equal `derivation.solution`, form a valid grid
  and keep every given.

It shares no code with the grader: units, peers and candidate reasoning are recomputed here from
n, box_rows and box_cols. Whether a cell is empty or a digit is placed in a unit is read from the
placements in force. Every exclusion that a rule needs must come from the step's premises.
"""

from __future__ import annotations

from itertools import combinations

from mplm_data.solvers.sudoku_derivation import Derivation, Fact, FactKind, Step, Technique


class DerivationError(AssertionError):
    """A derivation step that breaks the rules, with the index of the step."""


class _Board:
    """Units and peers of an n x n grid, computed without the geometry module's arrays."""

    def __init__(self, n: int, box_rows: int, box_cols: int) -> None:
        self.n = n
        rows = [[r * n + c for c in range(n)] for r in range(n)]
        columns = [[r * n + c for r in range(n)] for c in range(n)]
        boxes = [[(top + r) * n + left + c for r in range(box_rows) for c in range(box_cols)]
                 for top in range(0, n, box_rows) for left in range(0, n, box_cols)]
        self.units = rows + columns + boxes
        self.units_of = [[] for _ in range(n * n)]
        for index, unit in enumerate(self.units):
            for cell in unit:
                self.units_of[cell].append(index)
        self.peers = [set().union(*(self.units[u] for u in self.units_of[cell])) - {cell}
                      for cell in range(n * n)]

    def is_box(self, unit: int) -> bool:
        return unit >= 2 * self.n


class _Premises:
    """Exclusions that a step's premises establish: which digits they rule out of which cells."""

    def __init__(self, board: _Board, premises: tuple[Fact, ...]) -> None:
        self.board = board
        self.facts = premises
        self.placed = [(f.cell, f.digit) for f in premises if f.kind == FactKind.PLACEMENT]
        self.eliminated = {(f.cell, f.digit) for f in premises if f.kind == FactKind.ELIMINATION}

    def excluders(self, cell: int, digit: int) -> list[Fact]:
        """Premises that rule `digit` out of `cell`."""
        found = [Fact(FactKind.ELIMINATION, cell, digit)] if (cell, digit) in self.eliminated else []
        for other, placed_digit in self.placed:
            same_digit_peer = placed_digit == digit and other in self.board.peers[cell]
            other_digit_here = other == cell and placed_digit != digit
            if same_digit_peer or other_digit_here:
                found.append(Fact(FactKind.PLACEMENT, other, placed_digit))
        return found

    def covers(self, required: set[tuple[int, int]]) -> bool:
        """True when every required (cell, digit) is excluded and every premise excludes one."""
        used: set[Fact] = set()
        for cell, digit in required:
            found = self.excluders(cell, digit)
            if not found:
                return False
            used.update(found)
        return used == set(self.facts)

    def remaining(self, cell: int) -> set[int]:
        return {d for d in range(1, self.board.n + 1) if not self.excluders(cell, d)}


class _Replay:
    """State of the replay: open branches and the facts in force."""

    def __init__(self, derivation: Derivation) -> None:
        geometry = derivation.geometry
        self.board = _Board(geometry.n, geometry.box_rows, geometry.box_cols)
        self.puzzle = [int(v) for v in derivation.puzzle]
        givens = {Fact(FactKind.PLACEMENT, cell, digit)
                  for cell, digit in enumerate(self.puzzle) if digit}
        self.branches: list[set[Fact]] = [givens]
        self.guesses: list[Fact] = []
        self.closed_guess: Fact | None = None
        self._refresh()

    def _refresh(self) -> None:
        self.in_force = set().union(*self.branches)
        self.grid = [0] * (self.board.n ** 2)
        for fact in self.in_force:
            if fact.kind == FactKind.PLACEMENT:
                if self.grid[fact.cell]:
                    raise DerivationError(f"cell {fact.cell} holds two placements in force")
                self.grid[fact.cell] = fact.digit

    def add(self, facts: tuple[Fact, ...]) -> None:
        self.branches[-1].update(facts)
        self._refresh()

    def placed_in(self, unit: int, digit: int) -> bool:
        return any(self.grid[cell] == digit for cell in self.board.units[unit])

    def empty(self, cell: int) -> bool:
        return self.grid[cell] == 0

    def ruled_out(self, cell: int, digit: int) -> bool:
        """True when a fact in force already rules `digit` out of `cell`."""
        if not self.empty(cell) or Fact(FactKind.ELIMINATION, cell, digit) in self.in_force:
            return True
        return any(self.grid[peer] == digit for peer in self.board.peers[cell])


def check_derivation(derivation: Derivation) -> None:
    """Replay `derivation` and raise DerivationError at the first broken rule."""
    replay = _Replay(derivation)
    for index, step in enumerate(derivation.steps):
        try:
            _check_step(replay, step)
        except DerivationError as err:
            raise DerivationError(f"step {index} ({step.technique.label}): {err}") from None
    _check_end(replay, derivation)


def _check_step(replay: _Replay, step: Step) -> None:
    board = replay.board
    depth = len(replay.branches) - 1
    expected_depth = depth + 1 if step.technique == Technique.GUESS else depth
    if step.depth != expected_depth:
        raise DerivationError(f"depth is {step.depth}, expected {expected_depth}")
    if (replay.closed_guess is not None) != (step.technique == Technique.REFUTATION):
        raise DerivationError("a refutation must follow each contradiction, and only then")
    unitless = (Technique.NAKED_SINGLE, Technique.GUESS, Technique.REFUTATION)
    if step.technique in unitless and step.unit != -1:
        raise DerivationError(f"unit is {step.unit}, expected -1")
    for fact in step.conclusions + step.premises:
        if not (0 <= fact.cell < board.n ** 2 and 1 <= fact.digit <= board.n):
            raise DerivationError(f"fact {fact} is outside the grid")

    if step.technique == Technique.REFUTATION:
        _check_refutation(replay, step)
        return
    for fact in step.premises:
        if fact not in replay.in_force:
            raise DerivationError(f"premise {fact} is not in force")

    premises = _Premises(board, step.premises)
    technique = step.technique
    if technique == Technique.GUESS:
        _check_guess(replay, step)
    elif technique == Technique.CONTRADICTION:
        _check_contradiction(replay, step, premises)
    elif technique in (Technique.NAKED_SINGLE, Technique.HIDDEN_SINGLE):
        _check_single(replay, step, premises)
    else:
        _check_elimination_step(replay, step, premises)


def _check_new_placement(replay: _Replay, step: Step) -> Fact:
    if len(step.conclusions) != 1 or step.conclusions[0].kind != FactKind.PLACEMENT:
        raise DerivationError("the step must conclude exactly one placement")
    fact = step.conclusions[0]
    if replay.ruled_out(fact.cell, fact.digit):
        raise DerivationError(f"placement {fact} is ruled out by facts in force")
    return fact


def _check_single(replay: _Replay, step: Step, premises: _Premises) -> None:
    board = replay.board
    fact = _check_new_placement(replay, step)

    if step.technique == Technique.NAKED_SINGLE:
        required = {(fact.cell, d) for d in range(1, board.n + 1) if d != fact.digit}
    else:
        if not 0 <= step.unit < 3 * board.n or fact.cell not in board.units[step.unit]:
            raise DerivationError(f"cell {fact.cell} is not in unit {step.unit}")
        required = {(cell, fact.digit) for cell in board.units[step.unit]
                    if cell != fact.cell and replay.empty(cell)}
    if not premises.covers(required):
        raise DerivationError(f"premises do not force {fact}, or cite unneeded facts")
    replay.add(step.conclusions)


def _check_guess(replay: _Replay, step: Step) -> None:
    if step.premises:
        raise DerivationError("a guess has no premises")
    fact = _check_new_placement(replay, step)
    replay.branches.append({fact})
    replay.guesses.append(fact)
    replay._refresh()


def _check_contradiction(replay: _Replay, step: Step, premises: _Premises) -> None:
    board = replay.board
    if step.conclusions:
        raise DerivationError("a contradiction concludes nothing")
    if not replay.guesses:
        raise DerivationError("a contradiction outside any guess means the puzzle has no solution")

    if step.unit == -1:
        options = [{(cell, d) for d in range(1, board.n + 1)}
                   for cell in range(board.n ** 2) if replay.empty(cell)]
    elif 0 <= step.unit < 3 * board.n:
        options = [{(cell, digit) for cell in board.units[step.unit] if replay.empty(cell)}
                   for digit in range(1, board.n + 1) if not replay.placed_in(step.unit, digit)]
    else:
        raise DerivationError(f"unit {step.unit} does not exist")
    if not any(premises.covers(required) for required in options):
        raise DerivationError("premises leave no cell without candidates and no digit without a place")

    replay.branches.pop()
    replay.closed_guess = replay.guesses.pop()
    replay._refresh()


def _check_refutation(replay: _Replay, step: Step) -> None:
    guess = replay.closed_guess
    expected = (Fact(FactKind.ELIMINATION, guess.cell, guess.digit),)
    if step.premises != (guess,) or step.conclusions != expected:
        raise DerivationError(f"a refutation must eliminate {guess} citing only that guess")
    if replay.ruled_out(guess.cell, guess.digit):
        raise DerivationError(f"the refuted guess {guess} is already ruled out")
    replay.closed_guess = None
    replay.add(step.conclusions)


def _check_elimination_step(replay: _Replay, step: Step, premises: _Premises) -> None:
    board = replay.board
    if not step.conclusions or any(f.kind != FactKind.ELIMINATION for f in step.conclusions):
        raise DerivationError("the step must conclude one or more eliminations")
    if not 0 <= step.unit < 3 * board.n:
        raise DerivationError(f"unit {step.unit} does not exist")
    for fact in step.conclusions:
        if replay.ruled_out(fact.cell, fact.digit):
            raise DerivationError(f"elimination {fact} is not new")

    removed = {(f.cell, f.digit) for f in step.conclusions}
    if step.technique == Technique.LOCKED_CANDIDATES:
        options = _locked_options(replay, step.unit, removed)
    elif step.technique == Technique.NAKED_PAIR:
        options = _naked_pair_options(replay, step.unit, removed, premises)
    elif step.technique == Technique.HIDDEN_PAIR:
        options = _hidden_pair_options(replay, step.unit, removed, premises)
    else:
        raise DerivationError(f"technique {step.technique!r} is unknown")
    if not any(premises.covers(required) for required in options):
        raise DerivationError("premises do not justify the eliminations, or cite unneeded facts")
    replay.add(step.conclusions)


def _locked_options(replay: _Replay, unit: int, removed: set) -> list[set]:
    """Required exclusions for each way that `unit` could confine the removed digit."""
    board = replay.board
    digits = {digit for _, digit in removed}
    if len(digits) != 1:
        return []
    digit = digits.pop()
    if replay.placed_in(unit, digit):
        return []

    source = set(board.units[unit])
    first_cell = next(iter(removed))[0]
    targets = [u for u in board.units_of[first_cell] if board.is_box(u) != board.is_box(unit)]
    options = []
    for target in targets:
        overlap = source & set(board.units[target])
        inside = all(cell in board.units[target] and cell not in overlap for cell, _ in removed)
        if overlap and inside:
            options.append({(cell, digit) for cell in source - overlap if replay.empty(cell)})
    return options


def _naked_pair_options(replay: _Replay, unit: int, removed: set, premises: _Premises) -> list[set]:
    board = replay.board
    cells = [cell for cell in board.units[unit] if replay.empty(cell)]
    pairs = {cell: premises.remaining(cell) for cell in cells}
    options = []
    for first, second in combinations(cells, 2):
        digits = pairs[first]
        if len(digits) != 2 or pairs[second] != digits:
            continue
        if all(cell in cells and cell not in (first, second) and digit in digits
               for cell, digit in removed):
            options.append({(cell, d) for cell in (first, second)
                            for d in range(1, board.n + 1) if d not in digits})
    return options


def _hidden_pair_options(replay: _Replay, unit: int, removed: set, premises: _Premises) -> list[set]:
    board = replay.board
    cells = [cell for cell in board.units[unit] if replay.empty(cell)]
    digits = [d for d in range(1, board.n + 1) if not replay.placed_in(unit, d)]
    places = {d: {cell for cell in cells if not premises.excluders(cell, d)} for d in digits}
    options = []
    for first, second in combinations(digits, 2):
        pair_cells = places[first]
        if len(pair_cells) != 2 or places[second] != pair_cells:
            continue
        if all(cell in pair_cells and digit not in (first, second) for cell, digit in removed):
            options.append({(cell, d) for d in (first, second)
                            for cell in cells if cell not in pair_cells})
    return options


def _check_end(replay: _Replay, derivation: Derivation) -> None:
    board = replay.board
    if replay.closed_guess is not None:
        raise DerivationError("the derivation ends between a contradiction and its refutation")
    if 0 in replay.grid:
        raise DerivationError(f"cell {replay.grid.index(0)} is still empty at the end")
    solution = [int(v) for v in derivation.solution]
    if replay.grid != solution:
        raise DerivationError("the placements in force differ from derivation.solution")
    for index, unit in enumerate(board.units):
        if sorted(solution[cell] for cell in unit) != list(range(1, board.n + 1)):
            raise DerivationError(f"unit {index} of the solution does not hold each digit once")
    for cell, digit in enumerate(replay.puzzle):
        if digit and solution[cell] != digit:
            raise DerivationError(f"the solution changes the given {digit} of cell {cell}")
