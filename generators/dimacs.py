"""CNF formulas and their DIMACS text form: the `Formula` type, a tolerant reader and a writer.

A *literal* is a non-zero signed int: `v` is variable v true, `-v` is variable v false. A *clause*
is a tuple of literals (their disjunction), and a `Formula` is `n_vars` plus a tuple of clauses
(their conjunction). Clause indices (0-based, in file order) are how solvers and traces refer to
clauses, so the reader keeps clauses exactly as written, duplicates and tautologies included.

DIMACS CNF as read here:
- `c ...` lines are comments, allowed anywhere, also between the lines of one clause.
- One `p cnf VARIABLES CLAUSES` header must come before the first clause.
- A clause is a run of literals ending in `0`. It may span several lines, and one line may hold
  several clauses. Tabs, CRLF line ends and repeated spaces are whitespace.
- A `0` with no literals before it is an explicit empty clause, which makes the formula UNSAT.
- A line starting with `%` ends the formula, and the reader ignores everything after it. SATLIB
  files end with `%`, `0` and a blank line, and that trailing `0` is not an empty clause.
- A last clause without its terminating `0` at the end of the input is accepted as a clause.
- Counts that disagree with the header (clause count, or a variable above the declared count)
  issue a `DimacsHeaderWarning`, or raise `InputError` when `strict=True`. The formula keeps
  max(declared, used) variables, because declared variables may legally go unused.
- gzip, bzip2 and xz files are recognised by their magic bytes, whatever their suffix.
"""

from __future__ import annotations

import bz2
import gzip
import itertools
import lzma
import os
import re
import tempfile
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError

# Solvers store literals as int32.
MAX_VARS = 2**31 - 1

_LITERAL = re.compile(r"[+-]?[0-9]+")
_MAGIC = ((b"\x1f\x8b", gzip.open), (b"BZh", bz2.open), (b"\xfd7zXZ\x00", lzma.open))
_WRITE_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


class DimacsHeaderWarning(UserWarning):
    """The `p cnf` header disagrees with the clauses that follow it."""


