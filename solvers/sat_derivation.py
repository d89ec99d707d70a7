"""The DPLL record: every event of a traced DPLL run, the ground truth behind SAT traces.

`mplm_data.solvers.dpll.run_dpll` produces a `DpllRecord`. Trace renderers read its events, and
`check_record` replays them against the formula to check every claim they make.

Terms:
- The *trail* is the sequence of assigned literals. Each assigned literal has a *level* (the
  number of open decisions when it was assigned) and a *mask*.
- A *cube* is a tuple of up to 64 assumption literals given to the run. Bit i of a mask stands for
  cube literal i. The mask of a literal or conflict is the set of cube literals it depends on.
- Clause indices are positions in `Formula.clauses`, starting at 0.

Events, in the order the solver takes them (`literal`, `clause`, `level`, `mask` per event):
- PROPAGATE: `literal` is forced by unit clause `clause`, whose other literals are all false.
  Level 0 starts with the formula's unit clauses in clause order, each followed by its
  propagations. mask = union of the masks of the other literals of `clause`.
- ASSUME: cube literal `literal` is set at level 0 (clause -1, mask = its own bit). Cube literals
  come after the formula's unit clauses, in cube order, each followed by its propagations. A cube
  literal that is already true gets no event.
- DECIDE: the branching literal `literal` opens level `level` (clause -1, mask 0). The solver
  decides only when propagation is complete. It picks the unassigned variable with the largest
  two-sided Jeroslow-Wang score J(v) + J(-v), where J(l) sums 2^-w over the unsatisfied clauses
  containing l and w is the clause's number of non-false literals. Ties go to the smallest
  variable. The literal takes the sign of the larger of J(v) and J(-v), positive on ties.
- CONFLICT: clause `clause` has all literals false (literal 0, mask = union over the clause).
  Clause -1 instead means cube literal `literal` is already false (mask = its bit plus the mask
  of the literal that falsified it). An empty clause in the formula is a conflict at once.
- BACKTRACK: follows every conflict above level 0. The decision of level d is undone with
  everything assigned at level d, and `literal`, its negation, is asserted at level d - 1
  (clause -1, mask = the conflict's mask).

The run ends SAT when every clause is satisfied. Unassigned variables are then set false in
`model`. It ends UNSAT at a conflict at level 0, whose mask is `refuted_mask`: the formula plus
only the cube literals in `refuted_subset` is unsatisfiable. It ends UNKNOWN when the event budget
runs out, in which case the stored events are the first `max_events`.

Field names, event kinds and their values are part of the dataset format.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from mplm_data.generators.dimacs import Formula


class EventKind(IntEnum):
    """Kind of a DPLL event; the value is stored in datasets."""

    ASSUME = 0
    DECIDE = 1
    PROPAGATE = 2
    CONFLICT = 3
    BACKTRACK = 4

    @property
    def label(self) -> str:
        """Lower-case name used in text, such as `propagate`."""
        return self.name.lower()


class DpllResult(IntEnum):
    """Outcome of a DPLL run; the value is stored in datasets."""

    UNSAT = 0
    SAT = 1
    UNKNOWN = 2


@dataclass(frozen=True)
class Event:
    """One DPLL event; `clause` is -1 when no clause is involved."""

    kind: EventKind
    literal: int
    clause: int
    level: int
    mask: int


@dataclass(frozen=True, eq=False)
class DpllRecord:
    """A DPLL run: its result and its events as parallel flat arrays.

    `kinds` (int8), `literals` (int32), `clauses` (int32), `levels` (int32) and `masks`
    (uint64) hold one entry per stored event. They are empty when the run was not traced, while
    the counts always cover the whole run.
    """

    n_vars: int
    cube: tuple[int, ...]
    result: DpllResult
    model: tuple[int, ...] | None
    refuted_mask: int
    kinds: np.ndarray
    literals: np.ndarray
    clauses: np.ndarray
    levels: np.ndarray
    masks: np.ndarray
    decisions: int
    propagations: int
    conflicts: int
    backtracks: int
    n_events: int

    @classmethod
    def from_fields(cls, fields: dict[str, object]) -> DpllRecord:
        """Build a record from a dict of every field, without the generated __init__.

        A frozen dataclass's __init__ sets each field through object.__setattr__, which for
        these 15 fields takes about 2 us, as long as the whole search on a 50-variable formula.
        The caller must pass every field; nothing checks that here.
        """
        record = object.__new__(cls)
        record.__dict__.update(fields)
        return record

    @property
    def refuted_subset(self) -> tuple[int, ...] | None:
        """Cube literals that the refutation used, in cube order; None unless the result is UNSAT."""
        if self.result is not DpllResult.UNSAT:
            return None
        return self.cube_literals(self.refuted_mask)

    def cube_literals(self, mask: int) -> tuple[int, ...]:
        """Return the cube literals whose bits are set in `mask`."""
        return tuple(lit for bit, lit in enumerate(self.cube) if mask >> bit & 1)

    def events(self) -> Iterator[Event]:
        """Yield the stored events as `Event` objects."""
        for index in range(self.kinds.shape[0]):
            yield Event(EventKind(int(self.kinds[index])), int(self.literals[index]),
                        int(self.clauses[index]), int(self.levels[index]), int(self.masks[index]))


def check_record(formula: Formula, record: DpllRecord) -> None:
    """Replay a complete record against `formula`; raise ValueError at the first false claim.

    Checks each event as the module docstring defines it, except the choice of the branching
    variable, and checks that the result, model and refuted mask follow from the events.
    """
    if record.kinds.shape[0] != record.n_events:
        raise ValueError(f"record stores {record.kinds.shape[0]} of {record.n_events} events; "
                         f"only a complete record can be replayed")
    replay = _Replay(formula, record)
    for index, event in enumerate(record.events()):
        try:
            replay.apply(event)
        except ValueError as err:
            raise ValueError(f"event {index} ({event.kind.label} {event.literal}): {err}") from err
    replay.finish()


class _Replay:
    """Trail state rebuilt from events: value, level and mask of each assigned variable."""

    def __init__(self, formula: Formula, record: DpllRecord):
        self.formula = formula
        self.record = record
        self.assigned: dict[int, tuple[int, int, int]] = {}  # var -> (literal, level, mask)
        self.decisions: list[int] = []
        self.previous: Event | None = None

    def _is_true(self, lit: int) -> bool:
        return self.assigned.get(abs(lit), (0,))[0] == lit

    def _is_false(self, lit: int) -> bool:
        return self.assigned.get(abs(lit), (0,))[0] == -lit

    def _mask_of(self, literals) -> int:
        mask = 0
        for lit in literals:
            mask |= self.assigned[abs(lit)][2]
        return mask

    def _set(self, event: Event) -> None:
        if abs(event.literal) in self.assigned:
            raise ValueError("variable is already assigned")
        if event.level != len(self.decisions):
            raise ValueError(f"level {event.level} differs from the {len(self.decisions)} open decisions")
        self.assigned[abs(event.literal)] = (event.literal, event.level, event.mask)

    def _check_complete(self) -> None:
        for index, clause in enumerate(self.formula.clauses):
            if any(self._is_true(lit) for lit in clause):
                continue
            free = [lit for lit in clause if not self._is_false(lit)]
            if len(free) <= 1:
                raise ValueError(f"clause {index} is unit or false, so propagation was incomplete")

    def apply(self, event: Event) -> None:
        kind = event.kind
        if kind is EventKind.PROPAGATE:
            clause = self.formula.clauses[event.clause]
            others = [lit for lit in clause if lit != event.literal]
            if event.literal not in clause or not all(self._is_false(lit) for lit in others):
                raise ValueError(f"clause {event.clause} is not unit on this literal")
            if event.mask != self._mask_of(others):
                raise ValueError("mask differs from the union over the reason clause")
            self._set(event)
        elif kind is EventKind.ASSUME:
            bits = [1 << i for i, lit in enumerate(self.record.cube) if lit == event.literal]
            if self.decisions or event.mask not in bits:
                raise ValueError("not a cube literal at level 0 with its own bit as mask")
            self._set(event)
        elif kind is EventKind.DECIDE:
            self._check_complete()
            if event.mask != 0 or event.clause != -1:
                raise ValueError("a decision has mask 0 and clause -1")
            self.decisions.append(event.literal)
            self._set(event)
        elif kind is EventKind.CONFLICT:
            self._check_conflict(event)
        elif kind is EventKind.BACKTRACK:
            self._backtrack(event)
        self.previous = event

    def _check_conflict(self, event: Event) -> None:
        if event.level != len(self.decisions):
            raise ValueError(f"conflict level {event.level} differs from the current level")
        if event.clause == -1:
            bits = [1 << i for i, lit in enumerate(self.record.cube) if lit == event.literal]
            if not self._is_false(event.literal) or not bits:
                raise ValueError("clause -1 needs a cube literal that is already false")
            if event.mask != bits[0] | self._mask_of([event.literal]):
                raise ValueError("mask differs from the cube bit plus the falsifying literal's mask")
            return
        clause = self.formula.clauses[event.clause]
        if not all(self._is_false(lit) for lit in clause):
            raise ValueError(f"clause {event.clause} is not falsified")
        if event.mask != self._mask_of(clause):
            raise ValueError("mask differs from the union over the conflict clause")

    def _backtrack(self, event: Event) -> None:
        if self.previous is None or self.previous.kind is not EventKind.CONFLICT:
            raise ValueError("a backtrack must follow a conflict")
        if not self.decisions or event.literal != -self.decisions[-1]:
            raise ValueError("literal is not the negated decision of the current level")
        if event.mask != self.previous.mask:
            raise ValueError("mask differs from the conflict's mask")
        level = len(self.decisions)
        self.assigned = {var: entry for var, entry in self.assigned.items() if entry[1] < level}
        self.decisions.pop()
        self._set(event)

    def finish(self) -> None:
        record = self.record
        counts = {kind: 0 for kind in EventKind}
        for kind in record.kinds.tolist():
            counts[EventKind(kind)] += 1
        if (counts[EventKind.DECIDE], counts[EventKind.CONFLICT], counts[EventKind.BACKTRACK]) != \
                (record.decisions, record.conflicts, record.backtracks):
            raise ValueError("decision, conflict or backtrack counts differ from the events")

        if record.result is DpllResult.SAT:
            if self.formula.unsatisfied_clauses(record.model):
                raise ValueError("the model does not satisfy the formula")
            if any(record.model[abs(lit) - 1] != lit for lit, _, _ in self.assigned.values()):
                raise ValueError("the model disagrees with the trail")
        elif record.result is DpllResult.UNSAT:
            last = self.previous
            if last is None or last.kind is not EventKind.CONFLICT or last.level != 0:
                raise ValueError("an UNSAT record must end with a conflict at level 0")
            if last.mask != record.refuted_mask:
                raise ValueError("refuted_mask differs from the final conflict's mask")
