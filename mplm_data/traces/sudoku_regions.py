"""MPLM thread programs for Sudoku: cell threads and region threads (a box or a unit).

A thread *owns* a set of cells and tracks their candidates. It learns about placements elsewhere
from messages, writes a state update after each one, places what its rules allow and sends its
new placements on.

Cell threads (the `cell` decomposition) follow the minimal protocol:

- a given cell sends its digit to its `peers` group and halts: `<send> peers 3 </send> <halt>`;
- an empty cell receives values one at a time and after each writes `drop D left K` (the digit
  the message removed and the candidates left) or `drop none left K`; when one candidate is left
  it sends it to its peers and answers it: `<send> peers 2 </send> <answer> 2 </answer>`.

Region threads (`box` and `unit` decompositions) own several cells. After each message they
write one `CELL drop D left K` per candidate removed, `CELL = D` for a placement of an owned cell
made by another thread, or `none`; then `naked_single CELL D` / `hidden_single CELL D` for each
placement their rules find (naked singles in owned cells, hidden singles in owned units), each
followed by the updates it causes, and send the new placements as `CELL D` pairs.

A message `CELL not D` (a refuted hypothesis) removes D from CELL like any other update.
In hypothesis mode every thread also sends the values it places (not the givens, which the
hypothesis threads know) to the `hyp` group.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Generator

from mplm_data.generators.sudoku_geometry import Geometry
from .schedule import Action, Answer, Delivery, Emit, Halt, Recv, Send
from .sudoku_words import cell_word, message_facts

DROP, LEFT, NONE = "drop", "left", "none"


def given_cell_program(digit: int, dests: tuple[str, ...]) -> Generator[Action, Delivery | None, None]:
    """Run a given cell: announce the digit to every destination group, then halt."""
    for dest in dests:
        yield Send(dest, (str(digit),))
    yield Halt()


def empty_cell_program(cell: int, geometry: Geometry,
                       dests: tuple[str, ...]) -> Generator[Action, Delivery | None, None]:
    """Run an empty cell: count candidates down message by message, then commit the last one."""
    candidates = set(range(1, geometry.n + 1))
    while len(candidates) > 1:
        delivery = yield Recv()
        digits = [digit for _, digit, _ in message_facts(delivery.sender, delivery.words, geometry)]
        removed = [digit for digit in digits if digit in candidates]
        candidates.difference_update(removed)
        if not candidates:
            raise ValueError(f"cell {cell_word(geometry, cell)} lost its last candidate; the "
                             f"messages it received contradict each other")
        yield Emit((DROP, str(removed[0]) if removed else NONE, LEFT, str(len(candidates))))

    value = candidates.pop()
    for dest in dests:
        yield Send(dest, (str(value),))
    yield Answer((str(value),))


@dataclass(frozen=True)
class Region:
    """What a region thread owns and does.

    `cells` are the owned cells, `units` the owned units (all of their cells are owned, so the
    thread can look for hidden singles in them), `givens` maps owned cells to their clues.
    `announce` tells whether the thread sends its givens at the start (to `given_dests`, or to
    `dests` when that is empty), `answers` whether it ends with an answer (otherwise it halts),
    `dests` the groups it sends placements to.
    """

    cells: tuple[int, ...]
    units: tuple[int, ...]
    givens: dict[int, int]
    dests: tuple[str, ...]
    announce: bool
    answers: bool
    given_dests: tuple[str, ...] = ()


class _RegionState:
    """Candidates of the owned cells and, per owned unit, the number of places left per digit.

    Queues hold the cells that just became naked singles and the (unit, digit) pairs that just
    became hidden singles, so finding the next placement costs no scan of the whole region.
    """

    def __init__(self, region: Region, geometry: Geometry):
        self.geometry = geometry
        n = geometry.n
        self.cand = {cell: (1 << n) - 1 for cell in region.cells}
        self.value = {cell: 0 for cell in region.cells}
        self.peer_sets = {cell: set(geometry.peers[cell].tolist()) for cell in region.cells}
        owned_units = set(region.units)
        self.units_of = {cell: [unit for unit in geometry.cell_units[cell].tolist()
                                if unit in owned_units] for cell in region.cells}
        self.unit_cells = {unit: geometry.units[unit].tolist() for unit in region.units}
        self.places = {unit: [n] * (n + 1) for unit in region.units}
        self.placed: dict[int, set[int]] = {unit: set() for unit in region.units}
        self.naked: deque[int] = deque()
        self.hidden: deque[tuple[int, int]] = deque()
        self.words: list[str] = []
        self.new: list[int] = []

    def _drop(self, cell: int, digit: int) -> None:
        """Remove a candidate from the counts (the caller updates `cand`)."""
        for unit in self.units_of[cell]:
            self.places[unit][digit] -= 1
            if self.places[unit][digit] == 1 and digit not in self.placed[unit]:
                self.hidden.append((unit, digit))

    def remove(self, cell: int, digit: int) -> None:
        """Remove a candidate from an unplaced owned cell and write the update."""
        bit = 1 << (digit - 1)
        if self.value[cell] or not self.cand[cell] & bit:
            return
        self.cand[cell] &= ~bit
        self._drop(cell, digit)
        left = self.cand[cell].bit_count()
        if left == 0:
            raise ValueError(f"cell {cell_word(self.geometry, cell)} lost its last candidate")
        if left == 1:
            self.naked.append(cell)
        self.words += [cell_word(self.geometry, cell), DROP, str(digit), LEFT, str(left)]

    def place(self, cell: int, digit: int) -> None:
        """Fix an owned cell and remove the digit from its owned peers."""
        for other_digit in range(1, self.geometry.n + 1):
            if other_digit != digit and self.cand[cell] >> (other_digit - 1) & 1:
                self._drop(cell, other_digit)
        self.value[cell] = digit
        self.cand[cell] = 1 << (digit - 1)
        for unit in self.units_of[cell]:
            self.placed[unit].add(digit)
        for other in self.cand:
            if other in self.peer_sets[cell]:
                self.remove(other, digit)

    def hear(self, cell: int, digit: int, placement: bool) -> None:
        """Apply a fact from a message."""
        if not placement:
            if cell in self.cand:
                self.remove(cell, digit)
            return
        if cell in self.value:
            if self.value[cell] == 0:
                self.words += [cell_word(self.geometry, cell), "=", str(digit)]
                self.place(cell, digit)
            return
        for other in self.cand:
            if cell in self.peer_sets[other]:
                self.remove(other, digit)

    def find(self) -> tuple[int, int, str] | None:
        """Find the next placement the rules allow: a naked single first, else a hidden single."""
        while self.naked:
            cell = self.naked.popleft()
            if not self.value[cell]:
                return cell, self.cand[cell].bit_length(), "naked_single"
        while self.hidden:
            unit, digit = self.hidden.popleft()
            if digit in self.placed[unit]:
                continue
            bit = 1 << (digit - 1)
            cell = next(cell for cell in self.unit_cells[unit] if self.cand[cell] & bit)
            return cell, digit, "hidden_single"
        return None

    def solve(self) -> None:
        """Place everything the rules allow, writing each placement and its updates."""
        while (found := self.find()) is not None:
            cell, digit, technique = found
            self.words += [technique, cell_word(self.geometry, cell), str(digit)]
            self.place(cell, digit)
            self.new.append(cell)

    def pairs(self, cells: list[int]) -> tuple[str, ...]:
        words: list[str] = []
        for cell in cells:
            words += [cell_word(self.geometry, cell), str(self.value[cell])]
        return tuple(words)


def region_program(region: Region, geometry: Geometry) -> Generator[Action, Delivery | None, None]:
    """Run a region thread: apply givens, then receive, update, place and send until all is placed."""
    state = _RegionState(region, geometry)
    for cell, digit in region.givens.items():
        state.place(cell, digit)
    state.words = []
    state.solve()

    givens = state.pairs(sorted(region.givens)) if region.announce else ()
    placed = state.pairs(state.new)
    if state.words:
        yield Emit(tuple(state.words))
    for dest in dict.fromkeys(region.given_dests + region.dests):
        outgoing = (givens if dest in (region.given_dests or region.dests) else ()) + \
                   (placed if dest in region.dests else ())
        if outgoing:
            yield Send(dest, outgoing)

    while not all(state.value.values()):
        delivery = yield Recv()
        state.words, state.new = [], []
        for cell, digit, placement in message_facts(delivery.sender, delivery.words, geometry):
            state.hear(cell, digit, placement)
        if not state.words:
            state.words.append(NONE)
        state.solve()
        yield Emit(tuple(state.words))
        if state.new:
            outgoing = state.pairs(state.new)
            for dest in region.dests:
                yield Send(dest, outgoing)

    empty = [cell for cell in region.cells if cell not in region.givens]
    if region.answers and empty:
        yield Answer(state.pairs(empty))
    else:
        yield Halt()
