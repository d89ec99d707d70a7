"""Tests for reading and writing Sudoku puzzle files (mplm_data.sudoku_io).

Expected grids are built here from a closed-form valid grid and written with encoders local to
this file, so a reader bug cannot hide behind the same bug in the writer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mplm_data.generators.errors import InputError
from mplm_data.generators.sudoku_geometry import Geometry
from mplm_data.sudoku_alphabets import NUMBERS, alphabet_names
from mplm_data.sudoku_io import format_puzzle, read_puzzles, write_puzzles


def pattern_solution(geometry: Geometry) -> np.ndarray:
    """A valid complete grid: row r is the base row shifted by r*box_cols + r//box_rows."""
    rows = np.arange(geometry.n)[:, None]
    cols = np.arange(geometry.n)[None, :]
    shift = rows * geometry.box_cols + rows // geometry.box_rows
    return ((shift + cols) % geometry.n + 1).astype(np.int8).ravel()


def write_text(tmp_path: Path, text: str, name: str = "puzzles.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


# The same 16x16 puzzle in three alphabets; digit d is written symbols[d].
SIXTEEN_ALPHABETS = {"0-F": ".0123456789ABCDEF", "1-9A-G": ".123456789ABCDEFG", "A-P": ".ABCDEFGHIJKLMNOP"}


@pytest.mark.parametrize("alphabet", sorted(SIXTEEN_ALPHABETS))
def test_read_16x16_alphabets_give_one_grid(tmp_path: Path, alphabet: str) -> None:
    geometry = Geometry.for_size(16)
    puzzle = pattern_solution(geometry)
    puzzle[5::3] = 0
    symbols = SIXTEEN_ALPHABETS[alphabet]
    path = write_text(tmp_path, "".join(symbols[v] for v in puzzle) + "\n")

    result = read_puzzles(path)

    assert result.geometry == geometry
    assert result.alphabet == alphabet
    np.testing.assert_array_equal(result.puzzles[0], puzzle)


@st.composite
def puzzle_sets(draw: st.DrawFn, n: int) -> np.ndarray:
    """One to three valid grids of size n: a relabelled pattern grid with random blanks."""
    geometry = Geometry.for_size(n)
    grids = []
    for _ in range(draw(st.integers(1, 3))):
        labels = np.array([0, *draw(st.permutations(range(1, n + 1)))], dtype=np.int8)
        blanks = np.array(draw(st.lists(st.booleans(), min_size=geometry.cells,
                                        max_size=geometry.cells)))
        grid = labels[pattern_solution(geometry)]
        grid[blanks] = 0
        grids.append(grid)
    return np.stack(grids)


FORMS = [(n, layout, alphabet, blank)
         for n in (4, 9, 16, 25)
         for alphabet in alphabet_names(n)
         for layout in ("line", "grid", "csv") if not (layout == "csv" and alphabet == NUMBERS)
         for blank in (".", "0") if not (blank == "0" and alphabet.startswith("0-"))]


@pytest.mark.parametrize(("n", "layout", "alphabet", "blank"), FORMS)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_write_read_round_trip(tmp_path: Path, n: int, layout: str, alphabet: str, blank: str,
                               data: st.DataObject) -> None:
    grids = data.draw(puzzle_sets(n))
    geometry = Geometry.for_size(n)
    path = tmp_path / f"round-trip-{layout}.txt"

    write_puzzles(path, grids, geometry, layout=layout, alphabet=alphabet, blank=blank)
    explicit = read_puzzles(path, alphabet=alphabet, n=n)

    np.testing.assert_array_equal(explicit.puzzles, grids)
    assert explicit.geometry == geometry
    assert explicit.layout == layout
    assert explicit.solutions is None


@pytest.mark.parametrize("n", [4, 9, 16, 25])
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_read_detected_alphabet_matches_or_raises(tmp_path: Path, n: int, data: st.DataObject) -> None:
    grids = data.draw(puzzle_sets(n))
    alphabet = data.draw(st.sampled_from(alphabet_names(n)))
    layout = data.draw(st.sampled_from(["line", "grid"]))
    path = tmp_path / "detect.txt"
    write_puzzles(path, grids, Geometry.for_size(n), layout=layout, alphabet=alphabet)

    try:
        detected = read_puzzles(path)
    except InputError as err:
        # Sparse grids may fit several alphabets or sizes; the error must name the way out.
        assert "--alphabet" in str(err) or "--n" in str(err)
    else:
        np.testing.assert_array_equal(detected.puzzles, grids)


def test_read_csv_with_solutions_round_trip(tmp_path: Path) -> None:
    geometry = Geometry.for_size(9)
    solution = pattern_solution(geometry)
    puzzle = solution.copy()
    puzzle[::2] = 0
    path = tmp_path / "pairs.csv"

    write_puzzles(path, [puzzle, puzzle], geometry, solutions=[solution, solution], layout="csv")
    result = read_puzzles(path)

    assert path.read_text().splitlines()[0] == "puzzle,solution"
    assert result.layout == "csv"
    assert list(result.lines) == [2, 3]
    np.testing.assert_array_equal(result.solutions, [solution, solution])


@pytest.mark.parametrize("n", [9, 16])
def test_read_compact_and_ruled_grids(tmp_path: Path, n: int) -> None:
    geometry = Geometry.for_size(n)
    grid = pattern_solution(geometry)
    grid[1::4] = 0
    symbols = ".123456789ABCDEFG"
    rows = ["".join(symbols[v] for v in grid[r * n:(r + 1) * n]) for r in range(n)]
    ruled = format_puzzle(grid, geometry, layout="grid")
    path = write_text(tmp_path, "\n".join(rows) + "\n\n" + ruled + "\n")

    result = read_puzzles(path)

    assert result.layout == "grid"
    assert list(result.lines) == [1, n + 2]
    np.testing.assert_array_equal(result.puzzles, [grid, grid])


def test_read_comments_crlf_and_no_final_newline(tmp_path: Path) -> None:
    geometry = Geometry.for_size(9)
    grid = pattern_solution(geometry)
    grid[::3] = 0
    line = "".join(".123456789"[v] for v in grid)
    path = write_text(tmp_path, f"# header\n#\r\n{line}\r\n\r\n{line}")

    result = read_puzzles(path)

    assert list(result.lines) == [3, 5]
    np.testing.assert_array_equal(result.puzzles, [grid, grid])


def test_read_36x36_canonical_line(tmp_path: Path) -> None:
    geometry = Geometry.for_size(36)
    grid = pattern_solution(geometry)
    grid[1::4] = 0
    # The symbol `a` (36) tells the canonical alphabet from the zero-based `0-Z`.
    assert (grid == 36).any()
    symbols = ".123456789ABCDEFGHIJKLMNOPQRSTUVWXYZa"
    path = write_text(tmp_path, "".join(symbols[v] for v in grid) + "\n")

    result = read_puzzles(path)

    assert result.geometry == geometry
    assert result.alphabet == "1-9A-Za"
    np.testing.assert_array_equal(result.puzzles[0], grid)


def test_read_ambiguous_16x16_names_alphabets(tmp_path: Path) -> None:
    # Only digits 2..15 appear, so 0-F and 1-9A-G read the same symbols as different digits.
    line = "123456789ABCDE" + "." * 242
    path = write_text(tmp_path, line + "\n")

    with pytest.raises(InputError) as caught:
        read_puzzles(path)

    message = str(caught.value)
    assert "0-F" in message
    assert "1-9A-G" in message
    assert "--alphabet" in message
    assert read_puzzles(path, alphabet="0-F").puzzles[0, 0] == 2
    assert read_puzzles(path, alphabet="1-9A-G").puzzles[0, 0] == 1


def nine_by_nine_line(blank: str = ".") -> str:
    grid = pattern_solution(Geometry.for_size(9))
    grid[::2] = 0
    return "".join((blank + "123456789")[v] for v in grid)


BAD_FILES = [
    ("wrong_length", nine_by_nine_line() + "\n" + nine_by_nine_line()[:-1] + "\n", 2, "80 cells"),
    ("unknown_symbol", nine_by_nine_line() + "\n" + "X" + nine_by_nine_line()[1:] + "\n", 2,
     "symbol 'X' at column 1"),
    ("mixed_blanks", nine_by_nine_line(".") + "\n" + nine_by_nine_line("0") + "\n", 2,
     "earlier lines use"),
    ("duplicate_given", "11" + "." * 79 + "\n", 1, "given twice in row 1"),
    ("csv_field_count", f"{nine_by_nine_line()},{'1' * 81}\n{nine_by_nine_line()}\n", 2,
     "1 fields"),
    ("short_grid", "123456789\n" * 4, 1, "ends after 4 of the 9 rows"),
    ("blank_inside_band", "1........\n\n" + ".........\n" * 8, 3, "interrupts"),
    ("number_out_of_range", " ".join(["17"] + ["0"] * 15) + "\n" + ("0 " * 16 + "\n") * 15, 1,
     "value '17' at column 1"),
    ("mixed_sizes", nine_by_nine_line() + "\n" + "." * 256 + "\n", 2, "256 cells"),
]


@pytest.mark.parametrize(("text", "line", "fragment"), [case[1:] for case in BAD_FILES],
                         ids=[case[0] for case in BAD_FILES])
def test_read_bad_file_raises_with_line(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    path = write_text(tmp_path, text)

    with pytest.raises(InputError) as caught:
        read_puzzles(path)

    assert caught.value.line == line
    assert caught.value.path == str(path)
    assert fragment in caught.value.message
    assert "\n" not in str(caught.value)


def test_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    geometry = Geometry.for_size(4)
    path = tmp_path / "out.txt"

    count = write_puzzles(path, [pattern_solution(geometry)], geometry)

    assert count == 1
    assert path.read_text() == "1234341223414123\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


# file, puzzle count, grid size, layout, alphabet
PUBLIC_FILES = [
    ("sudoku/tdoku_puzzles2_17_clue_first1000.txt", 1000, 9, "line", "1-9"),
    ("sudoku/tdoku_puzzles3_magictour_top1465.txt", 1465, 9, "line", "1-9"),
    ("sudoku/tdoku_puzzles6_forum_hardest_1106.txt", 375, 9, "line", "1-9"),
    ("sudoku/kaggle_bryanpark_first1000.csv", 1000, 9, "csv", "1-9"),
    ("sudoku/vukr_4x4.txt", 100, 4, "line", "1-4"),
    ("sudoku/vukr_16x16.txt", 100, 16, "line", "1-9A-G"),
    ("sudoku/bnguyen_16x16.txt", 1, 16, "grid", NUMBERS),
    ("sudoku/bnguyen_16x16_solution.txt", 1, 16, "grid", NUMBERS),
    ("sudoku/bnguyen_25x25.txt", 1, 25, "grid", NUMBERS),
    ("sudoku/bnguyen_25x25_solution.txt", 1, 25, "grid", NUMBERS),
]


@pytest.mark.public_data
@pytest.mark.parametrize(("name", "count", "n", "layout", "alphabet"), PUBLIC_FILES)
def test_read_public_file(public_data: Path, name: str, count: int, n: int, layout: str,
                          alphabet: str) -> None:
    result = read_puzzles(public_data / name)

    assert len(result) == count
    assert result.puzzles.shape == (count, n * n)
    assert result.geometry == Geometry.for_size(n)
    assert result.layout == layout
    assert result.alphabet == alphabet


@pytest.mark.public_data
def test_read_public_details(public_data: Path) -> None:
    tdoku = read_puzzles(public_data / "sudoku/tdoku_puzzles2_17_clue_first1000.txt")
    kaggle = read_puzzles(public_data / "sudoku/kaggle_bryanpark_first1000.csv")
    bnguyen = read_puzzles(public_data / "sudoku/bnguyen_25x25.txt")

    assert (np.count_nonzero(tdoku.puzzles, axis=1) == 17).all()
    assert tdoku.lines[0] == 5
    assert kaggle.solutions is not None
    assert (kaggle.solutions > 0).all()
    assert np.count_nonzero(bnguyen.puzzles) == 344
    assert bnguyen.puzzles[0, :5].tolist() == [1, 0, 4, 0, 25]


@pytest.mark.public_data
def test_read_invalid_extra_number_names_line_8(public_data: Path) -> None:
    path = public_data / "invalid/tcgaryau_invalid_9x9_extra_number.csv"

    with pytest.raises(InputError) as caught:
        read_puzzles(path)

    assert caught.value.line == 8
    assert "10 cells" in caught.value.message
