"""Words of 3-SAT traces: thread and group names, prompts, DPLL events and result messages.

Every SAT trace renders the same ground truth, the events of the traced DPLL solver
(`mplm_data.solvers.sat_derivation`), so the costs of the three formats are comparable.

Names. The coordinator (MPLM), parent (FJ) or only thread (CoT) is `main`. A cube thread is named
by its cube: its literals in split order joined by `&`, such as `15&-5` (MPLM thread, FJ fork
label). The only cube thread of a formula without split variables is `cube`. A cube thread's
prompt declares one group per proper subset S of its cube, named like a cube (`15`, or `15&-5`
inside a cube of three literals). It contains the other cube threads whose cube contains S. The
group `cubes` contains every other cube thread.

Words:
- literals are signed decimal numbers (`17`, `-17`); clause numbers count from 1 in file order;
- a formula is `cnf vars N clauses M`, then each clause's literals followed by `0`;
- DPLL events: `assume L`, `decide L`, `L from K` (clause K propagates L), `conflict K` (clause K
  is false), `conflict cube L` (cube literal L is already false), `backtrack L`;
- results: `sat` followed by the model (one literal per variable, variables 1..N in order), or
  `refuted` followed by the refuted subset of cube literals (nothing when the formula alone is
  refuted).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np

from mplm_data.generators.dimacs import Formula
from mplm_data.solvers.sat_derivation import DpllRecord, EventKind
from . import protocol as p

COORDINATOR = "main"
CUBES_GROUP = "cubes"
EMPTY_CUBE = "cube"
JOIN = "&"

CNF = "cnf"
VARS = "vars"
CLAUSES = "clauses"
END_CLAUSE = "0"
SPLIT = "split"
CUBES = "cubes"
CUBE = "cube"
ASSUME = "assume"
DECIDE = "decide"
FROM = "from"
CONFLICT = "conflict"
BACKTRACK = "backtrack"
SAT = "sat"
UNSAT = "unsat"
REFUTED = "refuted"

# Words the SAT renderers write besides numbers and literals. mplm-v1 encodes the ones it lacks
# (all but `from` and `refuted`) as `<unk>`, and cube names with `&` as well. Each still counts
# as one token, so costs hold, but a model cannot tell such words apart.
SAT_VOCABULARY: tuple[str, ...] = (
    COORDINATOR, CUBES_GROUP, CNF, VARS, CLAUSES, SPLIT, CUBE, ASSUME, DECIDE, FROM, CONFLICT,
    BACKTRACK, SAT, UNSAT, REFUTED,
)


def literal_words(literals: Sequence[int]) -> tuple[str, ...]:
    """Literals as words: `17`, `-17`."""
    return tuple(str(int(lit)) for lit in literals)


def parse_literals(words: Sequence[str]) -> tuple[int, ...]:
    """Read literal words back; raises ValueError for a word that is not a non-zero integer."""
    literals = []
    for word in words:
        try:
            lit = int(word)
        except ValueError:
            raise ValueError(f"{word!r} is not a literal; literals are signed integers such as "
                             f"17 or -17") from None
        if lit == 0:
            raise ValueError("0 is not a literal; variables count from 1")
        literals.append(lit)
    return tuple(literals)


def cube_name(cube: Sequence[int]) -> str:
    """Name of the thread of `cube`: its literals joined by `&`, or `cube` for the empty cube."""
    return JOIN.join(literal_words(cube)) if cube else EMPTY_CUBE


def subset_group(subset: Sequence[int]) -> str:
    """Name of the group of cube threads whose cube contains `subset` (`cubes` when empty)."""
    return JOIN.join(literal_words(subset)) if subset else CUBES_GROUP


def formula_words(formula: Formula) -> tuple[str, ...]:
    """The formula as prompt words: `cnf vars N clauses M`, then each clause and `0`."""
    words = [CNF, VARS, str(formula.n_vars), CLAUSES, str(formula.n_clauses)]
    for clause in formula.clauses:
        words.extend(literal_words(clause))
        words.append(END_CLAUSE)
    return tuple(words)


def formula_header(formula: Formula) -> tuple[str, ...]:
    """The formula's size without its clauses: `cnf vars N clauses M`."""
    return (CNF, VARS, str(formula.n_vars), CLAUSES, str(formula.n_clauses))


def cube_groups(cube: tuple[int, ...], cubes: Sequence[tuple[int, ...]]) -> tuple[str, ...]:
    """Group declarations of the thread of `cube`: one per proper subset of its literals.

    Subsets come by size, then in split order; each group lists the other cube threads whose
    cube contains the subset, in thread order.
    """
    words: list[str] = []
    for size in range(len(cube)):
        for subset in combinations(cube, size):
            members = [cube_name(other) for other in cubes
                       if other != cube and set(subset) <= set(other)]
            words += [p.GROUP, subset_group(subset), *members, p.GROUP_END]
    return tuple(words)


def event_words(record: DpllRecord) -> tuple[str, ...]:
    """The stored events of a DPLL record as words, in order (see the module docstring)."""
    words: list[str] = []
    kinds = record.kinds.tolist()
    literals = record.literals.tolist()
    clauses = record.clauses.tolist()
    for kind, lit, clause in zip(kinds, literals, clauses):
        if kind == EventKind.PROPAGATE:
            words += [str(lit), FROM, str(clause + 1)]
        elif kind == EventKind.DECIDE:
            words += [DECIDE, str(lit)]
        elif kind == EventKind.ASSUME:
            words += [ASSUME, str(lit)]
        elif kind == EventKind.BACKTRACK:
            words += [BACKTRACK, str(lit)]
        elif clause >= 0:
            words += [CONFLICT, str(clause + 1)]
        else:
            words += [CONFLICT, CUBE, str(lit)]
    return tuple(words)


def model_words(model: Sequence[int]) -> tuple[str, ...]:
    """A SAT result: `sat` and the model's literals."""
    return (SAT, *literal_words(model))


def refuted_words(subset: Sequence[int]) -> tuple[str, ...]:
    """An UNSAT result under a cube: `refuted` and the refuted subset of cube literals."""
    return (REFUTED, *literal_words(subset))


def covered(cubes: Sequence[tuple[int, ...]], subset: Sequence[int]) -> np.ndarray:
    """Boolean mask of the cubes that contain every literal of `subset`."""
    wanted = set(subset)
    return np.array([wanted <= set(cube) for cube in cubes], dtype=bool)
