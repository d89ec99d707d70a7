"""Sudoku alphabets: how the digits of a grid are written as characters, and how to detect it.

An *alphabet* writes the digits 1..n of an n x n grid as one character each:
- canonical: `1-9`, then `A`, `B`, ... (`1-9A-G` for 16x16, `1-9A-P` for 25x25, `1-9A-Za` for
  36x36), the form of `grid_to_text` in sudoku_geometry;
- zero-based, for n >= 10: `0-9`, then `A`, `B`, ... (`0-F` for 16x16, where `0` is the digit 1);
- letters, for n <= 26: `A`, `B`, ... (`A-P` for 16x16, `A-Y` for 25x25).
The name `numbers` (`NUMBERS`) stands for decimal numbers 1..n separated by spaces or commas, which
sudoku_io handles without an Alphabet.

A blank cell is `.`, or `0` where `0` is not a digit. A *convention* is an alphabet plus its blank
symbol. `detect_convention` finds the one convention that every line of a file fits. Symbols are
case-sensitive, because the canonical 36x36 alphabet uses both `A` (10) and `a` (36).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterable

import numpy as np

from mplm_data.generators.errors import InputError
from mplm_data.generators.sudoku_geometry import MAX_SIZE, SYMBOLS, Geometry

NUMBERS = "numbers"

_ZERO_BASED = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _has_default_box(n: int) -> bool:
    try:
        Geometry.for_size(n)
    except ValueError:
        return False
    return True


# Grid sizes that a file can imply without an explicit `n`: those with a default box shape.
SIZES = tuple(n for n in range(4, MAX_SIZE + 1) if _has_default_box(n))


@dataclass(frozen=True)
class Alphabet:
    """Character symbols of the digits 1..n: digit d is written `symbols[d - 1]`."""

    name: str
    symbols: str

    @property
    def n(self) -> int:
        """Grid size that the alphabet writes."""
        return len(self.symbols)

    @property
    def blanks(self) -> str:
        """Characters allowed as the blank symbol: `.`, and `0` unless 0 is a digit."""
        return "." if "0" in self.symbols else ".0"


def _span(first: str, last: str) -> str:
    return first if first == last else f"{first}-{last}"


def char_alphabets(n: int) -> tuple[Alphabet, ...]:
    """List the character alphabets of an n x n grid: canonical, zero-based, then letters."""
    canonical = SYMBOLS[:n]
    name = _span("1", canonical[min(n, 9) - 1])
    if n > 9:
        name += _span("A", canonical[min(n, 35) - 1]) + ("a" if n == 36 else "")
    alphabets = [Alphabet(name, canonical)]

    if 10 <= n <= len(_ZERO_BASED):
        alphabets.append(Alphabet(_span("0", _ZERO_BASED[n - 1]), _ZERO_BASED[:n]))
    if n <= len(_LETTERS):
        alphabets.append(Alphabet(_span("A", _LETTERS[n - 1]), _LETTERS[:n]))
    return tuple(alphabets)


def alphabet_names(n: int) -> tuple[str, ...]:
    """Names accepted as `alphabet` for an n x n grid, `numbers` included."""
    return tuple(alphabet.name for alphabet in char_alphabets(n)) + (NUMBERS,)


def find_alphabet(name: str, n: int | None = None) -> Alphabet:
    """Look up a character alphabet by name, such as `0-F`; `n` restricts the grid size."""
    sizes = SIZES if n is None else (n,)
    for size in sizes:
        for alphabet in char_alphabets(size):
            if alphabet.name == name:
                return alphabet

    known = ", ".join(name for size in sizes for name in alphabet_names(size)[:-1])
    where = "" if n is None else f" for a {n}x{n} grid"
    raise InputError(f"alphabet {name!r} is unknown{where}; use one of {known}, or {NUMBERS}")


@dataclass(frozen=True)
class Convention:
    """An alphabet plus the one symbol that marks a blank."""

    alphabet: Alphabet
    blank: str

    @cached_property
    def accepted(self) -> frozenset[str]:
        """Characters valid in this convention: the symbols and the blank, case-sensitive."""
        return frozenset(self.alphabet.symbols + self.blank)

    @cached_property
    def table(self) -> np.ndarray:
        """Digit of each ASCII code, shape (128,), int8; -1 for characters outside the convention."""
        table = np.full(128, -1, dtype=np.int8)
        table[ord(self.blank)] = 0
        for digit, symbol in enumerate(self.alphabet.symbols, start=1):
            table[ord(symbol)] = digit
        return table

    def decode(self, texts: list[str], cells: int) -> np.ndarray:
        """Convert texts of `cells` accepted characters each to grids, shape (len(texts), cells), int8."""
        codes = np.frombuffer("".join(texts).encode("ascii"), dtype=np.uint8)
        grids = self.table[codes].reshape(len(texts), cells)
        if (grids < 0).any():
            raise ValueError("decode got characters outside the convention; run detect_convention "
                             "on the texts first")
        return grids

    def encode(self, grids: np.ndarray) -> list[str]:
        """Write each row of `grids` (shape (m, cells), digits 0..n) as one line of symbols."""
        symbols = np.frombuffer((self.blank + self.alphabet.symbols).encode("ascii"), dtype=np.uint8)
        return [row.tobytes().decode("ascii") for row in symbols[np.asarray(grids, dtype=np.intp)]]


def conventions_for(n: int, alphabet: str | None) -> list[Convention]:
    """List the conventions of an n x n grid, or those of the alphabet named `alphabet`."""
    alphabets = char_alphabets(n) if alphabet is None else (find_alphabet(alphabet, n),)
    return [Convention(a, blank) for a in alphabets for blank in a.blanks]


def describe(conventions: Iterable[Convention]) -> str:
    """Name conventions for a message, such as `1-9 (blank '.' or '0') or A-I (blank '.')`."""
    blanks: dict[str, list[str]] = {}
    for convention in conventions:
        blanks.setdefault(convention.alphabet.name, []).append(repr(convention.blank))
    return " or ".join(f"{name} (blank {' or '.join(marks)})" for name, marks in blanks.items())


def detect_convention(path: Path, units: list[tuple[int, str, str]],
                      conventions: list[Convention], geometry: Geometry) -> Convention:
    """Find the convention that every unit fits, or raise InputError naming the line.

    A unit is (line number, line text, characters of its cells). Raises when a line fits no
    remaining convention (an unknown symbol, or a convention other than that of earlier lines),
    and when the file fits several conventions that read to different grids.
    """
    remaining = conventions
    used: set[str] = set()
    for line, text, characters in units:
        symbols = set(characters)
        if symbols <= used:
            continue
        fitting = [convention for convention in remaining if symbols <= convention.accepted]
        if not fitting:
            _raise_symbol_error(path, line, text, characters, remaining, conventions, geometry)
        remaining = fitting
        used |= symbols

    # Conventions that map every used symbol to the same digit read the same puzzles.
    readings: dict[tuple[int, ...], list[Convention]] = {}
    for convention in remaining:
        key = tuple(int(convention.table[ord(symbol)]) for symbol in sorted(used))
        readings.setdefault(key, []).append(convention)
    if len(readings) > 1:
        raise InputError(f"the symbols of this file fit {describe(remaining)}, which read to "
                         f"different puzzles; pass the alphabet (--alphabet) to choose", path)
    return remaining[0]


def _raise_symbol_error(path: Path, line: int, text: str, characters: str,
                        remaining: list[Convention], conventions: list[Convention],
                        geometry: Geometry) -> None:
    symbols = set(characters)
    alone = [convention for convention in conventions if symbols <= convention.accepted]
    if alone:
        raise InputError(f"the line uses {describe(alone)}, but earlier lines use "
                         f"{describe(remaining)}; write the whole file in one alphabet with one "
                         f"blank symbol", path, line)

    # The first symbol that no remaining convention accepts together with the symbols before it.
    candidates = remaining
    for symbol in characters:
        narrowed = [convention for convention in candidates if symbol in convention.accepted]
        if not narrowed:
            break
        candidates = narrowed
    raise InputError(f"symbol {symbol!r} at column {text.find(symbol) + 1} is not valid in a "
                     f"{geometry.name} puzzle written in {describe(candidates)}; fix the symbol, "
                     f"or pass the alphabet (--alphabet) or size (--n) of the file", path, line)


