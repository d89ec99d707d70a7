"""Read and write Sudoku puzzle files in the common text forms.

`read_puzzles` returns a `PuzzleFile`: one geometry, the puzzles as an (m, n*n) int8 array
(0 = blank), the 1-based line where each puzzle starts, and the given solutions when the file has
a solution column. `write_puzzles` writes the same forms, atomically.

Layouts:
- `line`: one puzzle per line, one character per cell (81 characters for 9x9), or n*n
  numbers separated by spaces or commas.
- `grid`: n rows of n cells per puzzle. Cells are characters or numbers, optionally separated by
  spaces, commas or `|`. Rule lines made of `-`, `+` and `=`, and blank lines, may separate bands
  of rows; puzzles follow one another every n rows.
- `csv`: a `puzzle` field and an optional `solution` field per line, each in the line layout;
  the header line is optional.

Cells are written in an alphabet (canonical `1-9A-...`, zero-based `0-F`, letters `A-P`, or
`numbers`) with `.` or `0` as the blank; sudoku_alphabets describes them. Every line of a file must
use one alphabet and one blank symbol, and `read_puzzles` detects them unless the file fits several
that read to different grids. Lines starting with `#` are comments. LF, CRLF and CR line ends are
accepted, and the last line may lack its line end. Byte-order marks are skipped.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mplm_data.generators.errors import InputError
from mplm_data.generators.sudoku_geometry import MAX_SIZE, Geometry, check_givens
from mplm_data.sudoku_alphabets import (NUMBERS, SIZES, Convention, conventions_for,
                                        detect_convention, find_alphabet)

LAYOUTS = ("line", "grid", "csv")

_SEPARATORS = re.compile(r"[\s|,]+")
_TOKEN = re.compile(r"[^\s|,]+")
_RULE_CHARACTERS = frozenset("-+=|:_ \t")
_NUMBER_TOKEN = re.compile(r"\d{1,2}|\.")
_PUZZLE_COLUMNS = ("puzzle", "puzzles", "quiz", "quizzes")
_SOLUTION_COLUMNS = ("solution", "solutions")


@dataclass(frozen=True)
class PuzzleFile:
    """Puzzles read from one file, all of one geometry."""

    path: Path
    geometry: Geometry
    layout: str
    alphabet: str
    lines: np.ndarray
    """1-based line where each puzzle starts, shape (m,), int64."""
    puzzles: np.ndarray
    """Puzzles, shape (m, n*n), int8, 0 for a blank."""
    solutions: np.ndarray | None
    """Given solutions, shape (m, n*n), int8, or None when the file has no solution column."""

    def __len__(self) -> int:
        return len(self.lines)


@dataclass(frozen=True)
class _Row:
    """A line that contains cells: its number, its text and its cell tokens."""

    line: int
    text: str
    tokens: tuple[str, ...]
    after_break: bool


def _read_rows(path: Path) -> list[_Row]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b"\n") + 1
        raise InputError(f"byte 0x{raw[err.start]:02x} is not UTF-8 text; save the file as UTF-8 "
                         f"or ASCII", path, line) from err

    rows: list[_Row] = []
    after_break = False
    for number, line in enumerate(re.split(r"\r\n|\r|\n", text), start=1):
        stripped = line.strip()
        if stripped.startswith("#"):
            continue
        if not stripped or (set(stripped) <= _RULE_CHARACTERS and set(stripped) & set("-+=")):
            after_break = True
            continue
        tokens = tuple(token for token in _SEPARATORS.split(stripped) if token)
        rows.append(_Row(number, line, tokens, after_break))
        after_break = False
    return rows


def read_puzzles(path: str | Path, alphabet: str | None = None, n: int | None = None, *,
                 box_rows: int | None = None) -> PuzzleFile:
    """Read every puzzle of a file in any supported form, detecting the layout and convention.

    `alphabet` (a name from `alphabet_names`) and `n` settle files that fit several forms, and
    `box_rows` selects a box shape other than the default one for n. Raises InputError with the
    file and line for a malformed file, an ambiguous one, or a puzzle that repeats a digit in a
    row, column or box.
    """
    path = Path(path)
    rows = _read_rows(path)
    if not rows:
        raise InputError("the file contains no puzzles, only comments or blank lines", path)
    if n is None and alphabet not in (None, NUMBERS):
        n = find_alphabet(alphabet).n

    header = _csv_header(rows)
    if header is not None:
        return _read_csv(path, rows, header, alphabet, n, box_rows)
    return _read_cells(path, rows, alphabet, n, box_rows)


def _geometry(n: int, box_rows: int | None, path: Path) -> Geometry:
    try:
        return Geometry.for_size(n, box_rows=box_rows)
    except ValueError as err:
        raise InputError(str(err), path) from err


def _csv_fields(row: _Row) -> list[str]:
    return [field.strip() for field in next(csv.reader([row.text.strip()]))]


def _csv_header(rows: list[_Row]) -> list[str] | None:
    """Return the column names of a CSV file ([] when it has no header), or None for other files.

    The first line is a header when it names a puzzle column, or when its fields are short and
    the next line has grid-sized fields.
    """
    first = _csv_fields(rows[0])
    if any(field.lower() in _PUZZLE_COLUMNS for field in first):
        return [field.lower() for field in first]
    if "," not in rows[0].text:
        return None

    grid_sized = SIZES[0] ** 2
    if max(map(len, first)) >= grid_sized:
        return []
    if len(rows) > 1 and "," in rows[1].text and max(map(len, _csv_fields(rows[1]))) >= grid_sized:
        return [field.lower() for field in first]
    return None


def _csv_columns(header: list[str], width: int, path: Path) -> tuple[int, int | None]:
    """Return the indexes of the puzzle and solution columns."""
    if header:
        puzzle = next((header.index(name) for name in _PUZZLE_COLUMNS if name in header), None)
        solution = next((header.index(name) for name in _SOLUTION_COLUMNS if name in header), None)
        if puzzle is not None:
            return puzzle, solution
    if width <= 2:
        return 0, (1 if width == 2 else None)
    raise InputError(f"the CSV file has {width} columns and no column named puzzle; add a header "
                     f"that names the puzzle and solution columns", path, 1)


def _read_csv(path: Path, rows: list[_Row], header: list[str], alphabet: str | None,
              n: int | None, box_rows: int | None) -> PuzzleFile:
    if alphabet == NUMBERS:
        raise InputError(f"CSV fields have one character per cell, so alphabet {NUMBERS!r} does "
                         f"not apply; pass a character alphabet or none", path)
    data = rows[1:] if header else rows
    if not data:
        raise InputError("the CSV file has a header but no puzzles", path)

    width = len(header) if header else len(_csv_fields(data[0]))
    puzzle_column, solution_column = _csv_columns(header, width, path)
    cells = len(_csv_fields(data[0])[puzzle_column])
    size = round(cells ** 0.5)
    if n is None and (size * size != cells or size not in SIZES):
        raise InputError(f"the puzzle field has {cells} characters, which is not n*n for a grid "
                         f"size n in {SIZES}; check the field or pass n (--n)", path, data[0].line)
    geometry = _geometry(size if n is None else n, box_rows, path)

    puzzles: list[str] = []
    solutions: list[str] = []
    units: list[tuple[int, str, str]] = []
    for row in data:
        fields = _csv_fields(row)
        if len(fields) != width:
            raise InputError(f"the line has {len(fields)} fields, but the file has {width} columns; "
                             f"give every line one field per column", path, row.line)
        puzzle = fields[puzzle_column]
        solution = "" if solution_column is None else fields[solution_column]
        for kind, text in (("puzzle", puzzle), ("solution", solution)):
            if (kind == "puzzle" or solution_column is not None) and len(text) != geometry.cells:
                raise InputError(f"the {kind} field has {len(text)} characters; a {geometry.name} "
                                 f"{kind} has {geometry.cells}, one per cell", path, row.line)
        puzzles.append(puzzle)
        solutions.append(solution)
        units.append((row.line, row.text, puzzle + solution))

    convention = detect_convention(path, units, conventions_for(geometry.n, alphabet), geometry)
    lines = np.array([row.line for row in data], dtype=np.int64)
    puzzle_grids = convention.decode(puzzles, geometry.cells)
    _check_grids(path, puzzle_grids, lines, geometry, "puzzle")

    solution_grids = None
    if solution_column is not None:
        solution_grids = convention.decode(solutions, geometry.cells)
        _check_grids(path, solution_grids, lines, geometry, "solution")
    return PuzzleFile(path, geometry, "csv", convention.alphabet.name, lines, puzzle_grids,
                      solution_grids)


def _is_numbers(rows: list[_Row], alphabet: str | None) -> bool:
    """Decide whether tokens are numbers (`0 11 9 ...`) rather than runs of symbol characters."""
    if alphabet is not None:
        return alphabet == NUMBERS
    if len(rows[0].tokens) < SIZES[0]:
        return False

    multi_digit = False
    for row in rows:
        for token in row.tokens:
            if not _NUMBER_TOKEN.fullmatch(token):
                return False
            multi_digit = multi_digit or len(token) > 1
    # Two-digit tokens up to MAX_SIZE are numbers; longer runs such as `530070000` are characters.
    return multi_digit and max(int(token) for row in rows for token in row.tokens
                               if token != ".") <= MAX_SIZE


def _read_cells(path: Path, rows: list[_Row], alphabet: str | None, n: int | None,
                box_rows: int | None) -> PuzzleFile:
    numbers = _is_numbers(rows, alphabet)
    first = _cell_count(rows[0], numbers)
    unit = "values" if numbers else "cells"

    options: list[tuple[str, int]] = []
    for layout, size in (("line", round(first ** 0.5)), ("grid", first)):
        cells = size * size if layout == "line" else size
        if cells == first and (size == n or (n is None and size in SIZES)):
            options.append((layout, size))
    if not options:
        expected = f"{n * n} or {n}" if n is not None else "n*n or n, for a grid size n in " + str(SIZES)
        raise InputError(f"the line has {first} {unit}; a puzzle line has {expected} {unit} (a whole "
                         f"puzzle or one row of it); check the file or pass n (--n)",
                         path, rows[0].line)
    if len(options) == 1:
        return _parse_cells(path, rows, numbers, *options[0], alphabet, box_rows)

    # 16 or 36 cells per line: 4x4 or 6x6 puzzles one per line, or rows of 16x16 or 36x36 grids.
    results: list[PuzzleFile] = []
    errors: list[InputError] = []
    for layout, size in options:
        try:
            results.append(_parse_cells(path, rows, numbers, layout, size, alphabet, box_rows))
        except InputError as err:
            errors.append(err)
    if len(results) == 1:
        return results[0]
    if results:
        small, large = options[0][1], options[1][1]
        raise InputError(f"lines of {first} {unit} read both as {small}x{small} puzzles and as rows "
                         f"of {large}x{large} puzzles; pass n (--n) to choose", path)
    raise errors[1 if len(rows) % first == 0 else 0]


def _cell_count(row: _Row, numbers: bool) -> int:
    return len(row.tokens) if numbers else sum(map(len, row.tokens))


def _parse_cells(path: Path, rows: list[_Row], numbers: bool, layout: str, n: int,
                 alphabet: str | None, box_rows: int | None) -> PuzzleFile:
    geometry = _geometry(n, box_rows, path)
    width = geometry.cells if layout == "line" else n
    unit = "values" if numbers else "cells"
    for row in rows:
        count = _cell_count(row, numbers)
        if count != width and layout == "line":
            raise InputError(f"the line has {count} {unit}, but every line of this file is one "
                             f"{geometry.name} puzzle of {width} {unit}, like line {rows[0].line}",
                             path, row.line)
        if count != width:
            raise InputError(f"the row has {count} {unit}; every row of a {geometry.name} puzzle "
                             f"has {width}", path, row.line)

    groups = [[row] for row in rows] if layout == "line" else _group_rows(path, rows, geometry)
    lines = np.array([group[0].line for group in groups], dtype=np.int64)
    if numbers:
        puzzles = _decode_numbers(path, groups, geometry)
        name = NUMBERS
    else:
        units = [(row.line, row.text, "".join(row.tokens)) for row in rows]
        convention = detect_convention(path, units, conventions_for(n, alphabet), geometry)
        texts = ["".join(token for row in group for token in row.tokens) for group in groups]
        puzzles = convention.decode(texts, geometry.cells)
        name = convention.alphabet.name

    _check_grids(path, puzzles, lines, geometry, "puzzle")
    return PuzzleFile(path, geometry, layout, name, lines, puzzles, None)


def _group_rows(path: Path, rows: list[_Row], geometry: Geometry) -> list[list[_Row]]:
    """Split rows into puzzles of n rows; blank and rule lines may only fall between bands."""
    groups: list[list[_Row]] = []
    for index, row in enumerate(rows):
        position = index % geometry.n
        if position == 0:
            groups.append([])
        elif row.after_break and position % geometry.box_rows:
            raise InputError(f"a blank or rule line interrupts the puzzle that starts on line "
                             f"{groups[-1][0].line} after {position} rows; a {geometry.name} "
                             f"puzzle has {geometry.n} rows in bands of {geometry.box_rows}",
                             path, row.line)
        groups[-1].append(row)

    if len(groups[-1]) < geometry.n:
        raise InputError(f"the file ends after {len(groups[-1])} of the {geometry.n} rows of the "
                         f"puzzle that starts here; complete or remove it", path, groups[-1][0].line)
    return groups


def _decode_numbers(path: Path, groups: list[list[_Row]], geometry: Geometry) -> np.ndarray:
    puzzles = np.empty((len(groups), geometry.cells), dtype=np.int8)
    for index, group in enumerate(groups):
        values: list[int] = []
        for row in group:
            for position, token in enumerate(row.tokens):
                value = 0 if token == "." else int(token) if token.isdigit() else -1
                if not 0 <= value <= geometry.n:
                    column = [m.start() for m in _TOKEN.finditer(row.text)][position] + 1
                    raise InputError(f"value {token!r} at column {column} is not valid in a "
                                     f"{geometry.name} puzzle; write a digit as a number 1.."
                                     f"{geometry.n} and a blank as 0 or '.'", path, row.line)
                values.append(value)
        puzzles[index] = values
    return puzzles


def _check_grids(path: Path, grids: np.ndarray, lines: np.ndarray, geometry: Geometry,
                 kind: str) -> None:
    """Raise InputError for the first grid that repeats a digit in a unit or is an incomplete solution."""
    if kind == "solution":
        blank_rows = np.flatnonzero((grids == 0).any(axis=1))
        if blank_rows.size:
            index = int(blank_rows[0])
            raise InputError(f"the solution has {int((grids[index] == 0).sum())} blank cells; a "
                             f"solution fills every cell", path, int(lines[index]))

    # Sort each unit's values; a repeated digit shows up as two equal non-zero neighbours.
    for start in range(0, len(grids), 1 << 14):
        chunk = np.sort(grids[start:start + (1 << 14)][:, geometry.units], axis=2)
        repeated = ((chunk[:, :, 1:] == chunk[:, :, :-1]) & (chunk[:, :, 1:] > 0)).any(axis=(1, 2))
        for index in np.flatnonzero(repeated)[:1] + start:
            try:
                check_givens(grids[index], geometry)
            except InputError as err:
                raise InputError(f"{kind}: {err.message}", path, int(lines[index])) from err


def format_puzzle(grid: np.ndarray, geometry: Geometry, *, layout: str = "line",
                  alphabet: str | None = None, blank: str = ".") -> str:
    """Write one grid as text without a final line end, in the `line` or `grid` layout.

    `alphabet` defaults to the canonical one. The grid layout separates boxes with `|` and bands
    with rule lines, or, for `numbers`, with extra spaces and blank lines.
    """
    if layout not in ("line", "grid"):
        raise ValueError(f"layout {layout!r} is invalid for one grid; use 'line' or 'grid'")
    grid = np.asarray(grid).reshape(geometry.n, geometry.n)
    cells = _cell_texts(grid, geometry, alphabet, blank)
    if layout == "line":
        return (" " if alphabet == NUMBERS else "").join(cells)

    numbers = alphabet == NUMBERS
    rows = []
    for row in range(geometry.n):
        boxes = [" ".join(cells[row * geometry.n + col:row * geometry.n + col + geometry.box_cols])
                 for col in range(0, geometry.n, geometry.box_cols)]
        if row and row % geometry.box_rows == 0:
            rows.append("" if numbers else "-+-".join("-" * len(box) for box in boxes))
        rows.append(("   " if numbers else " | ").join(boxes))
    return "\n".join(rows)


def _cell_texts(grid: np.ndarray, geometry: Geometry, alphabet: str | None, blank: str) -> list[str]:
    values = np.asarray(grid, dtype=np.int64).ravel()
    if values.min() < 0 or values.max() > geometry.n:
        raise ValueError(f"grid values range over {values.min()}..{values.max()}; a "
                         f"{geometry.name} grid has digits 1..{geometry.n} and 0 for a blank")
    if alphabet == NUMBERS:
        if blank not in ".0":
            raise ValueError(f"blank {blank!r} is invalid for {NUMBERS}; use '.' or '0'")
        return [blank if value == 0 else str(value) for value in values.tolist()]

    symbols = find_alphabet(alphabet, geometry.n) if alphabet else conventions_for(geometry.n, None)[0].alphabet
    if blank not in symbols.blanks:
        raise ValueError(f"blank {blank!r} is invalid for alphabet {symbols.name}; use one of "
                         f"{list(symbols.blanks)}")
    return list(Convention(symbols, blank).encode(values[None, :])[0])


def write_puzzles(path: str | Path, grids: np.ndarray, geometry: Geometry, *,
                  solutions: np.ndarray | None = None, layout: str = "line",
                  alphabet: str | None = None, blank: str = ".") -> int:
    """Write grids to a text file and return how many were written.

    The defaults give the canonical form: one line per grid, `.` for a blank. `layout="csv"`
    writes a `puzzle` (and `solution`) header, then one line per grid; solutions need that layout.
    The file appears under its name only when complete.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout {layout!r} is invalid; use one of {LAYOUTS}")
    if solutions is not None and layout != "csv":
        raise ValueError(f"solutions are written only in the csv layout, not {layout!r}")
    if layout == "csv" and alphabet == NUMBERS:
        raise ValueError(f"the csv layout writes one character per cell, so alphabet {NUMBERS!r} "
                         f"does not apply")

    grids = np.asarray(grids).reshape(-1, geometry.cells)
    if layout == "csv":
        texts = [format_puzzle(grid, geometry, alphabet=alphabet, blank=blank) for grid in grids]
        if solutions is not None:
            solutions = np.asarray(solutions).reshape(-1, geometry.cells)
            if len(solutions) != len(grids):
                raise ValueError(f"got {len(solutions)} solutions for {len(grids)} grids; pass one "
                                 f"solution per grid")
            texts = [f"{puzzle},{format_puzzle(solution, geometry, alphabet=alphabet, blank=blank)}"
                     for puzzle, solution in zip(texts, solutions)]
        lines = ["puzzle" if solutions is None else "puzzle,solution", *texts]
    else:
        separator = "\n\n" if layout == "grid" else "\n"
        lines = [separator.join(format_puzzle(grid, geometry, layout=layout, alphabet=alphabet,
                                              blank=blank) for grid in grids)]

    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        temporary.write_text("\n".join(lines) + "\n", encoding="ascii")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return len(grids)
