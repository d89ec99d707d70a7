"""Random k-SAT formulas: uniform, planted, and SR(n) pairs in the style of NeuroSAT.

Kinds (`KsatKind`):
- uniform: m clauses of k distinct variables each, every variable negated with probability 1/2,
  no two clauses equal as sets of literals. m is `n_clauses`, or round(ratio * n_vars).
- planted: like uniform, but a hidden assignment is drawn first and clauses it falsifies are
  redrawn, so the formula is satisfiable by construction. The hidden assignment is recorded.
- sr: NeuroSAT's SR(n) (Selsam et al., "Learning a SAT Solver from Single-Bit Supervision",
  2019; its reference generator names the parameters pk2=0.30 and pg=0.40). Clauses of width
  1 + Bernoulli(0.3) + Geometric(0.4) (capped at n_vars) are added
  until python-sat reports UNSAT. Negating one random literal of the last clause then yields a
  satisfiable twin that differs from the UNSAT formula in that one literal. Item 2j is the UNSAT
  formula of pair j and item 2j + 1 its SAT twin, so SR items are balanced by construction.

With `balance=True`, uniform items alternate SAT (even index) and UNSAT (odd index): attempts are
drawn until python-sat gives the expected label. Item randomness comes from
`item_rng(seed, index, attempt)` (pair index in place of index for sr), so any item can be
regenerated alone and one seed gives the same formulas on every run.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

import numpy as np
from pysat.solvers import Solver, SolverNames

from .dimacs import Formula
from .errors import MplmDataError
from .seeding import item_rng

# Bump when the formulas produced for a given (config, seed, index) change.
GENERATOR_VERSION = "ksat-1"

MAX_VARS = 1_000_000
MAX_RATIO = 1000.0
# SR stops with an error past this many clauses per variable. Measured runs (seed 0, n = 10..40)
# became UNSAT after 3 to 8 clauses per variable.
SR_MAX_CLAUSES_PER_VAR = 100


class KsatKind(str, Enum):
    """Formula family; the value is stored in datasets."""

    UNIFORM = "uniform"
    PLANTED = "planted"
    SR = "sr"


@dataclass(frozen=True)
class KsatConfig:
    """Settings of one k-SAT family. `n_clauses`, when set, overrides `ratio`.

    `k` and `ratio` apply to uniform and planted formulas, `sr_bernoulli` and `sr_geometric` to
    the SR clause width. `solver` is the python-sat solver used for the `balance` and SR checks.
    """

    kind: KsatKind = KsatKind.UNIFORM
    n_vars: int = 20
    k: int = 3
    ratio: float = 4.26
    n_clauses: int | None = None
    balance: bool = False
    sr_bernoulli: float = 0.3
    sr_geometric: float = 0.4
    max_attempts: int = 1000
    solver: str = "minisat22"

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", KsatKind(self.kind))
        except ValueError:
            raise ValueError(f"kind must be one of {[kind.value for kind in KsatKind]}, "
                             f"got {self.kind!r}") from None

        _check_int("n_vars", self.n_vars, 1, MAX_VARS)
        _check_int("max_attempts", self.max_attempts, 1, 10**9)
        if not hasattr(SolverNames, self.solver):
            raise ValueError(f"solver must be a python-sat solver name such as 'minisat22' or "
                             f"'cadical153', got {self.solver!r}")
        if self.kind is KsatKind.SR:
            self._check_sr()
        else:
            self._check_fixed_width()

    def _check_fixed_width(self) -> None:
        _check_int("k", self.k, 1, self.n_vars)
        if not (math.isfinite(self.ratio) and 0 < self.ratio <= MAX_RATIO):
            raise ValueError(f"ratio must be in (0, {MAX_RATIO}], got {self.ratio!r}")
        if self.n_clauses is not None:
            _check_int("n_clauses", self.n_clauses, 0, 10**9)

        # Distinct clauses available: C(n, k) variable sets times 2^k sign patterns, of which
        # one pattern per set is falsified by a planted assignment.
        patterns = 2 ** self.k - (1 if self.kind is KsatKind.PLANTED else 0)
        available = math.comb(self.n_vars, self.k) * patterns
        if self.clause_count > available:
            raise ValueError(f"n_clauses={self.clause_count} exceeds the {available} distinct "
                             f"{self.k}-clauses over n_vars={self.n_vars}; lower the ratio or "
                             f"raise n_vars")
        if self.balance and self.kind is KsatKind.PLANTED:
            raise ValueError("balance=True needs UNSAT formulas, which the planted kind never "
                             "produces; use kind='uniform' or 'sr'")

    def _check_sr(self) -> None:
        if not 0.0 <= self.sr_bernoulli <= 1.0:
            raise ValueError(f"sr_bernoulli must be in [0, 1], got {self.sr_bernoulli!r}")
        if not 0.0 < self.sr_geometric <= 1.0:
            raise ValueError(f"sr_geometric must be in (0, 1], got {self.sr_geometric!r}")
        if self.n_clauses is not None:
            raise ValueError(f"n_clauses must be None for kind='sr', which adds clauses until "
                             f"UNSAT, got {self.n_clauses!r}")

    @property
    def clause_count(self) -> int:
        """Clauses per uniform or planted formula: `n_clauses`, or round(ratio * n_vars)."""
        if self.n_clauses is not None:
            return self.n_clauses
        return int(round(self.ratio * self.n_vars))


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")


@dataclass(frozen=True)
class KsatInstance:
    """One generated formula and what its construction established.

    `satisfiable` is None when nothing checked it (unbalanced uniform). `planted` is the hidden
    assignment as signed literals (planted kind only). `pair` is the SR pair index (sr only).
    `attempts` counts the formulas drawn for this item, 1 unless balancing rejected some.
    """

    formula: Formula
    kind: KsatKind
    seed: int
    index: int
    satisfiable: bool | None
    planted: tuple[int, ...] | None = None
    pair: int | None = None
    attempts: int = 1


def generate_ksat(config: KsatConfig, seed: int, index: int) -> KsatInstance:
    """Generate item `index` of the family `config` for the base `seed`."""
    if config.kind is KsatKind.SR:
        return _generate_sr_item(config, seed, index)
    if config.kind is KsatKind.PLANTED:
        rng = item_rng(seed, index, 0)
        formula, hidden = planted_ksat(config.n_vars, config.clause_count, config.k, rng)
        return KsatInstance(formula, config.kind, seed, index, True, planted=hidden)
    if not config.balance:
        formula = uniform_ksat(config.n_vars, config.clause_count, config.k, item_rng(seed, index, 0))
        return KsatInstance(formula, config.kind, seed, index, None)

    expected = index % 2 == 0
    for attempt in range(config.max_attempts):
        formula = uniform_ksat(config.n_vars, config.clause_count, config.k,
                               item_rng(seed, index, attempt))
        if _is_satisfiable(formula, config.solver) == expected:
            return KsatInstance(formula, config.kind, seed, index, expected, attempts=attempt + 1)
    raise MplmDataError(f"no {'SAT' if expected else 'UNSAT'} formula in {config.max_attempts} "
                        f"attempts for n_vars={config.n_vars}, n_clauses={config.clause_count}; "
                        f"move the ratio toward the satisfiability threshold (about 4.26 for k=3) "
                        f"or raise max_attempts")


def generate_ksat_batch(config: KsatConfig, seed: int, count: int, start: int = 0) -> Iterator[KsatInstance]:
    """Yield items start .. start + count - 1 of the family `config`."""
    _check_int("count", count, 0, 10**9)
    _check_int("start", start, 0, 10**12)
    for index in range(start, start + count):
        yield generate_ksat(config, seed, index)


def _random_clause(n_vars: int, width: int, rng: np.random.Generator) -> tuple[int, ...]:
    variables = np.sort(rng.choice(n_vars, size=width, replace=False)) + 1
    signs = rng.integers(0, 2, size=width)
    return tuple(int(var) if sign else -int(var) for var, sign in zip(variables, signs))


def uniform_ksat(n_vars: int, n_clauses: int, k: int, rng: np.random.Generator) -> Formula:
    """Draw a uniform random k-SAT formula with distinct variables per clause and no duplicate clause.

    Literals in each clause are sorted by variable. The caller guarantees that n_clauses distinct
    clauses exist (`KsatConfig` checks it).
    """
    clauses: list[tuple[int, ...]] = []
    seen: set[tuple[int, ...]] = set()
    while len(clauses) < n_clauses:
        clause = _random_clause(n_vars, k, rng)
        if clause not in seen:
            seen.add(clause)
            clauses.append(clause)
    return Formula(n_vars, tuple(clauses))


def planted_ksat(n_vars: int, n_clauses: int, k: int,
                 rng: np.random.Generator) -> tuple[Formula, tuple[int, ...]]:
    """Draw a k-SAT formula satisfied by a hidden random assignment; return it and the assignment."""
    bits = rng.integers(0, 2, size=n_vars)
    hidden = tuple(var if bit else -var for var, bit in zip(range(1, n_vars + 1), bits.tolist()))
    true_literals = set(hidden)

    clauses: list[tuple[int, ...]] = []
    seen: set[tuple[int, ...]] = set()
    while len(clauses) < n_clauses:
        clause = _random_clause(n_vars, k, rng)
        if clause in seen or not true_literals.intersection(clause):
            continue
        seen.add(clause)
        clauses.append(clause)
    return Formula(n_vars, tuple(clauses)), hidden


def sr_pair(n_vars: int, rng: np.random.Generator, *, bernoulli: float = 0.3,
            geometric: float = 0.4, solver: str = "minisat22") -> tuple[Formula, Formula]:
    """Draw an SR(n) pair (UNSAT formula, SAT twin) that differs in one literal of the last clause.

    Raises `MplmDataError` when no UNSAT formula appears within SR_MAX_CLAUSES_PER_VAR * n_vars
    clauses, or when python-sat reports the twin UNSAT, which would mean a solver bug.
    """
    clauses: list[tuple[int, ...]] = []
    limit = SR_MAX_CLAUSES_PER_VAR * n_vars
    with Solver(name=solver) as sat:
        while True:
            if len(clauses) >= limit:
                raise MplmDataError(f"SR({n_vars}) reached {limit} clauses without becoming UNSAT; "
                                    f"check sr_bernoulli and sr_geometric")
            width = min(n_vars, 1 + int(rng.binomial(1, bernoulli)) + int(rng.geometric(geometric)))
            clause = _random_clause(n_vars, width, rng)
            clauses.append(clause)
            sat.add_clause(clause)
            if not sat.solve():
                break

    last = list(clauses[-1])
    flipped = int(rng.integers(len(last)))
    last[flipped] = -last[flipped]
    unsat = Formula(n_vars, tuple(clauses))
    twin = Formula(n_vars, (*clauses[:-1], tuple(last)))

    # Every model of the first m - 1 clauses falsifies the whole last clause, so it satisfies the
    # flipped literal: the twin is SAT in theory. Check it anyway.
    if not _is_satisfiable(twin, solver):
        raise MplmDataError(f"SR({n_vars}) twin is UNSAT, which contradicts the construction; "
                            f"python-sat solver {solver!r} may be faulty")
    return unsat, twin


def _generate_sr_item(config: KsatConfig, seed: int, index: int) -> KsatInstance:
    pair = index // 2
    unsat, twin = sr_pair(config.n_vars, item_rng(seed, pair, 0), bernoulli=config.sr_bernoulli,
                          geometric=config.sr_geometric, solver=config.solver)
    satisfiable = index % 2 == 1
    formula = twin if satisfiable else unsat
    return KsatInstance(formula, config.kind, seed, index, satisfiable, pair=pair)


def _is_satisfiable(formula: Formula, solver: str) -> bool:
    with Solver(name=solver, bootstrap_with=formula.clauses) as sat:
        return bool(sat.solve())
