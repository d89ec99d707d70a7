"""A forward checker for DRUP proofs, the UNSAT certificates that CDCL solvers emit.

A DRUP proof is a sequence of steps. An *addition* `l1 l2 ... 0` claims a lemma, a *deletion*
`d l1 l2 ... 0` removes one copy of a clause from the clause database. The database starts as the
formula's clauses. A lemma C is RUP (reverse unit propagation) when assigning every literal of C
false and running unit propagation over the active clauses ends in a conflict. The proof is valid
when every lemma up to the first empty lemma is RUP, checked in order, and that empty lemma exists.
Steps after the first empty lemma are ignored.

Checking details:
- Deletions are honoured for every clause, unit clauses included, which is stricter than
  drat-trim's default of ignoring unit deletions. A deletion matches an active clause with the
  same set of literals. A deletion that matches none is counted in `unmatched_deletions` and has
  no effect.
- Lemmas may use variables above the formula's `n_vars`.
- RAT lemmas (DRAT proofs) are not accepted: a lemma that is not RUP fails the check.

Each lemma is checked from an empty assignment with occurrence counters, in a Numba kernel.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

from mplm_data.generators.dimacs import Formula
from mplm_data.generators.errors import InputError

from .dpll_kernels import literal_index, occurrence_lists


@dataclass(frozen=True)
class ProofStep:
    """One DRUP step: a lemma added, or a clause deleted when `delete` is True."""

    delete: bool
    clause: tuple[int, ...]


@dataclass(frozen=True)
class ProofCheck:
    """Outcome of checking a proof.

    `failed_step` is the 0-based index of the first step that failed, or None. `lemmas` counts
    the lemmas checked, up to and including the empty lemma or the failed one.
    """

    valid: bool
    reason: str
    lemmas: int
    deletions: int
    unmatched_deletions: int
    failed_step: int | None = None


def parse_drup(lines: str | Iterable[str], source: str = "<proof>") -> list[ProofStep]:
    """Parse DRUP text (a string, or lines such as python-sat's `get_proof()`) into steps.

    Comment lines start with `c`. A step may span lines, and a line may hold several steps.
    """
    if isinstance(lines, str):
        lines = lines.splitlines()

    steps: list[ProofStep] = []
    current: list[int] = []
    delete = False
    number = 0
    for number, line in enumerate(lines, start=1):
        tokens = line.split()
        if tokens and tokens[0].startswith("c"):
            continue
        for token in tokens:
            if token == "d" and not current and not delete:
                delete = True
                continue
            try:
                lit = int(token)
            except ValueError:
                raise InputError(f"invalid proof token {token!r}; expected a literal, 0 or a "
                                 f"leading 'd' (binary DRAT is not supported)", source, number) from None
            if lit == 0:
                steps.append(ProofStep(delete, tuple(current)))
                current, delete = [], False
            else:
                current.append(lit)

    if current or delete:
        raise InputError("proof ends inside a step; every step must end with 0", source, number)
    return steps


def check_drup(formula: Formula, proof: str | Iterable[str] | Sequence[ProofStep]) -> ProofCheck:
    """Check a DRUP proof of unsatisfiability of `formula` by forward RUP checking.

    `proof` is DRUP text, DRUP lines, or parsed steps. Returns a `ProofCheck` and never raises
    for an invalid proof, only `InputError` for unparseable text.
    """
    steps = proof if _is_step_list(proof) else parse_drup(proof)  # type: ignore[arg-type]

    lemma_clauses = [step.clause for step in steps if not step.delete]
    all_clauses = [*formula.clauses, *lemma_clauses]
    n_vars = max([formula.n_vars, *(abs(lit) for clause in lemma_clauses for lit in clause)])
    literals, starts = Formula(n_vars, tuple(all_clauses)).to_arrays()

    step_clause, unmatched = _resolve_steps(formula, steps)
    step_delete = np.fromiter((step.delete for step in steps), dtype=np.bool_, count=len(steps))

    status, last_step = _check_steps(n_vars, literals, starts, formula.n_clauses,
                                     step_delete, step_clause)

    deletions = int(step_delete[: last_step + 1].sum()) if steps else 0
    lemmas = (last_step + 1 - deletions) if steps else 0
    if status == _VALID:
        return ProofCheck(True, f"empty clause derived at step {last_step}", lemmas, deletions,
                          unmatched)
    if status == _NOT_RUP:
        clause = " ".join(map(str, [*steps[last_step].clause, 0]))
        return ProofCheck(False, f"lemma at step {last_step} ({clause}) is not RUP: unit "
                          f"propagation on its negation finds no conflict", lemmas, deletions,
                          unmatched, failed_step=last_step)
    return ProofCheck(False, "the proof never derives the empty clause", lemmas, deletions,
                      unmatched)


def _is_step_list(proof: object) -> bool:
    return isinstance(proof, Sequence) and not isinstance(proof, str) and \
        all(isinstance(step, ProofStep) for step in proof)


def _resolve_steps(formula: Formula, steps: Sequence[ProofStep]) -> tuple[np.ndarray, int]:
    """Map each step to a clause id: lemma k gets id n_clauses + k, and a deletion gets the id of
    an active clause with the same literal set (-1 when none matches). Also count unmatched ones."""
    active: dict[frozenset[int], list[int]] = {}
    for index, clause in enumerate(formula.clauses):
        active.setdefault(frozenset(clause), []).append(index)

    step_clause = np.empty(len(steps), dtype=np.int64)
    next_lemma = formula.n_clauses
    unmatched = 0
    for index, step in enumerate(steps):
        key = frozenset(step.clause)
        if step.delete:
            copies = active.get(key)
            if copies:
                step_clause[index] = copies.pop()
            else:
                step_clause[index] = -1
                unmatched += 1
        else:
            step_clause[index] = next_lemma
            active.setdefault(key, []).append(next_lemma)
            next_lemma += 1
    return step_clause, unmatched


_VALID = 0
_NOT_RUP = 1
_NO_EMPTY_CLAUSE = 2


@njit(cache=True)
def _set_true(lit, value, trail, trail_size):
    """Make `lit` true and push it on the trail; return (trail size, conflict).

    A conflict means `lit` is already false; nothing is pushed then."""
    var = abs(lit)
    sign = 1 if lit > 0 else -1
    if value[var] == sign:
        return trail_size, False
    if value[var] == -sign:
        return trail_size, True
    value[var] = sign
    trail[trail_size] = lit
    return trail_size + 1, False


@njit(cache=True)
def _is_rup(lemma, literals, starts, active, active_empty, unit_clauses, offsets, occurrences,
            value, n_false, touched, trail):
    """Return True when unit propagation on the negation of clause `lemma` reaches a conflict.

    `value`, `n_false` and `touched` are scratch arrays that are zero on entry and on exit."""
    if active_empty > 0:
        return True

    trail_size = 0
    conflict = False
    for position in range(starts[lemma], starts[lemma + 1]):
        trail_size, conflict = _set_true(-literals[position], value, trail, trail_size)
        if conflict:
            break

    if not conflict:
        for unit in unit_clauses:
            if active[unit]:
                trail_size, conflict = _set_true(literals[starts[unit]], value, trail, trail_size)
                if conflict:
                    break

    n_touched = 0
    head = 0
    while not conflict and head < trail_size:
        falsified = -trail[head]
        head += 1
        index = literal_index(falsified)
        for slot in range(offsets[index], offsets[index + 1]):
            clause = occurrences[slot]
            if not active[clause]:
                continue
            if n_false[clause] == 0:
                touched[n_touched] = clause
                n_touched += 1
            n_false[clause] += 1
            length = starts[clause + 1] - starts[clause]
            if n_false[clause] == length:
                conflict = True
                break
            if n_false[clause] == length - 1:
                # One literal occurrence is not false yet: propagate it unless it is already true.
                for position in range(starts[clause], starts[clause + 1]):
                    lit = literals[position]
                    var = abs(lit)
                    if value[var] == 0:
                        value[var] = 1 if lit > 0 else -1
                        trail[trail_size] = lit
                        trail_size += 1
                        break
                    if (value[var] > 0) == (lit > 0):
                        break

    # Undo every assignment on the trail, including those not yet propagated.
    for position in range(trail_size):
        value[abs(trail[position])] = 0
    for position in range(n_touched):
        n_false[touched[position]] = 0
    return conflict


@njit(cache=True)
def _check_steps(n_vars, literals, starts, n_formula, step_delete, step_clause):
    """Run the proof steps in order; return (status, index of the last step examined)."""
    n_clauses = starts.shape[0] - 1
    offsets, occurrences = occurrence_lists(n_vars, literals, starts)

    active = np.zeros(n_clauses, dtype=np.bool_)
    active[:n_formula] = True
    active_empty = 0
    n_units = 0
    for clause in range(n_clauses):
        length = starts[clause + 1] - starts[clause]
        if length == 0 and clause < n_formula:
            active_empty += 1
        if length == 1:
            n_units += 1
    unit_clauses = np.empty(n_units, dtype=np.int64)
    n_units = 0
    for clause in range(n_clauses):
        if starts[clause + 1] - starts[clause] == 1:
            unit_clauses[n_units] = clause
            n_units += 1

    value = np.zeros(n_vars + 1, dtype=np.int8)
    n_false = np.zeros(n_clauses, dtype=np.int64)
    touched = np.empty(n_clauses, dtype=np.int64)
    trail = np.empty(n_vars + 1, dtype=np.int64)

    for step in range(step_delete.shape[0]):
        clause = step_clause[step]
        length = starts[clause + 1] - starts[clause] if clause >= 0 else -1
        if step_delete[step]:
            if clause >= 0 and active[clause]:
                active[clause] = False
                if length == 0:
                    active_empty -= 1
            continue

        if not _is_rup(clause, literals, starts, active, active_empty, unit_clauses, offsets,
                       occurrences, value, n_false, touched, trail):
            return _NOT_RUP, step
        if length == 0:
            return _VALID, step
        active[clause] = True
    return _NO_EMPTY_CLAUSE, step_delete.shape[0] - 1