@dataclass(frozen=True)
class Formula:
    """A CNF formula over variables 1..n_vars; `clauses` is a tuple of tuples of literals.

    Lists and numpy integers are accepted and stored as tuples of Python ints.
    """

    n_vars: int
    clauses: tuple[tuple[int, ...], ...]

    # Cache of `to_arrays`, set on an instance by its first call. A class attribute without an
    # annotation is not a dataclass field, so it stays out of __init__, __eq__, __hash__ and repr.
    _arrays = None

    def __post_init__(self) -> None:
        if isinstance(self.n_vars, bool) or not isinstance(self.n_vars, (int, np.integer)) \
                or not 0 <= self.n_vars <= MAX_VARS:
            raise ValueError(f"n_vars must be an integer in [0, {MAX_VARS}], got {self.n_vars!r}")
        object.__setattr__(self, "n_vars", int(self.n_vars))

        clauses = tuple(tuple(int(lit) for lit in clause) for clause in self.clauses)
        for index, clause in enumerate(clauses):
            for lit in clause:
                if lit == 0 or abs(lit) > self.n_vars:
                    raise ValueError(f"clause {index} contains literal {lit}, but literals must "
                                     f"be non-zero with |literal| <= n_vars={self.n_vars}")
        object.__setattr__(self, "clauses", clauses)

    @property
    def n_clauses(self) -> int:
        """Number of clauses."""
        return len(self.clauses)

    def canonical(self) -> "Formula":
        """Return the canonical form: each clause's literals deduplicated and sorted by variable,
        then duplicate clauses removed and the clauses sorted.

        Two formulas with equal canonical forms are the same constraint up to clause and literal
        order, which is what split deduplication compares.
        """
        clauses = {tuple(sorted(set(clause), key=_literal_order)) for clause in self.clauses}
        ordered = sorted(clauses, key=lambda clause: (len(clause), [_literal_order(lit) for lit in clause]))
        return Formula(self.n_vars, tuple(ordered))

    def unsatisfied_clauses(self, assignment: Iterable[int]) -> list[int]:
        """Return the indices of clauses that no literal of `assignment` satisfies.

        `assignment` is a collection of signed literals; variables it leaves out satisfy nothing.
        """
        true_literals = set(int(lit) for lit in assignment)
        return [index for index, clause in enumerate(self.clauses)
                if not any(lit in true_literals for lit in clause)]

    def __getstate__(self) -> dict:
        # Pickles leave out the cached arrays, and the unpickled copy rebuilds them on its first
        # `to_arrays`.
        state = dict(self.__dict__)
        state.pop("_arrays", None)
        return state

    def to_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the clauses as flat `int32` literals and `int64` start offsets (length m + 1).

        The first call builds the arrays and caches them on the formula, and later calls return
        the same read-only arrays, because solvers convert one formula many times.
        """
        if self._arrays is None:
            object.__setattr__(self, "_arrays", self._build_arrays())
        return self._arrays

    def _build_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        lengths = np.fromiter(map(len, self.clauses), dtype=np.int64, count=self.n_clauses)
        starts = np.zeros(self.n_clauses + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        literals = np.fromiter(itertools.chain.from_iterable(self.clauses), dtype=np.int32,
                               count=int(starts[-1]))
        literals.flags.writeable = False
        starts.flags.writeable = False
        return literals, starts


def _literal_order(lit: int) -> tuple[int, int]:
    # Sort by variable, and put -v before v.
    return abs(lit), lit


def _open_text(path: Path) -> str:
    with open(path, "rb") as handle:
        head = handle.read(6)
    opener = next((open_ for magic, open_ in _MAGIC if head.startswith(magic)), None)
    if opener is None:
        data = path.read_bytes()
    else:
        with opener(path, "rb") as handle:
            data = handle.read()

    # DIMACS is ASCII. latin-1 maps every byte to one character, so a binary or foreign file
    # reaches the tokenizer and fails there with a line number instead of a decoding error.
    return data.decode("latin-1")


def read_dimacs(path: str | Path, *, strict: bool = False) -> Formula:
    """Read a DIMACS CNF file, plain or compressed; raise `InputError` naming file:line on bad input."""
    path = Path(path)
    return parse_dimacs(_open_text(path), source=str(path), strict=strict)


def parse_dimacs(text: str, *, source: str = "<string>", strict: bool = False) -> Formula:
    """Parse DIMACS CNF text; `source` names the input in errors and warnings."""
    header: tuple[int, int, int] | None = None  # (variables, clauses, line)
    clauses: list[tuple[int, ...]] = []
    current: list[int] = []
    max_var = 0

    for number, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        if not tokens or tokens[0].startswith("c"):
            continue
        if tokens[0].startswith("%"):
            break
        if tokens[0] == "p":
            if header is not None:
                raise InputError(f"duplicate 'p' header; remove it, the first one is on line {header[2]}",
                                 source, number)
            if clauses or current:
                raise InputError("'p cnf' header after the first clause; move it above the clauses",
                                 source, number)
            header = (*_parse_header(tokens, source, number), number)
            continue
        if header is None:
            raise InputError(f"expected a 'p cnf VARIABLES CLAUSES' header or a comment, found "
                             f"{tokens[0]!r}", source, number)

        for token in tokens:
            if not _LITERAL.fullmatch(token):
                raise InputError(f"invalid literal {token!r}; clause lines hold signed integers "
                                 f"and end each clause with 0", source, number)
            lit = int(token)
            if abs(lit) > MAX_VARS:
                raise InputError(f"literal {token} is out of range; variables must be at most "
                                 f"{MAX_VARS}", source, number)
            if lit == 0:
                clauses.append(tuple(current))
                current = []
            else:
                current.append(lit)
                max_var = max(max_var, abs(lit))

    if header is None:
        raise InputError("no 'p cnf VARIABLES CLAUSES' header found; this is not a DIMACS CNF file",
                         source)
    if current:
        # A last clause without its terminating 0 is accepted (see the module docstring).
        clauses.append(tuple(current))

    declared_vars, declared_clauses, header_line = header
    problems = []
    if len(clauses) != declared_clauses:
        problems.append(f"declares {declared_clauses} clauses but the file holds {len(clauses)}")
    if max_var > declared_vars:
        problems.append(f"declares {declared_vars} variables but the clauses use variable {max_var}")
    if problems:
        message = f"header 'p cnf {declared_vars} {declared_clauses}' " + " and ".join(problems)
        if strict:
            raise InputError(f"{message}; fix the header or read without strict", source, header_line)
        warnings.warn(f"{source}:{header_line}: {message}", DimacsHeaderWarning, stacklevel=2)

    return Formula(max(declared_vars, max_var), tuple(clauses))


def _parse_header(tokens: list[str], source: str, number: int) -> tuple[int, int]:
    if len(tokens) != 4 or tokens[1] != "cnf":
        raise InputError(f"invalid header {' '.join(tokens)!r}; expected 'p cnf VARIABLES CLAUSES'",
                         source, number)
    counts = []
    for token in tokens[2:]:
        if not token.isdigit():
            raise InputError(f"invalid count {token!r} in the 'p cnf' header; expected a "
                             f"non-negative integer", source, number)
        counts.append(int(token))
    if counts[0] > MAX_VARS:
        raise InputError(f"header declares {counts[0]} variables; at most {MAX_VARS} are supported",
                         source, number)
    return counts[0], counts[1]


def format_dimacs(formula: Formula, comments: Sequence[str] = ()) -> str:
    """Return the DIMACS text of `formula`: comment lines, a matching header, one clause per line."""
    lines = [f"c {comment}".rstrip() for text in comments for comment in text.splitlines()]
    lines.append(f"p cnf {formula.n_vars} {formula.n_clauses}")
    lines.extend(" ".join([*map(str, clause), "0"]) for clause in formula.clauses)
    return "\n".join(lines) + "\n"


def write_dimacs(formula: Formula, path: str | Path, comments: Sequence[str] = ()) -> Path:
    """Write `formula` to `path` atomically, compressed when the suffix is .gz, .bz2 or .xz."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = format_dimacs(formula, comments).encode("ascii")
    opener = _WRITE_OPENERS.get(path.suffix)

    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as raw:
            if opener is None:
                raw.write(data)
            else:
                with opener(raw, "wb") as compressed:
                    compressed.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
